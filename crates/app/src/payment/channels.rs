//! The payment channels each school has, and the API's channel names.

use crate::secrets::SecretKeys;
use campuspay_channels::unionpay::UnionpayProduct;
use campuspay_channels::{ChannelConfig, PayFlow, PaymentChannel, Provider};
use campuspay_domain::payment::MerchantChannel;
use campuspay_store::Store;
use campuspay_store::orders::AttemptRow;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// How a student pays; it lives in the domain so the store can keep it on attempts.
pub use campuspay_domain::payment::Method;

/// What the app knows of a method beyond the domain: its adapter and its channel flow.
pub trait MethodExt {
    fn adapter(self) -> Adapter;
    fn flow(self, client_ip: &str, openid: Option<&str>) -> Option<PayFlow>;
}

impl MethodExt for Method {
    /// Which configured adapter serves the method: one per provider, except UnionPay, whose
    /// gateway and QR products are separate merchant products with separate configurations.
    fn adapter(self) -> Adapter {
        match self.provider() {
            Provider::Wechatpay => Adapter::Wechatpay,
            Provider::Alipay => Adapter::Alipay,
            Provider::Unionpay if self == Method::UnionpayQr => Adapter::UnionpayQr,
            Provider::Unionpay => Adapter::UnionpayGateway,
            Provider::Ccb => Adapter::Ccb,
            Provider::Allinpay => Adapter::Allinpay,
        }
    }

    fn flow(self, client_ip: &str, openid: Option<&str>) -> Option<PayFlow> {
        Some(match self {
            Method::WechatNative | Method::AlipayQr | Method::UnionpayQr | Method::AllinpayQr => PayFlow::Qr,
            Method::AlipayPage | Method::UnionpayGateway | Method::CcbPay => PayFlow::Page,
            Method::WechatH5 | Method::AlipayWap => PayFlow::Mobile { client_ip: client_ip.to_string() },
            Method::WechatJsapi => PayFlow::InApp { openid: openid?.to_string() },
        })
    }
}

/// A configured adapter of a school.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Adapter {
    Wechatpay,
    Alipay,
    UnionpayGateway,
    UnionpayQr,
    Ccb,
    Allinpay,
}

impl Adapter {
    pub fn provider(self) -> Provider {
        match self {
            Adapter::Wechatpay => Provider::Wechatpay,
            Adapter::Alipay => Provider::Alipay,
            Adapter::UnionpayGateway | Adapter::UnionpayQr => Provider::Unionpay,
            Adapter::Ccb => Provider::Ccb,
            Adapter::Allinpay => Provider::Allinpay,
        }
    }

    pub fn of_config(c: &ChannelConfig) -> Adapter {
        match c {
            ChannelConfig::Wechatpay(_) => Adapter::Wechatpay,
            ChannelConfig::Alipay(_) => Adapter::Alipay,
            ChannelConfig::Unionpay(u) if u.product == UnionpayProduct::Qr => Adapter::UnionpayQr,
            ChannelConfig::Unionpay(_) => Adapter::UnionpayGateway,
            ChannelConfig::Ccb(_) => Adapter::Ccb,
            ChannelConfig::Allinpay(_) => Adapter::Allinpay,
        }
    }
}

/// The provider's word (`Provider::as_str`), kept for the callers that name it so.
pub fn provider_str(p: Provider) -> &'static str {
    p.as_str()
}

pub fn parse_provider(s: &str) -> Option<Provider> {
    s.parse().ok()
}

/// A built adapter, shared by every request of its school.
pub type Channel = Arc<dyn PaymentChannel>;

impl From<MerchantChannel> for Adapter {
    fn from(c: MerchantChannel) -> Adapter {
        match c {
            MerchantChannel::Wechatpay => Adapter::Wechatpay,
            MerchantChannel::Alipay => Adapter::Alipay,
            MerchantChannel::UnionpayGateway => Adapter::UnionpayGateway,
            MerchantChannel::UnionpayQr => Adapter::UnionpayQr,
            MerchantChannel::Ccb => Adapter::Ccb,
            MerchantChannel::Allinpay => Adapter::Allinpay,
        }
    }
}

type Map = HashMap<(i64, Adapter), Channel>;

/// Built channel adapters per school and provider. Shared by every request; the office
/// replaces a school's adapter while the server runs ([`Channels::set`] takes `&self`).
#[derive(Default)]
pub struct Channels {
    map: RwLock<Map>,
}

impl Clone for Channels {
    fn clone(&self) -> Channels {
        Channels { map: RwLock::new(self.read().clone()) }
    }
}

impl Channels {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Map> {
        self.map.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Loads the schools' own merchant configurations, opening their secrets with `keys`.
    /// Plaintext configurations of the old `school_channels` table are sealed first (and
    /// removed from it). Encrypted or plaintext configurations without a key are an error
    /// that says which setting is missing.
    pub async fn load(store: &Store, keys: Option<&SecretKeys>) -> Result<Channels, String> {
        let channels = Channels::default();
        for (school_id, config) in crate::office::merchants::load_all(store, keys).await? {
            channels.set(school_id, &config).map_err(|e| format!("school {school_id}: {e}"))?;
        }
        Ok(channels)
    }

    /// Builds and uses `config` for its adapter at the school, replacing what was there.
    pub fn set(&self, school_id: i64, config: &ChannelConfig) -> Result<(), String> {
        let built = config.build().map_err(|e| e.to_string())?;
        self.map.write().unwrap_or_else(|e| e.into_inner()).insert((school_id, Adapter::of_config(config)), built);
        Ok(())
    }

    /// Uses `config` only where the school has no adapter of its own for it (the simulator in
    /// demo mode: a school's own merchant configuration wins).
    pub fn set_default(&self, school_id: i64, config: &ChannelConfig) -> Result<(), String> {
        if !self.read().contains_key(&(school_id, Adapter::of_config(config))) {
            self.set(school_id, config)?;
        }
        Ok(())
    }

    /// Whether the school can take `method` now: its adapter is configured, and for JSAPI it
    /// can also learn who the payer is (an official-account AppSecret for WeChat's sign-in).
    pub fn offers(&self, school_id: i64, method: Method) -> bool {
        self.get(school_id, method)
            .is_some_and(|c| method != Method::WechatJsapi || c.payer_sign_in_url("https://check/", "check").is_some())
    }

    pub fn get(&self, school_id: i64, method: Method) -> Option<Channel> {
        self.read().get(&(school_id, method.adapter())).cloned()
    }

    /// The adapter of an attempt, told what it needs to find the trade again.
    pub fn for_attempt(&self, a: &AttemptRow) -> Option<Channel> {
        let channel = self.get(a.school_id, a.channel)?;
        if !a.reference.is_empty() {
            channel.restore_order_reference(&a.out_trade_no, &a.reference);
        }
        Some(channel)
    }

    /// Every configured adapter, by school.
    pub fn all(&self) -> Vec<(i64, Adapter, Channel)> {
        let mut v: Vec<_> = self.read().iter().map(|((s, a), c)| (*s, *a, c.clone())).collect();
        v.sort_by_key(|(s, a, _)| (*s, *a as u8));
        v
    }

    /// Every adapter of a provider (of one school, or of all), for notifications.
    pub fn for_provider(&self, p: Provider, school_id: Option<i64>) -> Vec<(i64, Channel)> {
        let mut v: Vec<_> = self
            .read()
            .iter()
            .filter(|((s, a), _)| a.provider() == p && school_id.is_none_or(|id| id == *s))
            .map(|((s, _), c)| (*s, c.clone()))
            .collect();
        v.sort_by_key(|(s, _)| *s);
        v
    }
}
