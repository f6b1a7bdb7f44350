//! The WeChat Pay adapter's pure halves: published message formats, request bodies, answer
//! parsing. Its round trips with the provider side (signed requests, signed responses,
//! encrypted notifications) are tested in `campuspay-sandbox` (`tests/adapters/wechatpay.rs`).

use super::*;
use crate::crypto::RsaVerifier;
use crate::crypto::{GeneratedKeyPair, generate_rsa_2048};
use crate::{PayFlow, RefundStatus};
use campuspay_domain::Fen;
use std::sync::OnceLock;

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

#[test]
fn published_request_message_format() {
    // The example of the signature guide: GET /v3/certificates at 1554208460.
    assert_eq!(
        sign::request_message("GET", "/v3/certificates", 1554208460, "593BEC0C930BF1AFEB40B4A08C8FB242", ""),
        "GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n"
    );
}

use sign::AuthorizationParts;

#[test]
fn authorization_parses_in_any_order_and_refuses_duplicates() {
    let h = r#"WECHATPAY2-SHA256-RSA2048 serial_no="AB",timestamp="1554208460",mchid="1900009191",signature="c2ln",nonce_str="N""#;
    let a = AuthorizationParts::parse(h).unwrap();
    assert_eq!((a.mchid.as_str(), a.serial_no.as_str(), a.timestamp, a.signature.as_str()), ("1900009191", "AB", 1554208460, "c2ln"));
    assert_eq!(AuthorizationParts::parse(&a.to_header()).unwrap(), a);
    assert!(AuthorizationParts::parse(&format!("{h},mchid=\"1\"")).is_err());
    assert!(AuthorizationParts::parse("Bearer x").is_err());
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
fn query_states_map_to_provider_status() {
    let c = config();
    let st = api::parse_query(&transaction("1900009191", "wxd678efh567hg6787", "SUCCESS"), &c).unwrap();
    assert_eq!(
        st,
        ProviderStatus::Paid {
            transaction_id: "4200000000202409010000000001".into(),
            amount: Fen(300000),
            paid_at: Some("2024-09-01T10:00:00+08:00".into())
        }
    );
    assert_eq!(api::parse_query(&transaction("1900009191", "wxd678efh567hg6787", "NOTPAY"), &c).unwrap(), ProviderStatus::NotPaid);
    assert_eq!(api::parse_query(&transaction("1900009191", "wxd678efh567hg6787", "CLOSED"), &c).unwrap(), ProviderStatus::Closed);
    assert_eq!(api::parse_query(&transaction("1900009191", "wxd678efh567hg6787", "USERPAYING"), &c).unwrap(), ProviderStatus::Paying);
    assert!(matches!(
        api::parse_query(&transaction("1900009191", "wxd678efh567hg6787", "REFUND"), &c).unwrap(),
        ProviderStatus::Refunded { .. }
    ));
    assert!(matches!(
        api::parse_query(&transaction("1900000001", "wxd678efh567hg6787", "SUCCESS"), &c),
        Err(ChannelError::WrongMerchant(_))
    ));
    assert_eq!(api::query_path("CP20240901000001", "1900009191"), "/v3/pay/transactions/out-trade-no/CP20240901000001?mchid=1900009191");
    assert_eq!(api::close_path("CP20240901000001"), "/v3/pay/transactions/out-trade-no/CP20240901000001/close");
}

fn order(flow: PayFlow) -> CreateOrder {
    CreateOrder {
        out_trade_no: "CP20240901000001".into(),
        description: "2024学年学费".into(),
        amount: Fen(300000),
        expires_at: Some(1_725_156_000),
        flow,
        return_url: None,
    }
}

#[test]
fn create_bodies_follow_the_published_fields() {
    let c = config();
    let (path, body) = api::create_body(&c, &order(PayFlow::Qr)).unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(path, "/v3/pay/transactions/native");
    assert_eq!(v["amount"]["total"], 300000);
    assert_eq!(v["time_expire"], "2024-09-01T10:00:00+08:00");
    let (path, body) = api::create_body(&c, &order(PayFlow::Mobile { client_ip: "203.0.113.5".into() })).unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (path, &v["scene_info"]["payer_client_ip"], &v["scene_info"]["h5_info"]["type"]),
        ("/v3/pay/transactions/h5", &"203.0.113.5".into(), &"Wap".into())
    );
    let (path, body) = api::create_body(&c, &order(PayFlow::InApp { openid: "oUpF8u".into() })).unwrap();
    assert_eq!(
        (path, serde_json::from_str::<serde_json::Value>(&body).unwrap()["payer"]["openid"].clone()),
        ("/v3/pay/transactions/jsapi", "oUpF8u".into())
    );
    let mut bad = order(PayFlow::Qr);
    bad.out_trade_no = "../../v3/refund".into();
    assert!(api::create_body(&c, &bad).is_err(), "order numbers go into URL paths");
    bad = order(PayFlow::Qr);
    bad.amount = Fen(0);
    assert!(api::create_body(&c, &bad).is_err());
}

#[test]
fn jsapi_pay_sign_is_over_the_published_message() {
    let wp = WechatPay::new(config()).unwrap();
    let params = wp.jsapi_params("wx201410272009395522657a690389285100", 1414561699).unwrap();
    let json = serde_json::to_value(&params).unwrap();
    for k in ["appId", "timeStamp", "nonceStr", "package", "signType", "paySign"] {
        assert!(json.get(k).is_some(), "{k}");
    }
    assert_eq!(params.package, "prepay_id=wx201410272009395522657a690389285100");
    assert_eq!(params.sign_type, "RSA");
    let msg = format!("{}\n{}\n{}\n{}\n", params.app_id, params.time_stamp, params.nonce_str, params.package);
    let merchant = RsaVerifier::from_pem(&keys().0.public_spki_pem).unwrap();
    merchant.verify_b64(msg.as_bytes(), &params.pay_sign).unwrap();
}

#[test]
fn refund_and_ack() {
    let req = RefundRequest {
        out_trade_no: "CP20240901000001".into(),
        out_refund_no: "RF20240901000001".into(),
        refund: Fen(100),
        total: Fen(300000),
        reason: None,
    };
    let v: serde_json::Value = serde_json::from_str(&api::refund_body(&req, "http://x/notify")).unwrap();
    assert_eq!(
        (v["amount"]["refund"].as_i64(), v["amount"]["total"].as_i64(), v["out_refund_no"].as_str()),
        (Some(100), Some(300000), Some("RF20240901000001"))
    );
    let r = api::parse_refund(r#"{"refund_id":"50000000382019052709732678859","out_refund_no":"RF20240901000001","status":"PROCESSING","amount":{"refund":100,"total":300000}}"#).unwrap();
    assert_eq!((r.status, r.amount), (RefundStatus::Processing, Fen(100)));
    let wp = WechatPay::new(config()).unwrap();
    assert_eq!(wp.ack(true).status, 204);
    let fail = wp.ack(false);
    assert!(fail.status >= 400);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&fail.body).unwrap()["code"], "FAIL");
}

#[test]
fn config_deserializes_from_school_json() {
    let json = serde_json::to_string(&crate::ChannelConfig::Wechatpay(config())).unwrap();
    let back: crate::ChannelConfig = serde_json::from_str(&json).unwrap();
    assert!(matches!(back, crate::ChannelConfig::Wechatpay(ref c) if c.mchid == "1900009191"));
    assert_eq!(back.build().unwrap().provider(), Provider::Wechatpay);
    let dbg = format!("{back:?}");
    assert!(!dbg.contains("PRIVATE KEY") && !dbg.contains(APIV3), "secrets stay out of logs");
    let mut short = config();
    short.apiv3_key = "short".into();
    assert!(WechatPay::new(short).is_err());
}
