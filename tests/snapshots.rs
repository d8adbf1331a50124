//! Snapshots and the aggregate cache, in memory and on DynamoDB: Python's snapshot cases,
//! interval snapshots, request costs, cache hits, fast-forward and staleness.

mod support;

use eventsourcing_dynamodb::application::snapshot;
use eventsourcing_dynamodb::persistence::{EventQuery, StoredEvent};
use eventsourcing_dynamodb::prelude::*;
use std::collections::HashMap;
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

    #[event("TrickAdded")]
    pub fn add_trick(&mut self, trick: String) {
        self.tricks.push(trick);
    }
}

/// Settings for an application on a fresh store: in memory, or a new DynamoDB table.
fn stores() -> Vec<HashMap<String, String>> {
    let mut stores = vec![HashMap::new()];
    if let Some(endpoint) = dynamo_endpoint() {
        stores.push(dynamo_env(&endpoint, &unique_table("snapshots")));
    }
    stores
}

async fn app(env: &HashMap<String, String>, extra: &[(&str, &str)]) -> Application {
    let mut builder = Application::builder("Kennel").isolated();
    for (key, value) in env.iter() {
        builder = builder.env(key, value);
    }
    for (key, value) in extra {
        builder = builder.env(*key, *value);
    }
    builder.build().await.unwrap()
}

async fn snapshot_versions(app: &Application, id: Uuid) -> Vec<u64> {
    let stored = app.recorders().snapshots.select_events(id, EventQuery::default()).await.unwrap();
    stored.iter().map(|s| s.originator_version).collect()
}

fn requests(app: &Application) -> Option<u64> {
    app.recorders().events.request_count()
}

#[tokio::test]
async fn pythons_snapshot_cases() {
    for env in stores() {
        let app = app(&env, &[("IS_SNAPSHOTTING_ENABLED", "y")]).await;
        let mut dog = Dog::register("Fido".into());
        for trick in ["roll over", "play dead", "sit"] {
            dog.add_trick(trick.into());
        }
        app.save(&mut dog).await.unwrap();
        let id = dog.id();
        app.take_snapshot::<Dog>(id, Some(2)).await.unwrap();
        assert_eq!(snapshot_versions(&app, id).await, [2]);
        let at_three = app.repository().get_at::<Dog>(id, 3).await.unwrap();
        assert_eq!(at_three.tricks, ["roll over", "play dead"]);
        assert_eq!(at_three.version(), 3);
        let at_one = app.repository().get_at::<Dog>(id, 1).await.unwrap();
        assert!(at_one.tricks.is_empty(), "a version before every snapshot replays from the start");
        app.take_snapshot::<Dog>(id, None).await.unwrap();
        assert_eq!(snapshot_versions(&app, id).await, [2, 4]);
        // Taking one again changes nothing; a snapshot is never replaced.
        app.take_snapshot::<Dog>(id, Some(2)).await.unwrap();
        assert_eq!(snapshot_versions(&app, id).await, [2, 4]);
        let latest = app.repository().get::<Dog>(id).await.unwrap();
        assert_eq!(latest.tricks, ["roll over", "play dead", "sit"]);
        assert_eq!(
            (latest.version(), latest.created_on(), latest.modified_on()),
            (4, dog.created_on(), dog.modified_on())
        );
    }
}

#[tokio::test]
async fn snapshots_need_snapshotting_on() {
    let app = Application::builder("Kennel").isolated().build().await.unwrap();
    let mut dog = Dog::register("Fido".into());
    app.save(&mut dog).await.unwrap();
    let error = app.take_snapshot::<Dog>(dog.id(), None).await.unwrap_err();
    assert!(error.to_string().contains("IS_SNAPSHOTTING_ENABLED"), "{error}");
}

#[tokio::test]
async fn interval_snapshots() {
    for env in stores() {
        let mut builder = Application::builder("Kennel").isolated().snapshot_every::<Dog>(5);
        for (key, value) in &env {
            builder = builder.env(key, value);
        }
        let app = builder.build().await.unwrap();
        let mut dog = Dog::register("Fido".into());
        app.save(&mut dog).await.unwrap();
        for trick in 0..11 {
            dog.add_trick(format!("trick-{trick}"));
            app.save(&mut dog).await.unwrap();
        }
        assert_eq!(snapshot_versions(&app, dog.id()).await, [5, 10]);
        // A save that passes a multiple snapshots the state after the whole save.
        for trick in 11..16 {
            dog.add_trick(format!("trick-{trick}"));
        }
        app.save(&mut dog).await.unwrap();
        assert_eq!(snapshot_versions(&app, dog.id()).await, [5, 10, 17]);
        let loaded = app.repository().get::<Dog>(dog.id()).await.unwrap();
        assert_eq!(loaded.tricks.len(), 16);
        assert_eq!(loaded.version(), 17);
    }
}

/// A 10,000-event aggregate (over 1 MB on DynamoDB) with a recent snapshot loads in two
/// requests: the snapshot and the events after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_aggregates_load_from_a_snapshot_in_two_requests() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let env = dynamo_env(&endpoint, &unique_table("long"));
    let app = app(&env, &[("IS_SNAPSHOTTING_ENABLED", "true")]).await;
    let mut dog = Dog::register("Methuselah".into());
    for trick in 0..9_999 {
        dog.add_trick(format!("trick number {trick:05}"));
        if dog.pending_events().len() == 50 {
            app.save(&mut dog).await.unwrap();
        }
    }
    app.save(&mut dog).await.unwrap();
    assert_eq!(dog.version(), 10_000);
    let id = dog.id();

    let before = requests(&app).unwrap();
    let replayed = app.repository().get_at::<Dog>(id, 9_990).await.unwrap();
    let full_replay_requests = requests(&app).unwrap() - before;
    assert!(full_replay_requests >= 2, "over 1 MB takes several pages: {full_replay_requests}");
    assert_eq!(replayed.tricks.len(), 9_989);

    app.take_snapshot::<Dog>(id, Some(9_990)).await.unwrap();
    let before = requests(&app).unwrap();
    let loaded = app.repository().get::<Dog>(id).await.unwrap();
    let snapshot_requests = requests(&app).unwrap() - before;
    assert_eq!(loaded.tricks.len(), 9_999);
    assert_eq!(loaded.version(), 10_000);
    assert!(snapshot_requests <= 2, "loading with a snapshot took {snapshot_requests} requests");
}

#[tokio::test]
async fn decodes_a_python_snapshot() {
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/python/snapshot.json")).unwrap();
    let record = &fixture["records"][0];
    let stored = StoredEvent {
        originator_id: record["originator_id"].as_str().unwrap().parse().unwrap(),
        originator_version: record["originator_version"].as_u64().unwrap(),
        topic: record["topic"].as_str().unwrap().to_owned(),
        state: record["state_utf8"].as_str().unwrap().as_bytes().to_vec(),
    };
    let mapper = eventsourcing_dynamodb::persistence::Mapper::new();
    let dog = snapshot::decode::<Dog>(&mapper, &stored).unwrap();
    assert_eq!(dog.tricks, ["roll over", "play dead"]);
    assert_eq!(dog.version(), 3);
    // Rust writes the same structure: topic, then state with Python's own keys first.
    let encoded = snapshot::encode(&mapper, &dog).unwrap();
    assert_eq!(encoded.topic, "eventsourcing.domain:Snapshot");
    let ours = String::from_utf8(encoded.state).unwrap();
    let theirs = record["state_utf8"].as_str().unwrap();
    let tail = |s: &str| s[s.find(",\"topic\"").unwrap()..].to_owned();
    assert_eq!(tail(&ours), tail(theirs), "identical apart from the snapshot's own timestamp");
}

#[tokio::test]
async fn cache_hits_cost_no_reads() {
    for env in stores() {
        let app = app(
            &env,
            &[("AGGREGATE_CACHE_MAXSIZE", "100"), ("AGGREGATE_CACHE_FASTFORWARD", "false")],
        )
        .await;
        let mut dog = Dog::register("Fido".into());
        app.save(&mut dog).await.unwrap();
        let before = requests(&app);
        for trick in 0..10 {
            let mut dog = app.repository().get::<Dog>(dog.id()).await.unwrap();
            dog.add_trick(format!("trick-{trick}"));
            app.save(&mut dog).await.unwrap();
        }
        if let (Some(before), Some(after)) = (before, requests(&app)) {
            assert_eq!(after - before, 10, "one write request per command, no reads");
        }
        let stored = app.repository().load_latest::<Dog>(dog.id()).await.unwrap();
        assert_eq!(stored.tricks.len(), 10);
    }
}

#[tokio::test]
async fn cache_fast_forwards_and_never_overwrites_newer_events() {
    for env in stores() {
        // Three applications on one store (in memory they share the recorders).
        let cached = app(&env, &[("AGGREGATE_CACHE_MAXSIZE", "0")]).await;
        let share = |extra: &'static [(&'static str, &'static str)]| {
            let mut builder =
                Application::builder("Kennel").isolated().recorders(cached.recorders().clone());
            for (key, value) in extra {
                builder = builder.env(*key, *value);
            }
            builder.build()
        };
        let stale =
            share(&[("AGGREGATE_CACHE_MAXSIZE", "10"), ("AGGREGATE_CACHE_FASTFORWARD", "no")])
                .await
                .unwrap();
        let other = share(&[]).await.unwrap();
        let mut dog = Dog::register("Fido".into());
        cached.save(&mut dog).await.unwrap();
        let id = dog.id();
        // Both caches hold version 1.
        assert_eq!(cached.repository().get::<Dog>(id).await.unwrap().version(), 1);
        assert_eq!(stale.repository().get::<Dog>(id).await.unwrap().version(), 1);
        // Another writer moves the dog on.
        let mut elsewhere = other.repository().get::<Dog>(id).await.unwrap();
        elsewhere.add_trick("sit".into());
        other.save(&mut elsewhere).await.unwrap();
        // Fast-forward (the default) sees it.
        assert_eq!(cached.repository().get::<Dog>(id).await.unwrap().tricks, ["sit"]);
        // Without fast-forward the cached copy is stale, but its save cannot overwrite.
        let mut old = stale.repository().get::<Dog>(id).await.unwrap();
        assert_eq!(old.version(), 1);
        old.add_trick("beg".into());
        assert!(stale.save(&mut old).await.unwrap_err().is_conflict());
        // The conflict evicted the stale copy; the retry helper gets the command through.
        stale.update::<Dog, _>(id, |dog| dog.add_trick("beg".into())).await.unwrap();
        let stored = other.repository().get::<Dog>(id).await.unwrap();
        assert_eq!(stored.tricks, ["sit", "beg"]);
    }
}

/// An interval snapshot that cannot be stored (over DynamoDB's 400 KB item limit) does not
/// fail the save that committed the events: the save returns its notification ids, the
/// events are no longer pending, the next save does not conflict, and loading replays.
#[tokio::test]
async fn a_snapshot_too_large_to_store_does_not_fail_the_save() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let env = dynamo_env(&endpoint, &unique_table("bigsnap"));
    let mut builder = Application::builder("Kennel").isolated().snapshot_every::<Dog>(3);
    for (key, value) in &env {
        builder = builder.env(key, value);
    }
    let app = builder.build().await.unwrap();
    let mut dog = Dog::register("Heavy".into());
    dog.add_trick("a".repeat(250_000));
    dog.add_trick("b".repeat(250_000));
    let ids = app.save(&mut dog).await.unwrap();
    assert_eq!(ids.len(), 3);
    assert!(dog.pending_events().is_empty(), "the committed events are no longer pending");
    assert_eq!(snapshot_versions(&app, dog.id()).await, Vec::<u64>::new());

    dog.add_trick("sit".into());
    app.save(&mut dog).await.unwrap();
    let loaded = app.repository().get::<Dog>(dog.id()).await.unwrap();
    assert_eq!((loaded.version(), loaded.tricks.len()), (4, 3));
}
