//! Byte-for-byte compatibility with the stored events of Python eventsourcing 9.3.5
//! (fixtures in `tests/fixtures/python/`, written by `scripts/make_python_fixtures.py`).

use eventsourcing_dynamodb::prelude::*;
use eventsourcing_dynamodb::transcoding::{format_iso, parse_iso};
use eventsourcing_dynamodb::{Decimal, Event, OffsetDateTime, StoredEvent};
use serde_json::Value;

use seed::{
    Account, AccountCommands, AccountEvent, Clock, ClockCommands, ClockEvent, Dog, DogCommands,
    DogEvent,
};

/// The aggregates of the Python fixtures' module `seed`.
mod seed {
    use eventsourcing_dynamodb::prelude::*;
    use eventsourcing_dynamodb::{Decimal, OffsetDateTime};

    #[aggregate(topic = "seed:Dog")]
    #[derive(Debug)]
    pub struct Dog {
        pub name: String,
        pub tricks: Vec<String>,
    }

    #[aggregate]
    impl Dog {
        #[event("Registered")]
        pub fn register(name: String) -> Self {
            Dog { name, tricks: Vec::new() }
        }

        pub fn create_id(name: &str) -> Uuid {
            Uuid::new_v5(&Uuid::NAMESPACE_URL, format!("/dogs/{name}").as_bytes())
        }

        #[event("TrickAdded")]
        pub fn add_trick(&mut self, trick: String) {
            self.tricks.push(trick);
        }
    }

    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    pub struct Deposit {
        pub amount: Decimal,
        pub note: String,
        pub reference: Uuid,
    }

    #[aggregate(topic = "seed:Account")]
    #[derive(Debug)]
    pub struct Account {
        pub owner_id: Uuid,
        pub balance: Decimal,
        pub opened_at: OffsetDateTime,
        pub tags: Vec<String>,
        pub deposits: Vec<Deposit>,
    }

    #[aggregate]
    impl Account {
        #[event("Opened")]
        pub fn open(
            owner_id: Uuid,
            balance: Decimal,
            opened_at: OffsetDateTime,
            tags: Vec<String>,
        ) -> Self {
            Account { owner_id, balance, opened_at, tags, deposits: Vec::new() }
        }

        pub fn create_id(owner_id: &Uuid) -> Uuid {
            Uuid::new_v5(&Uuid::NAMESPACE_URL, format!("/accounts/{owner_id}").as_bytes())
        }

        /// `ref` is the Python argument's name: a raw identifier in Rust.
        #[event("Deposited")]
        pub fn deposit(&mut self, amount: Decimal, note: String, r#ref: Uuid) {
            self.balance += amount;
            self.deposits.push(Deposit { amount, note, reference: r#ref });
        }
    }

    #[aggregate(topic = "seed:Clock")]
    #[derive(Debug)]
    pub struct Clock {
        pub ticks: Vec<OffsetDateTime>,
    }

    #[aggregate]
    impl Clock {
        #[event("Started")]
        pub fn start() -> Self {
            Clock { ticks: Vec::new() }
        }

        pub fn create_id() -> Uuid {
            Uuid::new_v5(&Uuid::NAMESPACE_URL, b"/clocks/1")
        }

        #[event("Ticked")]
        pub fn tick(&mut self, at: OffsetDateTime) {
            self.ticks.push(at);
        }
    }
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/python/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in text.bytes().filter(|b| *b != b'=') {
        let value = ALPHABET
            .iter()
            .position(|a| *a == byte)
            .unwrap_or_else(|| panic!("not base64: {byte:#x}")) as u32;
        buffer = (buffer << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    out
}

/// The fixture's records, exactly as Python stored them.
fn records(doc: &Value) -> Vec<StoredEvent> {
    assert_eq!(doc["eventsourcing_version"], "9.3.5");
    doc["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| {
            let state = base64_decode(record["state_base64"].as_str().unwrap());
            let utf8 = record["state_utf8"].as_str().expect("plain JSON state");
            assert_eq!(state, utf8.as_bytes(), "base64 and utf8 disagree");
            StoredEvent {
                originator_id: record["originator_id"].as_str().unwrap().parse().unwrap(),
                originator_version: record["originator_version"].as_u64().unwrap(),
                topic: record["topic"].as_str().unwrap().to_owned(),
                state,
            }
        })
        .collect()
}

/// The `_data_` of the state's timestamp.
fn timestamp_of(record: &StoredEvent) -> OffsetDateTime {
    let state: Value = serde_json::from_slice(&record.state).unwrap();
    assert_eq!(state["timestamp"]["_type_"], "datetime_iso");
    parse_iso(state["timestamp"]["_data_"].as_str().unwrap()).unwrap()
}

async fn app_with(records: &[StoredEvent]) -> Application {
    let app = Application::builder("Seed").isolated().build().await.unwrap();
    let ids = app.recorders().events.insert_events(records.to_vec()).await.unwrap();
    assert_eq!(ids, (1..=records.len() as u64).collect::<Vec<_>>());
    app
}

fn utf8(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("UTF-8 state")
}

/// Decodes the record, encodes it again and requires Python's exact bytes.
fn round_trip<E: Event>(app: &Application, record: &StoredEvent, expected: &'static str) -> E {
    let event = app.mapper().to_domain::<E>(record, expected).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(event.originator_id, record.originator_id);
    assert_eq!(event.originator_version, record.originator_version);
    assert_eq!(event.timestamp, timestamp_of(record));
    assert!(event.timestamp.offset().is_utc());
    assert_eq!(event.payload.is_created(), record.originator_version == 1);
    let again = app.mapper().to_stored(&event).unwrap();
    assert_eq!(again.originator_id, record.originator_id);
    assert_eq!(again.originator_version, record.originator_version);
    assert_eq!(again.topic, record.topic);
    assert_eq!(utf8(&again.state), utf8(&record.state), "re-encoded state differs from Python's");
    assert_eq!(again, *record);
    event.payload
}

/// Python's state of `record` with the timestamp of `event` put in, so that an event
/// recorded now can be compared with it.
fn with_timestamp(record: &StoredEvent, timestamp: &OffsetDateTime) -> String {
    let python = utf8(&record.state);
    let old = format_iso(&timestamp_of(record));
    assert!(python.contains(&old));
    python.replacen(&old, &format_iso(timestamp), 1)
}

/// Python's state with keys this program does not know, before and after its own.
fn with_unknown_keys(record: &StoredEvent) -> StoredEvent {
    let python = utf8(&record.state);
    let inner = python.strip_prefix('{').unwrap().strip_suffix('}').unwrap();
    let state = format!(
        r#"{{"added_first":{{"_type_":"decimal_str","_data_":"1"}},{inner},"added_later":[1,"two",null],"class_note":"x"}}"#
    );
    StoredEvent { state: state.into_bytes(), ..record.clone() }
}

#[tokio::test]
async fn seed_dog_decodes() {
    let doc = fixture("seed_dog.json");
    let records = records(&doc);
    assert_eq!(records.len(), 3);
    let app = app_with(&records).await;
    let id = Dog::create_id("Fido");
    assert_eq!(records[0].originator_id, id);

    let dog = app.repository().get::<Dog>(id).await.unwrap();
    let expected: Vec<String> = serde_json::from_value(doc["expected_tricks"].clone()).unwrap();
    assert_eq!(dog.tricks, expected);
    assert_eq!(dog.name, "Fido");
    assert_eq!(dog.version(), 3);
    assert_eq!(dog.created_on(), timestamp_of(&records[0]));
    assert_eq!(dog.modified_on(), timestamp_of(&records[2]));
    assert_eq!(format_iso(&dog.created_on()), "2026-11-27T02:35:48.038849+00:00");

    let v2 = app.repository().get_at::<Dog>(id, 2).await.unwrap();
    assert_eq!(v2.tricks, ["roll over"]);
    assert_eq!(v2.modified_on(), timestamp_of(&records[1]));
}

#[tokio::test]
async fn seed_dog_re_encodes_identically() {
    let records = records(&fixture("seed_dog.json"));
    let app = app_with(&[]).await;
    let names: Vec<DogEvent> =
        records.iter().map(|r| round_trip::<DogEvent>(&app, r, "Dog")).collect();
    assert!(matches!(&names[0], DogEvent::Registered { name } if name == "Fido"));
    assert!(matches!(&names[1], DogEvent::TrickAdded { trick } if trick == "roll over"));
    assert!(matches!(&names[2], DogEvent::TrickAdded { trick } if trick == "play dead"));

    // Events recorded by Rust commands are what Python would store.
    let mut dog = Dog::register("Fido".to_string());
    dog.add_trick("roll over".to_string());
    dog.add_trick("play dead".to_string());
    assert_eq!(dog.id(), records[0].originator_id);
    for (event, python) in dog.pending_events().iter().zip(&records) {
        let stored = app.mapper().to_stored(event).unwrap();
        assert_eq!(stored.topic, python.topic);
        assert_eq!(stored.originator_version, python.originator_version);
        assert_eq!(utf8(&stored.state), with_timestamp(python, &event.timestamp));
    }
}

#[tokio::test]
async fn typed_fields_decode() {
    let doc = fixture("typed_fields.json");
    let records = records(&doc);
    let expected = &doc["expected"];
    let app = app_with(&records).await;

    let opened = &expected["Account.Opened"];
    let owner_id: Uuid = opened["owner_id"].as_str().unwrap().parse().unwrap();
    let account_id: Uuid = expected["account_id"].as_str().unwrap().parse().unwrap();
    assert_eq!(Account::create_id(&owner_id), account_id);
    let account = app.repository().get::<Account>(account_id).await.unwrap();
    assert_eq!(account.version(), 2);
    assert_eq!(account.owner_id, owner_id);
    assert_eq!(account.owner_id.simple().to_string(), opened["owner_id_hex"]);
    assert_eq!(account.tags, ["a", "b"]);
    assert_eq!(format_iso(&account.opened_at), opened["opened_at"].as_str().unwrap());
    assert_eq!(account.opened_at, parse_iso(opened["opened_at"].as_str().unwrap()).unwrap());
    assert_eq!(account.balance.to_string(), expected["Account.final_balance"]);
    let deposited = &expected["Account.Deposited"];
    assert_eq!(account.deposits.len(), 1);
    let deposit = &account.deposits[0];
    assert_eq!(deposit.amount.to_string(), deposited["amount"]);
    assert_eq!(deposit.note, deposited["note"].as_str().unwrap());
    assert_eq!(deposit.note, "caf\u{e9} \u{2615} \"quoted\" \\ back\nslash\ttab\u{1}ctrl");
    assert_eq!(deposit.reference.to_string(), deposited["ref"]);
    assert_eq!(deposit.reference.simple().to_string(), deposited["ref_hex"]);
    assert_eq!(account.created_on(), timestamp_of(&records[0]));

    let clock_id: Uuid = expected["clock_id"].as_str().unwrap().parse().unwrap();
    assert_eq!(Clock::create_id(), clock_id);
    let clock = app.repository().get::<Clock>(clock_id).await.unwrap();
    assert_eq!(clock.version(), 2);
    let at = expected["Clock.Ticked"]["at"].as_str().unwrap();
    assert_eq!(clock.ticks, [parse_iso(at).unwrap()]);
    assert_eq!(clock.ticks[0].nanosecond(), 0);
    assert_eq!(format_iso(&clock.ticks[0]), at);
}

#[tokio::test]
async fn typed_fields_re_encode_identically() {
    let doc = fixture("typed_fields.json");
    let records = records(&doc);
    let expected = &doc["expected"];
    let app = app_with(&[]).await;

    match round_trip::<AccountEvent>(&app, &records[0], "Account") {
        AccountEvent::Opened { owner_id, balance, opened_at, tags } => {
            let opened = &expected["Account.Opened"];
            assert_eq!(owner_id.to_string(), opened["owner_id"]);
            assert_eq!(balance.to_string(), opened["balance"]);
            assert_eq!(balance.scale(), 2, "the trailing zero of 10.50 is kept");
            assert_eq!(format_iso(&opened_at), opened["opened_at"]);
            assert_eq!(tags, ["a", "b"]);
        }
        other => panic!("unexpected {other:?}"),
    }
    match round_trip::<AccountEvent>(&app, &records[1], "Account") {
        AccountEvent::Deposited { amount, note, r#ref } => {
            let deposited = &expected["Account.Deposited"];
            assert_eq!(amount.to_string(), deposited["amount"]);
            assert_eq!(note, deposited["note"].as_str().unwrap());
            assert_eq!(r#ref.to_string(), deposited["ref"]);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(round_trip::<ClockEvent>(&app, &records[2], "Clock"), ClockEvent::Started {}));
    match round_trip::<ClockEvent>(&app, &records[3], "Clock") {
        ClockEvent::Ticked { at } => {
            assert_eq!(format_iso(&at), expected["Clock.Ticked"]["at"]);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn typed_fields_recorded_in_rust_match_python() {
    let records = records(&fixture("typed_fields.json"));
    let app = app_with(&[]).await;

    let owner_id: Uuid = "12345678-1234-5678-1234-567812345678".parse().unwrap();
    let mut account = Account::open(
        owner_id,
        "10.50".parse::<Decimal>().unwrap(),
        parse_iso("2024-01-02T03:04:05.678901+00:00").unwrap(),
        vec!["a".to_string(), "b".to_string()],
    );
    account.deposit(
        "0.05".parse().unwrap(),
        "caf\u{e9} \u{2615} \"quoted\" \\ back\nslash\ttab\u{1}ctrl".to_string(),
        Uuid::from_u128(0xff),
    );
    assert_eq!(account.id(), records[0].originator_id);
    assert_eq!(account.balance.to_string(), "10.55");

    let mut clock = Clock::start();
    clock.tick(parse_iso("2024-01-02T03:04:05+00:00").unwrap());
    assert_eq!(clock.id(), records[2].originator_id);

    let mut ours = Vec::new();
    for event in account.pending_events() {
        ours.push((app.mapper().to_stored(event).unwrap(), event.timestamp));
    }
    for event in clock.pending_events() {
        ours.push((app.mapper().to_stored(event).unwrap(), event.timestamp));
    }
    assert_eq!(ours.len(), records.len());
    for ((stored, timestamp), python) in ours.iter().zip(&records) {
        assert_eq!(stored.originator_id, python.originator_id);
        assert_eq!(stored.originator_version, python.originator_version);
        assert_eq!(stored.topic, python.topic);
        assert_eq!(utf8(&stored.state), with_timestamp(python, timestamp));
    }

    // And they load back through an application.
    app.save((&mut account, &mut clock)).await.unwrap();
    let loaded = app.repository().get::<Account>(account.id()).await.unwrap();
    assert_eq!(loaded.balance, account.balance);
    assert_eq!(loaded.deposits, account.deposits);
    assert_eq!(loaded.opened_at, account.opened_at);
}

#[tokio::test]
async fn unknown_keys_are_ignored() {
    let dog_records = records(&fixture("seed_dog.json"));
    let typed = records(&fixture("typed_fields.json"));
    let extended: Vec<StoredEvent> =
        dog_records.iter().chain(&typed).map(with_unknown_keys).collect();
    let app = app_with(&extended).await;

    let dog = app.repository().get::<Dog>(Dog::create_id("Fido")).await.unwrap();
    assert_eq!(dog.tricks, ["roll over", "play dead"]);
    assert_eq!(dog.created_on(), timestamp_of(&dog_records[0]));

    let account = app.repository().get::<Account>(typed[0].originator_id).await.unwrap();
    assert_eq!(account.balance.to_string(), "10.55");
    assert_eq!(
        account.deposits[0].note,
        "caf\u{e9} \u{2615} \"quoted\" \\ back\nslash\ttab\u{1}ctrl"
    );
    let clock = app.repository().get::<Clock>(Clock::create_id()).await.unwrap();
    assert_eq!(clock.ticks.len(), 1);

    // Re-encoding writes only the known keys, in Python's order.
    for (extended, python) in extended.iter().zip(dog_records.iter().chain(&typed)) {
        let again = match python.topic.split(':').nth(1).unwrap().split('.').next() {
            Some("Dog") => {
                let event = app.mapper().to_domain::<DogEvent>(extended, "Dog").unwrap();
                app.mapper().to_stored(&event).unwrap()
            }
            Some("Account") => {
                let event = app.mapper().to_domain::<AccountEvent>(extended, "Account").unwrap();
                app.mapper().to_stored(&event).unwrap()
            }
            _ => {
                let event = app.mapper().to_domain::<ClockEvent>(extended, "Clock").unwrap();
                app.mapper().to_stored(&event).unwrap()
            }
        };
        assert_eq!(utf8(&again.state), utf8(&python.state));
    }
}

#[tokio::test]
async fn python_records_under_the_wrong_aggregate_are_decode_errors() {
    let typed = records(&fixture("typed_fields.json"));
    let app = app_with(&typed).await;
    match app.repository().get::<Dog>(typed[0].originator_id).await {
        Err(Error::Decode(error)) => {
            assert_eq!(error.originator_id, typed[0].originator_id);
            assert_eq!(error.originator_version, 1);
            assert_eq!(error.topic, "seed:Account.Opened");
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
}

/// What Python's `json.dumps(text, ensure_ascii=False)` writes for a string.
fn python_json_string(text: &str) -> String {
    let mut out = String::from('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[tokio::test]
async fn strings_are_escaped_as_python_escapes_them() {
    let app = app_with(&[]).await;
    let mut name: String = (0u32..0x20).filter_map(char::from_u32).collect();
    name.push_str("\u{7f} / \" \\ \u{e9}\u{2028}\u{2029}\u{ffff}\u{1f415} end");
    let dog = Dog::register(name.clone());
    let event = &dog.pending_events()[0];
    let stored = app.mapper().to_stored(event).unwrap();
    let expected = format!(
        r#"{{"timestamp":{{"_type_":"datetime_iso","_data_":"{}"}},"originator_topic":"seed:Dog","name":{}}}"#,
        format_iso(&event.timestamp),
        python_json_string(&name)
    );
    assert_eq!(utf8(&stored.state), expected);
    let decoded = app.mapper().to_domain::<DogEvent>(&stored, "Dog").unwrap();
    assert!(matches!(decoded.payload, DogEvent::Registered { name: n } if n == name));
}

#[tokio::test]
async fn python_decimal_forms_round_trip() {
    let records = records(&fixture("typed_fields.json"));
    let app = app_with(&[]).await;
    let python = utf8(&records[1].state);
    assert!(python.contains(r#""_data_":"0.05""#));
    for (text, value) in [
        ("1E-7", "0.0000001"),
        ("-1.25E-9", "-0.00000000125"),
        ("0E-7", "0"),
        ("-0.00", "0"),
        ("123456789012345678.0100", "123456789012345678.01"),
    ] {
        let state = python.replace(r#""_data_":"0.05""#, &format!(r#""_data_":"{text}""#));
        let record = StoredEvent { state: state.into_bytes(), ..records[1].clone() };
        let event = round_trip::<AccountEvent>(&app, &record, "Account");
        match event {
            AccountEvent::Deposited { amount, .. } => {
                assert_eq!(amount, value.parse::<Decimal>().unwrap(), "{text}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    // Recorded in Rust, small amounts are written as Python writes them.
    let mut account = Account::open(
        Uuid::from_u128(1),
        Decimal::ZERO,
        parse_iso("2024-01-02T03:04:05+00:00").unwrap(),
        Vec::new(),
    );
    account.deposit(Decimal::new(1, 7), String::new(), Uuid::nil());
    let stored = app.mapper().to_stored(&account.pending_events()[1]).unwrap();
    assert!(
        utf8(&stored.state).contains(r#""amount":{"_type_":"decimal_str","_data_":"1E-7"}"#),
        "{}",
        utf8(&stored.state)
    );
    let stored = app.mapper().to_stored(&account.pending_events()[0]).unwrap();
    assert!(
        utf8(&stored.state).contains(
            r#""owner_id":{"_type_":"uuid_hex","_data_":"00000000000000000000000000000001"},"balance":{"_type_":"decimal_str","_data_":"0"},"opened_at":{"_type_":"datetime_iso","_data_":"2024-01-02T03:04:05+00:00"},"tags":[]}"#
        ),
        "{}",
        utf8(&stored.state)
    );
}

mod floats {
    use eventsourcing_dynamodb::prelude::*;

    #[aggregate]
    #[derive(Debug)]
    pub struct Thermometer {
        pub serial: Uuid,
        pub reading: f64,
        pub history: Vec<f64>,
    }

    #[aggregate]
    impl Thermometer {
        #[event("Installed")]
        pub fn install(serial: Uuid) -> Self {
            Thermometer { serial, reading: 0.0, history: Vec::new() }
        }

        #[event("Read")]
        pub fn read(&mut self, celsius: f64, earlier: Vec<f64>) {
            self.reading = celsius;
            self.history.extend(earlier);
        }
    }
}

/// JSON has no NaN or infinity, and serde_json would write `null` in their place, after
/// which the aggregate could never load again. Such a save fails with an error naming the
/// event and stores nothing.
#[tokio::test]
async fn non_finite_floats_are_refused_and_nothing_is_stored() {
    use floats::{Thermometer, ThermometerCommands};
    let app = Application::builder("Weather").isolated().build().await.unwrap();
    let mut thermometer = Thermometer::install(Uuid::new_v4());
    thermometer.read(21.5, vec![20.0]);
    app.save(&mut thermometer).await.unwrap();
    let id = thermometer.id();

    for (celsius, earlier, shown) in [
        (f64::NAN, vec![], "NaN"),
        (f64::INFINITY, vec![], "inf"),
        (1.0, vec![2.0, f64::NEG_INFINITY], "-inf"),
    ] {
        let mut stale = app.repository().get::<Thermometer>(id).await.unwrap();
        stale.read(celsius, earlier);
        let error = app.save(&mut stale).await.unwrap_err();
        let Error::Encode(encode) = &error else { panic!("not an encoding error: {error:?}") };
        assert_eq!((encode.originator_id, encode.originator_version), (id, 3), "{error}");
        assert!(encode.topic.ends_with("Thermometer.Read"), "{error}");
        assert!(encode.message.contains(&format!("f64 {shown} cannot be stored")), "{error}");
    }

    let loaded = app.repository().get::<Thermometer>(id).await.unwrap();
    assert_eq!((loaded.version(), loaded.reading, loaded.history.clone()), (2, 21.5, vec![20.0]));
}

/// The state of a snapshot takes the same JSON forms as event arguments (Python's
/// `uuid_hex`), without attributes on the state's fields.
#[tokio::test]
async fn snapshot_state_uses_pythons_forms() {
    use floats::{Thermometer, ThermometerCommands};
    let app = Application::builder("Weather")
        .isolated()
        .env("IS_SNAPSHOTTING_ENABLED", "true")
        .build()
        .await
        .unwrap();
    let serial = Uuid::new_v4();
    let mut thermometer = Thermometer::install(serial);
    thermometer.read(-3.25, vec![1e300]);
    app.save(&mut thermometer).await.unwrap();
    app.take_snapshot::<Thermometer>(thermometer.id(), None).await.unwrap();
    let snapshots = app.recorders().snapshots.select_events(thermometer.id(), Default::default());
    let snapshot = snapshots.await.unwrap().pop().expect("a snapshot");
    let json: Value = serde_json::from_slice(&snapshot.state).unwrap();
    assert_eq!(
        json["state"]["serial"],
        serde_json::json!({"_type_": "uuid_hex", "_data_": serial.simple().to_string()})
    );
    assert_eq!(json["state"]["history"], serde_json::json!([1e300]));
    let loaded = app.repository().get::<Thermometer>(thermometer.id()).await.unwrap();
    assert_eq!((loaded.serial, loaded.reading), (serial, -3.25));
}
