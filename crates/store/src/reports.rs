//! What the office's reports read: collection progress from the ledger, stored
//! reconciliation results.

use crate::db::{Backend, Store, StoreError, WriteTx, map_rows, now, word};
use campuspay_domain::Fen;
use campuspay_domain::payment::Provider;
use campuspay_domain::settlement::ReportBy;
use sqlx::Row;

/// One row of a collection report: every figure is a sum of ledger rows (charged is the
/// charges as issued, less their discount).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectionRow {
    pub key: String,
    pub students: i64,
    pub charges: i64,
    pub charged: Fen,
    pub waived: Fen,
    pub paid_online: Fen,
    pub paid_offline: Fen,
    /// What the student's balance paid (net of what closed orders gave back).
    pub paid_balance: Fen,
    /// What went back to payers (positive).
    pub refunded: Fen,
}

impl CollectionRow {
    pub fn paid(&self) -> Fen {
        Fen(self.paid_online.0 + self.paid_offline.0 + self.paid_balance.0)
    }

    /// charged − waived − paid + refunded.
    pub fn outstanding(&self) -> Fen {
        Fen(self.charged.0 - self.waived.0 - self.paid().0 + self.refunded.0)
    }
}

/// A student who still owes, for drill-down.
#[derive(Debug, Clone)]
pub struct Debtor {
    pub student_no: String,
    pub name: String,
    pub class_name: String,
    pub item: String,
    pub outstanding: Fen,
}

/// The figures of one reconciliation run.
#[derive(Debug, Clone, Default)]
pub struct ReconciliationRow {
    pub id: i64,
    pub school_id: i64,
    pub provider: Option<Provider>,
    pub day: String,
    pub ok: bool,
    pub error: String,
    pub statement_count: i64,
    pub statement_fen: Fen,
    pub refund_count: i64,
    pub refund_fen: Fen,
    pub matched_count: i64,
    pub matched_fen: Fen,
    pub settled_now_count: i64,
    pub settled_now_fen: Fen,
    pub missing_ours_count: i64,
    pub missing_ours_fen: Fen,
    pub missing_theirs_count: i64,
    pub missing_theirs_fen: Fen,
    pub mismatched_count: i64,
    pub statement: String,
    /// What the provider kept of the counted lines (net of fees given back with refunds);
    /// `None` where the statement states no fee we read.
    pub fee_fen: Option<Fen>,
    /// Read from a file the office uploaded (`statement_imports`), not fetched from the provider.
    pub imported: bool,
    /// That file, as kept (read back only; never written from here).
    pub file: Option<KeptStatementFile>,
    pub created_at: i64,
}

/// What is known of a kept statement file without reading its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptStatementFile {
    /// The `statement_imports` row.
    pub id: i64,
    pub file_name: String,
    /// Lower-case hex SHA-256 of the file as uploaded.
    pub sha256: String,
    pub size_bytes: i64,
}

/// A kept statement file with its bytes (base64, as stored).
#[derive(Debug, Clone)]
pub struct StatementFileContent {
    pub file: KeptStatementFile,
    pub provider: Provider,
    pub day: String,
    pub content_base64: String,
}

fn key_column(by: ReportBy) -> &'static str {
    match by {
        ReportBy::Department => "s.department",
        ReportBy::Major => "s.major",
        ReportBy::Class => "s.class_name",
        ReportBy::Level => "s.level",
        ReportBy::Item => "f.name",
    }
}

/// Per charge of the period: its issued amount and its ledger sums by kind. The ledger is
/// summed per charge first, over the period's charges only, then joined, so the wide join is
/// never grouped by charge. (On PostgreSQL with 500,000 charges the report still takes about
/// 1 s in psql and 2 s through the benchmark: most of it is the merge join of the ledger with
/// the charges and the sort by group; see bench_money.)
const PER_CHARGE: &str = "SELECT c.id, c.student_id, c.fee_item_id, c.total_fen - c.discount_fen AS charged, \
       COALESCE(x.waived, 0) AS waived, COALESCE(x.online, 0) AS online, COALESCE(x.offline, 0) AS offline, \
       COALESCE(x.balance, 0) AS balance, COALESCE(x.refunded, 0) AS refunded \
     FROM charges c LEFT JOIN ( \
       SELECT l.charge_id, \
         SUM(CASE WHEN l.kind IN ('waiver', 'cancellation') THEN l.amount_fen ELSE 0 END) AS waived, \
         SUM(CASE WHEN l.kind = 'payment' THEN l.amount_fen ELSE 0 END) AS online, \
         SUM(CASE WHEN l.kind = 'offline_payment' THEN l.amount_fen ELSE 0 END) AS offline, \
         SUM(CASE WHEN l.kind = 'balance_use' THEN l.amount_fen ELSE 0 END) AS balance, \
         SUM(CASE WHEN l.kind = 'refund' THEN -l.amount_fen ELSE 0 END) AS refunded \
       FROM ledger_entries l JOIN charges lc ON lc.id = l.charge_id \
       WHERE lc.school_id = $1 AND lc.period_id = (SELECT id FROM periods WHERE school_id = $1 AND code = $2) \
       GROUP BY l.charge_id) x ON x.charge_id = c.id \
     WHERE c.school_id = $1 AND c.period_id = (SELECT id FROM periods WHERE school_id = $1 AND code = $2)";

impl Store {
    /// Whether the school has a period with this code.
    pub async fn period_exists(&self, school_id: i64, code: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM periods WHERE school_id = $1 AND code = $2")
            .bind(school_id)
            .bind(code)
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    /// The period's collection grouped by `by`, in key order.
    ///
    /// Two halves, each grouped by the key on its own and joined on it (2,000 rows each for
    /// 100,000 students by class): the charges, summed per student first (per student and
    /// item name when grouping by item) so that each inner row is one student of its group
    /// and `COUNT(*)` counts students without `DISTINCT`; and the ledger rows of the period's
    /// charges, which are sums only and go straight into their group. Summing the ledger per
    /// student first, then joining two 100,000-row halves, was a third of the time on
    /// PostgreSQL (see docs/PERFORMANCE.md). The period is looked up first and bound as a
    /// value, so the planner knows how many charges it has.
    pub async fn collection(&self, school_id: i64, period: &str, by: ReportBy) -> Result<Vec<CollectionRow>, StoreError> {
        let period_id: Option<i64> = sqlx::query_scalar("SELECT id FROM periods WHERE school_id = $1 AND code = $2")
            .bind(school_id)
            .bind(period)
            .fetch_optional(&self.pool)
            .await?;
        let Some(period_id) = period_id else { return Ok(Vec::new()) };
        let key = key_column(by);
        // The item's name is on the charge's fee item; any other key is on the student.
        let (charges_item, charges_join, group_item, ledger_join) = match by {
            ReportBy::Item => {
                ("fi.name", "JOIN fee_items fi ON fi.id = c.fee_item_id", ", fi.name", "JOIN fee_items f ON f.id = lc.fee_item_id")
            }
            _ => ("''", "", "", "JOIN students s ON s.id = lc.student_id"),
        };
        let (charges_key, charges_students) = match by {
            ReportBy::Item => ("x.item", ""),
            _ => (key, "JOIN students s ON s.id = x.student_id"),
        };
        let sql = format!(
            "SELECT g.k, g.students, g.charges, g.charged, \
                    CAST(COALESCE(y.waived, 0) AS BIGINT) AS waived, CAST(COALESCE(y.online, 0) AS BIGINT) AS online, \
                    CAST(COALESCE(y.offline, 0) AS BIGINT) AS offline, CAST(COALESCE(y.balance, 0) AS BIGINT) AS balance, \
                    CAST(COALESCE(y.refunded, 0) AS BIGINT) AS refunded \
             FROM (SELECT {charges_key} AS k, COUNT(*) AS students, CAST(SUM(x.n) AS BIGINT) AS charges, \
                          CAST(SUM(x.charged) AS BIGINT) AS charged \
                   FROM (SELECT c.student_id, {charges_item} AS item, COUNT(*) AS n, SUM(c.total_fen - c.discount_fen) AS charged \
                         FROM charges c {charges_join} \
                         WHERE c.school_id = $1 AND c.period_id = $2 \
                         GROUP BY c.student_id{group_item}) x {charges_students} \
                   GROUP BY {charges_key}) g \
             LEFT JOIN (SELECT {key} AS k, \
                   SUM(CASE WHEN l.kind IN ('waiver', 'cancellation') THEN l.amount_fen ELSE 0 END) AS waived, \
                   SUM(CASE WHEN l.kind = 'payment' THEN l.amount_fen ELSE 0 END) AS online, \
                   SUM(CASE WHEN l.kind = 'offline_payment' THEN l.amount_fen ELSE 0 END) AS offline, \
                   SUM(CASE WHEN l.kind = 'balance_use' THEN l.amount_fen ELSE 0 END) AS balance, \
                   SUM(CASE WHEN l.kind = 'refund' THEN -l.amount_fen ELSE 0 END) AS refunded \
                   FROM ledger_entries l JOIN charges lc ON lc.id = l.charge_id {ledger_join} \
                   WHERE lc.school_id = $1 AND lc.period_id = $2 \
                   GROUP BY {key}) y ON y.k = g.k \
             ORDER BY g.k",
            key = if by == ReportBy::Item { "f.name" } else { key },
        );
        let rows = match self.backend() {
            Backend::Sqlite => sqlx::query(sqlx::AssertSqlSafe(sql)).bind(school_id).bind(period_id).fetch_all(&self.pool).await?,
            Backend::Postgres => {
                // A report reads the period's every charge and ledger row: planned for this
                // period's value (not a generic plan cached by the connection), with room to
                // hash 100,000 students in memory instead of spilling to disk (4 MB by
                // default), and without JIT compilation, which costs more than it saves on a
                // query of a second. SET LOCAL ends with this read-only transaction.
                let mut tx = self.pool.begin().await?;
                sqlx::raw_sql("SET LOCAL plan_cache_mode = force_custom_plan; SET LOCAL work_mem = '64MB'; SET LOCAL jit = off")
                    .execute(&mut *tx)
                    .await?;
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(school_id).bind(period_id).fetch_all(&mut *tx).await?;
                tx.commit().await?;
                rows
            }
        };
        map_rows(&rows, |r| {
            Ok(CollectionRow {
                key: r.try_get("k")?,
                students: r.try_get("students")?,
                charges: r.try_get("charges")?,
                charged: Fen(r.try_get("charged")?),
                waived: Fen(r.try_get("waived")?),
                paid_online: Fen(r.try_get("online")?),
                paid_offline: Fen(r.try_get("offline")?),
                paid_balance: Fen(r.try_get("balance")?),
                refunded: Fen(r.try_get("refunded")?),
            })
        })
    }

    /// The students of one report row who still owe, most owed first.
    pub async fn debtors(&self, school_id: i64, period: &str, by: ReportBy, key: &str, limit: i64) -> Result<Vec<Debtor>, StoreError> {
        let column = key_column(by);
        let sql = format!(
            "SELECT s.student_no, s.name, s.class_name, f.name AS item, \
                    CAST(x.charged - x.waived - x.online - x.offline - x.balance + x.refunded AS BIGINT) AS owed \
             FROM ({PER_CHARGE}) x JOIN students s ON s.id = x.student_id JOIN fee_items f ON f.id = x.fee_item_id \
             WHERE {column} = $3 AND x.charged - x.waived - x.online - x.offline - x.balance + x.refunded > 0 \
             ORDER BY owed DESC, s.student_no LIMIT $4"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(school_id).bind(period).bind(key).bind(limit).fetch_all(&self.pool).await?;
        map_rows(&rows, |r| {
            Ok(Debtor {
                student_no: r.try_get("student_no")?,
                name: r.try_get("name")?,
                class_name: r.try_get("class_name")?,
                item: r.try_get("item")?,
                outstanding: Fen(r.try_get("owed")?),
            })
        })
    }

    pub async fn insert_reconciliation(&self, tx: &mut WriteTx, r: &ReconciliationRow) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO reconciliations (school_id, provider, day, outcome, error, statement_count, statement_fen, refund_count, \
             refund_fen, matched_count, matched_fen, settled_now_count, settled_now_fen, missing_ours_count, missing_ours_fen, \
             missing_theirs_count, missing_theirs_fen, mismatched_count, statement, created_at, imported, fee_fen) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22) RETURNING id",
        )
        .bind(r.school_id)
        .bind(r.provider.map_or("", |p| p.as_str()))
        .bind(&r.day)
        .bind(if r.ok { "ok" } else { "unavailable" })
        .bind(&r.error)
        .bind(r.statement_count)
        .bind(r.statement_fen.0)
        .bind(r.refund_count)
        .bind(r.refund_fen.0)
        .bind(r.matched_count)
        .bind(r.matched_fen.0)
        .bind(r.settled_now_count)
        .bind(r.settled_now_fen.0)
        .bind(r.missing_ours_count)
        .bind(r.missing_ours_fen.0)
        .bind(r.missing_theirs_count)
        .bind(r.missing_theirs_fen.0)
        .bind(r.mismatched_count)
        .bind(&r.statement)
        .bind(now())
        .bind(i64::from(r.imported))
        .bind(r.fee_fen.map(|f| f.0))
        .fetch_one(&mut *tx.tx)
        .await
        .map_err(StoreError::from)
    }

    /// The latest run per provider of the school's `day`.
    pub async fn reconciliations_of_day(&self, school_id: i64, day: &str) -> Result<Vec<ReconciliationRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.*, si.id AS file_id, si.file_name, si.sha256, si.size_bytes FROM reconciliations r \
             LEFT JOIN statement_imports si ON si.reconciliation_id = r.id AND si.school_id = r.school_id \
             WHERE r.school_id = $1 AND r.day = $2 AND r.id = \
             (SELECT MAX(r2.id) FROM reconciliations r2 WHERE r2.school_id = r.school_id AND r2.day = r.day AND r2.provider = r.provider) \
             ORDER BY r.provider",
        )
        .bind(school_id)
        .bind(day)
        .fetch_all(&self.pool)
        .await?;
        map_rows(&rows, |r| {
            let provider: String = r.try_get("provider")?;
            let outcome: String = r.try_get("outcome")?;
            Ok(ReconciliationRow {
                id: r.try_get("id")?,
                school_id: r.try_get("school_id")?,
                provider: if provider.is_empty() { None } else { Some(word(r, "provider")?) },
                day: r.try_get("day")?,
                ok: outcome == "ok",
                error: r.try_get("error")?,
                statement_count: r.try_get("statement_count")?,
                statement_fen: Fen(r.try_get("statement_fen")?),
                refund_count: r.try_get("refund_count")?,
                refund_fen: Fen(r.try_get("refund_fen")?),
                matched_count: r.try_get("matched_count")?,
                matched_fen: Fen(r.try_get("matched_fen")?),
                settled_now_count: r.try_get("settled_now_count")?,
                settled_now_fen: Fen(r.try_get("settled_now_fen")?),
                missing_ours_count: r.try_get("missing_ours_count")?,
                missing_ours_fen: Fen(r.try_get("missing_ours_fen")?),
                missing_theirs_count: r.try_get("missing_theirs_count")?,
                missing_theirs_fen: Fen(r.try_get("missing_theirs_fen")?),
                mismatched_count: r.try_get("mismatched_count")?,
                statement: r.try_get("statement")?,
                imported: r.try_get::<i64, _>("imported")? == 1,
                fee_fen: r.try_get::<Option<i64>, _>("fee_fen")?.map(Fen),
                file: match r.try_get::<Option<i64>, _>("file_id")? {
                    Some(id) => Some(KeptStatementFile {
                        id,
                        file_name: r.try_get("file_name")?,
                        sha256: r.try_get("sha256")?,
                        size_bytes: r.try_get("size_bytes")?,
                    }),
                    None => None,
                },
                created_at: r.try_get("created_at")?,
            })
        })
    }

    /// Our settled payments of a school and provider whose provider time falls on `day`
    /// (`paid_at` starts with it) or, lacking one, that we settled that day: what the day's
    /// statement must show. Each is handed to `each` as (provider payment id, order's student,
    /// txn id, amount) as it is read, so a day of a million payments is never one result set
    /// in memory.
    pub async fn settled_on_day(
        &self,
        school_id: i64,
        provider: Provider,
        day: &str,
        (from, to): (i64, i64),
        mut each: impl FnMut(i64, i64, String, Fen),
    ) -> Result<(), StoreError> {
        use futures_util::TryStreamExt;
        let q = sqlx::query(
            "SELECT p.id, o.student_id, p.txn_id, p.amount_fen FROM provider_payments p JOIN orders o ON o.id = p.order_id \
             WHERE p.school_id = $1 AND p.provider = $2 AND \
             (SUBSTR(p.paid_at, 1, 10) = $3 OR (p.paid_at = '' AND p.created_at >= $4 AND p.created_at < $5))",
        )
        .bind(school_id)
        .bind(provider.as_str())
        .bind(day)
        .bind(from)
        .bind(to);
        let mut rows = q.fetch(&self.pool);
        while let Some(r) = rows.try_next().await? {
            each(r.try_get("id")?, r.try_get("student_id")?, r.try_get("txn_id")?, Fen(r.try_get("amount_fen")?));
        }
        Ok(())
    }
}

/// A statement file the office uploaded, as kept.
pub struct NewStatementImport<'a> {
    pub school_id: i64,
    pub provider: Provider,
    pub day: &'a str,
    pub file_name: &'a str,
    pub sha256: &'a str,
    pub size_bytes: i64,
    /// The file, base64.
    pub content: &'a str,
    pub reconciliation_id: i64,
    pub staff_id: i64,
}

impl Store {
    /// A kept statement file of the school (`None`: no such file at this school).
    pub async fn statement_file(&self, school_id: i64, id: i64) -> Result<Option<StatementFileContent>, StoreError> {
        let row = sqlx::query(
            "SELECT id, provider, day, file_name, sha256, size_bytes, content FROM statement_imports WHERE school_id = $1 AND id = $2",
        )
        .bind(school_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(StatementFileContent {
            file: KeptStatementFile {
                id: r.try_get("id")?,
                file_name: r.try_get("file_name")?,
                sha256: r.try_get("sha256")?,
                size_bytes: r.try_get("size_bytes")?,
            },
            provider: word(&r, "provider")?,
            day: r.try_get("day")?,
            content_base64: r.try_get("content")?,
        }))
    }

    pub async fn insert_statement_import(&self, tx: &mut WriteTx, i: &NewStatementImport<'_>) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO statement_imports (school_id, provider, day, file_name, sha256, size_bytes, content, reconciliation_id, staff_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(i.school_id)
        .bind(i.provider.as_str())
        .bind(i.day)
        .bind(i.file_name)
        .bind(i.sha256)
        .bind(i.size_bytes)
        .bind(i.content)
        .bind(i.reconciliation_id)
        .bind(i.staff_id)
        .bind(now())
        .fetch_one(&mut *tx.tx)
        .await
        .map_err(StoreError::from)
    }
}
