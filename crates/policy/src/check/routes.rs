//! Route checks: path patterns, attribute bindings, and routes that overlap.

use super::{suggest, Checker};
use crate::ast::{Ident, RouteDecl};
use crate::diag::{Code, Diagnostic};
use crate::ir::{BindSource, BindTarget, Route, RouteBind, Segment};

const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// How two route patterns relate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlap {
    Disjoint,
    Same,
    /// The first is more specific at the first segment where they differ; it wins.
    FirstWins,
    SecondWins,
    /// Each is more specific somewhere: a path can match both with no clear winner.
    Ambiguous,
}

pub fn overlap(a: &[Segment], b: &[Segment]) -> Overlap {
    if a.len() != b.len() {
        return Overlap::Disjoint;
    }
    let mut first = None;
    let mut a_more = false;
    let mut b_more = false;
    for (x, y) in a.iter().zip(b) {
        match (x, y) {
            (Segment::Literal(p), Segment::Literal(q)) if p != q => return Overlap::Disjoint,
            (Segment::Literal(_), Segment::Param(_)) => {
                a_more = true;
                first.get_or_insert(Overlap::FirstWins);
            }
            (Segment::Param(_), Segment::Literal(_)) => {
                b_more = true;
                first.get_or_insert(Overlap::SecondWins);
            }
            _ => {}
        }
    }
    match (a_more, b_more) {
        (false, false) => Overlap::Same,
        (true, true) => Overlap::Ambiguous,
        _ => first.unwrap_or(Overlap::Same),
    }
}

impl Checker<'_> {
    pub(super) fn routes(&mut self, decls: &[&RouteDecl]) {
        let mut checked: Vec<(&RouteDecl, Route)> = Vec::new();
        for decl in decls {
            if let Some(route) = self.route(decl) {
                for (other_decl, other) in &checked {
                    if other.method != route.method {
                        continue;
                    }
                    match overlap(&other.segments, &route.segments) {
                        Overlap::Disjoint => {}
                        kind @ (Overlap::Same | Overlap::Ambiguous) => {
                            let (what, label, hint) = if kind == Overlap::Same {
                                ("matches exactly the same paths as", "same pattern shape", "remove one, or tell them apart with a literal segment")
                            } else {
                                ("overlaps", "some paths match both", "make one route more specific in every segment where they differ")
                            };
                            let tail = if kind == Overlap::Same { "" } else { " with no clear winner" };
                            self.error(
                                Diagnostic::error(
                                    Code::OverlappingRoutes,
                                    decl.path.span,
                                    format!("route {} {} {what} line {}{tail}", route.method, route.pattern, other.line),
                                )
                                .label(label)
                                .related(other_decl.path.span, "the other route")
                                .hint(hint),
                            )
                        }
                        Overlap::FirstWins | Overlap::SecondWins => self.diags.push(
                            Diagnostic::warning(
                                Code::OverlappingRoutes,
                                decl.path.span,
                                format!("route {} {} overlaps line {}", route.method, route.pattern, other.line),
                            )
                            .label("some paths match both")
                            .related(other_decl.path.span, "the other route")
                            .hint("the route with a literal segment where the other has a parameter wins"),
                        ),
                    }
                }
                checked.push((decl, route));
            }
        }
        self.policy.routes = checked.into_iter().map(|(_, r)| r).collect();
    }

    fn route(&mut self, decl: &RouteDecl) -> Option<Route> {
        let method = decl.method.name.to_ascii_uppercase();
        if !METHODS.contains(&method.as_str()) {
            self.error(
                Diagnostic::error(
                    Code::BadRoute,
                    decl.method.span,
                    format!("`{}` is not an HTTP method", decl.method.name),
                )
                .label("unknown method")
                .hint(format!("one of {}", METHODS.join(", "))),
            );
        }
        let segments = match crate::ir::segments(&decl.path.name) {
            Ok(s) => s,
            Err(bad) => {
                self.error(
                    Diagnostic::error(
                        Code::BadRoute,
                        decl.path.span,
                        format!("bad path segment `{bad}`"),
                    )
                    .label("cannot read this path pattern")
                    .hint(
                        "segments are literals or `{name}` parameters: `/api/patients/{patient}`",
                    ),
                );
                return None;
            }
        };
        let params: Vec<&str> = segments
            .iter()
            .filter_map(|s| match s {
                Segment::Param(p) => Some(p.as_str()),
                Segment::Literal(_) => None,
            })
            .collect();
        for (i, p) in params.iter().enumerate() {
            if params.get(..i).is_some_and(|before| before.contains(p)) {
                self.error(
                    Diagnostic::error(
                        Code::BadRoute,
                        decl.path.span,
                        format!("parameter `{{{p}}}` appears twice"),
                    )
                    .label("repeated parameter"),
                );
            }
        }
        let action = match self.policy.action_id(&decl.action.name) {
            Some(a) => Some(a),
            None => {
                // Reuse the action resolver for its precise messages.
                let resolved = self.actions_of(&decl.action, true);
                if let Some(ids) = resolved {
                    if ids.len() != 1 {
                        self.error(
                            Diagnostic::error(
                                Code::BadRoute,
                                decl.action.span,
                                "a route maps to exactly one action",
                            )
                            .label("a pattern, not one action")
                            .hint("name one `feature:verb`"),
                        );
                    }
                }
                None
            }
        };
        let mut binds = Vec::new();
        for b in &decl.binds {
            let target = match b.target.name.as_str() {
                "practice" => Some(BindTarget::Practice),
                "location" => Some(BindTarget::Location),
                "owner" => Some(BindTarget::Owner),
                "patient" => Some(BindTarget::Patient),
                other => match self.policy.attribute_id(other) {
                    Some(a) => Some(BindTarget::Attr(a)),
                    None => {
                        let mut names: Vec<String> = ["practice", "location", "owner", "patient"]
                            .iter()
                            .map(|s| s.to_string())
                            .collect();
                        names.extend(self.policy.attributes.iter().map(|a| a.name.clone()));
                        let mut d = Diagnostic::error(
                            Code::UnknownAttribute,
                            b.target.span,
                            format!("unknown resource attribute `{other}`"),
                        )
                        .label("not a resource field or declared attribute");
                        d = match suggest(other, names.iter().map(String::as_str)) {
                            Some(s) => d.hint(format!("did you mean `{s}`?")),
                            None => d.hint(format!("declare it: `attribute {other} string`")),
                        };
                        self.error(d);
                        None
                    }
                },
            };
            let source = self.bind_source(&b.kind, &b.source, &params);
            if let (Some(target), Some(source)) = (target, source) {
                binds.push(RouteBind { target, source });
            }
        }
        Some(Route {
            method,
            pattern: decl.path.name.clone(),
            segments,
            action: action?,
            binds,
            line: self.line(decl.span),
        })
    }

    fn bind_source(&mut self, kind: &Ident, source: &Ident, params: &[&str]) -> Option<BindSource> {
        let s = source.name.clone();
        match kind.name.as_str() {
            "path" => {
                if params.contains(&s.as_str()) {
                    Some(BindSource::Path(s))
                } else {
                    let mut d = Diagnostic::error(
                        Code::BadRoute,
                        source.span,
                        format!("the path has no parameter `{{{s}}}`"),
                    )
                    .label("not in the pattern");
                    d = match suggest(&s, params.iter().copied()) {
                        Some(x) => d.hint(format!("did you mean `{x}`?")),
                        None => d.hint(format!("parameters of this route: {}", params.join(", "))),
                    };
                    self.error(d);
                    None
                }
            }
            "query" => Some(BindSource::Query(s)),
            "header" => Some(BindSource::Header(s.to_ascii_lowercase())),
            "json" => {
                if s.is_empty() || s.starts_with('/') {
                    Some(BindSource::Json(s))
                } else {
                    self.error(
                        Diagnostic::error(
                            Code::BadRoute,
                            source.span,
                            format!("`{s}` is not a JSON pointer"),
                        )
                        .label("expected a pointer such as \"/amount\"")
                        .hint("JSON pointers start with `/` (RFC 6901)"),
                    );
                    None
                }
            }
            other => {
                self.error(
                    Diagnostic::error(
                        Code::BadRoute,
                        kind.span,
                        format!("unknown attribute source `{other}`"),
                    )
                    .label("expected `path`, `query`, `header` or `json`"),
                );
                None
            }
        }
    }
}
