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
