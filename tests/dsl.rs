//! The `#[aggregate]` DSL end to end, on the in-memory store.

use eventsourcing_dynamodb::persistence::{DecodeProblem, EventQuery};
use eventsourcing_dynamodb::prelude::*;
use eventsourcing_dynamodb::testing::AggregateTest;
use eventsourcing_dynamodb::{Event, OffsetDateTime, PersistenceError, StoredEvent};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use kennel::{
    Dog, DogCommands, DogEvent, Puppy, PuppyCommands, PuppyError, PuppyEvent, TrickError,
};

/// Aggregates declared in a nested module, so that their default topics are
/// `dsl.kennel:Dog` and `dsl.kennel:Puppy`.
mod kennel {
    use eventsourcing_dynamodb::prelude::*;

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum TrickError {
        AlreadyKnown(String),
        Empty,
    }

    #[aggregate]
    #[derive(Debug)]
    pub struct Dog {
        pub name: String,
        pub tricks: Vec<String>,
        pub taught: u32,
    }

    #[aggregate]
    impl Dog {
        #[event("Registered")]
        pub fn register(name: String) -> Self {
            Dog { name, tricks: Vec::new(), taught: 0 }
        }

        pub fn create_id(name: &str) -> Uuid {
            Uuid::new_v5(&Uuid::NAMESPACE_URL, format!("/dogs/{name}").as_bytes())
        }

        #[event("TrickAdded")]
        pub fn add_trick(&mut self, trick: String) {
            self.tricks.push(trick);
        }

        /// A fallible body: the error comes back to the caller unchanged.
        #[event("TrickLearned")]
        pub fn learn_trick(&mut self, trick: String) -> Result<(), TrickError> {
            if self.tricks.contains(&trick) {
                return Err(TrickError::AlreadyKnown(trick));
            }
            self.tricks.push(trick);
            Ok(())
        }

        /// An undecorated command: validates, then records a private event.
        pub fn teach(&mut self, trick: &str) -> Result<(), TrickError> {
            if trick.is_empty() {
                return Err(TrickError::Empty);
            }
            if self.tricks.iter().any(|t| t == trick) {
                return Err(TrickError::AlreadyKnown(trick.to_owned()));
            }
            self.record_teaching(trick.to_owned());
            Ok(())
        }

        #[event("Taught")]
        fn record_teaching(&mut self, trick: String) {
            self.tricks.push(trick);
            self.taught += 1;
        }
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum PuppyError {
        NoName,
    }

    #[aggregate]
    #[derive(Debug)]
    pub struct Puppy {
        pub name: String,
        pub tricks: Vec<String>,
        pub meals: Vec<String>,
    }

    #[aggregate]
    impl Puppy {
        /// A fallible constructor, and no `create_id`: ids are random.
        #[event("Adopted")]
        pub fn adopt(name: String) -> Result<Self, PuppyError> {
            if name.is_empty() {
                return Err(PuppyError::NoName);
            }
            Ok(Puppy { name, tricks: Vec::new(), meals: Vec::new() })
        }

        /// Bare `#[event]`: named after the method.
        #[event]
        pub fn add_trick(&mut self, trick: String) {
            self.tricks.push(trick);
        }

        /// A topic given explicitly.
        #[event("Fed", topic = "kennel.food:Meal")]
        pub fn feed(&mut self, food: String) {
            self.meals.push(food);
        }
    }
}

/// An aggregate with a Python topic and an alias for its old topic.
mod renamed {
    use eventsourcing_dynamodb::prelude::*;

    #[aggregate(topic = "seed:Dog", aliases = ["old:Dog"])]
    pub struct Dog {
        pub name: String,
        pub tricks: Vec<String>,
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
}

async fn app() -> Application {
    Application::builder("Kennel").isolated().build().await.expect("in-memory application")
}

fn fido_id() -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, b"/dogs/Fido")
}

fn assert_utc_micros(timestamp: OffsetDateTime) {
    assert!(timestamp.offset().is_utc(), "{timestamp} is not UTC");
    assert_eq!(timestamp.nanosecond() % 1_000, 0, "{timestamp} has sub-microsecond digits");
}

async fn stored(app: &Application, id: Uuid) -> Vec<StoredEvent> {
    app.recorders().events.select_events(id, EventQuery::default()).await.unwrap()
}

async fn max_id(app: &Application) -> u64 {
    app.notification_log().max_notification_id().await.unwrap()
}

#[tokio::test]
async fn commands_record_pending_events() {
    let mut dog = Dog::register("Fido".to_string());
    assert_eq!(dog.version(), 1);
    assert_eq!(dog.created_on(), dog.modified_on());
    assert_utc_micros(dog.created_on());
    let created_on = dog.created_on();
    assert_eq!(dog.pending_events().len(), 1);
    let first = &dog.pending_events()[0];
    assert_eq!(first.originator_version, 1);
    assert_eq!(first.originator_id, dog.id());
    assert_eq!(first.timestamp, created_on);
    assert!(first.payload.is_created());
    assert_eq!(first.payload.name(), "Registered");

    for (n, trick) in ["roll over", "play dead"].into_iter().enumerate() {
        let before = dog.modified_on();
        std::thread::sleep(Duration::from_millis(2));
        dog.add_trick(trick.to_string());
        let expected_version = 2 + n as u64;
        assert_eq!(dog.version(), expected_version);
        assert!(dog.modified_on() > before, "modified_on not bumped");
        assert_eq!(dog.created_on(), created_on, "created_on changed");
        assert_utc_micros(dog.modified_on());
        let last = dog.pending_events().last().unwrap();
        assert_eq!(last.originator_version, expected_version);
        assert_eq!(last.originator_id, dog.id());
        assert_eq!(last.timestamp, dog.modified_on());
        assert!(!last.payload.is_created());
        match &last.payload {
            DogEvent::TrickAdded { trick: recorded } => assert_eq!(recorded, trick),
            other => panic!("unexpected event {other:?}"),
        }
    }
    assert_eq!(dog.tricks, ["roll over", "play dead"]);
    assert_eq!(dog.pending_events().len(), 3);

    let versions: Vec<u64> = dog.pending_events().iter().map(|e| e.originator_version).collect();
    let collected = dog.collect_events();
    assert_eq!(collected.iter().map(|e| e.originator_version).collect::<Vec<_>>(), versions);
    assert_eq!(versions, [1, 2, 3]);
    assert!(dog.pending_events().is_empty());
    assert!(dog.collect_events().is_empty());
    assert_eq!(dog.version(), 3, "collecting does not change the version");

    // Events keep being numbered after a collect.
    dog.add_trick("sit".to_string());
    assert_eq!(dog.pending_events()[0].originator_version, 4);
}

#[tokio::test]
async fn created_event_topic_and_originator_topic() {
    let mut dog = Dog::register("Fido".to_string());
    dog.add_trick("roll over".to_string());
    let app = app().await;
    let records: Vec<StoredEvent> =
        dog.pending_events().iter().map(|e| app.mapper().to_stored(e).unwrap()).collect();
    assert_eq!(records[0].originator_version, 1);
    assert_eq!(records[0].topic, "dsl.kennel:Dog.Registered");
    assert_eq!(records[1].topic, "dsl.kennel:Dog.TrickAdded");
    assert_eq!(<Dog as eventsourcing_dynamodb::AggregateState>::topic(), "dsl.kennel:Dog");

    let state: serde_json::Value = serde_json::from_slice(&records[0].state).unwrap();
    assert_eq!(state["originator_topic"], "dsl.kennel:Dog");
    assert_eq!(state["name"], "Fido");
    assert_eq!(state["timestamp"]["_type_"], "datetime_iso");
    let later: serde_json::Value = serde_json::from_slice(&records[1].state).unwrap();
    assert!(later.get("originator_topic").is_none(), "{later}");
    assert_eq!(later["trick"], "roll over");

    // The exact bytes of the created event's state.
    let timestamp = dog.pending_events()[0].timestamp;
    let expected = format!(
        r#"{{"timestamp":{{"_type_":"datetime_iso","_data_":"{}"}},"originator_topic":"dsl.kennel:Dog","name":"Fido"}}"#,
        eventsourcing_dynamodb::transcoding::format_iso(&timestamp)
    );
    assert_eq!(String::from_utf8(records[0].state.clone()).unwrap(), expected);
}

#[tokio::test]
async fn ids_come_from_create_id_or_are_random() {
    let dog = Dog::register("Fido".to_string());
    assert_eq!(dog.id(), fido_id());
    assert_eq!(dog.id(), Dog::create_id("Fido"));
    assert_eq!(
        dog.id().to_string(),
        "1e1d7398-8986-57af-bb01-11a89b2f8b02",
        "the id Python gives Dog('Fido')"
    );
    assert_eq!(Dog::register("Fido".to_string()).id(), dog.id());

    let a = Puppy::adopt("Rex".to_string()).unwrap();
    let b = Puppy::adopt("Rex".to_string()).unwrap();
    assert_ne!(a.id(), b.id());
    assert_eq!(a.id().get_version_num(), 4);
    assert_eq!(b.id().get_version_num(), 4);
}

#[tokio::test]
async fn save_and_load_reproduce_the_state() {
    let app = app().await;
    let mut dog = Dog::register("Fido".to_string());
    dog.add_trick("roll over".to_string());
    dog.learn_trick("play dead".to_string()).unwrap();
    dog.teach("sit").unwrap();
    let events = dog.pending_events().to_vec();
    let ids = app.save(&mut dog).await.unwrap();
    assert_eq!(ids, [1, 2, 3, 4]);
    assert!(dog.pending_events().is_empty(), "saving clears pending");

    let loaded = app.repository().get::<Dog>(fido_id()).await.unwrap();
    assert_eq!(loaded.id(), dog.id());
    assert_eq!(loaded.version(), 4);
    assert_eq!(loaded.name, "Fido");
    assert_eq!(loaded.tricks, ["roll over", "play dead", "sit"]);
    assert_eq!(loaded.taught, 1);
    assert_eq!(loaded.created_on(), dog.created_on());
    assert_eq!(loaded.modified_on(), dog.modified_on());
    assert!(loaded.pending_events().is_empty());

    let replayed = Root::<Dog>::from_events(events).unwrap().unwrap();
    assert_eq!(replayed.id(), dog.id());
    assert_eq!(replayed.version(), 4);
    assert_eq!(replayed.tricks, dog.tricks);
    assert_eq!(replayed.taught, 1);
    assert_eq!(replayed.created_on(), dog.created_on());
    assert_eq!(replayed.modified_on(), dog.modified_on());
    assert!(Root::<Dog>::from_events(Vec::new()).unwrap().is_none());

    // Saving nothing is fine and writes nothing.
    let mut loaded = loaded;
    assert!(app.save(&mut loaded).await.unwrap().is_empty());
    assert_eq!(max_id(&app).await, 4);

    // A loaded aggregate carries on from its version.
    loaded.add_trick("beg".to_string());
    assert_eq!(loaded.pending_events()[0].originator_version, 5);
    assert_eq!(app.save(&mut loaded).await.unwrap(), [5]);
}

#[tokio::test]
async fn from_events_rejects_misplaced_events() {
    let mut dog = Dog::register("Fido".to_string());
    dog.add_trick("sit".to_string());
    let mut events = dog.collect_events();
    events.remove(0);
    let error = Root::<Dog>::from_events(events).unwrap_err();
    assert!(error.message().contains("constructor"), "{error}");

    // As in Python, a replayed event must be the aggregate's and the next version.
    let mut dog = Dog::register("Fido".to_string());
    dog.add_trick("sit".to_string());
    dog.add_trick("beg".to_string());
    let events = dog.collect_events();
    let gap = vec![events[0].clone(), events[2].clone()];
    let error = Root::<Dog>::from_events(gap).unwrap_err();
    assert!(error.message().contains("version 3"), "{error}");
    let swapped = vec![events[0].clone(), events[2].clone(), events[1].clone()];
    assert!(Root::<Dog>::from_events(swapped).is_err());
    let mut rex = Dog::register("Rex".to_string());
    rex.add_trick("sit".to_string());
    let foreign = vec![events[0].clone(), rex.collect_events().pop().unwrap()];
    let error = Root::<Dog>::from_events(foreign).unwrap_err();
    assert!(error.message().contains(&Dog::create_id("Rex").to_string()), "{error}");
    assert_eq!(Root::<Dog>::from_events(events).unwrap().unwrap().tricks, ["sit", "beg"]);
}

#[tokio::test]
async fn stored_gaps_are_replay_errors() {
    let app = app().await;
    let mut dog = Dog::register("Fido".to_string());
    dog.add_trick("sit".to_string());
    dog.add_trick("beg".to_string());
    let mut records: Vec<StoredEvent> =
        dog.collect_events().iter().map(|e| app.mapper().to_stored(e).unwrap()).collect();
    records.remove(1);
    app.recorders().events.insert_events(records).await.unwrap();
    match app.repository().get::<Dog>(fido_id()).await {
        Err(Error::Replay { id, version, .. }) => assert_eq!((id, version), (fido_id(), 3)),
        other => panic!("expected a replay error, got {other:?}"),
    }
    assert_eq!(app.repository().get_at::<Dog>(fido_id(), 2).await.unwrap().version(), 1);
}

fn fido_with(tricks: &[&str]) -> AggregateTest<Dog> {
    let registered = DogEvent::Registered { name: "Fido".to_string() };
    let added = tricks.iter().map(|trick| DogEvent::TrickAdded { trick: trick.to_string() });
    AggregateTest::given(std::iter::once(registered).chain(added))
}

#[test]
fn failing_bodies_record_nothing() {
    let already_known = || TrickError::AlreadyKnown("sit".to_string());
    fido_with(&["sit"])
        .when(|dog| dog.learn_trick("sit".to_string()))
        .then_expect_error(already_known());
    fido_with(&["sit"]).when(|dog| dog.teach("")).then_expect_error(TrickError::Empty);
    fido_with(&["sit"]).when(|dog| dog.teach("sit")).then_expect_error(already_known());

    // A success after a failure gets the next version.
    let dog = fido_with(&["sit"])
        .when(|dog| {
            assert!(dog.learn_trick("sit".to_string()).is_err());
            dog.learn_trick("stay".to_string())
        })
        .then_expect_events([DogEvent::TrickLearned { trick: "stay".to_string() }]);
    assert_eq!(
        (dog.version(), dog.tricks.clone()),
        (3, vec!["sit".to_string(), "stay".to_string()])
    );
}

#[tokio::test]
async fn a_refused_body_leaves_nothing_to_save() {
    let app = app().await;
    let mut dog = Dog::register("Fido".to_string());
    dog.add_trick("sit".to_string());
    app.save(&mut dog).await.unwrap();
    let modified_on = dog.modified_on();
    assert!(dog.learn_trick("sit".to_string()).is_err());
    assert_eq!(dog.modified_on(), modified_on);
    assert!(app.save(&mut dog).await.unwrap().is_empty());
    assert_eq!(stored(&app, dog.id()).await.len(), 2);
}

#[test]
fn failing_constructor_returns_the_error() {
    let adopt = |name: &str| {
        let name = name.to_string();
        AggregateTest::<Puppy>::given_no_history().when_created(move || Puppy::adopt(name))
    };
    adopt("").then_expect_error(PuppyError::NoName);
    let puppy = adopt("Rex").then_expect_events([PuppyEvent::Adopted { name: "Rex".to_string() }]);
    assert_eq!(puppy.version(), 1);
}

#[tokio::test]
async fn historical_versions() {
    let app = app().await;
    let mut dog = Dog::register("Fido".to_string());
    dog.add_trick("roll over".to_string());
    dog.add_trick("play dead".to_string());
    let timestamps: Vec<OffsetDateTime> =
        dog.pending_events().iter().map(|e| e.timestamp).collect();
    app.save(&mut dog).await.unwrap();
    let repo = app.repository();

    let v1 = repo.get_at::<Dog>(fido_id(), 1).await.unwrap();
    assert_eq!(v1.version(), 1);
    assert!(v1.tricks.is_empty());
    assert_eq!(v1.modified_on(), timestamps[0]);

    let v2 = repo.get_at::<Dog>(fido_id(), 2).await.unwrap();
    assert_eq!(v2.version(), 2);
    assert_eq!(v2.tricks, ["roll over"]);
    assert_eq!(v2.created_on(), timestamps[0]);
    assert_eq!(v2.modified_on(), timestamps[1]);

    let v3 = repo.get_at::<Dog>(fido_id(), 3).await.unwrap();
    assert_eq!(v3.version(), 3);
    assert_eq!(v3.tricks, ["roll over", "play dead"]);
    assert_eq!(v3.modified_on(), timestamps[2]);

    let beyond = repo.get_at::<Dog>(fido_id(), 99).await.unwrap();
    assert_eq!(beyond.version(), 3);
    assert_eq!(beyond.tricks, v3.tricks);

    match repo.get_at::<Dog>(fido_id(), 0).await {
        Err(Error::AggregateNotFound { id, version }) => {
            assert_eq!(id, fido_id());
            assert_eq!(version, Some(0));
        }
        other => panic!("expected AggregateNotFound, got {other:?}"),
    }
    let unknown = Dog::create_id("Nobody");
    match repo.get::<Dog>(unknown).await {
        Err(Error::AggregateNotFound { id, version }) => {
            assert_eq!(id, unknown);
            assert_eq!(version, None);
        }
        other => panic!("expected AggregateNotFound, got {other:?}"),
    }
    assert!(matches!(repo.get_at::<Dog>(unknown, 1).await, Err(Error::AggregateNotFound { .. })));
    assert!(repo.contains(fido_id()).await.unwrap());
    assert!(!repo.contains(unknown).await.unwrap());
}

#[tokio::test]
async fn stale_save_conflicts_and_writes_nothing() {
    let app = app().await;
    let mut dog = Dog::register("Fido".to_string());
    dog.add_trick("roll over".to_string());
    app.save(&mut dog).await.unwrap();
    let n = 2;

    let mut first = app.repository().get::<Dog>(fido_id()).await.unwrap();
    let mut second = app.repository().get::<Dog>(fido_id()).await.unwrap();
    assert_eq!((first.version(), second.version()), (n, n));
    first.add_trick("sit".to_string());
    second.add_trick("beg".to_string());
    app.save(&mut first).await.unwrap();
    let log_before = max_id(&app).await;

    let error = app.save(&mut second).await.unwrap_err();
    assert!(error.is_conflict(), "{error:?}");
    match &error {
        Error::Persistence(PersistenceError::Conflict { originator_id, originator_version }) => {
            assert_eq!(*originator_id, fido_id());
            assert_eq!(*originator_version, n + 1);
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(max_id(&app).await, log_before);

    let records = stored(&app, fido_id()).await;
    assert_eq!(records.len(), 3);
    let latest = app.repository().get::<Dog>(fido_id()).await.unwrap();
    assert_eq!(latest.tricks, ["roll over", "sit"]);

    // The failed aggregate keeps its pending events.
    assert_eq!(second.pending_events().len(), 1);
    assert_eq!(second.pending_events()[0].originator_version, n + 1);
    match &second.pending_events()[0].payload {
        DogEvent::TrickAdded { trick } => assert_eq!(trick, "beg"),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn multi_aggregate_saves_are_atomic() {
    let app = app().await;
    let mut rex = Puppy::adopt("Rex".to_string()).unwrap();
    let mut fido = Dog::register("Fido".to_string());
    app.save(&mut fido).await.unwrap();
    let mut stale = app.repository().get::<Dog>(fido_id()).await.unwrap();
    fido.add_trick("sit".to_string());
    app.save(&mut fido).await.unwrap();
    let log_before = max_id(&app).await;
    assert_eq!(log_before, 2);

    rex.add_trick("fetch".to_string());
    stale.add_trick("beg".to_string());
    let error = app.save((&mut rex, &mut stale)).await.unwrap_err();
    assert!(error.is_conflict(), "{error:?}");
    assert!(matches!(
        error,
        Error::Persistence(PersistenceError::Conflict { originator_id, originator_version: 2 })
            if originator_id == fido_id()
    ));
    assert_eq!(max_id(&app).await, log_before, "a notification id was used");
    assert!(stored(&app, rex.id()).await.is_empty(), "rex was written");
    assert!(!app.repository().contains(rex.id()).await.unwrap());
    assert_eq!(stored(&app, fido_id()).await.len(), 2);
    assert_eq!(rex.pending_events().len(), 2, "rex lost its events");
    assert_eq!(stale.pending_events().len(), 1);

    // Without the stale aggregate, the save goes through with contiguous ids.
    let mut rex_friend = Puppy::adopt("Bella".to_string()).unwrap();
    rex_friend.feed("kibble".to_string());
    fido.teach("stay").unwrap();
    let ids = app.save((&mut rex, &mut fido, &mut rex_friend)).await.unwrap();
    assert_eq!(ids, [3, 4, 5, 6, 7]);
    assert_eq!(max_id(&app).await, 7);
    assert!(rex.pending_events().is_empty());
    assert!(fido.pending_events().is_empty());
    let notifications = app.notification_log().select(3, 10, None, &[]).await.unwrap();
    let seen: Vec<(u64, Uuid, u64)> = notifications
        .iter()
        .map(|n| (n.id, n.event.originator_id, n.event.originator_version))
        .collect();
    assert_eq!(
        seen,
        [
            (3, rex.id(), 1),
            (4, rex.id(), 2),
            (5, fido_id(), 3),
            (6, rex_friend.id(), 1),
            (7, rex_friend.id(), 2),
        ]
    );
    let loaded = app.repository().get::<Puppy>(rex.id()).await.unwrap();
    assert_eq!(loaded.tricks, ["fetch"]);
}

/// Saves `rival` from inside a synchronous `update` command.
fn save_now(app: &Application, rival: &mut Root<Dog>) {
    tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current().block_on(app.save(rival)).expect("the rival's save")
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_retries_after_a_conflict() {
    let app = app().await;
    let mut dog = Dog::register("Fido".to_string());
    app.save(&mut dog).await.unwrap();

    let calls = AtomicU32::new(0);
    let outcome = app
        .update(fido_id(), |dog: &mut Root<Dog>| {
            let call = calls.fetch_add(1, Ordering::SeqCst) + 1;
            if call == 1 {
                // Another writer gets in between the load and the save.
                let mut rival = dog.clone();
                rival.add_trick("sit".to_string());
                save_now(&app, &mut rival);
            }
            dog.learn_trick("roll over".to_string()).map(|()| dog.version())
        })
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2, "the command ran again");
    assert_eq!(outcome, 3, "the second run saw the rival's event");
    let dog = app.repository().get::<Dog>(fido_id()).await.unwrap();
    assert_eq!(dog.tricks, ["sit", "roll over"]);
    assert_eq!(dog.version(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_gives_up_after_its_attempts() {
    let app = Application::builder("Kennel")
        .isolated()
        .retry(RetryPolicy {
            attempts: 3,
            first_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        })
        .build()
        .await
        .unwrap();
    let mut dog = Dog::register("Fido".to_string());
    app.save(&mut dog).await.unwrap();

    let calls = AtomicU32::new(0);
    let error = app
        .update(fido_id(), |dog: &mut Root<Dog>| {
            let call = calls.fetch_add(1, Ordering::SeqCst);
            let mut rival = dog.clone();
            rival.add_trick(format!("rival {call}"));
            save_now(&app, &mut rival);
            dog.add_trick("mine".to_string());
        })
        .await
        .unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    match error {
        UpdateError::Store(Error::RetriesExhausted { id, attempts, last }) => {
            assert_eq!(id, fido_id());
            assert_eq!(attempts, 3);
            assert!(last.is_conflict(), "{last:?}");
            assert!(matches!(last, PersistenceError::Conflict { originator_version: 4, .. }));
        }
        other => panic!("expected RetriesExhausted, got {other:?}"),
    }
    let dog = app.repository().get::<Dog>(fido_id()).await.unwrap();
    assert_eq!(dog.tricks, ["rival 0", "rival 1", "rival 2"]);

    // Errors other than conflicts are not retried.
    let unknown = Dog::create_id("Nobody");
    let error = app
        .update(unknown, |dog: &mut Root<Dog>| dog.add_trick("x".to_string()))
        .await
        .unwrap_err();
    assert!(
        matches!(error, UpdateError::Store(Error::AggregateNotFound { id, .. }) if id == unknown)
    );
}

#[tokio::test]
async fn event_names_and_topics() {
    let mut puppy = Puppy::adopt("Rex".to_string()).unwrap();
    puppy.add_trick("fetch".to_string());
    puppy.feed("kibble".to_string());
    let events = puppy.pending_events();
    assert_eq!(events[1].payload.name(), "AddTrick");
    assert!(matches!(&events[1].payload, PuppyEvent::AddTrick { trick } if trick == "fetch"));
    assert_eq!(events[0].payload.topic(), "dsl.kennel:Puppy.Adopted");
    assert_eq!(events[1].payload.topic(), "dsl.kennel:Puppy.AddTrick");
    assert_eq!(events[2].payload.name(), "Fed");
    assert_eq!(events[2].payload.topic(), "kennel.food:Meal");

    let app = app().await;
    let stored_topics: Vec<String> =
        events.iter().map(|e| app.mapper().to_stored(e).unwrap().topic).collect();
    assert_eq!(
        stored_topics,
        ["dsl.kennel:Puppy.Adopted", "dsl.kennel:Puppy.AddTrick", "kennel.food:Meal"]
    );
    app.save(&mut puppy).await.unwrap();
    let meals = app.notification_log().select(1, 10, None, &["kennel.food:Meal"]).await.unwrap();
    assert_eq!(meals.len(), 1);
    assert_eq!(meals[0].id, 3);
    let loaded = app.repository().get::<Puppy>(puppy.id()).await.unwrap();
    assert_eq!(loaded.tricks, ["fetch"]);
    assert_eq!(loaded.meals, ["kibble"]);

    let taught = {
        let mut dog = Dog::register("Fido".to_string());
        dog.teach("sit").unwrap();
        dog.collect_events().pop().unwrap()
    };
    assert_eq!(taught.payload.name(), "Taught");
    assert_eq!(taught.payload.topic(), "dsl.kennel:Dog.Taught");
}

fn raw(id: Uuid, version: u64, topic: &str, state: &str) -> StoredEvent {
    StoredEvent {
        originator_id: id,
        originator_version: version,
        topic: topic.to_owned(),
        state: state.as_bytes().to_vec(),
    }
}

const REGISTERED: &str = r#"{"timestamp":{"_type_":"datetime_iso","_data_":"2024-01-02T03:04:05.000006+00:00"},"originator_topic":"old:Dog","name":"Fido"}"#;
const TRICK_ADDED: &str =
    r#"{"timestamp":{"_type_":"datetime_iso","_data_":"2024-01-02T03:04:06+00:00"},"trick":"sit"}"#;

#[tokio::test]
async fn aggregate_topic_and_aliases() {
    assert_eq!(<renamed::Dog as eventsourcing_dynamodb::AggregateState>::topic(), "seed:Dog");
    assert_eq!(
        <renamed::Dog as eventsourcing_dynamodb::AggregateState>::topic_aliases(),
        ["old:Dog"]
    );
    let app = app().await;
    let id = fido_id();
    app.recorders()
        .events
        .insert_events(vec![
            raw(id, 1, "old:Dog.Registered", REGISTERED),
            raw(id, 2, "old:Dog.TrickAdded", TRICK_ADDED),
            raw(id, 3, "seed:Dog.TrickAdded", TRICK_ADDED),
        ])
        .await
        .unwrap();
    let mut dog = app.repository().get::<renamed::Dog>(id).await.unwrap();
    assert_eq!(dog.version(), 3);
    assert_eq!(dog.name, "Fido");
    assert_eq!(dog.tricks, ["sit", "sit"]);
    assert_eq!(
        dog.created_on(),
        eventsourcing_dynamodb::transcoding::parse_iso("2024-01-02T03:04:05.000006+00:00").unwrap()
    );

    // New events are written under the current topic.
    use renamed::DogCommands as _;
    dog.add_trick("beg".to_string());
    app.save(&mut dog).await.unwrap();
    let records = stored(&app, id).await;
    assert_eq!(records[3].topic, "seed:Dog.TrickAdded");
    let fresh = renamed::Dog::register("Rex".to_string());
    let record = app.mapper().to_stored(&fresh.pending_events()[0]).unwrap();
    assert_eq!(record.topic, "seed:Dog.Registered");
    let state: serde_json::Value = serde_json::from_slice(&record.state).unwrap();
    assert_eq!(state["originator_topic"], "seed:Dog");
}

#[tokio::test]
async fn undecodable_events_are_typed_errors() {
    let app = app().await;
    let id = fido_id();
    app.recorders()
        .events
        .insert_events(vec![
            raw(
                id,
                1,
                "dsl.kennel:Dog.Registered",
                &REGISTERED.replace("old:Dog", "dsl.kennel:Dog"),
            ),
            raw(id, 2, "dsl.kennel:Dog.Vanished", TRICK_ADDED),
        ])
        .await
        .unwrap();
    let error = app.repository().get::<Dog>(id).await.unwrap_err();
    match &error {
        Error::Decode(decode) => {
            assert_eq!(decode.originator_id, id);
            assert_eq!(decode.originator_version, 2);
            assert_eq!(decode.topic, "dsl.kennel:Dog.Vanished");
            match &decode.problem {
                DecodeProblem::UnknownTopic { topic, expected, known } => {
                    assert_eq!(topic, "dsl.kennel:Dog.Vanished");
                    assert_eq!(*expected, "Dog");
                    assert!(known.contains("dsl.kennel:Dog.TrickAdded"), "{known}");
                }
                other => panic!("expected UnknownTopic, got {other:?}"),
            }
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains(&id.to_string()), "{message}");
    assert!(message.contains("dsl.kennel:Dog.Vanished"), "{message}");
    // Up to version 1 it still loads.
    assert_eq!(app.repository().get_at::<Dog>(id, 1).await.unwrap().version(), 1);

    // Garbage and mistyped state.
    let other = Dog::create_id("Garbage");
    for (version, state) in [
        (1, "\u{0}\u{1}not json"),
        (
            1,
            r#"{"timestamp":{"_type_":"datetime_iso","_data_":"2024-01-02T03:04:05+00:00"},"originator_topic":"dsl.kennel:Dog","name":7}"#,
        ),
        (1, r#"{"timestamp":{"_type_":"uuid_hex","_data_":"2024"},"name":"Fido"}"#),
        (1, r#"{"originator_topic":"dsl.kennel:Dog","name":"Fido"}"#),
    ] {
        let app = self::app().await;
        app.recorders()
            .events
            .insert_events(vec![raw(other, version, "dsl.kennel:Dog.Registered", state)])
            .await
            .unwrap();
        match app.repository().get::<Dog>(other).await {
            Err(Error::Decode(decode)) => {
                assert_eq!(decode.originator_id, other);
                assert_eq!(decode.originator_version, version);
                assert_eq!(decode.topic, "dsl.kennel:Dog.Registered");
                assert!(
                    matches!(decode.problem, DecodeProblem::Json(_)),
                    "{state}: {:?}",
                    decode.problem
                );
            }
            other => panic!("expected a decode error for {state:?}, got {other:?}"),
        }
    }

    // A stored non-created event first is a replay error, not a panic.
    let app = self::app().await;
    app.recorders()
        .events
        .insert_events(vec![raw(other, 1, "dsl.kennel:Dog.TrickAdded", TRICK_ADDED)])
        .await
        .unwrap();
    match app.repository().get::<Dog>(other).await {
        Err(Error::Replay { id, version, .. }) => assert_eq!((id, version), (other, 1)),
        other => panic!("expected a replay error, got {other:?}"),
    }
}

#[tokio::test]
async fn event_enum_is_matchable_and_serde() {
    let mut dog = Dog::register("Fido".to_string());
    dog.add_trick("roll over".to_string());
    dog.teach("sit").unwrap();
    for event in dog.collect_events() {
        let json = serde_json::to_string(&event.payload).unwrap();
        let back: DogEvent = serde_json::from_str(&json).unwrap();
        assert_eq!(back.name(), event.payload.name());
        match (&event.payload, &back) {
            (DogEvent::Registered { name: a }, DogEvent::Registered { name: b }) => {
                assert_eq!(a, b)
            }
            (DogEvent::TrickAdded { trick: a }, DogEvent::TrickAdded { trick: b }) => {
                assert_eq!(a, b)
            }
            (DogEvent::Taught { trick: a }, DogEvent::Taught { trick: b }) => assert_eq!(a, b),
            (a, b) => panic!("{a:?} came back as {b:?}"),
        }
        // The whole domain event too.
        let json = serde_json::to_string(&event).unwrap();
        let back: eventsourcing_dynamodb::DomainEvent<DogEvent> =
            serde_json::from_str(&json).unwrap();
        assert_eq!(back.originator_id, event.originator_id);
        assert_eq!(back.originator_version, event.originator_version);
        assert_eq!(back.timestamp, event.timestamp);
    }
    let json = serde_json::to_value(DogEvent::TrickAdded { trick: "sit".to_string() }).unwrap();
    assert_eq!(json, serde_json::json!({"TrickAdded": {"trick": "sit"}}));
}
