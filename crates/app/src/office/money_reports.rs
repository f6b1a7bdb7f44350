//! 收款日报 and 记账凭证: the ledger of a date range per day and channel (money in, refunds
//! out, net), and the same ledger as vouchers for the accounting system.
//!
//! Both come from one grouped read of the ledger (`Store::ledger_by_day`), so the daily report,
//! its workbook and the vouchers cannot disagree with each other or with the books. What
//! counts as money **in** is every row that brought money to the school through a channel:
//! applied payments, counter payments, late or duplicate money held for refund, and money put
//! straight on a balance; **out** is every refund row. Rows that moved no money (waivers,
//! balance uses, the two halves of an exception's credit or apply, which cancel out) are not
//! collection; they still appear on the vouchers.

use super::Staff;
use super::exports::{Sheet, audit_export};
use super::reports::valid_date;
use crate::{Client, Context, Error, ErrorKind};
use campuspay_documents::Cell;
use campuspay_domain::office::Permission;
use campuspay_domain::settlement::MoneyChannel;
use campuspay_domain::time::{SHANGHAI_OFFSET_S, civil_from_days, days_from_civil};
use campuspay_domain::{Fen, LedgerKind};
use campuspay_store::money_reports::LedgerDayGroup;
use std::collections::BTreeMap;

/// The longest range one request reads: a year and a day (a leap year's whole span).
pub const MAX_DAYS: i64 = 366;

/// A checked date range, both ends included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateRange {
    pub from: String,
    pub to: String,
    from_day: i64,
    to_day: i64,
}

impl DateRange {
    /// The first day's number (days since 1970-01-01, Shanghai).
    pub fn first_day(&self) -> i64 {
        self.from_day
    }

    /// How many days the range spans.
    pub fn days(&self) -> i64 {
        self.to_day - self.from_day + 1
    }

    fn unix_bounds(&self) -> (i64, i64) {
        (self.from_day * 86_400 - SHANGHAI_OFFSET_S, (self.to_day + 1) * 86_400 - SHANGHAI_OFFSET_S)
    }
}

fn day_no(date: &str) -> i64 {
    // `valid_date` has checked the shape and the day.
    let n = |a: usize, b: usize| date[a..b].parse::<i64>().unwrap_or(0);
    days_from_civil(n(0, 4), n(5, 7) as u32, n(8, 10) as u32)
}

/// `YYYY-MM-DD` of a Shanghai day number.
pub fn date_of(day_no: i64) -> String {
    let (y, m, d) = civil_from_days(day_no);
    format!("{y:04}-{m:02}-{d:02}")
}

pub fn parse_range(from: &str, to: &str) -> Result<DateRange, Error> {
    let from = valid_date(from, "from")?;
    let to = valid_date(to, "to")?;
    let (from_day, to_day) = (day_no(&from), day_no(&to));
    if from_day > to_day {
        return Err(Error::new(ErrorKind::Refused, "invalid_range", "开始日期不能晚于结束日期", "from is after to").field("from"));
    }
    if to_day - from_day + 1 > MAX_DAYS {
        return Err(Error::new(
            ErrorKind::Refused,
            "range_too_long",
            format!("一次最多查询 {MAX_DAYS} 天，请缩短日期范围"),
            format!("At most {MAX_DAYS} days at a time"),
        )
        .field("to"));
    }
    Ok(DateRange { from, to, from_day, to_day })
}

/// One day and channel of the daily collection report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DailyRow {
    /// `YYYY-MM-DD`; empty in totals.
    pub date: String,
    /// `None` in the grand total.
    pub channel: Option<MoneyChannel>,
    pub in_count: i64,
    pub in_fen: Fen,
    pub refund_count: i64,
    /// Positive: what went back.
    pub refund_fen: Fen,
}

impl DailyRow {
    pub fn net(&self) -> Fen {
        Fen(self.in_fen.0 - self.refund_fen.0)
    }

    fn add(&mut self, o: &DailyRow) {
        self.in_count += o.in_count;
        self.in_fen = Fen(self.in_fen.0 + o.in_fen.0);
        self.refund_count += o.refund_count;
        self.refund_fen = Fen(self.refund_fen.0 + o.refund_fen.0);
    }
}

pub struct Daily {
    pub range: DateRange,
    /// Per day and channel, days in order, only where money moved.
    pub rows: Vec<DailyRow>,
    /// Per channel over the range.
    pub channels: Vec<DailyRow>,
    pub total: DailyRow,
}

fn is_money_in(kind: LedgerKind) -> bool {
    matches!(kind, LedgerKind::Payment | LedgerKind::OfflinePayment | LedgerKind::UnappliedReceipt | LedgerKind::Credit)
}

fn daily_of(range: DateRange, groups: &[LedgerDayGroup]) -> Daily {
    let mut by: BTreeMap<(i64, MoneyChannel), DailyRow> = BTreeMap::new();
    for g in groups {
        let Some(channel) = g.channel else { continue };
        let row = by.entry((g.day_no, channel)).or_insert_with(|| DailyRow {
            date: date_of(g.day_no),
            channel: Some(channel),
            ..Default::default()
        });
        if g.kind == LedgerKind::Refund {
            row.refund_count += g.refs;
            row.refund_fen = Fen(row.refund_fen.0 - g.total.0);
        } else if is_money_in(g.kind) {
            row.in_count += g.refs;
            row.in_fen = Fen(row.in_fen.0 + g.total.0);
        }
    }
    let rows: Vec<DailyRow> = by.into_values().filter(|r| r.in_count + r.refund_count > 0).collect();
    let mut channels: BTreeMap<MoneyChannel, DailyRow> = BTreeMap::new();
    let mut total = DailyRow::default();
    for r in &rows {
        channels
            .entry(r.channel.unwrap_or(MoneyChannel::Cash))
            .or_insert_with(|| DailyRow { channel: r.channel, ..Default::default() })
            .add(r);
        total.add(r);
    }
    Daily { range, rows, channels: channels.into_values().collect(), total }
}

/// Money in and out per day and channel of a date range (`view_reports`).
pub async fn daily(ctx: &Context, staff: &Staff, from: &str, to: &str) -> Result<Daily, Error> {
    staff.require(Permission::ViewReports)?;
    let school_id = staff.school()?;
    let range = parse_range(from, to)?;
    let (a, b) = range.unix_bounds();
    let groups = ctx.store.ledger_by_day(school_id, a, b).await?;
    Ok(daily_of(range, &groups))
}

pub const DAILY_HEAD: [&str; 7] = ["日期", "渠道", "收款笔数", "收款金额", "退款笔数", "退款金额", "净额"];

fn daily_cells(r: &DailyRow, date: &str, channel: &str) -> Vec<Cell> {
    vec![
        Cell::Text(date.into()),
        Cell::Text(channel.into()),
        Cell::Int(r.in_count),
        Cell::Fen(r.in_fen.0),
        Cell::Int(r.refund_count),
        Cell::Fen(r.refund_fen.0),
        Cell::Fen(r.net().0),
    ]
}

fn channel_label(r: &DailyRow) -> &'static str {
    r.channel.map_or("合计", |c| c.label_zh())
}

/// The daily report as one sheet: per day and channel, then a subtotal per channel and the
/// grand total (`view_reports`).
pub async fn daily_sheet(ctx: &Context, staff: &Staff, from: &str, to: &str) -> Result<Sheet, Error> {
    let d = daily(ctx, staff, from, to).await?;
    let mut rows: Vec<Vec<Cell>> = d.rows.iter().map(|r| daily_cells(r, &r.date, channel_label(r))).collect();
    let span = format!("{} 至 {}", d.range.from, d.range.to);
    rows.extend(d.channels.iter().map(|r| daily_cells(r, &format!("{span} 小计"), channel_label(r))));
    Ok(Sheet {
        name: "收款日报",
        file_name: format!("daily-{}-{}.xlsx", d.range.from, d.range.to),
        head: DAILY_HEAD.iter().map(|h| h.to_string()).collect(),
        rows,
        total: Some(daily_cells(&d.total, &span, "合计")),
    })
}

/// The daily report as a workbook (audited).
pub async fn daily_xlsx(ctx: &Context, staff: &Staff, client: &Client, from: &str, to: &str) -> Result<Vec<u8>, Error> {
    let sheet = daily_sheet(ctx, staff, from, to).await?;
    let bytes = sheet.render()?;
    let after = serde_json::json!({"report": "daily", "from": from.trim(), "to": to.trim(), "rows": sheet.rows.len()});
    audit_export(ctx, staff, client, "report:daily", after).await?;
    Ok(bytes)
}

/// One voucher (记账凭证): one debit and one credit line of the same amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voucher {
    pub date: String,
    /// 记-YYYYMMDD-NNN, numbered per day.
    pub number: String,
    pub summary: String,
    pub debit: &'static str,
    pub credit: &'static str,
    pub amount: Fen,
}

/// The ledger of a range as vouchers: one per day, kind, channel, charge or not, and sign.
pub fn vouchers_of(groups: &[LedgerDayGroup]) -> Vec<Voucher> {
    let mut out = Vec::new();
    let mut day = i64::MIN;
    let mut seq = 0;
    for g in groups {
        let Some((debit, credit)) = g.kind.voucher_accounts(g.on_charge, g.channel) else { continue };
        if g.total == Fen::ZERO {
            continue;
        }
        let (debit, credit) = if g.total.0 < 0 { (credit, debit) } else { (debit, credit) };
        if g.day_no != day {
            (day, seq) = (g.day_no, 0);
        }
        seq += 1;
        let date = date_of(g.day_no);
        let via = g.channel.map(|c| format!("{} ", c.label_zh())).unwrap_or_default();
        let back = if g.total.0 < 0 && g.kind != LedgerKind::Refund { "（冲回）" } else { "" };
        out.push(Voucher {
            number: format!("记-{}-{seq:03}", date.replace('-', "")),
            summary: format!("{date} {via}{}{back} {} 笔", g.kind.label_zh(), g.refs),
            date,
            debit,
            credit,
            amount: Fen(g.total.0.abs()),
        });
    }
    out
}

pub const VOUCHER_HEAD: [&str; 7] = ["日期", "凭证号", "分录", "摘要", "会计科目", "借方金额", "贷方金额"];

/// The ledger of a date range as a voucher sheet for the accounting system: two lines per
/// voucher (debit, then credit), amounts as numbers in yuan (`view_reports`).
pub async fn voucher_sheet(ctx: &Context, staff: &Staff, from: &str, to: &str) -> Result<Sheet, Error> {
    staff.require(Permission::ViewReports)?;
    let school_id = staff.school()?;
    let range = parse_range(from, to)?;
    let (a, b) = range.unix_bounds();
    let groups = ctx.store.ledger_by_day(school_id, a, b).await?;
    let vouchers = vouchers_of(&groups);
    let mut rows = Vec::with_capacity(vouchers.len() * 2);
    let mut sum = 0i64;
    for v in &vouchers {
        sum += v.amount.0;
        let line = |n: i64, account: &str, debit: bool| {
            vec![
                Cell::Text(v.date.clone()),
                Cell::Text(v.number.clone()),
                Cell::Int(n),
                Cell::Text(v.summary.clone()),
                Cell::Text(account.into()),
                if debit { Cell::Fen(v.amount.0) } else { Cell::Blank },
                if debit { Cell::Blank } else { Cell::Fen(v.amount.0) },
            ]
        };
        rows.push(line(1, v.debit, true));
        rows.push(line(2, v.credit, false));
    }
    let total = vec![
        Cell::Text(format!("{} 至 {}", range.from, range.to)),
        Cell::Text(format!("{} 张凭证", vouchers.len())),
        Cell::Blank,
        Cell::Text("合计".into()),
        Cell::Blank,
        Cell::Fen(sum),
        Cell::Fen(sum),
    ];
    Ok(Sheet {
        name: "记账凭证",
        file_name: format!("voucher-{}-{}.xlsx", range.from, range.to),
        head: VOUCHER_HEAD.iter().map(|h| h.to_string()).collect(),
        rows,
        total: Some(total),
    })
}

/// The voucher sheet as a workbook (audited).
pub async fn voucher_xlsx(ctx: &Context, staff: &Staff, client: &Client, from: &str, to: &str) -> Result<Vec<u8>, Error> {
    let sheet = voucher_sheet(ctx, staff, from, to).await?;
    let bytes = sheet.render()?;
    let after = serde_json::json!({"report": "voucher", "from": from.trim(), "to": to.trim(), "vouchers": sheet.rows.len() / 2});
    audit_export(ctx, staff, client, "report:voucher", after).await?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(day_no: i64, kind: LedgerKind, channel: Option<MoneyChannel>, refs: i64, total: i64) -> LedgerDayGroup {
        LedgerDayGroup { day_no, kind, channel, on_charge: true, negative: total < 0, rows: refs, refs, total: Fen(total) }
    }

    #[test]
    fn ranges_are_checked() {
        assert!(parse_range("2026-03-01", "2026-03-31").is_ok());
        assert_eq!(parse_range("2026-03-02", "2026-03-01").unwrap_err().code, "invalid_range");
        assert_eq!(parse_range("2025-01-01", "2026-03-01").unwrap_err().code, "range_too_long");
        assert_eq!(parse_range("2026-02-30", "2026-03-01").unwrap_err().field, Some("from"));
        let r = parse_range("2026-03-01", "2026-03-01").unwrap();
        let (a, b) = r.unix_bounds();
        assert_eq!(b - a, 86_400);
        assert_eq!(campuspay_domain::time::format_shanghai(a), "2026-03-01 00:00:00");
    }

    #[test]
    fn money_in_and_out_per_day_and_channel_and_transfers_left_out() {
        let d = day_no("2026-03-01");
        let groups = [
            g(d, LedgerKind::Payment, Some(MoneyChannel::Wechatpay), 2, 30_000),
            g(d, LedgerKind::UnappliedReceipt, Some(MoneyChannel::Wechatpay), 1, 500),
            g(d, LedgerKind::Refund, Some(MoneyChannel::Wechatpay), 1, -700),
            g(d, LedgerKind::OfflinePayment, Some(MoneyChannel::Cash), 1, 200),
            g(d, LedgerKind::BalanceUse, None, 1, 100),
            g(d + 1, LedgerKind::Credit, None, 1, 500),
            g(d + 1, LedgerKind::UnappliedReceipt, None, 1, -500),
        ];
        let r = daily_of(parse_range("2026-03-01", "2026-03-02").unwrap(), &groups);
        assert_eq!(r.rows.len(), 2, "{:?}", r.rows);
        let wx = &r.rows[0];
        assert_eq!(
            (wx.channel, wx.in_count, wx.in_fen, wx.refund_count, wx.refund_fen),
            (Some(MoneyChannel::Wechatpay), 3, Fen(30_500), 1, Fen(700))
        );
        assert_eq!(wx.net(), Fen(29_800));
        assert_eq!(r.total.net(), Fen(30_000));
        let v = vouchers_of(&groups);
        // The exception's move out of unapplied money is booked with its other half.
        assert_eq!(v.len(), 6);
        assert_eq!(v[0].number, "记-20260301-001");
        assert_eq!(v[5].number, "记-20260302-001");
        let refund = v.iter().find(|v| v.summary.contains("退费")).unwrap();
        assert_eq!((refund.debit, refund.credit, refund.amount), ("1122 应收账款—学生收费", MoneyChannel::Wechatpay.account(), Fen(700)));
    }
}
