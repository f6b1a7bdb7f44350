//! The provider simulator wired in as every demo school's channels (demo mode, tests, bench).

use campuspay_app::payment::channels::Channels;
use campuspay_app::secrets::SecretKeys;
use campuspay_channels::ChannelConfig;
use campuspay_channels::unionpay::UnionpayProduct;
use campuspay_sandbox::Sandbox;
use campuspay_store::Store;

/// One school's merchant configurations at the simulator at `provider_origin`, notifying
/// `notify_origin`.
fn sandbox_configs(sandbox: &Sandbox, school_code: &str, provider_origin: &str, notify_origin: &str) -> Vec<ChannelConfig> {
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
    // CCB's notify and return addresses belong to the POS (set in its merchant console), not to
    // the order: one POS per school.
    let ccb =
        sandbox.ccb_config(provider_origin, &format!("{notify}/ccb/{school_code}"), &format!("{notify_origin}/s/{school_code}/ccb/return"));
    configs.push(ChannelConfig::Ccb(ccb));
    let mut t = sandbox.allinpay_config(provider_origin, &notify);
    t.notify_url = format!("{notify}/allinpay/{school_code}");
    configs.push(ChannelConfig::Allinpay(t));
    configs
}

/// Where the simulator's trades are journalled for the database whose installation id is
/// `installation`: the instances on one database share it, a database made anew starts afresh
/// (its order numbers start again, and must not meet the old trades).
pub fn journal_path(sandbox_dir: &std::path::Path, installation: &str) -> std::path::PathBuf {
    let id: String = installation.chars().filter(char::is_ascii_alphanumeric).take(32).collect();
    sandbox_dir.join(format!("trades-{id}.jsonl"))
}

/// The schools' own merchant configurations; every school without its own pays through the
/// simulator mounted at `origin`.
pub async fn channels_with_sandbox(store: &Store, keys: Option<&SecretKeys>, sandbox: &Sandbox, origin: &str) -> Result<Channels, String> {
    let channels = Channels::load(store, keys).await?;
    for school in store.schools().await.map_err(|e| e.to_string())? {
        for config in sandbox_configs(sandbox, &school.code, origin, origin) {
            channels.set_default(school.id, &config)?;
        }
    }
    Ok(channels)
}

/// Every school pays through a simulator at `provider_origin`, with notifications sent to
/// `notify_origin` (a second instance of the platform, in tests).
pub async fn channels_via_sandbox(
    store: &Store,
    sandbox: &Sandbox,
    provider_origin: &str,
    notify_origin: &str,
) -> Result<Channels, String> {
    let channels = Channels::default();
    for school in store.schools().await.map_err(|e| e.to_string())? {
        for config in sandbox_configs(sandbox, &school.code, provider_origin, notify_origin) {
            channels.set(school.id, &config)?;
        }
    }
    Ok(channels)
}
