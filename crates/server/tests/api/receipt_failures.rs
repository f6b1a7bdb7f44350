//! Receipts' jobs that fail for a reason retrying does not cure (an issuer that refuses, an
//! SMS template the provider refuses) stop and go to the office's exception queue, where the
//! office retries them once the cause is fixed (audited); a passing failure (the provider's
//! own trouble) keeps being retried with backoff. On SQLite and PostgreSQL.

use crate::common::{Db, TestApp};

use axum::extract::State;
use axum::routing::get;
use campuspay_app::jobs;
use campuspay_app::messaging::sms::AliyunSmsConfig;
use campuspay_app::receipts::{BuiltinIssuer, Issuer, IssuerFuture, ReceiptData, Sealed};
use campuspay_app::{Error, ErrorKind};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

on_both_databases!(a_refusing_issuer_stops_issuing_until_the_office_retries);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_refusals_stop_and_sms_trouble_is_retried_sqlite() {
    sms_refusals_stop_and_sms_trouble_is_retried(Db::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_refusals_stop_and_sms_trouble_is_retried_postgres() {
    sms_refusals_stop_and_sms_trouble_is_retried(Db::Postgres).await
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(app.store.pool()).await.unwrap()
}

async fn staff(app: &TestApp, login: &str, password: &str) -> String {
    let (s, v) = app.post_json("/api/v1/office/login", json!({"school": "lut", "login": login, "password": password}), None).await;
    assert_eq!(s, 200, "{v}");
    v["token"].as_str().unwrap().to_string()
}

/// Money taken at lut's counter from 20230001 under `reference`.
async fn counter_payment(app: &TestApp, cashier: &str, reference: &str) {
    let token = app.session("lut", "20230001").await;
    let owed = crate::payments::owed(app, &token).await;
    let body = json!({"student_no": "20230001", "lines": [{"charge_id": owed[0]["id"], "amount_fen": 100}], "method": "cash", "reference": reference});
    let (s, v) = app.post_json("/api/v1/office/offline-payments", body, Some(cashier)).await;
    assert_eq!(s, 200, "{v}");
}

/// lut's open `receipt_failed` exceptions, as the office's queue shows them.
async fn stopped(app: &TestApp, finance: &str) -> Vec<Value> {
    let (s, v) = app.get_json("/api/v1/office/exceptions", Some(finance)).await;
    assert_eq!(s, 200, "{v}");
    v["exceptions"].as_array().unwrap().iter().filter(|e| e["kind"] == "receipt_failed").cloned().collect()
}

async fn retry(app: &TestApp, finance: &str, id: i64) -> (u16, Value) {
    app.post_json(&format!("/api/v1/office/exceptions/{id}/resolve"), json!({"action": "retry", "note": "已修正"}), Some(finance)).await
}

/// A provincial platform that refuses the school's credentials: a setting only the school can
/// fix, so it answers `Misconfigured`.
struct RefusingIssuer;

impl Issuer for RefusingIssuer {
    fn name(&self) -> &'static str {
        "refusing_platform"
    }

    fn issue<'a>(
        &'a self,
        _ctx: &'a campuspay_app::Context,
        _tx: &'a mut campuspay_store::WriteTx,
        _school: &'a campuspay_store::schools::School,
        _drafts: Vec<ReceiptData>,
    ) -> IssuerFuture<'a, Vec<Sealed>> {
        Box::pin(async {
            Err(Error::new(ErrorKind::Misconfigured, "platform_refused", "开票平台拒绝了本校的账号", "The platform refused the account"))
        })
    }

    fn check<'a>(&'a self, _ctx: &'a campuspay_app::Context, _row: &'a campuspay_store::receipts::ReceiptRow) -> IssuerFuture<'a, bool> {
        Box::pin(async { Ok(false) })
    }
}

async fn a_refusing_issuer_stops_issuing_until_the_office_retries(app: TestApp) {
    app.run_pending_jobs().await;
    let lut = app.store.school_by_code("lut").await.unwrap().unwrap();
    app.state.ctx.issuers.register_school(lut.id, Arc::new(RefusingIssuer));
    let (cashier, finance) = (staff(&app, "cashier", "Cashier#2026").await, staff(&app, "finance", "Finance#2026").await);
    let receipts = || count(&app, "SELECT COUNT(*) FROM receipts WHERE source LIKE 'offline:%' AND payer <> ''");
    let before = receipts().await;
    // Two payments: their jobs are claimed as one batch, which fails, then each alone.
    counter_payment(&app, &cashier, "RC-STOP-1").await;
    counter_payment(&app, &cashier, "RC-STOP-2").await;
    jobs::run_pending(&app.state.ctx).await.unwrap();
    assert_eq!(receipts().await, before);
    assert!(jobs::failed(&app.state.ctx).await.unwrap().is_empty(), "stopped, not retried with backoff");
    let pending = "SELECT COUNT(*) FROM jobs WHERE kind = 'issue_offline_receipt' AND done_at IS NULL";
    assert_eq!(count(&app, pending).await, 0);
    // However long it waits, a stopped job does not run again by itself.
    app.clock.advance(86_400);
    jobs::run_pending(&app.state.ctx).await.unwrap();
    assert_eq!(receipts().await, before);

    let open = stopped(&app, &finance).await;
    assert_eq!(open.len(), 1, "one exception for one cause: {open:?}");
    let e = &open[0];
    assert_eq!(e["evidence"]["code"], "platform_refused", "{e}");
    assert_eq!(e["evidence"]["error"], "开票平台拒绝了本校的账号", "{e}");
    assert!(e["actions"].as_array().unwrap().iter().any(|a| a == "retry"), "{e}");
    assert!(!e["actions"].as_array().unwrap().iter().any(|a| a == "refund"), "no money to send back: {e}");
    let id = e["id"].as_i64().unwrap();
    let jobs_of = format!("SELECT COUNT(*) FROM jobs WHERE exception_id = {id} AND failed = 1 AND done_at IS NOT NULL");
    assert_eq!(count(&app, &jobs_of).await, 2, "both jobs stopped under it");

    // Retried before the cause is fixed: they stop again, under a new exception.
    let (s, v) = retry(&app, &finance, id).await;
    assert_eq!((s, v["resolution"].as_str()), (200, Some("retry")), "{v}");
    jobs::run_pending(&app.state.ctx).await.unwrap();
    let again = stopped(&app, &finance).await;
    assert!(again.len() == 1 && again[0]["id"] != id, "{again:?}");
    assert_eq!(receipts().await, before);

    // The school's issuer fixed: the office's retry issues them, once, audited.
    app.state.ctx.issuers.register_school(lut.id, Arc::new(BuiltinIssuer));
    let id = again[0]["id"].as_i64().unwrap();
    let (cashier_s, v) = retry(&app, &cashier, id).await;
    assert_eq!(cashier_s, 403, "a cashier does not resolve exceptions: {v}");
    let (s, v) = retry(&app, &finance, id).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = retry(&app, &finance, id).await;
    assert_eq!(s, 409, "retried once: {v}");
    app.run_pending_jobs().await;
    assert_eq!(receipts().await, before + 2);
    assert!(stopped(&app, &finance).await.is_empty());
    let audited = format!(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'exception.resolved' AND detail LIKE '%\"exception:{id}\"%' \
         AND detail LIKE '%\"retry\"%'"
    );
    assert_eq!(count(&app, &audited).await, 1);
}

/// A stand-in for Aliyun's SendSms: answers every call with `Code` set to what the test put in
/// `answer`, and counts the calls.
async fn aliyun_stub(answer: Arc<Mutex<&'static str>>, calls: Arc<AtomicUsize>) -> String {
    type Stub = (Arc<Mutex<&'static str>>, Arc<AtomicUsize>);
    async fn send_sms(State((answer, calls)): State<Stub>) -> axum::Json<Value> {
        calls.fetch_add(1, Ordering::SeqCst);
        let code = *answer.lock().unwrap();
        axum::Json(json!({"Code": code, "Message": "stub", "RequestId": "R1"}))
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new().route("/", get(send_sms)).with_state((answer, calls));
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}/")
}

async fn sms_refusals_stop_and_sms_trouble_is_retried(db: Db) {
    let (answer, calls) = (Arc::new(Mutex::new("OK")), Arc::new(AtomicUsize::new(0)));
    let endpoint = aliyun_stub(answer.clone(), calls.clone()).await;
    let app = TestApp::spawn_with(db, |c| {
        c.aliyun_sms = Some(AliyunSmsConfig {
            access_key_id: "id".into(),
            access_key_secret: "secret".into(),
            sign_name: "校园统一支付平台".into(),
            template_code: "SMS_CODE".into(),
            endpoint,
            notice_template_code: Some("SMS_NOTICE".into()),
        })
    })
    .await;
    app.run_pending_jobs().await;
    let lut = app.store.school_by_code("lut").await.unwrap().unwrap();
    sqlx::query("UPDATE students SET phone = '13800138000' WHERE school_id = $1 AND student_no = '20230001'")
        .bind(lut.id)
        .execute(app.store.pool())
        .await
        .unwrap();
    let (cashier, finance) = (staff(&app, "cashier", "Cashier#2026").await, staff(&app, "finance", "Finance#2026").await);
    let sent = || calls.load(Ordering::SeqCst);

    // Aliyun's own trouble passes with time: the SMS is tried again later, the office not bothered.
    *answer.lock().unwrap() = "isp.SYSTEM_ERROR";
    counter_payment(&app, &cashier, "RC-SMS-1").await;
    let before = sent();
    jobs::run_pending(&app.state.ctx).await.unwrap();
    assert_eq!(sent(), before + 1);
    let failed = jobs::failed(&app.state.ctx).await.unwrap();
    assert!(failed.len() == 1 && failed[0].contains("sms_receipt") && failed[0].contains("isp.SYSTEM_ERROR"), "{failed:?}");
    assert!(stopped(&app, &finance).await.is_empty());

    // The template refused: that will not pass, so the job stops and the office sees why.
    *answer.lock().unwrap() = "isv.SMS_TEMPLATE_ILLEGAL";
    app.clock.advance(600);
    jobs::run_pending(&app.state.ctx).await.unwrap();
    assert_eq!(sent(), before + 2);
    assert!(jobs::failed(&app.state.ctx).await.unwrap().is_empty(), "stopped, not retried");
    app.clock.advance(86_400);
    jobs::run_pending(&app.state.ctx).await.unwrap();
    assert_eq!(sent(), before + 2, "a stopped job is not sent again by itself");
    let open = stopped(&app, &finance).await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0]["evidence"]["code"], "sms_refused", "{}", open[0]);
    assert!(open[0]["evidence"]["error"].as_str().unwrap().contains("isv.SMS_TEMPLATE_ILLEGAL"), "{}", open[0]);

    // The template fixed at Aliyun: the office's retry sends it.
    *answer.lock().unwrap() = "OK";
    let (s, v) = retry(&app, &finance, open[0]["id"].as_i64().unwrap()).await;
    assert_eq!(s, 200, "{v}");
    app.run_pending_jobs().await;
    assert_eq!(sent(), before + 3);
    assert!(stopped(&app, &finance).await.is_empty());
}
