//! Logins as the load program sends them, and the flood of `--phase flood`: clients that log
//! in over and over while the home page is measured. A refused login says when to come back
//! (`429` with `Retry-After`); the login page tells the student to wait a few seconds, and
//! `--flood-retry honour` (the default) waits that long, as a student does. `--flood-retry
//! ignore` sends the next login at once, the worst a client can do.

use super::{PASSWORD, Tally};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The login step of the flood's clients, apart from the home clients' own logins.
pub const LOGIN_IN_FLOOD: &str = "login, flooding";
/// The home page while some home clients are still logging in (not compared with anything).
pub const HOME_RAMP: &str = "home, ramp";

/// When the flood begins: `quiet` after the last home client has logged in, so that the
/// home page is measured alone, all clients on it, and then under the flood, in one run.
pub struct Start {
    logged_in: AtomicUsize,
    clients: usize,
    quiet: Duration,
    at: OnceLock<Instant>,
}

impl Start {
    pub fn new(clients: usize, quiet: Duration) -> Start {
        Start { logged_in: AtomicUsize::new(0), clients, quiet, at: OnceLock::new() }
    }

    /// A home client has its session.
    pub fn logged_in(&self) {
        if self.logged_in.fetch_add(1, Ordering::AcqRel) + 1 == self.clients {
            let _ = self.at.set(Instant::now() + self.quiet);
        }
    }

    /// The step a home page requested at `t` belongs to.
    pub fn home_step(&self, t: Instant, home: &'static str, in_flood: &'static str) -> &'static str {
        match self.at.get() {
            None => HOME_RAMP,
            Some(at) if t < *at => home,
            Some(_) => in_flood,
        }
    }

    async fn reached(&self) {
        loop {
            if let Some(at) = self.at.get() {
                tokio::time::sleep_until((*at).into()).await;
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// What a login was answered.
pub enum Answer {
    Token(String),
    /// 429, with the `Retry-After` it carried.
    Refused(Option<Duration>),
    Failed,
}

/// One login, timed as `step`; errors are counted under it by status and code.
pub async fn login(http: &reqwest::Client, base: &str, no: &str, step: &'static str, tally: &Mutex<Tally>) -> Answer {
    let t = Instant::now();
    let res =
        http.post(format!("{base}/api/v1/student/login")).json(&json!({"school": "qdou", "login": no, "password": PASSWORD})).send().await;
    let res = match res {
        Ok(r) => r,
        Err(_) => {
            tally.lock().unwrap().err(step, "connection".into());
            return Answer::Failed;
        }
    };
    let status = res.status().as_u16();
    let retry_after = res.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse::<u64>().ok()).map(Duration::from_secs);
    let v = res.json::<Value>().await.unwrap_or(Value::Null);
    if status != 200 {
        tally.lock().unwrap().err(step, format!("{status} {}", v["error"]["code"].as_str().unwrap_or("")));
        return if status == 429 { Answer::Refused(retry_after) } else { Answer::Failed };
    }
    tally.lock().unwrap().ok(step, t);
    v["token"].as_str().map_or(Answer::Failed, |t| Answer::Token(t.to_string()))
}

/// One flooding client: from `start` to `stop`, logs in the next student, again and again;
/// when refused, waits the `Retry-After` first if `honour`.
#[allow(clippy::too_many_arguments)]
pub async fn client(
    http: reqwest::Client,
    bases: Vec<String>,
    next: Arc<AtomicUsize>,
    students: usize,
    start: Arc<Start>,
    stop: Instant,
    honour: bool,
    tally: Arc<Mutex<Tally>>,
) {
    tokio::select! {
        _ = start.reached() => {}
        _ = tokio::time::sleep_until(stop.into()) => return,
    }
    while Instant::now() < stop {
        let i = next.fetch_add(1, Ordering::Relaxed) % students;
        if let Answer::Refused(Some(after)) = login(&http, &bases[i % bases.len()], &format!("L{i:07}"), LOGIN_IN_FLOOD, &tally).await
            && honour
        {
            tokio::time::sleep(after.min(stop.saturating_duration_since(Instant::now()))).await;
        }
    }
}
