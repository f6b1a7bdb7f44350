//! Reading receipts: a student's list, the PDF, and the public verification.

use super::ReceiptData;
use crate::{Context, Error, ErrorKind};
use campuspay_documents::receipt_pdf::{ReceiptDoc, ReceiptDocLine, render_receipt};
use campuspay_domain::Fen;
use campuspay_domain::receipt::{ReceiptKind, ReceiptStatus};
use campuspay_domain::time::format_shanghai_date;
use campuspay_store::On;
use campuspay_store::receipts::ReceiptRow;

/// A receipt as the student's list shows it.
#[derive(Debug, Clone)]
pub struct ReceiptView {
    pub id: i64,
    pub code: String,
    pub number: String,
    pub check_code: String,
    pub issued_at: i64,
    pub amount: Fen,
    pub payer: String,
    pub receipt_type: String,
    pub kind: ReceiptKind,
    pub status: ReceiptStatus,
    pub verify_url: String,
}

/// The public page and API that check a receipt: `/receipts/verify?code=&number=&check_code=`.
pub fn verify_url(ctx: &Context, r: &ReceiptRow) -> String {
    format!("{}/receipts/verify?code={}&number={}&check_code={}", ctx.public_url(), r.code, r.number, r.check_code)
}

/// A stored receipt as lists show it.
pub fn view_of(ctx: &Context, r: &ReceiptRow) -> ReceiptView {
    ReceiptView {
        id: r.id,
        code: r.code.clone(),
        number: r.number.clone(),
        check_code: r.check_code.clone(),
        issued_at: r.issued_at,
        amount: r.amount,
        payer: r.payer.clone(),
        receipt_type: r.receipt_type.clone(),
        kind: r.kind,
        status: r.status,
        verify_url: verify_url(ctx, r),
    }
}

pub async fn receipts_of_student(ctx: &Context, school_id: i64, student_id: i64) -> Result<Vec<ReceiptView>, Error> {
    Ok(ctx.store.receipts_of_student(school_id, student_id).await?.iter().map(|r| view_of(ctx, r)).collect())
}

/// The PDF of one of the student's receipts (`student_id` None: the office's, any student of
/// the school). A receipt that no longer stands says so across its face.
pub async fn pdf_of(ctx: &Context, school_id: i64, student_id: Option<i64>, receipt_id: i64) -> Result<(String, Vec<u8>), Error> {
    let r = ctx.store.receipt_by_id(On::Pool, school_id, receipt_id).await?.filter(|r| student_id.is_none_or(|s| s == r.student_id));
    let r = r.ok_or_else(|| Error::new(ErrorKind::NotFound, "receipt_not_found", "没有这张票据", "No such receipt"))?;
    let doc = doc_of(ctx, &r)?;
    let pdf = render_receipt(&doc).map_err(|e| {
        tracing::error!(error = %e, receipt = r.id, "receipt PDF");
        Error::internal()
    })?;
    Ok((format!("receipt-{}-{}.pdf", r.code, r.number), pdf))
}

/// What the PDF of a school's receipt prints (the benchmark renders it in a loop).
pub async fn pdf_doc(ctx: &Context, school_id: i64, receipt_id: i64) -> Result<ReceiptDoc, Error> {
    let r = ctx.store.receipt_by_id(On::Pool, school_id, receipt_id).await?.ok_or_else(Error::not_found)?;
    doc_of(ctx, &r)
}

/// What a stored receipt prints: its sealed data, which carries everything (lines, payer, payee,
/// heading), so the download reads one row and nothing of the school's.
fn doc_of(ctx: &Context, r: &ReceiptRow) -> Result<ReceiptDoc, Error> {
    let data: ReceiptData = serde_json::from_str(&r.data).map_err(|_| Error::internal())?;
    let total = data.amount();
    let doc = ReceiptDoc {
        heading: data.heading,
        authority: data.authority,
        code: r.code.clone(),
        number: r.number.clone(),
        check_code: r.check_code.clone(),
        issued_date: format_shanghai_date(data.issued_at),
        payer: data.payer,
        payer_credit_code: data.payer_credit_code,
        lines: data.lines.into_iter().map(|l| ReceiptDocLine { code: l.code, name: l.name, amount: Fen(l.amount_fen) }).collect(),
        total,
        payee: data.payee,
        payee_credit_code: data.payee_credit_code,
        order_no: data.order_no,
        channel: data.channel,
        txn_id: data.txn_id,
        collector: data.collector,
        reviewer: data.reviewer,
        verify_url: verify_url(ctx, r),
        red_letter_of: data.original,
        stamp: match r.status {
            ReceiptStatus::Issued => String::new(),
            s => s.label_zh().to_string(),
        },
    };
    Ok(doc)
}

/// What verification says of a receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyStatus {
    Valid,
    RedLettered,
    Void,
    /// No receipt has this code, number and check code (or its data was altered).
    Unknown,
}

impl VerifyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyStatus::Valid => "valid",
            VerifyStatus::RedLettered => "red_lettered",
            VerifyStatus::Void => "void",
            VerifyStatus::Unknown => "unknown",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            VerifyStatus::Valid => "票据真实有效",
            VerifyStatus::RedLettered => "票据已冲红",
            VerifyStatus::Void => "票据已作废",
            VerifyStatus::Unknown => "查无此票据，或票据信息被篡改",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            VerifyStatus::Valid => "Genuine and valid",
            VerifyStatus::RedLettered => "Red-lettered (reversed by a refund)",
            VerifyStatus::Void => "Void",
            VerifyStatus::Unknown => "No such receipt, or its data was altered",
        }
    }
}

#[derive(Debug, Clone)]
pub struct VerifyAnswer {
    pub status: VerifyStatus,
    /// The sealed data of a genuine receipt; None when unknown.
    pub data: Option<ReceiptData>,
    pub check_code: String,
}

impl VerifyAnswer {
    pub fn valid(&self) -> bool {
        self.status == VerifyStatus::Valid
    }
}

/// Checks a receipt by 票据代码 + 票据号码 + 校验码, as national checkers ask. Anything that does
/// not match a genuine receipt exactly is unknown: no hint of which part was wrong.
pub async fn verify(ctx: &Context, code: &str, number: &str, check_code: &str) -> Result<VerifyAnswer, Error> {
    let unknown = VerifyAnswer { status: VerifyStatus::Unknown, data: None, check_code: String::new() };
    let (code, number, check_code) = (code.trim(), number.trim(), check_code.trim().to_ascii_uppercase());
    let plain = |s: &str, max: usize| !s.is_empty() && s.len() <= max && s.chars().all(|c| c.is_ascii_alphanumeric());
    if !plain(code, 32) || !plain(number, 32) || !plain(&check_code, 64) {
        return Ok(unknown);
    }
    for r in ctx.store.receipts_by_number(code, number).await? {
        if !crate::crypto::constant_time_eq(r.check_code.as_bytes(), check_code.as_bytes()) {
            continue;
        }
        let genuine = match ctx.issuers.by_name(&r.issuer) {
            Some(issuer) => issuer.check(ctx, &r).await?,
            None => false,
        };
        if !genuine {
            tracing::warn!(receipt = r.id, "a stored receipt does not match its seal");
            return Ok(unknown);
        }
        let status = match r.status {
            ReceiptStatus::Issued => VerifyStatus::Valid,
            ReceiptStatus::RedLettered => VerifyStatus::RedLettered,
            ReceiptStatus::Void => VerifyStatus::Void,
        };
        let data = serde_json::from_str(&r.data).map_err(|_| Error::internal())?;
        return Ok(VerifyAnswer { status, data: Some(data), check_code: r.check_code });
    }
    Ok(unknown)
}
