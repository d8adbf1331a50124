//! Event and aggregate class versions with upcasting, as Python eventsourcing 9.3.5 does
//! them (fixture `tests/fixtures/python/class_version.json`): `"class_version": N` is the
//! last key of a state of version N > 1, absent for version 1, and older states are
//! upgraded on read by the class's upcasters, in order.

use eventsourcing_dynamodb::domain::upcast::{append_class_version, StateObject};
use eventsourcing_dynamodb::persistence::{DecodeError, DecodeProblem};
use eventsourcing_dynamodb::prelude::*;
use eventsourcing_dynamodb::transcoding::{format_iso, parse_iso};
use eventsourcing_dynamodb::{AggregateState, Event, OffsetDateTime, StoredEvent};
use serde_json::{json, Value};

use contact::{Contact, ContactCommands, ContactEvent};
use seed::{Profile, ProfileCommands, ProfileEvent};

/// Python's `seed.Profile` at class version 2 (the fixture's `PROFILE_V2_SOURCE`).
mod seed {
    use eventsourcing_dynamodb::domain::StateObject;
    use eventsourcing_dynamodb::prelude::*;

    /// Python's `upcast_v1_v2` of all three classes: version 1 had no language.
    fn english(state: &mut StateObject) {
        state.insert("language".into(), "en".into());
    }

    #[aggregate(topic = "seed:Profile", version = 2, upcast = [english])]
    #[derive(Debug, PartialEq)]
    pub struct Profile {
        pub name: String,
        pub language: String,
    }

    #[aggregate]
    impl Profile {
        #[event("Created", version = 2, upcast = [english])]
        pub fn create(name: String, language: String) -> Self {
            Profile { name, language }
        }

        pub fn create_id(name: &str) -> Uuid {
            Uuid::new_v5(&Uuid::NAMESPACE_URL, format!("/profiles/{name}").as_bytes())
        }

        /// An upcaster may also be an associated function, named through `Self`.
        fn renamed_v1_v2(state: &mut StateObject) {
            english(state);
        }

        #[event("Renamed", version = 2, upcast = [Self::renamed_v1_v2])]
        pub fn rename(&mut self, name: String, language: String) {
            self.name = name;
            self.language = language;
        }
    }
}

/// An aggregate at version 3 whose upcasters leave a trail, to show their order.
mod contact {
    use eventsourcing_dynamodb::domain::StateObject;
    use eventsourcing_dynamodb::prelude::*;
    use serde_json::Value;

    fn push(state: &mut StateObject, key: &str, step: &str) {
        let list = state.entry(key).or_insert_with(|| Value::Array(Vec::new()));
        list.as_array_mut().expect("a list").push(step.into());
    }

    /// Version 2 added `trail`; records that this step ran.
    pub fn added_v1_v2(state: &mut StateObject) {
        assert!(!state.contains_key("trail"), "v1→v2 runs first, on a version 1 state");
        push(state, "trail", "1→2");
    }

    /// Version 3 renamed `email` to `address`; requires the v1→v2 result if there was one.
    pub fn added_v2_v3(state: &mut StateObject) {
        assert!(state.contains_key("trail"), "v2→v3 runs on a version 2 state");
        let email = state.remove("email").unwrap_or_default();
        state.insert("address".into(), email);
        push(state, "trail", "2→3");
    }

    fn state_v1_v2(state: &mut StateObject) {
        push(state, "history", "1→2");
    }

    fn state_v2_v3(state: &mut StateObject) {
        push(state, "history", "2→3");
    }

    #[aggregate(topic = "seed:Contact", version = 3, upcast = [state_v1_v2, state_v2_v3])]
    #[derive(Debug, PartialEq)]
    pub struct Contact {
        pub address: String,
        pub trail: Vec<String>,
        pub history: Vec<String>,
        pub notes: Vec<String>,
    }

    #[aggregate]
    impl Contact {
        #[event("Added", version = 3, upcast = [added_v1_v2, added_v2_v3])]
        pub fn add(address: String, trail: Vec<String>) -> Self {
            Contact { address, trail, history: Vec::new(), notes: Vec::new() }
        }

        /// A version 1 event: it stores no class_version, and reads none above 1.
        #[event("Noted")]
        pub fn note(&mut self, text: String) {
            self.notes.push(text);
        }
    }
}

fn fixture() -> Value {
    let path = format!("{}/tests/fixtures/python/class_version.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["eventsourcing_version"], "9.3.5");
    doc
}

/// The records of `doc[key]`, exactly as Python stored them (their `state_utf8` equals
/// their `state_base64`; the wire-format tests check that for every fixture).
fn records(doc: &Value, key: &str) -> Vec<StoredEvent> {
    doc[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| StoredEvent {
            originator_id: record["originator_id"].as_str().unwrap().parse().unwrap(),
            originator_version: record["originator_version"].as_u64().unwrap(),
            topic: record["topic"].as_str().unwrap().to_owned(),
            state: record["state_utf8"].as_str().expect("plain JSON state").as_bytes().to_vec(),
        })
        .collect()
}

fn class_versions(doc: &Value) -> Vec<u64> {
    doc["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["class_version"].as_u64().unwrap())
        .collect()
}

fn utf8(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("UTF-8 state")
}

fn timestamp_of(record: &StoredEvent) -> OffsetDateTime {
    let state: Value = serde_json::from_slice(&record.state).unwrap();
    parse_iso(state["timestamp"]["_data_"].as_str().unwrap()).unwrap()
}

fn expected_profile(doc: &Value, key: &str) -> Profile {
    serde_json::from_value(doc["expected"][key].clone()).unwrap()
}

async fn app_with(records: &[StoredEvent]) -> Application {
    let app = Application::builder("Seed").isolated().build().await.unwrap();
    app.recorders().events.insert_events(records.to_vec()).await.unwrap();
    app
}

fn decode<E: Event>(app: &Application, record: &StoredEvent) -> Result<E, DecodeError> {
    app.mapper().to_domain::<E>(record, "the test's aggregate").map(|event| event.payload)
}

fn with_state(record: &StoredEvent, state: &str) -> StoredEvent {
    StoredEvent { state: state.as_bytes().to_vec(), ..record.clone() }
}

#[test]
fn versions_are_declared() {
    assert_eq!(<Profile as AggregateState>::CLASS_VERSION, 2);
    assert_eq!(<Contact as AggregateState>::CLASS_VERSION, 3);
    let mut contact = Contact::add("a@example.com".into(), Vec::new());
    contact.note("hello".into());
    let versions: Vec<u32> =
        contact.pending_events().iter().map(|e| e.payload.class_version()).collect();
    assert_eq!(versions, [3, 1]);
}

#[tokio::test]
async fn python_profiles_of_both_versions_decode() {
    let doc = fixture();
    let records = records(&doc, "records");
    assert_eq!(class_versions(&doc), [1, 1, 2, 2, 2]);
    let app = app_with(&records).await;
    let alice = Profile::create_id("Alice");
    let bob = Profile::create_id("Bob");
    assert_eq!(alice.to_string(), doc["expected"]["alice_id"]);
    assert_eq!(bob.to_string(), doc["expected"]["bob_id"]);

    // Only version 1 events: both upcast to language "en".
    let early = app.repository().get_at::<Profile>(alice, 2).await.unwrap();
    assert_eq!(*early, expected_profile(&doc, "alice_after_upcast_of_v1_events"));

    // Version 1 events, then a version 2 event of the same aggregate.
    let alice = app.repository().get::<Profile>(alice).await.unwrap();
    assert_eq!(*alice, expected_profile(&doc, "alice_final"));
    assert_eq!(alice.version(), 3);
    assert_eq!(alice.created_on(), timestamp_of(&records[0]));
    assert_eq!(alice.modified_on(), timestamp_of(&records[2]));

    let bob = app.repository().get::<Profile>(bob).await.unwrap();
    assert_eq!(*bob, expected_profile(&doc, "bob_final"));
    assert_eq!(bob.version(), 2);
}

#[tokio::test]
async fn version_2_events_re_encode_to_pythons_bytes() {
    let records = records(&fixture(), "records");
    let app = app_with(&[]).await;
    for record in &records[2..] {
        let event = app.mapper().to_domain::<ProfileEvent>(record, "Profile").unwrap();
        assert_eq!(event.payload.class_version(), 2);
        let again = app.mapper().to_stored(&event).unwrap();
        assert!(utf8(&again.state).ends_with(r#","class_version":2}"#));
        assert_eq!(utf8(&again.state), utf8(&record.state), "differs from Python's bytes");
        assert_eq!(again, *record);
    }

    // Events recorded by Rust commands are what Python's version 2 classes store.
    let mut bob = Profile::create("Bob".into(), "de".into());
    bob.rename("Robert".into(), "de".into());
    assert_eq!(bob.id(), records[3].originator_id);
    for (event, python) in bob.pending_events().iter().zip(&records[3..]) {
        let stored = app.mapper().to_stored(event).unwrap();
        let python_state = utf8(&python.state).replacen(
            &format_iso(&timestamp_of(python)),
            &format_iso(&event.timestamp),
            1,
        );
        assert_eq!(stored.topic, python.topic);
        assert_eq!(utf8(&stored.state), python_state);
    }
}

#[tokio::test]
async fn version_1_events_upcast_and_are_written_as_version_2() {
    let records = records(&fixture(), "records");
    let app = app_with(&[]).await;
    let created: ProfileEvent = decode(&app, &records[0]).unwrap();
    assert!(
        matches!(&created, ProfileEvent::Created { name, language } if name == "Alice" && language == "en")
    );
    let renamed: ProfileEvent = decode(&app, &records[1]).unwrap();
    assert!(
        matches!(&renamed, ProfileEvent::Renamed { name, language } if name == "Alicia" && language == "en")
    );

    // Saved again, an upcast event is a version 2 event, as Python would write it.
    let event = app.mapper().to_domain::<ProfileEvent>(&records[1], "Profile").unwrap();
    let again = app.mapper().to_stored(&event).unwrap();
    let python_v1 = utf8(&records[1].state);
    let expected =
        format!(r#"{},"language":"en","class_version":2}}"#, python_v1.strip_suffix('}').unwrap());
    assert_eq!(utf8(&again.state), expected);
}

#[tokio::test]
async fn class_version_is_read_wherever_it_is() {
    let records = records(&fixture(), "records");
    let app = app_with(&[]).await;
    let timestamp = r#"{"_type_":"datetime_iso","_data_":"2026-11-27T02:35:48.085912+00:00"}"#;
    // Not the last key: decoded through the general path, still as version 2.
    let first =
        format!(r#"{{"class_version":2,"timestamp":{timestamp},"name":"R","language":"de"}}"#);
    let event: ProfileEvent = decode(&app, &with_state(&records[4], &first)).unwrap();
    assert!(matches!(&event, ProfileEvent::Renamed { language, .. } if language == "de"));
    // Version 1 written explicitly (Python never does): upcast like an absent key.
    let explicit = format!(r#"{{"timestamp":{timestamp},"name":"R","class_version":1}}"#);
    let event: ProfileEvent = decode(&app, &with_state(&records[4], &explicit)).unwrap();
    assert!(matches!(&event, ProfileEvent::Renamed { language, .. } if language == "en"));
}

#[tokio::test]
async fn upcasters_run_in_order_from_the_stored_version() {
    let app = app_with(&[]).await;
    let mut contact = Contact::add("a@example.com".into(), vec!["new".into()]);
    let id = contact.id();
    contact.note("hello".into());
    let mut stored: Vec<StoredEvent> =
        contact.pending_events().iter().map(|e| app.mapper().to_stored(e).unwrap()).collect();
    let state = utf8(&stored[0].state).to_owned();
    assert!(state.ends_with(r#""address":"a@example.com","trail":["new"],"class_version":3}"#));
    assert!(!utf8(&stored[1].state).contains("class_version"), "version 1 stores no key");
    let timestamp = r#"{"_type_":"datetime_iso","_data_":"2026-11-27T02:35:48.085912+00:00"}"#;

    // Version 3: read as stored, no upcaster runs.
    let added: ContactEvent = decode(&app, &stored[0]).unwrap();
    assert!(matches!(&added, ContactEvent::Added { trail, .. } if trail == &["new"]));

    // Version 1: 1→2, then 2→3, which sees the result of 1→2.
    let v1 =
        format!(r#"{{"timestamp":{timestamp},"originator_topic":"seed:Contact","email":"b@x"}}"#);
    let added: ContactEvent = decode(&app, &with_state(&stored[0], &v1)).unwrap();
    assert!(matches!(&added, ContactEvent::Added { address, trail }
        if address == "b@x" && trail == &["1→2", "2→3"]));

    // Version 2: only 2→3.
    let v2 = format!(
        r#"{{"timestamp":{timestamp},"originator_topic":"seed:Contact","email":"c@x","trail":["old"],"class_version":2}}"#
    );
    let added: ContactEvent = decode(&app, &with_state(&stored[0], &v2)).unwrap();
    assert!(matches!(&added, ContactEvent::Added { address, trail }
        if address == "c@x" && trail == &["old", "2→3"]));

    // Replayed through the repository.
    stored[0] = with_state(&stored[0], &v1);
    app.recorders().events.insert_events(stored).await.unwrap();
    let contact = app.repository().get::<Contact>(id).await.unwrap();
    assert_eq!(contact.address, "b@x");
    assert_eq!(contact.trail, ["1→2", "2→3"]);
    assert_eq!(contact.notes, ["hello"]);
}

fn version_problem(error: &DecodeError) -> &str {
    match &error.problem {
        DecodeProblem::Version(message) => message,
        other => panic!("expected a version problem, got {other:?}"),
    }
}

#[tokio::test]
async fn a_state_newer_than_the_code_is_a_typed_error() {
    let records = records(&fixture(), "records");
    let app = app_with(&[]).await;
    let newer = utf8(&records[4].state).replace(r#""class_version":2}"#, r#""class_version":3}"#);
    let record = with_state(&records[4], &newer);
    let error = decode::<ProfileEvent>(&app, &record).unwrap_err();
    let message = version_problem(&error);
    assert!(message.contains("event `ProfileEvent::Renamed`"), "{message}");
    assert!(message.contains("class_version 3"), "{message}");
    assert!(message.contains("up to version 2"), "{message}");
    assert_eq!(error.originator_version, 2);
    let shown = error.to_string();
    assert!(
        shown.contains(&record.originator_id.to_string()) && shown.contains("seed:Profile.Renamed"),
        "{shown}"
    );

    // Also for a version 1 event, whose decoding otherwise ignores unknown keys.
    let mut contact = Contact::add("a@example.com".into(), Vec::new());
    contact.note("hi".into());
    let noted = app.mapper().to_stored(&contact.pending_events()[1]).unwrap();
    let newer = format!(
        r#"{},"mood":"good","class_version":2}}"#,
        utf8(&noted.state).strip_suffix('}').unwrap()
    );
    let error = decode::<ContactEvent>(&app, &with_state(&noted, &newer)).unwrap_err();
    assert!(version_problem(&error)
        .contains("event `ContactEvent::Noted` was stored with class_version 2"));
    // A newer version is reported even when the state no longer matches the fields.
    let timestamp = r#"{"_type_":"datetime_iso","_data_":"2026-11-27T02:35:48.085912+00:00"}"#;
    let reshaped = format!(r#"{{"timestamp":{timestamp},"body":"hi","class_version":2}}"#);
    let error = decode::<ContactEvent>(&app, &with_state(&noted, &reshaped)).unwrap_err();
    version_problem(&error);

    // Not a version at all.
    let bad = utf8(&records[4].state).replace(r#""class_version":2}"#, r#""class_version":"2"}"#);
    let error = decode::<ProfileEvent>(&app, &with_state(&records[4], &bad)).unwrap_err();
    assert!(version_problem(&error).contains("not a class version"));

    // Through the repository: `Error::Decode`, naming the event.
    let app = app_with(&[records[3].clone(), record]).await;
    let error = app.repository().get::<Profile>(Profile::create_id("Bob")).await.unwrap_err();
    assert!(
        matches!(&error, Error::Decode(e) if matches!(e.problem, DecodeProblem::Version(_))),
        "{error}"
    );
}

#[test]
fn python_snapshot_state_upcasts_and_re_encodes() {
    let doc = fixture();
    let snapshot = &records(&doc, "snapshot_records")[0];
    let snapshot: Value = serde_json::from_slice(&snapshot.state).unwrap();
    assert_eq!(snapshot["topic"], "seed:Profile");
    let Value::Object(mut state) = snapshot["state"].clone() else { panic!("no nested state") };

    // What snapshot code does: remove Python's own keys, upcast, deserialize.
    assert!(state.remove("_created_on").is_some() && state.remove("_modified_on").is_some());
    let mut v1_state = state.clone();
    Profile::upcast_state(&mut state).unwrap();
    assert!(!state.contains_key("class_version"));
    let profile: Profile = serde_json::from_value(Value::Object(state)).unwrap();
    assert_eq!(profile, expected_profile(&doc, "bob_final"));

    // A version 1 snapshot state (no key) is upcast by the aggregate's upcaster.
    v1_state.remove("class_version");
    v1_state.remove("language");
    Profile::upcast_state(&mut v1_state).unwrap();
    assert_eq!(Value::Object(v1_state), json!({"name": "Robert", "language": "en"}));

    // Written back: the class version is the last key of the nested state, as in Python.
    let mut json = serde_json::to_vec(&profile).unwrap();
    append_class_version(&mut json, Profile::CLASS_VERSION).unwrap();
    let python = doc["snapshot_records"][0]["state_utf8"].as_str().unwrap();
    assert!(
        python.ends_with(&format!(",{}}}", utf8(&json).strip_prefix('{').unwrap())),
        "{python}"
    );
}

#[test]
fn aggregate_state_upcasters_run_in_order_and_refuse_newer_states() {
    let mut state: StateObject = json!({"address": "a"}).as_object().unwrap().clone();
    Contact::upcast_state(&mut state).unwrap();
    assert_eq!(state["history"], json!(["1→2", "2→3"]));

    let mut state: StateObject =
        json!({"history": [], "class_version": 2}).as_object().unwrap().clone();
    Contact::upcast_state(&mut state).unwrap();
    assert_eq!(Value::Object(state), json!({"history": ["2→3"]}));

    let mut state: StateObject = json!({"class_version": 4}).as_object().unwrap().clone();
    let error = Contact::upcast_state(&mut state).unwrap_err();
    assert!(error.contains("aggregate `Contact`") && error.contains("class_version 4"), "{error}");
}
