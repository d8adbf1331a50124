use eventsourcing_dynamodb::prelude::*;
use eventsourcing_dynamodb::Event;

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

    #[event]
    pub fn add_trick(&mut self, trick: String) {
        self.tricks.push(trick);
    }
}

fn main() {
    let mut dog = Dog::register("Fido".to_string());
    dog.add_trick("roll over".to_string());
    let events = dog.collect_events();
    assert_eq!(events[0].payload.name(), "Registered");
    assert_eq!(events[1].payload.name(), "AddTrick");
    assert!(matches!(&events[1].payload, DogEvent::AddTrick { trick } if trick == "roll over"));
}
