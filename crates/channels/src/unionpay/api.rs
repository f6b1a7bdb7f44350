//! UnionPay ACP fields, as published: transaction types, product codes, answer codes, and the
//! parsing of answers and back notifications. Amounts (`txnAmt`) are integer fen strings.

use super::UnionpayConfig;
use super::sign::Params;
use crate::{ChannelError, PaymentNotice, ProviderStatus, RefundNotice, RefundStatus};
use campuspay_domain::Fen;

/// `txnType`: 00 query, 01 consumption, 04 refund (退货), 31 consumption cancel (消费撤销).
pub const TXN_QUERY: &str = "00";
pub const TXN_CONSUME: &str = "01";
pub const TXN_REFUND: &str = "04";
pub const TXN_CANCEL: &str = "31";

/// `txnSubType` 01 for a gateway consumption, 07 for a QR code applied for (申码), 00 otherwise.
pub const SUB_GATEWAY: &str = "01";
pub const SUB_QR_APPLY: &str = "07";
pub const SUB_NONE: &str = "00";

/// `bizType`: 000201 online gateway (B2C 网关支付), 000000 UnionPay QR.
pub const BIZ_GATEWAY: &str = "000201";
pub const BIZ_QR: &str = "000000";

/// `channelType`: 07 PC / internet, 08 mobile.
pub const CHANNEL_PC: &str = "07";
pub const CHANNEL_MOBILE: &str = "08";

/// `accessType` 0: a merchant connected directly.
pub const ACCESS_MERCHANT: &str = "0";
/// `currencyCode` 156: CNY.
pub const CNY: &str = "156";

/// `respCode` 00: success (for a query: the query itself succeeded, see `origRespCode`).
pub const RESP_OK: &str = "00";
/// 03/04/05: not final yet (timeout, processing, accepted): ask again later.
pub const RESP_PENDING: [&str; 3] = ["03", "04", "05"];
/// 34: no such transaction (查无此交易).
pub const RESP_NOT_FOUND: &str = "34";

/// The endpoints under the configured base URL.
pub const FRONT_TRANS: &str = "frontTransReq.do";
pub const BACK_TRANS: &str = "backTransReq.do";
pub const QUERY_TRANS: &str = "queryTrans.do";

/// `txnAmt`: digits only, no sign, no decimals.
pub fn fen(text: &str) -> Result<Fen, ChannelError> {
    if text.is_empty() || text.len() > 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ChannelError::Malformed(format!("txnAmt 有误: {text}")));
    }
    text.parse::<i64>().map(Fen).map_err(|_| ChannelError::Malformed(format!("txnAmt 有误: {text}")))
}

pub fn get<'a>(p: &'a Params, k: &str) -> Option<&'a str> {
    p.get(k).map(String::as_str).filter(|v| !v.is_empty())
}

pub fn need<'a>(p: &'a Params, k: &str) -> Result<&'a str, ChannelError> {
    get(p, k).ok_or_else(|| ChannelError::Malformed(format!("报文缺少 {k}")))
}

/// A verified answer must be for our merchant.
pub fn check_merchant(p: &Params, c: &UnionpayConfig) -> Result<(), ChannelError> {
    match get(p, "merId") {
        Some(m) if m == c.mer_id => Ok(()),
        other => Err(ChannelError::WrongMerchant(format!("merId {} ≠ {}", other.unwrap_or_default(), c.mer_id))),
    }
}

/// An answer whose `respCode` is not 00, as an error (pending codes are retryable: 503).
pub fn resp_error(p: &Params) -> ChannelError {
    let code = get(p, "respCode").unwrap_or("??").to_string();
    let status = if RESP_PENDING.contains(&code.as_str()) { 503 } else { 200 };
    ChannelError::Provider { status, code, message: get(p, "respMsg").unwrap_or_default().to_string() }
}

/// `Ok` on `respCode=00`, the provider's error otherwise.
pub fn require_ok(p: &Params) -> Result<(), ChannelError> {
    if get(p, "respCode") == Some(RESP_OK) { Ok(()) } else { Err(resp_error(p)) }
}

/// The `qrCode` of a QR apply answer.
pub fn parse_qr_apply(p: &Params) -> Result<String, ChannelError> {
    require_ok(p)?;
    Ok(need(p, "qrCode")?.to_string())
}

/// A `queryTrans.do` answer about a consumption: `respCode` says whether the query worked,
/// `origRespCode` what became of the order.
pub fn parse_query(p: &Params) -> Result<ProviderStatus, ChannelError> {
    match get(p, "respCode") {
        Some(RESP_OK) => {}
        Some(RESP_NOT_FOUND) => return Ok(ProviderStatus::NotFound),
        _ => return Err(resp_error(p)),
    }
    Ok(match get(p, "origRespCode") {
        Some(RESP_OK) => ProviderStatus::Paid {
            transaction_id: need(p, "queryId")?.to_string(),
            amount: fen(need(p, "txnAmt")?)?,
            paid_at: get(p, "traceTime").or_else(|| get(p, "txnTime")).map(str::to_string),
        },
        Some(c) if RESP_PENDING.contains(&c) => ProviderStatus::Paying,
        Some(c) => ProviderStatus::Failed { reason: format!("{c} {}", get(p, "origRespMsg").unwrap_or_default()) },
        None => return Err(ChannelError::Malformed("查询应答缺少 origRespCode".into())),
    })
}

/// A verified back notification. Only a consumption (`txnType=01`) with `respCode=00` is a
/// payment; a refund's notification (`txnType=04`, sent to the same `backUrl`) comes back with
/// `paid = false`, `out_trade_no` = the refund's `orderId` and `provider_status` `04:<respCode>`.
pub fn parse_notice(p: &Params, c: &UnionpayConfig) -> Result<PaymentNotice, ChannelError> {
    check_merchant(p, c)?;
    let txn_type = need(p, "txnType")?;
    let resp = need(p, "respCode")?;
    Ok(PaymentNotice {
        out_trade_no: need(p, "orderId")?.to_string(),
        transaction_id: need(p, "queryId")?.to_string(),
        amount: fen(need(p, "txnAmt")?)?,
        merchant_id: c.mer_id.clone(),
        app_id: String::new(),
        paid: txn_type == TXN_CONSUME && resp == RESP_OK,
        provider_status: format!("{txn_type}:{resp}"),
        paid_at: get(p, "traceTime").or_else(|| get(p, "txnTime")).map(str::to_string),
    })
}

/// A verified back notification read as a refund's (退货, `txnType=04`, sent to the refund
/// request's own `backUrl`); `Ok(None)` for any other `txnType` (a consumption's). `orderId` is
/// the refund's own number, `origQryId` names the paid consumption, `queryId` is the refund's,
/// `txnAmt` this refund's amount. Its `respCode` is the refund's result, read as `origRespCode`
/// is in a query: 00 done, 03/04/05 not final yet, anything else failed.
pub fn parse_refund_notice(p: &Params, c: &UnionpayConfig) -> Result<Option<RefundNotice>, ChannelError> {
    if need(p, "txnType")? != TXN_REFUND {
        return Ok(None);
    }
    check_merchant(p, c)?;
    let resp = need(p, "respCode")?;
    let status = match resp {
        RESP_OK => RefundStatus::Success,
        c if RESP_PENDING.contains(&c) => RefundStatus::Processing,
        _ => RefundStatus::Closed,
    };
    let amount = fen(need(p, "txnAmt")?)?;
    if !amount.is_positive() {
        return Err(ChannelError::Malformed("退货通知的 txnAmt 须大于零".into()));
    }
    Ok(Some(RefundNotice {
        out_trade_no: None,
        transaction_id: Some(need(p, "origQryId")?.to_string()),
        out_refund_no: need(p, "orderId")?.to_string(),
        refund_id: need(p, "queryId")?.to_string(),
        status,
        amount: Some(amount),
        refunded_total: None,
        merchant_id: c.mer_id.clone(),
        provider_status: format!("{TXN_REFUND}:{resp} {}", get(p, "respMsg").unwrap_or_default()).trim_end().to_string(),
    }))
}
