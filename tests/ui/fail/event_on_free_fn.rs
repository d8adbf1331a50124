use eventsourcing_dynamodb::prelude::*;

#[event("Registered")]
pub fn register(name: String) -> String {
    name
}

fn main() {}
