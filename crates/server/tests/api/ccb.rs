//! CCB 龙支付 at czie (seed 003), on SQLite and PostgreSQL: the 520100 form posted to the
//! simulated gateway, paid at its cashier, settled by the signed notification (or, lost, by the
//! 410408 query); forged notifications refused; office refunds through the simulated 外联平台
//! (5W1004 over TCP), done or failed in its answer.

use crate::common::TestApp;
use crate::office_money::{charge_paid, finance, refund_rows, run_until, staff};
use crate::payments::{behaviour, count, new_order, pay, provider_pays};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

on_both_databases!(
    ccb_pays_end_to_end_and_a_duplicate_notification_counts_once,
    a_forged_ccb_notification_is_refused_and_changes_nothing,
    a_lost_ccb_notification_is_made_good_by_the_410408_query,
    an_office_refund_goes_through_the_ebs_and_is_done_in_its_answer,
    a_refund_the_ebs_refuses_fails_and_moves_no_money,
    a_ccb_statement_upload_is_refused_as_unreadable_and_changes_nothing,
);

/// czie, opened all day by its admin through the office API (its 8:00–22:00 would make the
/// test depend on the hour), and a student of it with the profile seed 003 requires.
async fn czie_student(app: &TestApp) -> String {
    let admin = staff(app, "czie", "admin", "Admin#2026").await;
    let (status, school) = app.get_json("/api/v1/office/school/policy", Some(&admin)).await;
    assert_eq!(status, 200, "{school}");
    let mut policy = school["policy"].clone();
    assert!(policy["channels"].as_array().unwrap().iter().any(|c| c == "ccb_pay"), "czie offers 建行龙支付: {policy}");
    policy["opening_hours"] = Value::Null;
    let (status, v) = app.post_json("/api/v1/office/school/policy", policy, Some(&admin)).await;
    assert_eq!(status, 204, "{v}");
    let token = app.session("czie", "20230001").await;
    let res = app
        .http
        .put(app.url("/api/v1/student/profile"))
        .bearer_auth(&token)
        .json(&json!({"phone": "15100008891", "email": "zhang@example.com"}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "profile: {}", res.status());
    token
}

/// An order of the student's first owed charge, posted to CCB's gateway: (charge, order no,
/// the pay answer).
async fn ccb_order(app: &TestApp, token: &str) -> (Value, String, Value) {
    let (charge, order) = new_order(app, token).await;
    let no = order["order_no"].as_str().unwrap().to_string();
    let p = pay(app, token, &no, "ccb_pay").await;
    assert_eq!(p["kind"], "form", "{p}");
    assert!(p["form_action"].as_str().unwrap().ends_with("/sandbox/ccb/ccbMain"), "{p}");
    assert_eq!(p["form_fields"]["TXCODE"], "520100");
    assert!(p["form_fields"].get("PUB").is_none(), "PUB is never sent");
    (charge, no, p)
}

async fn wait_paid(app: &TestApp, token: &str, no: &str) {
    let t0 = Instant::now();
    while app.get_json(&format!("/api/v1/student/orders/{no}"), Some(token)).await.1["status"] != "paid" {
        assert!(t0.elapsed() < Duration::from_secs(10), "{no} paid within 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn ccb_payments(app: &TestApp) -> i64 {
    count(app, "SELECT COUNT(*) FROM provider_payments WHERE provider = 'ccb'").await
}

async fn ccb_pays_end_to_end_and_a_duplicate_notification_counts_once(app: TestApp) {
    let token = czie_student(&app).await;
    behaviour(&app, "ccb", json!({"notify": "duplicate"})).await;
    let (charge, no, p) = ccb_order(&app, &token).await;
    let before = charge_paid(&app, &token, &charge["id"]).await;
    let out_trade_no = p["out_trade_no"].as_str().unwrap();
    assert_eq!(provider_pays(&app, "ccb_pay", out_trade_no).await, 200);
    wait_paid(&app, &token, &no).await;
    // Both copies arrive and are answered 200; the money is applied once.
    let t0 = Instant::now();
    while count(&app, "SELECT COUNT(*) FROM notifications WHERE provider = 'ccb'").await < 2 {
        assert!(t0.elapsed() < Duration::from_secs(10), "both notifications arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(ccb_payments(&app).await, 1);
    let trade = app.state.sandbox.as_ref().unwrap().trade(campuspay_domain::payment::Provider::Ccb, out_trade_no).unwrap();
    assert!(trade.notifications.iter().all(|n| n.acknowledged), "{:?}", trade.notifications);
    let after = charge_paid(&app, &token, &charge["id"]).await;
    assert!(after > before, "the charge took the payment once: {before} → {after}");
    assert_eq!(
        count(&app, "SELECT CAST(SUM(amount_fen) AS BIGINT) FROM ledger_entries WHERE kind = 'payment'").await,
        count(&app, "SELECT CAST(SUM(amount_fen) AS BIGINT) FROM provider_payments WHERE provider = 'ccb'").await,
    );
    // The payer's way back (CCB's 商户URL with the signed fields) leads to the order page.
    let back = app.http.get(app.url(&format!("/s/czie/ccb/return?POSID=1&ORDERID={out_trade_no}&SUCCESS=Y"))).send().await.unwrap();
    assert_eq!(back.headers()["location"], format!("/s/czie/orders/{no}"));
}

async fn a_forged_ccb_notification_is_refused_and_changes_nothing(app: TestApp) {
    let token = czie_student(&app).await;
    behaviour(&app, "ccb", json!({"notify": "lost"})).await;
    let (_, no, p) = ccb_order(&app, &token).await;
    let out_trade_no = p["out_trade_no"].as_str().unwrap();
    let pos = p["form_fields"]["POSID"].as_str().unwrap();
    let branch = p["form_fields"]["BRANCHID"].as_str().unwrap();
    let amount = p["form_fields"]["PAYMENT"].as_str().unwrap();
    let fields = [
        ("POSID", pos),
        ("BRANCHID", branch),
        ("ORDERID", out_trade_no),
        ("PAYMENT", amount),
        ("CURCODE", "01"),
        ("REMARK1", ""),
        ("REMARK2", ""),
        ("ACC_TYPE", "30"),
        ("SUCCESS", "Y"),
        ("TYPE", "1"),
        ("REFERER", ""),
        ("CLIENTIP", ""),
        ("ACCDATE", "20261204"),
    ];
    for sign in ["", &"ab".repeat(128)] {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("SIGN", sign));
        let res = app.http.post(app.url("/notify/ccb/czie")).form(&form).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 500, "a forged notification gets the refusal CCB retries");
    }
    assert_eq!(ccb_payments(&app).await, 0);
    assert_eq!(app.get_json(&format!("/api/v1/student/orders/{no}"), Some(&token)).await.1["status"], "unpaid");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM ledger_entries WHERE kind = 'payment'").await, 0);
}

async fn a_lost_ccb_notification_is_made_good_by_the_410408_query(app: TestApp) {
    let token = czie_student(&app).await;
    behaviour(&app, "ccb", json!({"notify": "lost"})).await;
    let (_, no, p) = ccb_order(&app, &token).await;
    // Not paid yet: the query finds no record, and nothing changes.
    app.clock.advance(5);
    app.run_pending_jobs().await;
    assert_eq!(app.get_json(&format!("/api/v1/student/orders/{no}"), Some(&token)).await.1["status"], "unpaid");
    assert_eq!(provider_pays(&app, "ccb_pay", p["out_trade_no"].as_str().unwrap()).await, 200);
    let t0 = Instant::now();
    while app.get_json(&format!("/api/v1/student/orders/{no}"), Some(&token)).await.1["status"] != "paid" {
        assert!(t0.elapsed() < Duration::from_secs(10), "the query settled it");
        app.clock.advance(30);
        app.run_pending_jobs().await;
    }
    assert_eq!(ccb_payments(&app).await, 1);
}

/// A paid CCB order of czie and an office refund of 1000 fen of it: (refund id, charge, paid
/// before, finance token, student token).
async fn paid_and_refunding(app: &TestApp) -> (i64, Value, i64, String, String) {
    let token = czie_student(app).await;
    let (charge, no, p) = ccb_order(app, &token).await;
    assert_eq!(provider_pays(app, "ccb_pay", p["out_trade_no"].as_str().unwrap()).await, 200);
    wait_paid(app, &token, &no).await;
    let paid = charge_paid(app, &token, &charge["id"]).await;
    let fin = finance(app, "czie").await;
    let body = json!({"order_no": no, "lines": [{"charge_id": charge["id"], "amount_fen": 1000}], "reason": "退学退费"});
    let (status, r) = app.post_json("/api/v1/office/refunds", body, Some(&fin)).await;
    assert_eq!(status, 201, "{r}");
    (r["id"].as_i64().unwrap(), charge, paid, fin, token)
}

async fn an_office_refund_goes_through_the_ebs_and_is_done_in_its_answer(app: TestApp) {
    let (id, charge, paid, fin, token) = paid_and_refunding(&app).await;
    run_until(&app, &fin, id, "success").await;
    assert_eq!(refund_rows(&app).await, 1);
    assert_eq!(charge_paid(&app, &token, &charge["id"]).await, paid - 1000);
    // The 外联平台 booked exactly this refund against the trade.
    let sandbox = app.state.sandbox.as_ref().unwrap();
    let no: String = sqlx::query_scalar("SELECT out_trade_no FROM pay_attempts WHERE channel = 'ccb_pay' AND status = 'paid'")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    let trade = sandbox.trade(campuspay_domain::payment::Provider::Ccb, &no).unwrap();
    assert_eq!(trade.refunds.iter().map(|r| r.amount.0).collect::<Vec<_>>(), vec![1000]);
    app.clock.advance(60);
    app.run_pending_jobs().await;
    assert_eq!(sandbox.trade(campuspay_domain::payment::Provider::Ccb, &no).unwrap().refunds.len(), 1, "never sent twice");
}

async fn a_refund_the_ebs_refuses_fails_and_moves_no_money(app: TestApp) {
    behaviour(&app, "ccb", json!({"refund": "fail"})).await;
    let (id, charge, paid, fin, token) = paid_and_refunding(&app).await;
    run_until(&app, &fin, id, "failed").await;
    assert_eq!(refund_rows(&app).await, 0);
    assert_eq!(charge_paid(&app, &token, &charge["id"]).await, paid);
}

async fn a_ccb_statement_upload_is_refused_as_unreadable_and_changes_nothing(app: TestApp) {
    let fin = finance(&app, "czie").await;
    let before = count(&app, "SELECT COUNT(*) FROM reconciliations").await + count(&app, "SELECT COUNT(*) FROM statement_imports").await;
    let form = reqwest::multipart::Form::new()
        .text("provider", "ccb")
        .text("date", "2026-12-01")
        .part("file", reqwest::multipart::Part::bytes(b"PK\x03\x04".to_vec()).file_name("SHOP.20261201.zip"));
    let res = app.http.post(app.url("/api/v1/office/reconciliation/import")).bearer_auth(&fin).multipart(form).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 422);
    let body: Value = res.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("格式未公开"), "{body}");
    let after = count(&app, "SELECT COUNT(*) FROM reconciliations").await + count(&app, "SELECT COUNT(*) FROM statement_imports").await;
    assert_eq!(before, after);
}
