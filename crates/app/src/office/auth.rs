//! Staff logins and sessions.
//!
//! Staff are not students: their own table, argon2id passwords like students', their own
//! sessions (30 minutes idle, 12 hours at most: an office PC is shared), and throttling that
//! reserves each attempt before the password is checked (`store::throttle`), so no number of
//! concurrent requests or instances checks more than `LOCK_AT` passwords of one account in a
//! window, nor more than `IP_LIMIT` from one address.

use super::{Audited, Staff, audit};
use crate::crypto::{random_token, sha256_hex};
use crate::{Client, Context, Error, ErrorKind};
use campuspay_domain::office::{AuditAction, Permission, Role};
use campuspay_store::StoreError;
use campuspay_store::db_now as now;
use campuspay_store::staff::{NewStaff, StaffRow, StaffSessionRow};
use campuspay_store::throttle::Reservation;

pub const WINDOW_S: i64 = 15 * 60;
/// Wrong passwords of one account in a window before it is locked until the window ends.
pub const LOCK_AT: i64 = 10;
/// Attempts from one address in a window (a finance office is a handful of people).
pub const IP_LIMIT: i64 = 100;
pub const IDLE_TIMEOUT_S: i64 = 30 * 60;
pub const ABSOLUTE_TIMEOUT_S: i64 = 12 * 3600;
/// Activity is recorded at most this often, so reading pages writes nothing.
pub const TOUCH_EVERY_S: i64 = 60;
/// The `school` a platform operator logs in with.
pub const PLATFORM: &str = "platform";

pub struct StaffLoginInput<'a> {
    /// The school's code, or [`PLATFORM`] for the platform's operators.
    pub school: &'a str,
    pub login: &'a str,
    pub password: &'a str,
    /// The authenticator app's code, for staff with a second factor.
    pub totp: Option<&'a str>,
}

pub struct StaffLogin {
    pub token: String,
    pub staff: Staff,
    pub session: StaffSessionRow,
}

fn invalid_credentials() -> Error {
    Error::new(ErrorKind::Unauthenticated, "invalid_credentials", "账号或密码有误", "Wrong login or password")
}

fn expired() -> Error {
    Error::new(ErrorKind::Unauthenticated, "session_expired", "登录已过期，请重新登录", "Your session has ended; please log in again")
}

/// The staff member a row describes; a role the domain does not know is an error, never a
/// default (a row edited by hand must not become an accountant).
pub fn staff_of(row: &StaffRow) -> Result<Staff, Error> {
    let role: Role = row.role.parse().map_err(|e| {
        tracing::error!(error = %e, staff = row.id, "staff row with an unknown role");
        Error::internal()
    })?;
    Ok(Staff {
        id: row.id,
        school_id: row.school_id,
        login: row.login.clone(),
        name: row.name.clone(),
        role,
        must_change_password: row.must_change_password,
        must_enrol_totp: false,
    })
}

/// Whether the school's policy asks this staff member for a second factor they have not set up.
async fn owes_totp(ctx: &Context, row: &StaffRow, staff: &Staff) -> Result<bool, Error> {
    if row.totp_secret.is_some() || !staff.role.moves_money() {
        return Ok(false);
    }
    let Some(school_id) = staff.school_id else { return Ok(false) };
    Ok(ctx.store.school_by_id(school_id).await?.is_some_and(|s| s.policy.staff_totp_required))
}

/// The school id a login names: `None` for the platform.
async fn scope_of(ctx: &Context, school: &str) -> Result<Option<Option<i64>>, Error> {
    if school == PLATFORM {
        return Ok(Some(None));
    }
    Ok(ctx.store.school_by_code(school).await?.map(|s| Some(s.id)))
}

fn locked(retry_after_s: i64) -> Error {
    Error::new(
        ErrorKind::Locked,
        "account_locked",
        format!("密码错误次数过多，账号已锁定，请{}分钟后再试", (retry_after_s + 59) / 60),
        format!("Too many wrong passwords; the account is locked for {} more minutes", (retry_after_s + 59) / 60),
    )
}

#[tracing::instrument(name = "staff_login", skip_all, fields(school = input.school))]
pub async fn login(ctx: &Context, input: &StaffLoginInput<'_>, client: &Client) -> Result<StaffLogin, Error> {
    if input.login.is_empty() || input.login.len() > 64 || input.password.is_empty() || input.password.len() > 128 {
        return Err(invalid_credentials());
    }
    let t = now();
    if let Reservation::Refused { .. } = ctx.store.reserve_attempt(&format!("staff-ip:{}", client.ip), IP_LIMIT, WINDOW_S, t).await? {
        return Err(Error::new(
            ErrorKind::TooManyRequests,
            "too_many_requests",
            "请求过于频繁，请15分钟后再试",
            "Too many attempts; try again in 15 minutes",
        ));
    }
    // Unknown schools and logins are throttled and timed like known ones.
    let scope = scope_of(ctx, input.school).await?;
    let key = format!("staff:{}:{}", input.school, input.login);
    if let Reservation::Refused { retry_after_s } = ctx.store.reserve_attempt(&key, LOCK_AT, WINDOW_S, t).await? {
        return Err(locked(retry_after_s));
    }
    let row = match scope {
        Some(school_id) => ctx.store.staff_by_login(school_id, input.login).await?,
        None => None,
    };
    let usable = row.as_ref().filter(|r| !r.disabled);
    let ok = ctx.hasher.verify(input.password, usable.map(|r| r.password_hash.as_str())).await;
    let Some(row) = usable.filter(|_| ok) else {
        return Err(invalid_credentials());
    };
    // The second factor, when set up: the attempt stays counted until it is right too.
    let step = match &row.totp_secret {
        Some(secret) => {
            let code = input.totp.map(str::trim).filter(|c| !c.is_empty()).ok_or_else(super::totp::totp_required)?;
            Some(super::totp::matching_step(secret, code, ctx.clock.now()).ok_or_else(super::totp::totp_invalid)?)
        }
        None => None,
    };
    let mut staff = staff_of(row)?;
    staff.must_enrol_totp = owes_totp(ctx, row, &staff).await?;
    let token = random_token(32);
    let session = StaffSessionRow {
        token_hash: sha256_hex(token.as_bytes()),
        staff_id: staff.id,
        csrf_token: random_token(24),
        created_at: t,
        last_seen_at: t,
        idle_timeout_s: IDLE_TIMEOUT_S,
        expires_at: t + ABSOLUTE_TIMEOUT_S,
        ip: client.ip.clone(),
        user_agent: client.user_agent.clone(),
    };
    let mut tx = ctx.store.write_tx().await?;
    // One code logs in once, however many requests carry it.
    if let Some(step) = step
        && !ctx.store.use_totp_step(&mut tx, staff.id, step).await?
    {
        return Err(super::totp::totp_invalid());
    }
    ctx.store.insert_staff_session(&mut tx, &session).await?;
    let subject = format!("staff:{}", staff.login);
    audit(ctx, &mut tx, &staff, client, &Audited { action: AuditAction::StaffLogin, subject: &subject, before: None, after: None }).await?;
    tx.commit().await?;
    ctx.store.clear_attempts(&key).await?;
    Ok(StaffLogin { token, staff, session })
}

/// The staff member of a live session.
pub async fn resolve(ctx: &Context, token: &str) -> Result<(Staff, StaffSessionRow), Error> {
    if token.is_empty() || token.len() > 100 {
        return Err(expired());
    }
    let hash = sha256_hex(token.as_bytes());
    let session = ctx.store.staff_session(&hash).await?.ok_or_else(expired)?;
    let t = now();
    if !session.is_live_at(t) {
        let mut tx = ctx.store.write_tx().await?;
        ctx.store.end_staff_session(&mut tx, &hash).await?;
        tx.commit().await?;
        return Err(expired());
    }
    let row = ctx.store.staff_by_id(session.staff_id).await?.ok_or_else(expired)?;
    if row.disabled {
        return Err(expired());
    }
    if t - session.last_seen_at >= TOUCH_EVERY_S {
        ctx.store.touch_staff_session(&hash, t).await?;
    }
    let mut staff = staff_of(&row)?;
    staff.must_enrol_totp = owes_totp(ctx, &row, &staff).await?;
    Ok((staff, session))
}

pub async fn logout(ctx: &Context, staff: &Staff, session: &StaffSessionRow, client: &Client) -> Result<(), Error> {
    let mut tx = ctx.store.write_tx().await?;
    ctx.store.end_staff_session(&mut tx, &session.token_hash).await?;
    let subject = format!("staff:{}", staff.login);
    audit(ctx, &mut tx, staff, client, &Audited { action: AuditAction::StaffLogout, subject: &subject, before: None, after: None }).await?;
    tx.commit().await?;
    Ok(())
}

/// Adds a staff member with a one-time password, which is returned once and must be changed
/// at first login. `by` is the acting staff member, or `None` for `campuspay staff add` run on
/// the server itself (the operator of the machine).
pub async fn add_staff(
    ctx: &Context,
    by: Option<(&Staff, &Client)>,
    school: &str,
    login: &str,
    name: &str,
    role: Role,
) -> Result<(i64, String), Error> {
    if let Some((actor, _)) = by {
        actor.require(Permission::ManageStaff)?;
        // A school's admin adds staff to their own school only, and never a platform operator.
        if role == Role::PlatformAdmin {
            return Err(Error::new(ErrorKind::Forbidden, "forbidden", "不能添加平台管理员", "You cannot add platform operators"));
        }
    }
    let valid_login = !login.is_empty() && login.len() <= 64 && login.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !valid_login {
        return Err(Error::new(
            ErrorKind::Refused,
            "invalid_login",
            "账号只能由字母、数字和 . _ - 组成",
            "A login is letters, digits and . _ -",
        )
        .field("login"));
    }
    let school_id = match (scope_of(ctx, school).await?, role) {
        (Some(None), Role::PlatformAdmin) => None,
        (Some(Some(id)), r) if r != Role::PlatformAdmin => Some(id),
        (None, _) => return Err(Error::unknown_school()),
        _ => {
            return Err(Error::new(
                ErrorKind::Refused,
                "invalid_role",
                "平台管理员不属于学校，学校人员不能是平台管理员",
                "Platform operators belong to no school, and a school's staff cannot be one",
            ));
        }
    };
    if let Some((actor, _)) = by
        && actor.school_id != school_id
    {
        return Err(Error::not_found());
    }
    let password = random_token(12);
    let hash = ctx.hasher.hash(&password).await;
    let new = NewStaff { school_id, login, name, role: role.as_str(), password_hash: &hash, must_change_password: true };
    let mut tx = ctx.store.write_tx().await?;
    let id = match ctx.store.insert_staff(&mut tx, &new).await {
        Ok(id) => id,
        Err(StoreError::Conflict(_)) => {
            return Err(Error::new(ErrorKind::Conflict, "login_taken", "该账号已存在", "That login is taken").field("login"));
        }
        Err(e) => return Err(e.into()),
    };
    let subject = format!("staff:{login}");
    let after = serde_json::json!({"login": login, "name": name, "role": role.as_str()});
    match by {
        Some((actor, client)) => {
            let what = Audited { action: AuditAction::StaffAdded, subject: &subject, before: None, after: Some(after) };
            audit(ctx, &mut tx, actor, client, &what).await?;
        }
        // The machine's operator, at the command line.
        None => ctx.store.audit(&mut tx, school_id, "cli", AuditAction::StaffAdded.as_str(), &after.to_string()).await?,
    }
    tx.commit().await?;
    Ok((id, password))
}

/// Changes the staff member's own password (the one-time password first of all); every other
/// session of theirs ends.
pub async fn change_password(
    ctx: &Context,
    staff: &Staff,
    session: &StaffSessionRow,
    old: &str,
    new: &str,
    client: &Client,
) -> Result<(), Error> {
    let row = ctx.store.staff_by_id(staff.id).await?.ok_or_else(expired)?;
    if !ctx.hasher.verify(old, Some(&row.password_hash)).await {
        return Err(Error::new(ErrorKind::Refused, "password_wrong", "原密码有误", "Wrong current password").field("old_password"));
    }
    if old == new {
        return Err(Error::new(
            ErrorKind::Refused,
            "weak_password",
            "新密码不能与原密码相同",
            "The new password must differ from the old one",
        )
        .field("new_password"));
    }
    let rules = campuspay_domain::password::PasswordContext { student_no: &staff.login, id_card: "", initial_password: old };
    campuspay_domain::password::check_new(new, &rules)
        .map_err(|r| Error::new(ErrorKind::Refused, "weak_password", r.to_string(), r.message_en()).field("new_password"))?;
    let hash = ctx.hasher.hash(new).await;
    let mut tx = ctx.store.write_tx().await?;
    ctx.store.set_staff_password(&mut tx, staff.id, &hash, &session.token_hash).await?;
    let subject = format!("staff:{}", staff.login);
    let what = Audited { action: AuditAction::StaffPasswordChanged, subject: &subject, before: None, after: None };
    audit(ctx, &mut tx, staff, client, &what).await?;
    tx.commit().await?;
    Ok(())
}

/// Refused to a staff member who must first replace a one-time password.
/// The school requires a second factor of this role: set it up first.
pub fn totp_enrolment_required() -> Error {
    Error::new(
        ErrorKind::Forbidden,
        "totp_enrolment_required",
        "学校要求收费和财务人员使用动态验证码，请先完成设置",
        "Your school requires a second factor for your role; set it up first",
    )
}

pub fn password_change_required() -> Error {
    Error::new(ErrorKind::Forbidden, "password_change_required", "请先修改初始密码", "Please change your one-time password first")
}

/// The school's staff (`manage_staff`).
pub async fn staff_list(ctx: &Context, staff: &Staff) -> Result<Vec<StaffRow>, Error> {
    staff.require(Permission::ManageStaff)?;
    Ok(ctx.store.staff_of_school(staff.school()?).await?)
}
