//! The school's settings pages over real HTTP, on SQLite and PostgreSQL: merchant
//! configurations (secrets never shown, errors beside their fields, CSRF), the policy form
//! (every problem beside its fields, audited before/after), a new school as a form, staff and
//! announcements.

use crate::common::TestApp;
use serde_json::Value;

on_both_databases!(
    a_school_admin_replaces_a_merchant_key_through_the_form,
    the_policy_form_shows_each_problem_and_saves_what_is_right,
    the_platform_creates_a_school_from_the_form,
    settings_pages_refuse_roles_without_their_permission,
    a_school_admin_adds_disables_enables_and_resets_staff,
    announcements_are_written_scheduled_and_taken_down_from_the_page,
);

struct Page {
    status: u16,
    body: String,
    location: String,
}

async fn get(app: &TestApp, cookie: &str, path: &str) -> Page {
    let res = app.http.get(app.url(path)).header("cookie", cookie).send().await.unwrap();
    page_of(res).await
}

async fn post(app: &TestApp, cookie: &str, path: &str, form: &[(String, String)]) -> Page {
    let res = app.http.post(app.url(path)).header("cookie", cookie).form(form).send().await.unwrap();
    page_of(res).await
}

async fn page_of(res: reqwest::Response) -> Page {
    let status = res.status().as_u16();
    let location = res.headers().get("location").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    Page { status, location, body: res.text().await.unwrap() }
}

pub async fn page_login(app: &TestApp, school: &str, login: &str, password: &str) -> String {
    let form = [("school", school), ("login", login), ("password", password)];
    let res = app.http.post(app.url("/office/login")).form(&form).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let c = res.headers().get("set-cookie").unwrap().to_str().unwrap();
    c.split(';').next().unwrap().to_string()
}

fn csrf_of(html: &str) -> String {
    html.split("name=\"csrf\" value=\"").nth(1).expect("a csrf field").split('"').next().unwrap().to_string()
}

fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Every input of the page's settings form with its value (checked boxes only), as a browser
/// posts it.
fn fields_of(page: &str) -> Vec<(String, String)> {
    let html = page.split("class=\"panel policy\"").nth(1).expect("the settings form").split("</form>").next().unwrap();
    let mut out = Vec::new();
    for tag in html.split('<').skip(1) {
        let attr = |name: &str| tag.split(&format!(" {name}=\"")).nth(1).map(|r| r.split('"').next().unwrap().to_string());
        let unescape = |s: String| s.replace("&#38;", "&").replace("&amp;", "&").replace("&#34;", "\"").replace("&quot;", "\"");
        if tag.starts_with("input ") {
            let Some(name) = attr("name") else { continue };
            if tag.contains("type=\"checkbox\"") {
                if tag.contains(" checked") {
                    out.push((name, "on".into()));
                }
            } else {
                out.push((name, unescape(attr("value").unwrap_or_default())));
            }
        } else if tag.starts_with("textarea ") {
            let name = attr("name").unwrap();
            out.push((name, unescape(tag.split_once('>').unwrap().1.to_string())));
        } else if tag.starts_with("select ") {
            let name = attr("name").unwrap();
            let selected = html.split(&format!("name=\"{name}\"")).nth(1).unwrap().split("</select>").next().unwrap();
            let v = selected.split("<option value=\"").skip(1).find(|o| o.split('>').next().unwrap().contains("selected"));
            out.push((name, v.map(|o| o.split('"').next().unwrap().to_string()).unwrap_or_default()));
        }
    }
    out
}

fn set(fields: &mut [(String, String)], name: &str, value: &str) {
    fields.iter_mut().find(|(k, _)| k == name).unwrap_or_else(|| panic!("no field {name}")).1 = value.to_string();
}

async fn a_school_admin_replaces_a_merchant_key_through_the_form(app: TestApp) {
    let cookie = page_login(&app, "qdou", "admin", "Admin#2026").await;
    let page = get(&app, &cookie, "/office/merchants?channel=alipay").await;
    assert_eq!(page.status, 200);
    for words in ["商户配置", "微信支付", "银联二维码支付", "应用私钥", "支付宝公钥", "未配置", "商户 PID"] {
        assert!(page.body.contains(words), "{words}");
    }
    let csrf = csrf_of(&page.body);
    let sandbox = app.state.sandbox.as_ref().unwrap();
    let (_, a) = sandbox.merchant_configs(&app.base, &format!("{}/notify", app.base));
    let key_body: String = a.app_private_key_pem.lines().filter(|l| !l.starts_with("-----")).collect::<String>()[..40].to_string();
    let good = |key: &str| {
        form(&[
            ("csrf", &csrf),
            ("app_id", &a.app_id),
            ("app_private_key_pem", key),
            ("alipay_public_key_pem", &a.alipay_public_key_pem),
            ("gateway_url", &a.gateway_url),
        ])
    };
    // A key that is no key: 422, the message beside its field, the form as typed, nothing saved.
    let p = post(&app, &cookie, "/office/merchants/alipay", &good("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")).await;
    assert_eq!(p.status, 422, "{}", p.body);
    assert!(p.body.contains("id=\"app_private_key_pem-error\"") && p.body.contains("应用私钥无法使用"), "{}", p.body);
    assert!(p.body.contains(&format!("value=\"{}\"", a.app_id)), "the plain fields come back as typed");
    assert!(p.body.contains("重新粘贴"), "told the typed secret was not kept");
    let saved: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM merchant_configs").fetch_one(app.store.pool()).await.unwrap();
    assert_eq!(saved, 0);
    // Without the token: refused, nothing saved.
    let mut forged = good(&a.app_private_key_pem);
    forged[0].1 = "forged".into();
    assert_eq!(post(&app, &cookie, "/office/merchants/alipay", &forged).await.status, 403);
    // The right key: saved, back to the page, which says it is set and shows none of it.
    let p = post(&app, &cookie, "/office/merchants/alipay", &good(&a.app_private_key_pem)).await;
    assert_eq!((p.status, p.location.as_str()), (303, "/office/merchants?channel=alipay&saved=1"), "{}", p.body);
    let page = get(&app, &cookie, &p.location).await;
    assert!(page.body.contains("已保存") && page.body.contains("已配置") && page.body.contains("已设置（"), "{}", page.body);
    assert!(!page.body.contains(&key_body) && !page.body.contains("BEGIN PRIVATE KEY"));
    // Replaced again with the key left empty: kept; the audit says which secrets were replaced.
    let p = post(&app, &cookie, "/office/merchants/alipay", &good("")).await;
    assert_eq!(p.status, 303, "{}", p.body);
    let details: Vec<String> = sqlx::query_scalar("SELECT detail FROM audit_log WHERE action = 'school.merchant' ORDER BY id")
        .fetch_all(app.store.pool())
        .await
        .unwrap();
    assert_eq!(details.len(), 2);
    assert!(details.iter().all(|d| !d.contains(&key_body)));
}

async fn the_policy_form_shows_each_problem_and_saves_what_is_right(app: TestApp) {
    let cookie = page_login(&app, "lut", "admin", "Admin#2026").await;
    let page = get(&app, &cookie, "/office/school").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let before = app.store.school_by_code("lut").await.unwrap().unwrap().policy;
    assert!(page.body.contains(&format!("value=\"{}\"", before.payee)));
    assert!(page.body.contains("003 号学校只在 08:00–22:00 开放缴费"), "seed-based help");
    let mut fields = fields_of(&page.body);
    // Unchanged, the page's own form saves nothing new (and is accepted).
    let p = post(&app, &cookie, "/office/school", &fields).await;
    assert_eq!((p.status, p.location.as_str()), (303, "/office/school?saved=1"), "{}", p.body);
    assert_eq!(app.store.school_by_code("lut").await.unwrap().unwrap().policy, before, "the form round-trips the policy");
    // Two problems at once: each beside its field, nothing saved.
    set(&mut fields, "payee", " ");
    set(&mut fields, "order_ttl_minutes", "0");
    let p = post(&app, &cookie, "/office/school", &fields).await;
    assert_eq!(p.status, 422, "{}", p.body);
    assert!(p.body.contains("请填写收款单位") && p.body.contains("订单支付期限应为 5 分钟到 7 天"), "{}", p.body);
    assert!(p.body.contains("id=\"policy-error\""));
    // A shape the form cannot read is named too.
    set(&mut fields, "payee", "兰州理工大学财务处（新）");
    set(&mut fields, "order_ttl_minutes", "三十");
    let p = post(&app, &cookie, "/office/school", &fields).await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("订单支付期限须填写整数"), "{}", p.body);
    assert_eq!(app.store.school_by_code("lut").await.unwrap().unwrap().policy, before);
    // Right: saved, audited with before and after.
    set(&mut fields, "order_ttl_minutes", "30");
    let p = post(&app, &cookie, "/office/school", &fields).await;
    assert_eq!(p.status, 303, "{}", p.body);
    let after = app.store.school_by_code("lut").await.unwrap().unwrap().policy;
    assert_eq!((after.payee.as_str(), after.order_ttl_minutes), ("兰州理工大学财务处（新）", 30));
    let detail: String = sqlx::query_scalar("SELECT detail FROM audit_log WHERE action = 'school.policy' ORDER BY id DESC")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    let d: Value = serde_json::from_str(&detail).unwrap();
    assert_eq!(d["before"]["payee"], before.payee.as_str());
    assert_eq!(d["after"]["payee"], "兰州理工大学财务处（新）");
}

async fn the_platform_creates_a_school_from_the_form(app: TestApp) {
    let cookie = page_login(&app, "platform", "platform", "Platform#2026").await;
    let page = get(&app, &cookie, "/office/schools/new").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let mut fields = fields_of(&page.body);
    // The payee is left for the operator: refused beside it, with a bad code beside its field.
    set(&mut fields, "code", "New School");
    set(&mut fields, "name", "新建测试学院");
    set(&mut fields, "region", "甘肃省");
    let p = post(&app, &cookie, "/office/schools/new", &fields).await;
    assert_eq!(p.status, 422, "{}", p.body);
    assert!(p.body.contains("学校代码为 2–16 位小写字母或数字"), "{}", p.body);
    set(&mut fields, "code", "newsch");
    let p = post(&app, &cookie, "/office/schools/new", &fields).await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("请填写收款单位"), "{}", p.body);
    assert!(app.store.school_by_code("newsch").await.unwrap().is_none());
    set(&mut fields, "payee", "新建测试学院财务处");
    let p = post(&app, &cookie, "/office/schools/new", &fields).await;
    assert_eq!(p.status, 200, "{}", p.body);
    let password = p.body.split("id=\"one-time-password\">").nth(1).unwrap().split('<').next().unwrap().to_string();
    let school = app.store.school_by_code("newsch").await.unwrap().expect("created");
    assert_eq!(school.policy.payee, "新建测试学院财务处");
    // The first admin logs in with the one-time password shown.
    let res = app
        .http
        .post(app.url("/api/v1/office/login"))
        .json(&serde_json::json!({"school": "newsch", "login": "admin", "password": password}))
        .send()
        .await
        .unwrap();
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["must_change_password"], true, "{v}");
    // The operator sets up the new school's merchants from there.
    let page = get(&app, &cookie, "/office/merchants?school=newsch&channel=wechatpay").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("新建测试学院") && page.body.contains("公众号 AppSecret") && page.body.contains("API v3 密钥"));
}

async fn settings_pages_refuse_roles_without_their_permission(app: TestApp) {
    let cookie = page_login(&app, "qdou", "cashier", "Cashier#2026").await;
    for path in ["/office/merchants", "/office/school", "/office/schools/new"] {
        assert_eq!(get(&app, &cookie, path).await.status, 403, "{path}");
    }
    let home = get(&app, &cookie, "/office/").await;
    assert!(!home.body.contains("/office/merchants") && !home.body.contains("/office/school\""), "the menu hides them");
    let admin = page_login(&app, "qdou", "admin", "Admin#2026").await;
    let home = get(&app, &admin, "/office/").await;
    assert!(home.body.contains("href=\"/office/merchants\"") && home.body.contains("href=\"/office/school\""));
    // A school's admin cannot reach another school's merchants through the page.
    assert_eq!(get(&app, &admin, "/office/merchants?school=ejt").await.status, 404);
}

async fn api_login(app: &TestApp, school: &str, login: &str, password: &str) -> (u16, Value) {
    let body = serde_json::json!({"school": school, "login": login, "password": password});
    let res = app.http.post(app.url("/api/v1/office/login")).json(&body).send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

fn one_time_password(html: &str) -> String {
    html.split("id=\"one-time-password\">").nth(1).expect("a one-time password").split('<').next().unwrap().to_string()
}

async fn a_school_admin_adds_disables_enables_and_resets_staff(app: TestApp) {
    let cookie = page_login(&app, "ejt", "admin", "Admin#2026").await;
    let page = get(&app, &cookie, "/office/staff").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("finance") && page.body.contains("收费员") && page.body.contains("当前登录"));
    let csrf = csrf_of(&page.body);
    // A bad login is refused beside its field; then added, its one-time password shown once.
    let p = post(&app, &cookie, "/office/staff", &form(&[("csrf", &csrf), ("login", "柜台"), ("name", "王二"), ("role", "cashier")])).await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("账号只能由字母、数字和 . _ - 组成") && p.body.contains("value=\"王二\""), "{}", p.body);
    let p =
        post(&app, &cookie, "/office/staff", &form(&[("csrf", &csrf), ("login", "counter2"), ("name", "王二"), ("role", "cashier")])).await;
    assert_eq!(p.status, 200, "{}", p.body);
    let first = one_time_password(&p.body);
    assert!(!get(&app, &cookie, "/office/staff").await.body.contains(&first), "shown once only");
    let (status, v) = api_login(&app, "ejt", "counter2", &first).await;
    assert_eq!((status, v["role"].as_str()), (200, Some("cashier")));
    let token = v["token"].as_str().unwrap().to_string();
    // Disabled: the session ends at once and the login is refused.
    let p = post(&app, &cookie, "/office/staff/counter2/disable", &form(&[("csrf", &csrf)])).await;
    assert_eq!((p.status, p.location.as_str()), (303, "/office/staff?done=disabled"));
    let res = app.http.get(app.url("/api/v1/office/me")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 401);
    assert_eq!(api_login(&app, "ejt", "counter2", &first).await.0, 401);
    assert!(get(&app, &cookie, "/office/staff").await.body.contains("已停用"));
    // Enabled again; then a new one-time password replaces the old.
    assert_eq!(post(&app, &cookie, "/office/staff/counter2/enable", &form(&[("csrf", &csrf)])).await.status, 303);
    assert_eq!(api_login(&app, "ejt", "counter2", &first).await.0, 200);
    let p = post(&app, &cookie, "/office/staff/counter2/reset-password", &form(&[("csrf", &csrf)])).await;
    assert_eq!(p.status, 200);
    let second = one_time_password(&p.body);
    assert_eq!(api_login(&app, "ejt", "counter2", &first).await.0, 401);
    let (status, v) = api_login(&app, "ejt", "counter2", &second).await;
    assert_eq!((status, v["must_change_password"].as_bool()), (200, Some(true)));
    // Not one's own account; not another school's.
    assert_eq!(post(&app, &cookie, "/office/staff/admin/disable", &form(&[("csrf", &csrf)])).await.status, 422);
    let school = app.store.school_by_code("qdou").await.unwrap().unwrap().id;
    let qdou_cashier = app.store.staff_by_login(Some(school), "cashier").await.unwrap().unwrap();
    assert_eq!(post(&app, &cookie, "/office/staff/nosuch/disable", &form(&[("csrf", &csrf)])).await.status, 404);
    assert!(!app.store.staff_by_login(Some(school), "cashier").await.unwrap().unwrap().disabled && !qdou_cashier.disabled);
    // The API: the same, with a bearer token.
    let (_, admin) = api_login(&app, "ejt", "admin", "Admin#2026").await;
    let admin = admin["token"].as_str().unwrap().to_string();
    let res = app.http.post(app.url("/api/v1/office/staff/counter2/reset-password")).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["one_time_password"].as_str().unwrap().len(), second.len());
    // Audited, never with a password.
    let ejt = app.store.school_by_code("ejt").await.unwrap().unwrap().id;
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT action, detail FROM audit_log WHERE school_id = $1 AND actor = 'admin' AND action LIKE 'staff.%' AND detail LIKE '%counter2%' ORDER BY id")
            .bind(ejt)
            .fetch_all(app.store.pool())
            .await
            .unwrap();
    let actions: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(actions, ["staff.added", "staff.disabled", "staff.enabled", "staff.password_reset", "staff.password_reset"]);
    assert!(rows.iter().all(|r| !r.1.contains(&first) && !r.1.contains(&second)));
}

async fn announcements_are_written_scheduled_and_taken_down_from_the_page(app: TestApp) {
    let cookie = page_login(&app, "cqjzc", "finance", "Finance#2026").await;
    let page = get(&app, &cookie, "/office/announcements").await;
    assert_eq!(page.status, 200);
    let csrf = csrf_of(&page.body);
    let now = app.state.clock.now();
    let at = |t: i64| campuspay_domain::time::format_shanghai(t)[..16].replacen(' ', "T", 1);
    // An expiry before the publication: refused beside its field, the text kept.
    let bad = form(&[
        ("csrf", &csrf),
        ("title", "缴费提醒"),
        ("body", "请于月底前缴清学费。"),
        ("publish_at", ""),
        ("expire_at", &at(now - 3600)),
    ]);
    let p = post(&app, &cookie, "/office/announcements", &bad).await;
    assert_eq!(p.status, 422, "{}", p.body);
    assert!(p.body.contains("下线时间必须晚于发布时间") && p.body.contains("请于月底前缴清学费。"));
    let now_form = form(&[("csrf", &csrf), ("title", "缴费提醒"), ("body", "请于月底前缴清学费。"), ("publish_at", ""), ("expire_at", "")]);
    assert_eq!(post(&app, &cookie, "/office/announcements", &now_form).await.location, "/office/announcements?done=saved");
    let later = form(&[
        ("csrf", &csrf),
        ("title", "系统维护"),
        ("body", "周六 22:00 起维护两小时。"),
        ("publish_at", &at(now + 86_400)),
        ("expire_at", &at(now + 2 * 86_400)),
    ]);
    assert_eq!(post(&app, &cookie, "/office/announcements", &later).await.status, 303);
    let page = get(&app, &cookie, "/office/announcements").await;
    assert!(page.body.contains("显示中") && page.body.contains("定时发布"), "{}", page.body);
    let (_, token) = api_login(&app, "cqjzc", "finance", "Finance#2026").await;
    let res = app.http.get(app.url("/api/v1/office/announcements")).bearer_auth(token["token"].as_str().unwrap()).send().await.unwrap();
    let list: Value = res.json().await.unwrap();
    let id = list["announcements"].as_array().unwrap().iter().find(|a| a["title"] == "缴费提醒").unwrap()["id"].as_i64().unwrap();
    // Changed through its form, then taken down now.
    let edit = get(&app, &cookie, &format!("/office/announcements?edit={id}")).await;
    assert!(edit.body.contains(&format!("action=\"/office/announcements/{id}\"")) && edit.body.contains("请于月底前缴清学费。"));
    let changed =
        form(&[("csrf", &csrf), ("title", "缴费提醒（更新）"), ("body", "请于月底前缴清学费。"), ("publish_at", ""), ("expire_at", "")]);
    assert_eq!(post(&app, &cookie, &format!("/office/announcements/{id}"), &changed).await.status, 303);
    let p = post(&app, &cookie, &format!("/office/announcements/{id}/expire"), &form(&[("csrf", &csrf)])).await;
    assert_eq!(p.location, "/office/announcements?done=expired");
    let page = get(&app, &cookie, "/office/announcements").await;
    assert!(page.body.contains("缴费提醒（更新）") && page.body.contains("已下线"));
    // A cashier has no announcements: 403, and no menu entry.
    let cashier = page_login(&app, "cqjzc", "cashier", "Cashier#2026").await;
    assert_eq!(get(&app, &cashier, "/office/announcements").await.status, 403);
}
