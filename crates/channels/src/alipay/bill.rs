//! Alipay 对账单: `alipay.data.dataservice.bill.downloadurl.query` (`bill_type=trade`,
//! `bill_date=yyyy-MM-dd`) answers `bill_download_url`; a plain GET of it (valid ~30 s) serves
//! a zip with two GBK CSV files: 业务明细 (detail, first line `#支付宝业务明细查询`) and
//! 业务明细(汇总) (summary, `#支付宝业务汇总查询`). Members are told apart by that first line,
//! not by their (GBK) names.
//!
//! The detail file: `#` comment lines (account, period, a `业务明细列表` rule), the header
//! 支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,
//! 对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,
//! 商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,
//! 退款批次号/请求号,服务费（元）,分润（元）,备注, one row per 交易 (payment) or 退款 (refund,
//! amounts negative), fields often padded with a trailing tab, then `#` footer lines:
//! `#交易合计：N笔，商家实收共X元，…` and `#退款合计：M笔，商家实收退款共-Y元，…`.

use crate::statement::{DeclaredTotals, Statement, StatementKind, StatementLine, check_date, decode_gbk, malformed, unzip, yuan};
use crate::{ChannelError, Provider};
use campuspay_domain::Fen;
use serde::Deserialize;

pub const DOWNLOAD_URL_QUERY: &str = "alipay.data.dataservice.bill.downloadurl.query";
pub const DETAIL_TITLE: &str = "#支付宝业务明细查询";
pub const SUMMARY_TITLE: &str = "#支付宝业务汇总查询";

/// The `biz_content` of the download-URL query for `date`.
pub fn query_biz(date: &str) -> Result<serde_json::Value, ChannelError> {
    check_date(date)?;
    Ok(serde_json::json!({ "bill_type": "trade", "bill_date": date }))
}

/// `bill_download_url` from a verified answer node.
pub fn parse_download_url(node: &str) -> Result<String, ChannelError> {
    #[derive(Deserialize)]
    struct R {
        bill_download_url: String,
    }
    Ok(super::api::parse_node::<R>(node)?.bill_download_url)
}

/// Finds the detail CSV in the downloaded zip and parses it.
pub fn parse_zip(date: &str, zip_bytes: &[u8]) -> Result<Statement, ChannelError> {
    for (_, data) in unzip(zip_bytes)? {
        let text = decode_gbk(&data)?;
        if text.trim_start_matches('\u{feff}').starts_with(DETAIL_TITLE) {
            return parse_detail(date, &text);
        }
    }
    Err(malformed("压缩包中没有支付宝业务明细文件"))
}

/// Splits one CSV record; double-quoted fields may hold commas (`""` is a quote).
fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter().map(|f| f.trim().to_string()).collect()
}

/// `#交易合计：6笔，商家实收共0.06元，…` → (6, 0.06).
fn footer(line: &str, prefix: &str, amount_label: &str) -> Result<(u64, Fen), ChannelError> {
    let bad = || malformed(format!("合计行有误: {line}"));
    let rest = line.strip_prefix(prefix).ok_or_else(bad)?.trim_start_matches([':', '：']);
    let (count, rest) = rest.split_once('笔').ok_or_else(bad)?;
    let count = count.trim().parse().map_err(|_| bad())?;
    let (_, rest) = rest.split_once(amount_label).ok_or_else(bad)?;
    let (amount, _) = rest.split_once('元').ok_or_else(bad)?;
    Ok((count, yuan(amount.trim(), "合计")?))
}

/// Parses the decoded detail CSV. The footer's counts and 商家实收 sums are checked against
/// the rows here (they are part of the same file); the statement's [`DeclaredTotals`] carries
/// the count, since its amounts are 商家实收 rather than the 订单金额 of the lines.
pub fn parse_detail(date: &str, text: &str) -> Result<Statement, ChannelError> {
    check_date(date)?;
    let mut header: Option<Vec<String>> = None;
    let mut lines = Vec::new();
    let mut received = [0i64; 2];
    let mut footers: [Option<(u64, Fen)>; 2] = [None, None];
    for raw in text.lines() {
        let line = raw.trim_start_matches('\u{feff}').trim_end_matches('\r');
        if let Some(comment) = line.strip_prefix('#') {
            let c = comment.trim();
            if c.starts_with("交易合计") {
                footers[0] = Some(footer(c, "交易合计", "商家实收共")?);
            } else if c.starts_with("退款合计") {
                footers[1] = Some(footer(c, "退款合计", "商家实收退款共")?);
            }
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let fields = split_csv(line);
        let Some(cols) = &header else {
            header = Some(fields);
            continue;
        };
        if fields.len() != cols.len() {
            return Err(malformed(format!("明细行有 {} 个字段，表头有 {} 个: {line}", fields.len(), cols.len())));
        }
        let col = |prefix: &str| cols.iter().position(|c| c.starts_with(prefix)).ok_or_else(|| malformed(format!("明细表头缺少 {prefix}")));
        let get = |prefix: &str| col(prefix).map(|i| fields[i].as_str());
        let kind = match get("业务类型")? {
            "交易" => StatementKind::Payment,
            "退款" => StatementKind::Refund,
            other => return Err(malformed(format!("未知的业务类型 {other}"))),
        };
        let amount = yuan(get("订单金额")?, "订单")?;
        let got = yuan(get("商家实收")?, "商家实收")?;
        let sign_ok = match kind {
            StatementKind::Payment => amount.0 >= 0,
            StatementKind::Refund => amount.0 <= 0,
        };
        if !sign_ok {
            return Err(malformed(format!("{:?} 行金额符号有误: {line}", kind)));
        }
        let slot = usize::from(kind == StatementKind::Refund);
        received[slot] = received[slot].checked_add(got.0).ok_or_else(|| malformed("合计溢出"))?;
        let text_of = |prefix: &str| get(prefix).map(str::to_string);
        let optional = |prefix: &str| col(prefix).ok().map(|i| fields[i].clone()).filter(|v| !v.is_empty());
        lines.push(StatementLine {
            out_trade_no: text_of("商户订单号")?,
            transaction_id: text_of("支付宝交易号")?,
            kind,
            amount: Fen(amount.0.abs()),
            time: text_of("完成时间")?,
            out_refund_no: optional("退款批次号").filter(|_| kind == StatementKind::Refund),
            refund_id: None,
            subject: optional("商品名称"),
        });
    }
    if header.is_none() {
        return Err(malformed("明细文件缺少表头"));
    }
    let counts = [StatementKind::Payment, StatementKind::Refund].map(|k| lines.iter().filter(|l| l.kind == k).count() as u64);
    for (i, (name, declared)) in ["交易", "退款"].iter().zip(footers).enumerate() {
        if let Some((n, sum)) = declared
            && (n != counts[i] || sum.0 != received[i])
        {
            return Err(malformed(format!(
                "{name}合计与明细不符：合计 {n} 笔 {}，明细 {} 笔 {}",
                sum.to_yuan_string(),
                counts[i],
                Fen(received[i]).to_yuan_string()
            )));
        }
    }
    let count = match footers {
        [Some((a, _)), Some((b, _))] => Some(a + b),
        _ => None,
    };
    let declared = Some(DeclaredTotals { count, payment_amount: None, refund_amount: None });
    Ok(Statement { provider: Provider::Alipay, date: date.to_string(), lines, declared, raw: text.to_string() })
}

/// One row of [`render_detail`]; `amount` in fen, negative for a refund.
pub struct DetailRow<'a> {
    pub trade_no: &'a str,
    pub out_trade_no: &'a str,
    pub subject: &'a str,
    pub created: &'a str,
    pub finished: &'a str,
    pub amount: i64,
    pub out_request_no: &'a str,
}

/// The detail CSV text in the published layout (the sandbox encodes it in GBK and zips it).
pub fn render_detail(account: &str, date: &str, exported: &str, rows: &[DetailRow<'_>]) -> String {
    let d = date.replacen('-', "年", 1).replacen('-', "月", 1) + "日";
    let rule = "-".repeat(41);
    let mut out = format!("{DETAIL_TITLE}\r\n#账号：[{account}]\r\n#起始日期：[{d} 00:00:00]   终止日期：[{d} 23:59:59]\r\n");
    out.push_str(&format!("#{rule}业务明细列表{rule}\r\n"));
    out.push_str(
        "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,\
         商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,\
         卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注\r\n",
    );
    let mut sums = [(0u64, 0i64); 2];
    for r in rows {
        let refund = r.amount < 0;
        let s = &mut sums[usize::from(refund)];
        *s = (s.0 + 1, s.1 + r.amount);
        let y = Fen(r.amount).to_yuan_string();
        let kind = if refund { "退款" } else { "交易" };
        out.push_str(&format!(
            "{}\t,{}\t,{kind}\t,{},{},{},\t,\t,\t,\t,*沙(san***@example.com)\t,{y},{y},0.00,0.00,0.00,0.00,0.00,,0.00\t,0.00,{}\t,0.00,0.00,\r\n",
            r.trade_no, r.out_trade_no, r.subject, r.created, r.finished, r.out_request_no
        ));
    }
    out.push_str(&format!("#{rule}业务明细列表结束{rule}\r\n"));
    let [(pn, pa), (rn, ra)] = sums;
    out.push_str(&format!("#交易合计：{pn}笔，商家实收共{}元，商家优惠共0.00元\r\n", Fen(pa).to_yuan_string()));
    out.push_str(&format!("#退款合计：{rn}笔，商家实收退款共{}元，商家优惠退款共0.00元\r\n", Fen(ra).to_yuan_string()));
    out.push_str(&format!("#导出时间：[{exported}]\r\n"));
    out
}

#[cfg(test)]
#[path = "bill_tests.rs"]
mod tests;
