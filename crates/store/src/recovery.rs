//! Account recovery: security e-mail and question, single-use reset links and SMS codes.
//!
//! Links and codes are stored as SHA-256 hashes only; redeeming one marks it used, sets the
//! new password and ends every session of the student in one transaction.

use crate::db::{Store, StoreError, WriteTx, now};

pub mod kind {
    pub const EMAIL_LINK: &str = "email_link";
    pub const SMS_CODE: &str = "sms_code";
}

/// A live (unused, unexpired) recovery secret.
#[derive(Debug, Clone)]
pub struct RecoveryToken {
    pub id: i64,
    pub school_id: i64,
    pub student_id: i64,
    pub token_hash: String,
    pub attempts: i64,
    pub expires_at: i64,
}

pub struct NewRecoveryToken<'a> {
    pub token_hash: &'a str,
    pub school_id: i64,
    pub student_id: i64,
    pub kind: &'a str,
    pub sent_to: &'a str,
    pub ttl_s: i64,
}

type TokenRow = (i64, i64, i64, String, i64, i64);

fn token((id, school_id, student_id, token_hash, attempts, expires_at): TokenRow) -> RecoveryToken {
    RecoveryToken { id, school_id, student_id, token_hash, attempts, expires_at }
}

impl Store {
    /// The security question of a student and the hash of its answer ('' / None when unset).
    pub async fn security_question(&self, school_id: i64, student_id: i64) -> Result<(String, Option<String>), StoreError> {
        let row: Option<(String, Option<String>)> =
            sqlx::query_as("SELECT security_question, security_answer_hash FROM students WHERE school_id = $1 AND id = $2")
                .bind(school_id)
                .bind(student_id)
                .fetch_optional(&self.pool)
                .await?;
        row.ok_or(StoreError::NotFound)
    }

    pub async fn set_security_question(
        &self,
        tx: &mut WriteTx,
        school_id: i64,
        student_id: i64,
        question: &str,
        answer_hash: &str,
    ) -> Result<(), StoreError> {
        let q = sqlx::query("UPDATE students SET security_question = $1, security_answer_hash = $2 WHERE school_id = $3 AND id = $4")
            .bind(question)
            .bind(answer_hash)
            .bind(school_id)
            .bind(student_id);
        update_one_student(tx, q).await?;
        Ok(())
    }

    pub async fn set_security_email(&self, tx: &mut WriteTx, school_id: i64, student_id: i64, email: &str) -> Result<(), StoreError> {
        let q = sqlx::query("UPDATE students SET security_email = $1 WHERE school_id = $2 AND id = $3")
            .bind(email)
            .bind(school_id)
            .bind(student_id);
        update_one_student(tx, q).await?;
        Ok(())
    }

    /// Stores a new recovery secret; earlier live ones of the same kind stop working.
    pub async fn insert_recovery_token(&self, tx: &mut WriteTx, t: &NewRecoveryToken<'_>) -> Result<(), StoreError> {
        let at = now();
        sqlx::query("UPDATE recovery_tokens SET used_at = $1 WHERE school_id = $2 AND student_id = $3 AND kind = $4 AND used_at IS NULL")
            .bind(at)
            .bind(t.school_id)
            .bind(t.student_id)
            .bind(t.kind)
            .execute(&mut *tx.tx)
            .await?;
        sqlx::query("INSERT INTO recovery_tokens (token_hash, school_id, student_id, kind, sent_to, attempts, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, 0, $6, $7)")
            .bind(t.token_hash)
            .bind(t.school_id)
            .bind(t.student_id)
            .bind(t.kind)
            .bind(t.sent_to)
            .bind(at)
            .bind(at + t.ttl_s)
            .execute(&mut *tx.tx)
            .await?;
        Ok(())
    }

    /// A live link of this school by the hash of its secret.
    pub async fn live_recovery_token(&self, school_id: i64, kind: &str, token_hash: &str) -> Result<Option<RecoveryToken>, StoreError> {
        let row: Option<TokenRow> = sqlx::query_as(
            "SELECT id, school_id, student_id, token_hash, attempts, expires_at FROM recovery_tokens \
             WHERE school_id = $1 AND kind = $2 AND token_hash = $3 AND used_at IS NULL AND expires_at > $4",
        )
        .bind(school_id)
        .bind(kind)
        .bind(token_hash)
        .bind(now())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(token))
    }

    /// The student's newest live secret of a kind (an SMS code is checked against it).
    pub async fn latest_live_recovery_token(
        &self,
        school_id: i64,
        student_id: i64,
        kind: &str,
    ) -> Result<Option<RecoveryToken>, StoreError> {
        let row: Option<TokenRow> = sqlx::query_as(
            "SELECT id, school_id, student_id, token_hash, attempts, expires_at FROM recovery_tokens \
             WHERE school_id = $1 AND student_id = $2 AND kind = $3 AND used_at IS NULL AND expires_at > $4 \
             ORDER BY id DESC LIMIT 1",
        )
        .bind(school_id)
        .bind(student_id)
        .bind(kind)
        .bind(now())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(token))
    }

    /// Counts a wrong guess at a secret; at `max_attempts` it stops working.
    pub async fn recovery_token_failed(&self, tx: &mut WriteTx, id: i64, max_attempts: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE recovery_tokens SET attempts = attempts + 1 WHERE id = $1").bind(id).execute(&mut *tx.tx).await?;
        sqlx::query("UPDATE recovery_tokens SET used_at = $1 WHERE id = $2 AND attempts >= $3 AND used_at IS NULL")
            .bind(now())
            .bind(id)
            .bind(max_attempts)
            .execute(&mut *tx.tx)
            .await?;
        Ok(())
    }

    /// Secrets of a kind sent to one address/phone since `since` (the SMS daily cap).
    pub async fn recovery_tokens_sent_to(&self, kind: &str, sent_to: &str, since: i64) -> Result<Vec<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT created_at FROM recovery_tokens WHERE kind = $1 AND sent_to = $2 AND created_at >= $3 ORDER BY created_at DESC",
        )
        .bind(kind)
        .bind(sent_to)
        .bind(since)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Uses up a live secret and sets the new password, ending every session of the student,
    /// all in one transaction. `Ok(false)` when the secret was no longer live (used meanwhile,
    /// expired): nothing changed.
    pub async fn redeem_recovery_token(
        &self,
        tx: &mut WriteTx,
        token_id: i64,
        school_id: i64,
        student_id: i64,
        password_hash: &str,
    ) -> Result<bool, StoreError> {
        let at = now();
        let n = sqlx::query(
            "UPDATE recovery_tokens SET used_at = $1 WHERE id = $2 AND school_id = $3 AND student_id = $4 AND used_at IS NULL AND expires_at > $1",
        )
        .bind(at)
        .bind(token_id)
        .bind(school_id)
        .bind(student_id)
        .execute(&mut *tx.tx)
        .await?
        .rows_affected();
        if n != 1 {
            return Ok(false);
        }
        reset_password_in(tx, school_id, student_id, password_hash, at).await?;
        Ok(true)
    }

    /// Sets a new password after a recovery that needs no stored secret (a security question
    /// answered): ends every session of the student.
    pub async fn reset_password(&self, tx: &mut WriteTx, school_id: i64, student_id: i64, password_hash: &str) -> Result<(), StoreError> {
        reset_password_in(tx, school_id, student_id, password_hash, now()).await?;
        Ok(())
    }
}

async fn reset_password_in(
    tx: &mut crate::WriteTx,
    school_id: i64,
    student_id: i64,
    password_hash: &str,
    at: i64,
) -> Result<(), StoreError> {
    let q = sqlx::query(
        "UPDATE students SET password_hash = $1, password_changed_at = $2, force_password_change = 0 WHERE school_id = $3 AND id = $4",
    )
    .bind(password_hash)
    .bind(at)
    .bind(school_id)
    .bind(student_id);
    update_one_student(tx, q).await?;
    for sql in [
        // A reset ends ALL sessions: whoever had the account open must log in again.
        "UPDATE sessions SET ended_at = $1 WHERE school_id = $2 AND student_id = $3 AND ended_at IS NULL",
        // Earlier links and codes of the student stop working too.
        "UPDATE recovery_tokens SET used_at = $1 WHERE school_id = $2 AND student_id = $3 AND used_at IS NULL",
    ] {
        sqlx::query(sql).bind(at).bind(school_id).bind(student_id).execute(&mut *tx.tx).await?;
    }
    Ok(())
}

/// Runs an UPDATE of one student's row; `NotFound` unless exactly one row changed.
async fn update_one_student(
    tx: &mut crate::WriteTx,
    q: sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments>,
) -> Result<(), StoreError> {
    if q.execute(&mut *tx.tx).await?.rows_affected() != 1 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

impl Store {
    /// Times of one kind of security event of a login (as typed) at a school since `since`,
    /// newest first.
    pub async fn login_events(&self, school_id: i64, login: &str, kind: &str, since: i64) -> Result<Vec<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT at FROM security_events WHERE school_id = $1 AND login = $2 AND kind = $3 AND at >= $4 ORDER BY id DESC",
        )
        .bind(school_id)
        .bind(login)
        .bind(kind)
        .bind(since)
        .fetch_all(&self.pool)
        .await?)
    }

    /// How many events of a kind came from one address since `since`, across schools.
    pub async fn ip_events(&self, ip: &str, kind: &str, since: i64) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM security_events WHERE ip = $1 AND kind = $2 AND at >= $3")
            .bind(ip)
            .bind(kind)
            .bind(since)
            .fetch_one(&self.pool)
            .await?)
    }
}
