use eventsourcing_dynamodb::prelude::*;

#[aggregate]
pub struct Dog {
    name: String,
    tricks: Vec<String>,
}

#[aggregate]
impl Dog {
    #[event("Registered")]
    pub fn register(name: String) -> Self {
        Dog {
            name,
            tricks: Vec::new(),
        }
    }

    pub fn create_id(name: &str) -> Uuid {
        Uuid::new_v5(&Uuid::NAMESPACE_URL, format!("/dogs/{name}").as_bytes())
    }

    #[event("TrickAdded")]
    pub fn add_trick(&mut self, trick: String) {
        self.tricks.push(trick);
    }
}

fn main() {
    let mut dog = Dog::register("Fido".to_string());
    dog.add_trick("roll over".to_string());
    dog.add_trick("play dead".to_string());
    assert_eq!(dog.id(), Dog::create_id("Fido"));
    assert_eq!(dog.name, "Fido");
    assert_eq!(dog.tricks, ["roll over", "play dead"]);
    assert_eq!(dog.version(), 3);
    assert_eq!(dog.pending_events().len(), 3);
}
