//! Alipay's asynchronous notification of a refund: when a refund is done, Alipay sends the
//! trade's `notify_url` a `trade_status_sync` like the payment's, with the refund's
//! `out_biz_no` (its `out_request_no`), `refund_fee` (all refunded so far) and `gmt_refund`;
//! `trade_status` stays `TRADE_SUCCESS`, or is `TRADE_CLOSED` (with `gmt_close`) once the whole
//! amount is back. Signed RSA2 and retried like the payment's until `success`.

use super::Sandbox;
use super::alipay_api::{notify_params, refunded_done};
use super::ledger::{Behaviour, NotifyMode, RefundMode, Trade};
use super::notify::{Outgoing, deliver};
use campuspay_channels::alipay::sign;
use campuspay_channels::crypto::{random_nonce, unix_now};
use campuspay_channels::{ChannelError, HeaderMap, Provider};
use campuspay_domain::time::format_shanghai;
use reqwest::header::{CONTENT_TYPE, HeaderValue};

const P: Provider = Provider::Alipay;

/// Ends the refund `request_no` of trade `no` (at once, or after `refund_delay_s` when it is
/// processing) and notifies it.
pub(super) fn spawn(sb: Sandbox, no: String, request_no: String, b: Behaviour) {
    tokio::spawn(async move {
        if b.refund == RefundMode::Processing {
            tokio::time::sleep(sb.scaled(b.refund_delay_s as f64)).await;
            let ended = {
                let mut ledger = sb.ledger();
                let refund = ledger.get_mut(P, &no).and_then(|t| t.refunds.iter_mut().find(|r| r.out_refund_no == request_no));
                refund.map(|r| std::mem::replace(&mut r.processing, false))
            };
            if ended != Some(true) {
                return;
            }
        }
        // The `notify: lost` switch loses every notification, refunds' too.
        if b.notify == NotifyMode::Lost {
            return;
        }
        let done_at = unix_now();
        let notify_id = random_nonce(32);
        for wait in std::iter::once(0).chain(super::ALIPAY_RETRY_S.iter().copied()) {
            tokio::time::sleep(sb.scaled(wait as f64)).await;
            let Some(t) = sb.trade(P, &no).filter(|t| !t.notify_url.is_empty()) else { return };
            let out = match notification(&sb, &t, &request_no, done_at, &notify_id) {
                Ok(out) => out,
                Err(e) => {
                    tracing::error!(error = %e, "sandbox: signing an Alipay refund notification failed");
                    return;
                }
            };
            if deliver(&sb, P, &t.notify_url, &out).await.1 {
                return;
            }
        }
    });
}

/// The signed notification of refund `request_no` of trade `t`, done at `done_at`.
fn notification(sb: &Sandbox, t: &Trade, request_no: &str, done_at: i64, notify_id: &str) -> Result<Outgoing, ChannelError> {
    let mut params = notify_params(sb, t, false, notify_id);
    let refunded = refunded_done(t);
    params.insert("out_biz_no".into(), request_no.to_string());
    params.insert("refund_fee".into(), refunded.to_yuan_string());
    params.insert("gmt_refund".into(), format_shanghai(done_at));
    if refunded >= t.amount {
        params.insert("gmt_close".into(), format_shanghai(done_at));
    }
    sign::sign_notify(&sb.inner.alipay.alipay_signer, &mut params)?;
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"));
    Ok(Outgoing { headers, body: sign::encode_form(&params) })
}

impl Sandbox {
    /// The notification Alipay would send now for refund `out_request_no` (the trade's notify
    /// URL, headers, body); `None` while it is processing. For tests that deliver a genuine notification themselves
    /// (e.g. racing a query).
    pub fn alipay_refund_notification(&self, out_request_no: &str) -> Option<(String, HeaderMap, String)> {
        let t = {
            let ledger = self.ledger();
            let (t, r) = ledger.find_refund(P, out_request_no)?;
            if r.processing {
                return None;
            }
            t.clone()
        };
        let out = notification(self, &t, out_request_no, unix_now(), &random_nonce(32)).ok()?;
        Some((t.notify_url, out.headers, out.body))
    }
}
