//! The benchmark programs, run briefly as `scripts/bench.sh` runs them: in memory, and on
//! DynamoDB with the seed's environment variables. Their figures are checked for shape
//! (and request counts, which do not depend on the machine), never for speed.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use support::*;

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
