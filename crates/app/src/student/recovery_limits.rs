//! The limits every recovery step shares, held while the step runs (see `super::throttle`):
//! a burst of a hundred SMS codes or answers at once checks no more than the limits allow.

use super::recovery::{CAPTCHA_AFTER, Captcha, HOURLY_CEILING, IP_LIMIT, LOCK_AT, LOCK_S, WINDOW_S};
use super::throttle::Held;
use crate::{Client, Context, Error, ErrorKind};
use campuspay_domain::time;
use campuspay_store::db_now as now;
use campuspay_store::schools::School;
use campuspay_store::security::{NewSecurityEvent, Subject, event};
use std::sync::Mutex;

/// One recovery step in flight: what the limits read, and the events the step notes, recorded
/// by [`Guard::finish`] in the transaction that lets go of the attempt.
pub(crate) struct Guard {
    held: Held,
    school_id: i64,
    login: String,
    /// Steps of this login in flight besides this one.
    pub busy: usize,
    /// Link or code requests of this login in the window, newest first.
    pub requested: Vec<i64>,
    /// Link or code requests of this login since `day_start`, newest first.
    pub requested_today: Vec<i64>,
    notes: Mutex<Vec<(Option<i64>, String, &'static str)>>,
}

fn locked(until: i64) -> Error {
    let at = time::format_shanghai(until);
    Error::new(
        ErrorKind::Locked,
        "recovery_locked",
        format!("错误次数过多，找回密码已临时锁定，请于 {at} 后再试，或联系学校财务处"),
        format!("Too many wrong attempts: password recovery is locked until {at} (Beijing time)"),
    )
}

/// Holds the step on the address and the login typed, checks the limits against what is
/// recorded plus what is in flight, and the captcha when one is due.
pub(crate) async fn guard(
    ctx: &Context,
    school: &School,
    login: &str,
    client: &Client,
    captcha: &Captcha<'_>,
    captcha_always: bool,
    day_start: i64,
) -> Result<Guard, Error> {
    let t = now();
    let who = Subject::Login(login);
    let mut tx = ctx.store.write_tx().await?;
    let keys = vec![format!("recovery-ip:{}", client.ip), format!("recovery:{}:{login}", school.id)];
    let (held, busy) = Held::take(ctx, &mut tx, keys).await?;
    let (ip_busy, busy) = (busy[0], busy[1] as usize);
    let s = &ctx.store;
    let ip = s.address_events(&mut tx, &client.ip, &[event::RECOVERY_REQUESTED, event::RECOVERY_FAILED], t - WINDOW_S).await?;
    let hour = s.account_events(&mut tx, school.id, who, event::RECOVERY_FAILED, t - 3600).await?.len()
        + s.account_events(&mut tx, school.id, who, event::LOGIN_FAILED, t - 3600).await?.len();
    let failures = s.account_events(&mut tx, school.id, who, event::RECOVERY_FAILED, t - WINDOW_S).await?;
    let requested_today = s.account_events(&mut tx, school.id, who, event::RECOVERY_REQUESTED, day_start.min(t - WINDOW_S)).await?;
    tx.commit().await?;
    let requested = requested_today.iter().copied().filter(|&at| at >= t - WINDOW_S).collect();
    let requested_today = requested_today.into_iter().filter(|&at| at >= day_start).collect();
    let g = Guard { held, school_id: school.id, login: login.to_string(), busy, requested, requested_today, notes: Mutex::new(Vec::new()) };
    let refused = if ip + ip_busy >= IP_LIMIT {
        Some(Error::new(
            ErrorKind::TooManyRequests,
            "too_many_attempts",
            "操作过于频繁，请15分钟后再试",
            "Too many attempts from your network; try again in 15 minutes",
        ))
    } else if failures.len() + busy >= LOCK_AT || hour + busy >= HOURLY_CEILING {
        Some(locked(failures.first().copied().unwrap_or(t) + LOCK_S))
    } else if captcha_always || failures.len() + busy >= CAPTCHA_AFTER {
        let (id, answer) = (captcha.id.unwrap_or(""), captcha.answer.unwrap_or(""));
        if id.is_empty() || answer.trim().is_empty() {
            Some(Error::new(ErrorKind::Unauthenticated, "captcha_required", "请输入验证码", "Enter the captcha").field("captcha"))
        } else {
            match crate::student::captcha::check(ctx, id, answer).await {
                Ok(true) => None,
                Ok(false) => Some(
                    Error::new(ErrorKind::Unauthenticated, "captcha_invalid", "验证码错误", "Wrong or expired captcha").field("captcha"),
                ),
                Err(e) => Some(e.into()),
            }
        }
    } else {
        None
    };
    match refused {
        Some(e) => {
            g.finish(ctx, client).await?;
            Err(e)
        }
        None => Ok(g),
    }
}

impl Guard {
    /// Notes an event of the step, recorded when it finishes.
    pub fn note(&self, student_id: Option<i64>, login: &str, kind: &'static str) {
        self.notes.lock().unwrap_or_else(|p| p.into_inner()).push((student_id, login.to_string(), kind));
    }

    /// Lets go of the step and records its events; a failure that reaches `LOCK_AT` (counted
    /// in this same transaction, so exactly one does) also records the lockout.
    pub async fn finish(self, ctx: &Context, client: &Client) -> Result<(), Error> {
        let notes = self.notes.into_inner().unwrap_or_else(|p| p.into_inner());
        let mut tx = ctx.store.write_tx().await?;
        self.held.release_in(ctx, &mut tx).await?;
        let ev = |student_id, login, kind| NewSecurityEvent {
            school_id: self.school_id,
            student_id,
            login,
            kind,
            ip: &client.ip,
            user_agent: &client.user_agent,
        };
        for (student_id, login, kind) in &notes {
            ctx.store.record_security_event(&mut tx, &ev(*student_id, login, kind)).await?;
            if *kind == event::RECOVERY_FAILED {
                let failures = ctx
                    .store
                    .account_events(&mut tx, self.school_id, Subject::Login(&self.login), event::RECOVERY_FAILED, now() - WINDOW_S)
                    .await?;
                if failures.len() == LOCK_AT {
                    ctx.store.record_security_event(&mut tx, &ev(*student_id, login, event::RECOVERY_LOCKED)).await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }
}
