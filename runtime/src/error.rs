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
    /// A system is wired wrongly.
    #[error("system: {0}")]
    System(String),
    /// Two applications of one system write the same notification log (e.g. one DynamoDB
    /// table), so a follower of either would see the other's events too.
    #[error(
        "applications {first} and {second} share one notification log ({identity}); give each \
         its own table, e.g. {}_DYNAMO_TABLE and {}_DYNAMO_TABLE",
        first.to_uppercase(),
        second.to_uppercase()
    )]
    SharedLog {
        /// The log both write ([`StoreIdentity`](crate::persistence::StoreIdentity)).
        identity: String,
        /// One application.
        first: String,
        /// The other.
        second: String,
    },
    /// Two linked aggregates read the same event topic.
    #[error(transparent)]
    DuplicateTopic(#[from] crate::system::DuplicateTopic),
    /// A follower could not process a notification of its upstream: it does not decode,
    /// or the policy failed. The cause is the [`source`](std::error::Error::source).
    #[error("{follower} could not process notification {notification_id} of {upstream}")]
    Follower {
        /// The process application.
        follower: String,
        /// The upstream application.
        upstream: String,
        /// The notification's id in the upstream's log.
        notification_id: u64,
        /// What failed.
        #[source]
        source: Box<Error>,
    },
    /// A command run by [`Application::update`](crate::Application::update) refused (its
    /// error is the [`source`](std::error::Error::source)); nothing was saved. Made by `?`
    /// from an [`UpdateError::Command`].
    #[error("the command refused and nothing was saved")]
    Command(#[source] Box<dyn std::error::Error + Send + Sync>),
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

/// What [`Application::update`](crate::Application::update) fails with: the command's own
/// error, or a failure of loading or saving, kept apart so that `match` tells them apart.
///
/// A `Command` error means nothing was saved. When the command's error type implements
/// `std::error::Error`, `?` turns an `UpdateError` into an [`Error`] (store failures as
/// they are, the command's error as [`Error::Command`]).
#[derive(Debug, thiserror::Error)]
pub enum UpdateError<E> {
    /// The command returned `Err`; the events it recorded were discarded, nothing was saved.
    #[error("the command refused and nothing was saved: {0}")]
    Command(E),
    /// Loading or saving the aggregate failed (including [`Error::RetriesExhausted`]).
    #[error(transparent)]
    Store(#[from] Error),
}

impl<E> UpdateError<E> {
    /// The command's error, if it was the command that failed.
    pub fn command(self) -> Option<E> {
        match self {
            UpdateError::Command(error) => Some(error),
            UpdateError::Store(_) => None,
        }
    }

    /// Whether the aggregate kept conflicting with other writers.
    pub fn is_conflict(&self) -> bool {
        match self {
            UpdateError::Command(_) => false,
            UpdateError::Store(error) => {
                error.is_conflict() || matches!(error, Error::RetriesExhausted { .. })
            }
        }
    }
}

impl<E> From<UpdateError<E>> for Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    /// A store failure stays what it was; a command's error becomes [`Error::Command`]
    /// (unless it is itself an [`Error`], which is kept as it is).
    fn from(error: UpdateError<E>) -> Self {
        match error {
            UpdateError::Store(error) => error,
            UpdateError::Command(error) => {
                let error: Box<dyn std::error::Error + Send + Sync> = Box::new(error);
                match error.downcast::<Error>() {
                    Ok(error) => *error,
                    Err(error) => Error::Command(error),
                }
            }
        }
    }
}
