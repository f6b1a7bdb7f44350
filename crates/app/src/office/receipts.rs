//! The office and receipts: search, send again, and void-and-reissue after the payer's title
//! was corrected (audited; the old receipt is marked void and stays verifiable as such).

use super::students::student_of;
use super::{Audited, Staff, audit};
use crate::jobs::{self, Job};
use crate::receipts::{ReceiptView, void_and_reissue};
use crate::{Client, Context, Error, ErrorKind};
use campuspay_domain::office::{AuditAction, Permission};
use campuspay_domain::receipt::{ReceiptKind, ReceiptStatus, validate_credit_code};
use campuspay_store::receipts::{ReceiptQuery, ReceiptRow};
use campuspay_store::{On, WriteTx};

fn no_receipt() -> Error {
    Error::new(ErrorKind::NotFound, "receipt_not_found", "没有这张票据", "No such receipt")
}

/// A school's receipts by number, payer or student, newest first.
pub async fn search(ctx: &Context, staff: &Staff, text: &str, student_no: Option<&str>) -> Result<Vec<(ReceiptView, String)>, Error> {
    staff.require(Permission::ViewStudents)?;
    let school_id = staff.school()?;
    let student_id = match student_no.map(str::trim).filter(|s| !s.is_empty()) {
        Some(no) => Some(student_of(ctx, staff, no).await?.id),
        None => None,
    };
    let text: String = text.trim().chars().take(64).collect();
    let rows = ctx.store.search_receipts(school_id, &ReceiptQuery { text, student_id, limit: 200 }).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let no = ctx.store.student(school_id, r.student_id).await?.map(|s| s.student_no).unwrap_or_default();
        out.push((crate::receipts::view_of(ctx, &r), no));
    }
    Ok(out)
}

async fn own(ctx: &Context, staff: &Staff, on: On<'_>, id: i64) -> Result<ReceiptRow, Error> {
    ctx.store.receipt_by_id(on, staff.school()?, id).await?.ok_or_else(no_receipt)
}

/// Sends a receipt's SMS and mail again (the student lost them, or changed phone).
pub async fn resend(ctx: &Context, staff: &Staff, client: &Client, id: i64) -> Result<(), Error> {
    staff.require(Permission::ManageStudentAccounts)?;
    let r = own(ctx, staff, On::Pool, id).await?;
    let mut tx = ctx.store.write_tx().await?;
    jobs::enqueue(ctx, &mut tx, &Job::SmsReceipt { school_id: r.school_id, receipt_id: r.id }).await?;
    jobs::enqueue(ctx, &mut tx, &Job::MailReceipt { school_id: r.school_id, receipt_id: r.id }).await?;
    let subject = format!("receipt:{}", r.id);
    let what = Audited {
        action: AuditAction::ReceiptResent,
        subject: &subject,
        before: None,
        after: Some(serde_json::json!({"code": r.code, "number": r.number})),
    };
    audit(ctx, &mut tx, staff, client, &what).await?;
    tx.commit().await?;
    Ok(())
}

/// The corrected payer of a reissue.
pub struct TitleCorrection<'a> {
    /// `individual` or `company`
    pub kind: &'a str,
    pub title: &'a str,
    /// 统一社会信用代码, for a company.
    pub credit_code: &'a str,
    pub reason: &'a str,
}

fn refused(code: &'static str, zh: impl Into<String>, en: &'static str, field: &'static str) -> Error {
    Error::new(ErrorKind::Refused, code, zh, en).field(field)
}

/// Locks what the receipt was issued for, so a reissue and an issuing job never cross.
async fn lock_source(ctx: &Context, tx: &mut WriteTx, r: &ReceiptRow) -> Result<(), Error> {
    match r.order_id {
        Some(order_id) => ctx.store.lock_order(tx, order_id).await.map(|_| ())?,
        None => ctx.store.lock_student(tx, r.student_id).await?,
    }
    Ok(())
}

/// Voids a receipt and issues it again with the corrected payer. Returns the new receipt.
pub async fn reissue(ctx: &Context, staff: &Staff, client: &Client, id: i64, t: &TitleCorrection<'_>) -> Result<ReceiptView, Error> {
    staff.require(Permission::AdjustCharges)?;
    let title = t.title.trim();
    if title.is_empty() || title.chars().count() > 100 {
        return Err(refused("invalid_title", "请填写交款人（发票抬头），不超过100字", "Enter the payer's title", "title"));
    }
    let reason = t.reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(refused("reason_required", "请填写更正原因", "Give the reason for the correction", "reason"));
    }
    let credit_code = match t.kind {
        "individual" => String::new(),
        "company" => validate_credit_code(t.credit_code)
            .map_err(|e| refused("invalid_credit_code", e.to_string(), "The unified social credit code is not valid", "credit_code"))?,
        _ => return Err(refused("invalid_kind", "抬头类型应为个人或单位", "The kind is individual or company", "kind")),
    };
    let r = own(ctx, staff, On::Pool, id).await?;
    let mut tx = ctx.store.write_tx().await?;
    lock_source(ctx, &mut tx, &r).await?;
    // Read again under the lock: a refund or another correction may have moved it.
    let r = own(ctx, staff, On::Tx(&mut tx), id).await?;
    if r.kind != ReceiptKind::Normal || r.status != ReceiptStatus::Issued {
        return Err(Error::new(
            ErrorKind::Conflict,
            "receipt_not_issued",
            format!("该票据{}，不能更正重开", r.status.label_zh()),
            "Only a valid, normal receipt can be corrected",
        ));
    }
    let new_id = void_and_reissue(ctx, &mut tx, &r, title, &credit_code, reason).await?;
    let subject = format!("receipt:{}", r.id);
    let what = Audited {
        action: AuditAction::ReceiptReissued,
        subject: &subject,
        before: Some(serde_json::json!({"number": r.number, "payer": r.payer})),
        after: Some(serde_json::json!({"receipt": new_id, "payer": title, "credit_code": credit_code, "reason": reason})),
    };
    audit(ctx, &mut tx, staff, client, &what).await?;
    tx.commit().await?;
    let new = ctx.store.receipt_by_id(On::Pool, r.school_id, new_id).await?.ok_or_else(Error::internal)?;
    Ok(crate::receipts::view_of(ctx, &new))
}

/// A receipt's PDF, for any student of the staff member's school.
pub async fn pdf(ctx: &Context, staff: &Staff, id: i64) -> Result<(String, Vec<u8>), Error> {
    staff.require(Permission::ViewStudents)?;
    crate::receipts::pdf_of(ctx, staff.school()?, None, id).await
}
