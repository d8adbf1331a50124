//! The sequencer against a fake stream that does what DynamoDB Streams may do: records of
//! one aggregate on different shards and out of version order, transactions' records
//! interleaved, shard splits, records delivered in random chunks and again after restarts,
//! the lease lost between cutting a page and writing it, and aggregates forgotten and
//! looked up in the table. Whatever happens, the log holds every event exactly once, ids
//! 1..N without gaps, and each aggregate's versions in order.

use eventsourcing_sequencer::{
    Change, Checkpoint, Config, EventImage, Page, PageEntry, Predecessor, SequenceNumber,
    Sequencer, ShardEnd, ShardId, ShardInfo, StreamRecord,
};
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// One committed write of the fake table: its events and when it committed.
#[derive(Debug, Clone)]
struct Commit {
    millis: i64,
    events: Vec<(usize, u64)>,
}

/// The fake world: a table of event items and a stream of their records.
struct World {
    table: HashMap<(Uuid, u64), EventImage>,
    /// When each event was committed (the stream's approximate time).
    committed_at: HashMap<(Uuid, u64), i64>,
    shards: Vec<ShardInfo>,
    /// Each shard's records in shard order, with the time they become visible.
    records: BTreeMap<ShardId, Vec<(i64, StreamRecord)>>,
    /// When each shard closes (no shard closes if None).
    closes_at: BTreeMap<ShardId, i64>,
    ids: Vec<Uuid>,
}

fn uuid(n: usize) -> Uuid {
    Uuid::from_u128(0x1000 + n as u128)
}

#[derive(Debug, Clone)]
struct Plan {
    aggregates: usize,
    /// For each write: which aggregates it touches (1..=3 events), and the gap before it.
    writes: Vec<(Vec<usize>, i64)>,
    /// Shards 0 and 1; shard 0 splits into 2 at this write (if any).
    split_at: Option<usize>,
    /// Per write: whether its items go to the "other" shard (split for heat).
    hot: Vec<bool>,
    /// Per write: the writer's clock skew in ms.
    skew: Vec<i64>,
    /// Permutation seeds for records of one transaction.
    shuffle: Vec<u64>,
    /// Driver choices.
    chunks: Vec<usize>,
    lose_lease: Vec<bool>,
    crash: Vec<bool>,
    memory: usize,
}

fn plan() -> impl Strategy<Value = Plan> {
    (1usize..6, 1usize..40).prop_flat_map(|(aggregates, writes)| {
        (
            Just(aggregates),
            prop::collection::vec((prop::collection::vec(0..aggregates, 1..4), 0i64..1500), writes),
            prop::option::of(0..writes),
            prop::collection::vec(prop::bool::weighted(0.2), writes),
            prop::collection::vec(-400i64..400, writes),
            prop::collection::vec(any::<u64>(), writes),
            prop::collection::vec(0usize..6, 64),
            prop::collection::vec(prop::bool::weighted(0.15), 64),
            prop::collection::vec(prop::bool::weighted(0.1), 64),
            1usize..4,
        )
            .prop_map(
                |(
                    aggregates,
                    writes,
                    split_at,
                    hot,
                    skew,
                    shuffle,
                    chunks,
                    lose_lease,
                    crash,
                    memory,
                )| Plan {
                    aggregates,
                    writes,
                    split_at,
                    hot,
                    skew,
                    shuffle,
                    chunks,
                    lose_lease,
                    crash,
                    memory,
                },
            )
    })
}

fn shard(name: &str) -> ShardId {
    ShardId(name.to_owned())
}

impl World {
    fn build(plan: &Plan) -> World {
        let ids: Vec<Uuid> = (0..plan.aggregates).map(uuid).collect();
        let mut versions = vec![0u64; plan.aggregates];
        let mut millis = 1_000_000i64;
        let mut commits = Vec::new();
        for (touched, gap) in &plan.writes {
            millis += gap;
            let events = touched
                .iter()
                .map(|a| {
                    versions[*a] += 1;
                    (*a, versions[*a])
                })
                .collect();
            commits.push(Commit { millis, events });
        }
        let mut shards = vec![
            ShardInfo { id: shard("s0"), parent: None },
            ShardInfo { id: shard("s1"), parent: None },
        ];
        let mut closes_at = BTreeMap::new();
        if let Some(at) = plan.split_at {
            shards.push(ShardInfo { id: shard("s2"), parent: Some(shard("s0")) });
            closes_at.insert(shard("s0"), commits[at].millis - 1);
        }
        let mut world = World {
            table: HashMap::new(),
            committed_at: HashMap::new(),
            shards,
            records: BTreeMap::new(),
            closes_at,
            ids,
        };
        let mut sequence = 100u64;
        for (index, commit) in commits.iter().enumerate() {
            let mut items: Vec<(ShardId, EventImage)> = commit
                .events
                .iter()
                .map(|(a, v)| {
                    let home = if (a % 2 == 0) != plan.hot[index] { "s0" } else { "s1" };
                    let home = match (home, plan.split_at) {
                        ("s0", Some(at)) if index >= at => "s2",
                        (home, _) => home,
                    };
                    let event = EventImage {
                        originator_id: world.ids[*a],
                        originator_version: *v,
                        topic: "fake:Dog.Event".to_owned(),
                        state: format!("{a}-{v}").into_bytes(),
                        created_at: (commit.millis + plan.skew[index]).div_euclid(1000),
                    };
                    (shard(home), event)
                })
                .collect();
            // A transaction's records appear in any order.
            let mut rng = plan.shuffle[index];
            for i in (1..items.len()).rev() {
                rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                items.swap(i, (rng >> 33) as usize % (i + 1));
            }
            for (home, event) in items {
                sequence += 1 + (sequence % 7); // with gaps, as DynamoDB Local's
                world.table.insert(event.key(), event.clone());
                world.committed_at.insert(event.key(), commit.millis);
                world.records.entry(home).or_default().push((
                    commit.millis,
                    StreamRecord {
                        sequence: SequenceNumber::new(&sequence.to_string()).unwrap(),
                        approximate_millis: commit.millis,
                        change: Change::Inserted(event),
                    },
                ));
            }
        }
        world
    }

    fn info(&self, id: &ShardId) -> &ShardInfo {
        self.shards.iter().find(|s| &s.id == id).unwrap()
    }

    /// The records of `id` after `position` visible at `now`, and whether the shard has
    /// ended by then.
    fn after(
        &self,
        id: &ShardId,
        position: Option<&SequenceNumber>,
        now: i64,
    ) -> (Vec<StreamRecord>, bool) {
        let records = self.records.get(id).map(Vec::as_slice).unwrap_or_default();
        let visible: Vec<StreamRecord> = records
            .iter()
            .filter(|(at, record)| *at <= now && position.is_none_or(|p| record.sequence > *p))
            .map(|(_, record)| record.clone())
            .collect();
        let closed = self.closes_at.get(id).is_some_and(|at| *at <= now)
            && records.iter().all(|(at, _)| *at <= now);
        (visible, closed)
    }
}

/// Runs the driver loop: read shards in chunks, answer lookups, cut pages, sometimes lose
/// the lease (the page is not written) or crash (restart from the last page).
fn run(plan: &Plan) -> (Vec<Page>, World) {
    let world = World::build(plan);
    let config =
        Config { max_entries: 3, memory: plan.memory, slack_millis: 1500, ..Config::default() };
    let mut log: Vec<Page> = Vec::new();
    let mut sequencer = Sequencer::new(config);
    let last_commit = world.committed_at.values().copied().max().unwrap_or(0);
    let mut now = 1_000_000i64;
    for step in 0..400usize {
        now += 300;
        sequencer.note_shards(&world.shards).unwrap();
        for id in sequencer.readable(&world.shards) {
            let (mut records, closed) = world.after(&id, sequencer.position(&id), now);
            let chunk = plan.chunks[(step + id.0.len()) % plan.chunks.len()];
            let end = if records.len() > chunk {
                records.truncate(chunk);
                ShardEnd::More
            } else if closed {
                ShardEnd::Closed
            } else {
                ShardEnd::CaughtUpTo(now)
            };
            sequencer.offer(world.info(&id), records, end).unwrap();
        }
        for key in sequencer.lookups() {
            let answer = match world.table.get(&key) {
                Some(event) => Predecessor::CreatedAt(event.created_at),
                None => Predecessor::Missing,
            };
            sequencer.resolve(key, answer);
        }
        while let Some(page) = sequencer.next_page(now) {
            if plan.lose_lease[step % plan.lose_lease.len()] && step % 3 == 0 {
                break; // a deposed sequencer's write fails its lease condition
            }
            assert_eq!(page.first_id, log.last().map_or(1, Page::next_id), "pages chain");
            sequencer.committed(&page).unwrap();
            log.push(page);
        }
        if plan.crash[step % plan.crash.len()] {
            sequencer = restart(&log, &world, config);
        }
        if now > last_commit + 20_000 && sequencer.waiting() == 0 {
            break;
        }
    }
    (log, world)
}

/// A new sequencer from the last page's checkpoint, the log's tail and the table.
fn restart(log: &[Page], world: &World, config: Config) -> Sequencer {
    let checkpoint = log.last().map_or_else(Checkpoint::empty, |p| p.checkpoint.clone());
    let since = Sequencer::tail_since(&config, &checkpoint);
    let tail: Vec<((Uuid, u64), i64)> = log
        .iter()
        .filter(|page| page.written_at >= since)
        .flat_map(|page| page.entries.iter().map(move |e| (e.key(), page.written_at)))
        .collect();
    let mut sequencer = Sequencer::resume(config, checkpoint, tail);
    let keys: Vec<(Uuid, u64)> = sequencer.unrestored().copied().collect();
    for key in keys {
        match world.table.get(&key) {
            Some(event) => sequencer.restore(event.clone()),
            None => sequencer.forget(key),
        }
    }
    sequencer
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn every_event_once_gapless_in_aggregate_order(plan in plan()) {
        let (log, world) = run(&plan);
        let entries: Vec<(u64, (Uuid, u64))> = log
            .iter()
            .flat_map(|page| page.entries.iter().enumerate().map(move |(i, e)| (page.first_id + i as u64, e.key())))
            .collect();
        let ids: Vec<u64> = entries.iter().map(|(id, _)| *id).collect();
        prop_assert_eq!(ids, (1..=entries.len() as u64).collect::<Vec<_>>(), "ids 1..N without gaps");
        let mut seen: HashMap<(Uuid, u64), u64> = HashMap::new();
        for (id, key) in &entries {
            prop_assert!(seen.insert(*key, *id).is_none(), "{:?} logged twice", key);
        }
        prop_assert_eq!(seen.len(), world.table.len(), "every event logged");
        let mut last: HashMap<Uuid, u64> = HashMap::new();
        for (_, (aggregate, version)) in &entries {
            let previous = last.insert(*aggregate, *version).unwrap_or(0);
            prop_assert_eq!(previous + 1, *version, "aggregate {} in version order", aggregate);
        }
        for page in &log {
            for entry in &page.entries {
                if let PageEntry::Inline(event) = entry {
                    prop_assert_eq!(Some(event), world.table.get(&event.key()), "the stored event");
                }
            }
        }
    }
}

/// Events too large for a page are referenced, not copied; pages respect their byte limit.
#[test]
fn large_events_are_referenced() {
    let config = Config { inline_limit: 100, max_page_bytes: 1000, ..Config::default() };
    let mut sequencer = Sequencer::new(config);
    let shards = [ShardInfo { id: shard("s0"), parent: None }];
    sequencer.note_shards(&shards).unwrap();
    let record = |n: u64, size: usize| StreamRecord {
        sequence: SequenceNumber::new(&n.to_string()).unwrap(),
        approximate_millis: 1000,
        change: Change::Inserted(EventImage {
            originator_id: uuid(n as usize),
            originator_version: 1,
            topic: "t".into(),
            state: vec![b'x'; size],
            created_at: 1,
        }),
    };
    let records = vec![record(1, 10), record(2, 500), record(3, 700), record(4, 10)];
    sequencer.offer(&shards[0], records, ShardEnd::CaughtUpTo(2000)).unwrap();
    let page = sequencer.next_page(2000).unwrap();
    assert!(matches!(page.entries[0], PageEntry::Inline(_)));
    assert!(matches!(page.entries[1], PageEntry::Reference { .. }));
    sequencer.committed(&page).unwrap();
    let mut total = page.entries.len();
    while let Some(page) = sequencer.next_page(2000) {
        total += page.entries.len();
        sequencer.committed(&page).unwrap();
    }
    assert_eq!(total, 4);
}

/// A shard that disappears before it was read to its end is a typed error, not a skip.
#[test]
fn trimmed_shards_are_errors() {
    let mut sequencer = Sequencer::new(Config::default());
    let s0 = ShardInfo { id: shard("s0"), parent: None };
    sequencer.note_shards(std::slice::from_ref(&s0)).unwrap();
    let record = StreamRecord {
        sequence: SequenceNumber::new("5").unwrap(),
        approximate_millis: 1,
        change: Change::Ignored,
    };
    sequencer.offer(&s0, vec![record], ShardEnd::More).unwrap();
    let error = sequencer.note_shards(&[]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "shard s0 was trimmed from the stream before it was read to its end"
    );
}

/// A child's records are refused while its parent is unfinished; readable() lists parents first.
#[test]
fn parents_before_children() {
    let mut sequencer = Sequencer::new(Config::default());
    let parent = ShardInfo { id: shard("p"), parent: None };
    let child = ShardInfo { id: shard("c"), parent: Some(shard("p")) };
    let shards = [parent.clone(), child.clone()];
    sequencer.note_shards(&shards).unwrap();
    assert_eq!(sequencer.readable(&shards), [shard("p")]);
    let record = |n: &str| StreamRecord {
        sequence: SequenceNumber::new(n).unwrap(),
        approximate_millis: 1,
        change: Change::Ignored,
    };
    sequencer.offer(&parent, vec![record("1")], ShardEnd::More).unwrap();
    assert!(sequencer.offer(&child, vec![record("9")], ShardEnd::More).is_err());
    sequencer.offer(&parent, vec![], ShardEnd::Closed).unwrap();
    assert_eq!(sequencer.readable(&shards), [shard("c")]);
    sequencer.offer(&child, vec![record("9")], ShardEnd::More).unwrap();
}

/// An aggregate whose earlier version is missing from the table (written behind the
/// library's back, or deleted) is logged once the table says so, not waited for forever.
#[test]
fn missing_predecessors_are_not_waited_for() {
    let mut sequencer = Sequencer::new(Config::default());
    let s0 = ShardInfo { id: shard("s0"), parent: None };
    sequencer.note_shards(std::slice::from_ref(&s0)).unwrap();
    let event = EventImage {
        originator_id: uuid(1),
        originator_version: 3,
        topic: "t".into(),
        state: b"{}".to_vec(),
        created_at: 1,
    };
    let record = StreamRecord {
        sequence: SequenceNumber::new("1").unwrap(),
        approximate_millis: 1000,
        change: Change::Inserted(event),
    };
    sequencer.offer(&s0, vec![record], ShardEnd::CaughtUpTo(1000)).unwrap();
    assert!(sequencer.next_page(1000).is_none(), "version 2 might still come");
    assert_eq!(sequencer.lookups(), [(uuid(1), 2)]);
    sequencer.resolve((uuid(1), 2), Predecessor::Missing);
    let page = sequencer.next_page(1000).expect("logged once the table says 2 is missing");
    assert_eq!(page.entries.len(), 1);
}
