//! The Lambda handler against a local DynamoDB server, fed batches in the shape Lambda
//! delivers them (`tests/fixtures/`): the events of a batch are saved to the table first, as
//! the applications whose writes made the batch would have saved them.

#[path = "../../tests/support/mod.rs"]
mod support;

use aws_lambda_events::event::dynamodb::Event;
use eventsourcing_dynamo::{DynamoConfig, DynamoRecorder, NotificationLog, OnDemandSequencer};
use eventsourcing_lambda::{read_batch, sequence_batch, Batch, HandlerError};
use eventsourcing_runtime::persistence::{
    AggregateRecorder, ApplicationRecorder, NotificationQuery, StoredEvent,
};
use std::time::Duration;

fn batch(fixture: &str, table: &str) -> Event {
    let path = format!("{}/tests/fixtures/{fixture}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("the fixture is readable");
    serde_json::from_str(&text.replace("table/TABLE/", &format!("table/{table}/")))
        .expect("the fixture is a DynamoDB stream event as Lambda delivers it")
}

/// The events whose inserts the batch holds, from their new images.
fn events_of(batch: &Event) -> Vec<StoredEvent> {
    use serde_dynamo::AttributeValue::{B, N, S};
    let image = |record: &aws_lambda_events::event::dynamodb::EventRecord| {
        let get = |name: &str| record.change.new_image.get(name).cloned();
        match (get("originator_id"), get("originator_version"), get("topic"), get("state")) {
            (Some(S(id)), Some(N(version)), Some(S(topic)), Some(B(state))) => StoredEvent {
                originator_id: id.parse().expect("a UUID"),
                originator_version: version.parse().expect("a version"),
                topic,
                state,
            },
            other => panic!("not an event item: {other:?}"),
        }
    };
    batch.records.iter().map(image).collect()
}

fn config(endpoint: &str, table: &str) -> DynamoConfig {
    let mut config = DynamoConfig::new(table);
    config.endpoint_url = Some(endpoint.to_owned());
    config.create_table = true;
    config.notification_log = NotificationLog::Sequenced;
    config.sequencer_lease = Duration::from_secs(3);
    config
}

async fn writer(endpoint: &str, table: &str) -> DynamoRecorder {
    let mut config = config(endpoint, table);
    config.run_sequencer = false;
    DynamoRecorder::connect(config).await.expect("the writer connects")
}

async fn log(recorder: &DynamoRecorder) -> Vec<(u64, StoredEvent)> {
    let query = NotificationQuery { start: 1, limit: 100, ..NotificationQuery::default() };
    let notifications = recorder.select_notifications(query).await.expect("the log is read");
    notifications.into_iter().map(|n| (n.id, n.event)).collect()
}

fn deadline_in(seconds: u64) -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    u64::try_from(now.as_millis()).unwrap() + seconds * 1000
}

#[tokio::test]
async fn an_invocation_logs_the_events_of_its_batch_in_version_order() {
    let Some(endpoint) = support::dynamo_endpoint() else { return };
    let table = support::unique_table("lambda");
    let sequencer = OnDemandSequencer::connect(config(&endpoint, &table)).await.unwrap();
    let writer = writer(&endpoint, &table).await;
    let batch = batch("events-batch.json", &table);
    // The batch holds Milo's registration, then Fido's second and first events: the order
    // in which one transaction's records may reach Lambda.
    let events = events_of(&batch);
    writer.insert_events(vec![events[2].clone(), events[0].clone()]).await.unwrap();
    writer.insert_events(vec![events[1].clone()]).await.unwrap();

    assert_eq!(read_batch(&batch, &table).unwrap(), Batch { events: 3, others: 0 });
    let sequenced = sequence_batch(&sequencer, &batch, deadline_in(60)).await.unwrap();
    let sequenced = sequenced.expect("a batch of events is sequenced");
    assert!(sequenced.led, "the lease was free, so this invocation wrote the pages");
    assert_eq!(sequenced.log_end, 3);

    let logged = log(sequencer.recorder()).await;
    assert_eq!(logged.iter().map(|(id, _)| *id).collect::<Vec<_>>(), [1, 2, 3]);
    let position = |event: &StoredEvent| logged.iter().position(|(_, e)| e == event);
    for event in &events {
        assert!(position(event).is_some(), "{event:?} is in the log once");
    }
    assert!(position(&events[2]) < position(&events[1]), "Fido's versions are in order");

    // A retry of the same batch (Lambda retries on a timeout) adds nothing.
    let again = sequence_batch(&sequencer, &batch, deadline_in(60)).await.unwrap().unwrap();
    assert_eq!(again.log_end, 3);
    assert_eq!(log(sequencer.recorder()).await, logged);
}

#[tokio::test]
async fn a_batch_of_the_sequencers_own_writes_sends_no_request() {
    let Some(endpoint) = support::dynamo_endpoint() else { return };
    let table = support::unique_table("lambda");
    let sequencer = OnDemandSequencer::connect(config(&endpoint, &table)).await.unwrap();
    let batch = batch("own-writes-batch.json", &table);
    assert_eq!(read_batch(&batch, &table).unwrap(), Batch { events: 0, others: 2 });
    let before = sequencer.requests();
    assert_eq!(sequence_batch(&sequencer, &batch, deadline_in(60)).await.unwrap(), None);
    assert_eq!(sequencer.requests(), before, "pages and the lease do not wake the sequencer");
}

#[tokio::test]
async fn a_trigger_on_another_table_is_refused_by_name() {
    let Some(endpoint) = support::dynamo_endpoint() else { return };
    let table = support::unique_table("lambda");
    let sequencer = OnDemandSequencer::connect(config(&endpoint, &table)).await.unwrap();
    let batch = batch("events-batch.json", "someone-elses-table");
    let error = sequence_batch(&sequencer, &batch, deadline_in(60)).await.unwrap_err();
    assert!(matches!(&error, HandlerError::WrongTable { table: t, .. } if *t == table), "{error}");
    let message = error.to_string();
    assert!(message.contains("someone-elses-table") && message.contains(&table), "{message}");
    let diagnostic = lambda_runtime::Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, "WrongTable");
}

#[tokio::test]
async fn while_an_application_sequences_an_invocation_waits_for_it() {
    let Some(endpoint) = support::dynamo_endpoint() else { return };
    let table = support::unique_table("lambda");
    let sequencer = OnDemandSequencer::connect(config(&endpoint, &table)).await.unwrap();
    // An application process with its own sequencer task takes the free lease.
    let application = DynamoRecorder::connect(config(&endpoint, &table)).await.unwrap();
    let batch = batch("events-batch.json", &table);
    let events = events_of(&batch);
    application.insert_events(vec![events[2].clone(), events[0].clone()]).await.unwrap();
    application.insert_events(vec![events[1].clone()]).await.unwrap();
    application.sync_log().await.unwrap();
    assert!(application.sequencer_progress().is_some_and(|p| p.leading));

    let sequenced = sequence_batch(&sequencer, &batch, deadline_in(60)).await.unwrap().unwrap();
    assert!(!sequenced.led, "the application's sequencer held the lease");
    assert_eq!(sequenced.log_end, 3);
    assert_eq!(log(sequencer.recorder()).await.len(), 3);
}

#[tokio::test]
async fn the_handler_answers_in_lambdas_shape() {
    let Some(endpoint) = support::dynamo_endpoint() else { return };
    let table = support::unique_table("lambda");
    let sequencer = OnDemandSequencer::connect(config(&endpoint, &table)).await.unwrap();
    let writer = writer(&endpoint, &table).await;
    let batch = batch("events-batch.json", &table);
    writer.insert_events(events_of(&batch)).await.unwrap();
    let mut context = lambda_runtime::Context::default();
    context.deadline = deadline_in(60);
    let invocation = lambda_runtime::LambdaEvent::new(batch, context);
    let response = eventsourcing_lambda::handle(&sequencer, invocation).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(sequencer.recorder().max_notification_id().await.unwrap(), 3);
}
