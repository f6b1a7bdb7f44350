//! WeChat Pay v3 交易账单 (trade bill): `GET /v3/bill/tradebill?bill_date=…&bill_type=ALL`
//! answers `{download_url, hash_type, hash_value}`; the file at `download_url` (a signed GET
//! too; its answer carries no WeChat Pay signature, so the SHA1 from the signed first answer is
//! what ties the file to WeChat Pay) is text in the published layout:
//!
//! - a header line of column names (ALL: 交易时间,公众账号ID,商户号,特约商户号,设备号,
//!   微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,
//!   代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,
//!   商户数据包,手续费,费率,订单金额,申请退款金额,费率备注);
//! - one line per payment (交易状态 `SUCCESS`) or refund (`REFUND`; `REVOKED` for a reversed
//!   payment), every field prefixed with a back-quote;
//! - a summary header (总交易单数,应结订单总金额,退款总金额,…,订单总金额,申请退款总金额) and
//!   one summary line, back-quoted too.
//!
//! Columns are found by name, so older merchants' layouts (总金额 instead of 订单金额,
//! 总交易额 in the summary) parse as well. Amounts are yuan, parsed exactly.

use crate::statement::{DeclaredTotals, Statement, StatementKind, StatementLine, check_date, malformed, yuan};
use crate::{ChannelError, Provider};
use aws_lc_rs::digest;
use campuspay_domain::Fen;
use serde::Deserialize;

pub const TRADEBILL_PATH: &str = "/v3/bill/tradebill";

/// `/v3/bill/tradebill?bill_date=2024-09-01&bill_type=ALL`.
pub fn tradebill_path(date: &str) -> Result<String, ChannelError> {
    check_date(date)?;
    Ok(format!("{TRADEBILL_PATH}?bill_date={date}&bill_type=ALL&tar_type=GZIP"))
}

/// The answer of the tradebill request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BillLocation {
    pub download_url: String,
    pub hash_type: String,
    pub hash_value: String,
}

pub fn parse_location(body: &str) -> Result<BillLocation, ChannelError> {
    let l: BillLocation = serde_json::from_str(body).map_err(|e| malformed(format!("账单申请应答有误: {e}")))?;
    if l.download_url.is_empty() {
        return Err(malformed("账单申请应答缺少 download_url"));
    }
    Ok(l)
}

/// Lower-case hex SHA1 of `bytes` (what `hash_value` holds).
pub fn sha1_hex(bytes: &[u8]) -> String {
    digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, bytes).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The downloaded file must hash to the announced value; a mismatch (a tampered or damaged
/// download) is [`ChannelError::BadSignature`]: the hash is the file's only authentication.
pub fn verify_hash(bytes: &[u8], location: &BillLocation) -> Result<(), ChannelError> {
    if !location.hash_type.eq_ignore_ascii_case("SHA1") {
        return Err(ChannelError::Unsupported("未知的账单哈希类型（只支持 SHA1）"));
    }
    if sha1_hex(bytes).eq_ignore_ascii_case(location.hash_value.trim()) { Ok(()) } else { Err(ChannelError::BadSignature) }
}

/// The part of an absolute `url` that a request signature covers: everything after the host
/// (`/v3/billdownload/file?token=…`, or with a base URL's prefix in front).
pub fn url_path(url: &str) -> Result<&str, ChannelError> {
    let after_scheme = url.split_once("://").map(|(_, r)| r).ok_or_else(|| malformed(format!("不是绝对地址: {url}")))?;
    after_scheme.find('/').map(|i| &after_scheme[i..]).ok_or_else(|| malformed(format!("地址缺少路径: {url}")))
}

/// Splits one back-quoted line into its fields. Every field starts with `` ` ``, so fields are
/// cut at `` ,` `` (a comma inside a product name stays in its field).
fn fields(line: &str) -> Result<Vec<&str>, ChannelError> {
    let body = line.strip_prefix('`').ok_or_else(|| malformed(format!("账单行缺少 ` 前缀: {line}")))?;
    Ok(body.split(",`").collect())
}

/// The header's column names.
struct Columns(Vec<String>);

impl Columns {
    fn index(&self, names: &[&str]) -> Option<usize> {
        names.iter().find_map(|n| self.0.iter().position(|c| c == n))
    }

    fn need(&self, names: &[&str]) -> Result<usize, ChannelError> {
        self.index(names).ok_or_else(|| malformed(format!("账单表头缺少 {}", names.join("/"))))
    }
}

/// Parses a trade bill's text into a statement of `date` (not yet checked against the summary:
/// see [`Statement::check_totals`]).
pub fn parse(date: &str, text: &str) -> Result<Statement, ChannelError> {
    check_date(date)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines().map(|l| l.trim_end_matches('\r')).filter(|l| !l.trim().is_empty());
    let header = lines.next().ok_or_else(|| malformed("账单为空"))?;
    if header.starts_with('`') {
        return Err(malformed("账单缺少表头"));
    }
    let cols = Columns(header.split(',').map(|c| c.trim().to_string()).collect());
    let c_time = cols.need(&["交易时间"])?;
    let c_txn = cols.need(&["微信订单号"])?;
    let c_out = cols.need(&["商户订单号"])?;
    let c_state = cols.need(&["交易状态"])?;
    let c_amount = cols.need(&["订单金额", "总金额", "应结订单金额"])?;
    let c_refund = cols.index(&["申请退款金额", "退款金额"]);
    let c_refund_id = cols.index(&["微信退款单号"]);
    let c_refund_no = cols.index(&["商户退款单号"]);
    let c_subject = cols.index(&["商品名称"]);
    let mut out = Vec::new();
    let mut summary = None;
    while let Some(line) = lines.next() {
        if !line.starts_with('`') {
            summary = Some((line, lines.next().ok_or_else(|| malformed("账单汇总缺少数据行"))?));
            break;
        }
        let f = fields(line)?;
        if f.len() != cols.0.len() {
            return Err(malformed(format!("账单行有 {} 个字段，表头有 {} 个: {line}", f.len(), cols.0.len())));
        }
        let text_at = |i: usize| f[i].trim().to_string();
        let opt_at = |i: Option<usize>| i.map(|i| f[i].trim()).filter(|v| !v.is_empty() && *v != "0").map(str::to_string);
        let (kind, amount) = match f[c_state].trim() {
            "SUCCESS" => (StatementKind::Payment, yuan(f[c_amount].trim(), "订单")?),
            "REFUND" | "REVOKED" => {
                let i = c_refund.ok_or_else(|| malformed("账单有退款行但表头缺少退款金额"))?;
                (StatementKind::Refund, yuan(f[i].trim(), "退款")?)
            }
            other => return Err(malformed(format!("未知的交易状态 {other}"))),
        };
        if amount.0 < 0 {
            return Err(malformed(format!("账单金额为负: {line}")));
        }
        let refund = kind == StatementKind::Refund;
        out.push(StatementLine {
            out_trade_no: text_at(c_out),
            transaction_id: text_at(c_txn),
            kind,
            amount,
            time: text_at(c_time),
            out_refund_no: opt_at(c_refund_no).filter(|_| refund),
            refund_id: opt_at(c_refund_id).filter(|_| refund),
            subject: opt_at(c_subject),
        });
    }
    if lines.next().is_some() {
        return Err(malformed("账单汇总之后还有内容"));
    }
    let declared = summary.map(|(h, v)| parse_summary(h, v)).transpose()?;
    Ok(Statement { provider: Provider::Wechatpay, date: date.to_string(), lines: out, declared, raw: text.to_string() })
}

fn parse_summary(header: &str, values: &str) -> Result<DeclaredTotals, ChannelError> {
    let cols = Columns(header.split(',').map(|c| c.trim().to_string()).collect());
    let f = fields(values)?;
    if f.len() != cols.0.len() {
        return Err(malformed("账单汇总字段数与表头不符"));
    }
    let amount =
        |names: &[&str]| -> Result<Option<Fen>, ChannelError> { cols.index(names).map(|i| yuan(f[i].trim(), "汇总")).transpose() };
    let count = match cols.index(&["总交易单数"]) {
        // Older files write counts as `20.0`.
        Some(i) => Some(f[i].trim().trim_end_matches(".0").parse().map_err(|_| malformed(format!("总交易单数有误: {}", f[i])))?),
        None => None,
    };
    Ok(DeclaredTotals {
        count,
        payment_amount: amount(&["订单总金额", "总交易额", "应结订单总金额"])?,
        refund_amount: amount(&["申请退款总金额", "退款总金额", "总退款金额"])?,
    })
}

/// Builds a trade bill in the published ALL layout (the sandbox serves it).
pub fn render(lines: &[RenderLine<'_>]) -> String {
    const HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,\
        付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,\
        商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";
    let mut out = format!("{HEADER}\r\n");
    let (mut paid, mut refunded) = (0i64, 0i64);
    for l in lines {
        let y = |f: i64| Fen(f).to_yuan_string();
        let (state, refund_id, refund_no, refund, refund_type, refund_state) = match l.refund {
            None => ("SUCCESS", "0", "0", 0, "", ""),
            Some((id, no, amount)) => ("REFUND", id, no, amount, "ORIGINAL", "SUCCESS"),
        };
        paid += if l.refund.is_none() { l.amount } else { 0 };
        refunded += refund;
        let settle = if l.refund.is_none() { l.amount } else { 0 };
        let row = [
            l.time,
            l.appid,
            l.mchid,
            "0",
            "",
            l.transaction_id,
            l.out_trade_no,
            l.openid,
            l.trade_type,
            state,
            "OTHERS",
            "CNY",
            &y(settle),
            "0.00",
            refund_id,
            refund_no,
            &y(refund),
            "0.00",
            refund_type,
            refund_state,
            l.subject,
            "",
            "0.00000",
            "0.60%",
            &y(if l.refund.is_none() { l.amount } else { 0 }),
            &y(refund),
            "",
        ];
        out.push('`');
        out.push_str(&row.join(",`"));
        out.push_str("\r\n");
    }
    let y = |f: i64| Fen(f).to_yuan_string();
    out.push_str("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n");
    out.push_str(&format!("`{},`{},`{},`0.00,`0.00000,`{},`{}\r\n", lines.len(), y(paid), y(refunded), y(paid), y(refunded)));
    out
}

/// One line of [`render`]: a payment (`refund: None`) or a refund
/// (`Some((refund_id, out_refund_no, fen))`). `amount` is the order's total.
#[derive(Clone, Copy)]
pub struct RenderLine<'a> {
    pub time: &'a str,
    pub appid: &'a str,
    pub mchid: &'a str,
    pub transaction_id: &'a str,
    pub out_trade_no: &'a str,
    pub openid: &'a str,
    pub trade_type: &'a str,
    pub subject: &'a str,
    pub amount: i64,
    pub refund: Option<(&'a str, &'a str, i64)>,
}

#[cfg(test)]
#[path = "bill_tests.rs"]
mod tests;

/// The largest bill we inflate (a damaged or hostile gzip stops here, not at memory's end).
const MAX_BILL_BYTES: u64 = 256 * 1024 * 1024;

/// A bill as WeChat Pay serves it with `tar_type=GZIP`.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    let _ = z.write_all(bytes);
    z.finish().unwrap_or_default()
}

/// The bill inside a `tar_type=GZIP` download.
pub fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, ChannelError> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(MAX_BILL_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| malformed(format!("账单 gzip 解压失败: {e}")))?;
    if out.len() as u64 > MAX_BILL_BYTES {
        return Err(malformed("账单解压后过大"));
    }
    Ok(out)
}
