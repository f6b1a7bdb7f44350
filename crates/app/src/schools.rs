//! Schools as the busy paths read them: kept in memory for a few seconds.
//!
//! Every student request, order and settlement needs its school's policy, and a policy changes
//! a few times a term; reading and parsing it from the database on every request was one query
//! of four on the home page at the start of term. A school read here is at most [`KEPT`] old: the
//! instance that changes a policy forgets its copy at once ([`SchoolCache::forget`]), and every
//! other instance (two behind one balancer, the worker) sees the change within [`KEPT`]. What
//! must never act on an old copy — the office's own policy page, staff sign-in rules — reads
//! the store directly.

use campuspay_store::schools::School;
use campuspay_store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// How long a school read from the database is used before it is read again.
pub const KEPT: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct SchoolCache {
    by_id: RwLock<HashMap<i64, (Instant, School)>>,
    ids: RwLock<HashMap<String, i64>>,
}

impl SchoolCache {
    /// The school, from memory when read less than [`KEPT`] ago. An unknown id is not kept.
    pub async fn by_id(&self, store: &Store, id: i64) -> Result<Option<School>, StoreError> {
        if let Some(school) = self.fresh(id) {
            return Ok(Some(school));
        }
        let school = store.school_by_id(id).await?;
        if let Some(s) = &school {
            self.keep(s);
        }
        Ok(school)
    }

    /// The school by its code (the login form's), from memory when read less than [`KEPT`] ago.
    pub async fn by_code(&self, store: &Store, code: &str) -> Result<Option<School>, StoreError> {
        let id = self.ids.read().unwrap_or_else(|e| e.into_inner()).get(code).copied();
        if let Some(school) = id.and_then(|id| self.fresh(id)) {
            return Ok(Some(school));
        }
        let school = store.school_by_code(code).await?;
        if let Some(s) = &school {
            self.keep(s);
        }
        Ok(school)
    }

    /// Drops the copy of a school that this instance just changed.
    pub fn forget(&self, id: i64) {
        self.by_id.write().unwrap_or_else(|e| e.into_inner()).remove(&id);
    }

    fn fresh(&self, id: i64) -> Option<School> {
        let map = self.by_id.read().unwrap_or_else(|e| e.into_inner());
        map.get(&id).filter(|(at, _)| at.elapsed() < KEPT).map(|(_, s)| s.clone())
    }

    fn keep(&self, s: &School) {
        self.by_id.write().unwrap_or_else(|e| e.into_inner()).insert(s.id, (Instant::now(), s.clone()));
        let mut ids = self.ids.write().unwrap_or_else(|e| e.into_inner());
        if ids.get(&s.code) != Some(&s.id) {
            ids.insert(s.code.clone(), s.id);
        }
    }
}
