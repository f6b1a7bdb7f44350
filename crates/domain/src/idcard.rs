//! Resident ID card numbers (居民身份证号码, GB 11643-1999): validation and masking.

/// Weights of the first 17 digits in the ISO 7064 MOD 11-2 checksum.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// True for an 18-character number whose check character is right (`x` accepted as `X`).
pub fn is_valid(id: &str) -> bool {
    let b = id.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = b[..17].iter().zip(WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    let expected = CHECK[(sum % 11) as usize];
    (b[17] as char).to_ascii_uppercase() == expected
}

/// Canonical form: trimmed, check character upper-cased.
pub fn normalize(id: &str) -> String {
    id.trim().to_ascii_uppercase()
}

/// `3702**********111X`: the first four and last four stay, as seed 000 shows it.
pub fn mask(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_number_is_valid() {
        assert!(is_valid("37020220000101111X"));
        assert!(is_valid("37020220000101111x"));
        assert!(!is_valid("370202200001011110"));
        assert!(!is_valid("3702022000010111"));
        assert!(!is_valid("37020220000101111Y"));
        assert!(is_valid("11010519491231002X"));
    }

    #[test]
    fn masks_like_seed_000() {
        assert_eq!(mask("37020220000101111X"), "3702**********111X");
    }
}

/// Completes 17 digits with their check character: for building valid demo and test numbers.
pub fn with_check_char(first17: &str) -> Option<String> {
    let b = first17.as_bytes();
    if b.len() != 17 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = b.iter().zip(WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    Some(format!("{first17}{}", CHECK[(sum % 11) as usize]))
}

#[cfg(test)]
mod check_char_tests {
    #[test]
    fn completes_valid_numbers() {
        assert_eq!(super::with_check_char("37020220000101111").as_deref(), Some("37020220000101111X"));
        assert!(super::is_valid(&super::with_check_char("62010219990203123").unwrap()));
        assert_eq!(super::with_check_char("1234"), None);
    }
}
