//! An emulation of the merchant-side interface of CCB's 外联平台 (EBS client): a TCP listener
//! that reads one GBK `<TX>…</TX>` document per connection, answers one and closes, as the public
//! SDK's `TcpUtils` expects (it reads to EOF). Only 5W1004 (单笔退款) is answered; other codes get
//! a refusal. The request ends at `</TX>` (the SDK does not half-close).
//!
//! The refund switch: `instant` (and `processing`, which CCB's synchronous 5W1004 cannot express:
//! no public source shows a pending answer, a refund number to ask about, or a refund
//! notification, so it is done at once too) or `fail` (also `abnormal`, `refuse`): refused with a
//! code of the simulator's own, CCB's error list not being public.

use super::Sandbox;
use super::ledger::{Refund, RefundMode, TradeState};
use campuspay_channels::ccb::{api, ebs, xml};
use campuspay_channels::crypto::unix_now;
use campuspay_channels::{ChannelError, Provider};
use campuspay_domain::Fen;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const P: Provider = Provider::Ccb;
const MAX_REQUEST: usize = 64 * 1024;

/// Binds `addr` (`127.0.0.1:0` for an ephemeral port) and serves until the process ends.
pub async fn serve(sb: Sandbox, addr: &str) -> Result<SocketAddr, ChannelError> {
    let listener =
        tokio::net::TcpListener::bind(addr).await.map_err(|e| ChannelError::Config(format!("建行外联平台（沙箱）无法监听 {addr}: {e}")))?;
    let local = listener.local_addr().map_err(|e| ChannelError::Config(e.to_string()))?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let sb = sb.clone();
            tokio::spawn(async move {
                if let Err(e) = connection(&sb, stream).await {
                    tracing::info!(error = %e, "sandbox: 外联平台 connection ended");
                }
            });
        }
    });
    Ok(local)
}

async fn connection(sb: &Sandbox, mut stream: tokio::net::TcpStream) -> std::io::Result<()> {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    let read = tokio::time::timeout(ebs::TIMEOUT, async {
        loop {
            let n = stream.read(&mut buf).await?;
            request.extend_from_slice(&buf[..n]);
            if n == 0 || request.windows(5).any(|w| w == b"</TX>") || request.len() > MAX_REQUEST {
                return Ok::<_, std::io::Error>(());
            }
        }
    })
    .await;
    if !matches!(read, Ok(Ok(()))) {
        return Ok(());
    }
    let answer = answer(sb, &ebs::decode(&request));
    stream.write_all(&ebs::encode(&answer)).await?;
    stream.shutdown().await
}

/// The answer to one request document.
pub(super) fn answer(sb: &Sandbox, request: &str) -> String {
    let t = |k: &str| xml::text(request, k).unwrap_or_default();
    let (sn, cust, code) = (t("REQUEST_SN"), t("CUST_ID"), t("TX_CODE"));
    let side = &sb.inner.ccb;
    let result = if !request.contains("</TX>") {
        Err(("SANDBOX_FORMAT", "报文格式有误".to_string()))
    } else if cust != side.merchant_id || t("USER_ID") != side.ebs_user_id || t("PASSWORD") != side.ebs_password {
        Err(("SANDBOX_LOGIN", "商户号、操作员或密码错误".to_string()))
    } else if sn.is_empty() || sn.len() > 16 || !sn.bytes().all(|b| b.is_ascii_digit()) {
        Err(("SANDBOX_FORMAT", "REQUEST_SN 须为 16 位以内的数字".to_string()))
    } else if code != ebs::TX_REFUND {
        Err(("SANDBOX_TX_CODE", format!("交易码 {code} 不支持")))
    } else {
        refund(sb, &sn, &t("ORDER"), &t("MONEY"))
    };
    let e = xml::escape;
    let (ret, msg, info) = match result {
        Ok((order, paid, amount)) => (
            ebs::RETURN_OK.to_string(),
            String::new(),
            format!(
                "<TX_INFO><ORDER_NUM>{}</ORDER_NUM><PAY_AMOUNT>{}</PAY_AMOUNT><AMOUNT>{}</AMOUNT></TX_INFO>",
                e(&order),
                paid.to_yuan_string(),
                amount.to_yuan_string()
            ),
        ),
        Err((code, msg)) => (code.to_string(), msg, String::new()),
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"GB2312\" standalone=\"yes\" ?><TX><REQUEST_SN>{}</REQUEST_SN><CUST_ID>{}</CUST_ID>\
         <TX_CODE>{}</TX_CODE><RETURN_CODE>{}</RETURN_CODE><RETURN_MSG>{}</RETURN_MSG><LANGUAGE>CN</LANGUAGE>{info}</TX>",
        e(&sn),
        e(&cust),
        e(&code),
        e(&ret),
        e(&msg)
    )
}

type Refused = (&'static str, String);

/// Refunds `money` of the paid order `order` at once, or refuses; keyed by the request's SN.
fn refund(sb: &Sandbox, sn: &str, order: &str, money: &str) -> Result<(String, Fen, Fen), Refused> {
    let amount = api::fen(money).ok().filter(|a| a.is_positive()).ok_or(("SANDBOX_FORMAT", format!("MONEY 有误: {money}")))?;
    let mode = sb.behaviour(P).refund;
    let mut ledger = sb.ledger();
    let t = ledger.get_mut(P, order).ok_or(("SANDBOX_NO_ORDER", format!("订单 {order} 不存在")))?;
    if t.state != TradeState::Paid {
        return Err(("SANDBOX_NOT_PAID", "订单未支付".into()));
    }
    if t.refunded().0 + amount.0 > t.amount.0 {
        return Err(("SANDBOX_OVER_AMOUNT", "退款金额超过可退金额".into()));
    }
    if matches!(mode, RefundMode::Fail | RefundMode::Abnormal | RefundMode::Refuse) {
        return Err(("SANDBOX_REFUND_FAILED", "退款失败（沙箱的退款开关为 fail）".into()));
    }
    t.refunds.push(Refund {
        out_refund_no: sn.to_string(),
        refund_id: sn.to_string(),
        amount,
        at: unix_now(),
        processing: false,
        wechat: None,
        unionpay_request: None,
    });
    Ok((order.to_string(), t.amount, amount))
}
