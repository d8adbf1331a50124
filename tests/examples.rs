//! The examples, run as a user runs them: in memory with no configuration, and on DynamoDB
//! with the seed's environment variables.

mod support;

use std::process::Command;
use support::*;

#[test]
fn training_school_runs_in_memory_without_configuration() {
    let stdout = check(example("training_school").output().unwrap());
    assert_eq!(stdout.trim(), r#"["roll over", "play dead"]"#);
}

#[test]
fn training_school_runs_on_dynamodb_with_the_seeds_variables() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let output = example("training_school")
        .env("PERSISTENCE_MODULE", "eventsourcing_dynamodb")
        .env("DYNAMO_ENDPOINT_URL", &endpoint)
        .env("DYNAMO_TABLE", unique_table("dynamo_events"))
        .env("CREATE_TABLE", "true")
        .output()
        .unwrap();
    assert_eq!(check(output).trim(), r#"["roll over", "play dead"]"#);
}

#[test]
fn training_school_reports_an_unknown_persistence_module() {
    let output = example("training_school").env("PERSISTENCE_MODULE", "postgres").output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("postgres")
            && stderr.contains("eventsourcing_dynamodb")
            && stderr.contains("popo"),
        "{stderr}"
    );
}

const COUNTS: &str = "roll over: 3\nplay dead: 1\nsit: 2";

#[test]
fn system_example_runs_in_memory() {
    let stdout = check(example("training_school_system").output().unwrap());
    assert_eq!(stdout.trim(), COUNTS);
}

#[test]
fn system_example_runs_on_dynamodb() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let output = example("training_school_system")
        .env("PERSISTENCE_MODULE", "eventsourcing_dynamodb")
        .env("DYNAMO_ENDPOINT_URL", &endpoint)
        .env("DYNAMO_TABLE", unique_table("system"))
        .env("CREATE_TABLE", "true")
        .output()
        .unwrap();
    assert_eq!(check(output).trim(), COUNTS);
}

#[test]
fn generate_cipher_key_prints_a_usable_key() {
    let stdout = check(example("generate_cipher_key").output().unwrap());
    let key = stdout.trim().lines().last().unwrap_or_default();
    let output = example("training_school")
        .env("CIPHER_TOPIC", "eventsourcing.cipher:AESCipher")
        .env("CIPHER_KEY", key)
        .env("COMPRESSOR_TOPIC", "eventsourcing.compressor:ZlibCompressor")
        .output()
        .unwrap();
    assert_eq!(check(output).trim(), r#"["roll over", "play dead"]"#);
}

/// The capacity units `scripts/bench.sh` reports are computed by `scripts/capacity_meter.py`;
/// its sizing rules hold on cases worked out by hand.
#[test]
fn capacity_meter_sizing_rules_hold() {
    let Some(python) = python("capacity_meter_sizing_rules_hold") else { return };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/capacity_meter.py");
    let output = Command::new(python).arg(script).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

/// The value of each sample in Prometheus's text format whose name is `name` (with any
/// labels), as printed by `examples/prometheus.rs`.
fn prometheus_samples(text: &str, name: &str) -> Vec<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse().ok())
        .collect()
}

fn assert_metrics_shown(text: &str, names: &[&str]) {
    for name in names {
        let samples = prometheus_samples(text, name);
        assert!(samples.iter().any(|value| *value > 0.0), "{name} is not above 0 in:\n{text}");
    }
}

/// What the runtime records on any store.
const RUNTIME_METRICS: &[&str] = &[
    "eventsourcing_dynamodb_saves_total",
    "eventsourcing_dynamodb_events_saved_total",
    "eventsourcing_dynamodb_conflicts_total",
    "eventsourcing_dynamodb_notifications_processed_total",
    "eventsourcing_dynamodb_follower_position",
];

#[test]
fn prometheus_example_shows_the_metrics_in_memory() {
    let text = check(example("prometheus").output().unwrap());
    assert_metrics_shown(&text, RUNTIME_METRICS);
}

#[test]
fn prometheus_example_shows_the_metrics_on_dynamodb() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let output = example("prometheus")
        .env("PERSISTENCE_MODULE", "eventsourcing_dynamodb")
        .env("DYNAMO_ENDPOINT_URL", &endpoint)
        .env("DYNAMO_TABLE", unique_table("prometheus"))
        .env("CREATE_TABLE", "true")
        .output()
        .unwrap();
    let text = check(output);
    assert_metrics_shown(&text, RUNTIME_METRICS);
    // The default log is sequenced: its sequencer reports pages, position, lag and lease.
    assert_metrics_shown(
        &text,
        &[
            "eventsourcing_dynamodb_requests_total",
            "eventsourcing_dynamodb_log_position",
            "eventsourcing_dynamodb_log_pages_total",
            "eventsourcing_dynamodb_log_lag_seconds_count",
            "eventsourcing_dynamodb_lease_acquired_total",
        ],
    );
    let requests = text.lines().filter(|l| l.starts_with("eventsourcing_dynamodb_requests_total{"));
    let operations: Vec<&str> = requests.collect();
    assert!(
        ["PutItem", "TransactWriteItems", "Query", "GetRecords"]
            .iter()
            .all(|op| operations.iter().any(|line| line.contains(&format!("operation=\"{op}\"")))),
        "requests by operation: {operations:?}"
    );
}
