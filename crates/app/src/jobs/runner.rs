//! Runs jobs concurrently, with a limit per queue, until told to stop.

use super::{Queue, claim, run};
use crate::Context;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

/// How many jobs of each queue one instance runs at once.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Provider calls: each may wait for its timeout, so several run side by side.
    pub provider: usize,
    /// Our own books; on SQLite they queue for the one writer anyway.
    pub local: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { provider: 8, local: 4 }
    }
}

impl Limits {
    fn of(&self, queue: Queue) -> usize {
        match queue {
            Queue::Provider => self.provider,
            Queue::Local => self.local,
        }
        .max(1)
    }
}

/// The job runner of one instance: a loop per queue claims due jobs while it has room and
/// runs each in its own task.
pub struct Runner {
    ctx: Context,
    limits: Limits,
    /// How long to wait between looks at an empty queue.
    poll: Duration,
    /// How long running jobs may take to finish after the stop; past it they are dropped
    /// mid-way and their leases run out, so another instance runs them again.
    grace: Duration,
}

impl Runner {
    pub fn new(ctx: Context) -> Runner {
        Runner { ctx, limits: Limits::default(), poll: Duration::from_millis(250), grace: Duration::from_secs(30) }
    }

    pub fn limits(mut self, limits: Limits) -> Runner {
        self.limits = limits;
        self
    }

    pub fn grace(mut self, grace: Duration) -> Runner {
        self.grace = grace;
        self
    }

    /// Runs jobs until `stop` completes; then claims no more and waits for the running ones,
    /// at most the grace period.
    pub async fn run(self, stop: impl Future<Output = ()> + Send) {
        if let Err(e) = super::schedule_reconcile(&self.ctx).await {
            tracing::error!(error = e.zh, "scheduling reconciliation");
        }
        let (stopping, stopped) = watch::channel(false);
        let mut loops = JoinSet::new();
        for queue in Queue::ALL {
            let (ctx, limit, stopped) = (self.ctx.clone(), self.limits.of(queue), stopped.clone());
            loops.spawn(queue_loop(ctx, queue, limit, self.poll, self.grace, stopped));
        }
        tracing::info!(provider = self.limits.provider, local = self.limits.local, "job runner started");
        stop.await;
        tracing::info!("job runner stopping: no new claims, waiting for running jobs");
        let _ = stopping.send(true);
        while loops.join_next().await.is_some() {}
        tracing::info!("job runner stopped");
    }

    /// Starts [`Runner::run`] in a task; the returned [`RunnerHandle`] stops it.
    pub fn spawn(self) -> RunnerHandle {
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(self.run(async move {
            let _ = stopped.wait_for(|s| *s).await;
        }));
        RunnerHandle { stop, task }
    }
}

/// A runner started by [`Runner::spawn`].
pub struct RunnerHandle {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl RunnerHandle {
    /// Stops claiming and waits for the running jobs (bounded by the grace period).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Ends at once, as a killed process would: running jobs stop mid-way, their leases hold.
    pub fn abort(&self) {
        self.task.abort();
    }
}

async fn queue_loop(ctx: Context, queue: Queue, limit: usize, poll: Duration, grace: Duration, mut stopped: watch::Receiver<bool>) {
    let room = Arc::new(Semaphore::new(limit));
    let mut running = JoinSet::new();
    loop {
        while let Some(done) = running.try_join_next() {
            if let Err(e) = done {
                tracing::error!(queue = queue.as_str(), error = %e, "a job's task panicked; its lease runs out and it is retried");
            }
        }
        // Wait for room before claiming, so a claimed job never waits for a slot.
        let permit = tokio::select! {
            biased;
            _ = stopped.wait_for(|s| *s) => break,
            p = room.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let pause = match claim(&ctx, queue).await {
            Ok(Some(claimed)) => {
                let ctx = ctx.clone();
                running.spawn(async move {
                    run::run(&ctx, claimed).await;
                    drop(permit);
                });
                continue;
            }
            Ok(None) => poll,
            Err(e) => {
                tracing::error!(queue = queue.as_str(), error = %e, "claiming a job");
                Duration::from_secs(1)
            }
        };
        drop(permit);
        tokio::select! {
            _ = stopped.wait_for(|s| *s) => break,
            _ = tokio::time::sleep(pause) => {}
        }
    }
    let waiting = running.len();
    if waiting > 0 {
        tracing::info!(queue = queue.as_str(), jobs = waiting, "waiting for running jobs");
    }
    let drained = tokio::time::timeout(grace, async { while running.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(
            queue = queue.as_str(),
            jobs = running.len(),
            "jobs still running after the grace period are dropped; their leases run out and another instance runs them"
        );
        running.abort_all();
    }
}
