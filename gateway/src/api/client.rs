//! The command line's side of the API: one [`Op`] as one HTTP/1.1 request, over the Unix
//! socket of a gateway on this host (the operator), or to a gateway's listener with a `wg_`
//! key (`--server URL --token ...`), where the request goes through the whole pipeline and the
//! policy decides it like any other.

use std::path::{Path, PathBuf};

use http::{header, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::Value;

use super::ops::Op;

/// Where the API is, and how this client is known to it.
#[derive(Debug, Clone)]
enum Target {
    /// The operator's socket of a gateway on this host.
    Socket(PathBuf),
    /// A gateway's listener (`https://...` or `http://...`), with an API key.
    Server {
        base: String,
        token: String,
        ca: Option<PathBuf>,
    },
}

/// A running gateway to send operations to.
#[derive(Debug, Clone)]
pub struct Client {
    target: Target,
}

/// What the gateway answered, or why it could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the gateway at {path}: {source}")]
    Connect {
        path: String,
        source: std::io::Error,
    },
    #[error("the gateway at {path} broke off: {message}")]
    Exchange { path: String, message: String },
    #[error("{0}")]
    Setup(String),
}

impl Client {
    /// The gateway serving `socket`, if one answers there now.
    pub fn running(socket: &Path) -> Option<Client> {
        std::os::unix::net::UnixStream::connect(socket)
            .ok()
            .map(|_| Client {
                target: Target::Socket(socket.to_path_buf()),
            })
    }

    /// The gateway of the identity database `database`, if it runs: its socket in a folder of
    /// the database's owner (not a link another user could point elsewhere).
    pub fn for_database(database: &Path) -> Option<Client> {
        let socket = super::socket::path_for(database);
        let dir = socket.parent()?;
        super::socket::trusted(dir, database).ok()?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let owner = std::fs::metadata(database).ok()?.uid();
            if std::fs::symlink_metadata(&socket).ok()?.uid() != owner {
                return None;
            }
        }
        Client::running(&socket)
    }

    /// A gateway's listener at `url` (its scheme, host and port), with the API key `token`;
    /// `ca` is the certificate authority to trust instead of the system's.
    pub fn server(url: &str, token: &str, ca: Option<&Path>) -> Result<Client, ClientError> {
        let uri: Uri = url
            .trim_end_matches('/')
            .parse()
            .map_err(|e| ClientError::Setup(format!("`{url}` is not a URL: {e}")))?;
        match (uri.scheme_str(), uri.authority()) {
            (Some("https" | "http"), Some(_)) if uri.path().trim_matches('/').is_empty() => {}
            _ => {
                return Err(ClientError::Setup(format!(
                    "`{url}` must be the gateway's address, e.g. https://gateway.example:8443"
                )))
            }
        }
        if token.trim().is_empty() {
            return Err(ClientError::Setup(
                "--server needs an API key: --token, --token-file or WARDGATE_TOKEN".into(),
            ));
        }
        Ok(Client {
            target: Target::Server {
                base: url.trim_end_matches('/').to_string(),
                token: token.trim().to_string(),
                ca: ca.map(Path::to_path_buf),
            },
        })
    }

    /// Where the gateway is, for messages.
    pub fn place(&self) -> String {
        match &self.target {
            Target::Socket(p) => p.display().to_string(),
            Target::Server { base, .. } => base.clone(),
        }
    }

    /// Sends `op`; the status and the JSON body as the gateway sent them.
    pub fn call(&self, op: &Op) -> Result<(StatusCode, Value), ClientError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| self.broke(e.to_string()))?;
        runtime.block_on(self.send(op))
    }

    fn broke(&self, message: String) -> ClientError {
        ClientError::Exchange {
            path: self.place(),
            message,
        }
    }

    /// Sends `op`; the status and the body as it came (an export's CSV or JSON lines).
    pub fn call_raw(&self, op: &Op) -> Result<(StatusCode, Bytes), ClientError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| self.broke(e.to_string()))?;
        runtime.block_on(self.send_raw(op))
    }

    /// Sends `op` from async code.
    pub async fn send(&self, op: &Op) -> Result<(StatusCode, Value), ClientError> {
        let (status, bytes) = self.send_raw(op).await?;
        let value = serde_json::from_slice(&bytes).map_err(|_| {
            self.broke(format!(
                "answered {status} with something that is not JSON ({} bytes)",
                bytes.len()
            ))
        })?;
        Ok((status, value))
    }

    /// Sends `op` from async code; the body as it came.
    pub async fn send_raw(&self, op: &Op) -> Result<(StatusCode, Bytes), ClientError> {
        let call = op.call();
        let body = call.body.map(|b| b.to_string()).unwrap_or_default();
        let builder = Request::builder()
            .method(call.method)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json");
        let res = match &self.target {
            Target::Socket(socket) => {
                let req = builder
                    .uri(format!(
                        "{}{}",
                        super::socket::ROOT.trim_end_matches('/'),
                        call.path
                    ))
                    .header(header::HOST, "wardgate")
                    .body(Full::new(Bytes::from(body)))
                    .map_err(|e| self.broke(e.to_string()))?;
                let stream = tokio::net::UnixStream::connect(socket)
                    .await
                    .map_err(|source| ClientError::Connect {
                        path: self.place(),
                        source,
                    })?;
                let (mut sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream))
                        .await
                        .map_err(|e| self.broke(e.to_string()))?;
                tokio::spawn(conn);
                sender
                    .send_request(req)
                    .await
                    .map_err(|e| self.broke(e.to_string()))?
            }
            Target::Server { base, token, ca } => {
                let req = builder
                    .uri(format!(
                        "{base}{}{}",
                        super::PREFIX.trim_end_matches('/'),
                        call.path
                    ))
                    .header(header::AUTHORIZATION, format!("Bearer {token}"))
                    .body(Full::new(Bytes::from(body)))
                    .map_err(|e| self.broke(e.to_string()))?;
                let tls = crate::tls::client_config(ca.as_deref()).map_err(ClientError::Setup)?;
                let https = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_tls_config(tls)
                    .https_or_http()
                    .enable_http1()
                    .build();
                let client = hyper_util::client::legacy::Client::builder(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .build(https);
                client
                    .request(req)
                    .await
                    .map_err(|e| self.broke(e.to_string()))?
            }
        };
        let status = res.status();
        let bytes = res
            .into_body()
            .collect()
            .await
            .map_err(|e| self.broke(e.to_string()))?
            .to_bytes();
        Ok((status, bytes))
    }
}
