//! Payment methods and the provider protocols behind them, as words the store and the API use.
//! The channel adapters (crates/channels) and the app's channel registry re-export these.

use crate::names::text_enum;
use serde::{Deserialize, Serialize};

/// Which provider protocol a channel speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    Wechatpay,
    Alipay,
    /// UnionPay ACP (online gateway and QR share one protocol, keys and notify format).
    Unionpay,
    /// CCB 龙支付 / 建行网上支付 (seed 003).
    Ccb,
    /// 通联支付 收银宝 (allinpay VSP): the aggregated cashier one code of which any wallet pays.
    Allinpay,
}

text_enum!(Provider {
    Wechatpay => "wechatpay",
    Alipay => "alipay",
    Unionpay => "unionpay",
    Ccb => "ccb",
    Allinpay => "allinpay",
});

/// One merchant configuration of a school: a provider, or for UnionPay one of its two
/// products (gateway and QR are separate merchant products with separate configurations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MerchantChannel {
    Wechatpay,
    Alipay,
    UnionpayGateway,
    UnionpayQr,
    Ccb,
    Allinpay,
}

text_enum!(MerchantChannel {
    Wechatpay => "wechatpay",
    Alipay => "alipay",
    UnionpayGateway => "unionpay_gateway",
    UnionpayQr => "unionpay_qr",
    Ccb => "ccb",
    Allinpay => "allinpay",
});

impl MerchantChannel {
    pub fn provider(self) -> Provider {
        match self {
            MerchantChannel::Wechatpay => Provider::Wechatpay,
            MerchantChannel::Alipay => Provider::Alipay,
            MerchantChannel::UnionpayGateway | MerchantChannel::UnionpayQr => Provider::Unionpay,
            MerchantChannel::Ccb => Provider::Ccb,
            MerchantChannel::Allinpay => Provider::Allinpay,
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            MerchantChannel::Wechatpay => "微信支付",
            MerchantChannel::Alipay => "支付宝",
            MerchantChannel::UnionpayGateway => "银联在线网关支付",
            MerchantChannel::UnionpayQr => "银联二维码支付",
            MerchantChannel::Ccb => "建行龙支付",
            MerchantChannel::Allinpay => "通联聚合支付（收银宝）",
        }
    }
}

/// How a student pays, as the API names it (and `pay_attempts.channel` stores it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    WechatNative,
    WechatH5,
    WechatJsapi,
    AlipayPage,
    AlipayWap,
    AlipayQr,
    UnionpayGateway,
    UnionpayQr,
    CcbPay,
    /// One code on a PC page that WeChat, Alipay and UnionPay wallets alike can scan (通联收银宝).
    AllinpayQr,
}

text_enum!(Method {
    WechatNative => "wechat_native",
    WechatH5 => "wechat_h5",
    WechatJsapi => "wechat_jsapi",
    AlipayPage => "alipay_page",
    AlipayWap => "alipay_wap",
    AlipayQr => "alipay_qr",
    UnionpayGateway => "unionpay_gateway",
    UnionpayQr => "unionpay_qr",
    CcbPay => "ccb_pay",
    AllinpayQr => "allinpay_qr",
});

impl Method {
    /// The method an API name stands for, if any.
    pub fn parse(s: &str) -> Option<Method> {
        s.parse().ok()
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Method::WechatNative => "微信扫码支付",
            Method::WechatH5 => "微信支付（手机浏览器）",
            Method::WechatJsapi => "微信支付（微信内）",
            Method::AlipayPage => "支付宝网页支付",
            Method::AlipayWap => "支付宝（手机浏览器）",
            Method::AlipayQr => "支付宝扫码支付",
            Method::UnionpayGateway => "银联在线支付",
            Method::UnionpayQr => "银联二维码支付",
            Method::CcbPay => "建行龙支付",
            Method::AllinpayQr => "扫码支付（微信、支付宝、云闪付均可）",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Method::WechatNative => "WeChat Pay (scan)",
            Method::WechatH5 => "WeChat Pay (phone browser)",
            Method::WechatJsapi => "WeChat Pay (in WeChat)",
            Method::AlipayPage => "Alipay (web)",
            Method::AlipayWap => "Alipay (phone browser)",
            Method::AlipayQr => "Alipay (scan)",
            Method::UnionpayGateway => "UnionPay online",
            Method::UnionpayQr => "UnionPay QR",
            Method::CcbPay => "CCB Pay",
            Method::AllinpayQr => "Scan to pay (WeChat, Alipay or UnionPay)",
        }
    }

    /// The provider protocol behind the method.
    pub fn provider(self) -> Provider {
        match self {
            Method::WechatNative | Method::WechatH5 | Method::WechatJsapi => Provider::Wechatpay,
            Method::AlipayPage | Method::AlipayWap | Method::AlipayQr => Provider::Alipay,
            Method::UnionpayGateway | Method::UnionpayQr => Provider::Unionpay,
            Method::CcbPay => Provider::Ccb,
            Method::AllinpayQr => Provider::Allinpay,
        }
    }

    /// Inside WeChat's browser Alipay cannot open, and inside Alipay's WeChat Pay cannot (004).
    pub fn usable_in(self, user_agent: &str) -> bool {
        let ua = user_agent.to_ascii_lowercase();
        let in_wechat = ua.contains("micromessenger");
        let in_alipay = ua.contains("alipayclient");
        match self.provider() {
            Provider::Alipay => !in_wechat,
            Provider::Wechatpay => !in_alipay && (self != Method::WechatJsapi || in_wechat),
            Provider::Unionpay | Provider::Ccb | Provider::Allinpay => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_match_serde() {
        for m in Method::ALL {
            assert_eq!(m.as_str().parse::<Method>(), Ok(m));
            assert_eq!(serde_json::to_value(m).unwrap(), serde_json::Value::from(m.as_str()));
        }
        for p in Provider::ALL {
            assert_eq!(p.as_str().parse::<Provider>(), Ok(p));
            assert_eq!(serde_json::to_value(p).unwrap(), serde_json::Value::from(p.as_str()));
        }
        assert!("paypal".parse::<Provider>().is_err());
        assert_eq!(Method::parse("wechat"), None);
    }
}
