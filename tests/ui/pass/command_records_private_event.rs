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

    /// Validates, then records: Python's pattern of a command calling a private event method.
    pub fn add_trick(&mut self, trick: String) -> Result<(), String> {
        if self.tricks.contains(&trick) {
            return Err(format!("{} already knows {trick}", self.name));
        }
        self.trick_added(trick);
        Ok(())
    }

    #[event("TrickAdded")]
    fn trick_added(&mut self, trick: String) {
        self.tricks.push(trick);
    }
}

fn main() {
    let mut dog = Dog::register("Fido".to_string());
    dog.add_trick("roll over".to_string()).unwrap();
    assert!(dog.add_trick("roll over".to_string()).is_err());
    assert_eq!(dog.tricks, ["roll over"]);
    assert_eq!(dog.version(), 2);
}
