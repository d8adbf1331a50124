use super::{now, Aggregate, DomainEvent, Rejected};
use std::ops::Deref;
use time::OffsetDateTime;
use uuid::Uuid;

/// An aggregate: its state, id, version and timestamps, and the events recorded since
/// it was last saved.
///
/// `Root` dereferences to the state for reading. There is no mutable access: the state
/// changes only through the commands `#[aggregate]` generates, each of which records an
/// event and applies it by running the method's body, exactly as replay does.
#[derive(Clone)]
pub struct Root<A: Aggregate> {
    id: Uuid,
    version: u64,
    created_on: OffsetDateTime,
    modified_on: OffsetDateTime,
    state: A,
    pending: Vec<DomainEvent<A::Event>>,
}

impl<A: Aggregate> Root<A> {
    /// Records a created event: runs the constructor body; on success the root is at version 1.
    #[doc(hidden)]
    pub fn __create(id: Uuid, payload: A::Event) -> Result<Self, Rejected> {
        let timestamp = now();
        let state = A::create(payload.clone())?;
        Ok(Root {
            id,
            version: 1,
            created_on: timestamp,
            modified_on: timestamp,
            state,
            pending: vec![DomainEvent {
                originator_id: id,
                originator_version: 1,
                timestamp,
                payload,
            }],
        })
    }

    /// Records an event: runs the method body; on success bumps the version and keeps the
    /// event pending. On failure nothing is recorded.
    #[doc(hidden)]
    pub fn __trigger(&mut self, payload: A::Event) -> Result<(), Rejected> {
        let timestamp = now();
        self.state.apply(payload.clone())?;
        self.version += 1;
        self.modified_on = timestamp;
        self.pending.push(DomainEvent {
            originator_id: self.id,
            originator_version: self.version,
            timestamp,
            payload,
        });
        Ok(())
    }

    /// Rebuilds an aggregate from its first event.
    pub(crate) fn replay_created(event: DomainEvent<A::Event>) -> Result<Self, Rejected> {
        let state = A::create(event.payload)?;
        Ok(Root {
            id: event.originator_id,
            version: event.originator_version,
            created_on: event.timestamp,
            modified_on: event.timestamp,
            state,
            pending: Vec::new(),
        })
    }

    /// Applies a stored event during replay. As in Python eventsourcing, the event must be
    /// the aggregate's (same id) and the next in its sequence (version + 1).
    pub(crate) fn replay(&mut self, event: DomainEvent<A::Event>) -> Result<(), Rejected> {
        if event.originator_id != self.id {
            return Err(Rejected::misplaced(&format!(
                "event of aggregate {} applied to aggregate {}",
                event.originator_id, self.id
            )));
        }
        let next = self.version + 1;
        if event.originator_version != next {
            return Err(Rejected::misplaced(&format!(
                "event version {} applied to aggregate {} at version {} (expected version {next})",
                event.originator_version, self.id, self.version
            )));
        }
        self.state.apply(event.payload)?;
        self.version = event.originator_version;
        self.modified_on = event.timestamp;
        Ok(())
    }

    /// Restores an aggregate from a snapshot of its state.
    pub(crate) fn restore(
        id: Uuid,
        version: u64,
        created_on: OffsetDateTime,
        modified_on: OffsetDateTime,
        state: A,
    ) -> Self {
        Root { id, version, created_on, modified_on, state, pending: Vec::new() }
    }

    /// Replays events (the first one must be a created event) into an aggregate. Each later
    /// event must have the same id and the next version.
    pub fn from_events(
        events: impl IntoIterator<Item = DomainEvent<A::Event>>,
    ) -> Result<Option<Self>, Rejected> {
        let mut events = events.into_iter();
        let Some(first) = events.next() else {
            return Ok(None);
        };
        let mut root = Self::replay_created(first)?;
        for event in events {
            root.replay(event)?;
        }
        Ok(Some(root))
    }

    /// The aggregate's id.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// The version of the last event applied: 1 after the created event.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// When the created event was recorded.
    pub fn created_on(&self) -> OffsetDateTime {
        self.created_on
    }

    /// When the last event was recorded.
    pub fn modified_on(&self) -> OffsetDateTime {
        self.modified_on
    }

    /// The aggregate's state.
    pub fn state(&self) -> &A {
        &self.state
    }

    /// The events recorded and not yet saved.
    pub fn pending_events(&self) -> &[DomainEvent<A::Event>] {
        &self.pending
    }

    /// Takes the events recorded and not yet saved.
    pub fn collect_events(&mut self) -> Vec<DomainEvent<A::Event>> {
        std::mem::take(&mut self.pending)
    }

    /// Forgets the pending events after they were saved.
    pub(crate) fn clear_pending(&mut self) {
        self.pending.clear();
    }

    /// A copy as saved: without the pending events (which are not copied).
    pub(crate) fn without_pending(&self) -> Self {
        Root {
            id: self.id,
            version: self.version,
            created_on: self.created_on,
            modified_on: self.modified_on,
            state: self.state.clone(),
            pending: Vec::new(),
        }
    }
}

/// Shows the metadata and pending events; the state only through [`Root::state`], so that
/// aggregates need not implement `Debug`.
impl<A: Aggregate> std::fmt::Debug for Root<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Root")
            .field("type", &A::NAME)
            .field("id", &self.id)
            .field("version", &self.version)
            .field("created_on", &self.created_on)
            .field("modified_on", &self.modified_on)
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

impl<A: Aggregate> Deref for Root<A> {
    type Target = A;

    fn deref(&self) -> &A {
        &self.state
    }
}
