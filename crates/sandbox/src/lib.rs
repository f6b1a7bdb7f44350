//! campuspay's payment provider simulator: the provider side of the WeChat Pay, Alipay,
//! UnionPay ACP and CCB 龙支付 protocols (CCB's 外联平台 as a TCP listener, `Sandbox::serve_ccb_ebs`) that `campuspay-channels` speaks as a merchant. Verify *our* requests
//! UnionPay ACP and 通联收银宝 (allinpay) protocols that `campuspay-channels` speaks as a merchant. Verify *our* requests
//! with our public key, sign answers and notifications with the provider's private key, encrypt
//! WeChat notification resources; and on top of them the HTTP simulator [`Sandbox`]: an axum
//! router under `/sandbox/…` (and, alone, WeChat's `/v3/…` at its root) with its own keys, a trade ledger, a cashier page and switches for
//! late, lost, duplicate, reordered and forged notifications.
//!
//! It is a crate of its own so that production `channels` carries no simulator and no axum; the
//! server mounts it only when built with its `demo` feature (on by default), for `serve --demo`,
//! `campuspay sandbox` and the tests.
//!
//! Mounting it in the main server and paying through the real adapters:
//! ```no_run
//! # use campuspay_sandbox::Sandbox;
//! # use campuspay_channels::{wechatpay::WechatPay, alipay::Alipay};
//! # fn main() -> Result<(), campuspay_channels::ChannelError> {
//! let sandbox = Sandbox::open(std::path::Path::new("data/sandbox"))?;
//! let (wechat, alipay) =
//!     sandbox.merchant_configs("http://127.0.0.1:8080", "http://127.0.0.1:8080/notify");
//! let (wechat, alipay) = (WechatPay::new(wechat)?, Alipay::new(alipay)?);
//! // UnionPay: one config per product (gateway form, QR), same keys.
//! let unionpay = campuspay_channels::unionpay::Unionpay::new(sandbox.unionpay_config(
//!     "http://127.0.0.1:8080",
//!     "http://127.0.0.1:8080/notify",
//!     campuspay_channels::unionpay::UnionpayProduct::Gateway,
//! ))?;
//! let app: axum::Router = axum::Router::new().merge(sandbox.router());
//! # let _ = (wechat, alipay, unionpay, app);
//! # Ok(())
//! # }
//! ```

pub mod alipay;
mod alipay_api;
mod alipay_refund;
pub mod allinpay;
mod allinpay_api;
pub mod ccb;
mod ccb_api;
mod ccb_ebs;
pub mod keys;
pub mod ledger;
mod notify;
mod server;
mod statements;
pub mod unionpay;
mod unionpay_api;
mod unionpay_refund;
pub mod wechat;
mod wechat_api;
pub mod wechat_jsapi;
mod wechat_refund;

pub use allinpay_api::ALLINPAY_RETRY_S;
pub use ledger::{
    Behaviour, BehaviourPatch, NoticeKind, NotifyAttempt, NotifyMode, RefundMode, Trade, TradeState, WechatRefund, WechatRefundStatus,
};
pub use notify::{ALIPAY_RETRY_S, CCB_RETRY_S, UNIONPAY_RETRY_S, WECHAT_RETRY_S};
pub use server::{PayOutcome, Sandbox};

pub use campuspay_channels::crypto::{GeneratedKeyPair, generate_rsa_2048};

#[cfg(test)]
mod tests;
