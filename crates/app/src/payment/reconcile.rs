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
use campuspay_channels::{Statement, StatementKind, StatementLine};
use campuspay_domain::Fen;
use campuspay_domain::order::PaidSource;
use campuspay_domain::settlement::ExceptionKind;
use campuspay_domain::time::shanghai_to_unix;
use campuspay_store::On;
use campuspay_store::exceptions::NewException;
use campuspay_store::reports::ReconciliationRow;
use std::collections::HashSet;

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
        match channel.statement(date).await {
            Ok(statement) => {
                report.statements += 1;
                row.ok = true;
                one_statement(ctx, school_id, &statement, &mut row, &mut report, &mut unknown).await?;
            }
            // A provider that offers no statement we can read (CCB's and 通联收银宝's file formats
            // are not public) has nothing to reconcile; that is no failure of the day.
            Err(campuspay_channels::ChannelError::Unsupported(why)) => {
                tracing::debug!(school_id, why, date, "no statement from this provider");
                continue;
            }
            Err(e) => {
                tracing::warn!(school_id, error = %e, date, "statement unavailable");
                row.error = e.to_string();
                report.failures.push((school_id, e.to_string()));
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

/// Reconciles one statement the office supplied by hand (a provider's file, where its API is
/// unavailable) for one school: settles what the books lack and queues the exceptions like
/// the daily run; the caller stores the returned figures with the file.
pub async fn reconcile_statement(ctx: &Context, school_id: i64, statement: &Statement) -> Result<ReconciliationRow, Error> {
    let mut report = Report { date: statement.date.clone(), ..Report::default() };
    let mut row = ReconciliationRow {
        school_id,
        provider: Some(statement.provider),
        day: statement.date.clone(),
        ok: true,
        imported: true,
        ..Default::default()
    };
    one_statement(ctx, school_id, statement, &mut row, &mut report, &mut HashSet::new()).await?;
    Ok(row)
}

/// An exception found while reading a statement: kind, subject, student, provider payment,
/// amount, evidence. Written together once the statement is read.
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

async fn one_statement(
    ctx: &Context,
    school_id: i64,
    statement: &Statement,
    row: &mut ReconciliationRow,
    report: &mut Report,
    unknown: &mut HashSet<String>,
) -> Result<(), Error> {
    let provider = provider_str(statement.provider);
    let refunded: HashSet<&str> =
        statement.lines.iter().filter(|l| l.kind == StatementKind::Refund).map(|l| l.transaction_id.as_str()).collect();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut kept: Vec<serde_json::Value> = Vec::new();
    let mut exceptions: Vec<Found> = Vec::new();
    // What the provider kept of the lines counted for this school, where the file says.
    let fees = super::statement_fees::line_fees(statement);
    let mut fee_units: i64 = 0;
    let fee_of =
        |out_trade_no: &str, refund: bool| fees.as_ref().and_then(|f| f.get(&(out_trade_no.to_string(), refund)).copied()).unwrap_or(0);
    for line in &statement.lines {
        if line.kind == StatementKind::Refund {
            // Refunds are ours when their trade is: counted for the day's totals.
            if ctx.store.attempt_by_out_trade_no(&line.out_trade_no).await?.is_some_and(|a| a.school_id == school_id) {
                row.refund_count += 1;
                row.refund_fen = Fen(row.refund_fen.0 + line.amount.0);
                fee_units -= fee_of(&line.out_trade_no, true);
                if kept.len() < KEPT_LINES {
                    kept.push(line_json(line));
                }
            }
            continue;
        }
        if !seen.insert(line.transaction_id.as_str()) {
            continue;
        }
        // A trade of ours, on this school's statement, through this provider; schools may
        // share a merchant (the demo does), and then each school settles its own trades.
        let attempt = match ctx.store.attempt_by_out_trade_no(&line.out_trade_no).await? {
            Some(a) if a.school_id == school_id && a.channel.provider() == statement.provider => a,
            Some(_) => continue,
            None => {
                if unknown.insert(line.out_trade_no.clone()) {
                    report.unknown.push(line.out_trade_no.clone());
                    row.missing_ours_count += 1;
                    row.missing_ours_fen = Fen(row.missing_ours_fen.0 + line.amount.0);
                    let subject = format!("line:{provider}:{}", line.transaction_id);
                    exceptions.push((ExceptionKind::StatementUnknown, subject, None, None, line.amount, line_json(line)));
                    if kept.len() < KEPT_LINES {
                        kept.push(line_json(line));
                    }
                }
                continue;
            }
        };
        if kept.len() < KEPT_LINES {
            kept.push(line_json(line));
        }
        report.payment_lines += 1;
        row.statement_count += 1;
        row.statement_fen = Fen(row.statement_fen.0 + line.amount.0);
        fee_units += fee_of(&line.out_trade_no, false);
        if let Some(ours) = ctx.store.provider_payment_by_txn(statement.provider, &line.transaction_id).await? {
            if ours.amount != line.amount {
                report.mismatched.push(line.transaction_id.clone());
                row.mismatched_count += 1;
                let subject = format!("txn:{provider}:{}", line.transaction_id);
                let evidence =
                    serde_json::json!({"statement_line": line_json(line), "our_amount_fen": ours.amount.0, "provider_payment_id": ours.id});
                exceptions.push((ExceptionKind::AmountMismatch, subject, Some(ours.student_id), Some(ours.id), line.amount, evidence));
            } else {
                report.matched += 1;
                row.matched_count += 1;
                row.matched_fen = Fen(row.matched_fen.0 + line.amount.0);
            }
            continue;
        }
        if refunded.contains(line.transaction_id.as_str()) {
            report.refunded_at_provider.push(line.out_trade_no.clone());
            row.missing_ours_count += 1;
            row.missing_ours_fen = Fen(row.missing_ours_fen.0 + line.amount.0);
            let subject = format!("line:{provider}:{}", line.transaction_id);
            let evidence = serde_json::json!({"statement_line": line_json(line), "note": "refunded at the provider, never settled here"});
            exceptions.push((ExceptionKind::StatementUnknown, subject, None, None, line.amount, evidence));
            continue;
        }
        match settle::settle_paid(ctx, &attempt, &line.transaction_id, line.amount, &line.time, PaidSource::Statement).await? {
            Settled::Duplicate | Settled::Nothing => {
                report.matched += 1;
                row.matched_count += 1;
                row.matched_fen = Fen(row.matched_fen.0 + line.amount.0);
            }
            _ => {
                report.settled_now.push((line.out_trade_no.clone(), line.transaction_id.clone()));
                row.settled_now_count += 1;
                row.settled_now_fen = Fen(row.settled_now_fen.0 + line.amount.0);
            }
        }
    }
    // The other direction: what we settled for the day that the provider does not show.
    let (y, m, d) = parse(&statement.date).unwrap_or_default();
    let from = shanghai_to_unix(y, m, d, 0, 0, 0).unwrap_or(0);
    let ours = ctx.store.settled_on_day(On::Pool, school_id, statement.provider, &statement.date, from, from + 86_400).await?;
    for (pp_id, student_id, txn_id, amount) in ours {
        if seen.contains(txn_id.as_str()) {
            continue;
        }
        report.missing_from_statement.push(txn_id.clone());
        row.missing_theirs_count += 1;
        row.missing_theirs_fen = Fen(row.missing_theirs_fen.0 + amount.0);
        let evidence = serde_json::json!({"provider": provider, "txn_id": txn_id, "amount_fen": amount.0, "provider_payment_id": pp_id, "day": statement.date});
        exceptions.push((ExceptionKind::MissingFromStatement, format!("pp:{pp_id}"), Some(student_id), Some(pp_id), amount, evidence));
    }
    row.statement = serde_json::Value::Array(kept).to_string();
    row.fee_fen = fees.map(|_| Fen(super::statement_fees::to_fen(fee_units)));
    let mut tx = ctx.store.write_tx().await?;
    for (kind, subject, student_id, pp, amount, evidence) in &exceptions {
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
    Ok(())
}

fn parse(date: &str) -> Option<(i64, u32, u32)> {
    let (y, rest) = date.split_once('-')?;
    let (m, d) = rest.split_once('-')?;
    Some((y.parse().ok()?, m.parse().ok()?, d.parse().ok()?))
}
