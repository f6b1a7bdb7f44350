//! A school's merchant configurations through the office API, on SQLite and PostgreSQL:
//! secrets sealed at rest and never returned, an empty secret keeps the stored one, a bad key
//! refused by its field with nothing changed, one school's staff kept out of another's, the
//! audit row without secrets, and the saved configuration paying at once.

use crate::common;
use crate::payments::{new_order, pay, provider_pays};
use common::TestApp;
use serde_json::{Value, json};

on_both_databases!(
    merchant_secrets_are_sealed_write_only_and_audited_without_values,
    a_bad_key_is_refused_by_its_field_and_changes_nothing,
    another_schools_staff_cannot_read_or_set_merchants,
    a_saved_configuration_pays_at_once_without_restart,
    plaintext_configurations_are_sealed_at_start,
    a_worker_takes_up_a_configuration_saved_elsewhere,
    the_secret_key_rotates_without_losing_a_secret,
);

async fn token(app: &TestApp, school: &str, login: &str, password: &str) -> String {
    let (status, v) = app.post_json("/api/v1/office/login", json!({"school": school, "login": login, "password": password}), None).await;
    assert_eq!(status, 200, "{v}");
    v["token"].as_str().unwrap().to_string()
}

/// The simulator's Alipay application, as a school would type it into the form.
fn alipay_form(app: &TestApp) -> Value {
    let sandbox = app.state.sandbox.as_ref().unwrap();
    let (_, a) = sandbox.merchant_configs(&app.base, &format!("{}/notify", app.base));
    json!({
        "app_id": a.app_id,
        "app_private_key_pem": a.app_private_key_pem,
        "alipay_public_key_pem": a.alipay_public_key_pem,
        "seller_id": a.seller_id,
        "gateway_url": a.gateway_url,
    })
}

async fn put(app: &TestApp, path: &str, body: &Value, token: &str) -> (u16, Value) {
    let res = app.http.put(app.url(path)).bearer_auth(token).json(body).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn raw_row(app: &TestApp, school: &str, channel: &str) -> Option<(String, String)> {
    let id = app.store.school_by_code(school).await.unwrap().unwrap().id;
    sqlx::query_as("SELECT fields, secrets FROM merchant_configs WHERE school_id = $1 AND channel = $2")
        .bind(id)
        .bind(channel)
        .fetch_optional(app.store.pool())
        .await
        .unwrap()
}

fn private_key_body(pem: &str) -> String {
    // The Base64 body of the key, without its PEM lines: what must appear nowhere.
    pem.lines().filter(|l| !l.starts_with("-----")).collect::<String>()[..40].to_string()
}

async fn merchant_secrets_are_sealed_write_only_and_audited_without_values(app: TestApp) {
    let admin = token(&app, "qdou", "admin", "Admin#2026").await;
    let form = alipay_form(&app);
    let key = form["app_private_key_pem"].as_str().unwrap().to_string();
    let (status, v) = put(&app, "/api/v1/office/merchants/alipay", &form, &admin).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["configured"], true);
    assert_eq!(v["secrets"][0]["field"], "app_private_key_pem");
    assert_eq!(v["secrets"][0]["set"], true);
    let first_set_at = v["secrets"][0]["set_at"].as_str().unwrap().to_string();
    // The notify address defaults to the platform's own for the school.
    assert_eq!(v["fields"]["notify_url"], format!("{}/notify/alipay/qdou", app.base));

    // At rest: the secret is a ciphertext with its key id; the plain fields carry no secret.
    let (fields, secrets) = raw_row(&app, "qdou", "alipay").await.unwrap();
    let body = private_key_body(&key);
    assert!(!fields.contains(&body) && !secrets.contains(&body) && !secrets.contains("PRIVATE KEY"), "{secrets}");
    let sealed: Value = serde_json::from_str(&secrets).unwrap();
    assert_eq!(sealed["app_private_key_pem"]["kid"], app.state.secret_keys.as_ref().unwrap().kid());
    assert!(sealed["app_private_key_pem"]["ct"].as_str().unwrap().len() > 100);

    // Never returned: not by the list, not by the save.
    let (status, list) = app.get_json("/api/v1/office/merchants", Some(&admin)).await;
    assert_eq!(status, 200);
    let text = list.to_string();
    assert!(!text.contains(&body) && !text.contains("PRIVATE KEY"), "{text}");
    let alipay = list["channels"].as_array().unwrap().iter().find(|c| c["channel"] == "alipay").unwrap();
    assert_eq!(alipay["fields"]["app_id"], form["app_id"]);
    assert!(list["channels"].as_array().unwrap().iter().any(|c| c["channel"] == "wechatpay" && c["configured"] == false));

    // An empty secret keeps the stored one (same ciphertext, same time); plain fields change.
    let mut again = form.clone();
    again["app_private_key_pem"] = "".into();
    again["seller_id"] = "2088000000000009".into();
    let (status, v) = put(&app, "/api/v1/office/merchants/alipay", &again, &admin).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["secrets"][0]["set_at"], first_set_at.as_str());
    assert_eq!(v["fields"]["seller_id"], "2088000000000009");
    let (_, secrets_after) = raw_row(&app, "qdou", "alipay").await.unwrap();
    assert_eq!(secrets_after, secrets, "the kept secret is the same ciphertext");

    // Audited in the same transaction, without the secret's value.
    let school = app.store.school_by_code("qdou").await.unwrap().unwrap().id;
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT detail FROM audit_log WHERE school_id = $1 AND action = 'school.merchant' ORDER BY id")
            .bind(school)
            .fetch_all(app.store.pool())
            .await
            .unwrap();
    assert_eq!(rows.len(), 2);
    for (detail,) in &rows {
        assert!(!detail.contains(&body) && !detail.contains("PRIVATE KEY") && !detail.contains("\"ct\""), "{detail}");
        assert!(detail.contains("app_private_key_pem") && detail.contains("school:qdou/merchant:alipay"), "{detail}");
    }
    assert!(rows[0].0.contains("\"secrets_replaced\":[\"app_private_key_pem\"]"));
    assert!(rows[1].0.contains("\"secrets_replaced\":[]"));
}

async fn a_bad_key_is_refused_by_its_field_and_changes_nothing(app: TestApp) {
    let admin = token(&app, "ejt", "admin", "Admin#2026").await;
    let mut form = alipay_form(&app);
    form["app_private_key_pem"] = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----".into();
    let (status, v) = put(&app, "/api/v1/office/merchants/alipay", &form, &admin).await;
    assert_eq!((status, v["error"]["field"].as_str()), (422, Some("app_private_key_pem")), "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("应用私钥"), "{v}");
    assert!(raw_row(&app, "ejt", "alipay").await.is_none());

    // Saved well, then a wrong platform key: refused by its field, the saved one unchanged.
    let good = alipay_form(&app);
    assert_eq!(put(&app, "/api/v1/office/merchants/alipay", &good, &admin).await.0, 200);
    let before = raw_row(&app, "ejt", "alipay").await.unwrap();
    let mut bad = good.clone();
    bad["app_private_key_pem"] = "".into();
    bad["alipay_public_key_pem"] = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAinvalid".into();
    let (status, v) = put(&app, "/api/v1/office/merchants/alipay", &bad, &admin).await;
    assert_eq!((status, v["error"]["field"].as_str()), (422, Some("alipay_public_key_pem")), "{v}");
    assert_eq!(raw_row(&app, "ejt", "alipay").await.unwrap(), before);
    // A first WeChat Pay configuration without its APIv3 key: the field is named.
    let (status, v) = put(&app, "/api/v1/office/merchants/wechatpay", &json!({"mchid": "1900000001"}), &admin).await;
    assert_eq!((status, v["error"]["field"].as_str()), (422, Some("appid")), "{v}");
    // An unknown channel or field.
    assert_eq!(put(&app, "/api/v1/office/merchants/paypal", &good, &admin).await.0, 404);
    let mut odd = good.clone();
    odd["password"] = "x".into();
    assert_eq!(put(&app, "/api/v1/office/merchants/alipay", &odd, &admin).await.1["error"]["code"], "unknown_field");
    let school = app.store.school_by_code("ejt").await.unwrap().unwrap().id;
    let audited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE school_id = $1 AND action = 'school.merchant'")
        .bind(school)
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(audited, 1, "only the good save is audited");
}

async fn another_schools_staff_cannot_read_or_set_merchants(app: TestApp) {
    let qdou = token(&app, "qdou", "admin", "Admin#2026").await;
    let form = alipay_form(&app);
    // Another school's code from a school's admin: not found, nothing saved there.
    assert_eq!(app.get_json("/api/v1/office/merchants?school=ejt", Some(&qdou)).await.0, 404);
    assert_eq!(put(&app, "/api/v1/office/merchants/alipay?school=ejt", &form, &qdou).await.0, 404);
    assert!(raw_row(&app, "ejt", "alipay").await.is_none());
    // Other roles of the school: forbidden.
    let finance = token(&app, "qdou", "finance", "Finance#2026").await;
    assert_eq!(app.get_json("/api/v1/office/merchants", Some(&finance)).await.1["error"]["code"], "forbidden");
    assert_eq!(put(&app, "/api/v1/office/merchants/alipay", &form, &finance).await.0, 403);
    // The platform's operator sets up a named school.
    let platform = token(&app, "platform", "platform", "Platform#2026").await;
    assert_eq!(app.get_json("/api/v1/office/merchants", Some(&platform)).await.1["error"]["field"], "school");
    assert_eq!(put(&app, "/api/v1/office/merchants/alipay?school=ejt", &form, &platform).await.0, 200);
    assert!(raw_row(&app, "ejt", "alipay").await.is_some());
    let (_, list) = app.get_json("/api/v1/office/merchants?school=ejt", Some(&platform)).await;
    assert_eq!(list["school"], "ejt");
}

async fn a_saved_configuration_pays_at_once_without_restart(app: TestApp) {
    let admin = token(&app, "qdou", "admin", "Admin#2026").await;
    // A gateway nobody listens on: the next payment goes there, so it fails.
    let mut form = alipay_form(&app);
    let gateway = form["gateway_url"].as_str().unwrap().to_string();
    form["gateway_url"] = "http://127.0.0.1:9/gateway.do".into();
    assert_eq!(put(&app, "/api/v1/office/merchants/alipay", &form, &admin).await.0, 200);
    let student = app.session("qdou", "20230001").await;
    let (_, order) = new_order(&app, &student).await;
    let no = order["order_no"].as_str().unwrap();
    let body = json!({"channel": "alipay_qr"});
    let (status, v) = app.post_json(&format!("/api/v1/student/orders/{no}/pay"), body, Some(&student)).await;
    assert_ne!(status, 200, "paid through a gateway that does not exist: {v}");
    // The simulator's gateway again, the private key left empty (kept): the payment goes through.
    form["gateway_url"] = gateway.into();
    form["app_private_key_pem"] = "".into();
    assert_eq!(put(&app, "/api/v1/office/merchants/alipay", &form, &admin).await.0, 200);
    let p = pay(&app, &student, no, "alipay_qr").await;
    assert_eq!(provider_pays(&app, "alipay_qr", p["out_trade_no"].as_str().unwrap()).await, 200);
    let mut paid = false;
    for _ in 0..50 {
        let (_, o) = app.get_json(&format!("/api/v1/student/orders/{no}"), Some(&student)).await;
        if o["status"] == "paid" {
            paid = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(paid, "the order is paid through the saved configuration");
    // And after a restart (a new Channels from the database) the same configuration loads.
    let loaded = campuspay_app::payment::channels::Channels::load(&app.store, app.state.secret_keys.as_ref()).await.unwrap();
    let school = app.store.school_by_code("qdou").await.unwrap().unwrap().id;
    assert!(loaded.get(school, campuspay_domain::payment::Method::AlipayQr).is_some());
    // Without the key it refuses to start, saying what to set.
    let e = campuspay_app::payment::channels::Channels::load(&app.store, None).await.err().unwrap();
    assert!(e.contains("CAMPUSPAY_SECRET_KEY_FILE"), "{e}");
}

/// A configuration written in plaintext before secrets were sealed (the old `school_channels`
/// table) is sealed into `merchant_configs` when the channels load with a key, and removed.
async fn plaintext_configurations_are_sealed_at_start(app: TestApp) {
    let sandbox = app.state.sandbox.as_ref().unwrap();
    let (w, _) = sandbox.merchant_configs(&app.base, &format!("{}/notify", app.base));
    let apiv3 = w.apiv3_key.clone();
    let config = serde_json::to_string(&campuspay_channels::ChannelConfig::Wechatpay(w)).unwrap();
    let school = app.store.school_by_code("lut").await.unwrap().unwrap().id;
    let mut tx = app.store.write_tx().await.unwrap();
    app.store.set_channel_config(&mut tx, school, campuspay_domain::payment::Provider::Wechatpay, &config).await.unwrap();
    tx.commit().await.unwrap();
    // Without a key: a clear refusal, nothing moved.
    let e = campuspay_app::payment::channels::Channels::load(&app.store, None).await.err().unwrap();
    assert!(e.contains("plaintext") && e.contains("CAMPUSPAY_SECRET_KEY"), "{e}");
    let keys = app.state.secret_keys.as_ref();
    let loaded = campuspay_app::payment::channels::Channels::load(&app.store, keys).await.unwrap();
    assert!(loaded.get(school, campuspay_domain::payment::Method::WechatNative).is_some());
    assert!(app.store.channel_configs().await.unwrap().is_empty(), "the plaintext row is gone");
    let (fields, secrets) = raw_row(&app, "lut", "wechatpay").await.unwrap();
    assert!(!fields.contains(&apiv3) && !secrets.contains(&apiv3) && !secrets.contains("PRIVATE KEY"));
    assert!(fields.contains("PUB_KEY_ID_"), "the public key id stays plain: {fields}");
    // Loading again finds it sealed.
    assert!(campuspay_app::payment::channels::Channels::load(&app.store, keys).await.is_ok());
}

/// A separate worker (or a second instance) has its own channels, loaded when it started; what
/// the office saves through the server reaches it by `follow_changes`, without a restart.
async fn a_worker_takes_up_a_configuration_saved_elsewhere(app: TestApp) {
    let settings = campuspay_app::Settings { secret_keys: app.state.secret_keys.clone(), ..campuspay_app::Settings::default() };
    let loaded = campuspay_app::payment::channels::Channels::load(&app.store, app.state.secret_keys.as_ref()).await.unwrap();
    let worker = campuspay_app::Context::new(app.store.clone(), &settings).with_channels(loaded);
    let school = app.store.school_by_code("qdou").await.unwrap().unwrap().id;
    let alipay = campuspay_domain::payment::Method::AlipayQr;
    let mut seen = None;
    assert!(campuspay_app::office::merchants::reload_if_changed(&worker, &mut seen).await.unwrap(), "the first look loads");
    assert!(worker.channels.get(school, alipay).is_none(), "qdou has no Alipay merchant of its own yet");
    assert!(!campuspay_app::office::merchants::reload_if_changed(&worker, &mut seen).await.unwrap(), "nothing changed");

    let admin = token(&app, "qdou", "admin", "Admin#2026").await;
    assert_eq!(put(&app, "/api/v1/office/merchants/alipay", &alipay_form(&app), &admin).await.0, 200);
    assert!(campuspay_app::office::merchants::reload_if_changed(&worker, &mut seen).await.unwrap());
    assert!(worker.channels.get(school, alipay).is_some(), "the worker uses the saved configuration");
    // Changed again, the key kept: taken up again.
    let mut form = alipay_form(&app);
    form["app_private_key_pem"] = "".into();
    form["gateway_url"] = "http://127.0.0.1:9/gateway.do".into();
    assert_eq!(put(&app, "/api/v1/office/merchants/alipay", &form, &admin).await.0, 200);
    assert!(campuspay_app::office::merchants::reload_if_changed(&worker, &mut seen).await.unwrap());
    assert!(worker.channels.get(school, alipay).is_some());
}

/// Rotation: a new key first, the old one kept to open; every secret re-sealed under the new
/// one; then the old key can go, and the configurations still load.
async fn the_secret_key_rotates_without_losing_a_secret(app: TestApp) {
    use campuspay_app::secrets::{SecretKeys, generate_key_hex};
    let admin = token(&app, "qdou", "admin", "Admin#2026").await;
    assert_eq!(put(&app, "/api/v1/office/merchants/alipay", &alipay_form(&app), &admin).await.0, 200);
    let old = app.state.secret_keys.clone().unwrap();
    let (fields_before, _) = raw_row(&app, "qdou", "alipay").await.unwrap();
    let new_hex = generate_key_hex();
    let new_only = SecretKeys::from_texts([new_hex.as_str()]).unwrap();
    let load = |keys: SecretKeys| {
        let store = app.store.clone();
        async move { campuspay_app::payment::channels::Channels::load(&store, Some(&keys)).await }
    };
    assert!(load(new_only.clone()).await.err().unwrap().contains("not configured"), "the new key alone opens nothing yet");

    // A key that opens nothing stored stops the rotation, with nothing changed.
    let stranger = SecretKeys::from_texts([generate_key_hex().as_str()]).unwrap();
    assert!(campuspay_app::office::merchants::reseal_all(&app.store, &stranger).await.is_err());
    assert!(load(old.clone()).await.is_ok());

    // The key file with the new key first and the old one below.
    let both = new_only.followed_by(&old);
    let done = campuspay_app::office::merchants::reseal_all(&app.store, &both).await.unwrap();
    assert_eq!((done.resealed, done.current), (1, 0));
    let (fields_after, secrets) = raw_row(&app, "qdou", "alipay").await.unwrap();
    assert_eq!(fields_before, fields_after, "only the wrapping changes");
    let sealed: Value = serde_json::from_str(&secrets).unwrap();
    assert_eq!(sealed["app_private_key_pem"]["kid"], new_only.kid());
    let school = app.store.school_by_code("qdou").await.unwrap().unwrap().id;
    let loaded = load(new_only).await.unwrap();
    assert!(loaded.get(school, campuspay_domain::payment::Method::AlipayQr).is_some(), "loads with the new key alone");
    assert!(load(old).await.is_err(), "the old key alone no longer opens it");
    // Run again: nothing left to move.
    let again = campuspay_app::office::merchants::reseal_all(&app.store, &both).await.unwrap();
    assert_eq!((again.resealed, again.current), (0, 1));
}
