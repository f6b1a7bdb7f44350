//! 通联收银宝, the aggregated code (聚合支付) of `qdou` and `ejt`, through the real adapter and
//! the simulator on both databases: one code any wallet pays, the signed notification applied
//! once however often it comes, a forged one refused with 通联's refusal, and office refunds
//! ending as the provider ends them (instant, processing, fail).

use crate::common;
use crate::office_money::{charge_paid, finance, refund_rows, refund_status, run_until, sandbox_trade_of};
use crate::payments::{behaviour, count, new_order, order_status, pay};
use common::TestApp;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

on_both_databases!(
    the_code_pays_in_any_wallet_and_a_repeated_notification_counts_once,
    a_forged_allinpay_notification_is_refused_and_changes_nothing,
    office_refunds_through_allinpay_end_as_the_provider_ends_them,
    an_allinpay_merchant_is_sealed_checked_by_its_fields_and_pays,
);

/// The payer picks `wallet` at 通联's cashier and pays.
async fn pays_with(app: &TestApp, out_trade_no: &str, wallet: &str) -> u16 {
    let url = app.url(&format!("/sandbox/allinpay/orders/{out_trade_no}/pay?wallet={wallet}"));
    app.http.post(url).send().await.unwrap().status().as_u16()
}

async fn until_paid(app: &TestApp, token: &str, no: &str) {
    let t0 = Instant::now();
    while order_status(app, token, no).await != "paid" {
        assert!(t0.elapsed() < Duration::from_secs(5), "{no} paid within 5 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A paid 通联 order of `student` at `school`: (charge, order no).
async fn paid_by_allinpay(app: &TestApp, school: &str, student: &str, wallet: &str) -> (String, Value, String) {
    let token = app.session(school, student).await;
    let (charge, order) = new_order(app, &token).await;
    let no = order["order_no"].as_str().unwrap().to_string();
    let p = pay(app, &token, &no, "allinpay_qr").await;
    assert_eq!(p["kind"], "qr");
    assert!(p["qr_svg"].as_str().unwrap().contains("<svg"));
    assert_eq!(pays_with(app, p["out_trade_no"].as_str().unwrap(), wallet).await, 200);
    until_paid(app, &token, &no).await;
    (token, charge, no)
}

async fn the_code_pays_in_any_wallet_and_a_repeated_notification_counts_once(app: TestApp) {
    for (school, wallet) in [("qdou", "wechat"), ("ejt", "alipay"), ("qdou", "unionpay")] {
        let (token, charge, no) = paid_by_allinpay(&app, school, "20230001", wallet).await;
        let (_, records) = app.get_json("/api/v1/student/payments", Some(&token)).await;
        assert!(records["payments"].as_array().unwrap().iter().any(|r| r["order_no"] == no.as_str() && r["channel"] == "allinpay_qr"));
        assert!(charge_paid(&app, &token, &charge["id"]).await > 0);
    }
    // 通联 sends the same notification twice: one payment.
    behaviour(&app, "allinpay", json!({"notify": "duplicate"})).await;
    let (_, _, no) = paid_by_allinpay(&app, "qdou", "20230003", "wechat").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let out = sandbox_trade_of(&app, &no).await;
    let trade: Value = app.http.get(app.url(&format!("/sandbox/allinpay/orders/{out}"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(trade["notifications"].as_array().map(Vec::len), Some(2), "{trade}");
    assert!(trade["notifications"].as_array().unwrap().iter().all(|n| n["acknowledged"] == true), "both answered `success`");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM provider_payments").await, 4);
    assert!(count(&app, "SELECT COUNT(*) FROM notifications WHERE outcome = 'duplicate'").await >= 1);
    let applied = count(&app, "SELECT CAST(SUM(amount_fen) AS BIGINT) FROM provider_payments WHERE disposition = 'applied'").await;
    let ledger = count(&app, "SELECT CAST(SUM(amount_fen) AS BIGINT) FROM ledger_entries WHERE kind = 'payment'").await;
    assert_eq!(applied, ledger);
}

async fn a_forged_allinpay_notification_is_refused_and_changes_nothing(app: TestApp) {
    let token = app.session("qdou", "20230001").await;
    let (_, order) = new_order(&app, &token).await;
    let no = order["order_no"].as_str().unwrap();
    let p = pay(&app, &token, no, "allinpay_qr").await;
    let out = p["out_trade_no"].as_str().unwrap();
    let form = [
        ("appid", "00000051"),
        ("cusid", "990581007426001"),
        ("cusorderid", out),
        ("trxid", "112094120001088317"),
        ("trxamt", "240000"),
        ("trxcode", "VSP501"),
        ("trxstatus", "0000"),
        ("paytime", "20261204120000"),
        ("signtype", "RSA"),
        ("sign", "Zm9yZ2Vk"),
    ];
    for path in ["/notify/allinpay/qdou", "/notify/allinpay"] {
        let res = app.http.post(app.url(path)).form(&form).send().await.unwrap();
        let status = res.status().as_u16();
        let body = res.text().await.unwrap();
        // 通联 takes only `success` as received; anything else is its refusal.
        assert_eq!((status, body.as_str()), (200, "fail"), "{path}");
    }
    // The simulator's own forgeries (a signature over other text) are refused alike.
    behaviour(&app, "allinpay", json!({"notify": "forge"})).await;
    assert_eq!(pays_with(&app, out, "alipay").await, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(order_status(&app, &token, no).await, "unpaid", "nothing believed but a verified notification (or a query)");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM provider_payments WHERE source = 'notification'").await, 0);
    assert!(count(&app, "SELECT COUNT(*) FROM notifications WHERE outcome LIKE 'rejected%'").await >= 3);
    // The query that follows a payment finds the money.
    app.clock.advance(3);
    app.run_pending_jobs().await;
    until_paid(&app, &token, no).await;
    assert_eq!(count(&app, "SELECT COUNT(*) FROM provider_payments WHERE source = 'query'").await, 1);
}

async fn office_refunds_through_allinpay_end_as_the_provider_ends_them(app: TestApp) {
    let (token, charge, no) = paid_by_allinpay(&app, "qdou", "20230001", "wechat").await;
    let paid = charge_paid(&app, &token, &charge["id"]).await;
    let fin = finance(&app, "qdou").await;
    let refund = |fen: i64, why: &str| json!({"order_no": no, "lines": [{"charge_id": charge["id"], "amount_fen": fen}], "reason": why});
    let mut refunded = 0;
    for (mode, fen, end) in [("instant", 300, "success"), ("processing", 200, "success"), ("fail", 100, "failed")] {
        behaviour(&app, "allinpay", json!({"refund": mode, "refund_delay_s": 1})).await;
        let (status, r) = app.post_json("/api/v1/office/refunds", refund(fen, mode), Some(&fin)).await;
        assert_eq!(status, 201, "{mode}: {r}");
        let id = r["id"].as_i64().unwrap();
        if mode == "processing" {
            app.run_pending_jobs().await;
            assert_eq!(refund_status(&app, &fin, id).await, "processing");
            tokio::time::sleep(Duration::from_millis(1200)).await;
        }
        run_until(&app, &fin, id, end).await;
        if end == "success" {
            refunded += fen;
        }
        assert_eq!(charge_paid(&app, &token, &charge["id"]).await, paid - refunded, "{mode}");
    }
    assert_eq!(refund_rows(&app).await, 2, "the failed refund moved no money");
    let out = sandbox_trade_of(&app, &no).await;
    let trade: Value = app.http.get(app.url(&format!("/sandbox/allinpay/orders/{out}"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(trade["refunds"].as_array().map(Vec::len), Some(2), "each refund sent once: {trade}");
}

async fn an_allinpay_merchant_is_sealed_checked_by_its_fields_and_pays(app: TestApp) {
    let (status, v) =
        app.post_json("/api/v1/office/login", json!({"school": "ejt", "login": "admin", "password": "Admin#2026"}), None).await;
    assert_eq!(status, 200, "{v}");
    let admin = v["token"].as_str().unwrap().to_string();
    let t = app.state.sandbox.as_ref().unwrap().allinpay_config(&app.base, &format!("{}/notify", app.base));
    let form = json!({
        "cusid": t.cusid,
        "appid": t.appid,
        "private_key_pem": t.private_key_pem,
        "allinpay_public_key_pem": t.allinpay_public_key_pem,
        "base_url": t.base_url,
        "cashier_url": t.cashier_url,
    });
    let put = |body: Value| {
        let (http, url, admin) = (app.http.clone(), app.url("/api/v1/office/merchants/allinpay"), admin.clone());
        async move {
            let res = http.put(url).bearer_auth(admin).json(&body).send().await.unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    // A public key that is not one, and a merchant number with spaces: refused by their field.
    let mut bad = form.clone();
    bad["allinpay_public_key_pem"] = "MIGfMA0GCSqGSIb3DQEBAQUAinvalid".into();
    let (status, v) = put(bad).await;
    assert_eq!((status, v["error"]["field"].as_str()), (422, Some("allinpay_public_key_pem")), "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("通联公钥"), "{v}");
    let mut bad = form.clone();
    bad["cusid"] = "990 581".into();
    assert_eq!(put(bad).await.1["error"]["field"], "cusid");
    let school = app.store.school_by_code("ejt").await.unwrap().unwrap().id;
    let rows = || async {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM merchant_configs WHERE school_id = $1 AND channel = 'allinpay'")
            .bind(school)
            .fetch_one(app.store.pool())
            .await
            .unwrap();
        n
    };
    assert_eq!(rows().await, 0, "nothing saved by a refusal");
    // Saved: the private key sealed and never shown again, the notify address the school's own.
    let (status, v) = put(form.clone()).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["fields"]["notify_url"], format!("{}/notify/allinpay/ejt", app.base));
    assert_eq!(v["secrets"][0]["field"], "private_key_pem");
    let body: String = t.private_key_pem.lines().filter(|l| !l.starts_with("-----")).collect::<String>()[..40].to_string();
    assert!(!v.to_string().contains(&body));
    let secrets: String = sqlx::query_scalar("SELECT secrets FROM merchant_configs WHERE school_id = $1 AND channel = 'allinpay'")
        .bind(school)
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert!(!secrets.contains(&body) && !secrets.contains("PRIVATE KEY"));
    // And it pays at once, through the school's own configuration.
    let (_, _, no) = paid_by_allinpay(&app, "ejt", "20230001", "alipay").await;
    assert_eq!(order_status(&app, &app.session("ejt", "20230001").await, &no).await, "paid");
}
