//! Listeners: TCP accept, TLS handshake under a timeout, HTTP/1.1 and h2 with header limits and
//! header-read timeouts, idle timeouts (tighter for connections that never carried a
//! credential), caps on open connections in all and per client address, HSTS on TLS, graceful
//! shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;

mod limits;

use crate::body::Body;
use crate::proxy::Upstreams;
use crate::state::{Gateway, StartError};
use limits::{idle, Activity, InFlight};
pub use limits::{AddressSlot, AddressSlots, Credentialed};

/// A handler for one listener.
pub trait Handler: Clone + Send + Sync + 'static {
    fn call(
        &self,
        req: Request<Incoming>,
        peer: SocketAddr,
        tls: bool,
    ) -> impl Future<Output = Response<Body>> + Send;
}

/// How a listener treats its connections.
#[derive(Clone)]
pub struct ListenerOptions {
    pub tls: Option<TlsAcceptor>,
    pub http2: bool,
    pub max_header_bytes: usize,
    pub header_timeout: Duration,
    pub handshake_timeout: Duration,
    pub max_connections: usize,
    /// A connection with no request in flight closes after this ...
    pub idle_timeout: Duration,
    /// ... or this, while none of its requests carried a credential.
    pub anonymous_idle_timeout: Duration,
    /// Open connections per client address, shared by every worker of the listener.
    pub per_address: Arc<AddressSlots>,
    /// `Strict-Transport-Security` on TLS responses.
    pub hsts: Option<http::HeaderValue>,
}

impl std::fmt::Debug for ListenerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListenerOptions")
            .field("tls", &self.tls.is_some())
            .field("http2", &self.http2)
            .field("max_header_bytes", &self.max_header_bytes)
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

/// A gateway that is running: its addresses and the switch that stops it.
#[derive(Debug)]
pub struct Running {
    pub addr: SocketAddr,
    pub admin_addr: Option<SocketAddr>,
    pub gateway: Arc<Gateway>,
    stop: watch::Sender<bool>,
    tasks: tokio::task::JoinSet<()>,
    /// Worker threads; they stop when `stop` fires or is dropped.
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, lets open requests finish (up to `grace`), stops upkeep.
    pub async fn shutdown(mut self, grace: Duration) {
        let _ = self.stop.send(true);
        let threads = std::mem::take(&mut self.threads);
        let _ = tokio::time::timeout(grace, async {
            while self.tasks.join_next().await.is_some() {}
            let _ = tokio::task::spawn_blocking(move || {
                for t in threads {
                    let _ = t.join();
                }
            })
            .await;
        })
        .await;
        self.tasks.abort_all();
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| StartError::Listen {
            addr: addr.to_string(),
            error: e.to_string(),
        })
}

/// The gateway as one worker serves it: with that worker's own upstream pools.
#[derive(Clone)]
struct Proxy {
    gateway: Arc<Gateway>,
    upstreams: Arc<Upstreams>,
}

impl Handler for Proxy {
    async fn call(&self, req: Request<Incoming>, peer: SocketAddr, tls: bool) -> Response<Body> {
        self.gateway.handle(req, peer, tls, &self.upstreams).await
    }
}

#[derive(Clone)]
struct Admin(Arc<Gateway>);

impl Handler for Admin {
    async fn call(&self, req: Request<Incoming>, peer: SocketAddr, _tls: bool) -> Response<Body> {
        crate::admin::handle(&self.0, req, peer).await
    }
}

/// The gateway's own work beside the requests: the outbox's delivery, alerts, upkeep.
fn background(
    tasks: &mut tokio::task::JoinSet<()>,
    gateway: &Arc<Gateway>,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    tasks.spawn(crate::mail::run(gateway.clone(), stop.clone()));
    tasks.spawn(crate::alerts::run(gateway.clone(), stop.clone()));
    tasks.spawn(gateway.clone().upkeep(stop));
}

/// Starts the listeners and the background tasks of a built gateway.
pub async fn start(gateway: Arc<Gateway>) -> Result<Running, StartError> {
    let c = &gateway.config().server;
    let tls = match &c.tls {
        Some(files) => Some(TlsAcceptor::from(
            crate::tls::server_config(&files.cert, &files.key, c.http2).map_err(StartError::Tls)?,
        )),
        None => None,
    };
    let options = ListenerOptions {
        tls: tls.clone(),
        http2: c.http2,
        max_header_bytes: c.max_header_bytes,
        header_timeout: c.header_timeout.0,
        handshake_timeout: c.handshake_timeout.0,
        max_connections: c.max_connections,
        idle_timeout: c.idle_timeout.0,
        anonymous_idle_timeout: c.anonymous_idle_timeout.0,
        per_address: AddressSlots::new(
            c.max_connections_per_address,
            gateway.config().network.trusted_proxies.clone(),
        ),
        hsts: (c.hsts_max_age_seconds > 0)
            .then(|| format!("max-age={}", c.hsts_max_age_seconds))
            .and_then(|v| http::HeaderValue::from_str(&v).ok()),
    };
    let (stop, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    let workers = gateway.config().workers();
    let listen_err = |e: std::io::Error| StartError::Listen {
        addr: c.listen.to_string(),
        error: e.to_string(),
    };
    let mut threads = Vec::new();
    let addr = if workers == 0 {
        let listener = bind(c.listen).await?;
        let addr = listener.local_addr().map_err(listen_err)?;
        tasks.spawn(serve(
            listener,
            options.clone(),
            Proxy {
                gateway: gateway.clone(),
                upstreams: gateway.upstreams(),
            },
            stop_rx.clone(),
            Some(gateway.clone()),
        ));
        addr
    } else {
        // One listening socket per worker on the same address (SO_REUSEPORT): the kernel
        // spreads connections, and each worker keeps its connections, requests and upstream
        // connections on one thread.
        let first = reuseport_listener(c.listen).map_err(listen_err)?;
        let addr = first.local_addr().map_err(listen_err)?;
        let mut listeners = vec![first];
        for _ in 1..workers {
            listeners.push(reuseport_listener(addr).map_err(listen_err)?);
        }
        let options = ListenerOptions {
            max_connections: (options.max_connections / workers).max(1),
            ..options.clone()
        };
        for (i, listener) in listeners.into_iter().enumerate() {
            // Each worker its own upstream pools: a request and its upstream connection stay
            // on one event loop.
            let proxy = Proxy {
                gateway: gateway.clone(),
                upstreams: Arc::new(
                    Upstreams::new(&gateway.config().upstreams).map_err(StartError::Upstream)?,
                ),
            };
            let (options, stop) = (options.clone(), stop_rx.clone());
            let thread = std::thread::Builder::new()
                .name(format!("wardgate-worker-{i}"))
                .spawn(move || worker(i, listener, options, proxy, stop))
                .map_err(listen_err)?;
            threads.push(thread);
        }
        addr
    };
    let mut admin_addr = None;
    if let Some(admin) = &gateway.config().admin {
        let listener = bind(admin.listen).await?;
        admin_addr = listener.local_addr().ok();
        let options = ListenerOptions {
            tls: if admin.tls { tls } else { None },
            max_connections: 64,
            per_address: AddressSlots::new(0, Vec::new()),
            ..options
        };
        tasks.spawn(serve(
            listener,
            options,
            Admin(gateway.clone()),
            stop_rx.clone(),
            None,
        ));
    }
    // The operator's socket: the command line administers the running gateway through it. A
    // gateway that cannot bind it still serves, and says so.
    let socket = match crate::api::socket::start(gateway.clone(), stop_rx.clone()) {
        Ok((path, operator)) => {
            tasks.spawn(operator);
            Some(path)
        }
        Err(e) => {
            tracing::warn!(error = %e, "no operator socket: the command line cannot administer this gateway while it runs");
            None
        }
    };
    background(&mut tasks, &gateway, stop_rx);
    tracing::info!(%addr, admin = ?admin_addr, tls = c.tls.is_some(), socket = ?socket, "wardgate is listening");
    Ok(Running {
        addr,
        admin_addr,
        gateway,
        stop,
        tasks,
        threads,
    })
}

/// A listening socket that shares its address with the other workers'.
fn reuseport_listener(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    #[cfg(unix)]
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    socket.listen(1024)?.into_std()
}

/// A worker thread: its own single-threaded event loop serving its listener until `stop`.
fn worker(
    index: usize,
    listener: std::net::TcpListener,
    options: ListenerOptions,
    proxy: Proxy,
    stop: watch::Receiver<bool>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, worker = index, "a worker cannot start its event loop");
            return;
        }
    };
    runtime.block_on(async move {
        match TcpListener::from_std(listener) {
            Ok(listener) => {
                let gauge = Some(proxy.gateway.clone());
                serve(listener, options, proxy, stop, gauge).await;
            }
            Err(e) => tracing::error!(error = %e, worker = index, "a worker cannot listen"),
        }
    });
}

/// Accepts connections until `stop` fires.
pub async fn serve<H: Handler>(
    listener: TcpListener,
    options: ListenerOptions,
    handler: H,
    mut stop: watch::Receiver<bool>,
    gauge: Option<Arc<Gateway>>,
) {
    let slots = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "connection limit reached; closing");
            continue;
        };
        let Some(address_slot) = options.per_address.take(peer.ip()) else {
            tracing::warn!(%peer, "connection limit for this address reached; closing");
            if let Some(g) = &gauge {
                g.metrics().rate_limited.inc();
            }
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let options = options.clone();
        let handler = handler.clone();
        let stop = stop.clone();
        let gauge = gauge.clone();
        connections.spawn(async move {
            if let Some(g) = &gauge {
                g.metrics().connections.inc();
            }
            match &options.tls {
                Some(acceptor) => {
                    match tokio::time::timeout(options.handshake_timeout, acceptor.accept(tcp))
                        .await
                    {
                        Ok(Ok(stream)) => {
                            connection(stream, peer, true, &options, handler, stop).await
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
                None => connection(tcp, peer, false, &options, handler, stop).await,
            }
            if let Some(g) = &gauge {
                g.metrics().connections.dec();
            }
            drop(address_slot);
            drop(slot);
        });
    }
    // Open connections finish their requests (they saw `stop` too).
    while connections.join_next().await.is_some() {}
}

async fn connection<I, H>(
    io: I,
    peer: SocketAddr,
    tls: bool,
    options: &ListenerOptions,
    handler: H,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Handler,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout)
        .max_buf_size(options.max_header_bytes.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(options.max_header_bytes).unwrap_or(u32::MAX))
        .max_concurrent_streams(100)
        .keep_alive_interval(Some(Duration::from_secs(30)));
    let builder = if options.http2 {
        builder
    } else {
        builder.http1_only()
    };
    let activity = Arc::new(Activity {
        in_flight: AtomicUsize::new(0),
        last: Mutex::new(Instant::now()),
        credentialed: AtomicBool::new(false),
    });
    let seen = activity.clone();
    let hsts = options.hsts.clone().filter(|_| tls);
    let service = service_fn(move |req| {
        let handler = handler.clone();
        let seen = seen.clone();
        let hsts = hsts.clone();
        let mut guard = InFlight::new(seen);
        async move {
            let mut res = handler.call(req, peer, tls).await;
            guard.credentialed = res.extensions().get::<Credentialed>().is_some();
            drop(guard);
            if let Some(v) = hsts {
                res.headers_mut()
                    .insert(http::header::STRICT_TRANSPORT_SECURITY, v);
            }
            Ok::<_, Infallible>(res)
        }
    });
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        }
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            finish(conn, peer).await;
        }
        _ = idle(&activity, options) => {
            tracing::debug!(%peer, "idle connection closed");
            conn.as_mut().graceful_shutdown();
            finish(conn, peer).await;
        }
    }
}

/// How long a closing connection may take to finish what it was sending. A client that never
/// reads (an h2 window of zero, a TCP window that stays shut) is cut off after it, with every
/// stream and upstream connection it held.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

async fn finish<F: Future>(conn: std::pin::Pin<&mut F>, peer: SocketAddr) {
    if tokio::time::timeout(CLOSE_GRACE, conn).await.is_err() {
        tracing::debug!(%peer, "a closing connection did not finish in time; dropped");
    }
}
