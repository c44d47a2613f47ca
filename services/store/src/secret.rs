//! Secrets handed to people (API tokens, links in mail): 256 random bits, base64url, with a
//! recognisable prefix. Only their SHA-256 is ever stored.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub(crate) fn generate(prefix: &str) -> String {
    let mut random = [0u8; 32];
    rand::rng().fill_bytes(&mut random);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(random))
}

pub(crate) fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}
