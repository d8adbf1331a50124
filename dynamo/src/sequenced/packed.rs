//! The entries of a log page packed into one deflated binary attribute (`packed`).
//!
//! A page's entries are written by the kilobyte in every page write, and a page write is a
//! transaction, which DynamoDB bills twice: the entries are most of the log's cost. Packed
//! (fixed-width fields, each topic once) and deflated, consecutive events of one aggregate
//! and one topic shrink to a small part of their stored size.
//!
//! Layout before deflating, integers little-endian:
//! `u32` topic count, then per topic `u32` length and its UTF-8 bytes; `u32` entry count,
//! then per entry the aggregate's UUID (16 bytes), `u64` version, `u32` topic index and
//! `u32` state length followed by the state, or `u32::MAX` for an entry whose state is read
//! from the event's own item.

use super::pages::Entry;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use std::io::{Read, Write};
use uuid::Uuid;

const REFERENCE: u32 = u32::MAX;

/// The most bytes a packed page may inflate to: an item holds 400 KB, and a page's events
/// are at most 300 KB, so anything larger is not a page this crate wrote.
const MAX_INFLATED: u64 = 4 * 1024 * 1024;

/// Packs and deflates entries.
pub fn pack<'a>(entries: impl ExactSizeIterator<Item = EntryRef<'a>> + Clone) -> Vec<u8> {
    let mut topics: Vec<&str> = Vec::new();
    for entry in entries.clone() {
        if !topics.contains(&entry.topic) {
            topics.push(entry.topic);
        }
    }
    let mut raw = Vec::new();
    push_len(&mut raw, topics.len());
    for topic in &topics {
        push_len(&mut raw, topic.len());
        raw.extend_from_slice(topic.as_bytes());
    }
    push_len(&mut raw, entries.len());
    for entry in entries {
        raw.extend_from_slice(entry.originator_id.as_bytes());
        raw.extend_from_slice(&entry.originator_version.to_le_bytes());
        let topic = topics.iter().position(|t| *t == entry.topic).unwrap_or_default();
        push_len(&mut raw, topic);
        match entry.state {
            Some(state) => {
                push_len(&mut raw, state.len());
                raw.extend_from_slice(state);
            }
            None => raw.extend_from_slice(&REFERENCE.to_le_bytes()),
        }
    }
    let mut encoder = ZlibEncoder::new(Vec::with_capacity(raw.len() / 2), Compression::default());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(&raw);
    encoder.finish().unwrap_or_default()
}

/// An entry to pack, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct EntryRef<'a> {
    pub originator_id: Uuid,
    pub originator_version: u64,
    pub topic: &'a str,
    pub state: Option<&'a [u8]>,
}

/// Pages hold at most a few thousand entries of at most 400 KB: lengths fit in a u32.
fn push_len(raw: &mut Vec<u8>, len: usize) {
    raw.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX - 1).to_le_bytes());
}

/// Inflates and unpacks entries; the error says what is wrong.
pub fn unpack(packed: &[u8]) -> Result<Vec<Entry>, String> {
    let mut raw = Vec::new();
    ZlibDecoder::new(packed)
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut raw)
        .map_err(|e| format!("packed entries do not inflate: {e}"))?;
    if raw.len() as u64 > MAX_INFLATED {
        return Err(format!("packed entries inflate to more than {MAX_INFLATED} bytes"));
    }
    let mut input = Input { raw: &raw, at: 0 };
    let topic_count = input.u32("the topic count")?;
    let mut topics = Vec::new();
    for index in 0..topic_count {
        let len = input.u32("a topic's length")? as usize;
        let bytes = input.take(len, "a topic")?;
        let topic =
            std::str::from_utf8(bytes).map_err(|_| format!("topic {index} is not UTF-8"))?;
        topics.push(topic.to_owned());
    }
    let count = input.u32("the entry count")?;
    let mut entries = Vec::new();
    for index in 0..count {
        let at = |what: &str| format!("entry {index}: {what}");
        let id = input.take(16, "a UUID").map_err(|e| at(&e))?;
        let originator_id = Uuid::from_slice(id).map_err(|e| at(&e.to_string()))?;
        let version = input.take(8, "a version").map_err(|e| at(&e))?;
        let originator_version = u64::from_le_bytes(version.try_into().unwrap_or_default());
        let topic = input.u32("a topic index").map_err(|e| at(&e))? as usize;
        let topic = topics.get(topic).ok_or_else(|| at("topic index out of range"))?.clone();
        let state = match input.u32("a state length").map_err(|e| at(&e))? {
            REFERENCE => None,
            len => Some(input.take(len as usize, "a state").map_err(|e| at(&e))?.to_vec()),
        };
        entries.push(Entry { originator_id, originator_version, topic, state });
    }
    if input.at != raw.len() {
        return Err(format!("{} bytes follow the last entry", raw.len() - input.at));
    }
    Ok(entries)
}

struct Input<'a> {
    raw: &'a [u8],
    at: usize,
}

impl<'a> Input<'a> {
    fn take(&mut self, len: usize, what: &str) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(len).filter(|end| *end <= self.raw.len());
        let end = end.ok_or_else(|| format!("the packed entries end inside {what}"))?;
        let bytes = &self.raw[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    fn u32(&mut self, what: &str) -> Result<u32, String> {
        let bytes = self.take(4, what)?;
        Ok(u32::from_le_bytes(bytes.try_into().unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u128, version: u64, topic: &str, state: Option<&[u8]>) -> Entry {
        Entry {
            originator_id: Uuid::from_u128(id),
            originator_version: version,
            topic: topic.to_owned(),
            state: state.map(<[u8]>::to_vec),
        }
    }

    fn borrowed(entries: &[Entry]) -> impl ExactSizeIterator<Item = EntryRef<'_>> + Clone {
        entries.iter().map(|e| EntryRef {
            originator_id: e.originator_id,
            originator_version: e.originator_version,
            topic: &e.topic,
            state: e.state.as_deref(),
        })
    }

    #[test]
    fn entries_round_trip() {
        let entries = vec![
            entry(1, 1, "school:Dog.Registered", Some(br#"{"name":"Fido"}"#)),
            entry(1, 2, "school:Dog.TrickAdded", Some(br#"{"trick":"roll over"}"#)),
            entry(2, 7, "school:Dog.TrickAdded", None),
            entry(3, u64::MAX, "", Some(b"")),
        ];
        assert_eq!(unpack(&pack(borrowed(&entries))).unwrap(), entries);
        assert_eq!(unpack(&pack(borrowed(&[]))).unwrap(), vec![]);
    }

    #[test]
    fn similar_events_pack_into_a_fraction_of_their_size() {
        let states: Vec<String> = (0..100)
            .map(|i| {
                format!(
                    r#"{{"trick":"trick {i}","timestamp":"2026-12-01T12:00:{:02}.{i:06}+00:00"}}"#,
                    i % 60
                )
            })
            .collect();
        let entries: Vec<Entry> = (0..100)
            .map(|i| {
                entry(
                    i / 10,
                    (i % 10) as u64 + 1,
                    "school:Dog.TrickAdded",
                    Some(states[i as usize].as_bytes()),
                )
            })
            .collect();
        let stored: usize = entries
            .iter()
            .map(|e| 16 + 8 + e.topic.len() + e.state.as_ref().map_or(0, Vec::len))
            .sum();
        let packed = pack(borrowed(&entries)).len();
        assert!(packed * 3 < stored, "{packed} bytes packed of {stored}");
    }

    #[test]
    fn damaged_pages_are_errors_not_panics() {
        let entries = vec![entry(1, 1, "t", Some(b"state"))];
        let packed = pack(borrowed(&entries));
        assert!(unpack(&packed[..packed.len() - 3]).is_err());
        assert!(unpack(b"not deflated").is_err());
        let mut raw = Vec::new();
        let mut encoder = ZlibEncoder::new(&mut raw, Compression::default());
        encoder.write_all(&[1, 0, 0, 0, 9, 0, 0, 0, b'x']).unwrap();
        encoder.finish().unwrap();
        let error = unpack(&raw).unwrap_err();
        assert!(error.contains("inside a topic"), "{error}");
    }
}
