//! The simulated 通联收银宝 under `/sandbox/allinpay/` (as `vsp.allinpay.com` and
//! `syb.allinpay.com` serve it, one base for both; pyallinpay's two base URLs point here):
//! - `apiweb/h5unionpay/unionorder`: the H5 cashier order, signed fields as the address's query
//!   (the code a phone scans) or a form POST (the SDK's way) → the cashier page, where the payer
//!   picks their wallet (微信、支付宝、云闪付) and pays;
//! - `apiweb/unitorder/query` by `reqsn` (an order's or a refund's) or `trxid`;
//! - `apiweb/unitorder/refund` (`oldreqsn` or `oldtrxid`), its end set by the `refund` switch:
//!   `instant` (`0000`), `processing` (`2000`, then `0000` after `refund_delay_s`), `fail`
//!   (`3999`, nothing refunded).
//!
//! Requests are checked with the merchant's public key; answers (`retcode=SUCCESS`, JSON) and
//! notifications (form POST, answered `success`) are signed with 通联's key. A refused request
//! gets `retcode=FAIL` unsigned, as the SDKs expect.

use super::Sandbox;
use super::allinpay::{AllinpayProviderSide, Refusal};
use super::ledger::{NoticeKind, Refund, RefundMode, Trade, TradeState};
use super::server::{cashier_url, html_escape};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use campuspay_channels::allinpay::api::{self, shanghai_time};
use campuspay_channels::allinpay::sign::{self, Params};
use campuspay_channels::crypto::unix_now;
use campuspay_channels::{ChannelError, Provider};
use campuspay_domain::Fen;

const P: Provider = Provider::Allinpay;

/// 通联 retries an unacknowledged notification at 15s/15s/5m/10m/15m (30m30s in all; doc 1041).
pub const ALLINPAY_RETRY_S: &[u64] = &[15, 15, 300, 600, 900];

/// The API under `{prefix}/apiweb/…`: `/sandbox/allinpay` in the router, and also `` (the root)
/// in `campuspay sandbox`, as 通联's hosts serve it: SDKs that join absolute paths to their base
/// URL (pyallinpay's `urljoin(base, "/apiweb/…")`) reach it only there.
pub(super) fn routes(prefix: &str) -> Router<Sandbox> {
    Router::new()
        .route(
            &format!("{prefix}/apiweb/h5unionpay/unionorder"),
            get(|s: State<Sandbox>, u: OriginalUri, h: HeaderMap| async move {
                let query = u.0.query().unwrap_or_default().to_string();
                h5_order(&s.0, u.0.path(), &h, query.as_bytes())
            })
            .post(|s: State<Sandbox>, u: OriginalUri, h: HeaderMap, body: Bytes| async move { h5_order(&s.0, u.0.path(), &h, &body) }),
        )
        .route(&format!("{prefix}/apiweb/unitorder/query"), post(|s: State<Sandbox>, body: Bytes| async move { query(&s.0, &body) }))
        .route(&format!("{prefix}/apiweb/unitorder/refund"), post(|s: State<Sandbox>, body: Bytes| async move { refund(&s.0, &body) }))
}

fn json(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json;charset=UTF-8")], body).into_response()
}

fn field<'a>(p: &'a Params, k: &str) -> &'a str {
    p.get(k).map(String::as_str).unwrap_or_default()
}

/// Parses and checks a signed request; a refusal is the answer's body (`retcode=FAIL`).
fn verified(sb: &Sandbox, body: &[u8]) -> Result<Params, String> {
    let p = sign::parse_form(body).map_err(|e| AllinpayProviderSide::refusal(&Refusal(e.to_string())))?;
    sb.inner.allinpay.verify_request(&p).map_err(|r| AllinpayProviderSide::refusal(&r))?;
    Ok(p)
}

fn signed(sb: &Sandbox, extra: Vec<(&str, String)>) -> Response {
    match sb.inner.allinpay.answer(extra) {
        Ok(body) => json(body),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn error_page(status: StatusCode, msg: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>通联收银台（沙箱）</title></head>\
         <body><h1>通联收银台（沙箱）</h1><p>下单失败：{}</p></body></html>",
        html_escape(msg)
    );
    (status, Html(body)).into_response()
}

/// The H5 cashier order: checked, recorded (the same order again is the same trade), then the
/// browser goes to the cashier page.
fn h5_order(sb: &Sandbox, path: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    let p = match sign::parse_form(body) {
        Ok(p) => p,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    if let Err(Refusal(msg)) = sb.inner.allinpay.verify_request(&p) {
        return error_page(StatusCode::BAD_REQUEST, &msg);
    }
    match record_order(sb, &p) {
        Ok(no) => Redirect::to(&cashier_url(headers, path, P, &no)).into_response(),
        Err(msg) => error_page(StatusCode::BAD_REQUEST, &msg),
    }
}

fn record_order(sb: &Sandbox, p: &Params) -> Result<String, String> {
    let no = field(p, "reqsn");
    if no.is_empty() || no.len() > 32 {
        return Err("reqsn 不能为空且不超过 32 位".into());
    }
    let amount = field(p, "trxamt").parse::<i64>().ok().filter(|a| *a > 0).map(Fen).ok_or("trxamt 须为正整数（分）")?;
    let minutes = match field(p, "validtime") {
        "" => 5,
        v => v.parse::<i64>().ok().filter(|m| (1..=1440).contains(m)).ok_or("validtime 须为 1–1440 分钟")?,
    };
    let now = unix_now();
    let mut ledger = sb.ledger();
    if let Some(t) = ledger.get(P, no) {
        return if t.amount == amount { Ok(no.to_string()) } else { Err("订单号重复：已用于另一笔金额".into()) };
    }
    ledger.insert(Trade {
        provider: P,
        out_trade_no: no.to_string(),
        description: field(p, "body").to_string(),
        amount,
        trade_type: "h5unionpay".into(),
        notify_url: field(p, "notify_url").to_string(),
        return_url: Some(field(p, "returl").to_string()).filter(|u| !u.is_empty()),
        payer_openid: None,
        state: TradeState::NotPaid,
        transaction_id: None,
        created_at: now,
        paid_at: None,
        refunds: Vec::new(),
        notifications: Vec::new(),
        txn_time: None,
        expires_at: Some(now + minutes * 60),
        pos_id: None,
    });
    Ok(no.to_string())
}

/// The payer's wallet, as the cashier offers it, to its `trxcode`.
pub(super) fn wallet_trxcode(wallet: &str) -> Option<&'static str> {
    Some(match wallet {
        "wechat" => api::TRXCODE_WECHAT,
        "alipay" => api::TRXCODE_ALIPAY,
        "unionpay" => api::TRXCODE_UNIONPAY,
        _ => return None,
    })
}

/// The `trxcode` a paid trade was booked under (the wallet chosen; 云闪付 if none was).
fn trxcode(t: &Trade) -> &str {
    if t.trade_type.starts_with("VSP") { &t.trade_type } else { api::TRXCODE_UNIONPAY }
}

fn refund_code(t: &Trade) -> &'static str {
    match trxcode(t) {
        api::TRXCODE_WECHAT => api::TRXCODE_WECHAT_REFUND,
        api::TRXCODE_ALIPAY => api::TRXCODE_ALIPAY_REFUND,
        _ => api::TRXCODE_UNIONPAY_REFUND,
    }
}

/// The wallet's own transaction number (`chnltrxid`), in the wallet's shape.
fn chnltrxid(t: &Trade) -> String {
    let id = t.transaction_id.clone().unwrap_or_default();
    match trxcode(t) {
        api::TRXCODE_WECHAT => format!("4200{id}"),
        api::TRXCODE_ALIPAY => format!("2026{id}"),
        _ => id,
    }
}

impl Sandbox {
    /// The cashier's wallet buttons: books the trade under that wallet before it is paid.
    pub fn allinpay_choose_wallet(&self, out_trade_no: &str, wallet: &str) {
        if let Some(code) = wallet_trxcode(wallet)
            && let Some(t) = self.ledger().get_mut(P, out_trade_no)
            && t.state != TradeState::Paid
        {
            t.trade_type = code.to_string();
        }
    }
}

fn query(sb: &Sandbox, body: &[u8]) -> Response {
    let p = match verified(sb, body) {
        Ok(p) => p,
        Err(refusal) => return json(refusal),
    };
    let now = unix_now();
    let mut ledger = sb.ledger();
    let reqsn = field(&p, "reqsn");
    let no = match reqsn {
        "" => ledger.find_by_transaction_id(P, field(&p, "trxid")).map(|t| t.out_trade_no.clone()),
        r => ledger.get(P, r).map(|t| t.out_trade_no.clone()),
    };
    if let Some(no) = no {
        // Past its `validtime` an unpaid order is over.
        let Some(t) = ledger.get_mut(P, &no) else { return not_found(sb) };
        if t.state == TradeState::NotPaid && t.expires_at.is_some_and(|at| at < now) {
            t.state = TradeState::Closed;
        }
        let t = t.clone();
        drop(ledger);
        return signed(sb, trade_fields(&t));
    }
    if let Some((t, r)) = ledger.find_refund(P, reqsn) {
        let (t, r) = (t.clone(), r.clone());
        drop(ledger);
        return signed(sb, refund_fields(&t, &r));
    }
    drop(ledger);
    not_found(sb)
}

fn not_found(sb: &Sandbox) -> Response {
    signed(sb, vec![("trxstatus", api::TRX_NOT_FOUND.into()), ("errmsg", "交易不存在".into())])
}

fn trade_fields(t: &Trade) -> Vec<(&'static str, String)> {
    let mut v = vec![("reqsn", t.out_trade_no.clone()), ("trxamt", t.amount.0.to_string()), ("initamt", t.amount.0.to_string())];
    match t.state {
        TradeState::Paid => {
            v.push(("trxstatus", api::TRX_OK.into()));
            v.push(("trxid", t.transaction_id.clone().unwrap_or_default()));
            v.push(("chnltrxid", chnltrxid(t)));
            v.push(("trxcode", trxcode(t).into()));
            v.push(("fintime", t.paid_at.map(shanghai_time).unwrap_or_default()));
            v.push(("fee", "0".into()));
        }
        TradeState::NotPaid => {
            v.push(("trxstatus", api::TRX_PROCESSING.into()));
            v.push(("errmsg", "交易处理中，付款人尚未支付".into()));
        }
        TradeState::Closed => {
            v.push(("trxstatus", api::TRX_UNPAID.into()));
            v.push(("errmsg", "交易未支付".into()));
        }
    }
    v
}

fn refund_fields(t: &Trade, r: &Refund) -> Vec<(&'static str, String)> {
    let mut v = vec![
        ("reqsn", r.out_refund_no.clone()),
        ("trxid", r.refund_id.clone()),
        ("trxcode", refund_code(t).into()),
        ("trxamt", r.amount.0.to_string()),
    ];
    if r.processing {
        v.push(("trxstatus", api::TRX_PROCESSING.into()));
        v.push(("errmsg", "退款处理中".into()));
    } else {
        v.push(("trxstatus", api::TRX_OK.into()));
        v.push(("fintime", shanghai_time(r.at)));
        v.push(("fee", "0".into()));
    }
    v
}

/// A refund (`reqsn` its own number). A number already used is answered `3888` 流水号重复, as
/// 通联 does: ask by query instead.
fn refund(sb: &Sandbox, body: &[u8]) -> Response {
    let p = match verified(sb, body) {
        Ok(p) => p,
        Err(refusal) => return json(refusal),
    };
    let fail = |code: &str, msg: &str| vec![("trxstatus", code.to_string()), ("errmsg", msg.to_string())];
    let reqsn = field(&p, "reqsn").to_string();
    let Some(amount) = field(&p, "trxamt").parse::<i64>().ok().filter(|a| *a > 0).map(Fen) else {
        return signed(sb, fail("3999", "trxamt 须为正整数（分）"));
    };
    if reqsn.is_empty() {
        return signed(sb, fail("3999", "reqsn 不能为空"));
    }
    let b = sb.behaviour(P);
    let now = unix_now();
    let outcome = {
        let mut ledger = sb.ledger();
        if ledger.get(P, &reqsn).is_some() || ledger.find_refund(P, &reqsn).is_some() {
            return signed(sb, fail("3888", "流水号重复"));
        }
        let orig = match field(&p, "oldreqsn") {
            "" => ledger.find_by_transaction_id(P, field(&p, "oldtrxid")).map(|t| t.out_trade_no.clone()),
            no => ledger.get(P, no).map(|t| t.out_trade_no.clone()),
        };
        let refund_id = ledger.next_id(P, "", now);
        match orig.and_then(|no| ledger.get_mut(P, &no)) {
            None => Err(fail(api::TRX_NOT_FOUND, "原交易不存在")),
            Some(t) if t.state != TradeState::Paid => Err(fail("3999", "原交易未成功，不能退款")),
            Some(t) if t.refunded().0 + amount.0 > t.amount.0 => Err(fail("3999", "退款金额超过原交易可退金额")),
            Some(_) if matches!(b.refund, RefundMode::Fail | RefundMode::Abnormal | RefundMode::Refuse) => {
                Err(fail("3999", "退款失败：渠道拒绝退款"))
            }
            Some(t) => {
                let r = Refund {
                    out_refund_no: reqsn.clone(),
                    refund_id,
                    amount,
                    at: now,
                    processing: b.refund == RefundMode::Processing,
                    wechat: None,
                    unionpay_request: None,
                };
                t.refunds.push(r.clone());
                Ok((t.clone(), r))
            }
        }
    };
    match outcome {
        Err(fields) => signed(sb, fields),
        Ok((t, r)) => {
            if r.processing {
                end_later(sb.clone(), t.out_trade_no.clone(), reqsn, b.refund_delay_s);
            }
            signed(sb, refund_fields(&t, &r))
        }
    }
}

/// A processing refund is done after `delay_s` (time-scaled); 通联 notifies no refunds, so
/// the merchant learns it by query.
fn end_later(sb: Sandbox, no: String, reqsn: String, delay_s: u64) {
    tokio::spawn(async move {
        tokio::time::sleep(sb.scaled(delay_s as f64)).await;
        let mut ledger = sb.ledger();
        if let Some(r) = ledger.get_mut(P, &no).and_then(|t| t.refunds.iter_mut().find(|r| r.out_refund_no == reqsn)) {
            r.processing = false;
            r.at = unix_now();
        }
    });
}

/// The signed notification of `t` (doc 1041/2100 fields; our order number as `cusorderid`).
/// The stale one is the trade still processing (`2008`); the forged one carries a signature
/// over other text.
pub(super) fn notice_body(sb: &Sandbox, t: &Trade, kind: NoticeKind) -> Result<String, ChannelError> {
    let side = &sb.inner.allinpay;
    let paid_at = t.paid_at.unwrap_or(t.created_at);
    let status = if kind == NoticeKind::Stale { api::TRX_PROCESSING_2 } else { api::TRX_OK };
    let id = t.transaction_id.clone().unwrap_or_default();
    let mut p = Params::new();
    for (k, v) in [
        ("appid", side.appid.clone()),
        ("cusid", side.cusid.clone()),
        ("cusorderid", t.out_trade_no.clone()),
        ("outtrxid", t.out_trade_no.clone()),
        ("trxid", id.clone()),
        ("chnltrxid", chnltrxid(t)),
        ("trxcode", trxcode(t).to_string()),
        ("trxamt", t.amount.0.to_string()),
        ("initamt", t.amount.0.to_string()),
        ("trxdate", shanghai_time(t.created_at)[..8].to_string()),
        ("paytime", shanghai_time(paid_at)),
        ("trxstatus", status.to_string()),
        ("fee", "0".to_string()),
        ("termauthno", id),
        ("termtraceno", "0".to_string()),
    ] {
        p.insert(k.into(), v);
    }
    sign::sign(&side.signer, &mut p)?;
    if kind == NoticeKind::Forged {
        p.insert(sign::SIGN.into(), side.signer.sign_b64(b"forged by the sandbox")?);
    }
    Ok(sign::encode_form(&p))
}
