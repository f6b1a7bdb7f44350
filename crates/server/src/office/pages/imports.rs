//! `/office/imports`: upload a roster or fee standards (multipart), see every bad row in the
//! preview, commit the valid ones once; the templates to fill in.

use super::{CsrfOnly, OfficeForm, OfficePage, Shell, render, render_refused};
use crate::AppState;
use crate::pages::extract::{OfficePosted, staff_csrf_ok};
use askama::Template;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use campuspay_app::office::imports;
use campuspay_app::{Error, ErrorKind};
use campuspay_domain::office::{ImportKind, ImportStatus, Permission};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "office/imports.html")]
struct ImportsPage {
    shell: Shell,
    /// (value, label) of the kinds this role may load.
    kinds: Vec<(&'static str, &'static str)>,
    kind: String,
    error: Option<String>,
    recent: Vec<imports::Preview>,
}

fn kinds_of(page: &OfficePage) -> Vec<(&'static str, &'static str)> {
    [(ImportKind::Students, Permission::EditStudents), (ImportKind::FeeStandards, Permission::ManageFeeStandards)]
        .into_iter()
        .filter(|(_, p)| page.staff.role.can(*p))
        .map(|(k, _)| (k.as_str(), k.label_zh()))
        .collect()
}

async fn upload_form(state: &AppState, page: &OfficePage, kind: &str, error: Option<&Error>) -> Response {
    let recent = match imports::recent(state, &page.staff).await {
        Ok(r) => r,
        Err(e) => return page.error(&e),
    };
    let view = ImportsPage {
        shell: page.shell("导入数据", "imports"),
        kinds: kinds_of(page),
        kind: kind.to_string(),
        error: error.map(|e| e.zh.clone()),
        recent,
    };
    match error {
        Some(e) => render_refused(&view, e),
        None => render(&view),
    }
}

pub async fn imports_page(State(state): State<AppState>, page: OfficePage) -> Response {
    if let Err(e) = imports::may_import(&page.staff) {
        return page.error(&e);
    }
    upload_form(&state, &page, "students", None).await
}

fn malformed(zh: &str) -> Error {
    Error::new(ErrorKind::Refused, "malformed_upload", zh, zh).field("file")
}

fn csrf_refused() -> Error {
    Error::new(ErrorKind::Forbidden, "csrf", "页面已过期，请返回后刷新页面再提交", "This page has expired")
}

/// Reads the multipart form: `csrf`, `kind`, `file` (name and bytes).
async fn read_form(mut form: Multipart) -> Result<(String, String, Option<(String, Vec<u8>)>), Error> {
    let (mut csrf, mut kind, mut file) = (String::new(), String::new(), None);
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(malformed("文件超过 20 MB，请拆分后再上传"));
            }
            Err(_) => return Err(malformed("上传的表单有误，请重新选择文件")),
        };
        match field.name() {
            Some("csrf") => csrf = field.text().await.map_err(|_| malformed("上传的表单有误"))?,
            Some("kind") => kind = field.text().await.map_err(|_| malformed("导入类型有误"))?,
            Some("file") => {
                let name = field.file_name().unwrap_or("upload").to_string();
                let bytes = field.bytes().await.map_err(|_| malformed("文件没有传完整或超过 20 MB，请重新上传"))?;
                // A file input left empty still sends a part, nameless and empty.
                if !bytes.is_empty() {
                    file = Some((name, bytes.to_vec()));
                }
            }
            _ => {}
        }
    }
    Ok((csrf, kind, file))
}

pub async fn upload_submit(State(state): State<AppState>, page: OfficePage, form: Result<Multipart, MultipartRejection>) -> Response {
    let Ok(form) = form else {
        return upload_form(&state, &page, "students", Some(&malformed("请选择要上传的文件"))).await;
    };
    let (csrf, kind, file) = match read_form(form).await {
        Ok(read) => read,
        Err(e) => return upload_form(&state, &page, "students", Some(&e)).await,
    };
    // The multipart twin of `OfficePosted`: nothing is read into the school's data without the token.
    if !staff_csrf_ok(&page.session.csrf_token, &csrf) {
        return page.error(&csrf_refused());
    }
    let parsed = match imports::parse_kind(&kind) {
        Ok(k) => k,
        Err(e) => return upload_form(&state, &page, &kind, Some(&e)).await,
    };
    let Some((name, bytes)) = file else {
        return upload_form(&state, &page, &kind, Some(&malformed("请选择要上传的文件（.xlsx 或 .csv）"))).await;
    };
    let up = match imports::begin_upload(&state, &page.staff, &page.client, parsed, &name, bytes).await {
        Ok(up) => up,
        Err(e) if e.kind == ErrorKind::Forbidden => return page.error(&e),
        Err(e) => return upload_form(&state, &page, &kind, Some(&e)).await,
    };
    let id = up.id;
    // The check goes on without the request: a big file shows its progress on its page, which
    // may be left and come back to. A small one is done in a moment, so wait that long and
    // show a refused file on the form straight away.
    let ctx = state.ctx.clone();
    let check = tokio::spawn(async move { imports::check(&ctx, up).await });
    match tokio::time::timeout(AWAIT_BRIEFLY, check).await {
        Ok(Ok(Err(e))) if e.kind != ErrorKind::Internal => upload_form(&state, &page, &kind, Some(&e)).await,
        _ => Redirect::to(&format!("/office/imports/{id}")).into_response(),
    }
}

/// How long a page waits for a check or a commit before it shows the progress instead.
const AWAIT_BRIEFLY: std::time::Duration = std::time::Duration::from_secs(2);

#[derive(Template)]
#[template(path = "office/import_preview.html")]
struct PreviewPage {
    shell: Shell,
    id: i64,
    status: ImportStatus,
    /// Percent done and `done / total` while checking or committing here.
    percent: u64,
    progress_text: String,
    failure: Option<String>,
    kind_label: &'static str,
    file_name: String,
    rows: i64,
    valid: i64,
    bad_rows: usize,
    errors: Vec<imports::RowError>,
    committed: Option<(i64, i64)>,
    just_committed: bool,
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

pub async fn preview_page(State(state): State<AppState>, page: OfficePage, Path(id): Path<i64>, Query(q): Query<Done>) -> Response {
    let p = match imports::preview(&state, &page.staff, id).await {
        Ok(p) => p,
        Err(e) => return page.error(&e),
    };
    let mut bad: Vec<usize> = p.errors.iter().map(|e| e.row).collect();
    bad.dedup();
    let percent = p.progress.map_or(0, |g| g.percent());
    let progress_text = match p.progress {
        Some(g) if g.total == 0 => "正在读取文件…".to_string(),
        Some(g) if g.committing => format!("已写入 {} / {} 行（全部写完后才生效）", g.done, g.total),
        Some(g) => format!("已检查 {} / {} 行", g.done, g.total),
        None => "正在处理…".to_string(),
    };
    render(&PreviewPage {
        shell: page.shell(format!("导入预览 · {}", p.kind.label_zh()), "imports"),
        id: p.id,
        status: p.status,
        percent,
        progress_text,
        failure: p.failure.map(|f| f.zh),
        kind_label: p.kind.label_zh(),
        file_name: p.file_name,
        rows: p.rows,
        valid: p.valid,
        bad_rows: bad.len(),
        errors: p.errors,
        committed: p.committed.filter(|_| p.status == ImportStatus::Committed),
        just_committed: q.done.is_some(),
    })
}

pub async fn commit_submit(State(state): State<AppState>, Path(id): Path<i64>, posted: OfficeForm<CsrfOnly>) -> Response {
    let OfficePosted { page, .. } = posted;
    // Written without the request, like the check: a big roster's page shows the rows written.
    let (ctx, staff, client) = (state.ctx.clone(), page.staff.clone(), page.client.clone());
    let commit = tokio::spawn(async move { imports::commit(&ctx, &staff, &client, id).await });
    match tokio::time::timeout(AWAIT_BRIEFLY, commit).await {
        Ok(Ok(Ok(_))) => Redirect::to(&format!("/office/imports/{id}?done=1")).into_response(),
        Ok(Ok(Err(e))) => page.error(&e),
        Ok(Err(_)) => page.error(&Error::internal()),
        Err(_) => Redirect::to(&format!("/office/imports/{id}")).into_response(),
    }
}

pub async fn template_download(page: OfficePage, Path(kind): Path<String>) -> Response {
    let parsed = match imports::parse_kind(&kind) {
        Ok(k) => k,
        Err(e) => return page.error(&e),
    };
    match imports::template(&page.staff, parsed) {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string()),
                (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}-template.xlsx\"", parsed.as_str())),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => page.error(&e),
    }
}
