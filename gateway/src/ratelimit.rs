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
    default: NonZeroU32,
    burst: Option<NonZeroU32>,
    buckets: RwLock<HashMap<String, (NonZeroU32, Arc<Limiter>)>>,
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
            clock,
            default,
            burst,
            buckets: RwLock::new(HashMap::new()),
        }
    }

    fn bucket(&self, key: &str, rate: NonZeroU32) -> Arc<Limiter> {
        if let Ok(map) = self.buckets.read() {
            if let Some((r, l)) = map.get(key) {
                if *r == rate {
                    return l.clone();
                }
            }
        }
        let quota = Quota::per_minute(rate).allow_burst(self.burst.unwrap_or(rate));
        let limiter = Arc::new(
            RateLimiter::direct_with_clock(quota, self.clock.clone())
                .with_middleware::<StateInformationMiddleware>(),
        );
        match self.buckets.write() {
            Ok(mut map) => map
                .entry(key.to_string())
                .and_modify(|e| {
                    if e.0 != rate {
                        *e = (rate, limiter.clone());
                    }
                })
                .or_insert((rate, limiter))
                .1
                .clone(),
            Err(_) => limiter,
        }
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
    }
}
