//! Projections measured: a projection created after N events (default 10,000) catching up
//! from the start, in notifications per second, on the view store `VIEW_STORE` selects
//! (memory, dynamodb, postgres; see `views_support`); and subscription latency from commit
//! to delivery, on the upstream store the usual variables select (memory by default).
//!
//! ```text
//! cargo run --release --example projection_bench -- --events 10000 --latency 500
//! VIEW_STORE=dynamodb DYNAMO_ENDPOINT_URL=http://127.0.0.1:8000 cargo run --release --example projection_bench
//! VIEW_STORE=postgres POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres cargo run ...
//! PERSISTENCE_MODULE=eventsourcing_dynamodb DYNAMO_TABLE=... CREATE_TABLE=true cargo run ...
//! ```
//!
//! The view table (or PostgreSQL table prefix) is a new one per run unless `VIEW_TABLE` is set.

#[path = "views_support/mod.rs"]
mod views_support;

use eventsourcing_dynamodb::prelude::*;
use eventsourcing_dynamodb::projection::ViewStore;
use eventsourcing_dynamodb::projection::{ProjectionRunner, SubscriptionSettings};
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use views_support::*;

/// The number after `name` on the command line, or `default`.
fn flag(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name} takes a number, got {v}")))
        .unwrap_or(default)
}

/// Saves dogs of five events each (registered, four tricks) until `events` are stored.
async fn enrol(school: &Application, events: usize) -> Result<()> {
    for dog in 0..events.div_ceil(5) {
        let mut root = Dog::register(format!("dog{dog}"));
        for trick in ["sit", "beg", "roll over", "play dead"] {
            root.add_trick(trick.to_owned());
        }
        school.save(&mut root).await?;
    }
    Ok(())
}

async fn catch_up(events: usize) -> Result<(), Box<dyn std::error::Error>> {
    let kind = std::env::var("VIEW_STORE").unwrap_or_else(|_| "memory".to_owned());
    if std::env::var("VIEW_TABLE").is_err() {
        std::env::set_var("VIEW_TABLE", format!("bench{}", Uuid::new_v4().simple()));
    }
    let school = Application::builder("TrainingSchool").isolated().build().await?;
    enrol(&school, events).await?;
    let logged = school.notification_log().max_notification_id().await?;
    // The DynamoDB store counts its requests.
    let (store, dynamo): (Arc<dyn ViewStore>, _) = match kind.as_str() {
        "dynamodb" => {
            let store = Arc::new(dynamo_view_store_from_env().await?);
            (store.clone(), Some(store))
        }
        _ => (view_store_from_env().await?, None),
    };
    let before = dynamo.as_ref().and_then(|store| store.requests()).unwrap_or(0);
    let runner = ProjectionRunner::new(&school, SchoolViews, store.clone());
    let started = Instant::now();
    let processed = runner.run_until_idle().await?;
    let seconds = started.elapsed().as_secs_f64();
    let requests = dynamo.as_ref().and_then(|store| store.requests()).map(|after| after - before);
    assert_eq!(processed, logged, "the projection processed the whole log");
    let dogs = store.rows(TRICKS_PER_DOG).await?.len();
    assert_eq!(dogs, events.div_ceil(5), "one row per dog");
    let requests = requests.map_or(String::new(), |n| {
        format!(" requests={n} requests_per_notification={:.3}", n as f64 / processed as f64)
    });
    println!(
        "catch-up store={kind} notifications={processed} seconds={seconds:.3} per_second={:.0}{requests}",
        processed as f64 / seconds
    );
    Ok(())
}

/// Saves one event at a time while a subscriber task waits for it (without polling: a
/// max_poll of an hour, so only the in-process wake-up delivers), and times its delivery
/// from the save's call and from its return (the commit; a delivery woken before the save
/// returned counts as 0).
async fn latency(samples: usize) -> Result<(), Box<dyn std::error::Error>> {
    let school = Application::new("TrainingSchool").await?;
    let upstream = std::env::var("PERSISTENCE_MODULE").unwrap_or_else(|_| "memory".to_owned());
    let log = std::env::var("DYNAMO_NOTIFICATION_LOG").unwrap_or_default();
    let mut dog = Dog::register("Latency".to_owned());
    school.save(&mut dog).await?;
    school.recorders().events.sync_log().await?;
    let start = school.notification_log().max_notification_id().await?;
    let settings = SubscriptionSettings { page: 100, max_poll: Duration::from_secs(3600) };
    let mut subscription = school.subscribe_with(start, settings);
    let (delivered, mut deliveries) = tokio::sync::mpsc::unbounded_channel();
    let subscriber = tokio::spawn(async move {
        while let Some(notification) = subscription.next().await {
            let id = notification.map(|n| n.id).map_err(|e| e.to_string());
            if delivered.send((id, Instant::now())).is_err() {
                break;
            }
        }
    });
    let (mut from_call, mut from_commit) = (Vec::new(), Vec::new());
    for sample in 0..samples {
        dog.add_trick(format!("trick{sample}"));
        let called = Instant::now();
        school.save(&mut dog).await?;
        let committed = Instant::now();
        let delivery = tokio::time::timeout(Duration::from_secs(60), deliveries.recv()).await;
        let Ok(Some((id, at))) = delivery else {
            return Err(format!("sample {sample}: no delivery within 60 s").into());
        };
        let id = id?;
        assert_eq!(id, start + 1 + sample as u64, "delivered in order, none skipped");
        from_call.push(at.saturating_duration_since(called));
        from_commit.push(at.saturating_duration_since(committed));
    }
    subscriber.abort();
    let quantiles = |latencies: &mut Vec<Duration>| {
        latencies.sort_unstable();
        let at =
            |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3;
        format!("p50_ms={:.3} p99_ms={:.3} max_ms={:.3}", at(0.5), at(0.99), at(1.0))
    };
    let log = if log.is_empty() { String::new() } else { format!("({log})") };
    println!(
        "latency upstream={upstream}{log} samples={samples} from_commit: {} from_save_call: {}",
        quantiles(&mut from_commit),
        quantiles(&mut from_call)
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let events = flag(&args, "--events", 10_000);
    let samples = flag(&args, "--latency", 300);
    if events > 0 {
        catch_up(events).await?;
    }
    if samples > 0 {
        latency(samples).await?;
    }
    Ok(())
}
