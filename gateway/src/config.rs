//! The gateway's configuration: one TOML file, every struct closed to unknown settings, every
//! value parsed into its type, and every section checked so that all problems are reported at
//! once, each with its place in the file.

mod practice;
mod reach;
mod sections;
pub(crate) mod values;

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::de::{DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use serde::Deserializer;
use wardgate_policy::Span as SrcSpan;
use wardgate_policy::{Code, Diagnostic, Diagnostics, Source};

pub use reach::{
    AlertsSection, MailSection, MailSecurity, PublicUrl, Retain, ThresholdSetting, WebhookSetting,
};
pub use sections::{
    Admin, AuditDurability, AuditSection, EncodedSlashes, Geo, IdentitySection, Network,
    NetworkRules, PolicySection, PracticeFrom, PracticeSource, Proxy, RateLimit, Server, Sessions,
    TlsFiles, UnknownCountry, Upstream, WhenFull,
};
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
    /// Where messages to people go (none: links and codes are shown to whoever made them).
    pub mail: Option<MailSection>,
    pub alerts: AlertsSection,
}

const SECTIONS: [&str; 15] = [
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
    "mail",
    "alerts",
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

/// Sections nobody knows, each with the nearest known name.
fn unknown_sections<'k>(text: &str, keys: impl Iterator<Item = &'k String>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for key in keys {
        if !SECTIONS.contains(&key.as_str()) {
            let mut d = Diagnostic::error(
                Code::Config,
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
            out.push(d);
        }
    }
    out
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
                    Code::Config,
                    span_of(&e),
                    e.message().to_string(),
                ));
                return Err(fail(problems, source));
            }
        };
        problems.extend(unknown_sections(text, keys.keys()));
        macro_rules! take {
            ($name:literal, $ty:ty) => {
                match section::<$ty>(text, $name) {
                    Ok(v) => v,
                    Err(e) => {
                        problems.push(Diagnostic::error(
                            Code::Config,
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
        let mail = take!("mail", MailSection);
        let alerts = take!("alerts", AlertsSection);
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
                        Code::Config,
                        SrcSpan::new(0, 1),
                        format!("the `{name}` section is missing"),
                    )
                    .hint(format!(
                        "see `wardgate serve --help` and the README for an example `[{name}]`"
                    )),
                );
            }
        }
        let (Some(mut server), Some(policy), Some(identity), Some(audit), Some(upstreams)) =
            (server, policy, identity, audit, upstreams)
        else {
            return Err(fail(problems, source));
        };
        if let Err(message) = server.pair_tls() {
            problems.push(Diagnostic::error(
                Code::Config,
                key_span(text, "server"),
                message,
            ));
        }
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
            mail,
            alerts: alerts.unwrap_or_default(),
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
            out.push(Diagnostic::error(
                Code::Config,
                key_span(text, key),
                message,
            ));
        };
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
            if admin.tls && self.server.tls.is_none() {
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
        for problem in self.mail.iter().flat_map(MailSection::problems) {
            err("mail", problem);
        }
        for problem in self.alerts.problems() {
            err("alerts", problem);
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
        if let Some(tls) = &mut self.server.tls {
            fix(&mut tls.cert);
            fix(&mut tls.key);
        }
        if let Some(tests) = &mut self.policy.tests {
            fix(tests);
        }
        fix(&mut self.policy.module);
        fix(&mut self.identity.database);
        if let Some(k) = &mut self.identity.secret_key_file {
            fix(k);
        }
        fix(&mut self.audit.dir);
        if let Some(m) = &mut self.mail {
            for p in [&mut m.dir, &mut m.ca, &mut m.password_file]
                .into_iter()
                .flatten()
            {
                fix(p);
            }
        }
        for w in &mut self.alerts.webhook {
            for p in [&mut w.secret_file, &mut w.ca].into_iter().flatten() {
                fix(p);
            }
        }
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
