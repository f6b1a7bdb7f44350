//! The UnionPay ACP adapter against the sandbox's provider side: request / answer /
//! notification round trips with a UnionPay certificate the sandbox makes, and refusals.

use campuspay_channels::crypto::{GeneratedKeyPair, RsaSigner, RsaVerifier, generate_rsa_2048};
use campuspay_channels::unionpay::sign::{self, Params};
use campuspay_channels::unionpay::{Unionpay, UnionpayConfig, UnionpayProduct, api};
use campuspay_channels::{ChannelError, CreateOrder, HeaderMap, PayAction, PayFlow, PaymentChannel, Provider, ProviderStatus};
use campuspay_domain::Fen;
use campuspay_sandbox::unionpay::{UnionpayProviderSide, self_signed_cert};
use std::sync::OnceLock;

struct Keys {
    merchant: GeneratedKeyPair,
    platform: GeneratedKeyPair,
    cert: String,
    other: GeneratedKeyPair,
    other_cert: String,
}

fn keys() -> &'static Keys {
    static K: OnceLock<Keys> = OnceLock::new();
    K.get_or_init(|| {
        let cert = |kp: &GeneratedKeyPair, serial| {
            let s = RsaSigner::from_pem(&kp.private_pkcs8_pem).unwrap();
            self_signed_cert(&s, &kp.public_spki_pem, serial, "银联测试").unwrap()
        };
        let platform = generate_rsa_2048().unwrap();
        let other = generate_rsa_2048().unwrap();
        Keys {
            merchant: generate_rsa_2048().unwrap(),
            cert: cert(&platform, 70_000_000_001),
            other_cert: cert(&other, 70_000_000_002),
            platform,
            other,
        }
    })
}

const MER_ID: &str = "777290058110048";
const CERT_ID: &str = "68759585097";

fn config(product: UnionpayProduct) -> UnionpayConfig {
    let k = keys();
    UnionpayConfig {
        product,
        mer_id: MER_ID.into(),
        cert_id: CERT_ID.into(),
        private_key_pem: k.merchant.private_pkcs8_pem.clone(),
        unionpay_public_key_pem: k.cert.clone(),
        root_cert_pem: None,
        middle_cert_pem: None,
        validate_cn_name: true,
        base_url: "http://127.0.0.1:1/gateway/api".into(),
        notify_url: "https://school.example/notify/unionpay".into(),
        front_url: "https://school.example/paid".into(),
        file_transfer_url: None,
    }
}

fn provider_side(signer: &GeneratedKeyPair, cert: &str) -> UnionpayProviderSide {
    let k = keys();
    UnionpayProviderSide {
        signer: RsaSigner::from_pem(&signer.private_pkcs8_pem).unwrap(),
        cert_pem: cert.to_string(),
        mer_id: MER_ID.into(),
        merchant_cert_id: CERT_ID.into(),
        merchant_key: RsaVerifier::from_pem(&k.merchant.public_spki_pem).unwrap(),
    }
}

fn unionpay_side() -> UnionpayProviderSide {
    provider_side(&keys().platform, &keys().cert)
}

fn order(no: &str, flow: PayFlow) -> CreateOrder {
    CreateOrder {
        out_trade_no: no.into(),
        description: "2024学年学费".into(),
        amount: Fen(520_000),
        expires_at: Some(1_725_170_400), // 2024-09-01 14:00:00 Shanghai
        flow,
        return_url: None,
    }
}

fn form_fields(action: PayAction) -> (String, Params) {
    match action {
        PayAction::Form { action, fields } => (action, fields),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_gateway_form_carries_the_published_fields_and_verifies_at_unionpay() {
    let up = Unionpay::new(config(UnionpayProduct::Gateway)).unwrap();
    let now = 1_725_163_200; // 2024-09-01 12:00:00 Shanghai
    let (action, f) = form_fields(up.gateway_form(&order("20240901000001", PayFlow::Page), now).unwrap());
    assert_eq!(action, "http://127.0.0.1:1/gateway/api/frontTransReq.do");
    for (k, v) in [
        ("version", "5.1.0"),
        ("encoding", "UTF-8"),
        ("signMethod", "01"),
        ("txnType", "01"),
        ("txnSubType", "01"),
        ("bizType", "000201"),
        ("channelType", "07"),
        ("accessType", "0"),
        ("merId", MER_ID),
        ("certId", CERT_ID),
        ("orderId", "20240901000001"),
        ("txnTime", "20240901120000"),
        ("txnAmt", "520000"),
        ("currencyCode", "156"),
        ("payTimeout", "20240901140000"),
        ("frontUrl", "https://school.example/paid"),
        ("backUrl", "https://school.example/notify/unionpay"),
    ] {
        assert_eq!(f.get(k).map(String::as_str), Some(v), "{k}");
    }
    assert_eq!(up.order_reference("20240901000001").as_deref(), Some("20240901120000"));
    let side = unionpay_side();
    let body = sign::encode_form(&f);
    assert_eq!(side.verify_request(body.as_bytes()).unwrap(), f);

    let (_, f) = form_fields(up.gateway_form(&order("20240901000002", PayFlow::Mobile { client_ip: "1.2.3.4".into() }), now).unwrap());
    assert_eq!(f["channelType"], "08");

    // Tampered fields, another merchant, another certId, another key: all refused.
    for (k, v) in [("txnAmt", "1"), ("orderId", "20240901000003"), ("signature", "AAAA")] {
        let mut t = f.clone();
        t.insert(k.into(), v.into());
        let r = side.verify_request(sign::encode_form(&t).as_bytes());
        assert_eq!(r.unwrap_err().code, "11", "{k}");
    }
    let mut t = f.clone();
    t.insert("merId".into(), "777290058110099".into());
    assert_eq!(side.verify_request(sign::encode_form(&t).as_bytes()).unwrap_err().code, "10");
    let mut c = config(UnionpayProduct::Gateway);
    c.cert_id = "1".into();
    let (_, f) = form_fields(Unionpay::new(c).unwrap().gateway_form(&order("20240901000004", PayFlow::Page), now).unwrap());
    assert_eq!(side.verify_request(sign::encode_form(&f).as_bytes()).unwrap_err().code, "11");
}

#[test]
fn orders_unionpay_cannot_take_are_refused_before_signing() {
    let up = Unionpay::new(config(UnionpayProduct::Gateway)).unwrap();
    for (no, flow) in
        [("2024-09-01-0001", PayFlow::Page), ("SHORT", PayFlow::Page), ("20240901000001", PayFlow::InApp { openid: "o".into() })]
    {
        assert!(up.gateway_form(&order(no, flow), 0).is_err(), "{no}");
    }
    let mut zero = order("20240901000001", PayFlow::Page);
    zero.amount = Fen(0);
    assert!(up.gateway_form(&zero, 0).is_err());
}

fn answer_params(extra: &[(&str, &str)]) -> Params {
    let mut p = Params::new();
    for (k, v) in [
        ("merId", MER_ID),
        ("orderId", "20240901000001"),
        ("txnTime", "20240901120000"),
        ("txnType", "00"),
        ("respCode", "00"),
        ("respMsg", "成功[0000000]"),
    ]
    .iter()
    .chain(extra)
    {
        p.insert(k.to_string(), v.to_string());
    }
    p
}

#[test]
fn answers_verify_only_when_signed_by_the_pinned_key_for_our_merchant() {
    let up = Unionpay::new(config(UnionpayProduct::Qr)).unwrap();
    let paid = [("origRespCode", "00"), ("queryId", "202409011200001700001"), ("txnAmt", "520000"), ("traceTime", "0901120001")];
    let body = unionpay_side().answer(answer_params(&paid)).unwrap();
    assert!(body.contains("signPubKeyCert=-----BEGIN CERTIFICATE-----"));
    let p = up.verify_answer(&body).unwrap();
    assert_eq!(
        api::parse_query(&p).unwrap(),
        ProviderStatus::Paid { transaction_id: "202409011200001700001".into(), amount: Fen(520_000), paid_at: Some("0901120001".into()) }
    );
    let tampered = body.replace("txnAmt=520000", "txnAmt=520001");
    assert!(matches!(up.verify_answer(&tampered), Err(ChannelError::BadSignature)));
    // Signed by another key that ships its own certificate: not the pinned one.
    let k = keys();
    let forged = provider_side(&k.other, &k.other_cert).answer(answer_params(&paid)).unwrap();
    assert!(matches!(up.verify_answer(&forged), Err(ChannelError::UnknownSerial(_))));
    // Signed by another key that claims the pinned certificate.
    let forged = provider_side(&k.other, &k.cert).answer(answer_params(&paid)).unwrap();
    assert!(matches!(up.verify_answer(&forged), Err(ChannelError::BadSignature)));
    let mut other = answer_params(&paid);
    other.insert("merId".into(), "777290058110099".into());
    let body = unionpay_side().answer(other).unwrap();
    assert!(matches!(up.verify_answer(&body), Err(ChannelError::WrongMerchant(_))));
    // Unsigned: an error code is passed on as the provider's; a "success" is never trusted.
    match up.verify_answer("respCode=11&respMsg=验证签名失败") {
        Err(ChannelError::Provider { code, .. }) => assert_eq!(code, "11"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(up.verify_answer("respCode=00&respMsg=ok&merId=777290058110048"), Err(ChannelError::BadSignature)));
}

fn notice(extra: &[(&str, &str)]) -> Params {
    let mut p = Params::new();
    for (k, v) in [
        ("accessType", "0"),
        ("bizType", "000201"),
        ("currencyCode", "156"),
        ("merId", MER_ID),
        ("orderId", "20240901000001"),
        ("queryId", "202409011200001600001"),
        ("respCode", "00"),
        ("respMsg", "成功[0000000]"),
        ("traceTime", "0901120130"),
        ("txnAmt", "520000"),
        ("txnSubType", "01"),
        ("txnTime", "20240901120000"),
        ("txnType", "01"),
    ]
    .iter()
    .chain(extra)
    {
        p.insert(k.to_string(), v.to_string());
    }
    p
}

fn signed_notice(side: &UnionpayProviderSide, p: Params) -> String {
    let mut p = p;
    side.sign(&mut p).unwrap();
    sign::encode_form(&p)
}

#[test]
fn back_notifications_are_verified_and_cross_checked() {
    let up = Unionpay::new(config(UnionpayProduct::Gateway)).unwrap();
    let h = HeaderMap::new();
    let body = signed_notice(&unionpay_side(), notice(&[]));
    let n = up.verify_notification(&h, body.as_bytes(), 0).unwrap();
    assert!(n.paid);
    assert_eq!((n.out_trade_no.as_str(), n.amount, n.transaction_id.as_str()), ("20240901000001", Fen(520_000), "202409011200001600001"));
    assert_eq!((n.merchant_id.as_str(), n.provider_status.as_str()), (MER_ID, "01:00"));
    // The notification tells us the txnTime, so the order can be queried after a restart.
    assert_eq!(up.order_reference("20240901000001").as_deref(), Some("20240901120000"));

    let refused = |body: &str| up.verify_notification(&h, body.as_bytes(), 0).unwrap_err();
    for (from, to) in
        [("txnAmt=520000", "txnAmt=1"), ("orderId=20240901000001", "orderId=20240901000009"), ("signMethod=01", "signMethod=02")]
    {
        let t = body.replace(from, to);
        assert_ne!(t, body);
        assert!(matches!(refused(&t), ChannelError::BadSignature), "{from}");
    }
    let other_mer = signed_notice(&unionpay_side(), notice(&[("merId", "777290058110099")]));
    assert!(matches!(refused(&other_mer), ChannelError::WrongMerchant(_)));
    let k = keys();
    let forged = signed_notice(&provider_side(&k.other, &k.other_cert), notice(&[]));
    assert!(matches!(refused(&forged), ChannelError::UnknownSerial(_)));
    let unsigned = sign::encode_form(&notice(&[("signMethod", "01"), ("version", "5.1.0")]));
    assert!(matches!(refused(&unsigned), ChannelError::BadSignature));

    // Not a payment: failed, or a refund's notification to the same backUrl.
    let failed = signed_notice(&unionpay_side(), notice(&[("respCode", "01")]));
    assert!(!up.verify_notification(&h, failed.as_bytes(), 0).unwrap().paid);
    let refund = signed_notice(&unionpay_side(), notice(&[("txnType", "04")]));
    let n = up.verify_notification(&h, refund.as_bytes(), 0).unwrap();
    assert_eq!((n.paid, n.provider_status.as_str()), (false, "04:00"));
}

#[test]
fn ack_form_page_and_references() {
    let up = Unionpay::new(config(UnionpayProduct::Gateway)).unwrap();
    assert_eq!((up.ack(true).status, up.ack(true).body.as_str()), (200, "ok"));
    assert_ne!(up.ack(false).status, 200);
    let action = up.gateway_form(&order("20240901000001", PayFlow::Page), 1_725_163_200).unwrap();
    let html = action.auto_submit_html().unwrap();
    assert!(html.contains("action=\"http://127.0.0.1:1/gateway/api/frontTransReq.do\""));
    assert!(html.contains("name=\"txnAmt\" value=\"520000\""));
    assert!(html.contains(".submit()"));
    assert!(PayAction::Qr { content: "x".into() }.auto_submit_html().is_none());
    // Without a txnTime there is nothing UnionPay could find: said plainly, not guessed.
    let fresh = Unionpay::new(config(UnionpayProduct::Qr)).unwrap();
    fresh.restore_order_reference("20240901000009", "not a time");
    assert_eq!(fresh.order_reference("20240901000009"), None);
    fresh.restore_order_reference("20240901000009", "20240901120000");
    assert_eq!(fresh.order_reference("20240901000009").as_deref(), Some("20240901120000"));
    // Config round trip as the school's JSON holds it.
    let json = serde_json::to_value(campuspay_channels::ChannelConfig::Unionpay(config(UnionpayProduct::Qr))).unwrap();
    assert_eq!((json["provider"].as_str(), json["product"].as_str()), (Some("unionpay"), Some("qr")));
    let back: campuspay_channels::ChannelConfig = serde_json::from_value(json).unwrap();
    assert_eq!(back.build().unwrap().provider(), Provider::Unionpay);
    assert!(!format!("{back:?}").contains("PRIVATE"));
}
