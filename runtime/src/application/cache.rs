//! The aggregate cache (`AGGREGATE_CACHE_MAXSIZE`, `AGGREGATE_CACHE_FASTFORWARD`).

use crate::domain::{Aggregate, Root};
use lru::LruCache;
use std::any::Any;
use std::sync::Mutex;
use uuid::Uuid;

/// A cached aggregate of any type.
pub trait Cached: Any + Send + Sync {
    /// The aggregate's id.
    fn cached_id(&self) -> Uuid;
    /// Its version.
    fn cached_version(&self) -> u64;
    /// For downcasting to `Root<A>`.
    fn as_any(&self) -> &dyn Any;
    /// For downcasting to `Root<A>`, by value.
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

impl<A: Aggregate> Cached for Root<A> {
    fn cached_id(&self) -> Uuid {
        self.id()
    }

    fn cached_version(&self) -> u64 {
        self.version()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// Latest versions of recently used aggregates, by id. Entries are only a starting point:
/// saves are still conditional, so a stale entry can never overwrite newer events.
pub struct AggregateCache {
    entries: Mutex<LruCache<Uuid, Box<dyn Cached>>>,
    /// Bring a hit up to date with newer stored events before returning it.
    pub fastforward: bool,
}

impl std::fmt::Debug for AggregateCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AggregateCache")
            .field("fastforward", &self.fastforward)
            .finish_non_exhaustive()
    }
}

impl AggregateCache {
    /// A cache of at most `capacity` aggregates (`None`: unbounded).
    pub fn new(capacity: Option<usize>, fastforward: bool) -> Self {
        let entries = match capacity.and_then(std::num::NonZeroUsize::new) {
            Some(capacity) => LruCache::new(capacity),
            None => LruCache::unbounded(),
        };
        AggregateCache { entries: Mutex::new(entries), fastforward }
    }

    /// The entries. No user code runs under this lock (event bodies run outside it, on an
    /// entry taken out), so it is poisoned only by a panic in a state's `Clone` or `Drop`;
    /// then everything cached is forgotten rather than trusted.
    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<Uuid, Box<dyn Cached>>> {
        match self.entries.lock() {
            Ok(entries) => entries,
            Err(poisoned) => {
                let mut entries = poisoned.into_inner();
                entries.clear();
                self.entries.clear_poison();
                entries
            }
        }
    }

    /// A copy of the cached aggregate, if it is there and of type `A`.
    pub fn get<A: Aggregate>(&self, id: Uuid) -> Option<Root<A>> {
        self.lock().get(&id).and_then(|entry| entry.as_any().downcast_ref::<Root<A>>()).cloned()
    }

    /// Remembers an aggregate without pending events, unless a newer version is cached.
    pub fn put(&self, entry: Box<dyn Cached>) {
        let mut entries = self.lock();
        let id = entry.cached_id();
        if entries
            .peek(&id)
            .is_some_and(|existing| existing.cached_version() > entry.cached_version())
        {
            return;
        }
        entries.put(id, entry);
    }

    /// Records that `root`'s pending events were saved. When the cache holds the version
    /// they follow, they are applied to it (cheaper than copying a large aggregate);
    /// otherwise a copy of `root` without pending events replaces the entry.
    ///
    /// The event bodies run outside the lock, on the entry taken out of the cache: if one
    /// panics, the entry stays out (evicted), so no half-applied aggregate is ever served,
    /// and the panic is logged rather than failing the save that committed the events.
    pub fn saved<A: Aggregate>(&self, root: &Root<A>) {
        let first = root.pending_events().first().map(|event| event.originator_version);
        let taken = self.lock().pop(&root.id());
        let entry = match taken.map(|entry| entry.into_any().downcast::<Root<A>>()) {
            Some(Ok(mut cached)) if first == Some(cached.version() + 1) => {
                // The bodies already ran on the same state in `root`, so they apply again.
                let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    root.pending_events().iter().all(|event| cached.replay(event.clone()).is_ok())
                }));
                match applied {
                    Ok(true) if cached.version() == root.version() => cached,
                    Ok(_) => Box::new(root.without_pending()),
                    Err(_) => {
                        tracing::warn!(
                            aggregate = %root.id(),
                            "an event body panicked applying saved events to the cached copy; evicted"
                        );
                        return;
                    }
                }
            }
            _ => Box::new(root.without_pending()),
        };
        self.put(entry);
    }

    /// Forgets an aggregate (after a conflict showed the cached copy is stale).
    pub fn evict(&self, id: Uuid) {
        self.lock().pop(&id);
    }
}
