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

// --- A minimal self-signed X.509 v3 certificate, DER by hand (aws-lc-rs builds none). ---

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

/// `CN=<cn>, O=<org>` (OIDs 2.5.4.3 and 2.5.4.10, UTF8String).
fn name(cn: &str, org: &str) -> Vec<u8> {
    let rdn = |oid: u8, v: &str| der(0x31, &seq(&[der(0x06, &[0x55, 0x04, oid]), der(0x0c, v.as_bytes())]));
    seq(&[rdn(0x0a, org), rdn(0x03, cn)])
}

/// A self-signed certificate for `public_pem`, signed by `signer`, with the positive `serial`
/// (UnionPay's certificate ids are the decimal serial numbers).
pub fn self_signed_cert(signer: &RsaSigner, public_pem: &str, serial: u64, cn: &str) -> Result<String, ChannelError> {
    let (_, spki) = pem_to_der(public_pem)?;
    let mut serial_bytes: Vec<u8> = serial.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
    if serial_bytes.first().is_none_or(|b| b & 0x80 != 0) {
        serial_bytes.insert(0, 0);
    }
    let subject = name(cn, "China UnionPay Sandbox");
    let validity = seq(&[der(0x17, b"250101000000Z"), der(0x17, b"491231235959Z")]);
    let tbs = seq(&[der(0xa0, &der(0x02, &[2])), der(0x02, &serial_bytes), sha256_with_rsa(), subject.clone(), validity, subject, spki]);
    let mut signature = vec![0u8];
    signature.extend(b64_decode(&signer.sign_b64(&tbs)?)?);
    let cert = seq(&[tbs, sha256_with_rsa(), der(0x03, &signature)]);
    Ok(der_to_pem("CERTIFICATE", &cert))
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
