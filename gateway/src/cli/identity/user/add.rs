//! What `wardgate user add` takes: the seeds' "Add User" / "Add Provider" form.

use clap::Args;

use crate::api::ops::{EditBody, NewUserBody};

/// What "Add User" / "Add Provider" takes.
#[derive(Debug, Args)]
pub struct AddUser {
    #[arg(long)]
    pub email: String,
    #[arg(long)]
    pub first: String,
    #[arg(long)]
    pub middle: Option<String>,
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
    #[command(flatten)]
    pub provider: Provider,
    /// Modules activated for a provider.
    #[arg(long = "module")]
    pub modules: Vec<String>,
    /// The location the roles are for (default: the whole practice).
    #[arg(long)]
    pub location: Option<String>,
    /// The roles lapse then (RFC 3339).
    #[arg(long)]
    pub expires: Option<String>,
    /// "Allow emergency access for (Practice)": a practice given with --practice (repeat
    /// for several).
    #[arg(long = "emergency-access", value_name = "PRACTICE")]
    pub emergency_access: Vec<String>,
}

/// A provider's fields ("Add Provider"); an NPI makes the user a provider.
#[derive(Debug, Default, Args)]
pub struct Provider {
    /// The individual NPI (10 digits, check digit).
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
    /// The state license number.
    #[arg(long = "license")]
    pub license_number: Option<String>,
}

/// What "Edit User" changes: only what is given.
#[derive(Debug, Args)]
pub struct EditUser {
    pub user: String,
    #[arg(long)]
    pub email: Option<String>,
    #[arg(long)]
    pub first: Option<String>,
    #[arg(long)]
    pub middle: Option<String>,
    #[arg(long)]
    pub last: Option<String>,
    #[arg(long)]
    pub phone: Option<String>,
    #[command(flatten)]
    pub provider: Provider,
    /// A provider's modules from now on (repeat for several).
    #[arg(long = "module")]
    pub modules: Vec<String>,
    /// "Allow emergency access for (Practice)" (repeat for several).
    #[arg(long = "allow-emergency", value_name = "PRACTICE")]
    pub allow_emergency: Vec<String>,
    /// No more emergency access at this practice (repeat for several).
    #[arg(long = "deny-emergency", value_name = "PRACTICE")]
    pub deny_emergency: Vec<String>,
}

impl From<EditUser> for EditBody {
    fn from(e: EditUser) -> EditBody {
        EditBody {
            email: e.email,
            first_name: e.first,
            middle_name: e.middle,
            last_name: e.last,
            phone: e.phone,
            npi: e.provider.npi,
            taxonomy: e.provider.taxonomy,
            provider_type: e.provider.provider_type,
            specialty: e.provider.specialty,
            credentials: e.provider.credentials,
            license_number: e.provider.license_number,
            modules: (!e.modules.is_empty()).then_some(e.modules),
            allow_emergency: e.allow_emergency,
            deny_emergency: e.deny_emergency,
        }
    }
}

impl From<AddUser> for NewUserBody {
    fn from(a: AddUser) -> NewUserBody {
        NewUserBody {
            email: a.email,
            first_name: a.first,
            middle_name: a.middle,
            last_name: a.last,
            phone: a.phone,
            npi: a.provider.npi,
            taxonomy: a.provider.taxonomy,
            provider_type: a.provider.provider_type,
            specialty: a.provider.specialty,
            credentials: a.provider.credentials,
            license_number: a.provider.license_number,
            modules: a.modules,
            password: a.password,
            roles: a.roles,
            practices: a.practices,
            location: a.location,
            expires_at: a.expires,
            emergency_access: a.emergency_access,
        }
    }
}
