//! Checker: resolves names, types conditions, flattens inheritance and lowers the syntax tree
//! to the IR, reporting every problem with its place and a hint.

use std::collections::{BTreeSet, HashMap};
use std::str::FromStr;

use chrono_tz::Tz;
use ipnet::IpNet;
use rust_decimal::Decimal;

use crate::ast::{self, CmpOp, Cond, Ident, Item, Operand, RoleStmt};
use crate::diag::{Diagnostic, Source, Span};
use crate::ir::*;

pub(crate) mod routes;

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

/// The closest candidate to a misspelt name, if any is close enough to suggest.
pub fn suggest<'s>(name: &str, candidates: impl IntoIterator<Item = &'s str>) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.to_string())
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
                    "duplicate-definition",
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

    fn declarations(&mut self, ast: &'a ast::Ast) {
        let mut seen_policy = false;
        for item in &ast.items {
            match item {
                Item::Policy { name, version } => {
                    if seen_policy {
                        self.error(
                            Diagnostic::error(
                                "duplicate-definition",
                                name.span,
                                "the policy header is given twice",
                            )
                            .label("second `policy` line"),
                        );
                    }
                    seen_policy = true;
                    self.policy.name = name.name.clone();
                    self.policy.version =
                        version.as_ref().map(|v| v.name.clone()).unwrap_or_default();
                }
                Item::Timezone(tz) => match Tz::from_str(&tz.name) {
                    Ok(zone) => self.policy.timezone = Some(zone),
                    Err(_) => self.error(
                        Diagnostic::error(
                            "unknown-timezone",
                            tz.span,
                            format!("unknown time zone `{}`", tz.name),
                        )
                        .label("not an IANA time zone name")
                        .hint("use a name such as \"America/New_York\" or \"Europe/Berlin\""),
                    ),
                },
                Item::Feature { name, verbs } => {
                    if !self.define("feature", name) {
                        continue;
                    }
                    let fid = idx(self.policy.features.len());
                    self.feature_index.insert(name.name.clone(), fid);
                    let mut kept = Vec::new();
                    for verb in verbs {
                        if kept.contains(&verb.name) {
                            self.error(
                                Diagnostic::error(
                                    "duplicate-definition",
                                    verb.span,
                                    format!(
                                        "verb `{}` is listed twice for feature `{}`",
                                        verb.name, name.name
                                    ),
                                )
                                .label("repeated verb"),
                            );
                            continue;
                        }
                        if !valid_name(&verb.name) {
                            self.error(bad_name(verb, "verb"));
                            continue;
                        }
                        kept.push(verb.name.clone());
                        let action = format!("{}:{}", name.name, verb.name);
                        let aid = idx(self.policy.actions.len());
                        self.policy.action_index.insert(action.clone(), aid);
                        self.policy.actions.push(Action {
                            name: action,
                            feature: fid,
                            module: None,
                            line: self.line(verb.span),
                        });
                    }
                    if !valid_name(&name.name) {
                        self.error(bad_name(name, "feature"));
                    }
                    self.policy.features.push(Feature {
                        name: name.name.clone(),
                        verbs: kept,
                    });
                }
                Item::Attribute { name, ty } => {
                    if !self.define("attribute", name) {
                        continue;
                    }
                    if matches!(
                        name.name.as_str(),
                        "practice" | "location" | "owner" | "patient"
                    ) {
                        self.error(
                            Diagnostic::error(
                                "reserved-name",
                                name.span,
                                format!("`{}` is a built-in resource field", name.name),
                            )
                            .label("built in")
                            .hint(format!(
                                "use `resource.{}` directly; it is a string",
                                name.name
                            )),
                        );
                        continue;
                    }
                    let ty = match ty.name.as_str() {
                        "decimal" => Type::Decimal,
                        "string" => Type::String,
                        "bool" => Type::Bool,
                        _ => {
                            self.error(
                                Diagnostic::error(
                                    "unknown-type",
                                    ty.span,
                                    format!("unknown attribute type `{}`", ty.name),
                                )
                                .label("not a type")
                                .hint("attributes are `decimal` (exact, for money), `string` or `bool`"),
                            );
                            continue;
                        }
                    };
                    self.policy.attributes.push(Attribute {
                        name: name.name.clone(),
                        ty,
                    });
                }
                Item::Relation { names } => {
                    for n in names {
                        if BUILTIN_RELATIONS.contains(&n.name.as_str()) {
                            continue;
                        }
                        if self.policy.relations.len() >= crate::manifest::MAX_SET {
                            self.error(
                                Diagnostic::error("too-many", n.span, "more than 64 relations")
                                    .label("one relation too many")
                                    .hint("modules, relations and flags are limited to 64 each"),
                            );
                            continue;
                        }
                        if self.define("relation", n) {
                            self.policy.relations.push(n.name.clone());
                        }
                    }
                }
                _ => {}
            }
        }
        if !seen_policy {
            self.error(
                Diagnostic::error(
                    "missing-header",
                    Span::new(0, 0),
                    "the policy has no `policy` line",
                )
                .label("expected here")
                .hint("start the file with `policy \"name\" version \"1\"`"),
            );
        }
        // Modules come after features so that order in the file does not matter.
        let modules: Vec<&Ident> = ast
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Module { name, .. } => Some(name),
                _ => None,
            })
            .collect();
        if let Some(extra) = modules.get(crate::manifest::MAX_SET) {
            self.error(
                Diagnostic::error("too-many", extra.span, "more than 64 modules")
                    .label("the 65th module")
                    .hint("modules, relations and flags are limited to 64 each"),
            );
        }
        for item in &ast.items {
            if let Item::Module { name, members } = item {
                if !self.define("module", name) {
                    continue;
                }
                let mid = idx(self.policy.modules.len());
                self.policy.modules.push(name.name.clone());
                for member in members {
                    let Some(actions) = self.actions_of(member, false) else {
                        continue;
                    };
                    for aid in actions {
                        let Some(action) = self.policy.actions.get(aid as usize) else {
                            continue;
                        };
                        if let Some(other) = action.module {
                            if other != mid {
                                let other_name = self
                                    .policy
                                    .modules
                                    .get(other as usize)
                                    .cloned()
                                    .unwrap_or_default();
                                let action_name = action.name.clone();
                                self.error(
                                    Diagnostic::error(
                                        "duplicate-definition",
                                        member.span,
                                        format!(
                                            "`{action_name}` is already in module `{other_name}`"
                                        ),
                                    )
                                    .label("in two modules")
                                    .hint("an action belongs to at most one module"),
                                );
                                continue;
                            }
                        }
                        if let Some(action) = self.policy.actions.get_mut(aid as usize) {
                            action.module = Some(mid);
                        }
                    }
                }
            }
        }
    }

    /// Resolves an action pattern: `*`, `feature`, `feature:*` or `feature:verb`.
    /// `bare_feature_ok` allows a plain feature name (module members).
    fn actions_of(&mut self, pat: &Ident, rule_context: bool) -> Option<Vec<ActionId>> {
        let name = pat.name.as_str();
        if name == "*" && rule_context {
            return Some((0..idx(self.policy.actions.len())).collect());
        }
        let (feature, verb) = match name.split_once(':') {
            Some((f, v)) => (f, Some(v)),
            None if !rule_context => (name, None),
            None => {
                let d = Diagnostic::error(
                    "unknown-action",
                    pat.span,
                    format!("`{name}` is not an action"),
                )
                .label("expected `feature:verb`")
                .hint(if self.feature_index.contains_key(name) {
                    format!("write `{name}:*` for every verb of the feature, or name one verb")
                } else {
                    "actions are written `feature:verb`, e.g. `patients:read`".to_string()
                });
                self.error(d);
                return None;
            }
        };
        let Some(&fid) = self.feature_index.get(feature) else {
            let mut d = Diagnostic::error(
                "unknown-feature",
                Span::new(
                    pat.span.start as usize,
                    pat.span.start as usize + feature.len(),
                ),
                format!("unknown feature `{feature}`"),
            )
            .label("no feature of this name is declared");
            d = match suggest(feature, self.feature_index.keys().map(String::as_str)) {
                Some(s) => d.hint(format!("did you mean `{s}`?")),
                None => d.hint(format!("declare it: `feature {feature} verbs read, ...`")),
            };
            self.error(d);
            return None;
        };
        let feat = self.policy.features.get(fid as usize)?;
        match verb {
            None | Some("*") => Some(
                feat.verbs
                    .iter()
                    .filter_map(|v| self.policy.action_id(&format!("{feature}:{v}")))
                    .collect(),
            ),
            Some(v) => match self.policy.action_id(name) {
                Some(aid) => Some(vec![aid]),
                None => {
                    let verbs = feat.verbs.clone();
                    let start = pat.span.start as usize + feature.len() + 1;
                    let mut d = Diagnostic::error(
                        "unknown-verb",
                        Span::new(start, pat.span.end as usize),
                        format!("feature `{feature}` has no verb `{v}`"),
                    )
                    .label("unknown verb");
                    d = match suggest(v, verbs.iter().map(String::as_str)) {
                        Some(s) => d.hint(format!("did you mean `{feature}:{s}`?")),
                        None => d.hint(format!("`{feature}` has verbs: {}", verbs.join(", "))),
                    };
                    self.error(d);
                    None
                }
            },
        }
    }

    fn action_list(&mut self, pats: &[Ident]) -> Vec<ActionId> {
        let mut set = BTreeSet::new();
        for p in pats {
            if let Some(ids) = self.actions_of(p, true) {
                set.extend(ids);
            }
        }
        set.into_iter().collect()
    }

    fn role_ref(&mut self, ident: &Ident) -> Option<RoleId> {
        if let Some(id) = self.policy.role_id(&ident.name) {
            return Some(id);
        }
        let mut d = Diagnostic::error(
            "unknown-role",
            ident.span,
            format!("unknown role \"{}\"", ident.name),
        )
        .label("no role of this name is declared");
        let names: Vec<String> = self.policy.roles.iter().map(|r| r.name.clone()).collect();
        d = match suggest(&ident.name, names.iter().map(String::as_str)) {
            Some(s) => d.hint(format!("did you mean \"{s}\"?")),
            None => d.hint(format!("declared roles: {}", quoted(&names))),
        };
        self.error(d);
        None
    }

    fn roles(&mut self, ast: &'a ast::Ast) {
        for item in &ast.items {
            if let Item::Role(decl) = item {
                if !self.define("role", &decl.name) {
                    continue;
                }
                let rid = idx(self.policy.roles.len());
                self.policy.role_index.insert(decl.name.name.clone(), rid);
                self.policy.roles.push(Role {
                    name: decl.name.name.clone(),
                    description: decl.description.as_ref().map(|d| d.name.clone()),
                    parents: Vec::new(),
                    guard: None,
                    grants: Vec::new(),
                    denies: Vec::new(),
                    line: self.line(decl.name.span),
                });
                self.role_decls.push(decl);
            }
        }
        self.own_rules = vec![Vec::new(); self.role_decls.len()];
        self.own_denies = vec![Vec::new(); self.role_decls.len()];
        let decls = self.role_decls.clone();
        for (i, decl) in decls.iter().enumerate() {
            let rid = idx(i);
            let mut parents = Vec::new();
            for parent in &decl.extends {
                if let Some(p) = self.role_ref(parent) {
                    if p == rid {
                        self.error(
                            Diagnostic::error(
                                "extends-cycle",
                                parent.span,
                                format!("role \"{}\" extends itself", parent.name),
                            )
                            .label("a role cannot extend itself"),
                        );
                    } else if !parents.contains(&p) {
                        parents.push(p);
                    }
                }
            }
            let mut guards = Vec::new();
            for stmt in &decl.body {
                match stmt {
                    RoleStmt::Allow(rule) | RoleStmt::Deny(rule) => {
                        let effect = if matches!(stmt, RoleStmt::Allow(_)) {
                            Effect::Allow
                        } else {
                            Effect::Deny
                        };
                        let id = self.rule(rule, effect, Origin::Role(rid));
                        if let (Some(id), Some(list)) = (
                            id,
                            if effect == Effect::Allow {
                                self.own_rules.get_mut(i)
                            } else {
                                self.own_denies.get_mut(i)
                            },
                        ) {
                            list.push(id);
                        }
                    }
                    RoleStmt::Constraint(c) => {
                        if let Some(e) = self.cond(c) {
                            guards.push(e);
                        }
                    }
                }
            }
            if let Some(role) = self.policy.roles.get_mut(i) {
                role.parents = parents;
                role.guard = match guards.len() {
                    0 => None,
                    1 => guards.pop(),
                    _ => Some(Expr::All(guards)),
                };
            }
        }
        self.cycles();
    }

    /// Reports every `extends` cycle once, at the edge that closes it.
    fn cycles(&mut self) {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Active,
            Done,
        }
        let n = self.policy.roles.len();
        let mut mark = vec![Mark::New; n];
        let mut found: Vec<(usize, usize, Vec<usize>)> = Vec::new();
        fn visit(
            roles: &[Role],
            v: usize,
            mark: &mut [Mark],
            stack: &mut Vec<usize>,
            found: &mut Vec<(usize, usize, Vec<usize>)>,
        ) {
            if let Some(m) = mark.get_mut(v) {
                *m = Mark::Active;
            }
            stack.push(v);
            let parents = roles.get(v).map(|r| r.parents.clone()).unwrap_or_default();
            for p in parents {
                let p = p as usize;
                match mark.get(p) {
                    Some(Mark::New) => visit(roles, p, mark, stack, found),
                    Some(Mark::Active) => {
                        let from = stack.iter().position(|&x| x == p).unwrap_or(0);
                        found.push((v, p, stack.get(from..).unwrap_or(&[]).to_vec()));
                    }
                    _ => {}
                }
            }
            stack.pop();
            if let Some(m) = mark.get_mut(v) {
                *m = Mark::Done;
            }
        }
        for v in 0..n {
            if mark.get(v) == Some(&Mark::New) {
                visit(
                    &self.policy.roles,
                    v,
                    &mut mark,
                    &mut Vec::new(),
                    &mut found,
                );
            }
        }
        for (child, parent, cycle) in found {
            let names: Vec<String> = cycle
                .iter()
                .chain(std::iter::once(&parent))
                .filter_map(|&r| self.policy.roles.get(r).map(|r| format!("\"{}\"", r.name)))
                .collect();
            let Some(decl) = self.role_decls.get(child) else {
                continue;
            };
            let parent_name = self
                .policy
                .roles
                .get(parent)
                .map(|r| r.name.clone())
                .unwrap_or_default();
            let span = decl
                .extends
                .iter()
                .find(|e| e.name == parent_name)
                .map_or(decl.name.span, |e| e.span);
            self.error(
                Diagnostic::error(
                    "extends-cycle",
                    span,
                    format!("`extends` cycle: {}", names.join(" -> ")),
                )
                .label("this `extends` closes the cycle")
                .hint("a role cannot inherit from itself, directly or through others"),
            );
            // Break the cycle so inheritance can still be flattened for other diagnostics.
            if let Some(role) = self.policy.roles.get_mut(child) {
                role.parents.retain(|&p| p as usize != parent);
            }
        }
    }

    fn rule(&mut self, rule: &ast::RuleDecl, effect: Effect, origin: Origin) -> Option<RuleId> {
        let actions = self.action_list(&rule.actions);
        let cond = match &rule.cond {
            Some(c) => Some(self.cond(c)?),
            None => None,
        };
        if actions.is_empty() {
            return None;
        }
        let id = idx(self.policy.rules.len());
        self.policy.rules.push(Rule {
            effect,
            origin,
            actions,
            cond,
            line: self.line(rule.span),
            text: self.text(rule.span),
        });
        Some(id)
    }

    fn rest(&mut self, ast: &'a ast::Ast) {
        let mut routes = Vec::new();
        for item in &ast.items {
            match item {
                Item::Deny(rule) => {
                    if let Some(id) = self.rule(rule, Effect::Deny, Origin::Global) {
                        self.policy.global_denies.push(id);
                    }
                }
                Item::Require {
                    cond,
                    actions,
                    span,
                } => {
                    let actions = self.action_list(actions);
                    if let Some(c) = self.cond(cond) {
                        if !actions.is_empty() {
                            let id = idx(self.policy.rules.len());
                            self.policy.rules.push(Rule {
                                effect: Effect::Deny,
                                origin: Origin::Require,
                                actions,
                                cond: Some(Expr::Not(Box::new(c))),
                                line: self.line(*span),
                                text: self.text(*span),
                            });
                            self.policy.global_denies.push(id);
                        }
                    }
                }
                Item::Redact {
                    fields,
                    unless,
                    span,
                } => {
                    // A bad condition is reported by `cond`; the fields are still checked.
                    let unless = unless.as_ref().and_then(|c| self.cond(c));
                    for field in fields {
                        let Some((feature, rest)) = field.name.split_once('.') else {
                            self.error(
                                Diagnostic::error(
                                    "bad-field",
                                    field.span,
                                    format!("`{}` does not name a feature's field", field.name),
                                )
                                .label("expected `feature.field`")
                                .hint("e.g. `redact patients.ssn`"),
                            );
                            continue;
                        };
                        let Some(&fid) = self.feature_index.get(feature) else {
                            let mut d = Diagnostic::error(
                                "unknown-feature",
                                field.span,
                                format!("unknown feature `{feature}`"),
                            )
                            .label("no feature of this name is declared");
                            if let Some(s) =
                                suggest(feature, self.feature_index.keys().map(String::as_str))
                            {
                                d = d.hint(format!("did you mean `{s}`?"));
                            }
                            self.error(d);
                            continue;
                        };
                        if rest.is_empty() || rest.split('.').any(str::is_empty) {
                            self.error(
                                Diagnostic::error("bad-field", field.span, "empty field name")
                                    .label("expected `feature.field`"),
                            );
                            continue;
                        }
                        self.policy.redactions.push(Redaction {
                            field: field.name.clone(),
                            feature: fid,
                            unless: unless.clone(),
                            line: self.line(*span),
                        });
                    }
                }
                Item::BreakGlass(bg) => self.break_glass(bg),
                Item::Route(r) => routes.push(r),
                _ => {}
            }
        }
        self.routes(&routes);
    }

    fn break_glass(&mut self, bg: &ast::BreakGlassDecl) {
        if !self.define("break_glass", &bg.name) {
            return;
        }
        let who = bg.who.as_ref().and_then(|c| self.cond(c));
        let actions = self.action_list(&bg.allows);
        let roles: Vec<RoleId> = bg
            .grant_roles
            .iter()
            .filter_map(|r| self.role_ref(r))
            .collect();
        if bg.who.is_none() {
            self.error(
                Diagnostic::error("break-glass-who", bg.name.span, "break_glass without `who`")
                    .label("anyone could open it")
                    .hint("say who may invoke it, e.g. `who flag emergency_access`"),
            );
        }
        if bg.allows.is_empty() && bg.grant_roles.is_empty() {
            self.error(
                Diagnostic::warning("never-fires", bg.name.span, "break_glass opens nothing")
                    .label("no `allow` and no `grant role`"),
            );
        }
        let max_seconds = match &bg.max {
            Some(m) => match parse_duration(&m.name) {
                Some(s) if s > 0 => s,
                _ => {
                    self.error(bad_duration(m));
                    return;
                }
            },
            None => {
                self.error(
                    Diagnostic::error("break-glass-max", bg.name.span, "break_glass without `max`")
                        .label("emergency access must be time-boxed")
                        .hint("add e.g. `max 4h`"),
                );
                return;
            }
        };
        self.policy.break_glass.push(BreakGlass {
            name: bg.name.name.clone(),
            who,
            actions,
            roles,
            max_seconds,
            reason_required: bg.reason_required,
            alert: bg.alert,
            line: self.line(bg.span),
        });
    }

    /// Flattens `extends`: each role gets its own grants and every ancestor's, each carrying the
    /// guards of the roles it passed through.
    fn inherit(&mut self) {
        let n = self.policy.roles.len();
        for r in 0..n {
            let mut grants = Vec::new();
            let mut denies = BTreeSet::new();
            let mut stack = vec![(r, vec![idx(r)])];
            let mut visited_paths = 0usize;
            while let Some((role, guards)) = stack.pop() {
                visited_paths += 1;
                if visited_paths > 10_000 {
                    break;
                }
                for &rule in self.own_rules.get(role).map(Vec::as_slice).unwrap_or(&[]) {
                    let g = Grant {
                        rule,
                        guards: guards.clone(),
                    };
                    if !grants.contains(&g) {
                        grants.push(g);
                    }
                }
                denies.extend(self.own_denies.get(role).cloned().unwrap_or_default());
                let parents = self
                    .policy
                    .roles
                    .get(role)
                    .map(|x| x.parents.clone())
                    .unwrap_or_default();
                for p in parents.into_iter().rev() {
                    if guards.contains(&p) {
                        continue;
                    }
                    let mut g = guards.clone();
                    g.push(p);
                    stack.push((p as usize, g));
                }
            }
            for g in &mut grants {
                // Only roles that actually have a guard matter.
                let roles = &self.policy.roles;
                g.guards
                    .retain(|&x| roles.get(x as usize).is_some_and(|r| r.guard.is_some()));
            }
            if let Some(role) = self.policy.roles.get_mut(r) {
                role.grants = grants;
                role.denies = denies.into_iter().collect();
            }
        }
    }

    /// Warns about allows that an unconditional deny always overrides.
    fn never_fires(&mut self) {
        let unconditional = |p: &Policy, id: RuleId| p.rule(id).is_some_and(|r| r.cond.is_none());
        let mut warnings = Vec::new();
        for (i, decl) in self.role_decls.iter().enumerate() {
            let Some(role) = self.policy.roles.get(i) else {
                continue;
            };
            let deny_rules: Vec<RuleId> = role
                .denies
                .iter()
                .chain(self.policy.global_denies.iter())
                .copied()
                .filter(|&d| unconditional(&self.policy, d))
                .collect();
            for (stmt, &rule_id) in decl
                .body
                .iter()
                .filter_map(|s| match s {
                    RoleStmt::Allow(r) => Some(r),
                    _ => None,
                })
                .zip(self.own_rules.get(i).map(Vec::as_slice).unwrap_or(&[]))
            {
                let Some(rule) = self.policy.rule(rule_id) else {
                    continue;
                };
                let dead: Vec<&str> = rule
                    .actions
                    .iter()
                    .filter(|&&a| {
                        deny_rules
                            .iter()
                            .any(|&d| self.policy.rule(d).is_some_and(|r| r.covers(a)))
                    })
                    .filter_map(|&a| self.policy.action(a).map(|x| x.name.as_str()))
                    .collect();
                if !dead.is_empty() {
                    warnings.push(
                        Diagnostic::warning(
                            "never-fires",
                            stmt.span,
                            format!("this allow can never take effect for {}", dead.join(", ")),
                        )
                        .label("always overridden by an unconditional deny")
                        .hint("deny beats allow: remove the allow, or put a condition on the deny"),
                    );
                } else if rule.cond
                    == Some(Expr::Test(Box::new(Test {
                        kind: TestKind::Const(false),
                        text: "false".into(),
                    })))
                {
                    warnings.push(
                        Diagnostic::warning(
                            "never-fires",
                            stmt.span,
                            "this allow can never take effect",
                        )
                        .label("its condition is always false"),
                    );
                }
            }
        }
        self.diags.extend(warnings);
    }

    // Conditions.

    fn cond(&mut self, c: &Cond) -> Option<Expr> {
        let text = self.text(c.span());
        let test = |kind| {
            Some(Expr::Test(Box::new(Test {
                kind,
                text: text.clone(),
            })))
        };
        match c {
            Cond::And(a, b) => {
                let (a, b) = (self.cond(a), self.cond(b));
                let mut v = Vec::new();
                for e in [a?, b?] {
                    match e {
                        Expr::All(inner) => v.extend(inner),
                        e => v.push(e),
                    }
                }
                Some(Expr::All(v))
            }
            Cond::Or(a, b) => {
                let (a, b) = (self.cond(a), self.cond(b));
                let mut v = Vec::new();
                for e in [a?, b?] {
                    match e {
                        Expr::Any(inner) => v.extend(inner),
                        e => v.push(e),
                    }
                }
                Some(Expr::Any(v))
            }
            Cond::Not(inner, _) => Some(Expr::Not(Box::new(self.cond(inner)?))),
            Cond::Bool(b, _) => test(TestKind::Const(*b)),
            Cond::Own(_) => test(TestKind::Cmp {
                op: CmpOp::Eq,
                lhs: Term::Owner,
                rhs: Term::PrincipalId,
            }),
            Cond::Mfa(_) => test(TestKind::Mfa),
            Cond::Flag(f, _) => {
                let i = match self.policy.flags.iter().position(|x| *x == f.name) {
                    Some(i) => i,
                    None if self.policy.flags.len() >= crate::manifest::MAX_SET => {
                        self.error(
                            Diagnostic::error("too-many", f.span, "more than 64 different flags")
                                .label("one flag too many")
                                .hint("modules, relations and flags are limited to 64 each"),
                        );
                        return None;
                    }
                    None => {
                        self.policy.flags.push(f.name.clone());
                        self.policy.flags.len() - 1
                    }
                };
                test(TestKind::Flag(idx(i)))
            }
            Cond::Relation(r, _) => match self.policy.relations.iter().position(|x| *x == r.name) {
                Some(i) => test(TestKind::Relation(idx(i))),
                None => {
                    let mut d = Diagnostic::error(
                        "unknown-relation",
                        r.span,
                        format!("unknown relation `{}`", r.name),
                    )
                    .label("not a declared relation");
                    d = match suggest(&r.name, self.policy.relations.iter().map(String::as_str)) {
                        Some(s) => d.hint(format!("did you mean `{s}`?")),
                        None => d.hint(format!("declare it: `relation {}`", r.name)),
                    };
                    self.error(d);
                    None
                }
            },
            Cond::Role(roles, _) => {
                let ids: Vec<RoleId> = roles.iter().filter_map(|r| self.role_ref(r)).collect();
                (ids.len() == roles.len()).then_some(())?;
                test(TestKind::Role(ids))
            }
            Cond::From { nets, .. } => {
                let mut parsed = Vec::new();
                for n in nets {
                    match parse_net(&n.name) {
                        Some(net) => parsed.push(net),
                        None => self.error(
                            Diagnostic::error(
                                "bad-network",
                                n.span,
                                format!("`{}` is not a network", n.name),
                            )
                            .label("expected an IPv4 or IPv6 address or CIDR block")
                            .hint("e.g. `10.20.0.0/16`, `192.168.1.7` or `2001:db8::/32`"),
                        ),
                    }
                }
                (parsed.len() == nets.len()).then_some(())?;
                test(TestKind::Network(parsed))
            }
            Cond::During { windows, .. } => {
                let mut parsed = Vec::new();
                for (days, hours) in windows {
                    let d = parse_days(&days.name);
                    let h = parse_hours(&hours.name);
                    if d.is_none() {
                        self.error(
                            Diagnostic::error("bad-time-window", days.span, format!("`{}` is not a set of days", days.name))
                                .label("expected days")
                                .hint("days are `mon`..`sun`, ranges `mon-fri`, lists `mon+wed+fri`, or `daily`"),
                        );
                    }
                    match h {
                        Some((s, e)) if s == e => self.error(
                            Diagnostic::error("bad-time-window", hours.span, "empty time window")
                                .label("start and end are the same")
                                .hint("use `00:00-24:00` for the whole day"),
                        ),
                        None => self.error(
                            Diagnostic::error(
                                "bad-time-window",
                                hours.span,
                                format!("`{}` is not a time range", hours.name),
                            )
                            .label("expected `HH:MM-HH:MM`")
                            .hint("24-hour clock in the practice's local time, e.g. `07:00-19:00`"),
                        ),
                        _ => {}
                    }
                    if let (Some(days), Some((start, end))) = (d, h) {
                        if start != end {
                            parsed.push(Window { days, start, end });
                        }
                    }
                }
                (parsed.len() == windows.len()).then_some(())?;
                test(TestKind::During(parsed))
            }
            Cond::Cmp { op, lhs, rhs } => {
                let (l, lt) = self.term(lhs)?;
                let (r, rt) = self.term(rhs)?;
                if lt != rt {
                    self.error(
                        Diagnostic::error(
                            "type-mismatch",
                            lhs.span().to(rhs.span()),
                            format!(
                                "cannot compare {} ({}) with {} ({})",
                                self.text(lhs.span()),
                                lt.as_str(),
                                self.text(rhs.span()),
                                rt.as_str()
                            ),
                        )
                        .label(format!("{} vs {}", lt.as_str(), rt.as_str()))
                        .hint(type_hint(lt, rt)),
                    );
                    return None;
                }
                if !matches!(op, CmpOp::Eq | CmpOp::Ne)
                    && !matches!(lt, Type::Decimal | Type::Duration)
                {
                    self.error(
                        Diagnostic::error(
                            "type-mismatch",
                            lhs.span().to(rhs.span()),
                            format!(
                                "`{}` needs numbers or durations, not {}",
                                op.as_str(),
                                lt.as_str()
                            ),
                        )
                        .label("not ordered")
                        .hint("strings and booleans compare only with `==`, `!=` or `in`"),
                    );
                    return None;
                }
                test(TestKind::Cmp {
                    op: *op,
                    lhs: l,
                    rhs: r,
                })
            }
            Cond::In { lhs, list, .. } => {
                let (l, lt) = self.term(lhs)?;
                let mut items = Vec::new();
                for item in list {
                    let (t, ty) = self.term(item)?;
                    if ty != lt {
                        self.error(
                            Diagnostic::error(
                                "type-mismatch",
                                item.span(),
                                format!(
                                    "list item is {} but {} is {}",
                                    ty.as_str(),
                                    self.text(lhs.span()),
                                    lt.as_str()
                                ),
                            )
                            .label("wrong type"),
                        );
                        return None;
                    }
                    items.push(t);
                }
                test(TestKind::In {
                    lhs: l,
                    list: items,
                })
            }
        }
    }

    fn term(&mut self, op: &Operand) -> Option<(Term, Type)> {
        match op {
            Operand::Str(s) => Some((Term::Str(s.name.clone()), Type::String)),
            Operand::Literal(l) => {
                let w = l.name.as_str();
                if w == "true" || w == "false" {
                    return Some((Term::Bool(w == "true"), Type::Bool));
                }
                if let Some(s) = parse_duration(w) {
                    return Some((Term::Dur(s), Type::Duration));
                }
                match Decimal::from_str_exact(w) {
                    Ok(d) => Some((Term::Dec(d), Type::Decimal)),
                    Err(_) => {
                        self.error(
                            Diagnostic::error("bad-literal", l.span, format!("`{w}` is not a number or duration"))
                                .label("cannot read this value")
                                .hint("numbers are exact decimals (`500.00`); durations carry a unit (`30s`, `15m`, `4h`, `1d`)"),
                        );
                        None
                    }
                }
            }
            Operand::Name(n) => {
                let t = match n.name.as_str() {
                    "principal" | "principal.id" => (Term::PrincipalId, Type::String),
                    "principal.type" => (Term::PrincipalType, Type::String),
                    "resource.practice" => (Term::Practice, Type::String),
                    "resource.location" => (Term::Location, Type::String),
                    "resource.owner" => (Term::Owner, Type::String),
                    "resource.patient" => (Term::Patient, Type::String),
                    "context.country" | "country" => (Term::Country, Type::String),
                    "auth_age" | "principal.auth_age" => (Term::AuthAge, Type::Duration),
                    other => {
                        let attr = other.strip_prefix("resource.").unwrap_or(other);
                        match self.policy.attributes.iter().position(|a| a.name == attr) {
                            Some(i) if other.starts_with("resource.") => {
                                let ty =
                                    self.policy.attributes.get(i).map_or(Type::String, |a| a.ty);
                                (Term::Attr(idx(i)), ty)
                            }
                            _ => {
                                let mut names: Vec<String> = [
                                    "principal",
                                    "principal.type",
                                    "resource.practice",
                                    "resource.location",
                                    "resource.owner",
                                    "resource.patient",
                                    "country",
                                    "auth_age",
                                ]
                                .iter()
                                .map(|s| s.to_string())
                                .collect();
                                names.extend(
                                    self.policy
                                        .attributes
                                        .iter()
                                        .map(|a| format!("resource.{}", a.name)),
                                );
                                let mut d = Diagnostic::error(
                                    "unknown-attribute",
                                    n.span,
                                    format!("unknown name `{other}`"),
                                )
                                .label("not a known value");
                                d = match suggest(other, names.iter().map(String::as_str)) {
                                    Some(s) => d.hint(format!("did you mean `{s}`?")),
                                    None if other.starts_with("resource.") => {
                                        d.hint(format!("declare it: `attribute {attr} decimal` (or `string`, `bool`)"))
                                    }
                                    None => d.hint(format!("known names: {}", names.join(", "))),
                                };
                                self.error(d);
                                return None;
                            }
                        }
                    }
                };
                Some(t)
            }
        }
    }
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
        "bad-name",
        ident.span,
        format!("`{}` is not a valid {what} name", ident.name),
    )
    .label("letters, digits and `_` only")
    .hint("names start with a letter, e.g. `charge_entries`")
}

fn bad_duration(ident: &Ident) -> Diagnostic {
    Diagnostic::error(
        "bad-literal",
        ident.span,
        format!("`{}` is not a duration", ident.name),
    )
    .label("expected a duration")
    .hint("durations carry a unit: `30s`, `15m`, `4h`, `1d` (at most 100 years)")
}

fn type_hint(l: Type, r: Type) -> String {
    match (l, r) {
        (Type::Decimal, Type::String) | (Type::String, Type::Decimal) => {
            "numbers are written without quotes (`500.00`); declare the attribute as `decimal` to compare amounts".into()
        }
        (Type::Duration, _) | (_, Type::Duration) => "auth_age compares with durations such as `15m`".into(),
        _ => "both sides of a comparison must have the same type".into(),
    }
}

/// `30s`, `15m`, `4h`, `1d` to seconds.
/// A duration of the policy language in whole seconds (the one grammar of
/// [`crate::duration`]).
pub fn parse_duration(s: &str) -> Option<u64> {
    crate::duration::parse(s)
        .ok()
        .filter(|d| d.subsec_nanos() == 0)
        .map(|d| d.as_secs())
}

fn parse_net(s: &str) -> Option<IpNet> {
    IpNet::from_str(s)
        .ok()
        .map(|n| n.trunc())
        .or_else(|| std::net::IpAddr::from_str(s).ok().map(IpNet::from))
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// `mon-fri`, `sat`, `mon+wed+fri`, `daily` to a bit set (bit 0 = Monday).
pub fn parse_days(s: &str) -> Option<u8> {
    if s == "daily" {
        return Some(0x7f);
    }
    let day = |d: &str| DAYS.iter().position(|x| *x == d);
    let mut mask = 0u8;
    for part in s.split('+') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day(a)?, day(b)?);
                let mut d = a;
                loop {
                    mask |= 1 << d;
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => mask |= 1 << day(part)?,
        }
    }
    Some(mask)
}

/// `07:00-19:00` to minutes after midnight; `24:00` is allowed as an end.
pub fn parse_hours(s: &str) -> Option<(u16, u16)> {
    let (a, b) = s.split_once('-')?;
    let hm = |t: &str| -> Option<u16> {
        let (h, m) = t.split_once(':')?;
        if h.len() != 2 || m.len() != 2 {
            return None;
        }
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
    };
    let (start, end) = (hm(a)?, hm(b)?);
    (start < 24 * 60).then_some((start, end))
}
