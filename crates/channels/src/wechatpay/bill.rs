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

use crate::statement::{DeclaredTotals, Statement, StatementKind, StatementLine, StatementTotals, check_date, fee_units, malformed, yuan};
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
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = TradeBillReader::new(date, text.as_bytes())?;
    let mut out = Vec::new();
    while let Some(l) = reader.next_line()? {
        out.push(l.line);
    }
    Ok(Statement { provider: Provider::Wechatpay, date: date.to_string(), lines: out, declared: reader.declared, raw: text.to_string() })
}

/// One line of a trade bill as [`TradeBillReader`] reads it: the statement line and its 手续费
/// in 1/100,000 yuan (`None` where the bill has no such column or the cell cannot be read).
pub struct BillLine {
    pub line: StatementLine,
    pub fee: Option<i64>,
}

/// A trade bill read line by line from `R`: a large school's day (a million trades, some
/// 280 MB of text) is never held as text and lines at once. [`parse`] is this reader
/// collected. After the last line, [`TradeBillReader::check_totals`] compares what was read
/// with the bill's own summary.
pub struct TradeBillReader<R> {
    input: R,
    buf: String,
    /// Whether the next physical line is the file's first (where a BOM may stand).
    first: bool,
    width: usize,
    c_time: usize,
    c_txn: usize,
    c_out: usize,
    c_state: usize,
    c_amount: usize,
    c_refund: Option<usize>,
    c_refund_id: Option<usize>,
    c_refund_no: Option<usize>,
    c_subject: Option<usize>,
    c_fee: Option<usize>,
    declared: Option<DeclaredTotals>,
    done: bool,
    totals: StatementTotals,
}

impl<R: std::io::BufRead> TradeBillReader<R> {
    /// Reads the header of the bill of `date`.
    pub fn new(date: &str, input: R) -> Result<Self, ChannelError> {
        check_date(date)?;
        let mut r = TradeBillReader {
            input,
            buf: String::new(),
            first: true,
            width: 0,
            c_time: 0,
            c_txn: 0,
            c_out: 0,
            c_state: 0,
            c_amount: 0,
            c_refund: None,
            c_refund_id: None,
            c_refund_no: None,
            c_subject: None,
            c_fee: None,
            declared: None,
            done: false,
            totals: StatementTotals::default(),
        };
        if !r.advance()? {
            return Err(malformed("账单为空"));
        }
        let header = r.buf.as_str();
        if header.starts_with('`') {
            return Err(malformed("账单缺少表头"));
        }
        let cols = Columns(header.split(',').map(|c| c.trim().to_string()).collect());
        r.width = cols.0.len();
        r.c_time = cols.need(&["交易时间"])?;
        r.c_txn = cols.need(&["微信订单号"])?;
        r.c_out = cols.need(&["商户订单号"])?;
        r.c_state = cols.need(&["交易状态"])?;
        r.c_amount = cols.need(&["订单金额", "总金额", "应结订单金额"])?;
        r.c_refund = cols.index(&["申请退款金额", "退款金额"]);
        r.c_refund_id = cols.index(&["微信退款单号"]);
        r.c_refund_no = cols.index(&["商户退款单号"]);
        r.c_subject = cols.index(&["商品名称"]);
        r.c_fee = cols.index(&["手续费"]);
        Ok(r)
    }

    /// Reads the next line that is not blank into `buf`, without its line end; `false` at the
    /// end of the file.
    fn advance(&mut self) -> Result<bool, ChannelError> {
        loop {
            self.buf.clear();
            let n = self.input.read_line(&mut self.buf).map_err(|e| match e.kind() {
                std::io::ErrorKind::InvalidData => malformed("账单不是 UTF-8 文本"),
                _ => malformed(format!("账单读取失败: {e}")),
            })?;
            if n == 0 {
                return Ok(false);
            }
            if std::mem::take(&mut self.first) && self.buf.starts_with('\u{feff}') {
                self.buf.drain(..'\u{feff}'.len_utf8());
            }
            let end = self.buf.trim_end_matches('\n').trim_end_matches('\r').len();
            self.buf.truncate(end);
            if !self.buf.trim().is_empty() {
                return Ok(true);
            }
        }
    }

    /// Whether the bill has a 手续费 column (otherwise no line's fee is known).
    pub fn has_fee_column(&self) -> bool {
        self.c_fee.is_some()
    }

    /// The summary, once the last line has been read.
    pub fn declared(&self) -> Option<DeclaredTotals> {
        self.declared
    }

    /// Checks the lines read against the bill's summary (call after the last line).
    pub fn check_totals(&self) -> Result<(), ChannelError> {
        crate::statement::check_declared(self.declared, self.totals)
    }

    /// The next trade line, or `None` after the summary (or at the end of a bill without one).
    pub fn next_line(&mut self) -> Result<Option<BillLine>, ChannelError> {
        if self.done || !self.advance()? {
            self.done = true;
            return Ok(None);
        }
        if !self.buf.starts_with('`') {
            self.done = true;
            let header = std::mem::take(&mut self.buf);
            if !self.advance()? {
                return Err(malformed("账单汇总缺少数据行"));
            }
            let values = std::mem::take(&mut self.buf);
            if self.advance()? {
                return Err(malformed("账单汇总之后还有内容"));
            }
            self.declared = Some(parse_summary(&header, &values)?);
            return Ok(None);
        }
        let line = self.buf.as_str();
        let f = fields(line)?;
        if f.len() != self.width {
            return Err(malformed(format!("账单行有 {} 个字段，表头有 {} 个: {line}", f.len(), self.width)));
        }
        let text_at = |i: usize| f[i].trim().to_string();
        let opt_at = |i: Option<usize>| i.map(|i| f[i].trim()).filter(|v| !v.is_empty() && *v != "0").map(str::to_string);
        let (kind, amount) = match f[self.c_state].trim() {
            "SUCCESS" => (StatementKind::Payment, yuan(f[self.c_amount].trim(), "订单")?),
            "REFUND" | "REVOKED" => {
                let i = self.c_refund.ok_or_else(|| malformed("账单有退款行但表头缺少退款金额"))?;
                (StatementKind::Refund, yuan(f[i].trim(), "退款")?)
            }
            other => return Err(malformed(format!("未知的交易状态 {other}"))),
        };
        if amount.0 < 0 {
            return Err(malformed(format!("账单金额为负: {line}")));
        }
        let refund = kind == StatementKind::Refund;
        let (count, sum) = if refund {
            (&mut self.totals.refund_count, &mut self.totals.refund_amount)
        } else {
            (&mut self.totals.payment_count, &mut self.totals.payment_amount)
        };
        *count += 1;
        *sum = sum.checked_add(amount).map_err(|_| malformed("对账单金额合计溢出"))?;
        let line = StatementLine {
            out_trade_no: text_at(self.c_out),
            transaction_id: text_at(self.c_txn),
            kind,
            amount,
            time: text_at(self.c_time),
            out_refund_no: opt_at(self.c_refund_no).filter(|_| refund),
            refund_id: opt_at(self.c_refund_id).filter(|_| refund),
            subject: opt_at(self.c_subject),
        };
        Ok(Some(BillLine { line, fee: self.c_fee.and_then(|i| fee_units(f[i])) }))
    }
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
    let mut w = TradeBillWriter::new(Vec::new());
    for l in lines {
        w.line(l);
    }
    // The writer writes nothing but UTF-8 text into a Vec, which cannot fail.
    String::from_utf8(w.finish().unwrap_or_default()).unwrap_or_default()
}

/// Writes a trade bill in the published ALL layout line by line, so a day of any size is
/// written without holding it ([`render`] is this writer into memory). The first write error
/// is kept and returned by [`TradeBillWriter::finish`].
pub struct TradeBillWriter<W: std::io::Write> {
    out: W,
    count: u64,
    paid: i64,
    refunded: i64,
    error: Option<std::io::Error>,
}

impl<W: std::io::Write> TradeBillWriter<W> {
    pub fn new(out: W) -> Self {
        const HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,\
            付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,\
            商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";
        let mut w = TradeBillWriter { out, count: 0, paid: 0, refunded: 0, error: None };
        w.write(&format!("{HEADER}\r\n"));
        w
    }

    fn write(&mut self, text: &str) {
        if self.error.is_none()
            && let Err(e) = self.out.write_all(text.as_bytes())
        {
            self.error = Some(e);
        }
    }

    pub fn line(&mut self, l: &RenderLine<'_>) {
        let y = |f: i64| Fen(f).to_yuan_string();
        let (state, refund_id, refund_no, refund, refund_type, refund_state) = match l.refund {
            None => ("SUCCESS", "0", "0", 0, "", ""),
            Some((id, no, amount)) => ("REFUND", id, no, amount, "ORIGINAL", "SUCCESS"),
        };
        self.count += 1;
        self.paid += if l.refund.is_none() { l.amount } else { 0 };
        self.refunded += refund;
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
        let mut text = String::with_capacity(320);
        text.push('`');
        text.push_str(&row.join(",`"));
        text.push_str("\r\n");
        self.write(&text);
    }

    /// Writes the summary and hands back the output.
    pub fn finish(mut self) -> std::io::Result<W> {
        let y = |f: i64| Fen(f).to_yuan_string();
        self.write("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n");
        let (paid, refunded) = (y(self.paid), y(self.refunded));
        self.write(&format!("`{},`{paid},`{refunded},`0.00,`0.00000,`{paid},`{refunded}\r\n", self.count));
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.out),
        }
    }
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

/// The largest bill read as a stream: reading holds no more than a line of it, so this bounds
/// only the time a damaged or hostile gzip can take (a day of three million trades fits).
pub const MAX_STREAMED_BILL_BYTES: u64 = 1 << 30;

/// Counts what is read through it and refuses more than `left` bytes.
struct Capped<R> {
    inner: R,
    left: u64,
}

impl<R: std::io::Read> std::io::Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.left = self.left.checked_sub(n as u64).ok_or_else(|| std::io::Error::other("账单解压后过大"))?;
        Ok(n)
    }
}

/// A bill's text to read line by line from its bytes as downloaded or kept: gzip (what
/// `tar_type=GZIP` serves, told by its magic bytes) is inflated as it is read.
pub fn open_bill<'a, R: std::io::BufRead + Send + 'a>(mut input: R) -> Result<Box<dyn std::io::BufRead + Send + 'a>, ChannelError> {
    let gz = input.fill_buf().map_err(|e| malformed(format!("账单读取失败: {e}")))?.starts_with(&[0x1f, 0x8b]);
    let inner: Box<dyn std::io::Read + Send + 'a> = if gz { Box::new(flate2::bufread::GzDecoder::new(input)) } else { Box::new(input) };
    Ok(Box::new(std::io::BufReader::with_capacity(64 * 1024, Capped { inner, left: MAX_STREAMED_BILL_BYTES })))
}

/// [`verify_hash`] of the bill in a download (gzip or plain), inflated as it is hashed, so the
/// check holds no copy of the text; the bill is then read line by line from the same bytes.
pub fn verify_hash_streamed(download: &[u8], location: &BillLocation) -> Result<(), ChannelError> {
    if !location.hash_type.eq_ignore_ascii_case("SHA1") {
        return Err(ChannelError::Unsupported("未知的账单哈希类型（只支持 SHA1）"));
    }
    let mut input = open_bill(download)?;
    let mut sha1 = digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY);
    loop {
        let chunk = input.fill_buf().map_err(|e| malformed(format!("账单 gzip 解压失败: {e}")))?;
        if chunk.is_empty() {
            break;
        }
        sha1.update(chunk);
        let n = chunk.len();
        input.consume(n);
    }
    let hex: String = sha1.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect();
    if hex.eq_ignore_ascii_case(location.hash_value.trim()) { Ok(()) } else { Err(ChannelError::BadSignature) }
}
