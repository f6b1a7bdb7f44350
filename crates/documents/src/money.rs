//! Money cells: yuan as the office types it → exact [`Fen`]. No float is ever involved, so a
//! cell Excel stored as `0.30000000000000004` is refused instead of rounded into a wrong bill.

use campuspay_domain::money::{Fen, MoneyError};

/// Money in a cell: yuan text → fen, exactly. `"1234"`, `"1234.5"`, `"1,234.50"` (thousands
/// commas allowed), `" ¥1234 "` → ok; more than two decimals, negative, empty, letters → `Err`
/// with a Chinese reason the caller can put next to the row number.
pub fn fen_of_cell(cell: &str) -> Result<Fen, String> {
    let s = cell.trim();
    // Both the half-width and the full-width yuan sign turn up, depending on the input method.
    let s = s.strip_prefix('¥').or_else(|| s.strip_prefix('￥')).unwrap_or(s).trim_start();
    if s.is_empty() {
        return Err("金额为空".into());
    }
    if s.starts_with('-') || s.starts_with('−') {
        return Err("金额不能为负".into());
    }
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let int = strip_thousands_commas(int).ok_or_else(not_a_number)?;
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(not_a_number());
    }
    if frac.len() > 2 {
        return Err("金额最多两位小数".into());
    }
    Fen::parse_yuan(&format!("{int}.{frac}")).map_err(|e| match e {
        MoneyError::Overflow => "金额过大".to_string(),
        MoneyError::Malformed => not_a_number(),
    })
}

fn not_a_number() -> String {
    "金额不是数字".into()
}

/// "1,234,567" → "1234567". Commas must group by three as they are printed, so a typo such as
/// "12,34" (meant "12.34"?) is refused rather than read as 1234 yuan.
fn strip_thousands_commas(int: &str) -> Option<String> {
    if !int.contains(',') {
        return Some(int.to_string());
    }
    let mut groups = int.split(',');
    let first = groups.next()?;
    if first.is_empty() || first.len() > 3 {
        return None;
    }
    let mut out = first.to_string();
    for g in groups {
        if g.len() != 3 {
            return None;
        }
        out.push_str(g);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_text_becomes_exact_fen() {
        let ok: &[(&str, i64)] = &[
            ("1234", 123_400),
            ("1234.5", 123_450),
            ("1,234.56", 123_456),
            ("1,234.50", 123_450),
            (" ¥1234 ", 123_400),
            ("￥ 12,345,678.09", 1_234_567_809),
            ("0.01", 1),
            ("0", 0),
            ("1234.", 123_400),
        ];
        for &(cell, fen) in ok {
            assert_eq!(fen_of_cell(cell), Ok(Fen(fen)), "{cell:?}");
        }
    }

    #[test]
    fn anything_inexact_or_odd_is_refused_with_a_reason() {
        let bad: &[(&str, &str)] = &[
            ("0.30000000000000004", "金额最多两位小数"),
            ("1.005", "金额最多两位小数"),
            ("-5", "金额不能为负"),
            ("¥-5", "金额不能为负"),
            ("abc", "金额不是数字"),
            ("", "金额为空"),
            ("  ", "金额为空"),
            ("1e3", "金额不是数字"),
            ("12,34", "金额不是数字"),
            (",123", "金额不是数字"),
            ("1,2345", "金额不是数字"),
            (".5", "金额不是数字"),
            ("1.2.3", "金额不是数字"),
            ("+5", "金额不是数字"),
            ("５", "金额不是数字"),
            ("99999999999999999999", "金额过大"),
        ];
        for &(cell, reason) in bad {
            assert_eq!(fen_of_cell(cell), Err(reason.to_string()), "{cell:?}");
        }
    }
}
