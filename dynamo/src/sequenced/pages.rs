//! Log pages as items: partition `#pages`, range key = the page's first notification id.
//!
//! A page holds its entries (`packed`: B, see [`super::packed`]; pages written before
//! entries were packed have `entries`: a list of maps `i` (S, the aggregate), `v` (N), `t`
//! (S, topic) and `s` (B, state; absent for an event too large to copy, which readers fetch
//! by key)), the sequencer's checkpoint (`checkpoint`: JSON), when it was written
//! (`written_at`, epoch ms) and by which lease (`owner`, `epoch`).

use super::packed::{self, EntryRef};
use crate::items::{Item, HASH_KEY, RANGE_KEY};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use eventsourcing_sequencer::{Checkpoint, Page, PageEntry, SequenceNumber, ShardId};
use serde_json::{json, Value};
use std::collections::HashMap;
use uuid::Uuid;

/// The partition of log pages.
pub const PAGES_PARTITION: &str = "#pages";

/// One entry as readers see it: the event's key and topic, and its state unless it must be
/// fetched from the event's own item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The aggregate.
    pub originator_id: Uuid,
    /// The aggregate's version after the event.
    pub originator_version: u64,
    /// The event's topic.
    pub topic: String,
    /// The event's stored state; `None` for an event too large to copy, whose state is
    /// its own item's.
    pub state: Option<Vec<u8>>,
}

/// A page read back.
#[derive(Debug, Clone)]
pub struct StoredPage {
    /// The notification id of the first entry (the page's range key).
    pub first_id: u64,
    /// The entries, whose ids follow `first_id`.
    pub entries: Vec<Entry>,
    /// Where the sequencer had got to when it wrote the page.
    pub checkpoint: Checkpoint,
    /// When the page was written (epoch ms).
    pub written_at: i64,
    /// The lease owner that wrote it.
    pub owner: String,
    /// The lease epoch it was written under.
    pub epoch: u64,
}

impl StoredPage {
    /// The id after the page's last entry.
    pub fn next_id(&self) -> u64 {
        self.first_id + self.entries.len() as u64
    }
}

/// The item of a page written under lease `owner`/`epoch`.
pub fn page_item(page: &Page, owner: &str, epoch: u64) -> Item {
    let entries = page.entries.iter().map(|entry| match entry {
        PageEntry::Inline(e) => EntryRef {
            originator_id: e.originator_id,
            originator_version: e.originator_version,
            topic: &e.topic,
            state: Some(&e.state),
        },
        PageEntry::Reference { originator_id, originator_version, topic } => EntryRef {
            originator_id: *originator_id,
            originator_version: *originator_version,
            topic,
            state: None,
        },
    });
    HashMap::from([
        (HASH_KEY.to_owned(), AttributeValue::S(PAGES_PARTITION.to_owned())),
        (RANGE_KEY.to_owned(), AttributeValue::N(page.first_id.to_string())),
        (PACKED.to_owned(), AttributeValue::B(Blob::new(packed::pack(entries)))),
        ("checkpoint".to_owned(), AttributeValue::S(checkpoint_json(&page.checkpoint).to_string())),
        ("written_at".to_owned(), AttributeValue::N(page.written_at.to_string())),
        ("owner".to_owned(), AttributeValue::S(owner.to_owned())),
        ("epoch".to_owned(), AttributeValue::N(epoch.to_string())),
    ])
}

const PACKED: &str = "packed";

/// Reads a page item (`#pages`/`<first id>`); the error says what is wrong with it.
pub fn read_page(item: &Item) -> Result<StoredPage, String> {
    let number = |name: &str| match item.get(name) {
        Some(AttributeValue::N(n)) => {
            n.parse::<u64>().map_err(|_| format!("{name} is not a whole number: {n}"))
        }
        _ => Err(format!("{name} (N) is missing")),
    };
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(s)) => Ok(s.as_str()),
        _ => Err(format!("{name} (S) is missing")),
    };
    let first_id = number(RANGE_KEY)?;
    let entries = match (item.get(PACKED), item.get("entries")) {
        (Some(AttributeValue::B(packed)), _) => packed::unpack(packed.as_ref())?,
        (None, Some(AttributeValue::L(list))) => listed_entries(list)?,
        _ => return Err("packed (B) is missing".to_owned()),
    };
    let checkpoint = parse_checkpoint(text("checkpoint")?)?;
    Ok(StoredPage {
        first_id,
        entries,
        checkpoint,
        written_at: number("written_at")? as i64,
        owner: text("owner")?.to_owned(),
        epoch: number("epoch")?,
    })
}

/// The entries of a page written before entries were packed.
fn listed_entries(list: &[AttributeValue]) -> Result<Vec<Entry>, String> {
    let mut entries = Vec::with_capacity(list.len());
    for (index, value) in list.iter().enumerate() {
        let AttributeValue::M(map) = value else {
            return Err(format!("entry {index} is not a map"));
        };
        let field =
            |name: &str| map.get(name).ok_or_else(|| format!("entry {index} has no {name}"));
        let originator_id = match field("i")? {
            AttributeValue::S(s) => {
                Uuid::parse_str(s).map_err(|e| format!("entry {index}: {e}"))?
            }
            _ => return Err(format!("entry {index}: i is not a string")),
        };
        let originator_version = match field("v")? {
            AttributeValue::N(n) => {
                n.parse().map_err(|_| format!("entry {index}: bad version {n}"))?
            }
            _ => return Err(format!("entry {index}: v is not a number")),
        };
        let topic = match field("t")? {
            AttributeValue::S(s) => s.clone(),
            _ => return Err(format!("entry {index}: t is not a string")),
        };
        let state = match map.get("s") {
            Some(AttributeValue::B(b)) => Some(b.as_ref().to_vec()),
            None => None,
            Some(_) => return Err(format!("entry {index}: s is not binary")),
        };
        entries.push(Entry { originator_id, originator_version, topic, state });
    }
    Ok(entries)
}

fn checkpoint_json(checkpoint: &Checkpoint) -> Value {
    json!({
        "next_id": checkpoint.next_id,
        "positions": checkpoint.positions.iter().map(|(s, n)| (s.0.clone(), Value::String(n.as_str().to_owned()))).collect::<serde_json::Map<_, _>>(),
        "finished": checkpoint.finished.iter().map(|s| s.0.clone()).collect::<Vec<_>>(),
        "seen_until": checkpoint.seen_until.iter().map(|(s, t)| (s.0.clone(), json!(t))).collect::<serde_json::Map<_, _>>(),
        "waiting": checkpoint.waiting.iter().map(|(id, v)| json!([id.hyphenated().to_string(), v])).collect::<Vec<_>>(),
    })
}

fn parse_checkpoint(text: &str) -> Result<Checkpoint, String> {
    let bad = |what: &str| format!("checkpoint: {what}");
    let json: Value = serde_json::from_str(text).map_err(|e| bad(&e.to_string()))?;
    let mut checkpoint = Checkpoint::empty();
    checkpoint.next_id = json["next_id"].as_u64().ok_or_else(|| bad("next_id"))?;
    for (shard, number) in json["positions"].as_object().ok_or_else(|| bad("positions"))? {
        let number =
            number.as_str().and_then(SequenceNumber::new).ok_or_else(|| bad("position"))?;
        checkpoint.positions.insert(ShardId(shard.clone()), number);
    }
    for shard in json["finished"].as_array().ok_or_else(|| bad("finished"))? {
        checkpoint
            .finished
            .insert(ShardId(shard.as_str().ok_or_else(|| bad("finished"))?.to_owned()));
    }
    for (shard, time) in json["seen_until"].as_object().ok_or_else(|| bad("seen_until"))? {
        checkpoint
            .seen_until
            .insert(ShardId(shard.clone()), time.as_i64().ok_or_else(|| bad("seen_until"))?);
    }
    for pair in json["waiting"].as_array().ok_or_else(|| bad("waiting"))? {
        let id =
            pair[0].as_str().and_then(|s| Uuid::parse_str(s).ok()).ok_or_else(|| bad("waiting"))?;
        let version = pair[1].as_u64().ok_or_else(|| bad("waiting"))?;
        checkpoint.waiting.push((id, version));
    }
    Ok(checkpoint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventsourcing_sequencer::EventImage;

    #[test]
    fn pages_round_trip() {
        let mut checkpoint = Checkpoint::empty();
        checkpoint.next_id = 3;
        checkpoint.positions.insert(ShardId("s".into()), SequenceNumber::new("0042").unwrap());
        checkpoint.finished.insert(ShardId("p".into()));
        checkpoint.seen_until.insert(ShardId("s".into()), -5);
        checkpoint.waiting.push((Uuid::from_u128(9), 4));
        let event = EventImage {
            originator_id: Uuid::from_u128(1),
            originator_version: 1,
            topic: "t".into(),
            state: b"{}".to_vec(),
            created_at: 7,
        };
        let page = Page {
            first_id: 1,
            entries: vec![
                PageEntry::Inline(event),
                PageEntry::Reference {
                    originator_id: Uuid::from_u128(2),
                    originator_version: 5,
                    topic: "u".into(),
                },
            ],
            checkpoint: checkpoint.clone(),
            written_at: 99,
        };
        let stored = read_page(&page_item(&page, "me", 4)).unwrap();
        assert_eq!(stored.first_id, 1);
        assert_eq!(stored.next_id(), 3);
        assert_eq!(stored.checkpoint, checkpoint);
        assert_eq!(stored.entries[0].state.as_deref(), Some(&b"{}"[..]));
        assert_eq!(stored.entries[1].state, None);
        assert_eq!((stored.owner.as_str(), stored.epoch, stored.written_at), ("me", 4, 99));
    }

    #[test]
    fn pages_written_before_entries_were_packed_are_read() {
        let mut item = page_item(
            &Page { first_id: 7, entries: vec![], checkpoint: Checkpoint::empty(), written_at: 1 },
            "me",
            1,
        );
        item.remove(PACKED);
        let entry = |version: &str, state: Option<&[u8]>| {
            let mut map = HashMap::from([
                ("i".to_owned(), AttributeValue::S(Uuid::from_u128(3).hyphenated().to_string())),
                ("v".to_owned(), AttributeValue::N(version.to_owned())),
                ("t".to_owned(), AttributeValue::S("topic".to_owned())),
            ]);
            if let Some(state) = state {
                map.insert("s".to_owned(), AttributeValue::B(Blob::new(state)));
            }
            AttributeValue::M(map)
        };
        item.insert(
            "entries".to_owned(),
            AttributeValue::L(vec![entry("1", Some(b"{}")), entry("2", None)]),
        );
        let stored = read_page(&item).unwrap();
        assert_eq!((stored.first_id, stored.next_id()), (7, 9));
        assert_eq!(stored.entries[0].state.as_deref(), Some(&b"{}"[..]));
        assert_eq!(
            (stored.entries[1].originator_version, stored.entries[1].state.as_ref()),
            (2, None)
        );
        item.remove("entries");
        assert_eq!(read_page(&item).unwrap_err(), "packed (B) is missing");
    }
}
