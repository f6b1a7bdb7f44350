//! CCB's two integrity checks, as the public integrations compute them (CCB's own 《商户接口说明》
//! is handed to merchants by their branch and is not public):
//!
//! - **MAC** on what the merchant sends (the 520100 order redirect, the 530550 QR order, the
//!   410408 query): lower-case hex MD5 of `KEY=value` pairs joined by `&` in a **fixed** order
//!   (not sorted), empty values kept as `KEY=`. The order's MAC string carries `PUB`, the last 30
//!   characters of the hex of CCB's public key, which is never sent.
//! - **SIGN** on what CCB sends (the merchant notification): hex of an MD5withRSA signature
//!   (PKCS#1 v1.5 over MD5) by CCB's 1024-bit key, whose public half the merchant is given as the
//!   hex of its DER `SubjectPublicKeyInfo`.

use crate::ChannelError;
use md5::{Digest, Md5};
use rsa::pkcs8::DecodePublicKey;

/// `TXCODE` of the PC/phone order redirect (网上支付 / 龙支付 收银台).
pub const TX_ORDER: &str = "520100";
/// `TXCODE` of the merchant QR order (聚合, one code any app scans).
pub const TX_QR_ORDER: &str = "530550";
/// `TXCODE` of the 商户通 order query.
pub const TX_QUERY: &str = "410408";
/// `CURCODE` 01: renminbi.
pub const CNY: &str = "01";

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes of a hex string (either case); `None` if it is not hex.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    let t = text.trim().as_bytes();
    if !t.len().is_multiple_of(2) {
        return None;
    }
    t.chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(s, 16).ok()
        })
        .collect()
}

/// Lower-case hex MD5 of `text` (UTF-8; every field we MAC is ASCII).
pub fn md5_hex(text: &str) -> String {
    hex(&Md5::digest(text.as_bytes()))
}

/// `K1=v1&K2=v2&…` in the order given.
pub fn join(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// `PUB`: the last 30 characters of the public key's hex string, exactly as CCB gave it.
pub fn pub30(public_key_hex: &str) -> Result<&str, ChannelError> {
    let k = public_key_hex.trim();
    if k.len() < 30 || !k.is_ascii() {
        return Err(ChannelError::Config("建行公钥（十六进制）太短".into()));
    }
    Ok(&k[k.len() - 30..])
}

/// The 520100 fields in their MAC order, `PUB` in its place after `TYPE` (zhongliudizhu
/// `CreditPay.createMac`; the same order as the form, which leaves `PUB` out).
pub const ORDER_MAC_FIELDS: [&str; 16] = [
    "MERCHANTID",
    "POSID",
    "BRANCHID",
    "ORDERID",
    "PAYMENT",
    "CURCODE",
    "TXCODE",
    "REMARK1",
    "REMARK2",
    "TYPE",
    "PUB",
    "GATEWAY",
    "CLIENTIP",
    "REGINFO",
    "PROINFO",
    "REFERER",
];

/// The 530550 fields in their MAC order, `PUB` last (the published merchant-QR builders).
pub const QR_MAC_FIELDS: [&str; 12] =
    ["MERCHANTID", "POSID", "BRANCHID", "ORDERID", "PAYMENT", "CURCODE", "TXCODE", "REMARK1", "REMARK2", "RETURNTYPE", "TIMEOUT", "PUB"];

/// The 410408 fields in their MAC order (LiHuaYang `CCBWapQRCodePayQueryReq.buildSignStr`):
/// `QUPWD` is sent in the form but is always **empty** in the MAC string.
pub const QUERY_MAC_FIELDS: [&str; 16] = [
    "MERCHANTID",
    "BRANCHID",
    "POSID",
    "ORDERDATE",
    "BEGORDERTIME",
    "ENDORDERTIME",
    "ORDERID",
    "QUPWD",
    "TXCODE",
    "TYPE",
    "KIND",
    "STATUS",
    "SEL_TYPE",
    "PAGE",
    "OPERATOR",
    "CHANNEL",
];

/// The MAC over `order` of `fields` (a missing field counts as empty), `PUB` from `pub30` and
/// `QUPWD` always empty.
pub fn mac(order: &[&str], fields: &dyn Fn(&str) -> Option<String>, pub30: &str) -> String {
    let values: Vec<(&str, String)> = order
        .iter()
        .map(|k| {
            let v = match *k {
                "PUB" => pub30.to_string(),
                "QUPWD" => String::new(),
                _ => fields(k).unwrap_or_default(),
            };
            (*k, v)
        })
        .collect();
    let pairs: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    md5_hex(&join(&pairs))
}

/// The notification fields always signed, in order, present or not (both public SDKs).
pub const NOTICE_FIXED: [&str; 9] = ["POSID", "BRANCHID", "ORDERID", "PAYMENT", "CURCODE", "REMARK1", "REMARK2", "ACC_TYPE", "SUCCESS"];

/// The strings a notification's `SIGN` may be over. The two public SDKs agree on the nine fixed
/// fields, then `TYPE`, `REFERER`, `CLIENTIP` when the notification has them (the order was sent
/// with `TYPE=1`) and `ACCDATE` when not empty; they differ on the rest of the tail, which
/// depends on the merchant's product settings (zhongliudizhu `RSASig`: `USRMSG`, `INSTALLNUM`,
/// `ERRMSG`, `USRINFO`, each when not empty; LiHuaYang `buildSignStr`: `USRINFO`, `PAYTYPE` when
/// present). Both candidates are tried; a notification with none of the disputed fields gives the
/// same string twice. Every field we act on (`ORDERID`, `PAYMENT`, `SUCCESS`, `POSID`) is in
/// the fixed part, which both sign.
pub fn notice_sign_strings(get: &dyn Fn(&str) -> Option<String>) -> [String; 2] {
    let mut head: Vec<(String, String)> = NOTICE_FIXED.iter().map(|k| (k.to_string(), get(k).unwrap_or_default())).collect();
    for k in ["TYPE", "REFERER", "CLIENTIP"] {
        if let Some(v) = get(k) {
            head.push((k.to_string(), v));
        }
    }
    let non_empty = |k: &str| get(k).filter(|v| !v.is_empty());
    if let Some(v) = non_empty("ACCDATE") {
        head.push(("ACCDATE".into(), v));
    }
    let mut a = head.clone();
    for k in ["USRMSG", "INSTALLNUM", "ERRMSG", "USRINFO"] {
        if let Some(v) = non_empty(k) {
            a.push((k.to_string(), v));
        }
    }
    let mut b = head;
    for k in ["USRINFO", "PAYTYPE"] {
        if let Some(v) = get(k) {
            b.push((k.to_string(), v));
        }
    }
    let text = |pairs: &[(String, String)]| pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    [text(&a), text(&b)]
}

/// CCB's public key, given as the hex of its DER `SubjectPublicKeyInfo` (`30819f30…`).
#[derive(Clone)]
pub struct CcbPublicKey {
    key: rsa::PublicKey,
}

impl std::fmt::Debug for CcbPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CcbPublicKey(<public key>)")
    }
}

impl CcbPublicKey {
    pub fn from_hex(text: &str) -> Result<Self, ChannelError> {
        let der = unhex(text).ok_or_else(|| ChannelError::Config("建行公钥须为十六进制字符串".into()))?;
        let key = rsa::PublicKey::from_public_key_der(&der).map_err(|e| ChannelError::Config(format!("建行公钥无法解析: {e}")))?;
        Ok(Self { key })
    }

    /// Verifies a hex MD5withRSA signature over `message`. Chinese values are signed as GBK
    /// bytes (a CCB convention the public verifiers follow), so `message` is encoded so first.
    pub fn verify_hex(&self, message: &str, sign_hex: &str) -> Result<(), ChannelError> {
        let sig = unhex(sign_hex).ok_or(ChannelError::BadSignature)?;
        let (bytes, _, _) = encoding_rs::GBK.encode(message);
        self.key.pkcs1v15_verify::<Md5>(&bytes, &sig).map_err(|_| ChannelError::BadSignature)
    }
}
