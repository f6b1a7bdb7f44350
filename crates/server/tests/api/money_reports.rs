//! The ledger's reports over real HTTP on both databases: daily collection by channel, the
//! voucher sheet and the arrears ageing, each compared with sums taken straight from the
//! ledger (and, per channel, from what the providers and the counter recorded).

use crate::common::TestApp;
use crate::office_money::{finance, paid_order, run_until, staff};
use crate::payments::count;
use serde_json::{Value, json};

on_both_databases!(
    daily_collection_and_vouchers_equal_the_ledger,
    arrears_ageing_equals_what_the_charges_owe,
    the_pages_draw_their_charts_without_script,
    unionpay_fees_come_from_its_statement,
);

/// The ledger's timestamps are the database's wall clock: the range is around the real today.
fn range() -> (String, String) {
    let now = campuspay_store::db_now();
    (campuspay_domain::time::format_shanghai_date(now - 86_400), campuspay_domain::time::format_shanghai_date(now + 86_400))
}

async fn scalar(app: &TestApp, sql: &str, school: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string())).bind(school).fetch_one(app.store.pool()).await.unwrap()
}

/// The unix bounds of `range()`: its first day's midnight to the midnight after its last.
fn bounds() -> String {
    let (from, to) = range();
    let t = |d: &str, plus: i64| {
        let n = |a: usize, b: usize| d[a..b].parse::<u32>().unwrap();
        campuspay_domain::time::shanghai_to_unix(n(0, 4) as i64, n(5, 7), n(8, 10), 0, 0, 0).unwrap() + plus
    };
    format!("l.created_at >= {} AND l.created_at < {}", t(&from, 0), t(&to, 86_400))
}

/// Net money (in − out) straight from the ledger: every row of the kinds that move money.
/// The two halves of an exception's credit or apply cancel out, so no channel is needed.
async fn ledger_net(app: &TestApp, school: &str) -> (i64, i64) {
    let sum = |kinds: &str| {
        format!(
            "SELECT CAST(COALESCE(SUM(l.amount_fen), 0) AS BIGINT) FROM ledger_entries l JOIN schools s ON s.id = l.school_id \
             WHERE s.code = $1 AND l.kind IN ({kinds}) AND {}",
            bounds()
        )
    };
    let net = scalar(app, &sum("'payment', 'offline_payment', 'unapplied_receipt', 'credit', 'refund'"), school).await;
    let refunded = -scalar(app, &sum("'refund'"), school).await;
    (net, refunded)
}

fn yuan(d: &calamine::Data) -> i64 {
    match d {
        calamine::Data::Float(f) => (f * 100.0).round() as i64,
        other => panic!("not a number: {other:?}"),
    }
}

async fn workbook(app: &TestApp, token: &str, path: &str) -> Vec<Vec<calamine::Data>> {
    use calamine::Reader;
    let res = app.http.get(app.url(path)).bearer_auth(token).send().await.unwrap();
    assert_eq!(res.status(), 200, "{path}");
    let bytes = res.bytes().await.unwrap();
    let mut book: calamine::Xlsx<_> = calamine::Xlsx::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let formulas = book.worksheet_formula(&book.sheet_names()[0]).unwrap();
    assert!(formulas.used_cells().all(|(_, _, f)| f.is_empty()), "no cell of {path} is a formula");
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    range.rows().map(|r| r.to_vec()).collect()
}

async fn daily_collection_and_vouchers_equal_the_ledger(app: TestApp) {
    let token = app.session("lut", "20230001").await;
    let (charge, order) = paid_order(&app, &token).await;
    let fin = finance(&app, "lut").await;
    // A channel refund, cash at the counter, and part of that cash handed back.
    let body = json!({"order_no": order["order_no"], "lines": [{"charge_id": charge["id"], "amount_fen": 700}], "reason": "多收"});
    let (_, r) = app.post_json("/api/v1/office/refunds", body, Some(&fin)).await;
    run_until(&app, &fin, r["id"].as_i64().unwrap(), "success").await;
    let (_, c) = app.get_json("/api/v1/student/charges", Some(&token)).await;
    let owed =
        c["charges"].as_array().unwrap().iter().find(|c| c["arrears_fen"].as_i64().unwrap() >= 500).cloned().expect("an owed charge");
    let cash =
        json!({"student_no": "20230001", "lines": [{"charge_id": owed["id"], "amount_fen": 500}], "method": "cash", "reference": "CASH-1"});
    let (status, p) = app.post_json("/api/v1/office/offline-payments", cash, Some(&fin)).await;
    assert_eq!(status, 200, "{p}");
    let back = json!({"offline_payment_id": p["id"], "lines": [{"charge_id": owed["id"], "amount_fen": 120}], "reason": "多收退还"});
    let (status, v) = app.post_json("/api/v1/office/refunds", back, Some(&fin)).await;
    assert!(status < 300, "{v}");

    let (from, to) = range();
    let (status, d) = app.get_json(&format!("/api/v1/office/reports/daily?from={from}&to={to}"), Some(&fin)).await;
    assert_eq!(status, 200, "{d}");
    let (net, refunded) = ledger_net(&app, "lut").await;
    let t = &d["total"];
    assert_eq!((t["net_fen"].as_i64(), t["refund_fen"].as_i64()), (Some(net), Some(refunded)), "the report equals the ledger: {d}");
    assert_eq!(t["in_fen"].as_i64(), Some(net + refunded));
    assert_eq!(refunded, 820, "both refunds are out");
    let rows = d["rows"].as_array().unwrap();
    for f in ["in_count", "in_fen", "refund_count", "refund_fen", "net_fen"] {
        let sum: i64 = rows.iter().map(|r| r[f].as_i64().unwrap()).sum();
        assert_eq!(sum, t[f].as_i64().unwrap(), "rows add up to the total's {f}");
    }
    // Per channel, what the providers and the counter recorded.
    let channel = |name: &str| d["channels"].as_array().unwrap().iter().find(|c| c["channel"] == name).cloned().unwrap_or(Value::Null);
    let wechat_paid = scalar(
        &app,
        "SELECT CAST(SUM(p.amount_fen) AS BIGINT) FROM provider_payments p JOIN schools s ON s.id = p.school_id \
         WHERE s.code = $1 AND p.provider = 'wechatpay'",
        "lut",
    )
    .await;
    let wx = channel("wechatpay");
    assert_eq!(
        (wx["in_fen"].as_i64(), wx["in_count"].as_i64(), wx["refund_fen"].as_i64()),
        (Some(wechat_paid), Some(1), Some(700)),
        "{wx}"
    );
    // The counter's cash: this test's 500 fen and the demo seed's own counter records.
    let cash_taken = scalar(
        &app,
        "SELECT CAST(SUM(o.total_fen) AS BIGINT) FROM offline_payments o JOIN schools s ON s.id = o.school_id \
         WHERE s.code = $1 AND o.method = 'cash'",
        "lut",
    )
    .await;
    assert!(cash_taken >= 500);
    let till = channel("cash");
    assert_eq!(
        (till["in_fen"].as_i64(), till["refund_fen"].as_i64(), till["net_fen"].as_i64()),
        (Some(cash_taken), Some(120), Some(cash_taken - 120)),
        "{till}"
    );
    assert_eq!(till["channel_name"], "现金");

    // The same in the workbook: the total row's net.
    let sheet = workbook(&app, &fin, &format!("/api/v1/office/reports/daily?from={from}&to={to}&format=xlsx")).await;
    assert_eq!(sheet[0][0], calamine::Data::String("日期".into()));
    let last = sheet.last().unwrap();
    assert_eq!((yuan(&last[3]), yuan(&last[5]), yuan(&last[6])), (net + refunded, refunded, net));

    // Vouchers: every one balances; what the fund accounts (1001/1002/1012) took in, less what
    // they paid out, is the ledger's net.
    let v = workbook(&app, &fin, &format!("/api/v1/office/ledger/voucher?from={from}&to={to}&format=xlsx")).await;
    assert_eq!(v[0][1], calamine::Data::String("凭证号".into()));
    let lines = &v[1..v.len() - 1];
    assert!(!lines.is_empty() && lines.len() % 2 == 0);
    let (mut debit, mut credit, mut funds) = (0, 0, 0);
    for pair in lines.chunks(2) {
        assert_eq!(pair[0][1], pair[1][1], "a voucher's two lines share its number");
        let (d, c) = (yuan(&pair[0][5]), yuan(&pair[1][6]));
        assert_eq!(d, c, "each voucher balances: {pair:?}");
        (debit, credit) = (debit + d, credit + c);
        let account = |row: &Vec<calamine::Data>| row[4].to_string();
        if account(&pair[0]).starts_with("10") {
            funds += d;
        }
        if account(&pair[1]).starts_with("10") {
            funds -= c;
        }
    }
    assert_eq!(funds, net, "the fund accounts' movement equals the ledger's net");
    let total = v.last().unwrap();
    assert_eq!((yuan(&total[5]), yuan(&total[6])), (debit, credit));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_log WHERE action = 'report.exported'").await, 2);

    // Another school's office sees none of it; a cashier cannot read reports; an auditor can.
    let other = finance(&app, "ejt").await;
    let (_, e) = app.get_json(&format!("/api/v1/office/reports/daily?from={from}&to={to}"), Some(&other)).await;
    let (ejt_net, _) = ledger_net(&app, "ejt").await;
    assert_eq!(e["total"]["net_fen"].as_i64(), Some(ejt_net), "{e}");
    // ejt's cash is its own demo counter records only, never lut's till.
    let ejt_cash = scalar(
        &app,
        "SELECT CAST(COALESCE(SUM(o.total_fen), 0) AS BIGINT) FROM offline_payments o JOIN schools s ON s.id = o.school_id \
         WHERE s.code = $1 AND o.method = 'cash'",
        "ejt",
    )
    .await;
    let ejt_till: i64 =
        e["rows"].as_array().unwrap().iter().filter(|r| r["channel"] == "cash").map(|r| r["in_fen"].as_i64().unwrap()).sum();
    assert_eq!(ejt_till, ejt_cash, "{e}");
    let cashier = staff(&app, "lut", "cashier", "Cashier#2026").await;
    for path in [
        format!("/api/v1/office/reports/daily?from={from}&to={to}"),
        format!("/api/v1/office/ledger/voucher?from={from}&to={to}&format=xlsx"),
    ] {
        assert_eq!(app.get_json(&path, Some(&cashier)).await.0, 403, "{path}");
    }
    let auditor = staff(&app, "lut", "auditor", "Auditor#2026").await;
    assert_eq!(app.get_json(&format!("/api/v1/office/reports/daily?from={from}&to={to}"), Some(&auditor)).await.0, 200);

    // Bad input: clear refusals naming the field.
    for (q, code, field) in [
        (format!("from={to}&to={from}"), "invalid_range", "from"),
        ("from=2026-02-30&to=2026-03-01".to_string(), "invalid_date", "from"),
        ("from=2024-01-01&to=2026-03-01".to_string(), "range_too_long", "to"),
        (format!("from={from}&to={to}&format=pdf"), "invalid_format", "format"),
    ] {
        let (s, e) = app.get_json(&format!("/api/v1/office/reports/daily?{q}"), Some(&fin)).await;
        assert_eq!((s, e["error"]["code"].as_str(), e["error"]["field"].as_str()), (422, Some(code), Some(field)), "{q}: {e}");
    }
    let (s, _) = app.get_json(&format!("/api/v1/office/ledger/voucher?from={from}&to={to}"), Some(&fin)).await;
    assert_eq!(s, 422, "the voucher sheet is a workbook only");
}

async fn arrears_ageing_equals_what_the_charges_owe(app: TestApp) {
    let token = app.session("lut", "20230001").await;
    paid_order(&app, &token).await;
    let fin = finance(&app, "lut").await;
    let (_, c) = app.get_json("/api/v1/student/charges", Some(&token)).await;
    let owed =
        c["charges"].as_array().unwrap().iter().find(|c| c["arrears_fen"].as_i64().unwrap() >= 100).cloned().expect("an owed charge");
    let (status, w) = app
        .post_json(&format!("/api/v1/office/charges/{}/waivers", owed["id"]), json!({"amount_fen": 100, "reason": "困难补助"}), Some(&fin))
        .await;
    assert_eq!(status, 200, "{w}");
    let (status, a) = app.get_json("/api/v1/office/reports/arrears-ageing", Some(&fin)).await;
    assert_eq!(status, 200, "{a}");
    let owed = |extra: &'static str| {
        let sql = format!(
            "SELECT CAST(COALESCE(SUM(cs.owed_fen), 0) AS BIGINT) FROM charges c JOIN charge_sums cs ON cs.charge_id = c.id \
             JOIN schools s ON s.id = c.school_id JOIN students st ON st.id = c.student_id JOIN periods p ON p.id = c.period_id \
             WHERE s.code = $1 AND cs.owed_fen > 0 {extra}"
        );
        let app = &app;
        async move { scalar(app, &sql, "lut").await }
    };
    let total = owed("").await;
    assert!(total > 0);
    assert_eq!(a["total"]["outstanding_fen"].as_i64(), Some(total), "{a}");
    let rows = a["rows"].as_array().unwrap();
    let years = a["years"].as_array().unwrap();
    for (i, y) in years.iter().enumerate() {
        let sum: i64 = rows.iter().map(|r| r["by_year_fen"][i].as_i64().unwrap()).sum();
        assert_eq!(Some(sum), a["total"]["by_year_fen"][i].as_i64(), "year {y}");
    }
    let by_rows: i64 = rows.iter().map(|r| r["outstanding_fen"].as_i64().unwrap()).sum();
    let by_year: i64 = a["total"]["by_year_fen"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).sum();
    assert_eq!((by_rows, by_year), (total, total));
    // One year checked straight from the charges of its periods.
    let year = years[0]["academic_year"].as_str().unwrap().to_string();
    let of_year: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(cs.owed_fen), 0) AS BIGINT) FROM charges c JOIN charge_sums cs ON cs.charge_id = c.id \
         JOIN schools s ON s.id = c.school_id JOIN periods p ON p.id = c.period_id \
         WHERE s.code = $1 AND cs.owed_fen > 0 AND p.academic_year = $2",
    )
    .bind("lut")
    .bind(&year)
    .fetch_one(app.store.pool())
    .await
    .unwrap();
    assert_eq!(a["total"]["by_year_fen"][0].as_i64(), Some(of_year), "{year}");
    // The workbook's total equals it; another school's office sees its own figures only.
    let sheet = workbook(&app, &fin, "/api/v1/office/reports/arrears-ageing?format=xlsx").await;
    assert_eq!(sheet[0][0], calamine::Data::String("院系".into()));
    let last = sheet.last().unwrap();
    assert_eq!(yuan(&last[last.len() - 2]), total);
    let other = finance(&app, "ejt").await;
    let (_, e) = app.get_json("/api/v1/office/reports/arrears-ageing", Some(&other)).await;
    let ejt: i64 = scalar(
        &app,
        "SELECT CAST(COALESCE(SUM(cs.owed_fen), 0) AS BIGINT) FROM charges c JOIN charge_sums cs ON cs.charge_id = c.id \
         JOIN schools s ON s.id = c.school_id WHERE s.code = $1 AND cs.owed_fen > 0",
        "ejt",
    )
    .await;
    assert_eq!(e["total"]["outstanding_fen"].as_i64(), Some(ejt));
    let cashier = staff(&app, "lut", "cashier", "Cashier#2026").await;
    assert_eq!(app.get_json("/api/v1/office/reports/arrears-ageing", Some(&cashier)).await.0, 403);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_log WHERE action = 'report.exported'").await, 1);

    // Drill-down: the charges behind a cell are the cell, row by row.
    let dept = rows[0]["department"].as_str().unwrap().to_string();
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let cells = [
        (format!("department={}&academic_year={}", enc(&dept), enc(&year)), a["rows"][0]["by_year_fen"][0].as_i64().unwrap()),
        (format!("department={}", enc(&dept)), rows[0]["outstanding_fen"].as_i64().unwrap()),
        (format!("academic_year={}", enc(&year)), of_year),
        (String::new(), total),
    ];
    for (q, cell) in &cells {
        let (status, d) = app.get_json(&format!("/api/v1/office/reports/arrears-ageing/debtors?{q}"), Some(&fin)).await;
        assert_eq!(status, 200, "{q}: {d}");
        assert_eq!(d["outstanding_fen"].as_i64(), Some(*cell), "{q}: the drill-down owes what its cell shows");
        let list = d["rows"].as_array().unwrap();
        let n = d["count"].as_i64().unwrap();
        assert_eq!(list.len() as i64, n.min(500), "{q}");
        if n <= 500 {
            assert_eq!(list.iter().map(|r| r["outstanding_fen"].as_i64().unwrap()).sum::<i64>(), *cell, "{q}");
        }
        assert!(list.iter().all(|r| r["outstanding_fen"].as_i64().unwrap() > 0), "only what owes");
        assert!(list.windows(2).all(|w| w[0]["outstanding_fen"].as_i64() >= w[1]["outstanding_fen"].as_i64()), "most owed first");
        if q.contains("department") {
            assert!(list.iter().all(|r| r["department"] == dept.as_str()), "{q}");
        }
    }
    // One department as a workbook: every charge, and a total row equal to the cell.
    let (_, mine) = app.get_json(&format!("/api/v1/office/reports/arrears-ageing/debtors?{}", cells[1].0), Some(&fin)).await;
    let sheet = workbook(&app, &fin, &format!("/api/v1/office/reports/arrears-ageing/debtors?{}&format=xlsx", cells[1].0)).await;
    assert_eq!(sheet[0][0], calamine::Data::String("学号".into()));
    assert_eq!(sheet.len() as i64, mine["count"].as_i64().unwrap() + 2, "header, every charge, total");
    assert_eq!(yuan(&sheet.last().unwrap()[7]), cells[1].1, "the workbook's total is the cell");
    let listed: i64 = sheet[1..sheet.len() - 1].iter().map(|r| yuan(&r[7])).sum();
    assert_eq!(listed, cells[1].1, "and its rows add up to it");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_log WHERE action = 'report.exported'").await, 2);
    // Another school's office asking for lut's department sees only its own charges of that name.
    let (_, theirs) = app.get_json(&format!("/api/v1/office/reports/arrears-ageing/debtors?{}", cells[1].0), Some(&other)).await;
    let ejt_dept: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(cs.owed_fen), 0) AS BIGINT) FROM charges c JOIN charge_sums cs ON cs.charge_id = c.id \
         JOIN schools s ON s.id = c.school_id JOIN students st ON st.id = c.student_id \
         WHERE s.code = 'ejt' AND cs.owed_fen > 0 AND st.department = $1",
    )
    .bind(&dept)
    .fetch_one(app.store.pool())
    .await
    .unwrap();
    assert_eq!(theirs["outstanding_fen"].as_i64(), Some(ejt_dept), "{theirs}");
    for q in ["", "?format=xlsx"] {
        let path = format!("/api/v1/office/reports/arrears-ageing/debtors{q}");
        assert_eq!(app.get_json(&path, Some(&cashier)).await.0, 403, "{path}");
    }
    let (s, e) = app.get_json("/api/v1/office/reports/arrears-ageing/debtors?format=pdf", Some(&fin)).await;
    assert_eq!((s, e["error"]["code"].as_str(), e["error"]["field"].as_str()), (422, Some("invalid_format"), Some("format")));
}

async fn page(app: &TestApp, cookie: &str, path: &str) -> (u16, String) {
    let res = app.http.get(app.url(path)).header("cookie", cookie).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn office_cookie(app: &TestApp, login: &str, password: &str) -> String {
    let res =
        app.http.post(app.url("/office/login")).form(&[("school", "lut"), ("login", login), ("password", password)]).send().await.unwrap();
    assert_eq!(res.status(), 303);
    res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string()
}

async fn the_pages_draw_their_charts_without_script(app: TestApp) {
    let token = app.session("lut", "20230001").await;
    paid_order(&app, &token).await;
    let fin = office_cookie(&app, "finance", "Finance#2026").await;
    let (from, to) = range();
    let (status, html) = page(&app, &fin, &format!("/office/reports/daily?from={from}&to={to}")).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("<svg class=\"chart\"") && html.contains("微信支付") && html.contains("下载记账凭证"), "{html}");
    assert!(!html.contains("<script"), "no script on the page");
    let (_, d) = app.get_json(&format!("/api/v1/office/reports/daily?from={from}&to={to}"), Some(&finance(&app, "lut").await)).await;
    let net = d["total"]["net_fen"].as_i64().unwrap();
    assert!(html.contains(&campuspay_domain::Fen(net).to_string()), "the page shows the report's net");
    let (status, html) = page(&app, &fin, &format!("/office/reports/daily?from={to}&to={from}")).await;
    assert_eq!(status, 422);
    assert!(html.contains("开始日期不能晚于结束日期"));
    let (status, html) = page(&app, &fin, "/office/reports/arrears").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("<svg class=\"chart\"") && html.contains("账龄3年及以上") && !html.contains("<script"), "{html}");
    // Each department and each owed cell links to its students; the drill-down lists them.
    assert!(html.contains("/office/reports/arrears?department="), "{html}");
    let link = html.split("href=\"/office/reports/arrears?department=").nth(1).unwrap().split('"').next().unwrap().replace("&amp;", "&");
    let (status, drill) = page(&app, &fin, &format!("/office/reports/arrears?department={link}")).await;
    assert_eq!(status, 200, "{drill}");
    assert!(drill.contains("id=\"debtors\"") && drill.contains("的欠费学生") && drill.contains("下载欠费明细 Excel"), "{drill}");
    assert!(drill.contains("/office/students/"), "students are listed: {drill}");
    // Only roles that read reports.
    let cashier = office_cookie(&app, "cashier", "Cashier#2026").await;
    for path in ["/office/reports/daily", "/office/reports/arrears"] {
        assert_eq!(page(&app, &cashier, path).await.0, 403, "{path}");
    }
}

/// UnionPay's ZM file states 商户手续费 per line (the simulator keeps 0.6 %, rounded down):
/// the day's row shows provider total − fees = settlement, as for WeChat and Alipay.
async fn unionpay_fees_come_from_its_statement(app: TestApp) {
    use crate::payments::{new_order, pay, provider_pays};
    let token = app.session("qdou", "20230003").await;
    let (_, order) = new_order(&app, &token).await;
    let no = order["order_no"].as_str().unwrap();
    let p = pay(&app, &token, no, "unionpay_qr").await;
    assert_eq!(provider_pays(&app, "unionpay_qr", p["out_trade_no"].as_str().unwrap()).await, 200);
    let t0 = std::time::Instant::now();
    while app.get_json(&format!("/api/v1/student/orders/{no}"), Some(&token)).await.1["status"] != "paid" {
        assert!(t0.elapsed().as_secs() < 8, "paid within 8 s");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let fin = finance(&app, "qdou").await;
    let today = campuspay_domain::time::format_shanghai_date(app.state.ctx.clock.now());
    let (s, day) = app.post_json("/api/v1/office/reconciliation/run", json!({"date": today}), Some(&fin)).await;
    assert_eq!(s, 200, "{day}");
    let up = day["channels"].as_array().unwrap().iter().find(|c| c["provider"] == "unionpay").cloned().expect("a unionpay row");
    let paid = order["total_fen"].as_i64().unwrap();
    assert_eq!((up["ok"].as_bool(), up["net_fen"].as_i64()), (Some(true), Some(paid)), "{up}");
    let fee = paid * 6 / 1000;
    assert!(fee > 0);
    assert_eq!((up["fee_fen"].as_i64(), up["settlement_fen"].as_i64()), (Some(fee), Some(paid - fee)), "{up}");
    let cookie = {
        let res = app
            .http
            .post(app.url("/office/login"))
            .form(&[("school", "qdou"), ("login", "finance"), ("password", "Finance#2026")])
            .send()
            .await
            .unwrap();
        res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string()
    };
    let (status, html) = page(&app, &cookie, &format!("/office/reconciliation?date={today}")).await;
    assert_eq!(status, 200);
    assert!(html.contains(&campuspay_domain::Fen(paid - fee).to_string()), "the settlement on the page");
}
