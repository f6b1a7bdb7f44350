//! The student's own view of the ledger: money that came in or went back other than an
//! online payment of an order (those are listed per order from `provider_payments`).

use crate::db::{Store, StoreError, map_rows, word};
use campuspay_domain::{Fen, LedgerKind};
use sqlx::Row;

/// One ledger entry as 缴费记录 shows it.
#[derive(Debug, Clone)]
pub struct LedgerRecord {
    /// `OfflinePayment`, `BalanceUse`, `Refund` (negative) or `Credit`.
    pub kind: LedgerKind,
    pub amount: Fen,
    pub reference: String,
    pub memo: String,
    pub created_at: i64,
    /// The charge's item and period, when the entry is on a charge.
    pub item_name: Option<String>,
    pub period_name: Option<String>,
}

impl Store {
    /// Offline payments, balance used, refunds and credits of the student, newest first.
    pub async fn ledger_records_of_student(&self, school_id: i64, student_id: i64) -> Result<Vec<LedgerRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT l.kind, l.amount_fen, l.reference, l.memo, l.created_at, f.name AS item_name, p.name AS period_name \
             FROM ledger_entries l \
             LEFT JOIN charges c ON c.id = l.charge_id \
             LEFT JOIN fee_items f ON f.id = c.fee_item_id \
             LEFT JOIN periods p ON p.id = c.period_id \
             WHERE l.school_id = $1 AND l.student_id = $2 \
               AND l.kind IN ('offline_payment', 'balance_use', 'refund', 'credit', 'waiver', 'cancellation') \
             ORDER BY l.created_at DESC, l.id DESC LIMIT 200",
        )
        .bind(school_id)
        .bind(student_id)
        .fetch_all(&self.pool)
        .await?;
        map_rows(&rows, |r| {
            Ok(LedgerRecord {
                kind: word(r, "kind")?,
                amount: Fen(r.try_get("amount_fen")?),
                reference: r.try_get("reference")?,
                memo: r.try_get("memo")?,
                created_at: r.try_get("created_at")?,
                item_name: r.try_get("item_name")?,
                period_name: r.try_get("period_name")?,
            })
        })
    }
}
