//! Second ways in and out: invitations and password resets by one-time token, TOTP second
//! factors with recovery codes, time-boxed emergency access, relations to patients, password
//! and inactivity expiry.

use chrono::Duration;
use rusqlite::{params, OptionalExtension};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::store::{ts, Actor, Store};
use crate::users::load_user;
use crate::{password, IdentityError, Result};

fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| IdentityError::Invalid(e.to_string()))?;
    Ok(b)
}

fn hex(b: &[u8]) -> String {
    hex::encode(b)
}

fn sha256_hex(s: &str) -> String {
    hex(&Sha256::digest(s.as_bytes()))
}

/// RFC 6238 TOTP (HMAC-SHA1, 30 s steps, 6 digits) for a Unix time.
pub fn totp(secret: &[u8], unix: i64) -> String {
    totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 0, 30, secret.to_vec())
        .generate(u64::try_from(unix).unwrap_or(0))
}

/// Base32 without padding, as authenticator apps read keys.
fn base32(bytes: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(bytes)
}

/// The open emergency grant of a user at a practice, inside a transaction.
pub(crate) fn open_emergency_grant(
    tx: &rusqlite::Transaction<'_>,
    user: &str,
    practice: &str,
    now: &str,
) -> Result<Option<(String, String)>> {
    Ok(tx
        .query_row(
            "SELECT reason, opened_at FROM emergency_grants WHERE user_id = ?1 AND practice_id = ?2 AND closed_at IS NULL AND expires_at > ?3 ORDER BY id DESC LIMIT 1",
            params![user, practice, now],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// Spends every unspent link of `user` (their password or address changed).
pub(crate) fn spend_tokens(tx: &rusqlite::Transaction<'_>, user: &str, now: &str) -> Result<usize> {
    Ok(tx.execute(
        "UPDATE tokens SET used_at = ?1 WHERE user_id = ?2 AND used_at IS NULL",
        params![now, user],
    )?)
}

/// A new authenticator seed and its ten recovery codes.
fn new_seed() -> Result<([u8; 20], Vec<String>)> {
    let secret = random_bytes::<20>()?;
    let codes = (0..10)
        .map(|_| random_bytes::<5>().map(|b| hex(&b)))
        .collect::<Result<_>>()?;
    Ok((secret, codes))
}

/// Stores recovery codes hashed; `pending` ones wait for their seed's first code.
fn insert_codes(
    tx: &rusqlite::Transaction<'_>,
    user: &str,
    codes: &[String],
    pending: bool,
) -> Result<()> {
    for c in codes {
        tx.execute(
            "INSERT INTO recovery_codes (user_id, hash, pending) VALUES (?1, ?2, ?3)",
            params![user, sha256_hex(c), pending],
        )?;
    }
    Ok(())
}

/// What a person is shown, once, of a new seed.
fn enrollment(issuer: &str, email: &str, secret: &[u8], codes: &[String]) -> TotpEnrollment {
    let b32 = base32(secret);
    TotpEnrollment {
        uri: format!(
            "otpauth://totp/{issuer}:{email}?secret={b32}&issuer={issuer}&digits=6&period=30"
        ),
        secret: b32,
        recovery_codes: codes.to_vec(),
    }
}

/// A user's relations to a patient, inside a transaction.
pub(crate) fn relations_of(
    tx: &rusqlite::Transaction<'_>,
    user: &str,
    patient: &str,
) -> Result<Vec<String>> {
    let mut st = tx.prepare_cached(
        "SELECT relation FROM relations WHERE user_id = ?1 AND patient = ?2 ORDER BY relation",
    )?;
    let rows = st
        .query_map(params![user, patient], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// A second factor as stored.
struct Factor {
    /// The seed, when it opens with this store's key.
    secret: Option<Vec<u8>>,
    enabled: bool,
    /// The last time step whose code was accepted.
    last_step: i64,
    locked_until: Option<String>,
}

/// What a user sees when enrolling a second factor.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TotpEnrollment {
    /// Base32, for authenticator apps.
    pub secret: String,
    pub uri: String,
    /// Single-use codes for when the phone is lost; shown once.
    pub recovery_codes: Vec<String>,
}

impl Store {
    /// A one-time token for `user`, stored as its digest. When links go out by mail, the
    /// message carrying it is queued in the same transaction.
    pub(crate) fn issue_token(
        &self,
        actor: &Actor,
        user: &str,
        purpose: &str,
        valid_for: Duration,
        practice: Option<&str>,
    ) -> Result<String> {
        self.tx(|tx| self.issue_token_in(tx, actor, user, purpose, valid_for, practice))
    }

    /// [`Store::issue_token`] inside a transaction.
    pub(crate) fn issue_token_in(
        &self,
        tx: &rusqlite::Transaction<'_>,
        actor: &Actor,
        user: &str,
        purpose: &str,
        valid_for: Duration,
        practice: Option<&str>,
    ) -> Result<String> {
        let token = hex(&random_bytes::<24>()?);
        let now = self.clock.now();
        let expires = ts(now + valid_for);
        let u = load_user(tx, user)?;
        tx.execute(
            "INSERT INTO tokens (hash, user_id, purpose, expires_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![sha256_hex(&token), user, purpose, expires, ts(now)],
        )?;
        let mailed = self.mails();
        if mailed {
            let practice = practice
                .map(str::to_string)
                .or_else(|| u.assignments.first().map(|a| a.practice_id.clone()));
            self.enqueue(
                tx,
                &crate::outbox::NewMessage {
                    channel: crate::outbox::Channel::Mail,
                    recipient: u.email.clone(),
                    template: if purpose == "activation" { "invite" } else { "reset" }.into(),
                    practice,
                    payload: json!({"token": token, "first_name": u.first_name, "email": u.email, "expires_at": expires}),
                },
            )?;
        }
        self.record(
            actor,
            &format!("user:{purpose}-token"),
            None,
            Some(json!({"user": user, "expires_at": expires, "mailed": mailed})),
        )?;
        Ok(token)
    }

    /// "Reset Password": a one-time link token for the user (default 24 h).
    pub fn reset_token(&self, actor: &Actor, user: &str, valid_for: Duration) -> Result<String> {
        self.issue_token(actor, user, "reset", valid_for, None)
    }

    /// "Send Invite": a one-time activation token (default 7 days) for an existing account
    /// created without a usable password.
    pub fn activation_token(
        &self,
        actor: &Actor,
        user: &str,
        valid_for: Duration,
    ) -> Result<String> {
        self.issue_token(actor, user, "activation", valid_for, None)
    }

    /// Whether `token` is one of `purpose` that can still be spent (for showing its page).
    pub fn token_usable(&self, token: &str, purpose: &str) -> Result<bool> {
        let now = self.now();
        self.tx(|tx| {
            let n: u32 = tx.query_row(
                "SELECT COUNT(*) FROM tokens t JOIN users u ON u.id = t.user_id
                 WHERE t.hash = ?1 AND t.purpose = ?2 AND t.used_at IS NULL AND t.expires_at > ?3
                   AND u.status = 'active'",
                params![sha256_hex(token), purpose, now],
                |r| r.get(0),
            )?;
            Ok(n > 0)
        })
    }

    /// "User clicks link to set password": spends the token, sets the password.
    pub fn set_password_with_token(&self, token: &str, new: &str) -> Result<()> {
        self.spend_token(token, None, new).map(drop)
    }

    /// Spends a token of `purpose` (any, when none) and sets the password; returns the user.
    /// A reset ends the user's sessions, and an account throttled by failed sign-ins is
    /// opened again (the person proved they read the mail). A locked, disabled or unassigned
    /// account's token is refused.
    pub fn spend_token(&self, token: &str, purpose: Option<&str>, new: &str) -> Result<String> {
        // The rules are the token's user's; an unknown token is refused below, after the same
        // work as a known one.
        let (rules, recent) = self.tx(|tx| {
            let user: Option<String> = tx
                .query_row(
                    "SELECT user_id FROM tokens WHERE hash = ?1",
                    params![sha256_hex(token)],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(u) = user else {
                return Ok((crate::PasswordPolicy::default(), Vec::new()));
            };
            let rules = self.password_rules_of(tx, &u)?;
            let mut st = tx.prepare_cached(
                "SELECT hash FROM password_history WHERE user_id = ?1 ORDER BY changed_at DESC LIMIT ?2",
            )?;
            let recent = st
                .query_map(params![u, rules.history as i64], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((rules, recent))
        })?;
        rules.check(new)?;
        if recent.iter().any(|h| password::verify(new, h)) {
            return Err(IdentityError::PasswordReused);
        }
        let hash = password::hash(new)?;
        let now = self.now();
        self.tx(|tx| {
            let row: Option<(String, String, Option<String>, String, String)> = tx
                .query_row("SELECT t.user_id, t.expires_at, t.used_at, t.purpose, u.status FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = ?1", params![sha256_hex(token)], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .optional()?;
            let Some((user, expires, used, kind, status)) = row else { return Err(IdentityError::BadToken) };
            let kind: String = kind;
            let status: String = status;
            if used.is_some() || expires <= now || purpose.is_some_and(|p| p != kind) || status != "active" {
                return Err(IdentityError::BadToken);
            }
            tx.execute("UPDATE tokens SET used_at = ?1 WHERE hash = ?2", params![now, sha256_hex(token)])?;
            tx.execute(
                "UPDATE users SET password_hash = ?1, must_change_password = 0, password_changed_at = ?2, failed_attempts = 0, locked_until = NULL WHERE id = ?3",
                params![hash, now, user],
            )?;
            tx.execute("INSERT INTO password_history (user_id, hash, changed_at) VALUES (?1, ?2, ?3)", params![user, hash, now])?;
            // Every other token of the user goes with this one: a second link mailed earlier
            // must not set the password again.
            tx.execute("UPDATE tokens SET used_at = ?1 WHERE user_id = ?2 AND used_at IS NULL", params![now, user])?;
            let ended = crate::sessions::end_all(tx, &now, &user, "password reset")?;
            self.record(&Actor::user(&user), "user:password-set", None, Some(json!({"user": user, "by": kind, "sessions_ended": ended})))?;
            Ok(user)
        })
    }

    /// Starts TOTP enrollment; the factor is active once `confirm_totp` sees a valid code.
    /// A confirmed factor is never replaced here (a sign-in begun before it was set up must not
    /// swap it for another); resetting a lost factor is an administrator's act.
    pub fn enroll_totp(&self, user: &str, issuer: &str) -> Result<TotpEnrollment> {
        let (secret, codes) = new_seed()?;
        self.tx(|tx| {
            let u = load_user(tx, user)?;
            let confirmed: bool = tx.query_row(
                "SELECT totp_enabled FROM users WHERE id = ?1",
                params![user],
                |r| r.get(0),
            )?;
            if confirmed {
                return Err(IdentityError::Forbidden(format!(
                    "{} has a second factor already",
                    u.email
                )));
            }
            tx.execute(
                "UPDATE users SET totp_secret = ?1, totp_pending = NULL, totp_enabled = 0, totp_last_step = 0 WHERE id = ?2",
                params![self.secrets.seal(user, &secret)?, user],
            )?;
            tx.execute(
                "DELETE FROM recovery_codes WHERE user_id = ?1",
                params![user],
            )?;
            insert_codes(tx, user, &codes, false)?;
            Ok(enrollment(issuer, &u.email, &secret, &codes))
        })
    }

    fn totp_secret(&self, user: &str) -> Result<Option<(Vec<u8>, bool)>> {
        self.tx(|tx| {
            Ok(self
                .factor(tx, user)?
                .and_then(|f| Some((f.secret?, f.enabled))))
        })
    }

    /// The user's second factor as stored, the seed unsealed.
    fn factor(&self, tx: &rusqlite::Transaction<'_>, user: &str) -> Result<Option<Factor>> {
        let row: Option<(Option<String>, bool, i64, Option<String>)> = tx
            .query_row(
                "SELECT totp_secret, totp_enabled, totp_last_step, locked_until FROM users WHERE id = ?1",
                params![user],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        Ok(
            row.map(|(sealed, enabled, last_step, locked_until)| Factor {
                secret: sealed.and_then(|s| self.secrets.open(user, &s)),
                enabled,
                last_step,
                locked_until,
            }),
        )
    }

    /// The time step whose code `code` is (one step either side for clock drift), if it is
    /// later than `after`: a code is good once.
    fn fresh_step(&self, secret: &[u8], code: &str, after: i64) -> Option<i64> {
        let now = self.clock.now().timestamp().max(0) / 30;
        let code = code.trim();
        [now - 1, now, now + 1]
            .into_iter()
            .filter(|step| *step > after)
            .find(|step| totp(secret, step * 30) == code)
    }

    /// Starts replacing a confirmed factor (a new phone): a new seed and recovery codes wait
    /// beside the old ones, which keep working until the new one's first code confirms it
    /// (`confirm_totp`). The caller has checked the person (password and a current code).
    pub fn begin_replace_totp(&self, user: &str, issuer: &str) -> Result<TotpEnrollment> {
        let (secret, codes) = new_seed()?;
        self.tx(|tx| {
            let u = load_user(tx, user)?;
            let enabled: bool = tx.query_row(
                "SELECT totp_enabled FROM users WHERE id = ?1",
                params![user],
                |r| r.get(0),
            )?;
            if !enabled {
                return Err(IdentityError::Invalid(format!(
                    "{} has no second factor to replace",
                    u.email
                )));
            }
            tx.execute(
                "UPDATE users SET totp_pending = ?1 WHERE id = ?2",
                params![self.secrets.seal(user, &secret)?, user],
            )?;
            tx.execute(
                "DELETE FROM recovery_codes WHERE user_id = ?1 AND pending = 1",
                params![user],
            )?;
            insert_codes(tx, user, &codes, true)?;
            Ok(enrollment(issuer, &u.email, &secret, &codes))
        })
    }

    /// The first code of a replacement factor: it takes the old one's place, with its
    /// recovery codes. `None` when no replacement is waiting.
    fn confirm_replacement(
        &self,
        tx: &rusqlite::Transaction<'_>,
        user: &str,
        code: &str,
    ) -> Result<Option<()>> {
        let pending: Option<String> = tx.query_row(
            "SELECT totp_pending FROM users WHERE id = ?1",
            params![user],
            |r| r.get(0),
        )?;
        let Some(sealed) = pending else {
            return Ok(None);
        };
        let secret = self
            .secrets
            .open(user, &sealed)
            .ok_or(IdentityError::BadToken)?;
        let Some(step) = self.fresh_step(&secret, code, 0) else {
            return Err(IdentityError::BadCredentials);
        };
        tx.execute(
            "UPDATE users SET totp_secret = totp_pending, totp_pending = NULL, totp_enabled = 1, totp_last_step = ?1 WHERE id = ?2",
            params![step, user],
        )?;
        tx.execute(
            "DELETE FROM recovery_codes WHERE user_id = ?1 AND pending = 0",
            params![user],
        )?;
        tx.execute(
            "UPDATE recovery_codes SET pending = 0 WHERE user_id = ?1",
            params![user],
        )?;
        self.record(
            &Actor::user(user),
            "user:mfa-replace",
            None,
            Some(json!({"user": user})),
        )?;
        Ok(Some(()))
    }

    /// Confirms enrollment with a first code (which is then spent), or a replacement waiting.
    pub fn confirm_totp(&self, user: &str, code: &str) -> Result<()> {
        self.tx(|tx| {
            if self.confirm_replacement(tx, user, code)?.is_some() {
                return Ok(());
            }
            let f = self.factor(tx, user)?.ok_or(IdentityError::BadToken)?;
            let secret = f.secret.ok_or(IdentityError::BadToken)?;
            let Some(step) = self.fresh_step(&secret, code, f.last_step) else {
                return Err(IdentityError::BadCredentials);
            };
            tx.execute(
                "UPDATE users SET totp_enabled = 1, totp_last_step = ?1 WHERE id = ?2",
                params![step, user],
            )?;
            self.record(
                &Actor::user(user),
                "user:mfa-enroll",
                None,
                Some(json!({"user": user})),
            )
        })
    }

    /// Checks a second factor: a TOTP code not used before, or an unused recovery code (spent).
    /// A wrong code counts toward the account's failed sign-ins (throttled as the practice's
    /// settings say); while throttled even a right code is refused.
    pub fn verify_second_factor(
        &self,
        user: &str,
        code: &str,
        practice: Option<&str>,
    ) -> Result<()> {
        let now = self.clock.now();
        let outcome = self.tx(|tx| {
            let throttle = crate::security::throttle_of(tx, practice)?;
            let f = self.factor(tx, user)?.ok_or_else(|| IdentityError::NotFound { what: "user", id: user.into() })?;
            if crate::security::is_throttled(f.locked_until.as_deref(), now) {
                return Ok(Err(IdentityError::LockedOut));
            }
            let step = match (&f.secret, f.enabled) {
                (Some(secret), true) => self.fresh_step(secret, code, f.last_step),
                _ => None,
            };
            if let Some(step) = step {
                tx.execute(
                    "UPDATE users SET totp_last_step = ?1, failed_attempts = 0, locked_until = NULL WHERE id = ?2",
                    params![step, user],
                )?;
                return Ok(Ok(()));
            }
            let spent = tx.execute(
                "UPDATE recovery_codes SET used_at = ?1 WHERE rowid = (SELECT rowid FROM recovery_codes WHERE user_id = ?2 AND hash = ?3 AND used_at IS NULL AND pending = 0 LIMIT 1)",
                params![ts(now), user, sha256_hex(code.trim())],
            )?;
            if spent == 0 {
                return Ok(Err(self.count_failure(tx, user, &throttle, now)?));
            }
            tx.execute("UPDATE users SET failed_attempts = 0, locked_until = NULL WHERE id = ?1", params![user])?;
            self.record(&Actor::user(user), "user:recovery-code-used", None, Some(json!({"user": user})))?;
            Ok(Ok(()))
        })?;
        outcome
    }

    /// Whether the user has a confirmed second factor.
    /// "Lost my phone": removes a user's second factor and recovery codes, so they enroll
    /// again at their next sign-in (where the practice requires one); their sessions end.
    pub fn reset_second_factor(&self, actor: &Actor, user: &str) -> Result<()> {
        let now = crate::store::ts(self.clock.now());
        self.tx(|tx| {
            let n = tx.execute(
                "UPDATE users SET totp_secret = NULL, totp_pending = NULL, totp_enabled = 0, totp_last_step = 0 WHERE id = ?1",
                params![user],
            )?;
            if n == 0 {
                return Err(IdentityError::NotFound {
                    what: "user",
                    id: user.to_string(),
                });
            }
            tx.execute("DELETE FROM recovery_codes WHERE user_id = ?1", params![user])?;
            crate::sessions::end_all(tx, &now, user, "second-factor:reset")?;
            self.record(actor, "user:second-factor-reset", None, Some(serde_json::json!({"user": user})))
        })
    }

    pub fn has_second_factor(&self, user: &str) -> Result<bool> {
        Ok(self.totp_secret(user)?.is_some_and(|(_, on)| on))
    }

    /// Opens emergency access: only at a practice where the user holds a role now and is
    /// allowed emergency access ("Allow emergency access for (Practice)"); reason required,
    /// time-boxed.
    pub fn open_emergency(
        &self,
        user: &str,
        practice: &str,
        reason: &str,
        max: Duration,
    ) -> Result<String> {
        if reason.trim().is_empty() {
            return Err(IdentityError::Invalid(
                "emergency access needs a reason".into(),
            ));
        }
        let now = self.clock.now();
        let expires = ts(now + max);
        self.tx(|tx| {
            let u = load_user(tx, user)?;
            if !u.emergency_access.iter().any(|p| p == practice) {
                return Err(IdentityError::Forbidden(format!("{} may not invoke emergency access at {practice}", u.email)));
            }
            if !self.holds_role_at(tx, user, practice)? {
                return Err(IdentityError::Forbidden(format!("{} holds no role at {practice}", u.email)));
            }
            tx.execute(
                "INSERT INTO emergency_grants (user_id, practice_id, reason, opened_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![user, practice, reason.trim(), ts(now), expires],
            )?;
            self.record(&Actor::user(user), "emergency:open", None, Some(json!({"user": user, "practice": practice, "reason": reason.trim(), "expires_at": expires})))?;
            Ok(expires.clone())
        })
    }

    /// Whether the user is active and holds a role now at the practice (or one of its
    /// locations).
    pub(crate) fn holds_role_at(
        &self,
        tx: &rusqlite::Transaction<'_>,
        user: &str,
        practice: &str,
    ) -> Result<bool> {
        let n: i64 = tx.query_row(
            "SELECT COUNT(*) FROM assignments a JOIN users u ON u.id = a.user_id
             WHERE a.user_id = ?1 AND a.practice_id = ?2 AND a.revoked_at IS NULL
               AND (a.expires_at IS NULL OR a.expires_at > ?3) AND u.status = 'active'",
            params![user, practice, self.now()],
            |r| r.get(0),
        )?;
        Ok(n > 0)
    }

    /// Whether the user may open break-glass access at the practice now: allowed there and
    /// holding a role there.
    pub fn may_open_emergency(&self, user: &str, practice: &str) -> Result<bool> {
        self.tx(|tx| {
            let allowed: i64 = tx.query_row(
                "SELECT COUNT(*) FROM emergency_access WHERE user_id = ?1 AND practice_id = ?2",
                params![user, practice],
                |r| r.get(0),
            )?;
            Ok(allowed > 0 && self.holds_role_at(tx, user, practice)?)
        })
    }

    /// The open emergency grant of a user at a practice: (reason, opened at), if any.
    pub fn emergency(&self, user: &str, practice: &str) -> Result<Option<(String, String)>> {
        let now = self.now();
        self.tx(|tx| open_emergency_grant(tx, user, practice, &now))
    }

    /// Relates a user to a patient (`assigned` or `shared`).
    pub fn relate(&self, actor: &Actor, user: &str, patient: &str, relation: &str) -> Result<()> {
        if !matches!(relation, "assigned" | "shared") {
            return Err(IdentityError::Invalid(format!(
                "`{relation}` is not `assigned` or `shared`"
            )));
        }
        self.tx(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO relations (user_id, patient, relation) VALUES (?1, ?2, ?3)",
                params![user, patient, relation],
            )?;
            self.record(
                actor,
                "relation:add",
                None,
                Some(json!({"user": user, "patient": patient, "relation": relation})),
            )
        })
    }

    /// Ends a relation; whether there was one.
    pub fn unrelate(
        &self,
        actor: &Actor,
        user: &str,
        patient: &str,
        relation: &str,
    ) -> Result<bool> {
        self.tx(|tx| {
            let n = tx.execute(
                "DELETE FROM relations WHERE user_id = ?1 AND patient = ?2 AND relation = ?3",
                params![user, patient, relation],
            )?;
            if n > 0 {
                self.record(
                    actor,
                    "relation:remove",
                    Some(json!({"user": user, "patient": patient, "relation": relation})),
                    None,
                )?;
            }
            Ok(n > 0)
        })
    }

    /// A user's patients: (patient, relation), by patient.
    pub fn patients_of(&self, user: &str) -> Result<Vec<(String, String)>> {
        self.tx(|tx| {
            let mut st = tx.prepare(
                "SELECT patient, relation FROM relations WHERE user_id = ?1 ORDER BY patient, relation",
            )?;
            let rows = st.query_map(params![user], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// The relations of a user to a patient, for the policy's `relation` tests.
    pub fn relations(&self, user: &str, patient: &str) -> Result<Vec<String>> {
        self.tx(|tx| relations_of(tx, user, patient))
    }

    /// "Conditional access expiration": disables active users with no sign-in for `idle`.
    /// Returns the ids disabled.
    pub fn expire_inactive(&self, actor: &Actor, idle: Duration) -> Result<Vec<String>> {
        self.expire_inactive_at(actor, None, idle)
    }

    /// Disables the accounts with no sign-in for `idle` that work at `practice` (any, for
    /// `None`): the practice's "Access expires after N days of inactivity".
    pub fn expire_inactive_at(
        &self,
        actor: &Actor,
        practice: Option<&str>,
        idle: Duration,
    ) -> Result<Vec<String>> {
        if idle < Duration::days(1) {
            return Err(IdentityError::Invalid(
                "accounts expire after at least one idle day".into(),
            ));
        }
        let horizon = ts(self.clock.now() - idle);
        self.tx(|tx| {
            let mut st = tx.prepare(
                "SELECT id FROM users u WHERE status = 'active' AND COALESCE(last_active_at, created_at) < ?1
                   AND (?2 IS NULL OR EXISTS (SELECT 1 FROM assignments a WHERE a.user_id = u.id
                        AND a.practice_id = ?2 AND a.revoked_at IS NULL))",
            )?;
            let ids: Vec<String> = st.query_map(params![horizon, practice], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
            // Never the one who asks, nor the administrators when none would be left.
            let mut ids: Vec<String> = ids.into_iter().filter(|id| *id != actor.id).collect();
            let admins: Vec<String> = {
                let mut st = tx.prepare(
                    "SELECT DISTINCT a.user_id FROM assignments a JOIN users u ON u.id = a.user_id
                     WHERE u.status = 'active' AND a.revoked_at IS NULL AND a.role IN (SELECT value FROM json_each(?1))",
                )?;
                let roles = serde_json::json!(self.admin_roles).to_string();
                let found = st.query_map(params![roles], |r| r.get(0))?;
                found.collect::<rusqlite::Result<_>>()?
            };
            if admins.iter().all(|a| ids.contains(a)) {
                ids.retain(|id| !admins.contains(id));
            }
            for id in &ids {
                tx.execute("UPDATE users SET status = 'disabled' WHERE id = ?1", params![id])?;
            }
            if !ids.is_empty() {
                self.record(actor, "user:expire-inactive", None, Some(json!({"users": ids, "idle_days": idle.num_days(), "practice": practice})))?;
            }
            Ok(ids)
        })
    }

    /// Whether the user's password is older than the policy allows (they must change it).
    pub fn password_expired(&self, user: &str) -> Result<bool> {
        self.tx(|tx| {
            let days = i64::from(self.password_rules_of(tx, user)?.max_age_days);
            if days == 0 {
                return Ok(false);
            }
            let horizon = ts(self.clock.now() - Duration::days(days));
            let changed: Option<String> = tx.query_row(
                "SELECT password_changed_at FROM users WHERE id = ?1",
                params![user],
                |r| r.get(0),
            )?;
            Ok(changed.is_none_or(|c| c < horizon))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_test_vectors() {
        // RFC 6238 appendix B, SHA-1, seed "12345678901234567890", 8 digits there; the last 6 here.
        let secret = b"12345678901234567890";
        assert_eq!(totp(secret, 59), "287082");
        assert_eq!(totp(secret, 1111111109), "081804");
        assert_eq!(totp(secret, 1234567890), "005924");
        assert_eq!(totp(secret, 2000000000), "279037");
    }

    #[test]
    fn base32_round_trips() {
        let b = b"hello wardgate";
        let unbase32 = |s: &str| data_encoding::BASE32_NOPAD.decode(s.as_bytes()).ok();
        assert_eq!(unbase32(&base32(b)).unwrap(), b);
        assert_eq!(
            base32(b"12345678901234567890"),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
    }
}
