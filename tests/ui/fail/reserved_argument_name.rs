use eventsourcing_dynamodb::prelude::*;

#[aggregate]
pub struct Dog {
    name: String,
    tricks: Vec<String>,
}

#[aggregate]
impl Dog {
    #[event("Registered")]
    pub fn register(name: String, originator_id: Uuid) -> Self {
        let _ = originator_id;
        Dog {
            name,
            tricks: Vec::new(),
        }
    }

    #[event("TrickAdded")]
    pub fn add_trick(&mut self, trick: String, timestamp: String) {
        let _ = timestamp;
        self.tricks.push(trick);
    }
}

fn main() {}
