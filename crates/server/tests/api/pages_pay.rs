//! The student pay pages end to end over HTTP, on SQLite and PostgreSQL: choose → (agreement)
//! → confirm → order page → pay by QR through the simulator → the order page says 缴费成功.

use crate::common;

use common::TestApp;
use serde_json::Value;
use std::time::{Duration, Instant};

on_both_databases!(
    qr_payment_from_choose_to_paid,
    agreement_countdown_is_enforced_by_the_server,
    cart_rule_errors_come_back_to_the_choose_step,
    forms_without_the_csrf_token_are_refused,
    changing_the_method_starts_from_the_one_in_use,
);

/// A page session (the API token as the page cookie) and its CSRF token.
async fn page_session(app: &TestApp, school: &str) -> (String, String, String) {
    let token = app.session(school, "20230001").await;
    let cookie = format!("campuspay_session={token}");
    let home = get(app, &cookie, &format!("/s/{school}/home")).await.1;
    let csrf = home.split("name=\"csrf\" value=\"").nth(1).expect("a csrf field").split('"').next().unwrap().to_string();
    (token, cookie, csrf)
}

async fn get(app: &TestApp, cookie: &str, path: &str) -> (u16, String, String) {
    let res = app.http.get(app.url(path)).header("cookie", cookie).send().await.unwrap();
    let status = res.status().as_u16();
    let location = res.headers().get("location").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, res.text().await.unwrap(), location)
}

async fn post(app: &TestApp, cookie: &str, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
    let res = app.http.post(app.url(path)).header("cookie", cookie).form(form).send().await.unwrap();
    let status = res.status().as_u16();
    let location = res.headers().get("location").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, res.text().await.unwrap(), location)
}

async fn owed(app: &TestApp, token: &str) -> Vec<Value> {
    let (_, c) = app.get_json("/api/v1/student/charges", Some(token)).await;
    c["charges"].as_array().unwrap().iter().filter(|c| c["arrears_fen"].as_i64().unwrap() > 0).cloned().collect()
}

fn charge_id(charges: &[Value], item: &str) -> String {
    charges.iter().find(|c| c["item"] == item).unwrap_or_else(|| panic!("no owed {item}"))["id"].to_string()
}

async fn qr_payment_from_choose_to_paid(app: TestApp) {
    let (token, cookie, csrf) = page_session(&app, "qdou").await;
    let home = get(&app, &cookie, "/s/qdou/home").await.1;
    assert!(home.contains("name=\"charge\"") && home.contains("去缴费") && home.contains("/static/pay.js"), "a form to choose");
    let xf = charge_id(&owed(&app, &token).await, "学费");

    // Confirm: items, total, payee, the e-receipt phone prefilled.
    let (status, confirm, _) = get(&app, &cookie, &format!("/s/qdou/pay/confirm?charge={xf}")).await;
    assert_eq!(status, 200, "{confirm}");
    assert!(confirm.contains("收款单位") && confirm.contains("青岛开放大学") && confirm.contains("¥2,400.00"));
    assert!(confirm.contains("提交订单"), "{confirm}");
    assert!(
        confirm.contains("id=\"phone\" name=\"phone\" inputmode=\"numeric\" autocomplete=\"tel\" maxlength=\"11\" value=\"1510000889"),
        "prefilled"
    );

    // A bad phone comes back next to the phone field; nothing is created.
    let bad = [("csrf", csrf.as_str()), ("charge", xf.as_str()), ("phone", "12345"), ("invoice_kind", "individual")];
    let (status, page, _) = post(&app, &cookie, "/s/qdou/orders", &bad).await;
    assert_eq!(status, 422);
    assert!(page.contains("id=\"phone-error\"") && page.contains("手机号格式有误"), "{page}");

    let form = [("csrf", csrf.as_str()), ("charge", xf.as_str()), ("phone", "15100008891"), ("invoice_kind", "individual")];
    let (status, _, location) = post(&app, &cookie, "/s/qdou/orders", &form).await;
    assert_eq!(status, 303);
    let no = location.rsplit('/').next().unwrap().to_string();
    assert!(location.starts_with("/s/qdou/orders/") && no.len() == 30, "{location}");

    let (_, page, _) = get(&app, &cookie, &location).await;
    assert!(page.contains("请在 <strong>") && page.contains("</strong> 前完成付款"), "deadline shown");
    assert!(page.contains("待支付") && page.contains("青岛开放大学") && page.contains("¥2,400.00"));
    assert!(page.contains("value=\"wechat_native\"") && page.contains("value=\"alipay_qr\""));
    assert!(!page.contains("value=\"wechat_jsapi\""), "in-app WeChat Pay needs WeChat's login");
    // The same item again: the live order holds it, and the page links to that order.
    let (status, again, _) = post(&app, &cookie, "/s/qdou/orders", &form).await;
    assert_eq!(status, 409);
    assert!(again.contains(&format!("/s/qdou/orders/{no}")) && again.contains("请勿重复缴费"), "{again}");

    // WeChat scan: the QR code shows on the order page, and the state says we are confirming.
    let pay = [("csrf", csrf.as_str()), ("channel", "wechat_native")];
    let (status, _, back) = post(&app, &cookie, &format!("/s/qdou/orders/{no}/pay"), &pay).await;
    assert_eq!(status, 303);
    assert_eq!(back, format!("/s/qdou/orders/{no}#pay"));
    let (_, page, _) = get(&app, &cookie, &location).await;
    assert!(page.contains("<svg") && page.contains("请使用微信扫码支付") && page.contains("正在确认支付结果"), "{page}");
    assert!(page.contains("http-equiv=\"refresh\""), "follows the order without scripts too");
    let (_, o) = app.get_json(&format!("/api/v1/student/orders/{no}"), Some(&token)).await;
    let out_trade_no = o["attempts"][0]["out_trade_no"].as_str().unwrap().to_string();
    let res = app.http.post(app.url(&format!("/sandbox/wechatpay/orders/{out_trade_no}/pay"))).send().await.unwrap();
    assert!(res.status().is_success());

    let t0 = Instant::now();
    loop {
        let (_, state, _) = get(&app, &cookie, &format!("/s/qdou/orders/{no}/state")).await;
        if state.contains("\"paid\"") {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "not paid: {state}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, page, _) = get(&app, &cookie, &location).await;
    assert!(page.contains("缴费成功") && page.contains("state big paid"), "paid in words and colour");
    assert!(page.contains("支付成功") && page.contains("支付遇到问题") && !page.contains("value=\"wechat_native\""));
    let (_, records, _) = get(&app, &cookie, "/s/qdou/payments").await;
    assert!(records.contains(&no) && records.contains("微信扫码支付") && records.contains("银行交易记录") && records.contains("已入账"));
    let (_, help, _) = get(&app, &cookie, &format!("/s/qdou/help/payment?order={no}")).await;
    assert!(help.contains("自动") && help.contains("0532-00000000") && !help.contains("1-2个工作日"));
}

async fn agreement_countdown_is_enforced_by_the_server(app: TestApp) {
    let (token, cookie, csrf) = page_session(&app, "ejt").await;
    let zsf = charge_id(&owed(&app, &token).await, "住宿费");
    // The confirm step is not reached without agreeing.
    let (status, _, location) = get(&app, &cookie, &format!("/s/ejt/pay/confirm?charge={zsf}")).await;
    assert_eq!(status, 303);
    assert_eq!(location, format!("/s/ejt/pay/agreement?charge={zsf}"));
    let (_, page, _) = get(&app, &cookie, &location).await;
    assert!(page.contains("网上缴费须知") && page.contains("data-countdown=\"10\""));
    let shown = page.split("name=\"shown\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();

    // Too early: refused in words, and the countdown goes on from when the page was served.
    let form = [("csrf", csrf.as_str()), ("shown", shown.as_str()), ("charge", zsf.as_str())];
    let (status, page, _) = post(&app, &cookie, "/s/ejt/pay/agree", &form).await;
    assert_eq!(status, 422);
    assert!(page.contains("10秒后才能点击同意"), "{page}");
    // An older time with the same signature is not believed.
    let (t, sig) = shown.split_once('.').unwrap();
    let forged = format!("{}.{sig}", t.parse::<i64>().unwrap() - 60);
    let (status, _, location) =
        post(&app, &cookie, "/s/ejt/pay/agree", &[("csrf", csrf.as_str()), ("shown", forged.as_str()), ("charge", zsf.as_str())]).await;
    assert_eq!(status, 303);
    assert!(location.starts_with("/s/ejt/pay/agreement"), "{location}");
    // Neither is an order placed around it.
    let (status, _, location) = post(&app, &cookie, "/s/ejt/orders", &[("csrf", csrf.as_str()), ("charge", zsf.as_str())]).await;
    assert_eq!(status, 303);
    assert!(location.starts_with("/s/ejt/pay/agreement"));

    tokio::time::sleep(Duration::from_millis(10_200)).await;
    let (status, _, confirm_url) = post(&app, &cookie, "/s/ejt/pay/agree", &form).await;
    assert_eq!(status, 303);
    assert!(confirm_url.starts_with("/s/ejt/pay/confirm?") && confirm_url.contains("agreed="), "{confirm_url}");
    let (status, confirm, _) = get(&app, &cookie, &confirm_url).await;
    assert_eq!(status, 200);
    assert!(confirm.contains("¥1,200.00") && confirm.contains("E缴通演示学院"));
    let agreed = confirm.split("name=\"agreed\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let order = [("csrf", csrf.as_str()), ("agreed", agreed.as_str()), ("charge", zsf.as_str()), ("phone", "15100008891")];
    let (status, _, location) = post(&app, &cookie, "/s/ejt/orders", &order).await;
    assert_eq!(status, 303);
    assert!(location.starts_with("/s/ejt/orders/EJ"), "{location}");
}

async fn cart_rule_errors_come_back_to_the_choose_step(app: TestApp) {
    let (token, cookie, _) = page_session(&app, "cqjzc").await;
    let owed = owed(&app, &token).await;
    let tjf = charge_id(&owed, "体检费");
    let (status, page, _) = get(&app, &cookie, &format!("/s/cqjzc/pay/confirm?charge={tjf}")).await;
    assert_eq!(status, 422);
    assert!(page.contains("id=\"choose-error\"") && page.contains("请先缴清必缴项目"), "the rule's message by the items");
    assert!(page.contains("已为您勾选"), "and its suggestion applied");
    for mandatory in ["学费", "住宿费", "提档费"] {
        let id = charge_id(&owed, mandatory);
        assert!(page.contains(&format!("value=\"{id}\" data-left")), "{mandatory} offered");
    }
    // An amount the page cannot read is shown in its row.
    let (status, page, _) = get(&app, &cookie, &format!("/s/cqjzc/pay/confirm?charge={tjf}&amount_{tjf}=abc")).await;
    assert_eq!(status, 422);
    assert!(page.contains(&format!("id=\"row-error-{tjf}\"")) && page.contains("请输入正确的金额"), "{page}");
}

async fn forms_without_the_csrf_token_are_refused(app: TestApp) {
    let (token, cookie, csrf) = page_session(&app, "qdou").await;
    let xf = charge_id(&owed(&app, &token).await, "学费");
    let (status, _, _) = post(&app, &cookie, "/s/qdou/orders", &[("charge", xf.as_str())]).await;
    assert_eq!(status, 403);
    let (status, _, _) = post(&app, &cookie, "/s/qdou/orders", &[("csrf", "wrong"), ("charge", xf.as_str())]).await;
    assert_eq!(status, 403);
    let (_, _, location) = post(&app, &cookie, "/s/qdou/orders", &[("csrf", csrf.as_str()), ("charge", xf.as_str())]).await;
    let no = location.rsplit('/').next().unwrap();
    let (status, _, _) = post(&app, &cookie, &format!("/s/qdou/orders/{no}/pay"), &[("channel", "wechat_native")]).await;
    assert_eq!(status, 403);
    let (status, _, _) = post(&app, &cookie, &format!("/s/qdou/orders/{no}/cancel"), &[]).await;
    assert_eq!(status, 403);
    // With the token, cancelling works and the order says so.
    let (status, _, _) = post(&app, &cookie, &format!("/s/qdou/orders/{no}/cancel"), &[("csrf", csrf.as_str())]).await;
    assert_eq!(status, 303);
    let (_, page, _) = get(&app, &cookie, &format!("/s/qdou/orders/{no}")).await;
    assert!(page.contains("已取消") && !page.contains("value=\"wechat_native\""));
}

/// With a payment open, "更换支付方式" shows the method in use as chosen, not the one ranked
/// first; a new order still starts from the first.
async fn changing_the_method_starts_from_the_one_in_use(app: TestApp) {
    let (token, cookie, csrf) = page_session(&app, "qdou").await;
    let xf = charge_id(&owed(&app, &token).await, "学费");
    let form = [("csrf", csrf.as_str()), ("charge", xf.as_str()), ("phone", "15100008891"), ("invoice_kind", "individual")];
    let (status, _, location) = post(&app, &cookie, "/s/qdou/orders", &form).await;
    assert_eq!(status, 303);
    let (_, page, _) = get(&app, &cookie, &location).await;
    assert!(page.contains("请选择支付方式") && page.contains("value=\"wechat_native\" checked"), "{page}");
    assert!(!page.contains("value=\"alipay_qr\" checked"), "{page}");

    let pay = [("csrf", csrf.as_str()), ("channel", "alipay_qr")];
    let (status, _, _) = post(&app, &cookie, &format!("{location}/pay"), &pay).await;
    assert_eq!(status, 303);
    let (_, page, _) = get(&app, &cookie, &location).await;
    assert!(page.contains("更换支付方式") && page.contains("请使用支付宝扫码支付"), "{page}");
    assert!(page.contains("value=\"alipay_qr\" checked"), "the method in use is the one chosen: {page}");
    assert!(!page.contains("value=\"wechat_native\" checked"), "{page}");
}
