//! The examples, run as a user runs them: in memory with no configuration, and on DynamoDB
//! with the seed's environment variables.

mod support;

use std::path::PathBuf;
use std::process::{Command, Output};
use support::*;

/// An example binary; `cargo test` builds the examples before running tests.
fn example(name: &str) -> Command {
    let mut path: PathBuf = std::env::current_exe().expect("test binary path");
    path.pop();
    if path.ends_with("deps") {
        path.pop();
    }
    let binary = path.join("examples").join(name);
    assert!(binary.exists(), "{} is not built", binary.display());
    let mut command = Command::new(binary);
    for variable in [
        "PERSISTENCE_MODULE",
        "DYNAMO_ENDPOINT_URL",
        "DYNAMO_TABLE",
        "CREATE_TABLE",
        "TRAININGSCHOOL_PERSISTENCE_MODULE",
    ] {
        command.env_remove(variable);
    }
    command
}

fn check(output: Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "example failed ({}): {stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

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

fn bench_line(stdout: &str, commands: usize) {
    let last = stdout.lines().last().unwrap_or_default();
    let (count, seconds) = last
        .strip_prefix("commands=")
        .and_then(|rest| rest.split_once(" seconds="))
        .unwrap_or_else(|| panic!("unexpected last line {last:?}"));
    assert_eq!(count.parse::<usize>().unwrap(), commands);
    assert!(seconds.parse::<f64>().unwrap() >= 0.0);
}

#[test]
fn bench_runs_in_memory_and_on_dynamodb() {
    let output =
        example("training_school_bench").args(["--dogs", "5", "--tricks", "3"]).output().unwrap();
    bench_line(&check(output), 25);
    let Some(endpoint) = dynamo_endpoint() else { return };
    let output = example("training_school_bench")
        .args(["--dogs", "3", "--tricks", "2"])
        .env("PERSISTENCE_MODULE", "eventsourcing_dynamodb")
        .env("DYNAMO_ENDPOINT_URL", &endpoint)
        .env("DYNAMO_TABLE", unique_table("bench"))
        .env("CREATE_TABLE", "true")
        .output()
        .unwrap();
    bench_line(&check(output), 12);
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
