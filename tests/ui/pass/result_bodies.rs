use eventsourcing_dynamodb::prelude::*;

#[aggregate]
pub struct Dog {
    name: String,
    tricks: Vec<String>,
}

#[aggregate]
impl Dog {
    #[event("Registered")]
    pub fn register(name: String) -> Result<Self, String> {
        if name.is_empty() {
            return Err("a dog needs a name".to_string());
        }
        Ok(Dog {
            name,
            tricks: Vec::new(),
        })
    }

    #[event("TrickAdded")]
    pub fn add_trick(&mut self, trick: String) -> Result<(), String> {
        if self.tricks.contains(&trick) {
            return Err(format!("{} already knows {trick}", self.name));
        }
        self.tricks.push(trick);
        Ok(())
    }
}

fn main() {
    assert_eq!(
        Dog::register(String::new()).err(),
        Some("a dog needs a name".to_string())
    );
    let mut dog = Dog::register("Fido".to_string()).unwrap();
    dog.add_trick("roll over".to_string()).unwrap();
    let error = dog.add_trick("roll over".to_string()).unwrap_err();
    assert_eq!(error, "Fido already knows roll over");
    assert_eq!(dog.version(), 2);
    assert_eq!(dog.pending_events().len(), 2);
}
