//! WeChat's web authorisation (网页授权, OAuth 2.0) with `scope=snsapi_base`: the silent
//! sign-in that tells a page opened in WeChat's browser who the payer is (their `openid` under
//! the school's official account), which JSAPI payments require.
//!
//! Step 1 sends the browser to `open.weixin.qq.com/connect/oauth2/authorize?appid&redirect_uri
//! &response_type=code&scope=snsapi_base&state#wechat_redirect`; WeChat comes back to
//! `redirect_uri?code&state` without asking the user anything. Step 2, on the server,
//! exchanges the single-use code (5 minutes) at `api.weixin.qq.com/sns/oauth2/access_token`
//! with the official account's AppSecret. Source: developers.weixin.qq.com
//! `OA_Web_Apps/Wechat_webpage_authorization` and `api_snsaccesstoken` (see
//! docs/protocols/issue-11-research.md §4.1).

use crate::ChannelError;
use serde::Deserialize;

pub const DEFAULT_AUTHORIZE_URL: &str = "https://open.weixin.qq.com/connect/oauth2/authorize";
pub const DEFAULT_TOKEN_URL: &str = "https://api.weixin.qq.com/sns/oauth2/access_token";

pub fn default_authorize_url() -> String {
    DEFAULT_AUTHORIZE_URL.to_string()
}

pub fn default_token_url() -> String {
    DEFAULT_TOKEN_URL.to_string()
}

/// `state` comes back unchanged; WeChat allows at most 128 bytes of `[a-zA-Z0-9]`.
pub fn state_is_valid(state: &str) -> bool {
    !state.is_empty() && state.len() <= 128 && state.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Step 1: the address to send the browser to.
pub fn authorize_url(authorize_base: &str, appid: &str, redirect_uri: &str, state: &str) -> Result<String, ChannelError> {
    if !state_is_valid(state) {
        return Err(ChannelError::Config("state 只能是 1–128 位字母或数字".into()));
    }
    Ok(format!(
        "{authorize_base}?appid={}&redirect_uri={}&response_type=code&scope=snsapi_base&state={state}#wechat_redirect",
        encode(appid),
        encode(redirect_uri)
    ))
}

/// Step 2: the address of the code exchange (a GET; the secret travels in the query, as
/// WeChat publishes it — the call is server to server over TLS).
pub fn token_url(token_base: &str, appid: &str, secret: &str, code: &str) -> String {
    format!("{token_base}?appid={}&secret={}&code={}&grant_type=authorization_code", encode(appid), encode(secret), encode(code))
}

#[derive(Deserialize)]
struct TokenAnswer {
    openid: Option<String>,
    scope: Option<String>,
    #[serde(default)]
    is_snapshotuser: Option<i64>,
    errcode: Option<i64>,
    errmsg: Option<String>,
}

/// The payer's `openid` from the code exchange's answer. WeChat reports errors as HTTP 200
/// with `errcode` (40029 invalid code, 40163 code used, 40125 bad secret, …). A "snapshot"
/// user (`is_snapshotuser=1`, a page viewed in WeChat's preview mode) has a virtual openid
/// that cannot pay, so it is refused here rather than at the cashier.
pub fn parse_token_answer(body: &str) -> Result<String, ChannelError> {
    let a: TokenAnswer = serde_json::from_str(body).map_err(|_| ChannelError::Malformed("微信授权应答不是 JSON".into()))?;
    if let Some(code) = a.errcode.filter(|c| *c != 0) {
        return Err(ChannelError::Provider { status: 200, code: code.to_string(), message: a.errmsg.unwrap_or_default() });
    }
    if a.is_snapshotuser == Some(1) {
        return Err(ChannelError::Provider {
            status: 200,
            code: "snapshot_user".into(),
            message: "快照页模式下无法支付，请点击页面下方“使用完整服务”后再试".into(),
        });
    }
    if a.scope.as_deref().is_some_and(|s| !s.split(',').any(|s| s == "snsapi_base" || s == "snsapi_userinfo")) {
        return Err(ChannelError::Malformed("微信授权范围不对".into()));
    }
    match a.openid {
        Some(o) if !o.is_empty() && o.len() <= 64 && o.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') => Ok(o),
        _ => Err(ChannelError::Malformed("微信授权应答没有有效的 openid".into())),
    }
}

/// Percent-encoding of a query value (RFC 3986 unreserved characters kept).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorize_url_is_as_published() {
        let u = authorize_url(DEFAULT_AUTHORIZE_URL, "wx520c15f417810387", "https://pay.example.edu/s/lut/wechat/oauth", "ab12").unwrap();
        assert_eq!(
            u,
            "https://open.weixin.qq.com/connect/oauth2/authorize?appid=wx520c15f417810387&redirect_uri=https%3A%2F%2Fpay.example.edu%2Fs%2Flut%2Fwechat%2Foauth&response_type=code&scope=snsapi_base&state=ab12#wechat_redirect"
        );
        assert!(authorize_url(DEFAULT_AUTHORIZE_URL, "wx1", "https://x", "a-b").is_err());
        assert!(authorize_url(DEFAULT_AUTHORIZE_URL, "wx1", "https://x", &"a".repeat(129)).is_err());
    }

    #[test]
    fn token_answers() {
        let ok = r#"{"access_token":"ACCESS","expires_in":7200,"refresh_token":"R","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","scope":"snsapi_base"}"#;
        assert_eq!(parse_token_answer(ok).unwrap(), "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o");
        let used = r#"{"errcode":40163,"errmsg":"code been used, rid: 1"}"#;
        assert!(matches!(parse_token_answer(used), Err(ChannelError::Provider { code, .. }) if code == "40163"));
        let snapshot = r#"{"access_token":"A","expires_in":7200,"openid":"oX","scope":"snsapi_base","is_snapshotuser":1}"#;
        assert!(parse_token_answer(snapshot).is_err());
        assert!(parse_token_answer(r#"{"openid":"o<script>","scope":"snsapi_base"}"#).is_err());
        assert!(parse_token_answer("<html>").is_err());
    }
}
