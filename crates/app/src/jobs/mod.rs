//! Background work: provider queries, order expiry, closing superseded attempts, refunds,
//! reconciliation. Jobs live in the database, so any instance may run them and none is lost.
//!
//! A [`Job`] is stored as its kind and its JSON payload; [`Job::encode`] and [`Job::decode`]
//! are the one mapping between the two, and decoding refuses what it does not know. The
//! payload is also the job's key: the same job is not queued twice while one is pending.
//! Each job belongs to a [`Queue`]; the [`Runner`] runs each queue with its own concurrency
//! limit, so a provider that takes 20 s to answer never holds back an expiry.

mod run;
mod runner;

pub use runner::{Limits, Runner, RunnerHandle};

use crate::{Context, Error};
use campuspay_store::{StoreError, WriteTx};
use serde::{Deserialize, Serialize};

/// One piece of background work and what it works on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload", rename_all = "snake_case", deny_unknown_fields)]
pub enum Job {
    /// Ask the provider whether an attempt was paid (no notification yet).
    QueryAttempt { attempt_id: i64 },
    /// Close an unpaid order at its deadline.
    ExpireOrder { order_id: i64 },
    /// Close a superseded or cancelled attempt at its provider.
    CloseAttempt { attempt_id: i64 },
    /// Send money that could not pay its order back through the provider.
    Refund { refund_id: i64 },
    /// Reconcile one Shanghai day's statements, `yyyy-mm-dd`.
    Reconcile { date: String },
    /// Issue the electronic receipts of a paid order (queued where the money was applied).
    IssueReceipt { order_id: i64 },
    /// Issue the electronic receipts of money taken at the counter.
    IssueOfflineReceipt { offline_payment_id: i64 },
    /// Send a receipt's verify link by SMS.
    SmsReceipt { school_id: i64, receipt_id: i64 },
    /// Send a receipt's verify link by mail, if the student has an address.
    MailReceipt { school_id: i64, receipt_id: i64 },
    /// Render a workbook the office asked for (`office::exports`).
    Export { export_id: i64 },
    /// Remove a ready export's file once it has been kept long enough.
    ExpireExport { export_id: i64 },
}

/// Which runner takes a job: each queue has its own concurrency limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Queue {
    /// Calls to payment providers, which may each take up to their timeout.
    Provider,
    /// Work on our own books that must not wait behind a provider (expiries).
    Local,
}

impl Queue {
    pub const ALL: [Queue; 2] = [Queue::Provider, Queue::Local];

    pub fn as_str(self) -> &'static str {
        match self {
            Queue::Provider => "provider",
            Queue::Local => "local",
        }
    }
}

/// A stored job that does not decode: a kind this build does not know, or a payload that
/// does not fit its kind. Never turned into some default job.
#[derive(Debug, thiserror::Error)]
#[error("undecodable job {kind}: {reason}")]
pub struct DecodeError {
    pub kind: String,
    pub reason: String,
}

impl Job {
    pub fn queue(&self) -> Queue {
        match self {
            // Expiring closes the order's attempts at their providers too, but each call is
            // bounded by its timeout and expiries must not queue behind slow queries.
            // Receipts are our own books: they must not wait behind a slow provider.
            Job::ExpireOrder { .. } | Job::IssueReceipt { .. } | Job::IssueOfflineReceipt { .. } => Queue::Local,
            // Our own books; one export takes one of the local queue's slots, never all.
            Job::Export { .. } | Job::ExpireExport { .. } => Queue::Local,
            Job::SmsReceipt { .. } | Job::MailReceipt { .. } => Queue::Provider,
            Job::QueryAttempt { .. } | Job::CloseAttempt { .. } | Job::Refund { .. } | Job::Reconcile { .. } => Queue::Provider,
        }
    }

    /// The kind and the JSON payload to store.
    pub fn encode(&self) -> (String, String) {
        // An adjacently tagged enum of integers and strings always serializes.
        let serde_json::Value::Object(mut v) = serde_json::to_value(self).unwrap_or_default() else {
            unreachable!("a Job serializes to an object")
        };
        let kind = match v.remove("kind") {
            Some(serde_json::Value::String(k)) => k,
            _ => unreachable!("a Job has a string tag"),
        };
        (kind, v.remove("payload").unwrap_or_default().to_string())
    }

    /// The job a stored kind and payload stand for; anything unknown is an error.
    pub fn decode(kind: &str, payload: &str) -> Result<Job, DecodeError> {
        let fail = |reason: String| DecodeError { kind: kind.to_string(), reason };
        let payload: serde_json::Value = serde_json::from_str(payload).map_err(|e| fail(e.to_string()))?;
        let job: Job = serde_json::from_value(serde_json::json!({"kind": kind, "payload": payload})).map_err(|e| fail(e.to_string()))?;
        if let Job::Reconcile { date } = &job
            && run::parse_date(date).is_none()
        {
            return Err(fail(format!("not a date: {date}")));
        }
        Ok(job)
    }
}

/// Queues `job` to run at `run_at` (unix seconds) in the caller's transaction, unless the
/// same job is pending already.
pub async fn enqueue_at(ctx: &Context, tx: &mut WriteTx, job: &Job, run_at: i64) -> Result<(), StoreError> {
    let (kind, payload) = job.encode();
    ctx.store.enqueue_job(tx, &kind, &payload, job.queue().as_str(), run_at, ctx.clock.now()).await?;
    Ok(())
}

/// Queues `jobs` to run as soon as a runner is free, in one statement (the worker's batches).
pub async fn enqueue_many(ctx: &Context, tx: &mut WriteTx, jobs: &[Job]) -> Result<(), StoreError> {
    let now = ctx.clock.now();
    let rows: Vec<(String, String, &str, i64)> = jobs
        .iter()
        .map(|j| {
            let (kind, payload) = j.encode();
            (kind, payload, j.queue().as_str(), now)
        })
        .collect();
    ctx.store.enqueue_jobs(tx, &rows, now).await
}

/// Queues `job` to run `secs` from now (by the context's clock).
pub async fn enqueue_in(ctx: &Context, tx: &mut WriteTx, job: &Job, secs: i64) -> Result<(), StoreError> {
    enqueue_at(ctx, tx, job, ctx.clock.now() + secs).await
}

/// Queues `job` to run as soon as a runner is free.
pub async fn enqueue(ctx: &Context, tx: &mut WriteTx, job: &Job) -> Result<(), StoreError> {
    enqueue_in(ctx, tx, job, 0).await
}

/// Brings `job` forward to now if it is pending, not running and has never run, once
/// `not_before` is past. Only the first run: a student watching an order gets the first
/// provider query early, while later ones keep their backoff however often the page polls.
pub async fn hurry(ctx: &Context, job: &Job, not_before: i64) -> Result<(), StoreError> {
    let (kind, payload) = job.encode();
    ctx.store.hurry_job(&kind, &payload, ctx.clock.now(), not_before).await
}

/// Whether `job` was ever queued (pending or done).
pub async fn was_queued(ctx: &Context, job: &Job) -> Result<bool, StoreError> {
    let (kind, payload) = job.encode();
    ctx.store.has_job(&kind, &payload).await
}

/// How many times `job` ran to completion.
pub async fn times_done(ctx: &Context, job: &Job) -> Result<i64, StoreError> {
    let (kind, payload) = job.encode();
    ctx.store.done_jobs(&kind, &payload).await
}

/// A job this instance holds under a lease until it records the outcome.
#[derive(Debug)]
pub struct Claimed {
    row: campuspay_store::jobs::JobRow,
    /// `Err` when the stored job does not decode; running it records the failure.
    pub job: Result<Job, String>,
    /// Jobs of its batch claimed with this one: issuing jobs (run in one transaction) or
    /// deliveries (sent each on its own, finished together).
    more: Vec<(campuspay_store::jobs::JobRow, Job)>,
}

impl Claimed {
    /// How many jobs this claim holds.
    pub fn jobs(&self) -> usize {
        1 + self.more.len()
    }
}

/// How many issuing jobs one claim takes at most. One transaction issues them all: a job
/// each was a claim, an issue and a finish, three commits per receipt; past a few dozen the
/// commits saved no longer show, while a longer transaction holds the school's sequence
/// longer.
pub const ISSUE_BATCH: usize = 64;

/// How many receipt deliveries (SMS, mail) one claim takes at most. Each is sent on its own,
/// all of a claim's at once (so the slowest send, not their sum, bounds the claim's lease), and
/// the sent ones are marked done in one transaction: a claim and a finish per message were two
/// of the ~8 commits each payment cost SQLite's one writer at the start of term.
pub const DELIVERY_BATCH: usize = 16;

/// Whether the job delivers a receipt (claimed and finished in batches).
fn delivers(job: &Job) -> bool {
    matches!(job, Job::SmsReceipt { .. } | Job::MailReceipt { .. })
}

/// What an issuing job issues for; `None` for other jobs.
fn issues_for(job: &Job) -> Option<crate::receipts::IssueFor> {
    match job {
        Job::IssueReceipt { order_id } => Some(crate::receipts::IssueFor::Order(*order_id)),
        Job::IssueOfflineReceipt { offline_payment_id } => Some(crate::receipts::IssueFor::Offline(*offline_payment_id)),
        _ => None,
    }
}

/// Claims the most overdue job of `queue`, if one is due by the context's clock. An issuing
/// job comes with up to [`ISSUE_BATCH`] - 1 more due issuing jobs, to be issued together; a
/// delivery with up to [`DELIVERY_BATCH`] - 1 more deliveries.
pub async fn claim(ctx: &Context, queue: Queue) -> Result<Option<Claimed>, StoreError> {
    let Some(row) = ctx.store.claim_job(queue.as_str(), ctx.clock.now()).await? else { return Ok(None) };
    let job = Job::decode(&row.kind, &row.payload).map_err(|e| e.to_string());
    let mut more = Vec::new();
    let batch = match &job {
        Ok(j) if issues_for(j).is_some() => {
            Some(([Job::IssueReceipt { order_id: 0 }, Job::IssueOfflineReceipt { offline_payment_id: 0 }], ISSUE_BATCH))
        }
        Ok(j) if delivers(j) => {
            Some(([Job::SmsReceipt { school_id: 0, receipt_id: 0 }, Job::MailReceipt { school_id: 0, receipt_id: 0 }], DELIVERY_BATCH))
        }
        _ => None,
    };
    if let Some((like, size)) = batch {
        let kinds = like.map(|j| j.encode().0);
        let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
        let now = ctx.clock.now();
        for extra in ctx.store.claim_jobs(queue.as_str(), &kinds, now, size as i64 - 1).await? {
            match Job::decode(&extra.kind, &extra.payload) {
                Ok(j) => more.push((extra, j)),
                // Recorded as failed now, as running it alone would: never guessed at.
                Err(e) => ctx.store.retry_job(&extra, now + 1, &e.to_string(), true).await?,
            }
        }
    }
    Ok(Some(Claimed { row, job, more }))
}

/// Runs a claimed job (or batch) and records the outcome, as the [`Runner`] does with each
/// claim (benchmarks drive the runner's steps themselves).
pub async fn run_claimed(ctx: &Context, claimed: Claimed) {
    run::run(ctx, claimed).await
}

/// Runs every job that is due now, one after the other, until none is due; returns how many
/// ran. For tests and one-off runs: a server uses the [`Runner`].
pub async fn run_pending(ctx: &Context) -> Result<usize, StoreError> {
    let mut ran = 0;
    // A job that keeps coming back due at once would loop forever: the bound makes it visible.
    while ran < 10_000 {
        let mut any = false;
        for queue in Queue::ALL {
            if let Some(claimed) = claim(ctx, queue).await? {
                ran += claimed.jobs();
                run::run(ctx, claimed).await;
                any = true;
            }
        }
        if !any {
            return Ok(ran);
        }
    }
    Err(StoreError::Corrupt(format!("jobs still due after {ran} runs")))
}

/// Jobs whose last run ended in an error, with that error (they will be retried).
pub async fn failed(ctx: &Context) -> Result<Vec<String>, StoreError> {
    Ok(ctx
        .store
        .pending_jobs()
        .await?
        .into_iter()
        .filter(|j| j.failed)
        .map(|j| format!("job {} {} {} (attempt {}): {}", j.id, j.kind, j.payload, j.attempts, j.last_error))
        .collect())
}

/// Schedules yesterday's reconciliation soon after start if nobody has yet.
pub async fn schedule_reconcile(ctx: &Context) -> Result<(), Error> {
    run::schedule_reconcile(ctx).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_round_trip_through_their_stored_form() {
        let jobs = [
            Job::QueryAttempt { attempt_id: 7 },
            Job::ExpireOrder { order_id: 8 },
            Job::CloseAttempt { attempt_id: 9 },
            Job::Refund { refund_id: 10 },
            Job::Reconcile { date: "2026-11-30".into() },
            Job::IssueReceipt { order_id: 11 },
            Job::IssueOfflineReceipt { offline_payment_id: 12 },
            Job::SmsReceipt { school_id: 1, receipt_id: 13 },
            Job::MailReceipt { school_id: 1, receipt_id: 14 },
            Job::Export { export_id: 15 },
            Job::ExpireExport { export_id: 16 },
        ];
        for job in jobs {
            let (kind, payload) = job.encode();
            assert_eq!(Job::decode(&kind, &payload).unwrap(), job);
        }
        // The stored words are the ones jobs already in databases carry: migration 4 converted
        // them under these names, so a rename would strand them.
        let (kind, payload) = Job::QueryAttempt { attempt_id: 7 }.encode();
        assert!(MIGRATION_4.contains(&format!("'{kind}'")), "{kind} is not the word migration 4 wrote");
        assert_eq!(payload, r#"{"attempt_id":7}"#);
    }

    #[test]
    fn unknown_kinds_and_payloads_are_refused() {
        let (expire, _) = Job::ExpireOrder { order_id: 1 }.encode();
        let (reconcile, _) = Job::Reconcile { date: "2026-11-30".into() }.encode();
        assert!(MIGRATION_4.contains(&format!("'{expire}'")));
        assert!(Job::decode("send_receipt", r#"{"order_id":1}"#).is_err(), "unknown kind");
        assert!(Job::decode(&expire, r#"{"attempt_id":1}"#).is_err(), "payload of another kind");
        assert!(Job::decode(&expire, r#"{"order_id":1,"extra":2}"#).is_err(), "unknown field");
        assert!(Job::decode(&expire, "{}").is_err(), "missing field");
        assert!(Job::decode(&reconcile, r#"{"date":"20261130"}"#).is_err(), "not a date");
        assert!(Job::decode(&expire, "not json").is_err());
    }

    /// The migration that gave stored jobs their kinds and payloads.
    const MIGRATION_4: &str = include_str!("../../../store/src/migrations/0004_jobs.sql");
}
