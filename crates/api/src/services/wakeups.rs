//! When a background worker (the SMS courier, the webhook worker) should look again: at
//! the retries it scheduled itself, or at its poll for work other processes left.

use std::{
    cmp::Reverse,
    collections::BinaryHeap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

/// Retry times this process scheduled and still waits for (beyond this, the poll finds
/// them).
const KNOWN_RETRIES: usize = 1024;

/// The retry times a worker scheduled, soonest first; shared by its clones.
#[derive(Clone, Default)]
pub struct Wakeups {
    due: Arc<Mutex<BinaryHeap<Reverse<i64>>>>,
}

impl Wakeups {
    /// Wake at `due_ms` (unless already this many retries are known).
    pub fn remember(&self, due_ms: i64) {
        let mut due = self.due.lock().unwrap_or_else(PoisonError::into_inner);
        if due.len() < KNOWN_RETRIES {
            due.push(Reverse(due_ms));
        }
    }

    /// How long an idle worker may sleep at `now_ms`: until its next known retry, at
    /// most `poll`.
    pub fn idle_wait(&self, now_ms: i64, poll: Duration) -> Duration {
        let mut due = self.due.lock().unwrap_or_else(PoisonError::into_inner);
        while due.peek().is_some_and(|Reverse(at)| *at <= now_ms) {
            due.pop();
        }
        match due.peek() {
            Some(Reverse(at)) => poll.min(Duration::from_millis((at - now_ms) as u64)),
            None => poll,
        }
    }
}
