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
    Ok(Arc::new(recorder).recorders())
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

/// The recorders on a table through your own AWS configuration, for
/// [`ApplicationBuilder::recorders`](eventsourcing_runtime::ApplicationBuilder::recorders),
/// when the environment should not configure the clients:
///
/// ```no_run
/// # async fn demo() -> eventsourcing_runtime::Result<()> {
/// use eventsourcing_dynamo::DynamoStore;
/// use eventsourcing_runtime::Application;
///
/// let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
/// let recorders = DynamoStore::from_sdk_config(&sdk, "dogs").create_table(true).open().await?;
/// let app = Application::builder("TrainingSchool").recorders(recorders).build().await?;
/// # Ok(())
/// # }
/// ```
///
/// From an [`SdkConfig`](aws_config::SdkConfig) the store builds its DynamoDB and DynamoDB
/// Streams clients (with its request counter added), so every notification log is open to
/// it, the sequenced one by default. From one `aws_sdk_dynamodb::Client`
/// ([`DynamoStore::new`]) it cannot read the table's stream: the log is transactional.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    clients: Clients,
    table: String,
    create_table: bool,
    log: NotificationLog,
    timeout: std::time::Duration,
}

#[derive(Debug, Clone)]
enum Clients {
    /// One DynamoDB client, used as it is.
    Given(aws_sdk_dynamodb::Client),
    /// The configuration to build clients from.
    Built(Box<aws_config::SdkConfig>),
}

impl DynamoStore {
    /// The table `table` through `client` (not created when missing; the transactional
    /// notification log, since a DynamoDB client cannot read the table's stream).
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoStore {
            clients: Clients::Given(client),
            table: table.into(),
            create_table: false,
            log: NotificationLog::Transactional,
            timeout: std::time::Duration::from_secs(30),
        }
    }

    /// The table `table` through clients built from `sdk` (not created when missing; the
    /// sequenced notification log, with a sequencer task in this process).
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        DynamoStore {
            clients: Clients::Built(Box::new(sdk.clone())),
            table: table.into(),
            create_table: false,
            log: NotificationLog::Sequenced,
            timeout: std::time::Duration::from_secs(30),
        }
    }

    /// Creates the table when it is missing (as `CREATE_TABLE=true`).
    pub fn create_table(mut self, create: bool) -> Self {
        self.create_table = create;
        self
    }

    /// Keeps a notification log (`true`, the default: the sequenced log from an
    /// `SdkConfig`, the transactional one from a client) or none (`false`, as
    /// `DYNAMO_NOTIFICATION_LOG=false`).
    pub fn notification_log(self, on: bool) -> Self {
        let log = match (on, &self.clients) {
            (false, _) => NotificationLog::Off,
            (true, Clients::Given(_)) => NotificationLog::Transactional,
            (true, Clients::Built(_)) => NotificationLog::Sequenced,
        };
        self.log(log)
    }

    /// Keeps this notification log (as `DYNAMO_NOTIFICATION_LOG`). The sequenced log needs
    /// the store to be made [from an `SdkConfig`](DynamoStore::from_sdk_config): `open`
    /// says so otherwise.
    pub fn log(mut self, log: NotificationLog) -> Self {
        self.log = log;
        self
    }

    /// How long one DynamoDB call (and checking or creating the table) may take at most
    /// (default 30 seconds).
    pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Checks the table (creating it if asked to) and returns the recorders; with the
    /// sequenced log, also starts this process's sequencer task.
    pub async fn open(self) -> Result<Recorders, ConfigError> {
        let store = |source| ConfigError::Store { module: MODULE_NAME, source };
        let recorder = match self.clients {
            Clients::Built(sdk) => {
                let mut config = DynamoConfig::new(self.table);
                config.create_table = self.create_table;
                config.notification_log = self.log;
                config.operation_timeout = self.timeout;
                config.sdk = Some(*sdk);
                DynamoRecorder::connect(config).await.map_err(store)?
            }
            Clients::Given(client) => {
                let log = match self.log {
                    NotificationLog::Off => false,
                    NotificationLog::Transactional => true,
                    NotificationLog::Sequenced => {
                        return Err(store(PersistenceError::Programming(format!(
                            "the sequenced log of table {} reads the table's stream, which a \
                             DynamoDB client cannot: make the store with \
                             DynamoStore::from_sdk_config, or choose NotificationLog::Transactional",
                            self.table
                        ))))
                    }
                };
                table::ensure(&client, &self.table, self.create_table, self.timeout)
                    .await
                    .map_err(store)?;
                DynamoRecorder::with_claim_timeout(client, self.table, log, self.timeout)
            }
        };
        Ok(Arc::new(recorder).recorders())
    }
}
