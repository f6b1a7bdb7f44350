//! What the school charges for: fee items, periods and fee standards as the office lists and
//! creates them.

use super::{Audited, Staff, audit};
use crate::{Client, Context, Error, ErrorKind};
use campuspay_domain::office::{AuditAction, Permission};
use campuspay_store::StoreError;
use campuspay_store::catalog::{FeeItemRow, FeeStandardRow, PeriodRow};
use campuspay_store::charges::NewFeeItem;

pub async fn fee_items(ctx: &Context, staff: &Staff) -> Result<Vec<FeeItemRow>, Error> {
    staff.require(Permission::ViewStudents)?;
    Ok(ctx.store.fee_items(staff.school()?).await?)
}

pub async fn periods(ctx: &Context, staff: &Staff) -> Result<Vec<PeriodRow>, Error> {
    staff.require(Permission::ViewStudents)?;
    Ok(ctx.store.periods(staff.school()?).await?)
}

pub async fn fee_standards(ctx: &Context, staff: &Staff) -> Result<Vec<FeeStandardRow>, Error> {
    staff.require(Permission::ViewStudents)?;
    Ok(ctx.store.fee_standards(staff.school()?).await?)
}

fn refused(code: &'static str, zh: &str, en: &str, field: &'static str) -> Error {
    Error::new(ErrorKind::Refused, code, zh, en).field(field)
}

/// A code the office types (`XF`, `2026秋`): no spaces, nothing a URL or a file name would
/// mangle, at most 32 characters.
pub(crate) fn valid_code(code: &str) -> bool {
    let n = code.chars().count();
    n > 0 && n <= 32 && code.chars().all(|c| !c.is_whitespace() && !c.is_control() && !"/\\?#%\"'<>&".contains(c))
}

/// A name the office types: not empty, at most 64 characters, no control characters.
pub(crate) fn valid_name(name: &str) -> bool {
    let n = name.chars().count();
    n > 0 && n <= 64 && !name.chars().any(char::is_control)
}

pub struct NewPeriodInput<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub academic_year: &'a str,
    pub sort: i64,
}

/// A new 收费期间 (`manage_fee_standards`).
pub async fn create_period(ctx: &Context, staff: &Staff, client: &Client, input: &NewPeriodInput<'_>) -> Result<i64, Error> {
    staff.require(Permission::ManageFeeStandards)?;
    let school_id = staff.school()?;
    let (code, name, year) = (input.code.trim(), input.name.trim(), input.academic_year.trim());
    if !valid_code(code) {
        return Err(refused(
            "invalid_code",
            "期间代码不能含空格或 / \\ ? # % 等符号（最多32个字）",
            "Codes use letters, digits, - and _",
            "code",
        ));
    }
    if !valid_name(name) {
        return Err(refused("invalid_name", "请填写期间名称（最多64字）", "Enter the period's name", "name"));
    }
    if !valid_name(year) {
        return Err(refused("invalid_academic_year", "请填写学年，如 2026-2027", "Enter the academic year", "academic_year"));
    }
    let mut tx = ctx.store.write_tx().await?;
    let id = ctx.store.insert_period(&mut tx, school_id, code, name, year, input.sort).await.map_err(|e| match e {
        StoreError::Conflict(_) => {
            Error::new(ErrorKind::Conflict, "code_taken", "已有相同代码的期间", "A period with that code exists").field("code")
        }
        e => e.into(),
    })?;
    let subject = format!("period:{code}");
    let after = serde_json::json!({"id": id, "code": code, "name": name, "academic_year": year, "sort": input.sort});
    audit(ctx, &mut tx, staff, client, &Audited { action: AuditAction::PeriodSaved, subject: &subject, before: None, after: Some(after) })
        .await?;
    tx.commit().await?;
    Ok(id)
}

pub struct NewFeeItemInput<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub category: &'a str,
    pub receipt_type: &'a str,
    pub mandatory: bool,
    pub instalments: bool,
    pub sort: i64,
}

/// A new 收费项目 (`manage_fee_standards`), collecting from the start.
pub async fn create_fee_item(ctx: &Context, staff: &Staff, client: &Client, input: &NewFeeItemInput<'_>) -> Result<i64, Error> {
    staff.require(Permission::ManageFeeStandards)?;
    let school_id = staff.school()?;
    let (code, name) = (input.code.trim(), input.name.trim());
    if !valid_code(code) {
        return Err(refused(
            "invalid_code",
            "项目代码不能含空格或 / \\ ? # % 等符号（最多32个字）",
            "Codes use letters, digits, - and _",
            "code",
        ));
    }
    if !valid_name(name) {
        return Err(refused("invalid_name", "请填写项目名称（最多64字）", "Enter the item's name", "name"));
    }
    let category = if input.category.trim().is_empty() { name } else { input.category.trim() };
    let receipt_type = if input.receipt_type.trim().is_empty() { "行政事业性收费" } else { input.receipt_type.trim() };
    if !valid_name(category) || !valid_name(receipt_type) {
        return Err(refused("invalid_name", "类别和票据类型最多64字", "Category and receipt type are at most 64 characters", "category"));
    }
    let new = NewFeeItem {
        school_id,
        code,
        name,
        name_en: "",
        category,
        receipt_type,
        mandatory: input.mandatory,
        parent_id: None,
        instalments: input.instalments,
        instalment_min: campuspay_domain::Fen::ZERO,
        window: None,
        collecting: true,
        sort: input.sort,
    };
    let mut tx = ctx.store.write_tx().await?;
    let id = ctx.store.insert_fee_item(&mut tx, &new).await.map_err(|e| match e {
        StoreError::Conflict(_) => {
            Error::new(ErrorKind::Conflict, "code_taken", "已有相同代码的收费项目", "An item with that code exists").field("code")
        }
        e => e.into(),
    })?;
    let subject = format!("fee_item:{code}");
    let after = serde_json::json!({"id": id, "code": code, "name": name, "category": category, "receipt_type": receipt_type,
        "mandatory": input.mandatory, "instalments": input.instalments});
    audit(ctx, &mut tx, staff, client, &Audited { action: AuditAction::FeeItemSaved, subject: &subject, before: None, after: Some(after) })
        .await?;
    tx.commit().await?;
    Ok(id)
}
