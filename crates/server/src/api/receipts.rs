//! Electronic receipts: the student's list and PDFs, and the public verification.

use super::ApiJson;
use crate::AppState;
use crate::error::{ErrorBody, HttpError};
use crate::web::StudentSession;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use campuspay_app::receipts::{self, ReceiptView};
use campuspay_domain::time::format_shanghai;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Serialize, ToSchema)]
pub struct ReceiptEntry {
    id: i64,
    /// 票据代码
    code: String,
    /// 票据号码
    number: String,
    /// 校验码
    check_code: String,
    /// 开票日期, Shanghai time.
    issued_at: String,
    /// Negative on a red-letter receipt (冲红).
    amount_fen: i64,
    /// 交款人
    payer: String,
    /// 票据类型
    receipt_type: String,
    /// `normal` or `red_letter`.
    kind: String,
    /// `issued`, `red_lettered` or `void`.
    status: String,
    pdf_url: String,
    verify_url: String,
}

impl From<&ReceiptView> for ReceiptEntry {
    fn from(r: &ReceiptView) -> ReceiptEntry {
        ReceiptEntry {
            id: r.id,
            code: r.code.clone(),
            number: r.number.clone(),
            check_code: r.check_code.clone(),
            issued_at: format_shanghai(r.issued_at),
            amount_fen: r.amount.0,
            payer: r.payer.clone(),
            receipt_type: r.receipt_type.clone(),
            kind: r.kind.to_string(),
            status: r.status.to_string(),
            pdf_url: format!("/api/v1/student/receipts/{}/pdf", r.id),
            verify_url: r.verify_url.clone(),
        }
    }
}

/// 电子票据: every receipt of the student, newest first.
#[utoipa::path(get, path = "/api/v1/student/receipts", security(("bearer" = [])), responses((status = 200, description = "电子票据", body = Vec<ReceiptEntry>)))]
pub async fn list(State(state): State<AppState>, StudentSession(s): StudentSession) -> Result<ApiJson<Vec<ReceiptEntry>>, HttpError> {
    let list = receipts::receipts_of_student(&state, s.school_id, s.student_id).await?;
    Ok(ApiJson(list.iter().map(ReceiptEntry::from).collect()))
}

/// A PDF answer, shown inline (a browser opens it; "save" keeps the file name).
pub fn pdf_response(name: &str, pdf: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (header::CONTENT_DISPOSITION, format!("inline; filename=\"{name}\"")),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        pdf,
    )
        .into_response()
}

/// The receipt as a PDF (a fiscal e-receipt's layout, with the QR to its verify page).
#[utoipa::path(get, path = "/api/v1/student/receipts/{id}/pdf", params(("id" = i64, Path)), security(("bearer" = [])), responses(
    (status = 200, description = "PDF", content_type = "application/pdf", body = Vec<u8>),
    (status = 404, description = "没有这张票据", body = ErrorBody),
))]
pub async fn pdf(State(state): State<AppState>, StudentSession(s): StudentSession, Path(id): Path<i64>) -> Result<Response, HttpError> {
    let (name, pdf) = receipts::pdf_of(&state, s.school_id, Some(s.student_id), id).await?;
    Ok(pdf_response(&name, pdf))
}

#[derive(Deserialize, IntoParams)]
pub struct VerifyQuery {
    /// 票据代码
    #[serde(default)]
    pub code: String,
    /// 票据号码
    #[serde(default)]
    pub number: String,
    /// 校验码
    #[serde(default)]
    pub check_code: String,
}

#[derive(Serialize, ToSchema)]
pub struct Verified {
    /// True only for a genuine receipt that still stands.
    valid: bool,
    /// `valid`, `red_lettered`, `void` or `unknown` (no such receipt, or altered).
    status: String,
    amount_fen: Option<i64>,
    /// 收款单位
    payee: Option<String>,
    issued_at: Option<String>,
}

/// Public check of a receipt by 票据代码 + 票据号码 + 校验码 (no login).
#[utoipa::path(get, path = "/api/v1/receipts/verify", params(VerifyQuery), responses((status = 200, description = "查验结果", body = Verified)))]
pub async fn verify(State(state): State<AppState>, Query(q): Query<VerifyQuery>) -> Result<ApiJson<Verified>, HttpError> {
    let a = receipts::verify(&state, &q.code, &q.number, &q.check_code).await?;
    Ok(ApiJson(Verified {
        valid: a.valid(),
        status: a.status.as_str().to_string(),
        amount_fen: a.data.as_ref().map(|d| d.amount_fen),
        payee: a.data.as_ref().map(|d| d.payee.clone()),
        issued_at: a.data.as_ref().map(|d| format_shanghai(d.issued_at)),
    }))
}
