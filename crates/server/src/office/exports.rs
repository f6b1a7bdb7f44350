//! `/api/v1/office/exports…`: long reports rendered in the background (`office::exports`):
//! ask for one, watch its stages, download the workbook when it is ready.

use super::StaffSession;
use super::money_reports::xlsx;
use crate::AppState;
use crate::api::ApiJson;
use crate::error::{ErrorBody, HttpError};
use crate::web::Client;
use axum::extract::{Path, State};
use axum::response::Response;
use campuspay_app::office::exports::{self, ExportParams};
use campuspay_domain::office::ExportStatus;
use campuspay_domain::time::format_shanghai;
use campuspay_store::exports::ExportRow;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(request, list)).routes(routes!(status)).routes(routes!(file))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// `collection`, `voucher`, `daily` or `arrears_debtors`.
    kind: String,
    /// collection: the period's code.
    #[serde(default)]
    period: Option<String>,
    /// collection: `department`, `major`, `class` (default), `item` or `level`.
    #[serde(default)]
    by: Option<String>,
    /// voucher, daily: first day, YYYY-MM-DD.
    #[serde(default)]
    from: Option<String>,
    /// voucher, daily: last day, included.
    #[serde(default)]
    to: Option<String>,
    /// arrears_debtors: one department (absent: all).
    #[serde(default)]
    department: Option<String>,
    /// arrears_debtors: one academic year (absent: all).
    #[serde(default)]
    academic_year: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ExportView {
    id: i64,
    kind: &'static str,
    kind_name: &'static str,
    /// The report's parameters as checked.
    #[schema(value_type = Object)]
    params: serde_json::Value,
    /// `queued`, `running`, `ready`, `failed` or `expired`.
    status: &'static str,
    status_name: &'static str,
    /// Stages done of `stages`: read the books, write the workbook, store it.
    stage: i64,
    stages: i64,
    /// stage / stages, in per cent.
    percent: i64,
    /// Rows of the workbook, once read.
    rows: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size_bytes: Option<i64>,
    /// Hex SHA-256 of the workbook.
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    /// Why it failed.
    #[serde(skip_serializing_if = "String::is_empty")]
    error: String,
    requested_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    finished_at: Option<String>,
    /// The file is removed then (24 h after it was ready).
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
    /// Where to download it, while it is ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    download: Option<String>,
}

pub(crate) fn view(e: &ExportRow) -> ExportView {
    let ready = e.status == ExportStatus::Ready;
    ExportView {
        id: e.id,
        kind: e.kind.as_str(),
        kind_name: e.kind.label_zh(),
        params: serde_json::from_str(&e.params).unwrap_or(serde_json::Value::Null),
        status: e.status.as_str(),
        status_name: e.status.label_zh(),
        stage: e.stage,
        stages: e.stages,
        percent: if e.stages > 0 { e.stage * 100 / e.stages } else { 0 },
        rows: e.rows_total,
        file_name: ready.then(|| e.file_name.clone()),
        size_bytes: ready.then_some(e.size_bytes),
        sha256: ready.then(|| e.sha256.clone()),
        error: e.error.clone(),
        requested_at: format_shanghai(e.created_at),
        finished_at: e.finished_at.map(format_shanghai),
        expires_at: e.expires_at.map(format_shanghai),
        download: ready.then(|| format!("/api/v1/office/exports/{}/file", e.id)),
    }
}

impl ExportRequest {
    pub(crate) fn params(&self) -> ExportParams {
        ExportParams {
            period: self.period.clone(),
            by: self.by.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            department: self.department.clone(),
            academic_year: self.academic_year.clone(),
        }
    }
}

/// Ask for a report as a workbook rendered in the background (`view_reports`); poll its
/// status, then download it.
#[utoipa::path(post, path = "/api/v1/office/exports", tag = "office", security(("bearer" = [])), request_body = ExportRequest, responses(
    (status = 202, description = "已排队", body = ExportView),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 404, description = "本校没有这个收费期间", body = ErrorBody),
    (status = 422, description = "类型或参数有误", body = ErrorBody),
    (status = 429, description = "本校排队中的导出过多", body = ErrorBody),
))]
async fn request(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    ApiJson(b): ApiJson<ExportRequest>,
) -> Result<(axum::http::StatusCode, ApiJson<ExportView>), HttpError> {
    let e = exports::request(&state, &s.staff, &client, &b.kind, &b.params()).await?;
    Ok((axum::http::StatusCode::ACCEPTED, ApiJson(view(&e))))
}

/// The school's latest 20 exports, newest first (`view_reports`).
#[utoipa::path(get, path = "/api/v1/office/exports", tag = "office", security(("bearer" = [])), responses(
    (status = 200, description = "导出列表", body = [ExportView]),
    (status = 403, description = "没有权限", body = ErrorBody),
))]
async fn list(State(state): State<AppState>, s: StaffSession) -> Result<ApiJson<Vec<ExportView>>, HttpError> {
    Ok(ApiJson(exports::list(&state, &s.staff).await?.iter().map(view).collect()))
}

#[derive(Deserialize, IntoParams)]
pub struct ExportId {
    id: i64,
}

/// One export: its stage, and the download once ready (`view_reports`).
#[utoipa::path(get, path = "/api/v1/office/exports/{id}", tag = "office", security(("bearer" = [])), params(ExportId), responses(
    (status = 200, description = "导出进度", body = ExportView),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 404, description = "本校没有这个导出", body = ErrorBody),
))]
async fn status(
    State(state): State<AppState>,
    s: StaffSession,
    Path(ExportId { id }): Path<ExportId>,
) -> Result<ApiJson<ExportView>, HttpError> {
    Ok(ApiJson(view(&exports::get(&state, &s.staff, id).await?)))
}

/// A ready export's workbook (`view_reports`; audited).
#[utoipa::path(get, path = "/api/v1/office/exports/{id}/file", tag = "office", security(("bearer" = [])), params(ExportId), responses(
    (status = 200, description = "Excel 工作簿", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 404, description = "本校没有这个导出，或文件已过期", body = ErrorBody),
    (status = 409, description = "尚未生成完成", body = ErrorBody),
))]
async fn file(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    Path(ExportId { id }): Path<ExportId>,
) -> Result<Response, HttpError> {
    let (name, bytes) = exports::download(&state, &s.staff, &client, id).await?;
    Ok(xlsx(&name, bytes))
}
