//! The exception queue: money problems found by settling, refunding and reconciling, kept
//! until a person closes each with an audited action.

use crate::db::{On, Store, StoreError, WriteTx, map_rows, now, word, word_opt};
use campuspay_domain::Fen;
use campuspay_domain::settlement::{ExceptionAction, ExceptionKind};
use sqlx::Row;
use sqlx::any::AnyRow;

pub struct NewException<'a> {
    pub school_id: i64,
    pub kind: ExceptionKind,
    /// Unique per kind and school: the same problem found twice is one exception.
    pub subject: &'a str,
    pub student_id: Option<i64>,
    pub provider_payment_id: Option<i64>,
    pub refund_id: Option<i64>,
    pub amount: Fen,
    pub evidence: &'a serde_json::Value,
}

#[derive(Debug, Clone)]
pub struct ExceptionRow {
    pub id: i64,
    pub kind: ExceptionKind,
    pub subject: String,
    pub student_id: Option<i64>,
    pub student_no: Option<String>,
    pub student_name: Option<String>,
    pub provider_payment_id: Option<i64>,
    pub refund_id: Option<i64>,
    pub amount: Fen,
    pub evidence: String,
    pub open: bool,
    pub resolution: Option<ExceptionAction>,
    pub note: String,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<i64>,
    pub created_at: i64,
}

const COLUMNS: &str = "e.id, e.kind, e.subject, e.student_id, s.student_no, s.name AS student_name, e.provider_payment_id, \
     e.refund_id, e.amount_fen, e.evidence, e.status, e.resolution, e.note, st.name AS resolved_by, e.resolved_at, e.created_at \
     FROM money_exceptions e LEFT JOIN students s ON s.id = e.student_id LEFT JOIN staff st ON st.id = e.resolved_by";

fn row(r: &AnyRow) -> Result<ExceptionRow, sqlx::Error> {
    let status: String = r.try_get("status")?;
    Ok(ExceptionRow {
        id: r.try_get("id")?,
        kind: word(r, "kind")?,
        subject: r.try_get("subject")?,
        student_id: r.try_get("student_id")?,
        student_no: r.try_get("student_no")?,
        student_name: r.try_get("student_name")?,
        provider_payment_id: r.try_get("provider_payment_id")?,
        refund_id: r.try_get("refund_id")?,
        amount: Fen(r.try_get("amount_fen")?),
        evidence: r.try_get("evidence")?,
        open: status == "open",
        resolution: word_opt(r, "resolution")?,
        note: r.try_get("note")?,
        resolved_by: r.try_get("resolved_by")?,
        resolved_at: r.try_get("resolved_at")?,
        created_at: r.try_get("created_at")?,
    })
}

impl Store {
    /// Queues an exception unless the same one is queued already (open or resolved): a
    /// reconciliation re-run must not reopen what a person closed.
    pub async fn insert_exception(&self, tx: &mut WriteTx, e: &NewException<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO money_exceptions (school_id, kind, subject, student_id, provider_payment_id, refund_id, amount_fen, \
             evidence, status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9) \
             ON CONFLICT (school_id, kind, subject) DO NOTHING",
        )
        .bind(e.school_id)
        .bind(e.kind.as_str())
        .bind(e.subject)
        .bind(e.student_id)
        .bind(e.provider_payment_id)
        .bind(e.refund_id)
        .bind(e.amount.0)
        .bind(e.evidence.to_string())
        .bind(now())
        .execute(&mut *tx.tx)
        .await?;
        Ok(())
    }

    /// The open exception of `kind` at the school whose subject starts with `prefix`, or a new
    /// one (`e`, whose subject must start with it); its id. Problems that share a cause share
    /// one open exception (a school's receipt issuer missing stops every issuing job): the
    /// office sees, and fixes, the cause once. Two first failures at the same instant may each
    /// open one; both show, and each retries its own jobs.
    pub async fn open_exception_for(&self, tx: &mut WriteTx, e: &NewException<'_>, prefix: &str) -> Result<i64, StoreError> {
        let open: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, subject FROM money_exceptions WHERE school_id = $1 AND kind = $2 AND status = 'open' ORDER BY id")
                .bind(e.school_id)
                .bind(e.kind.as_str())
                .fetch_all(&mut *tx.tx)
                .await?;
        if let Some((id, _)) = open.into_iter().find(|(_, subject)| subject.starts_with(prefix)) {
            return Ok(id);
        }
        self.insert_exception(tx, e).await?;
        let id = sqlx::query_scalar("SELECT id FROM money_exceptions WHERE school_id = $1 AND kind = $2 AND subject = $3")
            .bind(e.school_id)
            .bind(e.kind.as_str())
            .bind(e.subject)
            .fetch_one(&mut *tx.tx)
            .await?;
        Ok(id)
    }

    /// The school's exceptions, open ones first then newest first.
    pub async fn exceptions(&self, school_id: i64, open_only: bool, limit: i64) -> Result<Vec<ExceptionRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} WHERE e.school_id = $1 AND ($2 = 0 OR e.status = 'open') \
             ORDER BY CASE WHEN e.status = 'open' THEN 0 ELSE 1 END, e.id DESC LIMIT $3"
        );
        let rows =
            self.fetch_all(On::Pool, sqlx::query(sqlx::AssertSqlSafe(sql)).bind(school_id).bind(i64::from(open_only)).bind(limit)).await?;
        map_rows(&rows, row)
    }

    pub async fn exception(&self, on: On<'_>, school_id: i64, id: i64) -> Result<Option<ExceptionRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} WHERE e.id = $1 AND e.school_id = $2");
        let r = self.fetch_optional(on, sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).bind(school_id)).await?;
        r.map(|r| row(&r)).transpose().map_err(StoreError::from)
    }

    /// Open exceptions per kind, for the dashboard.
    pub async fn open_exception_counts(&self, school_id: i64) -> Result<Vec<(ExceptionKind, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT kind, COUNT(*) AS n FROM money_exceptions WHERE school_id = $1 AND status = 'open' GROUP BY kind ORDER BY kind",
        )
        .bind(school_id)
        .fetch_all(&self.pool)
        .await?;
        map_rows(&rows, |r| Ok((word(r, "kind")?, r.try_get("n")?)))
    }

    /// Closes an open exception; `Stale` when it is closed already (a second click, another
    /// person), so it is closed exactly once.
    pub async fn resolve_exception(
        &self,
        tx: &mut WriteTx,
        school_id: i64,
        id: i64,
        action: ExceptionAction,
        note: &str,
        staff_id: i64,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE money_exceptions SET status = 'resolved', resolution = $1, note = $2, resolved_by = $3, resolved_at = $4 \
             WHERE id = $5 AND school_id = $6 AND status = 'open'",
        )
        .bind(action.as_str())
        .bind(note)
        .bind(staff_id)
        .bind(now())
        .bind(id)
        .bind(school_id)
        .execute(&mut *tx.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Stale(format!("exception {id} is not open")));
        }
        Ok(())
    }
}
