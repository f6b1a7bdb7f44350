//! Alipay's side: check an application's request signature, sign answers and notifications.

use campuspay_channels::ChannelError;
use campuspay_channels::alipay::sign::{self, Params};
use campuspay_channels::crypto::{RsaSigner, RsaVerifier};

pub struct AlipayProviderSide {
    /// 支付宝私钥 (the simulated Alipay's own key).
    pub alipay_signer: RsaSigner,
    pub app_id: String,
    /// 应用公钥 (the school's application public key).
    pub app_key: RsaVerifier,
}

impl AlipayProviderSide {
    /// Checks a gateway request (form body or redirect query); returns its parameters.
    pub fn verify_request(&self, form: &[u8]) -> Result<Params, ChannelError> {
        let params = sign::parse_form(form)?;
        if params.get("app_id") != Some(&self.app_id) {
            return Err(ChannelError::WrongMerchant(params.get("app_id").cloned().unwrap_or_default()));
        }
        if params.get("sign_type").map(String::as_str) != Some("RSA2") {
            return Err(ChannelError::BadSignature);
        }
        sign::verify_request(&self.app_key, &params)?;
        Ok(params)
    }

    /// A signed gateway answer for `method` with the `…_response` node `response_json`.
    pub fn respond(&self, method: &str, response_json: &str) -> Result<String, ChannelError> {
        sign::sign_response(&self.alipay_signer, method, response_json)
    }

    /// A signed `{"error_response": node, "sign": …}` (a known app asking for no known method).
    pub fn respond_error(&self, node_json: &str) -> Result<String, ChannelError> {
        let sig = self.alipay_signer.sign_b64(node_json.as_bytes())?;
        Ok(format!("{{\"error_response\":{node_json},\"sign\":{}}}", serde_json::Value::String(sig)))
    }

    /// A signed, form-urlencoded notification body from `params`.
    pub fn notification(&self, mut params: Params) -> Result<String, ChannelError> {
        sign::sign_notify(&self.alipay_signer, &mut params)?;
        Ok(sign::encode_form(&params))
    }
}
