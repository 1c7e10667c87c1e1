//! The key that seals secrets at rest (TOTP seeds), kept outside the database: a copy of the
//! database alone does not give anyone a second factor. AES-256-GCM (ring), a random nonce
//! per seal, the owner's id as associated data so a sealed value cannot be moved to another
//! row.

use std::io::Write;
use std::path::{Path, PathBuf};

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::hmac;

use crate::{IdentityError, Result};

/// The environment variable holding the key itself (64 hex digits).
pub const KEY_ENV: &str = "WARDGATE_SECRET_KEY";
/// The environment variable naming a key file.
pub const KEY_FILE_ENV: &str = "WARDGATE_SECRET_KEY_FILE";

/// What a sealed value starts with.
const SEALED: &str = "sealed1:";

/// What the digest key is derived for (HMAC-SHA256 of this under the secret key): a key of its
/// own, never the sealing key itself.
const DIGEST_LABEL: &[u8] = b"wardgate:secret-key:digest:v1";

/// The sealing key, and a digest key derived from it.
pub struct SecretKey {
    key: LessSafeKey,
    /// Keyed digests of what is stored to be compared, not read back (a request's body).
    digests: hmac::Key,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

fn invalid(what: String) -> IdentityError {
    IdentityError::Invalid(what)
}

impl SecretKey {
    /// A key from 64 hex digits.
    pub fn from_hex(text: &str) -> Result<SecretKey> {
        let bytes = hex::decode(text.trim())
            .ok()
            .filter(|b| b.len() == 32)
            .ok_or_else(|| invalid("a secret key is 64 hex digits (32 bytes)".into()))?;
        let key = UnboundKey::new(&AES_256_GCM, &bytes)
            .map_err(|_| invalid("the secret key is not usable".into()))?;
        let derived = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &bytes), DIGEST_LABEL);
        Ok(SecretKey {
            key: LessSafeKey::new(key),
            digests: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
        })
    }

    /// Reads the key file, or creates it (mode 0600, 32 random bytes in hex) when it does not
    /// exist yet.
    pub fn load_or_create(path: &Path) -> Result<SecretKey> {
        match std::fs::read_to_string(path) {
            Ok(text) => SecretKey::from_hex(&text)
                .map_err(|e| invalid(format!("secret key file {}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; 32];
                getrandom::fill(&mut bytes)
                    .map_err(|e| invalid(format!("no randomness for a secret key: {e}")))?;
                let text = hex::encode(bytes);
                let mut file = wardgate_audit::private::create_file(path).map_err(|e| {
                    invalid(format!(
                        "cannot create secret key file {}: {e}",
                        path.display()
                    ))
                })?;
                file.write_all(text.as_bytes())
                    .and_then(|_| file.sync_all())
                    .map_err(|e| {
                        invalid(format!(
                            "cannot write secret key file {}: {e}",
                            path.display()
                        ))
                    })?;
                SecretKey::from_hex(&text)
            }
            Err(e) => Err(invalid(format!(
                "cannot read secret key file {}: {e}",
                path.display()
            ))),
        }
    }

    /// The key for a database: `WARDGATE_SECRET_KEY` (the key), else the file named by
    /// `WARDGATE_SECRET_KEY_FILE`, else `file` when given, else `<database>.key` beside it.
    pub fn resolve(database: &Path, file: Option<&Path>) -> Result<SecretKey> {
        if let Ok(text) = std::env::var(KEY_ENV) {
            return SecretKey::from_hex(&text).map_err(|e| invalid(format!("{KEY_ENV}: {e}")));
        }
        let path = match std::env::var_os(KEY_FILE_ENV) {
            Some(p) => PathBuf::from(p),
            None => file
                .map(Path::to_path_buf)
                .unwrap_or_else(|| beside(database)),
        };
        SecretKey::load_or_create(&path)
    }

    /// Seals `plain` for the row of `owner`.
    pub(crate) fn seal(&self, owner: &str, plain: &[u8]) -> Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| invalid(format!("no randomness: {e}")))?;
        let mut data = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(owner.as_bytes()),
                &mut data,
            )
            .map_err(|_| invalid("cannot seal a secret".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(format!("{SEALED}{}", hex::encode(out)))
    }

    /// Opens a sealed value of `owner`; `None` when it is not sealed with this key for them.
    pub(crate) fn open(&self, owner: &str, sealed: &str) -> Option<Vec<u8>> {
        let raw = hex::decode(sealed.strip_prefix(SEALED)?).ok()?;
        let (nonce, data) = raw.split_at_checked(NONCE_LEN)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut data = data.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(owner.as_bytes()), &mut data)
            .ok()?;
        Some(plain.to_vec())
    }

    /// A keyed digest (HMAC-SHA256, hex) of `data`: equal for equal data under one key, and
    /// useless to test guesses with for anyone without the key.
    pub(crate) fn digest(&self, data: &[u8]) -> String {
        hex::encode(hmac::sign(&self.digests, data).as_ref())
    }

    /// Whether a stored value is sealed (rather than a seed from before sealing).
    /// Seals seeds stored before they were sealed (databases of earlier versions).
    pub(crate) fn seal_plain_seeds(&self, conn: &mut rusqlite::Connection) -> Result<()> {
        let tx = conn.transaction()?;
        let plain: Vec<(String, String)> = {
            let mut st =
                tx.prepare("SELECT id, totp_secret FROM users WHERE totp_secret IS NOT NULL")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<Vec<(String, String)>>>()?
                .into_iter()
                .filter(|(_, s)| !SecretKey::is_sealed(s))
                .collect()
        };
        for (id, seed) in plain {
            let sealed = match hex::decode(&seed) {
                Ok(bytes) => Some(self.seal(&id, &bytes)?),
                Err(_) => None,
            };
            tx.execute(
                "UPDATE users SET totp_secret = ?1 WHERE id = ?2",
                rusqlite::params![sealed, id],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub(crate) fn is_sealed(value: &str) -> bool {
        value.starts_with(SEALED)
    }
}

/// The default key file of a database: `<database>.key`.
pub fn beside(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_os_string();
    name.push(".key");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_open_only_for_their_owner_and_key() {
        let k = SecretKey::from_hex(&"11".repeat(32)).unwrap();
        let other = SecretKey::from_hex(&"22".repeat(32)).unwrap();
        let sealed = k.seal("u-1", b"seed bytes").unwrap();
        assert!(SecretKey::is_sealed(&sealed));
        assert!(!sealed.contains(&hex::encode(b"seed bytes")));
        assert_eq!(k.open("u-1", &sealed).unwrap(), b"seed bytes");
        assert!(k.open("u-2", &sealed).is_none(), "moved to another user");
        assert!(other.open("u-1", &sealed).is_none(), "another key");
        assert!(k.open("u-1", "sealed1:00").is_none());
        assert!(SecretKey::from_hex("abc").is_err());
    }

    #[test]
    fn digests_are_keyed() {
        let k = SecretKey::from_hex(&"11".repeat(32)).unwrap();
        let other = SecretKey::from_hex(&"22".repeat(32)).unwrap();
        assert_eq!(k.digest(b"request"), k.digest(b"request"));
        assert_ne!(k.digest(b"request"), k.digest(b"another"));
        assert_ne!(k.digest(b"request"), other.digest(b"request"));
        assert_eq!(k.digest(b"request").len(), 64);
    }
}
