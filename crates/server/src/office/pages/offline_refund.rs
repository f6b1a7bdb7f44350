//! `/office/refunds/offline`: money taken at the counter handed back (线下退款). The office
//! finds the counter payment by how it was taken and its receipt, slip or transfer number,
//! sees what each charge of it may still give back, and refunds some lines with a reason —
//! through the same use case as the API (`POST /api/v1/office/refunds` with
//! `offline_payment_id`): done at once within the school's threshold, above it after a second
//! person's approval.

use super::{OfficeForm, OfficePage, Shell, parse_yuan, render, render_refused};
use crate::AppState;
use crate::pages::extract::{CsrfForm, OfficePosted};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use campuspay_app::office::refunds::{self, OfflineFound, RefundLine, Refundable, Target};
use campuspay_app::{Error, ErrorKind};
use campuspay_domain::office::OfflineMethod;
use campuspay_domain::time::format_shanghai;
use serde::Deserialize;
use std::collections::HashMap;

pub struct FoundView {
    pub id: i64,
    pub student_no: String,
    pub student_name: String,
    pub total: String,
    pub at: String,
}

#[derive(Template)]
#[template(path = "office/offline_refund.html")]
struct OfflineRefundPage {
    shell: Shell,
    methods: Vec<(&'static str, &'static str)>,
    method: String,
    reference: String,
    found: Option<FoundView>,
    lines: Vec<Refundable>,
    reason: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct FindQuery {
    #[serde(default)]
    method: String,
    #[serde(default)]
    reference: String,
}

async fn show(state: &AppState, page: &OfficePage, method: &str, reference: &str, reason: &str, error: Option<Error>) -> Response {
    let mut error = error;
    let (mut found, mut lines) = (None, Vec::new());
    if !reference.trim().is_empty() {
        match refunds::offline_payment(state, &page.staff, method, reference).await {
            Ok(OfflineFound { id, student_no, student_name, total, created_at }) => {
                match refunds::refundable(state, &page.staff, &Target::Offline(id)).await {
                    Ok(l) => lines = l,
                    Err(e) => {
                        error.get_or_insert(e);
                    }
                }
                found = Some(FoundView { id, student_no, student_name, total: total.to_string(), at: format_shanghai(created_at) });
            }
            Err(e) if e.kind == ErrorKind::Forbidden => return page.error(&e),
            Err(e) => {
                error.get_or_insert(e);
            }
        }
    } else if let Err(e) = page.staff.require(campuspay_domain::office::Permission::Refund) {
        return page.error(&e);
    }
    let view = OfflineRefundPage {
        shell: page.shell("线下退款", "refunds"),
        methods: OfflineMethod::ALL.iter().map(|m| (m.as_str(), m.label_zh())).collect(),
        method: if method.trim().is_empty() { "cash".into() } else { method.trim().to_string() },
        reference: reference.trim().to_string(),
        found,
        lines,
        reason: reason.to_string(),
        error: error.as_ref().map(|e| e.zh.clone()),
    };
    match &error {
        Some(e) => render_refused(&view, e),
        None => render(&view),
    }
}

pub async fn offline_refund_page(State(state): State<AppState>, page: OfficePage, Query(q): Query<FindQuery>) -> Response {
    show(&state, &page, &q.method, &q.reference, "", None).await
}

/// `method` and `reference` (to show the form again), `offline_payment_id`, `reason`, and
/// `amount_<charge id>` in yuan per line (empty: not refunded).
#[derive(Deserialize)]
pub struct OfflineRefundForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    offline_payment_id: String,
    #[serde(default)]
    reason: String,
    #[serde(flatten)]
    amounts: HashMap<String, String>,
}

impl CsrfForm for OfflineRefundForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn offline_refund_submit(State(state): State<AppState>, posted: OfficeForm<OfflineRefundForm>) -> Response {
    let OfficePosted { page, form: f } = posted;
    let Ok(id) = f.offline_payment_id.trim().parse::<i64>() else {
        let e = Error::new(ErrorKind::Refused, "invalid_target", "请先查找要退款的线下收款", "Find the counter payment first");
        return show(&state, &page, &f.method, &f.reference, &f.reason, Some(e)).await;
    };
    let mut lines = Vec::new();
    let mut typed: Vec<(&String, &String)> = f.amounts.iter().filter(|(k, v)| k.starts_with("amount_") && !v.trim().is_empty()).collect();
    typed.sort();
    for (name, value) in typed {
        let Ok(charge_id) = name["amount_".len()..].parse::<i64>() else { continue };
        match parse_yuan(value, "amount_fen") {
            Ok(amount) => lines.push(RefundLine { charge_id, amount }),
            Err(e) => return show(&state, &page, &f.method, &f.reference, &f.reason, Some(e)).await,
        }
    }
    match refunds::request(&state, &page.staff, &page.client, &Target::Offline(id), &lines, &f.reason).await {
        Ok(o) => Redirect::to(&format!("/office/refunds?done={}", o.id)).into_response(),
        Err(e) if e.kind == ErrorKind::Forbidden => page.error(&e),
        Err(e) => show(&state, &page, &f.method, &f.reference, &f.reason, Some(e)).await,
    }
}
