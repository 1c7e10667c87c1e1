//! Roles: what each grants and denies, `extends` (cycles refused), and rules inherited.

use std::collections::BTreeSet;

use super::*;
use crate::ast::{self, Ident, Item, RoleStmt};
use crate::diag::{Code, Diagnostic};

impl<'a> Checker<'a> {
    pub(super) fn role_ref(&mut self, ident: &Ident) -> Option<RoleId> {
        if let Some(id) = self.policy.role_id(&ident.name) {
            return Some(id);
        }
        let mut d = Diagnostic::error(
            Code::UnknownRole,
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

    pub(super) fn roles(&mut self, ast: &'a ast::Ast) {
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
                                Code::ExtendsCycle,
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
    pub(super) fn cycles(&mut self) {
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
                    Code::ExtendsCycle,
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

    pub(super) fn rule(
        &mut self,
        rule: &ast::RuleDecl,
        effect: Effect,
        origin: Origin,
    ) -> Option<RuleId> {
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

    /// Flattens `extends`: each role gets its own grants and every ancestor's, each carrying the
    /// guards of the roles it passed through.
    pub(super) fn inherit(&mut self) {
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
}
