//! `wardgate practice|location|user|key ...`: user management against the identity store.
//! Human output by default, `--json` for scripts; every change prints what it changed and is
//! recorded in the audit log.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use serde::Serialize;
use wardgate_identity::{Actor, NewKey, NewUser, Store, UserFilter, UserStatus};

#[derive(Debug, Args)]
pub struct Common {
    /// The identity database (SQLite).
    #[arg(long, global = true, default_value = "wardgate.db")]
    db: PathBuf,
    /// The audit log folder (default: `audit/` beside the database).
    #[arg(long, global = true)]
    audit: Option<PathBuf>,
    /// Check role names against this policy's roles.
    #[arg(long, global = true)]
    policy: Option<PathBuf>,
    /// Who is making the change (a user id; `system` to bootstrap).
    #[arg(long = "as", global = true, default_value = "system")]
    actor: String,
    /// Print JSON instead of words.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub enum PracticeCommand {
    /// Add a practice with its time zone and subscribed modules.
    Add {
        id: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "America/New_York")]
        timezone: String,
        #[arg(long = "module")]
        modules: Vec<String>,
    },
    /// List practices, with a warning where the number of administrators is off.
    List,
    /// Add a location to a practice.
    Location {
        practice: String,
        id: String,
        #[arg(long)]
        name: String,
    },
    /// Show or change security settings (session timeout, MFA, concurrent sessions, inactivity).
    Security {
        practice: String,
        #[arg(long)]
        require_mfa: Option<bool>,
        #[arg(long)]
        idle_minutes: Option<u32>,
        #[arg(long)]
        max_hours: Option<u32>,
        #[arg(long)]
        max_sessions: Option<u32>,
        #[arg(long)]
        inactivity_days: Option<u32>,
    },
}

#[derive(Debug, Subcommand)]
// Parsed once per run; the size of a variant does not matter.
#[allow(clippy::large_enum_variant)]
pub enum UserCommand {
    /// Add a user (or, with --npi, a provider) with a temporary password.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        first: String,
        #[arg(long)]
        last: String,
        #[arg(long)]
        phone: Option<String>,
        /// One or more roles.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// One or more practices.
        #[arg(long = "practice", required = true)]
        practices: Vec<String>,
        /// A temporary password (changed at first sign-in).
        #[arg(long)]
        password: String,
        /// Makes the user a provider.
        #[arg(long)]
        npi: Option<String>,
        #[arg(long)]
        taxonomy: Option<String>,
        /// Provider type (e.g. "Physician").
        #[arg(long)]
        provider_type: Option<String>,
        #[arg(long)]
        specialty: Option<String>,
        #[arg(long)]
        credentials: Option<String>,
        /// Modules activated for a provider.
        #[arg(long = "module")]
        modules: Vec<String>,
        /// The roles lapse then (RFC 3339).
        #[arg(long)]
        expires: Option<String>,
        /// "Allow emergency access for (Practice)": a practice given with --practice (repeat
        /// for several).
        #[arg(long = "emergency-access", value_name = "PRACTICE")]
        emergency_access: Vec<String>,
    },
    /// List users (providers first), optionally filtered.
    List {
        #[arg(long)]
        practice: Option<String>,
        #[arg(long)]
        role: Option<String>,
        #[arg(long)]
        status: Option<String>,
    },
    /// Find users by the first letters of a name or email.
    Search {
        prefix: String,
    },
    Show {
        user: String,
    },
    Lock {
        user: String,
    },
    Unlock {
        user: String,
    },
    /// Remove a non-provider from the account; the email becomes archived_<email>.
    Unassign {
        user: String,
    },
    Disable {
        user: String,
    },
    Enable {
        user: String,
    },
    /// Permanently delete (Owner or System Admin only).
    Delete {
        user: String,
    },
    /// "Send Invite": an account without a password and a one-time activation token (7 days).
    Invite {
        #[arg(long)]
        email: String,
        #[arg(long)]
        first: String,
        #[arg(long)]
        last: String,
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        #[arg(long = "practice", required = true)]
        practices: Vec<String>,
    },
    /// "Edit User": name, email, phone, the emergency flag.
    Edit {
        user: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        first: Option<String>,
        #[arg(long)]
        last: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        /// "Allow emergency access for (Practice)" (repeat for several).
        #[arg(long = "allow-emergency", value_name = "PRACTICE")]
        allow_emergency: Vec<String>,
        /// No more emergency access at this practice (repeat for several).
        #[arg(long = "deny-emergency", value_name = "PRACTICE")]
        deny_emergency: Vec<String>,
    },
    /// Take a role away at a practice.
    Revoke {
        user: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        practice: String,
    },
    /// A user's live sessions.
    Sessions {
        user: String,
    },
    /// Remote logout: end every session of a user.
    Logout {
        user: String,
    },
    /// "Reset Password": print a one-time link token (24 h).
    ResetToken {
        user: String,
    },
    /// Set a password with a reset or activation token.
    SetPassword {
        #[arg(long)]
        token: String,
        #[arg(long)]
        password: String,
    },
    /// Relate a user to a patient (`assigned` or `shared`).
    Relate {
        user: String,
        #[arg(long)]
        patient: String,
        #[arg(long, default_value = "assigned")]
        relation: String,
    },
    /// Disable accounts with no sign-in for this many days.
    ExpireInactive {
        #[arg(long, default_value_t = 90)]
        days: i64,
    },
    /// Grant a role at a practice, optionally until a date.
    Grant {
        user: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        practice: String,
        #[arg(long)]
        location: Option<String>,
        #[arg(long)]
        expires: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a service account for an integration.
    Account {
        id: String,
        #[arg(long)]
        practice: String,
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
    },
    /// Issue a key; it is shown once.
    Issue {
        #[arg(long)]
        account: String,
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// e.g. 100/min
        #[arg(long)]
        rate: Option<String>,
        /// e.g. 90d, 12h
        #[arg(long)]
        expires: Option<String>,
        #[arg(long = "network")]
        networks: Vec<String>,
    },
    List {
        #[arg(long)]
        account: Option<String>,
    },
    /// Revoke a key at once.
    Revoke { id: String },
    /// Replace a key; the old one keeps working for the overlap.
    Rotate {
        id: String,
        #[arg(long, default_value = "24h")]
        overlap: String,
    },
    /// Check a key as the gateway would.
    Verify { key: String },
}

fn duration(s: &str) -> anyhow::Result<chrono::Duration> {
    let d = wardgate_policy::duration::parse(s)?;
    // Ten years at most: longer is a mistake, and would overflow date arithmetic.
    match chrono::Duration::from_std(d) {
        Ok(d) if d > chrono::Duration::zero() && d <= chrono::Duration::days(3650) => Ok(d),
        _ => bail!("`{s}` must be more than zero and at most ten years"),
    }
}

fn rate(s: &str) -> anyhow::Result<u32> {
    let n = s.strip_suffix("/min").unwrap_or(s);
    n.parse()
        .with_context(|| format!("`{s}` is not a rate such as 100/min"))
}

fn open(c: &Common) -> anyhow::Result<Store> {
    let audit_dir = c
        .audit
        .clone()
        .unwrap_or_else(|| c.db.parent().unwrap_or(Path::new(".")).join("audit"));
    let (log, _) = wardgate_audit::AuditLog::open(&audit_dir, wardgate_audit::Options::default())
        .with_context(|| format!("cannot open the audit log {}", audit_dir.display()))?;
    let mut store = Store::open(&c.db, Box::new(log))
        .with_context(|| format!("cannot open {}", c.db.display()))?;
    if let Some(p) = &c.policy {
        let compiled = wardgate_policy::compile_file(p).map_err(|e| anyhow::anyhow!("{e}"))?;
        store = store.with_roles(
            compiled
                .policy
                .roles
                .iter()
                .map(|r| r.name.clone())
                .collect(),
        );
    }
    Ok(store)
}

fn show<T: Serialize>(
    c: &Common,
    value: &T,
    words: impl FnOnce() -> String,
) -> anyhow::Result<ExitCode> {
    if c.json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        println!("{}", words());
    }
    Ok(ExitCode::SUCCESS)
}

fn user_line(u: &wardgate_identity::User) -> String {
    let roles: Vec<String> = u
        .assignments
        .iter()
        .map(|a| format!("{}@{}", a.role, a.practice_id))
        .collect();
    format!(
        "{}  {} {} <{}>  {:?} {}  {}{}",
        u.id,
        u.first_name,
        u.last_name,
        u.email,
        u.kind,
        u.status.as_str(),
        roles.join(", "),
        if u.must_change_password {
            "  (must change password)"
        } else {
            ""
        }
    )
}

pub fn practice(c: Common, cmd: PracticeCommand) -> anyhow::Result<ExitCode> {
    let s = open(&c)?;
    let actor = Actor::user(&c.actor);
    match cmd {
        PracticeCommand::Add {
            id,
            name,
            timezone,
            modules,
        } => {
            let p = s.add_practice(&actor, &id, &name, &timezone, &modules)?;
            show(&c, &p, || {
                format!(
                    "added practice {} ({}, {}, modules: {})",
                    p.id,
                    p.name,
                    p.timezone,
                    p.modules.join(", ")
                )
            })
        }
        PracticeCommand::List => {
            let ps = s.practices()?;
            let mut lines = Vec::new();
            for p in &ps {
                let warning = s.admin_warning(&p.id)?;
                lines.push(format!(
                    "{}  {}  {}  [{}]{}",
                    p.id,
                    p.name,
                    p.timezone,
                    p.modules.join(", "),
                    warning
                        .map(|w| format!("\n  warning: {w}"))
                        .unwrap_or_default()
                ));
            }
            show(&c, &ps, || lines.join("\n"))
        }
        PracticeCommand::Location { practice, id, name } => {
            let l = s.add_location(&actor, &id, &practice, &name)?;
            show(&c, &l, || {
                format!("added location {} ({}) to {}", l.id, l.name, l.practice_id)
            })
        }
        PracticeCommand::Security {
            practice,
            require_mfa,
            idle_minutes,
            max_hours,
            max_sessions,
            inactivity_days,
        } => {
            let mut settings = s.security(&practice)?;
            let change = require_mfa.is_some()
                || idle_minutes.is_some()
                || max_hours.is_some()
                || max_sessions.is_some()
                || inactivity_days.is_some();
            if change {
                settings.require_mfa = require_mfa.unwrap_or(settings.require_mfa);
                settings.session_idle_minutes =
                    idle_minutes.unwrap_or(settings.session_idle_minutes);
                settings.session_max_hours = max_hours.unwrap_or(settings.session_max_hours);
                settings.max_sessions = max_sessions.unwrap_or(settings.max_sessions);
                settings.inactivity_days = inactivity_days.unwrap_or(settings.inactivity_days);
                settings = s.set_security(&actor, &practice, &settings)?;
            }
            show(&c, &settings, || {
                format!(
                    "{practice}: mfa {}, idle timeout {} min, session at most {} h, {} sessions per user, disable after {} idle days",
                    if settings.require_mfa { "required" } else { "optional" },
                    settings.session_idle_minutes,
                    settings.session_max_hours,
                    settings.max_sessions,
                    settings.inactivity_days
                )
            })
        }
    }
}

pub fn user(c: Common, cmd: UserCommand) -> anyhow::Result<ExitCode> {
    let s = open(&c)?;
    let actor = Actor::user(&c.actor);
    let changed = |u: wardgate_identity::User, what: &str| {
        show(&c, &u, || format!("{what}: {}", user_line(&u)))
    };
    match cmd {
        UserCommand::Add {
            email,
            first,
            last,
            phone,
            roles,
            practices,
            password,
            npi,
            taxonomy,
            provider_type,
            specialty,
            credentials,
            modules,
            expires,
            emergency_access,
        } => {
            let u = s.add_user(
                &actor,
                NewUser {
                    email,
                    first_name: first,
                    last_name: last,
                    phone,
                    provider: npi.is_some(),
                    npi,
                    taxonomy,
                    provider_type,
                    specialty,
                    credentials,
                    modules,
                    password,
                    roles,
                    practices,
                    expires_at: expires,
                    emergency_access,
                    ..NewUser::default()
                },
            )?;
            changed(u, "added")
        }
        UserCommand::List {
            practice,
            role,
            status,
        } => {
            let status = match status.as_deref() {
                None => None,
                Some("active") => Some(UserStatus::Active),
                Some("locked") => Some(UserStatus::Locked),
                Some("disabled") => Some(UserStatus::Disabled),
                Some("unassigned") => Some(UserStatus::Unassigned),
                Some(other) => {
                    bail!("unknown status `{other}` (active, locked, disabled, unassigned)")
                }
            };
            let users = s.users(&UserFilter {
                practice,
                role,
                status,
                prefix: None,
            })?;
            show(&c, &users, || {
                users.iter().map(user_line).collect::<Vec<_>>().join("\n")
            })
        }
        UserCommand::Search { prefix } => {
            let users = s.users(&UserFilter {
                prefix: Some(prefix),
                ..UserFilter::default()
            })?;
            show(&c, &users, || {
                users.iter().map(user_line).collect::<Vec<_>>().join("\n")
            })
        }
        UserCommand::Show { user } => {
            let u = s.user(&user)?;
            show(&c, &u, || user_line(&u))
        }
        UserCommand::Lock { user } => changed(s.lock(&actor, &s.user(&user)?.id)?, "locked"),
        UserCommand::Unlock { user } => changed(s.unlock(&actor, &s.user(&user)?.id)?, "unlocked"),
        UserCommand::Unassign { user } => {
            changed(s.unassign(&actor, &s.user(&user)?.id)?, "unassigned")
        }
        UserCommand::Disable { user } => {
            changed(s.disable(&actor, &s.user(&user)?.id)?, "disabled")
        }
        UserCommand::Enable { user } => changed(s.enable(&actor, &s.user(&user)?.id)?, "enabled"),
        UserCommand::Delete { user } => {
            let u = s.user(&user)?;
            s.delete(&actor, &u.id)?;
            show(&c, &u, || format!("deleted: {}", user_line(&u)))
        }
        UserCommand::Invite {
            email,
            first,
            last,
            roles,
            practices,
        } => {
            let (u, token) = s.invite(
                &actor,
                NewUser {
                    email,
                    first_name: first,
                    last_name: last,
                    roles,
                    practices,
                    ..NewUser::default()
                },
                chrono::Duration::days(7),
            )?;
            show(
                &c,
                &serde_json::json!({"user": u, "activation_token": token}),
                || {
                    format!(
                        "invited: {}\nactivation token (valid 7 days, once):\n{token}",
                        user_line(&u)
                    )
                },
            )
        }
        UserCommand::Edit {
            user,
            email,
            first,
            last,
            phone,
            allow_emergency,
            deny_emergency,
        } => {
            let id = s.user(&user)?.id;
            let emergency_access = allow_emergency
                .into_iter()
                .map(|p| (p, true))
                .chain(deny_emergency.into_iter().map(|p| (p, false)))
                .collect();
            let edit = wardgate_identity::UserEdit {
                email,
                first_name: first,
                last_name: last,
                phone,
                emergency_access,
                ..Default::default()
            };
            changed(s.edit(&actor, &id, &edit)?, "edited")
        }
        UserCommand::Revoke {
            user,
            role,
            practice,
        } => {
            let id = s.user(&user)?.id;
            changed(s.revoke(&actor, &id, &role, &practice)?, "revoked")
        }
        UserCommand::Sessions { user } => {
            let sessions = s.sessions(&s.user(&user)?.id)?;
            show(&c, &sessions, || {
                sessions
                    .iter()
                    .map(|x| {
                        format!(
                            "{}  {}  from {}  {}  since {}  last seen {}",
                            x.id,
                            x.practice_id,
                            x.client.as_deref().unwrap_or("-"),
                            x.device.as_deref().unwrap_or("-"),
                            x.created_at,
                            x.last_seen_at
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        UserCommand::Logout { user } => {
            let u = s.user(&user)?;
            let n = s.end_sessions(&actor, &u.id, "remote logout")?;
            show(&c, &serde_json::json!({"user": u.id, "ended": n}), || {
                format!("ended {n} session(s) of {}", u.email)
            })
        }
        UserCommand::ResetToken { user } => {
            let u = s.user(&user)?;
            let token = s.reset_token(&actor, &u.id, chrono::Duration::hours(24))?;
            show(
                &c,
                &serde_json::json!({"user": u.id, "token": token}),
                || format!("reset token for {} (valid 24 h, once):\n{token}", u.email),
            )
        }
        UserCommand::SetPassword { token, password } => {
            s.set_password_with_token(&token, &password)?;
            show(&c, &serde_json::json!({"password": "set"}), || {
                "password set".to_string()
            })
        }
        UserCommand::Relate {
            user,
            patient,
            relation,
        } => {
            let u = s.user(&user)?;
            s.relate(&actor, &u.id, &patient, &relation)?;
            show(
                &c,
                &serde_json::json!({"user": u.id, "patient": patient, "relation": relation}),
                || format!("{} is now {relation} to {patient}", u.email),
            )
        }
        UserCommand::ExpireInactive { days } => {
            let ids = s.expire_inactive(&actor, chrono::Duration::days(days))?;
            show(&c, &ids, || {
                format!(
                    "disabled {} inactive account(s): {}",
                    ids.len(),
                    ids.join(", ")
                )
            })
        }
        UserCommand::Grant {
            user,
            role,
            practice,
            location,
            expires,
        } => {
            let id = s.user(&user)?.id;
            changed(
                s.grant(
                    &actor,
                    &id,
                    &role,
                    &practice,
                    location.as_deref(),
                    expires.as_deref(),
                )?,
                "granted",
            )
        }
    }
}

pub fn key(c: Common, cmd: KeyCommand) -> anyhow::Result<ExitCode> {
    let s = open(&c)?;
    let actor = Actor::user(&c.actor);
    match cmd {
        KeyCommand::Account {
            id,
            practice,
            roles,
        } => {
            s.add_service_account(&actor, &id, &practice, &roles)?;
            show(
                &c,
                &serde_json::json!({"id": id, "practice": practice, "roles": roles}),
                || {
                    format!(
                        "added service account {id} at {practice} ({})",
                        roles.join(", ")
                    )
                },
            )
        }
        KeyCommand::Issue {
            account,
            scopes,
            rate: r,
            expires,
            networks,
        } => {
            let issued = s.issue_key(
                &actor,
                &NewKey {
                    account,
                    scopes,
                    networks,
                    rate_per_minute: r.as_deref().map(rate).transpose()?,
                    expires_in: expires.as_deref().map(duration).transpose()?,
                },
            )?;
            show(&c, &issued, || {
                format!(
                    "issued key {} for {} (scopes: {}; expires: {})\n{}\nThis is the only time the key is shown.",
                    issued.id,
                    issued.account,
                    issued.scopes.join(", "),
                    issued.expires_at.as_deref().unwrap_or("never"),
                    issued.key
                )
            })
        }
        KeyCommand::List { account } => {
            let keys = s.keys(account.as_deref())?;
            show(&c, &keys, || {
                keys.iter()
                    .map(|k| {
                        format!(
                            "{}  {}  [{}]  uses {}  last used {}  {}",
                            k.id,
                            k.account,
                            k.scopes.join(", "),
                            k.uses,
                            k.last_used_at.as_deref().unwrap_or("never"),
                            if k.revoked { "REVOKED" } else { "" }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        KeyCommand::Revoke { id } => {
            s.revoke_key(&actor, &id)?;
            show(&c, &serde_json::json!({"revoked": id}), || {
                format!("revoked key {id}")
            })
        }
        KeyCommand::Rotate { id, overlap } => {
            let issued = s.rotate_key(&actor, &id, duration(&overlap)?)?;
            show(&c, &issued, || {
                format!("rotated {id}: the old key works for {overlap} more\n{}\nThis is the only time the key is shown.", issued.key)
            })
        }
        KeyCommand::Verify { key } => match s.verify_key(&key) {
            Ok(info) => show(&c, &info, || {
                format!(
                    "valid: key {} of {} at {} (roles: {}; scopes: {})",
                    info.id,
                    info.account,
                    info.practice,
                    info.roles.join(", "),
                    info.scopes.join(", ")
                )
            }),
            Err(e) => {
                println!("invalid: {e}");
                Ok(ExitCode::FAILURE)
            }
        },
    }
}
