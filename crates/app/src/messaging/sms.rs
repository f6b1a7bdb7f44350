//! SMS: a small trait, one real provider (Aliyun SMS, `dysmsapi` SendSms with its published
//! HMAC-SHA1 request signature), and the outbox for demo mode and tests.

use super::SendError;
use base64::Engine;
use campuspay_store::Store;
use hmac::{KeyInit, Mac};
use std::collections::BTreeMap;

/// Something that delivers a verification code to a phone.
pub trait SmsProvider {
    fn send_code(&self, phone: &str, code: &str) -> impl std::future::Future<Output = Result<(), String>> + Send;
}

/// Aliyun SMS account: an AccessKey pair, an approved signature (签名) and a template with a
/// `${code}` parameter.
#[derive(Debug, Clone)]
pub struct AliyunSmsConfig {
    pub access_key_id: String,
    pub access_key_secret: String,
    pub sign_name: String,
    pub template_code: String,
    /// `https://dysmsapi.aliyuncs.com/` unless told otherwise.
    pub endpoint: String,
    /// An approved notice (通知) template for receipts, with the named variables of
    /// [`ReceiptNotice`] (its text: README, "Aliyun SMS templates"); without one, receipts are
    /// not sent by SMS (mail and the student's records still have them).
    pub notice_template_code: Option<String>,
}

#[derive(Debug, Clone)]
pub struct AliyunSms {
    config: AliyunSmsConfig,
    http: reqwest::Client,
}

/// RFC 3986 percent-encoding as Aliyun's signature wants it: only `A-Za-z0-9-_.~` stay.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The canonicalized query string of sorted, encoded parameters.
pub fn canonical_query(params: &BTreeMap<String, String>) -> String {
    params.iter().map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v))).collect::<Vec<_>>().join("&")
}

/// `GET&%2F&` + the encoded canonical query.
pub fn string_to_sign(method: &str, params: &BTreeMap<String, String>) -> String {
    format!("{method}&{}&{}", percent_encode("/"), percent_encode(&canonical_query(params)))
}

/// Base64(HMAC-SHA1(secret + "&", string to sign)).
pub fn signature(secret: &str, string_to_sign: &str) -> String {
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(format!("{secret}&").as_bytes()).expect("HMAC takes any key length");
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// ISO 8601 UTC, `2017-07-12T02:42:19Z`.
fn iso8601_utc(unix_s: i64) -> String {
    let days = unix_s.div_euclid(86_400);
    let secs = unix_s.rem_euclid(86_400);
    let (y, m, d) = campuspay_domain::time::civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

impl AliyunSms {
    pub fn new(config: AliyunSmsConfig) -> AliyunSms {
        let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(15)).build().unwrap_or_default();
        AliyunSms { config, http }
    }

    /// The signed query parameters of one SendSms call of the code template.
    pub fn signed_params(&self, phone: &str, code: &str, nonce: &str, unix_s: i64) -> BTreeMap<String, String> {
        let param = serde_json::json!({ "code": code }).to_string();
        self.signed(&self.config.template_code, &param, phone, nonce, unix_s)
    }

    /// The signed query parameters of a receipt notice through the notice template; `None`
    /// without one. Refused when a value breaks its variable's rules, which Aliyun would refuse.
    pub fn notice_params(
        &self,
        phone: &str,
        notice: &ReceiptNotice,
        nonce: &str,
        unix_s: i64,
    ) -> Result<Option<BTreeMap<String, String>>, String> {
        let Some(template) = &self.config.notice_template_code else { return Ok(None) };
        Ok(Some(self.signed(template, &notice.template_param()?, phone, nonce, unix_s)))
    }

    /// SendSms's parameters for `template` with `template_param` (a JSON object of strings),
    /// signed.
    fn signed(&self, template: &str, template_param: &str, phone: &str, nonce: &str, unix_s: i64) -> BTreeMap<String, String> {
        let c = &self.config;
        let mut p: BTreeMap<String, String> = [
            ("AccessKeyId", c.access_key_id.as_str()),
            ("Action", "SendSms"),
            ("Format", "JSON"),
            ("PhoneNumbers", phone),
            ("RegionId", "cn-hangzhou"),
            ("SignName", c.sign_name.as_str()),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", nonce),
            ("SignatureVersion", "1.0"),
            ("TemplateCode", template),
            ("TemplateParam", template_param),
            ("Version", "2017-05-25"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        p.insert("Timestamp".into(), iso8601_utc(unix_s));
        let sig = signature(&c.access_key_secret, &string_to_sign("GET", &p));
        p.insert("Signature".into(), sig);
        p
    }

    /// Sends signed SendSms parameters; success is `{"Code":"OK", …}`. A refusal is permanent
    /// or not by its code ([`refusal_is_permanent`]); no answer, or one that is not JSON, is not.
    async fn send(&self, params: &BTreeMap<String, String>) -> Result<(), SendError> {
        let url = format!("{}?{}", self.config.endpoint, canonical_query(params));
        let res = self.http.get(url).send().await.map_err(|e| SendError::transient(e.to_string()))?;
        let body: serde_json::Value = res.json().await.map_err(|e| SendError::transient(e.to_string()))?;
        let code = body["Code"].as_str().unwrap_or("");
        if code == "OK" {
            return Ok(());
        }
        let message = format!("aliyun SendSms: {} {}", if code.is_empty() { "?" } else { code }, body["Message"].as_str().unwrap_or(""));
        Err(SendError { message, permanent: refusal_is_permanent(code) })
    }

    /// A receipt notice through the notice template, if one is configured. A value the
    /// template's variables refuse is refused for good: the receipt's values do not change.
    async fn send_notice(&self, phone: &str, notice: &ReceiptNotice) -> Result<(), SendError> {
        let nonce = crate::crypto::random_token(16);
        match self.notice_params(phone, notice, &nonce, campuspay_store::db_now()).map_err(SendError::permanent)? {
            Some(params) => self.send(&params).await,
            None => {
                tracing::warn!("no Aliyun notice template (--aliyun-sms-notice-template): receipt SMS not sent");
                Ok(())
            }
        }
    }
}

/// A receipt's notice as a notice (通知) template takes it: Aliyun fills named variables, each
/// of a declared kind with its own rules, and refuses a template whose link is a variable, so
/// the verify page's address is fixed text in the template and the student types the three
/// codes the message gives into its form, as national checkers ask. The template a
/// deployment gets approved (README, "Aliyun SMS templates"), with its own address:
///
/// `您的${kind}已开具，金额${amount}元，票据代码${code}，票据号码${number}，校验码${check}。请在 https://pay.example.edu.cn/receipts/verify 查验。`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptNotice {
    /// 电子票据, or 红字电子票据 for a red letter (variable kind 其他, a short text).
    pub kind: String,
    /// Yuan with two decimals, no sign or currency symbol (variable kind 金额).
    pub amount: String,
    /// 票据代码, 票据号码, 校验码 (variable kind 其他号码: letters and digits).
    pub code: String,
    pub number: String,
    pub check: String,
}

/// The longest value of a 其他号码 (other_number) variable.
const NUMBER_MAX: usize = 35;
/// The longest 金额 or short-text value a notice sends: well inside every limit.
const SHORT_MAX: usize = 20;

impl ReceiptNotice {
    /// `TemplateParam`: a JSON object of strings (Aliyun takes string values only), after
    /// checking each value against its variable's rules.
    pub fn template_param(&self) -> Result<String, String> {
        let number = |name: &str, v: &str| {
            let ok = !v.is_empty() && v.len() <= NUMBER_MAX && v.bytes().all(|b| b.is_ascii_alphanumeric());
            if ok { Ok(()) } else { Err(format!("receipt notice: {name} {v:?} is not 1–{NUMBER_MAX} letters and digits")) }
        };
        number("code", &self.code)?;
        number("number", &self.number)?;
        number("check", &self.check)?;
        let amount_ok =
            !self.amount.is_empty() && self.amount.len() <= SHORT_MAX && self.amount.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        if !amount_ok {
            return Err(format!("receipt notice: amount {:?} is not a plain amount", self.amount));
        }
        let kind_len = self.kind.chars().count();
        if kind_len == 0 || kind_len > SHORT_MAX || self.kind.contains(['{', '}', '【', '】']) {
            return Err(format!("receipt notice: kind {:?} is not a short text", self.kind));
        }
        let v = serde_json::json!({
            "kind": self.kind,
            "amount": self.amount,
            "code": self.code,
            "number": self.number,
            "check": self.check,
        });
        Ok(v.to_string())
    }
}

/// Whether Aliyun's refusal `code` (SendSms's `Code`) refuses the same message again: the
/// template, the signature, the parameters, the phone number, the account or the key (an
/// `isv.` code or a key or signature error) wait for a person to fix them. Aliyun's own
/// trouble (`isp.` codes, but a RAM permission denied) and its rate limits pass with time.
pub fn refusal_is_permanent(code: &str) -> bool {
    let transient = (code.starts_with("isp.") && code != "isp.RAM_PERMISSION_DENY")
        || code.contains("BUSINESS_LIMIT")
        || code.starts_with("Throttling")
        || code == "ServiceUnavailable"
        || code == "InternalError"
        // No code at all: not an answer Aliyun documents, so not a reason to stop.
        || code.is_empty();
    !transient
}

impl SmsProvider for AliyunSms {
    async fn send_code(&self, phone: &str, code: &str) -> Result<(), String> {
        let nonce = crate::crypto::random_token(16);
        self.send(&self.signed_params(phone, code, &nonce, campuspay_store::db_now())).await.map_err(|e| e.message)
    }
}

/// The provider a deployment uses: Aliyun, or the outbox (demo mode and tests).
#[derive(Clone)]
pub enum SmsGateway {
    Aliyun(AliyunSms),
    Outbox(Store),
}

impl SmsGateway {
    /// A receipt's notice: Aliyun fills its notice template with `notice`'s variables; the
    /// outbox keeps `text`, the message as a reader sees it.
    pub async fn send_notice(&self, phone: &str, notice: &ReceiptNotice, text: &str) -> Result<(), SendError> {
        match self {
            SmsGateway::Aliyun(a) => a.send_notice(phone, notice).await,
            SmsGateway::Outbox(store) => store
                .write(async |tx| store.insert_outbox(tx, "sms", phone, "", text).await)
                .await
                .map_err(|e| SendError::transient(e.to_string())),
        }
    }

    pub async fn send_code(&self, phone: &str, code: &str, text: &str) -> Result<(), String> {
        match self {
            SmsGateway::Aliyun(a) => a.send_code(phone, code).await,
            SmsGateway::Outbox(store) => {
                store.write(async |tx| store.insert_outbox(tx, "sms", phone, "", text).await).await.map_err(|e| e.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of Aliyun's published SMS signature document (AccessKeyId `testId`,
    /// secret `testSecret`, SendSms to 15300000001 with template SMS_71390007).
    #[test]
    fn signature_matches_the_published_example() {
        let p: BTreeMap<String, String> = [
            ("AccessKeyId", "testId"),
            ("Action", "SendSms"),
            ("Format", "XML"),
            ("OutId", "123"),
            ("PhoneNumbers", "15300000001"),
            ("RegionId", "cn-hangzhou"),
            ("SignName", "阿里云短信测试专用"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "45e25e9b-0a6f-4070-8c85-2956eda1b466"),
            ("SignatureVersion", "1.0"),
            ("TemplateCode", "SMS_71390007"),
            ("TemplateParam", "{\"customer\":\"test\"}"),
            ("Timestamp", "2017-07-12T02:42:19Z"),
            ("Version", "2017-05-25"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let sts = string_to_sign("GET", &p);
        assert!(sts.starts_with("GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML"));
        assert!(sts.contains("SignName%3D%25E9%2598%25BF%25E9%2587%258C"));
        assert!(sts.contains("TemplateParam%3D%257B%2522customer%2522%253A%2522test%2522%257D"));
        assert!(sts.ends_with("Timestamp%3D2017-07-12T02%253A42%253A19Z%26Version%3D2017-05-25"));
        assert_eq!(signature("testSecret", &sts), "zJDF+Lrzhj/ThnlvIToysFRq6t4=");
        assert_eq!(percent_encode("zJDF+Lrzhj/ThnlvIToysFRq6t4="), "zJDF%2BLrzhj%2FThnlvIToysFRq6t4%3D");
    }

    #[test]
    fn refusals_that_will_not_pass_are_permanent() {
        for code in [
            "isv.SMS_TEMPLATE_ILLEGAL",
            "isv.SMS_SIGNATURE_ILLEGAL",
            "isv.TEMPLATE_MISSING_PARAMETERS",
            "isv.INVALID_JSON_PARAM",
            "isv.MOBILE_NUMBER_ILLEGAL",
            "isv.OUT_OF_SERVICE",
            "isp.RAM_PERMISSION_DENY",
            "InvalidAccessKeyId.NotFound",
            "SignatureDoesNotMatch",
        ] {
            assert!(refusal_is_permanent(code), "{code}");
        }
        for code in ["isp.SYSTEM_ERROR", "isp.GATEWAY_ERROR", "isv.BUSINESS_LIMIT_CONTROL", "Throttling.User", "ServiceUnavailable", ""] {
            assert!(!refusal_is_permanent(code), "{code}");
        }
    }

    #[test]
    fn timestamps_are_utc_iso8601() {
        assert_eq!(iso8601_utc(1_499_827_339), "2017-07-12T02:42:19Z");
        assert_eq!(iso8601_utc(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn signed_params_carry_the_code_and_a_signature() {
        let a = AliyunSms::new(AliyunSmsConfig {
            access_key_id: "id".into(),
            access_key_secret: "secret".into(),
            sign_name: "校园统一支付平台".into(),
            template_code: "SMS_1".into(),
            endpoint: "https://dysmsapi.aliyuncs.com/".into(),
            notice_template_code: None,
        });
        let p = a.signed_params("13800000000", "123456", "n1", 1_499_827_339);
        assert_eq!(p["TemplateParam"], "{\"code\":\"123456\"}");
        let mut unsigned = p.clone();
        let sig = unsigned.remove("Signature").unwrap();
        assert_eq!(sig, signature("secret", &string_to_sign("GET", &unsigned)));
    }

    fn with_notice_template(notice: Option<&str>) -> AliyunSms {
        AliyunSms::new(AliyunSmsConfig {
            access_key_id: "id".into(),
            access_key_secret: "secret".into(),
            sign_name: "校园统一支付平台".into(),
            template_code: "SMS_CODE".into(),
            endpoint: "https://dysmsapi.aliyuncs.com/".into(),
            notice_template_code: notice.map(String::from),
        })
    }

    fn notice() -> ReceiptNotice {
        ReceiptNotice {
            kind: "电子票据".into(),
            amount: "3200.00".into(),
            code: "62060125".into(),
            number: "0000000042".into(),
            check: "A1B2C3D4E5F6".into(),
        }
    }

    #[test]
    fn a_receipt_notice_goes_through_the_notice_template_with_named_variables() {
        let a = with_notice_template(Some("SMS_NOTICE"));
        let p = a.notice_params("13800000000", &notice(), "n1", 1_499_827_339).unwrap().unwrap();
        assert_eq!(p["TemplateCode"], "SMS_NOTICE", "not the code template");
        let param: serde_json::Value = serde_json::from_str(&p["TemplateParam"]).unwrap();
        assert_eq!(
            param,
            serde_json::json!({"kind": "电子票据", "amount": "3200.00", "code": "62060125", "number": "0000000042", "check": "A1B2C3D4E5F6"})
        );
        // Every value a string (Aliyun takes nothing else), none of them a link.
        assert!(param.as_object().unwrap().values().all(|v| v.as_str().is_some_and(|s| !s.contains("://"))));
        assert_eq!((p["PhoneNumbers"].as_str(), p["SignName"].as_str()), ("13800000000", "校园统一支付平台"));
        let mut unsigned = p.clone();
        let sig = unsigned.remove("Signature").unwrap();
        assert_eq!(sig, signature("secret", &string_to_sign("GET", &unsigned)), "signed over the notice's parameters");
        // Without a notice template nothing is sent (the code template is never used for it).
        assert_eq!(with_notice_template(None).notice_params("13800000000", &notice(), "n1", 1).unwrap(), None);
    }

    #[test]
    fn notice_values_outside_their_variables_rules_are_refused() {
        let a = with_notice_template(Some("SMS_NOTICE"));
        let bad = [
            ReceiptNotice { check: "A1B2-C3".into(), ..notice() },
            ReceiptNotice { number: "1".repeat(36), ..notice() },
            ReceiptNotice { code: String::new(), ..notice() },
            ReceiptNotice { amount: "-100.00".into(), ..notice() },
            ReceiptNotice { amount: "¥3200".into(), ..notice() },
            ReceiptNotice { kind: "很长很长很长很长很长很长很长很长很长很长很长".into(), ..notice() },
            ReceiptNotice { kind: "【票据】".into(), ..notice() },
        ];
        for n in bad {
            assert!(a.notice_params("13800000000", &n, "n1", 1).is_err(), "{n:?}");
        }
        let red = ReceiptNotice { kind: "红字电子票据".into(), amount: "100.00".into(), ..notice() };
        assert!(a.notice_params("13800000000", &red, "n1", 1).unwrap().is_some());
    }
}
