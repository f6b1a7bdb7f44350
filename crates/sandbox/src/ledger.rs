//! The simulator's trade ledger and its behaviour switches. The ledger lives in memory and,
//! when a journal is given ([`Journal`]), is written through to a file that the simulators of
//! several instances (and the next start) share, as a real provider's books are one.

use super::keys::random_digits;
use campuspay_channels::Provider;
use campuspay_domain::Fen;
use campuspay_domain::time::shanghai_parts;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};

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
    /// How the provider answers refunds: WeChat Pay starts at `processing` (as the real one
    /// answers `PROCESSING` first), Alipay and UnionPay at `instant` (see `Sandbox::open`).
    #[serde(default)]
    pub refund: RefundMode,
    /// How long a refund stays processing before it ends (time-scaled): its notification goes
    /// out then, and queries and repeated requests answer the end from then on.
    #[serde(default = "default_refund_delay_s")]
    pub refund_delay_s: u64,
}

fn default_refund_delay_s() -> u64 {
    120
}

/// How the simulator answers a refund request. WeChat Pay accepts a refund as `PROCESSING`
/// and ends it later (`SUCCESS`, `CLOSED`, `ABNORMAL`), telling the refund's `notify_url`
/// with a `REFUND.*` notification; or refuses it at once with an error code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundMode {
    /// Done at once: `SUCCESS` in the answer (and a `REFUND.SUCCESS` notification).
    #[serde(alias = "normal")]
    Instant,
    /// `PROCESSING`, then `SUCCESS` after `refund_delay_s`, as the platform mostly does.
    #[default]
    Processing,
    /// `PROCESSING`, then `CLOSED` (`REFUND.CLOSED`): the refund failed for good.
    Fail,
    /// `PROCESSING`, then `ABNORMAL` (`REFUND.ABNORMAL`): the payer's card or account can no
    /// longer receive it; the merchant must act.
    Abnormal,
    /// Refused at once with the published `NOT_ENOUGH` (HTTP 403: 基本账户余额不足).
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
            refund: RefundMode::default(),
            refund_delay_s: default_refund_delay_s(),
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
    #[serde(default)]
    pub refund_delay_s: Option<u64>,
}

impl Behaviour {
    pub fn apply(&mut self, p: &BehaviourPatch) {
        self.notify = p.notify.unwrap_or(self.notify);
        self.delay_s = p.delay_s.unwrap_or(self.delay_s);
        self.decline = p.decline.unwrap_or(self.decline);
        self.accept_after_close = p.accept_after_close.unwrap_or(self.accept_after_close);
        self.corrupt_statement = p.corrupt_statement.unwrap_or(self.corrupt_statement);
        self.refund = p.refund.unwrap_or(self.refund);
        self.refund_delay_s = p.refund_delay_s.unwrap_or(self.refund_delay_s);
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
    /// Not ended yet (WeChat `PROCESSING`).
    #[serde(default)]
    pub processing: bool,
    /// WeChat Pay's view of it: state, planned end, notify URL, notifications sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wechat: Option<WechatRefund>,
    /// UnionPay: the verified refund request (its `backUrl`, `txnTime`, …), which its back
    /// notification echoes. Kept in memory only (it holds a signature and a certificate).
    #[serde(skip)]
    pub unionpay_request: Option<std::collections::BTreeMap<String, String>>,
}

/// A WeChat refund's state word, as its API and notifications spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WechatRefundStatus {
    Processing,
    Success,
    Closed,
    Abnormal,
}

impl WechatRefundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WechatRefundStatus::Processing => "PROCESSING",
            WechatRefundStatus::Success => "SUCCESS",
            WechatRefundStatus::Closed => "CLOSED",
            WechatRefundStatus::Abnormal => "ABNORMAL",
        }
    }
}

/// What WeChat Pay keeps of a refund beyond the amount.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WechatRefund {
    pub status: WechatRefundStatus,
    /// How and when (unix milliseconds) a `PROCESSING` refund ends.
    pub ends_as: WechatRefundStatus,
    pub due_ms: i64,
    /// When it ended `SUCCESS`.
    #[serde(default)]
    pub success_time: Option<i64>,
    /// Where its `REFUND.*` notification goes (none without one).
    #[serde(default)]
    pub notify_url: Option<String>,
    #[serde(default)]
    pub notifications: Vec<NotifyAttempt>,
}

impl Refund {
    /// Whether the money is (or is on its way) back to the payer: a `CLOSED` refund gave
    /// nothing back and frees its amount for another refund.
    pub fn counts(&self) -> bool {
        self.wechat.as_ref().is_none_or(|w| w.status != WechatRefundStatus::Closed)
    }

    /// Ends a processing WeChat refund whose time has come (`now_ms`); true if it just ended.
    pub fn end_if_due(&mut self, now_ms: i64) -> bool {
        let Some(w) = self.wechat.as_mut() else { return false };
        if w.status != WechatRefundStatus::Processing || now_ms < w.due_ms {
            return false;
        }
        w.status = w.ends_as;
        if w.status == WechatRefundStatus::Success {
            w.success_time = Some(now_ms / 1000);
        }
        self.processing = false;
        true
    }
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
    /// CCB: the POS the order was posted for (its notifications name it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pos_id: Option<String>,
}

impl Trade {
    pub fn refunded(&self) -> Fen {
        Fen(self.refunds.iter().filter(|r| r.counts()).map(|r| r.amount.0).sum())
    }
}

/// An append-only file of trades as they change, one JSON line per change, shared by every
/// simulator that opens it: each takes the file's lock before touching its ledger, reads what
/// the others appended since, and appends what it changed before letting go. (A provider's
/// books are one, whichever of our instances asks.)
#[derive(Debug)]
pub struct Journal {
    file: File,
    read_to: u64,
}

impl Journal {
    pub fn open(path: &std::path::Path) -> std::io::Result<Journal> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new().read(true).append(true).create(true).open(path)?;
        Ok(Journal { file, read_to: 0 })
    }
}

/// Trades by provider and `out_trade_no`; `seq` makes every transaction and refund id unique.
#[derive(Debug, Default)]
pub struct Ledger {
    trades: HashMap<(Provider, String), Trade>,
    seq: u64,
    journal: Option<Journal>,
    /// Trades changed while the ledger is held, appended to the journal when it is let go.
    dirty: HashSet<(Provider, String)>,
}

impl Ledger {
    pub fn with_journal(journal: Journal) -> Ledger {
        Ledger { journal: Some(journal), ..Ledger::default() }
    }

    /// Takes the journal's lock and reads what other simulators appended since last time.
    /// A line cut short (a writer killed mid-line) is skipped.
    pub(crate) fn catch_up(&mut self) {
        let Some(j) = self.journal.as_mut() else { return };
        if let Err(e) = j.file.lock() {
            tracing::error!(error = %e, "locking the simulator's journal");
        }
        let mut text = String::new();
        let read = j.file.seek(SeekFrom::Start(j.read_to)).and_then(|_| j.file.read_to_string(&mut text));
        if let Err(e) = read {
            tracing::error!(error = %e, "reading the simulator's journal");
            return;
        }
        j.read_to += text.len() as u64;
        for line in text.lines() {
            if let Ok(t) = serde_json::from_str::<Trade>(line) {
                self.trades.insert((t.provider, t.out_trade_no.clone()), t);
            }
        }
    }

    /// Appends the trades changed since [`Ledger::catch_up`] and lets go of the lock.
    pub(crate) fn write_back(&mut self) {
        let Some(j) = self.journal.as_mut() else { return };
        let mut out = String::new();
        for key in self.dirty.drain() {
            if let Some(t) = self.trades.get(&key)
                && let Ok(line) = serde_json::to_string(t)
            {
                out.push_str(&line);
                out.push('\n');
            }
        }
        if !out.is_empty() {
            match j.file.write_all(out.as_bytes()) {
                Ok(()) => j.read_to += out.len() as u64,
                Err(e) => tracing::error!(error = %e, "writing the simulator's journal"),
            }
        }
        if let Err(e) = j.file.unlock() {
            tracing::error!(error = %e, "unlocking the simulator's journal");
        }
    }

    pub fn get(&self, p: Provider, no: &str) -> Option<&Trade> {
        self.trades.get(&(p, no.to_string()))
    }

    pub fn get_mut(&mut self, p: Provider, no: &str) -> Option<&mut Trade> {
        let key = (p, no.to_string());
        if self.journal.is_some() && self.trades.contains_key(&key) {
            self.dirty.insert(key.clone());
        }
        self.trades.get_mut(&key)
    }

    pub fn insert(&mut self, t: Trade) {
        let key = (t.provider, t.out_trade_no.clone());
        if self.journal.is_some() {
            self.dirty.insert(key.clone());
        }
        self.trades.insert(key, t);
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
            // CCB has no payment id of its own (the ORDERID is the key); this numbers
            // simulator records only.
            Provider::Unionpay | Provider::Ccb => {
                let two = prefix.get(..2).unwrap_or("00");
                format!("{date}{two}{:06}{}", self.seq, random_digits(5))
            }
            // 收银宝 `trxid`: 18 digits (the doc's example: 112094120001088317).
            Provider::Allinpay => format!("1{}{:06}{}", &date[2..], self.seq % 1_000_000, random_digits(5)),
        }
    }
}

#[cfg(test)]
mod journal_tests {
    use super::*;

    fn trade(no: &str) -> Trade {
        Trade {
            provider: Provider::Wechatpay,
            out_trade_no: no.into(),
            description: "学费".into(),
            amount: Fen(100),
            trade_type: "NATIVE".into(),
            notify_url: String::new(),
            return_url: None,
            payer_openid: None,
            state: TradeState::NotPaid,
            transaction_id: None,
            created_at: 0,
            paid_at: None,
            refunds: Vec::new(),
            notifications: Vec::new(),
            txn_time: None,
            expires_at: None,
            pos_id: None,
        }
    }

    #[test]
    fn two_ledgers_on_one_journal_see_each_others_trades_and_a_reopened_one_replays_them() {
        let path = std::env::temp_dir().join(format!("campuspay-journal-{}-{}.jsonl", std::process::id(), random_digits(8)));
        let mut a = Ledger::with_journal(Journal::open(&path).unwrap());
        let mut b = Ledger::with_journal(Journal::open(&path).unwrap());
        a.catch_up();
        a.insert(trade("T1"));
        a.write_back();
        b.catch_up();
        assert_eq!(b.get(Provider::Wechatpay, "T1").map(|t| t.state), Some(TradeState::NotPaid));
        b.get_mut(Provider::Wechatpay, "T1").unwrap().state = TradeState::Paid;
        b.write_back();
        a.catch_up();
        assert_eq!(a.get(Provider::Wechatpay, "T1").map(|t| t.state), Some(TradeState::Paid), "a sees b's change");
        a.write_back();
        let mut c = Ledger::with_journal(Journal::open(&path).unwrap());
        c.catch_up();
        c.write_back();
        assert_eq!(c.get(Provider::Wechatpay, "T1").map(|t| t.state), Some(TradeState::Paid), "replayed on a new start");
        let _ = std::fs::remove_file(&path);
    }
}
