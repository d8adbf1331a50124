use eventsourcing_dynamodb::prelude::*;

#[aggregate]
pub struct Profile {
    name: String,
    language: String,
}

// Takes the whole value instead of the state's JSON object.
fn renamed_v1_v2(state: &mut serde_json::Value) {
    state["language"] = "en".into();
}

#[aggregate]
impl Profile {
    #[event("Created")]
    pub fn create(name: String) -> Self {
        Profile { name, language: "en".into() }
    }

    #[event("Renamed", version = 2, upcast = [renamed_v1_v2])]
    pub fn rename(&mut self, name: String, language: String) {
        self.name = name;
        self.language = language;
    }
}

fn main() {}
