//! Sealing of sign-in provider secrets (OIDC client secrets, LDAP bind passwords) at rest:
//! AES-256-GCM under the key of `TENANTDESK_SECRET_KEY`, a random 96-bit nonce stored in
//! front of the ciphertext, and the provider id as associated data, so a sealed secret copied
//! onto another provider row (of this or another tenant) does not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use uuid::Uuid;

const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 12;

/// The key that seals provider secrets. Debug never prints it.
#[derive(Clone)]
pub struct SecretKey([u8; KEY_BYTES]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// Why a configured key is unusable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretKeyError {
    #[error("the secret key is not valid base64")]
    NotBase64,
    #[error("the secret key must be 32 bytes (44 base64 characters), not {0} bytes")]
    WrongLength(usize),
}

/// Why a sealed secret does not open: another key sealed it, it belongs to another provider,
/// or it was altered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("the stored secret does not open with the configured key")]
    DoesNotOpen,
}

impl SecretKey {
    /// A key from its base64 form (standard alphabet, padding optional, whitespace trimmed).
    pub fn parse(base64: &str) -> Result<SecretKey, SecretKeyError> {
        let trimmed = base64.trim();
        let bytes = STANDARD
            .decode(trimmed)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed))
            .map_err(|_| SecretKeyError::NotBase64)?;
        let key: [u8; KEY_BYTES] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| SecretKeyError::WrongLength(bytes.len()))?;
        Ok(SecretKey(key))
    }

    /// A fresh random key.
    pub fn generate() -> SecretKey {
        let mut key = [0u8; KEY_BYTES];
        rand::rng().fill_bytes(&mut key);
        SecretKey(key)
    }

    /// The base64 form `parse` reads (for writing a generated key to its file).
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&self.0))
    }

    /// Nonce followed by ciphertext and tag.
    pub fn seal(&self, plaintext: &str, provider_id: Uuid) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: provider_id.as_bytes(),
                },
            )
            // Encryption fails only for messages beyond GCM's 64 GiB limit.
            .unwrap_or_default();
        let mut sealed = Vec::with_capacity(NONCE_BYTES + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    pub fn open(&self, sealed: &[u8], provider_id: Uuid) -> Result<String, SecretError> {
        if sealed.len() < NONCE_BYTES + 16 {
            return Err(SecretError::DoesNotOpen);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        let plaintext = self
            .cipher()
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: provider_id.as_bytes(),
                },
            )
            .map_err(|_| SecretError::DoesNotOpen)?;
        String::from_utf8(plaintext).map_err(|_| SecretError::DoesNotOpen)
    }
}

/// The plaintext secret of a provider row (its client secret or bind password), if it has one.
pub fn provider_secret(
    key: &SecretKey,
    provider: &store::sign_in_providers::SignInProvider,
) -> Result<Option<String>, SecretError> {
    provider
        .secret
        .as_deref()
        .map(|sealed| key.open(sealed, provider.id))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_with_the_same_key_and_provider_only() {
        let key = SecretKey::generate();
        let provider = Uuid::now_v7();
        let sealed = key.seal("s3cret", provider);
        assert!(!sealed.windows(6).any(|w| w == b"s3cret"));
        assert_eq!(key.open(&sealed, provider).as_deref(), Ok("s3cret"));
        assert_eq!(
            key.open(&sealed, Uuid::now_v7()),
            Err(SecretError::DoesNotOpen)
        );
        assert_eq!(
            SecretKey::generate().open(&sealed, provider),
            Err(SecretError::DoesNotOpen)
        );
        let mut altered = sealed.clone();
        if let Some(last) = altered.last_mut() {
            *last ^= 1;
        }
        assert_eq!(key.open(&altered, provider), Err(SecretError::DoesNotOpen));
    }

    #[test]
    fn keys_parse_from_base64_of_32_bytes() {
        let key = SecretKey::generate();
        let parsed = SecretKey::parse(&key.to_base64()).expect("round trip");
        assert_eq!(parsed.0, key.0);
        assert_eq!(
            SecretKey::parse("c2hvcnQ=").err(),
            Some(SecretKeyError::WrongLength(5))
        );
        assert_eq!(
            SecretKey::parse("not base64!").err(),
            Some(SecretKeyError::NotBase64)
        );
        assert_eq!(format!("{key:?}"), "SecretKey(..)");
    }
}
