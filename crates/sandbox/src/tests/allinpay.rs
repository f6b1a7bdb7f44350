//! 通联收银宝 end to end: the real adapter against the sandbox over HTTP — the code (the H5
//! cashier address) opened as a phone's scanner opens it, the payer's wallet chosen and paid,
//! the signed notification verified by the merchant's endpoint, query, refunds, close.

use super::*;
use campuspay_channels::allinpay::api;
use campuspay_channels::allinpay::sign;

const T: Provider = Provider::Allinpay;

fn paid_notices(got: &[(Provider, Result<PaymentNotice, String>)]) -> Vec<PaymentNotice> {
    got.iter().filter(|(p, _)| *p == T).filter_map(|(_, n)| n.as_ref().ok().filter(|n| n.paid).cloned()).collect()
}

impl Env {
    /// A phone scans the code: GET the address; lands (303) on the cashier page.
    async fn scan(&self, code: &str) -> String {
        let r = self.http.get(code).send().await.unwrap();
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap_or_default());
        let cashier = r.headers()["location"].to_str().unwrap().to_string();
        self.http.get(&cashier).send().await.unwrap().text().await.unwrap()
    }

    async fn pay_with(&self, no: &str, wallet: &str) -> u16 {
        let url = format!("{}/sandbox/allinpay/orders/{no}/pay?wallet={wallet}", self.base);
        self.http.post(url).send().await.unwrap().status().as_u16()
    }
}

#[tokio::test]
async fn the_code_opens_the_cashier_any_wallet_pays_and_the_notification_verifies() {
    let e = env(0.01).await;
    let no = "TLQR00000001";
    let code = e.create_qr(T, no, 240_000).await;
    assert!(code.contains("/sandbox/allinpay/apiweb/h5unionpay/unionorder?"), "{code}");
    let page = e.scan(&code).await;
    assert!(page.contains("¥2,400.00") && page.contains("微信支付") && page.contains("支付宝") && page.contains("云闪付"), "{page}");
    assert_eq!(e.allinpay.query(no).await.unwrap(), ProviderStatus::Paying);

    assert_eq!(e.pay_with(no, "alipay").await, 200);
    let got = e.wait_for(1).await;
    let n = &paid_notices(&got)[0];
    assert_eq!((n.out_trade_no.as_str(), n.amount), (no, Fen(240_000)));
    assert_eq!(n.provider_status, "0000 VSP511", "booked under the wallet the payer chose");
    match e.allinpay.query(no).await.unwrap() {
        ProviderStatus::Paid { transaction_id, amount, paid_at } => {
            assert_eq!((transaction_id.as_str(), amount), (n.transaction_id.as_str(), Fen(240_000)));
            assert_eq!(transaction_id.len(), 18);
            assert_eq!(paid_at.map(|t| t.len()), Some(14));
        }
        other => panic!("{other:?}"),
    }
    // `success` stops the retries.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(e.sandbox.trade(T, no).unwrap().notifications.len(), 1);
    assert!(matches!(e.allinpay.close(no).await, Err(ChannelError::Provider { .. })), "a paid order cannot be closed");
}

#[tokio::test]
async fn a_tampered_code_and_a_foreign_merchant_are_refused() {
    let e = env(0.0).await;
    let code = e.create_qr(T, "TLQR00000002", 100).await;
    let r = e.http.get(code.replace("trxamt=100", "trxamt=1")).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("签名验证失败"));
    assert!(e.sandbox.trade(T, "TLQR00000002").is_none());
    // A request signed by another key is refused with retcode=FAIL, which the adapter reports.
    let mut other = e.sandbox.allinpay_config(&e.base, "http://127.0.0.1:1/notify");
    other.private_key_pem = generate_rsa_2048().unwrap().private_pkcs8_pem;
    let stranger = Allinpay::new(other).unwrap();
    match stranger.query("TLQR00000002").await {
        Err(ChannelError::Provider { code, message, .. }) => assert_eq!((code.as_str(), message.as_str()), ("FAIL", "签名验证失败")),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn unknown_orders_are_not_found_and_an_unpaid_one_ends_at_its_validtime() {
    let e = env(0.0).await;
    assert_eq!(e.allinpay.query("TLNOSUCH0001").await.unwrap(), ProviderStatus::NotFound);
    let no = "TLQR00000003";
    let mut o = order(no, 100, PayFlow::Qr);
    o.expires_at = Some(unix_now() + 60);
    let PayAction::Qr { content } = e.allinpay.create(&o).await.unwrap() else { panic!() };
    e.scan(&content).await;
    assert!(matches!(e.allinpay.close(no).await, Err(ChannelError::Unsupported(_))), "still inside its validtime");
    // Its validtime (1 minute) passes.
    e.sandbox.ledger().get_mut(T, no).unwrap().expires_at = Some(unix_now() - 1);
    assert_eq!(e.allinpay.query(no).await.unwrap(), ProviderStatus::Closed);
    e.allinpay.close(no).await.unwrap();
    assert_eq!(e.pay_with(no, "wechat").await, 409);
}

async fn paid(e: &Env, no: &str, fen: i64) {
    e.set(T, serde_json::json!({ "notify": "lost" })).await;
    let code = e.create_qr(T, no, fen).await;
    e.scan(&code).await;
    assert_eq!(e.pay_with(no, "wechat").await, 200);
}

fn refund_req(no: &str, refund_no: &str, fen: i64, total: i64) -> RefundRequest {
    RefundRequest {
        out_trade_no: no.into(),
        out_refund_no: refund_no.into(),
        refund: Fen(fen),
        total: Fen(total),
        reason: Some("退学".into()),
    }
}

#[tokio::test]
async fn refunds_instant_processing_and_fail_and_a_repeat_is_the_same_refund() {
    let e = env(0.01).await;
    let no = "TLQR00000004";
    paid(&e, no, 10_000).await;

    e.set(T, serde_json::json!({ "refund": "instant" })).await;
    let r = e.allinpay.refund(&refund_req(no, "TLRF0001", 3_000, 10_000)).await.unwrap();
    assert_eq!((r.status, r.amount), (RefundStatus::Success, Fen(3_000)));
    let again = e.allinpay.refund(&refund_req(no, "TLRF0001", 3_000, 10_000)).await.unwrap();
    assert_eq!((again.status, again.refund_id.clone()), (RefundStatus::Success, r.refund_id));
    assert_eq!(e.sandbox.trade(T, no).unwrap().refunded(), Fen(3_000), "never refunded twice");

    e.set(T, serde_json::json!({ "refund": "processing", "refund_delay_s": 20 })).await;
    let r = e.allinpay.refund(&refund_req(no, "TLRF0002", 2_000, 10_000)).await.unwrap();
    assert_eq!(r.status, RefundStatus::Processing);
    assert_eq!(e.allinpay.refund(&refund_req(no, "TLRF0002", 2_000, 10_000)).await.unwrap().status, RefundStatus::Processing);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(e.allinpay.refund(&refund_req(no, "TLRF0002", 2_000, 10_000)).await.unwrap().status, RefundStatus::Success);

    e.set(T, serde_json::json!({ "refund": "fail" })).await;
    let r = e.allinpay.refund(&refund_req(no, "TLRF0003", 1_000, 10_000)).await.unwrap();
    assert_eq!(r.status, RefundStatus::Closed);
    assert_eq!(e.sandbox.trade(T, no).unwrap().refunded(), Fen(5_000));

    e.set(T, serde_json::json!({ "refund": "instant" })).await;
    let over = e.allinpay.refund(&refund_req(no, "TLRF0004", 6_000, 10_000)).await.unwrap();
    assert_eq!(over.status, RefundStatus::Closed, "more than is left is refused");
    let query = e.allinpay.signed(&[("reqsn", "TLRF0001".to_string())]).unwrap();
    let raw = e
        .http
        .post(format!("{}{}", e.base, "/sandbox/allinpay/apiweb/unitorder/query"))
        .body(sign::encode_form(&query))
        .send()
        .await
        .unwrap();
    let p = e.allinpay.verify_answer(&raw.text().await.unwrap()).unwrap();
    assert_eq!((p["trxstatus"].as_str(), p["trxcode"].as_str()), (api::TRX_OK, api::TRXCODE_WECHAT_REFUND));
}

#[tokio::test]
async fn forged_and_unacknowledged_notifications_are_retried_on_the_allinpay_schedule() {
    let e = env(0.0).await;
    e.set(T, serde_json::json!({ "notify": "forge" })).await;
    let code = e.create_qr(T, "TLQR00000005", 100).await;
    e.scan(&code).await;
    assert_eq!(e.pay_with("TLQR00000005", "unionpay").await, 200);
    let got = e.wait_for(1 + ALLINPAY_RETRY_S.len()).await;
    let mine: Vec<_> = got.iter().filter(|(p, _)| *p == T).collect();
    assert_eq!(mine.len(), 1 + ALLINPAY_RETRY_S.len(), "the first try and five retries");
    assert!(mine.iter().all(|(_, n)| n.as_ref().is_err_and(|e| e.contains("BadSignature"))));
    let t = e.sandbox.trade(T, "TLQR00000005").unwrap();
    assert!(t.notifications.iter().all(|n| !n.acknowledged));
}

#[tokio::test]
async fn campuspay_sandbox_serves_the_api_at_the_root_and_takes_requests_without_signtype() {
    let e = env(0.0).await;
    let root = serve(e.sandbox.standalone_router()).await;
    // pyallinpay joins `/apiweb/…` to its base URL, so it reaches only the root; it sends no
    // `signtype` (通联 then uses the merchant's own, RSA here).
    let config = e.sandbox.allinpay_config(&root, "http://127.0.0.1:1/notify");
    let mut p = sign::Params::new();
    for (k, v) in [
        ("cusid", config.cusid.as_str()),
        ("appid", config.appid.as_str()),
        ("version", "12"),
        ("randomstr", "82712208"),
        ("reqsn", "TLNOSUCH0002"),
    ] {
        p.insert(k.into(), v.into());
    }
    let signer = sign::Sha1RsaSigner::from_pem(&config.private_key_pem).unwrap();
    p.insert("sign".into(), signer.sign_b64(sign::sign_content(&p).as_bytes()).unwrap());
    let raw = e.http.post(format!("{root}/apiweb/unitorder/query")).body(sign::encode_form(&p)).send().await.unwrap();
    let answer = Allinpay::new(config).unwrap().verify_answer(&raw.text().await.unwrap()).unwrap();
    assert_eq!(answer["trxstatus"], api::TRX_NOT_FOUND);
}
