//! Statements (对账单): one day's payments and refunds as the provider booked them, in one
//! typed shape for every provider ([`PaymentChannel::statement`](crate::PaymentChannel::statement)).
//!
//! Each provider's file format lives with its adapter (`wechatpay::bill`, `alipay::bill`,
//! `unionpay::bill`); this module holds the shared types and the small helpers they share:
//! date checks, exact yuan parsing, GBK decoding and zip archives.

use crate::{ChannelError, Provider};
use campuspay_domain::Fen;
use campuspay_domain::time::shanghai_to_unix;
use serde::{Deserialize, Serialize};
use std::io::{Cursor, Read, Write};

/// Whether a statement line took money in or gave it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatementKind {
    Payment,
    Refund,
}

/// One payment or one refund, as the provider's file shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementLine {
    /// Our order number (for a refund: the order it refunds). UnionPay refund lines carry it
    /// only where the file fills 原始交易订单号; otherwise it is empty and `transaction_id`
    /// identifies the order.
    pub out_trade_no: String,
    /// The provider's id of the **payment** (for a refund line too): WeChat 微信订单号, Alipay
    /// 支付宝交易号, UnionPay `queryId` (a refund's `origQryId`).
    pub transaction_id: String,
    pub kind: StatementKind,
    /// Always positive: the order amount of a payment, the requested amount of a refund.
    pub amount: Fen,
    /// Shanghai wall-clock time, `yyyy-MM-dd HH:mm:ss`: when the payment succeeded or the refund
    /// was accepted.
    pub time: String,
    /// Our refund number (WeChat 商户退款单号, Alipay 退款批次号/请求号, UnionPay the refund's
    /// `orderId`); `None` on payment lines.
    pub out_refund_no: Option<String>,
    /// The provider's refund id where the file has one (WeChat 微信退款单号, UnionPay the
    /// refund's `queryId`).
    pub refund_id: Option<String>,
    /// What the payer saw (商品名称), where the file has it.
    pub subject: Option<String>,
}

/// Counts and sums of a statement's lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementTotals {
    pub payment_count: u64,
    pub payment_amount: Fen,
    pub refund_count: u64,
    pub refund_amount: Fen,
}

/// What the provider's own summary says (WeChat's last two lines, Alipay's `#…合计` lines).
/// `None` where the file states nothing comparable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclaredTotals {
    /// All lines, payments and refunds.
    pub count: Option<u64>,
    pub payment_amount: Option<Fen>,
    /// Positive.
    pub refund_amount: Option<Fen>,
}

/// One day's statement from one provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    pub provider: Provider,
    /// `yyyy-MM-dd` (Asia/Shanghai).
    pub date: String,
    pub lines: Vec<StatementLine>,
    pub declared: Option<DeclaredTotals>,
    /// The detail file as text (decoded to UTF-8), kept for the audit trail.
    pub raw: String,
}

impl Statement {
    /// Counts and sums of the lines (checked arithmetic: an overflow is an error).
    pub fn totals(&self) -> Result<StatementTotals, ChannelError> {
        let mut t = StatementTotals::default();
        for l in &self.lines {
            let (count, sum) = match l.kind {
                StatementKind::Payment => (&mut t.payment_count, &mut t.payment_amount),
                StatementKind::Refund => (&mut t.refund_count, &mut t.refund_amount),
            };
            *count += 1;
            *sum = sum.checked_add(l.amount).map_err(|_| malformed("对账单金额合计溢出"))?;
        }
        Ok(t)
    }

    /// Checks the lines against the provider's own summary, where it gave one.
    pub fn check_totals(&self) -> Result<(), ChannelError> {
        check_declared(self.declared, self.totals()?)
    }

    /// The lines about one order (its payment and its refunds).
    pub fn lines_for<'a>(&'a self, out_trade_no: &'a str) -> impl Iterator<Item = &'a StatementLine> + 'a {
        self.lines.iter().filter(move |l| l.out_trade_no == out_trade_no)
    }
}

/// Checks counted totals against a provider's own summary, where it gave one.
pub fn check_declared(declared: Option<DeclaredTotals>, t: StatementTotals) -> Result<(), ChannelError> {
    let Some(d) = declared else { return Ok(()) };
    let mismatch =
        |what: &str, declared: String, counted: String| Err(malformed(format!("对账单{what}与汇总不符：汇总 {declared}，明细 {counted}")));
    if let Some(c) = d.count
        && c != t.payment_count + t.refund_count
    {
        return mismatch("笔数", c.to_string(), (t.payment_count + t.refund_count).to_string());
    }
    if let Some(a) = d.payment_amount
        && a != t.payment_amount
    {
        return mismatch("支付金额", a.to_yuan_string(), t.payment_amount.to_yuan_string());
    }
    if let Some(a) = d.refund_amount
        && a != t.refund_amount
    {
        return mismatch("退款金额", a.to_yuan_string(), t.refund_amount.to_yuan_string());
    }
    Ok(())
}

/// A fee as statements write it — yuan with up to five decimals (WeChat's 手续费 is to
/// 1/100,000 yuan) — in 1/100,000 yuan; the sign is ignored (files differ in how they sign a
/// fee, the line's kind says which way it goes). `None` where it cannot be read exactly.
pub fn fee_units(text: &str) -> Option<i64> {
    let t = text.trim().trim_start_matches(['-', '+']);
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 5 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac = format!("{frac:0<5}");
    int.parse::<i64>().ok()?.checked_mul(100_000)?.checked_add(frac.parse::<i64>().ok()?)
}

/// A day's statement as reconciliation reads it: WeChat Pay's trade bill — a large school's
/// day is a million lines — stays the file it came as (bytes as downloaded, or a file on
/// disk, gzip or plain) and is read line by line as it is reconciled; the other providers'
/// files (zips of GBK text, fixed-width files of a few thousand lines) come parsed.
pub enum StatementFile {
    Parsed(Statement),
    WechatTradeBill { date: String, body: BillBody },
}

/// Where a bill's bytes are.
pub enum BillBody {
    Bytes(Vec<u8>),
    Path(std::path::PathBuf),
}

impl StatementFile {
    pub fn provider(&self) -> Provider {
        match self {
            StatementFile::Parsed(s) => s.provider,
            StatementFile::WechatTradeBill { .. } => Provider::Wechatpay,
        }
    }

    pub fn date(&self) -> &str {
        match self {
            StatementFile::Parsed(s) => &s.date,
            StatementFile::WechatTradeBill { date, .. } => date,
        }
    }

    /// Starts reading the lines (a file is opened, a bill's header read).
    pub fn lines(&self) -> Result<StatementLines<'_>, ChannelError> {
        Ok(match self {
            StatementFile::Parsed(s) => StatementLines::Parsed(s.lines.iter()),
            StatementFile::WechatTradeBill { date, body } => {
                let input: Box<dyn std::io::BufRead + Send + '_> = match body {
                    BillBody::Bytes(b) => crate::wechatpay::bill::open_bill(b.as_slice())?,
                    BillBody::Path(p) => {
                        let f = std::fs::File::open(p).map_err(|e| malformed(format!("账单文件无法打开: {e}")))?;
                        crate::wechatpay::bill::open_bill(std::io::BufReader::with_capacity(64 * 1024, f))?
                    }
                };
                StatementLines::Wechat(Box::new(crate::wechatpay::bill::TradeBillReader::new(date, input)?))
            }
        })
    }
}

/// The lines of a [`StatementFile`], one at a time.
pub enum StatementLines<'a> {
    Parsed(std::slice::Iter<'a, StatementLine>),
    Wechat(Box<crate::wechatpay::bill::TradeBillReader<Box<dyn std::io::BufRead + Send + 'a>>>),
}

impl StatementLines<'_> {
    /// The next line, with its fee in 1/100,000 yuan where the file is read with its fees
    /// (WeChat's bill; `None` for a cell that cannot be read). Parsed statements give no fee
    /// here: theirs are read from [`Statement::raw`].
    pub fn next_line(&mut self) -> Result<Option<(StatementLine, Option<i64>)>, ChannelError> {
        match self {
            StatementLines::Parsed(it) => Ok(it.next().map(|l| (l.clone(), None))),
            StatementLines::Wechat(r) => Ok(r.next_line()?.map(|b| (b.line, b.fee))),
        }
    }

    /// Whether the lines carry their fees ([`StatementLines::next_line`]).
    pub fn fees_per_line(&self) -> Option<bool> {
        match self {
            StatementLines::Parsed(_) => None,
            StatementLines::Wechat(r) => Some(r.has_fee_column()),
        }
    }

    /// After the last line: the lines against the file's own summary. A parsed statement was
    /// checked when it was parsed.
    pub fn check_totals(&self) -> Result<(), ChannelError> {
        match self {
            StatementLines::Parsed(_) => Ok(()),
            StatementLines::Wechat(r) => r.check_totals(),
        }
    }
}

pub(crate) fn malformed(msg: impl Into<String>) -> ChannelError {
    ChannelError::Malformed(msg.into())
}

/// Checks a statement date `yyyy-MM-dd` and returns (year, month, day).
pub fn check_date(date: &str) -> Result<(i64, u32, u32), ChannelError> {
    let bad = || ChannelError::Malformed(format!("对账日期须为 yyyy-MM-dd: {date}"));
    let b = date.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| date.get(r).filter(|s| s.bytes().all(|c| c.is_ascii_digit())).and_then(|s| s.parse().ok());
    let (y, m, d): (i64, u32, u32) = (num(0..4).ok_or_else(bad)?, num(5..7).ok_or_else(bad)? as u32, num(8..10).ok_or_else(bad)? as u32);
    shanghai_to_unix(y, m, d, 0, 0, 0).ok_or_else(bad)?;
    Ok((y, m, d))
}

/// An amount in yuan (`12.34`, `-0.01`), exactly, via [`Fen::parse_yuan`]; `what` names the
/// field for the error.
pub fn yuan(text: &str, what: &str) -> Result<Fen, ChannelError> {
    Fen::parse_yuan(text).map_err(|_| malformed(format!("{what}金额格式有误: {text:?}")))
}

/// GBK (GB18030) bytes to text; invalid bytes are an error, never replaced.
pub fn decode_gbk(bytes: &[u8]) -> Result<String, ChannelError> {
    encoding_rs::GBK
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|s| s.into_owned())
        .ok_or_else(|| malformed("文件不是有效的 GBK 编码"))
}

/// Text to GBK bytes (the sandbox writes Alipay's and UnionPay's files with it).
pub fn encode_gbk(text: &str) -> Vec<u8> {
    encoding_rs::GBK.encode(text).0.into_owned()
}

/// Largest archive member we inflate: a day's statement of a school is far smaller.
const MAX_ENTRY_BYTES: u64 = 64 * 1024 * 1024;

/// The members of a zip archive as (name as stored, bytes). Names stored without the UTF-8 flag
/// (Alipay's GBK names) come back as the `zip` crate reads them; callers identify members by
/// content, not by name.
pub fn unzip(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, ChannelError> {
    let bad = |e: zip::result::ZipError| malformed(format!("压缩包有误: {e}"));
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(bad)?;
    let mut out = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let file = archive.by_index(i).map_err(bad)?;
        if file.is_dir() {
            continue;
        }
        let name = file.name().map(|n| n.into_owned()).unwrap_or_else(|_| format!("#{i}"));
        let mut data = Vec::new();
        file.take(MAX_ENTRY_BYTES + 1).read_to_end(&mut data).map_err(|e| malformed(format!("解压 {name} 失败: {e}")))?;
        if data.len() as u64 > MAX_ENTRY_BYTES {
            return Err(malformed(format!("压缩包成员 {name} 过大")));
        }
        out.push((name, data));
    }
    Ok(out)
}

/// A deflated zip archive of `(name, bytes)` members (the sandbox's statement files).
pub fn zip_archive(members: &[(String, Vec<u8>)]) -> Result<Vec<u8>, ChannelError> {
    let err = |e: &dyn std::fmt::Display| ChannelError::Config(format!("生成压缩包失败: {e}"));
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in members {
        w.start_file(name.as_str(), options).map_err(|e| err(&e))?;
        w.write_all(data).map_err(|e| err(&e))?;
    }
    Ok(w.finish().map_err(|e| err(&e))?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(kind: StatementKind, fen: i64) -> StatementLine {
        StatementLine {
            out_trade_no: "T1".into(),
            transaction_id: "X1".into(),
            kind,
            amount: Fen(fen),
            time: "2024-09-01 10:00:00".into(),
            out_refund_no: None,
            refund_id: None,
            subject: None,
        }
    }

    #[test]
    fn totals_and_their_check_against_the_declared_summary() {
        let mut s = Statement {
            provider: Provider::Wechatpay,
            date: "2024-09-01".into(),
            lines: vec![line(StatementKind::Payment, 500_000), line(StatementKind::Refund, 1_000)],
            declared: Some(DeclaredTotals { count: Some(2), payment_amount: Some(Fen(500_000)), refund_amount: Some(Fen(1_000)) }),
            raw: String::new(),
        };
        let t = s.totals().unwrap();
        assert_eq!((t.payment_count, t.payment_amount, t.refund_count, t.refund_amount), (1, Fen(500_000), 1, Fen(1_000)));
        s.check_totals().unwrap();
        s.declared = Some(DeclaredTotals { count: Some(3), ..Default::default() });
        assert!(matches!(s.check_totals(), Err(ChannelError::Malformed(m)) if m.contains("笔数")));
        assert_eq!(s.lines_for("T1").count(), 2);
    }

    #[test]
    fn dates_gbk_and_zip() {
        assert_eq!(check_date("2024-02-29").unwrap(), (2024, 2, 29));
        for bad in ["2023-02-29", "2024-2-29", "20240229", "2024-13-01", "２０２４-01-01"] {
            assert!(matches!(check_date(bad), Err(ChannelError::Malformed(_))), "{bad}");
        }
        let gbk = encode_gbk("交易,退款");
        assert_eq!(gbk.len(), 9);
        assert_eq!(decode_gbk(&gbk).unwrap(), "交易,退款");
        assert!(decode_gbk(&[0x81]).is_err());
        let z = zip_archive(&[("a.csv".into(), gbk.clone())]).unwrap();
        assert_eq!(unzip(&z).unwrap(), vec![("a.csv".to_string(), gbk)]);
        assert!(matches!(unzip(b"PK not a zip"), Err(ChannelError::Malformed(_))));
        assert_eq!(yuan("-0.01", "x").unwrap(), Fen(-1));
        assert!(yuan("1.001", "x").is_err());
    }
}
