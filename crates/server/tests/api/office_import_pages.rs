//! Imports through the office's pages: the upload is kept at once and checked aside, its page
//! shows where it stands (and refreshes while it runs), the upload page lists the latest ones
//! so the office can leave and come back, and a check a restart cut short is given up.

use crate::common::TestApp;
use serde_json::{Value, json};

on_both_databases!(a_page_upload_is_checked_aside_listed_and_committed, a_check_cut_short_by_a_restart_is_given_up,);

const HEAD: [&str; 11] = ["学号", "姓名", "性别", "身份证号", "院系", "专业", "层次", "年级", "班级", "手机号", "邮箱"];

fn id_card(seq: u32) -> String {
    let body = format!("62010220010203{:03}", 100 + seq);
    let w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body.bytes().zip(w).map(|(d, w)| u32::from(d - b'0') * w).sum();
    format!("{body}{}", ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'][(sum % 11) as usize])
}

fn roster(rows: &[(&str, String)]) -> Vec<u8> {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|(no, card)| {
            [no, "页面导入", "男", card.as_str(), "继续教育学院", "小学教育", "本科(专科起点)", "2026", "页面班", "", ""]
                .iter()
                .map(|s| s.to_string())
                .collect()
        })
        .collect();
    campuspay_documents::write_xlsx("名单", &HEAD, &rows).unwrap()
}

struct Page {
    status: u16,
    body: String,
    location: String,
}

async fn page_of(res: reqwest::Response) -> Page {
    let status = res.status().as_u16();
    let location = res.headers().get("location").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    Page { status, body: res.text().await.unwrap(), location }
}

async fn get(app: &TestApp, cookie: &str, path: &str) -> Page {
    page_of(app.http.get(app.url(path)).header("cookie", cookie).send().await.unwrap()).await
}

async fn page_login(app: &TestApp) -> String {
    let form = [("school", "lut"), ("login", "finance"), ("password", "Finance#2026")];
    let res = app.http.post(app.url("/office/login")).form(&form).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 303);
    res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string()
}

fn csrf_of(html: &str) -> String {
    html.split("name=\"csrf\" value=\"").nth(1).expect("a csrf field").split('"').next().unwrap().to_string()
}

async fn upload_page(app: &TestApp, cookie: &str, file: Vec<u8>) -> Page {
    let csrf = csrf_of(&get(app, cookie, "/office/imports").await.body);
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf)
        .text("kind", "students")
        .part("file", reqwest::multipart::Part::bytes(file).file_name("名单.xlsx"));
    page_of(app.http.post(app.url("/office/imports")).header("cookie", cookie).multipart(form).send().await.unwrap()).await
}

async fn students_of_lut(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM students s JOIN schools c ON c.id = s.school_id WHERE c.code = 'lut'")
        .fetch_one(app.store.pool())
        .await
        .unwrap()
}

async fn a_page_upload_is_checked_aside_listed_and_committed(app: TestApp) {
    let cookie = page_login(&app).await;
    let before = students_of_lut(&app).await;
    let file = roster(&[("770001", id_card(1)), ("770002", id_card(2)), ("770003", "620102200102031234".into())]);
    let up = upload_page(&app, &cookie, file).await;
    // A small file is checked within the moment the page waits: straight to its preview.
    assert_eq!(up.status, 303, "{}", up.body);
    let id: i64 = up.location.strip_prefix("/office/imports/").expect(&up.location).parse().unwrap();
    let preview = get(&app, &cookie, &up.location).await;
    assert_eq!(preview.status, 200);
    assert!(preview.body.contains("id=\"valid\" class=\"good\">2<"), "{}", preview.body);
    assert!(preview.body.contains("身份证号校验位不正确"), "the bad row is listed");
    assert!(!preview.body.contains("http-equiv=\"refresh\""), "a finished check does not refresh");
    // The upload page lists it, so the office can come back to it.
    let list = get(&app, &cookie, "/office/imports").await;
    assert!(list.body.contains(&format!("href=\"/office/imports/{id}\"")) && list.body.contains("待确认"), "{}", list.body);
    assert_eq!(students_of_lut(&app).await, before, "a preview writes nothing");

    // A file refused as a whole is shown on the form at once, kept as 未通过, and writes nothing.
    let wrong = campuspay_documents::write_xlsx("名单", &["学号", "名字"], &[vec!["1".into(), "x".into()]]).unwrap();
    let refused = upload_page(&app, &cookie, wrong).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("表头缺少列") && refused.body.contains("未通过"), "{}", refused.body);

    let csrf = csrf_of(&preview.body);
    let res = app.http.post(app.url(&format!("/office/imports/{id}/commit"))).header("cookie", &cookie).form(&[("csrf", csrf.as_str())]);
    let done = page_of(res.send().await.unwrap()).await;
    assert_eq!((done.status, done.location.clone()), (303, format!("/office/imports/{id}?done=1")), "{}", done.body);
    let committed = get(&app, &cookie, &done.location).await;
    assert!(committed.body.contains("导入完成：新增 2 条"), "{}", committed.body);
    assert_eq!(students_of_lut(&app).await, before + 2);
    assert!(get(&app, &cookie, "/office/imports").await.body.contains("新增 2，更新 0"));
}

async fn a_check_cut_short_by_a_restart_is_given_up(app: TestApp) {
    // An upload kept but never checked: what a server stopped mid-check leaves behind.
    let (school_id, staff_id): (i64, i64) = sqlx::query_as(
        "SELECT s.school_id, s.id FROM staff s JOIN schools c ON c.id = s.school_id WHERE c.code = 'lut' AND s.login = 'finance'",
    )
    .fetch_one(app.store.pool())
    .await
    .unwrap();
    let mut tx = app.store.write_tx().await.unwrap();
    let new = campuspay_store::imports::NewImport {
        school_id,
        staff_id,
        kind: campuspay_domain::office::ImportKind::Students,
        file_name: "中断.xlsx",
        file_sha256: "00",
    };
    let id = app.store.insert_import(&mut tx, &new).await.unwrap();
    tx.commit().await.unwrap();
    let (s, fin) =
        app.post_json("/api/v1/office/login", json!({"school": "lut", "login": "finance", "password": "Finance#2026"}), None).await;
    assert_eq!(s, 200);
    let fin = fin["token"].as_str().unwrap();
    let (_, p) = app.get_json(&format!("/api/v1/office/imports/{id}"), Some(fin)).await;
    assert_eq!(p["status"], "checking", "{p}");
    let (s, v) = app.post_json(&format!("/api/v1/office/imports/{id}/commit"), json!({}), Some(fin)).await;
    assert_eq!((s, v["error"]["code"].as_str()), (409, Some("import_not_checked")), "nothing unchecked is written: {v}");

    // Its heartbeat is fresh: another instance may be checking it, so it is left alone.
    assert_eq!(campuspay_app::office::imports::give_up_stalled(&app.state.ctx).await.unwrap(), 0);
    // Another instance's figures show on this one's page.
    sqlx::query("UPDATE imports SET rows_done = 120, rows_total = 480 WHERE id = $1").bind(id).execute(app.store.pool()).await.unwrap();
    let (_, p) = app.get_json(&format!("/api/v1/office/imports/{id}"), Some(fin)).await;
    assert_eq!(
        (p["status"].as_str(), p["progress"]["done"].as_i64(), p["progress"]["total"].as_i64()),
        (Some("checking"), Some(120), Some(480)),
        "{p}"
    );
    // Its heartbeat stops: any instance gives it up.
    app.clock.advance(campuspay_app::office::imports::STALLED_AFTER_S + 1);
    assert_eq!(campuspay_app::office::imports::give_up_stalled(&app.state.ctx).await.unwrap(), 1);
    let (_, p): (u16, Value) = app.get_json(&format!("/api/v1/office/imports/{id}"), Some(fin)).await;
    assert_eq!(p["status"], "failed", "{p}");
    assert!(p["failure"].as_str().unwrap().contains("重新上传"), "{p}");
    // Given up once: the next look finds nothing left to give up.
    assert_eq!(campuspay_app::office::imports::give_up_stalled(&app.state.ctx).await.unwrap(), 0);
}
