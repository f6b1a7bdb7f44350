//! What the OpenAPI document says besides its operations: title, the bearer scheme, the error
//! shape. The operations come from each handler's `#[utoipa::path]` (see `api::api`).

use crate::error::{ErrorBody, ErrorDetail};
use axum::Json;
use serde_json::Value;
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, RefOr, ResponseBuilder};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "campuspay API",
        description = "校园统一支付平台 JSON API. All money is integer fen. Errors are {\"error\":{\"code\",\"message\"}}, messages in Chinese unless Accept-Language asks for English."
    ),
    components(schemas(ErrorBody, ErrorDetail))
)]
struct Base;

pub fn base() -> utoipa::openapi::OpenApi {
    let mut doc = Base::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").into();
    let components = doc.components.get_or_insert_with(Default::default);
    let mut bearer = Http::new(HttpAuthScheme::Bearer);
    bearer.description = Some("token from /api/v1/student/login".into());
    components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
    doc
}

/// Every operation that needs a session answers 401 without one; said once here rather
/// than on each of them.
pub fn finish(mut doc: utoipa::openapi::OpenApi) -> Value {
    let unauthorized = ResponseBuilder::new()
        .description("未登录或登录已过期 / not logged in")
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name("ErrorBody")))).build(),
        )
        .build();
    let error = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new().schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name("ErrorBody")))).build(),
            )
            .build()
    };
    // What the boundary answers before a handler runs (`boundary`, `ApiJson`), on every
    // operation it can happen to; a handler's own answers of the same status are kept.
    let bad_request = error("请求参数有误或含控制字符（bad_request、invalid_characters、malformed_json、invalid_input）");
    let no_such = error("不存在（not_found、no_such_route 等）");
    let too_large = error("请求内容过大（payload_too_large）");
    let not_json = error("请求须为 JSON（json_required）");
    for (path, item) in doc.paths.paths.iter_mut() {
        let api = path.starts_with("/api/");
        let has_params = path.contains('{');
        for op in [&mut item.get, &mut item.post, &mut item.put, &mut item.delete, &mut item.patch].into_iter().flatten() {
            let responses = &mut op.responses.responses;
            if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
                responses.entry("401".into()).or_insert_with(|| unauthorized.clone().into());
            }
            if !api {
                continue;
            }
            responses.entry("400".into()).or_insert_with(|| bad_request.clone().into());
            if has_params {
                responses.entry("404".into()).or_insert_with(|| no_such.clone().into());
            }
            if let Some(body) = &op.request_body {
                responses.entry("413".into()).or_insert_with(|| too_large.clone().into());
                if matches!(body, RefOr::T(b) if b.content.contains_key("application/json")) {
                    responses.entry("415".into()).or_insert_with(|| not_json.clone().into());
                }
            }
        }
    }
    serde_json::to_value(&doc).unwrap_or_default()
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", responses((status = 200, description = "OpenAPI document", body = Object)))]
pub async fn document() -> Json<Value> {
    Json(super::openapi_spec())
}
