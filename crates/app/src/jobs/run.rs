//! What each job does, and how its outcome is recorded.

use super::{Claimed, Job};
use crate::payment::{refund, settle};
use crate::{Context, ErrorKind};
use campuspay_channels::{ProviderStatus, RefundRequest, RefundStatus};
use campuspay_domain::Fen;
use campuspay_domain::order::{OrderEvent, OrderState, RefundState};
use campuspay_domain::settlement::ExceptionKind;
use campuspay_domain::time::{format_shanghai_date, shanghai_to_unix};
use campuspay_store::exceptions::NewException;
use campuspay_store::jobs::JobRow;

/// Seconds until the next query of an unpaid attempt: quick while a student is likely
/// watching, then backing off.
fn query_backoff(attempts: i64) -> i64 {
    match attempts {
        0..=4 => 3,
        5..=8 => 5,
        9..=12 => 15,
        13..=20 => 60,
        _ => 300,
    }
}

fn retry_backoff(attempts: i64) -> i64 {
    (1i64 << attempts.clamp(0, 8)).min(300)
}

/// `(y, m, d)` of a `yyyy-mm-dd` date.
pub(super) fn parse_date(date: &str) -> Option<(i64, u32, u32)> {
    let mut parts = date.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    shanghai_to_unix(y, m, d, 0, 0, 0).map(|_| (y, m, d))
}

/// Yesterday's statements are reconciled soon after start if nobody has yet; each run books
/// the next day's, for 10:00 the day after it (when providers publish statements).
pub(super) async fn schedule_reconcile(ctx: &Context) -> Result<(), crate::Error> {
    let now = ctx.clock.now();
    let yesterday = Job::Reconcile { date: format_shanghai_date(now - 86_400) };
    if !super::was_queued(ctx, &yesterday).await? {
        let mut tx = ctx.store.write_tx().await?;
        super::enqueue_at(ctx, &mut tx, &yesterday, now + 60).await?;
        tx.commit().await?;
    }
    Ok(())
}

enum Next {
    Done,
    Again(i64, String),
}

/// Runs one claimed job and records what came of it: done, again later, or failed (retried
/// with backoff). A job that does not decode is failed, never guessed at.
pub(super) async fn run(ctx: &Context, claimed: Claimed) {
    let Claimed { row, job, more } = claimed;
    if more.is_empty() {
        return run_one(ctx, row, job).await;
    }
    let first = match job {
        Ok(j) => j,
        // Only a decoded issuing job or delivery is claimed with others.
        Err(e) => return run_one(ctx, row, Err(e)).await,
    };
    let batch: Vec<(JobRow, Job)> = std::iter::once((row, first)).chain(more).collect();
    if batch.iter().all(|(_, j)| super::delivers(j)) {
        return deliver_together(ctx, batch).await;
    }
    if let Err(e) = issue_together(ctx, &batch).await {
        // One job's trouble must not hold back the others, nor hide whose it is: each runs
        // alone and records its own outcome.
        tracing::warn!(jobs = batch.len(), error = e.zh, "issuing a batch of receipts failed; issuing each alone");
        for (row, job) in batch {
            run_one(ctx, row, Ok(job)).await;
        }
    }
}

/// Sends a batch of receipt deliveries, all at once, and marks the sent ones done in one
/// transaction; one that failed records its own outcome, as it would alone.
async fn deliver_together(ctx: &Context, batch: Vec<(JobRow, Job)>) {
    let mut sending = tokio::task::JoinSet::new();
    for (row, job) in batch {
        let ctx = ctx.clone();
        sending.spawn(async move {
            let next = outcome(&ctx, &row, &job).await;
            (row, job, next)
        });
    }
    let mut sent = Vec::new();
    while let Some(done) = sending.join_next().await {
        match done {
            Ok((row, _, Ok(Next::Done))) => sent.push(row),
            Ok((row, job, next)) => record(ctx, row, Some(&job), next).await,
            // Its lease runs out and it is sent again: a panic is not a reason to lose it.
            Err(e) => tracing::error!(error = %e, "a receipt delivery panicked"),
        }
    }
    let finished = async {
        let mut tx = ctx.store.write_tx().await?;
        ctx.store.finish_jobs_in(&mut tx, &sent, ctx.clock.now()).await?;
        tx.commit().await
    };
    if let Err(e) = finished.await {
        // Their leases run out and they are sent again: a second message, never a lost one.
        tracing::error!(error = %e, jobs = sent.len(), "recording sent receipt deliveries");
    }
}

/// Issues the receipts of a batch of issuing jobs and marks the jobs done, in one transaction.
async fn issue_together(ctx: &Context, batch: &[(JobRow, Job)]) -> Result<(), crate::Error> {
    let items: Vec<_> = batch.iter().filter_map(|(_, j)| super::issues_for(j)).collect();
    if items.len() != batch.len() {
        return Err(crate::Error::internal());
    }
    let rows: Vec<JobRow> = batch.iter().map(|(r, _)| r.clone()).collect();
    let mut tx = ctx.store.write_tx().await?;
    crate::receipts::issue_batch(ctx, &mut tx, &items).await?;
    ctx.store.finish_jobs_in(&mut tx, &rows, ctx.clock.now()).await?;
    tx.commit().await?;
    Ok(())
}

/// Runs one job and records its outcome.
async fn run_one(ctx: &Context, row: JobRow, job: Result<Job, String>) {
    let next = match &job {
        Ok(job) => outcome(ctx, &row, job).await,
        Err(e) => Err(crate::Error::new(crate::ErrorKind::Internal, "undecodable_job", e.clone(), e.clone())),
    };
    record(ctx, row, job.as_ref().ok(), next).await
}

/// What running the job came to.
async fn outcome(ctx: &Context, row: &JobRow, job: &Job) -> Result<Next, crate::Error> {
    match job {
        Job::QueryAttempt { attempt_id } => query_attempt(ctx, *attempt_id, row.attempts).await,
        Job::ExpireOrder { order_id } => expire_order(ctx, *order_id).await,
        Job::CloseAttempt { attempt_id } => close_attempt(ctx, *attempt_id).await,
        Job::Refund { refund_id } => refund(ctx, *refund_id, row.attempts).await,
        Job::Reconcile { date } => reconcile(ctx, date, row.attempts).await,
        Job::IssueReceipt { order_id } => crate::receipts::issue_for_order(ctx, *order_id).await.map(|_| Next::Done),
        Job::IssueOfflineReceipt { offline_payment_id } => {
            crate::receipts::issue_for_offline(ctx, *offline_payment_id).await.map(|_| Next::Done)
        }
        Job::SmsReceipt { school_id, receipt_id } => {
            crate::receipts::deliver(ctx, *school_id, *receipt_id, crate::receipts::Delivery::Sms).await.map(|_| Next::Done)
        }
        Job::MailReceipt { school_id, receipt_id } => {
            crate::receipts::deliver(ctx, *school_id, *receipt_id, crate::receipts::Delivery::Mail).await.map(|_| Next::Done)
        }
        Job::Export { export_id } => crate::office::exports::run(ctx, *export_id, row.attempts).await.map(|_| Next::Done),
        Job::ExpireExport { export_id } => crate::office::exports::expire(ctx, *export_id).await.map(|_| Next::Done),
    }
}

/// Records what came of a job: done, again later, stopped for the office, or failed (retried
/// with backoff).
async fn record(ctx: &Context, row: JobRow, job: Option<&Job>, next: Result<Next, crate::Error>) {
    let now = ctx.clock.now();
    let result = match next {
        Ok(Next::Done) => ctx.store.finish_job(&row, now).await,
        Ok(Next::Again(at, why)) => ctx.store.retry_job(&row, at, &why, false).await,
        Err(e) if e.kind == ErrorKind::Misconfigured && stop(ctx, &row, job, &e).await => Ok(()),
        Err(e) => {
            tracing::warn!(job = row.id, kind = row.kind, payload = row.payload, error = e.zh, "job failed; will retry");
            ctx.store.retry_job(&row, now + retry_backoff(row.attempts), &e.zh, true).await
        }
    };
    if let Err(e) = result {
        tracing::error!(error = %e, job = row.id, "recording a job's outcome");
    }
}

/// Stops a job whose error retrying does not cure, and shows it to its school's office in the
/// exception queue (one open exception per school and cause: a missing receipt issuer stops
/// every issuing job, and is fixed once), where `retry` queues it again. Returns false when
/// it could not be stopped so (a job of no school, the database failing): it is retried with
/// backoff as any failure, and logged.
async fn stop(ctx: &Context, row: &JobRow, job: Option<&Job>, e: &crate::Error) -> bool {
    match stop_for_the_office(ctx, row, job, e).await {
        Ok(true) => {
            tracing::error!(
                job = row.id,
                kind = row.kind,
                payload = row.payload,
                error = e.zh,
                "job stopped; the office must fix the cause"
            );
            true
        }
        Ok(false) => {
            tracing::error!(job = row.id, kind = row.kind, error = e.zh, "a job failed for good but has no school to report to; retrying");
            false
        }
        Err(err) => {
            tracing::error!(error = %err, job = row.id, "stopping a job");
            false
        }
    }
}

async fn stop_for_the_office(ctx: &Context, row: &JobRow, job: Option<&Job>, e: &crate::Error) -> Result<bool, crate::Error> {
    let mut tx = ctx.store.write_tx().await?;
    // Only receipts' jobs fail so today; each knows its school.
    let school_id = match job {
        Some(Job::SmsReceipt { school_id, .. } | Job::MailReceipt { school_id, .. }) => Some(*school_id),
        Some(Job::IssueReceipt { order_id }) => ctx.store.order_by_id(*order_id).await?.map(|o| o.school_id),
        Some(Job::IssueOfflineReceipt { offline_payment_id }) => {
            ctx.store.offline_for_receipts(&mut tx, &[*offline_payment_id]).await?.first().map(|(_, o)| o.school_id)
        }
        _ => None,
    };
    let Some(school_id) = school_id else { return Ok(false) };
    let payload: serde_json::Value = serde_json::from_str(&row.payload).unwrap_or_default();
    let evidence = serde_json::json!({"job": row.kind, "payload": payload, "code": e.code, "error": e.zh, "error_en": e.en});
    let subject = format!("{}:job:{}", e.code, row.id);
    let exception = NewException {
        school_id,
        kind: ExceptionKind::ReceiptFailed,
        subject: &subject,
        student_id: None,
        provider_payment_id: None,
        refund_id: None,
        amount: Fen::ZERO,
        evidence: &evidence,
    };
    let id = ctx.store.open_exception_for(&mut tx, &exception, &format!("{}:", e.code)).await?;
    // Another run took the job over (its lease ran out): that run records the outcome.
    if ctx.store.stop_job(&mut tx, row, ctx.clock.now(), &e.zh, id).await? {
        tx.commit().await?;
    }
    Ok(true)
}

type JobResult = Result<Next, crate::Error>;

async fn query_attempt(ctx: &Context, attempt_id: i64, attempts: i64) -> JobResult {
    let Some(attempt) = ctx.store.attempt_by_id(attempt_id).await? else { return Ok(Next::Done) };
    let Some(order) = ctx.store.order_by_id(attempt.order_id).await? else { return Ok(Next::Done) };
    if order.status != OrderState::Unpaid || !attempt.status.may_take_money() {
        return Ok(Next::Done);
    }
    match settle::query_and_settle(ctx, &attempt).await? {
        Some(ProviderStatus::Paid { .. } | ProviderStatus::Refunded { .. } | ProviderStatus::Closed | ProviderStatus::Failed { .. })
        | None => Ok(Next::Done),
        // Not paid yet: ask again until the order's deadline (its expiry job takes over then).
        Some(_) if ctx.clock.now() > order.expires_at => Ok(Next::Done),
        Some(_) => Ok(Next::Again(ctx.clock.now() + query_backoff(attempts), "not paid yet".into())),
    }
}

async fn reconcile(ctx: &Context, date: &str, attempts: i64) -> JobResult {
    let report = crate::payment::reconcile::reconcile_day(ctx, date).await?;
    if !report.failures.is_empty() && attempts < 12 {
        return Ok(Next::Again(ctx.clock.now() + 1800, format!("{} statements unavailable", report.failures.len())));
    }
    // Decoding checked the date; noon of the next day is in the next day whatever the zone.
    let (y, m, d) = parse_date(date).unwrap_or_default();
    let noon = shanghai_to_unix(y, m, d, 12, 0, 0).unwrap_or(ctx.clock.now());
    let next_day = format_shanghai_date(noon + 86_400);
    // Statements of a day are published the morning after it: 10:00 of the day after next_day.
    let run_at = parse_date(&next_day)
        .and_then(|(ny, nm, nd)| shanghai_to_unix(ny, nm, nd, 10, 0, 0))
        .map(|t| t + 86_400)
        .unwrap_or(ctx.clock.now() + 86_400);
    let next = Job::Reconcile { date: next_day };
    if !super::was_queued(ctx, &next).await? {
        let mut tx = ctx.store.write_tx().await?;
        super::enqueue_at(ctx, &mut tx, &next, run_at).await?;
        tx.commit().await?;
    }
    Ok(Next::Done)
}

async fn expire_order(ctx: &Context, order_id: i64) -> JobResult {
    let Some(order) = ctx.store.order_by_id(order_id).await? else { return Ok(Next::Done) };
    if order.status != OrderState::Unpaid {
        return Ok(Next::Done);
    }
    let t = ctx.clock.now();
    if t < order.expires_at {
        return Ok(Next::Again(order.expires_at, "not due".into()));
    }
    settle::end_unpaid(ctx, order.id, OrderEvent::Expire { now: t }).await?;
    Ok(Next::Done)
}

async fn close_attempt(ctx: &Context, attempt_id: i64) -> JobResult {
    let Some(attempt) = ctx.store.attempt_by_id(attempt_id).await? else { return Ok(Next::Done) };
    if !attempt.status.may_take_money() {
        return Ok(Next::Done);
    }
    match settle::close_attempt(ctx, &attempt).await? {
        settle::Closing::Closed => Ok(Next::Done),
        // It lapses at the provider by itself; until then ask now and then, which also
        // settles money that came meanwhile.
        settle::Closing::Unclosable => {
            Ok(Next::Again(ctx.clock.now() + 1800, "the provider cannot close it; waiting for its timeout".into()))
        }
    }
}

async fn refund(ctx: &Context, refund_id: i64, attempts: i64) -> JobResult {
    let Some(r) = ctx.store.refund(refund_id).await? else { return Ok(Next::Done) };
    if r.status.is_final() {
        return Ok(Next::Done);
    }
    let Some(attempt) = ctx.store.attempt_by_id(r.attempt_id).await? else { return Ok(Next::Done) };
    let Some(channel) = ctx.channels.for_attempt(&attempt) else {
        return Ok(Next::Again(ctx.clock.now() + 300, "channel not configured".into()));
    };
    let reason =
        if r.office_refund_id.is_some() { "学校财务退款，原路退回" } else { "订单已关闭或重复支付，原路退回" };
    let req = RefundRequest {
        out_trade_no: r.out_trade_no.clone(),
        out_refund_no: r.out_refund_no.clone(),
        refund: r.amount,
        // The transaction's own amount: a partial refund names the whole it is part of.
        total: r.paid_amount,
        reason: Some(reason.into()),
    };
    if !r.reference.is_empty() {
        // Another instance, or this one before a restart, sent it: the provider finds it by this.
        channel.restore_order_reference(&r.out_refund_no, &r.reference);
    }
    let result = channel.refund(&req).await;
    if let Some(reference) = channel.order_reference(&r.out_refund_no)
        && reference != r.reference
    {
        let mut tx = ctx.store.write_tx().await?;
        ctx.store.set_refund_reference(&mut tx, r.id, &reference).await?;
        tx.commit().await?;
    }
    match result {
        Ok(res) => match res.status {
            RefundStatus::Success => {
                refund::record_outcome(ctx, &r, RefundState::Success, "SUCCESS").await?;
                tracing::info!(out_refund_no = r.out_refund_no, amount = r.amount.0, "refund done");
                Ok(Next::Done)
            }
            RefundStatus::Processing => {
                refund::record_outcome(ctx, &r, RefundState::Processing, "PROCESSING").await?;
                // Asked again (the same out_refund_no never refunds twice) until it ends.
                Ok(Next::Again(ctx.clock.now() + refund_backoff(attempts), "refund processing".into()))
            }
            // Needs a person: it goes to the office's exception queue.
            RefundStatus::Closed | RefundStatus::Abnormal => {
                refund::record_outcome(ctx, &r, RefundState::Failed, &format!("{:?}", res.status)).await?;
                tracing::error!(out_refund_no = r.out_refund_no, "refund failed at the provider; needs the finance office");
                Ok(Next::Done)
            }
        },
        // A definite refusal (PARAM_ERROR, amount over what is left, …) will not change by
        // asking again: it goes to a person instead of being retried forever.
        Err(e) if !e.is_retryable() => {
            refund::record_outcome(ctx, &r, RefundState::Failed, &e.to_string()).await?;
            tracing::error!(out_refund_no = r.out_refund_no, error = %e, "refund refused by the provider; needs the finance office");
            Ok(Next::Done)
        }
        Err(e) => Ok(Next::Again(ctx.clock.now() + retry_backoff(attempts), e.to_string())),
    }
}

/// Seconds until a processing refund is asked about again: soon at first (most finish in
/// seconds), then backing off.
fn refund_backoff(attempts: i64) -> i64 {
    match attempts {
        0..=5 => 2,
        6..=10 => 10,
        11..=20 => 60,
        _ => 300,
    }
}
