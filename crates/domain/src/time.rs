//! Time as the seeds show it: `2023-08-18 10:10:52` in Asia/Shanghai (UTC+8, no daylight saving).
//! Instants are unix seconds (i64) everywhere else, so both databases store them alike.

pub const SHANGHAI_OFFSET_S: i64 = 8 * 3600;

/// Civil date (y, m, d) of a day count since 1970-01-01 (Howard Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days since 1970-01-01 of a civil date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Local (Shanghai) parts of an instant: (year, month, day, hour, minute, second).
pub fn shanghai_parts(unix_s: i64) -> (i64, u32, u32, u32, u32, u32) {
    let local = unix_s + SHANGHAI_OFFSET_S;
    let (y, m, d) = civil_from_days(local.div_euclid(86_400));
    let secs = local.rem_euclid(86_400);
    (y, m, d, (secs / 3600) as u32, ((secs % 3600) / 60) as u32, (secs % 60) as u32)
}

/// `2023-08-18 10:10:52`
pub fn format_shanghai(unix_s: i64) -> String {
    let (y, mo, d, h, mi, s) = shanghai_parts(unix_s);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
}

/// `2023-08-18`
pub fn format_shanghai_date(unix_s: i64) -> String {
    let (y, mo, d, ..) = shanghai_parts(unix_s);
    format!("{y:04}-{mo:02}-{d:02}")
}

/// Minutes since local midnight, for opening hours.
pub fn shanghai_minute_of_day(unix_s: i64) -> u32 {
    let (.., h, mi, _) = shanghai_parts(unix_s);
    h * 60 + mi
}

/// Unix seconds of a Shanghai wall-clock time; `None` for an impossible date.
pub fn shanghai_to_unix(y: i64, m: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<i64> {
    if !(1..=12).contains(&m) || d == 0 || d > 31 || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let days = days_from_civil(y, m, d);
    if civil_from_days(days) != (y, m, d) {
        return None;
    }
    Some(days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s) - SHANGHAI_OFFSET_S)
}

/// Parses `2023-08-18` or `2023-08-18 10:10[:52]` as Shanghai time.
pub fn parse_shanghai(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, time) = s.split_once([' ', 'T']).unwrap_or((s, "00:00:00"));
    let mut dp = date.split('-');
    let y = dp.next()?.parse().ok()?;
    let m = dp.next()?.parse().ok()?;
    let d = dp.next()?.parse().ok()?;
    if dp.next().is_some() {
        return None;
    }
    let mut tp = time.split(':');
    let h = tp.next()?.parse().ok()?;
    let mi = tp.next().unwrap_or("0").parse().ok()?;
    let sec = tp.next().unwrap_or("0").parse().ok()?;
    shanghai_to_unix(y, m, d, h, mi, sec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_in_shanghai_time() {
        // 2023-08-18 02:10:52 UTC
        assert_eq!(format_shanghai(1_692_324_652), "2023-08-18 10:10:52");
        assert_eq!(parse_shanghai("2023-08-18 10:10:52"), Some(1_692_324_652));
        assert_eq!(parse_shanghai("2023-02-30"), None);
    }

    proptest! {
        #[test]
        fn round_trips(t in 0i64..4_102_444_800) {
            prop_assert_eq!(parse_shanghai(&format_shanghai(t)), Some(t));
        }
    }
}
