use eventsourcing_dynamodb::prelude::*;

pub struct NotSerde;

#[aggregate]
pub struct Dog {
    name: String,
}

#[aggregate]
impl Dog {
    #[event("Registered")]
    pub fn register(name: String) -> Self {
        Dog { name }
    }

    #[event("Fed")]
    pub fn feed(&mut self, food: NotSerde) {
        let _ = food;
    }
}

fn main() {}
