//! A provider's payment (or refund) notification: verified by the school's adapter, kept as it arrived,
//! matched to its attempt and settled exactly once. Only a verified notification moves money;
//! the answer follows the provider's protocol (`Ack`), so it retries when we could not settle.
//!
//! The notify URL is public: anybody can post garbage to it. What fails verification is not
//! stored, except a small sample ([`RejectSample`]: a few per ten minutes, cut to 4 KB) for
//! whoever investigates; the server limits how many failures one source may send.

use crate::Context;
use crate::payment::channels::{Channel, parse_provider};
use crate::payment::settle;
use campuspay_channels::{Ack, HeaderMap, PaymentNotice, RefundNotice};
use campuspay_domain::order::PaidSource;
use campuspay_store::db_now as now;

/// What to answer the provider.
pub enum Answer {
    /// No such provider in our URL space.
    UnknownProvider,
    /// No merchant of that provider (of that school) is configured.
    NoMerchant,
    /// Not even kept: the provider should try again later.
    Busy,
    /// The provider's own acknowledgement (accepted or not).
    Ack(Ack),
    /// No merchant's key verified it: refused in the provider's protocol, nothing kept but
    /// perhaps a sample. The server counts these per source.
    Rejected(Ack),
}

/// How many refused notifications are kept per window, and how much of each.
const SAMPLE_PER_WINDOW: u32 = 5;
const SAMPLE_WINDOW_S: i64 = 600;
const SAMPLE_BYTES: usize = 4096;

/// Keeps at most [`SAMPLE_PER_WINDOW`] refused notifications per ten minutes (per instance):
/// enough to see what a misconfigured provider or an attacker sends, never a way to fill the
/// disk (a flood once stored 200 MB in 15 s).
#[derive(Debug, Default)]
pub struct RejectSample {
    window: std::sync::Mutex<(i64, u32)>,
}

impl RejectSample {
    /// Whether a refused notification arriving at `t` is kept.
    pub fn take(&self, t: i64) -> bool {
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        if t - w.0 >= SAMPLE_WINDOW_S {
            *w = (t, 0);
        }
        w.1 += 1;
        w.1 <= SAMPLE_PER_WINDOW
    }
}

/// The incoming notification as the server received it.
pub struct Incoming<'a> {
    pub provider: &'a str,
    /// The school named in the notify URL, when it names one.
    pub school: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// The headers worth keeping with the raw body (signatures, content type, origin).
fn headers_text(h: &HeaderMap) -> String {
    let map: serde_json::Map<String, serde_json::Value> = h
        .iter()
        .filter(|(k, _)| {
            let k = k.as_str();
            k.starts_with("wechatpay-") || k == "content-type" || k == "user-agent" || k == "x-forwarded-for"
        })
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").into()))
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// Keeps a notification (the whole body, or a refused one's sample) with what became of it,
/// in one transaction. A failure here loses no money (the settlement, if any, is already
/// stored or refused), so callers log it rather than answer it.
async fn keep(ctx: &Context, n: &Incoming<'_>, body: &[u8], outcome: &str) -> Result<i64, campuspay_store::StoreError> {
    let mut tx = ctx.store.write_tx().await?;
    let id = ctx
        .store
        .record_notification(&mut tx, n.provider, n.school.unwrap_or(""), &headers_text(n.headers), &String::from_utf8_lossy(body), outcome)
        .await?;
    tx.commit().await.map(|()| id)
}

/// Keeps a verified notification with its outcome, then gives `answer` — or `Busy` when it
/// could not be kept, so that the provider sends it again: an acknowledged notification is
/// always a kept one.
async fn keep_then(ctx: &Context, n: &Incoming<'_>, outcome: &str, answer: Answer) -> Answer {
    match keep(ctx, n, n.body, outcome).await {
        Ok(_) => answer,
        Err(e) => {
            tracing::error!(error = %e, outcome, "keeping a notification");
            Answer::Busy
        }
    }
}

/// A verified notification: of a payment, or of how a refund ended.
enum Notice {
    Payment(PaymentNotice),
    Refund(RefundNotice),
}

fn verify(channel: &Channel, n: &Incoming<'_>, t: i64) -> Result<Notice, campuspay_channels::ChannelError> {
    match channel.verify_refund_notification(n.headers, n.body, t)? {
        Some(r) => Ok(Notice::Refund(r)),
        None => channel.verify_notification(n.headers, n.body, t).map(Notice::Payment),
    }
}

/// A verified refund notification, kept with its outcome: the refund it names becomes final, once,
/// whichever of it and the refund job's query comes first. Answered accepted (the provider
/// stops retrying) unless our books could not be read or written, so that it tries again.
async fn refund_notified(
    ctx: &Context,
    n: &Incoming<'_>,
    school_id: i64,
    provider: campuspay_channels::Provider,
    notice: &RefundNotice,
    channel: &Channel,
) -> Answer {
    let refund = match ctx.store.refund_by_out_refund_no(&notice.out_refund_no).await {
        Ok(Some(r)) if r.provider == provider => r,
        Ok(_) => {
            return keep_then(ctx, n, "unknown refund", Answer::Ack(channel.ack(true))).await;
        }
        Err(e) => {
            tracing::error!(error = %e, "finding a notification's refund; the provider will retry");
            return keep_then(ctx, n, "", Answer::Ack(channel.ack(false))).await;
        }
    };
    // Schools may share a merchant: the refund's own school must have a merchant that
    // verifies it (the school in the URL, when there is one, must be the refund's).
    let own = refund.school_id == school_id
        || (n.school.is_none()
            && ctx.channels.for_provider(provider, Some(refund.school_id)).iter().any(|(_, c)| verify(c, n, now()).is_ok()));
    if !own {
        return keep_then(ctx, n, "refund of a school whose merchant did not sign it", Answer::Ack(channel.ack(true))).await;
    }
    match crate::payment::refund::on_notice(ctx, &refund, notice).await {
        Ok(outcome) => keep_then(ctx, n, &outcome, Answer::Ack(channel.ack(true))).await,
        Err(e) => {
            tracing::error!(error = e.zh, "recording a refund notification; the provider will retry");
            keep_then(ctx, n, "", Answer::Ack(channel.ack(false))).await
        }
    }
}

#[tracing::instrument(name = "notify", skip_all, fields(provider = n.provider, school = n.school))]
pub async fn receive(ctx: &Context, n: &Incoming<'_>) -> Answer {
    let Some(provider) = parse_provider(n.provider) else {
        return Answer::UnknownProvider;
    };
    let candidates: Vec<(i64, Channel)> = match n.school {
        Some(code) => match ctx.schools.by_code(&ctx.store, code).await {
            Ok(Some(s)) => ctx.channels.for_provider(provider, Some(s.id)),
            Ok(None) => Vec::new(),
            Err(e) => {
                tracing::error!(error = %e, "reading the notification's school");
                return Answer::Busy;
            }
        },
        None => ctx.channels.for_provider(provider, None),
    };
    let Some((_, any_channel)) = candidates.first().cloned() else {
        return Answer::NoMerchant;
    };
    let t = now();
    let mut verified: Option<(i64, Notice, Channel)> = None;
    let mut last_error = String::new();
    for (school_id, channel) in &candidates {
        match verify(channel, n, t) {
            Ok(notice) => {
                verified = Some((*school_id, notice, channel.clone()));
                break;
            }
            Err(e) => last_error = e.to_string(),
        }
    }
    let Some((school_id, notice, channel)) = verified else {
        tracing::warn!(provider = n.provider, error = last_error, "notification refused");
        if ctx.reject_sample.take(ctx.clock.now()) {
            let body = &n.body[..n.body.len().min(SAMPLE_BYTES)];
            if let Err(e) = keep(ctx, n, body, &format!("rejected: {last_error}")).await {
                tracing::error!(error = %e, "keeping a sample of a refused notification");
            }
        }
        return Answer::Rejected(any_channel.ack(false));
    };
    // Verified: kept whole with what became of it — in the settlement's own transaction when
    // it settles, on its own otherwise. One whose books could not be read is kept without an
    // outcome (the provider retries it).
    let mut notice = match notice {
        Notice::Payment(p) => p,
        Notice::Refund(r) => return refund_notified(ctx, n, school_id, provider, &r, &channel).await,
    };
    let mut channel = channel;
    let attempt = match ctx.store.attempt_by_out_trade_no(&notice.out_trade_no).await {
        Ok(Some(a)) if a.school_id == school_id => a,
        // Schools may share a merchant: without a school in the URL, the first that verified
        // need not be the trade's. Its own school's adapter must verify it too.
        Ok(Some(a)) if n.school.is_none() => {
            let own = ctx
                .channels
                .for_provider(provider, Some(a.school_id))
                .into_iter()
                .find_map(|(_, c)| c.verify_notification(n.headers, n.body, t).ok().map(|v| (v, c)));
            match own {
                Some((v, c)) => {
                    notice = v;
                    channel = c;
                    a
                }
                None => {
                    return keep_then(ctx, n, "trade of a school whose merchant did not sign it", Answer::Ack(channel.ack(true))).await;
                }
            }
        }
        Ok(_) => {
            // Verified, but not a trade of this merchant's school: kept for reconciliation.
            return keep_then(ctx, n, "unknown trade", Answer::Ack(channel.ack(true))).await;
        }
        Err(e) => {
            tracing::error!(error = %e, "finding a notification's attempt; the provider will retry");
            return keep_then(ctx, n, "", Answer::Ack(channel.ack(false))).await;
        }
    };
    if !notice.paid {
        return keep_then(ctx, n, &format!("not paid: {}", notice.provider_status), Answer::Ack(channel.ack(true))).await;
    }
    let paid_at = notice.paid_at.clone().unwrap_or_default();
    let headers = headers_text(n.headers);
    let body = String::from_utf8_lossy(n.body);
    let record = settle::NoticeRecord { provider: n.provider, school_code: n.school.unwrap_or(""), headers: &headers, body: &body };
    match settle::settle_paid_noting(ctx, &attempt, &notice.transaction_id, notice.amount, &paid_at, PaidSource::Notify, Some(&record))
        .await
    {
        Ok((_, true)) => Answer::Ack(channel.ack(true)),
        Ok((result, false)) => keep_then(ctx, n, result.outcome(), Answer::Ack(channel.ack(true))).await,
        Err(e) => {
            tracing::error!(error = e.zh, "settling a notification; the provider will retry");
            keep_then(ctx, n, "", Answer::Ack(channel.ack(false))).await
        }
    }
}
