//! The role x action comparison table, like the seed documents' permission tables.

use serde::Serialize;

use crate::ir::{ActionId, Policy, RoleId};

/// One cell of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Cell {
    /// Granted whenever the role is in effect.
    #[serde(rename = "Y")]
    Allow,
    /// Granted only under conditions (own only, amount limits, hours, networks, step-up...),
    /// shown as `Y*`.
    #[serde(rename = "Y*")]
    Conditional,
    #[serde(rename = "-")]
    Deny,
}

impl Cell {
    pub fn symbol(self) -> &'static str {
        match self {
            Cell::Allow => "Y",
            Cell::Conditional => "Y*",
            Cell::Deny => "-",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub action: String,
    pub module: Option<String>,
    pub cells: Vec<Cell>,
    /// For each conditional cell: the role and the conditions, as written.
    #[serde(skip)]
    pub conditions: Vec<(String, Vec<String>)>,
    /// For each cell a role has through another: the role, and the roles it inherits the
    /// permission from.
    #[serde(skip)]
    pub inherited: Vec<(String, Vec<String>)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Matrix {
    pub roles: Vec<String>,
    pub rows: Vec<Row>,
    /// Per role (in the order of `roles`): its description and the roles it extends.
    #[serde(skip)]
    pub about: Vec<RoleAbout>,
}

/// What a role says of itself.
#[derive(Debug, Clone, Default)]
pub struct RoleAbout {
    pub description: Option<String>,
    /// The roles it extends, directly.
    pub extends: Vec<String>,
}

impl Policy {
    pub fn matrix(&self) -> Matrix {
        let rows = (0..self.actions.len())
            .filter_map(|a| u32::try_from(a).ok())
            .map(|aid| {
                let mut cells = Vec::new();
                let mut conditions = Vec::new();
                let mut inherited = Vec::new();
                for rid in 0..self.roles.len() {
                    let rid = u32::try_from(rid).unwrap_or(u32::MAX);
                    let (cell, why) = self.cell(rid, aid);
                    let name = self.role(rid).map_or(String::new(), |r| r.name.clone());
                    if cell != Cell::Deny {
                        let from = self.granted_through(rid, aid);
                        if !from.is_empty() {
                            inherited.push((name.clone(), from));
                        }
                    }
                    if cell == Cell::Conditional {
                        conditions.push((name, why));
                    }
                    cells.push(cell);
                }
                let action = self.action(aid);
                Row {
                    action: action.map_or(String::new(), |a| a.name.clone()),
                    module: action
                        .and_then(|a| a.module)
                        .and_then(|m| self.modules.get(m as usize).cloned()),
                    cells,
                    conditions,
                    inherited,
                }
            })
            .collect();
        let name = |id: &RoleId| self.role(*id).map(|r| r.name.clone());
        Matrix {
            roles: self.roles.iter().map(|r| r.name.clone()).collect(),
            rows,
            about: self
                .roles
                .iter()
                .map(|r| RoleAbout {
                    description: r.description.clone(),
                    extends: r.parents.iter().filter_map(name).collect(),
                })
                .collect(),
        }
    }

    /// The other roles whose rules give role `rid` action `aid` (what it inherits).
    fn granted_through(&self, rid: RoleId, aid: ActionId) -> Vec<String> {
        let Some(role) = self.role(rid) else {
            return Vec::new();
        };
        let mut from: Vec<String> = Vec::new();
        for g in &role.grants {
            let Some(rule) = self.rule(g.rule).filter(|r| r.covers(aid)) else {
                continue;
            };
            if let crate::ir::Origin::Role(owner) = rule.origin {
                let name = self.role(owner).map(|r| r.name.clone());
                if let Some(n) = name.filter(|_| owner != rid) {
                    if !from.contains(&n) {
                        from.push(n);
                    }
                }
            }
        }
        from
    }

    /// The cell for one role and action, with the conditions that make it conditional.
    pub fn cell(&self, rid: RoleId, aid: ActionId) -> (Cell, Vec<String>) {
        let Some(role) = self.role(rid) else {
            return (Cell::Deny, Vec::new());
        };
        let denies = role.denies.iter().chain(self.global_denies.iter());
        let mut why = Vec::new();
        for d in denies {
            let Some(rule) = self.rule(*d).filter(|r| r.covers(aid)) else {
                continue;
            };
            if rule.cond.is_none() {
                return (Cell::Deny, Vec::new());
            }
            why.push(format!("unless `{}` (line {})", rule.text, rule.line));
        }
        let mut unconditional = false;
        let mut conditional = Vec::new();
        for g in &role.grants {
            let Some(rule) = self.rule(g.rule).filter(|r| r.covers(aid)) else {
                continue;
            };
            if rule.cond.is_none() && g.guards.is_empty() {
                unconditional = true;
            } else {
                let mut text = format!("`{}` (line {})", rule.text, rule.line);
                for gr in &g.guards {
                    if let Some((r, guard)) = self
                        .role(*gr)
                        .and_then(|r| r.guard.as_ref().map(|g| (r, g)))
                    {
                        text.push_str(&format!(" while \"{}\" applies: {}", r.name, guard.text()));
                    }
                }
                conditional.push(text);
            }
        }
        match (unconditional, conditional.is_empty(), why.is_empty()) {
            (true, _, true) => (Cell::Allow, Vec::new()),
            (true, _, false) => (Cell::Conditional, why),
            (false, false, _) => {
                conditional.extend(why);
                (Cell::Conditional, conditional)
            }
            (false, true, _) => (Cell::Deny, Vec::new()),
        }
    }
}

impl Matrix {
    /// An aligned text table with a legend and the conditions of every `Y*` cell.
    pub fn to_table(&self) -> String {
        let mut header = vec!["action".to_string(), "module".to_string()];
        header.extend(self.roles.iter().cloned());
        let body: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| {
                let mut line = vec![
                    r.action.clone(),
                    r.module.clone().unwrap_or_else(|| "-".into()),
                ];
                line.extend(r.cells.iter().map(|c| c.symbol().to_string()));
                line
            })
            .collect();
        let widths: Vec<usize> = (0..header.len())
            .map(|i| {
                std::iter::once(&header)
                    .chain(body.iter())
                    .filter_map(|row| row.get(i))
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in std::iter::once(&header).chain(body.iter()) {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(s, w)| format!("{s:<w$}"))
                .collect();
            out.push_str(cells.join("  ").trim_end());
            out.push('\n');
        }
        out.push_str(
            "\nY = allowed, Y* = allowed under conditions (listed below), - = not allowed\n",
        );
        let conditional: Vec<&Row> = self
            .rows
            .iter()
            .filter(|r| !r.conditions.is_empty())
            .collect();
        if !conditional.is_empty() {
            out.push_str("\nconditions:\n");
            for r in conditional {
                for (role, why) in &r.conditions {
                    out.push_str(&format!("  {} / {}: {}\n", r.action, role, why.join("; ")));
                }
            }
        }
        out
    }

    pub fn to_csv(&self) -> String {
        let mut out = String::from("action,module");
        for r in &self.roles {
            out.push(',');
            out.push_str(&csv_field(r));
        }
        out.push('\n');
        for row in &self.rows {
            out.push_str(&csv_field(&row.action));
            out.push(',');
            out.push_str(&csv_field(row.module.as_deref().unwrap_or("")));
            for c in &row.cells {
                out.push(',');
                out.push_str(c.symbol());
            }
            out.push('\n');
        }
        out
    }

    pub fn to_json(&self) -> serde_json::Value {
        let actions: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|row| {
                let cells: serde_json::Map<String, serde_json::Value> = self
                    .roles
                    .iter()
                    .zip(&row.cells)
                    .map(|(role, c)| (role.clone(), serde_json::Value::from(c.symbol())))
                    .collect();
                let conditions: serde_json::Map<String, serde_json::Value> = row
                    .conditions
                    .iter()
                    .map(|(role, why)| (role.clone(), serde_json::Value::from(why.clone())))
                    .collect();
                serde_json::json!({
                    "action": row.action,
                    "module": row.module,
                    "cells": cells,
                    "conditions": conditions,
                })
            })
            .collect();
        serde_json::json!({ "roles": self.roles, "actions": actions })
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
