//! Reliability on DynamoDB (moto or DynamoDB Local, as `DYNAMO_TEST_SERVER` says): racing
//! OS processes, a server that is killed, frozen, silent or unreachable, DynamoDB's failure
//! modes injected by the `fault-proxy` crate (throttling, server errors, cancelled and
//! in-progress transactions, connections reset before a request and responses lost after
//! it), and malformed items written behind the library's back.
//!
//! Racing processes run `examples/race_worker.rs` (built by `cargo test --workspace`, or
//! `cargo build --examples`). Tests that kill or freeze a server start their own server
//! of the same kind on a free loopback port and always stop it, also on panic.

mod support;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use eventsourcing_dynamodb::prelude::*;
use eventsourcing_dynamodb::{ConfigError, PersistenceError, StoredEvent};
use fault_proxy::{Fault, FaultConfig, FaultProxy};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// The same aggregate as `examples/race_worker.rs` (same topics).
#[aggregate(topic = "race:Dog")]
pub struct Dog {
    name: String,
    tricks: Vec<String>,
}

#[aggregate]
impl Dog {
    #[event("Registered")]
    pub fn register(name: String) -> Self {
        Dog { name, tricks: Vec::new() }
    }

    #[event("TrickAdded")]
    pub fn add_trick(&mut self, trick: String) {
        self.tricks.push(trick);
    }
}

/// The most any single call in these tests may take before the test calls it hung.
const HUNG: Duration = Duration::from_secs(60);

/// Runs `call`, failing the test if it does not return within [`HUNG`]; returns its
/// outcome and how long it took.
async fn timed<T>(what: &str, call: impl Future<Output = T>) -> (T, Duration) {
    let started = Instant::now();
    let outcome = tokio::time::timeout(HUNG, call)
        .await
        .unwrap_or_else(|_| panic!("{what} did not return within {HUNG:?}"));
    (outcome, started.elapsed())
}

async fn app_on(endpoint: &str, table: &str, extra: &[(&str, &str)]) -> Result<Application> {
    let mut builder = Application::builder("Reliability").isolated();
    for (key, value) in dynamo_env(endpoint, table) {
        builder = builder.env(key, value);
    }
    for (key, value) in extra {
        builder = builder.env(*key, *value);
    }
    builder.build().await
}

/// Asserts an operational error of an operation on `table`.
fn assert_operational(error: &Error, table: &str, what: &str) {
    match error {
        Error::Persistence(PersistenceError::Operational { operation, .. }) => {
            assert!(operation.contains(table), "{what}: the error names the table: {error}")
        }
        other => panic!("{what}: expected an operational error, got {other:?}"),
    }
}

/// Asserts the error of a save that the server never answered: operational, or (when an
/// attempt may have reached the server and reading back failed too) an unknown outcome,
/// naming `table` either way; never a conflict.
fn assert_unanswered_save(error: &Error, table: &str, what: &str) {
    match error {
        Error::Persistence(PersistenceError::OutcomeUnknown { operation, .. }) => {
            assert!(operation.contains(table), "{what}: the error names the table: {error}")
        }
        other => assert_operational(other, table, what),
    }
}

// ---------------------------------------------------------------------------------------
// A server of our own, and other servers that misbehave.

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind a loopback port").local_addr().unwrap().port()
}

/// A local DynamoDB server this test started, of the kind the run uses
/// (`DYNAMO_TEST_SERVER`: `moto`, the default, or `dynamodb-local`): killed (and reaped) on
/// drop, also when the test panics.
struct LocalServer {
    child: Option<Child>,
    port: u16,
    log: PathBuf,
}

impl LocalServer {
    fn start() -> LocalServer {
        LocalServer::start_on(free_port())
    }

    fn start_on(port: u16) -> LocalServer {
        let kind = std::env::var("DYNAMO_TEST_SERVER").unwrap_or_else(|_| "moto".to_owned());
        let log =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{kind}-reliability-{port}.log"));
        let file = std::fs::File::create(&log).expect("create the server log");
        let mut command = match kind.as_str() {
            "dynamodb-local" => {
                let home = std::env::var("DYNAMODB_LOCAL_HOME").expect(
                    "DYNAMODB_LOCAL_HOME names the folder of DynamoDBLocal.jar (scripts/test.sh sets it)",
                );
                let mut java = Command::new("java");
                java.current_dir(home).args([
                    "-Djava.library.path=./DynamoDBLocal_lib",
                    "-jar",
                    "DynamoDBLocal.jar",
                    "-inMemory",
                    "-sharedDb",
                    "-disableTelemetry",
                    "-port",
                    &port.to_string(),
                ]);
                java
            }
            _ => {
                let python = std::env::var("PYTHON").unwrap_or_else(|_| {
                    concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python").to_owned()
                });
                let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/moto_serial.py");
                let mut moto = Command::new(python);
                moto.args([script, "127.0.0.1", &port.to_string()]);
                moto
            }
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {kind} (scripts/test.sh installs it): {e}"));
        let mut server = LocalServer { child: Some(child), port, log };
        server.wait_until_it_answers();
        server
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("the server is running").id()
    }

    /// Whether the server answers an HTTP request (any answer will do).
    fn answers(&self) -> bool {
        let address = ([127, 0, 0, 1], self.port).into();
        let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_secs(1)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let request = format!(
            "POST / HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        let mut head = [0u8; 8];
        stream.write_all(request.as_bytes()).is_ok()
            && stream.read_exact(&mut head).is_ok()
            && head.starts_with(b"HTTP/1.")
    }

    fn wait_until_it_answers(&mut self) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if self.answers() {
                return;
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("the server exited ({status}); see {}", self.log.display());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "the server did not answer on port {} within 60 s; see {}",
            self.port,
            self.log.display()
        );
    }

    /// Sends `signal` (e.g. `-STOP`, `-CONT`) to the server process.
    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} {} failed", self.pid());
    }

    /// Kills the server at once (SIGKILL) and reaps it.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A loopback server that accepts connections and never answers; closed on drop.
struct Silent {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Silent {
    fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => held.push(stream),
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Silent { port, stop, thread: Some(thread) }
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Checks shared by the tests.

/// The trick (or name) in an event's state.
fn trick_of(event: &StoredEvent) -> String {
    let state: serde_json::Value = serde_json::from_slice(&event.state).expect("JSON state");
    match (&state["trick"], &state["name"]) {
        (serde_json::Value::String(trick), _) => trick.clone(),
        (_, serde_json::Value::String(name)) => format!("registered {name}"),
        _ => panic!("unexpected state {state}"),
    }
}

/// Reads the whole notification log and checks its ids are 1..=n without gaps.
async fn whole_log(app: &Application) -> Vec<eventsourcing_dynamodb::persistence::Notification> {
    let log = app.notification_log().select(1, 1_000_000, None, &[]).await.expect("read the log");
    let ids: Vec<u64> = log.iter().map(|n| n.id).collect();
    let expected: Vec<u64> = (1..=log.len() as u64).collect();
    assert_eq!(ids, expected, "notification ids are 1..=n without gaps");
    log
}

/// The stored events of an aggregate, as the recorder returns them.
async fn stored_events(app: &Application, id: Uuid) -> Vec<StoredEvent> {
    app.recorders().events.select_events(id, Default::default()).await.expect("select events")
}

/// The log and the aggregates `a` and `b`, which are only ever saved together (a first,
/// then b, one trick each): the log holds whole saves only, and the aggregates (read after
/// the log, while writes may go on) hold at least what the log holds.
/// With `quiescent` (no writes going on), everything agrees exactly.
async fn check_pairs(app: &Application, a: Uuid, b: Uuid, quiescent: bool) -> usize {
    let log = whole_log(app).await;
    assert!(log.len() % 2 == 0, "the log holds whole saves only ({} entries)", log.len());
    let mut logged = Vec::new();
    for (save, pair) in log.chunks(2).enumerate() {
        let (first, second) = (&pair[0].event, &pair[1].event);
        assert_eq!((first.originator_id, second.originator_id), (a, b), "save {save}: a, then b");
        let version = save as u64 + 1;
        assert_eq!((first.originator_version, second.originator_version), (version, version));
        assert_eq!(trick_of(first).replace("registered A", "registered B"), trick_of(second));
        logged.push(trick_of(first));
    }
    let tricks: Vec<String> = logged.iter().skip(1).cloned().collect();
    let dog_a = app.repository().get::<Dog>(a).await.expect("load a");
    let dog_b = app.repository().get::<Dog>(b).await.expect("load b");
    assert!(dog_a.tricks.starts_with(&tricks), "a has every logged trick: {:?}", dog_a.tricks);
    assert!(dog_b.tricks.starts_with(&dog_a.tricks), "b has every trick of a (read before it)");
    assert_eq!(dog_a.version(), 1 + dog_a.tricks.len() as u64);
    assert_eq!(dog_b.version(), 1 + dog_b.tricks.len() as u64);
    if quiescent {
        assert_eq!(dog_a.tricks, tricks);
        assert_eq!(dog_b.tricks, tricks);
        for (id, offset) in [(a, 0), (b, 1)] {
            let logged: Vec<&StoredEvent> =
                log.iter().skip(offset).step_by(2).map(|n| &n.event).collect();
            let stored = stored_events(app, id).await;
            assert_eq!(
                stored.iter().collect::<Vec<_>>(),
                logged,
                "events and log agree byte for byte"
            );
        }
    }
    tricks.len()
}

// ---------------------------------------------------------------------------------------
// 1. Racing OS processes.

/// An example binary; `cargo test --workspace` (or `cargo build --examples`) builds it.
fn example(name: &str) -> Command {
    let mut path: PathBuf = std::env::current_exe().expect("test binary path");
    path.pop();
    if path.ends_with("deps") {
        path.pop();
    }
    let binary = path.join("examples").join(name);
    assert!(
        binary.exists(),
        "{} is not built: run cargo test --workspace, or cargo build --examples",
        binary.display()
    );
    let mut command = Command::new(binary);
    for variable in ["PERSISTENCE_MODULE", "DYNAMO_ENDPOINT_URL", "DYNAMO_TABLE", "CREATE_TABLE"] {
        command.env_remove(variable);
    }
    command
}

const WORKERS: usize = 4;
const COMMANDS: usize = 25;

struct Committed {
    worker: usize,
    command: usize,
    dogs: Vec<Uuid>,
    trick: String,
}

/// Runs the race workers against `table` on dogs `a` and `b` and returns what they
/// committed, and how many conflicts they reported.
async fn run_workers(
    endpoint: &str,
    table: &str,
    dogs: [Uuid; 2],
    update: bool,
) -> (Vec<Committed>, usize) {
    let mut workers = Vec::new();
    for worker in 0..WORKERS {
        let mut command = example("race_worker");
        command
            .args(["--worker", &worker.to_string()])
            .args(["--dogs", &format!("{},{}", dogs[0], dogs[1])])
            .args(["--commands", &COMMANDS.to_string()])
            .env("PERSISTENCE_MODULE", "eventsourcing_dynamodb")
            .env("DYNAMO_ENDPOINT_URL", endpoint)
            .env("DYNAMO_TABLE", table)
            .env("CREATE_TABLE", "false")
            .env("DYNAMO_NOTIFICATION_LOG", "transactional");
        if update {
            command.arg("--update");
        }
        let mut command = tokio::process::Command::from(command);
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("spawn race_worker");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        workers.push((child, lines));
    }
    async fn stderr_of(child: &mut tokio::process::Child) -> String {
        let mut text = String::new();
        if let Some(mut stderr) = child.stderr.take() {
            let _ = stderr.read_to_string(&mut text).await;
        }
        text
    }
    // Every worker has opened the application: start them all at once.
    for (worker, (child, lines)) in workers.iter_mut().enumerate() {
        let (line, _) = timed("a worker's start", lines.next_line()).await;
        if line.as_ref().ok().and_then(|l| l.as_deref()) != Some("ready") {
            panic!("worker {worker} did not start ({line:?}): {}", stderr_of(child).await);
        }
    }
    for (child, _) in &mut workers {
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"go\n").await.expect("start a worker");
    }
    let mut committed = Vec::new();
    let mut conflicts = 0;
    for (worker, (mut child, mut lines)) in workers.into_iter().enumerate() {
        let mut last = None;
        loop {
            let (line, _) = timed("a worker's output", lines.next_line()).await;
            match line.expect("read a worker's output") {
                Some(line) => last = Some(line),
                None => break,
            }
        }
        let (status, _) = timed("a worker's exit", child.wait()).await;
        let status = status.unwrap();
        assert!(
            status.success(),
            "worker {worker} failed ({status}): {}",
            stderr_of(&mut child).await
        );
        let report: serde_json::Value = serde_json::from_str(last.as_deref().unwrap_or_default())
            .expect("a worker's JSON report");
        let tricks = report["committed"].as_array().expect("committed");
        let reported = report["conflicts"].as_u64().expect("conflicts") as usize;
        assert_eq!(
            tricks.len() + reported,
            COMMANDS,
            "worker {worker}: every command committed or conflicted"
        );
        conflicts += reported;
        for entry in tricks {
            let trick = entry["trick"].as_str().unwrap().to_owned();
            let command = trick.rsplit_once("-c").unwrap().1.parse().unwrap();
            let dogs = entry["dogs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| Uuid::parse_str(d.as_str().unwrap()).unwrap())
                .collect();
            committed.push(Committed { worker, command, dogs, trick });
        }
    }
    (committed, conflicts)
}

/// Checks the table after a race: the stored tricks are exactly the committed ones, the
/// versions match, the log is gapless and agrees with the events, multi-aggregate saves
/// are adjacent in the log, and each worker's commits appear in the order it made them.
async fn check_race(app: &Application, dogs: [Uuid; 2], committed: &[Committed]) {
    let mut expected: BTreeMap<Uuid, BTreeSet<&str>> = BTreeMap::new();
    for entry in committed {
        for dog in &entry.dogs {
            assert!(
                expected.entry(*dog).or_default().insert(&entry.trick),
                "trick committed twice"
            );
        }
    }
    let mut total = 0;
    for dog in dogs {
        let stored = app.repository().get::<Dog>(dog).await.expect("load a dog");
        let stored_set: BTreeSet<&str> = stored.tricks.iter().map(String::as_str).collect();
        assert_eq!(stored.tricks.len(), stored_set.len(), "no trick stored twice");
        let expected = expected.get(&dog).cloned().unwrap_or_default();
        assert_eq!(stored_set, expected, "the stored tricks are exactly the committed ones");
        assert_eq!(stored.version(), 1 + stored.tricks.len() as u64, "versions match");
        total += stored.tricks.len();
    }

    let log = whole_log(app).await;
    assert_eq!(log.len(), 2 + total, "one notification per stored event, none more");
    let mut stored: HashMap<(Uuid, u64), StoredEvent> = HashMap::new();
    for dog in dogs {
        for event in stored_events(app, dog).await {
            stored.insert((event.originator_id, event.originator_version), event);
        }
    }
    assert_eq!(stored.len(), log.len());
    let mut last_version: HashMap<Uuid, u64> = HashMap::new();
    let mut position: HashMap<(Uuid, String), u64> = HashMap::new();
    for notification in &log {
        let event = &notification.event;
        assert_eq!(
            stored.get(&(event.originator_id, event.originator_version)),
            Some(event),
            "notification {} is the stored event",
            notification.id
        );
        let previous = last_version.insert(event.originator_id, event.originator_version);
        assert_eq!(
            previous.unwrap_or(0) + 1,
            event.originator_version,
            "each aggregate's events in order"
        );
        position.insert((event.originator_id, trick_of(event)), notification.id);
    }
    let mut by_worker: BTreeMap<usize, Vec<(usize, u64)>> = BTreeMap::new();
    for entry in committed {
        let ids: Vec<u64> =
            entry.dogs.iter().map(|dog| position[&(*dog, entry.trick.clone())]).collect();
        if let [first, second] = ids[..] {
            assert_eq!(first + 1, second, "{}: one save, adjacent in the log", entry.trick);
        }
        by_worker.entry(entry.worker).or_default().push((entry.command, ids[0]));
    }
    for (worker, mut commits) in by_worker {
        commits.sort_unstable();
        assert!(
            commits.windows(2).all(|w| w[0].1 < w[1].1),
            "worker {worker}'s commits are logged in the order it made them"
        );
    }
}

async fn register_pair(app: &Application) -> [Uuid; 2] {
    let mut a = Dog::register("A".into());
    let mut b = Dog::register("B".into());
    assert_eq!(app.save(&mut [&mut a, &mut b]).await.unwrap(), [1, 2]);
    [a.id(), b.id()]
}

/// 4 OS processes run 25 commands each on the same 2 aggregates (a third of them saving
/// both in one transaction); conflicts are reported and skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_processes_lose_nothing() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let table = unique_table("race-procs");
    let app = app_on(&endpoint, &table, &[]).await.unwrap();
    let dogs = register_pair(&app).await;
    let started = Instant::now();
    let (committed, conflicts) = run_workers(&endpoint, &table, dogs, false).await;
    eprintln!(
        "racing processes: {} committed, {conflicts} conflicts in {:.1?}",
        committed.len(),
        started.elapsed()
    );
    assert!(!committed.is_empty());
    check_race(&app, dogs, &committed).await;
}

/// The same race through `Application::update`: every command commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_processes_with_update_commit_everything() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let table = unique_table("race-update");
    let app = app_on(&endpoint, &table, &[]).await.unwrap();
    let dogs = register_pair(&app).await;
    let started = Instant::now();
    let (committed, conflicts) = run_workers(&endpoint, &table, dogs, true).await;
    eprintln!(
        "racing processes with update: {} committed in {:.1?}",
        committed.len(),
        started.elapsed()
    );
    assert_eq!(conflicts, 0);
    assert_eq!(committed.len(), WORKERS * COMMANDS, "every command committed");
    check_race(&app, dogs, &committed).await;
}

// ---------------------------------------------------------------------------------------
// 2. Server faults in the middle of a workload.

/// The most one call may take with `DYNAMO_TIMEOUT_SECONDS=timeout`: a save may make four
/// calls that each wait out the timeout (re-reading the log's end, writing until the
/// deadline, then reading its items back twice to learn the outcome), plus slack for a
/// loaded machine.
fn call_bound(timeout: u64) -> Duration {
    Duration::from_secs(4 * timeout + 5)
}

/// A save in a loop on a server that is then killed: every call afterwards fails with
/// a typed error within a bounded time, and once a server runs again (an in-memory server keeps nothing
/// across restarts, so with a fresh table) a new application works, and so does the old one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_mid_workload() {
    if dynamo_endpoint().is_none() {
        return;
    }
    let mut server = LocalServer::start();
    let endpoint = server.endpoint();
    let table = unique_table("killed");
    let settings = [("DYNAMO_TIMEOUT_SECONDS", "5")];
    let app = app_on(&endpoint, &table, &settings).await.unwrap();
    let reader = app_on(&endpoint, &table, &settings).await.unwrap();
    let [a, b] = register_pair(&app).await;

    let saved = Arc::new(AtomicUsize::new(0));
    let workload = {
        let (app, saved) = (app.clone(), Arc::clone(&saved));
        tokio::spawn(async move {
            let mut dog_a = app.repository().get::<Dog>(a).await.unwrap();
            let mut dog_b = app.repository().get::<Dog>(b).await.unwrap();
            let mut failures = Vec::new();
            for save in 0..10_000 {
                dog_a.add_trick(format!("s{save}"));
                dog_b.add_trick(format!("s{save}"));
                let (outcome, took) =
                    timed("a save", app.save(&mut [&mut dog_a, &mut dog_b])).await;
                match outcome {
                    Ok(_) => {
                        saved.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(error) => failures.push((error, took)),
                }
                if failures.len() == 3 {
                    return failures;
                }
            }
            panic!("the workload never failed");
        })
    };

    // While the workload runs: whole saves only, and the aggregates agree with the log.
    for target in [15, 30] {
        while saved.load(Ordering::SeqCst) < target {
            assert!(!workload.is_finished(), "the workload stopped early");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        check_pairs(&reader, a, b, false).await;
    }
    let before = saved.load(Ordering::SeqCst);
    server.kill();
    let (failures, _) = timed("the workload", workload).await;
    let failures = failures.unwrap();
    let bound = call_bound(5);
    for (error, took) in &failures {
        assert_unanswered_save(error, &table, "a save after the kill");
        assert!(*took < bound, "a failing save took {took:?}: {error}");
    }
    let (loaded, took_get) = timed("a get", app.repository().get::<Dog>(a)).await;
    let Err(error) = loaded else { panic!("no server, no aggregate") };
    assert_operational(&error, &table, "get");
    let (max, took_log) = timed("a log read", app.notification_log().max_notification_id()).await;
    assert_operational(&max.expect_err("no server, no log"), &table, "max_notification_id");
    assert!(took_get < bound && took_log < bound, "get {took_get:?}, log {took_log:?}");
    eprintln!(
        "killed after {before} saves; failing calls took {:?}, get {took_get:?}, log {took_log:?}",
        failures.iter().map(|(_, took)| *took).collect::<Vec<_>>()
    );

    // The server restarts empty: the table is gone, and the old application says so.
    let server = LocalServer::start_on(server.port);
    let mut rex = Dog::register("Rex".into());
    let (missing, _) = timed("a save without table", app.save(&mut [&mut rex])).await;
    let missing = missing.unwrap_err().to_string();
    assert!(
        missing.contains(&format!("table {table} does not exist"))
            && missing.contains("CREATE_TABLE"),
        "{missing}"
    );

    // A new application creates the table and works; so does the old one, which re-reads
    // the log's end rather than trusting the position it knew before the kill.
    let fresh = app_on(&server.endpoint(), &table, &settings).await.unwrap();
    let mut fido = Dog::register("Fido".into());
    assert_eq!(fresh.save(&mut [&mut fido]).await.unwrap(), [1]);
    assert_eq!(app.save(&mut [&mut rex]).await.unwrap(), [2]);
    let mut rex = fresh.repository().get::<Dog>(rex.id()).await.unwrap();
    rex.add_trick("sit".into());
    assert_eq!(fresh.save(&mut [&mut rex]).await.unwrap(), [3]);
    assert_eq!(app.repository().get::<Dog>(rex.id()).await.unwrap().tricks, ["sit"]);
    assert_eq!(whole_log(&app).await.len(), 3);
}

/// A frozen server (SIGSTOP): calls time out with typed errors within the configured
/// timeout; once it runs again it serves the requests it had queued, so a save that timed
/// out may be committed after all: it is then stored whole (log and events agree), saving
/// the same aggregates again cannot store it twice, and the application carries on with
/// the right notification ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_server_times_out_and_recovers() {
    if dynamo_endpoint().is_none() {
        return;
    }
    let server = LocalServer::start();
    let table = unique_table("frozen");
    // The table is made with the default timeout: a server just started (a cold JVM, on a
    // loaded machine) can take longer than 2 s to create it, which is not what this tests.
    drop(app_on(&server.endpoint(), &table, &[]).await.unwrap());
    let app = app_on(&server.endpoint(), &table, &[("DYNAMO_TIMEOUT_SECONDS", "2")]).await.unwrap();
    let [a, b] = register_pair(&app).await;
    let mut dog_a = app.repository().get::<Dog>(a).await.unwrap();
    let mut dog_b = app.repository().get::<Dog>(b).await.unwrap();
    for save in 0..5 {
        dog_a.add_trick(format!("s{save}"));
        dog_b.add_trick(format!("s{save}"));
        app.save(&mut [&mut dog_a, &mut dog_b]).await.unwrap();
    }

    server.signal("-STOP");
    let thaw = scopeguard(|| server.signal("-CONT"));
    dog_a.add_trick("frozen".into());
    dog_b.add_trick("frozen".into());
    let (saved, took_save) = timed("a save", app.save(&mut [&mut dog_a, &mut dog_b])).await;
    let (loaded, took_get) = timed("a get", app.repository().get::<Dog>(a)).await;
    drop(thaw);
    assert_unanswered_save(&saved.unwrap_err(), &table, "a save on a frozen server");
    let Err(error) = loaded else { panic!("no answer, no aggregate") };
    assert_operational(&error, &table, "get");
    let bound = call_bound(2);
    assert!(took_save < bound && took_get < bound, "save {took_save:?}, get {took_get:?}");

    // The server serves what it had queued; the timed-out save is stored whole or not at all.
    let tricks = check_pairs(&app, a, b, true).await;
    let committed = tricks == 6;
    assert!(tricks == 5 || committed, "{tricks} tricks");
    eprintln!(
        "frozen: save failed after {took_save:?}, get after {took_get:?}; the timed-out save was {} after the thaw",
        if committed { "committed" } else { "not committed" }
    );
    // Saving the same aggregates again (their events are still pending) commits them once:
    // a conflict if the timed-out save was committed, a success if it was not.
    let retried = app.save(&mut [&mut dog_a, &mut dog_b]).await;
    match &retried {
        Err(error) => assert!(committed && error.is_conflict(), "{error}"),
        Ok(ids) => assert!(!committed && ids == &[13, 14], "{ids:?}"),
    }
    assert_eq!(check_pairs(&app, a, b, true).await, 6, "the frozen save is stored once");
    let mut dog_a = app.repository().get::<Dog>(a).await.unwrap();
    let mut dog_b = app.repository().get::<Dog>(b).await.unwrap();
    assert_eq!(dog_a.tricks.last().map(String::as_str), Some("frozen"));
    dog_a.add_trick("after".into());
    dog_b.add_trick("after".into());
    assert_eq!(app.save(&mut [&mut dog_a, &mut dog_b]).await.unwrap(), [15, 16]);
    assert_eq!(check_pairs(&app, a, b, true).await, 7);
}

/// A proxy in front of `endpoint` that injects nothing until configured.
async fn proxy_to(endpoint: &str) -> FaultProxy {
    FaultProxy::start(endpoint, FaultConfig::none().seed(7)).await.expect("start the fault proxy")
}

/// Loses the responses of the next `count` requests for `operation` (after the server
/// applied them).
fn lose_next(proxy: &FaultProxy, operation: &str, count: u64) {
    let spent = proxy.counts().total();
    proxy.configure(
        FaultConfig::none().only(&[operation]).rate(Fault::LoseResponse, 1.0).limit(spent + count),
    );
}

/// Responses lost after the server committed a transaction: the SDK sends the request
/// again (same token), the retry is answered with success or finds its own items, and the
/// save reports the success it was (never a conflict, never a second copy). When every
/// attempt's response is lost, the recorder reads the items back and reports the commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_responses_are_not_conflicts() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let table = unique_table("lost");
    let direct = app_on(&endpoint, &table, &[]).await.unwrap();
    let proxy = proxy_to(&endpoint).await;
    let app = app_on(&proxy.endpoint(), &table, &[("DYNAMO_TIMEOUT_SECONDS", "3")]).await.unwrap();
    let [a, b] = register_pair(&app).await;
    let mut dog_a = app.repository().get::<Dog>(a).await.unwrap();
    let mut dog_b = app.repository().get::<Dog>(b).await.unwrap();
    let mut next = 3;
    for lose in [1, 2] {
        let before = proxy.counts().of(Fault::LoseResponse);
        lose_next(&proxy, "TransactWriteItems", lose);
        dog_a.add_trick(format!("lost {lose}"));
        dog_b.add_trick(format!("lost {lose}"));
        let (saved, took) = timed("a save", app.save(&mut [&mut dog_a, &mut dog_b])).await;
        assert_eq!(proxy.counts().of(Fault::LoseResponse) - before, lose, "responses lost");
        let ids = saved.unwrap_or_else(|e| panic!("{lose} lost responses: {e}"));
        assert_eq!(ids, [next, next + 1]);
        next += 2;
        eprintln!("{lose} lost responses: saved in {took:?}");
    }
    assert_eq!(check_pairs(&direct, a, b, true).await, 2, "each save stored once");

    // Every attempt's response lost: the read-back finds the save stored, under its ids.
    let before = proxy.counts().of(Fault::LoseResponse);
    proxy.configure(
        FaultConfig::none().only(&["TransactWriteItems"]).rate(Fault::LoseResponse, 1.0),
    );
    dog_a.add_trick("all lost".into());
    dog_b.add_trick("all lost".into());
    let (saved, took) = timed("a save", app.save(&mut [&mut dog_a, &mut dog_b])).await;
    proxy.configure(FaultConfig::none());
    let lost = proxy.counts().of(Fault::LoseResponse) - before;
    assert!(lost >= 3, "every attempt's response was lost ({lost})");
    assert_eq!(saved.unwrap_or_else(|e| panic!("all responses lost: {e}")), [7, 8]);
    eprintln!("all {lost} responses lost: reported committed after {took:?}");
    assert_eq!(check_pairs(&direct, a, b, true).await, 3, "stored once");
    dog_a.add_trick("after".into());
    dog_b.add_trick("after".into());
    assert_eq!(app.save(&mut [&mut dog_a, &mut dog_b]).await.unwrap(), [9, 10]);
    assert_eq!(check_pairs(&direct, a, b, true).await, 4);
}

/// The same for a single conditional `PutItem` (the notification log off): a lost response
/// is reported as the success it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_put_item_response_is_not_a_conflict() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let table = unique_table("lost-put");
    let settings = [("DYNAMO_NOTIFICATION_LOG", "false"), ("DYNAMO_TIMEOUT_SECONDS", "3")];
    let direct = app_on(&endpoint, &table, &settings).await.unwrap();
    let proxy = proxy_to(&endpoint).await;
    let app = app_on(&proxy.endpoint(), &table, &settings).await.unwrap();
    let mut dog = Dog::register("Fido".into());
    lose_next(&proxy, "PutItem", 1);
    let (saved, _) = timed("a save", app.save(&mut [&mut dog])).await;
    assert_eq!(proxy.counts().of(Fault::LoseResponse), 1);
    saved.unwrap_or_else(|e| panic!("a lost PutItem response: {e}"));
    dog.add_trick("sit".into());
    lose_next(&proxy, "PutItem", 2);
    let (saved, _) = timed("a save", app.save(&mut [&mut dog])).await;
    assert_eq!(proxy.counts().of(Fault::LoseResponse), 3);
    saved.unwrap_or_else(|e| panic!("two lost PutItem responses: {e}"));
    dog.add_trick("roll over".into());
    proxy.configure(FaultConfig::none().only(&["PutItem"]).rate(Fault::LoseResponse, 1.0));
    let (saved, _) = timed("a save", app.save(&mut [&mut dog])).await;
    proxy.configure(FaultConfig::none());
    saved.unwrap_or_else(|e| panic!("every PutItem response lost: {e}"));
    assert_eq!(stored_events(&direct, dog.id()).await.len(), 3);
    let stored = direct.repository().get::<Dog>(dog.id()).await.unwrap();
    assert_eq!(stored.tricks, ["sit", "roll over"]);
}

/// When the write's responses are lost and the read-back fails too, the save says that
/// its outcome is unknown (never "nothing was written"); the data is stored once, and
/// saving the same aggregates again is a conflict, not a second copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_outcomes_are_reported_as_unknown() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let table = unique_table("unknown");
    let direct = app_on(&endpoint, &table, &[]).await.unwrap();
    let proxy = proxy_to(&endpoint).await;
    let app = app_on(&proxy.endpoint(), &table, &[("DYNAMO_TIMEOUT_SECONDS", "2")]).await.unwrap();
    let [a, b] = register_pair(&app).await;
    let mut dog_a = app.repository().get::<Dog>(a).await.unwrap();
    let mut dog_b = app.repository().get::<Dog>(b).await.unwrap();
    proxy.configure(
        FaultConfig::none().only(&["TransactWriteItems", "GetItem"]).rate(Fault::LoseResponse, 1.0),
    );
    dog_a.add_trick("unknown".into());
    dog_b.add_trick("unknown".into());
    let (saved, took) = timed("a save", app.save(&mut [&mut dog_a, &mut dog_b])).await;
    proxy.configure(FaultConfig::none());
    let error = saved.expect_err("neither the write nor the read-back was answered");
    match &error {
        Error::Persistence(persistence) => {
            assert!(persistence.is_outcome_unknown(), "{error}");
            assert_eq!(persistence.python_class(), "OperationalError");
        }
        other => panic!("expected an unknown outcome, got {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains("outcome unknown") && !message.contains("nothing"), "{message}");
    eprintln!("unknown outcome after {took:?}: {message} ({})", proxy.counts());
    assert_eq!(check_pairs(&direct, a, b, true).await, 1, "the save did commit, once");
    let again = app.save(&mut [&mut dog_a, &mut dog_b]).await.unwrap_err();
    assert!(again.is_conflict(), "{again}");
    assert_eq!(check_pairs(&direct, a, b, true).await, 1, "still stored once");
}

/// `Application::update` whose save's outcome is unknown (writes and the recorder's
/// read-back unanswered) reloads the aggregate to find out: the save had committed, so the
/// command is not run again and the update reports success; the trick is stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_resolves_unknown_outcomes_by_reloading() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let table = unique_table("update-unknown");
    let direct = app_on(&endpoint, &table, &[]).await.unwrap();
    let proxy = proxy_to(&endpoint).await;
    let app = app_on(&proxy.endpoint(), &table, &[("DYNAMO_TIMEOUT_SECONDS", "2")]).await.unwrap();
    let mut dog = Dog::register("Fido".into());
    app.save(&mut [&mut dog]).await.unwrap();
    // Queries (how aggregates load) are answered; the write and the GetItems of the
    // recorder's read-back are not.
    proxy.configure(
        FaultConfig::none().only(&["TransactWriteItems", "GetItem"]).rate(Fault::LoseResponse, 1.0),
    );
    let runs = AtomicUsize::new(0);
    let (updated, took) = timed(
        "an update",
        app.update::<Dog, _>(dog.id(), |dog| {
            runs.fetch_add(1, Ordering::SeqCst);
            dog.add_trick("sit".into());
        }),
    )
    .await;
    proxy.configure(FaultConfig::none());
    updated.unwrap_or_else(|e| panic!("the update committed, so it succeeds: {e}"));
    assert_eq!(runs.load(Ordering::SeqCst), 1, "the command ran once");
    assert_eq!(direct.repository().get::<Dog>(dog.id()).await.unwrap().tricks, ["sit"]);
    eprintln!("update with an unknown outcome resolved in {took:?} ({})", proxy.counts());
}

/// What the caller was told about each save of a faulted workload.
#[derive(Default)]
struct Told {
    committed: Vec<String>,
    failed: Vec<(String, String)>,
    unknown: usize,
    conflicts: usize,
}

/// Every fault DynamoDB shows a writer, at rates that fire dozens of times in 40 saves:
/// responses lost after the write was applied, retries answered with in-progress,
/// conflict, throttling, provisioned-throughput and server errors, and fresh requests
/// throttled, cancelled or reset. Reads are not faulted, so no outcome stays unknown.
fn write_faults(seed: u64) -> FaultConfig {
    FaultConfig::none()
        .seed(seed)
        .only(&["PutItem", "TransactWriteItems"])
        .rate(Fault::LoseResponse, 0.25)
        .rate(Fault::Throttling, 0.05)
        .rate(Fault::ProvisionedThroughput, 0.05)
        .rate(Fault::InternalError, 0.05)
        .rate(Fault::Unavailable, 0.03)
        .rate(Fault::CancelConflict, 0.05)
        .rate(Fault::CancelThrottling, 0.03)
        .rate(Fault::CancelProvisioned, 0.03)
        .rate(Fault::ResetBefore, 0.05)
        .after_loss(Fault::InProgress, 0.2)
        .after_loss(Fault::CancelConflict, 0.15)
        .after_loss(Fault::Throttling, 0.15)
        .after_loss(Fault::ProvisionedThroughput, 0.15)
        .after_loss(Fault::InternalError, 0.15)
}

/// One writer saves 40 tricks through the faulting proxy, each save one command on a dog
/// (with the log on, one transaction of the event and its log item; with it off, one
/// `PutItem`). Afterwards: every save told committed is stored once, every save told failed
/// is absent, no conflict was reported (there was no other writer), and the log is gapless.
async fn faulted_writer(log: bool, seed: u64) -> (Told, fault_proxy::FaultCounts) {
    let endpoint = dynamo_endpoint().expect("a local DynamoDB server");
    let table = unique_table("faulted");
    let log_setting = ("DYNAMO_NOTIFICATION_LOG", if log { "transactional" } else { "false" });
    let direct = app_on(&endpoint, &table, &[log_setting]).await.unwrap();
    let proxy = proxy_to(&endpoint).await;
    let app = app_on(&proxy.endpoint(), &table, &[log_setting]).await.unwrap();
    let mut dog = Dog::register("Fido".into());
    app.save(&mut [&mut dog]).await.unwrap();
    proxy.configure(write_faults(seed));
    let mut told = Told::default();
    for command in 0..40 {
        let trick = format!("trick {command}");
        dog.add_trick(trick.clone());
        let (saved, _) = timed("a save", app.save(&mut [&mut dog])).await;
        match saved {
            Ok(_) => told.committed.push(trick),
            Err(error) => {
                match &error {
                    Error::Persistence(e) if e.is_outcome_unknown() => told.unknown += 1,
                    e if e.is_conflict() => told.conflicts += 1,
                    _ => {}
                }
                told.failed.push((trick, error.to_string()));
                dog = direct.repository().get::<Dog>(dog.id()).await.unwrap();
            }
        }
    }
    proxy.configure(FaultConfig::none());
    let counts = proxy.counts();
    let stored = direct.repository().get::<Dog>(dog.id()).await.unwrap();
    for trick in &told.committed {
        let copies = stored.tricks.iter().filter(|t| *t == trick).count();
        assert_eq!(copies, 1, "{trick} was reported committed: stored once ({counts})");
    }
    for (trick, error) in &told.failed {
        assert!(
            !stored.tricks.contains(trick),
            "{trick} was reported failed ({error}) but is stored"
        );
    }
    assert_eq!(stored.tricks.len(), told.committed.len(), "nothing stored that was not reported");
    if log {
        let notifications = whole_log(&direct).await;
        assert_eq!(notifications.len() as u64, stored.version(), "one notification per event");
    }
    (told, counts)
}

/// Injected faults on every write, log on (transactions): nothing lost, nothing doubled,
/// no fault reported as a conflict, no unknown outcome (reads are not faulted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faulted_transactions_report_every_outcome_truly() {
    if dynamo_endpoint().is_none() {
        return;
    }
    let (told, counts) = faulted_writer(true, 11).await;
    eprintln!(
        "faulted transactions: {} committed, {} failed, {} unknown, {} conflicts; injected: {counts}",
        told.committed.len(), told.failed.len(), told.unknown, told.conflicts
    );
    assert!(counts.total() >= 24, "dozens of faults injected: {counts}");
    for fault in [Fault::LoseResponse, Fault::Throttling, Fault::CancelConflict, Fault::ResetBefore]
    {
        assert!(counts.of(fault) > 0, "{fault} injected: {counts}");
    }
    assert!(counts.of(Fault::InProgress) > 0, "retries answered in-progress: {counts}");
    assert_eq!(told.conflicts, 0, "a fault reported as a conflict: {:?}", told.failed);
    assert_eq!(told.unknown, 0, "unknown outcomes with unfaulted reads: {:?}", told.failed);
    assert_eq!(told.committed.len(), 40, "every save committed: {:?}", told.failed);
}

/// The same with the log off: each save is one conditional `PutItem`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faulted_put_items_report_every_outcome_truly() {
    if dynamo_endpoint().is_none() {
        return;
    }
    let (told, counts) = faulted_writer(false, 12).await;
    eprintln!(
        "faulted PutItems: {} committed, {} failed, {} unknown, {} conflicts; injected: {counts}",
        told.committed.len(),
        told.failed.len(),
        told.unknown,
        told.conflicts
    );
    assert!(counts.total() >= 24, "dozens of faults injected: {counts}");
    for fault in [Fault::LoseResponse, Fault::Throttling, Fault::InternalError, Fault::ResetBefore]
    {
        assert!(counts.of(fault) > 0, "{fault} injected: {counts}");
    }
    assert_eq!(told.conflicts, 0, "a fault reported as a conflict: {:?}", told.failed);
    assert_eq!(told.unknown, 0, "unknown outcomes with unfaulted reads: {:?}", told.failed);
    assert_eq!(told.committed.len(), 40, "every save committed: {:?}", told.failed);
}

/// Racing OS processes through the faulting proxy (with added latency), every command through
/// `Application::update`: every command commits exactly once, the log stays gapless and
/// in order, and no worker sees an error (a worker exits on any error but a conflict).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_processes_through_faults_commit_everything_once() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let table = unique_table("race-faults");
    let app = app_on(&endpoint, &table, &[]).await.unwrap();
    let dogs = register_pair(&app).await;
    let proxy = proxy_to(&endpoint).await;
    let mut faults = write_faults(21);
    // Fewer faults than for one writer: the racing workers add real conflicts.
    for (_, rate) in faults.rates.iter_mut().chain(faults.after_loss.iter_mut()) {
        *rate /= 2.0;
    }
    // And a region's round trip, which makes the workers' requests overlap for longer.
    proxy.configure(faults.latency(Duration::from_millis(2), Duration::from_millis(3)));
    let started = Instant::now();
    let (committed, conflicts) = run_workers(&proxy.endpoint(), &table, dogs, true).await;
    proxy.configure(FaultConfig::none());
    let counts = proxy.counts();
    eprintln!(
        "racing processes through faults: {} committed in {:.1?}; injected: {counts}",
        committed.len(),
        started.elapsed()
    );
    assert!(counts.total() >= 24, "dozens of faults injected: {counts}");
    assert!(counts.of(Fault::LoseResponse) > 0, "{counts}");
    assert!(counts.delayed > 0, "latency added: {counts}");
    assert_eq!(conflicts, 0);
    assert_eq!(committed.len(), WORKERS * COMMANDS, "every command committed");
    check_race(&app, dogs, &committed).await;
}

/// Runs `f` on drop (to resume a frozen server even when the test panics).
fn scopeguard(f: impl FnOnce()) -> impl Drop {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
            }
        }
    }
    Guard(Some(f))
}

// ---------------------------------------------------------------------------------------
// 3. An endpoint that cannot be used at start.

fn store_error(error: &Error) -> &PersistenceError {
    match error {
        Error::Config(ConfigError::Store { source, .. }) => source,
        other => panic!("expected a store error, got {other:?}"),
    }
}

/// Nothing listens on the endpoint: building the application fails quickly with an
/// operational error naming the operation and the table (with the default timeout too).
#[tokio::test]
async fn unreachable_endpoint_fails_the_build() {
    let port = free_port();
    let table = unique_table("unreachable");
    for timeout in [Some("5"), None] {
        let extra: Vec<(&str, &str)> =
            timeout.iter().map(|t| ("DYNAMO_TIMEOUT_SECONDS", *t)).collect();
        let (built, took) =
            timed("build", app_on(&format!("http://127.0.0.1:{port}"), &table, &extra)).await;
        let error = built.unwrap_err();
        match store_error(&error) {
            PersistenceError::Operational { operation, .. } => {
                assert_eq!(operation, &format!("DescribeTable on table {table}"), "{error}")
            }
            other => panic!("expected an operational error, got {other:?}"),
        }
        assert!(took < Duration::from_secs(15), "took {took:?}: {error}");
        eprintln!("unreachable endpoint (timeout {timeout:?}): failed in {took:?}: {error}");
    }
}

/// The endpoint accepts connections and never answers: the build fails after
/// `DYNAMO_TIMEOUT_SECONDS`, naming the operation and the table.
#[tokio::test]
async fn silent_endpoint_times_out() {
    let silent = Silent::start();
    let table = unique_table("silent");
    let endpoint = format!("http://127.0.0.1:{}", silent.port);
    let (built, took) =
        timed("build", app_on(&endpoint, &table, &[("DYNAMO_TIMEOUT_SECONDS", "2")])).await;
    let error = built.unwrap_err();
    match store_error(&error) {
        PersistenceError::Operational { operation, .. } => {
            assert_eq!(operation, &format!("DescribeTable on table {table}"), "{error}")
        }
        other => panic!("expected an operational error, got {other:?}"),
    }
    assert!(took >= Duration::from_millis(1900) && took < call_bound(2), "took {took:?}");
    eprintln!("silent endpoint: failed in {took:?}: {error}");
}

/// A `DYNAMO_TIMEOUT_SECONDS` too large to add to a clock reading is no panic: the
/// application opens and works (it used to panic in `table::ensure`).
#[tokio::test]
async fn huge_timeout_setting_is_not_a_panic() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let table = unique_table("huge-timeout");
    let app = app_on(&endpoint, &table, &[("DYNAMO_TIMEOUT_SECONDS", &i64::MAX.to_string())])
        .await
        .unwrap();
    let mut dog = Dog::register("Fido".into());
    assert_eq!(app.save(&mut [&mut dog]).await.unwrap(), [1]);
}

// ---------------------------------------------------------------------------------------
// 4. Malformed items written behind the library's back (see also
// `malformed_items_are_named_errors` in tests/dynamodb.rs).

async fn client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "t", "t", None, None, "test",
        ))
        .load()
        .await;
    aws_sdk_dynamodb::Client::new(&config)
}

fn blob(bytes: &[u8]) -> AttributeValue {
    AttributeValue::B(Blob::new(bytes.to_vec()))
}

fn n(value: &str) -> AttributeValue {
    AttributeValue::N(value.to_owned())
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

async fn put(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    partition: &str,
    attributes: Vec<(&str, AttributeValue)>,
) {
    let mut item: HashMap<String, AttributeValue> =
        attributes.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    item.insert("originator_id".into(), s(partition));
    client.put_item().table_name(table).set_item(Some(item)).send().await.unwrap_or_else(|e| {
        panic!("put {partition}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e))
    });
}

/// Whether `error` names the item `id` at `version` (or, for a malformed item, its table
/// and key).
fn assert_names(error: &Error, table: &str, id: Uuid, version: Option<u64>) {
    match error {
        Error::Persistence(PersistenceError::Data { location, .. }) => {
            assert!(location.contains(table), "names the table: {error}");
            assert!(location.contains(&id.to_string()), "names the item: {error}");
        }
        Error::Decode(decode) => {
            assert_eq!(decode.originator_id, id, "{error}");
            assert_eq!(Some(decode.originator_version), version, "{error}");
        }
        Error::Replay { id: replayed, version: at, .. } => {
            assert_eq!(*replayed, id, "{error}");
            assert_eq!(Some(*at), version, "{error}");
        }
        other => panic!("expected a typed error naming the item, got {other:?}"),
    }
}

#[tokio::test]
async fn malformed_events_are_named_errors() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let table = unique_table("malformed-events");
    let app = app_on(&endpoint, &table, &[]).await.unwrap();
    let client = client(&endpoint).await;
    let mut good = Dog::register("Good".into());
    good.add_trick("sit".into());
    app.save(&mut [&mut good]).await.unwrap();
    let good_events = stored_events(&app, good.id()).await;
    let registered = good_events[0].state.clone();
    let trick = good_events[1].state.clone();
    let with_class_version = |value: &str| {
        let mut state = trick.clone();
        state.pop();
        state.extend_from_slice(format!(",\"class_version\":{value}}}").as_bytes());
        state
    };
    let topic_of = |name: &str| s(&format!("race:Dog.{name}"));

    // (what, injected items as (version, attributes), expected text, version named,
    // whether the events up to version 1 still load).
    type Attributes = Vec<(&'static str, AttributeValue)>;
    type Case = (&'static str, Vec<(&'static str, Attributes)>, &'static str, Option<u64>, bool);
    let cases: Vec<Case> = vec![
        ("topic missing", vec![("2", vec![("state", blob(&trick))])], "attribute topic is missing", Some(2), true),
        (
            "version beyond 64 bits",
            vec![("99999999999999999999", vec![("topic", topic_of("TrickAdded")), ("state", blob(&trick))])],
            "fits 64 bits, found 99999999999999999999",
            None,
            true,
        ),
        (
            "version 1e30",
            vec![("1e30", vec![("topic", topic_of("TrickAdded")), ("state", blob(&trick))])],
            "attribute originator_version should be a whole number",
            None,
            true,
        ),
        (
            "negative version",
            vec![("-1", vec![("topic", topic_of("TrickAdded")), ("state", blob(&trick))])],
            "attribute originator_version should be a whole number",
            None,
            false,
        ),
        (
            "truncated state",
            vec![("2", vec![("topic", topic_of("TrickAdded")), ("state", blob(&trick[..trick.len() / 2]))])],
            "state does not decode",
            Some(2),
            true,
        ),
        (
            "empty state",
            vec![("2", vec![("topic", topic_of("TrickAdded")), ("state", blob(b""))])],
            "state does not decode",
            Some(2),
            true,
        ),
        (
            "state not an object",
            vec![("2", vec![("topic", topic_of("TrickAdded")), ("state", blob(b"[1,2]"))])],
            "state does not decode",
            Some(2),
            true,
        ),
        (
            "bad timestamp",
            vec![(
                "2",
                vec![
                    ("topic", topic_of("TrickAdded")),
                    ("state", blob(br#"{"timestamp":{"_type_":"datetime_iso","_data_":"yesterday"},"trick":"x"}"#)),
                ],
            )],
            "state does not decode",
            Some(2),
            true,
        ),
        (
            "class version newer than the code",
            vec![("2", vec![("topic", topic_of("TrickAdded")), ("state", blob(&with_class_version("99")))])],
            "stored with class_version 99, but this program knows it only up to version 1",
            Some(2),
            true,
        ),
        (
            "class version not a number",
            vec![("2", vec![("topic", topic_of("TrickAdded")), ("state", blob(&with_class_version("\"two\"")))])],
            "which is not a class version",
            Some(2),
            true,
        ),
        (
            "a gap in the versions",
            vec![("3", vec![("topic", topic_of("TrickAdded")), ("state", blob(&trick))])],
            "expected version 2",
            Some(3),
            true,
        ),
        (
            "created twice",
            vec![("2", vec![("topic", topic_of("Registered")), ("state", blob(&registered))])],
            "",
            Some(2),
            true,
        ),
    ];
    for (what, items, expected, version, first_loads) in cases {
        let mut dog = Dog::register(what.into());
        app.save(&mut [&mut dog]).await.unwrap();
        let id = dog.id();
        for (version, mut attributes) in items {
            attributes.push(("originator_version", n(version)));
            put(&client, &table, &id.hyphenated().to_string(), attributes).await;
        }
        let error = app.repository().get::<Dog>(id).await.expect_err(what);
        assert!(error.to_string().contains(expected), "{what}: expected {expected:?} in {error}");
        assert_names(&error, &table, id, version);
        let update = app.update::<Dog, _>(id, |dog| dog.add_trick("x".into())).await;
        assert_eq!(
            update.expect_err(what).to_string(),
            error.to_string(),
            "{what}: update reports it too"
        );
        if first_loads {
            let first = app
                .repository()
                .get_at::<Dog>(id, 1)
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(first.version(), 1, "{what}");
        }
        eprintln!("{what}: {error}");
    }

    // An aggregate whose first event is not a created event.
    let orphan = Uuid::new_v4();
    put(
        &client,
        &table,
        &orphan.hyphenated().to_string(),
        vec![
            ("originator_version", n("1")),
            ("topic", topic_of("TrickAdded")),
            ("state", blob(&trick)),
        ],
    )
    .await;
    let error = app.repository().get::<Dog>(orphan).await.unwrap_err();
    assert_names(&error, &table, orphan, Some(1));

    // Attributes the reader does not use are ignored, as the Python package ignores them.
    let mut tolerant = Dog::register("Tolerant".into());
    app.save(&mut [&mut tolerant]).await.unwrap();
    put(
        &client,
        &table,
        &tolerant.id().hyphenated().to_string(),
        vec![
            ("originator_version", n("2")),
            ("topic", topic_of("TrickAdded")),
            ("state", blob(&trick)),
            ("created_at", s("yesterday")),
            ("extra", AttributeValue::Bool(true)),
        ],
    )
    .await;
    assert_eq!(app.repository().get::<Dog>(tolerant.id()).await.unwrap().tricks, ["sit"]);

    // The rest of the application keeps working, and the log never saw the injected items.
    let mut good = app.repository().get::<Dog>(good.id()).await.unwrap();
    good.add_trick("beg".into());
    app.save(&mut [&mut good]).await.unwrap();
    assert_eq!(app.repository().get::<Dog>(good.id()).await.unwrap().tricks, ["sit", "beg"]);
    let log = whole_log(&app).await;
    assert!(log.iter().all(|n| n.event.originator_id != orphan));
}

#[tokio::test]
async fn malformed_log_items_are_named_errors() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let table = unique_table("malformed-log");
    let app = app_on(&endpoint, &table, &[]).await.unwrap();
    let client = client(&endpoint).await;
    let mut dog = Dog::register("Fido".into());
    assert_eq!(app.save(&mut [&mut dog]).await.unwrap(), [1]);
    let good = whole_log(&app).await.remove(0).event;
    let event_id = s(&good.originator_id.hyphenated().to_string());

    let cases: Vec<(&str, Vec<(&str, AttributeValue)>)> = vec![
        (
            "attribute event_id is missing",
            vec![
                ("event_version", n("1")),
                ("topic", s(&good.topic)),
                ("state", blob(&good.state)),
            ],
        ),
        (
            "attribute event_id is not a UUID",
            vec![
                ("event_id", s("fido")),
                ("event_version", n("1")),
                ("topic", s(&good.topic)),
                ("state", blob(&good.state)),
            ],
        ),
        (
            "attribute event_version should be a number (N), found string (S)",
            vec![
                ("event_id", event_id.clone()),
                ("event_version", s("1")),
                ("topic", s(&good.topic)),
                ("state", blob(&good.state)),
            ],
        ),
        (
            "attribute event_version should be a whole number",
            vec![
                ("event_id", event_id.clone()),
                ("event_version", n("99999999999999999999")),
                ("topic", s(&good.topic)),
                ("state", blob(&good.state)),
            ],
        ),
        (
            "attribute topic is missing",
            vec![
                ("event_id", event_id.clone()),
                ("event_version", n("1")),
                ("state", blob(&good.state)),
            ],
        ),
        (
            "attribute state should be binary (B), found string (S)",
            vec![
                ("event_id", event_id.clone()),
                ("event_version", n("1")),
                ("topic", s(&good.topic)),
                ("state", s("{}")),
            ],
        ),
    ];
    let first_bad = 2;
    for (offset, (expected, mut attributes)) in cases.iter().cloned().enumerate() {
        let position = first_bad + offset as u64;
        attributes.push(("originator_version", n(&position.to_string())));
        put(&client, &table, "#notifications", attributes).await;
        let error = app.notification_log().select(position, 1, None, &[]).await.unwrap_err();
        let Error::Persistence(PersistenceError::Data { location, problem }) = &error else {
            panic!("expected a data error, got {error:?}")
        };
        assert!(problem.contains(expected), "expected {expected:?} in {error}");
        assert!(
            location.contains(&table)
                && location.contains(&format!(
                    "originator_id=#notifications originator_version={position}"
                )),
            "names the log item: {error}"
        );
    }
    let last_bad = first_bad + cases.len() as u64 - 1;

    // Reading across them (also with a topic filter) fails on the first one.
    for topics in [&[][..], &[good.topic.as_str()][..]] {
        let error = app.notification_log().select(1, 100, None, topics).await.unwrap_err();
        assert!(error.to_string().contains(&format!("originator_version={first_bad}")), "{error}");
    }
    // The rest works: the good entry, the end of the log, and saves, which take the ids
    // after the malformed items.
    assert_eq!(app.notification_log().select(1, 1, None, &[]).await.unwrap()[0].event, good);
    assert_eq!(app.notification_log().max_notification_id().await.unwrap(), last_bad);
    dog.add_trick("sit".into());
    assert_eq!(app.save(&mut [&mut dog]).await.unwrap(), [last_bad + 1]);
    let after = app.notification_log().select(last_bad + 1, 10, None, &[]).await.unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(trick_of(&after[0].event), "sit");
    assert_eq!(app.repository().get::<Dog>(dog.id()).await.unwrap().tricks, ["sit"]);

    // A position beyond 64 bits at the end of the log: reading the end names it, and an
    // application that must find the end to save reports it instead of guessing an id.
    put(
        &client,
        &table,
        "#notifications",
        vec![
            ("originator_version", n("99999999999999999999")),
            ("event_id", event_id.clone()),
            ("event_version", n("1")),
            ("topic", s(&good.topic)),
            ("state", blob(&good.state)),
        ],
    )
    .await;
    let error = app.notification_log().max_notification_id().await.unwrap_err();
    assert!(
        error.to_string().contains("originator_version=99999999999999999999")
            && matches!(error, Error::Persistence(PersistenceError::Data { .. })),
        "{error}"
    );
    let other = app_on(&endpoint, &table, &[]).await.unwrap();
    let mut rex = Dog::register("Rex".into());
    let error = other.save(&mut [&mut rex]).await.unwrap_err();
    assert!(error.to_string().contains("originator_version=99999999999999999999"), "{error}");
    assert!(!other.repository().contains(rex.id()).await.unwrap(), "nothing was written");
}
