//! Reading the pay forms: repeated fields (`charge=1&charge=2`), the cart they describe, and
//! the signed timestamps that prove the agreement was shown long enough.

use campuspay_app::Error;
use campuspay_domain::Fen;
use campuspay_domain::cart::CartRequest;
use campuspay_store::sessions::SessionRow;
use hmac::{KeyInit, Mac};

/// A form or query string as its pairs, in order, repeated names kept.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct Pairs(pub Vec<(String, String)>);

impl Pairs {
    pub fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("")
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

impl super::extract::CsrfForm for Pairs {
    fn csrf(&self) -> &str {
        self.get("csrf")
    }
}

/// The items a student chose and the amounts typed for them, as the form sent them.
#[derive(Debug, Default, Clone)]
pub struct CartForm {
    /// `(charge id, amount typed in yuan or "")`, in the order chosen.
    pub lines: Vec<(i64, String)>,
}

/// A typed amount the page cannot read: shown next to that item's amount box.
pub struct BadAmount {
    pub charge_id: i64,
    pub error: Box<Error>,
}

impl CartForm {
    pub fn from_pairs(p: &Pairs) -> CartForm {
        let mut lines: Vec<(i64, String)> = Vec::new();
        for id in p.all("charge").filter_map(|v| v.trim().parse::<i64>().ok()) {
            if lines.len() < 50 && !lines.iter().any(|(c, _)| *c == id) {
                let amount = p.get(&format!("amount_{id}")).trim().chars().take(16).collect();
                lines.push((id, amount));
            }
        }
        CartForm { lines }
    }

    /// The cart for the order service: an empty amount means "all that is left".
    pub fn requests(&self) -> Result<Vec<CartRequest>, BadAmount> {
        self.lines
            .iter()
            .map(|(id, a)| {
                let amount = if a.is_empty() {
                    None
                } else {
                    Some(Fen::parse_yuan(&a.replace([',', '¥', '￥'], "")).map_err(|_| {
                        BadAmount {
                            charge_id: *id,
                            error: Box::new(
                                Error::new(
                                    campuspay_app::ErrorKind::Refused,
                                    "invalid_amount",
                                    "请输入正确的金额，例如 1000 或 1000.50",
                                    "Enter an amount such as 1000 or 1000.50",
                                )
                                .field("amount"),
                            ),
                        }
                    })?)
                };
                Ok(CartRequest { charge_id: *id, amount })
            })
            .collect()
    }

    /// `charge=1&amount_1=1000&charge=2`: the same cart in a link to the next step.
    pub fn query(&self) -> String {
        let mut q = Vec::new();
        for (id, a) in &self.lines {
            q.push(format!("charge={id}"));
            if !a.is_empty() {
                q.push(format!("amount_{id}={}", encode(a)));
            }
        }
        q.join("&")
    }
}

/// Percent-encodes a form value (amounts are digits and a dot, but a student may type anything).
pub fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'.' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

fn mac(s: &SessionRow, purpose: &str, t: i64) -> String {
    use base64::Engine;
    let mut m = HmacSha256::new_from_slice(s.csrf_token.as_bytes()).expect("HMAC takes any key length");
    m.update(format!("campuspay:{purpose}:{}:{t}", s.school_id).as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
}

/// `{t}.{mac}`: a time the server vouches for, keyed by the session's secret CSRF token, so the
/// browser can carry it but neither forge it nor move it to another session.
pub fn stamp(s: &SessionRow, purpose: &str, t: i64) -> String {
    format!("{t}.{}", mac(s, purpose, t))
}

/// The time in a stamp made by [`stamp`] for this session and purpose, if it is genuine.
pub fn stamped_time(s: &SessionRow, purpose: &str, token: &str) -> Option<i64> {
    let (t, m) = token.split_once('.')?;
    let t: i64 = t.parse().ok()?;
    campuspay_app::crypto::constant_time_eq(mac(s, purpose, t).as_bytes(), m.as_bytes()).then_some(t)
}
