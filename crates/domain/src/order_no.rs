//! Order numbers (订单号) in the formats of the seeds (SPEC §1), pure: the caller supplies the
//! instant, the daily sequence (from the database) and the random digits (from a CSPRNG).
//!
//! * [`OrderNoFormat::DailySequence`]: prefix + yymmdd + school code + 6-digit daily sequence,
//!   `XF200510LUTAU000001` (004). The date is the Shanghai date, so the counter restarts at
//!   local midnight; [`sequence_day`] is the key the store should count under.
//! * [`OrderNoFormat::TimestampRandom`]: 30 digits, yyyyMMddHHmmss (Shanghai) + 16 random
//!   digits (000).
//!
//! Both stay within 32 ASCII letters and digits, the strictest `out_trade_no` of the channels.

use crate::policy::OrderNoFormat;
use crate::time::{shanghai_parts, shanghai_to_unix};

/// Largest daily sequence: six digits.
pub const MAX_DAILY_SEQUENCE: u32 = 999_999;
/// Random part must be below this: sixteen digits.
pub const RANDOM_LIMIT: u64 = 10_000_000_000_000_000;
/// WeChat Pay's `out_trade_no` limit, the strictest of the channels.
pub const MAX_LEN: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderNoError {
    #[error("订单号前缀和学校代码只能包含字母和数字")]
    BadCode,
    #[error("订单号超过{MAX_LEN}位")]
    TooLong,
    #[error("当日订单序号超出范围（1–999999）")]
    SequenceOutOfRange { seq: u32 },
    #[error("随机部分须为16位以内的数字")]
    RandomOutOfRange,
    #[error("日期超出订单号可表示的范围")]
    DateOutOfRange,
}

impl OrderNoError {
    pub fn message_en(&self) -> &'static str {
        match self {
            Self::BadCode => "The order number prefix and school code may contain only letters and digits",
            Self::TooLong => "The order number would exceed 32 characters",
            Self::SequenceOutOfRange { .. } => "The daily order sequence is out of range (1–999999)",
            Self::RandomOutOfRange => "The random part must have at most 16 digits",
            Self::DateOutOfRange => "The date cannot be written in this order number format",
        }
    }
}

/// What an order number says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParsedOrderNo {
    /// Shanghai date and the day's sequence number.
    DailySequence { year: i64, month: u32, day: u32, seq: u32 },
    /// The instant (unix seconds) and the random part.
    TimestampRandom { at: i64, random: u64 },
}

/// `yymmdd` of the Shanghai date of `now`: the day under which the daily sequence counts.
pub fn sequence_day(now: i64) -> Result<String, OrderNoError> {
    let (y, m, d, ..) = shanghai_parts(now);
    if !(2000..=2099).contains(&y) {
        return Err(OrderNoError::DateOutOfRange);
    }
    Ok(format!("{:02}{m:02}{d:02}", y - 2000))
}

/// `XF200510LUTAU000001`. `seq` is the 1-based number of this order on the Shanghai day.
pub fn daily_sequence(prefix: &str, school_code: &str, now: i64, seq: u32) -> Result<String, OrderNoError> {
    if !prefix.chars().chain(school_code.chars()).all(|c| c.is_ascii_alphanumeric()) {
        return Err(OrderNoError::BadCode);
    }
    if prefix.len() + school_code.len() + 12 > MAX_LEN {
        return Err(OrderNoError::TooLong);
    }
    if !(1..=MAX_DAILY_SEQUENCE).contains(&seq) {
        return Err(OrderNoError::SequenceOutOfRange { seq });
    }
    Ok(format!("{prefix}{}{school_code}{seq:06}", sequence_day(now)?))
}

/// `202308181010521234567890123456`: yyyyMMddHHmmss in Shanghai time, then `random` as 16
/// zero-padded digits. `random` must be below [`RANDOM_LIMIT`] (draw it uniformly in range;
/// reducing a wider number modulo the limit would bias it).
pub fn timestamp_random(now: i64, random: u64) -> Result<String, OrderNoError> {
    if random >= RANDOM_LIMIT {
        return Err(OrderNoError::RandomOutOfRange);
    }
    let (y, mo, d, h, mi, s) = shanghai_parts(now);
    if !(1000..=9999).contains(&y) {
        return Err(OrderNoError::DateOutOfRange);
    }
    Ok(format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}{random:016}"))
}

/// A new order number in `format`; `seq` is used by the daily format, `random` by the
/// timestamp format, and the other is ignored.
pub fn generate(format: &OrderNoFormat, now: i64, seq: u32, random: u64) -> Result<String, OrderNoError> {
    match format {
        OrderNoFormat::DailySequence { prefix, school_code } => daily_sequence(prefix, school_code, now, seq),
        OrderNoFormat::TimestampRandom => timestamp_random(now, random),
    }
}

fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Reads an order number of `format` back; `None` when it is not one (wrong length, prefix or
/// code, impossible date or time, sequence 0).
pub fn parse(format: &OrderNoFormat, s: &str) -> Option<ParsedOrderNo> {
    if !s.is_ascii() {
        return None;
    }
    match format {
        OrderNoFormat::DailySequence { prefix, school_code } => {
            let rest = s.strip_prefix(prefix.as_str())?;
            if rest.len() != 6 + school_code.len() + 6 || &rest[6..6 + school_code.len()] != school_code {
                return None;
            }
            let date = &rest[..6];
            let seq = digits(&rest[6 + school_code.len()..])? as u32;
            let year = 2000 + digits(&date[..2])? as i64;
            let month = digits(&date[2..4])? as u32;
            let day = digits(&date[4..6])? as u32;
            shanghai_to_unix(year, month, day, 0, 0, 0)?;
            (seq >= 1).then_some(ParsedOrderNo::DailySequence { year, month, day, seq })
        }
        OrderNoFormat::TimestampRandom => {
            if s.len() != 30 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let n = |r: std::ops::Range<usize>| digits(&s[r]);
            let at = shanghai_to_unix(
                n(0..4)? as i64,
                n(4..6)? as u32,
                n(6..8)? as u32,
                n(8..10)? as u32,
                n(10..12)? as u32,
                n(12..14)? as u32,
            )?;
            Some(ParsedOrderNo::TimestampRandom { at, random: n(14..30)? })
        }
    }
}

pub fn is_valid(format: &OrderNoFormat, s: &str) -> bool {
    parse(format, s).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_shanghai;
    use proptest::prelude::*;

    fn xf() -> OrderNoFormat {
        OrderNoFormat::DailySequence { prefix: "XF".into(), school_code: "LUTAU".into() }
    }

    #[test]
    fn seed_004_daily_sequence() {
        let now = parse_shanghai("2020-05-10 09:30").unwrap();
        let no = generate(&xf(), now, 1, 0).unwrap();
        assert_eq!(no, "XF200510LUTAU000001");
        assert_eq!(no.len(), 19);
        assert_eq!(parse(&xf(), "XF200510LUTAU000001"), Some(ParsedOrderNo::DailySequence { year: 2020, month: 5, day: 10, seq: 1 }));
        assert_eq!(generate(&xf(), now, 999_999, 0).unwrap(), "XF200510LUTAU999999");
        assert_eq!(generate(&xf(), now, 0, 0), Err(OrderNoError::SequenceOutOfRange { seq: 0 }));
        assert_eq!(generate(&xf(), now, 1_000_000, 0), Err(OrderNoError::SequenceOutOfRange { seq: 1_000_000 }));
    }

    #[test]
    fn the_day_is_the_shanghai_day() {
        // 2020-05-09 16:30 UTC is already 00:30 on the 10th in Shanghai.
        let just_after_midnight = parse_shanghai("2020-05-10 00:30").unwrap();
        assert_eq!(sequence_day(just_after_midnight).unwrap(), "200510");
        assert_eq!(sequence_day(just_after_midnight - 3600).unwrap(), "200509");
    }

    #[test]
    fn rejects_malformed_daily_numbers() {
        for bad in [
            "XF200510LUTAU000000", // sequence 0
            "XF200230LUTAU000001", // 30 February
            "XF200510LUTAV000001", // other school
            "YF200510LUTAU000001", // other prefix
            "XF200510LUTAU00001",  // short
            "XF200510LUTAU0000012",
            "XF2005a0LUTAU000001",
            "XF200510LUTAU+00001",
            "XF200510LUTAU00000１", // full-width digit
        ] {
            assert!(!is_valid(&xf(), bad), "{bad}");
        }
        let bad_code = OrderNoFormat::DailySequence { prefix: "XF".into(), school_code: "LU-T".into() };
        assert_eq!(generate(&bad_code, 0, 1, 0), Err(OrderNoError::BadCode));
        let long = OrderNoFormat::DailySequence { prefix: "XF".into(), school_code: "A".repeat(19) };
        assert_eq!(generate(&long, 0, 1, 0), Err(OrderNoError::TooLong));
        let fits = OrderNoFormat::DailySequence { prefix: "XF".into(), school_code: "A".repeat(18) };
        assert_eq!(generate(&fits, parse_shanghai("2020-05-10").unwrap(), 1, 0).unwrap().len(), MAX_LEN);
        assert_eq!(sequence_day(parse_shanghai("1999-12-31").unwrap()), Err(OrderNoError::DateOutOfRange));
    }

    #[test]
    fn seed_000_timestamp_random() {
        let now = parse_shanghai("2023-08-18 10:10:52").unwrap();
        let no = generate(&OrderNoFormat::TimestampRandom, now, 0, 1_234_567_890_123_456).unwrap();
        assert_eq!(no, "202308181010521234567890123456");
        assert_eq!(no.len(), 30);
        assert_eq!(timestamp_random(now, 42).unwrap(), "202308181010520000000000000042");
        assert_eq!(timestamp_random(now, RANDOM_LIMIT), Err(OrderNoError::RandomOutOfRange));
        assert_eq!(
            parse(&OrderNoFormat::TimestampRandom, &no),
            Some(ParsedOrderNo::TimestampRandom { at: now, random: 1_234_567_890_123_456 })
        );
        for bad in [
            "20230818101052123456789012345",   // 29
            "2023081810105212345678901234567", // 31
            "202308181060521234567890123456",  // minute 60
            "202313181010521234567890123456",  // month 13
            "2023081810105212345678901234a6",
        ] {
            assert!(!is_valid(&OrderNoFormat::TimestampRandom, bad), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn daily_round_trips(t in 946_656_000i64..4_102_416_000, seq in 1u32..=MAX_DAILY_SEQUENCE) {
            let no = generate(&xf(), t, seq, 0).unwrap();
            prop_assert_eq!(no.len(), 19);
            let (y, m, d, ..) = shanghai_parts(t);
            prop_assert_eq!(parse(&xf(), &no), Some(ParsedOrderNo::DailySequence { year: y, month: m, day: d, seq }));
        }

        #[test]
        fn timestamp_round_trips(t in 0i64..4_102_444_800, r in 0u64..RANDOM_LIMIT) {
            let no = timestamp_random(t, r).unwrap();
            prop_assert_eq!(no.len(), 30);
            prop_assert_eq!(parse(&OrderNoFormat::TimestampRandom, &no), Some(ParsedOrderNo::TimestampRandom { at: t, random: r }));
        }
    }
}
