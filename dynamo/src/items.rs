//! Items of the table: events in the Python package's layout, and the notification log
//! and tracking records under partition keys that are never UUIDs.

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use eventsourcing_runtime::persistence::{Notification, PersistenceError, StoredEvent};
use std::collections::HashMap;
use uuid::Uuid;

/// The hash key: a hyphenated UUID for events.
pub const HASH_KEY: &str = "originator_id";
/// The range key: the version for events, the position for log and tracking items.
pub const RANGE_KEY: &str = "originator_version";
const TOPIC: &str = "topic";
const STATE: &str = "state";
const CREATED_AT: &str = "created_at";
const EVENT_ID: &str = "event_id";
const EVENT_VERSION: &str = "event_version";
const WRITE_TOKEN: &str = "write_token";

/// The partition of the notification log.
pub const LOG_PARTITION: &str = "#notifications";

/// The partition of one upstream application's tracking records.
pub fn tracking_partition(application_name: &str) -> String {
    format!("#tracking#{application_name}")
}

pub type Item = HashMap<String, AttributeValue>;

fn epoch_seconds() -> String {
    eventsourcing_runtime::OffsetDateTime::now_utc().unix_timestamp().to_string()
}

/// An event item exactly as the Python package writes it.
pub fn event_item(event: &StoredEvent) -> Item {
    HashMap::from([
        (HASH_KEY.to_owned(), AttributeValue::S(event.originator_id.hyphenated().to_string())),
        (RANGE_KEY.to_owned(), AttributeValue::N(event.originator_version.to_string())),
        (TOPIC.to_owned(), AttributeValue::S(event.topic.clone())),
        (STATE.to_owned(), AttributeValue::B(Blob::new(event.state.clone()))),
        (CREATED_AT.to_owned(), AttributeValue::N(epoch_seconds())),
    ])
}

/// A notification log item: the event again, under its position in the log.
pub fn log_item(id: u64, event: &StoredEvent) -> Item {
    HashMap::from([
        (HASH_KEY.to_owned(), AttributeValue::S(LOG_PARTITION.to_owned())),
        (RANGE_KEY.to_owned(), AttributeValue::N(id.to_string())),
        (EVENT_ID.to_owned(), AttributeValue::S(event.originator_id.hyphenated().to_string())),
        (EVENT_VERSION.to_owned(), AttributeValue::N(event.originator_version.to_string())),
        (TOPIC.to_owned(), AttributeValue::S(event.topic.clone())),
        (STATE.to_owned(), AttributeValue::B(Blob::new(event.state.clone()))),
        (CREATED_AT.to_owned(), AttributeValue::N(epoch_seconds())),
    ])
}

/// A tracking item, carrying the token of the write that stored it (so that a write whose
/// response was lost can tell its own tracking item from another process's).
pub fn tracking_item(application_name: &str, notification_id: u64, write_token: &str) -> Item {
    HashMap::from([
        (HASH_KEY.to_owned(), AttributeValue::S(tracking_partition(application_name))),
        (RANGE_KEY.to_owned(), AttributeValue::N(notification_id.to_string())),
        (CREATED_AT.to_owned(), AttributeValue::N(epoch_seconds())),
        (WRITE_TOKEN.to_owned(), AttributeValue::S(write_token.to_owned())),
    ])
}

/// The token of the write that stored a tracking item (none for items of older versions).
pub fn write_token(item: &Item) -> Option<&str> {
    match item.get(WRITE_TOKEN) {
        Some(AttributeValue::S(token)) => Some(token),
        _ => None,
    }
}

/// Reads items, naming the table and key of any malformed one.
pub struct Reader<'a> {
    pub table: &'a str,
}

impl Reader<'_> {
    fn location(&self, item: &Item) -> String {
        let show = |name: &str| match item.get(name) {
            Some(AttributeValue::S(s)) => s.clone(),
            Some(AttributeValue::N(n)) => n.clone(),
            Some(other) => format!("{other:?}"),
            None => "?".to_owned(),
        };
        format!(
            "in table {} at {}={} {}={}",
            self.table,
            HASH_KEY,
            show(HASH_KEY),
            RANGE_KEY,
            show(RANGE_KEY)
        )
    }

    fn fail(&self, item: &Item, problem: String) -> PersistenceError {
        PersistenceError::Data { location: self.location(item), problem }
    }

    fn string<'i>(&self, item: &'i Item, name: &str) -> Result<&'i str, PersistenceError> {
        match item.get(name) {
            Some(AttributeValue::S(value)) => Ok(value),
            Some(other) => Err(self.fail(
                item,
                format!("attribute {name} should be a string (S), found {}", kind(other)),
            )),
            None => Err(self.fail(item, format!("attribute {name} is missing"))),
        }
    }

    fn number(&self, item: &Item, name: &str) -> Result<u64, PersistenceError> {
        match item.get(name) {
            Some(AttributeValue::N(value)) => value
                .parse::<u64>()
                .map_err(|_| self.fail(item, format!("attribute {name} should be a whole number ≥ 0 that fits 64 bits, found {value}"))),
            Some(other) => Err(self.fail(item, format!("attribute {name} should be a number (N), found {}", kind(other)))),
            None => Err(self.fail(item, format!("attribute {name} is missing"))),
        }
    }

    fn uuid(&self, item: &Item, name: &str) -> Result<Uuid, PersistenceError> {
        let text = self.string(item, name)?;
        Uuid::parse_str(text)
            .map_err(|e| self.fail(item, format!("attribute {name} is not a UUID ({text:?}: {e})")))
    }

    fn bytes(&self, item: &Item, name: &str) -> Result<Vec<u8>, PersistenceError> {
        match item.get(name) {
            Some(AttributeValue::B(blob)) => Ok(blob.as_ref().to_vec()),
            Some(other) => Err(self.fail(
                item,
                format!("attribute {name} should be binary (B), found {}", kind(other)),
            )),
            None => Err(self.fail(item, format!("attribute {name} is missing"))),
        }
    }

    /// An event item.
    pub fn event(&self, item: &Item) -> Result<StoredEvent, PersistenceError> {
        Ok(StoredEvent {
            originator_id: self.uuid(item, HASH_KEY)?,
            originator_version: self.number(item, RANGE_KEY)?,
            topic: self.string(item, TOPIC)?.to_owned(),
            state: self.bytes(item, STATE)?,
        })
    }

    /// A notification log item.
    pub fn notification(&self, item: &Item) -> Result<Notification, PersistenceError> {
        Ok(Notification {
            id: self.number(item, RANGE_KEY)?,
            event: StoredEvent {
                originator_id: self.uuid(item, EVENT_ID)?,
                originator_version: self.number(item, EVENT_VERSION)?,
                topic: self.string(item, TOPIC)?.to_owned(),
                state: self.bytes(item, STATE)?,
            },
        })
    }

    /// The position of a log or tracking item.
    pub fn position(&self, item: &Item) -> Result<u64, PersistenceError> {
        self.number(item, RANGE_KEY)
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
