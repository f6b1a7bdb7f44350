//! Validation of what a student may change on their profile (seed 004 §个人信息修改).

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("手机号格式有误，请输入11位手机号")]
    Phone,
    #[error("邮箱格式有误")]
    Email,
    #[error("邮编应为6位数字")]
    Postcode,
    #[error("地址不能超过100个字")]
    Address,
}

impl ProfileError {
    pub fn field(self) -> &'static str {
        match self {
            Self::Phone => "phone",
            Self::Email => "email",
            Self::Postcode => "postcode",
            Self::Address => "address",
        }
    }

    pub fn message_en(self) -> &'static str {
        match self {
            Self::Phone => "Enter an 11-digit mobile number",
            Self::Email => "The e-mail address is not valid",
            Self::Postcode => "The postcode has 6 digits",
            Self::Address => "The address may have at most 100 characters",
        }
    }
}

/// Mainland mobile numbers: 11 digits, `1` then `3`–`9`.
pub fn valid_phone(p: &str) -> bool {
    let b = p.as_bytes();
    b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) && b.iter().all(u8::is_ascii_digit)
}

pub fn valid_email(e: &str) -> bool {
    if e.len() > 100 || e.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    match e.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
        }
        None => false,
    }
}

pub fn valid_postcode(p: &str) -> bool {
    p.len() == 6 && p.bytes().all(|b| b.is_ascii_digit())
}

/// `151****8891`, as seed 000 shows it.
pub fn mask_phone(p: &str) -> String {
    if p.len() == 11 && p.is_ascii() {
        format!("{}****{}", &p[..3], &p[7..])
    } else if p.is_empty() {
        String::new()
    } else {
        "****".into()
    }
}

/// The editable part of a profile, validated as a whole; empty strings clear optional fields.
pub struct ProfileEdit<'a> {
    pub phone: &'a str,
    pub email: &'a str,
    pub postcode: &'a str,
    pub address: &'a str,
}

impl ProfileEdit<'_> {
    pub fn validate(&self) -> Result<(), ProfileError> {
        if !valid_phone(self.phone.trim()) {
            return Err(ProfileError::Phone);
        }
        if !self.email.trim().is_empty() && !valid_email(self.email.trim()) {
            return Err(ProfileError::Email);
        }
        if !self.postcode.trim().is_empty() && !valid_postcode(self.postcode.trim()) {
            return Err(ProfileError::Postcode);
        }
        if self.address.chars().count() > 100 {
            return Err(ProfileError::Address);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates() {
        assert!(valid_phone("15100008891"));
        assert!(!valid_phone("12100008891"));
        assert!(!valid_phone("1510000889"));
        assert!(valid_email("a.b@campus.edu.cn"));
        assert!(!valid_email("a@b"));
        assert!(!valid_email("a b@c.cn"));
        assert!(valid_postcode("730050"));
        assert!(!valid_postcode("73005"));
        assert_eq!(mask_phone("15100008891"), "151****8891");
        let e = ProfileEdit { phone: "15100008891", email: "", postcode: "", address: "兰工坪路287号" };
        assert_eq!(e.validate(), Ok(()));
        let e = ProfileEdit { phone: "15100008891", email: "x", postcode: "", address: "" };
        assert_eq!(e.validate(), Err(ProfileError::Email));
    }
}
