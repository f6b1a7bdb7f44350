//! `/notify/{provider}[/{school}]`: providers' payment notifications, answered in each
//! provider's protocol. What they do is `campuspay_app::payment::notify`.

use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use campuspay_app::payment::notify::{self, Answer, Incoming};

fn respond(answer: Answer) -> Response {
    match answer {
        Answer::UnknownProvider => (StatusCode::NOT_FOUND, "unknown provider").into_response(),
        Answer::NoMerchant => (StatusCode::NOT_FOUND, "no such merchant").into_response(),
        Answer::Busy => (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response(),
        Answer::Ack(ack) => {
            let status = StatusCode::from_u16(ack.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, [(header::CONTENT_TYPE, ack.content_type)], ack.body).into_response()
        }
    }
}

/// Provider notification for one school's merchant.
#[utoipa::path(post, path = "/notify/{provider}/{school}", params(("provider" = String, Path), ("school" = String, Path)), responses(
    (status = 200, description = "accepted (provider's own acknowledgement)"),
    (status = 401, description = "signature refused"),
    (status = 404, description = "unknown provider or no such merchant"),
    (status = 500, description = "not accepted; the provider retries"),
    (status = 503, description = "busy; the provider retries"),
))]
pub async fn with_school(
    State(state): State<AppState>,
    Path((provider, school)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(notify::receive(&state, &Incoming { provider: &provider, school: Some(&school), headers: &headers, body: &body }).await)
}

/// Provider notification (WeChat Pay v3 JSON, Alipay form); verified against every school's
/// merchant of that provider.
#[utoipa::path(post, path = "/notify/{provider}", params(("provider" = String, Path, description = "`wechatpay` or `alipay`")), responses(
    (status = 200, description = "accepted (provider's own acknowledgement)"),
    (status = 401, description = "signature refused"),
    (status = 404, description = "unknown provider or no such merchant"),
    (status = 500, description = "not accepted; the provider retries"),
    (status = 503, description = "busy; the provider retries"),
))]
pub async fn without_school(State(state): State<AppState>, Path(provider): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    respond(notify::receive(&state, &Incoming { provider: &provider, school: None, headers: &headers, body: &body }).await)
}
