//! Group commit for the busiest settlements: money applied to unpaid orders
//! (`settle::settle_unheld`).
//!
//! Such a settlement is one write of about ten rows, and what it costs is its commit, synced to
//! disk (`synchronous=FULL`: money is durable): 0.7 ms of the 1.3 ms each held SQLite's one
//! writer at the start of term. So settlements that arrive while one transaction is being
//! written wait for it and are written together in the next one, each in its own savepoint so
//! that one whose order moved rolls back alone — one sync for all of them, as a database's own
//! group commit does. Nobody waits for a batch to fill: a settlement that finds the writer
//! free is written at once, alone.
//!
//! One task per context writes the batches; the settlements wait for their answer. If it is
//! gone (it never should be), settlements are decided again the held way, one transaction each.

use super::settle::{Payment, apply};
use campuspay_store::orders::OrderRow;
use campuspay_store::{Store, StoreError};
use std::sync::OnceLock;
use tokio::sync::{mpsc, oneshot};

/// At most this many settlements in one transaction: past a few dozen the syncs saved no
/// longer show, while every one of them waits for the whole batch.
const MOST: usize = 32;

/// What became of a settlement handed to the settler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Applied and committed.
    Applied,
    /// The transaction was settled already (any order): nothing written.
    Conflict,
    /// Not written: the order moved since it was read, or the batch could not be written.
    /// The caller decides again, holding the order.
    Unwritten,
}

/// A settlement waiting for the settler.
pub(super) struct Pending {
    pub order: OrderRow,
    pub attempts_seen: usize,
    pub payment: Payment,
    pub reply: oneshot::Sender<Outcome>,
}

#[derive(Default)]
pub struct Settler {
    queue: OnceLock<mpsc::UnboundedSender<Pending>>,
}

impl Settler {
    /// Hands a settlement to the settler's next transaction and waits for it; `None` when the
    /// settler is gone (the caller decides again, holding the order).
    pub(super) async fn write(&self, store: &Store, order: OrderRow, attempts_seen: usize, payment: Payment) -> Option<Outcome> {
        let queue = self.queue.get_or_init(|| start(store.clone()));
        let (reply, answer) = oneshot::channel();
        queue.send(Pending { order, attempts_seen, payment, reply }).ok()?;
        answer.await.ok()
    }
}

/// The settler's task. It holds the store, not the context, so it ends when the last context
/// holding its queue is gone (or with its runtime). A settler on a thread of its own, so that
/// it never waits behind requests in the shared runtime's queue while it holds SQLite's writer,
/// was measured at 837–862 settled/s against 810: within the noise, so not worth a thread.
fn start(store: Store) -> mpsc::UnboundedSender<Pending> {
    let (queue, waiting) = mpsc::unbounded_channel();
    tokio::spawn(run(store, waiting));
    queue
}

/// Writes what is waiting, batch after batch, until no context is left to send any.
async fn run(store: Store, mut waiting: mpsc::UnboundedReceiver<Pending>) {
    while let Some(first) = waiting.recv().await {
        let mut batch = vec![first];
        while batch.len() < MOST
            && let Ok(next) = waiting.try_recv()
        {
            batch.push(next);
        }
        let written = write_batch(&store, &batch).await;
        for (p, w) in batch.into_iter().zip(written) {
            // A settlement whose caller went away (a provider hung up) is written all the same.
            let _ = p.reply.send(w);
        }
    }
}

/// One transaction for the batch; a settlement alone needs no savepoint (its transaction is
/// its savepoint). Any database error other than a settlement's own leaves the whole batch
/// unwritten: each is then decided again by its caller.
async fn write_batch(store: &Store, batch: &[Pending]) -> Vec<Outcome> {
    let none = || vec![Outcome::Unwritten; batch.len()];
    let mut tx = match store.write_tx().await {
        Ok(tx) => tx,
        Err(e) => {
            tracing::error!(error = %e, settlements = batch.len(), "a settlement batch could not begin");
            return none();
        }
    };
    let mut written = Vec::with_capacity(batch.len());
    for (i, p) in batch.iter().enumerate() {
        let savepoint = (batch.len() > 1).then(|| format!("settlement_{i}"));
        match apply(store, &mut tx, &p.order, p.attempts_seen, &p.payment, savepoint.as_deref()).await {
            Ok(()) => written.push(Outcome::Applied),
            Err(e @ (StoreError::Stale(_) | StoreError::Conflict(_))) => {
                let Some(name) = &savepoint else {
                    // Alone: dropping the transaction drops what it wrote.
                    return vec![if matches!(e, StoreError::Conflict(_)) { Outcome::Conflict } else { Outcome::Unwritten }];
                };
                if let Err(e) = store.rollback_to(&mut tx, name).await {
                    tracing::error!(error = %e, "rolling a settlement back to its savepoint");
                    return none();
                }
                written.push(if matches!(e, StoreError::Conflict(_)) { Outcome::Conflict } else { Outcome::Unwritten });
            }
            Err(e) => {
                tracing::error!(error = %e, settlements = batch.len(), "a settlement batch failed");
                return none();
            }
        }
    }
    match tx.commit().await {
        Ok(()) => written,
        Err(e) => {
            tracing::error!(error = %e, settlements = batch.len(), "a settlement batch could not commit");
            none()
        }
    }
}
