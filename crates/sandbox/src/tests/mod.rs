//! End to end over real HTTP on 127.0.0.1: the sandbox router on one port, a tiny merchant
//! notify server on another, the real adapters in between.

use super::*;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use campuspay_channels::alipay::Alipay;
use campuspay_channels::allinpay::Allinpay;
use campuspay_channels::crypto::unix_now;
use campuspay_channels::unionpay::{Unionpay, UnionpayProduct};
use campuspay_channels::wechatpay::WechatPay;
use campuspay_channels::{
    ChannelError, CreateOrder, PayAction, PayFlow, PaymentChannel, PaymentNotice, Provider, ProviderStatus, RefundRequest, RefundStatus,
};
use campuspay_domain::Fen;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Key generation is the slow part: one directory generated once, reopened by every test.
fn shared_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = fresh_dir("shared");
        Sandbox::open(&dir).unwrap();
        dir
    })
}

fn fresh_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!("campuspay-sandbox-{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// What the merchant's notify endpoint received, verified by the adapter.
#[derive(Default)]
struct Inbox {
    got: Mutex<Vec<(Provider, Result<PaymentNotice, String>)>>,
    /// Answer "failed" to this many good notifications first (to see retries).
    fail_first: AtomicUsize,
}

impl Inbox {
    fn all(&self) -> Vec<(Provider, Result<PaymentNotice, String>)> {
        self.got.lock().unwrap().clone()
    }
}

struct Env {
    sandbox: Sandbox,
    base: String,
    wechat: Arc<WechatPay>,
    alipay: Arc<Alipay>,
    /// The UnionPay QR channel (`chan(Provider::Unionpay)`) and the gateway channel.
    unionpay: Arc<Unionpay>,
    unionpay_gateway: Arc<Unionpay>,
    allinpay: Arc<Allinpay>,
    inbox: Arc<Inbox>,
    http: reqwest::Client,
}

type Merchant = (Arc<Inbox>, Arc<dyn PaymentChannel>);

async fn receive(State((inbox, chan)): State<Merchant>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let res = chan.verify_notification(&headers, &body, unix_now());
    let refuse = res.is_ok() && inbox.fail_first.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
    let accepted = res.is_ok() && !refuse;
    inbox.got.lock().unwrap().push((chan.provider(), res.map_err(|e| format!("{e:?}"))));
    let ack = chan.ack(accepted);
    (StatusCode::from_u16(ack.status).unwrap(), [(axum::http::header::CONTENT_TYPE, ack.content_type)], ack.body)
}

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

async fn env(scale: f64) -> Env {
    let sandbox = Sandbox::open(shared_dir()).unwrap().with_time_scale(scale);
    let base = serve(sandbox.router()).await;
    let merchant_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let merchant = format!("http://{}", merchant_listener.local_addr().unwrap());
    let (wc, ac) = sandbox.merchant_configs(&base, &format!("{merchant}/notify"));
    let wechat = Arc::new(WechatPay::new(wc).unwrap());
    let alipay = Arc::new(Alipay::new(ac).unwrap());
    let notify = format!("{merchant}/notify");
    let up = |product| Arc::new(Unionpay::new(sandbox.unionpay_config(&base, &notify, product)).unwrap());
    let (unionpay, unionpay_gateway) = (up(UnionpayProduct::Qr), up(UnionpayProduct::Gateway));
    let allinpay = Arc::new(Allinpay::new(sandbox.allinpay_config(&base, &notify)).unwrap());
    let inbox = Arc::new(Inbox::default());
    // Both UnionPay products notify the same URL; either channel verifies it.
    let u: Merchant = (inbox.clone(), unionpay.clone());
    let w: Merchant = (inbox.clone(), wechat.clone());
    let a: Merchant = (inbox.clone(), alipay.clone());
    let t: Merchant = (inbox.clone(), allinpay.clone());
    let app = axum::Router::new()
        .route("/notify/wechatpay", axum::routing::post(receive).with_state(w))
        .route("/notify/alipay", axum::routing::post(receive).with_state(a))
        .route("/notify/unionpay", axum::routing::post(receive).with_state(u))
        .route("/notify/allinpay", axum::routing::post(receive).with_state(t));
    tokio::spawn(async move { axum::serve(merchant_listener, app).await.unwrap() });
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    Env { sandbox, base, wechat, alipay, unionpay, unionpay_gateway, allinpay, inbox, http }
}

fn order(no: &str, fen: i64, flow: PayFlow) -> CreateOrder {
    CreateOrder {
        out_trade_no: no.to_string(),
        description: "2024学年学费".to_string(),
        amount: Fen(fen),
        expires_at: None,
        flow,
        return_url: Some("http://127.0.0.1:1/return".into()),
    }
}

fn name(p: Provider) -> &'static str {
    match p {
        Provider::Wechatpay => "wechatpay",
        Provider::Alipay => "alipay",
        Provider::Unionpay => "unionpay",
        Provider::Ccb => "ccb",
        Provider::Allinpay => "allinpay",
    }
}

impl Env {
    fn chan(&self, p: Provider) -> &dyn PaymentChannel {
        match p {
            Provider::Wechatpay => self.wechat.as_ref(),
            Provider::Alipay => self.alipay.as_ref(),
            Provider::Unionpay => self.unionpay.as_ref(),
            Provider::Ccb => panic!("CCB's channel is built in tests/ccb.rs"),
            Provider::Allinpay => self.allinpay.as_ref(),
        }
    }

    /// Creates a QR order through the adapter; returns the QR content (the cashier URL).
    async fn create_qr(&self, p: Provider, no: &str, fen: i64) -> String {
        match self.chan(p).create(&order(no, fen, PayFlow::Qr)).await.unwrap() {
            PayAction::Qr { content } => content,
            other => panic!("expected a QR, got {other:?}"),
        }
    }

    async fn pay(&self, p: Provider, no: &str) -> (u16, serde_json::Value) {
        let url = format!("{}/sandbox/{}/orders/{no}/pay", self.base, name(p));
        let r = self.http.post(url).send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    async fn set(&self, p: Provider, behaviour: serde_json::Value) -> Behaviour {
        let url = format!("{}/sandbox/{}/behaviour", self.base, name(p));
        let r = self.http.put(url).json(&behaviour).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// Waits until the inbox holds at least `n` notifications (or 5 s pass).
    async fn wait_for(&self, n: usize) -> Vec<(Provider, Result<PaymentNotice, String>)> {
        for _ in 0..500 {
            if self.inbox.all().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.inbox.all()
    }
}

mod allinpay;
mod behaviours;
mod ccb;
mod jsapi;
mod statements;
mod unionpay;
mod wechat;

const BOTH: [Provider; 2] = [Provider::Wechatpay, Provider::Alipay];

#[test]
fn keys_are_generated_once_saved_and_reused() {
    let dir = fresh_dir("keys");
    let first = Sandbox::open(&dir).unwrap();
    for f in [
        keys::MANIFEST,
        "wechatpay_merchant_private_key.pem",
        "wechatpay_platform_public_key.pem",
        "alipay_app_private_key.pem",
        "alipay_platform_public_key.pem",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let again = Sandbox::open(&dir).unwrap();
    let (w1, a1) = first.merchant_configs("http://h", "http://h/notify");
    let (w2, a2) = again.merchant_configs("http://h", "http://h/notify");
    assert_eq!(w1.mchid, w2.mchid);
    assert_eq!(w1.apiv3_key, w2.apiv3_key);
    assert_eq!(w1.merchant_private_key_pem, w2.merchant_private_key_pem);
    assert_eq!(a1.app_id, a2.app_id);
    assert_eq!(a1.alipay_public_key_pem, a2.alipay_public_key_pem);
    assert_eq!(w1.base_url, "http://h/sandbox/wechatpay");
    assert_eq!(w1.notify_url, "http://h/notify/wechatpay");
    assert_eq!(a1.gateway_url, "http://h/sandbox/alipay/gateway.do");
    assert_eq!(a1.notify_url, "http://h/notify/alipay");
    let creds: serde_json::Value = serde_json::from_str(&first.credentials_json()).unwrap();
    assert_eq!(creds["wechatpay"]["apiv3_key"], w1.apiv3_key.as_str());
    assert_eq!(creds["alipay"]["app_id"], a1.app_id.as_str());
    let key_file = creds["wechatpay"]["merchant_private_key_file"].as_str().unwrap();
    assert_eq!(std::fs::read_to_string(key_file).unwrap(), w1.merchant_private_key_pem);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn create_cashier_pay_notify_query_for_both_providers() {
    let e = env(0.01).await;
    for (i, p) in BOTH.into_iter().enumerate() {
        let no = format!("E2E{i}0000001");
        let qr = e.create_qr(p, &no, 123_456).await;
        assert!(qr.ends_with(&format!("/sandbox/{}/cashier/{no}", name(p))), "{qr}");
        assert_eq!(e.chan(p).query(&no).await.unwrap(), ProviderStatus::NotPaid);
        let page = e.http.get(&qr).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("¥1,234.56") && page.contains("支付") && page.contains("2024学年学费"));
        assert!(page.contains(&format!("../orders/{no}/pay")));

        let (status, paid) = e.pay(p, &no).await;
        assert_eq!((status, paid["result"].as_str()), (200, Some("paid")));
        let tx = paid["transaction_id"].as_str().unwrap().to_string();
        let got = e.wait_for(i + 1).await;
        let (from, notice) = &got[i];
        assert_eq!(*from, p);
        let notice = notice.as_ref().unwrap();
        assert!(notice.paid);
        assert_eq!((notice.out_trade_no.as_str(), notice.amount), (no.as_str(), Fen(123_456)));
        assert_eq!(notice.transaction_id, tx);
        match e.chan(p).query(&no).await.unwrap() {
            ProviderStatus::Paid { transaction_id, amount, paid_at } => {
                assert_eq!((transaction_id, amount), (tx.clone(), Fen(123_456)));
                assert!(paid_at.is_some());
            }
            other => panic!("{other:?}"),
        }
        let (status, again) = e.pay(p, &no).await;
        assert_eq!((status, again["result"].as_str()), (409, Some("already_paid")));
        let trade = e.sandbox.trade(p, &no).unwrap();
        assert_eq!(trade.notifications.len(), 1);
        assert!(trade.notifications[0].acknowledged);
    }
    assert_eq!(e.chan(Provider::Wechatpay).query("NOSUCH0001").await.unwrap(), ProviderStatus::NotFound);
    assert_eq!(e.chan(Provider::Alipay).query("NOSUCH0001").await.unwrap(), ProviderStatus::NotFound);
}

#[tokio::test]
async fn transaction_ids_are_unique_per_payment() {
    let e = env(0.01).await;
    let mut ids = std::collections::HashSet::new();
    for p in BOTH {
        for n in 0..3 {
            let no = format!("UNIQ{}{n}00001", name(p));
            e.create_qr(p, &no, 100).await;
            let (_, paid) = e.pay(p, &no).await;
            assert!(ids.insert(paid["transaction_id"].as_str().unwrap().to_string()));
        }
    }
}

#[tokio::test]
async fn other_flows_h5_jsapi_page_and_wap() {
    let e = env(0.01).await;
    let h5 = order("FLOWH5000001", 100, PayFlow::Mobile { client_ip: "1.2.3.4".into() });
    let PayAction::Redirect { url } = e.wechat.create(&h5).await.unwrap() else { panic!() };
    assert!(url.ends_with("/sandbox/wechatpay/cashier/FLOWH5000001"));
    let js = order("FLOWJS000001", 100, PayFlow::InApp { openid: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".into() });
    let PayAction::JsApi { params } = e.wechat.create(&js).await.unwrap() else { panic!() };
    assert!(params.package.starts_with("prepay_id=wx"));
    for (no, flow) in [("FLOWPAGE0001", PayFlow::Page), ("FLOWWAP00001", PayFlow::Mobile { client_ip: "1.2.3.4".into() })] {
        let PayAction::Redirect { url } = e.alipay.create(&order(no, 100, flow)).await.unwrap() else { panic!() };
        // The browser's GET of the signed gateway URL lands on the cashier.
        let r = e.http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 303);
        let to = r.headers()["location"].to_str().unwrap();
        assert!(to.ends_with(&format!("/sandbox/alipay/cashier/{no}")), "{to}");
        let t = e.sandbox.trade(Provider::Alipay, no).unwrap();
        assert_eq!(t.return_url.as_deref(), Some("http://127.0.0.1:1/return"));
        // A tampered redirect is refused.
        let tampered = url.replace("total_amount%22%3A%221.00", "total_amount%22%3A%220.01");
        assert_ne!(tampered, url);
        let r = e.http.get(&tampered).send().await.unwrap().text().await.unwrap();
        assert!(r.contains("isv.invalid-signature"), "{r}");
    }
}

#[tokio::test]
async fn requests_with_a_bad_signature_are_refused() {
    let e = env(0.01).await;
    let other = generate_rsa_2048().unwrap();
    let (mut wc, mut ac) = e.sandbox.merchant_configs(&e.base, "http://127.0.0.1:1/notify");
    wc.merchant_private_key_pem = other.private_pkcs8_pem.clone();
    ac.app_private_key_pem = other.private_pkcs8_pem;
    let err = WechatPay::new(wc).unwrap().create(&order("BADSIG000001", 100, PayFlow::Qr)).await;
    match err {
        Err(ChannelError::Provider { status: 401, code, .. }) => assert_eq!(code, "SIGN_ERROR"),
        other => panic!("{other:?}"),
    }
    let err = Alipay::new(ac).unwrap().create(&order("BADSIG000002", 100, PayFlow::Qr)).await;
    match err {
        Err(ChannelError::Provider { code, .. }) => assert_eq!(code, "isv.invalid-signature"),
        other => panic!("{other:?}"),
    }
    assert!(e.sandbox.trade(Provider::Wechatpay, "BADSIG000001").is_none());
    assert!(e.sandbox.trade(Provider::Alipay, "BADSIG000002").is_none());
}

#[tokio::test]
async fn close_then_pay_is_refused_unless_accept_after_close() {
    let e = env(0.01).await;
    for (i, p) in BOTH.into_iter().enumerate() {
        let no = format!("CLOSE{i}000001");
        e.create_qr(p, &no, 500).await;
        e.chan(p).close(&no).await.unwrap();
        assert_eq!(e.chan(p).query(&no).await.unwrap(), ProviderStatus::Closed);
        let (status, body) = e.pay(p, &no).await;
        assert_eq!((status, body["result"].as_str()), (409, Some("closed")));

        let late = format!("LATE{i}0000001");
        e.create_qr(p, &late, 500).await;
        e.chan(p).close(&late).await.unwrap();
        let b = e.set(p, serde_json::json!({ "accept_after_close": true })).await;
        assert!(b.accept_after_close);
        assert_eq!(b.notify, NotifyMode::Normal);
        let (status, _) = e.pay(p, &late).await;
        assert_eq!(status, 200);
        assert!(matches!(e.chan(p).query(&late).await.unwrap(), ProviderStatus::Paid { .. }));
        // A paid trade can no longer be closed.
        assert!(e.chan(p).close(&late).await.is_err());
    }
    let got = e.wait_for(2).await;
    assert!(got.iter().all(|(_, n)| n.as_ref().unwrap().paid));
}

#[tokio::test]
async fn refunds_are_idempotent_per_refund_number() {
    let e = env(0.01).await;
    for (i, p) in BOTH.into_iter().enumerate() {
        let no = format!("REFND{i}000001");
        e.create_qr(p, &no, 1000).await;
        e.pay(p, &no).await;
        let req = RefundRequest {
            out_trade_no: no.clone(),
            out_refund_no: format!("R{no}"),
            refund: Fen(400),
            total: Fen(1000),
            reason: Some("退学".into()),
        };
        let first = e.chan(p).refund(&req).await.unwrap();
        // WeChat Pay accepts a refund as processing (the default behaviour), Alipay at once.
        let accepted = if p == Provider::Wechatpay { RefundStatus::Processing } else { RefundStatus::Success };
        assert_eq!((first.status, first.amount), (accepted, Fen(400)));
        let again = e.chan(p).refund(&req).await.unwrap();
        assert_eq!(again.refund_id, first.refund_id);
        assert_eq!(e.sandbox.trade(p, &no).unwrap().refunded(), Fen(400));
        let too_much = RefundRequest { out_refund_no: format!("S{no}"), refund: Fen(700), ..req };
        assert!(e.chan(p).refund(&too_much).await.is_err());
    }
    assert!(matches!(e.wechat.query("REFND0000001").await.unwrap(), ProviderStatus::Refunded { .. }));
}

#[tokio::test]
async fn the_router_can_be_nested_under_a_prefix() {
    let sandbox = Sandbox::open(shared_dir()).unwrap();
    let root = serve(axum::Router::new().nest("/demo", sandbox.router())).await;
    let (wc, _) = sandbox.merchant_configs(&format!("{root}/demo"), "http://127.0.0.1:1/notify");
    let wechat = WechatPay::new(wc).unwrap();
    let PayAction::Qr { content } = wechat.create(&order("NEST00000001", 100, PayFlow::Qr)).await.unwrap() else { panic!() };
    assert_eq!(content, format!("{root}/demo/sandbox/wechatpay/cashier/NEST00000001"));
    let page = reqwest::get(&content).await.unwrap();
    assert_eq!(page.status(), 200);
}
