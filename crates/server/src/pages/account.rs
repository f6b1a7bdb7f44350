//! Account pages: forgot password (by the school's policy), reset links, account security
//! (sessions, security e-mail and question, security log), and the demo outbox.

use super::extract::SchoolPage;
use super::security;
use super::views::CaptchaView;
use super::{error_page, render, school_name};
use crate::AppState;
use crate::i18n::Lang;
use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use campuspay_app::Error;
use campuspay_app::student::captcha;
use campuspay_app::student::recovery::{self, Captcha, NewPassword};
use campuspay_store::schools::School;
use serde::Deserialize;

pub fn routes(demo: bool) -> Router<AppState> {
    let r = Router::new()
        .route("/s/{code}/forgot", get(forgot_page))
        .route("/s/{code}/forgot/email", post(forgot_email))
        .route("/s/{code}/forgot/sms", post(forgot_sms))
        .route("/s/{code}/forgot/sms/reset", post(sms_reset))
        .route("/s/{code}/forgot/question", post(forgot_question))
        .route("/s/{code}/forgot/question/reset", post(question_reset))
        .route("/s/{code}/reset/{token}", get(reset_page).post(reset_submit))
        .route("/s/{code}/security", get(security::security_page))
        .route("/s/{code}/security/email", post(security::security_email))
        .route("/s/{code}/security/question", post(security::security_question))
        .route("/s/{code}/security/end-others", post(security::end_others));
    if demo { r.route("/demo/outbox", get(security::outbox_page)) } else { r }
}

#[derive(Template)]
#[template(path = "forgot.html")]
struct ForgotPage {
    lang: Lang,
    code: String,
    school_name: String,
    login: String,
    email: bool,
    sms: Option<u32>,
    question: bool,
    contact: Option<String>,
    captcha: Option<CaptchaView>,
    error: Option<String>,
    error_field: &'static str,
}

#[derive(Template)]
#[template(path = "forgot_confirm.html")]
struct ConfirmPage {
    lang: Lang,
    code: String,
    school_name: String,
    login: String,
    captcha_id: String,
    captcha_answer: String,
}

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetPage {
    lang: Lang,
    code: String,
    school_name: String,
    action: String,
    intro: Option<String>,
    login: Option<String>,
    ask_code: bool,
    question: Option<String>,
    captcha: Option<CaptchaView>,
    error: Option<String>,
    error_field: &'static str,
}

#[derive(Template)]
#[template(path = "notice.html")]
struct NoticePage {
    lang: Lang,
    code: String,
    school_name: String,
    title: String,
    message: String,
    class: &'static str,
    link: String,
    link_text: String,
}

pub(super) fn status(mut res: Response, e: Option<&Error>) -> Response {
    if let Some(e) = e {
        *res.status_mut() = crate::error::status_of(e.kind);
    }
    res
}

async fn new_captcha(state: &AppState, needed: bool) -> Result<Option<CaptchaView>, Error> {
    if !needed {
        return Ok(None);
    }
    let c = captcha::create(state).await?;
    Ok(Some(CaptchaView { id: c.id, image: c.image }))
}

async fn forgot_view(state: &AppState, school: &School, lang: Lang, login: &str, error: Option<&Error>) -> Response {
    let m = recovery::methods(school);
    let needs = (m.email || m.sms.is_some())
        && match recovery::captcha_needed(state, school, login).await {
            Ok(b) => b,
            Err(e) => return error_page(&e, lang),
        };
    let captcha = match new_captcha(state, needs).await {
        Ok(c) => c,
        Err(e) => return error_page(&e, lang),
    };
    let page = ForgotPage {
        lang,
        code: school.code.clone(),
        school_name: school_name(school, lang),
        login: login.chars().take(32).collect(),
        email: m.email,
        sms: m.sms,
        question: m.question,
        contact: m.contact,
        captcha,
        error: error.map(|e| e.message(lang).to_string()),
        error_field: error.and_then(|e| e.field).unwrap_or(""),
    };
    status(render(&page), error)
}

async fn forgot_page(State(state): State<AppState>, page: SchoolPage) -> Response {
    forgot_view(&state, &page.school, page.client.lang, "", None).await
}

fn notice(school: &School, lang: Lang, title: &str, message: &str, ok: bool, link: String, link_text: &str) -> Response {
    render(&NoticePage {
        lang,
        code: school.code.clone(),
        school_name: school_name(school, lang),
        title: title.to_string(),
        message: message.to_string(),
        class: if ok { "ok" } else { "error" },
        link,
        link_text: link_text.to_string(),
    })
}

fn reset_done(school: &School, lang: Lang) -> Response {
    notice(
        school,
        lang,
        lang.t("密码已重置", "Password reset"),
        lang.t(
            "密码已重置，所有设备均已退出登录。请使用新密码登录。",
            "Your password has been reset and every session has ended. Log in with the new password.",
        ),
        true,
        format!("/s/{}/", school.code),
        lang.t("去登录", "Log in"),
    )
}

#[derive(Deserialize)]
struct RequestForm {
    login: String,
    captcha_id: Option<String>,
    captcha: Option<String>,
    confirm: Option<String>,
}

/// The login as typed into a form: trimmed, at most 32 characters.
fn typed_login(login: &str) -> String {
    login.trim().chars().take(32).collect()
}

fn recovery_request<'a>(school: &'a School, login: &'a str, f: &'a RequestForm) -> recovery::RecoveryRequest<'a> {
    recovery::RecoveryRequest {
        school: &school.code,
        login,
        captcha: Captcha { id: f.captcha_id.as_deref(), answer: f.captcha.as_deref() },
    }
}

async fn forgot_email(State(state): State<AppState>, page: SchoolPage, Form(f): Form<RequestForm>) -> Response {
    let SchoolPage { school, client } = page;
    let lang = client.lang;
    let login = typed_login(&f.login);
    // Seed 001: the platform asks before it sends.
    if f.confirm.as_deref() != Some("1") {
        if login.is_empty() {
            let e = Error::bad_request("请输入学号", "Enter your student number").field("login");
            return forgot_view(&state, &school, lang, "", Some(&e)).await;
        }
        return render(&ConfirmPage {
            lang,
            code: school.code.clone(),
            school_name: school_name(&school, lang),
            login,
            captcha_id: f.captcha_id.unwrap_or_default(),
            captcha_answer: f.captcha.unwrap_or_default(),
        });
    }
    let r = recovery_request(&school, &login, &f);
    match recovery::request_email(&state, &r, &client).await {
        Ok(()) => notice(
            &school,
            lang,
            lang.t("邮件已发送", "E-mail sent"),
            lang.t(recovery::REQUEST_SENT_ZH, recovery::REQUEST_SENT_EN),
            true,
            format!("/s/{}/", school.code),
            lang.t("返回登录", "Back to log in"),
        ),
        Err(e) => forgot_view(&state, &school, lang, &login, Some(&e)).await,
    }
}

#[allow(clippy::too_many_arguments)] // one per thing the form shows
async fn reset_view(
    state: &AppState,
    school: &School,
    lang: Lang,
    action: String,
    intro: Option<String>,
    login: Option<String>,
    ask_code: bool,
    question: Option<String>,
    error: Option<&Error>,
) -> Response {
    let needs = match &login {
        Some(l) => {
            recovery::captcha_needed(state, school, l).await.unwrap_or(true) && !school.policy.captcha
                || error.is_some_and(|e| e.code.starts_with("captcha"))
        }
        None => false,
    };
    let captcha = match new_captcha(state, needs).await {
        Ok(c) => c,
        Err(e) => return error_page(&e, lang),
    };
    let page = ResetPage {
        lang,
        code: school.code.clone(),
        school_name: school_name(school, lang),
        action,
        intro,
        login,
        ask_code,
        question,
        captcha,
        error: error.map(|e| e.message(lang).to_string()),
        error_field: error.and_then(|e| e.field).unwrap_or(""),
    };
    status(render(&page), error)
}

async fn forgot_sms(State(state): State<AppState>, page: SchoolPage, Form(f): Form<RequestForm>) -> Response {
    let SchoolPage { school, client } = page;
    let lang = client.lang;
    let login = typed_login(&f.login);
    let r = recovery_request(&school, &login, &f);
    match recovery::request_sms(&state, &r, &client).await {
        Ok(()) => {
            reset_view(
                &state,
                &school,
                lang,
                format!("/s/{}/forgot/sms/reset", school.code),
                Some(lang.t(recovery::SMS_SENT_ZH, recovery::SMS_SENT_EN).to_string()),
                Some(login),
                true,
                None,
                None,
            )
            .await
        }
        Err(e) => forgot_view(&state, &school, lang, &login, Some(&e)).await,
    }
}

#[derive(Deserialize)]
struct ResetForm {
    login: Option<String>,
    code: Option<String>,
    question: Option<String>,
    answer: Option<String>,
    new_password: String,
    confirm_password: String,
    captcha_id: Option<String>,
    captcha: Option<String>,
}

async fn sms_reset(State(state): State<AppState>, page: SchoolPage, Form(f): Form<ResetForm>) -> Response {
    let SchoolPage { school, client } = page;
    let lang = client.lang;
    let login = typed_login(f.login.as_deref().unwrap_or_default());
    let r = recovery::CodeReset {
        school: &school.code,
        login: &login,
        code: f.code.as_deref().unwrap_or(""),
        password: NewPassword { new: &f.new_password, confirm: Some(&f.confirm_password) },
        captcha: Captcha { id: f.captcha_id.as_deref(), answer: f.captcha.as_deref() },
    };
    match recovery::reset_with_sms(&state, &r, &client).await {
        Ok(()) => reset_done(&school, lang),
        Err(e) => {
            let action = format!("/s/{}/forgot/sms/reset", school.code);
            reset_view(&state, &school, lang, action, None, Some(login), true, None, Some(&e)).await
        }
    }
}

async fn forgot_question(State(state): State<AppState>, page: SchoolPage, Form(f): Form<RequestForm>) -> Response {
    let SchoolPage { school, client } = page;
    let lang = client.lang;
    let login = typed_login(&f.login);
    match recovery::question_for(&state, &school.code, &login, &client).await {
        Ok(q) => {
            let action = format!("/s/{}/forgot/question/reset", school.code);
            reset_view(&state, &school, lang, action, None, Some(login), false, Some(q), None).await
        }
        Err(e) => forgot_view(&state, &school, lang, &login, Some(&e)).await,
    }
}

async fn question_reset(State(state): State<AppState>, page: SchoolPage, Form(f): Form<ResetForm>) -> Response {
    let SchoolPage { school, client } = page;
    let lang = client.lang;
    let login = typed_login(f.login.as_deref().unwrap_or_default());
    let r = recovery::AnswerReset {
        school: &school.code,
        login: &login,
        answer: f.answer.as_deref().unwrap_or(""),
        password: NewPassword { new: &f.new_password, confirm: Some(&f.confirm_password) },
        captcha: Captcha { id: f.captcha_id.as_deref(), answer: f.captcha.as_deref() },
    };
    match recovery::reset_with_answer(&state, &r, &client).await {
        Ok(()) => reset_done(&school, lang),
        Err(e) => {
            let action = format!("/s/{}/forgot/question/reset", school.code);
            let q = f.question.filter(|q| recovery::QUESTIONS.contains(&q.as_str()));
            reset_view(&state, &school, lang, action, None, Some(login), false, q, Some(&e)).await
        }
    }
}

fn link_invalid(school: &School, lang: Lang, e: &Error) -> Response {
    let mut res = notice(
        school,
        lang,
        lang.t("链接无效", "Invalid link"),
        e.message(lang),
        false,
        format!("/s/{}/forgot", school.code),
        lang.t("重新找回密码", "Start again"),
    );
    *res.status_mut() = crate::error::status_of(e.kind);
    res
}

async fn reset_page(State(state): State<AppState>, page: SchoolPage, Path((_, token)): Path<(String, String)>) -> Response {
    let SchoolPage { school, client } = page;
    let lang = client.lang;
    match recovery::check_link(&state, &school, &token).await {
        Ok(_) => {
            let action = format!("/s/{}/reset/{token}", school.code);
            reset_view(&state, &school, lang, action, None, None, false, None, None).await
        }
        Err(e) => link_invalid(&school, lang, &e),
    }
}

async fn reset_submit(
    State(state): State<AppState>,
    page: SchoolPage,
    Path((_, token)): Path<(String, String)>,
    Form(f): Form<ResetForm>,
) -> Response {
    let SchoolPage { school, client } = page;
    let lang = client.lang;
    let pw = NewPassword { new: &f.new_password, confirm: Some(&f.confirm_password) };
    match recovery::reset_with_link(&state, &school.code, &token, &pw, &client).await {
        Ok(()) => reset_done(&school, lang),
        Err(e) if e.code == "invalid_token" || crate::error::status_of(e.kind).as_u16() == 429 => link_invalid(&school, lang, &e),
        Err(e) => {
            let action = format!("/s/{}/reset/{token}", school.code);
            reset_view(&state, &school, lang, action, None, None, false, None, Some(&e)).await
        }
    }
}
