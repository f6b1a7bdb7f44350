//! The kinds of ledger entries. The ledger is insert-only; what a charge has been paid is the
//! sum of its entries of the kinds [`LedgerKind::counts_as_paid`] names.

use crate::names::text_enum;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerKind {
    /// Paid by a channel, to a charge.
    Payment,
    /// Recorded by the office (cash, transfer).
    OfflinePayment,
    /// The student's balance paid part of a charge (negative when an order gives it back).
    BalanceUse,
    /// Money that left through a provider refund (negative).
    Refund,
    /// Money put on the student's balance.
    Credit,
    /// Money received for an order that could not take it, until it is refunded.
    UnappliedReceipt,
    /// Part of a charge the office waived (减免): lowers what is owed; no money moved.
    Waiver,
    /// What was left of a wrongly issued charge when the office cancelled it (撤销): the
    /// charge is no longer owed; no money moved.
    Cancellation,
}

text_enum!(LedgerKind {
    Payment => "payment",
    OfflinePayment => "offline_payment",
    BalanceUse => "balance_use",
    Refund => "refund",
    Credit => "credit",
    UnappliedReceipt => "unapplied_receipt",
    Waiver => "waiver",
    Cancellation => "cancellation",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_match_serde() {
        for k in LedgerKind::ALL {
            assert_eq!(k.as_str().parse::<LedgerKind>(), Ok(k));
            assert_eq!(serde_json::to_value(k).unwrap(), serde_json::Value::from(k.as_str()));
        }
        assert!("refunding".parse::<LedgerKind>().is_err());
    }
}
