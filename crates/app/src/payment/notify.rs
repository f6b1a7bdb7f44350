//! A provider's payment notification: kept as it arrived, verified by the school's adapter,
//! matched to its attempt and settled exactly once. Only a verified notification moves money;
//! the answer follows the provider's protocol (`Ack`), so it retries when we could not settle.

use crate::Context;
use crate::payment::channels::{Channel, parse_provider};
use crate::payment::settle::{self, Settled};
use campuspay_channels::{Ack, HeaderMap, PaymentNotice};
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

/// Records what became of a notification. A failure here loses no money (the notification
/// and its settlement are already stored or refused), so it is logged rather than answered.
async fn record_outcome(ctx: &Context, record: i64, outcome: &str) {
    let result = async {
        let mut tx = ctx.store.write_tx().await?;
        ctx.store.set_notification_outcome(&mut tx, record, outcome).await?;
        tx.commit().await
    };
    if let Err(e) = result.await {
        tracing::error!(error = %e, record, outcome, "recording a notification's outcome");
    }
}

pub async fn receive(ctx: &Context, n: &Incoming<'_>) -> Answer {
    let Some(provider) = parse_provider(n.provider) else {
        return Answer::UnknownProvider;
    };
    let kept = async {
        let mut tx = ctx.store.write_tx().await?;
        let id = ctx
            .store
            .record_notification(&mut tx, n.provider, n.school.unwrap_or(""), &headers_text(n.headers), &String::from_utf8_lossy(n.body))
            .await?;
        tx.commit().await.map(|()| id)
    };
    let record = match kept.await {
        Ok(id) => id,
        Err(e) => {
            tracing::error!(error = %e, "keeping a notification");
            return Answer::Busy;
        }
    };
    let candidates: Vec<(i64, Channel)> = match n.school {
        Some(code) => match ctx.store.school_by_code(code).await {
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
        record_outcome(ctx, record, "no channel configured").await;
        return Answer::NoMerchant;
    };
    let t = now();
    let mut verified: Option<(i64, PaymentNotice, Channel)> = None;
    let mut last_error = String::new();
    for (school_id, channel) in &candidates {
        match channel.verify_notification(n.headers, n.body, t) {
            Ok(notice) => {
                verified = Some((*school_id, notice, channel.clone()));
                break;
            }
            Err(e) => last_error = e.to_string(),
        }
    }
    let Some((school_id, mut notice, mut channel)) = verified else {
        tracing::warn!(provider = n.provider, error = last_error, "notification refused");
        record_outcome(ctx, record, &format!("rejected: {last_error}")).await;
        return Answer::Ack(any_channel.ack(false));
    };
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
                    record_outcome(ctx, record, "trade of a school whose merchant did not sign it").await;
                    return Answer::Ack(channel.ack(true));
                }
            }
        }
        Ok(_) => {
            // Verified, but not a trade of this merchant's school: kept for reconciliation.
            record_outcome(ctx, record, "unknown trade").await;
            return Answer::Ack(channel.ack(true));
        }
        Err(e) => {
            tracing::error!(error = %e, "finding a notification's attempt; the provider will retry");
            return Answer::Ack(channel.ack(false));
        }
    };
    if !notice.paid {
        record_outcome(ctx, record, &format!("not paid: {}", notice.provider_status)).await;
        return Answer::Ack(channel.ack(true));
    }
    let paid_at = notice.paid_at.clone().unwrap_or_default();
    match settle::settle_paid(ctx, &attempt, &notice.transaction_id, notice.amount, &paid_at, PaidSource::Notify).await {
        Ok(result) => {
            let outcome = match result {
                Settled::Applied => campuspay_domain::order::Disposition::Applied.as_str(),
                Settled::Refunding => "late: refunding",
                Settled::Credited => "late: credited",
                Settled::Duplicate => "duplicate",
                Settled::Nothing => "nothing",
            };
            record_outcome(ctx, record, outcome).await;
            Answer::Ack(channel.ack(true))
        }
        Err(e) => {
            tracing::error!(error = e.zh, "settling a notification; the provider will retry");
            Answer::Ack(channel.ack(false))
        }
    }
}
