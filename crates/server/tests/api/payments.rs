//! Paying through the real WeChat Pay and Alipay protocols against the built-in simulator,
//! on SQLite and PostgreSQL: every channel, every behaviour of the provider, races, forged
//! and late notifications. Nothing may be lost or counted twice.

use crate::common;

use campuspay_app::jobs::{self, Job, Queue};
use common::TestApp;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

on_both_databases!(
    every_channel_pays_and_shows_paid,
    duplicate_delayed_reordered_notifications_count_once,
    lost_or_forged_notifications_are_made_good_by_query,
    a_declined_payment_leaves_the_order_unpaid,
    racing_orders_for_one_charge_make_one_order,
    a_forged_notification_changes_nothing,
    switching_channel_closes_the_old_trade,
    money_after_close_is_refunded_or_credited,
    expired_orders_close_and_free_their_charges,
    another_students_order_is_not_found,
    two_instances_apply_each_payment_once,
    an_unknown_order_status_is_refused_not_taken_for_unpaid,
    an_office_policy_change_reaches_the_next_order_at_once,
);

pub(crate) fn provider_of(channel: &str) -> &'static str {
    match channel.split('_').next() {
        Some("wechat") => "wechatpay",
        Some("alipay") => "alipay",
        Some("ccb") => "ccb",
        Some("allinpay") => "allinpay",
        _ => "unionpay",
    }
}

pub(crate) async fn owed(app: &TestApp, token: &str) -> Vec<Value> {
    let (_, c) = app.get_json("/api/v1/student/charges", Some(token)).await;
    c["charges"].as_array().unwrap().iter().filter(|c| c["arrears_fen"].as_i64().unwrap() > 0).cloned().collect()
}

/// An order for the first owed charge the cart rules accept on its own.
pub(crate) async fn new_order(app: &TestApp, token: &str) -> (Value, Value) {
    for c in owed(app, token).await {
        let (status, o) = app.post_json("/api/v1/student/orders", json!({"charges": [{"id": c["id"]}]}), Some(token)).await;
        if status == 201 {
            return (c, o);
        }
    }
    panic!("no single owed charge could be ordered");
}

pub(crate) async fn pay(app: &TestApp, token: &str, order_no: &str, channel: &str) -> Value {
    let body = json!({"channel": channel, "openid": "oSandboxPayer0001"});
    let (status, p) = app.post_json(&format!("/api/v1/student/orders/{order_no}/pay"), body, Some(token)).await;
    assert_eq!(status, 200, "pay {channel}: {p}");
    if p["kind"] == "redirect" {
        // Page and wap pay: the browser goes to the provider's cashier, which opens the trade.
        let url = p["redirect_url"].as_str().unwrap();
        let res = reqwest::Client::new().get(url).send().await.unwrap();
        assert!(res.status().is_success(), "cashier {url}: {}", res.status());
    }
    if p["kind"] == "qr" && p["qr_content"].as_str().is_some_and(|c| c.contains("/h5unionpay/unionorder")) {
        // 通联's code: the payer's phone opens the cashier it carries, which opens the trade.
        let res = reqwest::Client::new().get(p["qr_content"].as_str().unwrap()).send().await.unwrap();
        assert!(res.status().is_success(), "通联 cashier: {}", res.status());
    }
    if p["kind"] == "form" {
        // UnionPay's gateway: the browser posts the signed form to the provider.
        let fields: std::collections::BTreeMap<String, String> = serde_json::from_value(p["form_fields"].clone()).unwrap();
        let res = reqwest::Client::new().post(p["form_action"].as_str().unwrap()).form(&fields).send().await.unwrap();
        assert!(res.status().is_success(), "UnionPay front request: {}", res.status());
    }
    p
}

pub(crate) async fn provider_pays(app: &TestApp, channel: &str, out_trade_no: &str) -> u16 {
    app.http.post(app.url(&format!("/sandbox/{}/orders/{out_trade_no}/pay", provider_of(channel)))).send().await.unwrap().status().as_u16()
}

pub(crate) async fn behaviour(app: &TestApp, provider: &str, b: Value) {
    let res = app.http.put(app.url(&format!("/sandbox/{provider}/behaviour"))).json(&b).send().await.unwrap();
    assert!(res.status().is_success());
}

pub(crate) async fn order_status(app: &TestApp, token: &str, order_no: &str) -> String {
    app.get_json(&format!("/api/v1/student/orders/{order_no}"), Some(token)).await.1["status"].as_str().unwrap().to_string()
}

async fn wait_for(app: &TestApp, token: &str, order_no: &str, want: &str, within: Duration) -> Option<Duration> {
    let t0 = Instant::now();
    while t0.elapsed() < within {
        if order_status(app, token, order_no).await == want {
            return Some(t0.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

pub(crate) async fn count(app: &TestApp, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(app.store.pool()).await.unwrap()
}

/// Moves the jobs' clock past the order's deadline as it was made (its expiry job's time).
async fn past_deadline(app: &TestApp, order_no: &str) {
    let due: i64 =
        sqlx::query_scalar("SELECT expires_at FROM orders WHERE order_no = $1").bind(order_no).fetch_one(app.store.pool()).await.unwrap();
    app.clock.advance((due - app.state.ctx.clock.now() + 1).max(0));
}

/// Money is never created or lost: every charge's paid amount equals its ledger rows, and
/// every applied provider payment equals the ledger rows it wrote.
async fn assert_books_balance(app: &TestApp) {
    let applied =
        count(app, "SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) FROM provider_payments WHERE disposition = 'applied'").await;
    let paid = count(app, "SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) FROM ledger_entries WHERE kind = 'payment'").await;
    assert_eq!(applied, paid, "applied provider money equals payment ledger rows");
    let orders_paid = count(app, "SELECT CAST(COALESCE(SUM(total_fen), 0) AS BIGINT) FROM orders WHERE status = 'paid'").await;
    assert_eq!(orders_paid, applied, "each paid order took exactly one payment of its total");
}

async fn every_channel_pays_and_shows_paid(app: TestApp) {
    let cases = [
        ("qdou", "20230001", "wechat_native"),
        ("qdou", "20230001", "wechat_h5"),
        ("qdou", "20230001", "wechat_jsapi"),
        ("qdou", "20230001", "alipay_qr"),
        ("qdou", "20230003", "alipay_wap"),
        ("ejt", "20230001", "alipay_page"),
        ("qdou", "20230003", "unionpay_qr"),
        ("cqjzc", "20230001", "unionpay_gateway"),
        ("qdou", "20230003", "allinpay_qr"),
        ("ejt", "20230001", "allinpay_qr"),
    ];
    for (school, student, channel) in cases {
        let token = app.session(school, student).await;
        let (charge, order) = new_order(&app, &token).await;
        let no = order["order_no"].as_str().unwrap();
        assert_eq!(order["status"], "unpaid");
        let p = pay(&app, &token, no, channel).await;
        assert!(!p["payee"].as_str().unwrap().is_empty(), "payee shown");
        if p["kind"] == "qr" {
            assert!(p["qr_svg"].as_str().unwrap().starts_with("<?xml") || p["qr_svg"].as_str().unwrap().contains("<svg"));
        }
        assert_eq!(provider_pays(&app, channel, p["out_trade_no"].as_str().unwrap()).await, 200);
        assert!(wait_for(&app, &token, no, "paid", Duration::from_secs(5)).await.is_some(), "{school} {channel} paid within 5 s");
        let after: Vec<Value> = owed(&app, &token).await;
        assert!(after.iter().all(|c| c["id"] != charge["id"]), "{channel}: the charge is no longer owed");
        let (_, records) = app.get_json("/api/v1/student/payments", Some(&token)).await;
        assert!(records["payments"].as_array().unwrap().iter().any(|r| r["order_no"] == no && r["channel"] == channel));
    }
    // Seed 000's order numbers are 30 digits; seed 004-style numbers are prefix+date+code+sequence.
    let token = app.session("qdou", "20230003").await;
    let (_, o) = new_order(&app, &token).await;
    let no = o["order_no"].as_str().unwrap();
    assert!(no.len() == 30 && no.bytes().all(|b| b.is_ascii_digit()), "{no}");
    let token = app.session("lut", "20230003").await;
    let (_, o) = new_order(&app, &token).await;
    let no = o["order_no"].as_str().unwrap();
    assert!(no.len() == 19 && no.starts_with("XF") && no[8..13] == *"LUTAU", "{no}");
    assert_books_balance(&app).await;
}

async fn duplicate_delayed_reordered_notifications_count_once(app: TestApp) {
    let token = app.session("qdou", "20230001").await;
    for (mode, channel) in [("duplicate", "wechat_native"), ("delay", "alipay_qr"), ("reorder", "wechat_native"), ("reorder", "alipay_qr")]
    {
        behaviour(&app, provider_of(channel), json!({"notify": mode, "delay_s": 30})).await;
        let (_, o) = new_order(&app, &token).await;
        let no = o["order_no"].as_str().unwrap();
        let p = pay(&app, &token, no, channel).await;
        provider_pays(&app, channel, p["out_trade_no"].as_str().unwrap()).await;
        assert!(wait_for(&app, &token, no, "paid", Duration::from_secs(8)).await.is_some(), "{mode} {channel}");
        behaviour(&app, provider_of(channel), json!({"notify": "normal"})).await;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (_, records) = app.get_json("/api/v1/student/payments", Some(&token)).await;
    assert_eq!(records["payments"].as_array().unwrap().len(), 4, "four orders, four records, whatever the notifications did");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM provider_payments").await, 4);
    assert!(count(&app, "SELECT COUNT(*) FROM notifications WHERE outcome = 'duplicate'").await >= 1);
    // Every kept notification says what became of it, the applied ones written with their
    // settlement in one transaction.
    assert!(count(&app, "SELECT COUNT(*) FROM notifications WHERE outcome = 'applied'").await >= 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM notifications WHERE outcome IS NULL OR outcome = ''").await, 0);
    assert_books_balance(&app).await;
}

async fn lost_or_forged_notifications_are_made_good_by_query(app: TestApp) {
    let token = app.session("qdou", "20230001").await;
    for (mode, channel) in [("lost", "alipay_qr"), ("forge", "wechat_native")] {
        behaviour(&app, provider_of(channel), json!({"notify": mode})).await;
        let (_, o) = new_order(&app, &token).await;
        let no = o["order_no"].as_str().unwrap();
        let p = pay(&app, &token, no, channel).await;
        provider_pays(&app, channel, p["out_trade_no"].as_str().unwrap()).await;
        // The provider query is due 3 s after paying started.
        app.clock.advance(3);
        app.run_pending_jobs().await;
        let took = wait_for(&app, &token, no, "paid", Duration::from_secs(12)).await;
        assert!(took.is_some(), "{mode}: shown paid by querying the provider");
        behaviour(&app, provider_of(channel), json!({"notify": "normal"})).await;
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM provider_payments WHERE source = 'query'").await, 2);
    assert!(count(&app, "SELECT COUNT(*) FROM notifications WHERE outcome LIKE 'rejected%'").await >= 1, "forged ones kept and refused");
    assert_books_balance(&app).await;
}

async fn a_declined_payment_leaves_the_order_unpaid(app: TestApp) {
    let token = app.session("qdou", "20230001").await;
    behaviour(&app, "wechatpay", json!({"decline": true})).await;
    let (_, o) = new_order(&app, &token).await;
    let no = o["order_no"].as_str().unwrap();
    let p = pay(&app, &token, no, "wechat_native").await;
    assert_eq!(provider_pays(&app, "wechat_native", p["out_trade_no"].as_str().unwrap()).await, 402);
    // The provider query comes and finds nothing paid.
    app.clock.advance(3);
    assert!(app.run_pending_jobs().await >= 1);
    assert_eq!(order_status(&app, &token, no).await, "unpaid");
    behaviour(&app, "wechatpay", json!({"decline": false})).await;
    // The student tries again and it goes through.
    provider_pays(&app, "wechat_native", p["out_trade_no"].as_str().unwrap()).await;
    assert!(wait_for(&app, &token, no, "paid", Duration::from_secs(5)).await.is_some());
}

async fn racing_orders_for_one_charge_make_one_order(app: TestApp) {
    let token = app.session("qdou", "20230001").await;
    let charge = owed(&app, &token).await[0]["id"].clone();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (http, url, token) = (app.http.clone(), app.url("/api/v1/student/orders"), token.clone());
        let body = json!({"charges": [{"id": charge}]});
        tasks.push(tokio::spawn(async move { http.post(url).bearer_auth(token).json(&body).send().await.unwrap().status().as_u16() }));
    }
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    codes.sort();
    assert_eq!(codes.iter().filter(|c| **c == 201).count(), 1, "{codes:?}");
    assert!(codes.iter().all(|c| *c == 201 || *c == 409), "{codes:?}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM order_lines WHERE live = 1").await, 1);
    // The 409 says which order holds the charge.
    let (status, v) = app.post_json("/api/v1/student/orders", json!({"charges": [{"id": charge}]}), Some(&token)).await;
    assert_eq!(status, 409);
    assert!(v["error"]["message"].as_str().unwrap().contains("请勿重复缴费"), "{v}");
    // Seed 004 offers the unpaid order again instead.
    let lut = app.session("lut", "20230001").await;
    let c = owed(&app, &lut).await.into_iter().find(|c| c["collecting"] == true).unwrap();
    let (s1, o1) = app.post_json("/api/v1/student/orders", json!({"charges": [{"id": c["id"]}]}), Some(&lut)).await;
    let (s2, o2) = app.post_json("/api/v1/student/orders", json!({"charges": [{"id": c["id"]}]}), Some(&lut)).await;
    assert_eq!((s1, s2), (201, 200));
    assert_eq!(o1["order_no"], o2["order_no"]);
    assert_eq!(o2["reused"], true);
}

async fn a_forged_notification_changes_nothing(app: TestApp) {
    let token = app.session("qdou", "20230001").await;
    let (_, o) = new_order(&app, &token).await;
    let no = o["order_no"].as_str().unwrap();
    let p = pay(&app, &token, no, "alipay_qr").await;
    let out = p["out_trade_no"].as_str().unwrap();
    // A well-formed Alipay notification with a made-up signature.
    let form = [
        ("notify_id", "forged"),
        ("app_id", "2021000000000000"),
        ("out_trade_no", out),
        ("trade_no", "2026112522001400000000000001"),
        ("trade_status", "TRADE_SUCCESS"),
        ("total_amount", "2400.00"),
        ("sign_type", "RSA2"),
        ("sign", "Zm9yZ2Vk"),
    ];
    for path in ["/notify/alipay/qdou", "/notify/alipay"] {
        let res = app.http.post(app.url(path)).form(&form).send().await.unwrap();
        assert!(res.status().as_u16() >= 400 || res.text().await.unwrap() != "success", "{path} accepted a forgery");
    }
    let res = app
        .http
        .post(app.url("/notify/wechatpay/qdou"))
        .header("wechatpay-signature", "Zm9yZ2Vk")
        .header("wechatpay-timestamp", "1")
        .header("wechatpay-nonce", "n")
        .header("wechatpay-serial", "s")
        .body(r#"{"id":"x","resource":{"ciphertext":"x","nonce":"x","associated_data":"x"}}"#)
        .send()
        .await
        .unwrap();
    assert!(res.status().as_u16() >= 400);
    assert_eq!(order_status(&app, &token, no).await, "unpaid");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM provider_payments").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM notifications WHERE outcome LIKE 'rejected%'").await, 3);
}

async fn switching_channel_closes_the_old_trade(app: TestApp) {
    let token = app.session("qdou", "20230001").await;
    let (_, o) = new_order(&app, &token).await;
    let no = o["order_no"].as_str().unwrap();
    let first = pay(&app, &token, no, "wechat_native").await;
    // A double click gives the same trade and QR code.
    let again = pay(&app, &token, no, "wechat_native").await;
    assert_eq!(first["out_trade_no"], again["out_trade_no"]);
    let second = pay(&app, &token, no, "alipay_qr").await;
    assert_ne!(first["out_trade_no"], second["out_trade_no"], "a new trade number for a new channel");
    let t0 = Instant::now();
    let old = first["out_trade_no"].as_str().unwrap();
    loop {
        app.run_pending_jobs().await;
        let trade: Value = app.http.get(app.url(&format!("/sandbox/wechatpay/orders/{old}"))).send().await.unwrap().json().await.unwrap();
        if trade.to_string().contains("closed") {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(5), "old trade closed at the provider: {trade}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(provider_pays(&app, "wechat_native", old).await, 409, "the closed trade takes no money");
    provider_pays(&app, "alipay_qr", second["out_trade_no"].as_str().unwrap()).await;
    assert!(wait_for(&app, &token, no, "paid", Duration::from_secs(5)).await.is_some());
}

async fn money_after_close_is_refunded_or_credited(app: TestApp) {
    // qdou refunds late money (the default); lut is set to credit it to the balance.
    let lut = app.store.school_by_code("lut").await.unwrap().unwrap();
    let mut policy = lut.policy.clone();
    policy.late_payment = campuspay_domain::policy::LatePayment::Credit;
    sqlx::query("UPDATE schools SET policy = $1 WHERE id = $2")
        .bind(serde_json::to_string(&policy).unwrap())
        .bind(lut.id)
        .execute(app.store.pool())
        .await
        .unwrap();
    // Changed behind the office's back: the copy this instance keeps is dropped by hand.
    app.state.ctx.schools.forget(lut.id);
    for (school, expect) in [("qdou", "refund"), ("lut", "credit")] {
        let token = app.session(school, "20230001").await;
        let owed_before = owed(&app, &token).await;
        let (_, o) = new_order(&app, &token).await;
        let no = o["order_no"].as_str().unwrap();
        let p = pay(&app, &token, no, "wechat_native").await;
        let (status, c) = app.post_json(&format!("/api/v1/student/orders/{no}/cancel"), json!({}), Some(&token)).await;
        assert_eq!((status, c["status"].as_str()), (200, Some("cancelled")), "{c}");
        behaviour(&app, "wechatpay", json!({"accept_after_close": true})).await;
        assert_eq!(provider_pays(&app, "wechat_native", p["out_trade_no"].as_str().unwrap()).await, 200);
        behaviour(&app, "wechatpay", json!({"accept_after_close": false})).await;
        let t0 = Instant::now();
        loop {
            // The notification settles (not applied) and queues the refund; run it.
            app.run_pending_jobs().await;
            let (_, t) = app.get_json("/api/v1/student/transactions", Some(&token)).await;
            let txs = t["transactions"].as_array().unwrap();
            let done = txs
                .iter()
                .any(|x| x["order_no"] == no && x["disposition"] == expect && (expect == "credit" || x["refund_status"] == "success"));
            if done {
                if expect == "credit" {
                    assert_eq!(t["balance_fen"].as_i64().unwrap(), o["total_fen"].as_i64().unwrap(), "credited to the balance");
                }
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(8), "{school}: late money {expect}: {t}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(order_status(&app, &token, no).await, "cancelled");
        assert_eq!(owed(&app, &token).await.len(), owed_before.len(), "the charge is still owed: late money is not applied");
    }
    // lut's student now has a balance: it pays a small charge whole, and part of a large one.
    let token = app.session("lut", "20230001").await;
    let (_, t) = app.get_json("/api/v1/student/transactions", Some(&token)).await;
    let balance = t["balance_fen"].as_i64().unwrap();
    let mut charges = owed(&app, &token).await.into_iter().filter(|c| c["collecting"] == true).collect::<Vec<_>>();
    charges.sort_by_key(|c| c["arrears_fen"].as_i64().unwrap());
    let (small, large) = (charges[0].clone(), charges[charges.len() - 1].clone());
    assert!(small["arrears_fen"].as_i64().unwrap() < balance);
    let (status, o) =
        app.post_json("/api/v1/student/orders", json!({"charges": [{"id": small["id"]}], "use_balance": true}), Some(&token)).await;
    assert_eq!(status, 201, "{o}");
    assert_eq!((o["status"].as_str(), o["total_fen"].as_i64()), (Some("paid"), Some(0)), "the balance paid it all: {o}");
    let left = balance - small["arrears_fen"].as_i64().unwrap();
    let (_, t) = app.get_json("/api/v1/student/transactions", Some(&token)).await;
    assert_eq!(t["balance_fen"].as_i64().unwrap(), left);
    let (status, o) =
        app.post_json("/api/v1/student/orders", json!({"charges": [{"id": large["id"]}], "use_balance": true}), Some(&token)).await;
    assert_eq!(status, 201, "{o}");
    assert_eq!(o["balance_fen"].as_i64().unwrap(), left.min(large["arrears_fen"].as_i64().unwrap()));
    assert_eq!(o["total_fen"].as_i64().unwrap() + o["balance_fen"].as_i64().unwrap(), large["arrears_fen"].as_i64().unwrap());
    // Cancelled: the balance comes back whole.
    let no = o["order_no"].as_str().unwrap();
    app.post_json(&format!("/api/v1/student/orders/{no}/cancel"), json!({}), Some(&token)).await;
    let (_, t) = app.get_json("/api/v1/student/transactions", Some(&token)).await;
    assert_eq!(t["balance_fen"].as_i64().unwrap(), left);
    // The finance office sees both (campuspay late-payments), and each school only its own.
    let all = app.store.unapplied_payments(None).await.unwrap();
    assert_eq!(all.iter().map(|r| (r.school_code.as_str(), r.disposition.as_str())).collect::<Vec<_>>().len(), 2);
    assert!(
        all.iter().any(|r| r.school_code == "qdou"
            && r.disposition.as_str() == "refund"
            && r.refund_status.map(|s| s.as_str()) == Some("success"))
    );
    assert!(all.iter().any(|r| r.school_code == "lut" && r.disposition.as_str() == "credit"));
    assert_eq!(app.store.unapplied_payments(Some("lut")).await.unwrap().len(), 1);
    // The refund went back through the provider, and the ledger shows it leaving.
    assert_eq!(count(&app, "SELECT COUNT(*) FROM ledger_entries WHERE kind = 'refund' AND amount_fen < 0").await, 1);
    assert_books_balance(&app).await;
}

async fn expired_orders_close_and_free_their_charges(app: TestApp) {
    let token = app.session("qdou", "20230001").await;
    let (charge, o) = new_order(&app, &token).await;
    let no = o["order_no"].as_str().unwrap();
    pay(&app, &token, no, "wechat_native").await;
    past_deadline(&app, no).await;
    app.run_pending_jobs().await;
    assert!(wait_for(&app, &token, no, "closed", Duration::from_secs(5)).await.is_some());
    let (status, v) = app.post_json("/api/v1/student/orders", json!({"charges": [{"id": charge["id"]}]}), Some(&token)).await;
    assert_eq!(status, 201, "the charge is free again: {v}");
    let (status, _) = app.post_json(&format!("/api/v1/student/orders/{no}/pay"), json!({"channel": "wechat_native"}), Some(&token)).await;
    assert_eq!(status, 409, "a closed order cannot be paid");
}

async fn another_students_order_is_not_found(app: TestApp) {
    let a = app.session("qdou", "20230001").await;
    let b = app.session("qdou", "20230003").await;
    let (_, o) = new_order(&app, &a).await;
    let no = o["order_no"].as_str().unwrap();
    assert_eq!(app.get_json(&format!("/api/v1/student/orders/{no}"), Some(&b)).await.0, 404);
    let (status, _) = app.post_json(&format!("/api/v1/student/orders/{no}/pay"), json!({"channel": "wechat_native"}), Some(&b)).await;
    assert_eq!(status, 404);
    let (status, _) = app.post_json(&format!("/api/v1/student/orders/{no}/cancel"), json!({}), Some(&b)).await;
    assert_eq!(status, 404);
    // Cart rules answer in the student's words.
    let cq = app.session("cqjzc", "20230001").await;
    let optional = owed(&app, &cq).await.into_iter().find(|c| c["mandatory"] == false).unwrap();
    let (status, v) = app.post_json("/api/v1/student/orders", json!({"charges": [{"id": optional["id"]}]}), Some(&cq)).await;
    assert_eq!(status, 422, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("必缴"), "{v}");
    let (status, v) = app.post_json("/api/v1/student/orders", json!({"charges": [{"id": 999_999}]}), Some(&cq)).await;
    assert_eq!(status, 422, "{v}");
    let (status, v) = app.post_json("/api/v1/student/orders/x/pay", json!({"channel": "bitcoin"}), Some(&cq)).await;
    assert_eq!(status, 404, "{v}");
}

async fn two_instances_apply_each_payment_once(app: TestApp) {
    let mut b = app.second_instance().await;
    let token = app.session("qdou", "20230001").await;
    // Orders made on either instance, paid, polled on both, notified to both.
    for (maker, channel) in [(&app, "wechat_native"), (&b, "alipay_qr"), (&b, "wechat_native")] {
        let (_, o) = new_order(maker, &token).await;
        let no = o["order_no"].as_str().unwrap();
        let p = pay(maker, &token, no, channel).await;
        provider_pays(&app, channel, p["out_trade_no"].as_str().unwrap()).await;
        assert!(wait_for(&app, &token, no, "paid", Duration::from_secs(8)).await.is_some());
        assert_eq!(order_status(&b, &token, no).await, "paid");
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM provider_payments").await, 3);
    // Instance b claims the due expiries and dies before finishing them; a runs them once the
    // lease is gone.
    let (_, o) = new_order(&app, &token).await;
    let no = o["order_no"].as_str().unwrap().to_string();
    past_deadline(&app, &no).await;
    let mut claimed = 0;
    while jobs::claim(&b.state.ctx, Queue::Local).await.unwrap().is_some() {
        claimed += 1;
    }
    assert!(claimed >= 1, "b holds the expiry");
    b.kill();
    app.run_pending_jobs().await;
    assert_eq!(order_status(&app, &token, &no).await, "unpaid", "the job is held by the dead instance's lease");
    app.clock.advance(campuspay_store::jobs::LEASE_S + 1);
    app.run_pending_jobs().await;
    assert!(wait_for(&app, &token, &no, "closed", Duration::from_secs(5)).await.is_some(), "no job lost");
    let closed: i64 = sqlx::query_scalar("SELECT id FROM orders WHERE status = 'closed'").fetch_one(app.store.pool()).await.unwrap();
    assert_eq!(jobs::times_done(&app.state.ctx, &Job::ExpireOrder { order_id: closed }).await.unwrap(), 1);
    assert_books_balance(&app).await;
}

on_both_databases!(statements_find_what_nobody_told_us);

async fn statements_find_what_nobody_told_us(app: TestApp) {
    let token = app.session("qdou", "20230001").await;
    let (_, o) = new_order(&app, &token).await;
    let no = o["order_no"].as_str().unwrap();
    behaviour(&app, "alipay", json!({"notify": "lost"})).await;
    let p = pay(&app, &token, no, "alipay_qr").await;
    // No notification, and no query either (no job is run): as if both failed all day.
    provider_pays(&app, "alipay_qr", p["out_trade_no"].as_str().unwrap()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let status = sqlx::query_scalar::<_, String>("SELECT status FROM orders WHERE order_no = $1")
        .bind(no)
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(status, "unpaid");
    let today = campuspay_domain::time::format_shanghai_date(campuspay_store::db_now());
    let report = campuspay_app::payment::reconcile::reconcile_day(&app.state, &today).await.unwrap();
    assert_eq!(report.settled_now.len(), 1, "{report:?}");
    assert!(report.failures.is_empty(), "{report:?}");
    assert_eq!(order_status(&app, &token, no).await, "paid");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM provider_payments WHERE source = 'statement'").await, 1);
    // A second run finds everything in the books already.
    let again = campuspay_app::payment::reconcile::reconcile_day(&app.state, &today).await.unwrap();
    assert!(again.settled_now.is_empty() && again.matched >= 1, "{again:?}");
    behaviour(&app, "alipay", json!({"notify": "normal"})).await;
    assert_books_balance(&app).await;
}

/// A status this build does not know (a future `refunding`, a hand edit) is refused wherever
/// it is read, never taken for `unpaid`: settling money for such an order fails and moves
/// nothing, and the provider's notification is left for it to retry.
async fn an_unknown_order_status_is_refused_not_taken_for_unpaid(app: TestApp) {
    use campuspay_domain::{Fen, order::PaidSource};
    use campuspay_store::StoreError;
    let token = app.session("qdou", "20230001").await;
    let (_, order) = new_order(&app, &token).await;
    let no = order["order_no"].as_str().unwrap().to_string();
    let total = Fen(order["total_fen"].as_i64().unwrap());
    let p = pay(&app, &token, &no, "wechat_native").await;
    let out_trade_no = p["out_trade_no"].as_str().unwrap().to_string();
    let attempt = app.store.attempt_by_out_trade_no(&out_trade_no).await.unwrap().unwrap();
    sqlx::query("UPDATE orders SET status = 'refunding' WHERE order_no = $1").bind(&no).execute(app.store.pool()).await.unwrap();
    let ledger = count(&app, "SELECT COUNT(*) FROM ledger_entries").await;
    let settled = count(&app, "SELECT COUNT(*) FROM provider_payments").await;

    assert!(matches!(app.store.order_by_id(attempt.order_id).await, Err(StoreError::Decode(_))));
    let paid = campuspay_app::payment::settle::settle_paid(&app.state.ctx, &attempt, "4200009999", total, "", PaidSource::Notify).await;
    assert!(paid.is_err(), "settling an order in an unknown state must fail: {paid:?}");
    // The provider's own notification (and the query job) end the same way.
    assert_eq!(provider_pays(&app, "wechat_native", &out_trade_no).await, 200);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, _) = app.get_json(&format!("/api/v1/student/orders/{no}"), Some(&token)).await;
    assert_eq!(status, 500, "the order is not shown as anything it is not");

    assert_eq!(count(&app, "SELECT COUNT(*) FROM ledger_entries").await, ledger, "no money moved");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM provider_payments").await, settled, "nothing settled");
    let stored: String =
        sqlx::query_scalar("SELECT status FROM orders WHERE order_no = $1").bind(&no).fetch_one(app.store.pool()).await.unwrap();
    assert_eq!(stored, "refunding", "the order was left as it was");
}

/// Students' paths keep their school for a few seconds (`campuspay_app::schools`); a change the
/// office saves is seen by the very next order all the same.
async fn an_office_policy_change_reaches_the_next_order_at_once(app: TestApp) {
    let token = app.session("lut", "20230001").await;
    let ttl_of = |o: &Value| (o["expires_at_unix"].as_i64().unwrap() - campuspay_store::db_now()) / 60;
    let (_, first) = new_order(&app, &token).await;
    let admin = crate::office_money::staff(&app, "lut", "admin", "Admin#2026").await;
    let (_, school) = app.get_json("/api/v1/office/school/policy", Some(&admin)).await;
    let ttl = school["policy"]["order_ttl_minutes"].as_i64().unwrap();
    assert!((ttl - 1..=ttl).contains(&ttl_of(&first)), "{first}");
    let no = first["order_no"].as_str().unwrap();
    assert_eq!(app.post_json(&format!("/api/v1/student/orders/{no}/cancel"), json!({}), Some(&token)).await.0, 200);
    let mut policy = school["policy"].clone();
    policy["order_ttl_minutes"] = json!(ttl + 37);
    assert_eq!(app.post_json("/api/v1/office/school/policy", policy, Some(&admin)).await.0, 204);
    let (_, second) = new_order(&app, &token).await;
    assert!((ttl + 36..=ttl + 37).contains(&ttl_of(&second)), "the old policy's expiry: {second}");
}
