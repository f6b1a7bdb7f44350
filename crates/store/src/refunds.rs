//! Office refunds (what the office asked to give back, per line) and the provider refunds
//! that carry them out.

use crate::db::{On, Store, StoreError, WriteTx, in_json_list, map_rows, now, placeholders, word};
use campuspay_domain::Fen;
use campuspay_domain::payment::Provider;
use campuspay_domain::settlement::{OfficeRefundState, RefundMethod};
use sqlx::Row;
use sqlx::any::AnyRow;

/// The provider payment that paid an order.
#[derive(Debug, Clone)]
pub struct AppliedPayment {
    pub id: i64,
    pub provider: Provider,
    pub txn_id: String,
    pub amount: Fen,
}

pub struct NewOfficeRefund<'a> {
    pub school_id: i64,
    pub student_id: i64,
    pub method: RefundMethod,
    pub order_id: Option<i64>,
    pub offline_payment_id: Option<i64>,
    pub amount: Fen,
    pub reason: &'a str,
    pub status: OfficeRefundState,
    pub maker_id: i64,
}

#[derive(Debug, Clone)]
pub struct OfficeRefundRow {
    pub id: i64,
    pub school_id: i64,
    pub student_id: i64,
    pub student_no: String,
    pub student_name: String,
    pub method: RefundMethod,
    pub order_id: Option<i64>,
    pub order_no: Option<String>,
    pub offline_payment_id: Option<i64>,
    /// The counter payment's method and receipt number, for an offline refund.
    pub offline_method: Option<String>,
    pub offline_reference: Option<String>,
    pub amount: Fen,
    pub reason: String,
    pub status: OfficeRefundState,
    pub maker_id: i64,
    pub maker: String,
    pub checker_id: Option<i64>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct OfficeRefundLine {
    pub charge_id: i64,
    pub amount: Fen,
    pub item_name: String,
    pub period_name: String,
}

const REFUND_COLUMNS: &str = "r.id, r.school_id, r.student_id, s.student_no, s.name AS student_name, r.method, r.order_id, \
     o.order_no, r.offline_payment_id, op.method AS offline_method, op.reference AS offline_reference, r.amount_fen, r.reason, r.status, r.maker_id, st.name AS maker, r.checker_id, \
     r.created_at, r.finished_at \
     FROM office_refunds r JOIN students s ON s.id = r.student_id JOIN staff st ON st.id = r.maker_id \
     LEFT JOIN orders o ON o.id = r.order_id LEFT JOIN offline_payments op ON op.id = r.offline_payment_id";

fn refund_row(r: &AnyRow) -> Result<OfficeRefundRow, sqlx::Error> {
    Ok(OfficeRefundRow {
        id: r.try_get("id")?,
        school_id: r.try_get("school_id")?,
        student_id: r.try_get("student_id")?,
        student_no: r.try_get("student_no")?,
        student_name: r.try_get("student_name")?,
        method: word(r, "method")?,
        order_id: r.try_get("order_id")?,
        order_no: r.try_get("order_no")?,
        offline_payment_id: r.try_get("offline_payment_id")?,
        offline_method: r.try_get("offline_method")?,
        offline_reference: r.try_get("offline_reference")?,
        amount: Fen(r.try_get("amount_fen")?),
        reason: r.try_get("reason")?,
        status: word(r, "status")?,
        maker_id: r.try_get("maker_id")?,
        maker: r.try_get("maker")?,
        checker_id: r.try_get("checker_id")?,
        created_at: r.try_get("created_at")?,
        finished_at: r.try_get("finished_at")?,
    })
}

impl Store {
    /// The payment applied to an order (at most one: `decide` applies one transaction).
    pub async fn applied_payment(&self, on: On<'_>, order_id: i64) -> Result<Option<AppliedPayment>, StoreError> {
        let q = sqlx::query(
            "SELECT id, provider, txn_id, amount_fen FROM provider_payments WHERE order_id = $1 AND disposition = 'applied' \
             ORDER BY id LIMIT 1",
        )
        .bind(order_id);
        let row = self.fetch_optional(on, q).await?;
        row.map(|r| {
            Ok(AppliedPayment {
                id: r.try_get("id")?,
                provider: word(&r, "provider")?,
                txn_id: r.try_get("txn_id")?,
                amount: Fen(r.try_get("amount_fen")?),
            })
        })
        .transpose()
        .map_err(|e: sqlx::Error| StoreError::from(e))
    }

    /// Per charge, what the ledger says a reference paid it (`kind` rows of the student).
    pub async fn paid_by_reference(
        &self,
        on: On<'_>,
        student_id: i64,
        kind: campuspay_domain::LedgerKind,
        reference: &str,
    ) -> Result<Vec<(i64, Fen)>, StoreError> {
        let q = sqlx::query(
            "SELECT charge_id, CAST(SUM(amount_fen) AS BIGINT) AS paid FROM ledger_entries \
             WHERE student_id = $1 AND kind = $2 AND reference = $3 AND charge_id IS NOT NULL GROUP BY charge_id",
        )
        .bind(student_id)
        .bind(kind.as_str())
        .bind(reference);
        let rows = self.fetch_all(on, q).await?;
        map_rows(&rows, |r| Ok((r.try_get("charge_id")?, Fen(r.try_get("paid")?))))
    }

    /// Per charge, what earlier office refunds of the same payment took or may still take.
    pub async fn refunded_lines(
        &self,
        on: On<'_>,
        order_id: Option<i64>,
        offline_payment_id: Option<i64>,
    ) -> Result<Vec<(i64, Fen)>, StoreError> {
        let holding: Vec<&str> = OfficeRefundState::ALL.into_iter().filter(|s| s.holds_money()).map(|s| s.as_str()).collect();
        let sql = format!(
            "SELECT l.charge_id, CAST(SUM(l.amount_fen) AS BIGINT) AS taken FROM office_refund_lines l \
             JOIN office_refunds r ON r.id = l.office_refund_id \
             WHERE (r.order_id = $1 OR r.offline_payment_id = $2) AND r.status IN ({}) GROUP BY l.charge_id",
            placeholders(3, holding.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(order_id.unwrap_or(-1)).bind(offline_payment_id.unwrap_or(-1));
        for s in &holding {
            q = q.bind(*s);
        }
        let rows = self.fetch_all(on, q).await?;
        map_rows(&rows, |r| Ok((r.try_get("charge_id")?, Fen(r.try_get("taken")?))))
    }

    /// Records an office refund; `Conflict` when the payment already has a live one (the
    /// partial unique indexes), whatever raced.
    pub async fn insert_office_refund(&self, tx: &mut WriteTx, r: &NewOfficeRefund<'_>) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO office_refunds (school_id, student_id, method, order_id, offline_payment_id, amount_fen, reason, status, \
             live, maker_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(r.school_id)
        .bind(r.student_id)
        .bind(r.method.as_str())
        .bind(r.order_id)
        .bind(r.offline_payment_id)
        .bind(r.amount.0)
        .bind(r.reason)
        .bind(r.status.as_str())
        .bind(i64::from(r.status.is_live()))
        .bind(r.maker_id)
        .bind(now())
        .fetch_one(&mut *tx.tx)
        .await
        .map_err(|e| StoreError::from_write(e, "live refund of this payment"))
    }

    pub async fn insert_office_refund_line(&self, tx: &mut WriteTx, refund_id: i64, charge_id: i64, amount: Fen) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO office_refund_lines (office_refund_id, charge_id, amount_fen) VALUES ($1, $2, $3)")
            .bind(refund_id)
            .bind(charge_id)
            .bind(amount.0)
            .execute(&mut *tx.tx)
            .await
            .map_err(|e| StoreError::from_write(e, "refund line"))?;
        Ok(())
    }

    /// An office refund of the school (`None`: no such refund there).
    pub async fn office_refund(&self, on: On<'_>, school_id: i64, id: i64) -> Result<Option<OfficeRefundRow>, StoreError> {
        let sql = format!("SELECT {REFUND_COLUMNS} WHERE r.id = $1 AND r.school_id = $2");
        let row = self.fetch_optional(on, sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).bind(school_id)).await?;
        row.map(|r| refund_row(&r)).transpose().map_err(StoreError::from)
    }

    /// The school's office refunds, newest first; `status` narrows them.
    pub async fn office_refunds(
        &self,
        school_id: i64,
        status: Option<OfficeRefundState>,
        limit: i64,
    ) -> Result<Vec<OfficeRefundRow>, StoreError> {
        let sql = format!("SELECT {REFUND_COLUMNS} WHERE r.school_id = $1 AND ($2 = '' OR r.status = $2) ORDER BY r.id DESC LIMIT $3");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(school_id).bind(status.map_or("", OfficeRefundState::as_str)).bind(limit);
        let rows = self.fetch_all(On::Pool, q).await?;
        map_rows(&rows, refund_row)
    }

    pub async fn office_refund_lines(&self, on: On<'_>, refund_id: i64) -> Result<Vec<OfficeRefundLine>, StoreError> {
        let q = sqlx::query(
            "SELECT l.charge_id, l.amount_fen, f.name AS item_name, p.name AS period_name FROM office_refund_lines l \
             JOIN charges c ON c.id = l.charge_id JOIN fee_items f ON f.id = c.fee_item_id JOIN periods p ON p.id = c.period_id \
             WHERE l.office_refund_id = $1 ORDER BY l.id",
        )
        .bind(refund_id);
        let rows = self.fetch_all(on, q).await?;
        map_rows(&rows, |r| {
            Ok(OfficeRefundLine {
                charge_id: r.try_get("charge_id")?,
                amount: Fen(r.try_get("amount_fen")?),
                item_name: r.try_get("item_name")?,
                period_name: r.try_get("period_name")?,
            })
        })
    }

    /// Moves an office refund to `to` if the domain allows it from its current state; `Stale`
    /// when another run (or person) moved it first. `checker` records who approved or rejected.
    pub async fn set_office_refund_status(
        &self,
        tx: &mut WriteTx,
        id: i64,
        to: OfficeRefundState,
        checker: Option<i64>,
    ) -> Result<(), StoreError> {
        let from = OfficeRefundState::predecessors(to);
        let sql = format!(
            "UPDATE office_refunds SET status = $1, live = $2, checker_id = COALESCE($3, checker_id), \
             finished_at = CASE WHEN $2 = 0 THEN $4 ELSE finished_at END WHERE id = $5 AND status IN ({})",
            placeholders(6, from.len())
        );
        let mut q =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(to.as_str()).bind(i64::from(to.is_live())).bind(checker).bind(now()).bind(id);
        for f in &from {
            q = q.bind(f.as_str());
        }
        let done = q.execute(&mut *tx.tx).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Stale(format!("office refund {id} cannot become {to}")));
        }
        Ok(())
    }

    /// A provider refund carrying an office refund.
    pub async fn insert_office_channel_refund(
        &self,
        tx: &mut WriteTx,
        school_id: i64,
        provider_payment_id: i64,
        out_refund_no: &str,
        amount: Fen,
        office_refund_id: i64,
    ) -> Result<i64, StoreError> {
        // `reason` holds late-payment words (LateReason) for automatic refunds; an office
        // refund's reason is the office's text, kept on its office_refunds row.
        sqlx::query_scalar(
            "INSERT INTO refunds (school_id, provider_payment_id, out_refund_no, amount_fen, status, reason, created_at, office_refund_id) \
             VALUES ($1, $2, $3, $4, 'pending', '', $5, $6) RETURNING id",
        )
        .bind(school_id)
        .bind(provider_payment_id)
        .bind(out_refund_no)
        .bind(amount.0)
        .bind(now())
        .bind(office_refund_id)
        .fetch_one(&mut *tx.tx)
        .await
        .map_err(|e| StoreError::from_write(e, "refund number"))
    }

    /// The provider refund of an office refund, if one was sent.
    pub async fn channel_refund_of(&self, office_refund_id: i64) -> Result<Option<(i64, String)>, StoreError> {
        let row = sqlx::query("SELECT id, out_refund_no FROM refunds WHERE office_refund_id = $1 ORDER BY id DESC LIMIT 1")
            .bind(office_refund_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get("id")?, r.try_get("out_refund_no")?))).transpose().map_err(|e: sqlx::Error| StoreError::from(e))
    }

    /// The counter payment `id` of the school: (student id, reference).
    pub async fn offline_payment_of_school(&self, school_id: i64, id: i64) -> Result<Option<(i64, String)>, StoreError> {
        let row = sqlx::query("SELECT student_id, reference FROM offline_payments WHERE id = $1 AND school_id = $2")
            .bind(id)
            .bind(school_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get("student_id")?, r.try_get("reference")?))).transpose().map_err(|e: sqlx::Error| StoreError::from(e))
    }
}

impl Store {
    /// Sends a failed provider refund again under a new number of ours (a provider refuses a
    /// reused one, or answers with the old failure): same payment, same amount.
    pub async fn insert_refund_again(&self, tx: &mut WriteTx, failed_id: i64, out_refund_no: &str) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO refunds (school_id, provider_payment_id, out_refund_no, amount_fen, status, reason, created_at) \
             SELECT school_id, provider_payment_id, $1, amount_fen, 'pending', reason, $2 FROM refunds WHERE id = $3 RETURNING id",
        )
        .bind(out_refund_no)
        .bind(now())
        .bind(failed_id)
        .fetch_one(&mut *tx.tx)
        .await
        .map_err(|e| StoreError::from_write(e, "refund number"))
    }

    /// The office refund a provider refund carried out, if any.
    pub async fn office_refund_of_refund(&self, on: On<'_>, refund_id: i64) -> Result<Option<i64>, StoreError> {
        let q = sqlx::query("SELECT office_refund_id FROM refunds WHERE id = $1").bind(refund_id);
        let row = self.fetch_optional(on, q).await?;
        Ok(match row {
            Some(r) => r.try_get("office_refund_id")?,
            None => None,
        })
    }
}

/// A settled provider transaction, as reconciliation compares it.
#[derive(Debug, Clone)]
pub struct SettledPayment {
    pub id: i64,
    pub school_id: i64,
    pub student_id: i64,
    pub amount: Fen,
}

impl Store {
    pub async fn provider_payment_by_txn(&self, provider: Provider, txn_id: &str) -> Result<Option<SettledPayment>, StoreError> {
        let row = sqlx::query(
            "SELECT p.id, p.school_id, o.student_id, p.amount_fen FROM provider_payments p JOIN orders o ON o.id = p.order_id \
             WHERE p.provider = $1 AND p.txn_id = $2",
        )
        .bind(provider.as_str())
        .bind(txn_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(SettledPayment {
                id: r.try_get("id")?,
                school_id: r.try_get("school_id")?,
                student_id: r.try_get("student_id")?,
                amount: Fen(r.try_get("amount_fen")?),
            })
        })
        .transpose()
        .map_err(|e: sqlx::Error| StoreError::from(e))
    }
}

impl Store {
    /// [`Store::provider_payment_by_txn`] for many transaction ids in one query: (txn id,
    /// payment) of those we settled.
    pub async fn provider_payments_by_txns(
        &self,
        provider: Provider,
        txn_ids: &[&str],
    ) -> Result<Vec<(String, SettledPayment)>, StoreError> {
        if txn_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT p.txn_id, p.id, p.school_id, o.student_id, p.amount_fen FROM provider_payments p JOIN orders o ON o.id = p.order_id \
             WHERE p.provider = $1 AND p.txn_id {}",
            in_json_list(self.backend(), 2)
        );
        let list = serde_json::Value::from(txn_ids.to_vec()).to_string();
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(provider.as_str()).bind(list);
        map_rows(&q.fetch_all(&self.pool).await?, |r| {
            let p = SettledPayment {
                id: r.try_get("id")?,
                school_id: r.try_get("school_id")?,
                student_id: r.try_get("student_id")?,
                amount: Fen(r.try_get("amount_fen")?),
            };
            Ok((r.try_get("txn_id")?, p))
        })
    }
}

impl Store {
    /// A charge's fee item and period names, for showing refund lines.
    pub async fn charge_label(&self, charge_id: i64) -> Result<Option<(String, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT f.name AS item, p.name AS period FROM charges c JOIN fee_items f ON f.id = c.fee_item_id \
             JOIN periods p ON p.id = c.period_id WHERE c.id = $1",
        )
        .bind(charge_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((r.try_get("item")?, r.try_get("period")?))).transpose().map_err(|e: sqlx::Error| StoreError::from(e))
    }
}
