//! Settling a provider transaction in as few round trips as each database allows.
//!
//! At the start of term SQLite's one writer is what every payment waits for, so what matters
//! is how long a settlement holds it. It used to hold it across ~14 statements, each a hand-off
//! to the database's thread and back (and back through the async runtime, busy with the
//! notifications' signatures): 1.4 ms a settlement against 0.26 ms for a raw commit. Now:
//! - [`Store::settling_view`] reads what a settlement decides on — the order, what was settled
//!   for it, its attempts — without holding anything (on SQLite in one round trip: several
//!   statements sent as one, sqlx binds `$n` across all of them);
//! - [`Store::apply_payment`] writes money applied to its unpaid order in one round trip,
//!   checking in the same breath that the order is still as read; if not, it answers `Stale`
//!   and the caller decides again holding the order ([`Store::lock_for_settling`]). PostgreSQL
//!   takes one statement per round trip with parameters, so it writes with one statement of
//!   data-modifying `WITH` parts and counts the attempts in a second.
//!
//! The decision stays the domain's (`domain::order::decide`, in `app::payment::settle`); only
//! the reads and the common case's writes are gathered. Every other effect (late money refunded
//! or credited, attempts superseded) is written statement by statement, holding the order.

use crate::db::{Backend, On, Store, StoreError, WriteTx, now, placeholders};
use crate::orders::{AttemptRow, OrderRow, attempt, order};
use crate::payments::{SettledTxn, settled_txn};
use campuspay_domain::order::{AttemptState, Disposition, OrderState, PaidSource};
use campuspay_domain::payment::{Method, Provider};
use campuspay_domain::{Fen, LedgerKind};
use sqlx::Row;

/// What settling a transaction decides on, read with the order held.
#[derive(Debug)]
pub struct Settling {
    pub order: OrderRow,
    /// Every transaction already settled for the order.
    pub settled: Vec<SettledTxn>,
    /// The order's attempts, oldest first.
    pub attempts: Vec<AttemptRow>,
}

/// Money applied to the unpaid order it was taken for: the transaction, a ledger row for each
/// line's cash part, the order and the attempt paid, the receipt's job, and the notification
/// that brought it (when one did), written by [`Store::apply_payment`].
pub struct AppliedPayment<'a> {
    pub school_id: i64,
    pub student_id: i64,
    pub order_id: i64,
    pub attempt_id: i64,
    pub provider: Provider,
    pub channel: Method,
    pub txn_id: &'a str,
    pub amount: Fen,
    pub source: PaidSource,
    pub paid_at: &'a str,
    /// The receipt's issuing job: kind, payload, queue, and the jobs' clock now.
    pub receipt_job: (&'a str, &'a str, &'a str, i64),
    /// How many attempts the order had when the payment was decided on: one made since (its
    /// trade still open at the provider) would have had to be superseded.
    pub attempts_seen: usize,
    /// Written inside this savepoint (a name of ours, never a user's), when the transaction
    /// writes other settlements too: one that is refused is rolled back to it alone.
    pub savepoint: Option<&'a str>,
    pub notice: Option<KeptNotice<'a>>,
}

/// A verified notification, kept with what became of it.
#[derive(Debug, Clone, Copy)]
pub struct KeptNotice<'a> {
    pub provider: &'a str,
    pub school_code: &'a str,
    pub headers: &'a str,
    pub body: &'a str,
    pub outcome: &'a str,
}

/// The part of the settling read a row belongs to (SQLite's one round trip answers the three
/// queries' rows one after another, each tagged).
const PARTS: [&str; 3] = ["order", "settled", "attempt"];

impl Store {
    /// Holds the order (PostgreSQL: `FOR UPDATE`; SQLite: the write transaction already holds
    /// the one writer) and reads what its settlement decides on. `NotFound` for no such order.
    pub async fn lock_for_settling(&self, tx: &mut WriteTx, order_id: i64) -> Result<Settling, StoreError> {
        match self.backend() {
            Backend::Postgres => {
                let order = self.lock_order(tx, order_id).await?;
                let (settled, attempts) = self.settling_parts(On::Tx(tx), order_id).await?;
                Ok(Settling { order, settled, attempts })
            }
            Backend::Sqlite => self.settling_in_one(On::Tx(tx), order_id).await?.ok_or(StoreError::NotFound),
        }
    }

    /// What a settlement decides on, read without holding anything: what it decides is written
    /// only if the order is still as read (see [`AppliedPayment::attempts_seen`]).
    pub async fn settling_view(&self, order_id: i64) -> Result<Option<Settling>, StoreError> {
        match self.backend() {
            Backend::Postgres => {
                let Some(order) = self.order_by_id(order_id).await? else { return Ok(None) };
                let (settled, attempts) = self.settling_parts(On::Pool, order_id).await?;
                Ok(Some(Settling { order, settled, attempts }))
            }
            Backend::Sqlite => self.settling_in_one(On::Pool, order_id).await,
        }
    }

    async fn settling_parts(&self, mut on: On<'_>, order_id: i64) -> Result<(Vec<SettledTxn>, Vec<AttemptRow>), StoreError> {
        let settled = self.settled_txns(on.reborrow(), order_id).await?;
        let attempts = self.attempts_of_order(on, order_id).await?;
        Ok((settled, attempts))
    }

    /// SQLite: the order, its settled transactions and its attempts in one round trip.
    async fn settling_in_one(&self, on: On<'_>, order_id: i64) -> Result<Option<Settling>, StoreError> {
        let sql = concat!(
            "SELECT 'order' AS part, ",
            order_columns!(),
            " FROM orders WHERE id = $1; ",
            "SELECT 'settled' AS part, provider, txn_id, disposition FROM provider_payments WHERE order_id = $1; ",
            "SELECT 'attempt' AS part, ",
            attempt_columns!(),
            " FROM pay_attempts WHERE order_id = $1 ORDER BY id"
        );
        let rows = self.fetch_all(on, sqlx::query(sql).bind(order_id)).await?;
        let (mut order_row, mut settled, mut attempts) = (None, Vec::new(), Vec::new());
        for r in &rows {
            let part: String = r.try_get("part")?;
            match PARTS.iter().position(|p| *p == part) {
                Some(0) => order_row = Some(order(r)?),
                Some(1) => settled.push(settled_txn(r)?),
                Some(2) => attempts.push(attempt(r)?),
                _ => return Err(StoreError::Corrupt(format!("settling read answered a row of {part}"))),
            }
        }
        Ok(order_row.map(|order| Settling { order, settled, attempts }))
    }

    /// Writes a payment applied to its unpaid order in one round trip (see the module), if the
    /// order is still unpaid, the attempt may still become paid and the order still has the
    /// attempts its caller saw; otherwise `Stale`, and the transaction must be dropped (what
    /// this wrote goes with it). `Conflict` when the transaction was settled already, by any
    /// order. PostgreSQL counts the attempts in a second round trip, once the order's row is
    /// held: a new attempt is made holding it, so none can slip in after the count.
    pub async fn apply_payment(&self, tx: &mut WriteTx, p: &AppliedPayment<'_>) -> Result<(), StoreError> {
        let attempt_from = AttemptState::predecessors(AttemptState::Paid);
        // $1 school, $2 order, $3 attempt, $4 provider, $5 channel, $6 txn id, $7 amount,
        // $8 source, $9 disposition, $10 paid at (provider's), $11 now, $12 student, $13 ledger
        // kind, $14 order paid, $15 order unpaid, $16 attempt paid, $17..$20 the job,
        // $21..$25 the notice, $26 whether there is one, then the attempt's predecessors.
        let inserts = [
            "INSERT INTO provider_payments (school_id, order_id, attempt_id, provider, channel, txn_id, amount_fen, source, \
             disposition, reason, paid_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '', $10, $11)",
            // The balance's part of each line was written when the order was made.
            "INSERT INTO ledger_entries (school_id, student_id, charge_id, kind, amount_fen, reference, memo, created_at) \
             SELECT $1, $12, charge_id, $13, amount_fen - balance_fen, $6, '', $11 FROM order_lines \
             WHERE order_id = $2 AND amount_fen > balance_fen ORDER BY id",
        ];
        let order_paid = "UPDATE orders SET status = $14, paid_at = $11, ended_at = NULL WHERE id = $2 AND status = $15";
        let lines_free = "UPDATE order_lines SET live = 0 WHERE order_id = $2";
        let attempt_paid =
            format!("UPDATE pay_attempts SET status = $16 WHERE id = $3 AND status IN ({})", placeholders(27, attempt_from.len()));
        let job = "INSERT INTO jobs (kind, payload, queue, run_at, created_at) VALUES ($17, $18, $19, $20, $20) ON CONFLICT DO NOTHING";
        let notice = "INSERT INTO notifications (provider, school_code, headers, body, received_at, outcome) \
                      SELECT $21, $22, $23, $24, $11, $25 WHERE $26 = 1";
        let savepoint = match (p.savepoint, self.backend()) {
            (Some(name), Backend::Sqlite) => format!("SAVEPOINT {name}; "),
            (Some(name), Backend::Postgres) => {
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("SAVEPOINT {name}"))).execute(&mut *tx.tx).await?;
                String::new()
            }
            (None, _) => String::new(),
        };
        let sql = match self.backend() {
            Backend::Sqlite => format!(
                "{savepoint}{}; {}; {order_paid}; SELECT changes() AS orders; {lines_free}; {attempt_paid}; SELECT changes() AS attempts; \
                 {job}; {notice}; SELECT COUNT(*) AS attempts_now FROM pay_attempts WHERE order_id = $2",
                inserts[0], inserts[1]
            ),
            Backend::Postgres => format!(
                "WITH pp AS ({} RETURNING id), le AS ({} RETURNING id), o AS ({order_paid} RETURNING id), \
                 ol AS ({lines_free} RETURNING id), a AS ({attempt_paid} RETURNING id), j AS ({job} RETURNING id), \
                 n AS ({notice} RETURNING id) SELECT (SELECT COUNT(*) FROM o) AS orders, (SELECT COUNT(*) FROM a) AS attempts",
                inserts[0], inserts[1]
            ),
        };
        let t = now();
        let n = p.notice.as_ref();
        let (kind, payload, queue, jobs_now) = p.receipt_job;
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(p.school_id)
            .bind(p.order_id)
            .bind(p.attempt_id)
            .bind(p.provider.as_str())
            .bind(p.channel.as_str())
            .bind(p.txn_id)
            .bind(p.amount.0)
            .bind(p.source.as_str())
            .bind(Disposition::Applied.as_str())
            .bind(p.paid_at)
            .bind(t)
            .bind(p.student_id)
            .bind(LedgerKind::Payment.as_str())
            .bind(OrderState::Paid.as_str())
            .bind(OrderState::Unpaid.as_str())
            .bind(AttemptState::Paid.as_str())
            .bind(kind)
            .bind(payload)
            .bind(queue)
            .bind(jobs_now)
            .bind(n.map_or("", |n| n.provider))
            .bind(n.map_or("", |n| n.school_code))
            .bind(n.map_or("", |n| n.headers))
            .bind(n.map_or("", |n| n.body))
            .bind(n.map_or("", |n| n.outcome))
            .bind(i64::from(n.is_some()));
        for from in &attempt_from {
            q = q.bind(from.as_str());
        }
        let rows = q.fetch_all(&mut *tx.tx).await.map_err(|e| StoreError::from_write(e, "provider transaction"))?;
        // SQLite answers one row per `changes()`, PostgreSQL one row with both counts.
        let count = |col: &str| rows.iter().find_map(|r| r.try_get::<i64, _>(col).ok());
        let attempts_now = match self.backend() {
            Backend::Sqlite => count("attempts_now"),
            Backend::Postgres => Some(
                sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM pay_attempts WHERE order_id = $1")
                    .bind(p.order_id)
                    .fetch_one(&mut *tx.tx)
                    .await?,
            ),
        };
        let seen = i64::try_from(p.attempts_seen).ok();
        if count("orders") != Some(1) || count("attempts") != Some(1) || attempts_now != seen {
            return Err(StoreError::Stale(format!("order {} or attempt {} moved while held", p.order_id, p.attempt_id)));
        }
        Ok(())
    }

    /// Undoes what was written since `savepoint` (see [`AppliedPayment::savepoint`]); the
    /// transaction goes on.
    pub async fn rollback_to(&self, tx: &mut WriteTx, savepoint: &str) -> Result<(), StoreError> {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("ROLLBACK TO SAVEPOINT {savepoint}"))).execute(&mut *tx.tx).await?;
        Ok(())
    }
}
