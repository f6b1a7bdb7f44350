//! WeChat Pay v3 as published: the signed path, the `Wechatpay-Signature-Type` header, query
//! by transaction id, refunds processing first and ending by notification and by query.

use super::*;
use campuspay_channels::wechatpay::sign::HEADER_SIGNATURE_TYPE;
use campuspay_channels::{PreparedRequest, RefundNotice, http};

/// A merchant endpoint that keeps every refund notification raw and answers 204 to all.
async fn raw_inbox() -> (String, Arc<Mutex<Vec<(HeaderMap, Bytes)>>>) {
    let got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
    let keep = got.clone();
    let app = axum::Router::new().route(
        "/notify/wechatpay",
        axum::routing::post(move |h: HeaderMap, b: Bytes| async move {
            if String::from_utf8_lossy(&b).contains("\"event_type\":\"REFUND.") {
                keep.lock().unwrap().push((h, b));
            }
            StatusCode::NO_CONTENT
        }),
    );
    (format!("{}/notify", serve(app).await), got)
}

/// The simulator alone on its listener (as `campuspay sandbox`), an adapter at its root.
async fn standalone(scale: f64, notify: &str) -> (Sandbox, String, WechatPay) {
    let sandbox = Sandbox::open(shared_dir()).unwrap().with_time_scale(scale);
    let root = serve(sandbox.standalone_router()).await;
    let (mut wc, _) = sandbox.merchant_configs(&root, notify);
    wc.base_url = root.clone();
    (sandbox, root, WechatPay::new(wc).unwrap())
}

async fn paid(sandbox: &Sandbox, w: &WechatPay, no: &str, fen: i64) -> String {
    w.create(&order(no, fen, PayFlow::Qr)).await.unwrap();
    match sandbox.pay(Provider::Wechatpay, no) {
        PayOutcome::Paid { transaction_id } => transaction_id,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn at_the_root_and_under_the_prefix_the_signed_path_is_the_path_requested() {
    let (_, root, w) = standalone(0.01, "http://127.0.0.1:1/notify").await;
    w.create(&order("ROOT00000001", 100, PayFlow::Qr)).await.unwrap();
    let path = "/v3/pay/transactions/out-trade-no/ROOT00000001?mchid=".to_string() + &w.config().mchid;
    // Signed over /v3/… and sent to /v3/…: accepted, and the answer names its signature type.
    let good = w.prepare("GET", &path, String::new(), unix_now()).unwrap();
    let raw = http::send(&reqwest::Client::new(), good.clone()).await.unwrap();
    assert_eq!(raw.status, 200, "{}", raw.body);
    assert_eq!(raw.headers.get(HEADER_SIGNATURE_TYPE).unwrap(), "WECHATPAY2-SHA256-RSA2048");
    w.check_response(&raw, unix_now()).unwrap();
    // The same signature sent to the prefixed copy: the path requested is not the path signed.
    let moved = PreparedRequest { url: format!("{root}/sandbox/wechatpay{path}"), ..good };
    let raw = http::send(&reqwest::Client::new(), moved).await.unwrap();
    assert_eq!(raw.status, 401, "{}", raw.body);
    assert!(raw.body.contains("SIGN_ERROR"), "{}", raw.body);
    // Signed over the whole prefixed path (as our adapter with a prefixed base does): accepted.
    let prefixed = w.prepare_url("GET", format!("{root}/sandbox/wechatpay{path}"), String::new(), unix_now()).unwrap();
    assert_eq!(http::send(&reqwest::Client::new(), prefixed).await.unwrap().status, 200);
}

#[tokio::test]
async fn a_trade_is_found_by_its_transaction_id() {
    let (sandbox, _, w) = standalone(0.01, "http://127.0.0.1:1/notify").await;
    let id = paid(&sandbox, &w, "BYID00000001", 300).await;
    let path = format!("/v3/pay/transactions/id/{id}?mchid={}", w.config().mchid);
    let raw = http::send(&reqwest::Client::new(), w.prepare("GET", &path, String::new(), unix_now()).unwrap()).await.unwrap();
    w.check_response(&raw, unix_now()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&raw.body).unwrap();
    assert_eq!((v["out_trade_no"].as_str(), v["trade_state"].as_str()), (Some("BYID00000001"), Some("SUCCESS")));
    let path = format!("/v3/pay/transactions/id/4200000000000000000000000000?mchid={}", w.config().mchid);
    let raw = http::send(&reqwest::Client::new(), w.prepare("GET", &path, String::new(), unix_now()).unwrap()).await.unwrap();
    assert_eq!(raw.status, 404);
}

async fn refund_query(w: &WechatPay, out_refund_no: &str) -> serde_json::Value {
    let raw = http::send(
        &reqwest::Client::new(),
        w.prepare("GET", &format!("/v3/refund/domestic/refunds/{out_refund_no}"), String::new(), unix_now()).unwrap(),
    )
    .await
    .unwrap();
    w.check_response(&raw, unix_now()).unwrap();
    serde_json::from_str(&raw.body).unwrap()
}

/// Waits (5 s at most) for the `n`th notification and verifies it as a refund's.
async fn refund_notice(w: &WechatPay, got: &Mutex<Vec<(HeaderMap, Bytes)>>, n: usize) -> RefundNotice {
    for _ in 0..500 {
        if got.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (h, b) = got.lock().unwrap().get(n - 1).cloned().expect("a refund notification");
    w.verify_refund_notification(&h, &b, unix_now()).unwrap().expect("a REFUND.* notification")
}

#[tokio::test]
async fn a_refund_is_processing_then_ends_by_notification_and_query_in_each_mode() {
    let (notify, got) = raw_inbox().await;
    let (sandbox, _, w) = standalone(0.01, &notify).await;
    let req = |no: &str, r: &str| RefundRequest {
        out_trade_no: no.into(),
        out_refund_no: r.into(),
        refund: Fen(400),
        total: Fen(1000),
        reason: None,
    };
    // processing (the default): PROCESSING, then SUCCESS after refund_delay_s (1.2 s scaled).
    paid(&sandbox, &w, "RFND00000001", 1000).await;
    let first = w.refund(&req("RFND00000001", "RA0001")).await.unwrap();
    assert_eq!(first.status, RefundStatus::Processing);
    assert_eq!(refund_query(&w, "RA0001").await["status"], "PROCESSING");
    let n = refund_notice(&w, &got, 1).await;
    assert_eq!((n.status, n.amount, n.out_trade_no.as_deref()), (RefundStatus::Success, Some(Fen(400)), Some("RFND00000001")));
    let q = refund_query(&w, "RA0001").await;
    assert_eq!(q["status"], "SUCCESS");
    assert!(q["success_time"].is_string(), "{q}");
    // Asked again: the same refund, now done, and nothing more refunded.
    let again = w.refund(&req("RFND00000001", "RA0001")).await.unwrap();
    assert_eq!((again.status, again.refund_id), (RefundStatus::Success, first.refund_id));
    assert_eq!(sandbox.trade(Provider::Wechatpay, "RFND00000001").unwrap().refunded(), Fen(400));
    // fail: CLOSED, which gives the amount back to what may be refunded.
    sandbox.set_behaviour(Provider::Wechatpay, &BehaviourPatch { refund: Some(RefundMode::Fail), ..Default::default() });
    assert_eq!(w.refund(&req("RFND00000001", "RA0002")).await.unwrap().status, RefundStatus::Processing);
    assert_eq!(refund_notice(&w, &got, 2).await.status, RefundStatus::Closed);
    assert_eq!(refund_query(&w, "RA0002").await["status"], "CLOSED");
    assert_eq!(sandbox.trade(Provider::Wechatpay, "RFND00000001").unwrap().refunded(), Fen(400));
    // abnormal: ABNORMAL; instant: SUCCESS in the answer itself.
    sandbox.set_behaviour(Provider::Wechatpay, &BehaviourPatch { refund: Some(RefundMode::Abnormal), ..Default::default() });
    w.refund(&req("RFND00000001", "RA0003")).await.unwrap();
    assert_eq!(refund_notice(&w, &got, 3).await.status, RefundStatus::Abnormal);
    sandbox.set_behaviour(Provider::Wechatpay, &BehaviourPatch { refund: Some(RefundMode::Instant), ..Default::default() });
    paid(&sandbox, &w, "RFND00000002", 1000).await;
    assert_eq!(w.refund(&req("RFND00000002", "RB0001")).await.unwrap().status, RefundStatus::Success);
    assert_eq!(refund_notice(&w, &got, 4).await.out_refund_no, "RB0001");
    // refuse: the published NOT_ENOUGH, at once.
    sandbox.set_behaviour(Provider::Wechatpay, &BehaviourPatch { refund: Some(RefundMode::Refuse), ..Default::default() });
    match w.refund(&req("RFND00000002", "RB0002")).await {
        Err(ChannelError::Provider { status: 403, code, .. }) => assert_eq!(code, "NOT_ENOUGH"),
        other => panic!("{other:?}"),
    }
    // A forged refund notification does not verify; a genuine one is no payment's.
    let (h, b) = got.lock().unwrap()[0].clone();
    let mut forged = h.clone();
    forged.insert("wechatpay-signature", "Zm9yZ2Vk".parse().unwrap());
    assert!(w.verify_refund_notification(&forged, &b, unix_now()).is_err());
    assert!(w.verify_notification(&h, &b, unix_now()).is_err(), "a refund notification is no payment");
}
