//! Shared test helpers: stores to run against, and events to store.
#![allow(dead_code)]

use eventsourcing_dynamodb::dynamodb::{DynamoConfig, DynamoRecorder};
use eventsourcing_dynamodb::persistence::memory::InMemoryRecorder;
use eventsourcing_dynamodb::persistence::StoredEvent;
use eventsourcing_dynamodb::Uuid;
use std::collections::HashMap;
use std::process::{Command, Output};

/// The local DynamoDB endpoint started by scripts/test.sh. `None` (with a loud message) when
/// it is not running, unless the run requires DynamoDB (CI, or scripts/test.sh), where that
/// is a failure.
pub fn dynamo_endpoint() -> Option<String> {
    match std::env::var("DYNAMO_TEST_ENDPOINT") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            let required = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
                || std::env::var("REQUIRE_DYNAMODB").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "DYNAMO_TEST_ENDPOINT is not set: run the tests with scripts/test.sh, which starts moto"
            );
            eprintln!("SKIPPED: DynamoDB test needs DYNAMO_TEST_ENDPOINT (run scripts/test.sh)");
            None
        }
    }
}

/// A table name no other test uses.
pub fn unique_table(prefix: &str) -> String {
    format!("{prefix}-{}", Uuid::new_v4().simple())
}

/// Environment values for an application on a fresh DynamoDB table, with the
/// transactional notification log (the tests of the sequenced log, the default, say so).
pub fn dynamo_env(endpoint: &str, table: &str) -> HashMap<String, String> {
    HashMap::from([
        ("PERSISTENCE_MODULE".to_owned(), "eventsourcing_dynamodb".to_owned()),
        ("DYNAMO_ENDPOINT_URL".to_owned(), endpoint.to_owned()),
        ("DYNAMO_TABLE".to_owned(), table.to_owned()),
        ("CREATE_TABLE".to_owned(), "true".to_owned()),
        ("DYNAMO_NOTIFICATION_LOG".to_owned(), "transactional".to_owned()),
    ])
}

/// A recorder on a new table of the local server.
pub async fn dynamo_recorder(endpoint: &str, log: bool) -> DynamoRecorder {
    let table = unique_table("contract");
    dynamo_recorder_on(endpoint, &table, log).await
}

/// A recorder (with its own client and caches, like another process) on `table`.
pub async fn dynamo_recorder_on(endpoint: &str, table: &str, log: bool) -> DynamoRecorder {
    let config = DynamoConfig {
        endpoint_url: Some(endpoint.to_owned()),
        create_table: true,
        notification_log: match log {
            true => eventsourcing_dynamodb::dynamodb::NotificationLog::Transactional,
            false => eventsourcing_dynamodb::dynamodb::NotificationLog::Off,
        },
        ..DynamoConfig::new(table)
    };
    DynamoRecorder::connect(config).await.expect("connect to local DynamoDB")
}

/// An in-memory recorder.
pub fn memory_recorder() -> InMemoryRecorder {
    InMemoryRecorder::new()
}

/// A stored event with a small JSON state.
pub fn stored(id: Uuid, version: u64, topic: &str) -> StoredEvent {
    StoredEvent {
        originator_id: id,
        originator_version: version,
        topic: topic.to_owned(),
        state: format!("{{\"version\":{version}}}").into_bytes(),
    }
}

/// A stored event with a state of `size` bytes.
pub fn stored_sized(id: Uuid, version: u64, size: usize) -> StoredEvent {
    StoredEvent {
        originator_id: id,
        originator_version: version,
        topic: "test:Big.Event".to_owned(),
        state: vec![b'x'; size],
    }
}

/// The Python to run: `$PYTHON`, else the repository's `.venv/bin/python`. `None` (saying
/// SKIPPED loudly, naming `test`) when there is none, unless the run requires it (CI,
/// scripts/test.sh), where that is a failure.
pub fn python(test: &str) -> Option<String> {
    let python = std::env::var("PYTHON")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python").to_owned());
    match std::process::Command::new(&python).arg("--version").output() {
        Ok(output) if output.status.success() => Some(python),
        _ => {
            let required = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
                || std::env::var("REQUIRE_DYNAMODB").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "no Python at {python}: run scripts/test.sh, which installs the Python packages"
            );
            eprintln!(
                "SKIPPED: {test} needs the project's Python at {python} ($PYTHON; run scripts/test.sh)"
            );
            None
        }
    }
}

/// A client of the local server, outside any application.
pub async fn client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&sdk_config(endpoint).await)
}

/// An AWS configuration for the local server, as a program would load its own.
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "t", "t", None, None, "test",
        ))
        .load()
        .await
}

/// Creates a table by hand exactly as the Python package's README asks.
pub async fn create_python_table(client: &aws_sdk_dynamodb::Client, table: &str) {
    client
        .create_table()
        .table_name(table)
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .key_schema(
            aws_sdk_dynamodb::types::KeySchemaElement::builder()
                .attribute_name("originator_id")
                .key_type(aws_sdk_dynamodb::types::KeyType::Hash)
                .build()
                .unwrap(),
        )
        .key_schema(
            aws_sdk_dynamodb::types::KeySchemaElement::builder()
                .attribute_name("originator_version")
                .key_type(aws_sdk_dynamodb::types::KeyType::Range)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            aws_sdk_dynamodb::types::AttributeDefinition::builder()
                .attribute_name("originator_id")
                .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            aws_sdk_dynamodb::types::AttributeDefinition::builder()
                .attribute_name("originator_version")
                .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::N)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("create table");
}

/// An example binary of this workspace, with the store configuration of the environment
/// removed; `cargo test` builds a package's examples before running its tests.
pub fn example(name: &str) -> Command {
    let mut path: std::path::PathBuf = std::env::current_exe().expect("test binary path");
    path.pop();
    if path.ends_with("deps") {
        path.pop();
    }
    let binary = path.join("examples").join(name);
    // `cargo test` builds a package's examples only when no target is named.
    assert!(
        binary.exists(),
        "{} is not built: run `cargo test` without `--test`, or `cargo build --examples` first",
        binary.display()
    );
    let mut command = Command::new(binary);
    for variable in [
        "PERSISTENCE_MODULE",
        "DYNAMO_ENDPOINT_URL",
        "DYNAMO_TABLE",
        "CREATE_TABLE",
        "TRAININGSCHOOL_PERSISTENCE_MODULE",
        "VIEW_STORE",
        "VIEW_TABLE",
        "POSTGRES_URL",
    ] {
        command.env_remove(variable);
    }
    command
}

/// The example's standard output; fails the test, showing both streams, if it failed.
pub fn check(output: Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "example failed ({}): {stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}
