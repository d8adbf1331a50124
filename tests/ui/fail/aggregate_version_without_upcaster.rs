use eventsourcing_dynamodb::prelude::*;

// Snapshots of version 1 would not read: the state's upcaster is missing.
#[aggregate(version = 2)]
pub struct Profile {
    name: String,
    language: String,
}

#[aggregate]
impl Profile {
    #[event("Created")]
    pub fn create(name: String, language: String) -> Self {
        Profile { name, language }
    }
}

fn main() {}
