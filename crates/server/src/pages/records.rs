//! After paying: 缴费记录 (paid orders with their items), the student's orders, and 银行交易记录
//! (every channel transaction, refunds and credits included) with the balance (000, 004).

use super::extract::StudentPage;
use super::order::state_of;
use super::pay_views::*;
use super::{error_page, render, school_name};
use crate::AppState;
use crate::i18n::Lang;
use axum::extract::State;
use axum::response::Response;
use campuspay_app::Error;
use campuspay_app::payment::channels::Method;
use campuspay_domain::LedgerKind;
use campuspay_domain::order::{Disposition, OrderState, RefundState};
use campuspay_domain::time::format_shanghai;
use campuspay_store::On;
use campuspay_store::db_now as now;
use campuspay_store::payments::PaymentRecord;

fn channel_label(m: &Method, lang: Lang) -> &'static str {
    if lang.is_en() { m.label_en() } else { m.label_zh() }
}

/// What became of a provider transaction, in words and colour.
fn outcome(r: &PaymentRecord, lang: Lang) -> (String, &'static str) {
    let refund = match r.refund_status {
        Some(RefundState::Success) => lang.t("已原路退回", "refunded"),
        Some(RefundState::Failed) => lang.t("退款未成功，财务处将联系您", "refund failed; the finance office will contact you"),
        Some(RefundState::Pending | RefundState::Processing) | None => lang.t("退款处理中，将原路退回", "refund in progress"),
    };
    match r.disposition {
        Disposition::Applied => (lang.t("已入账", "Applied to your charges").to_string(), "paid"),
        Disposition::Refund => (format!("{}{refund}", lang.t("重复或逾期付款：", "Duplicate or late payment: ")), "partial"),
        Disposition::Credit => (lang.t("重复或逾期付款：已转入余额", "Duplicate or late payment: kept as balance").to_string(), "partial"),
    }
}

pub async fn records_page(State(state): State<AppState>, page: StudentPage) -> Response {
    let StudentPage { school, session: s, client } = page;
    let lang = client.lang;
    let receipts = match campuspay_app::receipts::receipts_of_student(&state, s.school_id, s.student_id).await {
        Ok(list) => list
            .iter()
            .map(|r| ReceiptLinkView {
                id: r.id,
                number: format!("{} {}", r.code, r.number),
                receipt_type: if r.kind == campuspay_domain::receipt::ReceiptKind::RedLetter {
                    format!("{}{}", r.receipt_type, lang.t("（红字）", " (red letter)"))
                } else {
                    r.receipt_type.clone()
                },
                amount: r.amount.to_string(),
                issued_at: format_shanghai(r.issued_at),
                state: r.status.label_zh(),
                class: if r.status == campuspay_domain::receipt::ReceiptStatus::Issued { "good" } else { "" },
                verify_url: r.verify_url.clone(),
            })
            .collect(),
        Err(e) => return error_page(&e, lang),
    };
    match build(&state, &s, lang).await {
        Ok(((payments, other), orders, txns, balance)) => render(&RecordsPage {
            receipts,
            other,
            lang,
            code: school.code.clone(),
            school_name: school_name(&school, lang),
            csrf: s.csrf_token.clone(),
            payments,
            orders,
            txns,
            has_balance: balance.is_positive(),
            balance: balance.to_string(),
        }),
        Err(e) => error_page(&e, lang),
    }
}

type Records = ((Vec<PaymentView>, Vec<LedgerView>), Vec<OrderSummary>, Vec<TxnView>, campuspay_domain::Fen);

/// The ledger's other ways in and back (20230002 paid everything at the counter and saw
/// 暂无缴费记录): each with its item, amount and reference.
fn other_records(rows: &[campuspay_store::ledger::LedgerRecord], lang: Lang) -> Vec<LedgerView> {
    rows.iter()
        .map(|r| LedgerView {
            way: match r.kind {
                LedgerKind::OfflinePayment => lang.t("线下缴费", "Paid at the office"),
                LedgerKind::BalanceUse => lang.t("余额抵扣", "Paid from balance"),
                LedgerKind::Refund => lang.t("退款（原路退回）", "Refunded"),
                LedgerKind::Credit => lang.t("转入余额", "Kept as balance"),
                LedgerKind::Waiver => lang.t("学校减免", "Waived by the school"),
                LedgerKind::Cancellation => lang.t("学校撤销（不再收取）", "Withdrawn by the school"),
                // Not selected by the query: online payments are listed per order.
                LedgerKind::Payment | LedgerKind::UnappliedReceipt => "",
            },
            item: match (&r.item_name, &r.period_name) {
                (Some(i), Some(p)) => format!("{i} {p}"),
                (Some(i), None) => i.clone(),
                _ => r.memo.clone(),
            },
            amount: r.amount.to_string(),
            negative: r.amount.0 < 0,
            reference: r.reference.clone(),
            at: format_shanghai(r.created_at),
        })
        .collect()
}

async fn build(state: &AppState, s: &campuspay_store::sessions::SessionRow, lang: Lang) -> Result<Records, Error> {
    let records = state.store.payments_of_student(s.school_id, s.student_id).await?;
    let orders = state.store.orders_of_student(s.school_id, s.student_id, 50).await?;
    let mut payments = Vec::new();
    for r in records.iter().filter(|r| r.disposition == Disposition::Applied) {
        let order = orders.iter().find(|o| o.order_no == r.order_no);
        let items = match order {
            Some(o) => state.store.order_lines(On::Pool, o.id).await?,
            None => Vec::new(),
        };
        payments.push(PaymentView {
            order_no: r.order_no.clone(),
            items: items
                .iter()
                .map(|l| OrderLineView { item: l.item_name.clone(), period: l.period_name.clone(), amount: l.amount.to_string() })
                .collect(),
            amount: r.amount.to_string(),
            channel: channel_label(&r.channel, lang),
            txn_id: r.txn_id.clone(),
            paid_at: order.and_then(|o| o.paid_at).map(format_shanghai).unwrap_or_else(|| r.paid_at.clone()),
        });
    }
    let t = now();
    let mut summaries = Vec::new();
    for o in &orders {
        let attempts = if o.status == OrderState::Unpaid { state.store.attempts_of_order(On::Pool, o.id).await? } else { Vec::new() };
        summaries.push(OrderSummary {
            order_no: o.order_no.clone(),
            total: o.total.to_string(),
            created: format_shanghai(o.created_at),
            state: state_of(o, &attempts, t, lang),
        });
    }
    let txns = records
        .iter()
        .map(|r| {
            let (outcome, class) = outcome(r, lang);
            TxnView {
                order_no: r.order_no.clone(),
                amount: r.amount.to_string(),
                channel: channel_label(&r.channel, lang),
                txn_id: r.txn_id.clone(),
                outcome,
                class,
                at: format_shanghai(r.created_at),
            }
        })
        .collect();
    let balance = state.store.balance(On::Pool, s.school_id, s.student_id).await?;
    let other = other_records(&state.store.ledger_records_of_student(s.school_id, s.student_id).await?, lang);
    Ok(((payments, other), summaries, txns, balance))
}
