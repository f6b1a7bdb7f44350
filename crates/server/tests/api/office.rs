//! The finance office's staff over real HTTP, on SQLite and on PostgreSQL: logins by role,
//! one-time passwords, throttling that holds under concurrency, sessions, the audit trail.

use crate::common::TestApp;
use serde_json::{Value, json};

on_both_databases!(
    demo_staff_log_in_with_their_roles_and_permissions,
    staff_of_one_school_are_not_staff_of_another,
    concurrent_wrong_passwords_check_at_most_the_limit,
    a_one_time_password_opens_nothing_but_its_change,
    logout_ends_the_session_and_both_are_audited,
    every_office_route_refuses_a_role_without_its_permission,
    the_counter_sees_its_own_students_only,
    a_reset_password_ends_sessions_and_forces_a_change,
    cash_at_the_counter_shows_on_the_student_page_once,
);

async fn staff_login(app: &TestApp, school: &str, login: &str, password: &str) -> (u16, Value) {
    app.post_json("/api/v1/office/login", json!({"school": school, "login": login, "password": password}), None).await
}

async fn demo_staff_log_in_with_their_roles_and_permissions(app: TestApp) {
    for (login, role, password) in [
        ("admin", "school_admin", "Admin#2026"),
        ("finance", "accountant", "Finance#2026"),
        ("cashier", "cashier", "Cashier#2026"),
        ("auditor", "auditor", "Auditor#2026"),
    ] {
        let (status, v) = staff_login(&app, "lut", login, password).await;
        assert_eq!(status, 200, "{login}: {v}");
        assert_eq!(v["role"], role);
        assert_eq!(v["school"], "lut");
        assert!(v["token"].as_str().unwrap().len() > 30);
        let perms: Vec<&str> = v["permissions"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
        let expected: Vec<&str> =
            role.parse::<campuspay_domain::office::Role>().unwrap().permissions().iter().map(|p| p.as_str()).collect();
        assert_eq!(perms, expected, "{login}");
        let (s, me) = app.get_json("/api/v1/office/me", v["token"].as_str()).await;
        assert_eq!((s, me["role"].as_str()), (200, Some(role)));
    }
    let (status, v) = staff_login(&app, "platform", "platform", "Platform#2026").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!((v["role"].as_str(), v["school"].is_null()), (Some("platform_admin"), true));
    assert_eq!(v["permissions"], json!(["manage_platform", "manage_merchants"]));
    // A student's token is no staff token, and a staff token is no student's.
    let student = app.session("qdou", "20230001").await;
    assert_eq!(app.get_json("/api/v1/office/me", Some(&student)).await.0, 401);
    let (_, fin) = staff_login(&app, "qdou", "finance", "Finance#2026").await;
    assert_eq!(app.get_json("/api/v1/student/me", fin["token"].as_str()).await.0, 401);
}

async fn staff_of_one_school_are_not_staff_of_another(app: TestApp) {
    // The same login and password exist at every demo school; each belongs to its own.
    let (_, a) = staff_login(&app, "qdou", "finance", "Finance#2026").await;
    assert_eq!(a["school"], "qdou");
    assert_eq!(staff_login(&app, "nosuch", "finance", "Finance#2026").await.0, 401);
    assert_eq!(staff_login(&app, "platform", "finance", "Finance#2026").await.0, 401);
    assert_eq!(staff_login(&app, "qdou", "platform", "Platform#2026").await.0, 401);
    let (status, v) = staff_login(&app, "qdou", "finance", "wrong").await;
    assert_eq!((status, v["error"]["code"].as_str()), (401, Some("invalid_credentials")));
}

async fn concurrent_wrong_passwords_check_at_most_the_limit(app: TestApp) {
    let limit = campuspay_app::office::auth::LOCK_AT as usize;
    // Every request is in flight before any is answered.
    let mut set = tokio::task::JoinSet::new();
    for i in 0..40 {
        let (http, url) = (app.http.clone(), app.url("/api/v1/office/login"));
        set.spawn(async move {
            let body = json!({"school": "ejt", "login": "cashier", "password": format!("Wrong#{i}")});
            http.post(url).json(&body).send().await.unwrap().status().as_u16()
        });
    }
    let answers = set.join_all().await;
    let checked = answers.iter().filter(|s| **s == 401).count();
    let locked = answers.iter().filter(|s| **s == 423).count();
    assert!(checked <= limit, "{checked} passwords were checked, more than {limit}: {answers:?}");
    assert_eq!(checked + locked, 40, "{answers:?}");
    // Locked now, even with the right password; other accounts are untouched.
    assert_eq!(staff_login(&app, "ejt", "cashier", "Cashier#2026").await.0, 423);
    assert_eq!(staff_login(&app, "ejt", "finance", "Finance#2026").await.0, 200);
}

async fn a_one_time_password_opens_nothing_but_its_change(app: TestApp) {
    let ctx = &app.state.ctx;
    let (_, once) =
        campuspay_app::office::auth::add_staff(ctx, None, "czie", "newcashier", "新收费员", campuspay_domain::office::Role::Cashier)
            .await
            .unwrap();
    let (status, v) = staff_login(&app, "czie", "newcashier", &once).await;
    assert_eq!((status, v["must_change_password"].as_bool()), (200, Some(true)), "{v}");
    let token = v["token"].as_str().unwrap();
    // The same login again is refused, at the same school.
    let again = campuspay_app::office::auth::add_staff(ctx, None, "czie", "newcashier", "x", campuspay_domain::office::Role::Cashier).await;
    assert_eq!(again.unwrap_err().code, "login_taken");
    let (s, v) =
        app.post_json("/api/v1/office/password", json!({"old_password": "nope", "new_password": "Counter#2026x"}), Some(token)).await;
    assert_eq!((s, v["error"]["code"].as_str()), (422, Some("password_wrong")));
    let (s, v) = app.post_json("/api/v1/office/password", json!({"old_password": once, "new_password": "123"}), Some(token)).await;
    assert_eq!((s, v["error"]["code"].as_str()), (422, Some("weak_password")));
    let (s, _) =
        app.post_json("/api/v1/office/password", json!({"old_password": once, "new_password": "Counter#2026x"}), Some(token)).await;
    assert_eq!(s, 204);
    let (_, me) = app.get_json("/api/v1/office/me", Some(token)).await;
    assert_eq!(me["must_change_password"], false);
    assert_eq!(staff_login(&app, "czie", "newcashier", &once).await.0, 401);
    assert_eq!(staff_login(&app, "czie", "newcashier", "Counter#2026x").await.0, 200);
}

async fn logout_ends_the_session_and_both_are_audited(app: TestApp) {
    let (_, v) = staff_login(&app, "cqjzc", "auditor", "Auditor#2026").await;
    let token = v["token"].as_str().unwrap();
    assert_eq!(app.post_json("/api/v1/office/logout", json!({}), Some(token)).await.0, 204);
    assert_eq!(app.get_json("/api/v1/office/me", Some(token)).await.0, 401);
    let school = app.store.school_by_code("cqjzc").await.unwrap().unwrap().id;
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT actor, action, detail FROM audit_log WHERE school_id = $1 AND action LIKE 'staff.%' ORDER BY id")
            .bind(school)
            .fetch_all(app.store.pool())
            .await
            .unwrap();
    let actions: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(actions, ["staff.login", "staff.logout"]);
    assert!(rows.iter().all(|r| r.0 == "auditor" && r.2.contains("\"role\":\"auditor\"") && r.2.contains("\"ip\"")), "{rows:?}");
}

/// A table-driven walk of every office route with every role: a role without the route's
/// permission gets 403 `forbidden` and changes nothing; a role with it gets past the check.
async fn every_office_route_refuses_a_role_without_its_permission(app: TestApp) {
    use campuspay_domain::office::Role;
    let logins = [
        ("qdou", "admin", "Admin#2026", Role::SchoolAdmin),
        ("qdou", "finance", "Finance#2026", Role::Accountant),
        ("qdou", "cashier", "Cashier#2026", Role::Cashier),
        ("qdou", "auditor", "Auditor#2026", Role::Auditor),
        ("platform", "platform", "Platform#2026", Role::PlatformAdmin),
    ];
    let mut walked = 0;
    for (school, login, password, role) in logins {
        let (_, v) = staff_login(&app, school, login, password).await;
        let token = v["token"].as_str().unwrap().to_string();
        for (method, path, permission) in campuspay_server::office::ROUTES {
            let Some(p) = permission else { continue };
            // A student of qdou that no other call of this walk touches.
            // Ids that exist nowhere: a role with the permission is answered 404, never 403.
            let url = app.url(
                &path
                    .replace("{student_no}", "20230003")
                    .replace("{id}", "987654")
                    .replace("{kind}", "students")
                    .replace("{channel}", "alipay"),
            );
            // Required query fields, so that only the permission can refuse the request.
            let url = match *path {
                "/api/v1/office/reports/collection" => format!("{url}?period=WALK&by=class"),
                "/api/v1/office/reports/collection/debtors" => format!("{url}?period=WALK&by=class&key=WALK"),
                "/api/v1/office/reconciliation" => format!("{url}?date=2026-01-01"),
                "/api/v1/office/reports/daily" => format!("{url}?from=2026-01-01&to=2026-01-02"),
                "/api/v1/office/ledger/voucher" => format!("{url}?from=2026-01-01&to=2026-01-02&format=xlsx"),
                _ => url,
            };
            // A well-formed body, so that only the permission can refuse it.
            let body = match *path {
                "/api/v1/office/offline-payments" => json!({"student_no": "20230003", "lines": [], "method": "cash", "reference": "WALK"}),
                "/api/v1/office/fee-items" => json!({"code": "WALK", "name": "巡检"}),
                "/api/v1/office/periods" => json!({"code": "WALK", "name": "巡检", "academic_year": "2099-2100"}),
                "/api/v1/office/charge-runs" => json!({"fee_item": 987654, "period": "WALK", "dry_run": true}),
                "/api/v1/office/charges/{id}/waivers" => json!({"amount_fen": 1, "reason": "巡检"}),
                "/api/v1/office/charges/{id}/deferrals" => json!({"until": "2099-01-01", "reason": "巡检"}),
                "/api/v1/office/charges/{id}/cancellation" => json!({"reason": "巡检"}),
                "/api/v1/office/announcements" | "/api/v1/office/announcements/{id}" => json!({"title": "巡检", "body": "巡检"}),
                "/api/v1/office/schools" => json!({"code": "walk", "name": "巡检", "region": "巡检", "policy": {}}),
                "/api/v1/office/staff" => json!({"login": "walk", "name": "巡检", "role": "nosuch"}),
                "/api/v1/office/receipts/{id}/reissue" => json!({"kind": "individual", "title": "巡检", "reason": "巡检"}),
                "/api/v1/office/refunds" => {
                    json!({"order_no": "WALK", "lines": [{"charge_id": 987654, "amount_fen": 1}], "reason": "巡检"})
                }
                "/api/v1/office/exceptions/{id}/resolve" => json!({"action": "note", "note": "巡检"}),
                "/api/v1/office/reconciliation/run" => json!({"date": "2026-01-01"}),
                "/api/v1/office/exports" => json!({"kind": "daily", "from": "2026-01-01", "to": "2026-01-02"}),
                _ => json!({}),
            };
            let req = match *method {
                "GET" => app.http.get(url),
                "PUT" => app.http.put(url).json(&body),
                _ => app.http.post(url).json(&body),
            };
            let res = req.bearer_auth(&token).send().await.unwrap();
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            if role.can(*p) {
                assert_ne!(status, 403, "{role:?} has {p:?} but {method} {path} refused it: {body}");
            } else {
                assert_eq!((status, body["error"]["code"].as_str()), (403, Some("forbidden")), "{role:?} lacks {p:?}: {method} {path}");
            }
            walked += 1;
        }
    }
    assert!(walked >= 15, "the walk visited {walked} route × role pairs");
    // The refusals changed nothing: 20230003's password was reset only by the roles allowed to.
    let (_, auditor) = staff_login(&app, "qdou", "auditor", "Auditor#2026").await;
    let (_, log) = app.get_json("/api/v1/office/audit?action=student.password_reset", auditor["token"].as_str()).await;
    let actors: Vec<&str> = log["entries"].as_array().unwrap().iter().map(|e| e["actor"].as_str().unwrap()).collect();
    let mut allowed: Vec<&str> =
        logins.iter().filter(|l| l.3.can(campuspay_domain::office::Permission::ManageStudentAccounts)).map(|l| l.1).collect();
    allowed.reverse();
    assert_eq!(actors, allowed);
}

async fn the_counter_sees_its_own_students_only(app: TestApp) {
    let (_, cashier) = staff_login(&app, "lut", "cashier", "Cashier#2026").await;
    let token = cashier["token"].as_str();
    let (s, f) = app.get_json("/api/v1/office/students/20230002", token).await;
    assert_eq!(s, 200, "{f}");
    assert_eq!(f["student"]["name"], "李华");
    // Everything paid offline: the ledger explains every fen of it.
    let paid: i64 = f["charges"].as_array().unwrap().iter().map(|c| c["paid_fen"].as_i64().unwrap()).sum();
    let ledger: i64 =
        f["ledger"].as_array().unwrap().iter().filter(|l| l["kind"] == "offline_payment").map(|l| l["amount_fen"].as_i64().unwrap()).sum();
    assert!(paid > 0 && paid == ledger, "paid {paid}, ledger {ledger}");
    assert_eq!(f["total_arrears_fen"], 0);
    // Another school's number, or none at all, is simply not found.
    let (_, other) = staff_login(&app, "qdou", "cashier", "Cashier#2026").await;
    let (s, v) = app.get_json("/api/v1/office/students/nosuch", token).await;
    assert_eq!((s, v["error"]["code"].as_str()), (404, Some("student_not_found")));
    let (s, _) = app.get_json("/api/v1/office/students/20230002", other["token"].as_str()).await;
    assert_eq!(s, 200, "qdou's own 20230002 is qdou's");
    let lut = app.store.school_by_code("lut").await.unwrap().unwrap().id;
    let lut_only = app.store.student_by_no(lut, "20230002").await.unwrap().unwrap();
    let (_, qdou_view) = app.get_json("/api/v1/office/students/20230002", other["token"].as_str()).await;
    assert_ne!(qdou_view["student"]["phone"], lut_only.phone, "qdou's staff saw lut's student");
}

async fn a_reset_password_ends_sessions_and_forces_a_change(app: TestApp) {
    // qdou does not force a change of the initial password; after an office reset it must.
    let student = app.session("qdou", "20230001").await;
    let (s, _) = app
        .post_json("/api/v1/student/password", json!({"old_password": "01111X", "new_password": "Campus#Pay2026!"}), Some(&student))
        .await;
    assert_eq!(s, 200);
    let (_, fin) = staff_login(&app, "qdou", "finance", "Finance#2026").await;
    let (s, _) = app.post_json("/api/v1/office/students/20230001/reset-password", json!({}), fin["token"].as_str()).await;
    assert_eq!(s, 204);
    assert_eq!(app.get_json("/api/v1/student/charges", Some(&student)).await.0, 401, "the session survived the reset");
    assert_eq!(app.login("qdou", "20230001", "Campus#Pay2026!").await.0, 401);
    let (s, v) = app.login("qdou", "20230001", "01111X").await;
    assert_eq!((s, v["must_change_password"].as_bool()), (200, Some(true)), "{v}");
    let (s, v) = app.post_json("/api/v1/office/students/nosuch/reset-password", json!({}), fin["token"].as_str()).await;
    assert_eq!((s, v["error"]["code"].as_str()), (404, Some("student_not_found")));
    let (_, auditor) = staff_login(&app, "qdou", "auditor", "Auditor#2026").await;
    let (_, log) = app.get_json("/api/v1/office/audit?action=student.password_reset", auditor["token"].as_str()).await;
    let e = &log["entries"][0];
    assert_eq!(
        (e["actor"].as_str(), e["detail"]["subject"].as_str(), e["detail"]["role"].as_str()),
        (Some("finance"), Some("student:20230001"), Some("accountant"))
    );
}

async fn cash_at_the_counter_shows_on_the_student_page_once(app: TestApp) {
    let student = app.session("qdou", "20230001").await;
    let (_, list) = app.get_json("/api/v1/student/charges", Some(&student)).await;
    let owed: Vec<&Value> = list["charges"].as_array().unwrap().iter().filter(|c| c["arrears_fen"].as_i64().unwrap() > 0).collect();
    let (a, b) = (owed[0], owed[1]);
    let (_, cashier) = staff_login(&app, "qdou", "cashier", "Cashier#2026").await;
    let token = cashier["token"].as_str();
    let pay = |lines: Value, method: &str, reference: &str| json!({"student_no": "20230001", "lines": lines, "method": method, "reference": reference});
    let lines = json!([{"charge_id": a["id"], "amount_fen": a["arrears_fen"]}, {"charge_id": b["id"], "amount_fen": 100}]);
    // Bad input changes nothing.
    for (body, code) in [
        (pay(lines.clone(), "alipay", "R1"), "invalid_method"),
        (pay(lines.clone(), "cash", ""), "invalid_reference"),
        (pay(json!([]), "cash", "R1"), "no_lines"),
        (pay(json!([{"charge_id": a["id"], "amount_fen": 0}]), "cash", "R1"), "invalid_amount"),
        (pay(json!([{"charge_id": a["id"], "amount_fen": a["arrears_fen"].as_i64().unwrap() + 1}]), "cash", "R1"), "amount_over_owed"),
        (pay(json!([{"charge_id": 999999, "amount_fen": 1}]), "cash", "R1"), "charge_not_found"),
    ] {
        let (s, v) = app.post_json("/api/v1/office/offline-payments", body, token).await;
        assert_eq!(v["error"]["code"], code, "{s} {v}");
    }
    // Two clicks at once: one payment.
    let body = pay(lines.clone(), "cash", "SJ-2026-0001");
    let (first, second) = tokio::join!(
        app.post_json("/api/v1/office/offline-payments", body.clone(), token),
        app.post_json("/api/v1/office/offline-payments", body.clone(), token)
    );
    assert_eq!((first.0, second.0), (200, 200), "{first:?} {second:?}");
    assert_eq!(first.1["id"], second.1["id"]);
    assert_eq!(
        [first.1["already_recorded"].as_bool(), second.1["already_recorded"].as_bool()].iter().filter(|x| **x == Some(true)).count(),
        1
    );
    // The student sees it at once.
    let (_, after) = app.get_json("/api/v1/student/charges", Some(&student)).await;
    let find = |id: &Value| after["charges"].as_array().unwrap().iter().find(|c| c["id"] == *id).unwrap().clone();
    assert_eq!(find(&a["id"])["arrears_fen"], 0);
    assert_eq!(find(&b["id"])["paid_fen"].as_i64().unwrap(), b["paid_fen"].as_i64().unwrap() + 100);
    // The same reference for other money is refused.
    let (s, v) = app
        .post_json("/api/v1/office/offline-payments", pay(json!([{"charge_id": b["id"], "amount_fen": 1}]), "cash", "SJ-2026-0001"), token)
        .await;
    assert_eq!((s, v["error"]["code"].as_str()), (409, Some("reference_used")));
    // A charge held by the student's unpaid online order cannot be paid at the counter.
    let (s, order) = app.post_json("/api/v1/student/orders", json!({"charges": [{"id": b["id"]}]}), Some(&student)).await;
    assert!(s == 200 || s == 201, "{s} {order}");
    let (s, v) = app
        .post_json("/api/v1/office/offline-payments", pay(json!([{"charge_id": b["id"], "amount_fen": 1}]), "pos", "POS-7"), token)
        .await;
    assert_eq!((s, v["error"]["code"].as_str()), (409, Some("charge_in_order")));
    // The ledger and the audit log say it once.
    let (_, file) = app.get_json("/api/v1/office/students/20230001", token).await;
    let rows: Vec<&Value> = file["ledger"].as_array().unwrap().iter().filter(|l| l["reference"] == "SJ-2026-0001").collect();
    assert_eq!(rows.len(), 2);
    let (_, auditor) = staff_login(&app, "qdou", "auditor", "Auditor#2026").await;
    let (_, log) = app.get_json("/api/v1/office/audit?action=payment.offline", auditor["token"].as_str()).await;
    assert_eq!(log["entries"].as_array().unwrap().len(), 1);
}

/// The permission table the walk above uses names exactly the office routes the server
/// serves and documents: a new route cannot escape the walk.
#[test]
fn the_permission_table_names_every_office_route() {
    let doc = campuspay_server::api::openapi_spec();
    let mut documented: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, _)| path.starts_with("/api/v1/office/"))
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .filter(|m| ["get", "post", "put", "delete", "patch"].contains(&m.as_str()))
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let mut table: Vec<(String, String)> =
        campuspay_server::office::ROUTES.iter().map(|(m, p, _)| (m.to_string(), p.to_string())).collect();
    documented.sort();
    table.sort();
    assert_eq!(documented, table);
}
