//! Issue 13 (hardening): what a black-box attack and a crowded term start found, each shown
//! by a test that failed before its fix. Bursts are real concurrent requests, on both
//! databases and, where the limit must hold across instances, split over two instances.

use crate::common;
use crate::common::TestApp;
use serde_json::{Value, json};
use tokio::task::JoinSet;

on_both_databases!(
    a_login_burst_checks_no_more_passwords_than_the_limits,
    an_address_burst_checks_no_more_than_the_address_limit,
    an_sms_code_burst_checks_no_more_codes_than_the_limit,
    failures_count_per_student_however_the_login_is_typed,
    a_busy_address_gets_a_captcha_not_a_refusal,
    every_response_carries_the_security_headers,
);

/// Sends every body at once to `/api/v1/...{path}`, alternating between the instances given;
/// returns each answer's status and error code.
async fn burst(apps: &[&TestApp], path: &str, bodies: Vec<Value>) -> Vec<(u16, String)> {
    let mut set = JoinSet::new();
    for (i, body) in bodies.into_iter().enumerate() {
        let app = apps[i % apps.len()];
        let (http, url) = (app.http.clone(), app.url(path));
        set.spawn(async move {
            let res = http.post(url).json(&body).send().await.unwrap();
            let status = res.status().as_u16();
            let v: Value = res.json().await.unwrap_or(Value::Null);
            (status, v["error"]["code"].as_str().unwrap_or("").to_string())
        });
    }
    set.join_all().await
}

fn count(answers: &[(u16, String)], code: &str) -> usize {
    answers.iter().filter(|(_, c)| c == code).count()
}

async fn failures_recorded(app: &TestApp, kind: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM security_events WHERE kind = $1").bind(kind).fetch_one(app.store.pool()).await.unwrap()
}

/// Item 1: 100 wrong passwords at once for one account, over two instances, check at most 3
/// (then a captcha is due); with 100 solved captchas at most 10 (then it is locked).
async fn a_login_burst_checks_no_more_passwords_than_the_limits(app: TestApp) {
    let second = app.second_instance().await;
    let wrong = json!({"school": "qdou", "login": "20230003", "password": "wrong-password"});
    let answers = burst(&[&app, &second], "/api/v1/student/login", vec![wrong.clone(); 100]).await;
    let checked = count(&answers, "invalid_credentials");
    assert!(checked <= 3, "{checked} passwords checked before the captcha: {answers:?}");
    // A login told to come back (429 busy, a full hashing line) checked nothing either.
    assert_eq!(count(&answers, "captcha_required") + count(&answers, "busy") + checked, 100, "{answers:?}");
    assert!(failures_recorded(&app, "login_failed").await <= 3);

    let mut bodies = Vec::new();
    for _ in 0..100 {
        let (id, answer) = app.solved_captcha().await;
        let mut b = wrong.clone();
        b["captcha_id"] = id.into();
        b["captcha"] = answer.into();
        bodies.push(b);
    }
    let answers = burst(&[&app, &second], "/api/v1/student/login", bodies).await;
    let failed = failures_recorded(&app, "login_failed").await;
    assert!(failed <= 10, "{failed} passwords checked before the lock: {answers:?}");
    assert_eq!(failed, 10, "the lock comes at 10, not before");
    // The rest are refused without a check: locked, or told to come back (429 busy) when the
    // hashing line was full, which is answered before the account is even read.
    assert!(count(&answers, "account_locked") >= 1, "{answers:?}");
    assert!(count(&answers, "account_locked") + count(&answers, "busy") >= 90 - 3, "{answers:?}");
    assert_eq!(failures_recorded(&app, "locked_out").await, 1, "one failure is the one that locks");
}

/// Item 1 (per address): 100 wrong logins at once for 100 numbers from one address check at
/// most 50 passwords; the rest need a captcha.
async fn an_address_burst_checks_no_more_than_the_address_limit(app: TestApp) {
    let second = app.second_instance().await;
    let bodies = (0..100).map(|i| json!({"school": "cqjzc", "login": format!("2999{i:04}"), "password": "wrong-password"})).collect();
    let answers = burst(&[&app, &second], "/api/v1/student/login", bodies).await;
    let checked = count(&answers, "invalid_credentials");
    assert!(checked <= 50, "{checked} checked from one address: {answers:?}");
    // A login told to come back (429 busy, a full hashing line) checked nothing either.
    assert_eq!(count(&answers, "captcha_required") + count(&answers, "busy") + checked, 100, "{answers:?}");
    assert!(failures_recorded(&app, "login_failed").await <= 50);
}

/// Item 1 (recovery): 100 SMS codes at once for one student check at most 3 (then a captcha).
async fn an_sms_code_burst_checks_no_more_codes_than_the_limit(app: TestApp) {
    let second = app.second_instance().await;
    let (s, v) = app.post_json("/api/v1/recovery/sms", json!({"school": "cqjzc", "login": "20230001"}), None).await;
    assert_eq!(s, 202, "{v}");
    let bodies = (0..100)
        .map(|i| {
            json!({"school": "cqjzc", "login": "20230001", "code": format!("{:06}", 100_000 + i),
                   "new_password": common::NEW_PASSWORD, "confirm_password": common::NEW_PASSWORD})
        })
        .collect();
    let answers = burst(&[&app, &second], "/api/v1/recovery/sms/reset", bodies).await;
    let checked = answers.iter().filter(|(s, c)| c == "invalid_code" || *s == 200).count();
    assert!(checked <= 3, "{checked} codes checked: {answers:?}");
    assert!(failures_recorded(&app, "recovery_failed").await <= 3);
}

/// Item 4: at qdou (student number or phone) alternating the two counts against one student.
async fn failures_count_per_student_however_the_login_is_typed(app: TestApp) {
    let qdou = app.store.school_by_code("qdou").await.unwrap().unwrap();
    let st = app.store.student_by_no(qdou.id, "20230002").await.unwrap().unwrap();
    let mut codes = Vec::new();
    for login in [&st.student_no, &st.phone, &st.student_no, &st.phone] {
        let body = json!({"school": "qdou", "login": login, "password": "wrong-password"});
        codes.push(app.post_json("/api/v1/student/login", body, None).await.1["error"]["code"].as_str().unwrap().to_string());
    }
    assert_eq!(codes, ["invalid_credentials", "invalid_credentials", "invalid_credentials", "captcha_required"]);
}

/// Item 5: an address over its failures gets a captcha (and a pause), never a refusal of a
/// right password.
async fn a_busy_address_gets_a_captcha_not_a_refusal(app: TestApp) {
    let cq = app.store.school_by_code("cqjzc").await.unwrap().unwrap();
    let t = campuspay_store::db_now();
    for i in 0..50 {
        sqlx::query("INSERT INTO security_events (school_id, login, kind, ip, at) VALUES ($1, $2, 'login_failed', '127.0.0.1', $3)")
            .bind(cq.id)
            .bind(format!("2999{i:04}"))
            .bind(t - 60)
            .execute(app.store.pool())
            .await
            .unwrap();
    }
    let body = json!({"school": "cqjzc", "login": "20230001", "password": "111111"});
    let (s, v) = app.post_json("/api/v1/student/login", body, None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (401, Some("captcha_required")), "{v}");
    let started = std::time::Instant::now();
    let (s, v) = app.login("cqjzc", "20230001", "111111").await;
    assert_eq!(s, 200, "a right password with a captcha logs in: {v}");
    assert!(started.elapsed() >= std::time::Duration::from_secs(1), "and is slowed down");
}

/// Item 9: unknown paths (404), the API, pages and the simulator's pages all carry the
/// security headers.
async fn every_response_carries_the_security_headers(app: TestApp) {
    for path in ["/no/such/page", "/api/v1/no-such-route", "/s/qdou/login", "/api/v1/captcha", "/sandbox/wechatpay/cashier/NOSUCHTRADE"] {
        let res = app.http.get(app.url(path)).send().await.unwrap();
        let h = res.headers();
        let csp = h.get("content-security-policy").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "{path} ({}): CSP {csp:?}", res.status());
        assert_eq!(h.get("x-content-type-options").map(|v| v.to_str().unwrap()), Some("nosniff"), "{path}");
        assert_eq!(h.get("x-frame-options").map(|v| v.to_str().unwrap()), Some("DENY"), "{path}");
    }
}
