//! `/api/v1/office/…`: the office's JSON API.

use super::StaffSession;
use crate::AppState;
use crate::api::ApiJson;
use crate::error::HttpError;
use crate::web::Client;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use campuspay_app::office::{Staff, auth};
use serde::{Deserialize, Serialize};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/office/login", post(login))
        .route("/api/v1/office/logout", post(logout))
        .route("/api/v1/office/me", get(me))
        .route("/api/v1/office/password", post(change_password))
}

#[derive(Deserialize)]
pub struct LoginBody {
    /// The school's code, or `platform` for the platform's operators.
    school: String,
    login: String,
    password: String,
}

/// Who is logged in, and what they may do.
#[derive(Serialize)]
pub struct StaffView {
    login: String,
    name: String,
    role: &'static str,
    role_name: &'static str,
    permissions: Vec<&'static str>,
    /// The school's code; `null` for the platform's operators.
    school: Option<String>,
    /// A one-time password is in use: change it first (`POST /api/v1/office/password`).
    must_change_password: bool,
}

#[derive(Serialize)]
pub struct LoginAnswer {
    token: String,
    #[serde(flatten)]
    staff: StaffView,
}

async fn view(state: &AppState, staff: &Staff) -> Result<StaffView, HttpError> {
    let school = match staff.school_id {
        Some(id) => state.store.school_by_id(id).await?.map(|s| s.code),
        None => None,
    };
    Ok(StaffView {
        login: staff.login.clone(),
        name: staff.name.clone(),
        role: staff.role.as_str(),
        role_name: staff.role.label_zh(),
        permissions: staff.role.permissions().iter().map(|p| p.as_str()).collect(),
        school,
        must_change_password: staff.must_change_password,
    })
}

async fn login(State(state): State<AppState>, client: Client, ApiJson(b): ApiJson<LoginBody>) -> Result<Json<LoginAnswer>, HttpError> {
    let input = auth::StaffLoginInput { school: &b.school, login: &b.login, password: &b.password };
    let out = auth::login(&state, &input, &client).await?;
    Ok(Json(LoginAnswer { token: out.token, staff: view(&state, &out.staff).await? }))
}

async fn logout(State(state): State<AppState>, client: Client, s: StaffSession) -> Result<StatusCode, HttpError> {
    auth::logout(&state, &s.staff, &s.session, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn me(State(state): State<AppState>, s: StaffSession) -> Result<Json<StaffView>, HttpError> {
    Ok(Json(view(&state, &s.staff).await?))
}

#[derive(Deserialize)]
pub struct PasswordBody {
    old_password: String,
    new_password: String,
}

async fn change_password(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    ApiJson(b): ApiJson<PasswordBody>,
) -> Result<StatusCode, HttpError> {
    auth::change_password(&state, &s.staff, &s.session, &b.old_password, &b.new_password, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
