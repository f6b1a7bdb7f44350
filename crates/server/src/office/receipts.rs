//! `/api/v1/office/receipts`: search a school's receipts, send one again, void and reissue one
//! after the payer's title was corrected, and open its PDF.

use super::StaffSession;
use crate::AppState;
use crate::api::ApiJson;
use crate::api::receipts::pdf_response;
use crate::error::{ErrorBody, HttpError};
use crate::web::Client;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use campuspay_app::office::receipts;
use campuspay_app::receipts::ReceiptView;
use campuspay_domain::time::format_shanghai;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search)).routes(routes!(resend)).routes(routes!(reissue)).routes(routes!(pdf))
}

#[derive(Serialize, ToSchema)]
pub struct OfficeReceipt {
    id: i64,
    student_no: String,
    code: String,
    number: String,
    check_code: String,
    issued_at: String,
    amount_fen: i64,
    payer: String,
    receipt_type: String,
    /// `normal` or `red_letter`.
    kind: String,
    /// `issued`, `red_lettered` or `void`.
    status: String,
    verify_url: String,
}

fn entry((r, student_no): &(ReceiptView, String)) -> OfficeReceipt {
    OfficeReceipt {
        id: r.id,
        student_no: student_no.clone(),
        code: r.code.clone(),
        number: r.number.clone(),
        check_code: r.check_code.clone(),
        issued_at: format_shanghai(r.issued_at),
        amount_fen: r.amount.0,
        payer: r.payer.clone(),
        receipt_type: r.receipt_type.clone(),
        kind: r.kind.to_string(),
        status: r.status.to_string(),
        verify_url: r.verify_url.clone(),
    }
}

#[derive(Deserialize, IntoParams)]
pub struct ReceiptSearch {
    /// A receipt number (or part of it), a payer's name, or a source such as `order:12`.
    #[serde(default)]
    q: String,
    student_no: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct OfficeReceipts {
    receipts: Vec<OfficeReceipt>,
}

/// Search the school's receipts (`view_students`).
#[utoipa::path(get, path = "/api/v1/office/receipts", tag = "office", params(ReceiptSearch), security(("bearer" = [])), responses(
    (status = 200, description = "票据", body = OfficeReceipts),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 404, description = "本校没有该学生", body = ErrorBody),
))]
async fn search(
    State(state): State<AppState>,
    s: StaffSession,
    Query(q): Query<ReceiptSearch>,
) -> Result<ApiJson<OfficeReceipts>, HttpError> {
    let found = receipts::search(&state, &s.staff, &q.q, q.student_no.as_deref()).await?;
    Ok(ApiJson(OfficeReceipts { receipts: found.iter().map(entry).collect() }))
}

#[derive(Serialize, ToSchema)]
pub struct Resent {
    queued: bool,
}

/// Send a receipt's SMS and mail again (`manage_student_accounts`; audited).
#[utoipa::path(post, path = "/api/v1/office/receipts/{id}/resend", tag = "office", params(("id" = i64, Path)), security(("bearer" = [])), responses(
    (status = 200, description = "已重新发送", body = Resent),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 404, description = "没有这张票据", body = ErrorBody),
))]
async fn resend(State(state): State<AppState>, client: Client, s: StaffSession, Path(id): Path<i64>) -> Result<ApiJson<Resent>, HttpError> {
    receipts::resend(&state, &s.staff, &client, id).await?;
    Ok(ApiJson(Resent { queued: true }))
}

#[derive(Deserialize, ToSchema)]
pub struct ReissueBody {
    /// `individual` or `company`.
    kind: String,
    /// 交款人 / 发票抬头
    title: String,
    /// 统一社会信用代码 (company).
    #[serde(default)]
    credit_code: String,
    /// 更正原因
    reason: String,
}

/// Void a receipt and reissue it with the corrected payer (`adjust_charges`; audited).
#[utoipa::path(post, path = "/api/v1/office/receipts/{id}/reissue", tag = "office", params(("id" = i64, Path)), request_body = ReissueBody, security(("bearer" = [])), responses(
    (status = 200, description = "原票据已作废，新票据已开具", body = OfficeReceipt),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 404, description = "没有这张票据", body = ErrorBody),
    (status = 409, description = "票据已冲红或已作废", body = ErrorBody),
    (status = 422, description = "抬头或信用代码有误", body = ErrorBody),
))]
async fn reissue(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<ReissueBody>,
) -> Result<ApiJson<OfficeReceipt>, HttpError> {
    let t = receipts::TitleCorrection { kind: &b.kind, title: &b.title, credit_code: &b.credit_code, reason: &b.reason };
    let new = receipts::reissue(&state, &s.staff, &client, id, &t).await?;
    Ok(ApiJson(entry(&(new, String::new()))))
}

/// A receipt's PDF for the office (`view_students`).
#[utoipa::path(get, path = "/api/v1/office/receipts/{id}/pdf", tag = "office", params(("id" = i64, Path)), security(("bearer" = [])), responses(
    (status = 200, description = "PDF", content_type = "application/pdf", body = Vec<u8>),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 404, description = "没有这张票据", body = ErrorBody),
))]
async fn pdf(State(state): State<AppState>, s: StaffSession, Path(id): Path<i64>) -> Result<Response, HttpError> {
    let (name, pdf) = receipts::pdf(&state, &s.staff, id).await?;
    Ok(pdf_response(&name, pdf))
}
