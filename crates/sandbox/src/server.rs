//! [`Sandbox`]: the provider simulator's state and its axum router. The provider-specific
//! endpoints live in `wechat_api`, `alipay_api` and `unionpay_api`; this file holds what both share: the cashier
//! page, the pay endpoint, the behaviour switches and the trade inspection endpoint.

use super::alipay::AlipayProviderSide;
use super::allinpay::AllinpayProviderSide;
use super::ccb::CcbProviderSide;
use super::keys::SandboxKeys;
use super::ledger::{Behaviour, BehaviourPatch, Journal, Ledger, RefundMode, Trade, TradeState};
use super::unionpay::UnionpayProviderSide;
use super::wechat::WechatProviderSide;
use super::{alipay_api, allinpay_api, ccb_api, notify, unionpay_api, wechat_api, wechat_jsapi};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use campuspay_channels::alipay::AlipayConfig;
use campuspay_channels::allinpay::AllinpayConfig;
use campuspay_channels::allinpay::sign::{Sha1RsaSigner, Sha1RsaVerifier};
use campuspay_channels::crypto::{RsaSigner, RsaVerifier, unix_now};
use campuspay_channels::unionpay::{UnionpayConfig, UnionpayProduct};
use campuspay_channels::wechatpay::WechatPayConfig;
use campuspay_channels::{ChannelError, Provider};
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How many notifications the simulator sends at once (see [`Inner::senders`]).
pub const NOTIFY_SENDERS: usize = 32;

pub(super) struct Inner {
    pub keys: SandboxKeys,
    pub wechat: WechatProviderSide,
    pub alipay: AlipayProviderSide,
    pub unionpay: UnionpayProviderSide,
    pub ccb: CcbProviderSide,
    /// Where the simulated 外联平台 listens, once started.
    ccb_ebs_addr: Mutex<Option<std::net::SocketAddr>>,
    pub allinpay: AllinpayProviderSide,
    ledger: Mutex<Ledger>,
    /// Statement files handed out by URL, by token.
    pub statement_files: Mutex<std::collections::HashMap<String, Vec<u8>>>,
    behaviour: Mutex<[Behaviour; 5]>,
    time_scale_bits: AtomicU64,
    pub client: reqwest::Client,
    /// Notifications being sent at once. A provider's notifier is a bounded pool, not one
    /// connection per paid trade: unbounded, 3,000 trades paid in three seconds opened 3,000
    /// connections to the merchant at once (and held their memory on both ends).
    pub senders: tokio::sync::Semaphore,
}

/// The simulated WeChat Pay, Alipay and UnionPay. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Sandbox {
    pub(super) inner: Arc<Inner>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").field("dir", &self.inner.keys.dir).field("time_scale", &self.time_scale()).finish_non_exhaustive()
    }
}

/// The held ledger; dropping it appends what changed to the journal and releases its lock.
pub(super) struct LedgerGuard<'a>(MutexGuard<'a, Ledger>);

impl std::ops::Deref for LedgerGuard<'_> {
    type Target = Ledger;

    fn deref(&self) -> &Ledger {
        &self.0
    }
}

impl std::ops::DerefMut for LedgerGuard<'_> {
    fn deref_mut(&mut self) -> &mut Ledger {
        &mut self.0
    }
}

impl Drop for LedgerGuard<'_> {
    fn drop(&mut self) {
        self.0.write_back();
    }
}

/// What the pay endpoint did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayOutcome {
    Paid { transaction_id: String },
    Declined,
    Closed,
    AlreadyPaid,
    NotFound,
}

fn slot(p: Provider) -> usize {
    match p {
        Provider::Wechatpay => 0,
        Provider::Alipay => 1,
        Provider::Unionpay => 2,
        Provider::Ccb => 3,
        Provider::Allinpay => 4,
    }
}

pub(super) fn provider_name(p: Provider) -> &'static str {
    match p {
        Provider::Wechatpay => "wechatpay",
        Provider::Alipay => "alipay",
        Provider::Unionpay => "unionpay",
        Provider::Ccb => "ccb",
        Provider::Allinpay => "allinpay",
    }
}

/// WeChat Pay answers refunds `PROCESSING` by default ([`RefundMode`]'s default); Alipay's
/// `alipay.trade.refund`, UnionPay's, 通联's and CCB's refunds are done at once unless switched (CCB's
/// 5W1004 is synchronous: see `ccb_ebs`).
fn default_behaviours() -> [Behaviour; 5] {
    let instant = Behaviour { refund: RefundMode::Instant, ..Behaviour::default() };
    [Behaviour::default(), instant, instant, instant, instant]
}

impl Sandbox {
    /// Opens the sandbox whose keys live in `dir`, generating them on first start.
    pub fn open(dir: &std::path::Path) -> Result<Self, ChannelError> {
        let keys = SandboxKeys::open(dir)?;
        let w = &keys.ids.wechatpay;
        let wechat = WechatProviderSide {
            platform_signer: RsaSigner::from_pem(&keys.wechat_platform.private_pkcs8_pem)?,
            platform_serial: w.platform_public_key_id.clone(),
            mchid: w.mchid.clone(),
            merchant_serial_no: w.merchant_serial_no.clone(),
            merchant_key: RsaVerifier::from_pem(&keys.wechat_merchant.public_spki_pem)?,
            apiv3_key: w.apiv3_key.clone(),
        };
        let alipay = AlipayProviderSide {
            alipay_signer: RsaSigner::from_pem(&keys.alipay_platform.private_pkcs8_pem)?,
            app_id: keys.ids.alipay.app_id.clone(),
            app_key: RsaVerifier::from_pem(&keys.alipay_app.public_spki_pem)?,
        };
        let u = &keys.unionpay;
        let unionpay = UnionpayProviderSide {
            signer: RsaSigner::from_pem(&u.platform.private_pkcs8_pem)?,
            cert_pem: u.platform_cert_pem.clone(),
            mer_id: u.ids.mer_id.clone(),
            merchant_cert_id: u.ids.merchant_cert_id.clone(),
            merchant_key: RsaVerifier::from_pem(&u.merchant.public_spki_pem)?,
        };
        let ccb = CcbProviderSide::new(&keys.ccb.ids, &keys.ccb.private_pkcs8_pem, &keys.ccb.public_hex)?;
        let a = &keys.allinpay;
        let allinpay = AllinpayProviderSide {
            signer: Sha1RsaSigner::from_pem(&a.platform.private_pkcs8_pem)?,
            cusid: a.ids.cusid.clone(),
            appid: a.ids.appid.clone(),
            merchant_key: Sha1RsaVerifier::from_pem(&a.merchant.public_spki_pem)?,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                keys,
                wechat,
                alipay,
                unionpay,
                ccb,
                ccb_ebs_addr: Mutex::default(),
                allinpay,
                ledger: Mutex::default(),
                statement_files: Mutex::default(),
                behaviour: Mutex::new(default_behaviours()),
                time_scale_bits: AtomicU64::new(1.0f64.to_bits()),
                client: campuspay_channels::http::client(),
                senders: tokio::sync::Semaphore::new(NOTIFY_SENDERS),
            }),
        })
    }

    /// Compresses the providers' clocks (retry schedules, `delay_s`): 0.01 makes WeChat's 15 s
    /// retry 150 ms. Non-finite or negative factors are taken as 0.
    pub fn with_time_scale(self, factor: f64) -> Self {
        let f = if factor.is_finite() && factor > 0.0 { factor } else { 0.0 };
        self.inner.time_scale_bits.store(f.to_bits(), Ordering::Relaxed);
        self
    }

    pub fn time_scale(&self) -> f64 {
        f64::from_bits(self.inner.time_scale_bits.load(Ordering::Relaxed))
    }

    pub(super) fn scaled(&self, seconds: f64) -> Duration {
        Duration::from_secs_f64((seconds * self.time_scale()).max(0.0))
    }

    /// The configs our adapters need: `base_url` is where [`Sandbox::router`] is mounted (e.g.
    /// `http://127.0.0.1:8080`), notifications go to `{notify_base_url}/wechatpay` and
    /// `{notify_base_url}/alipay` (e.g. `http://127.0.0.1:8080/notify`).
    pub fn merchant_configs(&self, base_url: &str, notify_base_url: &str) -> (WechatPayConfig, AlipayConfig) {
        self.inner.keys.merchant_configs(base_url, notify_base_url)
    }

    /// Our side's config for the simulated UnionPay `product` (gateway or QR): endpoints under
    /// `{base_url}/sandbox/unionpay`, back notifications to `{notify_base_url}/unionpay`.
    pub fn unionpay_config(&self, base_url: &str, notify_base_url: &str, product: UnionpayProduct) -> UnionpayConfig {
        self.inner.keys.unionpay_config(base_url, notify_base_url, product)
    }

    /// Our side's config for a CCB POS of the simulated merchant whose notifications go to
    /// `notify_url` and whose payers' browsers come back to `return_url` (registered as CCB's
    /// merchant console would); orders go to `{base_url}/sandbox/ccb/ccbMain`, refunds to the
    /// simulated 外联平台 (`Sandbox::serve_ccb_ebs`; empty until it is started).
    pub fn ccb_config(&self, base_url: &str, notify_url: &str, return_url: &str) -> campuspay_channels::ccb::CcbConfig {
        let pos_id = self.inner.ccb.register_pos(notify_url, return_url);
        let ebs = self.ccb_ebs_addr().map(|a| a.to_string()).unwrap_or_default();
        self.inner.keys.ccb_config(base_url, &pos_id, &ebs)
    }

    /// Starts the simulated 外联平台 on `addr` (`127.0.0.1:0`: an ephemeral port); returns where
    /// it listens.
    pub async fn serve_ccb_ebs(&self, addr: &str) -> Result<std::net::SocketAddr, ChannelError> {
        let local = super::ccb_ebs::serve(self.clone(), addr).await?;
        *self.inner.ccb_ebs_addr.lock().unwrap_or_else(|e| e.into_inner()) = Some(local);
        Ok(local)
    }

    /// Refunds through a 外联平台 that another process started (`worker --demo` uses the one of
    /// the `serve --demo` on its data folder).
    pub fn use_ccb_ebs(&self, addr: std::net::SocketAddr) {
        *self.inner.ccb_ebs_addr.lock().unwrap_or_else(|e| e.into_inner()) = Some(addr);
    }

    pub fn ccb_ebs_addr(&self) -> Option<std::net::SocketAddr> {
        *self.inner.ccb_ebs_addr.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Our side's config for the simulated 通联收银宝: API and cashier under
    /// `{base_url}/sandbox/allinpay`, notifications to `{notify_base_url}/allinpay`.
    pub fn allinpay_config(&self, base_url: &str, notify_base_url: &str) -> AllinpayConfig {
        self.inner.keys.allinpay_config(base_url, notify_base_url)
    }

    /// Ids, key file paths and API keys, pretty-printed JSON (with the 外联平台's address once
    /// it listens).
    pub fn credentials_json(&self) -> String {
        let text = self.inner.keys.credentials_json();
        let Some(addr) = self.ccb_ebs_addr() else { return text };
        let Ok(mut v) = serde_json::from_str::<serde_json::Value>(&text) else { return text };
        v["ccb"]["ebs_addr"] = addr.to_string().into();
        serde_json::to_string_pretty(&v).unwrap_or(text)
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.inner.keys.dir
    }

    /// The ledger, caught up with the journal's other writers; changes made through it are
    /// written back when the guard is dropped. (A std guard is not `Send`, so no handler can
    /// hold it across an `await`: the file lock is held for a few map operations only.)
    pub(super) fn ledger(&self) -> LedgerGuard<'_> {
        let mut guard = self.inner.ledger.lock().unwrap_or_else(|e| e.into_inner());
        guard.catch_up();
        LedgerGuard(guard)
    }

    /// Writes the trades through to the journal at `path`, which the simulators of other
    /// instances on the same database (and the next start) open too; replays it now.
    pub fn with_journal(self, path: &std::path::Path) -> Result<Self, ChannelError> {
        let journal =
            Journal::open(path).map_err(|e| ChannelError::Config(format!("opening the simulator's journal {}: {e}", path.display())))?;
        *self.inner.ledger.lock().unwrap_or_else(|e| e.into_inner()) = Ledger::with_journal(journal);
        Ok(self)
    }

    pub fn behaviour(&self, p: Provider) -> Behaviour {
        self.inner.behaviour.lock().unwrap_or_else(|e| e.into_inner())[slot(p)]
    }

    /// Applies a partial update and returns the result.
    pub fn set_behaviour(&self, p: Provider, patch: &BehaviourPatch) -> Behaviour {
        let mut all = self.inner.behaviour.lock().unwrap_or_else(|e| e.into_inner());
        all[slot(p)].apply(patch);
        all[slot(p)]
    }

    /// A copy of one trade, with its refunds and notification attempts.
    pub fn trade(&self, p: Provider, out_trade_no: &str) -> Option<Trade> {
        self.ledger().get(p, out_trade_no).cloned()
    }

    /// What the cashier's 支付 button does: pays the trade (per the behaviour switches) and
    /// starts the notifications.
    pub fn pay(&self, p: Provider, out_trade_no: &str) -> PayOutcome {
        let b = self.behaviour(p);
        let now = unix_now();
        let outcome = {
            let mut ledger = self.ledger();
            let (mut state, has_id) = match ledger.get(p, out_trade_no) {
                None => return PayOutcome::NotFound,
                Some(t) => (t.state, t.transaction_id.is_some()),
            };
            // Past its `payTimeout` (UnionPay) an unpaid trade is closed.
            if let Some(t) = ledger.get_mut(p, out_trade_no)
                && t.state == TradeState::NotPaid
                && t.expires_at.is_some_and(|at| at < now)
            {
                t.state = TradeState::Closed;
                state = TradeState::Closed;
            }
            match state {
                TradeState::Paid => return PayOutcome::AlreadyPaid,
                TradeState::Closed if !b.accept_after_close => return PayOutcome::Closed,
                _ if b.decline => return PayOutcome::Declined,
                _ => {}
            }
            // CCB's payment is keyed by the merchant's ORDERID: it gives no id of its own.
            let new_id = (!has_id).then(|| if p == Provider::Ccb { out_trade_no.to_string() } else { ledger.next_id(p, "4200", now) });
            let Some(t) = ledger.get_mut(p, out_trade_no) else {
                return PayOutcome::NotFound;
            };
            if let Some(id) = new_id {
                t.transaction_id = Some(id);
            }
            t.state = TradeState::Paid;
            t.paid_at = Some(now);
            PayOutcome::Paid { transaction_id: t.transaction_id.clone().unwrap_or_default() }
        };
        notify::spawn(self.clone(), p, out_trade_no.to_string(), b);
        outcome
    }

    /// The simulator's endpoints under `/sandbox/…`; merge it into the main router (or nest it:
    /// the cashier URLs it hands out follow the prefix).
    pub fn router(&self) -> Router {
        let mut r = Router::new()
            .merge(wechat_api::routes())
            .merge(alipay_api::routes())
            .merge(unionpay_api::routes())
            .merge(ccb_api::routes())
            .merge(allinpay_api::routes("/sandbox/allinpay"))
            .merge(wechat_jsapi::routes());
        for p in [Provider::Wechatpay, Provider::Alipay, Provider::Unionpay, Provider::Ccb, Provider::Allinpay] {
            let name = provider_name(p);
            r = r
                .route(
                    &format!("/sandbox/{name}/cashier/{{no}}"),
                    get(move |s: State<Sandbox>, no: Path<String>, q: Query<ReturnTo>| cashier(p, s, no, q)),
                )
                .route(
                    &format!("/sandbox/{name}/orders/{{no}}/pay"),
                    post(move |s: State<Sandbox>, no: Path<String>, h: HeaderMap, q: Query<ReturnTo>| pay_endpoint(p, s, no, h, q)),
                )
                .route(&format!("/sandbox/{name}/orders/{{no}}"), get(move |s: State<Sandbox>, no: Path<String>| trade_endpoint(p, s, no)))
                .route(
                    &format!("/sandbox/{name}/behaviour"),
                    get(move |s: State<Sandbox>| async move { axum::Json(s.behaviour(p)) }).put(
                        move |s: State<Sandbox>, patch: axum::Json<BehaviourPatch>| async move { axum::Json(s.set_behaviour(p, &patch)) },
                    ),
                );
        }
        r.with_state(self.clone()).layer(axum::middleware::map_response(page_headers))
    }
}

impl Sandbox {
    /// What `campuspay sandbox` serves on its own listener: [`Sandbox::router`], WeChat Pay's
    /// API also at `/v3/…` and 通联's at `/apiweb/…` on the root, as their hosts serve them. The path a
    /// request is signed over is the path requested (the published rule), and SDKs that sign
    /// only from `/v3/` whatever their base URL (wechatpayv3) agree with it only there.
    pub fn standalone_router(&self) -> Router {
        self.router()
            .merge(wechat_api::api_routes("").with_state(self.clone()).layer(axum::middleware::map_response(page_headers)))
            .merge(allinpay_api::routes("").with_state(self.clone()).layer(axum::middleware::map_response(page_headers)))
    }
}

/// The simulator's pages are pages like ours (served beside them in demo mode, or alone by
/// `campuspay sandbox`): no framing, no sniffing, and a CSP that allows only their one inline
/// style and posting to themselves.
async fn page_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            header::HeaderValue::from_static(
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
            ),
        );
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, header::HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, header::HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, header::HeaderValue::from_static("same-origin"));
    res
}

/// Where the browser should go for `out_trade_no`'s cashier, from the request that created it
/// (its `Host` and the path prefix in front of `/sandbox/`).
pub(super) fn cashier_url(headers: &HeaderMap, original_path: &str, p: Provider, out_trade_no: &str) -> String {
    public_url(headers, original_path, &format!("{}/cashier/{out_trade_no}", provider_name(p)))
}

/// `{scheme}://{host}{prefix}/sandbox/{rest}` as seen by the client of the current request.
pub(super) fn public_url(headers: &HeaderMap, original_path: &str, rest: &str) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    let scheme = headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()).unwrap_or("http");
    let prefix = original_path.find("/sandbox/").map_or("", |i| &original_path[..i]);
    format!("{scheme}://{host}{prefix}/sandbox/{rest}")
}

pub(super) fn html_escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&#39;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title}</title><style>body{{font-family:sans-serif;max-width:28rem;\
         margin:2rem auto;padding:0 1rem}}.amount{{font-size:2rem;font-weight:bold}}\
         button{{font-size:1.2rem;padding:.6rem 3rem}}</style></head><body>\
         <h1>{title}</h1>{body}<p><small>沙箱环境，不会产生真实扣款。</small></p></body></html>"
    ))
}

fn cashier_title(p: Provider) -> &'static str {
    match p {
        Provider::Wechatpay => "微信支付收银台（沙箱）",
        Provider::Alipay => "支付宝收银台（沙箱）",
        Provider::Unionpay => "银联在线支付收银台（沙箱）",
        Provider::Ccb => "中国建设银行 龙支付收银台（沙箱）",
        Provider::Allinpay => "通联收银台（沙箱）",
    }
}

/// WeChat's H5 page takes the merchant's way back as `redirect_url` on its address (the
/// merchant appends it to `h5_url`); the cashier carries it to the result page, whose
/// 返回商户 link is the only way back a phone browser has after 支付成功.
#[derive(serde::Deserialize, Default)]
pub(super) struct ReturnTo {
    redirect_url: Option<String>,
    /// 通联's cashier: the wallet the payer chose (`wechat`, `alipay`, `unionpay`).
    wallet: Option<String>,
}

impl ReturnTo {
    fn url(&self) -> Option<&str> {
        self.redirect_url.as_deref().filter(|u| u.starts_with("http://") || u.starts_with("https://"))
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

async fn cashier(p: Provider, State(sb): State<Sandbox>, Path(no): Path<String>, Query(back): Query<ReturnTo>) -> Response {
    let Some(t) = sb.trade(p, &no) else {
        return (StatusCode::NOT_FOUND, page(cashier_title(p), "<p>订单不存在。</p>")).into_response();
    };
    let ids = &sb.inner.keys.ids;
    let payee = match p {
        Provider::Wechatpay => format!("商户号 {}", ids.wechatpay.mchid),
        Provider::Alipay => format!("商户 PID {}", ids.alipay.seller_id),
        Provider::Unionpay => format!("商户代码 {}", sb.inner.keys.unionpay.ids.mer_id),
        Provider::Ccb => format!("商户代码 {} 柜台 {}", sb.inner.ccb.merchant_id, t.pos_id.as_deref().unwrap_or_default()),
        Provider::Allinpay => format!("收银宝商户号 {}", sb.inner.keys.allinpay.ids.cusid),
    };
    let late_money_allowed = sb.behaviour(p).accept_after_close;
    let action = match t.state {
        TradeState::Paid => "<p>该订单已支付。</p>".to_string(),
        TradeState::Closed if !late_money_allowed => "<p>该订单已关闭。</p>".to_string(),
        TradeState::NotPaid | TradeState::Closed if p == Provider::Allinpay => wallet_buttons(&t.out_trade_no),
        TradeState::NotPaid | TradeState::Closed => format!(
            "<form method=\"post\" action=\"../orders/{}/pay{}\"><button type=\"submit\">支付</button></form>",
            html_escape(&t.out_trade_no),
            back.url().map(|u| format!("?redirect_url={}", percent_encode(u))).unwrap_or_default()
        ),
    };
    // CCB's cashier in its own colours, so a payer (and a screenshot) sees whose page it is.
    let brand = if p == Provider::Ccb {
        "<p style=\"background:#0066b3;color:#fff;padding:.6rem 1rem;font-weight:bold\">中国建设银行 · 龙支付 / 网上银行支付</p>"
    } else {
        ""
    };
    let body = format!(
        "{brand}<p>收款方：{}</p><p>商品：{}</p><p>订单号：{}</p><p class=\"amount\">{}</p>{action}",
        html_escape(&payee),
        html_escape(&t.description),
        html_escape(&t.out_trade_no),
        // `¥2,400.00`, as a cashier writes it (Fen's Display groups thousands).
        t.amount
    );
    page(cashier_title(p), &body).into_response()
}

/// 通联's cashier is one page for every wallet: the payer says which app they pay with.
fn wallet_buttons(no: &str) -> String {
    let form = |wallet: &str, label: &str| {
        format!(
            "<form method=\"post\" action=\"../orders/{}/pay?wallet={wallet}\"><button type=\"submit\">{label}</button></form>",
            html_escape(no)
        )
    };
    format!(
        "<p>请选择付款方式（任一 App 扫码均可）：</p>{}{}{}",
        form("wechat", "微信支付"),
        form("alipay", "支付宝"),
        form("unionpay", "云闪付")
    )
}

async fn pay_endpoint(
    p: Provider,
    State(sb): State<Sandbox>,
    Path(no): Path<String>,
    headers: HeaderMap,
    Query(back_to): Query<ReturnTo>,
) -> Response {
    if let Some(w) = &back_to.wallet {
        sb.allinpay_choose_wallet(&no, w);
    }
    let outcome = sb.pay(p, &no);
    let (status, result, message) = match &outcome {
        PayOutcome::Paid { .. } => (StatusCode::OK, "paid", "支付成功"),
        PayOutcome::Declined => (StatusCode::PAYMENT_REQUIRED, "declined", "支付被拒绝"),
        PayOutcome::Closed => (StatusCode::CONFLICT, "closed", "订单已关闭，无法支付"),
        PayOutcome::AlreadyPaid => (StatusCode::CONFLICT, "already_paid", "订单已支付"),
        PayOutcome::NotFound => (StatusCode::NOT_FOUND, "not_found", "订单不存在"),
    };
    let transaction_id = match &outcome {
        PayOutcome::Paid { transaction_id } => Some(transaction_id.clone()),
        _ => None,
    };
    let wants_html = headers.get(header::ACCEPT).and_then(|a| a.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    if wants_html {
        let back = sb
            .trade(p, &no)
            .and_then(|t| if p == Provider::Ccb { ccb_api::browser_return(&sb, &t) } else { t.return_url })
            .or_else(|| back_to.url().map(str::to_string))
            .map(|u| format!("<p><a href=\"{}\">返回商户</a></p>", html_escape(&u)))
            .unwrap_or_default();
        let body = format!("<p>{message}</p>{back}");
        return (status, page(cashier_title(p), &body)).into_response();
    }
    let body = json!({
        "result": result,
        "message": message,
        "out_trade_no": no,
        "transaction_id": transaction_id,
    });
    (status, axum::Json(body)).into_response()
}

async fn trade_endpoint(p: Provider, State(sb): State<Sandbox>, Path(no): Path<String>) -> Response {
    match sb.trade(p, &no) {
        Some(t) => axum::Json(t).into_response(),
        None => (StatusCode::NOT_FOUND, axum::Json(json!({ "result": "not_found" }))).into_response(),
    }
}
