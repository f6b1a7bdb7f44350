//! Password hashing in a bounded pool, and random tokens.

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, PasswordVerifier, Version};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

/// argon2id with m = 19 MiB, t = 2, p = 1 (OWASP's first recommended setting).
fn params() -> Params {
    Params::new(19 * 1024, 2, 1, None).expect("static argon2 parameters are valid")
}

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
}

/// One hash's 19 MiB of working memory, kept for the next hash.
type Memory = Vec<Block>;

/// Hashes on blocking threads, at most `permits` at a time: a login rush queues here instead
/// of taking every core from the requests that pay. Each permit owns its 19 MiB of working
/// memory, allocated once: argon2's own path allocates it per hash, and the allocator kept
/// what 32 logins at once had asked for (RSS 390 MB after 160 logins).
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    /// Logins hashing or waiting to ([`Hasher::try_verify`]), and how many may: past that a
    /// login is told at once to come back, instead of timing out in a queue.
    in_line: Arc<AtomicUsize>,
    max_in_line: usize,
    memory: Arc<Mutex<Vec<Memory>>>,
    /// A real hash of a random password, verified against when there is no hash to check, so
    /// an unknown account or an initial password takes as long as a wrong one.
    dummy: Arc<str>,
}

/// Too many logins are hashing or waiting to: come back in a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// A permit's memory, returned to the pool when dropped (also if the hash panicked).
struct Lease {
    pool: Arc<Mutex<Vec<Memory>>>,
    memory: Option<Memory>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(m) = self.memory.take() {
            self.pool.lock().unwrap_or_else(|e| e.into_inner()).push(m);
        }
    }
}

fn new_memory() -> Memory {
    vec![Block::default(); params().block_count()]
}

/// An argon2id PHC string of `password` with a fresh salt, hashed in `memory`.
fn hash_in(memory: &mut [Block], password: &[u8]) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the OS random source");
    let mut out = [0u8; 32];
    argon2().hash_password_into_with_memory(password, &salt, &mut out, memory).expect("argon2 hashing");
    PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params()).expect("static parameters encode"),
        salt: Some(Salt::new(&salt).expect("16-byte salt")),
        hash: Some(Output::new(&out).expect("32-byte output")),
    }
    .to_string()
}

/// Whether `phc` was made with our algorithm, version and costs (the output length is the
/// hash's own, not a setting): only then can the pooled memory compute it.
fn made_with_our_setting(phc: &PasswordHash) -> bool {
    let ours = params();
    phc.algorithm == Algorithm::Argon2id.ident()
        && phc.version == Some(Version::V0x13.into())
        && Params::try_from(phc).is_ok_and(|p| (p.m_cost(), p.t_cost(), p.p_cost()) == (ours.m_cost(), ours.t_cost(), ours.p_cost()))
}

/// Whether `password` matches `phc`. Our own parameters are computed in `memory`; a hash made
/// with other parameters (an older setting) goes through argon2's allocating path.
fn verify_in(memory: &mut [Block], password: &[u8], phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else { return false };
    let ours = made_with_our_setting(&parsed);
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else { return false };
    if !ours {
        return argon2().verify_password(password, phc).is_ok();
    }
    let mut out = vec![0u8; expected.as_bytes().len()];
    argon2().hash_password_into_with_memory(password, salt.as_ref(), &mut out, memory).is_ok()
        && constant_time_eq(&out, expected.as_bytes())
}

impl Hasher {
    pub fn new(permits: usize) -> Hasher {
        let permits = permits.max(1);
        let mut memory = new_memory();
        let dummy = hash_in(&mut memory, random_token(16).as_bytes());
        let mut pool = vec![memory];
        pool.resize_with(permits, new_memory);
        Hasher {
            permits: Arc::new(Semaphore::new(permits)),
            in_line: Arc::default(),
            // ~30 ms a hash per core: 16 in line per permit wait about half a second.
            max_in_line: permits * 16,
            memory: Arc::new(Mutex::new(pool)),
            dummy: dummy.into(),
        }
    }

    /// [`Hasher::verify`] for logins, which come in floods: `Err(Busy)` at once when the line
    /// of hashes is full.
    pub async fn try_verify(&self, password: &str, phc: Option<&str>) -> Result<bool, Busy> {
        if self.in_line.fetch_add(1, Ordering::AcqRel) >= self.max_in_line {
            self.in_line.fetch_sub(1, Ordering::AcqRel);
            return Err(Busy);
        }
        struct Leave<'a>(&'a AtomicUsize);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::AcqRel);
            }
        }
        let _leave = Leave(&self.in_line);
        Ok(self.verify(password, phc).await)
    }

    /// Holding a permit, the memory that goes with it (there are as many as permits).
    fn lease(&self) -> Lease {
        let memory = self.memory.lock().unwrap_or_else(|e| e.into_inner()).pop().unwrap_or_else(new_memory);
        Lease { pool: self.memory.clone(), memory: Some(memory) }
    }

    pub async fn hash(&self, password: &str) -> String {
        let _permit = self.permits.acquire().await.expect("semaphore never closed");
        let mut lease = self.lease();
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || hash_in(lease.memory.as_mut().expect("leased memory"), password.as_bytes()))
            .await
            .expect("hashing task")
    }

    /// True when `password` matches `phc`; with `None`, burns the same time and says false.
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> bool {
        let _permit = self.permits.acquire().await.expect("semaphore never closed");
        let mut lease = self.lease();
        let password = password.to_owned();
        let (phc, real) = match phc {
            Some(h) => (h.to_owned(), true),
            None => (self.dummy.to_string(), false),
        };
        let ok = tokio::task::spawn_blocking(move || verify_in(lease.memory.as_mut().expect("leased memory"), password.as_bytes(), &phc))
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
    fn our_own_hashes_take_the_pooled_path() {
        let mut memory = new_memory();
        let phc = hash_in(&mut memory, b"pw");
        assert!(made_with_our_setting(&PasswordHash::new(&phc).unwrap()), "verified in pooled memory, not allocating");
        use argon2::PasswordHasher;
        let theirs = argon2().hash_password(b"pw").unwrap().to_string();
        assert!(made_with_our_setting(&PasswordHash::new(&theirs).unwrap()));
        let other = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(8 * 1024, 3, 1, None).unwrap());
        assert!(!made_with_our_setting(&PasswordHash::new(&other.hash_password(b"pw").unwrap().to_string()).unwrap()));
        assert!(verify_in(&mut memory, b"pw", &phc));
        assert!(!verify_in(&mut memory, b"px", &phc));
    }

    #[tokio::test]
    async fn hashes_of_argon2s_own_path_verify_in_pooled_memory_and_other_settings_still_verify() {
        use argon2::PasswordHasher;
        let h = Hasher::new(2);
        let theirs = argon2().hash_password(b"Campus#Pay2026!").unwrap().to_string();
        assert!(h.verify("Campus#Pay2026!", Some(&theirs)).await);
        assert!(!h.verify("Campus#Pay2026?", Some(&theirs)).await);
        let older = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(8 * 1024, 3, 1, None).unwrap())
            .hash_password(b"pw-of-2024")
            .unwrap()
            .to_string();
        assert!(h.verify("pw-of-2024", Some(&older)).await);
        assert!(!h.verify("pw-of-2025", Some(&older)).await);
        let ours = h.hash("x").await;
        assert!(argon2().verify_password(b"x", ours.as_str()).is_ok(), "argon2's own verifier accepts ours");
        assert!(!h.verify("x", Some("not a hash")).await);
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
