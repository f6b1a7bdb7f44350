//! Secrets at rest: merchant private keys, API keys and app secrets are kept in the database
//! only as AES-256-GCM ciphertexts under a key the deployment holds outside it.
//!
//! The key is 32 random bytes, given as 64 hex digits or Base64 in `CAMPUSPAY_SECRET_KEY`, or in
//! the file named by `CAMPUSPAY_SECRET_KEY_FILE`. Each ciphertext carries the id of the key that
//! sealed it (the first 8 hex digits of the key's SHA-256), so a later key can be added and the
//! old ciphertexts still opened, or told apart, while they are re-sealed. Each seal binds its
//! place (school, channel, field) as associated data: a ciphertext copied to another row or
//! field does not open there.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The environment variables the key is read from.
pub const KEY_ENV: &str = "CAMPUSPAY_SECRET_KEY";
pub const KEY_FILE_ENV: &str = "CAMPUSPAY_SECRET_KEY_FILE";

/// One sealed value as stored: key id, nonce and ciphertext with its tag (Base64).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    pub kid: String,
    pub nonce: String,
    pub ct: String,
}

/// The deployment's secret key(s): the first seals, all open.
#[derive(Clone)]
pub struct SecretKeys {
    keys: Arc<Vec<Arc<(String, LessSafeKey)>>>,
}

impl std::fmt::Debug for SecretKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKeys").field("kids", &self.keys.iter().map(|e| e.0.as_str()).collect::<Vec<_>>()).finish()
    }
}

/// Why a key or a ciphertext could not be used. The messages name no secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("the secret key must be 32 bytes, written as 64 hex digits or Base64")]
    BadKey,
    #[error("cannot read the secret key file {0}: {1}")]
    File(String, String),
    #[error("sealed under key {0}, which is not configured")]
    UnknownKey(String),
    #[error("a sealed value does not open: wrong key, or the value was altered or moved")]
    Tampered,
}

fn decode_key(text: &str) -> Result<[u8; 32], SecretError> {
    let t = text.trim();
    let bytes = if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32).map(|i| u8::from_str_radix(&t[2 * i..2 * i + 2], 16)).collect::<Result<Vec<u8>, _>>().map_err(|_| SecretError::BadKey)?
    } else {
        B64.decode(t).map_err(|_| SecretError::BadKey)?
    };
    bytes.try_into().map_err(|_| SecretError::BadKey)
}

/// A new random key as 64 hex digits (for a key file).
pub fn generate_key_hex() -> String {
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).expect("the OS random source");
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

impl SecretKeys {
    /// Keys from their text forms (hex or Base64), the sealing key first.
    pub fn from_texts<'a>(texts: impl IntoIterator<Item = &'a str>) -> Result<SecretKeys, SecretError> {
        let mut keys = Vec::new();
        for t in texts {
            let raw = decode_key(t)?;
            let kid: String = Sha256::digest(raw).iter().take(4).map(|b| format!("{b:02x}")).collect();
            let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &raw).map_err(|_| SecretError::BadKey)?);
            keys.push(Arc::new((kid, key)));
        }
        if keys.is_empty() {
            return Err(SecretError::BadKey);
        }
        Ok(SecretKeys { keys: Arc::new(keys) })
    }

    /// A fresh random key (tests).
    pub fn generate() -> SecretKeys {
        SecretKeys::from_texts([generate_key_hex().as_str()]).expect("a generated key is valid")
    }

    /// The key of `CAMPUSPAY_SECRET_KEY`, else of the file named by `CAMPUSPAY_SECRET_KEY_FILE`,
    /// else none. A key given and unusable is an error, not "no key".
    pub fn from_env() -> Result<Option<SecretKeys>, SecretError> {
        if let Ok(text) = std::env::var(KEY_ENV)
            && !text.trim().is_empty()
        {
            // Several keys, the sealing one first, separated by commas or spaces (rotation).
            return SecretKeys::from_texts(text.split([',', ' ', '\n']).filter(|t| !t.trim().is_empty())).map(Some);
        }
        match std::env::var(KEY_FILE_ENV) {
            Ok(path) if !path.trim().is_empty() => SecretKeys::from_file(std::path::Path::new(path.trim())).map(Some),
            _ => Ok(None),
        }
    }

    /// The keys of a key file: one per line, the sealing key first; later lines are older keys
    /// that only open (while `campuspay rotate-secret-key` re-seals under the first). Blank
    /// lines and `#` comments are skipped.
    pub fn from_file(path: &std::path::Path) -> Result<SecretKeys, SecretError> {
        let text = std::fs::read_to_string(path).map_err(|e| SecretError::File(path.display().to_string(), e.to_string()))?;
        SecretKeys::from_texts(text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')))
    }

    /// These keys, then `older`'s for opening only: what a key file with the new key first and
    /// the old one below gives.
    pub fn followed_by(&self, older: &SecretKeys) -> SecretKeys {
        let mut keys: Vec<_> = self.keys.iter().cloned().collect();
        keys.extend(older.keys.iter().filter(|o| !keys.iter().any(|k| k.0 == o.0)).cloned().collect::<Vec<_>>());
        SecretKeys { keys: Arc::new(keys) }
    }

    /// Whether `kid` is the key that seals now.
    pub fn seals_with(&self, kid: &str) -> bool {
        self.kid() == kid
    }

    /// The id of the sealing key.
    pub fn kid(&self) -> &str {
        &self.keys[0].0
    }

    /// Seals `plain`, bound to `place` (e.g. `school:3/wechatpay/apiv3_key`).
    pub fn seal(&self, place: &str, plain: &str) -> Sealed {
        let (kid, key) = &*self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).expect("the OS random source");
        let mut data = plain.as_bytes().to_vec();
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(place.as_bytes()), &mut data)
            .expect("AES-GCM seals any length we store");
        Sealed { kid: kid.clone(), nonce: B64.encode(nonce), ct: B64.encode(data) }
    }

    /// Opens a value sealed at `place`.
    pub fn open(&self, place: &str, sealed: &Sealed) -> Result<String, SecretError> {
        let (_, key) = &**self.keys.iter().find(|e| e.0 == sealed.kid).ok_or_else(|| SecretError::UnknownKey(sealed.kid.clone()))?;
        let nonce: [u8; NONCE_LEN] = B64.decode(&sealed.nonce).ok().and_then(|n| n.try_into().ok()).ok_or(SecretError::Tampered)?;
        let mut data = B64.decode(&sealed.ct).map_err(|_| SecretError::Tampered)?;
        let plain = key
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(place.as_bytes()), &mut data)
            .map_err(|_| SecretError::Tampered)?;
        String::from_utf8(plain.to_vec()).map_err(|_| SecretError::Tampered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_only_in_place_and_with_its_key() {
        let keys = SecretKeys::generate();
        let s = keys.seal("school:1/alipay/app_private_key_pem", "-----BEGIN PRIVATE KEY-----");
        assert!(!s.ct.contains("PRIVATE"));
        assert_eq!(keys.open("school:1/alipay/app_private_key_pem", &s).unwrap(), "-----BEGIN PRIVATE KEY-----");
        // Moved to another school's row: refused.
        assert_eq!(keys.open("school:2/alipay/app_private_key_pem", &s), Err(SecretError::Tampered));
        // Another key: told which key it needs.
        let other = SecretKeys::generate();
        assert_eq!(other.open("school:1/alipay/app_private_key_pem", &s), Err(SecretError::UnknownKey(s.kid.clone())));
        // Two seals of one value differ (fresh nonce).
        assert_ne!(keys.seal("p", "x").ct, keys.seal("p", "x").ct);
    }

    #[test]
    fn key_texts() {
        let hex = generate_key_hex();
        let a = SecretKeys::from_texts([hex.as_str()]).unwrap();
        let raw: Vec<u8> = (0..32).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap()).collect();
        let b = SecretKeys::from_texts([B64.encode(&raw).as_str()]).unwrap();
        assert_eq!(a.kid(), b.kid());
        assert_eq!(SecretKeys::from_texts(["abcd"]).unwrap_err(), SecretError::BadKey);
        // A key rotated in later still opens what the old one sealed.
        let old = a.seal("p", "secret");
        let both = SecretKeys::from_texts([generate_key_hex().as_str(), hex.as_str()]).unwrap();
        assert_eq!(both.open("p", &old).unwrap(), "secret");
        assert_ne!(both.seal("p", "x").kid, a.kid());
    }

    #[test]
    fn a_key_file_lists_the_sealing_key_then_older_ones() {
        let (new, old) = (generate_key_hex(), generate_key_hex());
        let dir = std::env::temp_dir().join(format!("campuspay-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("secret.key");
        std::fs::write(&path, format!("# sealing key\n{new}\n\n{old}\n")).unwrap();
        let keys = SecretKeys::from_file(&path).unwrap();
        let only_new = SecretKeys::from_texts([new.as_str()]).unwrap();
        let only_old = SecretKeys::from_texts([old.as_str()]).unwrap();
        assert!(keys.seals_with(only_new.kid()) && !keys.seals_with(only_old.kid()));
        assert_eq!(keys.open("p", &only_old.seal("p", "s")).unwrap(), "s");
        std::fs::write(&path, "# nothing but a comment\n").unwrap();
        assert_eq!(SecretKeys::from_file(&path).unwrap_err(), SecretError::BadKey);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
