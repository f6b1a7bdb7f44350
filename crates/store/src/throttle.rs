//! Attempt counters that hold under any concurrency and any number of instances.
//!
//! An attempt is counted *before* it is checked: [`Store::reserve_attempt`] adds one to the
//! key's counter in a single `INSERT … ON CONFLICT DO UPDATE … RETURNING` and refuses once
//! the limit is reached, so a hundred concurrent wrong passwords check at most `limit` of them.
//! A success [`Store::clear_attempts`] the key; failures simply stay counted until the window
//! passes.

use crate::db::{Store, StoreError, WriteTx};

/// What a reservation says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// Go ahead; this is the `n`th attempt in the window (1-based), counting this one.
    Granted { n: i64 },
    /// The limit is reached: try again after `retry_after_s` seconds.
    Refused { retry_after_s: i64 },
}

impl Store {
    /// Counts one attempt on `key` within a window of `window_s` seconds starting at its first
    /// attempt, unless `limit` attempts were already counted in that window.
    pub async fn reserve_attempt(&self, key: &str, limit: i64, window_s: i64, now: i64) -> Result<Reservation, StoreError> {
        let mut tx = self.write_tx().await?;
        // A lapsed window starts afresh; otherwise the count goes up by one, but never past
        // `limit + 1`, which marks the refusal without growing forever.
        let (attempts, window_start): (i64, i64) = sqlx::query_as(
            "INSERT INTO throttle_counters (key, window_start, attempts) VALUES ($1, $2, 1) \
             ON CONFLICT (key) DO UPDATE SET \
               attempts = CASE WHEN throttle_counters.window_start <= $3 THEN 1 \
                               WHEN throttle_counters.attempts > $4 THEN throttle_counters.attempts \
                               ELSE throttle_counters.attempts + 1 END, \
               window_start = CASE WHEN throttle_counters.window_start <= $3 THEN $2 ELSE throttle_counters.window_start END \
             RETURNING attempts, window_start",
        )
        .bind(key)
        .bind(now)
        .bind(now - window_s)
        .bind(limit)
        .fetch_one(&mut *tx.tx)
        .await?;
        tx.commit().await?;
        if attempts > limit {
            return Ok(Reservation::Refused { retry_after_s: (window_start + window_s - now).max(1) });
        }
        Ok(Reservation::Granted { n: attempts })
    }

    /// Attempts counted on `key` in its current window (0 when none or lapsed).
    pub async fn attempts(&self, key: &str, window_s: i64, now: i64) -> Result<i64, StoreError> {
        let n: Option<i64> = sqlx::query_scalar("SELECT attempts FROM throttle_counters WHERE key = $1 AND window_start > $2")
            .bind(key)
            .bind(now - window_s)
            .fetch_optional(self.pool())
            .await?;
        Ok(n.unwrap_or(0))
    }

    /// Forgets the attempts on `key` (after a success, or when the office unlocks an account).
    pub async fn clear_attempts(&self, key: &str) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM throttle_counters WHERE key = $1").bind(key).execute(&mut *tx.tx).await?;
        tx.commit().await
    }
}

/// Rows of `throttle_counters` that count attempts in flight rather than attempts made, so
/// that their keys never meet [`Store::reserve_attempt`]'s.
const IN_FLIGHT: &str = "inflight:";

impl Store {
    /// Counts one more attempt in flight on `key` and returns how many others are in flight.
    ///
    /// The upsert takes the key's row lock (SQLite: the write lock) until `tx` ends, so a
    /// caller that reads the attempts already decided inside the same `tx` sees, together with
    /// the returned number, every attempt that could still fail: none slips between the read
    /// and the check. Attempts held longer than `lease_s` are forgotten (their instance died).
    pub async fn hold_attempt(&self, tx: &mut WriteTx, key: &str, lease_s: i64, now: i64) -> Result<i64, StoreError> {
        let held: i64 = sqlx::query_scalar(
            "INSERT INTO throttle_counters (key, window_start, attempts) VALUES ($1, $2, 1) \
             ON CONFLICT (key) DO UPDATE SET \
               attempts = CASE WHEN throttle_counters.window_start <= $3 THEN 1 ELSE throttle_counters.attempts + 1 END, \
               window_start = $2 \
             RETURNING attempts",
        )
        .bind(format!("{IN_FLIGHT}{key}"))
        .bind(now)
        .bind(now - lease_s)
        .fetch_one(&mut *tx.tx)
        .await?;
        Ok(held - 1)
    }

    /// Ends one attempt held on `key`; the caller records its outcome in the same `tx`.
    pub async fn release_attempt(&self, tx: &mut WriteTx, key: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE throttle_counters SET attempts = attempts - 1 WHERE key = $1 AND attempts > 0")
            .bind(format!("{IN_FLIGHT}{key}"))
            .execute(&mut *tx.tx)
            .await?;
        Ok(())
    }
}
