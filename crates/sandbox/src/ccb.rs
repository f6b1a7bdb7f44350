//! CCB's side: check a merchant's MAC (the 520100 order, the 410408 query), sign merchant
//! notifications MD5withRSA with the simulated CCB's 1024-bit key, and keep the POS settings
//! that CCB's merchant console holds (where notifications and the browser go: they are not in
//! the order).

use campuspay_channels::ChannelError;
use campuspay_channels::ccb::sign;
use md5::Md5;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// The simulated CCB's key pair: PKCS#8 PEM and the public half as CCB hands it out (hex DER).
pub struct CcbKeyPair {
    pub private_pkcs8_pem: String,
    pub public_hex: String,
}

/// A fresh 1024-bit key, the size CCB's notification key has (a `SIGN` of 256 hex characters).
pub fn generate_key() -> Result<CcbKeyPair, ChannelError> {
    let key = rsa::PrivateKey::new(&mut getrandom::SysRng, 1024).map_err(|_| ChannelError::Crypto("生成建行沙箱密钥失败"))?;
    let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|_| ChannelError::Crypto("导出建行沙箱私钥失败"))?;
    let der = key.to_public_key().to_public_key_der().map_err(|_| ChannelError::Crypto("导出建行沙箱公钥失败"))?;
    Ok(CcbKeyPair { private_pkcs8_pem: pem.to_string(), public_hex: sign::hex(der.as_bytes()) })
}

/// Where CCB sends a POS's server notifications and its payers' browsers after paying (set in
/// CCB's merchant console; here by whoever builds the merchant's config).
#[derive(Debug, Clone, Default)]
pub struct PosUrls {
    pub notify_url: String,
    pub return_url: String,
}

pub struct CcbProviderSide {
    signer: rsa::PrivateKey,
    pub public_hex: String,
    pub merchant_id: String,
    pub branch_id: String,
    pub operator: String,
    pub query_password: String,
    /// The 外联平台 login.
    pub ebs_user_id: String,
    pub ebs_password: String,
    pos: Mutex<HashMap<String, PosUrls>>,
}

impl CcbProviderSide {
    pub fn new(ids: &super::keys::CcbIds, private_pem: &str, public_hex: &str) -> Result<Self, ChannelError> {
        let signer = rsa::PrivateKey::from_pkcs8_pem(private_pem).map_err(|_| ChannelError::Config("建行沙箱私钥无法解析".into()))?;
        Ok(Self {
            signer,
            public_hex: public_hex.trim().to_string(),
            merchant_id: ids.merchant_id.clone(),
            branch_id: ids.branch_id.clone(),
            operator: ids.operator.clone(),
            query_password: ids.query_password.clone(),
            ebs_user_id: ids.ebs_user_id.clone(),
            ebs_password: ids.ebs_password.clone(),
            pos: Mutex::default(),
        })
    }

    /// A POS of the merchant whose notifications go to `notify_url`: its number is derived from
    /// the address (the same on every start and instance), and the address is registered.
    pub fn register_pos(&self, notify_url: &str, return_url: &str) -> String {
        let digest = sign::md5_hex(notify_url);
        let n = u64::from_str_radix(&digest[..12], 16).unwrap_or(0) % 1_000_000_000;
        let pos_id = format!("{n:09}");
        let urls = PosUrls { notify_url: notify_url.to_string(), return_url: return_url.to_string() };
        self.pos.lock().unwrap_or_else(|e| e.into_inner()).insert(pos_id.clone(), urls);
        pos_id
    }

    pub fn pos(&self, pos_id: &str) -> Option<PosUrls> {
        self.pos.lock().unwrap_or_else(|e| e.into_inner()).get(pos_id).cloned()
    }

    pub fn pub30(&self) -> &str {
        sign::pub30(&self.public_hex).unwrap_or_default()
    }

    /// Whether `form`'s `MAC` is the MAC of `order` (`PUB` ours, `QUPWD` empty), a field missing
    /// from the form counting as empty.
    pub fn mac_ok(&self, order: &[&str], form: &BTreeMap<String, String>) -> bool {
        let get = |k: &str| form.get(k).cloned();
        let want = sign::mac(order, &get, self.pub30());
        form.get("MAC").is_some_and(|m| m.eq_ignore_ascii_case(&want))
    }

    /// Hex MD5withRSA over the GBK bytes of `message`.
    pub fn sign_hex(&self, message: &str) -> Result<String, ChannelError> {
        let (bytes, _, _) = encoding_rs::GBK.encode(message);
        let sig = self.signer.pkcs1v15_sign::<Md5>(&bytes).map_err(|_| ChannelError::Crypto("签名失败"))?;
        Ok(sign::hex(&sig))
    }
}
