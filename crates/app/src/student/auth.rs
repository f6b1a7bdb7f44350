//! Logging in, sessions and passwords.
//!
//! Throttling counts the security log in the database plus the attempts in flight
//! (`super::throttle`), so limits hold under any concurrency and across instances. Failures
//! count per student, however the login was typed: after `CAPTCHA_AFTER` an account needs a
//! captcha even where the school has it off; after `LOCK_AT` it is locked for `LOCK_S`. An
//! address that failed `IP_LIMIT` times in a window needs a captcha and is slowed down, but a
//! right password still logs in: a whole campus may share one address.
//! With at most `LOCK_AT` failures per `WINDOW_S`, an account sees at most 40 failed attempts
//! an hour, well under OWASP ASVS 2.2.1's 100.

use super::throttle::Held;
use crate::Client;
use crate::Context;
use crate::crypto::{Place, random_token, sha256_hex};
use crate::error::Error;
use crate::error::ErrorKind;
use campuspay_domain::password::{self, PasswordContext};
use campuspay_domain::policy::LoginId;
use campuspay_store::db_now as now;
use campuspay_store::schools::School;
use campuspay_store::security::{NewSecurityEvent, Subject, event};
use campuspay_store::sessions::SessionRow;
use campuspay_store::students::Student;
use std::time::Duration;

pub const WINDOW_S: i64 = 15 * 60;
pub const CAPTCHA_AFTER: usize = 3;
pub const LOCK_AT: usize = 10;
pub const LOCK_S: i64 = 15 * 60;
/// Failures from one address per window before its logins need a captcha and slow down.
pub const IP_LIMIT: i64 = 50;
/// The pause of a login from an address over `IP_LIMIT`: enough to make guessing slow, short
/// enough for a student behind the same NAT.
pub const SLOW_DOWN: Duration = Duration::from_secs(1);
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

fn captcha_required() -> Error {
    Error::new(ErrorKind::Unauthenticated, "captcha_required", "请输入验证码", "Enter the captcha").field("captcha")
}

fn invalid_credentials() -> Error {
    Error::new(ErrorKind::Unauthenticated, "invalid_credentials", "学号或密码有误", "Wrong student number or password")
}

/// Whose failures a login counts: the student's whatever was typed (student number or phone,
/// issue 13 item 4), or what was typed when it names no student.
fn subject<'a>(student: Option<&'a Student>, login: &'a str) -> Subject<'a> {
    match student {
        Some(s) => Subject::Student { id: s.id, student_no: &s.student_no },
        None => Subject::Login(login),
    }
}

fn account_key(school: &School, who: Subject<'_>) -> String {
    match who {
        Subject::Student { id, .. } => format!("login:{}:{id}", school.id),
        Subject::Login(l) => format!("login:{}:?{l}", school.id),
    }
}

/// Whether the next login of this account must carry a captcha (for pages to show one).
pub async fn captcha_needed(ctx: &Context, school: &School, login: &str) -> Result<bool, Error> {
    if school.policy.captcha {
        return Ok(true);
    }
    let login = login.trim();
    let by_phone = school.policy.login_ids.contains(&LoginId::Phone);
    let student = ctx.store.student_for_login(school.id, login, by_phone).await?;
    let failures = ctx.store.account_events_now(school.id, subject(student.as_ref(), login), event::LOGIN_FAILED, now() - WINDOW_S).await?;
    Ok(failures.len() >= CAPTCHA_AFTER)
}

fn locked_until(until: i64) -> Error {
    let at = campuspay_domain::time::format_shanghai(until);
    Error::new(
        ErrorKind::Locked,
        "account_locked",
        format!("登录失败次数过多，账户已临时锁定，请于 {at} 后再试，或联系学校财务处"),
        format!("Too many failed logins: the account is locked until {at} (Beijing time)"),
    )
}

/// What the limits say about one attempt, decided while it is held.
struct Gate {
    held: Held,
    captcha_due: bool,
    /// The address has failed too often: a captcha and a pause, never a refusal (a whole
    /// campus may share one address).
    slow_down: bool,
}

/// Holds the attempt on the address and the account, and applies the limits to the failures
/// recorded plus the attempts in flight.
async fn gate(ctx: &Context, school: &School, who: Subject<'_>, input: &LoginInput<'_>, client: &Client) -> Result<Gate, Error> {
    let t = now();
    let mut tx = ctx.store.write_tx().await?;
    let keys = vec![format!("login-ip:{}", client.ip), account_key(school, who)];
    let (held, busy) = Held::take(ctx, &mut tx, keys).await?;
    let (ip_busy, busy) = (busy[0], busy[1] as usize);
    let ip_failed = ctx.store.address_events(&mut tx, &client.ip, &[event::LOGIN_FAILED], t - WINDOW_S).await?;
    let failures = ctx.store.account_events(&mut tx, school.id, who, event::LOGIN_FAILED, t - WINDOW_S).await?;
    // ASVS 2.2.1: never more than 100 failed attempts (logins and recoveries) per account per
    // hour, whatever the window above allows.
    let hourly = ctx.store.account_events(&mut tx, school.id, who, event::LOGIN_FAILED, t - 3600).await?.len()
        + ctx.store.account_events(&mut tx, school.id, who, event::RECOVERY_FAILED, t - 3600).await?.len();
    let refused = if hourly + busy >= crate::student::recovery::HOURLY_CEILING {
        let at = campuspay_domain::time::format_shanghai(t + 3600);
        Some(Error::new(
            ErrorKind::Locked,
            "account_locked",
            format!("失败次数过多，账户已临时锁定，请于 {at} 后再试，或联系学校财务处"),
            format!("Too many failed attempts: the account is locked until {at} (Beijing time)"),
        ))
    } else if failures.len() + busy >= LOCK_AT {
        // Locked until 15 minutes after the last failure (or now, if they are all in flight).
        Some(locked_until(failures.first().copied().unwrap_or(t) + LOCK_S))
    } else {
        None
    };
    let slow_down = ip_failed + ip_busy >= IP_LIMIT;
    let captcha_due = school.policy.captcha || failures.len() + busy >= CAPTCHA_AFTER || slow_down;
    // An attempt without the captcha it owes is refused here, so it never counts as in flight.
    let no_captcha = input.captcha_id.unwrap_or("").is_empty() || input.captcha.unwrap_or("").trim().is_empty();
    let refused = refused.or_else(|| (captcha_due && no_captcha).then(captcha_required));
    if let Some(e) = refused {
        held.release_in(ctx, &mut tx).await?;
        tx.commit().await?;
        return Err(e);
    }
    tx.commit().await?;
    Ok(Gate { held, captcha_due, slow_down })
}

#[tracing::instrument(name = "student_login", skip_all, fields(school = input.school))]
pub async fn login(ctx: &Context, input: &LoginInput<'_>, client: &Client) -> Result<LoginOutcome, Error> {
    let login = input.login.trim();
    if login.is_empty() || input.password.is_empty() {
        return Err(Error::bad_request("请输入学号和密码", "Enter your student number and password"));
    }
    if login.chars().count() > MAX_LOGIN_LEN || input.password.len() > MAX_PASSWORD_LEN {
        return Err(invalid_credentials());
    }
    // The place in the hashing line first: in a flood, a login refused here has cost no query.
    let place = ctx.hasher.place().map_err(|_| busy())?;
    let school = ctx.schools.by_code(&ctx.store, input.school).await?.ok_or_else(Error::unknown_school)?;
    let by_phone = school.policy.login_ids.contains(&LoginId::Phone);
    let student = ctx.store.student_for_login(school.id, login, by_phone).await?;
    let who = subject(student.as_ref(), login);
    let gate = gate(ctx, &school, who, input, client).await?;
    let checked = check(place, ctx, &school, student.as_ref(), input, &gate).await;
    let student_id = student.as_ref().map(|s| s.id);
    let ev = |kind| NewSecurityEvent { school_id: school.id, student_id, login, kind, ip: &client.ip, user_agent: &client.user_agent };
    let ok = match checked {
        Ok(ok) => ok,
        Err(e) => {
            // Nothing was checked (no captcha, or the database failed): only let go.
            gate.held.finish(ctx, &[]).await?;
            return Err(e);
        }
    };
    if !ok {
        let mut tx = ctx.store.write_tx().await?;
        gate.held.release_in(ctx, &mut tx).await?;
        ctx.store.record_security_event(&mut tx, &ev(event::LOGIN_FAILED)).await?;
        // Counted after this failure, in the transaction that let go of it: exactly one
        // failure is the one that locks.
        let failures = ctx.store.account_events(&mut tx, school.id, who, event::LOGIN_FAILED, now() - WINDOW_S).await?;
        if failures.len() == LOCK_AT {
            ctx.store.record_security_event(&mut tx, &ev(event::LOCKED_OUT)).await?;
        }
        tx.commit().await?;
        return Err(invalid_credentials());
    }
    gate.held.finish(ctx, &[ev(event::LOGIN_OK)]).await?;
    let student = student.expect("a verified login has a student");
    let initial = school.policy.initial_password.for_id_card(&student.id_card);
    let uses_initial = student.password_hash.is_none();
    let must_change = student.force_password_change
        || (uses_initial && school.policy.force_change_initial)
        || (school.policy.force_change_weak && password::is_weak(input.password, &context(&student, &initial)));
    let (token, session) = new_session(ctx, &school, &student, must_change, client).await?;
    Ok(LoginOutcome { token, must_change_password: must_change, session })
}

/// The captcha when one is due, then the password; `Ok(false)` is a wrong password.
async fn check(
    place: Place,
    ctx: &Context,
    school: &School,
    student: Option<&Student>,
    input: &LoginInput<'_>,
    gate: &Gate,
) -> Result<bool, Error> {
    if gate.captcha_due {
        let (id, answer) = (input.captcha_id.unwrap_or(""), input.captcha.unwrap_or(""));
        if !crate::student::captcha::check(ctx, id, answer).await? {
            return Err(
                Error::new(ErrorKind::Unauthenticated, "captcha_invalid", "验证码错误", "Wrong or expired captcha").field("captcha")
            );
        }
    }
    let place = if gate.slow_down {
        // A slowed-down address waits out of the line, so it cannot crowd the students out.
        drop(place);
        tokio::time::sleep(SLOW_DOWN).await;
        ctx.hasher.place().map_err(|_| busy())?
    } else {
        place
    };
    let initial = student.map(|s| school.policy.initial_password.for_id_card(&s.id_card));
    Ok(match student {
        Some(s) if s.password_hash.is_some() => place.verify(input.password, s.password_hash.as_deref()).await,
        Some(_) => {
            // The initial password is derived, not hashed; burn a hash's time all the same.
            let _ = place.verify(input.password, None).await;
            initial.as_deref().is_some_and(|i| crate::crypto::constant_time_eq(i.as_bytes(), input.password.as_bytes()))
        }
        None => place.verify(input.password, None).await,
    })
}

/// A login rush beyond what the hashing line holds: nothing was checked or counted, try again.
fn busy() -> Error {
    Error::new(
        ErrorKind::TooManyRequests,
        "busy",
        "当前登录人数较多，请稍等几秒后重试",
        "Many people are logging in; try again in a few seconds",
    )
    .details(serde_json::json!({"retry_after_s": 2}))
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
