//! The command line's side of the API: one [`Op`] as one HTTP/1.1 request, over the Unix
//! socket of a gateway on this host (the operator), or to a gateway's listener with a `wg_`
//! key (`--server URL --token ...`), where the request goes through the whole pipeline and the
//! policy decides it like any other.

use std::path::{Path, PathBuf};
use std::time::Duration;

use http::{header, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::Value;

use super::ops::Op;

/// How long reaching the gateway may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one call may take, from connecting to the last byte of a JSON answer (an export's
/// answer must start within it; it may then take as long as it takes to arrive).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The largest JSON answer read (an export's body is not limited).
pub const MAX_ANSWER_BYTES: usize = 64 << 20;

/// Where the API is, and how this client is known to it.
#[derive(Debug, Clone)]
enum Target {
    /// The operator's socket of a gateway on this host.
    Socket(PathBuf),
    /// A gateway's listener (`https://...`, or `http://...` on this host only), with an API key.
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
        // The key travels in every request: in the clear only to this host itself.
        if uri.scheme_str() == Some("http") && !uri.host().is_some_and(is_loopback) {
            return Err(ClientError::Setup(format!(
                "`{url}` is plain http to another host, which would send the API key in the clear; use https:// (http:// is for 127.0.0.1, ::1 or localhost only)"
            )));
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

    /// Sends `op` from async code: the whole call within [`REQUEST_TIMEOUT`], the answer at
    /// most [`MAX_ANSWER_BYTES`].
    pub async fn send(&self, op: &Op) -> Result<(StatusCode, Value), ClientError> {
        let (status, bytes) =
            tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(op, Some(MAX_ANSWER_BYTES)))
                .await
                .map_err(|_| self.timed_out())??;
        let value = serde_json::from_slice(&bytes).map_err(|_| {
            self.broke(format!(
                "answered {status} with something that is not JSON ({} bytes)",
                bytes.len()
            ))
        })?;
        Ok((status, value))
    }

    /// Sends `op` from async code; the body as it came (an export: however long, and however
    /// long it takes once it has started within [`REQUEST_TIMEOUT`]).
    pub async fn send_raw(&self, op: &Op) -> Result<(StatusCode, Bytes), ClientError> {
        self.exchange(op, None).await
    }

    fn timed_out(&self) -> ClientError {
        self.broke(format!(
            "no answer within {} seconds",
            REQUEST_TIMEOUT.as_secs()
        ))
    }

    /// One request: its answer's head within [`REQUEST_TIMEOUT`], then its body, at most
    /// `limit` bytes of it when there is a limit.
    async fn exchange(
        &self,
        op: &Op,
        limit: Option<usize>,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let res = tokio::time::timeout(REQUEST_TIMEOUT, self.request(op))
            .await
            .map_err(|_| self.timed_out())??;
        let status = res.status();
        let body = res.into_body();
        let bytes = match limit {
            Some(limit) => Limited::new(body, limit)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        self.broke(format!("answered with more than {limit} bytes"))
                    } else {
                        self.broke(e.to_string())
                    }
                })?
                .to_bytes(),
            None => body
                .collect()
                .await
                .map_err(|e| self.broke(e.to_string()))?
                .to_bytes(),
        };
        Ok((status, bytes))
    }

    /// Sends the request of `op`; the answer's head.
    async fn request(&self, op: &Op) -> Result<http::Response<hyper::body::Incoming>, ClientError> {
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
                let stream =
                    tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::UnixStream::connect(socket))
                        .await
                        .unwrap_or_else(|_| {
                            Err(std::io::Error::new(
                                std::io::ErrorKind::TimedOut,
                                "connecting timed out",
                            ))
                        })
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
                let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
                // The scheme is the HTTPS connector's to enforce (`server` allows http only to
                // this host).
                http.enforce_http(false);
                http.set_connect_timeout(Some(CONNECT_TIMEOUT));
                let https = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_tls_config(tls)
                    .https_or_http()
                    .enable_http1()
                    .wrap_connector(http);
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
        Ok(res)
    }
}

/// Whether a URL's host is this host itself: `127.0.0.1` (any of 127/8), `[::1]`, `localhost`.
fn is_loopback(host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_reaches_this_host_only() {
        for url in [
            "http://127.0.0.1:8080",
            "http://[::1]:8080",
            "http://localhost:8080",
            "http://LOCALHOST",
            "https://gateway.example:8443",
        ] {
            assert!(Client::server(url, "wg_key", None).is_ok(), "{url}");
        }
        for url in [
            "http://gateway.example:8080",
            "http://10.0.0.5",
            "http://[2001:db8::1]:80",
            "http://localhost.example.com",
        ] {
            let e = Client::server(url, "wg_key", None).err();
            assert!(
                e.as_ref()
                    .is_some_and(|e| e.to_string().contains("https://")),
                "{url}: {e:?}"
            );
        }
    }
}
