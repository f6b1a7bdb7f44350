//! `/api/v1`: the JSON API, described by `/api/v1/openapi.json`.

mod account;
mod notify;
mod openapi;
pub(crate) mod orders;
mod student;

use crate::AppState;
use crate::error::HttpError;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::routing::{get, post, put};
use serde::de::DeserializeOwned;

/// Every path the API serves; the OpenAPI document must describe each (a test checks).
pub const ROUTES: &[&str] = &[
    "/healthz",
    "/api/v1/openapi.json",
    "/api/v1/schools",
    "/api/v1/captcha",
    "/api/v1/student/login",
    "/api/v1/student/logout",
    "/api/v1/student/password",
    "/api/v1/student/me",
    "/api/v1/student/profile",
    "/api/v1/student/charges",
    "/api/v1/student/sessions",
    "/api/v1/student/sessions/end-others",
    "/api/v1/student/security-events",
    "/api/v1/student/orders",
    "/api/v1/student/orders/{order_no}",
    "/api/v1/student/orders/{order_no}/pay",
    "/api/v1/student/orders/{order_no}/cancel",
    "/api/v1/student/payments",
    "/api/v1/student/transactions",
    "/notify/{provider}",
    "/notify/{provider}/{school}",
    "/api/v1/student/security",
    "/api/v1/student/security-email",
    "/api/v1/student/security-question",
    "/api/v1/recovery/methods",
    "/api/v1/recovery/email",
    "/api/v1/recovery/reset",
    "/api/v1/recovery/sms",
    "/api/v1/recovery/sms/reset",
    "/api/v1/recovery/question",
    "/api/v1/recovery/question/reset",
];

pub use orders::qr_svg;

pub fn openapi_spec() -> serde_json::Value {
    openapi::spec()
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(student::healthz))
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/api/v1/schools", get(student::schools))
        .route("/api/v1/captcha", get(student::captcha))
        .route("/api/v1/student/login", post(student::login))
        .route("/api/v1/student/logout", post(student::logout))
        .route("/api/v1/student/password", post(student::change_password))
        .route("/api/v1/student/me", get(student::me))
        .route("/api/v1/student/profile", put(student::update_profile))
        .route("/api/v1/student/charges", get(student::charges))
        .route("/api/v1/student/sessions", get(student::sessions))
        .route("/api/v1/student/sessions/end-others", post(student::end_other_sessions))
        .route("/api/v1/student/security-events", get(student::security_events))
        .route("/api/v1/student/orders", post(orders::create).get(orders::list))
        .route("/api/v1/student/orders/{order_no}", get(orders::show))
        .route("/api/v1/student/orders/{order_no}/pay", post(orders::pay))
        .route("/api/v1/student/orders/{order_no}/cancel", post(orders::cancel))
        .route("/api/v1/student/payments", get(orders::payments))
        .route("/api/v1/student/transactions", get(orders::transactions))
        .route("/notify/{provider}", post(notify::without_school))
        .route("/notify/{provider}/{school}", post(notify::with_school))
        .route("/api/v1/student/security", get(account::security))
        .route("/api/v1/student/security-email", put(account::set_security_email))
        .route("/api/v1/student/security-question", put(account::set_security_question))
        .route("/api/v1/recovery/methods", get(account::methods))
        .route("/api/v1/recovery/email", post(account::request_email))
        .route("/api/v1/recovery/reset", post(account::reset_with_link))
        .route("/api/v1/recovery/sms", post(account::request_sms))
        .route("/api/v1/recovery/sms/reset", post(account::reset_with_sms))
        .route("/api/v1/recovery/question", post(account::question))
        .route("/api/v1/recovery/question/reset", post(account::reset_with_answer))
}

/// JSON body whose rejection is our error shape, in Chinese first.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(HttpError::new(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "json_required",
                "请求须为 JSON（Content-Type: application/json）",
                "The request body must be JSON (Content-Type: application/json)",
            )),
            Err(e) => Err(HttpError::bad_request(
                format!("请求格式有误：{}", e.body_text().chars().take(200).collect::<String>()),
                format!("Malformed request: {}", e.body_text().chars().take(200).collect::<String>()),
            )
            .with_code("malformed_json")),
        }
    }
}
