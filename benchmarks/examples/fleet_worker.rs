//! One OS process of the fleet benchmark (`scripts/fleet.sh`, `benchmarks/examples/fleet_bench.rs`).
//!
//! `fleet_worker --worker W --aggregates K --commands N [--tasks T]`, with the store
//! configured by the environment as for any application (`PERSISTENCE_MODULE`,
//! `DYNAMO_ENDPOINT_URL`, `DYNAMO_TABLE`, `DYNAMO_NOTIFICATION_LOG`,
//! `AGGREGATE_CACHE_MAXSIZE`, …).
//!
//! Opens the application, registers its own K `Account`s (one save each), prints `ready`,
//! waits for a line on stdin (so that every process of the fleet starts together), then runs N
//! commands in total on T concurrent tokio tasks (default 1). Task t owns the accounts
//! k ≡ t (mod T) and the commands i ≡ t (mod T), and goes round robin over its accounts, so
//! no two tasks ever write one account: a conflict can only come from outside the process.
//! A command is one `repository().get`, one `credit` recording the unique entry `w<W>-c<i>`,
//! and one `save`; it is tried once: a conflict or any other error is counted (the first
//! message kept) and the worker goes on with the next command.
//!
//! The last line is the JSON [`Report`]: commands, committed, errors (and conflicts),
//! first_error, seconds from the start signal to the end, latency percentiles (p50/p99/max,
//! ms) and every command's latency, start/end unix-ms timestamps, the number of DynamoDB
//! requests sent between start and end (the recorder's `request_count()`, reached through
//! `Application::recorders()`; SDK retries included) and those of its sequencer task (on
//! DynamoDB the worker opens the recorder itself to read them), the registered aggregates and every
//! commit (id, version, entry, unix ms).

// The allocator this library recommends for production, as in the other benchmarks.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "fleet_support/mod.rs"]
mod fleet_support;

use eventsourcing_dynamodb::dynamodb::{DynamoConfig, DynamoRecorder};
use eventsourcing_dynamodb::environment::Environment;
use eventsourcing_dynamodb::prelude::*;
use fleet_support::{latencies, number, unix_ms, Account, AccountCommands, Commit, Report};
use std::collections::HashMap;
use std::io::BufRead;
use std::sync::Arc;
use std::time::Instant;

/// What one task did.
#[derive(Default)]
struct TaskOutcome {
    commits: Vec<Commit>,
    latencies_ms: Vec<f64>,
    errors: usize,
    conflicts: usize,
    /// (command index, message) of the task's first error.
    first_error: Option<(usize, String)>,
}

/// Runs the commands `task`, `task + tasks`, … below `commands` on `accounts`, round robin.
async fn run_task(
    app: Application,
    worker: u64,
    task: usize,
    tasks: usize,
    commands: usize,
    accounts: Vec<Uuid>,
) -> TaskOutcome {
    let mut outcome = TaskOutcome::default();
    for (round, command) in (task..commands).step_by(tasks).enumerate() {
        let id = accounts[round % accounts.len()];
        let entry = format!("w{worker}-c{command}");
        let started = Instant::now();
        let result = async {
            let mut account = app.repository().get::<Account>(id).await?;
            account.credit(entry.clone());
            app.save(&mut [&mut account]).await?;
            Ok::<u64, Error>(account.version())
        }
        .await;
        outcome.latencies_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        match result {
            Ok(version) => outcome.commits.push(Commit { id, version, entry, at_ms: unix_ms() }),
            Err(error) => {
                outcome.errors += 1;
                if error.is_conflict() {
                    outcome.conflicts += 1;
                }
                if outcome.first_error.is_none() {
                    outcome.first_error = Some((command, error.to_string()));
                }
            }
        }
    }
    outcome
}

async fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let worker = number(&args, "--worker", None)? as u64;
    let aggregates = number(&args, "--aggregates", None)?;
    let commands = number(&args, "--commands", None)?;
    let tasks = number(&args, "--tasks", Some(1))?;
    if aggregates == 0 || tasks == 0 {
        return Err("--aggregates and --tasks must be at least 1".into());
    }
    if tasks > aggregates {
        return Err(format!(
            "--tasks {tasks} exceeds --aggregates {aggregates}: each task needs its own aggregates"
        ));
    }

    // On DynamoDB the recorder is opened here, to read its sequencer's request count.
    let env = Environment::new(fleet_support::APP_NAME, HashMap::new());
    let on_dynamodb = env.get("PERSISTENCE_MODULE").is_some_and(|m| m.contains("dynamodb"));
    let mut builder = Application::builder(fleet_support::APP_NAME);
    let mut recorder = None;
    if on_dynamodb {
        let config = DynamoConfig::from_env(&env).map_err(|e| format!("configuration: {e}"))?;
        let opened = Arc::new(
            DynamoRecorder::connect(config).await.map_err(|e| format!("opening the table: {e}"))?,
        );
        builder = builder.recorders(opened.clone().recorders());
        recorder = Some(opened);
    }
    let app = builder.build().await.map_err(|e| format!("opening the application: {e}"))?;
    let sequencer_requests = || recorder.as_ref().and_then(|r| r.sequencer_requests());
    let mut ids = Vec::with_capacity(aggregates);
    for k in 0..aggregates {
        let mut account = Account::open(format!("worker {worker} account {k}"));
        app.save(&mut [&mut account]).await.map_err(|e| format!("registering account {k}: {e}"))?;
        ids.push(account.id());
    }

    println!("ready");
    let mut go = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut go)
        .map_err(|e| format!("reading the start signal from stdin: {e}"))?;

    let requests_before = app.recorders().events.request_count();
    let sequencer_before = sequencer_requests();
    let start_ms = unix_ms();
    let started = Instant::now();
    let mut handles = Vec::with_capacity(tasks);
    for task in 0..tasks {
        let owned: Vec<Uuid> = ids.iter().copied().skip(task).step_by(tasks).collect();
        handles.push(tokio::spawn(run_task(app.clone(), worker, task, tasks, commands, owned)));
    }
    let mut outcomes = Vec::with_capacity(tasks);
    for handle in handles {
        outcomes.push(handle.await.map_err(|e| format!("a command task failed: {e}"))?);
    }
    let seconds = started.elapsed().as_secs_f64();
    let end_ms = unix_ms();
    let since = |before: Option<u64>, after: Option<u64>| {
        before.zip(after).map(|(before, after)| after.saturating_sub(before))
    };
    let requests = since(requests_before, app.recorders().events.request_count());
    let sequencer_requests = since(sequencer_before, sequencer_requests());

    let mut commits = Vec::new();
    let mut latencies_ms = Vec::new();
    let (mut errors, mut conflicts) = (0, 0);
    let mut first_error: Option<(usize, String)> = None;
    for outcome in outcomes {
        commits.extend(outcome.commits);
        latencies_ms.extend(outcome.latencies_ms);
        errors += outcome.errors;
        conflicts += outcome.conflicts;
        if let Some((command, message)) = outcome.first_error {
            if first_error.as_ref().is_none_or(|(first, _)| command < *first) {
                first_error = Some((command, message));
            }
        }
    }
    commits.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
    let report = Report {
        worker,
        tasks,
        commands,
        committed: commits.len(),
        errors,
        conflicts,
        first_error: first_error.map(|(_, message)| message),
        seconds,
        latency_ms: latencies(&latencies_ms),
        latencies_ms,
        start_ms,
        end_ms,
        requests,
        sequencer_requests,
        aggregates: ids,
        commits,
    };
    let line = serde_json::to_string(&report).map_err(|e| format!("encoding the report: {e}"))?;
    println!("{line}");
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("fleet_worker: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}
