//! The application layer's honesty: a refused command commits nothing, a save dropped after
//! its commit leaves nothing pending, a panicking body never leaves a half-applied cached
//! aggregate, followers report (or skip) notifications they cannot process, and the seed's
//! call forms (`save(&mut dog)`, tuples, `find`, your own application type).

#![forbid(unsafe_code)]

use eventsourcing_dynamodb::persistence::memory::InMemoryRecorder;
use eventsourcing_dynamodb::persistence::{
    AggregateRecorder, EventQuery, PersistenceError, Recorders, StoredEvent,
};
use eventsourcing_dynamodb::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooMany;

impl std::fmt::Display for TooMany {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("too many tricks")
    }
}

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

    pub fn create_id(name: &str) -> Uuid {
        Uuid::new_v5(&Uuid::NAMESPACE_URL, format!("/dogs/{name}").as_bytes())
    }

    #[event("TrickAdded")]
    pub fn add_trick(&mut self, trick: String) {
        self.tricks.push(trick);
    }

    /// Records the first trick, then refuses the second (a dog learns one at a time): the
    /// issue's `TooMany` command, which records an event before it fails.
    pub fn add_two(&mut self, first: &str, second: &str) -> Result<(), TooMany> {
        self.add_trick(first.to_owned());
        if !self.tricks.is_empty() {
            return Err(TooMany);
        }
        self.add_trick(second.to_owned());
        Ok(())
    }
}

#[aggregate]
pub struct Owner {
    name: String,
}

#[aggregate]
impl Owner {
    #[event("Registered")]
    pub fn register(name: String) -> Self {
        Owner { name }
    }
}

async fn app() -> Application {
    Application::builder("Kennel").isolated().build().await.unwrap()
}

/// Failed on the old code: `update` saved what the closure recorded whatever it returned
/// (stored tricks ["sit"], version 2, after a command that returned `Err(TooMany)`).
#[tokio::test]
async fn a_refused_command_commits_nothing() {
    let app = app().await;
    let mut dog = Dog::register("Fido".into());
    app.save(&mut dog).await.unwrap();

    let outcome = app.update::<Dog, _>(dog.id(), |dog| dog.add_two("sit", "beg")).await;
    assert!(matches!(outcome, Err(UpdateError::Command(TooMany))), "{outcome:?}");
    let stored = app.repository().get::<Dog>(dog.id()).await.unwrap();
    assert_eq!(stored.version(), 1, "nothing saved");
    assert!(stored.tricks.is_empty());

    // A command that succeeds saves, and its value comes back.
    let version = app
        .update::<Dog, _>(dog.id(), |dog| {
            dog.add_trick("sit".into());
            Ok::<_, TooMany>(dog.version())
        })
        .await
        .unwrap();
    assert_eq!(version, 2);
    // Store failures are told apart from the command's own error.
    let missing = app.update::<Dog, _>(Dog::create_id("Nobody"), |_| Ok::<_, TooMany>(())).await;
    assert!(
        matches!(missing, Err(UpdateError::Store(Error::AggregateNotFound { .. }))),
        "{missing:?}"
    );
}

/// A snapshot store whose writes never finish.
struct StuckSnapshots;

#[eventsourcing_dynamodb::async_trait]
impl AggregateRecorder for StuckSnapshots {
    async fn insert_events(&self, _: Vec<StoredEvent>) -> Result<Vec<u64>, PersistenceError> {
        std::future::pending().await
    }

    async fn select_events(
        &self,
        _: Uuid,
        _: EventQuery,
    ) -> Result<Vec<StoredEvent>, PersistenceError> {
        Ok(Vec::new())
    }
}

/// Failed on the old code: the save awaited the interval snapshot before marking the
/// aggregate saved, so a caller that gave up there kept committed events pending, and its
/// next save conflicted with itself.
#[tokio::test]
async fn a_save_dropped_at_its_snapshot_leaves_nothing_pending() {
    let recorders = Recorders {
        events: Arc::new(InMemoryRecorder::new()),
        snapshots: Arc::new(StuckSnapshots),
    };
    let app = Application::builder("Kennel")
        .isolated()
        .recorders(recorders)
        .snapshot_every::<Dog>(2)
        .env("AGGREGATE_CACHE_MAXSIZE", "0")
        .build()
        .await
        .unwrap();
    let mut dog = Dog::register("Fido".into());
    dog.add_trick("sit".into());
    let save = tokio::time::timeout(Duration::from_millis(50), app.save(&mut dog)).await;
    assert!(save.is_err(), "the snapshot write never finishes, so the save is dropped there");
    assert!(dog.pending_events().is_empty(), "committed events are marked saved");

    dog.add_trick("beg".into());
    app.save(&mut dog).await.expect("the next save does not conflict with the first");
    let stored = app.repository().get::<Dog>(dog.id()).await.unwrap();
    assert_eq!(stored.tricks, ["sit", "beg"]);
    assert_eq!(stored.version(), 3);
}

static PANIC_IN_BODY: AtomicBool = AtomicBool::new(false);

#[aggregate]
pub struct Moody {
    moods: Vec<String>,
}

#[aggregate]
impl Moody {
    #[event("Started")]
    pub fn start() -> Self {
        Moody { moods: Vec::new() }
    }

    /// Panics halfway through when told to (after changing the state).
    #[event("Changed")]
    pub fn change(&mut self, mood: String) {
        self.moods.push(mood);
        if PANIC_IN_BODY.load(Ordering::SeqCst) {
            panic!("the body panics halfway");
        }
    }
}

/// Failed on the old code: the cache replayed the saved events under its lock, so the
/// panic escaped from a save whose events had committed, and the half-applied copy
/// (state changed, version not) stayed cached and was served (and fast-forwarded again).
#[tokio::test]
async fn a_body_panicking_in_the_cache_evicts_the_entry() {
    let app = Application::builder("Moods")
        .isolated()
        .env("AGGREGATE_CACHE_MAXSIZE", "0")
        .build()
        .await
        .unwrap();
    let mut moody = Moody::start();
    app.save(&mut moody).await.unwrap();
    moody.change("happy".into());
    PANIC_IN_BODY.store(true, Ordering::SeqCst);
    let saved = app.save(&mut moody).await;
    PANIC_IN_BODY.store(false, Ordering::SeqCst);
    saved.expect("the events committed, so the save succeeds");
    let loaded = app.repository().get::<Moody>(moody.id()).await.unwrap();
    assert_eq!(loaded.moods, ["happy"], "no half-applied copy served");
    assert_eq!(loaded.version(), 2);
}

/// Fails on the notification of the trick "poison".
struct PickyPolicy;

impl Policy for PickyPolicy {
    async fn process(&self, notified: &Notified, processing: &mut Processing) -> Result<()> {
        let Some(event) = notified.event::<Dog>() else { return Ok(()) };
        let DogEvent::TrickAdded { trick } = &event.payload else { return Ok(()) };
        if trick == "poison" {
            return Err(Error::System(format!("cannot count {trick}")));
        }
        let mut owner = Owner::register(trick.clone());
        processing.collect(&mut owner)?;
        Ok(())
    }
}

/// An upstream with tricks sit (2), poison (3), beg (4), and a follower of it.
async fn poisoned(
    on_failure: OnFailure,
) -> (Application, Arc<ProcessApplication<PickyPolicy>>, System) {
    let school = Application::builder("TrainingSchool").isolated().build().await.unwrap();
    let mut dog = Dog::register("Fido".into());
    for trick in ["sit", "poison", "beg"] {
        dog.add_trick(trick.into());
    }
    school.save(&mut dog).await.unwrap();
    let counter = Arc::new(ProcessApplication::new(
        Application::builder("Counter").isolated().build().await.unwrap(),
        PickyPolicy,
    ));
    let system = System::builder()
        .leader(&school)
        .process(counter.clone())
        .pipe("TrainingSchool", "Counter")
        .on_failure(on_failure)
        .build()
        .unwrap();
    (school, counter, system)
}

fn assert_poison(error: &Error) {
    match error {
        Error::Follower { follower, upstream, notification_id, source } => {
            assert_eq!((follower.as_str(), upstream.as_str()), ("Counter", "TrainingSchool"));
            assert_eq!(*notification_id, 3);
            assert!(source.to_string().contains("cannot count poison"), "{source}");
        }
        other => panic!("expected Error::Follower, got {other:?}"),
    }
    assert_eq!(error.to_string(), "Counter could not process notification 3 of TrainingSchool");
}

/// Failed on the old code: `run_until_idle` returned the policy's error without saying
/// which notification, and the tokio runner retried it forever while `stop()` said `Ok`.
#[tokio::test]
async fn a_poison_notification_stops_its_follower() {
    let (_school, counter, system) = poisoned(OnFailure::Stop).await;
    let error = system.run_until_idle().await.unwrap_err();
    assert_poison(&error);
    let position = counter.recorders().events.max_tracking_id("TrainingSchool").await.unwrap();
    assert_eq!(position, 2, "stopped before the poison notification");

    let runner = system.start(Duration::from_millis(5));
    for _ in 0..400 {
        if runner.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(runner.is_finished(), "the follower stopped by itself");
    assert_poison(&runner.stop().await.unwrap_err());
    assert!(system.take_skipped().is_empty());
}

#[tokio::test]
async fn a_poison_notification_can_be_skipped_and_is_recorded() {
    let (_school, counter, system) = poisoned(OnFailure::Skip).await;
    system.run_until_idle().await.unwrap();
    let recorder = &counter.recorders().events;
    assert_eq!(recorder.max_tracking_id("TrainingSchool").await.unwrap(), 4, "went past it");
    assert!(recorder.has_tracking_id("TrainingSchool", 3).await.unwrap(), "the skip is tracked");
    let skipped = system.take_skipped();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].notification_id, 3);
    assert_eq!(skipped[0].upstream, "TrainingSchool");
    assert!(skipped[0].error.to_string().contains("cannot count poison"));
    // The other notifications had their effect: owners "sit" and "beg" (one event each).
    assert_eq!(counter.notification_log().max_notification_id().await.unwrap(), 2);
}

/// Your own application type, as the seed subclasses `Application`.
struct Kennel(Application);

impl AsApplication for Kennel {
    fn application(&self) -> &Application {
        &self.0
    }
}

impl Kennel {
    async fn adopt(&self, dog: &str, owner: &str) -> Result<Uuid> {
        let mut dog = Dog::register(dog.into());
        let mut owner = Owner::register(owner.into());
        self.save((&mut dog, &mut owner)).await?;
        Ok(dog.id())
    }
}

#[tokio::test]
async fn the_seeds_call_forms() {
    let kennel = Kennel(app().await);
    let id = kennel.adopt("Fido", "Alice").await.unwrap();
    let ids = kennel.notification_log().max_notification_id().await.unwrap();
    assert_eq!(ids, 2, "both aggregates in one save");
    assert!(kennel.repository().find::<Dog>(id).await.unwrap().is_some());
    assert!(kennel.repository().find::<Dog>(Dog::create_id("Nobody")).await.unwrap().is_none());
    kennel.update::<Dog, _>(id, |dog| dog.add_trick("sit".into())).await.unwrap();

    // The old slice form still works.
    let mut rex = Dog::register("Rex".into());
    let mut other = Dog::register("Buster".into());
    kennel.save(&mut [&mut rex, &mut other]).await.unwrap();
    let mut dynamic: Vec<&mut dyn eventsourcing_dynamodb::Pending> = vec![&mut rex];
    kennel.save(&mut dynamic[..]).await.unwrap();
    let system = System::builder().leader(&kennel).build();
    assert!(system.is_ok(), "a leader may be your own type");

    // Pipes wired by the applications themselves.
    let counter = Arc::new(ProcessApplication::new(
        Application::builder("Counter").isolated().build().await.unwrap(),
        PickyPolicy,
    ));
    let system = System::builder().connect(&kennel, &counter).build().unwrap();
    let mut dog = Dog::register("Lassie".into());
    dog.add_trick("fetch".into());
    kennel.save(&mut dog).await.unwrap();
    system.run_until_idle().await.unwrap();
    // One owner per TrickAdded: Fido's "sit" (from `update` above) and Lassie's "fetch".
    assert_eq!(counter.notification_log().max_notification_id().await.unwrap(), 2);
}

/// Failed on the old code (the system was built, and a follower writing into its upstream's
/// store followed its own events too).
#[tokio::test]
async fn two_applications_on_one_log_are_refused() {
    let school = Application::builder("TrainingSchool").isolated().build().await.unwrap();
    let counter = Application::builder("Counter")
        .isolated()
        .recorders(school.recorders().clone())
        .build()
        .await
        .unwrap();
    let counter = Arc::new(ProcessApplication::new(counter, PickyPolicy));
    let error = System::builder()
        .leader(&school)
        .process(counter)
        .pipe("TrainingSchool", "Counter")
        .build()
        .unwrap_err();
    assert!(
        matches!(&error, Error::SharedLog { first, second, .. } if first == "Counter" && second == "TrainingSchool"),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("COUNTER_DYNAMO_TABLE"), "{message}");
    assert!(message.contains("TRAININGSCHOOL_DYNAMO_TABLE"), "{message}");
}

/// Failed on the old code: a closed port gave a 1 KB SDK dump that never named
/// DYNAMO_ENDPOINT_URL. (Needs no server: nothing listens on the port.)
#[tokio::test]
async fn an_unreachable_endpoint_names_the_variable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let error = Application::builder("TrainingSchool")
        .isolated()
        .env("PERSISTENCE_MODULE", "eventsourcing_dynamodb")
        .env("DYNAMO_ENDPOINT_URL", &url)
        .env("DYNAMO_TABLE", "dogs")
        .env("DYNAMO_TIMEOUT_SECONDS", "5")
        .build()
        .await
        .unwrap_err();
    let message = error.to_string();
    let sentence = format!(
        "could not reach DynamoDB at {url} (DYNAMO_ENDPOINT_URL) to open table dogs: is the \
         server running, and is the URL right?"
    );
    assert!(message.ends_with(&sentence), "{message}");
    assert!(message.len() < 250, "a sentence, not a dump: {message}");
    let mut chain = Vec::new();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        chain.push(cause.to_string());
        source = cause.source();
    }
    assert!(chain.len() >= 2, "the details are in source(): {chain:?}");

    let error = Application::builder("TrainingSchool")
        .isolated()
        .env("PERSISTENCE_MODULE", "eventsourcing_dynamodb")
        .env("DYNAMO_ENDPOINT_URL", "localhost:8000")
        .env("DYNAMO_TABLE", "dogs")
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("DYNAMO_ENDPOINT_URL") && error.contains("http://localhost:8000"),
        "{error}"
    );
}

/// An alias the type-name rule cannot see through.
pub type Money = Decimal;

#[aggregate]
pub struct Account {
    #[transcode]
    balance: Money,
    #[transcode(off)]
    rate: f64,
}

#[aggregate]
impl Account {
    #[event("Opened")]
    pub fn open(#[transcode(off)] rate: f64) -> Self {
        Account { balance: Decimal::ZERO, rate }
    }

    #[event("Credited")]
    pub fn credit(&mut self, #[transcode] amount: Money) {
        self.balance += amount;
    }
}

/// The escape hatch: `#[transcode]` stores an alias of `Decimal` as Python's `decimal_str`,
/// `#[transcode(off)]` stores an `f64` by its own `Serialize` (the type-name rule would
/// transcode it), on event arguments and state fields alike.
#[tokio::test]
async fn transcoding_is_chosen_explicitly_where_the_type_name_does_not_tell() {
    let app = Application::builder("Bank")
        .isolated()
        .env("IS_SNAPSHOTTING_ENABLED", "true")
        .build()
        .await
        .unwrap();
    let mut account = Account::open(0.5);
    account.credit(Decimal::new(150, 2));
    app.save(&mut account).await.unwrap();
    let stored =
        app.recorders().events.select_events(account.id(), EventQuery::default()).await.unwrap();
    let credited = String::from_utf8(stored[1].state.clone()).unwrap();
    assert!(
        credited.contains(r#""amount":{"_type_":"decimal_str","_data_":"1.50"}"#),
        "{credited}"
    );
    let opened = String::from_utf8(stored[0].state.clone()).unwrap();
    assert!(opened.contains(r#""rate":0.5"#), "{opened}");

    app.take_snapshot::<Account>(account.id(), None).await.unwrap();
    let snapshots = app.recorders().snapshots.select_events(account.id(), EventQuery::default());
    let snapshot = String::from_utf8(snapshots.await.unwrap()[0].state.clone()).unwrap();
    assert!(
        snapshot.contains(r#""balance":{"_type_":"decimal_str","_data_":"1.50"}"#),
        "{snapshot}"
    );
    assert!(snapshot.contains(r#""rate":0.5"#), "{snapshot}");
    let loaded = app.repository().get::<Account>(account.id()).await.unwrap();
    assert_eq!(loaded.balance, Decimal::new(150, 2));
}

/// A notification with a known topic whose state does not decode is a poison notification
/// too: named with its id (failed on the old code, whose runner retried it forever).
#[tokio::test]
async fn a_notification_that_does_not_decode_is_named() {
    let school = Application::builder("TrainingSchool").isolated().build().await.unwrap();
    let mut dog = Dog::register("Fido".into());
    dog.add_trick("sit".into());
    school.save(&mut dog).await.unwrap();
    let topic = school.recorders().events.select_events(dog.id(), EventQuery::default());
    let topic = topic.await.unwrap()[1].topic.clone();
    let garbage = StoredEvent {
        originator_id: dog.id(),
        originator_version: 3,
        topic,
        state: b"not json".to_vec(),
    };
    school.recorders().events.insert_events(vec![garbage]).await.unwrap();
    let counter = Arc::new(ProcessApplication::new(
        Application::builder("Counter").isolated().build().await.unwrap(),
        PickyPolicy,
    ));
    let system = System::builder().connect(&school, &counter).build().unwrap();
    match system.run_until_idle().await.unwrap_err() {
        Error::Follower { notification_id: 3, source, .. } => {
            assert!(matches!(*source, Error::Decode(_)), "{source:?}")
        }
        other => panic!("expected Error::Follower for notification 3, got {other:?}"),
    }
}
