//! WeChat Pay API v3 signatures: the `Authorization` header on our requests, the
//! `Wechatpay-*` headers on its responses and notifications, and the keys that verify them.

use crate::crypto::{RsaSigner, RsaVerifier, pem_to_der, x509_parts};
use crate::{ChannelError, HeaderMap, MAX_CLOCK_SKEW_S};
use serde::{Deserialize, Serialize};

/// The authentication type of the `Authorization` header.
pub const AUTH_SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";

pub const HEADER_TIMESTAMP: &str = "Wechatpay-Timestamp";
pub const HEADER_NONCE: &str = "Wechatpay-Nonce";
pub const HEADER_SIGNATURE: &str = "Wechatpay-Signature";
pub const HEADER_SERIAL: &str = "Wechatpay-Serial";
/// Which algorithm signed an answer or notification; WeChat Pay sends it with every one, and
/// its only value is [`AUTH_SCHEME`].
pub const HEADER_SIGNATURE_TYPE: &str = "Wechatpay-Signature-Type";

/// The request signing message: `METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n`, where URL is the path
/// with its query string and BODY is empty for GET.
pub fn request_message(method: &str, path_and_query: &str, timestamp: i64, nonce: &str, body: &str) -> String {
    format!("{method}\n{path_and_query}\n{timestamp}\n{nonce}\n{body}\n")
}

/// The response/notification signing message: `TIMESTAMP\nNONCE\nBODY\n`.
pub fn response_message(timestamp: &str, nonce: &str, body: &str) -> String {
    format!("{timestamp}\n{nonce}\n{body}\n")
}

/// The five fields of an `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationParts {
    pub mchid: String,
    pub serial_no: String,
    pub nonce_str: String,
    pub timestamp: i64,
    pub signature: String,
}

impl AuthorizationParts {
    pub fn to_header(&self) -> String {
        format!(
            "{AUTH_SCHEME} mchid=\"{}\",nonce_str=\"{}\",signature=\"{}\",timestamp=\"{}\",serial_no=\"{}\"",
            self.mchid, self.nonce_str, self.signature, self.timestamp, self.serial_no
        )
    }

    /// Parses a header value; the five fields may come in any order.
    pub fn parse(header: &str) -> Result<Self, ChannelError> {
        let bad = |m: &str| ChannelError::Malformed(format!("Authorization: {m}"));
        let rest = header.trim().strip_prefix(AUTH_SCHEME).ok_or_else(|| bad("认证类型不是 WECHATPAY2-SHA256-RSA2048"))?;
        let (mut mchid, mut serial, mut nonce, mut ts, mut sig) = (None, None, None, None, None);
        for part in rest.split(',') {
            let (k, v) = part.trim().split_once('=').ok_or_else(|| bad("字段格式"))?;
            let v = v.trim().strip_prefix('"').and_then(|v| v.strip_suffix('"')).ok_or_else(|| bad("字段未加引号"))?;
            let slot = match k.trim() {
                "mchid" => &mut mchid,
                "serial_no" => &mut serial,
                "nonce_str" => &mut nonce,
                "timestamp" => &mut ts,
                "signature" => &mut sig,
                _ => continue,
            };
            if slot.replace(v.to_string()).is_some() {
                return Err(bad("字段重复"));
            }
        }
        Ok(Self {
            mchid: mchid.ok_or_else(|| bad("缺少 mchid"))?,
            serial_no: serial.ok_or_else(|| bad("缺少 serial_no"))?,
            nonce_str: nonce.ok_or_else(|| bad("缺少 nonce_str"))?,
            timestamp: ts.ok_or_else(|| bad("缺少 timestamp"))?.parse().map_err(|_| bad("timestamp 不是数字"))?,
            signature: sig.ok_or_else(|| bad("缺少 signature"))?,
        })
    }
}

/// What a request signature covers.
#[derive(Debug, Clone, Copy)]
pub struct RequestToSign<'a> {
    pub method: &'a str,
    pub path_and_query: &'a str,
    pub body: &'a str,
    pub timestamp: i64,
    pub nonce: &'a str,
}

/// Signs one request as merchant `mchid` with the key of certificate `serial_no`.
pub fn authorize(signer: &RsaSigner, mchid: &str, serial_no: &str, req: RequestToSign<'_>) -> Result<AuthorizationParts, ChannelError> {
    let message = request_message(req.method, req.path_and_query, req.timestamp, req.nonce, req.body);
    Ok(AuthorizationParts {
        mchid: mchid.to_string(),
        serial_no: serial_no.to_string(),
        nonce_str: req.nonce.to_string(),
        timestamp: req.timestamp,
        signature: signer.sign_b64(message.as_bytes())?,
    })
}

/// One WeChat Pay verifying key as a school configures it: a platform certificate (its serial
/// is read from the certificate) or a platform public key with its `PUB_KEY_ID_…` id.
#[derive(Clone, Serialize, Deserialize)]
pub struct PlatformKey {
    /// Required for a public key; optional (checked) for a certificate.
    #[serde(default)]
    pub serial: Option<String>,
    /// `-----BEGIN CERTIFICATE-----` or `-----BEGIN PUBLIC KEY-----`.
    pub pem: String,
}

impl std::fmt::Debug for PlatformKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformKey").field("serial", &self.serial).finish_non_exhaustive()
    }
}

/// The verifying keys, looked up by the `Wechatpay-Serial` header. Both modes may be present at
/// once (WeChat sends either while a merchant migrates from certificates to the public key).
#[derive(Debug, Clone, Default)]
pub struct PlatformVerifiers {
    keys: Vec<(String, RsaVerifier)>,
}

impl PlatformVerifiers {
    pub fn from_config(keys: &[PlatformKey]) -> Result<Self, ChannelError> {
        let mut out = Self::default();
        for k in keys {
            let (label, der) = pem_to_der(&k.pem)?;
            let serial = if label == "CERTIFICATE" {
                let found = x509_parts(&der)?.serial_hex;
                if let Some(given) = &k.serial
                    && !given.eq_ignore_ascii_case(&found)
                {
                    return Err(ChannelError::Config(format!("平台证书序列号 {given} 与证书内容 {found} 不符")));
                }
                found
            } else {
                k.serial.clone().ok_or_else(|| ChannelError::Config("平台公钥需要填写公钥 ID（PUB_KEY_ID_…）".into()))?
            };
            out.insert(serial, RsaVerifier::from_pem(&k.pem)?);
        }
        if out.keys.is_empty() {
            return Err(ChannelError::Config("至少需要一个微信支付平台证书或平台公钥".into()));
        }
        Ok(out)
    }

    pub fn insert(&mut self, serial: String, key: RsaVerifier) {
        self.keys.retain(|(s, _)| !s.eq_ignore_ascii_case(&serial));
        self.keys.push((serial, key));
    }

    pub fn get(&self, serial: &str) -> Option<&RsaVerifier> {
        self.keys.iter().find(|(s, _)| s.eq_ignore_ascii_case(serial)).map(|(_, k)| k)
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Result<&'h str, ChannelError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ChannelError::Malformed(format!("缺少 {name}")))
}

/// Verifies the `Wechatpay-*` headers of a response or a notification over the raw body:
/// timestamp within [`MAX_CLOCK_SKEW_S`] of `now`, known serial, valid signature.
pub fn verify_wechatpay_headers(verifiers: &PlatformVerifiers, headers: &HeaderMap, body: &str, now: i64) -> Result<(), ChannelError> {
    let timestamp = header(headers, HEADER_TIMESTAMP)?;
    let nonce = header(headers, HEADER_NONCE)?;
    let signature = header(headers, HEADER_SIGNATURE)?;
    let serial = header(headers, HEADER_SERIAL)?;
    // Absent on some older answers; when present it must name the one algorithm we verify.
    if let Some(kind) = headers.get(HEADER_SIGNATURE_TYPE).and_then(|v| v.to_str().ok())
        && kind.trim() != AUTH_SCHEME
    {
        return Err(ChannelError::Malformed(format!("未知的签名类型 {kind}")));
    }
    let ts: i64 = timestamp.parse().map_err(|_| ChannelError::Malformed("Wechatpay-Timestamp 不是数字".into()))?;
    if (now - ts).abs() > MAX_CLOCK_SKEW_S {
        return Err(ChannelError::StaleTimestamp);
    }
    let key = verifiers.get(serial).ok_or_else(|| ChannelError::UnknownSerial(serial.to_string()))?;
    key.verify_b64(response_message(timestamp, nonce, body).as_bytes(), signature)
}
