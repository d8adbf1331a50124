//! The library's metrics in Prometheus's text format: a recorder from
//! `metrics-exporter-prometheus` (built without its HTTP listener), a TrainingSchool
//! workload with a follower on the store the environment configures, and what the
//! recorder would serve on a scrape, printed.
//!
//! In memory: `cargo run -p eventsourcing-observability --example prometheus`
//! On DynamoDB: set PERSISTENCE_MODULE=eventsourcing_dynamodb, DYNAMO_ENDPOINT_URL,
//! DYNAMO_TABLE (TrickCounter uses `<DYNAMO_TABLE>-tricks`) and CREATE_TABLE=true.
//!
//! A service would serve `handle.render()` on its metrics endpoint (or enable the
//! exporter's `http-listener` feature and call `PrometheusBuilder::install`).

use eventsourcing_dynamodb::prelude::*;
use eventsourcing_dynamodb::system::{Notified, Policy, ProcessApplication, Processing, System};
use metrics_exporter_prometheus::PrometheusBuilder;
use std::sync::Arc;

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

/// How often one trick was taught.
#[aggregate]
pub struct TrickTally {
    trick: String,
    taught: u64,
}

#[aggregate]
impl TrickTally {
    #[event("Started")]
    pub fn start(trick: String) -> Self {
        TrickTally { trick, taught: 0 }
    }

    pub fn create_id(trick: &str) -> Uuid {
        Uuid::new_v5(&Uuid::NAMESPACE_URL, format!("/tally/{trick}").as_bytes())
    }

    #[event("Taught")]
    pub fn taught(&mut self) {
        self.taught += 1;
    }
}

/// Tallies every trick taught.
pub struct TallyTricks;

impl Policy for TallyTricks {
    async fn process(&self, notified: &Notified, processing: &mut Processing) -> Result<()> {
        let Some(event) = notified.event::<Dog>() else { return Ok(()) };
        let DogEvent::TrickAdded { trick } = &event.payload else { return Ok(()) };
        let repository = processing.app().repository();
        let id = TrickTally::create_id(trick);
        let found = repository.find::<TrickTally>(id).await?;
        let mut tally = found.unwrap_or_else(|| TrickTally::start(trick.clone()));
        tally.taught();
        processing.collect(&mut tally)
    }
}

async fn trick_counter() -> Result<Application> {
    let mut builder = Application::builder("TrickCounter");
    if let Ok(table) = std::env::var("DYNAMO_TABLE") {
        builder = builder.env("DYNAMO_TABLE", format!("{table}-tricks"));
    }
    builder.build().await
}

#[tokio::main]
async fn main() -> Result<()> {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).expect("no other metrics recorder is installed");
    eventsourcing_dynamodb::metrics::describe();

    let school = Arc::new(Application::new("TrainingSchool").await?);
    let counter = Arc::new(ProcessApplication::new(trick_counter().await?, TallyTricks));
    let system = System::builder().connect(&school, &counter).build()?;

    let mut ids = Vec::new();
    for (name, tricks) in [("Fido", &["roll over", "play dead"][..]), ("Buster", &["sit"])] {
        let mut dog = Dog::register(name.to_string());
        for trick in tricks {
            dog.add_trick(trick.to_string());
        }
        school.save(&mut dog).await?;
        ids.push(dog.id());
    }
    // Two writers teach Fido at once: the second save conflicts, as a racing process's would.
    let mut first = school.repository().get::<Dog>(ids[0]).await?;
    let mut second = school.repository().get::<Dog>(ids[0]).await?;
    first.add_trick("fetch".to_string());
    school.save(&mut first).await?;
    second.add_trick("beg".to_string());
    if let Err(error) = school.save(&mut second).await {
        eprintln!("as expected: {error}");
    }
    // And `update` retries such a conflict by itself.
    school.update::<Dog, _>(ids[1], |dog| dog.add_trick("stay".to_string())).await?;

    system.run_until_idle().await?;
    print!("{}", handle.render());
    Ok(())
}
