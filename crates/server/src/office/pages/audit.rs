//! `GET /office/audit`: the school's audit log, filtered by who, what and when, newest first,
//! paged back by the last id shown (`before_id`), so new rows never shift a page.

use super::{OfficePage, Shell, render, render_refused};
use crate::AppState;
use crate::pages::form::encode;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use campuspay_app::office::audit_log;
use campuspay_app::{Error, ErrorKind};
use campuspay_domain::office::{AuditAction, Role};
use campuspay_domain::time::{format_shanghai, parse_shanghai};
use campuspay_store::office::AuditFilter;
use serde::Deserialize;

const PAGE: i64 = 50;

pub struct EntryView {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub role: String,
    pub ip: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "office/audit.html")]
struct AuditPage {
    shell: Shell,
    actor: String,
    action: String,
    from: String,
    to: String,
    actions: Vec<&'static str>,
    entries: Vec<EntryView>,
    /// The link to the next (older) page, when this one is full.
    older: Option<String>,
    paged: bool,
    /// The first page with the same filters.
    latest: String,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct AuditQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    before_id: Option<i64>,
}

/// What a row recorded, in one line: before → after, without the who/where already shown.
fn summary(detail: &serde_json::Value) -> String {
    let part = |k: &str| detail.get(k).filter(|v| !v.is_null()).map(|v| v.to_string());
    let text = match (part("before"), part("after")) {
        (Some(b), Some(a)) => format!("{b} → {a}"),
        (None, Some(a)) => a,
        (Some(b), None) => b,
        (None, None) => String::new(),
    };
    if text.chars().count() > 160 { format!("{}…", text.chars().take(160).collect::<String>()) } else { text }
}

fn bad_date(field: &'static str) -> Error {
    Error::new(ErrorKind::Refused, "invalid_date", "日期格式应为 2026-03-01", "Dates are YYYY-MM-DD").field(field)
}

pub async fn audit_page(State(state): State<AppState>, page: OfficePage, Query(q): Query<AuditQuery>) -> Response {
    let (from, to) = (q.from.trim(), q.to.trim());
    let since = match from {
        "" => Ok(None),
        d => parse_shanghai(d).map(Some).ok_or_else(|| bad_date("from")),
    };
    // The end date counts whole: up to its last second.
    let until = match to {
        "" => Ok(None),
        d => parse_shanghai(d).map(|t| Some(t + 86_399)).ok_or_else(|| bad_date("to")),
    };
    let filter = AuditFilter {
        actor: Some(q.actor.trim().to_string()).filter(|a| !a.is_empty()),
        action: Some(q.action.trim().to_string()).filter(|a| !a.is_empty()),
        since: since.clone().unwrap_or(None),
        until: until.clone().unwrap_or(None),
        before_id: q.before_id,
        limit: PAGE,
    };
    let date_error = since.err().or(until.err());
    let rows = match audit_log::search(&state, &page.staff, &filter).await {
        Ok(r) => r,
        Err(e) => return page.error(&e),
    };
    let latest = format!(
        "/office/audit?actor={}&action={}&from={}&to={}",
        encode(q.actor.trim()),
        encode(q.action.trim()),
        encode(from),
        encode(to)
    );
    let older = (rows.len() as i64 == PAGE).then(|| rows.last().map(|r| r.id)).flatten().map(|id| format!("{latest}&before_id={id}"));
    let entries = rows
        .iter()
        .map(|r| {
            let d: serde_json::Value = serde_json::from_str(&r.detail).unwrap_or(serde_json::Value::String(r.detail.clone()));
            let text = |k: &str| d.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
            EntryView {
                at: format_shanghai(r.at),
                actor: r.actor.clone(),
                action: r.action.clone(),
                subject: text("subject"),
                // The role's Chinese name; a word this build does not know is shown as stored.
                role: text("role").parse::<Role>().map(|r| r.label_zh().to_string()).unwrap_or_else(|_| text("role")),
                ip: text("ip"),
                detail: if d.is_object() { summary(&d) } else { r.detail.clone() },
            }
        })
        .collect();
    let view = AuditPage {
        shell: page.shell("审计日志", "audit"),
        actor: q.actor.trim().to_string(),
        action: q.action.trim().to_string(),
        from: from.to_string(),
        to: to.to_string(),
        actions: AuditAction::ALL.iter().map(|a| a.as_str()).collect(),
        entries,
        older,
        paged: q.before_id.is_some(),
        latest,
        error: date_error.as_ref().map(|e| e.zh.clone()),
    };
    match date_error {
        Some(e) => render_refused(&view, &e),
        None => render(&view),
    }
}
