//! The DynamoDB view store of projections: view rows and tracking records in a table of
//! their own, each commit one `TransactWriteItems`.
//!
//! Layout: hash key `view` (S), range key `key` (S). A row is `{view, key, value}` with the
//! value as a JSON string; the tracking record of projection P for upstream U is
//! `{view: "#tracking#P", key: U, position, token}` (view names may not start with `#`).
//! A commit puts or deletes its rows and puts the tracking record on condition that its
//! position is the batch's `previous`; the token (also the transaction's
//! `ClientRequestToken`) tells this commit's tracking record from another runner's when a
//! lost response is resolved by reading it back, as the event store's write path does.

use crate::attempt::{self, Attempt};
use crate::errors::from_sdk;
use crate::limits::{item_size, MAX_ACTIONS, MAX_ITEM_BYTES, MAX_TRANSACTION_BYTES};
use crate::DynamoConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, KeySchemaElement, KeyType, Put,
    ScalarAttributeType, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use eventsourcing_runtime::async_trait;
use eventsourcing_runtime::persistence::PersistenceError;
use eventsourcing_runtime::projection::{ViewBatch, ViewStore};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

type Item = HashMap<String, AttributeValue>;

const VIEW: &str = "view";
const KEY: &str = "key";
const VALUE: &str = "value";
const POSITION: &str = "position";
const TOKEN: &str = "token";

fn tracking_view(projection: &str) -> String {
    format!("#tracking#{projection}")
}

fn programming(error: impl std::fmt::Display) -> PersistenceError {
    PersistenceError::Programming(error.to_string())
}

/// Projections' views in a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoViewStore {
    client: Client,
    table: String,
    timeout: Duration,
    requests: Option<crate::metrics::RequestCounter>,
}

/// What one item of a commit does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Puts a row.
    Put,
    /// Deletes a row (the item holds only its key).
    Delete,
    /// Moves the tracking record, on condition.
    Tracking,
}

/// One item of a commit, with what it is for error messages.
struct CommitItem {
    item: Item,
    kind: Kind,
    name: String,
}

/// One commit's actions, sent as often as needed.
struct Prepared {
    actions: Vec<TransactWriteItem>,
    names: Vec<String>,
    token: String,
}

impl DynamoViewStore {
    /// A store on `table`, which must exist (see [`DynamoViewStore::create_table`]).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoViewStore {
            client,
            table: table.into(),
            timeout: Duration::from_secs(30),
            requests: None,
        }
    }

    /// Connects as `config` says (endpoint, timeout), to the view table `config.table`,
    /// creating it when `config.create_table`.
    pub async fn connect(config: &DynamoConfig) -> Result<Self, PersistenceError> {
        let requests = crate::metrics::RequestCounter::default();
        let client = config.client(&requests).await;
        let mut store = Self::new(client, config.table.clone());
        store.timeout = config.operation_timeout;
        store.requests = Some(requests);
        if config.create_table {
            store.create_table().await?;
        }
        Ok(store)
    }

    /// Creates the table (keys `view` and `key`, both strings) unless it exists, and waits
    /// until it is active.
    pub async fn create_table(&self) -> Result<(), PersistenceError> {
        let key = |name: &str, kind| {
            KeySchemaElement::builder().attribute_name(name).key_type(kind).build()
        };
        let attribute = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
        };
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(VIEW, KeyType::Hash).map_err(programming)?)
            .key_schema(key(KEY, KeyType::Range).map_err(programming)?)
            .attribute_definitions(attribute(VIEW).map_err(programming)?)
            .attribute_definitions(attribute(KEY).map_err(programming)?)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(error)
                if error.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => {}
            Err(error) => return Err(from_sdk(&self.table, "CreateTable", error)),
        }
        let deadline = Instant::now() + self.timeout.max(Duration::from_secs(60));
        loop {
            let output = self.client.describe_table().table_name(&self.table).send().await;
            let output = output.map_err(|e| from_sdk(&self.table, "DescribeTable", e))?;
            let status = output.table.and_then(|table| table.table_status);
            match status {
                Some(aws_sdk_dynamodb::types::TableStatus::Active) | None => return Ok(()),
                Some(status) if Instant::now() < deadline => {
                    tracing::debug!(table = %self.table, ?status, "waiting for the view table");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Some(status) => {
                    return Err(PersistenceError::Programming(format!(
                        "view table {} is still {status:?}, not ACTIVE",
                        self.table
                    )))
                }
            }
        }
    }

    /// How many requests this store has sent (SDK retries included), when it was made by
    /// [`DynamoViewStore::connect`]; `None` for a client passed in.
    pub fn requests(&self) -> Option<u64> {
        self.requests.as_ref().map(|counter| counter.get())
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    async fn get_item(&self, view: String, key: &str) -> Result<Option<Item>, PersistenceError> {
        let span = crate::trace::call("GetItem", &self.table, format_args!("{view}/{key}"));
        let request = self
            .client
            .get_item()
            .table_name(&self.table)
            .consistent_read(true)
            .key(VIEW, AttributeValue::S(view))
            .key(KEY, AttributeValue::S(key.to_owned()))
            .send();
        let output = crate::trace::send(&span, request)
            .await
            .map_err(|e| from_sdk(&self.table, "GetItem", e))?;
        span.record("items", u8::from(output.item.is_some()));
        Ok(output.item)
    }

    fn value(&self, view: &str, item: &Item) -> Result<(String, Value), PersistenceError> {
        let location = || format!("in view table {} (view {view})", self.table);
        let key = match item.get(KEY) {
            Some(AttributeValue::S(key)) => key.clone(),
            _ => {
                return Err(PersistenceError::Data {
                    location: location(),
                    problem: "no string attribute key".to_owned(),
                })
            }
        };
        let problem = |problem: String| PersistenceError::Data {
            location: format!("{} row {key}", location()),
            problem,
        };
        let Some(AttributeValue::S(json)) = item.get(VALUE) else {
            return Err(problem("no string attribute value".to_owned()));
        };
        let value = serde_json::from_str(json).map_err(|e| problem(e.to_string()))?;
        Ok((key, value))
    }

    /// The items of a commit: rows first, the tracking record last.
    fn items(
        &self,
        projection: &str,
        batch: &ViewBatch,
        token: &str,
    ) -> Result<Vec<CommitItem>, PersistenceError> {
        let mut items = Vec::with_capacity(batch.rows.len() + 1);
        for ((view, key), value) in &batch.rows {
            if view.starts_with('#') {
                return Err(PersistenceError::Programming(format!(
                    "view name {view:?} starts with '#', which the view table keeps for tracking records"
                )));
            }
            let mut item = Item::new();
            item.insert(VIEW.to_owned(), AttributeValue::S(view.clone()));
            item.insert(KEY.to_owned(), AttributeValue::S(key.clone()));
            let kind = match value {
                Some(value) => {
                    item.insert(VALUE.to_owned(), AttributeValue::S(value.to_string()));
                    Kind::Put
                }
                None => Kind::Delete,
            };
            items.push(CommitItem { item, kind, name: format!("view {view} row {key}") });
        }
        let mut tracking = Item::new();
        tracking.insert(VIEW.to_owned(), AttributeValue::S(tracking_view(projection)));
        tracking.insert(KEY.to_owned(), AttributeValue::S(batch.upstream.clone()));
        tracking.insert(POSITION.to_owned(), AttributeValue::N(batch.last.to_string()));
        tracking.insert(TOKEN.to_owned(), AttributeValue::S(token.to_owned()));
        let name = format!("tracking record of {projection} for {}", batch.upstream);
        items.push(CommitItem { item: tracking, kind: Kind::Tracking, name });
        Ok(items)
    }

    fn prepare(&self, projection: &str, batch: &ViewBatch) -> Result<Prepared, PersistenceError> {
        let token = eventsourcing_runtime::Uuid::new_v4().hyphenated().to_string();
        let items = self.items(projection, batch, &token)?;
        let mut actions = Vec::with_capacity(items.len());
        let mut names = Vec::with_capacity(items.len());
        for CommitItem { item, kind, name } in items {
            let action = match kind {
                Kind::Tracking => {
                    let put = Put::builder().table_name(&self.table).set_item(Some(item));
                    let put = match batch.previous {
                        0 => put
                            .condition_expression("attribute_not_exists(#view)")
                            .expression_attribute_names("#view", VIEW),
                        previous => put
                            .condition_expression("#position = :previous")
                            .expression_attribute_names("#position", POSITION)
                            .expression_attribute_values(
                                ":previous",
                                AttributeValue::N(previous.to_string()),
                            ),
                    };
                    TransactWriteItem::builder().put(put.build().map_err(programming)?).build()
                }
                Kind::Put => {
                    let put = Put::builder().table_name(&self.table).set_item(Some(item));
                    TransactWriteItem::builder().put(put.build().map_err(programming)?).build()
                }
                Kind::Delete => {
                    let delete = Delete::builder().table_name(&self.table).set_key(Some(item));
                    TransactWriteItem::builder()
                        .delete(delete.build().map_err(programming)?)
                        .build()
                }
            };
            actions.push(action);
            names.push(name);
        }
        Ok(Prepared { actions, names, token })
    }

    async fn send(&self, prepared: &Prepared, attempt: u32) -> Attempt {
        let tracking = prepared.names.last().map_or("", String::as_str);
        let span = crate::trace::call("TransactWriteItems", &self.table, tracking);
        span.record("attempt", attempt);
        span.record("items", prepared.actions.len());
        let request = self
            .client
            .transact_write_items()
            .set_transact_items(Some(prepared.actions.clone()))
            .client_request_token(&prepared.token)
            .send();
        let result = crate::trace::send(&span, request).await;
        attempt::transact_write_items(&self.table, result, |index| {
            prepared.names.get(index).cloned().unwrap_or_else(|| format!("item {index}"))
        })
    }

    /// Whether the tracking record is this commit's (strongly consistent read).
    async fn is_committed(
        &self,
        projection: &str,
        batch: &ViewBatch,
        token: &str,
    ) -> Result<bool, PersistenceError> {
        let item = self.get_item(tracking_view(projection), &batch.upstream).await?;
        Ok(item.is_some_and(
            |item| matches!(item.get(TOKEN), Some(AttributeValue::S(t)) if t == token),
        ))
    }
}

#[async_trait]
impl ViewStore for DynamoViewStore {
    async fn get(&self, view: &str, key: &str) -> Result<Option<Value>, PersistenceError> {
        match self.get_item(view.to_owned(), key).await? {
            Some(item) => Ok(Some(self.value(view, &item)?.1)),
            None => Ok(None),
        }
    }

    async fn rows(&self, view: &str) -> Result<BTreeMap<String, Value>, PersistenceError> {
        let mut rows = BTreeMap::new();
        let mut start = None;
        let span = crate::trace::call("Query", &self.table, view);
        let mut pages = 0_u32;
        loop {
            // One span for the whole query; `attempt` counts its pages.
            pages += 1;
            span.record("attempt", pages);
            let request = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression("#view = :view")
                .expression_attribute_names("#view", VIEW)
                .expression_attribute_values(":view", AttributeValue::S(view.to_owned()))
                .set_exclusive_start_key(start)
                .send();
            let output = crate::trace::send(&span, request)
                .await
                .map_err(|e| from_sdk(&self.table, "Query", e))?;
            for item in output.items() {
                let (key, value) = self.value(view, item)?;
                rows.insert(key, value);
            }
            span.record("items", rows.len());
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(rows),
            }
        }
    }

    async fn max_tracking_id(
        &self,
        projection: &str,
        upstream: &str,
    ) -> Result<u64, PersistenceError> {
        let Some(item) = self.get_item(tracking_view(projection), upstream).await? else {
            return Ok(0);
        };
        match item.get(POSITION) {
            Some(AttributeValue::N(n)) => {
                n.parse().map_err(|e: std::num::ParseIntError| PersistenceError::Data {
                    location: format!(
                        "in view table {}: tracking record of {projection} for {upstream}",
                        self.table
                    ),
                    problem: format!("position {n:?}: {e}"),
                })
            }
            _ => Err(PersistenceError::Data {
                location: format!(
                    "in view table {}: tracking record of {projection} for {upstream}",
                    self.table
                ),
                problem: "no number attribute position".to_owned(),
            }),
        }
    }

    /// One `TransactWriteItems`. An answer that is lost, or an attempt that keeps failing
    /// transiently, is sent again unchanged (same token) until the timeout; a failed
    /// tracking condition, and giving up, are resolved by reading the tracking record
    /// back: this commit's token there means it committed.
    async fn commit(&self, projection: &str, batch: &ViewBatch) -> Result<(), PersistenceError> {
        self.check_limits(batch)?;
        let prepared = self.prepare(projection, batch)?;
        let deadline = Instant::now() + self.timeout;
        let mut pause = Duration::from_millis(5);
        let mut attempt = 0;
        let gave_up = loop {
            attempt += 1;
            match self.send(&prepared, attempt).await {
                Attempt::Committed => return Ok(()),
                Attempt::ConditionFailed(_) => break None,
                Attempt::Refused(error) => return Err(error),
                Attempt::Retry(error) if Instant::now() + pause < deadline => {
                    tracing::debug!(table = %self.table, %error, "retrying the same view commit");
                    tokio::time::sleep(pause.mul_f64(0.5 + fastrand::f64() / 2.0)).await;
                    pause = (pause * 2).min(Duration::from_millis(500));
                }
                Attempt::Retry(error) => break Some(error),
            }
        };
        match self.is_committed(projection, batch, &prepared.token).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(gave_up.unwrap_or(PersistenceError::TrackingConflict {
                application_name: batch.upstream.clone(),
                notification_id: batch.last,
            })),
            Err(read_error) => Err(PersistenceError::OutcomeUnknown {
                operation: format!("TransactWriteItems on table {}", self.table),
                detail: format!(
                    "committing {projection}'s views up to notification {} of {}: {}, and \
                     reading the tracking record back failed ({read_error})",
                    batch.last,
                    batch.upstream,
                    gave_up
                        .as_ref()
                        .map_or("the tracking condition failed".to_owned(), |e| e.to_string()),
                ),
                source: Some(Box::new(read_error)),
            }),
        }
    }

    fn check_limits(&self, batch: &ViewBatch) -> Result<(), PersistenceError> {
        let items = self.items("", batch, "00000000-0000-0000-0000-000000000000")?;
        let limit = |limit, actual, maximum, detail| {
            Err(PersistenceError::LimitExceeded { limit, actual, maximum, detail })
        };
        if items.len() > MAX_ACTIONS {
            let detail = format!("{} view rows and the tracking record", items.len() - 1);
            return limit("actions per transaction", items.len(), MAX_ACTIONS, detail);
        }
        let mut total = 0;
        for CommitItem { item, name, .. } in &items {
            let size = item_size(item);
            if size > MAX_ITEM_BYTES {
                return limit(
                    "bytes per item",
                    size,
                    MAX_ITEM_BYTES,
                    format!("{name} is too large"),
                );
            }
            total += size;
        }
        if total > MAX_TRANSACTION_BYTES {
            let detail = format!("the {} items of this commit together", items.len());
            return limit("bytes per transaction", total, MAX_TRANSACTION_BYTES, detail);
        }
        Ok(())
    }
}
