//! The DynamoDB persistence module of `eventsourcing-dynamodb`.
//!
//! Selected with `PERSISTENCE_MODULE=eventsourcing_dynamodb` (or `dynamodb`), configured by
//! `DYNAMO_TABLE` (required), `DYNAMO_ENDPOINT_URL`, `CREATE_TABLE` and
//! `DYNAMO_NOTIFICATION_LOG`. Events are stored exactly as the Python package
//! `eventsourcing_dynamodb` stores them, so Python and Rust services can share a table;
//! the notification log and tracking records live in the same table under partition keys
//! that are never UUIDs.
//!
//! Every write is conditional (nothing is ever overwritten) and atomic; every read is
//! strongly consistent and follows `LastEvaluatedKey` to the end.
#![warn(missing_docs)]

mod attempt;
mod config;
mod errors;
mod items;
mod limits;
mod metrics;
mod recorder;
mod sequenced;
mod table;

pub use config::{DynamoConfig, NotificationLog};
pub use metrics::RequestCounter;
pub use recorder::DynamoRecorder;
pub use sequenced::{Progress as SequencerProgress, SequencerSettings};

use eventsourcing_runtime::environment::{ConfigError, Environment};
use eventsourcing_runtime::persistence::{PersistenceModule, Recorders};
use std::sync::Arc;

/// The names `PERSISTENCE_MODULE` selects this store by.
pub const MODULE_NAME: &str = "eventsourcing_dynamodb";

eventsourcing_runtime::inventory::submit! {
    PersistenceModule {
        name: MODULE_NAME,
        aliases: &["dynamodb", "eventsourcing_dynamodb.factory"],
        open: |env| Box::pin(open(env)),
    }
}

/// Opens the table the environment names (creating it when `CREATE_TABLE` says so).
pub async fn open(env: Environment) -> Result<Recorders, ConfigError> {
    let config = DynamoConfig::from_env(&env)?;
    let recorder = DynamoRecorder::connect(config)
        .await
        .map_err(|source| ConfigError::Store { module: MODULE_NAME, source })?;
    let recorder = Arc::new(recorder);
    Ok(Recorders { snapshots: Arc::new(recorder.snapshots()), events: recorder })
}
