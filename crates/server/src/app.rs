//! The application: configuration, shared state, the router and its middleware.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use campuspay_app::messaging::sms::AliyunSmsConfig;
use campuspay_app::payment::channels::Channels;
use campuspay_app::{Context, Settings};
#[cfg(feature = "demo")]
use campuspay_sandbox::Sandbox;
use campuspay_store::Store;
use std::net::SocketAddr;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct Config {
    /// Served over HTTPS (directly or behind a TLS proxy): `Secure` and `__Host-` cookies, HSTS.
    pub https: bool,
    /// Take the client address from `X-Forwarded-For` (only behind a proxy you run).
    pub trust_proxy: bool,
    /// Argon2 hashing threads (hashes at once), below the request threads' OS priority;
    /// each keeps 19 MiB and takes one core for ~30 ms a hash.
    pub hash_permits: usize,
    /// How browsers reach us (`http://127.0.0.1:8080`): links in mail, provider return URLs.
    pub public_url: String,
    /// Demo mode: `/demo/outbox` is mounted.
    pub demo: bool,
    /// lettre SMTP URL (see `campuspay_app::messaging::mail`); mail goes to the outbox without one.
    pub smtp_url: Option<String>,
    pub mail_from: String,
    /// Aliyun SMS account; SMS go to the outbox without one.
    pub aliyun_sms: Option<AliyunSmsConfig>,
    /// Requests in flight per class of expensive request, and the requests' deadline.
    pub route_limits: crate::limits::RouteLimits,
    /// The key merchant secrets are sealed with (`CAMPUSPAY_SECRET_KEY[_FILE]`).
    pub secret_keys: Option<campuspay_app::secrets::SecretKeys>,
}

impl Default for Config {
    fn default() -> Self {
        let s = Settings::default();
        Config {
            https: false,
            trust_proxy: false,
            hash_permits: s.hash_permits,
            public_url: s.public_url,
            demo: false,
            smtp_url: s.smtp_url,
            mail_from: s.mail_from,
            aliyun_sms: s.aliyun_sms,
            route_limits: crate::limits::RouteLimits::default(),
            secret_keys: None,
        }
    }
}

impl Config {
    /// What the use cases need of it.
    pub fn settings(&self) -> Settings {
        Settings {
            hash_permits: self.hash_permits,
            public_url: self.public_url.clone(),
            smtp_url: self.smtp_url.clone(),
            mail_from: self.mail_from.clone(),
            aliyun_sms: self.aliyun_sms.clone(),
            secret_keys: self.secret_keys.clone(),
        }
    }
}

/// What every handler has: the use cases' context (dereferenced to), the HTTP configuration
/// and, in demo builds, the provider simulator to mount.
#[derive(Clone)]
pub struct AppState {
    pub ctx: Context,
    pub config: Arc<Config>,
    /// Sources of refused provider notifications, to answer a flood 429 (`api::notify`).
    pub refused_sources: Arc<crate::api::notify::RefusedSources>,
    /// This instance's request figures, served at `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The bounds of each class of expensive request (`limits`).
    pub gates: Arc<crate::limits::Gates>,
    /// The provider simulator, mounted in demo mode and tests.
    #[cfg(feature = "demo")]
    pub sandbox: Option<Sandbox>,
}

impl std::ops::Deref for AppState {
    type Target = Context;

    fn deref(&self) -> &Context {
        &self.ctx
    }
}

impl AppState {
    /// Where the simulator's stand-in for WeChat's `WeixinJSBridge` is served, when the
    /// simulator is mounted (demo mode): a plain browser has no bridge of its own. The script
    /// steps aside where a real bridge exists.
    pub fn wechat_bridge_script(&self) -> Option<&'static str> {
        #[cfg(feature = "demo")]
        if self.sandbox.is_some() {
            return Some(campuspay_sandbox::wechat_jsapi::BRIDGE_PATH);
        }
        None
    }

    pub fn new(store: Store, config: Config) -> AppState {
        AppState {
            ctx: Context::new(store, &config.settings()),
            refused_sources: Arc::default(),
            metrics: Arc::default(),
            gates: Arc::new(crate::limits::Gates::new(config.route_limits)),
            config: Arc::new(config),
            #[cfg(feature = "demo")]
            sandbox: None,
        }
    }

    pub fn with_channels(mut self, channels: Channels) -> AppState {
        self.ctx = self.ctx.with_channels(channels);
        self
    }

    /// The provider simulator to mount at `/sandbox/…` (demo mode and tests).
    #[cfg(feature = "demo")]
    pub fn with_sandbox(mut self, sandbox: Option<Sandbox>) -> AppState {
        self.sandbox = sandbox;
        self
    }

    pub fn session_cookie_name(&self) -> &'static str {
        if self.config.https { "__Host-campuspay_session" } else { "campuspay_session" }
    }
}

pub fn router(state: AppState) -> Router {
    let sandbox = simulator_routes(&state);
    Router::new()
        .merge(crate::api::routes())
        .merge(crate::pages::routes())
        .merge(crate::pages::account::routes(state.config.demo))
        .merge(crate::office::pages::routes())
        .route("/metrics", axum::routing::get(crate::metrics::metrics))
        .layer(middleware::from_fn(crate::boundary::refuse_control_characters))
        .layer(middleware::from_fn_with_state(state.gates.clone(), crate::limits::limit))
        .layer(middleware::from_fn(localize_errors))
        .layer(middleware::from_fn_with_state(state.clone(), guard_forms))
        .layer(middleware::from_fn_with_state(state.clone(), crate::web::no_store_when_private))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .with_state(state.clone())
        .merge(sandbox)
        // Over the fallback too: an unknown API path answers in the API's error shape.
        .layer(middleware::from_fn(crate::boundary::api_error_shape))
        // Last, over the merged router and its fallback: every response carries the headers,
        // unknown paths (404) and the simulator's pages too (which set their own CSP).
        .layer(middleware::from_fn_with_state(state.clone(), security_headers))
        .layer(middleware::from_fn_with_state(state, crate::metrics::observe))
}

/// The provider simulator's routes under `/sandbox/…`, when one is mounted.
#[cfg(feature = "demo")]
fn simulator_routes(state: &AppState) -> Router {
    state.sandbox.as_ref().map(Sandbox::router).unwrap_or_default()
}

/// Built without the `demo` feature, there is no simulator to mount.
#[cfg(not(feature = "demo"))]
fn simulator_routes(_: &AppState) -> Router {
    Router::new()
}

/// Serves on a bound listener until Ctrl-C or SIGTERM; with `worker`, the job runner runs
/// beside it. On the signal, both stop taking new work and finish what they started (the
/// runner for at most its grace period).
pub async fn serve(state: AppState, listener: tokio::net::TcpListener, worker: bool) -> std::io::Result<()> {
    tracing::info!("campuspay listening on http://{}", listener.local_addr()?);
    // Checks of uploads run in the serving processes; one whose server stopped mid-check is
    // given up (its page asks for the file again), one another instance runs is left alone.
    let stalled = tokio::spawn(campuspay_app::office::imports::watch_stalled(state.ctx.clone()));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|s| *s).await;
    };
    // Merchant configurations saved by another instance (or a worker's) are taken up here too.
    let follow = tokio::spawn(campuspay_app::office::merchants::follow_changes(state.ctx.clone()));
    let runner = worker.then(|| tokio::spawn(campuspay_app::jobs::Runner::new(state.ctx.clone()).run(until_stopped(stopped.clone()))));
    if !worker {
        tracing::info!("no job runner here (--no-worker): run `campuspay worker` on the same database");
    }
    axum::serve(listener, router(state).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(until_stopped(stopped))
        .await?;
    if let Some(runner) = runner {
        let _ = runner.await;
    }
    follow.abort();
    stalled.abort();
    Ok(())
}

/// Ctrl-C, or SIGTERM (what systemd, Docker and Kubernetes send to stop a process).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops campuspay");
                std::future::pending::<()>().await
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
    tracing::info!("stop signal received");
}

/// Headers every response carries (CSP without inline scripts, no framing, no sniffing).
async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    // A page that posts a form to a payment provider sets its own policy naming that target.
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; \
                 base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
            ),
        );
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if state.config.https {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    }
    res
}

/// Cross-site form posts are refused before any handler runs: a browser says where a request
/// comes from (`Sec-Fetch-Site`, `Origin`), and only our own pages may post to our forms.
/// Logged-in forms also carry a per-session token (see `pages`). The JSON API uses bearer
/// tokens, which a browser never attaches on its own, so it needs neither.
async fn guard_forms(req: Request, next: Next) -> Response {
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let path = req.uri().path();
    let exempt = path.starts_with("/api/") || path.starts_with("/notify/") || path.starts_with("/sandbox/");
    if unsafe_method && !exempt && is_cross_site(&req) {
        return (StatusCode::FORBIDDEN, "请求来源无效，请返回页面重新提交 / Cross-site request refused").into_response();
    }
    next.run(req).await
}

fn is_cross_site(req: &Request) -> bool {
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return !matches!(site, "same-origin" | "none");
    }
    match (headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()), headers.get(header::HOST).and_then(|v| v.to_str().ok())) {
        (Some("null"), _) => true,
        (Some(origin), Some(host)) => origin.split("://").nth(1) != Some(host),
        _ => false,
    }
}

/// Errors are built with both languages; this answers in the one the client asked for.
async fn localize_errors(req: Request, next: Next) -> Response {
    let lang = crate::web::request_lang(req.uri().path(), req.headers(), req.uri().query());
    let res = next.run(req).await;
    if lang == crate::i18n::Lang::Zh {
        return res;
    }
    match res.extensions().get::<crate::error::HttpError>() {
        Some(e) if e.lang != lang => e.clone().in_lang(lang).into_response(),
        _ => res,
    }
}
