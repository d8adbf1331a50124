use eventsourcing_dynamodb::prelude::*;

#[aggregate]
pub struct Dog {
    name: String,
}

#[aggregate]
impl Dog {
    #[event]
    pub fn register(name: String) -> Self {
        Dog { name }
    }
}

fn main() {}
