//! The school's data in from Excel or CSV, in two steps: an upload is parsed and every row
//! checked — the preview lists each bad row with its column and reason, and nothing is written
//! to the school's data — then the office commits the valid rows in one transaction, once. A
//! second commit of the same import (a double click, a second tab) writes nothing.

mod progress;
mod roster;
mod standards;

pub use progress::{ImportTasks, Progress, Snapshot};

use super::{Audited, Staff, audit};
use crate::{Client, Context, Error, ErrorKind};
use campuspay_documents::{DocumentError, Table};
use campuspay_domain::office::{AuditAction, ImportKind, ImportStatus, Permission};
use campuspay_store::{On, StoreError};
use sha2::Digest;
use std::sync::atomic::Ordering;

/// One bad row: where it is, as the office sees the file, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RowError {
    pub row: usize,
    pub column: String,
    pub message: String,
}

/// At most this many row errors are kept and shown: a file that is wrong everywhere needs
/// fixing at its source, not a list of 50,000 lines.
const MAX_ERRORS: usize = 1000;

pub struct Preview {
    pub id: i64,
    pub kind: ImportKind,
    pub status: ImportStatus,
    pub file_name: String,
    /// Data rows in the file.
    pub rows: i64,
    /// Rows a commit writes.
    pub valid: i64,
    pub errors: Vec<RowError>,
    /// `(created, updated)` once committed.
    pub committed: Option<(i64, i64)>,
    /// How far the check or the commit has come, while this process runs it.
    pub progress: Option<Snapshot>,
    /// Why the file was refused as a whole, when it was.
    pub failure: Option<Failure>,
    pub created_at: i64,
}

pub struct Committed {
    pub created: i64,
    pub updated: i64,
    /// The import had been committed before: nothing new was written.
    pub already_committed: bool,
}

/// The permission each kind of import needs.
fn permission(kind: ImportKind) -> Permission {
    match kind {
        ImportKind::Students => Permission::EditStudents,
        ImportKind::FeeStandards => Permission::ManageFeeStandards,
    }
}

/// Refuses staff who may load neither kind, before their upload is even read.
pub fn may_import(staff: &Staff) -> Result<(), Error> {
    if staff.role.can(Permission::EditStudents) {
        return Ok(());
    }
    staff.require(Permission::ManageFeeStandards)
}

fn refused(code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> Error {
    Error::new(ErrorKind::Refused, code, zh, en)
}

pub fn parse_kind(kind: &str) -> Result<ImportKind, Error> {
    kind.trim().parse().map_err(|_| {
        refused("invalid_kind", "导入类型只能是 students（学生名单）或 fee_standards（收费标准）", "kind is students or fee_standards")
            .field("kind")
    })
}

/// The columns of a kind's template, required ones first.
pub fn template_columns(kind: ImportKind) -> &'static [&'static str] {
    match kind {
        ImportKind::Students => roster::COLUMNS,
        ImportKind::FeeStandards => standards::COLUMNS,
    }
}

/// The header's position of each named column; a missing required column refuses the file.
pub(crate) fn columns_of(table: &Table, required: &[&str], optional: &[&str]) -> Result<Vec<Option<usize>>, Error> {
    let find = |name: &str| table.header.iter().position(|h| h.trim() == name);
    let missing: Vec<&str> = required.iter().copied().filter(|c| find(c).is_none()).collect();
    if !missing.is_empty() {
        return Err(refused(
            "missing_columns",
            format!("表头缺少列：{}。请下载模板，按模板的列名填写（第1行为表头）", missing.join("、")),
            format!("The header lacks the columns: {}", missing.join(", ")),
        )
        .field("file"));
    }
    Ok(required.iter().chain(optional).map(|c| find(c)).collect())
}

fn document_error(e: DocumentError) -> Error {
    let code = match e {
        DocumentError::TooLarge { .. } => "file_too_large",
        DocumentError::Expanded { .. } => "file_rejected",
        DocumentError::Formula { .. } => "formula_in_cell",
        DocumentError::Encoding => "unknown_encoding",
        DocumentError::Empty => "empty_file",
        DocumentError::TooManyRows { .. } => "too_many_rows",
        DocumentError::UnknownFormat | DocumentError::Unreadable(_) | DocumentError::Unwritable(_) => "unreadable_file",
    };
    let msg = e.to_string();
    refused(code, msg.clone(), msg).field("file")
}

/// Keeps an upload and returns its id; nothing of the school's data is written. Its rows are
/// checked by [`check`], which the page runs in the background (the office watches its
/// progress and may leave) and the API awaits.
pub async fn begin_upload(
    ctx: &Context,
    staff: &Staff,
    client: &Client,
    kind: ImportKind,
    file_name: &str,
    bytes: Vec<u8>,
) -> Result<Uploaded, Error> {
    staff.require(permission(kind))?;
    let school_id = staff.school()?;
    if bytes.len() > campuspay_documents::MAX_UPLOAD_BYTES {
        return Err(document_error(DocumentError::TooLarge { limit_bytes: campuspay_documents::MAX_UPLOAD_BYTES }));
    }
    let file_name: String = file_name.chars().filter(|c| !c.is_control()).take(120).collect();
    let sha = hex(&sha2::Sha256::digest(&bytes));
    let mut tx = ctx.store.write_tx().await?;
    let new = campuspay_store::imports::NewImport { school_id, staff_id: staff.id, kind, file_name: &file_name, file_sha256: &sha };
    let id = ctx.store.insert_import(&mut tx, &new).await?;
    let subject = format!("import:{id}");
    let after = serde_json::json!({"kind": kind.as_str(), "file": file_name, "sha256": sha, "bytes": bytes.len()});
    audit(
        ctx,
        &mut tx,
        staff,
        client,
        &Audited { action: AuditAction::ImportPreviewed, subject: &subject, before: None, after: Some(after) },
    )
    .await?;
    tx.commit().await?;
    Ok(Uploaded { id, school_id, kind, file_name, bytes })
}

/// An upload kept by [`begin_upload`], for [`check`] to read.
pub struct Uploaded {
    pub id: i64,
    pub school_id: i64,
    pub kind: ImportKind,
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// Reads and checks every row of a kept upload, then keeps its preview — or, when the file as a
/// whole is refused (unreadable, columns missing, formulas, a zip bomb), the reason, which is
/// also returned. Progress is counted per row for the page.
pub async fn check(ctx: &Context, up: Uploaded) -> Result<(), Error> {
    let running = ctx.import_tasks.start(up.id, false, 0);
    let id = up.id;
    // The figures go to the database every few seconds too, for the other instances' pages
    // and as the sign that this check is alive (see [`give_up_stalled`]).
    let beat = {
        let (ctx, progress) = (ctx.clone(), running.progress.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(BEAT_EVERY).await;
                let (done, total) = (progress.done.load(Ordering::Relaxed), progress.total.load(Ordering::Relaxed));
                if let Err(e) = ctx.store.beat_import_check(id, done as i64, total as i64, ctx.clock.now()).await {
                    tracing::warn!(import = id, error = %e, "writing an import check's heartbeat");
                }
            }
        })
    };
    let checked = read_and_check(ctx, up, &running.progress).await;
    beat.abort();
    match checked {
        Ok((payload, rows, valid, mut errors)) => {
            errors.truncate(MAX_ERRORS);
            let errors_json = serde_json::to_string(&errors).map_err(|_| Error::internal())?;
            if !ctx.store.finish_import_check(id, rows, valid, &payload, &errors_json).await? {
                tracing::warn!(import = id, "an import's check finished after it had been given up");
            }
            Ok(())
        }
        Err(e) => {
            let shown = if e.kind == ErrorKind::Internal {
                serde_json::json!({"code": "internal", "zh": "检查时出错，请重新上传", "en": "The check failed; upload again"})
            } else {
                serde_json::json!({"code": e.code, "zh": e.zh, "en": e.en})
            };
            ctx.store.fail_import_check(id, &shown.to_string()).await?;
            Err(e)
        }
    }
}

/// The file read off the async threads (a big workbook takes seconds of CPU), then each row
/// checked against the school's data.
async fn read_and_check(ctx: &Context, up: Uploaded, progress: &Progress) -> Result<(String, i64, i64, Vec<RowError>), Error> {
    let Uploaded { file_name, bytes, .. } = up;
    // The file's bytes go with the read and are freed with it.
    let table = tokio::task::spawn_blocking(move || campuspay_documents::read_table(&file_name, &bytes))
        .await
        .map_err(|_| Error::internal())?
        .map_err(document_error)?;
    if table.rows.is_empty() {
        return Err(refused("no_rows", "文件只有表头，没有数据行", "The file has a header but no rows").field("file"));
    }
    let rows = table.rows.len() as i64;
    progress.total.store(rows as u64, Ordering::Relaxed);
    let (payload, valid, errors) = match up.kind {
        ImportKind::Students => roster::check(ctx, up.school_id, table, &progress.done).await?,
        ImportKind::FeeStandards => standards::check(ctx, up.school_id, table, &progress.done).await?,
    };
    Ok((payload, rows, valid, errors))
}

/// Keeps an upload, checks it and returns its preview, in one call (the API's way).
pub async fn upload(
    ctx: &Context,
    staff: &Staff,
    client: &Client,
    kind: ImportKind,
    file_name: &str,
    bytes: &[u8],
) -> Result<Preview, Error> {
    let up = begin_upload(ctx, staff, client, kind, file_name, bytes.to_vec()).await?;
    let id = up.id;
    check(ctx, up).await?;
    preview(ctx, staff, id).await
}

/// How often a running check writes its heartbeat.
const BEAT_EVERY: std::time::Duration = std::time::Duration::from_secs(3);
/// A check whose heartbeat is older than this has stopped with its server. Far above
/// [`BEAT_EVERY`]: on SQLite a heartbeat waits for the one writer, which a big commit or
/// charge run holds for seconds.
pub const STALLED_AFTER_S: i64 = 60;

/// Gives up the checks whose server stopped mid-check (their heartbeat stopped): their
/// uploads say so, and the office uploads the file again. A check another instance is still
/// running is left alone. Run at start-up and then every [`STALLED_AFTER_S`] / 4.
pub async fn give_up_stalled(ctx: &Context) -> Result<u64, Error> {
    let failure = serde_json::json!({"code": "interrupted", "zh": "检查时服务重启，未能完成，请重新上传该文件", "en": "The server restarted during the check; upload the file again"});
    Ok(ctx.store.fail_stalled_import_checks(&failure.to_string(), ctx.clock.now() - STALLED_AFTER_S).await?)
}

/// [`give_up_stalled`] for as long as the process serves.
pub async fn watch_stalled(ctx: Context) {
    loop {
        match give_up_stalled(&ctx).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(imports = n, "gave up import checks whose server stopped"),
            Err(e) => tracing::error!(error = %e, "could not give up stalled import checks"),
        }
        tokio::time::sleep(std::time::Duration::from_secs((STALLED_AFTER_S / 4) as u64)).await;
    }
}

/// The rows a checked import's commit writes: kept with its preview, or (for imports checked
/// before that was kept) counted in its payload without building the rows.
fn valid_rows(row: &campuspay_store::imports::ImportRow) -> Result<i64, Error> {
    match row.valid_rows {
        Some(n) => Ok(n),
        None => {
            let rows: Vec<serde::de::IgnoredAny> = serde_json::from_str(&row.payload).map_err(|_| Error::internal())?;
            Ok(rows.len() as i64)
        }
    }
}

fn no_such_import() -> Error {
    Error::new(ErrorKind::NotFound, "import_not_found", "本校没有这次导入", "No such import at this school")
}

/// Why a kept upload was refused as a whole, as the page shows it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Failure {
    pub code: String,
    pub zh: String,
    pub en: String,
}

/// An import of the staff member's school, as its preview shows it.
pub async fn preview(ctx: &Context, staff: &Staff, id: i64) -> Result<Preview, Error> {
    may_import(staff)?;
    let school_id = staff.school()?;
    let row = ctx.store.import(On::Pool, school_id, id).await?.ok_or_else(no_such_import)?;
    staff.require(permission(row.kind))?;
    // This instance's own figures, or those the instance checking it last wrote.
    let progress = ctx.import_tasks.snapshot(id).or_else(|| {
        (row.checked_at.is_none() && row.failure.is_none()).then_some(Snapshot {
            committing: false,
            done: row.rows_done.max(0) as u64,
            total: row.rows_total.max(0) as u64,
        })
    });
    let failure: Option<Failure> = match &row.failure {
        Some(f) => Some(serde_json::from_str(f).map_err(|_| Error::internal())?),
        None => None,
    };
    let status = if failure.is_some() {
        ImportStatus::Failed
    } else if row.committed.is_some() {
        ImportStatus::Committed
    } else if row.checked_at.is_none() {
        ImportStatus::Checking
    } else if progress.is_some_and(|p| p.committing) {
        ImportStatus::Committing
    } else {
        ImportStatus::Preview
    };
    let errors: Vec<RowError> = serde_json::from_str(&row.errors).map_err(|_| Error::internal())?;
    let valid = match status {
        ImportStatus::Checking | ImportStatus::Failed => 0,
        _ => valid_rows(&row)?,
    };
    Ok(Preview {
        id: row.id,
        kind: row.kind,
        status,
        file_name: row.file_name,
        rows: row.row_count,
        valid,
        errors,
        committed: row.committed.map(|(c, u, _)| (c, u)),
        progress,
        failure,
        created_at: row.created_at,
    })
}

/// The school's latest imports that this staff member may load, newest first.
pub async fn recent(ctx: &Context, staff: &Staff) -> Result<Vec<Preview>, Error> {
    may_import(staff)?;
    let school_id = staff.school()?;
    let mut out = Vec::new();
    for row in ctx.store.recent_imports(school_id, 20).await? {
        if staff.role.can(permission(row.kind)) {
            out.push(preview(ctx, staff, row.id).await?);
        }
    }
    Ok(out)
}

/// Writes the import's valid rows in one transaction, once. The rows written so far are
/// counted for the page's progress bar (they become visible only when the whole commits).
pub async fn commit(ctx: &Context, staff: &Staff, client: &Client, id: i64) -> Result<Committed, Error> {
    may_import(staff)?;
    let school_id = staff.school()?;
    let row = ctx.store.import(On::Pool, school_id, id).await?.ok_or_else(no_such_import)?;
    staff.require(permission(row.kind))?;
    if row.committed.is_some() {
        return Ok(Committed { created: 0, updated: 0, already_committed: true });
    }
    if row.failure.is_some() || row.checked_at.is_none() {
        return Err(Error::new(
            ErrorKind::Conflict,
            "import_not_checked",
            "这次导入尚未检查完或未通过检查，不能确认导入",
            "This import is not checked, or failed its check",
        ));
    }
    let total = valid_rows(&row)?;
    let running = ctx.import_tasks.start(id, true, total as u64);
    let mut tx = ctx.store.write_tx().await?;
    // The commit row first: a concurrent second commit waits here for this one, then finds
    // it taken and writes nothing.
    match ctx.store.insert_import_commit(&mut tx, id, staff.id, 0, 0).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => return Ok(Committed { created: 0, updated: 0, already_committed: true }),
        Err(e) => return Err(e.into()),
    }
    let written = &running.progress.done;
    let (created, updated) = match row.kind {
        ImportKind::Students => roster::commit(ctx, &mut tx, school_id, &row.payload, written).await?,
        ImportKind::FeeStandards => standards::commit(ctx, &mut tx, school_id, &row.payload, written).await?,
    };
    ctx.store.set_import_counts(&mut tx, id, created, updated).await?;
    let subject = format!("import:{id}");
    let after = serde_json::json!({"kind": row.kind.as_str(), "file": row.file_name, "created": created, "updated": updated});
    audit(
        ctx,
        &mut tx,
        staff,
        client,
        &Audited { action: AuditAction::ImportCommitted, subject: &subject, before: None, after: Some(after) },
    )
    .await?;
    tx.commit().await?;
    Ok(Committed { created, updated, already_committed: false })
}

/// A template to fill in: the kind's columns as the header, every column formatted as text.
pub fn template(staff: &Staff, kind: ImportKind) -> Result<Vec<u8>, Error> {
    staff.require(permission(kind))?;
    campuspay_documents::write_xlsx(kind.label_zh(), template_columns(kind), &[]).map_err(|e| {
        tracing::error!(error = %e, "template");
        Error::internal()
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A cell's text in the row, or empty when the column is absent.
pub(crate) fn cell(cells: &[String], at: Option<usize>) -> &str {
    at.and_then(|i| cells.get(i)).map(|s| s.trim()).unwrap_or("")
}
