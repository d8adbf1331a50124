use eventsourcing_dynamodb::prelude::*;

#[aggregate]
pub struct Dog {
    name: String,
}

#[aggregate]
impl Dog {
    #[event("Registered")]
    pub fn register(name: String) -> () {
        let _ = name;
    }
}

fn main() {}
