//! The school's data in and its charges out, over real HTTP on SQLite and PostgreSQL: a
//! roster from Excel (preview, commit once), fee standards, charge runs (idempotent under
//! concurrency), waivers with maker–checker, deferrals and cancellations, each audited.

use crate::common::TestApp;
use campuspay_domain::office::Role;
use serde_json::{Value, json};

on_both_databases!(
    a_roster_is_previewed_then_committed_once,
    broken_files_are_refused_and_change_nothing,
    standards_price_a_run_and_a_run_is_idempotent_under_concurrency,
    a_large_waiver_waits_for_a_second_person,
    deferral_and_cancellation_are_history_not_edits,
    one_school_never_reaches_another_schools_charges,
    the_counter_unlocks_an_account_and_corrects_its_contact,
    announcements_show_from_publication_until_expiry,
    the_audit_log_exports_as_real_files,
    the_demo_files_load_a_new_term,
    the_platform_creates_a_school_and_its_admin_keeps_the_policy,
    a_school_can_require_a_second_factor_for_money_roles,
    a_school_admin_adds_the_office_staff,
);

const HEAD: [&str; 11] = ["学号", "姓名", "性别", "身份证号", "院系", "专业", "层次", "年级", "班级", "手机号", "邮箱"];

/// A GB 11643 number with the right check character.
fn id_card(birth: u32, seq: u32) -> String {
    let body = format!("620102{birth:08}{:03}", 100 + seq);
    let w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body.bytes().zip(w).map(|(d, w)| u32::from(d - b'0') * w).sum();
    format!("{body}{}", ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'][(sum % 11) as usize])
}

fn student_row(no: &str, name: &str, card: &str, class: &str) -> Vec<String> {
    [no, name, "女", card, "继续教育学院", "小学教育", "本科(专科起点)", "2026", class, "13900000000", ""]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn xlsx(head: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    campuspay_documents::write_xlsx("名单", head, rows).unwrap()
}

async fn token(app: &TestApp, school: &str, login: &str, password: &str) -> String {
    let (s, v) = app.post_json("/api/v1/office/login", json!({"school": school, "login": login, "password": password}), None).await;
    assert_eq!(s, 200, "{v}");
    v["token"].as_str().unwrap().to_string()
}

async fn upload(app: &TestApp, token: &str, kind: &str, name: &str, bytes: Vec<u8>) -> (u16, Value) {
    let form = reqwest::multipart::Form::new()
        .text("kind", kind.to_string())
        .part("file", reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()));
    let res = app.http.post(app.url("/api/v1/office/imports")).bearer_auth(token).multipart(form).send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn students_of(app: &TestApp, school: &str) -> i64 {
    let id = app.store.school_by_code(school).await.unwrap().unwrap().id;
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM students WHERE school_id = $1").bind(id).fetch_one(app.store.pool()).await.unwrap()
}

/// Loads three students of a new class at lut and returns (numbers, class).
async fn three_students(app: &TestApp, fin: &str, class: &str) -> Vec<String> {
    let nos: Vec<String> = (0..3).map(|i| format!("77{}{i}", class.len() * 7 + i)).collect();
    let rows: Vec<Vec<String>> = nos
        .iter()
        .enumerate()
        .map(|(i, no)| student_row(no, &format!("测试{i}"), &id_card(20000101 + i as u32, i as u32 + class.len() as u32), class))
        .collect();
    let (s, p) = upload(app, fin, "students", "roster.xlsx", xlsx(&HEAD, &rows)).await;
    assert_eq!(s, 200, "{p}");
    let (s, c) = app.post_json(&format!("/api/v1/office/imports/{}/commit", p["id"]), json!({}), Some(fin)).await;
    assert_eq!((s, c["created"].as_i64()), (200, Some(3)), "{c}");
    nos
}

async fn item_and_period(app: &TestApp, fin: &str) -> (i64, String) {
    let (_, items) = app.get_json("/api/v1/office/fee-items", Some(fin)).await;
    let (_, periods) = app.get_json("/api/v1/office/periods", Some(fin)).await;
    (items[0]["id"].as_i64().unwrap(), periods[0]["code"].as_str().unwrap().to_string())
}

async fn charge_of(app: &TestApp, fin: &str, no: &str, item_id: i64) -> Value {
    let (s, f) = app.get_json(&format!("/api/v1/office/students/{no}"), Some(fin)).await;
    assert_eq!(s, 200, "{f}");
    let (_, items) = app.get_json("/api/v1/office/fee-items", Some(fin)).await;
    let code = items.as_array().unwrap().iter().find(|i| i["id"] == item_id).unwrap()["code"].clone();
    f["charges"].as_array().unwrap().iter().find(|c| c["item_code"] == code).cloned().unwrap_or(Value::Null)
}

async fn audited(app: &TestApp, school: &str, action: &str) -> usize {
    let auditor = token(app, school, "auditor", "Auditor#2026").await;
    let (_, log) = app.get_json(&format!("/api/v1/office/audit?action={action}"), Some(&auditor)).await;
    log["entries"].as_array().unwrap().len()
}

async fn a_roster_is_previewed_then_committed_once(app: TestApp) {
    let fin = token(&app, "lut", "finance", "Finance#2026").await;
    let before = students_of(&app, "lut").await;
    let good: Vec<Vec<String>> =
        (0..3).map(|i| student_row(&format!("8800{i}"), &format!("新生{i}"), &id_card(19990101 + i, i), "预览班")).collect();
    let mut rows = good.clone();
    let mut bad_card = student_row("880091", "错号", "370202200001011110", "预览班");
    bad_card[3] = "370202200001011110".into();
    rows.push(bad_card);
    rows.push(student_row("88000", "重号", &id_card(19980101, 7), "预览班"));
    let mut bad_grade = student_row("880093", "年级错", &id_card(19970101, 8), "预览班");
    bad_grade[7] = "二〇二六".into();
    rows.push(bad_grade);
    let (s, p) = upload(&app, &fin, "students", "roster.xlsx", xlsx(&HEAD, &rows)).await;
    assert_eq!(s, 200, "{p}");
    assert_eq!((p["status"].as_str(), p["rows"].as_i64(), p["valid"].as_i64()), (Some("preview"), Some(6), Some(3)), "{p}");
    let errors: Vec<(i64, &str)> =
        p["errors"].as_array().unwrap().iter().map(|e| (e["row"].as_i64().unwrap(), e["column"].as_str().unwrap())).collect();
    // Rows as Excel numbers them: the header is row 1.
    assert_eq!(errors, [(5, "身份证号"), (6, "学号"), (7, "年级")], "{p}");
    assert!(p["errors"][1]["message"].as_str().unwrap().contains("第 2 行"), "{p}");
    // A preview writes nothing.
    assert_eq!(students_of(&app, "lut").await, before);
    let url = format!("/api/v1/office/imports/{}/commit", p["id"]);
    // Concurrent double click: one commit writes, the other writes nothing.
    let (a, b) = tokio::join!(app.post_json(&url, json!({}), Some(&fin)), app.post_json(&url, json!({}), Some(&fin)));
    let created: Vec<i64> = [&a, &b]
        .iter()
        .map(|(s, v)| {
            assert_eq!(*s, 200, "{v}");
            v["created"].as_i64().unwrap()
        })
        .collect();
    assert_eq!(created.iter().sum::<i64>(), 3, "{a:?} {b:?}");
    assert_eq!(students_of(&app, "lut").await, before + 3);
    let (_, again) = app.post_json(&url, json!({}), Some(&fin)).await;
    assert_eq!((again["created"].as_i64(), again["already_committed"].as_bool()), (Some(0), Some(true)));
    // The same file uploaded and committed again changes nothing.
    let (_, p2) = upload(&app, &fin, "students", "roster.xlsx", xlsx(&HEAD, &good)).await;
    let (_, c2) = app.post_json(&format!("/api/v1/office/imports/{}/commit", p2["id"]), json!({}), Some(&fin)).await;
    assert_eq!((c2["created"].as_i64(), c2["updated"].as_i64()), (Some(0), Some(0)), "{c2}");
    // A changed class is an update, not a new student.
    let mut moved = good.clone();
    moved[0][8] = "转入班".into();
    let (_, p3) = upload(&app, &fin, "students", "roster.csv", csv(&moved)).await;
    let (_, c3) = app.post_json(&format!("/api/v1/office/imports/{}/commit", p3["id"]), json!({}), Some(&fin)).await;
    assert_eq!((c3["created"].as_i64(), c3["updated"].as_i64()), (Some(0), Some(1)), "{c3}");
    // The imported student logs in with lut's initial rule (last 8 of the ID card).
    let card = &good[1][3];
    let (s, v) = app.login("lut", "88001", &card[card.len() - 8..]).await;
    assert_eq!((s, v["must_change_password"].as_bool()), (200, Some(true)), "{v}");
    assert_eq!(audited(&app, "lut", "import.committed").await, 3);
    // The templates are real workbooks with the columns.
    let res = app.http.get(app.url("/api/v1/office/imports/templates/students")).bearer_auth(&fin).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let t = campuspay_documents::read_table("t.xlsx", &res.bytes().await.unwrap()).unwrap();
    assert_eq!(t.header, HEAD);
}

fn csv(rows: &[Vec<String>]) -> Vec<u8> {
    let mut out = HEAD.join(",");
    for r in rows {
        out.push('\n');
        out.push_str(&r.join(","));
    }
    out.into_bytes()
}

async fn broken_files_are_refused_and_change_nothing(app: TestApp) {
    let fin = token(&app, "lut", "finance", "Finance#2026").await;
    let before = students_of(&app, "lut").await;
    let row = student_row("990001", "坏文件", &id_card(20010101, 1), "坏班");
    // Wrong columns.
    let (s, v) = upload(&app, &fin, "students", "x.xlsx", xlsx(&["学号", "名字"], &[vec!["1".into(), "x".into()]])).await;
    assert_eq!((s, v["error"]["code"].as_str()), (422, Some("missing_columns")), "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("姓名"), "{v}");
    // A formula in a cell.
    let mut f = csv(std::slice::from_ref(&row));
    f.extend_from_slice(b"\n=HYPERLINK(\"http://x\"),a,,,,,,,,,");
    let (s, v) = upload(&app, &fin, "students", "x.csv", f).await;
    assert_eq!((s, v["error"]["code"].as_str()), (422, Some("formula_in_cell")), "{v}");
    // Not a spreadsheet at all; an unknown kind; over 20 MB.
    let (s, v) = upload(&app, &fin, "students", "x.xlsx", b"PK\x03\x04garbage-not-a-zip".to_vec()).await;
    assert_eq!((s, v["error"]["code"].as_str()), (422, Some("unreadable_file")), "{v}");
    let (s, v) = upload(&app, &fin, "teachers", "x.csv", csv(std::slice::from_ref(&row))).await;
    assert_eq!((s, v["error"]["code"].as_str()), (422, Some("invalid_kind")), "{v}");
    // On a connection of its own: the server answers before reading the rest and closes it.
    let form = reqwest::multipart::Form::new()
        .text("kind", "students")
        .part("file", reqwest::multipart::Part::bytes(vec![b'a'; 21 * 1024 * 1024]).file_name("big.csv"));
    let res = reqwest::Client::new().post(app.url("/api/v1/office/imports")).bearer_auth(&fin).multipart(form).send().await;
    // Refused: 413, or the connection closed while the rest was still being sent.
    assert!(res.as_ref().map_or(true, |r| r.status().as_u16() == 413), "a 21 MB file answered {res:?}");
    // Fee standards: negative, fractional-fen and unknown references are row errors.
    let std_head = ["收费项目", "收费期间", "年级", "院系", "专业", "层次", "金额"];
    let (_, items) = app.get_json("/api/v1/office/fee-items", Some(&fin)).await;
    let (_, periods) = app.get_json("/api/v1/office/periods", Some(&fin)).await;
    let (item, period) = (items[0]["name"].as_str().unwrap().to_string(), periods[0]["code"].as_str().unwrap().to_string());
    let cells =
        |i: &str, p: &str, amount: &str| vec![i.to_string(), p.to_string(), "".into(), "".into(), "".into(), "".into(), amount.to_string()];
    let rows =
        [cells(&item, &period, "-5"), cells(&item, &period, "12.345"), cells("无此项目", &period, "100"), cells(&item, "1999秋", "100")];
    let (s, p) = upload(&app, &fin, "fee_standards", "std.xlsx", xlsx(&std_head, &rows)).await;
    assert_eq!((s, p["valid"].as_i64()), (200, Some(0)), "{p}");
    let columns: Vec<&str> = p["errors"].as_array().unwrap().iter().map(|e| e["column"].as_str().unwrap()).collect();
    assert_eq!(columns, ["金额", "金额", "收费项目", "收费期间"], "{p}");
    let (_, c) = app.post_json(&format!("/api/v1/office/imports/{}/commit", p["id"]), json!({}), Some(&fin)).await;
    assert_eq!((c["created"].as_i64(), c["updated"].as_i64()), (Some(0), Some(0)));
    // A cashier may not import; another school's import is not found.
    let cashier = token(&app, "lut", "cashier", "Cashier#2026").await;
    let (s, v) = upload(&app, &cashier, "students", "x.csv", csv(std::slice::from_ref(&row))).await;
    assert_eq!((s, v["error"]["code"].as_str()), (403, Some("forbidden")));
    let other = token(&app, "qdou", "finance", "Finance#2026").await;
    let (s, _) = app.post_json(&format!("/api/v1/office/imports/{}/commit", p["id"]), json!({}), Some(&other)).await;
    assert_eq!(s, 404);
    assert_eq!(students_of(&app, "lut").await, before);
}

async fn standards_price_a_run_and_a_run_is_idempotent_under_concurrency(app: TestApp) {
    let fin = token(&app, "lut", "finance", "Finance#2026").await;
    let nos = three_students(&app, &fin, "定价班").await;
    // One more of a different major in the class, priced by a more specific standard.
    let (s, p) = upload(
        &app,
        &fin,
        "students",
        "r.xlsx",
        xlsx(
            &HEAD,
            &[{
                let mut r = student_row("7799", "音乐生", &id_card(20020202, 9), "定价班");
                r[5] = "音乐教育".into();
                r
            }],
        ),
    )
    .await;
    assert_eq!(s, 200, "{p}");
    app.post_json(&format!("/api/v1/office/imports/{}/commit", p["id"]), json!({}), Some(&fin)).await;
    let (s, v) = app
        .post_json(
            "/api/v1/office/periods",
            json!({"code": "2099春", "name": "2099春季", "academic_year": "2098-2099", "sort": 99}),
            Some(&fin),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (_, item) =
        app.post_json("/api/v1/office/fee-items", json!({"code": "T-RUN", "name": "测试学费", "mandatory": true}), Some(&fin)).await;
    let item_id = item["id"].as_i64().unwrap();
    let std_head = ["收费项目", "收费期间", "年级", "院系", "专业", "层次", "金额"];
    let r = |major: &str, amount: &str| {
        vec!["T-RUN".into(), "2099春".into(), "2026".into(), "".into(), major.to_string(), "".into(), amount.to_string()]
    };
    let (_, p) = upload(&app, &fin, "fee_standards", "std.xlsx", xlsx(&std_head, &[r("", "3,000.50"), r("音乐教育", "4800")])).await;
    assert_eq!(p["valid"].as_i64(), Some(2), "{p}");
    let (_, c) = app.post_json(&format!("/api/v1/office/imports/{}/commit", p["id"]), json!({}), Some(&fin)).await;
    assert_eq!(c["created"].as_i64(), Some(2), "{c}");
    let run = json!({"fee_item": item_id, "period": "2099春", "filter": {"class": "定价班"}});
    let mut dry = run.clone();
    dry["dry_run"] = json!(true);
    let (s, d) = app.post_json("/api/v1/office/charge-runs", dry.clone(), Some(&fin)).await;
    assert_eq!(
        (s, d["students"].as_i64(), d["total_fen"].as_i64(), d["status"].as_str()),
        (200, Some(4), Some(3 * 300_050 + 480_000), Some("preview")),
        "{d}"
    );
    // Two concurrent submissions with one key: one run, answered twice.
    let send = |key: &'static str| {
        let req = app.http.post(app.url("/api/v1/office/charge-runs")).bearer_auth(&fin).header("Idempotency-Key", key).json(&run);
        async move {
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }
    };
    let ((sa, a), (sb, b)) = tokio::join!(send("run-1"), send("run-1"));
    assert_eq!((sa, sb), (200, 200), "{a} {b}");
    assert_eq!(a["id"], b["id"]);
    assert_eq!((a["students"].as_i64(), b["students"].as_i64()), (Some(4), Some(4)));
    assert!(a["replayed"].as_bool().unwrap() != b["replayed"].as_bool().unwrap(), "{a} {b}");
    // Another key, or none: nobody gets the item for the period twice.
    let (_, again) = app.post_json("/api/v1/office/charge-runs", run.clone(), Some(&fin)).await;
    assert_eq!((again["students"].as_i64(), again["already_charged"].as_i64()), (Some(0), Some(4)), "{again}");
    // The same key with another request is refused.
    let mut other = run.clone();
    other["amount_fen"] = json!(100);
    let res = app
        .http
        .post(app.url("/api/v1/office/charge-runs"))
        .bearer_auth(&fin)
        .header("Idempotency-Key", "run-1")
        .json(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 409);
    let c = charge_of(&app, &fin, &nos[0], item_id).await;
    assert_eq!(c["total_fen"].as_i64(), Some(300_050), "{c}");
    assert_eq!(charge_of(&app, &fin, "7799", item_id).await["total_fen"].as_i64(), Some(480_000));
    // A cashier cannot issue charges.
    let cashier = token(&app, "lut", "cashier", "Cashier#2026").await;
    assert_eq!(app.post_json("/api/v1/office/charge-runs", dry, Some(&cashier)).await.0, 403);
    assert_eq!(audited(&app, "lut", "charges.issued").await, 2);
}

/// A second accountant of lut, to approve what the first asks.
async fn second_accountant(app: &TestApp) -> String {
    let (_, once) =
        campuspay_app::office::auth::add_staff(&app.state.ctx, None, "lut", "checker", "复核员", Role::Accountant).await.unwrap();
    let t = token(app, "lut", "checker", &once).await;
    let (s, _) = app.post_json("/api/v1/office/password", json!({"old_password": once, "new_password": "Zq#Verify2026"}), Some(&t)).await;
    assert_eq!(s, 204);
    token(app, "lut", "checker", "Zq#Verify2026").await
}

async fn issue(app: &TestApp, fin: &str, class: &str, amount: i64) -> (Vec<String>, i64) {
    let nos = three_students(app, fin, class).await;
    let (item, period) = item_and_period(app, fin).await;
    let (s, v) = app
        .post_json(
            "/api/v1/office/charge-runs",
            json!({"fee_item": item, "period": period, "amount_fen": amount, "filter": {"class": class}}),
            Some(fin),
        )
        .await;
    assert_eq!((s, v["students"].as_i64()), (200, Some(3)), "{v}");
    (nos, item)
}

async fn a_large_waiver_waits_for_a_second_person(app: TestApp) {
    let fin = token(&app, "lut", "finance", "Finance#2026").await;
    let (nos, item) = issue(&app, &fin, "减免班", 500_000).await;
    let charge = charge_of(&app, &fin, &nos[0], item).await;
    let id = charge["id"].as_i64().unwrap();
    // At or below lut's threshold (¥1,000): in force at once.
    let (s, w) = app
        .post_json(&format!("/api/v1/office/charges/{id}/waivers"), json!({"amount_fen": 100_000, "reason": "困难补助"}), Some(&fin))
        .await;
    assert_eq!((s, w["status"].as_str()), (200, Some("applied")), "{w}");
    assert_eq!(charge_of(&app, &fin, &nos[0], item).await["payable_fen"].as_i64(), Some(400_000));
    // Above it: pending, nothing changes yet.
    let (s, w) = app
        .post_json(&format!("/api/v1/office/charges/{id}/waivers"), json!({"amount_fen": 150_000, "reason": "建档立卡"}), Some(&fin))
        .await;
    assert_eq!((s, w["status"].as_str()), (200, Some("pending")), "{w}");
    assert_eq!(charge_of(&app, &fin, &nos[0], item).await["payable_fen"].as_i64(), Some(400_000));
    let adj = w["id"].as_i64().unwrap();
    let (_, queue) = app.get_json("/api/v1/office/adjustments?pending=true", Some(&fin)).await;
    assert_eq!(queue["adjustments"].as_array().unwrap().len(), 1, "{queue}");
    // Not by the one who asked; not by an auditor.
    let (s, v) = app.post_json(&format!("/api/v1/office/adjustments/{adj}/approve"), json!({}), Some(&fin)).await;
    assert_eq!((s, v["error"]["code"].as_str()), (403, Some("own_request")), "{v}");
    let auditor = token(&app, "lut", "auditor", "Auditor#2026").await;
    assert_eq!(app.post_json(&format!("/api/v1/office/adjustments/{adj}/approve"), json!({}), Some(&auditor)).await.0, 403);
    let checker = second_accountant(&app).await;
    let (s, v) = app.post_json(&format!("/api/v1/office/adjustments/{adj}/approve"), json!({"note": "材料齐全"}), Some(&checker)).await;
    assert_eq!((s, v["status"].as_str()), (200, Some("approved")), "{v}");
    let c = charge_of(&app, &fin, &nos[0], item).await;
    assert_eq!((c["payable_fen"].as_i64(), c["discount_fen"].as_i64()), (Some(250_000), Some(250_000)), "{c}");
    // Decided once.
    let (s, _) = app.post_json(&format!("/api/v1/office/adjustments/{adj}/reject"), json!({}), Some(&checker)).await;
    assert_eq!(s, 409);
    // The ledger explains it: two waiver rows, nothing edited.
    let (_, f) = app.get_json(&format!("/api/v1/office/students/{}", nos[0]), Some(&fin)).await;
    let waived: Vec<i64> =
        f["ledger"].as_array().unwrap().iter().filter(|l| l["kind"] == "waiver").map(|l| l["amount_fen"].as_i64().unwrap()).collect();
    assert_eq!(waived, [100_000, 150_000]);
    // More than is owed, or nothing, is refused.
    let (s, v) =
        app.post_json(&format!("/api/v1/office/charges/{id}/waivers"), json!({"amount_fen": 250_001, "reason": "x"}), Some(&fin)).await;
    assert_eq!((s, v["error"]["code"].as_str()), (422, Some("amount_over_owed")), "{v}");
    let (s, v) =
        app.post_json(&format!("/api/v1/office/charges/{id}/waivers"), json!({"amount_fen": 100, "reason": " "}), Some(&fin)).await;
    assert_eq!((s, v["error"]["code"].as_str()), (422, Some("invalid_reason")), "{v}");
    // A rejected request changes nothing.
    let (_, w) =
        app.post_json(&format!("/api/v1/office/charges/{id}/waivers"), json!({"amount_fen": 200_000, "reason": "再减"}), Some(&fin)).await;
    let (s, v) =
        app.post_json(&format!("/api/v1/office/adjustments/{}/reject", w["id"]), json!({"note": "不符合条件"}), Some(&checker)).await;
    assert_eq!((s, v["status"].as_str()), (200, Some("rejected")), "{v}");
    assert_eq!(charge_of(&app, &fin, &nos[0], item).await["payable_fen"].as_i64(), Some(250_000));
    assert_eq!(audited(&app, "lut", "adjustment.requested").await, 2);
    assert_eq!(audited(&app, "lut", "adjustment.approved").await, 1);
    assert_eq!(audited(&app, "lut", "adjustment.rejected").await, 1);
    assert_eq!(audited(&app, "lut", "charge.waiver").await, 1);
}

async fn deferral_and_cancellation_are_history_not_edits(app: TestApp) {
    let fin = token(&app, "lut", "finance", "Finance#2026").await;
    let (nos, item) = issue(&app, &fin, "缓缴班", 50_000).await;
    let first = charge_of(&app, &fin, &nos[0], item).await["id"].as_i64().unwrap();
    let (s, v) = app
        .post_json(&format!("/api/v1/office/charges/{first}/deferrals"), json!({"until": "2099-12-31", "reason": "绿色通道"}), Some(&fin))
        .await;
    assert_eq!((s, v["status"].as_str(), v["kind"].as_str()), (200, Some("applied"), Some("deferral")), "{v}");
    for bad in ["2020-01-01", "2099-02-30", "明年"] {
        let (s, v) =
            app.post_json(&format!("/api/v1/office/charges/{first}/deferrals"), json!({"until": bad, "reason": "x"}), Some(&fin)).await;
        assert_eq!(s, 422, "{bad}: {v}");
    }
    // The student sees the date.
    let card = app.store.student_by_no(app.store.school_by_code("lut").await.unwrap().unwrap().id, &nos[0]).await.unwrap().unwrap().id_card;
    let (_, l) = app.login("lut", &nos[0], &card[card.len() - 8..]).await;
    let t = l["token"].as_str().unwrap().to_string();
    app.post_json(
        "/api/v1/student/password",
        json!({"old_password": &card[card.len() - 8..], "new_password": "Campus#Pay2026!"}),
        Some(&t),
    )
    .await;
    let (_, l) = app.login("lut", &nos[0], "Campus#Pay2026!").await;
    let (_, charges) = app.get_json("/api/v1/student/charges", l["token"].as_str()).await;
    let mine = charges["charges"].as_array().unwrap().iter().find(|c| c["id"] == first).unwrap();
    assert_eq!(mine["deferred_until"], "2099-12-31", "{mine}");
    // Cancelling a wrongly issued charge: gone from the list, a ledger row explains it.
    let second = charge_of(&app, &fin, &nos[1], item).await["id"].as_i64().unwrap();
    let (s, v) = app.post_json(&format!("/api/v1/office/charges/{second}/cancellation"), json!({"reason": "误开"}), Some(&fin)).await;
    assert_eq!((s, v["status"].as_str(), v["amount_fen"].as_i64()), (200, Some("applied"), Some(50_000)), "{v}");
    assert_eq!(charge_of(&app, &fin, &nos[1], item).await, Value::Null);
    let (s, v) = app.post_json(&format!("/api/v1/office/charges/{second}/cancellation"), json!({"reason": "再撤"}), Some(&fin)).await;
    assert_eq!((s, v["error"]["code"].as_str()), (422, Some("nothing_owed")), "{v}");
    // A charge with money on it is refunded, not cancelled.
    let third = charge_of(&app, &fin, &nos[2], item).await["id"].as_i64().unwrap();
    let cashier = token(&app, "lut", "cashier", "Cashier#2026").await;
    let (s, v) = app
        .post_json(
            "/api/v1/office/offline-payments",
            json!({"student_no": nos[2], "lines": [{"charge_id": third, "amount_fen": 100}], "method": "cash", "reference": "DEF-1"}),
            Some(&cashier),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = app.post_json(&format!("/api/v1/office/charges/{third}/cancellation"), json!({"reason": "误开"}), Some(&fin)).await;
    assert_eq!((s, v["error"]["code"].as_str()), (422, Some("charge_has_payments")), "{v}");
    assert_eq!(audited(&app, "lut", "charge.deferral").await, 1);
    assert_eq!(audited(&app, "lut", "charge.cancelled").await, 1);
    // The database refuses to edit history.
    assert!(sqlx::query("UPDATE adjustments SET amount_fen = 0").execute(app.store.pool()).await.is_err());
    assert!(sqlx::query("DELETE FROM adjustments").execute(app.store.pool()).await.is_err());
}

async fn one_school_never_reaches_another_schools_charges(app: TestApp) {
    let fin = token(&app, "lut", "finance", "Finance#2026").await;
    let (nos, item) = issue(&app, &fin, "隔离班", 20_000).await;
    let id = charge_of(&app, &fin, &nos[0], item).await["id"].as_i64().unwrap();
    let other = token(&app, "qdou", "finance", "Finance#2026").await;
    for (path, body) in [
        ("waivers", json!({"amount_fen": 100, "reason": "x"})),
        ("deferrals", json!({"until": "2099-01-01", "reason": "x"})),
        ("cancellation", json!({"reason": "x"})),
    ] {
        let (s, v) = app.post_json(&format!("/api/v1/office/charges/{id}/{path}"), body, Some(&other)).await;
        assert_eq!((s, v["error"]["code"].as_str()), (404, Some("charge_not_found")), "{path}: {v}");
    }
    // qdou's run with lut's item is refused; its own items are its own.
    let (s, v) = app.post_json("/api/v1/office/charge-runs", json!({"fee_item": item, "period": "x", "dry_run": true}), Some(&other)).await;
    assert_eq!((s, v["error"]["code"].as_str()), (422, Some("unknown_fee_item")), "{v}");
    let (_, lut_items) = app.get_json("/api/v1/office/fee-items", Some(&fin)).await;
    let (_, qdou_items) = app.get_json("/api/v1/office/fee-items", Some(&other)).await;
    let ids = |v: &Value| v.as_array().unwrap().iter().map(|i| i["id"].as_i64().unwrap()).collect::<Vec<_>>();
    assert!(ids(&lut_items).iter().all(|i| !ids(&qdou_items).contains(i)));
    assert_eq!(charge_of(&app, &fin, &nos[0], item).await["payable_fen"].as_i64(), Some(20_000));
}

async fn the_counter_unlocks_an_account_and_corrects_its_contact(app: TestApp) {
    let qdou = app.store.school_by_code("qdou").await.unwrap().unwrap().id;
    let student = app.store.student_by_no(qdou, "20230001").await.unwrap().unwrap();
    let t = campuspay_store::db_now();
    for i in 0..10 {
        sqlx::query("INSERT INTO security_events (school_id, student_id, login, kind, ip, at) VALUES ($1, $2, '20230001', 'login_failed', '10.9.9.9', $3)")
            .bind(qdou)
            .bind(student.id)
            .bind(t - i)
            .execute(app.store.pool())
            .await
            .unwrap();
    }
    let password = app.initial_password_of("qdou", "20230001").await;
    let (s, v) = app.login("qdou", "20230001", &password).await;
    assert_eq!((s, v["error"]["code"].as_str()), (423, Some("account_locked")), "{v}");
    let cashier = token(&app, "qdou", "cashier", "Cashier#2026").await;
    let (s, _) = app.post_json("/api/v1/office/students/20230001/unlock", json!({}), Some(&cashier)).await;
    assert_eq!(s, 204);
    let (s, v) = app.login("qdou", "20230001", &password).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(audited(&app, "qdou", "student.unlocked").await, 1);
    // Contact data: by those who edit students, checked, audited with before and after.
    let (s, _) =
        app.post_json("/api/v1/office/students/20230001/contact", json!({"phone": "13812345678", "email": "a@b.cn"}), Some(&cashier)).await;
    assert_eq!(s, 403, "a cashier does not edit students");
    let fin = token(&app, "qdou", "finance", "Finance#2026").await;
    let (s, v) = app.post_json("/api/v1/office/students/20230001/contact", json!({"phone": "1381234", "email": ""}), Some(&fin)).await;
    assert_eq!((s, v["error"]["code"].as_str()), (422, Some("invalid_phone")), "{v}");
    let (s, _) = app
        .post_json("/api/v1/office/students/20230001/contact", json!({"phone": "13812345678", "email": "new@example.cn"}), Some(&fin))
        .await;
    assert_eq!(s, 204);
    let after = app.store.student_by_no(qdou, "20230001").await.unwrap().unwrap();
    assert_eq!((after.phone.as_str(), after.email.as_str()), ("13812345678", "new@example.cn"));
    let auditor = token(&app, "qdou", "auditor", "Auditor#2026").await;
    let (_, log) = app.get_json("/api/v1/office/audit?action=student.edited", Some(&auditor)).await;
    assert_eq!(log["entries"][0]["detail"]["before"]["phone"], student.phone.as_str(), "{log}");
}

async fn announcements_show_from_publication_until_expiry(app: TestApp) {
    let fin = token(&app, "czie", "finance", "Finance#2026").await;
    let login_page = || async { app.http.get(app.url("/s/czie/")).send().await.unwrap().text().await.unwrap() };
    let (s, now) = app
        .post_json("/api/v1/office/announcements", json!({"title": "新学期缴费通知", "body": "请于9月10日前缴清学费。"}), Some(&fin))
        .await;
    assert_eq!(s, 200, "{now}");
    let (s, later) = app
        .post_json(
            "/api/v1/office/announcements",
            json!({"title": "寒假安排", "body": "寒假期间暂停线下收费。", "publish_at": "2099-01-01 08:00"}),
            Some(&fin),
        )
        .await;
    assert_eq!(s, 200, "{later}");
    let page = login_page().await;
    assert!(page.contains("新学期缴费通知") && !page.contains("寒假安排"), "a scheduled announcement shows early");
    let (_, list) = app.get_json("/api/v1/office/announcements", Some(&fin)).await;
    let states: Vec<&str> = list["announcements"].as_array().unwrap().iter().map(|a| a["state"].as_str().unwrap()).collect();
    assert!(states.contains(&"scheduled") && states.contains(&"showing"), "{list}");
    let (s, v) = app
        .post_json(
            "/api/v1/office/announcements",
            json!({"title": "x", "body": "y", "publish_at": "2099-01-02 08:00", "expire_at": "2099-01-01 08:00"}),
            Some(&fin),
        )
        .await;
    assert_eq!((s, v["error"]["code"].as_str()), (422, Some("expires_before_published")), "{v}");
    let (s, _) = app.post_json(&format!("/api/v1/office/announcements/{}/expire", now["id"]), json!({}), Some(&fin)).await;
    assert_eq!(s, 204);
    assert!(!login_page().await.contains("新学期缴费通知"), "an expired announcement still shows");
    // Another school's staff cannot touch it; a cashier cannot write one.
    let other = token(&app, "lut", "finance", "Finance#2026").await;
    let (s, _) =
        app.post_json(&format!("/api/v1/office/announcements/{}", later["id"]), json!({"title": "改", "body": "改"}), Some(&other)).await;
    assert_eq!(s, 404);
    let cashier = token(&app, "czie", "cashier", "Cashier#2026").await;
    assert_eq!(app.post_json("/api/v1/office/announcements", json!({"title": "x", "body": "y"}), Some(&cashier)).await.0, 403);
    assert_eq!(audited(&app, "czie", "announcement.saved").await, 3);
}

async fn the_audit_log_exports_as_real_files(app: TestApp) {
    // Something to export: a few logins and a password reset at ejt.
    let fin = token(&app, "ejt", "finance", "Finance#2026").await;
    let (s, _) = app.post_json("/api/v1/office/students/20230001/reset-password", json!({}), Some(&fin)).await;
    assert_eq!(s, 204);
    let auditor = token(&app, "ejt", "auditor", "Auditor#2026").await;
    let get = |q: &'static str, t: String| {
        let req = app.http.get(app.url(&format!("/api/v1/office/audit/export{q}"))).bearer_auth(t);
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let kind = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
            (status, kind, res.bytes().await.unwrap().to_vec())
        }
    };
    let (s, kind, xlsx) = get("", auditor.clone()).await;
    assert_eq!(s, 200);
    assert!(kind.contains("spreadsheetml"), "{kind}");
    let t = campuspay_documents::read_table("audit.xlsx", &xlsx).unwrap();
    assert_eq!(t.header[2], "操作人");
    let actions: Vec<&str> = t.rows.iter().map(|(_, r)| r[4].as_str()).collect();
    assert!(actions.contains(&"student.password_reset") && actions.contains(&"staff.login"), "{actions:?}");
    let reset = t.rows.iter().find(|(_, r)| r[4] == "student.password_reset").unwrap();
    assert_eq!((reset.1[2].as_str(), reset.1[3].as_str(), reset.1[5].as_str()), ("finance", "accountant", "student:20230001"));
    let (s, kind, csv) = get("?format=csv&action=student.password_reset", auditor.clone()).await;
    assert_eq!(s, 200);
    assert!(kind.starts_with("text/csv"), "{kind}");
    let t = campuspay_documents::read_table("audit.csv", &csv).unwrap();
    assert_eq!(t.rows.len(), 1, "{t:?}");
    // Only the auditor's permission exports; the export is itself on the record.
    assert_eq!(get("", fin).await.0, 403);
    assert_eq!(get("?format=pdf", auditor).await.0, 422);
    assert_eq!(audited(&app, "ejt", "audit.exported").await, 2);
}

/// `demo/`'s roster and standards, as the README tells a newcomer to try them.
async fn the_demo_files_load_a_new_term(app: TestApp) {
    let fin = token(&app, "lut", "finance", "Finance#2026").await;
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../demo");
    let roster = std::fs::read(demo.join("lut-roster-2026.xlsx")).unwrap();
    let (s, p) = upload(&app, &fin, "students", "lut-roster-2026.xlsx", roster).await;
    assert_eq!((s, p["valid"].as_i64(), p["errors"].as_array().map(Vec::len)), (200, Some(2000), Some(0)), "{p}");
    let (_, c) = app.post_json(&format!("/api/v1/office/imports/{}/commit", p["id"]), json!({}), Some(&fin)).await;
    assert_eq!(c["created"].as_i64(), Some(2000), "{c}");
    let standards = std::fs::read(demo.join("lut-fee-standards-2025-2026.xlsx")).unwrap();
    let (s, p) = upload(&app, &fin, "fee_standards", "standards.xlsx", standards).await;
    assert_eq!((s, p["valid"].as_i64(), p["errors"].as_array().map(Vec::len)), (200, Some(7), Some(0)), "{p}");
    app.post_json(&format!("/api/v1/office/imports/{}/commit", p["id"]), json!({}), Some(&fin)).await;
    let (_, items) = app.get_json("/api/v1/office/fee-items", Some(&fin)).await;
    let tuition = items.as_array().unwrap().iter().find(|i| i["code"] == "XF").unwrap()["id"].as_i64().unwrap();
    let (s, run) = app
        .post_json(
            "/api/v1/office/charge-runs",
            json!({"fee_item": tuition, "period": "2025-2026", "filter": {"grade": "2026"}}),
            Some(&fin),
        )
        .await;
    // Six majors in turn: two at ¥3,200, two at ¥3,600, two at ¥2,800 (by major and level).
    let expected = (0..2000).map(|i| [320_000, 320_000, 360_000, 360_000, 280_000, 280_000][i % 6]).sum::<i64>();
    assert_eq!((s, run["students"].as_i64(), run["total_fen"].as_i64()), (200, Some(2000), Some(expected)), "{run}");
}

async fn the_platform_creates_a_school_and_its_admin_keeps_the_policy(app: TestApp) {
    let lut_admin = token(&app, "lut", "admin", "Admin#2026").await;
    let (s, lut) = app.get_json("/api/v1/office/school/policy", Some(&lut_admin)).await;
    assert_eq!(s, 200, "{lut}");
    // Every demo policy passes the checks a new one must pass: saved unchanged, nothing audited.
    assert_eq!(app.post_json("/api/v1/office/school/policy", lut["policy"].clone(), Some(&lut_admin)).await.0, 204);
    assert_eq!(audited(&app, "lut", "school.policy").await, 0);
    let platform = token(&app, "platform", "platform", "Platform#2026").await;
    let mut policy = lut["policy"].clone();
    policy["payee"] = json!("新校区大学");
    policy["channels"] = json!(["alipay_qr", "bitcoin"]);
    let body = json!({"code": "newu", "name": "新校区大学", "region": "甘肃省", "policy": policy, "admin_login": "root"});
    let (s, v) = app.post_json("/api/v1/office/schools", body.clone(), Some(&platform)).await;
    assert_eq!((s, v["error"]["code"].as_str(), v["error"]["field"].as_str()), (422, Some("invalid_policy"), Some("channels")), "{v}");
    assert!(app.store.school_by_code("newu").await.unwrap().is_none(), "a refused school was saved");
    let mut good = body.clone();
    good["policy"]["channels"] = json!(["alipay_qr"]);
    let (s, created) = app.post_json("/api/v1/office/schools", good.clone(), Some(&platform)).await;
    assert_eq!(s, 200, "{created}");
    assert_eq!(app.post_json("/api/v1/office/schools", good, Some(&platform)).await.0, 409);
    // Its admin logs in with the one-time password, changes it, and keeps the policy.
    let once = created["admin_one_time_password"].as_str().unwrap();
    let t = token(&app, "newu", "root", once).await;
    assert_eq!(
        app.post_json("/api/v1/office/password", json!({"old_password": once, "new_password": "Newu#Admin2026"}), Some(&t)).await.0,
        204
    );
    let admin = token(&app, "newu", "root", "Newu#Admin2026").await;
    let (_, mine) = app.get_json("/api/v1/office/school/policy", Some(&admin)).await;
    assert_eq!(mine["code"], "newu");
    let mut changed = mine["policy"].clone();
    changed["approval_threshold_fen"] = json!(50_000);
    changed["order_ttl_minutes"] = json!(0);
    let (s, v) = app.post_json("/api/v1/office/school/policy", changed.clone(), Some(&admin)).await;
    assert_eq!((s, v["error"]["details"]["problems"][0]["field"].as_str()), (422, Some("order_ttl_minutes")), "{v}");
    changed["order_ttl_minutes"] = json!(60);
    assert_eq!(app.post_json("/api/v1/office/school/policy", changed, Some(&admin)).await.0, 204);
    let saved = app.store.school_by_code("newu").await.unwrap().unwrap().policy;
    assert_eq!((saved.approval_threshold_fen, saved.order_ttl_minutes), (50_000, 60));
    // The school's login page is there; its staff are its own; the platform's log has the creation.
    assert_eq!(app.http.get(app.url("/s/newu/")).send().await.unwrap().status().as_u16(), 200);
    let lut_fin = token(&app, "lut", "finance", "Finance#2026").await;
    assert_eq!(app.get_json("/api/v1/office/school/policy", Some(&lut_fin)).await.0, 403);
    assert_eq!(app.get_json("/api/v1/office/schools", Some(&lut_admin)).await.0, 403);
    let auditor = token(&app, "newu", "root", "Newu#Admin2026").await;
    let (_, log) = app.get_json("/api/v1/office/audit?action=school.policy", Some(&auditor)).await;
    assert_eq!(log["entries"].as_array().unwrap().len(), 1, "{log}");
}

async fn a_school_can_require_a_second_factor_for_money_roles(app: TestApp) {
    use campuspay_app::office::totp;
    let admin = token(&app, "czie", "admin", "Admin#2026").await;
    let (_, mine) = app.get_json("/api/v1/office/school/policy", Some(&admin)).await;
    let mut policy = mine["policy"].clone();
    policy["staff_totp_required"] = json!(true);
    assert_eq!(app.post_json("/api/v1/office/school/policy", policy, Some(&admin)).await.0, 204);
    // The cashier moves money: logged in, but nothing opens until the second factor is set up.
    let (s, v) =
        app.post_json("/api/v1/office/login", json!({"school": "czie", "login": "cashier", "password": "Cashier#2026"}), None).await;
    assert_eq!((s, v["must_enrol_totp"].as_bool()), (200, Some(true)), "{v}");
    let t = v["token"].as_str().unwrap().to_string();
    let (s, v) = app.get_json("/api/v1/office/students/20230001", Some(&t)).await;
    assert_eq!((s, v["error"]["code"].as_str()), (403, Some("totp_enrolment_required")), "{v}");
    // The auditor moves no money: not asked.
    let (_, v) =
        app.post_json("/api/v1/office/login", json!({"school": "czie", "login": "auditor", "password": "Auditor#2026"}), None).await;
    assert_eq!(v["must_enrol_totp"], false);
    let (s, setup) = app.post_json("/api/v1/office/totp/setup", json!({}), Some(&t)).await;
    assert_eq!(s, 200, "{setup}");
    assert!(setup["uri"].as_str().unwrap().starts_with("otpauth://totp/campuspay:czie%2Fcashier?secret="), "{setup}");
    let secret = totp::unbase32(setup["secret"].as_str().unwrap()).unwrap();
    let step = app.state.ctx.clock.now() / totp::STEP_S;
    let code = |s: i64| totp::hotp(&secret, s as u64, 6);
    let (s, _) = app.post_json("/api/v1/office/totp/confirm", json!({"code": "000000"}), Some(&t)).await;
    assert_eq!(s, 401);
    assert_eq!(app.post_json("/api/v1/office/totp/confirm", json!({"code": code(step)}), Some(&t)).await.0, 204);
    assert_eq!(app.get_json("/api/v1/office/students/20230001", Some(&t)).await.0, 200);
    // From now on a login needs a code: missing, wrong, the one already used — refused.
    let login = |totp: Option<String>| {
        app.post_json("/api/v1/office/login", json!({"school": "czie", "login": "cashier", "password": "Cashier#2026", "totp": totp}), None)
    };
    assert_eq!(login(None).await.1["error"]["code"], "totp_required");
    assert_eq!(login(Some("123456".into())).await.1["error"]["code"], "totp_invalid");
    assert_eq!(login(Some(code(step))).await.1["error"]["code"], "totp_invalid", "a used code logged in again");
    let (s, v) = login(Some(code(step + 1))).await;
    assert_eq!((s, v["must_enrol_totp"].as_bool()), (200, Some(false)), "{v}");
    assert_eq!(login(Some(code(step + 1))).await.0, 401, "a replayed code logged in");
    assert_eq!(audited(&app, "czie", "staff.totp_enabled").await, 1);
}

async fn a_school_admin_adds_the_office_staff(app: TestApp) {
    let admin = token(&app, "ejt", "admin", "Admin#2026").await;
    let (s, v) = app.post_json("/api/v1/office/staff", json!({"login": "wang", "name": "王老师", "role": "cashier"}), Some(&admin)).await;
    assert_eq!(s, 200, "{v}");
    let (s, l) =
        app.post_json("/api/v1/office/login", json!({"school": "ejt", "login": "wang", "password": v["one_time_password"]}), None).await;
    assert_eq!((s, l["must_change_password"].as_bool(), l["role"].as_str()), (200, Some(true), Some("cashier")), "{l}");
    for (body, code) in [
        (json!({"login": "wang", "name": "重复", "role": "cashier"}), "login_taken"),
        (json!({"login": "boss", "name": "x", "role": "platform_admin"}), "forbidden"),
        (json!({"login": "x", "name": "x", "role": "janitor"}), "invalid_role"),
    ] {
        let (_, v) = app.post_json("/api/v1/office/staff", body, Some(&admin)).await;
        assert_eq!(v["error"]["code"], code, "{v}");
    }
    let (_, list) = app.get_json("/api/v1/office/staff", Some(&admin)).await;
    let logins: Vec<&str> = list["staff"].as_array().unwrap().iter().map(|m| m["login"].as_str().unwrap()).collect();
    assert!(logins.contains(&"wang") && logins.contains(&"finance") && logins.len() == 5, "{list}");
    // Only the school's own: another school's admin does not see them.
    let other = token(&app, "lut", "admin", "Admin#2026").await;
    let (_, theirs) = app.get_json("/api/v1/office/staff", Some(&other)).await;
    assert!(!theirs.to_string().contains("王老师"));
    assert_eq!(audited(&app, "ejt", "staff.added").await, 1);
}
