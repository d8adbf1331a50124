use eventsourcing_dynamodb::prelude::*;

#[aggregate(topic = "kennel:Dog", topic = "kennel:Hound")]
pub struct Dog {
    name: String,
    tricks: Vec<String>,
}

#[aggregate]
impl Dog {
    #[event("Registered")]
    pub fn register(name: String) -> Self {
        Dog { name, tricks: Vec::new() }
    }

    #[event("TrickAdded", version = 2, version = 3)]
    pub fn add_trick(&mut self, trick: String) {
        self.tricks.push(trick);
    }
}

// The type is used as if it were right: the mistakes above are the only errors.
fn main() {
    let mut dog = Dog::register("Fido".to_string());
    dog.add_trick("sit".to_string());
    assert_eq!(dog.tricks, ["sit"]);
}
