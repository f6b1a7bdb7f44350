//! Office money benchmark: the collection report of one period over 100,000 students × 5
//! fee items (500,000 charges, about half of them paid, some waived, some refunded), by class,
//! through the HTTP API: p50 and p99 of the request (goal ≤ 1 s), beside the time of the
//! report's query alone.
//!
//! ```sh
//! cargo run --release -p campuspay-server --features demo --example bench_money                 # SQLite in a temp dir
//! cargo run --release -p campuspay-server --features demo --example bench_money -- postgres://postgres@127.0.0.1:5432/postgres
//! ```
//! With a PostgreSQL URL, a fresh database is created beside the given one and dropped at the end.
//! The rows are written with multi-row INSERTs (the import and charge-run paths have their
//! own benchmark, bench_office): this one measures reading.

use campuspay_domain::settlement::ReportBy;
use campuspay_server::{AppState, Config, app, demo};
use campuspay_store::Store;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const STUDENTS: i64 = 100_000;
const ITEMS: i64 = 5;
const CLASSES: i64 = 2_000;
const BATCH: i64 = 400;
const REQUESTS: usize = 40;

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

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("campuspay-bench-money-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (url, cleanup) = match std::env::args().nth(1) {
        Some(admin) if admin.starts_with("postgres") => {
            let name = format!("cp_bench_money_{}", std::process::id());
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
    println!("campuspay money bench on {backend}: collection report of {STUDENTS} students × {ITEMS} items by class");

    let school = store.school_by_code("lut").await?.ok_or("no lut")?.id;
    let t0 = Instant::now();
    sqlx::query("INSERT INTO periods (school_id, code, name, academic_year, sort) VALUES ($1, 'BENCH', '压测期间', '2099-2100', 9999)")
        .bind(school)
        .execute(store.pool())
        .await?;
    let period = scalar(&store, "SELECT id FROM periods WHERE code = 'BENCH'").await?;
    bulk(&store, "fee_items", &["school_id", "code", "name", "category", "receipt_type"], ITEMS, |k| {
        vec![json!(school), json!(format!("MB{k}")), json!(format!("压测项目{k}")), json!("tuition"), json!("nontax")]
    })
    .await?;
    let first_item = scalar(&store, "SELECT MIN(id) FROM fee_items WHERE code LIKE 'MB%'").await?;
    let now = campuspay_store::db_now();
    bulk(
        &store,
        "students",
        &["school_id", "student_no", "name", "gender", "id_card", "department", "major", "level", "class_name", "enrol_year", "created_at"],
        STUDENTS,
        |i| {
            vec![
                json!(school),
                json!(format!("M{i:07}")),
                json!(format!("压测{i}")),
                json!("女"),
                json!(format!("62010220000101{i:04}")),
                json!(format!("学院{}", i % 20)),
                json!(format!("专业{}", i % 100)),
                json!("本科"),
                json!(format!("班级{:04}", i % CLASSES)),
                json!(2030),
                json!(now),
            ]
        },
    )
    .await?;
    let first_student = scalar(&store, "SELECT MIN(id) FROM students WHERE student_no LIKE 'M%'").await?;
    let charges = STUDENTS * ITEMS;
    bulk(&store, "charges", &["school_id", "student_id", "fee_item_id", "period_id", "total_fen", "created_at"], charges, |c| {
        vec![
            json!(school),
            json!(first_student + c / ITEMS),
            json!(first_item + c % ITEMS),
            json!(period),
            json!(100_000 + (c % ITEMS) * 1_000),
            json!(now),
        ]
    })
    .await?;
    let first_charge =
        scalar(&store, "SELECT MIN(id) FROM charges WHERE period_id = (SELECT id FROM periods WHERE code = 'BENCH')").await?;
    // Every other charge paid (online or at the counter), one in 20 waived in part, one in
    // 50 refunded in part: about 310,000 ledger rows.
    let kinds = ["payment", "offline_payment"];
    let paid: Vec<i64> = (0..charges).filter(|c| c % 2 == 0).collect();
    bulk(
        &store,
        "ledger_entries",
        &["school_id", "student_id", "charge_id", "kind", "amount_fen", "reference", "created_at"],
        paid.len() as i64,
        |k| {
            let c = paid[k as usize];
            vec![
                json!(school),
                json!(first_student + c / ITEMS),
                json!(first_charge + c),
                json!(kinds[(c / 2 % 2) as usize]),
                json!(100_000 + (c % ITEMS) * 1_000),
                json!(format!("B{c}")),
                json!(now),
            ]
        },
    )
    .await?;
    bulk(
        &store,
        "ledger_entries",
        &["school_id", "student_id", "charge_id", "kind", "amount_fen", "reference", "created_at"],
        charges / 20,
        |k| {
            let c = k * 20 + 1;
            vec![
                json!(school),
                json!(first_student + c / ITEMS),
                json!(first_charge + c),
                json!("waiver"),
                json!(5_000),
                json!(format!("W{c}")),
                json!(now),
            ]
        },
    )
    .await?;
    bulk(
        &store,
        "ledger_entries",
        &["school_id", "student_id", "charge_id", "kind", "amount_fen", "reference", "created_at"],
        charges / 50,
        |k| {
            let c = k * 50;
            vec![
                json!(school),
                json!(first_student + c / ITEMS),
                json!(first_charge + c),
                json!("refund"),
                json!(-1_000),
                json!(format!("R{c}")),
                json!(now),
            ]
        },
    )
    .await?;
    // Fresh statistics, as the nightly maintenance of a real database would have them.
    sqlx::raw_sql("ANALYZE").execute(store.pool()).await?;
    let ledger = scalar(&store, "SELECT COUNT(*) FROM ledger_entries").await?;
    println!("{:<34} {:>8.1} s  ({charges} charges, {ledger} ledger rows)", "seeded", t0.elapsed().as_secs_f64());

    // The query alone, once warm.
    let _ = store.collection(school, "BENCH", ReportBy::Class).await?;
    let t = Instant::now();
    let rows = store.collection(school, "BENCH", ReportBy::Class).await?;
    println!("{:<34} {:>8.0} ms  ({} classes)", "report query alone", t.elapsed().as_secs_f64() * 1000.0, rows.len());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let origin = format!("http://{}", listener.local_addr()?);
    let state = AppState::new(store.clone(), Config { public_url: origin.clone(), ..Config::default() });
    let router = app::router(state);
    tokio::spawn(async move { axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await });
    let http = reqwest::Client::new();
    let login: Value = http
        .post(format!("{origin}/api/v1/office/login"))
        .json(&json!({"school": "lut", "login": "finance", "password": "Finance#2026"}))
        .send()
        .await?
        .json()
        .await?;
    let token = login["token"].as_str().ok_or("no token")?.to_string();
    let mut times = Vec::new();
    let mut total = Value::Null;
    for _ in 0..REQUESTS {
        let t = Instant::now();
        let res = http.get(format!("{origin}/api/v1/office/reports/collection?period=BENCH&by=class")).bearer_auth(&token).send().await?;
        assert!(res.status().is_success(), "{}", res.status());
        let v: Value = res.json().await?;
        times.push(t.elapsed());
        total = v["total"].clone();
    }
    times.sort();
    println!(
        "{:<34} p50 {:>6.0} ms  p99 {:>6.0} ms  ({REQUESTS} requests; goal ≤ 1000 ms)",
        "GET reports/collection by class",
        pct(&times, 0.5),
        pct(&times, 0.99)
    );
    let t = Instant::now();
    let res =
        http.get(format!("{origin}/api/v1/office/reports/collection?period=BENCH&by=class&format=xlsx")).bearer_auth(&token).send().await?;
    let bytes = res.bytes().await?;
    println!("{:<34} {:>8.0} ms  ({:.0} KB)", "same as xlsx", t.elapsed().as_secs_f64() * 1000.0, bytes.len() as f64 / 1024.0);
    // The figures are the ledger's.
    let paid_sum = scalar(
        &store,
        "SELECT CAST(SUM(amount_fen) AS BIGINT) FROM ledger_entries WHERE kind IN ('payment', 'offline_payment') AND reference LIKE 'B%'",
    )
    .await?;
    assert_eq!(total["paid_fen"].as_i64(), Some(paid_sum), "the report's paid total is the ledger's");

    drop(store);
    if let Some((admin, name)) = cleanup {
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(admin.pool()).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
