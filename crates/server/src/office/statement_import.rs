//! `POST /api/v1/office/reconciliation/import`: a provider's statement file uploaded by hand
//! for a channel and day, reconciled like the daily run.

use super::StaffSession;
use super::reports::{ReconciliationDay, channel_day};
use crate::AppState;
use crate::api::ApiJson;
use crate::error::{ErrorBody, HttpError};
use crate::web::Client;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::StatusCode;
use campuspay_app::office::statement_import;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import))
        .routes(routes!(download))
        // The file's limit is the documents crate's; a little more for the form's framing.
        .layer(DefaultBodyLimit::max(campuspay_documents::MAX_UPLOAD_BYTES + 64 * 1024))
}

fn malformed(zh: &str, en: &str) -> HttpError {
    HttpError::bad_request(zh, en).with_code("malformed_upload")
}

fn too_large() -> HttpError {
    HttpError::new(StatusCode::PAYLOAD_TOO_LARGE, "file_too_large", "文件超过 20 MB", "The file is over 20 MB")
}

/// A statement upload's fields: (csrf, provider, date, (file name, bytes)).
pub type StatementForm = (String, String, String, Option<(String, Vec<u8>)>);

/// Reads the multipart form of a statement upload (the API's and the page's).
pub async fn read_form(mut form: Multipart) -> Result<StatementForm, HttpError> {
    let (mut csrf, mut provider, mut date, mut file) = (String::new(), String::new(), String::new(), None);
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(_) => return Err(malformed("上传的表单有误，请重新选择文件", "The upload form is malformed")),
        };
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "csrf" | "provider" | "date" => {
                let text = field.text().await.map_err(|_| malformed("表单字段有误", "A form field is unreadable"))?;
                match name.as_str() {
                    "csrf" => csrf = text,
                    "provider" => provider = text,
                    _ => date = text,
                }
            }
            "file" => {
                let file_name = field.file_name().unwrap_or("statement").to_string();
                let bytes = field.bytes().await.map_err(|e| {
                    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        too_large()
                    } else {
                        malformed("文件没有传完整，请重新上传", "The file did not arrive whole")
                    }
                })?;
                file = Some((file_name, bytes.to_vec()));
            }
            _ => {}
        }
    }
    Ok((csrf, provider, date, file))
}

/// Upload a provider's statement file (multipart: `provider` = `wechatpay` | `alipay` |
/// `unionpay`, `date` = YYYY-MM-DD, `file`) where the provider's API is unavailable: it is read
/// by the adapter's own parser, reconciled like the daily run, and kept (`refund`; audited).
/// A file that cannot be read, or of another day, is refused and changes nothing.
#[utoipa::path(post, path = "/api/v1/office/reconciliation/import", tag = "office", security(("bearer" = [])),
    request_body(content_type = "multipart/form-data", description = "provider, date, file（渠道下载的对账单原文件，≤ 20 MB）"), responses(
    (status = 200, description = "对账结果", body = ReconciliationDay),
    (status = 400, description = "表单有误", body = ErrorBody),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 413, description = "文件过大", body = ErrorBody),
    (status = 422, description = "渠道、日期有误，或对账单无法读取、与日期不符", body = ErrorBody),
))]
async fn import(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    form: Result<Multipart, MultipartRejection>,
) -> Result<ApiJson<ReconciliationDay>, HttpError> {
    // Who may not reconcile is told so before their form is looked at.
    s.staff.require(campuspay_domain::office::Permission::Refund)?;
    let form = form.map_err(|_| {
        malformed("请以 multipart/form-data 上传：provider、date 和 file", "Send multipart/form-data with provider, date and file")
    })?;
    let (_, provider, date, file) = read_form(form).await?;
    let (name, bytes) = file.unwrap_or_default();
    let rows = statement_import::import(&state, &s.staff, &client, &provider, &date, &name, &bytes).await?;
    Ok(ApiJson(ReconciliationDay { date: date.trim().to_string(), channels: rows.iter().map(channel_day).collect() }))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
pub struct FileId {
    /// The kept file's id (`channels[].file.id` of the reconciliation).
    id: i64,
}

/// A kept statement file as it was uploaded (`view_reports`; audited). `Repr-Digest` carries
/// its SHA-256 (RFC 9530), the one recorded at upload and checked before sending.
#[utoipa::path(get, path = "/api/v1/office/reconciliation/files/{id}", tag = "office", security(("bearer" = [])), params(FileId), responses(
    (status = 200, description = "对账单原文件", content_type = "application/octet-stream"),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 404, description = "本校没有这个对账单文件", body = ErrorBody),
))]
async fn download(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    axum::extract::Path(FileId { id }): axum::extract::Path<FileId>,
) -> Result<axum::response::Response, HttpError> {
    use axum::http::header;
    use axum::response::IntoResponse;
    use base64::Engine;
    let f = statement_import::download(&state, &s.staff, &client, id).await?;
    let digest = hex_bytes(&f.sha256).map(|raw| format!("sha-256=:{}:", base64::engine::general_purpose::STANDARD.encode(raw)));
    let ascii: String = f.file_name.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect();
    let encoded: String = form_urlencoded::byte_serialize(f.file_name.as_bytes()).collect::<String>().replace('+', "%20");
    let mut res = (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")),
        ],
        f.bytes,
    )
        .into_response();
    if let Some(d) = digest.and_then(|d| axum::http::HeaderValue::from_str(&d).ok()) {
        res.headers_mut().insert("repr-digest", d);
    }
    Ok(res)
}

fn hex_bytes(hex: &str) -> Option<Vec<u8>> {
    (0..hex.len()).step_by(2).map(|i| hex.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok())).collect()
}
