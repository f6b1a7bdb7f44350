//! The behaviour switches, each observable from the merchant's side.

use super::*;
#[tokio::test]
async fn behaviour_is_read_and_patched_over_http() {
    let e = env(0.01).await;
    let url = format!("{}/sandbox/alipay/behaviour", e.base);
    let b: Behaviour = e.http.get(&url).send().await.unwrap().json().await.unwrap();
    // Alipay's refunds are done at once unless switched (WeChat's answer PROCESSING first).
    assert_eq!(b, Behaviour { refund: crate::RefundMode::Instant, ..Behaviour::default() });
    let b = e.set(Provider::Alipay, serde_json::json!({"notify":"delay","delay_s":7})).await;
    assert_eq!((b.notify, b.delay_s, b.decline), (NotifyMode::Delay, 7, false));
    let b = e.set(Provider::Alipay, serde_json::json!({"decline":true})).await;
    assert_eq!((b.notify, b.delay_s, b.decline), (NotifyMode::Delay, 7, true));
    // The other provider is untouched.
    assert_eq!(e.sandbox.behaviour(Provider::Wechatpay), Behaviour::default());
}

#[tokio::test]
async fn decline_keeps_the_trade_unpaid_and_sends_nothing() {
    let e = env(0.01).await;
    for p in BOTH {
        e.set(p, serde_json::json!({ "decline": true })).await;
        let no = format!("DECL{}00001", name(p));
        e.create_qr(p, &no, 100).await;
        let (status, body) = e.pay(p, &no).await;
        assert_eq!((status, body["result"].as_str()), (402, Some("declined")));
        assert_eq!(e.chan(p).query(&no).await.unwrap(), ProviderStatus::NotPaid);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(e.inbox.all().is_empty());
}

#[tokio::test]
async fn duplicate_delivers_each_notification_twice() {
    let e = env(0.01).await;
    for (i, p) in BOTH.into_iter().enumerate() {
        e.set(p, serde_json::json!({ "notify": "duplicate" })).await;
        let no = format!("DUP{i}00000001");
        e.create_qr(p, &no, 100).await;
        e.pay(p, &no).await;
        let got = e.wait_for(2 * (i + 1)).await;
        let a = got[2 * i].1.as_ref().unwrap();
        let b = got[2 * i + 1].1.as_ref().unwrap();
        assert_eq!(a, b);
        assert_eq!(a.out_trade_no, no);
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(e.inbox.all().len(), 4, "acknowledged: no retries");
}

#[tokio::test]
async fn lost_never_notifies_but_query_answers_paid() {
    let e = env(0.01).await;
    for p in BOTH {
        e.set(p, serde_json::json!({ "notify": "lost" })).await;
        let no = format!("LOST{}00001", name(p));
        e.create_qr(p, &no, 100).await;
        assert_eq!(e.pay(p, &no).await.0, 200);
        assert!(matches!(e.chan(p).query(&no).await.unwrap(), ProviderStatus::Paid { .. }));
    }
    // Past WeChat's first two retries (2 × 15 s × 0.01).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(e.inbox.all().is_empty());
}

#[tokio::test]
async fn forge_fails_verification_is_retried_and_never_delivers_a_good_one() {
    let e = env(0.01).await;
    e.set(Provider::Wechatpay, serde_json::json!({ "notify": "forge" })).await;
    e.create_qr(Provider::Wechatpay, "FORGE0000001", 100).await;
    e.pay(Provider::Wechatpay, "FORGE0000001").await;
    // First attempt plus retries at +0.15 s and +0.3 s.
    let got = e.wait_for(3).await;
    assert!(got.len() >= 3);
    for (_, n) in &got {
        assert!(n.as_ref().unwrap_err().contains("BadSignature"), "{n:?}");
    }
    assert!(matches!(e.wechat.query("FORGE0000001").await.unwrap(), ProviderStatus::Paid { .. }));

    let e = env(0.001).await;
    e.set(Provider::Alipay, serde_json::json!({ "notify": "forge" })).await;
    e.create_qr(Provider::Alipay, "FORGE0000002", 100).await;
    e.pay(Provider::Alipay, "FORGE0000002").await;
    let got = e.wait_for(2).await; // first, and the retry at +0.24 s
    assert!(got.len() >= 2);
    for (_, n) in &got {
        assert!(n.as_ref().unwrap_err().contains("BadSignature"), "{n:?}");
    }
}

#[tokio::test]
async fn reorder_sends_a_stale_notification_after_the_newer_one() {
    let e = env(0.01).await;
    for (i, p) in BOTH.into_iter().enumerate() {
        e.set(p, serde_json::json!({ "notify": "reorder" })).await;
        let no = format!("REORD{i}000001");
        e.create_qr(p, &no, 100).await;
        e.pay(p, &no).await;
        let got = e.wait_for(2 * (i + 1)).await;
        let newer = got[2 * i].1.as_ref().unwrap();
        let stale = got[2 * i + 1].1.as_ref().unwrap();
        assert!(newer.paid);
        assert!(!stale.paid, "{stale:?}");
        assert_eq!(stale.out_trade_no, no);
        let expected = if p == Provider::Wechatpay { "NOTPAY" } else { "WAIT_BUYER_PAY" };
        assert_eq!(stale.provider_status, expected);
    }
}

#[tokio::test]
async fn delay_holds_the_first_notification_back() {
    let e = env(0.01).await;
    e.set(Provider::Alipay, serde_json::json!({ "notify": "delay", "delay_s": 30 })).await;
    e.create_qr(Provider::Alipay, "DELAY0000001", 100).await;
    e.pay(Provider::Alipay, "DELAY0000001").await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(e.inbox.all().is_empty(), "30 s × 0.01 = 0.3 s not yet over");
    let got = e.wait_for(1).await;
    assert!(got[0].1.as_ref().unwrap().paid);
}

#[tokio::test]
async fn unacknowledged_notifications_are_retried_until_acknowledged() {
    let e = env(0.01).await;
    e.inbox.fail_first.store(2, Ordering::SeqCst);
    e.create_qr(Provider::Wechatpay, "RETRY0000001", 100).await;
    e.pay(Provider::Wechatpay, "RETRY0000001").await;
    let got = e.wait_for(3).await;
    assert_eq!(got.len(), 3);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t = e.sandbox.trade(Provider::Wechatpay, "RETRY0000001").unwrap();
    let acks: Vec<_> = t.notifications.iter().map(|n| (n.status, n.acknowledged)).collect();
    assert_eq!(acks, [(Some(500), false), (Some(500), false), (Some(204), true)]);
    assert_eq!(e.inbox.all().len(), 3, "no more after the acknowledgement");
}

/// The `refund` switch for Alipay and UnionPay, through our adapters: a processing refund is
/// `Processing` until done (Alipay: `fund_change=N` and no `REFUND_SUCCESS` yet; UnionPay:
/// `origRespCode=05`), then `Success` when asked again; a failing one is refused with its code;
/// each refund done is notified (Alipay to the trade's notify_url, UnionPay to the refund's
/// backUrl) and the notification verifies.
#[tokio::test]
async fn alipay_and_unionpay_refunds_follow_the_refund_switch() {
    let e = env(0.01).await;
    for (i, p) in [Provider::Alipay, Provider::Unionpay].into_iter().enumerate() {
        let no = format!("RFSW{i}0000001");
        e.create_qr(p, &no, 1000).await;
        e.pay(p, &no).await;
        e.wait_for(1 + 2 * i).await;
        // 100 s at this scale: done after a second.
        e.set(p, serde_json::json!({ "refund": "processing", "refund_delay_s": 100 })).await;
        let req = RefundRequest {
            out_trade_no: no.clone(),
            out_refund_no: format!("RFSW{i}R000001"),
            refund: Fen(300),
            total: Fen(1000),
            reason: None,
        };
        let first = e.chan(p).refund(&req).await.unwrap();
        assert_eq!(first.status, RefundStatus::Processing, "{p:?}");
        let got = e.wait_for(2 + 2 * i).await;
        let refund_notice = got.last().unwrap().1.as_ref().unwrap();
        match p {
            // Alipay tells of the refund on the trade's own notification, still TRADE_SUCCESS.
            Provider::Alipay => {
                assert!(refund_notice.provider_status.contains(&format!("refund {}", req.out_refund_no)), "{refund_notice:?}")
            }
            _ => assert_eq!((refund_notice.out_trade_no.as_str(), refund_notice.paid), (req.out_refund_no.as_str(), false)),
        }
        let again = e.chan(p).refund(&req).await.unwrap();
        assert_eq!(again.status, RefundStatus::Success, "{p:?}");
        assert_eq!(e.sandbox.trade(p, &no).unwrap().refunded(), Fen(300));

        e.set(p, serde_json::json!({ "refund": "fail" })).await;
        let failed = RefundRequest { out_refund_no: format!("RFSW{i}F000001"), ..req };
        match e.chan(p).refund(&failed).await {
            Err(ChannelError::Provider { code, .. }) => {
                assert_eq!(code, if p == Provider::Alipay { "ACQ.TRADE_NOT_ALLOW_REFUND" } else { "01" })
            }
            other => panic!("{p:?}: {other:?}"),
        }
        e.set(p, serde_json::json!({ "refund": "instant" })).await;
    }
}
