//! A `SchoolPolicy` as a flat HTML form and back: every field a named input (checkboxes one
//! name each), shown again as typed when refused, with each problem of `problems()` beside
//! the fields it is about.

use campuspay_app::{Error, ErrorKind};
use campuspay_domain::Fen;
use campuspay_domain::payment::Method;
use campuspay_domain::policy::{
    Agreement, InitialPassword, LatePayment, LoginId, OpeningHours, OrderNoFormat, ReceiptPolicy, Recovery, SchoolPolicy,
};
use campuspay_domain::receipt::ReceiptIssuerKind;
use std::collections::BTreeMap;

/// The form's values by input name, and the problems by policy field.
#[derive(Default, Clone)]
pub struct PolicyForm {
    pub values: BTreeMap<String, String>,
    pub problems: BTreeMap<String, Vec<String>>,
}

impl PolicyForm {
    pub fn v(&self, name: &str) -> &str {
        self.values.get(name).map(String::as_str).unwrap_or("")
    }
    pub fn on(&self, name: &str) -> bool {
        matches!(self.v(name), "on" | "true" | "1")
    }
    pub fn is(&self, name: &str, value: &str) -> bool {
        self.v(name) == value
    }
    /// Every problem of a policy field, joined.
    pub fn err(&self, field: &str) -> Option<String> {
        self.problems.get(field).map(|p| p.join("；"))
    }
    /// The payment methods with their labels and whether each is on.
    pub fn methods(&self) -> Vec<(&'static str, &'static str, bool)> {
        Method::ALL.iter().map(|m| (m.as_str(), m.label_zh(), self.on(&format!("channel_{}", m.as_str())))).collect()
    }

    /// The problems of a refusal: every `details.problems` entry, or the error's own field.
    pub fn with_error(mut self, e: &Error) -> PolicyForm {
        let listed = e.details.as_ref().and_then(|d| d["problems"].as_array().cloned()).unwrap_or_default();
        for p in listed {
            if let (Some(f), Some(m)) = (p["field"].as_str(), p["message"].as_str()) {
                self.problems.entry(f.to_string()).or_default().push(m.to_string());
            }
        }
        if self.problems.is_empty()
            && let Some(f) = e.field
        {
            self.problems.entry(f.to_string()).or_default().push(e.zh.clone());
        }
        self
    }
}

fn hhmm(m: u32) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

pub fn from_policy(p: &SchoolPolicy) -> PolicyForm {
    let mut v = BTreeMap::new();
    let mut put = |k: &str, val: String| {
        v.insert(k.to_string(), val);
    };
    let flag = |b: bool| if b { "on".to_string() } else { String::new() };
    put("login_student_no", flag(p.login_ids.contains(&LoginId::StudentNo)));
    put("login_phone", flag(p.login_ids.contains(&LoginId::Phone)));
    match &p.initial_password {
        InitialPassword::IdCardTail { len, suffix } => {
            put("initial_kind", "id_card_tail".into());
            put("initial_len", len.to_string());
            put("initial_suffix", suffix.clone());
        }
        InitialPassword::Fixed { password } => {
            put("initial_kind", "fixed".into());
            put("initial_len", "6".into());
            put("initial_fixed", password.clone());
        }
    }
    put("force_change_initial", flag(p.force_change_initial));
    put("force_change_weak", flag(p.force_change_weak));
    put("recovery_sms_limit", "5".into());
    for r in &p.recovery {
        match r {
            Recovery::Email => put("recovery_email", "on".into()),
            Recovery::SecurityQuestion => put("recovery_question", "on".into()),
            Recovery::Sms { daily_limit } => {
                put("recovery_sms", "on".into());
                put("recovery_sms_limit", daily_limit.to_string());
            }
            Recovery::ContactOffice { text } => {
                put("recovery_contact", "on".into());
                put("recovery_contact_text", text.clone());
            }
        }
    }
    put("captcha", flag(p.captcha));
    if let Some(h) = p.opening_hours {
        put("hours_open", hhmm(h.open_minute));
        put("hours_close", hhmm(h.close_minute));
    }
    match &p.order_no {
        OrderNoFormat::DailySequence { prefix, school_code } => {
            put("order_no_kind", "daily_sequence".into());
            put("order_no_prefix", prefix.clone());
            put("order_no_school_code", school_code.clone());
        }
        OrderNoFormat::TimestampRandom => put("order_no_kind", "timestamp_random".into()),
    }
    put("order_ttl_minutes", p.order_ttl_minutes.to_string());
    put("item_lock_minutes", p.item_lock_minutes.to_string());
    put("reuse_unpaid_order", flag(p.reuse_unpaid_order));
    for c in &p.channels {
        put(&format!("channel_{c}"), "on".into());
    }
    // The order the school offers its methods in, which checkboxes cannot say.
    put("channel_order", p.channels.join(","));
    put("payee", p.payee.clone());
    put("profile_required", flag(p.profile_required));
    put("agreement_countdown", "0".into());
    if let Some(a) = &p.agreement {
        put("agreement_on", "on".into());
        put("agreement_title", a.title.clone());
        put("agreement_text", a.text.clone());
        put("agreement_countdown", a.countdown_s.to_string());
    }
    put("session_idle_minutes", p.session_idle_minutes.to_string());
    put("session_absolute_hours", p.session_absolute_hours.to_string());
    put("late_payment", if p.late_payment == LatePayment::Credit { "credit" } else { "refund" }.into());
    put("contact", p.contact.clone());
    put("approval_threshold", Fen(p.approval_threshold_fen).to_yuan_string());
    put("staff_totp_required", flag(p.staff_totp_required));
    let r = &p.receipt;
    put("receipt_heading", r.heading.clone());
    put("receipt_authority", r.authority.clone());
    put("receipt_payee", r.payee.clone());
    put("receipt_credit_code", r.payee_credit_code.clone());
    put("receipt_collector", r.collector.clone());
    put("receipt_reviewer", r.reviewer.clone());
    put("receipt_code_prefix", r.code_prefix.clone());
    put("receipt_issuer", r.issuer.as_str().to_string());
    put("receipt_codes", r.codes.iter().map(|(k, c)| format!("{k}={c}")).collect::<Vec<_>>().join("\n"));
    PolicyForm { values: v, problems: BTreeMap::new() }
}

fn refused(field: &'static str, zh: &str) -> Error {
    Error::new(ErrorKind::Refused, "invalid_policy", zh, "The policy form has a malformed field").field(field)
}

fn number<T: std::str::FromStr>(f: &PolicyForm, name: &str, field: &'static str, what: &str) -> Result<T, Error> {
    f.v(name).trim().parse().map_err(|_| refused(field, &format!("{what}须填写整数")))
}

fn minute_of_day(text: &str) -> Option<u32> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (m < 60 && h <= 24).then_some(h * 60 + m)
}

/// The policy the form says; shapes it cannot read are refused by their field here, the
/// rules themselves by `SchoolPolicy::problems()` in the use case.
pub fn to_policy(f: &PolicyForm) -> Result<SchoolPolicy, Error> {
    let mut login_ids = Vec::new();
    if f.on("login_student_no") {
        login_ids.push(LoginId::StudentNo);
    }
    if f.on("login_phone") {
        login_ids.push(LoginId::Phone);
    }
    let initial_password = if f.is("initial_kind", "fixed") {
        InitialPassword::Fixed { password: f.v("initial_fixed").trim().to_string() }
    } else {
        let len = number(f, "initial_len", "initial_password", "身份证号后几位")?;
        InitialPassword::IdCardTail { len, suffix: f.v("initial_suffix").trim().to_string() }
    };
    let mut recovery = Vec::new();
    if f.on("recovery_email") {
        recovery.push(Recovery::Email);
    }
    if f.on("recovery_question") {
        recovery.push(Recovery::SecurityQuestion);
    }
    if f.on("recovery_sms") {
        recovery.push(Recovery::Sms { daily_limit: number(f, "recovery_sms_limit", "recovery", "每天短信条数")? });
    }
    if f.on("recovery_contact") {
        recovery.push(Recovery::ContactOffice { text: f.v("recovery_contact_text").trim().to_string() });
    }
    let opening_hours = match (f.v("hours_open").trim(), f.v("hours_close").trim()) {
        ("", "") => None,
        (o, c) => {
            let (Some(open_minute), Some(close_minute)) = (minute_of_day(o), minute_of_day(c)) else {
                return Err(refused("opening_hours", "开放时间写成 08:00 这样的时刻，开始和结束都要填写（全天开放则都留空）"));
            };
            Some(OpeningHours { open_minute, close_minute })
        }
    };
    let order_no = if f.is("order_no_kind", "timestamp_random") {
        OrderNoFormat::TimestampRandom
    } else {
        OrderNoFormat::DailySequence {
            prefix: f.v("order_no_prefix").trim().to_string(),
            school_code: f.v("order_no_school_code").trim().to_string(),
        }
    };
    // Checked methods in the order the school had them, newly checked ones after.
    let mut channels: Vec<String> = f.v("channel_order").split(',').filter(|c| f.on(&format!("channel_{c}"))).map(str::to_string).collect();
    for m in Method::ALL {
        if f.on(&format!("channel_{}", m.as_str())) && !channels.iter().any(|c| c == m.as_str()) {
            channels.push(m.as_str().to_string());
        }
    }
    let agreement = if f.on("agreement_on") {
        Some(Agreement {
            title: f.v("agreement_title").trim().to_string(),
            text: f.v("agreement_text").trim().to_string(),
            countdown_s: number(f, "agreement_countdown", "agreement", "倒计时秒数")?,
        })
    } else {
        None
    };
    let threshold = super::parse_yuan(f.v("approval_threshold"), "approval_threshold_fen")?;
    let mut codes = BTreeMap::new();
    for line in f.v("receipt_codes").lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((k, c)) = line.split_once('=') else {
            return Err(refused("receipt", "票据代码每行写成 票据类型=代码，例如 tuition=62010126"));
        };
        codes.insert(k.trim().to_string(), c.trim().to_string());
    }
    // Strict: a word that is not one of the issuers is refused, never taken as the built-in
    // one; a form without the field (posted before there was a choice) keeps the default.
    let issuer = match f.v("receipt_issuer").trim() {
        "" => ReceiptIssuerKind::default(),
        word => word.parse().map_err(|_| refused("receipt", "开票方式只能从列出的方式中选"))?,
    };
    Ok(SchoolPolicy {
        login_ids,
        initial_password,
        force_change_initial: f.on("force_change_initial"),
        force_change_weak: f.on("force_change_weak"),
        recovery,
        captcha: f.on("captcha"),
        opening_hours,
        order_no,
        order_ttl_minutes: number(f, "order_ttl_minutes", "order_ttl_minutes", "订单支付期限")?,
        item_lock_minutes: number(f, "item_lock_minutes", "item_lock_minutes", "项目锁定时间")?,
        reuse_unpaid_order: f.on("reuse_unpaid_order"),
        channels,
        payee: f.v("payee").trim().to_string(),
        profile_required: f.on("profile_required"),
        agreement,
        session_idle_minutes: number(f, "session_idle_minutes", "session_idle_minutes", "无操作退出时间")?,
        session_absolute_hours: number(f, "session_absolute_hours", "session_absolute_hours", "登录最长有效期")?,
        late_payment: if f.is("late_payment", "credit") { LatePayment::Credit } else { LatePayment::Refund },
        contact: f.v("contact").trim().to_string(),
        approval_threshold_fen: threshold.0,
        staff_totp_required: f.on("staff_totp_required"),
        receipt: ReceiptPolicy {
            heading: f.v("receipt_heading").trim().to_string(),
            authority: f.v("receipt_authority").trim().to_string(),
            payee: f.v("receipt_payee").trim().to_string(),
            payee_credit_code: f.v("receipt_credit_code").trim().to_string(),
            collector: f.v("receipt_collector").trim().to_string(),
            reviewer: f.v("receipt_reviewer").trim().to_string(),
            codes,
            code_prefix: f.v("receipt_code_prefix").trim().to_string(),
            issuer,
        },
    })
}

/// What a new school's form starts from: the commonest choices of the seed schools, the payee
/// left for the operator to fill in.
pub fn new_school_policy() -> SchoolPolicy {
    SchoolPolicy {
        login_ids: vec![LoginId::StudentNo],
        initial_password: InitialPassword::IdCardTail { len: 6, suffix: String::new() },
        force_change_initial: true,
        force_change_weak: true,
        recovery: vec![Recovery::ContactOffice { text: "忘记密码请联系财务处".into() }],
        captcha: true,
        opening_hours: None,
        order_no: OrderNoFormat::TimestampRandom,
        order_ttl_minutes: 24 * 60,
        item_lock_minutes: 10,
        reuse_unpaid_order: false,
        channels: vec!["wechat_native".into(), "alipay_qr".into()],
        payee: String::new(),
        profile_required: false,
        agreement: None,
        session_idle_minutes: 30,
        session_absolute_hours: 12,
        late_payment: LatePayment::Refund,
        contact: String::new(),
        approval_threshold_fen: 100_000,
        staff_totp_required: false,
        receipt: ReceiptPolicy::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_demo_policy_survives_the_form() {
        for p in crate::demo::seed_policies() {
            assert_eq!(to_policy(&from_policy(&p)).unwrap(), p);
        }
    }
}
