//! Account endpoints: password recovery by the school's policy, security settings.

use super::ApiJson;
use crate::AppState;
use crate::error::HttpError;
use crate::web::{Client, StudentSession};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use campuspay_app::student::recovery::{self, Captcha, NewPassword};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
pub struct SchoolQuery {
    school: String,
}

pub async fn methods(State(state): State<AppState>, Query(q): Query<SchoolQuery>) -> Result<Json<Value>, HttpError> {
    let school = recovery::school(&state, &q.school).await?;
    let m = recovery::methods(&school);
    let mut list = Vec::new();
    if m.email {
        list.push(json!({"kind": "email"}));
    }
    if m.question {
        list.push(json!({"kind": "security_question"}));
    }
    if let Some(limit) = m.sms {
        list.push(json!({"kind": "sms", "daily_limit": limit}));
    }
    if let Some(text) = &m.contact {
        list.push(json!({"kind": "contact_office", "text": text}));
    }
    Ok(Json(json!({"school": school.code, "captcha": school.policy.captcha, "methods": list})))
}

#[derive(Deserialize)]
pub struct RequestBody {
    school: String,
    login: String,
    captcha_id: Option<String>,
    captcha: Option<String>,
}

pub async fn request_email(
    State(state): State<AppState>,
    client: Client,
    ApiJson(b): ApiJson<RequestBody>,
) -> Result<(StatusCode, Json<Value>), HttpError> {
    let r = recovery::RecoveryRequest {
        school: &b.school,
        login: &b.login,
        captcha: Captcha { id: b.captcha_id.as_deref(), answer: b.captcha.as_deref() },
    };
    recovery::request_email(&state, &r, &client).await?;
    let message = client.lang.t(recovery::REQUEST_SENT_ZH, recovery::REQUEST_SENT_EN);
    Ok((StatusCode::ACCEPTED, Json(json!({"accepted": true, "message": message, "expires_in_s": recovery::LINK_TTL_S}))))
}

#[derive(Deserialize)]
pub struct LinkResetBody {
    school: String,
    token: String,
    new_password: String,
    confirm_password: Option<String>,
}

pub async fn reset_with_link(
    State(state): State<AppState>,
    client: Client,
    ApiJson(b): ApiJson<LinkResetBody>,
) -> Result<Json<Value>, HttpError> {
    let pw = NewPassword { new: &b.new_password, confirm: b.confirm_password.as_deref() };
    recovery::reset_with_link(&state, &b.school, &b.token, &pw, &client).await?;
    Ok(Json(json!({"reset": true, "sessions_ended": true})))
}

pub async fn request_sms(
    State(state): State<AppState>,
    client: Client,
    ApiJson(b): ApiJson<RequestBody>,
) -> Result<(StatusCode, Json<Value>), HttpError> {
    let r = recovery::RecoveryRequest {
        school: &b.school,
        login: &b.login,
        captcha: Captcha { id: b.captcha_id.as_deref(), answer: b.captcha.as_deref() },
    };
    recovery::request_sms(&state, &r, &client).await?;
    let message = client.lang.t(recovery::SMS_SENT_ZH, recovery::SMS_SENT_EN);
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"accepted": true, "message": message, "expires_in_s": recovery::SMS_TTL_S, "resend_after_s": recovery::SMS_RESEND_S})),
    ))
}

#[derive(Deserialize)]
pub struct CodeResetBody {
    school: String,
    login: String,
    code: String,
    new_password: String,
    confirm_password: Option<String>,
    captcha_id: Option<String>,
    captcha: Option<String>,
}

pub async fn reset_with_sms(
    State(state): State<AppState>,
    client: Client,
    ApiJson(b): ApiJson<CodeResetBody>,
) -> Result<Json<Value>, HttpError> {
    let r = recovery::CodeReset {
        school: &b.school,
        login: &b.login,
        code: &b.code,
        password: NewPassword { new: &b.new_password, confirm: b.confirm_password.as_deref() },
        captcha: Captcha { id: b.captcha_id.as_deref(), answer: b.captcha.as_deref() },
    };
    recovery::reset_with_sms(&state, &r, &client).await?;
    Ok(Json(json!({"reset": true, "sessions_ended": true})))
}

#[derive(Deserialize)]
pub struct QuestionBody {
    school: String,
    login: String,
}

pub async fn question(State(state): State<AppState>, client: Client, ApiJson(b): ApiJson<QuestionBody>) -> Result<Json<Value>, HttpError> {
    let q = recovery::question_for(&state, &b.school, &b.login, &client).await?;
    Ok(Json(json!({"question": q})))
}

#[derive(Deserialize)]
pub struct AnswerResetBody {
    school: String,
    login: String,
    answer: String,
    new_password: String,
    confirm_password: Option<String>,
    captcha_id: Option<String>,
    captcha: Option<String>,
}

pub async fn reset_with_answer(
    State(state): State<AppState>,
    client: Client,
    ApiJson(b): ApiJson<AnswerResetBody>,
) -> Result<Json<Value>, HttpError> {
    let r = recovery::AnswerReset {
        school: &b.school,
        login: &b.login,
        answer: &b.answer,
        password: NewPassword { new: &b.new_password, confirm: b.confirm_password.as_deref() },
        captcha: Captcha { id: b.captcha_id.as_deref(), answer: b.captcha.as_deref() },
    };
    recovery::reset_with_answer(&state, &r, &client).await?;
    Ok(Json(json!({"reset": true, "sessions_ended": true})))
}

pub async fn security(State(state): State<AppState>, StudentSession(s): StudentSession) -> Result<Json<Value>, HttpError> {
    let (school, st) = campuspay_app::student::profile::school_and_student(&state, &s).await?;
    let (question, _) = state.store.security_question(school.id, st.id).await?;
    let m = recovery::methods(&school);
    Ok(Json(json!({
        "security_email": st.security_email,
        "security_question": question,
        "questions": recovery::QUESTIONS,
        "recovery": {"email": m.email, "security_question": m.question, "sms": m.sms.is_some(), "contact_office": m.contact},
    })))
}

#[derive(Deserialize)]
pub struct SecurityEmailBody {
    password: String,
    security_email: String,
}

pub async fn set_security_email(
    State(state): State<AppState>,
    client: Client,
    StudentSession(s): StudentSession,
    ApiJson(b): ApiJson<SecurityEmailBody>,
) -> Result<StatusCode, HttpError> {
    recovery::set_security_email(&state, &s, &b.password, &b.security_email, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct SecurityQuestionBody {
    password: String,
    question: String,
    answer: String,
}

pub async fn set_security_question(
    State(state): State<AppState>,
    client: Client,
    StudentSession(s): StudentSession,
    ApiJson(b): ApiJson<SecurityQuestionBody>,
) -> Result<StatusCode, HttpError> {
    recovery::set_security_question(&state, &s, &b.password, &b.question, &b.answer, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
