//! The store: one SQLite file, WAL, foreign keys on, every change in an IMMEDIATE transaction
//! (so two processes never interleave a multi-step change) and recorded before it commits.

use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};

use crate::{schema, IdentityError, Result};

/// Time enters through here, so expiry and lockout are tested without sleeping.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Where changes are recorded (the audit log in production).
pub trait ChangeSink: Send + Sync {
    fn record(
        &self,
        actor: &Actor,
        action: &str,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> std::result::Result<(), String>;
}

impl ChangeSink for wardgate_audit::AuditLog {
    fn record(
        &self,
        actor: &Actor,
        action: &str,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> std::result::Result<(), String> {
        let kind = match actor.kind {
            ActorKind::System => wardgate_audit::ActorKind::System,
            ActorKind::User => wardgate_audit::ActorKind::User,
            ActorKind::Key => wardgate_audit::ActorKind::Key,
            ActorKind::Operator => wardgate_audit::ActorKind::Operator,
        };
        let mut e = wardgate_audit::Event::new(
            wardgate_audit::EventKind::Change,
            wardgate_audit::Actor::new(kind, &actor.id),
            action,
        );
        e.resource.practice = practice_of(before.as_ref(), after.as_ref());
        e.before = before;
        e.after = after;
        self.append(e, wardgate_audit::Durability::Sync)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// The one practice a change is about, if it is about exactly one: named by the change
/// (`practice`, `practice_id`), or the practices of the user it changed (their role
/// assignments before and after). A practice's administrators find it in their activity log;
/// a change about several practices is left to the host's operator.
fn practice_of(
    before: Option<&serde_json::Value>,
    after: Option<&serde_json::Value>,
) -> Option<String> {
    let mut found: Vec<&str> = Vec::new();
    for v in before.into_iter().chain(after) {
        for key in ["practice", "practice_id"] {
            if let Some(p) = v.get(key).and_then(|p| p.as_str()) {
                found.push(p);
            }
        }
        let assignments = v
            .get("assignments")
            .and_then(|a| a.as_array())
            .into_iter()
            .flatten();
        found.extend(assignments.filter_map(|a| a.get("practice_id").and_then(|p| p.as_str())));
    }
    found.sort_unstable();
    found.dedup();
    match found.as_slice() {
        [one] => Some((*one).to_string()),
        _ => None,
    }
}

/// A log shared with others (the gateway's) records changes too.
impl ChangeSink for std::sync::Arc<wardgate_audit::AuditLog> {
    fn record(
        &self,
        actor: &Actor,
        action: &str,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> std::result::Result<(), String> {
        ChangeSink::record(&**self, actor, action, before, after)
    }
}

/// What kind of party makes a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// The gateway itself, or bootstrapping (`--as system`).
    System,
    /// A person, by user id.
    User,
    /// An integration, by API key id.
    Key,
    /// Whoever runs commands on the gateway's host (`operator:<os user>`); like `system`, not
    /// held to practices, since they can open the store's files anyway.
    Operator,
}

/// Who is making a change: a user, a key, the host's operator, or the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: String,
}

impl Actor {
    pub fn system() -> Actor {
        Actor {
            kind: ActorKind::System,
            id: "system".into(),
        }
    }

    /// A user id; `system` names the system (the command line's `--as system`).
    pub fn user(id: impl Into<String>) -> Actor {
        let id = id.into();
        if id == "system" {
            return Actor::system();
        }
        Actor {
            kind: ActorKind::User,
            id,
        }
    }

    pub fn key(id: impl Into<String>) -> Actor {
        Actor {
            kind: ActorKind::Key,
            id: id.into(),
        }
    }

    /// The operator on the gateway's host, by operating-system user name.
    pub fn operator(os_user: &str) -> Actor {
        Actor {
            kind: ActorKind::Operator,
            id: format!("operator:{os_user}"),
        }
    }

    /// Not held to practices or roles: the system and the host's operator.
    pub fn is_system(&self) -> bool {
        matches!(self.kind, ActorKind::System | ActorKind::Operator)
    }
}

pub struct Store {
    conn: Mutex<Connection>,
    pub(crate) clock: Box<dyn Clock>,
    pub(crate) sink: Box<dyn ChangeSink>,
    /// Seals second-factor seeds; kept outside the database.
    pub(crate) secrets: crate::secret::SecretKey,
    /// The loaded policy's roles; role names are checked against them when set.
    pub(crate) roles: std::sync::RwLock<Option<Vec<String>>>,
    /// Roles that count as system administrators.
    pub(crate) admin_roles: Vec<String>,
    /// The gateway's hot path: keys already looked up.
    pub(crate) key_cache: Mutex<crate::cache::KeyCache>,
    pub(crate) session_cache: Mutex<crate::cache::SessionCache>,
    /// Changes recorded through this store; caches compare it (a connection's own commits do
    /// not move SQLite's `data_version`).
    changes: std::sync::atomic::AtomicU64,
    /// `data_version` as last read, and when: caches re-read it at most every
    /// [`DATA_VERSION_TTL`], so another process's commit reaches them within that.
    data_version_seen: Mutex<Option<(std::time::Instant, i64)>>,
    /// Links and codes go out by mail (see [`Store::set_mails`]).
    pub(crate) mail: std::sync::atomic::AtomicBool,
}

/// How stale the caches' view of other processes' commits may be.
pub const DATA_VERSION_TTL: std::time::Duration = std::time::Duration::from_millis(50);

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

impl Store {
    /// Opens (or creates) the database, migrating it to this build's schema, with the secret
    /// key from [`crate::SecretKey::resolve`] (the environment, or `<database>.key`).
    pub fn open(path: &Path, sink: Box<dyn ChangeSink>) -> Result<Store> {
        Store::open_with_key(path, sink, crate::SecretKey::resolve(path, None)?)
    }

    /// Opens (or creates) the database with a given secret key. The database and its WAL
    /// files are readable by their owner only; second-factor seeds stored before sealing are
    /// sealed now.
    pub fn open_with_key(
        path: &Path,
        sink: Box<dyn ChangeSink>,
        secrets: crate::secret::SecretKey,
    ) -> Result<Store> {
        let private = |p: &Path| {
            if !p.exists() {
                wardgate_audit::private::create_file(p).map(drop)
            } else {
                wardgate_audit::private::restrict(p)
            }
        };
        if path.as_os_str() != ":memory:" {
            private(path).map_err(|e| {
                IdentityError::Invalid(format!("cannot create {}: {e}", path.display()))
            })?;
            for ext in ["-wal", "-shm"] {
                let mut side = path.as_os_str().to_os_string();
                side.push(ext);
                let side = std::path::PathBuf::from(side);
                if side.exists() {
                    let _ = wardgate_audit::private::restrict(&side);
                }
            }
        }
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        schema::migrate(&mut conn)?;
        secrets.seal_plain_seeds(&mut conn)?;
        let remembered: Option<String> = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'policy_roles'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        let roles = remembered.and_then(|r| serde_json::from_str::<Vec<String>>(&r).ok());
        Ok(Store {
            conn: Mutex::new(conn),
            clock: Box::new(SystemClock),
            sink,
            secrets,
            roles: std::sync::RwLock::new(roles),
            admin_roles: vec!["System Admin".into(), "Owner".into()],
            key_cache: Mutex::new(crate::cache::KeyCache::default()),
            session_cache: Mutex::new(crate::cache::SessionCache::default()),
            changes: std::sync::atomic::AtomicU64::new(0),
            data_version_seen: Mutex::new(None),
            mail: std::sync::atomic::AtomicBool::new(false),
        })
    }

    pub fn with_clock(mut self, clock: Box<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Checks role names against a policy's roles (this store only: a policy named on the
    /// command line).
    pub fn with_roles(self, roles: Vec<String>) -> Self {
        if let Ok(mut held) = self.roles.write() {
            *held = Some(roles);
        }
        self
    }

    /// The policy in force now has `roles`: role names are checked against them from now on,
    /// here and by whoever opens the store next (the command line with no gateway running).
    pub fn policy_roles_changed(&self, roles: &[String]) -> Result<()> {
        let value = serde_json::to_string(roles)
            .map_err(|e| IdentityError::Invalid(format!("cannot store the roles: {e}")))?;
        self.tx(|tx| {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('policy_roles', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [&value],
            )?;
            Ok(())
        })?;
        if let Ok(mut held) = self.roles.write() {
            *held = Some(roles.to_vec());
        }
        Ok(())
    }

    /// The roles role names are checked against, if known.
    pub fn policy_roles(&self) -> Option<Vec<String>> {
        self.roles.read().ok().and_then(|r| r.clone())
    }

    pub fn now(&self) -> String {
        ts(self.clock.now())
    }

    pub(crate) fn changes(&self) -> u64 {
        self.changes.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// What caches compare: this store's own changes (at once) and other connections' commits
    /// (within [`DATA_VERSION_TTL`]), without a query on every lookup.
    pub(crate) fn cache_version(&self) -> Result<(i64, u64)> {
        let now = std::time::Instant::now();
        if let Ok(seen) = self.data_version_seen.lock() {
            if let Some((at, v)) = *seen {
                if now.duration_since(at) < DATA_VERSION_TTL {
                    return Ok((v, self.changes()));
                }
            }
        }
        let v = self.data_version()?;
        if let Ok(mut seen) = self.data_version_seen.lock() {
            *seen = Some((now, v));
        }
        Ok((v, self.changes()))
    }

    /// SQLite's `data_version`: changes whenever another connection (another process) commits.
    pub(crate) fn data_version(&self) -> Result<i64> {
        let conn = self
            .conn
            .lock()
            .map_err(|_| IdentityError::Invalid("the store lock is poisoned".into()))?;
        Ok(conn.query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }

    /// Runs `f` in an IMMEDIATE transaction: committed only if `f` (and its audit record)
    /// succeeded.
    pub(crate) fn tx<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| IdentityError::Invalid("the store lock is poisoned".into()))?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Records a change inside the transaction making it; a failure rolls the change back.
    pub(crate) fn record(
        &self,
        actor: &Actor,
        action: &str,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> Result<()> {
        self.changes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.sink
            .record(actor, action, before, after)
            .map_err(IdentityError::Audit)
    }

    pub(crate) fn check_role(&self, role: &str) -> Result<()> {
        match self.policy_roles() {
            Some(roles) if !roles.iter().any(|r| r == role) => Err(IdentityError::UnknownRole(
                role.to_string(),
                roles.join(", "),
            )),
            _ => Ok(()),
        }
    }
}
