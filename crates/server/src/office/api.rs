//! `/api/v1/office/…`: the office's JSON API.

use super::StaffSession;
use crate::AppState;
use crate::api::ApiJson;
use crate::error::HttpError;
use crate::web::Client;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use campuspay_app::office::{Staff, audit_log, auth, students};
use campuspay_domain::office::Permission;
use campuspay_domain::time::format_shanghai;
use serde::{Deserialize, Serialize};

/// Every office route and the permission its use case checks (`None`: any logged-in staff).
/// The permission walk test visits each with every role; keep it in step with `routes()`.
pub const ROUTES: &[(&str, &str, Option<Permission>)] = &[
    ("POST", "/api/v1/office/login", None),
    ("POST", "/api/v1/office/logout", None),
    ("GET", "/api/v1/office/me", None),
    ("POST", "/api/v1/office/password", None),
    ("GET", "/api/v1/office/students/{student_no}", Some(Permission::ViewStudents)),
    ("POST", "/api/v1/office/students/{student_no}/reset-password", Some(Permission::ManageStudentAccounts)),
    ("GET", "/api/v1/office/audit", Some(Permission::ViewAudit)),
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/office/login", post(login))
        .route("/api/v1/office/logout", post(logout))
        .route("/api/v1/office/me", get(me))
        .route("/api/v1/office/password", post(change_password))
        .route("/api/v1/office/students/{student_no}", get(student_file))
        .route("/api/v1/office/students/{student_no}/reset-password", post(reset_password))
        .route("/api/v1/office/audit", get(audit))
}

#[derive(Deserialize)]
pub struct LoginBody {
    /// The school's code, or `platform` for the platform's operators.
    school: String,
    login: String,
    password: String,
}

/// Who is logged in, and what they may do.
#[derive(Serialize)]
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
}

#[derive(Serialize)]
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
    })
}

async fn login(State(state): State<AppState>, client: Client, ApiJson(b): ApiJson<LoginBody>) -> Result<Json<LoginAnswer>, HttpError> {
    let input = auth::StaffLoginInput { school: &b.school, login: &b.login, password: &b.password };
    let out = auth::login(&state, &input, &client).await?;
    Ok(Json(LoginAnswer { token: out.token, staff: view(&state, &out.staff).await? }))
}

async fn logout(State(state): State<AppState>, client: Client, s: StaffSession) -> Result<StatusCode, HttpError> {
    auth::logout(&state, &s.staff, &s.session, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn me(State(state): State<AppState>, s: StaffSession) -> Result<Json<StaffView>, HttpError> {
    Ok(Json(view(&state, &s.staff).await?))
}

#[derive(Deserialize)]
pub struct PasswordBody {
    old_password: String,
    new_password: String,
}

async fn change_password(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    ApiJson(b): ApiJson<PasswordBody>,
) -> Result<StatusCode, HttpError> {
    auth::change_password(&state, &s.staff, &s.session, &b.old_password, &b.new_password, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize)]
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

#[derive(Serialize)]
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

#[derive(Serialize)]
pub struct OrderInfo {
    order_no: String,
    total_fen: i64,
    status: String,
    created_at: String,
}

#[derive(Serialize)]
pub struct PaymentInfo {
    order_no: String,
    channel: String,
    txn_id: String,
    amount_fen: i64,
    disposition: String,
    at: String,
}

#[derive(Serialize)]
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
#[derive(Serialize)]
pub struct StudentFileView {
    student: StudentInfo,
    charges: Vec<ChargeInfo>,
    total_arrears_fen: i64,
    balance_fen: i64,
    orders: Vec<OrderInfo>,
    payments: Vec<PaymentInfo>,
    ledger: Vec<LedgerInfo>,
}

async fn student_file(State(state): State<AppState>, s: StaffSession, Path(no): Path<String>) -> Result<Json<StudentFileView>, HttpError> {
    let f = students::file(&state, &s.staff, &no).await?;
    let st = &f.overview.student;
    Ok(Json(StudentFileView {
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

async fn reset_password(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    Path(no): Path<String>,
) -> Result<StatusCode, HttpError> {
    students::reset_password(&state, &s.staff, &client, &no).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    /// Unix seconds.
    since: Option<i64>,
    until: Option<i64>,
    before_id: Option<i64>,
    limit: Option<i64>,
}

#[derive(Serialize)]
pub struct AuditEntry {
    id: i64,
    actor: String,
    action: String,
    /// What the action recorded: role, subject, before/after, IP, user agent.
    detail: serde_json::Value,
    at: String,
}

#[derive(Serialize)]
pub struct AuditPage {
    entries: Vec<AuditEntry>,
}

async fn audit(State(state): State<AppState>, s: StaffSession, Query(q): Query<AuditQuery>) -> Result<Json<AuditPage>, HttpError> {
    let filter = campuspay_store::office::AuditFilter {
        actor: q.actor,
        action: q.action,
        since: q.since,
        until: q.until,
        before_id: q.before_id,
        limit: q.limit.unwrap_or(100),
    };
    let rows = audit_log::search(&state, &s.staff, &filter).await?;
    Ok(Json(AuditPage {
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
