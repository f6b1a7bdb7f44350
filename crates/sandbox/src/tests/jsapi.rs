//! WeChat inside its browser: the web sign-in (snsapi_base) through the real adapter, then a
//! JSAPI order paid on the simulated pay sheet, with the checks WeChat makes on the way.

use super::*;

const WECHAT_UA: &str = "Mozilla/5.0 (Linux; Android 14) Mobile Safari/537.36 MicroMessenger/8.0.49.2600";

/// Follows the sign-in page as WeChat's browser would: (code, the browser's user cookie).
async fn sign_in(e: &Env, cookie: Option<&str>) -> (String, String) {
    let url = e.wechat.payer_sign_in_url("http://merchant.test/back?school=qdou", "ORDER42abc").expect("secret configured");
    let mut req = e.http.get(&url).header("user-agent", WECHAT_UA);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 302, "a silent sign-in goes straight back");
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let set_cookie = r.headers().get("set-cookie").map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string());
    let rest = location.strip_prefix("http://merchant.test/back?school=qdou&code=").expect(&location);
    let (code, state) = rest.split_once("&state=").unwrap();
    assert_eq!(state, "ORDER42abc", "state comes back unchanged");
    (code.to_string(), cookie.map(str::to_string).or(set_cookie).expect("a WeChat user"))
}

async fn bridge_pay(e: &Env, params: &serde_json::Value, cookie: &str) -> serde_json::Value {
    let r = e.http.post(format!("{}/sandbox/wechatpay/jsapi/pay", e.base)).header("cookie", cookie).json(params).send().await.unwrap();
    r.json().await.unwrap()
}

#[tokio::test]
async fn sign_in_outside_wechat_or_with_a_foreign_appid_goes_nowhere() {
    let e = env(0.01).await;
    let url = e.wechat.payer_sign_in_url("http://merchant.test/back", "S1").unwrap();
    let r = e.http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("请在微信客户端打开链接"));
    let foreign = url.replace("appid=wx", "appid=wy");
    let r = e.http.get(&foreign).header("user-agent", WECHAT_UA).send().await.unwrap();
    assert_eq!(r.status(), 200, "an error page, no code");
    assert!(r.text().await.unwrap().contains("10016"));
}

#[tokio::test]
async fn a_code_is_good_once_and_only_with_the_secret() {
    let e = env(0.01).await;
    let (code, _) = sign_in(&e, None).await;
    let forged = format!("{}{}", &code[..code.len() - 1], if code.ends_with('0') { '1' } else { '0' });
    match e.wechat.payer_of_code(&forged).await {
        Err(ChannelError::Provider { code, .. }) => assert_eq!(code, "40029"),
        other => panic!("{other:?}"),
    }
    let (mut wc, _) = e.sandbox.merchant_configs(&e.base, "http://127.0.0.1:1/notify");
    wc.official_account_secret = Some("0".repeat(32));
    match WechatPay::new(wc).unwrap().payer_of_code(&code).await {
        Err(ChannelError::Provider { code, .. }) => assert_eq!(code, "40125"),
        other => panic!("{other:?}"),
    }
    let openid = e.wechat.payer_of_code(&code).await.unwrap();
    assert!(openid.starts_with('o') && openid.len() == 28, "{openid}");
    match e.wechat.payer_of_code(&code).await {
        Err(ChannelError::Provider { code, .. }) => assert_eq!(code, "40163", "a code is good once"),
        other => panic!("{other:?}"),
    }
    let (again, _) = sign_in(&e, None).await;
    assert_ne!(e.wechat.payer_of_code(&again).await.unwrap(), openid, "another browser is another WeChat user");
}

#[tokio::test]
async fn jsapi_pays_on_the_sheet_only_with_the_merchants_sign_and_the_orders_payer() {
    let e = env(0.01).await;
    let (code, me) = sign_in(&e, None).await;
    let openid = e.wechat.payer_of_code(&code).await.unwrap();
    let (code, _) = sign_in(&e, Some(&me)).await;
    assert_eq!(e.wechat.payer_of_code(&code).await.unwrap(), openid, "the same WeChat user again: the same openid");

    let action = e.wechat.create(&order("JSAPI0000001", 240000, PayFlow::InApp { openid: openid.clone() })).await.unwrap();
    let PayAction::JsApi { params } = action else { panic!("{action:?}") };
    let params = serde_json::to_value(&params).unwrap();

    let sheet: serde_json::Value = e
        .http
        .get(format!("{}/sandbox/wechatpay/jsapi/order?package={}", e.base, params["package"].as_str().unwrap().replace('=', "%3D")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sheet["amount"], "¥2,400.00");

    let mut forged = params.clone();
    forged["timeStamp"] = serde_json::json!((unix_now() + 1).to_string());
    let a = bridge_pay(&e, &forged, &me).await;
    assert_eq!(a["err_msg"], "get_brand_wcpay_request:fail");
    assert!(a["err_desc"].as_str().unwrap().contains("签名"), "{a}");

    let (_, someone_else) = sign_in(&e, None).await;
    let a = bridge_pay(&e, &params, &someone_else).await;
    assert_eq!(a["err_msg"], "get_brand_wcpay_request:fail", "another WeChat user cannot pay this order");
    assert_eq!(e.sandbox.trade(Provider::Wechatpay, "JSAPI0000001").unwrap().state, TradeState::NotPaid);

    let a = bridge_pay(&e, &params, &me).await;
    assert_eq!(a["err_msg"], "get_brand_wcpay_request:ok", "{a}");
    let got = e.wait_for(1).await;
    let notice = got[0].1.as_ref().unwrap();
    assert!(notice.paid && notice.out_trade_no == "JSAPI0000001" && notice.amount == Fen(240000));
    let a = bridge_pay(&e, &params, &me).await;
    assert_eq!(a["err_desc"], "该订单已支付", "{a}");
}
