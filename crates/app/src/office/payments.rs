//! The counter (收费员): money taken in cash, by POS or by bank transfer, recorded against the
//! student's chosen charges. Each line becomes an `offline_payment` ledger row; the student's
//! page shows it at once, because what a charge has been paid is always the ledger's sum.

use super::students::student_of;
use super::{Audited, Staff, audit};
use crate::{Client, Context, Error, ErrorKind};
use campuspay_domain::office::{AuditAction, OfflineMethod, Permission};
use campuspay_domain::{Fen, LedgerKind};
use campuspay_store::charges::NewLedgerEntry;
use campuspay_store::office::NewOfflinePayment;
use campuspay_store::{On, StoreError};

pub struct OfflineLine {
    pub charge_id: i64,
    pub amount: Fen,
}

pub struct OfflinePaymentInput<'a> {
    pub student_no: &'a str,
    pub lines: &'a [OfflineLine],
    pub method: &'a str,
    /// The receipt's number: the cash receipt book's, the POS slip's or the bank's reference.
    pub reference: &'a str,
}

pub struct RecordedOffline {
    pub id: i64,
    pub total: Fen,
    /// True when this exact payment had already been recorded (a double click): nothing new.
    pub already_recorded: bool,
}

fn refused(code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> Error {
    Error::new(ErrorKind::Refused, code, zh, en)
}

#[tracing::instrument(name = "record_offline_payment", skip_all, fields(staff = staff.id))]
pub async fn record(ctx: &Context, staff: &Staff, client: &Client, input: &OfflinePaymentInput<'_>) -> Result<RecordedOffline, Error> {
    staff.require(Permission::RecordOfflinePayments)?;
    let method: OfflineMethod = input.method.parse().map_err(|_| {
        refused("invalid_method", "收款方式只能是现金、POS刷卡或银行转账", "The method is cash, pos or bank_transfer").field("method")
    })?;
    let reference = input.reference.trim();
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_/.".contains(c);
    if reference.is_empty() || reference.len() > 64 || !reference.chars().all(plain) {
        return Err(refused(
            "invalid_reference",
            "请填写收据号、POS凭条号或银行流水号（字母、数字）",
            "Enter the receipt, POS slip or bank reference",
        )
        .field("reference"));
    }
    if input.lines.is_empty() || input.lines.len() > 50 {
        return Err(refused("no_lines", "请选择要收款的项目", "Choose the charges this money pays").field("lines"));
    }
    let student = student_of(ctx, staff, input.student_no).await?;
    let mut total = Fen::ZERO;
    for (i, line) in input.lines.iter().enumerate() {
        if !line.amount.is_positive() {
            return Err(refused("invalid_amount", "收款金额必须大于0", "Each amount must be more than 0").field("amount_fen"));
        }
        if input.lines[..i].iter().any(|l| l.charge_id == line.charge_id) {
            return Err(refused("duplicate_line", "同一项目只能填写一次", "A charge appears twice").field("lines"));
        }
        total = total.checked_add(line.amount).map_err(|_| refused("invalid_amount", "金额过大", "The amount is too large"))?;
    }
    let mut tx = ctx.store.write_tx().await?;
    // Serialises with the student's online orders (PostgreSQL; SQLite has one writer anyway):
    // an order cannot take these charges while the counter is recording money for them.
    ctx.store.lock_student(&mut tx, student.id).await?;
    // A double click or a re-sent form: the same payment, answered again, recorded once.
    // Checked under the student's lock, so a concurrent twin has committed before we look.
    if let Some(done) = ctx.store.offline_payment_by_reference(student.school_id, method.as_str(), reference).await? {
        if done.student_id == student.id && done.total == total {
            return Ok(RecordedOffline { id: done.id, total, already_recorded: true });
        }
        return Err(Error::new(
            ErrorKind::Conflict,
            "reference_used",
            format!("该{}凭证号已登记过另一笔收款", method.label_zh()),
            "That reference is already recorded for another payment",
        )
        .field("reference"));
    }
    for line in input.lines {
        let owner = ctx.store.charge_owner(line.charge_id).await?;
        if owner != Some((student.school_id, student.id)) {
            return Err(Error::new(ErrorKind::NotFound, "charge_not_found", "该学生没有这个收费项目", "The student has no such charge")
                .field("lines"));
        }
        if let Some(order) = ctx.store.live_order_holding(student.school_id, line.charge_id).await? {
            return Err(Error::new(
                ErrorKind::Conflict,
                "charge_in_order",
                format!("该项目在学生待支付的订单 {} 中，请让学生先取消订单或等待订单关闭", order.order_no),
                format!("The charge is in the student's unpaid order {}; it must be cancelled or closed first", order.order_no),
            ));
        }
        let owed = ctx.store.charge_remaining(On::Tx(&mut tx), line.charge_id).await?;
        if line.amount > owed {
            return Err(refused(
                "amount_over_owed",
                format!("收款金额 {} 超过该项目尚欠的 {}", line.amount, owed),
                format!("{} is more than the {} still owed on the charge", line.amount, owed),
            )
            .field("amount_fen"));
        }
    }
    let new = NewOfflinePayment {
        school_id: student.school_id,
        student_id: student.id,
        method: method.as_str(),
        reference,
        total,
        staff_id: staff.id,
    };
    let id = match ctx.store.insert_offline_payment(&mut tx, &new).await {
        Ok(id) => id,
        // Recorded by a concurrent request a moment ago.
        Err(StoreError::Conflict(_)) => {
            drop(tx);
            return match ctx.store.offline_payment_by_reference(student.school_id, method.as_str(), reference).await? {
                Some(done) if done.student_id == student.id && done.total == total => {
                    Ok(RecordedOffline { id: done.id, total, already_recorded: true })
                }
                _ => Err(Error::new(
                    ErrorKind::Conflict,
                    "reference_used",
                    "该凭证号已登记过另一笔收款",
                    "That reference is already recorded",
                )),
            };
        }
        Err(e) => return Err(e.into()),
    };
    let memo = format!("{}（{}）", method.label_zh(), staff.name);
    for line in input.lines {
        let entry = NewLedgerEntry {
            school_id: student.school_id,
            student_id: student.id,
            charge_id: Some(line.charge_id),
            kind: LedgerKind::OfflinePayment,
            amount: line.amount,
            reference,
            memo: &memo,
        };
        ctx.store.insert_ledger_entry(&mut tx, &entry).await?;
    }
    let subject = format!("student:{}", student.student_no);
    let after = serde_json::json!({
        "offline_payment": id,
        "method": method.as_str(),
        "reference": reference,
        "total_fen": total.0,
        "lines": input.lines.iter().map(|l| serde_json::json!({"charge_id": l.charge_id, "amount_fen": l.amount.0})).collect::<Vec<_>>(),
    });
    let what = Audited { action: AuditAction::OfflinePaymentRecorded, subject: &subject, before: None, after: Some(after) };
    audit(ctx, &mut tx, staff, client, &what).await?;
    tx.commit().await?;
    Ok(RecordedOffline { id, total, already_recorded: false })
}
