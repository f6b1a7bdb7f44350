//! Limits that protect: each class of expensive request has its own bound on requests in
//! flight, so a flood of one (logins at 8 a.m., a batch of exports) is answered `429 busy`
//! at once instead of queueing until it starves the others — the home page, the payment
//! notifications. Every request also has a deadline.

use crate::error::HttpError;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Requests in flight per class.
#[derive(Debug, Clone, Copy)]
pub struct RouteLimits {
    /// Password checks (student and office, API and pages).
    pub login: usize,
    /// Creating, paying and cancelling orders.
    pub pay: usize,
    /// Office files: imports, exports and `.xlsx` reports.
    pub files: usize,
    /// Longest a request may run, in seconds (files get four times as long).
    pub timeout_s: u64,
}

impl Default for RouteLimits {
    fn default() -> Self {
        RouteLimits { login: 64, pay: 128, files: 2, timeout_s: 30 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Login,
    Pay,
    Files,
    Other,
}

fn class_of(method: &Method, path: &str, query: Option<&str>) -> Class {
    let post = method == Method::POST;
    if post && path.ends_with("/login") {
        return Class::Login;
    }
    let upload = post && path.starts_with("/api/v1/office/imports") && !path.ends_with("/commit");
    if upload || path.contains("/export") || query.is_some_and(|q| q.split('&').any(|kv| kv == "format=xlsx")) {
        return Class::Files;
    }
    let orders = path.starts_with("/api/v1/student/orders") || (path.starts_with("/s/") && path.contains("/orders"));
    if post && orders {
        return Class::Pay;
    }
    Class::Other
}

/// The semaphores of each class, made from [`RouteLimits`].
#[derive(Debug)]
pub struct Gates {
    login: Arc<Semaphore>,
    pay: Arc<Semaphore>,
    files: Arc<Semaphore>,
    timeout: Duration,
}

impl Gates {
    pub fn new(l: RouteLimits) -> Gates {
        Gates {
            login: Arc::new(Semaphore::new(l.login.max(1))),
            pay: Arc::new(Semaphore::new(l.pay.max(1))),
            files: Arc::new(Semaphore::new(l.files.max(1))),
            timeout: Duration::from_secs(l.timeout_s.max(1)),
        }
    }
}

fn busy() -> HttpError {
    HttpError::from(
        campuspay_app::Error::new(
            campuspay_app::ErrorKind::TooManyRequests,
            "busy",
            "当前访问人数较多，请稍等几秒后重试",
            "Many people are doing the same right now; try again in a few seconds",
        )
        .details(serde_json::json!({"retry_after_s": 2})),
    )
}

pub async fn limit(State(gates): State<Arc<Gates>>, req: Request, next: Next) -> Response {
    let class = class_of(req.method(), req.uri().path(), req.uri().query());
    let gate = match class {
        Class::Login => Some(&gates.login),
        Class::Pay => Some(&gates.pay),
        Class::Files => Some(&gates.files),
        Class::Other => None,
    };
    let _permit = match gate.map(|g| g.clone().try_acquire_owned()) {
        Some(Ok(p)) => Some(p),
        Some(Err(_)) => return busy().into_response(),
        None => None,
    };
    let deadline = if class == Class::Files { gates.timeout * 4 } else { gates.timeout };
    match tokio::time::timeout(deadline, next.run(req)).await {
        Ok(res) => res,
        Err(_) => {
            tracing::warn!(?class, "request ran past its deadline");
            HttpError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "请求处理超时，请稍后重试",
                "The request took too long; try again later",
            )
            .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_fall_in_their_class() {
        let post = Method::POST;
        let get = Method::GET;
        assert_eq!(class_of(&post, "/api/v1/student/login", None), Class::Login);
        assert_eq!(class_of(&post, "/s/qdou/login", None), Class::Login);
        assert_eq!(class_of(&post, "/api/v1/office/login", None), Class::Login);
        assert_eq!(class_of(&get, "/s/qdou/login", None), Class::Other);
        assert_eq!(class_of(&post, "/api/v1/student/orders", None), Class::Pay);
        assert_eq!(class_of(&post, "/api/v1/student/orders/XF1/pay", None), Class::Pay);
        assert_eq!(class_of(&get, "/api/v1/student/orders/XF1", None), Class::Other);
        assert_eq!(class_of(&get, "/api/v1/office/audit/export", None), Class::Files);
        assert_eq!(class_of(&get, "/api/v1/office/reports/collection", Some("period=1&format=xlsx")), Class::Files);
        assert_eq!(class_of(&post, "/api/v1/office/imports", None), Class::Files);
        assert_eq!(class_of(&get, "/api/v1/office/imports/3", None), Class::Other);
        assert_eq!(class_of(&get, "/api/v1/student/charges", None), Class::Other);
    }

    /// A class at its bound answers the next request 429 at once, while other classes pass.
    #[tokio::test]
    async fn a_full_class_answers_busy_and_leaves_the_others_alone() {
        use axum::routing::{get, post};
        let gates = Arc::new(Gates::new(RouteLimits { login: 1, pay: 1, files: 1, timeout_s: 5 }));
        let slow = || async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            "done"
        };
        let router = axum::Router::new()
            .route("/api/v1/student/login", post(slow))
            .route("/api/v1/student/charges", get(|| async { "charges" }))
            .layer(axum::middleware::from_fn_with_state(gates, limit));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        let http = reqwest::Client::new();
        let first = tokio::spawn({
            let (http, url) = (http.clone(), format!("{base}/api/v1/student/login"));
            async move { http.post(url).send().await.unwrap().status().as_u16() }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let second = http.post(format!("{base}/api/v1/student/login")).send().await.unwrap();
        assert_eq!(second.status().as_u16(), 429);
        assert_eq!(second.headers().get("retry-after").unwrap(), "2");
        let other = http.get(format!("{base}/api/v1/student/charges")).send().await.unwrap();
        assert_eq!(other.status().as_u16(), 200, "another class is not held up");
        assert_eq!(first.await.unwrap(), 200);
    }
}
