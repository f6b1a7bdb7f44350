//! Races on the money path, found in review: a cart checked against data older than the
//! transaction that orders it, and many deliveries of news for one order at once.

use crate::common;

use campuspay_app::payment::{orders, settle};
use campuspay_app::student::auth;
use campuspay_domain::Fen;
use campuspay_domain::cart::CartRequest;
use campuspay_domain::order::PaidSource;
use campuspay_store::Backend;
use common::TestApp;
use serde_json::json;
use std::time::{Duration, Instant};

on_both_databases!(
    stale_cart_orders_a_charge_paid_meanwhile,
    concurrent_settles_of_one_order,
    a_payment_decided_on_an_old_view_of_its_order_is_not_written,
);

async fn order_and_attempt(app: &TestApp, token: &str) -> (i64, serde_json::Value, campuspay_store::orders::AttemptRow) {
    let (_, c) = app.get_json("/api/v1/student/charges", Some(token)).await;
    for c in c["charges"].as_array().unwrap().iter().filter(|c| c["arrears_fen"].as_i64().unwrap() > 0) {
        let (status, o) = app.post_json("/api/v1/student/orders", json!({"charges": [{"id": c["id"]}]}), Some(token)).await;
        if status == 201 {
            let no = o["order_no"].as_str().unwrap();
            let (status, p) =
                app.post_json(&format!("/api/v1/student/orders/{no}/pay"), json!({"channel": "wechat_native"}), Some(token)).await;
            assert_eq!(status, 200, "{p}");
            let a = app.store.attempt_by_out_trade_no(p["out_trade_no"].as_str().unwrap()).await.unwrap().unwrap();
            return (c["id"].as_i64().unwrap(), o, a);
        }
    }
    panic!("nothing to order");
}

/// Order A holds charge X. While a second order for X is being made (its cart checked against
/// a snapshot in which X is owed), A's payment settles and frees X: the second order is made
/// for a charge already paid in full.
async fn stale_cart_orders_a_charge_paid_meanwhile(app: TestApp) {
    let token = app.session("qdou", "20230001").await;
    let session = auth::resolve_session(&app.state, &token).await.unwrap();
    let (charge_id, a, attempt) = order_and_attempt(&app, &token).await;
    let total = Fen(a["total_fen"].as_i64().unwrap());
    let input = move || orders::NewOrderInput {
        lines: vec![CartRequest { charge_id, amount: None }],
        phone: None,
        invoice: None,
        use_balance: false,
    };
    let (st1, st2) = (app.state.clone(), app.state.clone());
    let (s2, att) = (session.clone(), attempt.clone());
    let (settled, created) = match app.store.backend() {
        Backend::Sqlite => {
            // Another writer holds SQLite's write lock; the settle queues first, the new order second.
            let hold = app.store.write_tx().await.unwrap();
            let settle = tokio::spawn(async move { settle::settle_paid(&st1, &att, "REVIEWTXN1", total, "", PaidSource::Query).await });
            tokio::time::sleep(Duration::from_millis(300)).await;
            let create = tokio::spawn(async move { orders::create_order(&st2, &s2, &input()).await.map(|c| c.order) });
            tokio::time::sleep(Duration::from_millis(300)).await;
            drop(hold);
            (settle.await.unwrap(), create.await.unwrap())
        }
        Backend::Postgres => {
            // Another order of the student holds its row (balance lock) for a moment.
            let mut hold = app.store.write_tx().await.unwrap();
            // (FOR NO KEY UPDATE: blocks create_order's FOR UPDATE, not the settle's FK checks.)
            sqlx::query("SELECT id FROM students WHERE id = $1 FOR NO KEY UPDATE")
                .bind(session.student_id)
                .execute(&mut *hold.tx)
                .await
                .unwrap();
            let create = tokio::spawn(async move { orders::create_order(&st2, &s2, &input()).await.map(|c| c.order) });
            tokio::time::sleep(Duration::from_millis(300)).await;
            let settled = settle::settle_paid(&st1, &att, "REVIEWTXN1", total, "", PaidSource::Query).await;
            drop(hold);
            (settled, create.await.unwrap())
        }
    };
    assert_eq!(settled.unwrap(), settle::Settled::Applied);
    let (_, c) = app.get_json("/api/v1/student/charges", Some(&token)).await;
    let x = c["charges"].as_array().unwrap().iter().find(|c| c["id"].as_i64() == Some(charge_id)).unwrap().clone();
    match created {
        Ok(b) => panic!(
            "order {} (unpaid, {} fen) created for charge {charge_id} which is already paid by order {}; charge now: {x}",
            b.order_no, b.total.0, a["order_no"]
        ),
        Err(e) => assert_eq!(campuspay_server::error::status_of(e.kind), 409, "refused as a conflict: {}", e.zh),
    }
    assert_eq!(x["arrears_fen"], 0);
}

/// Several deliveries of news for one order at once (notification retries, queries, a
/// statement): PostgreSQL pool of 16.
async fn concurrent_settles_of_one_order(app: TestApp) {
    let token = app.session("qdou", "20230001").await;
    let (_, a, attempt) = order_and_attempt(&app, &token).await;
    let total = Fen(a["total_fen"].as_i64().unwrap());
    // More at once than PostgreSQL's pool has connections, while the order row is busy.
    let n = 40;
    let mut hold = app.store.write_tx().await.unwrap();
    app.store.lock_order(&mut hold, attempt.order_id).await.unwrap();
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..n {
        let (st, att) = (app.state.clone(), attempt.clone());
        tasks.push(tokio::spawn(async move {
            let r = settle::settle_paid(&st, &att, &format!("REVIEWTXN{i}"), total, "", PaidSource::Notify).await;
            (r.map_err(|e| format!("{} {}", campuspay_server::error::status_of(e.kind), e.zh)), t0.elapsed())
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(hold);
    let mut errors = 0;
    let mut slowest = Duration::ZERO;
    for t in tasks {
        let (r, d) = t.await.unwrap();
        slowest = slowest.max(d);
        if let Err(e) = r {
            errors += 1;
            eprintln!("settle failed after {d:?}: {e}");
        }
    }
    assert!(errors == 0 && slowest < Duration::from_secs(10), "{n} concurrent settles: {errors} failed, slowest {slowest:?}");
    // One paid the order; every other transaction is money to give back, none is lost.
    let pool = app.store.pool();
    let applied: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM provider_payments WHERE disposition = 'applied'").fetch_one(pool).await.unwrap();
    let refunds: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM provider_payments WHERE disposition = 'refund'").fetch_one(pool).await.unwrap();
    assert_eq!((applied, refunds), (1, n as i64 - 1));
}

/// A settlement decides on its order without holding it (`store::settling`) and writes only if
/// the order is still as it was read: here an attempt was made since (the view saw none), then
/// the order was paid since. Each time nothing is written; the view as it stands is written once.
async fn a_payment_decided_on_an_old_view_of_its_order_is_not_written(app: TestApp) {
    use campuspay_store::StoreError;
    use campuspay_store::settling::{AppliedPayment, KeptNotice};
    let token = app.session("qdou", "20230001").await;
    let (_, a, attempt) = order_and_attempt(&app, &token).await;
    let view = app.store.settling_view(attempt.order_id).await.unwrap().unwrap();
    assert_eq!((view.attempts.len(), view.settled.len()), (1, 0));
    let notice = KeptNotice { provider: "wechatpay", school_code: "qdou", headers: "{}", body: "{}", outcome: "applied" };
    let job = campuspay_app::jobs::Job::IssueReceipt { order_id: view.order.id }.encode();
    let applied = |seen, txn_id, savepoint| AppliedPayment {
        school_id: view.order.school_id,
        student_id: view.order.student_id,
        order_id: view.order.id,
        attempt_id: attempt.id,
        provider: attempt.channel.provider(),
        channel: attempt.channel,
        txn_id,
        amount: Fen(a["total_fen"].as_i64().unwrap()),
        source: PaidSource::Notify,
        paid_at: "",
        receipt_job: (&job.0, &job.1, "local", 0),
        attempts_seen: seen,
        savepoint,
        notice: Some(notice),
    };
    let pool = app.store.pool();
    let written = async || {
        let n = |sql: &'static str| async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await.unwrap() };
        (
            n("SELECT COUNT(*) FROM provider_payments").await,
            n("SELECT COUNT(*) FROM ledger_entries WHERE kind = 'payment'").await,
            n("SELECT COUNT(*) FROM notifications").await,
            n("SELECT COUNT(*) FROM orders WHERE status = 'paid'").await,
        )
    };
    let before = written().await;
    let mut tx = app.store.write_tx().await.unwrap();
    let r = app.store.apply_payment(&mut tx, &applied(0, "VIEWTXN1", None)).await;
    assert!(matches!(r, Err(StoreError::Stale(_))), "an attempt made since the view: {r:?}");
    drop(tx);
    assert_eq!(written().await, before, "a stale write left something behind");
    // As the settler writes a batch: the refused one rolls back to its savepoint alone (or the
    // same transaction id written again next would conflict with it).
    let mut tx = app.store.write_tx().await.unwrap();
    let r = app.store.apply_payment(&mut tx, &applied(0, "VIEWTXN1", Some("settlement_0"))).await;
    assert!(matches!(r, Err(StoreError::Stale(_))), "{r:?}");
    app.store.rollback_to(&mut tx, "settlement_0").await.unwrap();
    app.store.apply_payment(&mut tx, &applied(1, "VIEWTXN1", Some("settlement_1"))).await.unwrap();
    tx.commit().await.unwrap();
    let after = written().await;
    assert_eq!((after.0 - before.0, after.2 - before.2, after.3 - before.3), (1, 1, 1));
    assert!(after.1 > before.1, "a ledger row for the order's line");
    // Paid since the view: the same view, another transaction, is stale; the same
    // transaction again is a conflict. Neither writes anything.
    for (txn, stale) in [("VIEWTXN2", true), ("VIEWTXN1", false)] {
        let mut tx = app.store.write_tx().await.unwrap();
        let r = app.store.apply_payment(&mut tx, &applied(1, txn, None)).await;
        assert!(if stale { matches!(r, Err(StoreError::Stale(_))) } else { matches!(r, Err(StoreError::Conflict(_))) }, "{txn}: {r:?}");
        drop(tx);
        assert_eq!(written().await, after);
    }
}
