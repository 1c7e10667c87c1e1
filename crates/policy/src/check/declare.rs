//! Declarations: features and their verbs, modules, attributes, relations, flags, roles' names,
//! then routes, redactions and break-glass, each name defined once.

use std::collections::BTreeSet;
use std::str::FromStr;

use chrono_tz::Tz;

use super::*;
use crate::ast::{self, Ident, Item};
use crate::diag::{Code, Diagnostic, Span};

impl<'a> Checker<'a> {
    pub(super) fn declarations(&mut self, ast: &'a ast::Ast) {
        let mut seen_policy = false;
        for item in &ast.items {
            match item {
                Item::Policy { name, version } => {
                    if seen_policy {
                        self.error(
                            Diagnostic::error(
                                Code::DuplicateDefinition,
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
                            Code::UnknownTimezone,
                            tz.span,
                            format!("unknown time zone `{}`", tz.name),
                        )
                        .label("not an IANA time zone name")
                        .hint("use a name such as \"America/New_York\" or \"Europe/Berlin\""),
                    ),
                },
                Item::Feature { name, verbs } => self.feature(name, verbs),
                Item::Attribute { name, ty } => self.attribute(name, ty),
                Item::Relation { names } => self.relations(names),
                _ => {}
            }
        }
        if !seen_policy {
            self.error(
                Diagnostic::error(
                    Code::MissingHeader,
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
                Diagnostic::error(Code::TooMany, extra.span, "more than 64 modules")
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
                                        Code::DuplicateDefinition,
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
    pub(super) fn actions_of(&mut self, pat: &Ident, rule_context: bool) -> Option<Vec<ActionId>> {
        let name = pat.name.as_str();
        if name == "*" && rule_context {
            return Some((0..idx(self.policy.actions.len())).collect());
        }
        let (feature, verb) = match name.split_once(':') {
            Some((f, v)) => (f, Some(v)),
            None if !rule_context => (name, None),
            None => {
                let d = Diagnostic::error(
                    Code::UnknownAction,
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
                Code::UnknownFeature,
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
                        Code::UnknownVerb,
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

    pub(super) fn action_list(&mut self, pats: &[Ident]) -> Vec<ActionId> {
        let mut set = BTreeSet::new();
        for p in pats {
            if let Some(ids) = self.actions_of(p, true) {
                set.extend(ids);
            }
        }
        set.into_iter().collect()
    }

    pub(super) fn rest(&mut self, ast: &'a ast::Ast) {
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
                                    Code::BadField,
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
                                Code::UnknownFeature,
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
                                Diagnostic::error(Code::BadField, field.span, "empty field name")
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

    pub(super) fn break_glass(&mut self, bg: &ast::BreakGlassDecl) {
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
                Diagnostic::error(
                    Code::BreakGlassWho,
                    bg.name.span,
                    "break_glass without `who`",
                )
                .label("anyone could open it")
                .hint("say who may invoke it, e.g. `who flag emergency_access`"),
            );
        }
        if bg.allows.is_empty() && bg.grant_roles.is_empty() {
            self.error(
                Diagnostic::warning(Code::NeverFires, bg.name.span, "break_glass opens nothing")
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
                    Diagnostic::error(
                        Code::BreakGlassMax,
                        bg.name.span,
                        "break_glass without `max`",
                    )
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

    /// `feature NAME verbs ...`: each verb once.
    fn feature(&mut self, name: &Ident, verbs: &[Ident]) {
        if !self.define("feature", name) {
            return;
        }
        let fid = idx(self.policy.features.len());
        self.feature_index.insert(name.name.clone(), fid);
        let mut kept = Vec::new();
        for verb in verbs {
            if kept.contains(&verb.name) {
                self.error(
                    Diagnostic::error(
                        Code::DuplicateDefinition,
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

    /// `attribute NAME TYPE`: not a built-in field, of a known type.
    fn attribute(&mut self, name: &Ident, ty: &Ident) {
        if !self.define("attribute", name) {
            return;
        }
        if matches!(
            name.name.as_str(),
            "practice" | "location" | "owner" | "patient"
        ) {
            self.error(
                Diagnostic::error(
                    Code::ReservedName,
                    name.span,
                    format!("`{}` is a built-in resource field", name.name),
                )
                .label("built in")
                .hint(format!(
                    "use `resource.{}` directly; it is a string",
                    name.name
                )),
            );
            return;
        }
        let ty = match ty.name.as_str() {
            "decimal" => Type::Decimal,
            "string" => Type::String,
            "bool" => Type::Bool,
            _ => {
                self.error(
                    Diagnostic::error(
                        Code::UnknownType,
                        ty.span,
                        format!("unknown attribute type `{}`", ty.name),
                    )
                    .label("not a type")
                    .hint("attributes are `decimal` (exact, for money), `string` or `bool`"),
                );
                return;
            }
        };
        self.policy.attributes.push(Attribute {
            name: name.name.clone(),
            ty,
        });
    }

    /// `relation NAMES`: the built-in ones are known already; at most 64.
    fn relations(&mut self, names: &[Ident]) {
        for n in names {
            if BUILTIN_RELATIONS.contains(&n.name.as_str()) {
                continue;
            }
            if self.policy.relations.len() >= crate::manifest::MAX_SET {
                self.error(
                    Diagnostic::error(Code::TooMany, n.span, "more than 64 relations")
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
}
