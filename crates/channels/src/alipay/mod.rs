//! Alipay OpenAPI (gateway `gateway.do`, RSA2 keys mode): precreate (QR), page pay and wap pay
//! (signed redirect URLs), query, close, refund (a `fund_change=N` answer is confirmed by
//! `alipay.trade.fastpay.refund.query`) and asynchronous notifications (a refund's, with
//! `out_biz_no`/`refund_fee`, comes to the same notify_url: it is read as a refund's end by
//! `verify_refund_notification`, and never as money in).
//! Public-key-certificate mode (`app_cert_sn`, `alipay_root_cert_sn`) is not supported yet.

pub mod api;
pub mod bill;
pub mod sign;

use crate::crypto::{RsaSigner, RsaVerifier, unix_now};
use crate::http::{self, PreparedRequest};
use crate::{
    Ack, BoxFuture, ChannelError, CreateOrder, HeaderMap, PayAction, PayFlow, PaymentChannel, PaymentNotice, Provider, ProviderStatus,
    RefundNotice, RefundRequest, RefundResult, RefundStatus, Statement,
};
use campuspay_domain::time::format_shanghai;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sign::Params;

pub const DEFAULT_GATEWAY_URL: &str = "https://openapi.alipay.com/gateway.do";

fn default_gateway_url() -> String {
    DEFAULT_GATEWAY_URL.to_string()
}

/// One school's Alipay application, as its JSON config holds it.
#[derive(Clone, Serialize, Deserialize)]
pub struct AlipayConfig {
    pub app_id: String,
    /// 应用私钥 (PKCS#8 or PKCS#1, PEM or bare Base64).
    pub app_private_key_pem: String,
    /// 支付宝公钥 (SPKI, PEM or bare Base64).
    pub alipay_public_key_pem: String,
    /// The merchant's PID (2088…); when set, notifications must carry the same `seller_id`.
    #[serde(default)]
    pub seller_id: Option<String>,
    pub notify_url: String,
    #[serde(default = "default_gateway_url")]
    pub gateway_url: String,
}

impl std::fmt::Debug for AlipayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlipayConfig")
            .field("app_id", &self.app_id)
            .field("seller_id", &self.seller_id)
            .field("notify_url", &self.notify_url)
            .field("gateway_url", &self.gateway_url)
            .finish_non_exhaustive()
    }
}

pub struct Alipay {
    config: AlipayConfig,
    signer: RsaSigner,
    verifier: RsaVerifier,
    client: reqwest::Client,
}

impl Alipay {
    pub fn new(config: AlipayConfig) -> Result<Self, ChannelError> {
        let signer = RsaSigner::from_pem(&config.app_private_key_pem)?;
        let verifier = RsaVerifier::from_pem(&config.alipay_public_key_pem)?;
        Ok(Self { config, signer, verifier, client: http::client() })
    }

    pub fn config(&self) -> &AlipayConfig {
        &self.config
    }

    /// The signed common + business parameters of one call.
    pub fn signed_params(
        &self,
        method: &str,
        biz_content: serde_json::Value,
        return_url: Option<&str>,
        now: i64,
    ) -> Result<Params, ChannelError> {
        let mut p = Params::new();
        for (k, v) in [
            ("app_id", self.config.app_id.as_str()),
            ("method", method),
            ("format", "JSON"),
            ("charset", "utf-8"),
            ("sign_type", "RSA2"),
            ("version", "1.0"),
            ("notify_url", self.config.notify_url.as_str()),
        ] {
            p.insert(k.into(), v.into());
        }
        p.insert("timestamp".into(), format_shanghai(now));
        p.insert("biz_content".into(), biz_content.to_string());
        if let Some(r) = return_url {
            p.insert("return_url".into(), r.into());
        }
        sign::sign_request(&self.signer, &mut p)?;
        Ok(p)
    }

    /// A POST of the signed parameters to the gateway.
    pub fn prepare(&self, method: &str, biz_content: serde_json::Value, now: i64) -> Result<PreparedRequest, ChannelError> {
        let params = self.signed_params(method, biz_content, None, now)?;
        Ok(PreparedRequest {
            method: "POST",
            url: self.config.gateway_url.clone(),
            headers: vec![("Content-Type", "application/x-www-form-urlencoded;charset=utf-8".into())],
            body: sign::encode_form(&params),
        })
    }

    /// The cashier URL for page or wap pay: the gateway with the signed parameters as query.
    pub fn redirect_url(
        &self,
        method: &str,
        biz_content: serde_json::Value,
        return_url: Option<&str>,
        now: i64,
    ) -> Result<String, ChannelError> {
        let params = self.signed_params(method, biz_content, return_url, now)?;
        Ok(format!("{}?{}", self.config.gateway_url, sign::encode_form(&params)))
    }

    /// Verifies the gateway's answer to `method` and returns its `…_response` JSON text.
    pub fn verify_response(&self, method: &str, body: &str) -> Result<String, ChannelError> {
        sign::verify_response(&self.verifier, method, body)
    }

    async fn call(&self, method: &str, biz_content: serde_json::Value) -> Result<String, ChannelError> {
        let raw = http::send(&self.client, self.prepare(method, biz_content, unix_now())?).await?;
        if raw.status != 200 {
            return Err(ChannelError::Provider {
                status: raw.status,
                code: format!("HTTP_{}", raw.status),
                message: raw.body.chars().take(200).collect(),
            });
        }
        self.verify_response(method, &raw.body)
    }

    /// The trade bill of `date`: the download-URL query, a plain GET of the zip (the URL
    /// carries its own short-lived token), then the GBK detail CSV (see [`bill`]).
    pub async fn trade_bill(&self, date: &str) -> Result<Statement, ChannelError> {
        let node = self.call(bill::DOWNLOAD_URL_QUERY, bill::query_biz(date)?).await?;
        let url = bill::parse_download_url(&node)?;
        let req = PreparedRequest { method: "GET", url, headers: Vec::new(), body: String::new() };
        let (status, _, bytes) = http::send_bytes(&self.client, req).await?;
        if status != 200 {
            let message = String::from_utf8_lossy(&bytes).chars().take(200).collect();
            return Err(ChannelError::Provider { status, code: format!("HTTP_{status}"), message });
        }
        let statement = bill::parse_zip(date, &bytes)?;
        statement.check_totals()?;
        Ok(statement)
    }

    /// The `biz_content` that creates `order` with `product_code` (none for precreate).
    pub fn create_biz(order: &CreateOrder, product_code: Option<&str>) -> Result<serde_json::Value, ChannelError> {
        if !order.amount.is_positive() {
            return Err(ChannelError::Malformed("金额必须大于零".into()));
        }
        let mut biz = json!({
            "out_trade_no": order.out_trade_no,
            "total_amount": order.amount.to_yuan_string(),
            "subject": order.description,
        });
        if let Some(code) = product_code {
            biz["product_code"] = json!(code);
        }
        if let Some(t) = order.expires_at {
            biz["time_expire"] = json!(format_shanghai(t));
        }
        Ok(biz)
    }
}

impl PaymentChannel for Alipay {
    fn provider(&self) -> Provider {
        Provider::Alipay
    }

    fn create<'a>(&'a self, order: &'a CreateOrder) -> BoxFuture<'a, PayAction> {
        Box::pin(async move {
            let ret = order.return_url.as_deref();
            match &order.flow {
                PayFlow::Qr => {
                    let node = self.call(api::PRECREATE, Self::create_biz(order, None)?).await?;
                    Ok(PayAction::Qr { content: api::parse_precreate(&node)? })
                }
                PayFlow::Page => {
                    let biz = Self::create_biz(order, Some("FAST_INSTANT_TRADE_PAY"))?;
                    Ok(PayAction::Redirect { url: self.redirect_url(api::PAGE_PAY, biz, ret, unix_now())? })
                }
                PayFlow::Mobile { .. } => {
                    let biz = Self::create_biz(order, Some("QUICK_WAP_WAY"))?;
                    Ok(PayAction::Redirect { url: self.redirect_url(api::WAP_PAY, biz, ret, unix_now())? })
                }
                PayFlow::InApp { .. } => Err(ChannelError::Unsupported("支付宝不支持微信内支付")),
            }
        })
    }

    fn query<'a>(&'a self, out_trade_no: &'a str) -> BoxFuture<'a, ProviderStatus> {
        Box::pin(async move {
            match self.call(api::QUERY, json!({ "out_trade_no": out_trade_no })).await {
                Ok(node) => api::parse_query(&node),
                Err(ChannelError::Provider { code, .. }) if code == "ACQ.TRADE_NOT_EXIST" => Ok(ProviderStatus::NotFound),
                Err(e) => Err(e),
            }
        })
    }

    fn close<'a>(&'a self, out_trade_no: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move { api::parse_close(&self.call(api::CLOSE, json!({ "out_trade_no": out_trade_no })).await?) })
    }

    fn refund<'a>(&'a self, req: &'a RefundRequest) -> BoxFuture<'a, RefundResult> {
        Box::pin(async move {
            let mut biz = json!({
                "out_trade_no": req.out_trade_no,
                "refund_amount": req.refund.to_yuan_string(),
                "out_request_no": req.out_refund_no,
            });
            if let Some(r) = &req.reason {
                biz["refund_reason"] = json!(r);
            }
            let mut result = api::parse_refund(&self.call(api::REFUND, biz).await?, req)?;
            // `fund_change=N`: no money moved on this call. Alipay's advice is to ask the refund
            // query, whose `REFUND_SUCCESS` is the only word that the refund is done.
            if result.status == RefundStatus::Processing {
                let q = json!({ "out_trade_no": req.out_trade_no, "out_request_no": req.out_refund_no });
                if api::parse_refund_query(&self.call(api::REFUND_QUERY, q).await?)? {
                    result.status = RefundStatus::Success;
                }
            }
            Ok(result)
        })
    }

    /// Alipay notifications carry no signed timestamp, so `now` is unused; replays are harmless
    /// because applying a payment is idempotent on `trade_no`.
    fn verify_notification(&self, _headers: &HeaderMap, body: &[u8], _now: i64) -> Result<PaymentNotice, ChannelError> {
        let params = sign::parse_form(body)?;
        sign::verify_notify(&self.verifier, &params)?;
        api::parse_notify(&params, &self.config)
    }

    /// Signed exactly as a payment's; a notification with `refund_fee`/`out_biz_no` is a refund's.
    fn verify_refund_notification(&self, _headers: &HeaderMap, body: &[u8], _now: i64) -> Result<Option<RefundNotice>, ChannelError> {
        let params = sign::parse_form(body)?;
        sign::verify_notify(&self.verifier, &params)?;
        api::parse_refund_notify(&params, &self.config)
    }

    fn statement<'a>(&'a self, date: &'a str) -> BoxFuture<'a, Statement> {
        Box::pin(self.trade_bill(date))
    }

    fn ack(&self, accepted: bool) -> Ack {
        let body = if accepted { "success" } else { "fail" };
        Ack { status: 200, content_type: "text/plain; charset=utf-8", body: body.to_string() }
    }
}

#[cfg(test)]
mod tests;
