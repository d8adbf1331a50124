//! `es-inspect`: reads and verifies a DynamoDB table of `eventsourcing-dynamodb`.
//!
//! The table layout (see the project README): events under their aggregate's hyphenated UUID,
//! the notification log under `#notifications`, tracking records under
//! `#tracking#<upstream>`, snapshots under `#snapshot#<uuid>`; the range key
//! `originator_version` is the version or the position.
//!
//! The [`Inspector`] offers, as library functions and as the binary's subcommands:
//!
//! - [`history`](Inspector::history): an aggregate's events, state decoded to JSON (opened with
//!   the `COMPRESSOR_TOPIC` / `CIPHER_TOPIC` / `CIPHER_KEY` settings, as applications do);
//! - [`log`](Inspector::log) and [`follow_log`](Inspector::follow_log): the notification log
//!   from a position, or followed as it grows;
//! - [`trackers`](Inspector::trackers): every follower's position in its upstream's log, and
//!   its lag;
//! - [`writer`](Inspector::writer): the log's last id and item count;
//! - [`verify`](Inspector::verify): a scan of the whole table, checked by the pure
//!   [`check`] module (every event in the log once, ids 1..N without gaps, log entries equal
//!   to their events, per-aggregate order).
//!
//! ```no_run
//! # async fn run() -> Result<(), eventsourcing_inspect::InspectError> {
//! use eventsourcing_inspect::{Inspector, Overrides};
//! let inspector = Inspector::from_env(&Overrides::default().environment()).await?;
//! let report = inspector.verify(100, &mut |_| {}).await?;
//! println!("{} problems in {} items", report.problems_total, report.summary.items);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod check;
mod error;
pub mod items;

pub use error::{DecodeFailure, InspectError};

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, Select};
use aws_sdk_dynamodb::Client;
use eventsourcing_dynamo::{DynamoConfig, RequestCounter};
use eventsourcing_runtime::environment::Environment;
use eventsourcing_runtime::persistence::Mapper;
use items::{Item, HASH_KEY, LOG_PARTITION, PAGES_PARTITION, RANGE_KEY, TRACKING_PREFIX};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::ops::ControlFlow;
use std::time::Duration;
use uuid::Uuid;

/// Settings given on the command line, which beat the environment.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// The application whose `<APPNAME>_…` variables apply (e.g. `TRAININGSCHOOL_CIPHER_KEY`);
    /// unset: only unprefixed variables.
    pub app: Option<String>,
    /// The table (instead of `DYNAMO_TABLE`).
    pub table: Option<String>,
    /// The endpoint (instead of `DYNAMO_ENDPOINT_URL`).
    pub endpoint_url: Option<String>,
}

impl Overrides {
    /// The process environment as application `app` sees it, with these overrides on top.
    pub fn environment(&self) -> Environment {
        let name = self.app.clone().unwrap_or_default();
        let prefix = name.to_uppercase();
        let mut values = HashMap::new();
        for (key, value) in
            [("DYNAMO_TABLE", &self.table), ("DYNAMO_ENDPOINT_URL", &self.endpoint_url)]
        {
            if let Some(value) = value {
                // Both spellings, so that a flag beats `<APPNAME>_<KEY>` in the environment too.
                values.insert(format!("{prefix}_{key}"), value.clone());
                values.insert(key.to_owned(), value.clone());
            }
        }
        Environment::new(&name, values)
    }
}

/// Reads one table.
#[derive(Debug, Clone)]
pub struct Inspector {
    client: Client,
    table: String,
    mapper: Mapper,
    page_size: Option<i32>,
    segments: u32,
}

/// One event of an aggregate's history, its state decoded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEntry {
    /// The aggregate's version after the event.
    pub version: u64,
    /// The event's topic.
    pub topic: String,
    /// `created_at` as stored (epoch seconds), if any.
    pub created_at: Option<serde_json::Number>,
    /// The state, opened and parsed as JSON.
    pub state: serde_json::Value,
}

/// One notification of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// The notification id.
    pub id: u64,
    /// The event's aggregate.
    pub aggregate: Uuid,
    /// The event's version.
    pub version: u64,
    /// The event's topic.
    pub topic: String,
    /// `created_at` as stored (epoch seconds), if any.
    pub created_at: Option<serde_json::Number>,
}

/// A follower's position in an upstream application's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tracker {
    /// The upstream application's name (from `#tracking#<name>`).
    pub upstream: String,
    /// The highest notification id of the upstream processed.
    pub position: u64,
    /// How many tracking items the follower has for this upstream.
    pub tracking_items: u64,
    /// The table whose log the lag is measured against.
    pub log_table: String,
    /// The last id of that log.
    pub log_end: u64,
    /// `log_end - position`: notifications not yet processed. Negative when the follower is
    /// past the end of that log, which means the upstream's log is in another table.
    pub lag: i64,
}

/// The state of the notification log's writer(s).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WriterState {
    /// The table.
    pub table: String,
    /// The highest notification id (0 when the log is empty).
    pub last_id: u64,
    /// The number of log items.
    pub log_items: u64,
    /// `last_id - log_items`: when positive, that many ids are missing (run `verify`).
    pub missing_ids: i64,
}

/// How far a scan has come, reported after each page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanProgress {
    /// Items read so far.
    pub items: u64,
    /// Pages read so far.
    pub pages: u64,
}

fn request_error<E, R>(
    table: &str,
    operation: impl Into<String>,
    error: SdkError<E, R>,
) -> InspectError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let message = match &error {
        // The service's own words, without the raw response DisplayErrorContext would add.
        SdkError::ServiceError(service) => {
            let e = service.err();
            let mut message = match (e.code(), e.message()) {
                (Some(code), Some(text)) => format!("{code}: {text}"),
                (Some(code), None) => code.to_owned(),
                _ => chain(e),
            };
            if e.code() == Some("ResourceNotFoundException") {
                message.push_str(
                    " (is the table name right? --table or DYNAMO_TABLE, and the endpoint)",
                );
            }
            message
        }
        other => chain(other),
    };
    InspectError::Request { table: table.to_owned(), operation: operation.into(), message }
}

/// An error and its causes, `: `-separated (the SDK's own causes name the failure: "dispatch
/// failure: io error: … Connection refused").
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn lag(log_end: u64, position: u64) -> i64 {
    if log_end >= position {
        i64::try_from(log_end - position).unwrap_or(i64::MAX)
    } else {
        i64::try_from(position - log_end).map_or(i64::MIN, |behind| -behind)
    }
}

impl Inspector {
    /// An inspector of `table` through `client`, opening states with `mapper`.
    pub fn new(client: Client, table: impl Into<String>, mapper: Mapper) -> Self {
        Inspector { client, table: table.into(), mapper, page_size: None, segments: 1 }
    }

    /// This inspector, asking for at most `items` items per `Query` and `Scan` page (default:
    /// DynamoDB's own pages of up to 1 MB). Results are the same; small pages mean more
    /// requests, each one smaller.
    pub fn with_page_size(mut self, items: u32) -> Self {
        self.page_size = Some(i32::try_from(items.max(1)).unwrap_or(i32::MAX));
        self
    }

    /// This inspector, scanning the table in `segments` parallel segments (DynamoDB's
    /// parallel `Scan`; 1 to 1,000; default 1). More segments finish a large table sooner on
    /// DynamoDB, at the same cost in read units.
    pub fn with_segments(mut self, segments: u32) -> Self {
        self.segments = segments.clamp(1, 1000);
        self
    }

    /// The inspector the environment describes, as an application reads it: `DYNAMO_TABLE`,
    /// `DYNAMO_ENDPOINT_URL`, `DYNAMO_TIMEOUT_SECONDS` and the standard AWS settings for the
    /// connection; `COMPRESSOR_TOPIC`, `CIPHER_TOPIC`, `CIPHER_KEY` for states.
    ///
    /// Nothing is sent yet: a missing table shows in the first command.
    pub async fn from_env(env: &Environment) -> Result<Self, InspectError> {
        let config = DynamoConfig::from_env(env)?;
        let mapper = Mapper::from_env(env)?;
        let client = config.client(&RequestCounter::default()).await;
        Ok(Inspector::new(client, config.table, mapper))
    }

    /// The table.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn malformed(&self, source: items::MalformedItem) -> InspectError {
        InspectError::Malformed { table: self.table.clone(), source }
    }

    /// Items of `partition` with range key ≥ `from`, in order (or reversed), at most `limit`.
    async fn query(
        &self,
        table: &str,
        partition: &str,
        from: u64,
        descending: bool,
        limit: Option<usize>,
        keys_only: bool,
    ) -> Result<Vec<Item>, InspectError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let wanted = limit.map(|limit| limit.saturating_sub(items.len()));
            if wanted == Some(0) {
                break;
            }
            let mut request = self
                .client
                .query()
                .table_name(table)
                .consistent_read(true)
                .key_condition_expression("#pk = :pk AND #sk >= :from")
                .expression_attribute_names("#pk", HASH_KEY)
                .expression_attribute_names("#sk", RANGE_KEY)
                .expression_attribute_values(":pk", AttributeValue::S(partition.to_owned()))
                .expression_attribute_values(":from", AttributeValue::N(from.to_string()))
                .scan_index_forward(!descending)
                .set_exclusive_start_key(start.take());
            if keys_only {
                request = request.projection_expression("#pk, #sk");
            }
            let wanted = wanted.map(|wanted| i32::try_from(wanted).unwrap_or(i32::MAX).min(1000));
            if let Some(page) = [wanted, self.page_size].into_iter().flatten().min() {
                request = request.limit(page);
            }
            let output = request
                .send()
                .await
                .map_err(|e| request_error(table, format!("Query {partition}"), e))?;
            items.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        Ok(items)
    }

    /// The events of aggregate `id` from version `from` on, states decoded to JSON.
    pub async fn history(&self, id: Uuid, from: u64) -> Result<Vec<HistoryEntry>, InspectError> {
        let partition = id.hyphenated().to_string();
        let found = self.query(&self.table, &partition, from, false, None, false).await?;
        let mut history = Vec::with_capacity(found.len());
        for item in &found {
            let event = items::event(item).map_err(|e| self.malformed(e))?;
            let state = self.decode(event.originator_id, event.originator_version, &event.state)?;
            history.push(HistoryEntry {
                version: event.originator_version,
                topic: event.topic,
                created_at: event.created_at,
                state,
            });
        }
        Ok(history)
    }

    /// Opens (decrypts, decompresses) a stored state and parses it as JSON.
    pub fn decode(
        &self,
        originator_id: Uuid,
        originator_version: u64,
        state: &[u8],
    ) -> Result<serde_json::Value, InspectError> {
        let fail = |problem| InspectError::Decode {
            table: self.table.clone(),
            originator_id,
            originator_version,
            problem,
        };
        let opened = self.mapper.open(state).map_err(|p| fail(DecodeFailure::Open(p)))?;
        serde_json::from_slice(&opened).map_err(|e| fail(DecodeFailure::Json(e)))
    }

    /// Notifications from id `from` on, at most `limit` (all when `None`).
    /// The transactional log's items are read when there are any, else the sequenced log's
    /// pages.
    pub async fn log(&self, from: u64, limit: Option<usize>) -> Result<Vec<LogLine>, InspectError> {
        let found = self.query(&self.table, LOG_PARTITION, from, false, limit, false).await?;
        let entries: Vec<items::LogItem> = match found.is_empty() {
            false => found
                .iter()
                .map(|item| items::log(item).map_err(|e| self.malformed(e)))
                .collect::<Result<_, _>>()?,
            true => self.page_entries(&self.table, from, limit).await?,
        };
        Ok(entries
            .into_iter()
            .map(|entry| LogLine {
                id: entry.id,
                aggregate: entry.originator_id,
                version: entry.originator_version,
                topic: entry.topic,
                created_at: entry.created_at,
            })
            .collect())
    }

    /// The sequenced log's entries from id `from` on, at most `limit`.
    async fn page_entries(
        &self,
        table: &str,
        from: u64,
        limit: Option<usize>,
    ) -> Result<Vec<items::LogItem>, InspectError> {
        // The page holding `from` begins at or before it: start from the last such page.
        let mut start = 0;
        let mut before = self.query(table, PAGES_PARTITION, 0, true, None, true).await?;
        before.retain(|item| items::position(item).is_ok_and(|first| first <= from.max(1)));
        if let Some(item) = before.first() {
            start = items::position(item).map_err(|e| self.malformed(e))?;
        }
        let mut entries = Vec::new();
        for item in self.query(table, PAGES_PARTITION, start, false, None, false).await? {
            for entry in items::page(&item).map_err(|e| self.malformed(e))? {
                if entry.id >= from {
                    entries.push(entry);
                }
                if limit.is_some_and(|limit| entries.len() >= limit) {
                    return Ok(entries);
                }
            }
        }
        Ok(entries)
    }

    /// Follows the log from id `from`: hands each notification to `sink` in order, polling
    /// every `poll` for new ones, until `stop` completes or `sink` breaks. Returns the id the
    /// next notification would have.
    pub async fn follow_log<S, F>(
        &self,
        from: u64,
        poll: Duration,
        stop: S,
        mut sink: F,
    ) -> Result<u64, InspectError>
    where
        S: Future<Output = ()>,
        F: FnMut(&LogLine) -> Result<ControlFlow<()>, InspectError>,
    {
        let mut next = from.max(1);
        tokio::pin!(stop);
        const PAGE: usize = 1000;
        loop {
            let lines = self.log(next, Some(PAGE)).await?;
            let full = lines.len() == PAGE;
            for line in lines {
                next = line.id.saturating_add(1);
                if sink(&line)?.is_break() {
                    return Ok(next);
                }
            }
            // After a full page more may be there already: read on without waiting (but
            // still stop when asked).
            let wait = if full { Duration::ZERO } else { poll };
            tokio::select! {
                biased;
                () = &mut stop => return Ok(next),
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// The last id of the log in `table` (0 when empty).
    async fn last_id_in(&self, table: &str) -> Result<u64, InspectError> {
        let malformed = |source| InspectError::Malformed { table: table.to_owned(), source };
        let found = self.query(table, LOG_PARTITION, 0, true, Some(1), true).await?;
        let transactional = match found.first() {
            Some(item) => items::position(item).map_err(malformed)?,
            None => 0,
        };
        let pages = self.query(table, PAGES_PARTITION, 0, true, Some(1), false).await?;
        let sequenced = match pages.first() {
            Some(item) => items::page(item).map_err(malformed)?.last().map_or(0, |e| e.id),
            None => 0,
        };
        Ok(transactional.max(sequenced))
    }

    /// The last id of this table's log (0 when empty).
    pub async fn last_id(&self) -> Result<u64, InspectError> {
        self.last_id_in(&self.table).await
    }

    /// The log writer's state: the last id and the number of log items.
    pub async fn writer(&self) -> Result<WriterState, InspectError> {
        let last_id = self.last_id().await?;
        let mut log_items = 0u64;
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", HASH_KEY)
                .expression_attribute_values(":pk", AttributeValue::S(LOG_PARTITION.to_owned()))
                .select(Select::Count)
                .set_limit(self.page_size)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| request_error(&self.table, "Query (count) #notifications", e))?;
            log_items += u64::try_from(output.count).unwrap_or(0);
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        if log_items == 0 {
            // A sequenced log: count the entries of its pages.
            for item in self.query(&self.table, PAGES_PARTITION, 0, false, None, false).await? {
                log_items += items::page(&item).map_err(|e| self.malformed(e))?.len() as u64;
            }
        }
        let missing_ids = i64::try_from(last_id).unwrap_or(i64::MAX)
            - i64::try_from(log_items).unwrap_or(i64::MAX);
        Ok(WriterState { table: self.table.clone(), last_id, log_items, missing_ids })
    }

    /// The table's item count as DynamoDB last estimated it (on AWS updated about every six
    /// hours), for a progress bar; `None` if unknown.
    pub async fn estimated_items(&self) -> Result<Option<u64>, InspectError> {
        let output = self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| request_error(&self.table, "DescribeTable", e))?;
        Ok(output
            .table
            .and_then(|t| t.item_count)
            .and_then(|n| u64::try_from(n).ok())
            .filter(|&n| n > 0))
    }

    /// Scans the whole table (strongly consistent, page by page, in [`with_segments`]
    /// parallel segments), handing every item to `each` and reporting progress after each
    /// page. `tracking_only` filters on the server (DynamoDB still reads, and charges for, the
    /// whole table).
    ///
    /// [`with_segments`]: Inspector::with_segments
    async fn scan(
        &self,
        tracking_only: bool,
        progress: &mut dyn FnMut(ScanProgress),
        each: &mut dyn FnMut(&Item),
    ) -> Result<ScanProgress, InspectError> {
        let segments = self.segments;
        let (pages, mut received) = tokio::sync::mpsc::channel(2 * segments as usize);
        // Dropping the set (on an error, or when the caller gives up) aborts the other segments.
        let mut tasks = tokio::task::JoinSet::new();
        for segment in 0..segments {
            let scan = SegmentScan {
                client: self.client.clone(),
                table: self.table.clone(),
                page_size: self.page_size,
                tracking_only,
                segment: (segments > 1).then_some((segment, segments)),
            };
            tasks.spawn(scan.run(pages.clone()));
        }
        drop(pages);
        let mut seen = ScanProgress { items: 0, pages: 0 };
        while let Some(page) = received.recv().await {
            let page: ScanPage = page?;
            seen.pages += 1;
            seen.items += page.scanned;
            for item in &page.items {
                each(item);
            }
            progress(seen);
        }
        // Every segment has finished (all senders are gone); a panicked one sent nothing more.
        while let Some(joined) = tasks.join_next().await {
            if let Err(error) = joined {
                return Err(InspectError::Request {
                    table: self.table.clone(),
                    operation: "Scan".to_owned(),
                    message: format!("a scan segment failed: {error}"),
                });
            }
        }
        Ok(seen)
    }

    /// Every follower tracked in this table (`#tracking#<upstream>` partitions), with its
    /// position and its lag against the end of the upstream's log. `log_table_of(upstream)`
    /// names the table holding that upstream's log (`None`: this table). Needs a scan of the
    /// whole table, reported to `progress`.
    pub async fn trackers(
        &self,
        log_table_of: &dyn Fn(&str) -> Option<String>,
        progress: &mut dyn FnMut(ScanProgress),
    ) -> Result<Vec<Tracker>, InspectError> {
        let mut positions: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        let mut failure = None;
        self.scan(true, progress, &mut |item| match items::classify(item) {
            Ok(items::TableItem::Tracking { upstream, position }) => {
                let entry = positions.entry(upstream).or_default();
                entry.0 = entry.0.max(position);
                entry.1 += 1;
            }
            Ok(_) => {}
            Err(e) => {
                failure.get_or_insert(e);
            }
        })
        .await?;
        if let Some(e) = failure {
            return Err(self.malformed(e));
        }
        let mut ends: HashMap<String, u64> = HashMap::new();
        let mut trackers = Vec::with_capacity(positions.len());
        for (upstream, (position, tracking_items)) in positions {
            let log_table = log_table_of(&upstream).unwrap_or_else(|| self.table.clone());
            let log_end = match ends.get(&log_table) {
                Some(&end) => end,
                None => {
                    let end = self.last_id_in(&log_table).await?;
                    ends.insert(log_table.clone(), end);
                    end
                }
            };
            trackers.push(Tracker {
                upstream,
                position,
                tracking_items,
                lag: lag(log_end, position),
                log_table,
                log_end,
            });
        }
        Ok(trackers)
    }

    /// Scans the whole table and checks the log against the events (see [`check`]), listing
    /// at most `max_problems` problems. Run it on a quiet table: a save committed during the
    /// scan may be seen in part (its event but not its log entry, or the reverse).
    pub async fn verify(
        &self,
        max_problems: usize,
        progress: &mut dyn FnMut(ScanProgress),
    ) -> Result<check::Report, InspectError> {
        let mut contents = check::Contents::default();
        self.scan(false, progress, &mut |item| contents.add(items::classify(item))).await?;
        Ok(check::check(contents, max_problems))
    }
}

/// One page of a scan.
struct ScanPage {
    items: Vec<Item>,
    scanned: u64,
}

/// One segment of a (maybe parallel) scan, run as its own task.
struct SegmentScan {
    client: Client,
    table: String,
    page_size: Option<i32>,
    tracking_only: bool,
    /// `(segment, total)` for a parallel scan.
    segment: Option<(u32, u32)>,
}

impl SegmentScan {
    /// Sends each page, or the error that ended the segment, until done or nobody listens.
    async fn run(self, pages: tokio::sync::mpsc::Sender<Result<ScanPage, InspectError>>) {
        let operation = match self.segment {
            Some((segment, total)) => format!("Scan (segment {segment} of {total})"),
            None => "Scan".to_owned(),
        };
        let mut start: Option<Item> = None;
        loop {
            let mut request = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_limit(self.page_size)
                .set_exclusive_start_key(start.take());
            if let Some((segment, total)) = self.segment {
                let int = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
                request = request.segment(int(segment)).total_segments(int(total));
            }
            if self.tracking_only {
                request = request
                    .filter_expression("begins_with(#pk, :prefix)")
                    .projection_expression("#pk, #sk")
                    .expression_attribute_names("#pk", HASH_KEY)
                    .expression_attribute_names("#sk", RANGE_KEY)
                    .expression_attribute_values(
                        ":prefix",
                        AttributeValue::S(TRACKING_PREFIX.to_owned()),
                    );
            }
            let output = match request.send().await {
                Ok(output) => output,
                Err(error) => {
                    let _ = pages.send(Err(request_error(&self.table, operation, error))).await;
                    return;
                }
            };
            let next = output.last_evaluated_key.filter(|key| !key.is_empty());
            let page = ScanPage {
                scanned: u64::try_from(output.scanned_count).unwrap_or(0),
                items: output.items.unwrap_or_default(),
            };
            if pages.send(Ok(page)).await.is_err() {
                return; // the reader has given up
            }
            match next {
                Some(key) => start = Some(key),
                None => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_signed() {
        assert_eq!(lag(10, 7), 3);
        assert_eq!(lag(7, 7), 0);
        assert_eq!(lag(3, 7), -4);
        assert_eq!(lag(u64::MAX, 0), i64::MAX);
    }

    #[test]
    fn overrides_beat_prefixed_variables() {
        let overrides =
            Overrides { app: Some("Shop".into()), table: Some("t".into()), endpoint_url: None };
        let env = overrides.environment();
        assert_eq!(env.setting("DYNAMO_TABLE").map(|s| s.value).as_deref(), Some("t"));
    }
}
