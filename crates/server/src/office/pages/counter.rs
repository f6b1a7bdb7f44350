//! `GET /office/students/{no}`: the counter (收费台) — the student, their charges, orders,
//! payments and ledger; the forms to record money taken at the counter, to ask for a 减免 /
//! 缓缴 / 撤销, and to reset the student's password. Each form posts, the use case decides,
//! and a success comes back here by redirect (`?done=…`) so a reload posts nothing again.

use super::{CsrfOnly, OfficeForm, OfficePage, Shell, parse_yuan, render, render_refused};
use crate::AppState;
use crate::pages::extract::{CsrfForm, OfficePosted};
use crate::pages::form::{Pairs, encode};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use campuspay_app::office::adjustments::{self, Request};
use campuspay_app::office::{payments, students};
use campuspay_app::{Error, ErrorKind};
use campuspay_domain::office::{AdjustmentStatus, Permission};
use campuspay_domain::time::format_shanghai;
use campuspay_domain::{ChargeState, LedgerKind, idcard};
use serde::Deserialize;

pub struct ChargeRow {
    pub id: i64,
    pub item: String,
    pub period: String,
    pub total: String,
    pub discount: String,
    pub paid: String,
    pub owed: String,
    pub owing: bool,
    pub state_label: &'static str,
    pub state_class: &'static str,
    pub deferred_until: Option<String>,
    /// The payment form's state of this charge: ticked, and the amount (yuan) in its box.
    pub checked: bool,
    pub amount: String,
}

pub struct Row4(pub String, pub String, pub String, pub String);

pub struct LedgerView {
    pub at: String,
    pub kind: &'static str,
    pub item: String,
    pub amount: String,
    pub reference: String,
    pub memo: String,
}

/// What the payment form held when it was sent back with an error.
#[derive(Default)]
struct PayForm {
    method: String,
    reference: String,
    /// (charge id, amount typed), ticked ones only.
    lines: Vec<(i64, String)>,
}

#[derive(Template)]
#[template(path = "office/counter.html")]
struct CounterPage {
    shell: Shell,
    no: String,
    no_path: String,
    facts: Vec<(&'static str, String)>,
    total_arrears: String,
    has_arrears: bool,
    balance: String,
    charges: Vec<ChargeRow>,
    orders: Vec<Row4>,
    payments: Vec<(String, String, String, String, String)>,
    ledger: Vec<LedgerView>,
    can_pay: bool,
    can_adjust: bool,
    can_reset: bool,
    notice: Option<&'static str>,
    method: String,
    reference: String,
    pay_error: Option<Error>,
    /// The charge whose adjustment form was sent back, and why.
    adjust_error: Option<(i64, Error)>,
}

impl CounterPage {
    fn pay_field_error(&self, field: &str) -> Option<String> {
        super::field_error(&self.pay_error, field)
    }
    fn pay_other_error(&self) -> Option<String> {
        super::form_error(&self.pay_error, &["method", "reference"])
    }
    fn adjust_error_of(&self, id: &i64) -> Option<String> {
        self.adjust_error.as_ref().filter(|(c, _)| c == id).map(|(_, e)| e.zh.clone())
    }
}

fn ledger_label(k: LedgerKind) -> &'static str {
    match k {
        LedgerKind::Payment => "在线缴费",
        LedgerKind::OfflinePayment => "线下收款",
        LedgerKind::BalanceUse => "余额抵扣",
        LedgerKind::Refund => "退款",
        LedgerKind::Credit => "转入余额",
        LedgerKind::UnappliedReceipt => "待退款收款",
        LedgerKind::Waiver => "减免",
        LedgerKind::Cancellation => "撤销",
    }
}

/// `151****8891`, as UI.md shows phones everywhere.
fn mask_phone(p: &str) -> String {
    let c: Vec<char> = p.chars().collect();
    if c.len() < 7 {
        return p.to_string();
    }
    format!("{}****{}", c[..3].iter().collect::<String>(), c[c.len() - 4..].iter().collect::<String>())
}

fn notice_of(done: &str) -> Option<&'static str> {
    Some(match done {
        "offline" => "已登记线下收款，下表为最新数据。",
        "offline_again" => "这笔收款此前已登记过（重复提交），没有重复入账。",
        "waiver" => "减免已生效。",
        "deferral" => "缓缴已生效。",
        "cancellation" => "该应收已撤销。",
        "pending" => "金额超过学校的复核额度，申请已提交，待另一位财务人员复核后生效。",
        "reset" => "已将该学生的密码重置为初始密码，学生下次登录时须修改密码。",
        _ => return None,
    })
}

async fn show(
    state: &AppState,
    page: &OfficePage,
    no: &str,
    notice: Option<&'static str>,
    form: PayForm,
    pay_error: Option<Error>,
    adjust_error: Option<(i64, Error)>,
) -> Response {
    // A role without the permission gets the 403 page, not the form with a remark.
    if let Some(e) = pay_error.as_ref().or(adjust_error.as_ref().map(|a| &a.1)).filter(|e| e.kind == ErrorKind::Forbidden) {
        return page.error(e);
    }
    let f = match students::file(state, &page.staff, no).await {
        Ok(f) => f,
        Err(e) => return page.error(&e),
    };
    let st = &f.overview.student;
    let item_of = |id: Option<i64>| {
        id.and_then(|id| f.overview.charges.iter().find(|c| c.view.id == id)).map(|c| c.view.item_name.clone()).unwrap_or_default()
    };
    let charges = f
        .overview
        .charges
        .iter()
        .map(|c| {
            let typed = form.lines.iter().find(|(id, _)| *id == c.view.id);
            ChargeRow {
                id: c.view.id,
                item: c.view.item_name.clone(),
                period: c.view.period_name.clone(),
                total: c.view.amounts.total.to_string(),
                discount: c.view.amounts.discount.to_string(),
                paid: c.view.amounts.paid.to_string(),
                owed: c.arrears.to_string(),
                owing: c.arrears.is_positive(),
                state_label: c.state.label_zh(),
                state_class: match c.state {
                    ChargeState::Unpaid => "owing",
                    ChargeState::Partial => "partial",
                    ChargeState::Paid => "paid",
                    ChargeState::Waived => "waived",
                },
                deferred_until: c.view.deferred_until.clone().filter(|_| c.arrears.is_positive()),
                checked: typed.is_some(),
                amount: typed.map(|t| t.1.clone()).unwrap_or_else(|| c.arrears.to_yuan_string()),
            }
        })
        .collect();
    let role = page.staff.role;
    // An empty field is a dash, not a blank that looks like a rendering fault.
    let or_dash = |v: String| if v.is_empty() { "—".to_string() } else { v };
    let view = CounterPage {
        shell: page.shell(format!("收费台 · {} {}", st.student_no, st.name), "students"),
        no: st.student_no.clone(),
        no_path: encode(&st.student_no),
        facts: vec![
            ("学号", st.student_no.clone()),
            ("姓名", st.name.clone()),
            ("性别", st.gender.clone()),
            ("身份证号", idcard::mask(&st.id_card)),
            ("手机号", or_dash(mask_phone(&st.phone))),
            ("院系", st.department.clone()),
            ("专业", st.major.clone()),
            ("层次", st.level.clone()),
            ("班级", st.class_name.clone()),
            ("年级", st.enrol_year.to_string()),
        ],
        total_arrears: f.overview.total_arrears.to_string(),
        has_arrears: f.overview.total_arrears.is_positive(),
        balance: f.balance.to_string(),
        charges,
        orders: f
            .orders
            .iter()
            .map(|o| Row4(o.order_no.clone(), o.total.to_string(), o.status.label_zh().into(), format_shanghai(o.created_at)))
            .collect(),
        payments: f
            .payments
            .iter()
            .map(|p| {
                (format_shanghai(p.created_at), p.order_no.clone(), p.channel.label_zh().into(), p.txn_id.clone(), p.amount.to_string())
            })
            .collect(),
        ledger: f
            .ledger
            .iter()
            .rev()
            .map(|l| LedgerView {
                at: format_shanghai(l.created_at),
                kind: ledger_label(l.kind),
                item: item_of(l.charge_id),
                amount: l.amount.to_string(),
                reference: l.reference.clone(),
                memo: l.memo.clone(),
            })
            .collect(),
        can_pay: role.can(Permission::RecordOfflinePayments),
        can_adjust: role.can(Permission::AdjustCharges),
        can_reset: role.can(Permission::ManageStudentAccounts),
        notice,
        method: if form.method.is_empty() { "cash".into() } else { form.method },
        reference: form.reference,
        pay_error: pay_error.clone(),
        adjust_error: adjust_error.clone(),
    };
    match pay_error.or(adjust_error.map(|a| a.1)) {
        Some(e) => render_refused(&view, &e),
        None => render(&view),
    }
}

#[derive(Deserialize)]
pub struct Flash {
    done: Option<String>,
}

pub async fn counter_page(State(state): State<AppState>, page: OfficePage, Path(no): Path<String>, Query(q): Query<Flash>) -> Response {
    let notice = q.done.as_deref().and_then(notice_of);
    show(&state, &page, &no, notice, PayForm::default(), None, None).await
}

fn back_to(no: &str, done: &str) -> Response {
    Redirect::to(&format!("/office/students/{}?done={done}", encode(no))).into_response()
}

pub async fn payment_submit(State(state): State<AppState>, Path(no): Path<String>, posted: OfficeForm<Pairs>) -> Response {
    let OfficePosted { page, form: p } = posted;
    let mut form = PayForm { method: p.get("method").to_string(), reference: p.get("reference").trim().to_string(), lines: Vec::new() };
    for id in p.all("charge").filter_map(|v| v.trim().parse::<i64>().ok()) {
        if form.lines.len() < 50 && !form.lines.iter().any(|(c, _)| *c == id) {
            form.lines.push((id, p.get(&format!("amount_{id}")).trim().chars().take(20).collect()));
        }
    }
    let mut lines = Vec::new();
    for (id, typed) in &form.lines {
        match parse_yuan(typed, "lines") {
            Ok(amount) => lines.push(payments::OfflineLine { charge_id: *id, amount }),
            Err(e) => return show(&state, &page, &no, None, form, Some(e), None).await,
        }
    }
    let input = payments::OfflinePaymentInput { student_no: &no, lines: &lines, method: &form.method, reference: &form.reference };
    match payments::record(&state, &page.staff, &page.client, &input).await {
        Ok(done) => back_to(&no, if done.already_recorded { "offline_again" } else { "offline" }),
        Err(e) => show(&state, &page, &no, None, form, Some(e), None).await,
    }
}

#[derive(Deserialize)]
pub struct AdjustForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    reason: String,
}

impl CsrfForm for AdjustForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn adjust_submit(
    State(state): State<AppState>,
    Path((no, charge_id, kind)): Path<(String, i64, String)>,
    posted: OfficeForm<AdjustForm>,
) -> Response {
    let OfficePosted { page, form: f } = posted;
    let req = match kind.as_str() {
        "waiver" => match parse_yuan(&f.amount, "amount_fen") {
            Ok(amount) => Request::Waiver { amount },
            Err(e) => return show(&state, &page, &no, None, PayForm::default(), None, Some((charge_id, e))).await,
        },
        "deferral" => Request::Deferral { until: &f.until },
        "cancellation" => Request::Cancellation,
        _ => return page.error(&Error::new(ErrorKind::NotFound, "not_found", "没有这种调整", "No such adjustment")),
    };
    match adjustments::request(&state, &page.staff, &page.client, charge_id, &req, &f.reason).await {
        Ok(o) if o.status == AdjustmentStatus::Pending => back_to(&no, "pending"),
        Ok(o) => back_to(&no, o.kind.as_str()),
        Err(e) => show(&state, &page, &no, None, PayForm::default(), None, Some((charge_id, e))).await,
    }
}

pub async fn reset_submit(State(state): State<AppState>, Path(no): Path<String>, posted: OfficeForm<CsrfOnly>) -> Response {
    let OfficePosted { page, .. } = posted;
    match students::reset_password(&state, &page.staff, &page.client, &no).await {
        Ok(()) => back_to(&no, "reset"),
        Err(e) => page.error(&e),
    }
}
