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
use campuspay_channels::{ChannelError, HeaderMap, Provider};
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
    let back_url = req.get("backUrl").cloned().unwrap_or_default();
    if back_url.is_empty() {
        return;
    }
    let out = match notification(sb, req, refund_id) {
        Ok(out) => out,
        Err(e) => {
            tracing::error!(error = %e, "sandbox: signing a UnionPay refund notification failed");
            return;
        }
    };
    for wait in std::iter::once(0).chain(super::UNIONPAY_RETRY_S.iter().copied()) {
        tokio::time::sleep(sb.scaled(wait as f64)).await;
        if deliver(sb, Provider::Unionpay, &back_url, &out).await.1 {
            return;
        }
    }
}

/// The signed back notification of the refund requested by `req`, done as `refund_id`.
fn notification(sb: &Sandbox, req: &Params, refund_id: &str) -> Result<Outgoing, ChannelError> {
    let get = |k: &str| req.get(k).cloned().unwrap_or_default();
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
    sb.inner.unionpay.sign(&mut p)?;
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded; charset=UTF-8"));
    Ok(Outgoing { headers, body: sign::encode_form(&p) })
}

impl Sandbox {
    /// The back notification UnionPay would send now for refund `out_refund_no` (the refund's
    /// `backUrl`, headers, body); `None` while it is processing. For tests that deliver a genuine notification themselves
    /// (e.g. racing a query).
    pub fn unionpay_refund_notification(&self, out_refund_no: &str) -> Option<(String, HeaderMap, String)> {
        let (req, refund_id) = {
            let ledger = self.ledger();
            let (_, r) = ledger.find_refund(Provider::Unionpay, out_refund_no)?;
            if r.processing {
                return None;
            }
            (r.unionpay_request.clone()?, r.refund_id.clone())
        };
        let url = req.get("backUrl").cloned().unwrap_or_default();
        notification(self, &req, &refund_id).ok().map(|o| (url, o.headers, o.body))
    }
}
