//! 收费标准: 收费项目, 收费期间, 年级, 院系, 专业, 层次, 金额 (yuan). An empty selector applies
//! to every student; a charge run takes the most specific standard that matches a student.

use super::{RowError, cell, columns_of};
use crate::{Context, Error};
use campuspay_documents::{Table, fen_of_cell};
use campuspay_store::WriteTx;
use campuspay_store::catalog::{FeeStandard, Selector, Upserted};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

const REQUIRED: &[&str] = &["收费项目", "收费期间", "金额"];
const OPTIONAL: &[&str] = &["年级", "院系", "专业", "层次"];
pub const COLUMNS: &[&str] = &["收费项目", "收费期间", "年级", "院系", "专业", "层次", "金额"];

pub(super) async fn check(ctx: &Context, school_id: i64, table: Table, checked: &AtomicU64) -> Result<(String, i64, Vec<RowError>), Error> {
    let at = columns_of(&table, REQUIRED, OPTIONAL)?;
    let [item_c, period_c, amount_c, grade_c, dept_c, major_c, level_c] = at[..] else {
        return Err(Error::internal());
    };
    // An item or a period by its code or its name, as the office knows it.
    let mut items: HashMap<String, i64> = HashMap::new();
    for f in ctx.store.fee_items(school_id).await? {
        items.insert(f.name, f.id);
        items.insert(f.code, f.id);
    }
    let mut periods: HashMap<String, i64> = HashMap::new();
    for p in ctx.store.periods(school_id).await? {
        periods.insert(p.name, p.id);
        periods.insert(p.code, p.id);
    }
    let mut seen: HashMap<(i64, i64, Selector), usize> = HashMap::new();
    let mut valid = Vec::new();
    let mut errors = Vec::new();
    // The rows are consumed as they are checked: the file's cells are freed before the valid
    // rows are written out as the preview.
    for (row, cells) in table.rows {
        checked.fetch_add(1, Ordering::Relaxed);
        let cells = &cells;
        let mut bad = |column: &str, message: String| errors.push(RowError { row, column: column.into(), message });
        let item_text = cell(cells, item_c);
        let item = items.get(item_text).copied();
        if item.is_none() {
            bad("收费项目", format!("本校没有收费项目“{item_text}”（填项目名称或代码）"));
        }
        let period_text = cell(cells, period_c);
        let period = periods.get(period_text).copied();
        if period.is_none() {
            bad("收费期间", format!("本校没有收费期间“{period_text}”，请先在“收费期间”中添加"));
        }
        let amount = match fen_of_cell(cell(cells, amount_c)) {
            Ok(a) if a.0 > 10_000_000_000 => {
                bad("金额", "金额过大".into());
                None
            }
            Ok(a) => Some(a),
            Err(why) => {
                bad("金额", why);
                None
            }
        };
        let grade = cell(cells, grade_c);
        let grade = grade.strip_suffix('级').unwrap_or(grade);
        let year_or_any = grade.is_empty() || (grade.len() == 4 && grade.bytes().all(|b| b.is_ascii_digit()));
        if !year_or_any {
            bad("年级", format!("年级应为入学年份，如 2026，或留空表示所有年级（不是“{grade}”）"));
            continue;
        }
        let selector = Selector {
            grade: grade.into(),
            department: cell(cells, dept_c).into(),
            major: cell(cells, major_c).into(),
            level: cell(cells, level_c).into(),
        };
        if [&selector.department, &selector.major, &selector.level].iter().any(|s| s.chars().count() > 64) {
            bad("院系", "院系、专业、层次最多64字".into());
            continue;
        }
        let (Some(item), Some(period), Some(amount)) = (item, period, amount) else { continue };
        let key = (item, period, selector.clone());
        if let Some(first) = seen.get(&key) {
            bad("收费项目", format!("与第 {first} 行是同一项目、期间和范围的标准"));
            continue;
        }
        seen.insert(key, row);
        valid.push(FeeStandard { fee_item_id: item, period_id: period, selector, amount });
    }
    let n = valid.len() as i64;
    Ok((serde_json::to_string(&valid).map_err(|_| Error::internal())?, n, errors))
}

pub(super) async fn commit(
    ctx: &Context,
    tx: &mut WriteTx,
    school_id: i64,
    payload: &str,
    written: &AtomicU64,
) -> Result<(i64, i64), Error> {
    let rows: Vec<FeeStandard> = serde_json::from_str(payload).map_err(|_| Error::internal())?;
    let (mut created, mut updated) = (0, 0);
    for s in &rows {
        match ctx.store.upsert_fee_standard(tx, school_id, s).await? {
            Upserted::Created => created += 1,
            Upserted::Updated => updated += 1,
            Upserted::Unchanged => {}
        }
        written.fetch_add(1, Ordering::Relaxed);
    }
    Ok((created, updated))
}
