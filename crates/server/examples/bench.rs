//! Payment-path benchmark: prints requests/s and p50/p99 for creating orders, starting
//! payments and settling notifications, next to the database's raw commit rate measured in
//! the same run.
//!
//! ```sh
//! cargo run --release -p campuspay-server --example bench                 # SQLite in a temp dir
//! cargo run --release -p campuspay-server --example bench -- postgres://postgres@127.0.0.1/bench
//! ```
//! Everything runs on this machine: the server on 127.0.0.1 port 0, the provider simulator
//! mounted in it, and a bounded number of requests.

use campuspay_domain::Fen;
use campuspay_sandbox::Sandbox;
use campuspay_server::{AppState, Config, app, demo};
use campuspay_store::charges::NewFeeItem;
use campuspay_store::sessions::SessionRow;
use campuspay_store::students::NewStudent;
use campuspay_store::{Store, db_now};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

const STUDENTS: usize = 300;
const CONCURRENCY: usize = 16;
const RAW_COMMITS: usize = 500;

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn report(name: &str, wall: Duration, mut lat: Vec<Duration>, commits_per_s: f64) -> f64 {
    lat.sort();
    let rps = lat.len() as f64 / wall.as_secs_f64();
    println!(
        "{name:<28} {:>5} req  {rps:>8.1} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  ratio to raw commits {:.2}",
        lat.len(),
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        rps / commits_per_s
    );
    rps
}

/// Runs `f` for every item with `CONCURRENCY` in flight; returns wall time and latencies.
async fn run<T: Send + 'static, F, Fut>(items: Vec<T>, f: F) -> (Duration, Vec<Duration>)
where
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let f = Arc::new(f);
    let queue = Arc::new(tokio::sync::Mutex::new(items));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (f, queue) = (f.clone(), queue.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let Some(item) = queue.lock().await.pop() else { break };
                let t = Instant::now();
                f(item).await;
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("bench task"));
    }
    (t0.elapsed(), all)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("campuspay-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = std::env::args().nth(1).unwrap_or_else(|| format!("sqlite://{}/bench.db", dir.display()));
    let store = Store::connect(&url).await?;
    store.migrate().await?;
    demo::seed_if_empty(&store).await?;
    println!(
        "campuspay bench on {} ({} students, {} in flight)",
        if url.starts_with("postgres") { "PostgreSQL" } else { "SQLite" },
        STUDENTS,
        CONCURRENCY
    );

    // The database's own pace: one-row transactions, committed one by one, as durable as ours.
    sqlx::raw_sql("CREATE TABLE IF NOT EXISTS bench_commits (id BIGINT, at BIGINT)").execute(store.pool()).await?;
    let t0 = Instant::now();
    for i in 0..RAW_COMMITS {
        let mut tx = store.write_tx().await?;
        sqlx::query("INSERT INTO bench_commits (id, at) VALUES ($1, $2)").bind(i as i64).bind(db_now()).execute(&mut *tx.tx).await?;
        tx.commit().await?;
    }
    let commits = RAW_COMMITS as f64 / t0.elapsed().as_secs_f64();
    println!("{:<28} {RAW_COMMITS:>5} tx   {commits:>8.1} commits/s", "raw commit rate");

    // Students of the demo school qdou, each owing one charge, each with a session.
    let school = store.school_by_code("qdou").await?.expect("demo school");
    let mut tokens = Vec::new();
    {
        let mut tx = store.write_tx().await?;
        let period = store.insert_period(&mut tx, school.id, "BENCH", "压测期间", "2099-2100", 99).await?;
        let item = NewFeeItem {
            school_id: school.id,
            code: "BENCH",
            name: "压测学费",
            name_en: "Bench tuition",
            category: "tuition",
            receipt_type: "非税收入票据",
            mandatory: false,
            parent_id: None,
            instalments: false,
            instalment_min: Fen::ZERO,
            window: None,
            collecting: true,
            sort: 99,
        };
        let item = store.insert_fee_item(&mut tx, &item).await?;
        for i in 0..STUDENTS {
            let no = format!("B{i:07}");
            let student = NewStudent {
                school_id: school.id,
                student_no: &no,
                name: "压测",
                gender: "男",
                id_card: "37020220000101111X",
                phone: "",
                email: "",
                department: "",
                major: "",
                level: "",
                class_name: "",
                enrol_year: 2024,
            };
            let id = store.insert_student(&mut tx, &student).await?;
            store.insert_charge(&mut tx, school.id, id, item, period, Fen(10_000 + i as i64), Fen::ZERO).await?;
            let token = campuspay_app::crypto::random_token(32);
            tokens.push((token.clone(), id));
        }
        tx.commit().await?;
    }
    for (token, student_id) in &tokens {
        let t = db_now();
        store
            .insert_session(&SessionRow {
                token_hash: campuspay_app::crypto::sha256_hex(token.as_bytes()),
                school_id: school.id,
                student_id: *student_id,
                csrf_token: String::new(),
                must_change_password: false,
                created_at: t,
                last_seen_at: t,
                idle_timeout_s: 3600,
                expires_at: t + 3600,
                user_agent: "bench".into(),
                ip: "127.0.0.1".into(),
            })
            .await?;
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let origin = format!("http://{}", listener.local_addr()?);
    let sandbox = Sandbox::open(&dir.join("sandbox"))?.with_time_scale(0.01);
    let channels = campuspay_server::simulator::channels_with_sandbox(&store, None, &sandbox, &origin).await?;
    let state = AppState::new(store.clone(), Config { public_url: origin.clone(), ..Config::default() })
        .with_channels(channels)
        .with_sandbox(Some(sandbox));
    let router = app::router(state.clone());
    tokio::spawn(async move { axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await });
    let worker = campuspay_app::jobs::Runner::new(state.ctx.clone()).spawn();
    let http = reqwest::Client::new();

    let charge_of = |store: Store, student_id: i64, school_id: i64| async move {
        store
            .charges_of_student(school_id, student_id)
            .await
            .expect("charges")
            .into_iter()
            .find(|c| c.item_code == "BENCH")
            .expect("bench charge")
            .id
    };
    let mut work = Vec::new();
    for (token, student_id) in &tokens {
        work.push((token.clone(), charge_of(store.clone(), *student_id, school.id).await));
    }

    let orders = Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let (h, o, b) = (http.clone(), orders.clone(), origin.clone());
    let (wall, lat) = run(work, move |(token, charge): (String, i64)| {
        let (h, o, b) = (h.clone(), o.clone(), b.clone());
        async move {
            let r = h
                .post(format!("{b}/api/v1/student/orders"))
                .bearer_auth(&token)
                .json(&serde_json::json!({"charges": [{"id": charge}]}))
                .send()
                .await
                .expect("order");
            assert_eq!(r.status(), 201);
            let v: serde_json::Value = r.json().await.expect("order json");
            o.lock().await.push((token, v["order_no"].as_str().expect("order_no").to_string()));
        }
    })
    .await;
    report("create order", wall, lat, commits);

    let paid = Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let list = orders.lock().await.clone();
    let (h, p, b) = (http.clone(), paid.clone(), origin.clone());
    let (wall, lat) = run(list, move |(token, no): (String, String)| {
        let (h, p, b) = (h.clone(), p.clone(), b.clone());
        async move {
            let r = h
                .post(format!("{b}/api/v1/student/orders/{no}/pay"))
                .bearer_auth(&token)
                .json(&serde_json::json!({"channel": "wechat_native"}))
                .send()
                .await
                .expect("pay");
            assert_eq!(r.status(), 200);
            let v: serde_json::Value = r.json().await.expect("pay json");
            p.lock().await.push((token, no, v["out_trade_no"].as_str().expect("out_trade_no").to_string()));
        }
    })
    .await;
    report("start payment (WeChat v3)", wall, lat, commits);

    // The provider takes the money and notifies; measured until the order reads paid.
    let list = paid.lock().await.clone();
    let (h, b) = (http.clone(), origin.clone());
    let (wall, lat) = run(list, move |(token, no, out): (String, String, String)| {
        let (h, b) = (h.clone(), b.clone());
        async move {
            let r = h.post(format!("{b}/sandbox/wechatpay/orders/{out}/pay")).send().await.expect("provider pay");
            assert_eq!(r.status(), 200);
            loop {
                let v: serde_json::Value = h
                    .get(format!("{b}/api/v1/student/orders/{no}"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .expect("status")
                    .json()
                    .await
                    .expect("status json");
                if v["status"] == "paid" {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    })
    .await;
    report("notify → shown paid", wall, lat, commits);
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM provider_payments").fetch_one(store.pool()).await?;
    println!("settled payments: {applied} (each once)");
    worker.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
