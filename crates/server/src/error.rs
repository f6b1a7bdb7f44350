//! The server's one error type: a status, a stable code, and a message in Chinese and English.

use crate::i18n::Lang;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use campuspay_store::StoreError;

#[derive(Debug, Clone)]
pub struct AppError {
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

impl AppError {
    pub fn new(status: StatusCode, code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> AppError {
        AppError { status, code, zh: zh.into(), en: en.into(), field: None, details: None, lang: Lang::Zh }
    }

    pub fn field(mut self, f: &'static str) -> AppError {
        self.field = Some(f);
        self
    }

    pub fn details(mut self, d: serde_json::Value) -> AppError {
        self.details = Some(d);
        self
    }

    pub fn with_code(mut self, code: &'static str) -> AppError {
        self.code = code;
        self
    }

    pub fn in_lang(mut self, lang: Lang) -> AppError {
        self.lang = lang;
        self
    }

    pub fn message(&self, lang: Lang) -> &str {
        lang.t(&self.zh, &self.en)
    }

    pub fn bad_request(zh: impl Into<String>, en: impl Into<String>) -> AppError {
        AppError::new(StatusCode::BAD_REQUEST, "invalid_input", zh, en)
    }

    pub fn unauthorized() -> AppError {
        AppError::new(StatusCode::UNAUTHORIZED, "not_logged_in", "请先登录", "Please log in")
    }

    pub fn not_found() -> AppError {
        AppError::new(StatusCode::NOT_FOUND, "not_found", "您访问的内容不存在", "Not found")
    }

    pub fn unknown_school() -> AppError {
        AppError::new(StatusCode::NOT_FOUND, "unknown_school", "学校不存在，请重新选择学校", "No such school; please choose again")
    }

    pub fn internal() -> AppError {
        AppError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "系统繁忙，请稍后再试；如已付款请勿重复支付",
            "Something went wrong; please try again later. If you have paid, do not pay again",
        )
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> AppError {
        match e {
            StoreError::NotFound => AppError::not_found(),
            StoreError::Conflict(what) => {
                AppError::new(StatusCode::CONFLICT, "conflict", format!("数据冲突：{what}"), format!("Conflict: {what}"))
            }
            other => {
                // Details go to the log, never to the client.
                tracing::error!(error = %other, "store error");
                AppError::internal()
            }
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({"error": {"code": self.code, "message": self.message(self.lang)}});
        if let Some(f) = self.field {
            body["error"]["field"] = f.into();
        }
        if let Some(d) = &self.details {
            body["error"]["details"] = d.clone();
        }
        let status = self.status;
        let mut res = (status, axum::Json(body)).into_response();
        // Kept so that `app::localize_errors` can answer in the language the client asked for.
        res.extensions_mut().insert(self);
        res
    }
}
