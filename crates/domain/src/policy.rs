//! A school's policy: every rule in which the seed schools differ, as data.
//!
//! A new school is a row with one of these (as JSON), never a release. Each field names the
//! seed manual it comes from in `shared/SPEC.md` §1.

mod validate;

use serde::{Deserialize, Serialize};
pub use validate::PolicyProblem;

/// What a student types in the login box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginId {
    /// 学号
    StudentNo,
    /// 手机号 (seed 000 "用户名/手机号")
    Phone,
}

/// How the initial password (初始密码) is derived before the student sets one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InitialPassword {
    /// The last `len` characters of the ID card, check character `X` upper-cased, then `suffix`
    /// (000: 6; 003: 6 + `Czgc`; 004: 8).
    IdCardTail {
        len: usize,
        #[serde(default)]
        suffix: String,
    },
    /// One password for everyone (001: `123456`, 002: `111111`).
    Fixed { password: String },
}

impl InitialPassword {
    pub fn for_id_card(&self, id_card: &str) -> String {
        match self {
            InitialPassword::IdCardTail { len, suffix } => {
                let id = crate::idcard::normalize(id_card);
                let chars: Vec<char> = id.chars().collect();
                let start = chars.len().saturating_sub(*len);
                let tail: String = chars[start..].iter().collect();
                format!("{tail}{suffix}")
            }
            InitialPassword::Fixed { password } => password.clone(),
        }
    }

    /// How the login page explains it, e.g. 「身份证号后6位」.
    pub fn hint_zh(&self) -> String {
        match self {
            InitialPassword::IdCardTail { len, suffix } if suffix.is_empty() => {
                format!("初始密码为身份证号后{len}位（末尾X大写）")
            }
            InitialPassword::IdCardTail { len, suffix } => {
                format!("初始密码为身份证号后{len}位加 {suffix}")
            }
            InitialPassword::Fixed { password } => format!("初始密码为 {password}"),
        }
    }
}

/// Ways to get back into an account (SPEC §1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Recovery {
    /// 密保邮箱 (001)
    Email,
    /// 密保问题 (004)
    SecurityQuestion,
    /// 短信验证码 (002)
    Sms { daily_limit: u32 },
    /// "忘记密码请联系…" with the office's numbers (004)
    ContactOffice { text: String },
}

/// Daily window in which payment is open, local time, minutes from midnight (003: 08:00–22:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpeningHours {
    pub open_minute: u32,
    pub close_minute: u32,
}

impl OpeningHours {
    pub fn is_open_at(&self, minute_of_day: u32) -> bool {
        self.open_minute <= minute_of_day && minute_of_day < self.close_minute
    }

    pub fn label(&self) -> String {
        let f = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
        format!("{}–{}", f(self.open_minute), f(self.close_minute))
    }
}

/// Order number formats of the seeds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OrderNoFormat {
    /// `XF` + yymmdd + school code + 6-digit daily sequence: `XF200510LUTAU000001` (004).
    DailySequence { prefix: String, school_code: String },
    /// 30 digits: yyyyMMddHHmmss + 16 random digits (000).
    TimestampRandom,
}

/// What happens to money that arrives for an order that can no longer take it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LatePayment {
    #[default]
    Refund,
    Credit,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agreement {
    pub title: String,
    pub text: String,
    /// Seconds the 同意 button stays locked (001: 10 s).
    pub countdown_s: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchoolPolicy {
    pub login_ids: Vec<LoginId>,
    pub initial_password: InitialPassword,
    /// The initial password must be changed at first login (001, 003).
    pub force_change_initial: bool,
    /// A password the rules call weak must be changed at login (003).
    pub force_change_weak: bool,
    pub recovery: Vec<Recovery>,
    pub captcha: bool,
    #[serde(default)]
    pub opening_hours: Option<OpeningHours>,
    pub order_no: OrderNoFormat,
    /// Time to pay an order (000: 24 h).
    pub order_ttl_minutes: u32,
    /// How long the items of an abandoned order stay locked (002: 10 min).
    pub item_lock_minutes: u32,
    /// An unpaid order is offered again instead of a new one (004).
    pub reuse_unpaid_order: bool,
    /// Enabled channels, by API name (`wechat_native`, `alipay_qr`, …).
    pub channels: Vec<String>,
    /// 收款单位 printed on the confirm and pay pages.
    pub payee: String,
    /// Phone and e-mail must be valid before paying (003).
    pub profile_required: bool,
    #[serde(default)]
    pub agreement: Option<Agreement>,
    #[serde(default = "default_idle")]
    pub session_idle_minutes: u32,
    #[serde(default = "default_absolute")]
    pub session_absolute_hours: u32,
    #[serde(default)]
    pub late_payment: LatePayment,
    /// Finance office phone numbers shown on help pages.
    #[serde(default)]
    pub contact: String,
    /// Waivers and cancellations above this many fen wait for a second person's approval
    /// (maker–checker, 002: 收费业务员 applies, 财务处 approves); at or below it they apply at once.
    #[serde(default = "default_approval_threshold")]
    pub approval_threshold_fen: i64,
    /// Staff whose role moves money must confirm each login with a TOTP code.
    #[serde(default)]
    pub staff_totp_required: bool,
    /// What the school's electronic receipts (电子票据) carry (004: 票据查询).
    #[serde(default)]
    pub receipt: ReceiptPolicy,
}

/// The fixed parts of a school's electronic receipts. Empty fields fall back to what the rest
/// of the policy says (the payee) or to a generic heading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ReceiptPolicy {
    /// The title, e.g. 「甘肃省非税收入统一票据（电子）」.
    pub heading: String,
    /// 监制单位: the finance department that issues the receipt forms (甘肃省财政厅).
    pub authority: String,
    /// 收款单位 on the receipt, if not the policy's payee.
    pub payee: String,
    /// The payee's 统一社会信用代码.
    pub payee_credit_code: String,
    /// 收款人 and 复核人 printed at the bottom.
    pub collector: String,
    pub reviewer: String,
    /// 票据代码 per receipt type (8 digits as fiscal receipts print them); a type without
    /// one gets `code_prefix` + `00`.
    pub codes: std::collections::BTreeMap<String, String>,
    /// The region part of 票据代码 (6 digits, the province's administrative code).
    pub code_prefix: String,
    /// Who issues the school's receipts; schools stored before there was a choice are the
    /// built-in issuer's. An unknown word does not decode (the school does not load).
    pub issuer: crate::receipt::ReceiptIssuerKind,
}

impl ReceiptPolicy {
    /// 票据代码 of a receipt type.
    pub fn code_of(&self, receipt_type: &str) -> String {
        match self.codes.get(receipt_type) {
            Some(code) => code.clone(),
            None if self.code_prefix.is_empty() => "00000000".into(),
            None => format!("{}00", self.code_prefix),
        }
    }

    pub fn heading_or_default(&self) -> &str {
        if self.heading.trim().is_empty() { "电子缴费票据" } else { &self.heading }
    }
}

fn default_approval_threshold() -> i64 {
    100_000
}
fn default_idle() -> u32 {
    30
}
fn default_absolute() -> u32 {
    12
}

impl SchoolPolicy {
    pub fn login_label_zh(&self) -> &'static str {
        if self.login_ids.contains(&LoginId::Phone) { "学号/手机号" } else { "学号" }
    }

    pub fn contact_office_text(&self) -> Option<&str> {
        self.recovery.iter().find_map(|r| match r {
            Recovery::ContactOffice { text } => Some(text.as_str()),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "37020220000101111X";

    #[test]
    fn every_seed_initial_password_rule() {
        let tail = |len, suffix: &str| InitialPassword::IdCardTail { len, suffix: suffix.into() };
        assert_eq!(tail(6, "").for_id_card(ID), "01111X"); // 000
        assert_eq!(tail(6, "Czgc").for_id_card(ID), "01111XCzgc"); // 003
        assert_eq!(tail(8, "").for_id_card(ID), "0101111X"); // 004
        assert_eq!(tail(8, "").for_id_card("37020220000101111x"), "0101111X"); // 004: X upper-cased
        assert_eq!(InitialPassword::Fixed { password: "123456".into() }.for_id_card(ID), "123456"); // 001
        assert_eq!(InitialPassword::Fixed { password: "111111".into() }.for_id_card(ID), "111111"); // 002
    }

    #[test]
    fn opening_hours_are_half_open() {
        let h = OpeningHours { open_minute: 8 * 60, close_minute: 22 * 60 };
        assert!(!h.is_open_at(8 * 60 - 1));
        assert!(h.is_open_at(8 * 60));
        assert!(h.is_open_at(22 * 60 - 1));
        assert!(!h.is_open_at(22 * 60));
        assert_eq!(h.label(), "08:00–22:00");
    }
}
