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
}

fn kinds_of(page: &OfficePage) -> Vec<(&'static str, &'static str)> {
    [(ImportKind::Students, Permission::EditStudents), (ImportKind::FeeStandards, Permission::ManageFeeStandards)]
        .into_iter()
        .filter(|(_, p)| page.staff.role.can(*p))
        .map(|(k, _)| (k.as_str(), k.label_zh()))
        .collect()
}

fn upload_form(page: &OfficePage, kind: &str, error: Option<&Error>) -> Response {
    let view = ImportsPage {
        shell: page.shell("导入数据", "imports"),
        kinds: kinds_of(page),
        kind: kind.to_string(),
        error: error.map(|e| e.zh.clone()),
    };
    match error {
        Some(e) => render_refused(&view, e),
        None => render(&view),
    }
}

pub async fn imports_page(page: OfficePage) -> Response {
    if let Err(e) = imports::may_import(&page.staff) {
        return page.error(&e);
    }
    upload_form(&page, "students", None)
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
        return upload_form(&page, "students", Some(&malformed("请选择要上传的文件")));
    };
    let (csrf, kind, file) = match read_form(form).await {
        Ok(read) => read,
        Err(e) => return upload_form(&page, "students", Some(&e)),
    };
    // The multipart twin of `OfficePosted`: nothing is read into the school's data without the token.
    if !staff_csrf_ok(&page.session.csrf_token, &csrf) {
        return page.error(&csrf_refused());
    }
    let parsed = match imports::parse_kind(&kind) {
        Ok(k) => k,
        Err(e) => return upload_form(&page, &kind, Some(&e)),
    };
    let Some((name, bytes)) = file else {
        return upload_form(&page, &kind, Some(&malformed("请选择要上传的文件（.xlsx 或 .csv）")));
    };
    match imports::upload(&state, &page.staff, &page.client, parsed, &name, &bytes).await {
        Ok(p) => Redirect::to(&format!("/office/imports/{}", p.id)).into_response(),
        Err(e) if e.kind == ErrorKind::Forbidden => page.error(&e),
        Err(e) => upload_form(&page, &kind, Some(&e)),
    }
}

#[derive(Template)]
#[template(path = "office/import_preview.html")]
struct PreviewPage {
    shell: Shell,
    id: i64,
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
    render(&PreviewPage {
        shell: page.shell(format!("导入预览 · {}", p.kind.label_zh()), "imports"),
        id: p.id,
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
    match imports::commit(&state, &page.staff, &page.client, id).await {
        Ok(_) => Redirect::to(&format!("/office/imports/{id}?done=1")).into_response(),
        Err(e) => page.error(&e),
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
