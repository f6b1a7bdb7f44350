//! `/office/reports/daily` (收款日报, with the voucher download) and `/office/reports/arrears`
//! (欠费账龄): tables and server-drawn SVG charts, no script, so the CSP stays as it is.

use super::{OfficePage, Shell, render, render_refused};
use crate::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use campuspay_app::Error;
use campuspay_app::office::arrears::{self, BUCKETS};
use campuspay_app::office::money_reports::{self, DailyRow};
use campuspay_domain::Fen;
use campuspay_domain::office::Permission;
use campuspay_domain::settlement::MoneyChannel;
use campuspay_domain::time::format_shanghai_date;
use serde::Deserialize;

pub struct DailyLine {
    pub date: String,
    pub channel: &'static str,
    pub in_count: i64,
    pub in_fen: String,
    pub refund_count: i64,
    pub refund_fen: String,
    pub net: String,
}

fn line(r: &DailyRow) -> DailyLine {
    DailyLine {
        date: r.date.clone(),
        channel: r.channel.map_or("合计", |c| c.label_zh()),
        in_count: r.in_count,
        in_fen: r.in_fen.to_string(),
        refund_count: r.refund_count,
        refund_fen: r.refund_fen.to_string(),
        net: r.net().to_string(),
    }
}

/// One rectangle of a chart: geometry computed here; the template only places it.
pub struct Rect {
    pub x: i64,
    pub y: i64,
    pub w: i64,
    pub h: i64,
    pub fill: &'static str,
    pub title: String,
}

pub struct Label {
    pub x: i64,
    pub y: i64,
    pub text: String,
}

pub struct Chart {
    pub width: i64,
    pub height: i64,
    pub rects: Vec<Rect>,
    pub labels: Vec<Label>,
    pub legend: Vec<(&'static str, &'static str)>,
}

fn colour(c: MoneyChannel) -> &'static str {
    match c {
        MoneyChannel::Wechatpay => "#1a9f5b",
        MoneyChannel::Alipay => "#1677ff",
        MoneyChannel::Unionpay => "#c8102e",
        MoneyChannel::Ccb => "#0066b3",
        MoneyChannel::Cash => "#b7791f",
        MoneyChannel::Pos => "#6f42c1",
        MoneyChannel::BankTransfer => "#4a5568",
        MoneyChannel::OtherOffline => "#8d6e63",
    }
}

const REFUND_COLOUR: &str = "#e07a5f";
const PLOT_W: i64 = 880;
const LEFT: i64 = 60;
const UP_H: i64 = 200;
const DOWN_H: i64 = 50;

/// Money in per day stacked by channel above the axis, refunds below it, one slot per day of
/// the range (days without money stay empty, so the gaps show).
fn per_day<'a>(d: &'a money_reports::Daily, day: &'a str) -> impl Iterator<Item = &'a DailyRow> {
    d.rows.iter().filter(move |r| r.date == day)
}

fn daily_chart(d: &money_reports::Daily) -> Chart {
    let days = d.range.days();
    let slot = (PLOT_W / days.max(1)).max(1);
    let bar = (slot * 7 / 10).max(1);
    let dates: Vec<String> = (0..days).map(|i| money_reports::date_of(d.range.first_day() + i)).collect();
    let max_in = dates.iter().map(|day| per_day(d, day).map(|r| r.in_fen.0).sum::<i64>()).max().unwrap_or(0).max(1);
    let max_out = dates.iter().map(|day| per_day(d, day).map(|r| r.refund_fen.0).sum::<i64>()).max().unwrap_or(0).max(1);
    let scale_up = |f: i64| (f * UP_H).checked_div(max_in).unwrap_or(0);
    let scale_down = |f: i64| (f * DOWN_H).checked_div(max_out.max(max_in / 4).max(1)).unwrap_or(0).min(DOWN_H);
    let (mut rects, mut labels) = (Vec::new(), Vec::new());
    let every = (days + 11) / 12;
    for (i, day) in dates.iter().enumerate() {
        let x = LEFT + i as i64 * slot;
        let mut top = UP_H;
        let mut down = 0;
        for r in per_day(d, day) {
            let c = r.channel.unwrap_or(MoneyChannel::Cash);
            let h = scale_up(r.in_fen.0);
            if h > 0 {
                top -= h;
                let title = format!("{day} {} 收款 {} 笔 {}", c.label_zh(), r.in_count, r.in_fen);
                rects.push(Rect { x, y: top + 10, w: bar, h, fill: colour(c), title });
            }
            let h = scale_down(r.refund_fen.0).max(if r.refund_fen.0 > 0 { 1 } else { 0 });
            if h > 0 {
                let title = format!("{day} {} 退款 {} 笔 {}", c.label_zh(), r.refund_count, r.refund_fen);
                rects.push(Rect { x, y: UP_H + 10 + down, w: bar, h, fill: REFUND_COLOUR, title });
                down += h;
            }
        }
        if (i as i64) % every == 0 {
            labels.push(Label { x, y: UP_H + DOWN_H + 28, text: day[5..].to_string() });
        }
    }
    labels.push(Label { x: 0, y: 20, text: format!("{}", Fen(max_in)) });
    labels.push(Label { x: 0, y: UP_H + 14, text: "0".into() });
    let mut legend: Vec<(&'static str, &'static str)> =
        d.channels.iter().filter_map(|r| r.channel).map(|c| (c.label_zh(), colour(c))).collect();
    if d.total.refund_fen.0 > 0 {
        legend.push(("退款（轴下）", REFUND_COLOUR));
    }
    Chart { width: LEFT + PLOT_W + 20, height: UP_H + DOWN_H + 40, rects, labels, legend }
}

#[derive(Template)]
#[template(path = "office/daily.html")]
struct DailyPage {
    shell: Shell,
    from: String,
    to: String,
    rows: Vec<DailyLine>,
    channels: Vec<DailyLine>,
    total: Option<DailyLine>,
    chart: Option<Chart>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct RangeQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

pub async fn daily_page(State(state): State<AppState>, page: OfficePage, Query(q): Query<RangeQuery>) -> Response {
    if let Err(e) = page.staff.require(Permission::ViewReports) {
        return page.error(&e);
    }
    // The last seven days by default.
    let today = state.clock.now();
    let to = if q.to.trim().is_empty() { format_shanghai_date(today) } else { q.to.trim().to_string() };
    let from = if q.from.trim().is_empty() { format_shanghai_date(today - 6 * 86_400) } else { q.from.trim().to_string() };
    let mut view = DailyPage {
        shell: page.shell("收款日报", "daily"),
        from: from.clone(),
        to: to.clone(),
        rows: Vec::new(),
        channels: Vec::new(),
        total: None,
        chart: None,
        error: None,
    };
    match money_reports::daily(&state, &page.staff, &from, &to).await {
        Ok(d) => {
            view.rows = d.rows.iter().map(line).collect();
            view.channels = d.channels.iter().map(line).collect();
            view.total = Some(line(&d.total));
            view.chart = Some(daily_chart(&d));
            render(&view)
        }
        Err(e) => refused(view, e, |v, m| v.error = Some(m)),
    }
}

fn refused<T: Template>(mut view: T, e: Error, set: impl FnOnce(&mut T, String)) -> Response {
    set(&mut view, e.zh.clone());
    render_refused(&view, &e)
}

pub struct AgeingLine {
    pub department: String,
    /// Per academic year: (year, amount, whether anything is owed there, so a link is drawn).
    pub by_year: Vec<(String, String, bool)>,
    pub by_bucket: Vec<String>,
    pub charges: i64,
    pub total: String,
}

#[derive(Template)]
#[template(path = "office/arrears.html")]
struct ArrearsPage {
    shell: Shell,
    as_of: String,
    years: Vec<(String, &'static str)>,
    buckets: [&'static str; 4],
    rows: Vec<AgeingLine>,
    total: Option<AgeingLine>,
    chart: Option<Chart>,
    drill: Option<Drill>,
    error: Option<String>,
}

/// The students who owe behind one cell, under the table.
pub struct Drill {
    pub title: String,
    pub department: Option<String>,
    pub academic_year: Option<String>,
    /// The API's query for the same rows (the workbook link).
    pub query: String,
    pub count: i64,
    pub shown: usize,
    pub outstanding: String,
    pub rows: Vec<DrillLine>,
}

pub struct DrillLine {
    pub student_no: String,
    pub name: String,
    pub department: String,
    pub class_name: String,
    pub academic_year: String,
    pub period: String,
    pub item: String,
    pub outstanding: String,
}

#[derive(Deserialize)]
pub struct ArrearsQuery {
    department: Option<String>,
    year: Option<String>,
}

fn query_of(department: Option<&str>, year: Option<&str>) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let mut q = Vec::new();
    if let Some(d) = department {
        q.push(format!("department={}", enc(d)));
    }
    if let Some(y) = year {
        q.push(format!("academic_year={}", enc(y)));
    }
    q.join("&")
}

async fn drill(state: &AppState, page: &OfficePage, q: &ArrearsQuery) -> Result<Option<Drill>, Error> {
    if q.department.is_none() && q.year.is_none() {
        return Ok(None);
    }
    let d = arrears::debtors(state, &page.staff, q.department.as_deref(), q.year.as_deref()).await?;
    let title = match (&d.department, &d.academic_year) {
        (Some(dep), Some(y)) => format!("{dep} · {y} 学年"),
        (Some(dep), None) => dep.clone(),
        (None, Some(y)) => format!("{y} 学年"),
        (None, None) => String::new(),
    };
    Ok(Some(Drill {
        title,
        department: d.department.clone(),
        academic_year: d.academic_year.clone(),
        query: query_of(d.department.as_deref(), d.academic_year.as_deref()),
        count: d.count,
        shown: d.rows.len(),
        outstanding: d.outstanding.to_string(),
        rows: d
            .rows
            .into_iter()
            .map(|r| DrillLine {
                student_no: r.student_no,
                name: r.name,
                department: r.department,
                class_name: r.class_name,
                academic_year: r.academic_year,
                period: r.period,
                item: r.item,
                outstanding: r.outstanding.to_string(),
            })
            .collect(),
    }))
}

const BUCKET_COLOURS: [&str; 4] = ["#1f5fa8", "#e0a526", "#e07a5f", "#b00020"];

/// One horizontal bar per bucket of the school's total.
fn ageing_chart(by_bucket: &[Fen; 4]) -> Chart {
    let max = by_bucket.iter().map(|f| f.0).max().unwrap_or(0).max(1);
    let mut rects = Vec::new();
    let mut labels = Vec::new();
    for (i, f) in by_bucket.iter().enumerate() {
        let y = i as i64 * 30;
        let w = f.0 * 500 / max;
        rects.push(Rect {
            x: 100,
            y,
            w: w.max(if f.0 > 0 { 1 } else { 0 }),
            h: 22,
            fill: BUCKET_COLOURS[i],
            title: format!("{} {}", BUCKETS[i], f),
        });
        labels.push(Label { x: 0, y: y + 16, text: BUCKETS[i].to_string() });
        labels.push(Label { x: 110 + w, y: y + 16, text: f.to_string() });
    }
    Chart { width: 760, height: 4 * 30, rects, labels, legend: Vec::new() }
}

pub async fn arrears_page(State(state): State<AppState>, page: OfficePage, Query(q): Query<ArrearsQuery>) -> Response {
    if let Err(e) = page.staff.require(Permission::ViewReports) {
        return page.error(&e);
    }
    let mut view = ArrearsPage {
        shell: page.shell("欠费账龄", "arrears"),
        as_of: format_shanghai_date(state.clock.now()),
        years: Vec::new(),
        buckets: BUCKETS,
        rows: Vec::new(),
        total: None,
        chart: None,
        drill: None,
        error: None,
    };
    match arrears::ageing(&state, &page.staff).await {
        Ok(a) => {
            let line = |department: &str, by_year: &[Fen], by_bucket: &[Fen; 4], owed: &arrears::Owed| AgeingLine {
                department: department.to_string(),
                by_year: a.years.iter().zip(by_year).map(|(y, f)| (y.academic_year.clone(), f.to_string(), f.0 > 0)).collect(),
                by_bucket: by_bucket.iter().map(|f| f.to_string()).collect(),
                charges: owed.charges,
                total: owed.outstanding.to_string(),
            };
            view.years = a.years.iter().map(|y| (y.academic_year.clone(), y.bucket().map_or("—", |b| BUCKETS[b]))).collect();
            view.rows = a.rows.iter().map(|r| line(&r.department, &r.by_year, &r.by_bucket, &r.total)).collect();
            view.total = Some(line("合计", &a.by_year, &a.by_bucket, &a.total));
            view.chart = Some(ageing_chart(&a.by_bucket));
            view.as_of = a.as_of.clone();
            match drill(&state, &page, &q).await {
                Ok(d) => {
                    view.drill = d;
                    render(&view)
                }
                Err(e) => refused(view, e, |v, m| v.error = Some(m)),
            }
        }
        Err(e) => refused(view, e, |v, m| v.error = Some(m)),
    }
}
