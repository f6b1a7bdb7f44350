//! The job queue: background work any instance may claim. A claim is a lease: a job whose
//! instance died is claimed again when its lease runs out, so no job is lost.

use crate::db::{Backend, Store, StoreError, WriteTx, now};

#[derive(Debug, Clone)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub ref_id: i64,
    /// How many times it has been claimed, this time included.
    pub attempts: i64,
}

pub const LEASE_S: i64 = 60;

impl Store {
    pub async fn enqueue_job(&self, tx: &mut WriteTx, kind: &str, ref_id: i64, run_at: i64) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO jobs (kind, ref_id, run_at, created_at) VALUES ($1, $2, $3, $4)")
            .bind(kind)
            .bind(ref_id)
            .bind(run_at)
            .bind(now())
            .execute(&mut *tx.tx)
            .await?;
        Ok(())
    }

    /// Claims the most overdue job, if any. PostgreSQL instances skip each other's locked rows;
    /// on SQLite the single writer makes the claim atomic.
    pub async fn claim_job(&self) -> Result<Option<Job>, StoreError> {
        let t = now();
        let sql = match self.backend() {
            Backend::Postgres => {
                "UPDATE jobs SET locked_until = $1 + $2, attempts = attempts + 1 WHERE id = (SELECT id FROM jobs \
                 WHERE done_at IS NULL AND run_at <= $1 AND (locked_until IS NULL OR locked_until < $1) \
                 ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id, kind, ref_id, attempts"
            }
            Backend::Sqlite => {
                "UPDATE jobs SET locked_until = $1 + $2, attempts = attempts + 1 WHERE id = (SELECT id FROM jobs \
                 WHERE done_at IS NULL AND run_at <= $1 AND (locked_until IS NULL OR locked_until < $1) \
                 ORDER BY run_at, id LIMIT 1) RETURNING id, kind, ref_id, attempts"
            }
        };
        let mut tx = self.write_tx().await?;
        let row: Option<(i64, String, i64, i64)> = sqlx::query_as(sql).bind(t).bind(LEASE_S).fetch_optional(&mut *tx.tx).await?;
        tx.commit().await?;
        Ok(row.map(|(id, kind, ref_id, attempts)| Job { id, kind, ref_id, attempts }))
    }

    /// Marks a job done, if this claim (`attempts`) still holds it: a run that outlived its
    /// lease does not overwrite the outcome of the run that took over.
    pub async fn finish_job(&self, job: &Job) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query("UPDATE jobs SET done_at = $1, locked_until = NULL WHERE id = $2 AND attempts = $3")
            .bind(now())
            .bind(job.id)
            .bind(job.attempts)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await
    }

    /// Puts a claimed job back, to run again at `run_at`.
    pub async fn retry_job(&self, job: &Job, run_at: i64, error: &str) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query("UPDATE jobs SET run_at = $1, locked_until = NULL, last_error = $2 WHERE id = $3 AND attempts = $4")
            .bind(run_at)
            .bind(&error[..error.floor_char_boundary(500)])
            .bind(job.id)
            .bind(job.attempts)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await
    }

    /// Brings a pending job of this kind and reference forward to now (a student is watching).
    pub async fn hurry_job(&self, kind: &str, ref_id: i64, not_before: i64) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "UPDATE jobs SET run_at = $1 WHERE kind = $2 AND ref_id = $3 AND done_at IS NULL AND locked_until IS NULL AND run_at > $1 AND $1 >= $4",
        )
        .bind(now())
        .bind(kind)
        .bind(ref_id)
        .bind(not_before)
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await
    }

    pub async fn has_job(&self, kind: &str, ref_id: i64) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE kind = $1 AND ref_id = $2")
            .bind(kind)
            .bind(ref_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    /// Jobs not done yet (for tests and the office's view).
    pub async fn pending_jobs(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE done_at IS NULL").fetch_one(&self.pool).await?)
    }
}
