//! Issuing: a receipt per receipt type of what an order or an offline payment paid, a
//! red-letter receipt (and a new one for what is left) when money is refunded, delivery.

use super::{ReceiptData, ReceiptLine, channel_label};
use crate::jobs::{self, Job};
use crate::messaging::SendError;
use crate::messaging::sms::ReceiptNotice;
use crate::{Context, Error};
use campuspay_domain::order::{Disposition, OrderState};
use campuspay_domain::receipt::{ReceiptKind, ReceiptStatus};
use campuspay_domain::{Fen, SchoolPolicy};
use campuspay_store::receipts::{NewReceipt, PaidLine, ReceiptRow};
use campuspay_store::schools::School;
use campuspay_store::{On, WriteTx};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// Who paid and how, common to every receipt of one source.
struct Source {
    school: Arc<School>,
    student_id: i64,
    /// `order:12`, `offline:3`
    key: String,
    order_id: Option<i64>,
    payer: String,
    payer_credit_code: String,
    order_no: String,
    channel: String,
    txn_id: String,
}

const ORIGINAL: &str = "original";

/// Schools and students' names, read once per issuing transaction however many receipts it
/// issues (a batch of the worker's is often one school's, or one student's counter payments).
#[derive(Default)]
struct Lookups {
    schools: HashMap<i64, Arc<School>>,
    names: HashMap<i64, String>,
}

impl Lookups {
    async fn school(&mut self, ctx: &Context, id: i64) -> Result<Arc<School>, Error> {
        if let Some(s) = self.schools.get(&id) {
            return Ok(Arc::clone(s));
        }
        // From the store, not the schools' cache: what a receipt prints is never seconds old.
        let school = Arc::new(ctx.store.school_by_id(id).await?.ok_or_else(Error::unknown_school)?);
        self.schools.insert(id, Arc::clone(&school));
        Ok(school)
    }

    async fn student_name(&mut self, ctx: &Context, school_id: i64, id: i64) -> Result<String, Error> {
        if let Some(n) = self.names.get(&id) {
            return Ok(n.clone());
        }
        let student = ctx.store.student(school_id, id).await?.ok_or_else(Error::not_found)?;
        self.names.insert(id, student.name.clone());
        Ok(student.name)
    }
}

fn draft(
    src: &Source,
    receipt_type: &str,
    kind: ReceiptKind,
    lines: Vec<ReceiptLine>,
    now: i64,
    original: String,
) -> Result<ReceiptData, Error> {
    let p: &SchoolPolicy = &src.school.policy;
    let amount = Fen::sum(lines.iter().map(|l| Fen(l.amount_fen))).map_err(|_| Error::internal())?;
    Ok(ReceiptData {
        school_id: src.school.id,
        receipt_type: receipt_type.to_string(),
        kind,
        code: String::new(),
        number: String::new(),
        heading: p.receipt.heading_or_default().to_string(),
        authority: p.receipt.authority.clone(),
        issued_at: now,
        payer: src.payer.clone(),
        payer_credit_code: src.payer_credit_code.clone(),
        lines,
        amount_fen: amount.0,
        payee: if p.receipt.payee.trim().is_empty() { p.payee.clone() } else { p.receipt.payee.clone() },
        payee_credit_code: p.receipt.payee_credit_code.clone(),
        order_no: src.order_no.clone(),
        channel: src.channel.clone(),
        txn_id: src.txn_id.clone(),
        collector: p.receipt.collector.clone(),
        reviewer: p.receipt.reviewer.clone(),
        original,
    })
}

/// A receipt about to be issued: its data and where it is stored.
struct Draft<'a> {
    src: &'a Source,
    data: ReceiptData,
    issue_key: String,
    original_id: Option<i64>,
}

/// Seals the drafts and stores them; queues their delivery. Drafts are issued per school and
/// receipt type, the groups in one fixed order, so two transactions issuing for the same
/// types take the sequences' row locks in the same order and never wait on each other in a
/// cycle; within a group, numbers follow the drafts' order. Returns the new receipts' ids.
async fn store_receipts(ctx: &Context, tx: &mut WriteTx, drafts: Vec<Draft<'_>>) -> Result<Vec<i64>, Error> {
    let mut groups: BTreeMap<(i64, String), Vec<Draft<'_>>> = BTreeMap::new();
    for d in drafts {
        groups.entry((d.src.school.id, d.data.receipt_type.clone())).or_default().push(d);
    }
    let mut ids = Vec::new();
    for ((_, receipt_type), group) in groups {
        let school = Arc::clone(&group[0].src.school);
        let issuer = ctx.issuers.for_school(&school)?;
        let (meta, data): (Vec<_>, Vec<_>) = group
            .into_iter()
            .map(|d| ((d.src, d.issue_key, d.original_id, d.data.kind, d.data.amount(), d.data.issued_at), d.data))
            .unzip();
        let sealed = issuer.issue(ctx, tx, &school, data).await?;
        if sealed.len() != meta.len() {
            return Err(Error::internal());
        }
        let rows: Vec<NewReceipt<'_>> = meta
            .iter()
            .zip(&sealed)
            .map(|((src, issue_key, original_id, kind, amount, issued_at), sealed)| NewReceipt {
                school_id: src.school.id,
                student_id: src.student_id,
                source: &src.key,
                order_id: src.order_id,
                issue_key,
                receipt_type: &receipt_type,
                kind: *kind,
                original_id: *original_id,
                issuer: issuer.name(),
                code: &sealed.code,
                seq: sealed.seq,
                number: &sealed.number,
                check_code: &sealed.check_code,
                data: &sealed.data,
                signature: &sealed.signature,
                amount: *amount,
                payer: &src.payer,
                issued_at: *issued_at,
            })
            .collect();
        // A conflict means another run issued one of them under the same key: the caller's
        // transaction rolls back (its numbers too) and the retry finds the receipt there.
        let new_ids = ctx.store.insert_receipts(tx, &rows).await?;
        let delivery: Vec<Job> = new_ids
            .iter()
            .flat_map(|&id| {
                [Job::SmsReceipt { school_id: school.id, receipt_id: id }, Job::MailReceipt { school_id: school.id, receipt_id: id }]
            })
            .collect();
        jobs::enqueue_many(ctx, tx, &delivery).await?;
        ids.extend(new_ids);
    }
    Ok(ids)
}

/// The paid lines grouped by receipt type, in the order they first appear.
fn by_type(lines: &[PaidLine]) -> Vec<(String, Vec<ReceiptLine>)> {
    let mut groups: Vec<(String, Vec<ReceiptLine>)> = Vec::new();
    for l in lines.iter().filter(|l| l.amount.is_positive()) {
        let line =
            ReceiptLine { code: l.item_code.clone(), name: format!("{}（{}）", l.item_name, l.period_name), amount_fen: l.amount.0 };
        match groups.iter_mut().find(|(t, _)| *t == l.receipt_type) {
            Some((_, v)) => v.push(line),
            None => groups.push((l.receipt_type.clone(), vec![line])),
        }
    }
    groups
}

/// The drafts of what `lines` still lack an original receipt for, given the receipts issued
/// already (any sources': the source's own are picked out).
fn missing<'a>(src: &'a Source, lines: &[PaidLine], existing: &[ReceiptRow], now: i64) -> Result<Vec<Draft<'a>>, Error> {
    let mine = |r: &&ReceiptRow| r.school_id == src.school.id && r.source == src.key;
    let mut drafts = Vec::new();
    for (receipt_type, lines) in by_type(lines) {
        if existing.iter().filter(mine).any(|r| r.receipt_type == receipt_type && r.issue_key == ORIGINAL) {
            continue;
        }
        let data = draft(src, &receipt_type, ReceiptKind::Normal, lines, now, String::new())?;
        drafts.push(Draft { src, data, issue_key: ORIGINAL.to_string(), original_id: None });
    }
    Ok(drafts)
}

/// The order's source, read under the caller's lock of the order.
async fn order_source(
    ctx: &Context,
    tx: &mut WriteTx,
    look: &mut Lookups,
    order_id: i64,
) -> Result<Option<(Source, Vec<PaidLine>)>, Error> {
    let order = ctx.store.lock_order(tx, order_id).await?;
    // Only money applied to the order is receipted: an order closed unpaid has none.
    if !matches!(order.status, OrderState::Paid | OrderState::Refunded) {
        return Ok(None);
    }
    let school = look.school(ctx, order.school_id).await?;
    let settled = ctx.store.settled_txns(On::Tx(tx), order.id).await?;
    let applied = settled.iter().find(|s| s.disposition == Disposition::Applied);
    let (channel, txn_id) = match applied {
        Some(s) => (channel_label(s.provider.as_str()).to_string(), s.txn_id.clone()),
        None => ("余额支付".to_string(), String::new()),
    };
    let (payer, payer_credit_code) = if order.invoice_kind == "company" {
        (order.invoice_title.clone(), order.invoice_tax_no.clone())
    } else if !order.invoice_title.trim().is_empty() {
        (order.invoice_title.clone(), String::new())
    } else {
        (look.student_name(ctx, order.school_id, order.student_id).await?, String::new())
    };
    let lines = ctx.store.order_paid_lines(On::Tx(tx), order.id).await?;
    let src = Source {
        school,
        student_id: order.student_id,
        key: format!("order:{}", order.id),
        order_id: Some(order.id),
        payer,
        payer_credit_code,
        order_no: order.order_no.clone(),
        channel,
        txn_id,
    };
    Ok(Some((src, lines)))
}

/// What an issuing job issues the receipts of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IssueFor {
    /// A paid order (`IssueReceipt`).
    Order(i64),
    /// Money taken at the counter (`IssueOfflineReceipt`).
    Offline(i64),
}

/// Issues, in the caller's transaction, the receipts of every source in `items` that are not
/// issued yet, once per source and receipt type however often this runs: the worker issues a
/// batch of issuing jobs this way in one transaction, and a single job is a batch of one.
///
/// Locks are taken first and in one order (orders by id, then the counter payments' students
/// by id), then the sequences (see `store_receipts`), so batches running side by side, and the
/// refund or settlement that locks one order and then issues, never wait on each other in a
/// cycle. Returns the new receipts' ids.
pub async fn issue_batch(ctx: &Context, tx: &mut WriteTx, items: &[IssueFor]) -> Result<Vec<i64>, Error> {
    let mut items = items.to_vec();
    items.sort_unstable();
    items.dedup();
    let mut look = Lookups::default();
    let mut sources = Vec::with_capacity(items.len());
    let mut offline_ids = Vec::new();
    for item in items {
        match item {
            IssueFor::Order(id) => sources.extend(order_source(ctx, tx, &mut look, id).await?),
            IssueFor::Offline(id) => offline_ids.push(id),
        }
    }
    let mut offline = ctx.store.offline_for_receipts(tx, &offline_ids).await?;
    if offline.len() != offline_ids.len() {
        return Err(Error::not_found());
    }
    offline.sort_by_key(|(id, o)| (o.student_id, *id));
    let mut locked = HashSet::new();
    for (_, o) in &offline {
        // Serialises twin runs of one payment's job, as the counter serialises its payments.
        if locked.insert(o.student_id) {
            ctx.store.lock_student(tx, o.student_id).await?;
        }
    }
    let mut lines_of = ctx.store.offline_paid_lines_of(tx, &offline.iter().map(|(_, o)| o).collect::<Vec<_>>()).await?;
    for (id, o) in offline {
        let school = look.school(ctx, o.school_id).await?;
        let payer = look.student_name(ctx, o.school_id, o.student_id).await?;
        let lines = lines_of.remove(&(o.school_id, o.student_id, o.reference.clone())).unwrap_or_default();
        let src = Source {
            school,
            student_id: o.student_id,
            key: format!("offline:{id}"),
            order_id: None,
            payer,
            payer_credit_code: String::new(),
            order_no: o.reference.clone(),
            channel: channel_label(&o.method).to_string(),
            txn_id: String::new(),
        };
        sources.push((src, lines));
    }
    let now = ctx.clock.now();
    let keys: Vec<(i64, &str)> = sources.iter().map(|(s, _)| (s.school.id, s.key.as_str())).collect();
    let existing = ctx.store.receipts_of_sources(tx, &keys).await?;
    let mut drafts = Vec::new();
    for (src, lines) in &sources {
        drafts.extend(missing(src, lines, &existing, now)?);
    }
    store_receipts(ctx, tx, drafts).await
}

/// The `IssueReceipt` job: the receipts of a paid order, once per receipt type however often
/// it runs (the order is locked while receipts are looked up and issued, and the database
/// refuses a second original of a type).
pub async fn issue_for_order(ctx: &Context, order_id: i64) -> Result<Vec<i64>, Error> {
    let mut tx = ctx.store.write_tx().await?;
    let issued = issue_batch(ctx, &mut tx, &[IssueFor::Order(order_id)]).await?;
    tx.commit().await?;
    Ok(issued)
}

/// The `IssueOfflineReceipt` job: the receipts of money taken at the counter.
pub async fn issue_for_offline(ctx: &Context, offline_payment_id: i64) -> Result<Vec<i64>, Error> {
    let mut tx = ctx.store.write_tx().await?;
    let issued = issue_batch(ctx, &mut tx, &[IssueFor::Offline(offline_payment_id)]).await?;
    tx.commit().await?;
    Ok(issued)
}

/// Money going back from a paid order: what a refund of applied money must say.
#[derive(Debug, Clone)]
pub struct RefundOf {
    pub order_id: i64,
    /// Unique per refund (its out_refund_no or id): the red-letter receipt's key.
    pub refund_key: String,
    /// Refunded per fee item code; empty: `amount`, taken from the lines in order.
    pub lines: Vec<(String, Fen)>,
    pub amount: Fen,
}

/// Red-letters (冲红) the order's receipts that the refund touches, in the caller's
/// transaction (the one that records the refund): each such receipt gets a red-letter
/// twin with the negative amounts and is marked red-lettered; what the refund leaves paid
/// is receipted again on a new receipt. Receipts not issued yet are issued first, so the
/// red letter always has its original. Returns the new receipts' ids.
pub async fn red_letter(ctx: &Context, tx: &mut WriteTx, refund: &RefundOf) -> Result<Vec<i64>, Error> {
    let Some((src, lines)) = order_source(ctx, tx, &mut Lookups::default(), refund.order_id).await? else {
        return Ok(vec![]);
    };
    let now = ctx.clock.now();
    let existing = ctx.store.receipts_of_source(On::Tx(tx), src.school.id, &src.key).await?;
    let drafts = missing(&src, &lines, &existing, now)?;
    let mut issued = store_receipts(ctx, tx, drafts).await?;
    // Without lines, the amount is taken from the receipts' lines in order, first to last.
    let mut unassigned = refund.amount.0;
    let mut refunded_of = |code: &str, line: i64| -> i64 {
        if refund.lines.is_empty() {
            let part = unassigned.clamp(0, line);
            unassigned -= part;
            part
        } else {
            refund.lines.iter().filter(|(c, _)| c == code).map(|(_, f)| f.0).sum::<i64>().clamp(0, line)
        }
    };
    let all = ctx.store.receipts_of_source(On::Tx(tx), src.school.id, &src.key).await?;
    // A refund is red-lettered once: the same refund again (a retried job) finds its keys.
    let done = format!("refund-{}-", refund.refund_key);
    if all.iter().any(|r| r.issue_key.starts_with(&done)) {
        return Ok(issued);
    }
    let originals: Vec<ReceiptRow> =
        all.into_iter().filter(|r| r.kind == ReceiptKind::Normal && r.status == ReceiptStatus::Issued).collect();
    for original in originals {
        let data: ReceiptData = serde_json::from_str(&original.data).map_err(|_| Error::internal())?;
        let refunded: Vec<i64> = data.lines.iter().map(|l| refunded_of(&l.code, l.amount_fen)).collect();
        if refunded.iter().all(|r| *r == 0) {
            continue;
        }
        let negated = data.lines.iter().map(|l| ReceiptLine { amount_fen: -l.amount_fen, ..l.clone() }).collect();
        let of = format!("{} {}", original.code, original.number);
        let red = draft(&src, &original.receipt_type, ReceiptKind::RedLetter, negated, now, of)?;
        let key = format!("refund-{}-{}", refund.refund_key, original.id);
        issued.extend(store_receipts(ctx, tx, vec![Draft { src: &src, data: red, issue_key: key, original_id: Some(original.id) }]).await?);
        ctx.store.set_receipt_status(tx, original.id, ReceiptStatus::RedLettered, &format!("退款 {}", refund.refund_key)).await?;
        // What stays paid gets a new receipt, as a fiscal red letter is followed by a reissue.
        let rest: Vec<ReceiptLine> = data
            .lines
            .iter()
            .zip(&refunded)
            .map(|(l, r)| ReceiptLine { amount_fen: l.amount_fen - r, ..l.clone() })
            .filter(|l| l.amount_fen > 0)
            .collect();
        if !rest.is_empty() {
            let again = draft(&src, &original.receipt_type, ReceiptKind::Normal, rest, now, String::new())?;
            let key = format!("rest-{}-{}", refund.refund_key, original.id);
            issued.extend(store_receipts(ctx, tx, vec![Draft { src: &src, data: again, issue_key: key, original_id: None }]).await?);
        }
    }
    Ok(issued)
}

/// How a receipt reaches the student.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Sms,
    Mail,
}

/// The `SmsReceipt` / `MailReceipt` jobs: the verify link to the phone confirmed at payment
/// (or the student's), and by mail if the student has an e-mail address.
pub async fn deliver(ctx: &Context, school_id: i64, receipt_id: i64, by: Delivery) -> Result<(), Error> {
    let r = ctx.store.receipt_by_id(On::Pool, school_id, receipt_id).await?.ok_or_else(Error::not_found)?;
    let school = ctx.schools.by_id(&ctx.store, school_id).await?.ok_or_else(Error::unknown_school)?;
    let student = ctx.store.student(school_id, r.student_id).await?.ok_or_else(Error::not_found)?;
    let link = super::verify_url(ctx, &r);
    let what = if r.kind == ReceiptKind::RedLetter { "红字电子票据（冲红）" } else { "电子票据" };
    let text = format!(
        "【{}】您缴纳的{}元{}已开具，票据代码{}，号码{}，校验码{}。查验：{}",
        school.name,
        r.amount.to_yuan_string(),
        what,
        r.code,
        r.number,
        r.check_code,
        link
    );
    match by {
        Delivery::Sms => {
            let phone = match r.order_id {
                Some(id) => ctx.store.order_by_id(id).await?.map(|o| o.phone).filter(|p| !p.is_empty()),
                None => None,
            }
            .unwrap_or_else(|| student.phone.clone());
            if phone.is_empty() {
                return Ok(());
            }
            let notice = ReceiptNotice {
                kind: if r.kind == ReceiptKind::RedLetter { "红字电子票据" } else { "电子票据" }.to_string(),
                // The kind says a red letter takes money back; the template's amount is unsigned.
                amount: Fen(r.amount.0.saturating_abs()).to_yuan_string(),
                code: r.code.clone(),
                number: r.number.clone(),
                check: r.check_code.clone(),
            };
            ctx.sms.send_notice(&phone, &notice, &text).await.map_err(|e| {
                tracing::warn!(error = e.message.as_str(), permanent = e.permanent, receipt = receipt_id, "receipt SMS not sent");
                not_sent(&e, "sms_refused", "sms_failed", "短信", "The SMS")
            })
        }
        Delivery::Mail => {
            if student.email.trim().is_empty() {
                return Ok(());
            }
            let subject = format!("{} {} {}", school.name, what, r.number);
            let body =
                format!("{}同学：\n\n{}\n\n本系统启用后按财政部门规定不再提供纸质缴费票据，请妥善保存电子缴费信息。\n", student.name, text);
            ctx.mailer.send(&ctx.store, &student.email, &subject, &body).await.map_err(|e| {
                tracing::warn!(error = e.message.as_str(), permanent = e.permanent, receipt = receipt_id, "receipt mail not sent");
                not_sent(&e, "mail_refused", "mail_failed", "邮件", "The mail")
            })
        }
    }
}

/// A message not sent, as the job's error: a refusal that will not pass is `Misconfigured`
/// (the job stops and the office sees why), anything else `Upstream` (retried).
fn not_sent(e: &SendError, refused: &'static str, failed: &'static str, zh: &str, en: &str) -> Error {
    if e.permanent {
        Error::new(
            crate::ErrorKind::Misconfigured,
            refused,
            format!("{zh}服务商拒绝发送：{}", e.message),
            format!("{en} provider refused it: {}", e.message),
        )
    } else {
        Error::new(crate::ErrorKind::Upstream, failed, format!("{zh}发送失败：{}", e.message), format!("{en} was not sent: {}", e.message))
    }
}

/// Voids `old` (an issued, normal receipt) and issues its replacement with the corrected payer,
/// in the caller's transaction, under the source's lock. Returns the new receipt's id.
pub(crate) async fn void_and_reissue(
    ctx: &Context,
    tx: &mut WriteTx,
    old: &ReceiptRow,
    payer: &str,
    payer_credit_code: &str,
    reason: &str,
) -> Result<i64, Error> {
    let data: ReceiptData = serde_json::from_str(&old.data).map_err(|_| Error::internal())?;
    let school = Arc::new(ctx.store.school_by_id(old.school_id).await?.ok_or_else(Error::unknown_school)?);
    let src = Source {
        school,
        student_id: old.student_id,
        key: old.source.clone(),
        order_id: old.order_id,
        payer: payer.to_string(),
        payer_credit_code: payer_credit_code.to_string(),
        order_no: data.order_no.clone(),
        channel: data.channel.clone(),
        txn_id: data.txn_id.clone(),
    };
    ctx.store.set_receipt_status(tx, old.id, ReceiptStatus::Void, reason).await?;
    let again = draft(&src, &old.receipt_type, ReceiptKind::Normal, data.lines, ctx.clock.now(), String::new())?;
    let ids = store_receipts(
        ctx,
        tx,
        vec![Draft { src: &src, data: again, issue_key: format!("reissue-{}", old.id), original_id: Some(old.id) }],
    )
    .await?;
    ids.first().copied().ok_or_else(Error::internal)
}
