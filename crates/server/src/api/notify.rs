//! `/notify/{provider}[/{school}]`: providers' payment notifications. Every one is kept as it
//! arrived; only a verified one moves money, and each provider is answered in its protocol.

use crate::AppState;
use crate::services::channels::parse_provider;
use crate::services::settle::{self, Settled};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use campuspay_channels::{Ack, PaymentChannel, PaymentNotice};
use campuspay_domain::order::PaidSource;
use campuspay_store::db_now as now;
use std::sync::Arc;

fn respond(ack: Ack) -> Response {
    let status = StatusCode::from_u16(ack.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, ack.content_type)], ack.body).into_response()
}

fn headers_text(h: &HeaderMap) -> String {
    let map: serde_json::Map<String, serde_json::Value> = h
        .iter()
        .filter(|(k, _)| {
            let k = k.as_str();
            k.starts_with("wechatpay-") || k == "content-type" || k == "user-agent" || k == "x-forwarded-for"
        })
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").into()))
        .collect();
    serde_json::Value::Object(map).to_string()
}

pub async fn with_school(
    State(state): State<AppState>,
    Path((provider, school)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&state, &provider, Some(&school), &headers, &body).await
}

pub async fn without_school(State(state): State<AppState>, Path(provider): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    handle(&state, &provider, None, &headers, &body).await
}

async fn handle(state: &AppState, provider_name: &str, school_code: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Response {
    let Some(provider) = parse_provider(provider_name) else {
        return (StatusCode::NOT_FOUND, "unknown provider").into_response();
    };
    let record = state
        .store
        .record_notification(provider_name, school_code.unwrap_or(""), &headers_text(headers), &String::from_utf8_lossy(body))
        .await;
    let Ok(record) = record else {
        // Not even kept: let the provider try again later.
        return (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response();
    };
    let candidates: Vec<(i64, Arc<dyn PaymentChannel>)> = match school_code {
        Some(code) => match state.store.school_by_code(code).await {
            Ok(Some(s)) => state.channels.for_provider(provider, Some(s.id)),
            _ => Vec::new(),
        },
        None => state.channels.for_provider(provider, None),
    };
    let Some((_, any_channel)) = candidates.first().cloned() else {
        let _ = state.store.set_notification_outcome(record, "no channel configured").await;
        return (StatusCode::NOT_FOUND, "no such merchant").into_response();
    };
    let t = now();
    let mut verified: Option<(i64, PaymentNotice, Arc<dyn PaymentChannel>)> = None;
    let mut last_error = String::new();
    for (school_id, channel) in &candidates {
        match channel.verify_notification(headers, body, t) {
            Ok(n) => {
                verified = Some((*school_id, n, channel.clone()));
                break;
            }
            Err(e) => last_error = e.to_string(),
        }
    }
    let Some((school_id, mut notice, mut channel)) = verified else {
        tracing::warn!(provider = provider_name, error = last_error, "notification refused");
        let _ = state.store.set_notification_outcome(record, &format!("rejected: {last_error}")).await;
        return respond(any_channel.ack(false));
    };
    let attempt = match state.store.attempt_by_out_trade_no(&notice.out_trade_no).await {
        Ok(Some(a)) if a.school_id == school_id => a,
        // Schools may share a merchant: without a school in the URL, the first that verified
        // need not be the trade's. Its own school's adapter must verify it too.
        Ok(Some(a)) if school_code.is_none() => {
            let own = state
                .channels
                .for_provider(provider, Some(a.school_id))
                .into_iter()
                .find_map(|(_, c)| c.verify_notification(headers, body, t).ok().map(|n| (n, c)));
            match own {
                Some((n, c)) => {
                    notice = n;
                    channel = c;
                    a
                }
                None => {
                    let _ = state.store.set_notification_outcome(record, "trade of a school whose merchant did not sign it").await;
                    return respond(channel.ack(true));
                }
            }
        }
        Ok(_) => {
            // Verified, but not a trade of this merchant's school: kept for reconciliation.
            let _ = state.store.set_notification_outcome(record, "unknown trade").await;
            return respond(channel.ack(true));
        }
        Err(_) => return respond(channel.ack(false)),
    };
    if !notice.paid {
        let _ = state.store.set_notification_outcome(record, &format!("not paid: {}", notice.provider_status)).await;
        return respond(channel.ack(true));
    }
    let paid_at = notice.paid_at.clone().unwrap_or_default();
    match settle::settle_paid(state, &attempt, &notice.transaction_id, notice.amount, &paid_at, PaidSource::Notify).await {
        Ok(result) => {
            let outcome = match result {
                Settled::Applied => "applied",
                Settled::Refunding => "late: refunding",
                Settled::Credited => "late: credited",
                Settled::Duplicate => "duplicate",
                Settled::Nothing => "nothing",
            };
            let _ = state.store.set_notification_outcome(record, outcome).await;
            respond(channel.ack(true))
        }
        Err(e) => {
            tracing::error!(error = e.zh, "settling a notification; the provider will retry");
            respond(channel.ack(false))
        }
    }
}
