use super::topics::EventTopics;
use crate::persistence::DecodeProblem;
use serde::de::DeserializeOwned;
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

/// What every event argument must be: stored (serde), kept pending (Clone) and shown (Debug).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an event argument",
    label = "event arguments must implement Serialize + Deserialize + Clone + Debug + Send + Sync"
)]
pub trait EventField:
    Serialize + DeserializeOwned + Clone + std::fmt::Debug + Send + Sync + 'static
{
}

impl<T> EventField for T where
    T: Serialize + DeserializeOwned + Clone + std::fmt::Debug + Send + Sync + 'static
{
}

/// An aggregate's event enum: implemented by `#[aggregate]`.
pub trait Event: Clone + std::fmt::Debug + Send + Sync + 'static {
    /// The event's name, e.g. `"TrickAdded"`.
    fn name(&self) -> &'static str;

    /// Whether this event creates its aggregate (it was recorded by a constructor).
    fn is_created(&self) -> bool;

    /// The topics of this enum's variants, and the aliases that decode as them.
    fn topics() -> &'static EventTopics;

    /// The stored topic of this event, e.g. `"training_school:Dog.TrickAdded"`.
    fn topic(&self) -> &'static str {
        let topics = Self::topics();
        topics.topic_of(self.name())
    }

    /// The class version of this event's variant (Python's `class_version`): `version = N`
    /// in `#[event("Name", version = N, upcast = [...])]`, 1 by default.
    fn class_version(&self) -> u32 {
        1
    }

    /// Writes the stored state: Python eventsourcing's JSON of the event's fields, then,
    /// when the variant's class version is above 1, `"class_version": N` as the last key.
    fn encode_state(
        &self,
        timestamp: &OffsetDateTime,
        out: &mut Vec<u8>,
    ) -> Result<(), serde_json::Error>;

    /// Reads the stored state of the variant at `index` (in declaration order).
    ///
    /// A state stored by an older class version of the variant (its `class_version` key,
    /// absent meaning 1) is first upgraded by the variant's upcasters, in order. Fails with
    /// [`DecodeProblem::Version`] if it was stored by a newer class version than the
    /// variant's, and with [`DecodeProblem::Json`] if it does not match the variant.
    fn decode_state(index: usize, state: &[u8]) -> Result<(OffsetDateTime, Self), DecodeProblem>;
}

/// An event with the metadata Python eventsourcing gives every event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DomainEvent<E> {
    /// The aggregate that recorded the event.
    pub originator_id: Uuid,
    /// The aggregate's version after the event: 1 for the created event.
    pub originator_version: u64,
    /// When the event was recorded, in UTC with microsecond precision.
    #[serde(with = "crate::transcoding")]
    pub timestamp: OffsetDateTime,
    /// The event itself.
    pub payload: E,
}
