//! The payment channels each school has, and the API's channel names.

use campuspay_channels::sandbox::Sandbox;
use campuspay_channels::{ChannelConfig, PayFlow, PaymentChannel, Provider};
use campuspay_store::Store;
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

    /// The provider protocol behind the method; `None` where no adapter exists yet.
    pub fn provider(self) -> Option<Provider> {
        match self {
            Method::WechatNative | Method::WechatH5 | Method::WechatJsapi => Some(Provider::Wechatpay),
            Method::AlipayPage | Method::AlipayWap | Method::AlipayQr => Some(Provider::Alipay),
            Method::UnionpayGateway | Method::UnionpayQr => None,
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
            Some(Provider::Alipay) => !in_wechat,
            Some(Provider::Wechatpay) => !in_alipay && (self != Method::WechatJsapi || in_wechat),
            None => true,
        }
    }
}

pub fn provider_str(p: Provider) -> &'static str {
    match p {
        Provider::Wechatpay => "wechatpay",
        Provider::Alipay => "alipay",
    }
}

pub fn parse_provider(s: &str) -> Option<Provider> {
    match s {
        "wechatpay" => Some(Provider::Wechatpay),
        "alipay" => Some(Provider::Alipay),
        _ => None,
    }
}

/// A built adapter, shared by every request of its school.
pub type Channel = Arc<dyn PaymentChannel>;

/// One school's adapters for the simulator at `provider_origin`, notifying `notify_origin`.
fn sandbox_channels(
    sandbox: &Sandbox,
    school_code: &str,
    provider_origin: &str,
    notify_origin: &str,
) -> Result<Vec<(Provider, Channel)>, String> {
    let (mut w, mut a) = sandbox.merchant_configs(provider_origin, &format!("{notify_origin}/notify"));
    w.notify_url = format!("{notify_origin}/notify/wechatpay/{school_code}");
    a.notify_url = format!("{notify_origin}/notify/alipay/{school_code}");
    Ok(vec![
        (Provider::Wechatpay, ChannelConfig::Wechatpay(w).build().map_err(|e| e.to_string())?),
        (Provider::Alipay, ChannelConfig::Alipay(a).build().map_err(|e| e.to_string())?),
    ])
}

/// Built channel adapters per school and provider.
#[derive(Default, Clone)]
pub struct Channels {
    map: HashMap<(i64, Provider), Arc<dyn PaymentChannel>>,
}

impl Channels {
    /// Loads the schools' merchant configurations; with a sandbox, every school without its own
    /// configuration pays through the simulator (demo mode and tests).
    pub async fn load(store: &Store, sandbox: Option<(&Sandbox, &str)>) -> Result<Channels, String> {
        let mut map: HashMap<(i64, Provider), Arc<dyn PaymentChannel>> = HashMap::new();
        for (school_id, provider, config) in store.channel_configs().await.map_err(|e| e.to_string())? {
            let cfg: ChannelConfig = serde_json::from_str(&config).map_err(|e| format!("school {school_id} {provider}: {e}"))?;
            let p = match &cfg {
                ChannelConfig::Wechatpay(_) => Provider::Wechatpay,
                ChannelConfig::Alipay(_) => Provider::Alipay,
            };
            map.insert((school_id, p), cfg.build().map_err(|e| format!("school {school_id} {provider}: {e}"))?);
        }
        if let Some((sandbox, origin)) = sandbox {
            for school in store.schools().await.map_err(|e| e.to_string())? {
                for (p, channel) in sandbox_channels(sandbox, &school.code, origin, origin)? {
                    // A school's own merchant configuration wins over the simulator.
                    map.entry((school.id, p)).or_insert(channel);
                }
            }
        }
        Ok(Channels { map })
    }

    /// Every school pays through a simulator mounted at `provider_origin`, with notifications
    /// sent to `notify_origin` (a second instance of the platform, in tests).
    pub async fn load_with_notify(
        store: &Store,
        sandbox: &Sandbox,
        provider_origin: &str,
        notify_origin: &str,
    ) -> Result<Channels, String> {
        let mut map: HashMap<(i64, Provider), Arc<dyn PaymentChannel>> = HashMap::new();
        for school in store.schools().await.map_err(|e| e.to_string())? {
            for (p, channel) in sandbox_channels(sandbox, &school.code, provider_origin, notify_origin)? {
                map.insert((school.id, p), channel);
            }
        }
        Ok(Channels { map })
    }

    pub fn get(&self, school_id: i64, p: Provider) -> Option<Arc<dyn PaymentChannel>> {
        self.map.get(&(school_id, p)).cloned()
    }

    /// Every school's adapter for a provider, for notifications that do not name the school.
    pub fn for_provider(&self, p: Provider) -> Vec<(i64, Arc<dyn PaymentChannel>)> {
        let mut v: Vec<_> = self.map.iter().filter(|((_, q), _)| *q == p).map(|((s, _), c)| (*s, c.clone())).collect();
        v.sort_by_key(|(s, _)| *s);
        v
    }
}
