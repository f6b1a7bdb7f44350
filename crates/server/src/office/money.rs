//! `/api/v1/office/…` for the office's money work: refunds and the exception queue.

use super::StaffSession;
use crate::AppState;
use crate::api::ApiJson;
use crate::error::{ErrorBody, HttpError};
use crate::web::Client;
use axum::extract::{Path, Query, State};
use campuspay_app::office::exceptions;
use campuspay_app::office::refunds::{self, RefundLine, Target};
use campuspay_domain::Fen;
use campuspay_domain::time::format_shanghai;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(refund_list, create_refund))
        .routes(routes!(refund_view))
        .routes(routes!(refund_approve))
        .routes(routes!(refund_reject))
        .routes(routes!(exception_list))
        .routes(routes!(exception_view))
        .routes(routes!(exception_resolve))
}

#[derive(Deserialize, ToSchema)]
pub struct RefundLineBody {
    charge_id: i64,
    /// What to give back of this line, in fen (at most what it was paid, less earlier refunds).
    #[schema(minimum = 1)]
    amount_fen: i64,
}

#[derive(Deserialize, ToSchema)]
pub struct RefundBody {
    /// The paid online order to refund (back through its provider). Give this or `offline_payment_id`.
    #[serde(default)]
    order_no: Option<String>,
    /// A counter payment to refund by the office itself (cash or transfer back).
    #[serde(default)]
    offline_payment_id: Option<i64>,
    #[schema(min_items = 1)]
    lines: Vec<RefundLineBody>,
    #[schema(min_length = 1, max_length = 200)]
    reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct RefundAnswer {
    id: i64,
    /// `awaiting_approval`, `rejected`, `pending`, `processing`, `success`, `failed`.
    status: &'static str,
    amount_fen: i64,
}

#[derive(Serialize, ToSchema)]
pub struct RefundLineView {
    charge_id: i64,
    item: String,
    period: String,
    amount_fen: i64,
}

#[derive(Serialize, ToSchema)]
pub struct RefundView {
    id: i64,
    status: &'static str,
    status_name: &'static str,
    /// `channel` (back through the provider) or `offline`.
    method: &'static str,
    order_no: Option<String>,
    offline_payment_id: Option<i64>,
    student_no: String,
    student_name: String,
    amount_fen: i64,
    reason: String,
    maker: String,
    /// Our number of the provider refund, once sent.
    out_refund_no: Option<String>,
    created_at: String,
    finished_at: Option<String>,
    lines: Vec<RefundLineView>,
}

fn bad_target() -> HttpError {
    HttpError::from(
        campuspay_app::Error::new(
            campuspay_app::ErrorKind::Refused,
            "invalid_target",
            "请填写订单号（在线缴费）或线下收款编号，二者选一",
            "Give order_no or offline_payment_id, one of them",
        )
        .field("order_no"),
    )
}

/// Refund lines of a paid order through its provider, or of a counter payment (`refund`).
/// Above the school's threshold it waits for a second person; the money leaves the books only
/// when the provider confirms.
#[utoipa::path(post, path = "/api/v1/office/refunds", tag = "office", security(("bearer" = [])), request_body = RefundBody, responses(
    (status = 201, description = "已发起（或待复核）", body = RefundAnswer),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 404, description = "本校没有该订单、收款或项目", body = ErrorBody),
    (status = 409, description = "订单未支付，或已有一笔退款在处理中", body = ErrorBody),
    (status = 422, description = "金额超过可退金额，或原因有误", body = ErrorBody),
))]
async fn create_refund(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    ApiJson(b): ApiJson<RefundBody>,
) -> Result<(axum::http::StatusCode, ApiJson<RefundAnswer>), HttpError> {
    let target = match (b.order_no.as_deref().map(str::trim).filter(|o| !o.is_empty()), b.offline_payment_id) {
        (Some(no), None) => Target::Order(no),
        (None, Some(id)) => Target::Offline(id),
        _ => return Err(bad_target()),
    };
    let lines: Vec<RefundLine> = b.lines.iter().map(|l| RefundLine { charge_id: l.charge_id, amount: Fen(l.amount_fen) }).collect();
    let o = refunds::request(&state, &s.staff, &client, &target, &lines, &b.reason).await?;
    Ok((axum::http::StatusCode::CREATED, ApiJson(RefundAnswer { id: o.id, status: o.status.as_str(), amount_fen: o.amount.0 })))
}

fn view_of(v: refunds::RefundView) -> RefundView {
    let r = v.refund;
    RefundView {
        id: r.id,
        status: r.status.as_str(),
        status_name: r.status.label_zh(),
        method: r.method.as_str(),
        order_no: r.order_no,
        offline_payment_id: r.offline_payment_id,
        student_no: r.student_no,
        student_name: r.student_name,
        amount_fen: r.amount.0,
        reason: r.reason,
        maker: r.maker,
        out_refund_no: v.out_refund_no,
        created_at: format_shanghai(r.created_at),
        finished_at: r.finished_at.map(format_shanghai),
        lines: v
            .lines
            .into_iter()
            .map(|l| RefundLineView { charge_id: l.charge_id, item: l.item_name, period: l.period_name, amount_fen: l.amount.0 })
            .collect(),
    }
}

/// One refund and where it stands (`view_reports`).
#[utoipa::path(get, path = "/api/v1/office/refunds/{id}", tag = "office", security(("bearer" = [])),
    params(("id" = i64, Path, description = "退款")), responses(
    (status = 200, description = "退款", body = RefundView),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 404, description = "本校没有这笔退款", body = ErrorBody),
))]
async fn refund_view(State(state): State<AppState>, s: StaffSession, Path(id): Path<i64>) -> Result<ApiJson<RefundView>, HttpError> {
    Ok(ApiJson(view_of(refunds::view(&state, &s.staff, id).await?)))
}

#[derive(Deserialize, IntoParams)]
pub struct RefundQuery {
    /// Only refunds in this state.
    #[serde(default)]
    status: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RefundSummary {
    id: i64,
    status: &'static str,
    status_name: &'static str,
    method: &'static str,
    order_no: Option<String>,
    student_no: String,
    student_name: String,
    amount_fen: i64,
    reason: String,
    maker: String,
    created_at: String,
}

/// The school's refunds, newest first (`view_reports`).
#[utoipa::path(get, path = "/api/v1/office/refunds", tag = "office", security(("bearer" = [])), params(RefundQuery), responses(
    (status = 200, description = "退款", body = [RefundSummary]),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 422, description = "未知的状态", body = ErrorBody),
))]
async fn refund_list(
    State(state): State<AppState>,
    s: StaffSession,
    Query(q): Query<RefundQuery>,
) -> Result<ApiJson<Vec<RefundSummary>>, HttpError> {
    let rows = refunds::list(&state, &s.staff, q.status.as_deref()).await?;
    Ok(ApiJson(
        rows.into_iter()
            .map(|r| RefundSummary {
                id: r.id,
                status: r.status.as_str(),
                status_name: r.status.label_zh(),
                method: r.method.as_str(),
                order_no: r.order_no,
                student_no: r.student_no,
                student_name: r.student_name,
                amount_fen: r.amount.0,
                reason: r.reason,
                maker: r.maker,
                created_at: format_shanghai(r.created_at),
            })
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct DecisionBody {
    #[serde(default)]
    note: String,
}

/// Approve another person's refund above the threshold (`approve_adjustments`); it is sent now.
#[utoipa::path(post, path = "/api/v1/office/refunds/{id}/approve", tag = "office", security(("bearer" = [])), request_body = DecisionBody,
    params(("id" = i64, Path, description = "退款")), responses(
    (status = 200, description = "已复核并发出", body = RefundAnswer),
    (status = 403, description = "没有权限，或复核自己的退款", body = ErrorBody),
    (status = 404, description = "本校没有这笔退款", body = ErrorBody),
    (status = 409, description = "已处理过", body = ErrorBody),
))]
async fn refund_approve(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<DecisionBody>,
) -> Result<ApiJson<RefundAnswer>, HttpError> {
    decided(&state, &client, &s, id, true, &b.note).await
}

/// Reject another person's refund above the threshold (`approve_adjustments`).
#[utoipa::path(post, path = "/api/v1/office/refunds/{id}/reject", tag = "office", security(("bearer" = [])), request_body = DecisionBody,
    params(("id" = i64, Path, description = "退款")), responses(
    (status = 200, description = "已驳回", body = RefundAnswer),
    (status = 403, description = "没有权限，或复核自己的退款", body = ErrorBody),
    (status = 404, description = "本校没有这笔退款", body = ErrorBody),
    (status = 409, description = "已处理过", body = ErrorBody),
))]
async fn refund_reject(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<DecisionBody>,
) -> Result<ApiJson<RefundAnswer>, HttpError> {
    decided(&state, &client, &s, id, false, &b.note).await
}

/// The second person's decision, answered with the refund as it now stands.
async fn decided(
    state: &AppState,
    client: &Client,
    s: &StaffSession,
    id: i64,
    approve: bool,
    note: &str,
) -> Result<ApiJson<RefundAnswer>, HttpError> {
    let status = refunds::decide(state, &s.staff, client, id, approve, note).await?;
    let v = refunds::view(state, &s.staff, id).await?;
    Ok(ApiJson(RefundAnswer { id, status: status.as_str(), amount_fen: v.refund.amount.0 }))
}

#[derive(Serialize, ToSchema)]
pub struct ExceptionView {
    id: i64,
    /// `unapplied_money`, `refund_failed`, `statement_unknown`, `missing_from_statement`, `amount_mismatch`.
    kind: &'static str,
    kind_name: &'static str,
    student_no: Option<String>,
    student_name: Option<String>,
    amount_fen: i64,
    /// What shows what happened (statement line, provider's answer, our record), as JSON.
    #[schema(value_type = Object)]
    evidence: serde_json::Value,
    /// `open` or `resolved`.
    status: &'static str,
    /// The actions that may close it.
    actions: Vec<&'static str>,
    resolution: Option<&'static str>,
    note: String,
    resolved_by: Option<String>,
    resolved_at: Option<String>,
    created_at: String,
}

fn exception_json(e: campuspay_store::exceptions::ExceptionRow) -> ExceptionView {
    use campuspay_domain::settlement::ExceptionAction;
    ExceptionView {
        id: e.id,
        kind: e.kind.as_str(),
        kind_name: e.kind.label_zh(),
        student_no: e.student_no,
        student_name: e.student_name,
        amount_fen: e.amount.0,
        evidence: serde_json::from_str(&e.evidence).unwrap_or(serde_json::Value::String(e.evidence)),
        status: if e.open { "open" } else { "resolved" },
        actions: if e.open { ExceptionAction::ALL.into_iter().filter(|a| e.kind.allows(*a)).map(|a| a.as_str()).collect() } else { vec![] },
        resolution: e.resolution.map(|a| a.as_str()),
        note: e.note,
        resolved_by: e.resolved_by,
        resolved_at: e.resolved_at.map(format_shanghai),
        created_at: format_shanghai(e.created_at),
    }
}

#[derive(Deserialize, IntoParams)]
pub struct ExceptionQuery {
    /// `open` (default) or `all`.
    #[serde(default)]
    status: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ExceptionList {
    exceptions: Vec<ExceptionView>,
    open: i64,
}

/// The exception queue: money problems with their evidence (`view_reports`).
#[utoipa::path(get, path = "/api/v1/office/exceptions", tag = "office", security(("bearer" = [])), params(ExceptionQuery), responses(
    (status = 200, description = "异常", body = ExceptionList),
    (status = 403, description = "没有权限", body = ErrorBody),
))]
async fn exception_list(
    State(state): State<AppState>,
    s: StaffSession,
    Query(q): Query<ExceptionQuery>,
) -> Result<ApiJson<ExceptionList>, HttpError> {
    let open_only = q.status.as_deref() != Some("all");
    let rows = exceptions::list(&state, &s.staff, open_only).await?;
    let open = exceptions::open_counts(&state, &s.staff).await?.iter().map(|(_, n)| n).sum();
    Ok(ApiJson(ExceptionList { exceptions: rows.into_iter().map(exception_json).collect(), open }))
}

/// One exception (`view_reports`).
#[utoipa::path(get, path = "/api/v1/office/exceptions/{id}", tag = "office", security(("bearer" = [])),
    params(("id" = i64, Path, description = "异常")), responses(
    (status = 200, description = "异常", body = ExceptionView),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 404, description = "本校没有这条异常", body = ErrorBody),
))]
async fn exception_view(State(state): State<AppState>, s: StaffSession, Path(id): Path<i64>) -> Result<ApiJson<ExceptionView>, HttpError> {
    Ok(ApiJson(exception_json(exceptions::view(&state, &s.staff, id).await?)))
}

#[derive(Deserialize, ToSchema)]
pub struct ResolveBody {
    /// `refund` (send it back again), `credit` (to the student's balance), `apply` (to
    /// another charge of the same student, `charge_id`), `note`, or `retry` (a
    /// `receipt_failed` exception's stopped jobs run again once the cause is fixed).
    action: String,
    /// Required for `note`.
    #[serde(default)]
    note: String,
    #[serde(default)]
    charge_id: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ResolveAnswer {
    id: i64,
    status: &'static str,
    resolution: &'static str,
}

/// Close an exception with an audited action (`refund`); a closed one cannot be closed again.
#[utoipa::path(post, path = "/api/v1/office/exceptions/{id}/resolve", tag = "office", security(("bearer" = [])), request_body = ResolveBody,
    params(("id" = i64, Path, description = "异常")), responses(
    (status = 200, description = "已处理", body = ResolveAnswer),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 404, description = "本校没有这条异常或该收费项目", body = ErrorBody),
    (status = 409, description = "已处理过", body = ErrorBody),
    (status = 422, description = "该类异常不允许此处理方式，或缺少说明", body = ErrorBody),
))]
async fn exception_resolve(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<ResolveBody>,
) -> Result<ApiJson<ResolveAnswer>, HttpError> {
    let r = exceptions::Resolution { action: &b.action, note: &b.note, charge_id: b.charge_id };
    let action = exceptions::resolve(&state, &s.staff, &client, id, &r).await?;
    Ok(ApiJson(ResolveAnswer { id, status: "resolved", resolution: action.as_str() }))
}
