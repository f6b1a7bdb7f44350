//! WeChat Pay API v3 (direct merchant): Native, H5 and JSAPI payments, query, close, refund,
//! and payment notifications, in the published protocol.
//!
//! Verifying keys come from the school's config, in either of WeChat's two modes: platform
//! certificates (serial = certificate serial) or the platform public key (serial =
//! `PUB_KEY_ID_…`). Downloading platform certificates (`/v3/certificates`) is not done here.

pub mod api;
pub mod bill;
pub mod sign;

use crate::crypto::{RsaSigner, random_nonce, unix_now};
use crate::http::{self, PreparedRequest, RawResponse};
use crate::{
    Ack, BoxFuture, ChannelError, CreateOrder, HeaderMap, PayAction, PaymentChannel, PaymentNotice, Provider, ProviderStatus,
    RefundRequest, RefundResult, Statement,
};
use serde::{Deserialize, Serialize};
pub use sign::{PlatformKey, PlatformVerifiers};

pub const DEFAULT_BASE_URL: &str = "https://api.mch.weixin.qq.com";

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_string()
}

/// One school's WeChat Pay merchant, as its JSON config holds it.
#[derive(Clone, Serialize, Deserialize)]
pub struct WechatPayConfig {
    /// 商户号.
    pub mchid: String,
    /// The AppID bound to the merchant (公众号/小程序/移动应用).
    pub appid: String,
    /// Serial number of the merchant API certificate (商户API证书序列号).
    pub merchant_serial_no: String,
    /// `apiclient_key.pem` (PKCS#8).
    pub merchant_private_key_pem: String,
    /// The 32-character APIv3 key.
    pub apiv3_key: String,
    /// Platform certificates and/or the platform public key.
    pub platform_keys: Vec<PlatformKey>,
    /// Our `/notify/{channel}` URL, HTTPS and without query in production.
    pub notify_url: String,
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// The 公众号 AppSecret of `appid`, for WeChat OAuth (`snsapi_base`) to learn a payer's
    /// openid before a JSAPI payment; a secret like the keys. `None` when JSAPI is not used.
    #[serde(default)]
    pub official_account_secret: Option<String>,
}

impl std::fmt::Debug for WechatPayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WechatPayConfig")
            .field("mchid", &self.mchid)
            .field("appid", &self.appid)
            .field("merchant_serial_no", &self.merchant_serial_no)
            .field("platform_keys", &self.platform_keys)
            .field("notify_url", &self.notify_url)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// A WeChat Pay channel with its keys parsed.
pub struct WechatPay {
    config: WechatPayConfig,
    signer: RsaSigner,
    verifiers: PlatformVerifiers,
    client: reqwest::Client,
}

impl WechatPay {
    pub fn new(config: WechatPayConfig) -> Result<Self, ChannelError> {
        if config.apiv3_key.len() != 32 {
            return Err(ChannelError::Config("APIv3 密钥必须是 32 个字符".into()));
        }
        let signer = RsaSigner::from_pem(&config.merchant_private_key_pem)?;
        let verifiers = PlatformVerifiers::from_config(&config.platform_keys)?;
        Ok(Self { config, signer, verifiers, client: http::client() })
    }

    pub fn config(&self) -> &WechatPayConfig {
        &self.config
    }

    /// A signed request to `path_and_query` (e.g. `/v3/pay/transactions/native`).
    pub fn prepare(
        &self,
        method: &'static str,
        path_and_query: &str,
        body: String,
        timestamp: i64,
    ) -> Result<PreparedRequest, ChannelError> {
        let c = &self.config;
        let auth = sign::authorize(
            &self.signer,
            &c.mchid,
            &c.merchant_serial_no,
            sign::RequestToSign { method, path_and_query, body: &body, timestamp, nonce: &random_nonce(32) },
        )?;
        let mut headers = vec![("Authorization", auth.to_header()), ("Accept", "application/json".to_string())];
        if !body.is_empty() {
            headers.push(("Content-Type", "application/json".to_string()));
        }
        Ok(PreparedRequest { method, url: format!("{}{}", c.base_url.trim_end_matches('/'), path_and_query), headers, body })
    }

    /// Checks a response: any 2xx must carry a valid WeChat Pay signature; errors become
    /// [`ChannelError::Provider`].
    pub fn check_response(&self, raw: &RawResponse, now: i64) -> Result<(), ChannelError> {
        if (200..300).contains(&raw.status) {
            sign::verify_wechatpay_headers(&self.verifiers, &raw.headers, &raw.body, now)
        } else {
            Err(api::provider_error(raw))
        }
    }

    async fn call(&self, method: &'static str, path_and_query: String, body: String) -> Result<RawResponse, ChannelError> {
        let req = self.prepare(method, &path_and_query, body, unix_now())?;
        http::send(&self.client, req).await
    }

    /// The trade bill of `date`: the signed tradebill request, then the signed download of the
    /// file, which must hash to the announced SHA1 (see [`bill`]).
    pub async fn trade_bill(&self, date: &str) -> Result<Statement, ChannelError> {
        let raw = self.call("GET", bill::tradebill_path(date)?, String::new()).await?;
        self.check_response(&raw, unix_now())?;
        let location = bill::parse_location(&raw.body)?;
        let path = bill::download_path(&location.download_url, &self.config.base_url)?;
        let mut req = self.prepare("GET", path, String::new(), unix_now())?;
        req.url = location.download_url.clone();
        let (status, _, bytes) = http::send_bytes(&self.client, req).await?;
        if status != 200 {
            let body = String::from_utf8_lossy(&bytes).into_owned();
            return Err(api::provider_error(&RawResponse { status, headers: HeaderMap::new(), body }));
        }
        bill::verify_hash(&bytes, &location)?;
        let text = String::from_utf8(bytes).map_err(|_| ChannelError::Malformed("账单不是 UTF-8 文本".into()))?;
        let statement = bill::parse(date, &text)?;
        statement.check_totals()?;
        Ok(statement)
    }

    pub fn verifiers(&self) -> &PlatformVerifiers {
        &self.verifiers
    }

    /// The JSAPI `paySign` parameter set for a `prepay_id`.
    pub fn jsapi_params(&self, prepay_id: &str, timestamp: i64) -> Result<crate::JsApiParams, ChannelError> {
        api::jsapi_params(&self.signer, &self.config.appid, prepay_id, timestamp, &random_nonce(32))
    }
}

impl PaymentChannel for WechatPay {
    fn provider(&self) -> Provider {
        Provider::Wechatpay
    }

    fn create<'a>(&'a self, order: &'a CreateOrder) -> BoxFuture<'a, PayAction> {
        Box::pin(async move {
            let (path, body) = api::create_body(&self.config, order)?;
            let raw = self.call("POST", path.to_string(), body).await?;
            self.check_response(&raw, unix_now())?;
            match api::parse_create(&raw.body)? {
                api::Created::CodeUrl(content) => Ok(PayAction::Qr { content }),
                api::Created::H5Url(url) => Ok(PayAction::Redirect { url }),
                api::Created::PrepayId(id) => Ok(PayAction::JsApi { params: self.jsapi_params(&id, unix_now())? }),
            }
        })
    }

    fn query<'a>(&'a self, out_trade_no: &'a str) -> BoxFuture<'a, ProviderStatus> {
        Box::pin(async move {
            let raw = self.call("GET", api::query_path(out_trade_no, &self.config.mchid), String::new()).await?;
            match self.check_response(&raw, unix_now()) {
                Err(ChannelError::Provider { status: 404, code, .. }) if code == "ORDER_NOT_EXIST" => Ok(ProviderStatus::NotFound),
                Err(e) => Err(e),
                Ok(()) => api::parse_query(&raw.body, &self.config),
            }
        })
    }

    fn close<'a>(&'a self, out_trade_no: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let body = serde_json::json!({ "mchid": self.config.mchid }).to_string();
            let raw = self.call("POST", api::close_path(out_trade_no), body).await?;
            self.check_response(&raw, unix_now())
        })
    }

    fn refund<'a>(&'a self, req: &'a RefundRequest) -> BoxFuture<'a, RefundResult> {
        Box::pin(async move {
            let raw = self.call("POST", api::REFUND_PATH.to_string(), api::refund_body(req, &self.config.notify_url)).await?;
            self.check_response(&raw, unix_now())?;
            api::parse_refund(&raw.body)
        })
    }

    fn verify_notification(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<PaymentNotice, ChannelError> {
        let body = std::str::from_utf8(body).map_err(|_| ChannelError::Malformed("通知不是 UTF-8".into()))?;
        sign::verify_wechatpay_headers(&self.verifiers, headers, body, now)?;
        api::parse_notification(body, &self.config)
    }

    fn statement<'a>(&'a self, date: &'a str) -> BoxFuture<'a, Statement> {
        Box::pin(self.trade_bill(date))
    }

    fn ack(&self, accepted: bool) -> Ack {
        if accepted {
            Ack { status: 204, content_type: "application/json", body: String::new() }
        } else {
            let body = serde_json::json!({ "code": "FAIL", "message": "失败" }).to_string();
            Ack { status: 500, content_type: "application/json", body }
        }
    }
}

#[cfg(test)]
mod tests;
