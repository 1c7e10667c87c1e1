//! Practices, users and their roles: the seeds' user management.

use rusqlite::{params, OptionalExtension, Transaction};
use serde_json::json;

use crate::model::{Assignment, Location, Practice, User, UserKind, UserStatus};
use crate::security::{is_throttled, throttle_of, Throttle};
use crate::store::{ts, Actor, Store};
use crate::validate::{valid_email, valid_npi};
use crate::{password, IdentityError, Result};

/// What an administrator enters in "Add User" / "Add Provider".
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub email: String,
    pub first_name: String,
    pub middle_name: Option<String>,
    pub last_name: String,
    pub phone: Option<String>,
    pub provider: bool,
    pub npi: Option<String>,
    pub taxonomy: Option<String>,
    pub provider_type: Option<String>,
    pub specialty: Option<String>,
    pub credentials: Option<String>,
    pub license_number: Option<String>,
    /// Modules activated for a provider.
    pub modules: Vec<String>,
    /// A temporary password, changed at first sign-in.
    pub password: String,
    /// One or more roles.
    pub roles: Vec<String>,
    /// Practices the user may access; the administrator must hold each.
    pub practices: Vec<String>,
    pub location: Option<String>,
    /// The roles lapse then (RFC 3339).
    pub expires_at: Option<String>,
    /// "Allow emergency access for (Practice)": the practices (each one of `practices`) at
    /// which the user may open break-glass access.
    pub emergency_access: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub practice: Option<String>,
    pub role: Option<String>,
    pub status: Option<UserStatus>,
    /// The first letters of a first or last name, or of an email.
    pub prefix: Option<String>,
}

fn random_id(prefix: &str) -> Result<String> {
    let mut b = [0u8; 6];
    getrandom::fill(&mut b).map_err(|e| IdentityError::Invalid(e.to_string()))?;
    Ok(format!("{prefix}{}", hex::encode(b)))
}

impl Store {
    pub fn add_practice(
        &self,
        actor: &Actor,
        id: &str,
        name: &str,
        timezone: &str,
        modules: &[String],
    ) -> Result<Practice> {
        if id.is_empty() || name.trim().is_empty() {
            return Err(IdentityError::Invalid(
                "a practice needs an id and a name".into(),
            ));
        }
        if timezone.parse::<chrono_tz::Tz>().is_err() {
            return Err(IdentityError::Invalid(format!(
                "unknown time zone `{timezone}`"
            )));
        }
        let p = Practice {
            id: id.into(),
            name: name.into(),
            timezone: timezone.into(),
            modules: modules.to_vec(),
        };
        self.tx(|tx| {
            tx.execute(
                "INSERT INTO practices (id, name, timezone, modules, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![p.id, p.name, p.timezone, json!(p.modules).to_string(), self.now()],
            )
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                    IdentityError::Invalid(format!("practice `{id}` already exists"))
                }
                e => e.into(),
            })?;
            self.record(actor, "practice:create", None, Some(json!(p)))?;
            Ok(p.clone())
        })
    }

    /// "Manage Practice Information": the name and time zone; `None` keeps one.
    pub fn edit_practice(
        &self,
        actor: &Actor,
        id: &str,
        name: Option<&str>,
        timezone: Option<&str>,
    ) -> Result<Practice> {
        if name.is_some_and(|n| n.trim().is_empty()) {
            return Err(IdentityError::Invalid("a practice needs a name".into()));
        }
        if let Some(tz) = timezone {
            if tz.parse::<chrono_tz::Tz>().is_err() {
                return Err(IdentityError::Invalid(format!("unknown time zone `{tz}`")));
            }
        }
        self.change_practice(actor, id, "practice:edit", |p| {
            if let Some(n) = name {
                p.name = n.trim().to_string();
            }
            if let Some(tz) = timezone {
                p.timezone = tz.to_string();
            }
        })
    }

    /// "Subscriptions": the modules a practice subscribes to, from now on.
    pub fn set_modules(&self, actor: &Actor, id: &str, modules: &[String]) -> Result<Practice> {
        if modules.iter().any(|m| m.trim().is_empty()) {
            return Err(IdentityError::Invalid("a module needs a name".into()));
        }
        let mut modules = modules.to_vec();
        modules.sort();
        modules.dedup();
        self.change_practice(actor, id, "practice:modules", |p| p.modules = modules)
    }

    fn change_practice(
        &self,
        actor: &Actor,
        id: &str,
        action: &str,
        change: impl FnOnce(&mut Practice),
    ) -> Result<Practice> {
        self.tx(|tx| {
            let before = tx
                .query_row(
                    "SELECT id, name, timezone, modules FROM practices WHERE id = ?1",
                    params![id],
                    practice_row,
                )
                .optional()?
                .ok_or_else(|| IdentityError::NotFound {
                    what: "practice",
                    id: id.to_string(),
                })?;
            let mut after = before.clone();
            change(&mut after);
            tx.execute(
                "UPDATE practices SET name = ?2, timezone = ?3, modules = ?4 WHERE id = ?1",
                params![
                    id,
                    after.name,
                    after.timezone,
                    json!(after.modules).to_string()
                ],
            )?;
            self.record(actor, action, Some(json!(before)), Some(json!(after)))?;
            Ok(after)
        })
    }

    pub fn practices(&self) -> Result<Vec<Practice>> {
        self.tx(|tx| {
            let mut st =
                tx.prepare("SELECT id, name, timezone, modules FROM practices ORDER BY id")?;
            let rows = st.query_map([], practice_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    pub fn add_location(
        &self,
        actor: &Actor,
        id: &str,
        practice: &str,
        name: &str,
    ) -> Result<Location> {
        let l = Location {
            id: id.into(),
            practice_id: practice.into(),
            name: name.into(),
        };
        self.tx(|tx| {
            require_practice(tx, practice)?;
            tx.execute(
                "INSERT INTO locations (id, practice_id, name) VALUES (?1, ?2, ?3)",
                params![l.id, l.practice_id, l.name],
            )?;
            self.record(actor, "location:create", None, Some(json!(l)))?;
            Ok(l.clone())
        })
    }

    /// A practice's locations, by id.
    pub fn locations(&self, practice: &str) -> Result<Vec<Location>> {
        self.tx(|tx| {
            require_practice(tx, practice)?;
            let mut st = tx.prepare(
                "SELECT id, practice_id, name FROM locations WHERE practice_id = ?1 ORDER BY id",
            )?;
            let rows = st.query_map(params![practice], |r| {
                Ok(Location {
                    id: r.get(0)?,
                    practice_id: r.get(1)?,
                    name: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Renames a location of `practice`.
    pub fn rename_location(
        &self,
        actor: &Actor,
        practice: &str,
        id: &str,
        name: &str,
    ) -> Result<Location> {
        if name.trim().is_empty() {
            return Err(IdentityError::Invalid("a location needs a name".into()));
        }
        let before = self.location_of(practice, id)?;
        self.tx(|tx| {
            tx.execute(
                "UPDATE locations SET name = ?2 WHERE id = ?1",
                params![id, name.trim()],
            )?;
            let after = Location {
                name: name.trim().to_string(),
                ..before.clone()
            };
            self.record(
                actor,
                "location:edit",
                Some(json!(before)),
                Some(json!(after)),
            )?;
            Ok(after)
        })
    }

    /// Removes a location of `practice` that no live role grant names.
    pub fn remove_location(&self, actor: &Actor, practice: &str, id: &str) -> Result<()> {
        let before = self.location_of(practice, id)?;
        self.tx(|tx| {
            let used: i64 = tx.query_row(
                "SELECT COUNT(*) FROM assignments WHERE location_id = ?1 AND revoked_at IS NULL",
                params![id],
                |r| r.get(0),
            )?;
            if used > 0 {
                return Err(IdentityError::Invalid(format!(
                    "location {id} is named by {used} role grant(s); revoke them first"
                )));
            }
            tx.execute("DELETE FROM locations WHERE id = ?1", params![id])?;
            self.record(actor, "location:remove", Some(json!(before)), None)
        })
    }

    fn location_of(&self, practice: &str, id: &str) -> Result<Location> {
        self.locations(practice)?
            .into_iter()
            .find(|l| l.id == id)
            .ok_or_else(|| IdentityError::NotFound {
                what: "location",
                id: id.to_string(),
            })
    }

    /// Creates a user or provider with a temporary password, as "Add User" does.
    pub fn add_user(&self, actor: &Actor, new: NewUser) -> Result<User> {
        self.add_user_then(actor, new, |_, user| Ok(user))
    }

    /// Creates a user and, in the same transaction, does `then` with them.
    fn add_user_then<T>(
        &self,
        actor: &Actor,
        new: NewUser,
        then: impl FnOnce(&Transaction<'_>, User) -> Result<T>,
    ) -> Result<T> {
        let email = new.email.trim().to_ascii_lowercase();
        if !valid_email(&email) {
            return Err(IdentityError::Email(new.email.clone()));
        }
        if new.first_name.trim().is_empty() || new.last_name.trim().is_empty() {
            return Err(IdentityError::Invalid(
                "first and last name are required".into(),
            ));
        }
        plain_names(&[
            &new.first_name,
            &new.last_name,
            new.middle_name.as_deref().unwrap_or(""),
        ])?;
        if new.provider {
            match &new.npi {
                Some(npi) if valid_npi(npi) => {}
                Some(npi) => return Err(IdentityError::Npi(npi.clone())),
                None => {
                    return Err(IdentityError::Invalid(
                        "a provider needs an individual NPI".into(),
                    ))
                }
            }
        } else if !new.modules.is_empty() {
            return Err(IdentityError::Invalid(
                "modules are activated for providers only".into(),
            ));
        }
        if new.roles.is_empty() {
            return Err(IdentityError::Invalid("select one or more roles".into()));
        }
        if !new.modules.is_empty() {
            self.tx(|tx| subscribed(tx, &new.modules, &new.practices))?;
        }
        for role in &new.roles {
            self.check_role(role)?;
        }
        if new.practices.is_empty() {
            return Err(IdentityError::Invalid(
                "give the user access to at least one practice".into(),
            ));
        }
        if let Some(p) = new
            .emergency_access
            .iter()
            .find(|p| !new.practices.contains(p))
        {
            return Err(IdentityError::Invalid(format!(
                "emergency access can be allowed only at a practice the user is given ({p} is not)"
            )));
        }
        self.password_rules_for(&new.practices)?
            .check(&new.password)?;
        let hash = password::hash(&new.password)?;
        let now = self.now();
        self.tx(|tx| {
            let existing: Option<String> =
                tx.query_row("SELECT status FROM users WHERE email = ?1", params![email], |r| r.get(0)).optional()?;
            if existing.is_some() {
                return Err(IdentityError::DuplicateUser(email.clone()));
            }
            for p in &new.practices {
                require_practice(tx, p)?;
                self.require_access(tx, actor, p)?;
            }
            let id = random_id("u-")?;
            tx.execute(
                "INSERT INTO users (id, email, first_name, middle_name, last_name, phone, kind, npi, taxonomy, provider_type, specialty, credentials, active_modules, status, password_hash, must_change_password, password_changed_at, created_at, created_by, license_number)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 'active', ?14, 1, ?15, ?15, ?16, ?17)",
                params![
                    id,
                    email,
                    new.first_name.trim(),
                    new.middle_name,
                    new.last_name.trim(),
                    new.phone,
                    if new.provider { "provider" } else { "staff" },
                    new.npi,
                    new.taxonomy,
                    new.provider_type,
                    new.specialty,
                    new.credentials,
                    json!(new.modules).to_string(),
                    hash,
                    now,
                    actor.id,
                    new.license_number,
                ],
            )?;
            for p in &new.emergency_access {
                allow_emergency(tx, &id, p, actor, &now)?;
            }
            tx.execute("INSERT INTO password_history (user_id, hash, changed_at) VALUES (?1, ?2, ?3)", params![id, hash, now])?;
            for p in &new.practices {
                for role in &new.roles {
                    tx.execute(
                        "INSERT INTO assignments (user_id, role, practice_id, location_id, expires_at, granted_by, granted_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        params![id, role, p, new.location, new.expires_at, actor.id, now],
                    )?;
                }
            }
            let user = load_user(tx, &id)?;
            self.record(actor, "user:create", None, Some(json!(user)))?;
            then(tx, user)
        })
    }

    /// An administrator may only grant access to practices they hold themselves.
    fn require_access(&self, tx: &Transaction<'_>, actor: &Actor, practice: &str) -> Result<()> {
        if actor.is_system() {
            return Ok(());
        }
        let now = self.now();
        if actor.kind == crate::store::ActorKind::Key {
            // An integration administers the practice of its service account only.
            let holds: i64 = tx.query_row(
                "SELECT COUNT(*) FROM api_keys k JOIN service_accounts a ON a.id = k.account_id
                 WHERE k.id = ?1 AND a.practice_id = ?2 AND k.revoked_at IS NULL",
                params![actor.id, practice],
                |r| r.get(0),
            )?;
            if holds == 0 {
                return Err(IdentityError::Forbidden(format!(
                    "key {} is not for practice {practice}",
                    actor.id
                )));
            }
            return Ok(());
        }
        let holds: i64 = tx.query_row(
            "SELECT COUNT(*) FROM assignments a JOIN users u ON u.id = a.user_id
             WHERE a.user_id = ?1 AND a.practice_id = ?2 AND a.revoked_at IS NULL
               AND (a.expires_at IS NULL OR a.expires_at > ?3) AND u.status = 'active'",
            params![actor.id, practice, now],
            |r| r.get(0),
        )?;
        if holds == 0 {
            return Err(IdentityError::Forbidden(format!(
                "{} does not hold practice {practice}",
                actor.id
            )));
        }
        Ok(())
    }

    pub(crate) fn is_admin(&self, tx: &Transaction<'_>, actor: &Actor) -> Result<bool> {
        if actor.is_system() {
            return Ok(true);
        }
        let now = self.now();
        if actor.kind == crate::store::ActorKind::Key {
            let roles: Option<String> = tx
                .query_row(
                    "SELECT a.roles FROM api_keys k JOIN service_accounts a ON a.id = k.account_id WHERE k.id = ?1",
                    params![actor.id],
                    |r| r.get(0),
                )
                .optional()?;
            let roles: Vec<String> = roles
                .and_then(|r| serde_json::from_str(&r).ok())
                .unwrap_or_default();
            return Ok(roles.iter().any(|r| self.admin_roles.contains(r)));
        }
        let mut n = 0i64;
        for role in &self.admin_roles {
            n += tx.query_row(
                "SELECT COUNT(*) FROM assignments WHERE user_id = ?1 AND role = ?2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?3)",
                params![actor.id, role, now],
                |r| r.get::<_, i64>(0),
            )?;
        }
        Ok(n > 0)
    }

    pub fn user(&self, id_or_email: &str) -> Result<User> {
        self.tx(|tx| {
            let id: Option<String> = tx
                .query_row(
                    "SELECT id FROM users WHERE id = ?1 OR email = ?2",
                    params![id_or_email, id_or_email.to_ascii_lowercase()],
                    |r| r.get(0),
                )
                .optional()?;
            let id = id.ok_or_else(|| IdentityError::NotFound {
                what: "user",
                id: id_or_email.into(),
            })?;
            load_user(tx, &id)
        })
    }

    /// Users matching a filter, providers first then others, each alphabetically (as the
    /// vendor's list shows them).
    pub fn users(&self, filter: &UserFilter) -> Result<Vec<User>> {
        self.tx(|tx| {
            let mut st = tx.prepare("SELECT id FROM users ORDER BY CASE kind WHEN 'provider' THEN 0 ELSE 1 END, last_name, first_name")?;
            let ids: Vec<String> = st.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
            let mut out = Vec::new();
            for id in ids {
                let u = load_user(tx, &id)?;
                if let Some(s) = filter.status {
                    if u.status != s {
                        continue;
                    }
                }
                if let Some(p) = &filter.practice {
                    if !u.assignments.iter().any(|a| &a.practice_id == p) {
                        continue;
                    }
                }
                if let Some(r) = &filter.role {
                    if !u.assignments.iter().any(|a| &a.role == r) {
                        continue;
                    }
                }
                if let Some(prefix) = &filter.prefix {
                    let p = prefix.to_lowercase();
                    let hit = [&u.first_name, &u.last_name, &u.email].iter().any(|f| f.to_lowercase().starts_with(&p));
                    if !hit {
                        continue;
                    }
                }
                out.push(u);
            }
            Ok(out)
        })
    }

    fn set_status(
        &self,
        actor: &Actor,
        id: &str,
        action: &str,
        f: impl FnOnce(&User) -> Result<UserStatus>,
    ) -> Result<User> {
        self.tx(|tx| {
            let before = load_user(tx, id)?;
            let status = f(&before)?;
            tx.execute(
                "UPDATE users SET status = ?1, failed_attempts = CASE WHEN ?1 = 'active' THEN 0 ELSE failed_attempts END,
                 locked_until = CASE WHEN ?1 = 'active' THEN NULL ELSE locked_until END WHERE id = ?2",
                params![status.as_str(), id],
            )?;
            if status != UserStatus::Active {
                crate::sessions::end_all(tx, &self.now(), id, action)?;
            }
            let after = load_user(tx, id)?;
            self.record(actor, action, Some(json!(before)), Some(json!(after)))?;
            Ok(after)
        })
    }

    /// "Lock Web User": providers only when no module is active for them.
    pub fn lock(&self, actor: &Actor, id: &str) -> Result<User> {
        self.set_status(actor, id, "user:lock", |u| {
            if u.kind == UserKind::Provider && !u.active_modules.is_empty() {
                return Err(IdentityError::Forbidden(format!(
                    "a provider can be locked only when no modules are active ({} are)",
                    u.active_modules.join(", ")
                )));
            }
            if u.status == UserStatus::Unassigned {
                return Err(IdentityError::Invalid("the user is unassigned".into()));
            }
            Ok(UserStatus::Locked)
        })
    }

    /// "Unlock Account": ends an administrator's lock, or a throttle after failed sign-ins, at
    /// once.
    pub fn unlock(&self, actor: &Actor, id: &str) -> Result<User> {
        self.set_status(actor, id, "user:unlock", |u| match u.status {
            UserStatus::Locked => Ok(UserStatus::Active),
            UserStatus::Active if u.locked_until.is_some() => Ok(UserStatus::Active),
            s => Err(IdentityError::Invalid(format!(
                "the user is {}, not locked",
                s.as_str()
            ))),
        })
    }

    pub fn disable(&self, actor: &Actor, id: &str) -> Result<User> {
        self.set_status(actor, id, "user:disable", |u| match u.status {
            UserStatus::Unassigned => Err(IdentityError::Invalid("the user is unassigned".into())),
            _ => Ok(UserStatus::Disabled),
        })
    }

    pub fn enable(&self, actor: &Actor, id: &str) -> Result<User> {
        self.set_status(actor, id, "user:enable", |u| match u.status {
            UserStatus::Disabled => Ok(UserStatus::Active),
            s => Err(IdentityError::Invalid(format!(
                "the user is {}, not disabled",
                s.as_str()
            ))),
        })
    }

    /// "Unassign Web User": non-providers only; the email becomes `archived_<email>`, every role
    /// is revoked, history stays.
    pub fn unassign(&self, actor: &Actor, id: &str) -> Result<User> {
        self.tx(|tx| {
            let before = load_user(tx, id)?;
            if before.kind == UserKind::Provider {
                return Err(IdentityError::Forbidden(
                    "providers cannot be unassigned, to keep their transaction history; lock them instead".into(),
                ));
            }
            if before.status == UserStatus::Unassigned {
                return Err(IdentityError::Invalid("the user is already unassigned".into()));
            }
            let now = self.now();
            // "archived_<email>"; a person unassigned before (and re-hired under the same
            // email) already holds that, so the next free "archived_<n>_<email>".
            let archived = (1..)
                .map(|n| match n {
                    1 => format!("archived_{}", before.email),
                    n => format!("archived_{n}_{}", before.email),
                })
                .take(1000)
                .find(|candidate| {
                    tx.query_row(
                        "SELECT COUNT(*) FROM users WHERE email = ?1",
                        params![candidate],
                        |r| r.get::<_, i64>(0),
                    )
                    .is_ok_and(|n| n == 0)
                })
                .ok_or_else(|| IdentityError::Invalid("no free archived_ email".into()))?;
            tx.execute(
                "UPDATE users SET status = 'unassigned', email = ?2 WHERE id = ?1",
                params![id, archived],
            )?;
            tx.execute("UPDATE assignments SET revoked_at = ?1 WHERE user_id = ?2 AND revoked_at IS NULL", params![now, id])?;
            crate::sessions::end_all(tx, &now, id, "user:unassign")?;
            let after = load_user(tx, id)?;
            self.record(actor, "user:unassign", Some(json!(before)), Some(json!(after)))?;
            Ok(after)
        })
    }

    /// Permanently removes a user: only an Owner or System Admin may.
    pub fn delete(&self, actor: &Actor, id: &str) -> Result<()> {
        self.tx(|tx| {
            if !self.is_admin(tx, actor)? {
                return Err(IdentityError::Forbidden(
                    "only an Owner or System Admin may delete users".into(),
                ));
            }
            let before = load_user(tx, id)?;
            if before.id == actor.id {
                return Err(IdentityError::Forbidden(
                    "nobody may delete their own account".into(),
                ));
            }
            // Everything that refers to the user goes with them; the audit log keeps the trail.
            for table in [
                "assignments",
                "relations",
                "tokens",
                "password_history",
                "emergency_access",
                "emergency_grants",
                "recovery_codes",
                "sessions",
                "email_codes",
                "sign_in_places",
            ] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE user_id = ?1"),
                    params![id],
                )?;
            }
            tx.execute("DELETE FROM users WHERE id = ?1", params![id])?;
            self.record(actor, "user:delete", Some(json!(before)), None)?;
            Ok(())
        })
    }

    /// The roles that administer (Owner, System Admin).
    pub fn admin_roles(&self) -> &[String] {
        &self.admin_roles
    }

    /// The practices where `user` is the only active administrator: locking, disabling,
    /// unassigning or deleting them, or revoking their role there, would leave none.
    pub fn sole_admin_of(&self, user: &str) -> Result<Vec<String>> {
        let now = self.now();
        self.tx(|tx| {
            let roles = json!(self.admin_roles).to_string();
            let mut st = tx.prepare(
                "SELECT a.practice_id FROM assignments a JOIN users u ON u.id = a.user_id
                 WHERE a.user_id = ?1 AND u.status = 'active' AND a.revoked_at IS NULL
                   AND (a.expires_at IS NULL OR a.expires_at > ?3)
                   AND a.role IN (SELECT value FROM json_each(?2))
                   AND NOT EXISTS (
                     SELECT 1 FROM assignments b JOIN users v ON v.id = b.user_id
                     WHERE b.practice_id = a.practice_id AND b.user_id <> ?1
                       AND v.status = 'active' AND b.revoked_at IS NULL
                       AND (b.expires_at IS NULL OR b.expires_at > ?3)
                       AND b.role IN (SELECT value FROM json_each(?2)))
                 GROUP BY a.practice_id",
            )?;
            let found = st.query_map(params![user, roles, now], |r| r.get(0))?;
            Ok(found.collect::<rusqlite::Result<Vec<String>>>()?)
        })
    }

    /// Whether any active user holds an administering role now.
    pub fn has_active_admin(&self) -> Result<bool> {
        let now = self.now();
        self.tx(|tx| {
            let roles = json!(self.admin_roles).to_string();
            let n: i64 = tx.query_row(
                "SELECT COUNT(*) FROM assignments a JOIN users u ON u.id = a.user_id
                 WHERE u.status = 'active' AND a.revoked_at IS NULL
                   AND (a.expires_at IS NULL OR a.expires_at > ?2)
                   AND a.role IN (SELECT value FROM json_each(?1))",
                params![roles, now],
                |r| r.get(0),
            )?;
            Ok(n > 0)
        })
    }

    /// Grants a role at a practice (or location), optionally until a date.
    pub fn grant(
        &self,
        actor: &Actor,
        id: &str,
        role: &str,
        practice: &str,
        location: Option<&str>,
        expires_at: Option<&str>,
    ) -> Result<User> {
        self.check_role(role)?;
        self.tx(|tx| {
            let before = load_user(tx, id)?;
            require_practice(tx, practice)?;
            self.require_access(tx, actor, practice)?;
            tx.execute(
                "INSERT INTO assignments (user_id, role, practice_id, location_id, expires_at, granted_by, granted_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![id, role, practice, location, expires_at, actor.id, self.now()],
            )?;
            let after = load_user(tx, id)?;
            self.record(actor, "role:grant", Some(json!(before)), Some(json!(after)))?;
            Ok(after)
        })
    }

    /// Every role some user or service account holds now (not revoked, not lapsed), with how
    /// many hold it: a new policy must keep all of them.
    pub fn held_roles(&self) -> Result<Vec<(String, u64)>> {
        let now = self.now();
        self.tx(|tx| {
            let mut st = tx.prepare(
                "SELECT role, COUNT(DISTINCT holder) FROM (
                   SELECT role, 'user:' || user_id AS holder FROM assignments WHERE revoked_at IS NULL
                     AND (expires_at IS NULL OR expires_at > ?1)
                   UNION ALL
                   SELECT j.value, 'service:' || s.id FROM service_accounts s, json_each(s.roles) j
                 ) GROUP BY role ORDER BY role",
            )?;
            let rows = st
                .query_map(params![now], |r| Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as u64)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }

    /// A warning when a practice has no system administrator, or more than two (one primary
    /// and one backup are recommended).
    pub fn admin_warning(&self, practice: &str) -> Result<Option<String>> {
        let now = self.now();
        self.tx(|tx| {
            let mut count = 0i64;
            for role in &self.admin_roles {
                count += tx.query_row(
                    "SELECT COUNT(DISTINCT a.user_id) FROM assignments a JOIN users u ON u.id = a.user_id
                     WHERE a.practice_id = ?1 AND a.role = ?2 AND a.revoked_at IS NULL AND (a.expires_at IS NULL OR a.expires_at > ?3) AND u.status = 'active'",
                    params![practice, role, now],
                    |r| r.get::<_, i64>(0),
                )?;
            }
            Ok(match count {
                0 => Some(format!("practice {practice} has no system administrator")),
                1 | 2 => None,
                n => Some(format!("practice {practice} has {n} system administrators; one primary and one backup are recommended")),
            })
        })
    }

    /// Signs in with email and password, with the default throttling. See [`Store::sign_in`].
    pub fn login(&self, email: &str, password: &str) -> Result<User> {
        self.sign_in(email, password, None)
    }

    /// Signs in with email and password at a practice (whose security settings say how
    /// failures are throttled). Every answer - unknown account, locked, throttled, disabled,
    /// wrong password, right password - costs one password-hash verification, so timing does
    /// not tell them apart, and none says which it was. A failure counts toward the account's
    /// throttle; a right password clears the count only when no second factor is still to
    /// come (the factor's success does).
    pub fn sign_in(&self, email: &str, password: &str, practice: Option<&str>) -> Result<User> {
        let email = email.trim().to_ascii_lowercase();
        let now = self.clock.now();
        let result = self.tx(|tx| {
            let throttle = throttle_of(tx, practice)?;
            let row = tx
                .query_row(
                    "SELECT id, status, password_hash, locked_until, totp_enabled FROM users WHERE email = ?1",
                    params![email],
                    |r| {
                        Ok(Account {
                            id: r.get(0)?,
                            status: r.get(1)?,
                            hash: r.get(2)?,
                            locked_until: r.get(3)?,
                            factor: r.get(4)?,
                        })
                    },
                )
                .optional()?;
            let Some(Account { id, status, hash, locked_until, factor }) = row else {
                password::verify_nothing(password);
                return Ok(Err(IdentityError::BadCredentials));
            };
            let ok = match hash.as_deref() {
                Some(h) => password::verify(password, h),
                None => {
                    password::verify_nothing(password);
                    false
                }
            };
            if status == "locked" || is_throttled(locked_until.as_deref(), now) {
                return Ok(Err(IdentityError::LockedOut));
            }
            if status != "active" {
                return Ok(Err(IdentityError::BadCredentials));
            }
            if !ok {
                return Ok(Err(self.count_failure(tx, &id, &throttle, now)?));
            }
            if factor {
                tx.execute("UPDATE users SET last_active_at = ?1 WHERE id = ?2", params![ts(now), id])?;
            } else {
                tx.execute(
                    "UPDATE users SET failed_attempts = 0, locked_until = NULL, last_active_at = ?1 WHERE id = ?2",
                    params![ts(now), id],
                )?;
            }
            Ok(Ok(load_user(tx, &id)?))
        })?;
        result
    }

    /// One more failed sign-in (a password or a second-factor code): from the practice's
    /// threshold on, the account is throttled for `lockout_minutes`, doubling with each further
    /// failure (at most a day). Sessions already open stay: guessing someone's password must
    /// not sign them out. Returns the error to answer with.
    pub(crate) fn count_failure(
        &self,
        tx: &Transaction<'_>,
        id: &str,
        throttle: &Throttle,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<IdentityError> {
        let failed: i64 = tx.query_row(
            "UPDATE users SET failed_attempts = failed_attempts + 1 WHERE id = ?1 RETURNING failed_attempts",
            params![id],
            |r| r.get(0),
        )?;
        let after = i64::from(throttle.after.max(1));
        if failed < after {
            return Ok(IdentityError::BadCredentials);
        }
        let doublings = u32::try_from((failed - after).min(16)).unwrap_or(16);
        let minutes = i64::from(throttle.minutes.max(1)).saturating_mul(1i64 << doublings);
        let until = now + chrono::Duration::minutes(minutes.min(24 * 60));
        tx.execute(
            "UPDATE users SET locked_until = ?1 WHERE id = ?2",
            params![ts(until), id],
        )?;
        self.record(
            &Actor::system(),
            "user:lockout",
            None,
            Some(json!({"user": id, "failed_attempts": failed, "locked_until": ts(until)})),
        )?;
        Ok(IdentityError::LockedOut)
    }
    /// "Change Password": the old one, then a new one that meets the policy and was not used
    /// recently. Clears the must-change flag of a temporary password. The change made during
    /// sign-in (no session yet): every session of the user ends. See
    /// [`Store::change_own_password`].
    pub fn change_password(&self, id: &str, old: &str, new: &str) -> Result<()> {
        self.change_own_password(id, old, new, None, None).map(drop)
    }

    /// "Change Password" by a person at `practice` (whose security settings say how failures
    /// are throttled), in the session whose id (as [`crate::SessionInfo`] shows it) is `keep`.
    /// The old password is checked first, like a sign-in's: a throttled or locked account is
    /// refused before anything is verified, and a wrong old password counts toward the
    /// account's throttle as a failed sign-in does. Only then is the new one checked against
    /// the history and hashed. The user's other sessions (every one when `keep` is `None`) end
    /// in the same change; returns how many.
    pub fn change_own_password(
        &self,
        id: &str,
        old: &str,
        new: &str,
        practice: Option<&str>,
        keep: Option<&str>,
    ) -> Result<usize> {
        let rules = self.tx(|tx| self.password_rules_of(tx, id))?;
        rules.check(new)?;
        let history = rules.history;
        let now = self.clock.now();
        // The old password, in a change of its own so that a failure is counted (kept) even
        // though the password is not changed.
        let checked: Result<(String, Vec<String>)> = self.tx(|tx| {
            let throttle = throttle_of(tx, practice)?;
            let row: Option<(String, Option<String>, Option<String>)> = tx
                .query_row(
                    "SELECT status, password_hash, locked_until FROM users WHERE id = ?1",
                    params![id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((status, stored, locked_until)) = row else {
                return Ok(Err(IdentityError::NotFound { what: "user", id: id.into() }));
            };
            if status == "locked" || is_throttled(locked_until.as_deref(), now) {
                return Ok(Err(IdentityError::LockedOut));
            }
            if status != "active" {
                return Ok(Err(IdentityError::BadCredentials));
            }
            let Some(stored) = stored.filter(|h| password::verify(old, h)) else {
                return Ok(Err(self.count_failure(tx, id, &throttle, now)?));
            };
            let mut st = tx.prepare("SELECT hash FROM password_history WHERE user_id = ?1 ORDER BY changed_at DESC LIMIT ?2")?;
            let recent: Vec<String> = st.query_map(params![id, history as i64], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
            Ok(Ok((stored, recent)))
        })?;
        let (verified, recent) = checked?;
        if recent.iter().any(|h| password::verify(new, h)) {
            return Err(IdentityError::PasswordReused);
        }
        let hash = password::hash(new)?;
        let at = ts(now);
        self.tx(|tx| {
            // Nobody changed it meanwhile (a change running at the same time with the same old
            // password): the old password checked above is still the one in force.
            let stored: Option<String> = tx.query_row("SELECT password_hash FROM users WHERE id = ?1", params![id], |r| r.get(0))?;
            if stored.as_deref() != Some(verified.as_str()) {
                return Err(IdentityError::BadCredentials);
            }
            tx.execute(
                "UPDATE users SET password_hash = ?1, must_change_password = 0, password_changed_at = ?2 WHERE id = ?3",
                params![hash, at, id],
            )?;
            tx.execute("INSERT INTO password_history (user_id, hash, changed_at) VALUES (?1, ?2, ?3)", params![id, hash, at])?;
            // Links mailed before the change no longer set the password.
            crate::auth::spend_tokens(tx, id, &at)?;
            self.record(&Actor::user(id), "user:password-change", None, Some(json!({"user": id})))?;
            let reason = "user:password-change";
            let ended = match keep {
                Some(session) => tx.execute(
                    "UPDATE sessions SET ended_at = ?1, end_reason = ?2 WHERE user_id = ?3 AND ended_at IS NULL AND substr(hash, 1, 12) <> ?4",
                    params![at, reason, id, session.to_ascii_lowercase()],
                )?,
                None => crate::sessions::end_all(tx, &at, id, reason)?,
            };
            if ended > 0 {
                self.record(
                    &Actor::user(id),
                    "session:end-all",
                    None,
                    Some(json!({"user": id, "sessions": ended, "reason": reason, "kept": keep})),
                )?;
            }
            Ok(ended)
        })
    }
}

/// A provider's modules are among those their practices subscribe to.
fn subscribed(tx: &Transaction<'_>, modules: &[String], practices: &[String]) -> Result<()> {
    let mut offered = Vec::new();
    for p in practices {
        if let Some(found) = tx
            .query_row(
                "SELECT modules FROM practices WHERE id = ?1",
                params![p],
                |r| r.get::<_, String>(0),
            )
            .optional()?
        {
            offered.extend(serde_json::from_str::<Vec<String>>(&found).unwrap_or_default());
        }
    }
    match modules.iter().find(|m| !offered.contains(m)) {
        Some(m) => Err(IdentityError::Invalid(format!(
            "module `{m}` is not subscribed by the provider's practices ({})",
            practices.join(", ")
        ))),
        None => Ok(()),
    }
}

pub(crate) fn require_practice(tx: &Transaction<'_>, practice: &str) -> Result<()> {
    let n: i64 = tx.query_row(
        "SELECT COUNT(*) FROM practices WHERE id = ?1",
        params![practice],
        |r| r.get(0),
    )?;
    if n == 0 {
        return Err(IdentityError::NotFound {
            what: "practice",
            id: practice.into(),
        });
    }
    Ok(())
}

/// A row of `SELECT id, name, timezone, modules FROM practices`.
fn practice_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Practice> {
    let modules: String = r.get(3)?;
    Ok(Practice {
        id: r.get(0)?,
        name: r.get(1)?,
        timezone: r.get(2)?,
        modules: serde_json::from_str(&modules).unwrap_or_default(),
    })
}

/// Names are one line of at most 100 characters, without control or direction-override
/// characters (they end up in mails and pages).
fn plain_names(names: &[&str]) -> Result<()> {
    for n in names {
        let odd = |c: char| {
            c.is_control()
                || ('\u{202a}'..='\u{202e}').contains(&c)
                || ('\u{2066}'..='\u{2069}').contains(&c)
        };
        if n.chars().count() > 100 || n.chars().any(odd) {
            return Err(IdentityError::Invalid(format!(
                "a name must be one line of at most 100 characters without control characters ({:?})",
                n.chars().take(40).collect::<String>()
            )));
        }
    }
    Ok(())
}

pub(crate) fn load_user(tx: &Transaction<'_>, id: &str) -> Result<User> {
    let user = tx
        .query_row(
            "SELECT id, email, first_name, middle_name, last_name, phone, kind, npi, taxonomy, provider_type, specialty, credentials, active_modules, status, must_change_password, locked_until, license_number FROM users WHERE id = ?1",
            params![id],
            |r| {
                let modules: String = r.get(12)?;
                let kind: String = r.get(6)?;
                let status: String = r.get(13)?;
                Ok(User {
                    id: r.get(0)?,
                    email: r.get(1)?,
                    first_name: r.get(2)?,
                    middle_name: r.get(3)?,
                    last_name: r.get(4)?,
                    phone: r.get(5)?,
                    kind: if kind == "provider" { UserKind::Provider } else { UserKind::Staff },
                    npi: r.get(7)?,
                    taxonomy: r.get(8)?,
                    provider_type: r.get(9)?,
                    specialty: r.get(10)?,
                    credentials: r.get(11)?,
                    license_number: r.get(16)?,
                    active_modules: serde_json::from_str(&modules).unwrap_or_default(),
                    status: UserStatus::parse(&status),
                    must_change_password: r.get(14)?,
                    locked_until: r.get(15)?,
                    emergency_access: Vec::new(),
                    assignments: Vec::new(),
                })
            },
        )
        .optional()?
        .ok_or_else(|| IdentityError::NotFound { what: "user", id: id.into() })?;
    let mut st = tx.prepare(
        "SELECT role, practice_id, location_id, expires_at, granted_by FROM assignments WHERE user_id = ?1 AND revoked_at IS NULL ORDER BY id",
    )?;
    let assignments = st
        .query_map(params![id], |r| {
            Ok(Assignment {
                role: r.get(0)?,
                practice_id: r.get(1)?,
                location_id: r.get(2)?,
                expires_at: r.get(3)?,
                granted_by: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut st = tx.prepare(
        "SELECT practice_id FROM emergency_access WHERE user_id = ?1 ORDER BY practice_id",
    )?;
    let emergency_access = st
        .query_map(params![id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(User {
        assignments,
        emergency_access,
        ..user
    })
}

/// Allows break-glass for a user at one practice.
fn allow_emergency(
    tx: &Transaction<'_>,
    user: &str,
    practice: &str,
    actor: &Actor,
    now: &str,
) -> Result<()> {
    tx.execute(
        "INSERT OR IGNORE INTO emergency_access (user_id, practice_id, granted_by, granted_at) VALUES (?1, ?2, ?3, ?4)",
        params![user, practice, actor.id, now],
    )?;
    Ok(())
}

/// What a sign-in reads of an account.
struct Account {
    id: String,
    status: String,
    hash: Option<String>,
    locked_until: Option<String>,
    /// A confirmed second factor is still to come.
    factor: bool,
}

/// What "Edit User" may change.
#[derive(Debug, Clone, Default)]
pub struct UserEdit {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    /// "Allow emergency access for (Practice)": per practice, on or off.
    pub emergency_access: Vec<(String, bool)>,
    pub modules: Option<Vec<String>>,
    /// A provider's fields.
    pub npi: Option<String>,
    pub taxonomy: Option<String>,
    pub provider_type: Option<String>,
    pub specialty: Option<String>,
    pub credentials: Option<String>,
    pub license_number: Option<String>,
}

impl UserEdit {
    fn provider_fields(&self) -> bool {
        self.npi.is_some()
            || self.taxonomy.is_some()
            || self.provider_type.is_some()
            || self.specialty.is_some()
            || self.credentials.is_some()
            || self.license_number.is_some()
    }
}

impl Store {
    /// "Send Invite": an account with no password yet and a one-time activation token (valid
    /// `valid_for`) with which the user sets one.
    pub fn invite(
        &self,
        actor: &Actor,
        mut new: NewUser,
        valid_for: chrono::Duration,
    ) -> Result<(User, String)> {
        // A random placeholder meets any policy and is never told to anyone; the password hash
        // is removed below, so nothing can sign in before activation.
        let mut filler = [0u8; 64];
        getrandom::fill(&mut filler).map_err(|e| IdentityError::Invalid(e.to_string()))?;
        new.password = format!("Aa1!{}", hex::encode(filler));
        // One transaction: the account, its invitation and the mail carrying it, or nothing.
        let (id, token) = self.add_user_then(actor, new, |tx, user| {
            tx.execute(
                "UPDATE users SET password_hash = NULL, must_change_password = 0 WHERE id = ?1",
                params![user.id],
            )?;
            tx.execute(
                "DELETE FROM password_history WHERE user_id = ?1",
                params![user.id],
            )?;
            let token = self.issue_token_in(tx, actor, &user.id, "activation", valid_for, None)?;
            Ok((user.id, token))
        })?;
        Ok((self.user(&id)?, token))
    }

    /// "Edit User": names, email (still unique), phone, the emergency flag, a provider's modules.
    pub fn edit(&self, actor: &Actor, id: &str, edit: &UserEdit) -> Result<User> {
        plain_names(&[
            edit.first_name.as_deref().unwrap_or(""),
            edit.middle_name.as_deref().unwrap_or(""),
            edit.last_name.as_deref().unwrap_or(""),
        ])?;
        if let Some(npi) = edit.npi.as_deref().filter(|n| !valid_npi(n)) {
            return Err(IdentityError::Npi(npi.to_string()));
        }
        let email = match &edit.email {
            Some(e) => {
                let e = e.trim().to_ascii_lowercase();
                if !valid_email(&e) {
                    return Err(IdentityError::Email(e));
                }
                Some(e)
            }
            None => None,
        };
        self.tx(|tx| {
            let before = load_user(tx, id)?;
            if let Some(e) = &email {
                let taken: Option<String> =
                    tx.query_row("SELECT id FROM users WHERE email = ?1 AND id != ?2", params![e, id], |r| r.get(0)).optional()?;
                if taken.is_some() {
                    return Err(IdentityError::DuplicateUser(e.clone()));
                }
                // A link mailed to the old address must not open the account at the new one.
                if *e != before.email {
                    crate::auth::spend_tokens(tx, id, &self.now())?;
                }
            }
            if edit.modules.is_some() && before.kind != UserKind::Provider {
                return Err(IdentityError::Invalid("modules are activated for providers only".into()));
            }
            if edit.provider_fields() && before.kind != UserKind::Provider {
                return Err(IdentityError::Invalid(
                    "NPI, taxonomy, type, specialty, credentials and license number are a provider's".into(),
                ));
            }
            if let Some(modules) = &edit.modules {
                let practices: Vec<String> = before.assignments.iter().map(|a| a.practice_id.clone()).collect();
                subscribed(tx, modules, &practices)?;
            }
            tx.execute(
                "UPDATE users SET npi = COALESCE(?1, npi), taxonomy = COALESCE(?2, taxonomy), provider_type = COALESCE(?3, provider_type),
                 specialty = COALESCE(?4, specialty), credentials = COALESCE(?5, credentials), license_number = COALESCE(?6, license_number) WHERE id = ?7",
                params![edit.npi, edit.taxonomy, edit.provider_type, edit.specialty, edit.credentials, edit.license_number, id],
            )?;
            tx.execute(
                "UPDATE users SET email = COALESCE(?1, email), first_name = COALESCE(?2, first_name), middle_name = COALESCE(?3, middle_name),
                 last_name = COALESCE(?4, last_name), phone = COALESCE(?5, phone),
                 active_modules = COALESCE(?6, active_modules) WHERE id = ?7",
                params![
                    email,
                    edit.first_name,
                    edit.middle_name,
                    edit.last_name,
                    edit.phone,
                    edit.modules.as_ref().map(|m| json!(m).to_string()),
                    id
                ],
            )?;
            let now = self.now();
            for (practice, allow) in &edit.emergency_access {
                require_practice(tx, practice)?;
                self.require_access(tx, actor, practice)?;
                if *allow {
                    if !before.assignments.iter().any(|a| &a.practice_id == practice) {
                        return Err(IdentityError::Invalid(format!(
                            "emergency access can be allowed only at a practice where the user holds a role ({practice} is not one)"
                        )));
                    }
                    allow_emergency(tx, id, practice, actor, &now)?;
                } else {
                    tx.execute(
                        "DELETE FROM emergency_access WHERE user_id = ?1 AND practice_id = ?2",
                        params![id, practice],
                    )?;
                }
            }
            let after = load_user(tx, id)?;
            self.record(actor, "user:edit", Some(json!(before)), Some(json!(after)))?;
            Ok(after)
        })
    }

    /// Takes a role away at a practice (every assignment of it there), or at one of its
    /// locations only.
    pub fn revoke(
        &self,
        actor: &Actor,
        id: &str,
        role: &str,
        practice: &str,
        location: Option<&str>,
    ) -> Result<User> {
        self.tx(|tx| {
            let before = load_user(tx, id)?;
            self.require_access(tx, actor, practice)?;
            let n = match location {
                Some(l) => tx.execute(
                    "UPDATE assignments SET revoked_at = ?1 WHERE user_id = ?2 AND role = ?3 AND practice_id = ?4 AND location_id = ?5 AND revoked_at IS NULL",
                    params![self.now(), id, role, practice, l],
                )?,
                None => tx.execute(
                    "UPDATE assignments SET revoked_at = ?1 WHERE user_id = ?2 AND role = ?3 AND practice_id = ?4 AND revoked_at IS NULL",
                    params![self.now(), id, role, practice],
                )?,
            };
            if n == 0 {
                let at = location.map_or(practice.to_string(), |l| format!("{practice}/{l}"));
                return Err(IdentityError::NotFound { what: "assignment", id: format!("{role}@{at}") });
            }
            let after = load_user(tx, id)?;
            self.record(actor, "role:revoke", Some(json!(before)), Some(json!(after)))?;
            Ok(after)
        })
    }
}
