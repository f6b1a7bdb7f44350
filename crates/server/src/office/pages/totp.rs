//! `/office/totp`: setting up the second factor with an authenticator app (a QR code of the
//! `otpauth://` URI, or the secret typed by hand), confirmed by one code.

use super::{AnyOfficeForm, AnyOfficePage, Shell, render};
use crate::AppState;
use crate::pages::extract::{CsrfForm, OfficePosted};
use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use campuspay_app::office::totp;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "office/totp.html")]
struct TotpPage {
    shell: Shell,
    required: bool,
    secret: String,
    qr: String,
    error: Option<String>,
}

async fn show(state: &AppState, page: &super::OfficePage, error: Option<String>) -> Response {
    match totp::setup(state, &page.staff).await {
        Ok(e) => render(&TotpPage {
            shell: page.shell("设置动态验证码", ""),
            required: page.staff.must_enrol_totp,
            qr: crate::api::orders::qr_svg(&e.uri).unwrap_or_default(),
            secret: e.secret,
            error,
        }),
        Err(e) => page.error(&e),
    }
}

/// Each visit starts a new set-up: the secret shown is the one the next code must match.
pub async fn totp_page(State(state): State<AppState>, AnyOfficePage(page): AnyOfficePage) -> Response {
    show(&state, &page, None).await
}

#[derive(Deserialize)]
pub struct TotpForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

impl CsrfForm for TotpForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn totp_submit(State(state): State<AppState>, posted: AnyOfficeForm<TotpForm>) -> Response {
    let OfficePosted { page: AnyOfficePage(page), form } = posted;
    match totp::confirm(&state, &page.staff, &page.client, &form.code).await {
        Ok(()) => Redirect::to("/office/?done=totp").into_response(),
        // A wrong code: a new secret is shown, so the one that failed is not left half set up.
        Err(e) => show(&state, &page, Some(e.zh.clone())).await,
    }
}
