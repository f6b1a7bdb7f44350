//! UnionPay ACP 5.1.0 signatures (`signMethod=01`): the sorted `key=value&…` string of every
//! field except `signature` is digested with SHA-256, the digest written as **lower-case hex**,
//! and that hex text (not the raw digest) is signed SHA256withRSA; `signature` is its Base64.
//!
//! Answers of `backTransReq.do` / `queryTrans.do` come back as a raw `k=v&k=v` body (values are
//! not URL-encoded); notifications are ordinary form POSTs. Since 5.1.0 UnionPay puts its signing
//! certificate in the message (`signPubKeyCert`), checked against the configured root and middle
//! certificates as the official SDKs check it ([`super::cert`]), or pinned (see [`UnionpayKey`]).

use super::cert::Chain;
use crate::ChannelError;
use crate::crypto::{RsaSigner, RsaVerifier, der_to_pem, pem_to_der, x509_parts};
use aws_lc_rs::digest::{SHA256, digest};
use std::collections::BTreeMap;

/// Message fields, kept in the byte order of their names (the ASCII order ACP sorts by).
pub type Params = BTreeMap<String, String>;

pub use crate::alipay::sign::{encode_form, parse_form};

pub const VERSION: &str = "5.1.0";
pub const SIGN_METHOD_RSA: &str = "01";
pub const SIGNATURE: &str = "signature";
pub const SIGN_PUB_KEY_CERT: &str = "signPubKeyCert";

/// `k1=v1&k2=v2…` over every field but `signature`, in name order, values raw. Empty values
/// stay in (the SDKs drop blank fields from a request *before* signing, which [`sign`] does).
pub fn sign_string(params: &Params) -> String {
    params.iter().filter(|(k, _)| k.as_str() != SIGNATURE).map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// Lower-case hex of SHA-256 of `text` (ACP's `sha256X16`).
pub fn sha256_hex(text: &str) -> String {
    digest(&SHA256, text.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Drops blank fields, then adds `signature` (the fields must already hold `signMethod=01`,
/// `certId` and the rest).
pub fn sign(signer: &RsaSigner, params: &mut Params) -> Result<(), ChannelError> {
    params.retain(|k, v| !v.trim().is_empty() && k != SIGNATURE);
    let hex = sha256_hex(&sign_string(params));
    let sig = signer.sign_b64(hex.as_bytes())?;
    params.insert(SIGNATURE.into(), sig);
    Ok(())
}

/// Checks `signMethod=01`, `version=5.1.0` and `signature` with `verifier`.
pub fn verify(verifier: &RsaVerifier, params: &Params) -> Result<(), ChannelError> {
    if params.get("signMethod").map(String::as_str) != Some(SIGN_METHOD_RSA) || params.get("version").map(String::as_str) != Some(VERSION) {
        return Err(ChannelError::BadSignature);
    }
    let sig = params.get(SIGNATURE).ok_or(ChannelError::BadSignature)?;
    let hex = sha256_hex(&sign_string(params));
    verifier.verify_b64(hex.as_bytes(), sig)
}

/// How UnionPay's messages are trusted: by the configured root and middle certificates, as the
/// official SDKs do ([`Chain`]), or — for configs that give only UnionPay's certificate or key —
/// by pinning that key.
#[derive(Debug, Clone)]
pub enum UnionpayKey {
    Chain(Box<Chain>),
    /// The configured key and its SubjectPublicKeyInfo, which any `signPubKeyCert` must carry.
    Pinned {
        verifier: RsaVerifier,
        spki: Vec<u8>,
    },
}

impl UnionpayKey {
    /// The pinned key: a PEM public key or certificate.
    pub fn from_pem(text: &str) -> Result<Self, ChannelError> {
        let verifier = RsaVerifier::from_pem(text)?;
        let (label, der) = pem_to_der(text)?;
        let spki = if label == "CERTIFICATE" { x509_parts(&der)?.spki } else { der };
        Ok(Self::Pinned { verifier, spki })
    }

    /// Verifies a message from UnionPay at `now`. Chain: `signPubKeyCert` is required and
    /// checked (validity, chain, owner), and its key verifies. Pinned: `signPubKeyCert`, when
    /// present, must be a certificate for the pinned key (whoever issued it); the pinned key
    /// verifies.
    pub fn verify_message_at(&self, params: &Params, now: i64) -> Result<(), ChannelError> {
        match self {
            Self::Chain(chain) => {
                let cert = params.get(SIGN_PUB_KEY_CERT).ok_or(ChannelError::BadSignature)?;
                let cert = chain.check(cert, now)?;
                verify(&RsaVerifier::from_pem(&der_to_pem("PUBLIC KEY", &cert.spki))?, params)
            }
            Self::Pinned { verifier, spki } => {
                if let Some(cert) = params.get(SIGN_PUB_KEY_CERT) {
                    let (label, der) = pem_to_der(cert).map_err(|_| ChannelError::BadSignature)?;
                    let parts = x509_parts(&der).map_err(|_| ChannelError::BadSignature)?;
                    if label != "CERTIFICATE" || &parts.spki != spki {
                        return Err(ChannelError::UnknownSerial(format!("signPubKeyCert {}", parts.serial_hex)));
                    }
                }
                verify(verifier, params)
            }
        }
    }

    pub fn verify_message(&self, params: &Params) -> Result<(), ChannelError> {
        self.verify_message_at(params, crate::crypto::unix_now())
    }
}

/// Parses a raw `k=v&k=v` answer as the ACP SDKs do: the name ends at the first `=`, the value
/// at the next `&` that is not inside `{…}` or `[…]`; nothing is URL-decoded.
pub fn parse_raw(body: &str) -> Result<Params, ChannelError> {
    let body = body.trim();
    let body = body.strip_prefix('{').and_then(|b| b.strip_suffix('}')).unwrap_or(body);
    let mut out = Params::new();
    let (mut start, mut close) = (0usize, None::<char>);
    let mut pieces = Vec::new();
    for (i, c) in body.char_indices() {
        match (close, c) {
            (Some(end), c) if c == end => close = None,
            (Some(_), _) => {}
            (None, '{') => close = Some('}'),
            (None, '[') => close = Some(']'),
            (None, '&') => {
                pieces.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    pieces.push(&body[start..]);
    for piece in pieces.into_iter().filter(|p| !p.is_empty()) {
        let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
        if k.is_empty() || out.insert(k.to_string(), v.to_string()).is_some() {
            return Err(ChannelError::Malformed("应答报文格式有误".into()));
        }
    }
    Ok(out)
}

/// The inverse of [`parse_raw`] (the sandbox answers with it). Values must not hold `&`.
pub fn encode_raw(params: &Params) -> String {
    params.iter().map(|(k, v)| format!("{k}={}", v.replace('&', ""))).collect::<Vec<_>>().join("&")
}

/// `yyyyMMddHHmmss`, Shanghai time (`txnTime`, `payTimeout`).
pub fn txn_time(unix_s: i64) -> String {
    let (y, mo, d, h, mi, s) = campuspay_domain::time::shanghai_parts(unix_s);
    format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}")
}

/// The inverse of [`txn_time`].
pub fn parse_txn_time(text: &str) -> Option<i64> {
    if text.len() != 14 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| text[r].parse::<u32>().ok();
    campuspay_domain::time::shanghai_to_unix(i64::from(n(0..4)?), n(4..6)?, n(6..8)?, n(8..10)?, n(10..12)?, n(12..14)?)
}
