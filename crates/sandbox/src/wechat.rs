//! WeChat Pay's side: check a merchant's `Authorization`, sign answers and notifications.

use campuspay_channels::crypto::{RsaSigner, RsaVerifier, aes_256_gcm_seal, random_nonce};
use campuspay_channels::wechatpay::sign::{
    AUTH_SCHEME, AuthorizationParts, HEADER_NONCE, HEADER_SERIAL, HEADER_SIGNATURE, HEADER_SIGNATURE_TYPE, HEADER_TIMESTAMP,
    request_message, response_message,
};
use campuspay_channels::{ChannelError, HeaderMap, MAX_CLOCK_SKEW_S};
use reqwest::header::HeaderValue;

/// One simulated WeChat Pay platform for one merchant.
pub struct WechatProviderSide {
    /// The platform private key and the serial it signs under (a certificate serial or a
    /// `PUB_KEY_ID_…`).
    pub platform_signer: RsaSigner,
    pub platform_serial: String,
    pub mchid: String,
    /// The merchant API certificate serial and its public key.
    pub merchant_serial_no: String,
    pub merchant_key: RsaVerifier,
    pub apiv3_key: String,
}

impl WechatProviderSide {
    /// Checks a request as WeChat Pay does; returns the merchant id on success.
    pub fn verify_request(
        &self,
        method: &str,
        path_and_query: &str,
        authorization: &str,
        body: &str,
        now: i64,
    ) -> Result<String, ChannelError> {
        let auth = AuthorizationParts::parse(authorization)?;
        if auth.mchid != self.mchid {
            return Err(ChannelError::WrongMerchant(auth.mchid));
        }
        if auth.serial_no != self.merchant_serial_no {
            return Err(ChannelError::UnknownSerial(auth.serial_no));
        }
        if (now - auth.timestamp).abs() > MAX_CLOCK_SKEW_S {
            return Err(ChannelError::StaleTimestamp);
        }
        let message = request_message(method, path_and_query, auth.timestamp, &auth.nonce_str, body);
        self.merchant_key.verify_b64(message.as_bytes(), &auth.signature)?;
        Ok(auth.mchid)
    }

    /// The five `Wechatpay-*` headers for an answer or notification `body` (the platform sends
    /// `Wechatpay-Signature-Type` with each; SDKs such as wechatpayv3 refuse an answer without it).
    pub fn sign_headers(&self, body: &str, timestamp: i64) -> Result<HeaderMap, ChannelError> {
        let nonce = random_nonce(32);
        let ts = timestamp.to_string();
        let signature = self.platform_signer.sign_b64(response_message(&ts, &nonce, body).as_bytes())?;
        let mut h = HeaderMap::new();
        for (k, v) in [
            (HEADER_TIMESTAMP, ts),
            (HEADER_NONCE, nonce),
            (HEADER_SIGNATURE, signature),
            (HEADER_SERIAL, self.platform_serial.clone()),
            (HEADER_SIGNATURE_TYPE, AUTH_SCHEME.to_string()),
        ] {
            h.insert(k, HeaderValue::from_str(&v).map_err(|_| ChannelError::Crypto("头部值无效"))?);
        }
        Ok(h)
    }

    /// A `TRANSACTION.SUCCESS`-style notification body whose resource is `transaction_json`
    /// encrypted with the APIv3 key; returns (headers, body).
    pub fn notification(&self, event_type: &str, transaction_json: &str, timestamp: i64) -> Result<(HeaderMap, String), ChannelError> {
        let nonce = random_nonce(12);
        let associated_data = "transaction";
        let ciphertext = aes_256_gcm_seal(self.apiv3_key.as_bytes(), &nonce, associated_data, transaction_json.as_bytes())?;
        let body = serde_json::json!({
            "id": random_nonce(32),
            "create_time": campuspay_channels::wechatpay::api::rfc3339_shanghai(timestamp),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": "支付成功",
            "resource": {
                "original_type": "transaction",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": ciphertext,
                "associated_data": associated_data,
                "nonce": nonce,
            },
        })
        .to_string();
        Ok((self.sign_headers(&body, timestamp)?, body))
    }
}
