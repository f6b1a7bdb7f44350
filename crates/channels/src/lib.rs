//! campuspay's payment channels.
//!
//! One [`PaymentChannel`] trait, one folder per provider:
//! - [`wechatpay`]: WeChat Pay API v3 (Native QR, H5, JSAPI), `WECHATPAY2-SHA256-RSA2048`.
//! - [`alipay`]: Alipay OpenAPI (precreate QR, page pay, wap pay), RSA2.
//! - [`unionpay`]: UnionPay ACP 5.1.0, two products: the online gateway (an auto-submitting
//!   form, [`PayAction::Form`]) and UnionPay QR (主扫, [`PayAction::Qr`]); RSA-SHA256.
//! - [`ccb`]: CCB 龙支付 / 建行网上支付 as the public integrations show it: the 520100 order form
//!   (MD5 MAC), notifications signed MD5withRSA, the 410408 query, refunds through the merchant's
//!   外联平台 (TCP, GBK XML).
//! - [`allinpay`]: 通联支付 收银宝, the aggregated cashier (聚合支付): one code that WeChat,
//!   Alipay and UnionPay wallets alike can scan ([`PayAction::Qr`]); SHA1withRSA.
//! - [`statement`]: the typed day statement (对账单) every provider's file is parsed into.
//!
//! **Dispatch.** The trait is object-safe: the async operations return [`BoxFuture`] (a pinned,
//! boxed, `Send` future), so the server holds `Arc<dyn PaymentChannel>` per school and channel.
//! One allocation per provider call is nothing next to a network round trip, and it keeps the
//! crate free of `async-trait`.
//!
//! **Sans-IO core.** Each provider builds a [`PreparedRequest`] and parses the raw response in
//! pure functions; the only I/O is [`http::send`]. The provider side of each protocol lives in
//! the `campuspay-sandbox` crate, whose tests drive these pure halves against it without a
//! network (and its simulator over HTTP).
//!
//! Channels are stateless: the caller persists orders, refunds and notices.

pub mod alipay;
pub mod allinpay;
pub mod ccb;
pub mod crypto;
pub mod http;
pub mod statement;
pub mod unionpay;
pub mod wechatpay;

use campuspay_domain::Fen;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;

pub use http::{PreparedRequest, RawResponse};
pub use reqwest::header::HeaderMap;
pub use statement::{DeclaredTotals, Statement, StatementFile, StatementKind, StatementLine, StatementLines, StatementTotals};

/// The future every async channel operation returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ChannelError>> + Send + 'a>>;

/// Notification timestamps further than this from our clock are refused (WeChat: 5 minutes).
pub const MAX_CLOCK_SKEW_S: i64 = 5 * 60;

/// Everything that can go wrong talking to a provider. Messages are for logs and the finance
/// office; never show provider details to students.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("渠道配置有误: {0}")]
    Config(String),
    #[error("签名验证失败")]
    BadSignature,
    #[error("时间戳超出允许范围")]
    StaleTimestamp,
    #[error("未知的平台证书或公钥序列号: {0}")]
    UnknownSerial(String),
    #[error("商户号或应用号不符: {0}")]
    WrongMerchant(String),
    #[error("报文格式有误: {0}")]
    Malformed(String),
    #[error("加解密错误: {0}")]
    Crypto(&'static str),
    #[error("渠道返回错误 {code}: {message}")]
    Provider { status: u16, code: String, message: String },
    #[error("该渠道不支持: {0}")]
    Unsupported(&'static str),
    #[error("网络错误: {0}")]
    Transport(String),
}

impl ChannelError {
    /// Worth trying again later (network trouble, provider 5xx), as opposed to a definite answer.
    pub fn is_retryable(&self) -> bool {
        match self {
            ChannelError::Transport(_) => true,
            ChannelError::Provider { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

/// Which provider protocol a channel speaks; it lives in the domain so the store can keep it.
pub use campuspay_domain::payment::Provider;

/// How the student will pay, chosen by the page from the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "flow")]
pub enum PayFlow {
    /// A QR code shown on a PC page (WeChat Native, Alipay precreate).
    Qr,
    /// A provider cashier page on a PC (Alipay page pay).
    Page,
    /// A phone browser (WeChat H5 needs the client IP; Alipay wap pay).
    Mobile { client_ip: String },
    /// Inside the provider's own app browser (WeChat JSAPI needs the payer's openid).
    InApp { openid: String },
}

/// One provider order to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateOrder {
    pub out_trade_no: String,
    /// What the payer sees (WeChat `description`, Alipay `subject`).
    pub description: String,
    pub amount: Fen,
    /// Unix seconds; the provider closes the order after it.
    pub expires_at: Option<i64>,
    pub flow: PayFlow,
    /// Where the provider sends the browser back after page/wap pay.
    pub return_url: Option<String>,
}

/// What the client shows or does to pay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum PayAction {
    /// Render `content` as a QR code.
    Qr { content: String },
    /// Send the browser to `url` (signed query included).
    Redirect { url: String },
    /// Call `WeixinJSBridge.invoke('getBrandWCPayRequest', params)`.
    JsApi { params: JsApiParams },
    /// Make the browser POST `fields` (form-urlencoded) to `action`: render a page with a hidden
    /// form that submits itself, e.g. [`PayAction::auto_submit_html`]. UnionPay's gateway takes
    /// the signed order only this way (`frontTransReq.do` is a POST).
    Form { action: String, fields: std::collections::BTreeMap<String, String> },
}

impl PayAction {
    /// For [`PayAction::Form`]: a complete HTML page that posts the form on load (with a button
    /// for browsers without JavaScript). `None` for the other actions.
    pub fn auto_submit_html(&self) -> Option<String> {
        let PayAction::Form { action, fields } = self else {
            return None;
        };
        let esc = unionpay::html_attr;
        let inputs: String =
            fields.iter().map(|(k, v)| format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", esc(k), esc(v))).collect();
        Some(format!(
            "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
             <title>正在跳转到支付页面…</title></head>\
             <body onload=\"document.forms[0].submit()\"><form method=\"post\" \
             action=\"{}\">{inputs}<noscript><button type=\"submit\">前往支付</button>\
             </noscript></form></body></html>",
            esc(action)
        ))
    }
}

/// The parameter set for WeChat's in-app payment, field names as published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsApiParams {
    #[serde(rename = "appId")]
    pub app_id: String,
    #[serde(rename = "timeStamp")]
    pub time_stamp: String,
    #[serde(rename = "nonceStr")]
    pub nonce_str: String,
    pub package: String,
    #[serde(rename = "signType")]
    pub sign_type: String,
    #[serde(rename = "paySign")]
    pub pay_sign: String,
}

/// The provider's view of one order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum ProviderStatus {
    /// The provider has never heard of it.
    NotFound,
    NotPaid,
    /// The payer is entering a password or the bank is deciding.
    Paying,
    /// `paid_at` is the provider's own text (WeChat RFC 3339, Alipay `yyyy-MM-dd HH:mm:ss`).
    Paid {
        transaction_id: String,
        amount: Fen,
        paid_at: Option<String>,
    },
    Closed,
    /// Paid, then (partly or wholly) refunded.
    Refunded {
        transaction_id: String,
        amount: Fen,
    },
    Failed {
        reason: String,
    },
}

/// One refund; `out_refund_no` is ours and makes a repeat of the same refund harmless.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRequest {
    pub out_trade_no: String,
    pub out_refund_no: String,
    pub refund: Fen,
    /// The original order's total (WeChat requires it).
    pub total: Fen,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    Success,
    /// Not final yet: ask again later.
    Processing,
    Closed,
    /// Needs a person (WeChat `ABNORMAL`: the card or account can no longer receive it).
    Abnormal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundResult {
    pub out_refund_no: String,
    /// The provider's refund id, where it gives one (Alipay does not).
    pub refund_id: Option<String>,
    pub status: RefundStatus,
    pub amount: Fen,
}

/// A notification whose signature, merchant and app ids have been verified. The caller still
/// checks `out_trade_no` and `amount` against its order before applying it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentNotice {
    pub out_trade_no: String,
    pub transaction_id: String,
    pub amount: Fen,
    /// WeChat `mchid`; Alipay `seller_id` (may be empty if the notify omits it).
    pub merchant_id: String,
    /// WeChat `appid`; Alipay `app_id`.
    pub app_id: String,
    /// True only for WeChat `SUCCESS` and Alipay `TRADE_SUCCESS` / `TRADE_FINISHED`.
    pub paid: bool,
    /// The provider's status word, kept for the audit trail.
    pub provider_status: String,
    pub paid_at: Option<String>,
}

/// A verified notification of how a refund ended (WeChat `REFUND.*`, Alipay's `trade_status_sync`
/// carrying `out_biz_no`/`refund_fee`, UnionPay's `txnType=04` back notification). The caller
/// matches `out_refund_no` to its refund and checks the trade and the amount before it believes
/// it; each provider names the trade and the amount its own way, so some are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundNotice {
    /// Our trade number, where the notification names it (WeChat, Alipay).
    pub out_trade_no: Option<String>,
    /// The provider's id of the paid trade, where the notification names it (Alipay `trade_no`,
    /// UnionPay `origQryId`: UnionPay's refund notification names the trade only so).
    pub transaction_id: Option<String>,
    pub out_refund_no: String,
    /// The provider's id of the refund (empty where it gives none: Alipay).
    pub refund_id: String,
    /// `Success`, `Closed` or `Abnormal` for an end; `Processing` when a provider notifies a
    /// state that is not one (UnionPay 03/04/05), which changes nothing.
    pub status: RefundStatus,
    /// This refund's amount, where the notification tells it (WeChat, UnionPay `txnAmt`).
    pub amount: Option<Fen>,
    /// All that has been refunded of the trade so far, where the notification tells only that
    /// (Alipay `refund_fee`, 总退款金额).
    pub refunded_total: Option<Fen>,
    pub merchant_id: String,
    /// The provider's status word, kept for the audit trail.
    pub provider_status: String,
}

/// What to answer the provider's notification request with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

/// A payment provider, as the rest of campuspay sees it.
pub trait PaymentChannel: Send + Sync {
    fn provider(&self) -> Provider;

    /// Creates the provider order and says what the client must show.
    fn create<'a>(&'a self, order: &'a CreateOrder) -> BoxFuture<'a, PayAction>;

    /// Asks the provider about an order (used when a notification is late or lost).
    fn query<'a>(&'a self, out_trade_no: &'a str) -> BoxFuture<'a, ProviderStatus>;

    /// Closes an unpaid order so that it can no longer be paid.
    fn close<'a>(&'a self, out_trade_no: &'a str) -> BoxFuture<'a, ()>;

    /// Refunds; repeating the same `out_refund_no` never refunds twice.
    fn refund<'a>(&'a self, req: &'a RefundRequest) -> BoxFuture<'a, RefundResult>;

    /// Verifies and parses a payment notification. `now` is unix seconds (for the skew check).
    fn verify_notification(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<PaymentNotice, ChannelError>;

    /// The answer that tells the provider we took (or did not take) the notification.
    fn ack(&self, accepted: bool) -> Ack;

    /// Verifies a notification that tells how a refund ended, and parses it: `Ok(None)` when a
    /// verified notification is about a payment instead (take it to
    /// [`PaymentChannel::verify_notification`]); an error when it does not verify. Providers
    /// that notify no refunds keep the default, which says every notification is a payment's.
    fn verify_refund_notification(&self, _headers: &HeaderMap, _body: &[u8], _now: i64) -> Result<Option<RefundNotice>, ChannelError> {
        Ok(None)
    }

    /// Downloads and parses the provider's statement (对账单) of one day, `date` = `yyyy-MM-dd`
    /// in Asia/Shanghai: every payment and refund the provider booked that day, including those
    /// we were never notified of. The lines are checked against the file's own summary where it
    /// has one; [`Statement::raw`] keeps the detail file's text. Providers publish a day's file
    /// the next morning (WeChat Pay after 10:00, Alipay after 9:00).
    fn statement<'a>(&'a self, _date: &'a str) -> BoxFuture<'a, Statement> {
        Box::pin(async { Err(ChannelError::Unsupported("该渠道不提供对账单")) })
    }

    /// The same day's statement as reconciliation reads it: [`StatementFile::Parsed`] from
    /// [`PaymentChannel::statement`], unless the adapter keeps a large file as it came, to be
    /// read line by line (WeChat Pay's trade bill; its summary is then checked as it is read).
    fn statement_file<'a>(&'a self, date: &'a str) -> BoxFuture<'a, StatementFile> {
        Box::pin(async move { self.statement(date).await.map(StatementFile::Parsed) })
    }

    /// Where to send a payer's browser so the provider tells us who they are (WeChat's web
    /// sign-in for JSAPI, which needs the payer's `openid`); it comes back to `redirect_uri`
    /// with a code and `state`. `None` where the channel has no such step or is not set up
    /// for it (no official-account AppSecret).
    fn payer_sign_in_url(&self, _redirect_uri: &str, _state: &str) -> Option<String> {
        None
    }

    /// Exchanges the code from [`PaymentChannel::payer_sign_in_url`]'s return for the payer's
    /// id at the provider (WeChat `openid`).
    fn payer_of_code<'a>(&'a self, _code: &'a str) -> BoxFuture<'a, String> {
        Box::pin(async { Err(ChannelError::Unsupported("该渠道没有付款人登录")) })
    }

    /// Provider data beyond `out_trade_no` that later calls about this order (or refund) need,
    /// for the caller to keep with the attempt. UnionPay queries by `orderId` **and** the
    /// `txnTime` the order was sent with, so its channels return that `txnTime` here after
    /// `create`, `refund` or a verified notification; WeChat Pay and Alipay need nothing (`None`).
    fn order_reference(&self, _out_trade_no: &str) -> Option<String> {
        None
    }

    /// Hands back a reference kept from [`PaymentChannel::order_reference`] (after a restart,
    /// before `query`, `refund` or `close` of that order). Ignored by providers that need none.
    fn restore_order_reference(&self, _out_trade_no: &str, _reference: &str) {}
}

/// A school's configuration of one channel, as its JSON config holds it
/// (`{"provider":"wechatpay", …}`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "provider")]
pub enum ChannelConfig {
    Wechatpay(wechatpay::WechatPayConfig),
    Alipay(alipay::AlipayConfig),
    /// One UnionPay product (`"product": "gateway"` (default) or `"qr"`); a school with both
    /// configures two channels with the same keys.
    Unionpay(unionpay::UnionpayConfig),
    /// CCB 龙支付 (one POS of a CCB merchant).
    Ccb(ccb::CcbConfig),
    Allinpay(allinpay::AllinpayConfig),
}

impl ChannelConfig {
    /// Builds the channel (parses keys now, so a bad config fails at start-up).
    pub fn build(&self) -> Result<std::sync::Arc<dyn PaymentChannel>, ChannelError> {
        Ok(match self {
            ChannelConfig::Wechatpay(c) => std::sync::Arc::new(wechatpay::WechatPay::new(c.clone())?),
            ChannelConfig::Alipay(c) => std::sync::Arc::new(alipay::Alipay::new(c.clone())?),
            ChannelConfig::Unionpay(c) => std::sync::Arc::new(unionpay::Unionpay::new(c.clone())?),
            ChannelConfig::Ccb(c) => std::sync::Arc::new(ccb::Ccb::new(c.clone())?),
            ChannelConfig::Allinpay(c) => std::sync::Arc::new(allinpay::Allinpay::new(c.clone())?),
        })
    }
}

impl std::fmt::Debug for ChannelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChannelConfig::Wechatpay(c) => c.fmt(f),
            ChannelConfig::Alipay(c) => c.fmt(f),
            ChannelConfig::Unionpay(c) => c.fmt(f),
            ChannelConfig::Ccb(c) => c.fmt(f),
            ChannelConfig::Allinpay(c) => c.fmt(f),
        }
    }
}
