//! The simulated WeChat Pay API v3: create (native, h5, jsapi), query by `out_trade_no` and
//! by `transaction_id`, close (204), trade bill; refunds are in `wechat_refund`. Mounted under
//! `/sandbox/wechatpay/v3/…` beside the other providers, and by `campuspay sandbox` also at
//! `/v3/…` on its listener's root, as the real host serves it. Every request's `Authorization`
//! is verified against the merchant key over the path exactly as requested; every answer is
//! signed with the platform key.

use super::Sandbox;
use super::ledger::{Trade, TradeState};
use super::server::cashier_url;
use super::wechat_refund;
use axum::Router;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use campuspay_channels::Provider;
use campuspay_channels::crypto::unix_now;
use campuspay_channels::wechatpay::api::rfc3339_shanghai;
use campuspay_channels::wechatpay::bill::{gzip, sha1_hex};
use campuspay_domain::Fen;
use serde::Deserialize;
use serde_json::{Value, json};

/// Where the beside-the-others copy of the API lives (`…/v3/…` below it).
pub(super) const PREFIX: &str = "/sandbox/wechatpay";

/// The simulated WeChat endpoints of the shared router, under `/sandbox/wechatpay`.
pub(super) fn routes() -> Router<Sandbox> {
    api_routes(PREFIX)
}

/// The v3 API under `{prefix}/v3/…`: [`PREFIX`] in the shared router, `""` at a listener's root.
pub(super) fn api_routes(prefix: &str) -> Router<Sandbox> {
    let base = format!("{prefix}/v3");
    Router::new()
        .route(&format!("{base}/pay/transactions/{{kind}}"), post(create))
        .route(&format!("{base}/pay/transactions/out-trade-no/{{no}}"), get(query))
        .route(&format!("{base}/pay/transactions/id/{{id}}"), get(query_by_id))
        .route(&format!("{base}/pay/transactions/out-trade-no/{{no}}/close"), post(close))
        .route(&format!("{base}/refund/domestic/refunds"), post(wechat_refund::refund))
        .route(&format!("{base}/refund/domestic/refunds/{{no}}"), get(wechat_refund::query))
        .route(&format!("{base}/bill/tradebill"), get(tradebill))
        .route(&format!("{base}/billdownload/file"), get(billdownload))
}

/// A signed answer.
pub(super) fn reply(sb: &Sandbox, status: StatusCode, body: String) -> Response {
    match sb.inner.wechat.sign_headers(&body, unix_now()) {
        Ok(signed) if body.is_empty() => (status, signed).into_response(),
        Ok(signed) => (status, signed, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// WeChat's error JSON `{"code": …, "message": …}`.
pub(super) fn error(sb: &Sandbox, status: StatusCode, code: &str, message: &str) -> Response {
    reply(sb, status, json!({ "code": code, "message": message }).to_string())
}

/// An error answer not yet signed (kept small: `Response` is too big for an `Err`).
pub(super) struct WxError(pub StatusCode, pub &'static str, pub String);

impl WxError {
    pub(super) fn respond(self, sb: &Sandbox) -> Response {
        error(sb, self.0, self.1, &self.2)
    }
}

/// Checks the `Authorization` header over the request's absolute URL minus the host: the path
/// as requested (with any prefix in front of `/v3/`) and its query, as the signing rule
/// says (获取请求的绝对URL，并去除域名部分得到参与签名的URL). A client that signs less than the
/// path it sends is refused, as the real host would; `campuspay sandbox` also serves the API
/// at its root, where the two are the same.
pub(super) fn authenticate(sb: &Sandbox, method: &Method, uri: &Uri, headers: &HeaderMap, body: &str) -> Result<(), WxError> {
    let signed = uri.path_and_query().map_or("/", |p| p.as_str());
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
    sb.inner
        .wechat
        .verify_request(method.as_str(), signed, auth, body, unix_now())
        .map(|_| ())
        .map_err(|e| WxError(StatusCode::UNAUTHORIZED, "SIGN_ERROR", format!("签名错误: {e}")))
}

pub(super) fn parse<T: for<'de> Deserialize<'de>>(body: &str) -> Result<T, WxError> {
    serde_json::from_str(body).map_err(|e| WxError(StatusCode::BAD_REQUEST, "PARAM_ERROR", format!("参数错误: {e}")))
}

/// The transaction as query answers and notifications carry it; `state` overrides the
/// trade's own state word.
pub(super) fn transaction_json(sb: &Sandbox, t: &Trade, state: Option<&str>) -> Value {
    let ids = &sb.inner.keys.ids.wechatpay;
    let state = state.unwrap_or(match t.state {
        TradeState::NotPaid => "NOTPAY",
        TradeState::Closed => "CLOSED",
        // A closed refund gave nothing back: the trade is still just paid.
        TradeState::Paid if t.refunds.iter().any(|r| r.counts()) => "REFUND",
        TradeState::Paid => "SUCCESS",
    });
    let desc = match state {
        "SUCCESS" => "支付成功",
        "REFUND" => "转入退款",
        "CLOSED" => "已关闭",
        _ => "订单未支付",
    };
    let mut v = json!({
        "appid": ids.appid,
        "mchid": ids.mchid,
        "out_trade_no": t.out_trade_no,
        "trade_type": t.trade_type,
        "trade_state": state,
        "trade_state_desc": desc,
        "attach": "",
        "amount": { "total": t.amount.0, "currency": "CNY" },
    });
    if let Some(id) = &t.transaction_id {
        v["transaction_id"] = json!(id);
        v["bank_type"] = json!("OTHERS");
        v["payer"] = json!({
            "openid": t.payer_openid.clone().unwrap_or_else(|| "oSandboxPayer0000000000000000".into())
        });
        v["amount"]["payer_total"] = json!(t.amount.0);
        v["amount"]["payer_currency"] = json!("CNY");
        if let Some(at) = t.paid_at.filter(|_| state != "NOTPAY") {
            v["success_time"] = json!(rfc3339_shanghai(at));
        }
    }
    v
}

#[derive(Deserialize)]
struct CreateReq {
    appid: String,
    mchid: String,
    description: String,
    out_trade_no: String,
    notify_url: String,
    amount: CreateAmount,
    payer: Option<Payer>,
    scene_info: Option<Value>,
}

#[derive(Deserialize)]
struct CreateAmount {
    total: i64,
}

#[derive(Deserialize)]
struct Payer {
    openid: String,
}

async fn create(
    State(sb): State<Sandbox>,
    Path(kind): Path<String>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: String,
) -> Response {
    if let Err(e) = authenticate(&sb, &method, &uri, &headers, &body) {
        return e.respond(&sb);
    }
    let req: CreateReq = match parse(&body) {
        Ok(r) => r,
        Err(e) => return e.respond(&sb),
    };
    let ids = &sb.inner.keys.ids.wechatpay;
    let bad = |code: &str, msg: &str| error(&sb, StatusCode::BAD_REQUEST, code, msg);
    if req.mchid != ids.mchid || req.appid != ids.appid {
        return bad("APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配");
    }
    if req.amount.total <= 0 {
        return bad("PARAM_ERROR", "amount.total 必须大于 0");
    }
    if req.notify_url.is_empty() {
        return bad("PARAM_ERROR", "缺少 notify_url");
    }
    let trade_type = match (kind.as_str(), &req.payer, &req.scene_info) {
        ("native", ..) => "NATIVE",
        ("h5", _, Some(_)) => "MWEB",
        ("jsapi", Some(_), _) => "JSAPI",
        ("h5" | "jsapi", ..) => return bad("PARAM_ERROR", "缺少 scene_info 或 payer"),
        _ => return error(&sb, StatusCode::NOT_FOUND, "NOT_FOUND", "接口不存在"),
    };
    let now = unix_now();
    {
        let mut ledger = sb.ledger();
        match ledger.get(Provider::Wechatpay, &req.out_trade_no) {
            Some(t) if t.state == TradeState::Paid => return bad("ORDERPAID", "该订单已支付"),
            Some(t) if t.state == TradeState::Closed => return bad("ORDERCLOSED", "订单已关闭"),
            Some(t) if t.amount.0 != req.amount.total || t.description != req.description => {
                return bad("OUT_TRADE_NO_USED", "商户订单号重复");
            }
            Some(_) => {}
            None => ledger.insert(Trade {
                provider: Provider::Wechatpay,
                out_trade_no: req.out_trade_no.clone(),
                description: req.description.clone(),
                amount: Fen(req.amount.total),
                trade_type: trade_type.to_string(),
                notify_url: req.notify_url.clone(),
                return_url: None,
                payer_openid: req.payer.as_ref().map(|p| p.openid.clone()),
                state: TradeState::NotPaid,
                transaction_id: None,
                created_at: now,
                paid_at: None,
                refunds: Vec::new(),
                notifications: Vec::new(),
                txn_time: None,
                expires_at: None,
                pos_id: None,
            }),
        }
    }
    let url = cashier_url(&headers, uri.path(), Provider::Wechatpay, &req.out_trade_no);
    let answer = match trade_type {
        "NATIVE" => json!({ "code_url": url }),
        "MWEB" => json!({ "h5_url": url }),
        _ => json!({ "prepay_id": sb.prepay_id(&req.out_trade_no) }),
    };
    reply(&sb, StatusCode::OK, answer.to_string())
}

#[derive(Deserialize)]
struct MchidOnly {
    mchid: String,
}

/// The `mchid` query parameter must name the merchant.
fn check_mchid(sb: &Sandbox, uri: &Uri) -> Result<(), WxError> {
    if query_param(uri, "mchid").as_deref() == Some(sb.inner.keys.ids.wechatpay.mchid.as_str()) {
        Ok(())
    } else {
        Err(WxError(StatusCode::BAD_REQUEST, "PARAM_ERROR", "mchid 不符".into()))
    }
}

/// `GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=…`.
async fn query(
    State(sb): State<Sandbox>,
    Path(no): Path<String>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = authenticate(&sb, &method, &uri, &headers, "").and_then(|()| check_mchid(&sb, &uri)) {
        return e.respond(&sb);
    }
    transaction_answer(&sb, sb.trade(Provider::Wechatpay, &no))
}

/// A query's answer: the trade as WeChat describes it, or `ORDER_NOT_EXIST`.
fn transaction_answer(sb: &Sandbox, trade: Option<Trade>) -> Response {
    match trade {
        Some(t) => reply(sb, StatusCode::OK, transaction_json(sb, &t, None).to_string()),
        None => error(sb, StatusCode::NOT_FOUND, "ORDER_NOT_EXIST", "订单不存在"),
    }
}

/// `GET /v3/pay/transactions/id/{transaction_id}?mchid=…`: the same answer, found by WeChat's
/// own number (an unpaid trade has none yet).
async fn query_by_id(
    State(sb): State<Sandbox>,
    Path(id): Path<String>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = authenticate(&sb, &method, &uri, &headers, "").and_then(|()| check_mchid(&sb, &uri)) {
        return e.respond(&sb);
    }
    let found = sb.ledger().find_by_transaction_id(Provider::Wechatpay, &id).cloned();
    transaction_answer(&sb, found)
}

async fn close(
    State(sb): State<Sandbox>,
    Path(no): Path<String>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: String,
) -> Response {
    if let Err(e) = authenticate(&sb, &method, &uri, &headers, &body) {
        return e.respond(&sb);
    }
    let req: MchidOnly = match parse(&body) {
        Ok(r) => r,
        Err(e) => return e.respond(&sb),
    };
    if req.mchid != sb.inner.keys.ids.wechatpay.mchid {
        return error(&sb, StatusCode::BAD_REQUEST, "PARAM_ERROR", "mchid 不符");
    }
    let mut ledger = sb.ledger();
    let Some(t) = ledger.get_mut(Provider::Wechatpay, &no) else {
        drop(ledger);
        return error(&sb, StatusCode::NOT_FOUND, "ORDER_NOT_EXIST", "订单不存在");
    };
    if t.state == TradeState::Paid {
        drop(ledger);
        return error(&sb, StatusCode::BAD_REQUEST, "ORDERPAID", "订单已支付");
    }
    t.state = TradeState::Closed;
    drop(ledger);
    reply(&sb, StatusCode::NO_CONTENT, String::new())
}

pub(super) fn query_param(uri: &Uri, name: &str) -> Option<String> {
    form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// `{scheme}://{host}{prefix}/v3/{rest}`: an address in the API as the current request reached
/// it (at the listener's root or under [`PREFIX`]).
fn api_url(headers: &HeaderMap, path: &str, rest: &str) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    let scheme = headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()).unwrap_or("http");
    let prefix = path.find("/v3/").map_or("", |i| &path[..i]);
    format!("{scheme}://{host}{prefix}/v3/{rest}")
}

/// `GET /v3/bill/tradebill?bill_date=…&bill_type=ALL[&tar_type=GZIP]`: renders the day's bill,
/// keeps it for download and answers where it is and its SHA1. The hash is of the bill itself
/// even when it is served gzipped: the published field is "原始账单（gzip需要解压缩）的摘要值".
async fn tradebill(State(sb): State<Sandbox>, method: Method, OriginalUri(uri): OriginalUri, headers: HeaderMap) -> Response {
    if let Err(e) = authenticate(&sb, &method, &uri, &headers, "") {
        return e.respond(&sb);
    }
    let date = query_param(&uri, "bill_date").unwrap_or_default();
    if query_param(&uri, "bill_type").is_some_and(|t| t != "ALL") {
        return error(&sb, StatusCode::BAD_REQUEST, "PARAM_ERROR", "沙箱只提供 ALL 账单");
    }
    let gzipped = match query_param(&uri, "tar_type").as_deref() {
        None | Some("") => false,
        Some("GZIP") => true,
        Some(_) => return error(&sb, StatusCode::BAD_REQUEST, "PARAM_ERROR", "tar_type 只能是 GZIP"),
    };
    let text = match sb.wechat_trade_bill(&date) {
        Ok(t) => t,
        Err(e) => return error(&sb, StatusCode::BAD_REQUEST, "PARAM_ERROR", &e.to_string()),
    };
    let hash = sha1_hex(text.as_bytes());
    let mut bill = text.into_bytes();
    if sb.behaviour(Provider::Wechatpay).corrupt_statement {
        bill.extend_from_slice(b"`0\r\n");
    }
    let served = if gzipped { gzip(&bill) } else { bill };
    let token = sb.keep_file(served);
    let url = api_url(&headers, uri.path(), &format!("billdownload/file?token={token}"));
    reply(&sb, StatusCode::OK, json!({ "download_url": url, "hash_type": "SHA1", "hash_value": hash }).to_string())
}

/// `GET /v3/billdownload/file?token=…`: the kept file, as a plain unsigned stream (as WeChat
/// Pay serves it); the request itself must be signed.
async fn billdownload(State(sb): State<Sandbox>, method: Method, OriginalUri(uri): OriginalUri, headers: HeaderMap) -> Response {
    if let Err(e) = authenticate(&sb, &method, &uri, &headers, "") {
        return e.respond(&sb);
    }
    match query_param(&uri, "token").and_then(|t| sb.kept_file(&t)) {
        Some(bytes) => ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response(),
        None => error(&sb, StatusCode::NOT_FOUND, "RESOURCE_NOT_EXISTS", "账单文件不存在或已过期"),
    }
}
