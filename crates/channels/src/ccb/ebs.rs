//! CCB's 外联平台 (EBS) as a merchant sees it: a program CCB supplies that runs at the merchant,
//! logged in to CCB with the merchant's operator; the merchant's system opens a **plain TCP**
//! connection to it, writes one GBK-encoded `<TX>…</TX>` document and reads the answer until the
//! connection closes, with no length prefix (LiHuaYang `TcpUtils.send`, `CCBEbsBaseReq`). How the
//! 外联平台 talks to CCB is not public, and need not be: this is the interface merchants integrate.
//!
//! Used here: **5W1004** 单笔退款 (`TX_INFO{MONEY, ORDER, SIGN_INFO, SIGNCERT}` → `TX_INFO{ORDER_NUM,
//! PAY_AMOUNT, AMOUNT}`), answered synchronously: no public source shows a refund notification or
//! a refund serial number, so a refund is final in its answer.
//!
//! Chosen where the public sources are silent (and said so):
//! - The XML declaration names GBK, the bytes' real encoding (the SDK's serializer declares
//!   UTF-8 over GBK bytes; a reader that honours the declaration reads ours right, one that
//!   assumes GBK as the SDK's counterpart must, too).
//! - `MONEY` is yuan with two decimals, as every other CCB amount field is.
//! - `RETURN_CODE` `000000` is success (the convention of CCB's answers in the same SDK).
//! - We write the request and do not half-close, as the SDK does; the answer is read to EOF.

use super::xml;
use crate::ChannelError;
use campuspay_domain::Fen;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const TX_REFUND: &str = "5W1004";
/// Success, as CCB's answers write it.
pub const RETURN_OK: &str = "000000";
/// The SDK's connect and read timeouts.
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// An answer larger than this is not one of these documents.
const MAX_ANSWER: usize = 1 << 20;

/// The merchant's login at its 外联平台 (`CUST_ID` 商户号, `USER_ID` 操作员号, `PASSWORD`).
#[derive(Clone)]
pub struct EbsLogin {
    pub cust_id: String,
    pub user_id: String,
    pub password: String,
}

/// `REQUEST_SN`: digits only, at most 16 (the SDK uses `yyMMddHHmmssSSS`, Shanghai time).
pub fn request_sn(unix_ms: i64) -> String {
    let (y, mo, d, h, mi, s) = campuspay_domain::time::shanghai_parts(unix_ms.div_euclid(1000));
    format!("{:02}{mo:02}{d:02}{h:02}{mi:02}{s:02}{:03}", y % 100, unix_ms.rem_euclid(1000))
}

/// One `<TX>` request document: the envelope in the SDK's element order, then `TX_INFO`.
pub fn request(login: &EbsLogin, sn: &str, tx_code: &str, info: &[(&str, String)]) -> String {
    let e = xml::escape;
    let info: String = info.iter().map(|(k, v)| format!("<{k}>{}</{k}>", e(v))).collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"GBK\" standalone=\"yes\"?>\n<TX><REQUEST_SN>{}</REQUEST_SN><CUST_ID>{}</CUST_ID>\
         <USER_ID>{}</USER_ID><PASSWORD>{}</PASSWORD><TX_CODE>{}</TX_CODE><LANGUAGE>CN</LANGUAGE><TX_INFO>{info}</TX_INFO></TX>",
        e(sn),
        e(&login.cust_id),
        e(&login.user_id),
        e(&login.password),
        e(tx_code)
    )
}

/// The 5W1004 request for `amount` of `order_id`. `SIGN_INFO` and `SIGNCERT` are sent empty, as
/// the SDK sends them (their use is not public).
pub fn refund_request(login: &EbsLogin, sn: &str, order_id: &str, amount: Fen) -> String {
    let info =
        [("MONEY", amount.to_yuan_string()), ("ORDER", order_id.to_string()), ("SIGN_INFO", String::new()), ("SIGNCERT", String::new())];
    request(login, sn, TX_REFUND, &info)
}

/// A 5W1004 answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundAnswer {
    pub return_code: String,
    pub return_msg: String,
    pub request_sn: String,
    pub order: String,
    /// `PAY_AMOUNT`: the order's payment.
    pub pay_amount: Option<Fen>,
    /// `AMOUNT`: this refund.
    pub amount: Option<Fen>,
}

impl RefundAnswer {
    pub fn ok(&self) -> bool {
        self.return_code == RETURN_OK
    }
}

pub fn parse_refund_answer(text: &str) -> Result<RefundAnswer, ChannelError> {
    let t = |k: &str| xml::text(text, k).unwrap_or_default();
    if !text.contains("<TX") {
        return Err(ChannelError::Malformed("外联平台应答不是 <TX> 报文".into()));
    }
    let info = xml::blocks(text, "TX_INFO").into_iter().next().unwrap_or_default();
    let money = |k: &str| xml::text(info, k).filter(|v| !v.is_empty()).map(|v| super::api::fen(&v)).transpose();
    Ok(RefundAnswer {
        return_code: t("RETURN_CODE"),
        return_msg: t("RETURN_MSG"),
        request_sn: t("REQUEST_SN"),
        order: xml::text(info, "ORDER_NUM").unwrap_or_default(),
        pay_amount: money("PAY_AMOUNT")?,
        amount: money("AMOUNT")?,
    })
}

/// GBK bytes of a request (every field we send is ASCII; Chinese would be GBK).
pub fn encode(text: &str) -> Vec<u8> {
    encoding_rs::GBK.encode(text).0.into_owned()
}

pub fn decode(bytes: &[u8]) -> String {
    encoding_rs::GBK.decode(bytes).0.into_owned()
}

/// What went wrong talking to the 外联平台, by whether the request may have reached it.
#[derive(Debug)]
pub enum SendError {
    /// Not connected, or the request was not written: nothing happened; safe to try again.
    NotSent(String),
    /// Written, but no (whole) answer came: the refund may or may not have been made.
    Unknown(String),
}

/// Sends one document to the 外联平台 at `addr` (`host:port`) and reads the answer to EOF.
pub async fn send(addr: &str, request: &str) -> Result<String, SendError> {
    let connect = tokio::time::timeout(TIMEOUT, tokio::net::TcpStream::connect(addr)).await;
    let mut stream = match connect {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(SendError::NotSent(format!("连接外联平台 {addr} 失败: {e}"))),
        Err(_) => return Err(SendError::NotSent(format!("连接外联平台 {addr} 超时"))),
    };
    let _ = stream.set_nodelay(true);
    if let Err(e) = stream.write_all(&encode(request)).await {
        return Err(SendError::NotSent(format!("向外联平台发送失败: {e}")));
    }
    let mut answer = Vec::new();
    let read = tokio::time::timeout(TIMEOUT, async {
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Ok::<_, std::io::Error>(());
            }
            answer.extend_from_slice(&buf[..n]);
            if answer.len() > MAX_ANSWER {
                return Err(std::io::Error::other("应答过长"));
            }
        }
    })
    .await;
    match read {
        Ok(Ok(())) if !answer.is_empty() => Ok(decode(&answer)),
        Ok(Ok(())) => Err(SendError::Unknown("外联平台未返回应答".into())),
        Ok(Err(e)) => Err(SendError::Unknown(format!("读取外联平台应答失败: {e}"))),
        Err(_) => Err(SendError::Unknown("等待外联平台应答超时".into())),
    }
}
