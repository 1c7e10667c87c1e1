//! Reaching people by mail: sign-in codes sent by email (a second factor beside TOTP),
//! "Forgot password?" (a reset link mailed, throttled per account), where people sign in from
//! (for the "sign-in from somewhere new" alert), and whom a practice's alerts go to.

use chrono::Duration;
use rusqlite::{params, OptionalExtension};
use serde_json::json;

use crate::outbox::{Channel, NewMessage};
use crate::store::{ts, Actor, Store};
use crate::users::load_user;
use crate::{IdentityError, Result};

/// How long an emailed code is good for.
pub const CODE_MINUTES: i64 = 10;
/// Wrong codes before the code is void.
pub const CODE_ATTEMPTS: u32 = 5;
/// The least time between two codes for one account.
const CODE_GAP_SECONDS: i64 = 30;
/// Reset links one account may be sent per hour through "Forgot password?".
pub const RESETS_PER_HOUR: u32 = 3;

/// Codes one account may be sent per hour.
pub const CODES_PER_HOUR: u32 = 5;

/// Whether a code was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeSent {
    Sent,
    /// One was sent moments ago; it is still good.
    TooSoon,
    /// [`CODES_PER_HOUR`] were sent this hour; none until the hour is over.
    Limited,
}

/// A code row: its digest (empty once spent or void), expiry, wrong tries, when the last was
/// sent, and the hour's sends.
type CodeRow = (String, String, u32, String, String, u32);

impl Store {
    /// Sends `user` a six-digit sign-in code by email (replacing any earlier one). The code is
    /// kept only as a keyed digest; the message carrying it is sealed until delivered. At most
    /// one every 30 seconds and [`CODES_PER_HOUR`] an hour; none while the account is
    /// throttled by failed sign-ins ([`IdentityError::LockedOut`]).
    pub fn send_email_code(&self, user: &str, practice: Option<&str>) -> Result<CodeSent> {
        if !self.mails() {
            return Err(IdentityError::Invalid(
                "no mail relay is configured to send codes".into(),
            ));
        }
        let code = six_digits()?;
        let now = self.clock.now();
        self.tx(|tx| {
            let u = load_user(tx, user)?;
            let locked: Option<String> =
                tx.query_row("SELECT locked_until FROM users WHERE id = ?1", params![user], |r| r.get(0))?;
            if crate::security::is_throttled(locked.as_deref(), now) {
                return Err(IdentityError::LockedOut);
            }
            let row = code_row(tx, user)?;
            let hour_ago = ts(now - Duration::hours(1));
            let (window, sends) = match &row {
                Some((hash, _, _, sent, window, sends)) => {
                    // A code still good was sent moments ago (a spent one is no reason to wait).
                    if !hash.is_empty() && *sent > ts(now - Duration::seconds(CODE_GAP_SECONDS)) {
                        return Ok(CodeSent::TooSoon);
                    }
                    if *window > hour_ago {
                        (window.clone(), *sends)
                    } else {
                        (ts(now), 0)
                    }
                }
                None => (ts(now), 0),
            };
            if sends >= CODES_PER_HOUR {
                return Ok(CodeSent::Limited);
            }
            let expires = ts(now + Duration::minutes(CODE_MINUTES));
            tx.execute(
                "INSERT INTO email_codes (user_id, hash, expires_at, attempts, sent_at, window_start, sends) VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6)
                 ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, expires_at = excluded.expires_at, attempts = 0,
                   sent_at = excluded.sent_at, window_start = excluded.window_start, sends = excluded.sends",
                params![user, self.code_digest(user, &code), expires, ts(now), window, sends + 1],
            )?;
            self.enqueue(
                tx,
                &NewMessage {
                    channel: Channel::Mail,
                    recipient: u.email.clone(),
                    template: "code".into(),
                    practice: practice.map(str::to_string),
                    payload: json!({"code": code, "first_name": u.first_name, "minutes": CODE_MINUTES, "expires_at": expires}),
                },
            )?;
            self.record(
                &Actor::user(user),
                "user:email-code-sent",
                None,
                Some(json!({"user": user, "practice": practice, "expires_at": expires})),
            )?;
            Ok(CodeSent::Sent)
        })
    }

    /// Spends `user`'s emailed code. A wrong code counts toward the account's failed sign-ins
    /// (throttled as `practice`'s settings say, as a wrong TOTP code does) and the fifth voids
    /// the code ([`IdentityError::LockedOut`] either way); a spent, expired or absent one is
    /// [`IdentityError::BadToken`]; while throttled even the right one is refused.
    pub fn verify_email_code(&self, user: &str, code: &str, practice: Option<&str>) -> Result<()> {
        let now = self.clock.now();
        let sent = self.code_digest(user, code.trim());
        let outcome = self.tx(|tx| {
            let throttle = crate::security::throttle_of(tx, practice)?;
            let locked: Option<String> = tx
                .query_row(
                    "SELECT locked_until FROM users WHERE id = ?1",
                    params![user],
                    |r| r.get(0),
                )
                .optional()?
                .flatten();
            if crate::security::is_throttled(locked.as_deref(), now) {
                return Ok(Err(IdentityError::LockedOut));
            }
            let Some((hash, expires, attempts, ..)) = code_row(tx, user)? else {
                return Ok(Err(IdentityError::BadToken));
            };
            let void = |tx: &rusqlite::Transaction<'_>| {
                tx.execute(
                    "UPDATE email_codes SET hash = '' WHERE user_id = ?1",
                    params![user],
                )
            };
            if hash.is_empty() || expires <= ts(now) {
                void(tx)?;
                return Ok(Err(IdentityError::BadToken));
            }
            if subtle::ConstantTimeEq::ct_eq(hash.as_bytes(), sent.as_bytes()).into() {
                void(tx)?;
                tx.execute(
                    "UPDATE users SET failed_attempts = 0, locked_until = NULL WHERE id = ?1",
                    params![user],
                )?;
                return Ok(Ok(()));
            }
            tx.execute(
                "UPDATE email_codes SET attempts = attempts + 1 WHERE user_id = ?1",
                params![user],
            )?;
            let counted = self.count_failure(tx, user, &throttle, now)?;
            if attempts + 1 >= CODE_ATTEMPTS || matches!(counted, IdentityError::LockedOut) {
                void(tx)?;
                self.record(
                    &Actor::user(user),
                    "user:email-code-void",
                    None,
                    Some(json!({"user": user, "attempts": attempts + 1})),
                )?;
                return Ok(Err(IdentityError::LockedOut));
            }
            Ok(Err(IdentityError::BadCredentials))
        })?;
        outcome
    }

    fn code_digest(&self, user: &str, code: &str) -> String {
        self.secrets
            .digest(format!("email-code:{user}:{code}").as_bytes())
    }

    /// "Forgot password?": mails a reset link (valid one hour) to the active account with this
    /// email that may sign in at `practice`, at most [`RESETS_PER_HOUR`] an hour. Says nothing
    /// of whether there was one: every outcome is `Ok`, and recorded.
    pub fn request_reset(&self, email: &str, practice: Option<&str>, client: &str) -> Result<()> {
        let email = email.trim().to_ascii_lowercase();
        if !self.mails() || !crate::valid_email(&email) {
            return Ok(());
        }
        let now = self.clock.now();
        // Counted and issued in one transaction, so concurrent requests cannot pass the limit.
        self.tx(|tx| {
            let id: Option<String> = tx
                .query_row(
                    "SELECT u.id FROM users u WHERE u.email = ?1 AND u.status = 'active'
                       AND (?2 IS NULL OR EXISTS (SELECT 1 FROM assignments a WHERE a.user_id = u.id AND a.practice_id = ?2 AND a.revoked_at IS NULL))",
                    params![email, practice],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(user) = id else { return Ok(()) };
            let recent: u32 = tx.query_row(
                "SELECT COUNT(*) FROM tokens WHERE user_id = ?1 AND purpose = 'reset' AND created_at > ?2",
                params![user, ts(now - Duration::hours(1))],
                |r| r.get(0),
            )?;
            if recent >= RESETS_PER_HOUR {
                return self.record(
                    &Actor::system(),
                    "user:reset-throttled",
                    None,
                    Some(json!({"user": user, "client": client, "practice": practice})),
                );
            }
            self.issue_token_in(tx, &Actor::system(), &user, "reset", Duration::hours(1), practice)
                .map(drop)
        })
    }

    /// Notes that `user` signed in from `places` (a country, a network); returns those never
    /// seen for them before, when they had signed in from somewhere before (a first sign-in
    /// is nowhere new).
    pub fn note_sign_in_places(&self, user: &str, places: &[String]) -> Result<Vec<String>> {
        let now = self.now();
        self.tx(|tx| {
            let known: u32 = tx.query_row(
                "SELECT COUNT(*) FROM sign_in_places WHERE user_id = ?1",
                params![user],
                |r| r.get(0),
            )?;
            let mut new = Vec::new();
            for place in places {
                let inserted = tx.execute(
                    "INSERT INTO sign_in_places (user_id, place, first_seen, last_seen) VALUES (?1, ?2, ?3, ?3)
                     ON CONFLICT (user_id, place) DO NOTHING",
                    params![user, place, now],
                )?;
                if inserted == 0 {
                    tx.execute(
                        "UPDATE sign_in_places SET last_seen = ?1 WHERE user_id = ?2 AND place = ?3",
                        params![now, user, place],
                    )?;
                } else if known > 0 {
                    new.push(place.clone());
                }
            }
            Ok(new)
        })
    }

    /// The email addresses of the active people administering `practice` (its Owners and
    /// System Admins now).
    pub fn admin_emails(&self, practice: &str) -> Result<Vec<String>> {
        let now = self.now();
        self.tx(|tx| {
            let roles = json!(self.admin_roles).to_string();
            let mut st = tx.prepare_cached(
                "SELECT DISTINCT u.email FROM assignments a JOIN users u ON u.id = a.user_id
                 WHERE a.practice_id = ?1 AND u.status = 'active' AND a.revoked_at IS NULL
                   AND (a.expires_at IS NULL OR a.expires_at > ?3)
                   AND a.role IN (SELECT value FROM json_each(?2))
                 ORDER BY u.email",
            )?;
            let rows = st
                .query_map(params![practice, roles, now], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(rows)
        })
    }
}

fn code_row(tx: &rusqlite::Transaction<'_>, user: &str) -> Result<Option<CodeRow>> {
    Ok(tx
        .query_row(
            "SELECT hash, expires_at, attempts, sent_at, window_start, sends FROM email_codes WHERE user_id = ?1",
            params![user],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )
        .optional()?)
}

/// Six decimal digits, uniformly.
fn six_digits() -> Result<String> {
    loop {
        let mut b = [0u8; 4];
        getrandom::fill(&mut b).map_err(|e| IdentityError::Invalid(e.to_string()))?;
        let n = u32::from_le_bytes(b);
        // Reject the top slice so every code is equally likely.
        if n < u32::MAX - (u32::MAX % 1_000_000) {
            return Ok(format!("{:06}", n % 1_000_000));
        }
    }
}
