//! The operator's way in: the API over a Unix socket in a folder only the gateway's user can
//! enter (0700, the socket 0600), beside the identity database. Whoever connects is the
//! host's operator, named by the peer's operating-system user; every call is audited.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{UnixListener, UnixStream};
use wardgate_audit::{Event, EventKind, Verdict};
use wardgate_identity::Actor;

use super::run::Caller;
use crate::body::{Body, BoxError};
use crate::state::Gateway;

/// The API root on the socket.
pub const ROOT: &str = "/v1/";

/// Where the socket of the gateway whose identity database is `database` lives.
pub fn path_for(database: &Path) -> PathBuf {
    database
        .parent()
        .unwrap_or(Path::new("."))
        .join("run")
        .join("wardgate.sock")
}

/// The socket's folder must be a real folder (not a link) owned by whoever owns the identity
/// database, so that nobody else can put another socket in its place.
pub fn trusted(dir: &Path, database: &Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(dir)?;
    if !meta.is_dir() {
        return Err(std::io::Error::other(format!(
            "{} is a link or not a folder; the operator socket needs a folder of its own",
            dir.display()
        )));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let owner = std::fs::metadata(database).map(|m| m.uid())?;
        if meta.uid() != owner {
            return Err(std::io::Error::other(format!(
                "{} belongs to another user than {}",
                dir.display(),
                database.display()
            )));
        }
    }
    Ok(())
}

/// Binds the socket (replacing a stale one); the future serves it until `stop` fires, then
/// removes it.
pub fn start(
    gw: Arc<Gateway>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<(PathBuf, impl std::future::Future<Output = ()>)> {
    let database = &gw.config().identity.database;
    let path = path_for(database);
    let dir = path.parent().unwrap_or(Path::new("."));
    wardgate_audit::private::create_dir(dir)?;
    trusted(dir, database)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    if let Ok(meta) = std::fs::symlink_metadata(&path) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileTypeExt;
            if !meta.file_type().is_socket() {
                return Err(std::io::Error::other(format!(
                    "{} is not a socket; not replacing it",
                    path.display()
                )));
            }
        }
        if std::os::unix::net::UnixStream::connect(&path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("{} is served by another gateway", path.display()),
            ));
        }
        std::fs::remove_file(&path)?;
    }
    let listener = UnixListener::bind(&path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    let served = path.clone();
    let task = async move {
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        tokio::spawn(connection(gw.clone(), stream));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "the operator socket failed to accept");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                },
                _ = stop.changed() => break,
            }
        }
        let _ = std::fs::remove_file(&served);
    };
    Ok((path, task))
}

async fn connection(gw: Arc<Gateway>, stream: UnixStream) {
    let operator = match stream.peer_cred() {
        Ok(cred) => user_name(cred.uid()),
        Err(_) => return,
    };
    let service = service_fn(move |req: Request<Incoming>| {
        let gw = gw.clone();
        let operator = operator.clone();
        async move { Ok::<_, std::convert::Infallible>(handle(gw, operator, req).await) }
    });
    let served = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
    if let Err(e) = served {
        tracing::debug!(error = %e, "an operator connection ended");
    }
}

async fn handle(gw: Arc<Gateway>, operator: String, req: Request<Incoming>) -> Response<Body> {
    let actor = Actor::operator(&operator);
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let Some(below) = path.strip_prefix(ROOT.trim_end_matches('/')) else {
        return super::error(&super::error::ApiError::not_found(
            "such path; the API is /v1/",
        ));
    };
    let below = below.to_string();
    if req.method() == http::Method::GET && below == "/openapi.json" {
        return super::openapi("/v1");
    }
    let req = req.map(|b| -> Body { b.map_err(BoxError::from).boxed() });
    let caller = Caller::operator(actor.clone());
    let res = super::serve(&gw, caller, req, below).await;
    // Reads as well as changes: what the operator looked at is on record too.
    let mut e = Event::new(
        EventKind::Decision,
        wardgate_audit::Actor::new(wardgate_audit::ActorKind::Operator, &actor.id),
        format!("operator:{}", method.to_ascii_lowercase()),
    );
    e.resource.path = Some(path);
    let verdict = if res.status().is_success() {
        Verdict::Allow
    } else {
        Verdict::Deny
    };
    e.decision = Some(wardgate_audit::DecisionSummary {
        verdict,
        reasons: vec![format!("status_{}", res.status().as_u16())],
    });
    if let Err(err) = gw.audit().try_append(e) {
        tracing::error!(error = %err, "an operator call could not be audited");
    }
    res
}

/// The name of an operating-system user, from `/etc/passwd`; `uid:<n>` when it has none.
pub fn user_name(uid: u32) -> String {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let mut fields = line.split(':');
                let name = fields.next()?;
                let id = fields.nth(1)?;
                (id.parse::<u32>().ok()? == uid).then(|| name.to_string())
            })
        })
        .unwrap_or_else(|| format!("uid:{uid}"))
}
