//! Which charges a student may put in one order, and for how much (SPEC §3, §4 step 1).
//!
//! The caller loads what the student owes ([`OwedCharge`]) and what was asked for
//! ([`CartRequest`]); [`validate_cart`] answers with the amounts ([`ValidCart`]) or with one
//! [`CartError`] carrying what the page needs to offer a fix (names, charge ids, amounts).
//!
//! Checks run in this order, and the first failure is returned: opening hours, profile, empty
//! cart, each line (known, not twice, something left, collecting, window, amount), mandatory
//! first, parent items, receipt types, total. Earlier checks are the ones a student cannot fix
//! by changing the selection, so they are reported before selection advice.

use crate::money::{Fen, MoneyError};
use crate::policy::SchoolPolicy;
use crate::profile::{valid_email, valid_phone};
use crate::time::{format_shanghai, shanghai_minute_of_day};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One charge of the student that still has something left to pay, with the rules of its item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwedCharge {
    pub charge_id: i64,
    pub item_id: i64,
    /// 收费项目 name as the page shows it, e.g. 学费.
    pub item_name: String,
    /// The parent item when this item is a sub-item (子项目).
    pub parent_item_id: Option<i64>,
    pub parent_name: Option<String>,
    /// 票据类型: items of different types never share an order (003).
    pub receipt_type: String,
    /// 必缴 (002).
    pub mandatory: bool,
    /// The item may be paid in instalments (分期, 001).
    pub instalments: bool,
    /// Smallest instalment; ignored when `instalments` is false.
    pub instalment_min: Fen,
    /// Arrears (欠费) of the charge: [`crate::ChargeAmounts::arrears`].
    pub left: Fen,
    /// Money has already been received on this charge.
    pub paid_any: bool,
    /// Money has already been received on this charge or on another sub-item of the same
    /// parent (including sub-items already paid in full, which are not in the owed list).
    pub parent_started: bool,
    /// 收费起始/终止 as unix seconds, half-open `[start, end)` (004).
    pub window: Option<(i64, i64)>,
    /// The item is 收费中 rather than 停止收费 (004).
    pub collecting: bool,
    /// 缓缴: the office deferred this charge until this moment (unix seconds, the end of the
    /// deferral's last day); until then it does not hold back the others.
    pub deferred_until: Option<i64>,
}

impl OwedCharge {
    /// Collecting and inside its window at `now`.
    pub fn payable_at(&self, now: i64) -> bool {
        self.collecting && self.window.is_none_or(|(start, end)| start <= now && now < end)
    }
}

/// One line the student asked for; `amount: None` means "all that is left".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CartRequest {
    pub charge_id: i64,
    pub amount: Option<Fen>,
}

/// What the rules need besides the charges.
#[derive(Debug, Clone, Copy)]
pub struct CartContext<'a> {
    /// Unix seconds.
    pub now: i64,
    pub policy: &'a SchoolPolicy,
    /// The student's phone and e-mail as on the profile.
    pub phone: &'a str,
    pub email: &'a str,
}

/// An accepted cart: the lines in request order, and their checked sum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidCart {
    /// `(charge_id, amount)`.
    pub lines: Vec<(i64, Fen)>,
    pub total: Fen,
}

/// Items of one receipt type in a refused cart; the first group is the one to pay first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceiptGroup {
    pub receipt_type: String,
    pub item_names: Vec<String>,
    pub charge_ids: Vec<i64>,
}

/// Why a cart is refused. The `Display` text is the Chinese message for the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum CartError {
    #[error("当前不在缴费时间，请在每日{hours}内缴费")]
    OutsideOpeningHours { hours: String },
    #[error("请先完善个人信息（{}）后再缴费", fields_zh(.fields))]
    ProfileIncomplete {
        /// `phone` and/or `email`.
        fields: Vec<&'static str>,
    },
    #[error("请选择要缴纳的项目")]
    Empty,
    #[error("所选项目不存在或已缴清，请刷新页面")]
    UnknownCharge { charge_id: i64 },
    #[error("{item_name}被重复选择")]
    Duplicate { charge_id: i64, item_name: String },
    #[error("{item_name}已缴清，无需再缴")]
    NothingLeft { charge_id: i64, item_name: String },
    #[error("{item_name}已停止收费")]
    Stopped { charge_id: i64, item_name: String },
    #[error("{item_name}尚未开始收费，收费时间自{}起", format_shanghai(*.starts))]
    NotYetOpen { charge_id: i64, item_name: String, starts: i64 },
    #[error("{item_name}已于{}停止收费", format_shanghai(*.ended))]
    WindowEnded { charge_id: i64, item_name: String, ended: i64 },
    #[error("{item_name}的缴费金额必须大于0")]
    AmountNotPositive { charge_id: i64, item_name: String },
    #[error("{item_name}不支持分期缴费，请一次缴清{left}")]
    FullAmountRequired { charge_id: i64, item_name: String, left: Fen },
    #[error("{item_name}每次至少缴纳{min}（或缴清剩余的{left}）")]
    BelowMinimum { charge_id: i64, item_name: String, min: Fen, left: Fen },
    #[error("{item_name}最多还需缴纳{left}")]
    AboveLeft { charge_id: i64, item_name: String, left: Fen },
    #[error("请先缴清必缴项目：{}", .item_names.join("、"))]
    MandatoryFirst {
        item_names: Vec<String>,
        /// The outstanding mandatory charges, to pre-select.
        charge_ids: Vec<i64>,
    },
    #[error("{parent_name}的子项目需全部缴清后才能选择其他项目，请先缴清：{}", .item_names.join("、"))]
    FinishParentFirst {
        parent_item_id: i64,
        parent_name: String,
        /// The parent's sub-items this cart leaves unfinished.
        item_names: Vec<String>,
        charge_ids: Vec<i64>,
    },
    #[error("{}需与其他费用分开缴纳，请先缴{}", join_and(&.groups[0].item_names), .groups[0].item_names.join("、"))]
    MixedReceiptTypes {
        /// Never fewer than two groups; the first is the suggested order.
        groups: Vec<ReceiptGroup>,
    },
    #[error("金额超出范围")]
    Overflow,
}

impl From<MoneyError> for CartError {
    fn from(_: MoneyError) -> Self {
        CartError::Overflow
    }
}

impl CartError {
    /// The same message in English; item names stay as the school wrote them.
    pub fn message_en(&self) -> String {
        use CartError::*;
        match self {
            OutsideOpeningHours { hours } => {
                format!("Payment is open daily {hours} (Beijing time)")
            }
            ProfileIncomplete { fields } => {
                let en: Vec<&str> = fields.iter().map(|f| if *f == "phone" { "mobile number" } else { "e-mail" }).collect();
                format!("Complete your profile ({}) before paying", en.join(", "))
            }
            Empty => "Choose at least one item to pay".into(),
            UnknownCharge { .. } => "An item is no longer owed; reload the page".into(),
            Duplicate { item_name, .. } => format!("{item_name} was chosen twice"),
            NothingLeft { item_name, .. } => format!("{item_name} is already paid"),
            Stopped { item_name, .. } => format!("{item_name} is no longer collected"),
            NotYetOpen { item_name, starts, .. } => {
                format!("{item_name} can be paid from {}", format_shanghai(*starts))
            }
            WindowEnded { item_name, ended, .. } => {
                format!("Collection of {item_name} ended at {}", format_shanghai(*ended))
            }
            AmountNotPositive { item_name, .. } => {
                format!("The amount for {item_name} must be above zero")
            }
            FullAmountRequired { item_name, left, .. } => {
                format!("{item_name} cannot be paid in instalments; pay the full {left}")
            }
            BelowMinimum { item_name, min, left, .. } => {
                format!("Pay at least {min} for {item_name} (or the remaining {left})")
            }
            AboveLeft { item_name, left, .. } => format!("At most {left} is left to pay for {item_name}"),
            MandatoryFirst { item_names, .. } => {
                format!("Pay the mandatory items first: {}", item_names.join(", "))
            }
            FinishParentFirst { parent_name, item_names, .. } => {
                format!("Finish all parts of {parent_name} before choosing other items; still to pay: {}", item_names.join(", "))
            }
            MixedReceiptTypes { groups } => format!(
                "{} cannot share an order with other fees (different receipt types); pay them first",
                groups[0].item_names.join(", ")
            ),
            Overflow => "The amount is out of range".into(),
        }
    }
}

fn fields_zh(fields: &[&str]) -> String {
    let zh: Vec<&str> = fields.iter().map(|f| if *f == "phone" { "手机号" } else { "邮箱" }).collect();
    zh.join("、")
}

/// `学费`, `学费和住宿费`, `学费、住宿费和教材费`.
fn join_and(names: &[String]) -> String {
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{}和{last}", rest.join("、")),
        Some((last, _)) => last.clone(),
        None => String::new(),
    }
}

/// Names once each, in first-seen order (a name can recur across periods).
fn unique_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    names.into_iter().filter(|n| seen.insert(*n)).map(str::to_owned).collect()
}

/// Validates one order's cart against the student's charges and the school policy.
///
/// `owed` must hold every charge of the student that still has something left (not only the
/// requested ones): the mandatory and parent rules look at the charges *not* in the cart.
pub fn validate_cart(owed: &[OwedCharge], cart: &[CartRequest], ctx: &CartContext<'_>) -> Result<ValidCart, CartError> {
    if let Some(hours) = ctx.policy.opening_hours
        && !hours.is_open_at(shanghai_minute_of_day(ctx.now))
    {
        return Err(CartError::OutsideOpeningHours { hours: hours.label() });
    }
    if ctx.policy.profile_required {
        let mut fields = Vec::new();
        if !valid_phone(ctx.phone.trim()) {
            fields.push("phone");
        }
        if !valid_email(ctx.email.trim()) {
            fields.push("email");
        }
        if !fields.is_empty() {
            return Err(CartError::ProfileIncomplete { fields });
        }
    }
    if cart.is_empty() {
        return Err(CartError::Empty);
    }

    let by_id: BTreeMap<i64, &OwedCharge> = owed.iter().map(|c| (c.charge_id, c)).collect();
    let mut lines: Vec<(&OwedCharge, Fen)> = Vec::with_capacity(cart.len());
    for req in cart {
        let charge = *by_id.get(&req.charge_id).ok_or(CartError::UnknownCharge { charge_id: req.charge_id })?;
        if lines.iter().any(|(c, _)| c.charge_id == req.charge_id) {
            return Err(CartError::Duplicate { charge_id: req.charge_id, item_name: charge.item_name.clone() });
        }
        lines.push((charge, check_line(charge, req.amount, ctx.now)?));
    }

    check_mandatory_first(owed, &lines, ctx.now)?;
    check_parents(owed, &lines, ctx.now)?;
    check_receipt_types(&lines)?;

    let total = Fen::sum(lines.iter().map(|(_, a)| *a))?;
    Ok(ValidCart { lines: lines.iter().map(|(c, a)| (c.charge_id, *a)).collect(), total })
}

/// The amount of one line, once the charge is known to be payable now.
fn check_line(c: &OwedCharge, amount: Option<Fen>, now: i64) -> Result<Fen, CartError> {
    let (charge_id, item_name) = (c.charge_id, c.item_name.clone());
    if !c.left.is_positive() {
        return Err(CartError::NothingLeft { charge_id, item_name });
    }
    if !c.collecting {
        return Err(CartError::Stopped { charge_id, item_name });
    }
    if let Some((starts, ended)) = c.window {
        if now < starts {
            return Err(CartError::NotYetOpen { charge_id, item_name, starts });
        }
        if now >= ended {
            return Err(CartError::WindowEnded { charge_id, item_name, ended });
        }
    }
    let amount = amount.unwrap_or(c.left);
    if !amount.is_positive() {
        return Err(CartError::AmountNotPositive { charge_id, item_name });
    }
    if !c.instalments {
        if amount != c.left {
            return Err(CartError::FullAmountRequired { charge_id, item_name, left: c.left });
        }
    } else if amount > c.left {
        return Err(CartError::AboveLeft { charge_id, item_name, left: c.left });
    } else if amount < c.instalment_min && amount != c.left {
        // The last instalment may be below the minimum: it is all that is left.
        return Err(CartError::BelowMinimum { charge_id, item_name, min: c.instalment_min, left: c.left });
    }
    Ok(amount)
}

/// Mandatory first (002): a cart with an optional line is refused while a mandatory charge with
/// arrears is not in the cart. Mandatory charges that cannot be paid now (stopped, outside their
/// window) do not block, or an office stopping one item would lock the student out of all others;
/// nor do charges the office deferred (缓缴, the green channel), until the deferral ends.
fn check_mandatory_first(owed: &[OwedCharge], lines: &[(&OwedCharge, Fen)], now: i64) -> Result<(), CartError> {
    if lines.iter().all(|(c, _)| c.mandatory) {
        return Ok(());
    }
    let in_cart: BTreeSet<i64> = lines.iter().map(|(c, _)| c.charge_id).collect();
    let missing: Vec<&OwedCharge> = owed
        .iter()
        .filter(|c| {
            c.mandatory
                && c.deferred_until.is_none_or(|t| now >= t)
                && c.left.is_positive()
                && c.payable_at(now)
                && !in_cart.contains(&c.charge_id)
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(CartError::MandatoryFirst {
        item_names: unique_names(missing.iter().map(|c| c.item_name.as_str())),
        charge_ids: missing.iter().map(|c| c.charge_id).collect(),
    })
}

/// Parent items (002). The exact rule:
///
/// * A parent is *started* when money was received on one of its sub-items before this order
///   (`paid_any` or `parent_started` on any of its owed sub-items), and *chosen* when one of its
///   sub-items is in this cart. It is *open* when started or chosen.
/// * An open parent is *finished by this cart* when every sub-item of it that is owed and
///   payable now is in the cart for its whole `left`.
/// * While an open parent P is not finished by this cart, every line of the cart must be a
///   sub-item of P or of a started parent. So once P is begun, nothing else may be chosen until
///   P is paid up — except in the very order that pays P up.
///
/// Sub-items of *started* parents are always allowed together: with two parents begun earlier
/// (e.g. offline payments), requiring each to be finished first would lock the student out.
/// Sub-items that cannot be paid now do not count as unfinished, for the same reason.
fn check_parents(owed: &[OwedCharge], lines: &[(&OwedCharge, Fen)], now: i64) -> Result<(), CartError> {
    struct Parent<'a> {
        name: &'a str,
        started: bool,
        chosen: bool,
        unfinished: Vec<&'a OwedCharge>,
    }
    let amount_in_cart: BTreeMap<i64, Fen> = lines.iter().map(|(c, a)| (c.charge_id, *a)).collect();
    let mut parents: BTreeMap<i64, Parent<'_>> = BTreeMap::new();
    for c in owed {
        let Some(pid) = c.parent_item_id else {
            continue;
        };
        let p = parents.entry(pid).or_insert(Parent { name: "", started: false, chosen: false, unfinished: vec![] });
        if p.name.is_empty() {
            p.name = c.parent_name.as_deref().unwrap_or("");
        }
        p.started |= c.paid_any || c.parent_started;
        let chosen = amount_in_cart.get(&c.charge_id);
        p.chosen |= chosen.is_some();
        if c.left.is_positive() && c.payable_at(now) && chosen != Some(&c.left) {
            p.unfinished.push(c);
        }
    }
    for (&pid, p) in &parents {
        if !(p.started || p.chosen) || p.unfinished.is_empty() {
            continue;
        }
        let allowed = |c: &OwedCharge| c.parent_item_id.is_some_and(|q| q == pid || parents.get(&q).is_some_and(|qp| qp.started));
        if !lines.iter().all(|(c, _)| allowed(c)) {
            let name = if p.name.is_empty() { p.unfinished[0].item_name.as_str() } else { p.name };
            return Err(CartError::FinishParentFirst {
                parent_item_id: pid,
                parent_name: name.to_owned(),
                item_names: unique_names(p.unfinished.iter().map(|c| c.item_name.as_str())),
                charge_ids: p.unfinished.iter().map(|c| c.charge_id).collect(),
            });
        }
    }
    Ok(())
}

/// One receipt type per order (003). The group to pay first is the one holding a mandatory
/// item, else the one of the first line; the others follow in first-seen order.
fn check_receipt_types(lines: &[(&OwedCharge, Fen)]) -> Result<(), CartError> {
    let mut groups: Vec<(ReceiptGroup, bool)> = Vec::new();
    for (c, _) in lines {
        let i = match groups.iter().position(|(g, _)| g.receipt_type == c.receipt_type) {
            Some(i) => i,
            None => {
                let g = ReceiptGroup { receipt_type: c.receipt_type.clone(), item_names: vec![], charge_ids: vec![] };
                groups.push((g, false));
                groups.len() - 1
            }
        };
        let (g, mandatory) = &mut groups[i];
        if !g.item_names.contains(&c.item_name) {
            g.item_names.push(c.item_name.clone());
        }
        g.charge_ids.push(c.charge_id);
        *mandatory |= c.mandatory;
    }
    if groups.len() < 2 {
        return Ok(());
    }
    if let Some(i) = groups.iter().position(|(_, mandatory)| *mandatory) {
        let first = groups.remove(i);
        groups.insert(0, first);
    }
    Err(CartError::MixedReceiptTypes { groups: groups.into_iter().map(|(g, _)| g).collect() })
}

#[cfg(test)]
mod tests;
