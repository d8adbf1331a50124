//! The view store: where a projection keeps its read models, and how far it got.

use crate::error::{Error, Result};
use crate::persistence::PersistenceError;
use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// A view's row: (view name, key).
pub type RowKey = (String, String);

/// The changes of consecutive notifications of one upstream application, written with
/// the tracking record in one atomic operation: the rows to put (`Some`) or delete
/// (`None`), the position they start from and the position they bring the view to.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewBatch {
    /// The upstream application's name.
    pub upstream: String,
    /// The tracked position this batch continues from (0 for none): the write fails if
    /// the store's position is not this one.
    pub previous: u64,
    /// The id of the last notification in the batch: the position written.
    pub last: u64,
    /// The rows, each with its final value within the batch.
    pub rows: BTreeMap<RowKey, Option<Value>>,
}

impl ViewBatch {
    /// An empty batch after position `previous` of `upstream`.
    pub fn new(upstream: impl Into<String>, previous: u64) -> Self {
        ViewBatch { upstream: upstream.into(), previous, last: previous, rows: BTreeMap::new() }
    }

    /// How many notifications it covers.
    pub fn notifications(&self) -> u64 {
        self.last - self.previous
    }

    /// Adds notification `id`'s changes (later values of a row replace earlier ones), and
    /// returns what [`ViewBatch::undo`] needs to take them out again.
    pub fn absorb(&mut self, id: u64, rows: BTreeMap<RowKey, Option<Value>>) -> Absorbed {
        let mut replaced = Vec::with_capacity(rows.len());
        for (row, value) in rows {
            let before = self.rows.insert(row.clone(), value);
            replaced.push((row, before));
        }
        let absorbed = Absorbed { last: self.last, replaced };
        self.last = id;
        absorbed
    }

    /// Takes the changes of the last [`ViewBatch::absorb`] out again and returns them.
    pub fn undo(&mut self, absorbed: Absorbed) -> BTreeMap<RowKey, Option<Value>> {
        let mut rows = BTreeMap::new();
        for (row, before) in absorbed.replaced.into_iter().rev() {
            let value = match before {
                Some(before) => self.rows.insert(row.clone(), before),
                None => self.rows.remove(&row),
            };
            rows.insert(row, value.flatten());
        }
        self.last = absorbed.last;
        rows
    }
}

/// What one [`ViewBatch::absorb`] replaced: the rows' earlier entries and position.
#[derive(Debug)]
pub struct Absorbed {
    last: u64,
    /// Each row, with its entry before (`None`: it was not in the batch).
    replaced: Vec<(RowKey, Option<Option<Value>>)>,
}

/// Where a projection's views live: rows of JSON values under (view, key), and tracking
/// records (projection, upstream application) → the last notification id processed.
///
/// [`commit`](ViewStore::commit) is atomic, and fenced: it writes only when the stored
/// position is the batch's `previous`, so a second runner of the same projection, or a
/// runner that resumed from a stale position, fails with
/// [`PersistenceError::TrackingConflict`] and writes nothing. Each view is written by one
/// projection.
#[async_trait]
pub trait ViewStore: Send + Sync {
    /// The row `key` of `view`.
    async fn get(&self, view: &str, key: &str) -> Result<Option<Value>, PersistenceError>;

    /// Every row of `view`, by key.
    async fn rows(&self, view: &str) -> Result<BTreeMap<String, Value>, PersistenceError>;

    /// The last notification of `upstream` that `projection` processed (0 when none).
    async fn max_tracking_id(
        &self,
        projection: &str,
        upstream: &str,
    ) -> Result<u64, PersistenceError>;

    /// Writes the batch's rows and `projection`'s tracking record (`batch.last`) in one
    /// atomic operation, if the tracked position is `batch.previous`.
    async fn commit(&self, projection: &str, batch: &ViewBatch) -> Result<(), PersistenceError>;

    /// Refuses a batch the store could not write atomically
    /// ([`PersistenceError::LimitExceeded`]); the runner checks before growing a batch.
    fn check_limits(&self, _batch: &ViewBatch) -> Result<(), PersistenceError> {
        Ok(())
    }
}

/// What a [`Projection`](super::Projection) changes for one notification: reads see the
/// rows as stored, with the changes of the notifications before it in the same batch and
/// its own on top.
pub struct ViewChanges<'a> {
    store: &'a dyn ViewStore,
    batch: &'a ViewBatch,
    own: BTreeMap<RowKey, Option<Value>>,
}

impl std::fmt::Debug for ViewChanges<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ViewChanges").field("rows", &self.own.len()).finish_non_exhaustive()
    }
}

fn row(view: &str, key: &str) -> RowKey {
    (view.to_owned(), key.to_owned())
}

fn bad_row(view: &str, key: &str, error: serde_json::Error) -> Error {
    Error::Persistence(PersistenceError::Data {
        location: format!("view {view} row {key}"),
        problem: error.to_string(),
    })
}

impl<'a> ViewChanges<'a> {
    pub(crate) fn new(store: &'a dyn ViewStore, batch: &'a ViewBatch) -> Self {
        ViewChanges { store, batch, own: BTreeMap::new() }
    }

    pub(crate) fn into_rows(self) -> BTreeMap<RowKey, Option<Value>> {
        self.own
    }

    /// The row `key` of `view` as this notification sees it.
    pub async fn get(&self, view: &str, key: &str) -> Result<Option<Value>> {
        let row = row(view, key);
        if let Some(value) = self.own.get(&row).or_else(|| self.batch.rows.get(&row)) {
            return Ok(value.clone());
        }
        Ok(self.store.get(view, key).await?)
    }

    /// The row `key` of `view`, deserialised.
    pub async fn get_as<T: DeserializeOwned>(&self, view: &str, key: &str) -> Result<Option<T>> {
        match self.get(view, key).await? {
            Some(value) => {
                serde_json::from_value(value).map(Some).map_err(|e| bad_row(view, key, e))
            }
            None => Ok(None),
        }
    }

    /// Sets the row `key` of `view` to `value`.
    pub fn put(&mut self, view: &str, key: &str, value: &impl Serialize) -> Result<()> {
        let value = serde_json::to_value(value).map_err(|e| bad_row(view, key, e))?;
        self.own.insert(row(view, key), Some(value));
        Ok(())
    }

    /// Removes the row `key` of `view`.
    pub fn delete(&mut self, view: &str, key: &str) {
        self.own.insert(row(view, key), None);
    }
}

pub mod memory {
    //! The in-memory view store.

    use super::{PersistenceError, ViewBatch, ViewStore};
    use async_trait::async_trait;
    use serde_json::Value;
    use std::collections::{BTreeMap, HashMap};
    use std::sync::{Mutex, MutexGuard};

    /// Views and tracking records in memory, behind one lock, so every commit is atomic.
    #[derive(Debug, Default)]
    pub struct InMemoryViewStore {
        inner: Mutex<Inner>,
    }

    #[derive(Debug, Default)]
    struct Inner {
        views: HashMap<String, BTreeMap<String, Value>>,
        /// (projection, upstream) → position.
        tracking: HashMap<(String, String), u64>,
    }

    impl InMemoryViewStore {
        /// An empty store.
        pub fn new() -> Self {
            Self::default()
        }

        fn lock(&self) -> MutexGuard<'_, Inner> {
            // A commit checks its condition before changing anything and cannot panic
            // half-way, so a poisoned lock guards consistent data.
            self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
        }
    }

    #[async_trait]
    impl ViewStore for InMemoryViewStore {
        async fn get(&self, view: &str, key: &str) -> Result<Option<Value>, PersistenceError> {
            Ok(self.lock().views.get(view).and_then(|rows| rows.get(key)).cloned())
        }

        async fn rows(&self, view: &str) -> Result<BTreeMap<String, Value>, PersistenceError> {
            Ok(self.lock().views.get(view).cloned().unwrap_or_default())
        }

        async fn max_tracking_id(
            &self,
            projection: &str,
            upstream: &str,
        ) -> Result<u64, PersistenceError> {
            let key = (projection.to_owned(), upstream.to_owned());
            Ok(self.lock().tracking.get(&key).copied().unwrap_or(0))
        }

        async fn commit(
            &self,
            projection: &str,
            batch: &ViewBatch,
        ) -> Result<(), PersistenceError> {
            let mut inner = self.lock();
            let key = (projection.to_owned(), batch.upstream.clone());
            let tracked = inner.tracking.get(&key).copied().unwrap_or(0);
            if tracked != batch.previous {
                return Err(PersistenceError::TrackingConflict {
                    application_name: batch.upstream.clone(),
                    notification_id: batch.last,
                });
            }
            for ((view, row), value) in &batch.rows {
                let rows = inner.views.entry(view.clone()).or_default();
                match value {
                    Some(value) => rows.insert(row.clone(), value.clone()),
                    None => rows.remove(row),
                };
            }
            inner.tracking.insert(key, batch.last);
            Ok(())
        }
    }
}
