//! The runtime of `eventsourcing-dynamodb`, layered like Python eventsourcing:
//! [`domain`] (aggregates and events), [`persistence`] (recorders, mapper, stores),
//! [`application`] (application, repository, notification log), [`system`] (process
//! applications), [`projection`] (subscriptions and views).
//!
//! Applications use it through the `eventsourcing_dynamodb` crate.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod application;
pub mod domain;
pub mod environment;
pub mod error;
pub mod metrics;
pub mod persistence;
pub mod projection;
pub mod system;
pub mod testing;
pub mod transcoding;

pub use application::{
    Application, ApplicationBuilder, AsApplication, CommandOutcome, NotificationLog, Pending,
    Repository, RetryPolicy, Saveable,
};
pub use domain::{Aggregate, AggregateState, DomainEvent, Event, Root};
pub use environment::{ConfigError, Environment};
pub use error::{Error, Result, UpdateError};
pub use persistence::{PersistenceError, StoredEvent};
pub use projection::{Projection, ProjectionError, ProjectionRunner, Subscription, ViewStore};
pub use system::{Notified, Policy, ProcessApplication, Processing, System};

/// What generated code refers to. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::domain::upcast;
    pub use crate::domain::{
        default_topic, Aggregate, AggregateState, Event, EventField, EventTopicSpec, EventTopics,
        Rejected, Root,
    };
    pub use crate::persistence::DecodeProblem;
    pub use crate::system::EventDecoder;
    pub use crate::transcoding as py;
    pub use inventory;
    pub use serde;
    pub use serde_json;
    pub use time::OffsetDateTime;
    pub use uuid::Uuid;
}

// Re-exported so that store crates and applications use the same versions.
pub use async_trait::async_trait;
pub use inventory;
pub use rust_decimal::Decimal;
pub use time::OffsetDateTime;
pub use uuid::Uuid;
