//! The write path: one conditional request per save, and an honest account of its outcome.
//!
//! A request whose answer is lost (a reset connection, a timeout, or SDK retries that all
//! failed after one of them was applied) leaves the save's outcome unknown. Until it is
//! known, the save is sent again exactly as it was (same items, same notification ids, same
//! `ClientRequestToken`, so DynamoDB answers a retry of a committed transaction with
//! success), and nothing new is claimed for it. A failed condition, and giving up, are
//! resolved by reading the items back (strongly consistent): the save is reported committed
//! when its items are stored byte for byte, not committed when they are not, and
//! [`PersistenceError::OutcomeUnknown`] when even the read-back failed.

use super::DynamoRecorder;
use crate::attempt::{self, Attempt};
use crate::items::{self, Item, LOG_PARTITION};
use crate::limits;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use backon::{BackoffBuilder, ExponentialBuilder};
use eventsourcing_runtime::metrics::{self as names, retried};
use eventsourcing_runtime::persistence::{check_batch, PersistenceError, StoredEvent, Tracking};
use std::time::{Duration, Instant};
use tracing::field::Empty;
use uuid::Uuid;

/// One save's items under one claim of notification ids, sent as often as needed.
struct Prepared {
    items: Vec<Item>,
    /// What each item is, for error messages.
    names: Vec<String>,
    /// The notification ids claimed (empty without the log).
    ids: Vec<u64>,
    /// Makes the transaction idempotent; also stored in the tracking item, which has no
    /// other content to tell this write's from another's.
    token: String,
}

/// What reading a save's items back showed.
enum ReadBack {
    /// Every item is this save's: it committed.
    Stored,
    /// Not this save's: it did not commit (and, being atomic, none of it did).
    Absent,
    /// The read failed.
    Unknown(PersistenceError),
}

/// Pauses between attempts: jittered, doubling from 5 ms to 500 ms.
fn pauses() -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(5))
        .with_max_delay(Duration::from_millis(500))
        .with_jitter()
        .without_max_times()
        .build()
}

/// The least number of reads a read-back makes before it gives up, even past the deadline.
const READ_BACK_TRIES: u32 = 2;

/// `timeout` from now; a timeout too large to add to a clock reading is none at all.
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .or_else(|| now.checked_add(Duration::from_secs(u64::from(u32::MAX))))
        .unwrap_or(now)
}

impl DynamoRecorder {
    /// Writes the events (and the tracking record) in one conditional request.
    #[tracing::instrument(
        level = "debug",
        skip_all,
        fields(
            table = %self.inner.table,
            events = events.len(),
            tracking = tracking.as_ref().map(|t| t.notification_id),
            claims = Empty,
            last_notification_id = Empty,
        )
    )]
    pub(super) async fn write(
        &self,
        events: Vec<StoredEvent>,
        tracking: Option<Tracking>,
    ) -> Result<Vec<u64>, PersistenceError> {
        check_batch(&events)?;
        if events.is_empty() && tracking.is_none() {
            return Ok(Vec::new());
        }
        let log = self.log && !events.is_empty();
        // Held across this save's requests on purpose: the transactional log hands out ids
        // in commit order, one save at a time per process (other processes are fenced by
        // the conditions on the log items). Saves without the log do not take it.
        let mut last_id = match log {
            true => Some(self.inner.last_notification_id.lock().await),
            false => None,
        };
        let deadline = deadline_after(self.inner.claim_timeout);
        let mut pauses = pauses();
        let mut claims = 0u32;
        let mut sends = 0u32;
        let mut prepared = None;
        let span = tracing::Span::current();
        loop {
            let save = match prepared.take() {
                Some(save) => save,
                None => {
                    claims += 1;
                    sends = 0;
                    span.record("claims", claims);
                    let last = match last_id.as_deref_mut() {
                        Some(Some(last)) => Some(*last),
                        Some(cached) => {
                            let last = self.last_position(LOG_PARTITION.to_owned()).await?;
                            *cached = Some(last);
                            Some(last)
                        }
                        None => None,
                    };
                    self.prepare(&events, tracking.as_ref(), last)?
                }
            };
            sends += 1;
            let outcome = match self.send(&save, sends).await {
                Attempt::Committed => Ok(()),
                Attempt::ConditionFailed(index) => Err((index, None)),
                Attempt::Retry(error) => {
                    let pause = pauses.next().unwrap_or(Duration::from_millis(500));
                    if Instant::now().checked_add(pause).is_some_and(|then| then < deadline) {
                        retried("write");
                        tracing::debug!(table = %self.inner.table, %error, "retrying the same write");
                        tokio::time::sleep(pause).await;
                        prepared = Some(save);
                        continue;
                    }
                    names::gave_up("write");
                    tracing::warn!(table = %self.inner.table, %error, sends, "giving up sending the same write; reading it back");
                    Err((usize::MAX, Some(error)))
                }
                Attempt::Refused(error) => return Err(error),
            };
            let (index, gave_up) = match outcome {
                Ok(()) => {
                    self.wake_sequencer();
                    return Ok(self.committed(save, last_id.as_deref_mut()));
                }
                Err(failure) => failure,
            };
            match self.read_back(&events, &save, tracking.as_ref(), deadline).await {
                ReadBack::Stored => {
                    self.wake_sequencer();
                    return Ok(self.committed(save, last_id.as_deref_mut()));
                }
                ReadBack::Unknown(error) => {
                    if let Some(cached) = last_id.as_deref_mut() {
                        *cached = None;
                    }
                    self.metrics().outcome_unknown.increment(1);
                    tracing::warn!(table = %self.inner.table, %error, "the outcome of a save is unknown: reading it back failed");
                    return Err(self.outcome_unknown(&save, gave_up, error));
                }
                ReadBack::Absent => {}
            }
            if let Some(error) = gave_up {
                return Err(error);
            }
            if let Some(event) = events.get(index) {
                tracing::debug!(
                    table = %self.inner.table,
                    aggregate = %event.originator_id,
                    version = event.originator_version,
                    "conflict: another writer stored this version first"
                );
                return Err(PersistenceError::Conflict {
                    originator_id: event.originator_id,
                    originator_version: event.originator_version,
                });
            }
            if index >= events.len() + save.ids.len() {
                let (application_name, notification_id) =
                    tracking.map(|t| (t.application_name, t.notification_id)).unwrap_or_default();
                return Err(PersistenceError::TrackingConflict {
                    application_name,
                    notification_id,
                });
            }
            // Another process took one of these notification ids, and none of this save is
            // stored: claim the next ids after a random pause (racing processes would keep
            // colliding otherwise).
            if let Some(cached) = last_id.as_deref_mut() {
                *cached = None;
            }
            if Instant::now() >= deadline {
                names::gave_up("id_claim");
                tracing::warn!(table = %self.inner.table, claims, "giving up claiming notification ids");
                return Err(PersistenceError::Operational {
                    operation: format!("TransactWriteItems on table {}", self.inner.table),
                    message: format!(
                        "gave up after {claims} claims of notification ids in {:?}: other writers kept taking them first; nothing of this save was written",
                        self.inner.claim_timeout
                    ),
                    source: None,
                });
            }
            retried("id_claim");
            tracing::debug!(table = %self.inner.table, claims, "another process took these notification ids; claiming the next ones");
            let pause = pauses.next().unwrap_or(Duration::from_millis(100));
            tokio::time::sleep(pause.min(Duration::from_millis(100))).await;
        }
    }

    /// Tells this process's sequencer (with the sequenced log) that events were committed.
    fn wake_sequencer(&self) {
        if let Some(signals) = &self.inner.sequenced {
            signals.saved.notify_one();
        }
    }

    /// The items of a save under the ids after `last` (when the log is on).
    fn prepare(
        &self,
        events: &[StoredEvent],
        tracking: Option<&Tracking>,
        last: Option<u64>,
    ) -> Result<Prepared, PersistenceError> {
        let token = Uuid::new_v4().hyphenated().to_string();
        let ids: Vec<u64> = match last {
            Some(last) => (last + 1..=last + events.len() as u64).collect(),
            None => Vec::new(),
        };
        // Events first: a failed condition among them is a conflict, whatever else failed.
        let mut batch: Vec<(Item, String)> = events
            .iter()
            .map(|e| {
                let name = format!("event {} version {}", e.originator_id, e.originator_version);
                (self.event_item(e), name)
            })
            .collect();
        for (id, event) in ids.iter().zip(events) {
            batch.push((items::log_item(*id, event), format!("notification {id}")));
        }
        if let Some(tracking) = tracking {
            let item =
                items::tracking_item(&tracking.application_name, tracking.notification_id, &token);
            let name =
                format!("tracking {}:{}", tracking.application_name, tracking.notification_id);
            batch.push((item, name));
        }
        limits::check(&batch)?;
        let (items, names) = batch.into_iter().unzip();
        Ok(Prepared { items, names, ids, token })
    }

    /// Sends the save once (its `attempt`th send): a `PutItem` for one item, else a
    /// `TransactWriteItems`.
    async fn send(&self, save: &Prepared, attempt: u32) -> Attempt {
        let table = &self.inner.table;
        let operation = match save.items.len() {
            1 => "PutItem",
            _ => "TransactWriteItems",
        };
        let first = save.names.first().map_or("", String::as_str);
        let span = crate::trace::call(operation, table, first);
        span.record("attempt", attempt);
        span.record("items", save.items.len());
        if let [item] = save.items.as_slice() {
            let request = self
                .inner
                .client
                .put_item()
                .table_name(table)
                .set_item(Some(item.clone()))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", items::HASH_KEY)
                .send();
            return attempt::put_item(table, crate::trace::send(&span, request).await);
        }
        let mut actions = Vec::with_capacity(save.items.len());
        for item in &save.items {
            match self.put(item.clone()) {
                Ok(put) => actions.push(TransactWriteItem::builder().put(put).build()),
                Err(error) => return Attempt::Refused(error),
            }
        }
        let request = self
            .inner
            .client
            .transact_write_items()
            .set_transact_items(Some(actions))
            .client_request_token(&save.token)
            .send();
        let result = crate::trace::send(&span, request).await;
        attempt::transact_write_items(table, result, |i| {
            save.names.get(i).cloned().unwrap_or_else(|| format!("item {i}"))
        })
    }

    fn put(&self, item: Item) -> Result<Put, PersistenceError> {
        Put::builder()
            .table_name(&self.inner.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", items::HASH_KEY)
            .build()
            .map_err(|e| PersistenceError::Programming(e.to_string()))
    }

    /// Records the log's new end and returns the ids the save committed under.
    fn committed(&self, save: Prepared, last_id: Option<&mut Option<u64>>) -> Vec<u64> {
        if let (Some(cached), Some(&max)) = (last_id, save.ids.last()) {
            *cached = Some(max);
            tracing::Span::current().record("last_notification_id", max);
            self.metrics().log_position.set(names::position(max));
        }
        save.ids
    }

    /// Reads the save's items back until the reads answer (at least [`READ_BACK_TRIES`]
    /// times, and on until `deadline`).
    async fn read_back(
        &self,
        events: &[StoredEvent],
        save: &Prepared,
        tracking: Option<&Tracking>,
        deadline: Instant,
    ) -> ReadBack {
        let mut pauses = pauses();
        let mut tries = 0;
        loop {
            tries += 1;
            match self.is_stored(events, save, tracking).await {
                Ok(true) => return ReadBack::Stored,
                Ok(false) => return ReadBack::Absent,
                Err(error) => {
                    let pause = pauses.next().unwrap_or(Duration::from_millis(500));
                    if tries >= READ_BACK_TRIES
                        && Instant::now().checked_add(pause).is_none_or(|then| then >= deadline)
                    {
                        return ReadBack::Unknown(error);
                    }
                    retried("read_back");
                    tracing::debug!(table = %self.inner.table, %error, "retrying a read-back");
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }

    /// Whether every item of the save is stored as this save wrote it. Events are compared
    /// byte for byte (their states carry microsecond timestamps), log items by the event
    /// they hold, the tracking item by the save's token. Being atomic, a save is stored
    /// whole or not at all, so the first item that is not this save's decides.
    async fn is_stored(
        &self,
        events: &[StoredEvent],
        save: &Prepared,
        tracking: Option<&Tracking>,
    ) -> Result<bool, PersistenceError> {
        for (index, event) in events.iter().enumerate() {
            let partition = self.partition(event.originator_id);
            let Some(item) = self.get(partition, event.originator_version).await? else {
                return Ok(false);
            };
            if self.read_event(item).ok().as_ref() != Some(event) {
                return Ok(false);
            }
            if let Some(&id) = save.ids.get(index) {
                let Some(entry) = self.get(LOG_PARTITION.to_owned(), id).await? else {
                    return Ok(false);
                };
                if !self.reader().notification(&entry).is_ok_and(|n| n.event == *event) {
                    return Ok(false);
                }
            }
        }
        let Some(tracking) = tracking else { return Ok(true) };
        let partition = items::tracking_partition(&tracking.application_name);
        let item = self.get(partition, tracking.notification_id).await?;
        Ok(item.is_some_and(|item| items::write_token(&item) == Some(save.token.as_str())))
    }

    fn outcome_unknown(
        &self,
        save: &Prepared,
        gave_up: Option<PersistenceError>,
        read_error: PersistenceError,
    ) -> PersistenceError {
        let operation = match save.items.len() {
            1 => "PutItem",
            _ => "TransactWriteItems",
        };
        let first = save.names.first().map_or("the save", String::as_str);
        let detail = match &gave_up {
            Some(error) => format!("writing {first} (and {} more items) kept failing ({error}), and reading them back failed too ({read_error})", save.items.len() - 1),
            None => format!("a condition on {first} failed, and reading the items back to see whether an earlier attempt stored them failed ({read_error})"),
        };
        PersistenceError::OutcomeUnknown {
            operation: format!("{operation} on table {}", self.inner.table),
            detail,
            source: Some(Box::new(read_error)),
        }
    }
}
