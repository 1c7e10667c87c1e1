//! Passwords: argon2id hashes and the practice's password policy.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use serde::{Deserialize, Serialize};

use crate::{IdentityError, Result};

/// "Set minimum length (8+ characters); require mixed case, numbers, special characters."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordPolicy {
    /// At least this many characters (8 to 128).
    pub min_length: usize,
    pub mixed_case: bool,
    pub digit: bool,
    pub special: bool,
    /// How many previous passwords may not be reused.
    pub history: usize,
    /// Days until a password expires (0: never).
    pub max_age_days: u32,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: 12,
            mixed_case: true,
            digit: true,
            special: true,
            history: 5,
            max_age_days: 90,
        }
    }
}

impl PasswordPolicy {
    /// The rules of both: the longer minimum, every requirement of either, the longer
    /// history, the shorter expiry (0, never, is the longest).
    pub fn strictest(&self, other: &PasswordPolicy) -> PasswordPolicy {
        let expiry = match (self.max_age_days, other.max_age_days) {
            (0, d) | (d, 0) => d,
            (a, b) => a.min(b),
        };
        PasswordPolicy {
            min_length: self.min_length.max(other.min_length),
            mixed_case: self.mixed_case || other.mixed_case,
            digit: self.digit || other.digit,
            special: self.special || other.special,
            history: self.history.max(other.history),
            max_age_days: expiry,
        }
    }

    /// Every rule the password breaks, in one message.
    pub fn check(&self, password: &str) -> Result<()> {
        let mut missing = Vec::new();
        if password.chars().count() < self.min_length {
            missing.push(format!("at least {} characters", self.min_length));
        }
        if self.mixed_case
            && !(password.chars().any(char::is_uppercase)
                && password.chars().any(char::is_lowercase))
        {
            missing.push("upper and lower case letters".to_string());
        }
        if self.digit && !password.chars().any(|c| c.is_ascii_digit()) {
            missing.push("a number".to_string());
        }
        if self.special && !password.chars().any(|c| !c.is_alphanumeric()) {
            missing.push("a special character (!@#$...)".to_string());
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(IdentityError::WeakPassword(format!(
                "it needs {}",
                missing.join(", ")
            )))
        }
    }
}

pub(crate) fn hash(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| IdentityError::Invalid(format!("cannot hash the password: {e}")))
}

/// Does the work of one verification against a real hash of the same parameters, for answers
/// that have no hash to check (an unknown account), so they take as long as the others.
pub(crate) fn verify_nothing(password: &str) {
    static DUMMY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    if let Some(h) = DUMMY.get_or_init(|| hash("an unguessable placeholder").ok()) {
        let _ = verify(password, h);
    }
}

/// Checks a password against a stored argon2 hash. The hash's memory is a block kept per
/// thread and reused, so a check costs the same each time - no fresh 19 MiB allocation whose
/// price depends on the allocator's state, which would let timing tell answers apart - and
/// the result is compared in constant time.
pub(crate) fn verify(password: &str, stored: &str) -> bool {
    thread_local! {
        static MEMORY: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let Ok(hash) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return false;
    };
    let (Ok(params), Ok(algorithm)) =
        (Params::try_from(&hash), Algorithm::try_from(hash.algorithm))
    else {
        return false;
    };
    let version = hash
        .version
        .and_then(|v| Version::try_from(v).ok())
        .unwrap_or_default();
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let blocks = params.block_count();
    let argon = Argon2::new(algorithm, version, params);
    let done = MEMORY.with(|m| {
        let Ok(mut memory) = m.try_borrow_mut() else {
            return false;
        };
        memory.resize(blocks, Block::default());
        let memory = memory.get_mut(..blocks).unwrap_or_default();
        argon
            .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, memory)
            .is_ok()
    });
    done && bool::from(subtle::ConstantTimeEq::ct_eq(
        out.as_slice(),
        expected.as_bytes(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verification_matches_the_crate_s_own() {
        let h = hash("Temporary#Pass1").unwrap();
        assert!(verify("Temporary#Pass1", &h));
        assert!(!verify("Temporary#Pass2", &h));
        assert!(!verify("", &h));
        assert!(!verify("Temporary#Pass1", "not a hash"));
        // A hash made elsewhere with other parameters (argon2id, m=4096, t=3, p=1).
        let other = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(4096, 3, 1, None).unwrap(),
        )
        .hash_password(b"pw", &SaltString::generate(&mut OsRng))
        .unwrap()
        .to_string();
        assert!(verify("pw", &other) && !verify("pw2", &other));
        // And the memory kept for the default parameters is reused for them.
        assert!(verify("Temporary#Pass1", &h));
    }
}
