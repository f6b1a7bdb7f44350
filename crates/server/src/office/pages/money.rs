//! `/office/refunds` and `/office/exceptions`: the refund form (per order line), the refunds
//! waiting for a second person, and the exception queue with its evidence and actions.

use super::{OfficeForm, OfficePage, Shell, parse_yuan, render, render_refused};
use crate::AppState;
use crate::pages::extract::{CsrfForm, OfficePosted};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use campuspay_app::office::exceptions;
use campuspay_app::office::refunds::{self, RefundLine, Refundable, Target};
use campuspay_app::{Error, ErrorKind};
use campuspay_domain::office::Permission;
use campuspay_domain::settlement::{ExceptionAction, OfficeRefundState};
use campuspay_domain::time::format_shanghai;
use serde::Deserialize;
use std::collections::HashMap;

pub struct RefundRowView {
    pub id: i64,
    pub at: String,
    pub student_no: String,
    pub student: String,
    pub what: String,
    pub amount: String,
    pub reason: String,
    pub maker: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub awaiting: bool,
}

#[derive(Template)]
#[template(path = "office/refunds.html")]
struct RefundsPage {
    shell: Shell,
    order_no: String,
    lines: Vec<Refundable>,
    reason: String,
    refunds: Vec<RefundRowView>,
    can_refund: bool,
    can_decide: bool,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct RefundsQuery {
    #[serde(default)]
    order_no: String,
    done: Option<i64>,
}

fn status_class(s: OfficeRefundState) -> &'static str {
    match s {
        OfficeRefundState::Success => "paid",
        OfficeRefundState::Failed | OfficeRefundState::Rejected => "owing",
        _ => "partial",
    }
}

async fn show_refunds(
    state: &AppState,
    page: &OfficePage,
    order_no: &str,
    reason: &str,
    done: Option<i64>,
    error: Option<Error>,
) -> Response {
    let rows = match refunds::list(state, &page.staff, None).await {
        Ok(r) => r,
        Err(e) => return page.error(&e),
    };
    // What happened to the refund just submitted, in its own words: an offline one is done,
    // one above the threshold waits, a channel one waits for the provider.
    let notice = done.and_then(|id| rows.iter().find(|r| r.id == id)).map(|r| match r.status {
        OfficeRefundState::Success => format!("退款 #{} 已完成并记账（{}）。", r.id, r.amount),
        OfficeRefundState::AwaitingApproval => format!("退款 #{} 超过复核额度，等待另一位有复核权限的人员通过。", r.id),
        OfficeRefundState::Rejected => format!("退款 #{} 已驳回，没有退款。", r.id),
        OfficeRefundState::Failed => format!("退款 #{} 渠道退款失败，已转入异常处理。", r.id),
        _ => format!("退款 #{} 已发往支付渠道，渠道确认退款成功后才记账。", r.id),
    });
    let can_refund = page.staff.role.can(Permission::Refund);
    let order_no = order_no.trim().to_string();
    let mut error = error;
    let lines = if can_refund && !order_no.is_empty() {
        match refunds::refundable(state, &page.staff, &Target::Order(&order_no)).await {
            Ok(l) => l,
            Err(e) => {
                error.get_or_insert(e);
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    let view = RefundsPage {
        shell: page.shell("退款", "refunds"),
        order_no,
        lines,
        reason: reason.to_string(),
        refunds: rows
            .iter()
            .map(|r| RefundRowView {
                id: r.id,
                at: format_shanghai(r.created_at),
                student_no: r.student_no.clone(),
                student: r.student_name.clone(),
                what: r.order_no.clone().unwrap_or_else(|| {
                    let method = r.offline_method.as_deref().and_then(|m| m.parse::<campuspay_domain::office::OfflineMethod>().ok());
                    format!("线下收款（{}）{}", method.map_or("—", |m| m.label_zh()), r.offline_reference.as_deref().unwrap_or(""))
                }),
                amount: r.amount.to_string(),
                reason: r.reason.clone(),
                maker: r.maker.clone(),
                status: r.status.label_zh(),
                status_class: status_class(r.status),
                awaiting: r.status == OfficeRefundState::AwaitingApproval,
            })
            .collect(),
        can_refund,
        can_decide: page.staff.role.can(Permission::ApproveAdjustments),
        notice,
        error: error.as_ref().map(|e| e.zh.clone()),
    };
    match &error {
        Some(e) => render_refused(&view, e),
        None => render(&view),
    }
}

pub async fn refunds_page(State(state): State<AppState>, page: OfficePage, Query(q): Query<RefundsQuery>) -> Response {
    show_refunds(&state, &page, &q.order_no, "", q.done, None).await
}

/// The refund form: `order_no`, `reason`, and `amount_<charge id>` in yuan per line (empty: not
/// refunded).
#[derive(Deserialize)]
pub struct RefundForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    order_no: String,
    #[serde(default)]
    reason: String,
    #[serde(flatten)]
    amounts: HashMap<String, String>,
}

impl CsrfForm for RefundForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn refund_submit(State(state): State<AppState>, posted: OfficeForm<RefundForm>) -> Response {
    let OfficePosted { page, form: f } = posted;
    let mut lines = Vec::new();
    let mut typed: Vec<(&String, &String)> = f.amounts.iter().filter(|(k, v)| k.starts_with("amount_") && !v.trim().is_empty()).collect();
    typed.sort();
    for (name, value) in typed {
        let Ok(charge_id) = name["amount_".len()..].parse::<i64>() else { continue };
        match parse_yuan(value, "amount_fen") {
            Ok(amount) => lines.push(RefundLine { charge_id, amount }),
            Err(e) => return show_refunds(&state, &page, &f.order_no, &f.reason, None, Some(e)).await,
        }
    }
    match refunds::request(&state, &page.staff, &page.client, &Target::Order(f.order_no.trim()), &lines, &f.reason).await {
        Ok(o) => Redirect::to(&format!("/office/refunds?done={}", o.id)).into_response(),
        Err(e) if e.kind == ErrorKind::Forbidden => page.error(&e),
        Err(e) => show_refunds(&state, &page, &f.order_no, &f.reason, None, Some(e)).await,
    }
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

pub async fn refund_decide(State(state): State<AppState>, Path(id): Path<i64>, posted: OfficeForm<DecideForm>) -> Response {
    let OfficePosted { page, form: f } = posted;
    let approve = f.decision == "approve";
    if !approve && f.decision != "reject" {
        let e = Error::new(ErrorKind::Refused, "invalid_decision", "请选择通过或驳回", "Approve or reject");
        return show_refunds(&state, &page, "", "", None, Some(e)).await;
    }
    match refunds::decide(&state, &page.staff, &page.client, id, approve, &f.note).await {
        Ok(_) => Redirect::to(&format!("/office/refunds?done={id}")).into_response(),
        Err(e) if e.kind == ErrorKind::Forbidden && e.code == "forbidden" => page.error(&e),
        Err(e) => show_refunds(&state, &page, "", "", None, Some(e)).await,
    }
}

pub struct ExceptionRowView {
    pub id: i64,
    pub at: String,
    pub kind: &'static str,
    pub student_no: String,
    pub student: String,
    pub amount: String,
    /// The evidence in words: (label, value) in the file's order, money in yuan.
    pub facts: Vec<(String, String)>,
    /// The evidence as recorded, pretty-printed JSON (escaped by the template).
    pub evidence: String,
    /// Charges of the student the money may pay: (charge id, item · period · owed).
    pub targets: Vec<(i64, String)>,
    pub open: bool,
    pub resolution: String,
    pub note: String,
    pub resolved_by: String,
    /// (word, label) of the actions allowed.
    pub actions: Vec<(&'static str, &'static str)>,
    pub can_apply: bool,
}

#[derive(Template)]
#[template(path = "office/exceptions.html")]
struct ExceptionsPage {
    shell: Shell,
    rows: Vec<ExceptionRowView>,
    all: bool,
    can_resolve: bool,
    notice: Option<&'static str>,
    error: Option<(i64, String)>,
}

#[derive(Deserialize)]
pub struct ExceptionsQuery {
    #[serde(default)]
    all: Option<String>,
    #[serde(default)]
    done: Option<String>,
}

/// What an evidence key means to the office; money keys end in `_fen`.
fn label_of(key: &str) -> Option<&'static str> {
    Some(match key {
        "provider" => "渠道",
        "out_trade_no" => "商户订单号",
        "txn_id" | "transaction_id" => "渠道交易号",
        "out_refund_no" => "退款单号",
        "provider_answer" => "渠道答复",
        "amount_fen" => "金额",
        "our_amount_fen" => "我方记账金额",
        "kind" => "类型",
        "time" => "交易时间",
        "day" => "日期",
        "note" => "说明",
        "reason" => "原因",
        _ => return None,
    })
}

/// The evidence as (label, value) lines: known keys in Chinese, amounts in yuan, providers by
/// name, a statement line's fields under its own heading; unknown keys as they are.
fn facts(v: &serde_json::Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Some(map) = v.as_object() else { return out };
    for (key, value) in map {
        if key == "statement_line" {
            out.push(("对账单记录".to_string(), String::new()));
            out.extend(facts(value).into_iter().map(|(k, v)| (format!("　{k}"), v)));
            continue;
        }
        let shown = match (key.as_str(), value) {
            // Internal row ids say nothing to the office; the raw record keeps them.
            ("refund_id" | "provider_payment_id", _) | (_, serde_json::Value::Null) => continue,
            (k, serde_json::Value::Number(n)) if k.ends_with("_fen") => {
                n.as_i64().map_or(n.to_string(), |f| campuspay_domain::Fen(f).to_string())
            }
            ("provider", serde_json::Value::String(p)) => match p.as_str() {
                "wechatpay" => "微信支付".into(),
                "alipay" => "支付宝".into(),
                "unionpay" => "银联".into(),
                other => other.to_string(),
            },
            ("kind", serde_json::Value::String(k)) if k == "payment" => "收款".into(),
            ("kind", serde_json::Value::String(k)) if k == "refund" => "退款".into(),
            (_, serde_json::Value::String(s)) => s.clone(),
            (_, other) => other.to_string(),
        };
        out.push((label_of(key).map_or_else(|| key.clone(), str::to_string), shown));
    }
    out
}

async fn show_exceptions(
    state: &AppState,
    page: &OfficePage,
    all: bool,
    notice: Option<&'static str>,
    error: Option<(i64, Error)>,
) -> Response {
    let rows = match exceptions::list(state, &page.staff, !all).await {
        Ok(r) => r,
        Err(e) => return page.error(&e),
    };
    let can_resolve = page.staff.role.can(Permission::Refund);
    let mut targets: HashMap<i64, Vec<(i64, String)>> = HashMap::new();
    for e in rows.iter().filter(|e| can_resolve && e.open && e.kind.allows(ExceptionAction::Apply)) {
        match exceptions::apply_targets(state, &page.staff, e.id).await {
            Ok(t) => {
                let t = t.into_iter().map(|t| (t.charge_id, format!("{} · {} · 欠 {}", t.item, t.period, t.owed))).collect();
                targets.insert(e.id, t);
            }
            Err(e) => return page.error(&e),
        }
    }
    let view = ExceptionsPage {
        shell: page.shell("异常处理", "exceptions"),
        rows: rows
            .into_iter()
            .map(|e| {
                let evidence = serde_json::from_str::<serde_json::Value>(&e.evidence)
                    .ok()
                    .and_then(|v| serde_json::to_string_pretty(&v).ok())
                    .unwrap_or(e.evidence.clone());
                ExceptionRowView {
                    id: e.id,
                    at: format_shanghai(e.created_at),
                    kind: e.kind.label_zh(),
                    student_no: e.student_no.clone().unwrap_or_default(),
                    student: e.student_name.clone().unwrap_or_default(),
                    amount: e.amount.to_string(),
                    facts: serde_json::from_str::<serde_json::Value>(&e.evidence).map(|v| facts(&v)).unwrap_or_default(),
                    evidence,
                    targets: targets.remove(&e.id).unwrap_or_default(),
                    open: e.open,
                    resolution: e.resolution.map(|a| a.label_zh()).unwrap_or("").to_string(),
                    note: e.note.clone(),
                    resolved_by: e.resolved_by.clone().unwrap_or_default(),
                    actions: ExceptionAction::ALL.into_iter().filter(|a| e.kind.allows(*a)).map(|a| (a.as_str(), a.label_zh())).collect(),
                    can_apply: e.kind.allows(ExceptionAction::Apply),
                }
            })
            .collect(),
        all,
        can_resolve,
        notice,
        error: error.as_ref().map(|(id, e)| (*id, e.zh.clone())),
    };
    match error {
        Some((_, e)) => render_refused(&view, &e),
        None => render(&view),
    }
}

pub async fn exceptions_page(State(state): State<AppState>, page: OfficePage, Query(q): Query<ExceptionsQuery>) -> Response {
    let notice = q.done.is_some().then_some("已处理，处理记录已写入审计日志。");
    show_exceptions(&state, &page, q.all.is_some(), notice, None).await
}

#[derive(Deserialize)]
pub struct ResolveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    charge_id: String,
}

impl CsrfForm for ResolveForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn resolve_submit(State(state): State<AppState>, Path(id): Path<i64>, posted: OfficeForm<ResolveForm>) -> Response {
    let OfficePosted { page, form: f } = posted;
    let charge_id = match f.charge_id.trim() {
        "" => None,
        s => match s.parse::<i64>() {
            Ok(c) => Some(c),
            Err(_) => {
                let e =
                    Error::new(ErrorKind::Refused, "invalid_charge", "应收编号应为数字", "The charge id is a number").field("charge_id");
                return show_exceptions(&state, &page, false, None, Some((id, e))).await;
            }
        },
    };
    let r = exceptions::Resolution { action: &f.action, note: &f.note, charge_id };
    match exceptions::resolve(&state, &page.staff, &page.client, id, &r).await {
        Ok(_) => Redirect::to("/office/exceptions?done=1").into_response(),
        Err(e) if e.kind == ErrorKind::Forbidden => page.error(&e),
        Err(e) => show_exceptions(&state, &page, false, None, Some((id, e))).await,
    }
}
