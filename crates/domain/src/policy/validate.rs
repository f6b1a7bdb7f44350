//! Whether a policy can run a school: every field checked, every problem named with its field
//! and a reason the platform's operator can act on. A policy is saved only when this passes.

use super::{InitialPassword, OrderNoFormat, Recovery, SchoolPolicy};
use crate::payment::Method;

/// One problem with a policy: the field (as the JSON names it) and why, in Chinese.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyProblem {
    pub field: &'static str,
    pub message: String,
}

/// At most `max` characters, no control or bidi-override characters.
fn plain(s: &str, max: usize) -> bool {
    s.chars().count() <= max && !s.chars().any(|c| c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c))
}

fn code_like(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && s.chars().all(|c| c.is_ascii_alphanumeric())
}

impl SchoolPolicy {
    /// Every problem of the policy; empty when it can be saved.
    pub fn problems(&self) -> Vec<PolicyProblem> {
        let mut out = Vec::new();
        let mut bad = |field, message: String| out.push(PolicyProblem { field, message });
        if self.login_ids.is_empty() {
            bad("login_ids", "至少选择一种登录方式（学号或手机号）".into());
        }
        if self.login_ids.iter().enumerate().any(|(i, l)| self.login_ids[..i].contains(l)) {
            bad("login_ids", "登录方式重复".into());
        }
        match &self.initial_password {
            InitialPassword::IdCardTail { len, suffix } => {
                if !(4..=18).contains(len) {
                    bad("initial_password", format!("初始密码取身份证号后 4–18 位（不是 {len} 位）"));
                }
                if !plain(suffix, 16) || suffix.contains(char::is_whitespace) {
                    bad("initial_password", "初始密码后缀最多16个字符，不能有空格".into());
                }
            }
            InitialPassword::Fixed { password } => {
                if !(6..=32).contains(&password.chars().count()) || !plain(password, 32) {
                    bad("initial_password", "统一初始密码应为 6–32 个字符".into());
                }
            }
        }
        for r in &self.recovery {
            match r {
                Recovery::Sms { daily_limit } if !(1..=20).contains(daily_limit) => {
                    bad("recovery", format!("短信验证码每天 1–20 条（不是 {daily_limit}）"))
                }
                Recovery::ContactOffice { text } if text.trim().is_empty() || !plain(text, 200) => {
                    bad("recovery", "“联系财务处”须写明联系方式（最多200字）".into())
                }
                _ => {}
            }
        }
        if let Some(h) = self.opening_hours
            && (h.open_minute >= h.close_minute || h.close_minute > 24 * 60)
        {
            bad("opening_hours", "缴费开放时间须在 00:00–24:00 之间，且开始早于结束".into());
        }
        if let OrderNoFormat::DailySequence { prefix, school_code } = &self.order_no
            && (!code_like(prefix, 4) || !code_like(school_code, 8))
        {
            bad("order_no", "订单号前缀最多4位、学校代码最多8位，只能是字母或数字".into());
        }
        if !(5..=7 * 24 * 60).contains(&self.order_ttl_minutes) {
            bad("order_ttl_minutes", "订单支付期限应为 5 分钟到 7 天".into());
        }
        if self.item_lock_minutes > 24 * 60 {
            bad("item_lock_minutes", "项目锁定时间最长 24 小时".into());
        }
        if self.channels.is_empty() {
            bad("channels", "至少开通一种支付方式".into());
        }
        for c in &self.channels {
            if c.parse::<Method>().is_err() {
                bad("channels", format!("未知的支付方式“{c}”"));
            }
        }
        if self.channels.iter().enumerate().any(|(i, c)| self.channels[..i].contains(c)) {
            bad("channels", "支付方式重复".into());
        }
        if self.payee.trim().is_empty() || !plain(&self.payee, 64) {
            bad("payee", "请填写收款单位（最多64字）".into());
        }
        if let Some(a) = &self.agreement
            && (a.title.trim().is_empty() || a.text.trim().is_empty() || a.countdown_s > 60 || !plain(&a.title, 60))
        {
            bad("agreement", "缴费协议须有标题和正文，倒计时最多60秒".into());
        }
        if !(5..=240).contains(&self.session_idle_minutes) {
            bad("session_idle_minutes", "无操作退出时间应为 5–240 分钟".into());
        }
        if !(1..=24).contains(&self.session_absolute_hours) || self.session_idle_minutes > self.session_absolute_hours * 60 {
            bad("session_absolute_hours", "登录最长有效期应为 1–24 小时，且不短于无操作退出时间".into());
        }
        if !plain(&self.contact, 200) {
            bad("contact", "联系电话说明最多200字".into());
        }
        if self.approval_threshold_fen < 0 {
            bad("approval_threshold_fen", "复核金额门槛不能为负".into());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> SchoolPolicy {
        serde_json::from_value(serde_json::json!({
            "login_ids": ["student_no"],
            "initial_password": {"kind": "id_card_tail", "len": 6},
            "force_change_initial": true,
            "force_change_weak": true,
            "recovery": [{"kind": "contact_office", "text": "财务处 0000-0000000"}],
            "captcha": false,
            "order_no": {"kind": "daily_sequence", "prefix": "XF", "school_code": "NEWU"},
            "order_ttl_minutes": 1440,
            "item_lock_minutes": 10,
            "reuse_unpaid_order": false,
            "channels": ["wechat_native", "alipay_qr"],
            "payee": "新大学",
            "profile_required": false,
        }))
        .unwrap()
    }

    #[test]
    fn a_sound_policy_has_no_problems_and_each_bad_field_is_named() {
        assert_eq!(good().problems(), []);
        let fields = |p: SchoolPolicy| p.problems().into_iter().map(|p| p.field).collect::<Vec<_>>();
        assert_eq!(fields(SchoolPolicy { login_ids: vec![], ..good() }), ["login_ids"]);
        assert_eq!(fields(SchoolPolicy { channels: vec!["bitcoin".into()], ..good() }), ["channels"]);
        assert_eq!(fields(SchoolPolicy { order_ttl_minutes: 0, ..good() }), ["order_ttl_minutes"]);
        assert_eq!(fields(SchoolPolicy { payee: " ".into(), ..good() }), ["payee"]);
        let short = InitialPassword::IdCardTail { len: 2, suffix: String::new() };
        assert_eq!(fields(SchoolPolicy { initial_password: short, ..good() }), ["initial_password"]);
        assert_eq!(fields(SchoolPolicy { session_idle_minutes: 600, ..good() }), ["session_idle_minutes"]);
        assert_eq!(fields(SchoolPolicy { session_idle_minutes: 90, session_absolute_hours: 1, ..good() }), ["session_absolute_hours"]);
        assert_eq!(fields(SchoolPolicy { payee: "收款\u{202e}方".into(), ..good() }), ["payee"]);
        assert_eq!(fields(SchoolPolicy { approval_threshold_fen: -1, ..good() }), ["approval_threshold_fen"]);
    }
}
