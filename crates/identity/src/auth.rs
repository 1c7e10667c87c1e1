//! Second ways in and out: invitations and password resets by one-time token, TOTP second
//! factors with recovery codes, time-boxed emergency access, relations to patients, password
//! and inactivity expiry.

use chrono::Duration;
use hmac::{Hmac, Mac};
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

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn b32_char(v: u32) -> char {
    char::from(BASE32.get((v & 31) as usize).copied().unwrap_or(b'A'))
}

fn base32(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut buffer = 0u32;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(b32_char(buffer >> bits));
        }
    }
    if bits > 0 {
        out.push(b32_char(buffer << (5 - bits)));
    }
    out
}

#[cfg(test)]
fn unbase32(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buffer = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = BASE32.iter().position(|x| *x == c.to_ascii_uppercase())? as u32;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// RFC 6238 TOTP (HMAC-SHA1, 30 s steps, 6 digits) for a Unix time.
pub fn totp(secret: &[u8], unix: i64) -> String {
    let counter = (unix.max(0) / 30) as u64;
    let Ok(mut mac) = <Hmac<sha1::Sha1> as Mac>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = usize::from(h.get(19).copied().unwrap_or(0) & 0x0f);
    let mut word = [0u8; 4];
    if let Some(slice) = h.get(offset..offset + 4) {
        word.copy_from_slice(slice);
    }
    let code = u32::from_be_bytes(word) & 0x7fff_ffff;
    format!("{:06}", code % 1_000_000)
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
    fn issue_token(
        &self,
        actor: &Actor,
        user: &str,
        purpose: &str,
        valid_for: Duration,
    ) -> Result<String> {
        let token = hex(&random_bytes::<24>()?);
        let expires = ts(self.clock.now() + valid_for);
        self.tx(|tx| {
            load_user(tx, user)?;
            tx.execute(
                "INSERT INTO tokens (hash, user_id, purpose, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![sha256_hex(&token), user, purpose, expires],
            )?;
            self.record(
                actor,
                &format!("user:{purpose}-token"),
                None,
                Some(json!({"user": user, "expires_at": expires})),
            )?;
            Ok(token.clone())
        })
    }

    /// "Reset Password": a one-time link token for the user (default 24 h).
    pub fn reset_token(&self, actor: &Actor, user: &str, valid_for: Duration) -> Result<String> {
        self.issue_token(actor, user, "reset", valid_for)
    }

    /// "Send Invite": a one-time activation token (default 7 days) for an existing account
    /// created without a usable password.
    pub fn activation_token(
        &self,
        actor: &Actor,
        user: &str,
        valid_for: Duration,
    ) -> Result<String> {
        self.issue_token(actor, user, "activation", valid_for)
    }

    /// "User clicks link to set password": spends the token, sets the password.
    pub fn set_password_with_token(&self, token: &str, new: &str) -> Result<()> {
        self.password_policy.check(new)?;
        let hash = password::hash(new)?;
        let now = self.now();
        self.tx(|tx| {
            let row: Option<(String, String, Option<String>)> = tx
                .query_row("SELECT user_id, expires_at, used_at FROM tokens WHERE hash = ?1", params![sha256_hex(token)], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()?;
            let Some((user, expires, used)) = row else { return Err(IdentityError::BadToken) };
            if used.is_some() || expires <= now {
                return Err(IdentityError::BadToken);
            }
            tx.execute("UPDATE tokens SET used_at = ?1 WHERE hash = ?2", params![now, sha256_hex(token)])?;
            tx.execute(
                "UPDATE users SET password_hash = ?1, must_change_password = 0, password_changed_at = ?2, failed_attempts = 0 WHERE id = ?3",
                params![hash, now, user],
            )?;
            tx.execute("INSERT INTO password_history (user_id, hash, changed_at) VALUES (?1, ?2, ?3)", params![user, hash, now])?;
            self.record(&Actor::user(&user), "user:password-set", None, Some(json!({"user": user})))
        })
    }

    /// Starts TOTP enrollment; the factor is active once `confirm_totp` sees a valid code.
    pub fn enroll_totp(&self, user: &str, issuer: &str) -> Result<TotpEnrollment> {
        let secret = random_bytes::<20>()?;
        let codes: Vec<String> = (0..10)
            .map(|_| random_bytes::<5>().map(|b| hex(&b)))
            .collect::<Result<_>>()?;
        self.tx(|tx| {
            let u = load_user(tx, user)?;
            tx.execute(
                "UPDATE users SET totp_secret = ?1, totp_enabled = 0 WHERE id = ?2",
                params![hex(&secret), user],
            )?;
            tx.execute(
                "DELETE FROM recovery_codes WHERE user_id = ?1",
                params![user],
            )?;
            for c in &codes {
                tx.execute(
                    "INSERT INTO recovery_codes (user_id, hash) VALUES (?1, ?2)",
                    params![user, sha256_hex(c)],
                )?;
            }
            let b32 = base32(&secret);
            Ok(TotpEnrollment {
                uri: format!(
                    "otpauth://totp/{issuer}:{}?secret={b32}&issuer={issuer}&digits=6&period=30",
                    u.email
                ),
                secret: b32,
                recovery_codes: codes.clone(),
            })
        })
    }

    fn totp_secret(&self, user: &str) -> Result<Option<(Vec<u8>, bool)>> {
        self.tx(|tx| {
            let row: Option<(Option<String>, bool)> = tx
                .query_row(
                    "SELECT totp_secret, totp_enabled FROM users WHERE id = ?1",
                    params![user],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            Ok(row.and_then(|(s, on)| {
                let s = s?;
                let bytes = (0..s.len() / 2)
                    .map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
                    .collect::<Option<Vec<u8>>>()?;
                Some((bytes, on))
            }))
        })
    }

    fn code_matches(&self, secret: &[u8], code: &str) -> bool {
        let now = self.clock.now().timestamp();
        // One step either side for clock drift.
        [-30, 0, 30]
            .iter()
            .any(|d| totp(secret, now + d) == code.trim())
    }

    /// Confirms enrollment with a first code.
    pub fn confirm_totp(&self, user: &str, code: &str) -> Result<()> {
        let (secret, _) = self.totp_secret(user)?.ok_or(IdentityError::BadToken)?;
        if !self.code_matches(&secret, code) {
            return Err(IdentityError::BadCredentials);
        }
        self.tx(|tx| {
            tx.execute(
                "UPDATE users SET totp_enabled = 1 WHERE id = ?1",
                params![user],
            )?;
            self.record(
                &Actor::user(user),
                "user:mfa-enroll",
                None,
                Some(json!({"user": user})),
            )
        })
    }

    /// Checks a second factor: a current TOTP code, or an unused recovery code (spent).
    pub fn verify_second_factor(&self, user: &str, code: &str) -> Result<()> {
        if let Some((secret, true)) = self.totp_secret(user)? {
            if self.code_matches(&secret, code) {
                return Ok(());
            }
        }
        let now = self.now();
        self.tx(|tx| {
            let n = tx.execute(
                "UPDATE recovery_codes SET used_at = ?1 WHERE rowid = (SELECT rowid FROM recovery_codes WHERE user_id = ?2 AND hash = ?3 AND used_at IS NULL LIMIT 1)",
                params![now, user, sha256_hex(code.trim())],
            )?;
            if n == 0 {
                return Err(IdentityError::BadCredentials);
            }
            self.record(&Actor::user(user), "user:recovery-code-used", None, Some(json!({"user": user})))
        })
    }

    /// Whether the user has a confirmed second factor.
    pub fn has_second_factor(&self, user: &str) -> Result<bool> {
        Ok(self.totp_secret(user)?.is_some_and(|(_, on)| on))
    }

    /// Opens emergency access for a user with the emergency flag: reason required, time-boxed.
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
            if !u.emergency_access {
                return Err(IdentityError::Forbidden(format!("{} may not invoke emergency access", u.email)));
            }
            tx.execute(
                "INSERT INTO emergency_grants (user_id, practice_id, reason, opened_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![user, practice, reason.trim(), ts(now), expires],
            )?;
            self.record(&Actor::user(user), "emergency:open", None, Some(json!({"user": user, "practice": practice, "reason": reason.trim(), "expires_at": expires})))?;
            Ok(expires.clone())
        })
    }

    /// The open emergency grant of a user at a practice: (reason, opened at), if any.
    pub fn emergency(&self, user: &str, practice: &str) -> Result<Option<(String, String)>> {
        let now = self.now();
        self.tx(|tx| {
            Ok(tx
                .query_row(
                    "SELECT reason, opened_at FROM emergency_grants WHERE user_id = ?1 AND practice_id = ?2 AND closed_at IS NULL AND expires_at > ?3 ORDER BY id DESC LIMIT 1",
                    params![user, practice, now],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?)
        })
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

    /// The relations of a user to a patient, for the policy's `relation` tests.
    pub fn relations(&self, user: &str, patient: &str) -> Result<Vec<String>> {
        self.tx(|tx| {
            let mut st = tx.prepare("SELECT relation FROM relations WHERE user_id = ?1 AND patient = ?2 ORDER BY relation")?;
            let rows = st.query_map(params![user, patient], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }

    /// "Conditional access expiration": disables active users with no sign-in for `idle`.
    /// Returns the ids disabled.
    pub fn expire_inactive(&self, actor: &Actor, idle: Duration) -> Result<Vec<String>> {
        let horizon = ts(self.clock.now() - idle);
        self.tx(|tx| {
            let mut st = tx.prepare("SELECT id FROM users WHERE status = 'active' AND COALESCE(last_active_at, created_at) < ?1")?;
            let ids: Vec<String> = st.query_map(params![horizon], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
            for id in &ids {
                tx.execute("UPDATE users SET status = 'disabled' WHERE id = ?1", params![id])?;
            }
            if !ids.is_empty() {
                self.record(actor, "user:expire-inactive", None, Some(json!({"users": ids, "idle_days": idle.num_days()})))?;
            }
            Ok(ids)
        })
    }

    /// Whether the user's password is older than the policy allows (they must change it).
    pub fn password_expired(&self, user: &str) -> Result<bool> {
        let days = i64::from(self.password_policy.max_age_days);
        if days == 0 {
            return Ok(false);
        }
        let horizon = ts(self.clock.now() - Duration::days(days));
        self.tx(|tx| {
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
        assert_eq!(unbase32(&base32(b)).unwrap(), b);
        assert_eq!(
            base32(b"12345678901234567890"),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
    }
}
