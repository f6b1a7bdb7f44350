//! WeChat inside its own browser, as far as a merchant's page sees it: the web sign-in
//! (网页授权 `snsapi_base`: `open.weixin.qq.com/connect/oauth2/authorize` and
//! `api.weixin.qq.com/sns/oauth2/access_token`) and the `WeixinJSBridge` that WeChat's browser
//! injects, whose `getBrandWCPayRequest` shows WeChat's own pay sheet.
//!
//! A plain browser with a WeChat user agent has no bridge, so the simulator serves one
//! (`jsbridge.js`) that a merchant page in demo mode loads before its own script: it asks the
//! simulator for the order behind `package`, shows the pay sheet over the page, and on 支付
//! posts the merchant's signed parameters back, where `paySign` is verified with the merchant's
//! key exactly as WeChat does, the payer is checked against the order's `openid`, and the trade
//! is paid (notifications follow as for any payment).
//!
//! The simulated WeChat user is a browser: a cookie made on the first sign-in. Their openid is
//! derived from it and the official account's AppID, so it is the same on every visit and
//! differs between accounts, as WeChat's is.

use super::Sandbox;
use super::server::{PayOutcome, html_escape};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use campuspay_channels::Provider;
use campuspay_channels::crypto::{hmac_sha256_hex, random_nonce, unix_now};
use campuspay_channels::wechatpay::oauth::state_is_valid;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

pub const AUTHORIZE_PATH: &str = "/sandbox/wechat/connect/oauth2/authorize";
pub const TOKEN_PATH: &str = "/sandbox/wechat/sns/oauth2/access_token";
pub const BRIDGE_PATH: &str = "/sandbox/wechatpay/jsbridge.js";
const ORDER_PATH: &str = "/sandbox/wechatpay/jsapi/order";
const PAY_PATH: &str = "/sandbox/wechatpay/jsapi/pay";
const USER_COOKIE: &str = "sandbox_wechat_user";
/// A sign-in code lives five minutes and is good once, as WeChat publishes.
const CODE_TTL_S: i64 = 300;
const MAC_LEN: usize = 16;

/// Codes already exchanged, with their expiry (process-wide: a code names its sandbox by MAC).
static USED_CODES: LazyLock<Mutex<HashMap<String, i64>>> = LazyLock::new(Mutex::default);

pub(super) fn routes() -> Router<Sandbox> {
    Router::new()
        .route(AUTHORIZE_PATH, get(authorize))
        .route(TOKEN_PATH, get(access_token))
        .route(BRIDGE_PATH, get(bridge_script))
        .route(ORDER_PATH, get(order_of_package))
        .route(PAY_PATH, post(pay))
}

impl Sandbox {
    fn mac(&self, what: &str) -> String {
        hmac_sha256_hex(self.inner.keys.ids.wechatpay.apiv3_key.as_bytes(), what.as_bytes())[..MAC_LEN].to_string()
    }

    /// The opaque `prepay_id` of a JSAPI trade. It carries the trade's number under a MAC, so
    /// any instance sharing the sandbox's keys finds the trade again without storing it.
    pub(super) fn prepay_id(&self, out_trade_no: &str) -> String {
        format!("wx{out_trade_no}{}", self.mac(&format!("prepay:{out_trade_no}")))
    }

    fn trade_of_prepay_id(&self, prepay_id: &str) -> Option<String> {
        let inner = prepay_id.strip_prefix("wx")?;
        let split = inner.len().checked_sub(MAC_LEN)?;
        let (no, mac) = (inner.get(..split)?, inner.get(split..)?);
        (!no.is_empty() && mac == self.mac(&format!("prepay:{no}"))).then(|| no.to_string())
    }

    /// The openid of the simulated WeChat user `user` under the official account.
    fn openid_of(&self, user: &str) -> String {
        let appid = &self.inner.keys.ids.wechatpay.appid;
        let mac = hmac_sha256_hex(self.inner.keys.ids.wechatpay.apiv3_key.as_bytes(), format!("openid:{appid}:{user}").as_bytes());
        format!("o{}", &mac[..27])
    }
}

fn user_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, v)| *k == USER_COOKIE && v.len() == 24 && v.bytes().all(|b| b.is_ascii_alphanumeric()))
        .map(|(_, v)| v.to_string())
}

fn in_wechat(headers: &HeaderMap) -> bool {
    headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).is_some_and(|ua| ua.to_ascii_lowercase().contains("micromessenger"))
}

/// WeChat's error page (the real one says "Oops! Something went wrong:(" over a code).
fn wechat_page(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>微信</title></head>\
         <body><p>{}</p><p><small>沙箱环境模拟的微信网页授权。</small></p></body></html>",
        html_escape(message)
    );
    (status, Html(body)).into_response()
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    appid: Option<String>,
    redirect_uri: Option<String>,
    response_type: Option<String>,
    scope: Option<String>,
    state: Option<String>,
}

/// Step 1 of the sign-in: silent for `snsapi_base`, straight back to `redirect_uri` with a code.
async fn authorize(State(sb): State<Sandbox>, headers: HeaderMap, Query(q): Query<AuthorizeQuery>) -> Response {
    if !in_wechat(&headers) {
        return wechat_page(StatusCode::OK, "请在微信客户端打开链接");
    }
    if q.appid.as_deref() != Some(sb.inner.keys.ids.wechatpay.appid.as_str()) {
        return wechat_page(StatusCode::OK, "Oops! Something went wrong:( 10016 appid 参数错误");
    }
    let Some(redirect_uri) = q.redirect_uri.filter(|u| u.starts_with("http://") || u.starts_with("https://")) else {
        return wechat_page(StatusCode::OK, "Oops! Something went wrong:( 10003 redirect_uri 参数错误");
    };
    if q.response_type.as_deref() != Some("code") {
        return wechat_page(StatusCode::OK, "Oops! Something went wrong:( 10004 response_type 参数错误");
    }
    if q.scope.as_deref() != Some("snsapi_base") {
        // snsapi_userinfo asks the user's consent on a page of WeChat's; campuspay never needs it.
        return wechat_page(StatusCode::OK, "Oops! Something went wrong:( 10005 沙箱只提供静默授权 snsapi_base");
    }
    let state = q.state.unwrap_or_default();
    if !state.is_empty() && !state_is_valid(&state) {
        return wechat_page(StatusCode::OK, "Oops! Something went wrong:( 10007 state 参数错误");
    }
    let (user, new_user) = match user_of(&headers) {
        Some(u) => (u, false),
        None => (random_nonce(24), true),
    };
    let openid = sb.openid_of(&user);
    let expires = unix_now() + CODE_TTL_S;
    let body = format!("{openid}{expires}{}", random_nonce(8));
    let code = format!("{body}{}", sb.mac(&format!("code:{body}")));
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    // 302, as WeChat answers (axum's `Redirect::to` would say 303).
    let mut res = (StatusCode::FOUND, [(header::LOCATION, format!("{redirect_uri}{sep}code={code}&state={state}"))]).into_response();
    if new_user && let Ok(v) = format!("{USER_COOKIE}={user}; Path=/sandbox/; HttpOnly; SameSite=Lax; Max-Age=31536000").parse() {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

#[derive(Deserialize)]
struct TokenQuery {
    appid: Option<String>,
    secret: Option<String>,
    code: Option<String>,
    grant_type: Option<String>,
}

fn wx_error(code: i64, message: &str) -> Response {
    // WeChat answers errors with HTTP 200 and `errcode`.
    axum::Json(json!({ "errcode": code, "errmsg": format!("{message}, rid: {}", random_nonce(8)) })).into_response()
}

/// Step 2: the merchant's server exchanges the code for the openid.
async fn access_token(State(sb): State<Sandbox>, Query(q): Query<TokenQuery>) -> Response {
    if q.grant_type.as_deref() != Some("authorization_code") {
        return wx_error(40002, "invalid grant_type");
    }
    if q.appid.as_deref() != Some(sb.inner.keys.ids.wechatpay.appid.as_str()) {
        return wx_error(40013, "invalid appid");
    }
    if q.secret.as_deref() != Some(sb.inner.keys.official_account_secret().as_str()) {
        return wx_error(40125, "invalid appsecret");
    }
    let code = q.code.unwrap_or_default();
    // openid (28) + expiry (10 digits) + nonce (8) + MAC.
    let Some((body, mac)) = code.len().checked_sub(MAC_LEN).and_then(|i| Some((code.get(..i)?, code.get(i..)?))) else {
        return wx_error(40029, "invalid code");
    };
    if body.len() != 46 || mac != sb.mac(&format!("code:{body}")) {
        return wx_error(40029, "invalid code");
    }
    let (openid, expires) = (&body[..28], body[28..38].parse::<i64>().unwrap_or(0));
    let now = unix_now();
    if expires < now {
        return wx_error(40029, "invalid code");
    }
    {
        let mut used = USED_CODES.lock().unwrap_or_else(|e| e.into_inner());
        used.retain(|_, until| *until >= now);
        if used.insert(code.clone(), expires).is_some() {
            return wx_error(40163, "code been used");
        }
    }
    axum::Json(json!({
        "access_token": random_nonce(64),
        "expires_in": 7200,
        "refresh_token": random_nonce(64),
        "openid": openid,
        "scope": "snsapi_base",
    }))
    .into_response()
}

async fn bridge_script() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], include_str!("jsbridge.js"))
        .into_response()
}

#[derive(Deserialize)]
struct PackageQuery {
    package: Option<String>,
}

/// What WeChat's pay sheet shows for `package=prepay_id=…`.
async fn order_of_package(State(sb): State<Sandbox>, Query(q): Query<PackageQuery>) -> Response {
    let trade = q
        .package
        .as_deref()
        .and_then(|p| p.strip_prefix("prepay_id="))
        .and_then(|id| sb.trade_of_prepay_id(id))
        .and_then(|no| sb.trade(Provider::Wechatpay, &no));
    match trade {
        Some(t) => axum::Json(json!({
            "ok": true,
            "amount": t.amount.to_string(),
            "description": t.description,
            "payee": format!("商户号 {}", sb.inner.keys.ids.wechatpay.mchid),
        }))
        .into_response(),
        None => (StatusCode::NOT_FOUND, axum::Json(json!({ "ok": false, "message": "prepay_id 无效或已过期" }))).into_response(),
    }
}

/// `getBrandWCPayRequest`'s parameters, as the merchant page passed them.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PayParams {
    app_id: String,
    time_stamp: String,
    nonce_str: String,
    package: String,
    sign_type: String,
    pay_sign: String,
}

fn bridge_answer(ok: bool, desc: &str) -> Response {
    let err_msg = if ok { "get_brand_wcpay_request:ok" } else { "get_brand_wcpay_request:fail" };
    axum::Json(json!({ "err_msg": err_msg, "err_desc": desc })).into_response()
}

/// 支付 on the pay sheet: WeChat checks the merchant's `paySign` and that the payer is the
/// user the order was made for, then takes the money.
async fn pay(State(sb): State<Sandbox>, headers: HeaderMap, axum::Json(p): axum::Json<PayParams>) -> Response {
    let w = &sb.inner.wechat;
    if p.app_id != sb.inner.keys.ids.wechatpay.appid || p.sign_type != "RSA" {
        return bridge_answer(false, "appId 或 signType 错误");
    }
    if p.time_stamp.len() != 10 || !p.time_stamp.bytes().all(|b| b.is_ascii_digit()) || p.nonce_str.is_empty() || p.nonce_str.len() > 32 {
        return bridge_answer(false, "timeStamp 或 nonceStr 格式错误");
    }
    let message = format!("{}\n{}\n{}\n{}\n", p.app_id, p.time_stamp, p.nonce_str, p.package);
    if w.merchant_key.verify_b64(message.as_bytes(), &p.pay_sign).is_err() {
        return bridge_answer(false, "支付验证签名失败");
    }
    let Some(no) = p.package.strip_prefix("prepay_id=").and_then(|id| sb.trade_of_prepay_id(id)) else {
        return bridge_answer(false, "prepay_id 无效");
    };
    let Some(trade) = sb.trade(Provider::Wechatpay, &no) else {
        return bridge_answer(false, "订单不存在");
    };
    let payer = user_of(&headers).map(|u| sb.openid_of(&u));
    if trade.payer_openid.is_none() || trade.payer_openid != payer {
        return bridge_answer(false, "当前微信用户与下单用户不一致");
    }
    match sb.pay(Provider::Wechatpay, &no) {
        PayOutcome::Paid { .. } => bridge_answer(true, ""),
        PayOutcome::AlreadyPaid => bridge_answer(false, "该订单已支付"),
        PayOutcome::Closed => bridge_answer(false, "订单已关闭"),
        PayOutcome::Declined => bridge_answer(false, "支付被拒绝"),
        PayOutcome::NotFound => bridge_answer(false, "订单不存在"),
    }
}
