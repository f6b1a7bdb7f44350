//! WeChat Pay API v3 (direct merchant): Native, H5 and JSAPI payments, query, close, refund,
//! and payment notifications, in the published protocol.
//!
//! Verifying keys come from the school's config, in either of WeChat's two modes: platform
//! certificates (serial = certificate serial) or the platform public key (serial =
//! `PUB_KEY_ID_…`). Downloading platform certificates (`/v3/certificates`) is not done here.

pub mod api;
pub mod bill;
pub mod oauth;
pub mod sign;

use crate::crypto::{RsaSigner, random_nonce, unix_now};
use crate::http::{self, PreparedRequest, RawResponse};
use crate::statement::BillBody;
use crate::{
    Ack, BoxFuture, ChannelError, CreateOrder, HeaderMap, PayAction, PaymentChannel, PaymentNotice, Provider, ProviderStatus, RefundNotice,
    RefundRequest, RefundResult, Statement, StatementFile,
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
    /// The AppSecret of the official account (公众号) whose AppID is `appid`: WeChat's web
    /// sign-in (`snsapi_base`) needs it to learn a JSAPI payer's `openid`. Without it the
    /// school cannot offer JSAPI inside WeChat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub official_account_secret: Option<String>,
    /// WeChat's web sign-in page (`open.weixin.qq.com/connect/oauth2/authorize`).
    #[serde(default = "oauth::default_authorize_url")]
    pub oauth_authorize_url: String,
    /// WeChat's code exchange (`api.weixin.qq.com/sns/oauth2/access_token`).
    #[serde(default = "oauth::default_token_url")]
    pub oauth_token_url: String,
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
            .field("official_account_secret", &self.official_account_secret.as_ref().map(|_| "…"))
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

    /// A signed request to `path_and_query` (e.g. `/v3/pay/transactions/native`) below the
    /// configured base URL.
    pub fn prepare(
        &self,
        method: &'static str,
        path_and_query: &str,
        body: String,
        timestamp: i64,
    ) -> Result<PreparedRequest, ChannelError> {
        self.prepare_url(method, format!("{}{}", self.config.base_url.trim_end_matches('/'), path_and_query), body, timestamp)
    }

    /// A signed request to the absolute `url`. The signature covers the URL minus scheme and
    /// host — its whole path, with any prefix of the base URL, and its query — as the signing
    /// rule says (获取请求的绝对URL，并去除域名部分得到参与签名的URL).
    pub fn prepare_url(&self, method: &'static str, url: String, body: String, timestamp: i64) -> Result<PreparedRequest, ChannelError> {
        let c = &self.config;
        let path_and_query = bill::url_path(&url)?;
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
        Ok(PreparedRequest { method, url, headers, body })
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

    /// The trade bill of `date`, asked for gzipped (`tar_type=GZIP`): the signed tradebill
    /// request, then the signed download of the file, which once inflated must hash to the
    /// announced SHA1 (the published `hash_value` is of the bill itself, see [`bill`]).
    pub async fn trade_bill(&self, date: &str) -> Result<Statement, ChannelError> {
        let bytes = bill::gunzip(&self.trade_bill_download(date).await?)?;
        let text = String::from_utf8(bytes).map_err(|_| ChannelError::Malformed("账单不是 UTF-8 文本".into()))?;
        let statement = bill::parse(date, &text)?;
        statement.check_totals()?;
        Ok(statement)
    }

    /// The trade bill of `date` as downloaded (gzip), its SHA1 checked as it is inflated but
    /// not kept inflated: reconciliation reads it line by line and checks its summary then.
    pub async fn trade_bill_file(&self, date: &str) -> Result<StatementFile, ChannelError> {
        let download = self.trade_bill_download(date).await?;
        Ok(StatementFile::WechatTradeBill { date: date.to_string(), body: BillBody::Bytes(download) })
    }

    /// Asks for the bill's location, downloads it, and checks the file's SHA1 (its only
    /// authentication: the download's answer is not signed) as it inflates it.
    async fn trade_bill_download(&self, date: &str) -> Result<Vec<u8>, ChannelError> {
        let raw = self.call("GET", bill::tradebill_path(date)?, String::new()).await?;
        self.check_response(&raw, unix_now())?;
        let location = bill::parse_location(&raw.body)?;
        let req = self.prepare_url("GET", location.download_url.clone(), String::new(), unix_now())?;
        let (status, _, bytes) = http::send_bytes(&self.client, req).await?;
        if status != 200 {
            let body = String::from_utf8_lossy(&bytes).into_owned();
            return Err(api::provider_error(&RawResponse { status, headers: HeaderMap::new(), body }));
        }
        bill::verify_hash_streamed(&bytes, &location)?;
        Ok(bytes)
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

    fn payer_sign_in_url(&self, redirect_uri: &str, state: &str) -> Option<String> {
        let c = &self.config;
        c.official_account_secret.as_ref()?;
        oauth::authorize_url(&c.oauth_authorize_url, &c.appid, redirect_uri, state).ok()
    }

    fn payer_of_code<'a>(&'a self, code: &'a str) -> BoxFuture<'a, String> {
        Box::pin(async move {
            let c = &self.config;
            let secret = c.official_account_secret.as_deref().ok_or(ChannelError::Unsupported("未配置公众号 AppSecret"))?;
            let url = oauth::token_url(&c.oauth_token_url, &c.appid, secret, code);
            let raw = http::send(&self.client, PreparedRequest { method: "GET", url, headers: Vec::new(), body: String::new() }).await?;
            if raw.status != 200 {
                return Err(ChannelError::Provider {
                    status: raw.status,
                    code: "HTTP".into(),
                    message: raw.body.chars().take(200).collect(),
                });
            }
            oauth::parse_token_answer(&raw.body)
        })
    }

    fn verify_notification(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<PaymentNotice, ChannelError> {
        let body = std::str::from_utf8(body).map_err(|_| ChannelError::Malformed("通知不是 UTF-8".into()))?;
        sign::verify_wechatpay_headers(&self.verifiers, headers, body, now)?;
        api::parse_notification(body, &self.config)
    }

    fn verify_refund_notification(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<Option<RefundNotice>, ChannelError> {
        let body = std::str::from_utf8(body).map_err(|_| ChannelError::Malformed("通知不是 UTF-8".into()))?;
        sign::verify_wechatpay_headers(&self.verifiers, headers, body, now)?;
        api::parse_refund_notification(body, &self.config)
    }

    fn statement<'a>(&'a self, date: &'a str) -> BoxFuture<'a, Statement> {
        Box::pin(self.trade_bill(date))
    }

    fn statement_file<'a>(&'a self, date: &'a str) -> BoxFuture<'a, StatementFile> {
        Box::pin(self.trade_bill_file(date))
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
