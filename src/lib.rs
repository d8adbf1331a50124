//! Event sourcing in Rust, in memory or on DynamoDB.
//!
//! This page is the guide: from the TrainingSchool example through the DSL, applications,
//! snapshots, the notification log, process applications and configuration to DynamoDB.
//! Its chapters are `docs/guide/*.md` in the repository, and every example on it is a
//! doctest. Given/when/then tests of domain code are in [`testing`].
//!
#![doc = include_str!("../docs/guide/aggregates.md")]
#![doc = include_str!("../docs/guide/applications.md")]
#![doc = include_str!("../docs/guide/snapshots.md")]
#![doc = include_str!("../docs/guide/notification-log.md")]
#![doc = include_str!("../docs/guide/process-applications.md")]
#![doc = include_str!("../docs/guide/configuration.md")]
#![cfg_attr(feature = "dynamodb", doc = include_str!("../docs/guide/dynamodb.md"))]
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub use eventsourcing_macros::{aggregate, event};
pub use eventsourcing_runtime::*;

/// The DynamoDB store: [`DynamoRecorder`](dynamodb::DynamoRecorder), its configuration
/// ([`DynamoConfig`](dynamodb::DynamoConfig)) and [`DynamoStore`](dynamodb::DynamoStore) for
/// an AWS configuration or client of your own (feature `dynamodb`, on by default).
#[cfg(feature = "dynamodb")]
#[doc(inline)]
pub use eventsourcing_dynamo as dynamodb;

pub mod testing;

/// Everything an application needs: `use eventsourcing_dynamodb::prelude::*;`.
pub mod prelude {
    pub use eventsourcing_macros::{aggregate, event};
    pub use eventsourcing_runtime::projection::{
        InMemoryViewStore, Projection, ProjectionRunner, ViewChanges, ViewStore,
    };
    pub use eventsourcing_runtime::system::{
        Notified, OnFailure, Policy, ProcessApplication, Processing, System, SystemBuilder,
    };
    pub use eventsourcing_runtime::{
        Aggregate, Application, ApplicationBuilder, AsApplication, Decimal, DomainEvent, Error,
        OffsetDateTime, Result, RetryPolicy, Root, UpdateError, Uuid,
    };
}
