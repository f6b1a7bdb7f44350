//! UnionPay's signing certificate checked as the official ACP SDKs check it ([`cert::Chain`]):
//! validity dates, a chain to the configured root through the configured middle, and the owner
//! in the third `@`-part of the CN. Certificates made with the sandbox's issuer.

use campuspay_channels::ChannelError;
use campuspay_channels::crypto::{GeneratedKeyPair, RsaSigner, generate_rsa_2048};
use campuspay_channels::unionpay::cert::{Certificate, Chain};
use campuspay_channels::unionpay::sign::{self, Params, UnionpayKey};
use campuspay_sandbox::unionpay::{CertSpec, NOT_AFTER, NOT_BEFORE, issue_cert, issue_chain, name};
use std::sync::OnceLock;

const ORG: &str = "Test CA";
const OWNER_CN: &str = "041@Z12@中国银联股份有限公司@00000001";
/// 2026-01-01, inside every certificate's dates below unless a test says otherwise.
const NOW: i64 = 1_767_225_600;

struct Ca {
    key: GeneratedKeyPair,
    cn: &'static str,
    pem: String,
}

impl Ca {
    fn signer(&self) -> RsaSigner {
        RsaSigner::from_pem(&self.key.private_pkcs8_pem).unwrap()
    }

    /// A certificate for `key` issued by this CA.
    fn issue(&self, key: &GeneratedKeyPair, cn: &str, ca: bool, dates: (&str, &str)) -> String {
        let spec = CertSpec { cn, org: ORG, serial: 77, ca, not_before: dates.0, not_after: dates.1 };
        issue_cert(&self.signer(), Some(&name(self.cn, ORG)), &key.public_spki_pem, &spec).unwrap()
    }
}

struct Keys {
    root: Ca,
    middle: Ca,
    leaf: GeneratedKeyPair,
}

fn keys() -> &'static Keys {
    static K: OnceLock<Keys> = OnceLock::new();
    K.get_or_init(|| {
        let root_key = generate_rsa_2048().unwrap();
        let spec = CertSpec { cn: "Test Root", org: ORG, serial: 1, ca: true, not_before: NOT_BEFORE, not_after: NOT_AFTER };
        let signer = RsaSigner::from_pem(&root_key.private_pkcs8_pem).unwrap();
        let root = Ca { pem: issue_cert(&signer, None, &root_key.public_spki_pem, &spec).unwrap(), key: root_key, cn: "Test Root" };
        let middle_key = generate_rsa_2048().unwrap();
        let middle_pem = root.issue(&middle_key, "Test Middle", true, (NOT_BEFORE, NOT_AFTER));
        Keys { middle: Ca { key: middle_key, cn: "Test Middle", pem: middle_pem }, root, leaf: generate_rsa_2048().unwrap() }
    })
}

fn chain(validate_cn_name: bool) -> Chain {
    let k = keys();
    Chain::new(&k.root.pem, &k.middle.pem, validate_cn_name).unwrap()
}

fn leaf(cn: &str) -> String {
    keys().middle.issue(&keys().leaf, cn, false, (NOT_BEFORE, NOT_AFTER))
}

fn refused(r: Result<Certificate, ChannelError>) -> String {
    match r {
        Err(ChannelError::UnknownSerial(why)) => why,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_certificate_of_the_middle_ca_naming_unionpay_is_accepted() {
    let cert = chain(true).check(&leaf(OWNER_CN), NOW).unwrap();
    assert_eq!(cert.owner(), "中国银联股份有限公司");
    assert!(!cert.is_ca);
    // PKIX finds a path straight from the root too.
    let direct = keys().root.issue(&keys().leaf, OWNER_CN, false, (NOT_BEFORE, NOT_AFTER));
    chain(true).check(&direct, NOW).unwrap();
}

#[test]
fn the_owner_is_the_third_part_of_the_cn() {
    // The old sandbox certificate's CN, and owners in the wrong place, are refused.
    for cn in ["中国银联股份有限公司（沙箱）", "041@中国银联股份有限公司@Z12@1", "041@Z12@中国银联股份有限公司（沙箱）@1"]
    {
        assert!(refused(chain(true).check(&leaf(cn), NOW)).contains("所有者"), "{cn}");
    }
    // UnionPay's test environment names `00040000:SIGN`: accepted only with ifValidateCNName off.
    let test_env = leaf("041@Z12@00040000:SIGN@00000001");
    refused(chain(true).check(&test_env, NOW));
    assert_eq!(chain(false).check(&test_env, NOW).unwrap().owner(), "00040000:SIGN");
    refused(chain(false).check(&leaf("041@Z12@someone else@1"), NOW));
}

#[test]
fn dates_chain_and_ca_flags_are_checked() {
    let k = keys();
    let expired = k.middle.issue(&k.leaf, OWNER_CN, false, ("200101000000Z", "251231235959Z"));
    assert!(refused(chain(true).check(&expired, NOW)).contains("有效期"));
    let early = k.middle.issue(&k.leaf, OWNER_CN, false, ("300101000000Z", NOT_AFTER));
    refused(chain(true).check(&early, NOW));
    // Issued under another root and middle.
    let other = issue_chain(&k.leaf.public_spki_pem, 9).unwrap();
    assert!(refused(chain(true).check(&other.sign_pem, NOW)).contains("链"));
    // A leaf issued by a certificate that is no CA.
    let not_ca = k.root.issue(&k.leaf, "Test Middle", false, (NOT_BEFORE, NOT_AFTER));
    let c = Chain::new(&k.root.pem, &not_ca, true).unwrap();
    let via = Ca { key: keys().leaf.clone(), cn: "Test Middle", pem: not_ca };
    refused(c.check(&via.issue(&generate_rsa_2048().unwrap(), OWNER_CN, false, (NOT_BEFORE, NOT_AFTER)), NOW));
    // A middle certificate that the root did not issue is a configuration error.
    assert!(matches!(Chain::new(&k.root.pem, &other.middle_pem, true), Err(ChannelError::Config(_))));
}

#[test]
fn messages_verify_with_the_key_of_the_checked_certificate() {
    let key = UnionpayKey::Chain(Box::new(chain(true)));
    let mut p = Params::new();
    for (k, v) in [("version", "5.1.0"), ("signMethod", "01"), ("merId", "777290058110048"), ("respCode", "00")] {
        p.insert(k.into(), v.into());
    }
    p.insert(sign::SIGN_PUB_KEY_CERT.into(), leaf(OWNER_CN));
    sign::sign(&RsaSigner::from_pem(&keys().leaf.private_pkcs8_pem).unwrap(), &mut p).unwrap();
    key.verify_message_at(&p, NOW).unwrap();
    let mut tampered = p.clone();
    tampered.insert("respCode".into(), "01".into());
    assert!(matches!(key.verify_message_at(&tampered, NOW), Err(ChannelError::BadSignature)));
    let mut without = p.clone();
    without.remove(sign::SIGN_PUB_KEY_CERT);
    assert!(matches!(key.verify_message_at(&without, NOW), Err(ChannelError::BadSignature)));
    // Signed with another key than the certificate's.
    let mut forged = p.clone();
    sign::sign(&RsaSigner::from_pem(&keys().root.key.private_pkcs8_pem).unwrap(), &mut forged).unwrap();
    assert!(matches!(key.verify_message_at(&forged, NOW), Err(ChannelError::BadSignature)));
}

#[test]
fn the_sandbox_chain_is_what_the_sdks_expect() {
    let platform = generate_rsa_2048().unwrap();
    let c = issue_chain(&platform.public_spki_pem, 69_629_715_588).unwrap();
    let chain = Chain::new(&c.root_pem, &c.middle_pem, true).unwrap();
    let cert = chain.check(&c.sign_pem, NOW).unwrap();
    assert_eq!(cert.owner(), "中国银联股份有限公司");
    assert!(chain.root.is_ca && chain.middle.is_ca);
}
