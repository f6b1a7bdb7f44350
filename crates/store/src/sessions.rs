//! Login sessions, stored so that any instance can serve any request.

use crate::db::{Store, StoreError, now};
use sqlx::Row;
use sqlx::any::AnyRow;

/// How stale `last_seen_at` may get before a request records activity again. Idle timeouts
/// are therefore measured with this granularity: a session may end up to this long before
/// `idle_timeout_s` after the student's very last request, never later.
pub const TOUCH_EVERY_S: i64 = 60;

#[derive(Debug, Clone)]
pub struct SessionRow {
    pub token_hash: String,
    pub school_id: i64,
    pub student_id: i64,
    pub csrf_token: String,
    pub must_change_password: bool,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub idle_timeout_s: i64,
    pub expires_at: i64,
    pub user_agent: String,
    pub ip: String,
}

impl SessionRow {
    /// Alive: not ended, within its absolute lifetime and its idle timeout.
    pub fn is_live_at(&self, t: i64) -> bool {
        t < self.expires_at && t < self.last_seen_at + self.idle_timeout_s
    }

    /// Whether a request at `t` should record activity: only once `last_seen_at` is
    /// [`TOUCH_EVERY_S`] old, so most authenticated requests open no write transaction.
    pub fn needs_touch_at(&self, t: i64) -> bool {
        t - self.last_seen_at >= TOUCH_EVERY_S
    }
}

macro_rules! columns {
    () => {
        "token_hash, school_id, student_id, csrf_token, must_change_password, created_at, last_seen_at, idle_timeout_s, expires_at, user_agent, ip"
    };
}

fn session(r: &AnyRow) -> Result<SessionRow, sqlx::Error> {
    Ok(SessionRow {
        token_hash: r.try_get("token_hash")?,
        school_id: r.try_get("school_id")?,
        student_id: r.try_get("student_id")?,
        csrf_token: r.try_get("csrf_token")?,
        must_change_password: r.try_get::<i64, _>("must_change_password")? != 0,
        created_at: r.try_get("created_at")?,
        last_seen_at: r.try_get("last_seen_at")?,
        idle_timeout_s: r.try_get("idle_timeout_s")?,
        expires_at: r.try_get("expires_at")?,
        user_agent: r.try_get("user_agent")?,
        ip: r.try_get("ip")?,
    })
}

impl Store {
    pub async fn insert_session(&self, s: &SessionRow) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query(concat!("INSERT INTO sessions (", columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"))
            .bind(&s.token_hash)
            .bind(s.school_id)
            .bind(s.student_id)
            .bind(&s.csrf_token)
            .bind(i64::from(s.must_change_password))
            .bind(s.created_at)
            .bind(s.last_seen_at)
            .bind(s.idle_timeout_s)
            .bind(s.expires_at)
            .bind(&s.user_agent)
            .bind(&s.ip)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await
    }

    /// A session that has not been ended (the caller checks its timeouts).
    pub async fn open_session(&self, token_hash: &str) -> Result<Option<SessionRow>, StoreError> {
        let row = sqlx::query(concat!("SELECT ", columns!(), " FROM sessions WHERE token_hash = $1 AND ended_at IS NULL"))
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(session).transpose()?)
    }

    /// Records activity; written at most once every [`TOUCH_EVERY_S`] per session to spare the
    /// database (the `last_seen_at` guard also keeps two racing requests from both writing).
    pub async fn touch_session(&self, token_hash: &str, at: i64) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2 AND last_seen_at <= $3")
            .bind(at)
            .bind(token_hash)
            .bind(at - TOUCH_EVERY_S)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await
    }

    /// Remembers the WeChat payer (openid) signed in on this session's browser.
    pub async fn set_session_payer(&self, token_hash: &str, openid: &str) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO session_payers (token_hash, openid, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (token_hash) DO UPDATE SET openid = excluded.openid, created_at = excluded.created_at",
        )
        .bind(token_hash)
        .bind(openid)
        .bind(now())
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await
    }

    /// The WeChat payer signed in on this session's browser, if any.
    pub async fn session_payer(&self, token_hash: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT openid FROM session_payers WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn end_session(&self, token_hash: &str) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query("UPDATE sessions SET ended_at = $1 WHERE token_hash = $2 AND ended_at IS NULL")
            .bind(now())
            .bind(token_hash)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await
    }

    /// Ends every other live session of the student; returns how many.
    pub async fn end_other_sessions(&self, school_id: i64, student_id: i64, keep: &str) -> Result<u64, StoreError> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query(
            "UPDATE sessions SET ended_at = $1 WHERE school_id = $2 AND student_id = $3 AND token_hash <> $4 AND ended_at IS NULL",
        )
        .bind(now())
        .bind(school_id)
        .bind(student_id)
        .bind(keep)
        .execute(&mut *tx.tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    /// The student's sessions that are still alive, newest first.
    pub async fn live_sessions(&self, school_id: i64, student_id: i64) -> Result<Vec<SessionRow>, StoreError> {
        let t = now();
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM sessions WHERE school_id = $1 AND student_id = $2 AND ended_at IS NULL AND expires_at > $3 \
             ORDER BY created_at DESC"
        ))
        .bind(school_id)
        .bind(student_id)
        .bind(t)
        .fetch_all(&self.pool)
        .await?;
        let all: Vec<SessionRow> = rows.iter().map(session).collect::<Result<_, _>>()?;
        Ok(all.into_iter().filter(|s| s.is_live_at(t)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(last_seen_at: i64) -> SessionRow {
        SessionRow {
            token_hash: String::new(),
            school_id: 1,
            student_id: 1,
            csrf_token: String::new(),
            must_change_password: false,
            created_at: 0,
            last_seen_at,
            idle_timeout_s: 15 * 60,
            expires_at: 24 * 3600,
            user_agent: String::new(),
            ip: String::new(),
        }
    }

    #[test]
    fn activity_is_recorded_once_a_minute_and_idle_sessions_still_expire() {
        let s = row(1000);
        assert!(!s.needs_touch_at(1000 + TOUCH_EVERY_S - 1), "a fresh session is not written");
        assert!(s.needs_touch_at(1000 + TOUCH_EVERY_S));
        // The idle timeout still counts from last_seen_at: the lag is at most a minute.
        assert!(s.is_live_at(1000 + 15 * 60 - 1));
        assert!(!s.is_live_at(1000 + 15 * 60), "idle past the policy's timeout: ended");
    }
}
