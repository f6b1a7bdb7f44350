//! Electronic receipts: the gap-free number sequences, the schools' signing keys and the
//! receipts themselves (their signed data kept exactly as signed).

use crate::db::{On, Store, StoreError, WriteTx, map_rows, now, placeholders};
use campuspay_domain::Fen;
use campuspay_domain::receipt::{ReceiptKind, ReceiptStatus};
use sqlx::Row;
use sqlx::any::AnyRow;
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct ReceiptRow {
    pub id: i64,
    pub school_id: i64,
    pub student_id: i64,
    pub source: String,
    pub order_id: Option<i64>,
    pub issue_key: String,
    pub receipt_type: String,
    pub kind: ReceiptKind,
    pub original_id: Option<i64>,
    pub issuer: String,
    pub code: String,
    pub seq: i64,
    pub number: String,
    pub check_code: String,
    pub data: String,
    pub signature: String,
    pub amount: Fen,
    pub payer: String,
    pub status: ReceiptStatus,
    pub status_reason: String,
    pub issued_at: i64,
    pub status_at: Option<i64>,
}

pub struct NewReceipt<'a> {
    pub school_id: i64,
    pub student_id: i64,
    pub source: &'a str,
    pub order_id: Option<i64>,
    pub issue_key: &'a str,
    pub receipt_type: &'a str,
    pub kind: ReceiptKind,
    pub original_id: Option<i64>,
    pub issuer: &'a str,
    pub code: &'a str,
    pub seq: i64,
    pub number: &'a str,
    pub check_code: &'a str,
    pub data: &'a str,
    pub signature: &'a str,
    pub amount: Fen,
    pub payer: &'a str,
    pub issued_at: i64,
}

const COLUMNS: &str = "id, school_id, student_id, source, order_id, issue_key, receipt_type, kind, original_id, issuer, code, seq, \
     number, check_code, data, signature, amount_fen, payer, status, status_reason, issued_at, status_at";

fn receipt(r: &AnyRow) -> Result<ReceiptRow, sqlx::Error> {
    let decode = |col: &str, e: campuspay_domain::UnknownName| sqlx::Error::ColumnDecode { index: col.into(), source: Box::new(e) };
    Ok(ReceiptRow {
        id: r.try_get("id")?,
        school_id: r.try_get("school_id")?,
        student_id: r.try_get("student_id")?,
        source: r.try_get("source")?,
        order_id: r.try_get("order_id")?,
        issue_key: r.try_get("issue_key")?,
        receipt_type: r.try_get("receipt_type")?,
        kind: r.try_get::<String, _>("kind")?.parse().map_err(|e| decode("kind", e))?,
        original_id: r.try_get("original_id")?,
        issuer: r.try_get("issuer")?,
        code: r.try_get("code")?,
        seq: r.try_get("seq")?,
        number: r.try_get("number")?,
        check_code: r.try_get("check_code")?,
        data: r.try_get("data")?,
        signature: r.try_get("signature")?,
        amount: Fen(r.try_get("amount_fen")?),
        payer: r.try_get("payer")?,
        status: r.try_get::<String, _>("status")?.parse().map_err(|e| decode("status", e))?,
        status_reason: r.try_get("status_reason")?,
        issued_at: r.try_get("issued_at")?,
        status_at: r.try_get("status_at")?,
    })
}

/// What the office's receipt search filters on; empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct ReceiptQuery {
    /// A receipt number, a payer's name, or a source such as `order:12`.
    pub text: String,
    pub student_id: Option<i64>,
    pub limit: i64,
}

impl Store {
    /// The next number of a school's sequence for a receipt type (1, 2, …), in the issuing
    /// transaction: the row stays locked until it commits, and a rollback gives the number
    /// back, so the sequence has no gaps however many issue at once.
    pub async fn next_receipt_seq(&self, tx: &mut WriteTx, school_id: i64, receipt_type: &str) -> Result<i64, StoreError> {
        self.take_receipt_seqs(tx, school_id, receipt_type, 1).await
    }

    /// Takes the next `count` numbers of the sequence at once, as [`Store::next_receipt_seq`]
    /// takes one; returns the last of them (they are `last - count + 1 ..= last`). The caller
    /// must use them all in the same transaction, or the sequence would have gaps.
    pub async fn take_receipt_seqs(&self, tx: &mut WriteTx, school_id: i64, receipt_type: &str, count: i64) -> Result<i64, StoreError> {
        if count < 1 {
            return Err(StoreError::Corrupt(format!("taking {count} receipt numbers")));
        }
        Ok(sqlx::query_scalar(
            "INSERT INTO receipt_sequences (school_id, receipt_type, seq) VALUES ($1, $2, $3) \
             ON CONFLICT (school_id, receipt_type) DO UPDATE SET seq = receipt_sequences.seq + $3 RETURNING seq",
        )
        .bind(school_id)
        .bind(receipt_type)
        .bind(count)
        .fetch_one(&mut *tx.tx)
        .await?)
    }

    /// The school's receipt signing key, stored as `fresh` if it has none yet.
    pub async fn receipt_key(&self, tx: &mut WriteTx, school_id: i64, fresh: &str) -> Result<String, StoreError> {
        // Read first: a school has its key after its first receipt, so that is one statement.
        let q = sqlx::query_scalar("SELECT secret FROM receipt_keys WHERE school_id = $1").bind(school_id);
        if let Some(key) = q.fetch_optional(&mut *tx.tx).await? {
            return Ok(key);
        }
        sqlx::query("INSERT INTO receipt_keys (school_id, secret) VALUES ($1, $2) ON CONFLICT (school_id) DO NOTHING")
            .bind(school_id)
            .bind(fresh)
            .execute(&mut *tx.tx)
            .await?;
        Ok(sqlx::query_scalar("SELECT secret FROM receipt_keys WHERE school_id = $1").bind(school_id).fetch_one(&mut *tx.tx).await?)
    }

    /// The key for checking a receipt; `None` if the school never issued one.
    pub async fn receipt_key_of(&self, school_id: i64) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT secret FROM receipt_keys WHERE school_id = $1").bind(school_id).fetch_optional(&self.pool).await?)
    }

    /// The receipts of one source (`order:12`, `offline:3`), oldest first.
    pub async fn receipts_of_source(&self, on: On<'_>, school_id: i64, source: &str) -> Result<Vec<ReceiptRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM receipts WHERE school_id = $1 AND source = $2 ORDER BY id");
        let rows = self.fetch_all(on, sqlx::query(sqlx::AssertSqlSafe(sql)).bind(school_id).bind(source)).await?;
        map_rows(&rows, receipt)
    }

    /// A student's receipts, newest first.
    pub async fn receipts_of_student(&self, school_id: i64, student_id: i64) -> Result<Vec<ReceiptRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM receipts WHERE school_id = $1 AND student_id = $2 ORDER BY id DESC");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(school_id).bind(student_id).fetch_all(&self.pool).await?;
        map_rows(&rows, receipt)
    }

    pub async fn receipt_by_id(&self, on: On<'_>, school_id: i64, id: i64) -> Result<Option<ReceiptRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM receipts WHERE school_id = $1 AND id = $2");
        let row = self.fetch_optional(on, sqlx::query(sqlx::AssertSqlSafe(sql)).bind(school_id).bind(id)).await?;
        Ok(row.as_ref().map(receipt).transpose()?)
    }

    /// Receipts printed with this 票据代码 and 票据号码, of any school (a public verify names
    /// no school; the check code tells them apart).
    pub async fn receipts_by_number(&self, code: &str, number: &str) -> Result<Vec<ReceiptRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM receipts WHERE code = $1 AND number = $2 ORDER BY id LIMIT 10");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(code).bind(number).fetch_all(&self.pool).await?;
        map_rows(&rows, receipt)
    }

    /// A school's receipts matching the office's search, newest first.
    pub async fn search_receipts(&self, school_id: i64, q: &ReceiptQuery) -> Result<Vec<ReceiptRow>, StoreError> {
        let like = format!("%{}%", q.text.replace(['%', '_'], ""));
        let sql = format!(
            "SELECT {COLUMNS} FROM receipts WHERE school_id = $1 AND ($2 = '' OR number LIKE $3 OR payer LIKE $3 OR source = $2) \
             AND ($4 = 0 OR student_id = $4) ORDER BY id DESC LIMIT $5"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(school_id)
            .bind(q.text.as_str())
            .bind(like)
            .bind(q.student_id.unwrap_or(0))
            .bind(q.limit.clamp(1, 500))
            .fetch_all(&self.pool)
            .await?;
        map_rows(&rows, receipt)
    }

    /// Moves a receipt to `to` from a state the domain allows; `Stale` if it moved meanwhile.
    pub async fn set_receipt_status(&self, tx: &mut WriteTx, id: i64, to: ReceiptStatus, reason: &str) -> Result<(), StoreError> {
        let from = ReceiptStatus::predecessors(to);
        let sql = format!(
            "UPDATE receipts SET status = $1, status_reason = $2, status_at = $3 WHERE id = $4 AND status IN ({})",
            placeholders(5, from.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(to.as_str()).bind(reason).bind(now()).bind(id);
        for f in &from {
            q = q.bind(f.as_str());
        }
        if q.execute(&mut *tx.tx).await?.rows_affected() != 1 {
            return Err(StoreError::Stale(format!("receipt {id}")));
        }
        Ok(())
    }
}

/// A paid line as a receipt prints it.
#[derive(Debug, Clone)]
pub struct PaidLine {
    pub item_code: String,
    pub item_name: String,
    pub period_name: String,
    pub receipt_type: String,
    pub amount: Fen,
}

fn paid_line(r: &AnyRow) -> Result<PaidLine, sqlx::Error> {
    Ok(PaidLine {
        item_code: r.try_get("item_code")?,
        item_name: r.try_get("item_name")?,
        period_name: r.try_get("period_name")?,
        receipt_type: r.try_get("receipt_type")?,
        amount: Fen(r.try_get("amount_fen")?),
    })
}

/// An offline payment as its receipt needs it.
#[derive(Debug, Clone)]
pub struct OfflineForReceipt {
    pub school_id: i64,
    pub student_id: i64,
    pub method: String,
    pub reference: String,
}

impl Store {
    /// The lines of an order with their fee items' codes and receipt types.
    pub async fn order_paid_lines(&self, on: On<'_>, order_id: i64) -> Result<Vec<PaidLine>, StoreError> {
        let sql = "SELECT f.code AS item_code, f.name AS item_name, p.name AS period_name, f.receipt_type, l.amount_fen \
             FROM order_lines l JOIN charges c ON c.id = l.charge_id JOIN fee_items f ON f.id = c.fee_item_id \
             JOIN periods p ON p.id = c.period_id WHERE l.order_id = $1 ORDER BY l.id";
        let rows = self.fetch_all(on, sqlx::query(sql).bind(order_id)).await?;
        map_rows(&rows, paid_line)
    }
}

impl Store {
    /// The order a provider payment paid, if the payment was applied to it (a refund of such
    /// money red-letters the order's receipts; late money never had one).
    pub async fn applied_order_of_payment(&self, on: On<'_>, provider_payment_id: i64) -> Result<Option<i64>, StoreError> {
        let q = sqlx::query("SELECT order_id FROM provider_payments WHERE id = $1 AND disposition = 'applied'").bind(provider_payment_id);
        Ok(match self.fetch_optional(on, q).await? {
            Some(r) => Some(r.try_get("order_id")?),
            None => None,
        })
    }
}

/// How many values one `IN (…)` or multi-row statement takes at most: well under both
/// databases' limits on parameters (SQLite 32,766, PostgreSQL 65,535) at 19 per receipt.
const CHUNK: usize = 500;

/// Many rows at once, for the worker's batches: one statement per batch where a single
/// receipt takes one per row.
impl Store {
    /// The receipts of many sources, each `(school_id, source)`, by id.
    pub async fn receipts_of_sources(&self, tx: &mut WriteTx, sources: &[(i64, &str)]) -> Result<Vec<ReceiptRow>, StoreError> {
        // One school per statement, so the (school_id, source, …) unique index finds the rows.
        let mut by_school: HashMap<i64, Vec<&str>> = HashMap::new();
        for (school, source) in sources {
            by_school.entry(*school).or_default().push(source);
        }
        let mut out = Vec::new();
        for (school_id, sources) in by_school {
            for chunk in sources.chunks(CHUNK) {
                let sql = format!("SELECT {COLUMNS} FROM receipts WHERE school_id = $1 AND source IN ({})", placeholders(2, chunk.len()));
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(school_id);
                for s in chunk {
                    q = q.bind(*s);
                }
                out.extend(map_rows(&q.fetch_all(&mut *tx.tx).await?, receipt)?);
            }
        }
        out.sort_by_key(|r| r.id);
        Ok(out)
    }

    /// Offline payments as their receipts need them, by id; ids not found are left out.
    pub async fn offline_for_receipts(&self, tx: &mut WriteTx, ids: &[i64]) -> Result<Vec<(i64, OfflineForReceipt)>, StoreError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(CHUNK) {
            let sql = format!(
                "SELECT id, school_id, student_id, method, reference FROM offline_payments WHERE id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&mut *tx.tx).await? {
                let o = OfflineForReceipt {
                    school_id: r.try_get("school_id")?,
                    student_id: r.try_get("student_id")?,
                    method: r.try_get("method")?,
                    reference: r.try_get("reference")?,
                };
                out.push((r.try_get("id")?, o));
            }
        }
        Ok(out)
    }

    /// The ledger lines of many offline payments, as [`Store::offline_paid_lines`] gives one's,
    /// keyed by (school, student, reference).
    pub async fn offline_paid_lines_of(
        &self,
        tx: &mut WriteTx,
        payments: &[&OfflineForReceipt],
    ) -> Result<HashMap<(i64, i64, String), Vec<PaidLine>>, StoreError> {
        let mut out: HashMap<(i64, i64, String), Vec<PaidLine>> = HashMap::new();
        // One school per statement, so the ledger's (school_id, reference) index finds the rows.
        let mut by_school: HashMap<i64, Vec<&str>> = HashMap::new();
        for o in payments {
            by_school.entry(o.school_id).or_default().push(o.reference.as_str());
        }
        for (school_id, references) in by_school {
            for chunk in references.chunks(CHUNK) {
                let sql = format!(
                    "SELECT e.school_id, e.student_id, e.reference, f.code AS item_code, f.name AS item_name, p.name AS period_name, \
                     f.receipt_type, e.amount_fen FROM ledger_entries e JOIN charges c ON c.id = e.charge_id \
                     JOIN fee_items f ON f.id = c.fee_item_id JOIN periods p ON p.id = c.period_id \
                     WHERE e.school_id = $1 AND e.kind = 'offline_payment' AND e.reference IN ({}) ORDER BY e.id",
                    placeholders(2, chunk.len())
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(school_id);
                for r in chunk {
                    q = q.bind(*r);
                }
                for r in q.fetch_all(&mut *tx.tx).await? {
                    let key = (r.try_get("school_id")?, r.try_get("student_id")?, r.try_get("reference")?);
                    out.entry(key).or_default().push(paid_line(&r)?);
                }
            }
        }
        Ok(out)
    }

    /// Inserts receipts in one statement per chunk; returns their ids in `rows`' order.
    /// `Conflict` when any is there already (a retried job), as [`Store::insert_receipt`].
    pub async fn insert_receipts(&self, tx: &mut WriteTx, rows: &[NewReceipt<'_>]) -> Result<Vec<i64>, StoreError> {
        const COLS: usize = 19;
        let mut ids = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(CHUNK / 10) {
            let values = (0..chunk.len()).map(|i| format!("({})", placeholders(1 + i * COLS, COLS))).collect::<Vec<_>>().join(", ");
            let sql = format!(
                "INSERT INTO receipts (school_id, student_id, source, order_id, issue_key, receipt_type, kind, original_id, issuer, \
                 code, seq, number, check_code, data, signature, amount_fen, payer, status, issued_at) VALUES {values} \
                 RETURNING id, source, receipt_type, issue_key"
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for r in chunk {
                q = q
                    .bind(r.school_id)
                    .bind(r.student_id)
                    .bind(r.source)
                    .bind(r.order_id)
                    .bind(r.issue_key)
                    .bind(r.receipt_type)
                    .bind(r.kind.as_str())
                    .bind(r.original_id)
                    .bind(r.issuer)
                    .bind(r.code)
                    .bind(r.seq)
                    .bind(r.number)
                    .bind(r.check_code)
                    .bind(r.data)
                    .bind(r.signature)
                    .bind(r.amount.0)
                    .bind(r.payer)
                    .bind(ReceiptStatus::Issued.as_str())
                    .bind(r.issued_at);
            }
            let returned = q.fetch_all(&mut *tx.tx).await.map_err(|e| StoreError::from_write(e, "receipt"))?;
            // RETURNING gives no order: each row is found again by its unique key.
            let mut by_key = HashMap::with_capacity(returned.len());
            for r in &returned {
                let key: (String, String, String) = (r.try_get("source")?, r.try_get("receipt_type")?, r.try_get("issue_key")?);
                by_key.insert(key, r.try_get::<i64, _>("id")?);
            }
            for r in chunk {
                let key = (r.source.to_string(), r.receipt_type.to_string(), r.issue_key.to_string());
                ids.push(by_key.get(&key).copied().ok_or_else(|| StoreError::Corrupt(format!("receipt {key:?} not returned")))?);
            }
        }
        Ok(ids)
    }
}
