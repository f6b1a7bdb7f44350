//! The Alipay adapter against the sandbox's provider side: signed requests and redirect URLs,
//! answers verified over the exact node text, notifications, and their refusals.

use campuspay_channels::alipay::sign::Params;
use campuspay_channels::alipay::{Alipay, AlipayConfig, api};
use campuspay_channels::crypto::{GeneratedKeyPair, generate_rsa_2048};
use campuspay_channels::{ChannelError, CreateOrder, HeaderMap, PayFlow, PaymentChannel};
use campuspay_domain::Fen;
use campuspay_sandbox::alipay::AlipayProviderSide;
use std::sync::OnceLock;

const NOW: i64 = 1_725_156_000; // 2024-09-01 10:00:00 Shanghai

fn keys() -> &'static (GeneratedKeyPair, GeneratedKeyPair) {
    static K: OnceLock<(GeneratedKeyPair, GeneratedKeyPair)> = OnceLock::new();
    K.get_or_init(|| (generate_rsa_2048().unwrap(), generate_rsa_2048().unwrap()))
}

fn config() -> AlipayConfig {
    let (app, alipay) = keys();
    AlipayConfig {
        app_id: "2021000000000001".into(),
        app_private_key_pem: app.private_pkcs8_pem.clone(),
        alipay_public_key_pem: alipay.public_spki_pem.clone(),
        seller_id: Some("2088000000000001".into()),
        notify_url: "http://127.0.0.1:8080/notify/alipay".into(),
        gateway_url: "http://127.0.0.1:9/gateway.do".into(),
    }
}

fn provider() -> AlipayProviderSide {
    let (app, alipay) = keys();
    AlipayProviderSide {
        alipay_signer: campuspay_channels::crypto::RsaSigner::from_pem(&alipay.private_pkcs8_pem).unwrap(),
        app_id: "2021000000000001".into(),
        app_key: campuspay_channels::crypto::RsaVerifier::from_pem(&app.public_spki_pem).unwrap(),
    }
}

fn params(pairs: &[(&str, &str)]) -> Params {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn signed_request_round_trips_through_the_provider_side() {
    let ali = Alipay::new(config()).unwrap();
    let p = provider();
    let order = CreateOrder {
        out_trade_no: "CP20240901000001".into(),
        description: "学费".into(),
        amount: Fen(8888),
        expires_at: Some(NOW + 1800),
        flow: PayFlow::Qr,
        return_url: None,
    };
    let req = ali.prepare(api::PRECREATE, Alipay::create_biz(&order, None).unwrap(), NOW).unwrap();
    let got = p.verify_request(req.body.as_bytes()).unwrap();
    assert_eq!(got["method"], "alipay.trade.precreate");
    assert_eq!(got["timestamp"], "2024-09-01 10:00:00");
    let biz: serde_json::Value = serde_json::from_str(&got["biz_content"]).unwrap();
    assert_eq!((biz["total_amount"].as_str(), biz["time_expire"].as_str()), (Some("88.88"), Some("2024-09-01 10:30:00")));
    // Tampered amount.
    let tampered = req.body.replace("88.88", "0.01");
    assert_ne!(tampered, req.body);
    assert!(matches!(p.verify_request(tampered.as_bytes()), Err(ChannelError::BadSignature)));
    // Another application's key.
    let mut other = provider();
    other.app_key = campuspay_channels::crypto::RsaVerifier::from_pem(&keys().1.public_spki_pem).unwrap();
    assert!(matches!(other.verify_request(req.body.as_bytes()), Err(ChannelError::BadSignature)));
    // Redirect URLs carry the same signed parameters.
    let url = ali
        .redirect_url(api::PAGE_PAY, Alipay::create_biz(&order, Some("FAST_INSTANT_TRADE_PAY")).unwrap(), Some("http://x/back"), NOW)
        .unwrap();
    let (base, query) = url.split_once('?').unwrap();
    assert_eq!(base, "http://127.0.0.1:9/gateway.do");
    assert_eq!(p.verify_request(query.as_bytes()).unwrap()["return_url"], "http://x/back");
}

#[test]
fn responses_are_verified_over_the_exact_node_text() {
    let ali = Alipay::new(config()).unwrap();
    let p = provider();
    let node =
        r#"{"code":"10000","msg":"Success","out_trade_no":"CP20240901000001","qr_code":"https://qr.alipay.com/bax03431ljhokirwl38f00a7"}"#;
    let body = p.respond(api::PRECREATE, node).unwrap();
    let text = ali.verify_response(api::PRECREATE, &body).unwrap();
    assert_eq!(text, node);
    assert_eq!(api::parse_precreate(&text).unwrap(), "https://qr.alipay.com/bax03431ljhokirwl38f00a7");
    assert!(matches!(ali.verify_response(api::PRECREATE, &body.replace("bax0343", "evil000")), Err(ChannelError::BadSignature)));
    assert!(ali.verify_response(api::QUERY, &body).is_err(), "answer to another method");
    // Unsigned: an error stays an error, a success is refused.
    let unsigned_err = r#"{"alipay_trade_precreate_response":{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-app-id","sub_msg":"无效的AppID参数"}}"#;
    assert!(
        matches!(ali.verify_response(api::PRECREATE, unsigned_err), Err(ChannelError::Provider { ref code, .. }) if code == "isv.invalid-app-id")
    );
    let unsigned_ok = format!(r#"{{"alipay_trade_precreate_response":{node}}}"#);
    assert!(matches!(ali.verify_response(api::PRECREATE, &unsigned_ok), Err(ChannelError::BadSignature)));
}

fn notify(status: &str, app_id: &str, seller_id: &str) -> Params {
    params(&[
        ("notify_time", "2024-09-01 10:01:03"),
        ("notify_type", "trade_status_sync"),
        ("notify_id", "ac05099524730693a8b330c5ecf72da9786"),
        ("charset", "utf-8"),
        ("version", "1.0"),
        ("app_id", app_id),
        ("seller_id", seller_id),
        ("trade_no", "2024090122001400000000000001"),
        ("out_trade_no", "CP20240901000001"),
        ("trade_status", status),
        ("total_amount", "88.88"),
        ("subject", "学费 & 住宿费"),
        ("gmt_payment", "2024-09-01 10:01:02"),
    ])
}

#[test]
fn notifications_are_verified_and_cross_checked() {
    let ali = Alipay::new(config()).unwrap();
    let p = provider();
    let h = HeaderMap::new();
    let body = p.notification(notify("TRADE_SUCCESS", "2021000000000001", "2088000000000001")).unwrap();
    let n = ali.verify_notification(&h, body.as_bytes(), NOW).unwrap();
    assert_eq!(
        (n.out_trade_no.as_str(), n.transaction_id.as_str(), n.amount, n.paid),
        ("CP20240901000001", "2024090122001400000000000001", Fen(8888), true)
    );
    let body = p.notification(notify("WAIT_BUYER_PAY", "2021000000000001", "2088000000000001")).unwrap();
    assert!(!ali.verify_notification(&h, body.as_bytes(), NOW).unwrap().paid);
    let body = p.notification(notify("TRADE_CLOSED", "2021000000000001", "2088000000000001")).unwrap();
    assert!(!ali.verify_notification(&h, body.as_bytes(), NOW).unwrap().paid);

    let good = p.notification(notify("TRADE_SUCCESS", "2021000000000001", "2088000000000001")).unwrap();
    let tampered = good.replace("88.88", "8888.88");
    assert_ne!(tampered, good);
    assert!(matches!(ali.verify_notification(&h, tampered.as_bytes(), NOW), Err(ChannelError::BadSignature)));
    assert!(
        matches!(ali.verify_notification(&h, format!("{good}&extra=1").as_bytes(), NOW), Err(ChannelError::BadSignature)),
        "added parameter"
    );
    let body = p.notification(notify("TRADE_SUCCESS", "2021000000000009", "2088000000000001")).unwrap();
    assert!(matches!(ali.verify_notification(&h, body.as_bytes(), NOW), Err(ChannelError::WrongMerchant(_))), "other app");
    let body = p.notification(notify("TRADE_SUCCESS", "2021000000000001", "2088000000000009")).unwrap();
    assert!(matches!(ali.verify_notification(&h, body.as_bytes(), NOW), Err(ChannelError::WrongMerchant(_))), "other seller");
    // Signed by someone who is not Alipay.
    let mut impostor = provider();
    impostor.alipay_signer = campuspay_channels::crypto::RsaSigner::from_pem(&keys().0.private_pkcs8_pem).unwrap();
    let body = impostor.notification(notify("TRADE_SUCCESS", "2021000000000001", "2088000000000001")).unwrap();
    assert!(matches!(ali.verify_notification(&h, body.as_bytes(), NOW), Err(ChannelError::BadSignature)));
}
