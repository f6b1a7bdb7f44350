//! Account endpoints: password recovery by the school's policy, security settings.

use super::ApiJson;
use crate::AppState;
use crate::error::{ErrorBody, HttpError};
use crate::web::{Client, StudentSession};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use campuspay_app::student::recovery::{self, Captcha, NewPassword};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SchoolQuery {
    school: String,
}

#[derive(Serialize, ToSchema)]
pub struct RecoveryMethods {
    school: String,
    captcha: bool,
    methods: Vec<RecoveryMethod>,
}

#[derive(Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RecoveryMethod {
    Email,
    SecurityQuestion,
    Sms { daily_limit: u32 },
    ContactOffice { text: String },
}

/// The school's ways to recover a password.
#[utoipa::path(get, path = "/api/v1/recovery/methods", params(SchoolQuery), responses(
    (status = 200, description = "找回方式", body = RecoveryMethods),
    (status = 404, description = "学校不存在", body = ErrorBody),
))]
pub async fn methods(State(state): State<AppState>, Query(q): Query<SchoolQuery>) -> Result<ApiJson<RecoveryMethods>, HttpError> {
    let school = recovery::school(&state, &q.school).await?;
    let m = recovery::methods(&school);
    let mut methods = Vec::new();
    if m.email {
        methods.push(RecoveryMethod::Email);
    }
    if m.question {
        methods.push(RecoveryMethod::SecurityQuestion);
    }
    if let Some(daily_limit) = m.sms {
        methods.push(RecoveryMethod::Sms { daily_limit });
    }
    if let Some(text) = m.contact {
        methods.push(RecoveryMethod::ContactOffice { text });
    }
    Ok(ApiJson(RecoveryMethods { school: school.code, captcha: school.policy.captcha, methods }))
}

#[derive(Deserialize, ToSchema)]
pub struct RequestBody {
    school: String,
    #[schema(min_length = 1, max_length = 32)]
    login: String,
    captcha_id: Option<String>,
    captcha: Option<String>,
}

/// The same answer whether the student number exists or not.
#[derive(Serialize, ToSchema)]
pub struct Accepted {
    accepted: bool,
    message: String,
    expires_in_s: i64,
    /// SMS only: when another code may be asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    resend_after_s: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct PasswordReset {
    reset: bool,
    sessions_ended: bool,
}

const RESET: PasswordReset = PasswordReset { reset: true, sessions_ended: true };

/// Send a single-use reset link (30 min) to the security e-mail (seed 001).
#[utoipa::path(post, path = "/api/v1/recovery/email", request_body = RequestBody, responses(
    (status = 202, description = "已受理：无论学号是否存在，回答都相同", body = Accepted),
    (status = 400, description = "请输入学号", body = ErrorBody),
    (status = 401, description = "请输入验证码 / 验证码错误", body = ErrorBody),
    (status = 404, description = "学校不存在或不提供此方式", body = ErrorBody),
    (status = 423, description = "错误次数过多，已临时锁定", body = ErrorBody),
    (status = 429, description = "请求过于频繁 / 今日次数已达上限", body = ErrorBody),
))]
pub async fn request_email(
    State(state): State<AppState>,
    client: Client,
    ApiJson(b): ApiJson<RequestBody>,
) -> Result<(StatusCode, ApiJson<Accepted>), HttpError> {
    let r = recovery::RecoveryRequest {
        school: &b.school,
        login: &b.login,
        captcha: Captcha { id: b.captcha_id.as_deref(), answer: b.captcha.as_deref() },
    };
    recovery::request_email(&state, &r, &client).await?;
    let message = client.lang.t(recovery::REQUEST_SENT_ZH, recovery::REQUEST_SENT_EN);
    let body = Accepted { accepted: true, message: message.to_string(), expires_in_s: recovery::LINK_TTL_S, resend_after_s: None };
    Ok((StatusCode::ACCEPTED, ApiJson(body)))
}

#[derive(Deserialize, ToSchema)]
pub struct LinkResetBody {
    school: String,
    token: String,
    new_password: String,
    confirm_password: Option<String>,
}

/// Set a new password with the link's token; ends every session.
#[utoipa::path(post, path = "/api/v1/recovery/reset", request_body = LinkResetBody, responses(
    (status = 200, description = "密码已重置，所有会话已结束", body = PasswordReset),
    (status = 400, description = "链接无效或已过期", body = ErrorBody),
    (status = 422, description = "新密码不符合要求", body = ErrorBody),
    (status = 429, description = "请求过于频繁", body = ErrorBody),
))]
pub async fn reset_with_link(
    State(state): State<AppState>,
    client: Client,
    ApiJson(b): ApiJson<LinkResetBody>,
) -> Result<ApiJson<PasswordReset>, HttpError> {
    let pw = NewPassword { new: &b.new_password, confirm: b.confirm_password.as_deref() };
    recovery::reset_with_link(&state, &b.school, &b.token, &pw, &client).await?;
    Ok(ApiJson(RESET))
}

/// Send a 6-digit code (5 min) to the phone: the school's daily limit per phone, one a minute (seed 002).
#[utoipa::path(post, path = "/api/v1/recovery/sms", request_body = RequestBody, responses(
    (status = 202, description = "已受理：无论学号是否存在，回答都相同", body = Accepted),
    (status = 401, description = "请输入验证码 / 验证码错误", body = ErrorBody),
    (status = 404, description = "学校不存在或不提供此方式", body = ErrorBody),
    (status = 423, description = "错误次数过多，已临时锁定", body = ErrorBody),
    (status = 429, description = "请求过于频繁 / 今日次数已达上限", body = ErrorBody),
))]
pub async fn request_sms(
    State(state): State<AppState>,
    client: Client,
    ApiJson(b): ApiJson<RequestBody>,
) -> Result<(StatusCode, ApiJson<Accepted>), HttpError> {
    let r = recovery::RecoveryRequest {
        school: &b.school,
        login: &b.login,
        captcha: Captcha { id: b.captcha_id.as_deref(), answer: b.captcha.as_deref() },
    };
    recovery::request_sms(&state, &r, &client).await?;
    let message = client.lang.t(recovery::SMS_SENT_ZH, recovery::SMS_SENT_EN);
    let body = Accepted {
        accepted: true,
        message: message.to_string(),
        expires_in_s: recovery::SMS_TTL_S,
        resend_after_s: Some(recovery::SMS_RESEND_S),
    };
    Ok((StatusCode::ACCEPTED, ApiJson(body)))
}

#[derive(Deserialize, ToSchema)]
pub struct CodeResetBody {
    school: String,
    #[schema(min_length = 1, max_length = 32)]
    login: String,
    code: String,
    new_password: String,
    confirm_password: Option<String>,
    captcha_id: Option<String>,
    captcha: Option<String>,
}

/// Set a new password with the SMS code; ends every session.
#[utoipa::path(post, path = "/api/v1/recovery/sms/reset", request_body = CodeResetBody, responses(
    (status = 200, description = "密码已重置，所有会话已结束", body = PasswordReset),
    (status = 401, description = "请输入验证码 / 验证码错误", body = ErrorBody),
    (status = 404, description = "学校不存在或不提供此方式", body = ErrorBody),
    (status = 422, description = "验证码错误或已过期 / 新密码不符合要求", body = ErrorBody),
    (status = 423, description = "错误次数过多，已临时锁定", body = ErrorBody),
    (status = 429, description = "请求过于频繁 / 今日次数已达上限", body = ErrorBody),
))]
pub async fn reset_with_sms(
    State(state): State<AppState>,
    client: Client,
    ApiJson(b): ApiJson<CodeResetBody>,
) -> Result<ApiJson<PasswordReset>, HttpError> {
    let r = recovery::CodeReset {
        school: &b.school,
        login: &b.login,
        code: &b.code,
        password: NewPassword { new: &b.new_password, confirm: b.confirm_password.as_deref() },
        captcha: Captcha { id: b.captcha_id.as_deref(), answer: b.captcha.as_deref() },
    };
    recovery::reset_with_sms(&state, &r, &client).await?;
    Ok(ApiJson(RESET))
}

#[derive(Deserialize, ToSchema)]
pub struct QuestionBody {
    school: String,
    #[schema(min_length = 1, max_length = 32)]
    login: String,
}

#[derive(Serialize, ToSchema)]
pub struct Question {
    question: String,
}

/// The security question to answer (seed 004); shown for every student number.
#[utoipa::path(post, path = "/api/v1/recovery/question", request_body = QuestionBody, responses(
    (status = 200, description = "密保问题", body = Question),
    (status = 401, description = "请输入验证码 / 验证码错误", body = ErrorBody),
    (status = 404, description = "学校不存在或不提供此方式", body = ErrorBody),
    (status = 423, description = "错误次数过多，已临时锁定", body = ErrorBody),
    (status = 429, description = "请求过于频繁 / 今日次数已达上限", body = ErrorBody),
))]
pub async fn question(
    State(state): State<AppState>,
    client: Client,
    ApiJson(b): ApiJson<QuestionBody>,
) -> Result<ApiJson<Question>, HttpError> {
    let question = recovery::question_for(&state, &b.school, &b.login, &client).await?;
    Ok(ApiJson(Question { question }))
}

#[derive(Deserialize, ToSchema)]
pub struct AnswerResetBody {
    school: String,
    #[schema(min_length = 1, max_length = 32)]
    login: String,
    #[schema(min_length = 1)]
    answer: String,
    new_password: String,
    confirm_password: Option<String>,
    captcha_id: Option<String>,
    captcha: Option<String>,
}

/// Set a new password with the answer to the security question; ends every session.
#[utoipa::path(post, path = "/api/v1/recovery/question/reset", request_body = AnswerResetBody, responses(
    (status = 200, description = "密码已重置，所有会话已结束", body = PasswordReset),
    (status = 401, description = "请输入验证码 / 验证码错误", body = ErrorBody),
    (status = 404, description = "学校不存在或不提供此方式", body = ErrorBody),
    (status = 422, description = "密保答案错误 / 新密码不符合要求", body = ErrorBody),
    (status = 423, description = "错误次数过多，已临时锁定", body = ErrorBody),
    (status = 429, description = "请求过于频繁 / 今日次数已达上限", body = ErrorBody),
))]
pub async fn reset_with_answer(
    State(state): State<AppState>,
    client: Client,
    ApiJson(b): ApiJson<AnswerResetBody>,
) -> Result<ApiJson<PasswordReset>, HttpError> {
    let r = recovery::AnswerReset {
        school: &b.school,
        login: &b.login,
        answer: &b.answer,
        password: NewPassword { new: &b.new_password, confirm: b.confirm_password.as_deref() },
        captcha: Captcha { id: b.captcha_id.as_deref(), answer: b.captcha.as_deref() },
    };
    recovery::reset_with_answer(&state, &r, &client).await?;
    Ok(ApiJson(RESET))
}

#[derive(Serialize, ToSchema)]
pub struct Security {
    security_email: String,
    security_question: String,
    /// The questions a student may pick from.
    questions: Vec<&'static str>,
    recovery: RecoveryOffered,
}

/// Which of the ways to recover a password the school offers.
#[derive(Serialize, ToSchema)]
pub struct RecoveryOffered {
    email: bool,
    security_question: bool,
    sms: bool,
    /// The office's numbers, where the school lists them.
    contact_office: Option<String>,
}

/// Security e-mail and question, and the school's recovery methods.
#[utoipa::path(get, path = "/api/v1/student/security", security(("bearer" = [])), responses((status = 200, description = "安全设置", body = Security)))]
pub async fn security(State(state): State<AppState>, StudentSession(s): StudentSession) -> Result<ApiJson<Security>, HttpError> {
    let (school, st) = campuspay_app::student::profile::school_and_student(&state, &s).await?;
    let (security_question, _) = state.store.security_question(school.id, st.id).await?;
    let m = recovery::methods(&school);
    Ok(ApiJson(Security {
        security_email: st.security_email,
        security_question,
        questions: recovery::QUESTIONS.to_vec(),
        recovery: RecoveryOffered { email: m.email, security_question: m.question, sms: m.sms.is_some(), contact_office: m.contact },
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct SecurityEmailBody {
    password: String,
    security_email: String,
}

/// Set the security e-mail (the password is asked again).
#[utoipa::path(put, path = "/api/v1/student/security-email", request_body = SecurityEmailBody, security(("bearer" = [])), responses(
    (status = 204, description = "已保存"),
    (status = 422, description = "登录密码有误 / 邮箱格式有误", body = ErrorBody),
    (status = 423, description = "错误次数过多", body = ErrorBody),
))]
pub async fn set_security_email(
    State(state): State<AppState>,
    client: Client,
    StudentSession(s): StudentSession,
    ApiJson(b): ApiJson<SecurityEmailBody>,
) -> Result<StatusCode, HttpError> {
    recovery::set_security_email(&state, &s, &b.password, &b.security_email, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct SecurityQuestionBody {
    password: String,
    /// One of `GET /api/v1/student/security`'s questions.
    question: String,
    #[schema(min_length = 1)]
    answer: String,
}

/// Set or change the security question (the password is asked again).
#[utoipa::path(put, path = "/api/v1/student/security-question", request_body = SecurityQuestionBody, security(("bearer" = [])), responses(
    (status = 204, description = "已保存"),
    (status = 422, description = "登录密码有误 / 请选择密保问题", body = ErrorBody),
    (status = 423, description = "错误次数过多", body = ErrorBody),
))]
pub async fn set_security_question(
    State(state): State<AppState>,
    client: Client,
    StudentSession(s): StudentSession,
    ApiJson(b): ApiJson<SecurityQuestionBody>,
) -> Result<StatusCode, HttpError> {
    recovery::set_security_question(&state, &s, &b.password, &b.question, &b.answer, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
