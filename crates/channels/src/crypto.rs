//! The crypto both providers need, on aws-lc-rs only: PEM/DER keys, SHA256withRSA (RSA-2048,
//! PKCS#1 v1.5) signatures in Base64, AES-256-GCM, random nonces, RSA-2048 key generation, and
//! the two facts we read from an X.509 certificate (its serial number and its public key).

use crate::ChannelError;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{self, KeyPair as _, RsaKeyPair, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

/// Base64 (standard alphabet, padded), as both providers use it.
pub fn b64_encode(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

pub fn b64_decode(text: &str) -> Result<Vec<u8>, ChannelError> {
    B64.decode(text.trim()).map_err(|_| ChannelError::BadSignature)
}

/// DER bytes of a PEM block, or of bare Base64 (Alipay's consoles hand keys out without the
/// `-----BEGIN` lines). Returns the block label (`""` for bare Base64) with the bytes.
pub fn pem_to_der(text: &str) -> Result<(String, Vec<u8>), ChannelError> {
    let text = text.trim();
    let Some(rest) = text.strip_prefix("-----BEGIN ") else {
        let compact: String = text.split_whitespace().collect();
        let der = B64.decode(compact).map_err(|_| ChannelError::Config("密钥不是 PEM 也不是 Base64".into()))?;
        return Ok((String::new(), der));
    };
    let (label, rest) = rest.split_once("-----").ok_or_else(|| ChannelError::Config("PEM 头有误".into()))?;
    let end = format!("-----END {label}-----");
    let body = rest.split(end.as_str()).next().filter(|_| rest.contains(&end));
    let body = body.ok_or_else(|| ChannelError::Config("PEM 缺少结尾".into()))?;
    let compact: String = body.split_whitespace().collect();
    let der = B64.decode(compact).map_err(|_| ChannelError::Config("PEM 内容不是 Base64".into()))?;
    Ok((label.to_string(), der))
}

/// DER → PEM with 64-column lines.
pub fn der_to_pem(label: &str, der: &[u8]) -> String {
    let b64 = B64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// An RSA private key that signs SHA256withRSA (PKCS#1 v1.5), the scheme both providers call
/// `SHA256-RSA2048` / `RSA2`.
pub struct RsaSigner {
    key: RsaKeyPair,
}

impl std::fmt::Debug for RsaSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RsaSigner(<private key>)")
    }
}

impl RsaSigner {
    /// Accepts PKCS#8 (`PRIVATE KEY`, WeChat's `apiclient_key.pem`) or PKCS#1
    /// (`RSA PRIVATE KEY`), in PEM or bare Base64.
    pub fn from_pem(text: &str) -> Result<Self, ChannelError> {
        let (_, der) = pem_to_der(text)?;
        let key = RsaKeyPair::from_pkcs8(&der)
            .or_else(|_| RsaKeyPair::from_der(&der))
            .map_err(|e| ChannelError::Config(format!("私钥无法解析: {e}")))?;
        Ok(Self { key })
    }

    /// Base64 of the SHA256withRSA signature of `message`.
    pub fn sign_b64(&self, message: &[u8]) -> Result<String, ChannelError> {
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(&signature::RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut sig)
            .map_err(|_| ChannelError::Crypto("签名失败"))?;
        Ok(B64.encode(sig))
    }
}

/// An RSA public key that verifies SHA256withRSA signatures. Holds SubjectPublicKeyInfo or
/// PKCS#1 `RSAPublicKey` DER; aws-lc-rs accepts both.
#[derive(Clone)]
pub struct RsaVerifier {
    der: Vec<u8>,
}

impl std::fmt::Debug for RsaVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RsaVerifier(<public key>)")
    }
}

impl RsaVerifier {
    /// From `PUBLIC KEY` / `RSA PUBLIC KEY` PEM, bare Base64 SPKI, or a `CERTIFICATE` (whose
    /// SubjectPublicKeyInfo is used).
    pub fn from_pem(text: &str) -> Result<Self, ChannelError> {
        let (label, der) = pem_to_der(text)?;
        let der = if label == "CERTIFICATE" { x509_parts(&der)?.spki } else { der };
        let key = aws_lc_rs::rsa::PublicKey::from_der(&der).map_err(|e| ChannelError::Config(format!("公钥无法解析: {e}")))?;
        if key.modulus_len() < 256 {
            return Err(ChannelError::Config("公钥短于 2048 位".into()));
        }
        Ok(Self { der })
    }

    /// Verifies a Base64 SHA256withRSA signature over `message`.
    pub fn verify_b64(&self, message: &[u8], signature_b64: &str) -> Result<(), ChannelError> {
        let sig = b64_decode(signature_b64)?;
        UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &self.der)
            .verify(message, &sig)
            .map_err(|_| ChannelError::BadSignature)
    }
}

/// The serial number (upper-case hex, as `Wechatpay-Serial` carries it) and the
/// SubjectPublicKeyInfo DER of an X.509 certificate.
pub struct X509Parts {
    pub serial_hex: String,
    pub spki: Vec<u8>,
}

/// Reads one DER TLV at the start of `input`: (tag, content, rest).
fn der_tlv(input: &[u8]) -> Result<(u8, &[u8], &[u8]), ChannelError> {
    let bad = || ChannelError::Config("证书 DER 有误".into());
    let (&tag, rest) = input.split_first().ok_or_else(bad)?;
    let (&first, rest) = rest.split_first().ok_or_else(bad)?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err(bad());
        }
        let len = rest[..n].iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(bad());
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

/// Walks `Certificate → tbsCertificate` far enough to find the serial and the SPKI.
pub fn x509_parts(cert_der: &[u8]) -> Result<X509Parts, ChannelError> {
    let bad = || ChannelError::Config("不是 X.509 证书".into());
    let (tag, cert, _) = der_tlv(cert_der)?;
    if tag != 0x30 {
        return Err(bad());
    }
    let (tag, tbs, _) = der_tlv(cert)?;
    if tag != 0x30 {
        return Err(bad());
    }
    let (mut tag, mut content, mut rest) = der_tlv(tbs)?;
    if tag == 0xa0 {
        (tag, content, rest) = der_tlv(rest)?; // skip [0] version
    }
    if tag != 0x02 {
        return Err(bad());
    }
    let serial = content.strip_prefix(&[0u8]).filter(|s| !s.is_empty()).unwrap_or(content);
    let serial_hex: String = serial.iter().map(|b| format!("{b:02X}")).collect();
    // signature, issuer, validity, subject, then subjectPublicKeyInfo.
    for _ in 0..4 {
        (_, _, rest) = der_tlv(rest)?;
    }
    let before = rest;
    let (tag, _, after) = der_tlv(rest)?;
    if tag != 0x30 {
        return Err(bad());
    }
    let spki = before[..before.len() - after.len()].to_vec();
    Ok(X509Parts { serial_hex, spki })
}

/// A fresh RSA-2048 key pair as PEM: PKCS#8 private key and SPKI public key.
#[derive(Clone)]
pub struct GeneratedKeyPair {
    pub private_pkcs8_pem: String,
    pub public_spki_pem: String,
}

impl std::fmt::Debug for GeneratedKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedKeyPair").field("public_spki_pem", &self.public_spki_pem).finish_non_exhaustive()
    }
}

/// Generates an RSA-2048 key pair (a merchant's or, in the sandbox and tests, a provider's).
pub fn generate_rsa_2048() -> Result<GeneratedKeyPair, ChannelError> {
    let kp = KeyPair::generate(KeySize::Rsa2048).map_err(|_| ChannelError::Crypto("生成 RSA 密钥失败"))?;
    let private: Pkcs8V1Der = kp.as_der().map_err(|_| ChannelError::Crypto("导出私钥失败"))?;
    let public: PublicKeyX509Der = kp.public_key().as_der().map_err(|_| ChannelError::Crypto("导出公钥失败"))?;
    Ok(GeneratedKeyPair {
        private_pkcs8_pem: der_to_pem("PRIVATE KEY", private.as_ref()),
        public_spki_pem: der_to_pem("PUBLIC KEY", public.as_ref()),
    })
}

/// HMAC-SHA256 of `message` under `key`, in lowercase hex.
pub fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    let tag = aws_lc_rs::hmac::sign(&aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key), message);
    tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// `len` random characters from `[0-9A-Za-z]`, for request and AES nonces.
pub fn random_nonce(len: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut bytes = vec![0u8; len];
    // SystemRandom fails only if the OS has no entropy source; that is not a state we can run in.
    SystemRandom::new().fill(&mut bytes).expect("OS random source");
    bytes.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect()
}

fn gcm_key(key: &[u8]) -> Result<LessSafeKey, ChannelError> {
    if key.len() != 32 {
        return Err(ChannelError::Config("APIv3 密钥必须是 32 字节".into()));
    }
    aead_key(&AES_256_GCM, key)
}

fn aead_key(alg: &'static aws_lc_rs::aead::Algorithm, key: &[u8]) -> Result<LessSafeKey, ChannelError> {
    let unbound = UnboundKey::new(alg, key).map_err(|_| ChannelError::Crypto("AES 密钥无效"))?;
    Ok(LessSafeKey::new(unbound))
}

fn gcm_nonce(nonce: &str) -> Result<Nonce, ChannelError> {
    Nonce::try_assume_unique_for_key(nonce.as_bytes()).map_err(|_| ChannelError::Malformed("AES-GCM nonce 必须是 12 字节".into()))
}

/// AEAD_AES_256_GCM decryption as WeChat Pay uses it: the key is the 32-byte APIv3 key, the
/// nonce and associated data are the UTF-8 bytes of the given strings, and `ciphertext_b64` is
/// Base64 of ciphertext followed by the 16-byte tag.
pub fn aes_256_gcm_open(key: &[u8], nonce: &str, associated_data: &str, ciphertext_b64: &str) -> Result<Vec<u8>, ChannelError> {
    aead_open(gcm_key(key)?, nonce, associated_data, ciphertext_b64)
}

fn aead_open(key: LessSafeKey, nonce: &str, associated_data: &str, ciphertext_b64: &str) -> Result<Vec<u8>, ChannelError> {
    let nonce = gcm_nonce(nonce)?;
    let mut buf = B64.decode(ciphertext_b64.trim()).map_err(|_| ChannelError::Malformed("密文不是 Base64".into()))?;
    let plain = key
        .open_in_place(nonce, Aad::from(associated_data.as_bytes()), &mut buf)
        .map_err(|_| ChannelError::Crypto("解密失败：密钥、nonce、附加数据或密文不符"))?;
    Ok(plain.to_vec())
}

/// The inverse of [`aes_256_gcm_open`] (the sandbox encrypts notification resources with it).
pub fn aes_256_gcm_seal(key: &[u8], nonce: &str, associated_data: &str, plaintext: &[u8]) -> Result<String, ChannelError> {
    let key = gcm_key(key)?;
    let nonce = gcm_nonce(nonce)?;
    let mut buf = plaintext.to_vec();
    key.seal_in_place_append_tag(nonce, Aad::from(associated_data.as_bytes()), &mut buf).map_err(|_| ChannelError::Crypto("加密失败"))?;
    Ok(B64.encode(buf))
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)).unwrap_or(0)
}

#[cfg(test)]
#[path = "crypto_tests.rs"]
mod tests;
