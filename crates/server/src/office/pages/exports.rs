//! `/office/exports`: the school's background exports with their stages and downloads, and
//! the "后台导出" buttons of the report pages (a form posted here). The list refreshes itself
//! with `<meta http-equiv="refresh">` while an export is unfinished: no script, CSP unchanged.

use super::{OfficeForm, OfficePage, Shell, render, render_refused};
use crate::AppState;
use crate::pages::extract::{CsrfForm, OfficePosted};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use campuspay_app::office::exports::{self, ExportParams};
use campuspay_domain::office::{ExportStatus, Permission};
use campuspay_domain::time::format_shanghai;
use campuspay_store::exports::ExportRow;
use serde::Deserialize;

pub struct ExportLine {
    pub id: i64,
    pub kind: &'static str,
    pub scope: String,
    pub status: &'static str,
    pub error: String,
    pub stage: i64,
    pub stages: i64,
    pub percent: i64,
    pub stage_name: &'static str,
    pub rows: i64,
    pub requested_at: String,
    pub download: Option<String>,
    pub size: String,
    pub expires_at: String,
}

/// What the parameters say, in words.
fn scope(e: &ExportRow) -> String {
    let p: ExportParams = serde_json::from_str(&e.params).unwrap_or_default();
    let parts: Vec<String> = [
        p.period.map(|v| format!("期间 {v}")),
        p.by.and_then(|b| b.parse::<campuspay_domain::settlement::ReportBy>().ok()).map(|b| format!("按{}", b.label_zh())),
        match (p.from, p.to) {
            (Some(f), Some(t)) => Some(format!("{f} 至 {t}")),
            _ => None,
        },
        p.department.map(|d| format!("院系 {d}")),
        p.academic_year.map(|y| format!("{y} 学年")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if parts.is_empty() { "全校".into() } else { parts.join("，") }
}

fn line(e: &ExportRow) -> ExportLine {
    let ready = e.status == ExportStatus::Ready;
    ExportLine {
        id: e.id,
        kind: e.kind.label_zh(),
        scope: scope(e),
        status: e.status.label_zh(),
        error: e.error.clone(),
        stage: e.stage,
        stages: e.stages,
        percent: if e.stages > 0 { e.stage * 100 / e.stages } else { 0 },
        stage_name: match (e.status, e.stage) {
            (ExportStatus::Queued, _) => "等待开始",
            (ExportStatus::Running, 0 | 1) => "读取账目",
            (ExportStatus::Running, _) => "生成工作簿",
            (ExportStatus::Ready, _) => "完成",
            (ExportStatus::Failed, _) => "已停止",
            (ExportStatus::Expired, _) => "文件已删除",
        },
        rows: e.rows_total,
        requested_at: format_shanghai(e.created_at),
        download: ready.then(|| format!("/api/v1/office/exports/{}/file", e.id)),
        size: format!("{:.1} KB", e.size_bytes as f64 / 1024.0),
        expires_at: e.expires_at.map(format_shanghai).unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "office/exports.html")]
struct ExportsPage {
    shell: Shell,
    rows: Vec<ExportLine>,
    refresh: bool,
    notice: Option<&'static str>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    queued: Option<String>,
}

async fn show(state: &AppState, page: &OfficePage, notice: Option<&'static str>, error: Option<campuspay_app::Error>) -> Response {
    let rows = match exports::list(state, &page.staff).await {
        Ok(r) => r,
        Err(e) => return page.error(&e),
    };
    let view = ExportsPage {
        shell: page.shell("导出任务", "exports"),
        refresh: rows.iter().any(|e| !e.status.is_final()),
        rows: rows.iter().map(line).collect(),
        notice,
        error: error.as_ref().map(|e| e.zh.clone()),
    };
    match &error {
        Some(e) => render_refused(&view, e),
        None => render(&view),
    }
}

pub async fn exports_page(State(state): State<AppState>, page: OfficePage, Query(q): Query<ListQuery>) -> Response {
    if let Err(e) = page.staff.require(Permission::ViewReports) {
        return page.error(&e);
    }
    show(&state, &page, q.queued.map(|_| "已提交，正在后台生成，完成后可在下方下载。"), None).await
}

#[derive(Deserialize)]
pub struct ExportForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    period: Option<String>,
    by: Option<String>,
    from: Option<String>,
    to: Option<String>,
    department: Option<String>,
    academic_year: Option<String>,
}

impl CsrfForm for ExportForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn export_submit(State(state): State<AppState>, posted: OfficeForm<ExportForm>) -> Response {
    let OfficePosted { page, form: f } = posted;
    let params =
        ExportParams { period: f.period, by: f.by, from: f.from, to: f.to, department: f.department, academic_year: f.academic_year };
    match exports::request(&state, &page.staff, &page.client, &f.kind, &params).await {
        Ok(_) => Redirect::to("/office/exports?queued=1").into_response(),
        Err(e) if e.kind == campuspay_app::ErrorKind::Forbidden => page.error(&e),
        Err(e) => show(&state, &page, None, Some(e)).await,
    }
}
