//! Logging in, sessions and passwords.
//!
//! Throttling reads the security log in the database, so limits hold across instances:
//! after `CAPTCHA_AFTER` failures an account needs a captcha even where the school has it off;
//! after `LOCK_AT` it is locked for `LOCK_S`; one address may fail `IP_LIMIT` times per window.
//! With at most `LOCK_AT` failures per `WINDOW_S`, an account sees at most 40 failed attempts
//! an hour, well under OWASP ASVS 2.2.1's 100.

use crate::Client;
use crate::Context;
use crate::crypto::{random_token, sha256_hex};
use crate::error::Error;
use crate::error::ErrorKind;
use campuspay_domain::password::{self, PasswordContext};
use campuspay_domain::policy::LoginId;
use campuspay_store::db_now as now;
use campuspay_store::schools::School;
use campuspay_store::security::{NewSecurityEvent, event};
use campuspay_store::sessions::SessionRow;
use campuspay_store::students::Student;

pub const WINDOW_S: i64 = 15 * 60;
pub const CAPTCHA_AFTER: usize = 3;
pub const LOCK_AT: usize = 10;
pub const LOCK_S: i64 = 15 * 60;
pub const IP_LIMIT: i64 = 50;
pub const MAX_LOGIN_LEN: usize = 32;
pub const MAX_PASSWORD_LEN: usize = 128;

pub struct LoginInput<'a> {
    pub school: &'a str,
    pub login: &'a str,
    pub password: &'a str,
    pub captcha_id: Option<&'a str>,
    pub captcha: Option<&'a str>,
}

pub struct LoginOutcome {
    pub token: String,
    pub must_change_password: bool,
    pub session: SessionRow,
}

pub fn password_change_required() -> Error {
    Error::new(
        ErrorKind::Forbidden,
        "password_change_required",
        "为了账户安全，请先修改初始密码或弱密码",
        "For your account's safety, please change your initial or weak password first",
    )
}

fn invalid_credentials() -> Error {
    Error::new(ErrorKind::Unauthenticated, "invalid_credentials", "学号或密码有误", "Wrong student number or password")
}

/// Whether the next login of this account must carry a captcha.
pub async fn captcha_needed(ctx: &Context, school: &School, login: &str) -> Result<bool, Error> {
    if school.policy.captcha {
        return Ok(true);
    }
    let failures = ctx.store.login_failures(school.id, login, now() - WINDOW_S).await?;
    Ok(failures.len() >= CAPTCHA_AFTER)
}

pub async fn login(ctx: &Context, input: &LoginInput<'_>, client: &Client) -> Result<LoginOutcome, Error> {
    let login = input.login.trim();
    if login.is_empty() || input.password.is_empty() {
        return Err(Error::bad_request("请输入学号和密码", "Enter your student number and password"));
    }
    if login.chars().count() > MAX_LOGIN_LEN || input.password.len() > MAX_PASSWORD_LEN {
        return Err(invalid_credentials());
    }
    let school = ctx.store.school_by_code(input.school).await?.ok_or_else(Error::unknown_school)?;
    let t = now();

    if ctx.store.ip_failures(&client.ip, t - WINDOW_S).await? >= IP_LIMIT {
        return Err(Error::new(
            ErrorKind::TooManyRequests,
            "too_many_attempts",
            "登录失败次数过多，请15分钟后再试",
            "Too many failed logins from your network; try again in 15 minutes",
        ));
    }
    let failures = ctx.store.login_failures(school.id, login, t - WINDOW_S).await?;
    // ASVS 2.2.1: never more than 100 failed attempts (logins and recoveries) per account per
    // hour, whatever the window above allows.
    let hourly = ctx.store.login_failures(school.id, login, t - 3600).await?.len()
        + ctx.store.login_events(school.id, login, event::RECOVERY_FAILED, t - 3600).await?.len();
    if hourly >= crate::student::recovery::HOURLY_CEILING {
        let at = campuspay_domain::time::format_shanghai(t + 3600);
        return Err(Error::new(
            ErrorKind::Locked,
            "account_locked",
            format!("失败次数过多，账户已临时锁定，请于 {at} 后再试，或联系学校财务处"),
            format!("Too many failed attempts: the account is locked until {at} (Beijing time)"),
        ));
    }
    if failures.len() >= LOCK_AT {
        let until = failures[0] + LOCK_S;
        let at = campuspay_domain::time::format_shanghai(until);
        return Err(Error::new(
            ErrorKind::Locked,
            "account_locked",
            format!("登录失败次数过多，账户已临时锁定，请于 {at} 后再试，或联系学校财务处"),
            format!("Too many failed logins: the account is locked until {at} (Beijing time)"),
        ));
    }
    if school.policy.captcha || failures.len() >= CAPTCHA_AFTER {
        let (id, answer) = (input.captcha_id.unwrap_or(""), input.captcha.unwrap_or(""));
        if id.is_empty() || answer.trim().is_empty() {
            return Err(Error::new(ErrorKind::Unauthenticated, "captcha_required", "请输入验证码", "Enter the captcha").field("captcha"));
        }
        if !crate::student::captcha::check(ctx, id, answer).await? {
            return Err(
                Error::new(ErrorKind::Unauthenticated, "captcha_invalid", "验证码错误", "Wrong or expired captcha").field("captcha")
            );
        }
    }

    let by_phone = school.policy.login_ids.contains(&LoginId::Phone);
    let student = ctx.store.student_for_login(school.id, login, by_phone).await?;
    let initial = student.as_ref().map(|s| school.policy.initial_password.for_id_card(&s.id_card));
    let ok = match &student {
        Some(s) if s.password_hash.is_some() => ctx.hasher.verify(input.password, s.password_hash.as_deref()).await,
        Some(_) => {
            // The initial password is derived, not hashed; burn a hash's time all the same.
            let _ = ctx.hasher.verify(input.password, None).await;
            initial.as_deref().is_some_and(|i| crate::crypto::constant_time_eq(i.as_bytes(), input.password.as_bytes()))
        }
        None => ctx.hasher.verify(input.password, None).await,
    };
    let student_id = student.as_ref().map(|s| s.id);
    let ev = |kind| NewSecurityEvent { school_id: school.id, student_id, login, kind, ip: &client.ip, user_agent: &client.user_agent };
    if !ok {
        ctx.store.write(async |tx| ctx.store.record_security_event(tx, &ev(event::LOGIN_FAILED)).await).await?;
        if failures.len() + 1 >= LOCK_AT {
            ctx.store.write(async |tx| ctx.store.record_security_event(tx, &ev(event::LOCKED_OUT)).await).await?;
        }
        return Err(invalid_credentials());
    }
    let student = student.expect("a verified login has a student");
    let uses_initial = student.password_hash.is_none();
    let must_change = student.force_password_change
        || (uses_initial && school.policy.force_change_initial)
        || (school.policy.force_change_weak && password::is_weak(input.password, &context(&student, initial.as_deref().unwrap_or(""))));
    ctx.store.write(async |tx| ctx.store.record_security_event(tx, &ev(event::LOGIN_OK)).await).await?;
    let (token, session) = new_session(ctx, &school, &student, must_change, client).await?;
    Ok(LoginOutcome { token, must_change_password: must_change, session })
}

fn context<'a>(s: &'a Student, initial: &'a str) -> PasswordContext<'a> {
    PasswordContext { student_no: &s.student_no, id_card: &s.id_card, initial_password: initial }
}

/// A fresh session id at every login (no fixation); only its hash is stored.
async fn new_session(
    ctx: &Context,
    school: &School,
    student: &Student,
    must_change: bool,
    client: &Client,
) -> Result<(String, SessionRow), Error> {
    let token = random_token(32);
    let t = now();
    let row = SessionRow {
        token_hash: sha256_hex(token.as_bytes()),
        school_id: school.id,
        student_id: student.id,
        csrf_token: random_token(24),
        must_change_password: must_change,
        created_at: t,
        last_seen_at: t,
        idle_timeout_s: i64::from(school.policy.session_idle_minutes) * 60,
        expires_at: t + i64::from(school.policy.session_absolute_hours) * 3600,
        user_agent: client.user_agent.chars().take(300).collect(),
        ip: client.ip.clone(),
    };
    ctx.store.insert_session(&row).await?;
    Ok((token, row))
}

pub async fn resolve_session(ctx: &Context, token: &str) -> Result<SessionRow, Error> {
    let expired = || {
        Error::new(ErrorKind::Unauthenticated, "session_expired", "登录已过期，请重新登录", "Your session has ended; please log in again")
    };
    if token.is_empty() || token.len() > 100 {
        return Err(expired());
    }
    let hash = sha256_hex(token.as_bytes());
    let s = ctx.store.open_session(&hash).await?.ok_or_else(expired)?;
    let t = now();
    if !s.is_live_at(t) {
        ctx.store.end_session(&hash).await?;
        return Err(expired());
    }
    // Writing on every request would make each page view a SQLite write transaction (one
    // writer at a time): only a `last_seen_at` a minute old is refreshed, which is all the
    // idle timeout needs (see `TOUCH_EVERY_S` for the granularity this gives it).
    if s.needs_touch_at(t) {
        ctx.store.touch_session(&hash, t).await?;
    }
    Ok(s)
}

pub async fn logout(ctx: &Context, session: &SessionRow, client: &Client) -> Result<(), Error> {
    ctx.store.end_session(&session.token_hash).await?;
    ctx.store
        .write(async |tx| {
            ctx.store
                .record_security_event(
                    tx,
                    &NewSecurityEvent {
                        school_id: session.school_id,
                        student_id: Some(session.student_id),
                        login: "",
                        kind: event::LOGOUT,
                        ip: &client.ip,
                        user_agent: &client.user_agent,
                    },
                )
                .await
        })
        .await?;
    Ok(())
}

/// 退出其他设备: ends every other session of the student, and logs it. Returns how many ended.
pub async fn end_other_sessions(ctx: &Context, session: &SessionRow, client: &Client) -> Result<u64, Error> {
    let ended = ctx.store.end_other_sessions(session.school_id, session.student_id, &session.token_hash).await?;
    let event = NewSecurityEvent {
        school_id: session.school_id,
        student_id: Some(session.student_id),
        login: "",
        kind: event::SESSIONS_ENDED,
        ip: &client.ip,
        user_agent: &client.user_agent,
    };
    ctx.store.write(async |tx| ctx.store.record_security_event(tx, &event).await).await?;
    Ok(ended)
}

pub struct PasswordChange<'a> {
    pub old: &'a str,
    pub new: &'a str,
    /// Pages ask for the new password twice; the API may leave it out.
    pub confirm: Option<&'a str>,
}

/// Changes the password and ends every other session of the student.
pub async fn change_password(ctx: &Context, session: &SessionRow, change: &PasswordChange<'_>, client: &Client) -> Result<(), Error> {
    let unprocessable = |code, zh: &str, en: &str, field| Error::new(ErrorKind::Refused, code, zh, en).field(field);
    if change.old.is_empty() {
        return Err(unprocessable("old_password_required", "请输入旧密码", "Enter your current password", "old_password"));
    }
    if let Some(c) = change.confirm
        && c != change.new
    {
        return Err(unprocessable("password_mismatch", "新密码与确认密码要求一致", "The two new passwords differ", "confirm_password"));
    }
    let school = ctx.store.school_by_id(session.school_id).await?.ok_or_else(Error::unknown_school)?;
    let student = ctx.store.student(session.school_id, session.student_id).await?.ok_or_else(Error::unauthorized)?;
    let initial = school.policy.initial_password.for_id_card(&student.id_card);
    let old_ok = match &student.password_hash {
        Some(h) => change.old.len() <= MAX_PASSWORD_LEN && ctx.hasher.verify(change.old, Some(h)).await,
        None => crate::crypto::constant_time_eq(initial.as_bytes(), change.old.as_bytes()),
    };
    if !old_ok {
        return Err(unprocessable("old_password_wrong", "旧密码有误", "The current password is wrong", "old_password"));
    }
    if change.new == change.old {
        return Err(unprocessable(
            "password_unchanged",
            "新密码不能与旧密码相同",
            "The new password must differ from the current one",
            "new_password",
        ));
    }
    password::check_new(change.new, &context(&student, &initial))
        .map_err(|r| Error::new(ErrorKind::Refused, "weak_password", r.to_string(), r.message_en()).field("new_password"))?;
    let hash = ctx.hasher.hash(change.new).await;
    ctx.store
        .write(async |tx| ctx.store.set_password(tx, session.school_id, session.student_id, &hash, Some(&session.token_hash)).await)
        .await?;
    ctx.store
        .write(async |tx| {
            ctx.store
                .record_security_event(
                    tx,
                    &NewSecurityEvent {
                        school_id: session.school_id,
                        student_id: Some(session.student_id),
                        login: &student.student_no,
                        kind: event::PASSWORD_CHANGED,
                        ip: &client.ip,
                        user_agent: &client.user_agent,
                    },
                )
                .await
        })
        .await?;
    Ok(())
}
