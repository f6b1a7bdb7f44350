//! The simulator's in-memory trade ledger and its behaviour switches.

use super::keys::random_digits;
use campuspay_channels::Provider;
use campuspay_domain::Fen;
use campuspay_domain::time::shanghai_parts;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// How the provider notifies after a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyMode {
    /// At once, then retried on the provider's schedule until acknowledged.
    Normal,
    /// Like `normal`, but the first notification waits `delay_s` (time-scaled).
    Delay,
    /// Never notifies; a query still answers paid.
    Lost,
    /// Each notification is sent twice.
    Duplicate,
    /// After the notification, a stale one (the trade before it was paid) is sent.
    Reorder,
    /// Only notifications with a bad signature, retried, never a good one.
    Forge,
}

/// The switches of one provider, as `GET/PUT /sandbox/{provider}/behaviour` show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Behaviour {
    pub notify: NotifyMode,
    pub delay_s: u64,
    /// The pay endpoint declines and the trade stays unpaid.
    pub decline: bool,
    /// The pay endpoint accepts payment for a closed trade (late money).
    pub accept_after_close: bool,
    /// Statement downloads serve a damaged file: WeChat's no longer matches the announced
    /// SHA1, Alipay's and UnionPay's zip is cut short.
    #[serde(default)]
    pub corrupt_statement: bool,
    /// How WeChat Pay answers refunds (the other providers always succeed at once).
    #[serde(default)]
    pub refund: RefundMode,
}

/// How the simulator answers a refund request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundMode {
    /// Accepted and done at once (`SUCCESS`).
    #[default]
    Normal,
    /// Accepted as `PROCESSING`; the same refund asked again is `SUCCESS`.
    Processing,
    /// Refused for good (`PARAM_ERROR`), as for a refund the provider will never accept.
    Refuse,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            notify: NotifyMode::Normal,
            delay_s: 0,
            decline: false,
            accept_after_close: false,
            corrupt_statement: false,
            refund: RefundMode::Normal,
        }
    }
}

/// A partial update; missing fields keep their current value.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BehaviourPatch {
    pub notify: Option<NotifyMode>,
    pub delay_s: Option<u64>,
    pub decline: Option<bool>,
    pub accept_after_close: Option<bool>,
    #[serde(default)]
    pub corrupt_statement: Option<bool>,
    #[serde(default)]
    pub refund: Option<RefundMode>,
}

impl Behaviour {
    pub fn apply(&mut self, p: &BehaviourPatch) {
        self.notify = p.notify.unwrap_or(self.notify);
        self.delay_s = p.delay_s.unwrap_or(self.delay_s);
        self.decline = p.decline.unwrap_or(self.decline);
        self.accept_after_close = p.accept_after_close.unwrap_or(self.accept_after_close);
        self.corrupt_statement = p.corrupt_statement.unwrap_or(self.corrupt_statement);
        self.refund = p.refund.unwrap_or(self.refund);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TradeState {
    NotPaid,
    Paid,
    Closed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Refund {
    pub out_refund_no: String,
    pub refund_id: String,
    pub amount: Fen,
    pub at: i64,
    /// Answered `PROCESSING` and not asked about since ([`RefundMode::Processing`]).
    #[serde(default)]
    pub processing: bool,
}

/// Which notification an attempt carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    Good,
    Stale,
    Forged,
}

/// One delivery attempt to the merchant's notify URL.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NotifyAttempt {
    pub kind: NoticeKind,
    /// The HTTP status, or `None` if the merchant could not be reached.
    pub status: Option<u16>,
    pub acknowledged: bool,
    pub at: i64,
}

/// One provider order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Trade {
    pub provider: Provider,
    pub out_trade_no: String,
    pub description: String,
    pub amount: Fen,
    /// WeChat `NATIVE` / `MWEB` / `JSAPI`; Alipay `precreate` / `page` / `wap`.
    pub trade_type: String,
    pub notify_url: String,
    pub return_url: Option<String>,
    pub payer_openid: Option<String>,
    pub state: TradeState,
    pub transaction_id: Option<String>,
    pub created_at: i64,
    pub paid_at: Option<i64>,
    pub refunds: Vec<Refund>,
    pub notifications: Vec<NotifyAttempt>,
    /// UnionPay: the `txnTime` the order was sent with (queries must repeat it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txn_time: Option<String>,
    /// Unix seconds after which the trade can no longer be paid (UnionPay `payTimeout`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

impl Trade {
    pub fn refunded(&self) -> Fen {
        Fen(self.refunds.iter().map(|r| r.amount.0).sum())
    }
}

/// Trades by provider and `out_trade_no`; `seq` makes every transaction and refund id unique.
#[derive(Debug, Default)]
pub struct Ledger {
    trades: HashMap<(Provider, String), Trade>,
    seq: u64,
}

impl Ledger {
    pub fn get(&self, p: Provider, no: &str) -> Option<&Trade> {
        self.trades.get(&(p, no.to_string()))
    }

    pub fn get_mut(&mut self, p: Provider, no: &str) -> Option<&mut Trade> {
        self.trades.get_mut(&(p, no.to_string()))
    }

    pub fn insert(&mut self, t: Trade) {
        self.trades.insert((t.provider, t.out_trade_no.clone()), t);
    }

    /// Every trade of provider `p`.
    pub fn trades(&self, p: Provider) -> impl Iterator<Item = &Trade> + '_ {
        self.trades.values().filter(move |t| t.provider == p)
    }

    /// The trade paid with transaction id `id`.
    pub fn find_by_transaction_id(&self, p: Provider, id: &str) -> Option<&Trade> {
        self.trades.values().find(|t| t.provider == p && !id.is_empty() && t.transaction_id.as_deref() == Some(id))
    }

    /// The trade holding the refund numbered `out_refund_no`, with that refund.
    pub fn find_refund(&self, p: Provider, out_refund_no: &str) -> Option<(&Trade, &Refund)> {
        self.trades.values().filter(|t| t.provider == p).find_map(|t| {
            let r = t.refunds.iter().find(|r| r.out_refund_no == out_refund_no)?;
            Some((t, r))
        })
    }

    /// A fresh id in the provider's shape: WeChat `4200…` (28 digits), Alipay `yyyyMMdd22001…`,
    /// UnionPay `queryId` `yyyyMMdd<first 2 digits of prefix>…` (21 digits).
    pub fn next_id(&mut self, p: Provider, prefix: &str, now: i64) -> String {
        self.seq += 1;
        let (y, mo, d, ..) = shanghai_parts(now);
        let date = format!("{y:04}{mo:02}{d:02}");
        match p {
            Provider::Wechatpay => format!("{prefix}{date}{:06}{}", self.seq, random_digits(10)),
            Provider::Alipay => format!("{date}{prefix}{:06}{}", self.seq, random_digits(9)),
            Provider::Unionpay => {
                let two = prefix.get(..2).unwrap_or("00");
                format!("{date}{two}{:06}{}", self.seq, random_digits(5))
            }
        }
    }
}
