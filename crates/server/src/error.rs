//! The server's error answer: a status, a stable code, and a message in the client's language.
//! [`status_of`] is the one place where a use case's [`ErrorKind`] becomes an HTTP status.

use crate::i18n::Lang;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use campuspay_app::{Error, ErrorKind};
use campuspay_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// The HTTP status of each kind of refusal.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Locked => StatusCode::LOCKED,
        ErrorKind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Refused => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::Upstream => StatusCode::BAD_GATEWAY,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal | ErrorKind::Misconfigured => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

#[derive(Debug, Clone)]
pub struct HttpError {
    pub status: StatusCode,
    pub code: &'static str,
    pub zh: String,
    pub en: String,
    /// The form field the error is about, for pages to show it next to that field.
    pub field: Option<&'static str>,
    /// Machine-readable data that helps the client offer a fix (e.g. how to split a cart).
    pub details: Option<serde_json::Value>,
    pub lang: Lang,
}

impl HttpError {
    /// For refusals that belong to HTTP itself (a wrong content type, a malformed body).
    pub fn new(status: StatusCode, code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> HttpError {
        HttpError { status, code, zh: zh.into(), en: en.into(), field: None, details: None, lang: Lang::Zh }
    }

    pub fn field(mut self, f: &'static str) -> HttpError {
        self.field = Some(f);
        self
    }

    pub fn with_code(mut self, code: &'static str) -> HttpError {
        self.code = code;
        self
    }

    pub fn in_lang(mut self, lang: Lang) -> HttpError {
        self.lang = lang;
        self
    }

    pub fn message(&self, lang: Lang) -> &str {
        lang.t(&self.zh, &self.en)
    }

    pub fn bad_request(zh: impl Into<String>, en: impl Into<String>) -> HttpError {
        Error::bad_request(zh, en).into()
    }

    pub fn unauthorized() -> HttpError {
        Error::unauthorized().into()
    }

    pub fn not_found() -> HttpError {
        Error::not_found().into()
    }

    pub fn unknown_school() -> HttpError {
        Error::unknown_school().into()
    }

    pub fn internal() -> HttpError {
        Error::internal().into()
    }
}

impl From<Error> for HttpError {
    fn from(e: Error) -> HttpError {
        HttpError { status: status_of(e.kind), code: e.code, zh: e.zh, en: e.en, field: e.field, details: e.details, lang: Lang::Zh }
    }
}

impl From<StoreError> for HttpError {
    fn from(e: StoreError) -> HttpError {
        Error::from(e).into()
    }
}

/// Every error answer of the API: `{"error":{"code","message"}}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable and machine-readable, e.g. `invalid_credentials`.
    pub code: &'static str,
    /// In Chinese, or English where `Accept-Language` asks for it.
    pub message: String,
    /// The request field the error is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'static str>,
    /// Data that helps the client offer a fix, e.g. how to split a cart.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message(self.lang).to_string(),
                field: self.field,
                details: self.details.clone(),
            },
        };
        let status = self.status;
        let mut res = (status, crate::api::ApiJson(body)).into_response();
        // A refusal that says when to come back says it the HTTP way too.
        if status == StatusCode::TOO_MANY_REQUESTS {
            let after = self.details.as_ref().and_then(|d| d["retry_after_s"].as_u64()).unwrap_or(60);
            res.headers_mut().insert(axum::http::header::RETRY_AFTER, after.into());
        }
        // Kept so that `app::localize_errors` can answer in the language the client asked for.
        res.extensions_mut().insert(self);
        res
    }
}
