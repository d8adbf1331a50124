use eventsourcing_dynamodb::prelude::*;
use eventsourcing_dynamodb::{AggregateState, Event};

#[aggregate(topic = "kennel:Dog", aliases = ["old_kennel:Dog"])]
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

    #[event("TrickAdded", topic = "kennel:Trick", aliases = ["circus:Trick"])]
    pub fn add_trick(&mut self, trick: String) {
        self.tricks.push(trick);
    }
}

fn main() {
    assert_eq!(<Dog as AggregateState>::topic(), "kennel:Dog");
    assert_eq!(<Dog as AggregateState>::topic_aliases(), ["old_kennel:Dog"]);
    let mut dog = Dog::register("Fido".to_string());
    dog.add_trick("roll over".to_string());
    let events = dog.pending_events();
    assert_eq!(events[0].payload.topic(), "kennel:Dog.Registered");
    assert_eq!(events[1].payload.topic(), "kennel:Trick");
    let topics = DogEvent::topics();
    assert_eq!(topics.index_of("old_kennel:Dog.Registered"), Some(0));
    assert_eq!(topics.index_of("circus:Trick"), Some(1));
    assert_eq!(topics.index_of("old_kennel:Dog.TrickAdded"), Some(1));
}
