//! Running the jobs apart from the HTTP server: the real `campuspay` binary twice on one
//! database, `serve --no-worker --demo` and `worker --demo`. A payment whose notification is
//! lost stays unpaid under the server alone and is settled by the worker's provider query;
//! the worker stops cleanly on SIGTERM.

use crate::common::{self, Db, TestApp};
use crate::payments::{behaviour, new_order, order_status, pay, provider_pays};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed when the test ends, however it ends. (std's process, not tokio's:
/// tokio's `process` feature would rebuild tokio and everything above it for the tests.)
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    worker_runs_the_jobs_of_a_server_without_one(Db::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    worker_runs_the_jobs_of_a_server_without_one(Db::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_demo_instances_sqlite() {
    two_demo_instances_share_the_simulators_trades(Db::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_demo_instances_postgres() {
    two_demo_instances_share_the_simulators_trades(Db::Postgres).await
}

/// Starts `serve --demo` with `extra` arguments on a free port; answers its base URL once
/// it is up.
async fn demo_instance(extra: &[&str], url: &str, data_dir: &std::path::Path) -> (Process, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (base, listen) = (format!("http://127.0.0.1:{port}"), format!("127.0.0.1:{port}"));
    let mut args = vec!["serve", "--demo", "--listen", &listen];
    args.extend_from_slice(extra);
    let process = campuspay(&args, url, data_dir);
    let t0 = Instant::now();
    while reqwest::get(format!("{base}/healthz")).await.map(|r| r.status().as_u16()).ok() != Some(200) {
        assert!(t0.elapsed() < Duration::from_secs(60), "serve did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (process, base)
}

/// Issue 13 item 14: two `serve --demo` on one database. The trade is made at the first
/// one's simulator, whose notification is lost; the provider query runs on the second (the
/// first runs no jobs), whose simulator must know the trade — and so must a simulator started
/// afterwards.
async fn two_demo_instances_share_the_simulators_trades(db: Db) {
    let (url, _db_dir) = common::fresh_database(db).await;
    let data = common::temp_dir();
    let (_first, base) = demo_instance(&["--no-worker"], &url, &data.0).await;
    let (_second, _) = demo_instance(&[], &url, &data.0).await;
    let app = TestApp::attach(&base, &url).await;
    let token = app.session("qdou", "20230001").await;
    behaviour(&app, "wechatpay", serde_json::json!({"notify": "lost"})).await;
    let (_, o) = new_order(&app, &token).await;
    let no = o["order_no"].as_str().unwrap();
    let p = pay(&app, &token, no, "wechat_native").await;
    let out_trade_no = p["out_trade_no"].as_str().unwrap();
    assert_eq!(provider_pays(&app, "wechat_native", out_trade_no).await, 200);
    let t0 = Instant::now();
    while order_status(&app, &token, no).await != "paid" {
        assert!(t0.elapsed() < Duration::from_secs(20), "the second instance's query found the trade paid");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_third, later) = demo_instance(&["--no-worker"], &url, &data.0).await;
    let trade: serde_json::Value =
        reqwest::get(format!("{later}/sandbox/wechatpay/orders/{out_trade_no}")).await.unwrap().json().await.unwrap();
    assert!(trade.to_string().contains("paid"), "a simulator started later knows the trade: {trade}");
}

fn campuspay(args: &[&str], database_url: &str, data_dir: &std::path::Path) -> Process {
    let child = Command::new(env!("CARGO_BIN_EXE_campuspay"))
        .args(args)
        .arg("--database-url")
        .arg(database_url)
        .arg("--data-dir")
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting campuspay");
    Process(child)
}

async fn worker_runs_the_jobs_of_a_server_without_one(db: Db) {
    let (url, _db_dir) = common::fresh_database(db).await;
    let data = common::temp_dir();
    // A free port for the server (the worker must be told where it is).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let listen = format!("127.0.0.1:{port}");
    let _server = campuspay(&["serve", "--demo", "--no-worker", "--listen", &listen], &url, &data.0);
    let t0 = Instant::now();
    while reqwest::get(format!("{base}/healthz")).await.map(|r| r.status().as_u16()).ok() != Some(200) {
        assert!(t0.elapsed() < Duration::from_secs(60), "serve did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let app = TestApp::attach(&base, &url).await;

    let token = app.session("qdou", "20230001").await;
    behaviour(&app, "alipay", serde_json::json!({"notify": "lost"})).await;
    let (_, o) = new_order(&app, &token).await;
    let no = o["order_no"].as_str().unwrap();
    let p = pay(&app, &token, no, "alipay_qr").await;
    assert_eq!(provider_pays(&app, "alipay_qr", p["out_trade_no"].as_str().unwrap()).await, 200);
    // Past the moment its provider query was due (3 s), nobody has run it.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(order_status(&app, &token, no).await, "unpaid", "serve --no-worker runs no jobs");

    let mut worker = campuspay(&["worker", "--demo", "--public-url", &base], &url, &data.0);
    let t0 = Instant::now();
    while order_status(&app, &token, no).await != "paid" {
        assert!(t0.elapsed() < Duration::from_secs(20), "the worker settled the payment by querying the provider");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let by_query: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM provider_payments WHERE source = 'query'").fetch_one(app.store.pool()).await.unwrap();
    assert_eq!(by_query, 1);

    // SIGTERM: the worker stops claiming, finishes what it runs and exits successfully.
    let pid = worker.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let t0 = Instant::now();
    let status = loop {
        if let Some(status) = worker.0.try_wait().unwrap() {
            break status;
        }
        assert!(t0.elapsed() < Duration::from_secs(40), "the worker stops within its grace period");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "worker exit: {status}");
    behaviour(&app, "alipay", serde_json::json!({"notify": "normal"})).await;

    // Issue 13 item 15: `reconcile` on the demo database reads the simulator's statements as
    // the worker does, and without --demo it says why it has none instead of exiting 0.
    let today = campuspay_domain::time::format_shanghai_date(campuspay_store::db_now());
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_campuspay"))
            .args(["reconcile", "--date", &today, "--database-url", &url, "--data-dir"])
            .arg(&data.0)
            .args(extra)
            .env("RUST_LOG", "error")
            .output()
            .expect("running campuspay reconcile");
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (ok, out, err) = run(&["--demo", "--public-url", &base]);
    assert!(ok, "reconcile --demo: {out} {err}");
    let statements: usize = out.split(" statements").next().and_then(|s| s.rsplit(' ').next()).and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(statements > 0, "statements were read: {out}");
    assert!(!out.contains(" 0 matched"), "the paid trade is on the statement and matched: {out}");
    let (ok, out, err) = run(&[]);
    assert!(!ok, "without --demo there is nothing to read, and it says so: {out}");
    assert!(err.contains("--demo"), "{err}");
}
