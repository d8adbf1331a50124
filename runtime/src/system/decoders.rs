use crate::domain::{Aggregate, AggregateState, DomainEvent, Event, EventTopics};
use crate::persistence::{DecodeError, Mapper, Notification, StoredEvent};
use std::any::Any;
use std::collections::HashMap;
use std::sync::OnceLock;

/// A decoded event of some aggregate: a boxed `DomainEvent<A::Event>`.
pub type AnyEvent = Box<dyn Any + Send + Sync>;

/// Decodes the events of one aggregate type. `#[aggregate]` registers one per aggregate
/// with `inventory`, so followers can decode any aggregate linked into the program.
pub struct EventDecoder {
    /// The aggregate's name.
    pub aggregate: &'static str,
    /// The aggregate's Rust type, as `std::any::type_name` gives it (for error messages).
    pub type_name: fn() -> &'static str,
    /// Its event topics.
    pub topics: fn() -> &'static EventTopics,
    /// Decodes a stored event into a `DomainEvent<A::Event>`, boxed.
    pub decode: fn(&Mapper, &StoredEvent) -> Result<AnyEvent, DecodeError>,
}

impl EventDecoder {
    /// The decoder of aggregate `A`'s events.
    pub const fn of<A: Aggregate>() -> Self {
        EventDecoder {
            aggregate: <A as AggregateState>::NAME,
            type_name: std::any::type_name::<A>,
            topics: <A::Event as Event>::topics,
            decode: decode_any::<A>,
        }
    }
}

inventory::collect!(EventDecoder);

/// Decodes one stored event of `A`, boxed for [`Notified`].
pub fn decode_any<A: Aggregate>(
    mapper: &Mapper,
    stored: &StoredEvent,
) -> Result<Box<dyn Any + Send + Sync>, DecodeError> {
    let event = mapper.to_domain::<A::Event>(stored, <A as AggregateState>::NAME)?;
    Ok(Box::new(event))
}

/// Two linked aggregates read the same event topic, so a follower could not tell whose
/// event a notification is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "two aggregates read the event topic {topic:?}: {first} and {second}; give one of them \
     another topic with #[aggregate(topic = \"...\")] (or remove the alias)"
)]
pub struct DuplicateTopic {
    /// The topic both read.
    pub topic: String,
    /// One aggregate type.
    pub first: &'static str,
    /// The other.
    pub second: &'static str,
}

type Registry = Result<HashMap<String, &'static EventDecoder>, DuplicateTopic>;

fn registry() -> &'static Registry {
    static DECODERS: OnceLock<Registry> = OnceLock::new();
    DECODERS.get_or_init(|| {
        let mut map: HashMap<String, &'static EventDecoder> = HashMap::new();
        for decoder in inventory::iter::<EventDecoder> {
            for topic in (decoder.topics)().readable() {
                match map.get(topic) {
                    // One aggregate may list a topic twice (as its topic and an alias).
                    Some(known) if std::ptr::eq(*known, decoder) => {}
                    Some(known) => {
                        let mut types = [(known.type_name)(), (decoder.type_name)()];
                        // inventory's order is arbitrary; the message should not be.
                        types.sort_unstable();
                        return Err(DuplicateTopic {
                            topic: topic.to_owned(),
                            first: types[0],
                            second: types[1],
                        });
                    }
                    None => {
                        map.insert(topic.to_owned(), decoder);
                    }
                }
            }
        }
        Ok(map)
    })
}

/// Checks that no two linked aggregates read the same event topic. [`SystemBuilder::build`]
/// calls it, so such a program fails at startup rather than skipping one aggregate's events.
///
/// [`SystemBuilder::build`]: super::SystemBuilder::build
pub fn check_topics() -> Result<(), DuplicateTopic> {
    registry().as_ref().map(|_| ()).map_err(Clone::clone)
}

fn by_topic(topic: &str) -> Result<Option<&'static EventDecoder>, DuplicateTopic> {
    match registry() {
        Ok(map) => Ok(map.get(topic).copied()),
        Err(duplicate) => Err(duplicate.clone()),
    }
}

/// A notification from an upstream application, decoded when its topic is known.
pub struct Notified {
    /// The upstream application's name.
    pub upstream: String,
    /// The notification.
    pub notification: Notification,
    decoded: Option<AnyEvent>,
}

impl std::fmt::Debug for Notified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notified")
            .field("upstream", &self.upstream)
            .field("id", &self.notification.id)
            .field("topic", &self.notification.event.topic)
            .finish_non_exhaustive()
    }
}

impl Notified {
    /// Decodes a notification with the upstream's mapper. Topics no linked aggregate has
    /// are left undecoded (no policy here can match them); a known topic that does not
    /// decode is an error, and so is a topic that two linked aggregates read.
    pub fn decode(
        upstream: &str,
        notification: Notification,
        mapper: &Mapper,
    ) -> Result<Self, crate::Error> {
        let decoded = match by_topic(&notification.event.topic)? {
            Some(decoder) => Some((decoder.decode)(mapper, &notification.event)?),
            None => None,
        };
        Ok(Notified { upstream: upstream.to_owned(), notification, decoded })
    }

    /// The event, if it is one of aggregate `A`'s.
    pub fn event<A: Aggregate>(&self) -> Option<&DomainEvent<A::Event>> {
        self.decoded.as_ref()?.downcast_ref::<DomainEvent<A::Event>>()
    }

    /// The notification's topic.
    pub fn topic(&self) -> &str {
        &self.notification.event.topic
    }
}
