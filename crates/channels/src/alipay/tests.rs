//! Alipay publishes the format of the string to sign (with an example parameter set) but no
//! key with an expected signature, so there is no published RSA2 vector to check against; the
//! RSA primitive itself is checked against WeChat Pay's published vector in `crypto_tests`.
//! Round trips with the provider side (signed requests, signed answers, notifications) are
//! tested in `campuspay-sandbox` (`tests/adapters/alipay.rs`).

use super::sign::{self, Params};
use super::*;
use crate::RefundStatus;
use crate::crypto::{GeneratedKeyPair, generate_rsa_2048};
use campuspay_domain::Fen;
use std::sync::OnceLock;

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

/// A `trade_status_sync` as Alipay sends it for trade `CP1` (88.88 yuan), plus `extra`.
fn notify(extra: &[(&str, &str)]) -> Params {
    let mut p = params(&[
        ("app_id", "2021000000000001"),
        ("seller_id", "2088000000000001"),
        ("notify_type", "trade_status_sync"),
        ("out_trade_no", "CP1"),
        ("trade_no", "2024090122001400000000000001"),
        ("trade_status", "TRADE_SUCCESS"),
        ("total_amount", "88.88"),
        ("gmt_payment", "2024-09-01 10:01:02"),
    ]);
    p.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    p
}

#[test]
fn a_refund_notification_is_a_refunds_end_and_never_money_in() {
    let c = config();
    // The payment's own notification: money in, no refund.
    assert!(api::parse_notify(&notify(&[]), &c).unwrap().paid);
    assert_eq!(api::parse_refund_notify(&notify(&[]), &c).unwrap(), None);
    // A partial refund: the trade stays TRADE_SUCCESS; refund_fee is all refunded so far.
    let partial = notify(&[("out_biz_no", "RO0000000007"), ("refund_fee", "10.00"), ("gmt_refund", "2024-09-02 09:00:00.123")]);
    let n = api::parse_refund_notify(&partial, &c).unwrap().expect("a refund's notification");
    assert_eq!(n.out_refund_no, "RO0000000007");
    assert_eq!(n.out_trade_no.as_deref(), Some("CP1"));
    assert_eq!(n.transaction_id.as_deref(), Some("2024090122001400000000000001"));
    assert_eq!((n.status, n.amount, n.refunded_total), (RefundStatus::Success, None, Some(Fen(1000))));
    assert!(!api::parse_notify(&partial, &c).unwrap().paid, "a refund's notification is never a payment");
    // The whole amount back: TRADE_CLOSED with gmt_close.
    let whole =
        notify(&[("trade_status", "TRADE_CLOSED"), ("out_biz_no", "RO8"), ("refund_fee", "88.88"), ("gmt_close", "2024-09-02 09:00:00")]);
    assert_eq!(api::parse_refund_notify(&whole, &c).unwrap().unwrap().refunded_total, Some(Fen(8888)));
    // Refused: another app, a refund of more than the trade, a status no refund has, no number.
    let other_app = notify(&[("app_id", "2021000000000999"), ("out_biz_no", "RO1"), ("refund_fee", "1.00")]);
    assert!(matches!(api::parse_refund_notify(&other_app, &c), Err(ChannelError::WrongMerchant(_))));
    assert!(api::parse_refund_notify(&notify(&[("out_biz_no", "RO1"), ("refund_fee", "88.89")]), &c).is_err());
    assert!(api::parse_refund_notify(&notify(&[("out_biz_no", "RO1"), ("refund_fee", "1.001")]), &c).is_err());
    let unpaid = notify(&[("trade_status", "WAIT_BUYER_PAY"), ("out_biz_no", "RO1"), ("refund_fee", "1.00")]);
    assert!(api::parse_refund_notify(&unpaid, &c).is_err());
    assert!(api::parse_refund_notify(&notify(&[("refund_fee", "1.00")]), &c).is_err());
}

#[test]
fn a_refund_notification_is_verified_like_a_payments() {
    let ali = Alipay::new(config()).unwrap();
    let signer = crate::crypto::RsaSigner::from_pem(&keys().1.private_pkcs8_pem).unwrap();
    let mut p = notify(&[("out_biz_no", "RO1"), ("refund_fee", "1.00")]);
    sign::sign_notify(&signer, &mut p).unwrap();
    let body = sign::encode_form(&p);
    let h = HeaderMap::new();
    assert_eq!(ali.verify_refund_notification(&h, body.as_bytes(), 0).unwrap().unwrap().refunded_total, Some(Fen(100)));
    let forged = body.replace("refund_fee=1.00", "refund_fee=2.00");
    assert!(matches!(ali.verify_refund_notification(&h, forged.as_bytes(), 0), Err(ChannelError::BadSignature)));
}
