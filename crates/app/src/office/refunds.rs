//! 退款: the office gives money back, in full or in part, per order line, with a reason.
//!
//! Online money goes back through the provider that took it: the request writes an office
//! refund and a provider refund row and queues `Job::Refund`; the money leaves the books (as
//! `refund` ledger rows on the charges) only when the provider confirms, in
//! [`on_refund_confirmed`]. Money taken at the counter is refunded by the office itself, so
//! its ledger rows are written at once. Above the school's approval threshold a refund waits
//! for a second person with `approve_adjustments` (maker–checker, as adjustments do).
//!
//! Two refunds of one payment cannot race past what was paid: the student is locked, and the
//! database's partial unique index allows one live refund per payment.

use super::{Audited, Staff, audit};
use crate::jobs::{self, Job};
use crate::{Client, Context, Error, ErrorKind};
use campuspay_domain::office::{AuditAction, Permission};
use campuspay_domain::order::OrderState;
use campuspay_domain::settlement::{OfficeRefundState, RefundMethod};
use campuspay_domain::{Fen, LedgerKind};
use campuspay_store::charges::NewLedgerEntry;
use campuspay_store::refunds::{NewOfficeRefund, OfficeRefundLine, OfficeRefundRow};
use campuspay_store::{On, StoreError, WriteTx};
use std::collections::HashMap;

pub struct RefundLine {
    pub charge_id: i64,
    pub amount: Fen,
}

/// What is refunded: an online order (by its number) or a counter payment (by its id).
pub enum Target<'a> {
    Order(&'a str),
    Offline(i64),
}

pub struct Outcome {
    pub id: i64,
    pub status: OfficeRefundState,
    pub amount: Fen,
}

/// An office refund as the office sees it.
pub struct RefundView {
    pub refund: OfficeRefundRow,
    pub lines: Vec<OfficeRefundLine>,
    /// Our number of the provider refund, once sent.
    pub out_refund_no: Option<String>,
}

fn refused(code: &'static str, zh: impl Into<String>, en: impl Into<String>, field: &'static str) -> Error {
    Error::new(ErrorKind::Refused, code, zh, en).field(field)
}

fn in_flight() -> Error {
    Error::new(
        ErrorKind::Conflict,
        "refund_in_progress",
        "这笔缴费已有一笔退款在处理中（待复核或退款中），请等它完成后再退",
        "This payment has a refund awaiting approval or in progress; wait for it to finish",
    )
}

fn no_refund() -> Error {
    Error::new(ErrorKind::NotFound, "refund_not_found", "本校没有这笔退款", "No such refund at this school")
}

/// What each charge of the payment took: (student, method, order, offline payment, paid per charge).
struct Paid {
    student_id: i64,
    method: RefundMethod,
    order_id: Option<i64>,
    offline_payment_id: Option<i64>,
    provider_payment_id: Option<i64>,
    per_charge: HashMap<i64, Fen>,
}

async fn paid_of(ctx: &Context, school_id: i64, target: &Target<'_>) -> Result<Paid, Error> {
    match *target {
        Target::Order(order_no) => {
            let order = ctx.store.order_by_no(school_id, order_no.trim()).await?.ok_or_else(|| {
                Error::new(ErrorKind::NotFound, "order_not_found", "本校没有这个订单号", "No such order at this school").field("order_no")
            })?;
            if order.status != OrderState::Paid {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    "order_not_refundable",
                    format!("订单状态为“{}”，只有已支付的订单可以退款", order.status.label_zh()),
                    format!("The order is {}; only paid orders can be refunded", order.status.as_str()),
                ));
            }
            let pp = ctx.store.applied_payment(On::Pool, order.id).await?.ok_or_else(Error::internal)?;
            let per_charge = ctx.store.paid_by_reference(On::Pool, order.student_id, LedgerKind::Payment, &pp.txn_id).await?;
            Ok(Paid {
                student_id: order.student_id,
                method: RefundMethod::Channel,
                order_id: Some(order.id),
                offline_payment_id: None,
                provider_payment_id: Some(pp.id),
                per_charge: per_charge.into_iter().collect(),
            })
        }
        Target::Offline(id) => {
            let (student_id, reference) = ctx.store.offline_payment_of_school(school_id, id).await?.ok_or_else(|| {
                Error::new(ErrorKind::NotFound, "offline_payment_not_found", "本校没有这笔线下收款", "No such counter payment")
                    .field("offline_payment_id")
            })?;
            let per_charge = ctx.store.paid_by_reference(On::Pool, student_id, LedgerKind::OfflinePayment, &reference).await?;
            Ok(Paid {
                student_id,
                method: RefundMethod::Offline,
                order_id: None,
                offline_payment_id: Some(id),
                provider_payment_id: None,
                per_charge: per_charge.into_iter().collect(),
            })
        }
    }
}

/// A line of a payment and what is left to refund of it.
pub struct Refundable {
    pub charge_id: i64,
    pub item: String,
    pub period: String,
    pub paid: Fen,
    pub left: Fen,
}

/// The lines of a payment with what each may still give back, for the refund form.
pub async fn refundable(ctx: &Context, staff: &Staff, target: &Target<'_>) -> Result<Vec<Refundable>, Error> {
    staff.require(Permission::Refund)?;
    let school_id = staff.school()?;
    let paid = paid_of(ctx, school_id, target).await?;
    let taken: HashMap<i64, Fen> = ctx.store.refunded_lines(On::Pool, paid.order_id, paid.offline_payment_id).await?.into_iter().collect();
    let mut lines = Vec::new();
    let mut charges: Vec<(i64, Fen)> = paid.per_charge.into_iter().collect();
    charges.sort();
    for (charge_id, was_paid) in charges {
        let (item, period) = ctx.store.charge_label(charge_id).await?.unwrap_or_default();
        let left = Fen((was_paid.0 - taken.get(&charge_id).map_or(0, |f| f.0)).max(0));
        lines.push(Refundable { charge_id, item, period, paid: was_paid, left });
    }
    Ok(lines)
}

/// A counter payment found by how it was taken and its receipt, slip or transfer number.
pub struct OfflineFound {
    pub id: i64,
    pub student_no: String,
    pub student_name: String,
    pub total: Fen,
    pub created_at: i64,
}

/// Finds the school's counter payment to refund (`refund`).
pub async fn offline_payment(ctx: &Context, staff: &Staff, method: &str, reference: &str) -> Result<OfflineFound, Error> {
    staff.require(Permission::Refund)?;
    let school_id = staff.school()?;
    let method: campuspay_domain::office::OfflineMethod = method.trim().parse().map_err(|_| {
        refused("invalid_method", "请选择收款方式：现金、POS刷卡或银行转账", "method is cash, pos or bank_transfer", "method")
    })?;
    let reference = reference.trim();
    if reference.is_empty() {
        return Err(refused("invalid_reference", "请填写收据号、POS凭条号或银行流水号", "Give the reference", "reference"));
    }
    let not_found = || {
        Error::new(
            ErrorKind::NotFound,
            "offline_payment_not_found",
            "本校没有这笔线下收款，请核对收款方式和凭证号",
            "No such counter payment",
        )
        .field("reference")
    };
    let found = ctx.store.offline_payment_by_reference(school_id, method.as_str(), reference).await?.ok_or_else(not_found)?;
    let student = ctx.store.student(school_id, found.student_id).await?.ok_or_else(not_found)?;
    Ok(OfflineFound {
        id: found.id,
        student_no: student.student_no,
        student_name: student.name,
        total: found.total,
        created_at: found.created_at,
    })
}

/// Starts a refund of some lines of one payment. At or below the school's threshold it is
/// sent at once (online) or done (offline); above it, it waits for a second person.
pub async fn request(
    ctx: &Context,
    staff: &Staff,
    client: &Client,
    target: &Target<'_>,
    lines: &[RefundLine],
    reason: &str,
) -> Result<Outcome, Error> {
    staff.require(Permission::Refund)?;
    let school_id = staff.school()?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(refused("invalid_reason", "请填写退款原因（最多200字）", "Give a reason (at most 200 characters)", "reason"));
    }
    if lines.is_empty() || lines.len() > 50 {
        return Err(refused("no_lines", "请选择要退款的项目", "Choose the lines to refund", "lines"));
    }
    let mut total = Fen::ZERO;
    for (i, line) in lines.iter().enumerate() {
        if !line.amount.is_positive() {
            return Err(refused("invalid_amount", "退款金额必须大于0", "Each amount must be more than 0", "amount_fen"));
        }
        if lines[..i].iter().any(|l| l.charge_id == line.charge_id) {
            return Err(refused("duplicate_line", "同一项目只能填写一次", "A charge appears twice", "lines"));
        }
        total =
            total.checked_add(line.amount).map_err(|_| refused("invalid_amount", "金额过大", "The amount is too large", "amount_fen"))?;
    }
    let paid = paid_of(ctx, school_id, target).await?;
    let school = ctx.store.school_by_id(school_id).await?.ok_or_else(Error::unknown_school)?;
    let mut tx = ctx.store.write_tx().await?;
    // Serialises refunds of the student's money (PostgreSQL; SQLite has one writer anyway):
    // what earlier refunds took is read under the lock, so no two can both take the last fen.
    ctx.store.lock_student(&mut tx, paid.student_id).await?;
    let taken: HashMap<i64, Fen> =
        ctx.store.refunded_lines(On::Tx(&mut tx), paid.order_id, paid.offline_payment_id).await?.into_iter().collect();
    for line in lines {
        let Some(&was_paid) = paid.per_charge.get(&line.charge_id) else {
            return Err(Error::new(
                ErrorKind::NotFound,
                "charge_not_in_payment",
                "这笔缴费没有支付该项目",
                "The payment did not pay this charge",
            )
            .field("lines"));
        };
        let left = Fen(was_paid.0 - taken.get(&line.charge_id).map_or(0, |f| f.0));
        if line.amount > left {
            return Err(refused(
                "amount_over_paid",
                format!("退款金额 {} 超过该项目可退的 {}（已付 {}）", line.amount, left.max(Fen::ZERO), was_paid),
                format!("{} is more than the {} left to refund of the {} paid", line.amount, left.max(Fen::ZERO), was_paid),
                "amount_fen",
            ));
        }
    }
    let needs_approval = total.0 > school.policy.approval_threshold_fen;
    let status = if needs_approval { OfficeRefundState::AwaitingApproval } else { OfficeRefundState::Pending };
    let new = NewOfficeRefund {
        school_id,
        student_id: paid.student_id,
        method: paid.method,
        order_id: paid.order_id,
        offline_payment_id: paid.offline_payment_id,
        amount: total,
        reason,
        status,
        maker_id: staff.id,
    };
    let id = match ctx.store.insert_office_refund(&mut tx, &new).await {
        Ok(id) => id,
        Err(StoreError::Conflict(_)) => return Err(in_flight()),
        Err(e) => return Err(e.into()),
    };
    for line in lines {
        ctx.store.insert_office_refund_line(&mut tx, id, line.charge_id, line.amount).await?;
    }
    let status = if needs_approval { status } else { send(ctx, &mut tx, school_id, id, paid.provider_payment_id).await? };
    let subject = format!("refund:{id}");
    let after = serde_json::json!({
        "method": paid.method.as_str(),
        "order_id": paid.order_id,
        "offline_payment_id": paid.offline_payment_id,
        "amount_fen": total.0,
        "reason": reason,
        "status": status.as_str(),
        "lines": lines.iter().map(|l| serde_json::json!({"charge_id": l.charge_id, "amount_fen": l.amount.0})).collect::<Vec<_>>(),
    });
    audit(
        ctx,
        &mut tx,
        staff,
        client,
        &Audited { action: AuditAction::RefundRequested, subject: &subject, before: None, after: Some(after) },
    )
    .await?;
    tx.commit().await?;
    Ok(Outcome { id, status, amount: total })
}

/// Sends a `Pending` refund on its way: online, a provider refund row and its job; offline,
/// done at once (the office hands the money back itself). Returns the state it is in now.
async fn send(
    ctx: &Context,
    tx: &mut WriteTx,
    school_id: i64,
    id: i64,
    provider_payment_id: Option<i64>,
) -> Result<OfficeRefundState, Error> {
    let refund = ctx.store.office_refund(On::Tx(tx), school_id, id).await?.ok_or_else(Error::internal)?;
    match (refund.method, provider_payment_id) {
        (RefundMethod::Channel, Some(pp)) => {
            let refund_id = ctx.store.insert_office_channel_refund(tx, school_id, pp, &format!("RO{id:010}"), refund.amount, id).await?;
            jobs::enqueue(ctx, tx, &Job::Refund { refund_id }).await?;
            Ok(OfficeRefundState::Pending)
        }
        (RefundMethod::Offline, _) => {
            ctx.store.set_office_refund_status(tx, id, OfficeRefundState::Success, None).await?;
            on_refund_confirmed(ctx, tx, school_id, id).await?;
            Ok(OfficeRefundState::Success)
        }
        (RefundMethod::Channel, None) => Err(Error::internal()),
    }
}

/// **Where an office refund becomes money that left.** Called in the transaction that records
/// the provider's confirmation (or the office's own, for counter money), after the refund is
/// marked `success`: writes one negative `refund` ledger row per line, so the charges show
/// paid reduced, and marks the order `refunded` once all it paid has gone back. A red-letter
/// receipt (红冲) for the refund belongs here too, queued in this same transaction.
pub async fn on_refund_confirmed(ctx: &Context, tx: &mut WriteTx, school_id: i64, office_refund_id: i64) -> Result<(), Error> {
    let refund = ctx.store.office_refund(On::Tx(tx), school_id, office_refund_id).await?.ok_or_else(Error::internal)?;
    let reference = format!("RO{office_refund_id:010}");
    let memo = match refund.method {
        RefundMethod::Channel => "退款已原路退回",
        RefundMethod::Offline => "线下退款",
    };
    let lines = ctx.store.office_refund_lines(On::Tx(tx), office_refund_id).await?;
    for line in &lines {
        let entry = NewLedgerEntry {
            school_id,
            student_id: refund.student_id,
            charge_id: Some(line.charge_id),
            kind: LedgerKind::Refund,
            amount: Fen(-line.amount.0),
            reference: &reference,
            memo,
        };
        ctx.store.insert_ledger_entry(tx, &entry).await?;
    }
    if let Some(order_id) = refund.order_id {
        // The order's receipts are red-lettered (冲红) with the refund, per fee item, and what
        // stays paid is receipted again — in this transaction, with the ledger rows.
        let codes: std::collections::HashMap<i64, String> =
            ctx.store.charges_of_student(school_id, refund.student_id).await?.into_iter().map(|c| (c.id, c.item_code)).collect();
        let of = crate::receipts::RefundOf {
            order_id,
            refund_key: reference.clone(),
            lines: lines.iter().map(|l| (codes.get(&l.charge_id).cloned().unwrap_or_default(), l.amount)).collect(),
            amount: Fen(lines.iter().map(|l| l.amount.0).sum()),
        };
        crate::receipts::red_letter(ctx, tx, &of).await?;
        let pp = ctx.store.applied_payment(On::Tx(tx), order_id).await?.ok_or_else(Error::internal)?;
        let paid = ctx.store.paid_by_reference(On::Tx(tx), refund.student_id, LedgerKind::Payment, &pp.txn_id).await?;
        let taken = ctx.store.refunded_lines(On::Tx(tx), Some(order_id), None).await?;
        let paid_total: i64 = paid.iter().map(|(_, f)| f.0).sum();
        let done_total: i64 = taken.iter().map(|(_, f)| f.0).sum();
        // `refunded_lines` also counts live refunds, but this order's only live one is this
        // one (the unique index), which is now `success`: the sum is what went back.
        if done_total >= paid_total {
            ctx.store.end_order(tx, order_id, OrderState::Refunded).await?;
        }
    }
    Ok(())
}

/// The second person's decision on a refund above the threshold.
pub async fn decide(ctx: &Context, staff: &Staff, client: &Client, id: i64, approve: bool, note: &str) -> Result<OfficeRefundState, Error> {
    staff.require(Permission::ApproveAdjustments)?;
    let school_id = staff.school()?;
    let refund = ctx.store.office_refund(On::Pool, school_id, id).await?.ok_or_else(no_refund)?;
    if refund.maker_id == staff.id {
        return Err(Error::new(
            ErrorKind::Forbidden,
            "own_request",
            "不能复核自己发起的退款，请由另一位有复核权限的人员处理",
            "You cannot approve your own refund",
        ));
    }
    let provider_payment_id = match refund.order_id {
        Some(order_id) => ctx.store.applied_payment(On::Pool, order_id).await?.map(|p| p.id),
        None => None,
    };
    let mut tx = ctx.store.write_tx().await?;
    let to = if approve { OfficeRefundState::Pending } else { OfficeRefundState::Rejected };
    match ctx.store.set_office_refund_status(&mut tx, id, to, Some(staff.id)).await {
        Ok(()) => {}
        Err(StoreError::Stale(_)) => {
            return Err(Error::new(ErrorKind::Conflict, "already_decided", "这笔退款已处理过", "This refund was already decided"));
        }
        Err(e) => return Err(e.into()),
    }
    let status = if approve { send(ctx, &mut tx, school_id, id, provider_payment_id).await? } else { to };
    let subject = format!("refund:{id}");
    let action = if approve { AuditAction::RefundApproved } else { AuditAction::RefundRejected };
    let after = serde_json::json!({"status": status.as_str(), "note": note.trim()});
    let before = serde_json::json!({"status": refund.status.as_str()});
    audit(ctx, &mut tx, staff, client, &Audited { action, subject: &subject, before: Some(before), after: Some(after) }).await?;
    tx.commit().await?;
    Ok(status)
}

/// One refund of the school, with its lines.
pub async fn view(ctx: &Context, staff: &Staff, id: i64) -> Result<RefundView, Error> {
    staff.require(Permission::ViewReports)?;
    let school_id = staff.school()?;
    let refund = ctx.store.office_refund(On::Pool, school_id, id).await?.ok_or_else(no_refund)?;
    let lines = ctx.store.office_refund_lines(On::Pool, id).await?;
    let out_refund_no = ctx.store.channel_refund_of(id).await?.map(|(_, no)| no);
    Ok(RefundView { refund, lines, out_refund_no })
}

/// The school's refunds, newest first.
pub async fn list(ctx: &Context, staff: &Staff, status: Option<&str>) -> Result<Vec<OfficeRefundRow>, Error> {
    staff.require(Permission::ViewReports)?;
    let school_id = staff.school()?;
    let status = match status.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Some(
            s.parse::<OfficeRefundState>().map_err(|_| refused("invalid_status", "未知的退款状态", "Unknown refund status", "status"))?,
        ),
        None => None,
    };
    Ok(ctx.store.office_refunds(school_id, status, 200).await?)
}

/// Sends a failed office refund again from the exception queue: a new office refund of the
/// same lines (its first approval stands), made by the person resolving the exception.
pub(crate) async fn send_again(ctx: &Context, tx: &mut WriteTx, staff: &Staff, failed_id: i64, exception_id: i64) -> Result<i64, Error> {
    let school_id = staff.school()?;
    let failed = ctx.store.office_refund(On::Tx(tx), school_id, failed_id).await?.ok_or_else(no_refund)?;
    let lines = ctx.store.office_refund_lines(On::Tx(tx), failed_id).await?;
    let reason = format!("重新退款（异常 #{exception_id}）：{}", failed.reason);
    let new = NewOfficeRefund {
        school_id,
        student_id: failed.student_id,
        method: failed.method,
        order_id: failed.order_id,
        offline_payment_id: failed.offline_payment_id,
        amount: failed.amount,
        reason: &reason,
        status: OfficeRefundState::Pending,
        maker_id: staff.id,
    };
    let id = match ctx.store.insert_office_refund(tx, &new).await {
        Ok(id) => id,
        Err(StoreError::Conflict(_)) => return Err(in_flight()),
        Err(e) => return Err(e.into()),
    };
    for line in &lines {
        ctx.store.insert_office_refund_line(tx, id, line.charge_id, line.amount).await?;
    }
    let provider_payment_id = match failed.order_id {
        Some(order_id) => ctx.store.applied_payment(On::Tx(tx), order_id).await?.map(|p| p.id),
        None => None,
    };
    send(ctx, tx, school_id, id, provider_payment_id).await?;
    Ok(id)
}
