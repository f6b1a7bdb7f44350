//! Accounts (issue #4) over real HTTP, on SQLite and PostgreSQL: every recovery path end to
//! end (mail through a real SMTP conversation with a sink this test runs), links and codes
//! that expire, are reused or altered, the SMS daily cap, lockout and its release, the
//! 100-per-hour ceiling, sessions ended by change and reset, schools kept apart, floods.

use crate::common;

use base64::Engine;
use common::{Db, TestApp};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

const NEWER: &str = "Lanzhou#Gate2027";

on_both_databases!(
    sms_recovery_codes_expire_are_single_use_and_capped,
    question_recovery_and_setting_the_question,
    recovery_locks_after_wrong_answers_and_releases,
    the_hourly_ceiling_holds,
    recovery_never_crosses_schools,
    floods_are_refused,
    security_page_lists_sessions_and_ends_others,
);

/// One message an SMTP client handed to the sink.
struct Received {
    rcpt: Vec<String>,
    data: String,
}

/// A minimal SMTP server (RFC 5321 happy path) on a free port; what it receives comes out of
/// the channel.
async fn smtp_sink() -> (u16, mpsc::UnboundedReceiver<Received>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut r = BufReader::new(r);
                w.write_all(b"220 sink.test ESMTP\r\n").await.unwrap();
                let mut rcpt = Vec::new();
                let mut line = String::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let cmd = line.trim_end().to_ascii_uppercase();
                    if cmd.starts_with("EHLO") || cmd.starts_with("HELO") {
                        w.write_all(b"250-sink.test\r\n250 8BITMIME\r\n").await.unwrap();
                    } else if cmd.starts_with("MAIL FROM") {
                        rcpt.clear();
                        w.write_all(b"250 OK\r\n").await.unwrap();
                    } else if cmd.starts_with("RCPT TO") {
                        rcpt.push(line.trim_end()[8..].to_string());
                        w.write_all(b"250 OK\r\n").await.unwrap();
                    } else if cmd == "DATA" {
                        w.write_all(b"354 go on\r\n").await.unwrap();
                        let mut data = String::new();
                        loop {
                            line.clear();
                            r.read_line(&mut line).await.unwrap();
                            if line == ".\r\n" {
                                break;
                            }
                            data.push_str(&line);
                        }
                        let _ = tx.send(Received { rcpt: rcpt.clone(), data });
                        w.write_all(b"250 queued\r\n").await.unwrap();
                    } else if cmd == "QUIT" {
                        w.write_all(b"221 bye\r\n").await.unwrap();
                        return;
                    } else {
                        w.write_all(b"250 OK\r\n").await.unwrap();
                    }
                }
            });
        }
    });
    (port, rx)
}

/// The text of a received message: its base64 body decoded.
fn body_text(m: &Received) -> String {
    let (_, body) = m.data.split_once("\r\n\r\n").expect("headers, blank line, body");
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b64).expect("base64 body")).unwrap()
}

fn token_in(text: &str, school: &str) -> String {
    let marker = format!("/s/{school}/reset/");
    let at = text.find(&marker).expect("a reset link") + marker.len();
    text[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
}

async fn with_captcha(app: &TestApp, mut body: Value) -> Value {
    let (id, answer) = app.solved_captcha().await;
    body["captcha_id"] = id.into();
    body["captcha"] = answer.into();
    body
}

async fn school_id(app: &TestApp, code: &str) -> i64 {
    app.store.school_by_code(code).await.unwrap().unwrap().id
}

async fn exec(app: &TestApp, sql: &'static str, a: i64) {
    sqlx::query(sql).bind(a).execute(app.store.pool()).await.unwrap();
}

/// Moves every security event and recovery secret `by` seconds into the past.
async fn age_everything(app: &TestApp, by: i64) {
    exec(app, "UPDATE security_events SET at = at - $1", by).await;
    exec(app, "UPDATE recovery_tokens SET created_at = created_at - $1", by).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_recovery_over_smtp_sqlite() {
    email_recovery_over_smtp(Db::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_recovery_over_smtp_postgres() {
    email_recovery_over_smtp(Db::Postgres).await
}

async fn email_recovery_over_smtp(db: Db) {
    let (port, mut inbox) = smtp_sink().await;
    let app = TestApp::spawn_with(db, |c| {
        c.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
    })
    .await;
    // Two sessions of ejt's 20230002 (security e-mail in the demo seed).
    let (s, v) = app.login("ejt", "20230002", "123456").await;
    assert_eq!(s, 200, "{v}");
    let first = v["token"].as_str().unwrap().to_string();
    let (_, v) = app.login("ejt", "20230002", "123456").await;
    let second = v["token"].as_str().unwrap().to_string();

    // ejt has a captcha: a request without one is refused.
    let req = json!({"school": "ejt", "login": "20230002"});
    let (s, v) = app.post_json("/api/v1/recovery/email", req.clone(), None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (401, Some("captcha_required")));
    let (s, known) = app.post_json("/api/v1/recovery/email", with_captcha(&app, req).await, None).await;
    assert_eq!(s, 202, "{known}");
    // An unknown number gets the very same answer.
    let (s, unknown) =
        app.post_json("/api/v1/recovery/email", with_captcha(&app, json!({"school": "ejt", "login": "29999999"})).await, None).await;
    assert_eq!((s, &unknown), (202, &known));

    let mail = tokio::time::timeout(Duration::from_secs(15), inbox.recv()).await.expect("the SMTP sink received the mail").unwrap();
    assert!(mail.rcpt[0].contains(campuspay_server::demo::DEMO_SECURITY_EMAIL), "{:?}", mail.rcpt);
    assert!(mail.data.contains("Subject:"));
    let text = body_text(&mail);
    assert!(text.contains("李华") && text.contains("30分钟"), "{text}");
    let token = token_in(&text, "ejt");
    assert!(token.len() >= 40, "{token}");
    // Only its hash is stored.
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM recovery_tokens WHERE token_hash = $1")
        .bind(&token)
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(stored, 0);
    // Nothing was sent for the unknown number.
    assert!(tokio::time::timeout(Duration::from_millis(500), inbox.recv()).await.is_err());

    // The page the link opens.
    let page = app.http.get(app.url(&format!("/s/ejt/reset/{token}"))).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("new_password"));

    // Altered token, wrong school, weak password, mismatch: refused, token still live.
    let reset = |t: &str, school: &str, pw: &str, confirm: &str| json!({"school": school, "token": t, "new_password": pw, "confirm_password": confirm});
    let mut altered = token.clone();
    altered.replace_range(0..1, if token.starts_with('A') { "B" } else { "A" });
    let (s, v) = app.post_json("/api/v1/recovery/reset", reset(&altered, "ejt", NEWER, NEWER), None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (400, Some("invalid_token")), "{v}");
    let (s, _) = app.post_json("/api/v1/recovery/reset", reset(&token, "cqjzc", NEWER, NEWER), None).await;
    assert_eq!(s, 400, "a link of ejt opens nothing at cqjzc");
    let (s, v) = app.post_json("/api/v1/recovery/reset", reset(&token, "ejt", "123456", "123456"), None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (422, Some("weak_password")), "{v}");
    let (s, v) = app.post_json("/api/v1/recovery/reset", reset(&token, "ejt", "pw20230002x", "pw20230002x"), None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (422, Some("weak_password")), "{v}");
    let (s, v) = app.post_json("/api/v1/recovery/reset", reset(&token, "ejt", NEWER, "other#Pass123"), None).await;
    assert_eq!(v["error"]["message"], "新密码与确认密码要求一致", "{s} {v}");

    let (s, v) = app.post_json("/api/v1/recovery/reset", reset(&token, "ejt", NEWER, NEWER), None).await;
    assert_eq!(s, 200, "{v}");
    // A reset ends ALL sessions.
    for t in [&first, &second] {
        let (s, _) = app.get_json("/api/v1/student/me", Some(t)).await;
        assert_eq!(s, 401);
    }
    // Reused: refused.
    let (s, v) = app.post_json("/api/v1/recovery/reset", reset(&token, "ejt", "Second#Pass2028", "Second#Pass2028"), None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (400, Some("invalid_token")));
    let page = app.http.get(app.url(&format!("/s/ejt/reset/{token}"))).send().await.unwrap();
    assert_eq!(page.status(), 400);
    let (s, v) = app.login("ejt", "20230002", NEWER).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["must_change_password"], false);
    let (s, _) = app.login("ejt", "20230002", "123456").await;
    assert_eq!(s, 401);

    // Expired: a fresh link pushed past its 30 minutes no longer works.
    let (s, _) =
        app.post_json("/api/v1/recovery/email", with_captcha(&app, json!({"school": "ejt", "login": "20230002"})).await, None).await;
    assert_eq!(s, 202);
    let mail = tokio::time::timeout(Duration::from_secs(15), inbox.recv()).await.unwrap().unwrap();
    let token = token_in(&body_text(&mail), "ejt");
    exec(&app, "UPDATE recovery_tokens SET expires_at = created_at - $1", 1).await;
    let (s, v) = app.post_json("/api/v1/recovery/reset", reset(&token, "ejt", "Third#Pass2029", "Third#Pass2029"), None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (400, Some("invalid_token")));

    // The security log shows the reset to the student.
    let (_, v) = app.login("ejt", "20230002", NEWER).await;
    let (_, ev) = app.get_json("/api/v1/student/security-events", v["token"].as_str()).await;
    let kinds: Vec<&str> = ev["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"password_reset") && kinds.contains(&"recovery_requested"), "{kinds:?}");
}

async fn sms_code(app: &TestApp, phone: &str, n: usize) -> String {
    for _ in 0..100 {
        let list = app.store.outbox(50).await.unwrap();
        let sms: Vec<_> = list.iter().filter(|m| m.channel == "sms" && m.recipient == phone).collect();
        if sms.len() >= n {
            let body = &sms[0].body;
            let at = body.find("验证码 ").expect("a code in the text") + "验证码 ".len();
            return body[at..at + 6].to_string();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no SMS #{n} to {phone} in the outbox");
}

async fn sms_recovery_codes_expire_are_single_use_and_capped(app: TestApp) {
    let sid = school_id(&app, "cqjzc").await;
    let st = app.store.student_by_no(sid, "20230001").await.unwrap().unwrap();
    let token = app.session("cqjzc", "20230001").await;
    let req = json!({"school": "cqjzc", "login": "20230001"});
    let (s, v) = app.post_json("/api/v1/recovery/sms", req.clone(), None).await;
    assert_eq!(s, 202, "{v}");
    assert!(!v["message"].as_str().unwrap().contains(&st.phone[7..]), "the phone is not revealed");
    let code = sms_code(&app, &st.phone, 1).await;
    // Resend interval.
    let (s, v) = app.post_json("/api/v1/recovery/sms", req.clone(), None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (429, Some("sms_too_soon")), "{v}");

    let reset =
        |code: &str| json!({"school": "cqjzc", "login": "20230001", "code": code, "new_password": NEWER, "confirm_password": NEWER});
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let (s, v) = app.post_json("/api/v1/recovery/sms/reset", reset(wrong), None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (422, Some("invalid_code")), "{v}");
    let (s, v) = app.post_json("/api/v1/recovery/sms/reset", reset("12ab"), None).await;
    assert_eq!(s, 422, "{v}");
    // A weak new password is refused and the code stays usable.
    let mut weak = reset(&code);
    weak["new_password"] = "111111".into();
    weak["confirm_password"] = "111111".into();
    let (s, v) = app.post_json("/api/v1/recovery/sms/reset", weak, None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (422, Some("weak_password")), "{v}");
    let (s, v) = app.post_json("/api/v1/recovery/sms/reset", reset(&code), None).await;
    assert_eq!(s, 200, "{v}");
    let (s, _) = app.get_json("/api/v1/student/me", Some(&token)).await;
    assert_eq!(s, 401, "a reset ends every session");
    // Single use.
    let (s, _) = app.post_json("/api/v1/recovery/sms/reset", reset(&code), None).await;
    assert_eq!(s, 422);
    let (s, _) = app.login("cqjzc", "20230001", NEWER).await;
    assert_eq!(s, 200);

    // Expiry: a code past its 5 minutes is refused. (After 3 wrong codes a captcha is due.)
    age_everything(&app, 61).await;
    let (s, v) = app.post_json("/api/v1/recovery/sms", req.clone(), None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (401, Some("captcha_required")));
    let (s, _) = app.post_json("/api/v1/recovery/sms", with_captcha(&app, req.clone()).await, None).await;
    assert_eq!(s, 202);
    let code = sms_code(&app, &st.phone, 2).await;
    exec(&app, "UPDATE recovery_tokens SET expires_at = created_at - $1", 1).await;
    let mut r = reset(&code);
    r["new_password"] = "Another#Gate2028".into();
    r["confirm_password"] = "Another#Gate2028".into();
    let (s, v) = app.post_json("/api/v1/recovery/sms/reset", with_captcha(&app, r).await, None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (422, Some("invalid_code")), "{v}");
    // Failures age out of the 15-minute window; the cap counts the whole day.
    exec(&app, "UPDATE security_events SET at = at - $1 WHERE kind = 'recovery_failed'", 16 * 60).await;

    // The daily cap: 5 codes a day per phone (two used above), then refused.
    for i in 3..=5 {
        age_everything(&app, 61).await;
        let (s, v) = app.post_json("/api/v1/recovery/sms", req.clone(), None).await;
        assert_eq!(s, 202, "code {i}: {v}");
    }
    age_everything(&app, 61).await;
    let (s, v) = app.post_json("/api/v1/recovery/sms", req.clone(), None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (429, Some("sms_daily_limit")), "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("5次"));
    sms_code(&app, &st.phone, 5).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = app.store.outbox(50).await.unwrap().iter().filter(|m| m.recipient == st.phone).count();
    assert_eq!(sent, 5, "never more than 5 codes a day to one phone");
}

async fn question_recovery_and_setting_the_question(app: TestApp) {
    let ask = |login: &str| json!({"school": "lut", "login": login});
    let (s, v) = app.post_json("/api/v1/recovery/question", ask("20230002"), None).await;
    assert_eq!((s, v["question"].as_str()), (200, Some(campuspay_server::demo::DEMO_SECURITY_QUESTION)));
    // Unknown numbers and students without a question get a question all the same.
    for login in ["29999999", "20230001"] {
        let (s, v) = app.post_json("/api/v1/recovery/question", ask(login), None).await;
        assert_eq!(s, 200, "{v}");
        let q = v["question"].as_str().unwrap();
        assert!(campuspay_app::student::recovery::QUESTIONS.contains(&q), "{q}");
        let (_, again) = app.post_json("/api/v1/recovery/question", ask(login), None).await;
        assert_eq!(again["question"], q, "the made-up question does not change");
    }
    let (_, methods) = app.get_json("/api/v1/recovery/methods?school=lut", None).await;
    let kinds: Vec<&str> = methods["methods"].as_array().unwrap().iter().map(|m| m["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["security_question", "contact_office"]);
    assert!(methods["methods"][1]["text"].as_str().unwrap().contains("2973882"), "{methods}");

    let (s, v) = app.login("lut", "20230002", "0315242X").await;
    assert_eq!(s, 200, "{v}");
    let token = v["token"].as_str().unwrap().to_string();
    let reset = |login: &str, answer: &str| json!({"school": "lut", "login": login, "answer": answer, "new_password": NEWER, "confirm_password": NEWER});
    let (s, v) = app.post_json("/api/v1/recovery/question/reset", reset("20230002", "北京"), None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (422, Some("wrong_answer")));
    let (s, v) = app.post_json("/api/v1/recovery/question/reset", reset("29999999", "兰州"), None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (422, Some("wrong_answer")), "{v}");
    let (s, v) = app.post_json("/api/v1/recovery/question/reset", reset("20230002", " 兰 州 "), None).await;
    assert_eq!(s, 200, "{v}");
    let (s, _) = app.get_json("/api/v1/student/me", Some(&token)).await;
    assert_eq!(s, 401, "a reset ends every session");
    let (s, _) = app.login("lut", "20230002", NEWER).await;
    assert_eq!(s, 200);

    // Setting the question needs the password again (seed 004).
    let token = app.session("lut", "20230001").await;
    let set = |pw: &str| json!({"password": pw, "question": "您的出生地是？", "answer": "青岛"});
    let (s, v) = put_json(&app, "/api/v1/student/security-question", set("wrong-Pass1"), &token).await;
    assert_eq!((s, v["error"]["code"].as_str()), (422, Some("password_wrong")), "{v}");
    let (s, v) = put_json(
        &app,
        "/api/v1/student/security-question",
        json!({"password": common::NEW_PASSWORD, "question": "你猜？", "answer": "青岛"}),
        &token,
    )
    .await;
    assert_eq!((s, v["error"]["code"].as_str()), (422, Some("invalid_question")));
    let (s, v) = put_json(&app, "/api/v1/student/security-question", set(common::NEW_PASSWORD), &token).await;
    assert_eq!(s, 204, "{v}");
    let (_, v) = app.get_json("/api/v1/student/security", Some(&token)).await;
    assert_eq!(v["security_question"], "您的出生地是？");
    let (_, v) = app.post_json("/api/v1/recovery/question", ask("20230001"), None).await;
    assert_eq!(v["question"], "您的出生地是？");

    // A school without e-mail recovery still lets the student keep a security e-mail; one
    // that offers it (ejt) needs the password too.
    let ejt = app.session("ejt", "20230001").await;
    let (s, _) =
        put_json(&app, "/api/v1/student/security-email", json!({"password": common::NEW_PASSWORD, "security_email": "not-an-email"}), &ejt)
            .await;
    assert_eq!(s, 422);
    let (s, _) = put_json(
        &app,
        "/api/v1/student/security-email",
        json!({"password": common::NEW_PASSWORD, "security_email": "me@example.com"}),
        &ejt,
    )
    .await;
    assert_eq!(s, 204);
    let (_, v) = app.get_json("/api/v1/student/security", Some(&ejt)).await;
    assert_eq!(v["security_email"], "me@example.com");
}

async fn put_json(app: &TestApp, path: &str, body: Value, token: &str) -> (u16, Value) {
    let res = app.http.put(app.url(path)).bearer_auth(token).json(&body).send().await.unwrap();
    let s = res.status().as_u16();
    let t = res.text().await.unwrap();
    (s, serde_json::from_str(&t).unwrap_or(Value::String(t)))
}

async fn recovery_locks_after_wrong_answers_and_releases(app: TestApp) {
    let reset =
        |answer: &str| json!({"school": "lut", "login": "20230002", "answer": answer, "new_password": NEWER, "confirm_password": NEWER});
    for _ in 0..3 {
        let (s, _) = app.post_json("/api/v1/recovery/question/reset", reset("北京"), None).await;
        assert_eq!(s, 422);
    }
    // After 3 failures a captcha is needed, although lut has none on its login.
    let (s, v) = app.post_json("/api/v1/recovery/question/reset", reset("兰州"), None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (401, Some("captcha_required")));
    for _ in 0..2 {
        let (s, _) = app.post_json("/api/v1/recovery/question/reset", with_captcha(&app, reset("北京")).await, None).await;
        assert_eq!(s, 422);
    }
    // 5 failures: locked, even with the right answer, with a time to try again.
    let (s, v) = app.post_json("/api/v1/recovery/question/reset", with_captcha(&app, reset("兰州")).await, None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (423, Some("recovery_locked")), "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("后再试"), "{v}");
    let lut = school_id(&app, "lut").await;
    let st = app.store.student_by_no(lut, "20230002").await.unwrap().unwrap();
    let kinds: Vec<String> = app.store.security_events_of_student(lut, st.id, 50).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert!(kinds.iter().any(|k| k == "recovery_locked"), "{kinds:?}");
    // 16 minutes later it is released (a captcha is no longer due either).
    age_everything(&app, 16 * 60).await;
    let (s, v) = app.post_json("/api/v1/recovery/question/reset", reset("兰州"), None).await;
    assert_eq!(s, 200, "{v}");
}

async fn the_hourly_ceiling_holds(app: TestApp) {
    let qdou = school_id(&app, "qdou").await;
    // 100 failures spread over the last hour but outside the 15-minute window.
    let t = campuspay_store::db_now();
    for i in 0..100 {
        sqlx::query("INSERT INTO security_events (school_id, login, kind, ip, at) VALUES ($1, '20230001', 'login_failed', '10.9.9.9', $2)")
            .bind(qdou)
            .bind(t - 20 * 60 - i * 20)
            .execute(app.store.pool())
            .await
            .unwrap();
    }
    let (s, v) = app.login("qdou", "20230001", "01111X").await;
    assert_eq!((s, v["error"]["code"].as_str()), (423, Some("account_locked")), "{v}");
    // Recovery is held by the same ceiling.
    let (s, v) = app
        .post_json(
            "/api/v1/recovery/question/reset",
            json!({"school": "lut", "login": "20230001", "answer": "x", "new_password": NEWER}),
            None,
        )
        .await;
    assert_eq!(s, 422, "another school's account is untouched: {v}");
    // An hour later the account opens.
    exec(&app, "UPDATE security_events SET at = at - $1", 3600).await;
    let (s, v) = app.login("qdou", "20230001", "01111X").await;
    assert_eq!(s, 200, "{v}");
}

async fn recovery_never_crosses_schools(app: TestApp) {
    // An SMS code of cqjzc's 20230001 is worth nothing at czie for the same student number.
    let cq = school_id(&app, "cqjzc").await;
    let cz = school_id(&app, "czie").await;
    let st = app.store.student_by_no(cq, "20230001").await.unwrap().unwrap();
    let (s, _) = app.post_json("/api/v1/recovery/sms", json!({"school": "cqjzc", "login": "20230001"}), None).await;
    assert_eq!(s, 202);
    let code = sms_code(&app, &st.phone, 1).await;
    let r = |school: &str| json!({"school": school, "login": "20230001", "code": code, "new_password": NEWER, "confirm_password": NEWER});
    let (s, v) = app.post_json("/api/v1/recovery/sms/reset", with_captcha(&app, r("czie")).await, None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (422, Some("invalid_code")), "{v}");
    let czst = app.store.student_by_no(cz, "20230001").await.unwrap().unwrap();
    assert!(czst.password_hash.is_none(), "czie's student is untouched");
    let (s, _) = app.login("czie", "20230001", "01111XCzgc").await;
    assert_eq!(s, 200);
    // E-mail and question recovery are refused where the school does not offer them.
    let (s, v) = app.post_json("/api/v1/recovery/email", json!({"school": "qdou", "login": "20230001"}), None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (404, Some("recovery_not_offered")));
    let (s, _) = app.post_json("/api/v1/recovery/question", json!({"school": "cqjzc", "login": "20230001"}), None).await;
    assert_eq!(s, 404);
    let (_, m) = app.get_json("/api/v1/recovery/methods?school=qdou", None).await;
    assert_eq!(m["methods"][0]["kind"], "contact_office");
    // The right code still works at its own school.
    let (s, v) = app.post_json("/api/v1/recovery/sms/reset", r("cqjzc"), None).await;
    assert_eq!(s, 200, "{v}");
    // The demo outbox page is not mounted outside demo mode.
    let res = app.http.get(app.url("/demo/outbox")).send().await.unwrap();
    assert_eq!(res.status(), 404);
}

async fn floods_are_refused(app: TestApp) {
    // Per student number: 5 requests per 15 minutes.
    for i in 0..5 {
        let (s, v) =
            app.post_json("/api/v1/recovery/email", with_captcha(&app, json!({"school": "ejt", "login": "29990000"})).await, None).await;
        assert_eq!(s, 202, "request {i}: {v}");
    }
    let (s, v) =
        app.post_json("/api/v1/recovery/email", with_captcha(&app, json!({"school": "ejt", "login": "29990000"})).await, None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (429, Some("too_many_requests")), "{v}");
    // Per address: 30 recovery events per 15 minutes, whatever the numbers.
    let mut last = (0, Value::Null);
    for i in 0..40 {
        last = app.post_json("/api/v1/recovery/sms", json!({"school": "cqjzc", "login": format!("2999{i:04}")}), None).await;
        if last.0 == 429 {
            break;
        }
    }
    assert_eq!((last.0, last.1["error"]["code"].as_str()), (429, Some("too_many_attempts")), "{}", last.1);
    // Garbage tokens count against the address too and never open anything.
    let (s, _) =
        app.post_json("/api/v1/recovery/reset", json!({"school": "ejt", "token": "x".repeat(500), "new_password": NEWER}), None).await;
    assert_eq!(s, 429);
    let (s, _) = app.post_json("/api/v1/recovery/sms", json!({"school": "cqjzc"}), None).await;
    assert_eq!(s, 400, "missing fields are a clear 400");
}

async fn security_page_lists_sessions_and_ends_others(app: TestApp) {
    let api = app.session("qdou", "20230001").await;
    // A browser session through the login form.
    let res = app
        .http
        .post(app.url("/s/qdou/login"))
        .header("user-agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) MicroMessenger/8.0")
        .form(&[("login", "20230001"), ("password", "01111X")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let page = app.http.get(app.url("/s/qdou/security")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("微信 · iPhone") && html.contains("当前设备"), "{html}");
    assert!(html.contains("登录成功"), "the security log is shown");
    let csrf = html.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap();
    let res = app.http.post(app.url("/s/qdou/security/end-others")).header("cookie", &cookie).form(&[("csrf", csrf)]).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let (s, _) = app.get_json("/api/v1/student/me", Some(&api)).await;
    assert_eq!(s, 401, "the other session has ended");
    let page = app.http.get(app.url("/s/qdou/security")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(page.status(), 200, "this one has not");
    // The forgot page shows what the school offers.
    let html = app.http.get(app.url("/s/qdou/forgot")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("contact-office") && !html.contains("forgot/email"), "{html}");
    let html = app.http.get(app.url("/s/ejt/forgot")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("/s/ejt/forgot/email") && html.contains("captcha"));
}
