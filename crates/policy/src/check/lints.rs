//! Lints: rules that can never fire.

use super::*;
use crate::ast::RoleStmt;
use crate::diag::{Code, Diagnostic};

impl<'a> Checker<'a> {
    /// Warns about allows that an unconditional deny always overrides.
    pub(super) fn never_fires(&mut self) {
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
                            Code::NeverFires,
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
                            Code::NeverFires,
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
}
