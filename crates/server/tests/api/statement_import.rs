//! A provider's statement file uploaded by hand, on both databases: a broken file, a file of
//! another day or with a wrong summary is refused and changes nothing; a good one is
//! reconciled like the daily run (matched, settled now, unknown lines queued), kept, audited;
//! another school's upload touches none of this school's trades; the page's form needs its token;
//! lines read past the first lookup batch are found as those in it.

use crate::common::TestApp;
use crate::office_money::{finance, paid_order, staff};
use crate::payments::{behaviour, count, new_order, pay, provider_pays};
use campuspay_channels::wechatpay::bill::{RenderLine, gzip, render};
use serde_json::{Value, json};

on_both_databases!(an_uploaded_statement_is_reconciled_kept_and_audited, lines_past_the_first_batch_are_found_like_the_first);

fn line<'a>(time: &'a str, txn: &'a str, out_trade_no: &'a str, amount: i64) -> RenderLine<'a> {
    RenderLine {
        time,
        appid: "wx0000000000000000",
        mchid: "1900000001",
        transaction_id: txn,
        out_trade_no,
        openid: "oSandboxPayer0001",
        trade_type: "NATIVE",
        subject: "学费",
        amount,
        refund: None,
    }
}

async fn upload(app: &TestApp, token: &str, provider: &str, date: &str, bytes: Vec<u8>) -> (u16, Value) {
    let form = reqwest::multipart::Form::new()
        .text("provider", provider.to_string())
        .text("date", date.to_string())
        .part("file", reqwest::multipart::Part::bytes(bytes).file_name("tradebill.csv"));
    let res = app.http.post(app.url("/api/v1/office/reconciliation/import")).bearer_auth(token).multipart(form).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// What an upload may change, counted.
async fn state(app: &TestApp) -> [i64; 5] {
    [
        count(app, "SELECT COUNT(*) FROM reconciliations").await,
        count(app, "SELECT COUNT(*) FROM statement_imports").await,
        count(app, "SELECT COUNT(*) FROM provider_payments").await,
        count(app, "SELECT COUNT(*) FROM money_exceptions").await,
        count(app, "SELECT COUNT(*) FROM audit_log WHERE action = 'reconciliation.import'").await,
    ]
}

async fn an_uploaded_statement_is_reconciled_kept_and_audited(app: TestApp) {
    // A: paid and settled by its notification.
    let token = app.session("qdou", "20230001").await;
    paid_order(&app, &token).await;
    let (a_out, a_txn, a_fen): (String, String, i64) =
        sqlx::query_as("SELECT a.out_trade_no, p.txn_id, p.amount_fen FROM provider_payments p JOIN pay_attempts a ON a.id = p.attempt_id")
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    // B: paid at the provider, whose notification never came (and no query job has run).
    behaviour(&app, "wechatpay", json!({"notify": "lost"})).await;
    let other = app.session("qdou", "20230003").await;
    let (_, order_b) = new_order(&app, &other).await;
    let b = pay(&app, &other, order_b["order_no"].as_str().unwrap(), "wechat_native").await;
    let b_out = b["out_trade_no"].as_str().unwrap().to_string();
    assert_eq!(provider_pays(&app, "wechat_native", &b_out).await, 200);
    let b_fen = order_b["total_fen"].as_i64().unwrap();

    let today = campuspay_domain::time::format_shanghai_date(app.state.ctx.clock.now());
    let yesterday = campuspay_domain::time::format_shanghai_date(app.state.ctx.clock.now() - 86_400);
    let at = format!("{today} 10:00:00");
    let bill = render(&[
        line(&at, &a_txn, &a_out, a_fen),
        line(&at, "4200000000TEST0002", &b_out, b_fen),
        line(&at, "4200000000TEST0003", "NOTOURS0000001", 500),
    ])
    // 手续费 of A and B (to 1/100,000 yuan, as WeChat writes it); the unknown line's stays 0.
    .replacen("0.00000", "1.23456", 1)
    .replacen("0.00000", "0.60000", 1);
    let fin = finance(&app, "qdou").await;

    // Refused, and nothing changes: garbage, a summary that disagrees, another day's trades,
    // an unknown channel, a day to come; a cashier may not.
    let before = state(&app).await;
    // The summary says four trades; the file lists three.
    let doctored = bill.replacen("\r\n`3,`", "\r\n`4,`", 1);
    assert_ne!(doctored, bill, "the summary line was changed");
    let old_day = render(&[line(&format!("{yesterday} 23:59:59"), &a_txn, &a_out, a_fen)]);
    let cases = [
        ("wechatpay", today.as_str(), b"PK\x03\x04 not a bill".to_vec(), "statement_unreadable"),
        ("wechatpay", today.as_str(), doctored.into_bytes(), "statement_unreadable"),
        ("alipay", today.as_str(), bill.clone().into_bytes(), "statement_unreadable"),
        ("wechatpay", today.as_str(), old_day.into_bytes(), "statement_wrong_day"),
        ("paypal", today.as_str(), bill.clone().into_bytes(), "invalid_provider"),
        ("wechatpay", "2999-01-01", bill.clone().into_bytes(), "future_date"),
        ("wechatpay", today.as_str(), Vec::new(), "file_required"),
    ];
    for (provider, date, bytes, code) in cases {
        let (s, e) = upload(&app, &fin, provider, date, bytes).await;
        assert_eq!((s, e["error"]["code"].as_str()), (422, Some(code)), "{provider} {date}: {e}");
        assert!(!e["error"]["message"].as_str().unwrap().is_ascii(), "a Chinese message: {e}");
    }
    let cashier = staff(&app, "qdou", "cashier", "Cashier#2026").await;
    assert_eq!(upload(&app, &cashier, "wechatpay", &today, bill.clone().into_bytes()).await.0, 403);
    assert_eq!(state(&app).await, before, "refused uploads changed nothing");

    // The good file: A matched, B settled now, the unknown line queued; the file kept.
    let (s, day) = upload(&app, &fin, "wechatpay", &today, bill.clone().into_bytes()).await;
    assert_eq!(s, 200, "{day}");
    let wx = day["channels"].as_array().unwrap().iter().find(|c| c["provider"] == "wechatpay").cloned().unwrap();
    assert_eq!(wx["imported"], true, "{wx}");
    assert_eq!(
        [wx["matched_count"].as_i64(), wx["settled_now_count"].as_i64(), wx["missing_ours_count"].as_i64()],
        [Some(1), Some(1), Some(1)],
        "{wx}"
    );
    assert_eq!(wx["settled_now_fen"].as_i64(), Some(b_fen));
    // Provider total − fees = settlement: 1.23456 + 0.60000 yuan of fees is ¥1.83.
    assert_eq!(wx["net_fen"].as_i64(), Some(a_fen + b_fen), "the school's trades only");
    assert_eq!((wx["fee_fen"].as_i64(), wx["settlement_fen"].as_i64()), (Some(183), Some(a_fen + b_fen - 183)), "{wx}");
    assert_eq!(
        app.get_json(&format!("/api/v1/student/orders/{}", order_b["order_no"].as_str().unwrap()), Some(&other)).await.1["status"],
        "paid"
    );
    let (name, sha, content): (String, String, String) =
        sqlx::query_as("SELECT file_name, sha256, content FROM statement_imports").fetch_one(app.store.pool()).await.unwrap();
    use base64::Engine;
    assert_eq!(name, "tradebill.csv");
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(content).unwrap(), bill.as_bytes(), "the file is kept as uploaded");
    assert_eq!(sha.len(), 64);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_log WHERE action = 'reconciliation.import'").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM money_exceptions WHERE kind = 'statement_unknown'").await, 1);
    let (_, view) = app.get_json(&format!("/api/v1/office/reconciliation?date={today}"), Some(&fin)).await;
    assert!(view["channels"].as_array().unwrap().iter().any(|c| c["provider"] == "wechatpay" && c["imported"] == true), "{view}");

    // The kept file comes back as uploaded, with its SHA-256; reading it is audited; only
    // roles that read reports, and only this school, may.
    let file = view["channels"].as_array().unwrap().iter().find(|c| c["provider"] == "wechatpay").unwrap()["file"].clone();
    assert_eq!(
        (file["file_name"].as_str(), file["sha256"].as_str(), file["size_bytes"].as_i64()),
        (Some("tradebill.csv"), Some(sha.as_str()), Some(bill.len() as i64)),
        "{file}"
    );
    let path = file["download"].as_str().unwrap().to_string();
    let get = |token: String| {
        let (app, path) = (&app, path.clone());
        async move { app.http.get(app.url(&path)).bearer_auth(token).send().await.unwrap() }
    };
    let res = get(fin.clone()).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-disposition"].to_str().unwrap().contains("tradebill.csv"));
    let digest = res.headers()["repr-digest"].to_str().unwrap().to_string();
    assert_eq!(res.bytes().await.unwrap().as_ref(), bill.as_bytes(), "the file as uploaded");
    let raw: Vec<u8> = (0..64).step_by(2).map(|i| u8::from_str_radix(&sha[i..i + 2], 16).unwrap()).collect();
    assert_eq!(digest, format!("sha-256=:{}:", base64::engine::general_purpose::STANDARD.encode(raw)));
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM audit_log WHERE action = 'report.exported' AND detail LIKE '%statement_import:%'").await,
        1
    );
    assert_eq!(get(cashier.clone()).await.status(), 403, "a cashier reads no statements");
    let auditor = staff(&app, "qdou", "auditor", "Auditor#2026").await;
    assert_eq!(get(auditor).await.status(), 200, "an auditor reads them");
    let outsider = finance(&app, "ejt").await;
    let res = get(outsider).await;
    assert_eq!(res.status(), 404, "another school's office does not reach the file");
    let e: Value = res.json().await.unwrap();
    assert_eq!(e["error"]["code"], "statement_file_not_found");
    assert_eq!(app.get_json("/api/v1/office/reconciliation/files/999999", Some(&fin)).await.0, 404);

    // Another school's office uploading the same file (gzip, as WeChat serves it) reaches
    // none of qdou's trades.
    let payments = count(&app, "SELECT COUNT(*) FROM provider_payments").await;
    let ejt = finance(&app, "ejt").await;
    let (s, day) = upload(&app, &ejt, "wechatpay", &today, gzip(bill.as_bytes())).await;
    assert_eq!(s, 200, "{day}");
    let wx = day["channels"].as_array().unwrap().iter().find(|c| c["provider"] == "wechatpay").cloned().unwrap();
    assert_eq!([wx["matched_count"].as_i64(), wx["settled_now_count"].as_i64()], [Some(0), Some(0)], "{wx}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM provider_payments").await, payments);

    // The page's form: without the session's token nothing is read; with it, a redirect.
    let res = app
        .http
        .post(app.url("/office/login"))
        .form(&[("school", "qdou"), ("login", "finance"), ("password", "Finance#2026")])
        .send()
        .await
        .unwrap();
    let cookie = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let page = app
        .http
        .get(app.url(&format!("/office/reconciliation?date={today}")))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("手工导入对账单") && page.contains("（手工导入）"), "{page}");
    assert!(page.contains(&format!("href=\"{path}\"")) && page.contains("下载原文件"), "the page links the kept file");
    assert!(
        page.contains("结算金额") && page.contains(&campuspay_domain::Fen(a_fen + b_fen - 183).to_string()),
        "the settlement on the page"
    );
    let csrf = page.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let before = state(&app).await;
    for (token, want) in [("forged", 403), (csrf.as_str(), 303)] {
        let form = reqwest::multipart::Form::new()
            .text("csrf", token.to_string())
            .text("provider", "wechatpay")
            .text("date", today.clone())
            .part("file", reqwest::multipart::Part::bytes(bill.clone().into_bytes()).file_name("tradebill.csv"));
        let res = app.http.post(app.url("/office/reconciliation/import")).header("cookie", &cookie).multipart(form).send().await.unwrap();
        assert_eq!(res.status().as_u16(), want, "csrf {token}");
        if want == 403 {
            assert_eq!(state(&app).await, before);
        }
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM statement_imports").await, 3);
}

/// Lines are looked up in the books a batch at a time (`LOOKUP_BATCH`, 2,000 in production);
/// with batches of two, what the later batches hold — lines the books lack, an amount that
/// differs, a payment whose notification was lost — is found as in the first, our payment the
/// file lacks too, and a file whose summary disagrees at its end still changes nothing.
async fn lines_past_the_first_batch_are_found_like_the_first(app: TestApp) {
    use campuspay_app::payment::reconcile::{Unreadable, reconcile_statement_in_batches};
    use campuspay_channels::StatementFile;
    use campuspay_channels::statement::BillBody;
    let token = app.session("qdou", "20230001").await;
    // A: settled by its notification; the file says another amount.
    paid_order(&app, &token).await;
    let (a_out, a_txn, a_fen, school_id): (String, String, i64, i64) = sqlx::query_as(
        "SELECT a.out_trade_no, p.txn_id, p.amount_fen, p.school_id FROM provider_payments p JOIN pay_attempts a ON a.id = p.attempt_id",
    )
    .fetch_one(app.store.pool())
    .await
    .unwrap();
    // C: settled too, and missing from the file.
    paid_order(&app, &token).await;
    // B: paid at the provider, whose notification never came.
    behaviour(&app, "wechatpay", json!({"notify": "lost"})).await;
    let other = app.session("qdou", "20230003").await;
    let (_, order_b) = new_order(&app, &other).await;
    let b = pay(&app, &other, order_b["order_no"].as_str().unwrap(), "wechat_native").await;
    let b_out = b["out_trade_no"].as_str().unwrap().to_string();
    assert_eq!(provider_pays(&app, "wechat_native", &b_out).await, 200);
    let b_fen = order_b["total_fen"].as_i64().unwrap();

    let today = campuspay_domain::time::format_shanghai_date(app.state.ctx.clock.now());
    let at = format!("{today} 10:00:00");
    let bill = render(&[
        // First batch: two lines of no trade of ours.
        line(&at, "4200000000TEST0011", "NOTOURS0000011", 100),
        line(&at, "4200000000TEST0012", "NOTOURS0000012", 200),
        // Second: one more, and A with an amount a fen more than we settled.
        line(&at, "4200000000TEST0013", "NOTOURS0000013", 300),
        line(&at, &a_txn, &a_out, a_fen + 1),
        // Third: B, which the books lack.
        line(&at, "4200000000TEST0002", &b_out, b_fen),
    ]);
    let file = |text: String| StatementFile::WechatTradeBill { date: today.clone(), body: BillBody::Bytes(text.into_bytes()) };
    let before = state(&app).await;
    let doctored = bill.replacen("\r\n`5,`", "\r\n`6,`", 1);
    assert_ne!(doctored, bill);
    let read = reconcile_statement_in_batches(&app.state.ctx, school_id, &file(doctored), 2).await.unwrap();
    assert!(matches!(read, Err(Unreadable::File(_))), "the summary is checked after the last batch");
    assert_eq!(state(&app).await, before, "a file found bad at its end changed nothing");

    let done = reconcile_statement_in_batches(&app.state.ctx, school_id, &file(bill), 2).await.unwrap().unwrap();
    let row = &done.row;
    assert_eq!(done.lines, 5);
    assert_eq!(
        [
            row.statement_count,
            row.matched_count,
            row.mismatched_count,
            row.settled_now_count,
            row.missing_ours_count,
            row.missing_theirs_count
        ],
        [2, 0, 1, 1, 3, 1],
        "{row:?}"
    );
    assert_eq!((row.settled_now_fen.0, row.missing_ours_fen.0), (b_fen, 600));
    assert_eq!(
        app.get_json(&format!("/api/v1/student/orders/{}", order_b["order_no"].as_str().unwrap()), Some(&other)).await.1["status"],
        "paid"
    );
    for (kind, n) in [("statement_unknown", 3), ("amount_mismatch", 1), ("missing_from_statement", 1)] {
        let found: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM money_exceptions WHERE kind = $1")
            .bind(kind)
            .fetch_one(app.store.pool())
            .await
            .unwrap();
        assert_eq!(found, n, "{kind}");
    }
    let subjects: Vec<(String,)> =
        sqlx::query_as("SELECT subject FROM money_exceptions ORDER BY id").fetch_all(app.store.pool()).await.unwrap();
    let subjects: Vec<&str> = subjects.iter().map(|(s,)| s.as_str()).collect();
    assert_eq!(
        subjects[..4],
        [
            "line:wechatpay:4200000000TEST0011",
            "line:wechatpay:4200000000TEST0012",
            "line:wechatpay:4200000000TEST0013",
            &format!("txn:wechatpay:{a_txn}")
        ],
        "queued in the file's order, then what the file lacks"
    );
    assert!(subjects[4].starts_with("pp:"), "{subjects:?}");
}
