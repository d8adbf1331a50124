//! A process application: TrickCounter follows TrainingSchool's notification log and keeps,
//! as its own event-sourced aggregates, how many dogs know each trick.
//!
//! In memory: `cargo run --example training_school_system`
//! On DynamoDB: set PERSISTENCE_MODULE=eventsourcing_dynamodb, DYNAMO_ENDPOINT_URL and
//! DYNAMO_TABLE (TrickCounter uses `<DYNAMO_TABLE>-trick-counter`), and CREATE_TABLE=true.

use eventsourcing_dynamodb::prelude::*;
use eventsourcing_dynamodb::system::{Notified, Policy, ProcessApplication, Processing, System};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
}

/// How many dogs know one trick.
#[aggregate]
pub struct TrickCount {
    trick: String,
    dogs: Vec<Uuid>,
}

#[aggregate]
impl TrickCount {
    #[event("Started")]
    pub fn start(trick: String) -> Self {
        TrickCount { trick, dogs: Vec::new() }
    }

    pub fn create_id(trick: &str) -> Uuid {
        Uuid::new_v5(&Uuid::NAMESPACE_URL, format!("/tricks/{trick}").as_bytes())
    }

    /// Counts a dog once, however often it learns the trick.
    pub fn count(&mut self, dog: Uuid) {
        if !self.dogs.contains(&dog) {
            self.dog_counted(dog);
        }
    }

    #[event("DogCounted")]
    fn dog_counted(&mut self, dog: Uuid) {
        self.dogs.push(dog);
    }
}

/// The policy: on every TrickAdded, count the dog for that trick.
pub struct CountTricks;

impl Policy for CountTricks {
    async fn process(&self, notified: &Notified, processing: &mut Processing) -> Result<()> {
        let Some(event) = notified.event::<Dog>() else { return Ok(()) };
        if let DogEvent::TrickAdded { trick } = &event.payload {
            let repository = processing.app().repository();
            let mut count = repository
                .find::<TrickCount>(TrickCount::create_id(trick))
                .await?
                .unwrap_or_else(|| TrickCount::start(trick.clone()));
            count.count(event.originator_id);
            processing.collect(&mut count)?;
        }
        Ok(())
    }
}

async fn trick_counter() -> Result<Application> {
    let mut builder = Application::builder("TrickCounter");
    if let Ok(table) = std::env::var("DYNAMO_TABLE") {
        builder = builder.env("DYNAMO_TABLE", format!("{table}-trick-counter"));
    }
    builder.build().await
}

#[tokio::main]
async fn main() -> Result<()> {
    let school = Arc::new(Application::new("TrainingSchool").await?);
    let counter = Arc::new(ProcessApplication::new(trick_counter().await?, CountTricks));
    let system = System::builder().connect(&school, &counter).build()?;
    let runner = system.start(Duration::from_millis(200));

    for (name, tricks) in [
        ("Fido", &["roll over", "play dead"][..]),
        ("Buster", &["roll over", "sit"]),
        ("Rex", &["sit", "roll over"]),
    ] {
        let mut dog = Dog::register(name.to_string());
        for trick in tricks {
            dog.add_trick(trick.to_string());
        }
        school.save(&mut dog).await?;
    }

    // The follower runs in the background; wait until it has processed everything (a
    // sequenced log, the default on DynamoDB, first has to log what was saved).
    school.recorders().events.sync_log().await?;
    let end = school.notification_log().max_notification_id().await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while counter.recorders().events.max_tracking_id("TrainingSchool").await? < end {
        assert!(Instant::now() < deadline, "TrickCounter did not catch up");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    runner.stop().await?;

    for trick in ["roll over", "play dead", "sit"] {
        let count = counter.repository().get::<TrickCount>(TrickCount::create_id(trick)).await?;
        println!("{trick}: {}", count.dogs.len());
    }
    Ok(())
}
