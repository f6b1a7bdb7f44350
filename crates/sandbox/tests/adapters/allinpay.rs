//! The 通联收银宝 adapter against the sandbox's provider side: what the merchant signs 通联
//! verifies (and a changed field or another merchant's key it refuses); what 通联 signs the
//! adapter verifies, and a `retcode=FAIL` is reported as 通联's error.

use campuspay_channels::allinpay::sign::{self, Sha1RsaSigner, Sha1RsaVerifier};
use campuspay_channels::allinpay::{Allinpay, AllinpayConfig};
use campuspay_channels::crypto::{GeneratedKeyPair, generate_rsa_2048};
use campuspay_channels::{ChannelError, CreateOrder, PayFlow};
use campuspay_domain::Fen;
use campuspay_sandbox::allinpay::{AllinpayProviderSide, Refusal};
use std::sync::OnceLock;

const NOW: i64 = 1_725_156_000;

fn keys() -> &'static (GeneratedKeyPair, GeneratedKeyPair) {
    static K: OnceLock<(GeneratedKeyPair, GeneratedKeyPair)> = OnceLock::new();
    K.get_or_init(|| (generate_rsa_2048().unwrap(), generate_rsa_2048().unwrap()))
}

fn adapter() -> Allinpay {
    let (merchant, allinpay) = keys();
    Allinpay::new(AllinpayConfig {
        cusid: "990581007426001".into(),
        appid: "00000051".into(),
        private_key_pem: merchant.private_pkcs8_pem.clone(),
        allinpay_public_key_pem: allinpay.public_spki_pem.clone(),
        base_url: "http://127.0.0.1:9".into(),
        cashier_url: "http://127.0.0.1:9".into(),
        notify_url: "http://127.0.0.1:8080/notify/allinpay/qdou".into(),
        return_url: String::new(),
    })
    .unwrap()
}

fn provider() -> AllinpayProviderSide {
    let (merchant, allinpay) = keys();
    AllinpayProviderSide {
        signer: Sha1RsaSigner::from_pem(&allinpay.private_pkcs8_pem).unwrap(),
        cusid: "990581007426001".into(),
        appid: "00000051".into(),
        merchant_key: Sha1RsaVerifier::from_pem(&merchant.public_spki_pem).unwrap(),
    }
}

#[test]
fn the_cashier_code_verifies_at_allinpay_and_a_changed_one_does_not() {
    let order = CreateOrder {
        out_trade_no: "202612040000000000000000000001".into(),
        description: "学费".into(),
        amount: Fen(240_000),
        expires_at: Some(NOW + 1800),
        flow: PayFlow::Qr,
        return_url: Some("http://127.0.0.1:8080/s/qdou/orders/1".into()),
    };
    let code = adapter().cashier_code(&order, NOW).unwrap();
    let query = code.split_once('?').unwrap().1;
    let p = sign::parse_form(query.as_bytes()).unwrap();
    provider().verify_request(&p).unwrap();
    assert_eq!(p["validtime"], "30");
    let mut changed = p.clone();
    changed.insert("trxamt".into(), "1".into());
    assert_eq!(provider().verify_request(&changed), Err(Refusal("签名验证失败".into())));
    let mut other = p;
    other.insert("cusid".into(), "990581007426999".into());
    assert!(provider().verify_request(&other).unwrap_err().0.contains("商户号"));
}

#[test]
fn allinpays_answers_verify_and_its_refusals_are_errors() {
    let body = provider().answer(vec![("trxstatus", "1001".into()), ("errmsg", "交易不存在".into())]).unwrap();
    let p = adapter().verify_answer(&body).unwrap();
    assert_eq!(p["trxstatus"], "1001");
    let forged = body.replace("1001", "0000");
    assert!(matches!(adapter().verify_answer(&forged), Err(ChannelError::BadSignature)));
    let refused = AllinpayProviderSide::refusal(&Refusal("签名验证失败".into()));
    match adapter().verify_answer(&refused) {
        Err(ChannelError::Provider { code, message, .. }) => assert_eq!((code.as_str(), message.as_str()), ("FAIL", "签名验证失败")),
        other => panic!("{other:?}"),
    }
}
