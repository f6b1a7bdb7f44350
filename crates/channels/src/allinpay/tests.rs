use super::*;
use crate::crypto::generate_rsa_2048;
use campuspay_domain::Fen;

struct Keys {
    merchant: crate::crypto::GeneratedKeyPair,
    allinpay: crate::crypto::GeneratedKeyPair,
}

fn keys() -> Keys {
    Keys { merchant: generate_rsa_2048().unwrap(), allinpay: generate_rsa_2048().unwrap() }
}

fn channel(k: &Keys) -> Allinpay {
    Allinpay::new(AllinpayConfig {
        cusid: "990581007426001".into(),
        appid: "00000051".into(),
        private_key_pem: k.merchant.private_pkcs8_pem.clone(),
        allinpay_public_key_pem: k.allinpay.public_spki_pem.clone(),
        base_url: "http://sandbox/sandbox/allinpay".into(),
        cashier_url: "http://sandbox/sandbox/allinpay".into(),
        notify_url: "https://school.example/notify/allinpay/qdou".into(),
        return_url: "https://school.example/s/qdou/".into(),
    })
    .unwrap()
}

fn order() -> CreateOrder {
    CreateOrder {
        out_trade_no: "P20261204000001".into(),
        description: "2026 学年学费".into(),
        amount: Fen(240_000),
        expires_at: Some(1_000_000 + 15 * 60 + 30),
        flow: PayFlow::Qr,
        return_url: None,
    }
}

#[test]
fn the_code_is_the_signed_cashier_order() {
    let k = keys();
    let url = channel(&k).cashier_code(&order(), 1_000_000).unwrap();
    let (base, query) = url.split_once('?').unwrap();
    assert_eq!(base, "http://sandbox/sandbox/allinpay/apiweb/h5unionpay/unionorder");
    let p = sign::parse_form(query.as_bytes()).unwrap();
    assert_eq!(p["trxamt"], "240000");
    assert_eq!(p["reqsn"], "P20261204000001");
    assert_eq!(p["validtime"], "15", "whole minutes left, rounded down");
    assert_eq!(p["returl"], "https://school.example/s/qdou/");
    assert_eq!(p["signtype"], "RSA");
    // 通联 checks it with the merchant's public key.
    sign::verify(&Sha1RsaVerifier::from_pem(&k.merchant.public_spki_pem).unwrap(), &p).unwrap();
}

#[test]
fn bad_orders_are_refused_before_anything_is_sent() {
    let k = keys();
    let c = channel(&k);
    let mut o = order();
    o.out_trade_no = "有空格 的单号".into();
    assert!(matches!(c.cashier_code(&o, 1_000_000), Err(ChannelError::Malformed(_))));
    let mut o = order();
    o.amount = Fen(0);
    assert!(matches!(c.cashier_code(&o, 1_000_000), Err(ChannelError::Malformed(_))));
}

fn notification(k: &Keys, cusid: &str) -> String {
    let mut p: Params = [
        ("appid", "00000051"),
        ("cusid", cusid),
        ("cusorderid", "P20261204000001"),
        ("trxid", "112149370002215860"),
        ("chnltrxid", "2021031122001462181422084378"),
        ("trxamt", "240000"),
        ("initamt", "240000"),
        ("trxcode", "VSP511"),
        ("trxdate", "20261204"),
        ("paytime", "20261204170324"),
        ("trxstatus", "0000"),
        ("acct", "2088912532062181"),
        ("fee", "0"),
        ("termauthno", "112149370002215860"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    sign::sign(&Sha1RsaSigner::from_pem(&k.allinpay.private_pkcs8_pem).unwrap(), &mut p).unwrap();
    sign::encode_form(&p)
}

#[test]
fn a_signed_notification_verifies_and_a_forged_one_does_not() {
    let k = keys();
    let c = channel(&k);
    let n = c.verify_notification(&HeaderMap::new(), notification(&k, "990581007426001").as_bytes(), 0).unwrap();
    assert_eq!(n.out_trade_no, "P20261204000001");
    assert_eq!(n.transaction_id, "112149370002215860");
    assert_eq!(n.amount, Fen(240_000));
    assert!(n.paid);
    assert_eq!(n.provider_status, "0000 VSP511");
    let forged = notification(&k, "990581007426001").replace("trxamt=240000", "trxamt=1");
    assert!(matches!(c.verify_notification(&HeaderMap::new(), forged.as_bytes(), 0), Err(ChannelError::BadSignature)));
    let other = notification(&k, "990581007426999");
    assert!(matches!(c.verify_notification(&HeaderMap::new(), other.as_bytes(), 0), Err(ChannelError::WrongMerchant(_))));
    assert_eq!(c.ack(true).body, "success");
    assert_ne!(c.ack(false).body, "success");
}

#[test]
fn a_fail_answer_is_an_error_and_a_success_one_must_be_signed() {
    let k = keys();
    let c = channel(&k);
    let err = c.verify_answer(r#"{"retcode":"FAIL","retmsg":"签名验证失败"}"#).unwrap_err();
    assert!(matches!(err, ChannelError::Provider { ref code, .. } if code == "FAIL"));
    let unsigned = r#"{"retcode":"SUCCESS","cusid":"990581007426001","appid":"00000051","trxstatus":"0000"}"#;
    assert!(matches!(c.verify_answer(unsigned), Err(ChannelError::BadSignature)));
}
