//! Property tests (proptest): replay is faithful, and nothing panics on outside data.
//!
//! - `replay::*`: random interleavings of commands on three aggregates, saved in random
//!   batches through in-memory applications (plain, and zlib + AES), reload exactly, replay
//!   exactly with `Root::from_events`, and every event survives the mapper unchanged.
//! - `untrusted::*`: stored states, sealed envelopes, Python JSON values and class versions
//!   from outside (random bytes, random JSON, mutated valid data) give `Ok` or a typed
//!   error, never a panic.
//!
//! Default case counts (1,000 per untrusted-input property, 48 per application property)
//! keep each property within a few seconds in a debug build on two cores.
//! `PROPTEST_CASES=N` sets the count of every property, except that the application
//! properties (`replay::*`, each case saving and loading dozens of events) run at most
//! `PROPTEST_REPLAY_CASES` (default 20,000). The long campaign:
//!
//! ```sh
//! PROPTEST_CASES=1000000 cargo test --release --test properties
//! ```
//!
//! (about 15 minutes on one core; `scripts/fuzz.sh proptest` runs it property by property,
//! with a time bound, and logs each to `fuzz/logs/`).

use eventsourcing_dynamodb::domain::upcast::{
    append_class_version, decode_state, trailing_class_version, upcast_object, StateObject,
    CLASS_VERSION_KEY,
};
use eventsourcing_dynamodb::persistence::{
    AesCipher, Compressor, DecodeProblem, EventQuery, Mapper, AES_CIPHER_TOPIC,
    ZLIB_COMPRESSOR_TOPIC,
};
use eventsourcing_dynamodb::prelude::*;
use eventsourcing_dynamodb::transcoding::{self, decimal_str, format_iso, parse_iso, AsPython};
use eventsourcing_dynamodb::{Decimal, Event, OffsetDateTime, Pending, StoredEvent};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Number, Value};
use std::sync::OnceLock;
use time::{Date, PrimitiveDateTime, Time, UtcOffset};

use kennel::{Dog, DogCommands, DogEvent, RenameError};

/// The aggregate under test: event arguments of every kind the Python JSON form covers,
/// a fallible body, and a versioned event with upcasters.
mod kennel {
    use eventsourcing_dynamodb::domain::StateObject;
    use eventsourcing_dynamodb::prelude::*;
    use eventsourcing_dynamodb::{Decimal, OffsetDateTime};
    use serde_json::Value;

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum RenameError {
        Empty,
        Unchanged,
        TooLong(usize),
    }

    /// The longest name `rename` accepts, in characters.
    pub const MAX_NAME: usize = 12;

    /// Version 2 of `Vaccinated` added `doses`.
    fn doses_v1_v2(state: &mut StateObject) {
        state.insert("doses".into(), Value::Array(Vec::new()));
    }

    /// Version 3 of `Vaccinated` added `batch`.
    fn batch_v2_v3(state: &mut StateObject) {
        state.insert("batch".into(), Value::Null);
    }

    #[aggregate(topic = "props:Dog", aliases = ["props_old:Dog"])]
    #[derive(Debug)]
    pub struct Dog {
        pub name: String,
        pub chip: Uuid,
        pub owner: Option<Uuid>,
        pub born: OffsetDateTime,
        pub tricks: Vec<String>,
        pub fees: Vec<Decimal>,
        pub weight: Decimal,
        pub examined: Option<OffsetDateTime>,
        pub score: i64,
        pub ratio: f64,
        pub vaccines: Vec<(String, Vec<Decimal>, Option<Uuid>)>,
        pub renames: u32,
    }

    #[aggregate]
    impl Dog {
        #[event("Registered")]
        pub fn register(
            name: String,
            chip: Uuid,
            owner: Option<Uuid>,
            born: OffsetDateTime,
        ) -> Self {
            Dog {
                name,
                chip,
                owner,
                born,
                tricks: Vec::new(),
                fees: Vec::new(),
                weight: Decimal::ZERO,
                examined: None,
                score: 0,
                ratio: 0.0,
                vaccines: Vec::new(),
                renames: 0,
            }
        }

        #[event("TrickAdded")]
        pub fn add_trick(&mut self, trick: String, fee: Decimal) {
            self.tricks.push(trick);
            self.fees.push(fee);
        }

        /// Rejects empty, unchanged and over-long names.
        #[event("Renamed", aliases = ["props_old:Dog.NameChanged"])]
        pub fn rename(&mut self, name: String) -> Result<(), RenameError> {
            let length = name.chars().count();
            if name.is_empty() {
                return Err(RenameError::Empty);
            }
            if name == self.name {
                return Err(RenameError::Unchanged);
            }
            if length > MAX_NAME {
                return Err(RenameError::TooLong(length));
            }
            self.name = name;
            self.renames += 1;
            Ok(())
        }

        #[event("Examined")]
        pub fn examine(
            &mut self,
            at: OffsetDateTime,
            weight: Decimal,
            fees: Vec<Decimal>,
            score: i64,
            ratio: f64,
        ) {
            self.examined = Some(at);
            self.weight = weight;
            self.fees.extend(fees);
            self.score = self.score.wrapping_add(score);
            self.ratio = ratio;
        }

        #[event("Transferred")]
        pub fn transfer(&mut self, owner: Option<Uuid>) {
            self.owner = owner;
        }

        #[event("Vaccinated", version = 3, upcast = [doses_v1_v2, batch_v2_v3])]
        pub fn vaccinate(&mut self, vaccine: String, doses: Vec<Decimal>, batch: Option<Uuid>) {
            self.vaccines.push((vaccine, doses, batch));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Configuration and shared fixtures.

/// `PROPTEST_CASES`, or `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Cases of an application property: `PROPTEST_CASES` capped at `PROPTEST_REPLAY_CASES`
/// (default 20,000), or `default`.
fn replay_cases(default: u32) -> u32 {
    let cap =
        std::env::var("PROPTEST_REPLAY_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    cases(default).min(cap)
}

/// `cases` cases; failures print their minimal input (no regression files are written).
fn config(cases: u32) -> Config {
    Config { cases, max_shrink_iters: 2_000, failure_persistence: None, ..Config::default() }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// A fixed AES-256 key, base64, for the sealed applications.
const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

async fn sealed_app(name: &str) -> Application {
    Application::builder(name)
        .isolated()
        .env("COMPRESSOR_TOPIC", ZLIB_COMPRESSOR_TOPIC)
        .env("CIPHER_TOPIC", AES_CIPHER_TOPIC)
        .env("CIPHER_KEY", KEY)
        .build()
        .await
        .unwrap()
}

/// The mapper of an application configured with zlib and AES.
fn sealed() -> &'static Mapper {
    static MAPPER: OnceLock<Mapper> = OnceLock::new();
    MAPPER.get_or_init(|| {
        // On a thread of its own: callers may be inside a runtime already.
        let build = || runtime().block_on(sealed_app("Sealed")).mapper().clone();
        let mapper = std::thread::spawn(build).join().unwrap();
        assert!(mapper.compressor().is_some() && mapper.cipher().is_some());
        mapper
    })
}

fn zlib_only() -> Mapper {
    Mapper::new().with_compressor(Compressor::Zlib)
}

/// Every topic `DogEvent` reads (written topics and aliases), sorted.
fn readable_topics() -> &'static [String] {
    static TOPICS: OnceLock<Vec<String>> = OnceLock::new();
    TOPICS.get_or_init(|| {
        let mut topics: Vec<String> = DogEvent::topics().readable().map(String::from).collect();
        topics.sort();
        topics
    })
}

/// The canonical text of an event: its serde JSON (Python forms for custom types).
fn canon(event: &DomainEvent<DogEvent>) -> String {
    serde_json::to_string(event).unwrap()
}

// ---------------------------------------------------------------------------------------
// Strategies.

/// Arbitrary Unicode including control characters, quotes and backslashes.
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => prop::collection::vec(any::<char>(), 0..12).prop_map(|c| c.into_iter().collect()),
        1 => "[\\x00-\\x1f\"\\\\/\u{7f}\u{2028}\u{feff}\u{10ffff}a-z]{0,6}",
        1 => prop::sample::select(vec!["", "Fido", "Rex", "Fido ", "😀", "\u{0}", "null"])
            .prop_map(String::from),
    ]
    .boxed()
}

fn uuid() -> BoxedStrategy<Uuid> {
    prop_oneof![any::<u128>().prop_map(Uuid::from_u128), Just(Uuid::nil()), Just(Uuid::max())]
        .boxed()
}

/// Any decimal, biased to small mantissas with big scales (Python's scientific notation),
/// negative zero and the extremes.
fn decimal() -> BoxedStrategy<Decimal> {
    let full = (any::<[u32; 3]>(), any::<bool>(), 0u32..=28)
        .prop_map(|([lo, mid, hi], neg, scale)| Decimal::from_parts(lo, mid, hi, neg, scale));
    let small = (0u32..1000, any::<bool>(), 0u32..=28)
        .prop_map(|(lo, neg, scale)| Decimal::from_parts(lo, 0, 0, neg, scale));
    prop_oneof![full, small, Just(Decimal::MAX), Just(Decimal::MIN)].boxed()
}

/// Offsets Python's `timezone` takes: strictly within a day, to the second (`isoformat`
/// writes `+HH:MM`, and `+HH:MM:SS` when there are seconds).
fn offset() -> BoxedStrategy<UtcOffset> {
    prop_oneof![
        Just(UtcOffset::UTC),
        (-(23 * 60 + 59)..=(23 * 60 + 59i32)).prop_map(|minutes| {
            UtcOffset::from_hms((minutes / 60) as i8, (minutes % 60) as i8, 0).unwrap()
        }),
        (-86_399..=86_399i32).prop_map(|seconds| UtcOffset::from_whole_seconds(seconds).unwrap()),
    ]
    .boxed()
}

/// A datetime of microsecond precision in Python's range (years 1 to 9999), any offset.
fn datetime() -> BoxedStrategy<OffsetDateTime> {
    let first = Date::from_calendar_date(1, time::Month::January, 1).unwrap().to_julian_day();
    let last = Date::from_calendar_date(9999, time::Month::December, 31).unwrap().to_julian_day();
    (first..=last, 0u64..86_400_000_000, any::<bool>(), offset())
        .prop_map(|(day, micros, whole, offset)| {
            let micros = if whole { micros / 1_000_000 * 1_000_000 } else { micros };
            let time = Time::from_hms_micro(
                (micros / 3_600_000_000) as u8,
                (micros / 60_000_000 % 60) as u8,
                (micros / 1_000_000 % 60) as u8,
                (micros % 1_000_000) as u32,
            )
            .unwrap();
            PrimitiveDateTime::new(Date::from_julian_day(day).unwrap(), time).assume_offset(offset)
        })
        .boxed()
}

fn decimals() -> BoxedStrategy<Vec<Decimal>> {
    prop::collection::vec(decimal(), 0..4).boxed()
}

/// Finite floats (JSON has no NaN or infinity; see `f64_arguments_round_trip_exactly`).
fn finite() -> BoxedStrategy<f64> {
    use prop::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    (POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO).boxed()
}

/// An `f64` event argument replays as recorded. This needs serde_json's `float_roundtrip`
/// feature (on in the workspace's `Cargo.toml`): without it, serde_json reads about a third
/// of all floats one ULP off, e.g. 2.990004759709984e+257 (as Rust and Python write it) as
/// 2.9900047597099844e257.
#[test]
fn f64_arguments_round_trip_exactly() {
    let ratio = 2.990004759709984e257;
    let event = DomainEvent {
        originator_id: Uuid::nil(),
        originator_version: 2,
        timestamp: OffsetDateTime::UNIX_EPOCH,
        payload: DogEvent::Examined {
            at: OffsetDateTime::UNIX_EPOCH,
            weight: Decimal::ZERO,
            fees: Vec::new(),
            score: 0,
            ratio,
        },
    };
    let mapper = Mapper::new();
    let stored = mapper.to_stored(&event).unwrap();
    let text = String::from_utf8(stored.state.clone()).unwrap();
    assert!(text.contains(r#""ratio":2.990004759709984e+257"#), "{text}");
    match mapper.to_domain::<DogEvent>(&stored, "Dog").unwrap().payload {
        DogEvent::Examined { ratio: back, .. } => assert_eq!(back.to_bits(), ratio.to_bits()),
        other => panic!("{other:?}"),
    }
}

/// A command on one dog.
#[derive(Debug, Clone)]
enum Command {
    AddTrick(String, Decimal),
    Rename(String),
    Examine(OffsetDateTime, Decimal, Vec<Decimal>, i64, f64),
    Transfer(Option<Uuid>),
    Vaccinate(String, Vec<Decimal>, Option<Uuid>),
}

/// Names that often collide with the current name, are empty, or too long.
fn new_name() -> BoxedStrategy<String> {
    prop_oneof![
        2 => prop::sample::select(vec!["", "Fido", "Rex", "Lassie", "Fido ", "🐕"]).prop_map(String::from),
        1 => text(),
        1 => "[a-z]{13,20}",
    ]
    .boxed()
}

fn command() -> BoxedStrategy<Command> {
    prop_oneof![
        1 => (text(), decimal()).prop_map(|(t, f)| Command::AddTrick(t, f)),
        2 => new_name().prop_map(Command::Rename),
        1 => (datetime(), decimal(), decimals(), any::<i64>(), finite())
            .prop_map(|(a, w, f, s, r)| Command::Examine(a, w, f, s, r)),
        1 => prop::option::of(uuid()).prop_map(Command::Transfer),
        1 => (text(), decimals(), prop::option::of(uuid()))
            .prop_map(|(v, d, b)| Command::Vaccinate(v, d, b)),
    ]
    .boxed()
}

#[derive(Debug, Clone)]
enum Step {
    /// Runs a command on dog `0..3`.
    Run(usize, Command),
    /// Saves these dogs in one call.
    Save([bool; 3]),
}

fn steps() -> BoxedStrategy<Vec<Step>> {
    let step = prop_oneof![
        4 => (0usize..3, command()).prop_map(|(dog, command)| Step::Run(dog, command)),
        1 => any::<[bool; 3]>().prop_map(Step::Save),
    ];
    prop::collection::vec(step, 0..40).boxed()
}

type Registration = (String, Uuid, Option<Uuid>, OffsetDateTime);

fn registration() -> BoxedStrategy<Registration> {
    (text(), uuid(), prop::option::of(uuid()), datetime()).boxed()
}

/// Any event payload of the aggregate.
fn payload() -> BoxedStrategy<DogEvent> {
    prop_oneof![
        registration().prop_map(|(name, chip, owner, born)| DogEvent::Registered {
            name,
            chip,
            owner,
            born
        }),
        (text(), decimal()).prop_map(|(trick, fee)| DogEvent::TrickAdded { trick, fee }),
        text().prop_map(|name| DogEvent::Renamed { name }),
        (datetime(), decimal(), decimals(), any::<i64>(), finite()).prop_map(
            |(at, weight, fees, score, ratio)| DogEvent::Examined {
                at,
                weight,
                fees,
                score,
                ratio
            }
        ),
        prop::option::of(uuid()).prop_map(|owner| DogEvent::Transferred { owner }),
        (text(), decimals(), prop::option::of(uuid()))
            .prop_map(|(vaccine, doses, batch)| DogEvent::Vaccinated { vaccine, doses, batch }),
    ]
    .boxed()
}

fn domain_event() -> BoxedStrategy<DomainEvent<DogEvent>> {
    (uuid(), 1u64..=u64::MAX, datetime(), payload())
        .prop_map(|(originator_id, originator_version, timestamp, payload)| DomainEvent {
            originator_id,
            originator_version,
            timestamp,
            payload,
        })
        .boxed()
}

/// Names of the fields the aggregate's states have, and of Python's custom values.
const KEYS: &[&str] = &[
    "timestamp",
    "originator_topic",
    "name",
    "chip",
    "owner",
    "born",
    "trick",
    "fee",
    "at",
    "weight",
    "fees",
    "score",
    "ratio",
    "vaccine",
    "doses",
    "batch",
    CLASS_VERSION_KEY,
    "_type_",
    "_data_",
];

const PY_TYPES: &[&str] = &["uuid_hex", "decimal_str", "datetime_iso", "bytes", ""];

fn key() -> BoxedStrategy<String> {
    prop_oneof![4 => prop::sample::select(KEYS).prop_map(String::from), 1 => text()].boxed()
}

/// Strings that look like the data of Python's custom values, valid or nearly.
fn py_data() -> BoxedStrategy<String> {
    prop_oneof![
        text(),
        uuid().prop_map(|u| u.simple().to_string()),
        uuid().prop_map(|u| u.to_string()),
        decimal().prop_map(|d| decimal_str(&d)),
        datetime().prop_map(|t| format_iso(&t)),
        "-?[0-9]{0,40}(\\.[0-9]{0,40})?([eE][-+]?[0-9]{1,12})?",
        "[-+]?[0-9]{1,6}-[0-9]{1,3}-[0-9]{1,3}[T ][0-9]{1,3}:[0-9]{1,3}:[0-9]{1,3}(\\.[0-9]{0,12})?([-+][0-9]{1,3}:[0-9]{1,3}|Z)?",
    ]
    .boxed()
}

/// Any JSON value, with Python's `{"_type_": .., "_data_": ..}` values among the leaves.
fn json_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        text().prop_map(Value::String),
        py_data().prop_map(Value::String),
        (prop::sample::select(PY_TYPES), py_data())
            .prop_map(|(kind, data)| json!({"_type_": kind, "_data_": data})),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
    .boxed()
}

/// Values a stored `class_version` might have.
fn class_version_value() -> BoxedStrategy<Value> {
    prop_oneof![
        (0u64..6).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        Just(json!(2.0)),
        Just(json!("2")),
        Just(Value::Null),
        json_value(),
    ]
    .boxed()
}

/// Raw text after `"class_version":` (not necessarily JSON).
fn class_version_token() -> BoxedStrategy<String> {
    prop_oneof![
        (0u64..6).prop_map(|v| v.to_string()),
        any::<u64>().prop_map(|v| v.to_string()),
        any::<i64>().prop_map(|v| v.to_string()),
        "[0-9]{10,40}",
        prop::sample::select(vec!["3.0", "3e0", "-0", "1e400", "\"3\"", "null", "[3]", "03", ""])
            .prop_map(String::from),
    ]
    .boxed()
}

/// JSON-ish text: tokens of JSON and of the states, in random order.
fn jsonish() -> BoxedStrategy<String> {
    let token = prop_oneof![
        prop::sample::select(vec![
            "{",
            "}",
            "[",
            "]",
            ":",
            ",",
            " ",
            "null",
            "true",
            "-",
            "0",
            "1e999",
            "-0.0",
            "\"\\ud800\"",
            "\"\\u0000\"",
            "\"",
            "\\",
            "\"class_version\"",
            "\"timestamp\"",
            "\"_type_\"",
            "\"_data_\"",
            "\"uuid_hex\"",
            "\"decimal_str\"",
            "\"datetime_iso\"",
        ])
        .prop_map(String::from),
        key().prop_map(|k| serde_json::to_string(&k).unwrap()),
        py_data().prop_map(|d| serde_json::to_string(&d).unwrap()),
        class_version_token(),
    ];
    prop::collection::vec(token, 0..40).prop_map(|tokens| tokens.concat()).boxed()
}

/// A change to bytes: flip a bit, delete, insert, truncate or repeat a piece.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    Truncate(usize),
    Repeat(usize, usize),
}

fn mutations() -> BoxedStrategy<Vec<Mutation>> {
    let mutation = prop_oneof![
        3 => (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip(at, bit)),
        1 => (any::<usize>(), 1usize..8).prop_map(|(at, n)| Mutation::Delete(at, n)),
        1 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..6))
            .prop_map(|(at, b)| Mutation::Insert(at, b)),
        1 => (any::<usize>(), jsonish()).prop_map(|(at, s)| Mutation::Insert(at, s.into_bytes())),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        1 => (any::<usize>(), 1usize..16).prop_map(|(at, n)| Mutation::Repeat(at, n)),
    ];
    prop::collection::vec(mutation, 1..4).boxed()
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for mutation in mutations {
        let len = bytes.len();
        let at = |i: usize| if len == 0 { 0 } else { i % len };
        match mutation {
            Mutation::Flip(i, bit) if len > 0 => bytes[at(*i)] ^= 1 << bit,
            Mutation::Flip(..) => {}
            Mutation::Delete(i, n) => {
                let start = at(*i);
                bytes.drain(start..(start + n).min(len));
            }
            Mutation::Insert(i, new) => {
                let start = if len == 0 { 0 } else { i % (len + 1) };
                bytes.splice(start..start, new.iter().copied());
            }
            Mutation::Truncate(i) => bytes.truncate(if len == 0 { 0 } else { i % len }),
            Mutation::Repeat(i, n) => {
                let start = at(*i);
                let piece = bytes[start..(start + n).min(len)].to_vec();
                bytes.splice(start..start, piece);
            }
        }
    }
    bytes
}

/// A change to a valid state object: a field replaced, removed, added, or a class version.
#[derive(Debug, Clone)]
enum Edit {
    Replace(usize, Value),
    Remove(usize),
    Add(String, Value),
    ClassVersion(Value),
}

/// Values of the kinds the states hold, valid or nearly: Python's custom values, strings,
/// numbers, lists of them, null.
fn plausible_value() -> BoxedStrategy<Value> {
    let custom = (prop::sample::select(&PY_TYPES[..3]), py_data())
        .prop_map(|(kind, data)| json!({"_type_": kind, "_data_": data}));
    prop_oneof![
        3 => custom.clone(),
        1 => prop::collection::vec(custom, 0..3).prop_map(Value::Array),
        1 => text().prop_map(Value::String),
        1 => any::<i64>().prop_map(Value::from),
        1 => finite().prop_map(Value::from),
        1 => Just(Value::Null),
    ]
    .boxed()
}

fn edits() -> BoxedStrategy<Vec<Edit>> {
    let edit = prop_oneof![
        2 => (any::<usize>(), json_value()).prop_map(|(i, v)| Edit::Replace(i, v)),
        4 => (any::<usize>(), plausible_value()).prop_map(|(i, v)| Edit::Replace(i, v)),
        1 => any::<usize>().prop_map(Edit::Remove),
        1 => (key(), json_value()).prop_map(|(k, v)| Edit::Add(k, v)),
        1 => class_version_value().prop_map(Edit::ClassVersion),
    ];
    prop::collection::vec(edit, 1..4).boxed()
}

fn edit(state: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut object: StateObject = serde_json::from_slice(state).unwrap();
    for edit in edits {
        let keys: Vec<String> = object.keys().cloned().collect();
        match edit {
            Edit::Replace(i, value) if !keys.is_empty() => {
                object.insert(keys[i % keys.len()].clone(), value.clone());
            }
            Edit::Remove(i) if !keys.is_empty() => {
                object.remove(&keys[i % keys.len()]);
            }
            Edit::Add(key, value) => {
                object.insert(key.clone(), value.clone());
            }
            Edit::ClassVersion(value) => {
                object.insert(CLASS_VERSION_KEY.into(), value.clone());
            }
            _ => {}
        }
    }
    serde_json::to_vec(&object).unwrap()
}

/// Stored events from outside, as (topic, state): random bytes, JSON-ish text and random
/// JSON under random topics, and valid states mutated bytewise or field by field, mostly
/// under a topic of their own event (its written topic or an alias).
fn outside_event() -> BoxedStrategy<(String, Vec<u8>)> {
    let unrelated = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        jsonish().prop_map(String::into_bytes),
        json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        prop::collection::vec((key(), json_value()), 0..8).prop_map(|entries| {
            serde_json::to_vec(&entries.into_iter().collect::<StateObject>()).unwrap()
        }),
    ];
    let derived = prop_oneof![
        1 => (domain_event(), mutations()).prop_map(|(event, m)| {
            let stored = Mapper::new().to_stored(&event).unwrap();
            (stored.topic, mutate(stored.state, &m))
        }),
        2 => (domain_event(), edits()).prop_map(|(event, e)| {
            let stored = Mapper::new().to_stored(&event).unwrap();
            (stored.topic, edit(&stored.state, &e))
        }),
        1 => (domain_event(), class_version_token()).prop_map(|(event, token)| {
            let stored = Mapper::new().to_stored(&event).unwrap();
            let mut state = stored.state;
            if let Some(end) = state.iter().rposition(|b| *b == b'}') {
                state.truncate(end);
                state.extend_from_slice(format!(",\"class_version\":{token}}}").as_bytes());
            }
            (stored.topic, state)
        }),
    ];
    prop_oneof![
        1 => (topic(), unrelated),
        3 => (derived, any::<prop::sample::Index>(), topic(), 0u8..4).prop_map(
            |((own, state), alias, random, choice)| match choice {
                0 => (random, state),
                _ => (alias_of(&own, alias), state),
            }
        ),
    ]
    .boxed()
}

/// One of the topics that read as the same event as `topic`.
fn alias_of(topic: &str, pick: prop::sample::Index) -> String {
    let index = DogEvent::topics().index_of(topic);
    let same: Vec<&String> =
        readable_topics().iter().filter(|t| DogEvent::topics().index_of(t) == index).collect();
    same[pick.index(same.len())].clone()
}

/// A stored topic: one the aggregate reads (usually), or another.
fn topic() -> BoxedStrategy<String> {
    prop_oneof![
        9 => prop::sample::select(readable_topics().to_vec()),
        1 => prop_oneof![Just("props:Dog".to_owned()), Just("props:Dog.Registered ".to_owned()), text()],
    ]
    .boxed()
}

// ---------------------------------------------------------------------------------------
// Replay: commands, saves and loads.

mod replay {
    use super::*;

    /// What must survive saving and loading: id, version, timestamps (with their offsets)
    /// and the whole state, compared through `Debug` (which shows offsets, decimal scales
    /// and the signs of zeros, unlike `PartialEq` of `OffsetDateTime` and `Decimal`).
    #[derive(Debug, PartialEq)]
    struct Projection {
        id: Uuid,
        version: u64,
        created_on: String,
        modified_on: String,
        state: String,
    }

    fn project(dog: &Root<Dog>) -> Projection {
        Projection {
            id: dog.id(),
            version: dog.version(),
            created_on: format!("{:?}", dog.created_on()),
            modified_on: format!("{:?}", dog.modified_on()),
            state: format!("{:?}", dog.state()),
        }
    }

    fn expected_rename(current: &str, name: &str) -> Result<(), RenameError> {
        let length = name.chars().count();
        match () {
            _ if name.is_empty() => Err(RenameError::Empty),
            _ if name == current => Err(RenameError::Unchanged),
            _ if length > kennel::MAX_NAME => Err(RenameError::TooLong(length)),
            _ => Ok(()),
        }
    }

    /// Runs one command; checks that a rejected one records nothing.
    fn run(dog: &mut Root<Dog>, command: Command) -> Result<(), TestCaseError> {
        let (version, pending, before) = (dog.version(), dog.pending_events().len(), project(dog));
        let accepted = match command {
            Command::AddTrick(trick, fee) => {
                dog.add_trick(trick, fee);
                true
            }
            Command::Rename(name) => {
                let expected = expected_rename(&dog.name, &name);
                let result = dog.rename(name);
                prop_assert_eq!(&result, &expected);
                result.is_ok()
            }
            Command::Examine(at, weight, fees, score, ratio) => {
                dog.examine(at, weight, fees, score, ratio);
                true
            }
            Command::Transfer(owner) => {
                dog.transfer(owner);
                true
            }
            Command::Vaccinate(vaccine, doses, batch) => {
                dog.vaccinate(vaccine, doses, batch);
                true
            }
        };
        if accepted {
            prop_assert_eq!(dog.version(), version + 1);
            prop_assert_eq!(dog.pending_events().len(), pending + 1);
            prop_assert_eq!(dog.pending_events().last().unwrap().originator_version, version + 1);
        } else {
            prop_assert_eq!(project(dog), before, "a rejected command changed the aggregate");
            prop_assert_eq!(dog.pending_events().len(), pending);
        }
        Ok(())
    }

    /// Runs the steps on three dogs through `app`, checking loads after every save and
    /// replay, storage and mapping of every event at the end.
    async fn check(
        app: &Application,
        registrations: Vec<Registration>,
        steps: Vec<Step>,
    ) -> Result<(), TestCaseError> {
        let mut dogs: Vec<Root<Dog>> = registrations
            .into_iter()
            .map(|(name, chip, owner, born)| Dog::register(name, chip, owner, born))
            .collect();
        let mut history: Vec<Vec<DomainEvent<DogEvent>>> = vec![Vec::new(); dogs.len()];
        let mut saved: Vec<Option<Projection>> = (0..dogs.len()).map(|_| None).collect();
        let all = [true; 3];
        for step in steps.into_iter().chain([Step::Save(all)]) {
            match step {
                Step::Run(i, command) => run(&mut dogs[i], command)?,
                Step::Save(which) => {
                    let mut expected_ids = 0;
                    for (i, dog) in dogs.iter().enumerate().filter(|(i, _)| which[*i]) {
                        history[i].extend_from_slice(dog.pending_events());
                        expected_ids += dog.pending_events().len();
                    }
                    let mut batch: Vec<&mut dyn Pending> = dogs
                        .iter_mut()
                        .enumerate()
                        .filter(|(i, _)| which[*i])
                        .map(|(_, dog)| dog as &mut dyn Pending)
                        .collect();
                    let ids = app.save(&mut batch).await.unwrap();
                    prop_assert_eq!(ids.len(), expected_ids);
                    for (i, dog) in dogs.iter().enumerate() {
                        if which[i] {
                            prop_assert!(dog.pending_events().is_empty());
                            saved[i] = Some(project(dog));
                        }
                        // Every saved dog loads as it was when last saved; unsaved changes
                        // of the others are not visible.
                        let loaded = app.repository().get::<Dog>(dog.id()).await;
                        match &saved[i] {
                            Some(projection) => {
                                prop_assert_eq!(&project(&loaded.unwrap()), projection)
                            }
                            None => prop_assert!(loaded.is_err(), "never saved, yet loaded"),
                        }
                    }
                }
            }
        }

        let events = app.recorders().events.clone();
        for (dog, history) in dogs.iter().zip(&history) {
            let expected = project(dog);
            let replayed = Root::<Dog>::from_events(history.clone()).unwrap().unwrap();
            prop_assert_eq!(&project(&replayed), &expected);
            // What the store holds decodes to the very events that were recorded.
            let stored = events.select_events(dog.id(), EventQuery::default()).await.unwrap();
            prop_assert_eq!(stored.len(), history.len());
            for (stored, event) in stored.iter().zip(history) {
                let decoded = app.mapper().to_domain::<DogEvent>(stored, "Dog").unwrap();
                prop_assert_eq!(canon(&decoded), canon(event));
                for mapper in [&Mapper::new(), sealed(), &zlib_only()] {
                    let stored = mapper.to_stored(event).unwrap();
                    let back = mapper.to_domain::<DogEvent>(&stored, "Dog").unwrap();
                    prop_assert_eq!(canon(&back), canon(event));
                }
            }
            // Versions run 1, 2, 3, … in the history.
            for (n, event) in history.iter().enumerate() {
                prop_assert_eq!(event.originator_version, n as u64 + 1);
            }
        }
        Ok(())
    }

    /// Runs `check` on random registrations and steps, in an application from `app`.
    ///
    /// A `TestRunner` rather than `proptest!`, whose macro would let `PROPTEST_CASES`
    /// override the cap of [`replay_cases`].
    fn property<F, Fut>(app: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Application>,
    {
        let mut runner = TestRunner::new(config(replay_cases(48)));
        let inputs = (prop::collection::vec(registration(), 3), steps());
        let result = runner.run(&inputs, |(registrations, steps)| {
            runtime().block_on(async { check(&app().await, registrations, steps).await })
        });
        if let Err(error) = result {
            panic!("{error}");
        }
    }

    /// Plain JSON state, in memory.
    #[test]
    fn interleaved_commands_reload_and_replay_exactly() {
        property(|| async { Application::builder("Kennel").isolated().build().await.unwrap() });
    }

    /// zlib and AES, in memory.
    #[test]
    fn interleaved_commands_reload_and_replay_exactly_sealed() {
        property(|| sealed_app("Kennel"));
    }
}

// ---------------------------------------------------------------------------------------
// Untrusted input: never a panic, always Ok or a typed error.

mod untrusted {
    use super::*;

    fn stored(topic: String, state: Vec<u8>) -> StoredEvent {
        StoredEvent { originator_id: Uuid::from_u128(7), originator_version: 3, topic, state }
    }

    /// Decoded from outside, an event encodes and decodes again to itself.
    fn reencodes(mapper: &Mapper, event: &DomainEvent<DogEvent>) -> Result<(), TestCaseError> {
        let again = mapper.to_stored(event).unwrap();
        let back = mapper.to_domain::<DogEvent>(&again, "Dog").unwrap();
        prop_assert_eq!(canon(&back), canon(event));
        Ok(())
    }

    proptest! {
        #![proptest_config(config(cases(1_000)))]

        /// Every event survives `to_stored` → `to_domain`, plain and sealed, unchanged.
        #[test]
        fn events_round_trip_through_mappers(event in domain_event()) {
            for mapper in [&Mapper::new(), sealed(), &zlib_only()] {
                let stored = mapper.to_stored(&event).unwrap();
                prop_assert_eq!(&stored.topic, event.payload.topic());
                let back = mapper.to_domain::<DogEvent>(&stored, "Dog").unwrap();
                prop_assert_eq!(canon(&back), canon(&event));
                prop_assert_eq!(back.timestamp.offset(), event.timestamp.offset());
            }
        }

        /// Stored states from outside decode to an event or to a typed error: the state's
        /// JSON, its class version or its topic, never a panic.
        #[test]
        fn outside_states_decode_or_fail_typed((topic, state) in outside_event()) {
            let known = readable_topics().contains(&topic);
            let stored = stored(topic, state);
            match Mapper::new().to_domain::<DogEvent>(&stored, "Dog") {
                Ok(event) => {
                    prop_assert!(known);
                    reencodes(&Mapper::new(), &event)?;
                }
                Err(error) => match error.problem {
                    DecodeProblem::Json(_) | DecodeProblem::Version(_) => prop_assert!(known),
                    DecodeProblem::UnknownTopic { .. } => prop_assert!(!known),
                    other => prop_assert!(false, "unexpected problem {other:?}"),
                },
            }
            // The same bytes as sealed or compressed state: not AES-GCM, hardly zlib.
            match sealed().to_domain::<DogEvent>(&stored, "Dog") {
                Err(error) if known => {
                    prop_assert!(matches!(error.problem, DecodeProblem::Decrypt(_)), "{error}")
                }
                Err(error) => {
                    prop_assert!(matches!(error.problem, DecodeProblem::UnknownTopic { .. }), "{error}")
                }
                Ok(_) => prop_assert!(false, "random bytes decrypted"),
            }
            if let Err(error) = zlib_only().to_domain::<DogEvent>(&stored, "Dog") {
                prop_assert!(!matches!(error.problem, DecodeProblem::Decrypt(_)), "{error}");
            }
        }

        /// Random bytes are not a sealed state.
        #[test]
        fn random_envelopes_fail_to_decrypt(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            prop_assert!(matches!(sealed().open(&bytes), Err(DecodeProblem::Decrypt(_))));
            match zlib_only().open(&bytes) {
                Ok(_) | Err(DecodeProblem::Decompress(_)) => {}
                Err(other) => prop_assert!(false, "unexpected problem {other:?}"),
            }
        }

        /// A sealed state cut short, or with a bit flipped anywhere, fails to decrypt.
        #[test]
        fn damaged_envelopes_fail_to_decrypt(
            event in domain_event(),
            cut in any::<prop::sample::Index>(),
            flip in any::<prop::sample::Index>(),
            bit in 0u8..8,
            extra in prop::collection::vec(any::<u8>(), 1..8),
        ) {
            let sealed_state = sealed().to_stored(&event).unwrap().state;
            let truncated = &sealed_state[..cut.index(sealed_state.len())];
            prop_assert!(matches!(sealed().open(truncated), Err(DecodeProblem::Decrypt(_))));
            let mut flipped = sealed_state.clone();
            let at = flip.index(flipped.len());
            flipped[at] ^= 1 << bit;
            prop_assert!(matches!(sealed().open(&flipped), Err(DecodeProblem::Decrypt(_))));
            let mut longer = sealed_state.clone();
            longer.extend_from_slice(&extra);
            prop_assert!(matches!(sealed().open(&longer), Err(DecodeProblem::Decrypt(_))));
            prop_assert!(sealed().open(&sealed_state).is_ok());
        }

        /// Correctly encrypted bytes that are not (or no longer) a zlib stream fail to
        /// decompress; damaged zlib streams never panic.
        #[test]
        fn encrypted_garbage_fails_to_decompress(
            bytes in prop::collection::vec(any::<u8>(), 0..300),
            event in domain_event(),
            damage in mutations(),
        ) {
            let cipher = sealed().cipher().unwrap();
            match sealed().open(&cipher.encrypt(&bytes).unwrap()) {
                Ok(_) | Err(DecodeProblem::Decompress(_)) => {}
                Err(other) => prop_assert!(false, "unexpected problem {other:?}"),
            }
            let compressed = zlib_only().to_stored(&event).unwrap().state;
            let damaged = mutate(compressed, &damage);
            for opened in [sealed().open(&cipher.encrypt(&damaged).unwrap()), zlib_only().open(&damaged)] {
                match opened {
                    Ok(_) | Err(DecodeProblem::Decompress(_)) => {}
                    Err(other) => prop_assert!(false, "unexpected problem {other:?}"),
                }
            }
            let stored = stored(event.payload.topic().to_owned(), cipher.encrypt(&damaged).unwrap());
            if let Err(error) = sealed().to_domain::<DogEvent>(&stored, "Dog") {
                prop_assert!(
                    matches!(error.problem, DecodeProblem::Decompress(_) | DecodeProblem::Json(_) | DecodeProblem::Version(_)),
                    "{error}"
                );
            }
        }

        /// Any AES key size round trips; another key fails to decrypt.
        #[test]
        fn keys_of_every_size_round_trip(
            size in prop::sample::select(vec![16usize, 24, 32]),
            seed in any::<[u8; 32]>(),
            other in any::<[u8; 32]>(),
            event in domain_event(),
        ) {
            let mapper = Mapper::new()
                .with_compressor(Compressor::Zlib)
                .with_cipher(AesCipher::new(&seed[..size]).unwrap());
            let stored = mapper.to_stored(&event).unwrap();
            prop_assert_eq!(canon(&mapper.to_domain::<DogEvent>(&stored, "Dog").unwrap()), canon(&event));
            if other[..size] != seed[..size] {
                let wrong = Mapper::new()
                    .with_compressor(Compressor::Zlib)
                    .with_cipher(AesCipher::new(&other[..size]).unwrap());
                let error = wrong.to_domain::<DogEvent>(&stored, "Dog").unwrap_err();
                prop_assert!(matches!(error.problem, DecodeProblem::Decrypt(_)));
            }
        }

        /// Uuids, decimals and datetimes round trip through their Python JSON forms
        /// exactly: decimal scale and sign of zero, datetime offset and microseconds.
        #[test]
        fn python_forms_round_trip(
            id in uuid(),
            amount in decimal(),
            at in datetime(),
            maybe in prop::option::of(uuid()),
            many in decimals(),
        ) {
            let text = serde_json::to_string(&AsPython(&id)).unwrap();
            prop_assert_eq!(&text, &format!(r#"{{"_type_":"uuid_hex","_data_":"{}"}}"#, id.simple()));
            prop_assert_eq!(from_py::<Uuid>(&text).unwrap(), id);

            let text = serde_json::to_string(&AsPython(&amount)).unwrap();
            let back = from_py::<Decimal>(&text).unwrap();
            prop_assert_eq!(back.serialize(), amount.serialize(), "{} read as {}", text, back);
            prop_assert_eq!(decimal_str(&back), decimal_str(&amount));

            let text = serde_json::to_string(&AsPython(&at)).unwrap();
            let back = from_py::<OffsetDateTime>(&text).unwrap();
            prop_assert_eq!((back, back.offset()), (at, at.offset()), "{}", text);
            prop_assert_eq!(parse_iso(&format_iso(&at)).unwrap(), at);

            let text = serde_json::to_string(&AsPython(&maybe)).unwrap();
            prop_assert_eq!(from_py::<Option<Uuid>>(&text).unwrap(), maybe);
            let text = serde_json::to_string(&AsPython(&many)).unwrap();
            let back = from_py::<Vec<Decimal>>(&text).unwrap();
            let bits = |v: &[Decimal]| v.iter().map(Decimal::serialize).collect::<Vec<_>>();
            prop_assert_eq!(bits(&back), bits(&many));
        }

        /// Any JSON value, and any `_data_` string, reads as a Python value or fails; what
        /// reads writes back and reads again to the same value.
        #[test]
        fn any_json_reads_as_python_values_or_fails(value in json_value(), data in py_data()) {
            let text = serde_json::to_string(&value).unwrap();
            let _ = from_py::<Uuid>(&text);
            let _ = from_py::<Option<Uuid>>(&text);
            let _ = from_py::<Vec<Decimal>>(&text);
            let _ = from_py::<Option<Vec<OffsetDateTime>>>(&text);
            let _ = from_py::<Vec<Option<Uuid>>>(&text);
            if let Ok(amount) = from_py::<Decimal>(&text) {
                rereads_decimal(amount)?;
            }
            if let Ok(at) = from_py::<OffsetDateTime>(&text) {
                rereads_datetime(at)?;
            }
            for kind in PY_TYPES {
                let text = json!({"_type_": kind, "_data_": &data}).to_string();
                if let Ok(amount) = from_py::<Decimal>(&text) {
                    rereads_decimal(amount)?;
                }
                if let Ok(at) = from_py::<OffsetDateTime>(&text) {
                    rereads_datetime(at)?;
                }
                let _ = from_py::<Uuid>(&text);
            }
            let _ = parse_iso(&data);
        }

        /// Random text as JSON never panics the Python readers.
        #[test]
        fn jsonish_text_reads_or_fails(text in jsonish()) {
            let _ = from_py::<Uuid>(&text);
            let _ = from_py::<Decimal>(&text);
            let _ = from_py::<OffsetDateTime>(&text);
            let _ = from_py::<Option<Vec<Decimal>>>(&text);
        }

        /// `upcast_object` on random objects with random `class_version`s: a whole number
        /// from 1 up to the current version upcasts step by step; anything else is an
        /// error; the key is gone either way.
        #[test]
        fn upcasting_random_objects(
            entries in prop::collection::vec((key(), json_value()), 0..6),
            version in prop::option::of(class_version_value()),
            current in 1u32..=40,
        ) {
            let mut object: StateObject = entries.into_iter().collect();
            object.remove(CLASS_VERSION_KEY);
            if let Some(version) = &version {
                object.insert(CLASS_VERSION_KEY.into(), version.clone());
            }
            let before = object.clone();
            let steps = std::cell::RefCell::new(Vec::new());
            let result = upcast_object(&mut object, current, "event `Dog::X`", |from, state| {
                steps.borrow_mut().push(from);
                state.insert(format!("step{from}"), Value::Bool(true));
            });
            prop_assert!(!object.contains_key(CLASS_VERSION_KEY));
            let stored = match &version {
                None => Some(1),
                Some(v) => v.as_u64().and_then(|v| u32::try_from(v).ok()).filter(|v| *v >= 1),
            };
            match (stored, result) {
                (Some(stored), Ok(())) => {
                    prop_assert!(stored <= current);
                    prop_assert_eq!(steps.into_inner(), (stored..current).collect::<Vec<_>>());
                    for (key, value) in &before {
                        if key != CLASS_VERSION_KEY && !key.starts_with("step") {
                            prop_assert_eq!(object.get(key), Some(value));
                        }
                    }
                }
                (Some(stored), Err(error)) => {
                    prop_assert!(stored > current, "{}", error);
                    prop_assert!(error.contains("was stored with class_version"), "{}", error);
                }
                (None, Err(error)) => {
                    prop_assert!(error.contains("not a class version"), "{}", error);
                }
                (None, Ok(())) => prop_assert!(false, "{:?} accepted as a class version", version),
            }
        }

        /// `decode_state` on random JSON-ish bytes, with random trailing `class_version`
        /// text: a value or a typed problem (JSON or version), never a panic.
        #[test]
        fn decoding_random_versioned_states(
            body in prop_oneof![
                json_value().prop_map(|v| serde_json::to_string(&v).unwrap()),
                jsonish(),
                prop::collection::vec((key(), json_value()), 0..5).prop_map(|e| {
                    serde_json::to_string(&e.into_iter().collect::<StateObject>()).unwrap()
                }),
            ],
            token in class_version_token(),
            trailing in any::<bool>(),
            current in 1u32..=6,
        ) {
            let mut bytes = body.into_bytes();
            if trailing {
                if let Some(end) = bytes.iter().rposition(|b| *b == b'}') {
                    bytes.truncate(end);
                    bytes.extend_from_slice(format!(",\"class_version\" : {token} }}").as_bytes());
                }
            }
            let _ = trailing_class_version(&bytes);
            let result = decode_state::<Loose>(
                &bytes,
                current,
                "event `Dog::X`",
                |state| state.class_version,
                |from, state| {
                    state.insert("steps".into(), json!(from));
                },
            );
            match result {
                Ok(state) => {
                    // A state of the current version, read directly or upcast.
                    prop_assert!(state.class_version.is_none_or(|v| v == current) || current == 1,
                        "{:?} at version {}", state, current);
                }
                Err(DecodeProblem::Json(_) | DecodeProblem::Version(_)) => {}
                Err(other) => prop_assert!(false, "unexpected problem {other:?}"),
            }
            let mut appended = bytes.clone();
            if append_class_version(&mut appended, current).is_ok() && current > 1 {
                prop_assert_eq!(trailing_class_version(&appended), Some(current));
            }
        }
    }

    /// A state struct reading anything, as generated decoders read their states.
    #[derive(Debug, serde::Deserialize)]
    struct Loose {
        #[serde(default)]
        #[allow(dead_code)]
        name: Option<String>,
        #[serde(default, with = "eventsourcing_dynamodb::transcoding")]
        #[allow(dead_code)]
        at: Option<OffsetDateTime>,
        #[serde(default)]
        class_version: Option<u32>,
    }

    fn from_py<T: transcoding::FromPy>(text: &str) -> Result<T, serde_json::Error> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let value = transcoding::deserialize::<T, _>(&mut deserializer)?;
        deserializer.end()?;
        Ok(value)
    }

    fn rereads_decimal(amount: Decimal) -> Result<(), TestCaseError> {
        let text = serde_json::to_string(&AsPython(&amount)).unwrap();
        let back = from_py::<Decimal>(&text).unwrap();
        prop_assert_eq!(back.serialize(), amount.serialize(), "{} read as {}", text, back);
        Ok(())
    }

    fn rereads_datetime(at: OffsetDateTime) -> Result<(), TestCaseError> {
        let text = serde_json::to_string(&AsPython(&at)).unwrap();
        let back = from_py::<OffsetDateTime>(&text).unwrap();
        let micros = at.replace_nanosecond(at.nanosecond() / 1_000 * 1_000).unwrap();
        prop_assert_eq!((back, back.offset()), (micros, micros.offset()), "{}", text);
        Ok(())
    }
}
