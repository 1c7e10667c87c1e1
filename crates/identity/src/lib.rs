//! Wardgate's identity store: practices and locations, users and providers, role assignments
//! per practice or location, API keys for service accounts, and passwords — the user
//! management of the seed documents, on SQLite (WAL, versioned migrations, a transaction for
//! every multi-step change). Every change is handed to a [`ChangeSink`] with before and after.

mod auth;
mod cache;
mod codes;
mod emergency;
mod facts;
mod idempotency;
mod keys;
mod model;
mod outbox;
mod password;
mod schema;
mod secret;
mod security;
mod sessions;
mod store;
mod users;
mod validate;

pub use auth::{totp, TotpEnrollment};
pub use codes::{CodeSent, CODES_PER_HOUR, CODE_ATTEMPTS, CODE_MINUTES, RESETS_PER_HOUR};
pub use emergency::{EmergencyGrant, MAX_GRANTS};
pub use facts::{ScopedFacts, SessionFacts};
pub use idempotency::{Remembered, KEPT_FOR_HOURS};
pub use keys::{IssuedKey, NewKey};
pub use model::{Assignment, KeyInfo, Location, Practice, SessionInfo, User, UserKind, UserStatus};
pub use outbox::{Channel, MessageInfo, NewMessage, Outgoing};
pub use password::PasswordPolicy;
pub use schema::VERSION as SCHEMA_VERSION;
pub use secret::{SecretKey, KEY_ENV, KEY_FILE_ENV};
pub use security::{SecondFactor, SecuritySettings};
pub use store::{Actor, ActorKind, ChangeSink, Clock, Store, SystemClock, DATA_VERSION_TTL};
pub use users::{NewUser, UserEdit, UserFilter};
pub use validate::{valid_email, valid_npi};

/// Why an identity operation was refused. Nothing is half-written when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("{0} is not a valid email address")]
    Email(String),
    #[error("{0} is not a valid NPI (10 digits with a Luhn check digit over 80840)")]
    Npi(String),
    #[error("the password is too weak: {0}")]
    WeakPassword(String),
    #[error("the password was used recently; choose another")]
    PasswordReused,
    #[error("a user with email {0} already exists (active or locked)")]
    DuplicateUser(String),
    #[error("unknown role \"{0}\"; the policy has: {1}")]
    UnknownRole(String, String),
    #[error("no {what} `{id}`")]
    NotFound { what: &'static str, id: String },
    #[error("not allowed: {0}")]
    Forbidden(String),
    #[error("{0}")]
    Invalid(String),
    #[error("the sign-in was refused")]
    BadCredentials,
    #[error(
        "the account is locked after too many failed sign-ins; an administrator can unlock it"
    )]
    LockedOut,
    #[error("the token is unknown, used or expired")]
    BadToken,
    #[error("the API key is unknown, revoked or expired")]
    BadKey,
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("audit: {0}")]
    Audit(String),
}

pub type Result<T> = std::result::Result<T, IdentityError>;

impl IdentityError {
    /// A uniqueness or reference rule of the database refused the change (a duplicate id, a
    /// practice that does not exist): the caller's mistake, not the store's fault.
    pub fn is_constraint(&self) -> bool {
        matches!(
            self,
            IdentityError::Db(rusqlite::Error::SqliteFailure(f, _))
                if f.code == rusqlite::ErrorCode::ConstraintViolation
        )
    }
}
