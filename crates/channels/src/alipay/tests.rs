//! Alipay publishes the format of the string to sign (with an example parameter set) but no
//! key with an expected signature, so there is no published RSA2 vector to check against; the
//! RSA primitive itself is checked against WeChat Pay's published vector in `crypto_tests`.

use super::sign::{self, Params};
use super::*;
use crate::RefundStatus;
use crate::crypto::{GeneratedKeyPair, generate_rsa_2048};
use crate::sandbox::alipay::AlipayProviderSide;
use campuspay_domain::Fen;
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
        alipay_signer: crate::crypto::RsaSigner::from_pem(&alipay.private_pkcs8_pem).unwrap(),
        app_id: "2021000000000001".into(),
        app_key: crate::crypto::RsaVerifier::from_pem(&app.public_spki_pem).unwrap(),
    }
}

fn params(pairs: &[(&str, &str)]) -> Params {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn sign_content_follows_the_published_rule() {
    // The parameter set of Alipay's signing guide (biz_content shortened): sorted by name in
    // ASCII order, raw values, `sign` and empty values left out; requests keep `sign_type`.
    let p = params(&[
        ("app_id", "2014072300007148"),
        ("method", "alipay.mobile.public.menu.add"),
        ("charset", "GBK"),
        ("sign_type", "RSA2"),
        ("timestamp", "2014-07-24 03:07:50"),
        ("biz_content", r#"{"button":[{"name":"查询"}]}"#),
        ("sign", "xxx"),
        ("version", "1.0"),
        ("notify_url", ""),
    ]);
    assert_eq!(
        sign::sign_content(&p, sign::REQUEST_EXCLUDED),
        r#"app_id=2014072300007148&biz_content={"button":[{"name":"查询"}]}&charset=GBK&method=alipay.mobile.public.menu.add&sign_type=RSA2&timestamp=2014-07-24 03:07:50&version=1.0"#
    );
    assert!(!sign::sign_content(&p, sign::NOTIFY_EXCLUDED).contains("sign_type"));
    // ASCII order: upper case before lower case, `_` between them.
    assert_eq!(sign::sign_content(&params(&[("b", "1"), ("a_b", "2"), ("aB", "3"), ("A", "4")]), &[]), "A=4&aB=3&a_b=2&b=1");
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
    other.app_key = crate::crypto::RsaVerifier::from_pem(&keys().1.public_spki_pem).unwrap();
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

#[test]
fn query_close_and_refund_answers() {
    let q = r#"{"code":"10000","msg":"Success","trade_no":"2024090122001400000000000001","out_trade_no":"CP20240901000001","trade_status":"TRADE_SUCCESS","total_amount":"88.88","send_pay_date":"2024-09-01 10:01:02"}"#;
    assert_eq!(
        api::parse_query(q).unwrap(),
        ProviderStatus::Paid {
            transaction_id: "2024090122001400000000000001".into(),
            amount: Fen(8888),
            paid_at: Some("2024-09-01 10:01:02".into())
        }
    );
    assert_eq!(api::parse_query(&q.replace("TRADE_SUCCESS", "WAIT_BUYER_PAY")).unwrap(), ProviderStatus::NotPaid);
    assert_eq!(api::parse_query(&q.replace("TRADE_SUCCESS", "TRADE_CLOSED")).unwrap(), ProviderStatus::Closed);
    assert!(matches!(api::parse_query(&q.replace("TRADE_SUCCESS", "TRADE_FINISHED")).unwrap(), ProviderStatus::Paid { .. }));
    assert!(api::parse_query(&q.replace("\"88.88\"", "\"88.888\"")).is_err(), "amounts are exact yuan strings");
    let missing = r#"{"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_NOT_EXIST","sub_msg":"交易不存在"}"#;
    assert_eq!(api::parse_query(missing).unwrap(), ProviderStatus::NotFound);
    assert!(api::parse_close(r#"{"code":"10000","msg":"Success","out_trade_no":"CP1"}"#).is_ok());
    assert!(api::parse_close(missing).is_err());
    let req = RefundRequest {
        out_trade_no: "CP20240901000001".into(),
        out_refund_no: "RF1".into(),
        refund: Fen(100),
        total: Fen(8888),
        reason: None,
    };
    let r = api::parse_refund(
        r#"{"code":"10000","msg":"Success","trade_no":"1","out_trade_no":"CP20240901000001","fund_change":"Y","refund_fee":"1.00"}"#,
        &req,
    )
    .unwrap();
    assert_eq!((r.status, r.amount, r.out_refund_no.as_str()), (RefundStatus::Success, Fen(100), "RF1"));
    let r = api::parse_refund(r#"{"code":"10000","msg":"Success","fund_change":"N"}"#, &req).unwrap();
    assert_eq!(r.status, RefundStatus::Processing);
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
    impostor.alipay_signer = crate::crypto::RsaSigner::from_pem(&keys().0.private_pkcs8_pem).unwrap();
    let body = impostor.notification(notify("TRADE_SUCCESS", "2021000000000001", "2088000000000001")).unwrap();
    assert!(matches!(ali.verify_notification(&h, body.as_bytes(), NOW), Err(ChannelError::BadSignature)));
}

#[test]
fn ack_is_bare_success_and_config_round_trips() {
    let ali = Alipay::new(config()).unwrap();
    assert_eq!(ali.ack(true).body, "success");
    assert_ne!(ali.ack(false).body, "success");
    let json = serde_json::to_string(&crate::ChannelConfig::Alipay(config())).unwrap();
    let back: crate::ChannelConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back.build().unwrap().provider(), Provider::Alipay);
    assert!(!format!("{back:?}").contains("PRIVATE KEY"));
}
