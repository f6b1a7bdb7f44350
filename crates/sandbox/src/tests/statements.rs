//! Statements end to end: the sandbox books payments and refunds, the real adapters download
//! and parse each provider's file.

use super::*;
use campuspay_channels::{Statement, StatementKind};
use campuspay_domain::time::{format_shanghai_date, shanghai_to_unix};

const ALL: [Provider; 3] = [Provider::Wechatpay, Provider::Alipay, Provider::Unionpay];

fn refund_no(p: Provider) -> &'static str {
    match p {
        Provider::Wechatpay => "RF-STMT-1",
        Provider::Alipay => "RF_STMT_1",
        Provider::Unionpay | Provider::Ccb => "RFSTMT0001",
        Provider::Allinpay => unreachable!("通联's statement layout is not public: no statement"),
    }
}

/// Pays `no` with notifications lost (nobody hears of it), refunds part of it through the
/// adapter, and returns the Shanghai date of the payment.
async fn lost_payment_then_refund(env: &Env, p: Provider, no: &str) -> String {
    env.set(p, serde_json::json!({ "notify": "lost" })).await;
    env.create_qr(p, no, 500_000).await;
    assert_eq!(env.pay(p, no).await.0, 200);
    let req = RefundRequest {
        out_trade_no: no.into(),
        out_refund_no: refund_no(p).into(),
        refund: Fen(12_345),
        total: Fen(500_000),
        reason: None,
    };
    env.chan(p).refund(&req).await.unwrap();
    let t = env.sandbox.trade(p, no).unwrap();
    assert!(t.notifications.is_empty(), "lost: never notified");
    format_shanghai_date(t.paid_at.unwrap())
}

fn assert_payment_and_refund(s: &Statement, p: Provider, no: &str, transaction_id: &str) {
    let lines: Vec<_> = s.lines_for(no).collect();
    assert_eq!(lines.len(), 2, "{p:?}: {:?}", s.lines);
    let (pay, refund) = (lines[0], lines[1]);
    assert_eq!((pay.kind, pay.amount, pay.transaction_id.as_str()), (StatementKind::Payment, Fen(500_000), transaction_id));
    assert_eq!((refund.kind, refund.amount, refund.transaction_id.as_str()), (StatementKind::Refund, Fen(12_345), transaction_id));
    assert_eq!(refund.out_refund_no.as_deref(), Some(refund_no(p)));
    assert_eq!(pay.time.len(), "2024-09-01 10:00:00".len());
    s.check_totals().unwrap();
    let t = s.totals().unwrap();
    assert_eq!((t.payment_count, t.refund_count), (1, 1));
}

#[tokio::test]
async fn each_statement_shows_a_lost_payment_and_its_refund() {
    let env = env(0.0).await;
    for (p, no) in [(Provider::Wechatpay, "STMT-WX-0001"), (Provider::Alipay, "STMT_ALI_0001"), (Provider::Unionpay, "STMTUP0001")] {
        let date = lost_payment_then_refund(&env, p, no).await;
        let transaction_id = env.sandbox.trade(p, no).unwrap().transaction_id.unwrap();
        let s = env.chan(p).statement(&date).await.unwrap();
        assert_eq!((s.provider, s.date.as_str()), (p, date.as_str()));
        assert_payment_and_refund(&s, p, no, &transaction_id);
        assert!(!s.raw.is_empty());
    }
    // Only notifications were lost: nothing reached the merchant.
    assert!(env.inbox.all().is_empty());
}

#[tokio::test]
async fn a_trade_paid_on_a_past_day_and_never_heard_of_is_on_that_days_statement() {
    let env = env(0.0).await;
    // Yesterday, one second before midnight: UnionPay's settleDate (MMdd) has no year, so the
    // day must be recent, as real reconciliation days are.
    let yesterday = format_shanghai_date(unix_now() - 86_400);
    let today = format_shanghai_date(unix_now());
    let (y, m, d) = campuspay_channels::statement::check_date(&yesterday).unwrap();
    let at = shanghai_to_unix(y, m, d, 23, 59, 58).unwrap();
    for p in ALL {
        let no = "SILENT000001";
        let id = env.sandbox.insert_paid_trade(p, no, Fen(300_050), "2024学年住宿费（南校区）", at);
        let s = env.chan(p).statement(&yesterday).await.unwrap();
        assert_eq!(s.lines.len(), 1, "{p:?}");
        let l = &s.lines[0];
        assert_eq!((l.out_trade_no.as_str(), l.transaction_id.as_str(), l.amount), (no, id.as_str(), Fen(300_050)));
        assert_eq!(l.time, format!("{yesterday} 23:59:58"));
        match p {
            // Chinese text through WeChat's UTF-8 bill and Alipay's GBK CSV.
            Provider::Wechatpay | Provider::Alipay => assert_eq!(l.subject.as_deref(), Some("2024学年住宿费（南校区）")),
            Provider::Unionpay | Provider::Ccb => assert_eq!(l.subject, None),
            Provider::Allinpay => unreachable!("not in ALL"),
        }
        assert!(env.chan(p).statement(&today).await.unwrap().lines.is_empty(), "{p:?}: the next day is empty");
    }
}

#[tokio::test]
async fn a_tampered_wechat_bill_is_refused_by_its_hash() {
    let env = env(0.0).await;
    let at = shanghai_to_unix(2024, 9, 1, 12, 0, 0).unwrap();
    env.sandbox.insert_paid_trade(Provider::Wechatpay, "TAMPER000001", Fen(100), "学费", at);
    env.wechat.statement("2024-09-01").await.unwrap();
    env.set(Provider::Wechatpay, serde_json::json!({ "corrupt_statement": true })).await;
    assert!(matches!(env.wechat.statement("2024-09-01").await, Err(ChannelError::BadSignature)));
}

#[tokio::test]
async fn damaged_archives_and_bad_dates_are_malformed() {
    let env = env(0.0).await;
    for p in [Provider::Alipay, Provider::Unionpay] {
        env.set(p, serde_json::json!({ "corrupt_statement": true })).await;
        match env.chan(p).statement("2024-09-01").await {
            Err(ChannelError::Malformed(m)) => assert!(m.contains("压缩包"), "{p:?}: {m}"),
            other => panic!("{p:?}: expected Malformed, got {other:?}"),
        }
    }
    for p in ALL {
        assert!(matches!(env.chan(p).statement("2024/09/01").await, Err(ChannelError::Malformed(_))), "{p:?}");
    }
}
