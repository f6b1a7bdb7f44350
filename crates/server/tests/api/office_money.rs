//! The finance office's money over real HTTP, on SQLite and on PostgreSQL, through the
//! provider simulator: refunds that the provider processes, confirms or refuses; the
//! exception queue; reports that equal the ledger's sums; their xlsx; reconciliation.

use crate::common::TestApp;
use crate::payments::{behaviour, count, new_order, pay, provider_pays};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

on_both_databases!(
    a_refund_is_processing_then_confirmed_and_only_then_leaves_the_books,
    a_refund_the_provider_refuses_goes_to_the_queue_and_is_sent_again_once,
    duplicate_money_from_two_channels_is_queued_and_refunded_from_the_queue,
    the_collection_report_and_its_xlsx_equal_the_ledger,
    bad_input_is_refused_and_changes_nothing,
    cash_taken_at_the_counter_is_refunded_offline_at_once,
);

pub(crate) async fn staff(app: &TestApp, school: &str, login: &str, password: &str) -> String {
    let (status, v) = app.post_json("/api/v1/office/login", json!({"school": school, "login": login, "password": password}), None).await;
    assert_eq!(status, 200, "{v}");
    v["token"].as_str().unwrap().to_string()
}

pub(crate) async fn finance(app: &TestApp, school: &str) -> String {
    staff(app, school, "finance", "Finance#2026").await
}

/// A paid WeChat order of `student`: (charge, order).
pub(crate) async fn paid_order(app: &TestApp, token: &str) -> (Value, Value) {
    let (charge, order) = new_order(app, token).await;
    let no = order["order_no"].as_str().unwrap();
    let p = pay(app, token, no, "wechat_native").await;
    assert_eq!(provider_pays(app, "wechat_native", p["out_trade_no"].as_str().unwrap()).await, 200);
    let t0 = Instant::now();
    loop {
        let (_, o) = app.get_json(&format!("/api/v1/student/orders/{no}"), Some(token)).await;
        if o["status"] == "paid" {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(5), "paid within 5 s: {o}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (charge, order)
}

pub(crate) async fn charge_paid(app: &TestApp, token: &str, charge_id: &Value) -> i64 {
    let (_, c) = app.get_json("/api/v1/student/charges", Some(token)).await;
    c["charges"].as_array().unwrap().iter().find(|c| &c["id"] == charge_id).unwrap()["paid_fen"].as_i64().unwrap()
}

pub(crate) async fn refund_status(app: &TestApp, fin: &str, id: i64) -> String {
    let (status, r) = app.get_json(&format!("/api/v1/office/refunds/{id}"), Some(fin)).await;
    assert_eq!(status, 200, "{r}");
    r["status"].as_str().unwrap().to_string()
}

/// Runs due jobs (moving the clock past retry delays) until the refund reaches `want`.
pub(crate) async fn run_until(app: &TestApp, fin: &str, id: i64, want: &str) {
    let t0 = Instant::now();
    loop {
        app.run_pending_jobs().await;
        if refund_status(app, fin, id).await == want {
            return;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "refund {id} did not become {want}: {}", refund_status(app, fin, id).await);
        app.clock.advance(3);
    }
}

pub(crate) async fn refund_rows(app: &TestApp) -> i64 {
    count(app, "SELECT COUNT(*) FROM ledger_entries WHERE kind = 'refund' AND charge_id IS NOT NULL").await
}

async fn open_exceptions(app: &TestApp, fin: &str) -> Vec<Value> {
    let (status, e) = app.get_json("/api/v1/office/exceptions", Some(fin)).await;
    assert_eq!(status, 200, "{e}");
    e["exceptions"].as_array().unwrap().clone()
}

async fn a_refund_is_processing_then_confirmed_and_only_then_leaves_the_books(app: TestApp) {
    let token = app.session("qdou", "20230001").await;
    let (charge, order) = paid_order(&app, &token).await;
    let no = order["order_no"].as_str().unwrap();
    let paid = charge_paid(&app, &token, &charge["id"]).await;
    let fin = finance(&app, "qdou").await;
    let cashier = staff(&app, "qdou", "cashier", "Cashier#2026").await;
    let auditor = staff(&app, "qdou", "auditor", "Auditor#2026").await;
    let body = json!({"order_no": no, "lines": [{"charge_id": charge["id"], "amount_fen": 1000}], "reason": "退学退费"});
    for (who, token) in [("cashier", &cashier), ("auditor", &auditor)] {
        let (status, e) = app.post_json("/api/v1/office/refunds", body.clone(), Some(token)).await;
        assert_eq!((status, e["error"]["code"].as_str()), (403, Some("forbidden")), "{who}");
    }
    // Another school's finance office cannot reach this order.
    let other = finance(&app, "ejt").await;
    assert_eq!(app.post_json("/api/v1/office/refunds", body.clone(), Some(&other)).await.0, 404);
    behaviour(&app, "wechatpay", json!({"refund": "processing"})).await;
    // Two offices clicking at once: one refund, the other is told one is in progress.
    let (a, b) = tokio::join!(
        app.post_json("/api/v1/office/refunds", body.clone(), Some(&fin)),
        app.post_json("/api/v1/office/refunds", body.clone(), Some(&fin))
    );
    let mut answers = [a.0, b.0];
    answers.sort();
    assert_eq!(answers, [201, 409], "{a:?} {b:?}");
    let created = if a.0 == 201 { a.1 } else { b.1 };
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["status"], "pending");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM office_refunds").await, 1);
    // The provider accepts it as processing: no money has left the books yet.
    app.run_pending_jobs().await;
    assert_eq!(refund_status(&app, &fin, id).await, "processing");
    assert_eq!(refund_rows(&app).await, 0);
    assert_eq!(charge_paid(&app, &token, &charge["id"]).await, paid);
    // Asked again, it is done: one refund row of -1000 on the charge, the student sees it.
    run_until(&app, &fin, id, "success").await;
    assert_eq!(refund_rows(&app).await, 1);
    assert_eq!(count(&app, "SELECT CAST(SUM(amount_fen) AS BIGINT) FROM ledger_entries WHERE kind = 'refund'").await, -1000);
    assert_eq!(charge_paid(&app, &token, &charge["id"]).await, paid - 1000);
    // The auditor reads it; the audit log has the request.
    let (status, r) = app.get_json(&format!("/api/v1/office/refunds/{id}"), Some(&auditor)).await;
    assert_eq!((status, r["amount_fen"].as_i64()), (200, Some(1000)), "{r}");
    assert_eq!(r["lines"][0]["amount_fen"], 1000);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_log WHERE action = 'refund.requested'").await, 1);
    // The rest, in full: the order ends refunded and nothing more can go back.
    behaviour(&app, "wechatpay", json!({"refund": "normal"})).await;
    let rest = json!({"order_no": no, "lines": [{"charge_id": charge["id"], "amount_fen": paid - 1000}], "reason": "退学退费"});
    let (status, r) = app.post_json("/api/v1/office/refunds", rest.clone(), Some(&fin)).await;
    assert_eq!(status, 201, "{r}");
    let big = r["id"].as_i64().unwrap();
    // Above qdou's threshold: it waits for a second person, and nothing is sent meanwhile.
    assert!(paid - 1000 > 100_000, "the rest is above the threshold");
    assert_eq!(r["status"], "awaiting_approval");
    app.run_pending_jobs().await;
    assert_eq!(refund_rows(&app).await, 1);
    let url = format!("/api/v1/office/refunds/{big}/approve");
    let (status, v) = app.post_json(&url, json!({}), Some(&fin)).await;
    assert_eq!((status, v["error"]["code"].as_str()), (403, Some("own_request")), "{v}");
    let checker = second_accountant(&app).await;
    let (status, v) = app.post_json(&url, json!({"note": "材料齐全"}), Some(&checker)).await;
    assert_eq!((status, v["status"].as_str()), (200, Some("pending")), "{v}");
    assert_eq!(app.post_json(&format!("/api/v1/office/refunds/{big}/reject"), json!({}), Some(&checker)).await.0, 409, "decided once");
    run_until(&app, &fin, big, "success").await;
    assert_eq!(charge_paid(&app, &token, &charge["id"]).await, 0);
    let (_, o) = app.get_json(&format!("/api/v1/student/orders/{no}"), Some(&token)).await;
    assert_eq!(o["status"], "refunded");
    let again = json!({"order_no": no, "lines": [{"charge_id": charge["id"], "amount_fen": 1}], "reason": "再退"});
    assert_eq!(app.post_json("/api/v1/office/refunds", again, Some(&fin)).await.0, 409);
    // Each refund sent once: the provider's ledger has exactly the two.
    let trade: Value = app
        .http
        .get(app.url(&format!("/sandbox/wechatpay/orders/{}", sandbox_trade_of(&app, no).await)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(trade["refunds"].as_array().map(Vec::len), Some(2), "{trade}");
}

async fn second_accountant(app: &TestApp) -> String {
    use campuspay_domain::office::Role;
    let (_, once) =
        campuspay_app::office::auth::add_staff(&app.state.ctx, None, "qdou", "checker", "复核员", Role::Accountant).await.unwrap();
    let t = staff(app, "qdou", "checker", &once).await;
    let (s, _) = app.post_json("/api/v1/office/password", json!({"old_password": once, "new_password": "Zq#Verify2026"}), Some(&t)).await;
    assert_eq!(s, 204);
    staff(app, "qdou", "checker", "Zq#Verify2026").await
}

pub(crate) async fn sandbox_trade_of(app: &TestApp, order_no: &str) -> String {
    sqlx::query_scalar(
        "SELECT a.out_trade_no FROM pay_attempts a JOIN orders o ON o.id = a.order_id WHERE o.order_no = $1 AND a.status = 'paid'",
    )
    .bind(order_no)
    .fetch_one(app.store.pool())
    .await
    .unwrap()
}

async fn a_refund_the_provider_refuses_goes_to_the_queue_and_is_sent_again_once(app: TestApp) {
    let token = app.session("qdou", "20230001").await;
    let (charge, order) = paid_order(&app, &token).await;
    let paid = charge_paid(&app, &token, &charge["id"]).await;
    let fin = finance(&app, "qdou").await;
    behaviour(&app, "wechatpay", json!({"refund": "refuse"})).await;
    let body = json!({"order_no": order["order_no"], "lines": [{"charge_id": charge["id"], "amount_fen": 500}], "reason": "多收"});
    let (status, r) = app.post_json("/api/v1/office/refunds", body, Some(&fin)).await;
    assert_eq!(status, 201, "{r}");
    let id = r["id"].as_i64().unwrap();
    // A permanent refusal is not retried forever: it fails, once, into the queue.
    run_until(&app, &fin, id, "failed").await;
    assert_eq!(count(&app, "SELECT COUNT(*) FROM jobs WHERE kind = 'refund' AND done_at IS NULL").await, 0);
    assert_eq!(refund_rows(&app).await, 0);
    assert_eq!(charge_paid(&app, &token, &charge["id"]).await, paid, "a failed refund moves no money");
    let queue = open_exceptions(&app, &fin).await;
    let e = queue.iter().find(|e| e["kind"] == "refund_failed").expect("the failure is in the queue").clone();
    assert_eq!(e["amount_fen"], 500);
    assert!(e["evidence"]["provider_answer"].as_str().unwrap().contains("NOT_ENOUGH"), "{e}");
    assert_eq!(e["actions"], json!(["refund", "note"]));
    let eid = e["id"].as_i64().unwrap();
    // Crediting is not allowed for this kind: the money still pays the charge.
    let (status, _) = app.post_json(&format!("/api/v1/office/exceptions/{eid}/resolve"), json!({"action": "credit"}), Some(&fin)).await;
    assert_eq!(status, 422);
    behaviour(&app, "wechatpay", json!({"refund": "normal"})).await;
    // Resolved twice at once: once.
    let url = format!("/api/v1/office/exceptions/{eid}/resolve");
    let (a, b) = tokio::join!(
        app.post_json(&url, json!({"action": "refund", "note": "重新发起"}), Some(&fin)),
        app.post_json(&url, json!({"action": "refund", "note": "重新发起"}), Some(&fin))
    );
    let mut answers = [a.0, b.0];
    answers.sort();
    assert_eq!(answers, [200, 409], "{a:?} {b:?}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM office_refunds").await, 2, "one new refund from the queue");
    let again: i64 = sqlx::query_scalar("SELECT MAX(id) FROM office_refunds").fetch_one(app.store.pool()).await.unwrap();
    run_until(&app, &fin, again, "success").await;
    assert_eq!(charge_paid(&app, &token, &charge["id"]).await, paid - 500);
    assert!(open_exceptions(&app, &fin).await.iter().all(|e| e["id"] != eid));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_log WHERE action = 'exception.resolved'").await, 1);
}

async fn duplicate_money_from_two_channels_is_queued_and_refunded_from_the_queue(app: TestApp) {
    let token = app.session("qdou", "20230001").await;
    let (_, order) = new_order(&app, &token).await;
    let no = order["order_no"].as_str().unwrap();
    let total = order["total_fen"].as_i64().unwrap();
    // Two tabs: a WeChat QR code, then an Alipay one; the student pays both.
    let wechat = pay(&app, &token, no, "wechat_native").await;
    let alipay = pay(&app, &token, no, "alipay_qr").await;
    behaviour(&app, "wechatpay", json!({"refund": "refuse"})).await;
    assert_eq!(provider_pays(&app, "alipay_qr", alipay["out_trade_no"].as_str().unwrap()).await, 200);
    let t0 = Instant::now();
    while count(&app, "SELECT COUNT(*) FROM provider_payments").await < 1 {
        assert!(t0.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(provider_pays(&app, "wechat_native", wechat["out_trade_no"].as_str().unwrap()).await, 200);
    let fin = finance(&app, "qdou").await;
    // The second money is refunded automatically; the provider refuses, so it is queued.
    let t0 = Instant::now();
    let e = loop {
        app.run_pending_jobs().await;
        if let Some(e) = open_exceptions(&app, &fin).await.into_iter().find(|e| e["kind"] == "unapplied_money") {
            break e;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "the duplicate reached the queue");
        app.clock.advance(3);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(e["amount_fen"].as_i64(), Some(total));
    assert_eq!(e["student_no"], "20230001");
    assert_eq!(e["actions"], json!(["refund", "credit", "apply", "note"]));
    behaviour(&app, "wechatpay", json!({"refund": "normal"})).await;
    let eid = e["id"].as_i64().unwrap();
    let (status, r) = app.post_json(&format!("/api/v1/office/exceptions/{eid}/resolve"), json!({"action": "refund"}), Some(&fin)).await;
    assert_eq!(status, 200, "{r}");
    let t0 = Instant::now();
    while count(&app, "SELECT COUNT(*) FROM refunds WHERE status = 'success'").await < 1 {
        app.run_pending_jobs().await;
        assert!(t0.elapsed() < Duration::from_secs(10), "the refund from the queue succeeded");
        app.clock.advance(3);
    }
    // The unapplied money went back whole: its receipt and its refund cancel out.
    let held = count(&app, "SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) FROM ledger_entries WHERE kind IN ('unapplied_receipt', 'refund') AND charge_id IS NULL").await;
    assert_eq!(held, 0);
    let (status, _) = app.post_json(&format!("/api/v1/office/exceptions/{eid}/resolve"), json!({"action": "credit"}), Some(&fin)).await;
    assert_eq!(status, 409, "resolved once");
}

/// The report's figures, summed straight from the ledger for a period.
async fn ledger_sums(app: &TestApp, school: &str, period: &str) -> [i64; 4] {
    let sum = |kinds: &'static str, sign: i64| {
        let sql = format!(
            "SELECT CAST(COALESCE(SUM(l.amount_fen), 0) AS BIGINT) FROM ledger_entries l JOIN charges c ON c.id = l.charge_id \
             JOIN periods p ON p.id = c.period_id JOIN schools s ON s.id = c.school_id \
             WHERE s.code = $1 AND p.code = $2 AND l.kind IN ({kinds})"
        );
        async move {
            let v: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(school).bind(period).fetch_one(app.store.pool()).await.unwrap();
            v * sign
        }
    };
    let charged: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(c.total_fen - c.discount_fen), 0) AS BIGINT) FROM charges c JOIN periods p ON p.id = c.period_id \
         JOIN schools s ON s.id = c.school_id WHERE s.code = $1 AND p.code = $2",
    )
    .bind(school)
    .bind(period)
    .fetch_one(app.store.pool())
    .await
    .unwrap();
    [
        charged,
        sum("'waiver', 'cancellation'", 1).await,
        sum("'payment', 'offline_payment', 'balance_use'", 1).await,
        sum("'refund'", -1).await,
    ]
}

async fn the_collection_report_and_its_xlsx_equal_the_ledger(app: TestApp) {
    let token = app.session("lut", "20230001").await;
    let (charge, order) = paid_order(&app, &token).await;
    let period = charge["period"].as_str().unwrap().to_string();
    let fin = finance(&app, "lut").await;
    // A refund, a waiver and money at the counter, on top of the online payment.
    let body = json!({"order_no": order["order_no"], "lines": [{"charge_id": charge["id"], "amount_fen": 700}], "reason": "多收"});
    let (_, r) = app.post_json("/api/v1/office/refunds", body, Some(&fin)).await;
    run_until(&app, &fin, r["id"].as_i64().unwrap(), "success").await;
    let (_, c) = app.get_json("/api/v1/student/charges", Some(&token)).await;
    let owed: Vec<Value> = c["charges"].as_array().unwrap().iter().filter(|c| c["arrears_fen"].as_i64().unwrap() > 200).cloned().collect();
    assert!(owed.len() >= 2, "{c}");
    let (status, w) = app
        .post_json(
            &format!("/api/v1/office/charges/{}/waivers", owed[0]["id"]),
            json!({"amount_fen": 100, "reason": "困难补助"}),
            Some(&fin),
        )
        .await;
    assert_eq!(status, 200, "{w}");
    let cash = json!({"student_no": "20230001", "lines": [{"charge_id": owed[1]["id"], "amount_fen": 200}], "method": "cash", "reference": "RCPT-1"});
    let (status, p) = app.post_json("/api/v1/office/offline-payments", cash, Some(&fin)).await;
    assert_eq!(status, 200, "{p}");
    let periods: Vec<String> =
        [owed[0]["period"].as_str().unwrap(), owed[1]["period"].as_str().unwrap(), period.as_str()].iter().map(|s| s.to_string()).collect();
    for period in periods {
        let [charged, waived, paid, refunded] = ledger_sums(&app, "lut", &period).await;
        for by in ["department", "major", "class", "item", "level"] {
            let (status, rep) = app.get_json(&format!("/api/v1/office/reports/collection?period={period}&by={by}"), Some(&fin)).await;
            assert_eq!(status, 200, "{rep}");
            let t = &rep["total"];
            assert_eq!(
                [t["charged_fen"].as_i64(), t["waived_fen"].as_i64(), t["paid_fen"].as_i64(), t["refunded_fen"].as_i64()],
                [Some(charged), Some(waived), Some(paid), Some(refunded)],
                "{period} by {by}: the report equals the ledger"
            );
            for f in ["charged_fen", "waived_fen", "paid_fen", "refunded_fen", "outstanding_fen"] {
                let rows: i64 = rep["rows"].as_array().unwrap().iter().map(|r| r[f].as_i64().unwrap()).sum();
                assert_eq!(rows, t[f].as_i64().unwrap(), "{period} by {by}: rows add up to the total's {f}");
            }
            assert_eq!(t["outstanding_fen"].as_i64().unwrap(), charged - waived - paid + refunded);
            // Students are counted once in their group: by a student's own attribute the rows
            // add up to the period's students; by item, each row to the students charged it.
            let students: i64 = sqlx::query_scalar(
                "SELECT COUNT(DISTINCT c.student_id) FROM charges c JOIN schools s ON s.id = c.school_id \
                 JOIN periods p ON p.id = c.period_id WHERE s.code = 'lut' AND p.code = $1",
            )
            .bind(&period)
            .fetch_one(app.store.pool())
            .await
            .unwrap();
            let counted: Vec<i64> = rep["rows"].as_array().unwrap().iter().map(|r| r["students"].as_i64().unwrap()).collect();
            if by == "item" {
                assert!(counted.iter().all(|n| *n >= 1 && *n <= students), "{period} by item: {counted:?}");
            } else {
                assert_eq!(counted.iter().sum::<i64>(), students, "{period} by {by}: each student once");
            }
        }
    }
    let [_, _, paid, refunded] = ledger_sums(&app, "lut", &period).await;
    assert!(refunded >= 700 && paid > 0);
    // The workbook: numbers as numbers (yuan), the total row equal to the ledger.
    let res = app
        .http
        .get(app.url(&format!("/api/v1/office/reports/collection?period={period}&by=class&format=xlsx")))
        .bearer_auth(&fin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let bytes = res.bytes().await.unwrap();
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> = calamine::Xlsx::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    let rows: Vec<_> = range.rows().collect();
    assert_eq!(rows[0][0], calamine::Data::String("班级".into()));
    let total = rows.last().unwrap();
    assert_eq!(total[0], calamine::Data::String("合计".into()));
    let yuan = |d: &calamine::Data| match d {
        calamine::Data::Float(f) => (f * 100.0).round() as i64,
        other => panic!("not a number: {other:?}"),
    };
    assert_eq!(yuan(&total[4]), paid, "paid in the workbook");
    assert_eq!(yuan(&total[8]), refunded, "refunded in the workbook");
    let body_paid: i64 = rows[1..rows.len() - 1].iter().map(|r| yuan(&r[4])).sum();
    assert_eq!(body_paid, paid, "the workbook's rows add up");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_log WHERE action = 'report.exported'").await, 1);
    // Drill-down: the class's students who owe.
    let class = rows[1][0].clone();
    let calamine::Data::String(class) = class else { panic!() };
    let (status, d) = app
        .get_json(&format!("/api/v1/office/reports/collection/debtors?period={period}&by=class&key={}", urlencode(&class)), Some(&fin))
        .await;
    assert_eq!(status, 200, "{d}");
    assert!(d.as_array().unwrap().iter().all(|s| s["outstanding_fen"].as_i64().unwrap() > 0));
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

async fn bad_input_is_refused_and_changes_nothing(app: TestApp) {
    let token = app.session("qdou", "20230001").await;
    let (charge, order) = paid_order(&app, &token).await;
    let paid = charge_paid(&app, &token, &charge["id"]).await;
    let fin = finance(&app, "qdou").await;
    let no = order["order_no"].as_str().unwrap();
    let cases = [
        (json!({"order_no": no, "lines": [{"charge_id": charge["id"], "amount_fen": paid + 1}], "reason": "x"}), 422, "amount_over_paid"),
        (json!({"order_no": no, "lines": [{"charge_id": charge["id"], "amount_fen": 0}], "reason": "x"}), 422, "invalid_amount"),
        (json!({"order_no": no, "lines": [{"charge_id": charge["id"], "amount_fen": 1}], "reason": "  "}), 422, "invalid_reason"),
        (json!({"order_no": no, "lines": [], "reason": "x"}), 422, "no_lines"),
        (json!({"order_no": no, "lines": [{"charge_id": 987654, "amount_fen": 1}], "reason": "x"}), 404, "charge_not_in_payment"),
        (json!({"order_no": "NOSUCH", "lines": [{"charge_id": charge["id"], "amount_fen": 1}], "reason": "x"}), 404, "order_not_found"),
        (json!({"lines": [{"charge_id": charge["id"], "amount_fen": 1}], "reason": "x"}), 422, "invalid_target"),
    ];
    for (body, status, code) in cases {
        let (s, e) = app.post_json("/api/v1/office/refunds", body.clone(), Some(&fin)).await;
        assert_eq!((s, e["error"]["code"].as_str()), (status, Some(code)), "{body}: {e}");
        assert!(!e["error"]["message"].as_str().unwrap().is_ascii(), "a Chinese message: {e}");
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM office_refunds").await, 0);
    let (s, _) = app.get_json("/api/v1/office/reconciliation?date=2026-02-30", Some(&fin)).await;
    assert_eq!(s, 422);
    let (s, _) = app.get_json("/api/v1/office/reports/collection?period=NOSUCH&by=class", Some(&fin)).await;
    assert_eq!(s, 404);
    let (s, _) = app
        .get_json(&format!("/api/v1/office/reports/collection?period={}&by=planet", charge["period"].as_str().unwrap()), Some(&fin))
        .await;
    assert_eq!(s, 422);
    // A damaged statement file: the day shows the channel unread and why; nothing settled.
    let today = campuspay_domain::time::format_shanghai_date(app.state.ctx.clock.now());
    behaviour(&app, "wechatpay", json!({"corrupt_statement": true})).await;
    let before = count(&app, "SELECT COUNT(*) FROM provider_payments").await;
    let (s, day) = app.post_json("/api/v1/office/reconciliation/run", json!({"date": today}), Some(&fin)).await;
    assert_eq!(s, 200, "{day}");
    let wechat = day["channels"].as_array().unwrap().iter().find(|c| c["provider"] == "wechatpay").expect("a wechat row").clone();
    assert_eq!(wechat["ok"], false, "{wechat}");
    assert!(!wechat["error"].as_str().unwrap().is_empty());
    assert_eq!(count(&app, "SELECT COUNT(*) FROM provider_payments").await, before);
    behaviour(&app, "wechatpay", json!({"corrupt_statement": false})).await;
    // Read properly, the day's paid order is matched, and the view shows it.
    let (s, day) = app.post_json("/api/v1/office/reconciliation/run", json!({"date": today}), Some(&fin)).await;
    assert_eq!(s, 200, "{day}");
    let (_, view) = app.get_json(&format!("/api/v1/office/reconciliation?date={today}"), Some(&fin)).await;
    let wechat = view["channels"].as_array().unwrap().iter().find(|c| c["provider"] == "wechatpay").unwrap().clone();
    assert_eq!((wechat["ok"].as_bool(), wechat["matched_count"].as_i64()), (Some(true), Some(1)), "{wechat}");
    assert_eq!(wechat["matched_fen"].as_i64(), order["total_fen"].as_i64());
    assert_eq!(wechat["missing_theirs_count"], 0);
    let (s, _) = app.post_json("/api/v1/office/exceptions/987654/resolve", json!({"action": "note", "note": "x"}), Some(&fin)).await;
    assert_eq!(s, 404);
}

/// An offline payment (cash at the counter) is refunded as an offline refund: no provider,
/// the refund ledger rows at once, the student's paid amount down by it; more than is left
/// is refused, and a cashier cannot refund.
async fn cash_taken_at_the_counter_is_refunded_offline_at_once(app: TestApp) {
    let fin = finance(&app, "lut").await;
    let cashier = staff(&app, "lut", "cashier", "Cashier#2026").await;
    let token = app.session("lut", "20230001").await;
    let (_, c) = app.get_json("/api/v1/student/charges", Some(&token)).await;
    let charge =
        c["charges"].as_array().unwrap().iter().find(|c| c["arrears_fen"].as_i64().unwrap() >= 1000).cloned().expect("an owed charge");
    let paid_before = charge["paid_fen"].as_i64().unwrap();
    let cash = json!({"student_no": "20230001", "lines": [{"charge_id": charge["id"], "amount_fen": 1000}], "method": "cash", "reference": "RCPT-OFF-1"});
    let (status, p) = app.post_json("/api/v1/office/offline-payments", cash, Some(&cashier)).await;
    assert_eq!(status, 200, "{p}");
    let offline = p["id"].as_i64().unwrap();
    let body = |amount: i64| json!({"offline_payment_id": offline, "lines": [{"charge_id": charge["id"], "amount_fen": amount}], "reason": "多收退还"});
    let (status, _) = app.post_json("/api/v1/office/refunds", body(400), Some(&cashier)).await;
    assert_eq!(status, 403, "a cashier cannot refund");
    let (status, v) = app.post_json("/api/v1/office/refunds", body(1001), Some(&fin)).await;
    assert!(status >= 400, "more than the counter took is refused: {v}");
    let (status, v) = app.post_json("/api/v1/office/refunds", body(400), Some(&fin)).await;
    assert!(status < 300, "{v}");
    let (_, r) = app.get_json(&format!("/api/v1/office/refunds/{}", v["id"]), Some(&fin)).await;
    assert_eq!(r["status"], "success", "an offline refund is done at once: {r}");
    let (_, c) = app.get_json("/api/v1/student/charges", Some(&token)).await;
    let now = c["charges"].as_array().unwrap().iter().find(|x| x["id"] == charge["id"]).cloned().unwrap();
    assert_eq!(now["paid_fen"].as_i64().unwrap(), paid_before + 1000 - 400, "{now}");
    let refunded = count(&app, "SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) FROM ledger_entries WHERE kind = 'refund'").await;
    assert_eq!(refunded, -400, "one refund row of the amount");
    let (status, v) = app.post_json("/api/v1/office/refunds", body(601), Some(&fin)).await;
    assert!(status >= 400, "only what is left (600) may still be refunded: {v}");
}
