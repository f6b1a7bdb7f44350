//! 长报表导出: a report the office asks for as a background job (`Job::Export`), for workbooks
//! too long to wait for in one request (a whole school's collection report, a year of
//! vouchers). Asking checks the permission and the parameters at once and queues the job; the
//! runner renders the workbook as the one who asked (their permission checked again), moving
//! the export through its stages (read the books → write the workbook → stored) so the page
//! shows how far it is; the file is then downloadable by the school's staff who read reports,
//! for [`KEPT_FOR_S`] (24 h), after which `Job::ExpireExport` removes it. Downloads are audited
//! like any report's export; the synchronous `?format=xlsx` downloads stay for small reports.

use super::{Audited, Staff, audit};
use crate::jobs::{self, Job};
use crate::{Client, Context, Error, ErrorKind};
use base64::Engine;
use campuspay_documents::Cell;
use campuspay_domain::office::{AuditAction, ExportKind, ExportStatus, Permission};
use campuspay_store::exports::ExportRow;
use serde::{Deserialize, Serialize};

/// How long a ready workbook is kept.
pub const KEPT_FOR_S: i64 = 24 * 3600;
/// Exports of one school that may wait or run at once.
pub const MAX_UNFINISHED: usize = 5;
/// The stages an export goes through: read the books, write the workbook, store it.
pub const STAGES: i64 = 3;

/// One worksheet: what every report's xlsx is made of.
pub struct Sheet {
    pub name: &'static str,
    pub file_name: String,
    pub head: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
    pub total: Option<Vec<Cell>>,
}

impl Sheet {
    pub fn render(&self) -> Result<Vec<u8>, Error> {
        let head: Vec<&str> = self.head.iter().map(String::as_str).collect();
        campuspay_documents::write_report_xlsx(self.name, &head, &self.rows, self.total.as_deref()).map_err(|e| {
            tracing::error!(error = %e, report = self.name, "export");
            Error::internal()
        })
    }
}

/// Audits that a report's figures left the system (`report.exported`).
pub(crate) async fn audit_export(
    ctx: &Context,
    staff: &Staff,
    client: &Client,
    subject: &str,
    after: serde_json::Value,
) -> Result<(), Error> {
    let mut tx = ctx.store.write_tx().await?;
    let what = Audited { action: AuditAction::ReportExported, subject, before: None, after: Some(after) };
    audit(ctx, &mut tx, staff, client, &what).await?;
    tx.commit().await?;
    Ok(())
}

/// What a report needs, by kind: `period` and `by` (collection), `from` and `to` (voucher,
/// daily), `department` and `academic_year`, both optional (arrears debtors).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub academic_year: Option<String>,
}

fn refused(code: &'static str, zh: impl Into<String>, en: impl Into<String>, field: &'static str) -> Error {
    Error::new(ErrorKind::Refused, code, zh, en).field(field)
}

pub fn parse_kind(s: &str) -> Result<ExportKind, Error> {
    s.trim().parse().map_err(|_| {
        refused(
            "invalid_kind",
            "导出类型只能是 collection、voucher、daily 或 arrears_debtors",
            "kind is collection, voucher, daily or arrears_debtors",
            "kind",
        )
    })
}

/// The sheet of `kind` with `p`, as `staff` (whose permission each report checks).
async fn sheet_of(ctx: &Context, staff: &Staff, kind: ExportKind, p: &ExportParams) -> Result<Sheet, Error> {
    let text = |o: &Option<String>| o.clone().unwrap_or_default();
    match kind {
        ExportKind::Collection => {
            let by = super::reports::parse_by(&text(&p.by))?;
            super::reports::collection_sheet(ctx, staff, &text(&p.period), by).await
        }
        ExportKind::Voucher => super::money_reports::voucher_sheet(ctx, staff, &text(&p.from), &text(&p.to)).await,
        ExportKind::Daily => super::money_reports::daily_sheet(ctx, staff, &text(&p.from), &text(&p.to)).await,
        ExportKind::ArrearsDebtors => super::arrears::debtors_sheet(ctx, staff, p.department.as_deref(), p.academic_year.as_deref()).await,
    }
}

/// Checks what can be checked before the books are read, so a bad request is refused now and
/// not as a failed job later.
async fn check(ctx: &Context, school_id: i64, kind: ExportKind, p: &ExportParams) -> Result<ExportParams, Error> {
    let text = |o: &Option<String>| o.as_deref().unwrap_or("").trim().to_string();
    match kind {
        ExportKind::Collection => {
            let by = super::reports::parse_by(&text(&p.by))?;
            let period = super::reports::checked_period(ctx, school_id, &text(&p.period)).await?;
            Ok(ExportParams { period: Some(period), by: Some(by.as_str().to_string()), ..Default::default() })
        }
        ExportKind::Voucher | ExportKind::Daily => {
            let r = super::money_reports::parse_range(&text(&p.from), &text(&p.to))?;
            Ok(ExportParams { from: Some(r.from.clone()), to: Some(r.to.clone()), ..Default::default() })
        }
        ExportKind::ArrearsDebtors => Ok(ExportParams {
            department: p.department.as_deref().map(|d| d.trim().to_string()),
            academic_year: p.academic_year.as_deref().map(|y| y.trim().to_string()),
            ..Default::default()
        }),
    }
}

/// Asks for an export (`view_reports`): checked, recorded, queued and audited together.
pub async fn request(ctx: &Context, staff: &Staff, client: &Client, kind: &str, params: &ExportParams) -> Result<ExportRow, Error> {
    staff.require(Permission::ViewReports)?;
    let school_id = staff.school()?;
    let kind = parse_kind(kind)?;
    let params = check(ctx, school_id, kind, params).await?;
    let unfinished = ctx.store.exports_of_school(school_id, 50).await?.iter().filter(|e| !e.status.is_final()).count();
    if unfinished >= MAX_UNFINISHED {
        return Err(Error::new(
            ErrorKind::TooManyRequests,
            "too_many_exports",
            format!("本校已有 {unfinished} 个导出在排队或生成中，请等其完成后再试"),
            format!("{unfinished} exports of the school are still waiting or running"),
        ));
    }
    let json = serde_json::to_string(&params).map_err(|_| Error::internal())?;
    let mut tx = ctx.store.write_tx().await?;
    let id = ctx.store.insert_export(&mut tx, school_id, staff.id, kind, &json, ctx.clock.now()).await?;
    jobs::enqueue(ctx, &mut tx, &Job::Export { export_id: id }).await?;
    let subject = format!("export:{id}");
    let after = serde_json::json!({"kind": kind.as_str(), "params": params});
    audit(
        ctx,
        &mut tx,
        staff,
        client,
        &Audited { action: AuditAction::ExportRequested, subject: &subject, before: None, after: Some(after) },
    )
    .await?;
    tx.commit().await?;
    ctx.store.export_of_school(school_id, id).await?.ok_or_else(Error::internal)
}

/// The school's latest 20 exports (`view_reports`).
pub async fn list(ctx: &Context, staff: &Staff) -> Result<Vec<ExportRow>, Error> {
    staff.require(Permission::ViewReports)?;
    Ok(ctx.store.exports_of_school(staff.school()?, 20).await?)
}

fn not_found() -> Error {
    Error::new(ErrorKind::NotFound, "export_not_found", "本校没有这个导出", "No such export at this school")
}

/// One export of the school (`view_reports`).
pub async fn get(ctx: &Context, staff: &Staff, id: i64) -> Result<ExportRow, Error> {
    staff.require(Permission::ViewReports)?;
    ctx.store.export_of_school(staff.school()?, id).await?.ok_or_else(not_found)
}

/// A ready export's workbook: (file name, bytes); audited as the report's export.
pub async fn download(ctx: &Context, staff: &Staff, client: &Client, id: i64) -> Result<(String, Vec<u8>), Error> {
    let e = get(ctx, staff, id).await?;
    let expired = e.status == ExportStatus::Expired || e.expires_at.is_some_and(|t| t <= ctx.clock.now());
    if expired {
        return Err(Error::new(ErrorKind::NotFound, "export_expired", "导出文件已过期删除，请重新导出", "The export's file has expired"));
    }
    if e.status != ExportStatus::Ready {
        return Err(Error::new(
            ErrorKind::Conflict,
            "export_not_ready",
            format!("导出{}，还不能下载", e.status.label_zh()),
            format!("The export is {}", e.status.as_str()),
        ));
    }
    let content = ctx.store.export_content(e.school_id, id).await?.ok_or_else(not_found)?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(content.as_bytes()).map_err(|_| Error::internal())?;
    if crate::crypto::sha256_hex(&bytes) != e.sha256 {
        tracing::error!(id, "export file no longer matches its SHA-256");
        return Err(Error::internal());
    }
    let after = serde_json::json!({"report": e.kind.as_str(), "params": serde_json::from_str::<serde_json::Value>(&e.params).ok(), "rows": e.rows_total});
    audit_export(ctx, staff, client, &format!("export:{id}"), after).await?;
    Ok((e.file_name, bytes))
}

/// `Job::Export`: renders the workbook as the staff member who asked. A refusal (their
/// permission gone, too many rows) ends the export as failed with its reason; anything else
/// is retried by the runner, up to three attempts.
pub(crate) async fn run(ctx: &Context, export_id: i64, attempts: i64) -> Result<(), Error> {
    let Some(e) = ctx.store.export_by_id(export_id).await? else { return Ok(()) };
    if e.status.is_final() {
        return Ok(());
    }
    let fail = |why: String| async move { ctx.store.fail_export(export_id, &why, ctx.clock.now()).await.map_err(Error::from) };
    let staff = match ctx.store.staff_by_id(e.staff_id).await? {
        Some(row) if !row.disabled && row.school_id == Some(e.school_id) => super::auth::staff_of(&row)?,
        _ => return fail("发起导出的账号已停用".into()).await,
    };
    let params: ExportParams = match serde_json::from_str(&e.params) {
        Ok(p) => p,
        Err(err) => return fail(format!("导出参数无法读取：{err}")).await,
    };
    ctx.store.set_export_progress(export_id, ExportStatus::Running, 1, 0).await?;
    let sheet = match sheet_of(ctx, &staff, e.kind, &params).await {
        Ok(s) => s,
        Err(err) if err.kind != ErrorKind::Internal || attempts >= 2 => return fail(err.zh).await,
        Err(err) => return Err(err),
    };
    ctx.store.set_export_progress(export_id, ExportStatus::Running, 2, sheet.rows.len() as i64).await?;
    let file_name = sheet.file_name.clone();
    // Writing a workbook of 100,000 rows takes seconds of CPU: off the async workers.
    let bytes = match tokio::task::spawn_blocking(move || sheet.render()).await {
        Ok(Ok(b)) => b,
        Ok(Err(err)) if attempts >= 2 => return fail(err.zh).await,
        Ok(Err(err)) => return Err(err),
        Err(join) => {
            tracing::error!(error = %join, export_id, "export render task");
            return if attempts >= 2 { fail("生成工作簿失败".into()).await } else { Err(Error::internal()) };
        }
    };
    let now = ctx.clock.now();
    let sha256 = crate::crypto::sha256_hex(&bytes);
    let content = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let mut tx = ctx.store.write_tx().await?;
    ctx.store.finish_export(&mut tx, export_id, &file_name, &sha256, bytes.len() as i64, &content, now, now + KEPT_FOR_S).await?;
    jobs::enqueue_at(ctx, &mut tx, &Job::ExpireExport { export_id }, now + KEPT_FOR_S).await?;
    tx.commit().await?;
    Ok(())
}

/// `Job::ExpireExport`: removes a ready export's file once its time is up.
pub(crate) async fn expire(ctx: &Context, export_id: i64) -> Result<bool, Error> {
    Ok(ctx.store.expire_export(export_id, ctx.clock.now()).await?)
}
