//! Orders, their lines and payment attempts.

use crate::db::{Backend, On, Store, StoreError, WriteTx, in_json_list, map_rows, now, placeholders, word};
use campuspay_domain::Fen;
use campuspay_domain::order::{AttemptState, OrderState};
use campuspay_domain::payment::{Method, Provider};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone)]
pub struct OrderRow {
    pub id: i64,
    pub school_id: i64,
    pub student_id: i64,
    pub order_no: String,
    pub total: Fen,
    /// Paid from the student's balance (余额), on top of `total`.
    pub balance: Fen,
    pub status: OrderState,
    pub phone: String,
    pub invoice_kind: String,
    pub invoice_title: String,
    pub invoice_tax_no: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub paid_at: Option<i64>,
    pub ended_at: Option<i64>,
}

pub struct NewOrder<'a> {
    pub school_id: i64,
    pub student_id: i64,
    pub order_no: &'a str,
    pub total: Fen,
    pub balance: Fen,
    pub phone: &'a str,
    pub invoice_kind: &'a str,
    pub invoice_title: &'a str,
    pub invoice_tax_no: &'a str,
    pub expires_at: i64,
}

#[derive(Debug, Clone)]
pub struct OrderLine {
    pub charge_id: i64,
    pub amount: Fen,
    /// The part of `amount` the balance pays.
    pub balance: Fen,
    pub item_name: String,
    pub period_name: String,
    pub receipt_type: String,
}

#[derive(Debug, Clone)]
pub struct AttemptRow {
    pub id: i64,
    pub school_id: i64,
    pub order_id: i64,
    pub channel: Method,
    pub out_trade_no: String,
    pub status: AttemptState,
    pub action: String,
    pub reference: String,
    pub created_at: i64,
}

/// One school's merchant configuration for one provider.
#[derive(Debug, Clone)]
pub struct ChannelConfigRow {
    pub school_id: i64,
    pub provider: Provider,
    /// JSON of `campuspay_channels::ChannelConfig`.
    pub config: String,
}

macro_rules! order_columns {
    () => {
        "id, school_id, student_id, order_no, total_fen, balance_fen, status, phone, invoice_kind, invoice_title, invoice_tax_no, \
         created_at, expires_at, paid_at, ended_at"
    };
}

macro_rules! attempt_columns {
    () => {
        "id, school_id, order_id, channel, out_trade_no, status, action, reference, created_at"
    };
}

pub(crate) fn order(r: &AnyRow) -> Result<OrderRow, sqlx::Error> {
    Ok(OrderRow {
        id: r.try_get("id")?,
        school_id: r.try_get("school_id")?,
        student_id: r.try_get("student_id")?,
        order_no: r.try_get("order_no")?,
        total: Fen(r.try_get("total_fen")?),
        balance: Fen(r.try_get("balance_fen")?),
        status: word(r, "status")?,
        phone: r.try_get("phone")?,
        invoice_kind: r.try_get("invoice_kind")?,
        invoice_title: r.try_get("invoice_title")?,
        invoice_tax_no: r.try_get("invoice_tax_no")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        paid_at: r.try_get("paid_at")?,
        ended_at: r.try_get("ended_at")?,
    })
}

const ORDER_LINES_SQL: &str = "SELECT l.charge_id, l.amount_fen, l.balance_fen, f.name AS item_name, p.name AS period_name, f.receipt_type \
     FROM order_lines l JOIN charges c ON c.id = l.charge_id JOIN fee_items f ON f.id = c.fee_item_id \
     JOIN periods p ON p.id = c.period_id WHERE l.order_id = $1 ORDER BY l.id";

fn order_line(r: &AnyRow) -> Result<OrderLine, sqlx::Error> {
    Ok(OrderLine {
        charge_id: r.try_get("charge_id")?,
        amount: Fen(r.try_get("amount_fen")?),
        balance: Fen(r.try_get("balance_fen")?),
        item_name: r.try_get("item_name")?,
        period_name: r.try_get("period_name")?,
        receipt_type: r.try_get("receipt_type")?,
    })
}

pub(crate) fn attempt(r: &AnyRow) -> Result<AttemptRow, sqlx::Error> {
    Ok(AttemptRow {
        id: r.try_get("id")?,
        school_id: r.try_get("school_id")?,
        order_id: r.try_get("order_id")?,
        channel: word(r, "channel")?,
        out_trade_no: r.try_get("out_trade_no")?,
        status: word(r, "status")?,
        action: r.try_get("action")?,
        reference: r.try_get("reference")?,
        created_at: r.try_get("created_at")?,
    })
}

impl Store {
    /// The next number of a school's daily order sequence (1, 2, …), atomically.
    pub async fn next_order_sequence(&self, tx: &mut WriteTx, school_id: i64, day: &str) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "INSERT INTO order_sequences (school_id, day, seq) VALUES ($1, $2, 1) \
             ON CONFLICT (school_id, day) DO UPDATE SET seq = order_sequences.seq + 1 RETURNING seq",
        )
        .bind(school_id)
        .bind(day)
        .fetch_one(&mut *tx.tx)
        .await?)
    }

    /// Inserts an unpaid order and answers it as stored (no second read to show it).
    pub async fn insert_order(&self, tx: &mut WriteTx, o: &NewOrder<'_>) -> Result<OrderRow, StoreError> {
        let row = sqlx::query(concat!(
            "INSERT INTO orders (school_id, student_id, order_no, total_fen, balance_fen, status, phone, invoice_kind, invoice_title, \
             invoice_tax_no, created_at, expires_at) VALUES ($1, $2, $3, $4, $11, $12, $5, $6, $7, $8, $9, $10) RETURNING ",
            order_columns!()
        ))
        .bind(o.school_id)
        .bind(o.student_id)
        .bind(o.order_no)
        .bind(o.total.0)
        .bind(o.phone)
        .bind(o.invoice_kind)
        .bind(o.invoice_title)
        .bind(o.invoice_tax_no)
        .bind(now())
        .bind(o.expires_at)
        .bind(o.balance.0)
        .bind(OrderState::Unpaid.as_str())
        .fetch_one(&mut *tx.tx)
        .await
        .map_err(|e| StoreError::from_write(e, "order number"))?;
        Ok(order(&row)?)
    }

    /// Adds a line holding `charge_id` for `amount`, if the charge still owes that much as this
    /// transaction sees it (one statement: the check and the insert cannot be split by another
    /// writer); answers whether it was added. A charge another live order holds is `Conflict`.
    pub async fn insert_order_line(
        &self,
        tx: &mut WriteTx,
        school_id: i64,
        order_id: i64,
        charge_id: i64,
        amount: Fen,
        balance: Fen,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO order_lines (school_id, order_id, charge_id, amount_fen, balance_fen, live) \
             SELECT $1, $2, $3, $4, $5, 1 WHERE (SELECT owed_fen FROM charge_sums WHERE charge_id = $3) >= $4",
        )
        .bind(school_id)
        .bind(order_id)
        .bind(charge_id)
        .bind(amount.0)
        .bind(balance.0)
        .execute(&mut *tx.tx)
        .await
        .map_err(|e| StoreError::from_write(e, "charge held by a live order"))?;
        Ok(done.rows_affected() == 1)
    }

    /// The live order holding any of these charges, if one does.
    pub async fn live_order_holding(&self, school_id: i64, charge_id: i64) -> Result<Option<OrderRow>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            order_columns!(),
            " FROM orders WHERE school_id = $1 AND id = (SELECT order_id FROM order_lines WHERE charge_id = $2 AND live = 1)"
        ))
        .bind(school_id)
        .bind(charge_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(order).transpose()?)
    }

    pub async fn order_by_no(&self, school_id: i64, order_no: &str) -> Result<Option<OrderRow>, StoreError> {
        let row = sqlx::query(concat!("SELECT ", order_columns!(), " FROM orders WHERE school_id = $1 AND order_no = $2"))
            .bind(school_id)
            .bind(order_no)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(order).transpose()?)
    }

    pub async fn order_by_id(&self, id: i64) -> Result<Option<OrderRow>, StoreError> {
        let row =
            sqlx::query(concat!("SELECT ", order_columns!(), " FROM orders WHERE id = $1")).bind(id).fetch_optional(&self.pool).await?;
        Ok(row.as_ref().map(order).transpose()?)
    }

    /// Reads the order inside a write transaction, locking its row on PostgreSQL so that a
    /// notification, a query and an expiry of the same order take turns (SQLite's single
    /// writer already serialises them).
    pub async fn lock_order(&self, tx: &mut WriteTx, id: i64) -> Result<OrderRow, StoreError> {
        let sql = match self.backend() {
            Backend::Postgres => concat!("SELECT ", order_columns!(), " FROM orders WHERE id = $1 FOR UPDATE"),
            Backend::Sqlite => concat!("SELECT ", order_columns!(), " FROM orders WHERE id = $1"),
        };
        let row = sqlx::query(sql).bind(id).fetch_optional(&mut *tx.tx).await?.ok_or(StoreError::NotFound)?;
        Ok(order(&row)?)
    }

    pub async fn orders_of_student(&self, school_id: i64, student_id: i64, limit: i64) -> Result<Vec<OrderRow>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            order_columns!(),
            " FROM orders WHERE school_id = $1 AND student_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3"
        ))
        .bind(school_id)
        .bind(student_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(order).collect::<Result<_, _>>()?)
    }

    /// The order's lines; `On::Tx` inside a transaction that holds the order.
    pub async fn order_lines(&self, on: On<'_>, order_id: i64) -> Result<Vec<OrderLine>, StoreError> {
        let rows = self.fetch_all(on, sqlx::query(ORDER_LINES_SQL).bind(order_id)).await?;
        map_rows(&rows, order_line)
    }

    /// Moves an order to `to` (the domain's transitions say from where; in practice out of
    /// `unpaid`) and frees its charges for other orders. `Stale` when the order is no longer
    /// in a state `to` may follow: nothing is changed then.
    pub async fn end_order(&self, tx: &mut WriteTx, id: i64, to: OrderState) -> Result<(), StoreError> {
        let t = now();
        let paid = to == OrderState::Paid;
        let from = OrderState::predecessors(to);
        let sql = format!(
            "UPDATE orders SET status = $1, paid_at = $2, ended_at = $3 WHERE id = $4 AND status IN ({})",
            placeholders(5, from.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(to.as_str()).bind(paid.then_some(t)).bind((!paid).then_some(t)).bind(id);
        for f in &from {
            q = q.bind(f.as_str());
        }
        if q.execute(&mut *tx.tx).await?.rows_affected() != 1 {
            return Err(StoreError::Stale(format!("order {id} cannot become {to}")));
        }
        sqlx::query("UPDATE order_lines SET live = 0 WHERE order_id = $1").bind(id).execute(&mut *tx.tx).await?;
        Ok(())
    }

    pub async fn insert_attempt(
        &self,
        tx: &mut WriteTx,
        school_id: i64,
        order_id: i64,
        channel: Method,
        out_trade_no: &str,
    ) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO pay_attempts (school_id, order_id, channel, out_trade_no, status, created_at) \
             VALUES ($1, $2, $3, $4, $6, $5) RETURNING id",
        )
        .bind(school_id)
        .bind(order_id)
        .bind(channel.as_str())
        .bind(out_trade_no)
        .bind(now())
        .bind(AttemptState::Open.as_str())
        .fetch_one(&mut *tx.tx)
        .await
        .map_err(|e| StoreError::from_write(e, "provider trade number"))
    }

    /// Keeps what the provider answered to the create (the QR code, the redirect, …).
    pub async fn set_attempt_action(&self, tx: &mut WriteTx, id: i64, action: &str, reference: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE pay_attempts SET action = $1, reference = $2 WHERE id = $3")
            .bind(action)
            .bind(reference)
            .bind(id)
            .execute(&mut *tx.tx)
            .await?;
        Ok(())
    }

    /// Moves an attempt to `to` if the domain allows it from the attempt's current state;
    /// `Stale` (and no change) when it does not, e.g. closing an attempt that was paid.
    pub async fn set_attempt_status(&self, tx: &mut WriteTx, id: i64, to: AttemptState) -> Result<(), StoreError> {
        let from = AttemptState::predecessors(to);
        let sql = format!("UPDATE pay_attempts SET status = $1 WHERE id = $2 AND status IN ({})", placeholders(3, from.len()));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(to.as_str()).bind(id);
        for f in &from {
            q = q.bind(f.as_str());
        }
        if q.execute(&mut *tx.tx).await?.rows_affected() != 1 {
            return Err(StoreError::Stale(format!("attempt {id} cannot become {to}")));
        }
        Ok(())
    }

    /// The order's attempts, oldest first; `On::Tx` after `lock_order` sees every attempt.
    pub async fn attempts_of_order(&self, on: On<'_>, order_id: i64) -> Result<Vec<AttemptRow>, StoreError> {
        let rows = self
            .fetch_all(
                on,
                sqlx::query(concat!("SELECT ", attempt_columns!(), " FROM pay_attempts WHERE order_id = $1 ORDER BY id")).bind(order_id),
            )
            .await?;
        map_rows(&rows, attempt)
    }

    /// What is still owed on a charge (the `charge_sums` view, the one definition of it). Read
    /// `On::Tx` inside the transaction that is about to order it, a payment committed since the
    /// caller last looked is counted.
    pub async fn charge_remaining(&self, on: On<'_>, charge_id: i64) -> Result<Fen, StoreError> {
        let row = self.fetch_one(on, sqlx::query("SELECT owed_fen FROM charge_sums WHERE charge_id = $1").bind(charge_id)).await?;
        Ok(Fen(row.try_get("owed_fen")?))
    }

    pub async fn attempt_by_id(&self, id: i64) -> Result<Option<AttemptRow>, StoreError> {
        let row = sqlx::query(concat!("SELECT ", attempt_columns!(), " FROM pay_attempts WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(attempt).transpose()?)
    }

    pub async fn attempt_by_out_trade_no(&self, out_trade_no: &str) -> Result<Option<AttemptRow>, StoreError> {
        let row = sqlx::query(concat!("SELECT ", attempt_columns!(), " FROM pay_attempts WHERE out_trade_no = $1"))
            .bind(out_trade_no)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(attempt).transpose()?)
    }

    /// The attempts of many trade numbers in one query (reconciliation looks a statement's
    /// lines up in batches, not one query per line); numbers that are none of ours are absent.
    pub async fn attempts_by_out_trade_nos(&self, out_trade_nos: &[&str]) -> Result<Vec<AttemptRow>, StoreError> {
        if out_trade_nos.is_empty() {
            return Ok(Vec::new());
        }
        let sql =
            format!(concat!("SELECT ", attempt_columns!(), " FROM pay_attempts WHERE out_trade_no {}"), in_json_list(self.backend(), 1));
        let list = serde_json::Value::from(out_trade_nos.to_vec()).to_string();
        map_rows(&sqlx::query(sqlx::AssertSqlSafe(sql)).bind(list).fetch_all(&self.pool).await?, attempt)
    }

    /// Holds the student's row until the transaction ends, so that two orders cannot spend the
    /// same balance (PostgreSQL; SQLite's single writer already does).
    pub async fn lock_student(&self, tx: &mut WriteTx, student_id: i64) -> Result<(), StoreError> {
        if self.backend() == Backend::Postgres {
            sqlx::query("SELECT id FROM students WHERE id = $1 FOR UPDATE").bind(student_id).execute(&mut *tx.tx).await?;
        }
        Ok(())
    }

    pub async fn count_attempts(&self, tx: &mut WriteTx, order_id: i64) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM pay_attempts WHERE order_id = $1").bind(order_id).fetch_one(&mut *tx.tx).await?)
    }

    pub async fn channel_configs(&self) -> Result<Vec<ChannelConfigRow>, StoreError> {
        let rows = sqlx::query("SELECT school_id, provider, config FROM school_channels").fetch_all(&self.pool).await?;
        map_rows(&rows, |r| {
            Ok(ChannelConfigRow { school_id: r.try_get("school_id")?, provider: word(r, "provider")?, config: r.try_get("config")? })
        })
    }

    pub async fn set_channel_config(&self, tx: &mut WriteTx, school_id: i64, provider: Provider, config: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO school_channels (school_id, provider, config, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (school_id, provider) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at",
        )
        .bind(school_id)
        .bind(provider.as_str())
        .bind(config)
        .bind(now())
        .execute(&mut *tx.tx)
        .await?;
        Ok(())
    }
}
