//! The persistence layer: stored records, the recorder traits every store implements,
//! the mapper between domain events and stored records, and the registry of stores.
//!
//! The recorders mirror Python eventsourcing's: an [`AggregateRecorder`] stores and selects
//! the events of aggregates; an [`ApplicationRecorder`] also keeps the gapless notification
//! log of everything recorded; a [`ProcessRecorder`] also records tracking positions in
//! upstream logs, atomically with the events a policy produced.

mod cipher;
mod compressor;
mod error;
mod mapper;
pub mod memory;
mod registry;

pub use cipher::{generate_cipher_key, AesCipher, KeyError, AES_CIPHER_TOPIC};
pub use compressor::{Compressor, ZLIB_COMPRESSOR_TOPIC};
pub use error::{DecodeError, DecodeProblem, EncodeError, PersistenceError};
pub use mapper::{Mapper, SealError};
pub use registry::{open_recorders, OpenFuture, PersistenceModule, Recorders};

use async_trait::async_trait;
use uuid::Uuid;

/// An event as a store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// The aggregate that recorded the event.
    pub originator_id: Uuid,
    /// The aggregate's version after the event.
    pub originator_version: u64,
    /// The event's topic, e.g. `"seed:Dog.TrickAdded"`.
    pub topic: String,
    /// The encoded (and maybe compressed and encrypted) state.
    pub state: Vec<u8>,
}

/// An event in the notification log, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The position in the log: 1, 2, 3, … without gaps.
    pub id: u64,
    /// The event.
    pub event: StoredEvent,
}

/// A position in an upstream application's notification log that a follower has processed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tracking {
    /// The upstream application's name.
    pub application_name: String,
    /// The id of the processed notification.
    pub notification_id: u64,
}

/// Which events of one aggregate to select.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventQuery {
    /// Only versions greater than this.
    pub gt: Option<u64>,
    /// Only versions less than or equal to this.
    pub lte: Option<u64>,
    /// Newest first.
    pub desc: bool,
    /// At most this many events.
    pub limit: Option<usize>,
}

/// Which notifications to select.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotificationQuery {
    /// The first id (inclusive); 0 is read as 1.
    pub start: u64,
    /// At most this many notifications.
    pub limit: usize,
    /// The last id (inclusive).
    pub stop: Option<u64>,
    /// Only these topics (all when empty).
    pub topics: Vec<String>,
}

/// Stores and selects the events of aggregates.
#[async_trait]
pub trait AggregateRecorder: Send + Sync {
    /// Writes all the events, atomically: if any (originator_id, originator_version) exists
    /// already or appears twice, nothing is written and the error names it. Returns the
    /// notification ids given to the events (empty when the recorder keeps no log).
    async fn insert_events(&self, events: Vec<StoredEvent>) -> Result<Vec<u64>, PersistenceError>;

    /// The events of one aggregate, in version order (or reversed with `desc`).
    async fn select_events(
        &self,
        originator_id: Uuid,
        query: EventQuery,
    ) -> Result<Vec<StoredEvent>, PersistenceError>;

    /// How many requests this recorder has sent to its database, for stores that count them
    /// (tests and benchmarks use it to check costs).
    fn request_count(&self) -> Option<u64> {
        None
    }
}

/// Which notification log a recorder writes, so that a [`System`](crate::System) can refuse
/// two applications that would share one (a follower would then see both applications'
/// events as its upstream's).
pub trait StoreIdentity {
    /// An id of the notification log this recorder writes, equal for two recorders exactly
    /// when they write the same log: e.g. `dynamodb:<region>/<table>`, or a per-instance id
    /// for the in-memory store. `None` (the default) when the recorder keeps no log, or
    /// cannot tell; such recorders are not checked.
    fn store_identity(&self) -> Option<String> {
        None
    }
}

/// An aggregate recorder that also keeps the notification log.
#[async_trait]
pub trait ApplicationRecorder: AggregateRecorder + StoreIdentity {
    /// Notifications in id order, as the query selects.
    async fn select_notifications(
        &self,
        query: NotificationQuery,
    ) -> Result<Vec<Notification>, PersistenceError>;

    /// The highest notification id (0 when the log is empty).
    async fn max_notification_id(&self) -> Result<u64, PersistenceError>;

    /// Waits until every event committed before the call is in the notification log. A log
    /// written by the saves themselves is always so; a log sequenced after the fact (the
    /// DynamoDB store's `sequenced` log) may lag behind its commits.
    async fn sync_log(&self) -> Result<(), PersistenceError> {
        Ok(())
    }

    /// What this process's writer of the log wakes when it appends to the log after the
    /// fact (the DynamoDB store's sequencer), so that subscribers need not poll; `None`
    /// (the default) for a log written by the saves themselves, whose application's
    /// prompts say the same.
    fn log_appended(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        None
    }

    /// Stops what the recorder runs in this process besides its calls, handing over what it
    /// holds (the DynamoDB sequencer's lease, so that another process's sequencer carries on
    /// at once instead of after the lease expires). Reads and writes still work after it.
    /// Nothing to do by default.
    async fn close(&self) -> Result<(), PersistenceError> {
        Ok(())
    }
}

/// An application recorder that also records positions in upstream logs.
#[async_trait]
pub trait ProcessRecorder: ApplicationRecorder {
    /// Writes the events and the tracking record in one atomic operation. If the tracking
    /// record exists already, nothing is written ([`PersistenceError::TrackingConflict`]).
    async fn insert_events_tracked(
        &self,
        events: Vec<StoredEvent>,
        tracking: Tracking,
    ) -> Result<Vec<u64>, PersistenceError>;

    /// The highest notification id of `application_name` tracked so far (0 when none).
    async fn max_tracking_id(&self, application_name: &str) -> Result<u64, PersistenceError>;

    /// Whether that notification of `application_name` was tracked.
    async fn has_tracking_id(
        &self,
        application_name: &str,
        notification_id: u64,
    ) -> Result<bool, PersistenceError>;
}

/// Checks a batch for one (originator_id, originator_version) appearing twice.
pub fn check_batch(events: &[StoredEvent]) -> Result<(), PersistenceError> {
    let key = |event: &StoredEvent| (event.originator_id, event.originator_version);
    let repeated = match events.len() {
        0 | 1 => None,
        // Most saves hold a few events: comparing pairs needs no allocation.
        2..=16 => events
            .iter()
            .enumerate()
            .find(|(i, e)| events[..*i].iter().any(|o| key(o) == key(e)))
            .map(|(_, e)| e),
        _ => {
            let mut seen = std::collections::HashSet::with_capacity(events.len());
            events.iter().find(|event| !seen.insert(key(event)))
        }
    };
    match repeated {
        Some(event) => Err(PersistenceError::DuplicateInBatch {
            originator_id: event.originator_id,
            originator_version: event.originator_version,
        }),
        None => Ok(()),
    }
}
