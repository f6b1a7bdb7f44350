//! A WeChat refund ends as the platform ends it: `PROCESSING` first, then a `REFUND.*`
//! notification to our notify URL, which makes the refund final — once, however it races the
//! refund job's own asking; a forged one gets WeChat's refusal. Over real HTTP, on both
//! databases, through the provider simulator.

use crate::common::TestApp;
use crate::office_money::{charge_paid, finance, paid_order, refund_rows, refund_status, sandbox_trade_of};
use crate::payments::{behaviour, count};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

on_both_databases!(
    a_processing_refund_becomes_final_by_the_providers_notification,
    a_refund_notification_racing_the_refund_query_moves_the_money_once,
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
