//! UnionPay 全渠道 (ACP) 5.1.0, merchant connected directly (`accessType=0`), two products:
//!
//! - **Online gateway** (银联在线网关支付, `bizType=000201`): `create` answers
//!   [`PayAction::Form`], the signed fields that the student's browser must POST to
//!   `frontTransReq.do` (render [`PayAction::auto_submit_html`]); `channelType` 07 on a PC, 08
//!   on a phone. UnionPay knows the order only once the browser has posted it.
//! - **UnionPay QR** (银联二维码 主扫, `bizType=000000`): `create` applies for a code through
//!   `backTransReq.do` (`txnSubType=07`) and answers [`PayAction::Qr`] with its `qrCode`.
//!
//! Both: query `queryTrans.do` (`txnType=00`; `respCode` is the query's, `origRespCode` the
//! order's), refund `backTransReq.do` (`txnType=04` with `origQryId`), back notifications
//! form-POSTed to `backUrl`, answered HTTP 200 `ok` (a refund's, `txnType=04`, is read by
//! `verify_refund_notification`).
//!
//! **`txnTime`.** UnionPay finds an order by `orderId` *and* the `txnTime` it was sent with. The
//! channel remembers it in memory for the orders it created, refunded or was notified about, and
//! tells it through [`PaymentChannel::order_reference`]; the caller keeps it with the attempt
//! and hands it back with [`PaymentChannel::restore_order_reference`] after a restart.
//!
//! **Close.** ACP has no "close an unpaid order" for either product (消费撤销 `txnType=31`
//! reverses a *paid* consumption, same day only: that is a refund, not a close). Every order we
//! send carries `payTimeout` (the order's `expires_at`, or [`DEFAULT_PAY_TIMEOUT_S`] from now),
//! after which UnionPay refuses to pay it. So `close` queries: a paid order is an error, an
//! order UnionPay never saw or whose `payTimeout` has passed counts as closed, and an unpaid
//! order still inside its `payTimeout` is [`ChannelError::Unsupported`] — wait for it.
//!
//! **Keys.** Configure UnionPay's root and middle certificates (`acp_prod_root.cer`,
//! `acp_prod_middle.cer`): each message's `signPubKeyCert` is then checked as the official SDKs
//! check it (validity, chain, owner `中国银联股份有限公司`; see [`cert`]), so UnionPay can roll its
//! signing certificate. A config with only `unionpay_public_key_pem` pins that key instead (and
//! must be changed when UnionPay announces a new certificate).

pub mod api;
pub mod bill;
pub mod cert;
pub mod sign;

use crate::crypto::{RsaSigner, unix_now};
use crate::http::{self, PreparedRequest};
use crate::{
    Ack, BoxFuture, ChannelError, CreateOrder, HeaderMap, PayAction, PayFlow, PaymentChannel, PaymentNotice, Provider, ProviderStatus,
    RefundNotice, RefundRequest, RefundResult, RefundStatus, Statement,
};
use serde::{Deserialize, Serialize};
use sign::{Params, UnionpayKey};
use std::collections::HashMap;
use std::sync::Mutex;

pub const DEFAULT_BASE_URL: &str = "https://gateway.95516.com/gateway/api";

/// `payTimeout` when the order has no `expires_at`: 30 minutes.
pub const DEFAULT_PAY_TIMEOUT_S: i64 = 30 * 60;

fn validate_cn_name_default() -> bool {
    true
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_string()
}

/// Which UnionPay product a channel sells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnionpayProduct {
    /// 在线网关支付 (`bizType=000201`), a form POST to `frontTransReq.do`.
    #[default]
    Gateway,
    /// 银联二维码 主扫 (`bizType=000000`), a code applied for through `backTransReq.do`.
    Qr,
}

/// One school's UnionPay merchant and product, as its JSON config holds it.
#[derive(Clone, Serialize, Deserialize)]
pub struct UnionpayConfig {
    #[serde(default)]
    pub product: UnionpayProduct,
    /// 商户代码 `merId` (15 digits).
    pub mer_id: String,
    /// `certId`: the decimal serial number of the merchant signing certificate.
    pub cert_id: String,
    /// The merchant signing key (PKCS#8 or PKCS#1 PEM, exported from the `.pfx`).
    pub private_key_pem: String,
    /// UnionPay's signing certificate (`CERTIFICATE` PEM) or its public key: pinned. Used only
    /// when the root and middle certificates are not configured.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub unionpay_public_key_pem: String,
    /// UnionPay's root certificate (PEM): with `middle_cert_pem`, the chain every
    /// `signPubKeyCert` must lead to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_cert_pem: Option<String>,
    /// UnionPay's middle certificate (PEM), issued by the root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_cert_pem: Option<String>,
    /// The SDKs' `ifValidateCNName`: the certificate's owner must be `中国银联股份有限公司`. Set
    /// false only for UnionPay's test environment, whose certificates name `00040000:SIGN`.
    #[serde(default = "validate_cn_name_default")]
    pub validate_cn_name: bool,
    /// Where `frontTransReq.do`, `backTransReq.do` and `queryTrans.do` live.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// `backUrl`: our notify endpoint.
    pub notify_url: String,
    /// `frontUrl`: where the browser comes back after paying at the gateway.
    pub front_url: String,
    /// Where reconciliation files are fetched (file transfer, `txnType=76`). Default: UnionPay's
    /// file host for the production gateway, otherwise `{base_url}/fileTransfer.do`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_transfer_url: Option<String>,
}

impl std::fmt::Debug for UnionpayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnionpayConfig")
            .field("product", &self.product)
            .field("mer_id", &self.mer_id)
            .field("cert_id", &self.cert_id)
            .field("base_url", &self.base_url)
            .field("notify_url", &self.notify_url)
            .field("front_url", &self.front_url)
            .field("file_transfer_url", &self.file_transfer_url)
            .field("chain", &(self.root_cert_pem.is_some() && self.middle_cert_pem.is_some()))
            .field("validate_cn_name", &self.validate_cn_name)
            .finish_non_exhaustive()
    }
}

/// A UnionPay channel (one product) with its keys parsed.
pub struct Unionpay {
    config: UnionpayConfig,
    signer: RsaSigner,
    key: UnionpayKey,
    /// `orderId` → `txnTime`, for orders and refunds seen by this process.
    txn_times: Mutex<HashMap<String, String>>,
    client: reqwest::Client,
}

impl Unionpay {
    pub fn new(config: UnionpayConfig) -> Result<Self, ChannelError> {
        if config.mer_id.is_empty() || config.cert_id.is_empty() {
            return Err(ChannelError::Config("银联 merId 与 certId 不能为空".into()));
        }
        Ok(Self {
            signer: RsaSigner::from_pem(&config.private_key_pem)?,
            key: match (&config.root_cert_pem, &config.middle_cert_pem) {
                (Some(root), Some(middle)) => UnionpayKey::Chain(Box::new(cert::Chain::new(root, middle, config.validate_cn_name)?)),
                (None, None) => UnionpayKey::from_pem(&config.unionpay_public_key_pem)?,
                _ => return Err(ChannelError::Config("银联根证书与中级证书须一并配置".into())),
            },
            config,
            txn_times: Mutex::default(),
            client: http::client(),
        })
    }

    pub fn config(&self) -> &UnionpayConfig {
        &self.config
    }

    fn url(&self, endpoint: &str) -> String {
        format!("{}/{endpoint}", self.config.base_url.trim_end_matches('/'))
    }

    fn biz_type(&self) -> &'static str {
        match self.config.product {
            UnionpayProduct::Gateway => api::BIZ_GATEWAY,
            UnionpayProduct::Qr => api::BIZ_QR,
        }
    }

    fn remember(&self, order_id: &str, txn_time: &str) {
        self.txn_times.lock().unwrap_or_else(|e| e.into_inner()).insert(order_id.to_string(), txn_time.to_string());
    }

    fn recall(&self, order_id: &str) -> Option<String> {
        let times = self.txn_times.lock().unwrap_or_else(|e| e.into_inner());
        times.get(order_id).cloned()
    }

    /// The fields every request carries, signed after `extra` is added.
    pub fn signed(
        &self,
        txn_type: &str,
        txn_sub_type: &str,
        channel_type: &str,
        order_id: &str,
        txn_time: &str,
        extra: &[(&str, String)],
    ) -> Result<Params, ChannelError> {
        let mut p = Params::new();
        for (k, v) in [
            ("version", sign::VERSION),
            ("encoding", "UTF-8"),
            ("signMethod", sign::SIGN_METHOD_RSA),
            ("certId", &self.config.cert_id),
            ("txnType", txn_type),
            ("txnSubType", txn_sub_type),
            ("bizType", self.biz_type()),
            ("channelType", channel_type),
            ("accessType", api::ACCESS_MERCHANT),
            ("merId", &self.config.mer_id),
            ("orderId", order_id),
            ("txnTime", txn_time),
        ] {
            p.insert(k.into(), v.into());
        }
        for (k, v) in extra {
            p.insert((*k).into(), v.clone());
        }
        sign::sign(&self.signer, &mut p)?;
        Ok(p)
    }

    /// The consumption fields of `order` (gateway and QR alike), checked.
    pub fn consume_fields(&self, order: &CreateOrder, now: i64) -> Result<Vec<(&'static str, String)>, ChannelError> {
        let id = &order.out_trade_no;
        if !(8..=40).contains(&id.len()) || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ChannelError::Malformed("银联 orderId 须为 8–40 位字母或数字".into()));
        }
        if !order.amount.is_positive() {
            return Err(ChannelError::Malformed("金额必须大于零".into()));
        }
        let timeout = order.expires_at.unwrap_or(now + DEFAULT_PAY_TIMEOUT_S);
        Ok(vec![
            ("txnAmt", order.amount.0.to_string()),
            ("currencyCode", api::CNY.to_string()),
            ("backUrl", self.config.notify_url.clone()),
            ("payTimeout", sign::txn_time(timeout)),
        ])
    }

    /// The gateway form for `order` at `now`: what [`PaymentChannel::create`] answers.
    pub fn gateway_form(&self, order: &CreateOrder, now: i64) -> Result<PayAction, ChannelError> {
        let channel = match &order.flow {
            PayFlow::Page | PayFlow::Qr => api::CHANNEL_PC,
            PayFlow::Mobile { .. } => api::CHANNEL_MOBILE,
            PayFlow::InApp { .. } => return Err(ChannelError::Unsupported("银联不支持微信内支付")),
        };
        let mut extra = self.consume_fields(order, now)?;
        let front = order.return_url.as_deref().unwrap_or(&self.config.front_url);
        extra.push(("frontUrl", front.to_string()));
        let txn_time = sign::txn_time(now);
        let fields = self.signed(api::TXN_CONSUME, api::SUB_GATEWAY, channel, &order.out_trade_no, &txn_time, &extra)?;
        self.remember(&order.out_trade_no, &txn_time);
        Ok(PayAction::Form { action: self.url(api::FRONT_TRANS), fields })
    }

    /// A form POST of signed fields to `endpoint`.
    pub fn prepare(&self, endpoint: &str, fields: &Params) -> PreparedRequest {
        PreparedRequest {
            method: "POST",
            url: self.url(endpoint),
            headers: vec![("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8".into())],
            body: sign::encode_form(fields),
        }
    }

    /// Verifies an answer body (signature, UnionPay's certificate, `merId`) and returns its fields.
    /// An unsigned answer is only ever an error.
    pub fn verify_answer(&self, body: &str) -> Result<Params, ChannelError> {
        let p = sign::parse_raw(body)?;
        if !p.contains_key(sign::SIGNATURE) {
            return Err(match api::get(&p, "respCode") {
                Some(code) if code != api::RESP_OK => api::resp_error(&p),
                _ => ChannelError::BadSignature,
            });
        }
        self.key.verify_message(&p)?;
        api::check_merchant(&p, &self.config)?;
        Ok(p)
    }

    async fn call(&self, endpoint: &str, fields: &Params) -> Result<Params, ChannelError> {
        let raw = http::send(&self.client, self.prepare(endpoint, fields)).await?;
        if raw.status != 200 {
            return Err(ChannelError::Provider {
                status: raw.status,
                code: format!("HTTP_{}", raw.status),
                message: raw.body.chars().take(200).collect(),
            });
        }
        self.verify_answer(&raw.body)
    }

    fn file_transfer_url(&self) -> String {
        match &self.config.file_transfer_url {
            Some(u) => u.clone(),
            None if self.config.base_url.trim_end_matches('/') == DEFAULT_BASE_URL => bill::DEFAULT_FILE_TRANSFER_URL.to_string(),
            None => self.url("fileTransfer.do"),
        }
    }

    /// The signed file transfer request for the reconciliation files of `date`.
    pub fn file_transfer_fields(&self, date: &str, now: i64) -> Result<Params, ChannelError> {
        let mut p = Params::new();
        for (k, v) in [
            ("version", sign::VERSION),
            ("encoding", "UTF-8"),
            ("signMethod", sign::SIGN_METHOD_RSA),
            ("certId", &self.config.cert_id),
            ("txnType", bill::TXN_FILE_TRANSFER),
            ("txnSubType", bill::SUB_FILE_TRANSFER),
            ("bizType", bill::BIZ_FILE_TRANSFER),
            ("accessType", api::ACCESS_MERCHANT),
            ("merId", &self.config.mer_id),
            ("fileType", bill::FILE_TYPE_RECONCILIATION),
        ] {
            p.insert(k.into(), v.into());
        }
        p.insert("settleDate".into(), bill::settle_date(date)?);
        p.insert("txnTime".into(), sign::txn_time(now));
        sign::sign(&self.signer, &mut p)?;
        Ok(p)
    }

    /// The ZM 流水文件 of settlement date `date` (see [`bill`]).
    pub async fn reconciliation_file(&self, date: &str) -> Result<Statement, ChannelError> {
        let fields = self.file_transfer_fields(date, unix_now())?;
        let mut req = self.prepare("", &fields);
        req.url = self.file_transfer_url();
        let raw = http::send(&self.client, req).await?;
        if raw.status != 200 {
            return Err(ChannelError::Provider {
                status: raw.status,
                code: format!("HTTP_{}", raw.status),
                message: raw.body.chars().take(200).collect(),
            });
        }
        bill::parse_answer(date, &self.verify_answer(&raw.body)?, &self.config.mer_id)
    }

    /// `queryTrans.do` for `order_id` sent at `txn_time` (a consumption or a refund).
    pub async fn query_at(&self, order_id: &str, txn_time: &str) -> Result<ProviderStatus, ChannelError> {
        let fields = self.signed(api::TXN_QUERY, api::SUB_NONE, api::CHANNEL_PC, order_id, txn_time, &[])?;
        api::parse_query(&self.call(api::QUERY_TRANS, &fields).await?)
    }

    fn txn_time_of(&self, order_id: &str) -> Result<String, ChannelError> {
        self.recall(order_id).ok_or(ChannelError::Unsupported("银联查询需要下单时的 txnTime：请先用 restore_order_reference 交回"))
    }

    async fn apply_qr(&self, order: &CreateOrder) -> Result<PayAction, ChannelError> {
        let now = unix_now();
        let txn_time = sign::txn_time(now);
        let extra = self.consume_fields(order, now)?;
        let fields = self.signed(api::TXN_CONSUME, api::SUB_QR_APPLY, api::CHANNEL_MOBILE, &order.out_trade_no, &txn_time, &extra)?;
        let answer = self.call(api::BACK_TRANS, &fields).await?;
        self.remember(&order.out_trade_no, &txn_time);
        Ok(PayAction::Qr { content: api::parse_qr_apply(&answer)? })
    }

    async fn do_refund(&self, req: &RefundRequest) -> Result<RefundResult, ChannelError> {
        let pending = |refund_id| RefundResult {
            out_refund_no: req.out_refund_no.clone(),
            refund_id,
            status: RefundStatus::Processing,
            amount: req.refund,
        };
        // A refund number seen before is asked about, not sent again.
        if let Some(t) = self.recall(&req.out_refund_no) {
            return Ok(match self.query_at(&req.out_refund_no, &t).await? {
                ProviderStatus::Paid { transaction_id, .. } => {
                    RefundResult { status: RefundStatus::Success, ..pending(Some(transaction_id)) }
                }
                ProviderStatus::Failed { .. } => RefundResult { status: RefundStatus::Closed, ..pending(None) },
                _ => pending(None),
            });
        }
        let orig_qry_id = match self.query(&req.out_trade_no).await? {
            ProviderStatus::Paid { transaction_id, .. } => transaction_id,
            other => {
                return Err(ChannelError::Provider {
                    status: 200,
                    code: "NOT_PAID".into(),
                    message: format!("原交易未成功，不能退货: {other:?}"),
                });
            }
        };
        let channel = match self.config.product {
            UnionpayProduct::Gateway => api::CHANNEL_PC,
            UnionpayProduct::Qr => api::CHANNEL_MOBILE,
        };
        let txn_time = sign::txn_time(unix_now());
        let extra = [
            ("txnAmt", req.refund.0.to_string()),
            ("currencyCode", api::CNY.to_string()),
            ("origQryId", orig_qry_id),
            ("backUrl", self.config.notify_url.clone()),
        ];
        let fields = self.signed(api::TXN_REFUND, api::SUB_NONE, channel, &req.out_refund_no, &txn_time, &extra)?;
        let answer = self.call(api::BACK_TRANS, &fields).await?;
        api::require_ok(&answer)?;
        self.remember(&req.out_refund_no, &txn_time);
        // 00 means accepted; the refund's own query says whether it is done.
        Ok(match self.query_at(&req.out_refund_no, &txn_time).await {
            Ok(ProviderStatus::Paid { transaction_id, .. }) => {
                RefundResult { status: RefundStatus::Success, ..pending(Some(transaction_id)) }
            }
            _ => pending(api::get(&answer, "queryId").map(str::to_string)),
        })
    }
}

impl PaymentChannel for Unionpay {
    fn provider(&self) -> Provider {
        Provider::Unionpay
    }

    fn create<'a>(&'a self, order: &'a CreateOrder) -> BoxFuture<'a, PayAction> {
        Box::pin(async move {
            match (self.config.product, &order.flow) {
                (_, PayFlow::InApp { .. }) => Err(ChannelError::Unsupported("银联不支持微信内支付")),
                (UnionpayProduct::Gateway, _) => self.gateway_form(order, unix_now()),
                (UnionpayProduct::Qr, _) => self.apply_qr(order).await,
            }
        })
    }

    fn query<'a>(&'a self, out_trade_no: &'a str) -> BoxFuture<'a, ProviderStatus> {
        Box::pin(async move {
            let t = self.txn_time_of(out_trade_no)?;
            self.query_at(out_trade_no, &t).await
        })
    }

    /// See the module notes: UnionPay cannot close an unpaid order; it expires at `payTimeout`.
    fn close<'a>(&'a self, out_trade_no: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let t = self.txn_time_of(out_trade_no)?;
            match self.query_at(out_trade_no, &t).await? {
                ProviderStatus::Paid { .. } | ProviderStatus::Refunded { .. } => {
                    Err(ChannelError::Provider { status: 200, code: "PAID".into(), message: "订单已支付，不能关闭".into() })
                }
                ProviderStatus::NotFound | ProviderStatus::Closed | ProviderStatus::Failed { .. } => Ok(()),
                ProviderStatus::NotPaid | ProviderStatus::Paying => {
                    Err(ChannelError::Unsupported("银联不能关闭未支付订单：订单在 payTimeout 到期后失效"))
                }
            }
        })
    }

    fn refund<'a>(&'a self, req: &'a RefundRequest) -> BoxFuture<'a, RefundResult> {
        Box::pin(self.do_refund(req))
    }

    /// Back notifications carry no timestamp to bound, so `now` is unused; applying a payment is
    /// idempotent on `queryId`. The browser's front notification (`frontUrl`) has the same form
    /// and verifies here too, but must never be acknowledged or trusted alone: query.
    fn verify_notification(&self, _headers: &HeaderMap, body: &[u8], _now: i64) -> Result<PaymentNotice, ChannelError> {
        let params = sign::parse_form(body)?;
        self.key.verify_message(&params)?;
        let notice = api::parse_notice(&params, &self.config)?;
        if let Some(t) = api::get(&params, "txnTime") {
            self.remember(&notice.out_trade_no, t);
        }
        Ok(notice)
    }

    /// Verified exactly as a payment's back notification; a `txnType=04` one is a refund's.
    fn verify_refund_notification(&self, _headers: &HeaderMap, body: &[u8], _now: i64) -> Result<Option<RefundNotice>, ChannelError> {
        let params = sign::parse_form(body)?;
        self.key.verify_message(&params)?;
        let notice = api::parse_refund_notice(&params, &self.config)?;
        if let (Some(n), Some(t)) = (&notice, api::get(&params, "txnTime")) {
            self.remember(&n.out_refund_no, t);
        }
        Ok(notice)
    }

    /// HTTP 200 is what UnionPay counts as received (we also answer `ok`); anything else makes
    /// it notify again.
    fn ack(&self, accepted: bool) -> Ack {
        let (status, body) = if accepted { (200, "ok") } else { (500, "fail") };
        Ack { status, content_type: "text/plain; charset=utf-8", body: body.to_string() }
    }

    /// UnionPay's settlement day runs to 23:00 of the day before; the sandbox books by the
    /// natural Shanghai day.
    fn statement<'a>(&'a self, date: &'a str) -> BoxFuture<'a, Statement> {
        Box::pin(self.reconciliation_file(date))
    }

    fn order_reference(&self, out_trade_no: &str) -> Option<String> {
        self.recall(out_trade_no)
    }

    fn restore_order_reference(&self, out_trade_no: &str, reference: &str) {
        if sign::parse_txn_time(reference).is_some() {
            self.remember(out_trade_no, reference);
        }
    }
}

/// Escapes text for an HTML attribute value (the auto-submit form).
pub fn html_attr(s: &str) -> String {
    s.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;").replace('\'', "&#39;")
}

#[cfg(test)]
mod tests;
