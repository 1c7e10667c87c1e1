//! `[practice]`: how a request names its practice, read into one variant per way, each with
//! what it needs.

use serde::Deserialize;

use super::values::HeaderName;

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
