//! The ledger by day and channel (daily collection, voucher export) and outstanding amounts by
//! academic year (arrears ageing): what the office's money reports read.

use crate::db::{Store, StoreError, map_rows, word, word_opt};
use campuspay_domain::settlement::MoneyChannel;
use campuspay_domain::{Fen, LedgerKind};
use sqlx::Row;

/// The ledger rows of one Shanghai day that share a kind, a channel, whether they are on a
/// charge, and a sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerDayGroup {
    /// Days since 1970-01-01 in Asia/Shanghai.
    pub day_no: i64,
    pub kind: LedgerKind,
    /// `None`: the row moved no money in or out of the school (a waiver, a balance use, or the
    /// two halves of an exception's credit or apply, which carry the exception's `EX…`
    /// reference and sum to zero).
    pub channel: Option<MoneyChannel>,
    pub on_charge: bool,
    pub negative: bool,
    pub rows: i64,
    /// Distinct references: payments, counter receipts or refunds, not their per-charge rows.
    pub refs: i64,
    /// Signed, as in the ledger.
    pub total: Fen,
}

/// Each ledger row with the channel its reference leads to. Provider money (payment, late or
/// duplicate money, credit) carries the provider's transaction id; counter money the
/// counter's reference (per student; a counter row without its record is `other_offline`,
/// so no money drops out of the report); a provider refund its `out_refund_no`; an office refund
/// `RO` and the office refund's id, which leads to its provider payment or counter payment.
const WITH_CHANNEL: &str = "SELECT CAST((l.created_at + 28800) / 86400 AS BIGINT) AS day_no, l.kind, l.reference, l.amount_fen, \
       CAST(CASE WHEN l.charge_id IS NULL THEN 0 ELSE 1 END AS BIGINT) AS on_charge, \
       CAST(CASE WHEN l.amount_fen < 0 THEN 1 ELSE 0 END AS BIGINT) AS negative, \
       CASE \
         WHEN l.kind = 'offline_payment' THEN COALESCE((SELECT MIN(op.method) FROM offline_payments op \
              WHERE op.school_id = l.school_id AND op.student_id = l.student_id AND op.reference = l.reference), 'other_offline') \
         WHEN l.kind IN ('payment', 'unapplied_receipt', 'credit') THEN (SELECT MIN(pp.provider) FROM provider_payments pp \
              WHERE pp.school_id = l.school_id AND pp.txn_id = l.reference) \
         WHEN l.kind = 'refund' AND l.reference LIKE 'RO%' THEN (SELECT COALESCE(MIN(pp.provider), MIN(op.method)) \
              FROM office_refunds o LEFT JOIN refunds r ON r.office_refund_id = o.id \
              LEFT JOIN provider_payments pp ON pp.id = r.provider_payment_id \
              LEFT JOIN offline_payments op ON op.id = o.offline_payment_id \
              WHERE o.school_id = l.school_id AND o.id = CAST(SUBSTR(l.reference, 3) AS BIGINT)) \
         WHEN l.kind = 'refund' THEN (SELECT MIN(pp.provider) FROM refunds r JOIN provider_payments pp ON pp.id = r.provider_payment_id \
              WHERE r.school_id = l.school_id AND r.out_refund_no = l.reference) \
       END AS channel \
     FROM ledger_entries l WHERE l.school_id = $1 AND l.created_at >= $2 AND l.created_at < $3";

/// Outstanding amounts of one department and academic year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrearsCell {
    pub department: String,
    pub academic_year: String,
    pub students: i64,
    pub charges: i64,
    pub outstanding: Fen,
}

impl Store {
    /// The school's ledger from `from` (inclusive) to `to` (exclusive), unix seconds, grouped
    /// by Shanghai day, kind, channel, charge or not, and sign; in day order.
    pub async fn ledger_by_day(&self, school_id: i64, from: i64, to: i64) -> Result<Vec<LedgerDayGroup>, StoreError> {
        let sql = format!(
            "SELECT x.day_no, x.kind, x.channel, x.on_charge, x.negative, COUNT(*) AS n, COUNT(DISTINCT x.reference) AS refs, \
                    CAST(SUM(x.amount_fen) AS BIGINT) AS total \
             FROM ({WITH_CHANNEL}) x GROUP BY x.day_no, x.kind, x.channel, x.on_charge, x.negative \
             ORDER BY x.day_no, x.kind, x.channel, x.on_charge, x.negative"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(school_id).bind(from).bind(to).fetch_all(&self.pool).await?;
        map_rows(&rows, |r| {
            Ok(LedgerDayGroup {
                day_no: r.try_get("day_no")?,
                kind: word(r, "kind")?,
                channel: word_opt(r, "channel")?,
                on_charge: r.try_get::<i64, _>("on_charge")? == 1,
                negative: r.try_get::<i64, _>("negative")? == 1,
                rows: r.try_get("n")?,
                refs: r.try_get("refs")?,
                total: Fen(r.try_get("total")?),
            })
        })
    }

    /// What every charge of the school still owes (`charge_sums.owed_fen`, the one definition),
    /// summed per department and the academic year of the charge's period; charges that owe
    /// nothing (or were overpaid) are left out.
    pub async fn arrears_by_year(&self, school_id: i64) -> Result<Vec<ArrearsCell>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.department, p.academic_year, COUNT(DISTINCT c.student_id) AS students, COUNT(*) AS charges, \
                    CAST(SUM(cs.owed_fen) AS BIGINT) AS owed \
             FROM charges c JOIN charge_sums cs ON cs.charge_id = c.id JOIN students s ON s.id = c.student_id \
             JOIN periods p ON p.id = c.period_id \
             WHERE c.school_id = $1 AND cs.owed_fen > 0 \
             GROUP BY s.department, p.academic_year ORDER BY s.department, p.academic_year",
        )
        .bind(school_id)
        .fetch_all(&self.pool)
        .await?;
        map_rows(&rows, |r| {
            Ok(ArrearsCell {
                department: r.try_get("department")?,
                academic_year: r.try_get("academic_year")?,
                students: r.try_get("students")?,
                charges: r.try_get("charges")?,
                outstanding: Fen(r.try_get("owed")?),
            })
        })
    }
}

/// One charge that still owes, for the ageing's drill-down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrearsDebtor {
    pub student_no: String,
    pub name: String,
    pub department: String,
    pub class_name: String,
    pub academic_year: String,
    pub period: String,
    pub item: String,
    pub outstanding: Fen,
}

impl Store {
    /// The charges of the school that still owe (`charge_sums.owed_fen > 0`, the ageing's own
    /// definition), of one department and/or academic year when given, most owed first; at most
    /// `limit` rows, with how many there are in all and what they owe together.
    pub async fn arrears_debtors(
        &self,
        school_id: i64,
        department: Option<&str>,
        academic_year: Option<&str>,
        limit: i64,
    ) -> Result<(Vec<ArrearsDebtor>, i64, Fen), StoreError> {
        // A filter's flag ($2, $4) is 0 for "any": one statement for every filter on both
        // backends (a department may be named '' and still be one).
        const FROM: &str = "FROM charges c JOIN charge_sums cs ON cs.charge_id = c.id JOIN students s ON s.id = c.student_id \
             JOIN periods p ON p.id = c.period_id JOIN fee_items f ON f.id = c.fee_item_id \
             WHERE c.school_id = $1 AND cs.owed_fen > 0 AND ($2 = 0 OR s.department = $3) AND ($4 = 0 OR p.academic_year = $5)";
        let flag = |f: Option<&str>| i64::from(f.is_some());
        let all =
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) AS n, CAST(COALESCE(SUM(cs.owed_fen), 0) AS BIGINT) AS owed {FROM}")))
                .bind(school_id)
                .bind(flag(department))
                .bind(department.unwrap_or(""))
                .bind(flag(academic_year))
                .bind(academic_year.unwrap_or(""))
                .fetch_one(&self.pool)
                .await?;
        let (count, owed): (i64, i64) = (all.try_get("n")?, all.try_get("owed")?);
        let sql = format!(
            "SELECT s.student_no, s.name, s.department, s.class_name, p.academic_year, p.name AS period, f.name AS item, \
                    cs.owed_fen {FROM} ORDER BY cs.owed_fen DESC, s.student_no, p.academic_year, f.name LIMIT $6"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(school_id)
            .bind(flag(department))
            .bind(department.unwrap_or(""))
            .bind(flag(academic_year))
            .bind(academic_year.unwrap_or(""))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let rows = map_rows(&rows, |r| {
            Ok(ArrearsDebtor {
                student_no: r.try_get("student_no")?,
                name: r.try_get("name")?,
                department: r.try_get("department")?,
                class_name: r.try_get("class_name")?,
                academic_year: r.try_get("academic_year")?,
                period: r.try_get("period")?,
                item: r.try_get("item")?,
                outstanding: Fen(r.try_get("owed_fen")?),
            })
        })?;
        Ok((rows, count, Fen(owed)))
    }
}
