//! A refund ends as the provider ends it: processing first, then the provider's notification of
//! the refund to our notify URL (WeChat `REFUND.*`, Alipay's `trade_status_sync` with
//! `out_biz_no`/`refund_fee`, UnionPay's `txnType=04` back notification), which makes the refund
//! final — once, however it races the refund job's own asking; a forged one gets the provider's
//! refusal. Over real HTTP, on both databases, through the provider simulator.

use crate::common::TestApp;
use crate::office_money::{charge_paid, finance, paid_order, refund_rows, refund_status, sandbox_trade_of};
use crate::payments::{behaviour, count, new_order, pay, provider_pays};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

on_both_databases!(
    a_processing_refund_becomes_final_by_the_providers_notification,
    a_refund_notification_racing_the_refund_query_moves_the_money_once,
    an_alipay_refund_becomes_final_by_its_notification,
    a_unionpay_refund_becomes_final_by_its_notification,
    an_alipay_refund_notification_racing_the_query_moves_the_money_once,
    a_unionpay_refund_notification_racing_the_query_moves_the_money_once,
    an_alipay_refund_of_late_money_becomes_final_by_its_notification,
);

/// An office refund of 1000 fen of the student's paid WeChat order: (refund id, order no,
/// charge, what the charge had paid, finance token, student token).
async fn office_refund(app: &TestApp) -> (i64, String, Value, i64, String, String) {
    let token = app.session("qdou", "20230001").await;
    let (charge, order) = paid_order(app, &token).await;
    let no = order["order_no"].as_str().unwrap().to_string();
    let paid = charge_paid(app, &token, &charge["id"]).await;
    let fin = finance(app, "qdou").await;
    let body = json!({"order_no": no, "lines": [{"charge_id": charge["id"], "amount_fen": 1000}], "reason": "退学退费"});
    let (status, r) = app.post_json("/api/v1/office/refunds", body, Some(&fin)).await;
    assert_eq!(status, 201, "{r}");
    (r["id"].as_i64().unwrap(), no, charge, paid, fin, token)
}

/// The refund's record at the simulator (its `wechat` part holds the notify URL).
async fn provider_refund(app: &TestApp, order_no: &str) -> Value {
    let url = app.url(&format!("/sandbox/wechatpay/orders/{}", sandbox_trade_of(app, order_no).await));
    let trade: Value = app.http.get(url).send().await.unwrap().json().await.unwrap();
    trade["refunds"][0].clone()
}

/// Posts a notification as WeChat Pay would; (status, body).
async fn deliver(app: &TestApp, url: &str, headers: &reqwest::header::HeaderMap, body: &str) -> (u16, String) {
    let res = app.http.post(url).headers(headers.clone()).body(body.to_string()).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn a_processing_refund_becomes_final_by_the_providers_notification(app: TestApp) {
    behaviour(&app, "wechatpay", json!({"refund": "processing", "refund_delay_s": 120})).await;
    let (id, no, charge, paid, fin, token) = office_refund(&app).await;
    app.run_pending_jobs().await;
    assert_eq!(refund_status(&app, &fin, id).await, "processing");
    assert_eq!(refund_rows(&app).await, 0, "nothing leaves the books while it is processing");
    // No job runs from here: only the notification (after 120 s of provider time, 1.2 s here)
    // can end it.
    let t0 = Instant::now();
    while refund_status(&app, &fin, id).await != "success" {
        assert!(t0.elapsed() < Duration::from_secs(10), "the REFUND.SUCCESS notification made it final");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(refund_rows(&app).await, 1);
    assert_eq!(charge_paid(&app, &token, &charge["id"]).await, paid - 1000);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM notifications WHERE outcome = 'refund: success'").await, 1);
    // The simulator was answered as WeChat wants (204), so it stops retrying.
    let r = provider_refund(&app, &no).await;
    assert_eq!(r["wechat"]["status"], "SUCCESS", "{r}");
    assert_eq!(r["wechat"]["notifications"][0]["status"], 204, "{r}");
    // The job, when it runs, finds the refund final and does nothing more.
    app.clock.advance(10);
    app.run_pending_jobs().await;
    assert_eq!(count(&app, "SELECT COUNT(*) FROM jobs WHERE kind = 'refund' AND done_at IS NULL").await, 0);
    // WeChat retrying the same end: accepted, and still one refund row.
    let sandbox = app.state.sandbox.as_ref().unwrap();
    let (headers, body) = sandbox.wechat_refund_notification(&format!("RO{id:010}")).expect("the refund has ended");
    let url = r["wechat"]["notify_url"].as_str().unwrap();
    assert_eq!(deliver(&app, url, &headers, &body).await.0, 204);
    assert_eq!(refund_rows(&app).await, 1);
    // A forged one (the body altered after signing) gets WeChat's refusal and changes nothing.
    let forged = body.replace("\"REFUND.SUCCESS\"", "\"REFUND.CLOSED\"");
    let (status, answer) = deliver(&app, url, &headers, &forged).await;
    assert_eq!(status, 500, "{answer}");
    assert_eq!(serde_json::from_str::<Value>(&answer).unwrap()["code"], "FAIL");
    assert_eq!(refund_status(&app, &fin, id).await, "success");
    assert_eq!(count(&app, "SELECT CAST(SUM(amount_fen) AS BIGINT) FROM ledger_entries WHERE kind = 'refund'").await, -1000);
    // The API document says what the provider really gets: 204 taken, 500 refused, no 401.
    let spec = campuspay_server::api::openapi_spec();
    for path in ["/notify/{provider}/{school}", "/notify/{provider}"] {
        let responses = &spec["paths"][path]["post"]["responses"];
        assert!(responses.get("401").is_none(), "{path}: {responses}");
        assert!(responses["204"]["description"].as_str().unwrap().contains("WeChat"), "{path}: {responses}");
        assert!(responses["500"]["description"].as_str().unwrap().contains("FAIL"), "{path}: {responses}");
    }
}

async fn a_refund_notification_racing_the_refund_query_moves_the_money_once(app: TestApp) {
    let (id, no, charge, paid, fin, token) = office_refund(&app).await;
    // The simulator ends the refund at once but sends nothing itself: the test delivers its
    // notification, three times, while the refund job asks the provider at the same moment.
    behaviour(&app, "wechatpay", json!({"refund": "processing", "refund_delay_s": 0, "notify": "lost"})).await;
    app.run_pending_jobs().await;
    assert_eq!(refund_status(&app, &fin, id).await, "processing");
    let sandbox = app.state.sandbox.as_ref().unwrap();
    let (headers, body) = sandbox.wechat_refund_notification(&format!("RO{id:010}")).expect("the refund has ended");
    let url = provider_refund(&app, &no).await["wechat"]["notify_url"].as_str().unwrap().to_string();
    app.clock.advance(3);
    let (_, a, b, c) = tokio::join!(
        app.run_pending_jobs(),
        deliver(&app, &url, &headers, &body),
        deliver(&app, &url, &headers, &body),
        deliver(&app, &url, &headers, &body)
    );
    assert_eq!([a.0, b.0, c.0], [204, 204, 204], "{a:?} {b:?} {c:?}");
    app.run_pending_jobs().await;
    assert_eq!(refund_status(&app, &fin, id).await, "success");
    assert_eq!(refund_rows(&app).await, 1, "one refund row, however the two raced");
    assert_eq!(charge_paid(&app, &token, &charge["id"]).await, paid - 1000);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM refunds WHERE status = 'success'").await, 1);
    // One red-letter receipt for the refund, not one per racer.
    assert_eq!(count(&app, "SELECT COUNT(*) FROM receipts WHERE kind = 'red_letter'").await, 1);
}

/// Alipay or UnionPay, as a student of qdou pays with it.
#[derive(Clone, Copy)]
struct Via {
    provider: &'static str,
    student: &'static str,
    channel: &'static str,
}

const ALIPAY: Via = Via { provider: "alipay", student: "20230001", channel: "alipay_qr" };
const UNIONPAY: Via = Via { provider: "unionpay", student: "20230003", channel: "unionpay_qr" };

/// An office refund of 1000 fen of an order paid `via`: (refund id, charge, what the charge had
/// paid, finance token, student token).
async fn office_refund_via(app: &TestApp, via: Via) -> (i64, Value, i64, String, String) {
    let token = app.session("qdou", via.student).await;
    let (charge, order) = new_order(app, &token).await;
    let no = order["order_no"].as_str().unwrap().to_string();
    let p = pay(app, &token, &no, via.channel).await;
    assert_eq!(provider_pays(app, via.channel, p["out_trade_no"].as_str().unwrap()).await, 200);
    let t0 = Instant::now();
    while app.get_json(&format!("/api/v1/student/orders/{no}"), Some(&token)).await.1["status"] != "paid" {
        assert!(t0.elapsed() < Duration::from_secs(5), "paid within 5 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let paid = charge_paid(app, &token, &charge["id"]).await;
    let fin = finance(app, "qdou").await;
    let body = json!({"order_no": no, "lines": [{"charge_id": charge["id"], "amount_fen": 1000}], "reason": "退学退费"});
    let (status, r) = app.post_json("/api/v1/office/refunds", body, Some(&fin)).await;
    assert_eq!(status, 201, "{r}");
    (r["id"].as_i64().unwrap(), charge, paid, fin, token)
}

/// The genuine notification the simulator would send for refund `id` (URL, headers, body),
/// waited for until the refund has ended there.
async fn genuine(app: &TestApp, via: Via, id: i64) -> (String, reqwest::header::HeaderMap, String) {
    let sandbox = app.state.sandbox.as_ref().unwrap();
    let no = format!("RO{id:010}");
    let t0 = Instant::now();
    loop {
        let n = match via.provider {
            "alipay" => sandbox.alipay_refund_notification(&no),
            _ => sandbox.unionpay_refund_notification(&no),
        };
        if let Some(n) = n {
            return n;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "the refund ended at the provider");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether the provider counts the answer as taken: Alipay the body `success`, UnionPay HTTP 200.
fn taken(via: Via, (status, body): &(u16, String)) -> bool {
    match via.provider {
        "alipay" => *status == 200 && body == "success",
        _ => *status == 200,
    }
}

async fn a_refund_becomes_final_by_its_notification(app: TestApp, via: Via) {
    let (id, charge, paid, fin, token) = office_refund_via(&app, via).await;
    behaviour(&app, via.provider, json!({"refund": "processing", "refund_delay_s": 120})).await;
    app.run_pending_jobs().await;
    assert_eq!(refund_status(&app, &fin, id).await, "processing");
    assert_eq!(refund_rows(&app).await, 0, "nothing leaves the books while it is processing");
    // No job runs from here: only the notification can end it.
    let t0 = Instant::now();
    while refund_status(&app, &fin, id).await != "success" {
        assert!(t0.elapsed() < Duration::from_secs(10), "{}: the refund notification made it final", via.provider);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(refund_rows(&app).await, 1);
    assert_eq!(charge_paid(&app, &token, &charge["id"]).await, paid - 1000);
    // Taken as the refund's end, not as the paid trade's notification again.
    assert_eq!(count(&app, "SELECT COUNT(*) FROM notifications WHERE outcome = 'refund: success'").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM notifications WHERE outcome IN ('duplicate', 'unknown trade')").await, 0);
    app.clock.advance(10);
    app.run_pending_jobs().await;
    assert_eq!(count(&app, "SELECT COUNT(*) FROM jobs WHERE kind = 'refund' AND done_at IS NULL").await, 0);
    // The provider retrying the same end: taken, and still one refund row.
    let (url, headers, body) = genuine(&app, via, id).await;
    assert!(taken(via, &deliver(&app, &url, &headers, &body).await));
    assert_eq!(refund_rows(&app).await, 1);
    // A forged one (a signed field altered after signing) gets the provider's refusal and
    // changes nothing.
    let (from, to) = match via.provider {
        "alipay" => ("refund_fee=10.00", "refund_fee=20.00"),
        _ => ("txnAmt=1000", "txnAmt=2000"),
    };
    assert!(body.contains(from), "{body}");
    let (status, answer) = deliver(&app, &url, &headers, &body.replace(from, to)).await;
    match via.provider {
        "alipay" => assert_eq!((status, answer.as_str()), (200, "fail")),
        _ => assert_eq!(status, 500, "{answer}"),
    }
    assert_eq!(refund_status(&app, &fin, id).await, "success");
    assert_eq!(count(&app, "SELECT CAST(SUM(amount_fen) AS BIGINT) FROM ledger_entries WHERE kind = 'refund'").await, -1000);
}

async fn an_alipay_refund_becomes_final_by_its_notification(app: TestApp) {
    a_refund_becomes_final_by_its_notification(app, ALIPAY).await;
}

async fn a_unionpay_refund_becomes_final_by_its_notification(app: TestApp) {
    a_refund_becomes_final_by_its_notification(app, UNIONPAY).await;
}

async fn a_refund_notification_racing_the_query_moves_the_money_once(app: TestApp, via: Via) {
    let (id, charge, paid, fin, token) = office_refund_via(&app, via).await;
    // The simulator ends the refund soon but sends nothing itself: the test delivers its
    // notification, three times, while the refund job asks the provider at the same moment.
    behaviour(&app, via.provider, json!({"refund": "processing", "refund_delay_s": 30, "notify": "lost"})).await;
    app.run_pending_jobs().await;
    assert_eq!(refund_status(&app, &fin, id).await, "processing");
    let (url, headers, body) = genuine(&app, via, id).await;
    app.clock.advance(3);
    let (_, a, b, c) = tokio::join!(
        app.run_pending_jobs(),
        deliver(&app, &url, &headers, &body),
        deliver(&app, &url, &headers, &body),
        deliver(&app, &url, &headers, &body)
    );
    assert!([&a, &b, &c].iter().all(|r| taken(via, r)), "{a:?} {b:?} {c:?}");
    app.run_pending_jobs().await;
    assert_eq!(refund_status(&app, &fin, id).await, "success");
    assert_eq!(refund_rows(&app).await, 1, "one refund row, however the two raced");
    assert_eq!(charge_paid(&app, &token, &charge["id"]).await, paid - 1000);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM refunds WHERE status = 'success'").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM receipts WHERE kind = 'red_letter'").await, 1);
}

async fn an_alipay_refund_notification_racing_the_query_moves_the_money_once(app: TestApp) {
    a_refund_notification_racing_the_query_moves_the_money_once(app, ALIPAY).await;
}

async fn a_unionpay_refund_notification_racing_the_query_moves_the_money_once(app: TestApp) {
    a_refund_notification_racing_the_query_moves_the_money_once(app, UNIONPAY).await;
}

async fn an_alipay_refund_of_late_money_becomes_final_by_its_notification(app: TestApp) {
    // Money for a cancelled order: qdou refunds it whole, so Alipay's notification is the
    // whole-refund one (TRADE_CLOSED with gmt_close, refund_fee = the trade's amount).
    let token = app.session("qdou", ALIPAY.student).await;
    let (_, o) = new_order(&app, &token).await;
    let no = o["order_no"].as_str().unwrap();
    let p = pay(&app, &token, no, ALIPAY.channel).await;
    let (status, c) = app.post_json(&format!("/api/v1/student/orders/{no}/cancel"), json!({}), Some(&token)).await;
    assert_eq!(status, 200, "{c}");
    behaviour(&app, "alipay", json!({"accept_after_close": true, "refund": "processing", "refund_delay_s": 120})).await;
    assert_eq!(provider_pays(&app, ALIPAY.channel, p["out_trade_no"].as_str().unwrap()).await, 200);
    // The late payment's notification queues the refund; one job run sends it: processing.
    let t0 = Instant::now();
    while count(&app, "SELECT COUNT(*) FROM refunds WHERE status = 'processing'").await != 1 {
        assert!(t0.elapsed() < Duration::from_secs(5), "the late money's refund was sent");
        app.run_pending_jobs().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // No job runs from here: only the notification can end it.
    let t0 = Instant::now();
    while count(&app, "SELECT COUNT(*) FROM refunds WHERE status = 'success'").await != 1 {
        assert!(t0.elapsed() < Duration::from_secs(10), "the refund notification made it final");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sql = "SELECT COUNT(*) FROM ledger_entries WHERE kind = 'refund' AND charge_id IS NULL";
    assert_eq!(count(&app, sql).await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM notifications WHERE outcome = 'refund: success'").await, 1);
    // Alipay retrying it: taken, nothing more.
    let out_refund_no: String = sqlx::query_scalar("SELECT out_refund_no FROM refunds").fetch_one(app.store.pool()).await.unwrap();
    let sandbox = app.state.sandbox.as_ref().unwrap();
    let (url, headers, body) = sandbox.alipay_refund_notification(&out_refund_no).expect("the refund has ended");
    assert!(body.contains("trade_status=TRADE_CLOSED") && body.contains("gmt_close="), "{body}");
    assert!(taken(ALIPAY, &deliver(&app, &url, &headers, &body).await));
    assert_eq!(count(&app, sql).await, 1);
}
