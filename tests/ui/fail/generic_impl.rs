use eventsourcing_dynamodb::prelude::*;

#[aggregate]
pub struct Dog<T> {
    name: T,
}

#[aggregate]
impl<T> Dog<T> {
    #[event("Registered")]
    pub fn register(name: T) -> Self {
        Dog { name }
    }
}

fn main() {}
