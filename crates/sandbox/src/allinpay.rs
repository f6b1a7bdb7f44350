//! 通联收银宝's side: check a merchant's request (its `cusid`, `appid` and SHA1withRSA signature
//! with the merchant's public key), sign answers and notifications with the simulated 通联 key.

use campuspay_channels::ChannelError;
use campuspay_channels::allinpay::sign::{self, Params, Sha1RsaSigner, Sha1RsaVerifier};

pub struct AllinpayProviderSide {
    /// The simulated 通联 key.
    pub signer: Sha1RsaSigner,
    pub cusid: String,
    pub appid: String,
    /// The merchant's public key (as uploaded to 通联).
    pub merchant_key: Sha1RsaVerifier,
}

/// Why a request was refused: `retcode=FAIL` and its `retmsg`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

impl AllinpayProviderSide {
    /// Checks a request's fields as 通联 does: merchant, app, signature type and signature.
    pub fn verify_request(&self, p: &Params) -> Result<(), Refusal> {
        let field = |k: &str| p.get(k).map(String::as_str).unwrap_or_default();
        if field("cusid") != self.cusid {
            return Err(Refusal(format!("商户号 {} 不存在", field("cusid"))));
        }
        if field("appid") != self.appid {
            return Err(Refusal(format!("appid {} 与商户不符", field("appid"))));
        }
        if field("randomstr").is_empty() {
            return Err(Refusal("randomstr 不能为空".into()));
        }
        // Without `signtype` 通联 takes the merchant's own (pyallinpay sends none); the sandbox's
        // merchant signs RSA.
        if !matches!(field(sign::SIGN_TYPE), "" | sign::SIGN_TYPE_RSA) {
            return Err(Refusal("沙箱商户只开通了 RSA 签名".into()));
        }
        sign::verify(&self.merchant_key, p).map_err(|_| Refusal("签名验证失败".into()))
    }

    /// The answer of a request taken: `retcode=SUCCESS`, the merchant's ids, a fresh
    /// `randomstr`, `extra`, signed.
    pub fn answer(&self, extra: Vec<(&str, String)>) -> Result<String, ChannelError> {
        let mut p = Params::new();
        p.insert("retcode".into(), "SUCCESS".into());
        p.insert("cusid".into(), self.cusid.clone());
        p.insert("appid".into(), self.appid.clone());
        p.insert("randomstr".into(), sign::random_str());
        for (k, v) in extra {
            p.insert(k.into(), v);
        }
        sign::sign(&self.signer, &mut p)?;
        Ok(serde_json::to_string(&p).unwrap_or_default())
    }

    /// A refusal (`retcode=FAIL`), unsigned as the SDKs expect it (they check no signature on one).
    pub fn refusal(r: &Refusal) -> String {
        serde_json::json!({ "retcode": "FAIL", "retmsg": r.0 }).to_string()
    }
}
