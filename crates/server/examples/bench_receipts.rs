//! Receipt benchmark: issues and renders the electronic receipts of 10,000 payments (money
//! taken at the counter, recorded in bulk first with their issuing jobs queued, as the counter
//! queues them) and prints receipts/s and the p99 render time next to the raw rate of
//! rendering the same PDF in a loop, and the peak RSS. Issuing is the worker's own path: the
//! local queue's slots claim the jobs (in batches) and run them, as `campuspay worker` does.
//!
//! ```sh
//! cargo run --release -p campuspay-server --example bench_receipts                 # SQLite in a temp dir
//! cargo run --release -p campuspay-server --example bench_receipts -- postgres://postgres@127.0.0.1:5432/postgres
//! ```
//! With a PostgreSQL URL, a fresh database is created beside the given one and dropped at the end.

use campuspay_app::jobs::{self, Job, Limits, Queue};
use campuspay_app::receipts;
use campuspay_documents::receipt_pdf::{ReceiptDoc, render_receipt};
use campuspay_server::{AppState, Config, demo};
use campuspay_store::Store;
use std::sync::Arc;
use std::time::{Duration, Instant};

const PAYMENTS: usize = 10_000;
/// Claims running at once: the worker's local queue slots.
fn workers() -> usize {
    Limits::default().local
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb =
        status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok());
    kb.unwrap_or(0.0) / 1024.0
}

fn p99(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[(v.len() * 99 / 100).min(v.len() - 1)]
}

/// 10,000 one-fen counter payments, each by its own student of lut on a charge of its own (the
/// students and charges made in SQL first, not timed), recorded as the counter records them (an
/// `offline_payments` row, its ledger row and its issuing job each), in one transaction.
/// Students of their own because a counter payment's receipt is issued under its student's
/// lock: 10,000 payments of one student would measure that one lock, not issuing.
async fn record_payments(state: &AppState, round: &str) -> Result<Vec<i64>, Box<dyn std::error::Error>> {
    let store = &state.ctx.store;
    let (school, item, period): (i64, i64, i64) = sqlx::query_as(
        "SELECT s.id, c.fee_item_id, c.period_id FROM schools s JOIN students st ON st.school_id = s.id \
         JOIN charges c ON c.student_id = st.id WHERE s.code = 'lut' AND st.student_no = '20230001' ORDER BY c.total_fen DESC LIMIT 1",
    )
    .fetch_one(store.pool())
    .await?;
    let staff: i64 =
        sqlx::query_scalar("SELECT id FROM staff WHERE school_id = $1 AND login = 'cashier'").bind(school).fetch_one(store.pool()).await?;
    let mut tx = store.write_tx().await?;
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $2 - 1) \
         INSERT INTO students (school_id, student_no, name, gender, id_card, department, major, level, class_name, enrol_year, created_at) \
         SELECT $1, $3 || CAST(i AS TEXT), '票据压测' || CAST(i AS TEXT), '女', $3 || CAST(i AS TEXT), '压测学院', '压测专业', '本科', '压测班', 2030, 0 FROM n",
    )
    .bind(school)
    .bind(PAYMENTS as i64)
    .bind(round)
    .execute(&mut *tx.tx)
    .await?;
    sqlx::query(
        "INSERT INTO charges (school_id, student_id, fee_item_id, period_id, total_fen, created_at) \
         SELECT $1, id, $2, $3, 100, 0 FROM students WHERE school_id = $1 AND student_no LIKE $4 || '%'",
    )
    .bind(school)
    .bind(item)
    .bind(period)
    .bind(round)
    .execute(&mut *tx.tx)
    .await?;
    let payers: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT c.student_id, c.id FROM charges c JOIN students st ON st.id = c.student_id \
         WHERE st.school_id = $1 AND st.student_no LIKE $2 || '%' ORDER BY c.id",
    )
    .bind(school)
    .bind(round)
    .fetch_all(&mut *tx.tx)
    .await?;
    assert_eq!(payers.len(), PAYMENTS, "a charge for every bench student");
    let mut ids = Vec::with_capacity(PAYMENTS);
    for (i, (student, charge)) in payers.into_iter().enumerate() {
        let reference = format!("BENCH-{round}-{i:06}");
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO offline_payments (school_id, student_id, method, reference, total_fen, staff_id, created_at) \
             VALUES ($1, $2, 'cash', $3, 1, $4, 0) RETURNING id",
        )
        .bind(school)
        .bind(student)
        .bind(&reference)
        .bind(staff)
        .fetch_one(&mut *tx.tx)
        .await?;
        sqlx::query(
            "INSERT INTO ledger_entries (school_id, student_id, charge_id, kind, amount_fen, reference, memo, created_at) \
             VALUES ($1, $2, $3, 'offline_payment', 1, $4, '现金（压测）', 0)",
        )
        .bind(school)
        .bind(student)
        .bind(charge)
        .bind(&reference)
        .execute(&mut *tx.tx)
        .await?;
        jobs::enqueue(&state.ctx, &mut tx, &Job::IssueOfflineReceipt { offline_payment_id: id }).await?;
        ids.push(id);
    }
    tx.commit().await?;
    Ok(ids)
}

/// The worker's local queue: each slot claims a batch of due issuing jobs and runs it, until
/// none is due.
fn issuing_slots(state: &AppState) -> Vec<tokio::task::JoinHandle<()>> {
    (0..workers())
        .map(|_| {
            let state = state.clone();
            tokio::spawn(async move {
                while let Some(claimed) = jobs::claim(&state.ctx, Queue::Local).await.expect("claim") {
                    jobs::run_claimed(&state.ctx, claimed).await;
                }
            })
        })
        .collect()
}

/// As a server serves receipts: another 10,000 payments; the worker's slots issue them while
/// as many students as there are cores download, each receipt as soon as it is issued — against
/// the raw loop on as many threads. One download at a time (the serial figures above) leaves a
/// core idle during every query; a server never serves one student at a time.
async fn served(state: &AppState, school: i64, doc: &ReceiptDoc) -> Result<(), Box<dyn std::error::Error>> {
    let store = state.ctx.store.clone();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let before: i64 = sqlx::query_scalar("SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM receipts").fetch_one(store.pool()).await?;
    record_payments(state, "RC").await?;

    let t0 = Instant::now();
    let slots = issuing_slots(state);
    // Students learn of a receipt when it is issued (the SMS): here, by the receipts' ids.
    let (issued, next) = tokio::sync::mpsc::unbounded_channel::<i64>();
    let feeder = tokio::spawn(async move {
        let (mut last, mut seen) = (before, 0);
        while seen < PAYMENTS {
            let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM receipts WHERE id > $1 ORDER BY id LIMIT 1000")
                .bind(last)
                .fetch_all(store.pool())
                .await
                .expect("issued receipts");
            if ids.is_empty() {
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
            last = ids[ids.len() - 1];
            seen += ids.len();
            for id in ids {
                let _ = issued.send(id);
            }
        }
    });
    let next = Arc::new(tokio::sync::Mutex::new(next));
    let downloads: Vec<_> = (0..cores)
        .map(|_| {
            let (state, next) = (state.clone(), next.clone());
            tokio::spawn(async move {
                let mut times = Vec::new();
                loop {
                    let id = next.lock().await.recv().await;
                    let Some(id) = id else { break };
                    let t = Instant::now();
                    std::hint::black_box(receipts::pdf_of(&state, school, None, id).await.expect("pdf"));
                    times.push(t.elapsed());
                }
                times
            })
        })
        .collect();
    for t in slots {
        t.await?;
    }
    let issue = t0.elapsed();
    feeder.await?;
    let mut times = Vec::with_capacity(PAYMENTS);
    for t in downloads {
        times.extend(t.await?);
    }
    let total = t0.elapsed();
    assert_eq!(times.len(), PAYMENTS, "every receipt downloaded once");

    let doc = Arc::new(doc.clone());
    let t1 = Instant::now();
    let threads: Vec<_> = (0..cores)
        .map(|_| {
            let doc = doc.clone();
            std::thread::spawn(move || {
                (0..PAYMENTS / cores)
                    .map(|_| {
                        let t = Instant::now();
                        std::hint::black_box(render_receipt(&doc).expect("render"));
                        t.elapsed()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut raw_times = Vec::with_capacity(PAYMENTS);
    for t in threads {
        raw_times.extend(t.join().expect("render thread"));
    }
    let raw = t1.elapsed();
    let (raw_rate, served_rate) = (raw_times.len() as f64 / raw.as_secs_f64(), PAYMENTS as f64 / total.as_secs_f64());
    println!("\nas a server serves them: issuing while {cores} download at once, against the raw loop on {cores} threads");
    println!(
        "{:<40} {:>9.0} receipts/s  ({:.1} s, while downloads ran)",
        "issue",
        PAYMENTS as f64 / issue.as_secs_f64(),
        issue.as_secs_f64()
    );
    println!(
        "{:<40} {:>9.0} receipts/s  ({:.1} s; p99 download {:.2} ms)",
        "issued and downloaded",
        served_rate,
        total.as_secs_f64(),
        p99(times).as_secs_f64() * 1e3
    );
    println!(
        "{:<40} {:>9.0} renders/s   (p99 {:.2} ms)",
        "raw PDF render loop, same concurrency",
        raw_rate,
        p99(raw_times).as_secs_f64() * 1e3
    );
    println!("{:<40} {:>9.0} %  of the raw loop at the same concurrency", "issued and downloaded", 100.0 * served_rate / raw_rate);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("campuspay-bench-receipts-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (url, cleanup) = match std::env::args().nth(1) {
        Some(admin) if admin.starts_with("postgres") => {
            let name = format!("cp_bench_receipts_{}", std::process::id());
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
    println!("campuspay receipt bench on {backend}: {PAYMENTS} payments, {} issuing slots", workers());
    let state = AppState::new(store.clone(), Config::default());
    // The demo's own due jobs (its counter payments' receipts among them) first, so the timing
    // is of the bench's payments alone.
    jobs::run_pending(&state.ctx).await?;
    let before: i64 = sqlx::query_scalar("SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM receipts").fetch_one(store.pool()).await?;
    record_payments(&state, "RB").await?;

    // Issue: the worker's local queue, each slot claiming a batch of due issuing jobs and
    // running it, until none is due.
    let t0 = Instant::now();
    for t in issuing_slots(&state) {
        t.await?;
    }
    let issue = t0.elapsed();
    assert!(jobs::failed(&state.ctx).await?.is_empty(), "no issuing job failed");
    let receipt_ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM receipts WHERE id > $1 ORDER BY id").bind(before).fetch_all(store.pool()).await?;
    assert_eq!(receipt_ids.len(), PAYMENTS, "one receipt per payment");

    // Render each from the database, as the PDF download does.
    let school: i64 = sqlx::query_scalar("SELECT id FROM schools WHERE code = 'lut'").fetch_one(store.pool()).await?;
    let t1 = Instant::now();
    let mut render_times = Vec::with_capacity(PAYMENTS);
    let mut sample = Vec::new();
    for id in &receipt_ids {
        let t = Instant::now();
        let (_, pdf) = receipts::pdf_of(&state, school, None, *id).await.expect("pdf");
        render_times.push(t.elapsed());
        if sample.is_empty() {
            sample = pdf;
        }
    }
    let render = t1.elapsed();
    let total = issue + render;

    // The raw loop: the same receipt's document rendered again and again, no database.
    let doc_of = receipts::pdf_doc(&state, school, receipt_ids[0]).await.expect("doc");
    let t2 = Instant::now();
    let mut raw_times = Vec::with_capacity(PAYMENTS);
    for _ in 0..PAYMENTS {
        let t = Instant::now();
        std::hint::black_box(render_receipt(&doc_of).expect("render"));
        raw_times.push(t.elapsed());
    }
    let raw = t2.elapsed();

    let rate = |n: usize, d: Duration| n as f64 / d.as_secs_f64();
    println!("{:<40} {:>9.0} receipts/s  ({:.1} s)", "issue (jobs' work, numbered and sealed)", rate(PAYMENTS, issue), issue.as_secs_f64());
    println!(
        "{:<40} {:>9.0} receipts/s  (p99 {:.2} ms)",
        "render from the database (download)",
        rate(PAYMENTS, render),
        p99(render_times).as_secs_f64() * 1e3
    );
    println!("{:<40} {:>9.0} receipts/s  ({:.1} s)", "issue + render, end to end", rate(PAYMENTS, total), total.as_secs_f64());
    println!(
        "{:<40} {:>9.0} renders/s   (p99 {:.2} ms)",
        "raw PDF render loop (limit)",
        rate(PAYMENTS, raw),
        p99(raw_times).as_secs_f64() * 1e3
    );
    println!(
        "{:<40} {:>9.0} %  of the raw loop (render from the database: {:.0} %)",
        "issue + render",
        100.0 * rate(PAYMENTS, total) / rate(PAYMENTS, raw),
        100.0 * rate(PAYMENTS, render) / rate(PAYMENTS, raw)
    );
    served(&state, school, &doc_of).await?;
    println!("{:<40} {:>9} bytes per receipt PDF", "size", sample.len());
    println!("{:<40} {:>9.0} MB", "peak RSS", peak_rss_mb());

    drop(state);
    drop(store);
    if let Some((admin, name)) = cleanup {
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(admin.pool()).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
