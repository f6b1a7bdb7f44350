//! Student endpoints of the JSON API. Money is integer fen throughout.

use super::ApiJson;
use crate::AppState;
use crate::error::HttpError;
use crate::web::{AnySession, Client, StudentSession};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use campuspay_app::student::{auth, captcha, profile};
use campuspay_domain::{idcard, time};
use serde::Deserialize;
use serde_json::{Value, json};

pub async fn healthz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(_) => (StatusCode::OK, "ok").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

pub async fn schools(State(state): State<AppState>) -> Result<Json<Value>, HttpError> {
    let schools = state.store.schools().await?;
    Ok(Json(json!({
        "schools": schools.iter().map(|s| json!({
            "code": s.code,
            "name": s.name,
            "name_en": s.name_en,
            "region": s.region,
            "captcha": s.policy.captcha,
            "login_label": s.policy.login_label_zh(),
            "initial_password_hint": s.policy.initial_password.hint_zh(),
            "url": format!("/s/{}/", s.code),
        })).collect::<Vec<_>>()
    })))
}

pub async fn captcha(State(state): State<AppState>) -> Result<Json<Value>, HttpError> {
    let c = captcha::create(&state).await?;
    Ok(Json(json!({"captcha_id": c.id, "image": c.image, "expires_in_s": captcha::TTL_S})))
}

#[derive(Deserialize)]
pub struct LoginBody {
    school: String,
    login: String,
    password: String,
    captcha_id: Option<String>,
    captcha: Option<String>,
}

pub async fn login(State(state): State<AppState>, client: Client, ApiJson(b): ApiJson<LoginBody>) -> Result<Json<Value>, HttpError> {
    let input = auth::LoginInput {
        school: &b.school,
        login: &b.login,
        password: &b.password,
        captcha_id: b.captcha_id.as_deref(),
        captcha: b.captcha.as_deref(),
    };
    let out = auth::login(&state, &input, &client).await?;
    Ok(Json(json!({
        "token": out.token,
        "must_change_password": out.must_change_password,
        "expires_at": out.session.expires_at,
    })))
}

pub async fn logout(State(state): State<AppState>, client: Client, AnySession(s): AnySession) -> Result<StatusCode, HttpError> {
    auth::logout(&state, &s, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct PasswordBody {
    old_password: String,
    new_password: String,
    confirm_password: Option<String>,
}

pub async fn change_password(
    State(state): State<AppState>,
    client: Client,
    AnySession(s): AnySession,
    ApiJson(b): ApiJson<PasswordBody>,
) -> Result<Json<Value>, HttpError> {
    let change = auth::PasswordChange { old: &b.old_password, new: &b.new_password, confirm: b.confirm_password.as_deref() };
    auth::change_password(&state, &s, &change, &client).await?;
    Ok(Json(json!({"changed": true, "other_sessions_ended": true})))
}

pub async fn me(State(state): State<AppState>, AnySession(s): AnySession) -> Result<Json<Value>, HttpError> {
    let (school, st) = profile::school_and_student(&state, &s).await?;
    Ok(Json(json!({
        "school": {"code": school.code, "name": school.name},
        "student_no": st.student_no,
        "name": st.name,
        "gender": st.gender,
        "id_card": idcard::mask(&st.id_card),
        "phone": campuspay_domain::profile::mask_phone(&st.phone),
        "email": st.email,
        "postcode": st.postcode,
        "address": st.address,
        "department": st.department,
        "major": st.major,
        "level": st.level,
        "class": st.class_name,
        "enrol_year": st.enrol_year,
        "must_change_password": s.must_change_password,
    })))
}

#[derive(Deserialize)]
pub struct ProfileBody {
    phone: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    postcode: String,
    #[serde(default)]
    address: String,
}

pub async fn update_profile(
    State(state): State<AppState>,
    StudentSession(s): StudentSession,
    ApiJson(b): ApiJson<ProfileBody>,
) -> Result<StatusCode, HttpError> {
    let input = profile::ProfileInput { phone: &b.phone, email: &b.email, postcode: &b.postcode, address: &b.address };
    profile::update_profile(&state, &s, &input).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct ChargesQuery {
    period: Option<String>,
}

pub async fn charges(
    State(state): State<AppState>,
    StudentSession(s): StudentSession,
    Query(q): Query<ChargesQuery>,
) -> Result<Json<Value>, HttpError> {
    let o = profile::overview(&state, &s).await?;
    let period = q.period.filter(|p| !p.is_empty());
    let list: Vec<Value> = o
        .charges
        .iter()
        .filter(|c| period.as_deref().is_none_or(|p| c.view.period_code == p))
        .map(|c| {
            let v = &c.view;
            json!({
                "id": v.id,
                "item": v.item_name,
                "item_code": v.item_code,
                "category": v.category,
                "period": v.period_code,
                "period_name": v.period_name,
                "academic_year": v.academic_year,
                "total_fen": v.amounts.total.0,
                "discount_fen": v.amounts.discount.0,
                "after_discount_fen": c.after_discount.0,
                "balance_used_fen": v.amounts.balance_used.0,
                "payable_fen": c.payable.0,
                "paid_fen": v.amounts.paid.0,
                "arrears_fen": c.arrears.0,
                "state": c.state.as_str(),
                "state_label": c.state.label_zh(),
                "mandatory": v.mandatory,
                "receipt_type": v.receipt_type,
                "parent_item": v.parent_name,
                "instalments": v.instalments,
                "instalment_min_fen": v.instalment_min.0,
                "collection_window": match (v.window_start, v.window_end) {
                    (Some(a), Some(b)) => json!({"start": time::format_shanghai(a), "end": time::format_shanghai(b)}),
                    _ => Value::Null,
                },
                "collecting": v.collecting,
            })
        })
        .collect();
    Ok(Json(json!({
        "total_arrears_fen": o.total_arrears.0,
        "arrears_by_year": o.arrears_by_year.iter().map(|(y, f)| json!({"year": y, "arrears_fen": f.0})).collect::<Vec<_>>(),
        "periods": o.periods.iter().map(|(c, n)| json!({"code": c, "name": n})).collect::<Vec<_>>(),
        "charges": list,
    })))
}

pub async fn sessions(State(state): State<AppState>, StudentSession(s): StudentSession) -> Result<Json<Value>, HttpError> {
    let list = state.store.live_sessions(s.school_id, s.student_id).await?;
    Ok(Json(json!({
        "sessions": list.iter().map(|x| json!({
            "current": x.token_hash == s.token_hash,
            "created_at": time::format_shanghai(x.created_at),
            "last_seen_at": time::format_shanghai(x.last_seen_at),
            "ip": x.ip,
            "user_agent": x.user_agent,
        })).collect::<Vec<_>>()
    })))
}

pub async fn end_other_sessions(
    State(state): State<AppState>,
    client: Client,
    StudentSession(s): StudentSession,
) -> Result<Json<Value>, HttpError> {
    let n = auth::end_other_sessions(&state, &s, &client).await?;
    Ok(Json(json!({"ended": n})))
}

pub async fn security_events(State(state): State<AppState>, StudentSession(s): StudentSession) -> Result<Json<Value>, HttpError> {
    let list = state.store.security_events_of_student(s.school_id, s.student_id, 50).await?;
    Ok(Json(json!({
        "events": list.iter().map(|e| json!({
            "kind": e.kind, "at": time::format_shanghai(e.at), "ip": e.ip, "user_agent": e.user_agent,
        })).collect::<Vec<_>>()
    })))
}
