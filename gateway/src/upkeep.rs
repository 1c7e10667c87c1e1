//! Background upkeep: the policy file watcher, practice refresh, key-usage and session
//! flushes, inactive accounts, audit retention.

use std::sync::Arc;
use std::time::Duration;

use crate::state::Gateway;

impl Gateway {
    /// Background upkeep: the policy file watcher, practice refresh, key-usage and session
    /// flushes. Ends when `stop` fires.
    pub async fn upkeep(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let watch = self.config().policy.watch.map(|s| s.0);
        let tick = watch
            .unwrap_or(Duration::from_secs(5))
            .min(Duration::from_secs(5));
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_flush = std::time::Instant::now();
        // Inactive accounts are looked for soon after start, then hourly.
        let mut last_expiry = std::time::Instant::now()
            .checked_sub(Duration::from_secs(3540))
            .unwrap_or_else(std::time::Instant::now);
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                _ = stop.changed() => return,
            }
            if watch.is_some() {
                let _ = self.reload_if_changed().await;
            }
            if last_flush.elapsed() >= Duration::from_secs(5) {
                last_flush = std::time::Instant::now();
                let gw = self.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    if let Err(e) = gw.refresh_practices() {
                        tracing::warn!(error = %e, "cannot refresh practices");
                    }
                    if let Err(e) = gw.store().flush_key_usage() {
                        tracing::warn!(error = %e, "cannot write key usage");
                    }
                    if let Err(e) = gw.store().flush_sessions() {
                        tracing::warn!(error = %e, "cannot write session activity");
                    }
                    // Memory that ended sessions and old attempts would otherwise keep.
                    let now = gw.clock().utc();
                    gw.logins().tidy(now);
                    gw.limits().forget_idle(Duration::from_secs(3600));
                })
                .await;
            }
            if last_expiry.elapsed() >= Duration::from_secs(3600) {
                last_expiry = std::time::Instant::now();
                let gw = self.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    gw.expire_inactive();
                    gw.apply_retention();
                    // Delivered messages are kept a month as the store's record of them.
                    if let Err(e) = gw.store().forget_messages(chrono::Duration::days(30)) {
                        tracing::warn!(error = %e, "cannot tidy the outbox");
                    }
                })
                .await;
            }
        }
    }

    /// `[audit] retain`: closed segments older than it go (after the signed note of where the
    /// kept chain begins). Also done when a segment closes; this catches a gateway that
    /// rotates rarely.
    pub fn apply_retention(&self) {
        let Some(keep) = self.config().audit.retain else {
            return;
        };
        let before = chrono::Utc::now()
            - chrono::Duration::from_std(keep.0).unwrap_or(chrono::Duration::MAX);
        match self
            .audit()
            .prune(&before.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(segments = n, "audit segments past retention deleted"),
            Err(e) => tracing::warn!(error = %e, "audit retention failed"),
        }
    }
}
