use eventsourcing_dynamodb::domain::StateObject;
use eventsourcing_dynamodb::prelude::*;

#[aggregate]
pub struct Profile {
    name: String,
    language: String,
}

fn renamed_v1_v2(state: &mut StateObject) {
    state.insert("language".into(), "en".into());
}

#[aggregate]
impl Profile {
    #[event("Created")]
    pub fn create(name: String) -> Self {
        Profile { name, language: "en".into() }
    }

    // Version 3 reads states of versions 1 and 2, so it needs two upcasters.
    #[event("Renamed", version = 3, upcast = [renamed_v1_v2])]
    pub fn rename(&mut self, name: String, language: String) {
        self.name = name;
        self.language = language;
    }
}

fn main() {}
