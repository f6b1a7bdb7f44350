//! Paying, second half: the order page that follows its order, choosing a channel
//! (`services::orders::pay`), the hop to the provider, cancelling, and the help page.

use super::extract::{Posted, StudentForm, StudentPage};
use super::form::Pairs;
use super::pay_views::*;
use super::{error_page, render, school_name};
use crate::AppState;
use crate::i18n::Lang;
use crate::web::Client;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use campuspay_app::Error;
use campuspay_app::payment::channels::Method;
use campuspay_app::payment::orders;
use campuspay_app::payment::payer::{self, PayStep};
use campuspay_channels::{PayAction, Provider};
use campuspay_domain::order::{AttemptState, OrderState};
use campuspay_domain::policy::LatePayment;
use campuspay_domain::{profile, time};
use campuspay_store::On;
use campuspay_store::db_now as now;
use campuspay_store::orders::{AttemptRow, OrderRow};
use campuspay_store::schools::School;
use campuspay_store::sessions::SessionRow;
use serde_json::json;

/// The order's state in words and colour; an open attempt is a payment being confirmed.
pub fn state_of(order: &OrderRow, attempts: &[AttemptRow], t: i64, lang: Lang) -> StateView {
    let (shown, zh, en, class) = match order.status {
        OrderState::Paid => (Shown::Paid, "缴费成功", "Paid", "paid"),
        OrderState::Closed => (Shown::Closed, "已关闭（超时未支付）", "Closed (not paid in time)", "waived"),
        OrderState::Cancelled => (Shown::Cancelled, "已取消", "Cancelled", "waived"),
        OrderState::Refunded => (Shown::Refunded, "已退款", "Refunded", "waived"),
        OrderState::Unpaid if order.expires_at <= t => (Shown::Expired, "已超过付款期限", "Past its deadline", "waived"),
        OrderState::Unpaid if attempts.iter().any(|a| a.status == AttemptState::Open) => {
            (Shown::Waiting, "正在确认支付结果…", "Confirming your payment…", "partial")
        }
        OrderState::Unpaid => (Shown::Unpaid, "待支付", "Awaiting payment", "owing"),
    };
    StateView { shown, label: lang.t(zh, en), class }
}

/// Where the order page is open: what decides which methods can work there.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Device {
    Pc,
    /// A phone's own browser.
    Phone,
    /// WeChat's built-in browser.
    Wechat,
    /// Alipay's app.
    Alipay,
}

impl Device {
    pub fn of(user_agent: &str) -> Device {
        let ua = user_agent.to_ascii_lowercase();
        if ua.contains("micromessenger") {
            Device::Wechat
        } else if ua.contains("alipayclient") {
            Device::Alipay
        } else if ["mobile", "android", "iphone", "ipad"].iter().any(|k| ua.contains(k)) {
            Device::Phone
        } else {
            Device::Pc
        }
    }

    /// The rank of `m` here, best first, or `None` where it cannot work: a PC scans QR codes or
    /// opens a web cashier (H5/WAP pages refuse PCs); a phone browser pays on the provider's
    /// phone page; WeChat refuses WeChat H5 in its own browser and opens no Alipay page [004]:
    /// there JSAPI (WeChat's own pay sheet) comes first, then the UnionPay gateway; Alipay's app
    /// pays with Alipay. On a phone a QR code is last: it is for scanning with another phone.
    fn rank(self, m: Method) -> Option<u8> {
        let qr = matches!(m, Method::WechatNative | Method::AlipayQr | Method::UnionpayQr | Method::AllinpayQr);
        let usable = match self {
            Device::Pc => !matches!(m, Method::WechatH5 | Method::AlipayWap | Method::WechatJsapi),
            Device::Phone => m != Method::WechatJsapi,
            Device::Wechat => {
                matches!(m, Method::WechatJsapi | Method::UnionpayGateway | Method::WechatNative | Method::UnionpayQr | Method::AllinpayQr)
            }
            Device::Alipay => m.provider() != Provider::Wechatpay,
        };
        if !usable {
            return None;
        }
        Some(match (self, m) {
            (Device::Pc, _) if qr => 0,
            (Device::Pc, _) => 1,
            (_, Method::WechatH5 | Method::AlipayWap | Method::WechatJsapi) => 0,
            (_, Method::UnionpayGateway) => 1,
            (_, _) if qr => 3,
            _ => 2,
        })
    }

    pub fn is_phone(self) -> bool {
        self != Device::Pc
    }
}

/// The school's enabled methods that work on this device and in this app, best first, with
/// the QR codes on a phone offered as "pay with another phone".
pub fn methods_for(state: &AppState, school: &School, user_agent: &str, lang: Lang) -> Vec<MethodView> {
    let device = Device::of(user_agent);
    let mut ms: Vec<(u8, Method)> = school
        .policy
        .channels
        .iter()
        .filter_map(|c| Method::parse(c))
        .filter(|m| m.usable_in(user_agent) && state.channels.offers(school.id, *m))
        .filter_map(|m| device.rank(m).map(|r| (r, m)))
        .collect();
    ms.sort_by_key(|(r, _)| *r);
    ms.iter()
        .enumerate()
        .map(|(i, (_, m))| {
            let qr = matches!(m, Method::WechatNative | Method::AlipayQr | Method::UnionpayQr | Method::AllinpayQr);
            MethodView {
                name: m.as_str(),
                label: if lang.is_en() { m.label_en() } else { m.label_zh() },
                hint: match m {
                    _ if qr && device.is_phone() => {
                        lang.t("用另一部手机扫码支付：本页显示二维码", "Pay with another phone: this page shows a code to scan")
                    }
                    _ if qr => lang.t("显示二维码，用手机扫码支付", "Shows a code to scan with your phone"),
                    Method::AlipayPage | Method::UnionpayGateway | Method::CcbPay => lang.t("跳转到支付页面", "Opens the payment page"),
                    Method::WechatJsapi => lang.t("在微信中直接支付", "Pays right here in WeChat"),
                    _ => lang.t("在手机上跳转支付", "Pays in your phone's app or browser"),
                },
                checked: i == 0,
            }
        })
        .collect()
}

fn scan_hint(m: Option<Method>, lang: Lang) -> &'static str {
    match m.map(Method::provider) {
        Some(Provider::Wechatpay) => lang.t("请使用微信扫码支付", "Scan with WeChat to pay"),
        Some(Provider::Alipay) => lang.t("请使用支付宝扫码支付", "Scan with Alipay to pay"),
        Some(Provider::Allinpay) => lang.t("请使用微信、支付宝或云闪付扫码支付", "Scan with WeChat, Alipay or UnionPay to pay"),
        _ => lang.t("请使用云闪付或银行App扫码支付", "Scan with UnionPay or your bank's app to pay"),
    }
}

fn label_of(m: &Method, lang: Lang) -> &'static str {
    if lang.is_en() { m.label_en() } else { m.label_zh() }
}

/// The QR code of the order's open attempt, if it pays by scanning.
fn open_qr(attempts: &[AttemptRow], lang: Lang) -> Option<QrView> {
    let a = attempts.iter().rev().find(|a| a.status == AttemptState::Open)?;
    let PayAction::Qr { content } = serde_json::from_str::<PayAction>(&a.action).ok()? else { return None };
    let svg = crate::api::orders::qr_svg(&content)?;
    let svg = svg.split_once("?>").map(|(_, s)| s).unwrap_or(&svg);
    let method = Some(a.channel);
    let hint = scan_hint(method, lang);
    Some(QrView {
        svg: svg.replacen("<svg ", &format!("<svg role=\"img\" aria-label=\"{hint}\" class=\"qr-svg\" "), 1),
        content,
        hint,
        label: label_of(&a.channel, lang),
    })
}

async fn order_view(
    state: &AppState,
    school: &School,
    s: &SessionRow,
    client: &Client,
    order: &OrderRow,
    error: Option<&Error>,
) -> Response {
    let lang = client.lang;
    let (lines, attempts) =
        match (state.store.order_lines(On::Pool, order.id).await, state.store.attempts_of_order(On::Pool, order.id).await) {
            (Ok(l), Ok(a)) => (l, a),
            (Err(e), _) | (_, Err(e)) => return error_page(&e.into(), lang),
        };
    let t = now();
    let st = state_of(order, &attempts, t, lang);
    let payable = matches!(st.shown, Shown::Unpaid | Shown::Waiting);
    let paid_with = attempts.iter().find(|a| a.status == AttemptState::Paid).map(|a| label_of(&a.channel, lang));
    let invoice = match order.invoice_kind.as_str() {
        "company" => format!("{}{}（{}）", lang.t("单位：", "Company: "), order.invoice_title, order.invoice_tax_no),
        _ if order.invoice_title.is_empty() => lang.t("个人", "Individual").to_string(),
        _ => format!("{}{}", lang.t("个人：", "Individual: "), order.invoice_title),
    };
    let mut methods = if payable { methods_for(state, school, &client.user_agent, lang) } else { Vec::new() };
    // While a payment is open, the choice shows the method in use (the student changes it from
    // there), not whichever is ranked first on this device.
    if let Some(open) = attempts.iter().rev().find(|a| a.status == AttemptState::Open)
        && methods.iter().any(|m| m.name == open.channel.as_str())
    {
        for m in &mut methods {
            m.checked = m.name == open.channel.as_str();
        }
    }
    let mut res = render(&OrderPage {
        lang,
        code: school.code.clone(),
        school_name: school_name(school, lang),
        csrf: s.csrf_token.clone(),
        order_no: order.order_no.clone(),
        total: order.total.to_string(),
        payee: school.policy.payee.clone(),
        created: time::format_shanghai(order.created_at),
        deadline: time::format_shanghai(order.expires_at),
        poll: matches!(st.shown, Shown::Unpaid | Shown::Waiting | Shown::Expired),
        state: st,
        paid_at: order.paid_at.map(time::format_shanghai),
        paid_with,
        lines: lines
            .iter()
            .map(|l| OrderLineView { item: l.item_name.clone(), period: l.period_name.clone(), amount: l.amount.to_string() })
            .collect(),
        qr: if payable { open_qr(&attempts, lang) } else { None },
        wechat_without_jsapi: Device::of(&client.user_agent) == Device::Wechat
            && !methods.iter().any(|m| m.name == Method::WechatJsapi.as_str()),
        methods,
        can_pay: payable,
        phone_masked: profile::mask_phone(&order.phone),
        invoice,
        error: error.map(|e| e.message(lang).to_string()),
    });
    if let Some(e) = error {
        *res.status_mut() = crate::error::status_of(e.kind);
    }
    res
}

/// The student's own order of that number, or the page to show instead.
async fn order_of(state: &AppState, page: &StudentPage, no: &str) -> Result<OrderRow, Response> {
    orders::own_order(state, &page.session, no).await.map_err(|e| error_page(&e, page.client.lang))
}

pub async fn order_page(
    State(state): State<AppState>,
    page: StudentPage,
    Path((_, no)): Path<(String, String)>,
) -> Result<Response, Response> {
    let order = order_of(&state, &page, &no).await?;
    if let Err(e) = orders::watched(&state, &order).await {
        tracing::warn!(error = %e.zh, "hurrying the provider query");
    }
    Ok(order_view(&state, &page.school, &page.session, &page.client, &order, None).await)
}

/// The state the order page polls (`pay.js`); asking also hurries the provider query.
pub async fn order_state(
    State(state): State<AppState>,
    page: StudentPage,
    Path((_, no)): Path<(String, String)>,
) -> Result<Response, Response> {
    let order = order_of(&state, &page, &no).await?;
    if let Err(e) = orders::watched(&state, &order).await {
        tracing::warn!(error = %e.zh, "hurrying the provider query");
    }
    let attempts = state.store.attempts_of_order(On::Pool, order.id).await.map_err(|e| error_page(&e.into(), page.client.lang))?;
    let st = state_of(&order, &attempts, now(), page.client.lang);
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(json!({"state": st.key(), "label": st.label}))).into_response())
}

/// POST a channel → `orders::pay`: a QR code shows on the order page; a provider page is
/// opened from our own hop page, whose CSP may name the provider's form target.
pub async fn pay_submit(
    State(state): State<AppState>,
    Path((code, no)): Path<(String, String)>,
    posted: StudentForm<Pairs>,
) -> Result<Response, Response> {
    let Posted { page, form: f } = posted;
    let order = order_of(&state, &page, &no).await?;
    let StudentPage { school, session: s, client } = page;
    Ok(match payer::pay_here(&state, &s, &no, f.get("channel"), &client).await {
        Ok(PayStep::Started(p)) => match p.action {
            PayAction::Qr { .. } => Redirect::to(&format!("/s/{code}/orders/{no}#pay")).into_response(),
            _ => Redirect::to(&format!("/s/{code}/pay/{}", p.out_trade_no)).into_response(),
        },
        // A page, not a redirect: the form's CSP (`form-action 'self'`) would stop a redirect
        // of the POST to WeChat's host.
        Ok(PayStep::SignIn { url }) => render(&PayGoPage {
            lang: client.lang,
            code: code.clone(),
            school_name: school_name(&school, client.lang),
            order_no: order.order_no.clone(),
            total: order.total.to_string(),
            payee: school.policy.payee.clone(),
            label: label_of(&Method::WechatJsapi, client.lang),
            form_action: None,
            fields: Vec::new(),
            url: Some(url),
            jsapi: None,
            bridge_script: None,
        }),
        Err(e) => {
            let order = orders::own_order(&state, &s, &no).await.unwrap_or(order);
            order_view(&state, &school, &s, &client, &order, Some(&e)).await
        }
    })
}

/// `scheme://host[:port]` of a URL, if it is a plain one fit for a CSP header.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    let ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    (matches!(scheme, "http" | "https") && ok(host)).then(|| format!("{scheme}://{host}"))
}

/// The hop to the provider: UnionPay's signed form (posted by `autosubmit.js`, or by the
/// button without scripts), or a link to the Alipay/WeChat page.
pub async fn pay_go(
    State(state): State<AppState>,
    page: StudentPage,
    headers: axum::http::HeaderMap,
    Path((code, out_trade_no)): Path<(String, String)>,
) -> Result<Response, Response> {
    let lang = page.client.lang;
    // out_trade_no is the order number and a two-digit attempt number.
    let Some(no) = out_trade_no.get(..out_trade_no.len().saturating_sub(2)).filter(|n| !n.is_empty()) else {
        return Err(error_page(&Error::not_found(), lang));
    };
    let order = order_of(&state, &page, no).await?;
    let school = page.school;
    let back = Redirect::to(&format!("/s/{code}/orders/{no}")).into_response();
    let attempts = state.store.attempts_of_order(On::Pool, order.id).await.map_err(|e| error_page(&e.into(), lang))?;
    let Some(a) = attempts.iter().find(|a| a.out_trade_no == out_trade_no && a.status == AttemptState::Open) else { return Ok(back) };
    if order.status != OrderState::Unpaid {
        return Ok(back);
    }
    let mut page = PayGoPage {
        lang,
        code: code.clone(),
        school_name: school_name(&school, lang),
        order_no: order.order_no.clone(),
        total: order.total.to_string(),
        payee: school.policy.payee.clone(),
        label: label_of(&a.channel, lang),
        form_action: None,
        fields: Vec::new(),
        url: None,
        jsapi: None,
        bridge_script: None,
    };
    let mut form_origin = None;
    match serde_json::from_str::<PayAction>(&a.action) {
        Ok(PayAction::Form { action, fields }) => {
            form_origin = origin_of(&action);
            page.form_action = Some(action);
            page.fields = fields.into_iter().collect();
        }
        Ok(PayAction::Redirect { url }) if a.channel == Method::WechatH5 => {
            // WeChat's H5 page returns to the merchant only through a `redirect_url` the
            // merchant appends (Alipay's return_url is in the signed request instead).
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).filter(|h| origin_of(&format!("http://{h}")).is_some());
            page.url = Some(match host {
                Some(h) => {
                    let scheme = if state.config.https { "https" } else { "http" };
                    let sep = if url.contains('?') { '&' } else { '?' };
                    format!("{url}{sep}redirect_url={}", super::form::encode(&format!("{scheme}://{h}/s/{code}/orders/{no}")))
                }
                None => url,
            });
        }
        Ok(PayAction::Redirect { url }) => page.url = Some(url),
        Ok(PayAction::JsApi { params }) => {
            page.jsapi = Some(params);
            page.bridge_script = state.wechat_bridge_script();
        }
        _ => return Ok(back),
    }
    let mut res = render(&page);
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(o) = form_origin
        && let Ok(v) = HeaderValue::from_str(&format!(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; \
             base-uri 'none'; form-action 'self' {o}; frame-ancestors 'none'"
        ))
    {
        res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    Ok(res)
}

pub async fn cancel_submit(
    State(state): State<AppState>,
    Path((code, no)): Path<(String, String)>,
    posted: StudentForm<Pairs>,
) -> Result<Response, Response> {
    let page = posted.page;
    let order = order_of(&state, &page, &no).await?;
    Ok(match orders::cancel(&state, &page.session, &no).await {
        Ok(_) => Redirect::to(&format!("/s/{code}/orders/{no}")).into_response(),
        Err(e) => order_view(&state, &page.school, &page.session, &page.client, &order, Some(&e)).await,
    })
}

/// 支付遇到问题 (001): what the platform does by itself, and whom to call.
pub async fn help_page(page: StudentPage, Query(q): Query<Pairs>) -> Response {
    let StudentPage { school, session: s, client } = page;
    let order_no =
        Some(q.get("order")).filter(|n| !n.is_empty() && n.len() <= 40 && n.bytes().all(|b| b.is_ascii_alphanumeric())).map(str::to_string);
    let mut res = render(&HelpPage {
        lang: client.lang,
        code: school.code.clone(),
        school_name: school_name(&school, client.lang),
        csrf: s.csrf_token.clone(),
        order_no,
        contact: school.policy.contact.clone(),
        late_credit: school.policy.late_payment == LatePayment::Credit,
    });
    *res.status_mut() = StatusCode::OK;
    res
}

#[derive(serde::Deserialize)]
pub struct SignedIn {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
}

/// WeChat's sign-in comes back here with `code` and our `state`: the payer is known, the
/// JSAPI payment starts and the browser goes on to WeChat's pay sheet.
pub async fn wechat_signed_in(State(state): State<AppState>, page: StudentPage, Query(q): Query<SignedIn>) -> Response {
    let code = page.school.code.clone();
    match payer::signed_in(&state, &page.session, &q.code, &q.state, &page.client).await {
        Ok(p) => Redirect::to(&format!("/s/{code}/pay/{}", p.out_trade_no)).into_response(),
        Err(e) => error_page(&e, page.client.lang),
    }
}

/// CCB's browser return: the POS's 商户URL (set in CCB's merchant console, so one address for
/// every order) gets the signed result fields as a query. Nothing is taken from it (the server
/// notification and the query settle the payment); it only brings the payer back to the order
/// of its `ORDERID`, which is `{order_no}{nn}` (the attempt's two digits).
#[derive(serde::Deserialize)]
pub struct CcbReturn {
    #[serde(rename = "ORDERID", default)]
    order_id: String,
}

pub async fn ccb_return(Path(code): Path<String>, Query(q): Query<CcbReturn>) -> Response {
    let safe = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric());
    let no = q.order_id.get(..q.order_id.len().saturating_sub(2)).unwrap_or_default();
    match (safe(&code), safe(no)) {
        (true, true) => Redirect::to(&format!("/s/{code}/orders/{no}")).into_response(),
        (true, false) => Redirect::to(&format!("/s/{code}/home")).into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}
