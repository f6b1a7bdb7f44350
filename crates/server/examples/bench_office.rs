//! Office benchmark: imports 50,000 students from one .xlsx and issues 500,000 charges
//! (ten fee items × 50,000 students) through the HTTP API, and prints rows/s next to the
//! database's raw bulk-insert rate measured in the same run, and the peak RSS of the process
//! (server and this client; the client holds one 3 MB file).
//!
//! Each step is held to the raw insert of its own rows into a table of the same shape: the
//! roster into a copy of `students`, the runs' charges into a copy of `charges` with its keys
//! and indexes. A plain 6-column insert is printed too, for scale.
//!
//! ```sh
//! cargo run --release -p campuspay-server --example bench_office                 # SQLite in a temp dir
//! cargo run --release -p campuspay-server --example bench_office -- postgres://postgres@127.0.0.1:5432/postgres
//! ```
//! With a PostgreSQL URL, a fresh database is created beside the given one and dropped at the end.

use campuspay_server::{AppState, Config, app, demo};
use campuspay_store::Store;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Instant;

const STUDENTS: usize = 50_000;
const ITEMS: usize = 10;
const RAW_ROWS: usize = 200_000;
/// Rows of the charges' raw insert (two fee items' worth of the roster).
const RAW_CHARGES: usize = 100_000;
const BATCH: usize = 500;

/// The process's peak resident set (VmHWM), in MB.
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb =
        status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok());
    kb.unwrap_or(0.0) / 1024.0
}

/// The process's resident set now (VmRSS), in MB.
fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb =
        status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok());
    kb.unwrap_or(0.0) / 1024.0
}

/// Forgets the peak so far (Linux: `clear_refs` 5), so the figure is the import's and the runs'.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn check_char(body: &str) -> char {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const C: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    let sum: u32 = body.bytes().zip(W).map(|(d, w)| u32::from(d - b'0') * w).sum();
    C[(sum % 11) as usize]
}

const HEAD: [&str; 11] = ["学号", "姓名", "性别", "身份证号", "院系", "专业", "层次", "年级", "班级", "手机号", "邮箱"];

fn roster_rows() -> Vec<Vec<String>> {
    let majors = ["小学教育", "学前教育", "土木工程", "会计学", "工程造价"];
    let rows: Vec<Vec<String>> = (0..STUDENTS)
        .map(|i| {
            // A thousand per birthday: every card differs.
            let day = i / 1000;
            let body = format!("6201022000{:02}{:02}{:03}", 1 + day / 28, 1 + day % 28, i % 1000);
            let card = format!("{body}{}", check_char(&body));
            vec![
                format!("B{:07}", i),
                format!("压测{i}"),
                (if i % 2 == 0 { "女" } else { "男" }).into(),
                card,
                "继续教育学院".into(),
                majors[i % majors.len()].into(),
                "本科(专科起点)".into(),
                "2030".into(),
                format!("压测{}班", i % 200),
                format!("139{:08}", i),
                String::new(),
            ]
        })
        .collect();
    rows
}

/// The roster's own rows inserted straight into a table shaped like `students` (its columns,
/// its unique number and its phone index), many rows per INSERT, in one transaction: the
/// database's limit for exactly what an import commit writes.
async fn raw_roster_rate(store: &Store, rows: &[Vec<String>]) -> Result<f64, Box<dyn std::error::Error>> {
    let id = if url_is_postgres(store) { "BIGSERIAL PRIMARY KEY" } else { "INTEGER PRIMARY KEY AUTOINCREMENT" };
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE bench_students (id {id}, school_id BIGINT NOT NULL, student_no TEXT NOT NULL, name TEXT NOT NULL, \
         gender TEXT NOT NULL, id_card TEXT NOT NULL, phone TEXT NOT NULL DEFAULT '', email TEXT NOT NULL DEFAULT '', \
         department TEXT NOT NULL, major TEXT NOT NULL, level TEXT NOT NULL, class_name TEXT NOT NULL, enrol_year BIGINT NOT NULL, \
         created_at BIGINT NOT NULL, UNIQUE (school_id, student_no)); \
         CREATE INDEX bench_students_by_phone ON bench_students (school_id, phone)"
    )))
    .execute(store.pool())
    .await?;
    let t0 = Instant::now();
    let mut tx = store.write_tx().await?;
    for chunk in rows.chunks(BATCH) {
        let mut sql = String::from(
            "INSERT INTO bench_students (school_id, student_no, name, gender, id_card, phone, email, department, major, level, class_name, enrol_year, created_at) VALUES ",
        );
        for k in 0..chunk.len() {
            sql.push_str(if k > 0 { ", (" } else { "(" });
            sql.push_str(&(1..=13).map(|j| format!("${}", k * 13 + j)).collect::<Vec<_>>().join(", "));
            sql.push(')');
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for r in chunk {
            q = q.bind(1_i64);
            for c in [0, 1, 2, 3, 9, 10, 4, 5, 6, 8] {
                q = q.bind(r[c].clone());
            }
            q = q.bind(2030_i64).bind(0_i64);
        }
        q.execute(&mut *tx.tx).await?;
    }
    tx.commit().await?;
    Ok(rows.len() as f64 / t0.elapsed().as_secs_f64())
}

fn url_is_postgres(store: &Store) -> bool {
    store.backend() == campuspay_store::Backend::Postgres
}

/// Multi-row INSERTs of `RAW_ROWS` rows in one transaction: what the database does at best.
async fn raw_bulk_rate(store: &Store) -> Result<f64, Box<dyn std::error::Error>> {
    sqlx::raw_sql("CREATE TABLE bench_bulk (a BIGINT, b BIGINT, c BIGINT, d BIGINT, e BIGINT, f TEXT)").execute(store.pool()).await?;
    let t0 = Instant::now();
    let mut tx = store.write_tx().await?;
    for chunk in (0..RAW_ROWS).collect::<Vec<_>>().chunks(BATCH) {
        let mut sql = String::from("INSERT INTO bench_bulk (a, b, c, d, e, f) VALUES ");
        for (k, _) in chunk.iter().enumerate() {
            let b = k * 6;
            sql.push_str(&format!(
                "{}(${}, ${}, ${}, ${}, ${}, ${})",
                if k > 0 { ", " } else { "" },
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6
            ));
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for i in chunk {
            let i = *i as i64;
            q = q.bind(i).bind(i * 2).bind(i * 3).bind(i * 5).bind(i * 7).bind(format!("行{i}"));
        }
        q.execute(&mut *tx.tx).await?;
    }
    tx.commit().await?;
    Ok(RAW_ROWS as f64 / t0.elapsed().as_secs_f64())
}

/// The charges' own raw insert: `rows` rows shaped as a run writes them (the same columns,
/// constraints, foreign keys and indexes as `charges`, a copy named `bench_charges`), by
/// multi-row INSERTs in one transaction. This is the limit a charge run is held to, as the
/// roster's raw insert is the import's: a 6-integer-column table without keys is not what a
/// run writes (on PostgreSQL each of a charge's five foreign keys is checked row by row).
async fn raw_charges_rate(store: &Store, fee_items: &[i64], rows: usize) -> Result<f64, Box<dyn std::error::Error>> {
    let id = if url_is_postgres(store) { "BIGSERIAL PRIMARY KEY" } else { "INTEGER PRIMARY KEY AUTOINCREMENT" };
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE bench_charges (id {id}, school_id BIGINT NOT NULL REFERENCES schools (id), \
         student_id BIGINT NOT NULL REFERENCES students (id), fee_item_id BIGINT NOT NULL REFERENCES fee_items (id), \
         period_id BIGINT NOT NULL REFERENCES periods (id), total_fen BIGINT NOT NULL CHECK (total_fen >= 0), \
         discount_fen BIGINT NOT NULL DEFAULT 0 CHECK (discount_fen >= 0 AND discount_fen <= total_fen), \
         created_at BIGINT NOT NULL, run_id BIGINT REFERENCES charge_runs (id), UNIQUE (student_id, fee_item_id, period_id)); \
         CREATE INDEX bench_charges_by_student ON bench_charges (school_id, student_id); \
         CREATE INDEX bench_charges_by_run ON bench_charges (run_id)"
    )))
    .execute(store.pool())
    .await?;
    let school: i64 = sqlx::query_scalar("SELECT id FROM schools WHERE code = 'lut'").fetch_one(store.pool()).await?;
    let period: i64 = sqlx::query_scalar("SELECT id FROM periods WHERE school_id = $1 AND code = '2025-2026'")
        .bind(school)
        .fetch_one(store.pool())
        .await?;
    let students: Vec<i64> = sqlx::query_scalar("SELECT id FROM students WHERE school_id = $1 AND enrol_year = 2030 ORDER BY id")
        .bind(school)
        .fetch_all(store.pool())
        .await?;
    // A run row for the charges to point at, as a run's charges do.
    let run: i64 = sqlx::query_scalar(
        "INSERT INTO charge_runs (school_id, staff_id, fee_item_id, period_id, amount_fen, filter, students, total_fen, created_at) \
         SELECT $1, id, $2, $3, 1, '{}', 0, 0, 0 FROM staff WHERE school_id = $1 AND login = 'finance' RETURNING id",
    )
    .bind(school)
    .bind(fee_items[0])
    .bind(period)
    .fetch_one(store.pool())
    .await?;
    let pairs: Vec<(i64, i64)> = fee_items.iter().flat_map(|f| students.iter().map(move |s| (*f, *s))).take(rows).collect();
    let t0 = Instant::now();
    let mut tx = store.write_tx().await?;
    for chunk in pairs.chunks(BATCH) {
        let mut sql = String::from(
            "INSERT INTO bench_charges (school_id, student_id, fee_item_id, period_id, total_fen, discount_fen, created_at, run_id) VALUES ",
        );
        for k in 0..chunk.len() {
            sql.push_str(if k > 0 { ", (" } else { "(" });
            sql.push_str(&(1..=8).map(|j| format!("${}", k * 8 + j)).collect::<Vec<_>>().join(", "));
            sql.push(')');
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (fee_item, student) in chunk {
            q = q.bind(school).bind(*student).bind(*fee_item).bind(period).bind(10_000_i64).bind(0_i64).bind(1_i64).bind(run);
        }
        q.execute(&mut *tx.tx).await?;
    }
    tx.commit().await?;
    Ok(pairs.len() as f64 / t0.elapsed().as_secs_f64())
}

async fn post(http: &reqwest::Client, url: String, token: &str, body: Value) -> Value {
    let res = http.post(url).bearer_auth(token).json(&body).send().await.expect("request");
    let status = res.status();
    let v: Value = res.json().await.expect("json");
    assert!(status.is_success(), "{status}: {v}");
    v
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The roster's rows, its workbook and the raw insert of those rows are made in a child
    // process (this program again, on the same database), so that what they take is not
    // counted in the server's peak RSS below. It prints the raw rate.
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--prepare-roster") {
        let rows = roster_rows();
        std::fs::write(&args[2], campuspay_documents::write_xlsx("名单", &HEAD, &rows)?)?;
        let store = Store::connect(&args[3]).await?;
        println!("{}", raw_roster_rate(&store, &rows).await?);
        return Ok(());
    }
    let dir = std::env::temp_dir().join(format!("campuspay-bench-office-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (url, cleanup) = match std::env::args().nth(1) {
        Some(admin) if admin.starts_with("postgres") => {
            let name = format!("cp_bench_office_{}", std::process::id());
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
    println!("campuspay office bench on {backend}: {STUDENTS} students from one .xlsx, {} charges", STUDENTS * ITEMS);

    let raw = raw_bulk_rate(&store).await?;
    println!("{:<34} {RAW_ROWS:>8} rows {raw:>10.0} rows/s", "raw bulk insert, 6 plain columns");
    let xlsx_path = dir.join("roster.xlsx");
    let child = std::process::Command::new(std::env::current_exe()?).arg("--prepare-roster").arg(&xlsx_path).arg(&url).output()?;
    assert!(child.status.success(), "preparing the roster: {}", String::from_utf8_lossy(&child.stderr));
    let raw_roster: f64 = String::from_utf8(child.stdout)?.trim().parse()?;
    println!("{:<34} {STUDENTS:>8} rows {raw_roster:>10.0} rows/s", "raw bulk insert, the roster (limit)");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let origin = format!("http://{}", listener.local_addr()?);
    let state = AppState::new(store.clone(), Config { public_url: origin.clone(), ..Config::default() });
    let router = app::router(state);
    tokio::spawn(async move { axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await });
    let http = reqwest::Client::new();

    let file = std::fs::read(&xlsx_path)?;
    println!("{:<34} {:>8.1} MB", "roster file", file.len() as f64 / 1e6);
    reset_peak_rss();
    // What the process holds before the import (the allocator keeps some of what building the
    // file used): the peak below includes it.
    let baseline = rss_mb();
    let login =
        post(&http, format!("{origin}/api/v1/office/login"), "", json!({"school": "lut", "login": "finance", "password": "Finance#2026"}))
            .await;
    let token = login["token"].as_str().expect("token").to_string();

    let t0 = Instant::now();
    let form = reqwest::multipart::Form::new()
        .text("kind", "students")
        .part("file", reqwest::multipart::Part::bytes(file).file_name("roster.xlsx"));
    let res = http.post(format!("{origin}/api/v1/office/imports")).bearer_auth(&token).multipart(form).send().await?;
    let preview: Value = res.json().await?;
    let parse = t0.elapsed();
    assert_eq!(preview["valid"].as_i64(), Some(STUDENTS as i64), "{}", preview.to_string().chars().take(300).collect::<String>());
    let t1 = Instant::now();
    let done = post(&http, format!("{origin}/api/v1/office/imports/{}/commit", preview["id"]), &token, json!({})).await;
    let commit = t1.elapsed();
    assert_eq!(done["created"].as_i64(), Some(STUDENTS as i64));
    let total = t0.elapsed().as_secs_f64();
    let rate = STUDENTS as f64 / total;
    println!(
        "{:<34} {:>8} rows {:>10.0} rows/s  ({:.1} s: preview {:.1} s, commit {:.1} s)",
        "import students (upload→commit)",
        STUDENTS,
        rate,
        total,
        parse.as_secs_f64(),
        commit.as_secs_f64()
    );
    println!(
        "{:<34} {:>8} rows {:>10.0} rows/s  ratio to the roster's raw insert {:.2} (goal ≥ 0.50)",
        "  commit alone",
        STUDENTS,
        STUDENTS as f64 / commit.as_secs_f64(),
        STUDENTS as f64 / commit.as_secs_f64() / raw_roster
    );
    println!("{:<34} {:>8.0} MB (goal ≤ 300 MB; {baseline:.0} MB held before it)", "peak RSS during the import", peak_rss_mb());
    reset_peak_rss();
    let before_runs = rss_mb();

    let mut items = Vec::new();
    for k in 0..ITEMS {
        let v = post(
            &http,
            format!("{origin}/api/v1/office/fee-items"),
            &token,
            json!({"code": format!("BENCH{k}"), "name": format!("压测项目{k}")}),
        )
        .await;
        items.push(v["id"].as_i64().expect("item id"));
    }
    let raw_charges = raw_charges_rate(&store, &items, RAW_CHARGES).await?;
    println!("{:<34} {RAW_CHARGES:>8} rows {raw_charges:>10.0} rows/s", "raw bulk insert, charges (limit)");
    let t2 = Instant::now();
    let mut issued = 0;
    for (k, item) in items.iter().enumerate() {
        let run = json!({"fee_item": item, "period": "2025-2026", "amount_fen": 10_000 + k as i64, "filter": {"grade": "2030"}});
        let req = http
            .post(format!("{origin}/api/v1/office/charge-runs"))
            .bearer_auth(&token)
            .header("Idempotency-Key", format!("bench-{k}"))
            .json(&run);
        let v: Value = req.send().await?.json().await?;
        issued += v["students"].as_i64().unwrap_or(0);
    }
    let runs = t2.elapsed().as_secs_f64();
    assert_eq!(issued, (STUDENTS * ITEMS) as i64);
    let charge_rate = issued as f64 / runs;
    println!(
        "{:<34} {:>8} rows {:>10.0} rows/s  ({runs:.1} s)  ratio to the charges' raw insert {:.2} (goal ≥ 0.50); to the 6-column table {:.2}",
        "charge runs (10 × 50,000)",
        issued,
        charge_rate,
        charge_rate / raw_charges,
        charge_rate / raw
    );
    println!("{:<34} {:>8.0} MB (goal ≤ 300 MB; {before_runs:.0} MB held before them)", "peak RSS during the runs", peak_rss_mb());

    drop(store);
    if let Some((admin, name)) = cleanup {
        // The server's pool still holds connections: FORCE ends them.
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(admin.pool()).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
