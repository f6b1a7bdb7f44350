//! `/api/v1`: the JSON API, described by `/api/v1/openapi.json`.
//!
//! Every route is registered through `utoipa_axum`'s `routes!`, which mounts a handler at the
//! path of its `#[utoipa::path]` and adds that description to the document: the router and
//! the document are one list, so neither can name a route the other lacks. Request and
//! response bodies are the typed structs the handlers use, deriving `ToSchema`.

mod account;
pub mod notify;
mod openapi;
pub(crate) mod orders;
mod student;

use crate::AppState;
use crate::error::HttpError;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::LazyLock;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use orders::qr_svg;

/// The API's routes with their descriptions. Add a route here, with `routes!`, and nowhere
/// else: that is what keeps the document complete.
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(student::healthz))
        .routes(routes!(openapi::document))
        .routes(routes!(student::schools))
        .routes(routes!(student::captcha))
        .routes(routes!(student::login))
        .routes(routes!(student::logout))
        .routes(routes!(student::change_password))
        .routes(routes!(student::me))
        .routes(routes!(student::update_profile))
        .routes(routes!(student::charges))
        .routes(routes!(student::sessions))
        .routes(routes!(student::end_other_sessions))
        .routes(routes!(student::security_events))
        .routes(routes!(orders::create, orders::list))
        .routes(routes!(orders::show))
        .routes(routes!(orders::pay))
        .routes(routes!(orders::cancel))
        .routes(routes!(orders::payments))
        .routes(routes!(orders::transactions))
        .routes(routes!(notify::without_school))
        .routes(routes!(notify::with_school))
        .routes(routes!(account::security))
        .routes(routes!(account::set_security_email))
        .routes(routes!(account::set_security_question))
        .routes(routes!(account::methods))
        .routes(routes!(account::request_email))
        .routes(routes!(account::reset_with_link))
        .routes(routes!(account::request_sms))
        .routes(routes!(account::reset_with_sms))
        .routes(routes!(account::question))
        .routes(routes!(account::reset_with_answer))
        .merge(crate::office::api())
}

/// The OpenAPI document, built once: it is the same for every request.
static DOCUMENT: LazyLock<serde_json::Value> = LazyLock::new(|| {
    let (_, doc) = api().split_for_parts();
    openapi::finish(doc)
});

/// The OpenAPI 3.1 document served at `/api/v1/openapi.json`.
pub fn openapi_spec() -> serde_json::Value {
    DOCUMENT.clone()
}

pub fn routes() -> Router<AppState> {
    api().split_for_parts().0
}

/// JSON body whose rejection is our error shape, in Chinese first; as a response, a typed body.
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
            Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => Err(HttpError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "提交的内容过大",
                "The request body is too large",
            )),
            Err(e) => Err(HttpError::bad_request(
                format!("请求格式有误：{}", e.body_text().chars().take(200).collect::<String>()),
                format!("Malformed request: {}", e.body_text().chars().take(200).collect::<String>()),
            )
            .with_code("malformed_json")),
        }
    }
}

impl<T: Serialize> IntoResponse for ApiJson<T> {
    /// Written through `serde_json::Value`, whose objects keep their keys sorted: that is the
    /// order the API has always answered in (its bodies were `json!` values), so typed bodies
    /// change no byte on the wire, whatever the order their fields are declared in.
    fn into_response(self) -> Response {
        match serde_json::to_value(&self.0) {
            Ok(v) => axum::Json(v).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "response body did not serialize");
                HttpError::internal().into_response()
            }
        }
    }
}
