//! Snapshots in Python eventsourcing's format: topic `eventsourcing.domain:Snapshot`, state
//! `{"timestamp":…,"topic":"<aggregate topic>","state":{"_created_on":…,"_modified_on":…,<fields>…}}`
//! with the aggregate's `class_version` last in the nested state when it is above 1.

use crate::domain::{upcast, Aggregate, Root};
use crate::persistence::{DecodeError, DecodeProblem, EncodeError, Mapper, StoredEvent};
use crate::transcoding;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The topic Python eventsourcing stores snapshots under.
pub const SNAPSHOT_TOPIC: &str = "eventsourcing.domain:Snapshot";

#[derive(Serialize)]
struct Written<'a, A> {
    #[serde(rename = "_created_on", with = "transcoding")]
    created_on: &'a OffsetDateTime,
    #[serde(rename = "_modified_on", with = "transcoding")]
    modified_on: &'a OffsetDateTime,
    #[serde(flatten)]
    state: &'a A,
}

#[derive(Deserialize)]
struct Read {
    #[serde(with = "transcoding")]
    timestamp: OffsetDateTime,
    topic: String,
    state: crate::domain::StateObject,
}

/// Encodes a snapshot of `root` at its current version.
pub fn encode<A: Aggregate>(mapper: &Mapper, root: &Root<A>) -> Result<StoredEvent, EncodeError> {
    let fail = |message: String| EncodeError {
        originator_id: root.id(),
        originator_version: root.version(),
        topic: SNAPSHOT_TOPIC.to_owned(),
        message,
    };
    let mut inner = serde_json::to_vec(&Written {
        created_on: &root.created_on(),
        modified_on: &root.modified_on(),
        state: root.state(),
    })
    .map_err(|e| {
        fail(format!("the state of {} does not serialize as a JSON object: {e}", A::NAME))
    })?;
    upcast::append_class_version(&mut inner, A::CLASS_VERSION).map_err(fail)?;
    let mut state = Vec::with_capacity(inner.len() + 96);
    state.extend_from_slice(b"{\"timestamp\":");
    serde_json::to_writer(&mut state, &transcoding::AsPython(&crate::domain::now()))
        .map_err(|e| fail(e.to_string()))?;
    state.extend_from_slice(b",\"topic\":");
    serde_json::to_writer(&mut state, A::topic()).map_err(|e| fail(e.to_string()))?;
    state.extend_from_slice(b",\"state\":");
    state.extend_from_slice(&inner);
    state.push(b'}');
    Ok(StoredEvent {
        originator_id: root.id(),
        originator_version: root.version(),
        topic: SNAPSHOT_TOPIC.to_owned(),
        state: mapper.seal(state).map_err(|e| fail(e.to_string()))?,
    })
}

/// Decodes a snapshot into an aggregate at the snapshot's version.
pub fn decode<A: Aggregate>(mapper: &Mapper, stored: &StoredEvent) -> Result<Root<A>, DecodeError> {
    let fail = |problem| DecodeError {
        originator_id: stored.originator_id,
        originator_version: stored.originator_version,
        topic: stored.topic.clone(),
        problem,
    };
    let bytes = mapper.open(&stored.state).map_err(fail)?;
    let read: Read = serde_json::from_slice(&bytes).map_err(|e| fail(DecodeProblem::Json(e)))?;
    let _ = read.timestamp;
    let known = read.topic == A::topic() || A::topic_aliases().contains(&read.topic.as_str());
    if !known {
        return Err(fail(DecodeProblem::UnknownTopic {
            topic: read.topic,
            expected: A::NAME,
            known: A::topic().to_owned(),
        }));
    }
    let mut state = read.state;
    let mut timestamp = |key: &str| -> Result<OffsetDateTime, DecodeError> {
        let value = state.remove(key).unwrap_or_default();
        transcoding::deserialize(value).map_err(|e: serde_json::Error| fail(DecodeProblem::Json(e)))
    };
    let created_on = timestamp("_created_on")?;
    let modified_on = timestamp("_modified_on")?;
    A::upcast_state(&mut state).map_err(|e| fail(DecodeProblem::Version(e)))?;
    let aggregate: A = serde_json::from_value(serde_json::Value::Object(state))
        .map_err(|e| fail(DecodeProblem::Json(e)))?;
    Ok(Root::restore(
        stored.originator_id,
        stored.originator_version,
        created_on,
        modified_on,
        aggregate,
    ))
}
