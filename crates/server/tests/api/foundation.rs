//! The foundation journey over real HTTP, on SQLite and on PostgreSQL: five schools, their
//! login rules, forced changes, throttling, isolation between schools, arrears, bad input.

use crate::common;

use common::{NEW_PASSWORD, SCHOOLS, TestApp, initial_password};
use serde_json::{Value, json};

on_both_databases!(
    every_school_logs_in_by_its_own_rules,
    captcha_is_single_use_and_checked,
    forced_change_comes_before_anything_else,
    throttling_demands_a_captcha_then_locks_then_releases,
    arrears_are_the_sum_of_payable_minus_paid,
    one_school_never_sees_another,
    bad_input_gets_a_clear_error_and_changes_nothing,
    password_change_ends_other_sessions,
    pages_log_in_and_show_arrears,
    the_ledger_is_append_only,
);

async fn every_school_logs_in_by_its_own_rules(app: TestApp) {
    let (_, schools) = app.get_json("/api/v1/schools", None).await;
    let codes: Vec<&str> = schools["schools"].as_array().unwrap().iter().map(|s| s["code"].as_str().unwrap()).collect();
    for s in SCHOOLS {
        assert!(codes.contains(&s), "{s} missing from {codes:?}");
    }
    for school in SCHOOLS {
        let (status, v) = app.login(school, "20230001", initial_password(school)).await;
        assert_eq!(status, 200, "{school}: {v}");
        // qdou (seed 000) does not force a change; the others do.
        assert_eq!(v["must_change_password"], school != "qdou", "{school}");
    }
    // Seed 000: the phone number logs in too.
    let (_, me) = app.get_json("/api/v1/student/me", Some(&app.session("qdou", "20230001").await)).await;
    assert!(me["phone"].as_str().unwrap().contains("****"), "phone is masked: {me}");
    assert_eq!(me["id_card"], "3702**********111X");
    let phone =
        app.store.student_by_no(app.store.school_by_code("qdou").await.unwrap().unwrap().id, "20230001").await.unwrap().unwrap().phone;
    let (status, _) = app.login("qdou", &phone, "01111X").await;
    assert_eq!(status, 200, "login by phone at qdou");
    // ...but not where the school logs in by student number only.
    let lut = app.store.school_by_code("lut").await.unwrap().unwrap();
    let lut_phone = app.store.student_by_no(lut.id, "20230001").await.unwrap().unwrap().phone;
    let (status, v) = app.login("lut", &lut_phone, "0101111X").await;
    assert_eq!(status, 401, "{v}");
    // lut (seed 004): a lower-case x is not the initial password's upper-cased X.
    let (status, _) = app.login("lut", "20230002", "x").await;
    assert_eq!(status, 401);
}

async fn captcha_is_single_use_and_checked(app: TestApp) {
    let body = json!({"school": "ejt", "login": "20230001", "password": "123456"});
    let (status, v) = app.post_json("/api/v1/student/login", body.clone(), None).await;
    assert_eq!((status, v["error"]["code"].as_str()), (401, Some("captcha_required")), "{v}");
    let (id, answer) = app.solved_captcha().await;
    let mut wrong = body.clone();
    wrong["captcha_id"] = id.clone().into();
    wrong["captcha"] = "zzzz".into();
    let (status, v) = app.post_json("/api/v1/student/login", wrong, None).await;
    assert_eq!(status, 401);
    assert_eq!(v["error"]["message"], "验证码错误");
    // The captcha was used up by the wrong answer: the right one no longer works.
    let mut reused = body.clone();
    reused["captcha_id"] = id.into();
    reused["captcha"] = answer.into();
    let (status, v) = app.post_json("/api/v1/student/login", reused, None).await;
    assert_eq!((status, v["error"]["code"].as_str()), (401, Some("captcha_invalid")));
    // Upper case is accepted: the image is read by people.
    let (id, answer) = app.solved_captcha().await;
    let mut ok = body;
    ok["captcha_id"] = id.into();
    ok["captcha"] = answer.to_uppercase().into();
    let (status, v) = app.post_json("/api/v1/student/login", ok, None).await;
    assert_eq!(status, 200, "{v}");
}

async fn forced_change_comes_before_anything_else(app: TestApp) {
    let (_, v) = app.login("cqjzc", "20230001", "111111").await;
    assert_eq!(v["must_change_password"], true);
    let token = v["token"].as_str().unwrap();
    let (status, v) = app.get_json("/api/v1/student/charges", Some(token)).await;
    assert_eq!((status, v["error"]["code"].as_str()), (403, Some("password_change_required")));
    // The rules refuse weak passwords, each with its own message.
    for (new, message) in [
        ("short1", "新密码至少8位"),
        ("111111", "新密码不能与旧密码相同"),
        ("abc20230001", "新密码不能包含学号"),
        ("password123", "新密码过于常见，请换一个"),
    ] {
        let (status, v) =
            app.post_json("/api/v1/student/password", json!({"old_password": "111111", "new_password": new}), Some(token)).await;
        assert_eq!(status, 422, "{new}: {v}");
        assert_eq!(v["error"]["message"], message);
    }
    let (status, v) = app
        .post_json(
            "/api/v1/student/password",
            json!({"old_password": "111111", "new_password": NEW_PASSWORD, "confirm_password": "other"}),
            Some(token),
        )
        .await;
    assert_eq!((status, v["error"]["message"].as_str()), (422, Some("新密码与确认密码要求一致")));
    let (status, v) =
        app.post_json("/api/v1/student/password", json!({"old_password": "wrong", "new_password": NEW_PASSWORD}), Some(token)).await;
    assert_eq!((status, v["error"]["message"].as_str()), (422, Some("旧密码有误")));
    let (status, _) =
        app.post_json("/api/v1/student/password", json!({"old_password": "111111", "new_password": NEW_PASSWORD}), Some(token)).await;
    assert_eq!(status, 200);
    let (status, _) = app.get_json("/api/v1/student/charges", Some(token)).await;
    assert_eq!(status, 200, "the session that changed the password goes on");
    let (status, _) = app.login("cqjzc", "20230001", "111111").await;
    assert_eq!(status, 401, "the initial password is gone");
    let (status, v) = app.login("cqjzc", "20230001", NEW_PASSWORD).await;
    assert_eq!((status, v["must_change_password"].as_bool()), (200, Some(false)));
}

async fn throttling_demands_a_captcha_then_locks_then_releases(app: TestApp) {
    let wrong = json!({"school": "qdou", "login": "20230003", "password": "wrong-password"});
    for _ in 0..3 {
        let (status, v) = app.post_json("/api/v1/student/login", wrong.clone(), None).await;
        assert_eq!((status, v["error"]["message"].as_str()), (401, Some("学号或密码有误")));
    }
    // qdou has no captcha, but after three failures this account needs one.
    let (status, v) =
        app.post_json("/api/v1/student/login", json!({"school": "qdou", "login": "20230003", "password": "01111X"}), None).await;
    assert_eq!((status, v["error"]["code"].as_str()), (401, Some("captcha_required")), "{v}");
    // With captchas solved, seven more failures lock the account...
    for _ in 0..7 {
        let (status, _) = app.login("qdou", "20230003", "wrong-password").await;
        assert_eq!(status, 401);
    }
    let qdou = app.store.school_by_code("qdou").await.unwrap().unwrap();
    let s3 = app.store.student_by_no(qdou.id, "20230003").await.unwrap().unwrap();
    let right = campuspay_domain::policy::InitialPassword::IdCardTail { len: 6, suffix: String::new() }.for_id_card(&s3.id_card);
    let (status, v) = app.login("qdou", "20230003", &right).await;
    assert_eq!(status, 423, "even the right password waits out the lock: {v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("后再试"), "says when: {v}");
    // ...and the lock is released once the failures are older than the window.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "UPDATE security_events SET at = at - {} WHERE login = '20230003'",
        campuspay_app::student::auth::WINDOW_S + 1
    )))
    .execute(app.store.pool())
    .await
    .unwrap();
    let (status, v) = app.login("qdou", "20230003", &right).await;
    assert_eq!(status, 200, "released: {v}");
    // The student sees it all in the security log.
    let token = v["token"].as_str().unwrap();
    let (_, log) = app.get_json("/api/v1/student/security-events", Some(token)).await;
    let kinds: Vec<&str> = log["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"login_failed") && kinds.contains(&"locked_out") && kinds.contains(&"login_ok"), "{kinds:?}");
}

fn arrears_of(charges: &Value) -> i64 {
    charges["charges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["payable_fen"].as_i64().unwrap() - c["paid_fen"].as_i64().unwrap()).max(0))
        .sum()
}

async fn arrears_are_the_sum_of_payable_minus_paid(app: TestApp) {
    for school in SCHOOLS {
        let token = app.session(school, "20230001").await;
        let (_, c) = app.get_json("/api/v1/student/charges", Some(&token)).await;
        assert_eq!(c["total_arrears_fen"].as_i64().unwrap(), arrears_of(&c), "{school}");
        let owing = c["charges"].as_array().unwrap().iter().filter(|x| x["state"] == "unpaid").count();
        assert!(owing >= 2, "{school}: 20230001 owes {owing} items");
        let years = c["arrears_by_year"].as_array().unwrap();
        let by_year: i64 = years.iter().map(|y| y["arrears_fen"].as_i64().unwrap()).sum();
        assert_eq!(by_year, c["total_arrears_fen"].as_i64().unwrap(), "{school}: years add up");
        assert!(years.len() >= 2 || school == "qdou", "{school}: two years owed");
        // A period filter narrows the list.
        let period = c["charges"][0]["period"].as_str().unwrap();
        let (_, f) = app.get_json(&format!("/api/v1/student/charges?period={period}"), Some(&token)).await;
        assert!(f["charges"].as_array().unwrap().iter().all(|x| x["period"] == period));
    }
    // 20230002 has paid everything; 20230003 has a discount that lowers what is payable.
    let (status, v) = app.login("lut", "20230002", "x").await;
    assert_eq!(status, 401, "{v}");
    let lut = app.store.school_by_code("lut").await.unwrap().unwrap();
    let paid = app.store.student_by_no(lut.id, "20230002").await.unwrap().unwrap();
    let charges = app.store.charges_of_student(lut.id, paid.id).await.unwrap();
    assert!(charges.iter().all(|c| c.amounts.arrears().unwrap().0 == 0));
    let disc = app.store.student_by_no(lut.id, "20230003").await.unwrap().unwrap();
    let charges = app.store.charges_of_student(lut.id, disc.id).await.unwrap();
    assert!(charges.iter().any(|c| c.amounts.discount.0 > 0 && c.amounts.payable().unwrap() < c.amounts.total));
}

async fn one_school_never_sees_another(app: TestApp) {
    let qdou_token = app.session("qdou", "20230001").await;
    let lut_token = app.session("lut", "20230001").await;
    let (_, q) = app.get_json("/api/v1/student/charges", Some(&qdou_token)).await;
    let (_, l) = app.get_json("/api/v1/student/charges", Some(&lut_token)).await;
    let ids = |v: &Value| v["charges"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect::<Vec<_>>();
    assert!(ids(&q).iter().all(|i| !ids(&l).contains(i)), "no charge in both");
    let (_, me) = app.get_json("/api/v1/student/me", Some(&qdou_token)).await;
    assert_eq!(me["school"]["code"], "qdou");
    // lut's new password does not open qdou's student of the same number.
    let (status, _) = app.login("qdou", "20230001", NEW_PASSWORD).await;
    assert_eq!(status, 401);
    // A qdou session cookie opens no page of lut.
    let res = app.http.get(app.url("/s/lut/home")).header("cookie", format!("campuspay_session={qdou_token}")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/s/lut/");
}

async fn bad_input_gets_a_clear_error_and_changes_nothing(app: TestApp) {
    let students_before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM students").fetch_one(app.store.pool()).await.unwrap();
    let res = app
        .http
        .post(app.url("/api/v1/student/login"))
        .header("content-type", "application/json")
        .body("{\"school\":")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["code"], "malformed_json");
    assert!(v["error"]["message"].as_str().unwrap().starts_with("请求格式有误"));
    let res = app
        .http
        .post(app.url("/api/v1/student/login"))
        .header("accept-language", "en")
        .header("content-type", "application/json")
        .body("[]")
        .send()
        .await
        .unwrap();
    let v: Value = res.json().await.unwrap();
    assert!(v["error"]["message"].as_str().unwrap().starts_with("Malformed request"), "English when asked: {v}");
    let res = app.http.post(app.url("/api/v1/student/login")).body("school=qdou").send().await.unwrap();
    assert_eq!(res.status(), 415);
    let (status, v) = app.login("nowhere", "20230001", "01111X").await;
    assert_eq!((status, v["error"]["message"].as_str()), (404, Some("学校不存在，请重新选择学校")));
    let (status, v) = app.login("qdou", &"9".repeat(5000), "01111X").await;
    assert_eq!(status, 401, "{v}");
    let (status, _) = app.login("qdou", "20230001", &"p".repeat(10_000)).await;
    assert_eq!(status, 401);
    for sqlish in ["' OR '1'='1", "20230001' --", "x'; DROP TABLE students; --"] {
        let (status, v) = app.login("qdou", sqlish, "' OR '1'='1").await;
        assert_eq!((status, v["error"]["code"].as_str()), (401, Some("invalid_credentials")), "{sqlish}");
    }
    let (status, v) = app.get_json("/api/v1/student/charges", Some("forged-token")).await;
    assert_eq!((status, v["error"]["code"].as_str()), (401, Some("session_expired")));
    let token = app.session("qdou", "20230001").await;
    let res = app.http.put(app.url("/api/v1/student/profile")).bearer_auth(&token).json(&json!({"phone": "12345"})).send().await.unwrap();
    assert_eq!(res.status(), 422);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["field"], "phone");
    let res = app
        .http
        .put(app.url("/api/v1/student/profile"))
        .bearer_auth(&token)
        .json(&json!({"phone": "15100008891", "address": "长".repeat(101)}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let students_after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM students").fetch_one(app.store.pool()).await.unwrap();
    assert_eq!(students_before, students_after);
    let (status, _) = app.login("qdou", "20230001", "01111X").await;
    assert_eq!(status, 200, "the student still logs in after all that");
    let (_, me) = app.get_json("/api/v1/student/me", Some(&token)).await;
    assert_ne!(me["phone"], "123****45");
}

async fn password_change_ends_other_sessions(app: TestApp) {
    let t1 = app.session("lut", "20230001").await;
    let (_, v) = app.login("lut", "20230001", NEW_PASSWORD).await;
    let t2 = v["token"].as_str().unwrap().to_string();
    let (_, s) = app.get_json("/api/v1/student/sessions", Some(&t1)).await;
    assert_eq!(s["sessions"].as_array().unwrap().len(), 2);
    let (status, _) = app
        .post_json("/api/v1/student/password", json!({"old_password": NEW_PASSWORD, "new_password": "An0ther#Campus2026"}), Some(&t1))
        .await;
    assert_eq!(status, 200);
    assert_eq!(app.get_json("/api/v1/student/me", Some(&t2)).await.0, 401);
    assert_eq!(app.get_json("/api/v1/student/me", Some(&t1)).await.0, 200);
    // Logout ends the session on the server.
    let res = app.http.post(app.url("/api/v1/student/logout")).bearer_auth(&t1).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(app.get_json("/api/v1/student/me", Some(&t1)).await.0, 401);
}

async fn pages_log_in_and_show_arrears(app: TestApp) {
    let index = app.http.get(app.url("/?region=甘肃省")).send().await.unwrap();
    assert_eq!(index.status(), 200);
    let h = index.headers().clone();
    assert!(h["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    let body = index.text().await.unwrap();
    assert!(body.contains("兰州理工大学") && !body.contains("青岛开放大学"), "filtered by region");
    let login = app.http.get(app.url("/s/ejt/")).send().await.unwrap().text().await.unwrap();
    assert!(login.contains("data:image/png;base64,") && login.contains("验证码"), "ejt shows a captcha");
    let res = app.http.post(app.url("/s/lut/login")).form(&[("login", "20230001"), ("password", "0101111X")]).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/s/lut/password");
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    let cookie = cookie.split(';').next().unwrap().to_string();
    // The home page waits until the password is changed.
    let res = app.http.get(app.url("/s/lut/home")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(res.headers()["location"], "/s/lut/password");
    let page = app.http.get(app.url("/s/lut/password")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let csrf = page.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    // Without the form's token, or from another site, nothing changes.
    let form = [("csrf", "wrong"), ("old_password", "0101111X"), ("new_password", NEW_PASSWORD), ("confirm_password", NEW_PASSWORD)];
    let res = app.http.post(app.url("/s/lut/password")).header("cookie", &cookie).form(&form).send().await.unwrap();
    assert_eq!(res.status(), 403);
    let form = [("csrf", csrf.as_str()), ("old_password", "0101111X"), ("new_password", NEW_PASSWORD), ("confirm_password", NEW_PASSWORD)];
    let res = app
        .http
        .post(app.url("/s/lut/password"))
        .header("cookie", &cookie)
        .header("origin", "http://evil.example")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = app.http.post(app.url("/s/lut/password")).header("cookie", &cookie).form(&form).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let home = app.http.get(app.url("/s/lut/home")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(home.contains("欠费总额") && home.contains("¥3,350.00") && home.contains("已停止"), "arrears and a stopped window shown");
    assert!(!home.contains("37020220000101111X"), "the full ID card never appears");
    let en = app.http.get(app.url("/s/lut/home?lang=en")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(en.contains("Total owed") && en.contains("lang=\"en\""));
    let profile = app.http.get(app.url("/s/lut/profile")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(profile.contains("3702**********111X"));
}

async fn the_ledger_is_append_only(app: TestApp) {
    for sql in [
        "UPDATE ledger_entries SET amount_fen = 1",
        "DELETE FROM ledger_entries",
        "UPDATE charges SET total_fen = 1",
        "DELETE FROM charges",
    ] {
        let r = sqlx::raw_sql(sql).execute(app.store.pool()).await;
        assert!(r.is_err(), "{sql} was allowed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_describes_every_api_route() {
    // The API's router and its document come from one list (`routes!` in `api::api`): a
    // handler is mounted at the path of its own description, so no served route can be left
    // out. What this checks against the running server is the rest: the document served is
    // the generated one, every operation it names is routed, and its paths answer no method
    // it does not name. An unrouted request gets `no_such_route` (404) or
    // `method_not_allowed` (405); a handler's refusal has codes of its own.
    let app = TestApp::spawn(common::Db::Sqlite).await;
    let spec = campuspay_server::api::openapi_spec();
    let (status, served) = app.get_json("/api/v1/openapi.json", None).await;
    assert_eq!((status, &served), (200, &spec), "the served document is the generated one");
    let unrouted = |status: u16, body: &str| {
        let code = serde_json::from_str::<Value>(body).ok().and_then(|v| v["error"]["code"].as_str().map(str::to_string));
        matches!((status, code.as_deref()), (404, Some("no_such_route")) | (405, Some("method_not_allowed")))
    };
    let res = app.http.get(app.url("/api/v1/no-such-route")).send().await.unwrap();
    assert!(unrouted(res.status().as_u16(), &res.text().await.unwrap()), "an unknown route is told apart");
    let paths = spec["paths"].as_object().unwrap();
    for must in ["/healthz", "/api/v1/openapi.json", "/api/v1/student/login", "/notify/{provider}/{school}"] {
        assert!(paths.contains_key(must), "{must} is not in the OpenAPI document");
    }
    // The boundary's answers are described, and the schemas refuse what the server refuses.
    let login = &paths["/api/v1/student/login"]["post"]["responses"];
    for status in ["400", "413", "415"] {
        assert!(login.get(status).is_some(), "login does not describe {status}: {login}");
    }
    assert!(paths["/api/v1/student/orders/{order_no}"]["get"]["responses"].get("404").is_some());
    let schemas = &spec["components"]["schemas"];
    assert_eq!(schemas["LoginBody"]["properties"]["login"]["minLength"], 1);
    assert_eq!(schemas["AnswerResetBody"]["properties"]["answer"]["minLength"], 1);
    assert_eq!(schemas["NewOrderBody"]["properties"]["charges"]["minItems"], 1);
    assert_eq!(schemas["ProfileBody"]["properties"]["phone"]["minLength"], 11);
    for (path, item) in paths {
        let url: Vec<&str> = path.split('/').map(|seg| if seg.starts_with('{') { "x" } else { seg }).collect();
        let url = app.url(&url.join("/"));
        for method in ["get", "post", "put", "delete", "patch"] {
            let req = app.http.request(method.to_uppercase().parse().unwrap(), &url);
            let res = req.header("content-type", "application/json").body("{}").send().await.unwrap();
            let status = res.status().as_u16();
            let body = res.text().await.unwrap();
            if item.get(method).is_some() {
                assert!(!unrouted(status, &body), "{method} {path} is documented but not routed ({status})");
            } else {
                assert_eq!(status, 405, "{method} {path} is routed but not documented");
            }
        }
    }
}

on_both_databases!(failures_right_after_a_success_still_count);

async fn failures_right_after_a_success_still_count(app: TestApp) {
    // A success and the failures after it often share a second; they must still count.
    let (status, _) = app.login("cqjzc", "20230001", "111111").await;
    assert_eq!(status, 200);
    let wrong = json!({"school": "cqjzc", "login": "20230001", "password": "wrong-password"});
    let mut codes = Vec::new();
    for _ in 0..4 {
        codes.push(app.post_json("/api/v1/student/login", wrong.clone(), None).await.1["error"]["code"].as_str().unwrap().to_string());
    }
    assert_eq!(codes, ["invalid_credentials", "invalid_credentials", "invalid_credentials", "captcha_required"]);
}

on_both_databases!(pages_are_chinese_unless_the_student_chooses_english);

async fn pages_are_chinese_unless_the_student_chooses_english(app: TestApp) {
    // A browser set to English still gets Chinese pages (UI.md: Chinese first)...
    let page = app.http.get(app.url("/")).header("accept-language", "en-US,en;q=0.9").send().await.unwrap().text().await.unwrap();
    assert!(page.contains("lang=\"zh-CN\"") && page.contains("选择学校"), "Chinese by default");
    // ...until the student picks English, which is remembered.
    let res = app.http.get(app.url("/?lang=en")).send().await.unwrap();
    assert!(res.headers()["set-cookie"].to_str().unwrap().starts_with("lang=en"));
    assert!(res.text().await.unwrap().contains("Choose your school"));
    let page = app.http.get(app.url("/")).header("cookie", "lang=en").send().await.unwrap().text().await.unwrap();
    assert!(page.contains("lang=\"en\""));
    // The API answers in the language the client asks for.
    let res = app
        .http
        .post(app.url("/api/v1/student/login"))
        .header("accept-language", "en")
        .json(&json!({"school": "x", "login": "1", "password": "1"}))
        .send()
        .await
        .unwrap();
    let v: Value = res.json().await.unwrap();
    assert!(v["error"]["message"].as_str().unwrap().starts_with("No such school"), "{v}");
}
