//! What the projection examples, benchmark and tests share: the seed's `Dog`, the
//! TrainingSchool's "tricks per dog" and "dogs per trick" views, and the view store the
//! environment selects.
#![allow(dead_code)]

use eventsourcing_dynamodb::dynamodb::{DynamoConfig, DynamoViewStore};
use eventsourcing_dynamodb::prelude::*;
use eventsourcing_dynamodb::projection::{InMemoryViewStore, Projection, ViewChanges, ViewStore};
use eventsourcing_dynamodb::system::Notified;
use eventsourcing_postgres::PostgresViewStore;
use std::sync::Arc;

// The seed's Dog, as the benchmarks have it.
#[path = "../../../benchmarks/examples/bench_support/mod.rs"]
#[allow(dead_code)]
mod bench_support;
pub use bench_support::{Dog, DogCommands, DogEvent};

/// Dog name → its tricks, in the order learnt.
pub const TRICKS_PER_DOG: &str = "tricks_per_dog";
/// Trick → the dogs that know it, in the order they learnt it.
pub const DOGS_PER_TRICK: &str = "dogs_per_trick";
/// Dog id → name (TrickAdded does not carry the name).
pub const DOG_NAMES: &str = "dog_names";

/// The TrainingSchool's read models, kept from its Dog events.
pub struct SchoolViews;

impl Projection for SchoolViews {
    fn name(&self) -> &str {
        "school-views"
    }

    async fn process(&self, notified: &Notified, view: &mut ViewChanges<'_>) -> Result<()> {
        let Some(event) = notified.event::<Dog>() else { return Ok(()) };
        let dog = event.originator_id.to_string();
        match &event.payload {
            DogEvent::Registered { name } => {
                view.put(DOG_NAMES, &dog, name)?;
                view.put(TRICKS_PER_DOG, name, &Vec::<String>::new())?;
            }
            DogEvent::TrickAdded { trick } => {
                let Some(name) = view.get_as::<String>(DOG_NAMES, &dog).await? else {
                    return Err(Error::System(format!("trick added to unregistered dog {dog}")));
                };
                let mut tricks: Vec<String> =
                    view.get_as(TRICKS_PER_DOG, &name).await?.unwrap_or_default();
                tricks.push(trick.clone());
                view.put(TRICKS_PER_DOG, &name, &tricks)?;
                let mut dogs: Vec<String> =
                    view.get_as(DOGS_PER_TRICK, trick).await?.unwrap_or_default();
                if !dogs.contains(&name) {
                    dogs.push(name);
                    view.put(DOGS_PER_TRICK, trick, &dogs)?;
                }
            }
        }
        Ok(())
    }
}

/// The view store `VIEW_STORE` names: `memory` (the default), `dynamodb` (table
/// `VIEW_TABLE`, default `views`, at `DYNAMO_ENDPOINT_URL`, created when missing) or
/// `postgres` (at `POSTGRES_URL`, tables `<VIEW_TABLE>_view_rows` and `…_view_tracking`,
/// `es_view_rows` and `es_view_tracking` without `VIEW_TABLE`).
pub async fn view_store_from_env() -> Result<Arc<dyn ViewStore>> {
    let kind = std::env::var("VIEW_STORE").unwrap_or_else(|_| "memory".to_owned());
    let store: Arc<dyn ViewStore> = match kind.as_str() {
        "memory" => Arc::new(InMemoryViewStore::new()),
        "dynamodb" => Arc::new(dynamo_view_store_from_env().await?),
        "postgres" => {
            let url = std::env::var("POSTGRES_URL")
                .map_err(|_| Error::System("VIEW_STORE=postgres needs POSTGRES_URL".to_owned()))?;
            let prefix = std::env::var("VIEW_TABLE").map_or("es_".to_owned(), |t| t + "_");
            Arc::new(PostgresViewStore::connect_with_prefix(&url, &prefix).await?)
        }
        other => {
            return Err(Error::System(format!(
                "VIEW_STORE={other}: use memory, dynamodb or postgres"
            )))
        }
    };
    Ok(store)
}

/// The DynamoDB view store of `VIEW_STORE=dynamodb`.
pub async fn dynamo_view_store_from_env() -> Result<DynamoViewStore> {
    let table = std::env::var("VIEW_TABLE").unwrap_or_else(|_| "views".to_owned());
    let mut config = DynamoConfig::new(table);
    config.endpoint_url = std::env::var("DYNAMO_ENDPOINT_URL").ok();
    config.create_table = true;
    Ok(DynamoViewStore::connect(&config).await?)
}
