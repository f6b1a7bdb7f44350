//! The finance office's pages over real HTTP, on SQLite and on PostgreSQL: the login cookie,
//! CSRF on every form, permission refusals as 403 pages, the student search API and the
//! dashboard's figures.

use crate::common::TestApp;
use serde_json::{Value, json};

on_both_databases!(
    the_login_page_sets_a_strict_http_only_cookie,
    page_forms_without_the_right_csrf_token_change_nothing,
    an_auditor_gets_403_on_the_counters_payment_form,
    the_search_api_finds_by_number_name_and_card_tail_in_its_own_school_only,
    todays_collection_grows_by_exactly_an_offline_payment,
);

struct Page {
    status: u16,
    body: String,
    location: String,
    set_cookie: String,
}

async fn get(app: &TestApp, cookie: &str, path: &str) -> Page {
    let res = app.http.get(app.url(path)).header("cookie", cookie).send().await.unwrap();
    page_of(res).await
}

async fn post(app: &TestApp, cookie: &str, path: &str, form: &[(&str, &str)]) -> Page {
    let res = app.http.post(app.url(path)).header("cookie", cookie).form(form).send().await.unwrap();
    page_of(res).await
}

async fn page_of(res: reqwest::Response) -> Page {
    let status = res.status().as_u16();
    let header = |name: &str| res.headers().get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let (location, set_cookie) = (header("location"), header("set-cookie"));
    Page { status, body: res.text().await.unwrap(), location, set_cookie }
}

/// Logs in through the login form; returns the office cookie as a `Cookie` header.
async fn page_login(app: &TestApp, school: &str, login: &str, password: &str) -> String {
    let p = post(app, "", "/office/login", &[("school", school), ("login", login), ("password", password)]).await;
    assert_eq!((p.status, p.location.as_str()), (303, "/office/"), "{}", p.body);
    p.set_cookie.split(';').next().unwrap().to_string()
}

fn csrf_of(html: &str) -> String {
    html.split("name=\"csrf\" value=\"").nth(1).expect("a csrf field").split('"').next().unwrap().to_string()
}

/// The id and amount owed of the student's owed charge of `item`, from the office API.
async fn owed_charge(app: &TestApp, cookie: &str, no: &str, item: &str) -> (i64, i64) {
    let res = app.http.get(app.url(&format!("/api/v1/office/students/{no}"))).header("cookie", cookie).send().await.unwrap();
    let f: Value = res.json().await.unwrap();
    let c = f["charges"].as_array().unwrap().iter().find(|c| c["item"] == item && c["arrears_fen"].as_i64().unwrap() > 0).unwrap();
    (c["id"].as_i64().unwrap(), c["arrears_fen"].as_i64().unwrap())
}

async fn offline_rows(app: &TestApp) -> i64 {
    sqlx::query_scalar::<_, i64>("SELECT CAST(COUNT(*) AS BIGINT) FROM ledger_entries WHERE kind = 'offline_payment'")
        .fetch_one(app.store.pool())
        .await
        .unwrap()
}

async fn the_login_page_sets_a_strict_http_only_cookie(app: TestApp) {
    let login = get(&app, "", "/office/login").await;
    assert_eq!(login.status, 200);
    assert!(login.body.contains("财务人员登录") && login.body.contains("name=\"school\""), "{}", login.body);
    let wrong = post(&app, "", "/office/login", &[("school", "lut"), ("login", "cashier"), ("password", "nope")]).await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("账号或密码有误") && wrong.body.contains("value=\"cashier\""), "the error next to the form");
    assert!(wrong.set_cookie.is_empty());

    let p = post(&app, "", "/office/login", &[("school", "lut"), ("login", "cashier"), ("password", "Cashier#2026")]).await;
    assert_eq!((p.status, p.location.as_str()), (303, "/office/"));
    let c = &p.set_cookie;
    assert!(c.starts_with("campuspay_office=") && c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Path=/"), "{c}");
    assert!(!c.contains("Secure"), "plain HTTP here; Secure only with --https");
    let cookie = c.split(';').next().unwrap();
    let home = get(&app, cookie, "/office/").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("<title>收费员工作台 - 兰州理工大学"), "{}", home.body);
    // The cashier's navigation has no entries the role cannot use.
    assert!(home.body.contains("学生查询") && !home.body.contains("/office/charge-runs\"") && !home.body.contains("/office/audit\""));
    // Without the cookie, the pages send to the login.
    let anon = get(&app, "", "/office/students").await;
    assert_eq!((anon.status, anon.location.as_str()), (303, "/office/login"));
    // Logging out ends the session and clears the cookie.
    let out = post(&app, cookie, "/office/logout", &[("csrf", &csrf_of(&home.body))]).await;
    assert_eq!(out.status, 303);
    assert!(out.set_cookie.contains("Max-Age=0"));
    let after = get(&app, cookie, "/office/").await;
    assert_eq!((after.status, after.location.as_str()), (303, "/office/login?expired=1"));
}

async fn page_forms_without_the_right_csrf_token_change_nothing(app: TestApp) {
    let cookie = page_login(&app, "lut", "cashier", "Cashier#2026").await;
    let counter = get(&app, &cookie, "/office/students/20230001").await;
    assert_eq!(counter.status, 200);
    let csrf = csrf_of(&counter.body);
    let (charge, owed) = owed_charge(&app, &cookie, "20230001", "考试费").await;
    let (id, amount) = (charge.to_string(), format!("{}.{:02}", owed / 100, owed % 100));
    let amount_field = format!("amount_{id}");
    let before = offline_rows(&app).await;
    let without = [("charge", id.as_str()), (amount_field.as_str(), amount.as_str()), ("method", "cash"), ("reference", "SJ-1")];
    let forged = [
        ("csrf", "forged-token"),
        ("charge", id.as_str()),
        (amount_field.as_str(), amount.as_str()),
        ("method", "cash"),
        ("reference", "SJ-1"),
    ];
    for form in [&without[..], &forged[..]] {
        let p = post(&app, &cookie, "/office/students/20230001/payments", form).await;
        assert_eq!(p.status, 403, "{form:?}: {}", p.body);
        assert!(p.body.contains("页面已过期"), "{}", p.body);
    }
    assert_eq!(offline_rows(&app).await, before, "a refused form wrote nothing");
    // The other forms check it too: reset, logout.
    assert_eq!(post(&app, &cookie, "/office/students/20230001/reset-password", &[("csrf", "x")]).await.status, 403);
    assert_eq!(post(&app, &cookie, "/office/logout", &[]).await.status, 403);
    assert_eq!(get(&app, &cookie, "/office/").await.status, 200, "the session survived the forged logout");
    // A cross-site post is refused before any handler (app::guard_forms).
    let res = app
        .http
        .post(app.url("/office/students/20230001/payments"))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "cross-site")
        .form(&[
            ("csrf", csrf.as_str()),
            ("charge", id.as_str()),
            (amount_field.as_str(), amount.as_str()),
            ("method", "cash"),
            ("reference", "SJ-1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    assert_eq!(offline_rows(&app).await, before);
    // With the session's token the same form is recorded, and comes back by redirect.
    let ok = [
        ("csrf", csrf.as_str()),
        ("charge", id.as_str()),
        (amount_field.as_str(), amount.as_str()),
        ("method", "cash"),
        ("reference", "SJ-1"),
    ];
    let p = post(&app, &cookie, "/office/students/20230001/payments", &ok).await;
    assert_eq!((p.status, p.location.as_str()), (303, "/office/students/20230001?done=offline"), "{}", p.body);
    assert_eq!(offline_rows(&app).await, before + 1);
    let shown = get(&app, &cookie, &p.location).await.body;
    assert!(shown.contains("已登记线下收款"), "{shown}");
    // A typed amount with three decimals is refused next to the form, nothing recorded.
    let (other, _) = owed_charge(&app, &cookie, "20230001", "学费（2024级）").await;
    let other = other.to_string();
    let field = format!("amount_{other}");
    let bad = [("csrf", csrf.as_str()), ("charge", other.as_str()), (field.as_str(), "10.001"), ("method", "cash"), ("reference", "SJ-2")];
    let p = post(&app, &cookie, "/office/students/20230001/payments", &bad).await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("最多两位小数") && p.body.contains("value=\"10.001\""), "{}", p.body);
    assert_eq!(offline_rows(&app).await, before + 1);
}

async fn an_auditor_gets_403_on_the_counters_payment_form(app: TestApp) {
    let cookie = page_login(&app, "lut", "auditor", "Auditor#2026").await;
    let counter = get(&app, &cookie, "/office/students/20230001").await;
    assert_eq!(counter.status, 200, "an auditor reads the counter");
    assert!(!counter.body.contains("登记线下收款"), "but is shown no payment form");
    let csrf = csrf_of(&counter.body);
    let (charge, _) = owed_charge(&app, &cookie, "20230001", "考试费").await;
    let (id, field) = (charge.to_string(), format!("amount_{charge}"));
    let before = offline_rows(&app).await;
    let form = [("csrf", csrf.as_str()), ("charge", id.as_str()), (field.as_str(), "150"), ("method", "cash"), ("reference", "AUD-1")];
    let p = post(&app, &cookie, "/office/students/20230001/payments", &form).await;
    assert_eq!(p.status, 403);
    assert!(p.body.contains("没有权限") && p.body.contains("您的角色（审计）没有“线下收费”权限"), "{}", p.body);
    assert_eq!(offline_rows(&app).await, before);
    // The pages of other roles are 403 pages too, and the navigation does not offer them.
    let runs = get(&app, &cookie, "/office/charge-runs").await;
    assert!(!runs.body.contains("href=\"/office/charge-runs\""));
    let preview =
        post(&app, &cookie, "/office/charge-runs/preview", &[("csrf", csrf.as_str()), ("fee_item", "1"), ("period", "2024-2025")]).await;
    assert_eq!(preview.status, 403);
    assert_eq!(get(&app, &cookie, "/office/imports").await.status, 403);
    assert_eq!(get(&app, &cookie, "/office/audit").await.status, 200);
}

async fn the_search_api_finds_by_number_name_and_card_tail_in_its_own_school_only(app: TestApp) {
    // A student only qdou has.
    let qdou = app.store.school_by_code("qdou").await.unwrap().unwrap().id;
    let mut tx = app.store.write_tx().await.unwrap();
    let new = campuspay_store::students::NewStudent {
        school_id: qdou,
        student_no: "Q2024_77",
        name: "欧阳%娜",
        gender: "女",
        id_card: "110101200501011237",
        phone: "",
        email: "",
        department: "会计学院",
        major: "会计",
        level: "本科",
        class_name: "2024级会计2班",
        enrol_year: 2024,
    };
    app.store.insert_student(&mut tx, &new).await.unwrap();
    tx.commit().await.unwrap();

    let lut = app.post_json("/api/v1/office/login", json!({"school": "lut", "login": "cashier", "password": "Cashier#2026"}), None).await.1;
    let qd = app.post_json("/api/v1/office/login", json!({"school": "qdou", "login": "cashier", "password": "Cashier#2026"}), None).await.1;
    let find = |token: Value, q: &str| {
        let (app, q) = (&app, q.to_string());
        async move {
            let url = format!("/api/v1/office/students?q={}", crate::office_pages::encode(&q));
            let (s, v) = app.get_json(&url, token.as_str()).await;
            assert_eq!(s, 200, "{v}");
            v
        }
    };
    let nos =
        |v: &Value| v["students"].as_array().unwrap().iter().map(|s| s["student_no"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    let by_number = find(lut["token"].clone(), "20230001").await;
    assert_eq!((nos(&by_number), by_number["total"].as_i64()), (vec!["20230001".to_string()], Some(1)));
    assert_eq!(by_number["students"][0]["id_card"], "3702**********111X", "masked in lists");
    assert_eq!(nos(&find(lut["token"].clone(), "2023").await), ["20230001", "20230002", "20230003"], "a number's beginning");
    assert_eq!(nos(&find(lut["token"].clone(), "晓明").await), ["20230001"], "part of the name");
    assert_eq!(nos(&find(lut["token"].clone(), "0101111x").await), ["20230001"], "the card's tail, any case");
    assert_eq!(nos(&find(lut["token"].clone(), "37020220000101111X").await), ["20230001"], "the whole card");
    assert!(nos(&find(lut["token"].clone(), "10111").await).is_empty(), "five characters are no tail");
    // Another school's student is never found, by any of its keys.
    for q in ["Q2024_77", "欧阳", "011237", "110101200501011237"] {
        assert_eq!(find(lut["token"].clone(), q).await["total"], 0, "lut found qdou's student by {q}");
        assert_eq!(nos(&find(qd["token"].clone(), q).await), ["Q2024_77"], "qdou finds its own by {q}");
    }
    // Wildcards are literal: `%` and `_` match themselves only.
    assert_eq!(nos(&find(qd["token"].clone(), "%").await), ["Q2024_77"], "the one name with a %");
    assert_eq!(find(lut["token"].clone(), "%").await["total"], 0);
    assert_eq!(find(lut["token"].clone(), "2023000_").await["total"], 0, "_ is no single-character wildcard");
    assert_eq!(nos(&find(qd["token"].clone(), "Q2024_").await), ["Q2024_77"]);
    assert_eq!(find(lut["token"].clone(), "").await["total"], 0, "an empty query lists nobody");
    // Only school staff search: the platform's operator is refused.
    let platform = app
        .post_json("/api/v1/office/login", json!({"school": "platform", "login": "platform", "password": "Platform#2026"}), None)
        .await
        .1;
    assert_eq!(app.get_json("/api/v1/office/students?q=2023", platform["token"].as_str()).await.0, 403);
}

/// Percent-encodes a query value.
pub fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'.' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `¥1,234.56` in the dashboard's `#today` tile, as fen.
fn today_fen(html: &str) -> i64 {
    let tile = html.split("id=\"today\"").nth(1).expect("the today tile");
    let big = tile.split("class=\"big num-left\">").nth(1).unwrap().split('<').next().unwrap();
    big.chars().filter(char::is_ascii_digit).collect::<String>().parse().unwrap()
}

async fn todays_collection_grows_by_exactly_an_offline_payment(app: TestApp) {
    let cookie = page_login(&app, "lut", "cashier", "Cashier#2026").await;
    let before = get(&app, &cookie, "/office/").await.body;
    let staff = {
        let token = cookie.split_once('=').unwrap().1;
        campuspay_app::office::auth::resolve(&app.state.ctx, token).await.unwrap().0
    };
    let summary_before = campuspay_app::office::dashboard::summary(&app.state.ctx, &staff).await.unwrap();
    assert_eq!(today_fen(&before), summary_before.today.0);
    // The seed's money was entered today too; lut's latest period is 2024-2025.
    let period = summary_before.latest_period.clone().unwrap();
    assert_eq!(period.code, "2024-2025");
    let (charge, owed) = owed_charge(&app, &cookie, "20230001", "考试费").await;
    let body =
        json!({"student_no": "20230001", "lines": [{"charge_id": charge, "amount_fen": owed - 1}], "method": "pos", "reference": "POS-9"});
    let res = app.http.post(app.url("/api/v1/office/offline-payments")).header("cookie", &cookie).json(&body).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let after = campuspay_app::office::dashboard::summary(&app.state.ctx, &staff).await.unwrap();
    assert_eq!(after.today.0 - summary_before.today.0, owed - 1, "exactly that much more today");
    assert_eq!(after.today_entries, summary_before.today_entries + 1);
    let p = after.latest_period.unwrap();
    assert_eq!((p.paid.0 - period.paid.0, p.due, p.charges), (owed - 1, period.due, period.charges));
    assert_eq!(after.collected_basis_points, Some(p.paid.0 * 10_000 / p.due.0));
    let shown = get(&app, &cookie, "/office/").await.body;
    assert_eq!(today_fen(&shown), after.today.0);
    assert!(shown.contains(&after.today.to_string()), "shown as ¥1,234.56");
    // Another school's dashboard did not move.
    let qdou = page_login(&app, "qdou", "cashier", "Cashier#2026").await;
    let qdou_staff = campuspay_app::office::auth::resolve(&app.state.ctx, qdou.split_once('=').unwrap().1).await.unwrap().0;
    let q = campuspay_app::office::dashboard::summary(&app.state.ctx, &qdou_staff).await.unwrap();
    assert_eq!(today_fen(&get(&app, &qdou, "/office/").await.body), q.today.0);
    assert_ne!(q.today, after.today);
}
