//! Wall-clock time as every rule with a window sees it.

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

/// Seconds since the Unix epoch. Production reads the system clock; tests move it forward
/// with [`Clock::advance`] to reach expiries, cool-downs and pauses without sleeping.
/// Clones share one offset, so moving it moves every service that holds a copy.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset: Arc<AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> i64 {
        chrono::Utc::now().timestamp() + self.offset.load(Ordering::Relaxed)
    }

    /// [`Clock::now`] in milliseconds, for delays too short for whole seconds.
    pub fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis() + self.offset.load(Ordering::Relaxed) * 1000
    }

    /// Moves time forward by `seconds` for every holder of this clock.
    pub fn advance(&self, seconds: i64) {
        self.offset.fetch_add(seconds, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_every_clone() {
        let clock = Clock::default();
        let copy = clock.clone();
        let before = copy.now();
        clock.advance(3600);
        let after = copy.now();
        assert!(
            (3600..3602).contains(&(after - before)),
            "{before} -> {after}"
        );
    }
}
