//! `examples/prometheus.rs`, run as a user would: the metric names appear with values.

#[path = "../../tests/support/mod.rs"]
mod support;

use support::*;

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
