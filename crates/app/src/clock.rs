//! The time the use cases see. Production reads the system clock; tests move an
//! [`OffsetClock`] forward instead of sleeping until a job is due.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Where a [`Clock`] gets its time from.
pub trait TimeSource: Send + Sync + 'static {
    /// Unix seconds.
    fn now(&self) -> i64;
}

/// Unix seconds from the operating system.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemTime;

impl TimeSource for SystemTime {
    fn now(&self) -> i64 {
        campuspay_store::db_now()
    }
}

/// The system time plus an offset that only grows: a test advances it to make a job due,
/// while everything that still reads the system clock (sessions, the simulator) keeps
/// seeing times in the past of it, never in its future.
#[derive(Debug, Clone, Default)]
pub struct OffsetClock(Arc<AtomicI64>);

impl OffsetClock {
    pub fn advance(&self, secs: i64) {
        assert!(secs >= 0, "a clock only moves forward");
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl TimeSource for OffsetClock {
    fn now(&self) -> i64 {
        campuspay_store::db_now() + self.0.load(Ordering::SeqCst)
    }
}

/// A cheap handle on a time source, held by the [`crate::Context`].
#[derive(Clone)]
pub struct Clock(Arc<dyn TimeSource>);

impl Clock {
    pub fn new(source: impl TimeSource) -> Clock {
        Clock(Arc::new(source))
    }

    /// Unix seconds now.
    pub fn now(&self) -> i64 {
        self.0.now()
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::new(SystemTime)
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offset_clock_moves_only_when_told() {
        let manual = OffsetClock::default();
        let clock = Clock::new(manual.clone());
        let before = clock.now();
        manual.advance(3600);
        assert!(clock.now() >= before + 3600 && clock.now() < before + 3700);
    }
}
