//! The finance office's pages at `/office/…`, for a PC (1366×768 and wider), in Chinese.
//!
//! Like the students' pages: the extractors resolve the staff session from the office cookie
//! (and refuse a form without the session's CSRF token) before a handler runs; a handler
//! parses, calls one use case of `campuspay_app::office`, and renders. Permissions are checked
//! in the use cases only: a refusal is shown as the office's 403 page, and the navigation
//! merely hides what the role cannot use.

mod adjustments;
mod audit;
mod auth;
mod counter;
mod exports;
mod home;
mod imports;
mod merchants;
mod money;
mod money_reports;
mod notices;
mod offline_refund;
mod policy_form;
mod reports;
mod runs;
mod school;
mod staff;
mod students;
mod totp;

use crate::AppState;
use crate::pages::extract::StaffFormPage;
use crate::web::{Client, SetCookie, cookie};
use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use campuspay_app::office::{Staff, auth as staff_auth};
use campuspay_app::{Error, ErrorKind};
use campuspay_domain::office::Permission;
use campuspay_store::staff::StaffSessionRow;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/office/imports", get(imports::imports_page).post(imports::upload_submit))
        .route("/office/reconciliation/import", post(reports::statement_import))
        // The file's limit is the documents crate's; a little more for the form's framing.
        .layer(DefaultBodyLimit::max(campuspay_documents::MAX_UPLOAD_BYTES + 64 * 1024))
        .route("/static/office.css", get(stylesheet))
        .route("/office", get(|| async { Redirect::permanent("/office/") }))
        .route("/office/", get(home::dashboard))
        .route("/office/login", get(auth::login_page).post(auth::login_submit))
        .route("/office/logout", post(auth::logout))
        .route("/office/password", get(auth::password_page).post(auth::password_submit))
        .route("/office/totp", get(totp::totp_page).post(totp::totp_submit))
        .route("/office/students", get(students::search_page))
        .route("/office/students/{no}", get(counter::counter_page))
        .route("/office/students/{no}/payments", post(counter::payment_submit))
        .route("/office/students/{no}/charges/{id}/{kind}", post(counter::adjust_submit))
        .route("/office/students/{no}/reset-password", post(counter::reset_submit))
        .route("/office/imports/templates/{kind}", get(imports::template_download))
        .route("/office/imports/{id}", get(imports::preview_page))
        .route("/office/imports/{id}/commit", post(imports::commit_submit))
        .route("/office/charge-runs", get(runs::form_page).post(runs::run_submit))
        .route("/office/charge-runs/preview", post(runs::preview_submit))
        .route("/office/adjustments", get(adjustments::queue_page))
        .route("/office/adjustments/{id}/decide", post(adjustments::decide_submit))
        .route("/office/audit", get(audit::audit_page))
        .route("/office/refunds", get(money::refunds_page).post(money::refund_submit))
        .route("/office/refunds/offline", get(offline_refund::offline_refund_page).post(offline_refund::offline_refund_submit))
        .route("/office/refunds/{id}/decide", post(money::refund_decide))
        .route("/office/exceptions", get(money::exceptions_page))
        .route("/office/exceptions/{id}/resolve", post(money::resolve_submit))
        .route("/office/reports", get(reports::collection_page))
        .route("/office/reports/daily", get(money_reports::daily_page))
        .route("/office/reports/arrears", get(money_reports::arrears_page))
        .route("/office/exports", get(exports::exports_page).post(exports::export_submit))
        .route("/office/reconciliation", get(reports::reconciliation_page))
        .route("/office/reconciliation/run", post(reports::reconciliation_run))
        .route("/office/merchants", get(merchants::merchants_page))
        .route("/office/school", get(school::policy_page).post(school::policy_submit))
        .route("/office/staff", get(staff::staff_page).post(staff::add_submit))
        .route("/office/staff/{login}/{action}", post(staff::action_submit))
        .route("/office/announcements", get(notices::notices_page).post(notices::create_submit))
        .route("/office/announcements/{id}", post(notices::update_submit))
        .route("/office/announcements/{id}/expire", post(notices::expire_submit))
        .route("/office/schools/new", get(school::new_school_page).post(school::new_school_submit))
        .route("/office/merchants/{channel}", post(merchants::merchant_submit))
}

async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        include_str!("../../../static/office.css"),
    )
        .into_response()
}

/// One entry of the navigation, shown only to roles with its permission.
pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
    pub key: &'static str,
}

/// Entries and the permission that opens each; the imports need either of two.
const NAV: &[(&str, &str, &str, &[Permission])] = &[
    ("/office/", "工作台", "home", &[Permission::ViewStudents]),
    ("/office/students", "学生查询", "students", &[Permission::ViewStudents]),
    ("/office/imports", "导入数据", "imports", &[Permission::EditStudents, Permission::ManageFeeStandards]),
    ("/office/charge-runs", "批量生成应收", "runs", &[Permission::IssueCharges]),
    ("/office/adjustments", "减免缓缴复核", "adjustments", &[Permission::ViewStudents]),
    ("/office/refunds", "退款", "refunds", &[Permission::ViewReports]),
    ("/office/exceptions", "异常处理", "exceptions", &[Permission::ViewReports]),
    ("/office/reconciliation", "对账", "reconciliation", &[Permission::ViewReports]),
    ("/office/reports", "收缴报表", "reports", &[Permission::ViewReports]),
    ("/office/reports/daily", "收款日报", "daily", &[Permission::ViewReports]),
    ("/office/reports/arrears", "欠费账龄", "arrears", &[Permission::ViewReports]),
    ("/office/exports", "导出任务", "exports", &[Permission::ViewReports]),
    ("/office/audit", "审计日志", "audit", &[Permission::ViewAudit]),
    ("/office/announcements", "公告", "announcements", &[Permission::ManageAnnouncements]),
    ("/office/staff", "人员管理", "staff", &[Permission::ManageStaff]),
    ("/office/schools/new", "新建学校", "new_school", &[Permission::ManagePlatform]),
    ("/office/school", "学校设置", "school", &[Permission::ManageSchool]),
    ("/office/merchants", "商户配置", "merchants", &[Permission::ManageMerchants]),
];

/// What every office page shows around its content: title, school, who is logged in, the
/// navigation of their role, and the CSRF token of the logout form.
pub struct Shell {
    pub title: String,
    pub school_name: String,
    pub staff_name: String,
    pub role_label: &'static str,
    pub csrf: String,
    pub nav: Vec<NavLink>,
    pub current: &'static str,
}

impl Shell {
    /// The shell of a page nobody is logged in to (login, and errors before a session).
    fn anonymous(title: &str) -> Shell {
        Shell {
            title: title.to_string(),
            school_name: "校园统一支付平台".into(),
            staff_name: String::new(),
            role_label: "",
            csrf: String::new(),
            nav: Vec::new(),
            current: "",
        }
    }
}

/// A logged-in member of an office, resolved from the office cookie. Without a live session
/// the page redirects to the login; with a one-time password, to its change.
pub struct OfficePage {
    pub staff: Staff,
    pub session: StaffSessionRow,
    pub client: Client,
    pub school_name: String,
}

/// A logged-in member who may still have to change a one-time password (that very page).
pub struct AnyOfficePage(pub OfficePage);

impl OfficePage {
    pub fn shell(&self, title: impl Into<String>, current: &'static str) -> Shell {
        let role = self.staff.role;
        Shell {
            title: title.into(),
            school_name: self.school_name.clone(),
            staff_name: self.staff.name.clone(),
            role_label: role.label_zh(),
            csrf: self.session.csrf_token.clone(),
            nav: if self.staff.must_change_password || self.staff.must_enrol_totp {
                Vec::new()
            } else {
                NAV.iter()
                    .filter(|(.., perms)| perms.iter().any(|p| role.can(*p)))
                    .map(|(href, label, key, _)| NavLink { href, label, key })
                    .collect()
            },
            current,
        }
    }

    /// The office's error page for a use case's refusal, inside the navigation.
    pub fn error(&self, e: &Error) -> Response {
        message_page(self.shell(error_title(e.kind), ""), e, None)
    }
}

fn error_title(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Forbidden => "没有权限",
        ErrorKind::NotFound => "未找到",
        _ => "出错了",
    }
}

fn to_login(state: &AppState, expired: bool) -> Response {
    let mut res = Redirect::to(if expired { "/office/login?expired=1" } else { "/office/login" }).into_response();
    if expired {
        // The cookie names a session that is over: drop it.
        res.headers_mut().append(header::SET_COOKIE, office_cookie(state, "", Some(0)));
    }
    res
}

async fn resolve(parts: &mut Parts, state: &AppState) -> Result<OfficePage, Response> {
    let Ok(client) = Client::from_request_parts(parts, state).await;
    let Some(token) = cookie(&parts.headers, super::cookie_name(state)).filter(|t| !t.is_empty()) else {
        return Err(to_login(state, false));
    };
    let (staff, session) = match staff_auth::resolve(state, &token).await {
        Ok(found) => found,
        Err(e) if e.kind == ErrorKind::Unauthenticated => return Err(to_login(state, true)),
        Err(e) => return Err(message_page(Shell::anonymous("出错了"), &e, None)),
    };
    let school_name = match staff.school_id {
        Some(id) => match state.store.school_by_id(id).await {
            Ok(Some(s)) => s.name,
            Ok(None) => return Err(message_page(Shell::anonymous("出错了"), &Error::unknown_school(), None)),
            Err(e) => return Err(message_page(Shell::anonymous("出错了"), &e.into(), None)),
        },
        None => "校园统一支付平台（平台管理）".into(),
    };
    Ok(OfficePage { staff, session, client, school_name })
}

impl FromRequestParts<AppState> for AnyOfficePage {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        resolve(parts, state).await.map(AnyOfficePage)
    }
}

impl FromRequestParts<AppState> for OfficePage {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let page = resolve(parts, state).await?;
        if page.staff.must_change_password {
            return Err(Redirect::to("/office/password").into_response());
        }
        // The school requires a second factor of this role: nothing else until it is set up.
        if page.staff.must_enrol_totp {
            return Err(Redirect::to("/office/totp").into_response());
        }
        Ok(page)
    }
}

fn csrf_error() -> Error {
    Error::new(ErrorKind::Forbidden, "csrf", "页面已过期，请返回后刷新页面再提交", "This page has expired; reload it and submit again")
}

impl StaffFormPage for OfficePage {
    fn csrf_token(&self) -> &str {
        &self.session.csrf_token
    }
    fn csrf_refused(&self) -> Response {
        self.error(&csrf_error())
    }
}

impl StaffFormPage for AnyOfficePage {
    fn csrf_token(&self) -> &str {
        &self.0.session.csrf_token
    }
    fn csrf_refused(&self) -> Response {
        self.0.error(&csrf_error())
    }
}

/// A form posted from an office page that may be used with a one-time password still in use.
pub type AnyOfficeForm<T> = crate::pages::extract::OfficePosted<AnyOfficePage, T>;
/// A form posted from any other office page.
pub type OfficeForm<T> = crate::pages::extract::OfficePosted<OfficePage, T>;

/// Forms that carry nothing but the token (logout, commit, reset).
#[derive(serde::Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

impl crate::pages::extract::CsrfForm for CsrfOnly {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "office template");
            (StatusCode::INTERNAL_SERVER_ERROR, "页面生成失败").into_response()
        }
    }
}

/// `render` with the status of a use case's refusal (a form shown again with its error).
pub fn render_refused<T: Template>(t: &T, e: &Error) -> Response {
    let mut res = render(t);
    *res.status_mut() = crate::error::status_of(e.kind);
    res
}

#[derive(Template)]
#[template(path = "office/message.html")]
struct MessagePage {
    shell: Shell,
    message: String,
    status: u16,
    back: Option<(String, String)>,
}

fn message_page(shell: Shell, e: &Error, back: Option<(String, String)>) -> Response {
    let status = crate::error::status_of(e.kind);
    render_refused(&MessagePage { shell, message: e.zh.clone(), status: status.as_u16(), back }, e)
}

/// A session cookie for the office: set on login, emptied on logout.
fn office_cookie(state: &AppState, token: &str, max_age: Option<i64>) -> header::HeaderValue {
    SetCookie::office(state, token, max_age).header()
}

/// Error text for a field: the message when the error names that field.
pub fn field_error(e: &Option<Error>, field: &str) -> Option<String> {
    e.as_ref().filter(|e| e.field == Some(field)).map(|e| e.zh.clone())
}

/// Error text not tied to a field the form shows (`shown` lists those).
pub fn form_error(e: &Option<Error>, shown: &[&str]) -> Option<String> {
    e.as_ref().filter(|e| e.field.is_none_or(|f| !shown.contains(&f))).map(|e| e.zh.clone())
}

/// An amount typed in yuan (`1200`, `1,200.50`, `¥1200`), exactly; more than two decimals or
/// anything else is an error on `field`.
pub fn parse_yuan(typed: &str, field: &'static str) -> Result<campuspay_domain::Fen, Error> {
    let cleaned = typed.trim().replace([',', '，', '¥', '￥', ' '], "");
    campuspay_domain::Fen::parse_yuan(&cleaned).map_err(|_| {
        Error::new(
            ErrorKind::Refused,
            "invalid_amount",
            "请输入正确的金额（元），最多两位小数，例如 1200 或 1200.50",
            "Enter an amount in yuan",
        )
        .field(field)
    })
}
