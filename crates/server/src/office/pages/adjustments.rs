//! `/office/adjustments`: the approval queue (复核) of 减免 and 撤销 above the school's
//! threshold, and the school's recent adjustments.

use super::{OfficeForm, OfficePage, Shell, render, render_refused};
use crate::AppState;
use crate::pages::extract::{CsrfForm, OfficePosted};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use campuspay_app::office::adjustments;
use campuspay_app::{Error, ErrorKind};
use campuspay_domain::office::{AdjustmentKind, AdjustmentStatus, Permission};
use campuspay_domain::time::format_shanghai;
use campuspay_store::adjustments::AdjustmentRow;
use serde::Deserialize;

pub struct AdjustmentView {
    pub id: i64,
    pub at: String,
    pub student_no: String,
    pub student: String,
    pub charge: String,
    pub kind: &'static str,
    /// The amount, or the date of a deferral.
    pub what: String,
    pub reason: String,
    pub requested_by: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub decided_by: String,
}

impl From<&AdjustmentRow> for AdjustmentView {
    fn from(a: &AdjustmentRow) -> AdjustmentView {
        AdjustmentView {
            id: a.id,
            at: format_shanghai(a.created_at),
            student_no: a.student_no.clone(),
            student: a.student_name.clone(),
            charge: format!("{}（{}）", a.item_name, a.period_name),
            kind: a.kind.label_zh(),
            what: match a.kind {
                AdjustmentKind::Deferral => format!("缓缴至 {}", a.defer_until.clone().unwrap_or_default()),
                _ => a.amount.to_string(),
            },
            reason: a.reason.clone(),
            requested_by: a.requested_by_login.clone(),
            status: a.status.label_zh(),
            status_class: match a.status {
                AdjustmentStatus::Pending => "partial",
                AdjustmentStatus::Rejected => "owing",
                _ => "paid",
            },
            decided_by: a.decided_by_login.clone().unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "office/adjustments.html")]
struct QueuePage {
    shell: Shell,
    pending: Vec<AdjustmentView>,
    recent: Vec<AdjustmentView>,
    can_decide: bool,
    notice: Option<&'static str>,
    error: Option<(i64, String)>,
}

#[derive(Deserialize)]
pub struct Flash {
    done: Option<String>,
}

async fn show(state: &AppState, page: &OfficePage, notice: Option<&'static str>, error: Option<(i64, Error)>) -> Response {
    let all = match adjustments::list(state, &page.staff, false).await {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    let view = QueuePage {
        shell: page.shell("减免缓缴复核", "adjustments"),
        pending: all.iter().filter(|a| a.status == AdjustmentStatus::Pending).map(AdjustmentView::from).collect(),
        recent: all.iter().filter(|a| a.status != AdjustmentStatus::Pending).take(50).map(AdjustmentView::from).collect(),
        can_decide: page.staff.role.can(Permission::ApproveAdjustments),
        notice,
        error: error.as_ref().map(|(id, e)| (*id, e.zh.clone())),
    };
    match error {
        Some((_, e)) => render_refused(&view, &e),
        None => render(&view),
    }
}

pub async fn queue_page(State(state): State<AppState>, page: OfficePage, Query(q): Query<Flash>) -> Response {
    let notice = match q.done.as_deref() {
        Some("approved") => Some("已复核通过，调整已生效。"),
        Some("rejected") => Some("已驳回该申请。"),
        _ => None,
    };
    show(&state, &page, notice, None).await
}

#[derive(Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    note: String,
}

impl CsrfForm for DecideForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn decide_submit(State(state): State<AppState>, Path(id): Path<i64>, posted: OfficeForm<DecideForm>) -> Response {
    let OfficePosted { page, form: f } = posted;
    let approve = match f.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => {
            return show(
                &state,
                &page,
                None,
                Some((id, Error::new(ErrorKind::Refused, "invalid_decision", "请选择通过或驳回", "Approve or reject"))),
            )
            .await;
        }
    };
    match adjustments::decide(&state, &page.staff, &page.client, id, approve, &f.note).await {
        Ok(_) => {
            Redirect::to(if approve { "/office/adjustments?done=approved" } else { "/office/adjustments?done=rejected" }).into_response()
        }
        Err(e) if e.kind == ErrorKind::Forbidden && e.code == "forbidden" => page.error(&e),
        Err(e) => show(&state, &page, None, Some((id, e))).await,
    }
}
