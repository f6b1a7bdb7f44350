//! Electronic receipts (电子票据): one per order (or offline payment) and receipt type, issued
//! by a job queued in the transaction that applied the money; a red-letter receipt (冲红) when
//! money goes back; delivery by SMS and mail; public verification.
//!
//! Who numbers and seals a receipt is an [`Issuer`]. campuspay's [`BuiltinIssuer`] numbers each
//! school's receipt types with gap-free sequences and seals the receipt's data with an
//! HMAC-SHA256 under the school's own key; the 校验码 is taken from that seal, so a receipt
//! whose code, number, check code or content was altered does not verify.

mod issue;
pub(crate) use issue::void_and_reissue;
mod view;

pub use issue::{Delivery, IssueFor, RefundOf, deliver, issue_batch, issue_for_offline, issue_for_order, red_letter};
pub use view::{ReceiptView, VerifyAnswer, VerifyStatus, pdf_doc, pdf_of, receipts_of_student, verify, verify_url, view_of};

use crate::crypto::{constant_time_eq, random_token};
use crate::{Context, Error, ErrorKind};
use campuspay_domain::Fen;
use campuspay_domain::receipt::{ReceiptIssuerKind, ReceiptKind, format_number};
use campuspay_store::WriteTx;
use campuspay_store::receipts::ReceiptRow;
use campuspay_store::schools::School;
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

/// The data a receipt carries, exactly as sealed: stored as this JSON, rendered from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptData {
    pub school_id: i64,
    pub receipt_type: String,
    pub kind: ReceiptKind,
    /// 票据代码 and 票据号码, given by the issuer.
    pub code: String,
    pub number: String,
    pub heading: String,
    pub authority: String,
    pub issued_at: i64,
    pub payer: String,
    pub payer_credit_code: String,
    pub lines: Vec<ReceiptLine>,
    pub amount_fen: i64,
    pub payee: String,
    pub payee_credit_code: String,
    pub order_no: String,
    pub channel: String,
    pub txn_id: String,
    pub collector: String,
    pub reviewer: String,
    /// A red-letter receipt's original, `code number`.
    #[serde(default)]
    pub original: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptLine {
    /// 项目编码
    pub code: String,
    /// 项目名称
    pub name: String,
    pub amount_fen: i64,
}

impl ReceiptData {
    pub fn amount(&self) -> Fen {
        Fen(self.amount_fen)
    }
}

/// What an issuer gives a draft: its number and seal.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub code: String,
    pub seq: i64,
    pub number: String,
    pub check_code: String,
    /// The sealed data (JSON) and the seal.
    pub data: String,
    pub signature: String,
}

/// What an [`Issuer`]'s methods return: boxed, so issuers are chosen per school at run time
/// (`dyn Issuer` in [`Issuers`]).
pub type IssuerFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 'a>>;

/// Numbers and seals receipts, and checks them later.
///
/// An issuer is called inside the issuing transaction (the one that also inserts the
/// receipts), so a number it takes from the database is given back if anything fails. A
/// school whose province runs a fiscal e-receipt platform implements this for that platform:
/// `issue` asks the platform for 票据代码/号码/校验码 and returns what it answered (the platform's
/// signature in `signature`), `check` asks the platform or checks its signature. Receipts
/// store the issuer's `name`, so each is checked by the issuer that made it. Which issuer a
/// school uses is its policy's `receipt.issuer`, resolved by [`Issuers::for_school`]; nothing
/// else names an issuer (see "Adding a receipt issuer" in docs/ARCHITECTURE.md).
pub trait Issuer: Send + Sync {
    /// Stored with each receipt; unique among the registered issuers.
    fn name(&self) -> &'static str;

    /// Gives each of `drafts` (whose `code` and `number` are empty; all of `school` and of one
    /// receipt type) its code, number and check code, and seals it; the answer is in the
    /// drafts' order. The worker issues many receipts in one transaction, so an issuer is
    /// handed them together (the built-in one takes their numbers in one statement). `seq`
    /// must be unique per school and receipt type (the table's constraint).
    fn issue<'a>(
        &'a self,
        ctx: &'a Context,
        tx: &'a mut WriteTx,
        school: &'a School,
        drafts: Vec<ReceiptData>,
    ) -> IssuerFuture<'a, Vec<Sealed>>;

    /// Whether a stored receipt is the one this issuer sealed, unaltered.
    fn check<'a>(&'a self, ctx: &'a Context, row: &'a ReceiptRow) -> IssuerFuture<'a, bool>;
}

/// campuspay's own issuer: per school and receipt type sequences, HMAC-SHA256 seals.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuiltinIssuer;

/// Characters of the 校验码: twelve hex digits of the seal (48 bits; a guess is one in 2^48).
const CHECK_CODE_LEN: usize = 12;

fn seal(key: &str, data: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

fn check_code_of(signature: &str) -> String {
    signature[..CHECK_CODE_LEN].to_ascii_uppercase()
}

impl BuiltinIssuer {
    async fn issue_drafts(&self, ctx: &Context, tx: &mut WriteTx, school: &School, drafts: Vec<ReceiptData>) -> Result<Vec<Sealed>, Error> {
        let Some(first) = drafts.first() else { return Ok(vec![]) };
        let receipt_type = first.receipt_type.clone();
        if drafts.iter().any(|d| d.school_id != school.id || d.receipt_type != receipt_type) {
            return Err(Error::internal());
        }
        let count = i64::try_from(drafts.len()).map_err(|_| Error::internal())?;
        // The numbers first..=last, taken together: one locked row, one statement.
        let last = ctx.store.take_receipt_seqs(tx, school.id, &receipt_type, count).await?;
        let code = school.policy.receipt.code_of(&receipt_type);
        let key = ctx.store.receipt_key(tx, school.id, &random_token(32)).await?;
        let mut sealed = Vec::with_capacity(drafts.len());
        for (seq, mut draft) in (last - count + 1..).zip(drafts) {
            draft.code = code.clone();
            draft.number = format_number(seq);
            let data = serde_json::to_string(&draft).map_err(|_| Error::internal())?;
            let signature = seal(&key, &data);
            sealed.push(Sealed { code: draft.code, seq, number: draft.number, check_code: check_code_of(&signature), data, signature });
        }
        Ok(sealed)
    }

    async fn check_row(&self, ctx: &Context, row: &ReceiptRow) -> Result<bool, Error> {
        let Some(key) = ctx.store.receipt_key_of(row.school_id).await? else {
            return Ok(false);
        };
        let expected = seal(&key, &row.data);
        let Ok(data) = serde_json::from_str::<ReceiptData>(&row.data) else {
            return Ok(false);
        };
        // The columns a search uses must say what the sealed data says.
        Ok(constant_time_eq(expected.as_bytes(), row.signature.as_bytes())
            && row.check_code == check_code_of(&expected)
            && data.code == row.code
            && data.number == row.number
            && data.amount_fen == row.amount.0
            && data.school_id == row.school_id)
    }
}

impl Issuer for BuiltinIssuer {
    fn name(&self) -> &'static str {
        ReceiptIssuerKind::Builtin.as_str()
    }

    fn issue<'a>(
        &'a self,
        ctx: &'a Context,
        tx: &'a mut WriteTx,
        school: &'a School,
        drafts: Vec<ReceiptData>,
    ) -> IssuerFuture<'a, Vec<Sealed>> {
        Box::pin(self.issue_drafts(ctx, tx, school, drafts))
    }

    fn check<'a>(&'a self, ctx: &'a Context, row: &'a ReceiptRow) -> IssuerFuture<'a, bool> {
        Box::pin(self.check_row(ctx, row))
    }
}

/// Which issuer issues each school's receipts: the one its policy names
/// (`receipt.issuer`), unless one is registered for the school itself.
///
/// A provincial platform's issuer is registered under its [`ReceiptIssuerKind`] when the
/// process starts (one instance, for every school whose policy names it), or for one school
/// when it carries that school's own credentials on the platform. A policy naming a kind
/// that this process has no issuer for is an error when issuing, never the built-in issuer in
/// its place (the receipt would carry the wrong authority): `Misconfigured`, so the issuing
/// jobs stop and wait in the office's exception queue until the issuer is set up.
pub struct Issuers {
    kinds: RwLock<HashMap<ReceiptIssuerKind, Arc<dyn Issuer>>>,
    schools: RwLock<HashMap<i64, Arc<dyn Issuer>>>,
}

impl Default for Issuers {
    fn default() -> Issuers {
        let builtin: Arc<dyn Issuer> = Arc::new(BuiltinIssuer);
        Issuers { kinds: RwLock::new(HashMap::from([(ReceiptIssuerKind::Builtin, builtin)])), schools: RwLock::default() }
    }
}

impl std::fmt::Debug for Issuers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuers").finish_non_exhaustive()
    }
}

impl Issuers {
    /// Issues the receipts of every school whose policy names `kind`.
    pub fn register_kind(&self, kind: ReceiptIssuerKind, issuer: Arc<dyn Issuer>) {
        self.kinds.write().unwrap_or_else(|p| p.into_inner()).insert(kind, issuer);
    }

    /// Issues the receipts of one school, whatever its policy names.
    pub fn register_school(&self, school_id: i64, issuer: Arc<dyn Issuer>) {
        self.schools.write().unwrap_or_else(|p| p.into_inner()).insert(school_id, issuer);
    }

    /// The issuer of `school`'s new receipts.
    pub fn for_school(&self, school: &School) -> Result<Arc<dyn Issuer>, Error> {
        if let Some(i) = self.schools.read().unwrap_or_else(|p| p.into_inner()).get(&school.id) {
            return Ok(Arc::clone(i));
        }
        let kind = school.policy.receipt.issuer;
        self.kinds.read().unwrap_or_else(|p| p.into_inner()).get(&kind).cloned().ok_or_else(|| {
            tracing::error!(school = school.id, issuer = kind.as_str(), "no receipt issuer of this kind in this process");
            Error::new(
                ErrorKind::Misconfigured,
                "receipt_issuer_missing",
                "本校的开票方式未配置",
                "The school's receipt issuer is not configured",
            )
        })
    }

    /// The issuer that made a stored receipt, by the name stored with it.
    pub fn by_name(&self, name: &str) -> Option<Arc<dyn Issuer>> {
        let schools = self.schools.read().unwrap_or_else(|p| p.into_inner());
        let kinds = self.kinds.read().unwrap_or_else(|p| p.into_inner());
        schools.values().chain(kinds.values()).find(|i| i.name() == name).cloned()
    }
}

/// What a provider is called on a receipt.
fn channel_label(provider: &str) -> &'static str {
    match provider {
        "wechatpay" => "微信支付",
        "alipay" => "支付宝",
        "unionpay" => "银联支付",
        "cash" => "现金",
        "pos" => "POS刷卡",
        "bank_transfer" => "银行转账",
        _ => "其他",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_code_comes_from_the_seal_of_the_data() {
        let s = seal("k", r#"{"a":1}"#);
        assert_eq!(s.len(), 64);
        assert_eq!(check_code_of(&s).len(), CHECK_CODE_LEN);
        assert_ne!(seal("k", r#"{"a":2}"#), s, "other data, other seal");
        assert_ne!(seal("k2", r#"{"a":1}"#), s, "other key, other seal");
        assert_eq!(channel_label("wechatpay"), "微信支付");
    }
}
