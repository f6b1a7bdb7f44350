//! The CCB adapter against the simulated CCB over HTTP and TCP: the 520100 form posted to the
//! gateway, paid at the cashier, the signed notification verified by the adapter, the 410408
//! query, and 5W1004 refunds through the simulated 外联平台, done or refused in their answer.

use super::*;
use campuspay_channels::ccb::Ccb;

fn post_form(http: &reqwest::Client, url: &str, fields: &std::collections::BTreeMap<String, String>) -> reqwest::RequestBuilder {
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields.iter()).finish();
    http.post(url).header("content-type", "application/x-www-form-urlencoded").body(body)
}

async fn ccb_env() -> (Sandbox, String, Arc<Ccb>, Arc<Inbox>) {
    let sandbox = Sandbox::open(shared_dir()).unwrap().with_time_scale(0.01);
    let base = serve(sandbox.router()).await;
    sandbox.serve_ccb_ebs("127.0.0.1:0").await.unwrap();
    let merchant_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let merchant = format!("http://{}", merchant_listener.local_addr().unwrap());
    let config = sandbox.ccb_config(&base, &format!("{merchant}/notify/ccb"), &format!("{merchant}/back"));
    let ccb = Arc::new(Ccb::new(config).unwrap());
    let inbox = Arc::new(Inbox::default());
    let m: Merchant = (inbox.clone(), ccb.clone());
    let app = axum::Router::new().route("/notify/ccb", axum::routing::post(receive).with_state(m));
    tokio::spawn(async move { axum::serve(merchant_listener, app).await.unwrap() });
    (sandbox, base, ccb, inbox)
}

#[tokio::test]
async fn ccb_pays_notifies_queries_and_refunds() {
    let (sandbox, _, ccb, inbox) = ccb_env().await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let no = format!("CCB{}", crate::keys::random_digits(12));
    let PayAction::Form { action, fields } = ccb.create(&order(&no, 240_000, PayFlow::Page)).await.unwrap() else { panic!("a form") };
    assert_eq!(ccb.query(&no).await.unwrap(), ProviderStatus::NotFound, "CCB knows no order before the browser posts it");
    let res = post_form(&http, &action, &fields).send().await.unwrap();
    assert_eq!(res.status(), 303, "the gateway sends the browser to its cashier");
    let cashier = res.headers()["location"].to_str().unwrap().to_string();
    assert!(http.get(&cashier).send().await.unwrap().text().await.unwrap().contains("建设银行"));
    // A tampered amount fails the MAC and records nothing.
    let mut bad = fields.clone();
    bad.insert("PAYMENT".into(), "0.01".into());
    bad.insert("ORDERID".into(), format!("{no}X"));
    assert_eq!(post_form(&http, &action, &bad).send().await.unwrap().status(), 400);
    assert!(sandbox.trade(Provider::Ccb, &format!("{no}X")).is_none());

    assert!(matches!(sandbox.pay(Provider::Ccb, &no), PayOutcome::Paid { .. }));
    let t0 = std::time::Instant::now();
    while inbox.got.lock().unwrap().is_empty() {
        assert!(t0.elapsed() < std::time::Duration::from_secs(5), "notified");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let got = inbox.got.lock().unwrap()[0].clone();
    let notice = got.1.expect("the adapter verifies the simulator's SIGN");
    assert_eq!((notice.out_trade_no.as_str(), notice.amount, notice.paid), (no.as_str(), Fen(240_000), true));
    assert!(matches!(ccb.query(&no).await.unwrap(), ProviderStatus::Paid { amount: Fen(240_000), .. }));

    let refund = |amount: i64, n: &str| RefundRequest {
        out_trade_no: no.clone(),
        out_refund_no: n.to_string(),
        refund: Fen(amount),
        total: Fen(240_000),
        reason: None,
    };
    let done = ccb.refund(&refund(1_000, "R1")).await.unwrap();
    assert_eq!((done.status, done.amount), (RefundStatus::Success, Fen(1_000)));
    assert!(matches!(ccb.query(&no).await.unwrap(), ProviderStatus::Refunded { .. }), "status 3: partly refunded");
    // More than is left, and the `fail` switch: refused in the answer, nothing booked.
    assert!(matches!(ccb.refund(&refund(240_000, "R2")).await, Err(ChannelError::Provider { .. })));
    sandbox.set_behaviour(Provider::Ccb, &BehaviourPatch { refund: Some(RefundMode::Fail), ..BehaviourPatch::default() });
    let err = ccb.refund(&refund(1_000, "R3")).await.unwrap_err();
    assert!(!err.is_retryable(), "a refusal is definite: {err:?}");
    sandbox.set_behaviour(Provider::Ccb, &BehaviourPatch { refund: Some(RefundMode::Instant), ..BehaviourPatch::default() });
    assert_eq!(sandbox.trade(Provider::Ccb, &no).unwrap().refunds.len(), 1);
}

#[tokio::test]
async fn an_unreachable_ebs_is_a_retryable_error_and_a_wrong_query_password_is_refused() {
    let (sandbox, base, ccb, _) = ccb_env().await;
    let mut c = ccb.config().clone();
    c.ebs_addr = "127.0.0.1:1".into();
    let err = Ccb::new(c.clone())
        .unwrap()
        .refund(&RefundRequest { out_trade_no: "CCBX1".into(), out_refund_no: "R".into(), refund: Fen(1), total: Fen(1), reason: None })
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "nothing reached the 外联平台: {err:?}");
    c.query_password = "wrong".into();
    c.gateway_url = format!("{base}/sandbox/ccb/ccbMain");
    let err = Ccb::new(c).unwrap().query("CCBX1").await.unwrap_err();
    assert!(matches!(err, ChannelError::Provider { ref code, .. } if code == "SANDBOX_LOGIN"), "{err:?}");
    drop(sandbox);
}
