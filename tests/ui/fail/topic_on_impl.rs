use eventsourcing_dynamodb::prelude::*;

#[aggregate]
pub struct Dog {
    name: String,
}

#[aggregate(topic = "kennel:Dog")]
impl Dog {
    #[event("Registered")]
    pub fn register(name: String) -> Self {
        Dog { name }
    }
}

fn main() {}
