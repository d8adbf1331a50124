use eventsourcing_dynamodb::prelude::*;

#[aggregate]
pub struct Profile {
    name: String,
}

#[aggregate(version = 2)]
impl Profile {
    #[event("Created")]
    pub fn create(name: String) -> Self {
        Profile { name }
    }
}

fn main() {}
