//! The API's one error shape: `{"error", "message", "problems": [{"field", "message"}]}`, with
//! the status a client acts on (400 for bad fields, all of them at once; 403 with the policy's
//! or the store's reason; 404; 409 for a duplicate; 412 for a stale `If-Match`).

use http::StatusCode;
use serde::Serialize;
use serde_json::{json, Value};
use wardgate_identity::IdentityError;

/// One field that is wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

/// Why an API call did nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// A stable snake_case code, e.g. `invalid`, `not_found`.
    pub code: &'static str,
    pub message: String,
    pub problems: Vec<Problem>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            problems: Vec::new(),
        }
    }

    /// Every field problem at once.
    pub fn invalid(problems: Vec<Problem>) -> ApiError {
        let message = match problems.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            many => format!("{} fields are not valid", many.len()),
        };
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid",
            message,
            problems,
        }
    }

    /// One field's problem.
    pub fn field(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::invalid(vec![Problem {
            field: field.into(),
            message: message.into(),
        }])
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no {what}"))
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn body(&self) -> Value {
        json!({"error": self.code, "message": self.message, "problems": self.problems})
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        for p in &self.problems {
            write!(f, "\n  {}: {}", p.field, p.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// Collects field problems; `finish` fails with all of them, or passes.
#[derive(Debug, Default)]
pub struct Problems(Vec<Problem>);

impl Problems {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(Problem {
            field: field.to_string(),
            message: message.into(),
        });
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(self.0))
        }
    }
}

impl From<IdentityError> for ApiError {
    fn from(e: IdentityError) -> ApiError {
        if e.is_constraint() {
            return ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                "that id is taken, or something it names does not exist",
            );
        }
        let message = e.to_string();
        let field = |f: &str| {
            ApiError::invalid(vec![Problem {
                field: f.to_string(),
                message: message.clone(),
            }])
        };
        match e {
            IdentityError::Email(_) => field("email"),
            IdentityError::Npi(_) => field("npi"),
            IdentityError::WeakPassword(_) | IdentityError::PasswordReused => field("password"),
            IdentityError::UnknownRole(..) => field("role"),
            IdentityError::DuplicateUser(_) => {
                ApiError::new(StatusCode::CONFLICT, "duplicate", message)
            }
            IdentityError::NotFound { .. } => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
            }
            IdentityError::Forbidden(_) => ApiError::forbidden(message),
            IdentityError::Invalid(_) => ApiError::new(StatusCode::BAD_REQUEST, "invalid", message),
            IdentityError::BadToken => ApiError::new(StatusCode::BAD_REQUEST, "bad_token", message),
            IdentityError::BadCredentials | IdentityError::LockedOut | IdentityError::BadKey => {
                ApiError::new(StatusCode::CONFLICT, "refused", message)
            }
            IdentityError::Db(_) | IdentityError::Audit(_) => {
                tracing::error!(error = %message, "an administrative change failed in the store");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "the identity store or the audit log could not record the change; nothing was changed",
                )
            }
        }
    }
}
