//! Attempts held while they are checked, so that limits hold under any concurrency.
//!
//! The security log says how many attempts failed; it cannot say how many are being checked
//! right now. Reading it before a check and writing it after let a burst of a hundred
//! concurrent wrong passwords all read "2 failures" (issue 13). So an attempt is first *held*
//! (`Store::hold_attempt`, a counter row locked until the reading transaction ends) and every
//! limit compares `failures + attempts in flight` against itself: a burst checks at most as
//! many as the limit allows, on any number of instances. The outcome is recorded in the log
//! in the same transaction that lets go of the attempt, so nothing is counted twice or never.

use crate::{Context, Error};
use campuspay_store::WriteTx;
use campuspay_store::db_now as now;
use campuspay_store::security::NewSecurityEvent;

/// An attempt held longer than this is forgotten: the instance checking it died.
pub const LEASE_S: i64 = 120;

/// Attempts held on some keys; [`Held::finish`] lets go of them.
#[must_use = "held attempts must be finished"]
pub(crate) struct Held {
    keys: Vec<String>,
}

impl Held {
    /// Holds one attempt on each key inside `tx`, and returns how many others are in flight on
    /// each. Every caller passes keys in the same order (address first, then account), so two
    /// requests never wait on each other crosswise.
    pub async fn take(ctx: &Context, tx: &mut WriteTx, keys: Vec<String>) -> Result<(Held, Vec<i64>), Error> {
        let t = now();
        let mut busy = Vec::with_capacity(keys.len());
        for k in &keys {
            busy.push(ctx.store.hold_attempt(tx, k, LEASE_S, t).await?);
        }
        Ok((Held { keys }, busy))
    }

    /// Lets go inside `tx` (e.g. when the attempt is refused in the transaction that held it).
    pub async fn release_in(self, ctx: &Context, tx: &mut WriteTx) -> Result<(), Error> {
        for k in &self.keys {
            ctx.store.release_attempt(tx, k).await?;
        }
        Ok(())
    }

    /// Lets go and records what the attempt came to, in one transaction.
    pub async fn finish(self, ctx: &Context, events: &[NewSecurityEvent<'_>]) -> Result<(), Error> {
        let mut tx = ctx.store.write_tx().await?;
        self.release_in(ctx, &mut tx).await?;
        for e in events {
            ctx.store.record_security_event(&mut tx, e).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
