//! The simulated Alipay gateway `/sandbox/alipay/gateway.do`: `method` = precreate, page pay,
//! wap pay (browser redirect to the cashier), query, close, refund, refund query
//! (`alipay.trade.fastpay.refund.query`), bill download URL. Parameters may come by GET (as
//! python-alipay-sdk sends every call), in the form body, or split between the two (the official
//! SDKs); the RSA2 signature is verified over all of them. Every answer to a known app is signed
//! with the Alipay key, errors included, as the real gateway signs them.

use super::Sandbox;
use super::ledger::{Ledger, Refund, RefundMode, Trade, TradeState};
use super::server::{cashier_url, html_escape, public_url};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use campuspay_channels::Provider;
use campuspay_channels::alipay::api::{CLOSE, PAGE_PAY, PRECREATE, QUERY, REFUND, REFUND_QUERY, WAP_PAY};
use campuspay_channels::alipay::bill::DOWNLOAD_URL_QUERY;
use campuspay_channels::alipay::sign::{self, Params};
use campuspay_channels::crypto::unix_now;
use campuspay_channels::{ChannelError, alipay::api::yuan};
use campuspay_domain::Fen;
use campuspay_domain::time::format_shanghai;
use serde_json::{Value, json};

pub(super) fn routes() -> Router<Sandbox> {
    Router::new()
        .route(
            "/sandbox/alipay/downloadBillFile.resource",
            get(|s: State<Sandbox>, q: RawQuery| async move { bill_file(&s.0, q.0.as_deref()) }),
        )
        .route(
        "/sandbox/alipay/gateway.do",
        get(
            |s: State<Sandbox>, u: OriginalUri, h: HeaderMap, q: RawQuery| async move { gateway(s.0, u.0.path(), &h, q.0.as_deref(), &[]) },
        )
        .post(|s: State<Sandbox>, u: OriginalUri, h: HeaderMap, q: RawQuery, body: Bytes| async move {
            gateway(s.0, u.0.path(), &h, q.0.as_deref(), &body)
        }),
    )
}

/// A business failure, as the `…_response` node carries it.
struct Fail {
    code: &'static str,
    msg: &'static str,
    sub_code: &'static str,
    sub_msg: String,
}

fn business(sub_code: &'static str, sub_msg: &str) -> Fail {
    Fail { code: "40004", msg: "Business Failed", sub_code, sub_msg: sub_msg.to_string() }
}

fn invalid(sub_code: &'static str, sub_msg: &str) -> Fail {
    Fail { code: "40002", msg: "Invalid Arguments", sub_code, sub_msg: sub_msg.to_string() }
}

fn json_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json;charset=utf-8")], body).into_response()
}

/// A signed answer `{"<method>_response": node, "sign": …}`.
fn signed(sb: &Sandbox, method: &str, node: &Value) -> Response {
    match sb.inner.alipay.respond(method, &node.to_string()) {
        Ok(body) => json_response(body),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn failure(sb: &Sandbox, method: &str, f: Fail) -> Response {
    signed(sb, method, &fail_node(&f))
}

/// Answers to a request that names an app this gateway does not know are unsigned: no app, no
/// key pair to sign with (python-alipay-sdk's documented sample of `isv.invalid-app-id` has no
/// `sign`). Under the method's node when there is a method, else `error_response`.
fn unsigned_failure(method: Option<&str>, f: Fail) -> Response {
    let key = method.map_or("error_response".to_string(), sign::response_key);
    json_response(json!({ key: fail_node(&f) }).to_string())
}

fn fail_node(f: &Fail) -> Value {
    json!({ "code": f.code, "msg": f.msg, "sub_code": f.sub_code, "sub_msg": f.sub_msg })
}

/// A method the gateway does not have, asked by a known app: `error_response` (there is no
/// `<method>_response` to put it in), signed as every answer to a known app is.
fn unknown_method(sb: &Sandbox) -> Response {
    match sb.inner.alipay.respond_error(&fail_node(&invalid("isv.invalid-method", "不存在的方法名")).to_string()) {
        Ok(body) => json_response(body),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn merged_params(query: Option<&str>, body: &[u8]) -> Result<Params, ChannelError> {
    let mut params = sign::parse_form(query.unwrap_or_default().as_bytes())?;
    for (k, v) in sign::parse_form(body)? {
        if params.insert(k, v).is_some() {
            return Err(ChannelError::Malformed("参数重复".into()));
        }
    }
    Ok(params)
}

const METHODS: &[&str] = &[PRECREATE, PAGE_PAY, WAP_PAY, QUERY, CLOSE, REFUND, REFUND_QUERY, DOWNLOAD_URL_QUERY];

/// Checks who asks and how (app, method, signature, `biz_content`). As the real gateway does,
/// a known app's argument and signature errors come back inside `<method>_response`, signed
/// (integrations quote production answers such as `{"alipay_trade_precreate_response":
/// {"code":"40002",…,"sub_code":"isv.invalid-signature"},"sign":"…"}`), so SDKs report the code.
fn checked(sb: &Sandbox, params: &Params) -> Result<Value, Fail> {
    if params.get("sign_type").map(String::as_str) != Some("RSA2") {
        return Err(invalid("isv.invalid-signature-type", "无效的签名类型：沙箱只接受 RSA2"));
    }
    if sign::verify_request(&sb.inner.alipay.app_key, params).is_err() {
        return Err(invalid("isv.invalid-signature", "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配"));
    }
    match params.get("biz_content").map(|b| serde_json::from_str::<Value>(b)) {
        Some(Ok(v)) if v.is_object() => Ok(v),
        None => Err(missing("isv.missing-biz-content", "缺少 biz_content")),
        Some(_) => Err(invalid("isv.invalid-parameter", "biz_content 不是 JSON 对象")),
    }
}

fn missing(sub_code: &'static str, sub_msg: &str) -> Fail {
    Fail { code: "40001", msg: "Missing Required Arguments", sub_code, sub_msg: sub_msg.to_string() }
}

fn gateway(sb: Sandbox, path: &str, headers: &HeaderMap, raw_query: Option<&str>, body: &[u8]) -> Response {
    let params = match merged_params(raw_query, body) {
        Ok(p) => p,
        Err(e) => return unsigned_failure(None, invalid("isv.invalid-parameter", &e.to_string())),
    };
    let method = params.get("method").cloned().unwrap_or_default();
    let known = METHODS.contains(&method.as_str());
    if params.get("app_id") != Some(&sb.inner.alipay.app_id) {
        let id = params.get("app_id").cloned().unwrap_or_default();
        return unsigned_failure(known.then_some(method.as_str()), invalid("isv.invalid-app-id", &format!("无效的AppID参数 {id}")));
    }
    if !known {
        return unknown_method(&sb);
    }
    let result = checked(&sb, &params).and_then(|biz| {
        let text = |k: &str| biz.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        match method.as_str() {
            PRECREATE | PAGE_PAY | WAP_PAY => create(&sb, &method, &params, &biz).map(|_| {
                let url = cashier_url(headers, path, Provider::Alipay, &text("out_trade_no"));
                json!({ "code": "10000", "msg": "Success", "out_trade_no": text("out_trade_no"), "qr_code": url })
            }),
            QUERY => query(&sb, &text("out_trade_no"), &text("trade_no")),
            CLOSE => close(&sb, &text("out_trade_no"), &text("trade_no")),
            REFUND => refund(&sb, &text("out_trade_no"), &text("trade_no"), &text("refund_amount"), &text("out_request_no")),
            REFUND_QUERY => refund_query(&sb, &biz),
            _ => bill_url(&sb, headers, path, &text("bill_type"), &text("bill_date")),
        }
    });
    match (method.as_str(), result) {
        // Page and wap pay are the browser's redirect: it lands on the cashier, or on an error page.
        (PAGE_PAY | WAP_PAY, Ok(node)) => {
            let no = node["out_trade_no"].as_str().unwrap_or_default();
            Redirect::to(&cashier_url(headers, path, Provider::Alipay, no)).into_response()
        }
        (PAGE_PAY | WAP_PAY, Err(f)) => (
            StatusCode::BAD_REQUEST,
            Html(format!(
                "<!doctype html><meta charset=\"utf-8\"><p>支付宝（沙箱）：{} {}</p>",
                html_escape(f.sub_code),
                html_escape(&f.sub_msg)
            )),
        )
            .into_response(),
        (_, Ok(node)) => signed(&sb, &method, &node),
        (_, Err(f)) => failure(&sb, &method, f),
    }
}

fn create(sb: &Sandbox, method: &str, params: &Params, biz: &Value) -> Result<Value, Fail> {
    let text = |k: &str| biz.get(k).and_then(Value::as_str).unwrap_or_default();
    let no = text("out_trade_no");
    if no.is_empty() || text("subject").is_empty() {
        return Err(invalid("isv.missing-parameter", "缺少 out_trade_no 或 subject"));
    }
    let amount =
        yuan(text("total_amount")).ok().filter(|a| a.is_positive()).ok_or_else(|| invalid("isv.invalid-parameter", "total_amount 无效"))?;
    let now = unix_now();
    let mut ledger = sb.ledger();
    match ledger.get(Provider::Alipay, no) {
        Some(t) if t.state == TradeState::Paid => {
            return Err(business("ACQ.TRADE_HAS_SUCCESS", "交易已被支付"));
        }
        Some(t) if t.state == TradeState::Closed => {
            return Err(business("ACQ.TRADE_HAS_CLOSE", "交易已经关闭"));
        }
        Some(t) if t.amount != amount => {
            return Err(business("ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改"));
        }
        Some(_) => return Ok(Value::Null),
        None => {}
    }
    let trade_no = ledger.next_id(Provider::Alipay, "22001", now);
    let trade_type = match method {
        PRECREATE => "precreate",
        PAGE_PAY => "page",
        _ => "wap",
    };
    ledger.insert(Trade {
        provider: Provider::Alipay,
        out_trade_no: no.to_string(),
        description: text("subject").to_string(),
        amount,
        trade_type: trade_type.to_string(),
        notify_url: params.get("notify_url").cloned().unwrap_or_default(),
        return_url: params.get("return_url").cloned(),
        payer_openid: None,
        state: TradeState::NotPaid,
        // Alipay numbers a trade when it is created; it is paid at most once.
        transaction_id: Some(trade_no),
        created_at: now,
        paid_at: None,
        refunds: Vec::new(),
        notifications: Vec::new(),
        txn_time: None,
        expires_at: None,
        pos_id: None,
    });
    Ok(Value::Null)
}

pub(super) fn trade_status(t: &Trade, stale: bool) -> &'static str {
    match t.state {
        _ if stale => "WAIT_BUYER_PAY",
        TradeState::NotPaid => "WAIT_BUYER_PAY",
        TradeState::Closed => "TRADE_CLOSED",
        TradeState::Paid if refunded_done(t) >= t.amount => "TRADE_CLOSED",
        TradeState::Paid => "TRADE_SUCCESS",
    }
}

const BUYER_LOGON_ID: &str = "sand***@example.com";
const BUYER_ID: &str = "2088102177846880";

/// The `out_trade_no` of the trade named by `out_trade_no` or `trade_no` (Alipay takes
/// `trade_no` first when both are given).
fn trade_key(ledger: &Ledger, out_trade_no: &str, trade_no: &str) -> Result<String, Fail> {
    let found = if trade_no.is_empty() {
        ledger.get(Provider::Alipay, out_trade_no)
    } else {
        ledger.find_by_transaction_id(Provider::Alipay, trade_no)
    };
    found.map(|t| t.out_trade_no.clone()).ok_or_else(|| business("ACQ.TRADE_NOT_EXIST", "交易不存在"))
}

fn query(sb: &Sandbox, out_trade_no: &str, trade_no: &str) -> Result<Value, Fail> {
    let t = {
        let ledger = sb.ledger();
        let no = trade_key(&ledger, out_trade_no, trade_no)?;
        ledger.get(Provider::Alipay, &no).cloned().ok_or_else(|| business("ACQ.TRADE_NOT_EXIST", "交易不存在"))?
    };
    let mut node = json!({
        "code": "10000",
        "msg": "Success",
        "trade_no": t.transaction_id,
        "out_trade_no": t.out_trade_no,
        "buyer_logon_id": BUYER_LOGON_ID,
        "trade_status": trade_status(&t, false),
        "total_amount": t.amount.to_yuan_string(),
    });
    if let Some(at) = t.paid_at {
        node["buyer_user_id"] = json!(BUYER_ID);
        node["buyer_pay_amount"] = json!(t.amount.to_yuan_string());
        node["receipt_amount"] = json!(t.amount.to_yuan_string());
        node["send_pay_date"] = json!(format_shanghai(at));
    }
    Ok(node)
}

fn close(sb: &Sandbox, out_trade_no: &str, trade_no: &str) -> Result<Value, Fail> {
    let mut ledger = sb.ledger();
    let no = trade_key(&ledger, out_trade_no, trade_no)?;
    let t = ledger.get_mut(Provider::Alipay, &no).ok_or_else(|| business("ACQ.TRADE_NOT_EXIST", "交易不存在"))?;
    if t.state == TradeState::Paid {
        return Err(business("ACQ.TRADE_STATUS_ERROR", "交易状态不合法"));
    }
    t.state = TradeState::Closed;
    Ok(json!({ "code": "10000", "msg": "Success", "trade_no": t.transaction_id, "out_trade_no": no }))
}

/// `alipay.trade.refund`, as the `refund` switch says: `instant` (Alipay's usual: done now,
/// `fund_change=Y`); `processing` (accepted, `fund_change=N`, done after `refund_delay_s`, until
/// then the refund query shows no `REFUND_SUCCESS`); `fail`/`abnormal` and `refuse` are answered
/// at once with the published business codes (Alipay publishes no refund that fails after it was
/// accepted): `ACQ.TRADE_NOT_ALLOW_REFUND` and `ACQ.SELLER_BALANCE_NOT_ENOUGH`. Each refund done is
/// notified to the trade's `notify_url` ([`alipay_refund`](super::alipay_refund)).
fn refund(sb: &Sandbox, out_trade_no: &str, trade_no: &str, amount: &str, out_request_no: &str) -> Result<Value, Fail> {
    let amount = yuan(amount).ok().filter(|a| a.is_positive()).ok_or_else(|| invalid("isv.invalid-parameter", "refund_amount 无效"))?;
    let behaviour = sb.behaviour(Provider::Alipay);
    let now = unix_now();
    let mut ledger = sb.ledger();
    let no = trade_key(&ledger, out_trade_no, trade_no)?;
    // Without `out_request_no` Alipay takes the refund as one full refund of the trade.
    let request_no = if out_request_no.is_empty() { no.clone() } else { out_request_no.to_string() };
    let t = ledger.get_mut(Provider::Alipay, &no).ok_or_else(|| business("ACQ.TRADE_NOT_EXIST", "交易不存在"))?;
    if t.state != TradeState::Paid {
        return Err(business("ACQ.TRADE_STATUS_ERROR", "交易状态不合法"));
    }
    let repeated = t.refunds.iter().any(|r| r.out_refund_no == request_no);
    let mut fund_change = false;
    if !repeated {
        match behaviour.refund {
            RefundMode::Refuse => return Err(business("ACQ.SELLER_BALANCE_NOT_ENOUGH", "卖家余额不足")),
            RefundMode::Fail | RefundMode::Abnormal => return Err(business("ACQ.TRADE_NOT_ALLOW_REFUND", "当前交易不允许退款")),
            RefundMode::Instant | RefundMode::Processing => {}
        }
        if t.refunded().0 + amount.0 > t.amount.0 {
            return Err(business("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限"));
        }
        let processing = behaviour.refund == RefundMode::Processing;
        fund_change = !processing;
        t.refunds.push(Refund {
            out_refund_no: request_no.clone(),
            refund_id: String::new(),
            amount,
            at: now,
            processing,
            wechat: None,
            unionpay_request: None,
        });
    }
    let node = json!({
        "code": "10000",
        "msg": "Success",
        "trade_no": t.transaction_id,
        "out_trade_no": no,
        "buyer_logon_id": BUYER_LOGON_ID,
        "fund_change": if fund_change { "Y" } else { "N" },
        "refund_fee": refunded_done(t).to_yuan_string(),
        "gmt_refund_pay": format_shanghai(now),
    });
    drop(ledger);
    if !repeated {
        super::alipay_refund::spawn(sb.clone(), no, request_no, behaviour);
    }
    Ok(node)
}

/// What has been given back: the refunds done, not those still processing.
pub(super) fn refunded_done(t: &Trade) -> Fen {
    Fen(t.refunds.iter().filter(|r| !r.processing).map(|r| r.amount.0).sum())
}

/// `alipay.trade.fastpay.refund.query`. `code=10000` only says the query worked: a refund that
/// is done carries `refund_status=REFUND_SUCCESS` with its amounts; one Alipay has not (or not
/// yet) done answers the bare `{"code":"10000","msg":"Success"}` (as the published examples).
fn refund_query(sb: &Sandbox, biz: &Value) -> Result<Value, Fail> {
    let text = |k: &str| biz.get(k).and_then(Value::as_str).unwrap_or_default();
    if text("out_request_no").is_empty() {
        return Err(missing("isv.missing-parameter", "缺少 out_request_no"));
    }
    let wants_time = biz.get("query_options").and_then(Value::as_array).is_some_and(|o| o.iter().any(|v| v == "gmt_refund_pay"));
    let ledger = sb.ledger();
    let no = trade_key(&ledger, text("out_trade_no"), text("trade_no"))?;
    let t = ledger.get(Provider::Alipay, &no).ok_or_else(|| business("ACQ.TRADE_NOT_EXIST", "交易不存在"))?;
    let Some(r) = t.refunds.iter().find(|r| r.out_refund_no == text("out_request_no")).filter(|r| !r.processing) else {
        return Ok(json!({ "code": "10000", "msg": "Success" }));
    };
    let mut node = json!({
        "code": "10000",
        "msg": "Success",
        "trade_no": t.transaction_id,
        "out_trade_no": t.out_trade_no,
        "out_request_no": r.out_refund_no,
        "total_amount": t.amount.to_yuan_string(),
        "refund_amount": r.amount.to_yuan_string(),
        "refund_status": "REFUND_SUCCESS",
    });
    if wants_time {
        node["gmt_refund_pay"] = json!(format_shanghai(r.at));
    }
    Ok(node)
}

/// The parameters of a `trade_status_sync` notification (unsigned).
pub(super) fn notify_params(sb: &Sandbox, t: &Trade, stale: bool, notify_id: &str) -> Params {
    let ids = &sb.inner.keys.ids.alipay;
    let now = unix_now();
    let amount = t.amount.to_yuan_string();
    let mut p = Params::new();
    let notify_time = if stale { t.created_at } else { now };
    for (k, v) in [
        ("notify_time", format_shanghai(notify_time)),
        ("notify_type", "trade_status_sync".to_string()),
        ("notify_id", notify_id.to_string()),
        ("charset", "utf-8".to_string()),
        ("version", "1.0".to_string()),
        ("app_id", ids.app_id.clone()),
        ("auth_app_id", ids.app_id.clone()),
        ("seller_id", ids.seller_id.clone()),
        ("trade_no", t.transaction_id.clone().unwrap_or_default()),
        ("out_trade_no", t.out_trade_no.clone()),
        ("buyer_id", BUYER_ID.to_string()),
        ("buyer_logon_id", BUYER_LOGON_ID.to_string()),
        ("trade_status", trade_status(t, stale).to_string()),
        ("total_amount", amount.clone()),
        ("subject", t.description.clone()),
        ("gmt_create", format_shanghai(t.created_at)),
    ] {
        p.insert(k.to_string(), v);
    }
    if let Some(at) = t.paid_at.filter(|_| !stale) {
        p.insert("gmt_payment".into(), format_shanghai(at));
        p.insert("receipt_amount".into(), amount.clone());
        p.insert("buyer_pay_amount".into(), amount);
    }
    p
}

/// `alipay.data.dataservice.bill.downloadurl.query`: builds the day's zip, keeps it and answers
/// its URL (on Alipay a short-lived `dwbillcenter` link; here a token under the sandbox).
fn bill_url(sb: &Sandbox, headers: &HeaderMap, path: &str, bill_type: &str, date: &str) -> Result<Value, Fail> {
    if bill_type != "trade" {
        return Err(invalid("isv.invalid-parameter", "沙箱只提供 trade 账单"));
    }
    let mut zip = sb.alipay_bill_zip(date).map_err(|e| invalid("isv.invalid-parameter", &e.to_string()))?;
    if sb.behaviour(Provider::Alipay).corrupt_statement {
        zip.truncate(zip.len() / 2);
    }
    let token = sb.keep_file(zip);
    let url = public_url(headers, path, &format!("alipay/downloadBillFile.resource?bizType=trade&fileType=csv.zip&token={token}"));
    Ok(json!({ "code": "10000", "msg": "Success", "bill_download_url": url }))
}

fn bill_file(sb: &Sandbox, query: Option<&str>) -> Response {
    let token = form_urlencoded::parse(query.unwrap_or_default().as_bytes()).find(|(k, _)| k == "token").map(|(_, v)| v.into_owned());
    match token.and_then(|t| sb.kept_file(&t)) {
        Some(bytes) => ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response(),
        None => (StatusCode::NOT_FOUND, "下载超时，请重新下载").into_response(),
    }
}
