//! What keeps clients from holding connections: open connections per client address, and
//! each connection's idle watch (no request in flight for the idle timeout, tighter while none
//! of its requests carried a credential).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::ListenerOptions;
use crate::config::Net;

/// A response extension the handler sets when the request carried a credential that held: the
/// connection then gets the longer idle timeout.
#[derive(Debug, Clone, Copy)]
pub struct Credentialed;

/// Open connections per client address.
#[derive(Debug)]
pub struct AddressSlots {
    max: usize,
    /// Peers that are not limited (trusted proxies carry many clients).
    exempt: Vec<Net>,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place in [`AddressSlots`], given back when it closes.
#[derive(Debug)]
pub struct AddressSlot {
    slots: Arc<AddressSlots>,
    ip: Option<IpAddr>,
}

impl AddressSlots {
    /// `max` connections per address (0: no limit), except from `exempt` networks.
    pub fn new(max: usize, exempt: Vec<Net>) -> Arc<AddressSlots> {
        Arc::new(AddressSlots {
            max,
            exempt,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for a new connection from `ip`, or `None` when it already has the most.
    pub fn take(self: &Arc<Self>, ip: IpAddr) -> Option<AddressSlot> {
        let ip = crate::net::canonical(ip);
        if self.max == 0 || self.exempt.iter().any(|n| n.contains(ip)) {
            return Some(AddressSlot {
                slots: self.clone(),
                ip: None,
            });
        }
        let mut open = self.open.lock().ok()?;
        let n = open.entry(ip).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(AddressSlot {
            slots: self.clone(),
            ip: Some(ip),
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let Some(ip) = self.ip else { return };
        if let Ok(mut open) = self.slots.open.lock() {
            if let Some(n) = open.get_mut(&ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    open.remove(&ip);
                }
            }
        }
    }
}

/// What a connection's idle watch needs: requests in flight, when the last one ended, and
/// whether any carried a credential.
#[derive(Debug)]
pub(super) struct Activity {
    pub(super) in_flight: AtomicUsize,
    pub(super) last: Mutex<Instant>,
    pub(super) credentialed: AtomicBool,
}

impl Activity {
    fn idle_for(&self) -> Option<Duration> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        self.last.lock().ok().map(|l| l.elapsed())
    }

    fn done(&self, credentialed: bool) {
        if credentialed {
            self.credentialed.store(true, Ordering::Release);
        }
        if let Ok(mut l) = self.last.lock() {
            *l = Instant::now();
        }
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A request in flight; counted off when it ends, however it ends (an h2 stream reset drops
/// the handler's future).
pub(super) struct InFlight {
    activity: Arc<Activity>,
    pub(super) credentialed: bool,
}

impl InFlight {
    pub(super) fn new(activity: Arc<Activity>) -> InFlight {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight {
            activity,
            credentialed: false,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.activity.done(self.credentialed);
    }
}

/// Resolves when the connection has had no request in flight for its idle timeout.
pub(super) async fn idle(activity: &Activity, options: &ListenerOptions) {
    loop {
        let limit = if activity.credentialed.load(Ordering::Acquire) {
            options.idle_timeout
        } else {
            options.anonymous_idle_timeout
        };
        match activity.idle_for() {
            Some(for_) if for_ >= limit => return,
            Some(for_) => tokio::time::sleep(limit - for_).await,
            None => tokio::time::sleep(limit).await,
        }
    }
}
