//! The command line's side of the operator socket: one [`Op`] as one HTTP/1.1 request over
//! the Unix socket of a running gateway.

use std::path::{Path, PathBuf};

use http::{header, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::Value;

use super::ops::Op;

/// A running gateway's operator socket.
#[derive(Debug, Clone)]
pub struct Client {
    socket: PathBuf,
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
}

impl Client {
    /// The gateway serving `socket`, if one answers there now.
    pub fn running(socket: &Path) -> Option<Client> {
        std::os::unix::net::UnixStream::connect(socket)
            .ok()
            .map(|_| Client {
                socket: socket.to_path_buf(),
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
        std::os::unix::net::UnixStream::connect(&socket)
            .ok()
            .map(|_| Client {
                socket: socket.to_path_buf(),
            })
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Sends `op`; the status and the JSON body as the gateway sent them.
    pub fn call(&self, op: &Op) -> Result<(StatusCode, Value), ClientError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| self.broke(e.to_string()))?;
        runtime.block_on(self.exchange(op))
    }

    fn broke(&self, message: String) -> ClientError {
        ClientError::Exchange {
            path: self.socket.display().to_string(),
            message,
        }
    }

    async fn exchange(&self, op: &Op) -> Result<(StatusCode, Value), ClientError> {
        let stream = tokio::net::UnixStream::connect(&self.socket)
            .await
            .map_err(|source| ClientError::Connect {
                path: self.socket.display().to_string(),
                source,
            })?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| self.broke(e.to_string()))?;
        tokio::spawn(conn);
        let call = op.call();
        let body = call.body.map(|b| b.to_string()).unwrap_or_default();
        let req = Request::builder()
            .method(call.method)
            .uri(format!(
                "{}{}",
                super::socket::ROOT.trim_end_matches('/'),
                call.path
            ))
            .header(header::HOST, "wardgate")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| self.broke(e.to_string()))?;
        let res = sender
            .send_request(req)
            .await
            .map_err(|e| self.broke(e.to_string()))?;
        let status = res.status();
        let bytes = res
            .into_body()
            .collect()
            .await
            .map_err(|e| self.broke(e.to_string()))?
            .to_bytes();
        let value = serde_json::from_slice(&bytes).map_err(|e| self.broke(e.to_string()))?;
        Ok((status, value))
    }
}
