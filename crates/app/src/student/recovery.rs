//! Getting back into an account, by the school's policy: a single-use link to the security
//! e-mail (seed 001), a security question (004), an SMS code (002), or the office's numbers
//! (004). And the student's own security settings: security e-mail and question.
//!
//! Nothing here says whether a student number exists: a request for a link or a code answers
//! the same for every number, a question is shown for every number (a made-up one for unknown
//! numbers and for students without one), and limits count by what was typed, not by who it is.
//!
//! Throttling, like login's, counts the security log plus the steps in flight
//! (`super::recovery_limits`): per address `IP_LIMIT` recovery events per `WINDOW_S`; per
//! account `LOCK_AT` wrong answers/codes lock recovery for `LOCK_S`, a captcha after
//! `CAPTCHA_AFTER`; never more than `HOURLY_CEILING` failures (logins and recoveries) of one
//! account per hour.

use super::recovery_limits::{Guard, guard};
use super::throttle::Held;
use crate::Client;
use crate::Context;
use crate::crypto::{constant_time_eq, random_below, random_token, sha256_hex};
use crate::error::Error;
use crate::error::ErrorKind;
use campuspay_domain::password::{self, PasswordContext};
use campuspay_domain::policy::{LoginId, Recovery};
use campuspay_domain::time;
use campuspay_store::db_now as now;
use campuspay_store::recovery::{NewRecoveryToken, kind};
use campuspay_store::schools::School;
use campuspay_store::security::{NewSecurityEvent, Subject, event};
use campuspay_store::sessions::SessionRow;
use campuspay_store::students::Student;

pub const WINDOW_S: i64 = 15 * 60;
pub const CAPTCHA_AFTER: usize = 3;
pub const LOCK_AT: usize = 5;
pub const LOCK_S: i64 = 15 * 60;
pub const IP_LIMIT: i64 = 30;
/// Link or code requests per student number per window.
pub const REQUESTS_PER_WINDOW: usize = 5;
/// OWASP ASVS 2.2.1: at most 100 failed attempts per account per hour, whatever else allows.
pub const HOURLY_CEILING: usize = 100;
pub const LINK_TTL_S: i64 = 30 * 60;
pub const SMS_TTL_S: i64 = 5 * 60;
pub const SMS_RESEND_S: i64 = 60;
pub const SMS_CODE_ATTEMPTS: i64 = 5;
const MAX_FIELD: usize = 128;

/// The questions a student may choose from (a made-up one is drawn from the same list).
pub const QUESTIONS: &[&str] =
    &["您母亲的姓名是？", "您父亲的姓名是？", "您就读的小学校名是？", "您的出生地是？", "您最喜欢的老师姓什么？", "您第一只宠物的名字是？"];

pub const REQUEST_SENT_ZH: &str = "如果该学号已设置密保邮箱，我们已向密保邮箱发送了重置密码的链接，30分钟内有效，仅能使用一次。";
pub const REQUEST_SENT_EN: &str =
    "If this student number has a security e-mail, a reset link has been sent to it. It works once, within 30 minutes.";
pub const SMS_SENT_ZH: &str = "如果该学号已登记手机号，验证码已发送到该手机，5分钟内有效。";
pub const SMS_SENT_EN: &str = "If this student number has a registered phone, a code has been sent to it; it works for 5 minutes.";

fn err(status: ErrorKind, code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> Error {
    Error::new(status, code, zh, en)
}

fn not_offered() -> Error {
    err(
        ErrorKind::NotFound,
        "recovery_not_offered",
        "本校不提供此找回密码方式",
        "Your school does not offer this way to recover a password",
    )
}

fn invalid_link() -> Error {
    err(
        ErrorKind::Invalid,
        "invalid_token",
        "链接无效或已过期，请重新找回密码",
        "This link is invalid, used or expired; please start again",
    )
}

fn invalid_code() -> Error {
    err(ErrorKind::Refused, "invalid_code", "验证码错误或已过期", "Wrong or expired code").field("code")
}

fn wrong_answer() -> Error {
    err(ErrorKind::Refused, "wrong_answer", "密保答案错误", "Wrong answer").field("answer")
}

/// What the school offers, for pages and `/api/v1/recovery/methods`.
pub struct Methods {
    pub email: bool,
    pub question: bool,
    pub sms: Option<u32>,
    pub contact: Option<String>,
}

pub fn methods(school: &School) -> Methods {
    let p = &school.policy;
    Methods {
        email: p.recovery.contains(&Recovery::Email),
        question: p.recovery.contains(&Recovery::SecurityQuestion),
        sms: p.recovery.iter().find_map(|r| match r {
            Recovery::Sms { daily_limit } => Some(*daily_limit),
            _ => None,
        }),
        contact: office_contact(p),
    }
}

/// "Contact the office" as one line with its numbers once: the school's text, and its numbers
/// (`policy.contact`) after it unless the text already gives every one of them (lut's text
/// does; qdou's says 联系…办公室 and the number is only in `contact`).
pub fn office_contact(p: &campuspay_domain::policy::SchoolPolicy) -> Option<String> {
    let text = p.contact_office_text()?;
    let numbers = |s: &str| -> Vec<String> {
        s.split(|c: char| !c.is_ascii_digit() && c != '-')
            .filter(|n| n.chars().filter(char::is_ascii_digit).count() >= 5)
            .map(str::to_string)
            .collect()
    };
    let given = numbers(text);
    let missing = numbers(&p.contact).iter().any(|n| !given.contains(n));
    Some(if p.contact.is_empty() || !missing { text.to_string() } else { format!("{text}（{}）", p.contact) })
}

pub async fn school(ctx: &Context, code: &str) -> Result<School, Error> {
    ctx.store.school_by_code(code).await?.ok_or_else(Error::unknown_school)
}

fn clean_login(login: &str) -> Result<&str, Error> {
    let login = login.trim();
    if login.is_empty() {
        return Err(Error::bad_request("请输入学号", "Enter your student number").field("login"));
    }
    if login.chars().count() > crate::student::auth::MAX_LOGIN_LEN {
        return Err(Error::bad_request("学号有误", "Invalid student number").field("login"));
    }
    Ok(login)
}

pub struct Captcha<'a> {
    pub id: Option<&'a str>,
    pub answer: Option<&'a str>,
}

/// Whether the next recovery step of this login needs a captcha (for pages to show one).
pub async fn captcha_needed(ctx: &Context, school: &School, login: &str) -> Result<bool, Error> {
    if school.policy.captcha {
        return Ok(true);
    }
    let f = ctx.store.login_events(school.id, login.trim(), event::RECOVERY_FAILED, now() - WINDOW_S).await?;
    Ok(f.len() >= CAPTCHA_AFTER)
}

async fn record(ctx: &Context, school: &School, student_id: Option<i64>, login: &str, kind: &str, client: &Client) -> Result<(), Error> {
    ctx.store
        .write(async |tx| {
            ctx.store
                .record_security_event(
                    tx,
                    &NewSecurityEvent { school_id: school.id, student_id, login, kind, ip: &client.ip, user_agent: &client.user_agent },
                )
                .await
        })
        .await?;
    Ok(())
}

async fn student_for(ctx: &Context, school: &School, login: &str) -> Result<Option<Student>, Error> {
    let by_phone = school.policy.login_ids.contains(&LoginId::Phone);
    Ok(ctx.store.student_for_login(school.id, login, by_phone).await?)
}

fn check_new_password(school: &School, student: &Student, new: &str, confirm: Option<&str>) -> Result<(), Error> {
    if let Some(c) = confirm
        && c != new
    {
        return Err(err(ErrorKind::Refused, "password_mismatch", "新密码与确认密码要求一致", "The two new passwords differ")
            .field("confirm_password"));
    }
    let initial = school.policy.initial_password.for_id_card(&student.id_card);
    password::check_new(new, &PasswordContext { student_no: &student.student_no, id_card: &student.id_card, initial_password: &initial })
        .map_err(|r| err(ErrorKind::Refused, "weak_password", r.to_string(), r.message_en()).field("new_password"))
}

pub struct RecoveryRequest<'a> {
    pub school: &'a str,
    pub login: &'a str,
    pub captcha: Captcha<'a>,
}

/// Sends a single-use reset link to the security e-mail, if the student has one. Answers the
/// same whether or not the student number exists or has a security e-mail.
pub async fn request_email(ctx: &Context, r: &RecoveryRequest<'_>, client: &Client) -> Result<(), Error> {
    let school = school(ctx, r.school).await?;
    if !methods(&school).email {
        return Err(not_offered());
    }
    let login = clean_login(r.login)?;
    let g = guard(ctx, &school, login, client, &r.captcha, school.policy.captcha, now()).await?;
    let done = request_email_held(ctx, &school, login, &g).await;
    g.finish(ctx, client).await?;
    done
}

async fn request_email_held(ctx: &Context, school: &School, login: &str, g: &Guard) -> Result<(), Error> {
    if g.requested.len() + g.busy >= REQUESTS_PER_WINDOW {
        return Err(too_many_requests());
    }
    let student = student_for(ctx, school, login).await?;
    g.note(student.as_ref().map(|s| s.id), login, event::RECOVERY_REQUESTED);
    let Some(student) = student.filter(|s| !s.security_email.is_empty()) else {
        return Ok(());
    };
    let token = random_token(32);
    ctx.store
        .write(async |tx| {
            ctx.store
                .insert_recovery_token(
                    tx,
                    &NewRecoveryToken {
                        token_hash: &sha256_hex(token.as_bytes()),
                        school_id: school.id,
                        student_id: student.id,
                        kind: kind::EMAIL_LINK,
                        sent_to: &student.security_email,
                        ttl_s: LINK_TTL_S,
                    },
                )
                .await
        })
        .await?;
    let link = format!("{}/s/{}/reset/{token}", ctx.public_url(), school.code);
    let subject = format!("【{}】找回密码 / Reset your password", school.name);
    let body = format!(
        "{name}同学，您好：\n\n您正在找回{school}校园统一支付平台（学号 {no}）的登录密码。\
         请在30分钟内打开下面的链接设置新密码，链接仅能使用一次：\n\n{link}\n\n\
         如果这不是您本人的操作，请忽略本邮件，您的密码不会改变。本平台不会索要您的银行卡密码或短信验证码。\n\n\
         ----\nSomeone asked to reset the password of student number {no} at {school}. \
         Open the link above within 30 minutes to choose a new password (it works once). \
         If it was not you, ignore this e-mail; your password stays as it is.\n",
        name = student.name,
        school = school.name,
        no = student.student_no,
    );
    // Sent in the background: the answer takes as long whether or not a mail goes out.
    let (mailer, store, to) = (ctx.mailer.clone(), ctx.store.clone(), student.security_email.clone());
    tokio::spawn(async move {
        if let Err(e) = mailer.send(&store, &to, &subject, &body).await {
            tracing::error!(error = %e, "recovery mail not sent");
        }
    });
    Ok(())
}

fn too_many_requests() -> Error {
    err(ErrorKind::TooManyRequests, "too_many_requests", "请求过于频繁，请15分钟后再试", "Too many requests; try again in 15 minutes")
}

/// The student a live link opens, for the reset page.
pub async fn check_link(ctx: &Context, school: &School, token: &str) -> Result<Student, Error> {
    if token.is_empty() || token.len() > 100 {
        return Err(invalid_link());
    }
    let t = ctx.store.live_recovery_token(school.id, kind::EMAIL_LINK, &sha256_hex(token.as_bytes())).await?.ok_or_else(invalid_link)?;
    ctx.store.student(school.id, t.student_id).await?.ok_or_else(invalid_link)
}

pub struct NewPassword<'a> {
    pub new: &'a str,
    pub confirm: Option<&'a str>,
}

/// Sets a new password with a link from the security e-mail; ends every session.
pub async fn reset_with_link(ctx: &Context, school_code: &str, token: &str, pw: &NewPassword<'_>, client: &Client) -> Result<(), Error> {
    let school = school(ctx, school_code).await?;
    // Links are guessed from an address, not an account: only the address limit applies.
    let g = guard(ctx, &school, "", client, &Captcha { id: None, answer: None }, false, now())
        .await
        .map_err(|e| if e.code == "recovery_locked" { too_many_requests() } else { e })?;
    let done = reset_with_link_held(ctx, &school, token, pw, &g).await;
    g.finish(ctx, client).await?;
    done
}

async fn reset_with_link_held(ctx: &Context, school: &School, token: &str, pw: &NewPassword<'_>, g: &Guard) -> Result<(), Error> {
    let student = match check_link(ctx, school, token).await {
        Ok(s) => s,
        Err(e) => {
            g.note(None, "", event::RECOVERY_FAILED);
            return Err(e);
        }
    };
    check_new_password(school, &student, pw.new, pw.confirm)?;
    let t = ctx.store.live_recovery_token(school.id, kind::EMAIL_LINK, &sha256_hex(token.as_bytes())).await?.ok_or_else(invalid_link)?;
    let hash = ctx.hasher.hash(pw.new).await;
    if !ctx.store.write(async |tx| ctx.store.redeem_recovery_token(tx, t.id, school.id, student.id, &hash).await).await? {
        return Err(invalid_link());
    }
    g.note(Some(student.id), &student.student_no, event::PASSWORD_RESET);
    Ok(())
}

fn sms_code_hash(student_id: i64, code: &str) -> String {
    sha256_hex(format!("sms:{student_id}:{code}").as_bytes())
}

/// Start of today in Beijing time, as unix seconds: the SMS cap is per calendar day.
fn shanghai_day_start(t: i64) -> i64 {
    let off = time::SHANGHAI_OFFSET_S;
    (t + off).div_euclid(86_400) * 86_400 - off
}

/// Sends a 6-digit code to the student's phone: at most the school's daily limit per phone
/// (and per student number typed), one a minute.
pub async fn request_sms(ctx: &Context, r: &RecoveryRequest<'_>, client: &Client) -> Result<(), Error> {
    let school = school(ctx, r.school).await?;
    let Some(daily_limit) = methods(&school).sms else {
        return Err(not_offered());
    };
    let login = clean_login(r.login)?;
    let g = guard(ctx, &school, login, client, &r.captcha, school.policy.captcha, shanghai_day_start(now())).await?;
    let done = request_sms_held(ctx, &school, login, daily_limit, &g).await;
    g.finish(ctx, client).await?;
    done
}

async fn request_sms_held(ctx: &Context, school: &School, login: &str, daily_limit: u32, g: &Guard) -> Result<(), Error> {
    let t = now();
    let today = &g.requested_today;
    // A request in flight is as good as one just sent: one code a minute, whatever the burst.
    let last = if g.busy > 0 { Some(t) } else { today.first().copied() };
    if let Some(last) = last
        && t - last < SMS_RESEND_S
    {
        let wait = SMS_RESEND_S - (t - last);
        return Err(err(
            ErrorKind::TooManyRequests,
            "sms_too_soon",
            format!("验证码已发送，请{wait}秒后再重新获取"),
            format!("A code was just sent; you can ask for another in {wait} seconds"),
        ));
    }
    let daily_cap = || {
        err(
            ErrorKind::TooManyRequests,
            "sms_daily_limit",
            format!("今日获取验证码次数已达上限（{daily_limit}次），请明天再试或联系学校财务处"),
            format!("You have had the {daily_limit} codes allowed today; please try again tomorrow"),
        )
    };
    if today.len() + g.busy >= daily_limit as usize {
        return Err(daily_cap());
    }
    let student = student_for(ctx, school, login).await?;
    let phone = student.as_ref().map(|s| s.phone.clone()).unwrap_or_default();
    if !phone.is_empty()
        && ctx.store.recovery_tokens_sent_to(kind::SMS_CODE, &phone, shanghai_day_start(t)).await?.len() >= daily_limit as usize
    {
        return Err(daily_cap());
    }
    g.note(student.as_ref().map(|s| s.id), login, event::RECOVERY_REQUESTED);
    let Some(student) = student.filter(|s| !s.phone.is_empty()) else {
        return Ok(());
    };
    let code = format!("{:06}", random_below(1_000_000));
    ctx.store
        .write(async |tx| {
            ctx.store
                .insert_recovery_token(
                    tx,
                    &NewRecoveryToken {
                        token_hash: &sms_code_hash(student.id, &code),
                        school_id: school.id,
                        student_id: student.id,
                        kind: kind::SMS_CODE,
                        sent_to: &phone,
                        ttl_s: SMS_TTL_S,
                    },
                )
                .await
        })
        .await?;
    let text = format!("【{}】您正在找回密码，验证码 {code}，5分钟内有效。如非本人操作请忽略，切勿告诉他人。", school.name);
    let sms = ctx.sms.clone();
    tokio::spawn(async move {
        if let Err(e) = sms.send_code(&phone, &code, &text).await {
            tracing::error!(error = %e, "recovery SMS not sent");
        }
    });
    Ok(())
}

pub struct CodeReset<'a> {
    pub school: &'a str,
    pub login: &'a str,
    pub code: &'a str,
    pub password: NewPassword<'a>,
    pub captcha: Captcha<'a>,
}

/// Sets a new password with the SMS code; ends every session.
pub async fn reset_with_sms(ctx: &Context, r: &CodeReset<'_>, client: &Client) -> Result<(), Error> {
    let school = school(ctx, r.school).await?;
    if methods(&school).sms.is_none() {
        return Err(not_offered());
    }
    let login = clean_login(r.login)?;
    let g = guard(ctx, &school, login, client, &r.captcha, false, now()).await?;
    let done = reset_with_sms_held(ctx, &school, login, r, &g).await;
    g.finish(ctx, client).await?;
    done
}

async fn reset_with_sms_held(ctx: &Context, school: &School, login: &str, r: &CodeReset<'_>, g: &Guard) -> Result<(), Error> {
    let student = student_for(ctx, school, login).await?;
    let code = r.code.trim();
    let token = match &student {
        Some(s) => ctx.store.latest_live_recovery_token(school.id, s.id, kind::SMS_CODE).await?,
        None => None,
    };
    let ok = match (&student, &token) {
        (Some(s), Some(t)) if code.len() == 6 => constant_time_eq(sms_code_hash(s.id, code).as_bytes(), t.token_hash.as_bytes()),
        _ => false,
    };
    if !ok {
        if let Some(t) = &token {
            ctx.store.write(async |tx| ctx.store.recovery_token_failed(tx, t.id, SMS_CODE_ATTEMPTS).await).await?;
        }
        g.note(student.as_ref().map(|s| s.id), login, event::RECOVERY_FAILED);
        return Err(invalid_code());
    }
    let (student, token) = (student.expect("checked"), token.expect("checked"));
    check_new_password(school, &student, r.password.new, r.password.confirm)?;
    let hash = ctx.hasher.hash(r.password.new).await;
    if !ctx.store.write(async |tx| ctx.store.redeem_recovery_token(tx, token.id, school.id, student.id, &hash).await).await? {
        return Err(invalid_code());
    }
    g.note(Some(student.id), login, event::PASSWORD_RESET);
    Ok(())
}

/// The security question to show for a student number: the student's own, or for unknown
/// numbers and students without one a made-up question that no answer opens.
pub async fn question_for(ctx: &Context, school_code: &str, login: &str, client: &Client) -> Result<String, Error> {
    let school = school(ctx, school_code).await?;
    if !methods(&school).question {
        return Err(not_offered());
    }
    let login = clean_login(login)?;
    let g = guard(ctx, &school, login, client, &Captcha { id: None, answer: None }, false, now()).await?;
    g.finish(ctx, client).await?;
    let student = student_for(ctx, &school, login).await?;
    if let Some(s) = &student {
        let (q, h) = ctx.store.security_question(school.id, s.id).await?;
        if !q.is_empty() && h.is_some() {
            return Ok(q);
        }
    }
    let pick = sha256_hex(format!("decoy:{}:{login}", school.code).as_bytes());
    let n = usize::from_str_radix(&pick[..4], 16).unwrap_or(0) % QUESTIONS.len();
    Ok(QUESTIONS[n].to_string())
}

/// Answers compare without case, spaces or full-width/half-width differences in spacing.
fn normalize_answer(a: &str) -> String {
    a.chars().filter(|c| !c.is_whitespace()).flat_map(char::to_lowercase).collect()
}

pub struct AnswerReset<'a> {
    pub school: &'a str,
    pub login: &'a str,
    pub answer: &'a str,
    pub password: NewPassword<'a>,
    pub captcha: Captcha<'a>,
}

/// Sets a new password after the right answer to the security question; ends every session.
pub async fn reset_with_answer(ctx: &Context, r: &AnswerReset<'_>, client: &Client) -> Result<(), Error> {
    let school = school(ctx, r.school).await?;
    if !methods(&school).question {
        return Err(not_offered());
    }
    let login = clean_login(r.login)?;
    let g = guard(ctx, &school, login, client, &r.captcha, false, now()).await?;
    let done = reset_with_answer_held(ctx, &school, login, r, &g).await;
    g.finish(ctx, client).await?;
    done
}

async fn reset_with_answer_held(ctx: &Context, school: &School, login: &str, r: &AnswerReset<'_>, g: &Guard) -> Result<(), Error> {
    let student = student_for(ctx, school, login).await?;
    let hash = match &student {
        Some(s) => ctx.store.security_question(school.id, s.id).await?.1,
        None => None,
    };
    let answer = normalize_answer(r.answer);
    let ok = !answer.is_empty() && answer.len() <= MAX_FIELD && ctx.hasher.verify(&answer, hash.as_deref()).await;
    if !ok {
        g.note(student.as_ref().map(|s| s.id), login, event::RECOVERY_FAILED);
        return Err(wrong_answer());
    }
    let student = student.expect("a right answer has a student");
    check_new_password(school, &student, r.password.new, r.password.confirm)?;
    let hash = ctx.hasher.hash(r.password.new).await;
    ctx.store.write(async |tx| ctx.store.reset_password(tx, school.id, student.id, &hash).await).await?;
    g.note(Some(student.id), login, event::PASSWORD_RESET);
    Ok(())
}

/// Checks the password a student re-enters before changing security settings.
async fn confirm_password(ctx: &Context, school: &School, student: &Student, password: &str, client: &Client) -> Result<(), Error> {
    let t = now();
    // Held like a recovery step of this student number (the same key), without its captcha.
    let mut tx = ctx.store.write_tx().await?;
    let key = format!("recovery:{}:{}", school.id, student.student_no);
    let (held, busy) = Held::take(ctx, &mut tx, vec![key]).await?;
    let who = Subject::Login(&student.student_no);
    let failures = ctx.store.account_events(&mut tx, school.id, who, event::RECOVERY_FAILED, t - WINDOW_S).await?;
    tx.commit().await?;
    let ok = if failures.len() + busy[0] as usize >= LOCK_AT {
        None
    } else {
        Some(match &student.password_hash {
            Some(h) => password.len() <= crate::student::auth::MAX_PASSWORD_LEN && ctx.hasher.verify(password, Some(h)).await,
            None => {
                let initial = school.policy.initial_password.for_id_card(&student.id_card);
                constant_time_eq(initial.as_bytes(), password.as_bytes())
            }
        })
    };
    let ev = |kind| NewSecurityEvent {
        school_id: school.id,
        student_id: Some(student.id),
        login: &student.student_no,
        kind,
        ip: &client.ip,
        user_agent: &client.user_agent,
    };
    let mut tx = ctx.store.write_tx().await?;
    held.release_in(ctx, &mut tx).await?;
    if ok == Some(false) {
        ctx.store.record_security_event(&mut tx, &ev(event::RECOVERY_FAILED)).await?;
        if failures.len() + 1 == LOCK_AT {
            ctx.store.record_security_event(&mut tx, &ev(event::RECOVERY_LOCKED)).await?;
        }
    }
    tx.commit().await?;
    if ok.is_none() {
        let at = time::format_shanghai(failures.first().copied().unwrap_or(t) + LOCK_S);
        return Err(err(
            ErrorKind::Locked,
            "recovery_locked",
            format!("错误次数过多，请于 {at} 后再试"),
            format!("Too many wrong attempts; try again after {at} (Beijing time)"),
        ));
    }
    if ok == Some(false) {
        return Err(err(ErrorKind::Refused, "password_wrong", "登录密码有误", "Wrong password").field("password"));
    }
    Ok(())
}

async fn session_student(ctx: &Context, s: &SessionRow) -> Result<(School, Student), Error> {
    crate::student::profile::school_and_student(ctx, s).await
}

pub async fn set_security_email(ctx: &Context, s: &SessionRow, password: &str, email: &str, client: &Client) -> Result<(), Error> {
    let (school, student) = session_student(ctx, s).await?;
    let email = email.trim();
    if !campuspay_domain::profile::valid_email(email) || email.is_empty() {
        return Err(err(ErrorKind::Refused, "invalid_email", "邮箱格式有误", "Invalid e-mail address").field("security_email"));
    }
    confirm_password(ctx, &school, &student, password, client).await?;
    ctx.store.write(async |tx| ctx.store.set_security_email(tx, school.id, student.id, email).await).await?;
    record(ctx, &school, Some(student.id), &student.student_no, event::SECURITY_EMAIL_SET, client).await
}

pub async fn set_security_question(
    ctx: &Context,
    s: &SessionRow,
    password: &str,
    question: &str,
    answer: &str,
    client: &Client,
) -> Result<(), Error> {
    let (school, student) = session_student(ctx, s).await?;
    if !QUESTIONS.contains(&question) {
        return Err(err(ErrorKind::Refused, "invalid_question", "请选择密保问题", "Choose a question").field("question"));
    }
    let answer = normalize_answer(answer);
    if answer.chars().count() < 2 || answer.len() > MAX_FIELD {
        return Err(
            err(ErrorKind::Refused, "invalid_answer", "密保答案至少2个字", "The answer needs at least 2 characters").field("answer")
        );
    }
    confirm_password(ctx, &school, &student, password, client).await?;
    let hash = ctx.hasher.hash(&answer).await;
    ctx.store.write(async |tx| ctx.store.set_security_question(tx, school.id, student.id, question, &hash).await).await?;
    record(ctx, &school, Some(student.id), &student.student_no, event::SECURITY_QUESTION_SET, client).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_starts_at_beijing_midnight() {
        // 2024-01-01 00:30 Beijing = 2023-12-31 16:30 UTC
        let t = 1_704_040_200;
        assert_eq!(shanghai_day_start(t), 1_704_038_400);
        assert_eq!(shanghai_day_start(1_704_038_400), 1_704_038_400);
        assert_eq!(shanghai_day_start(1_704_038_399), 1_704_038_400 - 86_400);
    }

    #[test]
    fn answers_ignore_case_and_spaces() {
        assert_eq!(normalize_answer(" Zhang San "), "zhangsan");
        assert_eq!(normalize_answer("张 三"), "张三");
    }
}
