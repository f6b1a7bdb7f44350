//! A school's admin keeps the office's accounts: disables one (its sessions end at once) or
//! enables it again, and gives a member who forgot their password a new one-time password.
//! Each is audited in its transaction; a password never is.

use super::{Audited, Staff, audit};
use crate::crypto::random_token;
use crate::{Client, Context, Error, ErrorKind};
use campuspay_domain::office::{AuditAction, Permission, Role};
use campuspay_store::staff::StaffRow;

/// A member of the admin's own school; another school's login is "not found".
async fn member(ctx: &Context, admin: &Staff, login: &str) -> Result<StaffRow, Error> {
    let school = admin.school()?;
    ctx.store
        .staff_by_login(Some(school), login.trim())
        .await?
        .ok_or_else(|| Error::new(ErrorKind::NotFound, "staff_not_found", "本校没有这个账号", "No such staff member at this school"))
}

fn not_oneself(admin: &Staff, row: &StaffRow, zh: &str) -> Result<(), Error> {
    if row.id == admin.id {
        return Err(Error::new(ErrorKind::Refused, "own_account", zh, "Not on your own account"));
    }
    Ok(())
}

/// Disables or enables a staff account (`manage_staff`). The school's last active admin
/// cannot be disabled (nobody could enable anyone again).
pub async fn set_disabled(ctx: &Context, admin: &Staff, client: &Client, login: &str, disabled: bool) -> Result<(), Error> {
    admin.require(Permission::ManageStaff)?;
    let row = member(ctx, admin, login).await?;
    not_oneself(admin, &row, "不能停用或启用自己的账号")?;
    if row.disabled == disabled {
        return Ok(());
    }
    if disabled && row.role == Role::SchoolAdmin.as_str() {
        let others = ctx.store.staff_of_school(admin.school()?).await?;
        let active_admins = others.iter().filter(|s| s.role == Role::SchoolAdmin.as_str() && !s.disabled).count();
        if active_admins <= 1 {
            return Err(Error::new(ErrorKind::Refused, "last_admin", "不能停用本校唯一的校管理员", "The last school admin stays"));
        }
    }
    let mut tx = ctx.store.write_tx().await?;
    ctx.store.set_staff_disabled(&mut tx, row.id, disabled).await?;
    let subject = format!("staff:{}", row.login);
    let action = if disabled { AuditAction::StaffDisabled } else { AuditAction::StaffEnabled };
    let what = Audited {
        action,
        subject: &subject,
        before: Some(serde_json::json!({"disabled": row.disabled})),
        after: Some(serde_json::json!({"disabled": disabled})),
    };
    audit(ctx, &mut tx, admin, client, &what).await?;
    tx.commit().await?;
    Ok(())
}

/// A new one-time password for a member of the school (`manage_staff`), returned once; it must
/// be changed at the next login, and every session of theirs ends now.
pub async fn reset_password(ctx: &Context, admin: &Staff, client: &Client, login: &str) -> Result<String, Error> {
    admin.require(Permission::ManageStaff)?;
    let row = member(ctx, admin, login).await?;
    not_oneself(admin, &row, "请在“修改密码”中修改自己的密码")?;
    let password = random_token(12);
    let hash = ctx.hasher.hash(&password).await;
    let mut tx = ctx.store.write_tx().await?;
    ctx.store.reset_staff_password(&mut tx, row.id, &hash).await?;
    let subject = format!("staff:{}", row.login);
    let what = Audited { action: AuditAction::StaffPasswordReset, subject: &subject, before: None, after: None };
    audit(ctx, &mut tx, admin, client, &what).await?;
    tx.commit().await?;
    Ok(password)
}
