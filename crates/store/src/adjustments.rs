//! 减免 / 缓缴 / 撤销 of issued charges and their approvals, both insert-only: what stands is
//! read from the adjustment and its decision, never from an edited row.

use crate::db::{On, Store, StoreError, WriteTx, map_rows, now, word};
use campuspay_domain::Fen;
use campuspay_domain::office::{AdjustmentKind, AdjustmentStatus};
use sqlx::Row;

pub struct NewAdjustment<'a> {
    pub school_id: i64,
    pub student_id: i64,
    pub charge_id: i64,
    pub kind: AdjustmentKind,
    pub amount: Fen,
    pub defer_until: Option<&'a str>,
    pub reason: &'a str,
    pub requested_by: i64,
    pub needs_approval: bool,
}

#[derive(Debug, Clone)]
pub struct AdjustmentRow {
    pub id: i64,
    pub school_id: i64,
    pub student_id: i64,
    pub student_no: String,
    pub student_name: String,
    pub charge_id: i64,
    pub item_name: String,
    pub period_name: String,
    pub kind: AdjustmentKind,
    pub amount: Fen,
    pub defer_until: Option<String>,
    pub reason: String,
    pub requested_by: i64,
    pub requested_by_login: String,
    pub status: AdjustmentStatus,
    pub decided_by_login: Option<String>,
    pub created_at: i64,
}

const COLUMNS: &str = "a.id, a.school_id, a.student_id, st.student_no, st.name AS student_name, a.charge_id, f.name AS item_name, \
     p.name AS period_name, a.kind, a.amount_fen, a.defer_until, a.reason, a.requested_by, rq.login AS requested_by_login, \
     a.needs_approval, d.approved, dc.login AS decided_by_login, a.created_at \
     FROM adjustments a \
     JOIN students st ON st.id = a.student_id \
     JOIN charges c ON c.id = a.charge_id \
     JOIN fee_items f ON f.id = c.fee_item_id \
     JOIN periods p ON p.id = c.period_id \
     JOIN staff rq ON rq.id = a.requested_by \
     LEFT JOIN adjustment_decisions d ON d.adjustment_id = a.id \
     LEFT JOIN staff dc ON dc.id = d.decided_by";

fn adjustment(r: &sqlx::any::AnyRow) -> Result<AdjustmentRow, sqlx::Error> {
    let needs: i64 = r.try_get("needs_approval")?;
    let approved: Option<i64> = r.try_get("approved")?;
    let status = match (needs != 0, approved) {
        (false, _) => AdjustmentStatus::Applied,
        (true, None) => AdjustmentStatus::Pending,
        (true, Some(0)) => AdjustmentStatus::Rejected,
        (true, Some(_)) => AdjustmentStatus::Approved,
    };
    Ok(AdjustmentRow {
        id: r.try_get("id")?,
        school_id: r.try_get("school_id")?,
        student_id: r.try_get("student_id")?,
        student_no: r.try_get("student_no")?,
        student_name: r.try_get("student_name")?,
        charge_id: r.try_get("charge_id")?,
        item_name: r.try_get("item_name")?,
        period_name: r.try_get("period_name")?,
        kind: word(r, "kind")?,
        amount: Fen(r.try_get("amount_fen")?),
        defer_until: r.try_get("defer_until")?,
        reason: r.try_get("reason")?,
        requested_by: r.try_get("requested_by")?,
        requested_by_login: r.try_get("requested_by_login")?,
        status,
        decided_by_login: r.try_get("decided_by_login")?,
        created_at: r.try_get("created_at")?,
    })
}

impl Store {
    pub async fn insert_adjustment(&self, tx: &mut WriteTx, a: &NewAdjustment<'_>) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO adjustments (school_id, student_id, charge_id, kind, amount_fen, defer_until, reason, requested_by, needs_approval, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(a.school_id)
        .bind(a.student_id)
        .bind(a.charge_id)
        .bind(a.kind.as_str())
        .bind(a.amount.0)
        .bind(a.defer_until)
        .bind(a.reason)
        .bind(a.requested_by)
        .bind(i64::from(a.needs_approval))
        .bind(now())
        .fetch_one(&mut *tx.tx)
        .await
        .map_err(|e| StoreError::from_write(e, "adjustment"))
    }

    /// An adjustment of the school (another school's id is not found).
    pub async fn adjustment(&self, on: On<'_>, school_id: i64, id: i64) -> Result<Option<AdjustmentRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} WHERE a.school_id = $1 AND a.id = $2");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(school_id).bind(id);
        Ok(self.fetch_optional(on, q).await?.map(|r| adjustment(&r)).transpose()?)
    }

    /// The school's adjustments, newest first; only the pending ones with `pending_only`.
    pub async fn adjustments(&self, school_id: i64, pending_only: bool, limit: i64) -> Result<Vec<AdjustmentRow>, StoreError> {
        let pending = if pending_only { " AND a.needs_approval = 1 AND d.adjustment_id IS NULL" } else { "" };
        let sql = format!("SELECT {COLUMNS} WHERE a.school_id = $1{pending} ORDER BY a.id DESC LIMIT $2");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(school_id).bind(limit).fetch_all(self.pool()).await?;
        map_rows(&rows, adjustment)
    }

    /// The adjustments of one charge, oldest first.
    pub async fn adjustments_of_charge(&self, on: On<'_>, charge_id: i64) -> Result<Vec<AdjustmentRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} WHERE a.charge_id = $1 ORDER BY a.id");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(charge_id);
        let rows = self.fetch_all(on, q).await?;
        map_rows(&rows, adjustment)
    }

    /// Records the decision on a pending adjustment. A second decision is `Conflict`: one
    /// adjustment is decided once, by whoever commits first.
    pub async fn insert_decision(
        &self,
        tx: &mut WriteTx,
        adjustment_id: i64,
        approved: bool,
        staff_id: i64,
        note: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO adjustment_decisions (adjustment_id, approved, decided_by, note, decided_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(adjustment_id)
            .bind(i64::from(approved))
            .bind(staff_id)
            .bind(note)
            .bind(now())
            .execute(&mut *tx.tx)
            .await
            .map_err(|e| StoreError::from_write(e, "adjustment already decided"))?;
        Ok(())
    }
}

/// A charge's figures, as the `charge_sums` view sums them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChargeSums {
    pub school_id: i64,
    pub student_id: i64,
    pub total: Fen,
    pub discount: Fen,
    pub waived: Fen,
    pub cancelled: Fen,
    pub paid: Fen,
    pub balance_used: Fen,
    pub owed: Fen,
}

impl Store {
    /// One charge's sums; read `On::Tx` under the student's lock before adjusting it.
    pub async fn charge_sums(&self, on: On<'_>, charge_id: i64) -> Result<Option<ChargeSums>, StoreError> {
        let q = sqlx::query(
            "SELECT c.school_id, c.student_id, s.total_fen, s.discount_fen, s.waived_fen, s.cancelled_fen, s.paid_fen, \
                    s.balance_used_fen, s.owed_fen \
             FROM charges c JOIN charge_sums s ON s.charge_id = c.id WHERE c.id = $1",
        )
        .bind(charge_id);
        let Some(r) = self.fetch_optional(on, q).await? else { return Ok(None) };
        Ok(Some(ChargeSums {
            school_id: r.try_get("school_id")?,
            student_id: r.try_get("student_id")?,
            total: Fen(r.try_get("total_fen")?),
            discount: Fen(r.try_get("discount_fen")?),
            waived: Fen(r.try_get("waived_fen")?),
            cancelled: Fen(r.try_get("cancelled_fen")?),
            paid: Fen(r.try_get("paid_fen")?),
            balance_used: Fen(r.try_get("balance_used_fen")?),
            owed: Fen(r.try_get("owed_fen")?),
        }))
    }
}
