//! 收银宝's words and the parsing of its answers and notifications (pure functions).
//!
//! Answers are JSON (`retcode` `SUCCESS` | `FAIL` says whether the request was taken at all;
//! `trxstatus` says what happened to the trade). Codes are doc 250 附录 5.2, as hlib-go/hallinpay
//! copies them: `0000` 成功, `1001` 交易不存在, `2000`/`2008` 处理中, `3xxx` failed
//! (`3088` 交易未支付, `3050` 已撤销, `3888` 流水号重复, …).

use super::AllinpayConfig;
use super::sign::Params;
use crate::{ChannelError, PaymentNotice, ProviderStatus, RefundStatus};
use campuspay_domain::Fen;

pub const PATH_QUERY: &str = "/apiweb/unitorder/query";
pub const PATH_REFUND: &str = "/apiweb/unitorder/refund";
/// H5收银台 订单提交 (pyallinpay `h5unionpay`, devhelp id 313), served on the `syb` host.
pub const PATH_H5_CASHIER: &str = "/apiweb/h5unionpay/unionorder";

/// `version` of the query and refund requests (pyallinpay: 12) and of the H5 cashier order (12).
pub const VERSION: &str = "12";

pub const RET_SUCCESS: &str = "SUCCESS";
pub const TRX_OK: &str = "0000";
pub const TRX_NOT_FOUND: &str = "1001";
pub const TRX_PROCESSING: &str = "2000";
pub const TRX_PROCESSING_2: &str = "2008";
/// 交易未支付: the order ended (its `validtime` passed) without money.
pub const TRX_UNPAID: &str = "3088";
/// 已撤销.
pub const TRX_CANCELLED: &str = "3050";

/// `trxcode` of payments by wallet (附录 5.3; field names confirmed by integrations, e.g. a
/// recorded notification with `trxcode=VSP511`): and of their refunds (退货).
pub const TRXCODE_WECHAT: &str = "VSP501";
pub const TRXCODE_WECHAT_REFUND: &str = "VSP503";
pub const TRXCODE_ALIPAY: &str = "VSP511";
pub const TRXCODE_ALIPAY_REFUND: &str = "VSP513";
pub const TRXCODE_UNIONPAY: &str = "VSP551";
pub const TRXCODE_UNIONPAY_REFUND: &str = "VSP553";

pub fn get<'a>(p: &'a Params, k: &str) -> Option<&'a str> {
    p.get(k).map(String::as_str).filter(|v| !v.is_empty())
}

fn need<'a>(p: &'a Params, k: &str) -> Result<&'a str, ChannelError> {
    get(p, k).ok_or_else(|| ChannelError::Malformed(format!("缺少字段 {k}")))
}

fn fen(p: &Params, k: &str) -> Result<Fen, ChannelError> {
    need(p, k)?.parse::<i64>().map(Fen).map_err(|_| ChannelError::Malformed(format!("{k} 不是整数分")))
}

/// A `retcode=FAIL` answer as an error (the request was not taken: bad signature, bad field).
pub fn ret_error(p: &Params) -> ChannelError {
    ChannelError::Provider {
        status: 200,
        code: get(p, "retcode").unwrap_or("FAIL").to_string(),
        message: get(p, "retmsg").unwrap_or("通联未说明原因").to_string(),
    }
}

/// The answer's merchant must be ours (an answer about another merchant is not believed).
pub fn check_merchant(p: &Params, config: &AllinpayConfig) -> Result<(), ChannelError> {
    for (field, ours) in [("cusid", &config.cusid), ("appid", &config.appid)] {
        if let Some(v) = get(p, field)
            && v != ours
        {
            return Err(ChannelError::WrongMerchant(format!("{field}={v}")));
        }
    }
    Ok(())
}

/// A trade query's answer as the provider's view of the order.
pub fn parse_query(p: &Params) -> Result<ProviderStatus, ChannelError> {
    let status = need(p, "trxstatus")?;
    Ok(match status {
        TRX_OK => ProviderStatus::Paid {
            transaction_id: need(p, "trxid")?.to_string(),
            amount: fen(p, "trxamt")?,
            paid_at: get(p, "fintime").map(str::to_string),
        },
        TRX_NOT_FOUND => ProviderStatus::NotFound,
        TRX_PROCESSING | TRX_PROCESSING_2 => ProviderStatus::Paying,
        // The order is over without money: for the aggregated cashier, its `validtime` passed.
        TRX_UNPAID | TRX_CANCELLED => ProviderStatus::Closed,
        other => ProviderStatus::Failed { reason: format!("{other} {}", get(p, "errmsg").unwrap_or_default()) },
    })
}

/// A refund's state from the refund answer or the query of the refund's own `reqsn`; `None` when
/// 通联 has no such refund (`1001`).
pub fn refund_status(p: &Params) -> Result<Option<RefundStatus>, ChannelError> {
    Ok(Some(match need(p, "trxstatus")? {
        TRX_OK => RefundStatus::Success,
        TRX_NOT_FOUND => return Ok(None),
        TRX_PROCESSING | TRX_PROCESSING_2 => RefundStatus::Processing,
        _ => RefundStatus::Closed,
    }))
}

/// Whether a `trxcode` is a refund's (退货), which is never a payment notice.
pub fn is_refund_code(trxcode: &str) -> bool {
    matches!(trxcode, TRXCODE_WECHAT_REFUND | TRXCODE_ALIPAY_REFUND | TRXCODE_UNIONPAY_REFUND)
}

/// A verified payment notification (doc 1041/2100: `trxid`, `trxamt`, `trxstatus`, `paytime`,
/// `chnltrxid`, `trxcode`, …; our order number comes back as `cusorderid`, the notification
/// has no `reqsn`, as recorded notifications show).
pub fn parse_notice(p: &Params, config: &AllinpayConfig) -> Result<PaymentNotice, ChannelError> {
    check_merchant(p, config)?;
    let appid = need(p, "appid")?;
    let trxcode = get(p, "trxcode").unwrap_or_default();
    if is_refund_code(trxcode) {
        return Err(ChannelError::Malformed(format!("{trxcode} 是退款交易，不是支付通知")));
    }
    let status = need(p, "trxstatus")?;
    Ok(PaymentNotice {
        out_trade_no: need(p, "cusorderid")?.to_string(),
        transaction_id: need(p, "trxid")?.to_string(),
        amount: fen(p, "trxamt")?,
        merchant_id: get(p, "cusid").unwrap_or(&config.cusid).to_string(),
        app_id: appid.to_string(),
        paid: status == TRX_OK,
        provider_status: if trxcode.is_empty() { status.to_string() } else { format!("{status} {trxcode}") },
        paid_at: get(p, "paytime").map(str::to_string),
    })
}

/// 收银宝's `yyyyMMddHHmmss` (Asia/Shanghai) of unix seconds.
pub fn shanghai_time(unix: i64) -> String {
    let t = unix + 8 * 3600;
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}{m:02}{d:02}{:02}{:02}{:02}", secs / 3600, secs % 3600 / 60, secs % 60)
}

/// Howard Hinnant's `civil_from_days`: the proleptic Gregorian date of a day count from 1970.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shanghai_time_is_utc_plus_eight() {
        // 2021-03-11 09:03:24 UTC, the `paytime` of a recorded notification (17:03:24 in Shanghai).
        assert_eq!(shanghai_time(1_615_453_404), "20210311170324");
    }

    #[test]
    fn statuses_map_as_the_appendix_says() {
        let p = |s: &str| -> Params {
            [("trxstatus", s), ("trxid", "1121"), ("trxamt", "100"), ("errmsg", "x")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(matches!(parse_query(&p("0000")).unwrap(), ProviderStatus::Paid { amount: Fen(100), .. }));
        assert_eq!(parse_query(&p("1001")).unwrap(), ProviderStatus::NotFound);
        assert_eq!(parse_query(&p("2008")).unwrap(), ProviderStatus::Paying);
        assert_eq!(parse_query(&p("3088")).unwrap(), ProviderStatus::Closed);
        assert!(matches!(parse_query(&p("3999")).unwrap(), ProviderStatus::Failed { .. }));
        assert_eq!(refund_status(&p("2000")).unwrap(), Some(RefundStatus::Processing));
        assert_eq!(refund_status(&p("3045")).unwrap(), Some(RefundStatus::Closed));
        assert_eq!(refund_status(&p("1001")).unwrap(), None);
    }
}
