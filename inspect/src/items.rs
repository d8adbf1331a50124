//! The items of a table in this layout, read from DynamoDB's attribute maps.
//!
//! | partition key (`originator_id`) | item |
//! |---|---|
//! | a hyphenated UUID | an event: `originator_version`, `topic`, `state`, `created_at` |
//! | `#notifications` | a notification log entry: id in `originator_version`, `event_id`, `event_version`, `topic`, `state`, `created_at` |
//! | `#tracking#<upstream>` | a tracking record: the upstream's notification id in `originator_version` |
//! | `#snapshot#<uuid>` | a snapshot, laid out as an event |
//!
//! Everything here is pure: an attribute map in, a typed item or a [`MalformedItem`] out.

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use std::collections::HashMap;
use uuid::Uuid;

pub use eventsourcing_dynamo::{HASH_KEY, PAGES_PARTITION, RANGE_KEY};
/// The partition of the notification log.
pub const LOG_PARTITION: &str = "#notifications";
/// The partition of the sequenced log's lease.
pub const LEASE_PARTITION: &str = "#sequencer";
/// The prefix of every tracking partition, followed by the upstream application's name.
pub const TRACKING_PREFIX: &str = "#tracking#";
/// The prefix of every snapshot partition, followed by the aggregate's UUID.
pub const SNAPSHOT_PREFIX: &str = "#snapshot#";

/// An item as the SDK returns it.
pub type Item = HashMap<String, AttributeValue>;

/// An event item (or a snapshot, which has the same attributes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventItem {
    /// The aggregate.
    pub originator_id: Uuid,
    /// The aggregate's version after this event.
    pub originator_version: u64,
    /// The event's topic.
    pub topic: String,
    /// The stored state: JSON, maybe compressed and encrypted.
    pub state: Vec<u8>,
    /// `created_at` as stored (epoch seconds), when present and a number.
    pub created_at: Option<serde_json::Number>,
}

/// A notification log item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogItem {
    /// The notification id (position in the log).
    pub id: u64,
    /// The event's aggregate (`event_id`).
    pub originator_id: Uuid,
    /// The event's version (`event_version`).
    pub originator_version: u64,
    /// The event's topic.
    pub topic: String,
    /// The event's stored state (empty when `referenced`).
    pub state: Vec<u8>,
    /// `created_at` as stored (epoch seconds), when present and a number.
    pub created_at: Option<serde_json::Number>,
    /// A sequenced log page's entry for an event too large to copy: the state is the event
    /// item's own.
    pub referenced: bool,
}

/// One item of the table, classified by its partition key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableItem {
    /// An event of an aggregate.
    Event(EventItem),
    /// A notification log entry.
    Log(LogItem),
    /// A page of the sequenced notification log: its entries.
    Page(Vec<LogItem>),
    /// The sequenced log's lease.
    Lease,
    /// A tracking record: `upstream`'s notification `position` was processed.
    Tracking {
        /// The upstream application's name.
        upstream: String,
        /// The notification id processed.
        position: u64,
    },
    /// A snapshot (not checked against anything).
    Snapshot {
        /// The aggregate.
        originator_id: Uuid,
        /// The version the snapshot was taken at.
        originator_version: u64,
    },
    /// An item under a partition key this layout does not use.
    Other {
        /// Its key, shown as `originator_id=… originator_version=…`.
        key: String,
    },
}

/// An item that does not have the attributes its partition calls for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("malformed item at {key}: {problem}")]
pub struct MalformedItem {
    /// Its key, shown as `originator_id=… originator_version=…`.
    pub key: String,
    /// What is wrong with it.
    pub problem: String,
}

/// The key of an item, for messages: `originator_id=… originator_version=…`.
pub fn describe_key(item: &Item) -> String {
    let show = |name: &str| match item.get(name) {
        Some(AttributeValue::S(s)) => s.clone(),
        Some(AttributeValue::N(n)) => n.clone(),
        Some(other) => format!("{other:?}"),
        None => "?".to_owned(),
    };
    format!("{HASH_KEY}={} {RANGE_KEY}={}", show(HASH_KEY), show(RANGE_KEY))
}

/// Classifies one item by its partition key and reads its attributes.
pub fn classify(item: &Item) -> Result<TableItem, MalformedItem> {
    let reader = Reader { item };
    let partition = reader.string(HASH_KEY)?;
    if partition == LOG_PARTITION {
        return reader.log().map(TableItem::Log);
    }
    if partition == PAGES_PARTITION {
        return reader.page().map(TableItem::Page);
    }
    if partition == LEASE_PARTITION {
        return Ok(TableItem::Lease);
    }
    if let Some(upstream) = partition.strip_prefix(TRACKING_PREFIX) {
        return Ok(TableItem::Tracking {
            upstream: upstream.to_owned(),
            position: reader.number(RANGE_KEY)?,
        });
    }
    if let Some(id) = partition.strip_prefix(SNAPSHOT_PREFIX) {
        let originator_id = Uuid::parse_str(id).map_err(|e| {
            reader.fail(format!("snapshot partition {partition:?} does not end in a UUID: {e}"))
        })?;
        return Ok(TableItem::Snapshot {
            originator_id,
            originator_version: reader.number(RANGE_KEY)?,
        });
    }
    if looks_like_uuid(partition) {
        return reader.event().map(TableItem::Event);
    }
    Ok(TableItem::Other { key: describe_key(item) })
}

/// Reads an event item (also used for an aggregate's history).
pub fn event(item: &Item) -> Result<EventItem, MalformedItem> {
    Reader { item }.event()
}

/// Reads a notification log item.
pub fn log(item: &Item) -> Result<LogItem, MalformedItem> {
    Reader { item }.log()
}

/// Reads the entries of a sequenced log page.
pub fn page(item: &Item) -> Result<Vec<LogItem>, MalformedItem> {
    Reader { item }.page()
}

/// Reads the position (range key) of a log or tracking item.
pub fn position(item: &Item) -> Result<u64, MalformedItem> {
    Reader { item }.number(RANGE_KEY)
}

/// A hyphenated UUID, as events are keyed (the Python package writes `str(uuid)`).
fn looks_like_uuid(partition: &str) -> bool {
    partition.len() == 36 && Uuid::try_parse(partition).is_ok()
}

struct Reader<'a> {
    item: &'a Item,
}

impl<'a> Reader<'a> {
    fn fail(&self, problem: String) -> MalformedItem {
        MalformedItem { key: describe_key(self.item), problem }
    }

    fn string(&self, name: &str) -> Result<&'a str, MalformedItem> {
        match self.item.get(name) {
            Some(AttributeValue::S(value)) => Ok(value),
            Some(other) => Err(self
                .fail(format!("attribute {name} should be a string (S), found {}", kind(other)))),
            None => Err(self.fail(format!("attribute {name} is missing"))),
        }
    }

    fn number(&self, name: &str) -> Result<u64, MalformedItem> {
        match self.item.get(name) {
            Some(AttributeValue::N(value)) => value.parse::<u64>().map_err(|_| {
                self.fail(format!(
                    "attribute {name} should be a whole number ≥ 0 that fits 64 bits, found {value}"
                ))
            }),
            Some(other) => Err(self
                .fail(format!("attribute {name} should be a number (N), found {}", kind(other)))),
            None => Err(self.fail(format!("attribute {name} is missing"))),
        }
    }

    fn uuid(&self, name: &str) -> Result<Uuid, MalformedItem> {
        let text = self.string(name)?;
        Uuid::parse_str(text)
            .map_err(|e| self.fail(format!("attribute {name} is not a UUID ({text:?}: {e})")))
    }

    fn bytes(&self, name: &str) -> Result<Vec<u8>, MalformedItem> {
        match self.item.get(name) {
            Some(AttributeValue::B(blob)) => Ok(blob.as_ref().to_vec()),
            Some(other) => {
                Err(self
                    .fail(format!("attribute {name} should be binary (B), found {}", kind(other))))
            }
            None => Err(self.fail(format!("attribute {name} is missing"))),
        }
    }

    /// `created_at` is informational: absent or odd values are shown as absent.
    fn created_at(&self) -> Option<serde_json::Number> {
        match self.item.get("created_at") {
            Some(AttributeValue::N(n)) => n.parse::<serde_json::Number>().ok(),
            _ => None,
        }
    }

    fn event(&self) -> Result<EventItem, MalformedItem> {
        Ok(EventItem {
            originator_id: self.uuid(HASH_KEY)?,
            originator_version: self.number(RANGE_KEY)?,
            topic: self.string("topic")?.to_owned(),
            state: self.bytes("state")?,
            created_at: self.created_at(),
        })
    }

    fn log(&self) -> Result<LogItem, MalformedItem> {
        Ok(LogItem {
            id: self.number(RANGE_KEY)?,
            originator_id: self.uuid("event_id")?,
            originator_version: self.number("event_version")?,
            topic: self.string("topic")?.to_owned(),
            state: self.bytes("state")?,
            created_at: self.created_at(),
            referenced: false,
        })
    }

    /// A page of the sequenced log, read as the DynamoDB store reads it.
    fn page(&self) -> Result<Vec<LogItem>, MalformedItem> {
        let page = eventsourcing_dynamo::read_log_page(self.item).map_err(|e| self.fail(e))?;
        let first = page.first_id;
        let items = page.entries.into_iter().enumerate().map(|(offset, entry)| LogItem {
            id: first + offset as u64,
            originator_id: entry.originator_id,
            originator_version: entry.originator_version,
            topic: entry.topic,
            referenced: entry.state.is_none(),
            state: entry.state.unwrap_or_default(),
            created_at: None,
        });
        Ok(items.collect())
    }
}

fn kind(value: &AttributeValue) -> &'static str {
    match value {
        AttributeValue::B(_) => "binary (B)",
        AttributeValue::Bool(_) => "boolean (BOOL)",
        AttributeValue::Bs(_) => "binary set (BS)",
        AttributeValue::L(_) => "list (L)",
        AttributeValue::M(_) => "map (M)",
        AttributeValue::N(_) => "number (N)",
        AttributeValue::Ns(_) => "number set (NS)",
        AttributeValue::Null(_) => "null (NULL)",
        AttributeValue::S(_) => "string (S)",
        AttributeValue::Ss(_) => "string set (SS)",
        _ => "an unknown type",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::primitives::Blob;

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.to_owned())
    }
    fn n(v: &str) -> AttributeValue {
        AttributeValue::N(v.to_owned())
    }
    fn item(pairs: &[(&str, AttributeValue)]) -> Item {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
    }

    const ID: &str = "3f2b8a4c-1d2e-4f50-8a9b-0c1d2e3f4a5b";

    #[test]
    fn classifies_every_partition() {
        let state = AttributeValue::B(Blob::new(b"{}".to_vec()));
        let event = item(&[
            (HASH_KEY, s(ID)),
            (RANGE_KEY, n("2")),
            ("topic", s("seed:Dog.TrickAdded")),
            ("state", state.clone()),
            ("created_at", n("1700000000")),
        ]);
        let TableItem::Event(e) = classify(&event).unwrap() else { panic!("not an event") };
        assert_eq!(e.originator_version, 2);
        assert_eq!(e.created_at, Some(1_700_000_000u64.into()));

        let log = item(&[
            (HASH_KEY, s(LOG_PARTITION)),
            (RANGE_KEY, n("7")),
            ("event_id", s(ID)),
            ("event_version", n("2")),
            ("topic", s("seed:Dog.TrickAdded")),
            ("state", state),
        ]);
        let TableItem::Log(l) = classify(&log).unwrap() else { panic!("not a log item") };
        assert_eq!((l.id, l.originator_version, l.created_at), (7, 2, None));

        let tracking = item(&[(HASH_KEY, s("#tracking#Upstream")), (RANGE_KEY, n("5"))]);
        assert_eq!(
            classify(&tracking).unwrap(),
            TableItem::Tracking { upstream: "Upstream".into(), position: 5 }
        );
        let snapshot = item(&[(HASH_KEY, s(&format!("#snapshot#{ID}"))), (RANGE_KEY, n("3"))]);
        assert!(matches!(
            classify(&snapshot).unwrap(),
            TableItem::Snapshot { originator_version: 3, .. }
        ));
        let other = item(&[(HASH_KEY, s("something")), (RANGE_KEY, n("1"))]);
        assert!(matches!(classify(&other).unwrap(), TableItem::Other { .. }));
    }

    #[test]
    fn malformed_items_name_key_and_attribute() {
        let event = item(&[(HASH_KEY, s(ID)), (RANGE_KEY, n("1")), ("topic", n("3"))]);
        let error = classify(&event).unwrap_err();
        assert_eq!(error.key, format!("originator_id={ID} originator_version=1"));
        assert!(error.problem.contains("topic should be a string"), "{error}");

        let log = item(&[(HASH_KEY, s(LOG_PARTITION)), (RANGE_KEY, n("-1"))]);
        assert!(classify(&log).unwrap_err().problem.contains("whole number"));

        let no_key = item(&[(RANGE_KEY, n("1"))]);
        assert!(classify(&no_key).unwrap_err().problem.contains("originator_id is missing"));
    }
}
