//! `campuspay-channels`' adapters against the provider side of the same protocols
//! ([`campuspay_sandbox::wechat`], [`campuspay_sandbox::alipay`], [`campuspay_sandbox::unionpay`],
//! [`campuspay_sandbox::allinpay`]):
//! what one signs the other verifies, and what is tampered with, stale or from someone else is
//! refused. Pure functions only, no network; the simulator over HTTP is tested in the crate.

mod alipay;
mod allinpay;
mod ccb;
mod unionpay;
mod unionpay_cert;
mod wechatpay;
