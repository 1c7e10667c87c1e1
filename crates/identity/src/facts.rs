//! What the gateway needs to know of a signed-in user for one request, read in one
//! transaction each: the user, their roles at the practice and an open emergency grant (for
//! the session's rules), and - when a request names a location or a patient - the roles held
//! there and the relations to the patient (for the policy).

use rusqlite::{params, OptionalExtension, Transaction};

use crate::model::User;
use crate::store::Store;
use crate::users::load_user;
use crate::Result;

/// A signed-in user at a practice.
#[derive(Debug, Clone)]
pub struct SessionFacts {
    pub user: User,
    /// Roles in effect at the practice (practice-wide assignments).
    pub roles: Vec<String>,
    /// An open emergency grant there: (reason, opened at).
    pub emergency: Option<(String, String)>,
}

/// What a request about one location or patient adds.
#[derive(Debug, Clone, Default)]
pub struct ScopedFacts {
    /// Roles in effect at the location (practice-wide ones and the location's), when one is
    /// named.
    pub roles_here: Option<Vec<String>>,
    /// `assigned`, `shared`: the user's relations to the patient, when one is named.
    pub relations: Vec<String>,
}

fn roles(
    tx: &Transaction<'_>,
    user: &str,
    practice: &str,
    location: Option<&str>,
    now: &str,
) -> Result<Vec<String>> {
    let status: Option<String> = tx
        .query_row(
            "SELECT status FROM users WHERE id = ?1",
            params![user],
            |r| r.get(0),
        )
        .optional()?;
    match status.as_deref() {
        None => {
            return Err(crate::IdentityError::NotFound {
                what: "user",
                id: user.into(),
            })
        }
        Some("active") => {}
        Some(_) => return Ok(Vec::new()),
    }
    let mut st = tx.prepare_cached(
        "SELECT DISTINCT role FROM assignments WHERE user_id = ?1 AND practice_id = ?2 AND revoked_at IS NULL
         AND (expires_at IS NULL OR expires_at > ?3) AND (location_id IS NULL OR location_id = ?4) ORDER BY role",
    )?;
    let rows = st
        .query_map(params![user, practice, now, location], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

impl Store {
    /// The roles in effect for a user at a practice (and location), now.
    pub fn roles_in_effect(
        &self,
        id: &str,
        practice: &str,
        location: Option<&str>,
    ) -> Result<Vec<String>> {
        let now = self.now();
        self.tx(|tx| roles(tx, id, practice, location, &now))
    }

    /// The user, their roles at the practice and an open emergency grant, in one read.
    pub fn session_facts(&self, user: &str, practice: &str) -> Result<SessionFacts> {
        let now = self.now();
        self.tx(|tx| {
            let u = load_user(tx, user)?;
            let roles = roles(tx, user, practice, None, &now)?;
            let emergency = crate::auth::open_emergency_grant(tx, user, practice, &now)?;
            Ok(SessionFacts {
                user: u,
                roles,
                emergency,
            })
        })
    }

    /// The roles at a location and the relations to a patient, in one read; nothing is read
    /// for what the request does not name.
    pub fn scoped_facts(
        &self,
        user: &str,
        practice: &str,
        location: Option<&str>,
        patient: Option<&str>,
    ) -> Result<ScopedFacts> {
        if location.is_none() && patient.is_none() {
            return Ok(ScopedFacts::default());
        }
        let now = self.now();
        self.tx(|tx| {
            let roles_here = match location {
                Some(l) => Some(roles(tx, user, practice, Some(l), &now)?),
                None => None,
            };
            let relations = match patient {
                Some(p) => crate::auth::relations_of(tx, user, p)?,
                None => Vec::new(),
            };
            Ok(ScopedFacts {
                roles_here,
                relations,
            })
        })
    }
}
