//! What a provider's answer to a refund does to our books, exactly once.

use crate::Context;
use crate::error::Error;
use campuspay_channels::{RefundNotice, RefundStatus};
use campuspay_domain::order::RefundState;
use campuspay_domain::settlement::{ExceptionKind, OfficeRefundState};
use campuspay_domain::{Fen, LedgerKind};
use campuspay_store::StoreError;
use campuspay_store::charges::NewLedgerEntry;
use campuspay_store::exceptions::NewException;
use campuspay_store::payments::RefundRow;

/// Records what the provider said of a refund, in one transaction: the state, and on
/// `Success` the money leaving (for an office refund, per charge in
/// [`crate::office::refunds::on_refund_confirmed`]); on `Failed` the exception a person
/// must look at. A refund another run finished first is `Stale`: nothing is written, so the
/// money leaves the books once however often the job runs. `why` is the provider's answer.
pub async fn record_outcome(ctx: &Context, r: &RefundRow, to: RefundState, why: &str) -> Result<(), Error> {
    let mut tx = ctx.store.write_tx().await?;
    match ctx.store.set_refund_status(&mut tx, r.id, to).await {
        Ok(()) => {}
        Err(StoreError::Stale(_)) => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    let office_to = match to {
        RefundState::Pending => None,
        RefundState::Processing => Some(OfficeRefundState::Processing),
        RefundState::Success => Some(OfficeRefundState::Success),
        RefundState::Failed => Some(OfficeRefundState::Failed),
    };
    if let (Some(office_id), Some(office_to)) = (r.office_refund_id, office_to) {
        match ctx.store.set_office_refund_status(&mut tx, office_id, office_to, None).await {
            // Processing reported again: nothing new.
            Ok(()) | Err(StoreError::Stale(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    match (to, r.office_refund_id) {
        (RefundState::Success, Some(office_id)) => {
            crate::office::refunds::on_refund_confirmed(ctx, &mut tx, r.school_id, office_id).await?;
        }
        (RefundState::Success, None) => {
            let entry = NewLedgerEntry {
                school_id: r.school_id,
                student_id: r.student_id,
                charge_id: None,
                kind: LedgerKind::Refund,
                amount: Fen(-r.amount.0),
                reference: &r.out_refund_no,
                memo: "退款已退回原支付账户",
            };
            ctx.store.insert_ledger_entry(&mut tx, &entry).await?;
            // Money that had paid an order goes back: its receipts are red-lettered with the
            // refund. (Late or duplicate money, refunded here, never had one.)
            if let Some(order_id) = ctx.store.applied_order_of_payment(campuspay_store::On::Tx(&mut tx), r.provider_payment_id).await? {
                let of = crate::receipts::RefundOf { order_id, refund_key: r.out_refund_no.clone(), lines: vec![], amount: r.amount };
                crate::receipts::red_letter(ctx, &mut tx, &of).await?;
            }
        }
        (RefundState::Failed, office) => {
            // An office refund's money still pays its charges: it may be sent again. Late or
            // duplicate money is held for nobody: refund, credit or apply it by hand.
            let kind = if office.is_some() { ExceptionKind::RefundFailed } else { ExceptionKind::UnappliedMoney };
            // Each failed provider refund is its own exception: a retry from the queue that
            // fails again comes back as a new one.
            let subject = format!("refund:{}", r.id);
            let evidence = serde_json::json!({
                "refund_id": r.id,
                "out_refund_no": r.out_refund_no,
                "out_trade_no": r.out_trade_no,
                "provider": r.provider.as_str(),
                "txn_id": r.txn_id,
                "amount_fen": r.amount.0,
                "provider_answer": why,
            });
            let e = NewException {
                school_id: r.school_id,
                kind,
                subject: &subject,
                student_id: Some(r.student_id),
                provider_payment_id: Some(r.provider_payment_id),
                refund_id: Some(r.id),
                amount: r.amount,
                evidence: &evidence,
            };
            ctx.store.insert_exception(&mut tx, &e).await?;
        }
        _ => {}
    }
    Ok(tx.commit().await?)
}

/// What a verified refund notification (WeChat `REFUND.*`, Alipay's refund `trade_status_sync`,
/// UnionPay's `txnType=04`) does to refund `r`: the same as the refund job's answer would —
/// `record_outcome`, which writes the money leaving once however the notification and the job's
/// query race. A notice that does not match the refund (other trade or amount) changes nothing.
/// Returns what became of it, for the notification's record.
pub async fn on_notice(ctx: &Context, r: &RefundRow, notice: &RefundNotice) -> Result<String, Error> {
    if let Some(why) = mismatch(r, notice) {
        tracing::error!(out_refund_no = r.out_refund_no, why, "a refund notification that does not match our refund");
        return Ok(format!("refund mismatch: {why}"));
    }
    let to = match notice.status {
        RefundStatus::Success => RefundState::Success,
        // A notification tells only an end; ABNORMAL needs a person, as the job decides too.
        RefundStatus::Closed | RefundStatus::Abnormal => RefundState::Failed,
        RefundStatus::Processing => return Ok("refund: processing".into()),
    };
    if r.status.is_final() {
        return Ok(format!("refund: already {}", r.status.as_str()));
    }
    record_outcome(ctx, r, to, &notice.provider_status).await?;
    Ok(format!("refund: {}", to.as_str()))
}

/// Why `notice` is not about refund `r`, if it is not. It must name `r`'s trade (by our number or
/// the provider's, whichever it carries; at least one) and agree on the amount: this refund's, or,
/// where the provider tells only the trade's total refunded (Alipay), a total that covers it.
fn mismatch(r: &RefundRow, notice: &RefundNotice) -> Option<String> {
    match (&notice.out_trade_no, &notice.transaction_id) {
        (None, None) => return Some("no trade named".into()),
        (Some(no), _) if *no != r.out_trade_no => return Some(format!("trade {no}")),
        (_, Some(id)) if *id != r.txn_id => return Some(format!("transaction {id}")),
        _ => {}
    }
    match (notice.amount, notice.refunded_total) {
        (None, None) => Some("no amount".into()),
        (Some(a), _) if a != r.amount => Some(format!("amount {}", a.0)),
        (_, Some(total)) if total.0 < r.amount.0 => Some(format!("refunded in all {}", total.0)),
        _ => None,
    }
}
