//! WeChat Pay v3 request bodies and response parsing, field names as published.

use super::WechatPayConfig;
use crate::crypto::{RsaSigner, aes_256_gcm_open};
use crate::http::RawResponse;
use crate::{
    ChannelError, CreateOrder, JsApiParams, PayFlow, PaymentNotice, ProviderStatus, RefundNotice, RefundRequest, RefundResult, RefundStatus,
};
use campuspay_domain::Fen;
use campuspay_domain::time::shanghai_parts;
use serde::Deserialize;
use serde_json::json;

pub const NATIVE_PATH: &str = "/v3/pay/transactions/native";
pub const H5_PATH: &str = "/v3/pay/transactions/h5";
pub const JSAPI_PATH: &str = "/v3/pay/transactions/jsapi";
pub const REFUND_PATH: &str = "/v3/refund/domestic/refunds";

/// `2018-06-08T10:34:56+08:00`, the form WeChat Pay wants for `time_expire`.
pub fn rfc3339_shanghai(unix_s: i64) -> String {
    let (y, mo, d, h, mi, s) = shanghai_parts(unix_s);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}+08:00")
}

/// Our order numbers go into URL paths: allow only what WeChat allows (`[0-9A-Za-z_\-|*]`, 6–32).
pub fn check_out_trade_no(no: &str) -> Result<(), ChannelError> {
    let ok = (6..=32).contains(&no.len()) && no.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-|*".contains(&b));
    if ok { Ok(()) } else { Err(ChannelError::Malformed(format!("商户订单号不合规: {no}"))) }
}

/// The endpoint and JSON body that create `order`.
pub fn create_body(c: &WechatPayConfig, order: &CreateOrder) -> Result<(&'static str, String), ChannelError> {
    check_out_trade_no(&order.out_trade_no)?;
    if !order.amount.is_positive() {
        return Err(ChannelError::Malformed("金额必须大于零".into()));
    }
    let mut body = json!({
        "appid": c.appid,
        "mchid": c.mchid,
        "description": order.description,
        "out_trade_no": order.out_trade_no,
        "notify_url": c.notify_url,
        "amount": { "total": order.amount.0, "currency": "CNY" },
    });
    if let Some(t) = order.expires_at {
        body["time_expire"] = json!(rfc3339_shanghai(t));
    }
    let path = match &order.flow {
        PayFlow::Qr | PayFlow::Page => NATIVE_PATH,
        PayFlow::Mobile { client_ip } => {
            body["scene_info"] = json!({ "payer_client_ip": client_ip, "h5_info": { "type": "Wap" } });
            H5_PATH
        }
        PayFlow::InApp { openid } => {
            body["payer"] = json!({ "openid": openid });
            JSAPI_PATH
        }
    };
    Ok((path, body.to_string()))
}

pub enum Created {
    CodeUrl(String),
    H5Url(String),
    PrepayId(String),
}

pub fn parse_create(body: &str) -> Result<Created, ChannelError> {
    #[derive(Deserialize)]
    struct R {
        code_url: Option<String>,
        h5_url: Option<String>,
        prepay_id: Option<String>,
    }
    let r: R = from_json(body)?;
    match (r.code_url, r.h5_url, r.prepay_id) {
        (Some(u), _, _) => Ok(Created::CodeUrl(u)),
        (_, Some(u), _) => Ok(Created::H5Url(u)),
        (_, _, Some(p)) => Ok(Created::PrepayId(p)),
        _ => Err(ChannelError::Malformed("下单应答缺少 code_url / h5_url / prepay_id".into())),
    }
}

/// JSAPI `paySign`: SHA256withRSA over `appId\ntimeStamp\nnonceStr\npackage\n`, `signType` `RSA`.
pub fn jsapi_params(signer: &RsaSigner, appid: &str, prepay_id: &str, timestamp: i64, nonce: &str) -> Result<JsApiParams, ChannelError> {
    let package = format!("prepay_id={prepay_id}");
    let message = format!("{appid}\n{timestamp}\n{nonce}\n{package}\n");
    Ok(JsApiParams {
        app_id: appid.to_string(),
        time_stamp: timestamp.to_string(),
        nonce_str: nonce.to_string(),
        package,
        sign_type: "RSA".to_string(),
        pay_sign: signer.sign_b64(message.as_bytes())?,
    })
}

pub fn query_path(out_trade_no: &str, mchid: &str) -> String {
    format!("/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={mchid}")
}

pub fn close_path(out_trade_no: &str) -> String {
    format!("/v3/pay/transactions/out-trade-no/{out_trade_no}/close")
}

/// A transaction, as the query answer and the decrypted notification resource carry it.
#[derive(Debug, Deserialize)]
pub struct Transaction {
    pub appid: String,
    pub mchid: String,
    pub out_trade_no: String,
    pub transaction_id: Option<String>,
    pub trade_state: String,
    pub success_time: Option<String>,
    pub amount: Option<TransactionAmount>,
}

#[derive(Debug, Deserialize)]
pub struct TransactionAmount {
    pub total: Option<i64>,
}

impl Transaction {
    fn check_merchant(&self, c: &WechatPayConfig) -> Result<(), ChannelError> {
        if self.mchid != c.mchid {
            return Err(ChannelError::WrongMerchant(format!("mchid {} ≠ {}", self.mchid, c.mchid)));
        }
        if self.appid != c.appid {
            return Err(ChannelError::WrongMerchant(format!("appid {} ≠ {}", self.appid, c.appid)));
        }
        Ok(())
    }

    fn total(&self) -> Result<Fen, ChannelError> {
        self.amount.as_ref().and_then(|a| a.total).map(Fen).ok_or_else(|| ChannelError::Malformed("缺少 amount.total".into()))
    }

    fn transaction_id(&self) -> Result<String, ChannelError> {
        self.transaction_id.clone().filter(|t| !t.is_empty()).ok_or_else(|| ChannelError::Malformed("缺少 transaction_id".into()))
    }
}

pub fn parse_query(body: &str, c: &WechatPayConfig) -> Result<ProviderStatus, ChannelError> {
    let t: Transaction = from_json(body)?;
    t.check_merchant(c)?;
    Ok(match t.trade_state.as_str() {
        "SUCCESS" => ProviderStatus::Paid { transaction_id: t.transaction_id()?, amount: t.total()?, paid_at: t.success_time.clone() },
        "REFUND" => ProviderStatus::Refunded { transaction_id: t.transaction_id()?, amount: t.total()? },
        "NOTPAY" => ProviderStatus::NotPaid,
        "USERPAYING" => ProviderStatus::Paying,
        "CLOSED" | "REVOKED" => ProviderStatus::Closed,
        other => ProviderStatus::Failed { reason: other.to_string() },
    })
}

pub fn refund_body(req: &RefundRequest, notify_url: &str) -> String {
    let mut body = json!({
        "out_trade_no": req.out_trade_no,
        "out_refund_no": req.out_refund_no,
        "notify_url": notify_url,
        "amount": { "refund": req.refund.0, "total": req.total.0, "currency": "CNY" },
    });
    if let Some(r) = &req.reason {
        body["reason"] = json!(r);
    }
    body.to_string()
}

pub fn parse_refund(body: &str) -> Result<RefundResult, ChannelError> {
    #[derive(Deserialize)]
    struct Amount {
        refund: i64,
    }
    #[derive(Deserialize)]
    struct R {
        refund_id: String,
        out_refund_no: String,
        status: String,
        amount: Amount,
    }
    let r: R = from_json(body)?;
    let status = match r.status.as_str() {
        "SUCCESS" => RefundStatus::Success,
        "PROCESSING" => RefundStatus::Processing,
        "CLOSED" => RefundStatus::Closed,
        _ => RefundStatus::Abnormal,
    };
    Ok(RefundResult { out_refund_no: r.out_refund_no, refund_id: Some(r.refund_id), status, amount: Fen(r.amount.refund) })
}

/// The notification envelope; `resource` is encrypted with the APIv3 key.
#[derive(Debug, Deserialize)]
pub struct Notification {
    pub id: String,
    pub event_type: String,
    pub resource: Resource,
}

#[derive(Debug, Deserialize)]
pub struct Resource {
    pub algorithm: String,
    pub ciphertext: String,
    #[serde(default)]
    pub associated_data: String,
    pub nonce: String,
}

/// The resource of a verified notification, decrypted with the APIv3 key (AEAD_AES_256_GCM,
/// the only algorithm published).
fn decrypt_resource(n: &Notification, c: &WechatPayConfig) -> Result<String, ChannelError> {
    let r = &n.resource;
    if r.algorithm != "AEAD_AES_256_GCM" {
        return Err(ChannelError::Malformed(format!("未知的加密算法 {}", r.algorithm)));
    }
    let plain = aes_256_gcm_open(c.apiv3_key.as_bytes(), &r.nonce, &r.associated_data, &r.ciphertext)?;
    String::from_utf8(plain).map_err(|_| ChannelError::Malformed("解密结果不是 UTF-8".into()))
}

/// Decrypts a verified payment notification (`TRANSACTION.*`) and checks its merchant and app.
/// A refund's (`REFUND.*`) goes to [`parse_refund_notification`].
pub fn parse_notification(body: &str, c: &WechatPayConfig) -> Result<PaymentNotice, ChannelError> {
    let n: Notification = from_json(body)?;
    if !n.event_type.starts_with("TRANSACTION.") {
        return Err(ChannelError::Unsupported("只处理支付通知（TRANSACTION.*）"));
    }
    let plain = decrypt_resource(&n, c)?;
    let t: Transaction = from_json(&plain)?;
    t.check_merchant(c)?;
    Ok(PaymentNotice {
        out_trade_no: t.out_trade_no.clone(),
        transaction_id: t.transaction_id()?,
        amount: t.total()?,
        merchant_id: t.mchid.clone(),
        app_id: t.appid.clone(),
        paid: t.trade_state == "SUCCESS",
        provider_status: t.trade_state.clone(),
        paid_at: t.success_time.clone(),
    })
}

/// Decrypts a verified refund notification (退款结果通知: `REFUND.SUCCESS`, `REFUND.ABNORMAL`,
/// `REFUND.CLOSED`) and checks its merchant; `Ok(None)` for any other event (a payment's).
/// The resource's `refund_status` says the end; it must agree with the event type.
pub fn parse_refund_notification(body: &str, c: &WechatPayConfig) -> Result<Option<RefundNotice>, ChannelError> {
    #[derive(Deserialize)]
    struct Amount {
        refund: i64,
    }
    #[derive(Deserialize)]
    struct R {
        mchid: String,
        out_trade_no: String,
        out_refund_no: String,
        refund_id: String,
        refund_status: String,
        amount: Amount,
    }
    let n: Notification = from_json(body)?;
    let Some(event) = n.event_type.strip_prefix("REFUND.") else { return Ok(None) };
    let r: R = from_json(&decrypt_resource(&n, c)?)?;
    if r.mchid != c.mchid {
        return Err(ChannelError::WrongMerchant(format!("mchid {} ≠ {}", r.mchid, c.mchid)));
    }
    let status = match r.refund_status.as_str() {
        "SUCCESS" => RefundStatus::Success,
        "CLOSED" => RefundStatus::Closed,
        "ABNORMAL" => RefundStatus::Abnormal,
        other => return Err(ChannelError::Malformed(format!("退款通知的状态 {other} 不是终态"))),
    };
    if event != r.refund_status {
        return Err(ChannelError::Malformed(format!("通知类型 REFUND.{event} 与退款状态 {} 不符", r.refund_status)));
    }
    Ok(Some(RefundNotice {
        out_trade_no: Some(r.out_trade_no),
        transaction_id: None,
        out_refund_no: r.out_refund_no,
        refund_id: r.refund_id,
        status,
        amount: Some(Fen(r.amount.refund)),
        refunded_total: None,
        merchant_id: r.mchid,
        provider_status: r.refund_status,
    }))
}

/// A 4xx/5xx answer: `{"code": "…", "message": "…"}`.
pub fn provider_error(raw: &RawResponse) -> ChannelError {
    #[derive(Deserialize)]
    struct E {
        code: String,
        #[serde(default)]
        message: String,
    }
    match serde_json::from_str::<E>(&raw.body) {
        Ok(e) => ChannelError::Provider { status: raw.status, code: e.code, message: e.message },
        Err(_) => ChannelError::Provider {
            status: raw.status,
            code: format!("HTTP_{}", raw.status),
            message: raw.body.chars().take(200).collect(),
        },
    }
}

fn from_json<'a, T: Deserialize<'a>>(body: &'a str) -> Result<T, ChannelError> {
    serde_json::from_str(body).map_err(|e| ChannelError::Malformed(e.to_string()))
}
