//! Reconciliation benchmark (issue #9): one day's WeChat Pay trade bill of 1,000,000 lines,
//! against 1,000,000 payments in the books, reconciled through the code the office's upload
//! and the daily job share (`payment::reconcile::reconcile_statement`, the run then stored as
//! the upload stores it). Goal: ≤ 30 s and a peak RSS ≤ 300 MB, printed beside the raw rate of
//! reading the same file — inflating and splitting its lines, and through the bill's parser.
//!
//! ```sh
//! cargo run --release -p campuspay-server --features demo --example bench_reconcile                 # SQLite in a temp dir
//! cargo run --release -p campuspay-server --features demo --example bench_reconcile -- postgres://postgres@127.0.0.1:5432/postgres
//! ```
//! With a PostgreSQL URL, a fresh database is created beside the given one and dropped at the end;
//! with a SQLite URL (`sqlite:///tmp/rb/bench.db`), that database is seeded once and kept.
//!
//! The books are written with multi-row INSERTs (orders, attempts, provider payments: what the
//! reconciliation reads). The bill is written by the channel's own `TradeBillWriter` (the
//! sandbox's writer) and gzipped as WeChat serves it (`tar_type=GZIP`), on disk. It differs from
//! the books by what a day may hold: 3 lines of trades that are none of ours, 3 of our payments
//! it lacks, 5 amounts a fen apart; the figures are checked after the run.

use campuspay_app::payment::reconcile::reconcile_statement;
use campuspay_channels::statement::BillBody;
use campuspay_channels::wechatpay::bill::{RenderLine, TradeBillWriter, open_bill};
use campuspay_channels::{StatementFile, StatementLines};
use campuspay_server::{AppState, Config, demo};
use campuspay_store::Store;
use serde_json::{Value, json};
use std::io::BufRead;
use std::time::Instant;

const PAYMENTS: i64 = 1_000_000;
const STUDENTS: i64 = 50_000;
const BATCH: i64 = 1_000;
const DAY: &str = "2026-03-02";
/// Our payments the bill lacks.
const LACKED: [i64; 3] = [123_457, 500_001, 999_998];
/// Payments the bill shows a fen more of.
const MISMATCHED: [i64; 5] = [10, 333_333, 666_666, 777_777, 999_999];
/// After these payments the bill has a line of no trade of ours.
const UNKNOWN_AFTER: [i64; 3] = [1, 400_000, 800_000];

/// A field of the process's /proc status (kB) in MB.
fn status_mb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status.lines().find_map(|l| l.strip_prefix(field)).and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok());
    kb.unwrap_or(0.0) / 1024.0
}

/// Inserts `n` rows of `cols` columns through multi-row INSERTs of `BATCH` rows, binding what
/// `row(i)` gives (all BIGINT or TEXT).
async fn bulk(
    store: &Store,
    table: &str,
    cols: &[&str],
    n: i64,
    row: impl Fn(i64) -> Vec<Value>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut tx = store.write_tx().await?;
    let mut i = 0;
    while i < n {
        let end = (i + BATCH).min(n);
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", cols.join(", "));
        for k in 0..(end - i) as usize {
            let b = k * cols.len();
            let ph: Vec<String> = (1..=cols.len()).map(|c| format!("${}", b + c)).collect();
            sql.push_str(&format!("{}({})", if k > 0 { ", " } else { "" }, ph.join(", ")));
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for j in i..end {
            for v in row(j) {
                q = match v {
                    Value::Number(n) => q.bind(n.as_i64().unwrap_or(0)),
                    Value::String(s) => q.bind(s),
                    _ => q.bind(Option::<i64>::None),
                };
            }
        }
        q.execute(&mut *tx.tx).await?;
        i = end;
    }
    tx.commit().await?;
    Ok(())
}

async fn scalar(store: &Store, sql: &'static str) -> Result<i64, Box<dyn std::error::Error>> {
    Ok(sqlx::query_scalar(sql).fetch_one(store.pool()).await?)
}

fn out_trade_no(i: i64) -> String {
    format!("RB20260302{i:010}")
}

/// 28 characters, as WeChat's 微信订单号.
fn txn_id(i: i64) -> String {
    format!("4200002026030200{i:012}")
}

fn amount(i: i64) -> i64 {
    100_000 + (i % 7) * 1_000
}

fn paid_at(i: i64) -> String {
    let s = i % 86_400;
    format!("{DAY} {:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// Writes the day's bill, gzipped, to `path`; answers its number of lines.
fn write_bill(path: &std::path::Path) -> Result<i64, Box<dyn std::error::Error>> {
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut w = TradeBillWriter::new(flate2::write::GzEncoder::new(file, flate2::Compression::fast()));
    let mut lines = 0;
    let mut one = |w: &mut TradeBillWriter<_>, time: &str, txn: &str, out: &str, fen: i64| {
        let line = RenderLine {
            time,
            appid: "wx0000000000000000",
            mchid: "1900000001",
            transaction_id: txn,
            out_trade_no: out,
            openid: "oSandboxPayer0001",
            trade_type: "NATIVE",
            subject: "2026学年学费",
            amount: fen,
            refund: None,
        };
        w.line(&line);
        lines += 1;
    };
    for i in 0..PAYMENTS {
        if !LACKED.contains(&i) {
            let fen = amount(i) + i64::from(MISMATCHED.contains(&i));
            one(&mut w, &paid_at(i), &txn_id(i), &out_trade_no(i), fen);
        }
        if UNKNOWN_AFTER.contains(&i) {
            one(&mut w, &paid_at(i), &format!("4200002026030299{i:012}"), &format!("NOTOURS{i:010}"), 4_200);
        }
    }
    w.finish()?.finish()?.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(lines)
}

async fn seed_books(store: &Store, school: i64) -> Result<(), Box<dyn std::error::Error>> {
    let now = campuspay_store::db_now();
    bulk(
        store,
        "students",
        &["school_id", "student_no", "name", "gender", "id_card", "department", "major", "level", "class_name", "enrol_year", "created_at"],
        STUDENTS,
        |i| {
            vec![
                json!(school),
                json!(format!("R{i:07}")),
                json!(format!("对账{i}")),
                json!("男"),
                json!(format!("62010220000101{i:04}")),
                json!("学院"),
                json!("专业"),
                json!("本科"),
                json!(format!("班级{:03}", i % 500)),
                json!(2030),
                json!(now),
            ]
        },
    )
    .await?;
    let first_student = scalar(store, "SELECT MIN(id) FROM students WHERE student_no LIKE 'R%'").await?;
    let cols = ["school_id", "student_id", "order_no", "total_fen", "status", "created_at", "expires_at", "paid_at"];
    bulk(store, "orders", &cols, PAYMENTS, |i| {
        vec![
            json!(school),
            json!(first_student + i % STUDENTS),
            json!(out_trade_no(i)),
            json!(amount(i)),
            json!("paid"),
            json!(now),
            json!(now),
            json!(now),
        ]
    })
    .await?;
    // One transaction each, so the ids are consecutive on both databases.
    let first_order = scalar(store, "SELECT MIN(id) FROM orders WHERE order_no LIKE 'RB%'").await?;
    bulk(store, "pay_attempts", &["school_id", "order_id", "channel", "out_trade_no", "status", "created_at"], PAYMENTS, |i| {
        vec![json!(school), json!(first_order + i), json!("wechat_native"), json!(out_trade_no(i)), json!("paid"), json!(now)]
    })
    .await?;
    let first_attempt = scalar(store, "SELECT MIN(id) FROM pay_attempts WHERE out_trade_no LIKE 'RB%'").await?;
    let cols = [
        "school_id",
        "order_id",
        "attempt_id",
        "provider",
        "channel",
        "txn_id",
        "amount_fen",
        "source",
        "disposition",
        "paid_at",
        "created_at",
    ];
    bulk(store, "provider_payments", &cols, PAYMENTS, |i| {
        vec![
            json!(school),
            json!(first_order + i),
            json!(first_attempt + i),
            json!("wechatpay"),
            json!("wechat_native"),
            json!(txn_id(i)),
            json!(amount(i)),
            json!("notify"),
            json!("applied"),
            json!(paid_at(i)),
            json!(now),
        ]
    })
    .await?;
    // Fresh statistics, as the nightly maintenance of a real database would have them.
    sqlx::raw_sql("ANALYZE").execute(store.pool()).await?;
    Ok(())
}

/// The raw rates of reading the bill: inflating and splitting its lines; and through the
/// bill's parser (fields, amounts, the summary checked), without the books.
fn raw_reads(path: &std::path::Path, lines: i64) -> Result<(), Box<dyn std::error::Error>> {
    let t = Instant::now();
    let mut input = open_bill(std::io::BufReader::new(std::fs::File::open(path)?))?;
    let (mut split, mut buf) = (0i64, Vec::with_capacity(512));
    while input.read_until(b'\n', &mut buf)? > 0 {
        split += 1;
        buf.clear();
    }
    let s = t.elapsed().as_secs_f64();
    println!("{:<40} {:>8.2} s  {:>10.0} lines/s  ({split} text lines)", "raw: inflate and split lines", s, split as f64 / s);
    let file = StatementFile::WechatTradeBill { date: DAY.to_string(), body: BillBody::Path(path.to_path_buf()) };
    let t = Instant::now();
    let mut read: StatementLines<'_> = file.lines()?;
    let mut parsed = 0i64;
    while read.next_line()?.is_some() {
        parsed += 1;
    }
    read.check_totals()?;
    let s = t.elapsed().as_secs_f64();
    assert_eq!(parsed, lines);
    println!("{:<40} {:>8.2} s  {:>10.0} lines/s", "raw: through the bill's parser", s, parsed as f64 / s);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("campuspay-bench-reconcile-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (url, cleanup) = match std::env::args().nth(1) {
        Some(admin) if admin.starts_with("postgres") => {
            let name = format!("cp_bench_reconcile_{}", std::process::id());
            let admin_store = Store::connect(&admin).await?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(admin_store.pool()).await?;
            let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap_or(admin.clone());
            (format!("{base}/{name}"), Some((admin_store, name)))
        }
        Some(other) => (other, None),
        None => (format!("sqlite://{}/bench.db", dir.display()), None),
    };
    let store = Store::connect(&url).await?;
    store.migrate().await?;
    demo::seed_if_empty(&store).await?;
    let backend = if url.starts_with("postgres") { "PostgreSQL" } else { "SQLite" };
    println!("campuspay reconcile bench on {backend}: a WeChat Pay trade bill of {PAYMENTS} lines against {PAYMENTS} payments");

    let school = store.school_by_code("lut").await?.ok_or("no lut")?.id;
    // A database given by URL keeps its books for the next run (seeding takes minutes).
    let fresh = scalar(&store, "SELECT COUNT(*) FROM provider_payments WHERE txn_id LIKE '4200002026030200%'").await? == 0;
    if fresh {
        let t0 = Instant::now();
        seed_books(&store, school).await?;
        println!("{:<40} {:>8.1} s", "books seeded", t0.elapsed().as_secs_f64());
    } else {
        println!("{:<40}", "books kept from an earlier run");
    }
    let path = dir.join("tradebill.csv.gz");
    let t0 = Instant::now();
    let lines = write_bill(&path)?;
    let size = std::fs::metadata(&path)?.len();
    println!("{:<40} {:>8.1} s  ({lines} lines, {:.0} MB gzip)", "bill written", t0.elapsed().as_secs_f64(), size as f64 / 1e6);

    raw_reads(&path, lines)?;

    let state = AppState::new(store.clone(), Config::default());
    let queued = scalar(&store, "SELECT COUNT(*) FROM money_exceptions").await?;
    // The peak from here on is the reconciliation's (Linux: "5" resets VmHWM to the current RSS).
    let before = status_mb("VmRSS:");
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let file = StatementFile::WechatTradeBill { date: DAY.to_string(), body: BillBody::Path(path.clone()) };
    let t = Instant::now();
    let done = reconcile_statement(&state.ctx, school, &file).await?.map_err(|e| e.to_string())?;
    let mut tx = store.write_tx().await?;
    store.insert_reconciliation(&mut tx, &done.row).await?;
    tx.commit().await?;
    let s = t.elapsed().as_secs_f64();
    let row = &done.row;
    println!("{:<40} {:>8.2} s  {:>10.0} lines/s  (goal ≤ 30 s)", "reconcile (upload's path, stored)", s, done.lines as f64 / s);
    println!("{:<40} {:>8.0} MB  (RSS before {before:.0} MB; goal ≤ 300 MB)", "peak RSS during the reconcile (VmHWM)", status_mb("VmHWM:"));
    println!(
        "{:<40} matched {}, mismatched {}, not ours {}, missing from the bill {}, settled now {}",
        "found", row.matched_count, row.mismatched_count, row.missing_ours_count, row.missing_theirs_count, row.settled_now_count
    );
    assert_eq!(done.lines as i64, lines);
    let expected = [PAYMENTS - 3 - 5, 5, 3, 3, 0];
    assert_eq!(
        [row.matched_count, row.mismatched_count, row.missing_ours_count, row.missing_theirs_count, row.settled_now_count],
        expected
    );
    if fresh {
        assert_eq!(scalar(&store, "SELECT COUNT(*) FROM money_exceptions").await? - queued, 11, "each difference queued once");
    }

    drop(state);
    drop(store);
    if let Some((admin, name)) = cleanup {
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(admin.pool()).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
