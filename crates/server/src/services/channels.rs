//! The payment channels each school has, and the API's channel names.

use campuspay_channels::unionpay::UnionpayProduct;
use campuspay_channels::{ChannelConfig, PayFlow, PaymentChannel, Provider};
#[cfg(feature = "demo")]
use campuspay_sandbox::Sandbox;
use campuspay_store::Store;
use campuspay_store::orders::AttemptRow;
use std::collections::HashMap;
use std::sync::Arc;

/// How a student pays, as the API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    WechatNative,
    WechatH5,
    WechatJsapi,
    AlipayPage,
    AlipayWap,
    AlipayQr,
    UnionpayGateway,
    UnionpayQr,
}

impl Method {
    pub const ALL: [Method; 8] = [
        Method::WechatNative,
        Method::WechatH5,
        Method::WechatJsapi,
        Method::AlipayPage,
        Method::AlipayWap,
        Method::AlipayQr,
        Method::UnionpayGateway,
        Method::UnionpayQr,
    ];

    pub fn parse(s: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::WechatNative => "wechat_native",
            Method::WechatH5 => "wechat_h5",
            Method::WechatJsapi => "wechat_jsapi",
            Method::AlipayPage => "alipay_page",
            Method::AlipayWap => "alipay_wap",
            Method::AlipayQr => "alipay_qr",
            Method::UnionpayGateway => "unionpay_gateway",
            Method::UnionpayQr => "unionpay_qr",
        }
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
        }
    }

    /// The provider protocol behind the method.
    pub fn provider(self) -> Provider {
        match self {
            Method::WechatNative | Method::WechatH5 | Method::WechatJsapi => Provider::Wechatpay,
            Method::AlipayPage | Method::AlipayWap | Method::AlipayQr => Provider::Alipay,
            Method::UnionpayGateway | Method::UnionpayQr => Provider::Unionpay,
        }
    }

    /// Which configured adapter serves the method: one per provider, except UnionPay, whose
    /// gateway and QR products are separate merchant products with separate configurations.
    pub fn adapter(self) -> Adapter {
        match self.provider() {
            Provider::Wechatpay => Adapter::Wechatpay,
            Provider::Alipay => Adapter::Alipay,
            Provider::Unionpay if self == Method::UnionpayQr => Adapter::UnionpayQr,
            Provider::Unionpay => Adapter::UnionpayGateway,
        }
    }

    pub fn flow(self, client_ip: &str, openid: Option<&str>) -> Option<PayFlow> {
        Some(match self {
            Method::WechatNative | Method::AlipayQr | Method::UnionpayQr => PayFlow::Qr,
            Method::AlipayPage | Method::UnionpayGateway => PayFlow::Page,
            Method::WechatH5 | Method::AlipayWap => PayFlow::Mobile { client_ip: client_ip.to_string() },
            Method::WechatJsapi => PayFlow::InApp { openid: openid?.to_string() },
        })
    }

    /// Inside WeChat's browser Alipay cannot open, and inside Alipay's WeChat Pay cannot (004).
    pub fn usable_in(self, user_agent: &str) -> bool {
        let ua = user_agent.to_ascii_lowercase();
        let in_wechat = ua.contains("micromessenger");
        let in_alipay = ua.contains("alipayclient");
        match self.provider() {
            Provider::Alipay => !in_wechat,
            Provider::Wechatpay => !in_alipay && (self != Method::WechatJsapi || in_wechat),
            Provider::Unionpay => true,
        }
    }
}

/// A configured adapter of a school.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Adapter {
    Wechatpay,
    Alipay,
    UnionpayGateway,
    UnionpayQr,
}

impl Adapter {
    pub fn provider(self) -> Provider {
        match self {
            Adapter::Wechatpay => Provider::Wechatpay,
            Adapter::Alipay => Provider::Alipay,
            Adapter::UnionpayGateway | Adapter::UnionpayQr => Provider::Unionpay,
        }
    }

    fn of_config(c: &ChannelConfig) -> Adapter {
        match c {
            ChannelConfig::Wechatpay(_) => Adapter::Wechatpay,
            ChannelConfig::Alipay(_) => Adapter::Alipay,
            ChannelConfig::Unionpay(u) if u.product == UnionpayProduct::Qr => Adapter::UnionpayQr,
            ChannelConfig::Unionpay(_) => Adapter::UnionpayGateway,
        }
    }
}

pub fn provider_str(p: Provider) -> &'static str {
    match p {
        Provider::Wechatpay => "wechatpay",
        Provider::Alipay => "alipay",
        Provider::Unionpay => "unionpay",
    }
}

pub fn parse_provider(s: &str) -> Option<Provider> {
    match s {
        "wechatpay" => Some(Provider::Wechatpay),
        "alipay" => Some(Provider::Alipay),
        "unionpay" => Some(Provider::Unionpay),
        _ => None,
    }
}

/// A built adapter, shared by every request of its school.
pub type Channel = Arc<dyn PaymentChannel>;

/// One school's adapters for the simulator at `provider_origin`, notifying `notify_origin`.
#[cfg(feature = "demo")]
fn sandbox_channels(
    sandbox: &Sandbox,
    school_code: &str,
    provider_origin: &str,
    notify_origin: &str,
) -> Result<Vec<(Adapter, Channel)>, String> {
    let notify = format!("{notify_origin}/notify");
    let (mut w, mut a) = sandbox.merchant_configs(provider_origin, &notify);
    w.notify_url = format!("{notify}/wechatpay/{school_code}");
    a.notify_url = format!("{notify}/alipay/{school_code}");
    let mut configs = vec![ChannelConfig::Wechatpay(w), ChannelConfig::Alipay(a)];
    for product in [UnionpayProduct::Gateway, UnionpayProduct::Qr] {
        let mut u = sandbox.unionpay_config(provider_origin, &notify, product);
        u.notify_url = format!("{notify}/unionpay/{school_code}");
        configs.push(ChannelConfig::Unionpay(u));
    }
    configs.iter().map(|c| Ok((Adapter::of_config(c), c.build().map_err(|e| e.to_string())?))).collect()
}

/// Built channel adapters per school and provider.
#[derive(Default, Clone)]
pub struct Channels {
    map: HashMap<(i64, Adapter), Channel>,
}

impl Channels {
    /// Loads the schools' merchant configurations.
    pub async fn load(store: &Store) -> Result<Channels, String> {
        let mut map: HashMap<(i64, Adapter), Channel> = HashMap::new();
        for (school_id, provider, config) in store.channel_configs().await.map_err(|e| e.to_string())? {
            let cfg: ChannelConfig = serde_json::from_str(&config).map_err(|e| format!("school {school_id} {provider}: {e}"))?;
            map.insert((school_id, Adapter::of_config(&cfg)), cfg.build().map_err(|e| format!("school {school_id} {provider}: {e}"))?);
        }
        Ok(Channels { map })
    }

    /// Every school without its own configuration pays through the simulator mounted at
    /// `origin` (demo mode and tests).
    #[cfg(feature = "demo")]
    pub async fn with_sandbox(mut self, store: &Store, sandbox: &Sandbox, origin: &str) -> Result<Channels, String> {
        for school in store.schools().await.map_err(|e| e.to_string())? {
            for (p, channel) in sandbox_channels(sandbox, &school.code, origin, origin)? {
                // A school's own merchant configuration wins over the simulator.
                self.map.entry((school.id, p)).or_insert(channel);
            }
        }
        Ok(self)
    }

    /// Every school pays through a simulator mounted at `provider_origin`, with notifications
    /// sent to `notify_origin` (a second instance of the platform, in tests).
    #[cfg(feature = "demo")]
    pub async fn load_with_notify(
        store: &Store,
        sandbox: &Sandbox,
        provider_origin: &str,
        notify_origin: &str,
    ) -> Result<Channels, String> {
        let mut map: HashMap<(i64, Adapter), Channel> = HashMap::new();
        for school in store.schools().await.map_err(|e| e.to_string())? {
            for (p, channel) in sandbox_channels(sandbox, &school.code, provider_origin, notify_origin)? {
                map.insert((school.id, p), channel);
            }
        }
        Ok(Channels { map })
    }

    pub fn get(&self, school_id: i64, method: Method) -> Option<Channel> {
        self.map.get(&(school_id, method.adapter())).cloned()
    }

    /// The adapter of an attempt, told what it needs to find the trade again.
    pub fn for_attempt(&self, a: &AttemptRow) -> Option<Channel> {
        let channel = self.get(a.school_id, Method::parse(&a.channel)?)?;
        if !a.reference.is_empty() {
            channel.restore_order_reference(&a.out_trade_no, &a.reference);
        }
        Some(channel)
    }

    /// Every configured adapter, by school.
    pub fn all(&self) -> Vec<(i64, Adapter, Channel)> {
        let mut v: Vec<_> = self.map.iter().map(|((s, a), c)| (*s, *a, c.clone())).collect();
        v.sort_by_key(|(s, a, _)| (*s, *a as u8));
        v
    }

    /// Every adapter of a provider (of one school, or of all), for notifications.
    pub fn for_provider(&self, p: Provider, school_id: Option<i64>) -> Vec<(i64, Channel)> {
        let mut v: Vec<_> = self
            .map
            .iter()
            .filter(|((s, a), _)| a.provider() == p && school_id.is_none_or(|id| id == *s))
            .map(|((s, _), c)| (*s, c.clone()))
            .collect();
        v.sort_by_key(|(s, _)| *s);
        v
    }
}
