//! The write steps measured alone: `--phase order` (creating orders) and `--phase settle`
//! (payments notified by the provider and settled). Both need logged-in students with a
//! charge, and `settle` also their orders and open payments: that preparation runs first, at
//! the same concurrency, and is not part of the figure (logins are bound by argon2).

use super::{PASSWORD, Tally};
use campuspay_store::Store;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One prepared student: their session and what the phase needs next.
pub struct Ready {
    base: String,
    token: String,
    charge: Value,
    out_trade_no: Option<String>,
}

async fn json_of(req: reqwest::RequestBuilder) -> Option<(u16, Value)> {
    let res = req.send().await.ok()?;
    let status = res.status().as_u16();
    Some((status, res.json::<Value>().await.unwrap_or(Value::Null)))
}

/// Logs in `n` students (and, with `pay`, orders their LOAD charge and opens an Alipay QR
/// payment), `concurrency` at a time; answers those that got ready.
pub async fn prepare(http: &reqwest::Client, bases: &[String], n: usize, concurrency: usize, pay: bool) -> Vec<Ready> {
    let next = Arc::new(AtomicUsize::new(0));
    let ready = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, bases, next, ready) = (http.clone(), bases.to_vec(), next.clone(), ready.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let base = bases[i % bases.len()].clone();
                let login = json!({"school": "qdou", "login": format!("L{i:07}"), "password": PASSWORD});
                let Some((200, v)) = json_of(http.post(format!("{base}/api/v1/student/login")).json(&login)).await else { continue };
                let token = v["token"].as_str().unwrap_or_default().to_string();
                let Some((200, c)) = json_of(http.get(format!("{base}/api/v1/student/charges")).bearer_auth(&token)).await else {
                    continue;
                };
                let Some(charge) = c["charges"].as_array().and_then(|c| c.iter().find(|c| c["item_code"] == "LOAD")).cloned() else {
                    continue;
                };
                let mut r = Ready { base, token, charge, out_trade_no: None };
                if pay {
                    let Some(no) = create_order(&http, &r).await else { continue };
                    let body = json!({"channel": "alipay_qr"});
                    let url = format!("{}/api/v1/student/orders/{no}/pay", r.base);
                    let Some((200, p)) = json_of(http.post(url).bearer_auth(&r.token).json(&body)).await else { continue };
                    r.out_trade_no = p["out_trade_no"].as_str().map(str::to_string);
                }
                ready.lock().unwrap().push(r);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    std::mem::take(&mut *ready.lock().unwrap())
}

async fn create_order(http: &reqwest::Client, r: &Ready) -> Option<String> {
    let body = json!({"charges": [{"id": r.charge["id"]}]});
    match json_of(http.post(format!("{}/api/v1/student/orders", r.base)).bearer_auth(&r.token).json(&body)).await {
        Some((201, v)) => v["order_no"].as_str().map(str::to_string),
        _ => None,
    }
}

/// `--phase order`: every prepared student creates their order, `concurrency` at a time.
pub async fn orders(http: &reqwest::Client, ready: Vec<Ready>, concurrency: usize, tally: &Arc<Mutex<Tally>>) {
    let queue = Arc::new(Mutex::new(ready));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, queue, tally) = (http.clone(), queue.clone(), tally.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let Some(r) = queue.lock().unwrap().pop() else { break };
                let t = Instant::now();
                let body = json!({"charges": [{"id": r.charge["id"]}]});
                match json_of(http.post(format!("{}/api/v1/student/orders", r.base)).bearer_auth(&r.token).json(&body)).await {
                    Some((201, _)) => tally.lock().unwrap().ok("create order", t),
                    Some((s, v)) => tally.lock().unwrap().err("create order", format!("{s} {}", v["error"]["code"].as_str().unwrap_or(""))),
                    None => tally.lock().unwrap().err("create order", "connection".into()),
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// `--phase settle`: the provider takes every prepared payment, `concurrency` at a time, and
/// notifies; the figure is payments settled per second, from the first payment taken to the
/// last order shown paid in the database. Answers (settled, seconds).
pub async fn settle(
    http: &reqwest::Client,
    provider: &str,
    store: &Store,
    ready: Vec<Ready>,
    concurrency: usize,
    tally: &Arc<Mutex<Tally>>,
) -> (usize, f64) {
    let paid_before = paid(store).await;
    let n = ready.len();
    let queue = Arc::new(Mutex::new(ready));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, queue, tally, provider) = (http.clone(), queue.clone(), tally.clone(), provider.to_string());
        tasks.push(tokio::spawn(async move {
            loop {
                let Some(r) = queue.lock().unwrap().pop() else { break };
                let Some(out) = r.out_trade_no else { continue };
                let t = Instant::now();
                match http.post(format!("{provider}/sandbox/alipay/orders/{out}/pay")).send().await {
                    Ok(res) if res.status().as_u16() == 200 => tally.lock().unwrap().ok("provider takes payment", t),
                    Ok(res) => tally.lock().unwrap().err("provider takes payment", res.status().as_u16().to_string()),
                    Err(_) => tally.lock().unwrap().err("provider takes payment", "connection".into()),
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    // Settled as the notifications arrive; a lost one would wait for the query job.
    let mut settled = paid(store).await - paid_before;
    while settled < n && t0.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        settled = paid(store).await - paid_before;
    }
    (settled, t0.elapsed().as_secs_f64())
}

async fn paid(store: &Store) -> usize {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM orders o JOIN students s ON s.id = o.student_id WHERE s.student_no LIKE 'L%' AND o.status = 'paid'",
    )
    .fetch_one(store.pool())
    .await
    .unwrap_or(0);
    n as usize
}
