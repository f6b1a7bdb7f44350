//! 账户安全 and the demo outbox: the student's sessions, security e-mail and question, recent
//! security log; in demo mode, the mail and SMS that would have been sent.

use super::account::status;
use super::{error_page, page_session, posted_session, render, school_name};
use crate::AppState;
use crate::i18n::Lang;
use crate::web::{AnySession, Client};
use askama::Template;
use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use campuspay_app::Error;
use campuspay_app::student::profile;
use campuspay_app::student::recovery;
use campuspay_domain::time;
use campuspay_store::schools::School;
use serde::Deserialize;

struct SessionView {
    device: String,
    current: bool,
    created: String,
    last_seen: String,
    ip: String,
}

struct EventView {
    label: &'static str,
    at: String,
    ip: String,
    device: String,
}

#[derive(Template)]
#[template(path = "security.html")]
struct SecurityPage {
    lang: Lang,
    code: String,
    school_name: String,
    csrf: String,
    sessions: Vec<SessionView>,
    events: Vec<EventView>,
    email_offered: bool,
    question_offered: bool,
    security_email: String,
    security_question: String,
    questions: &'static [&'static str],
    saved: Option<String>,
    error: Option<String>,
    error_field: &'static str,
}

/// A short name for a browser from its user agent: 「微信 · iPhone」, 「Chrome · Windows」.
pub fn device_label(ua: &str) -> String {
    let browser = [
        ("MicroMessenger", "微信"),
        ("AlipayClient", "支付宝"),
        ("Edg/", "Edge"),
        ("Firefox", "Firefox"),
        ("Chrome", "Chrome"),
        ("Safari", "Safari"),
        ("python-requests", "python-requests"),
        ("reqwest", "API"),
    ]
    .iter()
    .find(|(k, _)| ua.contains(k))
    .map(|(_, v)| *v);
    let os =
        [("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android"), ("Windows", "Windows"), ("Mac OS X", "macOS"), ("Linux", "Linux")]
            .iter()
            .find(|(k, _)| ua.contains(k))
            .map(|(_, v)| *v);
    match (browser, os) {
        (Some(b), Some(o)) => format!("{b} · {o}"),
        (Some(b), None) => b.to_string(),
        (None, Some(o)) => o.to_string(),
        (None, None) if ua.is_empty() => "未知设备 / unknown".into(),
        (None, None) => ua.chars().take(40).collect(),
    }
}

fn event_label(kind: &str, lang: Lang) -> &'static str {
    use campuspay_store::security::event as e;
    let (zh, en) = match kind {
        e::LOGIN_OK => ("登录成功", "Logged in"),
        e::LOGIN_FAILED => ("登录失败", "Failed login"),
        e::LOCKED_OUT => ("账户临时锁定", "Account locked"),
        e::PASSWORD_CHANGED => ("修改密码", "Password changed"),
        e::LOGOUT => ("退出登录", "Logged out"),
        e::SESSIONS_ENDED => ("退出其他设备", "Other sessions ended"),
        e::RECOVERY_REQUESTED => ("申请找回密码", "Password recovery asked"),
        e::RECOVERY_FAILED => ("找回密码或身份验证失败", "Failed recovery or password check"),
        e::RECOVERY_LOCKED => ("找回密码临时锁定", "Recovery locked"),
        e::PASSWORD_RESET => ("重置密码", "Password reset"),
        e::SECURITY_EMAIL_SET => ("设置密保邮箱", "Security e-mail set"),
        e::SECURITY_QUESTION_SET => ("设置密保问题", "Security question set"),
        _ => ("其他", "Other"),
    };
    lang.t(zh, en)
}

async fn security_view(
    state: &AppState,
    school: &School,
    s: &campuspay_store::sessions::SessionRow,
    lang: Lang,
    outcome: Result<Option<&str>, Error>,
) -> Response {
    let (saved, error) = match &outcome {
        Ok(saved) => (saved.map(str::to_string), None),
        Err(e) => (None, Some(e)),
    };
    let st = match profile::school_and_student(state, s).await {
        Ok((_, st)) => st,
        Err(e) => return error_page(&e, lang),
    };
    let (sessions, events, question) = match (
        state.store.live_sessions(school.id, st.id).await,
        state.store.security_events_of_student(school.id, st.id, 30).await,
        state.store.security_question(school.id, st.id).await,
    ) {
        (Ok(a), Ok(b), Ok(c)) => (a, b, c.0),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return error_page(&e.into(), lang),
    };
    let m = recovery::methods(school);
    let page = SecurityPage {
        lang,
        code: school.code.clone(),
        school_name: school_name(school, lang),
        csrf: s.csrf_token.clone(),
        sessions: sessions
            .iter()
            .map(|x| SessionView {
                device: device_label(&x.user_agent),
                current: x.token_hash == s.token_hash,
                created: time::format_shanghai(x.created_at),
                last_seen: time::format_shanghai(x.last_seen_at),
                ip: x.ip.clone(),
            })
            .collect(),
        events: events
            .iter()
            .map(|e| EventView {
                label: event_label(&e.kind, lang),
                at: time::format_shanghai(e.at),
                ip: e.ip.clone(),
                device: device_label(&e.user_agent),
            })
            .collect(),
        email_offered: m.email,
        question_offered: m.question,
        security_email: st.security_email.clone(),
        security_question: question,
        questions: recovery::QUESTIONS,
        saved,
        error: error.map(|e| e.message(lang).to_string()),
        error_field: error.and_then(|e| e.field).unwrap_or(""),
    };
    status(render(&page), error)
}

pub(super) async fn security_page(
    State(state): State<AppState>,
    client: Client,
    Path(code): Path<String>,
    session: Option<AnySession>,
) -> Response {
    match page_session(&state, &code, session, client.lang, false).await {
        Ok((school, s)) => security_view(&state, &school, &s, client.lang, Ok(None)).await,
        Err(r) => r,
    }
}

#[derive(Deserialize)]
pub(super) struct SecurityForm {
    csrf: String,
    password: Option<String>,
    security_email: Option<String>,
    question: Option<String>,
    answer: Option<String>,
}

pub(super) async fn security_email(
    State(state): State<AppState>,
    client: Client,
    Path(code): Path<String>,
    session: Option<AnySession>,
    Form(f): Form<SecurityForm>,
) -> Response {
    let lang = client.lang;
    let (school, s) = match posted_session(&state, &code, session, lang, &f.csrf).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let r =
        recovery::set_security_email(&state, &s, f.password.as_deref().unwrap_or(""), f.security_email.as_deref().unwrap_or(""), &client)
            .await;
    security_view(&state, &school, &s, lang, r.map(|()| Some(lang.t("密保邮箱已保存。", "Security e-mail saved.")))).await
}

pub(super) async fn security_question(
    State(state): State<AppState>,
    client: Client,
    Path(code): Path<String>,
    session: Option<AnySession>,
    Form(f): Form<SecurityForm>,
) -> Response {
    let lang = client.lang;
    let (school, s) = match posted_session(&state, &code, session, lang, &f.csrf).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let r = recovery::set_security_question(
        &state,
        &s,
        f.password.as_deref().unwrap_or(""),
        f.question.as_deref().unwrap_or(""),
        f.answer.as_deref().unwrap_or(""),
        &client,
    )
    .await;
    security_view(&state, &school, &s, lang, r.map(|()| Some(lang.t("密保问题已保存。", "Security question saved.")))).await
}

pub(super) async fn end_others(
    State(state): State<AppState>,
    client: Client,
    Path(code): Path<String>,
    session: Option<AnySession>,
    Form(f): Form<SecurityForm>,
) -> Response {
    let lang = client.lang;
    let (_, s) = match posted_session(&state, &code, session, lang, &f.csrf).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let ended = state.store.end_other_sessions(s.school_id, s.student_id, &s.token_hash).await;
    let event = campuspay_store::security::NewSecurityEvent {
        school_id: s.school_id,
        student_id: Some(s.student_id),
        login: "",
        kind: campuspay_store::security::event::SESSIONS_ENDED,
        ip: &client.ip,
        user_agent: &client.user_agent,
    };
    let logged = state.store.write(async |tx| state.store.record_security_event(tx, &event).await).await;
    if let Err(e) = ended.and(logged) {
        return error_page(&e.into(), lang);
    }
    Redirect::to(&format!("/s/{code}/security")).into_response()
}

struct OutboxView {
    channel: String,
    recipient: String,
    subject: String,
    body: String,
    at: String,
    link: Option<String>,
}

#[derive(Template)]
#[template(path = "outbox.html")]
struct OutboxPage {
    lang: Lang,
    messages: Vec<OutboxView>,
}

pub(super) async fn outbox_page(State(state): State<AppState>, client: Client) -> Response {
    let lang = client.lang;
    let list = match state.store.outbox(50).await {
        Ok(l) => l,
        Err(e) => return error_page(&e.into(), lang),
    };
    let base = state.public_url();
    render(&OutboxPage {
        lang,
        messages: list
            .into_iter()
            .map(|m| {
                // Links in demo mail point at this server; offer them as relative links.
                let link =
                    m.body.split_whitespace().find(|w| w.starts_with(base) && w.contains("/reset/")).map(|w| w[base.len()..].to_string());
                OutboxView {
                    at: time::format_shanghai(m.created_at),
                    channel: m.channel,
                    recipient: m.recipient,
                    subject: m.subject,
                    body: m.body,
                    link,
                }
            })
            .collect(),
    })
}
