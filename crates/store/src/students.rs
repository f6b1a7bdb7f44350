//! Students. Every query names the school: nothing of one school is reachable from another.

use crate::db::{Store, StoreError, WriteTx, now};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone)]
pub struct Student {
    pub id: i64,
    pub school_id: i64,
    pub student_no: String,
    pub name: String,
    pub gender: String,
    pub id_card: String,
    pub phone: String,
    pub email: String,
    pub postcode: String,
    pub address: String,
    pub department: String,
    pub major: String,
    pub level: String,
    pub class_name: String,
    pub enrol_year: i64,
    /// `None` while the initial password is in force.
    pub password_hash: Option<String>,
    pub security_email: String,
    /// The office reset the password: the next login must change it.
    pub force_password_change: bool,
}

/// A student as imported or seeded; the password starts as the policy's initial one.
pub struct NewStudent<'a> {
    pub school_id: i64,
    pub student_no: &'a str,
    pub name: &'a str,
    pub gender: &'a str,
    pub id_card: &'a str,
    pub phone: &'a str,
    pub email: &'a str,
    pub department: &'a str,
    pub major: &'a str,
    pub level: &'a str,
    pub class_name: &'a str,
    pub enrol_year: i64,
}

macro_rules! columns {
    () => {
        "id, school_id, student_no, name, gender, id_card, phone, email, postcode, address, department, \
                       major, level, class_name, enrol_year, password_hash, security_email, force_password_change"
    };
}

fn student(r: &AnyRow) -> Result<Student, sqlx::Error> {
    Ok(Student {
        id: r.try_get("id")?,
        school_id: r.try_get("school_id")?,
        student_no: r.try_get("student_no")?,
        name: r.try_get("name")?,
        gender: r.try_get("gender")?,
        id_card: r.try_get("id_card")?,
        phone: r.try_get("phone")?,
        email: r.try_get("email")?,
        postcode: r.try_get("postcode")?,
        address: r.try_get("address")?,
        department: r.try_get("department")?,
        major: r.try_get("major")?,
        level: r.try_get("level")?,
        class_name: r.try_get("class_name")?,
        enrol_year: r.try_get("enrol_year")?,
        password_hash: r.try_get("password_hash")?,
        security_email: r.try_get("security_email")?,
        force_password_change: r.try_get::<i64, _>("force_password_change")? != 0,
    })
}

impl Store {
    /// The student a login box names: by student number, or by phone where the school allows
    /// it. A phone shared by two students of the school names nobody.
    pub async fn student_for_login(&self, school_id: i64, login: &str, by_phone: bool) -> Result<Option<Student>, StoreError> {
        if let Some(s) = self.student_by_no(school_id, login).await? {
            return Ok(Some(s));
        }
        if !by_phone {
            return Ok(None);
        }
        let rows = sqlx::query(concat!("SELECT ", columns!(), " FROM students WHERE school_id = $1 AND phone = $2 LIMIT 2"))
            .bind(school_id)
            .bind(login)
            .fetch_all(&self.pool)
            .await?;
        if rows.len() == 1 { Ok(Some(student(&rows[0])?)) } else { Ok(None) }
    }

    pub async fn student_by_no(&self, school_id: i64, student_no: &str) -> Result<Option<Student>, StoreError> {
        let row = sqlx::query(concat!("SELECT ", columns!(), " FROM students WHERE school_id = $1 AND student_no = $2"))
            .bind(school_id)
            .bind(student_no)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(student).transpose()?)
    }

    pub async fn student(&self, school_id: i64, id: i64) -> Result<Option<Student>, StoreError> {
        let row = sqlx::query(concat!("SELECT ", columns!(), " FROM students WHERE school_id = $1 AND id = $2"))
            .bind(school_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(student).transpose()?)
    }

    pub async fn insert_student(&self, tx: &mut WriteTx, s: &NewStudent<'_>) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO students (school_id, student_no, name, gender, id_card, phone, email, department, major, level, \
             class_name, enrol_year, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
        )
        .bind(s.school_id)
        .bind(s.student_no)
        .bind(s.name)
        .bind(s.gender)
        .bind(s.id_card)
        .bind(s.phone)
        .bind(s.email)
        .bind(s.department)
        .bind(s.major)
        .bind(s.level)
        .bind(s.class_name)
        .bind(s.enrol_year)
        .bind(now())
        .fetch_one(&mut *tx.tx)
        .await
        .map_err(|e| StoreError::from_write(e, "student number"))
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn update_profile(
        &self,
        tx: &mut WriteTx,
        school_id: i64,
        id: i64,
        phone: &str,
        email: &str,
        postcode: &str,
        address: &str,
    ) -> Result<(), StoreError> {
        let n = sqlx::query("UPDATE students SET phone = $1, email = $2, postcode = $3, address = $4 WHERE school_id = $5 AND id = $6")
            .bind(phone)
            .bind(email)
            .bind(postcode)
            .bind(address)
            .bind(school_id)
            .bind(id)
            .execute(&mut *tx.tx)
            .await?
            .rows_affected();
        if n == 1 { Ok(()) } else { Err(StoreError::NotFound) }
    }

    /// Sets a new password hash and ends every session of the student but `keep_session`, in
    /// one transaction: no window in which an old session outlives the change.
    pub async fn set_password(
        &self,
        tx: &mut WriteTx,
        school_id: i64,
        id: i64,
        hash: &str,
        keep_session: Option<&str>,
    ) -> Result<(), StoreError> {
        let at = now();
        let n = sqlx::query(
            "UPDATE students SET password_hash = $1, password_changed_at = $2, force_password_change = 0 WHERE school_id = $3 AND id = $4",
        )
        .bind(hash)
        .bind(at)
        .bind(school_id)
        .bind(id)
        .execute(&mut *tx.tx)
        .await?
        .rows_affected();
        if n != 1 {
            return Err(StoreError::NotFound);
        }
        sqlx::query("UPDATE sessions SET ended_at = $1 WHERE student_id = $2 AND ended_at IS NULL AND token_hash <> $3")
            .bind(at)
            .bind(id)
            .bind(keep_session.unwrap_or(""))
            .execute(&mut *tx.tx)
            .await?;
        if let Some(keep) = keep_session {
            sqlx::query("UPDATE sessions SET must_change_password = 0 WHERE token_hash = $1").bind(keep).execute(&mut *tx.tx).await?;
        }
        Ok(())
    }

    /// The office's reset: back to the school's initial-password rule, a change forced at the
    /// next login, every session and recovery link or code of the student ended.
    pub async fn reset_to_initial_password(&self, tx: &mut WriteTx, school_id: i64, student_id: i64) -> Result<(), StoreError> {
        let at = now();
        let n = sqlx::query(
            "UPDATE students SET password_hash = NULL, password_changed_at = $1, force_password_change = 1 WHERE school_id = $2 AND id = $3",
        )
        .bind(at)
        .bind(school_id)
        .bind(student_id)
        .execute(&mut *tx.tx)
        .await?
        .rows_affected();
        if n != 1 {
            return Err(StoreError::NotFound);
        }
        for sql in [
            "UPDATE sessions SET ended_at = $1 WHERE school_id = $2 AND student_id = $3 AND ended_at IS NULL",
            "UPDATE recovery_tokens SET used_at = $1 WHERE school_id = $2 AND student_id = $3 AND used_at IS NULL",
        ] {
            sqlx::query(sql).bind(at).bind(school_id).bind(student_id).execute(&mut *tx.tx).await?;
        }
        Ok(())
    }
}
