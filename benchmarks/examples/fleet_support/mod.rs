//! What the fleet benchmark's two binaries share: the `Account` aggregate each worker
//! changes, the JSON report a worker prints as its last line, and small helpers (flags,
//! clocks, percentiles).
//!
//! `benchmarks/examples/fleet_worker.rs` is one process of the fleet; `benchmarks/examples/fleet_bench.rs` starts
//! the fleet, reads the reports and verifies the table. Both include this file with
//! `#[path = "fleet_support/mod.rs"]`, so each uses only part of it.
#![allow(dead_code)]

use eventsourcing_dynamodb::prelude::*;
use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};

/// A Dog-like aggregate: opened once, then credited with one unique entry per command.
#[aggregate(topic = "fleet:Account")]
pub struct Account {
    pub owner: String,
    pub entries: Vec<String>,
}

#[aggregate]
impl Account {
    #[event("Opened")]
    pub fn open(owner: String) -> Self {
        Account { owner, entries: Vec::new() }
    }

    #[event("Credited")]
    pub fn credit(&mut self, entry: String) {
        self.entries.push(entry);
    }
}

/// The application name workers and the verifier use. Its upper-cased prefix
/// (`FLEETACCOUNTS_`) is what per-application settings would be read under, so it is chosen
/// not to collide with the benchmark's own `FLEET_*` variables.
pub const APP_NAME: &str = "FleetAccounts";

/// One committed command: the event it stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Commit {
    /// The aggregate.
    pub id: Uuid,
    /// The version the command's event got.
    pub version: u64,
    /// The unique entry it recorded, `w<W>-c<i>`.
    pub entry: String,
    /// When the save returned, unix milliseconds.
    pub at_ms: f64,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Latencies {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

/// The last line a worker prints.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub worker: u64,
    pub tasks: usize,
    /// Commands run (each one load, one command, one save).
    pub commands: usize,
    /// Commands whose save succeeded.
    pub committed: usize,
    /// Commands that failed (conflicts included).
    pub errors: usize,
    /// Of `errors`, how many were conflicts.
    pub conflicts: usize,
    /// The first error's message.
    pub first_error: Option<String>,
    /// From the start signal to the last command's end.
    pub seconds: f64,
    /// Over every command run, committed or not.
    pub latency_ms: Latencies,
    /// Every command's latency, in the order run (for fleet-wide percentiles).
    pub latencies_ms: Vec<f64>,
    /// Unix milliseconds at the start signal and after the last command.
    pub start_ms: f64,
    pub end_ms: f64,
    /// DynamoDB requests the worker's recorder sent between start and end (SDK retries
    /// included), or `None` for a store that does not count them.
    pub requests: Option<u64>,
    /// DynamoDB and DynamoDB Streams requests this process's sequencer task sent between
    /// start and end (stream reads, pages, lease), or `None` without one.
    #[serde(default)]
    pub sequencer_requests: Option<u64>,
    /// The aggregates the worker registered before the start.
    pub aggregates: Vec<Uuid>,
    /// What it committed.
    pub commits: Vec<Commit>,
}

/// Now, in unix milliseconds.
pub fn unix_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0)
}

/// The value after `name` on the command line.
pub fn arg<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(String::as_str)
}

/// The number after `name`, `default` when absent, a clear message when it is not a number.
pub fn number(args: &[String], name: &str, default: Option<usize>) -> Result<usize, String> {
    match (arg(args, name), default) {
        (Some(value), _) => {
            value.parse().map_err(|_| format!("{name} takes a whole number, got {value:?}"))
        }
        (None, Some(default)) => Ok(default),
        (None, None) => Err(format!("{name} is required")),
    }
}

/// The nearest-rank percentile `p` (0..=100) of `sorted` (ascending); 0 when empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// p50, p99 and max of `values`.
pub fn latencies(values: &[f64]) -> Latencies {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    Latencies {
        p50: percentile(&sorted, 50.0),
        p99: percentile(&sorted, 99.0),
        max: sorted.last().copied().unwrap_or(0.0),
    }
}
