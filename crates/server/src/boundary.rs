//! What the boundary checks before any handler runs, and the one shape of an API error.
//!
//! * [`refuse_control_characters`]: a NUL, another control character or a bidi override in
//!   the path, the query or a JSON or form body is refused with `400 invalid_characters` —
//!   the same on both databases, before anything is stored (PostgreSQL would answer 500 to a
//!   NUL, SQLite would keep it). Provider notifications (signed bytes) and the simulator are
//!   not ours to judge.
//! * [`api_error_shape`]: whatever refused an API request — a handler, an extractor of axum's
//!   (a missing query field, a path segment that is not a number), the body limit, an unknown
//!   route — the client gets `{"error":{"code","message"}}` with the right status.

use crate::error::HttpError;
use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use campuspay_domain::text::forbidden_char;

/// Bodies larger than this are not ours to read here; the handlers' extractors refuse them
/// with 413 (`DefaultBodyLimit`), so checking more would only buffer an attack.
const CHECKED_BODY_LIMIT: usize = 64 * 1024;

fn invalid_characters(c: char) -> HttpError {
    HttpError::new(
        StatusCode::BAD_REQUEST,
        "invalid_characters",
        format!("输入中含有不允许的控制字符（U+{:04X}），请删除后重试", c as u32),
        format!("The input contains a control character that is not allowed (U+{:04X})", c as u32),
    )
}

fn too_large() -> HttpError {
    HttpError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "提交的内容过大", "The request body is too large")
}

/// The first forbidden character in a percent-encoded path or query (decoded, as the
/// handlers will see it).
fn forbidden_in_uri_part(part: &str) -> Option<char> {
    let decoded = percent_encoding::percent_decode_str(&part.replace('+', " ")).decode_utf8_lossy().into_owned();
    forbidden_char(&decoded)
}

fn forbidden_in_json(v: &serde_json::Value) -> Option<char> {
    match v {
        serde_json::Value::String(s) => forbidden_char(s),
        serde_json::Value::Array(a) => a.iter().find_map(forbidden_in_json),
        serde_json::Value::Object(o) => o.iter().find_map(|(k, v)| forbidden_char(k).or_else(|| forbidden_in_json(v))),
        _ => None,
    }
}

pub async fn refuse_control_characters(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path.starts_with("/notify/") || path.starts_with("/sandbox/") {
        return next.run(req).await;
    }
    if let Some(c) = forbidden_in_uri_part(path).or_else(|| req.uri().query().and_then(forbidden_in_uri_part)) {
        return invalid_characters(c).into_response();
    }
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let json = content_type.starts_with("application/json");
    let form = content_type.starts_with("application/x-www-form-urlencoded");
    if !json && !form {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, CHECKED_BODY_LIMIT).await else {
        return too_large().into_response();
    };
    let found = if json {
        // A body that is not JSON is the handler's to refuse (`malformed_json`).
        serde_json::from_slice::<serde_json::Value>(&bytes).ok().as_ref().and_then(forbidden_in_json)
    } else {
        form_urlencoded::parse(&bytes).find_map(|(k, v)| forbidden_char(&k).or_else(|| forbidden_char(&v)))
    };
    if let Some(c) = found {
        return invalid_characters(c).into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

pub async fn api_error_shape(req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    let lang = crate::web::request_lang(req.uri().path(), req.headers(), req.uri().query());
    let res = next.run(req).await;
    let status = res.status();
    if status.as_u16() < 400 || res.extensions().get::<HttpError>().is_some() {
        return res;
    }
    let json = res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("application/json"));
    if json {
        return res;
    }
    // axum's own rejections are short plain text saying what was wrong; keep it as the detail.
    let detail = to_bytes(res.into_body(), 4096).await.map(|b| String::from_utf8_lossy(&b).trim().to_string()).unwrap_or_default();
    let detail: String = detail.chars().take(200).collect();
    let e = match status {
        StatusCode::BAD_REQUEST => {
            HttpError::new(status, "bad_request", format!("请求参数有误：{detail}"), format!("Bad request: {detail}"))
        }
        // Told apart from a handler's own 404 (`not_found`, `order_not_found`, …): no route.
        StatusCode::NOT_FOUND => HttpError::new(status, "no_such_route", "请求的接口地址不存在", "No such API route"),
        StatusCode::METHOD_NOT_ALLOWED => HttpError::new(status, "method_not_allowed", "不支持该请求方法", "Method not allowed"),
        StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => HttpError::new(
            status,
            "unsupported_media_type",
            format!("请求内容类型不受支持：{detail}"),
            format!("Unsupported media type: {detail}"),
        ),
        StatusCode::UNPROCESSABLE_ENTITY => {
            HttpError::new(status, "unprocessable", format!("请求内容无法处理：{detail}"), format!("Unprocessable request: {detail}"))
        }
        _ => HttpError::new(status, "http_error", format!("请求未能完成：{detail}"), format!("The request failed: {detail}")),
    };
    e.in_lang(lang).into_response()
}
