//! Diagnostics: what went wrong in a policy, where, and what to do about it.

use std::fmt;

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor::NoColor, Config};

/// A byte range in a policy source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span {
            start: u32::try_from(start).unwrap_or(u32::MAX),
            end: u32::try_from(end).unwrap_or(u32::MAX),
        }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// Declares [`Code`] once: each variant with its name, and the list of them all, so the list
/// cannot miss one.
macro_rules! policy_codes {
    ($($variant:ident => $name:literal,)*) => {
        /// What kind of problem a diagnostic reports: a stable short name shown with it (e.g.
        /// `unknown-action`), for tools and for the golden corpus, which must show every one.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $($variant,)*
            /// Not the policy's: a problem in the gateway's configuration file, shown the same way.
            Config,
        }

        impl Code {
            /// Every code the policy compiler reports, in the order of the stages that find them.
            pub const POLICY: &'static [Code] = &[$(Code::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $name,)*
                    Code::Config => "config",
                }
            }
        }
    };
}

policy_codes! {
    Syntax => "syntax",
    UnexpectedCharacter => "unexpected-character",
    UnterminatedString => "unterminated-string",
    BadLiteral => "bad-literal",
    BadName => "bad-name",
    ReservedName => "reserved-name",
    MissingHeader => "missing-header",
    DuplicateDefinition => "duplicate-definition",
    UnknownFeature => "unknown-feature",
    UnknownVerb => "unknown-verb",
    UnknownAction => "unknown-action",
    UnknownRole => "unknown-role",
    UnknownAttribute => "unknown-attribute",
    UnknownRelation => "unknown-relation",
    UnknownType => "unknown-type",
    UnknownTimezone => "unknown-timezone",
    TypeMismatch => "type-mismatch",
    BadField => "bad-field",
    BadNetwork => "bad-network",
    BadTimeWindow => "bad-time-window",
    BadRoute => "bad-route",
    OverlappingRoutes => "overlapping-routes",
    ExtendsCycle => "extends-cycle",
    BreakGlassWho => "break-glass-who",
    BreakGlassMax => "break-glass-max",
    TooMany => "too-many",
    NeverFires => "never-fires",
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// One problem found in a policy, with the place it was found and a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: Code,
    pub message: String,
    pub span: Span,
    /// Text shown under the caret.
    pub label: String,
    pub hint: Option<String>,
    /// Other places worth showing (a first definition, the other route).
    pub related: Vec<(Span, String)>,
}

impl Diagnostic {
    pub fn error(code: Code, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            span,
            label: String::new(),
            hint: None,
            related: Vec::new(),
        }
    }

    pub fn warning(code: Code, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, span, message)
        }
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn related(mut self, span: Span, text: impl Into<String>) -> Self {
        self.related.push((span, text.into()));
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// A named policy source text.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub text: String,
    /// Byte offset where each line starts.
    line_starts: Vec<usize>,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Source {
            name: name.into(),
            text,
            line_starts,
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: u32) -> (usize, usize) {
        let offset = (offset as usize).min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts.get(line - 1).copied().unwrap_or(0);
        let col = self
            .text
            .get(start..offset)
            .map_or(0, |l| l.chars().count())
            + 1;
        (line, col)
    }

    /// The source text under a span.
    pub fn snippet(&self, span: Span) -> &str {
        self.text.get(span.range()).unwrap_or("")
    }

    /// Renders diagnostics the way a compiler does: file:line:col, the line, a caret, a hint.
    pub fn render(&self, diagnostics: &[Diagnostic]) -> String {
        let file = SimpleFile::new(self.name.as_str(), self.text.as_str());
        let mut out = NoColor::new(Vec::new());
        let config = Config::default();
        for d in diagnostics {
            let mut labels =
                vec![Label::primary((), clamp(d.span, self.text.len()))
                    .with_message(d.label.clone())];
            for (span, text) in &d.related {
                labels.push(
                    Label::secondary((), clamp(*span, self.text.len())).with_message(text.clone()),
                );
            }
            let base = match d.severity {
                Severity::Error => CsDiagnostic::error(),
                Severity::Warning => CsDiagnostic::warning(),
            };
            let mut cs = base
                .with_code(d.code.as_str())
                .with_message(d.message.clone())
                .with_labels(labels);
            if let Some(hint) = &d.hint {
                cs = cs.with_notes(vec![format!("hint: {hint}")]);
            }
            // Writing into a Vec cannot fail; a rendering error would only lose the pretty form.
            if term::emit(&mut out, &config, &file, &cs).is_err() {
                let (line, col) = self.line_col(d.span.start);
                let _ = std::io::Write::write_fmt(
                    &mut out,
                    format_args!("{}:{line}:{col}: {}\n", self.name, d.message),
                );
            }
        }
        String::from_utf8_lossy(out.get_ref()).into_owned()
    }
}

fn clamp(span: Span, len: usize) -> std::ops::Range<usize> {
    let start = (span.start as usize).min(len);
    let end = (span.end as usize).clamp(start, len);
    start..end
}

/// The diagnostics of a policy that failed to compile.
#[derive(Debug, Clone)]
pub struct Diagnostics {
    pub source: Source,
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.is_error()).count()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source.render(&self.items))
    }
}

impl std::error::Error for Diagnostics {}

/// The closest candidate to a misspelt name, if any is close enough to suggest.
pub fn suggest<'s>(name: &str, candidates: impl IntoIterator<Item = &'s str>) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.to_string())
}
