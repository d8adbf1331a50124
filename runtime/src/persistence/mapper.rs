use super::cipher::{AesCipher, AES_CIPHER_TOPIC};
use super::compressor::Compressor;
use super::{DecodeError, DecodeProblem, EncodeError, StoredEvent};
use crate::domain::{DomainEvent, Event};
use crate::environment::{ConfigError, Environment};
use std::borrow::Cow;

/// Turns domain events into stored events and back: Python eventsourcing's JSON state,
/// optionally compressed and then encrypted, as Python eventsourcing's `Mapper` does it.
///
/// # Configuration
///
/// [`Mapper::from_env`] reads these variables (each also as `<APPNAME>_<KEY>`, which wins,
/// as everywhere in [`Environment`]):
///
/// | Variable | Values | Effect |
/// |---|---|---|
/// | `COMPRESSOR_TOPIC` | `eventsourcing.compressor:ZlibCompressor` or `zlib` | state is zlib-compressed (the same bytes as Python's `zlib.compress`) |
/// | `CIPHER_TOPIC` | `eventsourcing.cipher:AESCipher` | state is encrypted with AES-GCM, stored as `nonce (12) ‖ tag (16) ‖ ciphertext`; needs `CIPHER_KEY` |
/// | `CIPHER_KEY` | base64 of 16, 24 or 32 bytes (make one with [`generate_cipher_key`](super::generate_cipher_key), or `cargo run --example generate_cipher_key`) | the AES key; set alone (without `CIPHER_TOPIC`), it selects `AESCipher`, as in Python |
///
/// Unset or empty variables leave the state as plain JSON. With both, the JSON is compressed
/// first and the compressed bytes encrypted; reading reverses it. Python and Rust
/// applications configured alike read each other's events.
///
/// `Debug` never shows the key.
#[derive(Debug, Default, Clone)]
pub struct Mapper {
    compressor: Option<Compressor>,
    cipher: Option<AesCipher>,
}

/// Why encoded state could not be compressed or encrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// Compression failed.
    #[error("cannot compress state: {0}")]
    Compress(String),
    /// Encryption failed (no random nonce available, or the state is beyond AES-GCM's limit).
    #[error("cannot encrypt state: {0}")]
    Encrypt(String),
}

impl Mapper {
    /// The plain mapper: JSON state, no compression, no encryption.
    pub fn new() -> Self {
        Mapper::default()
    }

    /// This mapper, compressing state with `compressor`.
    pub fn with_compressor(mut self, compressor: Compressor) -> Self {
        self.compressor = Some(compressor);
        self
    }

    /// This mapper, encrypting state with `cipher` (after compression, if any).
    pub fn with_cipher(mut self, cipher: AesCipher) -> Self {
        self.cipher = Some(cipher);
        self
    }

    /// The configured compressor, if any.
    pub fn compressor(&self) -> Option<Compressor> {
        self.compressor
    }

    /// The configured cipher, if any.
    pub fn cipher(&self) -> Option<&AesCipher> {
        self.cipher.as_ref()
    }

    /// The mapper the environment asks for: `COMPRESSOR_TOPIC`, `CIPHER_TOPIC` and
    /// `CIPHER_KEY` (see the [table above](Mapper#configuration)).
    ///
    /// # Errors
    ///
    /// - an unknown `COMPRESSOR_TOPIC` or `CIPHER_TOPIC`: [`ConfigError::Invalid`] naming the
    ///   variable as found (maybe prefixed);
    /// - `CIPHER_TOPIC` without `CIPHER_KEY`: [`ConfigError::Missing`] naming `CIPHER_KEY`;
    /// - a `CIPHER_KEY` that is not base64 of 16, 24 or 32 bytes: [`ConfigError::Invalid`]
    ///   naming the variable as found (its value is not repeated in the error).
    pub fn from_env(env: &Environment) -> Result<Self, ConfigError> {
        let mut mapper = Mapper::new();
        let non_empty = |key: &str| env.setting(key).filter(|s| !s.value.trim().is_empty());

        if let Some(setting) = non_empty("COMPRESSOR_TOPIC") {
            let compressor =
                Compressor::from_topic(&setting.value).ok_or_else(|| ConfigError::Invalid {
                    variable: setting.variable.clone(),
                    value: setting.value.clone(),
                    expected: format!(
                        "a compressor topic: {} (or zlib)",
                        super::compressor::ZLIB_COMPRESSOR_TOPIC
                    ),
                })?;
            mapper.compressor = Some(compressor);
        }

        let topic = non_empty("CIPHER_TOPIC");
        if let Some(setting) = &topic {
            if setting.value.trim() != AES_CIPHER_TOPIC {
                return Err(ConfigError::Invalid {
                    variable: setting.variable.clone(),
                    value: setting.value.clone(),
                    expected: format!("a cipher topic: {AES_CIPHER_TOPIC}"),
                });
            }
        }
        match (non_empty("CIPHER_KEY"), topic) {
            (Some(key), _) => {
                let cipher =
                    AesCipher::from_base64(&key.value).map_err(|problem| ConfigError::Invalid {
                        variable: key.variable.clone(),
                        value: format!("<{} characters, not shown>", key.value.chars().count()),
                        expected: format!(
                            "base64 of a 16, 24 or 32 byte AES key ({problem}); make one with \
                             `cargo run --example generate_cipher_key`"
                        ),
                    })?;
                mapper.cipher = Some(cipher);
            }
            (None, Some(topic)) => {
                return Err(ConfigError::Missing {
                    variable: "CIPHER_KEY".to_owned(),
                    hint: format!(
                        "{}={} needs CIPHER_KEY, base64 of a 16, 24 or 32 byte key (make one \
                         with `cargo run --example generate_cipher_key`)",
                        topic.variable, topic.value
                    ),
                });
            }
            (None, None) => {}
        }
        Ok(mapper)
    }

    /// Encodes one event.
    pub fn to_stored<E: Event>(&self, event: &DomainEvent<E>) -> Result<StoredEvent, EncodeError> {
        let fail = |message: String| EncodeError {
            originator_id: event.originator_id,
            originator_version: event.originator_version,
            topic: event.payload.topic().to_owned(),
            message,
        };
        let mut state = Vec::with_capacity(128);
        event
            .payload
            .encode_state(&event.timestamp, &mut state)
            .map_err(|error| fail(error.to_string()))?;
        Ok(StoredEvent {
            originator_id: event.originator_id,
            originator_version: event.originator_version,
            topic: event.payload.topic().to_owned(),
            state: self.seal(state).map_err(|error| fail(error.to_string()))?,
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
        let (timestamp, payload) = E::decode_state(index, &state).map_err(fail)?;
        Ok(DomainEvent {
            originator_id: stored.originator_id,
            originator_version: stored.originator_version,
            timestamp,
            payload,
        })
    }

    /// Compresses and then encrypts encoded state, as configured (unchanged when neither is).
    pub fn seal(&self, state: Vec<u8>) -> Result<Vec<u8>, SealError> {
        let state = match &self.compressor {
            Some(compressor) => compressor.compress(&state).map_err(SealError::Compress)?,
            None => state,
        };
        match &self.cipher {
            Some(cipher) => cipher.encrypt(&state).map_err(SealError::Encrypt),
            None => Ok(state),
        }
    }

    /// Decrypts and then decompresses stored state, as configured (borrowed unchanged when
    /// neither is). A wrong key or damaged data is [`DecodeProblem::Decrypt`]; state that
    /// is not compressed is [`DecodeProblem::Decompress`].
    pub fn open<'a>(&self, state: &'a [u8]) -> Result<Cow<'a, [u8]>, DecodeProblem> {
        let state = match &self.cipher {
            Some(cipher) => Cow::Owned(cipher.decrypt(state)?),
            None => Cow::Borrowed(state),
        };
        match &self.compressor {
            Some(compressor) => Ok(Cow::Owned(compressor.decompress(&state)?)),
            None => Ok(state),
        }
    }
}
