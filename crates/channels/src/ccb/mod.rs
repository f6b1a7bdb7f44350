//! CCB 龙支付 / 建行网上支付 (seed 003), as the public integrations show it. CCB hands its
//! 《商户接口说明》 and jars to merchants through their branch; no CCB-hosted specification is
//! public, so everything here follows published SDKs and integrations (LiHuaYang/ccbpay-sdk,
//! zhongliudizhu/api-platform), and where they disagree or are silent the choice both accept is
//! taken and said so (see `docs/protocols/ccb.md`).
//!
//! - **Pay** (`create`): the 520100 order as a form the browser POSTs to CCB's gateway
//!   ([`PayAction::Form`]), with its MD5 `MAC` ([`sign`]). CCB knows the order only once the
//!   browser has posted it. The merchant's notify and return addresses are not in the order:
//!   they are set for the POS in CCB's merchant console.
//! - **Notification** (`verify_notification`): CCB's form POST with `SIGN`, MD5withRSA by CCB's
//!   1024-bit key; answered with plain HTTP 200 (no reply body is documented; the integration
//!   answers 200). It carries no CCB payment id: the `ORDERID` is the payment's key.
//! - **Query** (`query`): 商户通 410408 with its MAC, answered as an XML page.
//! - **Refund** (`refund`): 5W1004 through the merchant's 外联平台 over TCP ([`ebs`]), final in
//!   its answer.
//! - **Close**: there is none; `close` says so and the caller asks the query.
//! - **Statement**: 5W1005 names a file the 外联平台 fetches and serves by FTP, whose content
//!   format is not public: not offered (the default `Unsupported`).
//!
//! The 530550 merchant QR (聚合) uses the same MAC scheme ([`sign::QR_MAC_FIELDS`]); the PC
//! redirect is the seed's path and the only product built here.

pub mod api;
pub mod ebs;
pub mod sign;
pub mod xml;

use crate::http::{self, PreparedRequest};
use crate::{
    Ack, BoxFuture, ChannelError, CreateOrder, HeaderMap, PayAction, PayFlow, PaymentChannel, PaymentNotice, Provider, ProviderStatus,
    RefundRequest, RefundResult, RefundStatus,
};
use serde::{Deserialize, Serialize};
use sign::CcbPublicKey;

/// The 520100 gateway of the public integrations.
pub const DEFAULT_GATEWAY_URL: &str = "https://ibsbjstar.ccb.com.cn/app/ccbMain";

fn default_gateway_url() -> String {
    DEFAULT_GATEWAY_URL.to_string()
}

/// One school's CCB merchant (one POS), as its JSON config holds it.
#[derive(Clone, Serialize, Deserialize)]
pub struct CcbConfig {
    /// `MERCHANTID` 商户代码 (15 digits).
    pub merchant_id: String,
    /// `POSID` 柜台代码 (9 digits).
    pub pos_id: String,
    /// `BRANCHID` 分行代码 (9 digits).
    pub branch_id: String,
    /// CCB's public key as CCB gives it: the hex of its DER `SubjectPublicKeyInfo`. Verifies
    /// notifications; its last 30 characters are the order MAC's `PUB`.
    pub ccb_public_key_hex: String,
    /// Where the browser posts the 520100 order.
    #[serde(default = "default_gateway_url")]
    pub gateway_url: String,
    /// Where the 410408 query goes (default: the gateway's address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_url: Option<String>,
    /// 商户通 operator (`OPERATOR`) and its password (`QUPWD`).
    pub operator: String,
    pub query_password: String,
    /// The merchant's 外联平台, `host:port`, and its login; refunds need them.
    #[serde(default)]
    pub ebs_addr: String,
    #[serde(default)]
    pub ebs_cust_id: String,
    #[serde(default)]
    pub ebs_user_id: String,
    #[serde(default)]
    pub ebs_password: String,
}

impl std::fmt::Debug for CcbConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CcbConfig")
            .field("merchant_id", &self.merchant_id)
            .field("pos_id", &self.pos_id)
            .field("branch_id", &self.branch_id)
            .field("gateway_url", &self.gateway_url)
            .field("query_url", &self.query_url)
            .field("operator", &self.operator)
            .field("ebs_addr", &self.ebs_addr)
            .field("ebs_cust_id", &self.ebs_cust_id)
            .field("ebs_user_id", &self.ebs_user_id)
            .finish_non_exhaustive()
    }
}

/// `n` ASCII digits exactly.
fn digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

/// A CCB channel with its key parsed.
pub struct Ccb {
    config: CcbConfig,
    key: CcbPublicKey,
    client: reqwest::Client,
}

impl Ccb {
    pub fn new(config: CcbConfig) -> Result<Self, ChannelError> {
        if !digits(&config.merchant_id, 15) {
            return Err(ChannelError::Config("建行商户代码 MERCHANTID 须为 15 位数字".into()));
        }
        if !digits(&config.pos_id, 9) || !digits(&config.branch_id, 9) {
            return Err(ChannelError::Config("建行柜台代码 POSID 与分行代码 BRANCHID 须为 9 位数字".into()));
        }
        let key = CcbPublicKey::from_hex(&config.ccb_public_key_hex)?;
        sign::pub30(&config.ccb_public_key_hex)?;
        Ok(Self { key, config, client: http::client() })
    }

    pub fn config(&self) -> &CcbConfig {
        &self.config
    }

    /// The 520100 form for `order` (what [`PaymentChannel::create`] answers).
    pub fn order_form(&self, order: &CreateOrder) -> Result<PayAction, ChannelError> {
        let client_ip = match &order.flow {
            PayFlow::Page | PayFlow::Qr => "",
            PayFlow::Mobile { client_ip } => client_ip.as_str(),
            PayFlow::InApp { .. } => return Err(ChannelError::Unsupported("建行龙支付不支持微信内支付")),
        };
        let fields = api::order_form(&self.config, &order.out_trade_no, order.amount, client_ip)?;
        Ok(PayAction::Form { action: self.config.gateway_url.clone(), fields })
    }

    /// The 410408 request for `order_id`.
    pub fn query_request(&self, order_id: &str, settled: bool) -> Result<PreparedRequest, ChannelError> {
        let form = api::query_form(&self.config, order_id, settled)?;
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(form.iter()).finish();
        Ok(PreparedRequest {
            method: "POST",
            url: self.config.query_url.clone().unwrap_or_else(|| self.config.gateway_url.clone()),
            headers: vec![("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8".into())],
            body,
        })
    }

    async fn query_once(&self, order_id: &str, settled: bool) -> Result<Option<ProviderStatus>, ChannelError> {
        let raw = http::send(&self.client, self.query_request(order_id, settled)?).await?;
        if raw.status != 200 {
            return Err(ChannelError::Provider {
                status: raw.status,
                code: format!("HTTP_{}", raw.status),
                message: raw.body.chars().take(200).collect(),
            });
        }
        let orders = api::parse_query_answer(&raw.body)?;
        Ok(api::status_of(&orders, &self.config, order_id))
    }

    /// Not yet settled first (where a payment of the last minutes is), then settled.
    async fn do_query(&self, order_id: &str) -> Result<ProviderStatus, ChannelError> {
        if let Some(s) = self.query_once(order_id, false).await? {
            return Ok(s);
        }
        Ok(self.query_once(order_id, true).await?.unwrap_or(ProviderStatus::NotFound))
    }

    fn ebs_login(&self) -> Result<ebs::EbsLogin, ChannelError> {
        let c = &self.config;
        if c.ebs_addr.is_empty() || c.ebs_cust_id.is_empty() || c.ebs_user_id.is_empty() {
            return Err(ChannelError::Unsupported("未配置建行外联平台，不能退款"));
        }
        Ok(ebs::EbsLogin { cust_id: c.ebs_cust_id.clone(), user_id: c.ebs_user_id.clone(), password: c.ebs_password.clone() })
    }

    /// 5W1004. A request that never reached the 外联平台 may be tried again (a transport error);
    /// one whose answer was lost may have refunded, and CCB gives no refund number to ask about
    /// it by, so it is a definite error that sends the refund to a person, never a second try.
    async fn do_refund(&self, req: &RefundRequest) -> Result<RefundResult, ChannelError> {
        let login = self.ebs_login()?;
        api::check_order_id(&req.out_trade_no)?;
        if !req.refund.is_positive() {
            return Err(ChannelError::Malformed("退款金额必须大于零".into()));
        }
        let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        let sn = ebs::request_sn(now_ms);
        let text = ebs::refund_request(&login, &sn, &req.out_trade_no, req.refund);
        let answer = match ebs::send(&self.config.ebs_addr, &text).await {
            Ok(a) => a,
            Err(ebs::SendError::NotSent(m)) => return Err(ChannelError::Transport(m)),
            Err(ebs::SendError::Unknown(m)) => {
                return Err(ChannelError::Provider {
                    status: 200,
                    code: "EBS_RESULT_UNKNOWN".into(),
                    message: format!("{m}；退款结果未知，请在建行商户服务平台核实（REQUEST_SN {sn}）"),
                });
            }
        };
        let a = ebs::parse_refund_answer(&answer)?;
        if !a.ok() {
            return Err(ChannelError::Provider { status: 200, code: a.return_code, message: a.return_msg });
        }
        if a.amount.is_some_and(|amt| amt != req.refund) {
            return Err(ChannelError::Malformed(format!("外联平台退款金额 {:?} 与请求 {} 不符", a.amount, req.refund.to_yuan_string())));
        }
        Ok(RefundResult { out_refund_no: req.out_refund_no.clone(), refund_id: None, status: RefundStatus::Success, amount: req.refund })
    }
}

impl PaymentChannel for Ccb {
    fn provider(&self) -> Provider {
        Provider::Ccb
    }

    fn create<'a>(&'a self, order: &'a CreateOrder) -> BoxFuture<'a, PayAction> {
        Box::pin(async move { self.order_form(order) })
    }

    fn query<'a>(&'a self, out_trade_no: &'a str) -> BoxFuture<'a, ProviderStatus> {
        Box::pin(self.do_query(out_trade_no))
    }

    /// CCB has no close for an order: the caller asks the query instead (an order CCB never saw
    /// counts as closed; one paid later is late money).
    fn close<'a>(&'a self, _out_trade_no: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async { Err(ChannelError::Unsupported("建行没有关闭订单的接口")) })
    }

    fn refund<'a>(&'a self, req: &'a RefundRequest) -> BoxFuture<'a, RefundResult> {
        Box::pin(self.do_refund(req))
    }

    /// The server notification (a form POST). No timestamp to bound: `now` is unused, and
    /// applying a payment is idempotent on the order id.
    fn verify_notification(&self, _headers: &HeaderMap, body: &[u8], _now: i64) -> Result<PaymentNotice, ChannelError> {
        api::parse_notice(&api::parse_form(body), &self.key, &self.config)
    }

    /// Plain HTTP 200 (the public integration answers so; no reply body is documented).
    fn ack(&self, accepted: bool) -> Ack {
        let (status, body) = if accepted { (200, "success") } else { (500, "fail") };
        Ack { status, content_type: "text/plain; charset=utf-8", body: body.to_string() }
    }
}

#[cfg(test)]
mod tests;
