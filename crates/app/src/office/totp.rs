//! A second factor for staff: time-based one-time passwords (RFC 6238 over RFC 4226's HOTP,
//! HMAC-SHA1, 30-second steps, 6 digits — what every authenticator app speaks), the secret
//! shared as RFC 4648 base32 in an `otpauth://` URI. A code is accepted one step early or
//! late (clock drift), and never twice: the last step used is stored.

use super::{Audited, Staff, audit};
use crate::{Client, Context, Error, ErrorKind};
use campuspay_domain::office::AuditAction;
use hmac::{KeyInit, Mac};

pub const STEP_S: i64 = 30;
const DIGITS: u32 = 6;
/// 20 random bytes, the size RFC 4226 recommends for HMAC-SHA1.
const SECRET_BYTES: usize = 20;

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut buf, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            out.push(BASE32[((buf >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(BASE32[((buf << (5 - bits)) & 31) as usize] as char);
    }
    out
}

pub fn unbase32(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buf, mut bits) = (0u32, 0u32);
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = BASE32.iter().position(|x| *x == c.to_ascii_uppercase())? as u32;
        buf = (buf << 5) | v;
        bits += 5;
        if bits >= 8 {
            out.push((buf >> (bits - 8)) as u8);
            bits -= 8;
        }
    }
    Some(out)
}

/// RFC 4226 HOTP of `counter`, `digits` long.
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> String {
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = usize::from(h[h.len() - 1] & 0x0f);
    let bin = u32::from_be_bytes([h[offset] & 0x7f, h[offset + 1], h[offset + 2], h[offset + 3]]);
    format!("{:0width$}", bin % 10u32.pow(digits), width = digits as usize)
}

/// The step a code is valid for (one step of drift either way), if it is valid at `now`.
pub fn matching_step(secret_b32: &str, code: &str, now: i64) -> Option<i64> {
    let secret = unbase32(secret_b32)?;
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let step = now / STEP_S;
    [step, step - 1, step + 1].into_iter().find(|s| *s >= 0 && hotp(&secret, *s as u64, DIGITS) == code)
}

pub fn totp_required() -> Error {
    Error::new(
        ErrorKind::Unauthenticated,
        "totp_required",
        "请输入动态验证码（身份验证器App中的6位数字）",
        "Enter the 6-digit code from your authenticator app",
    )
    .field("totp")
}

pub fn totp_invalid() -> Error {
    Error::new(
        ErrorKind::Unauthenticated,
        "totp_invalid",
        "动态验证码不正确或已使用过，请等下一个验证码",
        "The code is wrong or was already used; wait for the next one",
    )
    .field("totp")
}

pub struct Enrolment {
    pub secret: String,
    /// For the authenticator app's QR code.
    pub uri: String,
}

/// Starts setting up the second factor: a new secret, waiting to be confirmed with a code.
pub async fn setup(ctx: &Context, staff: &Staff) -> Result<Enrolment, Error> {
    let mut raw = [0u8; SECRET_BYTES];
    getrandom::fill(&mut raw).map_err(|_| Error::internal())?;
    let secret = base32(&raw);
    let school = match staff.school_id {
        Some(id) => ctx.store.school_by_id(id).await?.map(|s| s.code).unwrap_or_default(),
        None => super::auth::PLATFORM.to_string(),
    };
    let mut tx = ctx.store.write_tx().await?;
    ctx.store.set_totp_pending(&mut tx, staff.id, &secret).await?;
    tx.commit().await?;
    let label = format!("campuspay:{school}/{}", staff.login);
    let uri = format!("otpauth://totp/{}?secret={secret}&issuer=campuspay&algorithm=SHA1&digits={DIGITS}&period={STEP_S}", percent(&label));
    Ok(Enrolment { secret, uri })
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// Confirms the pending secret with a code from the app; from now on every login asks for one.
pub async fn confirm(ctx: &Context, staff: &Staff, client: &Client, code: &str) -> Result<(), Error> {
    let row = ctx.store.staff_by_id(staff.id).await?.ok_or_else(Error::internal)?;
    let pending = row
        .totp_pending
        .ok_or_else(|| Error::new(ErrorKind::Refused, "no_totp_setup", "请先开始设置动态验证码", "Start the set-up first").field("totp"))?;
    let step = matching_step(&pending, code, ctx.clock.now()).ok_or_else(totp_invalid)?;
    let mut tx = ctx.store.write_tx().await?;
    ctx.store.enable_totp(&mut tx, staff.id, &pending, step).await?;
    let subject = format!("staff:{}", staff.login);
    audit(ctx, &mut tx, staff, client, &Audited { action: AuditAction::StaffTotpEnabled, subject: &subject, before: None, after: None })
        .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA1, truncated to 6 digits; RFC 4226 appendix D.
    #[test]
    fn the_rfc_vectors() {
        let secret = b"12345678901234567890";
        for (t, code) in [(59, "94287082"), (1_111_111_109, "07081804"), (1_234_567_890, "89005924"), (2_000_000_000, "69279037")] {
            assert_eq!(hotp(secret, t / 30, 8), code, "t = {t}");
        }
        assert_eq!(hotp(secret, 0, 6), "755224");
        assert_eq!(hotp(secret, 9, 6), "520489");
    }

    #[test]
    fn base32_round_trips_and_matches_rfc_4648() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(unbase32("MZXW6YTBOI").unwrap(), b"foobar");
        assert_eq!(unbase32("mzxw6ytboi======").unwrap(), b"foobar");
        assert!(unbase32("MZXW1").is_none());
    }

    #[test]
    fn a_code_holds_one_step_either_way_only() {
        let secret = base32(b"12345678901234567890");
        let now = 1_234_567_890;
        let code = hotp(b"12345678901234567890", (now / 30) as u64, 6);
        assert_eq!(matching_step(&secret, &code, now), Some(now / 30));
        assert_eq!(matching_step(&secret, &code, now + 30), Some(now / 30));
        assert_eq!(matching_step(&secret, &code, now + 90), None);
        assert_eq!(matching_step(&secret, "12345", now), None);
    }
}
