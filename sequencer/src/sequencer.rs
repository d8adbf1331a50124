//! The sequencer's state and decisions.

use crate::model::{
    Change, Checkpoint, EventImage, Page, PageEntry, ShardEnd, ShardInfo, StreamRecord,
};
use crate::position::{SequenceNumber, ShardId};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use uuid::Uuid;

/// Limits and tolerances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// The most entries in one page.
    pub max_entries: usize,
    /// The most bytes of events in one page (a DynamoDB item holds 400 KB).
    pub max_page_bytes: usize,
    /// Events larger than this are referenced by key instead of copied.
    pub inline_limit: usize,
    /// How far writers' clocks (`created_at`) and the stream's approximate times may differ,
    /// in milliseconds.
    pub slack_millis: i64,
    /// How many aggregates to remember before forgetting those logged long ago.
    pub memory: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_entries: 1000,
            max_page_bytes: 300 * 1024,
            inline_limit: 64 * 1024,
            slack_millis: 5 * 60 * 1000,
            memory: 100_000,
        }
    }
}

/// What the table says of the version before an event whose aggregate the sequencer does
/// not remember.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Predecessor {
    /// The item does not exist: the event is logged without waiting for it.
    Missing,
    /// The item exists and was created at this time (its `created_at`, epoch seconds).
    /// Created well before every shard was consumed (the horizon, less the slack), it was
    /// logged long ago; otherwise its record is still to come.
    CreatedAt(i64),
}

/// A misuse of the sequencer by the code that drives it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SequenceError {
    /// Records of a child shard were offered before its parent was read to its end.
    #[error(
        "records of shard {shard} were offered before its parent {parent} was read to its end"
    )]
    ParentUnfinished {
        /// The child.
        shard: ShardId,
        /// The parent.
        parent: ShardId,
    },
    /// Records were offered for a shard already read to its end.
    #[error("shard {0} was read to its end; no more records can follow")]
    ShardFinished(ShardId),
    /// A shard's records were offered out of their order.
    #[error("records of shard {shard} out of order: {next} offered after {last}")]
    OutOfOrder {
        /// The shard.
        shard: ShardId,
        /// The record before.
        last: SequenceNumber,
        /// The record offered after it.
        next: SequenceNumber,
    },
    /// A shard the sequencer had not read to its end is no longer in the stream: its
    /// remaining records were trimmed (the stream keeps 24 hours). The log must be completed
    /// from the table itself.
    #[error("shard {0} was trimmed from the stream before it was read to its end")]
    ShardTrimmed(ShardId),
    /// The page reported written is not the one the sequencer cut next.
    #[error("page at {first_id} is not the next page (the next id is {next_id})")]
    UnexpectedPage {
        /// The page's first id.
        first_id: u64,
        /// The id the sequencer expected.
        next_id: u64,
    },
}

/// The last logged version of an aggregate, and when its page was written.
#[derive(Debug, Clone, Copy)]
struct Known {
    version: u64,
    logged_at: i64,
}

/// Reads records, decides pages. See the crate documentation for what it guarantees.
#[derive(Debug, Clone)]
pub struct Sequencer {
    config: Config,
    next_id: u64,
    positions: BTreeMap<ShardId, SequenceNumber>,
    finished: BTreeSet<ShardId>,
    seen_until: BTreeMap<ShardId, i64>,
    /// Consumed, not yet logged, in the order consumed.
    buffer: Vec<EventImage>,
    /// The stream's approximate time of each consumed event's record (epoch ms).
    arrived: HashMap<(Uuid, u64), i64>,
    /// Keys of the checkpoint's waiting events not yet read back from the table.
    unrestored: BTreeSet<(Uuid, u64)>,
    known: HashMap<Uuid, Known>,
    /// What the table said of versions before events of forgotten aggregates.
    predecessors: HashMap<(Uuid, u64), Predecessor>,
}

impl Sequencer {
    /// A sequencer for an empty log.
    pub fn new(config: Config) -> Self {
        Sequencer::resume(config, Checkpoint::empty(), std::iter::empty())
    }

    /// A sequencer that carries on from the checkpoint of the log's last page. `tail` holds
    /// the events of the pages written since [`Sequencer::tail_since`] (key and the page's
    /// time); the checkpoint's waiting events must then be read back from the table and
    /// given to [`Sequencer::restore`] (or [`Sequencer::forget`] when an item is gone).
    pub fn resume(
        config: Config,
        checkpoint: Checkpoint,
        tail: impl IntoIterator<Item = ((Uuid, u64), i64)>,
    ) -> Self {
        let mut known: HashMap<Uuid, Known> = HashMap::new();
        for ((id, version), logged_at) in tail {
            let entry = known.entry(id).or_insert(Known { version, logged_at });
            if version >= entry.version {
                *entry = Known { version, logged_at };
            }
        }
        Sequencer {
            config,
            next_id: checkpoint.next_id.max(1),
            positions: checkpoint.positions,
            finished: checkpoint.finished,
            seen_until: checkpoint.seen_until,
            buffer: Vec::new(),
            arrived: HashMap::new(),
            unrestored: checkpoint.waiting.into_iter().collect(),
            known,
            predecessors: HashMap::new(),
        }
    }

    /// How far back (epoch ms) a restarted sequencer must re-read the log's pages for
    /// [`Sequencer::resume`]'s `tail`.
    pub fn tail_since(config: &Config, checkpoint: &Checkpoint) -> i64 {
        horizon_of(&checkpoint.seen_until).saturating_sub(3 * config.slack_millis)
    }

    /// The keys of waiting events still to be read back from the table.
    pub fn unrestored(&self) -> impl Iterator<Item = &(Uuid, u64)> {
        self.unrestored.iter()
    }

    /// A waiting event read back from the table after a restart.
    pub fn restore(&mut self, event: EventImage) {
        if self.unrestored.remove(&event.key()) {
            self.buffer.push(event);
        }
    }

    /// A waiting event whose item is gone from the table: it is not waited for.
    pub fn forget(&mut self, key: (Uuid, u64)) {
        self.unrestored.remove(&key);
    }

    /// The id the next logged event gets.
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// The last record consumed from `shard`.
    pub fn position(&self, shard: &ShardId) -> Option<&SequenceNumber> {
        self.positions.get(shard)
    }

    /// Takes note of the stream's shards as `DescribeStream` lists them: open shards hold
    /// the horizon back until they are read, and shards read to their end that are no
    /// longer listed are forgotten. A shard not read to its end that is no longer listed
    /// lost records: [`SequenceError::ShardTrimmed`].
    pub fn note_shards(&mut self, shards: &[ShardInfo]) -> Result<(), SequenceError> {
        let listed: BTreeSet<&ShardId> = shards.iter().map(|s| &s.id).collect();
        if let Some(lost) =
            self.positions.keys().find(|s| !listed.contains(s) && !self.finished.contains(*s))
        {
            return Err(SequenceError::ShardTrimmed(lost.clone()));
        }
        self.positions.retain(|s, _| listed.contains(s));
        self.finished.retain(|s| listed.contains(s));
        self.seen_until.retain(|s, _| listed.contains(s));
        for shard in shards {
            if !self.finished.contains(&shard.id) {
                self.seen_until.entry(shard.id.clone()).or_insert(i64::MIN);
            }
        }
        Ok(())
    }

    /// The shards to read now: not finished, and without a parent still to finish. Parents
    /// come first.
    pub fn readable(&self, shards: &[ShardInfo]) -> Vec<ShardId> {
        let listed: BTreeSet<&ShardId> = shards.iter().map(|s| &s.id).collect();
        shards
            .iter()
            .filter(|shard| !self.finished.contains(&shard.id))
            .filter(|shard| match &shard.parent {
                Some(parent) => !listed.contains(parent) || self.finished.contains(parent),
                None => true,
            })
            .map(|shard| shard.id.clone())
            .collect()
    }

    /// Consumes records of one shard, read after [`Sequencer::position`]. Records at or
    /// before the position (repeats, e.g. after a restart) are skipped, as are events
    /// already logged or already waiting.
    pub fn offer(
        &mut self,
        shard: &ShardInfo,
        records: Vec<StreamRecord>,
        end: ShardEnd,
    ) -> Result<(), SequenceError> {
        let id = &shard.id;
        if self.finished.contains(id) {
            return Err(SequenceError::ShardFinished(id.clone()));
        }
        if let Some(parent) = &shard.parent {
            if self.positions.contains_key(parent) && !self.finished.contains(parent) {
                return Err(SequenceError::ParentUnfinished {
                    shard: id.clone(),
                    parent: parent.clone(),
                });
            }
        }
        let mut last = self.positions.get(id).cloned();
        for record in records {
            if let Some(previous) = &last {
                if record.sequence <= *previous {
                    continue;
                }
            }
            last = Some(record.sequence.clone());
            let seen = self.seen_until.entry(id.clone()).or_insert(i64::MIN);
            *seen = (*seen).max(record.approximate_millis);
            if let Change::Inserted(event) = record.change {
                let logged = self
                    .known
                    .get(&event.originator_id)
                    .is_some_and(|k| k.version >= event.originator_version);
                let buffered = self.buffer.iter().any(|e| e.key() == event.key());
                if !logged && !buffered {
                    self.unrestored.remove(&event.key());
                    self.arrived.insert(event.key(), record.approximate_millis);
                    self.buffer.push(event);
                }
            }
        }
        if let Some(last) = last {
            self.positions.insert(id.clone(), last);
        }
        match end {
            ShardEnd::CaughtUpTo(time) => {
                let seen = self.seen_until.entry(id.clone()).or_insert(i64::MIN);
                *seen = (*seen).max(time);
            }
            ShardEnd::More => {}
            ShardEnd::Closed => {
                self.finished.insert(id.clone());
                self.seen_until.remove(id);
            }
        }
        Ok(())
    }

    /// The time (epoch ms) up to which every open shard has been consumed.
    pub fn horizon(&self) -> i64 {
        horizon_of(&self.seen_until)
    }

    /// Versions the table must be asked about ([`Sequencer::resolve`]): the predecessors of
    /// waiting events whose aggregates the sequencer does not remember, or after a gap.
    pub fn lookups(&self) -> Vec<(Uuid, u64)> {
        let mut wanted = BTreeSet::new();
        for (id, lowest) in self.lowest_waiting() {
            let after = self.known.get(&id).map_or(0, |k| k.version);
            let predecessor = (id, lowest - 1);
            let arriving = lowest == after + 1;
            if !arriving && !self.predecessors.contains_key(&predecessor) {
                wanted.insert(predecessor);
            }
        }
        wanted.into_iter().collect()
    }

    /// What the table says of a version asked for by [`Sequencer::lookups`].
    pub fn resolve(&mut self, key: (Uuid, u64), predecessor: Predecessor) {
        self.predecessors.insert(key, predecessor);
    }

    /// When the oldest event consumed and not yet logged was committed (epoch ms, the
    /// stream's approximate time, or its `created_at` for one read back after a restart);
    /// `Some(i64::MIN)` while events of the checkpoint are still to be read back.
    pub fn oldest_waiting(&self) -> Option<i64> {
        if !self.unrestored.is_empty() {
            return Some(i64::MIN);
        }
        self.buffer
            .iter()
            .map(|e| {
                self.arrived
                    .get(&e.key())
                    .copied()
                    .unwrap_or_else(|| e.created_at.saturating_mul(1000))
            })
            .min()
    }

    /// When the stream's record of an event consumed and not yet logged was created (epoch
    /// ms, the stream's approximate time): how long logging it took is measured from here.
    pub fn arrived_at(&self, key: &(Uuid, u64)) -> Option<i64> {
        self.arrived.get(key).copied()
    }

    /// Events consumed and not yet logged.
    pub fn waiting(&self) -> usize {
        self.buffer.len() + self.unrestored.len()
    }

    /// The next page to write at time `now` (epoch ms), or `None` when no event can be
    /// logged yet. The state does not change until [`Sequencer::committed`].
    pub fn next_page(&self, now: i64) -> Option<Page> {
        if !self.unrestored.is_empty() {
            return None;
        }
        let mut after: HashMap<Uuid, u64> = HashMap::new();
        for (id, lowest) in self.lowest_waiting() {
            if let Some(base) = self.base(id, lowest) {
                after.insert(id, base);
            }
        }
        let mut taken = vec![false; self.buffer.len()];
        let mut entries = Vec::new();
        let mut bytes = 0;
        let mut progress = true;
        'pages: while progress {
            progress = false;
            for (index, event) in self.buffer.iter().enumerate() {
                if taken[index] {
                    continue;
                }
                let Some(base) = after.get(&event.originator_id) else { continue };
                if event.originator_version != base + 1 {
                    continue;
                }
                let entry = match event.size() > self.config.inline_limit {
                    true => PageEntry::Reference {
                        originator_id: event.originator_id,
                        originator_version: event.originator_version,
                        topic: event.topic.clone(),
                    },
                    false => PageEntry::Inline(event.clone()),
                };
                let size = match &entry {
                    PageEntry::Inline(event) => event.size(),
                    PageEntry::Reference { topic, .. } => topic.len() + 64,
                };
                let full = entries.len() >= self.config.max_entries
                    || (!entries.is_empty() && bytes + size > self.config.max_page_bytes);
                if full {
                    break 'pages;
                }
                bytes += size;
                taken[index] = true;
                entries.push(entry);
                after.insert(event.originator_id, event.originator_version);
                progress = true;
            }
        }
        if entries.is_empty() {
            return None;
        }
        let waiting = self
            .buffer
            .iter()
            .zip(&taken)
            .filter(|(_, taken)| !**taken)
            .map(|(event, _)| event.key())
            .collect();
        let checkpoint = Checkpoint {
            next_id: self.next_id + entries.len() as u64,
            positions: self.positions.clone(),
            finished: self.finished.clone(),
            seen_until: self.seen_until.clone(),
            waiting,
        };
        Some(Page { first_id: self.next_id, entries, checkpoint, written_at: now })
    }

    /// The page was written: the state moves on to its checkpoint.
    pub fn committed(&mut self, page: &Page) -> Result<(), SequenceError> {
        if page.first_id != self.next_id {
            return Err(SequenceError::UnexpectedPage {
                first_id: page.first_id,
                next_id: self.next_id,
            });
        }
        let logged: BTreeSet<(Uuid, u64)> = page.entries.iter().map(PageEntry::key).collect();
        self.buffer.retain(|event| !logged.contains(&event.key()));
        self.arrived.retain(|key, _| !logged.contains(key));
        for (id, version) in logged {
            let known =
                self.known.entry(id).or_insert(Known { version, logged_at: page.written_at });
            if version >= known.version {
                *known = Known { version, logged_at: page.written_at };
            }
        }
        // Answers about versions now logged, or before them, are of no more use.
        let known = &self.known;
        self.predecessors
            .retain(|(id, version), _| known.get(id).is_none_or(|k| *version > k.version));
        self.next_id = page.next_id();
        self.forget_old();
        Ok(())
    }

    /// For each aggregate with waiting events, its lowest waiting version.
    fn lowest_waiting(&self) -> BTreeMap<Uuid, u64> {
        let mut lowest: BTreeMap<Uuid, u64> = BTreeMap::new();
        for event in &self.buffer {
            let entry = lowest.entry(event.originator_id).or_insert(event.originator_version);
            *entry = (*entry).min(event.originator_version);
        }
        lowest
    }

    /// The version after which aggregate `id`'s next event may be logged, when known:
    /// its last logged version; or, for the lowest waiting version `lowest`, the version
    /// before it when that one does not exist or was logged long ago.
    fn base(&self, id: Uuid, lowest: u64) -> Option<u64> {
        let after = self.known.get(&id).map_or(0, |k| k.version);
        if lowest == after + 1 {
            return Some(after);
        }
        match self.predecessors.get(&(id, lowest - 1))? {
            Predecessor::Missing => Some(lowest - 1),
            Predecessor::CreatedAt(seconds) => {
                let old = seconds.saturating_mul(1000).saturating_add(self.config.slack_millis)
                    < self.horizon();
                old.then_some(lowest - 1)
            }
        }
    }

    /// Forgets aggregates logged long enough before the horizon that a lookup of their
    /// last version is sure to find it old.
    fn forget_old(&mut self) {
        if self.known.len() <= self.config.memory {
            return;
        }
        let limit = self.horizon().saturating_sub(2 * self.config.slack_millis);
        self.known.retain(|_, known| known.logged_at >= limit);
    }
}

fn horizon_of(seen_until: &BTreeMap<ShardId, i64>) -> i64 {
    seen_until.values().copied().min().unwrap_or(i64::MIN)
}
