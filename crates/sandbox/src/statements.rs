//! The sandbox's statements: each provider's file of one Shanghai day, built from the ledger
//! (payments by `paid_at`, refunds by their own time), in the layouts the adapters parse:
//! WeChat's trade bill text, Alipay's zip of GBK CSVs, UnionPay's zip with the ZM 流水文件.
//! Files handed out by URL (WeChat, Alipay) are kept under a random token.

use super::Sandbox;
use super::ledger::{Refund, Trade, TradeState};
use campuspay_channels::alipay::bill::{DetailRow, render_detail};
use campuspay_channels::crypto::{random_nonce, unix_now};
use campuspay_channels::statement::{check_date, encode_gbk, zip_archive};
use campuspay_channels::unionpay::bill::{field, render_zm_line};
use campuspay_channels::wechatpay::bill::{RenderLine, render};
use campuspay_channels::{ChannelError, Provider};
use campuspay_domain::time::{format_shanghai, format_shanghai_date, shanghai_parts};

/// One line of a day: a trade's payment (`refund: None`) or one of its refunds.
struct Event {
    trade: Trade,
    refund: Option<Refund>,
    at: i64,
}

/// The day's events of provider `p`, in time order.
fn events(sb: &Sandbox, p: Provider, date: &str) -> Result<Vec<Event>, ChannelError> {
    check_date(date)?;
    let ledger = sb.ledger();
    let mut out = Vec::new();
    for t in ledger.trades(p).filter(|t| t.state == TradeState::Paid) {
        if let Some(at) = t.paid_at.filter(|at| format_shanghai_date(*at) == date) {
            out.push(Event { trade: t.clone(), refund: None, at });
        }
        // A closed refund gave nothing back: it is no line of the day.
        for r in t.refunds.iter().filter(|r| r.counts() && format_shanghai_date(r.at) == date) {
            out.push(Event { trade: t.clone(), refund: Some(r.clone()), at: r.at });
        }
    }
    out.sort_by_key(|e| (e.at, e.refund.is_some()));
    Ok(out)
}

impl Sandbox {
    /// WeChat Pay's ALL trade bill of `date`.
    pub fn wechat_trade_bill(&self, date: &str) -> Result<String, ChannelError> {
        let ids = &self.inner.keys.ids.wechatpay;
        let events = events(self, Provider::Wechatpay, date)?;
        let times: Vec<String> = events.iter().map(|e| format_shanghai(e.at)).collect();
        let lines: Vec<RenderLine<'_>> = events
            .iter()
            .zip(&times)
            .map(|(e, time)| RenderLine {
                time,
                appid: &ids.appid,
                mchid: &ids.mchid,
                transaction_id: e.trade.transaction_id.as_deref().unwrap_or_default(),
                out_trade_no: &e.trade.out_trade_no,
                openid: e.trade.payer_openid.as_deref().unwrap_or("oSandboxPayer0000000000000000"),
                trade_type: &e.trade.trade_type,
                subject: &e.trade.description,
                amount: e.trade.amount.0,
                refund: e.refund.as_ref().map(|r| (r.refund_id.as_str(), r.out_refund_no.as_str(), r.amount.0)),
            })
            .collect();
        Ok(render(&lines))
    }

    /// Alipay's bill zip of `date`: the GBK detail CSV and its summary.
    pub fn alipay_bill_zip(&self, date: &str) -> Result<Vec<u8>, ChannelError> {
        let events = events(self, Provider::Alipay, date)?;
        let times: Vec<(String, String)> = events.iter().map(|e| (format_shanghai(e.trade.created_at), format_shanghai(e.at))).collect();
        let rows: Vec<DetailRow<'_>> = events
            .iter()
            .zip(&times)
            .map(|(e, (created, finished))| DetailRow {
                trade_no: e.trade.transaction_id.as_deref().unwrap_or_default(),
                out_trade_no: &e.trade.out_trade_no,
                subject: &e.trade.description,
                created,
                finished,
                amount: e.refund.as_ref().map_or(e.trade.amount.0, |r| -r.amount.0),
                out_request_no: e.refund.as_ref().map_or("", |r| r.out_refund_no.as_str()),
            })
            .collect();
        let account = format!("{}0156", self.inner.keys.ids.alipay.seller_id);
        let (y, mo, d, h, mi, s) = shanghai_parts(unix_now());
        let exported = format!("{y:04}年{mo:02}月{d:02}日 {h:02}:{mi:02}:{s:02}");
        let detail = render_detail(&account, date, &exported, &rows);
        let (payments, refunds) = rows.iter().fold((0, 0), |(p, r), row| if row.amount < 0 { (p, r + 1) } else { (p + 1, r) });
        let summary = format!(
            "#支付宝业务汇总查询\r\n#账号：[{account}]\r\n门店编号,门店名称,交易订单总笔数,退款订单总笔数\r\n,,{payments},{refunds}\r\n#导出时间：[{exported}]\r\n"
        );
        let stem = format!("{account}_{}", date.replace('-', ""));
        zip_archive(&[(format!("{stem}_业务明细(汇总).csv"), encode_gbk(&summary)), (format!("{stem}_业务明细.csv"), encode_gbk(&detail))])
    }

    /// UnionPay's reconciliation zip of `date` and its `fileName`.
    pub fn unionpay_reconciliation_zip(&self, date: &str) -> Result<(String, Vec<u8>), ChannelError> {
        let mer_id = self.inner.keys.unionpay.ids.mer_id.clone();
        let mut zm = Vec::new();
        for e in events(self, Provider::Unionpay, date)? {
            let (_, mo, d, h, mi, s) = shanghai_parts(e.at);
            let time = format!("{mo:02}{d:02}{h:02}{mi:02}{s:02}");
            let trace = format!("{:06}", e.at.rem_euclid(1_000_000));
            let t = &e.trade;
            let query_id = t.transaction_id.clone().unwrap_or_default();
            let (sub, biz) = if t.trade_type == "gateway" { ("01", "000201") } else { ("07", "000000") };
            let line = match &e.refund {
                None => {
                    let amount = format!("{:012}", t.amount.0);
                    // The simulator's merchant rate: 0.6 % kept of a consumption (fen, rounded
                    // down), shown as 商户手续费 and taken off 结算金额.
                    let kept = t.amount.0 * 6 / 1000;
                    let fee = format!("D{kept:012}");
                    let settle = format!("C{:012}", t.amount.0 - kept);
                    render_zm_line(&[
                        (field::CODE, "S22"),
                        (field::TRACE_NO, &trace),
                        (field::TIME, &time),
                        (field::AMOUNT, &amount),
                        (field::QUERY_ID, &query_id),
                        (field::ORDER_ID, &t.out_trade_no),
                        (field::FEE, &fee),
                        (field::SETTLE_AMOUNT, &settle),
                        (field::TXN_TYPE, "01"),
                        (field::TXN_SUB_TYPE, sub),
                        (field::BIZ_TYPE, biz),
                        (field::MER_ID, &mer_id),
                    ])
                }
                Some(r) => {
                    let amount = format!("{:012}", r.amount.0);
                    // The fee of the refunded part is given back.
                    let back = r.amount.0 * 6 / 1000;
                    let fee = format!("C{back:012}");
                    let settle = format!("D{:012}", r.amount.0 - back);
                    render_zm_line(&[
                        (field::CODE, "S30"),
                        (field::TRACE_NO, &trace),
                        (field::TIME, &time),
                        (field::AMOUNT, &amount),
                        (field::QUERY_ID, &r.refund_id),
                        (field::ORDER_ID, &r.out_refund_no),
                        (field::FEE, &fee),
                        (field::SETTLE_AMOUNT, &settle),
                        (field::TXN_TYPE, "04"),
                        (field::TXN_SUB_TYPE, "00"),
                        (field::BIZ_TYPE, biz),
                        (field::ORIG_QUERY_ID, &query_id),
                        (field::MER_ID, &mer_id),
                        (field::ORIG_ORDER_ID, &t.out_trade_no),
                    ])
                }
            };
            zm.extend(line);
        }
        let ymd = date.replace('-', "");
        let yymmdd = &ymd[2..];
        let zip = zip_archive(&[(format!("INN{yymmdd}88ZM_{mer_id}"), zm), (format!("INN{yymmdd}88ZME_{mer_id}"), Vec::new())])?;
        Ok((format!("{mer_id}_{ymd}.zip"), zip))
    }

    /// Keeps a statement file for download; returns its token.
    pub(super) fn keep_file(&self, bytes: Vec<u8>) -> String {
        let token = random_nonce(32);
        let mut files = self.inner.statement_files.lock().unwrap_or_else(|e| e.into_inner());
        // A sandbox is not an archive: keep the latest files only.
        if files.len() >= 64 {
            files.clear();
        }
        files.insert(token.clone(), bytes);
        token
    }

    pub(super) fn kept_file(&self, token: &str) -> Option<Vec<u8>> {
        self.inner.statement_files.lock().unwrap_or_else(|e| e.into_inner()).get(token).cloned()
    }

    /// Books a trade as paid at the provider at `paid_at`, never notified and never queried:
    /// the payment only a statement reveals. Returns the provider's transaction id.
    pub fn insert_paid_trade(
        &self,
        p: Provider,
        out_trade_no: &str,
        amount: campuspay_domain::Fen,
        description: &str,
        paid_at: i64,
    ) -> String {
        let mut ledger = self.ledger();
        let id = ledger.next_id(p, if p == Provider::Alipay { "22001" } else { "4200" }, paid_at);
        let trade_type = match p {
            Provider::Wechatpay => "NATIVE",
            Provider::Alipay => "precreate",
            Provider::Unionpay => "qr",
            Provider::Ccb => campuspay_channels::ccb::sign::TX_ORDER,
            Provider::Allinpay => "h5unionpay",
        };
        ledger.insert(Trade {
            provider: p,
            out_trade_no: out_trade_no.to_string(),
            description: description.to_string(),
            amount,
            trade_type: trade_type.to_string(),
            notify_url: String::new(),
            return_url: None,
            payer_openid: None,
            state: TradeState::Paid,
            transaction_id: Some(id.clone()),
            created_at: paid_at - 30,
            paid_at: Some(paid_at),
            refunds: Vec::new(),
            notifications: Vec::new(),
            txn_time: (p == Provider::Unionpay).then(|| campuspay_channels::unionpay::sign::txn_time(paid_at - 30)),
            expires_at: None,
            pos_id: None,
        });
        id
    }
}

/// The most recent date, up to today (Shanghai), whose month and day are `mmdd`
/// (UnionPay's `settleDate` has no year).
pub(super) fn date_of_settle_date(mmdd: &str) -> Option<String> {
    if mmdd.len() != 4 || !mmdd.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (y, m, d, ..) = shanghai_parts(unix_now());
    let (mo, da): (u32, u32) = (mmdd[..2].parse().ok()?, mmdd[2..].parse().ok()?);
    let year = if (mo, da) > (m, d) { y - 1 } else { y };
    let date = format!("{year:04}-{mo:02}-{da:02}");
    check_date(&date).ok().map(|_| date)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settle_dates_resolve_to_the_latest_such_day_up_to_today() {
        let today = format_shanghai_date(unix_now());
        let mmdd = today[5..].replace('-', "");
        assert_eq!(date_of_settle_date(&mmdd).as_deref(), Some(today.as_str()));
        let (y, ..) = check_date(&today).unwrap();
        let got = date_of_settle_date("0101").unwrap();
        assert!(got == format!("{y:04}-01-01") || got == format!("{:04}-01-01", y - 1));
        for bad in ["1301", "0230x", "abcd", ""] {
            assert_eq!(date_of_settle_date(bad), None, "{bad}");
        }
    }
}
