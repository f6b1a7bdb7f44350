//! Schools as the platform's operator creates them, and a school's policy as its admin keeps
//! it: validated as a whole before it is saved, audited with before and after.

use super::{Audited, Staff, audit};
use crate::crypto::random_token;
use crate::{Client, Context, Error, ErrorKind};
use campuspay_domain::SchoolPolicy;
use campuspay_domain::office::{AuditAction, Permission, Role};
use campuspay_store::StoreError;
use campuspay_store::schools::{NewSchool, School};
use campuspay_store::staff::NewStaff;

/// A policy refused: every problem, each with its field, in the error's details.
fn invalid_policy(policy: &SchoolPolicy) -> Result<(), Error> {
    let problems = policy.problems();
    if problems.is_empty() {
        return Ok(());
    }
    let list: Vec<serde_json::Value> = problems.iter().map(|p| serde_json::json!({"field": p.field, "message": p.message})).collect();
    let first = problems.iter().map(|p| p.message.as_str()).collect::<Vec<_>>().join("；");
    Err(Error::new(ErrorKind::Refused, "invalid_policy", format!("学校设置有误：{first}"), "The policy has problems (see details)")
        .field(problems[0].field)
        .details(serde_json::json!({"problems": list})))
}

/// Reads a policy sent as JSON; a field of the wrong shape is named in the refusal.
pub fn parse_policy(v: serde_json::Value) -> Result<SchoolPolicy, Error> {
    serde_json::from_value(v).map_err(|e| {
        Error::new(ErrorKind::Refused, "invalid_policy", format!("学校设置格式有误：{e}"), format!("The policy is malformed: {e}"))
            .field("policy")
    })
}

pub struct NewSchoolInput<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub name_en: &'a str,
    pub region: &'a str,
    pub policy: SchoolPolicy,
    /// The login of the school's first 校管理员.
    pub admin_login: &'a str,
}

pub struct CreatedSchool {
    pub id: i64,
    pub admin_login: String,
    /// The first admin's one-time password: shown once, changed at the first login.
    pub admin_password: String,
}

/// A new school with its first admin, in one transaction (`manage_platform`).
pub async fn create(ctx: &Context, staff: &Staff, client: &Client, input: &NewSchoolInput<'_>) -> Result<CreatedSchool, Error> {
    staff.require(Permission::ManagePlatform)?;
    let refused = |code, zh: &str, en: &str, field| Error::new(ErrorKind::Refused, code, zh, en).field(field);
    let code = input.code.trim();
    let reserved = code == "platform" || code == "demo" || code == "api" || code == "static";
    if code.len() < 2 || code.len() > 16 || !code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) || reserved {
        return Err(refused(
            "invalid_code",
            "学校代码为 2–16 位小写字母或数字（用于网址 /s/代码/）",
            "The code is 2–16 lower-case letters or digits",
            "code",
        ));
    }
    let (name, region, name_en) = (input.name.trim(), input.region.trim(), input.name_en.trim());
    if !super::catalog::valid_name(name) || !super::catalog::valid_name(region) {
        return Err(refused("invalid_name", "请填写学校名称和所在地区（最多64字）", "Enter the name and region", "name"));
    }
    if !name_en.is_empty() && !super::catalog::valid_name(name_en) {
        return Err(refused("invalid_name", "英文名称最多64个字符", "The English name is at most 64 characters", "name_en"));
    }
    let admin_login = if input.admin_login.trim().is_empty() { "admin" } else { input.admin_login.trim() };
    if admin_login.len() > 64 || !admin_login.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
        return Err(refused(
            "invalid_login",
            "管理员账号只能由字母、数字和 . _ - 组成",
            "A login is letters, digits and . _ -",
            "admin_login",
        ));
    }
    invalid_policy(&input.policy)?;
    let password = random_token(12);
    let hash = ctx.hasher.hash(&password).await;
    let mut tx = ctx.store.write_tx().await?;
    let new = NewSchool { code, name, name_en, region, policy: &input.policy };
    let id = match ctx.store.insert_school(&mut tx, &new).await {
        Ok(id) => id,
        Err(StoreError::Conflict(_)) => {
            return Err(Error::new(ErrorKind::Conflict, "code_taken", "该学校代码已被使用", "That school code is taken").field("code"));
        }
        Err(e) => return Err(e.into()),
    };
    let admin = NewStaff {
        school_id: Some(id),
        login: admin_login,
        name: "校管理员",
        role: Role::SchoolAdmin.as_str(),
        password_hash: &hash,
        must_change_password: true,
    };
    ctx.store.insert_staff(&mut tx, &admin).await?;
    let subject = format!("school:{code}");
    let after = serde_json::json!({"id": id, "code": code, "name": name, "region": region, "policy": input.policy, "admin": admin_login});
    audit(
        ctx,
        &mut tx,
        staff,
        client,
        &Audited { action: AuditAction::SchoolCreated, subject: &subject, before: None, after: Some(after) },
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedSchool { id, admin_login: admin_login.to_string(), admin_password: password })
}

/// Every school (`manage_platform`).
pub async fn list(ctx: &Context, staff: &Staff) -> Result<Vec<School>, Error> {
    staff.require(Permission::ManagePlatform)?;
    Ok(ctx.store.schools().await?)
}

/// The staff member's school with its policy (`manage_school`).
pub async fn own(ctx: &Context, staff: &Staff) -> Result<School, Error> {
    staff.require(Permission::ManageSchool)?;
    ctx.store.school_by_id(staff.school()?).await?.ok_or_else(Error::unknown_school)
}

/// Replaces the school's policy after checking all of it (`manage_school`).
pub async fn update_policy(ctx: &Context, staff: &Staff, client: &Client, policy: SchoolPolicy) -> Result<(), Error> {
    staff.require(Permission::ManageSchool)?;
    invalid_policy(&policy)?;
    let school = own(ctx, staff).await?;
    if school.policy == policy {
        return Ok(());
    }
    let mut tx = ctx.store.write_tx().await?;
    ctx.store.update_policy(&mut tx, school.id, &policy).await?;
    let subject = format!("school:{}", school.code);
    let what = Audited {
        action: AuditAction::SchoolPolicyChanged,
        subject: &subject,
        before: Some(serde_json::json!(school.policy)),
        after: Some(serde_json::json!(policy)),
    };
    audit(ctx, &mut tx, staff, client, &what).await?;
    tx.commit().await?;
    // This instance's students see the new policy at once; other instances within `KEPT`.
    ctx.schools.forget(school.id);
    Ok(())
}
