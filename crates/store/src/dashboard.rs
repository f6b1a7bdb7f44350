//! The figures of the office's dashboard: money collected in a span of time, how much of a
//! period's charges has been paid, and the adjustments waiting for a second person. Every sum
//! is taken from the ledger (through the `charge_sums` view), never from a stored total.

use crate::db::{Store, StoreError};
use campuspay_domain::Fen;
use sqlx::Row;

/// Money that came in during a span: online payments and money taken at the counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Collected {
    pub total: Fen,
    /// Ledger entries (one per charge paid), not orders.
    pub entries: i64,
}

/// What one period's charges ask for and what has been paid of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodProgress {
    pub code: String,
    pub name: String,
    /// Total − discount − waived − cancelled over the period's charges.
    pub due: Fen,
    /// Paid by channels or at the counter, net of refunds (balance use is not new money).
    pub paid: Fen,
    pub charges: i64,
}

impl Store {
    /// `payment` and `offline_payment` entries of the school created in `[from, until)`.
    pub async fn collected_between(&self, school_id: i64, from: i64, until: i64) -> Result<Collected, StoreError> {
        let r = sqlx::query(
            "SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) AS total, CAST(COUNT(*) AS BIGINT) AS entries FROM ledger_entries \
             WHERE school_id = $1 AND kind IN ('payment', 'offline_payment') AND created_at >= $2 AND created_at < $3",
        )
        .bind(school_id)
        .bind(from)
        .bind(until)
        .fetch_one(self.pool())
        .await?;
        Ok(Collected { total: Fen(r.try_get("total")?), entries: r.try_get("entries")? })
    }

    /// The school's latest period with charges (highest sort, then newest) and its collection
    /// so far; a period set up for next term but not yet issued would show an empty 0 %.
    pub async fn latest_period_progress(&self, school_id: i64) -> Result<Option<PeriodProgress>, StoreError> {
        let Some(p) = sqlx::query(
            "SELECT p.id, p.code, p.name FROM periods p WHERE p.school_id = $1 \
             AND EXISTS (SELECT 1 FROM charges c WHERE c.period_id = p.id) ORDER BY p.sort DESC, p.id DESC LIMIT 1",
        )
        .bind(school_id)
        .fetch_optional(self.pool())
        .await?
        else {
            return Ok(None);
        };
        let period_id: i64 = p.try_get("id")?;
        let r = sqlx::query(
            "SELECT CAST(COALESCE(SUM(s.total_fen - s.discount_fen - s.waived_fen - s.cancelled_fen), 0) AS BIGINT) AS due, \
                    CAST(COALESCE(SUM(s.paid_fen), 0) AS BIGINT) AS paid, CAST(COUNT(*) AS BIGINT) AS charges \
             FROM charge_sums s JOIN charges c ON c.id = s.charge_id WHERE c.school_id = $1 AND c.period_id = $2",
        )
        .bind(school_id)
        .bind(period_id)
        .fetch_one(self.pool())
        .await?;
        Ok(Some(PeriodProgress {
            code: p.try_get("code")?,
            name: p.try_get("name")?,
            due: Fen(r.try_get("due")?),
            paid: Fen(r.try_get("paid")?),
            charges: r.try_get("charges")?,
        }))
    }

    /// Adjustments of the school above the threshold that nobody has decided yet.
    pub async fn pending_adjustment_count(&self, school_id: i64) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM adjustments a LEFT JOIN adjustment_decisions d ON d.adjustment_id = a.id \
             WHERE a.school_id = $1 AND a.needs_approval = 1 AND d.adjustment_id IS NULL",
        )
        .bind(school_id)
        .fetch_one(self.pool())
        .await?)
    }
}
