//! Tracing spans and metrics, captured as an operator's subscriber and recorder would see
//! them: a capturing `tracing-subscriber` layer for the spans and events, and
//! `metrics-util`'s `DebuggingRecorder` for the metrics (both installed for one test's
//! thread only, so that tests running in parallel do not see each other's).

#[path = "../../tests/support/mod.rs"]
mod support;

use eventsourcing_dynamodb::metrics as names;
use eventsourcing_dynamodb::prelude::*;
use eventsourcing_dynamodb::system::{Notified, Policy, ProcessApplication, Processing, System};
use fault_proxy::{Fault, FaultConfig, FaultProxy};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::*;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

#[aggregate]
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

#[aggregate]
pub struct Tally {
    seen: u64,
}

#[aggregate]
impl Tally {
    #[event("Started")]
    pub fn start() -> Self {
        Tally { seen: 0 }
    }

    pub fn create_id() -> Uuid {
        Uuid::new_v5(&Uuid::NAMESPACE_URL, b"/observability/tally")
    }

    #[event("Seen")]
    pub fn see(&mut self) {
        self.seen += 1;
    }
}

/// Counts every trick added, on one tally.
struct CountTricks;

impl Policy for CountTricks {
    async fn process(&self, notified: &Notified, processing: &mut Processing) -> Result<()> {
        let Some(event) = notified.event::<Dog>() else { return Ok(()) };
        let DogEvent::TrickAdded { .. } = &event.payload else { return Ok(()) };
        let repository = processing.app().repository();
        let mut tally =
            repository.find::<Tally>(Tally::create_id()).await?.unwrap_or_else(Tally::start);
        tally.see();
        processing.collect(&mut tally)
    }
}

/// A span or event as a subscriber saw it: its name (an event's is its message) and fields.
#[derive(Debug, Clone)]
struct Seen {
    name: String,
    fields: BTreeMap<String, String>,
}

impl Seen {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

#[derive(Default)]
struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

/// Keeps every closed span and every event, in order.
#[derive(Clone, Default)]
struct Capture {
    spans: Arc<Mutex<Vec<Seen>>>,
    events: Arc<Mutex<Vec<Seen>>>,
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, context: Context<'_, S>) {
        let mut fields = Fields::default();
        attributes.record(&mut fields);
        if let Some(span) = context.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, context: Context<'_, S>) {
        if let Some(span) = context.span(id) {
            if let Some(fields) = span.extensions_mut().get_mut::<Fields>() {
                values.record(fields);
            }
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, _context: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let name = fields.0.remove("message").unwrap_or_default();
        self.events.lock().unwrap().push(Seen { name, fields: fields.0 });
    }

    fn on_close(&self, id: Id, context: Context<'_, S>) {
        let Some(span) = context.span(&id) else { return };
        let fields = span.extensions_mut().remove::<Fields>().unwrap_or_default();
        self.spans.lock().unwrap().push(Seen { name: span.name().to_owned(), fields: fields.0 });
    }
}

/// What one observed run left behind.
struct Observed {
    capture: Capture,
    metrics: Vec<(String, BTreeMap<String, String>, DebugValue)>,
}

impl Observed {
    fn spans(&self, name: &str) -> Vec<Seen> {
        self.capture.spans.lock().unwrap().iter().filter(|s| s.name == name).cloned().collect()
    }

    fn events_containing(&self, text: &str) -> Vec<Seen> {
        let events = self.capture.events.lock().unwrap();
        events.iter().filter(|e| e.name.contains(text)).cloned().collect()
    }

    /// The value of metric `name` whose labels include `labels`.
    fn metric(&self, name: &str, labels: &[(&str, &str)]) -> Option<&DebugValue> {
        self.metrics.iter().find_map(|(key, have, value)| {
            let matches = key == name
                && labels.iter().all(|(k, v)| have.get(*k).map(String::as_str) == Some(*v));
            matches.then_some(value)
        })
    }

    fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        match self.metric(name, labels) {
            Some(DebugValue::Counter(count)) => *count,
            Some(other) => panic!("{name} is not a counter: {other:?}"),
            None => 0,
        }
    }

    fn gauge(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        match self.metric(name, labels) {
            Some(DebugValue::Gauge(value)) => Some(value.into_inner()),
            Some(other) => panic!("{name} is not a gauge: {other:?}"),
            None => None,
        }
    }

    fn histogram(&self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
        match self.metric(name, labels) {
            Some(DebugValue::Histogram(values)) => values.iter().map(|v| v.into_inner()).collect(),
            Some(other) => panic!("{name} is not a histogram: {other:?}"),
            None => Vec::new(),
        }
    }
}

fn snapshot(snapshotter: &Snapshotter) -> Vec<(String, BTreeMap<String, String>, DebugValue)> {
    let entries = snapshotter.snapshot().into_vec();
    entries
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let labels = key.labels().map(|l| (l.key().to_owned(), l.value().to_owned())).collect();
            (key.name().to_owned(), labels, value)
        })
        .collect()
}

/// Runs `body` on a current-thread runtime with a capturing subscriber and a debugging
/// recorder installed for this thread (every task of that runtime runs on it).
fn observe<F: Future<Output = ()>>(body: impl FnOnce() -> F) -> Observed {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    tracing::subscriber::with_default(subscriber, || {
        metrics::with_local_recorder(&recorder, || runtime.block_on(body()))
    });
    // Dropping the runtime ends its tasks (a sequencer), closing their spans.
    drop(runtime);
    Observed { capture, metrics: snapshot(&snapshotter) }
}

async fn dynamo_app(name: &str, endpoint: &str, table: &str, log: &str) -> Application {
    let mut builder = Application::builder(name).isolated();
    for (key, value) in dynamo_env(endpoint, table) {
        builder = builder.env(key, value);
    }
    builder.env("DYNAMO_NOTIFICATION_LOG", log).build().await.unwrap()
}

#[test]
fn a_save_a_load_and_a_policy_run_have_spans_and_count_in_memory() {
    let id = Arc::new(Mutex::new(Uuid::nil()));
    let observed = observe(|| {
        let id = Arc::clone(&id);
        async move {
            let school = Application::builder("SpanSchool").isolated().build().await.unwrap();
            let mut dog = Dog::register("Fido".into());
            dog.add_trick("roll over".into());
            school.save(&mut dog).await.unwrap();
            *id.lock().unwrap() = dog.id();
            let loaded = school.repository().get::<Dog>(dog.id()).await.unwrap();
            assert_eq!(loaded.tricks, ["roll over"]);
            let counter = Application::builder("SpanCounter").isolated().build().await.unwrap();
            let counter = Arc::new(ProcessApplication::new(counter, CountTricks));
            let system = System::builder()
                .leader(Arc::new(school.clone()))
                .process(counter)
                .pipe("SpanSchool", "SpanCounter")
                .build()
                .unwrap();
            assert_eq!(system.run_until_idle().await.unwrap(), 2);
        }
    });
    let id = id.lock().unwrap().to_string();

    let saves = observed.spans("save");
    let save = saves.iter().find(|s| s.field("application") == Some("SpanSchool")).unwrap();
    assert_eq!(save.field("events"), Some("2"), "{save:?}");
    assert_eq!(save.field("aggregates"), Some("1"));
    assert_eq!(save.field("outcome"), Some("committed"));
    assert_eq!(save.field("last_notification_id"), Some("2"));

    let loads = observed.spans("load");
    let load = loads.iter().find(|s| s.field("aggregate") == Some(id.as_str())).unwrap();
    assert_eq!(load.field("events"), Some("2"), "{load:?}");
    assert_eq!(load.field("from_snapshot"), Some("false"));
    assert!(load.field("aggregate_type").is_some_and(|t| t.contains("Dog")), "{load:?}");

    let runs = observed.spans("policy");
    assert_eq!(runs.len(), 2, "one policy run per notification: {runs:?}");
    let ids: Vec<_> = runs.iter().map(|r| r.field("notification_id")).collect();
    assert_eq!(ids, [Some("1"), Some("2")]);
    for run in &runs {
        assert_eq!(run.field("follower"), Some("SpanCounter"));
        assert_eq!(run.field("upstream"), Some("SpanSchool"));
        assert_eq!(run.field("outcome"), Some("committed"));
    }
    assert_eq!(runs[1].field("events"), Some("2"), "the tally started and saw: {runs:?}");

    let school = [("application", "SpanSchool")];
    assert_eq!(observed.counter(names::SAVES, &school), 1);
    assert_eq!(observed.counter(names::EVENTS_SAVED, &school), 2);
    let pipe = [("follower", "SpanCounter"), ("upstream", "SpanSchool")];
    assert_eq!(observed.counter(names::NOTIFICATIONS_PROCESSED, &pipe), 2);
    assert_eq!(observed.gauge(names::FOLLOWER_POSITION, &pipe), Some(2.0));
}

#[test]
fn conflicts_and_command_retries_are_counted_and_logged_at_debug() {
    let observed = observe(|| async {
        let app = Application::builder("Conflicts").isolated().build().await.unwrap();
        let mut dog = Dog::register("Fido".into());
        app.save(&mut dog).await.unwrap();
        let id = dog.id();
        // A save from a stale copy conflicts.
        let mut first = app.repository().get::<Dog>(id).await.unwrap();
        let mut stale = first.clone();
        first.add_trick("sit".into());
        app.save(&mut first).await.unwrap();
        stale.add_trick("stay".into());
        let error = app.save(&mut stale).await.unwrap_err();
        assert!(matches!(&error, Error::Persistence(e) if e.is_conflict()), "{error:?}");
        // An update whose first run is overtaken by another writer (on another thread, as
        // another task would) runs again.
        let mut interloper = Some(app.repository().get::<Dog>(id).await.unwrap());
        let mut runs = 0;
        app.update::<Dog, _>(id, |dog| {
            runs += 1;
            if let Some(mut other) = interloper.take() {
                other.add_trick("interloper".into());
                let writer = app.clone();
                std::thread::scope(|scope| {
                    scope.spawn(move || {
                        let runtime =
                            tokio::runtime::Builder::new_current_thread().build().unwrap();
                        runtime.block_on(writer.save(&mut other)).unwrap();
                    });
                });
            }
            dog.add_trick(format!("run {runs}"));
        })
        .await
        .unwrap();
        assert_eq!(runs, 2);
        let dog = app.repository().get::<Dog>(id).await.unwrap();
        assert_eq!(dog.tricks, ["sit", "interloper", "run 2"]);
    });
    let conflicts = observed.counter(names::CONFLICTS, &[("application", "Conflicts")]);
    assert_eq!(conflicts, 2, "the stale save and the update's first run");
    assert_eq!(observed.counter(names::RETRIES, &[("operation", "command")]), 1);
    let refused = observed.spans("save");
    let refused: Vec<_> =
        refused.iter().filter(|s| s.field("outcome") == Some("conflict")).collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
    let updates = observed.spans("update");
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].field("attempts"), Some("2"), "{updates:?}");
    assert_eq!(observed.events_containing("conflict; retrying command").len(), 1);
}

#[test]
fn each_dynamodb_call_has_a_span_and_the_log_position_moves() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let table = unique_table("observed");
    let id = Arc::new(Mutex::new(Uuid::nil()));
    let observed = observe(|| {
        let (id, table) = (Arc::clone(&id), table.clone());
        async move {
            let app = dynamo_app("Observed", &endpoint, &table, "transactional").await;
            let mut dog = Dog::register("Fido".into());
            dog.add_trick("roll over".into());
            app.save(&mut dog).await.unwrap();
            let mut other = Dog::register("Rex".into());
            app.save(&mut other).await.unwrap();
            *id.lock().unwrap() = dog.id();
            app.repository().get::<Dog>(dog.id()).await.unwrap();
        }
    });
    let id = id.lock().unwrap().to_string();
    let calls = observed.spans("dynamodb");
    let write = calls
        .iter()
        .find(|c| c.field("operation") == Some("TransactWriteItems"))
        .unwrap_or_else(|| panic!("no TransactWriteItems span: {calls:?}"));
    assert_eq!(write.field("table"), Some(table.as_str()));
    assert_eq!(write.field("attempt"), Some("1"));
    assert_eq!(write.field("items"), Some("4"), "two events and their log entries: {write:?}");
    assert_eq!(write.field("outcome"), Some("ok"));
    assert!(write.field("key").is_some_and(|k| k.contains(&id)), "{write:?}");
    let query = calls
        .iter()
        .find(|c| c.field("operation") == Some("Query") && c.field("key") == Some(id.as_str()))
        .unwrap_or_else(|| panic!("no Query span for the load: {calls:?}"));
    assert_eq!(query.field("items"), Some("2"));
    assert_eq!(query.field("outcome"), Some("ok"));
    assert!(calls.iter().any(|c| c.field("operation") == Some("DescribeTable")));

    let writes = observed.spans("write");
    assert!(writes.iter().any(|w| w.field("last_notification_id") == Some("3")), "{writes:?}");
    assert_eq!(observed.gauge(names::LOG_POSITION, &[("table", &table)]), Some(3.0));
    assert_eq!(observed.counter(names::SAVES, &[("application", "Observed")]), 2);
    assert!(observed.counter(names::REQUESTS, &[("operation", "TransactWriteItems")]) >= 1);
    assert!(observed.counter(names::REQUESTS, &[("operation", "Query")]) >= 1);
}

#[test]
fn retries_throttles_and_conflicts_on_dynamodb_are_counted() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let observed = observe(|| async move {
        let proxy = FaultProxy::start(&endpoint, FaultConfig::none().seed(3)).await.unwrap();
        let table = unique_table("faults");
        let app = dynamo_app("Faulty", &proxy.endpoint(), &table, "transactional").await;
        // A cancelled transaction is the store's to retry (the SDK does not).
        proxy.configure(
            FaultConfig::none()
                .only(&["TransactWriteItems"])
                .rate(Fault::CancelConflict, 1.0)
                .limit(1),
        );
        let mut dog = Dog::register("Fido".into());
        app.save(&mut dog).await.unwrap();
        assert_eq!(proxy.counts().of(Fault::CancelConflict), 1);
        // Throttling is the SDK's to retry; the request counter sees it. (A limit counts
        // every injection so far.)
        let spent = proxy.counts().total();
        proxy.configure(
            FaultConfig::none().only(&["Query"]).rate(Fault::Throttling, 1.0).limit(spent + 1),
        );
        let mut loaded = app.repository().get::<Dog>(dog.id()).await.unwrap();
        assert_eq!(proxy.counts().of(Fault::Throttling), 1);
        proxy.configure(FaultConfig::none());
        // And a conflict, on a stale copy.
        let mut stale = loaded.clone();
        loaded.add_trick("sit".into());
        app.save(&mut loaded).await.unwrap();
        stale.add_trick("stay".into());
        assert!(app.save(&mut stale).await.is_err());
    });
    assert_eq!(observed.counter(names::RETRIES, &[("operation", "write")]), 1);
    assert_eq!(observed.counter(names::THROTTLES, &[("operation", "Query")]), 1);
    assert!(observed.counter(names::REQUESTS, &[("operation", "Query")]) >= 2);
    assert_eq!(observed.counter(names::CONFLICTS, &[("application", "Faulty")]), 1);
    let retried = observed.events_containing("retrying the same write");
    assert_eq!(retried.len(), 1, "a debug event for the retry");
    let conflict = observed.events_containing("conflict: another writer");
    assert_eq!(conflict.len(), 1, "a debug event for the conflict");
    let sends: Vec<_> = observed
        .spans("dynamodb")
        .into_iter()
        .filter(|c| c.field("operation") == Some("TransactWriteItems"))
        .collect();
    let attempts: Vec<_> = sends.iter().map(|c| c.field("attempt")).collect();
    assert!(attempts.starts_with(&[Some("1"), Some("2")]), "the same write sent twice: {sends:?}");
    assert_eq!(sends[0].field("outcome"), Some("TransactionCanceledException"));
}

#[test]
fn the_sequencer_reports_its_lease_pages_position_and_lag() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let table = unique_table("sequenced-observed");
    let started = std::time::Instant::now();
    let observed = observe(|| {
        let table = table.clone();
        async move {
            let app = dynamo_app("Sequenced", &endpoint, &table, "sequenced").await;
            let mut dog = Dog::register("Fido".into());
            dog.add_trick("roll over".into());
            app.save(&mut dog).await.unwrap();
            app.recorders().events.sync_log().await.unwrap();
            let end = app.notification_log().max_notification_id().await.unwrap();
            assert_eq!(end, 2);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    let label = [("table", table.as_str())];
    assert_eq!(observed.counter(names::LEASE_ACQUIRED, &label), 1);
    assert!(observed.counter(names::LOG_PAGES, &label) >= 1);
    assert_eq!(observed.gauge(names::LOG_POSITION, &label), Some(2.0));
    let lag = observed.histogram(names::LOG_LAG, &label);
    assert_eq!(lag.len(), 2, "one lag per event logged: {lag:?}");
    // No event waited longer than the test ran, give or take the second that commit times
    // are rounded to (DynamoDB Local rounds stream record times to the minute).
    let ran = started.elapsed().as_secs_f64() + 1.0;
    assert!(lag.iter().all(|seconds| (0.0..=ran).contains(seconds)), "{lag:?} in {ran} s");
    let pages = observed.spans("log_page");
    let first = pages.iter().find(|p| p.field("first_id") == Some("1")).unwrap();
    assert_eq!(first.field("outcome"), Some("written"), "{first:?}");
    assert!(observed.events_containing("sequencer took the lease").len() == 1);
    let leases = observed.spans("lease");
    assert_eq!(leases[0].field("outcome"), Some("acquired"), "{leases:?}");
    assert_eq!(leases[0].field("table"), Some(table.as_str()));
    let reads = observed.spans("dynamodb");
    assert!(reads.iter().any(|c| c.field("operation") == Some("GetRecords")), "{reads:?}");
}

#[test]
fn each_view_store_call_has_a_span() {
    use eventsourcing_dynamodb::dynamodb::{DynamoConfig, DynamoViewStore};
    use eventsourcing_dynamodb::projection::{ViewBatch, ViewStore};
    let Some(endpoint) = dynamo_endpoint() else { return };
    let table = unique_table("views-observed");
    let observed = observe(|| {
        let table = table.clone();
        async move {
            let mut config = DynamoConfig::new(table);
            config.endpoint_url = Some(endpoint);
            config.create_table = true;
            let store = DynamoViewStore::connect(&config).await.unwrap();
            let mut batch = ViewBatch::new("Upstream", 0);
            let row = (("dogs".to_owned(), "fido".to_owned()), Some(serde_json::json!(1)));
            batch.absorb(1, BTreeMap::from([row]));
            store.commit("Counts", &batch).await.unwrap();
            assert_eq!(store.get("dogs", "fido").await.unwrap(), Some(serde_json::json!(1)));
            assert_eq!(store.rows("dogs").await.unwrap().len(), 1);
        }
    });
    let calls = observed.spans("dynamodb");
    let on = |operation: &str| {
        calls
            .iter()
            .find(|c| c.field("operation") == Some(operation))
            .unwrap_or_else(|| panic!("no {operation} span: {calls:?}"))
    };
    let commit = on("TransactWriteItems");
    assert_eq!(commit.field("table"), Some(table.as_str()));
    assert_eq!(commit.field("attempt"), Some("1"));
    assert_eq!(commit.field("items"), Some("2"), "a row and the tracking record: {commit:?}");
    assert_eq!(commit.field("outcome"), Some("ok"));
    assert!(commit.field("key").is_some_and(|k| k.contains("Counts")), "{commit:?}");
    let get = on("GetItem");
    assert_eq!(get.field("key"), Some("dogs/fido"));
    assert_eq!(get.field("items"), Some("1"));
    let rows = on("Query");
    assert_eq!(rows.field("key"), Some("dogs"));
    assert_eq!(rows.field("items"), Some("1"));
    assert_eq!(rows.field("outcome"), Some("ok"));
}
