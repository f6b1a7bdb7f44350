//! 批量生成应收: issuing one fee item for one period to the students a filter picks, in one
//! statement, so a run of half a million charges is one round trip and one transaction.

use crate::catalog::Selector;
use crate::db::{On, Store, StoreError, WriteTx, now};
use campuspay_domain::Fen;
use sqlx::Row;

/// Which students a run picks: the standard selectors and the class. Empty picks everyone.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunFilter {
    #[serde(flatten)]
    pub selector: Selector,
    #[serde(default, rename = "class")]
    pub class_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSpec {
    pub fee_item_id: i64,
    pub period_id: i64,
    /// One amount for everyone; `None`: each student's from the fee standards.
    pub amount: Option<Fen>,
    pub filter: RunFilter,
}

/// What a run would issue (or issued).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunFigures {
    /// Students who get a new charge.
    pub students: i64,
    pub total: Fen,
    /// Students the filter picks who already have this item for this period.
    pub already_charged: i64,
    /// Students the filter picks for whom no fee standard matches (amounts from standards).
    pub without_standard: i64,
}

#[derive(Debug, Clone)]
pub struct ChargeRunRow {
    pub id: i64,
    pub staff_id: i64,
    pub idempotency_key: Option<String>,
    pub spec: RunSpec,
    pub students: i64,
    pub total: Fen,
    pub created_at: i64,
}

/// The parameters after `$1` (school), `$2` (item), `$3` (period): the filter's five values.
const FILTER: &str = "s.school_id = $1 \
    AND ($4 = '' OR CAST(s.enrol_year AS TEXT) = $4) AND ($5 = '' OR s.department = $5) \
    AND ($6 = '' OR s.major = $6) AND ($7 = '' OR s.level = $7) AND ($8 = '' OR s.class_name = $8)";

/// Each student's amount: `$9` for everyone, or the most specific matching standard.
fn amount_sql(spec: &RunSpec) -> &'static str {
    if spec.amount.is_some() {
        "CAST($9 AS BIGINT)"
    } else {
        "(SELECT fs.amount_fen FROM fee_standards fs WHERE fs.school_id = s.school_id AND fs.fee_item_id = $2 AND fs.period_id = $3 \
           AND (fs.grade = '' OR fs.grade = CAST(s.enrol_year AS TEXT)) AND (fs.department = '' OR fs.department = s.department) \
           AND (fs.major = '' OR fs.major = s.major) AND (fs.level = '' OR fs.level = s.level) \
         ORDER BY (CASE WHEN fs.grade = '' THEN 0 ELSE 1 END) + (CASE WHEN fs.department = '' THEN 0 ELSE 1 END) \
                + (CASE WHEN fs.major = '' THEN 0 ELSE 1 END) + (CASE WHEN fs.level = '' THEN 0 ELSE 1 END) DESC, fs.id DESC \
         LIMIT 1)"
    }
}

fn bind_spec<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    school_id: i64,
    spec: &'q RunSpec,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    let f = &spec.filter;
    let q = q
        .bind(school_id)
        .bind(spec.fee_item_id)
        .bind(spec.period_id)
        .bind(f.selector.grade.as_str())
        .bind(f.selector.department.as_str())
        .bind(f.selector.major.as_str())
        .bind(f.selector.level.as_str())
        .bind(f.class_name.as_str());
    match spec.amount {
        Some(a) => q.bind(a.0),
        None => q,
    }
}

impl Store {
    /// What the run would issue now, writing nothing.
    pub async fn preview_run(&self, on: On<'_>, school_id: i64, spec: &RunSpec) -> Result<RunFigures, StoreError> {
        let sql = format!(
            "SELECT CAST(COALESCE(SUM(CASE WHEN x.charged = 0 AND x.a > 0 THEN 1 ELSE 0 END), 0) AS BIGINT) AS students, \
                    CAST(COALESCE(SUM(CASE WHEN x.charged = 0 AND x.a > 0 THEN x.a ELSE 0 END), 0) AS BIGINT) AS total, \
                    CAST(COALESCE(SUM(x.charged), 0) AS BIGINT) AS already, \
                    CAST(COALESCE(SUM(CASE WHEN x.charged = 0 AND x.a IS NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS without_standard \
             FROM (SELECT {amount} AS a, \
                          CASE WHEN EXISTS (SELECT 1 FROM charges c WHERE c.student_id = s.id AND c.fee_item_id = $2 AND c.period_id = $3) \
                               THEN 1 ELSE 0 END AS charged \
                   FROM students s WHERE {FILTER}) x",
            amount = amount_sql(spec)
        );
        let r = self.fetch_one(on, bind_spec(sqlx::query(sqlx::AssertSqlSafe(sql)), school_id, spec)).await?;
        Ok(RunFigures {
            students: r.try_get("students")?,
            total: Fen(r.try_get("total")?),
            already_charged: r.try_get("already")?,
            without_standard: r.try_get("without_standard")?,
        })
    }

    pub async fn charge_run_by_key(&self, on: On<'_>, school_id: i64, key: &str) -> Result<Option<ChargeRunRow>, StoreError> {
        let q = sqlx::query(
            "SELECT id, staff_id, idempotency_key, fee_item_id, period_id, amount_fen, filter, students, total_fen, created_at \
             FROM charge_runs WHERE school_id = $1 AND idempotency_key = $2",
        )
        .bind(school_id)
        .bind(key);
        let Some(r) = self.fetch_optional(on, q).await? else { return Ok(None) };
        let filter: String = r.try_get("filter")?;
        let amount: Option<i64> = r.try_get("amount_fen")?;
        Ok(Some(ChargeRunRow {
            id: r.try_get("id")?,
            staff_id: r.try_get("staff_id")?,
            idempotency_key: r.try_get("idempotency_key")?,
            spec: RunSpec {
                fee_item_id: r.try_get("fee_item_id")?,
                period_id: r.try_get("period_id")?,
                amount: amount.map(Fen),
                filter: serde_json::from_str(&filter).map_err(|e| StoreError::Decode(format!("charge run filter: {e}")))?,
            },
            students: r.try_get("students")?,
            total: Fen(r.try_get("total_fen")?),
            created_at: r.try_get("created_at")?,
        }))
    }

    /// Issues the run: records it (a second run with the same key is `Conflict`), then gives
    /// each picked student without this item for this period a charge, in one statement. A
    /// student already charged — by an earlier run or one committing concurrently — is skipped
    /// (`ON CONFLICT DO NOTHING` on the charge's uniqueness), never charged twice.
    pub async fn issue_run(
        &self,
        tx: &mut WriteTx,
        school_id: i64,
        staff_id: i64,
        key: Option<&str>,
        spec: &RunSpec,
    ) -> Result<(i64, i64, Fen), StoreError> {
        let filter = serde_json::to_string(&spec.filter).map_err(|e| StoreError::Decode(e.to_string()))?;
        let at = now();
        let run_id: i64 = sqlx::query_scalar(
            "INSERT INTO charge_runs (school_id, staff_id, idempotency_key, fee_item_id, period_id, amount_fen, filter, students, total_fen, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0, $8) RETURNING id",
        )
        .bind(school_id)
        .bind(staff_id)
        .bind(key)
        .bind(spec.fee_item_id)
        .bind(spec.period_id)
        .bind(spec.amount.map(|a| a.0))
        .bind(&filter)
        .bind(at)
        .fetch_one(&mut *tx.tx)
        .await
        .map_err(|e| StoreError::from_write(e, "Idempotency-Key"))?;
        let next = if spec.amount.is_some() { 10 } else { 9 };
        let sql = format!(
            "INSERT INTO charges (school_id, student_id, fee_item_id, period_id, total_fen, discount_fen, created_at, run_id) \
             SELECT x.school_id, x.id, $2, $3, x.a, 0, ${at_p}, ${run_p} FROM \
               (SELECT s.school_id, s.id, {amount} AS a FROM students s WHERE {FILTER}) x \
             WHERE x.a > 0 \
             ON CONFLICT (student_id, fee_item_id, period_id) DO NOTHING",
            amount = amount_sql(spec),
            at_p = next,
            run_p = next + 1,
        );
        let q = bind_spec(sqlx::query(sqlx::AssertSqlSafe(sql)), school_id, spec).bind(at).bind(run_id);
        q.execute(&mut *tx.tx).await?;
        let r = sqlx::query("SELECT COUNT(*) AS n, CAST(COALESCE(SUM(total_fen), 0) AS BIGINT) AS total FROM charges WHERE run_id = $1")
            .bind(run_id)
            .fetch_one(&mut *tx.tx)
            .await?;
        let (students, total): (i64, i64) = (r.try_get("n")?, r.try_get("total")?);
        sqlx::query("UPDATE charge_runs SET students = $1, total_fen = $2 WHERE id = $3")
            .bind(students)
            .bind(total)
            .bind(run_id)
            .execute(&mut *tx.tx)
            .await?;
        Ok((run_id, students, Fen(total)))
    }
}
