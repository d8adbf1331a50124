use uuid::Uuid;

/// A failure of a store. The variants follow Python eventsourcing's error classes; see
/// [`PersistenceError::python_class`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PersistenceError {
    /// The aggregate already has this version: another writer saved first. Nothing of the
    /// batch was written; reload the aggregate and run the command again.
    #[error("conflict: aggregate {originator_id} already has version {originator_version}; nothing of this save was written")]
    Conflict {
        /// The aggregate.
        originator_id: Uuid,
        /// The version that exists already.
        originator_version: u64,
    },

    /// One batch holds the same aggregate version twice.
    #[error("aggregate {originator_id} version {originator_version} appears twice in one save; nothing was written")]
    DuplicateInBatch {
        /// The aggregate.
        originator_id: Uuid,
        /// The repeated version.
        originator_version: u64,
    },

    /// The tracking record exists already: the notification was processed before.
    #[error("notification {notification_id} of {application_name} was already processed; nothing was written")]
    TrackingConflict {
        /// The upstream application.
        application_name: String,
        /// The notification id.
        notification_id: u64,
    },

    /// A save exceeds what the store can write atomically; it was rejected before anything was sent.
    #[error("save rejected before writing: {detail} (limit {limit}: {actual} > {maximum})")]
    LimitExceeded {
        /// Which limit, e.g. "actions per transaction".
        limit: &'static str,
        /// The size of this save.
        actual: usize,
        /// The store's maximum.
        maximum: usize,
        /// What exceeded it.
        detail: String,
    },

    /// A stored item is malformed: missing or mistyped attributes, or undecodable values.
    #[error("malformed item {location}: {problem}")]
    Data {
        /// The table and key of the item.
        location: String,
        /// What is wrong with it.
        problem: String,
    },

    /// The store could not be reached or failed to answer (after the client's own retries).
    #[error("{operation} failed: {message}")]
    Operational {
        /// What was being done, e.g. "TransactWriteItems on table events".
        operation: String,
        /// The store's message.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// A write whose outcome could not be learnt: an attempt may have committed (its
    /// response was lost), and reading the items back failed too. The data may or may not
    /// be stored; reload the aggregates to find out before running the command again.
    #[error(
        "outcome unknown: {operation} may or may not have committed ({detail}); reload to find out"
    )]
    OutcomeUnknown {
        /// What was being done, e.g. "TransactWriteItems on table events".
        operation: String,
        /// What was tried and what failed.
        detail: String,
        /// The last error seen.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// The store refused the write for a reason that trying again cannot change (e.g. a
    /// transaction cancelled with `ValidationError`); nothing was written.
    #[error("{operation} was refused ({reason}) for {item}; nothing was written")]
    Rejected {
        /// What was being done.
        operation: String,
        /// The store's reason, e.g. "ValidationError".
        reason: String,
        /// The item the reason names.
        item: String,
    },

    /// The store is set up wrongly for this use: e.g. a missing table or a wrong key schema.
    #[error("{0}")]
    Programming(String),

    /// The store does not support the operation.
    #[error("not supported: {0}")]
    NotSupported(String),
}

impl PersistenceError {
    /// Whether another writer got there first (a conflict on an aggregate version).
    pub fn is_conflict(&self) -> bool {
        matches!(self, PersistenceError::Conflict { .. })
    }

    /// Whether a write may or may not have committed ([`PersistenceError::OutcomeUnknown`]).
    pub fn is_outcome_unknown(&self) -> bool {
        matches!(self, PersistenceError::OutcomeUnknown { .. })
    }

    /// The name of the Python eventsourcing error class this corresponds to.
    pub fn python_class(&self) -> &'static str {
        match self {
            PersistenceError::Conflict { .. }
            | PersistenceError::DuplicateInBatch { .. }
            | PersistenceError::TrackingConflict { .. } => "IntegrityError",
            PersistenceError::LimitExceeded { .. }
            | PersistenceError::Rejected { .. }
            | PersistenceError::Programming(_) => "ProgrammingError",
            PersistenceError::Data { .. } => "DataError",
            PersistenceError::Operational { .. } | PersistenceError::OutcomeUnknown { .. } => {
                "OperationalError"
            }
            PersistenceError::NotSupported(_) => "NotSupportedError",
        }
    }
}

/// Why a stored event could not be decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeProblem {
    /// No event of the expected aggregate has this topic.
    #[error("topic {topic:?} is not an event of {expected} (its topics: {known})")]
    UnknownTopic {
        /// The stored topic.
        topic: String,
        /// The aggregate type asked for.
        expected: &'static str,
        /// The topics that aggregate reads.
        known: String,
    },
    /// The state's JSON does not match the event.
    #[error("state does not decode: {0}")]
    Json(#[from] serde_json::Error),
    /// The state is not valid compressed data.
    #[error("state does not decompress: {0}")]
    Decompress(String),
    /// The state does not decrypt with the configured key (wrong key or damaged data).
    #[error("state does not decrypt: {0}")]
    Decrypt(String),
    /// The state was written by a newer version of the event than this program knows.
    #[error("{0}")]
    Version(String),
}

/// A stored event that could not be decoded, named by its aggregate and version.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot decode event {originator_id} version {originator_version} (topic {topic:?}): {problem}"
)]
pub struct DecodeError {
    /// The aggregate.
    pub originator_id: Uuid,
    /// The version.
    pub originator_version: u64,
    /// The stored topic.
    pub topic: String,
    /// What went wrong.
    #[source]
    pub problem: DecodeProblem,
}

/// An event that could not be encoded.
#[derive(Debug, thiserror::Error)]
#[error("cannot encode event {originator_id} version {originator_version} ({topic}): {message}")]
pub struct EncodeError {
    /// The aggregate.
    pub originator_id: Uuid,
    /// The version.
    pub originator_version: u64,
    /// The event's topic.
    pub topic: String,
    /// Why.
    pub message: String,
}
