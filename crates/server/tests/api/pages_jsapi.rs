//! WeChat Pay inside WeChat's browser (JSAPI) through the pages, on SQLite and PostgreSQL:
//! 确认支付 → WeChat's silent sign-in (snsapi_base) → back with a code → the payer's openid is
//! kept with the session → the pay page hands the signed parameters to WeChat's sheet → paid.
//! A forged or replayed return from the sign-in starts nothing.

use crate::common;

use common::TestApp;
use serde_json::Value;
use std::time::{Duration, Instant};

on_both_databases!(jsapi_signs_in_once_then_pays_on_the_sheet, a_forged_or_replayed_sign_in_return_starts_nothing);

const WECHAT_UA: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Mobile Safari/537.36 MicroMessenger/8.0.49.2600";

struct Wx<'a> {
    app: &'a TestApp,
    cookie: String,
    csrf: String,
}

impl Wx<'_> {
    async fn get(&self, url: &str, extra_cookie: Option<&str>) -> (u16, String, String) {
        let url = if url.starts_with("http") { url.to_string() } else { self.app.url(url) };
        let cookie = match extra_cookie {
            Some(c) => format!("{}; {c}", self.cookie),
            None => self.cookie.clone(),
        };
        let res = self.app.http.get(url).header("cookie", cookie).header("user-agent", WECHAT_UA).send().await.unwrap();
        let status = res.status().as_u16();
        let location = res.headers().get("location").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        let set_cookie = res.headers().get("set-cookie").map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string());
        let body = res.text().await.unwrap();
        (status, if location.is_empty() { body } else { format!("{location}\n{}", set_cookie.unwrap_or_default()) }, location)
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
        let res = self
            .app
            .http
            .post(self.app.url(path))
            .header("cookie", &self.cookie)
            .header("user-agent", WECHAT_UA)
            .form(form)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let location = res.headers().get("location").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        (status, res.text().await.unwrap(), location)
    }

    /// An order for 学费; its number.
    async fn order(&self, item: &str) -> String {
        let token = self.cookie.trim_start_matches("campuspay_session=");
        let (_, c) = self.app.get_json("/api/v1/student/charges", Some(token)).await;
        let id =
            c["charges"].as_array().unwrap().iter().find(|c| c["item"] == item && c["arrears_fen"].as_i64().unwrap() > 0).unwrap()["id"]
                .to_string();
        let form = [("csrf", self.csrf.as_str()), ("charge", id.as_str()), ("phone", "15100008891"), ("invoice_kind", "individual")];
        let (status, body, location) = self.post("/s/qdou/orders", &form).await;
        assert_eq!(status, 303, "{body}");
        location.rsplit('/').next().unwrap().to_string()
    }

    /// 确认支付 with WeChat JSAPI: the sign-in address the page sends the browser to.
    async fn choose_jsapi(&self, no: &str) -> (u16, String, String) {
        self.post(&format!("/s/qdou/orders/{no}/pay"), &[("csrf", self.csrf.as_str()), ("channel", "wechat_jsapi")]).await
    }
}

async fn session(app: &TestApp) -> Wx<'_> {
    let token = app.session("qdou", "20230001").await;
    let cookie = format!("campuspay_session={token}");
    let res = app.http.get(app.url("/s/qdou/home")).header("cookie", &cookie).send().await.unwrap();
    let home = res.text().await.unwrap();
    let csrf = home.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    Wx { app, cookie, csrf }
}

/// An attribute's text as the browser reads it (numeric and the common named entities).
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let end = tail.find(';').unwrap();
        let entity = &tail[1..end];
        let c = match entity {
            "amp" => '&',
            "quot" => '"',
            "lt" => '<',
            "gt" => '>',
            _ if entity.starts_with("#x") => char::from_u32(u32::from_str_radix(&entity[2..], 16).unwrap()).unwrap(),
            _ => char::from_u32(entity[1..].parse().unwrap()).unwrap(),
        };
        out.push(c);
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

fn attr(page: &str, name: &str) -> String {
    unescape(page.split(&format!("{name}=\"")).nth(1).unwrap_or_else(|| panic!("no {name}")).split('"').next().unwrap())
}

fn sign_in_link(page: &str) -> String {
    attr(page, "id=\"autogo\" href")
}

/// Follows WeChat's sign-in as its browser would: the return address (on our server) and the
/// WeChat user's cookie.
async fn through_wechat(wx: &Wx<'_>, link: &str, wechat_user: Option<&str>) -> (String, String) {
    let (status, body, location) = wx.get(link, wechat_user).await;
    assert_eq!(status, 302, "{link}\n{body}");
    let user = wechat_user.map(str::to_string).unwrap_or_else(|| body.lines().nth(1).unwrap().to_string());
    (location, user)
}

async fn order_state(app: &TestApp, no: &str) -> String {
    let school = app.store.school_by_code("qdou").await.unwrap().unwrap();
    app.store.order_by_no(school.id, no).await.unwrap().unwrap().status.as_str().to_string()
}

async fn attempts(app: &TestApp, no: &str) -> usize {
    let school = app.store.school_by_code("qdou").await.unwrap().unwrap();
    let order = app.store.order_by_no(school.id, no).await.unwrap().unwrap();
    app.store.attempts_of_order(campuspay_store::On::Pool, order.id).await.unwrap().len()
}

async fn jsapi_signs_in_once_then_pays_on_the_sheet(app: TestApp) {
    let wx = session(&app).await;
    let no = wx.order("学费").await;
    let (_, page, _) = wx.get(&format!("/s/qdou/orders/{no}"), None).await;
    assert!(page.contains("value=\"wechat_jsapi\" checked"), "JSAPI first inside WeChat");

    let (status, page, _) = wx.choose_jsapi(&no).await;
    assert_eq!(status, 200, "a page that goes on to WeChat (a redirect of the POST would break form-action)");
    let link = sign_in_link(&page);
    assert!(
        link.contains("/connect/oauth2/authorize?appid=wx") && link.contains("scope=snsapi_base") && link.ends_with("#wechat_redirect")
    );
    assert_eq!(attempts(&app, &no).await, 0, "nothing starts before the payer is known");

    let (back, wechat_user) = through_wechat(&wx, &link, None).await;
    assert!(back.starts_with(&app.url("/s/qdou/wechat/signed-in?code=")), "{back}");
    let (status, _, pay_page) = wx.get(&back, None).await;
    assert_eq!(status, 303);
    assert!(pay_page.starts_with("/s/qdou/pay/"), "{pay_page}");
    let (_, page, _) = wx.get(&pay_page, None).await;
    assert!(page.contains("data-pay-sign=\"") && page.contains("/static/wxpay.js") && page.contains("/sandbox/wechatpay/jsbridge.js"));
    let params = serde_json::json!({
        "appId": attr(&page, "data-app-id"), "timeStamp": attr(&page, "data-time-stamp"), "nonceStr": attr(&page, "data-nonce-str"),
        "package": attr(&page, "data-package"), "signType": attr(&page, "data-sign-type"), "paySign": attr(&page, "data-pay-sign"),
    });

    // WeChat's sheet: the payer is the one signed in.
    let res = app.http.post(app.url("/sandbox/wechatpay/jsapi/pay")).header("cookie", &wechat_user).json(&params).send().await.unwrap();
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["err_msg"], "get_brand_wcpay_request:ok", "{answer} {params}");
    let t0 = Instant::now();
    while order_state(&app, &no).await != "paid" {
        assert!(t0.elapsed() < Duration::from_secs(10), "the notification settles the order");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The next JSAPI payment of the session goes straight to the sheet: the payer is known.
    let second = wx.order("正考费用").await;
    let (status, _, location) = wx.choose_jsapi(&second).await;
    assert_eq!(status, 303, "no second sign-in");
    assert!(location.starts_with("/s/qdou/pay/"), "{location}");
}

async fn a_forged_or_replayed_sign_in_return_starts_nothing(app: TestApp) {
    let wx = session(&app).await;
    let no = wx.order("学费").await;
    let (_, page, _) = wx.choose_jsapi(&no).await;
    let (back, _) = through_wechat(&wx, &sign_in_link(&page), None).await;

    // Another order under this order's MAC, and a state of another session: refused.
    let other = wx.order("正考费用").await;
    let forged = back.replace(&format!("state={no}"), &format!("state={other}"));
    assert_ne!(forged, back);
    let (status, body, _) = wx.get(&forged, None).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("授权链接已失效"), "{body}");
    let stranger = session(&app).await;
    let (status, _, _) = stranger.get(&back, None).await;
    assert_eq!(status, 422, "another session cannot use this return");
    assert_eq!(attempts(&app, &no).await + attempts(&app, &other).await, 0, "nothing started");

    // The genuine return works once; replaying its code is refused by WeChat and says so.
    let (status, _, _) = wx.get(&back, None).await;
    assert_eq!(status, 303);
    let (status, body, _) = wx.get(&back, None).await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("微信授权失败"), "{body}");
    assert_eq!(attempts(&app, &no).await, 1, "one attempt");
}
