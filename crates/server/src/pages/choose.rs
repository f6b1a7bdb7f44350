//! Paying, first half: choose items on the home page, read the agreement (001), confirm
//! (000, 004) and create the order through `services::orders`.

use super::extract::{Posted, StudentForm, StudentPage};
use super::form::{CartForm, Pairs, stamp, stamped_time};
use super::pay_views::{AgreementPage, ConfirmLine, ConfirmPage};
use super::views::{AnnouncementView, ChargeRowView, HomePage};
use super::{error_page, render, school_name};
use crate::AppState;
use crate::i18n::Lang;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use campuspay_app::Error;
use campuspay_app::payment::orders::{self, Invoice, NewOrderInput};
use campuspay_app::student::profile;
use campuspay_store::On;
use campuspay_store::db_now as now;
use campuspay_store::schools::School;
use campuspay_store::sessions::SessionRow;
use serde_json::Value;
use std::collections::BTreeMap;

/// What the student chose on the home page, and why it was refused when it was.
#[derive(Debug, Default)]
pub struct Choice {
    pub selected: Vec<i64>,
    pub amounts: BTreeMap<i64, String>,
    pub error: Option<String>,
    /// The error is about this item: shown in its row, next to its amount.
    pub error_charge: Option<i64>,
    /// The live order that already holds an item (409): linked from the message.
    pub held_order: Option<String>,
    /// The rule's suggestion, already applied to the ticks: "已为您勾选…".
    pub suggestion: Option<String>,
    /// The refusal is fixed on 个人信息 (czie: phone and e-mail before paying): link it.
    pub profile_link: bool,
    /// Items of the cart were paid meanwhile (Back after paying): link 缴费记录.
    pub records_link: bool,
}

impl Choice {
    pub fn is_checked(&self, id: &i64) -> bool {
        self.selected.contains(id)
    }

    pub fn amount(&self, id: &i64) -> &str {
        self.amounts.get(id).map(String::as_str).unwrap_or("")
    }

    pub fn row_error(&self, id: &i64) -> Option<&str> {
        if self.error_charge == Some(*id) { self.error.as_deref() } else { None }
    }

    pub fn general_error(&self) -> Option<&str> {
        if self.error_charge.is_none() { self.error.as_deref() } else { None }
    }

    pub fn of(cart: &CartForm) -> Choice {
        Choice {
            selected: cart.lines.iter().map(|(id, _)| *id).collect(),
            amounts: cart.lines.iter().filter(|(_, a)| !a.is_empty()).map(|(id, a)| (*id, a.clone())).collect(),
            ..Choice::default()
        }
    }

    /// The refusal of `cart`, with the cart rule's own fix applied where it has one.
    pub fn refused(cart: &CartForm, e: &Error, lang: Lang) -> Choice {
        let mut c = Choice::of(cart);
        c.error = Some(e.message(lang).to_string());
        let d = e.details.clone().unwrap_or(Value::Null);
        let ids = |v: &Value| -> Vec<i64> { v.as_array().map(|a| a.iter().filter_map(Value::as_i64).collect()).unwrap_or_default() };
        let names = |v: &Value| -> String {
            v.as_array().map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("、")).unwrap_or_default()
        };
        c.error_charge = d["charge_id"].as_i64();
        c.profile_link = d["code"] == "profile_incomplete";
        if let Some(no) = d["order_no"].as_str().filter(|n| !n.is_empty()) {
            c.held_order = Some(no.to_string());
        }
        match d["code"].as_str() {
            Some("mixed_receipt_types") => {
                c.selected = ids(&d["groups"][0]["charge_ids"]);
                c.suggestion = Some(format!(
                    "{}{}",
                    lang.t("已为您勾选应先缴纳的项目：", "We ticked the items to pay first: "),
                    names(&d["groups"][0]["item_names"])
                ));
            }
            Some("mandatory_first" | "finish_parent_first") => {
                for id in ids(&d["charge_ids"]) {
                    if !c.selected.contains(&id) {
                        c.selected.push(id);
                    }
                }
                c.suggestion = Some(format!(
                    "{}{}",
                    lang.t("已为您勾选需要一并缴清的项目：", "We ticked the items to pay with them: "),
                    names(&d["item_names"])
                ));
            }
            _ => {}
        }
        c
    }
}

/// The home page: the student, the arrears, and the unpaid charges as a form to pay them.
pub async fn home_page(state: &AppState, school: &School, s: &SessionRow, lang: Lang, period: Option<String>, choice: Choice) -> Response {
    let o = match profile::overview(state, s).await {
        Ok(o) => o,
        Err(e) => return error_page(&e, lang),
    };
    let t = now();
    let period = period.filter(|p| o.periods.iter().any(|(c, _)| c == p));
    let rows: Vec<ChargeRowView> = o
        .charges
        .iter()
        .filter(|c| period.as_ref().is_none_or(|p| &c.view.period_code == p))
        .map(|c| ChargeRowView::new(c, lang, t))
        .collect();
    let (unpaid, paid): (Vec<_>, Vec<_>) = rows.into_iter().partition(|r| r.owing);
    let mut choice = choice;
    // A refusal about an item the page does not list would show nowhere: show it on top.
    if choice.error_charge.is_some_and(|id| !unpaid.iter().any(|r| r.id == id)) {
        choice.error_charge = None;
    }
    let announcements = state.store.announcements(school.id, 3).await.unwrap_or_default();
    let refused = choice.error.is_some();
    let mut res = render(&HomePage {
        lang,
        code: school.code.clone(),
        school_name: school_name(school, lang),
        csrf: s.csrf_token.clone(),
        student_name: o.student.name.clone(),
        student_no: o.student.student_no.clone(),
        department: o.student.department.clone(),
        major: o.student.major.clone(),
        level: o.student.level.clone(),
        class_name: o.student.class_name.clone(),
        total_arrears: o.total_arrears.to_string(),
        has_arrears: o.total_arrears.is_positive(),
        years: o.arrears_by_year.iter().map(|(y, f)| (y.clone(), f.to_string())).collect(),
        periods: o.periods.clone(),
        period,
        unpaid,
        paid,
        announcements: announcements.iter().map(AnnouncementView::from).collect(),
        choice,
        hours: school.policy.opening_hours.map(|h| (h.label(), h.is_open_at(campuspay_domain::time::shanghai_minute_of_day(t)))),
    });
    if refused {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    res
}

/// Back to the choose step with the refusal next to the items.
async fn refuse_choice(state: &AppState, school: &School, s: &SessionRow, lang: Lang, cart: &CartForm, e: &Error) -> Response {
    if crate::error::status_of(e.kind).is_server_error() || crate::error::status_of(e.kind) == StatusCode::FORBIDDEN {
        return error_page(e, lang);
    }
    let choice = match profile::overview(state, s).await {
        Ok(o) => match paid_meanwhile(&o, cart, lang) {
            Some(c) => c,
            None => refine(state, s, &o, cart, e, lang).await,
        },
        Err(_) => Choice::refused(cart, e, lang),
    };
    let status = if choice.records_link { StatusCode::CONFLICT } else { crate::error::status_of(e.kind) };
    let mut res = home_page(state, school, s, lang, None, choice).await;
    *res.status_mut() = status;
    res
}

/// Items of the cart that no longer owe anything (paid in another tab, or Back after paying
/// brought the old confirm page): say so and keep only what is still owed ticked, instead
/// of a refusal tied to a row the page no longer lists.
fn paid_meanwhile(o: &profile::Overview, cart: &CartForm, lang: Lang) -> Option<Choice> {
    let owed = |id: &i64| o.charges.iter().any(|c| c.view.id == *id && c.arrears.is_positive());
    let gone: Vec<String> = cart
        .lines
        .iter()
        .filter(|(id, _)| !owed(id))
        .filter_map(|(id, _)| o.charges.iter().find(|c| c.view.id == *id))
        .map(|c| item_name(c, lang))
        .collect();
    if gone.is_empty() {
        return None;
    }
    let kept = CartForm { lines: cart.lines.iter().filter(|(id, _)| owed(id)).cloned().collect() };
    let mut c = Choice::of(&kept);
    c.error = Some(if lang.is_en() {
        format!("Already paid: {}. Nothing more to pay for these; see your payment records.", gone.join(", "))
    } else {
        format!("这些项目已缴清：{}，无需再缴。可在缴费记录中查看。", gone.join("、"))
    });
    c.records_link = true;
    Some(c)
}

fn item_name(c: &profile::ChargeLine, lang: Lang) -> String {
    let name = if lang.is_en() && !c.view.item_name_en.is_empty() { &c.view.item_name_en } else { &c.view.item_name };
    format!("{name}（{}）", c.view.period_name)
}

/// The refusal with its fix applied, checked until the fixed cart is accepted: following a
/// suggestion must never be refused again (cqjzc ticked 学费、住宿费、提档费 beside an optional
/// 体检费, and 去缴费 was refused again for receipt types). Mandatory items first means paying
/// only mandatory items, so the optional ones are unticked. The note says what was done.
async fn refine(state: &AppState, s: &SessionRow, o: &profile::Overview, cart: &CartForm, e: &Error, lang: Lang) -> Choice {
    const FIXABLE: [&str; 3] = ["mandatory_first", "finish_parent_first", "mixed_receipt_types"];
    let code = |e: &Error| e.details.as_ref().and_then(|d| d["code"].as_str().map(str::to_string)).unwrap_or_default();
    let mut c = Choice::refused(cart, e, lang);
    if !FIXABLE.contains(&code(e).as_str()) {
        return c;
    }
    let mandatory = |id: &i64| o.charges.iter().any(|ch| ch.view.id == *id && ch.view.mandatory);
    if code(e) == "mandatory_first" {
        c.selected.retain(mandatory);
    }
    for _ in 0..3 {
        let next = CartForm { lines: c.selected.iter().map(|id| (*id, c.amounts.get(id).cloned().unwrap_or_default())).collect() };
        let Ok(requests) = next.requests() else { break };
        match orders::preview(state, s, &requests).await {
            Ok(_) => break,
            Err(e2) if FIXABLE.contains(&code(&e2).as_str()) => {
                let mut again = Choice::refused(&next, &e2, lang);
                if code(&e2) == "mandatory_first" {
                    again.selected.retain(mandatory);
                }
                c.selected = again.selected;
            }
            Err(_) => break,
        }
    }
    let name_of = |id: &i64| o.charges.iter().find(|ch| ch.view.id == *id).map(|ch| item_name(ch, lang));
    let before: Vec<i64> = cart.lines.iter().map(|(id, _)| *id).collect();
    let added: Vec<String> = c.selected.iter().filter(|id| !before.contains(id)).filter_map(name_of).collect();
    let removed: Vec<String> = before.iter().filter(|id| !c.selected.contains(id)).filter_map(name_of).collect();
    let sep = lang.t("、", ", ");
    let mut note = Vec::new();
    if !added.is_empty() {
        note.push(format!("{}{}", lang.t("已为您勾选：", "We ticked: "), added.join(sep)));
    }
    if !removed.is_empty() {
        note.push(format!(
            "{}{}{}",
            lang.t("已取消勾选：", "We unticked: "),
            removed.join(sep),
            lang.t("（可在之后单独缴纳）", " (pay them afterwards)")
        ));
    }
    c.amounts.retain(|id, _| c.selected.contains(id));
    c.suggestion = (!note.is_empty())
        .then(|| format!("{}{}", note.join(lang.t("；", "; ")), lang.t("。请核对后点“去缴费”。", ". Check and press Pay.")));
    c
}

/// The cart checked before anything else of paying: an empty or refused cart is told so at
/// once, not after ejt's 10-second agreement.
async fn cart_refusal(state: &AppState, school: &School, s: &SessionRow, lang: Lang, cart: &CartForm) -> Option<Response> {
    let err = match cart.requests() {
        Ok(requests) => orders::preview(state, s, &requests).await.err()?,
        Err(bad) => {
            let mut c = Choice::refused(cart, &bad.error, lang);
            c.error_charge = Some(bad.charge_id);
            let mut res = home_page(state, school, s, lang, None, c).await;
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            return Some(res);
        }
    };
    Some(refuse_choice(state, school, s, lang, cart, &err).await)
}

/// The agreement must have been agreed to (001) before the confirm step and the order.
fn agreed(school: &School, s: &SessionRow, q: &Pairs) -> bool {
    school.policy.agreement.is_none() || stamped_time(s, "agreed", q.get("agreed")).is_some_and(|t| now() - t < 2 * 3600)
}

fn agreement_url(code: &str, cart: &CartForm) -> String {
    format!("/s/{code}/pay/agreement?{}", cart.query())
}

/// GET: the agreement, with the time it was served stamped into its form.
pub async fn agreement_page(State(state): State<AppState>, page: StudentPage, Query(q): Query<Pairs>) -> Response {
    let StudentPage { school, session: s, client } = page;
    let code = &school.code;
    let cart = CartForm::from_pairs(&q);
    if let Some(refused) = cart_refusal(&state, &school, &s, client.lang, &cart).await {
        return refused;
    }
    if school.policy.agreement.is_none() {
        return Redirect::to(&format!("/s/{code}/pay/confirm?{}", cart.query())).into_response();
    }
    render(&agreement_view(&school, &s, client.lang, &cart, stamp(&s, "shown", now()), None))
}

fn agreement_view(school: &School, s: &SessionRow, lang: Lang, cart: &CartForm, shown: String, error: Option<String>) -> AgreementPage {
    let a = school.policy.agreement.clone().unwrap_or_else(|| campuspay_domain::policy::Agreement {
        title: String::new(),
        text: String::new(),
        countdown_s: 0,
    });
    let waited = stamped_time(s, "shown", &shown).map(|t| now() - t).unwrap_or(0);
    AgreementPage {
        lang,
        code: school.code.clone(),
        school_name: school_name(school, lang),
        csrf: s.csrf_token.clone(),
        title: a.title,
        paragraphs: a.text.lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect(),
        countdown_s: a.countdown_s,
        remaining_s: (i64::from(a.countdown_s) - waited).max(0),
        shown,
        lines: cart.lines.clone(),
        back: format!("/s/{}/home", school.code),
        error,
    }
}

/// POST 同意: refused unless the agreement was on screen for its whole countdown.
pub async fn agree_submit(posted: StudentForm<Pairs>) -> Response {
    let Posted { page: StudentPage { school, session: s, client }, form: f } = posted;
    let (lang, code, cart) = (client.lang, &school.code, CartForm::from_pairs(&f));
    let Some(countdown) = school.policy.agreement.as_ref().map(|a| i64::from(a.countdown_s)) else {
        return Redirect::to(&format!("/s/{code}/pay/confirm?{}", cart.query())).into_response();
    };
    let Some(shown) = stamped_time(&s, "shown", f.get("shown")) else {
        // No genuine stamp: serve the agreement afresh, and its countdown starts now.
        return Redirect::to(&agreement_url(code, &cart)).into_response();
    };
    let waited = now() - shown;
    if waited < countdown {
        let msg = if lang.is_en() {
            format!("Please read the notice: you can agree after {countdown} seconds ({} s to go)", countdown - waited)
        } else {
            format!("请仔细阅读缴费须知，{countdown}秒后才能点击同意（还需{}秒）", countdown - waited)
        };
        let mut res = render(&agreement_view(&school, &s, lang, &cart, f.get("shown").to_string(), Some(msg)));
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return res;
    }
    let agreed = stamp(&s, "agreed", now());
    Redirect::to(&format!("/s/{code}/pay/confirm?{}&agreed={agreed}", cart.query())).into_response()
}

/// The confirm form's values after a refusal, so nothing typed is lost.
#[derive(Default)]
pub struct ConfirmInput {
    pub phone: Option<String>,
    pub invoice_kind: String,
    pub invoice_title: String,
    pub invoice_tax_no: String,
    /// Let the balance (余额) pay what it covers.
    pub use_balance: bool,
}

/// GET: the chosen items, amounts and total, the payee, the e-receipt phone and the invoice.
pub async fn confirm_page(State(state): State<AppState>, page: StudentPage, Query(q): Query<Pairs>) -> Response {
    let StudentPage { school, session: s, client } = page;
    let code = &school.code;
    let cart = CartForm::from_pairs(&q);
    if !agreed(&school, &s, &q) {
        if let Some(refused) = cart_refusal(&state, &school, &s, client.lang, &cart).await {
            return refused;
        }
        return Redirect::to(&agreement_url(code, &cart)).into_response();
    }
    confirm_view(&state, &school, &s, client.lang, &cart, q.get("agreed"), ConfirmInput::default(), None).await
}

#[allow(clippy::too_many_arguments)]
async fn confirm_view(
    state: &AppState,
    school: &School,
    s: &SessionRow,
    lang: Lang,
    cart: &CartForm,
    agreed: &str,
    input: ConfirmInput,
    error: Option<&Error>,
) -> Response {
    let requests = match cart.requests() {
        Ok(r) => r,
        Err(bad) => {
            let mut c = Choice::refused(cart, &bad.error, lang);
            c.error_charge = Some(bad.charge_id);
            let mut res = home_page(state, school, s, lang, None, c).await;
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            return res;
        }
    };
    let p = match orders::preview(state, s, &requests).await {
        Ok(p) => p,
        Err(e) => return refuse_choice(state, school, s, lang, cart, &e).await,
    };
    let lines = p
        .cart
        .lines
        .iter()
        .filter_map(|(id, amount)| {
            let c = p.overview.charges.iter().find(|c| c.view.id == *id)?;
            let name = if lang.is_en() && !c.view.item_name_en.is_empty() { &c.view.item_name_en } else { &c.view.item_name };
            Some(ConfirmLine {
                item: name.clone(),
                period: c.view.period_name.clone(),
                left: c.arrears.to_string(),
                amount: amount.to_string(),
                partial: *amount < c.arrears,
            })
        })
        .collect();
    let balance = state.store.balance(On::Pool, s.school_id, s.student_id).await.unwrap_or_default();
    let mut res = render(&ConfirmPage {
        balance: balance.is_positive().then(|| balance.min(p.cart.total).to_string()),
        use_balance: input.use_balance,
        lang,
        code: school.code.clone(),
        school_name: school_name(school, lang),
        csrf: s.csrf_token.clone(),
        lines,
        total: p.cart.total.to_string(),
        payee: school.policy.payee.clone(),
        ttl_hours: school.policy.order_ttl_minutes.div_ceil(60),
        ttl_minutes: school.policy.order_ttl_minutes,
        phone: input.phone.unwrap_or_else(|| p.overview.student.phone.clone()),
        phone_masked: campuspay_domain::profile::mask_phone(&p.overview.student.phone),
        company: input.invoice_kind == "company",
        invoice_title: input.invoice_title,
        invoice_tax_no: input.invoice_tax_no,
        cart: cart.lines.clone(),
        agreed: agreed.to_string(),
        back: format!("/s/{}/home?{}", school.code, cart.query()),
        error: error.map(|e| e.message(lang).to_string()),
        error_field: error.and_then(|e| e.field).unwrap_or(""),
    });
    if let Some(e) = error {
        *res.status_mut() = crate::error::status_of(e.kind);
    }
    res
}

/// POST 提交订单 → `orders::create_order` → the order page.
pub async fn create_submit(State(state): State<AppState>, posted: StudentForm<Pairs>) -> Response {
    let Posted { page: StudentPage { school, session: s, client }, form: f } = posted;
    let (lang, code, cart) = (client.lang, &school.code, CartForm::from_pairs(&f));
    if !agreed(&school, &s, &f) {
        return Redirect::to(&agreement_url(code, &cart)).into_response();
    }
    let input = ConfirmInput {
        phone: Some(f.get("phone").trim().chars().take(20).collect()),
        invoice_kind: if f.get("invoice_kind") == "company" { "company".into() } else { "individual".into() },
        invoice_title: f.get("invoice_title").trim().chars().take(100).collect(),
        invoice_tax_no: f.get("invoice_tax_no").trim().chars().take(30).collect(),
        use_balance: f.get("use_balance") == "1",
    };
    let requests = match cart.requests() {
        Ok(r) => r,
        Err(bad) => return refuse_choice(&state, &school, &s, lang, &cart, &bad.error).await,
    };
    let new = NewOrderInput {
        lines: requests,
        phone: input.phone.clone(),
        invoice: Some(Invoice {
            kind: input.invoice_kind.clone(),
            title: input.invoice_title.clone(),
            tax_no: input.invoice_tax_no.clone(),
        }),
        use_balance: input.use_balance,
    };
    match orders::create_order(&state, &s, &new).await {
        Ok(created) => Redirect::to(&format!("/s/{code}/orders/{}", created.order.order_no)).into_response(),
        Err(e) if matches!(e.field, Some("phone" | "invoice_title" | "invoice_tax_no")) || e.code == "invoice_kind" => {
            confirm_view(&state, &school, &s, lang, &cart, f.get("agreed"), input, Some(&e)).await
        }
        Err(e) => refuse_choice(&state, &school, &s, lang, &cart, &e).await,
    }
}
