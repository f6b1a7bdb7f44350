//! Money in integer fen (分). Never floats: 1 yuan = 100 fen.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An amount of money in fen. Arithmetic is checked: overflow is an error, never a wrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fen(pub i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("金额超出范围")]
    Overflow,
    #[error("金额格式有误")]
    Malformed,
}

impl Fen {
    pub const ZERO: Fen = Fen(0);

    pub fn checked_add(self, other: Fen) -> Result<Fen, MoneyError> {
        self.0.checked_add(other.0).map(Fen).ok_or(MoneyError::Overflow)
    }

    pub fn checked_sub(self, other: Fen) -> Result<Fen, MoneyError> {
        self.0.checked_sub(other.0).map(Fen).ok_or(MoneyError::Overflow)
    }

    /// Sum of many amounts; an overflow anywhere is reported, not wrapped.
    pub fn sum<I: IntoIterator<Item = Fen>>(items: I) -> Result<Fen, MoneyError> {
        items.into_iter().try_fold(Fen::ZERO, Fen::checked_add)
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    /// `3000.00` — the form providers and statements use.
    pub fn to_yuan_string(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }

    /// Parses `3000`, `3000.5` or `3000.50` yuan into fen, exactly (no float on the way).
    pub fn parse_yuan(s: &str) -> Result<Fen, MoneyError> {
        let s = s.trim();
        let (neg, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 2 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MoneyError::Malformed);
        }
        let whole: i64 = int.parse().map_err(|_| MoneyError::Overflow)?;
        let cents: i64 = match frac.len() {
            0 => 0,
            1 => frac.parse::<i64>().map_err(|_| MoneyError::Malformed)? * 10,
            _ => frac.parse().map_err(|_| MoneyError::Malformed)?,
        };
        let v = whole.checked_mul(100).and_then(|w| w.checked_add(cents)).ok_or(MoneyError::Overflow)?;
        Ok(Fen(if neg { -v } else { v }))
    }
}

/// `¥3,000.00`, as every page shows money.
impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let digits = (abs / 100).to_string();
        let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(c);
        }
        write!(f, "{sign}¥{grouped}.{:02}", abs % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn displays_like_the_seed_pages() {
        assert_eq!(Fen(300_000).to_string(), "¥3,000.00");
        assert_eq!(Fen(5).to_string(), "¥0.05");
        assert_eq!(Fen(123_456_789).to_string(), "¥1,234,567.89");
        assert_eq!(Fen(-1050).to_string(), "-¥10.50");
        assert_eq!(Fen(100).to_yuan_string(), "1.00");
    }

    #[test]
    fn parses_yuan_exactly() {
        assert_eq!(Fen::parse_yuan("3000"), Ok(Fen(300_000)));
        assert_eq!(Fen::parse_yuan("0.1"), Ok(Fen(10)));
        assert_eq!(Fen::parse_yuan("0.01"), Ok(Fen(1)));
        assert_eq!(Fen::parse_yuan("1.001"), Err(MoneyError::Malformed));
        assert_eq!(Fen::parse_yuan("1e3"), Err(MoneyError::Malformed));
        assert_eq!(Fen::parse_yuan(""), Err(MoneyError::Malformed));
        assert_eq!(Fen::parse_yuan("99999999999999999999"), Err(MoneyError::Overflow));
    }

    #[test]
    fn overflow_is_an_error_not_a_wrap() {
        assert_eq!(Fen(i64::MAX).checked_add(Fen(1)), Err(MoneyError::Overflow));
        assert_eq!(Fen(i64::MIN).checked_sub(Fen(1)), Err(MoneyError::Overflow));
        assert_eq!(Fen::sum([Fen(i64::MAX), Fen(1), Fen(-5)]), Err(MoneyError::Overflow));
    }

    proptest! {
        #[test]
        fn yuan_round_trips(v in -10_000_000_000_000i64..10_000_000_000_000i64) {
            prop_assert_eq!(Fen::parse_yuan(&Fen(v).to_yuan_string()), Ok(Fen(v)));
        }

        #[test]
        fn checked_sum_matches_i128(xs in proptest::collection::vec(any::<i64>(), 0..20)) {
            let exact: i128 = xs.iter().map(|&x| x as i128).sum();
            // Overflow may be reported at an intermediate step even when the total fits; it is
            // never silent: an Ok always equals the exact sum.
            if let Ok(s) = Fen::sum(xs.iter().copied().map(Fen)) {
                prop_assert_eq!(s.0 as i128, exact);
            } else {
                let mut acc: i128 = 0;
                let overflowed = xs.iter().any(|&x| { acc += x as i128; acc > i64::MAX as i128 || acc < i64::MIN as i128 });
                prop_assert!(overflowed);
            }
        }
    }
}
