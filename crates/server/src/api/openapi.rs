//! The OpenAPI 3.1 description of `/api/v1`, written by hand next to the handlers it describes
//! (a test checks that every route is in it).

use axum::Json;
use serde_json::{Value, json};

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn ok(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn body(schema: Value) -> Value {
    json!({"required": true, "content": {"application/json": {"schema": schema}}})
}

fn secured(mut op: Value) -> Value {
    op["security"] = json!([{"bearer": []}]);
    op["responses"]["401"] = error_response("未登录或登录已过期 / not logged in");
    op
}

pub fn spec() -> Value {
    let fen = json!({"type": "integer", "format": "int64", "description": "金额，单位：分 (fen)"});
    let obj = |props: Value, required: Value| json!({"type": "object", "properties": props, "required": required});
    let charge = obj(
        json!({
            "id": {"type": "integer"}, "item": {"type": "string", "description": "收费项目"},
            "item_code": {"type": "string"}, "category": {"type": "string"},
            "period": {"type": "string", "description": "收费期间, e.g. 2023秋"}, "period_name": {"type": "string"},
            "academic_year": {"type": "string"},
            "total_fen": fen, "discount_fen": fen, "after_discount_fen": fen, "balance_used_fen": fen,
            "payable_fen": fen, "paid_fen": fen, "arrears_fen": fen,
            "state": {"type": "string", "enum": ["unpaid", "partial", "paid", "waived"]},
            "state_label": {"type": "string"}, "mandatory": {"type": "boolean"}, "receipt_type": {"type": "string"},
            "parent_item": {"type": ["string", "null"]}, "instalments": {"type": "boolean"}, "instalment_min_fen": fen,
            "collection_window": {"type": ["object", "null"], "properties": {"start": {"type": "string"}, "end": {"type": "string"}}},
            "collecting": {"type": "boolean"}
        }),
        json!([
            "id",
            "item",
            "period",
            "total_fen",
            "discount_fen",
            "balance_used_fen",
            "payable_fen",
            "paid_fen",
            "state",
            "mandatory",
            "receipt_type"
        ]),
    );
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {"title": "campuspay API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "校园统一支付平台 JSON API. All money is integer fen. Errors are {\"error\":{\"code\",\"message\"}}, messages in Chinese unless Accept-Language asks for English."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "token from /api/v1/student/login"}},
            "schemas": {
                "Error": obj(json!({"error": obj(json!({"code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"}}), json!(["code", "message"]))}), json!(["error"])),
                "Charge": charge,
                "Order": obj(json!({
                    "order_no": {"type": "string"}, "total_fen": fen, "status": {"type": "string", "enum": ["unpaid", "paid", "closed", "cancelled", "refunded"]},
                    "expires_at": {"type": "string", "description": "请在此时间前完成付款 (Asia/Shanghai)"}, "expires_at_unix": {"type": "integer"}, "reused": {"type": "boolean"}
                }), json!(["order_no", "total_fen", "status", "expires_at"])),
            }
        },
        "paths": {
            "/healthz": {"get": {"summary": "Liveness and database reachability", "responses": {"200": {"description": "ok"}, "503": {"description": "database unreachable"}}}},
            "/api/v1/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI document"}}}},
            "/api/v1/schools": {"get": {"summary": "Schools on this platform, by region", "responses": {"200": ok("学校列表", obj(json!({"schools": {"type": "array", "items": obj(json!({"code": {"type": "string"}, "name": {"type": "string"}, "region": {"type": "string"}, "captcha": {"type": "boolean"}, "url": {"type": "string"}}), json!(["code", "name", "region", "captcha"]))}}), json!(["schools"])))}}},
            "/api/v1/captcha": {"get": {"summary": "A new image captcha (single use, 5 minutes)", "responses": {"200": ok("验证码", obj(json!({"captcha_id": {"type": "string"}, "image": {"type": "string", "description": "data: URI of a PNG"}}), json!(["captcha_id", "image"])))}}},
            "/api/v1/student/login": {"post": {
                "summary": "Log in with the school's login identifier and password",
                "description": "A captcha is required where the school wants one, and after 3 failures everywhere. 10 failures lock the account for 15 minutes.",
                "requestBody": body(obj(json!({"school": {"type": "string"}, "login": {"type": "string", "maxLength": 32}, "password": {"type": "string", "maxLength": 128}, "captcha_id": {"type": "string"}, "captcha": {"type": "string"}}), json!(["school", "login", "password"]))),
                "responses": {
                    "200": ok("登录成功", obj(json!({"token": {"type": "string"}, "must_change_password": {"type": "boolean"}, "expires_at": {"type": "integer"}}), json!(["token", "must_change_password"]))),
                    "400": error_response("请求格式有误"), "401": error_response("学号或密码有误 / 验证码错误 / 请输入验证码"),
                    "404": error_response("学校不存在"), "423": error_response("账户已临时锁定"), "429": error_response("尝试次数过多")
                }
            }},
            "/api/v1/student/logout": {"post": secured(json!({"summary": "End this session", "responses": {"204": {"description": "ended"}}}))},
            "/api/v1/student/password": {"post": secured(json!({
                "summary": "Change the password (ends every other session)",
                "requestBody": body(obj(json!({"old_password": {"type": "string"}, "new_password": {"type": "string"}, "confirm_password": {"type": "string"}}), json!(["old_password", "new_password"]))),
                "responses": {"200": ok("已修改", obj(json!({"changed": {"type": "boolean"}}), json!(["changed"]))), "422": error_response("旧密码有误 / 新密码不符合要求")}
            }))},
            "/api/v1/student/me": {"get": secured(json!({"summary": "The student's profile, ID card and phone masked", "responses": {"200": ok("个人信息", json!({"type": "object"}))}}))},
            "/api/v1/student/profile": {"put": secured(json!({
                "summary": "Change phone, e-mail, postcode and address",
                "requestBody": body(obj(json!({"phone": {"type": "string"}, "email": {"type": "string"}, "postcode": {"type": "string"}, "address": {"type": "string", "maxLength": 100}}), json!(["phone"]))),
                "responses": {"204": {"description": "已保存"}, "403": error_response("须先修改密码"), "422": error_response("格式有误")}
            }))},
            "/api/v1/student/charges": {"get": secured(json!({
                "summary": "What the student owes and has paid",
                "parameters": [{"name": "period", "in": "query", "required": false, "schema": {"type": "string"}, "description": "only this 收费期间"}],
                "responses": {
                    "200": ok("收费情况", obj(json!({
                        "total_arrears_fen": fen, "arrears_by_year": {"type": "array", "items": obj(json!({"year": {"type": "string"}, "arrears_fen": fen}), json!(["year", "arrears_fen"]))},
                        "periods": {"type": "array", "items": obj(json!({"code": {"type": "string"}, "name": {"type": "string"}}), json!(["code", "name"]))},
                        "charges": {"type": "array", "items": {"$ref": "#/components/schemas/Charge"}}
                    }), json!(["total_arrears_fen", "arrears_by_year", "charges"]))),
                    "403": error_response("须先修改密码")
                }
            }))},
            "/api/v1/student/sessions": {"get": secured(json!({"summary": "The student's live sessions", "responses": {"200": ok("会话", json!({"type": "object"}))}}))},
            "/api/v1/student/sessions/end-others": {"post": secured(json!({"summary": "End every other session", "responses": {"200": ok("已结束", obj(json!({"ended": {"type": "integer"}}), json!(["ended"])))}}))},
            "/api/v1/student/orders": {
                "post": secured(json!({
                    "summary": "Create an order for chosen charges (cart rules of the school apply)",
                    "description": "Each charge is locked to the order while it is unpaid: a second live order for it is refused with 409. Where the school reuses unpaid orders (seed 004) the same lines give back the same order (200).",
                    "requestBody": body(obj(json!({
                        "charges": {"type": "array", "items": obj(json!({"id": {"type": "integer"}, "amount_fen": {"type": "integer", "description": "instalment amount; the whole arrears when absent"}}), json!(["id"]))},
                        "phone": {"type": "string", "description": "phone for the e-receipt; the profile's when absent"},
                        "use_balance": {"type": "boolean", "description": "pay what the balance (余额) covers from it; the channel collects the rest"},
                        "invoice": obj(json!({"kind": {"type": "string", "enum": ["individual", "company"]}, "title": {"type": "string"}, "tax_no": {"type": "string"}}), json!(["kind"]))
                    }), json!(["charges"]))),
                    "responses": {
                        "201": ok("订单已创建", json!({"$ref": "#/components/schemas/Order"})), "200": ok("未支付订单再次提供", json!({"$ref": "#/components/schemas/Order"})),
                        "409": error_response("项目已在待支付订单中"), "422": error_response("不符合缴费规则（消息说明原因与拆分建议）")
                    }
                })),
                "get": secured(json!({"summary": "The student's orders, newest first", "responses": {"200": ok("订单", json!({"type": "object"}))}}))
            },
            "/api/v1/student/orders/{order_no}": {"get": secured(json!({
                "summary": "An order and its live status (polled by the result page; a late notification makes the platform ask the provider)",
                "parameters": [{"name": "order_no", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {"200": ok("订单", json!({"$ref": "#/components/schemas/Order"})), "404": error_response("订单不存在")}
            }))},
            "/api/v1/student/orders/{order_no}/pay": {"post": secured(json!({
                "summary": "Pay an order through a channel: QR content, redirect URL or JSAPI parameters",
                "parameters": [{"name": "order_no", "in": "path", "required": true, "schema": {"type": "string"}}],
                "requestBody": body(obj(json!({"channel": {"type": "string", "enum": ["wechat_native", "wechat_h5", "wechat_jsapi", "alipay_page", "alipay_wap", "alipay_qr", "unionpay_gateway", "unionpay_qr"]}, "openid": {"type": "string"}}), json!(["channel"]))),
                "responses": {
                    "200": ok("支付参数", obj(json!({"out_trade_no": {"type": "string"}, "kind": {"type": "string", "enum": ["qr", "redirect", "jsapi"]}, "qr_content": {"type": "string"}, "qr_svg": {"type": "string"}, "redirect_url": {"type": "string"}, "jsapi": {"type": "object"}, "payee": {"type": "string"}}), json!(["out_trade_no", "kind", "payee"]))),
                    "409": error_response("订单已支付或已关闭"), "422": error_response("未开通的支付方式"), "502": error_response("渠道下单失败"), "503": error_response("渠道不可用")
                }
            }))},
            "/api/v1/student/orders/{order_no}/cancel": {"post": secured(json!({
                "summary": "Cancel an unpaid order (closes it at the providers first; money that arrived meanwhile is applied)",
                "parameters": [{"name": "order_no", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {"200": ok("订单", json!({"$ref": "#/components/schemas/Order"})), "409": error_response("订单已支付")}
            }))},
            "/api/v1/student/payments": {"get": secured(json!({"summary": "缴费记录: paid orders with their items", "responses": {"200": ok("缴费记录", obj(json!({"payments": {"type": "array", "items": {"type": "object"}}}), json!(["payments"])))}}))},
            "/api/v1/student/transactions": {"get": secured(json!({"summary": "银行交易记录: every channel transaction, including refunded or credited late money, and the balance", "responses": {"200": ok("交易记录", json!({"type": "object"}))}}))},
            "/notify/{provider}": {"post": {"summary": "Provider notification (WeChat Pay v3 JSON, Alipay form); verified against every school's merchant of that provider", "parameters": [{"name": "provider", "in": "path", "required": true, "schema": {"type": "string", "enum": ["wechatpay", "alipay"]}}], "responses": {"200": {"description": "accepted (provider's own acknowledgement)"}, "401": {"description": "signature refused"}, "500": {"description": "not accepted; the provider retries"}}}},
            "/notify/{provider}/{school}": {"post": {"summary": "Provider notification for one school's merchant", "parameters": [{"name": "provider", "in": "path", "required": true, "schema": {"type": "string"}}, {"name": "school", "in": "path", "required": true, "schema": {"type": "string"}}], "responses": {"200": {"description": "accepted (provider's own acknowledgement)"}, "401": {"description": "signature refused"}, "500": {"description": "not accepted; the provider retries"}}}},
            "/api/v1/student/security-events": {"get": secured(json!({"summary": "Recent logins, failures and password changes", "responses": {"200": ok("安全日志", json!({"type": "object"}))}}))},
        }
    });
    accounts(&mut doc);
    doc
}

pub async fn document() -> Json<Value> {
    Json(spec())
}

/// Password recovery and security settings (issue #4).
fn accounts(doc: &mut Value) {
    let obj = |props: Value, required: Value| json!({"type": "object", "properties": props, "required": required});
    let s = || json!({"type": "string"});
    let captcha = json!({"captcha_id": s(), "captcha": s()});
    let with = |mut base: Value, extra: &Value| {
        for (k, v) in extra.as_object().unwrap() {
            base[k] = v.clone();
        }
        base
    };
    let request =
        body(obj(with(json!({"school": s(), "login": {"type": "string", "maxLength": 32}}), &captcha), json!(["school", "login"])));
    let accepted = ok(
        "已受理：无论学号是否存在，回答都相同",
        obj(json!({"accepted": {"type": "boolean"}, "message": s(), "expires_in_s": {"type": "integer"}}), json!(["accepted", "message"])),
    );
    let reset_ok = ok(
        "密码已重置，所有会话已结束",
        obj(json!({"reset": {"type": "boolean"}, "sessions_ended": {"type": "boolean"}}), json!(["reset"])),
    );
    let throttled = |mut r: Value| {
        r["401"] = error_response("请输入验证码 / 验证码错误");
        r["404"] = error_response("学校不存在或不提供此方式");
        r["423"] = error_response("错误次数过多，已临时锁定");
        r["429"] = error_response("请求过于频繁 / 今日次数已达上限");
        r
    };
    let paths = doc["paths"].as_object_mut().unwrap();
    paths.insert("/api/v1/recovery/methods".into(), json!({"get": {
        "summary": "The school's ways to recover a password",
        "parameters": [{"name": "school", "in": "query", "required": true, "schema": s()}],
        "responses": {"200": ok("找回方式", obj(json!({"school": s(), "captcha": {"type": "boolean"}, "methods": {"type": "array", "items": obj(json!({"kind": {"type": "string", "enum": ["email", "security_question", "sms", "contact_office"]}, "daily_limit": {"type": "integer"}, "text": s()}), json!(["kind"]))}}), json!(["methods"]))), "404": error_response("学校不存在")}
    }}));
    paths.insert(
        "/api/v1/recovery/email".into(),
        json!({"post": {
            "summary": "Send a single-use reset link (30 min) to the security e-mail (seed 001)",
            "requestBody": request.clone(),
            "responses": throttled(json!({"202": accepted.clone(), "400": error_response("请输入学号")}))
        }}),
    );
    paths.insert("/api/v1/recovery/reset".into(), json!({"post": {
        "summary": "Set a new password with the link's token; ends every session",
        "requestBody": body(obj(json!({"school": s(), "token": s(), "new_password": s(), "confirm_password": s()}), json!(["school", "token", "new_password"]))),
        "responses": {"200": reset_ok.clone(), "400": error_response("链接无效或已过期"), "422": error_response("新密码不符合要求"), "429": error_response("请求过于频繁")}
    }}));
    paths.insert(
        "/api/v1/recovery/sms".into(),
        json!({"post": {
            "summary": "Send a 6-digit code (5 min) to the phone: the school's daily limit per phone, one a minute (seed 002)",
            "requestBody": request,
            "responses": throttled(json!({"202": accepted}))
        }}),
    );
    paths.insert("/api/v1/recovery/sms/reset".into(), json!({"post": {
        "summary": "Set a new password with the SMS code; ends every session",
        "requestBody": body(obj(with(json!({"school": s(), "login": s(), "code": s(), "new_password": s(), "confirm_password": s()}), &captcha), json!(["school", "login", "code", "new_password"]))),
        "responses": throttled(json!({"200": reset_ok.clone(), "422": error_response("验证码错误或已过期 / 新密码不符合要求")}))
    }}));
    paths.insert(
        "/api/v1/recovery/question".into(),
        json!({"post": {
            "summary": "The security question to answer (seed 004); shown for every student number",
            "requestBody": body(obj(json!({"school": s(), "login": s()}), json!(["school", "login"]))),
            "responses": throttled(json!({"200": ok("密保问题", obj(json!({"question": s()}), json!(["question"])))}))
        }}),
    );
    paths.insert("/api/v1/recovery/question/reset".into(), json!({"post": {
        "summary": "Set a new password with the answer to the security question; ends every session",
        "requestBody": body(obj(with(json!({"school": s(), "login": s(), "answer": s(), "new_password": s(), "confirm_password": s()}), &captcha), json!(["school", "login", "answer", "new_password"]))),
        "responses": throttled(json!({"200": reset_ok, "422": error_response("密保答案错误 / 新密码不符合要求")}))
    }}));
    paths.insert("/api/v1/student/security".into(), json!({"get": secured(json!({
        "summary": "Security e-mail and question, and the school's recovery methods",
        "responses": {"200": ok("安全设置", obj(json!({"security_email": s(), "security_question": s(), "questions": {"type": "array", "items": s()}}), json!(["security_email", "security_question", "questions"])))}
    }))}));
    paths.insert("/api/v1/student/security-email".into(), json!({"put": secured(json!({
        "summary": "Set the security e-mail (the password is asked again)",
        "requestBody": body(obj(json!({"password": s(), "security_email": s()}), json!(["password", "security_email"]))),
        "responses": {"204": {"description": "已保存"}, "422": error_response("登录密码有误 / 邮箱格式有误"), "423": error_response("错误次数过多")}
    }))}));
    paths.insert("/api/v1/student/security-question".into(), json!({"put": secured(json!({
        "summary": "Set or change the security question (the password is asked again)",
        "requestBody": body(obj(json!({"password": s(), "question": {"type": "string", "description": "one of GET /api/v1/student/security's questions"}, "answer": s()}), json!(["password", "question", "answer"]))),
        "responses": {"204": {"description": "已保存"}, "422": error_response("登录密码有误 / 请选择密保问题"), "423": error_response("错误次数过多")}
    }))}));
}
