//! Settings > Roles: the role comparison table, like the vendor's "Learn more" - a row per
//! permission (grouped by the module it needs), a column per role, `Y` where the role has it,
//! `Y*` where it has it under conditions (each explained below the table), `-` where not -
//! then each role feature by feature and verb by verb, with what it inherits and from whom,
//! and a custom role made from a built-in one ([`custom`]).

mod custom;

use maud::{html, Markup};
use serde::Deserialize;

use super::layout;
use super::{Console, Out};

#[derive(Deserialize)]
pub(super) struct Matrix {
    pub module_hash: String,
    pub roles: Vec<String>,
    pub rows: Vec<Row>,
    #[serde(default)]
    pub about: Vec<About>,
}

#[derive(Deserialize)]
pub(super) struct Row {
    pub action: String,
    pub module: Option<String>,
    pub cells: Vec<String>,
    pub conditional: Vec<Conditional>,
    #[serde(default)]
    pub inherited: Vec<Inherited>,
}

#[derive(Deserialize)]
pub(super) struct Conditional {
    pub role: String,
    pub conditions: Vec<String>,
}

#[derive(Deserialize)]
pub(super) struct Inherited {
    pub role: String,
    pub from: Vec<String>,
}

#[derive(Deserialize)]
pub(super) struct About {
    pub role: String,
    pub description: Option<String>,
    #[serde(default)]
    pub extends: Vec<String>,
}

impl Matrix {
    /// The features (`notes` of `notes:view`) in the policy's order, each with its actions.
    pub fn features(&self) -> Vec<(String, Vec<&Row>)> {
        let mut out: Vec<(String, Vec<&Row>)> = Vec::new();
        for row in &self.rows {
            let feature = row.action.split(':').next().unwrap_or("").to_string();
            match out.iter_mut().find(|(f, _)| *f == feature) {
                Some((_, rows)) => rows.push(row),
                None => out.push((feature, vec![row])),
            }
        }
        out
    }
}

/// A group's heading, as the vendor names it.
fn group(module: Option<&str>) -> String {
    match module {
        None => "General and administrative permissions".into(),
        Some(m) => {
            let mut name = m.to_string();
            if let Some(first) = name.get_mut(..1) {
                first.make_ascii_uppercase();
            }
            format!("{name} permissions (with the {m} module)")
        }
    }
}

pub(super) async fn fetch(c: &Console<'_>) -> Result<Matrix, Out> {
    match c.get("/policy/matrix").await {
        Ok(v) => serde_json::from_value(v).map_err(|_| layout::not_found()),
        Err(f) => Err(layout::failed(&f)),
    }
}

pub(super) async fn matrix(c: &Console<'_>) -> Out {
    if !c.perms.matrix {
        return layout::failed(&super::users::refused());
    }
    if c.req.post() {
        return custom::post(c).await;
    }
    let m = match fetch(c).await {
        Ok(m) => m,
        Err(out) => return out,
    };
    // The policy's text (for those who may read it): which roles the console wrote.
    let source = if c.perms.policy {
        c.get("/policy")
            .await
            .ok()
            .and_then(|p| p.get("source")?.as_str().map(str::to_string))
    } else {
        None
    };
    let made = source
        .as_deref()
        .map(custom::console_roles)
        .unwrap_or_default();
    let prefill = c
        .req
        .q("edit")
        .and_then(|name| custom::prefill(source.as_deref()?, name));
    let body = html! {
        (table(&m))
        (roles(c, &m, &made))
        (custom::form(c, &m, None, prefill.as_ref()))
        p class="note" { "Policy module " code { (m.module_hash.get(..19).unwrap_or(&m.module_hash)) } "." }
    };
    Out::page("Roles", body)
}

fn table(m: &Matrix) -> Markup {
    let mut groups: Vec<(Option<String>, Vec<&Row>)> = Vec::new();
    for row in &m.rows {
        match groups.iter_mut().find(|(g, _)| *g == row.module) {
            Some((_, rows)) => rows.push(row),
            None => groups.push((row.module.clone(), vec![row])),
        }
    }
    let cols = m.roles.len() + 1;
    html! {
        p { "Who may do what under the policy in force. " strong { "Y" } " the role has the permission; "
            strong class="cond" { "Y*" } " it has it under conditions (explained below); "
            strong { "-" } " it does not." }
        div class="scroll" {
            table class="matrix" {
                caption class="note" { "Role comparison" }
                thead {
                    tr { th scope="col" { "Permission" } @for r in &m.roles { th scope="col" { (r) } } }
                }
                tbody {
                    @for (module, rows) in &groups {
                        tr { th scope="colgroup" colspan=(cols) { (group(module.as_deref())) } }
                        @for row in rows {
                            tr {
                                th scope="row" { code { (row.action) } }
                                @for (i, cell) in row.cells.iter().enumerate() {
                                    @let role = m.roles.get(i).map_or("", String::as_str);
                                    td class=[(cell == "Y*").then_some("cond")] title={ (role) ": " (describe(cell)) } { (cell) }
                                }
                            }
                        }
                    }
                }
            }
        }
        @let notes: Vec<(&str, &Conditional)> = m.rows.iter().flat_map(|r| r.conditional.iter().map(move |c| (r.action.as_str(), c))).collect();
        @if !notes.is_empty() {
            h2 { "Conditions" }
            ul {
                @for (action, cond) in &notes {
                    li { strong { (cond.role) } ", " code { (action) } ": " (cond.conditions.join("; ")) }
                }
            }
        }
    }
}

/// Each role, feature by feature and verb by verb, with where each permission comes from.
fn roles(c: &Console<'_>, m: &Matrix, made: &[String]) -> Markup {
    let editable = c.perms.preview_policy && c.perms.swap_policy;
    let features = m.features();
    html! {
        h2 { "Each role" }
        @for (i, role) in m.roles.iter().enumerate() {
            @let about = m.about.iter().find(|a| &a.role == role);
            details class="card" {
                summary { strong { (role) } @if let Some(d) = about.and_then(|a| a.description.as_deref()) { " — " (d) } }
                @if editable && made.contains(role) {
                    div class="actions" {
                        a class="button" href={ (super::PREFIX) "roles?edit=" (super::call::seg(role)) "#custom-role" } { "Edit " (role) }
                        (custom::delete_button(c, role))
                    }
                }
                @if let Some(a) = about.filter(|a| !a.extends.is_empty()) {
                    p { "Extends " (a.extends.join(", ")) ": it has everything they have, and what is listed as its own." }
                }
                @let held: Vec<(&String, Vec<(&Row, &str)>)> = features.iter().map(|(f, rows)| {
                    (f, rows.iter().filter_map(|r| r.cells.get(i).filter(|c| *c != "-").map(|c| (*r, c.as_str()))).collect::<Vec<_>>())
                }).filter(|(_, v)| !v.is_empty()).collect();
                @if held.is_empty() { p { "No permission." } }
                @else {
                    table {
                        thead { tr { th scope="col" { "Feature" } th scope="col" { "Verbs" } } }
                        tbody {
                            @for (feature, verbs) in &held {
                                tr {
                                    th scope="row" { (feature) }
                                    td {
                                        @for (n, (row, cell)) in verbs.iter().enumerate() {
                                            @if n > 0 { ", " }
                                            (row.action.split(':').nth(1).unwrap_or(""))
                                            @if *cell == "Y*" { " " span class="cond" { "(conditions)" } }
                                            @if let Some(from) = row.inherited.iter().find(|x| &x.role == role) {
                                                " " span class="note" { "(from " (from.from.join(", ")) ")" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn describe(cell: &str) -> &'static str {
    match cell {
        "Y" => "yes",
        "Y*" => "yes, under conditions",
        _ => "no",
    }
}
