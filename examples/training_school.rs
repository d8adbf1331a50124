//! The seed's TrainingSchool, line for line.
//!
//! In memory: `cargo run --example training_school`
//! On DynamoDB: set PERSISTENCE_MODULE=eventsourcing_dynamodb, DYNAMO_ENDPOINT_URL and DYNAMO_TABLE.

use eventsourcing_dynamodb::prelude::*;

pub struct TrainingSchool(Application);

impl TrainingSchool {
    pub async fn register(&self, name: &str) -> Result<()> {
        let mut dog = Dog::register(name.to_string());
        self.save(&mut dog).await?;
        Ok(())
    }

    pub async fn add_trick(&self, name: &str, trick: &str) -> Result<()> {
        let mut dog = self.repository().get::<Dog>(Dog::create_id(name)).await?;
        dog.add_trick(trick.to_string());
        self.save(&mut dog).await?;
        Ok(())
    }

    pub async fn get_tricks(&self, name: &str) -> Result<Vec<String>> {
        let dog = self.repository().get::<Dog>(Dog::create_id(name)).await?;
        Ok(dog.tricks.clone())
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
}

impl AsApplication for TrainingSchool {
    fn application(&self) -> &Application {
        &self.0
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let school = TrainingSchool(Application::new("TrainingSchool").await?);
    school.register("Fido").await?;
    school.add_trick("Fido", "roll over").await?;
    school.add_trick("Fido", "play dead").await?;
    let tricks = school.get_tricks("Fido").await?;
    assert_eq!(tricks, ["roll over", "play dead"]);
    println!("{tricks:?}");
    Ok(())
}
