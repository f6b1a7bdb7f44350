//! UnionPay's back notification of a refund (退货, `txnType=04`): once the refund is done,
//! UnionPay form-POSTs the signed result to the refund request's own `backUrl` (the official
//! demo `Form_6_4_Refund` waits for it, or queries), retried like every back notification
//! until HTTP 200.

use super::Sandbox;
use super::ledger::{Behaviour, NotifyMode, RefundMode};
use super::notify::{Outgoing, deliver};
use super::unionpay_api::trace_time;
use campuspay_channels::crypto::unix_now;
use campuspay_channels::unionpay::api;
use campuspay_channels::unionpay::sign::{self, Params};
use campuspay_channels::{HeaderMap, Provider};
use reqwest::header::{CONTENT_TYPE, HeaderValue};

/// Ends the refund requested by `req` (a verified `txnType=04` request, recorded with the refund
/// `queryId` `refund_id`) — at once, or after `refund_delay_s` when it is processing — and
/// notifies it.
pub(super) fn spawn(sb: Sandbox, req: &Params, refund_id: &str, b: Behaviour) {
    let req = req.clone();
    let refund_id = refund_id.to_string();
    tokio::spawn(async move {
        if b.refund == RefundMode::Processing {
            tokio::time::sleep(sb.scaled(b.refund_delay_s as f64)).await;
            let order_id = req.get("orderId").cloned().unwrap_or_default();
            let ended = {
                let mut ledger = sb.ledger();
                let no = ledger.find_refund(Provider::Unionpay, &order_id).map(|(t, _)| t.out_trade_no.clone());
                let refund = no
                    .and_then(|no| ledger.get_mut(Provider::Unionpay, &no))
                    .and_then(|t| t.refunds.iter_mut().find(|r| r.out_refund_no == order_id));
                refund.map(|r| std::mem::replace(&mut r.processing, false))
            };
            if ended != Some(true) {
                return;
            }
        }
        // The `notify: lost` switch loses every notification, refunds' too.
        if b.notify != NotifyMode::Lost {
            notify(&sb, &req, &refund_id).await;
        }
    });
}

async fn notify(sb: &Sandbox, req: &Params, refund_id: &str) {
    let get = |k: &str| req.get(k).cloned().unwrap_or_default();
    let back_url = get("backUrl");
    if back_url.is_empty() {
        return;
    }
    let (trace, settle) = trace_time(unix_now());
    let mut p = Params::new();
    for (k, v) in [
        ("accessType", get("accessType")),
        ("bizType", get("bizType")),
        ("currencyCode", api::CNY.to_string()),
        ("merId", get("merId")),
        ("orderId", get("orderId")),
        ("origQryId", get("origQryId")),
        ("queryId", refund_id.to_string()),
        ("respCode", api::RESP_OK.to_string()),
        ("respMsg", "成功[0000000]".to_string()),
        ("settleAmt", get("txnAmt")),
        ("settleCurrencyCode", api::CNY.to_string()),
        ("settleDate", settle),
        ("traceNo", refund_id.chars().rev().take(6).collect::<Vec<_>>().into_iter().rev().collect()),
        ("traceTime", trace),
        ("txnAmt", get("txnAmt")),
        ("txnSubType", get("txnSubType")),
        ("txnTime", get("txnTime")),
        // 04 for a refund, 31 for a cancellation (消费撤销), which is notified alike.
        ("txnType", get("txnType")),
    ] {
        p.insert(k.into(), v);
    }
    if let Err(e) = sb.inner.unionpay.sign(&mut p) {
        tracing::error!(error = %e, "sandbox: signing a UnionPay refund notification failed");
        return;
    }
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded; charset=UTF-8"));
    let out = Outgoing { headers, body: sign::encode_form(&p) };
    for wait in std::iter::once(0).chain(super::UNIONPAY_RETRY_S.iter().copied()) {
        tokio::time::sleep(sb.scaled(wait as f64)).await;
        if deliver(sb, Provider::Unionpay, &back_url, &out).await.1 {
            return;
        }
    }
}
