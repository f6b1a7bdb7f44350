//! The office's first page: what came in today, how far the latest period's collection is,
//! and what waits for a second person. Read-only, any member of the school's office.

use super::Staff;
use crate::{Context, Error};
use campuspay_domain::Fen;
use campuspay_domain::office::Permission;
use campuspay_domain::time::SHANGHAI_OFFSET_S;
use campuspay_store::dashboard::PeriodProgress;

pub struct Summary {
    /// Online payments and counter money of today (Shanghai day), in ledger entries.
    pub today: Fen,
    pub today_entries: i64,
    /// Start of today, Shanghai, unix seconds.
    pub day_start: i64,
    pub latest_period: Option<PeriodProgress>,
    /// Paid of what the latest period asks for, in hundredths of a percent (`None`: nothing
    /// is asked): integer arithmetic, no float between the ledger and the page.
    pub collected_basis_points: Option<i64>,
    pub pending_adjustments: i64,
}

/// Midnight (Shanghai) of the day `t` falls in.
pub fn shanghai_day_start(t: i64) -> i64 {
    (t + SHANGHAI_OFFSET_S).div_euclid(86_400) * 86_400 - SHANGHAI_OFFSET_S
}

/// `paid / due` in basis points, rounded down; `None` when nothing is due.
pub fn basis_points(paid: Fen, due: Fen) -> Option<i64> {
    (due.0 > 0).then(|| (i128::from(paid.0.max(0)) * 10_000 / i128::from(due.0)).min(i128::from(i64::MAX)) as i64)
}

pub async fn summary(ctx: &Context, staff: &Staff) -> Result<Summary, Error> {
    staff.require(Permission::ViewStudents)?;
    let school_id = staff.school()?;
    let day_start = shanghai_day_start(ctx.clock.now());
    let today = ctx.store.collected_between(school_id, day_start, day_start + 86_400).await?;
    let latest_period = ctx.store.latest_period_progress(school_id).await?;
    let collected_basis_points = latest_period.as_ref().and_then(|p| basis_points(p.paid, p.due));
    Ok(Summary {
        today: today.total,
        today_entries: today.entries,
        day_start,
        latest_period,
        collected_basis_points,
        pending_adjustments: ctx.store.pending_adjustment_count(school_id).await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_day_starts_at_shanghai_midnight() {
        // 2026-03-01 00:30 in Shanghai is 2026-02-28 16:30 UTC.
        let t = campuspay_domain::time::shanghai_to_unix(2026, 3, 1, 0, 30, 0).unwrap();
        assert_eq!(shanghai_day_start(t), campuspay_domain::time::shanghai_to_unix(2026, 3, 1, 0, 0, 0).unwrap());
        assert_eq!(shanghai_day_start(t - 3600), campuspay_domain::time::shanghai_to_unix(2026, 2, 28, 0, 0, 0).unwrap());
    }

    #[test]
    fn percentages_are_integer_basis_points() {
        assert_eq!(basis_points(Fen(1), Fen(3)), Some(3333));
        assert_eq!(basis_points(Fen(300), Fen(300)), Some(10_000));
        assert_eq!(basis_points(Fen(5), Fen(0)), None);
        assert_eq!(basis_points(Fen(-5), Fen(10)), Some(0));
    }
}
