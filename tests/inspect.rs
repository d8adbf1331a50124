//! The table inspector (`eventsourcing-inspect`) against a local DynamoDB server: histories,
//! the log (read and followed), trackers, the writer's state and verification of a table
//! written by an application, then of the same table corrupted behind the library's back.

mod support;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use eventsourcing_dynamodb::persistence::{ProcessRecorder, Tracking};
use eventsourcing_dynamodb::prelude::*;
use eventsourcing_dynamodb::{Environment, Root};
use eventsourcing_inspect::check::Problem;
use eventsourcing_inspect::{DecodeFailure, InspectError, Inspector, LogLine};
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::time::Duration;
use support::*;

#[aggregate(topic = "kennel:Dog")]
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

async fn app_on(env: &HashMap<String, String>) -> Application {
    let mut builder = Application::builder("Kennel").isolated();
    for (key, value) in env {
        builder = builder.env(key, value);
    }
    builder.build().await.expect("application on DynamoDB")
}

async fn inspector_on(env: &HashMap<String, String>) -> Inspector {
    Inspector::from_env(&Environment::isolated("Kennel", env.clone())).await.expect("inspector")
}

fn no_progress() -> impl FnMut(eventsourcing_inspect::ScanProgress) {
    |_| {}
}

/// Saves dogs: Fido (3 events), Rex (1), Bella (2), in three saves: log ids 1..6.
async fn save_dogs(app: &Application) -> (Root<Dog>, Root<Dog>, Root<Dog>) {
    let mut fido = Dog::register("Fido".into());
    fido.add_trick("roll over".into());
    fido.add_trick("play dead".into());
    app.save(&mut [&mut fido]).await.unwrap();
    let mut rex = Dog::register("Rex".into());
    let mut bella = Dog::register("Bella".into());
    bella.add_trick("fetch".into());
    app.save(&mut [&mut rex, &mut bella]).await.unwrap();
    (fido, rex, bella)
}

fn log_key(id: u64) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("originator_id".to_owned(), AttributeValue::S("#notifications".to_owned())),
        ("originator_version".to_owned(), AttributeValue::N(id.to_string())),
    ])
}

#[tokio::test]
async fn inspects_and_verifies_a_table_then_finds_each_corruption() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let table = unique_table("inspect");
    let env = dynamo_env(&endpoint, &table);
    let app = app_on(&env).await;
    let (fido, rex, bella) = save_dogs(&app).await;
    let inspector = inspector_on(&env).await;

    // history: every event, state decoded.
    let history = inspector.history(fido.id(), 1).await.unwrap();
    assert_eq!(history.iter().map(|e| e.version).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(history[0].topic, "kennel:Dog.Registered");
    assert_eq!(history[0].state["name"], "Fido");
    assert_eq!(history[2].topic, "kennel:Dog.TrickAdded");
    assert_eq!(history[2].state["trick"], "play dead");
    assert!(history[0].created_at.is_some());
    let later = inspector.history(fido.id(), 2).await.unwrap();
    assert_eq!(later.iter().map(|e| e.version).collect::<Vec<_>>(), [2, 3]);
    assert!(inspector.history(Uuid::new_v4(), 1).await.unwrap().is_empty());

    // log: from a position, limited.
    let log = inspector.log(1, None).await.unwrap();
    assert_eq!(log.iter().map(|l| l.id).collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6]);
    let order: Vec<(Uuid, u64)> = log.iter().map(|l| (l.aggregate, l.version)).collect();
    assert_eq!(
        order,
        [
            (fido.id(), 1),
            (fido.id(), 2),
            (fido.id(), 3),
            (rex.id(), 1),
            (bella.id(), 1),
            (bella.id(), 2)
        ]
    );
    assert_eq!(log[4].topic, "kennel:Dog.Registered");
    let page = inspector.log(3, Some(2)).await.unwrap();
    assert_eq!(page.iter().map(|l| l.id).collect::<Vec<_>>(), [3, 4]);

    // follow: sees what is there, then a save made while it polls.
    let mut followed: Vec<LogLine> = Vec::new();
    let mut rex_again = app.repository().get::<Dog>(rex.id()).await.unwrap();
    let saving = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        rex_again.add_trick("sit".into());
        app.save(&mut [&mut rex_again]).await.unwrap();
    };
    let following = inspector.follow_log(
        5,
        Duration::from_millis(50),
        tokio::time::sleep(Duration::from_secs(20)),
        |line| {
            followed.push(line.clone());
            Ok(if followed.len() == 3 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) })
        },
    );
    let ((), next) = tokio::join!(saving, following);
    assert_eq!(next.unwrap(), 8);
    assert_eq!(followed.iter().map(|l| l.id).collect::<Vec<_>>(), [5, 6, 7]);
    assert_eq!((followed[2].aggregate, followed[2].version), (rex.id(), 2));
    // A follow that is stopped returns where it would go on.
    let stopped = inspector
        .follow_log(
            8,
            Duration::from_millis(20),
            tokio::time::sleep(Duration::from_millis(100)),
            |_| panic!("nothing after 7"),
        )
        .await
        .unwrap();
    assert_eq!(stopped, 8);

    // trackers: a follower in this table has processed upstream notifications 1..=4.
    let follower = dynamo_recorder_on(&endpoint, &table, true).await;
    for id in 1..=4 {
        let tracking = Tracking { application_name: "Kennel".into(), notification_id: id };
        follower.insert_events_tracked(Vec::new(), tracking).await.unwrap();
    }
    let tracking = Tracking { application_name: "Elsewhere".into(), notification_id: 40 };
    follower.insert_events_tracked(Vec::new(), tracking).await.unwrap();
    let trackers = inspector.trackers(&|_| None, &mut no_progress()).await.unwrap();
    assert_eq!(trackers.len(), 2, "{trackers:?}");
    let elsewhere = &trackers[0];
    assert_eq!(
        (elsewhere.upstream.as_str(), elsewhere.position, elsewhere.lag),
        ("Elsewhere", 40, -33)
    );
    let kennel = &trackers[1];
    assert_eq!(kennel.upstream, "Kennel");
    assert_eq!((kennel.position, kennel.tracking_items, kennel.log_end, kennel.lag), (4, 4, 7, 3));
    assert_eq!(kennel.log_table, table);
    // The lag against another table's log (here an empty one).
    let other = unique_table("inspect-upstream");
    let _other_app = app_on(&dynamo_env(&endpoint, &other)).await;
    let trackers = inspector
        .trackers(&|name| (name == "Elsewhere").then(|| other.clone()), &mut no_progress())
        .await
        .unwrap();
    assert_eq!(
        (trackers[0].log_table.as_str(), trackers[0].log_end, trackers[0].lag),
        (other.as_str(), 0, -40)
    );

    // writer: the last id and the number of log items.
    let writer = inspector.writer().await.unwrap();
    assert_eq!((writer.last_id, writer.log_items, writer.missing_ids), (7, 7, 0));

    // verify: clean, and the progress callback saw the whole table.
    let mut scanned = 0;
    let report = inspector.verify(100, &mut |p| scanned = p.items).await.unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    let s = &report.summary;
    assert_eq!(
        (s.events, s.aggregates, s.log_entries, s.last_id, s.tracking_items),
        (7, 3, 7, 7, 5)
    );
    assert_eq!((s.items, scanned), (19, 19));

    // Small pages (two items per Query/Scan request) give the same answers.
    let paged = inspector_on(&env).await.with_page_size(2);
    assert_eq!(paged.history(fido.id(), 1).await.unwrap(), history);
    assert_eq!(paged.log(1, None).await.unwrap(), inspector.log(1, None).await.unwrap());
    let page = paged.log(2, Some(3)).await.unwrap();
    assert_eq!(page.iter().map(|l| l.id).collect::<Vec<_>>(), [2, 3, 4]);
    assert_eq!(
        paged.trackers(&|_| None, &mut no_progress()).await.unwrap(),
        inspector.trackers(&|_| None, &mut no_progress()).await.unwrap()
    );
    assert_eq!(paged.writer().await.unwrap(), writer);
    let mut pages = 0;
    assert_eq!(paged.verify(100, &mut |p| pages = p.pages).await.unwrap(), report);
    assert!(pages >= 10, "{pages} pages of at most 2 items for 19 items");
    // So does a parallel scan in 3 segments.
    let segmented = inspector_on(&env).await.with_page_size(3).with_segments(3);
    assert_eq!(segmented.verify(100, &mut no_progress()).await.unwrap(), report);
    assert_eq!(
        segmented.trackers(&|_| None, &mut no_progress()).await.unwrap(),
        inspector.trackers(&|_| None, &mut no_progress()).await.unwrap()
    );

    // Now corrupt the table behind the library's back.
    let client = inspector.client();
    // 1. Delete log item 2 (Fido v2): a gap, and Fido v2 is missing from the log.
    client.delete_item().table_name(&table).set_key(Some(log_key(2))).send().await.unwrap();
    // 2. Put log item 8 repeating log item 4 (Rex v1): a duplicate (and Rex v1 after v2 at 7).
    let four = client
        .get_item()
        .table_name(&table)
        .set_key(Some(log_key(4)))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let mut eight = four.clone();
    eight.insert("originator_version".into(), AttributeValue::N("8".into()));
    client.put_item().table_name(&table).set_item(Some(eight)).send().await.unwrap();
    // 3. Put an event item without a log entry.
    let stray = Uuid::new_v4();
    let mut event = HashMap::from([
        ("originator_id".to_owned(), AttributeValue::S(stray.hyphenated().to_string())),
        ("originator_version".to_owned(), AttributeValue::N("1".into())),
        ("topic".to_owned(), AttributeValue::S("kennel:Dog.Registered".into())),
        ("created_at".to_owned(), AttributeValue::N("1700000000".into())),
    ]);
    event.insert("state".into(), AttributeValue::B(Blob::new(b"{\"name\":\"Stray\"}".to_vec())));
    client.put_item().table_name(&table).set_item(Some(event)).send().await.unwrap();
    // 4. Change the state carried by log item 6 (Bella v2).
    let mut six = log_key(6);
    six.extend([
        ("event_id".to_owned(), AttributeValue::S(bella.id().hyphenated().to_string())),
        ("event_version".to_owned(), AttributeValue::N("2".into())),
        ("topic".to_owned(), AttributeValue::S("kennel:Dog.TrickAdded".into())),
        ("state".to_owned(), AttributeValue::B(Blob::new(b"{\"trick\":\"forged\"}".to_vec()))),
    ]);
    client.put_item().table_name(&table).set_item(Some(six)).send().await.unwrap();

    let report = inspector.verify(100, &mut no_progress()).await.unwrap();
    assert!(!report.is_clean());
    let expect = |problem: Problem| {
        assert!(report.problems.contains(&problem), "{problem:?} not in {:#?}", report.problems)
    };
    expect(Problem::Gap { from: 2, to: 2 });
    expect(Problem::MissingFromLog { originator_id: fido.id(), originator_version: 2 });
    expect(Problem::DuplicateInLog {
        originator_id: rex.id(),
        originator_version: 1,
        ids: vec![4, 8],
    });
    expect(Problem::OutOfOrder {
        originator_id: rex.id(),
        earlier_id: 7,
        earlier_version: 2,
        later_id: 8,
        later_version: 1,
    });
    expect(Problem::MissingFromLog { originator_id: stray, originator_version: 1 });
    assert!(report.problems.iter().any(|p| matches!(
        p,
        Problem::StateMismatch { id: 6, originator_id, originator_version: 2, .. } if *originator_id == bella.id()
    )));
    assert_eq!(report.problems_total, 6, "{:#?}", report.problems);
    assert_eq!(report.summary.missing_ids, 1);
    let writer = inspector.writer().await.unwrap();
    assert_eq!((writer.last_id, writer.log_items, writer.missing_ids), (8, 7, 1));

    // A bounded list still counts everything.
    let short = inspector.verify(2, &mut no_progress()).await.unwrap();
    assert_eq!((short.problems.len(), short.problems_total), (2, 6));
}

#[tokio::test]
async fn decodes_compressed_and_encrypted_state_with_the_applications_settings() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let table = unique_table("inspect-cipher");
    let mut env = dynamo_env(&endpoint, &table);
    env.insert("KENNEL_COMPRESSOR_TOPIC".into(), "eventsourcing.compressor:ZlibCompressor".into());
    env.insert(
        "KENNEL_CIPHER_KEY".into(),
        eventsourcing_dynamodb::persistence::generate_cipher_key(),
    );
    let app = app_on(&env).await;
    let (fido, _, _) = save_dogs(&app).await;

    let history = inspector_on(&env).await.history(fido.id(), 1).await.unwrap();
    assert_eq!(history[1].state["trick"], "roll over");
    assert!(inspector_on(&env).await.verify(10, &mut no_progress()).await.unwrap().is_clean());

    // Without the key the state does not open: a typed error naming the event.
    env.remove("KENNEL_CIPHER_KEY");
    let error = inspector_on(&env).await.history(fido.id(), 1).await.unwrap_err();
    match &error {
        InspectError::Decode { originator_id, originator_version: 1, problem, .. } => {
            assert_eq!(*originator_id, fido.id());
            assert!(matches!(problem, DecodeFailure::Open(_)), "{problem}");
        }
        other => panic!("expected a decode error, got {other}"),
    }
    assert!(error.to_string().contains(&fido.id().to_string()), "{error}");

    // A table that does not exist is an error naming it.
    let mut missing = dynamo_env(&endpoint, "inspect-no-such-table");
    missing.remove("CREATE_TABLE");
    let error = inspector_on(&missing).await.writer().await.unwrap_err().to_string();
    assert!(error.contains("inspect-no-such-table"), "{error}");
}

/// A table with the sequenced log: the inspector reads its pages (log, last id, writer) and
/// verifies them against the events; the lease item is known, not an unknown item.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspects_and_verifies_a_sequenced_log() {
    let Some(endpoint) = dynamo_endpoint() else { return };
    let table = unique_table("inspect-sequenced");
    let mut env = dynamo_env(&endpoint, &table);
    env.insert("DYNAMO_NOTIFICATION_LOG".into(), "sequenced".into());
    let app = app_on(&env).await;
    let (fido, rex, bella) = save_dogs(&app).await;
    app.recorders().events.sync_log().await.unwrap();
    let inspector = inspector_on(&env).await;
    let log = inspector.log(1, None).await.unwrap();
    assert_eq!(log.iter().map(|l| l.id).collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6]);
    let mut keys: Vec<(Uuid, u64)> = log.iter().map(|l| (l.aggregate, l.version)).collect();
    keys.sort();
    let mut expected = vec![
        (fido.id(), 1),
        (fido.id(), 2),
        (fido.id(), 3),
        (rex.id(), 1),
        (bella.id(), 1),
        (bella.id(), 2),
    ];
    expected.sort();
    assert_eq!(keys, expected);
    assert_eq!(
        inspector.log(4, Some(2)).await.unwrap().iter().map(|l| l.id).collect::<Vec<_>>(),
        [4, 5]
    );
    let writer = inspector.writer().await.unwrap();
    assert_eq!((writer.last_id, writer.log_items, writer.missing_ids), (6, 6, 0));
    let report = inspector.verify(100, &mut no_progress()).await.unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.summary.log_entries, 6);
}
