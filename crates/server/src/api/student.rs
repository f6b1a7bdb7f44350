//! Student endpoints of the JSON API. Money is integer fen throughout.

use super::ApiJson;
use crate::AppState;
use crate::error::{ErrorBody, HttpError};
use crate::web::{AnySession, Client, StudentSession};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use campuspay_app::student::{auth, captcha, profile};
use campuspay_domain::{idcard, time};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Liveness and database reachability.
#[utoipa::path(get, path = "/healthz", responses(
    (status = 200, description = "ok", body = String, content_type = "text/plain"),
    (status = 503, description = "database unreachable", body = String, content_type = "text/plain"),
))]
pub async fn healthz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(_) => (StatusCode::OK, "ok").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Schools {
    schools: Vec<SchoolEntry>,
}

#[derive(Serialize, ToSchema)]
pub struct SchoolEntry {
    code: String,
    name: String,
    name_en: String,
    region: String,
    /// Whether the login asks for a captcha.
    captcha: bool,
    /// What the school calls the login identifier (学号, 手机号…).
    login_label: String,
    initial_password_hint: String,
    /// The school's pages.
    url: String,
}

/// Schools on this platform, by region.
#[utoipa::path(get, path = "/api/v1/schools", responses((status = 200, description = "学校列表", body = Schools)))]
pub async fn schools(State(state): State<AppState>) -> Result<ApiJson<Schools>, HttpError> {
    let schools = state.store.schools().await?;
    Ok(ApiJson(Schools {
        schools: schools
            .iter()
            .map(|s| SchoolEntry {
                code: s.code.clone(),
                name: s.name.clone(),
                name_en: s.name_en.clone(),
                region: s.region.clone(),
                captcha: s.policy.captcha,
                login_label: s.policy.login_label_zh().to_string(),
                initial_password_hint: s.policy.initial_password.hint_zh().to_string(),
                url: format!("/s/{}/", s.code),
            })
            .collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct NewCaptcha {
    captcha_id: String,
    /// `data:` URI of a PNG.
    image: String,
    expires_in_s: i64,
}

/// A new image captcha (single use, 5 minutes).
#[utoipa::path(get, path = "/api/v1/captcha", responses((status = 200, description = "验证码", body = NewCaptcha)))]
pub async fn captcha(State(state): State<AppState>) -> Result<ApiJson<NewCaptcha>, HttpError> {
    let c = captcha::create(&state).await?;
    Ok(ApiJson(NewCaptcha { captcha_id: c.id, image: c.image, expires_in_s: captcha::TTL_S }))
}

#[derive(Deserialize, ToSchema)]
pub struct LoginBody {
    school: String,
    #[schema(min_length = 1, max_length = 32)]
    login: String,
    #[schema(max_length = 128)]
    password: String,
    captcha_id: Option<String>,
    captcha: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct LoggedIn {
    token: String,
    must_change_password: bool,
    /// Unix seconds: the session's absolute end.
    expires_at: i64,
}

/// Log in with the school's login identifier and password.
///
/// A captcha is required where the school wants one, and after 3 failures everywhere. 10
/// failures lock the account for 15 minutes.
#[utoipa::path(post, path = "/api/v1/student/login", request_body = LoginBody, responses(
    (status = 200, description = "登录成功", body = LoggedIn),
    (status = 400, description = "请求格式有误", body = ErrorBody),
    (status = 401, description = "学号或密码有误 / 验证码错误 / 请输入验证码", body = ErrorBody),
    (status = 404, description = "学校不存在", body = ErrorBody),
    (status = 423, description = "账户已临时锁定", body = ErrorBody),
    (status = 429, description = "尝试次数过多", body = ErrorBody),
))]
pub async fn login(State(state): State<AppState>, client: Client, ApiJson(b): ApiJson<LoginBody>) -> Result<ApiJson<LoggedIn>, HttpError> {
    let input = auth::LoginInput {
        school: &b.school,
        login: &b.login,
        password: &b.password,
        captcha_id: b.captcha_id.as_deref(),
        captcha: b.captcha.as_deref(),
    };
    let out = auth::login(&state, &input, &client).await?;
    Ok(ApiJson(LoggedIn { token: out.token, must_change_password: out.must_change_password, expires_at: out.session.expires_at }))
}

/// End this session.
#[utoipa::path(post, path = "/api/v1/student/logout", security(("bearer" = [])), responses((status = 204, description = "ended")))]
pub async fn logout(State(state): State<AppState>, client: Client, AnySession(s): AnySession) -> Result<StatusCode, HttpError> {
    auth::logout(&state, &s, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordBody {
    old_password: String,
    new_password: String,
    confirm_password: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PasswordChanged {
    changed: bool,
    other_sessions_ended: bool,
}

/// Change the password (ends every other session).
#[utoipa::path(post, path = "/api/v1/student/password", request_body = PasswordBody, security(("bearer" = [])), responses(
    (status = 200, description = "已修改", body = PasswordChanged),
    (status = 422, description = "旧密码有误 / 新密码不符合要求", body = ErrorBody),
))]
pub async fn change_password(
    State(state): State<AppState>,
    client: Client,
    AnySession(s): AnySession,
    ApiJson(b): ApiJson<PasswordBody>,
) -> Result<ApiJson<PasswordChanged>, HttpError> {
    let change = auth::PasswordChange { old: &b.old_password, new: &b.new_password, confirm: b.confirm_password.as_deref() };
    auth::change_password(&state, &s, &change, &client).await?;
    Ok(ApiJson(PasswordChanged { changed: true, other_sessions_ended: true }))
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    school: SchoolName,
    student_no: String,
    name: String,
    gender: String,
    /// Masked: `3702**********111X`.
    id_card: String,
    /// Masked.
    phone: String,
    email: String,
    postcode: String,
    address: String,
    department: String,
    major: String,
    level: String,
    class: String,
    enrol_year: i64,
    must_change_password: bool,
}

#[derive(Serialize, ToSchema)]
pub struct SchoolName {
    code: String,
    name: String,
}

/// The student's profile, ID card and phone masked.
#[utoipa::path(get, path = "/api/v1/student/me", security(("bearer" = [])), responses((status = 200, description = "个人信息", body = Me)))]
pub async fn me(State(state): State<AppState>, AnySession(s): AnySession) -> Result<ApiJson<Me>, HttpError> {
    let (school, st) = profile::school_and_student(&state, &s).await?;
    Ok(ApiJson(Me {
        school: SchoolName { code: school.code, name: school.name },
        id_card: idcard::mask(&st.id_card),
        phone: campuspay_domain::profile::mask_phone(&st.phone),
        student_no: st.student_no,
        name: st.name,
        gender: st.gender,
        email: st.email,
        postcode: st.postcode,
        address: st.address,
        department: st.department,
        major: st.major,
        level: st.level,
        class: st.class_name,
        enrol_year: st.enrol_year,
        must_change_password: s.must_change_password,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct ProfileBody {
    /// 11 digits.
    #[schema(min_length = 11, max_length = 11, pattern = "^1[3-9][0-9]{9}$")]
    phone: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    postcode: String,
    #[serde(default)]
    #[schema(max_length = 100)]
    address: String,
}

/// Change phone, e-mail, postcode and address.
#[utoipa::path(put, path = "/api/v1/student/profile", request_body = ProfileBody, security(("bearer" = [])), responses(
    (status = 204, description = "已保存"),
    (status = 403, description = "须先修改密码", body = ErrorBody),
    (status = 422, description = "格式有误", body = ErrorBody),
))]
pub async fn update_profile(
    State(state): State<AppState>,
    StudentSession(s): StudentSession,
    ApiJson(b): ApiJson<ProfileBody>,
) -> Result<StatusCode, HttpError> {
    let input = profile::ProfileInput { phone: &b.phone, email: &b.email, postcode: &b.postcode, address: &b.address };
    profile::update_profile(&state, &s, &input).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChargesQuery {
    /// Only this 收费期间.
    period: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Charges {
    total_arrears_fen: i64,
    arrears_by_year: Vec<YearArrears>,
    periods: Vec<Period>,
    charges: Vec<Charge>,
}

#[derive(Serialize, ToSchema)]
pub struct YearArrears {
    year: String,
    arrears_fen: i64,
}

#[derive(Serialize, ToSchema)]
pub struct Period {
    code: String,
    name: String,
}

/// One charge: amounts in fen.
#[derive(Serialize, ToSchema)]
pub struct Charge {
    id: i64,
    /// 收费项目.
    item: String,
    item_code: String,
    category: String,
    /// 收费期间, e.g. 2023秋.
    period: String,
    period_name: String,
    academic_year: String,
    total_fen: i64,
    discount_fen: i64,
    after_discount_fen: i64,
    balance_used_fen: i64,
    payable_fen: i64,
    paid_fen: i64,
    arrears_fen: i64,
    /// `unpaid`, `partial`, `paid` or `waived`.
    state: String,
    state_label: String,
    mandatory: bool,
    receipt_type: String,
    parent_item: Option<String>,
    instalments: bool,
    instalment_min_fen: i64,
    collection_window: Option<CollectionWindow>,
    collecting: bool,
    /// 缓缴: the school deferred this charge until this day (YYYY-MM-DD).
    deferred_until: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CollectionWindow {
    start: String,
    end: String,
}

/// What the student owes and has paid.
#[utoipa::path(get, path = "/api/v1/student/charges", params(ChargesQuery), security(("bearer" = [])), responses(
    (status = 200, description = "收费情况", body = Charges),
    (status = 403, description = "须先修改密码", body = ErrorBody),
))]
pub async fn charges(
    State(state): State<AppState>,
    StudentSession(s): StudentSession,
    Query(q): Query<ChargesQuery>,
) -> Result<ApiJson<Charges>, HttpError> {
    let o = profile::overview(&state, &s).await?;
    let period = q.period.filter(|p| !p.is_empty());
    let charges = o
        .charges
        .iter()
        .filter(|c| period.as_deref().is_none_or(|p| c.view.period_code == p))
        .map(|c| {
            let v = &c.view;
            Charge {
                id: v.id,
                item: v.item_name.clone(),
                item_code: v.item_code.clone(),
                category: v.category.clone(),
                period: v.period_code.clone(),
                period_name: v.period_name.clone(),
                academic_year: v.academic_year.clone(),
                total_fen: v.amounts.total.0,
                discount_fen: v.amounts.discount.0,
                after_discount_fen: c.after_discount.0,
                balance_used_fen: v.amounts.balance_used.0,
                payable_fen: c.payable.0,
                paid_fen: v.amounts.paid.0,
                arrears_fen: c.arrears.0,
                state: c.state.as_str().to_string(),
                state_label: c.state.label_zh().to_string(),
                mandatory: v.mandatory,
                receipt_type: v.receipt_type.clone(),
                parent_item: v.parent_name.clone(),
                instalments: v.instalments,
                instalment_min_fen: v.instalment_min.0,
                collection_window: match (v.window_start, v.window_end) {
                    (Some(a), Some(b)) => Some(CollectionWindow { start: time::format_shanghai(a), end: time::format_shanghai(b) }),
                    _ => None,
                },
                collecting: v.collecting,
                deferred_until: v.deferred_until.clone(),
            }
        })
        .collect();
    Ok(ApiJson(Charges {
        total_arrears_fen: o.total_arrears.0,
        arrears_by_year: o.arrears_by_year.iter().map(|(y, f)| YearArrears { year: y.clone(), arrears_fen: f.0 }).collect(),
        periods: o.periods.iter().map(|(c, n)| Period { code: c.clone(), name: n.clone() }).collect(),
        charges,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct Sessions {
    sessions: Vec<SessionEntry>,
}

#[derive(Serialize, ToSchema)]
pub struct SessionEntry {
    /// The session this request came with.
    current: bool,
    created_at: String,
    last_seen_at: String,
    ip: String,
    user_agent: String,
}

/// The student's live sessions.
#[utoipa::path(get, path = "/api/v1/student/sessions", security(("bearer" = [])), responses((status = 200, description = "会话", body = Sessions)))]
pub async fn sessions(State(state): State<AppState>, StudentSession(s): StudentSession) -> Result<ApiJson<Sessions>, HttpError> {
    let list = state.store.live_sessions(s.school_id, s.student_id).await?;
    Ok(ApiJson(Sessions {
        sessions: list
            .into_iter()
            .map(|x| SessionEntry {
                current: x.token_hash == s.token_hash,
                created_at: time::format_shanghai(x.created_at),
                last_seen_at: time::format_shanghai(x.last_seen_at),
                ip: x.ip,
                user_agent: x.user_agent,
            })
            .collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct Ended {
    ended: u64,
}

/// End every other session.
#[utoipa::path(post, path = "/api/v1/student/sessions/end-others", security(("bearer" = [])), responses((status = 200, description = "已结束", body = Ended)))]
pub async fn end_other_sessions(
    State(state): State<AppState>,
    client: Client,
    StudentSession(s): StudentSession,
) -> Result<ApiJson<Ended>, HttpError> {
    let ended = auth::end_other_sessions(&state, &s, &client).await?;
    Ok(ApiJson(Ended { ended }))
}

#[derive(Serialize, ToSchema)]
pub struct SecurityEvents {
    events: Vec<SecurityEventEntry>,
}

#[derive(Serialize, ToSchema)]
pub struct SecurityEventEntry {
    kind: String,
    at: String,
    ip: String,
    user_agent: String,
}

/// Recent logins, failures and password changes.
#[utoipa::path(get, path = "/api/v1/student/security-events", security(("bearer" = [])), responses((status = 200, description = "安全日志", body = SecurityEvents)))]
pub async fn security_events(
    State(state): State<AppState>,
    StudentSession(s): StudentSession,
) -> Result<ApiJson<SecurityEvents>, HttpError> {
    let list = state.store.security_events_of_student(s.school_id, s.student_id, 50).await?;
    Ok(ApiJson(SecurityEvents {
        events: list
            .into_iter()
            .map(|e| SecurityEventEntry { kind: e.kind, at: time::format_shanghai(e.at), ip: e.ip, user_agent: e.user_agent })
            .collect(),
    }))
}
