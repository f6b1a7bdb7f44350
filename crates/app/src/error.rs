//! The use cases' one error type: what kind of refusal it is, a stable code, and a message in
//! Chinese and English. The server maps [`ErrorKind`] to an HTTP status in one place
//! (`campuspay_server::error`); the CLI and the job worker print or log the message.

use crate::i18n::Lang;
use campuspay_store::StoreError;

/// What went wrong, as far as the caller needs to know to answer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request itself is malformed (a missing or unreadable field).
    Invalid,
    /// No valid session or credentials.
    Unauthenticated,
    /// Logged in, but not allowed to do this (yet): e.g. a forced password change first.
    Forbidden,
    NotFound,
    /// The state changed under the request: an item held by another order, an order paid.
    Conflict,
    /// The account is locked for a while after too many failures.
    Locked,
    /// Too many requests from one address or for one account.
    TooManyRequests,
    /// Well-formed, but a rule refuses it (cart rules, weak password, wrong code).
    Refused,
    /// A payment provider did not answer or refused.
    Upstream,
    /// Try again shortly (a provider call in flight, closed hours of a dependency).
    Unavailable,
    /// A setting outside the request stops it (the school's receipt issuer is not set up, the
    /// SMS provider refuses the template or a phone): trying again fails the same way until a
    /// person changes something. A background job that fails so stops and goes to the office.
    Misconfigured,
    /// A bug or a broken dependency; details are logged, never shown.
    Internal,
}

#[derive(Debug, Clone)]
pub struct Error {
    pub kind: ErrorKind,
    pub code: &'static str,
    pub zh: String,
    pub en: String,
    /// The form field the error is about, for pages to show it next to that field.
    pub field: Option<&'static str>,
    /// Machine-readable data that helps the client offer a fix (e.g. how to split a cart).
    pub details: Option<serde_json::Value>,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.zh)
    }
}

impl std::error::Error for Error {}

impl Error {
    pub fn new(kind: ErrorKind, code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> Error {
        Error { kind, code, zh: zh.into(), en: en.into(), field: None, details: None }
    }

    pub fn field(mut self, f: &'static str) -> Error {
        self.field = Some(f);
        self
    }

    pub fn details(mut self, d: serde_json::Value) -> Error {
        self.details = Some(d);
        self
    }

    pub fn with_code(mut self, code: &'static str) -> Error {
        self.code = code;
        self
    }

    pub fn message(&self, lang: Lang) -> &str {
        lang.t(&self.zh, &self.en)
    }

    pub fn bad_request(zh: impl Into<String>, en: impl Into<String>) -> Error {
        Error::new(ErrorKind::Invalid, "invalid_input", zh, en)
    }

    pub fn unauthorized() -> Error {
        Error::new(ErrorKind::Unauthenticated, "not_logged_in", "请先登录", "Please log in")
    }

    pub fn not_found() -> Error {
        Error::new(ErrorKind::NotFound, "not_found", "您访问的内容不存在", "Not found")
    }

    pub fn unknown_school() -> Error {
        Error::new(ErrorKind::NotFound, "unknown_school", "学校不存在，请重新选择学校", "No such school; please choose again")
    }

    pub fn internal() -> Error {
        Error::new(
            ErrorKind::Internal,
            "internal",
            "系统繁忙，请稍后再试；如已付款请勿重复支付",
            "Something went wrong; please try again later. If you have paid, do not pay again",
        )
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        match e {
            StoreError::NotFound => Error::not_found(),
            StoreError::Conflict(what) => {
                Error::new(ErrorKind::Conflict, "conflict", format!("数据冲突：{what}"), format!("Conflict: {what}"))
            }
            other => {
                // Details go to the log, never to the client.
                tracing::error!(error = %other, "store error");
                Error::internal()
            }
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
