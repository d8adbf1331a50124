//! The fleet benchmark: P OS processes (`fleet_worker`) against one fresh DynamoDB table,
//! each loading, changing and saving its own aggregates, then a verification of the table.
//! `scripts/fleet.sh` starts the servers (and the latency proxy) and runs this; see
//! `bench/fleet.md` for what the columns mean.
//!
//! ```text
//! fleet_bench --target 'LABEL|ENDPOINT|DIRECT_ENDPOINT|COMMANDS[|SERVER_PID]' [--target …]
//!             [--processes 1,2,4,8] [--logs on,off] [--aggregates 4] [--tasks 1]
//!             [--cache SIZE] [--timeout-seconds 300] [--section NAME] [--out bench/fleet.md]
//!             [--warmup COMMANDS] [--repeat R] [--worker PATH]
//! ```
//!
//! With `--warmup C`, each target and log setting first gets an unreported run of 2
//! processes × C commands (DynamoDB Local is a JVM: its first requests are slower).
//!
//! With `--repeat R`, each setting runs R times (a fresh table each) and the table shows
//! medians over the runs with the spread of total saves/s and of fairness while all ran.
//!
//! For every target, P and log setting: creates a fresh table through `DIRECT_ENDPOINT`,
//! starts P workers against `ENDPOINT` (the same server, or a proxy in front of it), each with
//! COMMANDS commands, waits for all to print `ready`, starts them together, and reads their
//! JSON reports. It prints per-process throughput, total saves/s, fairness (min/max
//! per-process throughput, over each process's whole run and "while all ran"), fleet-wide
//! p50/p99/max latency, errors with the first message and DynamoDB requests per save. Then a
//! fresh application verifies through `DIRECT_ENDPOINT` that every committed event is stored
//! exactly once and nothing else is (each aggregate's version is its committed commands + 1,
//! and its entries are exactly the committed ones at the committed versions), and, with the
//! log on, that the notification log holds every stored event once under ids 1..N.
//!
//! Writes the markdown table into `--out` between `<!-- fleet:begin NAME -->` and
//! `<!-- fleet:end NAME -->` (replacing that section, keeping the rest of the file) and
//! prints it. Exits with status 1 when a verification fails or a run could not complete.

#[path = "fleet_support/mod.rs"]
mod fleet_support;

use eventsourcing_dynamodb::dynamodb::{DynamoConfig, DynamoRecorder};
use eventsourcing_dynamodb::environment::Environment;
use eventsourcing_dynamodb::persistence::EventQuery;
use eventsourcing_dynamodb::prelude::*;
use fleet_support::{arg, latencies, number, unix_ms, Account, Commit, Latencies, Report};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

/// One server (or proxy) to run the fleet against.
#[derive(Debug, Clone)]
struct Target {
    label: String,
    endpoint: String,
    direct: String,
    commands: usize,
    /// The server's process, whose CPU time a run takes is measured (Linux only).
    server_pid: Option<u32>,
}

impl Target {
    fn parse(spec: &str) -> Result<Target, String> {
        let parts: Vec<&str> = spec.split('|').collect();
        let (label, endpoint, direct, commands, pid) = match parts[..] {
            [label, endpoint, direct, commands] => (label, endpoint, direct, commands, None),
            [label, endpoint, direct, commands, pid] => {
                (label, endpoint, direct, commands, Some(pid))
            }
            _ => {
                return Err(format!(
                    "--target takes 'LABEL|ENDPOINT|DIRECT_ENDPOINT|COMMANDS[|SERVER_PID]', got {spec:?}"
                ))
            }
        };
        let server_pid = match pid {
            Some(pid) => Some(
                pid.parse()
                    .map_err(|_| format!("--target {spec:?}: SERVER_PID must be a process id"))?,
            ),
            None => None,
        };
        let commands = commands
            .parse()
            .map_err(|_| format!("--target {spec:?}: COMMANDS must be a whole number"))?;
        for url in [endpoint, direct] {
            if !url.starts_with("http://") {
                return Err(format!("--target {spec:?}: {url:?} is not an http:// endpoint"));
            }
        }
        Ok(Target {
            label: label.to_owned(),
            endpoint: endpoint.to_owned(),
            direct: direct.to_owned(),
            commands,
            server_pid,
        })
    }

    fn slug(&self) -> String {
        let slug: String = self
            .label
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
            .collect();
        slug.split('-').filter(|s| !s.is_empty()).collect::<Vec<_>>().join("-")
    }
}

/// The benchmark's settings.
struct Options {
    targets: Vec<Target>,
    processes: Vec<usize>,
    logs: Vec<Log>,
    aggregates: usize,
    tasks: usize,
    cache: Option<String>,
    timeout: Duration,
    section: String,
    out: PathBuf,
    worker: PathBuf,
    /// Commands per process of the unreported 2-process warm-up run per target and log setting.
    warmup: usize,
    /// Runs per setting; the table shows medians and the spread.
    repeat: usize,
}

fn list<T>(
    args: &[String],
    name: &str,
    default: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Vec<T>, String> {
    let value = arg(args, name).unwrap_or(default);
    value
        .split(',')
        .map(|item| {
            parse(item.trim()).ok_or_else(|| format!("{name}: cannot read {item:?} in {value:?}"))
        })
        .collect()
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let targets = args
            .iter()
            .enumerate()
            .filter(|(_, a)| *a == "--target")
            .map(|(i, _)| {
                args.get(i + 1)
                    .ok_or_else(|| "--target needs a value".to_owned())
                    .and_then(|s| Target::parse(s))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if targets.is_empty() {
            return Err(
                "at least one --target 'LABEL|ENDPOINT|DIRECT_ENDPOINT|COMMANDS' is required"
                    .into(),
            );
        }
        let processes =
            list(args, "--processes", "1,2,4,8", |s| s.parse().ok().filter(|p| *p > 0))?;
        let logs = list(args, "--logs", "on,off", |s| match s {
            "on" => Some(Log::Transactional),
            "off" => Some(Log::Off),
            "sequenced" => Some(Log::Sequenced),
            _ => None,
        })?;
        let worker = match arg(args, "--worker") {
            Some(path) => PathBuf::from(path),
            None => std::env::current_exe()
                .map_err(|e| format!("locating this binary (to find fleet_worker beside it): {e}"))?
                .with_file_name("fleet_worker"),
        };
        if !worker.exists() {
            return Err(format!(
                "no worker binary at {}: build it (cargo build --release --example fleet_worker) or pass --worker",
                worker.display()
            ));
        }
        Ok(Options {
            targets,
            processes,
            logs,
            aggregates: number(args, "--aggregates", Some(4))?,
            tasks: number(args, "--tasks", Some(1))?,
            cache: arg(args, "--cache").map(str::to_owned),
            timeout: Duration::from_secs(number(args, "--timeout-seconds", Some(300))? as u64),
            section: arg(args, "--section").unwrap_or("fleet").to_owned(),
            out: PathBuf::from(arg(args, "--out").unwrap_or("bench/fleet.md")),
            worker,
            warmup: number(args, "--warmup", Some(0))?,
            repeat: number(args, "--repeat", Some(1))?.max(1),
        })
    }
}

/// The figures of one run (one target, P and log setting).
struct Outcome {
    target: String,
    processes: usize,
    log: Log,
    commands: usize,
    committed: usize,
    errors: usize,
    conflicts: usize,
    first_error: Option<String>,
    total_rate: f64,
    per_process: Vec<f64>,
    fairness: f64,
    fairness_all_ran: Option<f64>,
    window_seconds: f64,
    latency: Latencies,
    requests_per_save: Option<f64>,
    /// The sequencers' requests (stream reads, pages, lease) per committed save, when the
    /// workers ran one.
    log_requests_per_save: Option<f64>,
    /// The server's CPU time from the start signal to the last report, per committed save.
    server_cpu_ms_per_save: Option<f64>,
    /// Verification failures, or why the run could not complete.
    failures: Vec<String>,
    /// What was verified, for the table.
    verified: String,
    /// With `--repeat R > 1`: how many runs were combined, and the min–max over them of the
    /// total rate and of the fairness while all ran.
    runs: usize,
    rate_range: Option<(f64, f64)>,
    all_ran_range: Option<(f64, f64)>,
}

/// The median of `values` (the upper one for an even count); 0 when empty.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn range(values: &[f64]) -> Option<(f64, f64)> {
    let min = values.iter().copied().reduce(f64::min)?;
    let max = values.iter().copied().reduce(f64::max)?;
    Some((min, max))
}

/// Combines repeated runs of one setting: counts are summed, figures are medians over the
/// runs (max latency: the maximum), per-process rates are those of the median-rate run.
fn combine(mut runs: Vec<Outcome>) -> Option<Outcome> {
    if runs.len() <= 1 {
        return runs.pop();
    }
    let count = runs.len();
    let rates: Vec<f64> = runs.iter().map(|o| o.total_rate).collect();
    let all_ran: Vec<f64> = runs.iter().filter_map(|o| o.fairness_all_ran).collect();
    let mut failures = Vec::new();
    for (index, run) in runs.iter().enumerate() {
        failures.extend(run.failures.iter().map(|f| format!("run {}: {f}", index + 1)));
    }
    let fairness = median(runs.iter().map(|o| o.fairness).collect());
    let window_seconds = median(runs.iter().map(|o| o.window_seconds).collect());
    let latency = Latencies {
        p50: median(runs.iter().map(|o| o.latency.p50).collect()),
        p99: median(runs.iter().map(|o| o.latency.p99).collect()),
        max: runs.iter().map(|o| o.latency.max).fold(0.0, f64::max),
    };
    let per_save: Vec<f64> = runs.iter().filter_map(|o| o.requests_per_save).collect();
    let requests_per_save = (per_save.len() == count).then(|| median(per_save));
    let per_save: Vec<f64> = runs.iter().filter_map(|o| o.log_requests_per_save).collect();
    let log_requests_per_save = (per_save.len() == count).then(|| median(per_save));
    let cpu: Vec<f64> = runs.iter().filter_map(|o| o.server_cpu_ms_per_save).collect();
    let server_cpu_ms_per_save = (cpu.len() == count).then(|| median(cpu));
    let (commands, committed, errors, conflicts) = runs.iter().fold((0, 0, 0, 0), |a, o| {
        (a.0 + o.commands, a.1 + o.committed, a.2 + o.errors, a.3 + o.conflicts)
    });
    let first_error = runs.iter().find_map(|o| o.first_error.clone());
    runs.sort_by(|a, b| a.total_rate.total_cmp(&b.total_rate));
    let middle = runs.swap_remove(count / 2);
    Some(Outcome {
        commands,
        committed,
        errors,
        conflicts,
        first_error,
        total_rate: median(rates.clone()),
        fairness,
        fairness_all_ran: (!all_ran.is_empty()).then(|| median(all_ran.clone())),
        window_seconds,
        latency,
        requests_per_save,
        log_requests_per_save,
        server_cpu_ms_per_save,
        verified: match failures.is_empty() {
            true => format!("{count} runs, each {}", middle.verified),
            false => "FAILED".to_owned(),
        },
        failures,
        runs: count,
        rate_range: range(&rates),
        all_ran_range: range(&all_ran),
        ..middle
    })
}

fn application_env(target_endpoint: &str, table: &str, log: Log) -> Vec<(&'static str, String)> {
    vec![
        ("PERSISTENCE_MODULE", "eventsourcing_dynamodb".to_owned()),
        ("DYNAMO_ENDPOINT_URL", target_endpoint.to_owned()),
        ("DYNAMO_TABLE", table.to_owned()),
        ("DYNAMO_NOTIFICATION_LOG", log.setting().to_owned()),
    ]
}

/// An application on the table, configured only by what is given here, and its recorder
/// (to count its sequencer's requests).
async fn open(
    endpoint: &str,
    table: &str,
    log: Log,
    create: bool,
) -> Result<(Application, Arc<DynamoRecorder>)> {
    let mut values: HashMap<String, String> = application_env(endpoint, table, log)
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect();
    values.insert("CREATE_TABLE".to_owned(), create.to_string());
    let env = Environment::isolated(fleet_support::APP_NAME, values);
    let config = DynamoConfig::from_env(&env)?;
    let recorder = Arc::new(DynamoRecorder::connect(config).await?);
    let app = Application::builder(fleet_support::APP_NAME).isolated();
    let app = app.recorders(recorder.clone().recorders());
    Ok((app.build().await?, recorder))
}

/// A started worker and what it said.
struct Worker {
    child: Child,
    lines: tokio::io::Lines<BufReader<ChildStdout>>,
    stderr: tokio::task::JoinHandle<String>,
}

impl Worker {
    async fn stderr(self) -> String {
        let Worker { mut child, stderr, .. } = self;
        let _ = child.start_kill();
        let _ = child.wait().await;
        stderr.await.unwrap_or_default()
    }
}

async fn spawn(
    options: &Options,
    target: &Target,
    table: &str,
    log: Log,
    index: usize,
) -> Result<Worker, String> {
    let mut command = Command::new(&options.worker);
    command
        .args(["--worker", &index.to_string()])
        .args(["--aggregates", &options.aggregates.to_string()])
        .args(["--commands", &target.commands.to_string()])
        .args(["--tasks", &options.tasks.to_string()])
        .env("CREATE_TABLE", "false")
        .env_remove("AGGREGATE_CACHE_MAXSIZE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (key, value) in application_env(&target.endpoint, table, log) {
        command.env(key, value);
    }
    if let Some(size) = &options.cache {
        command.env("AGGREGATE_CACHE_MAXSIZE", size);
    }
    let mut child =
        command.spawn().map_err(|e| format!("starting {}: {e}", options.worker.display()))?;
    let stdout = child.stdout.take().ok_or("the worker has no stdout")?;
    let mut stderr = child.stderr.take().ok_or("the worker has no stderr")?;
    let stderr = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    Ok(Worker { child, lines: BufReader::new(stdout).lines(), stderr })
}

/// Starts the fleet, runs it and collects the reports.
async fn run_fleet(
    options: &Options,
    target: &Target,
    table: &str,
    log: Log,
    processes: usize,
) -> Result<(Vec<Report>, Option<f64>), String> {
    let mut workers = Vec::with_capacity(processes);
    for index in 1..=processes {
        workers.push(spawn(options, target, table, log, index).await?);
    }
    for index in 0..workers.len() {
        let said = match workers[index].lines.next_line().await {
            Ok(Some(line)) if line.trim() == "ready" => continue,
            Ok(Some(line)) => format!("printed {line:?}"),
            Ok(None) => "exited".to_owned(),
            Err(e) => format!("could not be read: {e}"),
        };
        let worker = workers.swap_remove(index);
        return Err(format!(
            "worker {} {said} instead of `ready`: {}",
            index + 1,
            worker.stderr().await.trim()
        ));
    }
    // All are ready: start them as close together as possible.
    let cpu_before = target.server_pid.and_then(cpu_seconds);
    for worker in &mut workers {
        if let Some(stdin) = worker.child.stdin.as_mut() {
            stdin.write_all(b"go\n").await.map_err(|e| format!("sending the start signal: {e}"))?;
            stdin.flush().await.map_err(|e| format!("sending the start signal: {e}"))?;
        }
    }
    let mut reports = Vec::with_capacity(processes);
    for (index, mut worker) in workers.into_iter().enumerate() {
        let mut last = None;
        loop {
            match worker.lines.next_line().await {
                Ok(Some(line)) if !line.trim().is_empty() => last = Some(line),
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => return Err(format!("reading worker {}: {e}", index + 1)),
            }
        }
        let status = worker
            .child
            .wait()
            .await
            .map_err(|e| format!("waiting for worker {}: {e}", index + 1))?;
        let stderr = worker.stderr.await.unwrap_or_default();
        if !status.success() {
            return Err(format!("worker {} failed ({status}): {}", index + 1, stderr.trim()));
        }
        let line = last.ok_or_else(|| format!("worker {} printed no report", index + 1))?;
        let report: Report = serde_json::from_str(&line).map_err(|e| {
            format!("worker {}'s report is not the expected JSON ({e}): {line:.200}", index + 1)
        })?;
        reports.push(report);
    }
    let cpu_after = target.server_pid.and_then(cpu_seconds);
    let server_cpu = cpu_before.zip(cpu_after).map(|(before, after)| after - before);
    Ok((reports, server_cpu))
}

/// The CPU time (user and system, seconds) process `pid` has used, from `/proc/PID/stat`,
/// whose times are in Linux's fixed 1/100 s ticks (`USER_HZ`).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in brackets and may hold spaces: count from after it.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |index: usize| fields.get(index)?.parse::<u64>().ok();
    Some((ticks(11)? + ticks(12)?) as f64 / 100.0)
}

/// Keeps the first few messages of a kind and counts the rest.
#[derive(Default)]
struct Failures(Vec<String>, usize);

impl Failures {
    fn push(&mut self, message: String) {
        if self.0.len() < 5 {
            self.0.push(message);
        }
        self.1 += 1;
    }

    fn into_vec(mut self) -> Vec<String> {
        if self.1 > self.0.len() {
            let more = self.1 - self.0.len();
            self.0.push(format!("… and {more} more"));
        }
        self.0
    }
}

/// Checks the table against the reports; returns the failures and a summary of what passed.
async fn verify(
    app: &Application,
    reports: &[Report],
    log: Log,
) -> Result<(Vec<String>, String), Error> {
    let mut failures = Failures::default();
    let mut expected: HashSet<(Uuid, u64)> = HashSet::new();
    let mut stored_events = 0usize;
    for report in reports {
        let mut by_id: HashMap<Uuid, Vec<&Commit>> = HashMap::new();
        for commit in &report.commits {
            by_id.entry(commit.id).or_default().push(commit);
        }
        for id in by_id.keys() {
            if !report.aggregates.contains(id) {
                failures.push(format!(
                    "worker {} committed to {id}, which it did not register",
                    report.worker
                ));
            }
        }
        for id in &report.aggregates {
            let commits = by_id.get(id).map(Vec::as_slice).unwrap_or(&[]);
            let want = commits.len() as u64 + 1;
            let stored = app.recorders().events.select_events(*id, EventQuery::default()).await?;
            let versions: Vec<u64> = stored.iter().map(|e| e.originator_version).collect();
            stored_events += stored.len();
            expected.extend(versions.iter().map(|v| (*id, *v)));
            if versions != (1..=want).collect::<Vec<_>>() {
                failures.push(format!(
                    "worker {} aggregate {id}: stored versions {}..{} ({} events), expected 1..{want} (1 registration + {} committed)",
                    report.worker,
                    versions.first().copied().unwrap_or(0),
                    versions.last().copied().unwrap_or(0),
                    versions.len(),
                    commits.len()
                ));
                continue;
            }
            let account = app.repository().get::<Account>(*id).await?;
            for commit in commits {
                let at =
                    commit.version.checked_sub(2).and_then(|i| account.entries.get(i as usize));
                if at != Some(&commit.entry) {
                    failures.push(format!(
                        "worker {} aggregate {id}: committed {:?} as version {}, stored there: {at:?}",
                        report.worker, commit.entry, commit.version
                    ));
                }
            }
        }
    }
    let mut summary = format!("{stored_events} events ok");
    if log == Log::Sequenced {
        // The sequencer writes the log after the saves: wait until it holds them all.
        app.recorders().events.sync_log().await?;
    }
    if log != Log::Off {
        let mut seen: HashSet<(Uuid, u64)> = HashSet::new();
        let mut next = 1u64;
        loop {
            let page = app.notification_log().select(next, 1000, None, &[]).await?;
            if page.is_empty() {
                break;
            }
            for notification in &page {
                if notification.id != next {
                    failures.push(format!(
                        "notification log: id {} where {next} was next (a gap)",
                        notification.id
                    ));
                }
                next = notification.id + 1;
                let key = (notification.event.originator_id, notification.event.originator_version);
                if !seen.insert(key) {
                    failures.push(format!("notification log: {} v{} appears twice", key.0, key.1));
                }
            }
        }
        let last = next - 1;
        let max = app.notification_log().max_notification_id().await?;
        if max != last {
            failures.push(format!(
                "notification log: max id {max}, but reading from 1 ended at {last}"
            ));
        }
        for (id, version) in expected.difference(&seen) {
            failures.push(format!("notification log: stored event {id} v{version} is missing"));
        }
        for (id, version) in seen.difference(&expected) {
            failures.push(format!(
                "notification log: {id} v{version} is not a stored event of the fleet"
            ));
        }
        summary.push_str(&format!(", log 1..{last} ok"));
    }
    let failures = failures.into_vec();
    if !failures.is_empty() {
        summary = "FAILED".to_owned();
    }
    Ok((failures, summary))
}

/// Which notification log a fleet runs with (`--logs on,off,sequenced`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Log {
    /// `on`: the transactional log.
    Transactional,
    /// `off`: no log.
    Off,
    /// `sequenced`: the log sequenced from the table's stream.
    Sequenced,
}

impl Log {
    fn label(self) -> &'static str {
        match self {
            Log::Transactional => "on",
            Log::Off => "off",
            Log::Sequenced => "sequenced",
        }
    }

    fn setting(self) -> &'static str {
        match self {
            Log::Transactional => "transactional",
            Log::Off => "false",
            Log::Sequenced => "sequenced",
        }
    }
}

/// Everything about one run, figures and verification.
async fn run_one(options: &Options, target: &Target, processes: usize, log: Log) -> Outcome {
    let table =
        format!("fleet-{}-p{processes}-log{}-{}", target.slug(), log.label(), unix_ms() as u64);
    let mut outcome = Outcome {
        target: target.label.clone(),
        processes,
        log,
        commands: 0,
        committed: 0,
        errors: 0,
        conflicts: 0,
        first_error: None,
        total_rate: 0.0,
        per_process: Vec::new(),
        fairness: 0.0,
        fairness_all_ran: None,
        window_seconds: 0.0,
        latency: Latencies::default(),
        requests_per_save: None,
        log_requests_per_save: None,
        server_cpu_ms_per_save: None,
        failures: Vec::new(),
        verified: "not run".to_owned(),
        runs: 1,
        rate_range: None,
        all_ran_range: None,
    };
    // This process creates the table, and its sequencer takes the lease first: it sequences
    // the fleet's saves, as a standalone sequencer would.
    let (app, sequencer) = match open(&target.direct, &table, log, true).await {
        Ok(opened) => opened,
        Err(e) => {
            outcome.failures.push(format!("creating table {table}: {e}"));
            return outcome;
        }
    };
    let sequenced_before = sequencer.sequencer_requests();
    let own_sequencer_requests;
    let reports = match tokio::time::timeout(
        options.timeout,
        run_fleet(options, target, &table, log, processes),
    )
    .await
    {
        Ok(Ok((reports, server_cpu))) => {
            let sequenced = sequencer.sequencer_requests().zip(sequenced_before);
            own_sequencer_requests = sequenced.map(|(after, before)| after.saturating_sub(before));
            outcome.server_cpu_ms_per_save =
                server_cpu.filter(|_| reports.iter().any(|r| r.committed > 0)).map(|seconds| {
                    1000.0 * seconds / reports.iter().map(|r| r.committed).sum::<usize>() as f64
                });
            reports
        }
        Ok(Err(e)) => {
            outcome.failures.push(e);
            return outcome;
        }
        Err(_) => {
            outcome.failures.push(format!(
                "the fleet did not finish within {} s (--timeout-seconds); its workers were stopped",
                options.timeout.as_secs()
            ));
            return outcome;
        }
    };

    outcome.commands = reports.iter().map(|r| r.commands).sum();
    outcome.committed = reports.iter().map(|r| r.committed).sum();
    outcome.errors = reports.iter().map(|r| r.errors).sum();
    outcome.conflicts = reports.iter().map(|r| r.conflicts).sum();
    outcome.first_error = reports.iter().find_map(|r| r.first_error.clone());
    outcome.per_process = reports
        .iter()
        .map(|r| if r.seconds > 0.0 { r.committed as f64 / r.seconds } else { 0.0 })
        .collect();
    outcome.fairness = min_over_max(&outcome.per_process);
    let first_start = reports.iter().map(|r| r.start_ms).fold(f64::INFINITY, f64::min);
    let last_end = reports.iter().map(|r| r.end_ms).fold(0.0, f64::max);
    let span = (last_end - first_start) / 1000.0;
    outcome.total_rate = if span > 0.0 { outcome.committed as f64 / span } else { 0.0 };
    // The window in which every process was running.
    let window_start = reports.iter().map(|r| r.start_ms).fold(0.0, f64::max);
    let window_end = reports.iter().map(|r| r.end_ms).fold(f64::INFINITY, f64::min);
    outcome.window_seconds = ((window_end - window_start) / 1000.0).max(0.0);
    if outcome.window_seconds > 0.0 {
        let rates: Vec<f64> = reports
            .iter()
            .map(|r| {
                let inside = r
                    .commits
                    .iter()
                    .filter(|c| c.at_ms >= window_start && c.at_ms <= window_end)
                    .count();
                inside as f64 / outcome.window_seconds
            })
            .collect();
        outcome.fairness_all_ran = Some(min_over_max(&rates));
    }
    let all: Vec<f64> = reports.iter().flat_map(|r| r.latencies_ms.iter().copied()).collect();
    outcome.latency = latencies(&all);
    let requests: Option<u64> = reports.iter().map(|r| r.requests).sum();
    outcome.requests_per_save =
        requests.filter(|_| outcome.committed > 0).map(|r| r as f64 / outcome.committed as f64);
    let sequencers: Vec<u64> =
        reports.iter().filter_map(|r| r.sequencer_requests).chain(own_sequencer_requests).collect();
    outcome.log_requests_per_save = (!sequencers.is_empty() && outcome.committed > 0)
        .then(|| sequencers.iter().sum::<u64>() as f64 / outcome.committed as f64);

    match open(&target.direct, &table, log, false).await {
        Ok((fresh, _)) => match verify(&fresh, &reports, log).await {
            Ok((failures, summary)) => {
                outcome.failures = failures;
                outcome.verified = summary;
            }
            Err(e) => outcome.failures.push(format!("verification could not read the table: {e}")),
        },
        Err(e) => outcome.failures.push(format!("opening the table to verify it: {e}")),
    }
    if !outcome.failures.is_empty() {
        outcome.verified = "FAILED".to_owned();
    }
    drop(app);
    // A local server keeps every table (and its stream) in memory and slows down as they
    // pile up: the next run should not pay for this one.
    delete_table(&target.direct, &table).await;
    outcome
}

async fn delete_table(endpoint: &str, table: &str) {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .load()
        .await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    if let Err(error) = client.delete_table().table_name(table).send().await {
        eprintln!(
            "fleet_bench: could not delete table {table}: {}",
            aws_sdk_dynamodb::error::DisplayErrorContext(error)
        );
    }
}

fn min_over_max(values: &[f64]) -> f64 {
    let max = values.iter().copied().fold(0.0, f64::max);
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    if max > 0.0 {
        min / max
    } else {
        0.0
    }
}

/// Requests per save: the workers' own, and in brackets their sequencers' share.
fn requests_cell(outcome: &Outcome) -> String {
    match (outcome.requests_per_save, outcome.log_requests_per_save) {
        (Some(own), Some(log)) => format!("{own:.2} (+{log:.2} log)"),
        (Some(own), None) => format!("{own:.2}"),
        (None, _) => "n/a".to_owned(),
    }
}

fn print_outcome(outcome: &Outcome) {
    let log = outcome.log.label();
    println!(
        "== {} P={} log {log}: {}/{} committed, {} errors ({} conflicts), {:.0} saves/s, fairness {:.2}, while all ran {} ({:.2} s), p50 {:.1} ms p99 {:.1} ms max {:.1} ms, requests/save {}, server CPU ms/save {}, verified: {}",
        outcome.target,
        outcome.processes,
        outcome.committed,
        outcome.commands,
        outcome.errors,
        outcome.conflicts,
        outcome.total_rate,
        outcome.fairness,
        outcome.fairness_all_ran.map(|f| format!("{f:.2}")).unwrap_or_else(|| "n/a".into()),
        outcome.window_seconds,
        outcome.latency.p50,
        outcome.latency.p99,
        outcome.latency.max,
        requests_cell(outcome),
        outcome.server_cpu_ms_per_save.map(|ms| format!("{ms:.2}")).unwrap_or_else(|| "n/a".into()),
        outcome.verified,
    );
    println!(
        "   per process saves/s: {}",
        outcome.per_process.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(" ")
    );
    if let Some(error) = &outcome.first_error {
        println!("   first error: {error}");
    }
    for failure in &outcome.failures {
        println!("   FAILURE: {failure}");
    }
}

/// One line of text for a markdown cell.
fn cell(text: &str) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ").replace('|', "\\|");
    match flat.char_indices().nth(160) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cores} cores ({cpu}), {} Linux {}, load average at start {}",
        std::env::consts::ARCH,
        kernel.trim(),
        load_average()
    )
}

/// The 1, 5 and 15 minute load averages, as /proc/loadavg gives them.
fn load_average() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

fn markdown(
    options: &Options,
    outcomes: &[Outcome],
    machine: &str,
    date: &str,
    minutes: f64,
) -> String {
    let mut text = String::new();
    text.push_str(&format!("<!-- fleet:begin {} -->\n", options.section));
    text.push_str(&format!("### {}\n\n", options.section));
    text.push_str(&format!(
        "- Machine: {machine}, at the end {}\n- Date: {date} (took {minutes:.1} min)\n",
        load_average()
    ));
    let targets: Vec<String> = options
        .targets
        .iter()
        .map(|t| format!("{}: {} commands per process", t.label, t.commands))
        .collect();
    text.push_str(&format!(
        "- Parameters: {}; {} aggregates and {} task(s) per process; aggregate cache {}; P = {}; warm-up {}; {}\n\n",
        targets.join(", "),
        options.aggregates,
        options.tasks,
        options.cache.as_deref().map(|s| format!("AGGREGATE_CACHE_MAXSIZE={s}")).unwrap_or_else(|| "off".into()),
        options.processes.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", "),
        match options.warmup {
            0 => "none".to_owned(),
            c => format!("2 processes × {c} commands per server and log setting, not reported"),
        },
        match options.repeat {
            1 => "one run per setting".to_owned(),
            r => format!(
                "{r} runs per setting: medians over the runs (max: the maximum), min–max in \
                 brackets, per-process rates of the median run, counts summed"
            ),
        }
    ));
    text.push_str("| server | P | log | committed / commands | errors | saves/s total | saves/s per process | fairness | fairness while all ran | p50 ms | p99 ms | max ms | requests/save | server CPU ms/save | verified |\n");
    text.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for o in outcomes {
        let errors = match (&o.first_error, o.errors) {
            (_, 0) => "0".to_owned(),
            (Some(first), n) => format!("{n} ({} conflicts): {}", o.conflicts, cell(first)),
            (None, n) => n.to_string(),
        };
        let verified = match o.failures.first() {
            None => o.verified.clone(),
            Some(first) => format!("FAILED: {}", cell(first)),
        };
        text.push_str(&format!(
            "| {} | {} | {} | {} / {} | {} | {} | {} | {:.2} | {} | {:.1} | {:.1} | {:.1} | {} | {} | {} |\n",
            o.target,
            o.processes,
            o.log.label(),
            o.committed,
            o.commands,
            errors,
            match o.rate_range {
                Some((min, max)) => format!("{:.0} ({min:.0}–{max:.0})", o.total_rate),
                None => format!("{:.0}", o.total_rate),
            },
            o.per_process.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(" "),
            o.fairness,
            match (o.fairness_all_ran, o.all_ran_range) {
                (Some(f), Some((min, max))) if o.runs > 1 => {
                    format!("{f:.2} ({min:.2}–{max:.2}; {:.1} s)", o.window_seconds)
                }
                (Some(f), _) => format!("{f:.2} ({:.1} s)", o.window_seconds),
                (None, _) => "n/a".into(),
            },
            o.latency.p50,
            o.latency.p99,
            o.latency.max,
            requests_cell(o),
            o.server_cpu_ms_per_save.map(|ms| format!("{ms:.2}")).unwrap_or_else(|| "n/a".into()),
            verified,
        ));
    }
    text.push_str(&format!("<!-- fleet:end {} -->\n", options.section));
    text
}

/// Puts `section` into the file in place of the section of the same name, or at its end.
fn write_section(options: &Options, section: &str) -> Result<(), String> {
    let begin = format!("<!-- fleet:begin {} -->", options.section);
    let end = format!("<!-- fleet:end {} -->\n", options.section);
    let existing = match std::fs::read_to_string(&options.out) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            "# Fleet benchmark\n\nWritten by `scripts/fleet.sh` (`benchmarks/examples/fleet_bench.rs`).\n\n"
                .to_owned()
        }
        Err(e) => return Err(format!("reading {}: {e}", options.out.display())),
    };
    let text = match (existing.find(&begin), existing.find(&end)) {
        (Some(start), Some(stop)) if stop > start => {
            format!("{}{section}{}", &existing[..start], &existing[stop + end.len()..])
        }
        _ => {
            let separator =
                if existing.ends_with("\n\n") || existing.is_empty() { "" } else { "\n" };
            format!("{existing}{separator}{section}")
        }
    };
    if let Some(parent) = options.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("creating {}: {e}", parent.display()))?;
    }
    std::fs::write(&options.out, text)
        .map_err(|e| format!("writing {}: {e}", options.out.display()))
}

async fn run() -> Result<bool, String> {
    let args: Vec<String> = std::env::args().collect();
    let options = Options::parse(&args)?;
    let machine = machine();
    let date = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC"))
        .map_err(|e| format!("formatting the date: {e}"))?;
    let started = std::time::Instant::now();
    let mut outcomes = Vec::new();
    let mut warmups_failed = false;
    for target in &options.targets {
        for &log in &options.logs {
            if options.warmup > 0 {
                let warmup = Target { commands: options.warmup, ..target.clone() };
                let outcome = run_one(&options, &warmup, 2, log).await;
                print!("(warm-up, not reported) ");
                print_outcome(&outcome);
                warmups_failed |= !outcome.failures.is_empty();
            }
        }
        // Settings interleaved, run by run, so that drift in the server's speed (DynamoDB
        // Local slows down as a run goes on) falls on every log setting alike.
        for &processes in &options.processes {
            let mut runs: Vec<Vec<Outcome>> = options.logs.iter().map(|_| Vec::new()).collect();
            for run in 1..=options.repeat {
                for (index, &log) in options.logs.iter().enumerate() {
                    let outcome = run_one(&options, target, processes, log).await;
                    if options.repeat > 1 {
                        print!("(run {run} of {}) ", options.repeat);
                    }
                    print_outcome(&outcome);
                    runs[index].push(outcome);
                }
            }
            outcomes.extend(runs.into_iter().filter_map(combine));
        }
    }
    let section =
        markdown(&options, &outcomes, &machine, &date, started.elapsed().as_secs_f64() / 60.0);
    write_section(&options, &section)?;
    println!("\n{section}");
    println!("(written to {})", options.out.display());
    Ok(!warmups_failed && outcomes.iter().all(|o| o.failures.is_empty()))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!(
                "fleet_bench: verification failed or a run did not complete (see FAILURE lines)"
            );
            std::process::ExitCode::FAILURE
        }
        Err(message) => {
            eprintln!("fleet_bench: {message}");
            std::process::ExitCode::from(2)
        }
    }
}
