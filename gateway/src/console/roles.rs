//! Settings > Roles: the role comparison table, like the vendor's "Learn more" - a row per
//! permission (grouped by the module it needs), a column per role, `Y` where the role has it,
//! `Y*` where it has it under conditions (each explained below the table), `-` where not.

use maud::html;
use serde::Deserialize;

use super::layout;
use super::{Console, Out};

#[derive(Deserialize)]
struct Matrix {
    module_hash: String,
    roles: Vec<String>,
    rows: Vec<Row>,
}

#[derive(Deserialize)]
struct Row {
    action: String,
    module: Option<String>,
    cells: Vec<String>,
    conditional: Vec<Conditional>,
}

#[derive(Deserialize)]
struct Conditional {
    role: String,
    conditions: Vec<String>,
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

pub(super) async fn matrix(c: &Console<'_>) -> Out {
    if !c.perms.matrix {
        return layout::failed(&super::users::refused());
    }
    let m: Matrix = match c.get("/policy/matrix").await {
        Ok(v) => match serde_json::from_value(v) {
            Ok(m) => m,
            Err(_) => return layout::not_found(),
        },
        Err(f) => return layout::failed(&f),
    };
    let mut groups: Vec<(Option<String>, Vec<&Row>)> = Vec::new();
    for row in &m.rows {
        match groups.iter_mut().find(|(g, _)| *g == row.module) {
            Some((_, rows)) => rows.push(row),
            None => groups.push((row.module.clone(), vec![row])),
        }
    }
    let mut notes: Vec<(String, &str, &[String])> = Vec::new();
    for row in &m.rows {
        for cond in &row.conditional {
            notes.push((row.action.clone(), cond.role.as_str(), &cond.conditions));
        }
    }
    let cols = m.roles.len() + 1;
    let body = html! {
        p { "Who may do what under the policy in force. " strong { "Y" } " the role has the permission; "
            strong class="cond" { "Y*" } " it has it under conditions (explained below); "
            strong { "-" } " it does not." }
        div class="scroll" {
            table class="matrix" {
                thead {
                    tr { th scope="col" { "Permission" } @for r in &m.roles { th scope="col" { (r) } } }
                }
                tbody {
                    @for (module, rows) in &groups {
                        tr { th scope="colgroup" colspan=(cols) { (group(module.as_deref())) } }
                        @for row in rows {
                            tr {
                                td { code { (row.action) } }
                                @for (i, cell) in row.cells.iter().enumerate() {
                                    @let role = m.roles.get(i).map_or("", String::as_str);
                                    td class=[(cell == "Y*").then_some("cond")] aria-label={ (role) ": " (describe(cell)) } { (cell) }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !notes.is_empty() {
            h2 { "Conditions" }
            ul {
                @for (action, role, conditions) in &notes {
                    li { strong { (role) } ", " code { (action) } ": " (conditions.join("; ")) }
                }
            }
        }
        p class="note" { "Policy module " code { (m.module_hash.get(..12).unwrap_or(&m.module_hash)) } "." }
    };
    Out::page("Roles", body)
}

fn describe(cell: &str) -> &'static str {
    match cell {
        "Y" => "yes",
        "Y*" => "yes, under conditions",
        _ => "no",
    }
}
