//! UnionPay's side: check a merchant's ACP request, sign answers and back notifications with
//! the simulated UnionPay key, and hand out that key as an X.509 certificate (`signPubKeyCert`).

use campuspay_channels::ChannelError;
use campuspay_channels::crypto::{RsaSigner, RsaVerifier, b64_decode, der_to_pem, pem_to_der};
use campuspay_channels::unionpay::sign::{self, Params, SIGN_PUB_KEY_CERT};

pub struct UnionpayProviderSide {
    /// The simulated UnionPay signing key and its certificate (PEM).
    pub signer: RsaSigner,
    pub cert_pem: String,
    pub mer_id: String,
    /// The merchant's signing certificate id and public key.
    pub merchant_cert_id: String,
    pub merchant_key: RsaVerifier,
}

/// Why a request was refused, as ACP `respCode` / `respMsg`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub msg: String,
}

pub fn refusal(code: &'static str, msg: impl Into<String>) -> Refusal {
    Refusal { code, msg: msg.into() }
}

impl UnionpayProviderSide {
    /// Checks a request as UnionPay does: version, merchant, certificate id, signature.
    pub fn verify_request(&self, form: &[u8]) -> Result<Params, Refusal> {
        let p = sign::parse_form(form).map_err(|e| refusal("10", e.to_string()))?;
        let field = |k: &str| p.get(k).map(String::as_str).unwrap_or_default();
        if field("version") != sign::VERSION || field("signMethod") != sign::SIGN_METHOD_RSA {
            return Err(refusal("10", "version 或 signMethod 不支持"));
        }
        if field("merId") != self.mer_id {
            return Err(refusal("10", format!("商户代码 {} 不存在", field("merId"))));
        }
        if field("certId") != self.merchant_cert_id {
            return Err(refusal("11", "证书 ID 不符"));
        }
        sign::verify(&self.merchant_key, &p).map_err(|_| refusal("11", "验证签名失败"))?;
        Ok(p)
    }

    /// Adds `signPubKeyCert`, `signMethod`, `version`, `encoding`, then `signature`.
    pub fn sign(&self, p: &mut Params) -> Result<(), ChannelError> {
        p.insert(SIGN_PUB_KEY_CERT.into(), self.cert_pem.clone());
        p.insert("version".into(), sign::VERSION.into());
        p.insert("encoding".into(), "UTF-8".into());
        p.insert("signMethod".into(), sign::SIGN_METHOD_RSA.into());
        sign::sign(&self.signer, p)
    }

    /// A signed raw `k=v&…` answer.
    pub fn answer(&self, mut p: Params) -> Result<String, ChannelError> {
        self.sign(&mut p)?;
        Ok(sign::encode_raw(&p))
    }
}

// --- Minimal X.509 v3 certificates, DER by hand (aws-lc-rs builds none). ---

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    der(0x30, &parts.concat())
}

/// OID 1.2.840.113549.1.1.11 sha256WithRSAEncryption, with NULL parameters.
fn sha256_with_rsa() -> Vec<u8> {
    let oid = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
    seq(&[der(0x06, &oid), vec![0x05, 0x00]])
}

/// `C=CN, O=<org>, CN=<cn>` (OIDs 2.5.4.6, 2.5.4.10, 2.5.4.3; UTF8String but the country).
pub fn name(cn: &str, org: &str) -> Vec<u8> {
    let rdn = |oid: u8, tag: u8, v: &str| der(0x31, &seq(&[der(0x06, &[0x55, 0x04, oid]), der(tag, v.as_bytes())]));
    seq(&[rdn(0x06, 0x13, "CN"), rdn(0x0a, 0x0c, org), rdn(0x03, 0x0c, cn)])
}

/// What a certificate says about its subject.
pub struct CertSpec<'a> {
    pub cn: &'a str,
    pub org: &'a str,
    /// Positive; UnionPay's certificate ids are the decimal serial numbers.
    pub serial: u64,
    /// A CA (`basicConstraints` cA, critical), or an end entity.
    pub ca: bool,
    /// `YYMMDDHHMMSSZ` (UTCTime).
    pub not_before: &'a str,
    pub not_after: &'a str,
}

/// Certificates of the simulated UnionPay: from 2025 to the end of 2049.
pub const NOT_BEFORE: &str = "250101000000Z";
pub const NOT_AFTER: &str = "491231235959Z";

/// A certificate for `public_pem` signed by `issuer_signer` under the issuer name
/// `issuer` (`None`: self-signed, the issuer is the subject).
pub fn issue_cert(issuer_signer: &RsaSigner, issuer: Option<&[u8]>, public_pem: &str, spec: &CertSpec) -> Result<String, ChannelError> {
    let (_, spki) = pem_to_der(public_pem)?;
    let mut serial_bytes: Vec<u8> = spec.serial.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
    if serial_bytes.first().is_none_or(|b| b & 0x80 != 0) {
        serial_bytes.insert(0, 0);
    }
    let subject = name(spec.cn, spec.org);
    let issuer = issuer.map_or_else(|| subject.clone(), <[u8]>::to_vec);
    let validity = seq(&[der(0x17, spec.not_before.as_bytes()), der(0x17, spec.not_after.as_bytes())]);
    // basicConstraints (2.5.29.19), critical: `cA TRUE` for a CA, empty for an end entity.
    let constraints = if spec.ca { seq(&[vec![0x01, 0x01, 0xff]]) } else { seq(&[]) };
    let extension = seq(&[der(0x06, &[0x55, 0x1d, 0x13]), vec![0x01, 0x01, 0xff], der(0x04, &constraints)]);
    let extensions = der(0xa3, &seq(&[extension]));
    let tbs = seq(&[der(0xa0, &der(0x02, &[2])), der(0x02, &serial_bytes), sha256_with_rsa(), issuer, validity, subject, spki, extensions]);
    let mut signature = vec![0u8];
    signature.extend(b64_decode(&issuer_signer.sign_b64(&tbs)?)?);
    let cert = seq(&[tbs, sha256_with_rsa(), der(0x03, &signature)]);
    Ok(der_to_pem("CERTIFICATE", &cert))
}

/// A self-signed end-entity certificate for `public_pem` (tests of the pinned mode).
pub fn self_signed_cert(signer: &RsaSigner, public_pem: &str, serial: u64, cn: &str) -> Result<String, ChannelError> {
    let spec = CertSpec { cn, org: "China UnionPay Sandbox", serial, ca: false, not_before: NOT_BEFORE, not_after: NOT_AFTER };
    issue_cert(signer, None, public_pem, &spec)
}

/// The simulated UnionPay's certificates: a root CA, a middle CA under it, and the signing
/// certificate of `platform_public_pem` under the middle one, its CN in the form the official
/// SDKs read the owner from (`…@…@中国银联股份有限公司@…`).
pub struct IssuedChain {
    pub root_pem: String,
    pub middle_pem: String,
    pub sign_pem: String,
}

pub fn issue_chain(platform_public_pem: &str, serial: u64) -> Result<IssuedChain, ChannelError> {
    const ORG: &str = "China UnionPay Sandbox (campuspay)";
    let root_key = super::generate_rsa_2048()?;
    let middle_key = super::generate_rsa_2048()?;
    let root_signer = RsaSigner::from_pem(&root_key.private_pkcs8_pem)?;
    let middle_signer = RsaSigner::from_pem(&middle_key.private_pkcs8_pem)?;
    let spec = |cn, serial, ca| CertSpec { cn, org: ORG, serial, ca, not_before: NOT_BEFORE, not_after: NOT_AFTER };
    let root_spec = spec("campuspay 沙箱银联根证书", 1, true);
    let middle_spec = spec("campuspay 沙箱银联中级证书", 2, true);
    let sign_spec = spec("041@Z20251201@中国银联股份有限公司@00000001", serial, false);
    Ok(IssuedChain {
        root_pem: issue_cert(&root_signer, None, &root_key.public_spki_pem, &root_spec)?,
        middle_pem: issue_cert(&root_signer, Some(&name(root_spec.cn, ORG)), &middle_key.public_spki_pem, &middle_spec)?,
        sign_pem: issue_cert(&middle_signer, Some(&name(middle_spec.cn, ORG)), platform_public_pem, &sign_spec)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use campuspay_channels::crypto::generate_rsa_2048;
    use campuspay_channels::crypto::x509_parts;

    #[test]
    fn the_certificate_parses_and_carries_the_key_and_serial() {
        let kp = generate_rsa_2048().unwrap();
        let signer = RsaSigner::from_pem(&kp.private_pkcs8_pem).unwrap();
        let pem = self_signed_cert(&signer, &kp.public_spki_pem, 69_629_715_588, "银联沙箱").unwrap();
        let (label, der) = pem_to_der(&pem).unwrap();
        assert_eq!(label, "CERTIFICATE");
        let parts = x509_parts(&der).unwrap();
        assert_eq!(u64::from_str_radix(&parts.serial_hex, 16).unwrap(), 69_629_715_588);
        assert_eq!(parts.spki, pem_to_der(&kp.public_spki_pem).unwrap().1);
        // The certificate verifies as a key in its own right.
        let v = RsaVerifier::from_pem(&pem).unwrap();
        v.verify_b64(b"m", &signer.sign_b64(b"m").unwrap()).unwrap();
    }
}
