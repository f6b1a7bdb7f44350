//! Money a provider received: settled once, recorded in the ledger; refunds; raw notifications.

use crate::db::{On, Store, StoreError, WriteTx, map_rows, now, placeholders, word, word_opt};
use campuspay_domain::order::{Disposition, LateReason, PaidSource, RefundState};
use campuspay_domain::payment::{Method, Provider};
use campuspay_domain::{Fen, LedgerKind};
use sqlx::Row;
use sqlx::any::AnyRow;

pub struct NewProviderPayment<'a> {
    pub school_id: i64,
    pub order_id: i64,
    pub attempt_id: Option<i64>,
    pub provider: Provider,
    pub channel: Method,
    pub txn_id: &'a str,
    pub amount: Fen,
    pub source: PaidSource,
    pub disposition: Disposition,
    /// Why the money was not applied; `None` when it was.
    pub reason: Option<LateReason>,
    pub paid_at: &'a str,
}

/// A transaction already settled for an order.
#[derive(Debug, Clone)]
pub struct SettledTxn {
    pub provider: Provider,
    pub txn_id: String,
    pub disposition: Disposition,
}

/// Money that could not be applied (late, duplicate, mismatched), for the finance office.
#[derive(Debug, Clone)]
pub struct UnappliedPayment {
    pub school_code: String,
    pub student_no: String,
    pub order_no: String,
    pub provider: Provider,
    pub txn_id: String,
    pub amount: Fen,
    /// What happened to it (refund or credit).
    pub disposition: Disposition,
    pub reason: Option<LateReason>,
    /// The state of its latest refund, if it has one.
    pub refund_status: Option<RefundState>,
    pub created_at: i64,
}

/// `provider_payments.reason`: empty when applied. Rows written before migration 4 hold the
/// variant's Rust name (`OrderClosed`), and that table is append-only (its triggers refuse
/// the UPDATE a migration would need), so both spellings are read; anything else is refused.
fn late_reason(r: &AnyRow) -> Result<Option<LateReason>, sqlx::Error> {
    let s: String = r.try_get("reason")?;
    if s.is_empty() {
        return Ok(None);
    }
    if let Some(old) = LateReason::ALL.into_iter().find(|v| format!("{v:?}") == s) {
        return Ok(Some(old));
    }
    word(r, "reason").map(Some)
}

/// A payment as the student's records show it (缴费记录 / 银行交易记录).
#[derive(Debug, Clone)]
pub struct PaymentRecord {
    pub id: i64,
    pub order_no: String,
    pub provider: Provider,
    pub channel: Method,
    pub txn_id: String,
    pub amount: Fen,
    pub disposition: Disposition,
    pub reason: Option<LateReason>,
    pub paid_at: String,
    pub created_at: i64,
    pub refund_status: Option<RefundState>,
}

#[derive(Debug, Clone)]
pub struct RefundRow {
    pub id: i64,
    pub school_id: i64,
    pub provider_payment_id: i64,
    pub out_refund_no: String,
    pub amount: Fen,
    pub status: RefundState,
    pub out_trade_no: String,
    pub order_total: Fen,
    pub provider: Provider,
    pub student_id: i64,
    pub txn_id: String,
    pub attempt_id: i64,
    pub reference: String,
    /// What the refunded transaction took in (the provider's `total` of a partial refund).
    pub paid_amount: Fen,
    /// The office refund it carries out; `None` for late or duplicate money.
    pub office_refund_id: Option<i64>,
}

pub(crate) fn settled_txn(r: &AnyRow) -> Result<SettledTxn, sqlx::Error> {
    Ok(SettledTxn { provider: word(r, "provider")?, txn_id: r.try_get("txn_id")?, disposition: word(r, "disposition")? })
}

impl Store {
    /// Every transaction already settled for the order.
    pub async fn settled_txns(&self, on: On<'_>, order_id: i64) -> Result<Vec<SettledTxn>, StoreError> {
        let q = sqlx::query("SELECT provider, txn_id, disposition FROM provider_payments WHERE order_id = $1").bind(order_id);
        map_rows(&self.fetch_all(on, q).await?, settled_txn)
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
        .bind(p.provider.as_str())
        .bind(p.channel.as_str())
        .bind(p.txn_id)
        .bind(p.amount.0)
        .bind(p.source.as_str())
        .bind(p.disposition.as_str())
        .bind(p.reason.map_or("", LateReason::as_str))
        .bind(p.paid_at)
        .bind(now())
        .fetch_one(&mut *tx.tx)
        .await
        .map_err(|e| StoreError::from_write(e, "provider transaction"))
    }

    /// Whether this provider transaction has been settled (for any order).
    pub async fn txn_settled(&self, provider: Provider, txn_id: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM provider_payments WHERE provider = $1 AND txn_id = $2")
            .bind(provider.as_str())
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
        reason: LateReason,
    ) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO refunds (school_id, provider_payment_id, out_refund_no, amount_fen, status, reason, created_at) \
             VALUES ($1, $2, $3, $4, $7, $5, $6) RETURNING id",
        )
        .bind(school_id)
        .bind(provider_payment_id)
        .bind(out_refund_no)
        .bind(amount.0)
        .bind(reason.as_str())
        .bind(now())
        .bind(RefundState::Pending.as_str())
        .fetch_one(&mut *tx.tx)
        .await
        .map_err(|e| StoreError::from_write(e, "refund number"))
    }

    pub async fn refund(&self, id: i64) -> Result<Option<RefundRow>, StoreError> {
        let row = sqlx::query(
            "SELECT r.id, r.school_id, r.provider_payment_id, r.out_refund_no, r.amount_fen, r.status, a.out_trade_no, \
                    o.total_fen, p.provider, o.student_id, p.txn_id, a.id AS attempt_id, r.reference, \
                    p.amount_fen AS paid_amount, r.office_refund_id \
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
                status: word(&r, "status")?,
                out_trade_no: r.try_get("out_trade_no")?,
                order_total: Fen(r.try_get("total_fen")?),
                provider: word(&r, "provider")?,
                student_id: r.try_get("student_id")?,
                txn_id: r.try_get("txn_id")?,
                attempt_id: r.try_get("attempt_id")?,
                reference: r.try_get("reference")?,
                paid_amount: Fen(r.try_get("paid_amount")?),
                office_refund_id: r.try_get("office_refund_id")?,
            })
        })
        .transpose()
        .map_err(|e: sqlx::Error| StoreError::from(e))
    }

    /// The refund numbered `out_refund_no` (ours, unique), e.g. to match a provider's refund
    /// notification to it.
    pub async fn refund_by_out_refund_no(&self, out_refund_no: &str) -> Result<Option<RefundRow>, StoreError> {
        let id: Option<i64> =
            sqlx::query_scalar("SELECT id FROM refunds WHERE out_refund_no = $1").bind(out_refund_no).fetch_optional(&self.pool).await?;
        match id {
            Some(id) => self.refund(id).await,
            None => Ok(None),
        }
    }

    /// Moves a refund to `to` if the domain allows it from its current state (an end also
    /// stamps `finished_at`); `Stale`, and no change, when another run finished it first.
    /// The caller writes the money leaving (a `refund` ledger row) in the same transaction.
    pub async fn set_refund_status(&self, tx: &mut WriteTx, id: i64, to: RefundState) -> Result<(), StoreError> {
        let from = RefundState::predecessors(to);
        let sql = format!(
            "UPDATE refunds SET status = $1, finished_at = COALESCE($2, finished_at) WHERE id = $3 AND status IN ({})",
            placeholders(4, from.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(to.as_str()).bind(to.is_final().then(now)).bind(id);
        for f in &from {
            q = q.bind(f.as_str());
        }
        if q.execute(&mut *tx.tx).await?.rows_affected() != 1 {
            return Err(StoreError::Stale(format!("refund {id} cannot become {to}")));
        }
        Ok(())
    }

    pub async fn set_refund_reference(&self, tx: &mut WriteTx, id: i64, reference: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE refunds SET reference = $1 WHERE id = $2").bind(reference).bind(id).execute(&mut *tx.tx).await?;
        Ok(())
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
                provider: word(r, "provider")?,
                channel: word(r, "channel")?,
                txn_id: r.try_get("txn_id")?,
                amount: Fen(r.try_get("amount_fen")?),
                disposition: word(r, "disposition")?,
                reason: late_reason(r)?,
                paid_at: r.try_get("paid_at")?,
                created_at: r.try_get("created_at")?,
                refund_status: word_opt(r, "refund_status")?,
            })
        })
    }

    /// Money that could not be applied (late, duplicate, mismatched), newest first, of one
    /// school or of all.
    pub async fn unapplied_payments(&self, school_code: Option<&str>) -> Result<Vec<UnappliedPayment>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.code, st.student_no, o.order_no, p.provider, p.txn_id, p.amount_fen, p.disposition, p.reason, p.created_at, \
                    (SELECT r.status FROM refunds r WHERE r.provider_payment_id = p.id ORDER BY r.id DESC LIMIT 1) AS refund_status \
             FROM provider_payments p JOIN orders o ON o.id = p.order_id JOIN schools s ON s.id = p.school_id \
             JOIN students st ON st.id = o.student_id \
             WHERE p.disposition <> $2 AND ($1 = '' OR s.code = $1) ORDER BY p.created_at DESC, p.id DESC",
        )
        .bind(school_code.unwrap_or(""))
        .bind(Disposition::Applied.as_str())
        .fetch_all(&self.pool)
        .await?;
        map_rows(&rows, |r| {
            Ok(UnappliedPayment {
                school_code: r.try_get("code")?,
                student_no: r.try_get("student_no")?,
                order_no: r.try_get("order_no")?,
                provider: word(r, "provider")?,
                txn_id: r.try_get("txn_id")?,
                amount: Fen(r.try_get("amount_fen")?),
                disposition: word(r, "disposition")?,
                reason: late_reason(r)?,
                refund_status: word_opt(r, "refund_status")?,
                created_at: r.try_get("created_at")?,
            })
        })
    }

    /// Keeps a notification exactly as it arrived; returns its id for the outcome.
    pub async fn record_notification(
        &self,
        tx: &mut WriteTx,
        provider: &str,
        school_code: &str,
        headers: &str,
        body: &str,
        outcome: &str,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "INSERT INTO notifications (provider, school_code, headers, body, received_at, outcome) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(provider)
        .bind(school_code)
        .bind(headers)
        .bind(body)
        .bind(now())
        .bind(outcome)
        .fetch_one(&mut *tx.tx)
        .await?)
    }

    pub async fn set_notification_outcome(&self, tx: &mut WriteTx, id: i64, outcome: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE notifications SET outcome = $1 WHERE id = $2").bind(outcome).bind(id).execute(&mut *tx.tx).await?;
        Ok(())
    }

    /// The student's balance (余额): credits minus what the balance has paid. `On::Tx` after
    /// `lock_student`, so two orders cannot spend the same balance.
    pub async fn balance(&self, on: On<'_>, school_id: i64, student_id: i64) -> Result<Fen, StoreError> {
        let q = sqlx::query(
            "SELECT CAST(COALESCE(SUM(CASE WHEN kind = $3 THEN amount_fen WHEN kind = $4 THEN -amount_fen ELSE 0 END), 0) AS BIGINT) \
             AS balance FROM ledger_entries WHERE school_id = $1 AND student_id = $2",
        )
        .bind(school_id)
        .bind(student_id)
        .bind(LedgerKind::Credit.as_str())
        .bind(LedgerKind::BalanceUse.as_str());
        Ok(Fen(self.fetch_one(on, q).await?.try_get("balance")?))
    }
}
