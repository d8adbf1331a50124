//! The `es-inspect` binary itself, against the local DynamoDB server in
//! `DYNAMO_TEST_ENDPOINT` (skipped loudly without one, failing when `CI` or
//! `REQUIRE_DYNAMODB=1` says the server must be there).

use eventsourcing_dynamo::{DynamoConfig, DynamoRecorder, NotificationLog};
use eventsourcing_runtime::persistence::{AggregateRecorder, StoredEvent};
use std::process::{Command, Output};
use uuid::Uuid;

fn dynamo_endpoint() -> Option<String> {
    match std::env::var("DYNAMO_TEST_ENDPOINT") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            let required = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
                || std::env::var("REQUIRE_DYNAMODB").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "DYNAMO_TEST_ENDPOINT is not set: run the tests with scripts/test.sh"
            );
            eprintln!("SKIPPED: es-inspect test needs DYNAMO_TEST_ENDPOINT (run scripts/test.sh)");
            None
        }
    }
}

fn es_inspect(endpoint: &str, table: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_es-inspect"))
        .args(["--endpoint-url", endpoint, "--table", table])
        .args(args)
        .env_remove("DYNAMO_TABLE")
        .output()
        .expect("run es-inspect")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn verify_history_log_and_writer_from_the_command_line() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let table = format!("es-inspect-cli-{}", Uuid::new_v4().simple());
    let recorder = DynamoRecorder::connect(DynamoConfig {
        endpoint_url: Some(endpoint.clone()),
        create_table: true,
        notification_log: NotificationLog::Transactional,
        ..DynamoConfig::new(table.clone())
    })
    .await
    .expect("table on the local server");
    let id = Uuid::new_v4();
    let events = (1..=3)
        .map(|version| StoredEvent {
            originator_id: id,
            originator_version: version,
            topic: format!("cli:Thing.Changed{version}"),
            state: format!("{{\"n\":{version}}}").into_bytes(),
        })
        .collect();
    recorder.insert_events(events).await.expect("insert");

    let clean = es_inspect(&endpoint, &table, &["verify", "--segments", "2"]);
    assert_eq!(clean.status.code(), Some(0), "{clean:?}");
    assert!(stdout(&clean).contains("ok: every event is in the log once"), "{}", stdout(&clean));

    let history = es_inspect(&endpoint, &table, &["history", &id.to_string(), "--from", "2"]);
    assert_eq!(history.status.code(), Some(0), "{history:?}");
    let lines: Vec<serde_json::Value> =
        stdout(&history).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["version"], 2);
    assert_eq!(lines[1]["state"], serde_json::json!({"n": 3}));

    let all = es_inspect(&endpoint, &table, &["log", "--page-size", "1"]);
    assert_eq!(stdout(&all).lines().count(), 3, "{}", stdout(&all));
    let log = es_inspect(&endpoint, &table, &["log", "--from", "3"]);
    let line: serde_json::Value = serde_json::from_str(stdout(&log).trim()).expect("one JSON line");
    assert_eq!((line["id"].as_u64(), line["version"].as_u64()), (Some(3), Some(3)));

    let writer = es_inspect(&endpoint, &table, &["writer"]);
    let state: serde_json::Value = serde_json::from_str(stdout(&writer).trim()).expect("JSON");
    assert_eq!((state["last_id"].as_u64(), state["log_items"].as_u64()), (Some(3), Some(3)));

    // Delete log item 2: verify exits 1 and names the gap.
    recorder
        .client()
        .delete_item()
        .table_name(&table)
        .key("originator_id", aws_sdk_dynamodb::types::AttributeValue::S("#notifications".into()))
        .key("originator_version", aws_sdk_dynamodb::types::AttributeValue::N("2".into()))
        .send()
        .await
        .expect("delete");
    let broken = es_inspect(&endpoint, &table, &["verify", "--json"]);
    assert_eq!(broken.status.code(), Some(1), "{broken:?}");
    let report: serde_json::Value = serde_json::from_str(stdout(&broken).trim()).expect("JSON");
    assert_eq!(report["problem_counts"]["gap"], 1);
    assert_eq!(report["problems"][0], serde_json::json!({"problem": "gap", "from": 2, "to": 2}));

    // Errors exit 2 and say what failed.
    let missing = es_inspect(&endpoint, "es-inspect-no-such-table", &["writer"]);
    assert_eq!(missing.status.code(), Some(2), "{missing:?}");
    let message = String::from_utf8_lossy(&missing.stderr);
    assert!(message.contains("es-inspect-no-such-table"), "{message}");
}
