//! 欠费账龄: what students still owe, by the academic year of the charge's period and its age
//! (this academic year, one, two, three years and more), per department.
//!
//! Each figure is a sum of `charge_sums.owed_fen`, the one definition of what a charge still
//! owes (issued − discount − waived − cancelled − paid net of refunds − balance used), over
//! the charges that owe something. An academic year is named like `2025-2026` and begins on
//! 1 September (Asia/Shanghai); a year name without a leading year of four digits is shown
//! under its own name with no age.

use super::exports::Sheet;
use super::{Audited, Staff, audit};
use crate::{Client, Context, Error, ErrorKind};
use campuspay_documents::Cell;
use campuspay_domain::Fen;
use campuspay_domain::office::{AuditAction, Permission};
use campuspay_domain::time::shanghai_parts;
use campuspay_store::money_reports::ArrearsDebtor;
use std::collections::BTreeMap;

/// The age buckets, youngest first.
pub const BUCKETS: [&str; 4] = ["本学年", "1年", "2年", "3年及以上"];

/// One academic year that has arrears, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgeYear {
    pub academic_year: String,
    /// Whole academic years since; `None` when the name has no year.
    pub age: Option<i64>,
}

impl AgeYear {
    pub fn bucket(&self) -> Option<usize> {
        self.age.map(|a| a.clamp(0, 3) as usize)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Owed {
    pub students: i64,
    pub charges: i64,
    pub outstanding: Fen,
}

impl Owed {
    fn add(&mut self, students: i64, charges: i64, f: Fen) {
        self.students += students;
        self.charges += charges;
        self.outstanding = Fen(self.outstanding.0 + f.0);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepartmentArrears {
    pub department: String,
    /// Per year of `Ageing::years`, in that order.
    pub by_year: Vec<Fen>,
    /// Per bucket of `BUCKETS` (years without an age count in none).
    pub by_bucket: [Fen; 4],
    /// Students counted once per year they owe in.
    pub total: Owed,
}

pub struct Ageing {
    /// The day the ages are counted from.
    pub as_of: String,
    pub years: Vec<AgeYear>,
    pub rows: Vec<DepartmentArrears>,
    /// The sum of the rows.
    pub by_year: Vec<Fen>,
    pub by_bucket: [Fen; 4],
    pub total: Owed,
}

/// The start year of the academic year that `unix_s` falls in.
fn current_start_year(unix_s: i64) -> i64 {
    let (y, m, ..) = shanghai_parts(unix_s);
    if m >= 9 { y } else { y - 1 }
}

fn start_year(name: &str) -> Option<i64> {
    let head = name.trim().get(..4)?;
    head.bytes().all(|b| b.is_ascii_digit()).then(|| head.parse().ok()).flatten()
}

/// Arrears of the school by department and academic year (`view_reports`).
pub async fn ageing(ctx: &Context, staff: &Staff) -> Result<Ageing, Error> {
    staff.require(Permission::ViewReports)?;
    let school_id = staff.school()?;
    let now = ctx.clock.now();
    let cells = ctx.store.arrears_by_year(school_id).await?;
    let current = current_start_year(now);
    let mut years: Vec<AgeYear> = cells
        .iter()
        .map(|c| c.academic_year.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|y| AgeYear { age: start_year(&y).map(|s| (current - s).max(0)), academic_year: y })
        .collect();
    years.reverse();
    let index: BTreeMap<&str, usize> = years.iter().enumerate().map(|(i, y)| (y.academic_year.as_str(), i)).collect();
    let mut rows: BTreeMap<String, DepartmentArrears> = BTreeMap::new();
    for c in &cells {
        let row = rows.entry(c.department.clone()).or_insert_with(|| DepartmentArrears {
            department: c.department.clone(),
            by_year: vec![Fen::ZERO; years.len()],
            by_bucket: [Fen::ZERO; 4],
            total: Owed::default(),
        });
        let i = index[c.academic_year.as_str()];
        row.by_year[i] = Fen(row.by_year[i].0 + c.outstanding.0);
        if let Some(b) = years[i].bucket() {
            row.by_bucket[b] = Fen(row.by_bucket[b].0 + c.outstanding.0);
        }
        row.total.add(c.students, c.charges, c.outstanding);
    }
    let rows: Vec<DepartmentArrears> = rows.into_values().collect();
    let mut by_year = vec![Fen::ZERO; years.len()];
    let mut by_bucket = [Fen::ZERO; 4];
    let mut total = Owed::default();
    for r in &rows {
        for (i, f) in r.by_year.iter().enumerate() {
            by_year[i] = Fen(by_year[i].0 + f.0);
        }
        for (b, f) in r.by_bucket.iter().enumerate() {
            by_bucket[b] = Fen(by_bucket[b].0 + f.0);
        }
        total.add(r.total.students, r.total.charges, r.total.outstanding);
    }
    Ok(Ageing { as_of: campuspay_domain::time::format_shanghai_date(now), years, rows, by_year, by_bucket, total })
}

/// The ageing as a workbook: a department per row, a column per academic year, then the
/// buckets and the total (audited).
pub async fn ageing_xlsx(ctx: &Context, staff: &Staff, client: &Client) -> Result<Vec<u8>, Error> {
    let a = ageing(ctx, staff).await?;
    let mut head: Vec<String> = vec!["院系".into()];
    head.extend(a.years.iter().map(|y| format!("{} 学年", y.academic_year)));
    head.extend(BUCKETS.iter().map(|b| format!("账龄{b}")));
    head.extend(["欠费合计".to_string(), "欠费项数".to_string()]);
    let head: Vec<&str> = head.iter().map(String::as_str).collect();
    let line = |key: &str, by_year: &[Fen], by_bucket: &[Fen; 4], total: &Owed| {
        let mut cells = vec![Cell::Text(key.into())];
        cells.extend(by_year.iter().map(|f| Cell::Fen(f.0)));
        cells.extend(by_bucket.iter().map(|f| Cell::Fen(f.0)));
        cells.extend([Cell::Fen(total.outstanding.0), Cell::Int(total.charges)]);
        cells
    };
    let rows: Vec<Vec<Cell>> = a.rows.iter().map(|r| line(&r.department, &r.by_year, &r.by_bucket, &r.total)).collect();
    let total = line("合计", &a.by_year, &a.by_bucket, &a.total);
    let bytes = campuspay_documents::write_report_xlsx("欠费账龄", &head, &rows, Some(&total)).map_err(|e| {
        tracing::error!(error = %e, "arrears export");
        Error::internal()
    })?;
    let mut tx = ctx.store.write_tx().await?;
    let after = serde_json::json!({"report": "arrears_ageing", "as_of": a.as_of, "rows": a.rows.len()});
    let what = Audited { action: AuditAction::ReportExported, subject: "report:arrears", before: None, after: Some(after) };
    audit(ctx, &mut tx, staff, client, &what).await?;
    tx.commit().await?;
    Ok(bytes)
}

/// Rows a drill-down shows (the page and JSON); the workbook takes every row up to
/// [`DEBTORS_EXPORTED`].
pub const DEBTORS_SHOWN: i64 = 500;
/// A workbook of more rows than this is refused with a hint to narrow it (a whole school of
/// 100,000 students × 5 items that all owe would be 500,000 rows).
pub const DEBTORS_EXPORTED: i64 = 100_000;

/// The charges that still owe behind one cell of the ageing: one department and/or one
/// academic year (`None`: all), most owed first.
pub struct Debtors {
    pub department: Option<String>,
    pub academic_year: Option<String>,
    pub rows: Vec<ArrearsDebtor>,
    /// All matching charges, shown or not.
    pub count: i64,
    /// What they owe together (equals the ageing's cell).
    pub outstanding: Fen,
}

fn filter(f: Option<&str>) -> Option<String> {
    f.map(|s| s.trim().to_string())
}

/// Drill-down from the ageing to the students who owe (`view_reports`, the staff member's
/// school only).
pub async fn debtors(ctx: &Context, staff: &Staff, department: Option<&str>, academic_year: Option<&str>) -> Result<Debtors, Error> {
    debtors_up_to(ctx, staff, department, academic_year, DEBTORS_SHOWN).await
}

async fn debtors_up_to(
    ctx: &Context,
    staff: &Staff,
    department: Option<&str>,
    academic_year: Option<&str>,
    limit: i64,
) -> Result<Debtors, Error> {
    staff.require(Permission::ViewReports)?;
    let school_id = staff.school()?;
    let (department, academic_year) = (filter(department), filter(academic_year));
    let (rows, count, outstanding) = ctx.store.arrears_debtors(school_id, department.as_deref(), academic_year.as_deref(), limit).await?;
    Ok(Debtors { department, academic_year, rows, count, outstanding })
}

pub const DEBTOR_HEAD: [&str; 8] = ["学号", "姓名", "院系", "班级", "学年", "收费期间", "项目", "欠费"];

/// The drill-down as one sheet of every matching charge, up to [`DEBTORS_EXPORTED`]
/// (`view_reports`).
pub async fn debtors_sheet(ctx: &Context, staff: &Staff, department: Option<&str>, academic_year: Option<&str>) -> Result<Sheet, Error> {
    let d = debtors_up_to(ctx, staff, department, academic_year, DEBTORS_EXPORTED + 1).await?;
    if d.count > DEBTORS_EXPORTED {
        return Err(Error::new(
            ErrorKind::Refused,
            "too_many_rows",
            format!("欠费明细共 {} 项，超过 {DEBTORS_EXPORTED} 项，请按院系或学年分别导出", d.count),
            format!("{} rows owe, more than {DEBTORS_EXPORTED}: export one department or year at a time", d.count),
        ));
    }
    let rows: Vec<Vec<Cell>> = d
        .rows
        .iter()
        .map(|r| {
            vec![
                Cell::Text(r.student_no.clone()),
                Cell::Text(r.name.clone()),
                Cell::Text(r.department.clone()),
                Cell::Text(r.class_name.clone()),
                Cell::Text(r.academic_year.clone()),
                Cell::Text(r.period.clone()),
                Cell::Text(r.item.clone()),
                Cell::Fen(r.outstanding.0),
            ]
        })
        .collect();
    let mut total = vec![Cell::Text("合计".into())];
    total.extend((0..6).map(|_| Cell::Blank));
    total.push(Cell::Fen(d.outstanding.0));
    Ok(Sheet {
        name: "欠费明细",
        file_name: "arrears-debtors.xlsx".into(),
        head: DEBTOR_HEAD.iter().map(|h| h.to_string()).collect(),
        rows,
        total: Some(total),
    })
}

/// The drill-down as a workbook (audited).
pub async fn debtors_xlsx(
    ctx: &Context,
    staff: &Staff,
    client: &Client,
    department: Option<&str>,
    academic_year: Option<&str>,
) -> Result<Vec<u8>, Error> {
    let sheet = debtors_sheet(ctx, staff, department, academic_year).await?;
    let bytes = sheet.render()?;
    let after = serde_json::json!({"report": "arrears_debtors", "department": department, "academic_year": academic_year, "rows": sheet.rows.len()});
    super::exports::audit_export(ctx, staff, client, "report:arrears_debtors", after).await?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn academic_years_start_in_september() {
        let t = |y, m, d| campuspay_domain::time::shanghai_to_unix(y, m, d, 12, 0, 0).unwrap();
        assert_eq!(current_start_year(t(2026, 8, 31)), 2025);
        assert_eq!(current_start_year(t(2026, 9, 1)), 2026);
        assert_eq!(start_year("2023-2024"), Some(2023));
        assert_eq!(start_year("二〇二三"), None);
        assert_eq!(AgeYear { academic_year: "x".into(), age: Some(7) }.bucket(), Some(3));
    }
}
