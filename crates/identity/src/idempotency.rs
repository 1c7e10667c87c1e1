//! Retried creations: a reply kept for a day under the caller's `Idempotency-Key`, so that a
//! client that lost the answer (a timeout, a dropped connection) asks again and gets the same
//! one instead of a second user or key. Replies are sealed: they can hold a key or a
//! temporary password shown once.

use chrono::Duration;
use rusqlite::{params, OptionalExtension};

use crate::store::{ts, Store};
use crate::{IdentityError, Result};

/// How long a reply is kept.
pub const KEPT_FOR_HOURS: i64 = 24;

/// What is remembered under a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    /// A keyed digest of the request it answered ([`Store::request_hash`]): the same key with
    /// another request is a mistake.
    pub request_hash: String,
    pub status: u16,
    pub reply: Vec<u8>,
}

impl Store {
    /// A digest of a request to compare a retry with: HMAC-SHA256 under a key derived from the
    /// store's secret key, so that the stored digest of a body holding a password does not let
    /// anyone with a copy of the database test guesses at it.
    pub fn request_hash(&self, request: &[u8]) -> String {
        self.secrets.digest(request)
    }

    /// The reply kept for `actor`'s `key`, if any (and not older than a day).
    pub fn remembered(&self, actor: &str, key: &str) -> Result<Option<Remembered>> {
        let since = ts(self.clock.now() - Duration::hours(KEPT_FOR_HOURS));
        let row: Option<(String, u16, String)> = self.tx(|tx| {
            Ok(tx
                .query_row(
                    "SELECT request_hash, status, reply FROM idempotency WHERE actor = ?1 AND key = ?2 AND created_at > ?3",
                    params![actor, key, since],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?)
        })?;
        let Some((request_hash, status, sealed)) = row else {
            return Ok(None);
        };
        let reply = self
            .secrets
            .open(&owner(actor, key), &sealed)
            .ok_or_else(|| IdentityError::Invalid("a kept reply cannot be opened".into()))?;
        Ok(Some(Remembered {
            request_hash,
            status,
            reply,
        }))
    }

    /// Keeps the reply to `actor`'s request under `key` (and forgets replies over a day old).
    pub fn remember(&self, actor: &str, key: &str, kept: &Remembered) -> Result<()> {
        let sealed = self.secrets.seal(&owner(actor, key), &kept.reply)?;
        let now = self.clock.now();
        self.tx(|tx| {
            tx.execute(
                "DELETE FROM idempotency WHERE created_at <= ?1",
                params![ts(now - Duration::hours(KEPT_FOR_HOURS))],
            )?;
            tx.execute(
                "INSERT INTO idempotency (actor, key, request_hash, status, reply, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (actor, key) DO UPDATE SET request_hash = excluded.request_hash, status = excluded.status,
                   reply = excluded.reply, created_at = excluded.created_at",
                params![actor, key, kept.request_hash, kept.status, sealed, ts(now)],
            )?;
            Ok(())
        })
    }
}

/// What a sealed reply is bound to: it opens only for the same caller and key.
fn owner(actor: &str, key: &str) -> String {
    format!("idempotency:{actor}:{key}")
}
