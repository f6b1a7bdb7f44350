//! The kinds of ledger entries. The ledger is insert-only; what a charge has been paid is the
//! sum of its entries of the kinds [`LedgerKind::counts_as_paid`] names.

use crate::names::text_enum;
use crate::settlement::MoneyChannel;
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

const RECEIVABLE: &str = "1122 应收账款—学生收费";
const SUSPENSE: &str = "2241 其他应付款—待处理款项";
const PREPAID: &str = "2203 预收账款—学生余额";
const WAIVED: &str = "4101.99 事业收入—减免与核销";

impl LedgerKind {
    /// 摘要 of a voucher of this kind.
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Payment => "学生缴费",
            Self::OfflinePayment => "线下收费",
            Self::BalanceUse => "余额抵缴",
            Self::Refund => "退费",
            Self::Credit => "转入学生余额",
            Self::UnappliedReceipt => "待处理来款",
            Self::Waiver => "收费减免",
            Self::Cancellation => "应收撤销",
        }
    }

    /// The two accounts (debit, credit) of a **positive** row of this kind, for the voucher
    /// export; a negative row swaps them. `channel` is where the money is (`None`: no money
    /// moved in or out: a waiver, a balance use, the halves of an exception's credit or apply).
    /// `None` when both sides are the same account: the row is one half of a transfer whose
    /// other half carries the booking (an exception's money leaving `unapplied_receipt`).
    ///
    /// The codes follow the usual chart of accounts (1001 cash, 1002 bank, 1012 other monetary
    /// funds, 1122 receivables, 2203 received in advance, 2241 other payables); a school whose
    /// chart differs maps them in its accounting system's import.
    pub fn voucher_accounts(self, on_charge: bool, channel: Option<MoneyChannel>) -> Option<(&'static str, &'static str)> {
        let own = match self {
            Self::Payment | Self::OfflinePayment | Self::Waiver | Self::Cancellation | Self::BalanceUse => RECEIVABLE,
            Self::Refund if on_charge => RECEIVABLE,
            Self::Refund | Self::UnappliedReceipt => SUSPENSE,
            Self::Credit => PREPAID,
        };
        let other = match (self, channel) {
            (Self::Waiver | Self::Cancellation, _) => WAIVED,
            (Self::BalanceUse, _) => PREPAID,
            (_, Some(c)) => c.account(),
            (_, None) => SUSPENSE,
        };
        (own != other).then_some((other, own))
    }
}

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

    #[test]
    fn vouchers_book_money_against_its_channel_and_skip_half_transfers() {
        use MoneyChannel::*;
        assert_eq!(LedgerKind::Payment.voucher_accounts(true, Some(Wechatpay)), Some((Wechatpay.account(), RECEIVABLE)));
        assert_eq!(LedgerKind::Refund.voucher_accounts(true, Some(Cash)), Some((Cash.account(), RECEIVABLE)));
        assert_eq!(LedgerKind::Refund.voucher_accounts(false, Some(Alipay)), Some((Alipay.account(), SUSPENSE)));
        assert_eq!(LedgerKind::Credit.voucher_accounts(false, None), Some((SUSPENSE, PREPAID)));
        assert_eq!(LedgerKind::Payment.voucher_accounts(true, None), Some((SUSPENSE, RECEIVABLE)));
        assert_eq!(LedgerKind::UnappliedReceipt.voucher_accounts(false, None), None);
        assert_eq!(LedgerKind::Waiver.voucher_accounts(true, None), Some((WAIVED, RECEIVABLE)));
    }
}
