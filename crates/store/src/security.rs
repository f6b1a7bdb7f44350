//! The security log and what login throttling reads from it; image captchas.

use crate::db::{Store, StoreError, WriteTx, now};
use sqlx::Row;

/// Kinds of security events.
pub mod event {
    pub const LOGIN_OK: &str = "login_ok";
    pub const LOGIN_FAILED: &str = "login_failed";
    pub const LOCKED_OUT: &str = "locked_out";
    pub const PASSWORD_CHANGED: &str = "password_changed";
    pub const LOGOUT: &str = "logout";
    pub const SESSIONS_ENDED: &str = "sessions_ended";
    /// A reset link or SMS code was asked for (recorded for unknown student numbers too).
    pub const RECOVERY_REQUESTED: &str = "recovery_requested";
    /// A wrong security answer, SMS code or reset link.
    pub const RECOVERY_FAILED: &str = "recovery_failed";
    pub const RECOVERY_LOCKED: &str = "recovery_locked";
    pub const PASSWORD_RESET: &str = "password_reset";
    pub const SECURITY_EMAIL_SET: &str = "security_email_set";
    pub const SECURITY_QUESTION_SET: &str = "security_question_set";
    /// The office unlocked the account: failures before it no longer count.
    pub const UNLOCKED: &str = "unlocked";
}

#[derive(Debug, Clone)]
pub struct SecurityEvent {
    pub kind: String,
    pub ip: String,
    pub user_agent: String,
    pub at: i64,
}

pub struct NewSecurityEvent<'a> {
    pub school_id: i64,
    pub student_id: Option<i64>,
    pub login: &'a str,
    pub kind: &'a str,
    pub ip: &'a str,
    pub user_agent: &'a str,
}

/// Whose attempts are counted.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// A known student, however the login was typed (student number or phone): their events,
    /// and events typed as their student number that name no student.
    Student { id: i64, student_no: &'a str },
    /// What was typed, for logins that name no student (and for recovery, which counts by it).
    Login(&'a str),
}

impl Store {
    pub async fn record_security_event(&self, tx: &mut WriteTx, e: &NewSecurityEvent<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO security_events (school_id, student_id, login, kind, ip, user_agent, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(e.school_id)
        .bind(e.student_id)
        .bind(e.login)
        .bind(e.kind)
        .bind(e.ip)
        .bind(&e.user_agent[..e.user_agent.floor_char_boundary(300)])
        .bind(now())
        .execute(&mut *tx.tx)
        .await?;
        Ok(())
    }

    /// Times of `kind` events of one account since `since`, newest first, read inside `tx`
    /// (which holds the account's attempts, see [`Store::hold_attempt`]). Failed logins count
    /// only after the account's last successful login or office unlock.
    pub async fn account_events(
        &self,
        tx: &mut WriteTx,
        school_id: i64,
        who: Subject<'_>,
        kind: &str,
        since: i64,
    ) -> Result<Vec<i64>, StoreError> {
        account_events(&mut tx.tx, school_id, who, kind, since).await
    }

    /// [`Store::account_events`] outside a transaction, for showing a form (not for deciding).
    pub async fn account_events_now(&self, school_id: i64, who: Subject<'_>, kind: &str, since: i64) -> Result<Vec<i64>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        account_events(&mut conn, school_id, who, kind, since).await
    }

    /// Events of the given kinds from one address since `since`, across schools, read inside `tx`.
    pub async fn address_events(&self, tx: &mut WriteTx, ip: &str, kinds: &[&str], since: i64) -> Result<i64, StoreError> {
        let mut n = 0;
        for kind in kinds {
            let c: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM security_events WHERE ip = $1 AND kind = $2 AND at >= $3")
                .bind(ip)
                .bind(*kind)
                .bind(since)
                .fetch_one(&mut *tx.tx)
                .await?;
            n += c;
        }
        Ok(n)
    }

    /// Times of the failed logins of one account since `since` and since its last success,
    /// newest first.
    pub async fn login_failures(&self, school_id: i64, login: &str, since: i64) -> Result<Vec<i64>, StoreError> {
        // Ordered by id, not time: a failure in the same second as the last success still counts.
        let last_ok: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(MAX(id) AS BIGINT) FROM security_events WHERE school_id = $1 AND login = $2 AND kind = 'login_ok'",
        )
        .bind(school_id)
        .bind(login)
        .fetch_one(&self.pool)
        .await?;
        let at: Vec<i64> = sqlx::query_scalar(
            "SELECT at FROM security_events WHERE school_id = $1 AND login = $2 AND kind = 'login_failed' AND at >= $3 AND id > $4 \
             ORDER BY id DESC",
        )
        .bind(school_id)
        .bind(login)
        .bind(since)
        .bind(last_ok.unwrap_or(0))
        .fetch_all(&self.pool)
        .await?;
        Ok(at)
    }

    /// Failed logins from one address since `since`, across schools.
    pub async fn ip_failures(&self, ip: &str, since: i64) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM security_events WHERE ip = $1 AND kind = 'login_failed' AND at >= $2")
            .bind(ip)
            .bind(since)
            .fetch_one(&self.pool)
            .await?)
    }

    pub async fn security_events_of_student(&self, school_id: i64, student_id: i64, limit: i64) -> Result<Vec<SecurityEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT kind, ip, user_agent, at FROM security_events WHERE school_id = $1 AND student_id = $2 ORDER BY at DESC, id DESC LIMIT $3",
        )
        .bind(school_id)
        .bind(student_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SecurityEvent {
                    kind: r.try_get("kind")?,
                    ip: r.try_get("ip")?,
                    user_agent: r.try_get("user_agent")?,
                    at: r.try_get("at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    pub async fn insert_captcha(&self, tx: &mut WriteTx, id: &str, answer: &str, expires_at: i64) -> Result<(), StoreError> {
        // Expired captchas are worthless; sweeping them here keeps the table small.
        sqlx::query("DELETE FROM captchas WHERE expires_at < $1").bind(now()).execute(&mut *tx.tx).await?;
        sqlx::query("INSERT INTO captchas (id, answer, expires_at) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(answer)
            .bind(expires_at)
            .execute(&mut *tx.tx)
            .await?;
        Ok(())
    }

    /// Takes a captcha out (single use): its answer if it existed and had not expired.
    pub async fn take_captcha(&self, tx: &mut WriteTx, id: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(String, i64)> =
            sqlx::query_as("DELETE FROM captchas WHERE id = $1 RETURNING answer, expires_at").bind(id).fetch_optional(&mut *tx.tx).await?;
        Ok(row.and_then(|(answer, exp)| (exp >= now()).then_some(answer)))
    }

    /// The answer of a live captcha without using it up; for tests driving the login flow.
    pub async fn peek_captcha(&self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT answer FROM captchas WHERE id = $1").bind(id).fetch_optional(&self.pool).await?)
    }
}

async fn account_events(
    conn: &mut sqlx::AnyConnection,
    school_id: i64,
    who: Subject<'_>,
    kind: &str,
    since: i64,
) -> Result<Vec<i64>, StoreError> {
    let whose = match who {
        Subject::Student { .. } => "school_id = $1 AND (student_id = $2 OR (student_id IS NULL AND login = $3))",
        // `$2 = $2`: both shapes take the same parameters.
        Subject::Login(_) => "school_id = $1 AND login = $3 AND $2 = $2",
    };
    let (id, login) = match who {
        Subject::Student { id, student_no } => (id, student_no),
        Subject::Login(l) => (0, l),
    };
    // Ordered by id, not time: a failure in the same second as the last success still counts.
    // Failed logins count after the last success or office unlock; failed recoveries after
    // the last unlock.
    let resets = match kind {
        event::LOGIN_FAILED => Some("kind IN ('login_ok', 'unlocked')"),
        event::RECOVERY_FAILED => Some("kind = 'unlocked'"),
        _ => None,
    };
    let after: i64 = if let Some(resets) = resets {
        let sql = format!("SELECT CAST(MAX(id) AS BIGINT) FROM security_events WHERE {whose} AND {resets}");
        let last: Option<i64> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(school_id).bind(id).bind(login).fetch_one(&mut *conn).await?;
        last.unwrap_or(0)
    } else {
        0
    };
    let sql = format!("SELECT at FROM security_events WHERE {whose} AND kind = $4 AND at >= $5 AND id > $6 ORDER BY id DESC");
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(school_id)
        .bind(id)
        .bind(login)
        .bind(kind)
        .bind(since)
        .bind(after)
        .fetch_all(&mut *conn)
        .await?)
}
