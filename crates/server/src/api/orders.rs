//! Orders, payment and records in the JSON API.

use super::ApiJson;
use crate::AppState;
use crate::error::HttpError;
use crate::web::{Client, StudentSession};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use campuspay_app::payment::channels::Method;
use campuspay_app::payment::orders::{self, Invoice, NewOrderInput};
use campuspay_channels::PayAction;
use campuspay_domain::Fen;
use campuspay_domain::cart::CartRequest;
use campuspay_domain::order::Disposition;
use campuspay_domain::time::format_shanghai;
use campuspay_store::On;
use campuspay_store::orders::OrderRow;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
pub struct LineBody {
    id: i64,
    amount_fen: Option<i64>,
}

#[derive(Deserialize)]
pub struct InvoiceBody {
    #[serde(default = "individual")]
    kind: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    tax_no: String,
}

fn individual() -> String {
    "individual".into()
}

#[derive(Deserialize)]
pub struct NewOrderBody {
    charges: Vec<LineBody>,
    phone: Option<String>,
    invoice: Option<InvoiceBody>,
    #[serde(default)]
    use_balance: bool,
}

pub fn order_json(o: &OrderRow) -> Value {
    json!({
        "order_no": o.order_no,
        "total_fen": o.total.0,
        "balance_fen": o.balance.0,
        "status": o.status,
        "expires_at": format_shanghai(o.expires_at),
        "expires_at_unix": o.expires_at,
        "created_at": format_shanghai(o.created_at),
        "paid_at": o.paid_at.map(format_shanghai),
    })
}

pub async fn create(
    State(state): State<AppState>,
    StudentSession(s): StudentSession,
    ApiJson(b): ApiJson<NewOrderBody>,
) -> Result<(StatusCode, Json<Value>), HttpError> {
    if b.charges.len() > 50 {
        return Err(HttpError::bad_request("一次最多选择50个项目", "At most 50 items per order"));
    }
    let input = NewOrderInput {
        lines: b.charges.iter().map(|l| CartRequest { charge_id: l.id, amount: l.amount_fen.map(Fen) }).collect(),
        phone: b.phone,
        invoice: b.invoice.map(|i| Invoice { kind: i.kind, title: i.title, tax_no: i.tax_no }),
        use_balance: b.use_balance,
    };
    let created = orders::create_order(&state, &s, &input).await?;
    let mut body = order_json(&created.order);
    body["reused"] = created.reused.into();
    Ok((if created.reused { StatusCode::OK } else { StatusCode::CREATED }, Json(body)))
}

pub async fn list(State(state): State<AppState>, StudentSession(s): StudentSession) -> Result<Json<Value>, HttpError> {
    let list = state.store.orders_of_student(s.school_id, s.student_id, 100).await?;
    Ok(Json(json!({"orders": list.iter().map(order_json).collect::<Vec<_>>()})))
}

pub async fn show(
    State(state): State<AppState>,
    StudentSession(s): StudentSession,
    Path(no): Path<String>,
) -> Result<Json<Value>, HttpError> {
    let order = orders::own_order(&state, &s, &no).await?;
    orders::watched(&state, &order).await?;
    let lines = state.store.order_lines(On::Pool, order.id).await?;
    let attempts = state.store.attempts_of_order(On::Pool, order.id).await?;
    let mut body = order_json(&order);
    body["lines"] = lines
        .iter()
        .map(|l| json!({"charge_id": l.charge_id, "item": l.item_name, "period": l.period_name, "amount_fen": l.amount.0, "receipt_type": l.receipt_type}))
        .collect();
    body["attempts"] = attempts.iter().map(|a| json!({"channel": a.channel, "out_trade_no": a.out_trade_no, "status": a.status})).collect();
    body["phone"] = campuspay_domain::profile::mask_phone(&order.phone).into();
    body["invoice"] = json!({"kind": order.invoice_kind, "title": order.invoice_title, "tax_no": order.invoice_tax_no});
    Ok(Json(body))
}

#[derive(Deserialize)]
pub struct PayBody {
    channel: String,
    openid: Option<String>,
}

/// A QR code as SVG, for clients that cannot draw one.
pub fn qr_svg(content: &str) -> Option<String> {
    let code = qrcode::QrCode::new(content.as_bytes()).ok()?;
    Some(code.render::<qrcode::render::svg::Color>().min_dimensions(200, 200).quiet_zone(true).build())
}

pub async fn pay(
    State(state): State<AppState>,
    client: Client,
    StudentSession(s): StudentSession,
    Path(no): Path<String>,
    ApiJson(b): ApiJson<PayBody>,
) -> Result<Json<Value>, HttpError> {
    let started = orders::pay(&state, &s, &no, &b.channel, b.openid.as_deref(), &client).await?;
    let mut body = json!({
        "order_no": started.order.order_no,
        "out_trade_no": started.out_trade_no,
        "channel": started.method.as_str(),
        "total_fen": started.order.total.0,
        "payee": started.payee,
        "expires_at": format_shanghai(started.order.expires_at),
    });
    match &started.action {
        PayAction::Qr { content } => {
            body["kind"] = "qr".into();
            body["qr_content"] = content.clone().into();
            body["qr_svg"] = qr_svg(content).into();
        }
        PayAction::Redirect { url } => {
            body["kind"] = "redirect".into();
            body["redirect_url"] = url.clone().into();
        }
        PayAction::Form { action, fields } => {
            // UnionPay's gateway takes a signed form POST: our page posts it for the browser.
            body["kind"] = "form".into();
            body["form_action"] = action.clone().into();
            body["form_fields"] = serde_json::to_value(fields).unwrap_or_default();
            body["redirect_url"] = format!("/s/{}/pay/{}", started.school_code, started.out_trade_no).into();
        }
        PayAction::JsApi { params } => {
            body["kind"] = "jsapi".into();
            body["jsapi"] = serde_json::to_value(params).unwrap_or_default();
        }
    }
    Ok(Json(body))
}

pub async fn cancel(
    State(state): State<AppState>,
    StudentSession(s): StudentSession,
    Path(no): Path<String>,
) -> Result<Json<Value>, HttpError> {
    let order = orders::cancel(&state, &s, &no).await?;
    Ok(Json(order_json(&order)))
}

fn method_label(channel: &Method) -> &'static str {
    channel.label_zh()
}

/// 缴费记录: the orders the student has paid, one record each.
pub async fn payments(State(state): State<AppState>, StudentSession(s): StudentSession) -> Result<Json<Value>, HttpError> {
    let records = state.store.payments_of_student(s.school_id, s.student_id).await?;
    let mut out = Vec::new();
    for r in records.iter().filter(|r| r.disposition == Disposition::Applied) {
        let order = state.store.order_by_no(s.school_id, &r.order_no).await?;
        let lines = match &order {
            Some(o) => state.store.order_lines(On::Pool, o.id).await?,
            None => Vec::new(),
        };
        out.push(json!({
            "order_no": r.order_no,
            "amount_fen": r.amount.0,
            "channel": r.channel,
            "channel_label": method_label(&r.channel),
            "transaction_id": r.txn_id,
            "paid_at": order.as_ref().and_then(|o| o.paid_at).map(format_shanghai),
            "items": lines.iter().map(|l| json!({"item": l.item_name, "period": l.period_name, "amount_fen": l.amount.0})).collect::<Vec<_>>(),
        }));
    }
    Ok(Json(json!({"payments": out})))
}

/// 银行交易记录: every transaction the channels reported, including money refunded or credited.
pub async fn transactions(State(state): State<AppState>, StudentSession(s): StudentSession) -> Result<Json<Value>, HttpError> {
    let records = state.store.payments_of_student(s.school_id, s.student_id).await?;
    let balance = state.store.balance(On::Pool, s.school_id, s.student_id).await?;
    Ok(Json(json!({
        "balance_fen": balance.0,
        "transactions": records.iter().map(|r| json!({
            "order_no": r.order_no,
            "amount_fen": r.amount.0,
            "channel": r.channel,
            "transaction_id": r.txn_id,
            "disposition": r.disposition,
            "refund_status": r.refund_status,
            "recorded_at": format_shanghai(r.created_at),
        })).collect::<Vec<_>>()
    })))
}
