//! Orders, payment attempts, and what a channel's "paid" does to them (SPEC §4, §7).
//!
//! The rule that matters: every provider transaction is settled exactly once, and its money
//! goes to exactly one place — the order ([`Effect::ApplyPayment`]), back to the payer
//! ([`Effect::Refund`]) or to the student's balance ([`Effect::Credit`], per
//! [`LatePayment`]). [`decide`] is that rule as a pure function; the store runs it inside the
//! database transaction that records the effects, with a unique index on the provider
//! transaction key as the last line of defence against two concurrent deliveries.

use crate::money::Fen;
use crate::names::text_enum;
use crate::policy::LatePayment;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The states of an order. Deliberately no `paying` state: a student may open attempts on
/// several channels (PC and phone, WeChat then Alipay) and any of them may still pay, so
/// "paying" is a fact about attempts, not a state the order could leave safely.
///
/// * `Unpaid` — created, waiting for money until its deadline; its items are locked to it.
/// * `Paid` — one provider transaction of the exact amount was applied.
/// * `Closed` — the deadline passed unpaid; items are free again. Money arriving later is
///   refunded or credited, never applied: the items may already be in another order.
/// * `Cancelled` — the student or the office withdrew it unpaid; as `Closed` otherwise.
/// * `Refunded` — the office returned the applied payment in full (SPEC §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    Unpaid,
    Paid,
    Closed,
    Cancelled,
    Refunded,
}

text_enum!(OrderState {
    Unpaid => "unpaid",
    Paid => "paid",
    Closed => "closed",
    Cancelled => "cancelled",
    Refunded => "refunded",
});

impl OrderState {
    /// The states an order may reach `to` from: what a guarded update accepts as current.
    pub fn predecessors(to: OrderState) -> Vec<OrderState> {
        OrderState::ALL.into_iter().filter(|&from| can_transition(from, to)).collect()
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Unpaid => "待支付",
            Self::Paid => "已支付",
            Self::Closed => "已关闭",
            Self::Cancelled => "已取消",
            Self::Refunded => "已退款",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Self::Unpaid => "Awaiting payment",
            Self::Paid => "Paid",
            Self::Closed => "Closed",
            Self::Cancelled => "Cancelled",
            Self::Refunded => "Refunded",
        }
    }
}

/// Legal order transitions: out of `Unpaid` to each end, and `Paid` to `Refunded`. Nothing
/// reopens: a closed order stays closed even when money arrives for it.
pub fn can_transition(from: OrderState, to: OrderState) -> bool {
    use OrderState::*;
    matches!((from, to), (Unpaid, Paid | Closed | Cancelled) | (Paid, Refunded))
}

/// One request to a channel to collect an order (one QR code, one H5 or app payment).
///
/// * `Open` — the channel may still take money for it.
/// * `Superseded` — the student started another attempt; we asked the channel to close this
///   one, but until it confirms, money may still come.
/// * `Closed` — the channel confirmed it will take no money.
/// * `Paid` — the channel reported money for it. Recorded as a fact even after `Closed` (the
///   close can race the payment); what the money does is the order's decision, [`decide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptState {
    Open,
    Superseded,
    Closed,
    Paid,
}

text_enum!(AttemptState {
    Open => "open",
    Superseded => "superseded",
    Closed => "closed",
    Paid => "paid",
});

impl AttemptState {
    /// The states an attempt may reach `to` from: what a guarded update accepts as current.
    pub fn predecessors(to: AttemptState) -> Vec<AttemptState> {
        AttemptState::ALL.into_iter().filter(|&from| attempt_can_transition(from, to)).collect()
    }

    /// Whether the channel may still take money for the attempt (a close is still owed).
    pub fn may_take_money(self) -> bool {
        matches!(self, AttemptState::Open | AttemptState::Superseded)
    }
}

pub fn attempt_can_transition(from: AttemptState, to: AttemptState) -> bool {
    use AttemptState::*;
    matches!((from, to), (Open, Superseded | Closed | Paid) | (Superseded, Closed | Paid) | (Closed, Paid))
}

/// A refund sent back through a channel (late or duplicate money).
///
/// * `Pending` — recorded, not yet accepted by the provider.
/// * `Processing` — the provider accepted it and has not finished (asked again later).
/// * `Success` — the money is back with the payer; the `refund` ledger row is written then.
/// * `Failed` — the provider refused or closed it: for the finance office.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundState {
    Pending,
    Processing,
    Success,
    Failed,
}

text_enum!(RefundState {
    Pending => "pending",
    Processing => "processing",
    Success => "success",
    Failed => "failed",
});

impl RefundState {
    pub fn is_final(self) -> bool {
        matches!(self, RefundState::Success | RefundState::Failed)
    }

    /// The states a refund may reach `to` from: what a guarded update accepts as current.
    pub fn predecessors(to: RefundState) -> Vec<RefundState> {
        RefundState::ALL.into_iter().filter(|&from| refund_can_transition(from, to)).collect()
    }
}

/// Legal refund transitions: forward only, and never out of an end. `Processing` may be
/// reported again (the provider still has not finished), which changes nothing.
pub fn refund_can_transition(from: RefundState, to: RefundState) -> bool {
    use RefundState::*;
    matches!((from, to), (Pending, Processing | Success | Failed) | (Processing, Processing | Success | Failed))
}

/// A provider transaction: the channel and its own transaction id (WeChat `transaction_id`,
/// Alipay `trade_no`, …). Ids are unique only within a channel.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TxnKey {
    pub channel: String,
    pub txn_id: String,
}

/// What [`decide`] needs of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub state: OrderState,
    /// The order total; a payment must match it exactly to be applied.
    pub amount: Fen,
    /// Unix seconds after which an unpaid order closes.
    pub deadline: i64,
    /// The transaction applied to it, once paid.
    pub paid_by: Option<TxnKey>,
}

/// Where a "paid" came from. All three are handled alike; the source is kept for the audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaidSource {
    /// The channel's asynchronous notification.
    Notify,
    /// Our own query of the channel, when the notification is late.
    Query,
    /// The channel's statement during reconciliation (对账).
    Statement,
}

text_enum!(PaidSource {
    Notify => "notify",
    Query => "query",
    Statement => "statement",
});

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderEvent {
    /// The channel says it received `amount` in transaction `txn` for this order.
    ProviderPaid { txn: TxnKey, amount: Fen, source: PaidSource },
    /// A timer fired at `now`; closes the order only if its deadline has passed.
    Expire { now: i64 },
    /// The student or the office cancels.
    Cancel,
}

/// Why received money is not applied to the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LateReason {
    OrderClosed,
    OrderCancelled,
    /// Another transaction paid the order first (paying twice from phone and PC, 003).
    AlreadyPaid,
    OrderRefunded,
    /// The amount differs from the order's; an order is paid whole or not at all.
    AmountMismatch,
}

text_enum!(LateReason {
    OrderClosed => "order_closed",
    OrderCancelled => "order_cancelled",
    AlreadyPaid => "already_paid",
    OrderRefunded => "order_refunded",
    AmountMismatch => "amount_mismatch",
});

/// What a settled provider transaction's money did (`provider_payments.disposition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// Paid the order.
    Applied,
    /// Sent back through the channel.
    Refund,
    /// Put on the student's balance.
    Credit,
}

text_enum!(Disposition {
    Applied => "applied",
    Refund => "refund",
    Credit => "credit",
});

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ignored {
    /// This transaction was settled already (a repeated notification, or a query after one).
    Duplicate,
    /// An expiry before the deadline.
    NotYetDue,
    /// An expiry or cancellation of an order that is no longer unpaid.
    NotUnpaid,
    /// A "paid" with an amount ≤ 0: no money moved, nothing to settle.
    NonPositiveAmount,
}

/// What the store must do. At most one money effect per event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Effect {
    /// Record the payment against the order's charges.
    ApplyPayment {
        txn: TxnKey,
        amount: Fen,
    },
    /// Send the money back through the channel.
    Refund {
        txn: TxnKey,
        amount: Fen,
        reason: LateReason,
    },
    /// Put the money on the student's balance (余额).
    Credit {
        txn: TxnKey,
        amount: Fen,
        reason: LateReason,
    },
    /// Ask the channels to close the order's other open attempts, so no more money comes.
    CloseOpenAttempts,
    Ignore {
        why: Ignored,
    },
}

impl Effect {
    /// What the money of this effect does, and why when it is not applied; `None` for the
    /// effects that move no money.
    pub fn disposition(&self) -> Option<(Disposition, Option<LateReason>)> {
        match self {
            Effect::ApplyPayment { .. } => Some((Disposition::Applied, None)),
            Effect::Refund { reason, .. } => Some((Disposition::Refund, Some(*reason))),
            Effect::Credit { reason, .. } => Some((Disposition::Credit, Some(*reason))),
            Effect::CloseOpenAttempts | Effect::Ignore { .. } => None,
        }
    }

    /// The transaction and amount this effect settles, if it moves money.
    pub fn settles(&self) -> Option<(&TxnKey, Fen)> {
        match self {
            Effect::ApplyPayment { txn, amount } | Effect::Refund { txn, amount, .. } | Effect::Credit { txn, amount, .. } => {
                Some((txn, *amount))
            }
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub order: Order,
    pub effects: Vec<Effect>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("订单已支付，无法取消")]
    CannotCancelPaid,
}

impl OrderError {
    pub fn message_en(self) -> &'static str {
        match self {
            Self::CannotCancelPaid => "The order is paid and can no longer be cancelled",
        }
    }
}

/// The order's answer to one event.
///
/// `settled` holds every provider transaction already settled for this order (applied,
/// refunded or credited); a transaction in it is ignored, so a repeated notification or a
/// query after a notification never moves money twice. The caller adds a transaction to it
/// in the same database transaction that records the effect.
///
/// A "paid" is applied only while the order is `Unpaid` and the amount is exact. Otherwise
/// the money is refunded or credited per `late`. A payment on a *superseded attempt* is not
/// by itself refused: if the order is still unpaid the student did pay what they owe, and
/// refunding would only make them pay again; if another transaction paid first, it is
/// `AlreadyPaid` like any second payment.
pub fn decide(order: &Order, settled: &BTreeSet<TxnKey>, event: &OrderEvent, late: LatePayment) -> Result<Outcome, OrderError> {
    let keep = |why| Outcome { order: order.clone(), effects: vec![Effect::Ignore { why }] };
    let end = |state| Outcome { order: Order { state, ..order.clone() }, effects: vec![Effect::CloseOpenAttempts] };
    match event {
        OrderEvent::Expire { now } => Ok(match order.state {
            OrderState::Unpaid if *now >= order.deadline => end(OrderState::Closed),
            OrderState::Unpaid => keep(Ignored::NotYetDue),
            _ => keep(Ignored::NotUnpaid),
        }),
        OrderEvent::Cancel => match order.state {
            OrderState::Unpaid => Ok(end(OrderState::Cancelled)),
            OrderState::Closed | OrderState::Cancelled => Ok(keep(Ignored::NotUnpaid)),
            OrderState::Paid | OrderState::Refunded => Err(OrderError::CannotCancelPaid),
        },
        OrderEvent::ProviderPaid { txn, amount, .. } => {
            if settled.contains(txn) || order.paid_by.as_ref() == Some(txn) {
                return Ok(keep(Ignored::Duplicate));
            }
            if !amount.is_positive() {
                return Ok(keep(Ignored::NonPositiveAmount));
            }
            let reason = match order.state {
                OrderState::Unpaid if *amount == order.amount => {
                    return Ok(Outcome {
                        order: Order { state: OrderState::Paid, paid_by: Some(txn.clone()), ..order.clone() },
                        effects: vec![Effect::ApplyPayment { txn: txn.clone(), amount: *amount }, Effect::CloseOpenAttempts],
                    });
                }
                OrderState::Unpaid => LateReason::AmountMismatch,
                OrderState::Paid => LateReason::AlreadyPaid,
                OrderState::Closed => LateReason::OrderClosed,
                OrderState::Cancelled => LateReason::OrderCancelled,
                OrderState::Refunded => LateReason::OrderRefunded,
            };
            let (txn, amount) = (txn.clone(), *amount);
            let effect = match late {
                LatePayment::Refund => Effect::Refund { txn, amount, reason },
                LatePayment::Credit => Effect::Credit { txn, amount, reason },
            };
            Ok(Outcome { order: order.clone(), effects: vec![effect] })
        }
    }
}

#[cfg(test)]
mod tests;
