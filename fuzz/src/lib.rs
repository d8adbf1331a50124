//! The fuzz targets' bodies, one function per target in `fuzz_targets/`.
//!
//! Each reads bytes as data from outside and checks that the library answers with a value
//! or a typed error, never a panic, and that what it accepts it writes back faithfully.
//! A failed check panics, which libFuzzer reports as a crash.

#![forbid(unsafe_code)]

use eventsourcing_dynamodb::domain::upcast::{
    append_class_version, decode_state as decode_versioned, trailing_class_version, upcast_object,
    StateObject, CLASS_VERSION_KEY,
};
use eventsourcing_dynamodb::persistence::{AesCipher, Compressor, DecodeProblem, Mapper};
use eventsourcing_dynamodb::prelude::*;
use eventsourcing_dynamodb::transcoding::{self, format_iso, parse_iso, AsPython, FromPy};
use eventsourcing_dynamodb::{Decimal, Event, OffsetDateTime, StoredEvent};
use serde_json::Value;
use std::sync::OnceLock;

pub use kennel::{Dog, DogEvent};

/// The aggregate whose stored states `decode_state` reads: event arguments of every kind
/// the Python JSON form covers, an alias topic, and a versioned event with upcasters.
/// (The same aggregate as in `tests/properties.rs`.)
pub mod kennel {
    use eventsourcing_dynamodb::domain::StateObject;
    use eventsourcing_dynamodb::prelude::*;
    use eventsourcing_dynamodb::{Decimal, OffsetDateTime};
    use serde_json::Value;

    fn doses_v1_v2(state: &mut StateObject) {
        state.insert("doses".into(), Value::Array(Vec::new()));
    }

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
        pub score: i64,
        pub ratio: f64,
        pub vaccines: Vec<(String, Vec<Decimal>, Option<Uuid>)>,
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
                score: 0,
                ratio: 0.0,
                vaccines: Vec::new(),
            }
        }

        #[event("TrickAdded")]
        pub fn add_trick(&mut self, trick: String, fee: Decimal) {
            self.tricks.push(trick);
            self.fees.push(fee);
        }

        #[event("Renamed", aliases = ["props_old:Dog.NameChanged"])]
        pub fn rename(&mut self, name: String) -> Result<(), String> {
            if name.is_empty() {
                return Err(name);
            }
            self.name = name;
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
            self.born = at;
            self.weight = weight;
            self.fees.extend(fees);
            self.score = score;
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

/// The topics `DogEvent` reads, sorted, and one it does not.
pub fn topics() -> &'static [String] {
    static TOPICS: OnceLock<Vec<String>> = OnceLock::new();
    TOPICS.get_or_init(|| {
        let mut topics: Vec<String> = DogEvent::topics().readable().map(String::from).collect();
        topics.sort();
        topics.push("props:Dog.Unknown".to_owned());
        topics
    })
}

fn canon(event: &DomainEvent<DogEvent>) -> String {
    serde_json::to_string(event).expect("an event serializes")
}

fn stored(topic: &str, state: &[u8]) -> StoredEvent {
    StoredEvent {
        originator_id: Uuid::from_u128(7),
        originator_version: 3,
        topic: topic.to_owned(),
        state: state.to_vec(),
    }
}

/// A fixed AES-256 key.
const KEY: [u8; 32] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
    26, 27, 28, 29, 30, 31,
];

/// zlib, then AES-GCM, as an application configured with `COMPRESSOR_TOPIC` and
/// `CIPHER_TOPIC` has it.
pub fn sealed() -> &'static Mapper {
    static MAPPER: OnceLock<Mapper> = OnceLock::new();
    MAPPER.get_or_init(|| {
        Mapper::new()
            .with_compressor(Compressor::Zlib)
            .with_cipher(AesCipher::new(&KEY).expect("a 32 byte key"))
    })
}

fn zlib_only() -> Mapper {
    Mapper::new().with_compressor(Compressor::Zlib)
}

/// Target `decode_state`: the first byte picks a topic (one of `DogEvent`'s, or an unknown
/// one), the rest is the stored state. Decoding gives an event, which encodes and decodes
/// again to itself, or a typed problem: JSON or class version for a known topic, unknown
/// topic otherwise. The same bytes as compressed state fail to decompress or decode.
pub fn decode_state(data: &[u8]) {
    let Some((&selector, state)) = data.split_first() else { return };
    let topics = topics();
    let topic = &topics[selector as usize % topics.len()];
    let known = DogEvent::topics().index_of(topic).is_some();
    let stored = stored(topic, state);
    let plain = Mapper::new();
    match plain.to_domain::<DogEvent>(&stored, "Dog") {
        Ok(event) => {
            assert!(known);
            let again = plain.to_stored(&event).expect("a decoded event encodes");
            let back = plain.to_domain::<DogEvent>(&again, "Dog").expect("and decodes again");
            assert_eq!(canon(&back), canon(&event));
        }
        Err(error) => match error.problem {
            DecodeProblem::Json(_) | DecodeProblem::Version(_) => assert!(known, "{error}"),
            DecodeProblem::UnknownTopic { .. } => assert!(!known, "{error}"),
            other => panic!("unexpected problem {other:?}"),
        },
    }
    if let Err(error) = zlib_only().to_domain::<DogEvent>(&stored, "Dog") {
        assert!(!matches!(error.problem, DecodeProblem::Decrypt(_)), "{error}");
    }
}

fn from_text<T: FromPy>(text: &str) -> Result<T, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = transcoding::deserialize::<T, _>(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

fn rereads_decimal(amount: Decimal) {
    let text = serde_json::to_string(&AsPython(&amount)).expect("a decimal serializes");
    let back: Decimal = from_text(&text).unwrap_or_else(|e| panic!("{text} does not read: {e}"));
    assert_eq!(back.serialize(), amount.serialize(), "{text} read as {back}");
}

fn rereads_datetime(at: OffsetDateTime) {
    let text = serde_json::to_string(&AsPython(&at)).expect("a datetime serializes");
    let back: OffsetDateTime =
        from_text(&text).unwrap_or_else(|e| panic!("{text} does not read: {e}"));
    let micros = at.replace_nanosecond(at.nanosecond() / 1_000 * 1_000).expect("micros");
    assert_eq!((back, back.offset()), (micros, micros.offset()), "{text}");
}

/// Target `transcoding`: the bytes (as UTF-8, lossily) as a JSON document read in Python
/// forms, and as the `_data_` of each Python custom value. Whatever reads writes back and
/// reads again to the same value (to the microsecond, for datetimes).
pub fn transcoding(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = from_text::<Uuid>(&text);
    let _ = from_text::<Option<Uuid>>(&text);
    let _ = from_text::<Vec<Option<Uuid>>>(&text);
    let _ = from_text::<Option<Vec<OffsetDateTime>>>(&text);
    if let Ok(amounts) = from_text::<Vec<Decimal>>(&text) {
        amounts.into_iter().for_each(rereads_decimal);
    }
    if let Ok(amount) = from_text::<Decimal>(&text) {
        rereads_decimal(amount);
    }
    if let Ok(at) = from_text::<OffsetDateTime>(&text) {
        rereads_datetime(at);
    }
    let data = Value::String(text.clone().into_owned());
    let _ = Uuid::from_py(data.clone());
    if let Ok(amount) = Decimal::from_py(data.clone()) {
        rereads_decimal(amount);
    }
    if let Ok(at) = OffsetDateTime::from_py(data) {
        rereads_datetime(at);
    }
    if let Ok(at) = parse_iso(&text) {
        let back = parse_iso(&format_iso(&at)).expect("a written datetime reads");
        assert_eq!(back.offset(), at.offset());
    }
}

/// A state struct as generated decoders declare them: `class_version` optional.
#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)]
struct Loose {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, with = "eventsourcing_dynamodb::transcoding")]
    at: Option<OffsetDateTime>,
    #[serde(default)]
    class_version: Option<u32>,
}

/// Target `upcast`: the first byte picks the current class version (1 to 8), the rest is a
/// stored state. `decode_state` gives a state of the current version or a JSON or version
/// problem; `upcast_object` upcasts a whole number from 1 to the current version step by
/// step and rejects anything else, removing the key either way.
pub fn upcast(data: &[u8]) {
    let Some((&selector, bytes)) = data.split_first() else { return };
    let current = 1 + u32::from(selector % 8);
    let _ = trailing_class_version(bytes);
    let step = |from: u32, state: &mut StateObject| {
        state.insert("steps".into(), Value::from(from));
    };
    match decode_versioned::<Loose>(bytes, current, "event `Dog::X`", |s| s.class_version, step) {
        Ok(state) => assert!(
            state.class_version.is_none() || state.class_version == Some(current),
            "{state:?} at version {current}"
        ),
        Err(DecodeProblem::Json(_) | DecodeProblem::Version(_)) => {}
        Err(other) => panic!("unexpected problem {other:?}"),
    }
    let mut appended = bytes.to_vec();
    if append_class_version(&mut appended, current).is_ok() && current > 1 {
        assert_eq!(trailing_class_version(&appended), Some(current));
    }
    if let Ok(mut object) = serde_json::from_slice::<StateObject>(bytes) {
        let stored = match object.get(CLASS_VERSION_KEY) {
            None => Some(1),
            Some(v) => v.as_u64().and_then(|v| u32::try_from(v).ok()).filter(|v| *v >= 1),
        };
        let steps = std::cell::Cell::new(0u32);
        let result = upcast_object(&mut object, current, "x", |from, _| {
            assert_eq!(from, stored.unwrap_or(0) + steps.get());
            steps.set(steps.get() + 1);
        });
        assert!(!object.contains_key(CLASS_VERSION_KEY));
        match (stored, result) {
            (Some(stored), Ok(())) => assert_eq!(steps.get(), current - stored),
            (Some(stored), Err(_)) => assert!(stored > current),
            (None, Err(_)) => {}
            (None, Ok(())) => panic!("not a class version, accepted"),
        }
    }
}

/// Target `envelope`: the first byte picks what the rest is: (0) a sealed state, which
/// fails to decrypt unless intact; (1) a plaintext encrypted with the right key, which decompresses or
/// fails to; (2) compressed state, which decompresses or fails to; (3) a state sealed and
/// then damaged (cut or a bit flipped where the next bytes say), which fails to decrypt.
pub fn envelope(data: &[u8]) {
    let Some((&mode, body)) = data.split_first() else { return };
    let sealed = sealed();
    match mode % 4 {
        // Only the seeds' intact envelopes open: nothing else has a valid tag.
        0 => match sealed.open(body) {
            Ok(_) | Err(DecodeProblem::Decrypt(_)) => {}
            Err(other) => panic!("unexpected problem {other:?}"),
        },
        1 => {
            let encrypted = sealed.cipher().expect("a cipher").encrypt(body).expect("encrypts");
            match (sealed.open(&encrypted), zlib_only().open(body)) {
                (Ok(opened), Ok(inflated)) => assert_eq!(opened, inflated),
                (Err(DecodeProblem::Decompress(_)), Err(DecodeProblem::Decompress(_))) => {}
                (a, b) => panic!("sealed {a:?}, compressed {b:?}"),
            }
        }
        2 => match zlib_only().open(body) {
            Ok(inflated) => {
                let again = zlib_only().seal(inflated.to_vec()).expect("compresses");
                assert_eq!(zlib_only().open(&again).expect("decompresses"), inflated);
            }
            Err(DecodeProblem::Decompress(_)) => {}
            Err(other) => panic!("unexpected problem {other:?}"),
        },
        _ => {
            let Some((damage, plaintext)) = body.split_first_chunk::<4>() else { return };
            let state = sealed.seal(plaintext.to_vec()).expect("seals");
            assert_eq!(sealed.open(&state).expect("opens"), plaintext);
            let at = u16::from_le_bytes([damage[0], damage[1]]) as usize % state.len();
            let mut flipped = state.clone();
            flipped[at] ^= 1 << (damage[2] % 8);
            assert!(matches!(sealed.open(&flipped), Err(DecodeProblem::Decrypt(_))));
            let cut = &state[..at];
            assert!(matches!(sealed.open(cut), Err(DecodeProblem::Decrypt(_))));
            let mut longer = state.clone();
            longer.push(damage[3]);
            assert!(matches!(sealed.open(&longer), Err(DecodeProblem::Decrypt(_))));
        }
    }
}

/// Seed inputs for each target: valid states of every event (under every topic that reads
/// them), Python values, versioned states and sealed states. `scripts/fuzz.sh` writes them
/// into the corpus before a run.
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    use eventsourcing_dynamodb::Root;
    let at = parse_iso("2024-01-02T03:04:05.123456+05:30").expect("a datetime");
    let amount: Decimal = "10.50".parse().expect("a decimal");
    let tiny = Decimal::new(15, 11);
    let mut dog: Root<Dog> =
        Dog::register("Fido".into(), Uuid::from_u128(1), Some(Uuid::from_u128(2)), at);
    use kennel::DogCommands;
    dog.add_trick("roll over".into(), amount);
    let _ = dog.rename("Rex".into());
    dog.examine(at, tiny, vec![amount, -Decimal::ZERO], -3, 0.25);
    dog.transfer(None);
    dog.vaccinate("rabies".into(), vec![amount], Some(Uuid::from_u128(3)));
    let mut seeds = Vec::new();
    let plain = Mapper::new();
    let sealed = sealed();
    for event in dog.collect_events() {
        let stored = plain.to_stored(&event).expect("encodes");
        let index = DogEvent::topics().index_of(&stored.topic);
        for (i, topic) in topics().iter().enumerate() {
            if DogEvent::topics().index_of(topic) == index {
                let mut input = vec![i as u8];
                input.extend_from_slice(&stored.state);
                seeds.push(("decode_state", input));
            }
        }
        for current in [1u8, 3] {
            let mut input = vec![current - 1];
            input.extend_from_slice(&stored.state);
            seeds.push(("upcast", input));
        }
        let mut input = vec![3, 5, 0, 1, 0];
        input.extend_from_slice(&stored.state);
        seeds.push(("envelope", input));
        let mut input = vec![0];
        input.extend_from_slice(&sealed.to_stored(&event).expect("seals").state);
        seeds.push(("envelope", input));
        let mut input = vec![2];
        input.extend_from_slice(&zlib_only().to_stored(&event).expect("compresses").state);
        seeds.push(("envelope", input));
        let mut input = vec![1];
        input.extend_from_slice(&zlib_only().to_stored(&event).expect("compresses").state);
        seeds.push(("envelope", input));
    }
    let versioned = br#"{"timestamp":{"_type_":"datetime_iso","_data_":"2024-01-02T03:04:05+00:00"},"vaccine":"x","class_version":2}"#;
    let mut input = vec![topics().iter().position(|t| t == "props:Dog.Vaccinated").unwrap() as u8];
    input.extend_from_slice(versioned);
    seeds.push(("decode_state", input));
    for text in [
        r#"{"_type_":"uuid_hex","_data_":"000000000000000000000000000000ff"}"#,
        r#"{"_type_":"decimal_str","_data_":"-1.5E-10"}"#,
        r#"{"_type_":"datetime_iso","_data_":"2026-11-27T01:52:58.078379+00:00"}"#,
        r#"[{"_type_":"decimal_str","_data_":"10.50"},{"_type_":"decimal_str","_data_":"0E-7"}]"#,
        "2024-01-02 03:04:05.5Z",
        "123456789.123456789",
        "0.0000000",
        "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
    ] {
        seeds.push(("transcoding", text.as_bytes().to_vec()));
    }
    seeds
}

#[cfg(test)]
mod tests {
    /// Runs every target on its seeds (a quick check without libFuzzer).
    #[test]
    fn seeds_pass() {
        for (target, input) in super::seeds() {
            match target {
                "decode_state" => super::decode_state(&input),
                "transcoding" => super::transcoding(&input),
                "upcast" => super::upcast(&input),
                "envelope" => super::envelope(&input),
                other => panic!("{other}"),
            }
        }
    }

    /// Writes the seeds into `seeds/<target>/` (run with `--ignored` after changing them).
    #[test]
    #[ignore = "writes files"]
    fn write_seeds() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
        let _ = std::fs::remove_dir_all(&root);
        for (n, (target, input)) in super::seeds().into_iter().enumerate() {
            let dir = root.join(target);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("seed-{n:03}")), input).unwrap();
        }
    }
}
