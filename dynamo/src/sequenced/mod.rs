//! The sequenced notification log (`DYNAMO_NOTIFICATION_LOG=sequenced`): saves write event
//! items only; a sequencer reads the table's stream and appends the events to the log in
//! pages, under a fenced lease. The decisions are `eventsourcing-sequencer`'s; this module
//! is the I/O around them: the stream, the lease, page items, and reading pages back.

mod lease;
mod on_demand;
mod packed;
mod pages;
mod recovery;
mod stream;

pub use on_demand::{OnDemandSequencer, Sequenced};
pub use pages::{read_page, Entry as LogPageEntry, StoredPage as LogPage, PAGES_PARTITION};

use crate::attempt::{self, Attempt};
use crate::items::{Item, HASH_KEY, RANGE_KEY};
use crate::recorder::DynamoRecorder;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem};
use eventsourcing_runtime::metrics::{self as names, retried};
use eventsourcing_runtime::persistence::{
    Notification, NotificationQuery, PersistenceError, StoredEvent,
};
use eventsourcing_sequencer::{Config, EventImage, Page, Predecessor, SequenceError, Sequencer};
use lease::Lease;
use pages::StoredPage;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::Notify;
use tracing::field::Empty;
use uuid::Uuid;

pub(crate) use stream::Stream;

/// How the sequencer runs.
#[derive(Debug, Clone, Copy)]
pub struct SequencerSettings {
    /// How long a lease lasts unless renewed; a crashed sequencer's successor takes over
    /// within this much time and a third of it (a process whose sequencer waits for the
    /// lease tries it every third of a lease, and at once when a reader in it waits for the
    /// log).
    pub lease: Duration,
    /// How long the sequencer waits between polls of an idle stream (a save in this process
    /// wakes it at once).
    pub poll: Duration,
    /// How long it waits after a read that found records before it reads again, so that
    /// reads return more records each (fewer requests per event).
    pub linger: Duration,
    /// How long consumed events may wait to be written, so that pages are fuller: each
    /// page write costs a transaction (the lease's check, and twice the page's size in
    /// write units) whatever it holds. A full page is written at once, and so is
    /// everything when a reader in this process waits for the log (`sync_log`).
    pub batch: Duration,
    /// The decision logic's limits.
    pub config: Config,
}

impl Default for SequencerSettings {
    fn default() -> Self {
        SequencerSettings {
            lease: Duration::from_secs(10),
            poll: Duration::from_millis(200),
            linger: Duration::from_millis(150),
            batch: Duration::from_millis(200),
            config: Config::default(),
        }
    }
}

/// What the saves of this process and the readers share with its sequencer task.
#[derive(Debug)]
pub struct Signals {
    /// Woken by each save, so that the sequencer polls at once.
    pub saved: Notify,
    /// Woken by a reader waiting for the log (`sync_log`), so that a sequencer waiting for
    /// another process's lease to expire tries to take it at once.
    pub wanted: Notify,
    /// Woken by each page written.
    pub paged: Arc<Notify>,
    /// How far this process's sequencer has got.
    pub progress: tokio::sync::watch::Sender<Progress>,
    /// The sequencer task's request counter, once it runs.
    pub requests: std::sync::OnceLock<crate::metrics::RequestCounter>,
    /// Set by a reader waiting for the log: write what is consumed without batching.
    pub flush: std::sync::atomic::AtomicBool,
    /// Set by `close`: the sequencer task hands its lease back and ends.
    pub closing: std::sync::atomic::AtomicBool,
    /// Becomes true when the sequencer task has ended.
    pub stopped: tokio::sync::watch::Sender<bool>,
}

impl Default for Signals {
    fn default() -> Self {
        Signals {
            saved: Notify::new(),
            wanted: Notify::new(),
            paged: Arc::new(Notify::new()),
            progress: tokio::sync::watch::Sender::new(Progress::default()),
            requests: std::sync::OnceLock::new(),
            flush: std::sync::atomic::AtomicBool::new(false),
            closing: std::sync::atomic::AtomicBool::new(false),
            stopped: tokio::sync::watch::Sender::new(false),
        }
    }
}

/// How far a sequencer has got: every event committed before `horizon` (epoch ms) has been
/// consumed, and is logged unless it is at least as recent as `oldest_waiting`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Whether this process's sequencer holds the lease.
    pub leading: bool,
    /// See above.
    pub horizon: i64,
    /// See above.
    pub oldest_waiting: Option<i64>,
}

impl Default for Progress {
    fn default() -> Self {
        Progress { leading: false, horizon: i64::MIN, oldest_waiting: None }
    }
}

impl Progress {
    /// Whether every event committed before `time` (epoch ms) is in the log.
    fn covers(&self, time: i64) -> bool {
        self.horizon >= time && self.oldest_waiting.is_none_or(|oldest| oldest >= time)
    }
}

/// What a sequencer needs, made by [`DynamoRecorder::open`].
pub(crate) struct Parts {
    /// A recorder with clients of the sequencer's own (so that its requests are counted
    /// apart from the application's).
    pub recorder: DynamoRecorder,
    pub stream: Stream,
    pub settings: SequencerSettings,
    pub signals: Arc<Signals>,
}

/// How many times a log page is sent before the sequencer gives up and starts again.
const PAGE_TRIES: u32 = 20;

/// How often the sequencer lists the stream's shards when none has closed.
const DESCRIBE_EVERY: Duration = Duration::from_secs(10);

/// How long after its commit a change may take to show in the stream: a shard read to its
/// end is taken to hold every record older than this.
const STREAM_DELAY_MILLIS: i64 = 1000;

fn now_millis() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn sequence_error(table: &str, error: SequenceError) -> PersistenceError {
    PersistenceError::Operational {
        operation: format!("sequencing the notification log of table {table}"),
        message: error.to_string(),
        source: Some(Box::new(error)),
    }
}

/// Runs the sequencer while the recorder lives: takes the lease when it is free, sequences,
/// and starts again from the log's last page after any error.
pub(crate) async fn run(
    application: Weak<crate::recorder::Shared>,
    recorder: DynamoRecorder,
    stream: Stream,
    settings: SequencerSettings,
    signals: Arc<Signals>,
) {
    let owner = Uuid::new_v4().hyphenated().to_string();
    let mut pause = Duration::from_millis(100);
    loop {
        let term =
            Term { recorder: &recorder, stream: &stream, settings: &settings, signals: &signals };
        let led = term.lead(&application, &owner, None).await;
        signals.progress.send_modify(|progress| progress.leading = false);
        match led {
            // Another process leads. Its lease cannot be taken before it expires, so saves
            // do not wake this one: trying at each of them cost a request per save.
            Ok(Led::NotLeader) => {
                tokio::select! {
                    _ = tokio::time::sleep(settings.lease / 3) => {}
                    _ = signals.wanted.notified() => {}
                }
                continue;
            }
            // A term without a target is never caught up: it carries on.
            Ok(Led::Deposed | Led::CaughtUp(_)) => pause = Duration::from_millis(100),
            Ok(Led::Closed) => {
                signals.stopped.send_replace(true);
                return;
            }
            Err(error) => {
                tracing::warn!(table = %stream.table, %error, "the sequencer starts again");
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = signals.saved.notified() => {}
        }
    }
}

enum Led {
    NotLeader,
    Deposed,
    /// Every event committed before the term's target is in the log; the lease is held.
    CaughtUp(Lease),
    /// The recorder was dropped: the process no longer needs its sequencer.
    Closed,
}

/// What one term as the sequencer works with.
struct Term<'a> {
    recorder: &'a DynamoRecorder,
    stream: &'a Stream,
    settings: &'a SequencerSettings,
    signals: &'a Signals,
}

impl Term<'_> {
    /// One term as the sequencer: returns when the lease is lost or not to be had, or (with
    /// `until`, epoch ms) once every event committed before `until` is in the log.
    async fn lead(
        &self,
        application: &Weak<crate::recorder::Shared>,
        owner: &str,
        until: Option<i64>,
    ) -> Result<Led, PersistenceError> {
        let Term { recorder, stream, settings, signals } = *self;
        // The task ends when the application's recorder is dropped or closed, handing its
        // lease back for another process's sequencer to take.
        let closed = || {
            application.strong_count() == 0
                || signals.closing.load(std::sync::atomic::Ordering::Acquire)
        };
        if closed() {
            return Ok(Led::Closed);
        }
        let table = recorder.table().to_owned();
        let client = recorder.client().clone();
        let length = i64::try_from(settings.lease.as_millis()).unwrap_or(i64::MAX);
        let Some(lease) = lease::acquire(&client, &table, owner, now_millis(), length).await?
        else {
            return Ok(Led::NotLeader);
        };
        recorder.metrics().lease_acquired.increment(1);
        tracing::info!(%table, epoch = lease.epoch, "sequencer took the lease");
        let mut renewed = now_millis();
        let mut sequencer = resume(recorder, &settings.config).await?;
        let mut shards = Vec::new();
        let mut described: Option<std::time::Instant> = None;
        // Since when events consumed from the stream have waited to be written.
        let mut waiting_since: Option<std::time::Instant> = None;
        loop {
            if closed() {
                // Between pages: what is consumed and not yet logged stays on the stream after
                // the last page's checkpoint, for the next sequencer to read again.
                let progress = Progress { leading: false, ..*signals.progress.borrow() };
                match lease::release(&client, &table, &lease, now_millis(), &progress).await {
                    Ok(_) => {
                        tracing::info!(%table, epoch = lease.epoch, "sequencer handed the lease back")
                    }
                    Err(error) => {
                        tracing::warn!(%table, %error, "the sequencer could not hand its lease back: it expires")
                    }
                }
                return Ok(Led::Closed);
            }
            if now_millis() - renewed > length / 3 {
                let progress = *signals.progress.borrow();
                if !lease::renew(&client, &table, &lease, now_millis(), length, &progress).await? {
                    return Ok(deposed(recorder, &lease, "renewing it"));
                }
                renewed = now_millis();
            }
            // The shards change rarely (splits, every few hours), and DescribeStream is limited
            // to 10 calls a second per account: describe again after a while, or when a shard
            // closed.
            if described.is_none_or(|at| at.elapsed() >= DESCRIBE_EVERY) {
                shards = stream.shards().await?;
                described = Some(std::time::Instant::now());
                if let Err(error) = sequencer.note_shards(&shards) {
                    let SequenceError::ShardTrimmed(_) = &error else {
                        return Err(sequence_error(&table, error));
                    };
                    tracing::warn!(%table, %error, "sequencing what the log lacks from the table");
                    match recovery::recover(recorder, &lease, &settings.config, signals).await? {
                        Some(recovered) => sequencer = recovered,
                        None => return Ok(deposed(recorder, &lease, "recovering the log")),
                    }
                    sequencer.note_shards(&shards).map_err(|e| sequence_error(&table, e))?;
                }
            }
            let mut read_any = false;
            for id in sequencer.readable(&shards) {
                let Some(info) = shards.iter().find(|s| s.id == id) else { continue };
                let caught_up_to = now_millis() - STREAM_DELAY_MILLIS;
                let (records, end) = match stream
                    .read(&id, sequencer.position(&id), caught_up_to)
                    .await?
                {
                    stream::Read::Records(records, end) => (records, end),
                    stream::Read::Trimmed => {
                        tracing::warn!(%table, shard = %id, "records were trimmed before they were read: sequencing what the log lacks from the table");
                        match recovery::recover(recorder, &lease, &settings.config, signals).await?
                        {
                            Some(recovered) => sequencer = recovered,
                            None => return Ok(deposed(recorder, &lease, "recovering the log")),
                        }
                        described = None;
                        break;
                    }
                };
                read_any |= !records.is_empty();
                if end == eventsourcing_sequencer::ShardEnd::Closed {
                    described = None;
                }
                sequencer.offer(info, records, end).map_err(|e| sequence_error(&table, e))?;
            }
            let waiting = sequencer.waiting();
            let consumed_since = *waiting_since.get_or_insert_with(std::time::Instant::now);
            let due = until.is_some()
                || signals.flush.swap(false, std::sync::atomic::Ordering::AcqRel)
                || waiting >= settings.config.max_entries
                || consumed_since.elapsed() >= settings.batch;
            if waiting == 0 {
                waiting_since = None;
            } else if due {
                if !write_ready(recorder, &mut sequencer, &lease, signals).await? {
                    return Ok(deposed(recorder, &lease, "writing a page"));
                }
                waiting_since = None;
            }
            let progress = Progress {
                leading: true,
                horizon: sequencer.horizon(),
                oldest_waiting: sequencer.oldest_waiting(),
            };
            signals.progress.send_replace(progress);
            if until.is_some_and(|target| progress.covers(target)) {
                return Ok(Led::CaughtUp(lease));
            }
            // Idle, it polls; with events waiting to be written, no later than they are due.
            let idle = match waiting_since {
                Some(since) => settings.poll.min(settings.batch.saturating_sub(since.elapsed())),
                None => settings.poll,
            };
            match read_any {
                true => tokio::time::sleep(settings.linger.min(idle)).await,
                false => tokio::select! {
                    _ = tokio::time::sleep(idle) => {}
                    _ = signals.saved.notified() => {}
                },
            }
        }
    }
}

/// Another sequencer took the lease from this one (found while `doing` something under it).
fn deposed(recorder: &DynamoRecorder, lease: &Lease, doing: &str) -> Led {
    recorder.metrics().lease_lost.increment(1);
    tracing::warn!(
        table = recorder.table(),
        epoch = lease.epoch,
        "the sequencer lost its lease while {doing}: another process's sequencer took it"
    );
    Led::Deposed
}

/// Records a page written: the log's new position, and how long each of its events took
/// from its commit to the log.
///
/// Both clues to a commit's time are rounded down: the stream record's approximate time (to
/// the second on DynamoDB, to the minute on DynamoDB Local) and the item's `created_at` (to
/// the second). The later of the two is the closer, so a lag reads at most about a second high.
fn page_written(recorder: &DynamoRecorder, sequencer: &Sequencer, page: &Page) {
    let metrics = recorder.metrics();
    metrics.log_pages.increment(1);
    metrics.log_position.set(names::position(page.next_id() - 1));
    for entry in &page.entries {
        let created = match entry {
            eventsourcing_sequencer::PageEntry::Inline(event) => {
                Some(event.created_at.saturating_mul(1000))
            }
            eventsourcing_sequencer::PageEntry::Reference { .. } => None,
        };
        let committed = sequencer.arrived_at(&entry.key()).max(created);
        if let Some(committed) = committed {
            // Milliseconds to seconds; a lag is far below 2^53 ms.
            #[allow(clippy::cast_precision_loss)]
            let seconds = page.written_at.saturating_sub(committed).max(0) as f64 / 1000.0;
            metrics.log_lag.record(seconds);
        }
    }
}

/// Answers the sequencer's lookups from the table and writes every page it can cut;
/// `false` when the lease was lost.
async fn write_ready(
    recorder: &DynamoRecorder,
    sequencer: &mut Sequencer,
    lease: &Lease,
    signals: &Signals,
) -> Result<bool, PersistenceError> {
    let table = recorder.table();
    for key in sequencer.lookups() {
        let predecessor = match recorder.get(key.0.hyphenated().to_string(), key.1).await? {
            Some(item) => Predecessor::CreatedAt(created_at(&item)),
            None => Predecessor::Missing,
        };
        sequencer.resolve(key, predecessor);
    }
    while let Some(page) = sequencer.next_page(now_millis()) {
        if !write_page(recorder, &page, lease).await? {
            return Ok(false);
        }
        page_written(recorder, sequencer, &page);
        sequencer.committed(&page).map_err(|e| sequence_error(table, e))?;
        signals.paged.notify_waiters();
    }
    Ok(true)
}

fn created_at(item: &Item) -> i64 {
    match item.get("created_at") {
        Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
        _ => 0,
    }
}

/// A sequencer carrying on from the log's last page: its checkpoint, the tail of pages it
/// needs to remember, and its waiting events read back from the table.
async fn resume(recorder: &DynamoRecorder, config: &Config) -> Result<Sequencer, PersistenceError> {
    let last = last_page(recorder).await?;
    let checkpoint =
        last.map(|p| p.checkpoint).unwrap_or_else(eventsourcing_sequencer::Checkpoint::empty);
    let since = Sequencer::tail_since(config, &checkpoint);
    let mut tail = Vec::new();
    let mut before = None;
    'pages: loop {
        let range = before.map(|b: u64| ("#sk < :before".to_owned(), vec![(":before", b)]));
        let items = recorder.query(PAGES_PARTITION.to_owned(), range, true, Some(20)).await?;
        if items.is_empty() {
            break;
        }
        for item in &items {
            let page = read_page(item).map_err(|problem| page_error(recorder, item, problem))?;
            if page.written_at < since {
                break 'pages;
            }
            before = Some(page.first_id);
            for entry in &page.entries {
                tail.push(((entry.originator_id, entry.originator_version), page.written_at));
            }
        }
    }
    let mut sequencer = Sequencer::resume(*config, checkpoint, tail);
    let waiting: Vec<(Uuid, u64)> = sequencer.unrestored().copied().collect();
    for key in waiting {
        match recorder.get(key.0.hyphenated().to_string(), key.1).await? {
            Some(item) => {
                let event = recorder.read_event_item(item)?;
                sequencer.restore(EventImage {
                    originator_id: event.0.originator_id,
                    originator_version: event.0.originator_version,
                    topic: event.0.topic,
                    state: event.0.state,
                    created_at: event.1,
                });
            }
            None => sequencer.forget(key),
        }
    }
    Ok(sequencer)
}

fn page_error(recorder: &DynamoRecorder, item: &Item, problem: String) -> PersistenceError {
    let first = match item.get(RANGE_KEY) {
        Some(AttributeValue::N(n)) => n.clone(),
        _ => "?".to_owned(),
    };
    PersistenceError::Data {
        location: format!(
            "in table {} at {HASH_KEY}={PAGES_PARTITION} {RANGE_KEY}={first}",
            recorder.table()
        ),
        problem,
    }
}

async fn last_page(recorder: &DynamoRecorder) -> Result<Option<StoredPage>, PersistenceError> {
    let items = recorder.query(PAGES_PARTITION.to_owned(), None, true, Some(1)).await?;
    match items.first() {
        Some(item) => read_page(item).map(Some).map_err(|p| page_error(recorder, item, p)),
        None => Ok(None),
    }
}

/// Writes a page under the lease; `false` when the lease was lost (the page is not
/// written). A lost response is resolved by reading the page back.
#[tracing::instrument(
    name = "log_page",
    level = "debug",
    skip_all,
    fields(
        table = recorder.table(),
        first_id = page.first_id,
        entries = page.entries.len(),
        epoch = lease.epoch,
        attempts = Empty,
        outcome = Empty,
    )
)]
async fn write_page(
    recorder: &DynamoRecorder,
    page: &Page,
    lease: &Lease,
) -> Result<bool, PersistenceError> {
    let table = recorder.table().to_owned();
    let item = pages::page_item(page, &lease.owner, lease.epoch);
    let put = Put::builder()
        .table_name(&table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#pk)")
        .expression_attribute_names("#pk", HASH_KEY)
        .build()
        .map_err(|e| PersistenceError::Programming(e.to_string()))?;
    let fence: ConditionCheck = lease::fence(&table, lease)?;
    let token = Uuid::new_v4().hyphenated().to_string();
    let mut pause = Duration::from_millis(10);
    let span = tracing::Span::current();
    for attempt in 1..=PAGE_TRIES {
        span.record("attempts", attempt);
        let call = crate::trace::call(
            "TransactWriteItems",
            &table,
            crate::trace::Key(PAGES_PARTITION, page.first_id),
        );
        call.record("attempt", attempt);
        call.record("items", 2);
        let request = recorder
            .client()
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put.clone()).build())
            .transact_items(TransactWriteItem::builder().condition_check(fence.clone()).build())
            .client_request_token(&token)
            .send();
        let result = crate::trace::send(&call, request).await;
        let names = |i: usize| match i {
            0 => format!("log page {}", page.first_id),
            _ => "the sequencer lease".to_owned(),
        };
        match attempt::transact_write_items(&table, result, names) {
            Attempt::Committed => {
                span.record("outcome", "written");
                return Ok(true);
            }
            Attempt::ConditionFailed(_) => {
                // Ours (an earlier attempt whose response was lost), or another sequencer's.
                let stored = recorder.get(PAGES_PARTITION.to_owned(), page.first_id).await?;
                let ours = stored
                    .as_ref()
                    .and_then(|item| read_page(item).ok())
                    .is_some_and(|p| p.owner == lease.owner && p.epoch == lease.epoch);
                span.record("outcome", if ours { "written" } else { "lease lost" });
                return Ok(ours);
            }
            Attempt::Retry(error) => {
                retried("log_page");
                tracing::debug!(%table, %error, "retrying a log page");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(500));
            }
            Attempt::Refused(error) => {
                span.record("outcome", "refused");
                return Err(error);
            }
        }
    }
    names::gave_up("log_page");
    span.record("outcome", "gave up");
    tracing::warn!(%table, first_id = page.first_id, "giving up writing a log page");
    Err(PersistenceError::Operational {
        operation: format!("writing log page {} of table {table}", page.first_id),
        message: "DynamoDB kept failing the write".to_owned(),
        source: None,
    })
}

/// Notifications from the pages, as the query selects (references fetched from the
/// events' own items).
pub(crate) async fn select(
    recorder: &DynamoRecorder,
    query: &NotificationQuery,
) -> Result<Vec<Notification>, PersistenceError> {
    let start = query.start.max(1);
    let stop = query.stop.unwrap_or(u64::MAX);
    let mut selected = Vec::new();
    if query.limit == 0 || start > stop {
        return Ok(selected);
    }
    // The page holding `start` (the last one that begins at or before it), then the pages
    // after it, until the query is satisfied.
    let holding = Some(("#sk <= :start".to_owned(), vec![(":start", start)]));
    let mut items = recorder.query(PAGES_PARTITION.to_owned(), holding, true, Some(1)).await?;
    let mut next_page = start;
    loop {
        if items.is_empty() {
            let range = Some(("#sk >= :from".to_owned(), vec![(":from", next_page)]));
            items = recorder.query(PAGES_PARTITION.to_owned(), range, false, Some(10)).await?;
            if items.is_empty() {
                return Ok(selected);
            }
        }
        for item in &std::mem::take(&mut items) {
            let page = read_page(item).map_err(|p| page_error(recorder, item, p))?;
            next_page = page.next_id();
            for (offset, entry) in page.entries.into_iter().enumerate() {
                let id = page.first_id + offset as u64;
                if id < start {
                    continue;
                }
                if id > stop || selected.len() >= query.limit {
                    return Ok(selected);
                }
                if !query.topics.is_empty() && !query.topics.contains(&entry.topic) {
                    continue;
                }
                let state = match entry.state {
                    Some(state) => state,
                    None => {
                        fetch_state(recorder, entry.originator_id, entry.originator_version).await?
                    }
                };
                selected.push(Notification {
                    id,
                    event: StoredEvent {
                        originator_id: entry.originator_id,
                        originator_version: entry.originator_version,
                        topic: entry.topic,
                        state,
                    },
                });
            }
        }
    }
}

async fn fetch_state(
    recorder: &DynamoRecorder,
    id: Uuid,
    version: u64,
) -> Result<Vec<u8>, PersistenceError> {
    match recorder.get(id.hyphenated().to_string(), version).await? {
        Some(item) => Ok(recorder.read_event_item(item)?.0.state),
        None => Err(PersistenceError::Data {
            location: format!(
                "in table {} at {HASH_KEY}={id} {RANGE_KEY}={version}",
                recorder.table()
            ),
            problem: "the log references this event, but its item is gone".to_owned(),
        }),
    }
}

/// The last notification id in the pages (0 when there are none).
pub(crate) async fn max_notification_id(
    recorder: &DynamoRecorder,
) -> Result<u64, PersistenceError> {
    Ok(last_page(recorder).await?.map_or(0, |page| page.next_id() - 1))
}

/// Waits until every event committed before the call is in the log, as this process's
/// sequencer (when it leads) or the lease holder's last renewal (otherwise) shows it.
pub(crate) async fn sync(
    recorder: &DynamoRecorder,
    signals: &Signals,
    timeout: Duration,
) -> Result<(), PersistenceError> {
    let target = now_millis();
    let deadline = std::time::Instant::now() + timeout;
    let mut local = signals.progress.subscribe();
    signals.flush.store(true, std::sync::atomic::Ordering::Release);
    signals.saved.notify_one();
    signals.wanted.notify_one();
    loop {
        let progress = *local.borrow_and_update();
        let progress = match progress.leading {
            true => Some(progress),
            false => lease::progress(recorder.client(), recorder.table()).await?,
        };
        if progress.is_some_and(|p| p.covers(target)) {
            return Ok(());
        }
        if std::time::Instant::now() >= deadline {
            return Err(PersistenceError::Operational {
                operation: format!("waiting for the notification log of table {}", recorder.table()),
                message: format!(
                    "the sequencer did not log the events committed before the call within {timeout:?} ({progress:?})"
                ),
                source: None,
            });
        }
        tokio::select! {
            _ = local.changed() => {}
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}
