//! 学生名单: 学号, 姓名, 性别, 身份证号, 院系, 专业, 层次, 年级, 班级, 手机号, 邮箱.

use super::{RowError, cell, columns_of};
use crate::{Context, Error};
use campuspay_documents::Table;
use campuspay_domain::idcard;
use campuspay_domain::profile::{valid_email, valid_phone};
use campuspay_store::WriteTx;
use campuspay_store::imports::RosterStudent;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

const REQUIRED: &[&str] = &["学号", "姓名", "身份证号", "院系", "专业", "层次", "年级", "班级"];
const OPTIONAL: &[&str] = &["性别", "手机号", "邮箱"];
/// The template's order, as offices keep their rosters.
pub const COLUMNS: &[&str] = &["学号", "姓名", "性别", "身份证号", "院系", "专业", "层次", "年级", "班级", "手机号", "邮箱"];

fn plain_text(s: &str, max: usize) -> bool {
    let n = s.chars().count();
    n > 0 && n <= max && !s.chars().any(char::is_control)
}

/// Checks every row; returns the valid students (as JSON), their count and the bad rows.
pub(super) async fn check(ctx: &Context, school_id: i64, table: Table, checked: &AtomicU64) -> Result<(String, i64, Vec<RowError>), Error> {
    let at = columns_of(&table, REQUIRED, OPTIONAL)?;
    let [no_c, name_c, card_c, dept_c, major_c, level_c, grade_c, class_c, gender_c, phone_c, email_c] = at[..] else {
        return Err(Error::internal());
    };
    // Another student of the school with the same ID card is a second record of one person.
    let mut cards: HashMap<String, String> = HashMap::new();
    for s in ctx.store.student_cards(school_id).await? {
        cards.insert(s.1, s.0);
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut seen_cards: HashMap<String, usize> = HashMap::new();
    let mut valid = Vec::new();
    let mut errors = Vec::new();
    // The rows are consumed as they are checked: the file's cells are freed before the valid
    // rows are written out as the preview.
    for (row, cells) in table.rows {
        checked.fetch_add(1, Ordering::Relaxed);
        let cells = &cells;
        let mut bad = |column: &str, message: String| errors.push(RowError { row, column: column.into(), message });
        let mut ok = true;
        let no = cell(cells, no_c);
        if no.is_empty() || no.len() > 32 || !no.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            bad("学号", "学号应为1–32位字母或数字".into());
            ok = false;
        } else if let Some(first) = seen.get(no) {
            bad("学号", format!("学号与第 {first} 行重复"));
            ok = false;
        }
        let name = cell(cells, name_c);
        if !plain_text(name, 32) {
            bad("姓名", "姓名不能为空，最多32字".into());
            ok = false;
        }
        let gender = cell(cells, gender_c);
        if !["", "男", "女"].contains(&gender) {
            bad("性别", format!("性别只能填“男”或“女”，不是“{gender}”"));
            ok = false;
        }
        let card = idcard::normalize(cell(cells, card_c));
        if !idcard::is_valid(&card) {
            let why = if card.len() != 18 {
                format!("身份证号应为18位（现为{}位）；若是 Excel 把它变成了数字，请把该列设为文本后重新输入", card.chars().count())
            } else {
                "身份证号校验位不正确，请核对".to_string()
            };
            bad("身份证号", why);
            ok = false;
        } else if let Some(first) = seen_cards.get(&card) {
            bad("身份证号", format!("身份证号与第 {first} 行重复"));
            ok = false;
        } else if let Some(other) = cards.get(&card).filter(|other| other.as_str() != no) {
            bad("身份证号", format!("本校学号 {other} 已使用该身份证号"));
            ok = false;
        }
        let texts = [("院系", dept_c), ("专业", major_c), ("层次", level_c), ("班级", class_c)];
        for (label, c) in texts {
            if !plain_text(cell(cells, c), 64) {
                bad(label, format!("{label}不能为空，最多64字"));
                ok = false;
            }
        }
        let grade = cell(cells, grade_c);
        let year = grade.strip_suffix('级').unwrap_or(grade).parse::<i64>().ok().filter(|y| (1950..=2100).contains(y));
        if year.is_none() {
            bad("年级", format!("年级应为入学年份，如 2026（不是“{grade}”）"));
            ok = false;
        }
        let phone = cell(cells, phone_c);
        if !phone.is_empty() && !valid_phone(phone) {
            bad("手机号", "手机号应为11位数字".into());
            ok = false;
        }
        let email = cell(cells, email_c);
        if !email.is_empty() && !valid_email(email) {
            bad("邮箱", "邮箱格式不正确".into());
            ok = false;
        }
        if ok {
            seen.insert(no.to_string(), row);
            seen_cards.insert(card.clone(), row);
            valid.push(RosterStudent {
                student_no: no.into(),
                name: name.into(),
                gender: gender.into(),
                id_card: card,
                department: cell(cells, dept_c).into(),
                major: cell(cells, major_c).into(),
                level: cell(cells, level_c).into(),
                enrol_year: year.unwrap_or_default(),
                class_name: cell(cells, class_c).into(),
                phone: phone.into(),
                email: email.into(),
            });
        } else if !no.is_empty() && !seen.contains_key(no) {
            // A bad row still claims its number: a later row with it is a duplicate too.
            seen.insert(no.to_string(), row);
        }
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
    let rows: Vec<RosterStudent> = serde_json::from_str(payload).map_err(|_| Error::internal())?;
    Ok(ctx.store.upsert_roster(tx, school_id, &rows, written).await?)
}
