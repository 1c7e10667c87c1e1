//! API keys for service accounts: `wg_<id>_<secret>`, shown once; only the SHA-256 of the
//! secret is stored (the secret is 256 random bits, so a fast hash is enough), looked up by id
//! and compared in constant time. Scopes, networks, a rate, an expiry; rotation keeps the old
//! key working for an overlap window; revocation is immediate.

use chrono::Duration;
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::model::KeyInfo;
use crate::store::{ts, Actor, Store};
use crate::{IdentityError, Result};

/// What `key issue` asks for.
#[derive(Debug, Clone, Default)]
pub struct NewKey {
    pub account: String,
    pub scopes: Vec<String>,
    /// Client networks the key may be used from; empty: anywhere.
    pub networks: Vec<ipnet::IpNet>,
    pub rate_per_minute: Option<u32>,
    pub expires_in: Option<Duration>,
}

/// A key as issued: the only time the secret is visible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IssuedKey {
    pub id: String,
    pub key: String,
    pub account: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<String>,
}

fn random_hex(n: usize) -> Result<String> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).map_err(|e| IdentityError::Invalid(e.to_string()))?;
    Ok(hex::encode(b))
}

fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// `wg_<12 hex>_<64 hex>` into (id, secret).
fn split(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix("wg_")?;
    let (id, secret) = rest.split_once('_')?;
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(id, 12) && hex(secret, 64)).then_some((id, secret))
}

impl Store {
    /// Creates a service account (a non-human account for an integration) with roles at a
    /// practice.
    pub fn add_service_account(
        &self,
        actor: &Actor,
        id: &str,
        practice: &str,
        roles: &[String],
    ) -> Result<()> {
        for r in roles {
            self.check_role(r)?;
        }
        self.tx(|tx| {
            tx.execute(
                "INSERT INTO service_accounts (id, practice_id, roles, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![id, practice, json!(roles).to_string(), self.now()],
            )?;
            self.record(actor, "account:create", None, Some(json!({"id": id, "practice": practice, "roles": roles})))
        })
    }

    /// The practice a service account belongs to.
    pub fn account_practice(&self, account: &str) -> Result<String> {
        self.tx(|tx| {
            tx.query_row(
                "SELECT practice_id FROM service_accounts WHERE id = ?1",
                params![account],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| IdentityError::NotFound {
                what: "service account",
                id: account.to_string(),
            })
        })
    }

    pub fn issue_key(&self, actor: &Actor, new: &NewKey) -> Result<IssuedKey> {
        if new.scopes.is_empty() {
            return Err(IdentityError::Invalid(
                "a key needs at least one scope".into(),
            ));
        }
        let id = random_hex(6)?;
        let secret = random_hex(32)?;
        let expires_at = new.expires_in.map(|d| ts(self.clock.now() + d));
        let issued = IssuedKey {
            id: id.clone(),
            key: format!("wg_{id}_{secret}"),
            account: new.account.clone(),
            scopes: new.scopes.clone(),
            expires_at: expires_at.clone(),
        };
        self.tx(|tx| {
            let exists: i64 = tx.query_row("SELECT COUNT(*) FROM service_accounts WHERE id = ?1", params![new.account], |r| r.get(0))?;
            if exists == 0 {
                return Err(IdentityError::NotFound { what: "service account", id: new.account.clone() });
            }
            tx.execute(
                "INSERT INTO api_keys (id, account_id, secret_hash, scopes, networks, rate_per_minute, expires_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![id, new.account, digest(&secret), json!(new.scopes).to_string(), json!(new.networks).to_string(), new.rate_per_minute, expires_at, self.now()],
            )?;
            // The audit record never holds the secret.
            self.record(actor, "key:issue", None, Some(json!({"id": id, "account": new.account, "scopes": new.scopes, "expires_at": expires_at, "rate_per_minute": new.rate_per_minute, "networks": new.networks})))?;
            Ok(issued.clone())
        })
    }

    /// Checks a presented key; counts the use. Unknown, revoked and expired keys are refused
    /// alike.
    pub fn verify_key(&self, key: &str) -> Result<KeyInfo> {
        let (id, secret) = split(key.trim()).ok_or(IdentityError::BadKey)?;
        let now = self.now();
        self.tx(|tx| {
            let row: Option<(String, String)> = tx
                .query_row(
                    "SELECT secret_hash, account_id FROM api_keys WHERE id = ?1",
                    params![id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((stored, _)) = row else {
                return Err(IdentityError::BadKey);
            };
            let presented = digest(secret);
            if !bool::from(presented.as_bytes().ct_eq(stored.as_bytes())) {
                return Err(IdentityError::BadKey);
            }
            let info = load_key(tx, id)?;
            if info.revoked
                || info
                    .expires_at
                    .as_deref()
                    .is_some_and(|e| e <= now.as_str())
            {
                return Err(IdentityError::BadKey);
            }
            tx.execute(
                "UPDATE api_keys SET last_used_at = ?1, uses = uses + 1 WHERE id = ?2",
                params![now, id],
            )?;
            Ok(info)
        })
    }

    /// The gateway's lookup: like [`Store::verify_key`] but served from memory once a key was
    /// seen; uses are counted in memory and written by [`Store::flush_key_usage`]. Any commit
    /// to the database (a revocation, from this process or another) empties the cache first.
    pub fn verify_key_cached(&self, key: &str) -> Result<KeyInfo> {
        let (id, secret) = split(key.trim()).ok_or(IdentityError::BadKey)?;
        let version = self.cache_version()?;
        let now = self.now();
        let mut cache = self
            .key_cache
            .lock()
            .map_err(|_| IdentityError::Invalid("the key cache lock is poisoned".into()))?;
        if cache.version != Some(version) {
            cache.keys.clear();
            cache.version = Some(version);
        }
        if !cache.keys.contains_key(id) {
            let stored = self.tx(|tx| {
                let hash: Option<String> = tx
                    .query_row(
                        "SELECT secret_hash FROM api_keys WHERE id = ?1",
                        params![id],
                        |r| r.get(0),
                    )
                    .optional()?;
                match hash {
                    Some(h) => Ok(Some((h, load_key(tx, id)?))),
                    None => Ok(None),
                }
            })?;
            match stored {
                Some(entry) => {
                    cache.keys.insert(id.to_string(), entry);
                }
                None => return Err(IdentityError::BadKey),
            }
        }
        let Some((stored, info)) = cache.keys.get(id) else {
            return Err(IdentityError::BadKey);
        };
        if !bool::from(digest(secret).as_bytes().ct_eq(stored.as_bytes())) {
            return Err(IdentityError::BadKey);
        }
        if info.revoked
            || info
                .expires_at
                .as_deref()
                .is_some_and(|e| e <= now.as_str())
        {
            return Err(IdentityError::BadKey);
        }
        let info = info.clone();
        let entry = cache
            .pending
            .entry(id.to_string())
            .or_insert((0, now.clone()));
        entry.0 += 1;
        entry.1 = now;
        Ok(info)
    }

    /// Empties the key cache: this connection's own commits do not move `data_version`.
    fn forget_keys(&self) {
        if let Ok(mut cache) = self.key_cache.lock() {
            cache.keys.clear();
        }
    }

    /// Writes the uses counted by [`Store::verify_key_cached`]; call it every few seconds.
    pub fn flush_key_usage(&self) -> Result<usize> {
        let pending: Vec<(String, (u64, String))> = {
            let mut cache = self
                .key_cache
                .lock()
                .map_err(|_| IdentityError::Invalid("the key cache lock is poisoned".into()))?;
            cache.pending.drain().collect()
        };
        if pending.is_empty() {
            return Ok(0);
        }
        self.tx(|tx| {
            for (id, (count, last)) in &pending {
                tx.execute(
                    "UPDATE api_keys SET uses = uses + ?1, last_used_at = MAX(COALESCE(last_used_at, ''), ?2) WHERE id = ?3",
                    params![*count as i64, last, id],
                )?;
            }
            Ok(pending.len())
        })
    }

    /// Revokes a key at once.
    pub fn revoke_key(&self, actor: &Actor, id: &str) -> Result<()> {
        self.tx(|tx| {
            let n = tx.execute(
                "UPDATE api_keys SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL",
                params![self.now(), id],
            )?;
            if n == 0 {
                return Err(IdentityError::NotFound {
                    what: "active key",
                    id: id.into(),
                });
            }
            self.record(actor, "key:revoke", None, Some(json!({"id": id})))
        })?;
        self.forget_keys();
        Ok(())
    }

    /// Issues a replacement with the same account and scopes; the old key keeps working for
    /// `overlap`, then expires.
    pub fn rotate_key(&self, actor: &Actor, id: &str, overlap: Duration) -> Result<IssuedKey> {
        let old = self.tx(|tx| load_key(tx, id))?;
        if old.revoked {
            return Err(IdentityError::Invalid(format!("key {id} is revoked")));
        }
        let issued = self.issue_key(
            actor,
            &NewKey {
                account: old.account.clone(),
                scopes: old.scopes.clone(),
                networks: old.networks.clone(),
                rate_per_minute: old.rate_per_minute,
                expires_in: None,
            },
        )?;
        let until = ts(self.clock.now() + overlap);
        self.tx(|tx| {
            tx.execute(
                "UPDATE api_keys SET expires_at = ?1 WHERE id = ?2",
                params![until, id],
            )?;
            self.record(
                actor,
                "key:rotate",
                Some(json!({"id": id})),
                Some(json!({"id": issued.id, "old_expires_at": until})),
            )
        })?;
        self.forget_keys();
        Ok(issued)
    }

    pub fn keys(&self, account: Option<&str>) -> Result<Vec<KeyInfo>> {
        self.tx(|tx| {
            let mut st = tx.prepare("SELECT id FROM api_keys WHERE ?1 IS NULL OR account_id = ?1 ORDER BY created_at, id")?;
            let ids: Vec<String> = st.query_map(params![account], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
            ids.iter().map(|id| load_key(tx, id)).collect()
        })
    }
}

fn load_key(tx: &rusqlite::Transaction<'_>, id: &str) -> Result<KeyInfo> {
    tx.query_row(
        "SELECT k.id, k.account_id, a.practice_id, a.roles, k.scopes, k.networks, k.rate_per_minute, k.expires_at, k.revoked_at, k.last_used_at, k.uses
         FROM api_keys k JOIN service_accounts a ON a.id = k.account_id WHERE k.id = ?1",
        params![id],
        |r| {
            let roles: String = r.get(3)?;
            let scopes: String = r.get(4)?;
            let networks: String = r.get(5)?;
            let revoked: Option<String> = r.get(8)?;
            Ok((networks, KeyInfo {
                id: r.get(0)?,
                account: r.get(1)?,
                practice: r.get(2)?,
                roles: serde_json::from_str(&roles).unwrap_or_default(),
                scopes: serde_json::from_str(&scopes).unwrap_or_default(),
                networks: Vec::new(),
                rate_per_minute: r.get(6)?,
                expires_at: r.get(7)?,
                revoked: revoked.is_some(),
                last_used_at: r.get(9)?,
                uses: r.get::<_, i64>(10)?.try_into().unwrap_or(0),
            }))
        },
    )
    .optional()?
    .ok_or_else(|| IdentityError::NotFound { what: "key", id: id.into() })
    .and_then(|(networks, mut key)| {
        key.networks = stored_networks(&key.id, &networks)?;
        Ok(key)
    })
}

/// The networks column as written by [`Store::issue_key`]. Anything else is refused rather
/// than read as "anywhere": a key limited to some networks must never lose its limit.
fn stored_networks(id: &str, column: &str) -> Result<Vec<ipnet::IpNet>> {
    let bad = |what: String| IdentityError::Invalid(format!("key {id}: stored networks {what}"));
    let texts: Vec<String> =
        serde_json::from_str(column).map_err(|e| bad(format!("are not a list ({e})")))?;
    texts
        .iter()
        .map(|t| {
            t.parse::<ipnet::IpNet>()
                .or_else(|_| t.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map(|n| n.trunc())
                .map_err(|_| bad(format!("hold `{t}`, not an address or CIDR")))
        })
        .collect()
}
