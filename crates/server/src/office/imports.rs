//! `/api/v1/office/imports`: upload a roster or fee standards (xlsx, or CSV in UTF-8 or GBK),
//! see the preview, commit it; download the templates.

use super::StaffSession;
use crate::AppState;
use crate::api::ApiJson;
use crate::error::{ErrorBody, HttpError};
use crate::web::Client;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use campuspay_app::office::imports;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload))
        // The file's limit is the documents crate's; a little more for the form's framing.
        .layer(DefaultBodyLimit::max(campuspay_documents::MAX_UPLOAD_BYTES + 64 * 1024))
        .routes(routes!(preview))
        .routes(routes!(commit))
        .routes(routes!(template))
}

#[derive(Serialize, ToSchema)]
pub struct RowErrorView {
    /// The row as Excel numbers it (the header is row 1).
    row: usize,
    column: String,
    message: String,
}

#[derive(Serialize, ToSchema)]
pub struct PreviewView {
    id: i64,
    /// `students` or `fee_standards`.
    kind: &'static str,
    /// `checking` (its rows being read; when the page uploaded it), `preview` (nothing written
    /// yet), `committing`, `committed`, or `failed` (the file refused as a whole: see `failure`).
    status: &'static str,
    file_name: String,
    /// Data rows in the file.
    rows: i64,
    /// Rows a commit writes; the others are listed in `errors`.
    valid: i64,
    errors: Vec<RowErrorView>,
    created: Option<i64>,
    updated: Option<i64>,
    /// Why the file was refused as a whole, when `status` is `failed`.
    failure: Option<String>,
    /// Rows checked (or written) so far and in all, while `checking` or `committing`.
    progress: Option<ProgressView>,
}

#[derive(Serialize, ToSchema)]
pub struct ProgressView {
    done: u64,
    /// 0 while the file is still being read.
    total: u64,
}

fn view(p: imports::Preview) -> ApiJson<PreviewView> {
    ApiJson(PreviewView {
        id: p.id,
        kind: p.kind.as_str(),
        status: p.status.as_str(),
        file_name: p.file_name,
        rows: p.rows,
        valid: p.valid,
        errors: p.errors.into_iter().map(|e| RowErrorView { row: e.row, column: e.column, message: e.message }).collect(),
        created: p.committed.map(|c| c.0),
        updated: p.committed.map(|c| c.1),
        failure: p.failure.map(|f| f.zh),
        progress: p.progress.map(|g| ProgressView { done: g.done, total: g.total }),
    })
}

fn malformed(zh: &str, en: &str) -> HttpError {
    HttpError::bad_request(zh, en).with_code("malformed_upload")
}

/// Upload a file (multipart: `kind` = `students` | `fee_standards`, `file`): every row is
/// checked and the preview lists each bad one; nothing is written until it is committed.
/// Students need `edit_students`, fee standards `manage_fee_standards`.
#[utoipa::path(post, path = "/api/v1/office/imports", tag = "office", security(("bearer" = [])),
    request_body(content_type = "multipart/form-data", description = "kind, file (.xlsx 或 .csv, ≤ 20 MB)"), responses(
    (status = 200, description = "预览（尚未写入）", body = PreviewView),
    (status = 400, description = "表单有误", body = ErrorBody),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 413, description = "文件过大", body = ErrorBody),
    (status = 422, description = "无法读取、缺少列、含公式或疑似恶意文件", body = ErrorBody),
))]
async fn upload(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    form: Result<Multipart, MultipartRejection>,
) -> Result<ApiJson<PreviewView>, HttpError> {
    // Who may not import at all is told so before their form is looked at.
    imports::may_import(&s.staff)?;
    let mut form =
        form.map_err(|_| malformed("请以 multipart/form-data 上传：kind 和 file 两个字段", "Send multipart/form-data with kind and file"))?;
    let (mut kind, mut file) = (None, None);
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(HttpError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "file_too_large",
                    "文件超过 20 MB，请拆分后再上传",
                    "The file is over 20 MB",
                ));
            }
            Err(_) => return Err(malformed("上传的表单有误，请重新选择文件", "The upload form is malformed")),
        };
        match field.name() {
            Some("kind") => kind = Some(field.text().await.map_err(|_| malformed("导入类型有误", "kind is unreadable"))?),
            Some("file") => {
                let name = field.file_name().unwrap_or("upload").to_string();
                let bytes = field.bytes().await.map_err(|e| {
                    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        HttpError::new(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "file_too_large",
                            "文件超过 20 MB，请拆分后再上传",
                            "The file is over 20 MB",
                        )
                    } else {
                        malformed("文件没有传完整，请重新上传", "The file did not arrive whole")
                    }
                })?;
                file = Some((name, bytes));
            }
            _ => {}
        }
    }
    let kind = imports::parse_kind(kind.as_deref().unwrap_or(""))?;
    let (name, bytes) = file.ok_or_else(|| malformed("请选择要上传的文件", "Choose a file"))?;
    Ok(view(imports::upload(&state, &s.staff, &client, kind, &name, &bytes).await?))
}

/// An import's preview (or, once committed, its figures).
#[utoipa::path(get, path = "/api/v1/office/imports/{id}", tag = "office", security(("bearer" = [])),
    params(("id" = i64, Path, description = "导入")), responses(
    (status = 200, description = "预览", body = PreviewView),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 404, description = "本校没有这次导入", body = ErrorBody),
))]
async fn preview(State(state): State<AppState>, s: StaffSession, Path(id): Path<i64>) -> Result<ApiJson<PreviewView>, HttpError> {
    Ok(view(imports::preview(&state, &s.staff, id).await?))
}

#[derive(Serialize, ToSchema)]
pub struct CommitAnswer {
    /// Always `committed`.
    status: &'static str,
    /// Rows this request created and updated (0 when it had been committed before).
    created: i64,
    updated: i64,
    already_committed: bool,
}

/// Write the import's valid rows, in one transaction, once: committing it again writes nothing.
#[utoipa::path(post, path = "/api/v1/office/imports/{id}/commit", tag = "office", security(("bearer" = [])),
    params(("id" = i64, Path, description = "导入")), responses(
    (status = 200, description = "已写入（或此前已写入）", body = CommitAnswer),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 404, description = "本校没有这次导入", body = ErrorBody),
))]
async fn commit(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    Path(id): Path<i64>,
) -> Result<ApiJson<CommitAnswer>, HttpError> {
    let c = imports::commit(&state, &s.staff, &client, id).await?;
    Ok(ApiJson(CommitAnswer { status: "committed", created: c.created, updated: c.updated, already_committed: c.already_committed }))
}

/// The template of a kind (`students`, `fee_standards`) as .xlsx: the header row, every
/// column formatted as text so ID cards and numbers keep their digits.
#[utoipa::path(get, path = "/api/v1/office/imports/templates/{kind}", tag = "office", security(("bearer" = [])),
    params(("kind" = String, Path, description = "students 或 fee_standards")), responses(
    (status = 200, description = "模板", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 422, description = "类型有误", body = ErrorBody),
))]
async fn template(s: StaffSession, Path(kind): Path<String>) -> Result<Response, HttpError> {
    let kind = imports::parse_kind(&kind)?;
    let bytes = imports::template(&s.staff, kind)?;
    let file = format!("{}-template.xlsx", kind.as_str());
    Ok((
        [
            (header::CONTENT_TYPE, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file}\"")),
        ],
        bytes,
    )
        .into_response())
}
