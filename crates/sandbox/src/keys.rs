//! The simulator's own identity: provider key pairs, the merchant key pairs it hands to our side,
//! the WeChat APIv3 key, serials and app ids. Generated on first start into a directory (PEM
//! files + `sandbox.json`), reused on later starts so configs and SDKs pointed at it keep working.

use super::unionpay::IssuedChain;
use super::{GeneratedKeyPair, generate_rsa_2048};
use campuspay_channels::ChannelError;
use campuspay_channels::alipay::AlipayConfig;
use campuspay_channels::allinpay::AllinpayConfig;
use campuspay_channels::crypto::random_nonce;
use campuspay_channels::unionpay::{UnionpayConfig, UnionpayProduct};
use campuspay_channels::wechatpay::{PlatformKey, WechatPayConfig};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The manifest file in the sandbox directory.
pub const MANIFEST: &str = "sandbox.json";

/// The four key pairs, by file stem (`<stem>_private_key.pem`, `<stem>_public_key.pem`).
const WECHAT_MERCHANT: &str = "wechatpay_merchant";
const WECHAT_PLATFORM: &str = "wechatpay_platform";
const ALIPAY_APP: &str = "alipay_app";
const ALIPAY_PLATFORM: &str = "alipay_platform";
const UNIONPAY_MERCHANT: &str = "unionpay_merchant";
const UNIONPAY_PLATFORM: &str = "unionpay_platform";
const ALLINPAY_MERCHANT: &str = "allinpay_merchant";
const ALLINPAY_PLATFORM: &str = "allinpay_platform";
/// UnionPay's signing certificate (`signPubKeyCert`), issued by the middle certificate.
pub const UNIONPAY_CERT: &str = "unionpay_platform_cert.pem";
/// The simulated UnionPay's root and middle CA certificates (the merchant configures both, as
/// `acp_prod_root.cer` / `acp_prod_middle.cer`). Their private keys are not kept: nothing more
/// is issued after the signing certificate.
pub const UNIONPAY_ROOT_CERT: &str = "unionpay_root_cert.pem";
pub const UNIONPAY_MIDDLE_CERT: &str = "unionpay_middle_cert.pem";
/// The simulated CCB's 1024-bit notification key (PKCS#8 PEM) and its public half as CCB hands
/// it to merchants: the hex of the DER `SubjectPublicKeyInfo`.
pub const CCB_PRIVATE_KEY: &str = "ccb_platform_private_key.pem";
pub const CCB_PUBLIC_KEY_HEX: &str = "ccb_platform_public_key.hex";

/// The ids and secrets of the simulated WeChat Pay merchant.
#[derive(Clone, Serialize, Deserialize)]
pub struct WechatIds {
    pub mchid: String,
    pub appid: String,
    /// Serial of the (simulated) merchant API certificate.
    pub merchant_serial_no: String,
    /// The platform public key id (`PUB_KEY_ID_…`): the sandbox runs in public-key mode.
    pub platform_public_key_id: String,
    pub apiv3_key: String,
}

/// The ids of the simulated Alipay application.
#[derive(Clone, Serialize, Deserialize)]
pub struct AlipayIds {
    pub app_id: String,
    /// The merchant PID (2088…), sent as `seller_id` in notifications.
    pub seller_id: String,
}

/// The ids of the simulated UnionPay merchant.
#[derive(Clone, Serialize, Deserialize)]
pub struct UnionpayIds {
    /// 商户代码 (15 digits).
    pub mer_id: String,
    /// `certId` of the merchant signing certificate (its decimal serial).
    pub merchant_cert_id: String,
    /// Serial of UnionPay's signing certificate.
    pub platform_cert_serial: u64,
}

/// The ids of the simulated CCB merchant (one merchant; each school's config is one of its POS).
#[derive(Clone, Serialize, Deserialize)]
pub struct CcbIds {
    /// `MERCHANTID` (15 digits) and `BRANCHID` (9).
    pub merchant_id: String,
    pub branch_id: String,
    /// 商户通 `OPERATOR` and `QUPWD`.
    pub operator: String,
    pub query_password: String,
    /// The 外联平台 login (`CUST_ID` is the merchant id).
    pub ebs_user_id: String,
    pub ebs_password: String,
}

/// The ids of the simulated 通联收银宝 merchant.
#[derive(Clone, Serialize, Deserialize)]
pub struct AllinpayIds {
    /// 商户号 `cusid` (15 characters).
    pub cusid: String,
    /// 应用 ID `appid` (8 digits).
    pub appid: String,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub wechatpay: WechatIds,
    pub alipay: AlipayIds,
    /// Absent in directories made before UnionPay was simulated: added on the next start.
    #[serde(default)]
    pub unionpay: Option<UnionpayIds>,
    /// Absent in directories made before CCB was simulated: added on the next start.
    #[serde(default)]
    pub ccb: Option<CcbIds>,
    /// Absent in directories made before 通联 was simulated: added on the next start.
    #[serde(default)]
    pub allinpay: Option<AllinpayIds>,
}

/// The CCB part of the sandbox's identity.
#[derive(Clone)]
pub struct CcbKeys {
    pub ids: CcbIds,
    pub private_pkcs8_pem: String,
    pub public_hex: String,
}

/// The 通联 part of the sandbox's identity: the merchant's key pair (its public key is what the
/// merchant uploads to 通联) and 通联's own (its public key is what 通联 hands the merchant).
#[derive(Clone)]
pub struct AllinpayKeys {
    pub ids: AllinpayIds,
    pub merchant: GeneratedKeyPair,
    pub platform: GeneratedKeyPair,
}

/// The UnionPay part of the sandbox's identity.
#[derive(Clone)]
pub struct UnionpayKeys {
    pub ids: UnionpayIds,
    pub merchant: GeneratedKeyPair,
    pub platform: GeneratedKeyPair,
    pub platform_cert_pem: String,
    pub root_cert_pem: String,
    pub middle_cert_pem: String,
}

/// Everything loaded from (or just written to) the sandbox directory.
#[derive(Clone)]
pub struct SandboxKeys {
    pub dir: PathBuf,
    pub ids: Manifest,
    pub wechat_merchant: GeneratedKeyPair,
    pub wechat_platform: GeneratedKeyPair,
    pub alipay_app: GeneratedKeyPair,
    pub alipay_platform: GeneratedKeyPair,
    pub unionpay: UnionpayKeys,
    pub ccb: CcbKeys,
    pub allinpay: AllinpayKeys,
}

fn io_err(path: &Path, e: std::io::Error) -> ChannelError {
    ChannelError::Config(format!("沙箱密钥文件 {}: {e}", path.display()))
}

fn private_path(dir: &Path, stem: &str) -> PathBuf {
    dir.join(format!("{stem}_private_key.pem"))
}

fn public_path(dir: &Path, stem: &str) -> PathBuf {
    dir.join(format!("{stem}_public_key.pem"))
}

/// `n` random decimal digits.
pub fn random_digits(n: usize) -> String {
    random_nonce(n).bytes().map(|b| char::from(b'0' + b % 10)).collect()
}

fn random_hex_upper(n: usize) -> String {
    random_nonce(n).bytes().map(|b| char::from(b"0123456789ABCDEF"[usize::from(b % 16)])).collect()
}

fn write_file(path: &Path, text: &str, private: bool) -> Result<(), ChannelError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    use std::io::Write;
    opts.open(path).and_then(|mut f| f.write_all(text.as_bytes())).map_err(|e| io_err(path, e))
}

fn read_file(path: &Path) -> Result<String, ChannelError> {
    std::fs::read_to_string(path).map_err(|e| io_err(path, e))
}

impl SandboxKeys {
    /// Loads the keys from `dir`, generating and saving them first if `dir` has no manifest.
    pub fn open(dir: &Path) -> Result<Self, ChannelError> {
        std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        let manifest = dir.join(MANIFEST);
        if manifest.exists() { Self::load(dir) } else { Self::generate(dir) }
    }

    fn load(dir: &Path) -> Result<Self, ChannelError> {
        let path = dir.join(MANIFEST);
        let mut ids: Manifest =
            serde_json::from_str(&read_file(&path)?).map_err(|e| ChannelError::Config(format!("{}: {e}", path.display())))?;
        let pair = |stem: &str| -> Result<GeneratedKeyPair, ChannelError> {
            Ok(GeneratedKeyPair {
                private_pkcs8_pem: read_file(&private_path(dir, stem))?,
                public_spki_pem: read_file(&public_path(dir, stem))?,
            })
        };
        let unionpay = match &ids.unionpay {
            // Directories made before the chain (a self-signed signing certificate, which the
            // official SDKs refuse): the same key gets a chained certificate; ids, keys and
            // trades stay as they were.
            Some(u) if !dir.join(UNIONPAY_ROOT_CERT).exists() => {
                let platform = pair(UNIONPAY_PLATFORM)?;
                let c = write_chain(dir, &platform, u.platform_cert_serial)?;
                tracing::info!(dir = %dir.display(), "sandbox: UnionPay's signing certificate reissued under a root and a middle CA");
                UnionpayKeys::new(u.clone(), pair(UNIONPAY_MERCHANT)?, platform, c)
            }
            Some(u) => UnionpayKeys {
                ids: u.clone(),
                merchant: pair(UNIONPAY_MERCHANT)?,
                platform: pair(UNIONPAY_PLATFORM)?,
                platform_cert_pem: read_file(&dir.join(UNIONPAY_CERT))?,
                root_cert_pem: read_file(&dir.join(UNIONPAY_ROOT_CERT))?,
                middle_cert_pem: read_file(&dir.join(UNIONPAY_MIDDLE_CERT))?,
            },
            None => {
                let u = generate_unionpay(dir)?;
                ids.unionpay = Some(u.ids.clone());
                write_manifest(dir, &ids)?;
                u
            }
        };
        let ccb = match &ids.ccb {
            Some(c) => CcbKeys {
                ids: c.clone(),
                private_pkcs8_pem: read_file(&dir.join(CCB_PRIVATE_KEY))?,
                public_hex: read_file(&dir.join(CCB_PUBLIC_KEY_HEX))?.trim().to_string(),
            },
            None => {
                let c = generate_ccb(dir)?;
                ids.ccb = Some(c.ids.clone());
                write_manifest(dir, &ids)?;
                c
            }
        };
        let allinpay = match &ids.allinpay {
            Some(a) => AllinpayKeys { ids: a.clone(), merchant: pair(ALLINPAY_MERCHANT)?, platform: pair(ALLINPAY_PLATFORM)? },
            None => {
                let a = generate_allinpay(dir)?;
                ids.allinpay = Some(a.ids.clone());
                write_manifest(dir, &ids)?;
                a
            }
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            ids,
            ccb,
            wechat_merchant: pair(WECHAT_MERCHANT)?,
            wechat_platform: pair(WECHAT_PLATFORM)?,
            alipay_app: pair(ALIPAY_APP)?,
            alipay_platform: pair(ALIPAY_PLATFORM)?,
            unionpay,
            allinpay,
        })
    }

    fn generate(dir: &Path) -> Result<Self, ChannelError> {
        let unionpay = generate_unionpay(dir)?;
        let ccb = generate_ccb(dir)?;
        let allinpay = generate_allinpay(dir)?;
        let keys = Self {
            dir: dir.to_path_buf(),
            ids: Manifest {
                wechatpay: WechatIds {
                    mchid: format!("19{}", random_digits(8)),
                    appid: format!("wx{}", random_hex_upper(16).to_lowercase()),
                    merchant_serial_no: random_hex_upper(40),
                    platform_public_key_id: format!("PUB_KEY_ID_01{}", random_digits(22)),
                    apiv3_key: random_nonce(32),
                },
                alipay: AlipayIds { app_id: format!("2021{}", random_digits(12)), seller_id: format!("2088{}", random_digits(12)) },
                unionpay: Some(unionpay.ids.clone()),
                ccb: Some(ccb.ids.clone()),
                allinpay: Some(allinpay.ids.clone()),
            },
            ccb,
            wechat_merchant: generate_rsa_2048()?,
            wechat_platform: generate_rsa_2048()?,
            alipay_app: generate_rsa_2048()?,
            alipay_platform: generate_rsa_2048()?,
            unionpay,
            allinpay,
        };
        for (stem, pair) in [
            (WECHAT_MERCHANT, &keys.wechat_merchant),
            (WECHAT_PLATFORM, &keys.wechat_platform),
            (ALIPAY_APP, &keys.alipay_app),
            (ALIPAY_PLATFORM, &keys.alipay_platform),
        ] {
            write_file(&private_path(dir, stem), &pair.private_pkcs8_pem, true)?;
            write_file(&public_path(dir, stem), &pair.public_spki_pem, false)?;
        }
        // The manifest goes last: a directory without it is regenerated whole.
        write_manifest(dir, &keys.ids)?;
        Ok(keys)
    }

    /// Our side's config for the sandbox's UnionPay `product`: endpoints under
    /// `{base_url}/sandbox/unionpay`, `backUrl` `{notify_base_url}/unionpay`, `frontUrl`
    /// `{base_url}/` (the caller's `return_url` replaces it per order).
    pub fn unionpay_config(&self, base_url: &str, notify_base_url: &str, product: UnionpayProduct) -> UnionpayConfig {
        let base = base_url.trim_end_matches('/');
        let u = &self.unionpay;
        UnionpayConfig {
            product,
            mer_id: u.ids.mer_id.clone(),
            cert_id: u.ids.merchant_cert_id.clone(),
            private_key_pem: u.merchant.private_pkcs8_pem.clone(),
            unionpay_public_key_pem: String::new(),
            root_cert_pem: Some(u.root_cert_pem.clone()),
            middle_cert_pem: Some(u.middle_cert_pem.clone()),
            validate_cn_name: true,
            base_url: format!("{base}/sandbox/unionpay"),
            notify_url: format!("{}/unionpay", notify_base_url.trim_end_matches('/')),
            front_url: format!("{base}/"),
            file_transfer_url: None,
        }
    }

    /// Our side's config for one POS of the sandbox's CCB merchant (its number from `pos_id`),
    /// posting orders and queries to `{base_url}/sandbox/ccb/ccbMain` and refunding through the
    /// simulated 外联平台 at `ebs_addr`.
    pub fn ccb_config(&self, base_url: &str, pos_id: &str, ebs_addr: &str) -> campuspay_channels::ccb::CcbConfig {
        let c = &self.ccb.ids;
        campuspay_channels::ccb::CcbConfig {
            merchant_id: c.merchant_id.clone(),
            pos_id: pos_id.to_string(),
            branch_id: c.branch_id.clone(),
            ccb_public_key_hex: self.ccb.public_hex.clone(),
            gateway_url: format!("{}/sandbox/ccb/ccbMain", base_url.trim_end_matches('/')),
            query_url: None,
            operator: c.operator.clone(),
            query_password: c.query_password.clone(),
            ebs_addr: ebs_addr.to_string(),
            ebs_cust_id: c.merchant_id.clone(),
            ebs_user_id: c.ebs_user_id.clone(),
            ebs_password: c.ebs_password.clone(),
        }
    }
    /// Our side's config for the sandbox's 通联收银宝: API and cashier under
    /// `{base_url}/sandbox/allinpay`, notifications to `{notify_base_url}/allinpay`, `returl`
    /// `{base_url}/` (the caller's `return_url` replaces it per order).
    pub fn allinpay_config(&self, base_url: &str, notify_base_url: &str) -> AllinpayConfig {
        let base = base_url.trim_end_matches('/');
        let a = &self.allinpay;
        AllinpayConfig {
            cusid: a.ids.cusid.clone(),
            appid: a.ids.appid.clone(),
            private_key_pem: a.merchant.private_pkcs8_pem.clone(),
            allinpay_public_key_pem: a.platform.public_spki_pem.clone(),
            base_url: format!("{base}/sandbox/allinpay"),
            cashier_url: format!("{base}/sandbox/allinpay"),
            notify_url: format!("{}/allinpay", notify_base_url.trim_end_matches('/')),
            return_url: format!("{base}/"),
        }
    }

    /// Our side's configs for a sandbox whose router is mounted at `base_url` (e.g.
    /// `http://127.0.0.1:8080`) and whose notifications go to `{notify_base_url}/wechatpay` and
    /// `{notify_base_url}/alipay` (e.g. `notify_base_url` = `http://127.0.0.1:8080/notify`).
    pub fn merchant_configs(&self, base_url: &str, notify_base_url: &str) -> (WechatPayConfig, AlipayConfig) {
        let base = base_url.trim_end_matches('/');
        let notify = notify_base_url.trim_end_matches('/');
        let w = &self.ids.wechatpay;
        let a = &self.ids.alipay;
        let wechat = WechatPayConfig {
            mchid: w.mchid.clone(),
            appid: w.appid.clone(),
            merchant_serial_no: w.merchant_serial_no.clone(),
            merchant_private_key_pem: self.wechat_merchant.private_pkcs8_pem.clone(),
            apiv3_key: w.apiv3_key.clone(),
            platform_keys: vec![PlatformKey {
                serial: Some(w.platform_public_key_id.clone()),
                pem: self.wechat_platform.public_spki_pem.clone(),
            }],
            notify_url: format!("{notify}/wechatpay"),
            base_url: format!("{base}/sandbox/wechatpay"),
            official_account_secret: Some(self.official_account_secret()),
            oauth_authorize_url: format!("{base}{}", crate::wechat_jsapi::AUTHORIZE_PATH),
            oauth_token_url: format!("{base}{}", crate::wechat_jsapi::TOKEN_PATH),
        };
        let alipay = AlipayConfig {
            app_id: a.app_id.clone(),
            app_private_key_pem: self.alipay_app.private_pkcs8_pem.clone(),
            alipay_public_key_pem: self.alipay_platform.public_spki_pem.clone(),
            seller_id: Some(a.seller_id.clone()),
            notify_url: format!("{notify}/alipay"),
            gateway_url: format!("{base}/sandbox/alipay/gateway.do"),
        };
        (wechat, alipay)
    }

    /// The AppSecret of the simulated official account (公众号) whose AppID is the merchant's
    /// `appid`, for WeChat's web sign-in. Derived from the APIv3 key, so it needs no new file
    /// and stays the same for the life of the sandbox's keys.
    pub fn official_account_secret(&self) -> String {
        let w = &self.ids.wechatpay;
        let mac =
            campuspay_channels::crypto::hmac_sha256_hex(w.apiv3_key.as_bytes(), format!("official-account-secret:{}", w.appid).as_bytes());
        mac[..32].to_string()
    }

    /// Ids, key file paths and API keys, for pointing any WeChat Pay / Alipay SDK at the sandbox.
    pub fn credentials_json(&self) -> String {
        // Absolute, so an SDK started from any folder finds them.
        let file = |p: PathBuf| std::path::absolute(&p).unwrap_or(p).display().to_string();
        let dir = &self.dir;
        let w = &self.ids.wechatpay;
        let a = &self.ids.alipay;
        let value = serde_json::json!({
            "directory": file(dir.clone()),
            "wechatpay": {
                "base_path": "/sandbox/wechatpay",
                // `campuspay sandbox` also serves the API at /v3/ on its root: the base for
                // SDKs that sign only from /v3/ (e.g. wechatpayv3's gateway).
                "standalone_base_path": "",
                "mchid": w.mchid,
                "appid": w.appid,
                "merchant_serial_no": w.merchant_serial_no,
                "merchant_private_key_file": file(private_path(dir, WECHAT_MERCHANT)),
                "apiv3_key": w.apiv3_key,
                "platform_public_key_id": w.platform_public_key_id,
                "platform_public_key_file": file(public_path(dir, WECHAT_PLATFORM)),
                "official_account_secret": self.official_account_secret(),
                "oauth_authorize_path": crate::wechat_jsapi::AUTHORIZE_PATH,
                "oauth_token_path": crate::wechat_jsapi::TOKEN_PATH,
            },
            "alipay": {
                "gateway_path": "/sandbox/alipay/gateway.do",
                "app_id": a.app_id,
                "seller_id": a.seller_id,
                "sign_type": "RSA2",
                "app_private_key_file": file(private_path(dir, ALIPAY_APP)),
                "app_public_key_file": file(public_path(dir, ALIPAY_APP)),
                "alipay_public_key_file": file(public_path(dir, ALIPAY_PLATFORM)),
            },
            "unionpay": {
                "base_path": "/sandbox/unionpay",
                "version": campuspay_channels::unionpay::sign::VERSION,
                "sign_method": "01",
                "mer_id": self.unionpay.ids.mer_id,
                "cert_id": self.unionpay.ids.merchant_cert_id,
                "merchant_private_key_file": file(private_path(dir, UNIONPAY_MERCHANT)),
                "unionpay_sign_cert_file": file(dir.join(UNIONPAY_CERT)),
                "root_cert_file": file(dir.join(UNIONPAY_ROOT_CERT)),
                "middle_cert_file": file(dir.join(UNIONPAY_MIDDLE_CERT)),
                "sign_cert_owner": campuspay_channels::unionpay::cert::UNIONPAY_CN_NAME,
            },
            "ccb": {
                "gateway_path": "/sandbox/ccb/ccbMain",
                "merchant_id": self.ccb.ids.merchant_id,
                "branch_id": self.ccb.ids.branch_id,
                "pos_id": "one per notify address: see PUT /sandbox/ccb/pos",
                "ccb_public_key_hex": self.ccb.public_hex,
                "ccb_public_key_file": file(dir.join(CCB_PUBLIC_KEY_HEX)),
                "pub": campuspay_channels::ccb::sign::pub30(&self.ccb.public_hex).unwrap_or_default(),
                "operator": self.ccb.ids.operator,
                "query_password": self.ccb.ids.query_password,
                "ebs_cust_id": self.ccb.ids.merchant_id,
                "ebs_user_id": self.ccb.ids.ebs_user_id,
                "ebs_password": self.ccb.ids.ebs_password,
            },
            "allinpay": {
                // pyallinpay: API_BASE_URL and SYB_API_BASE_URL both `{server}/sandbox/allinpay/`.
                "base_path": "/sandbox/allinpay",
                "cusid": self.allinpay.ids.cusid,
                "appid": self.allinpay.ids.appid,
                "signtype": "RSA",
                "merchant_private_key_file": file(private_path(dir, ALLINPAY_MERCHANT)),
                "merchant_public_key_file": file(public_path(dir, ALLINPAY_MERCHANT)),
                "allinpay_public_key_file": file(public_path(dir, ALLINPAY_PLATFORM)),
            },
        });
        serde_json::to_string_pretty(&value).unwrap_or_default()
    }
}

fn write_manifest(dir: &Path, ids: &Manifest) -> Result<(), ChannelError> {
    let manifest = serde_json::to_string_pretty(ids).map_err(|e| ChannelError::Config(e.to_string()))?;
    write_file(&dir.join(MANIFEST), &manifest, true)
}

/// The UnionPay merchant and platform keys, and UnionPay's certificates, written into `dir`.
fn generate_unionpay(dir: &Path) -> Result<UnionpayKeys, ChannelError> {
    let serial: u64 = format!("7{}", random_digits(10)).parse().unwrap_or(69_629_715_588);
    let ids = UnionpayIds {
        mer_id: format!("777{}", random_digits(12)),
        merchant_cert_id: format!("6{}", random_digits(10)),
        platform_cert_serial: serial,
    };
    let merchant = generate_rsa_2048()?;
    let platform = generate_rsa_2048()?;
    for (stem, pair) in [(UNIONPAY_MERCHANT, &merchant), (UNIONPAY_PLATFORM, &platform)] {
        write_file(&private_path(dir, stem), &pair.private_pkcs8_pem, true)?;
        write_file(&public_path(dir, stem), &pair.public_spki_pem, false)?;
    }
    let c = write_chain(dir, &platform, serial)?;
    Ok(UnionpayKeys::new(ids, merchant, platform, c))
}

/// The CCB merchant's ids and the simulated CCB's key, written into `dir`.
fn generate_ccb(dir: &Path) -> Result<CcbKeys, ChannelError> {
    let ids = CcbIds {
        merchant_id: format!("1050{}", random_digits(11)),
        branch_id: format!("44{}", random_digits(7)),
        operator: random_digits(6),
        query_password: random_nonce(12),
        ebs_user_id: format!("WLPT{}", random_digits(2)),
        ebs_password: random_nonce(12),
    };
    let k = super::ccb::generate_key()?;
    write_file(&dir.join(CCB_PRIVATE_KEY), &k.private_pkcs8_pem, true)?;
    write_file(&dir.join(CCB_PUBLIC_KEY_HEX), &k.public_hex, false)?;
    Ok(CcbKeys { ids, private_pkcs8_pem: k.private_pkcs8_pem, public_hex: k.public_hex })
}
/// The 通联 merchant and platform keys, written into `dir`.
fn generate_allinpay(dir: &Path) -> Result<AllinpayKeys, ChannelError> {
    let ids = AllinpayIds { cusid: format!("5{}", random_digits(14)), appid: format!("00{}", random_digits(6)) };
    let merchant = generate_rsa_2048()?;
    let platform = generate_rsa_2048()?;
    for (stem, pair) in [(ALLINPAY_MERCHANT, &merchant), (ALLINPAY_PLATFORM, &platform)] {
        write_file(&private_path(dir, stem), &pair.private_pkcs8_pem, true)?;
        write_file(&public_path(dir, stem), &pair.public_spki_pem, false)?;
    }
    Ok(AllinpayKeys { ids, merchant, platform })
}

/// Issues root → middle → signing certificate for `platform` and writes the three; the root
/// goes last, as the mark that the chain is complete.
fn write_chain(dir: &Path, platform: &GeneratedKeyPair, serial: u64) -> Result<IssuedChain, ChannelError> {
    let c = super::unionpay::issue_chain(&platform.public_spki_pem, serial)?;
    write_file(&dir.join(UNIONPAY_CERT), &c.sign_pem, false)?;
    write_file(&dir.join(UNIONPAY_MIDDLE_CERT), &c.middle_pem, false)?;
    write_file(&dir.join(UNIONPAY_ROOT_CERT), &c.root_pem, false)?;
    Ok(c)
}

impl UnionpayKeys {
    fn new(ids: UnionpayIds, merchant: GeneratedKeyPair, platform: GeneratedKeyPair, c: IssuedChain) -> Self {
        Self { ids, merchant, platform, platform_cert_pem: c.sign_pem, root_cert_pem: c.root_pem, middle_cert_pem: c.middle_pem }
    }
}
