//! The gateway's one clock: real time plus an offset that tests move forward, so rate limits,
//! expiries and session timeouts are tested without sleeping. Rate limiting, the identity
//! store and the policy's `now` all read it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Nanoseconds added to real time.
    skew: Arc<AtomicU64>,
}

impl Clock {
    pub fn new() -> Clock {
        Clock::default()
    }

    /// Moves this clock (and every copy of it) forward.
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.skew.fetch_add(nanos, Ordering::SeqCst);
    }

    fn skew(&self) -> Duration {
        Duration::from_nanos(self.skew.load(Ordering::SeqCst))
    }

    pub fn instant(&self) -> Instant {
        Instant::now() + self.skew()
    }

    pub fn utc(&self) -> DateTime<Utc> {
        let now = Utc::now();
        chrono::Duration::from_std(self.skew())
            .ok()
            .and_then(|skew| now.checked_add_signed(skew))
            .unwrap_or(now)
    }
}

impl governor::clock::Clock for Clock {
    type Instant = Instant;
    fn now(&self) -> Instant {
        self.instant()
    }
}

impl wardgate_identity::Clock for Clock {
    fn now(&self) -> DateTime<Utc> {
        self.utc()
    }
}
