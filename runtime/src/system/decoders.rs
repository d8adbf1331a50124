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

fn by_topic() -> &'static HashMap<String, &'static EventDecoder> {
    static DECODERS: OnceLock<HashMap<String, &'static EventDecoder>> = OnceLock::new();
    DECODERS.get_or_init(|| {
        let mut map = HashMap::new();
        for decoder in inventory::iter::<EventDecoder> {
            for topic in (decoder.topics)().readable() {
                map.entry(topic.to_owned()).or_insert(decoder);
            }
        }
        map
    })
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
    /// decode is an error.
    pub fn decode(
        upstream: &str,
        notification: Notification,
        mapper: &Mapper,
    ) -> Result<Self, DecodeError> {
        let decoded = match by_topic().get(&notification.event.topic) {
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
