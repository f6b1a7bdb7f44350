//! Money a provider received: settled once, recorded in the ledger; refunds; raw notifications.

use crate::charges::{NewLedgerEntry, kind};
use crate::db::{Store, StoreError, WriteTx, map_rows, now};
use campuspay_domain::Fen;
use sqlx::Row;

pub struct NewProviderPayment<'a> {
    pub school_id: i64,
    pub order_id: i64,
    pub attempt_id: Option<i64>,
    pub provider: &'a str,
    pub channel: &'a str,
    pub txn_id: &'a str,
    pub amount: Fen,
    pub source: &'a str,
    pub disposition: &'a str,
    pub reason: &'a str,
    pub paid_at: &'a str,
}

/// A payment as the student's records show it (缴费记录 / 银行交易记录).
#[derive(Debug, Clone)]
pub struct PaymentRecord {
    pub id: i64,
    pub order_no: String,
    pub provider: String,
    pub channel: String,
    pub txn_id: String,
    pub amount: Fen,
    pub disposition: String,
    pub reason: String,
    pub paid_at: String,
    pub created_at: i64,
    pub refund_status: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RefundRow {
    pub id: i64,
    pub school_id: i64,
    pub provider_payment_id: i64,
    pub out_refund_no: String,
    pub amount: Fen,
    pub status: String,
    pub out_trade_no: String,
    pub order_total: Fen,
    pub provider: String,
    pub student_id: i64,
    pub txn_id: String,
    pub attempt_id: i64,
    pub reference: String,
}

impl Store {
    /// (provider, txn id) of every transaction already settled for the order.
    pub async fn settled_txns(&self, tx: &mut WriteTx, order_id: i64) -> Result<Vec<(String, String, String)>, StoreError> {
        Ok(sqlx::query_as("SELECT provider, txn_id, disposition FROM provider_payments WHERE order_id = $1")
            .bind(order_id)
            .fetch_all(&mut *tx.tx)
            .await?)
    }

    /// Records a settled transaction; `Conflict` when it was settled already (any order).
    pub async fn insert_provider_payment(&self, tx: &mut WriteTx, p: &NewProviderPayment<'_>) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO provider_payments (school_id, order_id, attempt_id, provider, channel, txn_id, amount_fen, source, \
             disposition, reason, paid_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        )
        .bind(p.school_id)
        .bind(p.order_id)
        .bind(p.attempt_id)
        .bind(p.provider)
        .bind(p.channel)
        .bind(p.txn_id)
        .bind(p.amount.0)
        .bind(p.source)
        .bind(p.disposition)
        .bind(p.reason)
        .bind(p.paid_at)
        .bind(now())
        .fetch_one(&mut *tx.tx)
        .await
        .map_err(|e| StoreError::from_write(e, "provider transaction"))
    }

    /// Whether this provider transaction has been settled (for any order).
    pub async fn txn_settled(&self, provider: &str, txn_id: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM provider_payments WHERE provider = $1 AND txn_id = $2")
            .bind(provider)
            .bind(txn_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    pub async fn insert_refund(
        &self,
        tx: &mut WriteTx,
        school_id: i64,
        provider_payment_id: i64,
        out_refund_no: &str,
        amount: Fen,
        reason: &str,
    ) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO refunds (school_id, provider_payment_id, out_refund_no, amount_fen, status, reason, created_at) \
             VALUES ($1, $2, $3, $4, 'pending', $5, $6) RETURNING id",
        )
        .bind(school_id)
        .bind(provider_payment_id)
        .bind(out_refund_no)
        .bind(amount.0)
        .bind(reason)
        .bind(now())
        .fetch_one(&mut *tx.tx)
        .await
        .map_err(|e| StoreError::from_write(e, "refund number"))
    }

    pub async fn refund(&self, id: i64) -> Result<Option<RefundRow>, StoreError> {
        let row = sqlx::query(
            "SELECT r.id, r.school_id, r.provider_payment_id, r.out_refund_no, r.amount_fen, r.status, a.out_trade_no, \
                    o.total_fen, p.provider, o.student_id, p.txn_id, a.id AS attempt_id, r.reference \
             FROM refunds r JOIN provider_payments p ON p.id = r.provider_payment_id \
             JOIN pay_attempts a ON a.id = p.attempt_id JOIN orders o ON o.id = p.order_id WHERE r.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(RefundRow {
                id: r.try_get("id")?,
                school_id: r.try_get("school_id")?,
                provider_payment_id: r.try_get("provider_payment_id")?,
                out_refund_no: r.try_get("out_refund_no")?,
                amount: Fen(r.try_get("amount_fen")?),
                status: r.try_get("status")?,
                out_trade_no: r.try_get("out_trade_no")?,
                order_total: Fen(r.try_get("total_fen")?),
                provider: r.try_get("provider")?,
                student_id: r.try_get("student_id")?,
                txn_id: r.try_get("txn_id")?,
                attempt_id: r.try_get("attempt_id")?,
                reference: r.try_get("reference")?,
            })
        })
        .transpose()
        .map_err(|e: sqlx::Error| StoreError::from(e))
    }

    /// Marks a refund done and writes the money leaving, in one transaction.
    pub async fn finish_refund(&self, r: &RefundRow, status: &str) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query("UPDATE refunds SET status = $1, finished_at = $2 WHERE id = $3 AND status NOT IN ('success', 'failed')")
            .bind(status)
            .bind(now())
            .bind(r.id)
            .execute(&mut *tx.tx)
            .await?
            .rows_affected();
        if n == 1 && status == "success" {
            self.insert_ledger_entry(
                &mut tx,
                &NewLedgerEntry {
                    school_id: r.school_id,
                    student_id: r.student_id,
                    charge_id: None,
                    kind: kind::REFUND,
                    amount: Fen(-r.amount.0),
                    reference: &r.out_refund_no,
                    memo: "退款已退回原支付账户",
                },
            )
            .await?;
        }
        tx.commit().await
    }

    pub async fn set_refund_reference(&self, id: i64, reference: &str) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query("UPDATE refunds SET reference = $1 WHERE id = $2").bind(reference).bind(id).execute(&mut *tx.tx).await?;
        tx.commit().await
    }

    pub async fn set_refund_status(&self, id: i64, status: &str) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query("UPDATE refunds SET status = $1 WHERE id = $2 AND status NOT IN ('success', 'failed')")
            .bind(status)
            .bind(id)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await
    }

    /// Every settled transaction of a student, newest first, with its refund's state.
    pub async fn payments_of_student(&self, school_id: i64, student_id: i64) -> Result<Vec<PaymentRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.id, o.order_no, p.provider, p.channel, p.txn_id, p.amount_fen, p.disposition, p.reason, p.paid_at, \
                    p.created_at, (SELECT r.status FROM refunds r WHERE r.provider_payment_id = p.id ORDER BY r.id DESC LIMIT 1) AS refund_status \
             FROM provider_payments p JOIN orders o ON o.id = p.order_id \
             WHERE p.school_id = $1 AND o.student_id = $2 ORDER BY p.created_at DESC, p.id DESC",
        )
        .bind(school_id)
        .bind(student_id)
        .fetch_all(&self.pool)
        .await?;
        map_rows(&rows, |r| {
            Ok(PaymentRecord {
                id: r.try_get("id")?,
                order_no: r.try_get("order_no")?,
                provider: r.try_get("provider")?,
                channel: r.try_get("channel")?,
                txn_id: r.try_get("txn_id")?,
                amount: Fen(r.try_get("amount_fen")?),
                disposition: r.try_get("disposition")?,
                reason: r.try_get("reason")?,
                paid_at: r.try_get("paid_at")?,
                created_at: r.try_get("created_at")?,
                refund_status: r.try_get("refund_status")?,
            })
        })
    }

    /// Money that could not be applied (late, duplicate, mismatched), newest first, for the
    /// finance office: (school code, student no, order no, provider, txn id, amount, what
    /// happened to it, why, refund state, when).
    #[allow(clippy::type_complexity)]
    pub async fn unapplied_payments(
        &self,
        school_code: Option<&str>,
    ) -> Result<Vec<(String, String, String, String, String, Fen, String, String, Option<String>, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.code, st.student_no, o.order_no, p.provider, p.txn_id, p.amount_fen, p.disposition, p.reason, p.created_at, \
                    (SELECT r.status FROM refunds r WHERE r.provider_payment_id = p.id ORDER BY r.id DESC LIMIT 1) AS refund_status \
             FROM provider_payments p JOIN orders o ON o.id = p.order_id JOIN schools s ON s.id = p.school_id \
             JOIN students st ON st.id = o.student_id \
             WHERE p.disposition <> 'applied' AND ($1 = '' OR s.code = $1) ORDER BY p.created_at DESC, p.id DESC",
        )
        .bind(school_code.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        map_rows(&rows, |r| {
            Ok((
                r.try_get("code")?,
                r.try_get("student_no")?,
                r.try_get("order_no")?,
                r.try_get("provider")?,
                r.try_get("txn_id")?,
                Fen(r.try_get("amount_fen")?),
                r.try_get("disposition")?,
                r.try_get("reason")?,
                r.try_get("refund_status")?,
                r.try_get("created_at")?,
            ))
        })
    }

    /// Keeps a notification exactly as it arrived; returns its id for the outcome.
    pub async fn record_notification(&self, provider: &str, school_code: &str, headers: &str, body: &str) -> Result<i64, StoreError> {
        let mut tx = self.write_tx().await?;
        let id = sqlx::query_scalar(
            "INSERT INTO notifications (provider, school_code, headers, body, received_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(provider)
        .bind(school_code)
        .bind(headers)
        .bind(body)
        .bind(now())
        .fetch_one(&mut *tx.tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn set_notification_outcome(&self, id: i64, outcome: &str) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query("UPDATE notifications SET outcome = $1 WHERE id = $2").bind(outcome).bind(id).execute(&mut *tx.tx).await?;
        tx.commit().await
    }

    /// The student's balance (余额): credits minus what the balance has paid.
    pub async fn balance_of_student(&self, school_id: i64, student_id: i64) -> Result<Fen, StoreError> {
        let v: i64 = sqlx::query_scalar(BALANCE_SQL).bind(school_id).bind(student_id).fetch_one(&self.pool).await?;
        Ok(Fen(v))
    }

    /// The balance as the transaction sees it (after `lock_student`).
    pub async fn balance_in_tx(&self, tx: &mut WriteTx, school_id: i64, student_id: i64) -> Result<Fen, StoreError> {
        let v: i64 = sqlx::query_scalar(BALANCE_SQL).bind(school_id).bind(student_id).fetch_one(&mut *tx.tx).await?;
        Ok(Fen(v))
    }
}

const BALANCE_SQL: &str = "SELECT CAST(COALESCE(SUM(CASE WHEN kind = 'credit' THEN amount_fen WHEN kind = 'balance_use' THEN -amount_fen ELSE 0 END), 0) AS BIGINT) \
     FROM ledger_entries WHERE school_id = $1 AND student_id = $2";
