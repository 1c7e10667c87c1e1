//! Browser sessions as the store keeps them: random 256-bit tokens stored only as hashes, ended
//! one by one, all at once (remote logout), or by locking, disabling or unassigning the user.
//! The gateway enforces timeouts and binding (issue 7) on top of these records.

use rusqlite::{params, OptionalExtension};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::model::SessionInfo;
use crate::store::{Actor, Store};
use crate::{IdentityError, Result};

/// A session row (hash, user, practice, client, device, created, last seen, authenticated, mfa).
fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SessionInfo> {
    let full: String = r.get(0)?;
    Ok(SessionInfo {
        id: full.get(..12).unwrap_or("").to_string(),
        user_id: r.get(1)?,
        practice_id: r.get(2)?,
        client: r.get(3)?,
        device: r.get(4)?,
        created_at: r.get(5)?,
        last_seen_at: r.get(6)?,
        authenticated_at: r.get(7)?,
        mfa: r.get(8)?,
    })
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Store {
    /// The gateway's lookup: like [`Store::session`] but from memory once seen; the returned
    /// `last_seen_at` is when the session was used before this lookup (exact, from memory),
    /// and this use is written by [`Store::flush_sessions`]. Any change recorded by this store
    /// (an end, a lock, a disable, an unassign) and any commit by another connection empties
    /// the cache.
    pub fn session_cached(&self, token: &str) -> Result<Option<SessionInfo>> {
        let version = self.cache_version()?;
        let h = hash(token);
        let now = self.now();
        let poisoned = || IdentityError::Invalid("the session cache lock is poisoned".into());
        let cached = {
            let mut cache = self.session_cache.lock().map_err(|_| poisoned())?;
            if cache.version != Some(version) {
                cache.live.clear();
                cache.version = Some(version);
            }
            cache.live.get(&h).cloned()
        };
        let found = match cached {
            Some(info) => Some(info),
            None => self.session(token)?,
        };
        let Some(mut info) = found else {
            return Ok(None);
        };
        let mut cache = self.session_cache.lock().map_err(|_| poisoned())?;
        if let Some(previous) = cache.seen.get(&h) {
            if *previous > info.last_seen_at {
                info.last_seen_at = previous.clone();
            }
        }
        cache.live.entry(h.clone()).or_insert_with(|| info.clone());
        cache.seen.insert(h, now);
        Ok(Some(info))
    }

    /// Writes the `last_seen_at` times gathered by [`Store::session_cached`].
    pub fn flush_sessions(&self) -> Result<usize> {
        let seen: Vec<(String, String)> = match self.session_cache.lock() {
            Ok(mut c) => {
                let seen: Vec<(String, String)> = c.seen.drain().collect();
                // The cached rows stay exact once their times leave the map.
                for (h, at) in &seen {
                    if let Some(info) = c.live.get_mut(h) {
                        info.last_seen_at = at.clone();
                    }
                }
                seen
            }
            Err(_) => {
                return Err(IdentityError::Invalid(
                    "the session cache lock is poisoned".into(),
                ))
            }
        };
        if seen.is_empty() {
            return Ok(0);
        }
        self.tx(|tx| {
            for (h, at) in &seen {
                tx.execute(
                    "UPDATE sessions SET last_seen_at = MAX(last_seen_at, ?1) WHERE hash = ?2",
                    params![at, h],
                )?;
            }
            Ok(seen.len())
        })
    }

    /// Starts a session after a successful sign-in; returns the token (for the cookie) once.
    pub fn start_session(
        &self,
        user: &str,
        practice: &str,
        client: Option<&str>,
        device: Option<&str>,
        mfa: bool,
    ) -> Result<String> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| IdentityError::Invalid(e.to_string()))?;
        let token: String = hex::encode(bytes);
        let now = self.now();
        self.tx(|tx| {
            tx.execute(
                "INSERT INTO sessions (hash, user_id, practice_id, client, device, created_at, last_seen_at, authenticated_at, mfa) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?6, ?7)",
                params![hash(&token), user, practice, client, device, now, mfa],
            )?;
            self.record(&Actor::user(user), "session:start", None, Some(json!({"user": user, "practice": practice, "client": client})))
        })?;
        Ok(token)
    }

    /// The live session of a token (not ended, its user active), touching `last_seen_at`.
    pub fn session(&self, token: &str) -> Result<Option<SessionInfo>> {
        let now = self.now();
        let h = hash(token);
        self.tx(|tx| {
            let info = tx
                .query_row(
                    "SELECT s.hash, s.user_id, s.practice_id, s.client, s.device, s.created_at, s.last_seen_at, s.authenticated_at, s.mfa
                     FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.hash = ?1 AND s.ended_at IS NULL AND u.status = 'active'",
                    params![h],
                    row,
                )
                .optional()?;
            if info.is_some() {
                tx.execute("UPDATE sessions SET last_seen_at = ?1 WHERE hash = ?2", params![now, h])?;
            }
            Ok(info)
        })
    }

    /// A user's live sessions ("multi-device awareness").
    pub fn sessions(&self, user: &str) -> Result<Vec<SessionInfo>> {
        self.tx(|tx| {
            let mut st = tx.prepare(
                "SELECT hash, user_id, practice_id, client, device, created_at, last_seen_at, authenticated_at, mfa FROM sessions WHERE user_id = ?1 AND ended_at IS NULL ORDER BY created_at",
            )?;
            let rows = st.query_map(params![user], row)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Ends one session (sign-out), by token.
    pub fn end_session(&self, token: &str, reason: &str) -> Result<bool> {
        let now = self.now();
        self.tx(|tx| {
            let n = tx.execute(
                "UPDATE sessions SET ended_at = ?1, end_reason = ?2 WHERE hash = ?3 AND ended_at IS NULL",
                params![now, reason, hash(token)],
            )?;
            if n > 0 {
                self.record(&Actor::system(), "session:end", None, Some(json!({"reason": reason})))?;
            }
            Ok(n > 0)
        })
    }

    /// Step-up: the user proved who they are again in this session (password, and a second
    /// factor when `mfa`). Moves `authenticated_at` to now.
    pub fn reauthenticate(&self, token: &str, mfa: bool) -> Result<bool> {
        let now = self.now();
        self.tx(|tx| {
            let user: Option<String> = tx
                .query_row(
                    "SELECT user_id FROM sessions WHERE hash = ?1 AND ended_at IS NULL",
                    params![hash(token)],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(user) = user else { return Ok(false) };
            tx.execute(
                "UPDATE sessions SET authenticated_at = ?1, mfa = (mfa OR ?2) WHERE hash = ?3",
                params![now, mfa, hash(token)],
            )?;
            self.record(
                &Actor::user(&user),
                "session:reauthenticate",
                None,
                Some(json!({"user": user, "mfa": mfa})),
            )?;
            Ok(true)
        })
    }

    /// Ends one of a user's sessions by its id (the first 12 hex digits of its hash), as "sign
    /// out that other device" does.
    pub fn end_session_id(&self, user: &str, id: &str, reason: &str) -> Result<bool> {
        self.end_session_by(&Actor::user(user), user, id, reason)
    }

    /// Ends one of a user's sessions (by the id [`SessionInfo`] shows), for `actor`.
    pub fn end_session_by(
        &self,
        actor: &Actor,
        user: &str,
        id: &str,
        reason: &str,
    ) -> Result<bool> {
        if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(false);
        }
        let now = self.now();
        self.tx(|tx| {
            let n = tx.execute(
                "UPDATE sessions SET ended_at = ?1, end_reason = ?2 WHERE user_id = ?3 AND substr(hash, 1, 12) = ?4 AND ended_at IS NULL",
                params![now, reason, user, id.to_ascii_lowercase()],
            )?;
            if n > 0 {
                self.record(actor, "session:end", None, Some(json!({"user": user, "session": id, "reason": reason})))?;
            }
            Ok(n > 0)
        })
    }

    /// Remote logout: ends every session of a user. Returns how many.
    pub fn end_sessions(&self, actor: &Actor, user: &str, reason: &str) -> Result<usize> {
        self.tx(|tx| {
            let n = end_all(tx, &self.now(), user, reason)?;
            if n > 0 {
                self.record(
                    actor,
                    "session:end-all",
                    None,
                    Some(json!({"user": user, "sessions": n, "reason": reason})),
                )?;
            }
            Ok(n)
        })
    }
}

/// Ends every live session of a user inside a transaction.
pub(crate) fn end_all(
    tx: &rusqlite::Transaction<'_>,
    now: &str,
    user: &str,
    reason: &str,
) -> Result<usize> {
    Ok(tx.execute(
        "UPDATE sessions SET ended_at = ?1, end_reason = ?2 WHERE user_id = ?3 AND ended_at IS NULL",
        params![now, reason, user],
    )?)
}
