//! Server-rendered pages for students: Chinese first, phone first, no script needed.

pub(crate) mod account;
mod choose;
pub(crate) mod extract;
pub(crate) mod form;
mod order;
mod pay_views;
mod receipts;
mod records;
mod security;
mod views;

use crate::AppState;
use crate::i18n::Lang;
use crate::web::{AnySession, Client, SetCookie};
use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use campuspay_app::Error;
use campuspay_app::student::{auth, captcha, profile};
use campuspay_store::schools::School;
use campuspay_store::sessions::SessionRow;
use extract::{AnyStudentForm, AnyStudentPage, CsrfForm, MaybeStudentPage, Posted, SchoolPage, StudentForm, StudentPage};
use serde::Deserialize;
use std::collections::BTreeSet;
use views::*;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/static/app.css", get(stylesheet))
        .route("/static/pay.js", get(|| script(include_str!("../../static/pay.js"))))
        .route("/static/autosubmit.js", get(|| script(include_str!("../../static/autosubmit.js"))))
        .route("/static/wxpay.js", get(|| script(include_str!("../../static/wxpay.js"))))
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
        .route("/s/{code}/wechat/signed-in", get(order::wechat_signed_in))
        .route("/s/{code}/ccb/return", get(order::ccb_return))
        .route("/s/{code}/help/payment", get(order::help_page))
        .route("/s/{code}/payments", get(records::records_page))
        .route("/s/{code}/receipts/{id}/pdf", get(receipts::student_pdf))
        .route("/receipts/verify", get(receipts::verify_page))
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
    message_page(crate::error::status_of(e.kind), e.message(lang), lang)
}

fn message_page(status: StatusCode, message: &str, lang: Lang) -> Response {
    let mut res = render(&ErrorPage { lang, message: message.to_string() });
    *res.status_mut() = status;
    res
}

/// Remembers a `?lang=` choice for later pages.
fn with_lang_cookie(mut res: Response, query: &LangQuery) -> Response {
    if let Some(l) = &query.lang {
        res.headers_mut().append(header::SET_COOKIE, SetCookie::lang(Lang::from_tag(l)).header());
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

#[derive(Deserialize)]
struct LoginQuery {
    login: Option<String>,
    lang: Option<String>,
}

async fn login_page(State(state): State<AppState>, page: MaybeStudentPage, Query(q): Query<LoginQuery>) -> Response {
    let MaybeStudentPage { school, session, client } = page;
    if let Some(s) = session {
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
        contact: campuspay_app::student::recovery::office_contact(&school.policy),
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

async fn login_submit(State(state): State<AppState>, page: SchoolPage, Form(f): Form<LoginForm>) -> Response {
    let SchoolPage { school, client } = page;
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
            res.headers_mut().append(header::SET_COOKIE, SetCookie::session(&state, &out.token, None).header());
            res
        }
        Err(e) => {
            let login: String = f.login.trim().chars().take(32).collect();
            login_form(&state, &school, client.lang, &login, Some(&e)).await
        }
    }
}

#[derive(Deserialize)]
struct CsrfOnly {
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
    Form(f): Form<CsrfOnly>,
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
    res.headers_mut().append(header::SET_COOKIE, SetCookie::session(&state, "", Some(0)).header());
    res
}

/// The home page; a cart in the query (from 返回修改) comes back ticked.
async fn home(State(state): State<AppState>, page: StudentPage, Query(q): Query<form::Pairs>) -> Response {
    let period = Some(q.get("period").to_string()).filter(|p| !p.is_empty());
    let choice = choose::Choice::of(&form::CartForm::from_pairs(&q));
    choose::home_page(&state, &page.school, &page.session, page.client.lang, period, choice).await
}

async fn password_page(page: AnyStudentPage) -> Response {
    render(&password_view(&page.school, &page.session, page.client.lang, None))
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

impl CsrfForm for PasswordForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn password_submit(State(state): State<AppState>, posted: AnyStudentForm<PasswordForm>) -> Response {
    let Posted { page: AnyStudentPage { school, session: s, client }, form: f } = posted;
    let code = &school.code;
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

async fn profile_page(State(state): State<AppState>, page: StudentPage, Query(q): Query<ProfileQuery>) -> Response {
    let StudentPage { school, session: s, client } = page;
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

impl CsrfForm for ProfileForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn profile_submit(State(state): State<AppState>, posted: StudentForm<ProfileForm>) -> Response {
    let Posted { page: StudentPage { school, session: s, client }, form: f } = posted;
    let code = &school.code;
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
