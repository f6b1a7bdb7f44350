//! The WeChat Pay adapter against the sandbox's provider side: signed requests, signed
//! responses and encrypted notifications, in both directions, and their refusals.

use campuspay_channels::crypto::{GeneratedKeyPair, RsaSigner, RsaVerifier, generate_rsa_2048};
use campuspay_channels::wechatpay::sign::{self, AuthorizationParts};
use campuspay_channels::wechatpay::{PlatformKey, WechatPay, WechatPayConfig, api};
use campuspay_channels::{ChannelError, HeaderMap, PaymentChannel, PreparedRequest, RawResponse};
use campuspay_domain::Fen;
use campuspay_sandbox::wechat::WechatProviderSide;
use std::sync::OnceLock;

const NOW: i64 = 1_700_000_000;
const APIV3: &str = "0123456789abcdefghijABCDEFGHIJ01";

fn keys() -> &'static (GeneratedKeyPair, GeneratedKeyPair) {
    static K: OnceLock<(GeneratedKeyPair, GeneratedKeyPair)> = OnceLock::new();
    K.get_or_init(|| (generate_rsa_2048().unwrap(), generate_rsa_2048().unwrap()))
}

fn config() -> WechatPayConfig {
    let (merchant, platform) = keys();
    WechatPayConfig {
        mchid: "1900009191".into(),
        appid: "wxd678efh567hg6787".into(),
        merchant_serial_no: "5157F09EFDC096DE15EBE81A47057A7232F1B8E1".into(),
        merchant_private_key_pem: merchant.private_pkcs8_pem.clone(),
        apiv3_key: APIV3.into(),
        platform_keys: vec![PlatformKey { serial: Some("PUB_KEY_ID_0119000091912024".into()), pem: platform.public_spki_pem.clone() }],
        notify_url: "http://127.0.0.1:8080/notify/wechatpay".into(),
        base_url: "http://127.0.0.1:9".into(),
        official_account_secret: None,
    }
}

fn provider() -> WechatProviderSide {
    let (merchant, platform) = keys();
    WechatProviderSide {
        platform_signer: RsaSigner::from_pem(&platform.private_pkcs8_pem).unwrap(),
        platform_serial: "PUB_KEY_ID_0119000091912024".into(),
        mchid: "1900009191".into(),
        merchant_serial_no: "5157F09EFDC096DE15EBE81A47057A7232F1B8E1".into(),
        merchant_key: RsaVerifier::from_pem(&merchant.public_spki_pem).unwrap(),
        apiv3_key: APIV3.into(),
    }
}

fn auth_of(req: &PreparedRequest) -> &str {
    &req.headers.iter().find(|(k, _)| *k == "Authorization").unwrap().1
}

#[test]
fn signed_request_is_accepted_by_the_provider_side_and_tampering_is_not() {
    let wp = WechatPay::new(config()).unwrap();
    let p = provider();
    let body = r#"{"mchid":"1900009191"}"#.to_string();
    let req = wp.prepare("POST", "/v3/pay/transactions/native", body.clone(), NOW).unwrap();
    assert_eq!(req.url, "http://127.0.0.1:9/v3/pay/transactions/native");
    assert!(auth_of(&req).starts_with("WECHATPAY2-SHA256-RSA2048 mchid=\"1900009191\","));
    assert_eq!(p.verify_request("POST", "/v3/pay/transactions/native", auth_of(&req), &body, NOW).unwrap(), "1900009191");
    assert!(matches!(
        p.verify_request("POST", "/v3/pay/transactions/native", auth_of(&req), r#"{"mchid":"1900009192"}"#, NOW),
        Err(ChannelError::BadSignature)
    ));
    assert!(matches!(p.verify_request("POST", "/v3/pay/transactions/h5", auth_of(&req), &body, NOW), Err(ChannelError::BadSignature)));
    assert!(matches!(
        p.verify_request("POST", "/v3/pay/transactions/native", auth_of(&req), &body, NOW + 301),
        Err(ChannelError::StaleTimestamp)
    ));
    let other = AuthorizationParts::parse(auth_of(&req)).unwrap();
    let forged = AuthorizationParts { mchid: "1900000000".into(), ..other.clone() }.to_header();
    assert!(matches!(p.verify_request("POST", "/v3/pay/transactions/native", &forged, &body, NOW), Err(ChannelError::WrongMerchant(_))));
    let forged = AuthorizationParts { serial_no: "00".into(), ..other }.to_header();
    assert!(matches!(p.verify_request("POST", "/v3/pay/transactions/native", &forged, &body, NOW), Err(ChannelError::UnknownSerial(_))));
}

fn raw(status: u16, headers: HeaderMap, body: &str) -> RawResponse {
    RawResponse { status, headers, body: body.to_string() }
}

#[test]
fn responses_must_be_signed_by_a_known_key_and_fresh() {
    let wp = WechatPay::new(config()).unwrap();
    let p = provider();
    let body = r#"{"code_url":"weixin://wxpay/bizpayurl?pr=p4lpSuKzz"}"#;
    let h = p.sign_headers(body, NOW).unwrap();
    wp.check_response(&raw(200, h.clone(), body), NOW).unwrap();
    assert!(matches!(api::parse_create(body).unwrap(), api::Created::CodeUrl(u) if u.starts_with("weixin://")));
    assert!(matches!(wp.check_response(&raw(200, h.clone(), r#"{"code_url":"weixin://evil"}"#), NOW), Err(ChannelError::BadSignature)));
    assert!(matches!(wp.check_response(&raw(200, h.clone(), body), NOW + 301), Err(ChannelError::StaleTimestamp)));
    assert!(matches!(wp.check_response(&raw(200, HeaderMap::new(), body), NOW), Err(ChannelError::Malformed(_))), "unsigned 2xx is forged");
    let mut wrong = h.clone();
    wrong.insert(sign::HEADER_SERIAL, "PUB_KEY_ID_OTHER".parse().unwrap());
    assert!(matches!(wp.check_response(&raw(200, wrong, body), NOW), Err(ChannelError::UnknownSerial(_))));
    // A key under the right serial but from someone else.
    let mut impostor = provider();
    impostor.platform_signer = RsaSigner::from_pem(&keys().0.private_pkcs8_pem).unwrap();
    let h2 = impostor.sign_headers(body, NOW).unwrap();
    assert!(matches!(wp.check_response(&raw(200, h2, body), NOW), Err(ChannelError::BadSignature)));
    let err = wp.check_response(&raw(404, HeaderMap::new(), r#"{"code":"ORDER_NOT_EXIST","message":"订单不存在"}"#), NOW);
    assert!(matches!(err, Err(ChannelError::Provider { status: 404, ref code, .. }) if code == "ORDER_NOT_EXIST"));
}

fn transaction(mchid: &str, appid: &str, state: &str) -> String {
    serde_json::json!({
        "appid": appid, "mchid": mchid, "out_trade_no": "CP20240901000001",
        "transaction_id": "4200000000202409010000000001", "trade_type": "NATIVE",
        "trade_state": state, "trade_state_desc": "支付成功", "success_time": "2024-09-01T10:00:00+08:00",
        "payer": { "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" },
        "amount": { "total": 300000, "payer_total": 300000, "currency": "CNY", "payer_currency": "CNY" },
    })
    .to_string()
}

#[test]
fn notification_is_verified_decrypted_and_cross_checked() {
    let wp = WechatPay::new(config()).unwrap();
    let p = provider();
    let (h, body) = p.notification("TRANSACTION.SUCCESS", &transaction("1900009191", "wxd678efh567hg6787", "SUCCESS"), NOW).unwrap();
    let n = wp.verify_notification(&h, body.as_bytes(), NOW + 10).unwrap();
    assert_eq!(
        (n.out_trade_no.as_str(), n.transaction_id.as_str(), n.amount, n.paid),
        ("CP20240901000001", "4200000000202409010000000001", Fen(300000), true)
    );
    assert_eq!((n.merchant_id.as_str(), n.app_id.as_str()), ("1900009191", "wxd678efh567hg6787"));

    assert!(matches!(
        wp.verify_notification(&h, body.replace("TRANSACTION.SUCCESS", "TRANSACTION.FAKE").as_bytes(), NOW),
        Err(ChannelError::BadSignature)
    ));
    assert!(matches!(wp.verify_notification(&h, body.as_bytes(), NOW - 301), Err(ChannelError::StaleTimestamp)));

    let (h, body) = p.notification("TRANSACTION.SUCCESS", &transaction("1900000001", "wxd678efh567hg6787", "SUCCESS"), NOW).unwrap();
    assert!(matches!(wp.verify_notification(&h, body.as_bytes(), NOW), Err(ChannelError::WrongMerchant(_))), "other merchant");
    let (h, body) = p.notification("TRANSACTION.SUCCESS", &transaction("1900009191", "wx0000000000000000", "SUCCESS"), NOW).unwrap();
    assert!(matches!(wp.verify_notification(&h, body.as_bytes(), NOW), Err(ChannelError::WrongMerchant(_))), "other app");

    // Signed correctly but encrypted with another APIv3 key: not ours.
    let mut other = provider();
    other.apiv3_key = "ffffffffffffffffffffffffffffffff".into();
    let (h, body) = other.notification("TRANSACTION.SUCCESS", &transaction("1900009191", "wxd678efh567hg6787", "SUCCESS"), NOW).unwrap();
    assert!(matches!(wp.verify_notification(&h, body.as_bytes(), NOW), Err(ChannelError::Crypto(_))));
}

#[test]
fn notification_serial_selects_the_key_across_modes() {
    // A second platform key under another serial (as during a certificate → public key move).
    let extra = generate_rsa_2048().unwrap();
    let mut c = config();
    c.platform_keys
        .push(PlatformKey { serial: Some("5157F09EFDC096DE15EBE81A47057A7232F1B8E2".into()), pem: extra.public_spki_pem.clone() });
    let wp = WechatPay::new(c).unwrap();
    let mut p = provider();
    p.platform_signer = RsaSigner::from_pem(&extra.private_pkcs8_pem).unwrap();
    p.platform_serial = "5157f09efdc096de15ebe81a47057a7232f1b8e2".into();
    let (h, body) = p.notification("TRANSACTION.SUCCESS", &transaction("1900009191", "wxd678efh567hg6787", "SUCCESS"), NOW).unwrap();
    assert!(wp.verify_notification(&h, body.as_bytes(), NOW).unwrap().paid);
    // Same key, announced under the other serial: refused.
    let mut h2 = h.clone();
    h2.insert(sign::HEADER_SERIAL, "PUB_KEY_ID_0119000091912024".parse().unwrap());
    assert!(matches!(wp.verify_notification(&h2, body.as_bytes(), NOW), Err(ChannelError::BadSignature)));
    // A public key without its PUB_KEY_ID is a configuration error.
    let mut c = config();
    c.platform_keys[0].serial = None;
    assert!(matches!(WechatPay::new(c), Err(ChannelError::Config(_))));
}
