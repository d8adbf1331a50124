//! Encryption of stored state: Python eventsourcing's `eventsourcing.cipher:AESCipher`.
//!
//! AES in GCM mode with a 16, 24 or 32 byte key (AES-128, AES-192, AES-256), a fresh random
//! 96-bit nonce per event and no associated data. The stored bytes are laid out as Python
//! lays them out, `nonce (12) ‖ tag (16) ‖ ciphertext`, so either language decrypts what
//! the other wrote. The key is configured as base64 text in `CIPHER_KEY`; make one with
//! [`generate_cipher_key`] (or `cargo run --example generate_cipher_key`).

use super::DecodeProblem;
use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::{AeadInPlace, KeyInit, OsRng};
use aes_gcm::aes::Aes192;
use aes_gcm::{Aes128Gcm, Aes256Gcm, AesGcm, Nonce, Tag};
use base64::Engine as _;

/// The topic Python eventsourcing gives its AES-GCM cipher.
pub const AES_CIPHER_TOPIC: &str = "eventsourcing.cipher:AESCipher";

/// Bytes of the nonce at the start of the stored state.
const NONCE_LEN: usize = 12;
/// Bytes of the authentication tag after the nonce.
const TAG_LEN: usize = 16;

type Aes192Gcm = AesGcm<Aes192, aes_gcm::aead::consts::U12>;

/// A new random key for [`AesCipher`]: 32 bytes (AES-256) from the operating system's
/// random source, base64-encoded as `CIPHER_KEY` expects (Python's
/// `AESCipher.create_key(32)`).
///
/// # Panics
///
/// If the operating system cannot provide random bytes.
pub fn generate_cipher_key() -> String {
    let mut key = [0u8; 32];
    OsRng.fill_bytes(&mut key);
    base64::engine::general_purpose::STANDARD.encode(key)
}

/// Why a key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The text is not base64 (standard alphabet, `=` padding).
    #[error("not valid base64 (standard alphabet with = padding)")]
    NotBase64,
    /// The key has a length AES does not take.
    #[error("the key is {0} bytes; AES takes 16, 24 or 32")]
    Length(usize),
}

/// AES-GCM encryption of stored state, compatible with Python eventsourcing's `AESCipher`.
///
/// Built once per application; cloning copies the expanded key (a few hundred bytes).
/// `Debug` shows the key size only, never the key.
#[derive(Clone)]
pub struct AesCipher {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Aes128(Aes128Gcm),
    Aes192(Aes192Gcm),
    Aes256(Aes256Gcm),
}

impl std::fmt::Debug for AesCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AesCipher").field("key_bits", &self.key_bits()).finish_non_exhaustive()
    }
}

impl AesCipher {
    /// A cipher with this raw key of 16, 24 or 32 bytes.
    pub fn new(key: &[u8]) -> Result<Self, KeyError> {
        let length = KeyError::Length(key.len());
        let inner = match key.len() {
            16 => Inner::Aes128(Aes128Gcm::new_from_slice(key).map_err(|_| length)?),
            24 => Inner::Aes192(Aes192Gcm::new_from_slice(key).map_err(|_| length)?),
            32 => Inner::Aes256(Aes256Gcm::new_from_slice(key).map_err(|_| length)?),
            _ => return Err(length),
        };
        Ok(AesCipher { inner })
    }

    /// A cipher with a key given as base64 text, as in `CIPHER_KEY` (surrounding whitespace
    /// is ignored).
    pub fn from_base64(key: &str) -> Result<Self, KeyError> {
        let mut bytes = base64::engine::general_purpose::STANDARD
            .decode(key.trim())
            .map_err(|_| KeyError::NotBase64)?;
        let cipher = AesCipher::new(&bytes);
        bytes.fill(0);
        cipher
    }

    /// The key size in bits: 128, 192 or 256.
    pub fn key_bits(&self) -> u32 {
        match self.inner {
            Inner::Aes128(_) => 128,
            Inner::Aes192(_) => 192,
            Inner::Aes256(_) => 256,
        }
    }

    /// Encrypts with a fresh random nonce: `nonce (12) ‖ tag (16) ‖ ciphertext`.
    ///
    /// Fails only if the operating system cannot provide random bytes, or the plaintext is
    /// beyond GCM's limit (64 GiB).
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(NONCE_LEN + TAG_LEN + plaintext.len());
        out.resize(NONCE_LEN + TAG_LEN, 0);
        OsRng
            .try_fill_bytes(&mut out[..NONCE_LEN])
            .map_err(|error| format!("no random nonce: {error}"))?;
        out.extend_from_slice(plaintext);
        let (head, body) = out.split_at_mut(NONCE_LEN + TAG_LEN);
        let nonce = Nonce::from_slice(&head[..NONCE_LEN]);
        let tag = match &self.inner {
            Inner::Aes128(cipher) => cipher.encrypt_in_place_detached(nonce, b"", body),
            Inner::Aes192(cipher) => cipher.encrypt_in_place_detached(nonce, b"", body),
            Inner::Aes256(cipher) => cipher.encrypt_in_place_detached(nonce, b"", body),
        }
        .map_err(|_| format!("AES-GCM cannot encrypt {} bytes", plaintext.len()))?;
        head[NONCE_LEN..].copy_from_slice(&tag);
        Ok(out)
    }

    /// Decrypts `nonce (12) ‖ tag (16) ‖ ciphertext`, verifying the tag: a wrong key or
    /// damaged data is [`DecodeProblem::Decrypt`].
    pub fn decrypt(&self, data: &[u8]) -> Result<Vec<u8>, DecodeProblem> {
        if data.len() < NONCE_LEN + TAG_LEN {
            return Err(DecodeProblem::Decrypt(format!(
                "damaged cipher text: {} bytes, shorter than nonce (12) and tag (16)",
                data.len()
            )));
        }
        let nonce = Nonce::from_slice(&data[..NONCE_LEN]);
        let tag = Tag::from_slice(&data[NONCE_LEN..NONCE_LEN + TAG_LEN]);
        let mut plaintext = data[NONCE_LEN + TAG_LEN..].to_vec();
        let buffer = plaintext.as_mut_slice();
        match &self.inner {
            Inner::Aes128(cipher) => cipher.decrypt_in_place_detached(nonce, b"", buffer, tag),
            Inner::Aes192(cipher) => cipher.decrypt_in_place_detached(nonce, b"", buffer, tag),
            Inner::Aes256(cipher) => cipher.decrypt_in_place_detached(nonce, b"", buffer, tag),
        }
        .map_err(|_| {
            DecodeProblem::Decrypt(format!(
                "MAC check failed with the configured AES-{} key (wrong key, or damaged data)",
                self.key_bits()
            ))
        })?;
        Ok(plaintext)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_each_key_size() {
        for size in [16, 24, 32] {
            let key: Vec<u8> = (0..size as u8).collect();
            let cipher = AesCipher::new(&key).unwrap();
            assert_eq!(cipher.key_bits(), size as u32 * 8);
            let sealed = cipher.encrypt(b"hello").unwrap();
            assert_eq!(sealed.len(), 12 + 16 + 5);
            assert_eq!(cipher.decrypt(&sealed).unwrap(), b"hello");
            assert_ne!(cipher.encrypt(b"hello").unwrap()[..12], sealed[..12], "fresh nonce");
        }
    }

    #[test]
    fn rejects_bad_keys_and_damage() {
        assert_eq!(AesCipher::new(&[0; 15]).unwrap_err(), KeyError::Length(15));
        assert_eq!(AesCipher::from_base64("not base64!").unwrap_err(), KeyError::NotBase64);
        let key = generate_cipher_key();
        let cipher = AesCipher::from_base64(&key).unwrap();
        assert_eq!(cipher.key_bits(), 256);
        assert!(!format!("{cipher:?}").contains(&key));
        let mut sealed = cipher.encrypt(b"hello").unwrap();
        for cut in 0..sealed.len() {
            assert!(cipher.decrypt(&sealed[..cut]).is_err());
        }
        sealed[20] ^= 1;
        assert!(matches!(cipher.decrypt(&sealed), Err(DecodeProblem::Decrypt(_))));
    }
}
