//! The fields of CCB's messages: the 520100 order form, the merchant notification and the 410408
//! query with its XML answer. Pure functions; `mod.rs` sends them.

use super::CcbConfig;
use super::sign::{self, CcbPublicKey};
use super::xml;
use crate::{ChannelError, PaymentNotice, ProviderStatus};
use campuspay_domain::Fen;
use std::collections::BTreeMap;

/// `ORDERID`: at most 30 characters (the published field length); ours are letters and digits.
pub const MAX_ORDER_ID: usize = 30;

/// The query's `RETURN_CODE` on success (LiHuaYang `CCBWapQRCodePayQueryResp`: "成功时总为000000").
pub const RETURN_OK: &str = "000000";

/// `PAYMENT`: yuan with two decimals, as the published order forms send it.
pub fn payment(amount: Fen) -> String {
    amount.to_yuan_string()
}

/// Yuan text (`PAYMENT`, `AMOUNT`) → fen, exactly.
pub fn fen(text: &str) -> Result<Fen, ChannelError> {
    Fen::parse_yuan(text).ok().filter(|f| f.0 >= 0).ok_or_else(|| ChannelError::Malformed(format!("金额有误: {text}")))
}

pub fn check_order_id(id: &str) -> Result<(), ChannelError> {
    if id.is_empty() || id.len() > MAX_ORDER_ID || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ChannelError::Malformed(format!("建行 ORDERID 须为 1–{MAX_ORDER_ID} 位字母或数字")));
    }
    Ok(())
}

/// The 520100 form: every field in its MAC order. `TYPE=1` (防钓鱼 mode, as the published
/// integration sends it); `GATEWAY`, `REGINFO`, `PROINFO`, `REFERER` empty; `CLIENTIP` the payer's
/// address where the flow knows it. Blank fields are left out of the form but stay in the MAC
/// (zhongliudizhu `CreditPay.payment`), which the gateway must then read as empty.
pub fn order_form(c: &CcbConfig, order_id: &str, amount: Fen, client_ip: &str) -> Result<BTreeMap<String, String>, ChannelError> {
    check_order_id(order_id)?;
    if !amount.is_positive() {
        return Err(ChannelError::Malformed("金额必须大于零".into()));
    }
    let pay = payment(amount);
    let values: BTreeMap<&str, &str> = [
        ("MERCHANTID", c.merchant_id.as_str()),
        ("POSID", c.pos_id.as_str()),
        ("BRANCHID", c.branch_id.as_str()),
        ("ORDERID", order_id),
        ("PAYMENT", pay.as_str()),
        ("CURCODE", sign::CNY),
        ("TXCODE", sign::TX_ORDER),
        ("REMARK1", ""),
        ("REMARK2", ""),
        ("TYPE", "1"),
        ("GATEWAY", ""),
        ("CLIENTIP", client_ip),
        ("REGINFO", ""),
        ("PROINFO", ""),
        ("REFERER", ""),
    ]
    .into_iter()
    .collect();
    let get = |k: &str| values.get(k).map(|v| v.to_string());
    let mac = sign::mac(&sign::ORDER_MAC_FIELDS, &get, sign::pub30(&c.ccb_public_key_hex)?);
    let mut form: BTreeMap<String, String> =
        values.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (k.to_string(), v.to_string())).collect();
    form.insert("MAC".into(), mac);
    Ok(form)
}

/// A form or query string (`k=v&…`), each value percent-decoded to bytes and read as UTF-8, or
/// as GBK where it is not UTF-8 (CCB's Chinese values).
pub fn parse_form(body: &[u8]) -> BTreeMap<String, String> {
    let decode = |s: &[u8]| -> String {
        let mut bytes = Vec::with_capacity(s.len());
        let mut i = 0;
        while i < s.len() {
            match s[i] {
                b'+' => bytes.push(b' '),
                b'%' if i + 2 < s.len() => match std::str::from_utf8(&s[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        bytes.push(b);
                        i += 2;
                    }
                    None => bytes.push(b'%'),
                },
                b => bytes.push(b),
            }
            i += 1;
        }
        match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => encoding_rs::GBK.decode(e.as_bytes()).0.into_owned(),
        }
    };
    body.split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let mut it = pair.splitn(2, |b| *b == b'=');
            let k = decode(it.next().unwrap_or_default());
            let v = decode(it.next().unwrap_or_default());
            (k, v)
        })
        .collect()
}

/// Verifies a notification's `SIGN` (see [`sign::notice_sign_strings`]) and that it is for this
/// merchant's POS and branch; parses it. `SUCCESS=Y` is paid; `N` failed, `E` given up.
pub fn parse_notice(fields: &BTreeMap<String, String>, key: &CcbPublicKey, c: &CcbConfig) -> Result<PaymentNotice, ChannelError> {
    let get = |k: &str| fields.get(k).cloned();
    let signature = fields.get("SIGN").filter(|s| !s.is_empty()).ok_or(ChannelError::BadSignature)?;
    let candidates = sign::notice_sign_strings(&get);
    if !candidates.iter().any(|m| key.verify_hex(m, signature).is_ok()) {
        return Err(ChannelError::BadSignature);
    }
    let field = |k: &str| fields.get(k).map(String::as_str).unwrap_or_default();
    if field("POSID") != c.pos_id || field("BRANCHID") != c.branch_id {
        return Err(ChannelError::WrongMerchant(format!("POSID {} / BRANCHID {}", field("POSID"), field("BRANCHID"))));
    }
    if field("CURCODE") != sign::CNY {
        return Err(ChannelError::Malformed(format!("币种 {} 不是人民币", field("CURCODE"))));
    }
    let order_id = field("ORDERID");
    check_order_id(order_id)?;
    let success = field("SUCCESS");
    Ok(PaymentNotice {
        out_trade_no: order_id.to_string(),
        // CCB gives no payment id of its own: the merchant's ORDERID is the payment's key at
        // CCB (one payment per ORDERID and merchant).
        transaction_id: order_id.to_string(),
        amount: fen(field("PAYMENT"))?,
        merchant_id: c.merchant_id.clone(),
        app_id: c.pos_id.clone(),
        paid: success == "Y",
        provider_status: format!("SUCCESS={success}"),
        paid_at: get("ACCDATE").filter(|d| !d.is_empty()),
    })
}

/// The 410408 form for `order_id`: `TYPE=0` payments, `KIND` 0 (not yet settled) or 1
/// (settled; only with `STATUS=1`, as the SDK's notes say settled queries take no "all"),
/// `SEL_TYPE=3` (an XML page), `PAGE=1`. `QUPWD` is sent, and empty in the MAC.
pub fn query_form(c: &CcbConfig, order_id: &str, settled: bool) -> Result<BTreeMap<String, String>, ChannelError> {
    check_order_id(order_id)?;
    let (kind, status) = if settled { ("1", "1") } else { ("0", "3") };
    let mut form: BTreeMap<String, String> = [
        ("MERCHANTID", c.merchant_id.as_str()),
        ("POSID", c.pos_id.as_str()),
        ("BRANCHID", c.branch_id.as_str()),
        ("OPERATOR", c.operator.as_str()),
        ("QUPWD", c.query_password.as_str()),
        ("ORDERDATE", ""),
        ("BEGORDERTIME", ""),
        ("ENDORDERTIME", ""),
        ("ORDERID", order_id),
        ("TXCODE", sign::TX_QUERY),
        ("TYPE", "0"),
        ("KIND", kind),
        ("STATUS", status),
        ("SEL_TYPE", "3"),
        ("PAGE", "1"),
        ("CHANNEL", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mac = {
        let get = |k: &str| form.get(k).cloned();
        sign::mac(&sign::QUERY_MAC_FIELDS, &get, "")
    };
    form.insert("MAC".into(), mac);
    Ok(form)
}

/// One `QUERYORDER` of a 410408 answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryOrder {
    pub merchant_id: String,
    pub pos_id: String,
    pub order_id: String,
    pub amount: Fen,
    /// 0 失败, 1 成功, 2/5 待银行确认, 3 已部分退款, 4 已全额退款 (payment flow).
    pub status_code: String,
    pub status: String,
    pub acc_date: String,
}

/// Reads a 410408 answer: an error `RETURN_CODE` is the provider's refusal; otherwise its orders.
pub fn parse_query_answer(body: &str) -> Result<Vec<QueryOrder>, ChannelError> {
    let code = xml::text(body, "RETURN_CODE").ok_or_else(|| ChannelError::Malformed("建行查询应答缺少 RETURN_CODE".into()))?;
    if code != RETURN_OK {
        return Err(ChannelError::Provider { status: 200, code, message: xml::text(body, "RETURN_MSG").unwrap_or_default() });
    }
    xml::blocks(body, "QUERYORDER")
        .into_iter()
        .map(|b| {
            let t = |k: &str| xml::text(b, k).unwrap_or_default();
            Ok(QueryOrder {
                merchant_id: t("MERCHANTID"),
                pos_id: t("POSID"),
                order_id: t("ORDERID"),
                amount: fen(&t("AMOUNT"))?,
                status_code: t("STATUSCODE"),
                status: t("STATUS"),
                acc_date: t("ACCDATE"),
            })
        })
        .collect()
}

/// What the orders of a query answer say of `order_id` at this merchant (`None`: not there).
pub fn status_of(orders: &[QueryOrder], c: &CcbConfig, order_id: &str) -> Option<ProviderStatus> {
    let o = orders.iter().find(|o| o.order_id == order_id && o.merchant_id == c.merchant_id && o.pos_id == c.pos_id)?;
    let id = o.order_id.clone();
    Some(match o.status_code.as_str() {
        "1" => ProviderStatus::Paid { transaction_id: id, amount: o.amount, paid_at: Some(o.acc_date.clone()).filter(|d| !d.is_empty()) },
        "3" | "4" => ProviderStatus::Refunded { transaction_id: id, amount: o.amount },
        "2" | "5" => ProviderStatus::Paying,
        _ => ProviderStatus::Failed { reason: format!("{} {}", o.status_code, o.status) },
    })
}
