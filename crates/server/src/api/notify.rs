//! `/notify/{provider}[/{school}]`: providers' payment (and WeChat refund) notifications,
//! answered in each provider's protocol — a refused one too: WeChat 500 with `{"code":"FAIL"}`,
//! Alipay 200 `fail`, UnionPay 500 `fail`, 通联收银宝 200 `fail` (the adapters' `ack`). What they do is `campuspay_app::payment::notify`.
//!
//! The URL is public, so a source that keeps sending notifications no merchant key verifies
//! (60 a minute) is answered 429 for the rest of that minute without verifying anything. A
//! provider's real notifications verify, so they never count against it; bodies are capped by
//! the router's 64 KB limit (413), several times the largest a provider sends.

use crate::AppState;
use crate::web::Client;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use campuspay_app::payment::notify::{self, Answer, Incoming};
use std::collections::HashMap;
use std::sync::Mutex;

/// Refused notifications a source may send per minute before it is answered 429.
const FAILURES_PER_MINUTE: u32 = 60;

/// Refused notifications per source address in the current minute (per instance).
#[derive(Debug, Default)]
pub struct RefusedSources {
    minute: Mutex<(i64, HashMap<String, u32>)>,
}

impl RefusedSources {
    fn with<T>(&self, now: i64, f: impl FnOnce(&mut HashMap<String, u32>) -> T) -> T {
        let mut m = self.minute.lock().unwrap_or_else(|e| e.into_inner());
        if m.0 != now / 60 {
            *m = (now / 60, HashMap::new());
        }
        f(&mut m.1)
    }

    fn over_limit(&self, source: &str, now: i64) -> bool {
        self.with(now, |m| m.get(source).is_some_and(|&n| n >= FAILURES_PER_MINUTE))
    }

    fn refused(&self, source: &str, now: i64) {
        self.with(now, |m| *m.entry(source.to_string()).or_default() += 1);
    }
}

async fn receive(state: &AppState, client: &Client, incoming: &Incoming<'_>) -> Response {
    let now = state.clock.now();
    if state.refused_sources.over_limit(&client.ip, now) {
        return (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "60")], "too many refused notifications").into_response();
    }
    let answer = notify::receive(state, incoming).await;
    if matches!(answer, Answer::Rejected(_)) {
        state.refused_sources.refused(&client.ip, now);
    }
    respond(answer)
}

fn respond(answer: Answer) -> Response {
    match answer {
        Answer::UnknownProvider => (StatusCode::NOT_FOUND, "unknown provider").into_response(),
        Answer::NoMerchant => (StatusCode::NOT_FOUND, "no such merchant").into_response(),
        Answer::Busy => (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response(),
        Answer::Ack(ack) | Answer::Rejected(ack) => {
            let status = StatusCode::from_u16(ack.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, [(header::CONTENT_TYPE, ack.content_type)], ack.body).into_response()
        }
    }
}

/// Provider notification for one school's merchant.
#[utoipa::path(post, path = "/notify/{provider}/{school}", params(("provider" = String, Path), ("school" = String, Path)), responses(
    (status = 200, description = "Alipay: body `success` (taken) or `fail` (its signature or merchant did not verify, or it could not be taken now: Alipay retries), as Alipay's notify protocol has it; UnionPay: body `ok` (taken); 通联收银宝 (`allinpay`): body `success` (taken) or `fail` (refused or not taken now: 通联 counts anything but `success` as not received and retries 15s/15s/5m/10m/15m)"),
    (status = 204, description = "WeChat Pay: taken, no body (WeChat Pay counts 200 or 204 as received)"),
    (status = 404, description = "unknown provider or no such merchant"),
    (status = 413, description = "body over 64 KB"),
    (status = 429, description = "this source sent too many notifications that failed verification"),
    (status = 500, description = "refused (signature, key or merchant did not verify) or not taken now; the provider retries. WeChat Pay: body `{\"code\":\"FAIL\",\"message\":…}` (application/json), as its notification rules ask; UnionPay: body `fail`"),
    (status = 503, description = "busy; the provider retries"),
))]
pub async fn with_school(
    State(state): State<AppState>,
    client: Client,
    Path((provider, school)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    receive(&state, &client, &Incoming { provider: &provider, school: Some(&school), headers: &headers, body: &body }).await
}

/// Provider notification (WeChat Pay v3 JSON, Alipay form); verified against every school's
/// merchant of that provider.
#[utoipa::path(post, path = "/notify/{provider}", params(("provider" = String, Path, description = "`wechatpay`, `alipay`, `unionpay` or `allinpay`")), responses(
    (status = 200, description = "Alipay: body `success` (taken) or `fail` (its signature or merchant did not verify, or it could not be taken now: Alipay retries), as Alipay's notify protocol has it; UnionPay: body `ok` (taken); 通联收银宝 (`allinpay`): body `success` (taken) or `fail` (refused or not taken now: 通联 counts anything but `success` as not received and retries 15s/15s/5m/10m/15m)"),
    (status = 204, description = "WeChat Pay: taken, no body (WeChat Pay counts 200 or 204 as received)"),
    (status = 404, description = "unknown provider or no such merchant"),
    (status = 413, description = "body over 64 KB"),
    (status = 429, description = "this source sent too many notifications that failed verification"),
    (status = 500, description = "refused (signature, key or merchant did not verify) or not taken now; the provider retries. WeChat Pay: body `{\"code\":\"FAIL\",\"message\":…}` (application/json), as its notification rules ask; UnionPay: body `fail`"),
    (status = 503, description = "busy; the provider retries"),
))]
pub async fn without_school(
    State(state): State<AppState>,
    client: Client,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    receive(&state, &client, &Incoming { provider: &provider, school: None, headers: &headers, body: &body }).await
}
