use super::{DecodeError, DecodeProblem, EncodeError, StoredEvent};
use crate::domain::{DomainEvent, Event};
use std::borrow::Cow;

/// Turns domain events into stored events and back: Python eventsourcing's JSON state.
#[derive(Debug, Default, Clone)]
pub struct Mapper {
    _private: (),
}

impl Mapper {
    /// The plain mapper: JSON state, no compression, no encryption.
    pub fn new() -> Self {
        Mapper::default()
    }

    /// Encodes one event.
    pub fn to_stored<E: Event>(&self, event: &DomainEvent<E>) -> Result<StoredEvent, EncodeError> {
        let mut state = Vec::with_capacity(128);
        event.payload.encode_state(&event.timestamp, &mut state).map_err(|error| EncodeError {
            originator_id: event.originator_id,
            originator_version: event.originator_version,
            topic: event.payload.topic().to_owned(),
            message: error.to_string(),
        })?;
        Ok(StoredEvent {
            originator_id: event.originator_id,
            originator_version: event.originator_version,
            topic: event.payload.topic().to_owned(),
            state: self.seal(state),
        })
    }

    /// Decodes one event of the enum `E`, naming the event if it cannot.
    pub fn to_domain<E: Event>(
        &self,
        stored: &StoredEvent,
        expected: &'static str,
    ) -> Result<DomainEvent<E>, DecodeError> {
        let fail = |problem| DecodeError {
            originator_id: stored.originator_id,
            originator_version: stored.originator_version,
            topic: stored.topic.clone(),
            problem,
        };
        let topics = E::topics();
        let Some(index) = topics.index_of(&stored.topic) else {
            let mut known: Vec<&str> = topics.readable().collect();
            known.sort_unstable();
            return Err(fail(DecodeProblem::UnknownTopic {
                topic: stored.topic.clone(),
                expected,
                known: known.join(", "),
            }));
        };
        let state = self.open(&stored.state).map_err(fail)?;
        let (timestamp, payload) =
            E::decode_state(index, &state).map_err(|e| fail(DecodeProblem::Json(e)))?;
        Ok(DomainEvent {
            originator_id: stored.originator_id,
            originator_version: stored.originator_version,
            timestamp,
            payload,
        })
    }

    /// Compresses and encrypts encoded state, as configured.
    pub fn seal(&self, state: Vec<u8>) -> Vec<u8> {
        state
    }

    /// Decrypts and decompresses stored state, as configured.
    pub fn open<'a>(&self, state: &'a [u8]) -> Result<Cow<'a, [u8]>, DecodeProblem> {
        Ok(Cow::Borrowed(state))
    }
}
