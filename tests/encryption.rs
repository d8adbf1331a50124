//! Compression and encryption of stored state, byte-compatible with Python eventsourcing 9.3.5:
//! `COMPRESSOR_TOPIC=eventsourcing.compressor:ZlibCompressor`,
//! `CIPHER_TOPIC=eventsourcing.cipher:AESCipher`, `CIPHER_KEY=<base64>`. The fixtures
//! (`tests/fixtures/python/{zlib,aes,zlib_aes}.json`) were written by the real Python library;
//! `rust_state_opens_in_python` runs the real library on what Rust writes.

use eventsourcing_dynamodb::environment::ConfigError;
use eventsourcing_dynamodb::persistence::{
    generate_cipher_key, Compressor, DecodeError, DecodeProblem, EventQuery, Mapper,
};
use eventsourcing_dynamodb::prelude::*;
use eventsourcing_dynamodb::StoredEvent;
use serde_json::Value;
use std::collections::HashMap;
use std::process::Command;
use support::python;

mod support;

use seed::{Dog, DogCommands, DogEvent};

/// The aggregate of the Python fixtures' module `seed`.
mod seed {
    use eventsourcing_dynamodb::prelude::*;

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
}

/// The fixtures' key: `base64(bytes(range(32)))`.
const FIXTURE_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const ZLIB: &str = "eventsourcing.compressor:ZlibCompressor";
const AES: &str = "eventsourcing.cipher:AESCipher";

/// Environment values, as given to the application builder.
type Env<'a> = Vec<(&'a str, &'a str)>;

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_decode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in text.bytes().filter(|b| *b != b'=') {
        let value = BASE64
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

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(BASE64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn key_of(size: u8) -> String {
    base64_encode(&(0..size).map(|i| i.wrapping_mul(37).wrapping_add(11)).collect::<Vec<_>>())
}

struct Fixture {
    env: Vec<(String, String)>,
    records: Vec<StoredEvent>,
    decoded: Vec<String>,
    tricks: Vec<String>,
}

fn fixture(name: &str) -> Fixture {
    let path = format!("{}/tests/fixtures/python/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["eventsourcing_version"], "9.3.5");
    let env = doc["env"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    let records = doc["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| StoredEvent {
            originator_id: record["originator_id"].as_str().unwrap().parse().unwrap(),
            originator_version: record["originator_version"].as_u64().unwrap(),
            topic: record["topic"].as_str().unwrap().to_owned(),
            state: base64_decode(record["state_base64"].as_str().unwrap()),
        })
        .collect();
    let decoded = serde_json::from_value(doc["decoded_states_utf8"].clone()).unwrap();
    let tricks = serde_json::from_value(doc["expected_tricks"].clone()).unwrap();
    Fixture { env, records, decoded, tricks }
}

async fn build_app(env: &[(&str, &str)]) -> Result<Application> {
    let mut builder = Application::builder("Seed").isolated();
    for (key, value) in env {
        builder = builder.env(*key, *value);
    }
    builder.build().await
}

async fn app_of(fixture: &Fixture) -> Application {
    let env: Vec<(&str, &str)> =
        fixture.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    build_app(&env).await.unwrap()
}

async fn stored_states(app: &Application, id: Uuid) -> Vec<Vec<u8>> {
    let events = app.recorders().events.select_events(id, EventQuery::default()).await.unwrap();
    events.into_iter().map(|event| event.state).collect()
}

fn decode_error(error: Error) -> DecodeError {
    match error {
        Error::Decode(error) => error,
        other => panic!("expected a decode error, got {other}"),
    }
}

#[tokio::test]
async fn python_fixtures_decode() {
    for name in ["zlib.json", "aes.json", "zlib_aes.json"] {
        let fixture = fixture(name);
        assert_eq!(fixture.records.len(), 3, "{name}");
        let app = app_of(&fixture).await;

        // The stored bytes open to exactly the JSON Python encoded.
        for (record, json) in fixture.records.iter().zip(&fixture.decoded) {
            assert!(!record.state.starts_with(b"{"), "{name}: the fixture is not plain JSON");
            let opened = app.mapper().open(&record.state).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(std::str::from_utf8(&opened).unwrap(), json, "{name}");
        }

        app.recorders().events.insert_events(fixture.records.clone()).await.unwrap();
        let dog = app.repository().get::<Dog>(Dog::create_id("Fido")).await.unwrap();
        assert_eq!(dog.name, "Fido", "{name}");
        assert_eq!(dog.tricks, fixture.tricks, "{name}");
        assert_eq!(dog.tricks, ["roll over", "play dead"], "{name}");
        assert_eq!(dog.version(), 3, "{name}");
    }
}

#[tokio::test]
async fn zlib_is_byte_identical_to_python() {
    // Compressing Python's JSON gives Python's stored bytes.
    let zlib = fixture("zlib.json");
    let app = app_of(&zlib).await;
    assert_eq!(app.mapper().compressor(), Some(Compressor::Zlib));
    for (record, json) in zlib.records.iter().zip(&zlib.decoded) {
        assert_eq!(Compressor::Zlib.compress(json.as_bytes()).unwrap(), record.state);
        assert_eq!(app.mapper().seal(json.as_bytes().to_vec()).unwrap(), record.state);
        // Decoding and encoding the event again gives the same bytes too.
        let event = app.mapper().to_domain::<DogEvent>(record, "Dog").unwrap();
        assert_eq!(app.mapper().to_stored(&event).unwrap(), *record);
    }

    // Under AES-GCM, Python compressed the same way.
    let both = fixture("zlib_aes.json");
    let aes_only = build_app(&[("CIPHER_KEY", FIXTURE_KEY)]).await.unwrap();
    for (record, json) in both.records.iter().zip(&both.decoded) {
        let compressed = aes_only.mapper().open(&record.state).unwrap();
        assert_eq!(*compressed, Compressor::Zlib.compress(json.as_bytes()).unwrap());
    }
}

#[tokio::test]
async fn aes_state_is_nonce_tag_ciphertext() {
    let aes = fixture("aes.json");
    for (record, json) in aes.records.iter().zip(&aes.decoded) {
        assert_eq!(record.state.len(), 12 + 16 + json.len(), "GCM adds no padding");
    }
    // Encrypting under the same key gives the same layout, with a fresh nonce each time.
    let app = app_of(&aes).await;
    let json = aes.decoded[0].as_bytes().to_vec();
    let first = app.mapper().seal(json.clone()).unwrap();
    let second = app.mapper().seal(json.clone()).unwrap();
    assert_eq!(first.len(), aes.records[0].state.len());
    assert_ne!(first[..12], second[..12], "random nonce");
    assert_ne!(first, aes.records[0].state);
    assert_eq!(*app.mapper().open(&first).unwrap(), json[..]);
    assert_eq!(*app.mapper().open(&second).unwrap(), json[..]);
}

#[tokio::test]
async fn rust_round_trips_in_each_configuration() {
    let k16 = key_of(16);
    let k24 = key_of(24);
    let k32 = generate_cipher_key();
    let configurations: Vec<(&str, Env)> = vec![
        ("plain", vec![]),
        ("zlib topic", vec![("COMPRESSOR_TOPIC", ZLIB)]),
        ("zlib module", vec![("COMPRESSOR_TOPIC", "zlib")]),
        ("aes-128", vec![("CIPHER_TOPIC", AES), ("CIPHER_KEY", &k16)]),
        ("aes-192", vec![("CIPHER_TOPIC", AES), ("CIPHER_KEY", &k24)]),
        ("aes-256", vec![("CIPHER_TOPIC", AES), ("CIPHER_KEY", &k32)]),
        ("key alone selects AES", vec![("CIPHER_KEY", &k32)]),
        (
            "zlib + aes, prefixed",
            vec![
                ("SEED_COMPRESSOR_TOPIC", ZLIB),
                ("SEED_CIPHER_TOPIC", AES),
                ("SEED_CIPHER_KEY", &k16),
                ("CIPHER_KEY", "not used: the prefixed variable wins"),
            ],
        ),
    ];
    for (label, env) in configurations {
        let app = build_app(&env).await.unwrap_or_else(|e| panic!("{label}: {e}"));
        let mut dog = Dog::register("Fido".to_string());
        dog.add_trick("roll over".to_string());
        dog.add_trick("play dead \u{1f436}".to_string());
        app.save(&mut dog).await.unwrap();
        let loaded = app.repository().get::<Dog>(dog.id()).await.unwrap();
        assert_eq!(loaded.tricks, ["roll over", "play dead \u{1f436}"], "{label}");
        assert_eq!(loaded.version(), 3, "{label}");
        assert_eq!(loaded.modified_on(), dog.modified_on(), "{label}");

        let mapper = app.mapper();
        let encrypted = mapper.cipher().is_some();
        let compressed = mapper.compressor().is_some();
        assert!(!format!("{mapper:?}").contains(&k32) && !format!("{mapper:?}").contains(&k16));
        for state in stored_states(&app, dog.id()).await {
            let json = mapper.open(&state).unwrap().into_owned();
            let value: Value = serde_json::from_slice(&json).unwrap();
            assert_eq!(value["timestamp"]["_type_"], "datetime_iso", "{label}");
            match (compressed, encrypted) {
                (false, false) => assert_eq!(state, json, "{label}"),
                (true, false) => {
                    assert_eq!(state[..2], [0x78, 0x9c], "{label}: zlib header, default level");
                    assert_eq!(state, Compressor::Zlib.compress(&json).unwrap(), "{label}");
                }
                (false, true) => assert_eq!(state.len(), 28 + json.len(), "{label}"),
                (true, true) => {
                    let inner = Compressor::Zlib.compress(&json).unwrap();
                    assert_eq!(state.len(), 28 + inner.len(), "{label}");
                }
            }
            if encrypted {
                assert!(!state.windows(4).any(|w| w == b"Fido" || w == b"roll"), "{label}");
            }
        }
    }
}

#[tokio::test]
async fn wrong_key_is_rejected_naming_the_event() {
    let aes = fixture("aes.json");
    for key in [key_of(32), key_of(16)] {
        let app = build_app(&[("CIPHER_TOPIC", AES), ("CIPHER_KEY", &key)]).await.unwrap();
        app.recorders().events.insert_events(aes.records.clone()).await.unwrap();
        let id = Dog::create_id("Fido");
        let error = decode_error(app.repository().get::<Dog>(id).await.unwrap_err());
        assert_eq!(error.originator_id, id);
        assert_eq!(error.originator_version, 1);
        assert_eq!(error.topic, "seed:Dog.Registered");
        assert!(matches!(error.problem, DecodeProblem::Decrypt(_)), "{error}");
        let message = error.to_string();
        assert!(message.contains(&id.to_string()) && message.contains("version 1"), "{message}");
        assert!(message.contains("decrypt"), "{message}");
        assert!(!message.contains(&key), "{message}");
    }

    // Encrypted state read without a cipher is not JSON; plain JSON read with one fails to decrypt.
    let plain = build_app(&[]).await.unwrap();
    let error = plain.mapper().to_domain::<DogEvent>(&aes.records[0], "Dog").unwrap_err();
    assert!(matches!(error.problem, DecodeProblem::Json(_)), "{error}");
    let seed = fixture_plain_record();
    let encrypted = build_app(&[("CIPHER_KEY", FIXTURE_KEY)]).await.unwrap();
    let error = encrypted.mapper().to_domain::<DogEvent>(&seed, "Dog").unwrap_err();
    assert!(matches!(error.problem, DecodeProblem::Decrypt(_)), "{error}");
}

/// The first record of `seed_dog.json`: plain JSON.
fn fixture_plain_record() -> StoredEvent {
    let path = format!("{}/tests/fixtures/python/seed_dog.json", env!("CARGO_MANIFEST_DIR"));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let record = &doc["records"][0];
    StoredEvent {
        originator_id: record["originator_id"].as_str().unwrap().parse().unwrap(),
        originator_version: 1,
        topic: record["topic"].as_str().unwrap().to_owned(),
        state: base64_decode(record["state_base64"].as_str().unwrap()),
    }
}

#[tokio::test]
async fn damaged_state_is_rejected_naming_the_event() {
    // Damage the second event of each fixture: loading names version 2.
    for (name, problem) in
        [("aes.json", "decrypt"), ("zlib_aes.json", "decrypt"), ("zlib.json", "decompress")]
    {
        let fixture = fixture(name);
        let app = app_of(&fixture).await;
        let original = &fixture.records[1];
        let mut variants = Vec::new();
        for cut in [0, 1, 11, 12, 27, 28, 29, original.state.len() / 2, original.state.len() - 1] {
            variants.push(original.state[..cut].to_vec());
        }
        for position in [0, 5, 12, 20, 27, 28, original.state.len() - 1] {
            let mut flipped = original.state.clone();
            flipped[position] ^= 0x10;
            variants.push(flipped);
        }
        for state in variants {
            let damaged = StoredEvent { state, ..original.clone() };
            let error = app.mapper().to_domain::<DogEvent>(&damaged, "Dog").unwrap_err();
            assert_eq!(
                (error.originator_id, error.originator_version),
                (original.originator_id, 2)
            );
            let expected = match problem {
                "decrypt" => matches!(error.problem, DecodeProblem::Decrypt(_)),
                // A flipped bit in zlib data may still inflate (the checksum then fails) or,
                // in rare places, give other JSON; either way it is a typed error.
                _ => matches!(error.problem, DecodeProblem::Decompress(_) | DecodeProblem::Json(_)),
            };
            assert!(expected, "{name}: {error}");
        }

        let mut records = fixture.records.clone();
        let state = &records[1].state;
        records[1].state = state[..state.len() - 3].to_vec();
        app.recorders().events.insert_events(records).await.unwrap();
        let error =
            decode_error(app.repository().get::<Dog>(original.originator_id).await.unwrap_err());
        assert_eq!(error.originator_version, 2, "{name}");
        assert_eq!(error.topic, "seed:Dog.TrickAdded", "{name}");
        assert!(error.to_string().contains(problem), "{name}: {error}");
    }

    // State that is not compressed at all, read by a compressing application.
    let zlib = build_app(&[("COMPRESSOR_TOPIC", ZLIB)]).await.unwrap();
    let error = zlib.mapper().to_domain::<DogEvent>(&fixture_plain_record(), "Dog").unwrap_err();
    assert!(matches!(error.problem, DecodeProblem::Decompress(_)), "{error}");
    // Encrypted but not compressed, read by an application that also decompresses.
    let both = app_of(&fixture("zlib_aes.json")).await;
    let error =
        both.mapper().to_domain::<DogEvent>(&fixture("aes.json").records[0], "Dog").unwrap_err();
    assert!(matches!(error.problem, DecodeProblem::Decompress(_)), "{error}");
}

#[tokio::test]
async fn arbitrary_bytes_never_panic() {
    let apps = [
        build_app(&[("COMPRESSOR_TOPIC", ZLIB)]).await.unwrap(),
        build_app(&[("CIPHER_KEY", FIXTURE_KEY)]).await.unwrap(),
        build_app(&[("COMPRESSOR_TOPIC", ZLIB), ("CIPHER_KEY", FIXTURE_KEY)]).await.unwrap(),
    ];
    let mut x = 0x2545_f491_u32;
    for length in 0..200usize {
        let mut state: Vec<u8> = (0..length)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        if length % 3 == 0 && length >= 2 {
            state[0] = 0x78; // a zlib header, to get past the first check
            state[1] = 0x9c;
        }
        let stored = StoredEvent {
            originator_id: Uuid::nil(),
            originator_version: 1,
            topic: "seed:Dog.Registered".to_owned(),
            state,
        };
        for app in &apps {
            assert!(app.mapper().to_domain::<DogEvent>(&stored, "Dog").is_err());
        }
    }
}

#[tokio::test]
async fn config_errors_name_the_variable() {
    async fn config_error(env: &[(&str, &str)]) -> ConfigError {
        match build_app(env).await {
            Err(Error::Config(error)) => error,
            Err(other) => panic!("expected a config error, got {other}"),
            Ok(_) => panic!("expected a config error for {env:?}"),
        }
    }

    let error = config_error(&[("COMPRESSOR_TOPIC", "eventsourcing.compressor:Gzip")]).await;
    assert!(
        matches!(&error, ConfigError::Invalid { variable, .. } if variable == "COMPRESSOR_TOPIC"),
        "{error}"
    );
    assert!(error.to_string().contains(ZLIB), "{error}");
    let error = config_error(&[("SEED_COMPRESSOR_TOPIC", "lz4")]).await;
    assert!(
        matches!(&error, ConfigError::Invalid { variable, .. } if variable == "SEED_COMPRESSOR_TOPIC"),
        "{error}"
    );

    let error = config_error(&[
        ("CIPHER_TOPIC", "eventsourcing.cipher:ChaCha"),
        ("CIPHER_KEY", FIXTURE_KEY),
    ])
    .await;
    assert!(
        matches!(&error, ConfigError::Invalid { variable, .. } if variable == "CIPHER_TOPIC"),
        "{error}"
    );

    for env in [vec![("CIPHER_TOPIC", AES)], vec![("SEED_CIPHER_TOPIC", AES), ("CIPHER_KEY", "")]] {
        let error = config_error(&env).await;
        assert!(
            matches!(&error, ConfigError::Missing { variable, .. } if variable == "CIPHER_KEY"),
            "{error}"
        );
        assert!(error.to_string().contains("CIPHER_KEY"), "{error}");
    }

    let fifteen = key_of(15);
    let bad_keys = [
        ("CIPHER_KEY", "not base64 at all!"),
        ("CIPHER_KEY", fifteen.as_str()),
        ("CIPHER_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"), // no padding
        ("SEED_CIPHER_KEY", fifteen.as_str()),
    ];
    for (variable, key) in bad_keys {
        let error = config_error(&[("CIPHER_TOPIC", AES), (variable, key)]).await;
        match &error {
            ConfigError::Invalid { variable: named, .. } => assert_eq!(named, variable),
            other => panic!("expected Invalid, got {other}"),
        }
        let message = error.to_string();
        assert!(message.contains(variable), "{message}");
        assert!(!message.contains(key), "the key is not repeated: {message}");
    }
    let error = config_error(&[("CIPHER_KEY", &fifteen)]).await;
    assert!(error.to_string().contains("15 bytes"), "{error}");

    // Empty values are unset, as in Python.
    let app = build_app(&[("COMPRESSOR_TOPIC", ""), ("CIPHER_TOPIC", ""), ("CIPHER_KEY", "")])
        .await
        .unwrap();
    assert!(app.mapper().compressor().is_none() && app.mapper().cipher().is_none());
}

#[test]
fn generated_keys_are_fresh_aes_256_keys() {
    let key = generate_cipher_key();
    assert_eq!(base64_decode(&key).len(), 32);
    assert_eq!(key.len(), 44);
    assert_ne!(key, generate_cipher_key());
    let env = eventsourcing_dynamodb::environment::Environment::isolated(
        "Seed",
        HashMap::from([("CIPHER_KEY".to_owned(), key)]),
    );
    assert_eq!(Mapper::from_env(&env).unwrap().cipher().unwrap().key_bits(), 256);
}

/// Runs the real Python library on what Rust wrote, and returns what it printed.
const PYTHON_CHECK: &str = r#"
import base64, json, sys
from eventsourcing.cipher import AESCipher
from eventsourcing.compressor import ZlibCompressor
from eventsourcing.utils import Environment

with open(sys.argv[1]) as f:
    doc = json.load(f)
zlib = ZlibCompressor()
out = {"opened": [], "compressed": [], "sealed": []}
for item in doc["sealed"]:
    state = base64.b64decode(item["state"])
    if item["key"]:
        state = AESCipher(Environment(env={"CIPHER_KEY": item["key"]})).decrypt(state)
    if item["zlib"]:
        state = zlib.decompress(state)
    out["opened"].append(state.decode("utf8"))
cipher = AESCipher(Environment(env={"CIPHER_KEY": doc["key"]}))
for text in doc["plain"]:
    data = text.encode("utf8")
    out["compressed"].append(base64.b64encode(zlib.compress(data)).decode())
    out["sealed"].append(base64.b64encode(cipher.encrypt(zlib.compress(data))).decode())
print(json.dumps(out))
"#;

#[tokio::test]
async fn rust_state_opens_in_python() {
    let Some(python) = python("rust_state_opens_in_python") else {
        return;
    };
    let k16 = key_of(16);
    let k24 = key_of(24);
    let k32 = generate_cipher_key();
    let configurations: Vec<(Env, Option<&str>, bool)> = vec![
        (vec![("COMPRESSOR_TOPIC", ZLIB)], None, true),
        (vec![("CIPHER_TOPIC", AES), ("CIPHER_KEY", &k16)], Some(&k16), false),
        (vec![("CIPHER_TOPIC", AES), ("CIPHER_KEY", &k24)], Some(&k24), false),
        (
            vec![("COMPRESSOR_TOPIC", ZLIB), ("CIPHER_TOPIC", AES), ("CIPHER_KEY", &k32)],
            Some(&k32),
            true,
        ),
    ];

    // Events recorded by Rust, each sealed in each configuration.
    let mut dog = Dog::register("Fido".to_string());
    dog.add_trick("roll over".to_string());
    dog.add_trick("caf\u{e9} \u{2615} \"quoted\" \\ back\nslash".to_string());
    dog.add_trick("sit ".repeat(5000));
    let mut sealed = Vec::new();
    let mut expected = Vec::new();
    let mut apps = Vec::new();
    for (env, key, zlib) in &configurations {
        let app = build_app(env).await.unwrap();
        for event in dog.pending_events() {
            let stored = app.mapper().to_stored(event).unwrap();
            let json = app.mapper().open(&stored.state).unwrap().into_owned();
            sealed.push(serde_json::json!({
                "key": key, "zlib": zlib, "state": base64_encode(&stored.state),
            }));
            expected.push(String::from_utf8(json).unwrap());
        }
        apps.push(app);
    }

    // Texts for Python to compress (byte-compared with Rust's zlib) and to seal (opened by
    // Rust): the events' JSON, and longer, less regular texts.
    let mut plain: Vec<String> = expected.clone();
    plain.push(String::new());
    let mut x = 7u32;
    let words = ["dog", "sit", "roll over", "play dead", "fetch", "\u{1f436}", "beg", "\"", "\\"];
    for size in [1_000usize, 40_000, 150_000] {
        let mut text = String::with_capacity(size);
        while text.len() < size {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            text.push_str(words[(x >> 16) as usize % words.len()]);
            text.push(if x % 7 == 0 { '\n' } else { ' ' });
            if x % 11 == 0 {
                text.push_str(&(x % 100_000).to_string());
            }
        }
        plain.push(text);
    }

    let input = serde_json::json!({ "sealed": sealed, "plain": plain, "key": FIXTURE_KEY });
    let path =
        std::env::temp_dir().join(format!("eventsourcing-encryption-{}.json", Uuid::new_v4()));
    std::fs::write(&path, serde_json::to_vec(&input).unwrap()).unwrap();
    let output = Command::new(&python).arg("-c").arg(PYTHON_CHECK).arg(&path).output();
    let _ = std::fs::remove_file(&path);
    let output = output.unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(
        output.status.success(),
        "the Python check failed (needs eventsourcing 9.3.5 and pycryptodome: scripts/test.sh): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out: Value = serde_json::from_slice(&output.stdout).expect("python prints JSON");

    // Python opened every state Rust sealed.
    let opened: Vec<String> = serde_json::from_value(out["opened"].clone()).unwrap();
    assert_eq!(opened, expected);

    // Python's zlib bytes are Rust's, for every text.
    let compressed: Vec<String> = serde_json::from_value(out["compressed"].clone()).unwrap();
    assert_eq!(compressed.len(), plain.len());
    for (text, python) in plain.iter().zip(&compressed) {
        let rust = Compressor::Zlib.compress(text.as_bytes()).unwrap();
        assert!(
            base64_decode(python) == rust,
            "zlib bytes differ for a text of {} bytes",
            text.len()
        );
    }

    // Rust opens what Python sealed (zlib, then AES-GCM under the fixture key).
    let both = build_app(&[("COMPRESSOR_TOPIC", ZLIB), ("CIPHER_KEY", FIXTURE_KEY)]).await.unwrap();
    let python_sealed: Vec<String> = serde_json::from_value(out["sealed"].clone()).unwrap();
    for (text, state) in plain.iter().zip(&python_sealed) {
        let state = base64_decode(state);
        let opened = both.mapper().open(&state).unwrap();
        assert!(
            *opened == *text.as_bytes(),
            "Rust cannot open Python's state of {} bytes",
            text.len()
        );
    }
}
