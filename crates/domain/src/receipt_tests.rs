use super::*;
use proptest::prelude::*;

/// An independent conversion, the classic way: every digit written with its positional unit,
/// then the zero rules applied as text replacements. Good for up to 亿 (10^10 fen and below).
fn reference(fen: i64) -> String {
    const UNITS: [&str; 9] = ["", "拾", "佰", "仟", "万", "拾", "佰", "仟", "亿"];
    let yuan = fen / 100;
    let digits: Vec<usize> = yuan.to_string().chars().map(|c| c.to_digit(10).unwrap() as usize).collect();
    let n = digits.len();
    let mut s = String::new();
    for (i, d) in digits.iter().enumerate() {
        s.push(DIGITS[*d]);
        s.push_str(UNITS[n - 1 - i]);
    }
    for (from, to) in [("零拾", "零"), ("零佰", "零"), ("零仟", "零")] {
        s = s.replace(from, to);
    }
    while s.contains("零零") {
        s = s.replace("零零", "零");
    }
    s = s.replace("零亿", "亿").replace("零万", "万").replace("亿万", "亿");
    let s = s.trim_end_matches('零').to_string();
    let (j, f) = (fen / 10 % 10, fen % 10);
    let tail = match (j, f) {
        (0, 0) => "整".to_string(),
        (j, 0) => format!("{}角整", DIGITS[j as usize]),
        (0, f) => format!("零{}分", DIGITS[f as usize]),
        (j, f) => format!("{}角{}分", DIGITS[j as usize], DIGITS[f as usize]),
    };
    if yuan == 0 {
        return if fen == 0 { "零元整".into() } else { tail.trim_start_matches('零').to_string() };
    }
    format!("{s}元{tail}")
}

#[test]
fn capitals_of_worked_examples() {
    let cases = [
        (0, "零元整"),
        (5, "伍分"),
        (50, "伍角整"),
        (55, "伍角伍分"),
        (100, "壹元整"),
        (105, "壹元零伍分"),
        (1_000, "壹拾元整"),
        (320_000, "叁仟贰佰元整"),
        (100_005, "壹仟元零伍分"),
        (1_000_010, "壹万元壹角整"),
        (1_000_100, "壹万零壹元整"),
        (10_050_000, "壹拾万零伍佰元整"),
        (10_500_000, "壹拾万伍仟元整"),
        (100_000_000, "壹佰万元整"),
        (10_000_000_000, "壹亿元整"),
        (10_001_000_000, "壹亿零壹万元整"),
        (10_010_000_000, "壹亿零壹拾万元整"),
        (10_000_000_100, "壹亿零壹元整"),
        (200_000_100_000_000, "贰万亿零壹佰万元整"),
        (-320_000, "负叁仟贰佰元整"),
        (12_345_678_901, "壹亿贰仟叁佰肆拾伍万陆仟柒佰捌拾玖元零壹分"),
    ];
    for (fen, want) in cases {
        assert_eq!(capitals(Fen(fen)), want, "{fen}");
    }
    // The extremes do not panic.
    assert!(capitals(Fen(i64::MAX)).ends_with("柒分"));
    assert!(capitals(Fen(i64::MIN)).starts_with('负'));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]
    #[test]
    fn capitals_agree_with_the_reference(fen in 0i64..=10_000_000_000) {
        prop_assert_eq!(capitals(Fen(fen)), reference(fen));
    }

    #[test]
    fn capitals_agree_on_small_and_round_amounts(yuan in 0i64..=100_000_000, zeros in 0u32..8) {
        // Round amounts are where the zero rules bite; random ones rarely hit them.
        let fen = (yuan / 10i64.pow(zeros)) * 10i64.pow(zeros) * 100;
        prop_assert_eq!(capitals(Fen(fen)), reference(fen));
    }
}

#[test]
fn capitals_agree_exhaustively_below_a_hundred_thousand_yuan_steps() {
    for fen in (0..2_000_000).step_by(7) {
        assert_eq!(capitals(Fen(fen)), reference(fen), "{fen}");
    }
}

#[test]
fn credit_codes_check_their_last_character() {
    // Published examples of valid codes.
    for good in ["91350100M000100Y43", "91110000600037341L"] {
        assert_eq!(validate_credit_code(good), Ok(good.to_string()), "{good}");
    }
    assert_eq!(validate_credit_code("91350100m000100y43"), Ok("91350100M000100Y43".into()));
    assert_eq!(validate_credit_code("91350100M000100Y44"), Err(CreditCodeError::CheckCharacter));
    assert_eq!(validate_credit_code("91350100M000100Y4"), Err(CreditCodeError::Length));
    assert_eq!(validate_credit_code("91350100M00010OY43"), Err(CreditCodeError::Character));
    // Every code with the computed check character passes; any other last character fails.
    let head = "91350100M000100Y4";
    let check = credit_code_check_char(head).unwrap();
    for c in USCC_CHARS.chars() {
        assert_eq!(validate_credit_code(&format!("{head}{c}")).is_ok(), c == check);
    }
}

#[test]
fn receipt_status_transitions() {
    use ReceiptStatus::*;
    assert!(receipt_can_transition(Issued, RedLettered));
    assert!(receipt_can_transition(Issued, Void));
    for from in [RedLettered, Void] {
        for to in ReceiptStatus::ALL {
            assert!(!receipt_can_transition(from, to), "{from} → {to}");
        }
    }
    assert_eq!(ReceiptStatus::predecessors(Void), vec![Issued]);
    for s in ReceiptStatus::ALL {
        assert_eq!(s.as_str().parse::<ReceiptStatus>(), Ok(s));
        assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
    }
    for k in ReceiptKind::ALL {
        assert_eq!(k.as_str().parse::<ReceiptKind>(), Ok(k));
        assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
    }
    assert!("valid".parse::<ReceiptStatus>().is_err());
    assert_eq!(format_number(42), "0000000042");
}

#[test]
fn the_issuer_of_a_policy_decodes_strictly() {
    use crate::policy::ReceiptPolicy;
    // A policy stored before there was a choice is the built-in issuer's.
    let old: ReceiptPolicy = serde_json::from_str(r#"{"heading":"x"}"#).unwrap();
    assert_eq!(old.issuer, ReceiptIssuerKind::Builtin);
    let stored: ReceiptPolicy = serde_json::from_str(r#"{"issuer":"builtin"}"#).unwrap();
    assert_eq!(stored.issuer, ReceiptIssuerKind::Builtin);
    assert_eq!(serde_json::to_value(&stored).unwrap()["issuer"], "builtin");
    // A word this build does not know is an error, not the built-in issuer.
    assert!(serde_json::from_str::<ReceiptPolicy>(r#"{"issuer":"gansu_fiscal"}"#).is_err());
    assert!("Builtin".parse::<ReceiptIssuerKind>().is_err());
    for k in ReceiptIssuerKind::ALL {
        assert_eq!(k.as_str().parse::<ReceiptIssuerKind>().unwrap(), k);
    }
}
