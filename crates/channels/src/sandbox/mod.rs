//! The provider side of the WeChat Pay, Alipay and UnionPay ACP protocols, for the simulator and the tests:
//! verify *our* requests with our public key, sign answers and notifications with the
//! provider's private key, encrypt WeChat notification resources; and on top of them the HTTP
//! simulator [`Sandbox`]: an axum router under `/sandbox/…` with its own keys, a trade ledger,
//! a cashier page and switches for late, lost, duplicate, reordered and forged notifications.
//!
//! Mounting it in the main server and paying through the real adapters:
//! ```no_run
//! # use campuspay_channels::sandbox::Sandbox;
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
pub mod keys;
pub mod ledger;
mod notify;
mod server;
mod statements;
pub mod unionpay;
mod unionpay_api;
pub mod wechat;
mod wechat_api;

pub use ledger::{Behaviour, BehaviourPatch, NoticeKind, NotifyAttempt, NotifyMode, Trade, TradeState};
pub use notify::{ALIPAY_RETRY_S, UNIONPAY_RETRY_S, WECHAT_RETRY_S};
pub use server::{PayOutcome, Sandbox};

use crate::ChannelError;
use crate::crypto::der_to_pem;
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;

/// A fresh RSA-2048 key pair as PEM: PKCS#8 private key and SPKI public key.
#[derive(Clone)]
pub struct GeneratedKeyPair {
    pub private_pkcs8_pem: String,
    pub public_spki_pem: String,
}

impl std::fmt::Debug for GeneratedKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedKeyPair").field("public_spki_pem", &self.public_spki_pem).finish_non_exhaustive()
    }
}

/// Generates an RSA-2048 key pair (first start of the sandbox; tests).
pub fn generate_rsa_2048() -> Result<GeneratedKeyPair, ChannelError> {
    let kp = KeyPair::generate(KeySize::Rsa2048).map_err(|_| ChannelError::Crypto("生成 RSA 密钥失败"))?;
    let private: Pkcs8V1Der = kp.as_der().map_err(|_| ChannelError::Crypto("导出私钥失败"))?;
    let public: PublicKeyX509Der = kp.public_key().as_der().map_err(|_| ChannelError::Crypto("导出公钥失败"))?;
    Ok(GeneratedKeyPair {
        private_pkcs8_pem: der_to_pem("PRIVATE KEY", private.as_ref()),
        public_spki_pem: der_to_pem("PUBLIC KEY", public.as_ref()),
    })
}

#[cfg(test)]
mod tests;
