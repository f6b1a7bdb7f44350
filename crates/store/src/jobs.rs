//! The job queue: background work any instance may claim. A claim is a lease: a job whose
//! instance died is claimed again when its lease runs out, so no job is lost.
//!
//! The store keeps a job as its kind, its JSON payload and its queue, as text: what they
//! mean is `campuspay_app::jobs::Job`'s mapping, the only place that names a kind. Every
//! instant is passed in by the caller, whose clock tests can move.

use crate::db::{Backend, Store, StoreError, WriteTx, map_rows, placeholders};
use sqlx::Row;

/// A claimed job, as stored.
#[derive(Debug, Clone)]
pub struct JobRow {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    /// How many times it has been claimed, this time included.
    pub attempts: i64,
}

/// A job that has not finished, for tests and the office's view.
#[derive(Debug, Clone)]
pub struct PendingJob {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub run_at: i64,
    pub attempts: i64,
    pub failed: bool,
    pub last_error: String,
}

pub const LEASE_S: i64 = 60;

impl Store {
    /// Queues a job unless the same one (kind and payload) is pending already; returns whether
    /// it was queued. The partial unique index `jobs_pending_once` decides, so two instances
    /// racing to queue the same job queue it once.
    pub async fn enqueue_job(
        &self,
        tx: &mut WriteTx,
        kind: &str,
        payload: &str,
        queue: &str,
        run_at: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done =
            sqlx::query("INSERT INTO jobs (kind, payload, queue, run_at, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING")
                .bind(kind)
                .bind(payload)
                .bind(queue)
                .bind(run_at)
                .bind(now)
                .execute(&mut *tx.tx)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Queues many jobs in one statement, each unless the same one is pending already, as
    /// [`Store::enqueue_job`]: `(kind, payload, queue, run_at)`.
    pub async fn enqueue_jobs(&self, tx: &mut WriteTx, jobs: &[(String, String, &str, i64)], now: i64) -> Result<(), StoreError> {
        for chunk in jobs.chunks(200) {
            let values = (0..chunk.len()).map(|i| format!("({})", placeholders(1 + i * 5, 5))).collect::<Vec<_>>().join(", ");
            let sql = format!("INSERT INTO jobs (kind, payload, queue, run_at, created_at) VALUES {values} ON CONFLICT DO NOTHING");
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (kind, payload, queue, run_at) in chunk {
                q = q.bind(kind.as_str()).bind(payload.as_str()).bind(*queue).bind(*run_at).bind(now);
            }
            q.execute(&mut *tx.tx).await?;
        }
        Ok(())
    }

    /// Claims the most overdue job of `queue`, if any. PostgreSQL instances skip each other's
    /// locked rows; on SQLite the single writer makes the claim atomic.
    pub async fn claim_job(&self, queue: &str, now: i64) -> Result<Option<JobRow>, StoreError> {
        let sql = match self.backend() {
            Backend::Postgres => {
                "UPDATE jobs SET locked_until = $1 + $2, attempts = attempts + 1 WHERE id = (SELECT id FROM jobs \
                 WHERE done_at IS NULL AND queue = $3 AND run_at <= $1 AND (locked_until IS NULL OR locked_until < $1) \
                 ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id, kind, payload, attempts"
            }
            Backend::Sqlite => {
                "UPDATE jobs SET locked_until = $1 + $2, attempts = attempts + 1 WHERE id = (SELECT id FROM jobs \
                 WHERE done_at IS NULL AND queue = $3 AND run_at <= $1 AND (locked_until IS NULL OR locked_until < $1) \
                 ORDER BY run_at, id LIMIT 1) RETURNING id, kind, payload, attempts"
            }
        };
        let mut tx = self.write_tx().await?;
        let row: Option<(i64, String, String, i64)> =
            sqlx::query_as(sql).bind(now).bind(LEASE_S).bind(queue).fetch_optional(&mut *tx.tx).await?;
        tx.commit().await?;
        Ok(row.map(|(id, kind, payload, attempts)| JobRow { id, kind, payload, attempts }))
    }

    /// Claims up to `limit` more due jobs of `queue` whose kind is one of `kinds`, oldest first,
    /// in one transaction: work that is done many at a time (receipts issued in one
    /// transaction) is claimed many at a time, under the same lease rules as [`Store::claim_job`].
    pub async fn claim_jobs(&self, queue: &str, kinds: &[&str], now: i64, limit: i64) -> Result<Vec<JobRow>, StoreError> {
        if kinds.is_empty() || limit < 1 {
            return Ok(vec![]);
        }
        let skip = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE jobs SET locked_until = $1 + $2, attempts = attempts + 1 WHERE id IN (SELECT id FROM jobs \
             WHERE done_at IS NULL AND queue = $3 AND run_at <= $1 AND (locked_until IS NULL OR locked_until < $1) \
             AND kind IN ({}) ORDER BY run_at, id LIMIT $4{skip}) RETURNING id, kind, payload, attempts",
            placeholders(5, kinds.len())
        );
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(now).bind(LEASE_S).bind(queue).bind(limit);
        for k in kinds {
            q = q.bind(*k);
        }
        let mut tx = self.write_tx().await?;
        let rows: Vec<(i64, String, String, i64)> = q.fetch_all(&mut *tx.tx).await?;
        tx.commit().await?;
        let mut rows: Vec<JobRow> = rows.into_iter().map(|(id, kind, payload, attempts)| JobRow { id, kind, payload, attempts }).collect();
        // RETURNING gives no order; the claim's order is the one they run in.
        rows.sort_by_key(|r| r.id);
        Ok(rows)
    }

    /// Marks jobs done in the caller's transaction (the one that did their work), each only if
    /// this claim still holds it, as [`Store::finish_job`]: work and outcome commit together.
    pub async fn finish_jobs_in(&self, tx: &mut WriteTx, jobs: &[JobRow], now: i64) -> Result<(), StoreError> {
        if jobs.is_empty() {
            return Ok(());
        }
        // One statement for the batch: (id, attempts) pairs, two parameters each after `now`.
        let held = (0..jobs.len()).map(|i| format!("(id = ${} AND attempts = ${})", 2 + 2 * i, 3 + 2 * i)).collect::<Vec<_>>().join(" OR ");
        let sql = format!("UPDATE jobs SET done_at = $1, locked_until = NULL, failed = 0 WHERE {held}");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
        for job in jobs {
            q = q.bind(job.id).bind(job.attempts);
        }
        q.execute(&mut *tx.tx).await?;
        Ok(())
    }

    /// Marks a job done, if this claim (`attempts`) still holds it: a run that outlived its
    /// lease does not overwrite the outcome of the run that took over.
    pub async fn finish_job(&self, job: &JobRow, now: i64) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query("UPDATE jobs SET done_at = $1, locked_until = NULL, failed = 0 WHERE id = $2 AND attempts = $3")
            .bind(now)
            .bind(job.id)
            .bind(job.attempts)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await
    }

    /// Puts a claimed job back, to run again at `run_at`: `failed` when its run ended in an
    /// error, not when it only has to look again later (a payment not made yet).
    pub async fn retry_job(&self, job: &JobRow, run_at: i64, note: &str, failed: bool) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query("UPDATE jobs SET run_at = $1, locked_until = NULL, last_error = $2, failed = $3 WHERE id = $4 AND attempts = $5")
            .bind(run_at)
            .bind(&note[..note.floor_char_boundary(500)])
            .bind(i64::from(failed))
            .bind(job.id)
            .bind(job.attempts)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await
    }

    /// Stops a claimed job for good, if this claim still holds it, in the caller's transaction
    /// (the one that records `exception_id`, the exception that shows it to the office): done,
    /// failed, with its error. Returns whether it stopped (false: another run took it over).
    pub async fn stop_job(&self, tx: &mut WriteTx, job: &JobRow, now: i64, note: &str, exception_id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE jobs SET done_at = $1, locked_until = NULL, last_error = $2, failed = 1, exception_id = $3 \
             WHERE id = $4 AND attempts = $5",
        )
        .bind(now)
        .bind(&note[..note.floor_char_boundary(500)])
        .bind(exception_id)
        .bind(job.id)
        .bind(job.attempts)
        .execute(&mut *tx.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Queues again, as new jobs due at `now`, the jobs stopped with `exception_id`, each unless
    /// the same job is pending already; returns how many were queued.
    pub async fn requeue_stopped_jobs(&self, tx: &mut WriteTx, exception_id: i64, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "INSERT INTO jobs (kind, payload, queue, run_at, created_at) SELECT kind, payload, queue, $1, $1 FROM jobs \
             WHERE exception_id = $2 ON CONFLICT DO NOTHING",
        )
        .bind(now)
        .bind(exception_id)
        .execute(&mut *tx.tx)
        .await?;
        Ok(done.rows_affected())
    }

    /// Brings a pending, unclaimed job that never ran forward to `now` (a student is
    /// watching), once `now >= not_before`.
    pub async fn hurry_job(&self, kind: &str, payload: &str, now: i64, not_before: i64) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "UPDATE jobs SET run_at = $1 WHERE kind = $2 AND payload = $3 AND done_at IS NULL AND locked_until IS NULL \
             AND attempts = 0 AND run_at > $1 AND $1 >= $4",
        )
        .bind(now)
        .bind(kind)
        .bind(payload)
        .bind(not_before)
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await
    }

    /// Whether this job was ever queued, pending or done.
    pub async fn has_job(&self, kind: &str, payload: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE kind = $1 AND payload = $2")
            .bind(kind)
            .bind(payload)
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    /// How many times this job ran to completion.
    pub async fn done_jobs(&self, kind: &str, payload: &str) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE kind = $1 AND payload = $2 AND done_at IS NOT NULL")
            .bind(kind)
            .bind(payload)
            .fetch_one(&self.pool)
            .await?)
    }

    /// Jobs not done yet, oldest first (for tests and the office's view).
    pub async fn pending_jobs(&self) -> Result<Vec<PendingJob>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, kind, payload, run_at, attempts, failed, last_error FROM jobs WHERE done_at IS NULL ORDER BY run_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        map_rows(&rows, |r| {
            Ok(PendingJob {
                id: r.try_get(0)?,
                kind: r.try_get(1)?,
                payload: r.try_get(2)?,
                run_at: r.try_get(3)?,
                attempts: r.try_get(4)?,
                failed: r.try_get::<i64, _>(5)? != 0,
                last_error: r.try_get(6)?,
            })
        })
    }
}
