//! The simulated UnionPay ACP gateway under `/sandbox/unionpay/`:
//! - `frontTransReq.do`: the browser's form POST of a gateway consumption → the cashier page;
//! - `backTransReq.do`: QR apply (`txnType=01`, `txnSubType=07`) → `qrCode`; refund (`04`);
//!   消费撤销 (`31`: the whole consumption, the day it was paid);
//! - `queryTrans.do`: by `orderId` + `txnTime` (a consumption), or `orderId` (a refund).
//!
//! Requests are verified with the merchant's key and `certId`; answers (raw `k=v&…`) and back
//! notifications (form POST) are signed with the UnionPay key and carry `signPubKeyCert`. Answer
//! codes follow ACP's list: 10 format, 11 signature, 12 duplicate, 32 not permitted, 33 amount
//! over limit, 34 no such transaction, 35 original missing or in the wrong state.

use super::Sandbox;
use super::ledger::{NoticeKind, Refund, RefundMode, Trade, TradeState};
use super::server::{cashier_url, html_escape};
use super::statements::date_of_settle_date;
use super::unionpay::{Refusal, refusal};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::post;
use campuspay_channels::crypto::unix_now;
use campuspay_channels::unionpay::api::{self, fen};
use campuspay_channels::unionpay::bill;
use campuspay_channels::unionpay::sign::{self, Params};
use campuspay_channels::{ChannelError, Provider};
use campuspay_domain::time::{format_shanghai_date, shanghai_parts};

const P: Provider = Provider::Unionpay;

pub(super) fn routes() -> Router<Sandbox> {
    Router::new()
        .route(
            "/sandbox/unionpay/frontTransReq.do",
            post(|s: State<Sandbox>, u: OriginalUri, h: HeaderMap, body: Bytes| async move { front(&s.0, u.0.path(), &h, &body) }),
        )
        .route(
            "/sandbox/unionpay/backTransReq.do",
            post(|s: State<Sandbox>, u: OriginalUri, h: HeaderMap, body: Bytes| async move { back(&s.0, u.0.path(), &h, &body) }),
        )
        .route("/sandbox/unionpay/fileTransfer.do", post(|s: State<Sandbox>, body: Bytes| async move { file_transfer(&s.0, &body) }))
        .route("/sandbox/unionpay/queryTrans.do", post(|s: State<Sandbox>, body: Bytes| async move { query(&s.0, &body) }))
}

fn raw(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain;charset=UTF-8")], body).into_response()
}

/// A refusal before any trusted request: unsigned, like UnionPay's own format errors.
fn unsigned(r: &Refusal) -> Response {
    let mut p = Params::new();
    p.insert("respCode".into(), r.code.into());
    p.insert("respMsg".into(), r.msg.clone());
    raw(sign::encode_raw(&p))
}

/// The request's echo fields plus `extra`, signed.
fn answer(sb: &Sandbox, req: &Params, extra: Vec<(&str, String)>) -> Response {
    let mut p = Params::new();
    for k in ["txnType", "txnSubType", "bizType", "accessType", "merId", "orderId", "txnTime", "txnAmt", "currencyCode"] {
        if let Some(v) = req.get(k) {
            p.insert(k.into(), v.clone());
        }
    }
    for (k, v) in extra {
        p.insert(k.into(), v);
    }
    match sb.inner.unionpay.answer(p) {
        Ok(body) => raw(body),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn refused(sb: &Sandbox, req: &Params, r: Refusal) -> Response {
    answer(sb, req, vec![("respCode", r.code.into()), ("respMsg", r.msg)])
}

fn ok() -> Vec<(&'static str, String)> {
    vec![("respCode", "00".into()), ("respMsg", "成功[0000000]".into())]
}

fn field<'a>(p: &'a Params, k: &str) -> &'a str {
    p.get(k).map(String::as_str).unwrap_or_default()
}

/// Checks a consumption's fields and records the trade (or finds the same one again).
fn consume(sb: &Sandbox, p: &Params, trade_type: &str) -> Result<(), Refusal> {
    let (biz, channels): (&str, &[&str]) = match trade_type {
        "gateway" => (api::BIZ_GATEWAY, &[api::CHANNEL_PC, api::CHANNEL_MOBILE]),
        _ => (api::BIZ_QR, &[api::CHANNEL_MOBILE]),
    };
    if field(p, "bizType") != biz || !channels.contains(&field(p, "channelType")) {
        return Err(refusal("32", "无此交易权限：bizType 或 channelType 不符"));
    }
    let no = field(p, "orderId");
    let txn_time = field(p, "txnTime");
    let amount = fen(field(p, "txnAmt")).ok().filter(|a| a.is_positive()).ok_or_else(|| refusal("10", "txnAmt 有误"))?;
    if !(8..=40).contains(&no.len())
        || sign::parse_txn_time(txn_time).is_none()
        || field(p, "currencyCode") != api::CNY
        || field(p, "backUrl").is_empty()
    {
        return Err(refusal("13", "报文交易要素缺失或有误"));
    }
    let expires_at = match p.get("payTimeout") {
        Some(t) => Some(sign::parse_txn_time(t).ok_or_else(|| refusal("10", "payTimeout 有误"))?),
        None => None,
    };
    let mut ledger = sb.ledger();
    match ledger.get(P, no) {
        Some(t) if t.state == TradeState::Paid => return Err(refusal("12", "重复交易")),
        Some(t) if t.amount != amount || t.txn_time.as_deref() != Some(txn_time) => {
            return Err(refusal("12", "重复交易：订单号已用于另一笔交易"));
        }
        Some(_) => return Ok(()),
        None => {}
    }
    ledger.insert(Trade {
        provider: P,
        out_trade_no: no.to_string(),
        description: format!("银联订单 {no}"),
        amount,
        trade_type: trade_type.to_string(),
        notify_url: field(p, "backUrl").to_string(),
        return_url: p.get("frontUrl").cloned(),
        payer_openid: None,
        state: TradeState::NotPaid,
        transaction_id: None,
        created_at: unix_now(),
        paid_at: None,
        refunds: Vec::new(),
        notifications: Vec::new(),
        txn_time: Some(txn_time.to_string()),
        expires_at,
        pos_id: None,
    });
    Ok(())
}

fn front(sb: &Sandbox, path: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    let checked = sb.inner.unionpay.verify_request(body).and_then(|p| {
        if field(&p, "txnType") != api::TXN_CONSUME || field(&p, "txnSubType") != api::SUB_GATEWAY {
            return Err(refusal("32", "无此交易权限"));
        }
        consume(sb, &p, "gateway").map(|()| p)
    });
    match checked {
        Ok(p) => Redirect::to(&cashier_url(headers, path, P, field(&p, "orderId"))).into_response(),
        Err(r) => (
            StatusCode::BAD_REQUEST,
            Html(format!("<!doctype html><meta charset=\"utf-8\"><p>银联（沙箱）：respCode={} {}</p>", r.code, html_escape(&r.msg))),
        )
            .into_response(),
    }
}

fn back(sb: &Sandbox, path: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    let p = match sb.inner.unionpay.verify_request(body) {
        Ok(p) => p,
        Err(r) => return unsigned(&r),
    };
    match (field(&p, "txnType"), field(&p, "txnSubType")) {
        (api::TXN_CONSUME, api::SUB_QR_APPLY) => match consume(sb, &p, "qr") {
            Ok(()) => {
                let url = cashier_url(headers, path, P, field(&p, "orderId"));
                let mut extra = ok();
                extra.push(("qrCode", url));
                answer(sb, &p, extra)
            }
            Err(r) => refused(sb, &p, r),
        },
        (api::TXN_REFUND | api::TXN_CANCEL, _) => match refund_once(sb, &p) {
            (known, Ok(query_id)) => {
                // A refund number sent again is the same refund: answered again, notified once.
                // A cancellation is done at once, whatever the refund switch says.
                let mut b = sb.behaviour(P);
                if field(&p, "txnType") == api::TXN_CANCEL {
                    b.refund = RefundMode::Instant;
                }
                if !known {
                    super::unionpay_refund::spawn(sb.clone(), &p, &query_id, b);
                }
                let mut extra = ok();
                extra.push(("queryId", query_id));
                extra.push(("origQryId", field(&p, "origQryId").to_string()));
                answer(sb, &p, extra)
            }
            (_, Err(r)) => refused(sb, &p, r),
        },
        _ => refused(sb, &p, refusal("32", "无此交易权限")),
    }
}

/// [`refund`], and whether that refund number was known before.
fn refund_once(sb: &Sandbox, p: &Params) -> (bool, Result<String, Refusal>) {
    let known = sb.ledger().find_refund(P, field(p, "orderId")).is_some();
    (known, refund(sb, p))
}

/// Records a refund (`orderId` is the refund's own number); a repeated number is the same
/// refund, answered again and never paid twice. `respCode=00` only accepts it: by the `refund`
/// switch it is done at once (`instant`) or after `refund_delay_s` (`processing`, queried as
/// `origRespCode=05` until then), each notified when done (see `unionpay_refund`); `fail`,
/// `abnormal` and `refuse` are refused at once with `01` (交易失败).
fn refund(sb: &Sandbox, p: &Params) -> Result<String, Refusal> {
    let refund_no = field(p, "orderId");
    let amount = fen(field(p, "txnAmt")).ok().filter(|a| a.is_positive()).ok_or_else(|| refusal("10", "txnAmt 有误"))?;
    let cancel = field(p, "txnType") == api::TXN_CANCEL;
    let mode = if cancel { RefundMode::Instant } else { sb.behaviour(P).refund };
    let now = unix_now();
    let mut ledger = sb.ledger();
    if let Some((_, r)) = ledger.find_refund(P, refund_no) {
        return Ok(r.refund_id.clone());
    }
    let orig = field(p, "origQryId");
    let no =
        ledger.find_by_transaction_id(P, orig).map(|t| t.out_trade_no.clone()).ok_or_else(|| refusal("35", "原交易不存在或状态不正确"))?;
    let refund_id = ledger.next_id(P, "17", now);
    let t = ledger.get_mut(P, &no).ok_or_else(|| refusal("35", "原交易不存在"))?;
    if t.state != TradeState::Paid {
        return Err(refusal("35", "原交易状态不正确"));
    }
    // 消费撤销 (31) reverses a whole consumption on the day it was paid (before UnionPay's cut-off,
    // here the Shanghai day), nothing refunded yet; later, only 退货 (04) gives money back.
    if cancel && (amount != t.amount || !t.refunds.is_empty() || t.paid_at.map(format_shanghai_date) != Some(format_shanghai_date(now))) {
        return Err(refusal("35", "原交易状态不正确：消费撤销只能当日全额撤销"));
    }
    if t.refunded().0 + amount.0 > t.amount.0 {
        return Err(refusal("33", "交易金额超限：退货总额超过原交易金额"));
    }
    if matches!(mode, RefundMode::Fail | RefundMode::Abnormal | RefundMode::Refuse) {
        return Err(refusal("01", "交易失败：退货被拒绝"));
    }
    let processing = mode == RefundMode::Processing;
    t.refunds.push(Refund {
        out_refund_no: refund_no.to_string(),
        refund_id: refund_id.clone(),
        amount,
        at: now,
        processing,
        wechat: None,
        unionpay_request: Some(p.clone()),
    });
    Ok(refund_id)
}

/// `MMddHHmmss` and `MMdd` (traceTime, settleDate).
pub(super) fn trace_time(at: i64) -> (String, String) {
    let (_, mo, d, h, mi, s) = shanghai_parts(at);
    (format!("{mo:02}{d:02}{h:02}{mi:02}{s:02}"), format!("{mo:02}{d:02}"))
}

/// What became of `t`, as `origRespCode` / `respCode` and message (a closed or expired unpaid
/// trade failed; an unpaid one is accepted and waiting).
fn outcome(t: &Trade, now: i64) -> (&'static str, &'static str) {
    match t.state {
        TradeState::Paid => ("00", "成功[0000000]"),
        TradeState::NotPaid if t.expires_at.is_none_or(|at| at >= now) => ("05", "交易已受理，等待持卡人支付"),
        _ => ("01", "交易失败：订单已过支付期限"),
    }
}

fn query(sb: &Sandbox, body: &[u8]) -> Response {
    let p = match sb.inner.unionpay.verify_request(body) {
        Ok(p) => p,
        Err(r) => return unsigned(&r),
    };
    if field(&p, "txnType") != api::TXN_QUERY {
        return refused(sb, &p, refusal("32", "无此交易权限"));
    }
    let (no, txn_time) = (field(&p, "orderId"), field(&p, "txnTime"));
    let mut extra = ok();
    let ledger = sb.ledger();
    if let Some(t) = ledger.get(P, no).filter(|t| t.txn_time.as_deref() == Some(txn_time)) {
        let (code, msg) = outcome(t, unix_now());
        extra.push(("origRespCode", code.into()));
        extra.push(("origRespMsg", msg.into()));
        extra.push(("txnAmt", t.amount.0.to_string()));
        extra.push(("currencyCode", api::CNY.into()));
        if let (Some(id), Some(at)) = (&t.transaction_id, t.paid_at) {
            let (trace, settle) = trace_time(at);
            extra.push(("queryId", id.clone()));
            extra.push(("traceTime", trace));
            extra.push(("settleDate", settle));
            extra.push(("settleAmt", t.amount.0.to_string()));
        }
    } else if let Some((_, r)) = ledger.find_refund(P, no) {
        let (code, msg) = if r.processing { ("05", "交易已受理，请稍后查询交易结果") } else { ("00", "成功[0000000]") };
        extra.push(("origRespCode", code.into()));
        extra.push(("origRespMsg", msg.into()));
        extra.push(("queryId", r.refund_id.clone()));
        extra.push(("txnAmt", r.amount.0.to_string()));
    } else {
        drop(ledger);
        return refused(sb, &p, refusal("34", "查无此交易"));
    }
    drop(ledger);
    answer(sb, &p, extra)
}

/// A back notification for `t` (form-urlencoded body). The stale one is the order as it stood
/// before payment (`respCode=05`, accepted); a forged one has a signature over other data.
pub(super) fn notice_body(sb: &Sandbox, t: &Trade, kind: NoticeKind) -> Result<String, ChannelError> {
    let side = &sb.inner.unionpay;
    let (sub, biz) = match t.trade_type.as_str() {
        "gateway" => (api::SUB_GATEWAY, api::BIZ_GATEWAY),
        _ => (api::SUB_QR_APPLY, api::BIZ_QR),
    };
    let (trace, settle) = trace_time(t.paid_at.unwrap_or(t.created_at));
    let (code, msg) = if kind == NoticeKind::Stale { ("05", "交易已受理") } else { ("00", "成功[0000000]") };
    let mut p = Params::new();
    for (k, v) in [
        ("accessType", api::ACCESS_MERCHANT.to_string()),
        ("bizType", biz.to_string()),
        ("currencyCode", api::CNY.to_string()),
        ("merId", side.mer_id.clone()),
        ("orderId", t.out_trade_no.clone()),
        ("queryId", t.transaction_id.clone().unwrap_or_default()),
        ("respCode", code.to_string()),
        ("respMsg", msg.to_string()),
        ("settleAmt", t.amount.0.to_string()),
        ("settleCurrencyCode", api::CNY.to_string()),
        ("settleDate", settle),
        ("traceNo", format!("{:06}", t.created_at.rem_euclid(1_000_000))),
        ("traceTime", trace),
        ("txnAmt", t.amount.0.to_string()),
        ("txnSubType", sub.to_string()),
        ("txnTime", t.txn_time.clone().unwrap_or_default()),
        ("txnType", api::TXN_CONSUME.to_string()),
    ] {
        p.insert(k.into(), v);
    }
    side.sign(&mut p)?;
    if kind == NoticeKind::Forged {
        let bad = side.signer.sign_b64(b"forged by the sandbox")?;
        p.insert(sign::SIGNATURE.into(), bad);
    }
    Ok(sign::encode_form(&p))
}

/// `fileTransfer.do` (`txnType=76`, `fileType=00`): the reconciliation zip of `settleDate`
/// (the natural Shanghai day, see `statements`), deflated and Base64-encoded in `fileContent`.
fn file_transfer(sb: &Sandbox, body: &[u8]) -> Response {
    let p = match sb.inner.unionpay.verify_request(body) {
        Ok(p) => p,
        Err(r) => return unsigned(&r),
    };
    if field(&p, "txnType") != bill::TXN_FILE_TRANSFER || field(&p, "fileType") != bill::FILE_TYPE_RECONCILIATION {
        return refused(sb, &p, refusal("32", "无此交易权限"));
    }
    let Some(date) = date_of_settle_date(field(&p, "settleDate")) else {
        return refused(sb, &p, refusal("10", "settleDate 有误"));
    };
    let content = sb.unionpay_reconciliation_zip(&date).and_then(|(name, mut zip)| {
        if sb.behaviour(P).corrupt_statement {
            zip.truncate(zip.len() / 2);
        }
        Ok((name, bill::file_content(&zip)?))
    });
    let (name, content) = match content {
        Ok(c) => c,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let mut extra = ok();
    for k in ["settleDate", "fileType"] {
        extra.push((k, field(&p, k).to_string()));
    }
    extra.push(("fileName", name));
    extra.push(("fileContent", content));
    answer(sb, &p, extra)
}
