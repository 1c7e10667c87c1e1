//! The sections of the configuration file, each a closed struct whose values are parsed into
//! their types as the file is read, with their defaults.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

pub use super::practice::{PracticeFrom, PracticeSource};
use super::values::{
    BindPrefix, CountryCode, Net, PathPrefix, PerMinute, SecretHash, Span, StripHeader, UpstreamUrl,
};

/// `[proxy]`: what the gateway forwards.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proxy {
    /// Request headers never forwarded from a client: names compared case-folded with `_`
    /// and `-` as one; a trailing `*` matches every name starting so. The gateway sets its own
    /// identity and forwarding headers after removing these.
    #[serde(default = "default_strip_headers")]
    pub strip_headers: Vec<StripHeader>,
    /// Paths with an encoded `/` or `\`, a raw `\`, or an encoded dot segment: refused (400)
    /// by default, so the path the policy decided is the path the app serves; `pass` forwards
    /// them as sent (for apps that need encoded slashes in a segment).
    #[serde(default)]
    pub encoded_slashes: EncodedSlashes,
}

impl Default for Proxy {
    fn default() -> Self {
        Proxy {
            strip_headers: default_strip_headers(),
            encoded_slashes: EncodedSlashes::default(),
        }
    }
}

fn default_strip_headers() -> Vec<StripHeader> {
    [
        "x-wardgate*",
        "x-forwarded*",
        "forwarded",
        "x-real-ip",
        "true-client-ip",
        "x-client-ip",
        "cf-connecting-ip",
        "x-cluster-client-ip",
        "fastly-client-ip",
        "x-original-forwarded-for",
    ]
    .iter()
    .filter_map(|s| s.parse().ok())
    .collect()
}

/// What the gateway does with a path whose encoding could make the app see another path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncodedSlashes {
    #[default]
    Refuse,
    Pass,
}

/// `[sessions]`: browser sign-in at the gateway. A practice's security settings in the
/// identity store (idle minutes, maximum hours, sessions per user, required second factor)
/// tighten these.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sessions {
    /// Signed out after this long without a request.
    #[serde(default = "default_idle")]
    pub idle: Span,
    /// Shorter idle timeouts for some roles (the shortest of the roles in effect applies).
    #[serde(default)]
    pub idle_by_role: BTreeMap<String, Span>,
    /// Signed out this long after signing in, whatever happens.
    #[serde(default = "default_absolute")]
    pub absolute: Span,
    /// Live sessions per user (0: no limit).
    #[serde(default = "default_max_sessions")]
    pub max_per_user: u32,
    #[serde(default)]
    pub when_full: WhenFull,
    /// A session is bound to its client's network: this IPv4 prefix (16 to 32) ...
    #[serde(default = "default_v4_prefix")]
    pub bind_ipv4_prefix: BindPrefix<16, 32>,
    /// ... and this IPv6 prefix (48 to 64).
    #[serde(default = "default_v6_prefix")]
    pub bind_ipv6_prefix: BindPrefix<48, 64>,
    /// And to its device (a device cookie and the user agent).
    #[serde(default = "yes")]
    pub bind_device: bool,
    /// Sign-in attempts per client address per minute (over all accounts).
    #[serde(default = "default_login_rate")]
    pub login_per_minute: PerMinute,
    /// Requests per session per minute.
    #[serde(default = "default_rate")]
    pub per_minute: PerMinute,
    /// Where a browser goes after signing in when it came to the sign-in page directly.
    #[serde(default = "default_home")]
    pub home: PathPrefix,
}

/// What a sign-in does when the user already has the most sessions allowed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenFull {
    /// Refuse the new sign-in.
    #[default]
    Refuse,
    /// End the oldest session.
    EndOldest,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions {
            idle: default_idle(),
            idle_by_role: BTreeMap::new(),
            absolute: default_absolute(),
            max_per_user: default_max_sessions(),
            when_full: WhenFull::default(),
            bind_ipv4_prefix: default_v4_prefix(),
            bind_ipv6_prefix: default_v6_prefix(),
            bind_device: true,
            login_per_minute: default_login_rate(),
            per_minute: default_rate(),
            home: default_home(),
        }
    }
}

fn default_home() -> PathPrefix {
    PathPrefix("/".into())
}
fn default_idle() -> Span {
    Span(std::time::Duration::from_secs(15 * 60))
}
fn default_absolute() -> Span {
    Span(std::time::Duration::from_secs(12 * 3600))
}
fn default_max_sessions() -> u32 {
    3
}
fn default_v4_prefix() -> BindPrefix<16, 32> {
    BindPrefix(24)
}
fn default_v6_prefix() -> BindPrefix<48, 64> {
    BindPrefix(64)
}
fn default_login_rate() -> PerMinute {
    PerMinute(std::num::NonZeroU32::MIN.saturating_add(19))
}

/// The listener's certificate chain and private key, PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Server {
    /// Pairs `tls_cert` with `tls_key` into [`Server::tls`]; one without the other is refused.
    pub(super) fn pair_tls(&mut self) -> Result<(), String> {
        self.tls = match (self.tls_cert.take(), self.tls_key.take()) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            _ => return Err("[server] needs both tls_cert and tls_key, or neither".into()),
        };
        Ok(())
    }
}

/// `[server]`: the listener clients connect to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    pub listen: SocketAddr,
    /// The certificate and key, from `tls_cert` and `tls_key` (both or neither); without them
    /// the listener speaks plain HTTP.
    #[serde(skip)]
    pub tls: Option<TlsFiles>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    #[serde(default = "yes")]
    pub http2: bool,
    #[serde(default = "default_max_header_bytes")]
    pub max_header_bytes: usize,
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: u64,
    /// Largest body read to find a resource attribute in JSON.
    #[serde(default = "default_max_json_bytes")]
    pub max_json_body_bytes: usize,
    /// A client must send a request's headers within this (slowloris).
    #[serde(default = "default_header_timeout")]
    pub header_timeout: Span,
    #[serde(default = "default_header_timeout")]
    pub handshake_timeout: Span,
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// `false` forwards without any check: for measuring the proxy alone, never in production.
    #[serde(default = "yes")]
    pub enforce: bool,
    /// A keep-alive connection (HTTP/1.1 or h2) with no request in flight is closed after
    /// this long ...
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout: Span,
    /// ... and this long while none of its requests carried a credential (sign-in pages,
    /// anonymous clients): the tightest limits for the unauthenticated.
    #[serde(default = "default_anonymous_idle_timeout")]
    pub anonymous_idle_timeout: Span,
    /// A request body must arrive within this long in all ...
    #[serde(default = "default_body_timeout")]
    pub body_timeout: Span,
    /// ... with no gap between two pieces longer than this (a slow client holding a
    /// connection open byte by byte).
    #[serde(default = "default_body_gap")]
    pub body_gap_timeout: Span,
    /// The body of a request to the gateway's own pages (sign-in forms) must arrive within this.
    #[serde(default = "default_page_body_timeout")]
    pub page_body_timeout: Span,
    /// Open connections per client address (0: no limit); trusted proxies are not limited.
    #[serde(default = "default_connections_per_address")]
    pub max_connections_per_address: usize,
    /// `Strict-Transport-Security` max-age on every TLS response, in seconds (0: not sent).
    #[serde(default = "default_hsts")]
    pub hsts_max_age_seconds: u64,
    /// Threads accepting and serving client connections, each with its own event loop, its
    /// own listening socket (SO_REUSEPORT) and its own upstream connection pools. Default: one
    /// per CPU; 0 serves on the caller's runtime instead.
    pub workers: Option<usize>,
}

/// `[admin]`: health, metrics and the bootstrap of the first administrator, on a separate
/// address.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Admin {
    pub listen: SocketAddr,
    /// SHA-256 (hex) of the bootstrap key (`Authorization: Bearer <key>`): it creates the
    /// first administrator and nothing else; every use is audited and alerted.
    pub api_key_sha256: SecretHash,
    /// SHA-256 (hex) of the key a metrics scraper sends. Without one, `/metrics` answers on a
    /// loopback address only.
    #[serde(default)]
    pub metrics_key_sha256: Option<SecretHash>,
    /// Serve the admin API over TLS with the server's certificate.
    #[serde(default)]
    pub tls: bool,
}

/// `[policy]`: the module in force.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySection {
    /// A policy source (`.policy`, compiled at start) or a compiled component (`.wasm`).
    pub module: PathBuf,
    /// Policy tests every candidate must pass before it is swapped in.
    pub tests: Option<PathBuf>,
    /// Reload when the file changes, checking this often.
    #[serde(default = "default_watch")]
    pub watch: Option<Span>,
    /// Longest a decision may run.
    #[serde(default = "default_deadline")]
    pub deadline: Span,
}

/// `[identity]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySection {
    pub database: PathBuf,
    /// The key that seals second-factor seeds at rest (64 hex digits), kept outside the
    /// database; created when missing. Default `<database>.key`. `WARDGATE_SECRET_KEY` (the
    /// key) or `WARDGATE_SECRET_KEY_FILE` in the environment take precedence.
    pub secret_key_file: Option<PathBuf>,
}

/// `[audit]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSection {
    pub dir: PathBuf,
    /// `batched`: a decision is queued for the log before the request is forwarded and on disk
    /// within one batch; `group`: forwarded only once it is on disk.
    #[serde(default)]
    pub durability: AuditDurability,
    /// How long records are kept (`6y`: HIPAA asks six years); older closed segments are
    /// deleted after a signed note of where the kept chain begins. None: kept forever.
    pub retain: Option<super::Retain>,
    /// A segment is closed (and archived) at least this often (default a day).
    pub rotate: Option<Span>,
    /// Compress closed segments (gzip; default on).
    #[serde(default = "yes")]
    pub archive: bool,
}

impl AuditSection {
    /// The log's options from these settings.
    pub fn options(&self) -> wardgate_audit::Options {
        let defaults = wardgate_audit::Options::default();
        wardgate_audit::Options {
            archive_closed: self.archive,
            retain_for: self.retain.map(|r| r.0),
            max_segment_age: self.rotate.map(|r| r.0).unwrap_or(defaults.max_segment_age),
            ..defaults
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditDurability {
    #[default]
    Batched,
    Group,
}

/// `[network]`: client addresses.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Proxies whose `X-Forwarded-For` is believed.
    #[serde(default)]
    pub trusted_proxies: Vec<Net>,
    #[serde(flatten)]
    pub rules: NetworkRules,
}

/// Allow and deny lists: a client in `deny` is refused; when `allow` is not empty, a client
/// must be in it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkRules {
    #[serde(default)]
    pub allow: Vec<Net>,
    #[serde(default)]
    pub deny: Vec<Net>,
}

/// `[geo]`: countries, from a MaxMind database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Geo {
    pub database: PathBuf,
    /// Only these countries (when not empty).
    #[serde(default)]
    pub allow_countries: Vec<CountryCode>,
    #[serde(default)]
    pub block_countries: Vec<CountryCode>,
    /// What a client whose country is unknown (private addresses, gaps) gets.
    #[serde(default)]
    pub unknown: UnknownCountry,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownCountry {
    #[default]
    Allow,
    Deny,
}

/// `[rate_limit]`: for keys that do not carry their own rate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    #[serde(default = "default_rate")]
    pub per_minute: PerMinute,
    /// Requests allowed at once after a quiet spell; the rate by default.
    pub burst: Option<PerMinute>,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            per_minute: default_rate(),
            burst: None,
        }
    }
}

/// `[[upstream]]`: a practice app.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upstream {
    pub name: String,
    pub url: UpstreamUrl,
    /// Requests under this path go here ...
    pub prefix: Option<PathPrefix>,
    /// ... or requests for this host.
    pub host: Option<String>,
    /// PEM CA certificates that sign an `https` upstream's certificate.
    pub ca: Option<PathBuf>,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: Span,
    /// Longest wait for the upstream's response headers.
    #[serde(default = "default_upstream_timeout")]
    pub timeout: Span,
}

fn yes() -> bool {
    true
}
fn default_max_header_bytes() -> usize {
    16 * 1024
}
fn default_max_body_bytes() -> u64 {
    10 << 20
}
fn default_max_json_bytes() -> usize {
    64 * 1024
}
fn default_header_timeout() -> Span {
    Span(std::time::Duration::from_secs(10))
}
fn default_max_connections() -> usize {
    10_000
}
fn default_idle_timeout() -> Span {
    Span(std::time::Duration::from_secs(60))
}
fn default_anonymous_idle_timeout() -> Span {
    Span(std::time::Duration::from_secs(15))
}
fn default_body_timeout() -> Span {
    Span(std::time::Duration::from_secs(300))
}
fn default_body_gap() -> Span {
    Span(std::time::Duration::from_secs(15))
}
fn default_page_body_timeout() -> Span {
    Span(std::time::Duration::from_secs(10))
}
fn default_connections_per_address() -> usize {
    256
}
fn default_hsts() -> u64 {
    365 * 86_400
}
fn default_watch() -> Option<Span> {
    Some(Span(std::time::Duration::from_secs(1)))
}
fn default_deadline() -> Span {
    Span(std::time::Duration::from_millis(20))
}
fn default_rate() -> PerMinute {
    PerMinute(std::num::NonZeroU32::MIN.saturating_add(599))
}
fn default_connect_timeout() -> Span {
    Span(std::time::Duration::from_secs(2))
}
fn default_upstream_timeout() -> Span {
    Span(std::time::Duration::from_secs(30))
}
