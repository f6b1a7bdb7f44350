//! Server-rendered pages for students: Chinese first, phone first, no script needed.

pub(crate) mod account;
mod choose;
mod form;
mod order;
mod pay_views;
mod records;
mod security;
mod views;

use crate::AppState;
use crate::i18n::Lang;
use crate::web::{AnySession, Client};
use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use campuspay_app::Error;
use campuspay_app::student::{auth, captcha, profile};
use campuspay_store::schools::School;
use campuspay_store::sessions::SessionRow;
use serde::Deserialize;
use std::collections::BTreeSet;
use views::*;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/static/app.css", get(stylesheet))
        .route("/static/pay.js", get(|| script(include_str!("../../static/pay.js"))))
        .route("/static/autosubmit.js", get(|| script(include_str!("../../static/autosubmit.js"))))
        .route("/s/{code}", get(|Path(code): Path<String>| async move { Redirect::permanent(&format!("/s/{code}/")) }))
        .route("/s/{code}/", get(login_page))
        .route("/s/{code}/login", post(login_submit))
        .route("/s/{code}/logout", post(logout))
        .route("/s/{code}/home", get(home))
        .route("/s/{code}/password", get(password_page).post(password_submit))
        .route("/s/{code}/profile", get(profile_page).post(profile_submit))
        .route("/s/{code}/pay/agreement", get(choose::agreement_page))
        .route("/s/{code}/pay/agree", post(choose::agree_submit))
        .route("/s/{code}/pay/confirm", get(choose::confirm_page))
        .route("/s/{code}/orders", post(choose::create_submit))
        .route("/s/{code}/orders/{no}", get(order::order_page))
        .route("/s/{code}/orders/{no}/state", get(order::order_state))
        .route("/s/{code}/orders/{no}/pay", post(order::pay_submit))
        .route("/s/{code}/orders/{no}/cancel", post(order::cancel_submit))
        .route("/s/{code}/pay/{out_trade_no}", get(order::pay_go))
        .route("/s/{code}/help/payment", get(order::help_page))
        .route("/s/{code}/payments", get(records::records_page))
}

fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template");
            (StatusCode::INTERNAL_SERVER_ERROR, "页面生成失败 / page error").into_response()
        }
    }
}

/// An error page for a full-page request: the message in the user's language, and a way on.
fn error_page(e: &Error, lang: Lang) -> Response {
    let mut res = render(&ErrorPage { lang, message: e.message(lang).to_string() });
    *res.status_mut() = crate::error::status_of(e.kind);
    res
}

/// Remembers a `?lang=` choice for later pages.
fn with_lang_cookie(mut res: Response, query: &LangQuery) -> Response {
    if let Some(l) = &query.lang {
        let v = if Lang::from_tag(l).is_en() { "en" } else { "zh" };
        if let Ok(h) = HeaderValue::from_str(&format!("lang={v}; Path=/; Max-Age=31536000; SameSite=Lax")) {
            res.headers_mut().append(header::SET_COOKIE, h);
        }
    }
    res
}

#[derive(Deserialize, Default)]
pub struct LangQuery {
    lang: Option<String>,
}

async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        include_str!("../../static/app.css"),
    )
        .into_response()
}

async fn script(body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], body).into_response()
}

#[derive(Deserialize)]
struct IndexQuery {
    region: Option<String>,
    lang: Option<String>,
}

async fn index(State(state): State<AppState>, client: Client, Query(q): Query<IndexQuery>) -> Response {
    let schools = match state.store.schools().await {
        Ok(s) => s,
        Err(e) => return error_page(&e.into(), client.lang),
    };
    let regions: Vec<String> = schools.iter().map(|s| s.region.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let selected = q.region.filter(|r| regions.contains(r));
    let shown = schools
        .iter()
        .filter(|s| selected.as_ref().is_none_or(|r| &s.region == r))
        .map(|s| SchoolLink { code: s.code.clone(), name: school_name(s, client.lang), region: s.region.clone() })
        .collect();
    with_lang_cookie(render(&IndexPage { lang: client.lang, regions, selected, schools: shown }), &LangQuery { lang: q.lang })
}

fn school_name(s: &School, lang: Lang) -> String {
    if lang.is_en() && !s.name_en.is_empty() { s.name_en.clone() } else { s.name.clone() }
}

async fn school_or_404(state: &AppState, code: &str, lang: Lang) -> Result<School, Response> {
    match state.store.school_by_code(code).await {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(error_page(&Error::unknown_school(), lang)),
        Err(e) => Err(error_page(&e.into(), lang)),
    }
}

/// The session for pages of this school; another school's session counts as none.
fn session_for(school: &School, s: Option<AnySession>) -> Option<SessionRow> {
    s.map(|AnySession(s)| s).filter(|s| s.school_id == school.id)
}

#[derive(Deserialize)]
struct LoginQuery {
    login: Option<String>,
    lang: Option<String>,
}

async fn login_page(
    State(state): State<AppState>,
    client: Client,
    Path(code): Path<String>,
    Query(q): Query<LoginQuery>,
    session: Option<AnySession>,
) -> Response {
    let school = match school_or_404(&state, &code, client.lang).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Some(s) = session_for(&school, session) {
        return Redirect::to(&landing(&school, &s)).into_response();
    }
    let login = q.login.unwrap_or_default().chars().take(32).collect::<String>();
    let res = login_form(&state, &school, client.lang, &login, None).await;
    with_lang_cookie(res, &LangQuery { lang: q.lang })
}

fn landing(school: &School, s: &SessionRow) -> String {
    if s.must_change_password { format!("/s/{}/password", school.code) } else { format!("/s/{}/home", school.code) }
}

async fn login_form(state: &AppState, school: &School, lang: Lang, login: &str, error: Option<&Error>) -> Response {
    let needs_captcha = match auth::captcha_needed(state, school, login).await {
        Ok(b) => b,
        Err(e) => return error_page(&e, lang),
    };
    let captcha = if needs_captcha {
        match captcha::create(state).await {
            Ok(c) => Some(c),
            Err(e) => return error_page(&e, lang),
        }
    } else {
        None
    };
    let announcements = state.store.announcements(school.id, 5).await.unwrap_or_default();
    let page = LoginPage {
        lang,
        code: school.code.clone(),
        school_name: school_name(school, lang),
        login_label: if lang.is_en() { "Student no.".into() } else { school.policy.login_label_zh().into() },
        initial_hint: school.policy.initial_password.hint_zh(),
        login: login.to_string(),
        error: error.map(|e| e.message(lang).to_string()),
        captcha: captcha.map(|c| CaptchaView { id: c.id, image: c.image }),
        contact: school.policy.contact_office_text().map(str::to_string),
        announcements: announcements.iter().map(AnnouncementView::from).collect(),
    };
    let mut res = render(&page);
    if let Some(e) = error {
        *res.status_mut() = crate::error::status_of(e.kind);
    }
    res
}

#[derive(Deserialize)]
struct LoginForm {
    login: String,
    password: String,
    captcha_id: Option<String>,
    captcha: Option<String>,
}

async fn login_submit(State(state): State<AppState>, client: Client, Path(code): Path<String>, Form(f): Form<LoginForm>) -> Response {
    let school = match school_or_404(&state, &code, client.lang).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let input = auth::LoginInput {
        school: &school.code,
        login: &f.login,
        password: &f.password,
        captcha_id: f.captcha_id.as_deref(),
        captcha: f.captcha.as_deref(),
    };
    match auth::login(&state, &input, &client).await {
        Ok(out) => {
            let mut res = Redirect::to(&landing(&school, &out.session)).into_response();
            let secure = if state.config.https { "; Secure" } else { "" };
            let cookie = format!("{}={}; Path=/; HttpOnly; SameSite=Lax{secure}", state.session_cookie_name(), out.token);
            res.headers_mut().append(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("token is URL-safe base64"));
            res
        }
        Err(e) => {
            let login: String = f.login.trim().chars().take(32).collect();
            login_form(&state, &school, client.lang, &login, Some(&e)).await
        }
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

fn csrf_ok(s: &SessionRow, token: &str) -> bool {
    campuspay_app::crypto::constant_time_eq(s.csrf_token.as_bytes(), token.as_bytes())
}

fn csrf_refused(lang: Lang) -> Response {
    let e = Error::new(
        campuspay_app::ErrorKind::Forbidden,
        "csrf",
        "页面已过期，请返回后重新提交",
        "This page has expired; go back and submit again",
    );
    error_page(&e, lang)
}

async fn logout(
    State(state): State<AppState>,
    client: Client,
    Path(code): Path<String>,
    session: Option<AnySession>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(AnySession(s)) = session {
        if !csrf_ok(&s, &f.csrf) {
            return csrf_refused(client.lang);
        }
        if let Err(e) = auth::logout(&state, &s, &client).await {
            return error_page(&e, client.lang);
        }
    }
    let mut res = Redirect::to(&format!("/s/{code}/")).into_response();
    let clear = format!("{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax", state.session_cookie_name());
    res.headers_mut().append(header::SET_COOKIE, HeaderValue::from_str(&clear).expect("static cookie"));
    res
}

/// Resolves the page's school and a session of it, or says where to go instead.
async fn page_session(
    state: &AppState,
    code: &str,
    session: Option<AnySession>,
    lang: Lang,
    allow_forced: bool,
) -> Result<(School, SessionRow), Response> {
    let school = school_or_404(state, code, lang).await?;
    let Some(s) = session_for(&school, session) else {
        return Err(Redirect::to(&format!("/s/{code}/")).into_response());
    };
    if s.must_change_password && !allow_forced {
        return Err(Redirect::to(&format!("/s/{code}/password")).into_response());
    }
    Ok((school, s))
}

/// `page_session` for a posted form: also refuses the form unless it carries the session's
/// CSRF token.
async fn posted_session(
    state: &AppState,
    code: &str,
    session: Option<AnySession>,
    lang: Lang,
    csrf: &str,
) -> Result<(School, SessionRow), Response> {
    let (school, s) = page_session(state, code, session, lang, false).await?;
    if !csrf_ok(&s, csrf) {
        return Err(csrf_refused(lang));
    }
    Ok((school, s))
}

/// The home page; a cart in the query (from 返回修改) comes back ticked.
async fn home(
    State(state): State<AppState>,
    client: Client,
    Path(code): Path<String>,
    Query(q): Query<form::Pairs>,
    session: Option<AnySession>,
) -> Response {
    let (school, s) = match page_session(&state, &code, session, client.lang, false).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let period = Some(q.get("period").to_string()).filter(|p| !p.is_empty());
    let choice = choose::Choice::of(&form::CartForm::from_pairs(&q));
    choose::home_page(&state, &school, &s, client.lang, period, choice).await
}

async fn password_page(State(state): State<AppState>, client: Client, Path(code): Path<String>, session: Option<AnySession>) -> Response {
    match page_session(&state, &code, session, client.lang, true).await {
        Ok((school, s)) => render(&password_view(&school, &s, client.lang, None)),
        Err(r) => r,
    }
}

fn password_view(school: &School, s: &SessionRow, lang: Lang, error: Option<&Error>) -> PasswordPage {
    PasswordPage {
        lang,
        code: school.code.clone(),
        school_name: school_name(school, lang),
        csrf: s.csrf_token.clone(),
        forced: s.must_change_password,
        error: error.map(|e| e.message(lang).to_string()),
        error_field: error.and_then(|e| e.field).unwrap_or(""),
    }
}

#[derive(Deserialize)]
struct PasswordForm {
    csrf: String,
    old_password: String,
    new_password: String,
    confirm_password: String,
}

async fn password_submit(
    State(state): State<AppState>,
    client: Client,
    Path(code): Path<String>,
    session: Option<AnySession>,
    Form(f): Form<PasswordForm>,
) -> Response {
    let (school, s) = match page_session(&state, &code, session, client.lang, true).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if !csrf_ok(&s, &f.csrf) {
        return csrf_refused(client.lang);
    }
    let change = auth::PasswordChange { old: &f.old_password, new: &f.new_password, confirm: Some(&f.confirm_password) };
    match auth::change_password(&state, &s, &change, &client).await {
        Ok(()) => Redirect::to(&format!("/s/{code}/home")).into_response(),
        Err(e) => {
            let mut res = render(&password_view(&school, &s, client.lang, Some(&e)));
            *res.status_mut() = crate::error::status_of(e.kind);
            res
        }
    }
}

#[derive(Deserialize)]
struct ProfileQuery {
    saved: Option<String>,
}

async fn profile_page(
    State(state): State<AppState>,
    client: Client,
    Path(code): Path<String>,
    Query(q): Query<ProfileQuery>,
    session: Option<AnySession>,
) -> Response {
    let (school, s) = match page_session(&state, &code, session, client.lang, false).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match profile::school_and_student(&state, &s).await {
        Ok((_, st)) => {
            let form = ProfileFormView {
                phone: st.phone.clone(),
                email: st.email.clone(),
                postcode: st.postcode.clone(),
                address: st.address.clone(),
            };
            render(&ProfilePage::new(&school, &s, st, form, client.lang, q.saved.is_some(), None))
        }
        Err(e) => error_page(&e, client.lang),
    }
}

#[derive(Deserialize)]
struct ProfileForm {
    csrf: String,
    phone: String,
    email: String,
    postcode: String,
    address: String,
}

async fn profile_submit(
    State(state): State<AppState>,
    client: Client,
    Path(code): Path<String>,
    session: Option<AnySession>,
    Form(f): Form<ProfileForm>,
) -> Response {
    let (school, s) = match posted_session(&state, &code, session, client.lang, &f.csrf).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let input = profile::ProfileInput { phone: &f.phone, email: &f.email, postcode: &f.postcode, address: &f.address };
    match profile::update_profile(&state, &s, &input).await {
        Ok(()) => Redirect::to(&format!("/s/{code}/profile?saved=1")).into_response(),
        Err(e) => match profile::school_and_student(&state, &s).await {
            Ok((_, st)) => {
                let form = ProfileFormView { phone: f.phone, email: f.email, postcode: f.postcode, address: f.address };
                let mut res = render(&ProfilePage::new(&school, &s, st, form, client.lang, false, Some(&e)));
                *res.status_mut() = crate::error::status_of(e.kind);
                res
            }
            Err(e) => error_page(&e, client.lang),
        },
    }
}
