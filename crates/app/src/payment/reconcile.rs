//! 对账: each channel's statement of a day against our books, in both directions. A payment
//! the provider has and we never settled (notification lost, query never answered) is settled
//! now, through the same `settle_paid` as a notification. What cannot be matched — statement
//! lines that are none of our trades, our payments the statement lacks, amounts that differ —
//! goes to the office's exception queue; each school's figures per provider and day are
//! stored for the office's reconciliation view.

use crate::Context;
use crate::error::Error;
use crate::payment::channels::provider_str;
use crate::payment::settle::{self, Settled};
use crate::payment::statement_fees::{self, LineFees};
use campuspay_channels::{ChannelError, Provider, StatementFile, StatementKind, StatementLine};
use campuspay_domain::Fen;
use campuspay_domain::order::PaidSource;
use campuspay_domain::settlement::ExceptionKind;
use campuspay_domain::time::shanghai_to_unix;
use campuspay_store::exceptions::NewException;
use campuspay_store::orders::AttemptRow;
use campuspay_store::refunds::SettledPayment;
use campuspay_store::reports::ReconciliationRow;
use std::collections::{HashMap, HashSet};

#[derive(Debug, Default, Clone)]
pub struct Report {
    pub date: String,
    /// Statements read (one per school and configured adapter).
    pub statements: usize,
    pub payment_lines: usize,
    /// Settled before the statement came: the normal case.
    pub matched: usize,
    /// Paid at the provider but not in our books until now: (out_trade_no, transaction id).
    pub settled_now: Vec<(String, String)>,
    /// Lines whose trade number is none of ours: for a person to look at.
    pub unknown: Vec<String>,
    /// Paid and refunded at the provider, never settled here (refunded from the merchant
    /// console?): not applied; for a person to look at.
    pub refunded_at_provider: Vec<String>,
    /// Our settled payments of the day that the statement lacks (transaction ids).
    pub missing_from_statement: Vec<String>,
    /// Settled with an amount other than the statement's (transaction ids).
    pub mismatched: Vec<String>,
    /// Statements that could not be fetched or read: (school id, error).
    pub failures: Vec<(i64, String)>,
}

/// The statement lines kept with a run, as evidence: a school's own lines and the unknown
/// ones, never another school's trades on a shared merchant statement. Bounded, so a
/// million-line day does not become one database value.
const KEPT_LINES: usize = 20_000;

/// Statement lines are looked up in the books this many at a time — one query for their
/// attempts and one for their provider payments — instead of two queries per line: a day of a
/// million lines is 500 round trips, not two million.
pub const LOOKUP_BATCH: usize = 2_000;

#[tracing::instrument(name = "reconcile_day", skip(ctx))]
pub async fn reconcile_day(ctx: &Context, date: &str) -> Result<Report, Error> {
    reconcile(ctx, date, None).await
}

/// Reconciles `date` for every school, or for one (`school`), e.g. when its office re-runs
/// a day.
pub async fn reconcile(ctx: &Context, date: &str, school: Option<i64>) -> Result<Report, Error> {
    let mut report = Report { date: date.to_string(), ..Report::default() };
    let mut unknown: HashSet<String> = HashSet::new();
    for (school_id, _adapter, channel) in ctx.channels.all() {
        if school.is_some_and(|s| s != school_id) {
            continue;
        }
        let mut row = ReconciliationRow { school_id, provider: Some(channel.provider()), day: date.to_string(), ..Default::default() };
        let read = match channel.statement_file(date).await {
            Ok(file) => one_statement(ctx, school_id, &file, None, &unknown, LOOKUP_BATCH).await?,
            // A provider that offers no statement we can read (CCB's and 通联收银宝's file formats
            // are not public) has nothing to reconcile; that is no failure of the day.
            Err(ChannelError::Unsupported(why)) => {
                tracing::debug!(school_id, why, date, "no statement from this provider");
                continue;
            }
            Err(e) => Err(Unreadable::File(e)),
        };
        match read {
            Ok(done) => {
                report.statements += 1;
                row = ReconciliationRow { ok: true, ..done.add_to(&mut report, &mut unknown) };
            }
            Err(e) => {
                let e = e.to_string();
                tracing::warn!(school_id, error = %e, date, "statement unavailable");
                row.error = e.clone();
                report.failures.push((school_id, e));
            }
        }
        let mut tx = ctx.store.write_tx().await?;
        ctx.store.insert_reconciliation(&mut tx, &row).await?;
        tx.commit().await?;
    }
    let mut tx = ctx.store.write_tx().await?;
    let detail = format!(
        "{date}: {} statements, {} payments, {} matched, {} settled now, {} unknown, {} refunded at the provider, \
         {} missing from statements, {} mismatched, {} failed",
        report.statements,
        report.payment_lines,
        report.matched,
        report.settled_now.len(),
        report.unknown.len(),
        report.refunded_at_provider.len(),
        report.missing_from_statement.len(),
        report.mismatched.len(),
        report.failures.len()
    );
    ctx.store.audit(&mut tx, school, "system", "reconcile", &detail).await?;
    tx.commit().await?;
    tracing::info!("{detail}");
    Ok(report)
}

/// Why a statement was not reconciled; nothing was written.
#[derive(Debug)]
pub enum Unreadable {
    /// The file cannot be read or disagrees with its own summary.
    File(ChannelError),
    /// A line of another day (checked for files the office supplies): the first such line.
    WrongDay { time: String, out_trade_no: String },
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unreadable::File(e) => write!(f, "{e}"),
            Unreadable::WrongDay { time, out_trade_no } => write!(f, "对账单中有 {time} 的交易（{out_trade_no}），与对账日期不符"),
        }
    }
}

/// A reconciled statement: the run's figures (to store) and how many lines the file had.
pub struct Reconciled {
    pub row: ReconciliationRow,
    pub lines: usize,
}

/// Reconciles one statement the office supplied by hand (a provider's file, where its API is
/// unavailable) for one school: every line must be of the statement's day; settles what the
/// books lack and queues the exceptions like the daily run; the caller stores the returned
/// figures with the file.
pub async fn reconcile_statement(ctx: &Context, school_id: i64, file: &StatementFile) -> Result<Result<Reconciled, Unreadable>, Error> {
    reconcile_statement_in_batches(ctx, school_id, file, LOOKUP_BATCH).await
}

/// [`reconcile_statement`] looking lines up `batch` at a time (tests cross batch boundaries
/// with a few lines).
pub async fn reconcile_statement_in_batches(
    ctx: &Context,
    school_id: i64,
    file: &StatementFile,
    batch: usize,
) -> Result<Result<Reconciled, Unreadable>, Error> {
    Ok(one_statement(ctx, school_id, file, Some(file.date()), &HashSet::new(), batch.max(1))
        .await?
        .map(|done| Reconciled { row: ReconciliationRow { ok: true, imported: true, ..done.row }, lines: done.lines }))
}

/// An exception found while reading a statement: kind, subject, student, provider payment,
/// amount, evidence. Written together once the statement is read, in the order of the lines
/// they come from.
type Found = (ExceptionKind, String, Option<i64>, Option<i64>, Fen, serde_json::Value);

fn line_json(l: &StatementLine) -> serde_json::Value {
    serde_json::json!({
        "out_trade_no": l.out_trade_no,
        "transaction_id": l.transaction_id,
        "kind": match l.kind { StatementKind::Payment => "payment", StatementKind::Refund => "refund" },
        "amount_fen": l.amount.0,
        "time": l.time,
        "out_refund_no": l.out_refund_no,
    })
}

/// Where the fees of a statement's lines come from: read with each line (WeChat's bill, read as
/// a stream: `true` while every line's fee could be read), or from the parsed statement's text.
enum Fees {
    PerLine(bool),
    Parsed(Option<LineFees>),
}

/// One statement reconciled, not yet added to the day's report.
struct Done {
    row: ReconciliationRow,
    report: Report,
    lines: usize,
}

impl Done {
    /// Adds the statement's findings to the day's report; answers its figures.
    fn add_to(self, report: &mut Report, unknown: &mut HashSet<String>) -> ReconciliationRow {
        let r = self.report;
        unknown.extend(r.unknown.iter().cloned());
        report.payment_lines += r.payment_lines;
        report.matched += r.matched;
        report.settled_now.extend(r.settled_now);
        report.unknown.extend(r.unknown);
        report.refunded_at_provider.extend(r.refunded_at_provider);
        report.missing_from_statement.extend(r.missing_from_statement);
        report.mismatched.extend(r.mismatched);
        self.row
    }
}

/// The reading of one statement: lines are classified in batches against the books; what
/// would write (settling a payment the books lack) waits until the whole file has been read
/// and found sound, so a file that turns out bad at its last line changes nothing.
struct Pass<'a> {
    school_id: i64,
    provider: Provider,
    /// Lines found unknown in an earlier statement of the run (reported once).
    unknown_before: &'a HashSet<String>,
    unknown: HashSet<String>,
    row: ReconciliationRow,
    report: Report,
    /// The transaction ids of the payment lines read, for the other direction.
    seen: HashSet<Box<str>>,
    /// Payments the statement also refunds (a refund line carries its payment's id).
    refunded: HashSet<String>,
    kept: Vec<serde_json::Value>,
    exceptions: Vec<(usize, Found)>,
    /// Our trades the books have no payment for: (line number, line, attempt), settled after
    /// the read.
    unsettled: Vec<(usize, StatementLine, AttemptRow)>,
    fees: Fees,
    fee_units: i64,
}

impl Pass<'_> {
    fn keep(&mut self, line: &StatementLine) {
        if self.kept.len() < KEPT_LINES {
            self.kept.push(line_json(line));
        }
    }

    fn fee_of(&self, line: &StatementLine, refund: bool, fee: Option<i64>) -> i64 {
        match &self.fees {
            Fees::PerLine(_) => fee.unwrap_or(0),
            Fees::Parsed(fees) => fees.as_ref().and_then(|f| f.get(&(line.out_trade_no.clone(), refund)).copied()).unwrap_or(0),
        }
    }

    /// Looks a batch of lines up in the books and classifies them in order.
    async fn batch(&mut self, ctx: &Context, lines: &mut Vec<(usize, StatementLine, Option<i64>)>) -> Result<(), Error> {
        let mut outs: Vec<&str> = lines.iter().map(|(_, l, _)| l.out_trade_no.as_str()).collect();
        outs.sort_unstable();
        outs.dedup();
        let mut txns: Vec<&str> =
            lines.iter().filter(|(_, l, _)| l.kind == StatementKind::Payment).map(|(_, l, _)| l.transaction_id.as_str()).collect();
        txns.sort_unstable();
        txns.dedup();
        let (attempts, paid) =
            tokio::try_join!(ctx.store.attempts_by_out_trade_nos(&outs), ctx.store.provider_payments_by_txns(self.provider, &txns))?;
        let attempts: HashMap<String, AttemptRow> = attempts.into_iter().map(|a| (a.out_trade_no.clone(), a)).collect();
        let paid: HashMap<String, SettledPayment> = paid.into_iter().collect();
        for (i, line, fee) in lines.drain(..) {
            let attempt = attempts.get(&line.out_trade_no);
            self.line(i, line, fee, attempt, &paid);
        }
        Ok(())
    }

    fn line(
        &mut self,
        i: usize,
        line: StatementLine,
        fee: Option<i64>,
        attempt: Option<&AttemptRow>,
        paid: &HashMap<String, SettledPayment>,
    ) {
        let provider = provider_str(self.provider);
        if line.kind == StatementKind::Refund {
            self.refunded.insert(line.transaction_id.clone());
            // Refunds are ours when their trade is: counted for the day's totals.
            if attempt.is_some_and(|a| a.school_id == self.school_id) {
                self.row.refund_count += 1;
                self.row.refund_fen = Fen(self.row.refund_fen.0 + line.amount.0);
                self.fee_units -= self.fee_of(&line, true, fee);
                self.keep(&line);
            }
            return;
        }
        if !self.seen.insert(line.transaction_id.as_str().into()) {
            return;
        }
        // A trade of ours, on this school's statement, through this provider; schools may
        // share a merchant (the demo does), and then each school settles its own trades.
        let attempt = match attempt {
            Some(a) if a.school_id == self.school_id && a.channel.provider() == self.provider => a,
            Some(_) => return,
            None => {
                if !self.unknown_before.contains(&line.out_trade_no) && self.unknown.insert(line.out_trade_no.clone()) {
                    self.report.unknown.push(line.out_trade_no.clone());
                    self.row.missing_ours_count += 1;
                    self.row.missing_ours_fen = Fen(self.row.missing_ours_fen.0 + line.amount.0);
                    let subject = format!("line:{provider}:{}", line.transaction_id);
                    self.exceptions.push((i, (ExceptionKind::StatementUnknown, subject, None, None, line.amount, line_json(&line))));
                    self.keep(&line);
                }
                return;
            }
        };
        self.keep(&line);
        self.report.payment_lines += 1;
        self.row.statement_count += 1;
        self.row.statement_fen = Fen(self.row.statement_fen.0 + line.amount.0);
        self.fee_units += self.fee_of(&line, false, fee);
        let Some(ours) = paid.get(&line.transaction_id) else {
            self.unsettled.push((i, line, attempt.clone()));
            return;
        };
        if ours.amount != line.amount {
            self.report.mismatched.push(line.transaction_id.clone());
            self.row.mismatched_count += 1;
            let subject = format!("txn:{provider}:{}", line.transaction_id);
            let evidence =
                serde_json::json!({"statement_line": line_json(&line), "our_amount_fen": ours.amount.0, "provider_payment_id": ours.id});
            self.exceptions
                .push((i, (ExceptionKind::AmountMismatch, subject, Some(ours.student_id), Some(ours.id), line.amount, evidence)));
        } else {
            self.report.matched += 1;
            self.row.matched_count += 1;
            self.row.matched_fen = Fen(self.row.matched_fen.0 + line.amount.0);
        }
    }

    /// Our trades the books lack: settled now, in the statement's order, unless the provider
    /// refunded them the same day.
    async fn settle_unsettled(&mut self, ctx: &Context) -> Result<(), Error> {
        let provider = provider_str(self.provider);
        for (i, line, attempt) in std::mem::take(&mut self.unsettled) {
            if self.refunded.contains(line.transaction_id.as_str()) {
                self.report.refunded_at_provider.push(line.out_trade_no.clone());
                self.row.missing_ours_count += 1;
                self.row.missing_ours_fen = Fen(self.row.missing_ours_fen.0 + line.amount.0);
                let subject = format!("line:{provider}:{}", line.transaction_id);
                let evidence =
                    serde_json::json!({"statement_line": line_json(&line), "note": "refunded at the provider, never settled here"});
                self.exceptions.push((i, (ExceptionKind::StatementUnknown, subject, None, None, line.amount, evidence)));
                continue;
            }
            match settle::settle_paid(ctx, &attempt, &line.transaction_id, line.amount, &line.time, PaidSource::Statement).await? {
                Settled::Duplicate | Settled::Nothing => {
                    self.report.matched += 1;
                    self.row.matched_count += 1;
                    self.row.matched_fen = Fen(self.row.matched_fen.0 + line.amount.0);
                }
                _ => {
                    self.report.settled_now.push((line.out_trade_no.clone(), line.transaction_id.clone()));
                    self.row.settled_now_count += 1;
                    self.row.settled_now_fen = Fen(self.row.settled_now_fen.0 + line.amount.0);
                }
            }
        }
        Ok(())
    }
}

/// Reads one statement for one school against the books (`day`: every line must be of it),
/// then settles and queues what it found; `Ok(Err(_))` when the file could not be read, and
/// then nothing was written.
async fn one_statement(
    ctx: &Context,
    school_id: i64,
    file: &StatementFile,
    day: Option<&str>,
    unknown_before: &HashSet<String>,
    batch: usize,
) -> Result<Result<Done, Unreadable>, Error> {
    let provider = file.provider();
    let date = file.date().to_string();
    let mut lines = match file.lines() {
        Ok(l) => l,
        Err(e) => return Ok(Err(Unreadable::File(e))),
    };
    let fees = match (lines.fees_per_line(), file) {
        (Some(has_column), _) => Fees::PerLine(has_column),
        (None, StatementFile::Parsed(s)) => Fees::Parsed(statement_fees::line_fees(s)),
        (None, _) => Fees::Parsed(None),
    };
    let mut pass = Pass {
        school_id,
        provider,
        unknown_before,
        unknown: HashSet::new(),
        row: ReconciliationRow { school_id, provider: Some(provider), day: date.clone(), ..Default::default() },
        report: Report { date: date.clone(), ..Report::default() },
        seen: HashSet::new(),
        refunded: HashSet::new(),
        kept: Vec::new(),
        exceptions: Vec::new(),
        unsettled: Vec::new(),
        fees,
        fee_units: 0,
    };
    let mut pending: Vec<(usize, StatementLine, Option<i64>)> = Vec::with_capacity(batch);
    let mut wrong_day: Option<Unreadable> = None;
    let mut count = 0usize;
    loop {
        let (line, fee) = match lines.next_line() {
            Ok(Some(l)) => l,
            Ok(None) => break,
            Err(e) => return Ok(Err(Unreadable::File(e))),
        };
        count += 1;
        if let Fees::PerLine(all_read) = &mut pass.fees {
            *all_read &= fee.is_some();
        }
        if let Some(d) = day
            && wrong_day.is_none()
            && !line.time.starts_with(d)
        {
            wrong_day = Some(Unreadable::WrongDay { time: line.time.clone(), out_trade_no: line.out_trade_no.clone() });
        }
        // A file refused anyway is still read to its end (its summary is checked first), but
        // not looked up.
        if wrong_day.is_some() {
            continue;
        }
        pending.push((count, line, fee));
        if pending.len() >= batch {
            pass.batch(ctx, &mut pending).await?;
        }
    }
    if let Err(e) = lines.check_totals() {
        return Ok(Err(Unreadable::File(e)));
    }
    if let Some(w) = wrong_day {
        return Ok(Err(w));
    }
    pass.batch(ctx, &mut pending).await?;
    pass.settle_unsettled(ctx).await?;

    // The other direction: what we settled for the day that the provider does not show.
    let (y, m, d) = parse(&date).unwrap_or_default();
    let from = shanghai_to_unix(y, m, d, 0, 0, 0).unwrap_or(0);
    let mut missing = Vec::new();
    ctx.store
        .settled_on_day(school_id, provider, &date, (from, from + 86_400), |pp_id, student_id, txn_id, amount| {
            if !pass.seen.contains(txn_id.as_str()) {
                missing.push((pp_id, student_id, txn_id, amount));
            }
        })
        .await?;
    let provider_name = provider_str(provider);
    for (pp_id, student_id, txn_id, amount) in missing {
        pass.report.missing_from_statement.push(txn_id.clone());
        pass.row.missing_theirs_count += 1;
        pass.row.missing_theirs_fen = Fen(pass.row.missing_theirs_fen.0 + amount.0);
        let evidence = serde_json::json!({"provider": provider_name, "txn_id": txn_id, "amount_fen": amount.0, "provider_payment_id": pp_id, "day": date});
        let found = (ExceptionKind::MissingFromStatement, format!("pp:{pp_id}"), Some(student_id), Some(pp_id), amount, evidence);
        pass.exceptions.push((usize::MAX, found));
    }
    pass.row.statement = serde_json::Value::Array(std::mem::take(&mut pass.kept)).to_string();
    pass.row.fee_fen = match &pass.fees {
        Fees::PerLine(true) => Some(Fen(statement_fees::to_fen(pass.fee_units))),
        Fees::PerLine(false) => None,
        Fees::Parsed(f) => f.as_ref().map(|_| Fen(statement_fees::to_fen(pass.fee_units))),
    };
    // Settling came after the reading, so the exceptions are put back in the lines' order.
    pass.exceptions.sort_by_key(|(i, _)| *i);
    let mut tx = ctx.store.write_tx().await?;
    for (_, (kind, subject, student_id, pp, amount, evidence)) in &pass.exceptions {
        let e = NewException {
            school_id,
            kind: *kind,
            subject,
            student_id: *student_id,
            provider_payment_id: *pp,
            refund_id: None,
            amount: *amount,
            evidence,
        };
        ctx.store.insert_exception(&mut tx, &e).await?;
    }
    tx.commit().await?;
    Ok(Ok(Done { row: pass.row, report: pass.report, lines: count }))
}

fn parse(date: &str) -> Option<(i64, u32, u32)> {
    let (y, rest) = date.split_once('-')?;
    let (m, d) = rest.split_once('-')?;
    Some((y.parse().ok()?, m.parse().ok()?, d.parse().ok()?))
}
