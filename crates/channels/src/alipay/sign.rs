//! Alipay OpenAPI RSA2 (SHA256withRSA) signatures over sorted `key=value&…` strings, and over
//! the JSON text of `alipay_trade_xxx_response`.

use crate::ChannelError;
use crate::crypto::{RsaSigner, RsaVerifier};
use serde_json::value::RawValue;
use std::collections::BTreeMap;

/// Request or notification parameters. A `BTreeMap` keeps them in the byte order of their names,
/// which is the ASCII order Alipay sorts by.
pub type Params = BTreeMap<String, String>;

/// Parameters left out when **signing a request**: only `sign` (the published rule and the
/// official SDKs keep `sign_type` in the signed content of requests).
pub const REQUEST_EXCLUDED: &[&str] = &["sign"];

/// Parameters left out when **verifying a notification**: `sign` and `sign_type`.
pub const NOTIFY_EXCLUDED: &[&str] = &["sign", "sign_type"];

/// `k1=v1&k2=v2…` over the sorted parameters, without `excluded` and without empty values;
/// values are raw (not URL-encoded).
pub fn sign_content(params: &Params, excluded: &[&str]) -> String {
    params
        .iter()
        .filter(|(k, v)| !v.is_empty() && !excluded.contains(&k.as_str()))
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Adds `sign` to request parameters (which must already hold `sign_type=RSA2`).
pub fn sign_request(signer: &RsaSigner, params: &mut Params) -> Result<(), ChannelError> {
    params.remove("sign");
    let sig = signer.sign_b64(sign_content(params, REQUEST_EXCLUDED).as_bytes())?;
    params.insert("sign".into(), sig);
    Ok(())
}

/// Verifies a request's `sign` the way Alipay does (the sandbox uses this).
pub fn verify_request(verifier: &RsaVerifier, params: &Params) -> Result<(), ChannelError> {
    let sig = params.get("sign").ok_or(ChannelError::BadSignature)?;
    verifier.verify_b64(sign_content(params, REQUEST_EXCLUDED).as_bytes(), sig)
}

/// Verifies an asynchronous notification (`sign_type` must be RSA2 if present).
pub fn verify_notify(verifier: &RsaVerifier, params: &Params) -> Result<(), ChannelError> {
    if params.get("sign_type").is_some_and(|t| t != "RSA2") {
        return Err(ChannelError::BadSignature);
    }
    let sig = params.get("sign").ok_or(ChannelError::BadSignature)?;
    verifier.verify_b64(sign_content(params, NOTIFY_EXCLUDED).as_bytes(), sig)
}

/// Signs notification parameters as Alipay does (the sandbox uses this).
pub fn sign_notify(signer: &RsaSigner, params: &mut Params) -> Result<(), ChannelError> {
    params.remove("sign");
    params.insert("sign_type".into(), "RSA2".into());
    let sig = signer.sign_b64(sign_content(params, NOTIFY_EXCLUDED).as_bytes())?;
    params.insert("sign".into(), sig);
    Ok(())
}

/// Parses `a=1&b=2` (form-urlencoded) into parameters; a repeated name is refused.
pub fn parse_form(body: &[u8]) -> Result<Params, ChannelError> {
    let mut out = Params::new();
    for (k, v) in form_urlencoded::parse(body) {
        if out.insert(k.into_owned(), v.into_owned()).is_some() {
            return Err(ChannelError::Malformed("参数重复".into()));
        }
    }
    Ok(out)
}

/// Form-urlencodes parameters (request bodies and redirect queries).
pub fn encode_form(params: &Params) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        s.append_pair(k, v);
    }
    s.finish()
}

/// `alipay.trade.query` → `alipay_trade_query_response`.
pub fn response_key(method: &str) -> String {
    format!("{}_response", method.replace('.', "_"))
}

/// Verifies a gateway answer and returns the exact JSON text of its `…_response` (or
/// `error_response`) node. A node without `sign` is returned only if it is not a success
/// (`code` ≠ `10000`), and then as an error, never as data.
pub fn verify_response(verifier: &RsaVerifier, method: &str, body: &str) -> Result<String, ChannelError> {
    let map: BTreeMap<String, &RawValue> = serde_json::from_str(body).map_err(|e| ChannelError::Malformed(e.to_string()))?;
    let key = response_key(method);
    let node = map.get(&key).or_else(|| map.get("error_response")).ok_or_else(|| ChannelError::Malformed(format!("应答缺少 {key}")))?;
    let text = node.get();
    match map.get("sign") {
        Some(sig) => {
            let sig: String = serde_json::from_str(sig.get()).map_err(|_| ChannelError::BadSignature)?;
            verifier.verify_b64(text.as_bytes(), &sig)?;
            Ok(text.to_string())
        }
        None => Err(super::api::unsigned_error(text)),
    }
}

/// Builds a gateway answer `{"<method>_response":<json>,"sign":"…"}` (the sandbox uses this).
pub fn sign_response(signer: &RsaSigner, method: &str, response_json: &str) -> Result<String, ChannelError> {
    let sig = signer.sign_b64(response_json.as_bytes())?;
    Ok(format!("{{\"{}\":{},\"sign\":{}}}", response_key(method), response_json, serde_json::Value::String(sig)))
}
