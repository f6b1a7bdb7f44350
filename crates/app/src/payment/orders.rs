//! Orders: choosing charges (cart rules), creating the order, paying it through a channel,
//! following and cancelling it.

use crate::Client;
use crate::Context;
use crate::error::Error;
use crate::error::ErrorKind;
use crate::jobs::{self, Job};
use crate::payment::channels::{Method, MethodExt, provider_str};
use crate::student::profile::{Overview, overview};
use campuspay_channels::{CreateOrder, PayAction};
use campuspay_domain::cart::{CartContext, CartRequest, OwedCharge, ValidCart, validate_cart};
use campuspay_domain::order::{AttemptState, OrderEvent, OrderState};
use campuspay_domain::policy::OrderNoFormat;
use campuspay_domain::{Fen, LedgerKind, order_no, profile};
use campuspay_store::On;
use campuspay_store::charges::NewLedgerEntry;
use campuspay_store::orders::{NewOrder, OrderRow};
use campuspay_store::schools::School;
use campuspay_store::sessions::SessionRow;
use campuspay_store::{StoreError, db_now as now};
use serde_json::json;

pub struct Invoice {
    /// `individual` or `company`
    pub kind: String,
    pub title: String,
    pub tax_no: String,
}

pub struct NewOrderInput {
    pub lines: Vec<CartRequest>,
    /// Where the e-receipt goes; the profile's phone when absent.
    pub phone: Option<String>,
    pub invoice: Option<Invoice>,
    /// Pay what the student's balance (余额) covers from it; the channel collects the rest.
    pub use_balance: bool,
}

pub struct Created {
    pub order: OrderRow,
    /// An unpaid order with the same lines was offered again (seed 004).
    pub reused: bool,
}

fn unprocessable(code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> Error {
    Error::new(ErrorKind::Refused, code, zh, en)
}

/// Every charge the student still owes, as the cart rules see them.
pub fn owed_charges(o: &Overview) -> Vec<OwedCharge> {
    let started = |parent: Option<i64>| {
        parent.is_some_and(|p| {
            o.charges.iter().any(|c| {
                c.view.parent_item_id == Some(p) && (c.view.amounts.paid.is_positive() || c.view.amounts.balance_used.is_positive())
            })
        })
    };
    o.charges
        .iter()
        .filter(|c| c.arrears.is_positive())
        .map(|c| {
            let v = &c.view;
            OwedCharge {
                charge_id: v.id,
                item_id: v.item_id,
                item_name: v.item_name.clone(),
                parent_item_id: v.parent_item_id,
                parent_name: v.parent_name.clone(),
                receipt_type: v.receipt_type.clone(),
                mandatory: v.mandatory,
                instalments: v.instalments,
                instalment_min: v.instalment_min,
                left: c.arrears,
                paid_any: v.amounts.paid.is_positive() || v.amounts.balance_used.is_positive(),
                parent_started: started(v.parent_item_id),
                window: v.window_start.zip(v.window_end),
                collecting: v.collecting,
                deferred_until: v.deferred_until.as_deref().and_then(end_of_day),
            }
        })
        .collect()
}

/// The end of a `YYYY-MM-DD` day in Shanghai, as unix seconds.
fn end_of_day(date: &str) -> Option<i64> {
    let mut parts = date.splitn(3, '-').map(|p| p.parse::<u32>().ok());
    let (y, m, d) = (parts.next()??, parts.next()??, parts.next()??);
    campuspay_domain::time::shanghai_to_unix(i64::from(y), m, d, 0, 0, 0).map(|start| start + 86_400)
}

fn check_invoice(inv: &Option<Invoice>) -> Result<(String, String, String), Error> {
    match inv {
        None => Ok(("individual".into(), String::new(), String::new())),
        Some(i) if i.kind == "individual" => Ok(("individual".into(), i.title.trim().chars().take(100).collect(), String::new())),
        Some(i) if i.kind == "company" => {
            let title = i.title.trim();
            let tax = i.tax_no.trim().to_ascii_uppercase();
            if title.is_empty() || title.chars().count() > 100 {
                return Err(unprocessable("invoice_title", "请填写单位名称作为发票抬头", "Enter the company name for the invoice")
                    .field("invoice_title"));
            }
            // 统一社会信用代码 (GB 32100): printed on the receipt, so its check character must hold.
            let tax = campuspay_domain::receipt::validate_credit_code(&tax).map_err(|e| {
                unprocessable("invoice_tax_no", format!("税号有误：{e}"), "The unified social credit code is not valid")
                    .field("invoice_tax_no")
            })?;
            Ok(("company".into(), title.into(), tax))
        }
        Some(_) => Err(unprocessable("invoice_kind", "发票抬头类型应为个人或单位", "Invoice type is individual or company")),
    }
}

fn new_order_no(format: &OrderNoFormat, t: i64, seq: i64) -> Result<String, Error> {
    let random = crate::crypto::random_below(order_no::RANDOM_LIMIT);
    order_no::generate(format, t, u32::try_from(seq).unwrap_or(u32::MAX), random).map_err(|e| {
        tracing::error!(error = %e, "order number");
        Error::new(
            ErrorKind::Unavailable,
            "order_numbers_exhausted",
            "今日订单已达上限，请明日再试",
            "No more orders can be numbered today",
        )
    })
}

/// The cart rules for `lines` at `t`; a refusal carries the rule's data in `details`
/// (e.g. how to split the cart) for the page or client to offer a fix.
fn check_cart(o: &Overview, lines: &[CartRequest], t: i64) -> Result<ValidCart, Error> {
    let owed = owed_charges(o);
    let ctx = CartContext { now: t, policy: &o.school.policy, phone: &o.student.phone, email: &o.student.email };
    validate_cart(&owed, lines, &ctx).map_err(|e| {
        let details = serde_json::to_value(&e).unwrap_or_default();
        unprocessable("cart_rule", e.to_string(), e.message_en()).details(details)
    })
}

/// What an order for `lines` would hold, checked by the same rules as [`create_order`] but
/// not created: the confirm page shows it before the student submits.
pub struct Preview {
    pub overview: Overview,
    pub cart: ValidCart,
}

pub async fn preview(ctx: &Context, session: &SessionRow, lines: &[CartRequest]) -> Result<Preview, Error> {
    let overview = overview(ctx, session).await?;
    let cart = check_cart(&overview, lines, now())?;
    Ok(Preview { overview, cart })
}

#[tracing::instrument(name = "create_order", skip_all, fields(student = session.student_id))]
pub async fn create_order(ctx: &Context, session: &SessionRow, input: &NewOrderInput) -> Result<Created, Error> {
    let o = overview(ctx, session).await?;
    let t = now();
    let phone = match &input.phone {
        Some(p) if !p.trim().is_empty() => {
            let p = p.trim().to_string();
            if !profile::valid_phone(&p) {
                return Err(unprocessable("invalid_phone", "接收电子票据的手机号格式有误", "The phone for the e-receipt is not valid")
                    .field("phone"));
            }
            p
        }
        _ => o.student.phone.clone(),
    };
    let (invoice_kind, invoice_title, invoice_tax_no) = check_invoice(&input.invoice)?;
    let cart = check_cart(&o, &input.lines, t)?;

    if o.school.policy.reuse_unpaid_order {
        for existing in ctx.store.orders_of_student(o.school.id, o.student.id, 20).await? {
            if existing.status != OrderState::Unpaid || existing.expires_at <= t {
                continue;
            }
            let lines = ctx.store.order_lines(On::Pool, existing.id).await?;
            let same = lines.len() == cart.lines.len()
                && cart.lines.iter().all(|(c, a)| lines.iter().any(|l| l.charge_id == *c && l.amount == *a));
            if same {
                return Ok(Created { order: existing, reused: true });
            }
        }
    }

    let expires_at = t + i64::from(o.school.policy.order_ttl_minutes) * 60;
    for _ in 0..3 {
        let mut tx = ctx.store.write_tx().await?;
        let seq = match &o.school.policy.order_no {
            OrderNoFormat::DailySequence { .. } => {
                let day = order_no::sequence_day(t).map_err(|_| Error::internal())?;
                ctx.store.next_order_sequence(&mut tx, o.school.id, &day).await?
            }
            OrderNoFormat::TimestampRandom => 0,
        };
        let no = new_order_no(&o.school.policy.order_no, t, seq)?;
        ctx.store.lock_student(&mut tx, o.student.id).await?;
        let balance =
            if input.use_balance { ctx.store.balance(On::Tx(&mut tx), o.school.id, o.student.id).await?.max(Fen::ZERO) } else { Fen::ZERO };
        let from_balance = balance.min(cart.total);
        let cash = cart.total.checked_sub(from_balance).map_err(|_| Error::internal())?;
        let order = match ctx
            .store
            .insert_order(
                &mut tx,
                &NewOrder {
                    school_id: o.school.id,
                    student_id: o.student.id,
                    order_no: &no,
                    total: cash,
                    balance: from_balance,
                    phone: &phone,
                    invoice_kind: &invoice_kind,
                    invoice_title: &invoice_title,
                    invoice_tax_no: &invoice_tax_no,
                    expires_at,
                },
            )
            .await
        {
            Ok(order) => order,
            // A random order number met an existing one: draw again.
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        };
        let order_id = order.id;
        let mut balance_left = from_balance;
        for (charge_id, amount) in &cart.lines {
            // The balance pays the first lines first.
            let part = balance_left.min(*amount);
            balance_left = balance_left.checked_sub(part).map_err(|_| Error::internal())?;
            match ctx.store.insert_order_line(&mut tx, o.school.id, order_id, *charge_id, *amount, part).await {
                Ok(added) => {
                    // What was owed was read before this transaction: a payment that freed
                    // the charge from another order meanwhile must not be paid for twice, so
                    // the line is added only if the charge still owes its amount.
                    if !added {
                        drop(tx);
                        return Err(Error::new(
                            ErrorKind::Conflict,
                            "charge_changed",
                            "所选项目刚刚已缴费或金额已变化，请刷新后重新选择，请勿重复缴费",
                            "An item was just paid or changed; refresh and choose again",
                        ));
                    }
                }
                Err(StoreError::Conflict(_)) => {
                    drop(tx);
                    return Err(held(ctx, &o.school, *charge_id).await);
                }
                Err(e) => return Err(e.into()),
            }
            if part.is_positive() {
                let entry = NewLedgerEntry {
                    school_id: o.school.id,
                    student_id: o.student.id,
                    charge_id: Some(*charge_id),
                    kind: LedgerKind::BalanceUse,
                    amount: part,
                    reference: &no,
                    memo: "余额支付",
                };
                ctx.store.insert_ledger_entry(&mut tx, &entry).await?;
            }
        }
        if cash.is_positive() {
            jobs::enqueue_at(ctx, &mut tx, &Job::ExpireOrder { order_id }, expires_at).await?;
            tx.commit().await?;
            // Unpaid as inserted: the row the insert answered is the order as it stands.
            return Ok(Created { order, reused: false });
        }
        // The balance paid it all: nothing for a channel to collect.
        // Created unpaid in this transaction: never stale.
        ctx.store.end_order(&mut tx, order_id, OrderState::Paid).await?;
        jobs::enqueue(ctx, &mut tx, &Job::IssueReceipt { order_id }).await?;
        tx.commit().await?;
        let order = ctx.store.order_by_id(order_id).await?.ok_or_else(Error::internal)?;
        return Ok(Created { order, reused: false });
    }
    Err(Error::internal())
}

/// The 409 for a charge that a live order holds: says which order, so the page can link it.
async fn held(ctx: &Context, school: &School, charge_id: i64) -> Error {
    let holder = ctx.store.live_order_holding(school.id, charge_id).await.ok().flatten();
    let no = holder.map(|o| o.order_no).unwrap_or_default();
    Error::new(
        ErrorKind::Conflict,
        "charge_in_live_order",
        format!("所选项目已在待支付订单 {no} 中，请先完成支付或取消该订单，请勿重复缴费"),
        format!("An item is already in unpaid order {no}; pay or cancel that order first"),
    )
    .details(json!({"order_no": no}))
}

/// The student's own order, or 404: another student's order number opens nothing.
pub async fn own_order(ctx: &Context, session: &SessionRow, order_no: &str) -> Result<OrderRow, Error> {
    if order_no.len() > 40 {
        return Err(order_not_found());
    }
    match ctx.store.order_by_no(session.school_id, order_no).await? {
        Some(o) if o.student_id == session.student_id => Ok(o),
        _ => Err(order_not_found()),
    }
}

pub(crate) fn channel_unavailable() -> Error {
    Error::new(
        ErrorKind::Unavailable,
        "channel_unavailable",
        "该支付渠道暂不可用，请选择其他支付方式",
        "This payment channel is unavailable; choose another",
    )
}

fn order_not_found() -> Error {
    Error::new(ErrorKind::NotFound, "order_not_found", "订单不存在", "No such order")
}

pub struct PayStarted {
    pub school_code: String,
    pub out_trade_no: String,
    pub method: Method,
    pub action: PayAction,
    pub payee: String,
    pub order: OrderRow,
}

#[tracing::instrument(name = "pay", skip_all, fields(order_no = order_no, method = method_name))]
pub async fn pay(
    ctx: &Context,
    session: &SessionRow,
    order_no: &str,
    method_name: &str,
    openid: Option<&str>,
    client: &Client,
) -> Result<PayStarted, Error> {
    let school = ctx.schools.by_id(&ctx.store, session.school_id).await?.ok_or_else(Error::unknown_school)?;
    let order = own_order(ctx, session, order_no).await?;
    let t = now();
    if order.status != OrderState::Unpaid || order.expires_at <= t {
        return Err(not_payable(&order, t));
    }
    let method = Method::parse(method_name).filter(|m| school.policy.channels.iter().any(|c| c == m.as_str())).ok_or_else(|| {
        unprocessable("channel_not_enabled", "该学校未开通此支付方式，请选择其他方式", "This school does not offer that payment method")
            .field("channel")
    })?;
    let channel = ctx.channels.get(school.id, method).ok_or_else(channel_unavailable)?;
    let flow = method.flow(&client.ip, openid).ok_or_else(|| {
        unprocessable("openid_required", "请在微信中打开本页面后再使用微信支付", "Open this page inside WeChat to use in-app WeChat Pay")
    })?;

    // A double click, or the same channel chosen again: the same attempt, the same QR code.
    let attempts = ctx.store.attempts_of_order(On::Pool, order.id).await?;
    if let Some(a) = attempts.iter().find(|a| a.status == AttemptState::Open && a.channel == method && !a.action.is_empty())
        && let Ok(action) = serde_json::from_str::<PayAction>(&a.action)
    {
        return Ok(PayStarted {
            school_code: school.code.clone(),
            out_trade_no: a.out_trade_no.clone(),
            method,
            action,
            payee: school.policy.payee.clone(),
            order,
        });
    }
    // A new channel: the old attempts are closed at their providers, so only one can take money.
    // Under the order's lock, so a cancel, an expiry, a payment or another tab cannot slip in
    // between the check and the new attempt.
    let mut tx = ctx.store.write_tx().await?;
    let locked = ctx.store.lock_order(&mut tx, order.id).await?;
    if locked.status != OrderState::Unpaid || locked.expires_at <= now() {
        return Err(not_payable(&locked, now()));
    }
    let attempts = ctx.store.attempts_of_order(On::Tx(&mut tx), order.id).await?;
    for a in attempts.iter().filter(|a| a.status == AttemptState::Open) {
        crate::payment::settle::supersede(ctx, &mut tx, a).await?;
    }
    let n = ctx.store.count_attempts(&mut tx, order.id).await? + 1;
    if n > 99 {
        return Err(Error::new(
            ErrorKind::Conflict,
            "too_many_attempts",
            "支付尝试次数过多，请取消订单后重新下单",
            "Too many payment attempts; cancel and order again",
        ));
    }
    let out_trade_no = format!("{}{n:02}", order.order_no);
    let attempt_id = ctx.store.insert_attempt(&mut tx, school.id, order.id, method, &out_trade_no).await?;
    // Status within seconds even if the notification never comes: ask the provider soon.
    jobs::enqueue_in(ctx, &mut tx, &Job::QueryAttempt { attempt_id }, 3).await?;
    tx.commit().await?;

    let lines = ctx.store.order_lines(On::Pool, order.id).await?;
    let mut description: String = lines.iter().map(|l| l.item_name.as_str()).collect::<Vec<_>>().join("、");
    if description.len() > 120 {
        description = format!("{}等", &description[..description.floor_char_boundary(110)]);
    }
    let create = CreateOrder {
        out_trade_no: out_trade_no.clone(),
        description: format!("{}-{}", school.name, description),
        amount: order.total,
        expires_at: Some(order.expires_at),
        flow,
        return_url: Some(format!("{}/s/{}/orders/{}", ctx.public_url(), school.code, order.order_no)),
    };
    let action = channel.create(&create).await.map_err(|e| {
        tracing::warn!(error = %e, out_trade_no, provider = provider_str(method.provider()), "provider create failed");
        Error::new(
            ErrorKind::Upstream,
            "channel_create_failed",
            "支付渠道暂时无法下单，请稍后再试或换一种支付方式",
            "The payment channel could not take the order; try again or use another method",
        )
    })?;
    let stored = serde_json::to_string(&action).map_err(|_| Error::internal())?;
    let reference = channel.order_reference(&out_trade_no).unwrap_or_default();
    let mut tx = ctx.store.write_tx().await?;
    ctx.store.set_attempt_action(&mut tx, attempt_id, &stored, &reference).await?;
    tx.commit().await?;
    // Cancelled, expired or switched while the provider was creating it: close it there now
    // (and again by job if that fails) rather than show a code for an order that is gone.
    if let Some(a) = ctx.store.attempt_by_id(attempt_id).await?
        && a.status != AttemptState::Open
    {
        let mut tx = ctx.store.write_tx().await?;
        jobs::enqueue(ctx, &mut tx, &Job::CloseAttempt { attempt_id }).await?;
        tx.commit().await?;
        let now_order = ctx.store.order_by_id(order.id).await?.ok_or_else(Error::internal)?;
        return Err(not_payable(&now_order, now()));
    }
    Ok(PayStarted { school_code: school.code.clone(), out_trade_no, method, action, payee: school.policy.payee.clone(), order })
}

/// Why an order cannot take this payment, told as it is: paid, closed, or still unpaid but
/// with another payment started since (a second tab chose another channel), so the student
/// is not told an unpaid order is paid.
fn not_payable(order: &OrderRow, t: i64) -> Error {
    match order.status {
        OrderState::Paid | OrderState::Refunded => {
            Error::new(ErrorKind::Conflict, "order_paid", "该订单已支付，无需再次支付", "This order is already paid")
        }
        OrderState::Unpaid if order.expires_at > t => Error::new(
            ErrorKind::Conflict,
            "payment_in_progress",
            "该订单已在另一窗口发起了其他方式的支付，请在最新打开的支付页面完成，或刷新后重新选择",
            "Another payment of this order was started (in another window); finish it there or reload and choose again",
        ),
        _ => Error::new(ErrorKind::Conflict, "order_not_payable", "该订单已关闭，请重新下单", "This order is closed; order again"),
    }
}

/// Someone is watching an unpaid order: bring its provider query forward.
pub async fn watched(ctx: &Context, order: &OrderRow) -> Result<(), Error> {
    if order.status != OrderState::Unpaid {
        return Ok(());
    }
    for a in ctx.store.attempts_of_order(On::Pool, order.id).await?.iter().filter(|a| a.status == AttemptState::Open) {
        jobs::hurry(ctx, &Job::QueryAttempt { attempt_id: a.id }, a.created_at + 3).await?;
    }
    Ok(())
}

#[tracing::instrument(name = "cancel_order", skip_all, fields(order_no = order_no))]
pub async fn cancel(ctx: &Context, session: &SessionRow, order_no: &str) -> Result<OrderRow, Error> {
    let order = own_order(ctx, session, order_no).await?;
    crate::payment::settle::end_unpaid(ctx, order.id, OrderEvent::Cancel).await?;
    ctx.store.order_by_id(order.id).await?.ok_or_else(Error::internal)
}
