use crate::domain::{Aggregate, AggregateState, Root};
use crate::error::{Error, Result};
use crate::persistence::{AggregateRecorder, EventQuery, Mapper};
use std::sync::Arc;
use uuid::Uuid;

/// Loads aggregates by replaying their stored events.
#[derive(Clone)]
pub struct Repository {
    events: Arc<dyn AggregateRecorder>,
    mapper: Arc<Mapper>,
}

impl std::fmt::Debug for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repository").finish_non_exhaustive()
    }
}

impl Repository {
    pub(crate) fn new(events: Arc<dyn AggregateRecorder>, mapper: Arc<Mapper>) -> Self {
        Repository { events, mapper }
    }

    /// The aggregate with this id, at its latest version.
    pub async fn get<A: Aggregate>(&self, id: Uuid) -> Result<Root<A>> {
        self.load(id, None).await
    }

    /// The aggregate as it was at `version` (the latest if `version` is beyond it).
    pub async fn get_at<A: Aggregate>(&self, id: Uuid, version: u64) -> Result<Root<A>> {
        self.load(id, Some(version)).await
    }

    /// Whether an aggregate with this id exists.
    pub async fn contains(&self, id: Uuid) -> Result<bool> {
        let query = EventQuery {
            limit: Some(1),
            ..EventQuery::default()
        };
        Ok(!self.events.select_events(id, query).await?.is_empty())
    }

    async fn load<A: Aggregate>(&self, id: Uuid, version: Option<u64>) -> Result<Root<A>> {
        let not_found = || Error::AggregateNotFound { id, version };
        if version == Some(0) {
            return Err(not_found());
        }
        let query = EventQuery {
            lte: version,
            ..EventQuery::default()
        };
        let stored = self.events.select_events(id, query).await?;
        let mut stored = stored.iter();
        let Some(first) = stored.next() else {
            return Err(not_found());
        };
        let replay_error = |version: u64, message: &str| Error::Replay {
            id,
            version,
            message: message.to_owned(),
        };
        let event = self
            .mapper
            .to_domain::<A::Event>(first, <A as AggregateState>::NAME)?;
        let mut root = Root::<A>::replay_created(event)
            .map_err(|r| replay_error(first.originator_version, r.message()))?;
        for stored in stored {
            let event = self
                .mapper
                .to_domain::<A::Event>(stored, <A as AggregateState>::NAME)?;
            root.replay(event)
                .map_err(|r| replay_error(stored.originator_version, r.message()))?;
        }
        Ok(root)
    }
}
