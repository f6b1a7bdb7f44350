//! `/office/charge-runs`: 批量生成应收 — a fee item, a period, an amount (or the fee standards)
//! and a filter; 预览 is a dry run, 确认生成 the run itself, carrying an idempotency key made
//! when the preview was shown, so a double click or a re-sent form issues the charges once.

use super::{OfficeForm, OfficePage, Shell, parse_yuan, render, render_refused};
use crate::AppState;
use crate::pages::extract::{CsrfForm, OfficePosted};
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use campuspay_app::Error;
use campuspay_app::office::{catalog, charge_runs};
use campuspay_store::catalog::Selector;
use campuspay_store::charge_runs::{RunFigures, RunFilter};
use serde::Deserialize;

/// The form as typed; kept as text so that it comes back as it was.
#[derive(Deserialize, Default, Clone)]
pub struct RunForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    fee_item: String,
    #[serde(default)]
    period: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    grade: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    major: String,
    #[serde(default)]
    level: String,
    #[serde(default)]
    class: String,
    #[serde(default)]
    key: String,
}

impl CsrfForm for RunForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub struct Figures {
    pub students: i64,
    pub total: String,
    pub already_charged: i64,
    pub without_standard: i64,
}

impl From<RunFigures> for Figures {
    fn from(f: RunFigures) -> Figures {
        Figures {
            students: f.students,
            total: f.total.to_string(),
            already_charged: f.already_charged,
            without_standard: f.without_standard,
        }
    }
}

#[derive(Template)]
#[template(path = "office/charge_runs.html")]
struct RunsPage {
    shell: Shell,
    /// (id, "code 名称") of the school's fee items; (code, name) of its periods.
    items: Vec<(String, String)>,
    periods: Vec<(String, String)>,
    form: RunForm,
    error: Option<Error>,
    preview: Option<Figures>,
    /// The key the 确认生成 form carries.
    key: String,
    /// The run that was issued (or replayed), with its figures.
    issued: Option<(i64, Figures, bool)>,
    item_name: String,
    period_name: String,
}

impl RunsPage {
    fn field_error(&self, field: &str) -> Option<String> {
        super::field_error(&self.error, field)
    }
    fn other_error(&self) -> Option<String> {
        super::form_error(&self.error, &["fee_item", "period", "amount_fen", "filter"])
    }
}

async fn show(state: &AppState, page: &OfficePage, form: RunForm, outcome: Outcome) -> Response {
    // The lists come from the catalog use cases (view_students): a role that cannot issue
    // runs still sees the form, and the run's own use case refuses it.
    let items = match catalog::fee_items(state, &page.staff).await {
        Ok(i) => i,
        Err(e) => return page.error(&e),
    };
    let periods = match catalog::periods(state, &page.staff).await {
        Ok(p) => p,
        Err(e) => return page.error(&e),
    };
    let item_name = items.iter().find(|i| i.id.to_string() == form.fee_item).map(|i| i.name.clone()).unwrap_or_default();
    let period_name = periods.iter().find(|p| p.code == form.period).map(|p| p.name.clone()).unwrap_or_default();
    let (error, preview, issued) = match outcome {
        Outcome::Form => (None, None, None),
        Outcome::Refused(e) => (Some(e), None, None),
        Outcome::Preview(f) => (None, Some(f), None),
        Outcome::Issued(id, f, replayed) => (None, None, Some((id, f, replayed))),
    };
    let view = RunsPage {
        shell: page.shell("批量生成应收", "runs"),
        items: items.iter().map(|i| (i.id.to_string(), format!("{} {}", i.code, i.name))).collect(),
        periods: periods.iter().map(|p| (p.code.clone(), p.name.clone())).collect(),
        form,
        preview,
        key: campuspay_app::crypto::random_token(16),
        issued,
        item_name,
        period_name,
        error: error.clone(),
    };
    match error {
        Some(e) => render_refused(&view, &e),
        None => render(&view),
    }
}

enum Outcome {
    Form,
    Refused(Error),
    Preview(Figures),
    Issued(i64, Figures, bool),
}

pub async fn form_page(State(state): State<AppState>, page: OfficePage) -> Response {
    show(&state, &page, RunForm::default(), Outcome::Form).await
}

fn refused(field: &'static str, zh: &str) -> Error {
    Error::new(campuspay_app::ErrorKind::Refused, "invalid_form", zh, zh).field(field)
}

/// Runs the form through `charge_runs::run`, as a dry run or for real.
async fn submit(state: &AppState, page: &OfficePage, f: &RunForm, dry_run: bool) -> Outcome {
    let Ok(fee_item_id) = f.fee_item.trim().parse::<i64>() else {
        return Outcome::Refused(refused("fee_item", "请选择收费项目"));
    };
    let amount = match f.amount.trim() {
        "" => None,
        typed => match parse_yuan(typed, "amount_fen") {
            Ok(a) => Some(a),
            Err(e) => return Outcome::Refused(e),
        },
    };
    let filter = RunFilter {
        selector: Selector { grade: f.grade.clone(), department: f.department.clone(), major: f.major.clone(), level: f.level.clone() },
        class_name: f.class.clone(),
    };
    let input = charge_runs::RunInput { fee_item_id, period_code: &f.period, amount, filter, dry_run };
    let key = (!dry_run).then_some(f.key.as_str());
    match charge_runs::run(state, &page.staff, &page.client, &input, key).await {
        Ok(o) => match o.id {
            Some(id) => Outcome::Issued(id, o.figures.into(), o.replayed),
            None => Outcome::Preview(o.figures.into()),
        },
        Err(e) => Outcome::Refused(e),
    }
}

fn forbidden(page: &OfficePage, outcome: &Outcome) -> Option<Response> {
    match outcome {
        Outcome::Refused(e) if e.kind == campuspay_app::ErrorKind::Forbidden => Some(page.error(e)),
        _ => None,
    }
}

pub async fn preview_submit(State(state): State<AppState>, posted: OfficeForm<RunForm>) -> Response {
    let OfficePosted { page, form } = posted;
    let outcome = submit(&state, &page, &form, true).await;
    if let Some(res) = forbidden(&page, &outcome) {
        return res;
    }
    show(&state, &page, form, outcome).await
}

pub async fn run_submit(State(state): State<AppState>, posted: OfficeForm<RunForm>) -> Response {
    let OfficePosted { page, form } = posted;
    if form.key.trim().is_empty() {
        // The run is confirmed from a preview, which gives it its key; a form without one
        // did not come from there.
        let outcome = Outcome::Refused(refused("key", "请先预览，再确认生成"));
        return show(&state, &page, form, outcome).await;
    }
    let outcome = submit(&state, &page, &form, false).await;
    if let Some(res) = forbidden(&page, &outcome) {
        return res;
    }
    show(&state, &page, form, outcome).await
}
