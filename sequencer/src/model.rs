//! What goes in (stream records, shards) and what comes out (pages and their checkpoints).

use crate::position::{SequenceNumber, ShardId};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// An event item as the stream's `NEW_IMAGE` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventImage {
    /// The aggregate.
    pub originator_id: Uuid,
    /// Its version after the event.
    pub originator_version: u64,
    /// The event's topic.
    pub topic: String,
    /// The stored state bytes, as they are in the table.
    pub state: Vec<u8>,
    /// The item's `created_at` (epoch seconds, the writer's clock).
    pub created_at: i64,
}

impl EventImage {
    /// The item's key.
    pub fn key(&self) -> (Uuid, u64) {
        (self.originator_id, self.originator_version)
    }

    /// Roughly what the event adds to a page item, in bytes.
    pub fn size(&self) -> usize {
        self.topic.len() + self.state.len() + 64
    }
}

/// What a stream record says happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// An event item was inserted.
    Inserted(EventImage),
    /// Anything else: log pages, tracking records, snapshots, the lease, removals.
    Ignored,
}

/// One record of a shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRecord {
    /// Its sequence number in its shard.
    pub sequence: SequenceNumber,
    /// The stream's approximate creation time of the record, in epoch milliseconds.
    pub approximate_millis: i64,
    /// What happened.
    pub change: Change,
}

/// A shard as `DescribeStream` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardInfo {
    /// The shard.
    pub id: ShardId,
    /// The shard it was split from, if any (and if the stream still lists it).
    pub parent: Option<ShardId>,
}

/// How a batch of records from one shard ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardEnd {
    /// The shard is open, and its records up to this time (epoch milliseconds, e.g. the time
    /// of the read that returned no more) have all been offered.
    CaughtUpTo(i64),
    /// More records may follow at once; nothing is known beyond the records offered.
    More,
    /// The shard is closed and every record of it has been offered.
    Closed,
}

/// One entry of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageEntry {
    /// The event, copied.
    Inline(EventImage),
    /// An event too large to copy into a page: readers fetch it by its key.
    Reference {
        /// The aggregate.
        originator_id: Uuid,
        /// The version.
        originator_version: u64,
        /// The topic.
        topic: String,
    },
}

impl PageEntry {
    /// The event's key.
    pub fn key(&self) -> (Uuid, u64) {
        match self {
            PageEntry::Inline(event) => event.key(),
            PageEntry::Reference { originator_id, originator_version, .. } => {
                (*originator_id, *originator_version)
            }
        }
    }
}

/// Where the sequencer stands: stored in every page, atomically with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// The id the next logged event gets (1 for an empty log).
    pub next_id: u64,
    /// For each shard read so far, the last record offered and consumed.
    pub positions: BTreeMap<ShardId, SequenceNumber>,
    /// Closed shards consumed to their end.
    pub finished: BTreeSet<ShardId>,
    /// For each open shard, the time (epoch ms) up to which its records have been consumed.
    pub seen_until: BTreeMap<ShardId, i64>,
    /// Events consumed but not yet logged (waiting for their predecessor, or for room in a
    /// page), by key: after a restart they are read again from the table.
    pub waiting: Vec<(Uuid, u64)>,
}

impl Checkpoint {
    /// The checkpoint of an empty log.
    pub fn empty() -> Self {
        Checkpoint { next_id: 1, ..Default::default() }
    }
}

/// A page of the log, to be written with one conditional write together with the lease
/// check; the sequencer's state moves on only when the write is reported committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The id of the first entry; the others follow without gaps.
    pub first_id: u64,
    /// The entries, in log order.
    pub entries: Vec<PageEntry>,
    /// Where the sequencer stands once this page is written.
    pub checkpoint: Checkpoint,
    /// When the page was cut (epoch ms), so that a restarted sequencer knows how far back
    /// to re-read the log's tail.
    pub written_at: i64,
}

impl Page {
    /// The id after this page's last entry.
    pub fn next_id(&self) -> u64 {
        self.first_id + self.entries.len() as u64
    }
}
