//! The recorders: events, notification log and tracking in one DynamoDB table.

use crate::config::DynamoConfig;
use crate::errors::from_sdk;
use crate::items::{self, Item, Reader, HASH_KEY, LOG_PARTITION, RANGE_KEY};
use crate::{limits, table};
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use eventsourcing_runtime::persistence::{
    check_batch, AggregateRecorder, ApplicationRecorder, EventQuery, Notification,
    NotificationQuery, PersistenceError, ProcessRecorder, StoredEvent, Tracking,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use uuid::Uuid;

mod identity;

/// The events of one table, with its notification log and tracking records.
///
/// A save is one conditional write request: a `PutItem` for a single item, otherwise one
/// `TransactWriteItems` holding every event, its notification log entry and the tracking
/// record. The next notification id is cached between saves and re-read only when another
/// process has advanced the log.
#[derive(Clone)]
pub struct DynamoRecorder {
    inner: Arc<Inner>,
    /// Prepended to the UUID in the hash key: empty for events, `#snapshot#` for snapshots.
    prefix: &'static str,
    log: bool,
}

struct Inner {
    client: Client,
    table: String,
    /// The highest notification id known to be committed; `None` when it must be re-read.
    /// Held across a logged write so that this process allocates ids one save at a time.
    last_notification_id: Mutex<Option<u64>>,
    /// How long a save keeps retrying when other processes take its notification ids first.
    claim_timeout: Duration,
    /// Requests sent by the client, when [`DynamoRecorder::connect`] built it (a client
    /// passed in is not observed).
    requests: Option<crate::metrics::RequestCounter>,
}

impl std::fmt::Debug for DynamoRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoRecorder")
            .field("table", &self.inner.table)
            .field("prefix", &self.prefix)
            .field("log", &self.log)
            .finish_non_exhaustive()
    }
}

/// Why a write did not happen, when trying again may help or the caller must be told.
enum WriteFailure {
    /// The condition of the item at this index failed: it exists already.
    Condition(usize),
    /// DynamoDB was busy with a conflicting transaction or throttled.
    Transient(String),
    /// Anything else: reported to the caller.
    Failed(PersistenceError),
}

impl DynamoRecorder {
    /// Connects, checks the table (creating it if configured to) and returns the recorder.
    pub async fn connect(config: DynamoConfig) -> Result<Self, PersistenceError> {
        let requests = crate::metrics::RequestCounter::default();
        let client = config.client(&requests).await;
        table::ensure(&client, &config.table, config.create_table, config.operation_timeout)
            .await?;
        Ok(Self::build(
            client,
            config.table,
            config.notification_log,
            config.operation_timeout,
            Some(requests),
        ))
    }

    /// A recorder on a table that is known to exist.
    pub fn with_client(client: Client, table: String, notification_log: bool) -> Self {
        Self::with_claim_timeout(client, table, notification_log, Duration::from_secs(30))
    }

    /// A recorder that retries claiming notification ids (when other processes keep taking
    /// them first) for at most `claim_timeout` before giving up with an operational error.
    pub fn with_claim_timeout(
        client: Client,
        table: String,
        notification_log: bool,
        claim_timeout: Duration,
    ) -> Self {
        Self::build(client, table, notification_log, claim_timeout, None)
    }

    fn build(
        client: Client,
        table: String,
        notification_log: bool,
        claim_timeout: Duration,
        requests: Option<crate::metrics::RequestCounter>,
    ) -> Self {
        DynamoRecorder {
            inner: Arc::new(Inner {
                client,
                table,
                last_notification_id: Mutex::new(None),
                claim_timeout,
                requests,
            }),
            prefix: "",
            log: notification_log,
        }
    }

    /// The recorder of snapshots in the same table (partition `#snapshot#<uuid>`, no log).
    pub fn snapshots(&self) -> Self {
        DynamoRecorder { inner: Arc::clone(&self.inner), prefix: "#snapshot#", log: false }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.inner.table
    }

    /// The SDK client.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// How many requests this recorder's client has sent (SDK retries included), when it
    /// was built by [`DynamoRecorder::connect`]; `None` for a client passed in.
    pub fn requests(&self) -> Option<u64> {
        self.inner.requests.as_ref().map(|counter| counter.get())
    }

    fn reader(&self) -> Reader<'_> {
        Reader { table: &self.inner.table }
    }

    fn partition(&self, id: Uuid) -> String {
        format!("{}{}", self.prefix, id.hyphenated())
    }

    fn event_item(&self, event: &StoredEvent) -> Item {
        let mut item = items::event_item(event);
        if !self.prefix.is_empty() {
            item.insert(
                HASH_KEY.to_owned(),
                AttributeValue::S(self.partition(event.originator_id)),
            );
        }
        item
    }

    fn read_event(&self, mut item: Item) -> Result<StoredEvent, PersistenceError> {
        if !self.prefix.is_empty() {
            if let Some(AttributeValue::S(key)) = item.get_mut(HASH_KEY) {
                if let Some(id) = key.strip_prefix(self.prefix) {
                    *key = id.to_owned();
                }
            }
        }
        self.reader().event(&item)
    }

    fn put(&self, item: Item) -> Result<Put, PersistenceError> {
        Put::builder()
            .table_name(&self.inner.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", HASH_KEY)
            .build()
            .map_err(|e| PersistenceError::Programming(e.to_string()))
    }

    /// Queries one partition to the end (or `limit`), strongly consistent.
    async fn query(
        &self,
        partition: String,
        range: Option<(String, Vec<(&'static str, u64)>)>,
        descending: bool,
        limit: Option<usize>,
    ) -> Result<Vec<Item>, PersistenceError> {
        let mut condition = "#pk = :pk".to_owned();
        let mut request = self
            .inner
            .client
            .query()
            .table_name(&self.inner.table)
            .consistent_read(true)
            .scan_index_forward(!descending)
            .expression_attribute_names("#pk", HASH_KEY)
            .expression_attribute_values(":pk", AttributeValue::S(partition));
        if let Some((expression, values)) = range {
            condition.push_str(" AND ");
            condition.push_str(&expression);
            request = request.expression_attribute_names("#sk", RANGE_KEY);
            for (name, value) in values {
                request =
                    request.expression_attribute_values(name, AttributeValue::N(value.to_string()));
            }
        }
        let request = request.key_condition_expression(condition);
        let mut items = Vec::new();
        let mut start_key = None;
        loop {
            let mut page = request.clone().set_exclusive_start_key(start_key.take());
            if let Some(limit) = limit {
                let remaining = limit.saturating_sub(items.len());
                page = page.limit(i32::try_from(remaining).unwrap_or(i32::MAX));
            }
            let output = page.send().await.map_err(|e| from_sdk(&self.inner.table, "Query", e))?;
            items.extend(output.items.unwrap_or_default());
            start_key = output.last_evaluated_key.filter(|key| !key.is_empty());
            let full = limit.is_some_and(|limit| items.len() >= limit);
            if start_key.is_none() || full {
                return Ok(items);
            }
        }
    }

    async fn last_position(&self, partition: String) -> Result<u64, PersistenceError> {
        let items = self.query(partition, None, true, Some(1)).await?;
        match items.first() {
            Some(item) => self.reader().position(item),
            None => Ok(0),
        }
    }

    /// Writes one item with a conditional `PutItem`.
    async fn put_single(&self, item: Item) -> Result<(), WriteFailure> {
        let result = self
            .inner
            .client
            .put_item()
            .table_name(&self.inner.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", HASH_KEY)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(WriteFailure::Condition(0))
            }
            Err(error) => Err(WriteFailure::Failed(from_sdk(&self.inner.table, "PutItem", error))),
        }
    }

    async fn get(
        &self,
        partition: String,
        position: u64,
    ) -> Result<Option<Item>, PersistenceError> {
        let output = self
            .inner
            .client
            .get_item()
            .table_name(&self.inner.table)
            .consistent_read(true)
            .key(HASH_KEY, AttributeValue::S(partition))
            .key(RANGE_KEY, AttributeValue::N(position.to_string()))
            .send()
            .await
            .map_err(|e| from_sdk(&self.inner.table, "GetItem", e))?;
        Ok(output.item)
    }

    /// Whether this very write is already stored: then a condition that "failed" was hit by
    /// our own earlier attempt, committed but with its response lost (the SDK retried it).
    /// Proof: every event is stored byte for byte (states carry microsecond timestamps), each
    /// under the notification id this attempt claimed, and the tracking record exists.
    /// The event whose condition failed is checked first, so real conflicts cost one read.
    async fn is_own_write(
        &self,
        failed: usize,
        events: &[StoredEvent],
        ids: &[u64],
        tracking: Option<&Tracking>,
    ) -> Result<bool, PersistenceError> {
        let order = std::iter::once(failed).chain((0..events.len()).filter(|i| *i != failed));
        for index in order {
            let event = &events[index];
            let Some(item) =
                self.get(self.partition(event.originator_id), event.originator_version).await?
            else {
                return Ok(false);
            };
            if self.read_event(item).ok().as_ref() != Some(event) {
                return Ok(false);
            }
            if let Some(&id) = ids.get(index) {
                let Some(entry) = self.get(LOG_PARTITION.to_owned(), id).await? else {
                    return Ok(false);
                };
                let ours = self.reader().notification(&entry).is_ok_and(|n| n.event == *event);
                if !ours {
                    return Ok(false);
                }
            }
        }
        match tracking {
            Some(t) => Ok(self
                .get(items::tracking_partition(&t.application_name), t.notification_id)
                .await?
                .is_some()),
            None => Ok(true),
        }
    }

    async fn transact(&self, items: Vec<Item>) -> Result<(), WriteFailure> {
        let mut actions = Vec::with_capacity(items.len());
        for item in items {
            let put = self.put(item).map_err(WriteFailure::Failed)?;
            actions.push(TransactWriteItem::builder().put(put).build());
        }
        let result = self
            .inner
            .client
            .transact_write_items()
            .set_transact_items(Some(actions))
            .client_request_token(Uuid::new_v4().hyphenated().to_string())
            .send()
            .await;
        let error = match result {
            Ok(_) => return Ok(()),
            Err(error) => error,
        };
        let reasons = match error.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                cancelled.cancellation_reasons().to_vec()
            }
            Some(TransactWriteItemsError::TransactionInProgressException(_)) => {
                return Err(WriteFailure::Transient("transaction in progress".to_owned()))
            }
            _ => {
                return Err(WriteFailure::Failed(from_sdk(
                    &self.inner.table,
                    "TransactWriteItems",
                    error,
                )))
            }
        };
        let failed: Vec<(usize, &str)> = reasons
            .iter()
            .enumerate()
            .filter_map(|(index, reason)| reason.code().map(|code| (index, code)))
            .filter(|(_, code)| *code != "None")
            .collect();
        if let Some((index, _)) = failed.iter().find(|(_, code)| *code == "ConditionalCheckFailed")
        {
            return Err(WriteFailure::Condition(*index));
        }
        match failed.first() {
            Some((_, code)) if *code == "TransactionConflict" || code.contains("Throttl") => {
                Err(WriteFailure::Transient((*code).to_owned()))
            }
            _ => {
                Err(WriteFailure::Failed(from_sdk(&self.inner.table, "TransactWriteItems", error)))
            }
        }
    }

    async fn write(
        &self,
        events: Vec<StoredEvent>,
        tracking: Option<Tracking>,
    ) -> Result<Vec<u64>, PersistenceError> {
        check_batch(&events)?;
        let log = self.log && !events.is_empty();
        let mut guard = match log {
            true => Some(self.inner.last_notification_id.lock().await),
            false => None,
        };
        let mut attempt = 0;
        let mut pause = Duration::from_millis(5);
        let started = std::time::Instant::now();
        loop {
            attempt += 1;
            let last = match guard.as_deref_mut() {
                Some(Some(last)) => *last,
                Some(cached) => {
                    let last = self.last_position(LOG_PARTITION.to_owned()).await?;
                    *cached = Some(last);
                    last
                }
                None => 0,
            };
            let ids: Vec<u64> = match log {
                true => (last + 1..=last + events.len() as u64).collect(),
                false => Vec::new(),
            };
            // Events first: a failed condition among them is a conflict, whatever else failed.
            let mut batch: Vec<(Item, String)> = events
                .iter()
                .map(|e| {
                    (
                        self.event_item(e),
                        format!("event {} version {}", e.originator_id, e.originator_version),
                    )
                })
                .collect();
            for (id, event) in ids.iter().zip(&events) {
                batch.push((items::log_item(*id, event), format!("notification {id}")));
            }
            if let Some(tracking) = &tracking {
                batch.push((
                    items::tracking_item(&tracking.application_name, tracking.notification_id),
                    format!("tracking {}:{}", tracking.application_name, tracking.notification_id),
                ));
            }
            limits::check(&batch)?;
            let items: Vec<Item> = batch.into_iter().map(|(item, _)| item).collect();
            let outcome = match items.len() {
                0 => return Ok(Vec::new()),
                1 => self.put_single(items.into_iter().next().unwrap_or_default()).await,
                _ => self.transact(items).await,
            };
            let Err(failure) = outcome else {
                if let (Some(cached), Some(&max)) = (guard.as_deref_mut(), ids.last()) {
                    *cached = Some(max);
                }
                return Ok(ids);
            };
            match failure {
                WriteFailure::Failed(error) => {
                    // The outcome may be unknown (a timeout): re-read the log's end next time.
                    if let Some(cached) = guard.as_deref_mut() {
                        *cached = None;
                    }
                    return Err(error);
                }
                WriteFailure::Condition(index) if index < events.len() => {
                    if self.is_own_write(index, &events, &ids, tracking.as_ref()).await? {
                        // The whole transaction committed atomically, with these ids.
                        if let (Some(cached), Some(&max)) = (guard.as_deref_mut(), ids.last()) {
                            *cached = Some(max);
                        }
                        return Ok(ids);
                    }
                    return Err(PersistenceError::Conflict {
                        originator_id: events[index].originator_id,
                        originator_version: events[index].originator_version,
                    });
                }
                WriteFailure::Condition(index) if index < events.len() + ids.len() => {
                    // Another process advanced the log: re-read its end and try again, after
                    // a random pause so that racing processes do not keep colliding.
                    if let Some(cached) = guard.as_deref_mut() {
                        *cached = None;
                    }
                    tokio::time::sleep(pause.mul_f64(fastrand::f64())).await;
                    pause = (pause * 2).min(Duration::from_millis(100));
                }
                WriteFailure::Condition(_) => {
                    let (application_name, notification_id) = tracking
                        .map(|t| (t.application_name, t.notification_id))
                        .unwrap_or_default();
                    return Err(PersistenceError::TrackingConflict {
                        application_name,
                        notification_id,
                    });
                }
                WriteFailure::Transient(reason) => {
                    tracing::debug!(table = %self.inner.table, %reason, attempt, "retrying write");
                    if let Some(cached) = guard.as_deref_mut() {
                        *cached = None;
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(500));
                }
            }
            if started.elapsed() >= self.inner.claim_timeout {
                return Err(PersistenceError::Operational {
                    operation: format!("TransactWriteItems on table {}", self.inner.table),
                    message: format!(
                        "gave up after {attempt} attempts in {:?}: other writers kept taking the next notification ids",
                        started.elapsed()
                    ),
                    source: None,
                });
            }
        }
    }
}

#[async_trait]
impl AggregateRecorder for DynamoRecorder {
    async fn insert_events(&self, events: Vec<StoredEvent>) -> Result<Vec<u64>, PersistenceError> {
        self.write(events, None).await
    }

    fn request_count(&self) -> Option<u64> {
        self.requests()
    }

    async fn select_events(
        &self,
        originator_id: Uuid,
        query: EventQuery,
    ) -> Result<Vec<StoredEvent>, PersistenceError> {
        let range = match (query.gt, query.lte) {
            (Some(gt), Some(lte)) if gt >= lte => return Ok(Vec::new()),
            (Some(gt), Some(lte)) => {
                Some(("#sk BETWEEN :lo AND :hi".to_owned(), vec![(":lo", gt + 1), (":hi", lte)]))
            }
            (Some(gt), None) => Some(("#sk > :gt".to_owned(), vec![(":gt", gt)])),
            (None, Some(lte)) => Some(("#sk <= :lte".to_owned(), vec![(":lte", lte)])),
            (None, None) => None,
        };
        if query.limit == Some(0) {
            return Ok(Vec::new());
        }
        let items =
            self.query(self.partition(originator_id), range, query.desc, query.limit).await?;
        items.into_iter().map(|item| self.read_event(item)).collect()
    }
}

#[async_trait]
impl ApplicationRecorder for DynamoRecorder {
    async fn select_notifications(
        &self,
        query: NotificationQuery,
    ) -> Result<Vec<Notification>, PersistenceError> {
        self.require_log()?;
        let start = query.start.max(1);
        let stop = query.stop.unwrap_or(u64::MAX);
        if query.limit == 0 || start > stop {
            return Ok(Vec::new());
        }
        let mut selected = Vec::new();
        let reader = self.reader();
        if query.topics.is_empty() {
            let range = Some((
                "#sk BETWEEN :start AND :stop".to_owned(),
                vec![(":start", start), (":stop", stop)],
            ));
            for item in
                self.query(LOG_PARTITION.to_owned(), range, false, Some(query.limit)).await?
            {
                selected.push(reader.notification(&item)?);
            }
            return Ok(selected);
        }
        // With a topic filter, read on page by page until enough notifications match.
        let mut next = start;
        while selected.len() < query.limit && next <= stop {
            let page_range = Some((
                "#sk BETWEEN :start AND :stop".to_owned(),
                vec![(":start", next), (":stop", stop)],
            ));
            let page = self
                .query(LOG_PARTITION.to_owned(), page_range, false, Some(query.limit.max(100)))
                .await?;
            let Some(last) = page.last() else { break };
            next = reader.position(last)?.saturating_add(1);
            for item in &page {
                let notification = reader.notification(item)?;
                if query.topics.contains(&notification.event.topic) {
                    selected.push(notification);
                    if selected.len() == query.limit {
                        break;
                    }
                }
            }
            if next == 0 {
                break;
            }
        }
        Ok(selected)
    }

    async fn max_notification_id(&self) -> Result<u64, PersistenceError> {
        self.require_log()?;
        self.last_position(LOG_PARTITION.to_owned()).await
    }
}

impl DynamoRecorder {
    fn require_log(&self) -> Result<(), PersistenceError> {
        match self.log {
            true => Ok(()),
            false => Err(PersistenceError::NotSupported(format!(
                "the notification log of table {} is turned off (DYNAMO_NOTIFICATION_LOG=false)",
                self.inner.table
            ))),
        }
    }
}

#[async_trait]
impl ProcessRecorder for DynamoRecorder {
    async fn insert_events_tracked(
        &self,
        events: Vec<StoredEvent>,
        tracking: Tracking,
    ) -> Result<Vec<u64>, PersistenceError> {
        self.write(events, Some(tracking)).await
    }

    async fn max_tracking_id(&self, application_name: &str) -> Result<u64, PersistenceError> {
        self.last_position(items::tracking_partition(application_name)).await
    }

    async fn has_tracking_id(
        &self,
        application_name: &str,
        notification_id: u64,
    ) -> Result<bool, PersistenceError> {
        let output = self
            .inner
            .client
            .get_item()
            .table_name(&self.inner.table)
            .consistent_read(true)
            .key(HASH_KEY, AttributeValue::S(items::tracking_partition(application_name)))
            .key(RANGE_KEY, AttributeValue::N(notification_id.to_string()))
            .send()
            .await
            .map_err(|e| from_sdk(&self.inner.table, "GetItem", e))?;
        Ok(output.item.is_some())
    }
}
