//! Periods, fee items, charges and the ledger. Paid amounts are always sums of ledger rows.

use crate::db::{Store, StoreError, WriteTx, map_rows, now};
use campuspay_domain::{ChargeAmounts, Fen, LedgerKind};
use sqlx::Row;

/// One charge with its item and period, and its ledger sums.
#[derive(Debug, Clone)]
pub struct ChargeView {
    pub id: i64,
    pub item_id: i64,
    pub item_code: String,
    pub item_name: String,
    pub item_name_en: String,
    pub category: String,
    pub receipt_type: String,
    pub mandatory: bool,
    pub parent_item_id: Option<i64>,
    pub parent_name: Option<String>,
    pub instalments: bool,
    pub instalment_min: Fen,
    pub window_start: Option<i64>,
    pub window_end: Option<i64>,
    pub collecting: bool,
    pub period_code: String,
    pub period_name: String,
    pub academic_year: String,
    pub period_sort: i64,
    /// `discount` holds the issued discount plus what the office waived since.
    pub amounts: ChargeAmounts,
    /// 缓缴: the office deferred the charge until this date (YYYY-MM-DD).
    pub deferred_until: Option<String>,
}

pub struct NewFeeItem<'a> {
    pub school_id: i64,
    pub code: &'a str,
    pub name: &'a str,
    pub name_en: &'a str,
    pub category: &'a str,
    pub receipt_type: &'a str,
    pub mandatory: bool,
    pub parent_id: Option<i64>,
    pub instalments: bool,
    pub instalment_min: Fen,
    pub window: Option<(i64, i64)>,
    pub collecting: bool,
    pub sort: i64,
}

pub struct NewLedgerEntry<'a> {
    pub school_id: i64,
    pub student_id: i64,
    pub charge_id: Option<i64>,
    pub kind: LedgerKind,
    pub amount: Fen,
    pub reference: &'a str,
    pub memo: &'a str,
}

fn flag(v: i64) -> bool {
    v != 0
}

impl Store {
    pub async fn insert_period(
        &self,
        tx: &mut WriteTx,
        school_id: i64,
        code: &str,
        name: &str,
        academic_year: &str,
        sort: i64,
    ) -> Result<i64, StoreError> {
        sqlx::query_scalar("INSERT INTO periods (school_id, code, name, academic_year, sort) VALUES ($1, $2, $3, $4, $5) RETURNING id")
            .bind(school_id)
            .bind(code)
            .bind(name)
            .bind(academic_year)
            .bind(sort)
            .fetch_one(&mut *tx.tx)
            .await
            .map_err(|e| StoreError::from_write(e, "period code"))
    }

    pub async fn insert_fee_item(&self, tx: &mut WriteTx, f: &NewFeeItem<'_>) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO fee_items (school_id, code, name, name_en, category, receipt_type, mandatory, parent_id, instalments, \
             instalment_min_fen, window_start, window_end, collecting, sort) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
        )
        .bind(f.school_id)
        .bind(f.code)
        .bind(f.name)
        .bind(f.name_en)
        .bind(f.category)
        .bind(f.receipt_type)
        .bind(i64::from(f.mandatory))
        .bind(f.parent_id)
        .bind(i64::from(f.instalments))
        .bind(f.instalment_min.0)
        .bind(f.window.map(|w| w.0))
        .bind(f.window.map(|w| w.1))
        .bind(i64::from(f.collecting))
        .bind(f.sort)
        .fetch_one(&mut *tx.tx)
        .await
        .map_err(|e| StoreError::from_write(e, "fee item code"))
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn insert_charge(
        &self,
        tx: &mut WriteTx,
        school_id: i64,
        student_id: i64,
        fee_item_id: i64,
        period_id: i64,
        total: Fen,
        discount: Fen,
    ) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO charges (school_id, student_id, fee_item_id, period_id, total_fen, discount_fen, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(school_id)
        .bind(student_id)
        .bind(fee_item_id)
        .bind(period_id)
        .bind(total.0)
        .bind(discount.0)
        .bind(now())
        .fetch_one(&mut *tx.tx)
        .await
        .map_err(|e| StoreError::from_write(e, "charge for this student, item and period"))
    }

    pub async fn insert_ledger_entry(&self, tx: &mut WriteTx, e: &NewLedgerEntry<'_>) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO ledger_entries (school_id, student_id, charge_id, kind, amount_fen, reference, memo, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(e.school_id)
        .bind(e.student_id)
        .bind(e.charge_id)
        .bind(e.kind.as_str())
        .bind(e.amount.0)
        .bind(e.reference)
        .bind(e.memo)
        .bind(now())
        .fetch_one(&mut *tx.tx)
        .await
        .map_err(|err| StoreError::from_write(err, "ledger entry"))
    }

    /// Every charge of a student, newest period first, with paid and balance-used sums.
    pub async fn charges_of_student(&self, school_id: i64, student_id: i64) -> Result<Vec<ChargeView>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.id, f.id AS item_id, f.code, f.name, f.name_en, f.category, f.receipt_type, f.mandatory, f.parent_id, \
                    pf.name AS parent_name, f.instalments, f.instalment_min_fen, f.window_start, f.window_end, f.collecting, \
                    p.code AS period_code, p.name AS period_name, p.academic_year, p.sort AS period_sort, \
                    c.total_fen, c.discount_fen + s.waived_fen AS discount_fen, s.balance_used_fen AS balance_used, s.paid_fen AS paid, \
                    (SELECT MAX(a.defer_until) FROM adjustments a \
                     LEFT JOIN adjustment_decisions d ON d.adjustment_id = a.id \
                     WHERE a.charge_id = c.id AND a.kind = 'deferral' AND (a.needs_approval = 0 OR d.approved = 1)) AS deferred_until \
             FROM charges c \
             JOIN charge_sums s ON s.charge_id = c.id \
             JOIN fee_items f ON f.id = c.fee_item_id \
             LEFT JOIN fee_items pf ON pf.id = f.parent_id \
             JOIN periods p ON p.id = c.period_id \
             WHERE c.school_id = $1 AND c.student_id = $2 AND s.cancelled_fen = 0 \
             ORDER BY p.sort DESC, f.sort, c.id",
        )
        .bind(school_id)
        .bind(student_id)
        .fetch_all(&self.pool)
        .await?;
        map_rows(&rows, |r| {
            Ok(ChargeView {
                id: r.try_get("id")?,
                item_id: r.try_get("item_id")?,
                item_code: r.try_get("code")?,
                item_name: r.try_get("name")?,
                item_name_en: r.try_get("name_en")?,
                category: r.try_get("category")?,
                receipt_type: r.try_get("receipt_type")?,
                mandatory: flag(r.try_get("mandatory")?),
                parent_item_id: r.try_get("parent_id")?,
                parent_name: r.try_get("parent_name")?,
                instalments: flag(r.try_get("instalments")?),
                instalment_min: Fen(r.try_get("instalment_min_fen")?),
                window_start: r.try_get("window_start")?,
                window_end: r.try_get("window_end")?,
                collecting: flag(r.try_get("collecting")?),
                period_code: r.try_get("period_code")?,
                period_name: r.try_get("period_name")?,
                academic_year: r.try_get("academic_year")?,
                period_sort: r.try_get("period_sort")?,
                amounts: ChargeAmounts {
                    total: Fen(r.try_get("total_fen")?),
                    discount: Fen(r.try_get("discount_fen")?),
                    balance_used: Fen(r.try_get("balance_used")?),
                    paid: Fen(r.try_get("paid")?),
                },
                deferred_until: r.try_get("deferred_until")?,
            })
        })
    }
}
