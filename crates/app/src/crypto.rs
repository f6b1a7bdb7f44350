//! Password hashing in a bounded pool, and random tokens.

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// argon2id with m = 19 MiB, t = 2, p = 1 (OWASP's first recommended setting).
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("static argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes on blocking threads, at most `permits` at a time: a login rush queues here instead
/// of taking every core (and 19 MiB each) from the requests that pay.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    /// A real hash of a random password, verified against when there is no hash to check, so
    /// an unknown account or an initial password takes as long as a wrong one.
    dummy: Arc<str>,
}

impl Hasher {
    pub fn new(permits: usize) -> Hasher {
        let dummy = argon2().hash_password(random_token(16).as_bytes()).expect("hashing a random password").to_string();
        Hasher { permits: Arc::new(Semaphore::new(permits.max(1))), dummy: dummy.into() }
    }

    pub async fn hash(&self, password: &str) -> String {
        let _permit = self.permits.acquire().await.expect("semaphore never closed");
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || argon2().hash_password(password.as_bytes()).expect("argon2 hashing").to_string())
            .await
            .expect("hashing task")
    }

    /// True when `password` matches `phc`; with `None`, burns the same time and says false.
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> bool {
        let _permit = self.permits.acquire().await.expect("semaphore never closed");
        let password = password.to_owned();
        let (phc, real) = match phc {
            Some(h) => (h.to_owned(), true),
            None => (self.dummy.to_string(), false),
        };
        let ok = tokio::task::spawn_blocking(move || argon2().verify_password(password.as_bytes(), phc.as_str()).is_ok())
            .await
            .expect("verify task");
        ok && real
    }
}

/// `n` random bytes as URL-safe base64: session tokens, CSRF tokens, captcha ids.
pub fn random_token(n: usize) -> String {
    use base64::Engine;
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).expect("the OS random source");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// A uniformly random number below `bound`, from the OS source.
pub fn random_below(bound: u64) -> u64 {
    let zone = u64::MAX - (u64::MAX % bound);
    loop {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).expect("the OS random source");
        let v = u64::from_le_bytes(b);
        if v < zone {
            return v % bound;
        }
    }
}

pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares secrets in time that does not depend on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_dummy_never_matches() {
        let h = Hasher::new(1);
        let phc = h.hash("Campus#Pay2026!").await;
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(h.verify("Campus#Pay2026!", Some(&phc)).await);
        assert!(!h.verify("campus#pay2026!", Some(&phc)).await);
        assert!(!h.verify("anything", None).await);
    }

    #[test]
    fn tokens_are_random_and_sized() {
        assert_eq!(random_token(32).len(), 43);
        assert_ne!(random_token(32), random_token(32));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!((0..1000).all(|_| random_below(10) < 10));
    }
}
