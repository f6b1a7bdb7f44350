//! The audit log, for the auditor (and the school's admin): searchable, exportable, never edited.

use super::{Audited, Staff, audit};
use crate::{Client, Context, Error, ErrorKind};
use campuspay_domain::office::{AuditAction, Permission};
use campuspay_domain::time::format_shanghai;
use campuspay_store::office::{AuditFilter, AuditRow};

pub async fn search(ctx: &Context, staff: &Staff, filter: &AuditFilter) -> Result<Vec<AuditRow>, Error> {
    staff.require(Permission::ViewAudit)?;
    Ok(ctx.store.audit_rows(staff.school_id, filter).await?)
}

/// At most this many rows in one export; narrower dates export the rest.
pub const EXPORT_LIMIT: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Xlsx,
}

impl ExportFormat {
    pub fn parse(s: &str) -> Result<ExportFormat, Error> {
        match s {
            "" | "xlsx" => Ok(ExportFormat::Xlsx),
            "csv" => Ok(ExportFormat::Csv),
            _ => {
                Err(Error::new(ErrorKind::Refused, "invalid_format", "导出格式只能是 xlsx 或 csv", "format is xlsx or csv").field("format"))
            }
        }
    }
}

pub struct Export {
    pub bytes: Vec<u8>,
    pub rows: usize,
}

const HEAD: [&str; 9] = ["编号", "时间（北京时间）", "操作人", "角色", "操作", "对象", "IP", "浏览器", "详情"];

/// The rows the filter picks, newest first, as a file; the export itself is audited.
pub async fn export(ctx: &Context, staff: &Staff, client: &Client, filter: &AuditFilter, format: ExportFormat) -> Result<Export, Error> {
    staff.require(Permission::ViewAudit)?;
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut page = AuditFilter { limit: 1000, ..filter.clone() };
    loop {
        let batch = ctx.store.audit_rows(staff.school_id, &page).await?;
        let last = batch.last().map(|r| r.id);
        for r in batch.iter().take(EXPORT_LIMIT - rows.len()) {
            rows.push(row(r));
        }
        match last {
            Some(id) if rows.len() < EXPORT_LIMIT && batch.len() == 1000 => page.before_id = Some(id),
            _ => break,
        }
    }
    let n = rows.len();
    let bytes = match format {
        ExportFormat::Csv => campuspay_documents::write_csv(&HEAD, &rows),
        ExportFormat::Xlsx => campuspay_documents::write_xlsx("审计日志", &HEAD, &rows).map_err(|e| {
            tracing::error!(error = %e, "audit export");
            Error::internal()
        })?,
    };
    let mut tx = ctx.store.write_tx().await?;
    let after = serde_json::json!({"rows": n, "format": if format == ExportFormat::Csv { "csv" } else { "xlsx" },
        "actor": filter.actor, "action": filter.action, "since": filter.since, "until": filter.until});
    audit(
        ctx,
        &mut tx,
        staff,
        client,
        &Audited { action: AuditAction::AuditExported, subject: "audit_log", before: None, after: Some(after) },
    )
    .await?;
    tx.commit().await?;
    Ok(Export { bytes, rows: n })
}

/// One audit row as the export's cells: the detail's usual fields in columns of their own.
fn row(r: &AuditRow) -> Vec<String> {
    let detail: serde_json::Value = serde_json::from_str(&r.detail).unwrap_or(serde_json::Value::Null);
    let field = |k: &str| detail.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    vec![
        r.id.to_string(),
        format_shanghai(r.at),
        r.actor.clone(),
        field("role"),
        r.action.clone(),
        field("subject"),
        field("ip"),
        field("user_agent"),
        if detail.is_null() { r.detail.clone() } else { detail.to_string() },
    ]
}
