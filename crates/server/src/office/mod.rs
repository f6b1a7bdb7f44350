//! The finance office over HTTP: `/api/v1/office/…` with staff bearer tokens.
//! Handlers parse, call one use case in `campuspay_app::office`, and answer; the permission
//! checks are in the use cases, whatever the entry.

mod announcements;
mod api;
mod charges;
mod exports;
mod imports;
mod merchants;
mod money;
mod money_reports;
pub(crate) mod pages;
mod receipts;
mod reports;
mod routes;
mod schools;
mod search;
mod staff;
mod statement_import;

pub use routes::ROUTES;
pub(crate) use statement_import::read_form as statement_import_form;

use crate::AppState;
use crate::error::HttpError;
use crate::web::{cookie, request_lang};
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use campuspay_app::office::Staff;
use campuspay_app::office::auth;
use campuspay_store::staff::StaffSessionRow;

pub use api::api;

/// The name of the office's session cookie (pages), beside the students' one.
pub fn cookie_name(state: &AppState) -> &'static str {
    if state.config.https { "__Host-campuspay_office" } else { "campuspay_office" }
}

/// A logged-in member of a finance office: the bearer token of an API call, or the office
/// cookie of a page.
pub struct StaffSession {
    pub staff: Staff,
    pub session: StaffSessionRow,
}

impl FromRequestParts<AppState> for StaffSession {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpError> {
        let lang = request_lang(parts.uri.path(), &parts.headers, parts.uri.query());
        let bearer = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        let token = match bearer {
            Some(t) => t.trim().to_string(),
            None => cookie(&parts.headers, cookie_name(state)).ok_or_else(|| HttpError::unauthorized().in_lang(lang))?,
        };
        let (staff, session) = auth::resolve(state, &token).await.map_err(|e| HttpError::from(e).in_lang(lang))?;
        // A one-time password opens nothing but its own change (and logging out).
        let allowed = matches!(parts.uri.path(), "/api/v1/office/password" | "/api/v1/office/logout" | "/api/v1/office/me");
        if staff.must_change_password && !allowed {
            return Err(HttpError::from(auth::password_change_required()).in_lang(lang));
        }
        // A second factor the school requires opens nothing but its own set-up.
        let setting_up = allowed || parts.uri.path().starts_with("/api/v1/office/totp/");
        if staff.must_enrol_totp && !setting_up {
            return Err(HttpError::from(auth::totp_enrolment_required()).in_lang(lang));
        }
        Ok(StaffSession { staff, session })
    }
}
