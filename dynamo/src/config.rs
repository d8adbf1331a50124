use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::config::{Credentials, Region};
use eventsourcing_runtime::environment::{ConfigError, Environment};
use std::time::Duration;

/// Which notification log the recorder keeps (`DYNAMO_NOTIFICATION_LOG`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationLog {
    /// No log (`false`): saves write event items only.
    Off,
    /// `transactional`: each save writes its events' log items in its own transaction, and
    /// `save` returns the ids in commit order. Serialized per process and contended across
    /// processes; for one writer process.
    Transactional,
    /// `sequenced` (or `true`, the default): saves write event items only; a sequencer reads
    /// the table's stream and appends the events to the log in pages. `save` returns no ids
    /// (they are given later; `sync_log` waits for them).
    Sequenced,
}

/// How to reach the table, read from the environment.
#[derive(Debug, Clone)]
pub struct DynamoConfig {
    /// `DYNAMO_TABLE`.
    pub table: String,
    /// `DYNAMO_ENDPOINT_URL`: a local server, or unset for AWS (then `AWS_ENDPOINT_URL_DYNAMODB`,
    /// region and credentials come from the standard AWS configuration chain).
    pub endpoint_url: Option<String>,
    /// `CREATE_TABLE`: create the table when it is missing (default: no).
    pub create_table: bool,
    /// `DYNAMO_NOTIFICATION_LOG`: which notification log to keep (default: sequenced).
    pub notification_log: NotificationLog,
    /// `DYNAMO_TIMEOUT_SECONDS`: the most one call may take, retries included (default 30).
    pub operation_timeout: Duration,
    /// `DYNAMO_SEQUENCER_LEASE_SECONDS`: how long the sequenced log's lease lasts unless
    /// renewed, so how soon another process's sequencer takes over after a crash (default
    /// 10; fractions allowed).
    pub sequencer_lease: Duration,
    /// `DYNAMO_SEQUENCER_BATCH_MILLIS`: how long the sequencer lets consumed events wait so
    /// that pages are fuller (default 200; 0 writes each read's events at once). Each page
    /// write is a transaction whatever it holds: shorter waits mean a log that shows a commit
    /// sooner and more write units per save.
    pub sequencer_batch: Duration,
    /// `DYNAMO_SEQUENCER_LINGER_MILLIS`: how long the sequencer waits after a stream read that
    /// found records before it reads again (default 150; 0 reads again at once), so that
    /// reads return more records each.
    pub sequencer_linger: Duration,
    /// `DYNAMO_SEQUENCER`: whether this process runs a sequencer task for the sequenced log
    /// (default: yes; set it to false where the sequencer runs elsewhere, e.g. the
    /// `es-sequencer` binary).
    pub run_sequencer: bool,
    /// The AWS configuration to build the clients from, as it is (its region, credentials,
    /// endpoint, retries and timeouts); `None` (the default) loads the standard AWS chain
    /// with this configuration's endpoint and timeouts.
    pub sdk: Option<aws_config::SdkConfig>,
}

impl DynamoConfig {
    /// The configuration of `table` with every other setting at its default (the AWS
    /// endpoint, no table creation, the sequenced log, 30 s timeout); set the fields to
    /// change them.
    pub fn new(table: impl Into<String>) -> Self {
        DynamoConfig {
            table: table.into(),
            endpoint_url: None,
            create_table: false,
            notification_log: NotificationLog::Sequenced,
            operation_timeout: Duration::from_secs(30),
            sequencer_lease: Duration::from_secs(10),
            sequencer_batch: Duration::from_millis(200),
            sequencer_linger: Duration::from_millis(150),
            run_sequencer: true,
            sdk: None,
        }
    }

    /// Reads the configuration; the error names the variable that is missing or invalid.
    pub fn from_env(env: &Environment) -> Result<Self, ConfigError> {
        let table = env
            .require(
                "DYNAMO_TABLE",
                "set it to the name of the DynamoDB table that holds the events",
            )?
            .value;
        if table.trim().is_empty() {
            return Err(ConfigError::Invalid {
                variable: "DYNAMO_TABLE".to_owned(),
                value: table,
                expected: "a table name".to_owned(),
            });
        }
        let endpoint_url = match env.setting("DYNAMO_ENDPOINT_URL") {
            Some(setting) if !setting.value.trim().is_empty() => {
                let url = setting.value.trim();
                if !has_scheme(url) {
                    return Err(ConfigError::Invalid {
                        expected: format!(
                            "a URL with its scheme, e.g. http://{url} (or https:// for TLS)"
                        ),
                        variable: setting.variable,
                        value: setting.value,
                    });
                }
                Some(url.to_owned())
            }
            _ => None,
        };
        let operation_timeout = match env.get_i64("DYNAMO_TIMEOUT_SECONDS")? {
            Some(seconds) if seconds > 0 => Duration::from_secs(seconds as u64),
            Some(seconds) => {
                return Err(ConfigError::Invalid {
                    variable: "DYNAMO_TIMEOUT_SECONDS".to_owned(),
                    value: seconds.to_string(),
                    expected: "a positive number of seconds".to_owned(),
                })
            }
            None => Duration::from_secs(30),
        };
        Ok(DynamoConfig {
            table,
            endpoint_url,
            create_table: env.get_bool("CREATE_TABLE")?.unwrap_or(false),
            notification_log: notification_log(env)?,
            operation_timeout,
            sequencer_lease: sequencer_lease(env)?,
            sequencer_batch: millis(env, "DYNAMO_SEQUENCER_BATCH_MILLIS", 200)?,
            sequencer_linger: millis(env, "DYNAMO_SEQUENCER_LINGER_MILLIS", 150)?,
            run_sequencer: env.get_bool("DYNAMO_SEQUENCER")?.unwrap_or(true),
            sdk: None,
        })
    }

    /// A DynamoDB client for this configuration, counting its requests in `counter`.
    pub async fn client(
        &self,
        counter: &crate::metrics::RequestCounter,
    ) -> aws_sdk_dynamodb::Client {
        let shared = self.sdk_config().await;
        let config =
            aws_sdk_dynamodb::config::Builder::from(&shared).interceptor(counter.clone()).build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    /// A DynamoDB Streams client for this configuration, counting its requests in `counter`.
    pub async fn streams_client(
        &self,
        counter: &crate::metrics::RequestCounter,
    ) -> aws_sdk_dynamodbstreams::Client {
        let shared = self.sdk_config().await;
        let config = aws_sdk_dynamodbstreams::config::Builder::from(&shared)
            .interceptor(counter.clone())
            .build();
        aws_sdk_dynamodbstreams::Client::from_conf(config)
    }

    async fn sdk_config(&self) -> aws_config::SdkConfig {
        if let Some(sdk) = &self.sdk {
            return sdk.clone();
        }
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(3))
            .operation_attempt_timeout(self.operation_timeout.min(Duration::from_secs(10)))
            .operation_timeout(self.operation_timeout)
            .build();
        // The SDK's standard retry backs off from 1 s, so each throttle or lost connection
        // cost half a second; DynamoDB's requests take milliseconds, and the recorder retries
        // on (with its own backoff) within DYNAMO_TIMEOUT_SECONDS anyway.
        let retries = aws_config::retry::RetryConfig::standard()
            .with_initial_backoff(Duration::from_millis(25))
            .with_max_backoff(Duration::from_secs(2));
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(timeouts)
            .retry_config(retries);
        if let Some(url) = &self.endpoint_url {
            loader = loader.endpoint_url(url);
            if is_loopback(url) {
                // A local server (moto, DynamoDB Local) accepts any credentials and region.
                // Supplying them keeps the SDK from probing the EC2 metadata service.
                if !has_any(&["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"]) {
                    loader = loader.region(Region::new("us-east-1"));
                }
                if !has_any(&["AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE"]) {
                    loader = loader.credentials_provider(Credentials::new(
                        "local",
                        "local",
                        None,
                        None,
                        "local-endpoint",
                    ));
                }
            }
        }
        loader.load().await
    }
}

fn sequencer_lease(env: &Environment) -> Result<Duration, ConfigError> {
    let variable = "DYNAMO_SEQUENCER_LEASE_SECONDS";
    let Some(text) = env.get(variable) else { return Ok(Duration::from_secs(10)) };
    match text.trim().parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && (0.1..=3600.0).contains(&seconds) => {
            Ok(Duration::from_secs_f64(seconds))
        }
        _ => Err(ConfigError::Invalid {
            variable: variable.to_owned(),
            value: text,
            expected: "a number of seconds from 0.1 to 3600".to_owned(),
        }),
    }
}

/// A wait of the sequencer, in whole milliseconds from 0 to 10 s.
fn millis(env: &Environment, variable: &str, default: u64) -> Result<Duration, ConfigError> {
    let Some(text) = env.get(variable) else { return Ok(Duration::from_millis(default)) };
    match text.trim().parse::<u64>() {
        Ok(millis) if millis <= 10_000 => Ok(Duration::from_millis(millis)),
        _ => Err(ConfigError::Invalid {
            variable: variable.to_owned(),
            value: text,
            expected: "a whole number of milliseconds from 0 to 10000".to_owned(),
        }),
    }
}

fn notification_log(env: &Environment) -> Result<NotificationLog, ConfigError> {
    let variable = "DYNAMO_NOTIFICATION_LOG";
    match env.get(variable).map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        Some("sequenced") => Ok(NotificationLog::Sequenced),
        Some("transactional") => Ok(NotificationLog::Transactional),
        _ => match env.get_bool(variable)? {
            Some(false) => Ok(NotificationLog::Off),
            Some(true) | None => Ok(NotificationLog::Sequenced),
        },
    }
}

fn has_any(variables: &[&str]) -> bool {
    variables.iter().any(|v| std::env::var_os(v).is_some())
}

/// Whether a URL starts with `http://` or `https://` (the SDK needs one).
fn has_scheme(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// Whether an endpoint URL points at this machine.
fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_loopback_endpoints() {
        assert!(is_loopback("http://localhost:8000"));
        assert!(is_loopback("http://127.0.0.1:5000/"));
        assert!(is_loopback("http://[::1]:8000"));
        assert!(!is_loopback("https://dynamodb.eu-west-1.amazonaws.com"));
        assert!(!is_loopback("http://10.0.0.5:8000"));
    }

    #[test]
    fn an_endpoint_without_scheme_names_the_variable_and_the_fix() {
        let values = [("DYNAMO_TABLE", "t"), ("APP_DYNAMO_ENDPOINT_URL", "localhost:8000")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let error =
            DynamoConfig::from_env(&Environment::isolated("App", values)).unwrap_err().to_string();
        assert!(error.contains("APP_DYNAMO_ENDPOINT_URL"), "{error}");
        assert!(error.contains("http://localhost:8000"), "{error}");
        assert!(has_scheme("HTTPS://x") && has_scheme("http://x") && !has_scheme("x:80"));
    }

    #[test]
    fn table_is_required() {
        let env = Environment::isolated("App", Default::default());
        let error = DynamoConfig::from_env(&env).unwrap_err().to_string();
        assert!(error.contains("DYNAMO_TABLE"), "{error}");
    }

    #[test]
    fn reads_prefixed_settings() {
        let values = [("APP_DYNAMO_TABLE", "a"), ("DYNAMO_TABLE", "b"), ("CREATE_TABLE", "yes")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let config = DynamoConfig::from_env(&Environment::isolated("App", values)).unwrap();
        assert_eq!(config.table, "a");
        assert!(config.create_table);
        assert_eq!(config.notification_log, NotificationLog::Sequenced);
    }

    #[test]
    fn reads_the_sequencers_waits_and_names_a_bad_one() {
        let env = |pairs: &[(&str, &str)]| {
            let values = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
            Environment::isolated("App", values)
        };
        let defaults = DynamoConfig::from_env(&env(&[("DYNAMO_TABLE", "t")])).unwrap();
        assert_eq!(defaults.sequencer_batch, Duration::from_millis(200));
        assert_eq!(defaults.sequencer_linger, Duration::from_millis(150));
        let set = env(&[
            ("DYNAMO_TABLE", "t"),
            ("DYNAMO_SEQUENCER_BATCH_MILLIS", "0"),
            ("DYNAMO_SEQUENCER_LINGER_MILLIS", " 20 "),
        ]);
        let config = DynamoConfig::from_env(&set).unwrap();
        assert_eq!(config.sequencer_batch, Duration::ZERO);
        assert_eq!(config.sequencer_linger, Duration::from_millis(20));
        for bad in ["-1", "0.5", "10001", "soon"] {
            let wrong = env(&[("DYNAMO_TABLE", "t"), ("DYNAMO_SEQUENCER_BATCH_MILLIS", bad)]);
            let error = DynamoConfig::from_env(&wrong).unwrap_err().to_string();
            assert!(error.contains("DYNAMO_SEQUENCER_BATCH_MILLIS"), "{error}");
            assert!(error.contains(bad), "{error}");
        }
    }
}
