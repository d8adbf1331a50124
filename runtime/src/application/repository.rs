use super::{snapshot, AggregateCache};
use crate::domain::{Aggregate, AggregateState, Root};
use crate::error::{Error, Result};
use crate::persistence::{AggregateRecorder, EventQuery, Mapper};
use std::sync::Arc;
use uuid::Uuid;

/// Loads aggregates: from the cache, from the latest snapshot, then by replaying the stored
/// events after it.
#[derive(Clone)]
pub struct Repository {
    events: Arc<dyn AggregateRecorder>,
    snapshots: Option<Arc<dyn AggregateRecorder>>,
    cache: Option<Arc<AggregateCache>>,
    mapper: Arc<Mapper>,
}

impl std::fmt::Debug for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repository").finish_non_exhaustive()
    }
}

impl Repository {
    pub(crate) fn new(
        events: Arc<dyn AggregateRecorder>,
        snapshots: Option<Arc<dyn AggregateRecorder>>,
        cache: Option<Arc<AggregateCache>>,
        mapper: Arc<Mapper>,
    ) -> Self {
        Repository { events, snapshots, cache, mapper }
    }

    /// The aggregate with this id, at its latest version: from the cache if it is on
    /// (brought up to date with newer events when `AGGREGATE_CACHE_FASTFORWARD` is on).
    pub async fn get<A: Aggregate>(&self, id: Uuid) -> Result<Root<A>> {
        let Some(cache) = &self.cache else {
            return self.load(id, None).await;
        };
        if let Some(mut root) = cache.get::<A>(id) {
            if cache.fastforward {
                self.catch_up(&mut root).await?;
                cache.put(Box::new(root.clone()));
            }
            return Ok(root);
        }
        let root = self.load::<A>(id, None).await?;
        cache.put(Box::new(root.clone()));
        Ok(root)
    }

    /// The aggregate with this id at its latest version, or `None` when there is none (as
    /// [`Repository::get`], which says [`Error::AggregateNotFound`] instead): for
    /// load-or-create, `repository.find::<A>(id).await?.unwrap_or_else(|| A::create(..))`.
    pub async fn find<A: Aggregate>(&self, id: Uuid) -> Result<Option<Root<A>>> {
        match self.get::<A>(id).await {
            Ok(root) => Ok(Some(root)),
            Err(Error::AggregateNotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The latest version from the store, bypassing the cache.
    pub async fn load_latest<A: Aggregate>(&self, id: Uuid) -> Result<Root<A>> {
        self.load(id, None).await
    }

    /// The aggregate as it was at `version` (the latest if `version` is beyond it).
    pub async fn get_at<A: Aggregate>(&self, id: Uuid, version: u64) -> Result<Root<A>> {
        self.load(id, Some(version)).await
    }

    /// Whether an aggregate with this id exists.
    pub async fn contains(&self, id: Uuid) -> Result<bool> {
        let query = EventQuery { limit: Some(1), ..EventQuery::default() };
        Ok(!self.events.select_events(id, query).await?.is_empty())
    }

    /// Brings `root` up to date with the events stored after its version. It must have no
    /// pending events (their versions would clash with the stored ones).
    pub async fn catch_up<A: Aggregate>(&self, root: &mut Root<A>) -> Result<()> {
        let query = EventQuery { gt: Some(root.version()), ..EventQuery::default() };
        let stored = self.events.select_events(root.id(), query).await?;
        self.replay_onto(root, &stored)
    }

    fn replay_onto<A: Aggregate>(
        &self,
        root: &mut Root<A>,
        stored: &[crate::persistence::StoredEvent],
    ) -> Result<()> {
        for stored in stored {
            let event = self.mapper.to_domain::<A::Event>(stored, <A as AggregateState>::NAME)?;
            root.replay(event).map_err(|r| Error::Replay {
                id: root.id(),
                version: stored.originator_version,
                message: r.message().to_owned(),
            })?;
        }
        Ok(())
    }

    #[tracing::instrument(
        skip_all,
        fields(
            aggregate_type = <A as AggregateState>::NAME,
            aggregate = %id,
            version = version,
            from_snapshot = tracing::field::Empty,
            events = tracing::field::Empty,
        )
    )]
    async fn load<A: Aggregate>(&self, id: Uuid, version: Option<u64>) -> Result<Root<A>> {
        let span = tracing::Span::current();
        let not_found = || Error::AggregateNotFound { id, version };
        if version == Some(0) {
            return Err(not_found());
        }
        if let Some(mut root) = self.latest_snapshot::<A>(id, version).await? {
            let query =
                EventQuery { gt: Some(root.version()), lte: version, ..EventQuery::default() };
            let stored = self.events.select_events(id, query).await?;
            span.record("from_snapshot", true);
            span.record("events", stored.len());
            self.replay_onto(&mut root, &stored)?;
            return Ok(root);
        }
        let query = EventQuery { lte: version, ..EventQuery::default() };
        let stored = self.events.select_events(id, query).await?;
        span.record("from_snapshot", false);
        span.record("events", stored.len());
        let Some(first) = stored.first() else {
            return Err(not_found());
        };
        let event = self.mapper.to_domain::<A::Event>(first, <A as AggregateState>::NAME)?;
        let mut root = Root::<A>::replay_created(event).map_err(|r| Error::Replay {
            id,
            version: first.originator_version,
            message: r.message().to_owned(),
        })?;
        self.replay_onto(&mut root, &stored[1..])?;
        Ok(root)
    }

    /// The newest snapshot at or below `version`, when snapshotting is on.
    async fn latest_snapshot<A: Aggregate>(
        &self,
        id: Uuid,
        version: Option<u64>,
    ) -> Result<Option<Root<A>>> {
        let Some(snapshots) = &self.snapshots else { return Ok(None) };
        let query =
            EventQuery { lte: version, desc: true, limit: Some(1), ..EventQuery::default() };
        let stored = snapshots.select_events(id, query).await?;
        match stored.first() {
            Some(snapshot) => Ok(Some(snapshot::decode::<A>(&self.mapper, snapshot)?)),
            None => Ok(None),
        }
    }
}
