//! What the imports running in this process are doing, for the office's progress bar: a
//! checked row or a written row moves a counter; the page reads it while the work goes on.
//! A running check also writes its figures to the import's row every few seconds (its
//! heartbeat), so another instance's page shows them too; a commit's figures are this
//! process's alone (it is one transaction, and on SQLite it holds the one writer).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// One running check or commit.
#[derive(Debug, Default)]
pub struct Progress {
    /// Rows checked (or written, when committing) so far.
    pub done: AtomicU64,
    /// Rows in all; 0 while the file is still being read.
    pub total: AtomicU64,
    committing: AtomicBool,
}

/// A moment's view of a [`Progress`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    pub committing: bool,
    pub done: u64,
    pub total: u64,
}

impl Snapshot {
    /// Whole percent done, for the bar (0 while the total is not known yet).
    pub fn percent(&self) -> u64 {
        (self.done * 100).checked_div(self.total).unwrap_or(0).min(100)
    }
}

/// The running imports of this process, by import id.
#[derive(Debug, Default)]
pub struct ImportTasks(Mutex<HashMap<i64, Arc<Progress>>>);

/// Keeps an import's progress listed while the work runs; dropping it (the work ended, well or
/// not) takes it off.
pub struct Running<'a> {
    tasks: &'a ImportTasks,
    id: i64,
    pub progress: Arc<Progress>,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if let Ok(mut map) = self.tasks.0.lock() {
            map.remove(&self.id);
        }
    }
}

impl ImportTasks {
    pub(super) fn start(&self, id: i64, committing: bool, total: u64) -> Running<'_> {
        let progress = Arc::new(Progress { committing: AtomicBool::new(committing), ..Progress::default() });
        progress.total.store(total, Ordering::Relaxed);
        if let Ok(mut map) = self.0.lock() {
            map.insert(id, progress.clone());
        }
        Running { tasks: self, id, progress }
    }

    /// The import's progress, if this process is working on it now.
    pub fn snapshot(&self, id: i64) -> Option<Snapshot> {
        let map = self.0.lock().ok()?;
        let p = map.get(&id)?;
        Some(Snapshot {
            committing: p.committing.load(Ordering::Relaxed),
            done: p.done.load(Ordering::Relaxed),
            total: p.total.load(Ordering::Relaxed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_import_is_listed_until_it_ends() {
        let tasks = ImportTasks::default();
        {
            let run = tasks.start(7, true, 200);
            run.progress.done.fetch_add(50, Ordering::Relaxed);
            let s = tasks.snapshot(7).unwrap();
            assert_eq!((s.committing, s.done, s.total, s.percent()), (true, 50, 200, 25));
            assert_eq!(tasks.snapshot(8), None);
        }
        assert_eq!(tasks.snapshot(7), None);
        assert_eq!(Snapshot { committing: false, done: 3, total: 0 }.percent(), 0);
    }
}
