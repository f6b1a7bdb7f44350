//! Long exports as background jobs, on both databases: asked for (API and page), refused with
//! clear errors that create nothing, rendered by the job runner through its stages, the same
//! workbook as the synchronous download, downloadable only at the school by those who read
//! reports, audited, and removed after 24 hours.

use crate::common::TestApp;
use crate::office_money::{finance, paid_order, staff};
use crate::payments::count;
use serde_json::{Value, json};

on_both_databases!(an_export_runs_as_a_job_and_is_downloaded_once_ready);

fn sheet(bytes: &[u8]) -> Vec<Vec<calamine::Data>> {
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> = calamine::Xlsx::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    book.worksheet_range_at(0).unwrap().unwrap().rows().map(|r| r.to_vec()).collect()
}

async fn bytes(app: &TestApp, token: &str, path: &str) -> (u16, Vec<u8>) {
    let res = app.http.get(app.url(path)).bearer_auth(token).send().await.unwrap();
    (res.status().as_u16(), res.bytes().await.unwrap().to_vec())
}

async fn an_export_runs_as_a_job_and_is_downloaded_once_ready(app: TestApp) {
    let token = app.session("lut", "20230001").await;
    paid_order(&app, &token).await;
    let fin = finance(&app, "lut").await;
    let period: String = sqlx::query_scalar(
        "SELECT p.code FROM periods p JOIN schools s ON s.id = p.school_id WHERE s.code = 'lut' ORDER BY p.sort DESC, p.id DESC",
    )
    .fetch_one(app.store.pool())
    .await
    .unwrap();

    // Refusals create nothing.
    let cashier = staff(&app, "lut", "cashier", "Cashier#2026").await;
    for (body, status, code) in [
        (json!({"kind": "ledger"}), 422, "invalid_kind"),
        (json!({"kind": "collection"}), 422, "period_required"),
        (json!({"kind": "collection", "period": "NOSUCH"}), 404, "period_not_found"),
        (json!({"kind": "collection", "period": period, "by": "colour"}), 422, "invalid_group"),
        (json!({"kind": "voucher", "from": "2026-03-02", "to": "2026-03-01"}), 422, "invalid_range"),
        (json!({"kind": "daily", "from": "2026-02-30", "to": "2026-03-01"}), 422, "invalid_date"),
    ] {
        let (s, e) = app.post_json("/api/v1/office/exports", body.clone(), Some(&fin)).await;
        assert_eq!((s, e["error"]["code"].as_str()), (status, Some(code)), "{body}: {e}");
        assert!(!e["error"]["message"].as_str().unwrap().is_ascii(), "a Chinese message: {e}");
    }
    let (s, _) = app.post_json("/api/v1/office/exports", json!({"kind": "daily", "colour": "red"}), Some(&fin)).await;
    assert_eq!(s, 400, "unknown fields are refused");
    let (s, _) = app.post_json("/api/v1/office/exports", json!({"kind": "collection", "period": period}), Some(&cashier)).await;
    assert_eq!(s, 403, "a cashier reads no reports");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM exports").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM jobs WHERE kind = 'export'").await, 0);

    // Asked: queued, not downloadable yet.
    let (s, e) = app.post_json("/api/v1/office/exports", json!({"kind": "collection", "period": period, "by": "class"}), Some(&fin)).await;
    assert_eq!(s, 202, "{e}");
    assert_eq!((e["status"].as_str(), e["percent"].as_i64()), (Some("queued"), Some(0)), "{e}");
    let id = e["id"].as_i64().unwrap();
    let (s, nr) = app.get_json(&format!("/api/v1/office/exports/{id}/file"), Some(&fin)).await;
    assert_eq!((s, nr["error"]["code"].as_str()), (409, Some("export_not_ready")), "{nr}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_log WHERE action = 'export.requested'").await, 1);

    // The runner renders it; it is the same workbook as the synchronous download.
    app.run_pending_jobs().await;
    let (_, e) = app.get_json(&format!("/api/v1/office/exports/{id}"), Some(&fin)).await;
    assert_eq!((e["status"].as_str(), e["stage"].as_i64(), e["percent"].as_i64()), (Some("ready"), Some(3), Some(100)), "{e}");
    let download = e["download"].as_str().unwrap().to_string();
    let (s, background) = bytes(&app, &fin, &download).await;
    assert_eq!(s, 200);
    let (_, direct) = bytes(&app, &fin, &format!("/api/v1/office/reports/collection?period={period}&by=class&format=xlsx")).await;
    let (bg, now) = (sheet(&background), sheet(&direct));
    assert_eq!(bg, now, "the background workbook is the report's");
    assert_eq!(e["rows"].as_i64(), Some(bg.len() as i64 - 2), "rows counted: header and total aside");
    assert_eq!(e["sha256"].as_str().map(str::len), Some(64));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_log WHERE action = 'report.exported' AND detail LIKE '%export:%'").await, 1);

    // Only this school, only roles that read reports.
    let other = finance(&app, "ejt").await;
    for path in [format!("/api/v1/office/exports/{id}"), download.clone()] {
        let (s, e) = app.get_json(&path, Some(&other)).await;
        assert_eq!((s, e["error"]["code"].as_str()), (404, Some("export_not_found")), "{path}: {e}");
        assert_eq!(app.get_json(&path, Some(&cashier)).await.0, 403, "{path}");
    }
    let (_, theirs) = app.get_json("/api/v1/office/exports", Some(&other)).await;
    assert_eq!(theirs, json!([]), "another school lists none of it");
    let auditor = staff(&app, "lut", "auditor", "Auditor#2026").await;
    assert_eq!(bytes(&app, &auditor, &download).await.0, 200, "an auditor reads it");

    // The page: the report's button queues one (with the session's token only); the list
    // shows its stage and refreshes itself while it is unfinished, without script.
    let res = app
        .http
        .post(app.url("/office/login"))
        .form(&[("school", "lut"), ("login", "finance"), ("password", "Finance#2026")])
        .send()
        .await
        .unwrap();
    let cookie = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let page = |path: String| {
        let (app, cookie) = (&app, cookie.clone());
        async move { app.http.get(app.url(&path)).header("cookie", cookie).send().await.unwrap().text().await.unwrap() }
    };
    let now = campuspay_store::db_now();
    let (from, to) =
        (campuspay_domain::time::format_shanghai_date(now - 86_400), campuspay_domain::time::format_shanghai_date(now + 86_400));
    let daily = page(format!("/office/reports/daily?from={from}&to={to}")).await;
    assert!(daily.contains("后台导出记账凭证") && daily.contains("action=\"/office/exports\""), "{daily}");
    let csrf = daily.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    for (token, want) in [("forged", 403), (csrf.as_str(), 303)] {
        let res = app
            .http
            .post(app.url("/office/exports"))
            .header("cookie", &cookie)
            .form(&[("csrf", token), ("kind", "voucher"), ("from", from.as_str()), ("to", to.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), want, "csrf {token}");
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM exports").await, 2);
    let list = page("/office/exports?queued=1".into()).await;
    assert!(list.contains("http-equiv=\"refresh\"") && list.contains("排队中") && !list.contains("<script"), "{list}");
    app.run_pending_jobs().await;
    let list = page("/office/exports".into()).await;
    assert!(!list.contains("http-equiv=\"refresh\"") && list.contains("记账凭证") && list.contains("/file\">下载</a>"), "{list}");
    let (_, all) = app.get_json("/api/v1/office/exports", Some(&fin)).await;
    let voucher = all.as_array().unwrap().iter().find(|e| e["kind"] == "voucher").cloned().unwrap_or(Value::Null);
    let (s, v) = bytes(&app, &fin, voucher["download"].as_str().unwrap()).await;
    assert_eq!(s, 200);
    let (_, direct) = bytes(&app, &fin, &format!("/api/v1/office/ledger/voucher?from={from}&to={to}&format=xlsx")).await;
    assert_eq!(sheet(&v), sheet(&direct), "the voucher sheet too");

    // At most five unfinished at once per school.
    for _ in 0..5 {
        let (s, _) = app.post_json("/api/v1/office/exports", json!({"kind": "daily", "from": from, "to": to}), Some(&fin)).await;
        assert_eq!(s, 202);
    }
    let (s, e) = app.post_json("/api/v1/office/exports", json!({"kind": "daily", "from": from, "to": to}), Some(&fin)).await;
    assert_eq!((s, e["error"]["code"].as_str()), (429, Some("too_many_exports")), "{e}");
    app.run_pending_jobs().await;

    // A day later the files are gone; the record stays.
    app.clock.advance(24 * 3600 + 1);
    app.run_pending_jobs().await;
    let (_, e) = app.get_json(&format!("/api/v1/office/exports/{id}"), Some(&fin)).await;
    assert_eq!((e["status"].as_str(), e.get("download")), (Some("expired"), None), "{e}");
    let (s, g) = app.get_json(&download, Some(&fin)).await;
    assert_eq!((s, g["error"]["code"].as_str()), (404, Some("export_expired")), "{g}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM exports WHERE status = 'ready' OR content <> ''").await, 0);
}
