//! `--server URL` with a key: the command line as a client of a gateway elsewhere, its
//! operations decided by the policy like any request.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use crate::api::client::Client;

#[derive(Debug, Args)]
pub struct Remote {
    /// A gateway's address (e.g. https://gateway.example:8443): send every operation there,
    /// with the API key of --token, decided by the policy like any request.
    #[arg(long, global = true, env = "WARDGATE_SERVER")]
    server: Option<String>,
    /// The API key (`wg_...`) for --server. Prefer WARDGATE_TOKEN or --token-file: a flag is
    /// visible to other users of this machine.
    #[arg(long, global = true, env = "WARDGATE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// A file holding the API key for --server.
    #[arg(long, global = true, conflicts_with = "token")]
    token_file: Option<PathBuf>,
    /// The certificate authority to trust for --server (default: the system's).
    #[arg(long, global = true, env = "WARDGATE_CA")]
    ca: Option<PathBuf>,
}

impl Remote {
    /// Whether `--server` names a gateway.
    pub fn named(&self) -> bool {
        self.server.is_some()
    }

    /// The gateway named by `--server`, if one is.
    pub fn client(&self) -> anyhow::Result<Option<Client>> {
        let Some(server) = &self.server else {
            return Ok(None);
        };
        let token = match (&self.token, &self.token_file) {
            (_, Some(file)) => std::fs::read_to_string(file)
                .with_context(|| format!("cannot read the token file {}", file.display()))?,
            (Some(t), None) => t.clone(),
            (None, None) => String::new(),
        };
        Ok(Some(Client::server(server, &token, self.ca.as_deref())?))
    }
}
