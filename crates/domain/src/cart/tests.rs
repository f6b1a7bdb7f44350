use super::*;
use crate::time::parse_shanghai;
use proptest::prelude::*;

fn policy(opening: bool, profile_required: bool) -> SchoolPolicy {
    let mut p: SchoolPolicy = serde_json::from_value(serde_json::json!({
        "login_ids": ["student_no"],
        "initial_password": {"kind": "fixed", "password": "123456"},
        "force_change_initial": true,
        "force_change_weak": false,
        "recovery": [],
        "captcha": false,
        "order_no": {"kind": "timestamp_random"},
        "order_ttl_minutes": 1440,
        "item_lock_minutes": 10,
        "reuse_unpaid_order": false,
        "channels": ["wechat_native"],
        "payee": "常州工程职业技术学院",
        "profile_required": profile_required,
    }))
    .unwrap();
    if opening {
        p.opening_hours = Some(crate::policy::OpeningHours { open_minute: 8 * 60, close_minute: 22 * 60 });
    }
    p
}

/// 2023-09-01 10:00 Shanghai: inside 08:00–22:00.
fn noon() -> i64 {
    parse_shanghai("2023-09-01 10:00").unwrap()
}

fn charge(id: i64, name: &str, left: i64) -> OwedCharge {
    OwedCharge {
        charge_id: id,
        item_id: id * 10,
        item_name: name.into(),
        parent_item_id: None,
        parent_name: None,
        receipt_type: "行政事业性收费".into(),
        mandatory: false,
        instalments: false,
        instalment_min: Fen::ZERO,
        left: Fen(left),
        paid_any: false,
        parent_started: false,
        window: None,
        collecting: true,
        deferred_until: None,
    }
}

fn sub(id: i64, name: &str, left: i64, parent: i64, parent_name: &str) -> OwedCharge {
    OwedCharge { parent_item_id: Some(parent), parent_name: Some(parent_name.into()), ..charge(id, name, left) }
}

fn full(id: i64) -> CartRequest {
    CartRequest { charge_id: id, amount: None }
}

fn part(id: i64, fen: i64) -> CartRequest {
    CartRequest { charge_id: id, amount: Some(Fen(fen)) }
}

fn run_at(now: i64, p: &SchoolPolicy, owed: &[OwedCharge], cart: &[CartRequest]) -> Result<ValidCart, CartError> {
    validate_cart(owed, cart, &CartContext { now, policy: p, phone: "15100008891", email: "a@b.cn" })
}

fn run(owed: &[OwedCharge], cart: &[CartRequest]) -> Result<ValidCart, CartError> {
    run_at(noon(), &policy(false, false), owed, cart)
}

#[test]
fn accepts_full_lines_and_sums_them() {
    let owed = [charge(1, "学费", 500_000), charge(2, "住宿费", 120_000)];
    let ok = run(&owed, &[full(1), full(2)]).unwrap();
    assert_eq!(ok.lines, vec![(1, Fen(500_000)), (2, Fen(120_000))]);
    assert_eq!(ok.total, Fen(620_000));
}

#[test]
fn refuses_empty_unknown_duplicate_and_settled() {
    let owed = [charge(1, "学费", 500_000), charge(2, "住宿费", 0)];
    assert_eq!(run(&owed, &[]), Err(CartError::Empty));
    assert_eq!(run(&owed, &[full(9)]), Err(CartError::UnknownCharge { charge_id: 9 }));
    assert_eq!(run(&owed, &[full(1), full(1)]), Err(CartError::Duplicate { charge_id: 1, item_name: "学费".into() }));
    assert_eq!(run(&owed, &[full(2)]), Err(CartError::NothingLeft { charge_id: 2, item_name: "住宿费".into() }));
    assert_eq!(run(&owed, &[full(2)]).unwrap_err().to_string(), "住宿费已缴清，无需再缴");
}

#[test]
fn refuses_amounts_not_above_zero() {
    let owed = [OwedCharge { instalments: true, ..charge(1, "学费", 500_000) }];
    let e = CartError::AmountNotPositive { charge_id: 1, item_name: "学费".into() };
    assert_eq!(run(&owed, &[part(1, 0)]), Err(e.clone()));
    assert_eq!(run(&owed, &[part(1, -100)]), Err(e));
}

#[test]
fn instalments_only_where_allowed_within_minimum_and_left() {
    let plain = [charge(1, "学费", 500_000)];
    let e = CartError::FullAmountRequired { charge_id: 1, item_name: "学费".into(), left: Fen(500_000) };
    assert_eq!(run(&plain, &[part(1, 100_000)]), Err(e.clone()));
    assert_eq!(run(&plain, &[part(1, 600_000)]), Err(e.clone()));
    assert_eq!(e.to_string(), "学费不支持分期缴费，请一次缴清¥5,000.00");
    assert_eq!(run(&plain, &[part(1, 500_000)]).unwrap().total, Fen(500_000));

    let inst = [OwedCharge { instalments: true, instalment_min: Fen(100_000), ..charge(1, "学费", 250_000) }];
    assert_eq!(run(&inst, &[part(1, 100_000)]).unwrap().total, Fen(100_000));
    assert_eq!(run(&inst, &[part(1, 250_000)]).unwrap().total, Fen(250_000));
    assert_eq!(
        run(&inst, &[part(1, 99_999)]),
        Err(CartError::BelowMinimum { charge_id: 1, item_name: "学费".into(), min: Fen(100_000), left: Fen(250_000) })
    );
    assert_eq!(run(&inst, &[part(1, 250_001)]), Err(CartError::AboveLeft { charge_id: 1, item_name: "学费".into(), left: Fen(250_000) }));
    // The last instalment is what is left, even below the minimum.
    let last = [OwedCharge { instalments: true, instalment_min: Fen(100_000), ..charge(1, "学费", 50_000) }];
    assert_eq!(run(&last, &[part(1, 50_000)]).unwrap().total, Fen(50_000));
    assert!(matches!(run(&last, &[part(1, 40_000)]), Err(CartError::BelowMinimum { .. })));
}

#[test]
fn collection_window_and_state() {
    let start = parse_shanghai("2023-09-01 00:00").unwrap();
    let end = parse_shanghai("2023-10-01 00:00").unwrap();
    let owed = [OwedCharge { window: Some((start, end)), ..charge(1, "学费", 100) }];
    let p = policy(false, false);
    assert!(run_at(start, &p, &owed, &[full(1)]).is_ok());
    assert!(run_at(end - 1, &p, &owed, &[full(1)]).is_ok());
    let early = run_at(start - 1, &p, &owed, &[full(1)]).unwrap_err();
    assert_eq!(early, CartError::NotYetOpen { charge_id: 1, item_name: "学费".into(), starts: start });
    assert_eq!(early.to_string(), "学费尚未开始收费，收费时间自2023-09-01 00:00:00起");
    let late = run_at(end, &p, &owed, &[full(1)]).unwrap_err();
    assert_eq!(late.to_string(), "学费已于2023-10-01 00:00:00停止收费");

    let stopped = [OwedCharge { collecting: false, ..charge(1, "学费", 100) }];
    assert_eq!(run(&stopped, &[full(1)]), Err(CartError::Stopped { charge_id: 1, item_name: "学费".into() }));
}

#[test]
fn opening_hours_in_shanghai_time() {
    let p = policy(true, false);
    let owed = [charge(1, "学费", 100)];
    let at = |s: &str| run_at(parse_shanghai(s).unwrap(), &p, &owed, &[full(1)]);
    assert!(at("2023-09-01 08:00").is_ok());
    assert!(at("2023-09-01 21:59:59").is_ok());
    let closed = at("2023-09-01 07:59:59").unwrap_err();
    assert_eq!(closed, CartError::OutsideOpeningHours { hours: "08:00–22:00".into() });
    assert_eq!(closed.to_string(), "当前不在缴费时间，请在每日08:00–22:00内缴费");
    assert!(at("2023-09-01 22:00").is_err());
    // 09:00 in Shanghai is 01:00 UTC: the school's clock decides, not UTC.
    assert!(at("2023-09-01 09:00").is_ok());
    assert!(at("2023-09-02 06:30").is_err());
    assert!(run_at(parse_shanghai("2023-09-01 23:00").unwrap(), &policy(false, false), &owed, &[full(1)]).is_ok());
}

#[test]
fn profile_must_be_valid_where_the_school_requires_it() {
    let owed = [charge(1, "学费", 100)];
    let p = policy(false, true);
    let ctx = |phone, email| CartContext { now: noon(), policy: &p, phone, email };
    assert!(validate_cart(&owed, &[full(1)], &ctx("15100008891", "a@b.cn")).is_ok());
    let both = validate_cart(&owed, &[full(1)], &ctx("", "x")).unwrap_err();
    assert_eq!(both, CartError::ProfileIncomplete { fields: vec!["phone", "email"] });
    assert_eq!(both.to_string(), "请先完善个人信息（手机号、邮箱）后再缴费");
    assert_eq!(both.message_en(), "Complete your profile (mobile number, e-mail) before paying");
    let email = validate_cart(&owed, &[full(1)], &ctx("15100008891", "")).unwrap_err();
    assert_eq!(email, CartError::ProfileIncomplete { fields: vec!["email"] });
    let lax = policy(false, false);
    let ctx = CartContext { now: noon(), policy: &lax, phone: "", email: "" };
    assert!(validate_cart(&owed, &[full(1)], &ctx).is_ok());
}

#[test]
fn mandatory_before_optional() {
    let owed = [
        OwedCharge { mandatory: true, ..charge(1, "学费", 500_000) },
        OwedCharge { mandatory: true, ..charge(2, "住宿费", 120_000) },
        charge(3, "教材费", 30_000),
    ];
    let e = run(&owed, &[full(3)]).unwrap_err();
    assert_eq!(e, CartError::MandatoryFirst { item_names: vec!["学费".into(), "住宿费".into()], charge_ids: vec![1, 2] });
    assert_eq!(e.to_string(), "请先缴清必缴项目：学费、住宿费");
    assert!(matches!(run(&owed, &[full(1), full(3)]), Err(CartError::MandatoryFirst { charge_ids, .. }) if charge_ids == [2]));
    assert!(run(&owed, &[full(1), full(2), full(3)]).is_ok());
    // Mandatory lines alone are always fine, as is an instalment of a mandatory charge.
    assert!(run(&owed, &[full(1)]).is_ok());
    // A mandatory charge that cannot be paid now does not lock the optional ones.
    let stopped = [OwedCharge { collecting: false, ..owed[0].clone() }, owed[2].clone()];
    assert!(run(&stopped, &[full(3)]).is_ok());
    // Nor does one the office deferred (缓缴), until the deferral ends.
    let deferred = [OwedCharge { deferred_until: Some(noon() + 3600), ..owed[0].clone() }, owed[2].clone()];
    assert!(run(&deferred, &[full(3)]).is_ok());
    let lapsed = [OwedCharge { deferred_until: Some(noon()), ..owed[0].clone() }, owed[2].clone()];
    assert!(matches!(run(&lapsed, &[full(3)]), Err(CartError::MandatoryFirst { charge_ids, .. }) if charge_ids == [1]));
}

#[test]
fn parent_chosen_in_cart_must_be_finished_before_other_items() {
    let owed = [sub(1, "教材费", 30_000, 100, "代办费"), sub(2, "保险费", 10_000, 100, "代办费"), charge(3, "体检费", 5000)];
    // Sub-items alone, even one of them: fine.
    assert!(run(&owed, &[full(1)]).is_ok());
    // A sub-item and another item: only if the cart finishes the parent.
    let e = run(&owed, &[full(1), full(3)]).unwrap_err();
    assert_eq!(
        e,
        CartError::FinishParentFirst {
            parent_item_id: 100,
            parent_name: "代办费".into(),
            item_names: vec!["保险费".into()],
            charge_ids: vec![2]
        }
    );
    assert_eq!(e.to_string(), "代办费的子项目需全部缴清后才能选择其他项目，请先缴清：保险费");
    assert!(run(&owed, &[full(1), full(2), full(3)]).is_ok());
    // Two parents begun in the same cart: refused.
    let two = [owed[0].clone(), owed[1].clone(), sub(4, "军训服装费", 20_000, 200, "服装费")];
    assert!(matches!(run(&two, &[full(1), full(4)]), Err(CartError::FinishParentFirst { parent_item_id: 100, .. })));
}

#[test]
fn parent_started_earlier_locks_other_items() {
    let owed = [
        OwedCharge { instalments: true, paid_any: true, parent_started: true, ..sub(1, "教材费", 30_000, 100, "代办费") },
        OwedCharge { parent_started: true, ..sub(2, "保险费", 10_000, 100, "代办费") },
        charge(3, "体检费", 5000),
    ];
    assert!(matches!(run(&owed, &[full(3)]), Err(CartError::FinishParentFirst { charge_ids, .. }) if charge_ids == [1, 2]));
    // An instalment does not finish the parent.
    assert!(run(&owed, &[part(1, 10_000), full(2), full(3)]).is_err());
    assert!(run(&owed, &[full(1), full(2), full(3)]).is_ok());
    assert!(run(&owed, &[full(2)]).is_ok());
    // Started by a sibling paid in full (no longer owed): parent_started alone is enough.
    let sibling_done = [OwedCharge { parent_started: true, ..sub(2, "保险费", 10_000, 100, "代办费") }, charge(3, "体检费", 5000)];
    assert!(run(&sibling_done, &[full(3)]).is_err());
    // Two parents both begun earlier may be paid in any order, not deadlocked.
    let two = [owed[0].clone(), OwedCharge { parent_started: true, ..sub(4, "军训服装费", 20_000, 200, "服装费") }];
    assert!(run(&two, &[full(4)]).is_ok());
    assert!(run(&two, &[part(1, 5000), full(4)]).is_ok());
}

#[test]
fn receipt_types_never_share_an_order() {
    let owed = [
        OwedCharge { receipt_type: "学费住宿费票据".into(), mandatory: true, ..charge(1, "学费", 500_000) },
        charge(2, "教材费", 30_000),
        OwedCharge { receipt_type: "学费住宿费票据".into(), mandatory: true, ..charge(3, "住宿费", 120_000) },
    ];
    let e = run(&owed, &[full(2), full(1), full(3)]).unwrap_err();
    assert_eq!(e.to_string(), "学费和住宿费需与其他费用分开缴纳，请先缴学费、住宿费");
    let CartError::MixedReceiptTypes { groups } = e else { panic!("{e:?}") };
    assert_eq!(groups[0].charge_ids, vec![1, 3]);
    assert_eq!(groups[1].item_names, vec!["教材费".to_string()]);
    assert!(run(&owed, &[full(1), full(3)]).is_ok());
    assert_eq!(join_and(&["A".into(), "B".into(), "C".into()]), "A、B和C");
}

#[test]
fn total_overflow_is_an_error() {
    let owed = [charge(1, "学费", i64::MAX), charge(2, "住宿费", 1)];
    assert_eq!(run(&owed, &[full(1), full(2)]), Err(CartError::Overflow));
}

#[test]
fn every_error_has_both_languages() {
    let owed = [charge(1, "学费", 100)];
    let e = run(&owed, &[full(1), full(1)]).unwrap_err();
    assert_eq!(e.message_en(), "学费 was chosen twice");
    assert_eq!(CartError::Empty.message_en(), "Choose at least one item to pay");
    let json = serde_json::to_value(CartError::UnknownCharge { charge_id: 7 }).unwrap();
    assert_eq!(json, serde_json::json!({"code": "unknown_charge", "charge_id": 7}));
}

fn arb_owed() -> impl Strategy<Value = Vec<OwedCharge>> {
    let one = (0i64..3, any::<bool>(), any::<bool>(), 0i64..5000, 0i64..3000, any::<bool>(), proptest::option::of(0i64..3));
    proptest::collection::vec(one, 1..6).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (rt, mandatory, inst, left, min, paid, parent))| OwedCharge {
                receipt_type: format!("T{rt}"),
                mandatory,
                instalments: inst,
                instalment_min: Fen(min),
                paid_any: paid,
                parent_started: paid,
                parent_item_id: parent,
                ..charge(i as i64, &format!("项目{i}"), left)
            })
            .collect()
    })
}

proptest! {
    /// Whatever is asked, an accepted cart pays each owed charge at most once, within what is
    /// left, respects instalment rules, shares one receipt type, and totals exactly.
    #[test]
    fn accepted_carts_keep_the_rules(
        owed in arb_owed(),
        picks in proptest::collection::vec((0i64..7, proptest::option::of(-10i64..6000)), 0..6),
    ) {
        let cart: Vec<CartRequest> = picks.iter().map(|&(id, a)| CartRequest { charge_id: id, amount: a.map(Fen) }).collect();
        if let Ok(ok) = run(&owed, &cart) {
            prop_assert_eq!(ok.lines.len(), cart.len());
            let ids: BTreeSet<i64> = ok.lines.iter().map(|l| l.0).collect();
            prop_assert_eq!(ids.len(), ok.lines.len());
            let mut types = BTreeSet::new();
            for &(id, amount) in &ok.lines {
                let c = owed.iter().find(|c| c.charge_id == id).unwrap();
                prop_assert!(amount.is_positive() && amount <= c.left);
                prop_assert!(c.instalments || amount == c.left);
                prop_assert!(amount >= c.instalment_min || amount == c.left);
                types.insert(c.receipt_type.clone());
            }
            prop_assert_eq!(types.len(), 1);
            prop_assert_eq!(ok.total.0, ok.lines.iter().map(|l| l.1.0).sum::<i64>());
            if ok.lines.iter().any(|&(id, _)| !owed.iter().find(|c| c.charge_id == id).unwrap().mandatory) {
                prop_assert!(owed.iter().all(|c| !c.mandatory || !c.left.is_positive() || ids.contains(&c.charge_id)));
            }
        }
    }
}
