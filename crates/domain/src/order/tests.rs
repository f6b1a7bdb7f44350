use super::*;
use proptest::prelude::*;

fn txn(channel: &str, id: &str) -> TxnKey {
    TxnKey { channel: channel.into(), txn_id: id.into() }
}

fn unpaid(amount: i64) -> Order {
    Order { state: OrderState::Unpaid, amount: Fen(amount), deadline: 1_000, paid_by: None }
}

fn paid(t: &TxnKey, amount: i64) -> OrderEvent {
    OrderEvent::ProviderPaid { txn: t.clone(), amount: Fen(amount), source: PaidSource::Notify }
}

#[test]
fn legal_transitions_exactly() {
    use OrderState::*;
    let legal = [(Unpaid, Paid), (Unpaid, Closed), (Unpaid, Cancelled), (Paid, Refunded)];
    for from in OrderState::ALL {
        for to in OrderState::ALL {
            assert_eq!(can_transition(from, to), legal.contains(&(from, to)), "{from:?} -> {to:?}");
        }
    }
    use AttemptState as A;
    assert!(attempt_can_transition(A::Closed, A::Paid));
    assert!(attempt_can_transition(A::Superseded, A::Paid));
    assert!(!attempt_can_transition(A::Paid, A::Closed));
    assert!(!attempt_can_transition(A::Closed, A::Open));
}

#[test]
fn a_payment_is_applied_once_and_repeats_are_ignored() {
    let wx = txn("wechat_native", "4200001");
    let first = decide(&unpaid(500), &BTreeSet::new(), &paid(&wx, 500), LatePayment::Refund).unwrap();
    assert_eq!(first.order.state, OrderState::Paid);
    assert_eq!(first.order.paid_by, Some(wx.clone()));
    assert_eq!(first.effects, vec![Effect::ApplyPayment { txn: wx.clone(), amount: Fen(500) }, Effect::CloseOpenAttempts]);
    let settled = BTreeSet::from([wx.clone()]);
    let query = OrderEvent::ProviderPaid { txn: wx.clone(), amount: Fen(500), source: PaidSource::Query };
    let again = decide(&first.order, &settled, &query, LatePayment::Refund).unwrap();
    assert_eq!(again.order, first.order);
    assert_eq!(again.effects, vec![Effect::Ignore { why: Ignored::Duplicate }]);
    // Even if the caller forgot to record it, the order knows who paid it.
    let forgot = decide(&first.order, &BTreeSet::new(), &paid(&wx, 500), LatePayment::Refund).unwrap();
    assert_eq!(forgot.effects, vec![Effect::Ignore { why: Ignored::Duplicate }]);
}

#[test]
fn paying_twice_from_phone_and_pc_refunds_or_credits_the_second() {
    let wx = txn("wechat_native", "4200001");
    let ali = txn("alipay_qr", "2023081822001");
    let first = decide(&unpaid(500), &BTreeSet::new(), &paid(&wx, 500), LatePayment::Refund).unwrap();
    let settled = BTreeSet::from([wx.clone()]);
    let second = decide(&first.order, &settled, &paid(&ali, 500), LatePayment::Refund).unwrap();
    assert_eq!(second.order, first.order);
    assert_eq!(second.effects, vec![Effect::Refund { txn: ali.clone(), amount: Fen(500), reason: LateReason::AlreadyPaid }]);
    let credit = decide(&first.order, &settled, &paid(&ali, 500), LatePayment::Credit).unwrap();
    assert_eq!(credit.effects, vec![Effect::Credit { txn: ali, amount: Fen(500), reason: LateReason::AlreadyPaid }]);
}

#[test]
fn money_after_close_or_cancel_is_returned_not_applied() {
    let wx = txn("wechat_native", "1");
    let none = BTreeSet::new();
    let early = decide(&unpaid(500), &none, &OrderEvent::Expire { now: 999 }, LatePayment::Refund).unwrap();
    assert_eq!(early.effects, vec![Effect::Ignore { why: Ignored::NotYetDue }]);
    let closed = decide(&unpaid(500), &none, &OrderEvent::Expire { now: 1_000 }, LatePayment::Refund).unwrap();
    assert_eq!(closed.order.state, OrderState::Closed);
    assert_eq!(closed.effects, vec![Effect::CloseOpenAttempts]);
    let late = decide(&closed.order, &none, &paid(&wx, 500), LatePayment::Credit).unwrap();
    assert_eq!(late.order.state, OrderState::Closed);
    assert_eq!(late.effects, vec![Effect::Credit { txn: wx.clone(), amount: Fen(500), reason: LateReason::OrderClosed }]);

    let cancelled = decide(&unpaid(500), &none, &OrderEvent::Cancel, LatePayment::Refund).unwrap();
    assert_eq!(cancelled.order.state, OrderState::Cancelled);
    let late = decide(&cancelled.order, &none, &paid(&wx, 500), LatePayment::Refund).unwrap();
    assert_eq!(late.effects, vec![Effect::Refund { txn: wx, amount: Fen(500), reason: LateReason::OrderCancelled }]);
}

#[test]
fn wrong_amounts_and_cancelling_a_paid_order() {
    let wx = txn("wechat_native", "1");
    let none = BTreeSet::new();
    let short = decide(&unpaid(500), &none, &paid(&wx, 499), LatePayment::Refund).unwrap();
    assert_eq!(short.order.state, OrderState::Unpaid);
    assert_eq!(short.effects, vec![Effect::Refund { txn: wx.clone(), amount: Fen(499), reason: LateReason::AmountMismatch }]);
    let zero = decide(&unpaid(500), &none, &paid(&wx, 0), LatePayment::Refund).unwrap();
    assert_eq!(zero.effects, vec![Effect::Ignore { why: Ignored::NonPositiveAmount }]);

    let done = Order { state: OrderState::Paid, paid_by: Some(wx), ..unpaid(500) };
    let e = decide(&done, &none, &OrderEvent::Cancel, LatePayment::Refund).unwrap_err();
    assert_eq!(e, OrderError::CannotCancelPaid);
    assert_eq!(e.to_string(), "订单已支付，无法取消");
    let expire = decide(&done, &none, &OrderEvent::Expire { now: 5_000 }, LatePayment::Refund).unwrap();
    assert_eq!(expire.order, done);
}

/// One step of a random history: a "paid" for one of a few transactions (from any source),
/// an expiry at some time, or a cancellation.
#[derive(Debug, Clone)]
enum Step {
    Paid(usize, PaidSource),
    Expire(i64),
    Cancel,
}

fn arb_step() -> impl Strategy<Value = Step> {
    let source = prop_oneof![Just(PaidSource::Notify), Just(PaidSource::Query), Just(PaidSource::Statement)];
    prop_oneof![
        6 => (0usize..4, source).prop_map(|(i, s)| Step::Paid(i, s)),
        1 => (900i64..1100).prop_map(Step::Expire),
        1 => Just(Step::Cancel),
    ]
}

proptest! {
    /// Any interleaving of duplicated and reordered notifications, queries, statements,
    /// expiries and cancellations: each transaction is settled exactly once, the order is paid
    /// at most once and only with the exact amount, transitions are legal, and no fen is
    /// created or lost: received == applied + refunded + credited.
    #[test]
    fn every_fen_is_settled_exactly_once(
        amount in 1i64..100_000,
        // Transaction amounts: mostly the order's, sometimes not.
        txn_amounts in proptest::collection::vec(prop_oneof![3 => Just(None), 1 => (1i64..100_000).prop_map(Some)], 4),
        steps in proptest::collection::vec(arb_step(), 0..40),
        credit in any::<bool>(),
    ) {
        let late = if credit { LatePayment::Credit } else { LatePayment::Refund };
        let txns: Vec<(TxnKey, Fen)> = txn_amounts
            .iter()
            .enumerate()
            .map(|(i, a)| (txn(if i % 2 == 0 { "wechat_native" } else { "alipay_qr" }, &format!("T{i}")), Fen(a.unwrap_or(amount))))
            .collect();
        let mut order = unpaid(amount);
        let mut settled = BTreeSet::new();
        let mut received = BTreeSet::new();
        let (mut applied, mut refunded, mut credited, mut applies) = (0i64, 0i64, 0i64, 0);
        for step in &steps {
            let event = match step {
                Step::Paid(i, source) => {
                    received.insert(*i);
                    OrderEvent::ProviderPaid { txn: txns[*i].0.clone(), amount: txns[*i].1, source: *source }
                }
                Step::Expire(now) => OrderEvent::Expire { now: *now },
                Step::Cancel => OrderEvent::Cancel,
            };
            let out = match decide(&order, &settled, &event, late) {
                Ok(out) => out,
                Err(OrderError::CannotCancelPaid) => {
                    prop_assert!(matches!(order.state, OrderState::Paid | OrderState::Refunded));
                    continue;
                }
            };
            prop_assert!(out.order.state == order.state || can_transition(order.state, out.order.state));
            prop_assert!(out.effects.iter().filter(|e| e.settles().is_some()).count() <= 1);
            for effect in &out.effects {
                if let Some((t, a)) = effect.settles() {
                    // At most once: nothing settles a transaction twice.
                    prop_assert!(settled.insert(t.clone()), "{t:?} settled twice");
                    let expected = txns.iter().find(|(k, _)| k == t).unwrap().1;
                    prop_assert_eq!(a, expected);
                }
                match effect {
                    Effect::ApplyPayment { amount: a, .. } => { applied += a.0; applies += 1; prop_assert_eq!(*a, order.amount); }
                    Effect::Refund { amount: a, .. } => { refunded += a.0; prop_assert!(!credit); }
                    Effect::Credit { amount: a, .. } => { credited += a.0; prop_assert!(credit); }
                    _ => {}
                }
            }
            order = out.order;
        }
        // Exactly once: every transaction the channels reported was settled, and none other.
        let reported: BTreeSet<TxnKey> = received.iter().map(|&i| txns[i].0.clone()).collect();
        prop_assert_eq!(&settled, &reported);
        let total_received: i64 = received.iter().map(|&i| txns[i].1.0).sum();
        prop_assert_eq!(total_received, applied + refunded + credited);
        prop_assert!(applies <= 1);
        prop_assert_eq!(applies == 1, order.state == OrderState::Paid);
        if order.state == OrderState::Paid {
            prop_assert_eq!(applied, amount);
            prop_assert!(order.paid_by.as_ref().is_some_and(|t| settled.contains(t)));
        }
    }
}

#[test]
fn words_round_trip_and_match_serde() {
    fn check<T>(all: &[T])
    where
        T: Copy + std::fmt::Debug + PartialEq + std::str::FromStr + std::fmt::Display + Serialize,
        <T as std::str::FromStr>::Err: std::fmt::Debug,
    {
        for v in all {
            let word = v.to_string();
            assert_eq!(word.parse::<T>().unwrap(), *v);
            assert_eq!(serde_json::to_value(v).unwrap(), serde_json::Value::from(word));
        }
        // A state this build does not know is an error, never a default.
        assert!("refunding".parse::<T>().is_err());
        assert!("".parse::<T>().is_err());
    }
    check(&OrderState::ALL);
    check(&AttemptState::ALL);
    check(&RefundState::ALL);
    check(&PaidSource::ALL);
    check(&LateReason::ALL);
    check(&Disposition::ALL);
}

#[test]
fn refund_transitions_only_go_forward() {
    use RefundState::*;
    assert!(refund_can_transition(Pending, Success));
    assert!(refund_can_transition(Processing, Failed));
    for end in [Success, Failed] {
        for to in RefundState::ALL {
            assert!(!refund_can_transition(end, to), "{end:?} -> {to:?}");
        }
    }
    assert_eq!(RefundState::predecessors(Success), vec![Pending, Processing]);
    assert_eq!(OrderState::predecessors(OrderState::Paid), vec![OrderState::Unpaid]);
    assert_eq!(AttemptState::predecessors(AttemptState::Paid), vec![AttemptState::Open, AttemptState::Superseded, AttemptState::Closed]);
}
