//! Issue 12 (the first morning of term): what protects the platform in a rush. Figures belong
//! to the benchmarks; these check the behaviour — a full hashing line answers at once.

use crate::common::{Db, TestApp};
use serde_json::{Value, json};
use tokio::task::JoinSet;

async fn a_login_flood_beyond_the_hashing_line_is_told_to_come_back(db: Db) {
    let app = TestApp::spawn_with(db, |c| {
        c.hash_permits = 1;
        c.trust_proxy = true;
    })
    .await;
    let mut set = JoinSet::new();
    for i in 0..120 {
        // Distinct addresses and numbers: no per-address or per-account limit applies.
        let (http, url) = (app.http.clone(), app.url("/api/v1/student/login"));
        set.spawn(async move {
            let body = json!({"school": "cqjzc", "login": format!("29{i:06}"), "password": "wrong-password"});
            let res = http.post(url).header("x-forwarded-for", format!("10.1.{}.{}", i / 200, i % 200)).json(&body).send().await.unwrap();
            let status = res.status().as_u16();
            let retry = res.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
            let v: Value = res.json().await.unwrap();
            (status, v["error"]["code"].as_str().unwrap_or("").to_string(), retry)
        });
    }
    let answers = set.join_all().await;
    let busy: Vec<_> = answers.iter().filter(|(s, c, _)| *s == 429 && c == "busy").collect();
    let checked = answers.iter().filter(|(s, c, _)| *s == 401 && c == "invalid_credentials").count();
    assert!(!busy.is_empty(), "a full line answers 429 busy: {answers:?}");
    assert!(busy.iter().all(|(_, _, r)| r.as_deref() == Some("2")), "with Retry-After: {busy:?}");
    assert_eq!(busy.len() + checked, answers.len(), "{answers:?}");
    let failures: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM security_events WHERE kind = 'login_failed'").fetch_one(app.store.pool()).await.unwrap();
    assert_eq!(failures as usize, checked, "a login told to come back counted nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn login_flood_sqlite() {
    a_login_flood_beyond_the_hashing_line_is_told_to_come_back(Db::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn login_flood_postgres() {
    a_login_flood_beyond_the_hashing_line_is_told_to_come_back(Db::Postgres).await
}

/// Item 4: `/metrics` counts requests by route template and status with their latency, and
/// reads payments, orders and jobs from the books; each response carries a request id; only
/// loopback may read it.
async fn metrics_count_requests_and_the_books(db: Db) {
    let app = TestApp::spawn_with(db, |c| c.trust_proxy = true).await;
    let token = app.session("qdou", "20230001").await;
    let (_, o) = crate::payments::new_order(&app, &token).await;
    let no = o["order_no"].as_str().unwrap();
    let p = crate::payments::pay(&app, &token, no, "alipay_qr").await;
    crate::payments::provider_pays(&app, "alipay_qr", p["out_trade_no"].as_str().unwrap()).await;
    let res = app.http.get(app.url(&format!("/api/v1/student/orders/{no}"))).bearer_auth(&token).send().await.unwrap();
    assert!(res.headers().get("x-request-id").is_some_and(|v| v.len() >= 12), "a request id on the response");
    let text = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let has = |needle: &str| text.lines().any(|l| l.starts_with(needle));
    assert!(
        has("campuspay_http_requests_total{method=\"POST\",route=\"/api/v1/student/login\",status=\"200\"}"),
        "logins counted by route and status:\n{text}"
    );
    assert!(has("campuspay_http_requests_total{method=\"GET\",route=\"/api/v1/student/orders/{order_no}\",status=\"200\"}"), "{text}");
    assert!(!text.contains(no), "raw paths never become labels");
    assert!(has("campuspay_http_request_duration_seconds_bucket{route=\"/api/v1/student/login\",le=\"+Inf\"}"), "{text}");
    assert!(has("campuspay_orders{status="), "{text}");
    assert!(has("campuspay_jobs{kind="), "{text}");
    assert!(has("campuspay_db_connections{state=\"idle\"}"), "{text}");
    assert!(has("campuspay_up 1"), "{text}");
    assert!(has("process_resident_memory_bytes "), "{text}");
    let outside = app.http.get(app.url("/metrics")).header("x-forwarded-for", "203.0.113.9").send().await.unwrap();
    assert_eq!(outside.status().as_u16(), 404, "not for the public");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_sqlite() {
    metrics_count_requests_and_the_books(Db::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_postgres() {
    metrics_count_requests_and_the_books(Db::Postgres).await
}
