//! Schema migrations, applied in order on open; the applied version lives in `user_version`.

use rusqlite::Connection;

/// Each entry moves the schema one version up.
const MIGRATIONS: &[&str] = &[
    // 1: practices, locations, users, assignments, relations, tokens, keys.
    r#"
    CREATE TABLE practices (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        timezone TEXT NOT NULL,
        modules TEXT NOT NULL DEFAULT '[]',
        created_at TEXT NOT NULL
    );
    CREATE TABLE locations (
        id TEXT PRIMARY KEY,
        practice_id TEXT NOT NULL REFERENCES practices(id),
        name TEXT NOT NULL
    );
    CREATE TABLE users (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL,
        first_name TEXT NOT NULL,
        middle_name TEXT,
        last_name TEXT NOT NULL,
        phone TEXT,
        kind TEXT NOT NULL CHECK (kind IN ('staff', 'provider')),
        npi TEXT,
        taxonomy TEXT,
        provider_type TEXT,
        specialty TEXT,
        credentials TEXT,
        active_modules TEXT NOT NULL DEFAULT '[]',
        status TEXT NOT NULL CHECK (status IN ('active', 'locked', 'disabled', 'unassigned')),
        password_hash TEXT,
        must_change_password INTEGER NOT NULL DEFAULT 1,
        password_changed_at TEXT,
        failed_attempts INTEGER NOT NULL DEFAULT 0,
        emergency_access INTEGER NOT NULL DEFAULT 0,
        last_active_at TEXT,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL
    );
    CREATE UNIQUE INDEX users_email ON users (email);
    CREATE TABLE password_history (
        user_id TEXT NOT NULL REFERENCES users(id),
        hash TEXT NOT NULL,
        changed_at TEXT NOT NULL
    );
    CREATE TABLE assignments (
        id INTEGER PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id),
        role TEXT NOT NULL,
        practice_id TEXT NOT NULL REFERENCES practices(id),
        location_id TEXT REFERENCES locations(id),
        expires_at TEXT,
        granted_by TEXT NOT NULL,
        granted_at TEXT NOT NULL,
        revoked_at TEXT
    );
    CREATE INDEX assignments_user ON assignments (user_id);
    CREATE TABLE relations (
        user_id TEXT NOT NULL REFERENCES users(id),
        patient TEXT NOT NULL,
        relation TEXT NOT NULL CHECK (relation IN ('assigned', 'shared')),
        PRIMARY KEY (user_id, patient, relation)
    );
    CREATE TABLE tokens (
        hash TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id),
        purpose TEXT NOT NULL CHECK (purpose IN ('activation', 'reset')),
        expires_at TEXT NOT NULL,
        used_at TEXT
    );
    CREATE TABLE service_accounts (
        id TEXT PRIMARY KEY,
        practice_id TEXT NOT NULL REFERENCES practices(id),
        roles TEXT NOT NULL DEFAULT '[]',
        created_at TEXT NOT NULL
    );
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES service_accounts(id),
        secret_hash TEXT NOT NULL,
        scopes TEXT NOT NULL,
        networks TEXT NOT NULL DEFAULT '[]',
        rate_per_minute INTEGER,
        expires_at TEXT,
        created_at TEXT NOT NULL,
        revoked_at TEXT,
        last_used_at TEXT,
        uses INTEGER NOT NULL DEFAULT 0
    );
    "#,
    // 2: second factors, emergency access, practice security settings.
    r#"
    ALTER TABLE users ADD COLUMN totp_secret TEXT;
    ALTER TABLE users ADD COLUMN totp_enabled INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE recovery_codes (
        user_id TEXT NOT NULL REFERENCES users(id),
        hash TEXT NOT NULL,
        used_at TEXT
    );
    CREATE TABLE emergency_grants (
        id INTEGER PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id),
        practice_id TEXT NOT NULL REFERENCES practices(id),
        reason TEXT NOT NULL,
        opened_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        closed_at TEXT
    );
    ALTER TABLE practices ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
    "#,
    // 3: browser sessions.
    r#"
    CREATE TABLE sessions (
        hash TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id),
        practice_id TEXT NOT NULL REFERENCES practices(id),
        client TEXT,
        device TEXT,
        created_at TEXT NOT NULL,
        last_seen_at TEXT NOT NULL,
        authenticated_at TEXT NOT NULL,
        mfa INTEGER NOT NULL DEFAULT 0,
        ended_at TEXT,
        end_reason TEXT
    );
    CREATE INDEX sessions_user ON sessions (user_id);
    "#,
    // 4: emergency access per practice ("Allow emergency access for (Practice)"), not a
    // user-wide bit; single-use TOTP steps; temporary throttling instead of a lock.
    r#"
    CREATE TABLE emergency_access (
        user_id TEXT NOT NULL REFERENCES users(id),
        practice_id TEXT NOT NULL REFERENCES practices(id),
        granted_by TEXT NOT NULL,
        granted_at TEXT NOT NULL,
        PRIMARY KEY (user_id, practice_id)
    );
    INSERT OR IGNORE INTO emergency_access (user_id, practice_id, granted_by, granted_at)
        SELECT DISTINCT a.user_id, a.practice_id, 'migration', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
        FROM assignments a JOIN users u ON u.id = a.user_id
        WHERE u.emergency_access = 1 AND a.revoked_at IS NULL;
    ALTER TABLE users DROP COLUMN emergency_access;
    ALTER TABLE users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE users ADD COLUMN locked_until TEXT;
    "#,
    // 5: a provider's license number; what the store remembers of the gateway (the roles of
    // the policy in force, so that role names are checked with no gateway running); the
    // replies of creations made with an `Idempotency-Key`, sealed (they hold secrets shown
    // once).
    r#"
    ALTER TABLE users ADD COLUMN license_number TEXT;
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE idempotency (
        actor TEXT NOT NULL,
        key TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        status INTEGER NOT NULL,
        reply TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (actor, key)
    );
    "#,
    // 6: a second factor being replaced: the new seed and recovery codes wait beside the old
    // ones until the new factor's first code confirms it.
    r#"
    ALTER TABLE users ADD COLUMN totp_pending TEXT;
    ALTER TABLE recovery_codes ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
    "#,
    // 7: reaching people: the outbox (messages queued with the change that causes them,
    // their payload sealed until delivered), when each token was made (for "Forgot
    // password?"'s limit), sign-in codes sent by email, and where each person signs in from.
    r#"
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        channel TEXT NOT NULL CHECK (channel IN ('mail', 'webhook')),
        recipient TEXT NOT NULL,
        template TEXT NOT NULL,
        practice_id TEXT,
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL,
        next_attempt_at TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        sent_at TEXT,
        failed_at TEXT
    );
    CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;
    ALTER TABLE tokens ADD COLUMN created_at TEXT;
    CREATE TABLE email_codes (
        user_id TEXT PRIMARY KEY REFERENCES users(id),
        hash TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        sent_at TEXT NOT NULL,
        window_start TEXT NOT NULL,
        sends INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE sign_in_places (
        user_id TEXT NOT NULL REFERENCES users(id),
        place TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        PRIMARY KEY (user_id, place)
    );
    "#,
];

/// The schema version this build writes.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

/// Applies every migration the database has not seen, each in its own transaction.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(current).unwrap_or(0))
    {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    /// A database of version 3 (user-wide emergency flag, plain seeds) moves to per-practice
    /// grants, and its seeds are sealed when a store opens it.
    #[test]
    fn version_3_moves_emergency_flags_to_practices_and_seeds_are_sealed() {
        let path =
            std::env::temp_dir().join(format!("wardgate-schema-v3-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        {
            let mut conn = Connection::open(&path).unwrap();
            for sql in &MIGRATIONS[..3] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 3).unwrap();
            conn.execute_batch(
                "INSERT INTO practices (id, name, timezone, created_at) VALUES ('p-1', 'A', 'UTC', 'x'), ('p-2', 'B', 'UTC', 'x');
                 INSERT INTO users (id, email, first_name, last_name, kind, status, emergency_access, created_at, created_by, totp_secret, totp_enabled)
                   VALUES ('u-1', 'a@x.com', 'A', 'B', 'staff', 'active', 1, 'x', 'system', '3132333435363738393031323334353637383930', 1),
                          ('u-2', 'b@x.com', 'C', 'D', 'staff', 'active', 0, 'x', 'system', NULL, 0);
                 INSERT INTO assignments (user_id, role, practice_id, granted_by, granted_at) VALUES
                   ('u-1', 'Provider', 'p-1', 'system', 'x'), ('u-2', 'Provider', 'p-1', 'system', 'x');",
            )
            .unwrap();
            migrate(&mut conn).unwrap();
            let rows: Vec<(String, String)> = conn
                .prepare("SELECT user_id, practice_id FROM emergency_access")
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert_eq!(rows, [("u-1".to_string(), "p-1".to_string())]);
        }
        let key = crate::SecretKey::from_hex(&"11".repeat(32)).unwrap();
        struct Nothing;
        impl crate::ChangeSink for Nothing {
            fn record(
                &self,
                _: &crate::Actor,
                _: &str,
                _: Option<serde_json::Value>,
                _: Option<serde_json::Value>,
            ) -> Result<(), String> {
                Ok(())
            }
        }
        let store = crate::Store::open_with_key(&path, Box::new(Nothing), key).unwrap();
        assert!(
            store.has_second_factor("u-1").unwrap(),
            "the seed still opens"
        );
        let conn = Connection::open(&path).unwrap();
        let raw: String = conn
            .query_row("SELECT totp_secret FROM users WHERE id = 'u-1'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert!(raw.starts_with("sealed1:"));
        assert_eq!(store.user("u-1").unwrap().emergency_access, ["p-1"]);
    }
}
