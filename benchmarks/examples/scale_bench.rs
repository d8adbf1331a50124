//! Scale figures on the store the environment selects: one long aggregate (default 10,000
//! events, over 1 MB on DynamoDB) loaded by full replay and from a snapshot, and the whole
//! notification log read back.
//!
//! `cargo run --release -p eventsourcing-benchmarks --example scale_bench -- --events 10000 --loads 5`
//!
//! Prints one line per figure (`name key=value ...`): the write of the aggregate, a load by
//! replaying every event, a load from a recent snapshot, and a read of the notification log
//! from its start in sections of `--section` notifications. Request counts appear on
//! stores that count them (DynamoDB).

// The allocator this library recommends for production, as in `training_school_bench`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "bench_support/mod.rs"]
mod bench_support;

use bench_support::{flag, Dog, DogCommands};
use eventsourcing_dynamodb::prelude::*;
use std::time::Instant;

/// Requests sent so far, on stores that count them.
fn requests(app: &Application) -> Option<u64> {
    app.recorders().events.request_count()
}

/// `requests_per_run=<n> ` when the store counts requests.
fn requests_since(app: &Application, before: Option<u64>, runs: usize) -> String {
    match (before, requests(app)) {
        (Some(before), Some(after)) => {
            format!("requests_per_run={:.1} ", (after - before) as f64 / runs as f64)
        }
        _ => String::new(),
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let events = flag(&args, "--events", 10_000).max(2);
    let loads = flag(&args, "--loads", 5).max(1);
    let section = flag(&args, "--section", 1_000).max(1);
    let mut builder = Application::builder("ScaleBench");
    if std::env::var_os("IS_SNAPSHOTTING_ENABLED").is_none() {
        builder = builder.env("IS_SNAPSHOTTING_ENABLED", "true");
    }
    let app = builder.build().await?;

    // 50 events per save: with their notification log entries, one full transaction.
    let started = Instant::now();
    let before = requests(&app);
    let mut dog = Dog::register(format!("Methuselah {}", Uuid::new_v4()));
    for trick in 1..events {
        dog.add_trick(format!("trick number {trick:05}"));
        if dog.pending_events().len() == 50 {
            app.save(&mut dog).await?;
        }
    }
    app.save(&mut dog).await?;
    let id = dog.id();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "write events={events} {}seconds={seconds:.4} events_per_second={:.0}",
        requests_since(&app, before, 1),
        events as f64 / seconds
    );

    // The latest version, replayed from the first event (no snapshot exists yet).
    let started = Instant::now();
    let before = requests(&app);
    for _ in 0..loads {
        let loaded = app.repository().load_latest::<Dog>(id).await?;
        assert_eq!(loaded.version(), events as u64, "replayed version");
        assert_eq!(loaded.tricks.len(), events - 1, "replayed tricks");
    }
    let seconds = started.elapsed().as_secs_f64() / loads as f64;
    println!(
        "load_replay events={events} {}seconds_per_load={seconds:.4} events_per_second={:.0}",
        requests_since(&app, before, loads),
        events as f64 / seconds
    );

    // From a snapshot ten events back, as interval snapshots leave it.
    app.take_snapshot::<Dog>(id, Some(events as u64 - 10)).await?;
    let started = Instant::now();
    let before = requests(&app);
    for _ in 0..loads {
        let loaded = app.repository().load_latest::<Dog>(id).await?;
        assert_eq!(loaded.version(), events as u64, "version loaded from the snapshot");
        assert_eq!(loaded.tricks.len(), events - 1, "tricks loaded from the snapshot");
    }
    let seconds = started.elapsed().as_secs_f64() / loads as f64;
    println!(
        "load_snapshot events={events} {}seconds_per_load={seconds:.4}",
        requests_since(&app, before, loads),
    );

    // The whole notification log, section by section, as a follower reads it (once a
    // sequenced log holds everything).
    app.recorders().events.sync_log().await?;
    let log = app.notification_log();
    let started = Instant::now();
    let before = requests(&app);
    let (mut next, mut read, mut bytes) = (1, 0usize, 0usize);
    loop {
        let notifications = log.select(next, section, None, &[]).await?;
        let Some(last) = notifications.last() else { break };
        assert_eq!(last.id, next + notifications.len() as u64 - 1, "gapless log");
        next = last.id + 1;
        read += notifications.len();
        bytes += notifications.iter().map(|n| n.event.state.len()).sum::<usize>();
    }
    let seconds = started.elapsed().as_secs_f64();
    assert!(read >= events, "the log holds at least this run's {events} events, read {read}");
    println!(
        "log_read notifications={read} state_bytes={bytes} section={section} {}seconds={seconds:.4} notifications_per_second={:.0}",
        requests_since(&app, before, 1),
        read as f64 / seconds
    );
    Ok(())
}
