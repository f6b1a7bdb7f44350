//! The school's data in from Excel or CSV, in two steps: an upload is parsed and every row
//! checked — the preview lists each bad row with its column and reason, and nothing is written
//! to the school's data — then the office commits the valid rows in one transaction, once. A
//! second commit of the same import (a double click, a second tab) writes nothing.

mod roster;
mod standards;

use super::{Audited, Staff, audit};
use crate::{Client, Context, Error, ErrorKind};
use campuspay_documents::{DocumentError, Table};
use campuspay_domain::office::{AuditAction, ImportKind, ImportStatus, Permission};
use campuspay_store::{On, StoreError};
use sha2::Digest;

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

/// Parses and checks an upload and keeps it as a preview; writes nothing of the school's data.
pub async fn upload(
    ctx: &Context,
    staff: &Staff,
    client: &Client,
    kind: ImportKind,
    file_name: &str,
    bytes: &[u8],
) -> Result<Preview, Error> {
    staff.require(permission(kind))?;
    let school_id = staff.school()?;
    let file_name: String = file_name.chars().filter(|c| !c.is_control()).take(120).collect();
    let table = campuspay_documents::read_table(&file_name, bytes).map_err(document_error)?;
    if table.rows.is_empty() {
        return Err(refused("no_rows", "文件只有表头，没有数据行", "The file has a header but no rows").field("file"));
    }
    let (payload, valid, mut errors) = match kind {
        ImportKind::Students => roster::check(ctx, school_id, &table).await?,
        ImportKind::FeeStandards => standards::check(ctx, school_id, &table).await?,
    };
    let error_count = errors.len();
    errors.truncate(MAX_ERRORS);
    let sha = hex(&sha2::Sha256::digest(bytes));
    let errors_json = serde_json::to_string(&errors).map_err(|_| Error::internal())?;
    let rows = table.rows.len() as i64;
    let mut tx = ctx.store.write_tx().await?;
    let new = campuspay_store::imports::NewImport {
        school_id,
        staff_id: staff.id,
        kind,
        file_name: &file_name,
        file_sha256: &sha,
        row_count: rows,
        payload: &payload,
        errors: &errors_json,
    };
    let id = ctx.store.insert_import(&mut tx, &new).await?;
    let subject = format!("import:{id}");
    let after =
        serde_json::json!({"kind": kind.as_str(), "file": file_name, "sha256": sha, "rows": rows, "valid": valid, "errors": error_count});
    audit(
        ctx,
        &mut tx,
        staff,
        client,
        &Audited { action: AuditAction::ImportPreviewed, subject: &subject, before: None, after: Some(after) },
    )
    .await?;
    tx.commit().await?;
    Ok(Preview { id, kind, status: ImportStatus::Preview, file_name, rows, valid, errors, committed: None })
}

fn no_such_import() -> Error {
    Error::new(ErrorKind::NotFound, "import_not_found", "本校没有这次导入", "No such import at this school")
}

/// An import of the staff member's school, as its preview shows it.
pub async fn preview(ctx: &Context, staff: &Staff, id: i64) -> Result<Preview, Error> {
    may_import(staff)?;
    let school_id = staff.school()?;
    let row = ctx.store.import(On::Pool, school_id, id).await?.ok_or_else(no_such_import)?;
    staff.require(permission(row.kind))?;
    let errors: Vec<RowError> = serde_json::from_str(&row.errors).map_err(|_| Error::internal())?;
    let valid = match row.kind {
        ImportKind::Students => roster::count(&row.payload)?,
        ImportKind::FeeStandards => standards::count(&row.payload)?,
    };
    Ok(Preview {
        id: row.id,
        kind: row.kind,
        status: if row.committed.is_some() { ImportStatus::Committed } else { ImportStatus::Preview },
        file_name: row.file_name,
        rows: row.row_count,
        valid,
        errors,
        committed: row.committed.map(|(c, u, _)| (c, u)),
    })
}

/// Writes the import's valid rows in one transaction, once.
pub async fn commit(ctx: &Context, staff: &Staff, client: &Client, id: i64) -> Result<Committed, Error> {
    may_import(staff)?;
    let school_id = staff.school()?;
    let row = ctx.store.import(On::Pool, school_id, id).await?.ok_or_else(no_such_import)?;
    staff.require(permission(row.kind))?;
    if row.committed.is_some() {
        return Ok(Committed { created: 0, updated: 0, already_committed: true });
    }
    let mut tx = ctx.store.write_tx().await?;
    // The commit row first: a concurrent second commit waits here for this one, then finds
    // it taken and writes nothing.
    match ctx.store.insert_import_commit(&mut tx, id, staff.id, 0, 0).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => return Ok(Committed { created: 0, updated: 0, already_committed: true }),
        Err(e) => return Err(e.into()),
    }
    let (created, updated) = match row.kind {
        ImportKind::Students => roster::commit(ctx, &mut tx, school_id, &row.payload).await?,
        ImportKind::FeeStandards => standards::commit(ctx, &mut tx, school_id, &row.payload).await?,
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
