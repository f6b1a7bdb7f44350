//! Background exports (`exports`): asked for by the office, rendered by the job runner, kept
//! for a while, then emptied.

use crate::db::{Store, StoreError, WriteTx, map_rows, word};
use campuspay_domain::office::{ExportKind, ExportStatus};
use sqlx::Row;

/// An export as the office sees it (without its bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRow {
    pub id: i64,
    pub school_id: i64,
    pub staff_id: i64,
    pub kind: ExportKind,
    /// The report's parameters, JSON.
    pub params: String,
    pub status: ExportStatus,
    pub stage: i64,
    pub stages: i64,
    pub rows_total: i64,
    pub file_name: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub error: String,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    pub expires_at: Option<i64>,
}

const COLUMNS: &str = "id, school_id, staff_id, kind, params, status, stage, stages, rows_total, file_name, sha256, size_bytes, \
                       error, created_at, finished_at, expires_at";

fn export_of(r: &sqlx::any::AnyRow) -> Result<ExportRow, sqlx::Error> {
    Ok(ExportRow {
        id: r.try_get("id")?,
        school_id: r.try_get("school_id")?,
        staff_id: r.try_get("staff_id")?,
        kind: word(r, "kind")?,
        params: r.try_get("params")?,
        status: word(r, "status")?,
        stage: r.try_get("stage")?,
        stages: r.try_get("stages")?,
        rows_total: r.try_get("rows_total")?,
        file_name: r.try_get("file_name")?,
        sha256: r.try_get("sha256")?,
        size_bytes: r.try_get("size_bytes")?,
        error: r.try_get("error")?,
        created_at: r.try_get("created_at")?,
        finished_at: r.try_get("finished_at")?,
        expires_at: r.try_get("expires_at")?,
    })
}

impl Store {
    pub async fn insert_export(
        &self,
        tx: &mut WriteTx,
        school_id: i64,
        staff_id: i64,
        kind: ExportKind,
        params: &str,
        now: i64,
    ) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO exports (school_id, staff_id, kind, params, status, created_at) VALUES ($1, $2, $3, $4, 'queued', $5) RETURNING id",
        )
        .bind(school_id)
        .bind(staff_id)
        .bind(kind.as_str())
        .bind(params)
        .bind(now)
        .fetch_one(&mut *tx.tx)
        .await
        .map_err(StoreError::from)
    }

    /// An export by id alone (the job runner's view); callers for the office use
    /// [`Store::export_of_school`].
    pub async fn export_by_id(&self, id: i64) -> Result<Option<ExportRow>, StoreError> {
        let q = format!("SELECT {COLUMNS} FROM exports WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(q)).bind(id).fetch_optional(&self.pool).await?;
        Ok(row.as_ref().map(export_of).transpose()?)
    }

    pub async fn export_of_school(&self, school_id: i64, id: i64) -> Result<Option<ExportRow>, StoreError> {
        let q = format!("SELECT {COLUMNS} FROM exports WHERE school_id = $1 AND id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(q)).bind(school_id).bind(id).fetch_optional(&self.pool).await?;
        Ok(row.as_ref().map(export_of).transpose()?)
    }

    /// The school's latest exports, newest first.
    pub async fn exports_of_school(&self, school_id: i64, limit: i64) -> Result<Vec<ExportRow>, StoreError> {
        let q = format!("SELECT {COLUMNS} FROM exports WHERE school_id = $1 ORDER BY id DESC LIMIT $2");
        let rows = sqlx::query(sqlx::AssertSqlSafe(q)).bind(school_id).bind(limit).fetch_all(&self.pool).await?;
        map_rows(&rows, export_of)
    }

    /// The workbook's bytes (base64) of a ready export of the school.
    pub async fn export_content(&self, school_id: i64, id: i64) -> Result<Option<String>, StoreError> {
        let c: Option<String> = sqlx::query_scalar("SELECT content FROM exports WHERE school_id = $1 AND id = $2 AND status = 'ready'")
            .bind(school_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(c)
    }

    /// Moves an unfinished export on: its status, the stage reached and the rows read.
    pub async fn set_export_progress(&self, id: i64, status: ExportStatus, stage: i64, rows_total: i64) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query("UPDATE exports SET status = $2, stage = $3, rows_total = $4 WHERE id = $1 AND status IN ('queued', 'running')")
            .bind(id)
            .bind(status.as_str())
            .bind(stage)
            .bind(rows_total)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await
    }

    /// Stores the finished workbook; it may be downloaded until `expires_at`.
    #[allow(clippy::too_many_arguments)]
    pub async fn finish_export(
        &self,
        tx: &mut WriteTx,
        id: i64,
        file_name: &str,
        sha256: &str,
        size_bytes: i64,
        content_base64: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE exports SET status = 'ready', stage = stages, file_name = $2, sha256 = $3, size_bytes = $4, content = $5, \
             finished_at = $6, expires_at = $7 WHERE id = $1 AND status IN ('queued', 'running')",
        )
        .bind(id)
        .bind(file_name)
        .bind(sha256)
        .bind(size_bytes)
        .bind(content_base64)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx.tx)
        .await?;
        Ok(())
    }

    pub async fn fail_export(&self, id: i64, error: &str, now: i64) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query("UPDATE exports SET status = 'failed', error = $2, finished_at = $3 WHERE id = $1 AND status IN ('queued', 'running')")
            .bind(id)
            .bind(error)
            .bind(now)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await
    }

    /// Removes a ready export's file once it is due; the row stays as the record.
    pub async fn expire_export(&self, id: i64, now: i64) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query("UPDATE exports SET status = 'expired', content = '' WHERE id = $1 AND status = 'ready' AND expires_at <= $2")
            .bind(id)
            .bind(now)
            .execute(&mut *tx.tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }
}
