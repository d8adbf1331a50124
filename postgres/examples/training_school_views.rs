//! The TrainingSchool's read models: "tricks per dog" and "dogs per trick", kept by a
//! projection from the school's events and queried once the runner has caught up.
//!
//! In memory: `cargo run --example training_school_views`
//! Views on DynamoDB: VIEW_STORE=dynamodb DYNAMO_ENDPOINT_URL=... (VIEW_TABLE, default `views`)
//! Views on PostgreSQL: VIEW_STORE=postgres POSTGRES_URL=postgres://...
//! The school's own events go where PERSISTENCE_MODULE says, as in `training_school`.

#[path = "views_support/mod.rs"]
mod views_support;

use eventsourcing_dynamodb::prelude::*;
use eventsourcing_dynamodb::projection::ProjectionRunner;
use views_support::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let school = Application::new("TrainingSchool").await?;
    let store = view_store_from_env().await?;
    // Started before the dogs are registered: it follows the log as events are saved.
    let runner = ProjectionRunner::new(&school, SchoolViews, store.clone());
    let running = runner.start();

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

    // Wait until it has processed everything saved (a sequenced log first logs it).
    let caught_up = running.catch_up().await?;
    // Returns the error it stopped with, if it stopped before catching up.
    running.stop().await?;
    assert!(caught_up, "the projection stopped early");

    for name in ["Fido", "Buster", "Rex"] {
        println!("{name}: {}", store.get(TRICKS_PER_DOG, name).await?.unwrap_or_default());
    }
    for trick in ["roll over", "play dead", "sit"] {
        println!("{trick}: {}", store.get(DOGS_PER_TRICK, trick).await?.unwrap_or_default());
    }
    Ok(())
}
