//! Orders, payment and records in the JSON API.

use super::ApiJson;
use crate::AppState;
use crate::error::{ErrorBody, HttpError};
use crate::web::{Client, StudentSession};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use campuspay_app::payment::channels::Method;
use campuspay_app::payment::orders::{self, Invoice, NewOrderInput};
use campuspay_channels::{JsApiParams, PayAction};
use campuspay_domain::Fen;
use campuspay_domain::cart::CartRequest;
use campuspay_domain::order::Disposition;
use campuspay_domain::time::format_shanghai;
use campuspay_store::On;
use campuspay_store::orders::OrderRow;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
pub struct LineBody {
    id: i64,
    /// Instalment amount; the whole arrears when absent.
    amount_fen: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
pub struct InvoiceBody {
    /// `individual` or `company`.
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

#[derive(Deserialize, ToSchema)]
pub struct NewOrderBody {
    #[schema(min_items = 1)]
    charges: Vec<LineBody>,
    /// Phone for the e-receipt; the profile's when absent.
    phone: Option<String>,
    invoice: Option<InvoiceBody>,
    /// Pay what the balance (余额) covers from it; the channel collects the rest.
    #[serde(default)]
    use_balance: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Order {
    order_no: String,
    total_fen: i64,
    /// What the balance pays of the total.
    balance_fen: i64,
    /// `unpaid`, `paid`, `closed`, `cancelled` or `refunded`.
    status: String,
    /// 请在此时间前完成付款 (Asia/Shanghai).
    expires_at: String,
    expires_at_unix: i64,
    created_at: String,
    paid_at: Option<String>,
}

impl From<&OrderRow> for Order {
    fn from(o: &OrderRow) -> Order {
        Order {
            order_no: o.order_no.clone(),
            total_fen: o.total.0,
            balance_fen: o.balance.0,
            status: o.status.to_string(),
            expires_at: format_shanghai(o.expires_at),
            expires_at_unix: o.expires_at,
            created_at: format_shanghai(o.created_at),
            paid_at: o.paid_at.map(format_shanghai),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CreatedOrder {
    #[serde(flatten)]
    order: Order,
    /// An unpaid order for the same lines offered again (where the school does that).
    reused: bool,
}

/// Create an order for chosen charges (cart rules of the school apply).
///
/// Each charge is locked to the order while it is unpaid: a second live order for it is
/// refused with 409. Where the school reuses unpaid orders (seed 004) the same lines give back
/// the same order (200).
#[utoipa::path(post, path = "/api/v1/student/orders", request_body = NewOrderBody, security(("bearer" = [])), responses(
    (status = 201, description = "订单已创建", body = CreatedOrder),
    (status = 200, description = "未支付订单再次提供", body = CreatedOrder),
    (status = 400, description = "一次最多选择50个项目", body = ErrorBody),
    (status = 409, description = "项目已在待支付订单中", body = ErrorBody),
    (status = 422, description = "不符合缴费规则（消息说明原因与拆分建议）", body = ErrorBody),
))]
pub async fn create(
    State(state): State<AppState>,
    StudentSession(s): StudentSession,
    ApiJson(b): ApiJson<NewOrderBody>,
) -> Result<(StatusCode, ApiJson<CreatedOrder>), HttpError> {
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
    let status = if created.reused { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, ApiJson(CreatedOrder { order: Order::from(&created.order), reused: created.reused })))
}

#[derive(Serialize, ToSchema)]
pub struct Orders {
    orders: Vec<Order>,
}

/// The student's orders, newest first.
#[utoipa::path(get, path = "/api/v1/student/orders", security(("bearer" = [])), responses((status = 200, description = "订单", body = Orders)))]
pub async fn list(State(state): State<AppState>, StudentSession(s): StudentSession) -> Result<ApiJson<Orders>, HttpError> {
    let list = state.store.orders_of_student(s.school_id, s.student_id, 100).await?;
    Ok(ApiJson(Orders { orders: list.iter().map(Order::from).collect() }))
}

#[derive(Serialize, ToSchema)]
pub struct OrderDetail {
    #[serde(flatten)]
    order: Order,
    lines: Vec<OrderLineEntry>,
    attempts: Vec<AttemptEntry>,
    /// Masked.
    phone: String,
    invoice: InvoiceEntry,
}

#[derive(Serialize, ToSchema)]
pub struct OrderLineEntry {
    charge_id: i64,
    item: String,
    period: String,
    amount_fen: i64,
    receipt_type: String,
}

#[derive(Serialize, ToSchema)]
pub struct AttemptEntry {
    channel: String,
    out_trade_no: String,
    status: String,
}

#[derive(Serialize, ToSchema)]
pub struct InvoiceEntry {
    kind: String,
    title: String,
    tax_no: String,
}

/// An order and its live status (polled by the result page; a late notification makes the platform ask the provider).
#[utoipa::path(get, path = "/api/v1/student/orders/{order_no}", params(("order_no" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, description = "订单", body = OrderDetail),
    (status = 404, description = "订单不存在", body = ErrorBody),
))]
pub async fn show(
    State(state): State<AppState>,
    StudentSession(s): StudentSession,
    Path(no): Path<String>,
) -> Result<ApiJson<OrderDetail>, HttpError> {
    let order = orders::own_order(&state, &s, &no).await?;
    orders::watched(&state, &order).await?;
    let lines = state.store.order_lines(On::Pool, order.id).await?;
    let attempts = state.store.attempts_of_order(On::Pool, order.id).await?;
    Ok(ApiJson(OrderDetail {
        order: Order::from(&order),
        lines: lines
            .into_iter()
            .map(|l| OrderLineEntry {
                charge_id: l.charge_id,
                item: l.item_name,
                period: l.period_name,
                amount_fen: l.amount.0,
                receipt_type: l.receipt_type,
            })
            .collect(),
        attempts: attempts
            .into_iter()
            .map(|a| AttemptEntry { channel: a.channel.to_string(), out_trade_no: a.out_trade_no, status: a.status.to_string() })
            .collect(),
        phone: campuspay_domain::profile::mask_phone(&order.phone),
        invoice: InvoiceEntry { kind: order.invoice_kind, title: order.invoice_title, tax_no: order.invoice_tax_no },
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct PayBody {
    /// `wechat_native`, `wechat_h5`, `wechat_jsapi`, `alipay_page`, `alipay_wap`, `alipay_qr`,
    /// `unionpay_gateway`, `unionpay_qr` or `ccb_pay`, where the school offers it.
    /// `unionpay_gateway`, `unionpay_qr` or `allinpay_qr` (通联收银宝: one code any wallet
    /// scans), where the school offers it.
    channel: String,
    /// WeChat JSAPI: the payer's openid.
    openid: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PayStarted {
    order_no: String,
    out_trade_no: String,
    channel: String,
    total_fen: i64,
    payee: String,
    expires_at: String,
    #[serde(flatten)]
    action: PayKind,
}

/// What the client does next, by `kind`.
#[derive(Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum PayKind {
    /// Show a QR code to scan.
    Qr { qr_content: String, qr_svg: Option<String> },
    /// Send the browser there.
    Redirect { redirect_url: String },
    /// UnionPay's gateway takes a signed form POST: `redirect_url` is our page that posts it.
    Form { form_action: String, form_fields: BTreeMap<String, String>, redirect_url: String },
    /// WeChat JSAPI: `WeixinJSBridge.invoke('getBrandWCPayRequest', jsapi)`.
    Jsapi {
        #[schema(value_type = Object)]
        jsapi: JsApiParams,
    },
}

/// A QR code as SVG, for clients that cannot draw one.
pub fn qr_svg(content: &str) -> Option<String> {
    let code = qrcode::QrCode::new(content.as_bytes()).ok()?;
    Some(code.render::<qrcode::render::svg::Color>().min_dimensions(200, 200).quiet_zone(true).build())
}

/// Pay an order through a channel: QR content, redirect URL or JSAPI parameters.
#[utoipa::path(post, path = "/api/v1/student/orders/{order_no}/pay", params(("order_no" = String, Path)), request_body = PayBody, security(("bearer" = [])), responses(
    (status = 200, description = "支付参数", body = PayStarted),
    (status = 404, description = "订单不存在", body = ErrorBody),
    (status = 409, description = "订单已支付或已关闭", body = ErrorBody),
    (status = 422, description = "未开通的支付方式", body = ErrorBody),
    (status = 502, description = "渠道下单失败", body = ErrorBody),
    (status = 503, description = "渠道不可用", body = ErrorBody),
))]
pub async fn pay(
    State(state): State<AppState>,
    client: Client,
    StudentSession(s): StudentSession,
    Path(no): Path<String>,
    ApiJson(b): ApiJson<PayBody>,
) -> Result<ApiJson<PayStarted>, HttpError> {
    let started = orders::pay(&state, &s, &no, &b.channel, b.openid.as_deref(), &client).await?;
    let action = match started.action {
        PayAction::Qr { content } => PayKind::Qr { qr_svg: qr_svg(&content), qr_content: content },
        PayAction::Redirect { url } => PayKind::Redirect { redirect_url: url },
        PayAction::Form { action, fields } => PayKind::Form {
            form_action: action,
            form_fields: fields,
            redirect_url: format!("/s/{}/pay/{}", started.school_code, started.out_trade_no),
        },
        PayAction::JsApi { params } => PayKind::Jsapi { jsapi: params },
    };
    Ok(ApiJson(PayStarted {
        order_no: started.order.order_no,
        out_trade_no: started.out_trade_no,
        channel: started.method.as_str().to_string(),
        total_fen: started.order.total.0,
        payee: started.payee,
        expires_at: format_shanghai(started.order.expires_at),
        action,
    }))
}

/// Cancel an unpaid order (closes it at the providers first; money that arrived meanwhile is applied).
#[utoipa::path(post, path = "/api/v1/student/orders/{order_no}/cancel", params(("order_no" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, description = "订单", body = Order),
    (status = 404, description = "订单不存在", body = ErrorBody),
    (status = 409, description = "订单已支付", body = ErrorBody),
))]
pub async fn cancel(
    State(state): State<AppState>,
    StudentSession(s): StudentSession,
    Path(no): Path<String>,
) -> Result<ApiJson<Order>, HttpError> {
    let order = orders::cancel(&state, &s, &no).await?;
    Ok(ApiJson(Order::from(&order)))
}

fn method_label(channel: &Method) -> &'static str {
    channel.label_zh()
}

#[derive(Serialize, ToSchema)]
pub struct Payments {
    payments: Vec<PaymentEntry>,
}

#[derive(Serialize, ToSchema)]
pub struct PaymentEntry {
    order_no: String,
    amount_fen: i64,
    channel: String,
    channel_label: String,
    transaction_id: String,
    paid_at: Option<String>,
    items: Vec<PaidItem>,
}

#[derive(Serialize, ToSchema)]
pub struct PaidItem {
    item: String,
    period: String,
    amount_fen: i64,
}

/// 缴费记录: the orders the student has paid, one record each.
#[utoipa::path(get, path = "/api/v1/student/payments", security(("bearer" = [])), responses((status = 200, description = "缴费记录", body = Payments)))]
pub async fn payments(State(state): State<AppState>, StudentSession(s): StudentSession) -> Result<ApiJson<Payments>, HttpError> {
    let records = state.store.payments_of_student(s.school_id, s.student_id).await?;
    let mut out = Vec::new();
    for r in records.iter().filter(|r| r.disposition == Disposition::Applied) {
        let order = state.store.order_by_no(s.school_id, &r.order_no).await?;
        let lines = match &order {
            Some(o) => state.store.order_lines(On::Pool, o.id).await?,
            None => Vec::new(),
        };
        out.push(PaymentEntry {
            order_no: r.order_no.clone(),
            amount_fen: r.amount.0,
            channel: r.channel.to_string(),
            channel_label: method_label(&r.channel).to_string(),
            transaction_id: r.txn_id.clone(),
            paid_at: order.as_ref().and_then(|o| o.paid_at).map(format_shanghai),
            items: lines.into_iter().map(|l| PaidItem { item: l.item_name, period: l.period_name, amount_fen: l.amount.0 }).collect(),
        });
    }
    Ok(ApiJson(Payments { payments: out }))
}

#[derive(Serialize, ToSchema)]
pub struct Transactions {
    /// 余额.
    balance_fen: i64,
    transactions: Vec<TransactionEntry>,
}

#[derive(Serialize, ToSchema)]
pub struct TransactionEntry {
    order_no: String,
    amount_fen: i64,
    channel: String,
    transaction_id: String,
    /// What the money did: `applied` to the order, or (late money) refunded or credited.
    disposition: String,
    refund_status: Option<String>,
    recorded_at: String,
}

/// 银行交易记录: every channel transaction, including refunded or credited late money, and the balance.
#[utoipa::path(get, path = "/api/v1/student/transactions", security(("bearer" = [])), responses((status = 200, description = "交易记录", body = Transactions)))]
pub async fn transactions(State(state): State<AppState>, StudentSession(s): StudentSession) -> Result<ApiJson<Transactions>, HttpError> {
    let records = state.store.payments_of_student(s.school_id, s.student_id).await?;
    let balance = state.store.balance(On::Pool, s.school_id, s.student_id).await?;
    Ok(ApiJson(Transactions {
        balance_fen: balance.0,
        transactions: records
            .into_iter()
            .map(|r| TransactionEntry {
                order_no: r.order_no,
                amount_fen: r.amount.0,
                channel: r.channel.to_string(),
                transaction_id: r.txn_id,
                disposition: r.disposition.to_string(),
                refund_status: r.refund_status.map(|s| s.to_string()),
                recorded_at: format_shanghai(r.created_at),
            })
            .collect(),
    }))
}
