//! A charge (one student, one fee item, one period) and the amounts the seed 000 table shows.

use crate::money::{Fen, MoneyError};
use serde::{Deserialize, Serialize};

/// 未缴 / 部分缴 / 已缴 / 已减免
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargeState {
    Unpaid,
    Partial,
    Paid,
    Waived,
}

impl ChargeState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unpaid => "unpaid",
            Self::Partial => "partial",
            Self::Paid => "paid",
            Self::Waived => "waived",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Unpaid => "未缴",
            Self::Partial => "部分缴",
            Self::Paid => "已缴",
            Self::Waived => "已减免",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Self::Unpaid => "Unpaid",
            Self::Partial => "Part paid",
            Self::Paid => "Paid",
            Self::Waived => "Waived",
        }
    }
}

/// The amounts of one charge. `total` and `discount` are fixed when the charge is issued;
/// `balance_used` and `paid` are sums of ledger entries, never stored figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChargeAmounts {
    /// 总金额
    pub total: Fen,
    /// 优惠/减免
    pub discount: Fen,
    /// 余额支付
    pub balance_used: Fen,
    /// 实际支付
    pub paid: Fen,
}

impl ChargeAmounts {
    /// 优惠后金额
    pub fn after_discount(&self) -> Result<Fen, MoneyError> {
        self.total.checked_sub(self.discount)
    }

    /// 应付金额: what remains for the channels once discount and balance are taken off.
    pub fn payable(&self) -> Result<Fen, MoneyError> {
        self.after_discount()?.checked_sub(self.balance_used)
    }

    /// 欠费: what is still owed; never negative (an overpayment is a credit, not negative debt).
    pub fn arrears(&self) -> Result<Fen, MoneyError> {
        let left = self.payable()?.checked_sub(self.paid)?;
        Ok(if left.0 > 0 { left } else { Fen::ZERO })
    }

    pub fn state(&self) -> Result<ChargeState, MoneyError> {
        let payable = self.payable()?;
        Ok(if payable.0 <= 0 && self.discount.is_positive() && self.paid == Fen::ZERO && self.balance_used == Fen::ZERO {
            ChargeState::Waived
        } else if self.paid >= payable {
            ChargeState::Paid
        } else if self.paid.is_positive() || self.balance_used.is_positive() {
            ChargeState::Partial
        } else {
            ChargeState::Unpaid
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn a(total: i64, discount: i64, balance_used: i64, paid: i64) -> ChargeAmounts {
        ChargeAmounts { total: Fen(total), discount: Fen(discount), balance_used: Fen(balance_used), paid: Fen(paid) }
    }

    #[test]
    fn states() {
        assert_eq!(a(100, 0, 0, 0).state(), Ok(ChargeState::Unpaid));
        assert_eq!(a(100, 0, 0, 40).state(), Ok(ChargeState::Partial));
        assert_eq!(a(100, 0, 30, 0).state(), Ok(ChargeState::Partial));
        assert_eq!(a(100, 20, 30, 50).state(), Ok(ChargeState::Paid));
        assert_eq!(a(100, 100, 0, 0).state(), Ok(ChargeState::Waived));
        assert_eq!(a(100, 20, 0, 0).payable(), Ok(Fen(80)));
        assert_eq!(a(100, 20, 10, 0).payable(), Ok(Fen(70)));
        assert_eq!(a(100, 20, 10, 30).arrears(), Ok(Fen(40)));
    }

    proptest! {
        #[test]
        fn arrears_plus_paid_cover_payable(t in 0i64..10_000_000, d in 0i64..10_000_000, b in 0i64..10_000_000, p in 0i64..10_000_000) {
            let c = a(t, d.min(t), b.min(t - d.min(t)), p);
            let payable = c.payable().unwrap();
            let arrears = c.arrears().unwrap();
            prop_assert!(arrears.0 >= 0);
            prop_assert_eq!(arrears.0 == 0, c.paid >= payable);
            if c.paid <= payable { prop_assert_eq!(arrears.0 + c.paid.0, payable.0); }
        }

        #[test]
        fn never_overflows_silently(t in any::<i64>(), d in any::<i64>(), b in any::<i64>(), p in any::<i64>()) {
            let c = a(t, d, b, p);
            if let Ok(x) = c.arrears() {
                let exact = t as i128 - d as i128 - b as i128 - p as i128;
                prop_assert_eq!(x.0 as i128, exact.max(0));
            }
        }
    }
}
