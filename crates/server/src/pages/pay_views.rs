//! Template structs of the pay pages, already formatted (money as `¥3,000.00`).

use crate::i18n::Lang;
use askama::Template;

#[derive(Template)]
#[template(path = "agreement.html")]
pub struct AgreementPage {
    pub lang: Lang,
    pub code: String,
    pub school_name: String,
    pub csrf: String,
    pub title: String,
    pub paragraphs: Vec<String>,
    pub countdown_s: u32,
    /// Seconds still to wait, counted by the server from the stamped time it served the page.
    pub remaining_s: i64,
    /// The stamp of when the agreement was first served.
    pub shown: String,
    /// The cart, carried on in hidden fields.
    pub lines: Vec<(i64, String)>,
    pub back: String,
    pub error: Option<String>,
}

pub struct ConfirmLine {
    pub item: String,
    pub period: String,
    pub left: String,
    pub amount: String,
    /// Less than what is left: an instalment.
    pub partial: bool,
}

#[derive(Template)]
#[template(path = "confirm.html")]
pub struct ConfirmPage {
    pub lang: Lang,
    pub code: String,
    pub school_name: String,
    pub csrf: String,
    pub lines: Vec<ConfirmLine>,
    pub total: String,
    pub payee: String,
    pub ttl_hours: u32,
    pub ttl_minutes: u32,
    pub phone: String,
    pub phone_masked: String,
    pub company: bool,
    pub invoice_title: String,
    pub invoice_tax_no: String,
    pub cart: Vec<(i64, String)>,
    pub agreed: String,
    pub back: String,
    pub error: Option<String>,
    pub error_field: &'static str,
    /// What the balance would pay, when the student has one.
    pub balance: Option<String>,
    pub use_balance: bool,
}

pub struct OrderLineView {
    pub item: String,
    pub period: String,
    pub amount: String,
}

pub struct QrView {
    /// The code as an inline SVG element (no script, no inline style).
    pub svg: String,
    /// What the code says, for tests and for copying.
    pub content: String,
    pub hint: &'static str,
    pub label: &'static str,
}

pub struct MethodView {
    pub name: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
    pub checked: bool,
}

/// An order's state for people: words, a colour class, and a key the poll compares.
pub struct StateView {
    pub shown: Shown,
    pub label: &'static str,
    pub class: &'static str,
}

/// What the order page shows of an order: its stored state, or, while it is unpaid, whether
/// it is past its deadline or a payment is being confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    Paid,
    Closed,
    Cancelled,
    Refunded,
    Expired,
    Waiting,
    Unpaid,
}

impl Shown {
    /// The word `pay.js` and the page's CSS know it by.
    pub fn key(self) -> &'static str {
        match self {
            Shown::Paid => "paid",
            Shown::Closed => "closed",
            Shown::Cancelled => "cancelled",
            Shown::Refunded => "refunded",
            Shown::Expired => "expired",
            Shown::Waiting => "waiting",
            Shown::Unpaid => "awaiting",
        }
    }
}

impl StateView {
    pub fn key(&self) -> &'static str {
        self.shown.key()
    }

    pub fn paid(&self) -> bool {
        self.shown == Shown::Paid
    }

    pub fn expired(&self) -> bool {
        self.shown == Shown::Expired
    }
}

#[derive(Template)]
#[template(path = "order.html")]
pub struct OrderPage {
    pub lang: Lang,
    pub code: String,
    pub school_name: String,
    pub csrf: String,
    pub order_no: String,
    pub total: String,
    pub payee: String,
    pub created: String,
    pub deadline: String,
    pub state: StateView,
    pub paid_at: Option<String>,
    pub paid_with: Option<&'static str>,
    pub lines: Vec<OrderLineView>,
    pub qr: Option<QrView>,
    pub methods: Vec<MethodView>,
    pub can_pay: bool,
    /// Opened in WeChat's browser at a school that cannot take WeChat Pay there (no JSAPI):
    /// say how else to pay.
    pub wechat_without_jsapi: bool,
    pub phone_masked: String,
    pub invoice: String,
    pub error: Option<String>,
    /// The page asks the server for the state every few seconds and reloads when it changes.
    pub poll: bool,
}

impl OrderPage {
    pub fn waiting(&self) -> bool {
        self.state.shown == Shown::Waiting
    }
}

#[derive(Template)]
#[template(path = "pay_go.html")]
pub struct PayGoPage {
    pub lang: Lang,
    pub code: String,
    pub school_name: String,
    pub order_no: String,
    pub total: String,
    pub payee: String,
    pub label: &'static str,
    /// UnionPay's gateway: a signed form the browser posts.
    pub form_action: Option<String>,
    pub fields: Vec<(String, String)>,
    /// Alipay/WeChat H5, or WeChat's sign-in before JSAPI: a page the browser opens.
    pub url: Option<String>,
    /// WeChat JSAPI: the parameters `wxpay.js` hands to `getBrandWCPayRequest`.
    pub jsapi: Option<campuspay_channels::JsApiParams>,
    /// Demo mode: the simulator's stand-in for the `WeixinJSBridge` WeChat's browser injects.
    pub bridge_script: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "help.html")]
pub struct HelpPage {
    pub lang: Lang,
    pub code: String,
    pub school_name: String,
    pub csrf: String,
    pub order_no: Option<String>,
    pub contact: String,
    /// Late money becomes balance rather than going back (policy `late_payment`).
    pub late_credit: bool,
}

pub struct PaymentView {
    pub order_no: String,
    pub items: Vec<OrderLineView>,
    pub amount: String,
    pub channel: &'static str,
    pub txn_id: String,
    pub paid_at: String,
}

/// Money in or back other than an order's online payment: offline, balance, refunds.
pub struct LedgerView {
    pub way: &'static str,
    pub item: String,
    pub amount: String,
    pub negative: bool,
    pub reference: String,
    pub at: String,
}

pub struct OrderSummary {
    pub order_no: String,
    pub total: String,
    pub created: String,
    pub state: StateView,
}

pub struct TxnView {
    pub order_no: String,
    pub amount: String,
    pub channel: &'static str,
    pub txn_id: String,
    pub outcome: String,
    pub class: &'static str,
    pub at: String,
}

#[derive(Template)]
#[template(path = "payments.html")]
pub struct RecordsPage {
    pub lang: Lang,
    pub code: String,
    pub school_name: String,
    pub csrf: String,
    pub payments: Vec<PaymentView>,
    pub other: Vec<LedgerView>,
    pub orders: Vec<OrderSummary>,
    pub txns: Vec<TxnView>,
    pub balance: String,
    pub has_balance: bool,
    pub receipts: Vec<ReceiptLinkView>,
}

/// A receipt on the records page, with its view/download and verify links.
pub struct ReceiptLinkView {
    pub id: i64,
    pub number: String,
    pub receipt_type: String,
    pub amount: String,
    pub issued_at: String,
    pub state: &'static str,
    pub class: &'static str,
    pub verify_url: String,
}
