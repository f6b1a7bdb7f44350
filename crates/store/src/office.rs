//! What the finance office reads: a student's ledger, the audit log.

use crate::db::{Store, StoreError, map_rows, word};
use campuspay_domain::{Fen, LedgerKind};
use sqlx::Row;

/// One row of a student's ledger, as the counter shows it.
#[derive(Debug, Clone)]
pub struct LedgerRow {
    pub id: i64,
    pub charge_id: Option<i64>,
    pub kind: LedgerKind,
    pub amount: Fen,
    pub reference: String,
    pub memo: String,
    pub created_at: i64,
}

/// One row of the audit log.
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub id: i64,
    pub actor: String,
    pub action: String,
    pub detail: String,
    pub at: i64,
}

/// Which audit rows to list; every bound is optional.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Rows older than this id (for paging back), newest first.
    pub before_id: Option<i64>,
    pub limit: i64,
}

impl Store {
    /// The student's ledger, oldest first: every movement of their money.
    pub async fn ledger_of_student(&self, school_id: i64, student_id: i64) -> Result<Vec<LedgerRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, charge_id, kind, amount_fen, reference, memo, created_at FROM ledger_entries \
             WHERE school_id = $1 AND student_id = $2 ORDER BY id",
        )
        .bind(school_id)
        .bind(student_id)
        .fetch_all(self.pool())
        .await?;
        map_rows(&rows, |r| {
            Ok(LedgerRow {
                id: r.try_get("id")?,
                charge_id: r.try_get("charge_id")?,
                kind: word(r, "kind")?,
                amount: Fen(r.try_get("amount_fen")?),
                reference: r.try_get("reference")?,
                memo: r.try_get("memo")?,
                created_at: r.try_get("created_at")?,
            })
        })
    }

    /// A school's audit rows, newest first. `school_id = None` lists the platform's own.
    pub async fn audit_rows(&self, school_id: Option<i64>, f: &AuditFilter) -> Result<Vec<AuditRow>, StoreError> {
        // Unset bounds are bound as values that filter nothing, so the SQL stays one string.
        let rows = sqlx::query(
            "SELECT id, actor, action, detail, at FROM audit_log \
             WHERE COALESCE(school_id, 0) = $1 AND ($2 = '' OR actor = $2) AND ($3 = '' OR action = $3) \
               AND at >= $4 AND at <= $5 AND id < $6 \
             ORDER BY id DESC LIMIT $7",
        )
        .bind(school_id.unwrap_or(0))
        .bind(f.actor.clone().unwrap_or_default())
        .bind(f.action.clone().unwrap_or_default())
        .bind(f.since.unwrap_or(0))
        .bind(f.until.unwrap_or(i64::MAX))
        .bind(f.before_id.unwrap_or(i64::MAX))
        .bind(f.limit.clamp(1, 1000))
        .fetch_all(self.pool())
        .await?;
        map_rows(&rows, |r| {
            Ok(AuditRow {
                id: r.try_get("id")?,
                actor: r.try_get("actor")?,
                action: r.try_get("action")?,
                detail: r.try_get("detail")?,
                at: r.try_get("at")?,
            })
        })
    }
}

/// One receipt of money at the counter.
#[derive(Debug, Clone)]
pub struct OfflinePaymentRow {
    pub id: i64,
    pub student_id: i64,
    pub method: String,
    pub reference: String,
    pub total: Fen,
    pub staff_id: i64,
    pub created_at: i64,
}

pub struct NewOfflinePayment<'a> {
    pub school_id: i64,
    pub student_id: i64,
    pub method: &'a str,
    pub reference: &'a str,
    pub total: Fen,
    pub staff_id: i64,
}

impl Store {
    /// Records the receipt; the same method and reference at the school again is a `Conflict`.
    pub async fn insert_offline_payment(&self, tx: &mut crate::WriteTx, p: &NewOfflinePayment<'_>) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO offline_payments (school_id, student_id, method, reference, total_fen, staff_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(p.school_id)
        .bind(p.student_id)
        .bind(p.method)
        .bind(p.reference)
        .bind(p.total.0)
        .bind(p.staff_id)
        .bind(crate::db::now())
        .fetch_one(&mut *tx.tx)
        .await
        .map_err(|e| StoreError::from_write(e, "offline payment reference"))
    }

    /// Counter money in the ledger with no counter record of its own, written with `memo`
    /// (the demo seed's): (school, student, reference, amount) each.
    pub async fn unrecorded_offline_ledger(&self, memo: &str) -> Result<Vec<(i64, i64, String, Fen)>, StoreError> {
        let rows: Vec<(i64, i64, String, i64)> = sqlx::query_as(
            "SELECT l.school_id, l.student_id, l.reference, l.amount_fen FROM ledger_entries l WHERE l.kind = 'offline_payment' \
             AND l.memo = $1 AND NOT EXISTS (SELECT 1 FROM offline_payments o WHERE o.school_id = l.school_id AND o.reference = l.reference) \
             ORDER BY l.id",
        )
        .bind(memo)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(a, b, r, f)| (a, b, r, Fen(f))).collect())
    }

    pub async fn offline_payment_by_reference(
        &self,
        school_id: i64,
        method: &str,
        reference: &str,
    ) -> Result<Option<OfflinePaymentRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, student_id, method, reference, total_fen, staff_id, created_at FROM offline_payments \
             WHERE school_id = $1 AND method = $2 AND reference = $3",
        )
        .bind(school_id)
        .bind(method)
        .bind(reference)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(OfflinePaymentRow {
                id: r.try_get("id")?,
                student_id: r.try_get("student_id")?,
                method: r.try_get("method")?,
                reference: r.try_get("reference")?,
                total: Fen(r.try_get("total_fen")?),
                staff_id: r.try_get("staff_id")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .transpose()
        .map_err(|e: sqlx::Error| StoreError::from(e))
    }

    /// The charge's student and school, for checking that a line names the student's own charge.
    pub async fn charge_owner(&self, charge_id: i64) -> Result<Option<(i64, i64)>, StoreError> {
        Ok(sqlx::query_as("SELECT school_id, student_id FROM charges WHERE id = $1").bind(charge_id).fetch_optional(self.pool()).await?)
    }
}
