//! Per-key rate limits (GCRA, `governor`): each API key gets its own bucket at its own rate,
//! or the configured default. Time comes from the gateway's [`Clock`].

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use governor::middleware::StateInformationMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

use crate::clock::Clock;

type Limiter = RateLimiter<NotKeyed, InMemoryState, Clock, StateInformationMiddleware>;

#[derive(Debug)]
pub struct RateLimits {
    clock: Clock,
    epoch: std::time::Instant,
    default: NonZeroU32,
    burst: Option<NonZeroU32>,
    buckets: RwLock<HashMap<String, Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    rate: NonZeroU32,
    limiter: Arc<Limiter>,
    /// Nanoseconds since `RateLimits::epoch` at the last use, for forgetting idle buckets.
    used: std::sync::atomic::AtomicU64,
}

/// The outcome for one request, with what the `RateLimit-*` headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    Pass {
        limit: u32,
        remaining: u32,
        /// Until the bucket is full again.
        reset: Duration,
    },
    Limited {
        limit: u32,
        retry_after: Duration,
    },
}

impl RateLimits {
    pub fn new(clock: Clock, default: NonZeroU32, burst: Option<NonZeroU32>) -> RateLimits {
        RateLimits {
            epoch: clock.instant(),
            clock,
            default,
            burst,
            buckets: RwLock::new(HashMap::new()),
        }
    }

    fn stamp(&self) -> u64 {
        u64::try_from(
            self.clock
                .instant()
                .saturating_duration_since(self.epoch)
                .as_nanos(),
        )
        .unwrap_or(u64::MAX)
    }

    fn bucket(&self, key: &str, rate: NonZeroU32) -> Arc<Limiter> {
        let now = self.stamp();
        if let Ok(map) = self.buckets.read() {
            if let Some(b) = map.get(key) {
                if b.rate == rate {
                    b.used.store(now, std::sync::atomic::Ordering::Relaxed);
                    return b.limiter.clone();
                }
            }
        }
        let quota = Quota::per_minute(rate).allow_burst(self.burst.unwrap_or(rate));
        let limiter = Arc::new(
            RateLimiter::direct_with_clock(quota, self.clock.clone())
                .with_middleware::<StateInformationMiddleware>(),
        );
        let fresh = || Bucket {
            rate,
            limiter: limiter.clone(),
            used: std::sync::atomic::AtomicU64::new(now),
        };
        match self.buckets.write() {
            Ok(mut map) => {
                let b = map.entry(key.to_string()).or_insert_with(fresh);
                if b.rate != rate {
                    *b = fresh();
                }
                b.used.store(now, std::sync::atomic::Ordering::Relaxed);
                b.limiter.clone()
            }
            Err(_) => limiter.clone(),
        }
    }

    /// Drops buckets unused for longer than `idle` (they would be full again by then anyway
    /// when `idle` is at least a minute): ended sessions and retired keys do not pile up.
    pub fn forget_idle(&self, idle: Duration) -> usize {
        let now = self.stamp();
        let limit = u64::try_from(idle.as_nanos()).unwrap_or(u64::MAX);
        let Ok(mut map) = self.buckets.write() else {
            return 0;
        };
        let before = map.len();
        map.retain(|_, b| {
            now.saturating_sub(b.used.load(std::sync::atomic::Ordering::Relaxed)) < limit
        });
        before - map.len()
    }

    pub fn len(&self) -> usize {
        self.buckets.read().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counts one request of `key` at its rate (or the default).
    pub fn check(&self, key: &str, per_minute: Option<u32>) -> Admit {
        let rate = per_minute.and_then(NonZeroU32::new).unwrap_or(self.default);
        let bucket = self.bucket(key, rate);
        let limit = self.burst.unwrap_or(rate).get();
        let per_cell = Duration::from_secs(60) / rate.get();
        match bucket.check() {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                Admit::Pass {
                    limit,
                    remaining,
                    reset: per_cell * limit.saturating_sub(remaining),
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.instant());
                Admit::Limited {
                    limit,
                    retry_after: wait,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_rate_then_waits_and_keys_do_not_share_buckets() {
        let clock = Clock::new();
        let limits = RateLimits::new(clock.clone(), NonZeroU32::new(600).unwrap(), None);
        for i in 0..3 {
            match limits.check("k1", Some(3)) {
                Admit::Pass {
                    limit, remaining, ..
                } => {
                    assert_eq!((limit, remaining), (3, 2 - i));
                }
                other => panic!("request {i}: {other:?}"),
            }
        }
        let Admit::Limited { retry_after, .. } = limits.check("k1", Some(3)) else {
            panic!("the fourth request within the minute must be limited");
        };
        assert!(retry_after > Duration::from_secs(19) && retry_after <= Duration::from_secs(20));
        assert!(matches!(limits.check("k2", Some(3)), Admit::Pass { .. }));
        clock.advance(Duration::from_secs(20));
        assert!(matches!(limits.check("k1", Some(3)), Admit::Pass { .. }));
        assert!(matches!(limits.check("k1", Some(3)), Admit::Limited { .. }));
        clock.advance(Duration::from_secs(60));
        for _ in 0..3 {
            assert!(matches!(limits.check("k1", Some(3)), Admit::Pass { .. }));
        }
        assert_eq!(limits.len(), 2);
        clock.advance(Duration::from_secs(120));
        limits.check("k2", Some(3));
        assert_eq!(
            limits.forget_idle(Duration::from_secs(60)),
            1,
            "k1 is forgotten"
        );
        assert_eq!(limits.len(), 1);
    }
}
