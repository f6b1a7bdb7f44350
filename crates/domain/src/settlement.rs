//! The finance office's money work: refunds it starts, the exception queue, reports.
//!
//! A provider refund row (`order::RefundState`) follows one call to one channel; an
//! [`OfficeRefund`](OfficeRefundState) is what the office asked for (order lines, reason, the
//! person), which may wait for a second person before any channel is asked.

use crate::names::text_enum;
use serde::{Deserialize, Serialize};

/// Where an office refund stands.
///
/// * `AwaitingApproval` — above the school's threshold: waits for a second person (复核).
/// * `Rejected` — the second person refused it; nothing was sent.
/// * `Pending` — sent to the job runner; the provider has not accepted it yet.
/// * `Processing` — the provider accepted it and has not finished.
/// * `Success` — the money is back with the payer; the `refund` ledger rows exist.
/// * `Failed` — the provider refused it for good: it is in the exception queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfficeRefundState {
    AwaitingApproval,
    Rejected,
    Pending,
    Processing,
    Success,
    Failed,
}

text_enum!(OfficeRefundState {
    AwaitingApproval => "awaiting_approval",
    Rejected => "rejected",
    Pending => "pending",
    Processing => "processing",
    Success => "success",
    Failed => "failed",
});

impl OfficeRefundState {
    /// Still holds money of its order lines: another refund of the same order must wait.
    pub fn is_live(self) -> bool {
        matches!(self, Self::AwaitingApproval | Self::Pending | Self::Processing)
    }

    /// Counts against what is left to refund (it may still send, or has sent, money back).
    pub fn holds_money(self) -> bool {
        self.is_live() || self == Self::Success
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::AwaitingApproval => "待复核",
            Self::Rejected => "已驳回",
            Self::Pending => "待发送",
            Self::Processing => "退款中",
            Self::Success => "退款成功",
            Self::Failed => "退款失败",
        }
    }

    /// The states a refund may reach `to` from: what a guarded update accepts as current.
    pub fn predecessors(to: OfficeRefundState) -> Vec<OfficeRefundState> {
        OfficeRefundState::ALL.into_iter().filter(|&from| office_refund_can_transition(from, to)).collect()
    }
}

/// Forward only, never out of an end. An offline refund (cash handed back at the counter)
/// goes from `Pending` to `Success` in the office's own transaction.
pub fn office_refund_can_transition(from: OfficeRefundState, to: OfficeRefundState) -> bool {
    use OfficeRefundState::*;
    matches!(
        (from, to),
        (AwaitingApproval, Rejected | Pending) | (Pending, Processing | Success | Failed) | (Processing, Processing | Success | Failed)
    )
}

/// How an office refund returns the money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundMethod {
    /// Back through the provider that took it (原路退回).
    Channel,
    /// Cash or transfer by the office, for money taken at the counter.
    Offline,
}

text_enum!(RefundMethod {
    Channel => "channel",
    Offline => "offline",
});

/// What kind of problem an exception is: money for a person to place, or receipts stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExceptionKind {
    /// Money that could not pay its order (late, duplicate, wrong amount) and whose automatic
    /// refund the provider refused: we still hold it.
    UnappliedMoney,
    /// An office refund the provider refused for good: the money still pays its charges.
    RefundFailed,
    /// A statement line that matches none of our trades.
    StatementUnknown,
    /// Our settled payment that the provider's statement of its day lacks.
    MissingFromStatement,
    /// The statement's amount differs from what we settled.
    AmountMismatch,
    /// Receipts that could not be issued or delivered for a reason retrying does not cure (the
    /// school's receipt issuer is not set up, the SMS provider refuses the template): their jobs
    /// stopped and wait here until the office fixes the cause and retries them.
    ReceiptFailed,
}

text_enum!(ExceptionKind {
    UnappliedMoney => "unapplied_money",
    RefundFailed => "refund_failed",
    StatementUnknown => "statement_unknown",
    MissingFromStatement => "missing_from_statement",
    AmountMismatch => "amount_mismatch",
    ReceiptFailed => "receipt_failed",
});

impl ExceptionKind {
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::UnappliedMoney => "无法入账的款项",
            Self::RefundFailed => "退款失败",
            Self::StatementUnknown => "对账单有、系统无",
            Self::MissingFromStatement => "系统有、对账单无",
            Self::AmountMismatch => "金额不符",
            Self::ReceiptFailed => "电子票据开具或发送失败",
        }
    }

    /// The actions that may close an exception of this kind. Money can be credited or
    /// applied only where we hold money of a known student that no charge has taken; a failed
    /// office refund can be sent again (its money still pays the charges); stopped receipt jobs
    /// can be run again (no money moves).
    pub fn allows(self, action: ExceptionAction) -> bool {
        match action {
            ExceptionAction::Note => true,
            ExceptionAction::Refund => matches!(self, Self::UnappliedMoney | Self::RefundFailed),
            ExceptionAction::Credit | ExceptionAction::Apply => self == Self::UnappliedMoney,
            ExceptionAction::Retry => self == Self::ReceiptFailed,
        }
    }
}

/// How the office closes an exception (always audited).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExceptionAction {
    /// Send the money back through the provider.
    Refund,
    /// Put the money on the student's balance.
    Credit,
    /// Pay another charge of the same student with it.
    Apply,
    /// Nothing to move: resolved with a note (e.g. settled outside campuspay).
    Note,
    /// Run the stopped jobs again, once their cause is fixed (moves no money itself).
    Retry,
}

text_enum!(ExceptionAction {
    Refund => "refund",
    Credit => "credit",
    Apply => "apply",
    Note => "note",
    Retry => "retry",
});

impl ExceptionAction {
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Refund => "原路退款",
            Self::Credit => "转入余额",
            Self::Apply => "冲抵其他欠费",
            Self::Note => "备注后关闭",
            Self::Retry => "已修正，重新执行",
        }
    }
}

/// What a collection report groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportBy {
    Department,
    Major,
    Class,
    Item,
    Level,
}

text_enum!(ReportBy {
    Department => "department",
    Major => "major",
    Class => "class",
    Item => "item",
    Level => "level",
});

impl ReportBy {
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Department => "院系",
            Self::Major => "专业",
            Self::Class => "班级",
            Self::Item => "收费项目",
            Self::Level => "层次",
        }
    }
}

/// Where money came in or went out, as the daily collection report and the voucher export
/// name it: a provider's channel, or how the counter took it. The words are the providers'
/// (`payment::Provider`) and the counter's (`office::OfflineMethod`) own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MoneyChannel {
    Wechatpay,
    Alipay,
    Unionpay,
    /// CCB 龙支付 (the provider's word `ccb`).
    Ccb,
    Cash,
    Pos,
    BankTransfer,
    /// A counter payment in the ledger without a record of how it was taken (history loaded
    /// from an earlier system, the demo's seed): shown as such, never dropped.
    OtherOffline,
}

text_enum!(MoneyChannel {
    Wechatpay => "wechatpay",
    Alipay => "alipay",
    Unionpay => "unionpay",
    Ccb => "ccb",
    Cash => "cash",
    Pos => "pos",
    BankTransfer => "bank_transfer",
    OtherOffline => "other_offline",
});

impl MoneyChannel {
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Wechatpay => "微信支付",
            Self::Alipay => "支付宝",
            Self::Unionpay => "银联",
            Self::Ccb => "建行龙支付",
            Self::Cash => "现金",
            Self::Pos => "POS刷卡",
            Self::BankTransfer => "银行转账",
            Self::OtherOffline => "线下（方式未登记）",
        }
    }

    /// The account the money sits in (会计科目), for the voucher export: cash in the till,
    /// card and transfer money at the bank, provider money in the provider's account until it
    /// is settled to the bank.
    pub fn account(self) -> &'static str {
        match self {
            Self::Cash => "1001 库存现金",
            // Counter money of unknown form: the bank, where the counter's money ends up.
            Self::Pos | Self::BankTransfer | Self::OtherOffline => "1002 银行存款",
            Self::Wechatpay => "1012.01 其他货币资金—微信支付",
            Self::Alipay => "1012.02 其他货币资金—支付宝",
            Self::Unionpay => "1012.03 其他货币资金—银联",
            Self::Ccb => "1012.04 其他货币资金—建行龙支付",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_match_serde() {
        for s in OfficeRefundState::ALL {
            assert_eq!(s.as_str().parse::<OfficeRefundState>(), Ok(s));
            assert_eq!(serde_json::to_value(s).unwrap(), serde_json::Value::from(s.as_str()));
        }
        for k in ExceptionKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), serde_json::Value::from(k.as_str()));
        }
        for a in ExceptionAction::ALL {
            assert_eq!(serde_json::to_value(a).unwrap(), serde_json::Value::from(a.as_str()));
        }
        for b in ReportBy::ALL {
            assert_eq!(serde_json::to_value(b).unwrap(), serde_json::Value::from(b.as_str()));
        }
        for c in MoneyChannel::ALL {
            assert_eq!(c.as_str().parse::<MoneyChannel>(), Ok(c));
            assert_eq!(serde_json::to_value(c).unwrap(), serde_json::Value::from(c.as_str()));
        }
        assert!("paypal".parse::<MoneyChannel>().is_err());
        assert!("refunding".parse::<OfficeRefundState>().is_err());
        assert!("delete".parse::<ExceptionAction>().is_err());
    }

    #[test]
    fn refunds_move_forward_only() {
        use OfficeRefundState::*;
        assert!(office_refund_can_transition(AwaitingApproval, Pending));
        assert!(office_refund_can_transition(Pending, Success));
        assert!(!office_refund_can_transition(Success, Failed));
        assert!(!office_refund_can_transition(Failed, Pending));
        assert!(!office_refund_can_transition(Rejected, Pending));
        assert!(!office_refund_can_transition(AwaitingApproval, Success), "approval comes before any money moves");
        for s in OfficeRefundState::ALL {
            assert_eq!(s.is_live(), !matches!(s, Rejected | Success | Failed));
        }
    }

    #[test]
    fn only_held_money_can_be_moved_from_the_queue() {
        assert!(ExceptionKind::UnappliedMoney.allows(ExceptionAction::Apply));
        assert!(ExceptionKind::RefundFailed.allows(ExceptionAction::Refund));
        assert!(!ExceptionKind::RefundFailed.allows(ExceptionAction::Credit), "its money still pays the charges");
        assert!(!ExceptionKind::StatementUnknown.allows(ExceptionAction::Refund));
        assert!(ExceptionKind::AmountMismatch.allows(ExceptionAction::Note));
        assert!(ExceptionKind::ReceiptFailed.allows(ExceptionAction::Retry));
        assert!(!ExceptionKind::ReceiptFailed.allows(ExceptionAction::Refund), "no money is held");
        assert!(!ExceptionKind::UnappliedMoney.allows(ExceptionAction::Retry));
    }
}
