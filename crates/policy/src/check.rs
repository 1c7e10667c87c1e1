//! Checker: resolves names, types conditions, flattens inheritance and lowers the syntax tree
//! to the IR, reporting every problem with its place and a hint.

use std::collections::HashMap;

use crate::ast::{self, Ident};
use crate::diag::{Code, Diagnostic, Source, Span};
use crate::ir::*;

mod cond;
mod declare;
mod lints;
mod roles;
pub(crate) mod routes;

pub use crate::diag::suggest;
use cond::bad_duration;
pub(crate) use cond::parse_duration;

/// Relations every policy knows; `relation` declarations add more.
pub const BUILTIN_RELATIONS: &[&str] = &["assigned", "shared"];

/// Checks and lowers a parsed policy. The policy is `None` when there were errors.
pub fn check(source: &Source, ast: &ast::Ast, diags: &mut Vec<Diagnostic>) -> Option<Policy> {
    let mut cx = Checker {
        source,
        diags,
        policy: Policy {
            name: String::new(),
            version: String::new(),
            timezone: None,
            features: Vec::new(),
            actions: Vec::new(),
            modules: Vec::new(),
            attributes: Vec::new(),
            relations: BUILTIN_RELATIONS.iter().map(|s| s.to_string()).collect(),
            flags: Vec::new(),
            roles: Vec::new(),
            rules: Vec::new(),
            global_denies: Vec::new(),
            redactions: Vec::new(),
            break_glass: Vec::new(),
            routes: Vec::new(),
            manifest: crate::manifest::Manifest::default(),
            action_index: HashMap::new(),
            role_index: HashMap::new(),
        },
        feature_index: HashMap::new(),
        first_seen: HashMap::new(),
        role_decls: Vec::new(),
        own_rules: Vec::new(),
        own_denies: Vec::new(),
    };
    cx.declarations(ast);
    cx.roles(ast);
    cx.rest(ast);
    cx.inherit();
    cx.never_fires();
    let failed = cx.diags.iter().any(|d| d.is_error());
    if failed {
        None
    } else {
        let mut policy = cx.policy;
        policy.manifest = policy.build_manifest(content_hash(&source.text));
        Some(policy)
    }
}

struct Checker<'a> {
    source: &'a Source,
    diags: &'a mut Vec<Diagnostic>,
    policy: Policy,
    feature_index: HashMap<String, u32>,
    /// First definition of each (kind, name), for duplicate errors.
    first_seen: HashMap<(&'static str, String), Span>,
    role_decls: Vec<&'a ast::RoleDecl>,
    /// Per role: its own allow rules.
    own_rules: Vec<Vec<RuleId>>,
    own_denies: Vec<Vec<RuleId>>,
}

fn idx(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl<'a> Checker<'a> {
    fn line(&self, span: Span) -> u32 {
        idx(self.source.line_col(span.start).0)
    }

    fn text(&self, span: Span) -> String {
        self.source
            .snippet(span)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn error(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Records a definition; reports it if it was defined before.
    fn define(&mut self, kind: &'static str, ident: &Ident) -> bool {
        let key = (kind, ident.name.clone());
        if let Some(first) = self.first_seen.get(&key).copied() {
            self.error(
                Diagnostic::error(
                    Code::DuplicateDefinition,
                    ident.span,
                    format!("{kind} `{}` is defined twice", ident.name),
                )
                .label("defined again here")
                .related(first, "first defined here")
                .hint(format!("remove one definition or rename this {kind}")),
            );
            false
        } else {
            self.first_seen.insert(key, ident.span);
            true
        }
    }

    // Conditions.
}

/// `sha256:` and the hex digest of a policy's source.
pub fn content_hash(text: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    let hex: String = hex::encode(digest);
    format!("sha256:{hex}")
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
}

fn bad_name(ident: &Ident, what: &str) -> Diagnostic {
    Diagnostic::error(
        Code::BadName,
        ident.span,
        format!("`{}` is not a valid {what} name", ident.name),
    )
    .label("letters, digits and `_` only")
    .hint("names start with a letter, e.g. `charge_entries`")
}
