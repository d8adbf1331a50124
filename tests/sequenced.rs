//! The sequenced notification log (`DYNAMO_NOTIFICATION_LOG=sequenced`) on a local
//! DynamoDB server: saves write event items only, and the sequencer in each process (one
//! at a time, under the table's lease) appends every committed event to the log in pages.

mod support;

use eventsourcing_dynamodb::dynamodb::{DynamoConfig, DynamoRecorder, NotificationLog};
use eventsourcing_dynamodb::persistence::{Notification, StoredEvent};
use eventsourcing_dynamodb::prelude::*;
use eventsourcing_dynamodb::system::{Notified, Policy, ProcessApplication, Processing, System};
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
    create_python_table(&client(&endpoint).await, &table).await;
    let mut builder = Application::builder("Sequenced").isolated();
    for (key, value) in dynamo_env(&endpoint, &table) {
        builder = builder.env(key, value);
    }
    let error = builder.env("DYNAMO_NOTIFICATION_LOG", "sequenced").build().await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains(&table) && message.contains("StreamEnabled=true"), "{message}");
}

async fn app_with_lease(endpoint: &str, table: &str, lease: &str) -> Application {
    let mut builder = Application::builder("Sequenced").isolated();
    for (key, value) in dynamo_env(endpoint, table) {
        builder = builder.env(key, value);
    }
    builder
        .env("DYNAMO_NOTIFICATION_LOG", "sequenced")
        .env("DYNAMO_SEQUENCER_LEASE_SECONDS", lease)
        .build()
        .await
        .unwrap()
}

/// Sets the lease item behind the sequencers' backs.
async fn set_lease(client: &aws_sdk_dynamodb::Client, table: &str, owner: &str, expires_at: i64) {
    use aws_sdk_dynamodb::types::AttributeValue;
    client
        .update_item()
        .table_name(table)
        .key("originator_id", AttributeValue::S("#sequencer".into()))
        .key("originator_version", AttributeValue::N("0".into()))
        .update_expression("SET #owner = :owner, #expires = :expires ADD #epoch :one")
        .expression_attribute_names("#owner", "owner")
        .expression_attribute_names("#expires", "expires_at")
        .expression_attribute_names("#epoch", "epoch")
        .expression_attribute_values(":owner", AttributeValue::S(owner.into()))
        .expression_attribute_values(":expires", AttributeValue::N(expires_at.to_string()))
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .send()
        .await
        .unwrap();
}

fn epoch_millis() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    since.as_millis() as i64
}

async fn register(app: &Application, dogs: &mut Vec<Uuid>, count: usize) {
    for n in 0..count {
        let mut dog = Dog::register(format!("dog {n}"));
        app.save(&mut [&mut dog]).await.unwrap();
        dogs.push(dog.id());
    }
}

/// Fencing: once another owner holds the lease at a newer epoch, the sequencer that held it
/// writes no page (saves still commit); when the lease is free again, it takes it back and
/// the log catches up with everything, gapless.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposed_sequencer_writes_no_page() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let table = unique_table("sequenced-fence");
    let app = app_with_lease(&endpoint, &table, "1").await;
    let mut dogs = Vec::new();
    register(&app, &mut dogs, 5).await;
    log_of(&app, 5).await;
    let client = client(&endpoint).await;
    set_lease(&client, &table, "another sequencer", epoch_millis() + 3_600_000).await;
    register(&app, &mut dogs, 5).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let end = app.notification_log().max_notification_id().await.unwrap();
    assert_eq!(end, 5, "no page written while another owner holds the lease");
    set_lease(&client, &table, "another sequencer", 0).await;
    let log = log_of(&app, 10).await;
    check(&app, &log, &dogs).await;
}

/// Failover: the process whose sequencer holds the lease goes away; another process's
/// sequencer takes the lease once it expires and carries on from the last page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_takes_over_when_the_sequencer_is_gone() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let table = unique_table("sequenced-failover");
    let first = app_with_lease(&endpoint, &table, "1").await;
    let mut dogs = Vec::new();
    register(&first, &mut dogs, 5).await;
    log_of(&first, 5).await; // the first process's sequencer took the lease
    let second = app_with_lease(&endpoint, &table, "1").await;
    drop(first);
    let gone = Instant::now();
    register(&second, &mut dogs, 5).await;
    let log = log_of(&second, 10).await;
    eprintln!("failover: the log caught up {:?} after the first process went away", gone.elapsed());
    check(&second, &log, &dogs).await;
}

/// An application on the sequenced log of `table` with this lease, and its recorder (to
/// see what its sequencer does).
async fn sequenced_app(
    endpoint: &str,
    table: &str,
    lease: Duration,
) -> (Application, std::sync::Arc<DynamoRecorder>) {
    let mut config = DynamoConfig::new(table);
    config.endpoint_url = Some(endpoint.to_owned());
    config.create_table = true;
    config.notification_log = NotificationLog::Sequenced;
    config.sequencer_lease = lease;
    let recorder = std::sync::Arc::new(DynamoRecorder::connect(config).await.unwrap());
    let app = Application::builder("Sequenced").isolated().recorders(recorder.clone().recorders());
    let app = app.build();
    (app.await.unwrap(), recorder)
}

/// Closing hands the lease over at once: with a 30 s lease, another process's sequencer
/// takes over within moments instead of after the lease expires, and the closed process's
/// saves still commit and are logged by the other's sequencer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_process_hands_the_lease_over_at_once() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let table = unique_table("sequenced-close");
    let lease = Duration::from_secs(30);
    let (first, first_recorder) = sequenced_app(&endpoint, &table, lease).await;
    let mut dogs = Vec::new();
    register(&first, &mut dogs, 5).await;
    first.recorders().events.sync_log().await.unwrap();
    assert!(first_recorder.sequencer_progress().is_some_and(|p| p.leading));
    let (second, second_recorder) = sequenced_app(&endpoint, &table, lease).await;
    let closing = Instant::now();
    first.close().await.unwrap();
    assert!(first_recorder.sequencer_progress().is_some_and(|p| !p.leading));
    register(&first, &mut dogs, 2).await;
    register(&second, &mut dogs, 3).await;
    second.recorders().events.sync_log().await.unwrap();
    assert!(
        second_recorder.sequencer_progress().is_some_and(|p| p.leading),
        "the second process's sequencer took the lease"
    );
    assert!(closing.elapsed() < Duration::from_secs(10), "took over after {:?}", closing.elapsed());
    let log = log_of(&second, 10).await;
    check(&second, &log, &dogs).await;
}

/// A process whose sequencer waits for another process's lease sends nothing per save: it
/// tries the lease every third of a lease (it tried at every save before, one request each,
/// which the fleet benchmark counted as +1.00 requests per save).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_waiting_for_the_lease_sends_nothing_per_save() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let table = unique_table("sequenced-waiting");
    let leader = app_on(&endpoint, &table).await;
    let mut dogs = Vec::new();
    register(&leader, &mut dogs, 1).await;
    log_of(&leader, 1).await; // the leader's sequencer holds the lease
    let (other, waiting) = sequenced_app(&endpoint, &table, Duration::from_secs(10)).await;
    let started = Instant::now();
    while waiting.sequencer_requests().unwrap_or(0) == 0 {
        assert!(started.elapsed() < Duration::from_secs(30), "the sequencer task never ran");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (before, saving) = (waiting.sequencer_requests().unwrap(), Instant::now());
    register(&other, &mut dogs, 30).await;
    let sent = waiting.sequencer_requests().unwrap() - before;
    // One try per third of the default 10 s lease that the saves took, and the one under way.
    let allowed = 1 + saving.elapsed().as_millis() / 3_333;
    assert!(sent <= allowed as u64, "{sent} requests for 30 saves in {:?}", saving.elapsed());
    let log = log_of(&leader, 31).await;
    check(&leader, &log, &dogs).await;
}

#[aggregate(topic = "sequenced:Tally")]
pub struct Tally {
    seen: u64,
}

#[aggregate]
impl Tally {
    #[event("Started")]
    pub fn start() -> Self {
        Tally { seen: 0 }
    }

    #[event("Seen")]
    pub fn see(&mut self) {
        self.seen += 1;
    }
}

/// Counts every trick added, in one tally.
struct CountTricks(Uuid);

impl Policy for CountTricks {
    async fn process(&self, notified: &Notified, processing: &mut Processing) -> Result<()> {
        let Some(event) = notified.event::<Dog>() else { return Ok(()) };
        let DogEvent::TrickAdded { .. } = &event.payload else { return Ok(()) };
        let mut tally = processing.app().repository().get::<Tally>(self.0).await?;
        tally.see();
        processing.collect(&mut [&mut tally])?;
        Ok(())
    }
}

/// A process application follows a sequenced upstream: `run_until_idle` waits for the log
/// to hold every event committed before it, so one call processes them all, exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_applications_follow_a_sequenced_log() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let school = app_on(&endpoint, &unique_table("sequenced-upstream")).await;
    let counter_app = Application::builder("Counter").isolated().build().await.unwrap();
    let mut tally = Tally::start();
    counter_app.save(&mut [&mut tally]).await.unwrap();
    let counter =
        std::sync::Arc::new(ProcessApplication::new(counter_app, CountTricks(tally.id())));
    let system = System::builder()
        .leader(std::sync::Arc::new(school.clone()))
        .process(counter.clone())
        .pipe("Sequenced", "Counter")
        .build()
        .unwrap();
    let mut tricks = 0;
    for round in 0..3 {
        for n in 0..4 {
            let mut dog = Dog::register(format!("dog {round}-{n}"));
            for trick in 0..=n {
                dog.add_trick(format!("trick {trick}"));
                tricks += 1;
            }
            school.save(&mut [&mut dog]).await.unwrap();
        }
        // No waiting here: run_until_idle itself waits for the sequencer.
        system.run_until_idle().await.unwrap();
        let seen = counter.repository().get::<Tally>(tally.id()).await.unwrap().seen;
        assert_eq!(seen, tricks, "round {round}: every trick counted once");
    }
}

/// The sequencer as a process of its own (`es-sequencer`): applications that leave
/// sequencing to it (`DYNAMO_SEQUENCER=false`) save, and their log fills in. Stopped by
/// SIGTERM, it hands its 30 s lease back, and another process's sequencer carries on at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standalone_sequencer_fills_the_log() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let table = unique_table("sequenced-binary");
    let mut builder = Application::builder("Sequenced").isolated();
    for (key, value) in dynamo_env(&endpoint, &table) {
        builder = builder.env(key, value);
    }
    let app = builder
        .env("DYNAMO_NOTIFICATION_LOG", "sequenced")
        .env("DYNAMO_SEQUENCER", "false")
        .build()
        .await
        .unwrap();
    let mut dogs = Vec::new();
    register(&app, &mut dogs, 6).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.notification_log().max_notification_id().await.unwrap(), 0, "no sequencer yet");
    let sequencer = tokio::process::Command::new(env!("CARGO_BIN_EXE_es-sequencer"))
        .env("DYNAMO_TABLE", &table)
        .env("DYNAMO_ENDPOINT_URL", &endpoint)
        .env("DYNAMO_SEQUENCER_LEASE_SECONDS", "30")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start es-sequencer");
    register(&app, &mut dogs, 4).await;
    let log = log_of(&app, 10).await;
    check(&app, &log, &dogs).await;
    // run_until_idle's wait works through the lease holder's recorded progress too.
    app.recorders().events.sync_log().await.unwrap();

    let pid = sequencer.id().expect("es-sequencer runs").to_string();
    let signalled = std::process::Command::new("kill").args(["-TERM", &pid]).status();
    assert!(signalled.is_ok_and(|status| status.success()), "kill -TERM {pid}");
    let stopped = sequencer.wait_with_output().await.unwrap();
    let said = String::from_utf8_lossy(&stopped.stdout);
    assert!(stopped.status.success() && said.contains("lease is handed back"), "{said}");
    let (successor, _) = sequenced_app(&endpoint, &table, Duration::from_secs(30)).await;
    let handed = Instant::now();
    register(&successor, &mut dogs, 2).await;
    successor.recorders().events.sync_log().await.unwrap();
    assert!(handed.elapsed() < Duration::from_secs(10), "took over after {:?}", handed.elapsed());
    let log = log_of(&successor, 12).await;
    check(&successor, &log, &dogs).await;
}

/// A sequencer whose checkpoint names records the stream no longer holds (as after more
/// than the stream's 24 hours down; simulated by a checkpoint naming a shard the stream
/// does not list) completes the log from the table: events saved while no sequencer ran are
/// logged once, the ones logged already are not logged again, and sequencing carries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_behind_a_trimmed_stream_is_completed_from_the_table() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let Some(endpoint) = dynamo_endpoint() else { return };
    let table = unique_table("sequenced-trimmed");
    let first = app_with_lease(&endpoint, &table, "1").await;
    let mut dogs = Vec::new();
    register(&first, &mut dogs, 5).await;
    log_of(&first, 5).await;
    drop(first);
    tokio::time::sleep(Duration::from_millis(1500)).await; // its lease expires
    let mut builder = Application::builder("Sequenced").isolated();
    for (key, value) in dynamo_env(&endpoint, &table) {
        builder = builder.env(key, value);
    }
    let writer = builder
        .env("DYNAMO_NOTIFICATION_LOG", "sequenced")
        .env("DYNAMO_SEQUENCER", "false")
        .build()
        .await
        .unwrap();
    register(&writer, &mut dogs, 4).await;
    // The last page's checkpoint now names a shard the stream does not list.
    let client = client(&endpoint).await;
    let last = client
        .query()
        .table_name(&table)
        .key_condition_expression("originator_id = :pages")
        .expression_attribute_values(":pages", AttributeValue::S("#pages".into()))
        .scan_index_forward(false)
        .limit(1)
        .send()
        .await
        .unwrap();
    let page = &last.items.unwrap()[0];
    let AttributeValue::S(checkpoint) = &page["checkpoint"] else { panic!("checkpoint") };
    let mut checkpoint: serde_json::Value = serde_json::from_str(checkpoint).unwrap();
    checkpoint["positions"] = serde_json::json!({ "shardId-trimmed-long-ago": "1" });
    checkpoint["seen_until"] = serde_json::json!({ "shardId-trimmed-long-ago": 0 });
    checkpoint["finished"] = serde_json::json!([]);
    client
        .update_item()
        .table_name(&table)
        .key("originator_id", AttributeValue::S("#pages".into()))
        .key("originator_version", page["originator_version"].clone())
        .update_expression("SET #c = :c")
        .expression_attribute_names("#c", "checkpoint")
        .expression_attribute_values(":c", AttributeValue::S(checkpoint.to_string()))
        .send()
        .await
        .unwrap();
    let second = app_with_lease(&endpoint, &table, "1").await;
    let log = log_of(&second, 9).await;
    check(&second, &log, &dogs).await;
    register(&second, &mut dogs, 2).await;
    let log = log_of(&second, 11).await;
    check(&second, &log, &dogs).await;
}
