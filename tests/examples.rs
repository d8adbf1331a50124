//! The examples, run as a user runs them: in memory with no configuration, and on DynamoDB
//! with the seed's environment variables.

mod support;

use std::collections::HashMap;
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
        "VIEW_STORE",
        "VIEW_TABLE",
        "POSTGRES_URL",
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
    let output = example("training_school_bench_malloc")
        .args(["--dogs", "4", "--tricks", "2"])
        .output()
        .unwrap();
    bench_line(&check(output), 16);
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

/// `name key=value ...` lines of the scale benchmark, by name.
fn scale_figures(stdout: &str) -> HashMap<String, HashMap<String, String>> {
    stdout
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let name = words.next()?.to_owned();
            let values = words
                .filter_map(|w| w.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            Some((name, values))
        })
        .collect()
}

#[test]
fn scale_bench_runs_in_memory_and_on_dynamodb() {
    let args = ["--events", "120", "--loads", "1", "--section", "50"];
    let output = example("scale_bench").args(args).output().unwrap();
    let figures = scale_figures(&check(output));
    for name in ["write", "load_replay", "load_snapshot", "log_read"] {
        assert!(figures.contains_key(name), "no {name} line in {figures:?}");
    }
    assert_eq!(figures["log_read"]["notifications"], "120");

    let Some(endpoint) = dynamo_endpoint() else { return };
    let on_dynamodb = |log: &str| {
        let output = example("scale_bench")
            .args(args)
            .env("PERSISTENCE_MODULE", "eventsourcing_dynamodb")
            .env("DYNAMO_ENDPOINT_URL", &endpoint)
            .env("DYNAMO_TABLE", unique_table("scale"))
            .env("CREATE_TABLE", "true")
            .env("DYNAMO_NOTIFICATION_LOG", log)
            .output()
            .unwrap();
        scale_figures(&check(output))
    };
    // The sequenced log (the default): three transactions of event items only; the log's
    // one page read whole for each section, and past its end once more.
    let figures = on_dynamodb("sequenced");
    assert_eq!(figures["write"]["requests_per_run"], "3.0");
    assert_eq!(figures["load_snapshot"]["requests_per_run"], "2.0");
    assert_eq!(figures["log_read"]["requests_per_run"], "6.0");
    assert_eq!(figures["log_read"]["notifications"], "120");

    let figures = on_dynamodb("transactional");
    // 120 events, 50 per save: three transactions, after one query for the log's position.
    assert_eq!(figures["write"]["requests_per_run"], "4.0");
    // The snapshot, then the ten events after it.
    assert_eq!(figures["load_snapshot"]["requests_per_run"], "2.0");
    // Three sections of up to 50 and the empty read that ends the log.
    assert_eq!(figures["log_read"]["requests_per_run"], "4.0");
    assert_eq!(figures["log_read"]["notifications"], "120");
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

/// What `training_school_views` prints once its runner has caught up, on any view store.
const SCHOOL_VIEWS: &str = r#"Fido: ["roll over","play dead"]
Buster: ["roll over","sit"]
Rex: ["sit","roll over"]
roll over: ["Fido","Buster","Rex"]
play dead: ["Fido"]
sit: ["Buster","Rex"]"#;

#[test]
fn training_school_views_run_in_memory() {
    let stdout = check(example("training_school_views").output().unwrap());
    assert_eq!(stdout.trim(), SCHOOL_VIEWS);
}

#[test]
fn training_school_views_run_on_dynamodb() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let table = unique_table("school");
    let output = example("training_school_views")
        .env("PERSISTENCE_MODULE", "eventsourcing_dynamodb")
        .env("DYNAMO_ENDPOINT_URL", &endpoint)
        .env("DYNAMO_TABLE", &table)
        .env("CREATE_TABLE", "true")
        .env("VIEW_STORE", "dynamodb")
        .env("VIEW_TABLE", format!("{table}-views"))
        .output()
        .unwrap();
    assert_eq!(check(output).trim(), SCHOOL_VIEWS);
}

#[test]
fn training_school_views_run_on_postgres() {
    let url = match std::env::var("POSTGRES_TEST_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            let required = std::env::var("REQUIRE_DYNAMODB").is_ok_and(|v| v == "1");
            assert!(!required, "POSTGRES_TEST_URL is not set: run the tests with scripts/test.sh");
            eprintln!("SKIPPED: PostgreSQL test needs POSTGRES_TEST_URL (run scripts/test.sh)");
            return;
        }
    };
    let output = example("training_school_views")
        .env("VIEW_STORE", "postgres")
        .env("POSTGRES_URL", url)
        .env("VIEW_TABLE", format!("school{}", eventsourcing_dynamodb::Uuid::new_v4().simple()))
        .output()
        .unwrap();
    assert_eq!(check(output).trim(), SCHOOL_VIEWS);
}
