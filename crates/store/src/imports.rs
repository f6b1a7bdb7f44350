//! Uploaded files between preview and commit, and the students an import writes.

use crate::db::{On, Store, StoreError, WriteTx, map_rows, now, word};
use campuspay_domain::office::ImportKind;
use sqlx::Row;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// An upload as it arrives: kept at once, checked in the background (`finish_import_check`).
pub struct NewImport<'a> {
    pub school_id: i64,
    pub staff_id: i64,
    pub kind: ImportKind,
    pub file_name: &'a str,
    pub file_sha256: &'a str,
}

#[derive(Debug, Clone)]
pub struct ImportRow {
    pub id: i64,
    pub school_id: i64,
    pub staff_id: i64,
    pub kind: ImportKind,
    pub file_name: String,
    pub row_count: i64,
    pub payload: String,
    pub errors: String,
    pub created_at: i64,
    /// When its rows were checked and the preview kept; `None` while the check runs.
    pub checked_at: Option<i64>,
    /// Why the file could not be checked (JSON `{"code","zh","en"}`), if it could not.
    pub failure: Option<String>,
    /// The rows a commit writes, once checked (`None` for imports checked before it was kept).
    pub valid_rows: Option<i64>,
    /// `(created, updated, committed_at)` once committed.
    pub committed: Option<(i64, i64, i64)>,
    /// While checked: when the instance doing it last wrote its figures, and the figures
    /// (rows checked of rows read; 0 of 0 while the file is being read).
    pub heartbeat_at: Option<i64>,
    pub rows_done: i64,
    pub rows_total: i64,
}

/// A student as a roster row gives it. Empty phone or e-mail cells keep what the student
/// entered themselves.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RosterStudent {
    pub student_no: String,
    pub name: String,
    pub gender: String,
    pub id_card: String,
    pub department: String,
    pub major: String,
    pub level: String,
    pub enrol_year: i64,
    pub class_name: String,
    pub phone: String,
    pub email: String,
}

/// How many rows go in one multi-row INSERT: SQLite allows 32,766 parameters per statement.
const BATCH: usize = 500;

fn import_row(r: &sqlx::any::AnyRow) -> Result<ImportRow, sqlx::Error> {
    let committed_at: Option<i64> = r.try_get("committed_at")?;
    Ok(ImportRow {
        id: r.try_get("id")?,
        school_id: r.try_get("school_id")?,
        staff_id: r.try_get("staff_id")?,
        kind: word(r, "kind")?,
        file_name: r.try_get("file_name")?,
        row_count: r.try_get("row_count")?,
        payload: r.try_get("payload")?,
        errors: r.try_get("errors")?,
        created_at: r.try_get("created_at")?,
        checked_at: r.try_get("checked_at")?,
        failure: r.try_get("failure")?,
        valid_rows: r.try_get("valid_rows")?,
        committed: match committed_at {
            Some(at) => Some((r.try_get("created")?, r.try_get("updated")?, at)),
            None => None,
        },
        heartbeat_at: r.try_get("heartbeat_at")?,
        rows_done: r.try_get("rows_done")?,
        rows_total: r.try_get("rows_total")?,
    })
}

const IMPORT_COLUMNS: &str = "i.id, i.school_id, i.staff_id, i.kind, i.file_name, i.row_count, i.payload, i.errors, i.created_at, \
                              i.checked_at, i.failure, i.valid_rows, c.created, c.updated, c.committed_at, \
                              i.heartbeat_at, i.rows_done, i.rows_total";

impl Store {
    pub async fn insert_import(&self, tx: &mut WriteTx, i: &NewImport<'_>) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO imports (school_id, staff_id, kind, file_name, file_sha256, row_count, payload, errors, created_at, heartbeat_at) \
             VALUES ($1, $2, $3, $4, $5, 0, '', '[]', $6, $6) RETURNING id",
        )
        .bind(i.school_id)
        .bind(i.staff_id)
        .bind(i.kind.as_str())
        .bind(i.file_name)
        .bind(i.file_sha256)
        .bind(now())
        .fetch_one(&mut *tx.tx)
        .await
        .map_err(|e| StoreError::from_write(e, "import"))
    }

    /// Keeps the checked rows of an upload still being checked: its preview is ready. `false`
    /// when the check had been given up (a restart in between), so nothing was kept.
    pub async fn finish_import_check(
        &self,
        import_id: i64,
        row_count: i64,
        valid_rows: i64,
        payload: &str,
        errors: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE imports SET row_count = $1, valid_rows = $2, payload = $3, errors = $4, checked_at = $5 \
             WHERE id = $6 AND checked_at IS NULL AND failure IS NULL",
        )
        .bind(row_count)
        .bind(valid_rows)
        .bind(payload)
        .bind(errors)
        .bind(now())
        .bind(import_id)
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records why an upload could not be checked (the file is unreadable, lacks columns…).
    pub async fn fail_import_check(&self, import_id: i64, failure: &str) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query("UPDATE imports SET failure = $1 WHERE id = $2 AND checked_at IS NULL AND failure IS NULL")
            .bind(failure)
            .bind(import_id)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The figures of a check still running, written by the instance doing it (at `at`).
    pub async fn beat_import_check(&self, import_id: i64, done: i64, total: i64, at: i64) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "UPDATE imports SET heartbeat_at = $1, rows_done = $2, rows_total = $3 WHERE id = $4 AND checked_at IS NULL AND failure IS NULL",
        )
        .bind(at)
        .bind(done)
        .bind(total)
        .bind(import_id)
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Gives up the checks whose heartbeat stopped before `stale_before` (their server
    /// stopped); returns how many.
    pub async fn fail_stalled_import_checks(&self, failure: &str, stale_before: i64) -> Result<u64, StoreError> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE imports SET failure = $1 WHERE checked_at IS NULL AND failure IS NULL \
             AND (heartbeat_at IS NULL OR heartbeat_at < $2)",
        )
        .bind(failure)
        .bind(stale_before)
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// An import of the school (another school's id is simply not found).
    pub async fn import(&self, on: On<'_>, school_id: i64, id: i64) -> Result<Option<ImportRow>, StoreError> {
        let sql = format!(
            "SELECT {IMPORT_COLUMNS} FROM imports i LEFT JOIN import_commits c ON c.import_id = i.id WHERE i.school_id = $1 AND i.id = $2"
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(school_id).bind(id);
        Ok(self.fetch_optional(on, q).await?.map(|r| import_row(&r)).transpose()?)
    }

    /// The school's latest imports, newest first, without their payloads' weight mattering:
    /// the list shows counts only.
    pub async fn recent_imports(&self, school_id: i64, limit: i64) -> Result<Vec<ImportRow>, StoreError> {
        let sql = format!(
            "SELECT {IMPORT_COLUMNS} FROM imports i LEFT JOIN import_commits c ON c.import_id = i.id \
             WHERE i.school_id = $1 ORDER BY i.id DESC LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(school_id).bind(limit).fetch_all(self.pool()).await?;
        map_rows(&rows, import_row)
    }

    /// Marks the import committed. A second commit of the same import is `Conflict`.
    pub async fn insert_import_commit(
        &self,
        tx: &mut WriteTx,
        import_id: i64,
        staff_id: i64,
        created: i64,
        updated: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO import_commits (import_id, staff_id, created, updated, committed_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(import_id)
            .bind(staff_id)
            .bind(created)
            .bind(updated)
            .bind(now())
            .execute(&mut *tx.tx)
            .await
            .map_err(|e| StoreError::from_write(e, "import already committed"))?;
        Ok(())
    }

    /// Every student's number and ID card at the school, to find one person imported twice.
    pub async fn student_cards(&self, school_id: i64) -> Result<Vec<(String, String)>, StoreError> {
        Ok(sqlx::query_as("SELECT student_no, id_card FROM students WHERE school_id = $1").bind(school_id).fetch_all(self.pool()).await?)
    }

    /// The figures of a commit, set in the commit's own transaction once it has written.
    pub async fn set_import_counts(&self, tx: &mut WriteTx, import_id: i64, created: i64, updated: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE import_commits SET created = $1, updated = $2 WHERE import_id = $3")
            .bind(created)
            .bind(updated)
            .bind(import_id)
            .execute(&mut *tx.tx)
            .await?;
        Ok(())
    }

    /// Writes a roster: new students are inserted (many per statement), changed ones updated,
    /// identical ones left alone. Returns how many were created and updated.
    /// `written` counts the rows dealt with so far, for the office's progress bar.
    pub async fn upsert_roster(
        &self,
        tx: &mut WriteTx,
        school_id: i64,
        roster: &[RosterStudent],
        written: &AtomicU64,
    ) -> Result<(i64, i64), StoreError> {
        let rows = sqlx::query(
            "SELECT id, student_no, name, gender, id_card, department, major, level, enrol_year, class_name, phone, email \
             FROM students WHERE school_id = $1",
        )
        .bind(school_id)
        .fetch_all(&mut *tx.tx)
        .await?;
        let mut existing: HashMap<String, (i64, RosterStudent)> = HashMap::with_capacity(rows.len());
        for r in &rows {
            let s = RosterStudent {
                student_no: r.try_get("student_no")?,
                name: r.try_get("name")?,
                gender: r.try_get("gender")?,
                id_card: r.try_get("id_card")?,
                department: r.try_get("department")?,
                major: r.try_get("major")?,
                level: r.try_get("level")?,
                enrol_year: r.try_get("enrol_year")?,
                class_name: r.try_get("class_name")?,
                phone: r.try_get("phone")?,
                email: r.try_get("email")?,
            };
            existing.insert(s.student_no.clone(), (r.try_get("id")?, s));
        }
        let mut new = Vec::new();
        let mut updated = 0i64;
        for s in roster {
            match existing.get(&s.student_no) {
                None => new.push(s),
                Some((id, old)) => {
                    let merged = RosterStudent {
                        phone: if s.phone.is_empty() { old.phone.clone() } else { s.phone.clone() },
                        email: if s.email.is_empty() { old.email.clone() } else { s.email.clone() },
                        ..s.clone()
                    };
                    if merged != *old {
                        self.update_roster_student(tx, *id, &merged).await?;
                        updated += 1;
                    }
                    written.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        let created = new.len() as i64;
        let at = now();
        for chunk in new.chunks(BATCH) {
            let mut sql = String::from(
                "INSERT INTO students (school_id, student_no, name, gender, id_card, phone, email, department, major, level, class_name, enrol_year, created_at) VALUES ",
            );
            for i in 0..chunk.len() {
                let b = i * 13;
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push('(');
                sql.push_str(&(1..=13).map(|k| format!("${}", b + k)).collect::<Vec<_>>().join(", "));
                sql.push(')');
            }
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for s in chunk {
                q = q
                    .bind(school_id)
                    .bind(&s.student_no)
                    .bind(&s.name)
                    .bind(&s.gender)
                    .bind(&s.id_card)
                    .bind(&s.phone)
                    .bind(&s.email)
                    .bind(&s.department)
                    .bind(&s.major)
                    .bind(&s.level)
                    .bind(&s.class_name)
                    .bind(s.enrol_year)
                    .bind(at);
            }
            q.execute(&mut *tx.tx).await.map_err(|e| StoreError::from_write(e, "student number"))?;
            written.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
        Ok((created, updated))
    }

    async fn update_roster_student(&self, tx: &mut WriteTx, id: i64, s: &RosterStudent) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE students SET name = $1, gender = $2, id_card = $3, department = $4, major = $5, level = $6, enrol_year = $7, \
             class_name = $8, phone = $9, email = $10 WHERE id = $11",
        )
        .bind(&s.name)
        .bind(&s.gender)
        .bind(&s.id_card)
        .bind(&s.department)
        .bind(&s.major)
        .bind(&s.level)
        .bind(s.enrol_year)
        .bind(&s.class_name)
        .bind(&s.phone)
        .bind(&s.email)
        .bind(id)
        .execute(&mut *tx.tx)
        .await?;
        Ok(())
    }
}
