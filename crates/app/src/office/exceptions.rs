//! 异常处理: the queue of money problems and the audited actions that close them.
//!
//! Nothing leaves the queue without one: refund (send it back again), credit (to the
//! student's balance), apply (to another charge of the same student) or a note. Closing is a
//! guarded update from `open`, so a second click, or a second person, is refused and moves no
//! money: the money of an action is written in the same transaction as the close.

use super::{Audited, Staff, audit};
use crate::jobs::{self, Job};
use crate::{Client, Context, Error, ErrorKind};
use campuspay_domain::office::{AuditAction, Permission};
use campuspay_domain::settlement::{ExceptionAction, ExceptionKind};
use campuspay_domain::{Fen, LedgerKind};
use campuspay_store::charges::NewLedgerEntry;
use campuspay_store::exceptions::ExceptionRow;
use campuspay_store::{On, StoreError, WriteTx};

pub struct Resolution<'a> {
    pub action: &'a str,
    pub note: &'a str,
    /// For `apply`: the charge of the same student that the money pays.
    pub charge_id: Option<i64>,
}

fn refused(code: &'static str, zh: impl Into<String>, en: impl Into<String>, field: &'static str) -> Error {
    Error::new(ErrorKind::Refused, code, zh, en).field(field)
}

fn already() -> Error {
    Error::new(ErrorKind::Conflict, "already_resolved", "该异常已处理，不能重复处理", "This exception was already resolved")
}

/// The school's exceptions, open ones first.
pub async fn list(ctx: &Context, staff: &Staff, open_only: bool) -> Result<Vec<ExceptionRow>, Error> {
    staff.require(Permission::ViewReports)?;
    Ok(ctx.store.exceptions(staff.school()?, open_only, 500).await?)
}

pub async fn view(ctx: &Context, staff: &Staff, id: i64) -> Result<ExceptionRow, Error> {
    staff.require(Permission::ViewReports)?;
    ctx.store.exception(On::Pool, staff.school()?, id).await?.ok_or_else(not_found)
}

/// A charge of the exception's student that its money may pay (冲抵), for the resolve form.
pub struct ApplyTarget {
    pub charge_id: i64,
    pub item: String,
    pub period: String,
    pub owed: Fen,
}

/// The charges of an open exception's student that still owe, so the office picks one by
/// name rather than typing an id (`refund`, the permission that resolves).
pub async fn apply_targets(ctx: &Context, staff: &Staff, id: i64) -> Result<Vec<ApplyTarget>, Error> {
    staff.require(Permission::Refund)?;
    let school_id = staff.school()?;
    let e = ctx.store.exception(On::Pool, school_id, id).await?.ok_or_else(not_found)?;
    let Some(student_id) = e.student_id.filter(|_| e.open && e.kind.allows(ExceptionAction::Apply)) else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for c in ctx.store.charges_of_student(school_id, student_id).await? {
        let owed = c.amounts.arrears().map_err(|_| Error::internal())?;
        if owed.is_positive() {
            out.push(ApplyTarget { charge_id: c.id, item: c.item_name, period: c.period_name, owed });
        }
    }
    Ok(out)
}

/// Open exceptions per kind, for the dashboard.
pub async fn open_counts(ctx: &Context, staff: &Staff) -> Result<Vec<(ExceptionKind, i64)>, Error> {
    staff.require(Permission::ViewReports)?;
    Ok(ctx.store.open_exception_counts(staff.school()?).await?)
}

fn not_found() -> Error {
    Error::new(ErrorKind::NotFound, "exception_not_found", "本校没有这条异常", "No such exception at this school")
}

/// Closes an open exception with `r`'s action.
pub async fn resolve(ctx: &Context, staff: &Staff, client: &Client, id: i64, r: &Resolution<'_>) -> Result<ExceptionAction, Error> {
    staff.require(Permission::Refund)?;
    let school_id = staff.school()?;
    let action: ExceptionAction = r.action.trim().parse().map_err(|_| {
        refused(
            "invalid_action",
            "处理方式只能是 refund、credit、apply、note 或 retry",
            "The action is refund, credit, apply, note or retry",
            "action",
        )
    })?;
    let note = r.note.trim();
    if note.chars().count() > 500 {
        return Err(refused("invalid_note", "备注最多500字", "The note is at most 500 characters", "note"));
    }
    if action == ExceptionAction::Note && note.is_empty() {
        return Err(refused("note_required", "仅备注关闭时必须填写说明", "Closing with a note needs the note", "note"));
    }
    let e = ctx.store.exception(On::Pool, school_id, id).await?.ok_or_else(not_found)?;
    if !e.open {
        return Err(already());
    }
    if !e.kind.allows(action) {
        return Err(refused(
            "action_not_allowed",
            format!("“{}”类异常不能{}", e.kind.label_zh(), action.label_zh()),
            format!("A {} exception cannot be closed by {}", e.kind.as_str(), action.as_str()),
            "action",
        ));
    }
    let mut tx = ctx.store.write_tx().await?;
    if let Some(student_id) = e.student_id {
        ctx.store.lock_student(&mut tx, student_id).await?;
    }
    match ctx.store.resolve_exception(&mut tx, school_id, id, action, note, staff.id).await {
        Ok(()) => {}
        Err(StoreError::Stale(_)) => return Err(already()),
        Err(err) => return Err(err.into()),
    }
    let moved = act(ctx, &mut tx, staff, &e, action, r.charge_id).await?;
    let subject = format!("exception:{id}");
    let after = serde_json::json!({
        "kind": e.kind.as_str(),
        "action": action.as_str(),
        "note": note,
        "amount_fen": e.amount.0,
        "result": moved,
    });
    let what = Audited { action: AuditAction::ExceptionResolved, subject: &subject, before: None, after: Some(after) };
    audit(ctx, &mut tx, staff, client, &what).await?;
    tx.commit().await?;
    Ok(action)
}

/// The money of an action, in the closing transaction; returns what it did, for the audit.
async fn act(
    ctx: &Context,
    tx: &mut WriteTx,
    staff: &Staff,
    e: &ExceptionRow,
    action: ExceptionAction,
    charge_id: Option<i64>,
) -> Result<serde_json::Value, Error> {
    let school_id = staff.school()?;
    let reference = format!("EX{}", e.id);
    let student_id = e
        .student_id
        .ok_or_else(|| refused("no_student", "该异常没有对应的学生，只能备注关闭", "No student: close it with a note", "action"));
    let ledger = |student_id, charge_id, kind, amount, memo| NewLedgerEntry {
        school_id,
        student_id,
        charge_id,
        kind,
        amount,
        reference: &reference,
        memo,
    };
    match (action, e.kind) {
        (ExceptionAction::Note, _) => Ok(serde_json::json!({})),
        // The office fixed the cause (the issuer, the SMS template, the phone): the stopped
        // jobs run again. Should they fail so again, they stop under a new exception.
        (ExceptionAction::Retry, ExceptionKind::ReceiptFailed) => {
            let queued = ctx.store.requeue_stopped_jobs(tx, e.id, ctx.clock.now()).await?;
            Ok(serde_json::json!({"jobs_queued": queued}))
        }
        (ExceptionAction::Refund, ExceptionKind::UnappliedMoney) => {
            let failed = e.refund_id.ok_or_else(Error::internal)?;
            let refund_id = ctx.store.insert_refund_again(tx, failed, &format!("RE{:010}", e.id)).await?;
            jobs::enqueue(ctx, tx, &Job::Refund { refund_id }).await?;
            Ok(serde_json::json!({"refund_id": refund_id}))
        }
        (ExceptionAction::Refund, ExceptionKind::RefundFailed) => {
            let failed = e.refund_id.ok_or_else(Error::internal)?;
            let office_id = ctx.store.office_refund_of_refund(On::Tx(tx), failed).await?.ok_or_else(Error::internal)?;
            let id = super::refunds::send_again(ctx, tx, staff, office_id, e.id).await?;
            Ok(serde_json::json!({"office_refund_id": id}))
        }
        (ExceptionAction::Credit, ExceptionKind::UnappliedMoney) => {
            let student_id = student_id?;
            let out = ledger(student_id, None, LedgerKind::UnappliedReceipt, Fen(-e.amount.0), "异常处理：转入余额");
            ctx.store.insert_ledger_entry(tx, &out).await?;
            let credit = ledger(student_id, None, LedgerKind::Credit, e.amount, "异常处理：转入余额");
            ctx.store.insert_ledger_entry(tx, &credit).await?;
            Ok(serde_json::json!({"credited_fen": e.amount.0}))
        }
        (ExceptionAction::Apply, ExceptionKind::UnappliedMoney) => {
            let student_id = student_id?;
            let charge_id =
                charge_id.ok_or_else(|| refused("charge_required", "请选择要冲抵的收费项目", "Choose the charge to pay", "charge_id"))?;
            let sums = ctx.store.charge_sums(On::Tx(tx), charge_id).await?;
            let Some(sums) = sums.filter(|c| c.school_id == school_id && c.student_id == student_id) else {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    "charge_not_found",
                    "该学生没有这个收费项目",
                    "The student has no such charge",
                )
                .field("charge_id"));
            };
            if let Some(order) = ctx.store.live_order_holding(school_id, charge_id).await? {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    "charge_in_order",
                    format!("该项目在学生待支付的订单 {} 中，请待订单关闭后再冲抵", order.order_no),
                    format!("The charge is in the unpaid order {}", order.order_no),
                ));
            }
            if e.amount > sums.owed {
                return Err(refused(
                    "amount_over_owed",
                    format!("这笔款项 {} 超过该项目尚欠的 {}，请选择其他项目或转入余额", e.amount, sums.owed),
                    format!("{} is more than the {} owed on that charge", e.amount, sums.owed),
                    "charge_id",
                ));
            }
            let out = ledger(student_id, None, LedgerKind::UnappliedReceipt, Fen(-e.amount.0), "异常处理：冲抵欠费");
            ctx.store.insert_ledger_entry(tx, &out).await?;
            let pay = ledger(student_id, Some(charge_id), LedgerKind::Payment, e.amount, "异常处理：冲抵欠费");
            ctx.store.insert_ledger_entry(tx, &pay).await?;
            Ok(serde_json::json!({"applied_to_charge": charge_id, "amount_fen": e.amount.0}))
        }
        _ => Err(Error::internal()),
    }
}
