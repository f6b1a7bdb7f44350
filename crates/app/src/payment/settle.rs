//! Settling money: what a provider's "paid" does to an order, exactly once; closing orders.
//!
//! Every path that learns of money (notification, query, statement) ends in [`settle_paid`],
//! which runs `domain::order::decide` inside one database transaction holding the order, and
//! records the transaction under a unique (provider, txn id) key.

use super::settler::Outcome;
use crate::Context;
use crate::error::{Error, ErrorKind};
use crate::jobs::{self, Job};
use campuspay_channels::{ChannelError, ProviderStatus};
use campuspay_domain::order::{AttemptState, Disposition, Effect, Order, OrderEvent, OrderState, PaidSource, TxnKey, decide};
use campuspay_domain::{Fen, LedgerKind};
use campuspay_store::charges::NewLedgerEntry;
use campuspay_store::orders::{AttemptRow, OrderRow};
use campuspay_store::payments::{NewProviderPayment, SettledTxn};
use campuspay_store::schools::School;
use campuspay_store::settling::{AppliedPayment, KeptNotice, Settling};
use campuspay_store::{On, Store, StoreError, WriteTx, db_now as now};
use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    Applied,
    Refunding,
    Credited,
    Duplicate,
    Nothing,
}

impl Settled {
    /// What became of the notification that brought the money, as kept with it.
    pub fn outcome(self) -> &'static str {
        match self {
            Settled::Applied => Disposition::Applied.as_str(),
            Settled::Refunding => "late: refunding",
            Settled::Credited => "late: credited",
            Settled::Duplicate => "duplicate",
            Settled::Nothing => "nothing",
        }
    }
}

/// The order as the domain decides on it, and the transactions already settled for it.
fn domain_order(order: &OrderRow, settled: &[SettledTxn]) -> (Order, BTreeSet<TxnKey>) {
    let key = |s: &SettledTxn| TxnKey { channel: s.provider.to_string(), txn_id: s.txn_id.clone() };
    let paid_by = settled.iter().find(|s| s.disposition == Disposition::Applied).map(key);
    let keys = settled.iter().map(key).collect();
    // The stored status was decoded strictly: an unknown one failed the read already.
    (Order { state: order.status, amount: order.total, deadline: order.expires_at, paid_by }, keys)
}

/// Settles one provider transaction for the attempt's order.
#[tracing::instrument(name = "settle_paid", skip_all, fields(out_trade_no = attempt.out_trade_no, txn_id = txn_id, amount = amount.0, ?source))]
pub async fn settle_paid(
    ctx: &Context,
    attempt: &AttemptRow,
    txn_id: &str,
    amount: Fen,
    paid_at: &str,
    source: PaidSource,
) -> Result<Settled, Error> {
    settle_paid_noting(ctx, attempt, txn_id, amount, paid_at, source, None).await.map(|(s, _)| s)
}

/// A verified notification as it arrived, to be kept with what became of it.
pub struct NoticeRecord<'a> {
    pub provider: &'a str,
    pub school_code: &'a str,
    pub headers: &'a str,
    pub body: &'a str,
}

/// [`settle_paid`] for a verified notification: it is kept, with its outcome, in the
/// settlement's own transaction — one commit for each notification at the busiest moment, and
/// never a kept notification whose settlement is missing (if the settlement rolls back, the
/// provider is asked to retry). Answers whether it was kept (not when another writer settled
/// the money first and this transaction was given up, which leaves the caller to keep it).
#[allow(clippy::too_many_arguments)]
pub async fn settle_paid_noting(
    ctx: &Context,
    attempt: &AttemptRow,
    txn_id: &str,
    amount: Fen,
    paid_at: &str,
    source: PaidSource,
    notification: Option<&NoticeRecord<'_>>,
) -> Result<(Settled, bool), Error> {
    let provider = attempt.channel.provider();
    let school = ctx.schools.by_id(&ctx.store, attempt.school_id).await?.ok_or_else(Error::unknown_school)?;
    let p = Payment {
        attempt: attempt.clone(),
        txn_id: txn_id.to_string(),
        amount,
        paid_at: paid_at.to_string(),
        source,
        notification: notification.map(|n| Notice {
            provider: n.provider.to_string(),
            school_code: n.school_code.to_string(),
            headers: n.headers.to_string(),
            body: n.body.to_string(),
        }),
        jobs_now: ctx.clock.now(),
    };
    if let Some(settled) = settle_unheld(ctx, &school, &p).await? {
        return Ok(settled);
    }
    let mut tx = ctx.store.write_tx().await?;
    // One round trip on SQLite: the order, what was settled for it, and its attempts.
    let Settling { order, settled, attempts } = ctx.store.lock_for_settling(&mut tx, attempt.order_id).await?;
    let (current, settled) = domain_order(&order, &settled);
    let txn = TxnKey { channel: provider.to_string(), txn_id: txn_id.to_string() };
    let outcome = decide(&current, &settled, &OrderEvent::ProviderPaid { txn: txn.clone(), amount, source }, school.policy.late_payment)
        .map_err(|_| Error::internal())?;
    let mut result = Settled::Nothing;
    let mut noted = false;
    for effect in &outcome.effects {
        let (disposition, reason) = match effect {
            Effect::ApplyPayment { .. } => {
                // The order is held and was unpaid, so it cannot be stale here; the attempt
                // may be open, superseded or even closed (a close can race the payment): all
                // may become paid. Already paid would mean the books disagree with themselves:
                // `Stale` rolls everything back and no money moves.
                match apply(&ctx.store, &mut tx, &order, attempts.len(), &p, None).await {
                    Ok(()) => {}
                    // Settled meanwhile by another instance or request: nothing more to do.
                    Err(StoreError::Conflict(_)) => return Ok((Settled::Duplicate, false)),
                    Err(e) => return Err(e.into()),
                }
                noted = notification.is_some();
                result = Settled::Applied;
                continue;
            }
            Effect::Refund { .. } | Effect::Credit { .. } => effect.disposition().ok_or_else(Error::internal)?,
            Effect::CloseOpenAttempts => {
                for a in &attempts {
                    if a.id != attempt.id && a.status.may_take_money() {
                        supersede(ctx, &mut tx, a).await?;
                    }
                }
                continue;
            }
            Effect::Ignore { .. } => {
                if result == Settled::Nothing {
                    result = Settled::Duplicate;
                }
                continue;
            }
        };
        let pp = NewProviderPayment {
            school_id: order.school_id,
            order_id: order.id,
            attempt_id: Some(attempt.id),
            provider,
            channel: attempt.channel,
            txn_id,
            amount,
            source,
            disposition,
            reason,
            paid_at,
        };
        let pp_id = match ctx.store.insert_provider_payment(&mut tx, &pp).await {
            Ok(id) => id,
            // Settled meanwhile by another instance or request: nothing more to do.
            Err(StoreError::Conflict(_)) => return Ok((Settled::Duplicate, false)),
            Err(e) => return Err(e.into()),
        };
        let entry = |charge_id, kind, amount, memo| NewLedgerEntry {
            school_id: order.school_id,
            student_id: order.student_id,
            charge_id,
            kind,
            amount,
            reference: txn_id,
            memo,
        };
        match effect {
            Effect::Refund { .. } => {
                took_money(ctx, &mut tx, attempt.id).await?;
                ctx.store
                    .insert_ledger_entry(&mut tx, &entry(None, LedgerKind::UnappliedReceipt, amount, "订单已关闭或已支付，款项将原路退回"))
                    .await?;
                let refund_id = ctx
                    .store
                    .insert_refund(&mut tx, order.school_id, pp_id, &format!("RF{pp_id:010}"), amount, reason.ok_or_else(Error::internal)?)
                    .await?;
                jobs::enqueue(ctx, &mut tx, &Job::Refund { refund_id }).await?;
                result = Settled::Refunding;
            }
            Effect::Credit { .. } => {
                took_money(ctx, &mut tx, attempt.id).await?;
                ctx.store
                    .insert_ledger_entry(&mut tx, &entry(None, LedgerKind::Credit, amount, "订单已关闭或已支付，款项已转入余额"))
                    .await?;
                result = Settled::Credited;
            }
            _ => {}
        }
    }
    if let Some(n) = notification.filter(|_| !noted) {
        ctx.store.record_notification(&mut tx, n.provider, n.school_code, n.headers, n.body, result.outcome()).await?;
    }
    tx.commit().await?;
    if result != Settled::Duplicate && result != Settled::Nothing {
        tracing::info!(order_no = order.order_no, txn_id, ?result, ?source, "payment settled");
    }
    Ok((result, notification.is_some()))
}

/// A provider transaction to settle, as the paths that learn of money bring it (owned: the
/// settler writes it in its own task).
#[derive(Clone)]
pub(super) struct Payment {
    attempt: AttemptRow,
    txn_id: String,
    amount: Fen,
    paid_at: String,
    source: PaidSource,
    notification: Option<Notice>,
    /// The jobs' clock when the money arrived: when the receipt's job is due.
    jobs_now: i64,
}

/// A verified notification as kept.
#[derive(Clone)]
struct Notice {
    provider: String,
    school_code: String,
    headers: String,
    body: String,
}

/// Money for an unpaid order — nearly every payment at the start of term — settled without
/// holding the order while deciding: read, decide with the domain's rules, and hand the write
/// to the settler (`settler`: written with whatever else is waiting, in one transaction), which
/// writes it only if the order is still as read (unpaid, the same attempts). On SQLite that
/// holds the one writer for one round trip, where the held path holds it across the reads and
/// the decision too. `None` when the decision is anything else, another attempt may still take
/// money, or the order moved: the held path decides again, holding it.
async fn settle_unheld(ctx: &Context, school: &School, p: &Payment) -> Result<Option<(Settled, bool)>, Error> {
    let Some(view) = ctx.store.settling_view(p.attempt.order_id).await? else { return Ok(None) };
    let (current, settled) = domain_order(&view.order, &view.settled);
    let txn = TxnKey { channel: p.attempt.channel.provider().to_string(), txn_id: p.txn_id.clone() };
    let event = OrderEvent::ProviderPaid { txn, amount: p.amount, source: p.source };
    let Ok(outcome) = decide(&current, &settled, &event, school.policy.late_payment) else { return Ok(None) };
    let applies = outcome.effects.iter().any(|e| matches!(e, Effect::ApplyPayment { .. }))
        && outcome.effects.iter().all(|e| matches!(e, Effect::ApplyPayment { .. } | Effect::CloseOpenAttempts));
    let others_open = view.attempts.iter().any(|a| a.id != p.attempt.id && a.status.may_take_money());
    if !applies || others_open {
        return Ok(None);
    }
    let order_no = view.order.order_no.clone();
    match ctx.settler.write(&ctx.store, view.order, view.attempts.len(), p.clone()).await {
        Some(Outcome::Applied) => {
            tracing::info!(order_no, txn_id = p.txn_id, result = ?Settled::Applied, source = ?p.source, "payment settled");
            Ok(Some((Settled::Applied, p.notification.is_some())))
        }
        // Settled meanwhile by another instance or request: nothing more to do.
        Some(Outcome::Conflict) => Ok(Some((Settled::Duplicate, false))),
        // Moved since it was read, or not written (the settler is gone or its batch failed).
        Some(Outcome::Unwritten) | None => Ok(None),
    }
}

/// Writes money applied to its unpaid order (`store::settling`), with the receipt's job and the
/// notification that brought it, in one round trip; inside `savepoint` when it shares its
/// transaction with other settlements.
pub(super) async fn apply(
    store: &Store,
    tx: &mut WriteTx,
    order: &OrderRow,
    attempts_seen: usize,
    p: &Payment,
    savepoint: Option<&str>,
) -> Result<(), StoreError> {
    let job = Job::IssueReceipt { order_id: order.id };
    let (kind, payload) = job.encode();
    let applied = AppliedPayment {
        school_id: order.school_id,
        student_id: order.student_id,
        order_id: order.id,
        attempt_id: p.attempt.id,
        provider: p.attempt.channel.provider(),
        channel: p.attempt.channel,
        txn_id: &p.txn_id,
        amount: p.amount,
        source: p.source,
        paid_at: &p.paid_at,
        // The receipt is owed from the moment the money is applied: queued in the same
        // transaction, so no applied payment is ever left without one.
        receipt_job: (&kind, &payload, job.queue().as_str(), p.jobs_now),
        attempts_seen,
        savepoint,
        notice: p.notification.as_ref().map(|n| KeptNotice {
            provider: &n.provider,
            school_code: &n.school_code,
            headers: &n.headers,
            body: &n.body,
            outcome: Settled::Applied.outcome(),
        }),
    };
    store.apply_payment(tx, &applied).await
}

/// Records that an attempt took money that could not pay its order (late, a second payment, a
/// wrong amount): the attempt was paid, whatever became of the money. One already paid (two
/// late transactions on one trade) is `Stale`, and stays paid.
async fn took_money(ctx: &Context, tx: &mut WriteTx, attempt_id: i64) -> Result<(), Error> {
    match ctx.store.set_attempt_status(tx, attempt_id, AttemptState::Paid).await {
        Ok(()) | Err(StoreError::Stale(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Asks the provider about an attempt and settles what it says was paid.
pub async fn query_and_settle(ctx: &Context, attempt: &AttemptRow) -> Result<Option<ProviderStatus>, Error> {
    let Some(channel) = ctx.channels.for_attempt(attempt) else {
        return Ok(None);
    };
    let status = channel.query(&attempt.out_trade_no).await.map_err(|e| {
        tracing::warn!(error = %e, out_trade_no = attempt.out_trade_no, "provider query failed");
        Error::new(ErrorKind::Upstream, "channel_query_failed", "支付渠道查询失败", "The channel did not answer")
    })?;
    match &status {
        ProviderStatus::Paid { transaction_id, amount, paid_at } => {
            settle_paid(ctx, attempt, transaction_id, *amount, paid_at.as_deref().unwrap_or(""), PaidSource::Query).await?;
        }
        // Refunded at the provider before we ever settled it (e.g. from the merchant console):
        // the money went back to the payer, so it must not pay the order. Left for the office.
        ProviderStatus::Refunded { transaction_id, amount }
            if !ctx.store.txn_settled(attempt.channel.provider(), transaction_id).await? =>
        {
            tracing::warn!(
                out_trade_no = attempt.out_trade_no,
                transaction_id,
                amount = amount.0,
                "refunded at the provider, never settled here"
            );
        }
        _ => {}
    }
    Ok(Some(status))
}

/// How long a provider create may take before an attempt without its answer counts as failed.
pub const CREATE_GRACE_S: i64 = 60;

/// Marks an open attempt superseded and books the job that closes it at its provider. One
/// already superseded only gets the job again. One that moved meanwhile (a close or a payment
/// that committed since it was read) is `Stale`: it needs no closing, so nothing is done.
pub(crate) async fn supersede(ctx: &Context, tx: &mut WriteTx, a: &AttemptRow) -> Result<(), Error> {
    if a.status == AttemptState::Open {
        match ctx.store.set_attempt_status(tx, a.id, AttemptState::Superseded).await {
            Ok(()) => {}
            Err(StoreError::Stale(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
    jobs::enqueue(ctx, tx, &Job::CloseAttempt { attempt_id: a.id }).await?;
    Ok(())
}

/// Marks an attempt closed. Already closed, or paid meanwhile (the close raced a payment, which
/// `Paid` records as a fact), is `Stale`, and fine: there is nothing left to close.
async fn mark_closed(ctx: &Context, tx: &mut WriteTx, id: i64) -> Result<(), Error> {
    match ctx.store.set_attempt_status(tx, id, AttemptState::Closed).await {
        Ok(()) | Err(StoreError::Stale(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Closes an unpaid order (expiry or cancellation): first its attempts at the providers, so no
/// more money can come; money that came meanwhile is settled before the order closes.
#[tracing::instrument(name = "end_unpaid", skip(ctx))]
pub async fn end_unpaid(ctx: &Context, order_id: i64, event: OrderEvent) -> Result<(), Error> {
    let order = ctx.store.order_by_id(order_id).await?.ok_or_else(Error::not_found)?;
    if order.status != OrderState::Unpaid {
        return match (&event, order.status) {
            (OrderEvent::Cancel, OrderState::Paid | OrderState::Refunded) => Err(Error::new(
                ErrorKind::Conflict,
                "order_paid",
                "订单已支付，无法取消",
                "The order is paid and can no longer be cancelled",
            )),
            _ => Ok(()),
        };
    }
    if let OrderEvent::Expire { now: t } = event
        && t < order.expires_at
    {
        return Ok(());
    }
    let mut closed = Vec::new();
    for a in ctx.store.attempts_of_order(On::Pool, order.id).await? {
        if !a.status.may_take_money() {
            continue;
        }
        // A trade the provider cannot close (UnionPay's unpaid QR) does not keep the order
        // alive: it ends here, the attempt stays superseded with its close job asking until
        // the provider's own timeout, and money that still comes is settled as late money.
        if close_attempt(ctx, &a).await? == Closing::Closed {
            closed.push(a.id);
        }
    }
    let school = ctx.schools.by_id(&ctx.store, order.school_id).await?.ok_or_else(Error::unknown_school)?;
    let mut tx = ctx.store.write_tx().await?;
    let Settling { order: locked, settled, .. } = ctx.store.lock_for_settling(&mut tx, order.id).await?;
    let (current, settled) = domain_order(&locked, &settled);
    let outcome = decide(&current, &settled, &event, school.policy.late_payment)
        .map_err(|e| Error::new(ErrorKind::Conflict, "order_paid", e.to_string(), e.message_en()))?;
    if outcome.order.state != current.state {
        // Locked and decided on under the lock: the order is still unpaid, never stale here.
        ctx.store.end_order(&mut tx, order.id, outcome.order.state).await?;
        // What the balance put in goes back to it.
        for line in ctx.store.order_lines(On::Tx(&mut tx), order.id).await?.iter().filter(|l| l.balance.is_positive()) {
            let back = NewLedgerEntry {
                school_id: locked.school_id,
                student_id: locked.student_id,
                charge_id: Some(line.charge_id),
                kind: LedgerKind::BalanceUse,
                amount: Fen(-line.balance.0),
                reference: &locked.order_no,
                memo: "订单关闭，余额退回",
            };
            ctx.store.insert_ledger_entry(&mut tx, &back).await?;
        }
        for a in ctx.store.attempts_of_order(On::Tx(&mut tx), order.id).await? {
            if !a.status.may_take_money() {
                continue;
            }
            if closed.contains(&a.id) {
                mark_closed(ctx, &mut tx, a.id).await?;
            } else {
                // Started after we closed the others (a payment racing the cancel): close it
                // at its provider too, before anyone can pay it.
                supersede(ctx, &mut tx, &a).await?;
            }
        }
    }
    tx.commit().await?;
    Ok(())
}

/// What became of closing an attempt at its provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    /// Closed, paid, or nothing there: no more money can come through it.
    Closed,
    /// The provider cannot close an unpaid trade (UnionPay: it lapses at `payTimeout`): money
    /// may still come until then, and is settled as late money if it does.
    Unclosable,
}

/// Closes one attempt at its provider. A provider that refuses because the trade was paid is
/// asked, and the payment settled: money is never left behind a closed attempt.
pub async fn close_attempt(ctx: &Context, a: &AttemptRow) -> Result<Closing, Error> {
    let Some(channel) = ctx.channels.for_attempt(a) else {
        return Ok(Closing::Closed);
    };
    if a.action.is_empty() {
        if now() - a.created_at < CREATE_GRACE_S {
            // Its create may still be on the way to the provider: closing now could leave a
            // live trade behind. The caller tries again shortly.
            return Err(Error::new(
                ErrorKind::Unavailable,
                "attempt_in_flight",
                "支付渠道正在下单，请稍后再试",
                "A payment is being started; try again in a moment",
            ));
        }
        // Its create failed long ago: nothing at the provider to close.
        let mut tx = ctx.store.write_tx().await?;
        mark_closed(ctx, &mut tx, a.id).await?;
        tx.commit().await?;
        return Ok(Closing::Closed);
    }
    match channel.close(&a.out_trade_no).await {
        Ok(()) => {
            // Paid just before the close? The query says.
            query_and_settle(ctx, a).await?;
            let fresh = ctx.store.attempt_by_id(a.id).await?;
            if fresh.is_some_and(|f| f.status != AttemptState::Paid) {
                let mut tx = ctx.store.write_tx().await?;
                mark_closed(ctx, &mut tx, a.id).await?;
                tx.commit().await?;
            }
            Ok(Closing::Closed)
        }
        Err(e) => {
            let unsupported = matches!(e, ChannelError::Unsupported(_));
            tracing::info!(error = %e, out_trade_no = a.out_trade_no, "close refused; asking the provider");
            match query_and_settle(ctx, a).await? {
                Some(ProviderStatus::Paid { .. }) | Some(ProviderStatus::Closed) | Some(ProviderStatus::NotFound) => Ok(Closing::Closed),
                Some(ProviderStatus::NotPaid | ProviderStatus::Paying) if unsupported => Ok(Closing::Unclosable),
                _ => Err(Error::new(
                    ErrorKind::Upstream,
                    "channel_close_failed",
                    "支付渠道关闭订单失败",
                    "The channel did not close the order",
                )),
            }
        }
    }
}
