//! Request helpers shared by pages and API: client address, language, cookies, sessions.

use crate::AppState;
use crate::error::HttpError;
use crate::i18n::Lang;
use axum::extract::{ConnectInfo, FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use campuspay_store::sessions::SessionRow;
use std::net::SocketAddr;

/// Who is asking (address, user agent, language), taken from the request for the use cases.
#[derive(Debug, Clone)]
pub struct Client(pub campuspay_app::Client);

impl std::ops::Deref for Client {
    type Target = campuspay_app::Client;

    fn deref(&self) -> &campuspay_app::Client {
        &self.0
    }
}

impl FromRequestParts<AppState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
        let forwarded = state
            .config
            .trust_proxy
            .then(|| parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()))
            .flatten()
            .and_then(|v| v.split(',').next())
            .map(|s| s.trim().to_string());
        let ip = forwarded.or(peer).unwrap_or_else(|| "unknown".into());
        let user_agent = parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        Ok(Client(campuspay_app::Client { ip, user_agent, lang: request_lang(parts.uri.path(), &parts.headers, parts.uri.query()) }))
    }
}

/// The API follows `Accept-Language`; pages only the user's own choice.
pub fn request_lang(path: &str, headers: &HeaderMap, query: Option<&str>) -> Lang {
    if path.starts_with("/api/") { lang_of(headers, query) } else { page_lang(headers, query) }
}

/// Pages are Chinese unless the user chose English (`?lang=en`, remembered in a cookie);
/// a browser's `Accept-Language` alone does not switch them.
pub fn page_lang(headers: &HeaderMap, query: Option<&str>) -> Lang {
    if let Some(q) = query
        && let Some(v) = q.split('&').find_map(|kv| kv.strip_prefix("lang="))
    {
        return Lang::from_tag(v);
    }
    cookie(headers, "lang").map(|v| Lang::from_tag(&v)).unwrap_or_default()
}

/// For the API: `?lang=` first, then the `lang` cookie, then `Accept-Language`; Chinese by default.
pub fn lang_of(headers: &HeaderMap, query: Option<&str>) -> Lang {
    if let Some(q) = query
        && let Some(v) = q.split('&').find_map(|kv| kv.strip_prefix("lang="))
    {
        return Lang::from_tag(v);
    }
    if let Some(v) = cookie(headers, "lang") {
        return Lang::from_tag(&v);
    }
    headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).map(Lang::from_tag).unwrap_or_default()
}

pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The bearer token of an API call, or the session cookie of a page.
fn token_of(parts: &Parts, state: &AppState) -> Option<String> {
    if let Some(auth) = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        return auth.strip_prefix("Bearer ").map(|t| t.trim().to_string());
    }
    cookie(&parts.headers, state.session_cookie_name())
}

/// A live session of a student, whatever it still has to do first (e.g. change the password).
#[derive(Debug, Clone)]
pub struct AnySession(pub SessionRow);

/// A live session allowed to do everything: a forced password change has been done.
#[derive(Debug, Clone)]
pub struct StudentSession(pub SessionRow);

impl FromRequestParts<AppState> for AnySession {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let lang = request_lang(parts.uri.path(), &parts.headers, parts.uri.query());
        let token = token_of(parts, state).ok_or_else(|| HttpError::unauthorized().in_lang(lang))?;
        campuspay_app::student::auth::resolve_session(state, &token).await.map(AnySession).map_err(|e| HttpError::from(e).in_lang(lang))
    }
}

impl OptionalFromRequestParts<AppState> for AnySession {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Option<Self>, Self::Rejection> {
        match <AnySession as FromRequestParts<AppState>>::from_request_parts(parts, state).await {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.status == axum::http::StatusCode::UNAUTHORIZED => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl FromRequestParts<AppState> for StudentSession {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let AnySession(s) = <AnySession as FromRequestParts<AppState>>::from_request_parts(parts, state).await?;
        if s.must_change_password {
            return Err(HttpError::from(campuspay_app::student::auth::password_change_required()).in_lang(request_lang(
                parts.uri.path(),
                &parts.headers,
                parts.uri.query(),
            )));
        }
        Ok(StudentSession(s))
    }
}

/// A `Set-Cookie` value. Every cookie of ours is site-wide and `SameSite=Lax` (the office's
/// `Strict`); the sessions' are also `HttpOnly`, and `Secure` behind HTTPS (where their names
/// have the `__Host-` prefix).
pub struct SetCookie<'a> {
    pub name: &'a str,
    pub value: &'a str,
    /// Seconds; `Some(0)` deletes it, `None` makes it last as long as the browser session.
    pub max_age: Option<i64>,
    pub http_only: bool,
    pub secure: bool,
    /// `SameSite=Strict` instead of `Lax`: the office's cookie, which no link from elsewhere
    /// (a mail, another site) should carry into a page that moves money.
    pub strict: bool,
}

impl SetCookie<'_> {
    pub fn header(&self) -> axum::http::HeaderValue {
        let mut v = format!("{}={}; Path=/", self.name, self.value);
        if let Some(age) = self.max_age {
            v.push_str(&format!("; Max-Age={age}"));
        }
        if self.http_only {
            v.push_str("; HttpOnly");
        }
        v.push_str(if self.strict { "; SameSite=Strict" } else { "; SameSite=Lax" });
        if self.secure {
            v.push_str("; Secure");
        }
        // Names are ours and values are URL-safe base64 or fixed words.
        axum::http::HeaderValue::from_str(&v).expect("cookie names and values are plain ASCII")
    }

    /// The session cookie carrying `token` (empty with `Some(0)` to end it).
    pub fn session<'a>(state: &'a AppState, token: &'a str, max_age: Option<i64>) -> SetCookie<'a> {
        SetCookie { name: state.session_cookie_name(), value: token, max_age, http_only: true, secure: state.config.https, strict: false }
    }

    /// The finance office's session cookie (pages), `HttpOnly` and `SameSite=Strict`.
    pub fn office<'a>(state: &'a AppState, token: &'a str, max_age: Option<i64>) -> SetCookie<'a> {
        SetCookie {
            name: crate::office::cookie_name(state),
            value: token,
            max_age,
            http_only: true,
            secure: state.config.https,
            strict: true,
        }
    }

    /// The page language the user chose, remembered for a year.
    pub fn lang(lang: Lang) -> SetCookie<'static> {
        SetCookie {
            name: "lang",
            value: if lang.is_en() { "en" } else { "zh" },
            max_age: Some(31_536_000),
            http_only: false,
            secure: false,
            strict: false,
        }
    }
}

/// Marks every response to someone logged in `Cache-Control: no-store`: a response that read a
/// session (the request carried a session cookie or a bearer token) or set one. Without it the
/// browser keeps the page, and Back after 退出登录 shows the student's name and arrears to the
/// next person at the machine. A response that chose its own caching (the stylesheet) keeps it.
/// Student and office pages, and the API, share this one rule (a layer in `app::router`).
pub async fn no_store_when_private(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let h = req.headers();
    let private_request = h.contains_key(header::AUTHORIZATION)
        || [state.session_cookie_name(), crate::office::cookie_name(&state)].iter().any(|n| cookie(h, n).is_some_and(|v| !v.is_empty()));
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    if (private_request || h.contains_key(header::SET_COOKIE)) && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    }
    res
}
