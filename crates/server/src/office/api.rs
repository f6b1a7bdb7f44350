//! `/api/v1/office/…`: the office's JSON API.

use super::StaffSession;
use crate::AppState;
use crate::api::ApiJson;
use crate::error::ErrorBody;
use crate::error::HttpError;
use crate::web::Client;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use campuspay_app::office::{Staff, audit_log, auth, payments, students};
use campuspay_domain::time::format_shanghai;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The office's routes with their descriptions, merged into the API's document.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(change_password))
        .routes(routes!(totp_setup))
        .routes(routes!(totp_confirm))
        .routes(routes!(student_file))
        .routes(routes!(reset_password))
        .routes(routes!(unlock))
        .routes(routes!(edit_contact))
        .routes(routes!(audit))
        .routes(routes!(audit_export))
        .routes(routes!(offline_payment))
        .merge(super::charges::api())
        .merge(super::imports::api())
        .merge(super::announcements::api())
        .merge(super::schools::api())
        .merge(super::merchants::api())
        .merge(super::staff::api())
        .merge(super::search::api())
        .merge(super::receipts::api())
        .merge(super::money::api())
        .merge(super::reports::api())
        .merge(super::money_reports::api())
        .merge(super::statement_import::api())
        .merge(super::exports::api())
}

#[derive(Deserialize, ToSchema)]
pub struct LoginBody {
    /// The school's code, or `platform` for the platform's operators.
    school: String,
    login: String,
    password: String,
    /// The 6-digit code of the authenticator app, for staff who set up a second factor.
    #[serde(default)]
    totp: Option<String>,
}

/// Who is logged in, and what they may do.
#[derive(Serialize, ToSchema)]
pub struct StaffView {
    login: String,
    name: String,
    role: &'static str,
    role_name: &'static str,
    permissions: Vec<&'static str>,
    /// The school's code; `null` for the platform's operators.
    school: Option<String>,
    /// A one-time password is in use: change it first (`POST /api/v1/office/password`).
    must_change_password: bool,
    /// The school requires a second factor for this role: set it up first
    /// (`POST /api/v1/office/totp/setup`, then `…/totp/confirm`).
    must_enrol_totp: bool,
}

#[derive(Serialize, ToSchema)]
pub struct LoginAnswer {
    token: String,
    #[serde(flatten)]
    staff: StaffView,
}

async fn view(state: &AppState, staff: &Staff) -> Result<StaffView, HttpError> {
    let school = match staff.school_id {
        Some(id) => state.store.school_by_id(id).await?.map(|s| s.code),
        None => None,
    };
    Ok(StaffView {
        login: staff.login.clone(),
        name: staff.name.clone(),
        role: staff.role.as_str(),
        role_name: staff.role.label_zh(),
        permissions: staff.role.permissions().iter().map(|p| p.as_str()).collect(),
        school,
        must_change_password: staff.must_change_password,
        must_enrol_totp: staff.must_enrol_totp,
    })
}

/// Log in as staff of a school's finance office (`school`: its code, or `platform`).
///
/// 10 wrong passwords of one account lock it for 15 minutes; each attempt is counted before
/// the password is checked, however many arrive at once.
#[utoipa::path(post, path = "/api/v1/office/login", tag = "office", request_body = LoginBody, responses(
    (status = 200, description = "登录成功", body = LoginAnswer),
    (status = 400, description = "请求格式有误", body = ErrorBody),
    (status = 401, description = "账号或密码有误", body = ErrorBody),
    (status = 423, description = "账号已锁定", body = ErrorBody),
    (status = 429, description = "尝试次数过多", body = ErrorBody),
))]
async fn login(State(state): State<AppState>, client: Client, ApiJson(b): ApiJson<LoginBody>) -> Result<ApiJson<LoginAnswer>, HttpError> {
    let input = auth::StaffLoginInput { school: &b.school, login: &b.login, password: &b.password, totp: b.totp.as_deref() };
    let out = auth::login(&state, &input, &client).await?;
    Ok(ApiJson(LoginAnswer { token: out.token, staff: view(&state, &out.staff).await? }))
}

/// End this staff session.
#[utoipa::path(post, path = "/api/v1/office/logout", tag = "office", security(("bearer" = [])), responses((status = 204, description = "已退出")))]
async fn logout(State(state): State<AppState>, client: Client, s: StaffSession) -> Result<StatusCode, HttpError> {
    auth::logout(&state, &s.staff, &s.session, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who is logged in, their role and permissions.
#[utoipa::path(get, path = "/api/v1/office/me", tag = "office", security(("bearer" = [])), responses((status = 200, description = "当前人员", body = StaffView)))]
async fn me(State(state): State<AppState>, s: StaffSession) -> Result<ApiJson<StaffView>, HttpError> {
    Ok(ApiJson(view(&state, &s.staff).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordBody {
    old_password: String,
    new_password: String,
}

/// Change one's own password (a one-time password first of all); other sessions end.
#[utoipa::path(post, path = "/api/v1/office/password", tag = "office", security(("bearer" = [])), request_body = PasswordBody, responses(
    (status = 204, description = "已修改"),
    (status = 422, description = "原密码有误或新密码太弱", body = ErrorBody),
))]
async fn change_password(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    ApiJson(b): ApiJson<PasswordBody>,
) -> Result<StatusCode, HttpError> {
    auth::change_password(&state, &s.staff, &s.session, &b.old_password, &b.new_password, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct TotpSetup {
    /// Base32, for typing into the app by hand.
    secret: String,
    /// `otpauth://totp/…`, for the app's QR code.
    uri: String,
}

/// Start setting up a second factor: a new secret for an authenticator app, in force once a
/// code confirms it.
#[utoipa::path(post, path = "/api/v1/office/totp/setup", tag = "office", security(("bearer" = [])), responses(
    (status = 200, description = "新的密钥", body = TotpSetup),
))]
async fn totp_setup(State(state): State<AppState>, s: StaffSession) -> Result<ApiJson<TotpSetup>, HttpError> {
    let e = campuspay_app::office::totp::setup(&state, &s.staff).await?;
    Ok(ApiJson(TotpSetup { secret: e.secret, uri: e.uri }))
}

#[derive(Deserialize, ToSchema)]
pub struct TotpConfirmBody {
    code: String,
}

/// Confirm the second factor with a code from the app; every later login asks for a code.
#[utoipa::path(post, path = "/api/v1/office/totp/confirm", tag = "office", security(("bearer" = [])), request_body = TotpConfirmBody, responses(
    (status = 204, description = "已启用"),
    (status = 401, description = "验证码不正确", body = ErrorBody),
    (status = 422, description = "尚未开始设置", body = ErrorBody),
))]
async fn totp_confirm(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    ApiJson(b): ApiJson<TotpConfirmBody>,
) -> Result<StatusCode, HttpError> {
    campuspay_app::office::totp::confirm(&state, &s.staff, &client, &b.code).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct StudentInfo {
    student_no: String,
    name: String,
    gender: String,
    id_card: String,
    phone: String,
    email: String,
    department: String,
    major: String,
    level: String,
    class_name: String,
    enrol_year: i64,
}

#[derive(Serialize, ToSchema)]
pub struct ChargeInfo {
    id: i64,
    item: String,
    item_code: String,
    period: String,
    period_name: String,
    total_fen: i64,
    discount_fen: i64,
    payable_fen: i64,
    paid_fen: i64,
    arrears_fen: i64,
    state: &'static str,
    state_label: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct OrderInfo {
    order_no: String,
    total_fen: i64,
    status: String,
    created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct PaymentInfo {
    order_no: String,
    channel: String,
    txn_id: String,
    amount_fen: i64,
    disposition: String,
    at: String,
}

#[derive(Serialize, ToSchema)]
pub struct LedgerInfo {
    id: i64,
    charge_id: Option<i64>,
    kind: String,
    amount_fen: i64,
    reference: String,
    memo: String,
    at: String,
}

/// The counter's view of one student (`GET /api/v1/office/students/{student_no}`).
#[derive(Serialize, ToSchema)]
pub struct StudentFileView {
    student: StudentInfo,
    charges: Vec<ChargeInfo>,
    total_arrears_fen: i64,
    balance_fen: i64,
    orders: Vec<OrderInfo>,
    payments: Vec<PaymentInfo>,
    ledger: Vec<LedgerInfo>,
}

/// The counter's view of a student of the staff member's school (`view_students`).
#[utoipa::path(get, path = "/api/v1/office/students/{student_no}", tag = "office", security(("bearer" = [])),
    params(("student_no" = String, Path, description = "学号")), responses(
    (status = 200, description = "学生信息、应收、订单、缴费和流水", body = StudentFileView),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 404, description = "本校没有该学号的学生", body = ErrorBody),
))]
async fn student_file(
    State(state): State<AppState>,
    s: StaffSession,
    Path(no): Path<String>,
) -> Result<ApiJson<StudentFileView>, HttpError> {
    let f = students::file(&state, &s.staff, &no).await?;
    let st = &f.overview.student;
    Ok(ApiJson(StudentFileView {
        student: StudentInfo {
            student_no: st.student_no.clone(),
            name: st.name.clone(),
            gender: st.gender.clone(),
            id_card: st.id_card.clone(),
            phone: st.phone.clone(),
            email: st.email.clone(),
            department: st.department.clone(),
            major: st.major.clone(),
            level: st.level.clone(),
            class_name: st.class_name.clone(),
            enrol_year: st.enrol_year,
        },
        charges: f
            .overview
            .charges
            .iter()
            .map(|c| ChargeInfo {
                id: c.view.id,
                item: c.view.item_name.clone(),
                item_code: c.view.item_code.clone(),
                period: c.view.period_code.clone(),
                period_name: c.view.period_name.clone(),
                total_fen: c.view.amounts.total.0,
                discount_fen: c.view.amounts.discount.0,
                payable_fen: c.payable.0,
                paid_fen: c.view.amounts.paid.0,
                arrears_fen: c.arrears.0,
                state: c.state.as_str(),
                state_label: c.state.label_zh(),
            })
            .collect(),
        total_arrears_fen: f.overview.total_arrears.0,
        balance_fen: f.balance.0,
        orders: f
            .orders
            .iter()
            .map(|o| OrderInfo {
                order_no: o.order_no.clone(),
                total_fen: o.total.0,
                status: o.status.to_string(),
                created_at: format_shanghai(o.created_at),
            })
            .collect(),
        payments: f
            .payments
            .iter()
            .map(|p| PaymentInfo {
                order_no: p.order_no.clone(),
                channel: p.channel.to_string(),
                txn_id: p.txn_id.clone(),
                amount_fen: p.amount.0,
                disposition: p.disposition.to_string(),
                at: format_shanghai(p.created_at),
            })
            .collect(),
        ledger: f
            .ledger
            .iter()
            .map(|l| LedgerInfo {
                id: l.id,
                charge_id: l.charge_id,
                kind: l.kind.to_string(),
                amount_fen: l.amount.0,
                reference: l.reference.clone(),
                memo: l.memo.clone(),
                at: format_shanghai(l.created_at),
            })
            .collect(),
    }))
}

/// Reset a student's password to the school's initial rule (`manage_student_accounts`): a
/// change is forced at the next login and every session ends.
#[utoipa::path(post, path = "/api/v1/office/students/{student_no}/reset-password", tag = "office", security(("bearer" = [])),
    params(("student_no" = String, Path, description = "学号")), responses(
    (status = 204, description = "已重置"),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 404, description = "本校没有该学号的学生", body = ErrorBody),
))]
async fn reset_password(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    Path(no): Path<String>,
) -> Result<StatusCode, HttpError> {
    students::reset_password(&state, &s.staff, &client, &no).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Unlock a student's account locked by failed logins (`manage_student_accounts`).
#[utoipa::path(post, path = "/api/v1/office/students/{student_no}/unlock", tag = "office", security(("bearer" = [])),
    params(("student_no" = String, Path, description = "学号")), responses(
    (status = 204, description = "已解锁"),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 404, description = "本校没有该学号的学生", body = ErrorBody),
))]
async fn unlock(State(state): State<AppState>, client: Client, s: StaffSession, Path(no): Path<String>) -> Result<StatusCode, HttpError> {
    students::unlock(&state, &s.staff, &client, &no).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct ContactBody {
    #[serde(default)]
    phone: String,
    #[serde(default)]
    email: String,
}

/// Correct a student's phone and e-mail (`edit_students`); empty clears.
#[utoipa::path(post, path = "/api/v1/office/students/{student_no}/contact", tag = "office", security(("bearer" = [])),
    params(("student_no" = String, Path, description = "学号")), request_body = ContactBody, responses(
    (status = 204, description = "已修改"),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 404, description = "本校没有该学号的学生", body = ErrorBody),
    (status = 422, description = "手机号或邮箱格式有误", body = ErrorBody),
))]
async fn edit_contact(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    Path(no): Path<String>,
    ApiJson(b): ApiJson<ContactBody>,
) -> Result<StatusCode, HttpError> {
    students::edit_contact(&state, &s.staff, &client, &no, &b.phone, &b.email).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    /// Unix seconds.
    since: Option<i64>,
    until: Option<i64>,
    before_id: Option<i64>,
    limit: Option<i64>,
}

#[derive(Deserialize, IntoParams)]
pub struct ExportQuery {
    actor: Option<String>,
    action: Option<String>,
    /// Unix seconds.
    since: Option<i64>,
    until: Option<i64>,
    /// `xlsx` (default) or `csv` (UTF-8 with BOM).
    #[serde(default)]
    format: String,
}

/// The audit log as a file, newest first, at most 100,000 rows (`view_audit`); the export
/// is itself audited.
#[utoipa::path(get, path = "/api/v1/office/audit/export", tag = "office", security(("bearer" = [])), params(ExportQuery), responses(
    (status = 200, description = "审计日志文件", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    (status = 403, description = "没有权限", body = ErrorBody),
))]
async fn audit_export(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    Query(q): Query<ExportQuery>,
) -> Result<axum::response::Response, HttpError> {
    use axum::response::IntoResponse;
    let format = audit_log::ExportFormat::parse(&q.format)?;
    let filter = filter_of(AuditQuery { actor: q.actor, action: q.action, since: q.since, until: q.until, before_id: None, limit: None });
    let file = audit_log::export(&state, &s.staff, &client, &filter, format).await?;
    let (mime, ext) = match format {
        audit_log::ExportFormat::Csv => ("text/csv; charset=utf-8", "csv"),
        audit_log::ExportFormat::Xlsx => ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    };
    let name = format!("audit-{}.{ext}", campuspay_domain::time::format_shanghai_date(state.clock.now()));
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, mime.to_string()),
            (axum::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        file.bytes,
    )
        .into_response())
}

fn filter_of(q: AuditQuery) -> campuspay_store::office::AuditFilter {
    campuspay_store::office::AuditFilter {
        actor: q.actor,
        action: q.action,
        since: q.since,
        until: q.until,
        before_id: q.before_id,
        limit: q.limit.unwrap_or(100),
    }
}

#[derive(Serialize, ToSchema)]
pub struct AuditEntry {
    id: i64,
    actor: String,
    action: String,
    /// What the action recorded: role, subject, before/after, IP, user agent.
    #[schema(value_type = Object)]
    detail: serde_json::Value,
    at: String,
}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    entries: Vec<AuditEntry>,
}

/// The school's audit log, newest first (`view_audit`).
#[utoipa::path(get, path = "/api/v1/office/audit", tag = "office", security(("bearer" = [])), params(AuditQuery), responses(
    (status = 200, description = "审计日志", body = AuditPage),
    (status = 403, description = "没有权限", body = ErrorBody),
))]
async fn audit(State(state): State<AppState>, s: StaffSession, Query(q): Query<AuditQuery>) -> Result<ApiJson<AuditPage>, HttpError> {
    let filter = filter_of(q);
    let rows = audit_log::search(&state, &s.staff, &filter).await?;
    Ok(ApiJson(AuditPage {
        entries: rows
            .into_iter()
            .map(|r| AuditEntry {
                id: r.id,
                actor: r.actor,
                action: r.action,
                // Rows written before details were JSON keep their text.
                detail: serde_json::from_str(&r.detail).unwrap_or(serde_json::Value::String(r.detail)),
                at: format_shanghai(r.at),
            })
            .collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct OfflineLineBody {
    charge_id: i64,
    amount_fen: i64,
}

#[derive(Deserialize, ToSchema)]
pub struct OfflinePaymentBody {
    student_no: String,
    lines: Vec<OfflineLineBody>,
    /// `cash`, `pos` or `bank_transfer`.
    method: String,
    /// The receipt book's, POS slip's or bank's reference; the same one twice is one payment.
    reference: String,
}

#[derive(Serialize, ToSchema)]
pub struct OfflinePaymentAnswer {
    id: i64,
    total_fen: i64,
    /// This exact payment had been recorded before (a double submit): nothing new was written.
    already_recorded: bool,
}

/// Record money taken at the counter against the student's charges (`record_offline_payments`).
#[utoipa::path(post, path = "/api/v1/office/offline-payments", tag = "office", security(("bearer" = [])), request_body = OfflinePaymentBody, responses(
    (status = 200, description = "已登记（或此前已登记过同一笔）", body = OfflinePaymentAnswer),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 404, description = "本校没有该学生或该收费项目", body = ErrorBody),
    (status = 409, description = "该项目在待支付的在线订单中，或凭证号已用于另一笔收款", body = ErrorBody),
    (status = 422, description = "金额、方式或凭证号有误", body = ErrorBody),
))]
async fn offline_payment(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    ApiJson(b): ApiJson<OfflinePaymentBody>,
) -> Result<ApiJson<OfflinePaymentAnswer>, HttpError> {
    let lines: Vec<payments::OfflineLine> =
        b.lines.iter().map(|l| payments::OfflineLine { charge_id: l.charge_id, amount: campuspay_domain::Fen(l.amount_fen) }).collect();
    let input = payments::OfflinePaymentInput { student_no: &b.student_no, lines: &lines, method: &b.method, reference: &b.reference };
    let done = payments::record(&state, &s.staff, &client, &input).await?;
    Ok(ApiJson(OfflinePaymentAnswer { id: done.id, total_fen: done.total.0, already_recorded: done.already_recorded }))
}
