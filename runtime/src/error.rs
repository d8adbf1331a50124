//! The error type of application-level operations.

use crate::environment::ConfigError;
use crate::persistence::{DecodeError, EncodeError, PersistenceError};
use uuid::Uuid;

/// What an application operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No aggregate with this id (at this version).
    #[error("aggregate {id} not found{}", version.map(|v| format!(" at version {v}")).unwrap_or_default())]
    AggregateNotFound {
        /// The id asked for.
        id: Uuid,
        /// The version asked for, if any.
        version: Option<u64>,
    },
    /// The store failed; see [`PersistenceError::is_conflict`] for concurrent updates.
    #[error(transparent)]
    Persistence(#[from] PersistenceError),
    /// A stored event could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// An event could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// A stored event did not apply on replay: the history and the code disagree.
    #[error("aggregate {id} does not replay at version {version}: {message}")]
    Replay {
        /// The aggregate.
        id: Uuid,
        /// The event's version.
        version: u64,
        /// What the body reported.
        message: String,
    },
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A system is wired wrongly, or one of its followers failed.
    #[error("system: {0}")]
    System(String),
    /// A command kept conflicting with other writers.
    #[error("aggregate {id} still conflicted after {attempts} attempts: {last}")]
    RetriesExhausted {
        /// The aggregate.
        id: Uuid,
        /// How many times the command ran.
        attempts: u32,
        /// The last conflict.
        last: PersistenceError,
    },
}

impl Error {
    /// Whether another writer saved the same aggregate version first.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Persistence(error) if error.is_conflict())
    }

    /// Whether a save may or may not have committed: its responses were lost and reading
    /// its items back failed too (see [`PersistenceError::OutcomeUnknown`]).
    pub fn is_outcome_unknown(&self) -> bool {
        matches!(self, Error::Persistence(error) if error.is_outcome_unknown())
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
