//! The simulated CCB under `/sandbox/ccb/`:
//! - `ccbMain` (POST form): `TXCODE=520100`, the browser's order → the cashier page;
//!   `TXCODE=410408`, the 商户通 query → an XML page of the order's flow records;
//! - `pos` (PUT JSON `{notify_url, return_url}` → `{pos_id}`): what CCB's merchant console
//!   does, a POS whose notifications and payers' browsers go to those addresses.
//!
//! Merchant notifications are form POSTs signed MD5withRSA (`SIGN`, hex) over the fields both
//! public SDKs sign: the nine fixed ones, `TYPE`/`REFERER`/`CLIENTIP` (orders are sent with
//! `TYPE=1`) and `ACCDATE`; no optional tail field is sent, so either SDK's verifier accepts them.
//! The payer's browser goes back to the POS's return address with the same signed fields as a
//! query string.
//!
//! Chosen where the public sources are silent: the query answer's root element is `DOCUMENT`
//! (the SDK reads children by name); an order CCB never saw, or not paid, is no record
//! (`RETURN_CODE=000000`, `TOTAL=0`); the per-order `SIGN` (meaning not public) is empty;
//! `ACC_TYPE` is `30`, the value of a published example; refusals use codes of the simulator's
//! own (`SANDBOX_…`), CCB's list not being public.

use super::Sandbox;
use super::ledger::{NoticeKind, Trade, TradeState};
use super::server::{cashier_url, html_escape};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{post, put};
use campuspay_channels::ccb::{api, sign, xml};
use campuspay_channels::crypto::unix_now;
use campuspay_channels::{ChannelError, Provider};
use campuspay_domain::Fen;
use campuspay_domain::time::shanghai_parts;

const P: Provider = Provider::Ccb;

pub(super) fn routes() -> Router<Sandbox> {
    Router::new()
        .route(
            "/sandbox/ccb/ccbMain",
            post(|s: State<Sandbox>, u: OriginalUri, h: HeaderMap, body: Bytes| async move { main(&s.0, u.0.path(), &h, &body) }),
        )
        .route(
            "/sandbox/ccb/pos",
            put(|s: State<Sandbox>, body: axum::Json<PosRequest>| async move {
                let pos_id = s.inner.ccb.register_pos(&body.notify_url, &body.return_url);
                axum::Json(serde_json::json!({ "pos_id": pos_id }))
            }),
        )
}

#[derive(serde::Deserialize)]
pub(super) struct PosRequest {
    notify_url: String,
    #[serde(default)]
    return_url: String,
}

fn refusal(msg: impl Into<String>) -> Response {
    let msg = msg.into();
    (StatusCode::BAD_REQUEST, Html(format!("<!doctype html><meta charset=\"utf-8\"><p>中国建设银行（沙箱）：{}</p>", html_escape(&msg))))
        .into_response()
}

fn main(sb: &Sandbox, path: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    let form = api::parse_form(body);
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let side = &sb.inner.ccb;
    if field("MERCHANTID") != side.merchant_id || field("BRANCHID") != side.branch_id {
        return refusal(format!("商户 {} / 分行 {} 不存在", field("MERCHANTID"), field("BRANCHID")));
    }
    let Some(pos) = side.pos(field("POSID")) else {
        return refusal(format!("柜台 {} 未开通", field("POSID")));
    };
    match field("TXCODE") {
        sign::TX_ORDER => {
            if !side.mac_ok(&sign::ORDER_MAC_FIELDS, &form) {
                return refusal("MAC 校验失败");
            }
            let no = field("ORDERID");
            let amount = match (api::check_order_id(no), api::fen(field("PAYMENT"))) {
                (Ok(()), Ok(a)) if a.is_positive() && field("CURCODE") == sign::CNY => a,
                _ => return refusal("订单要素有误（ORDERID、PAYMENT 或 CURCODE）"),
            };
            if let Err(msg) = record(sb, no, amount, field("POSID"), &pos) {
                return refusal(msg);
            }
            Redirect::to(&cashier_url(headers, path, P, no)).into_response()
        }
        sign::TX_QUERY => {
            if field("OPERATOR") != side.operator || field("QUPWD") != side.query_password {
                return xml_page(&query_refusal("SANDBOX_LOGIN", "操作员或查询密码错误"));
            }
            if !side.mac_ok(&sign::QUERY_MAC_FIELDS, &form) {
                return xml_page(&query_refusal("SANDBOX_MAC", "MAC 校验失败"));
            }
            xml_page(&query_answer(sb, field("POSID"), field("ORDERID"), field("KIND") == "1"))
        }
        other => refusal(format!("交易码 {other} 不支持")),
    }
}

/// Records the order (the same order posted again is the same trade; another amount under a
/// used ORDERID is refused, as CCB refuses a repeated order number).
fn record(sb: &Sandbox, no: &str, amount: Fen, pos_id: &str, pos: &super::ccb::PosUrls) -> Result<(), String> {
    let mut ledger = sb.ledger();
    match ledger.get(P, no) {
        Some(t) if t.amount != amount || t.pos_id.as_deref() != Some(pos_id) => return Err("订单号重复".into()),
        Some(_) => return Ok(()),
        None => {}
    }
    ledger.insert(Trade {
        provider: P,
        out_trade_no: no.to_string(),
        description: format!("建行订单 {no}"),
        amount,
        trade_type: sign::TX_ORDER.to_string(),
        notify_url: pos.notify_url.clone(),
        return_url: Some(pos.return_url.clone()).filter(|u| !u.is_empty()),
        payer_openid: None,
        state: TradeState::NotPaid,
        transaction_id: None,
        created_at: unix_now(),
        paid_at: None,
        refunds: Vec::new(),
        notifications: Vec::new(),
        txn_time: None,
        expires_at: None,
        pos_id: Some(pos_id.to_string()),
    });
    Ok(())
}

fn xml_page(body: &str) -> Response {
    ([(header::CONTENT_TYPE, "text/xml;charset=UTF-8")], body.to_string()).into_response()
}

fn query_refusal(code: &str, msg: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><DOCUMENT><RETURN_CODE>{code}</RETURN_CODE><RETURN_MSG>{}</RETURN_MSG></DOCUMENT>",
        xml::escape(msg)
    )
}

/// `yyyyMMdd` and `yyyyMMddHHmmss` (Shanghai).
fn dates(at: i64) -> (String, String) {
    let (y, mo, d, h, mi, s) = shanghai_parts(at);
    (format!("{y:04}{mo:02}{d:02}"), format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}"))
}

/// The 410408 page for one order: its payment record once paid (status 1, or 3/4 when partly or
/// wholly refunded). Settled records (`KIND=1`) are not simulated: none.
fn query_answer(sb: &Sandbox, pos_id: &str, order_id: &str, settled: bool) -> String {
    let side = &sb.inner.ccb;
    let trade = sb.trade(P, order_id).filter(|t| !settled && t.state == TradeState::Paid && t.pos_id.as_deref() == Some(pos_id));
    let (orders, total, paid, refunded) = match &trade {
        Some(t) => {
            let refunded = t.refunded();
            let (code, status) = match refunded.0 {
                0 => ("1", "成功"),
                r if r < t.amount.0 => ("3", "已部分退款"),
                _ => ("4", "已全额退款"),
            };
            let (acc, when) = dates(t.paid_at.unwrap_or(t.created_at));
            let e = xml::escape;
            let order = format!(
                "<QUERYORDER><MERCHANTID>{}</MERCHANTID><BRANCHID>{}</BRANCHID><POSID>{}</POSID><ORDERID>{}</ORDERID>\
                 <ORDERDATE>{when}</ORDERDATE><ACCDATE>{acc}</ACCDATE><AMOUNT>{}</AMOUNT><STATUSCODE>{code}</STATUSCODE>\
                 <STATUS>{status}</STATUS><REFUND>{}</REFUND><SIGN></SIGN></QUERYORDER>",
                e(&side.merchant_id),
                e(&side.branch_id),
                e(pos_id),
                e(order_id),
                t.amount.to_yuan_string(),
                refunded.to_yuan_string()
            );
            (order, 1, t.amount, refunded)
        }
        None => (String::new(), 0, Fen(0), Fen(0)),
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><DOCUMENT><RETURN_CODE>{}</RETURN_CODE><RETURN_MSG></RETURN_MSG>\
         <CURPAGE>1</CURPAGE><PAGECOUNT>1</PAGECOUNT><TOTAL>{total}</TOTAL><PAYAMOUNT>{}</PAYAMOUNT>\
         <REFUNDAMOUNT>{}</REFUNDAMOUNT>{orders}</DOCUMENT>",
        api::RETURN_OK,
        paid.to_yuan_string(),
        refunded.to_yuan_string()
    )
}

/// The signed notification fields of `t`, in the order they are signed. The stale one is the
/// payment failing (`SUCCESS=N`), standing in for an older result arriving late; a forged one is
/// signed over other data.
pub(super) fn notice_fields(sb: &Sandbox, t: &Trade, kind: NoticeKind) -> Result<Vec<(String, String)>, ChannelError> {
    let side = &sb.inner.ccb;
    let (acc, _) = dates(t.paid_at.unwrap_or(t.created_at));
    let success = if kind == NoticeKind::Stale { "N" } else { "Y" };
    let mut fields: Vec<(String, String)> = [
        ("POSID", t.pos_id.clone().unwrap_or_default()),
        ("BRANCHID", side.branch_id.clone()),
        ("ORDERID", t.out_trade_no.clone()),
        ("PAYMENT", t.amount.to_yuan_string()),
        ("CURCODE", sign::CNY.to_string()),
        ("REMARK1", String::new()),
        ("REMARK2", String::new()),
        ("ACC_TYPE", "30".to_string()),
        ("SUCCESS", success.to_string()),
        ("TYPE", "1".to_string()),
        ("REFERER", String::new()),
        ("CLIENTIP", String::new()),
        ("ACCDATE", acc),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let message = sign::join(&fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>());
    let signature = if kind == NoticeKind::Forged { side.sign_hex("forged by the sandbox")? } else { side.sign_hex(&message)? };
    fields.push(("SIGN".into(), signature));
    Ok(fields)
}

/// The notification as a form body (the fields in their signed order).
pub(super) fn notice_body(sb: &Sandbox, t: &Trade, kind: NoticeKind) -> Result<String, ChannelError> {
    let fields = notice_fields(sb, t, kind)?;
    Ok(form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish())
}

/// Where the payer's browser goes after paying: the POS's return address with the signed fields.
pub(super) fn browser_return(sb: &Sandbox, t: &Trade) -> Option<String> {
    let base = t.return_url.as_deref()?;
    let query = notice_body(sb, t, NoticeKind::Good).ok()?;
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{sep}{query}"))
}
