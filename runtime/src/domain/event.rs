use super::topics::EventTopics;
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

    /// Writes the stored state: Python eventsourcing's JSON of the event's fields.
    fn encode_state(
        &self,
        timestamp: &OffsetDateTime,
        out: &mut Vec<u8>,
    ) -> Result<(), serde_json::Error>;

    /// Reads the stored state of the variant at `index` (in declaration order).
    fn decode_state(
        index: usize,
        state: &[u8],
    ) -> Result<(OffsetDateTime, Self), serde_json::Error>;
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
