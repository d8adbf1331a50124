//! The sequenced notification log (`DYNAMO_NOTIFICATION_LOG=sequenced`) on a local
//! DynamoDB server: saves write event items only, and the sequencer in each process (one
//! at a time, under the table's lease) appends every committed event to the log in pages.

mod support;

use eventsourcing_dynamodb::persistence::{Notification, StoredEvent};
use eventsourcing_dynamodb::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};
use support::*;

#[aggregate(topic = "sequenced:Dog")]
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

    #[event("TrickAdded")]
    pub fn add_trick(&mut self, trick: String) {
        self.tricks.push(trick);
    }
}

async fn app_on(endpoint: &str, table: &str) -> Application {
    let mut builder = Application::builder("Sequenced").isolated();
    for (key, value) in dynamo_env(endpoint, table) {
        builder = builder.env(key, value);
    }
    builder.env("DYNAMO_NOTIFICATION_LOG", "sequenced").build().await.unwrap()
}

/// Waits until the log holds `count` notifications (within 60 s) and returns them all.
async fn log_of(app: &Application, count: u64) -> Vec<Notification> {
    let started = Instant::now();
    loop {
        let end = app.notification_log().max_notification_id().await.unwrap();
        if end >= count {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the log holds {end} of {count} notifications after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all = app.notification_log().select(1, usize::MAX, None, &[]).await.unwrap();
    assert_eq!(all.len() as u64, count, "the log holds exactly the committed events");
    all
}

/// Checks the log against the stored events: ids 1..N, each stored event once and as
/// stored, each aggregate's versions in order.
async fn check(app: &Application, log: &[Notification], dogs: &[Uuid]) {
    let ids: Vec<u64> = log.iter().map(|n| n.id).collect();
    assert_eq!(ids, (1..=log.len() as u64).collect::<Vec<_>>(), "ids 1..N without gaps");
    let mut stored: HashMap<(Uuid, u64), StoredEvent> = HashMap::new();
    for dog in dogs {
        let query = Default::default();
        for event in app.recorders().events.select_events(*dog, query).await.unwrap() {
            stored.insert((event.originator_id, event.originator_version), event);
        }
    }
    assert_eq!(stored.len(), log.len(), "every stored event in the log, none more");
    let mut last: BTreeMap<Uuid, u64> = BTreeMap::new();
    for notification in log {
        let event = &notification.event;
        let key = (event.originator_id, event.originator_version);
        assert_eq!(
            stored.get(&key),
            Some(event),
            "notification {} is the stored event",
            notification.id
        );
        let previous = last.insert(event.originator_id, event.originator_version).unwrap_or(0);
        assert_eq!(previous + 1, event.originator_version, "each aggregate's versions in order");
    }
}

/// Concurrent saves of one to four events, several aggregates in some: saves return no
/// ids, and the log holds every committed event once, gapless, in per-aggregate order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequenced_log_holds_every_committed_event_once() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let table = unique_table("sequenced");
    let app = app_on(&endpoint, &table).await;
    let mut writers = Vec::new();
    for writer in 0..4 {
        let app = app.clone();
        writers.push(tokio::spawn(async move {
            let mut dogs = Vec::new();
            let mut events = 0;
            for save in 0..8 {
                let mut a = Dog::register(format!("{writer}-{save}"));
                for trick in 0..(save % 3) {
                    a.add_trick(format!("t{trick}"));
                }
                events += a.pending_events().len() as u64;
                let ids = match save % 4 {
                    0 => {
                        let mut b = Dog::register(format!("{writer}-{save}-b"));
                        events += 1;
                        dogs.push(b.id());
                        app.save(&mut [&mut a, &mut b]).await.unwrap()
                    }
                    _ => app.save(&mut [&mut a]).await.unwrap(),
                };
                assert!(ids.is_empty(), "a sequenced save has no ids yet: {ids:?}");
                dogs.push(a.id());
            }
            (dogs, events)
        }));
    }
    let mut dogs = Vec::new();
    let mut total = 0;
    for writer in writers {
        let (mine, events) = writer.await.unwrap();
        dogs.extend(mine);
        total += events;
    }
    let started = Instant::now();
    let log = log_of(&app, total).await;
    eprintln!("sequenced: {total} events logged {:?} after the last save", started.elapsed());
    check(&app, &log, &dogs).await;
}

/// Two processes (each with its own sequencer task) save into one table: one sequencer
/// holds the lease, and the log holds every event of both once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_share_one_sequenced_log() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let table = unique_table("sequenced-two");
    let first = app_on(&endpoint, &table).await;
    let second = app_on(&endpoint, &table).await;
    let mut dogs = Vec::new();
    for round in 0..10 {
        for app in [&first, &second] {
            let mut dog = Dog::register(format!("dog {round}"));
            dog.add_trick("sit".into());
            app.save(&mut [&mut dog]).await.unwrap();
            dogs.push(dog.id());
        }
    }
    let log = log_of(&second, 40).await;
    check(&first, &log, &dogs).await;
}

/// Events of one aggregate saved one by one, quickly: the log holds them in version order
/// whatever order their stream records arrive in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aggregates_events_are_logged_in_version_order() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let table = unique_table("sequenced-order");
    let app = app_on(&endpoint, &table).await;
    let mut dog = Dog::register("Fido".into());
    app.save(&mut [&mut dog]).await.unwrap();
    for trick in 0..30 {
        dog.add_trick(format!("trick {trick}"));
        app.save(&mut [&mut dog]).await.unwrap();
    }
    let log = log_of(&app, 31).await;
    check(&app, &log, &[dog.id()]).await;
}

/// A table without a stream cannot carry the sequenced log: a typed error names the table
/// and says how to turn the stream on.
#[tokio::test]
async fn a_table_without_a_stream_is_a_clear_error() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let table = unique_table("no-stream");
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&endpoint)
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .load()
        .await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    client
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("originator_id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("originator_version")
                .key_type(KeyType::Range)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("originator_id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("originator_version")
                .attribute_type(ScalarAttributeType::N)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let mut builder = Application::builder("Sequenced").isolated();
    for (key, value) in dynamo_env(&endpoint, &table) {
        builder = builder.env(key, value);
    }
    let error = builder.env("DYNAMO_NOTIFICATION_LOG", "sequenced").build().await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains(&table) && message.contains("StreamEnabled=true"), "{message}");
}
