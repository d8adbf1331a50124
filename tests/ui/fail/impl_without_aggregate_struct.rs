use eventsourcing_dynamodb::prelude::*;

pub struct Dog {
    name: String,
}

#[aggregate]
impl Dog {
    #[event("Registered")]
    pub fn register(name: String) -> Self {
        Dog { name }
    }
}

fn main() {}
