//! UnionPay's signing certificate checked as the official ACP SDKs check it (the SDK's
//! `CertUtil.verifyCertificate`, seen in copies carrying UnionPay's licence header):
//!
//! 1. the certificate in the message (`signPubKeyCert`) is within its validity dates;
//! 2. it chains (PKIX, no revocation check) to the configured **root** certificate, through the
//!    configured **middle** certificate (an issuer must be a CA by `basicConstraints`);
//! 3. its owner — the third `@`-separated part of the subject CN, e.g.
//!    `041@Z12@中国银联股份有限公司@00000001` — is `中国银联股份有限公司`; with
//!    `ifValidateCNName=false` (UnionPay's test environment) `00040000:SIGN` is accepted too.
//!
//! A small DER reader, enough for RSA certificates: aws-lc-rs parses no X.509.

use crate::ChannelError;
use crate::crypto::pem_to_der;
use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};

/// The owner UnionPay's production certificates name.
pub const UNIONPAY_CN_NAME: &str = "中国银联股份有限公司";
/// The owner of the test environment's certificates, accepted when the CN check is relaxed.
pub const TEST_CN_NAME: &str = "00040000:SIGN";

fn bad(what: &str) -> ChannelError {
    ChannelError::Config(format!("证书有误: {what}"))
}

/// (tag, whole TLV, content, rest).
type Tlv<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);
/// (whole TLV, content, rest).
type Expected<'a> = (&'a [u8], &'a [u8], &'a [u8]);

/// One DER TLV at the start of `input`.
fn tlv(input: &[u8]) -> Result<Tlv<'_>, ChannelError> {
    let (&tag, rest) = input.split_first().ok_or_else(|| bad("DER 截断"))?;
    let (&first, rest) = rest.split_first().ok_or_else(|| bad("DER 截断"))?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err(bad("DER 长度"));
        }
        (rest[..n].iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b)), &rest[n..])
    };
    if rest.len() < len {
        return Err(bad("DER 截断"));
    }
    let header = input.len() - rest.len();
    Ok((tag, &input[..header + len], &rest[..len], &rest[len..]))
}

fn expect(input: &[u8], want: u8) -> Result<Expected<'_>, ChannelError> {
    let (tag, whole, content, rest) = tlv(input)?;
    if tag != want {
        return Err(bad(&format!("应为标签 {want:#04x}，实为 {tag:#04x}")));
    }
    Ok((whole, content, rest))
}

/// `UTCTime` / `GeneralizedTime` (`…Z`) as unix seconds.
fn time(tag: u8, text: &[u8]) -> Result<i64, ChannelError> {
    let s = std::str::from_utf8(text).map_err(|_| bad("时间"))?;
    let s = s.strip_suffix('Z').ok_or_else(|| bad("时间须为 UTC"))?;
    let full = match (tag, s.len()) {
        (0x17, 12) => format!("{}{s}", if s[..2].parse::<u32>().map_err(|_| bad("时间"))? < 50 { "20" } else { "19" }),
        (0x18, 14) => s.to_string(),
        _ => return Err(bad("时间")),
    };
    let n = |r: std::ops::Range<usize>| full.get(r).and_then(|t| t.parse::<u32>().ok()).ok_or_else(|| bad("时间"));
    let shanghai = campuspay_domain::time::shanghai_to_unix(i64::from(n(0..4)?), n(4..6)?, n(6..8)?, n(8..10)?, n(10..12)?, n(12..14)?)
        .ok_or_else(|| bad("时间"))?;
    // The helper reads the fields as Shanghai time (UTC+8); these are UTC.
    Ok(shanghai + 8 * 3600)
}

/// The first `CN` of a DER `Name`.
fn common_name(name: &[u8]) -> Result<Option<String>, ChannelError> {
    let (_, mut rdns, _) = expect(name, 0x30)?;
    while !rdns.is_empty() {
        let (_, mut set, rest) = expect(rdns, 0x31)?;
        rdns = rest;
        while !set.is_empty() {
            let (_, atv, rest) = expect(set, 0x30)?;
            set = rest;
            let (_, oid, value) = expect(atv, 0x06)?;
            if oid != [0x55, 0x04, 0x03] {
                continue;
            }
            let (tag, _, text, _) = tlv(value)?;
            return Ok(Some(match tag {
                // BMPString: UTF-16BE.
                0x1e => {
                    let units: Vec<u16> = text.chunks(2).map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])).collect();
                    String::from_utf16(&units).map_err(|_| bad("CN"))?
                }
                _ => String::from_utf8(text.to_vec()).map_err(|_| bad("CN"))?,
            }));
        }
    }
    Ok(None)
}

/// The parts of an X.509 certificate that the check needs.
#[derive(Debug, Clone)]
pub struct Certificate {
    tbs: Vec<u8>,
    signature_algorithm: Vec<u8>,
    signature: Vec<u8>,
    issuer: Vec<u8>,
    subject: Vec<u8>,
    pub not_before: i64,
    pub not_after: i64,
    /// SubjectPublicKeyInfo DER.
    pub spki: Vec<u8>,
    /// `basicConstraints` says it is a CA.
    pub is_ca: bool,
    pub subject_cn: String,
}

impl Certificate {
    pub fn from_pem(text: &str) -> Result<Self, ChannelError> {
        let (label, der) = pem_to_der(text)?;
        if label != "CERTIFICATE" {
            return Err(bad("不是 CERTIFICATE"));
        }
        Self::from_der(&der)
    }

    pub fn from_der(der: &[u8]) -> Result<Self, ChannelError> {
        let (_, cert, _) = expect(der, 0x30)?;
        let (tbs, tbs_content, rest) = expect(cert, 0x30)?;
        let (_, alg, rest) = expect(rest, 0x30)?;
        let (_, signature_algorithm, _) = expect(alg, 0x06)?;
        let (_, bits, _) = expect(rest, 0x03)?;
        let signature = bits.strip_prefix(&[0u8]).ok_or_else(|| bad("签名位串"))?.to_vec();

        let mut rest = tbs_content;
        if rest.first() == Some(&0xa0) {
            (_, _, _, rest) = tlv(rest)?;
        }
        (_, _, rest) = expect(rest, 0x02)?; // serialNumber
        (_, _, rest) = expect(rest, 0x30)?; // signature
        let (issuer, _, rest) = expect(rest, 0x30)?;
        let (_, validity, rest) = expect(rest, 0x30)?;
        let (subject, _, rest) = expect(rest, 0x30)?;
        let (spki, _, mut rest) = expect(rest, 0x30)?;
        let (t1, _, from, after) = tlv(validity)?;
        let (t2, _, to, _) = tlv(after)?;
        let mut is_ca = false;
        while !rest.is_empty() {
            let (tag, _, content, next) = tlv(rest)?;
            rest = next;
            if tag != 0xa3 {
                continue; // issuerUniqueID, subjectUniqueID
            }
            let (_, mut exts, _) = expect(content, 0x30)?;
            while !exts.is_empty() {
                let (_, ext, next) = expect(exts, 0x30)?;
                exts = next;
                let (_, oid, mut value) = expect(ext, 0x06)?;
                if value.first() == Some(&0x01) {
                    (_, _, _, value) = tlv(value)?; // critical
                }
                let (_, octets, _) = expect(value, 0x04)?;
                if oid == [0x55, 0x1d, 0x13] {
                    let (_, bc, _) = expect(octets, 0x30)?;
                    is_ca = matches!(tlv(bc), Ok((0x01, _, [b], _)) if *b != 0);
                }
            }
        }
        Ok(Self {
            tbs: tbs.to_vec(),
            signature_algorithm: signature_algorithm.to_vec(),
            signature,
            issuer: issuer.to_vec(),
            subject: subject.to_vec(),
            not_before: time(t1, from)?,
            not_after: time(t2, to)?,
            spki: spki.to_vec(),
            is_ca,
            subject_cn: common_name(subject)?.unwrap_or_default(),
        })
    }

    /// Whether `issuer` issued this certificate: its name is our issuer's and its key signed us.
    pub fn issued_by(&self, issuer: &Certificate) -> bool {
        const RSA: [u8; 8] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
        let alg: &'static dyn VerificationAlgorithm = match self.signature_algorithm.strip_prefix(&RSA) {
            Some([0x0b]) => &signature::RSA_PKCS1_2048_8192_SHA256,
            Some([0x0c]) => &signature::RSA_PKCS1_2048_8192_SHA384,
            Some([0x0d]) => &signature::RSA_PKCS1_2048_8192_SHA512,
            Some([0x05]) => &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            _ => return false,
        };
        self.issuer == issuer.subject && UnparsedPublicKey::new(alg, &issuer.spki).verify(&self.tbs, &self.signature).is_ok()
    }

    pub fn valid_at(&self, now: i64) -> bool {
        self.not_before <= now && now <= self.not_after
    }

    /// The owner: the third `@`-separated part of the CN (empty when there is none).
    pub fn owner(&self) -> &str {
        self.subject_cn.split('@').nth(2).unwrap_or_default()
    }
}

/// The configured root and middle certificates, and whether the owner must be UnionPay's
/// production name (`ifValidateCNName`).
#[derive(Debug, Clone)]
pub struct Chain {
    pub root: Certificate,
    pub middle: Certificate,
    pub validate_cn_name: bool,
}

impl Chain {
    pub fn new(root_pem: &str, middle_pem: &str, validate_cn_name: bool) -> Result<Self, ChannelError> {
        let root = Certificate::from_pem(root_pem)?;
        let middle = Certificate::from_pem(middle_pem)?;
        if !middle.issued_by(&root) {
            return Err(ChannelError::Config("银联中级证书不是所配根证书签发的".into()));
        }
        Ok(Self { root, middle, validate_cn_name })
    }

    /// Checks `signPubKeyCert` at `now`; answers the certificate whose key verifies the message.
    pub fn check(&self, cert_pem: &str, now: i64) -> Result<Certificate, ChannelError> {
        let refused = |why: &str| ChannelError::UnknownSerial(format!("signPubKeyCert: {why}"));
        let cert = Certificate::from_pem(cert_pem).map_err(|_| refused("无法解析"))?;
        if !cert.valid_at(now) {
            return Err(refused("不在有效期内"));
        }
        let through_middle = cert.issued_by(&self.middle) && self.middle.is_ca && self.middle.valid_at(now);
        if !through_middle && !cert.issued_by(&self.root) {
            return Err(refused("不能链到所配的银联根证书与中级证书"));
        }
        let owner = cert.owner();
        if owner != UNIONPAY_CN_NAME && (self.validate_cn_name || owner != TEST_CN_NAME) {
            return Err(refused(&format!("证书所有者不是银联: {owner}")));
        }
        Ok(cert)
    }
}
