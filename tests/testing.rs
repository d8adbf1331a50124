//! The given/when/then harness (`eventsourcing_dynamodb::testing`): what it accepts, and
//! that it fails a test, naming what differs, when the domain code does something else.

use eventsourcing_dynamodb::prelude::*;
use eventsourcing_dynamodb::testing::{same_event, AggregateTest, PolicyTest};

#[aggregate]
#[derive(Debug)]
pub struct Dog {
    name: String,
    tricks: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrickError {
    AlreadyKnown(String),
    NoName,
}

#[aggregate]
impl Dog {
    #[event("Registered")]
    pub fn register(name: String) -> Result<Self, TrickError> {
        if name.is_empty() {
            return Err(TrickError::NoName);
        }
        Ok(Dog { name, tricks: Vec::new() })
    }

    #[event("TrickAdded")]
    pub fn add_trick(&mut self, trick: String) -> Result<(), TrickError> {
        if self.tricks.contains(&trick) {
            return Err(TrickError::AlreadyKnown(trick));
        }
        self.tricks.push(trick);
        Ok(())
    }

    /// Records one event per trick, stopping at the first the dog knows.
    pub fn add_tricks(&mut self, tricks: &[&str]) -> Result<usize, TrickError> {
        for trick in tricks {
            self.add_trick(trick.to_string())?;
        }
        Ok(tricks.len())
    }
}

fn registered(name: &str) -> DogEvent {
    DogEvent::Registered { name: name.to_string() }
}

fn trick(trick: &str) -> DogEvent {
    DogEvent::TrickAdded { trick: trick.to_string() }
}

#[test]
fn given_events_when_a_command_then_its_events_and_state() {
    let dog = AggregateTest::<Dog>::given([registered("Fido"), trick("sit")])
        .when(|dog| dog.add_tricks(&["beg", "roll over"]))
        .then_expect_events([trick("beg"), trick("roll over")]);
    assert_eq!(dog.tricks, ["sit", "beg", "roll over"]);
    assert_eq!(dog.version(), 4);
    assert!(dog.pending_events().is_empty(), "the recorded events were taken");
}

#[test]
fn a_history_built_by_commands_counts_as_saved() {
    let mut dog = Dog::register("Fido".to_string()).unwrap();
    dog.add_trick("sit".to_string()).unwrap();
    let then = AggregateTest::given_aggregate(dog).when(|dog| dog.add_trick("beg".to_string()));
    assert_eq!(then.recorded().len(), 1);
    assert_eq!(then.recorded()[0].originator_version, 3);
    assert!(then.outcome().is_ok());
    then.then_expect_events([trick("beg")]);
}

#[test]
fn a_refusal_is_the_expected_error() {
    AggregateTest::<Dog>::given([registered("Fido"), trick("sit")])
        .when(|dog| dog.add_trick("sit".to_string()))
        .then_expect_error(TrickError::AlreadyKnown("sit".to_string()));
}

#[test]
fn constructors_are_tested_without_history() {
    AggregateTest::<Dog>::given_no_history()
        .when_created(|| Dog::register("Rex".to_string()))
        .then_expect_events([registered("Rex")]);
    AggregateTest::<Dog>::given_no_history()
        .when_created(|| Dog::register(String::new()))
        .then_expect_error(TrickError::NoName);
}

#[test]
fn events_compare_by_topic_and_state() {
    assert!(same_event(&trick("sit"), &trick("sit")));
    assert!(!same_event(&trick("sit"), &trick("beg")));
    assert!(!same_event(&registered("sit"), &trick("sit")));
}

#[test]
#[should_panic(expected = "recorded: [TrickAdded { trick: \"beg\" }]")]
fn other_events_fail_the_test_showing_both() {
    AggregateTest::<Dog>::given([registered("Fido")])
        .when(|dog| dog.add_trick("beg".to_string()))
        .then_expect_events([trick("sit")]);
}

#[test]
#[should_panic(expected = "the command failed: AlreadyKnown(\"sit\")")]
fn a_failure_where_events_were_expected_fails_the_test() {
    AggregateTest::<Dog>::given([registered("Fido"), trick("sit")])
        .when(|dog| dog.add_trick("sit".to_string()))
        .then_expect_events([trick("sit")]);
}

#[test]
#[should_panic(expected = "but the command succeeded")]
fn a_success_where_an_error_was_expected_fails_the_test() {
    AggregateTest::<Dog>::given([registered("Fido")])
        .when(|dog| dog.add_trick("sit".to_string()))
        .then_expect_error(TrickError::AlreadyKnown("sit".to_string()));
}

#[test]
#[should_panic(expected = "the command failed but recorded")]
fn a_failing_command_that_recorded_events_fails_the_test() {
    // `add_tricks` records "beg" before it refuses "sit": `update` would save nothing,
    // and the harness says what the command left behind.
    AggregateTest::<Dog>::given([registered("Fido"), trick("sit")])
        .when(|dog| dog.add_tricks(&["beg", "sit"]))
        .then_expect_error(TrickError::AlreadyKnown("sit".to_string()));
}

#[test]
#[should_panic(expected = "do not replay")]
fn a_history_that_does_not_replay_fails_the_test() {
    AggregateTest::<Dog>::given([trick("sit")]);
}

#[test]
#[should_panic(expected = "starting with a created event")]
fn an_empty_history_fails_the_test() {
    AggregateTest::<Dog>::given([]);
}

/// Counts the tricks dogs learn; refuses a trick called "bite".
#[aggregate]
pub struct Tally {
    tricks: u32,
}

#[aggregate]
impl Tally {
    #[event("Started")]
    pub fn start() -> Self {
        Tally { tricks: 0 }
    }

    pub fn create_id() -> Uuid {
        Uuid::new_v5(&Uuid::NAMESPACE_URL, b"/tally")
    }

    #[event("Counted")]
    pub fn count(&mut self, trick: String) {
        let _ = trick;
        self.tricks += 1;
    }
}

struct CountTricks;

impl Policy for CountTricks {
    async fn process(&self, notified: &Notified, processing: &mut Processing) -> Result<()> {
        let Some(event) = notified.event::<Dog>() else { return Ok(()) };
        let DogEvent::TrickAdded { trick } = &event.payload else { return Ok(()) };
        if trick == "bite" {
            return Err(Error::System(format!("dog {} bites", event.originator_id)));
        }
        let repository = processing.app().repository();
        let mut tally =
            repository.find::<Tally>(Tally::create_id()).await?.unwrap_or_else(Tally::start);
        tally.count(trick.clone());
        processing.collect(&mut tally)?;
        Ok(())
    }
}

fn history(tricks: &[&str]) -> Vec<eventsourcing_dynamodb::DomainEvent<DogEvent>> {
    let mut dog = Dog::register("Fido".to_string()).unwrap();
    dog.add_tricks(tricks).unwrap();
    dog.collect_events()
}

#[tokio::test]
async fn a_policy_given_notifications_when_one_more_then_its_events() {
    let events = history(&["sit", "beg", "bite"]);
    let mut test = PolicyTest::new("Tally", CountTricks).await.unwrap().upstream("Kennel");

    // Nothing processed yet: the first trick starts the tally.
    test.when::<Dog>(&events[1])
        .await
        .unwrap()
        .then_expect_events::<Tally>([TallyEvent::Started {}, counted("sit")]);
    test.when::<Dog>(&events[0]).await.unwrap().then_expect_no_events();

    // Given the first two notifications (saved with their tracking), the next one loads
    // the tally and counts on from there.
    test.given::<Dog>(&events[..2]).await.unwrap();
    assert_eq!(test.app().recorders().events.max_tracking_id("Kennel").await.unwrap(), 2);
    let tally = test.app().repository().get::<Tally>(Tally::create_id()).await.unwrap();
    assert_eq!((tally.tricks, tally.version()), (1, 2));
    let collected =
        test.when::<Dog>(&events[2]).await.unwrap().then_expect_events::<Tally>([counted("beg")]);
    assert_eq!(collected[0].originator_version, 3);
    assert_eq!(collected[0].originator_id, Tally::create_id());

    // `when` saves nothing.
    assert_eq!(test.app().recorders().events.max_tracking_id("Kennel").await.unwrap(), 2);

    let error = test.when::<Dog>(&events[3]).await.unwrap().then_expect_error();
    assert!(error.to_string().contains("bites"), "{error}");
}

#[tokio::test]
#[should_panic(expected = "expected: [Counted { trick: \"sit\" }]")]
async fn a_policy_collecting_other_events_fails_the_test() {
    let events = history(&["sit"]);
    let test = PolicyTest::new("Tally", CountTricks).await.unwrap();
    test.when::<Dog>(&events[1]).await.unwrap().then_expect_events::<Tally>([counted("sit")]);
}

fn counted(trick: &str) -> TallyEvent {
    TallyEvent::Counted { trick: trick.to_string() }
}
