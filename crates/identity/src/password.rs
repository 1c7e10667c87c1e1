//! Passwords: argon2id hashes and the practice's password policy.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::{Deserialize, Serialize};

use crate::{IdentityError, Result};

/// "Set minimum length (8+ characters); require mixed case, numbers, special characters."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordPolicy {
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

pub(crate) fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}
