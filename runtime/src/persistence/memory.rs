//! The in-memory store ("popo" in Python eventsourcing): the default, and the reference
//! behaviour of the recorder contract.

use super::{
    check_batch, AggregateRecorder, ApplicationRecorder, EventQuery, Notification,
    NotificationQuery, PersistenceError, ProcessRecorder, Recorders, StoreIdentity, StoredEvent,
    Tracking,
};
use async_trait::async_trait;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use uuid::Uuid;

/// Events, notification log and tracking records in memory, behind one lock so that
/// every insert is atomic.
#[derive(Debug, Default)]
pub struct InMemoryRecorder {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Each aggregate's events, sorted by version. Keyed with foldhash: SipHash was most of
    /// the cost of finding an aggregate, and the process-random seed still spreads keys.
    aggregates: HashMap<Uuid, Vec<Arc<StoredEvent>>, foldhash::fast::RandomState>,
    log: Vec<Arc<StoredEvent>>,
    tracking: HashMap<String, BTreeSet<u64>>,
}

/// A fresh pair of in-memory recorders.
pub fn recorders() -> Recorders {
    Recorders {
        events: Arc::new(InMemoryRecorder::new()),
        snapshots: Arc::new(InMemoryRecorder::new()),
    }
}

impl InMemoryRecorder {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-written batch: inserts check
        // everything before changing anything.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn insert(
        &self,
        events: Vec<StoredEvent>,
        tracking: Option<Tracking>,
    ) -> Result<Vec<u64>, PersistenceError> {
        check_batch(&events)?;
        let mut inner = self.lock();
        for event in &events {
            let exists = inner.aggregates.get(&event.originator_id).is_some_and(|versions| {
                versions
                    .binary_search_by_key(&event.originator_version, |e| e.originator_version)
                    .is_ok()
            });
            if exists {
                return Err(PersistenceError::Conflict {
                    originator_id: event.originator_id,
                    originator_version: event.originator_version,
                });
            }
        }
        if let Some(tracking) = &tracking {
            let seen = inner
                .tracking
                .get(&tracking.application_name)
                .is_some_and(|ids| ids.contains(&tracking.notification_id));
            if seen {
                return Err(PersistenceError::TrackingConflict {
                    application_name: tracking.application_name.clone(),
                    notification_id: tracking.notification_id,
                });
            }
        }
        let mut ids = Vec::with_capacity(events.len());
        for event in events {
            let event = Arc::new(event);
            let versions = inner.aggregates.entry(event.originator_id).or_default();
            match versions.last() {
                Some(last) if last.originator_version > event.originator_version => {
                    let at = versions
                        .partition_point(|e| e.originator_version < event.originator_version);
                    versions.insert(at, Arc::clone(&event));
                }
                _ => versions.push(Arc::clone(&event)),
            }
            inner.log.push(event);
            ids.push(inner.log.len() as u64);
        }
        if let Some(tracking) = tracking {
            inner
                .tracking
                .entry(tracking.application_name)
                .or_default()
                .insert(tracking.notification_id);
        }
        Ok(ids)
    }
}

#[async_trait]
impl AggregateRecorder for InMemoryRecorder {
    async fn insert_events(&self, events: Vec<StoredEvent>) -> Result<Vec<u64>, PersistenceError> {
        self.insert(events, None)
    }

    async fn select_events(
        &self,
        originator_id: Uuid,
        query: EventQuery,
    ) -> Result<Vec<StoredEvent>, PersistenceError> {
        let inner = self.lock();
        let Some(versions) = inner.aggregates.get(&originator_id) else {
            return Ok(Vec::new());
        };
        if let (Some(gt), Some(lte)) = (query.gt, query.lte) {
            if gt >= lte {
                return Ok(Vec::new());
            }
        }
        let from =
            query.gt.map_or(0, |gt| versions.partition_point(|e| e.originator_version <= gt));
        let to = query.lte.map_or(versions.len(), |lte| {
            versions.partition_point(|e| e.originator_version <= lte)
        });
        let range = versions[from..to.max(from)].iter().map(|event| StoredEvent::clone(event));
        let limit = query.limit.unwrap_or(usize::MAX);
        Ok(match query.desc {
            true => range.rev().take(limit).collect(),
            false => range.take(limit).collect(),
        })
    }
}

impl StoreIdentity for InMemoryRecorder {
    /// `memory:<address>`: each in-memory store is its own log, and no two live stores share
    /// an address.
    fn store_identity(&self) -> Option<String> {
        Some(format!("memory:{:p}", self))
    }
}

#[async_trait]
impl ApplicationRecorder for InMemoryRecorder {
    async fn select_notifications(
        &self,
        query: NotificationQuery,
    ) -> Result<Vec<Notification>, PersistenceError> {
        let inner = self.lock();
        let start = query.start.max(1);
        let stop = query.stop.unwrap_or(u64::MAX);
        let mut selected = Vec::new();
        if query.limit == 0 || start > stop {
            return Ok(selected);
        }
        let first = usize::try_from(start - 1).unwrap_or(usize::MAX);
        for (offset, event) in inner.log.iter().enumerate().skip(first) {
            let id = offset as u64 + 1;
            if id > stop {
                break;
            }
            if !query.topics.is_empty() && !query.topics.contains(&event.topic) {
                continue;
            }
            selected.push(Notification { id, event: StoredEvent::clone(event) });
            if selected.len() == query.limit {
                break;
            }
        }
        Ok(selected)
    }

    async fn max_notification_id(&self) -> Result<u64, PersistenceError> {
        Ok(self.lock().log.len() as u64)
    }
}

#[async_trait]
impl ProcessRecorder for InMemoryRecorder {
    async fn insert_events_tracked(
        &self,
        events: Vec<StoredEvent>,
        tracking: Tracking,
    ) -> Result<Vec<u64>, PersistenceError> {
        self.insert(events, Some(tracking))
    }

    async fn max_tracking_id(&self, application_name: &str) -> Result<u64, PersistenceError> {
        Ok(self
            .lock()
            .tracking
            .get(application_name)
            .and_then(|ids| ids.last().copied())
            .unwrap_or(0))
    }

    async fn has_tracking_id(
        &self,
        application_name: &str,
        notification_id: u64,
    ) -> Result<bool, PersistenceError> {
        Ok(self
            .lock()
            .tracking
            .get(application_name)
            .is_some_and(|ids| ids.contains(&notification_id)))
    }
}
