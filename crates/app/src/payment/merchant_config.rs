//! A school's merchant configuration of one channel as the office's form knows it: named text
//! fields, some of them secret. Turns the fields into a `ChannelConfig` (checking each key
//! field on its own, so a refusal names the field), and seals and opens the secret ones.

use crate::secrets::{Sealed, SecretKeys};
use crate::{Error, ErrorKind};
use campuspay_channels::ChannelConfig;
use campuspay_channels::allinpay::sign::{Sha1RsaSigner, Sha1RsaVerifier};
use campuspay_channels::crypto::{RsaSigner, RsaVerifier};
use campuspay_channels::unionpay::sign::UnionpayKey;
use campuspay_channels::wechatpay::{PlatformKey, PlatformVerifiers};
use campuspay_domain::payment::MerchantChannel;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

/// One field of a channel's form.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    pub name: &'static str,
    pub label: &'static str,
    /// What it is and where the finance office finds it.
    pub help: &'static str,
    /// Stored sealed, never shown again, only replaced.
    pub secret: bool,
    pub required: bool,
    /// A PEM or other multi-line text.
    pub multiline: bool,
}

const fn f(name: &'static str, label: &'static str, help: &'static str) -> FieldSpec {
    FieldSpec { name, label, help, secret: false, required: true, multiline: false }
}

const fn optional(s: FieldSpec) -> FieldSpec {
    FieldSpec { required: false, ..s }
}

const fn secret(s: FieldSpec) -> FieldSpec {
    FieldSpec { secret: true, ..s }
}

const fn pem(s: FieldSpec) -> FieldSpec {
    FieldSpec { multiline: true, ..s }
}

const NOTIFY: FieldSpec =
    optional(f("notify_url", "支付结果通知地址", "渠道把支付结果发到这里；留空则使用本平台的地址（https://…/notify/渠道/学校代码）"));

const WECHATPAY: &[FieldSpec] = &[
    f("mchid", "商户号", "微信支付商户平台的商户号（mchid），一般为 10 位数字"),
    f("appid", "AppID", "与商户号绑定的公众号或小程序的 AppID（wx 开头）"),
    f("merchant_serial_no", "商户API证书序列号", "商户平台 → 账户中心 → API安全 → 商户API证书的序列号（40 位十六进制）"),
    secret(pem(f(
        "merchant_private_key_pem",
        "商户API私钥",
        "商户API证书工具生成的 apiclient_key.pem 的全部内容（-----BEGIN PRIVATE KEY----- …）",
    ))),
    secret(f("apiv3_key", "API v3 密钥", "商户平台 → API安全 中设置的 32 位 APIv3 密钥，用于解密支付通知")),
    optional(f("platform_public_key_id", "微信支付公钥 ID", "使用“微信支付公钥”验签时填写（PUB_KEY_ID_ 开头）；使用平台证书时留空")),
    optional(pem(f("platform_public_key_pem", "微信支付公钥", "商户平台 → API安全 → 微信支付公钥（pub_key.pem）；与平台证书至少填一项"))),
    optional(pem(f("platform_cert_pem", "微信支付平台证书", "平台证书（wechatpay_….pem）；序列号从证书中读取；与微信支付公钥至少填一项"))),
    secret(optional(f(
        "official_account_secret",
        "公众号 AppSecret",
        "公众号网页授权（snsapi_base）取得付款人 openid，用于微信内（JSAPI）支付；不用微信内支付可不填",
    ))),
    NOTIFY,
    optional(f("base_url", "接口地址", "微信支付 API 的地址；一般无需修改（https://api.mch.weixin.qq.com）")),
    optional(f(
        "oauth_authorize_url",
        "网页授权地址",
        "微信网页授权页面；一般无需修改（https://open.weixin.qq.com/connect/oauth2/authorize）",
    )),
    optional(f(
        "oauth_token_url",
        "网页授权换取地址",
        "用授权码换取 openid 的接口；一般无需修改（https://api.weixin.qq.com/sns/oauth2/access_token）",
    )),
];

const ALIPAY: &[FieldSpec] = &[
    f("app_id", "应用 AppID", "支付宝开放平台中本应用的 APPID（16 位数字）"),
    secret(pem(f("app_private_key_pem", "应用私钥", "用支付宝密钥工具生成的应用私钥（RSA2，PKCS#8 或 PKCS#1，PEM 或纯 Base64）"))),
    pem(f("alipay_public_key_pem", "支付宝公钥", "开放平台 → 开发设置 → 接口加签方式中的“支付宝公钥”（不是应用公钥）")),
    optional(f("seller_id", "商户 PID", "2088 开头的 16 位合作伙伴身份；填写后，支付通知中的卖家必须是它")),
    NOTIFY,
    optional(f("gateway_url", "网关地址", "支付宝网关；一般无需修改（https://openapi.alipay.com/gateway.do）")),
];

const UNIONPAY: &[FieldSpec] = &[
    f("mer_id", "商户代码", "银联分配的 15 位商户代码（merId）"),
    f("cert_id", "签名证书 ID", "商户签名证书（.pfx）的序列号，十进制（certId）"),
    secret(pem(f("private_key_pem", "商户签名私钥", "从签名证书 .pfx 中用证书密码导出的私钥（PEM）；只保存导出的私钥，不保存证书密码"))),
    pem(f("unionpay_public_key_pem", "银联验签证书", "银联的签名证书（acp_prod_verify_sign.cer，PEM）或其公钥，用于验证银联的报文")),
    NOTIFY,
    optional(f("front_url", "前台返回地址", "付款后浏览器回到的地址（frontUrl）；留空则为本平台首页")),
    optional(f("base_url", "接口地址", "银联全渠道的地址；一般无需修改（https://gateway.95516.com/gateway/api）")),
    optional(f("file_transfer_url", "对账文件地址", "下载对账文件的地址（fileTransfer）；留空使用银联默认地址")),
];

const CCB: &[FieldSpec] = &[
    f("merchant_id", "商户代码", "建行分配的 15 位商户代码（MERCHANTID）"),
    f(
        "pos_id",
        "柜台代码",
        "建行分配的 9 位柜台代码（POSID）。通知地址不随订单发送，须在建行商户服务平台为该柜台设置：服务器通知 https://…/notify/ccb/学校代码，商户URL https://…/s/学校代码/ccb/return",
    ),
    f("branch_id", "分行代码", "商户开户分行的 9 位分行代码（BRANCHID）"),
    pem(f(
        "ccb_public_key_hex",
        "建行公钥",
        "建行商户服务平台下载的公钥（十六进制字符串，30819f… 开头）；用于验证支付通知，其后 30 位参与下单 MAC，请原样粘贴",
    )),
    f("operator", "商户通操作员", "商户服务平台中用于查询订单的操作员号（OPERATOR）"),
    secret(f("query_password", "操作员查询密码", "该操作员的登录密码（QUPWD），订单查询时发送")),
    optional(f(
        "ebs_addr",
        "外联平台地址",
        "本校运行的建行外联平台客户端的 主机:端口（如 10.0.0.5:12345）；退款经它办理，不填则不能原路退款",
    )),
    optional(f("ebs_cust_id", "外联平台商户号", "外联平台登录用的商户号（CUST_ID）")),
    optional(f("ebs_user_id", "外联平台操作员", "外联平台登录用的操作员号（USER_ID，一般为 6 位）")),
    secret(optional(f("ebs_password", "外联平台操作员密码", "外联平台操作员的密码（PASSWORD）"))),
    optional(f("gateway_url", "支付网关地址", "建行支付网关；一般无需修改（https://ibsbjstar.ccb.com.cn/app/ccbMain）")),
    optional(f("query_url", "查询地址", "商户通订单查询（410408）的地址；留空与支付网关相同")),
];
const ALLINPAY: &[FieldSpec] = &[
    f("cusid", "商户号", "通联收银宝分配的商户号（cusid），一般为 15 位"),
    f("appid", "应用 ID", "通联收银宝分配的应用 ID（appid），8 位"),
    secret(pem(f(
        "private_key_pem",
        "商户 RSA 私钥",
        "商户自行生成的 RSA 私钥（PKCS#8 或 PKCS#1，PEM 或纯 Base64）；对应的公钥须在收银宝商户平台上传",
    ))),
    pem(f("allinpay_public_key_pem", "通联公钥", "收银宝商户平台提供的通联 RSA 公钥，用于验证通联的应答与交易结果通知")),
    NOTIFY,
    optional(f("front_url", "支付完成返回地址", "付款后收银台把浏览器带回的地址（returl）；留空则为本平台首页")),
    optional(f("base_url", "接口地址", "收银宝统一下单接口的地址；一般无需修改（https://vsp.allinpay.com）")),
    optional(f("cashier_url", "收银台地址", "通联 H5 收银台的地址；一般无需修改（https://syb.allinpay.com）")),
];

/// What the platform uses for an address field left empty, for a school (`public_url` is the
/// platform's own address).
pub fn default_of(channel: MerchantChannel, field: &str, public_url: &str, school_code: &str) -> Option<String> {
    use campuspay_channels::{alipay, unionpay, wechatpay};
    Some(match (channel, field) {
        (_, "notify_url") => format!("{public_url}/notify/{}/{school_code}", channel.provider().as_str()),
        (_, "front_url") => format!("{public_url}/s/{school_code}/"),
        (MerchantChannel::Wechatpay, "base_url") => wechatpay::DEFAULT_BASE_URL.into(),
        (MerchantChannel::Wechatpay, "oauth_authorize_url") => wechatpay::oauth::DEFAULT_AUTHORIZE_URL.into(),
        (MerchantChannel::Wechatpay, "oauth_token_url") => wechatpay::oauth::DEFAULT_TOKEN_URL.into(),
        (MerchantChannel::Alipay, "gateway_url") => alipay::DEFAULT_GATEWAY_URL.into(),
        (MerchantChannel::Ccb, "gateway_url") => campuspay_channels::ccb::DEFAULT_GATEWAY_URL.into(),
        (MerchantChannel::Ccb, _) => return None,
        (MerchantChannel::Allinpay, "base_url") => campuspay_channels::allinpay::DEFAULT_BASE_URL.into(),
        (MerchantChannel::Allinpay, "cashier_url") => campuspay_channels::allinpay::DEFAULT_CASHIER_URL.into(),
        (_, "base_url") => unionpay::DEFAULT_BASE_URL.into(),
        _ => return None,
    })
}

/// The fields of a channel's form, in the order shown.
pub fn fields_of(channel: MerchantChannel) -> &'static [FieldSpec] {
    match channel {
        MerchantChannel::Wechatpay => WECHATPAY,
        MerchantChannel::Alipay => ALIPAY,
        MerchantChannel::UnionpayGateway | MerchantChannel::UnionpayQr => UNIONPAY,
        MerchantChannel::Ccb => CCB,
        MerchantChannel::Allinpay => ALLINPAY,
    }
}

pub fn spec(channel: MerchantChannel, name: &str) -> Option<&'static FieldSpec> {
    fields_of(channel).iter().find(|s| s.name == name)
}

/// A secret as stored: the seal and when it was last replaced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredSecret {
    #[serde(flatten)]
    pub sealed: Sealed,
    pub set_at: i64,
}

pub type Secrets = BTreeMap<String, StoredSecret>;

/// Where a secret is sealed: bound into its ciphertext, so it opens nowhere else.
pub fn place(school_id: i64, channel: MerchantChannel, field: &str) -> String {
    format!("school:{school_id}/{}/{field}", channel.as_str())
}

/// Opens every stored secret of a channel into `into`.
pub fn open_all(
    keys: &SecretKeys,
    school_id: i64,
    channel: MerchantChannel,
    secrets: &Secrets,
    into: &mut BTreeMap<String, String>,
) -> Result<(), String> {
    for (field, s) in secrets {
        let plain = keys.open(&place(school_id, channel, field), &s.sealed).map_err(|e| format!("{field}: {e}"))?;
        into.insert(field.clone(), plain);
    }
    Ok(())
}

fn refused(field: &'static str, zh: String) -> Error {
    Error::new(ErrorKind::Refused, "invalid_merchant", zh, format!("The field {field} is not valid")).field(field)
}

fn get<'a>(all: &'a BTreeMap<String, String>, name: &str) -> &'a str {
    all.get(name).map(|s| s.trim()).unwrap_or("")
}

/// Checks every field of `all` (plain and opened secrets) on its own, then builds the config.
/// A refusal names the first field at fault.
pub fn to_config(channel: MerchantChannel, all: &BTreeMap<String, String>) -> Result<ChannelConfig, Error> {
    for s in fields_of(channel) {
        let v = get(all, s.name);
        if s.required && v.is_empty() {
            return Err(refused(s.name, format!("请填写{}", s.label)));
        }
        if s.name.ends_with("_url") && !v.is_empty() && !(v.starts_with("https://") || v.starts_with("http://")) {
            return Err(refused(s.name, format!("{}应以 https:// 开头", s.label)));
        }
    }
    let key_error = |field: &'static str, e: campuspay_channels::ChannelError| {
        let label = spec(channel, field).map_or(field, |s| s.label);
        // The channel's "渠道配置有误:" prefix says nothing more beside the field.
        let why = match e {
            campuspay_channels::ChannelError::Config(m) => m,
            other => other.to_string(),
        };
        refused(field, format!("{label}无法使用：{why}"))
    };
    let opt = |name: &str| Some(get(all, name).to_string()).filter(|v| !v.is_empty());
    let value = match channel {
        MerchantChannel::Wechatpay => {
            RsaSigner::from_pem(get(all, "merchant_private_key_pem")).map_err(|e| key_error("merchant_private_key_pem", e))?;
            if get(all, "apiv3_key").len() != 32 {
                return Err(refused("apiv3_key", "API v3 密钥必须是 32 个字符".into()));
            }
            let mut platform_keys = Vec::new();
            if let Some(pem) = opt("platform_public_key_pem") {
                let Some(id) = opt("platform_public_key_id") else {
                    return Err(refused("platform_public_key_id", "填写微信支付公钥时须填写公钥 ID（PUB_KEY_ID_…）".into()));
                };
                RsaVerifier::from_pem(&pem).map_err(|e| key_error("platform_public_key_pem", e))?;
                platform_keys.push(PlatformKey { serial: Some(id), pem });
            } else if opt("platform_public_key_id").is_some() {
                return Err(refused("platform_public_key_pem", "填写了公钥 ID，请同时填写微信支付公钥".into()));
            }
            if let Some(pem) = opt("platform_cert_pem") {
                let k = PlatformKey { serial: None, pem };
                PlatformVerifiers::from_config(std::slice::from_ref(&k)).map_err(|e| key_error("platform_cert_pem", e))?;
                platform_keys.push(k);
            }
            if platform_keys.is_empty() {
                return Err(refused("platform_public_key_pem", "请填写微信支付公钥或平台证书（至少一项）".into()));
            }
            let mut v = json!({
                "provider": "wechatpay",
                "mchid": get(all, "mchid"),
                "appid": get(all, "appid"),
                "merchant_serial_no": get(all, "merchant_serial_no"),
                "merchant_private_key_pem": get(all, "merchant_private_key_pem"),
                "apiv3_key": get(all, "apiv3_key"),
                "platform_keys": platform_keys,
                "notify_url": get(all, "notify_url"),
                "official_account_secret": opt("official_account_secret"),
            });
            for address in ["base_url", "oauth_authorize_url", "oauth_token_url"] {
                if let Some(b) = opt(address) {
                    v[address] = b.into();
                }
            }
            v
        }
        MerchantChannel::Alipay => {
            RsaSigner::from_pem(get(all, "app_private_key_pem")).map_err(|e| key_error("app_private_key_pem", e))?;
            RsaVerifier::from_pem(get(all, "alipay_public_key_pem")).map_err(|e| key_error("alipay_public_key_pem", e))?;
            if let Some(pid) = opt("seller_id")
                && (pid.len() != 16 || !pid.starts_with("2088") || !pid.bytes().all(|b| b.is_ascii_digit()))
            {
                return Err(refused("seller_id", "商户 PID 是 2088 开头的 16 位数字".into()));
            }
            let mut v = json!({
                "provider": "alipay",
                "app_id": get(all, "app_id"),
                "app_private_key_pem": get(all, "app_private_key_pem"),
                "alipay_public_key_pem": get(all, "alipay_public_key_pem"),
                "seller_id": opt("seller_id"),
                "notify_url": get(all, "notify_url"),
            });
            if let Some(g) = opt("gateway_url") {
                v["gateway_url"] = g.into();
            }
            v
        }
        MerchantChannel::Ccb => ccb_value(all)?,
        MerchantChannel::Allinpay => {
            for (name, what) in [("cusid", "商户号"), ("appid", "应用 ID")] {
                if !get(all, name).bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(refused(name, format!("{what}只能是字母和数字")));
                }
            }
            Sha1RsaSigner::from_pem(get(all, "private_key_pem")).map_err(|e| key_error("private_key_pem", e))?;
            Sha1RsaVerifier::from_pem(get(all, "allinpay_public_key_pem")).map_err(|e| key_error("allinpay_public_key_pem", e))?;
            let mut v = json!({
                "provider": "allinpay",
                "cusid": get(all, "cusid"),
                "appid": get(all, "appid"),
                "private_key_pem": get(all, "private_key_pem"),
                "allinpay_public_key_pem": get(all, "allinpay_public_key_pem"),
                "notify_url": get(all, "notify_url"),
                "return_url": get(all, "front_url"),
            });
            for address in ["base_url", "cashier_url"] {
                if let Some(b) = opt(address) {
                    v[address] = b.into();
                }
            }
            v
        }
        MerchantChannel::UnionpayGateway | MerchantChannel::UnionpayQr => {
            if !get(all, "mer_id").bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(refused("mer_id", "商户代码只能是字母和数字（一般为 15 位）".into()));
            }
            if !get(all, "cert_id").bytes().all(|b| b.is_ascii_digit()) {
                return Err(refused("cert_id", "签名证书 ID 是十进制数字".into()));
            }
            RsaSigner::from_pem(get(all, "private_key_pem")).map_err(|e| key_error("private_key_pem", e))?;
            UnionpayKey::from_pem(get(all, "unionpay_public_key_pem")).map_err(|e| key_error("unionpay_public_key_pem", e))?;
            let product = if channel == MerchantChannel::UnionpayQr { "qr" } else { "gateway" };
            let mut v = json!({
                "provider": "unionpay",
                "product": product,
                "mer_id": get(all, "mer_id"),
                "cert_id": get(all, "cert_id"),
                "private_key_pem": get(all, "private_key_pem"),
                "unionpay_public_key_pem": get(all, "unionpay_public_key_pem"),
                "notify_url": get(all, "notify_url"),
                "front_url": get(all, "front_url"),
                "file_transfer_url": opt("file_transfer_url"),
            });
            if let Some(b) = opt("base_url") {
                v["base_url"] = b.into();
            }
            v
        }
    };
    let config: ChannelConfig = serde_json::from_value(value).map_err(|e| {
        Error::new(ErrorKind::Refused, "invalid_merchant", format!("商户配置有误：{e}"), format!("The configuration is invalid: {e}"))
    })?;
    // Whatever the per-field checks above cannot see (e.g. a key's size) the adapter refuses.
    config.build().map_err(|e| {
        Error::new(ErrorKind::Refused, "invalid_merchant", format!("商户配置无法使用：{e}"), "The configuration cannot be used")
    })?;
    Ok(config)
}

/// The CCB form's fields, each checked on its own, as the config's JSON.
fn ccb_value(all: &BTreeMap<String, String>) -> Result<serde_json::Value, Error> {
    let digits = |name: &'static str, n: usize, label: &str| {
        let v = get(all, name);
        if v.len() == n && v.bytes().all(|b| b.is_ascii_digit()) {
            Ok(())
        } else {
            Err(refused(name, format!("{label}须为 {n} 位数字")))
        }
    };
    digits("merchant_id", 15, "商户代码")?;
    digits("pos_id", 9, "柜台代码")?;
    digits("branch_id", 9, "分行代码")?;
    let key: String = get(all, "ccb_public_key_hex").split_whitespace().collect();
    campuspay_channels::ccb::sign::CcbPublicKey::from_hex(&key).map_err(|e| {
        let why = match e {
            campuspay_channels::ChannelError::Config(m) => m,
            other => other.to_string(),
        };
        refused("ccb_public_key_hex", format!("建行公钥无法使用：{why}"))
    })?;
    let ebs = ["ebs_addr", "ebs_cust_id", "ebs_user_id"];
    let given = ebs.iter().filter(|n| !get(all, n).is_empty()).count();
    if given != 0 && given != ebs.len() {
        let missing = ebs.iter().find(|n| get(all, n).is_empty()).copied().unwrap_or("ebs_addr");
        return Err(refused(missing, "外联平台的地址、商户号和操作员须一并填写".into()));
    }
    let addr = get(all, "ebs_addr");
    if !addr.is_empty() && addr.rsplit_once(':').is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err()) {
        return Err(refused("ebs_addr", "外联平台地址应为 主机:端口".into()));
    }
    let mut v = json!({
        "provider": "ccb",
        "merchant_id": get(all, "merchant_id"),
        "pos_id": get(all, "pos_id"),
        "branch_id": get(all, "branch_id"),
        "ccb_public_key_hex": key,
        "operator": get(all, "operator"),
        "query_password": get(all, "query_password"),
        "ebs_addr": addr,
        "ebs_cust_id": get(all, "ebs_cust_id"),
        "ebs_user_id": get(all, "ebs_user_id"),
        "ebs_password": get(all, "ebs_password"),
    });
    for address in ["gateway_url", "query_url"] {
        if let Some(b) = Some(get(all, address)).filter(|v| !v.is_empty()) {
            v[address] = b.into();
        }
    }
    Ok(v)
}

/// The form's fields of a configuration (the old plaintext table's rows, sealed at start-up).
pub fn from_config(config: &ChannelConfig) -> (MerchantChannel, BTreeMap<String, String>) {
    let mut m = BTreeMap::new();
    let mut put = |k: &str, v: &str| {
        if !v.is_empty() {
            m.insert(k.to_string(), v.to_string());
        }
    };
    let channel = match config {
        ChannelConfig::Wechatpay(c) => {
            put("mchid", &c.mchid);
            put("appid", &c.appid);
            put("merchant_serial_no", &c.merchant_serial_no);
            put("merchant_private_key_pem", &c.merchant_private_key_pem);
            put("apiv3_key", &c.apiv3_key);
            for k in &c.platform_keys {
                if k.pem.contains("CERTIFICATE") {
                    put("platform_cert_pem", &k.pem);
                } else {
                    put("platform_public_key_pem", &k.pem);
                    put("platform_public_key_id", k.serial.as_deref().unwrap_or(""));
                }
            }
            put("official_account_secret", c.official_account_secret.as_deref().unwrap_or(""));
            put("notify_url", &c.notify_url);
            put("base_url", &c.base_url);
            put("oauth_authorize_url", &c.oauth_authorize_url);
            put("oauth_token_url", &c.oauth_token_url);
            MerchantChannel::Wechatpay
        }
        ChannelConfig::Alipay(c) => {
            put("app_id", &c.app_id);
            put("app_private_key_pem", &c.app_private_key_pem);
            put("alipay_public_key_pem", &c.alipay_public_key_pem);
            put("seller_id", c.seller_id.as_deref().unwrap_or(""));
            put("notify_url", &c.notify_url);
            put("gateway_url", &c.gateway_url);
            MerchantChannel::Alipay
        }
        ChannelConfig::Ccb(c) => {
            put("merchant_id", &c.merchant_id);
            put("pos_id", &c.pos_id);
            put("branch_id", &c.branch_id);
            put("ccb_public_key_hex", &c.ccb_public_key_hex);
            put("operator", &c.operator);
            put("query_password", &c.query_password);
            put("ebs_addr", &c.ebs_addr);
            put("ebs_cust_id", &c.ebs_cust_id);
            put("ebs_user_id", &c.ebs_user_id);
            put("ebs_password", &c.ebs_password);
            put("gateway_url", &c.gateway_url);
            put("query_url", c.query_url.as_deref().unwrap_or(""));
            MerchantChannel::Ccb
        }
        ChannelConfig::Unionpay(c) => {
            put("mer_id", &c.mer_id);
            put("cert_id", &c.cert_id);
            put("private_key_pem", &c.private_key_pem);
            put("unionpay_public_key_pem", &c.unionpay_public_key_pem);
            put("notify_url", &c.notify_url);
            put("front_url", &c.front_url);
            put("base_url", &c.base_url);
            put("file_transfer_url", c.file_transfer_url.as_deref().unwrap_or(""));
            if c.product == campuspay_channels::unionpay::UnionpayProduct::Qr {
                MerchantChannel::UnionpayQr
            } else {
                MerchantChannel::UnionpayGateway
            }
        }
        ChannelConfig::Allinpay(c) => {
            put("cusid", &c.cusid);
            put("appid", &c.appid);
            put("private_key_pem", &c.private_key_pem);
            put("allinpay_public_key_pem", &c.allinpay_public_key_pem);
            put("notify_url", &c.notify_url);
            put("front_url", &c.return_url);
            put("base_url", &c.base_url);
            put("cashier_url", &c.cashier_url);
            MerchantChannel::Allinpay
        }
    };
    (channel, m)
}

/// Splits a form's fields into the plain ones and the sealed secrets (sealed now, at `now`).
pub fn seal_fields(
    keys: &SecretKeys,
    school_id: i64,
    channel: MerchantChannel,
    all: &BTreeMap<String, String>,
    now: i64,
) -> (BTreeMap<String, String>, Secrets) {
    let (mut plain, mut secrets) = (BTreeMap::new(), Secrets::new());
    for (k, v) in all {
        match spec(channel, k) {
            Some(s) if s.secret => {
                secrets.insert(k.clone(), StoredSecret { sealed: keys.seal(&place(school_id, channel, k), v), set_at: now });
            }
            _ => {
                plain.insert(k.clone(), v.clone());
            }
        }
    }
    (plain, secrets)
}

#[cfg(test)]
mod ccb_tests {
    use super::*;

    /// A 1024-bit public key as CCB hands it out (hex DER), made with `openssl genrsa 1024`.
    const KEY: &str = "30819f300d06092a864886f70d010101050003818d0030818902818100e272ef12400667f6ff06c854543bb2da2c5ca20df45a59ecfaf215743fa2b22f276329f7737c50dc24ddca97e6535d00c4044a49f30c6d0f19af529469a393068a63272c55ccd4238e1341a4253cabf2d798a97e65f45c89fe5be175755ba06e1c864a1bb808de770b4c5b050baa7e4006b98228df6325feca3d17586a8b55290203010001";

    fn form() -> BTreeMap<String, String> {
        [
            ("merchant_id", "105000000000001"),
            ("pos_id", "123456789"),
            ("branch_id", "442000000"),
            ("ccb_public_key_hex", KEY),
            ("operator", "000001"),
            ("query_password", "secret"),
            ("ebs_addr", "10.0.0.5:12345"),
            ("ebs_cust_id", "105000000000001"),
            ("ebs_user_id", "WLPT01"),
            ("ebs_password", "secret2"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn a_ccb_form_builds_its_config_and_its_secrets_are_the_passwords() {
        let ChannelConfig::Ccb(c) = to_config(MerchantChannel::Ccb, &form()).unwrap() else { panic!("a CCB config") };
        assert_eq!((c.pos_id.as_str(), c.ebs_addr.as_str()), ("123456789", "10.0.0.5:12345"));
        assert_eq!(c.gateway_url, campuspay_channels::ccb::DEFAULT_GATEWAY_URL);
        let secrets: Vec<&str> = fields_of(MerchantChannel::Ccb).iter().filter(|s| s.secret).map(|s| s.name).collect();
        assert_eq!(secrets, ["query_password", "ebs_password"]);
        let (channel, back) = from_config(&ChannelConfig::Ccb(c));
        assert_eq!(channel, MerchantChannel::Ccb);
        assert_eq!(back.get("ccb_public_key_hex").map(String::as_str), Some(KEY));
    }

    #[test]
    fn each_bad_ccb_field_is_refused_by_name_in_chinese() {
        for (field, value, says) in [
            ("merchant_id", "12345", "15 位数字"),
            ("pos_id", "12345678X", "9 位数字"),
            ("branch_id", "", "请填写分行代码"),
            ("ccb_public_key_hex", "30819f00", "建行公钥无法使用"),
            ("ebs_addr", "10.0.0.5", "主机:端口"),
            ("ebs_user_id", "", "须一并填写"),
        ] {
            let mut f = form();
            f.insert(field.to_string(), value.to_string());
            let e = to_config(MerchantChannel::Ccb, &f).unwrap_err();
            assert_eq!(e.field, Some(field), "{field}: {e:?}");
            assert!(e.zh.contains(says), "{field}: {}", e.zh);
        }
    }
}
