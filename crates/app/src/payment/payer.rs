//! Who pays inside WeChat's browser. A JSAPI payment names its payer (`openid` under the
//! school's official account), which only WeChat's web sign-in (`snsapi_base`) can tell: the
//! first JSAPI payment of a session goes to WeChat and comes back with a code, which is
//! exchanged for the openid, kept with the session, and the payment then starts.
//!
//! The order travels through WeChat in `state`, bound to the session by an HMAC under the
//! session's CSRF token, so a link from elsewhere cannot start a payment in someone's session.

use super::channels::Method;
use super::orders::{self, PayStarted};
use crate::crypto::constant_time_eq;
use crate::error::{Error, ErrorKind};
use crate::{Client, Context};
use campuspay_store::sessions::SessionRow;
use hmac::{KeyInit, Mac};

/// Hex characters of the MAC at the end of `state`.
const STATE_MAC_LEN: usize = 16;

/// What the page should do after 去支付.
pub enum PayStep {
    Started(Box<PayStarted>),
    /// Send the browser to WeChat's sign-in first.
    SignIn {
        url: String,
    },
}

fn state_mac(session: &SessionRow, order_no: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(session.csrf_token.as_bytes()).expect("HMAC takes any key length");
    mac.update(b"wechat-sign-in:");
    mac.update(order_no.as_bytes());
    mac.finalize().into_bytes().iter().take(STATE_MAC_LEN / 2).map(|b| format!("{b:02x}")).collect()
}

/// The order number `state` carries, if `state` was made for this session.
fn order_of_state<'a>(session: &SessionRow, state: &'a str) -> Option<&'a str> {
    let split = state.len().checked_sub(STATE_MAC_LEN)?;
    let (order_no, mac) = (state.get(..split)?, state.get(split..)?);
    (!order_no.is_empty() && constant_time_eq(mac.as_bytes(), state_mac(session, order_no).as_bytes())).then_some(order_no)
}

fn sign_in_failed() -> Error {
    Error::new(
        ErrorKind::Upstream,
        "wechat_sign_in_failed",
        "微信授权失败，请返回订单页重新选择微信支付",
        "WeChat could not confirm who is paying; go back to the order and choose WeChat Pay again",
    )
}

/// 去支付 on the order page: a JSAPI payment whose payer is not known yet first goes to
/// WeChat's sign-in; everything else starts at once.
pub async fn pay_here(ctx: &Context, session: &SessionRow, order_no: &str, method_name: &str, client: &Client) -> Result<PayStep, Error> {
    if Method::parse(method_name) != Some(Method::WechatJsapi) {
        return orders::pay(ctx, session, order_no, method_name, None, client).await.map(|p| PayStep::Started(Box::new(p)));
    }
    if let Some(openid) = ctx.store.session_payer(&session.token_hash).await? {
        return orders::pay(ctx, session, order_no, method_name, Some(&openid), client).await.map(|p| PayStep::Started(Box::new(p)));
    }
    // The checks of `pay` (order payable, channel enabled) before the detour through WeChat.
    let order = orders::own_order(ctx, session, order_no).await?;
    let school = ctx.schools.by_id(&ctx.store, session.school_id).await?.ok_or_else(Error::unknown_school)?;
    if !school.policy.channels.iter().any(|c| c == Method::WechatJsapi.as_str()) {
        return orders::pay(ctx, session, order_no, method_name, None, client).await.map(|p| PayStep::Started(Box::new(p)));
    }
    let redirect_uri = format!("{}/s/{}/wechat/signed-in", ctx.public_url(), school.code);
    let state = format!("{}{}", order.order_no, state_mac(session, &order.order_no));
    let url = ctx
        .channels
        .get(school.id, Method::WechatJsapi)
        .and_then(|c| c.payer_sign_in_url(&redirect_uri, &state))
        .ok_or_else(orders::channel_unavailable)?;
    Ok(PayStep::SignIn { url })
}

/// WeChat came back from its sign-in with `code` and our `state`: learn the payer, keep them
/// with the session, and start the JSAPI payment of the order `state` names.
pub async fn signed_in(ctx: &Context, session: &SessionRow, code: &str, state: &str, client: &Client) -> Result<PayStarted, Error> {
    let order_no = order_of_state(session, state).ok_or_else(|| {
        Error::new(
            ErrorKind::Refused,
            "wechat_state_mismatch",
            "授权链接已失效，请返回订单页重新支付",
            "This sign-in link is not valid here; pay again from the order",
        )
    })?;
    if code.is_empty() || code.len() > 128 || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(sign_in_failed());
    }
    let channel = ctx.channels.get(session.school_id, Method::WechatJsapi).ok_or_else(sign_in_failed)?;
    let openid = channel.payer_of_code(code).await.map_err(|e| {
        tracing::warn!(error = %e, "WeChat sign-in code exchange failed");
        sign_in_failed()
    })?;
    ctx.store.set_session_payer(&session.token_hash, &openid).await?;
    orders::pay(ctx, session, order_no, Method::WechatJsapi.as_str(), Some(&openid), client).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(csrf: &str) -> SessionRow {
        SessionRow {
            token_hash: "h".into(),
            school_id: 1,
            student_id: 1,
            csrf_token: csrf.into(),
            must_change_password: false,
            created_at: 0,
            last_seen_at: 0,
            idle_timeout_s: 1,
            expires_at: 1,
            user_agent: String::new(),
            ip: String::new(),
        }
    }

    #[test]
    fn state_is_bound_to_its_session_and_order() {
        let s = session("csrf-a");
        let state = format!("XF2512040001{}", state_mac(&s, "XF2512040001"));
        assert!(state.len() <= 128 && state.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(order_of_state(&s, &state), Some("XF2512040001"));
        assert_eq!(order_of_state(&session("csrf-b"), &state), None, "another session's state");
        let forged = format!("XF2512040002{}", &state[12..]);
        assert_eq!(order_of_state(&s, &forged), None, "another order under the same MAC");
        assert_eq!(order_of_state(&s, "short"), None);
        assert_eq!(order_of_state(&s, &state[12..]), None, "a MAC without an order");
    }
}
