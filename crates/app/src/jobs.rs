//! The background worker: provider queries, order expiry, closing superseded attempts,
//! refunds. Jobs live in the database, so any instance may run them and none is lost.

use crate::Context;
use crate::payment::settle;
use campuspay_channels::{ProviderStatus, RefundRequest, RefundStatus};
use campuspay_domain::order::{OrderEvent, OrderState, RefundState};
use campuspay_domain::time::shanghai_parts;
use campuspay_domain::{Fen, LedgerKind};
use campuspay_store::StoreError;
use campuspay_store::charges::NewLedgerEntry;
use campuspay_store::db_now as now;
use campuspay_store::jobs::Job;
use campuspay_store::payments::RefundRow;
use std::time::Duration;

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

/// `yyyymmdd` of a Shanghai date, the reference of its reconciliation job.
fn day_ref(unix_s: i64) -> i64 {
    let (y, m, d, ..) = shanghai_parts(unix_s);
    y * 10_000 + i64::from(m) * 100 + i64::from(d)
}

fn day_of_ref(r: i64) -> (i64, u32, u32) {
    (r / 10_000, ((r / 100) % 100) as u32, (r % 100) as u32)
}

/// Yesterday's statements are reconciled soon after start if nobody has yet; each run books
/// the next day's, for 10:00 the day after it (when providers publish statements).
async fn schedule_reconcile(ctx: &Context) -> Result<(), crate::Error> {
    let yesterday = day_ref(now() - 86_400);
    if !ctx.store.has_job("reconcile", yesterday).await? {
        let mut tx = ctx.store.write_tx().await?;
        ctx.store.enqueue_job(&mut tx, "reconcile", yesterday, now() + 60).await?;
        tx.commit().await?;
    }
    Ok(())
}

pub fn spawn_worker(ctx: Context) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(e) = schedule_reconcile(&ctx).await {
            tracing::error!(error = e.zh, "scheduling reconciliation");
        }
        loop {
            match ctx.store.claim_job().await {
                Ok(Some(job)) => run(&ctx, job).await,
                Ok(None) => tokio::time::sleep(Duration::from_millis(250)).await,
                Err(e) => {
                    tracing::error!(error = %e, "claiming a job");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    })
}

enum Next {
    Done,
    Again(i64, String),
}

async fn run(ctx: &Context, job: Job) {
    let next = match job.kind.as_str() {
        "query_attempt" => query_attempt(ctx, &job).await,
        "expire_order" => expire_order(ctx, &job).await,
        "close_attempt" => close_attempt(ctx, &job).await,
        "refund" => refund(ctx, &job).await,
        "reconcile" => reconcile(ctx, &job).await,
        other => {
            tracing::error!(kind = other, "unknown job kind");
            Ok(Next::Done)
        }
    };
    let result = match next {
        Ok(Next::Done) => ctx.store.finish_job(&job).await,
        Ok(Next::Again(at, why)) => ctx.store.retry_job(&job, at, &why).await,
        Err(e) => {
            tracing::warn!(job = job.id, kind = job.kind, error = e.zh, "job failed; will retry");
            ctx.store.retry_job(&job, now() + retry_backoff(job.attempts), &e.zh).await
        }
    };
    if let Err(e) = result {
        tracing::error!(error = %e, job = job.id, "recording a job's outcome");
    }
}

type JobResult = Result<Next, crate::Error>;

async fn query_attempt(ctx: &Context, job: &Job) -> JobResult {
    let Some(attempt) = ctx.store.attempt_by_id(job.ref_id).await? else { return Ok(Next::Done) };
    let Some(order) = ctx.store.order_by_id(attempt.order_id).await? else { return Ok(Next::Done) };
    if order.status != OrderState::Unpaid || !attempt.status.may_take_money() {
        return Ok(Next::Done);
    }
    match settle::query_and_settle(ctx, &attempt).await? {
        Some(ProviderStatus::Paid { .. } | ProviderStatus::Refunded { .. } | ProviderStatus::Closed | ProviderStatus::Failed { .. })
        | None => Ok(Next::Done),
        // Not paid yet: ask again until the order's deadline (its expiry job takes over then).
        Some(_) if now() > order.expires_at => Ok(Next::Done),
        Some(_) => Ok(Next::Again(now() + query_backoff(job.attempts), "not paid yet".into())),
    }
}

async fn reconcile(ctx: &Context, job: &Job) -> JobResult {
    let (y, m, d) = day_of_ref(job.ref_id);
    let report = crate::payment::reconcile::reconcile_day(ctx, &format!("{y:04}-{m:02}-{d:02}")).await?;
    if !report.failures.is_empty() && job.attempts < 12 {
        return Ok(Next::Again(now() + 1800, format!("{} statements unavailable", report.failures.len())));
    }
    let next_day = day_ref(campuspay_domain::time::shanghai_to_unix(y, m, d, 12, 0, 0).unwrap_or(now()) + 86_400);
    let (ny, nm, nd) = day_of_ref(next_day);
    let run_at = campuspay_domain::time::shanghai_to_unix(ny, nm, nd, 10, 0, 0).map(|t| t + 86_400).unwrap_or(now() + 86_400);
    if !ctx.store.has_job("reconcile", next_day).await? {
        let mut tx = ctx.store.write_tx().await?;
        ctx.store.enqueue_job(&mut tx, "reconcile", next_day, run_at).await?;
        tx.commit().await?;
    }
    Ok(Next::Done)
}

async fn expire_order(ctx: &Context, job: &Job) -> JobResult {
    let Some(order) = ctx.store.order_by_id(job.ref_id).await? else { return Ok(Next::Done) };
    if order.status != OrderState::Unpaid {
        return Ok(Next::Done);
    }
    let t = now();
    if t < order.expires_at {
        return Ok(Next::Again(order.expires_at, "not due".into()));
    }
    settle::end_unpaid(ctx, order.id, OrderEvent::Expire { now: t }).await?;
    Ok(Next::Done)
}

async fn close_attempt(ctx: &Context, job: &Job) -> JobResult {
    let Some(attempt) = ctx.store.attempt_by_id(job.ref_id).await? else { return Ok(Next::Done) };
    if !attempt.status.may_take_money() {
        return Ok(Next::Done);
    }
    settle::close_attempt(ctx, &attempt).await?;
    Ok(Next::Done)
}

async fn refund(ctx: &Context, job: &Job) -> JobResult {
    let Some(r) = ctx.store.refund(job.ref_id).await? else { return Ok(Next::Done) };
    if r.status.is_final() {
        return Ok(Next::Done);
    }
    let Some(attempt) = ctx.store.attempt_by_id(r.attempt_id).await? else { return Ok(Next::Done) };
    let Some(channel) = ctx.channels.for_attempt(&attempt) else {
        return Ok(Next::Again(now() + 300, "channel not configured".into()));
    };
    let req = RefundRequest {
        out_trade_no: r.out_trade_no.clone(),
        out_refund_no: r.out_refund_no.clone(),
        refund: r.amount,
        total: r.amount,
        reason: Some("订单已关闭或重复支付，原路退回".into()),
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
                finish_refund(ctx, &r, RefundState::Success).await?;
                tracing::info!(out_refund_no = r.out_refund_no, amount = r.amount.0, "refund done");
                Ok(Next::Done)
            }
            RefundStatus::Processing => {
                finish_refund(ctx, &r, RefundState::Processing).await?;
                Ok(Next::Again(now() + 30, "refund processing".into()))
            }
            // Needs a person: the finance office sees it among refunds that did not finish.
            RefundStatus::Closed | RefundStatus::Abnormal => {
                finish_refund(ctx, &r, RefundState::Failed).await?;
                tracing::error!(out_refund_no = r.out_refund_no, "refund failed at the provider; needs the finance office");
                Ok(Next::Done)
            }
        },
        Err(e) => Ok(Next::Again(now() + retry_backoff(job.attempts), e.to_string())),
    }
}

/// Records what the provider said of a refund; a success also writes the money leaving, in
/// the same transaction. A refund another run finished first is `Stale`: nothing is written,
/// so the money leaves the books once however often the job runs.
async fn finish_refund(ctx: &crate::Context, r: &RefundRow, to: RefundState) -> Result<(), crate::Error> {
    let mut tx = ctx.store.write_tx().await?;
    match ctx.store.set_refund_status(&mut tx, r.id, to).await {
        Ok(()) => {}
        Err(StoreError::Stale(_)) => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    if to == RefundState::Success {
        let entry = NewLedgerEntry {
            school_id: r.school_id,
            student_id: r.student_id,
            charge_id: None,
            kind: LedgerKind::Refund,
            amount: Fen(-r.amount.0),
            reference: &r.out_refund_no,
            memo: "退款已退回原支付账户",
        };
        ctx.store.insert_ledger_entry(&mut tx, &entry).await?;
    }
    Ok(tx.commit().await?)
}
