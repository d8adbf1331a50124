//! Projections and subscriptions: `Application::subscribe`, the projection runner, and the
//! view stores (in memory, DynamoDB on moto and DynamoDB Local, PostgreSQL), including
//! crashes at random points.

#[path = "../../tests/support/mod.rs"]
mod support;

#[path = "../examples/views_support/mod.rs"]
mod views_support;

use eventsourcing_dynamodb::async_trait;
use eventsourcing_dynamodb::dynamodb::{DynamoConfig, DynamoViewStore};
use eventsourcing_dynamodb::persistence::{PersistenceError, StoredEvent};
use eventsourcing_dynamodb::prelude::*;
use eventsourcing_dynamodb::projection::{
    ProjectionError, RunnerSettings, SubscriptionSettings, ViewBatch,
};
use eventsourcing_dynamodb::system::Notified;
use eventsourcing_postgres::PostgresViewStore;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::*;
use views_support::*;

/// Long enough never to be reached on a loaded machine; only a hang reaches it.
const PATIENCE: Duration = Duration::from_secs(60);

async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, future).await.unwrap_or_else(|_| panic!("{what}: no answer"))
}

async fn school() -> Application {
    Application::builder("TrainingSchool").isolated().build().await.unwrap()
}

async fn sequenced_school(endpoint: &str) -> Application {
    let mut builder = Application::builder("TrainingSchool").isolated();
    for (key, value) in dynamo_env(endpoint, &unique_table("views-upstream")) {
        builder = builder.env(key, value);
    }
    builder.env("DYNAMO_NOTIFICATION_LOG", "sequenced").build().await.unwrap()
}

/// Registers `dog` with `tricks`, in one save.
async fn enrol(school: &Application, dog: &str, tricks: &[&str]) {
    let mut root = Dog::register(dog.to_owned());
    for trick in tricks {
        root.add_trick((*trick).to_owned());
    }
    school.save(&mut root).await.unwrap();
}

/// The PostgreSQL server scripts/test.sh started; `None` (loudly) outside it, and a
/// failure where DynamoDB is required (scripts/test.sh, CI), which starts PostgreSQL too.
fn postgres_url() -> Option<String> {
    match std::env::var("POSTGRES_TEST_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            let required = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
                || std::env::var("REQUIRE_DYNAMODB").is_ok_and(|v| v == "1");
            assert!(!required, "POSTGRES_TEST_URL is not set: run the tests with scripts/test.sh");
            eprintln!("SKIPPED: PostgreSQL test needs POSTGRES_TEST_URL (run scripts/test.sh)");
            None
        }
    }
}

/// Every view store this run can reach, each fresh: in memory, DynamoDB, PostgreSQL.
async fn stores() -> Vec<(&'static str, Arc<dyn ViewStore>)> {
    let mut stores: Vec<(&'static str, Arc<dyn ViewStore>)> =
        vec![("memory", Arc::new(InMemoryViewStore::new()))];
    if let Some(endpoint) = dynamo_endpoint() {
        let mut config = DynamoConfig::new(unique_table("views"));
        config.endpoint_url = Some(endpoint);
        config.create_table = true;
        stores.push(("dynamodb", Arc::new(DynamoViewStore::connect(&config).await.unwrap())));
    }
    if let Some(url) = postgres_url() {
        let prefix = format!("t{}_", Uuid::new_v4().simple());
        let store = PostgresViewStore::connect_with_prefix(&url, &prefix).await.unwrap();
        stores.push(("postgres", Arc::new(store)));
    }
    stores
}

/// The views computed from the whole log, without the projection: each dog's tricks as
/// its aggregate has them, and each trick's dogs in the order the log taught it to them.
async fn expected_views(
    school: &Application,
) -> (BTreeMap<String, Value>, BTreeMap<String, Value>) {
    let log = school.notification_log().select(1, usize::MAX, None, &[]).await.unwrap();
    let mut tricks_per_dog = BTreeMap::new();
    let mut dogs_per_trick: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for notification in log {
        let notified = Notified::decode(school.name(), notification, school.mapper()).unwrap();
        let Some(event) = notified.event::<Dog>() else { continue };
        let dog = school.repository().get::<Dog>(event.originator_id).await.unwrap();
        tricks_per_dog.insert(dog.name.clone(), json!(dog.tricks));
        if let DogEvent::TrickAdded { trick } = &event.payload {
            let dogs = dogs_per_trick.entry(trick.clone()).or_default();
            if !dogs.contains(&dog.name) {
                dogs.push(dog.name.clone());
            }
        }
    }
    let dogs_per_trick = dogs_per_trick.into_iter().map(|(k, v)| (k, json!(v))).collect();
    (tricks_per_dog, dogs_per_trick)
}

async fn assert_views_match_the_log(store: &dyn ViewStore, school: &Application, label: &str) {
    let (tricks_per_dog, dogs_per_trick) = expected_views(school).await;
    assert_eq!(store.rows(TRICKS_PER_DOG).await.unwrap(), tricks_per_dog, "{label}");
    assert_eq!(store.rows(DOGS_PER_TRICK).await.unwrap(), dogs_per_trick, "{label}");
    let end = school.notification_log().max_notification_id().await.unwrap();
    let tracked = store.max_tracking_id(SchoolViews.name(), school.name()).await.unwrap();
    assert_eq!(tracked, end, "{label}: the tracking position is the log's end");
}

fn ids(notifications: &[Notification]) -> Vec<u64> {
    notifications.iter().map(|n| n.id).collect()
}

use eventsourcing_dynamodb::persistence::Notification;

#[tokio::test]
async fn a_subscription_gives_history_then_new_notifications_woken_by_saves() {
    let school = school().await;
    enrol(&school, "Fido", &["roll over", "play dead"]).await;
    // Polling once an hour: only the save's wake-up can deliver the new notifications.
    let settings = SubscriptionSettings { page: 2, max_poll: Duration::from_secs(3600) };
    let mut subscription = school.subscribe_with(1, settings);
    let mut seen = Vec::new();
    for _ in 0..2 {
        seen.push(within("history", subscription.next()).await.unwrap().unwrap());
    }
    assert_eq!(ids(&seen), [2, 3]);
    let saver = {
        let school = school.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            enrol(&school, "Buster", &["sit"]).await;
        })
    };
    for _ in 0..2 {
        seen.push(within("new notification", subscription.next()).await.unwrap().unwrap());
    }
    saver.await.unwrap();
    assert_eq!(ids(&seen), [2, 3, 4, 5]);
    assert_eq!(seen[2].event.topic, seen[0].event.topic.replace("TrickAdded", "Registered"));
}

/// The sequenced log lags behind its commits: the subscriber still gets every id, in
/// order, woken by the sequencer in this process rather than by polling.
#[tokio::test]
async fn a_subscription_to_a_sequenced_log_never_skips_an_id() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let school = sequenced_school(&endpoint).await;
    let settings = SubscriptionSettings { page: 3, max_poll: Duration::from_secs(3600) };
    let mut subscription = school.subscribe_with(0, settings);
    let mut savers = Vec::new();
    for dog in 0..6 {
        let school = school.clone();
        savers.push(tokio::spawn(async move {
            enrol(&school, &format!("dog{dog}"), &["sit", "beg"]).await;
        }));
    }
    for saver in savers {
        saver.await.unwrap();
    }
    let mut seen = Vec::new();
    while seen.len() < 18 {
        seen.push(within("sequenced notification", subscription.next()).await.unwrap().unwrap());
    }
    assert_eq!(ids(&seen), (1..=18).collect::<Vec<_>>());
    let registered = seen.iter().filter(|n| n.event.topic.ends_with("Registered")).count();
    assert_eq!(registered, 6);
}

#[tokio::test]
async fn the_runner_keeps_the_views_of_the_whole_log_on_every_store() {
    for (label, store) in stores().await {
        let school = school().await;
        enrol(&school, "Fido", &["roll over", "play dead"]).await;
        enrol(&school, "Buster", &["roll over", "sit"]).await;
        // A new projection replays history...
        let runner = ProjectionRunner::new(&school, SchoolViews, store.clone());
        assert_eq!(runner.run_until_idle().await.unwrap(), 6, "{label}");
        // ...and follows new events as a task.
        let running = runner.start();
        enrol(&school, "Rex", &["sit", "roll over"]).await;
        assert!(within("catch up", running.catch_up()).await.unwrap(), "{label}");
        running.stop().await.unwrap();
        assert_views_match_the_log(store.as_ref(), &school, label).await;
        assert_eq!(
            store.get(DOGS_PER_TRICK, "roll over").await.unwrap(),
            Some(json!(["Fido", "Buster", "Rex"])),
            "{label}"
        );
        // Nothing new: nothing processed again.
        assert_eq!(runner.run_until_idle().await.unwrap(), 0, "{label}");
    }
}

/// A projection that refuses one trick.
struct Picky;

impl Projection for Picky {
    fn name(&self) -> &str {
        "picky"
    }

    async fn process(&self, notified: &Notified, view: &mut ViewChanges<'_>) -> Result<()> {
        if let Some(DogEvent::TrickAdded { trick }) = notified.event::<Dog>().map(|e| &e.payload) {
            if trick == "bite" {
                return Err(Error::System("biting is not a trick".to_owned()));
            }
            view.put("tricks", trick, &true)?;
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_projection_error_stops_the_runner_naming_the_projection_and_notification() {
    for (label, store) in stores().await {
        let school = school().await;
        enrol(&school, "Fido", &["sit", "bite", "beg"]).await;
        let runner = ProjectionRunner::new(&school, Picky, store.clone());
        let error = runner.run_until_idle().await.unwrap_err();
        assert!(
            matches!(&error, ProjectionError::Failed { projection, notification_id: 3, upstream, .. }
                if projection == "picky" && upstream == "TrainingSchool"),
            "{label}: {error:?}"
        );
        assert_eq!(error.notification_id(), Some(3));
        let message = error.to_string();
        assert!(message.contains("picky") && message.contains("notification 3"), "{message}");
        let source = std::error::Error::source(&error).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("system: biting is not a trick"), "{label}");
        // Everything before it is committed, nothing of it or after it.
        assert_eq!(runner.position().await.unwrap(), 2, "{label}");
        assert_eq!(store.rows("tricks").await.unwrap().len(), 1, "{label}");
        // The runner as a task stops with the same error, not a retry loop.
        let error = within("stopped runner", runner.start().join()).await.unwrap_err();
        assert_eq!(error.notification_id(), Some(3), "{label}");
    }
}

#[tokio::test]
async fn a_poison_notification_stops_the_runner_naming_it() {
    let school = school().await;
    enrol(&school, "Fido", &["sit"]).await;
    let topic =
        school.notification_log().select(1, 1, None, &[]).await.unwrap()[0].event.topic.clone();
    let poison = StoredEvent {
        originator_id: Uuid::new_v4(),
        originator_version: 1,
        topic,
        state: b"not json".to_vec(),
    };
    school.recorders().events.insert_events(vec![poison]).await.unwrap();
    enrol(&school, "Rex", &["beg"]).await;
    let store = Arc::new(InMemoryViewStore::new());
    let runner = ProjectionRunner::new(&school, SchoolViews, store.clone());
    let error = runner.run_until_idle().await.unwrap_err();
    match &error {
        ProjectionError::Failed { projection, notification_id, source, .. } => {
            assert_eq!((projection.as_str(), *notification_id), ("school-views", 3));
            assert!(matches!(**source, Error::Decode(_)), "{source:?}");
        }
        other => panic!("expected a failure at notification 3, got {other:?}"),
    }
    assert_eq!(runner.position().await.unwrap(), 2);
}

#[tokio::test]
async fn a_commit_from_a_stale_position_is_refused_on_every_store() {
    for (label, store) in stores().await {
        let mut first = ViewBatch::new("Upstream", 0);
        first.absorb(2, BTreeMap::from([(("v".to_owned(), "k".to_owned()), Some(json!(1)))]));
        store.commit("p", &first).await.unwrap();
        // A second runner that read position 0 too: nothing of its commit is written.
        let mut stale = ViewBatch::new("Upstream", 0);
        stale.absorb(1, BTreeMap::from([(("v".to_owned(), "k".to_owned()), Some(json!(2)))]));
        let refused = store.commit("p", &stale).await.unwrap_err();
        assert!(
            matches!(refused, PersistenceError::TrackingConflict { .. }),
            "{label}: {refused:?}"
        );
        let mut next = ViewBatch::new("Upstream", 2);
        next.absorb(3, BTreeMap::from([(("v".to_owned(), "k".to_owned()), None)]));
        store.commit("p", &next).await.unwrap();
        assert_eq!(store.max_tracking_id("p", "Upstream").await.unwrap(), 3, "{label}");
        assert_eq!(store.get("v", "k").await.unwrap(), None, "{label}");
        // Tracking records are per projection and upstream.
        assert_eq!(store.max_tracking_id("q", "Upstream").await.unwrap(), 0, "{label}");
        assert_eq!(store.max_tracking_id("p", "Other").await.unwrap(), 0, "{label}");
    }
}

/// A store whose tracking record reads as 0, as a second runner started long ago saw it.
struct Stale(Arc<dyn ViewStore>);

#[async_trait]
impl ViewStore for Stale {
    async fn get(&self, view: &str, key: &str) -> Result<Option<Value>, PersistenceError> {
        self.0.get(view, key).await
    }
    async fn rows(&self, view: &str) -> Result<BTreeMap<String, Value>, PersistenceError> {
        self.0.rows(view).await
    }
    async fn max_tracking_id(&self, _: &str, _: &str) -> Result<u64, PersistenceError> {
        Ok(0)
    }
    async fn commit(&self, projection: &str, batch: &ViewBatch) -> Result<(), PersistenceError> {
        self.0.commit(projection, batch).await
    }
}

#[tokio::test]
async fn a_second_runner_of_a_projection_is_fenced() {
    let school = school().await;
    enrol(&school, "Fido", &["sit"]).await;
    let store: Arc<dyn ViewStore> = Arc::new(InMemoryViewStore::new());
    ProjectionRunner::new(&school, SchoolViews, store.clone()).run_until_idle().await.unwrap();
    enrol(&school, "Rex", &["sit"]).await;
    let stale = ProjectionRunner::new(&school, SchoolViews, Arc::new(Stale(store.clone())));
    let error = stale.run_until_idle().await.unwrap_err();
    assert!(matches!(error, ProjectionError::Fenced { .. }), "{error:?}");
    assert!(error.to_string().contains("school-views"), "{error}");
    assert_eq!(store.rows(DOGS_PER_TRICK).await.unwrap()["sit"], json!(["Fido"]));
}

/// Writes `rows` rows for the trick "everything".
struct Wide {
    rows: usize,
}

impl Projection for Wide {
    fn name(&self) -> &str {
        "wide"
    }

    async fn process(&self, notified: &Notified, view: &mut ViewChanges<'_>) -> Result<()> {
        let Some(DogEvent::TrickAdded { trick }) = notified.event::<Dog>().map(|e| &e.payload)
        else {
            return Ok(());
        };
        let rows = if trick == "everything" { self.rows } else { 1 };
        for row in 0..rows {
            view.put("wide", &format!("{trick}-{row}"), &row)?;
        }
        Ok(())
    }
}

/// DynamoDB writes at most 100 items in one transaction: a notification with 100 rows (and
/// its tracking record) is a typed error naming it, and is never split; the batch before it
/// is committed on its own, and batches of small notifications stop short of the limit.
#[tokio::test]
async fn too_many_rows_for_one_dynamodb_transaction_is_a_typed_error() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let mut config = DynamoConfig::new(unique_table("views-wide"));
    config.endpoint_url = Some(endpoint);
    config.create_table = true;
    let store: Arc<dyn ViewStore> = Arc::new(DynamoViewStore::connect(&config).await.unwrap());
    let school = school().await;
    let tricks: Vec<String> = (0..150).map(|n| format!("trick{n}")).collect();
    let mut tricks: Vec<&str> = tricks.iter().map(String::as_str).collect();
    tricks.push("everything");
    enrol(&school, "Fido", &tricks).await;
    let settings = RunnerSettings { batch: 1000, ..RunnerSettings::default() };
    let runner =
        ProjectionRunner::new(&school, Wide { rows: 100 }, store.clone()).with_settings(settings);
    let error = runner.run_until_idle().await.unwrap_err();
    match &error {
        ProjectionError::TooLarge { projection, notification_id, source, .. } => {
            assert_eq!((projection.as_str(), *notification_id), ("wide", 152));
            assert!(
                matches!(source, PersistenceError::LimitExceeded { actual: 101, maximum: 100, .. }),
                "{source:?}"
            );
        }
        other => panic!("expected TooLarge at 152, got {other:?}"),
    }
    assert_eq!(runner.position().await.unwrap(), 151);
    assert_eq!(store.rows("wide").await.unwrap().len(), 150);
    // 99 rows and the tracking record fit: with a fix, the runner resumes at 152.
    let runner = ProjectionRunner::new(&school, Wide { rows: 99 }, store.clone());
    assert_eq!(runner.run_until_idle().await.unwrap(), 1);
    assert_eq!(store.rows("wide").await.unwrap().len(), 150 + 99);
}

/// A store that fails at random: a read, or a commit before it is written, or a commit
/// after it is written (its answer lost), as a crash between the view write and the
/// runner learning of it would.
struct Faulty {
    inner: Arc<dyn ViewStore>,
    rng: Mutex<fastrand::Rng>,
    on: AtomicBool,
    injected: AtomicUsize,
    commits: AtomicUsize,
    written: AtomicBool,
}

impl Faulty {
    fn fault(&self, percent: u8) -> bool {
        let mut rng = self.rng.lock().unwrap();
        let fault = self.on.load(Ordering::SeqCst) && rng.u8(0..100) < percent;
        self.injected.fetch_add(usize::from(fault), Ordering::SeqCst);
        fault
    }
}

fn injected(when: &str) -> PersistenceError {
    PersistenceError::Operational {
        operation: format!("injected fault {when}"),
        message: "fault injected by the test".to_owned(),
        source: None,
    }
}

#[async_trait]
impl ViewStore for Faulty {
    async fn get(&self, view: &str, key: &str) -> Result<Option<Value>, PersistenceError> {
        if self.fault(3) {
            return Err(injected("reading a row"));
        }
        self.inner.get(view, key).await
    }
    async fn rows(&self, view: &str) -> Result<BTreeMap<String, Value>, PersistenceError> {
        self.inner.rows(view).await
    }
    async fn max_tracking_id(
        &self,
        projection: &str,
        upstream: &str,
    ) -> Result<u64, PersistenceError> {
        self.inner.max_tracking_id(projection, upstream).await
    }
    async fn commit(&self, projection: &str, batch: &ViewBatch) -> Result<(), PersistenceError> {
        // The first commit fails before writing, and the first that writes loses its
        // answer: each run sees both.
        let commit = self.commits.fetch_add(1, Ordering::SeqCst);
        if self.fault(if commit == 0 { 100 } else { 15 }) {
            return Err(injected("before the commit"));
        }
        self.inner.commit(projection, batch).await?;
        let first_written = !self.written.swap(true, Ordering::SeqCst);
        if self.fault(if first_written { 100 } else { 15 }) {
            return Err(PersistenceError::OutcomeUnknown {
                operation: "injected fault after the commit".to_owned(),
                detail: "the commit's answer was lost".to_owned(),
                source: None,
            });
        }
        Ok(())
    }
    fn check_limits(&self, batch: &ViewBatch) -> Result<(), PersistenceError> {
        self.inner.check_limits(batch)
    }
}

/// Runs the projection with faults and aborts at random points while dogs are enrolled,
/// then once more without faults, and checks the views against the log. Returns how many
/// faults were injected.
async fn crash_and_restart(
    label: &str,
    store: Arc<dyn ViewStore>,
    seed: u64,
    rounds: usize,
) -> usize {
    let school = school().await;
    let mut rng = fastrand::Rng::with_seed(seed);
    let faulty = Arc::new(Faulty {
        inner: store.clone(),
        rng: Mutex::new(fastrand::Rng::with_seed(seed ^ 1)),
        on: AtomicBool::new(true),
        injected: AtomicUsize::new(0),
        commits: AtomicUsize::new(0),
        written: AtomicBool::new(false),
    });
    let tricks = ["sit", "beg", "roll over", "play dead", "fetch"];
    let mut dogs = 0;
    for round in 0..rounds {
        let settings = RunnerSettings {
            batch: rng.usize(1..8),
            retries: 1000,
            max_backoff: Duration::from_millis(2),
            subscription: SubscriptionSettings {
                page: rng.usize(1..6),
                max_poll: Duration::from_millis(5),
            },
        };
        let runner =
            ProjectionRunner::new(&school, SchoolViews, faulty.clone()).with_settings(settings);
        let running = runner.start();
        for _ in 0..rng.usize(1..4) {
            let learnt: Vec<&str> =
                (0..rng.usize(0..4)).map(|_| tricks[rng.usize(..tricks.len())]).collect();
            enrol(&school, &format!("dog{dogs}"), &learnt).await;
            dogs += 1;
        }
        tokio::time::sleep(Duration::from_micros(rng.u64(0..20_000))).await;
        if round == 0 {
            // At least both scripted faults before the first abort.
            within("the scripted faults", async {
                while faulty.injected.load(Ordering::SeqCst) < 2 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            })
            .await;
        }
        assert!(!running.is_finished(), "{label} round {round}: the runner stopped by itself");
        running.abort().await;
    }
    faulty.on.store(false, Ordering::SeqCst);
    let runner = ProjectionRunner::new(&school, SchoolViews, store.clone());
    runner.run_until_idle().await.unwrap();
    assert_views_match_the_log(store.as_ref(), &school, &format!("{label} seed {seed}")).await;
    faulty.injected.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_are_exact_after_crashes_at_random_points_on_every_store() {
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("crash test seed {seed} (CRASH_SEED={seed} repeats it)");
    for (label, store) in stores().await {
        let rounds = if label == "memory" { 40 } else { 12 };
        let injected = crash_and_restart(label, store, seed, rounds).await;
        eprintln!("{label}: {rounds} aborts, {injected} faults injected");
        assert!(injected >= 2, "{label}: the scripted faults were not injected");
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        /// In memory, any pattern of faults, aborts, batch and page sizes leaves the views
        /// equal to the log's.
        #[test]
        fn in_memory_views_survive_any_crash_pattern(seed in any::<u64>(), rounds in 1usize..12) {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            let store = Arc::new(InMemoryViewStore::new());
            runtime.block_on(crash_and_restart("memory", store, seed, rounds));
        }
    }
}

/// Commits through a proxy that loses responses after DynamoDB applied them, and answers
/// retries with in-progress, conflict and throttling errors: every lost answer is resolved
/// (the same transaction resent, or the tracking item read back), never misreported as
/// another runner's commit, and the views end exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_dynamodb_answers_are_resolved_not_misreported() {
    use fault_proxy::{Fault, FaultConfig, FaultProxy};
    let Some(endpoint) = dynamo_endpoint() else { return };
    let proxy = FaultProxy::start(&endpoint, FaultConfig::none().seed(11)).await.unwrap();
    let mut config = DynamoConfig::new(unique_table("views-lossy"));
    config.endpoint_url = Some(proxy.endpoint());
    config.create_table = true;
    let store: Arc<dyn ViewStore> = Arc::new(DynamoViewStore::connect(&config).await.unwrap());
    let school = school().await;
    for dog in 0..8 {
        enrol(&school, &format!("dog{dog}"), &["sit", "beg"]).await;
    }
    proxy.configure(
        FaultConfig::none()
            .seed(11)
            .only(&["TransactWriteItems"])
            .rate(Fault::LoseResponse, 0.4)
            .rate(Fault::Throttling, 0.1)
            .after_loss(Fault::InProgress, 0.3)
            .after_loss(Fault::CancelConflict, 0.2),
    );
    let settings = RunnerSettings { batch: 2, ..RunnerSettings::default() };
    let runner = ProjectionRunner::new(&school, SchoolViews, store.clone()).with_settings(settings);
    let processed = within("lossy catch-up", runner.run_until_idle()).await;
    let counts = proxy.counts();
    proxy.configure(FaultConfig::none());
    assert_eq!(processed.unwrap(), 24, "{counts}");
    eprintln!("fault proxy: {counts}");
    assert!(counts.of(Fault::LoseResponse) > 0, "no response was lost: {counts}");
    assert_views_match_the_log(store.as_ref(), &school, "lossy DynamoDB").await;
}
