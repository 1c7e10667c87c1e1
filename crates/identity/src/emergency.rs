//! Break-glass grants as an administrator sees them: who opened emergency access at the
//! practice, why, when, until when, and whether it is still open; and ending one early.

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::store::{Actor, Store};
use crate::{IdentityError, Result};

/// The most grants one listing answers with (newest first).
pub const MAX_GRANTS: usize = 500;

/// One use of break-glass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EmergencyGrant {
    pub id: String,
    pub user_id: String,
    pub email: String,
    pub practice_id: String,
    pub reason: String,
    pub opened_at: String,
    pub expires_at: String,
    /// Ended early by an administrator (RFC 3339).
    pub closed_at: Option<String>,
    /// Still in effect now.
    pub open: bool,
}

impl Store {
    /// The practice's break-glass grants, newest first.
    pub fn emergency_grants(&self, practice: &str) -> Result<Vec<EmergencyGrant>> {
        let now = self.now();
        self.tx(|tx| {
            let mut st = tx.prepare(
                "SELECT g.id, g.user_id, u.email, g.practice_id, g.reason, g.opened_at, g.expires_at, g.closed_at
                 FROM emergency_grants g JOIN users u ON u.id = g.user_id
                 WHERE g.practice_id = ?1 ORDER BY g.id DESC LIMIT ?2",
            )?;
            let limit = i64::try_from(MAX_GRANTS).unwrap_or(i64::MAX);
            let rows = st.query_map(params![practice, limit], |r| {
                let id: i64 = r.get(0)?;
                let expires: String = r.get(6)?;
                let closed: Option<String> = r.get(7)?;
                Ok(EmergencyGrant {
                    id: id.to_string(),
                    user_id: r.get(1)?,
                    email: r.get(2)?,
                    practice_id: r.get(3)?,
                    reason: r.get(4)?,
                    opened_at: r.get(5)?,
                    open: closed.is_none() && expires > now,
                    expires_at: expires,
                    closed_at: closed,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Ends an open break-glass grant of the practice now; the person's next request no
    /// longer has it.
    pub fn close_emergency(&self, actor: &Actor, practice: &str, id: &str) -> Result<()> {
        let not_found = || IdentityError::NotFound {
            what: "emergency grant",
            id: id.to_string(),
        };
        let n: i64 = id.parse().map_err(|_| not_found())?;
        let now = self.now();
        self.tx(|tx| {
            let found: Option<(String, Option<String>, String)> = tx
                .query_row(
                    "SELECT user_id, closed_at, expires_at FROM emergency_grants WHERE id = ?1 AND practice_id = ?2",
                    params![n, practice],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((user, closed, expires)) = found else {
                return Err(not_found());
            };
            if closed.is_some() || expires <= now {
                return Err(IdentityError::Invalid(
                    "this emergency access has already ended".into(),
                ));
            }
            tx.execute(
                "UPDATE emergency_grants SET closed_at = ?1 WHERE id = ?2",
                params![now, n],
            )?;
            self.record(
                actor,
                "emergency:close",
                None,
                Some(json!({"user": user, "practice": practice, "grant": id})),
            )?;
            Ok(())
        })
    }
}
