//! `/api/v1/office/…` for the office's reports: the collection report (JSON or xlsx) with its
//! drill-down, and the reconciliation of a day with its re-run.

use super::StaffSession;
use crate::AppState;
use crate::api::ApiJson;
use crate::error::{ErrorBody, HttpError};
use crate::web::Client;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use campuspay_app::office::reports;
use campuspay_domain::time::format_shanghai;
use campuspay_store::reports::{CollectionRow, ReconciliationRow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(collection))
        .routes(routes!(collection_debtors))
        .routes(routes!(reconciliation))
        .routes(routes!(reconciliation_run))
}

#[derive(Serialize, ToSchema)]
pub struct CollectionFigures {
    /// The group (a department, major, class, level or fee item); `合计` in `total`.
    key: String,
    students: i64,
    /// As issued, less discounts.
    charged_fen: i64,
    /// Waived and cancelled.
    waived_fen: i64,
    /// All money applied: online, offline and from balances.
    paid_fen: i64,
    paid_online_fen: i64,
    paid_offline_fen: i64,
    paid_balance_fen: i64,
    /// What went back to payers.
    refunded_fen: i64,
    /// charged − waived − paid + refunded.
    outstanding_fen: i64,
    /// Collected (paid − refunded) per mille of what was due (charged − waived).
    collected_permille: i64,
}

fn figures(r: &CollectionRow) -> CollectionFigures {
    CollectionFigures {
        key: r.key.clone(),
        students: r.students,
        charged_fen: r.charged.0,
        waived_fen: r.waived.0,
        paid_fen: r.paid().0,
        paid_online_fen: r.paid_online.0,
        paid_offline_fen: r.paid_offline.0,
        paid_balance_fen: r.paid_balance.0,
        refunded_fen: r.refunded.0,
        outstanding_fen: r.outstanding().0,
        collected_permille: reports::collected_permille(r),
    }
}

#[derive(Serialize, ToSchema)]
pub struct CollectionReport {
    period: String,
    by: &'static str,
    rows: Vec<CollectionFigures>,
    /// The sum of the rows.
    total: CollectionFigures,
}

#[derive(Deserialize, IntoParams)]
pub struct CollectionQuery {
    /// The period's code.
    period: String,
    /// `department`, `major`, `class` (default), `item` or `level`.
    #[serde(default)]
    by: String,
    /// `xlsx` for a workbook; JSON otherwise.
    #[serde(default)]
    format: String,
}

/// Collection progress of a period, from the ledger (`view_reports`); `format=xlsx` for a workbook.
#[utoipa::path(get, path = "/api/v1/office/reports/collection", tag = "office", security(("bearer" = [])), params(CollectionQuery), responses(
    (status = 200, description = "收缴进度（JSON，或 format=xlsx 时为 Excel 工作簿）", body = CollectionReport),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 404, description = "本校没有这个收费期间", body = ErrorBody),
    (status = 422, description = "分组或格式有误", body = ErrorBody),
))]
async fn collection(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    Query(q): Query<CollectionQuery>,
) -> Result<Response, HttpError> {
    let by = reports::parse_by(&q.by)?;
    match q.format.trim() {
        "" | "json" => {
            let r = reports::collection(&state, &s.staff, &q.period, by).await?;
            Ok(ApiJson(CollectionReport {
                period: r.period,
                by: by.as_str(),
                rows: r.rows.iter().map(figures).collect(),
                total: figures(&r.total),
            })
            .into_response())
        }
        "xlsx" => {
            let bytes = reports::collection_xlsx(&state, &s.staff, &client, &q.period, by).await?;
            let name = format!("collection-{}-{}.xlsx", q.period.trim(), by.as_str());
            Ok((
                [
                    (axum::http::header::CONTENT_TYPE, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string()),
                    (axum::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", name.replace(['"', '\\'], ""))),
                ],
                bytes,
            )
                .into_response())
        }
        _ => Err(HttpError::from(
            campuspay_app::Error::new(
                campuspay_app::ErrorKind::Refused,
                "invalid_format",
                "格式只能是 json 或 xlsx",
                "format is json or xlsx",
            )
            .field("format"),
        )),
    }
}

#[derive(Deserialize, IntoParams)]
pub struct DebtorQuery {
    period: String,
    #[serde(default)]
    by: String,
    /// The group to drill into (a row's `key`).
    key: String,
}

#[derive(Serialize, ToSchema)]
pub struct DebtorView {
    student_no: String,
    name: String,
    class_name: String,
    item: String,
    outstanding_fen: i64,
}

/// The students of one report row who still owe, most owed first (`view_reports`).
#[utoipa::path(get, path = "/api/v1/office/reports/collection/debtors", tag = "office", security(("bearer" = [])), params(DebtorQuery), responses(
    (status = 200, description = "欠费学生", body = [DebtorView]),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 404, description = "本校没有这个收费期间", body = ErrorBody),
))]
async fn collection_debtors(
    State(state): State<AppState>,
    s: StaffSession,
    Query(q): Query<DebtorQuery>,
) -> Result<ApiJson<Vec<DebtorView>>, HttpError> {
    let by = reports::parse_by(&q.by)?;
    let rows = reports::debtors(&state, &s.staff, &q.period, by, &q.key).await?;
    Ok(ApiJson(
        rows.into_iter()
            .map(|d| DebtorView {
                student_no: d.student_no,
                name: d.name,
                class_name: d.class_name,
                item: d.item,
                outstanding_fen: d.outstanding.0,
            })
            .collect(),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct ChannelDay {
    /// `wechatpay`, `alipay`, `unionpay`.
    provider: Option<&'static str>,
    /// The statement was read and compared; otherwise `error` says why not.
    ok: bool,
    error: String,
    statement_count: i64,
    statement_fen: i64,
    refund_count: i64,
    refund_fen: i64,
    matched_count: i64,
    matched_fen: i64,
    /// Paid at the provider, unknown to us until this run: settled now.
    settled_now_count: i64,
    settled_now_fen: i64,
    /// On the statement, not in our books.
    missing_ours_count: i64,
    missing_ours_fen: i64,
    /// In our books, not on the statement.
    missing_theirs_count: i64,
    missing_theirs_fen: i64,
    mismatched_count: i64,
    /// Statement payments less statement refunds (the provider's total for the day).
    net_fen: i64,
    /// What the provider kept (手续费), net of fees given back with refunds; absent where the
    /// statement states no fee we read (UnionPay).
    #[serde(skip_serializing_if = "Option::is_none")]
    fee_fen: Option<i64>,
    /// `net_fen − fee_fen`: what the provider settles to the school's account.
    #[serde(skip_serializing_if = "Option::is_none")]
    settlement_fen: Option<i64>,
    /// Read from a file the office uploaded, not fetched from the provider.
    imported: bool,
    /// That file, kept as uploaded: download it from `download`.
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<StatementFileView>,
    reconciled_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct StatementFileView {
    id: i64,
    file_name: String,
    /// Hex SHA-256 of the file as uploaded.
    sha256: String,
    size_bytes: i64,
    /// `/api/v1/office/reconciliation/files/{id}`.
    download: String,
}

pub(super) fn channel_day(r: &ReconciliationRow) -> ChannelDay {
    ChannelDay {
        provider: r.provider.map(|p| p.as_str()),
        ok: r.ok,
        error: r.error.clone(),
        statement_count: r.statement_count,
        statement_fen: r.statement_fen.0,
        refund_count: r.refund_count,
        refund_fen: r.refund_fen.0,
        matched_count: r.matched_count,
        matched_fen: r.matched_fen.0,
        settled_now_count: r.settled_now_count,
        settled_now_fen: r.settled_now_fen.0,
        missing_ours_count: r.missing_ours_count,
        missing_ours_fen: r.missing_ours_fen.0,
        missing_theirs_count: r.missing_theirs_count,
        missing_theirs_fen: r.missing_theirs_fen.0,
        mismatched_count: r.mismatched_count,
        net_fen: r.statement_fen.0 - r.refund_fen.0,
        fee_fen: r.fee_fen.map(|f| f.0),
        settlement_fen: r.fee_fen.map(|f| r.statement_fen.0 - r.refund_fen.0 - f.0),
        imported: r.imported,
        file: r.file.as_ref().map(|f| StatementFileView {
            id: f.id,
            file_name: f.file_name.clone(),
            sha256: f.sha256.clone(),
            size_bytes: f.size_bytes,
            download: format!("/api/v1/office/reconciliation/files/{}", f.id),
        }),
        reconciled_at: format_shanghai(r.created_at),
    }
}

#[derive(Serialize, ToSchema)]
pub struct ReconciliationDay {
    pub(super) date: String,
    /// One per provider; empty when the day has not been reconciled yet.
    pub(super) channels: Vec<ChannelDay>,
}

#[derive(Deserialize, IntoParams)]
pub struct DateQuery {
    /// YYYY-MM-DD (Asia/Shanghai).
    date: String,
}

/// A day's reconciliation per channel, from the stored runs (`view_reports`).
#[utoipa::path(get, path = "/api/v1/office/reconciliation", tag = "office", security(("bearer" = [])), params(DateQuery), responses(
    (status = 200, description = "对账结果", body = ReconciliationDay),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 422, description = "日期有误", body = ErrorBody),
))]
async fn reconciliation(
    State(state): State<AppState>,
    s: StaffSession,
    Query(q): Query<DateQuery>,
) -> Result<ApiJson<ReconciliationDay>, HttpError> {
    let rows = reports::reconciliation(&state, &s.staff, &q.date).await?;
    Ok(ApiJson(ReconciliationDay { date: q.date.trim().to_string(), channels: rows.iter().map(channel_day).collect() }))
}

#[derive(Deserialize, ToSchema)]
pub struct RunBody {
    /// YYYY-MM-DD (Asia/Shanghai), today or earlier.
    date: String,
}

/// Re-run a day's reconciliation for the school (`refund`: it may settle money).
#[utoipa::path(post, path = "/api/v1/office/reconciliation/run", tag = "office", security(("bearer" = [])), request_body = RunBody, responses(
    (status = 200, description = "对账结果", body = ReconciliationDay),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 422, description = "日期有误", body = ErrorBody),
))]
async fn reconciliation_run(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    ApiJson(b): ApiJson<RunBody>,
) -> Result<ApiJson<ReconciliationDay>, HttpError> {
    let rows = reports::rerun(&state, &s.staff, &client, &b.date).await?;
    Ok(ApiJson(ReconciliationDay { date: b.date.trim().to_string(), channels: rows.iter().map(channel_day).collect() }))
}
