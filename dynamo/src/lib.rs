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
#![forbid(unsafe_code)]

mod attempt;
mod config;
mod errors;
mod items;
mod limits;
mod metrics;
mod recorder;
mod sequenced;
mod table;
mod trace;
mod views;

pub use config::{DynamoConfig, NotificationLog};
pub use errors::Unreachable;
pub use items::{HASH_KEY, RANGE_KEY};
pub use metrics::RequestCounter;
pub use recorder::DynamoRecorder;
pub use sequenced::{
    read_page as read_log_page, LogPage, LogPageEntry, OnDemandSequencer,
    Progress as SequencerProgress, Sequenced, SequencerSettings, PAGES_PARTITION,
};
pub use views::DynamoViewStore;

use eventsourcing_runtime::environment::{ConfigError, Environment};
use eventsourcing_runtime::persistence::{PersistenceError, PersistenceModule, Recorders};
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
///
/// A server that cannot be reached is an operational error whose message is a sentence
/// naming `DYNAMO_ENDPOINT_URL` (or, without it, the AWS settings to check); the SDK's
/// error is its `source()`.
pub async fn open(env: Environment) -> Result<Recorders, ConfigError> {
    let config = DynamoConfig::from_env(&env)?;
    let endpoint = config.endpoint_url.clone();
    let table = config.table.clone();
    let recorder = DynamoRecorder::connect(config).await.map_err(|source| ConfigError::Store {
        module: MODULE_NAME,
        source: explain_unreachable(source, endpoint.as_deref(), &table),
    })?;
    let recorder = Arc::new(recorder);
    Ok(Recorders { snapshots: Arc::new(recorder.snapshots()), events: recorder })
}

/// An unreachable server's error, with a message that says which setting to check.
fn explain_unreachable(
    error: PersistenceError,
    endpoint: Option<&str>,
    table: &str,
) -> PersistenceError {
    if !errors::is_unreachable(&error) {
        return error;
    }
    let PersistenceError::Operational { operation, source, .. } = error else { return error };
    let message = match endpoint {
        Some(url) => format!(
            "could not reach DynamoDB at {url} (DYNAMO_ENDPOINT_URL) to open table {table}: is \
             the server running, and is the URL right?"
        ),
        None => format!(
            "could not reach DynamoDB to open table {table}: DYNAMO_ENDPOINT_URL is not set, \
             so the AWS endpoint of the configured region was used; check the network, \
             AWS_REGION and the credentials, or set DYNAMO_ENDPOINT_URL for a local server"
        ),
    };
    PersistenceError::Operational { operation, message, source }
}

/// The recorders on a table through your own `aws_sdk_dynamodb::Client`, for
/// [`ApplicationBuilder::recorders`](eventsourcing_runtime::ApplicationBuilder::recorders),
/// when the environment should not configure the client:
///
/// ```no_run
/// # async fn demo(client: aws_sdk_dynamodb::Client) -> eventsourcing_runtime::Result<()> {
/// use eventsourcing_dynamo::DynamoStore;
/// use eventsourcing_runtime::Application;
///
/// let recorders = DynamoStore::new(client, "dogs").create_table(true).open().await?;
/// let app = Application::builder("TrainingSchool").recorders(recorders).build().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
    create_table: bool,
    notification_log: bool,
    timeout: std::time::Duration,
}

impl DynamoStore {
    /// The table `table` through `client` (not created when missing; notification log on).
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            create_table: false,
            notification_log: true,
            timeout: std::time::Duration::from_secs(30),
        }
    }

    /// Creates the table when it is missing (as `CREATE_TABLE=true`).
    pub fn create_table(mut self, create: bool) -> Self {
        self.create_table = create;
        self
    }

    /// Keeps the notification log (as `DYNAMO_NOTIFICATION_LOG`; default on).
    pub fn notification_log(mut self, on: bool) -> Self {
        self.notification_log = on;
        self
    }

    /// How long checking (or creating) the table may take at most (default 30 seconds).
    pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Checks the table (creating it if asked to) and returns the recorders.
    pub async fn open(self) -> Result<Recorders, ConfigError> {
        table::ensure(&self.client, &self.table, self.create_table, self.timeout)
            .await
            .map_err(|source| ConfigError::Store { module: MODULE_NAME, source })?;
        let recorder =
            Arc::new(DynamoRecorder::with_client(self.client, self.table, self.notification_log));
        Ok(Recorders { snapshots: Arc::new(recorder.snapshots()), events: recorder })
    }
}
