//! The domain layer: aggregates, their events, and the root that records them.
//!
//! `#[aggregate]` implements [`AggregateState`] on the state struct, [`Aggregate`] on it
//! from the impl block, and [`Event`] on the generated event enum. [`Root`] holds a state
//! with its id, version and timestamps, and the events recorded since it was last saved.

mod event;
mod rejected;
mod root;
mod topics;

pub use event::{DomainEvent, Event, EventField};
pub use rejected::Rejected;
pub use root::Root;
pub use topics::{default_topic, EventTopicSpec, EventTopics};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// The state of an aggregate: implemented by `#[aggregate]` on the struct.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an aggregate state",
    label = "put #[aggregate] on the struct declaration of `{Self}`"
)]
pub trait AggregateState: Clone + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The type's name, e.g. `"Dog"`.
    const NAME: &'static str;

    /// The aggregate's topic, e.g. `"training_school:Dog"`: stored in created events
    /// (`originator_topic`) and the prefix of every event topic.
    fn topic() -> &'static str;

    /// Earlier topics of this aggregate whose events still decode as this aggregate's.
    fn topic_aliases() -> &'static [&'static str];
}

/// The events and apply logic of an aggregate: implemented by `#[aggregate]` on the impl block.
pub trait Aggregate: AggregateState {
    /// The generated event enum.
    type Event: Event;

    /// Runs the constructor body for a created event.
    fn create(event: Self::Event) -> Result<Self, Rejected>;

    /// Runs the body of the method that recorded `event`.
    fn apply(&mut self, event: Self::Event) -> Result<(), Rejected>;
}

/// The current time in UTC, at the microsecond precision Python stores.
pub fn now() -> time::OffsetDateTime {
    let now = time::OffsetDateTime::now_utc();
    let micros = now.nanosecond() / 1_000 * 1_000;
    now.replace_nanosecond(micros).unwrap_or(now)
}
