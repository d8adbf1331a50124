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

// The type is used as if it were right: the mistakes above are the only errors (the
// methods exist, as stubs, so their uses add none).
fn main() {
    let mut dog = Dog::register("Fido".to_string(), Uuid::nil());
    dog.add_trick("sit".to_string(), "now".to_string());
    assert_eq!(dog.tricks, ["sit"]);
    let _ = dog.version();
}
