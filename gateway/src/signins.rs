//! Sign-ins in progress (between the password and a temporary password's change or a second
//! factor), kept by the digest of their cookie, and the per-address limit on attempts.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::clock::Clock;

/// Random bytes in hex; `None` when the system has no randomness to give (never guessed).
pub(crate) fn random_hex(n: usize) -> Option<String> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).ok()?;
    Some(hex::encode(b))
}

/// What a sign-in still needs.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub user: String,
    pub practice: String,
    pub next: String,
    pub change_password: bool,
    /// `Some(false)`: verify the enrolled factor; `Some(true)`: enroll one (the practice
    /// requires it).
    pub second_factor: Option<bool>,
    pub mfa: bool,
    pub expires: DateTime<Utc>,
}

type AddressLimiter = RateLimiter<
    IpAddr,
    DefaultKeyedStateStore<IpAddr>,
    Clock,
    governor::middleware::NoOpMiddleware<std::time::Instant>,
>;

/// Sign-ins in progress, and the per-address limit on attempts.
pub struct Logins {
    pending: Mutex<HashMap<String, Pending>>,
    per_address: AddressLimiter,
}

impl std::fmt::Debug for Logins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logins").finish_non_exhaustive()
    }
}

impl Logins {
    pub fn new(clock: Clock, per_minute: std::num::NonZeroU32) -> Logins {
        Logins {
            pending: Mutex::new(HashMap::new()),
            per_address: RateLimiter::dashmap_with_clock(Quota::per_minute(per_minute), clock),
        }
    }

    /// Whether one more attempt from this address is allowed now.
    pub fn attempt(&self, client: IpAddr) -> bool {
        self.per_address.check_key(&client).is_ok()
    }

    /// A sign-in in progress that has not expired.
    pub(crate) fn get(&self, id: &str, now: DateTime<Utc>) -> Option<Pending> {
        let mut map = self.pending.lock().ok()?;
        map.retain(|_, p| p.expires > now);
        map.get(id).cloned()
    }

    pub(crate) fn save(&self, id: &str, p: Pending) {
        if let Ok(mut map) = self.pending.lock() {
            map.insert(id.to_string(), p);
        }
    }

    pub(crate) fn drop(&self, id: &str) {
        if let Ok(mut map) = self.pending.lock() {
            map.remove(id);
        }
    }

    /// Drops expired sign-ins in progress and idle address buckets.
    pub fn tidy(&self, now: DateTime<Utc>) {
        if let Ok(mut map) = self.pending.lock() {
            map.retain(|_, p| p.expires > now);
        }
        self.per_address.retain_recent();
        self.per_address.shrink_to_fit();
    }
}
