//! `/metrics` in Prometheus' text format, and the middleware that feeds it: requests by route
//! and status, their latency, and a request id on every response and log line.
//!
//! The per-request figures are this instance's (Prometheus scrapes each instance); the books'
//! figures — payments settled by source, orders by status, jobs by kind and outcome, which
//! is also the queue depth — are read from the shared database at each scrape, so they are
//! the same whichever instance answers. Only loopback (or, behind a trusted proxy, a client
//! whose forwarded address is loopback) may read it: it is the operator's, not the public's.

use crate::AppState;
use crate::web::Client;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;
use tracing::Instrument;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (i, upper) in BUCKETS.iter().enumerate() {
            if seconds <= *upper {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }
}

/// This instance's request figures.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
}

impl Metrics {
    fn record(&self, method: &str, route: &str, status: u16, seconds: f64) {
        *self.requests.lock().unwrap_or_else(|e| e.into_inner()).entry((method.to_string(), route.to_string(), status)).or_default() += 1;
        self.latency.lock().unwrap_or_else(|e| e.into_inner()).entry(route.to_string()).or_default().observe(seconds);
    }
}

/// The route's template (`/api/v1/student/orders/{order_no}`), never the raw path: labels
/// stay bounded whatever is requested. A path no route matched is `unmatched`.
fn route_of(req: &Request) -> String {
    match req.extensions().get::<MatchedPath>() {
        Some(p) => p.as_str().to_string(),
        None => {
            let path = req.uri().path();
            // Routers merged under ours match before our layer sees the path; name the
            // varying segments so each page still counts under one label.
            let known = ["/api/", "/s/", "/office", "/notify/", "/sandbox/", "/healthz", "/metrics", "/demo/", "/static/"];
            if !known.iter().any(|k| path.starts_with(k)) {
                return "unmatched".into();
            }
            path.split('/')
                .map(|seg| if seg.chars().any(|c| c.is_ascii_digit()) || seg.len() > 24 { "{}" } else { seg })
                .take(8)
                .collect::<Vec<_>>()
                .join("/")
        }
    }
}

/// Times each request, counts it by route and status, and gives it an id: in the
/// `x-request-id` header and on every log line written while it runs.
pub async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_string();
    let route = route_of(&req);
    let id = campuspay_app::crypto::random_token(9);
    let span = tracing::info_span!("request", id = %id, method = %method, route = %route);
    let mut res = next.run(req).instrument(span).await;
    let status = res.status().as_u16();
    let route = if status == 404 && route != "unmatched" && !route.contains('{') { "unmatched".to_string() } else { route };
    state.metrics.record(&method, &route, status, started.elapsed().as_secs_f64());
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>, client: Client) -> Response {
    let loopback = client.ip.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        return StatusCode::NOT_FOUND.into_response();
    }
    let mut out = String::new();
    out.push_str("# HELP campuspay_http_requests_total HTTP requests answered, by route and status.\n");
    out.push_str("# TYPE campuspay_http_requests_total counter\n");
    for ((method, route, status), n) in state.metrics.requests.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        let _ = writeln!(
            out,
            "campuspay_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
            escape(method),
            escape(route)
        );
    }
    out.push_str("# HELP campuspay_http_request_duration_seconds Time to answer, by route.\n");
    out.push_str("# TYPE campuspay_http_request_duration_seconds histogram\n");
    for (route, h) in state.metrics.latency.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        let route = escape(route);
        for (upper, n) in BUCKETS.iter().zip(h.counts) {
            let _ = writeln!(out, "campuspay_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{upper}\"}} {n}");
        }
        let _ = writeln!(out, "campuspay_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(out, "campuspay_http_request_duration_seconds_sum{{route=\"{route}\"}} {}", h.sum);
        let _ = writeln!(out, "campuspay_http_request_duration_seconds_count{{route=\"{route}\"}} {}", h.count);
    }
    // Resident memory, as Prometheus' process collector names it (Linux; absent elsewhere).
    if let Some(pages) = std::fs::read_to_string("/proc/self/statm").ok().and_then(|t| t.split_whitespace().nth(1)?.parse::<u64>().ok()) {
        out.push_str("# HELP process_resident_memory_bytes Resident memory of this instance.\n");
        out.push_str("# TYPE process_resident_memory_bytes gauge\n");
        let _ = writeln!(out, "process_resident_memory_bytes {}", pages * 4096);
    }
    // CPU time, from /proc/self/stat's utime and stime (fields 14 and 15, in 1/100 s ticks).
    if let Some(ticks) = std::fs::read_to_string("/proc/self/stat").ok().and_then(|t| {
        let after = t.rsplit_once(')')?.1;
        let f: Vec<&str> = after.split_whitespace().collect();
        Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
    }) {
        out.push_str("# HELP process_cpu_seconds_total CPU time of this instance.\n# TYPE process_cpu_seconds_total counter\n");
        let _ = writeln!(out, "process_cpu_seconds_total {}", ticks as f64 / 100.0);
    }
    let pool = state.store.pool();
    out.push_str("# HELP campuspay_db_connections Database connections of this instance's pool.\n");
    out.push_str("# TYPE campuspay_db_connections gauge\n");
    let idle = pool.num_idle() as u64;
    let _ = writeln!(out, "campuspay_db_connections{{state=\"idle\"}} {idle}");
    let _ = writeln!(out, "campuspay_db_connections{{state=\"in_use\"}} {}", u64::from(pool.size()).saturating_sub(idle));
    let w = state.store.write_stats();
    let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    out.push_str("# HELP campuspay_db_write_transactions_total Write transactions this instance began.\n");
    out.push_str("# TYPE campuspay_db_write_transactions_total counter\n");
    let _ = writeln!(out, "campuspay_db_write_transactions_total {}", load(&w.transactions));
    if state.store.backend() == campuspay_store::Backend::Sqlite {
        out.push_str("# HELP campuspay_db_writer_seconds_total Time SQLite's one writer was waited for and held.\n");
        out.push_str("# TYPE campuspay_db_writer_seconds_total counter\n");
        let _ = writeln!(out, "campuspay_db_writer_seconds_total{{state=\"waited\"}} {}", load(&w.wait_ns) as f64 / 1e9);
        let _ = writeln!(out, "campuspay_db_writer_seconds_total{{state=\"held\"}} {}", load(&w.held_ns) as f64 / 1e9);
    }
    match state.store.book_stats().await {
        Ok(b) => {
            out.push_str("# HELP campuspay_payments_total Provider payments settled, by how we learnt of them and what became of them.\n");
            out.push_str("# TYPE campuspay_payments_total counter\n");
            for (source, disposition, n) in &b.payments {
                let _ =
                    writeln!(out, "campuspay_payments_total{{source=\"{}\",disposition=\"{}\"}} {n}", escape(source), escape(disposition));
            }
            out.push_str("# HELP campuspay_orders Orders by status.\n# TYPE campuspay_orders gauge\n");
            for (status, n) in &b.orders {
                let _ = writeln!(out, "campuspay_orders{{status=\"{}\"}} {n}", escape(status));
            }
            out.push_str("# HELP campuspay_jobs Background jobs by kind and state (pending is the queue's depth).\n");
            out.push_str("# TYPE campuspay_jobs gauge\n");
            for (kind, st, n) in &b.jobs {
                let _ = writeln!(out, "campuspay_jobs{{kind=\"{}\",state=\"{}\"}} {n}", escape(kind), escape(st));
            }
            out.push_str("# HELP campuspay_up Whether the books could be read.\n# TYPE campuspay_up gauge\ncampuspay_up 1\n");
        }
        Err(e) => {
            tracing::error!(error = %e, "reading the books for /metrics");
            out.push_str("# HELP campuspay_up Whether the books could be read.\n# TYPE campuspay_up gauge\ncampuspay_up 0\n");
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response()
}
