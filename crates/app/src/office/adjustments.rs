//! 减免 / 缓缴 / 撤销: changes to an issued charge, kept as history. A waiver or cancellation
//! is a ledger entry (`waiver`, `cancellation`) once it is in force; above the school's
//! threshold it waits for a second person with `approve_adjustments` (maker–checker), who
//! cannot be the one who asked. Nothing is edited in place: the adjustment, its decision and
//! its ledger entry are each an inserted row.

use super::{Audited, Staff, audit};
use crate::{Client, Context, Error, ErrorKind};
use campuspay_domain::office::{AdjustmentKind, AdjustmentStatus, AuditAction, Permission};
use campuspay_domain::{Fen, LedgerKind};
use campuspay_store::adjustments::{AdjustmentRow, ChargeSums, NewAdjustment};
use campuspay_store::charges::NewLedgerEntry;
use campuspay_store::{On, StoreError, WriteTx};

pub enum Request<'a> {
    Waiver {
        amount: Fen,
    },
    /// Until the end of this day (YYYY-MM-DD, Shanghai).
    Deferral {
        until: &'a str,
    },
    Cancellation,
}

pub struct Outcome {
    pub id: i64,
    pub kind: AdjustmentKind,
    pub amount: Fen,
    pub status: AdjustmentStatus,
}

fn refused(code: &'static str, zh: impl Into<String>, en: impl Into<String>, field: &'static str) -> Error {
    Error::new(ErrorKind::Refused, code, zh, en).field(field)
}

fn no_such_charge() -> Error {
    Error::new(ErrorKind::NotFound, "charge_not_found", "本校没有这个应收项目", "No such charge at this school")
}

/// The charge's sums, read under the student's lock, if the charge is the school's.
async fn locked_charge(ctx: &Context, tx: &mut WriteTx, school_id: i64, charge_id: i64) -> Result<ChargeSums, Error> {
    let owner = ctx.store.charge_sums(On::Pool, charge_id).await?.filter(|c| c.school_id == school_id).ok_or_else(no_such_charge)?;
    ctx.store.lock_student(tx, owner.student_id).await?;
    ctx.store.charge_sums(On::Tx(tx), charge_id).await?.ok_or_else(no_such_charge)
}

/// An order waiting to be paid holds the charge at its old amount: adjusting it now would
/// let that order overpay, so the order goes first.
async fn refuse_if_in_order(ctx: &Context, school_id: i64, charge_id: i64) -> Result<(), Error> {
    if let Some(order) = ctx.store.live_order_holding(school_id, charge_id).await? {
        return Err(Error::new(
            ErrorKind::Conflict,
            "charge_in_order",
            format!("该项目在学生待支付的订单 {} 中，请待订单关闭后再调整", order.order_no),
            format!("The charge is in the unpaid order {}; adjust it once that order is closed", order.order_no),
        ));
    }
    Ok(())
}

/// What the adjustment would take off the charge now, checked against what is owed.
fn money_of(kind: AdjustmentKind, requested: Fen, c: &ChargeSums) -> Result<Fen, Error> {
    match kind {
        AdjustmentKind::Waiver => {
            if !requested.is_positive() {
                return Err(refused("invalid_amount", "减免金额必须大于0", "The waiver must be more than 0", "amount_fen"));
            }
            if requested > c.owed {
                return Err(refused(
                    "amount_over_owed",
                    format!("减免金额 {} 超过该项目尚欠的 {}", requested, c.owed),
                    format!("{} is more than the {} still owed", requested, c.owed),
                    "amount_fen",
                ));
            }
            Ok(requested)
        }
        AdjustmentKind::Cancellation => {
            if c.paid.0 != 0 || c.balance_used.0 != 0 {
                return Err(refused(
                    "charge_has_payments",
                    "该项目已有缴费，不能撤销；如需退还请走退款",
                    "Money was paid on this charge: refund instead of cancelling",
                    "charge",
                ));
            }
            if !c.owed.is_positive() {
                return Err(refused("nothing_owed", "该项目已无欠费，无需撤销", "Nothing is owed on this charge", "charge"));
            }
            Ok(c.owed)
        }
        AdjustmentKind::Deferral => Ok(Fen::ZERO),
    }
}

fn valid_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (s[..4].parse().ok()?, s[5..7].parse().ok()?, s[8..].parse().ok()?);
    let start = campuspay_domain::time::shanghai_to_unix(y, m, d, 0, 0, 0)?;
    // shanghai_to_unix normalises 02-30 to 03-02: a real date formats back to itself.
    (campuspay_domain::time::format_shanghai_date(start) == s).then_some(start)
}

/// The money of an adjustment in force: what it takes off which charge.
struct Effect {
    charge_id: i64,
    kind: AdjustmentKind,
    amount: Fen,
    adjustment_id: i64,
}

async fn write_ledger(ctx: &Context, tx: &mut WriteTx, c: &ChargeSums, e: &Effect, memo: &str) -> Result<(), Error> {
    let ledger_kind = match e.kind {
        AdjustmentKind::Waiver => LedgerKind::Waiver,
        AdjustmentKind::Cancellation => LedgerKind::Cancellation,
        AdjustmentKind::Deferral => return Ok(()),
    };
    let reference = format!("ADJ{}", e.adjustment_id);
    let entry = NewLedgerEntry {
        school_id: c.school_id,
        student_id: c.student_id,
        charge_id: Some(e.charge_id),
        kind: ledger_kind,
        amount: e.amount,
        reference: &reference,
        memo,
    };
    ctx.store.insert_ledger_entry(tx, &entry).await?;
    Ok(())
}

/// Asks for (and, at or below the threshold, applies) an adjustment of one charge.
pub async fn request(
    ctx: &Context,
    staff: &Staff,
    client: &Client,
    charge_id: i64,
    req: &Request<'_>,
    reason: &str,
) -> Result<Outcome, Error> {
    staff.require(Permission::AdjustCharges)?;
    let school_id = staff.school()?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(refused("invalid_reason", "请填写原因（最多200字）", "Give a reason (at most 200 characters)", "reason"));
    }
    let (kind, requested, until) = match req {
        Request::Waiver { amount } => (AdjustmentKind::Waiver, *amount, None),
        Request::Cancellation => (AdjustmentKind::Cancellation, Fen::ZERO, None),
        Request::Deferral { until } => {
            let until = until.trim();
            let start = valid_date(until)
                .ok_or_else(|| refused("invalid_date", "缓缴日期格式应为 2026-12-31", "The date is YYYY-MM-DD", "until"))?;
            if start + 86_400 <= ctx.clock.now() {
                return Err(refused("date_passed", "缓缴日期不能早于今天", "The deferral cannot end in the past", "until"));
            }
            (AdjustmentKind::Deferral, Fen::ZERO, Some(until))
        }
    };
    let school = ctx.store.school_by_id(school_id).await?.ok_or_else(Error::unknown_school)?;
    let mut tx = ctx.store.write_tx().await?;
    let c = locked_charge(ctx, &mut tx, school_id, charge_id).await?;
    if kind.moves_money() {
        refuse_if_in_order(ctx, school_id, charge_id).await?;
    }
    let amount = money_of(kind, requested, &c)?;
    let needs_approval = kind.moves_money() && amount.0 > school.policy.approval_threshold_fen;
    let new = NewAdjustment {
        school_id,
        student_id: c.student_id,
        charge_id,
        kind,
        amount,
        defer_until: until,
        reason,
        requested_by: staff.id,
        needs_approval,
    };
    let id = ctx.store.insert_adjustment(&mut tx, &new).await?;
    if !needs_approval {
        let effect = Effect { charge_id, kind, amount, adjustment_id: id };
        write_ledger(ctx, &mut tx, &c, &effect, &format!("{}：{}（{}）", kind.label_zh(), reason, staff.name)).await?;
    }
    let action = match (needs_approval, kind) {
        (true, _) => AuditAction::AdjustmentRequested,
        (false, AdjustmentKind::Waiver) => AuditAction::WaiverGranted,
        (false, AdjustmentKind::Deferral) => AuditAction::DeferralGranted,
        (false, AdjustmentKind::Cancellation) => AuditAction::ChargeCancelled,
    };
    let subject = format!("charge:{charge_id}");
    let before = serde_json::json!({"owed_fen": c.owed.0, "waived_fen": c.waived.0, "paid_fen": c.paid.0});
    let after = serde_json::json!({"adjustment": id, "kind": kind.as_str(), "amount_fen": amount.0, "until": until,
        "reason": reason, "needs_approval": needs_approval});
    audit(ctx, &mut tx, staff, client, &Audited { action, subject: &subject, before: Some(before), after: Some(after) }).await?;
    tx.commit().await?;
    let status = if needs_approval { AdjustmentStatus::Pending } else { AdjustmentStatus::Applied };
    Ok(Outcome { id, kind, amount, status })
}

/// Approves or rejects a pending adjustment (`approve_adjustments`), as someone other than
/// the one who asked. Approval re-checks the charge: what was owed may have changed since.
pub async fn decide(
    ctx: &Context,
    staff: &Staff,
    client: &Client,
    adjustment_id: i64,
    approve: bool,
    note: &str,
) -> Result<Outcome, Error> {
    staff.require(Permission::ApproveAdjustments)?;
    let school_id = staff.school()?;
    let note = note.trim();
    if note.chars().count() > 200 {
        return Err(refused("invalid_note", "意见最多200字", "The note is at most 200 characters", "note"));
    }
    let a = ctx.store.adjustment(On::Pool, school_id, adjustment_id).await?.ok_or_else(|| {
        Error::new(ErrorKind::NotFound, "adjustment_not_found", "本校没有这条调整申请", "No such adjustment at this school")
    })?;
    let Some(next) = a.status.decide(approve) else {
        return Err(Error::new(
            ErrorKind::Conflict,
            "already_decided",
            format!("该申请{}，不能再复核", a.status.label_zh()),
            format!("The adjustment is {}", a.status.as_str()),
        ));
    };
    if a.requested_by == staff.id {
        return Err(Error::new(
            ErrorKind::Forbidden,
            "own_request",
            "不能复核自己提交的申请，请由另一位财务人员复核",
            "A second person must approve",
        ));
    }
    let mut tx = ctx.store.write_tx().await?;
    let c = locked_charge(ctx, &mut tx, school_id, a.charge_id).await?;
    if approve {
        refuse_if_in_order(ctx, school_id, a.charge_id).await?;
        let now_amount = money_of(a.kind, a.amount, &c)?;
        if a.kind == AdjustmentKind::Cancellation && now_amount != a.amount {
            return Err(Error::new(
                ErrorKind::Conflict,
                "charge_changed",
                "申请后该项目的欠费已变化，请驳回后重新申请撤销",
                "What is owed changed since the request; reject it and ask again",
            ));
        }
    }
    match ctx.store.insert_decision(&mut tx, a.id, approve, staff.id, note).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(Error::new(ErrorKind::Conflict, "already_decided", "该申请已被他人复核", "Someone else decided it first"));
        }
        Err(e) => return Err(e.into()),
    }
    if approve {
        let memo = format!("{}：{}（{}申请，{}复核）", a.kind.label_zh(), a.reason, a.requested_by_login, staff.name);
        let effect = Effect { charge_id: a.charge_id, kind: a.kind, amount: a.amount, adjustment_id: a.id };
        write_ledger(ctx, &mut tx, &c, &effect, &memo).await?;
    }
    let action = if approve { AuditAction::AdjustmentApproved } else { AuditAction::AdjustmentRejected };
    let subject = format!("adjustment:{}", a.id);
    let before = serde_json::json!({"status": a.status.as_str(), "owed_fen": c.owed.0});
    let after = serde_json::json!({"status": next.as_str(), "kind": a.kind.as_str(), "amount_fen": a.amount.0, "charge_id": a.charge_id, "note": note});
    audit(ctx, &mut tx, staff, client, &Audited { action, subject: &subject, before: Some(before), after: Some(after) }).await?;
    tx.commit().await?;
    Ok(Outcome { id: a.id, kind: a.kind, amount: a.amount, status: next })
}

/// The school's adjustments, newest first (`view_students`); the approval queue with `pending_only`.
pub async fn list(ctx: &Context, staff: &Staff, pending_only: bool) -> Result<Vec<AdjustmentRow>, Error> {
    staff.require(Permission::ViewStudents)?;
    Ok(ctx.store.adjustments(staff.school()?, pending_only, 200).await?)
}
