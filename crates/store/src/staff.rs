//! Staff of the finance offices and their sessions.

use crate::db::{Store, StoreError, WriteTx, map_rows, now};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone)]
pub struct StaffRow {
    pub id: i64,
    pub school_id: Option<i64>,
    pub login: String,
    pub name: String,
    /// `domain::office::Role` by name; the app decodes it strictly.
    pub role: String,
    pub password_hash: String,
    pub totp_secret: Option<String>,
    /// A secret being set up, until a code confirms it.
    pub totp_pending: Option<String>,
    /// The last TOTP step a code was accepted for.
    pub totp_last_step: i64,
    pub must_change_password: bool,
    pub disabled: bool,
    pub created_at: i64,
}

fn staff(r: &AnyRow) -> Result<StaffRow, sqlx::Error> {
    Ok(StaffRow {
        id: r.try_get("id")?,
        school_id: r.try_get("school_id")?,
        login: r.try_get("login")?,
        name: r.try_get("name")?,
        role: r.try_get("role")?,
        password_hash: r.try_get("password_hash")?,
        totp_secret: r.try_get("totp_secret")?,
        totp_pending: r.try_get("totp_pending")?,
        totp_last_step: r.try_get("totp_last_step")?,
        must_change_password: r.try_get::<i64, _>("must_change_password")? != 0,
        disabled: r.try_get::<i64, _>("disabled")? != 0,
        created_at: r.try_get("created_at")?,
    })
}

macro_rules! staff_columns {
    () => {
        "id, school_id, login, name, role, password_hash, totp_secret, totp_pending, totp_last_step, must_change_password, disabled, created_at"
    };
}

pub struct NewStaff<'a> {
    pub school_id: Option<i64>,
    pub login: &'a str,
    pub name: &'a str,
    pub role: &'a str,
    pub password_hash: &'a str,
    pub must_change_password: bool,
}

#[derive(Debug, Clone)]
pub struct StaffSessionRow {
    pub token_hash: String,
    pub staff_id: i64,
    pub csrf_token: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub idle_timeout_s: i64,
    pub expires_at: i64,
    pub ip: String,
    pub user_agent: String,
}

impl StaffSessionRow {
    pub fn is_live_at(&self, t: i64) -> bool {
        t < self.expires_at && t < self.last_seen_at + self.idle_timeout_s
    }
}

fn staff_session(r: &AnyRow) -> Result<StaffSessionRow, sqlx::Error> {
    Ok(StaffSessionRow {
        token_hash: r.try_get("token_hash")?,
        staff_id: r.try_get("staff_id")?,
        csrf_token: r.try_get("csrf_token")?,
        created_at: r.try_get("created_at")?,
        last_seen_at: r.try_get("last_seen_at")?,
        idle_timeout_s: r.try_get("idle_timeout_s")?,
        expires_at: r.try_get("expires_at")?,
        ip: r.try_get("ip")?,
        user_agent: r.try_get("user_agent")?,
    })
}

impl Store {
    /// Adds a staff member; a login taken in the same school (or among the platform's
    /// operators) is a `Conflict`.
    pub async fn insert_staff(&self, tx: &mut WriteTx, s: &NewStaff<'_>) -> Result<i64, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO staff (school_id, login, name, role, password_hash, must_change_password, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(s.school_id)
        .bind(s.login)
        .bind(s.name)
        .bind(s.role)
        .bind(s.password_hash)
        .bind(i64::from(s.must_change_password))
        .bind(now())
        .fetch_one(&mut *tx.tx)
        .await
        .map_err(|e| StoreError::from_write(e, "staff login taken"))?;
        Ok(id)
    }

    /// The staff member with this login in the school (`None`: among the platform's operators).
    pub async fn staff_by_login(&self, school_id: Option<i64>, login: &str) -> Result<Option<StaffRow>, StoreError> {
        let row = sqlx::query(concat!("SELECT ", staff_columns!(), " FROM staff WHERE COALESCE(school_id, 0) = $1 AND login = $2"))
            .bind(school_id.unwrap_or(0))
            .bind(login)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(staff).transpose()?)
    }

    pub async fn staff_by_id(&self, id: i64) -> Result<Option<StaffRow>, StoreError> {
        let row =
            sqlx::query(concat!("SELECT ", staff_columns!(), " FROM staff WHERE id = $1")).bind(id).fetch_optional(self.pool()).await?;
        Ok(row.as_ref().map(staff).transpose()?)
    }

    /// The school's staff, by login.
    pub async fn staff_of_school(&self, school_id: i64) -> Result<Vec<StaffRow>, StoreError> {
        let rows = sqlx::query(concat!("SELECT ", staff_columns!(), " FROM staff WHERE school_id = $1 ORDER BY login"))
            .bind(school_id)
            .fetch_all(self.pool())
            .await?;
        map_rows(&rows, staff)
    }

    pub async fn insert_staff_session(&self, tx: &mut WriteTx, s: &StaffSessionRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO staff_sessions (token_hash, staff_id, csrf_token, created_at, last_seen_at, idle_timeout_s, expires_at, ip, user_agent) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&s.token_hash)
        .bind(s.staff_id)
        .bind(&s.csrf_token)
        .bind(s.created_at)
        .bind(s.last_seen_at)
        .bind(s.idle_timeout_s)
        .bind(s.expires_at)
        .bind(&s.ip)
        .bind(&s.user_agent[..s.user_agent.floor_char_boundary(300)])
        .execute(&mut *tx.tx)
        .await?;
        Ok(())
    }

    /// A session that has not been ended (the caller checks its timeouts).
    pub async fn staff_session(&self, token_hash: &str) -> Result<Option<StaffSessionRow>, StoreError> {
        let row = sqlx::query(
            "SELECT token_hash, staff_id, csrf_token, created_at, last_seen_at, idle_timeout_s, expires_at, ip, user_agent \
             FROM staff_sessions WHERE token_hash = $1 AND ended_at IS NULL",
        )
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(staff_session).transpose()?)
    }

    /// Records activity; only called when the last record is a minute old, so reading pages
    /// costs no write.
    pub async fn touch_staff_session(&self, token_hash: &str, t: i64) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query("UPDATE staff_sessions SET last_seen_at = $1 WHERE token_hash = $2 AND ended_at IS NULL")
            .bind(t)
            .bind(token_hash)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await
    }

    /// A new password; the forced change is done, and every other session of the staff member
    /// ends with it.
    pub async fn set_staff_password(&self, tx: &mut WriteTx, staff_id: i64, hash: &str, keep_session: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE staff SET password_hash = $1, must_change_password = 0 WHERE id = $2")
            .bind(hash)
            .bind(staff_id)
            .execute(&mut *tx.tx)
            .await?;
        sqlx::query("UPDATE staff_sessions SET ended_at = $1 WHERE staff_id = $2 AND token_hash <> $3 AND ended_at IS NULL")
            .bind(now())
            .bind(staff_id)
            .bind(keep_session)
            .execute(&mut *tx.tx)
            .await?;
        Ok(())
    }

    /// Disables (every session ends) or enables a staff account.
    pub async fn set_staff_disabled(&self, tx: &mut WriteTx, staff_id: i64, disabled: bool) -> Result<(), StoreError> {
        sqlx::query("UPDATE staff SET disabled = $1 WHERE id = $2").bind(i64::from(disabled)).bind(staff_id).execute(&mut *tx.tx).await?;
        if disabled {
            self.end_staff_sessions(tx, staff_id).await?;
        }
        Ok(())
    }

    /// A new one-time password, to be changed at the next login; every session ends.
    pub async fn reset_staff_password(&self, tx: &mut WriteTx, staff_id: i64, hash: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE staff SET password_hash = $1, must_change_password = 1 WHERE id = $2")
            .bind(hash)
            .bind(staff_id)
            .execute(&mut *tx.tx)
            .await?;
        self.end_staff_sessions(tx, staff_id).await
    }

    async fn end_staff_sessions(&self, tx: &mut WriteTx, staff_id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE staff_sessions SET ended_at = $1 WHERE staff_id = $2 AND ended_at IS NULL")
            .bind(now())
            .bind(staff_id)
            .execute(&mut *tx.tx)
            .await?;
        Ok(())
    }

    pub async fn end_staff_session(&self, tx: &mut WriteTx, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE staff_sessions SET ended_at = $1 WHERE token_hash = $2 AND ended_at IS NULL")
            .bind(now())
            .bind(token_hash)
            .execute(&mut *tx.tx)
            .await?;
        Ok(())
    }

    pub async fn set_totp_pending(&self, tx: &mut WriteTx, staff_id: i64, secret: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE staff SET totp_pending = $1 WHERE id = $2").bind(secret).bind(staff_id).execute(&mut *tx.tx).await?;
        Ok(())
    }

    pub async fn enable_totp(&self, tx: &mut WriteTx, staff_id: i64, secret: &str, step: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE staff SET totp_secret = $1, totp_pending = NULL, totp_last_step = $2 WHERE id = $3")
            .bind(secret)
            .bind(step)
            .bind(staff_id)
            .execute(&mut *tx.tx)
            .await?;
        Ok(())
    }

    /// Takes a TOTP step for a login: only if no code of this or a later step was used, so
    /// two requests with one code (or a replay) log in once.
    pub async fn use_totp_step(&self, tx: &mut WriteTx, staff_id: i64, step: i64) -> Result<bool, StoreError> {
        let n = sqlx::query("UPDATE staff SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1")
            .bind(step)
            .bind(staff_id)
            .execute(&mut *tx.tx)
            .await?
            .rows_affected();
        Ok(n == 1)
    }
}
