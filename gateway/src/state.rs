//! Everything a running gateway shares between requests, built once from the configuration.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use serde_json::json;
use wardgate_audit::{AuditLog, Durability, Event, EventKind};
use wardgate_host::{Host, HostConfig, NoPrevious, PolicyHandle};
use wardgate_identity::{Practice, SecuritySettings, Store};
use wardgate_policy::Engine;

use crate::clock::Clock;
use crate::config::Config;
use crate::geo::Geo;
use crate::metrics::{Metrics, ResultLabel};
use crate::proxy::Upstreams;
use crate::ratelimit::RateLimits;
use crate::swap::{self, SwapError};

/// Why the gateway cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("audit log {0}")]
    Audit(String),
    #[error("identity store {0}")]
    Store(String),
    #[error("policy {path}: {error}")]
    Policy { path: String, error: SwapError },
    #[error("geo database {0}")]
    Geo(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("upstream {0}")]
    Upstream(String),
    #[error("cannot listen on {addr}: {error}")]
    Listen { addr: String, error: String },
    #[error("the Wasm host: {0}")]
    Host(String),
    #[error("mail: {0}")]
    Mail(String),
}

#[derive(Debug)]
pub struct Gateway {
    config: Config,
    clock: Clock,
    host: Host,
    policy: PolicyHandle,
    store: Arc<Store>,
    audit: Arc<AuditLog>,
    geo: Option<Geo>,
    limits: RateLimits,
    metrics: Metrics,
    /// Upstream pools for serving on the caller's runtime (`workers = 0`); each worker
    /// thread gets its own from the server.
    upstreams: Arc<Upstreams>,
    practices: ArcSwap<HashMap<String, Practice>>,
    security: ArcSwap<HashMap<String, SecuritySettings>>,
    /// Sign-ins in progress and the per-address attempt limit.
    logins: crate::signins::Logins,
    /// One candidate at a time.
    swapping: tokio::sync::Mutex<()>,
    /// One administrative change at a time (so `If-Match` compares with what it replaces).
    changing: std::sync::Mutex<()>,
    /// The source (and its permission matrix) of the recent modules put in force from
    /// source, by hash.
    sources: crate::swap::Sources,
    /// The policy file as last loaded (modified time, length), for the watcher.
    pub(crate) policy_file: std::sync::Mutex<Option<(std::time::SystemTime, u64)>>,
    request_prefix: String,
    request_seq: AtomicU64,
    alerts: crate::alerts::Alerts,
    mailer: crate::mail::Mailer,
}

impl Gateway {
    /// Each practice's "access expires after N days of inactivity", applied (0 days: never).
    pub fn expire_inactive(&self) {
        let practices: Vec<(String, u32)> = self
            .security
            .load()
            .iter()
            .map(|(p, s)| (p.clone(), s.inactivity_days))
            .collect();
        for (practice, days) in practices.into_iter().filter(|(_, d)| *d > 0) {
            let idle = chrono::Duration::days(i64::from(days));
            match self.store.expire_inactive_at(
                &wardgate_identity::Actor::system(),
                Some(&practice),
                idle,
            ) {
                Ok(ids) if !ids.is_empty() => {
                    tracing::info!(practice, disabled = ids.len(), "inactive accounts disabled")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(practice, error = %e, "cannot expire inactive accounts"),
            }
        }
    }

    /// The text of the module in force and who may do what under it, if it came as source.
    pub fn source(&self) -> Option<Arc<crate::swap::Source>> {
        self.sources.get(&self.policy.current().module_hash)
    }

    /// Checks a candidate as a swap would (one check at a time with swaps), not putting it in.
    pub async fn preview_candidate(
        self: &Arc<Self>,
        name: String,
        bytes: Vec<u8>,
    ) -> Result<swap::Candidate, SwapError> {
        let _one = self.swapping.lock().await;
        self.check_candidate(name, bytes).await
    }

    /// Checks a candidate as a swap would (compiles, loads, passes the tests, knows every
    /// role held), without putting it in force.
    pub async fn check_candidate(
        self: &Arc<Self>,
        name: String,
        bytes: Vec<u8>,
    ) -> Result<swap::Candidate, SwapError> {
        let gw = self.clone();
        tokio::task::spawn_blocking(move || {
            let tests = gw.config.policy.tests.as_deref();
            swap::check(&gw.host, &gw.store, tests, &name, &bytes)
        })
        .await
        .map_err(|_| SwapError::Busy("the check was interrupted"))?
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The policy module in force (and the one before it).
    pub fn policy(&self) -> &PolicyHandle {
        &self.policy
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn audit(&self) -> &Arc<AuditLog> {
        &self.audit
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub(crate) fn geo(&self) -> Option<&Geo> {
        self.geo.as_ref()
    }

    pub(crate) fn limits(&self) -> &RateLimits {
        &self.limits
    }

    /// Held while an administrative change is checked and made.
    pub(crate) fn changing(&self) -> std::sync::MutexGuard<'_, ()> {
        self.changing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn logins(&self) -> &crate::signins::Logins {
        &self.logins
    }
}

pub(crate) fn file_stamp(path: &Path) -> Option<(std::time::SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

impl Gateway {
    /// Opens the audit log and the identity store, loads and checks the policy, reads the geo
    /// database and prepares the upstream clients.
    pub fn build(config: Config, clock: Clock) -> Result<Arc<Gateway>, StartError> {
        let alerts = crate::alerts::Alerts::default();
        let mailer = crate::mail::Mailer::new(&config).map_err(StartError::Mail)?;
        let (audit, report) = AuditLog::open_with_alerts(
            &config.audit.dir,
            config.audit.options(),
            crate::alerts::rules(&config.alerts),
            vec![alerts.sink()],
        )
        .map_err(|e| StartError::Audit(format!("{}: {e}", config.audit.dir.display())))?;
        if report.truncated_bytes > 0 {
            tracing::warn!(
                bytes = report.truncated_bytes,
                "the audit log had a torn last record; cut and noted"
            );
        }
        let audit = Arc::new(audit);
        let db = &config.identity.database;
        let store_err = |e| StartError::Store(format!("{}: {e}", db.display()));
        let key =
            wardgate_identity::SecretKey::resolve(db, config.identity.secret_key_file.as_deref())
                .map_err(store_err)?;
        let store = Store::open_with_key(db, Box::new(audit.clone()), key)
            .map_err(store_err)?
            .with_clock(Box::new(clock.clone()));
        store.set_mails(mailer.mails());
        let host = Host::new(HostConfig {
            deadline: config.policy.deadline.0,
            ..HostConfig::default()
        })
        .map_err(|e| StartError::Host(e.to_string()))?;
        let path = &config.policy.module;
        let policy_err = |error| StartError::Policy {
            path: path.display().to_string(),
            error,
        };
        let stamp = file_stamp(path);
        let bytes = std::fs::read(path).map_err(|e| policy_err(SwapError::Load(e.to_string())))?;
        let candidate = swap::check(
            &host,
            &store,
            config.policy.tests.as_deref(),
            &path.display().to_string(),
            &bytes,
        )
        .map_err(policy_err)?;
        let store = Arc::new(store);
        roles_in_force(&store, &candidate.module);
        let geo = match &config.geo {
            Some(g) => Some(Geo::open(g).map_err(StartError::Geo)?),
            None => None,
        };
        let upstreams = Arc::new(Upstreams::new(&config.upstreams).map_err(StartError::Upstream)?);
        let limits = RateLimits::new(
            clock.clone(),
            config.rate_limit.per_minute.0,
            config.rate_limit.burst.map(|b| b.0),
        );
        let mut prefix = [0u8; 4];
        let _ = getrandom::fill(&mut prefix);
        let logins = crate::signins::Logins::new(clock.clone(), config.sessions.login_per_minute.0);
        let gw = Gateway {
            sources: crate::swap::Sources::new(&candidate.module.module_hash, candidate.source),
            policy: PolicyHandle::new(candidate.module),
            config,
            clock,
            host,
            store,
            audit,
            geo,
            limits,
            metrics: Metrics::new(),
            upstreams,
            practices: ArcSwap::from_pointee(HashMap::new()),
            security: ArcSwap::from_pointee(HashMap::new()),
            logins,
            swapping: tokio::sync::Mutex::new(()),
            changing: std::sync::Mutex::new(()),
            policy_file: std::sync::Mutex::new(stamp),
            request_prefix: hex::encode(prefix),
            request_seq: AtomicU64::new(0),
            alerts,
            mailer,
        };
        gw.refresh_practices()
            .map_err(|e| StartError::Store(e.to_string()))?;
        let gw = Arc::new(gw);
        gw.record_swap(
            "policy:load",
            "start",
            None,
            wardgate_audit::Actor::system("start"),
        );
        Ok(gw)
    }

    /// The upstream pools for serving on the caller's runtime.
    pub fn upstreams(&self) -> Arc<Upstreams> {
        self.upstreams.clone()
    }

    /// A request id: unique within this process and unlikely to repeat across restarts.
    pub fn request_id(&self) -> String {
        let n = self.request_seq.fetch_add(1, Ordering::Relaxed);
        format!("{}-{n:x}", self.request_prefix)
    }

    /// Re-reads the practices (time zones, subscribed modules).
    pub fn refresh_practices(&self) -> Result<(), wardgate_identity::IdentityError> {
        let list = self.store.practices()?;
        let mut security = HashMap::new();
        for p in &list {
            security.insert(p.id.clone(), self.store.security(&p.id)?);
        }
        self.security.store(Arc::new(security));
        self.practices.store(Arc::new(
            list.into_iter().map(|p| (p.id.clone(), p)).collect(),
        ));
        Ok(())
    }

    /// A practice's security settings (as of the last refresh).
    pub fn security(&self, practice: &str) -> Option<SecuritySettings> {
        self.security.load().get(practice).cloned()
    }

    pub fn practice(&self, id: &str) -> Option<Practice> {
        self.practices.load().get(id).cloned()
    }

    fn record_swap(
        &self,
        action: &str,
        origin: &str,
        previous: Option<String>,
        by: wardgate_audit::Actor,
    ) {
        let current = self.policy.current();
        let mut e = Event::new(EventKind::PolicySwap, by, action);
        e.module_hash = Some(current.module_hash.clone());
        e.detail = Some(json!({"origin": origin, "previous": previous}));
        if let Err(err) = self.audit.append(e, Durability::Sync) {
            tracing::error!(%err, "cannot record a policy swap in the audit log");
        }
    }

    /// Checks a candidate and, when it passes, puts it in force. `origin` says where it came
    /// from (`admin`, `watch`, `api`), `by` who brought it.
    pub async fn swap_in(
        self: &Arc<Self>,
        name: String,
        bytes: Vec<u8>,
        origin: &'static str,
        by: wardgate_audit::Actor,
        expect: Option<&str>,
    ) -> Result<SwapReport, SwapError> {
        let _one = self.swapping.lock().await;
        if expect.is_some_and(|e| e != self.policy.current().module_hash) {
            return Err(SwapError::Stale);
        }
        let checked = self.check_candidate(name, bytes).await;
        let candidate = match checked {
            Ok(c) => c,
            Err(e) => {
                self.metrics
                    .swaps
                    .get_or_create(&ResultLabel { result: "refused" })
                    .inc();
                tracing::warn!(origin, error = %e, "policy candidate refused");
                return Err(e);
            }
        };
        let hash = candidate.module.module_hash.clone();
        let tests_passed = candidate.tests_passed;
        roles_in_force(&self.store, &candidate.module);
        if let Some(m) = &candidate.source {
            self.sources
                .remember(&candidate.module.module_hash, m.clone());
        }
        let old = self.policy.swap(candidate.module);
        self.metrics
            .swaps
            .get_or_create(&ResultLabel { result: "swapped" })
            .inc();
        self.record_swap("policy:swap", origin, Some(old.module_hash.clone()), by);
        tracing::info!(origin, module = %hash, previous = %old.module_hash, "policy swapped");
        Ok(SwapReport {
            module_hash: hash,
            previous: Some(old.module_hash.clone()),
            tests_passed,
        })
    }

    /// Puts the previous module back (one at a time with swaps, so `expect` holds).
    pub async fn rollback(&self, by: wardgate_audit::Actor) -> Result<SwapReport, NoPrevious> {
        let _one = self.swapping.lock().await;
        let back = self.policy.rollback()?;
        roles_in_force(&self.store, &back);
        self.metrics
            .swaps
            .get_or_create(&ResultLabel {
                result: "rolled_back",
            })
            .inc();
        let previous = self.policy.previous().map(|m| m.module_hash.clone());
        self.record_swap("policy:rollback", "admin", previous.clone(), by);
        Ok(SwapReport {
            module_hash: back.module_hash.clone(),
            previous,
            tests_passed: 0,
        })
    }

    /// Reloads the policy file when it changed since it was last loaded.
    pub async fn reload_if_changed(self: &Arc<Self>) -> Option<Result<SwapReport, SwapError>> {
        let path = self.config.policy.module.clone();
        let stamp = file_stamp(&path);
        {
            let mut last = self.policy_file.lock().ok()?;
            if stamp.is_none() || *last == stamp {
                return None;
            }
            *last = stamp;
        }
        let bytes = match tokio::fs::read(&path).await {
            Ok(b) => b,
            Err(e) => return Some(Err(SwapError::Load(e.to_string()))),
        };
        Some(
            self.swap_in(
                path.display().to_string(),
                bytes,
                "watch",
                wardgate_audit::Actor::system("watch"),
                None,
            )
            .await,
        )
    }
}

impl Gateway {
    /// Raises an alert: counted, logged, audited and delivered off the request path.
    pub fn alert(&self, alert: wardgate_audit::Alert) {
        self.alerts.raise(alert);
    }

    pub(crate) fn alerts(&self) -> &crate::alerts::Alerts {
        &self.alerts
    }

    /// The outbox's delivery side.
    pub fn mailer(&self) -> &crate::mail::Mailer {
        &self.mailer
    }
}

/// What a swap or rollback did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SwapReport {
    pub module_hash: String,
    pub previous: Option<String>,
    pub tests_passed: usize,
}

/// Role names are checked against the roles of the policy in force: here at once, and by the
/// command line with the gateway stopped.
fn roles_in_force(store: &Store, module: &wardgate_host::LoadedModule) {
    let roles: Vec<String> = module
        .manifest()
        .roles
        .iter()
        .map(|r| r.name.clone())
        .collect();
    if let Err(e) = store.policy_roles_changed(&roles) {
        tracing::error!(error = %e, "the policy's roles could not be stored");
    }
}
