//! Payment notifications to the merchant's notify URL, in each provider's format, retried on
//! its published schedule (time-scaled) until acknowledged, bent by the behaviour switches.

use super::Sandbox;
use super::ledger::{Behaviour, NoticeKind, NotifyAttempt, NotifyMode, Trade};
use super::{alipay_api, allinpay_api, ccb_api, unionpay_api, wechat_api};
use campuspay_channels::crypto::{aes_256_gcm_seal, random_nonce, unix_now};
use campuspay_channels::wechatpay::api::rfc3339_shanghai;
use campuspay_channels::wechatpay::sign::HEADER_SIGNATURE;
use campuspay_channels::{ChannelError, HeaderMap, Provider};
use reqwest::header::{CONTENT_TYPE, HeaderValue};

/// WeChat Pay's published retry intervals after the first attempt (15s/15s/30s/3m/10m/20m/30m/
/// 30m/30m/60m/3h/3h/3h/6h/6h, about 24 h in all).
pub const WECHAT_RETRY_S: &[u64] = &[15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600];

/// Alipay's (4m/10m/10m/1h/2h/6h/15h, about 25 h in all).
pub const ALIPAY_RETRY_S: &[u64] = &[240, 600, 600, 3600, 7200, 21600, 54000];

/// UnionPay's back notifications: retried with doubling intervals, 1/2/4/8/16 minutes.
pub const UNIONPAY_RETRY_S: &[u64] = &[60, 120, 240, 480, 960];

/// CCB's: its retry schedule is not public; the simulator retries as UnionPay does.
pub const CCB_RETRY_S: &[u64] = UNIONPAY_RETRY_S;

/// One notification ready to send.
pub(super) struct Outgoing {
    pub headers: HeaderMap,
    pub body: String,
}

/// Starts delivering the notifications of a trade just paid (nothing for `lost`).
pub(super) fn spawn(sb: Sandbox, p: Provider, out_trade_no: String, b: Behaviour) {
    if b.notify == NotifyMode::Lost {
        return;
    }
    tokio::spawn(async move { run(sb, p, out_trade_no, b).await });
}

async fn run(sb: Sandbox, p: Provider, out_trade_no: String, b: Behaviour) {
    let schedule = match p {
        Provider::Wechatpay => WECHAT_RETRY_S,
        Provider::Alipay => ALIPAY_RETRY_S,
        Provider::Unionpay => UNIONPAY_RETRY_S,
        Provider::Ccb => CCB_RETRY_S,
        Provider::Allinpay => allinpay_api::ALLINPAY_RETRY_S,
    };
    let first = if b.notify == NotifyMode::Delay { b.delay_s } else { 0 };
    // Retries of one notification keep its id; each is signed afresh (the timestamp moves on).
    let notification_id = random_nonce(32);
    let waits = std::iter::once(first).chain(schedule.iter().copied());
    for (attempt, wait) in waits.enumerate() {
        tokio::time::sleep(sb.scaled(wait as f64)).await;
        let Some(trade) = sb.trade(p, &out_trade_no) else {
            return;
        };
        if trade.notify_url.is_empty() {
            return;
        }
        // (kind, how many times the same signed message goes out)
        let plan: &[(NoticeKind, usize)] = match b.notify {
            NotifyMode::Forge => &[(NoticeKind::Forged, 1)],
            NotifyMode::Duplicate => &[(NoticeKind::Good, 2)],
            NotifyMode::Reorder if attempt == 0 => &[(NoticeKind::Good, 1), (NoticeKind::Stale, 1)],
            _ => &[(NoticeKind::Good, 1)],
        };
        let mut acknowledged = false;
        for &(kind, times) in plan {
            let out = match build(&sb, &trade, kind, &notification_id) {
                Ok(out) => out,
                Err(e) => {
                    tracing::error!(error = %e, "sandbox: building a notification failed");
                    return;
                }
            };
            for _ in 0..times {
                let (status, ok) = deliver(&sb, p, &trade.notify_url, &out).await;
                record(&sb, p, &out_trade_no, kind, status, ok);
                acknowledged |= ok && kind == NoticeKind::Good;
            }
        }
        if acknowledged {
            return;
        }
    }
}

fn record(sb: &Sandbox, p: Provider, no: &str, kind: NoticeKind, status: Option<u16>, ok: bool) {
    if let Some(t) = sb.ledger().get_mut(p, no) {
        t.notifications.push(NotifyAttempt { kind, status, acknowledged: ok, at: unix_now() });
    }
}

fn build(sb: &Sandbox, t: &Trade, kind: NoticeKind, notification_id: &str) -> Result<Outgoing, ChannelError> {
    match t.provider {
        Provider::Wechatpay => wechat_notice(sb, t, kind, notification_id),
        Provider::Alipay => alipay_notice(sb, t, kind, notification_id),
        Provider::Unionpay => {
            let body = unionpay_api::notice_body(sb, t, kind)?;
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded; charset=UTF-8"));
            Ok(Outgoing { headers, body })
        }
        Provider::Ccb => {
            let body = ccb_api::notice_body(sb, t, kind)?;
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
            Ok(Outgoing { headers, body })
        }
        Provider::Allinpay => {
            let body = allinpay_api::notice_body(sb, t, kind)?;
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded; charset=UTF-8"));
            Ok(Outgoing { headers, body })
        }
    }
}

/// `TRANSACTION.SUCCESS` with the transaction encrypted under the APIv3 key. The stale one is
/// the same trade before payment (`NOTPAY`; WeChat itself notifies only successes, so it stands
/// in for any older state arriving late).
fn wechat_notice(sb: &Sandbox, t: &Trade, kind: NoticeKind, notification_id: &str) -> Result<Outgoing, ChannelError> {
    let side = &sb.inner.wechat;
    let stale = kind == NoticeKind::Stale;
    let state = if stale { "NOTPAY" } else { "SUCCESS" };
    let transaction = wechat_api::transaction_json(sb, t, Some(state)).to_string();
    let nonce = random_nonce(12);
    let ciphertext = aes_256_gcm_seal(side.apiv3_key.as_bytes(), &nonce, "transaction", transaction.as_bytes())?;
    let now = unix_now();
    let created = if stale { t.created_at } else { t.paid_at.unwrap_or(now) };
    let body = serde_json::json!({
        "id": notification_id,
        "create_time": rfc3339_shanghai(created),
        "resource_type": "encrypt-resource",
        "event_type": format!("TRANSACTION.{state}"),
        "summary": if stale { "订单未支付" } else { "支付成功" },
        "resource": {
            "original_type": "transaction",
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": ciphertext,
            "associated_data": "transaction",
            "nonce": nonce,
        },
    })
    .to_string();
    let mut headers = side.sign_headers(&body, now)?;
    if kind == NoticeKind::Forged {
        let bad = side.platform_signer.sign_b64(b"forged by the sandbox")?;
        headers.insert(HEADER_SIGNATURE, HeaderValue::from_str(&bad).map_err(|_| ChannelError::Crypto("头部值无效"))?);
    }
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(Outgoing { headers, body })
}

/// A form-encoded `trade_status_sync`, signed RSA2. The stale one is `WAIT_BUYER_PAY` as of
/// the trade's creation.
fn alipay_notice(sb: &Sandbox, t: &Trade, kind: NoticeKind, notification_id: &str) -> Result<Outgoing, ChannelError> {
    let mut params = alipay_api::notify_params(sb, t, kind == NoticeKind::Stale, notification_id);
    campuspay_channels::alipay::sign::sign_notify(&sb.inner.alipay.alipay_signer, &mut params)?;
    if kind == NoticeKind::Forged {
        let bad = sb.inner.alipay.alipay_signer.sign_b64(b"forged by the sandbox")?;
        params.insert("sign".into(), bad);
    }
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"));
    Ok(Outgoing { headers, body: campuspay_channels::alipay::sign::encode_form(&params) })
}

/// Sends one notification; returns the HTTP status and whether it counts as acknowledged
/// (WeChat: 200 or 204; Alipay and 通联: the body `success`; UnionPay: 200).
pub(super) async fn deliver(sb: &Sandbox, p: Provider, url: &str, out: &Outgoing) -> (Option<u16>, bool) {
    // Waits for a free sender; the semaphore is never closed.
    let Ok(_sender) = sb.inner.senders.acquire().await else {
        return (None, false);
    };
    let resp = sb.inner.client.post(url).headers(out.headers.clone()).body(out.body.clone()).send().await;
    let resp = match resp {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(%url, error = %e, "sandbox: notify URL unreachable");
            return (None, false);
        }
    };
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    let ok = match p {
        Provider::Wechatpay => status == 200 || status == 204,
        Provider::Alipay => status == 200 && body.trim() == "success",
        // UnionPay counts HTTP 200 as received, whatever the body.
        Provider::Unionpay => status == 200,
        // CCB: HTTP 200, as the public integration answers (no reply body is documented).
        Provider::Ccb => status == 200,
        // 通联: only the answer `success` (doc 1041); anything else is sent again.
        Provider::Allinpay => status == 200 && body.trim() == "success",
    };
    (Some(status), ok)
}
