//! The recorders: events, notification log and tracking in one DynamoDB table.

use crate::config::{DynamoConfig, NotificationLog};
use crate::errors::from_sdk;
use crate::items::{self, Item, Reader, HASH_KEY, LOG_PARTITION, RANGE_KEY};
use crate::sequenced::{self, SequencerSettings, Signals};
use crate::table;

mod write;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use eventsourcing_runtime::persistence::{
    AggregateRecorder, ApplicationRecorder, EventQuery, Notification, NotificationQuery,
    PersistenceError, ProcessRecorder, Recorders, StoredEvent, Tracking,
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
    inner: Arc<Shared>,
    /// Prepended to the UUID in the hash key: empty for events, `#snapshot#` for snapshots.
    prefix: &'static str,
    log: bool,
}

pub(crate) struct Shared {
    client: Client,
    table: String,
    /// The keys of the table's metrics.
    metrics: crate::metrics::TableMetrics,
    /// The highest notification id known to be committed; `None` when it must be re-read.
    /// Held across a logged write so that this process allocates ids one save at a time.
    last_notification_id: Mutex<Option<u64>>,
    /// How long a save keeps retrying when other processes take its notification ids first.
    claim_timeout: Duration,
    /// Requests sent by the client, when [`DynamoRecorder::connect`] built it (a client
    /// passed in is not observed).
    requests: Option<crate::metrics::RequestCounter>,
    /// With the sequenced log: what saves and readers share with the sequencer task.
    sequenced: Option<Arc<Signals>>,
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

impl DynamoRecorder {
    /// Connects, checks the table (creating it if configured to) and returns the recorder.
    ///
    /// With the sequenced log (`DYNAMO_NOTIFICATION_LOG=sequenced`), the table must have a
    /// stream with new images (a table it creates has one), and a sequencer task starts in
    /// this process: it writes the log's pages while it holds the table's lease, and stops
    /// when the last clone of this recorder is dropped.
    pub async fn connect(config: DynamoConfig) -> Result<Self, PersistenceError> {
        let run_sequencer = config.run_sequencer;
        let (recorder, sequencer) = Self::open(config).await?;
        if let (Some(parts), true) = (sequencer, run_sequencer) {
            let application = Arc::downgrade(&recorder.inner);
            let counter = parts.recorder.inner.requests.clone().unwrap_or_default();
            let _ = parts.signals.requests.set(counter);
            tokio::spawn(sequenced::run(
                application,
                parts.recorder,
                parts.stream,
                parts.settings,
                parts.signals,
            ));
        }
        Ok(recorder)
    }

    /// Connects as [`connect`](Self::connect) does, returning, with the sequenced log, what
    /// a sequencer needs (not started).
    pub(crate) async fn open(
        config: DynamoConfig,
    ) -> Result<(Self, Option<sequenced::Parts>), PersistenceError> {
        let requests = crate::metrics::RequestCounter::for_table(&config.table);
        let client = config.client(&requests).await;
        table::ensure(&client, &config.table, config.create_table, config.operation_timeout)
            .await?;
        // The sequencer has clients of its own, so that the application's request count is
        // the application's (the sequencer's is `sequencer_requests`).
        let sequencer = match config.notification_log {
            NotificationLog::Sequenced => {
                let arn = table::stream_arn(&client, &config.table).await?;
                let counter = crate::metrics::RequestCounter::for_table(&config.table);
                let streams = config.streams_client(&counter).await;
                let stream =
                    sequenced::Stream { client: streams, arn, table: config.table.clone() };
                let own = Self::build(
                    config.client(&counter).await,
                    config.table.clone(),
                    false,
                    config.operation_timeout,
                    Some(counter),
                );
                Some((stream, own))
            }
            _ => None,
        };
        let settings = SequencerSettings {
            lease: config.sequencer_lease,
            batch: config.sequencer_batch,
            linger: config.sequencer_linger,
            ..SequencerSettings::default()
        };
        let mut recorder = Self::build(
            client,
            config.table,
            config.notification_log == NotificationLog::Transactional,
            config.operation_timeout,
            Some(requests),
        );
        let Some((stream, mut own)) = sequencer else { return Ok((recorder, None)) };
        let signals = Arc::new(Signals::default());
        for shared in [&mut recorder.inner, &mut own.inner] {
            if let Some(shared) = Arc::get_mut(shared) {
                shared.sequenced = Some(Arc::clone(&signals));
            }
        }
        Ok((recorder, Some(sequenced::Parts { recorder: own, stream, settings, signals })))
    }

    /// How far this process's sequencer has got (`None` without the sequenced log).
    pub fn sequencer_progress(&self) -> Option<sequenced::Progress> {
        self.inner.sequenced.as_ref().map(|signals| *signals.progress.borrow())
    }

    /// How many requests this process's sequencer task has sent (stream reads, lease and
    /// pages); `None` without one.
    pub fn sequencer_requests(&self) -> Option<u64> {
        let signals = self.inner.sequenced.as_ref()?;
        signals.requests.get().map(|counter| counter.get())
    }

    /// Whether this recorder's log is sequenced from the table's stream.
    pub fn is_sequenced(&self) -> bool {
        self.inner.sequenced.is_some()
    }

    /// Waits until the sequencer in this process has written a page, or `timeout` passed.
    pub async fn wait_for_page(&self, timeout: Duration) {
        if let Some(signals) = &self.inner.sequenced {
            let _ = tokio::time::timeout(timeout, signals.paged.notified()).await;
        }
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
            inner: Arc::new(Shared {
                client,
                metrics: crate::metrics::TableMetrics::new(&table),
                table,
                last_notification_id: Mutex::new(None),
                claim_timeout,
                requests,
                sequenced: None,
            }),
            prefix: "",
            log: notification_log,
        }
    }

    /// The recorder of snapshots in the same table (partition `#snapshot#<uuid>`, no log).
    pub fn snapshots(&self) -> Self {
        DynamoRecorder { inner: Arc::clone(&self.inner), prefix: "#snapshot#", log: false }
    }

    /// The recorders an application is built with: this one for events, and
    /// [`snapshots`](Self::snapshots) in the same table. Keep a clone of the `Arc` to reach
    /// what only this store has (`sequencer_progress`, `sequencer_requests`, ...).
    pub fn recorders(self: Arc<Self>) -> Recorders {
        Recorders { snapshots: Arc::new(self.snapshots()), events: self }
    }

    /// What a task that must stop when this recorder is dropped watches.
    pub(crate) fn shared_weak(&self) -> std::sync::Weak<Shared> {
        Arc::downgrade(&self.inner)
    }

    /// The counter of this recorder's requests, when it counts them.
    pub(crate) fn request_counter(&self) -> Option<crate::metrics::RequestCounter> {
        self.inner.requests.clone()
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.inner.table
    }

    /// The keys of the table's metrics.
    pub(crate) fn metrics(&self) -> &crate::metrics::TableMetrics {
        &self.inner.metrics
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

    /// An event item and its `created_at` (0 when absent).
    pub(crate) fn read_event_item(
        &self,
        item: Item,
    ) -> Result<(StoredEvent, i64), PersistenceError> {
        let created_at = match item.get("created_at") {
            Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
            _ => 0,
        };
        Ok((self.read_event(item)?, created_at))
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

    /// Queries one partition to the end (or `limit`), strongly consistent.
    pub(crate) async fn query(
        &self,
        partition: String,
        range: Option<(String, Vec<(&'static str, u64)>)>,
        descending: bool,
        limit: Option<usize>,
    ) -> Result<Vec<Item>, PersistenceError> {
        let mut condition = "#pk = :pk".to_owned();
        let span = crate::trace::call("Query", &self.inner.table, &partition);
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
        let mut pages = 0u32;
        loop {
            let mut page = request.clone().set_exclusive_start_key(start_key.take());
            if let Some(limit) = limit {
                let remaining = limit.saturating_sub(items.len());
                page = page.limit(i32::try_from(remaining).unwrap_or(i32::MAX));
            }
            // One span for the whole query; `attempt` counts its pages.
            pages += 1;
            span.record("attempt", pages);
            let output = crate::trace::send(&span, page.send())
                .await
                .map_err(|e| from_sdk(&self.inner.table, "Query", e))?;
            items.extend(output.items.unwrap_or_default());
            span.record("items", items.len());
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

    pub(crate) async fn get(
        &self,
        partition: String,
        position: u64,
    ) -> Result<Option<Item>, PersistenceError> {
        let span = crate::trace::call(
            "GetItem",
            &self.inner.table,
            crate::trace::Key(&partition, position),
        );
        let request = self
            .inner
            .client
            .get_item()
            .table_name(&self.inner.table)
            .consistent_read(true)
            .key(HASH_KEY, AttributeValue::S(partition))
            .key(RANGE_KEY, AttributeValue::N(position.to_string()))
            .send();
        let output = crate::trace::send(&span, request)
            .await
            .map_err(|e| from_sdk(&self.inner.table, "GetItem", e))?;
        span.record("items", u8::from(output.item.is_some()));
        Ok(output.item)
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
        if self.is_sequenced() {
            return sequenced::select(self, &query).await;
        }
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

    async fn sync_log(&self) -> Result<(), PersistenceError> {
        match &self.inner.sequenced {
            Some(signals) => {
                let timeout = self.inner.claim_timeout.max(Duration::from_secs(30));
                sequenced::sync(self, signals, timeout).await
            }
            None => Ok(()),
        }
    }

    fn log_appended(&self) -> Option<Arc<tokio::sync::Notify>> {
        self.inner.sequenced.as_ref().map(|signals| Arc::clone(&signals.paged))
    }

    /// Stops this process's sequencer task, which hands the lease back (when it holds it)
    /// between two pages, and waits for it to end.
    async fn close(&self) -> Result<(), PersistenceError> {
        let Some(signals) = &self.inner.sequenced else { return Ok(()) };
        if signals.requests.get().is_none() {
            return Ok(()); // no sequencer task in this process
        }
        signals.closing.store(true, std::sync::atomic::Ordering::Release);
        signals.saved.notify_one();
        signals.wanted.notify_one();
        let mut stopped = signals.stopped.subscribe();
        let timeout = self.inner.claim_timeout;
        let ended = tokio::time::timeout(timeout, stopped.wait_for(|stopped| *stopped)).await;
        match ended.is_ok() {
            true => Ok(()),
            false => Err(PersistenceError::Operational {
                operation: format!("closing the sequencer of table {}", self.inner.table),
                message: format!("the sequencer task did not stop within {timeout:?}"),
                source: None,
            }),
        }
    }

    async fn max_notification_id(&self) -> Result<u64, PersistenceError> {
        self.require_log()?;
        if self.is_sequenced() {
            return sequenced::max_notification_id(self).await;
        }
        self.last_position(LOG_PARTITION.to_owned()).await
    }
}

impl DynamoRecorder {
    fn require_log(&self) -> Result<(), PersistenceError> {
        match self.log || self.is_sequenced() {
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
        let partition = items::tracking_partition(application_name);
        Ok(self.get(partition, notification_id).await?.is_some())
    }
}
