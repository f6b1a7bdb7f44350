//! Template structs: what each page shows, already formatted (money as `¥3,000.00`).

use crate::i18n::Lang;
use askama::Template;
use campuspay_app::Error;
use campuspay_app::student::profile::ChargeLine;
use campuspay_domain::{ChargeState, idcard, profile, time};
use campuspay_store::announcements::Announcement;
use campuspay_store::schools::School;
use campuspay_store::sessions::SessionRow;
use campuspay_store::students::Student;

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub lang: Lang,
    pub message: String,
}

pub struct SchoolLink {
    pub code: String,
    pub name: String,
    pub region: String,
}

#[derive(Template)]
#[template(path = "index.html")]
pub struct IndexPage {
    pub lang: Lang,
    pub regions: Vec<String>,
    pub selected: Option<String>,
    pub schools: Vec<SchoolLink>,
}

pub struct CaptchaView {
    pub id: String,
    pub image: String,
}

pub struct AnnouncementView {
    pub title: String,
    pub body: String,
    pub date: String,
}

impl From<&Announcement> for AnnouncementView {
    fn from(a: &Announcement) -> Self {
        AnnouncementView { title: a.title.clone(), body: a.body.clone(), date: time::format_shanghai_date(a.published_at) }
    }
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub lang: Lang,
    pub code: String,
    pub school_name: String,
    pub login_label: String,
    pub initial_hint: String,
    pub login: String,
    pub error: Option<String>,
    pub captcha: Option<CaptchaView>,
    pub contact: Option<String>,
    pub announcements: Vec<AnnouncementView>,
}

#[derive(Template)]
#[template(path = "password.html")]
pub struct PasswordPage {
    pub lang: Lang,
    pub code: String,
    pub school_name: String,
    pub csrf: String,
    pub forced: bool,
    pub error: Option<String>,
    pub error_field: &'static str,
}

pub struct ChargeRowView {
    pub id: i64,
    pub item: String,
    pub parent: Option<String>,
    pub mandatory: bool,
    pub period: String,
    pub total: String,
    pub discount: String,
    pub balance_used: String,
    pub payable: String,
    pub paid: String,
    pub state_label: &'static str,
    pub state_class: &'static str,
    pub window: Option<String>,
    pub collecting: bool,
    pub owing: bool,
    /// What is left to pay, `¥1,200.00`, and the same in fen for the page's running total.
    pub left: String,
    pub left_fen: i64,
    /// The student may pay part of it now (分期), at least `min`.
    pub instalments: bool,
    pub min: String,
    /// Collecting and inside its window: it can be chosen (004 停止 items are shown, not chosen).
    pub selectable: bool,
    /// 缓缴: the school deferred it until this day.
    pub deferred_until: Option<String>,
}

impl ChargeRowView {
    pub fn new(c: &ChargeLine, lang: Lang, now: i64) -> ChargeRowView {
        let v = &c.view;
        let in_window = v.window_start.is_none_or(|s| s <= now) && v.window_end.is_none_or(|e| now < e);
        ChargeRowView {
            id: v.id,
            left: c.arrears.to_string(),
            left_fen: c.arrears.0,
            instalments: v.instalments,
            min: v.instalment_min.to_string(),
            selectable: v.collecting && in_window && c.arrears.is_positive(),
            item: if lang.is_en() && !v.item_name_en.is_empty() { v.item_name_en.clone() } else { v.item_name.clone() },
            parent: v.parent_name.clone(),
            mandatory: v.mandatory,
            period: v.period_name.clone(),
            total: v.amounts.total.to_string(),
            discount: v.amounts.discount.to_string(),
            balance_used: v.amounts.balance_used.to_string(),
            payable: c.payable.to_string(),
            paid: v.amounts.paid.to_string(),
            state_label: if lang.is_en() { c.state.label_en() } else { c.state.label_zh() },
            state_class: match c.state {
                ChargeState::Unpaid => "owing",
                ChargeState::Partial => "partial",
                ChargeState::Paid => "paid",
                ChargeState::Waived => "waived",
            },
            window: match (v.window_start, v.window_end) {
                (Some(a), Some(b)) => Some(format!("{} ~ {}", time::format_shanghai_date(a), time::format_shanghai_date(b))),
                _ => None,
            },
            collecting: v.collecting,
            owing: c.arrears.is_positive(),
            deferred_until: v.deferred_until.clone().filter(|_| c.arrears.is_positive()),
        }
    }
}

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    pub lang: Lang,
    pub code: String,
    pub school_name: String,
    pub csrf: String,
    pub student_name: String,
    pub student_no: String,
    pub department: String,
    pub major: String,
    pub level: String,
    pub class_name: String,
    pub total_arrears: String,
    pub has_arrears: bool,
    pub years: Vec<(String, String)>,
    pub periods: Vec<(String, String)>,
    pub period: Option<String>,
    pub unpaid: Vec<ChargeRowView>,
    pub paid: Vec<ChargeRowView>,
    pub announcements: Vec<AnnouncementView>,
    /// What the student chose last time and why it was refused, when it was.
    pub choice: crate::pages::choose::Choice,
    /// The school's paying hours (czie 08:00–22:00) and whether they are open now: shown
    /// before the student chooses, not only after 去缴费.
    pub hours: Option<(String, bool)>,
}

pub struct ProfileFormView {
    pub phone: String,
    pub email: String,
    pub postcode: String,
    pub address: String,
}

#[derive(Template)]
#[template(path = "profile.html")]
pub struct ProfilePage {
    pub lang: Lang,
    pub code: String,
    pub school_name: String,
    pub csrf: String,
    pub s: Student,
    pub id_card: String,
    pub phone_masked: String,
    pub phone: String,
    pub email: String,
    pub postcode: String,
    pub address: String,
    pub saved: bool,
    pub error: Option<String>,
    pub error_field: &'static str,
}

impl ProfilePage {
    pub fn new(
        school: &School,
        s: &SessionRow,
        st: Student,
        form: ProfileFormView,
        lang: Lang,
        saved: bool,
        error: Option<&Error>,
    ) -> ProfilePage {
        ProfilePage {
            lang,
            code: school.code.clone(),
            school_name: if lang.is_en() && !school.name_en.is_empty() { school.name_en.clone() } else { school.name.clone() },
            csrf: s.csrf_token.clone(),
            id_card: idcard::mask(&st.id_card),
            phone_masked: profile::mask_phone(&st.phone),
            s: st,
            phone: form.phone,
            email: form.email,
            postcode: form.postcode,
            address: form.address,
            saved,
            error: error.map(|e| e.message(lang).to_string()),
            error_field: error.and_then(|e| e.field).unwrap_or(""),
        }
    }
}
