//! Password hashing on dedicated low-priority threads, and random tokens.

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, PasswordVerifier, Version};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// argon2id with m = 19 MiB, t = 2, p = 1 (OWASP's first recommended setting).
fn params() -> Params {
    Params::new(19 * 1024, 2, 1, None).expect("static argon2 parameters are valid")
}

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
}

/// One hash's 19 MiB of working memory, kept by its thread for the next hash.
type Memory = Vec<Block>;

/// Work for a hashing thread, done in that thread's memory.
type Job = Box<dyn FnOnce(&mut [Block]) + Send>;

/// The nice value of the hashing threads (request threads run at the process's own, 0 by
/// default). A login flood keeps both cores hashing; at 19 a waking request thread preempts a
/// hash at once and the CFS weights give a hash ~1.5 % of a core next to a busy one, so the
/// home page keeps its latency while logins take the CPU nobody else wants — all of it when
/// nothing else runs.
const HASHING_NICE: i32 = 19;

/// Hashes on `threads` dedicated threads at a lower OS priority ([`HASHING_NICE`]): a login
/// rush queues here instead of taking the cores from the requests that pay. Each thread owns
/// its 19 MiB of working memory, allocated once: argon2's own path allocates it per hash, and
/// the allocator kept what 32 logins at once had asked for (RSS 390 MB after 160 logins).
/// The threads end when the last clone of the hasher is dropped.
#[derive(Clone)]
pub struct Hasher {
    jobs: mpsc::Sender<Job>,
    /// Logins holding a [`Place`] — checking their limits, hashing or waiting to — and how
    /// many may: past that a login is told at once to come back, instead of timing out in a
    /// queue, and before it costs a database query.
    in_line: Arc<AtomicUsize>,
    max_in_line: usize,
    /// A real hash of a random password, verified against when there is no hash to check, so
    /// an unknown account or an initial password takes as long as a wrong one.
    dummy: Arc<str>,
}

/// Too many logins are hashing or waiting to: come back in a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// A login's place in the bounded line of hashes ([`Hasher::place`]), given back when dropped.
pub struct Place {
    hasher: Hasher,
}

impl Drop for Place {
    fn drop(&mut self) {
        self.hasher.in_line.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Place {
    /// [`Hasher::verify`], for the login that holds this place.
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> bool {
        self.hasher.verify(password, phc).await
    }
}

fn new_memory() -> Memory {
    vec![Block::default(); params().block_count()]
}

/// Lowers the calling thread's scheduling priority. Linux keeps the nice value per thread
/// (`setpriority(PRIO_PROCESS, tid)`), so only the hashing threads are lowered. Failing is
/// harmless — hashing then competes as before — and is said once in the log.
fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), HASHING_NICE) {
        tracing::warn!(error = %e, "could not lower the hashing thread's priority");
    }
}

/// One hashing thread: takes the next job from the shared line until the hasher is dropped.
/// A job that panics loses its answer (its caller sees the closed channel), not the thread.
fn hashing_thread(jobs: Arc<Mutex<mpsc::Receiver<Job>>>, mut memory: Memory) {
    lower_this_threads_priority();
    loop {
        // The lock is held only while waiting for a job, not while hashing it.
        let Ok(job) = jobs.lock().unwrap_or_else(|e| e.into_inner()).recv() else { return };
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut memory)));
    }
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
    /// A hasher with `threads` hashing threads (at least one), each with its memory.
    pub fn new(threads: usize) -> Hasher {
        let threads = threads.max(1);
        let mut memory = new_memory();
        let dummy = hash_in(&mut memory, random_token(16).as_bytes());
        let (jobs, line) = mpsc::channel::<Job>();
        let line = Arc::new(Mutex::new(line));
        let mut first = Some(memory);
        for i in 0..threads {
            let (line, memory) = (line.clone(), first.take().unwrap_or_else(new_memory));
            std::thread::Builder::new()
                .name(format!("campuspay-hash-{i}"))
                .spawn(move || hashing_thread(line, memory))
                .expect("the OS starts a hashing thread");
        }
        Hasher {
            jobs,
            in_line: Arc::default(),
            // ~30 ms a hash per core: 16 in line per thread wait about half a second.
            max_in_line: threads * 16,
            dummy: dummy.into(),
        }
    }

    /// A place in the line of hashes for a login, or `Err(Busy)` at once when the line is
    /// full. Taken before the login reads or writes anything, so that a refusal costs no more
    /// than answering it.
    pub fn place(&self) -> Result<Place, Busy> {
        if self.in_line.fetch_add(1, Ordering::AcqRel) >= self.max_in_line {
            self.in_line.fetch_sub(1, Ordering::AcqRel);
            return Err(Busy);
        }
        Ok(Place { hasher: self.clone() })
    }

    /// [`Hasher::verify`] for logins, which come in floods: `Err(Busy)` at once when the line
    /// of hashes is full.
    pub async fn try_verify(&self, password: &str, phc: Option<&str>) -> Result<bool, Busy> {
        Ok(self.place()?.verify(password, phc).await)
    }

    /// Runs `work` on a hashing thread, in its memory. Work whose caller has gone (a client
    /// that hung up while in line) is skipped: nobody waits for its answer.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce(&mut [Block]) -> T + Send + 'static) -> T {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |memory| {
            if !tx.is_closed() {
                let _ = tx.send(work(memory));
            }
        });
        self.jobs.send(job).expect("the hashing threads live as long as the hasher");
        rx.await.expect("a hashing job panicked")
    }

    pub async fn hash(&self, password: &str) -> String {
        let password = password.to_owned();
        self.run(move |memory| hash_in(memory, password.as_bytes())).await
    }

    /// True when `password` matches `phc`; with `None`, burns the same time and says false.
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> bool {
        let password = password.to_owned();
        let (phc, real) = match phc {
            Some(h) => (h.to_owned(), true),
            None => (self.dummy.to_string(), false),
        };
        let ok = self.run(move |memory| verify_in(memory, password.as_bytes(), &phc)).await;
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

    #[tokio::test]
    async fn a_full_line_refuses_at_once_and_a_place_is_given_back() {
        let h = Hasher::new(1);
        let places: Vec<Place> = (0..16).map(|_| h.place().expect("room in the line")).collect();
        assert_eq!(h.place().err(), Some(Busy), "16 in line per thread");
        assert_eq!(h.try_verify("x", None).await, Err(Busy));
        drop(places);
        let place = h.place().expect("room again once the places are given back");
        assert!(!place.verify("x", None).await);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_threads_run_below_the_request_threads() {
        use rustix::process::getpriority_process;
        let h = Hasher::new(2);
        let here = getpriority_process(None).unwrap();
        for _ in 0..4 {
            let (name, nice) = h
                .run(|_| {
                    let name = std::thread::current().name().map(str::to_string);
                    (name, getpriority_process(Some(rustix::thread::gettid())).unwrap())
                })
                .await;
            assert!(name.is_some_and(|n| n.starts_with("campuspay-hash-")), "on a hashing thread");
            assert_eq!(nice, HASHING_NICE, "lowered from {here}");
        }
        assert_eq!(getpriority_process(Some(rustix::thread::gettid())).unwrap(), here, "the caller's own thread is left alone");
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
