//! The office's money pages over real HTTP with the office cookie: the refund form per line,
//! the exception queue resolved from its form, the collection report with its SVG chart and
//! xlsx download, the reconciliation day; CSRF and permissions on each form.

use crate::common::TestApp;
use crate::payments::{behaviour, new_order, pay, provider_pays};
use serde_json::json;
use std::time::{Duration, Instant};

on_both_databases!(an_accountant_refunds_resolves_and_downloads_from_the_pages, cash_is_handed_back_from_the_offline_refund_page);

async fn login(app: &TestApp, school: &str, login: &str, password: &str) -> String {
    let res =
        app.http.post(app.url("/office/login")).form(&[("school", school), ("login", login), ("password", password)]).send().await.unwrap();
    assert_eq!(res.status(), 303);
    res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string()
}

async fn get(app: &TestApp, cookie: &str, path: &str) -> (u16, String) {
    let res = app.http.get(app.url(path)).header("cookie", cookie).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn post(app: &TestApp, cookie: &str, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
    let res = app.http.post(app.url(path)).header("cookie", cookie).form(form).send().await.unwrap();
    let location = res.headers().get("location").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (res.status().as_u16(), location, res.text().await.unwrap())
}

fn csrf_of(html: &str) -> String {
    html.split("name=\"csrf\" value=\"").nth(1).expect("a csrf field").split('"').next().unwrap().to_string()
}

async fn an_accountant_refunds_resolves_and_downloads_from_the_pages(app: TestApp) {
    let token = app.session("qdou", "20230001").await;
    let (charge, order) = new_order(&app, &token).await;
    let no = order["order_no"].as_str().unwrap().to_string();
    let p = pay(&app, &token, &no, "wechat_native").await;
    provider_pays(&app, "wechat_native", p["out_trade_no"].as_str().unwrap()).await;
    let t0 = Instant::now();
    while app.get_json(&format!("/api/v1/student/orders/{no}"), Some(&token)).await.1["status"] != "paid" {
        assert!(t0.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let fin = login(&app, "qdou", "finance", "Finance#2026").await;
    // The form shows the order's line with what is left to refund.
    let (status, html) = get(&app, &fin, &format!("/office/refunds?order_no={no}")).await;
    assert_eq!(status, 200, "{html}");
    let field = format!("amount_{}", charge["id"]);
    assert!(html.contains(&format!("name=\"{field}\"")), "a refund field per line");
    let csrf = csrf_of(&html);
    // Without the session's token nothing happens.
    let (status, _, _) =
        post(&app, &fin, "/office/refunds", &[("csrf", "forged"), ("order_no", &no), (&field, "10"), ("reason", "退费")]).await;
    assert_eq!(status, 403);
    // Three decimals are refused with a Chinese message, and nothing is written.
    let (status, _, body) =
        post(&app, &fin, "/office/refunds", &[("csrf", &csrf), ("order_no", &no), (&field, "10.001"), ("reason", "退费")]).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("最多两位小数"));
    behaviour(&app, "wechatpay", json!({"refund": "refuse"})).await;
    let (status, location, body) =
        post(&app, &fin, "/office/refunds", &[("csrf", &csrf), ("order_no", &no), (&field, "10.50"), ("reason", "退费")]).await;
    assert_eq!(status, 303, "{body}");
    assert!(location.starts_with("/office/refunds?done="), "{location}");
    let amount: i64 = sqlx::query_scalar("SELECT amount_fen FROM office_refunds").fetch_one(app.store.pool()).await.unwrap();
    assert_eq!(amount, 1050);
    app.run_pending_jobs().await;
    behaviour(&app, "wechatpay", json!({"refund": "normal"})).await;
    // The dashboard counts the failure; the queue shows its evidence, escaped, and its actions.
    let (_, dash) = get(&app, &fin, "/office/").await;
    assert!(dash.contains("待处理异常") && dash.contains("退款失败 1"), "{dash}");
    let (status, queue) = get(&app, &fin, "/office/exceptions").await;
    assert_eq!(status, 200);
    assert!(queue.contains("NOT_ENOUGH") && queue.contains("value=\"refund\"") && !queue.contains("value=\"credit\""), "{queue}");
    let id: i64 = sqlx::query_scalar("SELECT id FROM money_exceptions").fetch_one(app.store.pool()).await.unwrap();
    let url = format!("/office/exceptions/{id}/resolve");
    let (status, _, _) = post(&app, &fin, &url, &[("csrf", "forged"), ("action", "note"), ("note", "x")]).await;
    assert_eq!(status, 403);
    let csrf = csrf_of(&queue);
    let (status, location, _) = post(&app, &fin, &url, &[("csrf", &csrf), ("action", "note"), ("note", "已线下退还")]).await;
    assert_eq!((status, location.as_str()), (303, "/office/exceptions?done=1"));
    let (status, _, body) = post(&app, &fin, &url, &[("csrf", &csrf), ("action", "note"), ("note", "再次")]).await;
    assert_eq!(status, 409, "resolved once: {body}");
    // The report: a drawn chart, no script, the xlsx behind the same cookie.
    let period = charge["period"].as_str().unwrap();
    let (status, report) = get(&app, &fin, &format!("/office/reports?period={period}&by=class")).await;
    assert_eq!(status, 200);
    assert!(report.contains("<svg") && report.contains("<rect") && !report.contains("<script"), "{report}");
    let res = app
        .http
        .get(app.url(&format!("/api/v1/office/reports/collection?period={period}&by=class&format=xlsx")))
        .header("cookie", &fin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-security-policy"].to_str().unwrap().contains("script-src 'self'"));
    assert_eq!(&res.bytes().await.unwrap()[..2], b"PK");
    let (status, day) = get(&app, &fin, "/office/reconciliation?date=2026-01-01").await;
    assert_eq!(status, 200);
    assert!(day.contains("这一天还没有对账"));
    // An auditor reads the pages but has no forms, and a posted one is refused.
    let auditor = login(&app, "qdou", "auditor", "Auditor#2026").await;
    let (status, html) = get(&app, &auditor, "/office/refunds").await;
    assert_eq!(status, 200);
    assert!(!html.contains("id=\"refund-form\""));
    let csrf = csrf_of(&html);
    let (status, _, _) =
        post(&app, &auditor, "/office/refunds", &[("csrf", &csrf), ("order_no", &no), (&field, "1"), ("reason", "x")]).await;
    assert_eq!(status, 403);
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM office_refunds").fetch_one(app.store.pool()).await.unwrap();
    assert_eq!(n, 1);
}

async fn cash_is_handed_back_from_the_offline_refund_page(app: TestApp) {
    let token = app.session("lut", "20230001").await;
    let (_, c) = app.get_json("/api/v1/student/charges", Some(&token)).await;
    let charge =
        c["charges"].as_array().unwrap().iter().find(|c| c["arrears_fen"].as_i64().unwrap() >= 1000).cloned().expect("an owed charge");
    let cashier_token = crate::office_money::staff(&app, "lut", "cashier", "Cashier#2026").await;
    let cash = json!({"student_no": "20230001", "lines": [{"charge_id": charge["id"], "amount_fen": 1000}], "method": "cash", "reference": "RCPT-PAGE-1"});
    let (status, p) = app.post_json("/api/v1/office/offline-payments", cash, Some(&cashier_token)).await;
    assert_eq!(status, 200, "{p}");
    let refunded =
        || crate::payments::count(&app, "SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) FROM ledger_entries WHERE kind = 'refund'");
    let fin = login(&app, "lut", "finance", "Finance#2026").await;
    let url = "/office/refunds/offline?method=cash&reference=RCPT-PAGE-1";
    let (status, html) = get(&app, &fin, url).await;
    assert_eq!(status, 200, "{html}");
    let field = format!("amount_{}", charge["id"]);
    assert!(html.contains(&format!("name=\"{field}\"")) && html.contains("¥10.00"), "{html}");
    let csrf = csrf_of(&html);
    let id = p["id"].as_i64().unwrap().to_string();
    let form = |csrf: &str, amount: &str| {
        vec![
            ("csrf".to_string(), csrf.to_string()),
            ("offline_payment_id".to_string(), id.clone()),
            ("method".to_string(), "cash".to_string()),
            ("reference".to_string(), "RCPT-PAGE-1".to_string()),
            (field.clone(), amount.to_string()),
            ("reason".to_string(), "多收退还".to_string()),
        ]
    };
    let send = |f: Vec<(String, String)>| {
        let fin = fin.clone();
        let app = &app;
        async move {
            let res = app.http.post(app.url("/office/refunds/offline")).header("cookie", &fin).form(&f).send().await.unwrap();
            let location = res.headers().get("location").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
            (res.status().as_u16(), location, res.text().await.unwrap())
        }
    };
    let (status, _, _) = send(form("forged", "4")).await;
    assert_eq!(status, 403, "without the session's token nothing happens");
    let (status, _, body) = send(form(&csrf, "10.01")).await;
    assert!(status >= 400 && body.contains("线下退款"), "more than was taken is refused on the page: {status}");
    assert_eq!(refunded().await, 0, "refusals changed nothing");
    let (status, location, _) = send(form(&csrf, "4")).await;
    assert_eq!((status, location.starts_with("/office/refunds?done=")), (303, true), "{location}");
    assert_eq!(refunded().await, -400, "the refund is in the books at once");
    let (_, html) = get(&app, &fin, url).await;
    assert!(html.contains("¥6.00"), "what is left to refund: {html}");
    // Unknown numbers, another school's office, a cashier: refused.
    let (status, html) = get(&app, &fin, "/office/refunds/offline?method=cash&reference=NOSUCH").await;
    assert_eq!(status, 404);
    assert!(html.contains("本校没有这笔线下收款"));
    let other = login(&app, "ejt", "finance", "Finance#2026").await;
    assert_eq!(get(&app, &other, url).await.0, 404, "another school's office does not find it");
    let cashier = login(&app, "lut", "cashier", "Cashier#2026").await;
    assert_eq!(get(&app, &cashier, url).await.0, 403);
}
