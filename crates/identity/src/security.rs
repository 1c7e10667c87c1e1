//! A practice's security settings ("Settings > Security"): sessions, sign-in throttling,
//! inactivity, and the password rules ("Set minimum length (8+ characters); require mixed
//! case, numbers, special characters").

use rusqlite::{params, OptionalExtension, Transaction};
use serde_json::json;

use crate::password::PasswordPolicy;
use crate::store::{ts, Actor, Store};
use crate::users::require_practice;
use crate::{IdentityError, Result};

/// A practice's security settings ("Settings > Security").
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields, default)]
pub struct SecuritySettings {
    /// Require a second factor at sign-in.
    pub require_mfa: bool,
    /// Sign out after this many idle minutes ("Session Timeout, e.g. 30 minutes").
    pub session_idle_minutes: u32,
    /// Sign out after this many hours whatever happens.
    pub session_max_hours: u32,
    /// Concurrent sessions per user (0: no limit).
    pub max_sessions: u32,
    /// Days without a sign-in before an account is disabled (0: never).
    pub inactivity_days: u32,
    /// Failed sign-ins (passwords and second-factor codes together) before the account is
    /// throttled ("after multiple failed attempts, account locks").
    pub lockout_after: u32,
    /// How long the first throttle lasts; each further failure doubles it (at most a day).
    /// An administrator's "Unlock Account" ends it at once.
    pub lockout_minutes: u32,
    /// The password rules of the practice's people. Someone at several practices follows the
    /// strictest of them.
    pub password: PasswordPolicy,
    /// A shorter idle timeout for some roles (role -> minutes): someone holding several gets
    /// the shortest that applies ("Session Timeout ... per role").
    pub idle_minutes_by_role: std::collections::BTreeMap<String, u32>,
    /// Which second factors count: an authenticator app (`totp`, the default), a code sent
    /// by email (`email`), or `either` ("Receives code via email or phone").
    pub second_factor: SecondFactor,
}

/// The second factors a practice accepts.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SecondFactor {
    /// An authenticator app's code (TOTP), or a recovery code.
    #[default]
    Totp,
    /// A code sent to the person's email address.
    Email,
    /// Either.
    Either,
}

impl SecondFactor {
    /// Whether codes sent by email count.
    pub fn email(self) -> bool {
        matches!(self, SecondFactor::Email | SecondFactor::Either)
    }

    /// Whether an authenticator app counts.
    pub fn totp(self) -> bool {
        matches!(self, SecondFactor::Totp | SecondFactor::Either)
    }
}

impl Default for SecuritySettings {
    fn default() -> Self {
        SecuritySettings {
            require_mfa: false,
            session_idle_minutes: 30,
            session_max_hours: 12,
            max_sessions: 3,
            inactivity_days: 90,
            lockout_after: 5,
            lockout_minutes: 15,
            password: PasswordPolicy::default(),
            idle_minutes_by_role: std::collections::BTreeMap::new(),
            second_factor: SecondFactor::Totp,
        }
    }
}

impl SecuritySettings {
    /// Everything wrong with these settings, each naming its field.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut at_least = |field: &str, value: u32, min: u32, max: u32| {
            if value < min || value > max {
                out.push(format!(
                    "{field} must be between {min} and {max} (it is {value})"
                ));
            }
        };
        at_least(
            "session_idle_minutes",
            self.session_idle_minutes,
            1,
            24 * 60,
        );
        at_least("session_max_hours", self.session_max_hours, 1, 24 * 30);
        at_least("lockout_after", self.lockout_after, 1, 10_000);
        at_least("lockout_minutes", self.lockout_minutes, 1, 24 * 60);
        at_least("max_sessions", self.max_sessions, 0, 1000);
        at_least("inactivity_days", self.inactivity_days, 0, 3650);
        let p = &self.password;
        let mut number = |field: &str, value: usize, min: usize, max: usize| {
            if value < min || value > max {
                out.push(format!(
                    "{field} must be between {min} and {max} (it is {value})"
                ));
            }
        };
        number("password.min_length", p.min_length, 8, 128);
        number("password.history", p.history, 0, 24);
        number("password.max_age_days", p.max_age_days as usize, 0, 3650);
        for (role, minutes) in &self.idle_minutes_by_role {
            if !(1..=24 * 60).contains(minutes) {
                out.push(format!(
                    "idle_minutes_by_role.{role} must be between 1 and 1440 (it is {minutes})"
                ));
            }
        }
        out
    }
}

impl Store {
    /// The password rules for someone with access to `practices`: the strictest of theirs
    /// (the defaults when there are none).
    pub(crate) fn password_rules(
        &self,
        tx: &Transaction<'_>,
        practices: &[String],
    ) -> Result<PasswordPolicy> {
        let mut rules: Option<PasswordPolicy> = None;
        for practice in practices {
            let settings = settings_of(tx, Some(practice))?;
            rules = Some(match rules {
                Some(r) => r.strictest(&settings.password),
                None => settings.password,
            });
        }
        Ok(rules.unwrap_or_default())
    }

    /// The password rules for someone given access to `practices`.
    pub fn password_rules_for(&self, practices: &[String]) -> Result<PasswordPolicy> {
        self.tx(|tx| self.password_rules(tx, practices))
    }

    /// The password rules of a user: those of the practices where they hold a role.
    pub(crate) fn password_rules_of(
        &self,
        tx: &Transaction<'_>,
        user: &str,
    ) -> Result<PasswordPolicy> {
        let mut st = tx.prepare_cached(
            "SELECT DISTINCT practice_id FROM assignments WHERE user_id = ?1 AND revoked_at IS NULL",
        )?;
        let practices: Vec<String> = st
            .query_map(params![user], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        self.password_rules(tx, &practices)
    }

    pub fn security(&self, practice: &str) -> Result<SecuritySettings> {
        self.tx(|tx| {
            require_practice(tx, practice)?;
            let raw: String = tx.query_row(
                "SELECT settings FROM practices WHERE id = ?1",
                params![practice],
                |r| r.get(0),
            )?;
            serde_json::from_str(&raw)
                .map_err(|e| IdentityError::Invalid(format!("stored settings of {practice}: {e}")))
        })
    }

    pub fn set_security(
        &self,
        actor: &Actor,
        practice: &str,
        settings: &SecuritySettings,
    ) -> Result<SecuritySettings> {
        let mut problems = settings.problems();
        if let Some(roles) = self.policy_roles() {
            for role in settings.idle_minutes_by_role.keys() {
                if !roles.contains(role) {
                    problems.push(format!(
                        "idle_minutes_by_role: {role} is not a role of the policy in force"
                    ));
                }
            }
        }
        if !problems.is_empty() {
            return Err(IdentityError::Invalid(problems.join("; ")));
        }
        self.tx(|tx| {
            require_practice(tx, practice)?;
            if !self.is_admin(tx, actor)? {
                return Err(IdentityError::Forbidden(
                    "only an administrator may change security settings".into(),
                ));
            }
            let before: String = tx.query_row(
                "SELECT settings FROM practices WHERE id = ?1",
                params![practice],
                |r| r.get(0),
            )?;
            tx.execute(
                "UPDATE practices SET settings = ?1 WHERE id = ?2",
                params![json!(settings).to_string(), practice],
            )?;
            self.record(
                actor,
                "practice:security",
                serde_json::from_str(&before).ok(),
                Some(json!({"practice": practice, "settings": settings})),
            )?;
            Ok(settings.clone())
        })
    }
}

/// How failed sign-ins are throttled (from a practice's security settings).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Throttle {
    pub after: u32,
    pub minutes: u32,
}

/// The throttle of a practice, or the defaults when none is named (or it has no settings).
pub(crate) fn throttle_of(tx: &Transaction<'_>, practice: Option<&str>) -> Result<Throttle> {
    let s = settings_of(tx, practice)?;
    Ok(Throttle {
        after: s.lockout_after,
        minutes: s.lockout_minutes,
    })
}

/// A practice's settings, or the defaults when none is named (or it has none stored).
fn settings_of(tx: &Transaction<'_>, practice: Option<&str>) -> Result<SecuritySettings> {
    let raw: Option<String> = match practice {
        Some(p) => tx
            .query_row(
                "SELECT settings FROM practices WHERE id = ?1",
                params![p],
                |r| r.get(0),
            )
            .optional()?,
        None => None,
    };
    Ok(raw
        .and_then(|r| serde_json::from_str(&r).ok())
        .unwrap_or_default())
}

/// Whether a throttle is still running.
pub(crate) fn is_throttled(locked_until: Option<&str>, now: chrono::DateTime<chrono::Utc>) -> bool {
    locked_until.is_some_and(|u| u > ts(now).as_str())
}
