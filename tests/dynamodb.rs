//! The DynamoDB store against a local moto server: the Python package's table layout,
//! interoperability with the real Python packages, racing writers, malformed items.

mod support;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use eventsourcing_dynamodb::prelude::*;
use eventsourcing_dynamodb::PersistenceError;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use support::*;

#[aggregate(topic = "seed:Dog")]
pub struct Dog {
    name: String,
    tricks: Vec<String>,
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

async fn app_on(endpoint: &str, table: &str) -> Application {
    let mut builder = Application::builder("TrainingSchool").isolated();
    for (key, value) in dynamo_env(endpoint, table) {
        builder = builder.env(key, value);
    }
    builder.build().await.expect("application on DynamoDB")
}

#[tokio::test]
async fn writes_the_python_packages_item_layout() {
    let Some(endpoint) = dynamo_endpoint() else {
        return;
    };
    let client = client(&endpoint).await;
    let table = unique_table("python-layout");
    create_python_table(&client, &table).await;
    // A table made the Python package's way has no stream, which the sequenced log (the
    // default) needs: this one keeps the transactional log.
    let app = Application::builder("TrainingSchool")
        .isolated()
        .env("PERSISTENCE_MODULE", "eventsourcing_dynamodb")
        .env("DYNAMO_ENDPOINT_URL", &endpoint)
        .env("DYNAMO_TABLE", &table)
        .env("DYNAMO_NOTIFICATION_LOG", "transactional")
        .build()
        .await
        .unwrap();
    let mut dog = Dog::register("Fido".into());
    dog.add_trick("roll over".into());
    app.save(&mut dog).await.unwrap();

    let output = client
        .query()
        .table_name(&table)
        .key_condition_expression("originator_id = :id")
        .expression_attribute_values(
            ":id",
            AttributeValue::S(Dog::create_id("Fido").hyphenated().to_string()),
        )
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    let items = output.items();
    assert_eq!(items.len(), 2);
    let first = &items[0];
    let mut names: Vec<&str> = first.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["created_at", "originator_id", "originator_version", "state", "topic"]);
    assert!(
        matches!(&first["originator_id"], AttributeValue::S(s) if s == &Dog::create_id("Fido").hyphenated().to_string())
    );
    assert_eq!(first["originator_version"], AttributeValue::N("1".into()));
    assert_eq!(first["topic"], AttributeValue::S("seed:Dog.Registered".into()));
    let AttributeValue::N(created_at) = &first["created_at"] else {
        panic!("created_at is not a number")
    };
    let now = eventsourcing_dynamodb::OffsetDateTime::now_utc().unix_timestamp();
    assert!((created_at.parse::<i64>().unwrap() - now).abs() < 120, "created_at is epoch seconds");
    let AttributeValue::B(state) = &first["state"] else { panic!("state is not binary") };
    let state = std::str::from_utf8(state.as_ref()).unwrap();
    let timestamp = eventsourcing_dynamodb::transcoding::format_iso(&dog.created_on());
    assert_eq!(
        state,
        format!(
            r#"{{"timestamp":{{"_type_":"datetime_iso","_data_":"{timestamp}"}},"originator_topic":"seed:Dog","name":"Fido"}}"#
        )
    );
    let AttributeValue::B(second) = &items[1]["state"] else { panic!("state is not binary") };
    let second = std::str::from_utf8(second.as_ref()).unwrap();
    assert!(second.ends_with(r#"},"trick":"roll over"}"#), "{second}");
    assert_eq!(items[1]["topic"], AttributeValue::S("seed:Dog.TrickAdded".into()));
}

fn python(args: &[&str], endpoint: &str, table: &str) -> serde_json::Value {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| ".venv/bin/python".to_owned());
    let output = std::process::Command::new(&python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/interop.py"))
        .args(args)
        .env("PERSISTENCE_MODULE", "eventsourcing_dynamodb")
        .env("DYNAMO_ENDPOINT_URL", endpoint)
        .env("DYNAMO_TABLE", table)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {python} (run scripts/test.sh, which installs it): {e}")
        });
    assert!(
        output.status.success(),
        "python {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("python prints JSON")
}

#[tokio::test]
async fn python_and_rust_share_a_table() {
    let Some(endpoint) = dynamo_endpoint() else {
        return;
    };
    let table = unique_table("interop");
    let app = app_on(&endpoint, &table).await;

    // Rust writes, the real Python packages read.
    let mut fido = Dog::register("Fido".into());
    fido.add_trick("roll over".into());
    fido.add_trick("play dead".into());
    app.save(&mut fido).await.unwrap();
    let read = python(&["read", "Fido"], &endpoint, &table);
    assert_eq!(read["tricks"], serde_json::json!(["roll over", "play dead"]));
    assert_eq!(read["version"], 3);

    // Python writes, Rust reads and carries on.
    python(&["write", "Rex", "sit", "beg"], &endpoint, &table);
    let mut rex = app.repository().get::<Dog>(Dog::create_id("Rex")).await.unwrap();
    assert_eq!(rex.tricks, ["sit", "beg"]);
    assert_eq!(rex.version(), 3);
    rex.add_trick("fetch".into());
    app.save(&mut rex).await.unwrap();
    let read = python(&["read", "Rex"], &endpoint, &table);
    assert_eq!(read["tricks"], serde_json::json!(["sit", "beg", "fetch"]));
}

/// Events the seed's Python package saves (it writes no log items) appear in the Rust
/// sequenced log, in order, and decode as the Rust aggregate's events.
#[tokio::test]
async fn python_writes_appear_in_the_sequenced_log() {
    let Some(endpoint) = dynamo_endpoint() else {
        return;
    };
    let table = unique_table("interop-sequenced");
    let mut builder = Application::builder("TrainingSchool").isolated();
    for (key, value) in dynamo_env(&endpoint, &table) {
        builder = builder.env(key, value);
    }
    let app = builder.env("DYNAMO_NOTIFICATION_LOG", "sequenced").build().await.unwrap();
    let mut fido = Dog::register("Fido".into());
    app.save(&mut [&mut fido]).await.unwrap();
    python(&["write", "Rex", "sit", "beg"], &endpoint, &table);
    let started = std::time::Instant::now();
    while app.notification_log().max_notification_id().await.unwrap() < 4 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "Python's events never reached the log"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let log = app.notification_log().select(1, 10, None, &[]).await.unwrap();
    assert_eq!(log.len(), 4);
    let rex = Dog::create_id("Rex");
    let python_events: Vec<(u64, String)> = log
        .iter()
        .filter(|n| n.event.originator_id == rex)
        .map(|n| (n.event.originator_version, n.event.topic.clone()))
        .collect();
    assert_eq!(
        python_events,
        [
            (1, "seed:Dog.Registered".to_owned()),
            (2, "seed:Dog.TrickAdded".to_owned()),
            (3, "seed:Dog.TrickAdded".to_owned())
        ]
    );
    for notification in &log {
        let decoded = eventsourcing_dynamodb::system::Notified::decode(
            "TrainingSchool",
            notification.clone(),
            app.mapper(),
        );
        assert!(decoded.is_ok(), "notification {} decodes", notification.id);
    }
    assert_eq!(app.repository().get::<Dog>(rex).await.unwrap().tricks, ["sit", "beg"]);
}

#[tokio::test]
async fn stale_copies_never_overwrite() {
    let Some(endpoint) = dynamo_endpoint() else {
        return;
    };
    let app = app_on(&endpoint, &unique_table("stale")).await;
    let mut dog = Dog::register("Fido".into());
    app.save(&mut dog).await.unwrap();
    let mut first = app.repository().get::<Dog>(dog.id()).await.unwrap();
    let mut second = app.repository().get::<Dog>(dog.id()).await.unwrap();
    first.add_trick("roll over".into());
    second.add_trick("play dead".into());
    app.save(&mut first).await.unwrap();
    let error = app.save(&mut second).await.unwrap_err();
    assert!(error.is_conflict(), "{error}");
    assert!(error.to_string().contains(&dog.id().to_string()), "{error}");
    assert!(error.to_string().contains("version 2"), "{error}");
    assert_eq!(second.pending_events().len(), 1, "the failed save keeps its events");
    let stored = app.repository().get::<Dog>(dog.id()).await.unwrap();
    assert_eq!(stored.tricks, ["roll over"], "the first trick was not lost");
}

#[tokio::test]
async fn multi_aggregate_saves_are_atomic() {
    let Some(endpoint) = dynamo_endpoint() else {
        return;
    };
    let app = app_on(&endpoint, &unique_table("atomic")).await;
    let mut fido = Dog::register("Fido".into());
    let mut rex = Dog::register("Rex".into());
    let ids = app.save((&mut fido, &mut rex)).await.unwrap();
    assert_eq!(ids, [1, 2]);
    let mut stale_rex = app.repository().get::<Dog>(rex.id()).await.unwrap();
    rex.add_trick("sit".into());
    app.save(&mut rex).await.unwrap();
    fido.add_trick("roll over".into());
    stale_rex.add_trick("beg".into());
    let error = app.save((&mut fido, &mut stale_rex)).await.unwrap_err();
    assert!(error.is_conflict(), "{error}");
    let stored_fido = app.repository().get::<Dog>(fido.id()).await.unwrap();
    assert!(stored_fido.tricks.is_empty(), "nothing of the failed save was written");
    assert_eq!(app.notification_log().max_notification_id().await.unwrap(), 3);
}

/// 8 writers (each with its own client, as separate processes would have) run 50 commands
/// each on one aggregate. Every command commits or reports a conflict, and the stored
/// tricks are exactly the committed ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_writers_lose_nothing() {
    let Some(endpoint) = dynamo_endpoint() else {
        return;
    };
    let table = unique_table("race");
    let first = app_on(&endpoint, &table).await;
    let mut dog = Dog::register("Fido".into());
    first.save(&mut dog).await.unwrap();
    let id = dog.id();

    let mut writers = Vec::new();
    for writer in 0..8 {
        let app = app_on(&endpoint, &table).await;
        writers.push(tokio::spawn(async move {
            let mut committed = Vec::new();
            let mut conflicts = 0;
            for command in 0..50 {
                let trick = format!("w{writer}-c{command}");
                let mut dog = app.repository().get::<Dog>(id).await.unwrap();
                dog.add_trick(trick.clone());
                match app.save(&mut dog).await {
                    Ok(_) => committed.push(trick),
                    Err(error) if error.is_conflict() => conflicts += 1,
                    Err(error) => panic!("unexpected error: {error}"),
                }
            }
            (committed, conflicts)
        }));
    }
    let mut committed = BTreeSet::new();
    let mut conflicts = 0;
    for writer in writers {
        let (tricks, lost) = writer.await.unwrap();
        committed.extend(tricks);
        conflicts += lost;
    }
    assert_eq!(committed.len() + conflicts, 400);
    let stored = first.repository().get::<Dog>(id).await.unwrap();
    let stored_set: BTreeSet<String> = stored.tricks.iter().cloned().collect();
    assert_eq!(stored.tricks.len(), stored_set.len(), "no trick stored twice");
    assert_eq!(stored_set, committed, "stored events are exactly the committed commands");
    assert_eq!(stored.version(), 1 + committed.len() as u64);
    let max = first.notification_log().max_notification_id().await.unwrap();
    assert_eq!(max, stored.version(), "one notification per committed event");
}

/// With the retry helper, all 400 commands of 8 racing writers commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retry_helper_commits_every_command() {
    let Some(endpoint) = dynamo_endpoint() else {
        return;
    };
    let table = unique_table("retry");
    let first = app_on(&endpoint, &table).await;
    let mut dog = Dog::register("Fido".into());
    first.save(&mut dog).await.unwrap();
    let id = dog.id();
    let policy = RetryPolicy {
        attempts: 1000,
        first_delay: std::time::Duration::from_millis(2),
        max_delay: std::time::Duration::from_millis(200),
    };
    let mut writers = Vec::new();
    for writer in 0..8 {
        let mut builder = Application::builder("TrainingSchool").isolated().retry(policy);
        for (key, value) in dynamo_env(&endpoint, &table) {
            builder = builder.env(key, value);
        }
        let app = builder.build().await.unwrap();
        writers.push(tokio::spawn(async move {
            for command in 0..50 {
                let trick = format!("w{writer}-c{command}");
                app.update::<Dog, _>(id, |dog| dog.add_trick(trick.clone())).await.unwrap();
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let stored = first.repository().get::<Dog>(id).await.unwrap();
    assert_eq!(stored.tricks.len(), 400);
    let unique: BTreeSet<&String> = stored.tricks.iter().collect();
    assert_eq!(unique.len(), 400);
    assert_eq!(stored.version(), 401);
}

#[tokio::test]
async fn malformed_items_are_named_errors() {
    let Some(endpoint) = dynamo_endpoint() else {
        return;
    };
    let table = unique_table("malformed");
    let app = app_on(&endpoint, &table).await;
    let client = client(&endpoint).await;
    let mut good = Dog::register("Good".into());
    app.save(&mut good).await.unwrap();

    let put = |id: Uuid, attributes: Vec<(&str, AttributeValue)>| {
        let mut item: HashMap<String, AttributeValue> =
            attributes.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        item.insert("originator_id".into(), AttributeValue::S(id.hyphenated().to_string()));
        let client = client.clone();
        let table = table.clone();
        async move {
            client.put_item().table_name(table).set_item(Some(item)).send().await.unwrap();
        }
    };
    let blob =
        |bytes: &[u8]| AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(bytes.to_vec()));
    let version = |v: &str| AttributeValue::N(v.to_owned());
    let topic = |t: &str| AttributeValue::S(t.to_owned());
    let cases: Vec<(&str, Vec<(&str, AttributeValue)>)> = vec![
        (
            "attribute state is missing",
            vec![("originator_version", version("1")), ("topic", topic("seed:Dog.Registered"))],
        ),
        (
            "attribute state should be binary (B), found string (S)",
            vec![
                ("originator_version", version("1")),
                ("topic", topic("seed:Dog.Registered")),
                ("state", AttributeValue::S("{}".into())),
            ],
        ),
        (
            "attribute topic should be a string (S), found number (N)",
            vec![
                ("originator_version", version("1")),
                ("topic", version("7")),
                ("state", blob(b"{}")),
            ],
        ),
        (
            "attribute originator_version should be a whole number",
            vec![
                ("originator_version", version("1.5")),
                ("topic", topic("seed:Dog.Registered")),
                ("state", blob(b"{}")),
            ],
        ),
        (
            "is not an event of Dog",
            vec![
                ("originator_version", version("1")),
                ("topic", topic("seed:Cat.Registered")),
                ("state", blob(b"{}")),
            ],
        ),
        (
            "state does not decode",
            vec![
                ("originator_version", version("1")),
                ("topic", topic("seed:Dog.Registered")),
                ("state", blob(b"\xff\x00garbage")),
            ],
        ),
        (
            "state does not decode",
            vec![
                ("originator_version", version("1")),
                ("topic", topic("seed:Dog.Registered")),
                ("state", blob(br#"{"timestamp":1}"#)),
            ],
        ),
    ];
    for (expected, attributes) in cases {
        let id = Uuid::new_v4();
        put(id, attributes).await;
        let error = app.repository().get::<Dog>(id).await.unwrap_err();
        let message = error.to_string();
        assert!(message.contains(expected), "expected {expected:?} in {message:?}");
        assert!(message.contains(&id.to_string()), "the error names the item: {message}");
        if let Error::Persistence(PersistenceError::Data { location, .. }) = &error {
            assert!(location.contains(&table), "the error names the table: {location}");
        }
    }
    // The rest of the application keeps working.
    let mut good = app.repository().get::<Dog>(good.id()).await.unwrap();
    good.add_trick("sit".into());
    app.save(&mut good).await.unwrap();
}

#[tokio::test]
async fn configuration_errors_name_the_problem() {
    let Some(endpoint) = dynamo_endpoint() else {
        return;
    };
    let missing = Application::builder("TrainingSchool")
        .isolated()
        .env("PERSISTENCE_MODULE", "eventsourcing_dynamodb")
        .env("DYNAMO_ENDPOINT_URL", &endpoint)
        .build()
        .await
        .unwrap_err();
    assert!(missing.to_string().contains("DYNAMO_TABLE"), "{missing}");

    let table = unique_table("absent");
    let absent = Application::builder("TrainingSchool")
        .isolated()
        .env("PERSISTENCE_MODULE", "dynamodb")
        .env("DYNAMO_ENDPOINT_URL", &endpoint)
        .env("DYNAMO_TABLE", &table)
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(absent.contains(&format!("table {table} does not exist")), "{absent}");
    assert!(absent.contains("originator_id (S)") && absent.contains("CREATE_TABLE"), "{absent}");

    let client = client(&endpoint).await;
    let wrong = unique_table("wrong-schema");
    client
        .create_table()
        .table_name(&wrong)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let error = Application::builder("TrainingSchool")
        .isolated()
        .env("PERSISTENCE_MODULE", "eventsourcing_dynamodb")
        .env("DYNAMO_ENDPOINT_URL", &endpoint)
        .env("DYNAMO_TABLE", &wrong)
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("wrong key schema"), "{error}");
    // In words, and without advising CREATE_TABLE for a table that exists (failed on the
    // old code: `Some("pk") Some(S)` and "or set CREATE_TABLE=true").
    assert!(error.contains("it has hash key pk (string) and no range key"), "{error}");
    assert!(error.contains("hash key originator_id (string)"), "{error}");
    assert!(error.contains("cannot be changed"), "{error}");
    assert!(!error.contains("Some("), "{error}");
    assert!(!error.contains("or set CREATE_TABLE=true"), "{error}");

    // One's own client and table, typed.
    let own = unique_table("own-client");
    let recorders = eventsourcing_dynamodb::dynamodb::DynamoStore::new(client.clone(), &own)
        .create_table(true)
        .open()
        .await
        .unwrap();
    let app = Application::builder("TrainingSchool").isolated().recorders(recorders).build();
    let app = app.await.unwrap();
    let mut dog = Dog::register("Fido".into());
    app.save(&mut dog).await.unwrap();
    let error = eventsourcing_dynamodb::dynamodb::DynamoStore::new(client.clone(), &wrong)
        .open()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("wrong key schema"), "{error}");
    // A client cannot read the stream the sequenced log is made from: said, not ignored.
    let error = eventsourcing_dynamodb::dynamodb::DynamoStore::new(client.clone(), &own)
        .log(eventsourcing_dynamodb::dynamodb::NotificationLog::Sequenced)
        .open()
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains(&own) && error.contains("from_sdk_config"), "{error}");
    // From one's own AWS configuration, the sequenced log, sequenced in this process.
    let sequenced = unique_table("own-sdk-config");
    let sdk = sdk_config(&endpoint).await;
    let recorders =
        eventsourcing_dynamodb::dynamodb::DynamoStore::from_sdk_config(&sdk, &sequenced)
            .create_table(true)
            .open()
            .await
            .unwrap();
    let app = Application::builder("TrainingSchool").isolated().recorders(recorders).build();
    let app = app.await.unwrap();
    let mut dog = Dog::register("Rex".into());
    dog.add_trick("sit".into());
    app.save(&mut dog).await.unwrap();
    app.recorders().events.sync_log().await.unwrap();
    let logged = app.notification_log().select(1, 10, None, &[]).await.unwrap();
    let ids: Vec<u64> = logged.iter().map(|n| n.id).collect();
    assert_eq!(ids, [1, 2], "both events logged by the sequencer: {logged:?}");

    let bad_bool = Application::builder("TrainingSchool")
        .isolated()
        .env("PERSISTENCE_MODULE", "eventsourcing_dynamodb")
        .env("DYNAMO_TABLE", "x")
        .env("CREATE_TABLE", "perhaps")
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(bad_bool.contains("CREATE_TABLE"), "{bad_bool}");
}

/// One log per application: two applications of a system on one table are refused at
/// startup (failed on the old code, where the follower then processed its own events too);
/// each on its own table through `<APPNAME>_DYNAMO_TABLE` they run.
#[tokio::test]
async fn applications_of_a_system_need_their_own_tables() {
    let Some(endpoint) = dynamo_endpoint() else {
        return;
    };
    struct Nothing;
    impl Policy for Nothing {
        async fn process(&self, _: &Notified, _: &mut Processing) -> Result<()> {
            Ok(())
        }
    }
    let table = unique_table("shared");
    let school = app_on(&endpoint, &table).await;
    let mut builder = Application::builder("TrickCounter").isolated();
    for (key, value) in dynamo_env(&endpoint, &table) {
        builder = builder.env(key, value);
    }
    let counter = Arc::new(ProcessApplication::new(builder.build().await.unwrap(), Nothing));
    let error = System::builder()
        .leader(&school)
        .process(counter)
        .pipe("TrainingSchool", "TrickCounter")
        .build()
        .unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, Error::SharedLog { .. }), "{message}");
    assert!(message.contains(&format!("/{table})")), "names the table: {message}");

    let mut builder = Application::builder("TrickCounter").isolated();
    for (key, value) in dynamo_env(&endpoint, &table) {
        builder = builder.env(key, value);
    }
    let own = unique_table("own");
    let counter = builder.env("TRICKCOUNTER_DYNAMO_TABLE", &own).build().await.unwrap();
    let counter = Arc::new(ProcessApplication::new(counter, Nothing));
    System::builder()
        .leader(&school)
        .process(counter)
        .pipe("TrainingSchool", "TrickCounter")
        .build()
        .expect("each application on its own table");
}

#[tokio::test]
async fn the_log_can_be_turned_off() {
    let Some(endpoint) = dynamo_endpoint() else {
        return;
    };
    let table = unique_table("nolog");
    let mut builder = Application::builder("TrainingSchool").isolated();
    for (key, value) in dynamo_env(&endpoint, &table) {
        builder = builder.env(key, value);
    }
    let app = builder.env("DYNAMO_NOTIFICATION_LOG", "false").build().await.unwrap();
    let mut dog = Dog::register("Fido".into());
    assert_eq!(app.save(&mut dog).await.unwrap(), Vec::<u64>::new());
    let mut copy = app.repository().get::<Dog>(dog.id()).await.unwrap();
    dog.add_trick("sit".into());
    copy.add_trick("beg".into());
    app.save(&mut dog).await.unwrap();
    assert!(
        app.save(&mut copy).await.unwrap_err().is_conflict(),
        "single-item writes are conditional too"
    );
    let error = app.notification_log().max_notification_id().await.unwrap_err();
    assert!(error.to_string().contains("DYNAMO_NOTIFICATION_LOG"), "{error}");
    let recorder: Arc<dyn eventsourcing_dynamodb::persistence::ProcessRecorder> =
        app.recorders().events.clone();
    assert_eq!(recorder.select_events(dog.id(), Default::default()).await.unwrap().len(), 2);
}

/// Compression and encryption on DynamoDB: the stored `state` is sealed (not readable JSON),
/// the application reads it back, and a wrong key is a typed error naming the event.
#[tokio::test]
async fn encrypted_compressed_state_round_trips() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let table = unique_table("sealed");
    let sealed = |key: String| {
        let mut builder = Application::builder("TrainingSchool")
            .isolated()
            .env("COMPRESSOR_TOPIC", "eventsourcing.compressor:ZlibCompressor")
            .env("CIPHER_TOPIC", "eventsourcing.cipher:AESCipher")
            .env("CIPHER_KEY", key);
        for (k, v) in dynamo_env(&endpoint, &table) {
            builder = builder.env(k, v);
        }
        builder.build()
    };
    let key = eventsourcing_dynamodb::persistence::generate_cipher_key();
    let app = sealed(key.clone()).await.unwrap();
    let mut dog = Dog::register("Fido".into());
    dog.add_trick("roll over".into());
    app.save(&mut dog).await.unwrap();
    let loaded = app.repository().get::<Dog>(dog.id()).await.unwrap();
    assert_eq!(loaded.tricks, ["roll over"]);

    let raw = app.recorders().events.select_events(dog.id(), Default::default()).await.unwrap();
    assert!(
        raw.iter().all(|e| !e.state.windows(4).any(|w| w == b"Fido" || w == b"roll")),
        "state is sealed"
    );

    let other = sealed(eventsourcing_dynamodb::persistence::generate_cipher_key()).await.unwrap();
    let error = other.repository().get::<Dog>(dog.id()).await.unwrap_err().to_string();
    assert!(error.contains("decrypt") && error.contains(&dog.id().to_string()), "{error}");
}
