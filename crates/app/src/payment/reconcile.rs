//! 对账: each channel's statement of a day against our books. A payment the provider has and
//! we never settled (notification lost, query never answered) is settled now, through the
//! same `settle_paid` as a notification; what cannot be matched is reported for the office.

use crate::Context;
use crate::error::Error;
use crate::payment::channels::provider_str;
use crate::payment::settle::{self, Settled};
use campuspay_channels::StatementKind;
use campuspay_domain::order::PaidSource;
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
    /// Statements that could not be fetched or read: (school id, error).
    pub failures: Vec<(i64, String)>,
}

#[tracing::instrument(name = "reconcile_day", skip(ctx))]
pub async fn reconcile_day(ctx: &Context, date: &str) -> Result<Report, Error> {
    let mut report = Report { date: date.to_string(), ..Report::default() };
    let mut seen: HashSet<(String, String)> = HashSet::new();
    let mut unknown: HashSet<String> = HashSet::new();
    for (school_id, _adapter, channel) in ctx.channels.all() {
        let statement = match channel.statement(date).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(school_id, error = %e, date, "statement unavailable");
                report.failures.push((school_id, e.to_string()));
                continue;
            }
        };
        report.statements += 1;
        let provider = provider_str(statement.provider);
        let refunded: HashSet<&str> =
            statement.lines.iter().filter(|l| l.kind == StatementKind::Refund).map(|l| l.transaction_id.as_str()).collect();
        for line in statement.lines.iter().filter(|l| l.kind == StatementKind::Payment) {
            let key = (provider.to_string(), line.transaction_id.clone());
            if seen.contains(&key) {
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
                    }
                    continue;
                }
            };
            seen.insert(key);
            report.payment_lines += 1;
            if ctx.store.txn_settled(statement.provider, &line.transaction_id).await? {
                report.matched += 1;
                continue;
            }
            if refunded.contains(line.transaction_id.as_str()) {
                report.refunded_at_provider.push(line.out_trade_no.clone());
                continue;
            }
            match settle::settle_paid(ctx, &attempt, &line.transaction_id, line.amount, &line.time, PaidSource::Statement).await? {
                Settled::Duplicate | Settled::Nothing => report.matched += 1,
                _ => report.settled_now.push((line.out_trade_no.clone(), line.transaction_id.clone())),
            }
        }
    }
    let mut tx = ctx.store.write_tx().await?;
    let detail = format!(
        "{date}: {} statements, {} payments, {} matched, {} settled now, {} unknown, {} refunded at the provider, {} failed",
        report.statements,
        report.payment_lines,
        report.matched,
        report.settled_now.len(),
        report.unknown.len(),
        report.refunded_at_provider.len(),
        report.failures.len()
    );
    ctx.store.audit(&mut tx, None, "system", "reconcile", &detail).await?;
    tx.commit().await?;
    tracing::info!("{detail}");
    Ok(report)
}
