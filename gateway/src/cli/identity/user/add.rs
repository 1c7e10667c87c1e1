//! What `wardgate user add` takes: the seeds' "Add User" / "Add Provider" form.

use clap::Args;

use crate::api::ops::NewUserBody;

/// What "Add User" / "Add Provider" takes.
#[derive(Debug, Args)]
pub struct AddUser {
    #[arg(long)]
    pub email: String,
    #[arg(long)]
    pub first: String,
    #[arg(long)]
    pub last: String,
    #[arg(long)]
    pub phone: Option<String>,
    /// One or more roles.
    #[arg(long = "role", required = true)]
    pub roles: Vec<String>,
    /// One or more practices.
    #[arg(long = "practice", required = true)]
    pub practices: Vec<String>,
    /// A temporary password (changed at first sign-in); without one a strong one is
    /// generated and shown once.
    #[arg(long)]
    pub password: Option<String>,
    /// Makes the user a provider.
    #[arg(long)]
    pub npi: Option<String>,
    #[arg(long)]
    pub taxonomy: Option<String>,
    /// Provider type (e.g. "Physician").
    #[arg(long)]
    pub provider_type: Option<String>,
    #[arg(long)]
    pub specialty: Option<String>,
    #[arg(long)]
    pub credentials: Option<String>,
    /// Modules activated for a provider.
    #[arg(long = "module")]
    pub modules: Vec<String>,
    /// The roles lapse then (RFC 3339).
    #[arg(long)]
    pub expires: Option<String>,
    /// "Allow emergency access for (Practice)": a practice given with --practice (repeat
    /// for several).
    #[arg(long = "emergency-access", value_name = "PRACTICE")]
    pub emergency_access: Vec<String>,
}

impl From<AddUser> for NewUserBody {
    fn from(a: AddUser) -> NewUserBody {
        NewUserBody {
            email: a.email,
            first_name: a.first,
            last_name: a.last,
            phone: a.phone,
            npi: a.npi,
            taxonomy: a.taxonomy,
            provider_type: a.provider_type,
            specialty: a.specialty,
            credentials: a.credentials,
            modules: a.modules,
            password: a.password,
            roles: a.roles,
            practices: a.practices,
            expires_at: a.expires,
            emergency_access: a.emergency_access,
            ..NewUserBody::default()
        }
    }
}
