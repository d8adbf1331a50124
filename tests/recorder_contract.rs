//! The recorder contract: every store must pass these, in memory and on DynamoDB.

mod support;

use eventsourcing_dynamodb::persistence::{
    EventQuery, NotificationQuery, PersistenceError, ProcessRecorder, StoredEvent, Tracking,
};
use eventsourcing_dynamodb::Uuid;
use std::sync::Arc;
use support::*;

/// What a store cannot write in one atomic call, if anything.
#[derive(Clone, Copy)]
struct Limits {
    max_events_per_save: Option<usize>,
    max_item_bytes: Option<usize>,
    max_save_bytes: Option<usize>,
}

const MEMORY: Limits =
    Limits { max_events_per_save: None, max_item_bytes: None, max_save_bytes: None };

/// DynamoDB: 100 actions per transaction (each event also writes its log entry), 400 KB per
/// item, 4 MB per transaction.
const DYNAMODB: Limits = Limits {
    max_events_per_save: Some(50),
    max_item_bytes: Some(400 * 1024),
    max_save_bytes: Some(4 * 1024 * 1024),
};

fn versions(events: &[StoredEvent]) -> Vec<u64> {
    events.iter().map(|e| e.originator_version).collect()
}

async fn select(
    recorder: &dyn ProcessRecorder,
    id: Uuid,
    gt: Option<u64>,
    lte: Option<u64>,
    desc: bool,
    limit: Option<usize>,
) -> Vec<u64> {
    let query = EventQuery { gt, lte, desc, limit };
    versions(&recorder.select_events(id, query).await.expect("select_events"))
}

async fn all_notification_ids(recorder: &dyn ProcessRecorder) -> Vec<u64> {
    let query = NotificationQuery { start: 1, limit: usize::MAX, ..Default::default() };
    recorder
        .select_notifications(query)
        .await
        .expect("select_notifications")
        .iter()
        .map(|n| n.id)
        .collect()
}

async fn inserts_and_selects(recorder: Arc<dyn ProcessRecorder>, _limits: Limits) {
    let id = Uuid::new_v4();
    assert_eq!(select(&*recorder, id, None, None, false, None).await, Vec::<u64>::new());
    let events: Vec<StoredEvent> = (1..=5).map(|v| stored(id, v, "test:A.E")).collect();
    recorder.insert_events(events.clone()).await.unwrap();
    let all = recorder.select_events(id, EventQuery::default()).await.unwrap();
    assert_eq!(all, events, "events come back exactly as stored");
    let r = &*recorder;
    assert_eq!(select(r, id, Some(2), None, false, None).await, [3, 4, 5]);
    assert_eq!(select(r, id, None, Some(3), false, None).await, [1, 2, 3]);
    assert_eq!(select(r, id, Some(1), Some(4), false, None).await, [2, 3, 4]);
    assert_eq!(select(r, id, Some(4), Some(4), false, None).await, Vec::<u64>::new());
    assert_eq!(select(r, id, Some(4), Some(2), false, None).await, Vec::<u64>::new());
    assert_eq!(select(r, id, None, None, true, None).await, [5, 4, 3, 2, 1]);
    assert_eq!(select(r, id, None, None, false, Some(2)).await, [1, 2]);
    assert_eq!(select(r, id, None, None, true, Some(2)).await, [5, 4]);
    assert_eq!(select(r, id, Some(1), None, true, Some(2)).await, [5, 4]);
    assert_eq!(select(r, id, None, Some(3), true, Some(2)).await, [3, 2]);
    assert_eq!(select(r, id, Some(1), Some(4), true, Some(10)).await, [4, 3, 2]);
    assert_eq!(select(r, id, None, None, false, Some(0)).await, Vec::<u64>::new());
}

async fn conflicting_version_writes_nothing(recorder: Arc<dyn ProcessRecorder>, _limits: Limits) {
    let id = Uuid::new_v4();
    let other = Uuid::new_v4();
    recorder.insert_events(vec![stored(id, 1, "t:A.E")]).await.unwrap();
    let before = recorder.max_notification_id().await.unwrap();
    let batch = vec![stored(other, 1, "t:A.E"), stored(id, 2, "t:A.E"), stored(id, 1, "t:A.E")];
    let error = recorder.insert_events(batch).await.unwrap_err();
    match error {
        PersistenceError::Conflict { originator_id, originator_version } => {
            assert_eq!((originator_id, originator_version), (id, 1));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(select(&*recorder, id, None, None, false, None).await, [1]);
    assert_eq!(select(&*recorder, other, None, None, false, None).await, Vec::<u64>::new());
    assert_eq!(
        recorder.max_notification_id().await.unwrap(),
        before,
        "a failed save consumes no ids"
    );
    // The log goes on without a gap.
    let ids = recorder.insert_events(vec![stored(id, 2, "t:A.E")]).await.unwrap();
    assert_eq!(ids, [before + 1]);
}

async fn repeated_version_in_one_batch_is_rejected(
    recorder: Arc<dyn ProcessRecorder>,
    _limits: Limits,
) {
    let id = Uuid::new_v4();
    recorder.insert_events(vec![stored(id, 1, "t:A.E")]).await.unwrap();
    let error = recorder
        .insert_events(vec![stored(id, 2, "t:A.E"), stored(id, 2, "t:A.E")])
        .await
        .unwrap_err();
    assert!(
        matches!(error, PersistenceError::DuplicateInBatch { originator_version: 2, .. }),
        "{error:?}"
    );
    assert_eq!(error.python_class(), "IntegrityError");
    assert_eq!(select(&*recorder, id, None, None, false, None).await, [1]);
}

async fn originators_are_isolated(recorder: Arc<dyn ProcessRecorder>, _limits: Limits) {
    let a = Uuid::new_v4();
    let b = Uuid::new_v4();
    recorder
        .insert_events(vec![stored(a, 1, "t:A.E"), stored(b, 1, "t:A.E"), stored(a, 2, "t:A.E")])
        .await
        .unwrap();
    recorder.insert_events(vec![stored(b, 2, "t:A.E")]).await.unwrap();
    assert_eq!(select(&*recorder, a, None, None, false, None).await, [1, 2]);
    let b_events = recorder.select_events(b, EventQuery::default()).await.unwrap();
    assert!(b_events.iter().all(|e| e.originator_id == b));
    assert_eq!(versions(&b_events), [1, 2]);
}

async fn large_aggregates_load_completely(recorder: Arc<dyn ProcessRecorder>, limits: Limits) {
    // 300 events of 5 KB: 1.5 MB, more than one 1 MB DynamoDB query page.
    let id = Uuid::new_v4();
    let per_save = limits.max_events_per_save.unwrap_or(300).min(40);
    let events: Vec<StoredEvent> = (1..=300).map(|v| stored_sized(id, v, 5 * 1024)).collect();
    for chunk in events.chunks(per_save) {
        recorder.insert_events(chunk.to_vec()).await.unwrap();
    }
    let loaded = recorder.select_events(id, EventQuery::default()).await.unwrap();
    assert_eq!(loaded.len(), 300);
    assert_eq!(versions(&loaded), (1..=300).collect::<Vec<_>>());
    let newest = recorder
        .select_events(id, EventQuery { desc: true, limit: Some(250), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(versions(&newest), (51..=300).rev().collect::<Vec<_>>());
    let tail = recorder
        .select_events(id, EventQuery { gt: Some(10), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(tail.len(), 290);
}

async fn oversized_saves_are_rejected_unwritten(
    recorder: Arc<dyn ProcessRecorder>,
    limits: Limits,
) {
    let id = Uuid::new_v4();
    let before = recorder.max_notification_id().await.unwrap();
    // Too many events for one atomic write.
    let count = limits.max_events_per_save.map_or(200, |max| max + 1);
    let many: Vec<StoredEvent> = (1..=count as u64).map(|v| stored(id, v, "t:A.E")).collect();
    let result = recorder.insert_events(many).await;
    match limits.max_events_per_save {
        Some(_) => {
            let error = result.unwrap_err();
            assert!(matches!(error, PersistenceError::LimitExceeded { .. }), "{error:?}");
            assert_eq!(select(&*recorder, id, None, None, false, None).await, Vec::<u64>::new());
        }
        None => {
            assert_eq!(result.unwrap().len(), count);
            assert_eq!(select(&*recorder, id, None, None, false, None).await.len(), count);
        }
    }
    // One item over the item limit.
    let big_id = Uuid::new_v4();
    if let Some(max) = limits.max_item_bytes {
        let error = recorder
            .insert_events(vec![stored(big_id, 1, "t:A.E"), stored_sized(big_id, 2, max + 1)])
            .await
            .unwrap_err();
        assert!(
            matches!(error, PersistenceError::LimitExceeded { limit: "bytes per item", .. }),
            "{error:?}"
        );
        assert_eq!(select(&*recorder, big_id, None, None, false, None).await, Vec::<u64>::new());
    }
    // Items within the item limit that together exceed the transaction limit.
    if let Some(max) = limits.max_save_bytes {
        let size = 300 * 1024;
        let count = max / size / 2 + 2;
        let events: Vec<StoredEvent> =
            (1..=count as u64).map(|v| stored_sized(big_id, v, size)).collect();
        let error = recorder.insert_events(events).await.unwrap_err();
        assert!(
            matches!(error, PersistenceError::LimitExceeded { limit: "bytes per transaction", .. }),
            "{error:?}"
        );
        assert_eq!(select(&*recorder, big_id, None, None, false, None).await, Vec::<u64>::new());
    }
    if limits.max_events_per_save.is_some() {
        assert_eq!(recorder.max_notification_id().await.unwrap(), before);
    }
}

async fn notifications_follow_pythons_cases(recorder: Arc<dyn ProcessRecorder>, _limits: Limits) {
    assert_eq!(recorder.max_notification_id().await.unwrap(), 0);
    assert_eq!(all_notification_ids(&*recorder).await, Vec::<u64>::new());
    let a = Uuid::new_v4();
    let b = Uuid::new_v4();
    let ids = recorder
        .insert_events(vec![stored(a, 1, "t:A.Created"), stored(a, 2, "t:A.Changed")])
        .await
        .unwrap();
    assert_eq!(ids, [1, 2]);
    let ids = recorder.insert_events(vec![stored(b, 1, "t:B.Created")]).await.unwrap();
    assert_eq!(ids, [3]);
    assert_eq!(recorder.max_notification_id().await.unwrap(), 3);

    let select = |start, limit, stop, topics: &[&str]| {
        let recorder = recorder.clone();
        let query = NotificationQuery {
            start,
            limit,
            stop,
            topics: topics.iter().map(|t| t.to_string()).collect(),
        };
        async move {
            recorder
                .select_notifications(query)
                .await
                .unwrap()
                .into_iter()
                .map(|n| n.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(select(1, 10, None, &[]).await, [1, 2, 3]);
    assert_eq!(select(0, 10, None, &[]).await, [1, 2, 3], "start 0 means 1");
    assert_eq!(select(2, 10, None, &[]).await, [2, 3]);
    assert_eq!(select(1, 2, None, &[]).await, [1, 2]);
    assert_eq!(select(2, 1, None, &[]).await, [2]);
    assert_eq!(select(1, 10, Some(2), &[]).await, [1, 2]);
    assert_eq!(select(3, 10, Some(2), &[]).await, Vec::<u64>::new());
    assert_eq!(select(4, 10, None, &[]).await, Vec::<u64>::new());
    assert_eq!(select(1, 0, None, &[]).await, Vec::<u64>::new());
    assert_eq!(select(1, 10, None, &["t:A.Created", "t:B.Created"]).await, [1, 3]);
    assert_eq!(select(1, 1, None, &["t:B.Created"]).await, [3]);
    assert_eq!(select(1, 10, Some(2), &["t:B.Created"]).await, Vec::<u64>::new());

    let notifications = recorder
        .select_notifications(NotificationQuery { start: 1, limit: 10, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(
        notifications[1].event,
        stored(a, 2, "t:A.Changed"),
        "notifications carry the event"
    );
}

async fn tracking_records_are_atomic_and_unique(
    recorder: Arc<dyn ProcessRecorder>,
    _limits: Limits,
) {
    let upstream = "Upstream";
    assert_eq!(recorder.max_tracking_id(upstream).await.unwrap(), 0);
    assert!(!recorder.has_tracking_id(upstream, 1).await.unwrap());
    let id = Uuid::new_v4();
    let tracking = |n| Tracking { application_name: upstream.to_owned(), notification_id: n };
    recorder.insert_events_tracked(vec![stored(id, 1, "t:A.E")], tracking(1)).await.unwrap();
    assert!(recorder.has_tracking_id(upstream, 1).await.unwrap());
    assert_eq!(recorder.max_tracking_id(upstream).await.unwrap(), 1);
    assert_eq!(recorder.max_tracking_id("Other").await.unwrap(), 0);

    // Processing notification 1 again writes nothing.
    let error = recorder
        .insert_events_tracked(vec![stored(id, 2, "t:A.E")], tracking(1))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, PersistenceError::TrackingConflict { application_name, notification_id: 1 } if application_name == upstream),
        "{error:?}"
    );
    assert_eq!(select(&*recorder, id, None, None, false, None).await, [1]);
    assert_eq!(recorder.max_notification_id().await.unwrap(), 1);

    // A tracking record with no events is allowed (the policy had nothing to say).
    recorder.insert_events_tracked(Vec::new(), tracking(2)).await.unwrap();
    assert!(recorder.has_tracking_id(upstream, 2).await.unwrap());
    let error = recorder.insert_events_tracked(Vec::new(), tracking(2)).await.unwrap_err();
    assert!(matches!(error, PersistenceError::TrackingConflict { .. }), "{error:?}");

    // A conflicting event writes no tracking record either.
    let error = recorder
        .insert_events_tracked(vec![stored(id, 1, "t:A.E")], tracking(5))
        .await
        .unwrap_err();
    assert!(error.is_conflict(), "{error:?}");
    assert!(!recorder.has_tracking_id(upstream, 5).await.unwrap());
    recorder.insert_events_tracked(Vec::new(), tracking(7)).await.unwrap();
    assert_eq!(recorder.max_tracking_id(upstream).await.unwrap(), 7);
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod memory {
            use super::*;
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(Arc::new(memory_recorder()), MEMORY).await;
                }
            )*
        }

        mod dynamodb {
            use super::*;
            $(
                #[tokio::test]
                async fn $case() {
                    let Some(endpoint) = dynamo_endpoint() else { return };
                    super::$case(Arc::new(dynamo_recorder(&endpoint, true).await), DYNAMODB).await;
                }
            )*
        }
    };
}

contract!(
    inserts_and_selects,
    conflicting_version_writes_nothing,
    repeated_version_in_one_batch_is_rejected,
    originators_are_isolated,
    large_aggregates_load_completely,
    oversized_saves_are_rejected_unwritten,
    notifications_follow_pythons_cases,
    tracking_records_are_atomic_and_unique,
);
