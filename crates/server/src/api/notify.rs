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

pub async fn with_school(
    State(state): State<AppState>,
    Path((provider, school)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(notify::receive(&state, &Incoming { provider: &provider, school: Some(&school), headers: &headers, body: &body }).await)
}

pub async fn without_school(State(state): State<AppState>, Path(provider): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    respond(notify::receive(&state, &Incoming { provider: &provider, school: None, headers: &headers, body: &body }).await)
}
