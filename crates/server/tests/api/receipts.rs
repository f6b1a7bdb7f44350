//! Electronic receipts on SQLite and PostgreSQL: one per payment whatever the notifications and
//! queries do, one per offline payment, red letters on refunds, verification and tampering,
//! delivery through the outbox, and the PDF's text and rendering.

use crate::common;
use crate::payments::{behaviour, new_order, pay, provider_pays};

use campuspay_app::jobs::{self, Job, Queue};
use campuspay_app::receipts::{self, Issuer, IssuerFuture, ReceiptData, RefundOf, Sealed};
use campuspay_domain::Fen;
use campuspay_store::On;
use common::TestApp;
use serde_json::{Value, json};
use std::process::Command;
use std::time::{Duration, Instant};

on_both_databases!(
    a_duplicated_notification_and_a_racing_query_give_one_receipt,
    an_offline_payment_gets_one_receipt,
    a_refund_red_letters_the_receipt,
    receipt_numbers_have_no_gaps_under_concurrency,
    the_office_searches_resends_and_reissues,
    the_demo_counter_payments_have_their_receipts,
    issuing_jobs_are_claimed_and_issued_in_batches,
    a_school_issues_through_its_own_issuer,
);

async fn receipts_of(app: &TestApp, token: &str) -> Vec<Value> {
    let (s, v) = app.get_json("/api/v1/student/receipts", Some(token)).await;
    assert_eq!(s, 200, "{v}");
    v.as_array().unwrap().clone()
}

async fn verify(app: &TestApp, code: &str, number: &str, check: &str) -> Value {
    let url = format!("/api/v1/receipts/verify?code={code}&number={number}&check_code={check}");
    let (s, v) = app.get_json(&url, None).await;
    assert_eq!(s, 200, "{v}");
    v
}

/// Pays a new order of `student` at lut through WeChat with the given notification behaviour.
async fn paid_order(app: &TestApp, token: &str, notify: &str) -> (Value, Value) {
    behaviour(app, "wechatpay", json!({"notify": notify})).await;
    let (charge, o) = new_order(app, token).await;
    let no = o["order_no"].as_str().unwrap().to_string();
    let p = pay(app, token, &no, "wechat_native").await;
    provider_pays(app, "wechat_native", p["out_trade_no"].as_str().unwrap()).await;
    let t0 = Instant::now();
    while app.get_json(&format!("/api/v1/student/orders/{no}"), Some(token)).await.1["status"] != "paid" {
        assert!(t0.elapsed() < Duration::from_secs(10), "not paid");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    behaviour(app, "wechatpay", json!({"notify": "normal"})).await;
    (charge, o)
}

/// `pdftotext -layout` of the PDF at `url` (spaces removed), also rendered with `pdftoppm`
/// into `target/screenshots/` to be looked at.
async fn pdf_text(app: &TestApp, token: &str, url: &str, png: &str) -> String {
    let res = app.http.get(app.url(url)).bearer_auth(token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let bytes = res.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF") && bytes.len() < 200 * 1024, "{} bytes", bytes.len());
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    // One file per database: the SQLite and PostgreSQL runs of a test run side by side, and
    // one must never read the other's PDF half-written.
    let png = format!("{png}-{}", if app.store.backend() == campuspay_store::Backend::Sqlite { "sqlite" } else { "postgres" });
    let pdf = dir.join(format!("{png}.pdf"));
    std::fs::write(&pdf, &bytes).unwrap();
    let out = Command::new("pdftotext").arg("-layout").arg(&pdf).arg("-").output().expect("pdftotext (poppler-utils)");
    assert!(out.status.success());
    let ppm = Command::new("pdftoppm").args(["-png", "-r", "80", "-singlefile"]).arg(&pdf).arg(dir.join(&png)).status().expect("pdftoppm");
    assert!(ppm.success(), "pdftoppm renders the receipt");
    String::from_utf8(out.stdout).unwrap().replace([' ', '\u{3000}'], "")
}

async fn a_duplicated_notification_and_a_racing_query_give_one_receipt(app: TestApp) {
    let token = app.session("lut", "20230001").await;
    let (charge, o) = paid_order(&app, &token, "duplicate").await;
    let order_id: i64 = sqlx::query_scalar("SELECT id FROM orders WHERE order_no = $1")
        .bind(o["order_no"].as_str().unwrap())
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    // The issuing job races two more runs of itself and the attempt's query.
    let (a, b) = (app.state.clone(), app.state.clone());
    let (r1, r2) = tokio::join!(receipts::issue_for_order(&a, order_id), receipts::issue_for_order(&b, order_id));
    let (r1, r2) = (r1.unwrap_or_default(), r2.unwrap_or_default());
    app.clock.advance(3);
    app.run_pending_jobs().await;
    assert!(r1.len() + r2.len() <= 1, "{r1:?} {r2:?}");
    let list = receipts_of(&app, &token).await;
    assert_eq!(list.len(), 1, "{list:?}");
    let r = &list[0];
    let payable = charge["payable_fen"].as_i64().unwrap();
    assert_eq!((r["amount_fen"].as_i64(), r["status"].as_str(), r["kind"].as_str()), (Some(payable), Some("issued"), Some("normal")));
    assert_eq!(r["code"], "62060125", "lut's policy gives 非税收入票据 its code");
    let (code, number, check) = (r["code"].as_str().unwrap(), r["number"].as_str().unwrap(), r["check_code"].as_str().unwrap());

    // The SMS with the verify link went to the outbox.
    let sms: Vec<String> = sqlx::query_scalar("SELECT body FROM outbox WHERE channel = 'sms'").fetch_all(app.store.pool()).await.unwrap();
    assert!(sms.iter().any(|b| b.contains(number) && b.contains("/receipts/verify?")), "{sms:?}");

    // The PDF: payer, items, 大写 amount, authority.
    let (_, me) = app.get_json("/api/v1/student/me", Some(&token)).await;
    let text = pdf_text(&app, &token, r["pdf_url"].as_str().unwrap(), "receipt-lut").await;
    let item = charge["item_name"].as_str().or(charge["name"].as_str()).unwrap_or_default().to_string();
    for want in [me["name"].as_str().unwrap(), &item, &campuspay_domain::receipt::capitals(Fen(payable)), "甘肃省财政厅", number] {
        assert!(text.contains(want), "{want:?} missing from:\n{text}");
    }

    // Verification: genuine, then altered check code, number and code.
    let v = verify(&app, code, number, check).await;
    assert_eq!((v["valid"].as_bool(), v["status"].as_str(), v["amount_fen"].as_i64()), (Some(true), Some("valid"), Some(payable)), "{v}");
    let flip = |s: &str| {
        let last = s.chars().last().unwrap();
        format!("{}{}", &s[..s.len() - 1], if last == '0' { '1' } else { '0' })
    };
    for (c, n, k) in [
        (code.to_string(), number.to_string(), flip(check)),
        (code.into(), flip(number), check.into()),
        (flip(code), number.into(), check.into()),
    ] {
        let v = verify(&app, &c, &n, &k).await;
        assert_eq!((v["valid"].as_bool(), v["status"].as_str()), (Some(false), Some("unknown")), "{c} {n} {k}: {v}");
    }
    // Altered in the database: the seal no longer matches.
    sqlx::query("UPDATE receipts SET amount_fen = amount_fen + 100").execute(app.store.pool()).await.unwrap();
    assert_eq!(verify(&app, code, number, check).await["valid"], false);
    // The public page shows the receipt without a login.
    let page = app.http.get(r["verify_url"].as_str().unwrap()).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(number), "{page}");
}

async fn an_offline_payment_gets_one_receipt(app: TestApp) {
    let (s, v) =
        app.post_json("/api/v1/office/login", json!({"school": "lut", "login": "cashier", "password": "Cashier#2026"}), None).await;
    assert_eq!(s, 200, "{v}");
    let cashier = v["token"].as_str().unwrap().to_string();
    let token = app.session("lut", "20230001").await;
    let (charge, _) = {
        let owed = crate::payments::owed(&app, &token).await;
        (owed[0].clone(), ())
    };
    let body = json!({"student_no": "20230001", "lines": [{"charge_id": charge["id"], "amount_fen": 10_000}], "method": "cash", "reference": "RC-1"});
    for _ in 0..2 {
        let (s, v) = app.post_json("/api/v1/office/offline-payments", body.clone(), Some(&cashier)).await;
        assert_eq!(s, 200, "{v}");
    }
    app.run_pending_jobs().await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM offline_payments").fetch_one(app.store.pool()).await.unwrap();
    assert!(receipts::issue_for_offline(&app.state, id).await.unwrap().is_empty(), "issued once");
    let list = receipts_of(&app, &token).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["amount_fen"], 10_000);
    let text = pdf_text(&app, &token, list[0]["pdf_url"].as_str().unwrap(), "receipt-offline").await;
    assert!(text.contains("壹佰元整") && text.contains("现金") && text.contains("RC-1"), "{text}");
}

async fn a_refund_red_letters_the_receipt(app: TestApp) {
    let token = app.session("lut", "20230001").await;
    let (charge, o) = paid_order(&app, &token, "normal").await;
    app.run_pending_jobs().await;
    let payable = charge["payable_fen"].as_i64().unwrap();
    let order_id: i64 = sqlx::query_scalar("SELECT id FROM orders WHERE order_no = $1")
        .bind(o["order_no"].as_str().unwrap())
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    let lines = app.store.order_paid_lines(On::Pool, order_id).await.unwrap();
    // A partial refund of 100 fen of the first item.
    let refund = RefundOf { order_id, refund_key: "RF1".into(), lines: vec![(lines[0].item_code.clone(), Fen(100))], amount: Fen(100) };
    let mut tx = app.store.write_tx().await.unwrap();
    let issued = receipts::red_letter(&app.state, &mut tx, &refund).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(issued.len(), 2, "a red letter and a receipt for what stays paid");
    app.run_pending_jobs().await;
    let list = receipts_of(&app, &token).await;
    assert_eq!(list.len(), 3, "{list:?}");
    let find = |kind: &str, status: &str| list.iter().find(|r| r["kind"] == kind && r["status"] == status).cloned().unwrap();
    let original = find("normal", "red_lettered");
    let red = find("red_letter", "issued");
    let rest = find("normal", "issued");
    assert_eq!(original["amount_fen"].as_i64(), Some(payable));
    assert_eq!(red["amount_fen"].as_i64(), Some(-payable));
    assert_eq!(rest["amount_fen"].as_i64(), Some(payable - 100));
    let numbers: Vec<&str> = [&original, &red, &rest].iter().map(|r| r["number"].as_str().unwrap()).collect();
    // The red letter and the reissue follow each other; with the demo's own counter receipts
    // (issued in the worker's batch with the order's) the type's sequence has no gap.
    let n: Vec<u64> = numbers.iter().map(|n| n.parse().unwrap()).collect();
    assert!(n[0] >= 1 && n[2] == n[1] + 1 && numbers.iter().all(|n| n.len() == 10), "{numbers:?}");
    for (t, seqs) in numbers_by_type(&app).await {
        assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "{t}: one gap-free sequence");
    }
    let v = verify(&app, original["code"].as_str().unwrap(), numbers[0], original["check_code"].as_str().unwrap()).await;
    assert_eq!((v["valid"].as_bool(), v["status"].as_str()), (Some(false), Some("red_lettered")), "{v}");
    let v = verify(&app, red["code"].as_str().unwrap(), numbers[1], red["check_code"].as_str().unwrap()).await;
    assert_eq!(v["valid"], true, "{v}");
    let text = pdf_text(&app, &token, red["pdf_url"].as_str().unwrap(), "receipt-red-letter").await;
    assert!(
        text.contains("红字票据") && text.contains(&format!("冲红原票据：{}{}", original["code"].as_str().unwrap(), numbers[0])),
        "{text}"
    );
    // The same refund again issues nothing more.
    let mut tx = app.store.write_tx().await.unwrap();
    assert!(receipts::red_letter(&app.state, &mut tx, &refund).await.unwrap().is_empty());
    tx.commit().await.unwrap();
    // A refund given only as an amount (as the provider refund job knows it) takes it from the lines.
    let by_amount = RefundOf { order_id, refund_key: "RF2".into(), lines: vec![], amount: Fen(50) };
    let mut tx = app.store.write_tx().await.unwrap();
    assert_eq!(receipts::red_letter(&app.state, &mut tx, &by_amount).await.unwrap().len(), 2);
    tx.commit().await.unwrap();
    let list = receipts_of(&app, &token).await;
    let standing: Vec<i64> =
        list.iter().filter(|r| r["status"] == "issued" && r["kind"] == "normal").map(|r| r["amount_fen"].as_i64().unwrap()).collect();
    assert_eq!(standing, [payable - 150], "{list:?}");
}

/// Twenty transactions take numbers at once and every other one rolls back: the committed
/// numbers are exactly 1…10.
async fn receipt_numbers_have_no_gaps_under_concurrency(app: TestApp) {
    let school: i64 = sqlx::query_scalar("SELECT id FROM schools WHERE code = 'lut'").fetch_one(app.store.pool()).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = app.store.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = store.write_tx().await.unwrap();
            let n = store.next_receipt_seq(&mut tx, school, "非税收入票据").await.unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
            if i % 2 == 0 {
                tx.commit().await.unwrap();
                Some(n)
            } else {
                None
            }
        }));
    }
    let mut kept: Vec<i64> = Vec::new();
    for t in tasks {
        kept.extend(t.await.unwrap());
    }
    kept.sort();
    assert_eq!(kept, (1..=10).collect::<Vec<_>>());
}

async fn the_office_searches_resends_and_reissues(app: TestApp) {
    let token = app.session("lut", "20230001").await;
    paid_order(&app, &token, "normal").await;
    app.run_pending_jobs().await;
    let login = |login: &'static str, password: &'static str| {
        let app = &app;
        async move {
            let (s, v) = app.post_json("/api/v1/office/login", json!({"school": "lut", "login": login, "password": password}), None).await;
            assert_eq!(s, 200, "{v}");
            v["token"].as_str().unwrap().to_string()
        }
    };
    let (cashier, finance) = (login("cashier", "Cashier#2026").await, login("finance", "Finance#2026").await);
    let (s, v) = app.get_json("/api/v1/office/receipts?student_no=20230001", Some(&cashier)).await;
    assert_eq!(s, 200, "{v}");
    let found = v["receipts"].as_array().unwrap().clone();
    assert_eq!(found.len(), 1, "{v}");
    let r = &found[0];
    let id = r["id"].as_i64().unwrap();
    assert_eq!(r["student_no"], "20230001");
    let (s, v) = app.get_json(&format!("/api/v1/office/receipts?q={}", r["number"].as_str().unwrap()), Some(&cashier)).await;
    assert_eq!((s, v["receipts"].as_array().unwrap().len()), (200, 1), "{v}");

    // Sent again: one more SMS in the outbox.
    let sms = || async { crate::payments::count(&app, "SELECT COUNT(*) FROM outbox WHERE channel = 'sms'").await };
    let before = sms().await;
    let (s, v) = app.post_json(&format!("/api/v1/office/receipts/{id}/resend"), json!({}), Some(&cashier)).await;
    assert_eq!(s, 200, "{v}");
    app.run_pending_jobs().await;
    assert_eq!(sms().await, before + 1);

    // A wrong credit code is refused and changes nothing; a right one voids and reissues.
    let bad =
        json!({"kind": "company", "title": "兰州某某科技有限公司", "credit_code": "91350100M000100Y44", "reason": "学生申请改为单位抬头"});
    let (s, v) = app.post_json(&format!("/api/v1/office/receipts/{id}/reissue"), bad, Some(&finance)).await;
    assert_eq!((s, v["error"]["field"].as_str()), (422, Some("credit_code")), "{v}");
    let good =
        json!({"kind": "company", "title": "兰州某某科技有限公司", "credit_code": "91350100M000100Y43", "reason": "学生申请改为单位抬头"});
    let (s, v) = app.post_json(&format!("/api/v1/office/receipts/{id}/reissue"), good.clone(), Some(&cashier)).await;
    assert_eq!(s, 403, "a cashier may not correct receipts: {v}");
    let (s, new) = app.post_json(&format!("/api/v1/office/receipts/{id}/reissue"), good.clone(), Some(&finance)).await;
    assert_eq!((s, new["payer"].as_str(), new["status"].as_str()), (200, Some("兰州某某科技有限公司"), Some("issued")), "{new}");
    let (s, v) = app.post_json(&format!("/api/v1/office/receipts/{id}/reissue"), good, Some(&finance)).await;
    assert_eq!(s, 409, "a void receipt is not corrected twice: {v}");
    let v = verify(&app, r["code"].as_str().unwrap(), r["number"].as_str().unwrap(), r["check_code"].as_str().unwrap()).await;
    assert_eq!((v["valid"].as_bool(), v["status"].as_str()), (Some(false), Some("void")), "{v}");
    let v = verify(&app, new["code"].as_str().unwrap(), new["number"].as_str().unwrap(), new["check_code"].as_str().unwrap()).await;
    assert_eq!(v["valid"], true, "{v}");
    let text = pdf_text(&app, &finance, &format!("/api/v1/office/receipts/{}/pdf", new["id"]), "receipt-reissued").await;
    assert!(text.contains("91350100M000100Y43") && text.contains("兰州某某科技有限公司"), "{text}");
    let audited =
        crate::payments::count(&app, "SELECT COUNT(*) FROM audit_log WHERE action IN ('receipt.resent', 'receipt.reissued')").await;
    assert_eq!(audited, 2);
}

/// The demo's 20230002 paid everything at the counter: each payment is a counter record with
/// its receipt, issued by the worker, whose amounts add up to the ledger's counter money.
async fn the_demo_counter_payments_have_their_receipts(app: TestApp) {
    let token = app.session("lut", "20230002").await;
    assert!(receipts_of(&app, &token).await.is_empty(), "issued by the worker, not by the seed");
    app.run_pending_jobs().await;
    let list = receipts_of(&app, &token).await;
    assert!(!list.is_empty());
    assert!(list.iter().all(|r| r["status"] == "issued" && r["kind"] == "normal"), "{list:?}");
    let school = app.store.school_by_code("lut").await.unwrap().unwrap();
    let student = app.store.student_by_no(school.id, "20230002").await.unwrap().unwrap();
    let counter: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) FROM ledger_entries WHERE student_id = $1 AND kind = 'offline_payment'",
    )
    .bind(student.id)
    .fetch_one(app.store.pool())
    .await
    .unwrap();
    let receipted: i64 = list.iter().map(|r| r["amount_fen"].as_i64().unwrap()).sum();
    assert_eq!(receipted, counter, "every fen taken at the counter has its receipt");
    let text = pdf_text(&app, &token, list[0]["pdf_url"].as_str().unwrap(), "receipt-demo-counter").await;
    assert!(text.contains("现金"), "{text}");
}

/// Each receipt type's numbers at lut, in order: 1…n when the sequence has no gaps.
async fn numbers_by_type(app: &TestApp) -> Vec<(String, Vec<i64>)> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT r.receipt_type, r.seq FROM receipts r JOIN schools s ON s.id = r.school_id WHERE s.code = 'lut' ORDER BY r.receipt_type, r.seq",
    )
    .fetch_all(app.store.pool())
    .await
    .unwrap();
    let mut by: Vec<(String, Vec<i64>)> = Vec::new();
    for (t, seq) in rows {
        match by.iter_mut().find(|(k, _)| *k == t) {
            Some((_, v)) => v.push(seq),
            None => by.push((t, vec![seq])),
        }
    }
    by
}

/// The worker claims due issuing jobs many at a time and issues them in one transaction: two
/// workers racing over twelve counter payments (and the demo's own) issue one receipt each,
/// numbered without gaps; the same jobs queued again issue nothing; a job that cannot be
/// issued fails alone while the rest of its batch is issued.
async fn issuing_jobs_are_claimed_and_issued_in_batches(app: TestApp) {
    let (s, v) =
        app.post_json("/api/v1/office/login", json!({"school": "lut", "login": "cashier", "password": "Cashier#2026"}), None).await;
    assert_eq!(s, 200, "{v}");
    let cashier = v["token"].as_str().unwrap().to_string();
    let token = app.session("lut", "20230001").await;
    let charge = crate::payments::owed(&app, &token).await[0].clone();
    let pay = |reference: String| {
        let (app, cashier, charge) = (&app, &cashier, &charge);
        async move {
            let body = json!({"student_no": "20230001", "lines": [{"charge_id": charge["id"], "amount_fen": 100}], "method": "cash", "reference": reference});
            let (s, v) = app.post_json("/api/v1/office/offline-payments", body, Some(cashier)).await;
            assert_eq!(s, 200, "{v}");
        }
    };
    for i in 0..12 {
        pay(format!("BATCH-{i}")).await;
    }
    let due = jobs::claim(&app.state.ctx, Queue::Local).await.unwrap().expect("issuing jobs are due");
    assert!(due.jobs() >= 12, "one claim takes the due issuing jobs together: {}", due.jobs());
    jobs::run_claimed(&app.state.ctx, due).await;
    // Twelve more, issued by two workers at once.
    for i in 12..24 {
        pay(format!("BATCH-{i}")).await;
    }
    let worker = |ctx: campuspay_app::Context| async move {
        while let Some(c) = jobs::claim(&ctx, Queue::Local).await.unwrap() {
            jobs::run_claimed(&ctx, c).await;
        }
    };
    tokio::join!(worker(app.state.ctx.clone()), worker(app.state.ctx.clone()));
    app.assert_no_failed_jobs().await;
    let per_payment: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT o.id, (SELECT COUNT(*) FROM receipts r WHERE r.source = 'offline:' || CAST(o.id AS TEXT)) FROM offline_payments o ORDER BY o.id",
    )
    .fetch_all(app.store.pool())
    .await
    .unwrap();
    assert!(per_payment.len() >= 24 && per_payment.iter().all(|(_, n)| *n == 1), "{per_payment:?}");
    let numbers = numbers_by_type(&app).await;
    for (t, seqs) in &numbers {
        assert_eq!(*seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "{t}: gap-free");
    }

    // The same jobs again (a duplicate queued after they ran): nothing more is issued.
    let receipts_before = crate::payments::count(&app, "SELECT COUNT(*) FROM receipts").await;
    let mut tx = app.store.write_tx().await.unwrap();
    for (id, _) in &per_payment {
        jobs::enqueue(&app.state.ctx, &mut tx, &Job::IssueOfflineReceipt { offline_payment_id: *id }).await.unwrap();
    }
    tx.commit().await.unwrap();
    app.run_pending_jobs().await;
    assert_eq!(crate::payments::count(&app, "SELECT COUNT(*) FROM receipts").await, receipts_before);

    // A job for a payment that does not exist, claimed with a good one: the good one is issued.
    let mut tx = app.store.write_tx().await.unwrap();
    jobs::enqueue(&app.state.ctx, &mut tx, &Job::IssueOfflineReceipt { offline_payment_id: 9_999_999 }).await.unwrap();
    tx.commit().await.unwrap();
    pay("BATCH-last".into()).await;
    let due = jobs::claim(&app.state.ctx, Queue::Local).await.unwrap().unwrap();
    assert_eq!(due.jobs(), 2);
    jobs::run_claimed(&app.state.ctx, due).await;
    assert_eq!(crate::payments::count(&app, "SELECT COUNT(*) FROM receipts").await, receipts_before + 1);
    let failed = jobs::failed(&app.state.ctx).await.unwrap();
    assert!(failed.len() == 1 && failed[0].contains("9999999"), "{failed:?}");
    for (t, seqs) in numbers_by_type(&app).await {
        assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "{t}: gap-free after the failed batch");
    }
    // The job made to fail is put away, so the app's end-of-test check of failed jobs holds.
    sqlx::query("UPDATE jobs SET done_at = 0 WHERE payload = '{\"offline_payment_id\":9999999}'").execute(app.store.pool()).await.unwrap();
}

/// A stand-in for a provincial fiscal platform: the platform's own code, numbers, check codes
/// and signature, as its answer would give them (no protocol is invented here).
struct PlatformIssuer {
    next: std::sync::atomic::AtomicI64,
}

impl Issuer for PlatformIssuer {
    fn name(&self) -> &'static str {
        "test_platform"
    }

    fn issue<'a>(
        &'a self,
        _ctx: &'a campuspay_app::Context,
        _tx: &'a mut campuspay_store::WriteTx,
        _school: &'a campuspay_store::schools::School,
        drafts: Vec<ReceiptData>,
    ) -> IssuerFuture<'a, Vec<Sealed>> {
        Box::pin(async move {
            Ok(drafts
                .into_iter()
                .map(|mut d| {
                    let seq = self.next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    d.code = "99990001".into();
                    d.number = format!("P{seq:09}");
                    let data = serde_json::to_string(&d).unwrap();
                    Sealed {
                        code: d.code,
                        seq,
                        number: d.number,
                        check_code: format!("TP{seq:010}"),
                        data,
                        signature: "platform-signed".into(),
                    }
                })
                .collect())
        })
    }

    fn check<'a>(&'a self, _ctx: &'a campuspay_app::Context, row: &'a campuspay_store::receipts::ReceiptRow) -> IssuerFuture<'a, bool> {
        Box::pin(async move { Ok(row.signature == "platform-signed" && row.code == "99990001") })
    }
}

/// A school with its own issuer registered issues through it (number, code, check code and
/// seal are the issuer's), and its receipts verify through it; other schools keep theirs.
async fn a_school_issues_through_its_own_issuer(app: TestApp) {
    let lut = app.store.school_by_code("lut").await.unwrap().unwrap();
    let qdou = app.store.school_by_code("qdou").await.unwrap().unwrap();
    let issuers = &app.state.ctx.issuers;
    issuers.register_school(lut.id, std::sync::Arc::new(PlatformIssuer { next: 1.into() }));
    assert_eq!(issuers.for_school(&lut).unwrap().name(), "test_platform");
    assert_eq!(issuers.for_school(&qdou).unwrap().name(), "builtin", "the policy's issuer");

    let token = app.session("lut", "20230001").await;
    paid_order(&app, &token, "normal").await;
    app.run_pending_jobs().await;
    let list = receipts_of(&app, &token).await;
    assert_eq!(list.len(), 1, "{list:?}");
    let r = &list[0];
    let (code, number, check) = (r["code"].as_str().unwrap(), r["number"].as_str().unwrap(), r["check_code"].as_str().unwrap());
    assert!(code == "99990001" && number.starts_with('P') && check.starts_with("TP"), "the platform's numbers: {r}");
    let by = |sql: &'static str| {
        let (app, lut) = (&app, lut.id);
        async move { sqlx::query_scalar::<_, String>(sql).bind(lut).fetch_all(app.store.pool()).await.unwrap() }
    };
    assert_eq!(
        by("SELECT DISTINCT issuer FROM receipts WHERE school_id = $1").await,
        ["test_platform"],
        "lut's, the demo's counter ones too"
    );
    let others = by("SELECT DISTINCT issuer FROM receipts WHERE school_id <> $1").await;
    assert!(others.iter().all(|i| i == "builtin"), "other schools' demo receipts: {others:?}");
    let v = verify(&app, code, number, check).await;
    assert_eq!((v["valid"].as_bool(), v["status"].as_str()), (Some(true), Some("valid")), "checked by the issuer that made it: {v}");
    // The platform's check refuses what it did not sign.
    sqlx::query("UPDATE receipts SET signature = 'forged' WHERE number = $1").bind(number).execute(app.store.pool()).await.unwrap();
    assert_eq!(verify(&app, code, number, check).await["valid"], false);
}
