//! UnionPay ACP 对账文件: the file transfer request (`txnType=76`, `txnSubType=01`,
//! `bizType=000000`, `fileType=00`, `settleDate=MMdd`) answers, signed, `fileName` and
//! `fileContent` = Base64 of the zlib-deflated zip. The zip holds the 全渠道 merchant files;
//! the 流水文件 is the member named `INN{yyMMdd}88ZM_{merId}`.
//!
//! **Layout (ZM).** Fixed-width fields separated by one space, one transaction a line (CRLF),
//! widths in bytes as the ACP SDK's `parseZMFile` and 《全渠道平台接入接口规范 第3部分 文件接口》
//! give them ([`ZM_WIDTHS`], 42 fields). We read: 1 交易代码, 5 交易传输时间 (`MMddHHmmss`),
//! 7 交易金额 (fen, zero-padded), 10 查询流水号 (`queryId`), 12 商户订单号 (`orderId`),
//! 20 交易类型 (`txnType`: 01 consumption, 04 refund, 31 consumption cancel), 27 原交易查询流水号
//! (`origQryId`), 28 商户代码 (`merId`) and 41 原始交易订单号.
//!
//! **Assumptions**, since the full specification is distributed as a PDF we could not read
//! whole: the kind of a line is taken from 交易类型 (`txnType`) rather than 交易代码 (the
//! sandbox writes `S22` for a consumption and `S30` for a refund there, which nothing reads);
//! field 41 is the refunded order's `orderId` on refund lines (blank is allowed: the line is
//! then found by `origQryId`); the year of 交易传输时间 is the statement date's, or the year
//! before when the month is later than the settlement month (a 12-31 line in a 01-01 file).
//! Text fields are GBK and widths count bytes.

use super::api::{self, fen, need};
use super::sign::Params;
use crate::statement::{Statement, StatementKind, StatementLine, check_date, decode_gbk, malformed, unzip};
use crate::{ChannelError, Provider};
use std::io::{Read, Write};

/// `txnType` 76: file transfer; `fileType` 00: the merchant reconciliation files.
pub const TXN_FILE_TRANSFER: &str = "76";
pub const SUB_FILE_TRANSFER: &str = "01";
pub const BIZ_FILE_TRANSFER: &str = "000000";
pub const FILE_TYPE_RECONCILIATION: &str = "00";
/// Production file transfer URL (the gateway's `base_url` is another host).
pub const DEFAULT_FILE_TRANSFER_URL: &str = "https://filedownload.95516.com/";

/// Field widths of a ZM line, in bytes.
pub const ZM_WIDTHS: [usize; 42] = [
    3, 11, 11, 6, 10, 19, 12, 4, 2, 21, 2, 32, 2, 6, 10, 13, 13, 4, 15, 2, 2, 6, 2, 4, 32, 1, 21, 15, 1, 15, 32, 13, 13, 8, 32, 13, 13, 12,
    2, 1, 32, 98,
];

/// 0-based indexes of the fields we read.
const F_TIME: usize = 4;
const F_AMOUNT: usize = 6;
/// 16 商户手续费 (`merCharge`, 13 bytes), beside 17 结算金额 (`settleAmt`, 13 bytes).
const F_FEE: usize = 15;
const F_QUERY_ID: usize = 9;
const F_ORDER_ID: usize = 11;
const F_TXN_TYPE: usize = 19;
const F_ORIG_QUERY_ID: usize = 26;
const F_MER_ID: usize = 27;
const F_ORIG_ORDER_ID: usize = 40;

/// `settleDate` (`MMdd`) of a statement date.
pub fn settle_date(date: &str) -> Result<String, ChannelError> {
    let (_, m, d) = check_date(date)?;
    Ok(format!("{m:02}{d:02}"))
}

/// Reads a verified file transfer answer: inflates `fileContent`, finds the ZM member.
pub fn parse_answer(date: &str, p: &Params, mer_id: &str) -> Result<Statement, ChannelError> {
    api::require_ok(p)?;
    let content = need(p, "fileContent")?;
    let deflated = crate::crypto::b64_decode(content).map_err(|_| malformed("fileContent 不是有效的 Base64"))?;
    let zip = inflate(&deflated)?;
    let (_, zm) = unzip(&zip)?
        .into_iter()
        .find(|(name, _)| name.contains("ZM_") && !name.contains("ZME_"))
        .ok_or_else(|| malformed("对账文件压缩包中没有 ZM 流水文件"))?;
    parse_zm(date, &zm, mer_id)
}

/// Parses a ZM file of `date` for merchant `mer_id` (lines of other merchants are an error).
pub fn parse_zm(date: &str, bytes: &[u8], mer_id: &str) -> Result<Statement, ChannelError> {
    let (year, settle_month, _) = check_date(date)?;
    let mut lines = Vec::new();
    for (n, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        let f = cut(raw).map_err(|e| malformed(format!("ZM 第 {} 行: {e}", n + 1)))?;
        let at = |i: usize| -> Result<String, ChannelError> {
            let text = decode_gbk(f.get(i).copied().unwrap_or_default())?;
            Ok(text.trim().to_string())
        };
        if at(F_MER_ID)? != mer_id {
            return Err(ChannelError::WrongMerchant(format!("ZM 第 {} 行商户代码 {} ≠ {mer_id}", n + 1, at(F_MER_ID)?)));
        }
        let kind = match at(F_TXN_TYPE)?.as_str() {
            api::TXN_CONSUME => StatementKind::Payment,
            api::TXN_REFUND | api::TXN_CANCEL => StatementKind::Refund,
            other => return Err(malformed(format!("ZM 第 {} 行: 未知的交易类型 {other}", n + 1))),
        };
        let amount = fen(&at(F_AMOUNT)?)?;
        let time = transmission_time(&at(F_TIME)?, year, settle_month)?;
        let line = match kind {
            StatementKind::Payment => StatementLine {
                out_trade_no: at(F_ORDER_ID)?,
                transaction_id: at(F_QUERY_ID)?,
                kind,
                amount,
                time,
                out_refund_no: None,
                refund_id: None,
                subject: None,
            },
            StatementKind::Refund => StatementLine {
                out_trade_no: at(F_ORIG_ORDER_ID)?,
                transaction_id: at(F_ORIG_QUERY_ID)?,
                kind,
                amount,
                time,
                out_refund_no: Some(at(F_ORDER_ID)?),
                refund_id: Some(at(F_QUERY_ID)?),
                subject: None,
            },
        };
        if line.transaction_id.is_empty() {
            return Err(malformed(format!("ZM 第 {} 行缺少查询流水号", n + 1)));
        }
        lines.push(line);
    }
    let raw = decode_gbk(bytes)?;
    Ok(Statement { provider: Provider::Unionpay, date: date.to_string(), lines, declared: None, raw })
}

/// 商户手续费 of every line of a ZM file's text (as kept in `Statement::raw`): (the order the
/// line is about — for a refund line its 原始交易订单号 —, whether it is a refund line, the fee
/// in fen, unsigned). `None` when any line leaves the field blank or holds something we do not
/// read: then no fee is claimed for the day rather than a partial or made-up one.
///
/// The field's place and width are published (the ACP SDK's ZM field list and the 文件接口
/// specification's table: 16 商户手续费, 13 bytes). How its 13 bytes sign the amount is not
/// in anything public we could read whole; the other money fields of the file are fen
/// zero-padded, and UnionPay's settlement fields carry a debit/credit letter (`C`/`D`) before
/// 12 digits. So we read a leading `C`, `D`, `+` or `-` and 12 digits, or 13 digits, as fen,
/// and ignore the sign: the line's 交易类型 says whether the fee was kept (a consumption) or
/// given back (a refund), as for WeChat's and Alipay's fee columns.
pub fn zm_fees(raw: &str) -> Option<Vec<(String, bool, i64)>> {
    let mut out = Vec::new();
    for line in raw.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let bytes = crate::statement::encode_gbk(line);
        let f = cut(&bytes).ok()?;
        let text = |i: usize| decode_gbk(f.get(i).copied().unwrap_or_default()).ok().map(|t| t.trim().to_string());
        let refund = match text(F_TXN_TYPE)?.as_str() {
            api::TXN_CONSUME => false,
            api::TXN_REFUND | api::TXN_CANCEL => true,
            _ => return None,
        };
        let fee = text(F_FEE)?;
        let digits = fee.strip_prefix(['C', 'D', '+', '-']).unwrap_or(&fee);
        let ok = (digits.len() == 12 && digits.len() < fee.len()) || (digits.len() == 13 && digits.len() == fee.len());
        if !ok || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let order = text(if refund { F_ORIG_ORDER_ID } else { F_ORDER_ID })?;
        out.push((order, refund, digits.parse().ok()?));
    }
    Some(out)
}

/// Cuts a line into its fields. Everything up to 商户代码 must be there; later fields may be
/// missing from a short line.
fn cut(line: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut out = Vec::with_capacity(ZM_WIDTHS.len());
    let mut at = 0;
    for (i, w) in ZM_WIDTHS.iter().enumerate() {
        if at >= line.len() && i > F_MER_ID {
            break;
        }
        let field = line.get(at..at + w).ok_or_else(|| format!("行长 {} 字节，不足以容纳第 {} 个字段", line.len(), i + 1))?;
        if i + 1 < ZM_WIDTHS.len() && at + w < line.len() && line[at + w] != b' ' {
            return Err(format!("第 {} 个字段后缺少空格分隔", i + 1));
        }
        out.push(field);
        at += w + 1;
    }
    Ok(out)
}

/// `MMddHHmmss` → `yyyy-MM-dd HH:mm:ss`.
fn transmission_time(text: &str, year: i64, settle_month: u32) -> Result<String, ChannelError> {
    let bad = || malformed(format!("交易传输时间有误: {text:?}"));
    if text.len() != 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let month: u32 = text[..2].parse().map_err(|_| bad())?;
    let year = if month > settle_month { year - 1 } else { year };
    let t = format!("{year:04}-{}-{} {}:{}:{}", &text[..2], &text[2..4], &text[4..6], &text[6..8], &text[8..10]);
    campuspay_domain::time::parse_shanghai(&t).ok_or_else(bad)?;
    Ok(t)
}

fn inflate(bytes: &[u8]) -> Result<Vec<u8>, ChannelError> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(bytes)
        .take(64 * 1024 * 1024)
        .read_to_end(&mut out)
        .map_err(|e| malformed(format!("fileContent 解压失败: {e}")))?;
    Ok(out)
}

/// `fileContent` of a zip: zlib-deflated, then Base64 (the sandbox answers with it).
pub fn file_content(zip: &[u8]) -> Result<String, ChannelError> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(zip)
        .and_then(|_| z.finish())
        .map(|d| crate::crypto::b64_encode(&d))
        .map_err(|e| ChannelError::Config(format!("压缩失败: {e}")))
}

/// One ZM line for the sandbox: `fields` holds (index, value) pairs, every other field is
/// blank. Values are GBK-encoded, cut or padded to their widths (amount fields are given
/// already zero-padded).
pub fn render_zm_line(fields: &[(usize, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, w) in ZM_WIDTHS.iter().enumerate() {
        let value = fields.iter().find(|(k, _)| *k == i).map_or("", |(_, v)| *v);
        let mut cell = Vec::with_capacity(*w);
        for c in value.chars() {
            let bytes = crate::statement::encode_gbk(c.encode_utf8(&mut [0; 4]));
            if cell.len() + bytes.len() > *w {
                break;
            }
            cell.extend(bytes);
        }
        cell.resize(*w, b' ');
        out.extend(cell);
        out.push(if i + 1 < ZM_WIDTHS.len() { b' ' } else { b'\r' });
    }
    out.push(b'\n');
    out
}

/// Names of the ZM fields [`render_zm_line`] callers fill (0-based).
pub mod field {
    pub const CODE: usize = 0;
    pub const TRACE_NO: usize = 3;
    pub const TIME: usize = super::F_TIME;
    pub const AMOUNT: usize = super::F_AMOUNT;
    pub const QUERY_ID: usize = super::F_QUERY_ID;
    pub const ORDER_ID: usize = super::F_ORDER_ID;
    pub const FEE: usize = super::F_FEE;
    pub const SETTLE_AMOUNT: usize = 16;
    pub const TXN_TYPE: usize = super::F_TXN_TYPE;
    pub const TXN_SUB_TYPE: usize = 20;
    pub const BIZ_TYPE: usize = 21;
    pub const ORIG_QUERY_ID: usize = super::F_ORIG_QUERY_ID;
    pub const MER_ID: usize = super::F_MER_ID;
    pub const SUB_MER_ABBR: usize = 30;
    pub const ORIG_ORDER_ID: usize = super::F_ORIG_ORDER_ID;
}

#[cfg(test)]
#[path = "bill_tests.rs"]
mod tests;
