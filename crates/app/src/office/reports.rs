//! 报表与对账: collection progress from the ledger, its xlsx, the stored reconciliation of a
//! day, and re-running a day.
//!
//! Every figure is a sum of ledger rows (charged: the charges as issued less their discount),
//! so a report always agrees with the books; `total` is the sum of the rows, computed here
//! from them rather than by a second query that could disagree.

use super::exports::Sheet;
use super::{Audited, Staff, audit};
use crate::{Client, Context, Error, ErrorKind};
use campuspay_documents::Cell;
use campuspay_domain::Fen;
use campuspay_domain::office::{AuditAction, Permission};
use campuspay_domain::settlement::ReportBy;
use campuspay_store::reports::{CollectionRow, Debtor, ReconciliationRow};

pub struct Collection {
    pub period: String,
    pub by: ReportBy,
    pub rows: Vec<CollectionRow>,
    pub total: CollectionRow,
}

fn refused(code: &'static str, zh: impl Into<String>, en: impl Into<String>, field: &'static str) -> Error {
    Error::new(ErrorKind::Refused, code, zh, en).field(field)
}

pub fn parse_by(s: &str) -> Result<ReportBy, Error> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(ReportBy::Class);
    }
    s.parse().map_err(|_| {
        refused(
            "invalid_group",
            "分组只能是 department、major、class、item 或 level",
            "by is department, major, class, item or level",
            "by",
        )
    })
}

pub(crate) async fn checked_period(ctx: &Context, school_id: i64, period: &str) -> Result<String, Error> {
    let period = period.trim();
    if period.is_empty() {
        return Err(refused("period_required", "请选择收费期间", "Choose a period", "period"));
    }
    if !ctx.store.period_exists(school_id, period).await? {
        return Err(
            Error::new(ErrorKind::NotFound, "period_not_found", "本校没有这个收费期间", "No such period at this school").field("period")
        );
    }
    Ok(period.to_string())
}

fn sum(rows: &[CollectionRow]) -> CollectionRow {
    let add = |f: fn(&CollectionRow) -> Fen| Fen(rows.iter().map(|r| f(r).0).sum());
    CollectionRow {
        key: "合计".into(),
        students: rows.iter().map(|r| r.students).sum(),
        charges: rows.iter().map(|r| r.charges).sum(),
        charged: add(|r| r.charged),
        waived: add(|r| r.waived),
        paid_online: add(|r| r.paid_online),
        paid_offline: add(|r| r.paid_offline),
        paid_balance: add(|r| r.paid_balance),
        refunded: add(|r| r.refunded),
    }
}

/// A period's collection grouped by `by`.
pub async fn collection(ctx: &Context, staff: &Staff, period: &str, by: ReportBy) -> Result<Collection, Error> {
    staff.require(Permission::ViewReports)?;
    let school_id = staff.school()?;
    let period = checked_period(ctx, school_id, period).await?;
    let rows = ctx.store.collection(school_id, &period, by).await?;
    let total = sum(&rows);
    Ok(Collection { period, by, rows, total })
}

/// The students of one group who still owe (drill-down), most owed first.
pub async fn debtors(ctx: &Context, staff: &Staff, period: &str, by: ReportBy, key: &str) -> Result<Vec<Debtor>, Error> {
    staff.require(Permission::ViewReports)?;
    let school_id = staff.school()?;
    let period = checked_period(ctx, school_id, period).await?;
    Ok(ctx.store.debtors(school_id, &period, by, key, 500).await?)
}

/// Per mille of what was due that has been collected (net of refunds), for the % column.
pub fn collected_permille(r: &CollectionRow) -> i64 {
    let due = r.charged.0 - r.waived.0;
    if due <= 0 {
        return 1000;
    }
    (r.paid().0 - r.refunded.0) * 1000 / due
}

pub const COLLECTION_HEAD: [&str; 11] =
    ["分组", "人数", "应收", "减免", "实收合计", "其中在线", "其中线下", "其中余额", "退款", "欠费", "收缴率‰"];

fn cells(r: &CollectionRow) -> Vec<Cell> {
    vec![
        Cell::Text(r.key.clone()),
        Cell::Int(r.students),
        Cell::Fen(r.charged.0),
        Cell::Fen(r.waived.0),
        Cell::Fen(r.paid().0),
        Cell::Fen(r.paid_online.0),
        Cell::Fen(r.paid_offline.0),
        Cell::Fen(r.paid_balance.0),
        Cell::Fen(r.refunded.0),
        Cell::Fen(r.outstanding().0),
        Cell::Int(collected_permille(r)),
    ]
}

/// The report as one sheet (`view_reports`), for a download now or an export job.
pub async fn collection_sheet(ctx: &Context, staff: &Staff, period: &str, by: ReportBy) -> Result<Sheet, Error> {
    let report = collection(ctx, staff, period, by).await?;
    let mut head: Vec<String> = COLLECTION_HEAD.iter().map(|h| h.to_string()).collect();
    head[0] = by.label_zh().to_string();
    Ok(Sheet {
        name: "收缴进度",
        file_name: format!("collection-{}-{}.xlsx", report.period, by.as_str()),
        head,
        rows: report.rows.iter().map(cells).collect(),
        total: Some(cells(&report.total)),
    })
}

/// The report as an .xlsx workbook (audited: the office's figures left the system).
pub async fn collection_xlsx(ctx: &Context, staff: &Staff, client: &Client, period: &str, by: ReportBy) -> Result<Vec<u8>, Error> {
    let sheet = collection_sheet(ctx, staff, period, by).await?;
    let bytes = sheet.render()?;
    let after = serde_json::json!({"report": "collection", "period": period.trim(), "by": by.as_str(), "rows": sheet.rows.len()});
    super::exports::audit_export(ctx, staff, client, "report:collection", after).await?;
    Ok(bytes)
}

/// A `YYYY-MM-DD` day that exists, or a refusal naming `field`.
pub(crate) fn valid_date(s: &str, field: &'static str) -> Result<String, Error> {
    let s = s.trim();
    let b = s.as_bytes();
    let ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && s[..4].parse::<i64>().is_ok()
        && s[5..7].parse::<u32>().is_ok()
        && s[8..].parse::<u32>().is_ok()
        && campuspay_domain::time::shanghai_to_unix(
            s[..4].parse().unwrap_or(0),
            s[5..7].parse().unwrap_or(0),
            s[8..].parse().unwrap_or(0),
            0,
            0,
            0,
        )
        .is_some_and(|t| campuspay_domain::time::format_shanghai_date(t) == s);
    if !ok {
        return Err(refused("invalid_date", "日期格式应为 YYYY-MM-DD", "The date is YYYY-MM-DD", field));
    }
    Ok(s.to_string())
}

/// The stored reconciliation of a day, per provider (the latest run of each).
pub async fn reconciliation(ctx: &Context, staff: &Staff, date: &str) -> Result<Vec<ReconciliationRow>, Error> {
    staff.require(Permission::ViewReports)?;
    let school_id = staff.school()?;
    let date = valid_date(date, "date")?;
    Ok(ctx.store.reconciliations_of_day(school_id, &date).await?)
}

/// Re-runs a day's reconciliation for the staff member's school (audited).
pub async fn rerun(ctx: &Context, staff: &Staff, client: &Client, date: &str) -> Result<Vec<ReconciliationRow>, Error> {
    staff.require(Permission::Refund)?;
    let school_id = staff.school()?;
    let date = valid_date(date, "date")?;
    if date > campuspay_domain::time::format_shanghai_date(ctx.clock.now()) {
        return Err(refused("future_date", "不能对账未来的日期", "That day has not happened yet", "date"));
    }
    let report = crate::payment::reconcile::reconcile(ctx, &date, Some(school_id)).await?;
    let mut tx = ctx.store.write_tx().await?;
    let after = serde_json::json!({"date": date, "statements": report.statements, "settled_now": report.settled_now.len(), "failures": report.failures.len()});
    let what = Audited { action: AuditAction::ReconciliationRun, subject: "reconciliation", before: None, after: Some(after) };
    audit(ctx, &mut tx, staff, client, &what).await?;
    tx.commit().await?;
    Ok(ctx.store.reconciliations_of_day(school_id, &date).await?)
}
