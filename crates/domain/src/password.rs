//! Password rules: what a student may choose, and what counts as weak.

/// Passwords seen most often in leaked lists and on campus; shipped with the project.
const COMMON: &str = include_str!("common_passwords.txt");

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 64;

/// What a new password is checked against.
pub struct PasswordContext<'a> {
    pub student_no: &'a str,
    pub id_card: &'a str,
    pub initial_password: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRejection {
    #[error("新密码至少8位")]
    TooShort,
    #[error("新密码不能超过64位")]
    TooLong,
    #[error("新密码不能与初始密码相同")]
    IsInitial,
    #[error("新密码不能包含身份证号码中的数字")]
    FromIdCard,
    #[error("新密码不能包含学号")]
    ContainsStudentNo,
    #[error("新密码过于常见，请换一个")]
    Common,
    #[error("新密码须同时包含字母和数字")]
    OneKind,
}

impl PasswordRejection {
    pub fn message_en(self) -> &'static str {
        match self {
            Self::TooShort => "The new password must have at least 8 characters",
            Self::TooLong => "The new password may have at most 64 characters",
            Self::IsInitial => "The new password must differ from the initial password",
            Self::FromIdCard => "The new password must not contain digits of your ID card",
            Self::ContainsStudentNo => "The new password must not contain your student number",
            Self::Common => "This password is too common; please choose another",
            Self::OneKind => "The new password must contain both letters and digits",
        }
    }
}

pub fn is_common(password: &str) -> bool {
    let p = password.to_lowercase();
    COMMON.lines().map(str::trim).any(|c| !c.is_empty() && c == p)
}

/// Checks a new password; the first rule it breaks is returned.
pub fn check_new(password: &str, ctx: &PasswordContext<'_>) -> Result<(), PasswordRejection> {
    let len = password.chars().count();
    if len < MIN_LEN {
        return Err(PasswordRejection::TooShort);
    }
    if len > MAX_LEN {
        return Err(PasswordRejection::TooLong);
    }
    if password == ctx.initial_password {
        return Err(PasswordRejection::IsInitial);
    }
    let lower = password.to_lowercase();
    let id = ctx.id_card.to_lowercase();
    // Any 6 consecutive characters of the ID card (birthday, tail) are guessable by anyone
    // who has seen the card.
    if id.len() >= 6 && (0..=id.len() - 6).any(|i| lower.contains(&id[i..i + 6])) {
        return Err(PasswordRejection::FromIdCard);
    }
    if ctx.student_no.len() >= 4 && lower.contains(&ctx.student_no.to_lowercase()) {
        return Err(PasswordRejection::ContainsStudentNo);
    }
    if is_common(password) {
        return Err(PasswordRejection::Common);
    }
    let letters = password.chars().any(char::is_alphabetic);
    let digits = password.chars().any(|c| c.is_ascii_digit());
    if !(letters && digits) && password.chars().all(|c| c.is_alphanumeric()) {
        return Err(PasswordRejection::OneKind);
    }
    Ok(())
}

/// A password in use that the rules would not accept today: login asks to change it.
pub fn is_weak(password: &str, ctx: &PasswordContext<'_>) -> bool {
    check_new(password, ctx).is_err()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ctx() -> PasswordContext<'static> {
        PasswordContext { student_no: "20230001", id_card: "37020220000101111X", initial_password: "01111X" }
    }

    #[test]
    fn rules() {
        assert_eq!(check_new("Ab1", &ctx()), Err(PasswordRejection::TooShort));
        assert_eq!(check_new(&"a1".repeat(33), &ctx()), Err(PasswordRejection::TooLong));
        assert_eq!(check_new("x20000101y", &ctx()), Err(PasswordRejection::FromIdCard));
        assert_eq!(check_new("ab01111Xcd", &ctx()), Err(PasswordRejection::FromIdCard));
        assert_eq!(check_new("pw20230001", &ctx()), Err(PasswordRejection::ContainsStudentNo));
        assert_eq!(check_new("password123", &ctx()), Err(PasswordRejection::Common));
        assert_eq!(check_new("woaini1314", &ctx()), Err(PasswordRejection::Common));
        assert_eq!(check_new("abcdefghij", &ctx()), Err(PasswordRejection::OneKind));
        assert_eq!(check_new("9384756102", &ctx()), Err(PasswordRejection::OneKind));
        assert_eq!(check_new("Campus#Pay2026!", &ctx()), Ok(()));
        assert_eq!(check_new("lanzhou-gate", &ctx()), Ok(()));
        let initial = PasswordContext { initial_password: "Campus#Pay2026!", ..ctx() };
        assert_eq!(check_new("Campus#Pay2026!", &initial), Err(PasswordRejection::IsInitial));
    }

    #[test]
    fn seed_defaults_are_weak() {
        for p in ["123456", "111111", "01111X", "0101111X", "01111XCzgc"] {
            assert!(is_weak(p, &ctx()), "{p}");
        }
    }

    proptest! {
        #[test]
        fn short_is_always_rejected(p in "[a-zA-Z0-9]{0,7}") {
            prop_assert!(is_weak(&p, &ctx()));
        }
    }
}
