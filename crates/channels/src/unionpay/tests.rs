//! UnionPay ACP: the signing rule against an independent implementation (OpenSSL) and answer
//! parsing. Round trips with the provider side (forms, answers and notifications signed with a
//! UnionPay certificate the sandbox makes) and their refusals are tested in `campuspay-sandbox`
//! (`tests/adapters/unionpay.rs`).

use super::*;
use crate::crypto::RsaVerifier;
use campuspay_domain::Fen;

/// ACP publishes its test merchant (777290058110048) with keys only inside a password-protected
/// PKCS#12 file and no signed example message, so there is no published vector to check
/// against. Instead: a key made by `openssl genpkey`, and the signature OpenSSL computed for the
/// ACP rule (`printf %s "$(printf %s "$msg" | sha256sum | cut -c1-64)" | openssl dgst -sha256
/// -sign key.pem | base64`). PKCS#1 v1.5 is deterministic, so ours must match byte for byte.
const KAT_KEY: &str = include_str!("testdata/openssl_kat_private_key.pem");
const KAT_MESSAGE: &str = "accessType=0&bizType=000201&certId=69629715588&channelType=07&\
currencyCode=156&encoding=UTF-8&merId=777290058110048&orderId=20240901000001&signMethod=01&\
txnAmt=1000&txnSubType=01&txnTime=20240901120000&txnType=01&version=5.1.0";

const KAT_DIGEST: &str = "3b84a21b8b9d49dec0f0a0d3ebfe048436177a46962c61ccd1a13306fab28c8a";
const KAT_SIGNATURE: &str = "jv4rqX9qPUap2LfYgBMNtfa8u/4VzUMQskDIHwjqzKSNRvpi43Yv5AIQwRvKY2HQdoEV5hDh/E+6Jepg17Fnvpdr2S2AGY1TH92HCfajApHUQBxnpH9h/DT9MtjunYHLjAGmoVBpWAFaEoZGcxoX3TW49NGVngbj2XsxJE2pb7KdbtjuJxYwOJcY7cLXBsXmFzdaAr4IvpZoF/MSMfeMZtWVC9+0YFAit5tlbWquFLBjZ+k6ey+l1vNLLluM1SCAkeIAfxY8p+CC3wIlXRKgKjAAjfg156U+fZAZVcjqYRvRCucqIoPCy3Ri/onsUCQbW6tJyqNISp7i0KGJfnqPeg==";

fn kat_params() -> Params {
    KAT_MESSAGE
        .split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect()
}

#[test]
fn signing_matches_openssl_for_the_acp_rule() {
    let mut p = kat_params();
    // Out of order on purpose, with a blank field the SDKs drop before signing.
    p.insert("reqReserved".into(), " ".into());
    assert_eq!(sign::sign_string(&kat_params()), KAT_MESSAGE);
    assert_eq!(sign::sha256_hex(KAT_MESSAGE), KAT_DIGEST);
    let signer = RsaSigner::from_pem(KAT_KEY).unwrap();
    sign::sign(&signer, &mut p).unwrap();
    assert!(!p.contains_key("reqReserved"));
    assert_eq!(p["signature"], KAT_SIGNATURE);
    // The signature covers the hex text, not the raw digest nor the message itself.
    let public = aws_lc_rs::signature::KeyPair::public_key(
        &aws_lc_rs::rsa::KeyPair::from_pkcs8(&crate::crypto::pem_to_der(KAT_KEY).unwrap().1).unwrap(),
    )
    .as_ref()
    .to_vec();
    let v = RsaVerifier::from_pem(&crate::crypto::der_to_pem("RSA PUBLIC KEY", &public)).unwrap();
    v.verify_b64(KAT_DIGEST.as_bytes(), KAT_SIGNATURE).unwrap();
    assert!(v.verify_b64(KAT_MESSAGE.as_bytes(), KAT_SIGNATURE).is_err());
    sign::verify(&v, &p).unwrap();
}

const MER_ID: &str = "777290058110048";

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
fn query_answers_map_to_statuses() {
    let status = |extra: &[(&str, &str)]| api::parse_query(&answer_params(extra));
    assert_eq!(api::parse_query(&answer_params(&[("respCode", "34")])).unwrap(), ProviderStatus::NotFound);
    assert_eq!(status(&[("origRespCode", "05")]).unwrap(), ProviderStatus::Paying);
    assert!(matches!(status(&[("origRespCode", "01"), ("origRespMsg", "交易失败")]).unwrap(), ProviderStatus::Failed { .. }));
    let busy = api::parse_query(&answer_params(&[("respCode", "04")])).unwrap_err();
    assert!(busy.is_retryable());
    assert!(api::fen("12.00").is_err() && api::fen("-1").is_err() && api::fen("").is_err());
}

#[test]
fn raw_answers_parse_like_the_sdks() {
    let p = sign::parse_raw("a=1&b=x=y&c={d=1&e=2}&f=[g&h]&empty=").unwrap();
    assert_eq!(p["a"], "1");
    assert_eq!(p["b"], "x=y");
    assert_eq!(p["c"], "{d=1&e=2}");
    assert_eq!(p["f"], "[g&h]");
    assert_eq!(p["empty"], "");
    assert!(sign::parse_raw("a=1&a=2").is_err());
    let simple = sign::parse_raw("a=1&b=x=y&empty=").unwrap();
    assert_eq!(sign::parse_raw(&sign::encode_raw(&simple)).unwrap(), simple);
    assert_eq!(sign::txn_time(1_725_163_200), "20240901120000");
    assert_eq!(sign::parse_txn_time("20240901120000"), Some(1_725_163_200));
    assert_eq!(sign::parse_txn_time("2024090112000"), None);
}

#[test]
fn a_refund_back_notification_is_a_refunds_end() {
    let c: UnionpayConfig = UnionpayConfig {
        product: UnionpayProduct::Gateway,
        mer_id: MER_ID.into(),
        cert_id: "1".into(),
        private_key_pem: KAT_KEY.into(),
        unionpay_public_key_pem: String::new(),
        root_cert_pem: None,
        middle_cert_pem: None,
        validate_cn_name: true,
        base_url: DEFAULT_BASE_URL.into(),
        notify_url: "http://127.0.0.1/notify/unionpay".into(),
        front_url: "http://127.0.0.1/".into(),
        file_transfer_url: None,
    };
    let refund = |extra: &[(&str, &str)]| {
        let mut p =
            answer_params(&[("txnType", "04"), ("orderId", "RO0000000007"), ("origQryId", "Q1"), ("queryId", "R1"), ("txnAmt", "1000")]);
        p.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        api::parse_refund_notice(&p, &c)
    };
    let n = refund(&[]).unwrap().expect("a refund's notification");
    assert_eq!((n.out_refund_no.as_str(), n.refund_id.as_str()), ("RO0000000007", "R1"));
    assert_eq!((n.out_trade_no, n.transaction_id.as_deref()), (None, Some("Q1")));
    assert_eq!((n.status, n.amount), (RefundStatus::Success, Some(Fen(1000))));
    assert_eq!(refund(&[("respCode", "05")]).unwrap().unwrap().status, RefundStatus::Processing);
    assert_eq!(refund(&[("respCode", "61")]).unwrap().unwrap().status, RefundStatus::Closed);
    // A consumption's notification is not a refund's, and a refund's is never a payment.
    assert_eq!(refund(&[("txnType", "01")]).unwrap(), None);
    assert!(!api::parse_notice(&answer_params(&[("txnType", "04"), ("queryId", "R1"), ("txnAmt", "1000")]), &c).unwrap().paid);
    // Refused: another merchant, an amount that is not fen, no trade named.
    assert!(matches!(refund(&[("merId", "777290058110049")]), Err(ChannelError::WrongMerchant(_))));
    assert!(refund(&[("txnAmt", "10.00")]).is_err());
    assert!(refund(&[("origQryId", "")]).is_err());
}
