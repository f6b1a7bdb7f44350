//! 手续费: what a provider keeps of each trade, read from a statement's kept text.
//!
//! Our channel parsers (`campuspay_channels::*::bill`) keep a line's trade, amount and refund
//! but not its fee, so the reconciliation reads the fee column from `Statement::raw` by its
//! published header name: WeChat's trade bill `手续费` (to 1/100,000 yuan) and Alipay's
//! detail `服务费（元）`, and UnionPay's ZM field 16 商户手续费 (in fen; see
//! `unionpay::bill::zm_fees` for what of its layout is published). A line's fee counts for the
//! trade it is on; a refund line's fee is what the provider gives back. A file whose fee we
//! cannot read claims none (`None`), rather than a made-up zero.

use campuspay_channels::statement::fee_units as units;
use campuspay_channels::{Provider, Statement};
use std::collections::HashMap;

/// Fees in 1/100,000 yuan (WeChat's precision), keyed by (out_trade_no, is a refund line).
pub type LineFees = HashMap<(String, bool), i64>;

/// Rounds 1/100,000 yuan to fen, halves away from zero.
pub fn to_fen(u: i64) -> i64 {
    let (q, r) = (u / 1000, u % 1000);
    if r.abs() >= 500 { q + r.signum() } else { q }
}

fn split_csv(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted) = (Vec::new(), String::new(), false);
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

/// Only fees that are not zero take room: a million-line day of fee-free trades adds nothing.
fn add(fees: &mut LineFees, out_trade_no: &str, refund: bool, units: i64) {
    if units != 0 {
        *fees.entry((out_trade_no.trim().to_string(), refund)).or_default() += units;
    }
}

/// The statement's fee per trade line, or `None` where the file carries no fee column we read
/// (or a fee we cannot read: then no fee is claimed for the day at all).
pub fn line_fees(s: &Statement) -> Option<LineFees> {
    let mut fees = LineFees::new();
    match s.provider {
        Provider::Wechatpay => {
            let mut lines = s.raw.lines().map(|l| l.trim_end_matches('\r')).filter(|l| !l.trim().is_empty());
            let header: Vec<&str> = lines.next()?.trim_start_matches('\u{feff}').split(',').map(str::trim).collect();
            let at = |name: &str| header.iter().position(|c| *c == name);
            let (fee, out, state) = (at("手续费")?, at("商户订单号")?, at("交易状态")?);
            for line in lines.take_while(|l| l.starts_with('`')) {
                let f: Vec<&str> = line[1..].split(",`").collect();
                let refund = matches!(f.get(state)?.trim(), "REFUND" | "REVOKED");
                add(&mut fees, f.get(out)?, refund, units(f.get(fee)?)?);
            }
        }
        Provider::Alipay => {
            let mut header: Option<Vec<String>> = None;
            for line in s.raw.lines().map(|l| l.trim_start_matches('\u{feff}').trim_end_matches('\r')) {
                if line.starts_with('#') || line.trim().is_empty() {
                    continue;
                }
                let f = split_csv(line);
                let Some(cols) = &header else {
                    header = Some(f);
                    continue;
                };
                let at = |prefix: &str| cols.iter().position(|c| c.starts_with(prefix));
                let (fee, out, kind) = (at("服务费")?, at("商户订单号")?, at("业务类型")?);
                let refund = f.get(kind)?.trim() == "退款";
                let value = f.get(fee)?.trim();
                let value = if value.is_empty() { 0 } else { units(value)? };
                add(&mut fees, f.get(out)?, refund, value);
            }
            header?;
        }
        Provider::Ccb | Provider::Allinpay => return None,
        Provider::Unionpay => {
            for (out_trade_no, refund, fen) in campuspay_channels::unionpay::bill::zm_fees(&s.raw)? {
                add(&mut fees, &out_trade_no, refund, fen.checked_mul(1000)?);
            }
        }
    }
    Some(fees)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fees_are_read_exactly_and_rounded_to_the_fen() {
        assert_eq!(units("0.06000"), Some(6_000));
        assert_eq!(units("-1.23456"), Some(123_456));
        assert_eq!(units("12"), Some(1_200_000));
        assert_eq!(units("0.000001"), None);
        assert_eq!(units("abc"), None);
        assert_eq!(to_fen(123_456), 123);
        assert_eq!(to_fen(123_500), 124);
        assert_eq!(to_fen(-123_500), -124);
    }

    #[test]
    fn wechat_and_alipay_fee_columns() {
        use campuspay_channels::wechatpay::bill::{RenderLine, render};
        let line = |out, amount| RenderLine {
            time: "2026-03-01 10:00:00",
            appid: "wx",
            mchid: "1",
            transaction_id: "42",
            out_trade_no: out,
            openid: "o",
            trade_type: "NATIVE",
            subject: "学费,住宿费",
            amount,
            refund: None,
        };
        let raw = render(&[line("A1", 10_000), line("B2", 20_000)]).replacen("0.00000", "0.60000", 1);
        let s = Statement { provider: Provider::Wechatpay, date: "2026-03-01".into(), lines: vec![], declared: None, raw };
        let fees = line_fees(&s).unwrap();
        assert_eq!(fees[&("A1".to_string(), false)], 60_000);
        assert_eq!(fees.get(&("B2".to_string(), false)), None, "a zero fee takes no room");
        use campuspay_channels::unionpay::bill::{field, render_zm_line};
        let zm = |fee: &str| {
            let pay = render_zm_line(&[(field::TXN_TYPE, "01"), (field::ORDER_ID, "U1"), (field::FEE, fee)]);
            let back = render_zm_line(&[
                (field::TXN_TYPE, "04"),
                (field::ORIG_ORDER_ID, "U1"),
                (field::ORDER_ID, "R1"),
                (field::FEE, "C000000000002"),
            ]);
            let raw = campuspay_channels::statement::decode_gbk(&[pay, back].concat()).unwrap();
            Statement { provider: Provider::Unionpay, date: "2026-03-01".into(), lines: vec![], declared: None, raw }
        };
        let fees = line_fees(&zm("D000000000060")).unwrap();
        assert_eq!((fees[&("U1".to_string(), false)], fees[&("U1".to_string(), true)]), (60_000, 2_000), "fen, sign from the line's kind");
        assert_eq!(line_fees(&zm("0000000000060")).unwrap()[&("U1".to_string(), false)], 60_000);
        for unread in ["", "D00000000006", "X000000000060", "D0000000000.6"] {
            assert_eq!(line_fees(&zm(unread)), None, "{unread:?}: no fee claimed where none is read");
        }
    }
}
