//! WeChat Pay's refunds as the platform does them: `POST /v3/refund/domestic/refunds` answers
//! `PROCESSING` (or refuses with a published code), the refund ends later — `SUCCESS`,
//! `CLOSED` or `ABNORMAL`, per the `refund` behaviour switch — and the end is told to the
//! refund's `notify_url` as a `REFUND.*` notification (resource encrypted with the APIv3 key,
//! retried on WeChat's schedule until answered 200/204); `GET …/refunds/{out_refund_no}` shows
//! the state at any time. Asking again with the same `out_refund_no` answers the same refund.

use super::Sandbox;
use super::ledger::{NoticeKind, NotifyAttempt, Refund, RefundMode, Trade, TradeState, WechatRefund, WechatRefundStatus};
use super::notify::WECHAT_RETRY_S;
use super::wechat_api::{WxError, authenticate, error, parse, reply};
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use campuspay_channels::crypto::{aes_256_gcm_seal, random_nonce, unix_now};
use campuspay_channels::wechatpay::api::rfc3339_shanghai;
use campuspay_channels::wechatpay::sign::HEADER_SIGNATURE;
use campuspay_channels::{ChannelError, Provider};
use campuspay_domain::Fen;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde::Deserialize;
use serde_json::{Value, json};

const P: Provider = Provider::Wechatpay;

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[derive(Deserialize)]
struct RefundReq {
    out_trade_no: Option<String>,
    transaction_id: Option<String>,
    out_refund_no: String,
    #[serde(default)]
    notify_url: Option<String>,
    amount: RefundAmount,
}

#[derive(Deserialize)]
struct RefundAmount {
    refund: i64,
    total: i64,
    #[serde(default)]
    currency: Option<String>,
}

/// The refund as the apply answer and the query carry it (申请退款 / 查询单笔退款).
fn refund_json(t: &Trade, r: &Refund) -> Value {
    let status = r.wechat.as_ref().map_or(WechatRefundStatus::Success, |w| w.status);
    let mut v = json!({
        "refund_id": r.refund_id,
        "out_refund_no": r.out_refund_no,
        "transaction_id": t.transaction_id,
        "out_trade_no": t.out_trade_no,
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "create_time": rfc3339_shanghai(r.at),
        "status": status.as_str(),
        "funds_account": "AVAILABLE",
        "amount": {
            "total": t.amount.0,
            "refund": r.amount.0,
            "from": [],
            "payer_total": t.amount.0,
            "payer_refund": r.amount.0,
            "settlement_refund": r.amount.0,
            "settlement_total": t.amount.0,
            "discount_refund": 0,
            "currency": "CNY",
            "refund_fee": 0,
        },
    });
    if let Some(at) = r.wechat.as_ref().and_then(|w| w.success_time) {
        v["success_time"] = json!(rfc3339_shanghai(at));
    }
    v
}

/// Ends every processing refund of the trade whose time has come; returns those that just
/// ended (for their notifications). Called with the ledger held, so one caller ends each.
fn end_due(t: &mut Trade, now_ms: i64) -> Vec<String> {
    t.refunds.iter_mut().filter_map(|r| r.end_if_due(now_ms).then(|| r.out_refund_no.clone())).collect()
}

pub(super) async fn refund(
    State(sb): State<Sandbox>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: String,
) -> Response {
    if let Err(e) = authenticate(&sb, &method, &uri, &headers, &body) {
        return e.respond(&sb);
    }
    let req: RefundReq = match parse(&body) {
        Ok(r) => r,
        Err(e) => return e.respond(&sb),
    };
    match apply(&sb, &req) {
        Ok((t, r, started)) => {
            if started {
                spawn_notification(sb.clone(), t.out_trade_no.clone(), r.out_refund_no.clone());
            }
            reply(&sb, StatusCode::OK, refund_json(&t, &r).to_string())
        }
        Err(e) => e.respond(&sb),
    }
}

/// Records the refund (or finds the same one asked before); `true` when it is new.
fn apply(sb: &Sandbox, req: &RefundReq) -> Result<(Trade, Refund, bool), WxError> {
    let bad = |code: &'static str, msg: &str| WxError(StatusCode::BAD_REQUEST, code, msg.to_string());
    if req.amount.currency.as_deref().is_some_and(|c| c != "CNY") {
        return Err(bad("PARAM_ERROR", "amount.currency 只能是 CNY"));
    }
    let b = sb.behaviour(P);
    let now = unix_now();
    let mut ledger = sb.ledger();
    let no = match (&req.out_trade_no, &req.transaction_id) {
        (Some(no), _) => no.clone(),
        (None, Some(id)) => ledger.find_by_transaction_id(P, id).map(|t| t.out_trade_no.clone()).unwrap_or_default(),
        (None, None) => return Err(bad("PARAM_ERROR", "transaction_id 和 out_trade_no 必须二选一")),
    };
    let refund_id = ledger.next_id(P, "5030", now);
    let Some(t) = ledger.get_mut(P, &no) else {
        return Err(WxError(StatusCode::NOT_FOUND, "RESOURCE_NOT_EXISTS", "订单不存在".into()));
    };
    end_due(t, now_ms());
    if let Some(r) = t.refunds.iter().find(|r| r.out_refund_no == req.out_refund_no) {
        // The same out_refund_no again is the same refund, whatever its state: never twice.
        if r.amount.0 != req.amount.refund {
            return Err(bad("INVALID_REQUEST", "同一退款单号的退款金额与原请求不一致"));
        }
        let r = r.clone();
        return Ok((t.clone(), r, false));
    }
    if t.state != TradeState::Paid {
        return Err(bad("INVALID_REQUEST", "订单未支付"));
    }
    if t.amount.0 != req.amount.total {
        return Err(bad("PARAM_ERROR", "订单金额不符"));
    }
    if req.amount.refund <= 0 || t.refunded().0 + req.amount.refund > t.amount.0 {
        return Err(bad("INVALID_REQUEST", "退款金额超过可退金额"));
    }
    let ends_as = match b.refund {
        RefundMode::Refuse => {
            return Err(WxError(StatusCode::FORBIDDEN, "NOT_ENOUGH", "基本账户余额不足，请充值后重新发起".into()));
        }
        RefundMode::Instant | RefundMode::Processing => WechatRefundStatus::Success,
        RefundMode::Fail => WechatRefundStatus::Closed,
        RefundMode::Abnormal => WechatRefundStatus::Abnormal,
    };
    let instant = b.refund == RefundMode::Instant;
    let due_ms = now_ms() + sb.scaled(b.refund_delay_s as f64).as_millis() as i64;
    let wechat = WechatRefund {
        status: if instant { WechatRefundStatus::Success } else { WechatRefundStatus::Processing },
        ends_as,
        due_ms: if instant { now_ms() } else { due_ms },
        success_time: instant.then_some(now),
        notify_url: req.notify_url.clone().filter(|u| !u.is_empty()),
        notifications: Vec::new(),
    };
    let r = Refund {
        out_refund_no: req.out_refund_no.clone(),
        refund_id,
        amount: Fen(req.amount.refund),
        at: now,
        processing: !instant,
        wechat: Some(wechat),
        unionpay_request: None,
    };
    t.refunds.push(r.clone());
    Ok((t.clone(), r, true))
}

/// `GET /v3/refund/domestic/refunds/{out_refund_no}` (no `mchid`: the signature names the
/// merchant).
pub(super) async fn query(
    State(sb): State<Sandbox>,
    Path(no): Path<String>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = authenticate(&sb, &method, &uri, &headers, "") {
        return e.respond(&sb);
    }
    let found = {
        let mut ledger = sb.ledger();
        let trade_no = ledger.find_refund(P, &no).map(|(t, _)| t.out_trade_no.clone());
        trade_no.and_then(|tn| {
            let t = ledger.get_mut(P, &tn)?;
            end_due(t, now_ms());
            let r = t.refunds.iter().find(|r| r.out_refund_no == no)?.clone();
            Some((t.clone(), r))
        })
    };
    match found {
        Some((t, r)) => reply(&sb, StatusCode::OK, refund_json(&t, &r).to_string()),
        None => error(&sb, StatusCode::NOT_FOUND, "RESOURCE_NOT_EXISTS", "退款单不存在"),
    }
}

/// Waits until the refund is due to end, ends it (unless a query did first) and notifies its
/// `notify_url`, retried on WeChat's schedule (time-scaled) until answered 200 or 204.
fn spawn_notification(sb: Sandbox, out_trade_no: String, out_refund_no: String) {
    tokio::spawn(async move {
        let due_ms = sb
            .trade(P, &out_trade_no)
            .and_then(|t| t.refunds.iter().find(|r| r.out_refund_no == out_refund_no).and_then(|r| r.wechat.as_ref().map(|w| w.due_ms)));
        let Some(due_ms) = due_ms else { return };
        tokio::time::sleep(std::time::Duration::from_millis((due_ms - now_ms()).max(0) as u64)).await;
        if let Some(t) = sb.ledger().get_mut(P, &out_trade_no) {
            end_due(t, now_ms());
        }
        let b = sb.behaviour(P);
        if b.notify == super::ledger::NotifyMode::Lost {
            return;
        }
        let notification_id = random_nonce(32);
        for wait in std::iter::once(0).chain(WECHAT_RETRY_S.iter().copied()) {
            tokio::time::sleep(sb.scaled(wait as f64)).await;
            let Some((url, headers, body)) = notice(&sb, &out_trade_no, &out_refund_no, &notification_id, b.notify) else { return };
            let times = if b.notify == super::ledger::NotifyMode::Duplicate { 2 } else { 1 };
            let mut acknowledged = false;
            for _ in 0..times {
                let sent = sb.inner.client.post(&url).headers(headers.clone()).body(body.clone()).send().await;
                let status = sent.as_ref().ok().map(|r| r.status().as_u16());
                let ok = matches!(status, Some(200 | 204));
                record(&sb, &out_trade_no, &out_refund_no, status, ok, b.notify);
                acknowledged |= ok && b.notify != super::ledger::NotifyMode::Forge;
            }
            if acknowledged {
                return;
            }
        }
    });
}

fn record(sb: &Sandbox, out_trade_no: &str, out_refund_no: &str, status: Option<u16>, ok: bool, mode: super::ledger::NotifyMode) {
    let kind = if mode == super::ledger::NotifyMode::Forge { NoticeKind::Forged } else { NoticeKind::Good };
    if let Some(w) = sb
        .ledger()
        .get_mut(P, out_trade_no)
        .and_then(|t| t.refunds.iter_mut().find(|r| r.out_refund_no == out_refund_no))
        .and_then(|r| r.wechat.as_mut())
    {
        w.notifications.push(NotifyAttempt { kind, status, acknowledged: ok, at: unix_now() });
    }
}

/// The `REFUND.*` notification of a refund that has ended: (url, headers, body), or `None`
/// while it is processing or has no notify URL.
fn notice(
    sb: &Sandbox,
    out_trade_no: &str,
    out_refund_no: &str,
    notification_id: &str,
    mode: super::ledger::NotifyMode,
) -> Option<(String, campuspay_channels::HeaderMap, String)> {
    let t = sb.trade(P, out_trade_no)?;
    let r = t.refunds.iter().find(|r| r.out_refund_no == out_refund_no)?;
    let url = r.wechat.as_ref()?.notify_url.clone()?;
    match refund_notification(sb, &t, r, notification_id, mode == super::ledger::NotifyMode::Forge) {
        Ok(Some((headers, body))) => Some((url, headers, body)),
        Ok(None) => None,
        Err(e) => {
            tracing::error!(error = %e, "sandbox: building a refund notification failed");
            None
        }
    }
}

/// A signed `REFUND.SUCCESS` / `REFUND.CLOSED` / `REFUND.ABNORMAL` notification (退款结果通知):
/// the resource (`original_type` and `associated_data` `refund`) holds the refund's end,
/// encrypted AEAD_AES_256_GCM with the APIv3 key. `None` while it is still processing.
fn refund_notification(
    sb: &Sandbox,
    t: &Trade,
    r: &Refund,
    notification_id: &str,
    forged: bool,
) -> Result<Option<(campuspay_channels::HeaderMap, String)>, ChannelError> {
    let Some(w) = r.wechat.as_ref().filter(|w| w.status != WechatRefundStatus::Processing) else { return Ok(None) };
    let side = &sb.inner.wechat;
    let mut resource = json!({
        "mchid": side.mchid,
        "out_trade_no": t.out_trade_no,
        "transaction_id": t.transaction_id,
        "out_refund_no": r.out_refund_no,
        "refund_id": r.refund_id,
        "refund_status": w.status.as_str(),
        "user_received_account": "支付用户零钱",
        "amount": { "total": t.amount.0, "refund": r.amount.0, "payer_total": t.amount.0, "payer_refund": r.amount.0 },
    });
    if let Some(at) = w.success_time {
        resource["success_time"] = json!(rfc3339_shanghai(at));
    }
    let nonce = random_nonce(12);
    let ciphertext = aes_256_gcm_seal(side.apiv3_key.as_bytes(), &nonce, "refund", resource.to_string().as_bytes())?;
    let summary = match w.status {
        WechatRefundStatus::Success => "退款成功",
        WechatRefundStatus::Closed => "退款关闭",
        _ => "退款异常",
    };
    let now = unix_now();
    let body = json!({
        "id": notification_id,
        "create_time": rfc3339_shanghai(now),
        "resource_type": "encrypt-resource",
        "event_type": format!("REFUND.{}", w.status.as_str()),
        "summary": summary,
        "resource": {
            "original_type": "refund",
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": ciphertext,
            "associated_data": "refund",
            "nonce": nonce,
        },
    })
    .to_string();
    let mut headers = side.sign_headers(&body, now)?;
    if forged {
        let bad = side.platform_signer.sign_b64(b"forged by the sandbox")?;
        headers.insert(HEADER_SIGNATURE, HeaderValue::from_str(&bad).map_err(|_| ChannelError::Crypto("头部值无效"))?);
    }
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(Some((headers, body)))
}

impl Sandbox {
    /// The `REFUND.*` notification WeChat Pay would send now for refund `out_refund_no`
    /// (headers, body), ending it first if its time has come; `None` while it is processing.
    /// For tests that deliver a genuine notification themselves (e.g. racing a query).
    pub fn wechat_refund_notification(&self, out_refund_no: &str) -> Option<(campuspay_channels::HeaderMap, String)> {
        let trade_no = self.ledger().find_refund(P, out_refund_no).map(|(t, _)| t.out_trade_no.clone())?;
        if let Some(t) = self.ledger().get_mut(P, &trade_no) {
            end_due(t, now_ms());
        }
        let t = self.trade(P, &trade_no)?;
        let r = t.refunds.iter().find(|r| r.out_refund_no == out_refund_no)?;
        refund_notification(self, &t, r, &random_nonce(32), false).ok().flatten()
    }
}
