//! Electronic receipts (电子票据): amounts in Chinese capitals (大写), the GB 32100 unified
//! social credit code (统一社会信用代码) of a company payer, receipt numbers and the states a
//! receipt goes through.

use crate::Fen;
use crate::names::text_enum;
use serde::{Deserialize, Serialize};

const DIGITS: [char; 10] = ['零', '壹', '贰', '叁', '肆', '伍', '陆', '柒', '捌', '玖'];
/// Units inside a group of four digits, from the thousands down.
const IN_GROUP: [&str; 4] = ["仟", "佰", "拾", ""];
/// Units of the groups of four digits, from the lowest up (i64 yuan has at most five groups).
const GROUPS: [&str; 5] = ["", "万", "亿", "万亿", "亿亿"];

/// An amount in Chinese capitals as fiscal receipts and cheques write it (《支付结算办法》):
/// `320000` fen → 叁仟贰佰元整, `100_005` → 壹仟元零伍分 (the tests hold every rule): zeros inside the yuan collapse to one 零, a missing 角 before 分 is written 零, whole yuan
/// and whole 角 end in 整, amounts under one yuan start at their first non-zero unit, and a
/// negative amount (a red-letter receipt) starts with 负.
pub fn capitals(amount: Fen) -> String {
    let negative = amount.0 < 0;
    // unsigned_abs: i64::MIN has no positive i64.
    let fen = amount.0.unsigned_abs();
    let (yuan, jiao, fen) = (fen / 100, (fen / 10 % 10) as usize, (fen % 10) as usize);
    let mut out = String::new();
    if negative {
        out.push('负');
    }
    if yuan > 0 {
        out.push_str(&yuan_capitals(yuan));
        out.push('元');
    }
    match (jiao, fen) {
        (0, 0) if yuan == 0 => out.push_str("零元整"),
        (0, 0) => out.push('整'),
        (j, 0) => {
            out.push(DIGITS[j]);
            out.push_str("角整");
        }
        (0, f) => {
            if yuan > 0 {
                out.push('零');
            }
            out.push(DIGITS[f]);
            out.push('分');
        }
        (j, f) => {
            out.push(DIGITS[j]);
            out.push('角');
            out.push(DIGITS[f]);
            out.push('分');
        }
    }
    out
}

/// Whole yuan (> 0) in capitals without the 元: groups of four digits, each with its unit; one
/// 零 stands for any run of zeros between non-zero digits, across groups too.
fn yuan_capitals(yuan: u64) -> String {
    let mut groups = Vec::new();
    let mut rest = yuan;
    while rest > 0 {
        groups.push((rest % 10_000) as usize);
        rest /= 10_000;
    }
    let mut out = String::new();
    let mut pending_zero = false;
    for (g, &value) in groups.iter().enumerate().rev() {
        if value == 0 {
            pending_zero = !out.is_empty();
            continue;
        }
        let digits = [value / 1000, value / 100 % 10, value / 10 % 10, value % 10];
        for (i, &d) in digits.iter().enumerate() {
            if d == 0 {
                pending_zero = !out.is_empty();
                continue;
            }
            if pending_zero {
                out.push('零');
                pending_zero = false;
            }
            out.push(DIGITS[d]);
            out.push_str(IN_GROUP[i]);
        }
        out.push_str(GROUPS[g]);
        // The group's unit absorbs its trailing zeros: 壹拾万伍仟, not 壹拾万零伍仟.
        pending_zero = false;
    }
    out
}

/// The characters of a unified social credit code (GB 32100-2015): digits and capitals
/// without I, O, S, V, Z.
const USCC_CHARS: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// Why a unified social credit code is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreditCodeError {
    #[error("统一社会信用代码应为18位")]
    Length,
    #[error("统一社会信用代码含有无效字符")]
    Character,
    #[error("统一社会信用代码校验位不正确")]
    CheckCharacter,
}

/// The check character (18th) of the first 17 characters of a code, or `None` if one of them
/// is not in the code's alphabet.
pub fn credit_code_check_char(first17: &str) -> Option<char> {
    let values: Vec<u32> = first17.chars().map(|c| USCC_CHARS.find(c).map(|i| i as u32)).collect::<Option<_>>()?;
    if values.len() != 17 {
        return None;
    }
    let sum: u32 = values.iter().zip(USCC_WEIGHTS).map(|(v, w)| v * w).sum();
    let check = (31 - sum % 31) % 31;
    USCC_CHARS.chars().nth(check as usize)
}

/// Validates a unified social credit code (upper-cased first); answers it normalized.
pub fn validate_credit_code(code: &str) -> Result<String, CreditCodeError> {
    let code = code.trim().to_ascii_uppercase();
    if code.chars().count() != 18 {
        return Err(CreditCodeError::Length);
    }
    if !code.chars().all(|c| USCC_CHARS.contains(c)) {
        return Err(CreditCodeError::Character);
    }
    let (head, last) = code.split_at(17);
    if credit_code_check_char(head) != last.chars().next() {
        return Err(CreditCodeError::CheckCharacter);
    }
    Ok(code)
}

/// Who issues a school's receipts (numbers and seals them). A closed list: a school whose
/// province runs a fiscal e-receipt platform gets a variant here for that platform and an
/// `Issuer` for it in `campuspay_app::receipts`; a stored word this build does not know is an
/// error, never the built-in issuer by default (it would print the wrong authority).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptIssuerKind {
    /// campuspay numbers receipts per school and type and seals them with the school's key.
    #[default]
    Builtin,
}

text_enum!(ReceiptIssuerKind {
    Builtin => "builtin",
});

impl ReceiptIssuerKind {
    /// What the policy form calls it.
    pub fn label_zh(self) -> &'static str {
        match self {
            ReceiptIssuerKind::Builtin => "本平台开具（内置开票）",
        }
    }
}

/// A receipt's life: issued; red-lettered (冲红) by a refund; or void after a correction (the
/// reissued receipt replaces it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptStatus {
    Issued,
    RedLettered,
    Void,
}

text_enum!(ReceiptStatus {
    Issued => "issued",
    RedLettered => "red_lettered",
    Void => "void",
});

impl ReceiptStatus {
    /// 已开具 / 已冲红 / 已作废, as the verify page and the records say it.
    pub fn label_zh(self) -> &'static str {
        match self {
            ReceiptStatus::Issued => "已开具（有效）",
            ReceiptStatus::RedLettered => "已冲红",
            ReceiptStatus::Void => "已作废",
        }
    }

    /// The states a receipt may reach `to` from: what a guarded update accepts as current.
    pub fn predecessors(to: ReceiptStatus) -> Vec<ReceiptStatus> {
        ReceiptStatus::ALL.into_iter().filter(|&from| receipt_can_transition(from, to)).collect()
    }
}

/// Only an issued receipt changes: a red-letter or a void is final (a receipt is never
/// un-refunded; a corrected one is reissued under a new number).
pub fn receipt_can_transition(from: ReceiptStatus, to: ReceiptStatus) -> bool {
    use ReceiptStatus::*;
    matches!((from, to), (Issued, RedLettered | Void))
}

/// A receipt (蓝字, the money received) or its red-letter counterpart (红字, the money refunded),
/// which references the original and carries a negative amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptKind {
    Normal,
    RedLetter,
}

text_enum!(ReceiptKind {
    Normal => "normal",
    RedLetter => "red_letter",
});

/// Digits of a receipt number (票据号码): fiscal receipts print ten.
pub const NUMBER_DIGITS: usize = 10;

/// The printed receipt number of the `n`th receipt of a sequence (n ≥ 1).
pub fn format_number(n: i64) -> String {
    format!("{n:0width$}", width = NUMBER_DIGITS)
}

#[cfg(test)]
#[path = "receipt_tests.rs"]
mod tests;
