//! Verifying a table's notification log against its events: pure, items in, report out.
//!
//! The checks, as the notification-log design promises them:
//!
//! - the log's ids are 1..N without gaps ([`Problem::Gap`]);
//! - every event item appears in the log exactly once ([`Problem::MissingFromLog`],
//!   [`Problem::DuplicateInLog`]), and every log entry belongs to an event item
//!   ([`Problem::LogEntryWithoutEvent`]);
//! - each log entry carries its event's topic and state bytes ([`Problem::TopicMismatch`],
//!   [`Problem::StateMismatch`]);
//! - per aggregate, the log holds versions in increasing order ([`Problem::OutOfOrder`]);
//! - every item is well formed and in a partition the layout uses ([`Problem::Malformed`],
//!   [`Problem::UnknownItem`]).
//!
//! States are compared by [`Fingerprint`] (length and a 64-bit SipHash), so that a scan of a
//! large table need not hold every state twice in memory.

use crate::items::{EventItem, LogItem, MalformedItem, TableItem};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{DefaultHasher, Hasher};
use uuid::Uuid;

/// The length and a 64-bit hash of stored state bytes: equal bytes give equal fingerprints;
/// different bytes give different ones except with probability about 2⁻⁶⁴ per comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    len: usize,
    hash: u64,
}

impl Fingerprint {
    /// The fingerprint of `bytes` (the same within one process for the same bytes).
    pub fn of(bytes: &[u8]) -> Self {
        let mut hasher = DefaultHasher::new();
        hasher.write(bytes);
        Fingerprint { len: bytes.len(), hash: hasher.finish() }
    }

    /// The number of bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the state was empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// An event item, as the check needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The aggregate.
    pub originator_id: Uuid,
    /// Its version.
    pub originator_version: u64,
    /// The topic.
    pub topic: String,
    /// The stored state's fingerprint.
    pub state: Fingerprint,
}

impl From<&EventItem> for Event {
    fn from(item: &EventItem) -> Self {
        Event {
            originator_id: item.originator_id,
            originator_version: item.originator_version,
            topic: item.topic.clone(),
            state: Fingerprint::of(&item.state),
        }
    }
}

/// A notification log entry, as the check needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The notification id.
    pub id: u64,
    /// The event's aggregate.
    pub originator_id: Uuid,
    /// The event's version.
    pub originator_version: u64,
    /// The topic.
    pub topic: String,
    /// The stored state's fingerprint.
    pub state: Fingerprint,
    /// The entry refers to the event item for its state (a sequenced log page's entry for
    /// a large event): there is no copy to compare.
    pub referenced: bool,
}

impl From<&LogItem> for LogEntry {
    fn from(item: &LogItem) -> Self {
        LogEntry {
            id: item.id,
            originator_id: item.originator_id,
            originator_version: item.originator_version,
            topic: item.topic.clone(),
            state: Fingerprint::of(&item.state),
            referenced: item.referenced,
        }
    }
}

/// Everything a scan found, reduced to what the check needs.
#[derive(Debug, Clone, Default)]
pub struct Contents {
    /// Event items.
    pub events: Vec<Event>,
    /// Notification log items.
    pub log: Vec<LogEntry>,
    /// Tracking items.
    pub tracking_items: u64,
    /// Snapshot items.
    pub snapshots: u64,
    /// Items that could not be read.
    pub malformed: Vec<MalformedItem>,
    /// Keys of items in partitions this layout does not use.
    pub unknown: Vec<String>,
}

impl Contents {
    /// Adds one scanned item (or the reason it could not be read).
    pub fn add(&mut self, item: Result<TableItem, MalformedItem>) {
        match item {
            Ok(TableItem::Event(event)) => self.events.push(Event::from(&event)),
            Ok(TableItem::Log(entry)) => self.log.push(LogEntry::from(&entry)),
            Ok(TableItem::Page(entries)) => self.log.extend(entries.iter().map(LogEntry::from)),
            Ok(TableItem::Lease) => {}
            Ok(TableItem::Tracking { .. }) => self.tracking_items += 1,
            Ok(TableItem::Snapshot { .. }) => self.snapshots += 1,
            Ok(TableItem::Other { key }) => self.unknown.push(key),
            Err(malformed) => self.malformed.push(malformed),
        }
    }

    /// How many items were added.
    pub fn items(&self) -> u64 {
        (self.events.len() + self.log.len() + self.malformed.len() + self.unknown.len()) as u64
            + self.tracking_items
            + self.snapshots
    }
}

/// One thing wrong with the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Problem {
    /// Notification ids `from..=to` are missing (the log's ids must be 1..N).
    Gap {
        /// The first missing id.
        from: u64,
        /// The last missing id.
        to: u64,
    },
    /// A log entry has id 0 (ids start at 1).
    ZeroId,
    /// An event item has no log entry.
    MissingFromLog {
        /// The aggregate.
        originator_id: Uuid,
        /// The version.
        originator_version: u64,
    },
    /// An event appears in the log more than once.
    DuplicateInLog {
        /// The aggregate.
        originator_id: Uuid,
        /// The version.
        originator_version: u64,
        /// The notification ids that carry it.
        ids: Vec<u64>,
    },
    /// A log entry names an event that is not in the table.
    LogEntryWithoutEvent {
        /// The notification id.
        id: u64,
        /// The aggregate it names.
        originator_id: Uuid,
        /// The version it names.
        originator_version: u64,
    },
    /// A log entry's topic differs from its event item's.
    TopicMismatch {
        /// The notification id.
        id: u64,
        /// The aggregate.
        originator_id: Uuid,
        /// The version.
        originator_version: u64,
        /// The event item's topic.
        event_topic: String,
        /// The log entry's topic.
        log_topic: String,
    },
    /// A log entry's state bytes differ from its event item's.
    StateMismatch {
        /// The notification id.
        id: u64,
        /// The aggregate.
        originator_id: Uuid,
        /// The version.
        originator_version: u64,
        /// The event item's state length in bytes.
        event_bytes: usize,
        /// The log entry's state length in bytes.
        log_bytes: usize,
    },
    /// An aggregate's version comes after a higher version of it in the log.
    OutOfOrder {
        /// The aggregate.
        originator_id: Uuid,
        /// The earlier notification id.
        earlier_id: u64,
        /// The version at the earlier id.
        earlier_version: u64,
        /// The later notification id.
        later_id: u64,
        /// The (lower) version at the later id.
        later_version: u64,
    },
    /// An item lacks attributes its partition calls for.
    Malformed {
        /// Its key.
        key: String,
        /// What is wrong.
        detail: String,
    },
    /// An item in a partition this layout does not use.
    UnknownItem {
        /// Its key.
        key: String,
    },
}

impl Problem {
    /// A short name of the kind of problem (the `problem` field of the JSON form).
    pub fn kind(&self) -> &'static str {
        match self {
            Problem::Gap { .. } => "gap",
            Problem::ZeroId => "zero_id",
            Problem::MissingFromLog { .. } => "missing_from_log",
            Problem::DuplicateInLog { .. } => "duplicate_in_log",
            Problem::LogEntryWithoutEvent { .. } => "log_entry_without_event",
            Problem::TopicMismatch { .. } => "topic_mismatch",
            Problem::StateMismatch { .. } => "state_mismatch",
            Problem::OutOfOrder { .. } => "out_of_order",
            Problem::Malformed { .. } => "malformed",
            Problem::UnknownItem { .. } => "unknown_item",
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Gap { from, to } if from == to => write!(f, "gap: notification id {from} is missing"),
            Problem::Gap { from, to } => write!(f, "gap: notification ids {from}..={to} are missing"),
            Problem::ZeroId => write!(f, "zero id: a log entry has notification id 0 (ids start at 1)"),
            Problem::MissingFromLog { originator_id, originator_version } => write!(
                f,
                "missing from log: event {originator_id} v{originator_version} has no log entry"
            ),
            Problem::DuplicateInLog { originator_id, originator_version, ids } => write!(
                f,
                "duplicate in log: event {originator_id} v{originator_version} is at notification ids {ids:?}"
            ),
            Problem::LogEntryWithoutEvent { id, originator_id, originator_version } => write!(
                f,
                "log entry without event: notification {id} names {originator_id} v{originator_version}, which is not in the table"
            ),
            Problem::TopicMismatch { id, originator_id, originator_version, event_topic, log_topic } => write!(
                f,
                "topic mismatch: notification {id} ({originator_id} v{originator_version}) has topic {log_topic:?}, the event {event_topic:?}"
            ),
            Problem::StateMismatch { id, originator_id, originator_version, event_bytes, log_bytes } => write!(
                f,
                "state mismatch: notification {id} ({originator_id} v{originator_version}) carries other state bytes than the event ({log_bytes} vs {event_bytes} bytes)"
            ),
            Problem::OutOfOrder { originator_id, earlier_id, earlier_version, later_id, later_version } => write!(
                f,
                "out of order: {originator_id} v{later_version} at notification {later_id} comes after v{earlier_version} at notification {earlier_id}"
            ),
            Problem::Malformed { key, detail } => write!(f, "malformed item at {key}: {detail}"),
            Problem::UnknownItem { key } => write!(f, "unknown item at {key}: not an event, log, tracking or snapshot partition"),
        }
    }
}

/// What the table holds, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Items scanned.
    pub items: u64,
    /// Event items.
    pub events: u64,
    /// Distinct aggregates among the event items.
    pub aggregates: u64,
    /// Notification log items.
    pub log_entries: u64,
    /// The highest notification id (0 when the log is empty).
    pub last_id: u64,
    /// Ids in 1..=last_id with no log item.
    pub missing_ids: u64,
    /// Tracking items.
    pub tracking_items: u64,
    /// Snapshot items.
    pub snapshots: u64,
}

/// The outcome of a verification.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// What the table holds.
    pub summary: Summary,
    /// How many problems of each kind were found (all of them, listed or not).
    pub problem_counts: BTreeMap<&'static str, u64>,
    /// The problems found, in a stable order, at most the `max_problems` asked for.
    pub problems: Vec<Problem>,
    /// How many problems were found in all.
    pub problems_total: u64,
}

impl Report {
    /// Whether no problem was found.
    pub fn is_clean(&self) -> bool {
        self.problems_total == 0
    }

    /// Whether some problems were found but not listed.
    pub fn is_truncated(&self) -> bool {
        self.problems_total > self.problems.len() as u64
    }

    /// Whether a problem of this kind (see [`Problem::kind`]) was found.
    pub fn has(&self, kind: &str) -> bool {
        self.problem_counts.get(kind).is_some_and(|&n| n > 0)
    }
}

struct Collector {
    report: Report,
    max: usize,
}

impl Collector {
    fn push(&mut self, problem: Problem) {
        *self.report.problem_counts.entry(problem.kind()).or_default() += 1;
        self.report.problems_total += 1;
        if self.report.problems.len() < self.max {
            self.report.problems.push(problem);
        }
    }
}

/// Checks `contents`, listing at most `max_problems` problems (all are counted).
///
/// Problems are listed in this order: unreadable and unknown items, gaps in the ids (ascending),
/// problems of log entries (by id), events missing from the log (by aggregate and version).
pub fn check(mut contents: Contents, max_problems: usize) -> Report {
    let mut out = Collector { report: Report::default(), max: max_problems };
    let items = contents.items();

    contents.malformed.sort_by(|a, b| a.key.cmp(&b.key));
    for malformed in contents.malformed {
        out.push(Problem::Malformed { key: malformed.key, detail: malformed.problem });
    }
    contents.unknown.sort();
    for key in contents.unknown {
        out.push(Problem::UnknownItem { key });
    }

    // Ids: 1..=last without gaps. (DynamoDB keys are unique, so an id cannot repeat.)
    contents.log.sort_by_key(|entry| entry.id);
    let last_id = contents.log.last().map_or(0, |entry| entry.id);
    let mut missing_ids = 0;
    let mut expected = 1u64;
    for entry in &contents.log {
        if entry.id == 0 {
            out.push(Problem::ZeroId);
            continue;
        }
        if entry.id > expected {
            out.push(Problem::Gap { from: expected, to: entry.id - 1 });
            missing_ids += entry.id - expected;
        }
        expected = expected.max(entry.id.saturating_add(1));
    }

    // Events by key, and where the log puts each of them.
    let mut events: HashMap<(Uuid, u64), &Event> = HashMap::with_capacity(contents.events.len());
    for event in &contents.events {
        events.insert((event.originator_id, event.originator_version), event);
    }
    let mut placed: HashMap<(Uuid, u64), Vec<u64>> = HashMap::with_capacity(contents.log.len());
    let mut highest: HashMap<Uuid, (u64, u64)> = HashMap::new(); // aggregate → (version, id)
    for entry in &contents.log {
        let key = (entry.originator_id, entry.originator_version);
        let ids = placed.entry(key).or_default();
        ids.push(entry.id);
        match events.get(&key) {
            None => out.push(Problem::LogEntryWithoutEvent {
                id: entry.id,
                originator_id: entry.originator_id,
                originator_version: entry.originator_version,
            }),
            Some(event) => {
                if event.topic != entry.topic {
                    out.push(Problem::TopicMismatch {
                        id: entry.id,
                        originator_id: entry.originator_id,
                        originator_version: entry.originator_version,
                        event_topic: event.topic.clone(),
                        log_topic: entry.topic.clone(),
                    });
                }
                if !entry.referenced && event.state != entry.state {
                    out.push(Problem::StateMismatch {
                        id: entry.id,
                        originator_id: entry.originator_id,
                        originator_version: entry.originator_version,
                        event_bytes: event.state.len(),
                        log_bytes: entry.state.len(),
                    });
                }
            }
        }
        // Per aggregate, versions must rise with the ids. A repeat of the same version is a
        // duplicate, reported below; a lower one is out of order.
        match highest.get_mut(&entry.originator_id) {
            Some((version, id)) if entry.originator_version < *version => {
                out.push(Problem::OutOfOrder {
                    originator_id: entry.originator_id,
                    earlier_id: *id,
                    earlier_version: *version,
                    later_id: entry.id,
                    later_version: entry.originator_version,
                });
            }
            Some((version, id)) => {
                if entry.originator_version > *version {
                    (*version, *id) = (entry.originator_version, entry.id);
                }
            }
            None => {
                highest.insert(entry.originator_id, (entry.originator_version, entry.id));
            }
        }
    }

    // Duplicates, in the order of their first id.
    let mut duplicates: Vec<(&(Uuid, u64), &Vec<u64>)> =
        placed.iter().filter(|(_, ids)| ids.len() > 1).collect();
    duplicates.sort_by_key(|(_, ids)| ids[0]);
    for (&(originator_id, originator_version), ids) in duplicates {
        out.push(Problem::DuplicateInLog { originator_id, originator_version, ids: ids.clone() });
    }

    // Events the log lacks, by aggregate and version.
    let mut missing: Vec<(Uuid, u64)> =
        events.keys().filter(|key| !placed.contains_key(key)).copied().collect();
    missing.sort_unstable();
    for (originator_id, originator_version) in missing {
        out.push(Problem::MissingFromLog { originator_id, originator_version });
    }

    let mut aggregates: Vec<Uuid> = contents.events.iter().map(|e| e.originator_id).collect();
    aggregates.sort_unstable();
    aggregates.dedup();
    out.report.summary = Summary {
        items,
        events: contents.events.len() as u64,
        aggregates: aggregates.len() as u64,
        log_entries: contents.log.len() as u64,
        last_id,
        missing_ids,
        tracking_items: contents.tracking_items,
        snapshots: contents.snapshots,
    };
    out.report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn event(aggregate: u128, version: u64) -> Event {
        Event {
            originator_id: id(aggregate),
            originator_version: version,
            topic: format!("test:A.E{version}"),
            state: Fingerprint::of(format!("{{\"v\":{version}}}").as_bytes()),
        }
    }

    fn entry(log_id: u64, event: &Event) -> LogEntry {
        LogEntry {
            id: log_id,
            originator_id: event.originator_id,
            originator_version: event.originator_version,
            topic: event.topic.clone(),
            state: event.state,
            referenced: false,
        }
    }

    /// Two aggregates, interleaved in the log: a1 v1, a2 v1, a1 v2, a2 v2, a1 v3.
    fn clean() -> Contents {
        let events = vec![event(1, 1), event(2, 1), event(1, 2), event(2, 2), event(1, 3)];
        let log = events.iter().enumerate().map(|(i, e)| entry(i as u64 + 1, e)).collect();
        Contents { events, log, tracking_items: 2, snapshots: 1, ..Default::default() }
    }

    #[test]
    fn a_clean_table_is_clean() {
        let report = check(clean(), 100);
        assert!(report.is_clean(), "{:?}", report.problems);
        assert_eq!(
            report.summary,
            Summary {
                items: 13,
                events: 5,
                aggregates: 2,
                log_entries: 5,
                last_id: 5,
                missing_ids: 0,
                tracking_items: 2,
                snapshots: 1,
            }
        );
    }

    #[test]
    fn empty_table_is_clean() {
        let report = check(Contents::default(), 10);
        assert!(report.is_clean());
        assert_eq!(report.summary.last_id, 0);
    }

    #[test]
    fn finds_gaps_as_ranges() {
        let mut contents = clean();
        contents.log.retain(|e| e.id != 2 && e.id != 3);
        // Also a gap before the first id: a log starting at 7.
        let late = event(3, 1);
        contents.log.push(entry(9, &late));
        contents.events.push(late);
        let report = check(contents, 100);
        let gaps: Vec<_> = report.problems.iter().filter(|p| p.kind() == "gap").collect();
        assert_eq!(gaps, [&Problem::Gap { from: 2, to: 3 }, &Problem::Gap { from: 6, to: 8 }]);
        assert_eq!(report.summary.missing_ids, 5);
        // The events whose entries were deleted are missing from the log.
        assert!(report
            .problems
            .contains(&Problem::MissingFromLog { originator_id: id(2), originator_version: 1 }));
        assert!(report
            .problems
            .contains(&Problem::MissingFromLog { originator_id: id(1), originator_version: 2 }));
        assert_eq!(report.problem_counts["missing_from_log"], 2);
    }

    #[test]
    fn gap_at_the_start() {
        let mut contents = clean();
        contents.log.retain(|e| e.id != 1);
        let report = check(contents, 100);
        assert_eq!(report.problems[0], Problem::Gap { from: 1, to: 1 });
    }

    #[test]
    fn finds_duplicates() {
        let mut contents = clean();
        let again = contents.events[1].clone(); // a2 v1, already at id 2
        contents.log.push(entry(6, &again));
        let report = check(contents, 100);
        assert_eq!(
            report.problems,
            [
                // a2 v1 at 6 comes after a2 v2 at 4: also out of order.
                Problem::OutOfOrder {
                    originator_id: id(2),
                    earlier_id: 4,
                    earlier_version: 2,
                    later_id: 6,
                    later_version: 1
                },
                Problem::DuplicateInLog {
                    originator_id: id(2),
                    originator_version: 1,
                    ids: vec![2, 6]
                },
            ]
        );
    }

    #[test]
    fn a_repeat_of_the_last_version_is_only_a_duplicate() {
        let mut contents = clean();
        let last = contents.events[4].clone(); // a1 v3 at id 5
        contents.log.push(entry(6, &last));
        let report = check(contents, 100);
        assert_eq!(
            report.problems,
            [Problem::DuplicateInLog {
                originator_id: id(1),
                originator_version: 3,
                ids: vec![5, 6]
            }]
        );
    }

    #[test]
    fn finds_versions_out_of_order() {
        let mut contents = clean();
        // Swap the log positions of a1 v2 (id 3) and a1 v3 (id 5).
        for entry in &mut contents.log {
            entry.id = match entry.id {
                3 => 5,
                5 => 3,
                other => other,
            };
        }
        let report = check(contents, 100);
        assert_eq!(
            report.problems,
            [Problem::OutOfOrder {
                originator_id: id(1),
                earlier_id: 3,
                earlier_version: 3,
                later_id: 5,
                later_version: 2
            }]
        );
    }

    #[test]
    fn finds_events_missing_from_the_log_and_entries_without_events() {
        let mut contents = clean();
        contents.events.push(event(3, 1)); // written without a log entry
        let ghost = event(4, 1);
        contents.log.push(entry(6, &ghost)); // a log entry whose event is gone
        let report = check(contents, 100);
        assert_eq!(
            report.problems,
            [
                Problem::LogEntryWithoutEvent {
                    id: 6,
                    originator_id: id(4),
                    originator_version: 1
                },
                Problem::MissingFromLog { originator_id: id(3), originator_version: 1 },
            ]
        );
    }

    #[test]
    fn finds_mismatched_topic_and_state() {
        let mut contents = clean();
        contents.log[1].state = Fingerprint::of(b"{\"v\":99}");
        contents.log[2].topic = "test:A.Other".to_owned();
        let report = check(contents, 100);
        assert_eq!(
            report.problems,
            [
                Problem::StateMismatch {
                    id: 2,
                    originator_id: id(2),
                    originator_version: 1,
                    event_bytes: 7,
                    log_bytes: 8
                },
                Problem::TopicMismatch {
                    id: 3,
                    originator_id: id(1),
                    originator_version: 2,
                    event_topic: "test:A.E2".to_owned(),
                    log_topic: "test:A.Other".to_owned()
                },
            ]
        );
        // Same length, other bytes: still a mismatch.
        let mut contents = clean();
        contents.log[0].state = Fingerprint::of(b"{\"v\":7}");
        assert_eq!(check(contents, 100).problem_counts["state_mismatch"], 1);
    }

    #[test]
    fn reports_malformed_unknown_and_zero_id_items() {
        let mut contents = clean();
        contents.malformed.push(MalformedItem { key: "k".into(), problem: "p".into() });
        contents.unknown.push("originator_id=x originator_version=1".into());
        let zero = event(1, 1);
        contents.log.push(entry(0, &zero));
        let report = check(contents, 100);
        assert_eq!(report.problems[0], Problem::Malformed { key: "k".into(), detail: "p".into() });
        assert!(report.has("unknown_item"));
        assert!(report.has("zero_id"));
        assert!(!report.has("gap"));
    }

    #[test]
    fn lists_a_bounded_number_of_problems_and_counts_all() {
        let mut contents = clean();
        for n in 10..60 {
            contents.events.push(event(n, 1));
        }
        let report = check(contents, 10);
        assert_eq!(report.problems.len(), 10);
        assert_eq!(report.problems_total, 50);
        assert!(report.is_truncated());
        assert_eq!(report.problem_counts["missing_from_log"], 50);
    }

    #[test]
    fn problems_display_their_subject() {
        let problem = Problem::Gap { from: 4, to: 4 };
        assert_eq!(problem.to_string(), "gap: notification id 4 is missing");
        let json = serde_json::to_value(Problem::Gap { from: 2, to: 3 }).unwrap();
        assert_eq!(json, serde_json::json!({"problem": "gap", "from": 2, "to": 3}));
    }
}
