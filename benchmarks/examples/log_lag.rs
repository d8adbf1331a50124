//! How long a committed event takes to appear in the notification log.
//!
//! `log_lag --events N --writers W [--poll-ms P]`, with the store configured by the
//! environment (`PERSISTENCE_MODULE`, `DYNAMO_ENDPOINT_URL`, `DYNAMO_TABLE`,
//! `DYNAMO_NOTIFICATION_LOG=sequenced|transactional`, …). W tasks save N one-event
//! registrations between them as fast as they can, noting when each save returned; a
//! reader follows the log, polling every P ms (default 10), and notes when each event
//! became visible. The lag of an event is the time from its save returning to its being
//! read (0 when the log held it already, as the transactional log does). The last line is
//! `events=… writers=… saves_per_second=… lag_p50_ms=… lag_p99_ms=… lag_max_ms=…`.

use eventsourcing_dynamodb::prelude::*;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[aggregate(topic = "lag:Probe")]
pub struct Probe {
    writer: u64,
}

#[aggregate]
impl Probe {
    #[event("Saved")]
    pub fn save(writer: u64) -> Self {
        Probe { writer }
    }
}

fn flag(args: &[String], name: &str, default: u64) -> Result<u64> {
    match args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)) {
        Some(value) => value
            .parse()
            .map_err(|_| Error::System(format!("{name} takes a whole number, not {value:?}"))),
        None => Ok(default),
    }
}

/// The value at quantile `q` (nearest rank) of sorted `values`, in ms.
fn quantile(values: &[Duration], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let events = flag(&args, "--events", 1000)?;
    let writers = flag(&args, "--writers", 8)?.max(1);
    let poll = Duration::from_millis(flag(&args, "--poll-ms", 10)?);
    let app = Application::builder("LogLag").build().await?;
    let committed: Arc<Mutex<HashMap<Uuid, Instant>>> = Arc::default();
    let reader = {
        let app = app.clone();
        tokio::spawn(async move {
            let mut seen: HashMap<Uuid, Instant> = HashMap::new();
            let mut next = 1;
            while (seen.len() as u64) < events {
                let page = app.notification_log().select(next, 1000, None, &[]).await?;
                let now = Instant::now();
                for notification in &page {
                    seen.insert(notification.event.originator_id, now);
                    next = notification.id + 1;
                }
                if page.is_empty() {
                    tokio::time::sleep(poll).await;
                }
            }
            Ok::<_, Error>(seen)
        })
    };
    let started = Instant::now();
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let (app, committed) = (app.clone(), Arc::clone(&committed));
        let count = events / writers + u64::from(writer < events % writers);
        tasks.push(tokio::spawn(async move {
            for _ in 0..count {
                let mut probe = Probe::save(writer);
                app.save(&mut [&mut probe]).await?;
                let mut committed = committed.lock().unwrap_or_else(|p| p.into_inner());
                committed.insert(probe.id(), Instant::now());
            }
            Ok::<_, Error>(())
        }));
    }
    for task in tasks {
        task.await.map_err(|e| Error::System(format!("a writer panicked: {e}")))??;
    }
    let seconds = started.elapsed().as_secs_f64();
    let seen = tokio::time::timeout(Duration::from_secs(120), reader)
        .await
        .map_err(|_| Error::System("the log did not show every event within 120 s".into()))?
        .map_err(|e| Error::System(format!("the reader panicked: {e}")))??;
    let committed = committed.lock().unwrap_or_else(|p| p.into_inner());
    let mut lags: Vec<Duration> = committed
        .iter()
        .map(|(id, at)| {
            seen.get(id).map_or(Duration::MAX, |visible| visible.saturating_duration_since(*at))
        })
        .collect();
    lags.sort_unstable();
    println!(
        "events={events} writers={writers} saves_per_second={:.0} lag_p50_ms={:.1} lag_p99_ms={:.1} lag_max_ms={:.1}",
        events as f64 / seconds,
        quantile(&lags, 0.5),
        quantile(&lags, 0.99),
        quantile(&lags, 1.0)
    );
    Ok(())
}
