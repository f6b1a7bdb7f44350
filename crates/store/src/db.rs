use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Connection, Executor, Transaction};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, OwnedMutexGuard};

/// The store's one error type; the server maps it to HTTP.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(sqlx::Error),
    /// A unique constraint refused the write: the named thing exists already.
    #[error("already exists: {0}")]
    Conflict(String),
    #[error("not found")]
    NotFound,
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// A stored word this build does not know (a state added by a newer version, a typo in a
    /// hand edit). Refused rather than read as some default: an unknown order status must
    /// never be taken for `unpaid`.
    #[error("cannot decode stored value: {0}")]
    Decode(String),
    /// A guarded state change found the row in a state the transition does not start from:
    /// someone else moved it first. The caller decides whether that is fine or a conflict.
    #[error("stale state: {0}")]
    Stale(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> StoreError {
        match e {
            sqlx::Error::ColumnDecode { index, source } if source.is::<campuspay_domain::UnknownName>() => {
                StoreError::Decode(format!("{index}: {source}"))
            }
            e => StoreError::Db(e),
        }
    }
}

impl StoreError {
    /// Turns a unique-constraint violation into `Conflict`, keeping other errors as they are.
    pub fn from_write(e: sqlx::Error, what: &str) -> StoreError {
        if let Some(db) = e.as_database_error() {
            if db.is_unique_violation() {
                return StoreError::Conflict(what.to_string());
            }
            // The Any driver does not always carry the kind; fall back on the message.
            let m = db.message().to_ascii_lowercase();
            if m.contains("unique") || m.contains("duplicate key") {
                return StoreError::Conflict(what.to_string());
            }
        }
        StoreError::Db(e)
    }
}

/// A pooled connection idle this long is pinged before it is handed out.
const PING_IF_IDLE: Duration = Duration::from_secs(30);

/// The pool's options common to both databases. sqlx pings every connection it hands out by
/// default: a second round trip for every one-query read (a receipt's download was two round
/// trips for one row). A connection in steady use is known alive by its last query; only one
/// that sat idle long enough for the server or a firewall to have dropped it is pinged (and
/// replaced if the ping fails, as sqlx's own check does).
fn pool_options() -> AnyPoolOptions {
    AnyPoolOptions::new().test_before_acquire(false).before_acquire(|conn, meta| {
        Box::pin(async move {
            if meta.idle_for >= PING_IF_IDLE {
                conn.ping().await?;
            }
            Ok(true)
        })
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A handle on the database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    backend: Backend,
    /// SQLite allows one writer: taking this before `BEGIN` turns lock upgrades (which fail
    /// at once with SQLITE_BUSY) into an orderly queue. PostgreSQL needs none.
    write_lock: Option<Arc<Mutex<()>>>,
    writes: Arc<WriteStats>,
}

/// How this instance's write transactions used the database, for `/metrics` and the load
/// program: on SQLite, how long they waited for the one writer and how long they held it.
#[derive(Debug, Default)]
pub struct WriteStats {
    pub transactions: AtomicU64,
    pub wait_ns: AtomicU64,
    pub held_ns: AtomicU64,
}

/// SQLite's one writer, held from before `BEGIN` until the transaction ends.
struct HeldWriter {
    _guard: OwnedMutexGuard<()>,
    since: Instant,
    stats: Arc<WriteStats>,
}

impl Drop for HeldWriter {
    fn drop(&mut self) {
        let held = u64::try_from(self.since.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.stats.held_ns.fetch_add(held, Ordering::Relaxed);
    }
}

/// A write transaction; on SQLite it also holds the single-writer lock.
pub struct WriteTx {
    pub tx: Transaction<'static, Any>,
    _guard: Option<HeldWriter>,
}

impl WriteTx {
    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }
}

impl Store {
    /// Connects to `sqlite://path` or `postgres://…`, creating a SQLite file if missing.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres") { Backend::Postgres } else { Backend::Sqlite };
        let pool = match backend {
            Backend::Sqlite => {
                if let Some(path) = sqlite_path(url)
                    && let Some(dir) = std::path::Path::new(&path).parent()
                    && !dir.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(dir).map_err(|e| StoreError::Db(sqlx::Error::Io(e)))?;
                }
                let url = if url.contains('?') { url.to_string() } else { format!("{url}?mode=rwc") };
                let opts = AnyConnectOptions::from_str(&url)?;
                pool_options()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            // Money needs durability: FULL syncs the WAL on every commit.
                            conn.execute("PRAGMA journal_mode=WAL").await?;
                            conn.execute("PRAGMA synchronous=FULL").await?;
                            conn.execute("PRAGMA foreign_keys=ON").await?;
                            conn.execute("PRAGMA busy_timeout=10000").await?;
                            Ok(())
                        })
                    })
                    .connect_with(opts)
                    .await?
            }
            Backend::Postgres => {
                let opts = AnyConnectOptions::from_str(url)?;
                pool_options().max_connections(16).acquire_timeout(Duration::from_secs(30)).connect_with(opts).await?
            }
        };
        let write_lock = (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(())));
        Ok(Store { pool, backend, write_lock, writes: Arc::default() })
    }

    /// A round trip to the database, for health checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn write_tx(&self) -> Result<WriteTx, StoreError> {
        self.writes.transactions.fetch_add(1, Ordering::Relaxed);
        let guard = match &self.write_lock {
            Some(l) => {
                let asked = Instant::now();
                let guard = l.clone().lock_owned().await;
                let since = Instant::now();
                let waited = u64::try_from((since - asked).as_nanos()).unwrap_or(u64::MAX);
                self.writes.wait_ns.fetch_add(waited, Ordering::Relaxed);
                Some(HeldWriter { _guard: guard, since, stats: Arc::clone(&self.writes) })
            }
            None => None,
        };

        // IMMEDIATE takes SQLite's write lock at BEGIN, so another process on the same file
        // (the reconcile CLI beside the server) waits on busy_timeout instead of failing on a
        // read-to-write upgrade.
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };

        Ok(WriteTx { tx, _guard: guard })
    }

    /// This instance's write transactions so far (see [`WriteStats`]).
    pub fn write_stats(&self) -> &WriteStats {
        &self.writes
    }

    /// Runs `f` in a write transaction and commits it if `f` succeeds: for a use case whose
    /// whole write is one store call. Store methods never open their own, so a use case that
    /// needs several writes at once takes one `write_tx` and passes it to each.
    pub async fn write<T>(&self, f: impl AsyncFnOnce(&mut WriteTx) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut tx = self.write_tx().await?;
        let v = f(&mut tx).await?;
        tx.commit().await?;
        Ok(v)
    }

    /// Applies the migrations not applied yet, each in its own transaction.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await?;
        for m in crate::db::MIGRATIONS {
            let mut tx = self.write_tx().await?;
            let done: Option<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(m.version)
                .fetch_optional(&mut *tx.tx)
                .await?;
            if done.is_some() {
                continue;
            }
            let sql = m.sql.replace("{id}", self.id_column());
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut *tx.tx).await?;
            let extra = match self.backend {
                Backend::Sqlite => m.sqlite,
                Backend::Postgres => m.postgres,
            };
            if !extra.trim().is_empty() {
                sqlx::raw_sql(extra).execute(&mut *tx.tx).await?;
            }
            sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
                .bind(m.version)
                .bind(m.name)
                .bind(now())
                .execute(&mut *tx.tx)
                .await?;
            tx.commit().await?;
            tracing::info!(version = m.version, name = m.name, "migration applied");
        }
        Ok(())
    }

    fn id_column(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
            Backend::Postgres => "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        }
    }

    /// This database's random id, made with it (migration 14): what tells it from another
    /// database, even one made later at the same place.
    pub async fn installation_id(&self) -> Result<String, StoreError> {
        Ok(sqlx::query_scalar("SELECT id FROM installation").fetch_one(&self.pool).await?)
    }

    /// Versions applied, for `campuspay migrate` to report.
    pub async fn applied_migrations(&self) -> Result<Vec<(i64, String)>, StoreError> {
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT version, name FROM schema_migrations ORDER BY version").fetch_all(&self.pool).await?;
        Ok(rows)
    }
}

fn sqlite_path(url: &str) -> Option<String> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then(|| path.to_string())
}

/// Where a read runs: on the pool, or inside the caller's write transaction — which must see
/// its own uncommitted rows and, on SQLite, must not wait for a second connection behind its
/// own write lock. One function per read serves both, instead of `_tx` twins.
pub enum On<'a> {
    Pool,
    Tx(&'a mut WriteTx),
}

impl On<'_> {
    /// The same place again, for one more query.
    pub fn reborrow(&mut self) -> On<'_> {
        match self {
            On::Pool => On::Pool,
            On::Tx(tx) => On::Tx(tx),
        }
    }
}

type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>;

impl Store {
    pub(crate) async fn fetch_all(&self, on: On<'_>, q: AnyQuery<'_>) -> Result<Vec<sqlx::any::AnyRow>, StoreError> {
        Ok(match on {
            On::Pool => q.fetch_all(&self.pool).await?,
            On::Tx(tx) => q.fetch_all(&mut *tx.tx).await?,
        })
    }

    pub(crate) async fn fetch_one(&self, on: On<'_>, q: AnyQuery<'_>) -> Result<sqlx::any::AnyRow, StoreError> {
        Ok(match on {
            On::Pool => q.fetch_one(&self.pool).await?,
            On::Tx(tx) => q.fetch_one(&mut *tx.tx).await?,
        })
    }

    pub(crate) async fn fetch_optional(&self, on: On<'_>, q: AnyQuery<'_>) -> Result<Option<sqlx::any::AnyRow>, StoreError> {
        Ok(match on {
            On::Pool => q.fetch_optional(&self.pool).await?,
            On::Tx(tx) => q.fetch_optional(&mut *tx.tx).await?,
        })
    }
}

/// Reads a stored word as its enum; an unknown word is `sqlx::Error::Decode` (which
/// `StoreError::from` turns into [`StoreError::Decode`]), never a default.
pub(crate) fn word<T>(r: &sqlx::any::AnyRow, column: &str) -> Result<T, sqlx::Error>
where
    T: FromStr<Err = campuspay_domain::UnknownName>,
{
    let s: String = sqlx::Row::try_get(r, column)?;
    s.parse().map_err(|e: campuspay_domain::UnknownName| sqlx::Error::ColumnDecode { index: column.to_string(), source: Box::new(e) })
}

/// `word` for a column that may be NULL.
pub(crate) fn word_opt<T>(r: &sqlx::any::AnyRow, column: &str) -> Result<Option<T>, sqlx::Error>
where
    T: FromStr<Err = campuspay_domain::UnknownName>,
{
    let s: Option<String> = sqlx::Row::try_get(r, column)?;
    s.map(|s| {
        s.parse().map_err(|e: campuspay_domain::UnknownName| sqlx::Error::ColumnDecode { index: column.to_string(), source: Box::new(e) })
    })
    .transpose()
}

/// `$first, $first+1, …` for `n` bound values: the `IN (…)` list of a guarded update, whose
/// length comes from the domain's transition rules.
/// `IN` over a list bound as one parameter `$n` holding a JSON array of strings, for lists of
/// thousands (reconciliation's batches): SQLite's driver binds `$1…$n` by looking each name up
/// among all of the statement's names (quadratic: 2,000 of them were a third of a
/// million-line reconciliation's time), and one parameter also keeps one cached statement
/// whatever the list's length.
pub(crate) fn in_json_list(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Sqlite => format!("IN (SELECT value FROM json_each(${n}))"),
        Backend::Postgres => format!("IN (SELECT jsonb_array_elements_text(CAST(${n} AS jsonb)))"),
    }
}

pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// Maps fetched rows with `f`; the first row that does not fit is the error.
pub(crate) fn map_rows<T>(
    rows: &[sqlx::any::AnyRow],
    f: impl FnMut(&sqlx::any::AnyRow) -> Result<T, sqlx::Error>,
) -> Result<Vec<T>, StoreError> {
    rows.iter().map(f).collect::<Result<_, sqlx::Error>>().map_err(StoreError::from)
}

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    /// Portable SQL; `{id}` becomes the backend's auto-increment primary key.
    pub sql: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sql: include_str!("migrations/0001_foundation.sql"),
        sqlite: include_str!("migrations/0001_foundation.sqlite.sql"),
        postgres: include_str!("migrations/0001_foundation.postgres.sql"),
    },
    Migration { version: 2, name: "accounts", sql: include_str!("migrations/0002_accounts.sql"), sqlite: "", postgres: "" },
    Migration {
        version: 3,
        name: "payments",
        sql: include_str!("migrations/0003_payments.sql"),
        sqlite: include_str!("migrations/0003_payments.sqlite.sql"),
        postgres: include_str!("migrations/0003_payments.postgres.sql"),
    },
    Migration { version: 4, name: "jobs", sql: include_str!("migrations/0004_jobs.sql"), sqlite: "", postgres: "" },
    Migration { version: 5, name: "states", sql: include_str!("migrations/0005_states.sql"), sqlite: "", postgres: "" },
    Migration { version: 10, name: "office", sql: include_str!("migrations/0010_office.sql"), sqlite: "", postgres: "" },
    Migration {
        version: 11,
        name: "office_data",
        sql: include_str!("migrations/0011_office_data.sql"),
        sqlite: include_str!("migrations/0011_office_data.sqlite.sql"),
        postgres: include_str!("migrations/0011_office_data.postgres.sql"),
    },
    Migration { version: 12, name: "announcements", sql: include_str!("migrations/0012_announcements.sql"), sqlite: "", postgres: "" },
    Migration { version: 13, name: "totp", sql: include_str!("migrations/0013_totp.sql"), sqlite: "", postgres: "" },
    Migration {
        version: 14,
        name: "installation",
        sql: include_str!("migrations/0014_installation.sql"),
        sqlite: include_str!("migrations/0014_installation.sqlite.sql"),
        postgres: include_str!("migrations/0014_installation.postgres.sql"),
    },
    Migration { version: 20, name: "office_money", sql: include_str!("migrations/0020_office_money.sql"), sqlite: "", postgres: "" },
    Migration { version: 30, name: "receipts", sql: include_str!("migrations/0030_receipts.sql"), sqlite: "", postgres: "" },
    Migration { version: 35, name: "session_payers", sql: include_str!("migrations/0035_session_payers.sql"), sqlite: "", postgres: "" },
    Migration { version: 40, name: "merchants", sql: include_str!("migrations/0040_merchants.sql"), sqlite: "", postgres: "" },
    Migration { version: 42, name: "money_reports", sql: include_str!("migrations/0042_money_reports.sql"), sqlite: "", postgres: "" },
    Migration {
        version: 43,
        name: "statement_imports",
        sql: include_str!("migrations/0043_statement_imports.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration { version: 44, name: "statement_fees", sql: include_str!("migrations/0044_statement_fees.sql"), sqlite: "", postgres: "" },
    Migration { version: 45, name: "import_progress", sql: include_str!("migrations/0045_import_progress.sql"), sqlite: "", postgres: "" },
    Migration {
        version: 48,
        name: "import_heartbeats",
        sql: include_str!("migrations/0048_import_heartbeats.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration { version: 70, name: "exports", sql: include_str!("migrations/0070_exports.sql"), sqlite: "", postgres: "" },
    Migration { version: 72, name: "stopped_jobs", sql: include_str!("migrations/0072_stopped_jobs.sql"), sqlite: "", postgres: "" },
];
