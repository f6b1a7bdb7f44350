//! 通联支付 收银宝 (allinpay VSP), the aggregated channel (聚合支付): one code on the PC pay
//! page that the payer scans with WeChat, Alipay or a UnionPay wallet (云闪付), whichever they
//! have. Published at prodoc.allinpay.com (doc 250 统一下单API and its 安全规范; doc 1041/2100
//! 交易结果通知), with two SDKs to check against (PyPI `pyallinpay`, Go `hlib-go/hallinpay`).
//!
//! **Which code.** `unitorder/pay` makes a code for *one* wallet: its `paytype` is `W01`
//! (WeChat), `A01` (Alipay) or another, and the code it answers (`payinfo`) opens only in that
//! wallet. The code any wallet can open is 通联's H5收银台 (`h5unionpay/unionorder`, on the
//! `syb` host): the signed order (`trxamt`, `reqsn`, `body`, `validtime`, `notify_url`,
//! `returl`) opens 通联's cashier page, where the payer's own app pays. `create` therefore
//! answers [`PayAction::Qr`] whose content is that page's address with the signed fields as its
//! query. The SDK submits the same fields as a form POST; that the cashier takes them on the
//! address a phone's scanner opens (GET) is not said in the public material we could read.
//!
//! **Operations.** Query `unitorder/query` by `reqsn`; refund `unitorder/refund` (`reqsn` the
//! refund's own number, `oldreqsn` the order's); a refund's state is the query of its `reqsn`
//! (the same API, as 通联 books a refund as a trade of its own). Notifications: a form POST of
//! the trade's fields signed by 通联, answered with the plain text `success`; anything else is
//! retried (15s/15s/5m/10m/15m). The public doc notifies payments only, so refunds end by query.
//!
//! **Close.** The doc lists a 订单关闭 API whose address and fields were not in the public
//! material; an H5 cashier order ends by itself when its `validtime` passes. So `close` asks:
//! a paid order is an error, an order 通联 never saw or that ended is closed, and an unpaid one
//! still inside its `validtime` is [`ChannelError::Unsupported`] — wait for it.
//!
//! **Statement.** `trxfile/get` hands out the address of the day's file, but the file's layout
//! is not public, so `statement` stays unsupported.

pub mod api;
pub mod sign;

use crate::crypto::unix_now;
use crate::http::{self, PreparedRequest};
use crate::{
    Ack, BoxFuture, ChannelError, CreateOrder, HeaderMap, PayAction, PayFlow, PaymentChannel, PaymentNotice, Provider, ProviderStatus,
    RefundRequest, RefundResult,
};
use serde::{Deserialize, Serialize};
use sign::{Params, Sha1RsaSigner, Sha1RsaVerifier};

/// The API host (`unitorder/*`), production.
pub const DEFAULT_BASE_URL: &str = "https://vsp.allinpay.com";
/// The H5 cashier's host, production (pyallinpay `SYB_API_BASE_URL`).
pub const DEFAULT_CASHIER_URL: &str = "https://syb.allinpay.com";
/// `validtime` when the order has no `expires_at`: minutes (the doc: default 5, at most 1440).
pub const DEFAULT_VALID_MINUTES: i64 = 30;
pub const MAX_VALID_MINUTES: i64 = 1440;

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_string()
}

fn default_cashier_url() -> String {
    DEFAULT_CASHIER_URL.to_string()
}

/// One school's 收银宝 merchant, as its JSON config holds it.
#[derive(Clone, Serialize, Deserialize)]
pub struct AllinpayConfig {
    /// 商户号 `cusid` (15 characters).
    pub cusid: String,
    /// 应用 ID `appid` (8 characters).
    pub appid: String,
    /// The merchant's RSA private key (PKCS#8 or PKCS#1, PEM or bare Base64).
    pub private_key_pem: String,
    /// 通联's RSA public key (its 收银宝 public key, for answers and notifications).
    pub allinpay_public_key_pem: String,
    /// Where `/apiweb/unitorder/*` lives.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Where `/apiweb/h5unionpay/unionorder` lives.
    #[serde(default = "default_cashier_url")]
    pub cashier_url: String,
    /// `notify_url`: our notify endpoint.
    pub notify_url: String,
    /// `returl`: where 通联's cashier sends the browser back after paying.
    #[serde(default)]
    pub return_url: String,
}

impl std::fmt::Debug for AllinpayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AllinpayConfig")
            .field("cusid", &self.cusid)
            .field("appid", &self.appid)
            .field("base_url", &self.base_url)
            .field("cashier_url", &self.cashier_url)
            .field("notify_url", &self.notify_url)
            .field("return_url", &self.return_url)
            .finish_non_exhaustive()
    }
}

/// A 收银宝 channel with its keys parsed.
pub struct Allinpay {
    config: AllinpayConfig,
    signer: Sha1RsaSigner,
    allinpay_key: Sha1RsaVerifier,
    client: reqwest::Client,
}

impl Allinpay {
    pub fn new(config: AllinpayConfig) -> Result<Self, ChannelError> {
        if config.cusid.is_empty() || config.appid.is_empty() {
            return Err(ChannelError::Config("通联 cusid 与 appid 不能为空".into()));
        }
        Ok(Self {
            signer: Sha1RsaSigner::from_pem(&config.private_key_pem)?,
            allinpay_key: Sha1RsaVerifier::from_pem(&config.allinpay_public_key_pem)?,
            config,
            client: http::client(),
        })
    }

    pub fn config(&self) -> &AllinpayConfig {
        &self.config
    }

    /// The common fields (`cusid`, `appid`, `version`, `randomstr`) and `extra`, signed.
    pub fn signed(&self, extra: &[(&str, String)]) -> Result<Params, ChannelError> {
        let mut p = Params::new();
        p.insert("cusid".into(), self.config.cusid.clone());
        p.insert("appid".into(), self.config.appid.clone());
        p.insert("version".into(), api::VERSION.into());
        p.insert("randomstr".into(), sign::random_str());
        for (k, v) in extra {
            p.insert((*k).into(), v.clone());
        }
        sign::sign(&self.signer, &mut p)?;
        Ok(p)
    }

    /// The cashier address of `order` at `now`: what the code carries.
    pub fn cashier_code(&self, order: &CreateOrder, now: i64) -> Result<String, ChannelError> {
        let no = &order.out_trade_no;
        if no.is_empty() || no.len() > 32 || !no.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            return Err(ChannelError::Malformed("通联 reqsn 须为 1–32 位字母、数字、_ 或 -".into()));
        }
        if !order.amount.is_positive() {
            return Err(ChannelError::Malformed("金额必须大于零".into()));
        }
        // Whole minutes left, rounded down so 通联 never takes money after our deadline.
        let minutes = order.expires_at.map_or(DEFAULT_VALID_MINUTES, |at| (at - now) / 60).clamp(1, MAX_VALID_MINUTES);
        let returl = order.return_url.clone().unwrap_or_else(|| self.config.return_url.clone());
        let body: String = order.description.chars().take(100).collect();
        let fields = self.signed(&[
            ("trxamt", order.amount.0.to_string()),
            ("reqsn", no.clone()),
            ("body", body),
            ("validtime", minutes.to_string()),
            ("notify_url", self.config.notify_url.clone()),
            ("returl", returl),
        ])?;
        Ok(format!("{}{}?{}", self.config.cashier_url.trim_end_matches('/'), api::PATH_H5_CASHIER, sign::encode_form(&fields)))
    }

    /// A form POST of `fields` to the API's `path`.
    pub fn prepare(&self, path: &str, fields: &Params) -> PreparedRequest {
        PreparedRequest {
            method: "POST",
            url: format!("{}{path}", self.config.base_url.trim_end_matches('/')),
            headers: vec![("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8".into())],
            body: sign::encode_form(fields),
        }
    }

    /// Verifies an answer: a `retcode=FAIL` one is an error whether signed or not (the SDKs do
    /// not check those); a `SUCCESS` one must carry 通联's signature and name our merchant.
    pub fn verify_answer(&self, body: &str) -> Result<Params, ChannelError> {
        let p = sign::parse_json(body)?;
        if api::get(&p, "retcode") != Some(api::RET_SUCCESS) {
            return Err(api::ret_error(&p));
        }
        sign::verify(&self.allinpay_key, &p)?;
        api::check_merchant(&p, &self.config)?;
        Ok(p)
    }

    async fn call(&self, path: &str, fields: &Params) -> Result<Params, ChannelError> {
        let raw = http::send(&self.client, self.prepare(path, fields)).await?;
        if raw.status != 200 {
            return Err(ChannelError::Provider {
                status: raw.status,
                code: format!("HTTP_{}", raw.status),
                message: raw.body.chars().take(200).collect(),
            });
        }
        self.verify_answer(&raw.body)
    }

    /// `unitorder/query` of a `reqsn` (an order's or a refund's).
    pub async fn query_reqsn(&self, reqsn: &str) -> Result<Params, ChannelError> {
        let fields = self.signed(&[("reqsn", reqsn.to_string())])?;
        self.call(api::PATH_QUERY, &fields).await
    }

    async fn do_refund(&self, req: &RefundRequest) -> Result<RefundResult, ChannelError> {
        let result = |status, refund_id: Option<&str>| RefundResult {
            out_refund_no: req.out_refund_no.clone(),
            refund_id: refund_id.map(str::to_string),
            status,
            amount: req.refund,
        };
        // A refund number 通联 already has is asked about, not sent again (it would answer
        // 3888 流水号重复).
        let known = self.query_reqsn(&req.out_refund_no).await?;
        if let Some(status) = api::refund_status(&known)? {
            return Ok(result(status, api::get(&known, "trxid")));
        }
        let fields = self.signed(&[
            ("trxamt", req.refund.0.to_string()),
            ("reqsn", req.out_refund_no.clone()),
            ("oldreqsn", req.out_trade_no.clone()),
            ("remark", req.reason.clone().unwrap_or_default().chars().take(50).collect()),
        ])?;
        let answer = self.call(api::PATH_REFUND, &fields).await?;
        match api::refund_status(&answer)? {
            Some(status) => Ok(result(status, api::get(&answer, "trxid"))),
            None => Err(ChannelError::Provider {
                status: 200,
                code: api::TRX_NOT_FOUND.into(),
                message: api::get(&answer, "errmsg").unwrap_or("原交易不存在").to_string(),
            }),
        }
    }
}

impl PaymentChannel for Allinpay {
    fn provider(&self) -> Provider {
        Provider::Allinpay
    }

    fn create<'a>(&'a self, order: &'a CreateOrder) -> BoxFuture<'a, PayAction> {
        Box::pin(async move {
            match order.flow {
                PayFlow::Qr => Ok(PayAction::Qr { content: self.cashier_code(order, unix_now())? }),
                // On a phone the same cashier page is the place to go.
                PayFlow::Mobile { .. } | PayFlow::Page => Ok(PayAction::Redirect { url: self.cashier_code(order, unix_now())? }),
                PayFlow::InApp { .. } => Err(ChannelError::Unsupported("通联收银台不经微信内支付")),
            }
        })
    }

    fn query<'a>(&'a self, out_trade_no: &'a str) -> BoxFuture<'a, ProviderStatus> {
        Box::pin(async move { api::parse_query(&self.query_reqsn(out_trade_no).await?) })
    }

    /// See the module notes: an unpaid order ends at its `validtime`.
    fn close<'a>(&'a self, out_trade_no: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            match api::parse_query(&self.query_reqsn(out_trade_no).await?)? {
                ProviderStatus::Paid { .. } | ProviderStatus::Refunded { .. } => {
                    Err(ChannelError::Provider { status: 200, code: "PAID".into(), message: "订单已支付，不能关闭".into() })
                }
                ProviderStatus::NotFound | ProviderStatus::Closed | ProviderStatus::Failed { .. } => Ok(()),
                ProviderStatus::NotPaid | ProviderStatus::Paying => {
                    Err(ChannelError::Unsupported("通联收银台订单在有效时间（validtime）到期后失效"))
                }
            }
        })
    }

    fn refund<'a>(&'a self, req: &'a RefundRequest) -> BoxFuture<'a, RefundResult> {
        Box::pin(self.do_refund(req))
    }

    /// The notification carries no timestamp to bound (`paytime` is when the payer paid, and
    /// retries come half an hour later), so `now` is unused; applying it is idempotent on `trxid`.
    fn verify_notification(&self, _headers: &HeaderMap, body: &[u8], _now: i64) -> Result<PaymentNotice, ChannelError> {
        let p = sign::parse_form(body)?;
        sign::verify(&self.allinpay_key, &p)?;
        api::parse_notice(&p, &self.config)
    }

    /// `success` is the only answer 通联 takes as received; anything else is sent again.
    fn ack(&self, accepted: bool) -> Ack {
        let (status, body) = if accepted { (200, "success") } else { (200, "fail") };
        Ack { status, content_type: "text/plain; charset=utf-8", body: body.to_string() }
    }
}

#[cfg(test)]
mod tests;
