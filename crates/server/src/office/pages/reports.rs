//! `/office/reports` and `/office/reconciliation`: collection progress with a server-drawn
//! SVG chart (no script, so the CSP stays as it is), drill-down to the students who owe, the
//! xlsx download, and a day's reconciliation per channel with a re-run.

use super::{OfficeForm, OfficePage, Shell, render, render_refused};
use crate::AppState;
use crate::pages::extract::{CsrfForm, OfficePosted};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use campuspay_app::Error;
use campuspay_app::office::{catalog, reports};
use campuspay_domain::Fen;
use campuspay_domain::office::Permission;
use campuspay_domain::settlement::ReportBy;
use campuspay_domain::time::{format_shanghai, format_shanghai_date};
use campuspay_store::reports::CollectionRow;
use serde::Deserialize;

pub struct FigureRow {
    pub key: String,
    pub students: i64,
    pub charged: String,
    pub waived: String,
    pub paid: String,
    pub refunded: String,
    pub outstanding: String,
    pub percent: String,
    pub owes: bool,
}

/// One bar of the chart: geometry computed here, text escaped by the template.
pub struct Bar {
    pub label: String,
    pub y: i64,
    pub text_y: i64,
    pub width: i64,
    pub percent: String,
}

pub const CHART_WIDTH: i64 = 360;
const BAR_HEIGHT: i64 = 18;
const BAR_GAP: i64 = 8;
/// More bars than fit a screen say nothing more; the table has every row.
const MAX_BARS: usize = 40;

fn percent(permille: i64) -> String {
    format!("{}.{}%", permille / 10, (permille % 10).abs())
}

fn figures(r: &CollectionRow) -> FigureRow {
    let pm = reports::collected_permille(r);
    FigureRow {
        key: r.key.clone(),
        students: r.students,
        charged: r.charged.to_string(),
        waived: r.waived.to_string(),
        paid: r.paid().to_string(),
        refunded: r.refunded.to_string(),
        outstanding: r.outstanding().to_string(),
        // Nothing charged: no rate to speak of (not 100 %).
        percent: if r.charged == Fen::ZERO { "—".into() } else { percent(pm) },
        owes: r.outstanding() > Fen::ZERO,
    }
}

#[derive(Template)]
#[template(path = "office/collection.html")]
struct CollectionPage {
    shell: Shell,
    periods: Vec<(String, String)>,
    period: String,
    groups: Vec<(&'static str, &'static str)>,
    by: &'static str,
    by_label: &'static str,
    rows: Vec<FigureRow>,
    total: Option<FigureRow>,
    bars: Vec<Bar>,
    chart_height: i64,
    chart_width: i64,
    drill: Option<(String, Vec<campuspay_store::reports::Debtor>)>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct CollectionQuery {
    #[serde(default)]
    period: String,
    #[serde(default)]
    by: String,
    #[serde(default)]
    key: Option<String>,
}

pub async fn collection_page(State(state): State<AppState>, page: OfficePage, Query(q): Query<CollectionQuery>) -> Response {
    if let Err(e) = page.staff.require(Permission::ViewReports) {
        return page.error(&e);
    }
    let periods = match catalog::periods(&state, &page.staff).await {
        Ok(p) => p,
        Err(e) => return page.error(&e),
    };
    let by = reports::parse_by(&q.by).unwrap_or(ReportBy::Class);
    let period = if q.period.trim().is_empty() {
        periods.iter().max_by_key(|p| p.sort).map(|p| p.code.clone()).unwrap_or_default()
    } else {
        q.period.trim().to_string()
    };
    let mut error: Option<Error> = None;
    let (mut rows, mut total, mut bars) = (Vec::new(), None, Vec::new());
    if !period.is_empty() {
        match reports::collection(&state, &page.staff, &period, by).await {
            Ok(r) => {
                for (i, row) in r.rows.iter().take(MAX_BARS).enumerate() {
                    let pm = reports::collected_permille(row).clamp(0, 1000);
                    let y = i as i64 * (BAR_HEIGHT + BAR_GAP);
                    bars.push(Bar {
                        label: row.key.clone(),
                        y,
                        text_y: y + BAR_HEIGHT - 4,
                        width: CHART_WIDTH * pm / 1000,
                        percent: percent(pm),
                    });
                }
                rows = r.rows.iter().map(figures).collect();
                total = Some(figures(&r.total));
            }
            Err(e) => error = Some(e),
        }
    }
    let drill = match q.key.as_deref().filter(|_| error.is_none() && !period.is_empty()) {
        Some(key) => match reports::debtors(&state, &page.staff, &period, by, key).await {
            Ok(d) => Some((key.to_string(), d)),
            Err(e) => {
                error = Some(e);
                None
            }
        },
        None => None,
    };
    let view = CollectionPage {
        shell: page.shell("收缴报表", "reports"),
        periods: periods.into_iter().map(|p| (p.code, p.name)).collect(),
        period,
        groups: ReportBy::ALL.into_iter().map(|b| (b.as_str(), b.label_zh())).collect(),
        by: by.as_str(),
        by_label: by.label_zh(),
        chart_height: (bars.len() as i64 * (BAR_HEIGHT + BAR_GAP)).max(BAR_HEIGHT),
        chart_width: CHART_WIDTH,
        rows,
        total,
        bars,
        drill,
        error: error.as_ref().map(|e| e.zh.clone()),
    };
    match &error {
        Some(e) => render_refused(&view, e),
        None => render(&view),
    }
}

pub struct ChannelView {
    pub provider: &'static str,
    pub ok: bool,
    pub error: String,
    pub statement: (i64, String),
    pub refunds: (i64, String),
    pub net: String,
    /// 手续费 and 结算金额, or why not.
    pub fee: String,
    pub settlement: String,
    pub matched: (i64, String),
    pub settled_now: (i64, String),
    pub missing_ours: (i64, String),
    pub missing_theirs: (i64, String),
    pub mismatched: i64,
    pub imported: bool,
    /// The kept file of an imported run: (id, name, SHA-256).
    pub file: Option<(i64, String, String)>,
    pub at: String,
}

#[derive(Template)]
#[template(path = "office/reconciliation.html")]
struct ReconciliationPage {
    shell: Shell,
    date: String,
    channels: Vec<ChannelView>,
    can_run: bool,
    notice: Option<&'static str>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct DayQuery {
    #[serde(default)]
    date: String,
    #[serde(default)]
    done: Option<String>,
    #[serde(default)]
    imported: Option<String>,
}

fn provider_label(p: Option<campuspay_domain::payment::Provider>) -> &'static str {
    use campuspay_domain::payment::Provider;
    match p {
        Some(Provider::Wechatpay) => "微信支付",
        Some(Provider::Alipay) => "支付宝",
        Some(Provider::Unionpay) => "银联",
        Some(Provider::Ccb) => "建行龙支付",
        Some(Provider::Allinpay) => "通联收银宝",
        None => "—",
    }
}

async fn show_day(state: &AppState, page: &OfficePage, date: &str, notice: Option<&'static str>, error: Option<Error>) -> Response {
    let date = if date.trim().is_empty() { format_shanghai_date(state.clock.now() - 86_400) } else { date.trim().to_string() };
    let mut error = error;
    let rows = match reports::reconciliation(state, &page.staff, &date).await {
        Ok(r) => r,
        Err(e) if e.kind == campuspay_app::ErrorKind::Forbidden => return page.error(&e),
        Err(e) => {
            error.get_or_insert(e);
            Vec::new()
        }
    };
    // Count over amount, one under the other: the table stays readable at 1366 px.
    let pair = |n: i64, f: Fen| (n, f.to_string());
    let view = ReconciliationPage {
        shell: page.shell("对账", "reconciliation"),
        date,
        channels: rows
            .iter()
            .map(|r| ChannelView {
                provider: provider_label(r.provider),
                ok: r.ok,
                error: r.error.clone(),
                statement: pair(r.statement_count, r.statement_fen),
                refunds: pair(r.refund_count, r.refund_fen),
                net: Fen(r.statement_fen.0 - r.refund_fen.0).to_string(),
                fee: r.fee_fen.map_or_else(|| "对账单未提供".to_string(), |f| f.to_string()),
                settlement: r.fee_fen.map_or_else(|| "—".to_string(), |f| Fen(r.statement_fen.0 - r.refund_fen.0 - f.0).to_string()),
                matched: pair(r.matched_count, r.matched_fen),
                settled_now: pair(r.settled_now_count, r.settled_now_fen),
                missing_ours: pair(r.missing_ours_count, r.missing_ours_fen),
                missing_theirs: pair(r.missing_theirs_count, r.missing_theirs_fen),
                mismatched: r.mismatched_count,
                imported: r.imported,
                file: r.file.as_ref().map(|f| (f.id, f.file_name.clone(), f.sha256.clone())),
                at: format_shanghai(r.created_at),
            })
            .collect(),
        can_run: page.staff.role.can(Permission::Refund),
        notice,
        error: error.as_ref().map(|e| e.zh.clone()),
    };
    match &error {
        Some(e) => render_refused(&view, e),
        None => render(&view),
    }
}

pub async fn reconciliation_page(State(state): State<AppState>, page: OfficePage, Query(q): Query<DayQuery>) -> Response {
    let notice = match (&q.done, &q.imported) {
        (_, Some(_)) => Some("对账单已导入并完成对账，结果如下；原文件已留存。"),
        (Some(_), None) => Some("已重新对账，结果如下。"),
        _ => None,
    };
    show_day(&state, &page, &q.date, notice, None).await
}

#[derive(Deserialize)]
pub struct RunForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    date: String,
}

impl CsrfForm for RunForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn reconciliation_run(State(state): State<AppState>, posted: OfficeForm<RunForm>) -> Response {
    let OfficePosted { page, form: f } = posted;
    match reports::rerun(&state, &page.staff, &page.client, &f.date).await {
        Ok(_) => Redirect::to(&format!("/office/reconciliation?date={}&done=1", f.date.trim())).into_response(),
        Err(e) if e.kind == campuspay_app::ErrorKind::Forbidden => page.error(&e),
        Err(e) => show_day(&state, &page, "", None, Some(e)).await,
    }
}

/// The statement upload of the reconciliation page (multipart, so the CSRF token is one of
/// its fields): the same use case as the API's.
pub async fn statement_import(
    State(state): State<AppState>,
    page: OfficePage,
    form: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    use crate::pages::extract::StaffFormPage;
    let unreadable = || {
        Error::new(campuspay_app::ErrorKind::Refused, "malformed_upload", "上传的表单有误，请重新选择文件", "The upload form is malformed")
            .field("file")
    };
    let Ok(form) = form else {
        return show_day(&state, &page, "", None, Some(unreadable())).await;
    };
    let Ok((csrf, provider, date, file)) = crate::office::statement_import_form(form).await else {
        return show_day(&state, &page, "", None, Some(unreadable())).await;
    };
    // Nothing is read into the books without the session's token.
    if !crate::pages::extract::staff_csrf_ok(&page.session.csrf_token, &csrf) {
        return page.csrf_refused();
    }
    let (name, bytes) = file.unwrap_or_default();
    match campuspay_app::office::statement_import::import(&state, &page.staff, &page.client, &provider, &date, &name, &bytes).await {
        Ok(_) => Redirect::to(&format!("/office/reconciliation?date={}&imported=1", date.trim())).into_response(),
        Err(e) if e.kind == campuspay_app::ErrorKind::Forbidden => page.error(&e),
        Err(e) => show_day(&state, &page, &date, None, Some(e)).await,
    }
}
