//! 批量生成应收: one fee item for one period, to the students a filter picks, with amounts
//! from the fee standards or one amount for all. A dry run shows the count and total; the run
//! itself is idempotent twice over: the same `Idempotency-Key` answers the first run again,
//! and no student ever gets the same item for the same period twice.

use super::{Audited, Staff, audit};
use crate::{Client, Context, Error, ErrorKind};
use campuspay_domain::Fen;
use campuspay_domain::office::{AuditAction, Permission};
use campuspay_store::charge_runs::{RunFigures, RunFilter, RunSpec};
use campuspay_store::{On, StoreError};

pub struct RunInput<'a> {
    pub fee_item_id: i64,
    pub period_code: &'a str,
    /// One amount for everyone; `None`: from the fee standards.
    pub amount: Option<Fen>,
    pub filter: RunFilter,
    pub dry_run: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// A dry run: what would be issued, nothing written.
    Preview,
    /// Issued (now, or by an earlier request with the same key).
    Issued,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Preview => "preview",
            RunStatus::Issued => "issued",
        }
    }
}

pub struct RunOutcome {
    /// The run's id; `None` for a dry run.
    pub id: Option<i64>,
    pub status: RunStatus,
    pub figures: RunFigures,
    /// The same `Idempotency-Key` had already issued this run: nothing new was written.
    pub replayed: bool,
}

fn refused(code: &'static str, zh: impl Into<String>, en: impl Into<String>, field: &'static str) -> Error {
    Error::new(ErrorKind::Refused, code, zh, en).field(field)
}

async fn spec_of(ctx: &Context, school_id: i64, input: &RunInput<'_>) -> Result<RunSpec, Error> {
    if !ctx.store.fee_items(school_id).await?.iter().any(|f| f.id == input.fee_item_id) {
        return Err(refused("unknown_fee_item", "本校没有这个收费项目", "No such fee item at this school", "fee_item"));
    }
    let period = ctx.store.periods(school_id).await?.into_iter().find(|p| p.code == input.period_code.trim());
    let Some(period) = period else {
        return Err(refused(
            "unknown_period",
            format!("本校没有收费期间“{}”", input.period_code),
            "No such period at this school",
            "period",
        ));
    };
    if let Some(a) = input.amount
        && (!a.is_positive() || a.0 > 10_000_000_000)
    {
        return Err(refused("invalid_amount", "金额必须大于0且不超过一亿元", "The amount must be more than 0", "amount_fen"));
    }
    let f = &input.filter;
    let fields = [&f.selector.grade, &f.selector.department, &f.selector.major, &f.selector.level, &f.class_name];
    if fields.iter().any(|v| v.chars().count() > 64 || v.chars().any(char::is_control)) {
        return Err(refused("invalid_filter", "筛选条件过长或含有不可见字符", "A filter value is too long", "filter"));
    }
    let trim = |s: &String| s.trim().to_string();
    Ok(RunSpec {
        fee_item_id: input.fee_item_id,
        period_id: period.id,
        amount: input.amount,
        filter: RunFilter {
            selector: campuspay_store::catalog::Selector {
                grade: trim(&f.selector.grade),
                department: trim(&f.selector.department),
                major: trim(&f.selector.major),
                level: trim(&f.selector.level),
            },
            class_name: trim(&f.class_name),
        },
    })
}

fn replay(ctx_run: campuspay_store::charge_runs::ChargeRunRow, spec: &RunSpec) -> Result<RunOutcome, Error> {
    if ctx_run.spec != *spec {
        return Err(Error::new(
            ErrorKind::Conflict,
            "idempotency_key_reused",
            "这个幂等键（Idempotency-Key）已用于另一批次，请换一个",
            "This Idempotency-Key was used for a different run",
        ));
    }
    let figures = RunFigures { students: ctx_run.students, total: ctx_run.total, already_charged: 0, without_standard: 0 };
    Ok(RunOutcome { id: Some(ctx_run.id), status: RunStatus::Issued, figures, replayed: true })
}

pub async fn run(ctx: &Context, staff: &Staff, client: &Client, input: &RunInput<'_>, key: Option<&str>) -> Result<RunOutcome, Error> {
    staff.require(Permission::IssueCharges)?;
    let school_id = staff.school()?;
    let spec = spec_of(ctx, school_id, input).await?;
    if input.dry_run {
        let figures = ctx.store.preview_run(On::Pool, school_id, &spec).await?;
        return Ok(RunOutcome { id: None, status: RunStatus::Preview, figures, replayed: false });
    }
    let key = key.map(str::trim).filter(|k| !k.is_empty());
    if let Some(k) = key {
        if k.len() > 128 || !k.chars().all(|c| c.is_ascii_graphic()) {
            return Err(refused(
                "invalid_idempotency_key",
                "Idempotency-Key 最多128个可见字符",
                "Idempotency-Key: at most 128 visible characters",
                "Idempotency-Key",
            ));
        }
        if let Some(done) = ctx.store.charge_run_by_key(On::Pool, school_id, k).await? {
            return replay(done, &spec);
        }
    }
    let mut tx = ctx.store.write_tx().await?;
    // Counted before the insert, in the same transaction: what the run found already charged
    // and without a standard, for the office's summary.
    let before = ctx.store.preview_run(On::Tx(&mut tx), school_id, &spec).await?;
    let (id, students, total) = match ctx.store.issue_run(&mut tx, school_id, staff.id, key, &spec).await {
        Ok(done) => done,
        // The same key, committed by a concurrent request a moment ago: answer its run.
        Err(StoreError::Conflict(_)) if key.is_some() => {
            drop(tx);
            let done = ctx.store.charge_run_by_key(On::Pool, school_id, key.unwrap_or_default()).await?.ok_or_else(Error::internal)?;
            return replay(done, &spec);
        }
        Err(e) => return Err(e.into()),
    };
    let subject = format!("charge_run:{id}");
    let after = serde_json::json!({
        "fee_item_id": spec.fee_item_id,
        "period": input.period_code.trim(),
        "amount_fen": spec.amount.map(|a| a.0),
        "filter": spec.filter,
        "students": students,
        "total_fen": total.0,
        "idempotency_key": key,
    });
    audit(
        ctx,
        &mut tx,
        staff,
        client,
        &Audited { action: AuditAction::ChargesIssued, subject: &subject, before: None, after: Some(after) },
    )
    .await?;
    tx.commit().await?;
    let figures = RunFigures { students, total, already_charged: before.already_charged, without_standard: before.without_standard };
    Ok(RunOutcome { id: Some(id), status: RunStatus::Issued, figures, replayed: false })
}
