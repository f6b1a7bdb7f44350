//! What the metrics endpoint reads from the books at each scrape: the same figures whichever
//! instance is asked, since they come from the shared database rather than one process.

use crate::{Store, StoreError};

/// Counts for `/metrics`.
#[derive(Debug, Default)]
pub struct BookStats {
    /// Provider payments by (`source`, `disposition`).
    pub payments: Vec<(String, String, i64)>,
    /// Jobs by (`kind`, `pending` | `done` | `failed`).
    pub jobs: Vec<(String, String, i64)>,
    /// Orders by status.
    pub orders: Vec<(String, i64)>,
}

impl Store {
    pub async fn book_stats(&self) -> Result<BookStats, StoreError> {
        let payments =
            sqlx::query_as("SELECT source, disposition, COUNT(*) FROM provider_payments GROUP BY source, disposition ORDER BY 1, 2")
                .fetch_all(self.pool())
                .await?;
        let jobs = sqlx::query_as(
            "SELECT kind, CASE WHEN done_at IS NOT NULL AND failed = 1 THEN 'stopped' WHEN done_at IS NOT NULL THEN 'done' \
             WHEN failed = 1 THEN 'failed' ELSE 'pending' END AS state, \
             COUNT(*) FROM jobs GROUP BY kind, state ORDER BY 1, 2",
        )
        .fetch_all(self.pool())
        .await?;
        let orders = sqlx::query_as("SELECT status, COUNT(*) FROM orders GROUP BY status ORDER BY 1").fetch_all(self.pool()).await?;
        Ok(BookStats { payments, jobs, orders })
    }
}
