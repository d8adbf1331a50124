//! The aggregate cache (`AGGREGATE_CACHE_MAXSIZE`, `AGGREGATE_CACHE_FASTFORWARD`).

use crate::domain::{Aggregate, Root};
use lru::LruCache;
use std::any::Any;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// A cached aggregate of any type.
pub trait Cached: Any + Send + Sync {
    /// The aggregate's id.
    fn cached_id(&self) -> Uuid;
    /// Its version.
    fn cached_version(&self) -> u64;
    /// For downcasting to `Root<A>`.
    fn as_any(&self) -> &dyn Any;
    /// For downcasting to `Root<A>`, shared.
    fn into_any_arc(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
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

    fn into_any_arc(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

/// Latest versions of recently used aggregates, by id. Entries are only a starting point:
/// saves are still conditional, so a stale entry can never overwrite newer events.
pub struct AggregateCache {
    /// Shared entries, so that copying one for a caller, and dropping one, happen outside
    /// the lock.
    entries: Mutex<LruCache<Uuid, Arc<dyn Cached>>>,
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

    /// The entries. No user code runs under this lock: event bodies run on an entry taken
    /// out, states are cloned from a shared entry and dropped after the lock is released.
    /// Should it be poisoned all the same, everything cached is forgotten rather than
    /// trusted.
    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<Uuid, Arc<dyn Cached>>> {
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
        let entry = self.lock().get(&id).cloned()?;
        let copy = entry.as_any().downcast_ref::<Root<A>>().cloned();
        copy
    }

    /// Remembers an aggregate without pending events, unless a newer version is cached.
    pub fn put(&self, entry: Box<dyn Cached>) {
        self.put_shared(Arc::from(entry));
    }

    fn put_shared(&self, entry: Arc<dyn Cached>) {
        let id = entry.cached_id();
        // Whatever leaves the cache here (this entry, the one it replaces, the least
        // recently used one) is dropped after the lock is released.
        let _displaced = {
            let mut entries = self.lock();
            match entries.peek(&id) {
                Some(existing) if existing.cached_version() > entry.cached_version() => {
                    Some((id, entry))
                }
                _ => entries.push(id, entry),
            }
        };
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
        // The entry itself when no caller is copying it just now; otherwise a fresh copy.
        let owned = taken
            .and_then(|entry| entry.into_any_arc().downcast::<Root<A>>().ok())
            .and_then(|entry| Arc::try_unwrap(entry).ok());
        let entry = match owned {
            Some(mut cached) if first == Some(cached.version() + 1) => {
                // The bodies already ran on the same state in `root`, so they apply again.
                let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    root.pending_events().iter().all(|event| cached.replay(event.clone()).is_ok())
                }));
                match applied {
                    Ok(true) if cached.version() == root.version() => cached,
                    Ok(_) => root.without_pending(),
                    Err(_) => {
                        tracing::warn!(
                            aggregate = %root.id(),
                            "an event body panicked applying saved events to the cached copy; evicted"
                        );
                        return;
                    }
                }
            }
            _ => root.without_pending(),
        };
        self.put_shared(Arc::new(entry));
    }

    /// Forgets an aggregate (after a conflict showed the cached copy is stale).
    pub fn evict(&self, id: Uuid) {
        let _evicted = self.lock().pop(&id);
    }
}
