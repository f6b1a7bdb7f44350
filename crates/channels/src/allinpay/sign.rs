//! 收银宝's 安全规范, RSA (prodoc.allinpay.com doc 250 §3.2 "RSA(SHA1WithRSA)签名逻辑"):
//! every **non-empty** field except `sign`, sorted by name (ASCII), joined `k1=v1&k2=v2` (values
//! as they are, not URL-encoded), signed SHA1withRSA (PKCS#1 v1.5) with the sender's private key,
//! Base64. Requests are signed with the merchant's key; answers and notifications with 通联's,
//! whose public key the merchant configures. The doc tells receivers to verify over *all*
//! non-empty fields they got, because fields may be added later.
//!
//! SHA-1 signing is legacy and aws-lc-rs will not sign with it (nor with the 1024-bit keys the
//! doc's own example uses), so signing goes through the `rsa` crate (blinded, with the OS RNG);
//! verifying uses aws-lc-rs's `RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY`.

use crate::ChannelError;
use crate::crypto::{b64_decode, b64_encode, pem_to_der};
use aws_lc_rs::signature::{RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY, UnparsedPublicKey};
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use std::collections::BTreeMap;

/// A message's fields by name (sorted, as signing wants them).
pub type Params = BTreeMap<String, String>;

pub const SIGN: &str = "sign";
pub const SIGN_TYPE: &str = "signtype";
pub const SIGN_TYPE_RSA: &str = "RSA";

/// The text that is signed: non-empty fields but `sign`, sorted, `k=v` joined by `&`.
pub fn sign_content(p: &Params) -> String {
    p.iter().filter(|(k, v)| k.as_str() != SIGN && !v.is_empty()).map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// A merchant (or, in the simulator, 通联) signing key.
pub struct Sha1RsaSigner {
    key: rsa::PrivateKey,
}

impl std::fmt::Debug for Sha1RsaSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sha1RsaSigner(<private key>)")
    }
}

impl Sha1RsaSigner {
    /// PKCS#8 or PKCS#1, PEM or bare Base64 (通联's key tool and its doc give bare PKCS#8 Base64).
    pub fn from_pem(text: &str) -> Result<Self, ChannelError> {
        let (_, der) = pem_to_der(text)?;
        let key = rsa::PrivateKey::from_pkcs8_der(&der)
            .or_else(|_| rsa::PrivateKey::from_pkcs1_der(&der))
            .map_err(|e| ChannelError::Config(format!("私钥无法解析: {e}")))?;
        Ok(Self { key })
    }

    pub fn sign_b64(&self, message: &[u8]) -> Result<String, ChannelError> {
        // Blinded with the OS RNG (rsa's `getrandom`).
        let sig = self.key.pkcs1v15_sign::<sha1::Sha1>(message).map_err(|_| ChannelError::Crypto("签名失败"))?;
        Ok(b64_encode(&sig))
    }
}

/// 通联's (or, in the simulator, a merchant's) public key, SubjectPublicKeyInfo.
#[derive(Clone)]
pub struct Sha1RsaVerifier {
    der: Vec<u8>,
}

impl std::fmt::Debug for Sha1RsaVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sha1RsaVerifier(<public key>)")
    }
}

impl Sha1RsaVerifier {
    /// `PUBLIC KEY` PEM or bare Base64 SubjectPublicKeyInfo (how 通联 hands out its key).
    pub fn from_pem(text: &str) -> Result<Self, ChannelError> {
        let (_, der) = pem_to_der(text)?;
        aws_lc_rs::rsa::PublicKey::from_der(&der).map_err(|e| ChannelError::Config(format!("公钥无法解析: {e}")))?;
        Ok(Self { der })
    }

    pub fn verify_b64(&self, message: &[u8], signature_b64: &str) -> Result<(), ChannelError> {
        let sig = b64_decode(signature_b64).map_err(|_| ChannelError::BadSignature)?;
        UnparsedPublicKey::new(&RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY, &self.der)
            .verify(message, &sig)
            .map_err(|_| ChannelError::BadSignature)
    }
}

/// Sets `signtype=RSA` and `sign`.
pub fn sign(signer: &Sha1RsaSigner, p: &mut Params) -> Result<(), ChannelError> {
    p.insert(SIGN_TYPE.into(), SIGN_TYPE_RSA.into());
    let sig = signer.sign_b64(sign_content(p).as_bytes())?;
    p.insert(SIGN.into(), sig);
    Ok(())
}

/// Checks `sign` over the other non-empty fields. Only RSA is taken: MD5 and SM2 are other keys.
pub fn verify(key: &Sha1RsaVerifier, p: &Params) -> Result<(), ChannelError> {
    match p.get(SIGN_TYPE).map(String::as_str) {
        None | Some("") | Some(SIGN_TYPE_RSA) => {}
        Some(other) => return Err(ChannelError::Malformed(format!("不支持的签名类型 {other}"))),
    }
    let sig = p.get(SIGN).filter(|s| !s.is_empty()).ok_or(ChannelError::BadSignature)?;
    key.verify_b64(sign_content(p).as_bytes(), sig)
}

/// A form body (`application/x-www-form-urlencoded`, UTF-8) into fields; a repeated name is
/// malformed.
pub fn parse_form(body: &[u8]) -> Result<Params, ChannelError> {
    let mut p = Params::new();
    for (k, v) in form_urlencoded::parse(body) {
        if p.insert(k.into_owned(), v.into_owned()).is_some() {
            return Err(ChannelError::Malformed("字段重复".into()));
        }
    }
    Ok(p)
}

/// Fields as a form body; empty values are left out, as the SDKs send them.
pub fn encode_form(p: &Params) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in p.iter().filter(|(_, v)| !v.is_empty()) {
        s.append_pair(k, v);
    }
    s.finish()
}

/// A JSON answer's fields: every value as the text it signs as (numbers as written).
pub fn parse_json(body: &str) -> Result<Params, ChannelError> {
    let v: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(body).map_err(|e| ChannelError::Malformed(format!("应答不是 JSON 对象: {e}")))?;
    Ok(v.into_iter()
        .map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            (k, text)
        })
        .collect())
}

/// A random `randomstr` (the doc: at most 32 characters).
pub fn random_str() -> String {
    crate::crypto::random_nonce(32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test key and the worked example of doc 250 §3.2 (also in pyallinpay's
    /// `tests/test_utils.py`, which checks the same signature).
    const DOC_PRIVATE_KEY: &str = "MIICdQIBADANBgkqhkiG9w0BAQEFAASCAl8wggJbAgEAAoGBAJgHMGYsspghvP+yCbjLG43CkZuQ3YJyDcmEKxvmgblITfmiTPx2b9Y2iwDT9gnLGExTDm1BL2A8VzMobjaHfiCmTbDctu680MLmpDDkVXmJOqdlXh0tcLjhN4+iDA2KkRqiHxsDpiaKT6MMBuecXQbJtPlVc1XjVhoUlzUgPCrvAgMBAAECgYAV9saYTGbfsdLOF5kYo0dve1JxaO7dFMCcgkV+z2ujKtNmeHtU54DlhZXJiytQY5Dhc10cjb6xfFDrftuFcfKCaLiy6h5ETR8jyv5He6KH/+X6qkcGTkJBYG1XvyyFO3PxoszQAs0mrLCqq0UItlCDn0G72MR9/NuvdYabGHSzEQJBAMXB1/DUvBTHHH4LiKDiaREruBb3QtP72JQS1ATVXA2v6xJzGPMWMBGQDvRfPvuCPVmbHENX+lRxMLp39OvIn6kCQQDEzYpPcuHW/7h3TYHYc+T0O6z1VKQT2Mxv92Lj35g1XqV4Oi9xrTj2DtMeV1lMx6n/3icobkCQtuvTI+AcqfTXAkB6bCz9NwUUK8sUsJktV9xJN/JnrTxetOr3h8xfDaJGCuCQdFY+rj6lsLPBTnFUC+Vk4mQVwJIE0mmjFf22NWW5AkAmsVaRGkAmui41Xoq52MdZ8WWm8lY0BLrlBJlvveU6EPqtcZskWW9KiU2euIO5IcRdpvrB6zNMgHpLD9GfMRcPAkBUWOV/dH13v8V2Y/Fzuag/y5k3/oXi/WQnIxdYbltad2xjmofJ7DbB7MJqiZZD8jlr8PCZPwRNzc5ntDStc959";
    const DOC_PUBLIC_KEY: &str = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCYBzBmLLKYIbz/sgm4yxuNwpGbkN2Ccg3JhCsb5oG5SE35okz8dm/WNosA0/YJyxhMUw5tQS9gPFczKG42h34gpk2w3LbuvNDC5qQw5FV5iTqnZV4dLXC44TePogwNipEaoh8bA6Ymik+jDAbnnF0GybT5VXNV41YaFJc1IDwq7wIDAQAB";
    const DOC_SIGNATURE: &str = "ce6EAOj4rhoBMJM5MJCNG4qQ/CVMTWkoRuSGpSzRAnD3U3V5QyHkQUEej2eZXRaa+qSbw2/IJJSPV0sPuAia1+ccb7OnvxyZqkV9wQyimX6qAMz0K+UWFhQ5McCcQ/XsFhhezoVd5QgL7PtdvuK1AtjuzA3J9yzNmwuPssPnKnc=";

    fn doc_fields() -> Params {
        [("appid", "00000051"), ("cusid", "990581007426001"), ("randomstr", "82712208"), ("trxid", "112094120001088317"), ("version", "11")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn signs_the_published_example_exactly() {
        let mut p = doc_fields();
        p.insert("empty".into(), String::new());
        sign(&Sha1RsaSigner::from_pem(DOC_PRIVATE_KEY).unwrap(), &mut p).unwrap();
        assert_eq!(
            sign_content(&p),
            "appid=00000051&cusid=990581007426001&randomstr=82712208&signtype=RSA&trxid=112094120001088317&version=11"
        );
        // PKCS#1 v1.5 is deterministic: the doc's signature, byte for byte.
        assert_eq!(p[SIGN], DOC_SIGNATURE);
        verify(&Sha1RsaVerifier::from_pem(DOC_PUBLIC_KEY).unwrap(), &p).unwrap();
    }

    #[test]
    fn a_changed_field_or_another_sign_type_does_not_verify() {
        let key = Sha1RsaVerifier::from_pem(DOC_PUBLIC_KEY).unwrap();
        let mut p = doc_fields();
        p.insert(SIGN_TYPE.into(), SIGN_TYPE_RSA.into());
        p.insert(SIGN.into(), DOC_SIGNATURE.into());
        verify(&key, &p).unwrap();
        let mut changed = p.clone();
        changed.insert("trxid".into(), "112094120001088318".into());
        assert!(matches!(verify(&key, &changed), Err(ChannelError::BadSignature)));
        let mut md5 = p.clone();
        md5.insert(SIGN_TYPE.into(), "MD5".into());
        assert!(verify(&key, &md5).is_err());
        let mut unsigned = p;
        unsigned.remove(SIGN);
        assert!(matches!(verify(&key, &unsigned), Err(ChannelError::BadSignature)));
    }

    #[test]
    fn json_answers_sign_numbers_as_written() {
        let p = parse_json(r#"{"retcode":"SUCCESS","trxamt":100,"fee":0,"errmsg":null}"#).unwrap();
        assert_eq!(sign_content(&p), "fee=0&retcode=SUCCESS&trxamt=100");
    }
}
