//! The gateway's configuration: one TOML file, every struct closed to unknown settings, every
//! value parsed into its type, and every section checked so that all problems are reported at
//! once, each with its place in the file.

pub(crate) mod values;

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::de::{DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use wardgate_policy::diag::Span as SrcSpan;
use wardgate_policy::{Diagnostic, Diagnostics, Source};

pub use values::{
    BindPrefix, CountryCode, HeaderName, Net, PathPrefix, PerMinute, SecretHash, Span, StripHeader,
    UpstreamUrl,
};

/// The whole file.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: Server,
    pub admin: Option<Admin>,
    pub policy: PolicySection,
    pub identity: IdentitySection,
    pub audit: AuditSection,
    pub practice: PracticeSource,
    pub network: Network,
    pub geo: Option<Geo>,
    pub rate_limit: RateLimit,
    pub upstreams: Vec<Upstream>,
    /// Network rules per practice id.
    pub practices: BTreeMap<String, NetworkRules>,
    pub sessions: Sessions,
    pub proxy: Proxy,
}

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

/// `[server]`: the listener clients connect to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    pub listen: SocketAddr,
    /// PEM certificate chain; with `tls_key`. Without both the listener speaks plain HTTP.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
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

/// `[admin]`: metrics, health and policy swaps, on a separate address.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Admin {
    pub listen: SocketAddr,
    /// SHA-256 (hex) of the admin API key, sent as `Authorization: Bearer <key>`.
    pub api_key_sha256: SecretHash,
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
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditDurability {
    #[default]
    Batched,
    Group,
}

/// `[practice]`: how a request names the practice it is for, and what that way needs
/// (`from` says which; a missing or misplaced setting is an error when the file is read).
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawPracticeSource")]
pub enum PracticeSource {
    /// The one practice behind this gateway.
    Fixed { id: String },
    /// A header names it.
    Header { header: HeaderName },
    /// A path segment, 1-based (`/p/{practice}/...` is 2).
    Path { segment: std::num::NonZeroUsize },
    /// The first label of the host under this domain.
    Host { domain: String },
}

/// `[practice]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPracticeSource {
    from: PracticeFrom,
    header: Option<HeaderName>,
    id: Option<String>,
    segment: Option<usize>,
    domain: Option<String>,
}

impl TryFrom<RawPracticeSource> for PracticeSource {
    type Error = String;
    fn try_from(r: RawPracticeSource) -> Result<Self, String> {
        let needs = |what: &str| format!("from = \"{}\" needs {what}", r.from.as_str());
        let source = match r.from {
            PracticeFrom::Fixed => PracticeSource::Fixed {
                id: r.id.clone().ok_or_else(|| needs("id"))?,
            },
            PracticeFrom::Header => PracticeSource::Header {
                header: r.header.clone().ok_or_else(|| needs("header"))?,
            },
            PracticeFrom::Path => PracticeSource::Path {
                segment: r
                    .segment
                    .and_then(std::num::NonZeroUsize::new)
                    .ok_or_else(|| needs("segment (1 or more)"))?,
            },
            PracticeFrom::Host => PracticeSource::Host {
                domain: r.domain.clone().ok_or_else(|| needs("domain"))?,
            },
        };
        let extra = [
            ("header", r.header.is_some(), PracticeFrom::Header),
            ("id", r.id.is_some(), PracticeFrom::Fixed),
            ("segment", r.segment.is_some(), PracticeFrom::Path),
            ("domain", r.domain.is_some(), PracticeFrom::Host),
        ]
        .into_iter()
        .find(|(_, set, owner)| *set && *owner != r.from);
        match extra {
            Some((name, _, owner)) => Err(format!(
                "`{name}` is for from = \"{}\", not \"{}\"",
                owner.as_str(),
                r.from.as_str()
            )),
            None => Ok(source),
        }
    }
}

/// Which way a practice is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PracticeFrom {
    Fixed,
    Header,
    Path,
    Host,
}

impl PracticeFrom {
    fn as_str(self) -> &'static str {
        match self {
            PracticeFrom::Fixed => "fixed",
            PracticeFrom::Header => "header",
            PracticeFrom::Path => "path",
            PracticeFrom::Host => "host",
        }
    }
}

impl PracticeSource {
    pub fn from(&self) -> PracticeFrom {
        match self {
            PracticeSource::Fixed { .. } => PracticeFrom::Fixed,
            PracticeSource::Header { .. } => PracticeFrom::Header,
            PracticeSource::Path { .. } => PracticeFrom::Path,
            PracticeSource::Host { .. } => PracticeFrom::Host,
        }
    }
}

impl Default for PracticeSource {
    fn default() -> Self {
        PracticeSource::Header {
            header: HeaderName(http::HeaderName::from_static("x-wardgate-practice")),
        }
    }
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

const SECTIONS: [&str; 13] = [
    "server",
    "admin",
    "policy",
    "identity",
    "audit",
    "practice",
    "network",
    "geo",
    "rate_limit",
    "upstream",
    "practices",
    "sessions",
    "proxy",
];

/// Reads one top-level section of the document, skipping the others, so a mistake in one
/// section does not hide the mistakes in the next.
fn section<T: DeserializeOwned>(
    text: &str,
    name: &'static str,
) -> Result<Option<T>, toml::de::Error> {
    struct Pick<T>(&'static str, PhantomData<T>);
    impl<'de, T: DeserializeOwned> Visitor<'de> for Pick<T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a table")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<T>, A::Error> {
            let mut out = None;
            while let Some(key) = map.next_key::<String>()? {
                if key == self.0 {
                    out = Some(map.next_value::<T>()?);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(out)
        }
    }
    toml::Deserializer::new(text).deserialize_map(Pick(name, PhantomData))
}

fn span_of(e: &toml::de::Error) -> SrcSpan {
    e.span()
        .map(|r| SrcSpan::new(r.start, r.end.max(r.start + 1)))
        .unwrap_or(SrcSpan::new(0, 1))
}

/// Where `key` is first written as a table header or a top-level key.
fn key_span(text: &str, key: &str) -> SrcSpan {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        let indent = line.len() - t.len();
        let bare = t.trim_start_matches('[').trim_start();
        if bare.starts_with(key) {
            let at = offset + indent + (t.len() - bare.len());
            return SrcSpan::new(at, at + key.len());
        }
        offset += line.len();
    }
    SrcSpan::new(0, 1)
}

impl Config {
    /// Worker threads for client connections (`[server] workers`, default one per CPU).
    pub fn workers(&self) -> usize {
        self.server.workers.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
    }

    /// Reads and checks a configuration file. Relative paths in it are relative to its folder.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut config =
            Config::parse(&path.display().to_string(), &text).map_err(ConfigError::Invalid)?;
        config.resolve_paths(base);
        Ok(config)
    }

    /// Parses configuration text; `name` is used in messages.
    pub fn parse(name: &str, text: &str) -> Result<Config, Box<Diagnostics>> {
        let source = Source::new(name, text);
        let mut problems = Vec::new();
        let fail = |problems: Vec<Diagnostic>, source: Source| {
            Box::new(Diagnostics {
                source,
                items: problems,
            })
        };
        // The document itself: syntax, and sections nobody knows.
        let keys: BTreeMap<String, IgnoredAny> = match toml::from_str(text) {
            Ok(k) => k,
            Err(e) => {
                problems.push(Diagnostic::error(
                    "config",
                    span_of(&e),
                    e.message().to_string(),
                ));
                return Err(fail(problems, source));
            }
        };
        for key in keys.keys() {
            if !SECTIONS.contains(&key.as_str()) {
                let mut d = Diagnostic::error(
                    "config",
                    key_span(text, key),
                    format!("unknown section `{key}`"),
                );
                if let Some(best) = SECTIONS
                    .iter()
                    .min_by_key(|s| strsim::levenshtein(s, key))
                    .filter(|s| strsim::levenshtein(s, key) <= 2)
                {
                    d = d.hint(format!("did you mean `{best}`?"));
                }
                problems.push(d);
            }
        }
        macro_rules! take {
            ($name:literal, $ty:ty) => {
                match section::<$ty>(text, $name) {
                    Ok(v) => v,
                    Err(e) => {
                        problems.push(Diagnostic::error(
                            "config",
                            span_of(&e),
                            format!("[{}] {}", $name, e.message()),
                        ));
                        None
                    }
                }
            };
        }
        let server = take!("server", Server);
        let admin = take!("admin", Admin);
        let policy = take!("policy", PolicySection);
        let identity = take!("identity", IdentitySection);
        let audit = take!("audit", AuditSection);
        let practice = take!("practice", PracticeSource);
        let network = take!("network", Network);
        let geo = take!("geo", Geo);
        let rate_limit = take!("rate_limit", RateLimit);
        let upstreams = take!("upstream", Vec<Upstream>);
        let practices = take!("practices", BTreeMap<String, NetworkRules>);
        let sessions = take!("sessions", Sessions);
        let proxy = take!("proxy", Proxy);
        for (name, present) in [
            ("server", keys.contains_key("server")),
            ("policy", keys.contains_key("policy")),
            ("identity", keys.contains_key("identity")),
            ("audit", keys.contains_key("audit")),
            ("upstream", keys.contains_key("upstream")),
        ] {
            if !present {
                problems.push(
                    Diagnostic::error(
                        "config",
                        SrcSpan::new(0, 1),
                        format!("the `{name}` section is missing"),
                    )
                    .hint(format!(
                        "see `wardgate serve --help` and the README for an example `[{name}]`"
                    )),
                );
            }
        }
        let (Some(server), Some(policy), Some(identity), Some(audit), Some(upstreams)) =
            (server, policy, identity, audit, upstreams)
        else {
            return Err(fail(problems, source));
        };
        // The rules across fields are checked too, over the sections that did read (the
        // others as their defaults), so every problem is reported at once.
        let config = Config {
            server,
            admin,
            policy,
            identity,
            audit,
            practice: practice.unwrap_or_default(),
            network: network.unwrap_or_default(),
            geo,
            rate_limit: rate_limit.unwrap_or_default(),
            upstreams,
            practices: practices.unwrap_or_default(),
            sessions: sessions.unwrap_or_default(),
            proxy: proxy.unwrap_or_default(),
        };
        problems.extend(config.validate(text));
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(fail(problems, source))
        }
    }

    /// Rules that span fields.
    fn validate(&self, text: &str) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let mut err = |key: &str, message: String| {
            out.push(Diagnostic::error("config", key_span(text, key), message));
        };
        if self.server.tls_cert.is_some() != self.server.tls_key.is_some() {
            err(
                "server",
                "[server] needs both tls_cert and tls_key, or neither".into(),
            );
        }
        if self.server.max_header_bytes < 8192 {
            err(
                "max_header_bytes",
                "[server] max_header_bytes must be at least 8192".into(),
            );
        }
        if let Some(admin) = &self.admin {
            if admin.listen == self.server.listen && admin.listen.port() != 0 {
                err(
                    "admin",
                    "[admin] must listen on another address than [server]".into(),
                );
            }
            if !admin.tls && !admin.listen.ip().is_loopback() {
                err(
                    "admin",
                    format!(
                        "[admin] listens on {}, beyond this machine, without TLS: set tls = true or listen on 127.0.0.1",
                        admin.listen
                    ),
                );
            }
            if admin.tls && self.server.tls_cert.is_none() {
                err(
                    "admin",
                    "[admin] tls needs [server] tls_cert and tls_key".into(),
                );
            }
        }
        if let Some(geo) = &self.geo {
            if !geo.allow_countries.is_empty() && !geo.block_countries.is_empty() {
                err(
                    "geo",
                    "[geo] has both allow_countries and block_countries; use one".into(),
                );
            }
        }
        let sess = &self.sessions;
        if sess.idle.0 > sess.absolute.0 {
            err("sessions", "[sessions] idle is longer than absolute".into());
        }
        if self.upstreams.is_empty() {
            err("upstream", "at least one [[upstream]] is needed".into());
        }
        let mut names = std::collections::BTreeSet::new();
        for u in &self.upstreams {
            if !names.insert(u.name.as_str()) {
                err(&u.name, format!("two upstreams are named `{}`", u.name));
            }
            if u.prefix.is_none() && u.host.is_none() {
                err(
                    &u.name,
                    format!("upstream `{}` needs a prefix or a host", u.name),
                );
            }
            if u.ca.is_some() && !u.url.tls {
                err(
                    &u.name,
                    format!("upstream `{}` has a ca but an http:// url", u.name),
                );
            }
        }
        out
    }

    fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        for p in [
            &mut self.server.tls_cert,
            &mut self.server.tls_key,
            &mut self.policy.tests,
        ]
        .into_iter()
        .flatten()
        {
            fix(p);
        }
        fix(&mut self.policy.module);
        fix(&mut self.identity.database);
        if let Some(k) = &mut self.identity.secret_key_file {
            fix(k);
        }
        fix(&mut self.audit.dir);
        if let Some(g) = &mut self.geo {
            fix(&mut g.database);
        }
        for u in &mut self.upstreams {
            if let Some(ca) = &mut u.ca {
                fix(ca);
            }
        }
    }
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error("{0}")]
    Invalid(Box<Diagnostics>),
}

#[cfg(test)]
mod tests;
