//! `/api/v1/office/…` for the ledger's reports: daily collection by channel, arrears ageing by
//! academic year, and the voucher sheet for the accounting system.

use super::StaffSession;
use crate::AppState;
use crate::api::ApiJson;
use crate::error::{ErrorBody, HttpError};
use crate::web::Client;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use campuspay_app::office::arrears::{self, BUCKETS};
use campuspay_app::office::money_reports::{self, DailyRow};
use campuspay_app::{Error, ErrorKind};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(daily)).routes(routes!(arrears_ageing)).routes(routes!(arrears_debtors)).routes(routes!(voucher))
}

/// An .xlsx download.
pub fn xlsx(name: &str, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", name.replace(['"', '\\'], ""))),
        ],
        bytes,
    )
        .into_response()
}

#[derive(PartialEq)]
enum Format {
    Json,
    Xlsx,
}

fn format_of(s: &str, json_allowed: bool) -> Result<Format, HttpError> {
    match s.trim() {
        "" | "json" if json_allowed => Ok(Format::Json),
        "xlsx" => Ok(Format::Xlsx),
        _ => Err(HttpError::from(
            Error::new(
                ErrorKind::Refused,
                "invalid_format",
                if json_allowed { "格式只能是 json 或 xlsx" } else { "格式只能是 xlsx" },
                if json_allowed { "format is json or xlsx" } else { "format is xlsx" },
            )
            .field("format"),
        )),
    }
}

#[derive(Deserialize, IntoParams)]
pub struct RangeQuery {
    /// First day, YYYY-MM-DD (Asia/Shanghai).
    from: String,
    /// Last day, included; at most 366 days after `from`.
    to: String,
    /// `xlsx` for a workbook; JSON otherwise.
    #[serde(default)]
    format: String,
}

#[derive(Serialize, ToSchema)]
pub struct DailyFigures {
    /// YYYY-MM-DD; absent in per-channel subtotals and the total.
    #[serde(skip_serializing_if = "Option::is_none")]
    date: Option<String>,
    /// `wechatpay`, `alipay`, `unionpay`, `cash`, `pos`, `bank_transfer`; absent in the total.
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<&'static str>,
    channel_name: &'static str,
    /// Payments (not their per-charge rows) that brought money in.
    in_count: i64,
    /// Applied payments, counter payments, late or duplicate money, money put on balances.
    in_fen: i64,
    refund_count: i64,
    /// What went back (positive).
    refund_fen: i64,
    /// in − refunds.
    net_fen: i64,
}

fn daily_figures(r: &DailyRow, with_date: bool) -> DailyFigures {
    DailyFigures {
        date: with_date.then(|| r.date.clone()),
        channel: r.channel.map(|c| c.as_str()),
        channel_name: r.channel.map_or("合计", |c| c.label_zh()),
        in_count: r.in_count,
        in_fen: r.in_fen.0,
        refund_count: r.refund_count,
        refund_fen: r.refund_fen.0,
        net_fen: r.net().0,
    }
}

#[derive(Serialize, ToSchema)]
pub struct DailyReport {
    from: String,
    to: String,
    /// Per day and channel where money moved, days in order.
    rows: Vec<DailyFigures>,
    /// Per channel over the range.
    channels: Vec<DailyFigures>,
    /// The sum of the rows.
    total: DailyFigures,
}

/// Money in and out per day and channel, from the ledger (`view_reports`); `format=xlsx` for a workbook.
#[utoipa::path(get, path = "/api/v1/office/reports/daily", tag = "office", security(("bearer" = [])), params(RangeQuery), responses(
    (status = 200, description = "收款日报（JSON，或 format=xlsx 时为 Excel 工作簿）", body = DailyReport),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 422, description = "日期或格式有误", body = ErrorBody),
))]
async fn daily(State(state): State<AppState>, client: Client, s: StaffSession, Query(q): Query<RangeQuery>) -> Result<Response, HttpError> {
    if format_of(&q.format, true)? == Format::Xlsx {
        let bytes = money_reports::daily_xlsx(&state, &s.staff, &client, &q.from, &q.to).await?;
        return Ok(xlsx(&format!("daily-{}-{}.xlsx", q.from.trim(), q.to.trim()), bytes));
    }
    let d = money_reports::daily(&state, &s.staff, &q.from, &q.to).await?;
    Ok(ApiJson(DailyReport {
        from: d.range.from.clone(),
        to: d.range.to.clone(),
        rows: d.rows.iter().map(|r| daily_figures(r, true)).collect(),
        channels: d.channels.iter().map(|r| daily_figures(r, false)).collect(),
        total: daily_figures(&d.total, false),
    })
    .into_response())
}

#[derive(Deserialize, IntoParams)]
pub struct FormatQuery {
    /// `xlsx` for a workbook; JSON otherwise.
    #[serde(default)]
    format: String,
}

#[derive(Serialize, ToSchema)]
pub struct AgeingYear {
    /// As the periods name it, e.g. `2025-2026`.
    academic_year: String,
    /// Academic years since (they begin on 1 September); absent when the name has no year.
    #[serde(skip_serializing_if = "Option::is_none")]
    age_years: Option<i64>,
    /// `本学年`, `1年`, `2年`, `3年及以上`.
    #[serde(skip_serializing_if = "Option::is_none")]
    bucket: Option<&'static str>,
}

#[derive(Serialize, ToSchema)]
pub struct AgeingRow {
    /// The department; `合计` in `total`.
    department: String,
    /// Outstanding per academic year, in the order of `years`.
    by_year_fen: Vec<i64>,
    /// Outstanding per age bucket, in the order of `buckets`.
    by_bucket_fen: Vec<i64>,
    /// Charges that still owe.
    charges: i64,
    outstanding_fen: i64,
}

#[derive(Serialize, ToSchema)]
pub struct AgeingReport {
    /// The day ages are counted from (today).
    as_of: String,
    years: Vec<AgeingYear>,
    buckets: Vec<&'static str>,
    rows: Vec<AgeingRow>,
    /// The sum of the rows.
    total: AgeingRow,
}

/// What students still owe, by academic year and age, per department (`view_reports`); `format=xlsx` for a workbook.
#[utoipa::path(get, path = "/api/v1/office/reports/arrears-ageing", tag = "office", security(("bearer" = [])), params(FormatQuery), responses(
    (status = 200, description = "欠费账龄（JSON，或 format=xlsx 时为 Excel 工作簿）", body = AgeingReport),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 422, description = "格式有误", body = ErrorBody),
))]
async fn arrears_ageing(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    Query(q): Query<FormatQuery>,
) -> Result<Response, HttpError> {
    if format_of(&q.format, true)? == Format::Xlsx {
        let bytes = arrears::ageing_xlsx(&state, &s.staff, &client).await?;
        return Ok(xlsx("arrears-ageing.xlsx", bytes));
    }
    let a = arrears::ageing(&state, &s.staff).await?;
    let row =
        |department: &str, by_year: &[campuspay_domain::Fen], by_bucket: &[campuspay_domain::Fen; 4], total: &arrears::Owed| AgeingRow {
            department: department.to_string(),
            by_year_fen: by_year.iter().map(|f| f.0).collect(),
            by_bucket_fen: by_bucket.iter().map(|f| f.0).collect(),
            charges: total.charges,
            outstanding_fen: total.outstanding.0,
        };
    Ok(ApiJson(AgeingReport {
        as_of: a.as_of.clone(),
        years: a
            .years
            .iter()
            .map(|y| AgeingYear { academic_year: y.academic_year.clone(), age_years: y.age, bucket: y.bucket().map(|b| BUCKETS[b]) })
            .collect(),
        buckets: BUCKETS.to_vec(),
        rows: a.rows.iter().map(|r| row(&r.department, &r.by_year, &r.by_bucket, &r.total)).collect(),
        total: row("合计", &a.by_year, &a.by_bucket, &a.total),
    })
    .into_response())
}

#[derive(Deserialize, IntoParams)]
pub struct DebtorsQuery {
    /// One department (a row of the ageing); absent: every department.
    department: Option<String>,
    /// One academic year (a column of the ageing, e.g. `2024-2025`); absent: every year.
    academic_year: Option<String>,
    /// `xlsx` for a workbook of every matching charge; JSON (the first 500) otherwise.
    #[serde(default)]
    format: String,
}

#[derive(Serialize, ToSchema)]
pub struct ArrearsDebtorView {
    student_no: String,
    name: String,
    department: String,
    class_name: String,
    academic_year: String,
    /// The period's name.
    period: String,
    item: String,
    outstanding_fen: i64,
}

#[derive(Serialize, ToSchema)]
pub struct ArrearsDebtors {
    department: Option<String>,
    academic_year: Option<String>,
    /// Every charge that owes in the cell; `rows` holds the first 500, most owed first.
    count: i64,
    /// What they owe together: the ageing's cell.
    outstanding_fen: i64,
    rows: Vec<ArrearsDebtorView>,
}

/// The students who owe behind a cell of the ageing, per charge, most owed first (`view_reports`);
/// `format=xlsx` for every row as a workbook.
#[utoipa::path(get, path = "/api/v1/office/reports/arrears-ageing/debtors", tag = "office", security(("bearer" = [])), params(DebtorsQuery), responses(
    (status = 200, description = "欠费明细（JSON，或 format=xlsx 时为 Excel 工作簿）", body = ArrearsDebtors),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 422, description = "格式有误，或行数过多", body = ErrorBody),
))]
async fn arrears_debtors(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    Query(q): Query<DebtorsQuery>,
) -> Result<Response, HttpError> {
    let (department, year) = (q.department.as_deref(), q.academic_year.as_deref());
    if format_of(&q.format, true)? == Format::Xlsx {
        let bytes = arrears::debtors_xlsx(&state, &s.staff, &client, department, year).await?;
        return Ok(xlsx("arrears-debtors.xlsx", bytes));
    }
    let d = arrears::debtors(&state, &s.staff, department, year).await?;
    Ok(ApiJson(ArrearsDebtors {
        department: d.department,
        academic_year: d.academic_year,
        count: d.count,
        outstanding_fen: d.outstanding.0,
        rows: d
            .rows
            .into_iter()
            .map(|r| ArrearsDebtorView {
                student_no: r.student_no,
                name: r.name,
                department: r.department,
                class_name: r.class_name,
                academic_year: r.academic_year,
                period: r.period,
                item: r.item,
                outstanding_fen: r.outstanding.0,
            })
            .collect(),
    })
    .into_response())
}

/// The ledger of a date range as a voucher sheet (记账凭证) for the accounting system: per day,
/// kind and channel one voucher of a debit and a credit line (`view_reports`; `format=xlsx`).
#[utoipa::path(get, path = "/api/v1/office/ledger/voucher", tag = "office", security(("bearer" = [])), params(RangeQuery), responses(
    (status = 200, description = "记账凭证（Excel 工作簿）", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 422, description = "日期或格式有误", body = ErrorBody),
))]
async fn voucher(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    Query(q): Query<RangeQuery>,
) -> Result<Response, HttpError> {
    format_of(&q.format, false)?;
    let bytes = money_reports::voucher_xlsx(&state, &s.staff, &client, &q.from, &q.to).await?;
    Ok(xlsx(&format!("voucher-{}-{}.xlsx", q.from.trim(), q.to.trim()), bytes))
}
