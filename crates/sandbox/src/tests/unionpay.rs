//! UnionPay end to end: the real adapters (gateway and QR) against the sandbox over HTTP, the
//! browser's form POST done by hand, back notifications verified by the merchant's endpoint.

use super::*;

const U: Provider = Provider::Unionpay;

impl Env {
    /// What the student's browser does with `PayAction::Form`: POST the fields; lands (303) on
    /// the cashier.
    async fn submit_gateway_form(&self, action: PayAction) -> reqwest::Response {
        let PayAction::Form { action, fields } = action else { panic!("expected a form, got {action:?}") };
        self.http
            .post(action)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(campuspay_channels::unionpay::sign::encode_form(&fields))
            .send()
            .await
            .unwrap()
    }
}

fn paid_notices(got: &[(Provider, Result<PaymentNotice, String>)]) -> usize {
    got.iter().filter(|(p, n)| *p == U && n.as_ref().is_ok_and(|n| n.paid)).count()
}

#[tokio::test]
async fn gateway_form_cashier_pay_back_notification_query() {
    let e = env(0.01).await;
    let no = "UPGW00000001";
    let action = e.unionpay_gateway.create(&order(no, 123_456, PayFlow::Page)).await.unwrap();
    let html = action.auto_submit_html().unwrap();
    assert!(html.contains("/sandbox/unionpay/frontTransReq.do"));
    // UnionPay knows the order only once the browser has posted the form.
    assert!(e.sandbox.trade(U, no).is_none());
    let r = e.submit_gateway_form(action).await;
    assert_eq!(r.status(), 303);
    let cashier = r.headers()["location"].to_str().unwrap().to_string();
    assert!(cashier.ends_with(&format!("/sandbox/unionpay/cashier/{no}")));
    let page = e.http.get(&cashier).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("¥1,234.56") && page.contains("银联"));
    assert_eq!(e.unionpay_gateway.query(no).await.unwrap(), ProviderStatus::Paying);
    let t = e.sandbox.trade(U, no).unwrap();
    assert_eq!(t.return_url.as_deref(), Some("http://127.0.0.1:1/return"));
    assert!(t.expires_at.is_some(), "payTimeout is always sent");

    let (status, paid) = e.pay(U, no).await;
    assert_eq!(status, 200);
    let query_id = paid["transaction_id"].as_str().unwrap().to_string();
    assert_eq!(query_id.len(), 21);
    let got = e.wait_for(1).await;
    let n = got[0].1.as_ref().unwrap();
    assert!(n.paid);
    assert_eq!((n.out_trade_no.as_str(), n.amount, n.transaction_id.as_str()), (no, Fen(123_456), query_id.as_str()));
    match e.unionpay_gateway.query(no).await.unwrap() {
        ProviderStatus::Paid { transaction_id, amount, .. } => assert_eq!((transaction_id, amount), (query_id, Fen(123_456))),
        other => panic!("{other:?}"),
    }
    let t = e.sandbox.trade(U, no).unwrap();
    assert_eq!(t.notifications.len(), 1);
    assert!(t.notifications[0].acknowledged, "HTTP 200 'ok' acknowledges");
}

#[tokio::test]
async fn tampered_forms_and_foreign_keys_are_refused() {
    let e = env(0.01).await;
    let action = e.unionpay_gateway.create(&order("UPTAMPER0001", 100, PayFlow::Page)).await.unwrap();
    let PayAction::Form { action, mut fields } = action else { panic!() };
    fields.insert("txnAmt".into(), "1".into());
    let r = e
        .http
        .post(&action)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(campuspay_channels::unionpay::sign::encode_form(&fields))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("respCode=11"));
    assert!(e.sandbox.trade(U, "UPTAMPER0001").is_none());

    let mut c = e.sandbox.unionpay_config(&e.base, "http://127.0.0.1:1/notify", UnionpayProduct::Qr);
    c.private_key_pem = generate_rsa_2048().unwrap().private_pkcs8_pem;
    match Unionpay::new(c.clone()).unwrap().create(&order("UPBADSIG0001", 100, PayFlow::Qr)).await {
        Err(ChannelError::Provider { code, .. }) => assert_eq!(code, "11"),
        other => panic!("{other:?}"),
    }
    // A channel configured with another UnionPay root and middle refuses the sandbox's genuine
    // answers, and so does one pinning another key.
    let other = crate::unionpay::issue_chain(&generate_rsa_2048().unwrap().public_spki_pem, 7).unwrap();
    let mut c = e.sandbox.unionpay_config(&e.base, "http://127.0.0.1:1/notify", UnionpayProduct::Qr);
    (c.root_cert_pem, c.middle_cert_pem) = (Some(other.root_pem), Some(other.middle_pem));
    let err = Unionpay::new(c).unwrap().create(&order("UPCHAIN00001", 100, PayFlow::Qr)).await.unwrap_err();
    assert!(matches!(err, ChannelError::UnknownSerial(_)), "{err:?}");
    let mut c = e.sandbox.unionpay_config(&e.base, "http://127.0.0.1:1/notify", UnionpayProduct::Qr);
    (c.root_cert_pem, c.middle_cert_pem) = (None, None);
    c.unionpay_public_key_pem = generate_rsa_2048().unwrap().public_spki_pem;
    let err = Unionpay::new(c).unwrap().create(&order("UPPINNED0001", 100, PayFlow::Qr)).await.unwrap_err();
    assert!(matches!(err, ChannelError::UnknownSerial(_)), "{err:?}");
}

#[tokio::test]
async fn qr_pay_query_refund_and_close() {
    let e = env(0.01).await;
    let no = "UPQR00000001";
    let qr = e.create_qr(U, no, 1000).await;
    assert!(qr.ends_with(&format!("/sandbox/unionpay/cashier/{no}")), "{qr}");
    assert_eq!(e.sandbox.trade(U, no).unwrap().trade_type, "qr");
    // Unpaid and still inside payTimeout: UnionPay cannot close it, and we say so.
    assert!(matches!(e.unionpay.close(no).await, Err(ChannelError::Unsupported(_))));
    e.pay(U, no).await;
    assert_eq!(paid_notices(&e.wait_for(1).await), 1);
    assert!(e.unionpay.close(no).await.is_err(), "paid: not closable");

    let req =
        RefundRequest { out_trade_no: no.into(), out_refund_no: "UPRF00000001".into(), refund: Fen(400), total: Fen(1000), reason: None };
    let first = e.unionpay.refund(&req).await.unwrap();
    assert_eq!((first.status, first.amount), (RefundStatus::Success, Fen(400)));
    assert!(first.refund_id.is_some());
    let again = e.unionpay.refund(&req).await.unwrap();
    assert_eq!(again.refund_id, first.refund_id);
    assert_eq!(e.sandbox.trade(U, no).unwrap().refunded(), Fen(400));
    let too_much = RefundRequest { out_refund_no: "UPRF00000002".into(), refund: Fen(700), ..req };
    match e.unionpay.refund(&too_much).await {
        Err(ChannelError::Provider { code, .. }) => assert_eq!(code, "33"),
        other => panic!("{other:?}"),
    }
    // A restarted server hands the kept txnTime back before asking.
    let fresh = Unionpay::new(e.unionpay.config().clone()).unwrap();
    assert!(matches!(fresh.query(no).await, Err(ChannelError::Unsupported(_))));
    let reference = e.unionpay.order_reference(no).unwrap();
    fresh.restore_order_reference(no, &reference);
    assert!(matches!(fresh.query(no).await.unwrap(), ProviderStatus::Paid { .. }));
    let wrong = Unionpay::new(e.unionpay.config().clone()).unwrap();
    wrong.restore_order_reference(no, "20000101000000");
    assert_eq!(wrong.query(no).await.unwrap(), ProviderStatus::NotFound);
}

#[tokio::test]
async fn an_order_past_its_pay_timeout_cannot_be_paid_and_counts_as_closed() {
    let e = env(0.01).await;
    let mut o = order("UPEXPIRED001", 100, PayFlow::Qr);
    o.expires_at = Some(unix_now() - 1);
    e.unionpay.create(&o).await.unwrap();
    let (status, body) = e.pay(U, "UPEXPIRED001").await;
    assert_eq!((status, body["result"].as_str()), (409, Some("closed")));
    assert!(matches!(e.unionpay.query("UPEXPIRED001").await.unwrap(), ProviderStatus::Failed { .. }));
    e.unionpay.close("UPEXPIRED001").await.unwrap();
}

#[tokio::test]
async fn switches_duplicate_lost_decline() {
    let e = env(0.01).await;
    e.set(U, serde_json::json!({ "notify": "duplicate" })).await;
    e.create_qr(U, "UPDUP0000001", 100).await;
    e.pay(U, "UPDUP0000001").await;
    let got = e.wait_for(2).await;
    assert_eq!(got[0].1.as_ref().unwrap(), got[1].1.as_ref().unwrap());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(e.inbox.all().len(), 2, "acknowledged: no retries");

    e.set(U, serde_json::json!({ "notify": "lost" })).await;
    e.create_qr(U, "UPLOST000001", 100).await;
    assert_eq!(e.pay(U, "UPLOST000001").await.0, 200);
    assert!(matches!(e.unionpay.query("UPLOST000001").await.unwrap(), ProviderStatus::Paid { .. }));

    e.set(U, serde_json::json!({ "notify": "normal", "decline": true })).await;
    e.create_qr(U, "UPDECL000001", 100).await;
    let (status, body) = e.pay(U, "UPDECL000001").await;
    assert_eq!((status, body["result"].as_str()), (402, Some("declined")));
    assert_eq!(e.unionpay.query("UPDECL000001").await.unwrap(), ProviderStatus::Paying);
    // Past the first retry (60 s × 0.01): still nothing more than the duplicate pair.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(e.inbox.all().len(), 2);
}

#[tokio::test]
async fn forged_notifications_fail_and_are_retried_on_the_unionpay_schedule() {
    let e = env(0.001).await;
    e.set(U, serde_json::json!({ "notify": "forge" })).await;
    e.create_qr(U, "UPFORGE00001", 100).await;
    e.pay(U, "UPFORGE00001").await;
    // First, then +60 ms and +120 ms (1 and 2 minutes × 0.001).
    let got = e.wait_for(3).await;
    assert!(got.len() >= 3);
    for (_, n) in &got {
        assert!(n.as_ref().unwrap_err().contains("BadSignature"), "{n:?}");
    }
    assert_eq!(UNIONPAY_RETRY_S, &[60, 120, 240, 480, 960]);
}

#[tokio::test]
async fn unacknowledged_back_notifications_are_retried_then_stop() {
    let e = env(0.001).await;
    e.inbox.fail_first.store(1, Ordering::SeqCst);
    e.set(U, serde_json::json!({ "notify": "reorder" })).await;
    e.create_qr(U, "UPRETRY00001", 100).await;
    e.pay(U, "UPRETRY00001").await;
    let got = e.wait_for(3).await;
    // The good one (refused by us), the stale one (respCode 05: not paid), the good one again.
    assert!(got[0].1.as_ref().unwrap().paid);
    let stale = got[1].1.as_ref().unwrap();
    assert_eq!((stale.paid, stale.provider_status.as_str()), (false, "01:05"));
    assert!(got[2].1.as_ref().unwrap().paid);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let t = e.sandbox.trade(U, "UPRETRY00001").unwrap();
    let acks: Vec<_> = t.notifications.iter().map(|n| n.status).collect();
    assert_eq!(acks, [Some(500), Some(200), Some(200)]);
    assert!(t.notifications[2].acknowledged);
}

#[test]
fn unionpay_keys_are_added_to_an_older_sandbox_dir_and_then_kept() {
    let dir = fresh_dir("upgrade");
    let first = Sandbox::open(&dir).unwrap();
    let c1 = first.unionpay_config("http://h", "http://h/notify", UnionpayProduct::Gateway);
    assert_eq!(c1.base_url, "http://h/sandbox/unionpay");
    assert_eq!(c1.notify_url, "http://h/notify/unionpay");
    let creds: serde_json::Value = serde_json::from_str(&first.credentials_json()).unwrap();
    assert_eq!(creds["unionpay"]["mer_id"], c1.mer_id.as_str());
    // A manifest written before UnionPay was simulated: the rest is kept, UnionPay is added.
    let path = dir.join(keys::MANIFEST);
    let mut manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    manifest.as_object_mut().unwrap().remove("unionpay");
    std::fs::write(&path, manifest.to_string()).unwrap();
    let upgraded = Sandbox::open(&dir).unwrap();
    let (w1, _) = first.merchant_configs("http://h", "http://h/notify");
    let (w2, _) = upgraded.merchant_configs("http://h", "http://h/notify");
    assert_eq!(w1.mchid, w2.mchid);
    let c2 = upgraded.unionpay_config("http://h", "http://h/notify", UnionpayProduct::Qr);
    Unionpay::new(c2.clone()).unwrap();
    assert_ne!(c2.mer_id, c1.mer_id, "new UnionPay identity generated");
    let again = Sandbox::open(&dir).unwrap();
    let c3 = again.unionpay_config("http://h", "http://h/notify", UnionpayProduct::Qr);
    assert_eq!((c3.mer_id, c3.private_key_pem), (c2.mer_id, c2.private_key_pem));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A sandbox directory from before the chain (a self-signed signing certificate) is upgraded in
/// place: same merchant, keys and certificate serial; a certificate the official SDKs accept.
#[test]
fn an_old_key_directory_gets_a_chained_certificate_and_keeps_its_identity() {
    use crate::keys::{SandboxKeys, UNIONPAY_CERT, UNIONPAY_MIDDLE_CERT, UNIONPAY_ROOT_CERT};
    let dir = std::env::temp_dir().join(format!("campuspay-upgrade-{}-{}", std::process::id(), crate::keys::random_digits(8)));
    let before = SandboxKeys::open(&dir).unwrap().unionpay;
    let signer = campuspay_channels::crypto::RsaSigner::from_pem(&before.platform.private_pkcs8_pem).unwrap();
    let old = crate::unionpay::self_signed_cert(
        &signer,
        &before.platform.public_spki_pem,
        before.ids.platform_cert_serial,
        "中国银联股份有限公司（沙箱）",
    )
    .unwrap();
    std::fs::write(dir.join(UNIONPAY_CERT), &old).unwrap();
    std::fs::remove_file(dir.join(UNIONPAY_ROOT_CERT)).unwrap();
    std::fs::remove_file(dir.join(UNIONPAY_MIDDLE_CERT)).unwrap();

    let after = SandboxKeys::open(&dir).unwrap().unionpay;
    assert_eq!(after.ids.mer_id, before.ids.mer_id);
    assert_eq!(after.merchant.private_pkcs8_pem, before.merchant.private_pkcs8_pem);
    assert_eq!(after.platform.private_pkcs8_pem, before.platform.private_pkcs8_pem);
    assert_ne!(after.platform_cert_pem, old);
    assert_eq!(std::fs::read_to_string(dir.join(UNIONPAY_CERT)).unwrap(), after.platform_cert_pem);
    let chain = campuspay_channels::unionpay::cert::Chain::new(&after.root_cert_pem, &after.middle_cert_pem, true).unwrap();
    let cert = chain.check(&after.platform_cert_pem, campuspay_channels::crypto::unix_now()).unwrap();
    let parts =
        campuspay_channels::crypto::x509_parts(&campuspay_channels::crypto::pem_to_der(&after.platform_cert_pem).unwrap().1).unwrap();
    assert_eq!(u64::from_str_radix(&parts.serial_hex, 16).unwrap(), before.ids.platform_cert_serial);
    assert_eq!(cert.spki, parts.spki);
    // Opened again, nothing changes.
    assert_eq!(SandboxKeys::open(&dir).unwrap().unionpay.platform_cert_pem, after.platform_cert_pem);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A signed 消费撤销 of the consumption `query_id`, sent as the merchant would; its answer.
async fn cancel(e: &Env, query_id: &str, order_id: &str, amount: &str) -> campuspay_channels::unionpay::sign::Params {
    use campuspay_channels::unionpay::{api, sign};
    let extra = [
        ("txnAmt", amount.to_string()),
        ("currencyCode", api::CNY.to_string()),
        ("origQryId", query_id.to_string()),
        ("backUrl", e.unionpay.config().notify_url.clone()),
    ];
    let fields =
        e.unionpay.signed(api::TXN_CANCEL, api::SUB_NONE, api::CHANNEL_MOBILE, order_id, &sign::txn_time(unix_now()), &extra).unwrap();
    let req = e.unionpay.prepare(api::BACK_TRANS, &fields);
    let body = e.http.post(req.url).header("content-type", "application/x-www-form-urlencoded").body(req.body).send().await.unwrap();
    e.unionpay.verify_answer(&body.text().await.unwrap()).unwrap()
}

/// 消费撤销 (`txnType=31`): the whole of a consumption paid today is reversed and notified
/// (`31`, to the request's backUrl); a part of it, or a second one, is refused with 35.
#[tokio::test]
async fn a_consumption_paid_today_can_be_cancelled_whole() {
    let e = env(0.01).await;
    let no = "UPCANCEL0001";
    e.create_qr(U, no, 800).await;
    let (_, paid) = e.pay(U, no).await;
    let query_id = paid["transaction_id"].as_str().unwrap().to_string();
    e.wait_for(1).await;
    assert_eq!(cancel(&e, &query_id, "UPCANCELP001", "100").await["respCode"], "35");
    assert_eq!(cancel(&e, &query_id, "UPCANCELW001", "800").await["respCode"], "00");
    let got = e.wait_for(2).await;
    let n = got.last().unwrap().1.as_ref().unwrap();
    assert_eq!((n.out_trade_no.as_str(), n.paid, n.provider_status.as_str()), ("UPCANCELW001", false, "31:00"));
    assert_eq!(e.sandbox.trade(U, no).unwrap().refunded(), Fen(800));
    assert_eq!(cancel(&e, &query_id, "UPCANCELX001", "800").await["respCode"], "35");
}
