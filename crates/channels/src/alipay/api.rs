//! Alipay OpenAPI `biz_content` builders and response parsing, field names as published.
//! Amounts are yuan strings (`88.88`), converted with `Fen::parse_yuan` / `to_yuan_string`.

use super::AlipayConfig;
use super::sign::Params;
use crate::{ChannelError, PaymentNotice, ProviderStatus, RefundNotice, RefundRequest, RefundResult, RefundStatus};
use campuspay_domain::Fen;
use serde::Deserialize;

pub const PRECREATE: &str = "alipay.trade.precreate";
pub const PAGE_PAY: &str = "alipay.trade.page.pay";
pub const WAP_PAY: &str = "alipay.trade.wap.pay";
pub const QUERY: &str = "alipay.trade.query";
pub const CLOSE: &str = "alipay.trade.close";
pub const REFUND: &str = "alipay.trade.refund";
pub const REFUND_QUERY: &str = "alipay.trade.fastpay.refund.query";

/// The common part of every answer.
#[derive(Debug, Deserialize)]
pub struct Common {
    pub code: String,
    #[serde(default)]
    pub msg: String,
    #[serde(default)]
    pub sub_code: Option<String>,
    #[serde(default)]
    pub sub_msg: Option<String>,
}

impl Common {
    pub fn into_error(self) -> ChannelError {
        ChannelError::Provider { status: 200, code: self.sub_code.unwrap_or(self.code), message: self.sub_msg.unwrap_or(self.msg) }
    }
}

/// An unsigned node is never trusted as data: it becomes an error.
pub fn unsigned_error(node: &str) -> ChannelError {
    match serde_json::from_str::<Common>(node) {
        Ok(c) if c.code != "10000" => c.into_error(),
        _ => ChannelError::BadSignature,
    }
}

/// Parses a verified node: `Ok(T)` on `code == 10000`, otherwise the provider's error.
pub fn parse_node<T: for<'de> Deserialize<'de>>(node: &str) -> Result<T, ChannelError> {
    let common: Common = from_json(node)?;
    if common.code != "10000" {
        return Err(common.into_error());
    }
    from_json(node)
}

pub fn yuan(s: &str) -> Result<Fen, ChannelError> {
    Fen::parse_yuan(s).map_err(|_| ChannelError::Malformed(format!("金额格式有误: {s}")))
}

pub fn parse_precreate(node: &str) -> Result<String, ChannelError> {
    #[derive(Deserialize)]
    struct R {
        qr_code: String,
    }
    Ok(parse_node::<R>(node)?.qr_code)
}

pub fn parse_query(node: &str) -> Result<ProviderStatus, ChannelError> {
    #[derive(Deserialize)]
    struct R {
        trade_no: String,
        trade_status: String,
        total_amount: String,
        #[serde(default)]
        send_pay_date: Option<String>,
    }
    let r: R = match parse_node(node) {
        Err(ChannelError::Provider { code, .. }) if code == "ACQ.TRADE_NOT_EXIST" => {
            return Ok(ProviderStatus::NotFound);
        }
        other => other?,
    };
    Ok(match r.trade_status.as_str() {
        "TRADE_SUCCESS" | "TRADE_FINISHED" => {
            ProviderStatus::Paid { transaction_id: r.trade_no, amount: yuan(&r.total_amount)?, paid_at: r.send_pay_date }
        }
        "WAIT_BUYER_PAY" => ProviderStatus::NotPaid,
        // Unpaid and timed out, or paid and then wholly refunded; a refund query tells which.
        "TRADE_CLOSED" => ProviderStatus::Closed,
        other => ProviderStatus::Failed { reason: other.to_string() },
    })
}

pub fn parse_close(node: &str) -> Result<(), ChannelError> {
    parse_node::<Common>(node).map(|_| ())
}

/// `fund_change` `Y` means money moved now; `N` means it did not move *this time* (for a
/// repeated `out_request_no` it already had): ask `alipay.trade.fastpay.refund.query` to be sure.
pub fn parse_refund(node: &str, req: &RefundRequest) -> Result<RefundResult, ChannelError> {
    #[derive(Deserialize)]
    struct R {
        fund_change: String,
    }
    let r: R = parse_node(node)?;
    let status = if r.fund_change == "Y" { RefundStatus::Success } else { RefundStatus::Processing };
    Ok(RefundResult { out_refund_no: req.out_refund_no.clone(), refund_id: None, status, amount: req.refund })
}

/// Whether `alipay.trade.fastpay.refund.query` says the refund is done: `refund_status` is
/// `REFUND_SUCCESS`. A bare `10000` (no refund data) means Alipay has not done it, or not yet.
pub fn parse_refund_query(node: &str) -> Result<bool, ChannelError> {
    #[derive(Deserialize)]
    struct R {
        #[serde(default)]
        refund_status: Option<String>,
    }
    let r: R = parse_node(node)?;
    Ok(r.refund_status.as_deref() == Some("REFUND_SUCCESS"))
}

/// Cross-checks a verified notification's `app_id` (and `seller_id` when configured); returns
/// the `seller_id` it carries (possibly empty).
fn check_app<'a>(params: &'a Params, c: &AlipayConfig) -> Result<&'a str, ChannelError> {
    let app_id = params.get("app_id").map(String::as_str).unwrap_or_default();
    if app_id.is_empty() {
        return Err(ChannelError::Malformed("通知缺少 app_id".into()));
    }
    if app_id != c.app_id {
        return Err(ChannelError::WrongMerchant(format!("app_id {app_id} ≠ {}", c.app_id)));
    }
    let seller_id = params.get("seller_id").map(String::as_str).unwrap_or_default();
    if let Some(expected) = &c.seller_id
        && seller_id != expected
    {
        return Err(ChannelError::WrongMerchant(format!("seller_id {seller_id} ≠ {expected}")));
    }
    Ok(seller_id)
}

/// Whether a notification tells of a refund: Alipay sends a refund's to the trade's own
/// notify_url, told apart from the payment's by `refund_fee` (总退款金额) and `out_biz_no` (the
/// refund's `out_request_no`, or the `trade_no` when the refund had none).
pub fn is_refund_notify(params: &Params) -> bool {
    let has = |k: &str| params.get(k).is_some_and(|v| !v.is_empty());
    has("refund_fee") || has("out_biz_no")
}

/// Reads a verified payment notification and cross-checks `app_id` (and `seller_id` when
/// configured). A refund's notification is never a payment: it comes back with `paid = false`
/// (its `trade_status` is still the paid trade's `TRADE_SUCCESS`, or `TRADE_CLOSED` when wholly
/// refunded); [`parse_refund_notify`] reads it.
pub fn parse_notify(params: &Params, c: &AlipayConfig) -> Result<PaymentNotice, ChannelError> {
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let need = |k: &str| get(k).ok_or_else(|| ChannelError::Malformed(format!("通知缺少 {k}")));
    let seller_id = check_app(params, c)?;
    let app_id = need("app_id")?;
    let status = need("trade_status")?;
    let refund = is_refund_notify(params);
    let provider_status = if refund {
        format!("{status} refund {} refund_fee {}", get("out_biz_no").unwrap_or_default(), get("refund_fee").unwrap_or_default())
    } else {
        status.to_string()
    };
    Ok(PaymentNotice {
        out_trade_no: need("out_trade_no")?.to_string(),
        transaction_id: need("trade_no")?.to_string(),
        amount: yuan(need("total_amount")?)?,
        merchant_id: seller_id.to_string(),
        app_id: app_id.to_string(),
        paid: !refund && matches!(status, "TRADE_SUCCESS" | "TRADE_FINISHED"),
        provider_status,
        paid_at: get("gmt_payment").map(str::to_string),
    })
}

/// Reads a verified notification as a refund's: `Ok(None)` when it is a payment's. Alipay
/// notifies a refund only once it is done (部分退款 `TRADE_SUCCESS`, 全额退款 `TRADE_CLOSED` with
/// `gmt_close`), so the end it tells is `Success`; it tells no amount of this refund, only
/// `refund_fee`, the trade's total refunded so far.
pub fn parse_refund_notify(params: &Params, c: &AlipayConfig) -> Result<Option<RefundNotice>, ChannelError> {
    if !is_refund_notify(params) {
        return Ok(None);
    }
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let need = |k: &str| get(k).ok_or_else(|| ChannelError::Malformed(format!("退款通知缺少 {k}")));
    let seller_id = check_app(params, c)?;
    let status = need("trade_status")?;
    if !matches!(status, "TRADE_SUCCESS" | "TRADE_CLOSED") {
        return Err(ChannelError::Malformed(format!("退款通知的交易状态 {status} 不是已付或已全额退款")));
    }
    let refunded_total = yuan(need("refund_fee")?)?;
    let total = yuan(need("total_amount")?)?;
    if !refunded_total.is_positive() || refunded_total.0 > total.0 {
        return Err(ChannelError::Malformed(format!("退款通知的 refund_fee {} 超出交易金额", refunded_total.0)));
    }
    Ok(Some(RefundNotice {
        out_trade_no: Some(need("out_trade_no")?.to_string()),
        transaction_id: Some(need("trade_no")?.to_string()),
        out_refund_no: need("out_biz_no")?.to_string(),
        refund_id: String::new(),
        status: RefundStatus::Success,
        amount: None,
        refunded_total: Some(refunded_total),
        merchant_id: seller_id.to_string(),
        provider_status: format!("{status} refund_fee {}", need("refund_fee")?),
    }))
}

fn from_json<T: for<'de> Deserialize<'de>>(s: &str) -> Result<T, ChannelError> {
    serde_json::from_str(s).map_err(|e| ChannelError::Malformed(e.to_string()))
}
