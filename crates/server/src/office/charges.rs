//! `/api/v1/office/…` for what a school charges: fee items, periods, standards, charge runs,
//! and adjustments of issued charges with their approvals.

use super::StaffSession;
use crate::AppState;
use crate::api::ApiJson;
use crate::error::{ErrorBody, HttpError};
use crate::web::Client;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use campuspay_app::office::adjustments::{self, Request};
use campuspay_app::office::{catalog, charge_runs};
use campuspay_domain::Fen;
use campuspay_domain::time::format_shanghai;
use campuspay_store::catalog::Selector;
use campuspay_store::charge_runs::RunFilter;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(fee_items, create_fee_item))
        .routes(routes!(periods, create_period))
        .routes(routes!(fee_standards))
        .routes(routes!(charge_run))
        .routes(routes!(waiver))
        .routes(routes!(deferral))
        .routes(routes!(cancellation))
        .routes(routes!(adjustment_list))
        .routes(routes!(approve))
        .routes(routes!(reject))
}

#[derive(Serialize, ToSchema)]
pub struct FeeItemView {
    id: i64,
    code: String,
    name: String,
    category: String,
    receipt_type: String,
    mandatory: bool,
    instalments: bool,
    collecting: bool,
    parent_id: Option<i64>,
}

/// The school's fee items (收费项目) (`view_students`).
#[utoipa::path(get, path = "/api/v1/office/fee-items", tag = "office", security(("bearer" = [])), responses(
    (status = 200, description = "收费项目", body = [FeeItemView]),
    (status = 403, description = "没有权限", body = ErrorBody),
))]
async fn fee_items(State(state): State<AppState>, s: StaffSession) -> Result<ApiJson<Vec<FeeItemView>>, HttpError> {
    let items = catalog::fee_items(&state, &s.staff).await?;
    Ok(ApiJson(
        items
            .into_iter()
            .map(|f| FeeItemView {
                id: f.id,
                code: f.code,
                name: f.name,
                category: f.category,
                receipt_type: f.receipt_type,
                mandatory: f.mandatory,
                instalments: f.instalments,
                collecting: f.collecting,
                parent_id: f.parent_id,
            })
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct NewFeeItemBody {
    code: String,
    name: String,
    #[serde(default)]
    category: String,
    /// 票据类型; items of different types never share an order. Default 行政事业性收费.
    #[serde(default)]
    receipt_type: String,
    #[serde(default)]
    mandatory: bool,
    #[serde(default)]
    instalments: bool,
    #[serde(default)]
    sort: i64,
}

#[derive(Serialize, ToSchema)]
pub struct Created {
    id: i64,
}

/// A new fee item (`manage_fee_standards`).
#[utoipa::path(post, path = "/api/v1/office/fee-items", tag = "office", security(("bearer" = [])), request_body = NewFeeItemBody, responses(
    (status = 200, description = "已创建", body = Created),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 409, description = "代码已存在", body = ErrorBody),
    (status = 422, description = "代码或名称有误", body = ErrorBody),
))]
async fn create_fee_item(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    ApiJson(b): ApiJson<NewFeeItemBody>,
) -> Result<ApiJson<Created>, HttpError> {
    let input = catalog::NewFeeItemInput {
        code: &b.code,
        name: &b.name,
        category: &b.category,
        receipt_type: &b.receipt_type,
        mandatory: b.mandatory,
        instalments: b.instalments,
        sort: b.sort,
    };
    Ok(ApiJson(Created { id: catalog::create_fee_item(&state, &s.staff, &client, &input).await? }))
}

#[derive(Serialize, ToSchema)]
pub struct PeriodView {
    id: i64,
    code: String,
    name: String,
    academic_year: String,
    sort: i64,
}

/// The school's periods (收费期间), newest first (`view_students`).
#[utoipa::path(get, path = "/api/v1/office/periods", tag = "office", security(("bearer" = [])), responses(
    (status = 200, description = "收费期间", body = [PeriodView]),
    (status = 403, description = "没有权限", body = ErrorBody),
))]
async fn periods(State(state): State<AppState>, s: StaffSession) -> Result<ApiJson<Vec<PeriodView>>, HttpError> {
    let rows = catalog::periods(&state, &s.staff).await?;
    Ok(ApiJson(
        rows.into_iter()
            .map(|p| PeriodView { id: p.id, code: p.code, name: p.name, academic_year: p.academic_year, sort: p.sort })
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct NewPeriodBody {
    code: String,
    name: String,
    academic_year: String,
    /// Higher sorts later (and lists first).
    #[serde(default)]
    sort: i64,
}

/// A new period (`manage_fee_standards`).
#[utoipa::path(post, path = "/api/v1/office/periods", tag = "office", security(("bearer" = [])), request_body = NewPeriodBody, responses(
    (status = 200, description = "已创建", body = Created),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 409, description = "代码已存在", body = ErrorBody),
    (status = 422, description = "代码或名称有误", body = ErrorBody),
))]
async fn create_period(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    ApiJson(b): ApiJson<NewPeriodBody>,
) -> Result<ApiJson<Created>, HttpError> {
    let input = catalog::NewPeriodInput { code: &b.code, name: &b.name, academic_year: &b.academic_year, sort: b.sort };
    Ok(ApiJson(Created { id: catalog::create_period(&state, &s.staff, &client, &input).await? }))
}

#[derive(Serialize, ToSchema)]
pub struct FeeStandardView {
    id: i64,
    fee_item: String,
    fee_item_name: String,
    period: String,
    grade: String,
    department: String,
    major: String,
    level: String,
    amount_fen: i64,
}

/// The school's fee standards (收费标准) (`view_students`).
#[utoipa::path(get, path = "/api/v1/office/fee-standards", tag = "office", security(("bearer" = [])), responses(
    (status = 200, description = "收费标准", body = [FeeStandardView]),
    (status = 403, description = "没有权限", body = ErrorBody),
))]
async fn fee_standards(State(state): State<AppState>, s: StaffSession) -> Result<ApiJson<Vec<FeeStandardView>>, HttpError> {
    let rows = catalog::fee_standards(&state, &s.staff).await?;
    Ok(ApiJson(
        rows.into_iter()
            .map(|r| FeeStandardView {
                id: r.id,
                fee_item: r.item_code,
                fee_item_name: r.item_name,
                period: r.period_code,
                grade: r.standard.selector.grade,
                department: r.standard.selector.department,
                major: r.standard.selector.major,
                level: r.standard.selector.level,
                amount_fen: r.standard.amount.0,
            })
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema, Default)]
pub struct FilterBody {
    #[serde(default)]
    grade: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    major: String,
    #[serde(default)]
    level: String,
    #[serde(default)]
    class: String,
}

#[derive(Deserialize, ToSchema)]
pub struct ChargeRunBody {
    /// The fee item's id.
    fee_item: i64,
    /// The period's code.
    period: String,
    /// One amount for every student picked; absent: each student's from the fee standards.
    amount_fen: Option<i64>,
    #[serde(default)]
    filter: FilterBody,
    #[serde(default)]
    dry_run: bool,
}

#[derive(Serialize, ToSchema)]
pub struct ChargeRunAnswer {
    /// `null` for a dry run.
    id: Option<i64>,
    /// `preview` (dry run) or `issued`.
    status: &'static str,
    /// Students who get (or got) a new charge.
    students: i64,
    total_fen: i64,
    /// Students picked who already have this item for this period (skipped).
    already_charged: i64,
    /// Students picked for whom no fee standard matches (skipped).
    without_standard: i64,
    /// This Idempotency-Key had already issued the run: nothing new was written.
    replayed: bool,
}

/// Issue a period's charges to the students a filter picks (`issue_charges`). `dry_run`
/// counts without writing. Send an `Idempotency-Key` header: the same key answers the first
/// run again; and no student ever gets the same item for the same period twice.
#[utoipa::path(post, path = "/api/v1/office/charge-runs", tag = "office", security(("bearer" = [])), request_body = ChargeRunBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "同一键只生成一次")), responses(
    (status = 200, description = "预览或已生成", body = ChargeRunAnswer),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 409, description = "幂等键已用于另一批次", body = ErrorBody),
    (status = 422, description = "项目、期间、金额或筛选有误", body = ErrorBody),
))]
async fn charge_run(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    headers: HeaderMap,
    ApiJson(b): ApiJson<ChargeRunBody>,
) -> Result<ApiJson<ChargeRunAnswer>, HttpError> {
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok());
    let f = b.filter;
    let input = charge_runs::RunInput {
        fee_item_id: b.fee_item,
        period_code: &b.period,
        amount: b.amount_fen.map(Fen),
        filter: RunFilter {
            selector: Selector { grade: f.grade, department: f.department, major: f.major, level: f.level },
            class_name: f.class,
        },
        dry_run: b.dry_run,
    };
    let out = charge_runs::run(&state, &s.staff, &client, &input, key).await?;
    Ok(ApiJson(ChargeRunAnswer {
        id: out.id,
        status: out.status.as_str(),
        students: out.figures.students,
        total_fen: out.figures.total.0,
        already_charged: out.figures.already_charged,
        without_standard: out.figures.without_standard,
        replayed: out.replayed,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct AdjustmentAnswer {
    id: i64,
    /// `waiver`, `deferral` or `cancellation`.
    kind: &'static str,
    amount_fen: i64,
    /// `applied` (in force now), `pending` (waits for a second person), `approved`, `rejected`.
    status: &'static str,
}

fn answer(o: adjustments::Outcome) -> ApiJson<AdjustmentAnswer> {
    ApiJson(AdjustmentAnswer { id: o.id, kind: o.kind.as_str(), amount_fen: o.amount.0, status: o.status.as_str() })
}

#[derive(Deserialize, ToSchema)]
pub struct WaiverBody {
    amount_fen: i64,
    reason: String,
}

/// Waive part or all of a charge (减免, `adjust_charges`). Above the school's threshold it
/// waits for a second person's approval.
#[utoipa::path(post, path = "/api/v1/office/charges/{id}/waivers", tag = "office", security(("bearer" = [])), request_body = WaiverBody,
    params(("id" = i64, Path, description = "应收项目")), responses(
    (status = 200, description = "已生效或待复核", body = AdjustmentAnswer),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 404, description = "本校没有该应收项目", body = ErrorBody),
    (status = 409, description = "该项目在待支付的订单中", body = ErrorBody),
    (status = 422, description = "金额或原因有误", body = ErrorBody),
))]
async fn waiver(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<WaiverBody>,
) -> Result<ApiJson<AdjustmentAnswer>, HttpError> {
    let req = Request::Waiver { amount: Fen(b.amount_fen) };
    Ok(answer(adjustments::request(&state, &s.staff, &client, id, &req, &b.reason).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct DeferralBody {
    /// The last day the student may pay (YYYY-MM-DD).
    until: String,
    reason: String,
}

/// Defer a charge (缓缴, green channel, `adjust_charges`): the student sees the date, and the
/// charge no longer holds back the others until then.
#[utoipa::path(post, path = "/api/v1/office/charges/{id}/deferrals", tag = "office", security(("bearer" = [])), request_body = DeferralBody,
    params(("id" = i64, Path, description = "应收项目")), responses(
    (status = 200, description = "已生效", body = AdjustmentAnswer),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 404, description = "本校没有该应收项目", body = ErrorBody),
    (status = 422, description = "日期或原因有误", body = ErrorBody),
))]
async fn deferral(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<DeferralBody>,
) -> Result<ApiJson<AdjustmentAnswer>, HttpError> {
    let req = Request::Deferral { until: &b.until };
    Ok(answer(adjustments::request(&state, &s.staff, &client, id, &req, &b.reason).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct CancellationBody {
    reason: String,
}

/// Cancel a wrongly issued charge on which nothing was paid (撤销, `adjust_charges`).
#[utoipa::path(post, path = "/api/v1/office/charges/{id}/cancellation", tag = "office", security(("bearer" = [])), request_body = CancellationBody,
    params(("id" = i64, Path, description = "应收项目")), responses(
    (status = 200, description = "已生效或待复核", body = AdjustmentAnswer),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 404, description = "本校没有该应收项目", body = ErrorBody),
    (status = 409, description = "该项目在待支付的订单中", body = ErrorBody),
    (status = 422, description = "已有缴费或原因有误", body = ErrorBody),
))]
async fn cancellation(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<CancellationBody>,
) -> Result<ApiJson<AdjustmentAnswer>, HttpError> {
    Ok(answer(adjustments::request(&state, &s.staff, &client, id, &Request::Cancellation, &b.reason).await?))
}

#[derive(Deserialize, IntoParams)]
pub struct AdjustmentQuery {
    /// Only those waiting for approval.
    #[serde(default)]
    pending: bool,
}

#[derive(Serialize, ToSchema)]
pub struct AdjustmentView {
    id: i64,
    student_no: String,
    student_name: String,
    charge_id: i64,
    item: String,
    period: String,
    kind: &'static str,
    kind_label: &'static str,
    amount_fen: i64,
    until: Option<String>,
    reason: String,
    requested_by: String,
    status: &'static str,
    status_label: &'static str,
    decided_by: Option<String>,
    at: String,
}

#[derive(Serialize, ToSchema)]
pub struct AdjustmentList {
    adjustments: Vec<AdjustmentView>,
}

/// The school's adjustments, newest first; `?pending=true` for the approval queue (`view_students`).
#[utoipa::path(get, path = "/api/v1/office/adjustments", tag = "office", security(("bearer" = [])), params(AdjustmentQuery), responses(
    (status = 200, description = "调整记录", body = AdjustmentList),
    (status = 403, description = "没有权限", body = ErrorBody),
))]
async fn adjustment_list(
    State(state): State<AppState>,
    s: StaffSession,
    Query(q): Query<AdjustmentQuery>,
) -> Result<ApiJson<AdjustmentList>, HttpError> {
    let rows = adjustments::list(&state, &s.staff, q.pending).await?;
    Ok(ApiJson(AdjustmentList {
        adjustments: rows
            .into_iter()
            .map(|a| AdjustmentView {
                id: a.id,
                student_no: a.student_no,
                student_name: a.student_name,
                charge_id: a.charge_id,
                item: a.item_name,
                period: a.period_name,
                kind: a.kind.as_str(),
                kind_label: a.kind.label_zh(),
                amount_fen: a.amount.0,
                until: a.defer_until,
                reason: a.reason,
                requested_by: a.requested_by_login,
                status: a.status.as_str(),
                status_label: a.status.label_zh(),
                decided_by: a.decided_by_login,
                at: format_shanghai(a.created_at),
            })
            .collect(),
    }))
}

#[derive(Deserialize, ToSchema, Default)]
pub struct DecisionBody {
    #[serde(default)]
    note: String,
}

/// Approve another person's pending adjustment (`approve_adjustments`); it takes effect now.
#[utoipa::path(post, path = "/api/v1/office/adjustments/{id}/approve", tag = "office", security(("bearer" = [])), request_body = DecisionBody,
    params(("id" = i64, Path, description = "调整申请")), responses(
    (status = 200, description = "已复核生效", body = AdjustmentAnswer),
    (status = 403, description = "没有权限，或复核自己的申请", body = ErrorBody),
    (status = 404, description = "本校没有该申请", body = ErrorBody),
    (status = 409, description = "已复核过，或该项目已变化", body = ErrorBody),
))]
async fn approve(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<DecisionBody>,
) -> Result<ApiJson<AdjustmentAnswer>, HttpError> {
    Ok(answer(adjustments::decide(&state, &s.staff, &client, id, true, &b.note).await?))
}

/// Reject another person's pending adjustment (`approve_adjustments`).
#[utoipa::path(post, path = "/api/v1/office/adjustments/{id}/reject", tag = "office", security(("bearer" = [])), request_body = DecisionBody,
    params(("id" = i64, Path, description = "调整申请")), responses(
    (status = 200, description = "已驳回", body = AdjustmentAnswer),
    (status = 403, description = "没有权限，或复核自己的申请", body = ErrorBody),
    (status = 404, description = "本校没有该申请", body = ErrorBody),
    (status = 409, description = "已复核过", body = ErrorBody),
))]
async fn reject(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<DecisionBody>,
) -> Result<ApiJson<AdjustmentAnswer>, HttpError> {
    Ok(answer(adjustments::decide(&state, &s.staff, &client, id, false, &b.note).await?))
}
