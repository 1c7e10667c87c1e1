//! A custom role, as the guide's "Lead Therapist": a name, the built-in role it extends, and
//! per feature the verbs it adds (Read/Create/Edit/Delete/Export, whatever the policy's
//! features have), each feature optionally "own only". The console writes the policy change
//! (a `role ... extends ...` block appended to the policy in force), shows who gains and
//! loses what and the policy's tests before anything is saved, then swaps it in - each step
//! an API call decided by the policy.

use maud::{html, Markup};
use serde_json::{json, Value};

use super::super::layout::{self, csrf, input};
use super::super::{Console, Failure, Out, PREFIX};
use super::{fetch, Matrix};

/// A custom role as the form describes it, checked.
pub(super) struct Draft {
    name: String,
    extends: Option<String>,
    description: String,
    /// Actions it adds.
    allow: Vec<String>,
    /// Features whose added actions hold for the person's own records only.
    own: Vec<String>,
}

/// The lines around a role the console wrote, so it can find it again to edit or delete.
fn begin(name: &str) -> String {
    format!("# wardgate-console role \"{name}\" begin")
}

fn end(name: &str) -> String {
    format!("# wardgate-console role \"{name}\" end")
}

/// Where the console's block of role `name` is in `source`, its lines whole: its marks each
/// a whole line, each exactly once, the end after the begin, and between them one role -
/// anything else (marks copied by hand, a block edited out of shape) is not the console's to
/// change.
fn block(source: &str, name: &str) -> Option<std::ops::Range<usize>> {
    let (open, close) = (begin(name), end(name));
    let mut at = 0;
    let (mut starts, mut stops) = (Vec::new(), Vec::new());
    for line in source.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        if bare == open {
            starts.push(at);
        } else if bare == close {
            stops.push(at + line.len());
        }
        at += line.len();
    }
    let ([start], [stop]) = (starts.as_slice(), stops.as_slice()) else {
        return None;
    };
    let inside = source.get(*start..*stop)?;
    let roles = inside
        .lines()
        .filter(|l| l.trim_start().starts_with("role "))
        .count();
    (start < stop && roles == 1).then_some(*start..*stop)
}

/// The roles of `source` the console wrote (and can edit or delete).
pub(super) fn console_roles(source: &str) -> Vec<String> {
    source
        .lines()
        .filter_map(|l| {
            l.strip_prefix("# wardgate-console role \"")?
                .strip_suffix("\" begin")
                .map(str::to_string)
        })
        .collect()
}

/// What may be in a name or description written into the policy: no quote, backslash or
/// control character, so the text is exactly what was typed.
fn plain(s: &str) -> bool {
    !s.chars().any(|c| c == '"' || c == '\\' || c.is_control())
}

fn draft(c: &Console<'_>, m: &Matrix) -> Result<Draft, Failure> {
    let mut problems = Vec::new();
    let name = c.req.f("name").to_string();
    if name.is_empty() || name.chars().count() > 60 || !plain(&name) {
        problems.push((
            "name".to_string(),
            "1 to 60 characters, without quotes or backslashes".to_string(),
        ));
    } else if c.req.f("editing") != name && m.roles.iter().any(|r| r.eq_ignore_ascii_case(&name)) {
        problems.push(("name".to_string(), format!("a role named {name} exists")));
    }
    let extends = c.req.opt("extends");
    if let Some(e) = &extends {
        if *e == name {
            problems.push((
                "extends".to_string(),
                "a role does not extend itself".to_string(),
            ));
        } else if !m.roles.contains(e) {
            problems.push(("extends".to_string(), format!("{e} is not a role")));
        }
    }
    let description = c.req.f("description").to_string();
    if description.chars().count() > 200 || !plain(&description) {
        problems.push((
            "description".to_string(),
            "at most 200 characters, without quotes or backslashes".to_string(),
        ));
    }
    let known: Vec<&str> = m.rows.iter().map(|r| r.action.as_str()).collect();
    let allow = c.req.all("allow");
    if let Some(bad) = allow.iter().find(|a| !known.contains(&a.as_str())) {
        problems.push((
            "allow".to_string(),
            format!("{bad} is not an action of the policy"),
        ));
    }
    if allow.is_empty() && extends.is_none() {
        problems.push((
            "allow".to_string(),
            "choose a role to extend or at least one permission".to_string(),
        ));
    }
    if !problems.is_empty() {
        return Err(Failure {
            status: http::StatusCode::BAD_REQUEST,
            code: "invalid".into(),
            message: "The role needs attention.".into(),
            problems,
        });
    }
    Ok(Draft {
        name,
        extends,
        description,
        allow,
        own: c.req.all("own"),
    })
}

impl Draft {
    /// The policy text of the role.
    fn text(&self, by: &str) -> String {
        let mut t = format!(
            "\n{}\n# Custom role, made in the console by {by}.\nrole \"{}\"",
            begin(&self.name),
            self.name
        );
        if let Some(e) = &self.extends {
            t.push_str(&format!(" extends \"{e}\""));
        }
        t.push_str(" {\n");
        if !self.description.is_empty() {
            t.push_str(&format!("  description \"{}\"\n", self.description));
        }
        let is_own = |a: &&String| {
            let feature = a.split(':').next().unwrap_or("");
            self.own.iter().any(|o| o == feature)
        };
        let (own, any): (Vec<&String>, Vec<&String>) = self.allow.iter().partition(is_own);
        let join = |v: &[&String]| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
        if !any.is_empty() {
            t.push_str(&format!("  allow {}\n", join(&any)));
        }
        if !own.is_empty() {
            t.push_str(&format!("  allow {} when own\n", join(&own)));
        }
        t.push_str("}\n");
        t.push_str(&end(&self.name));
        t.push('\n');
        t
    }

    /// A role the console wrote, read back from its block (for the Edit form).
    fn parse(name: &str, block: &str) -> Draft {
        let quoted = |line: &str, key: &str| {
            line.split_once(key)
                .and_then(|(_, rest)| rest.split('"').nth(1))
                .map(str::to_string)
        };
        let mut d = Draft {
            name: name.to_string(),
            extends: None,
            description: String::new(),
            allow: Vec::new(),
            own: Vec::new(),
        };
        for line in block.lines().map(str::trim) {
            if line.starts_with("role ") {
                d.extends = quoted(line, " extends ");
            } else if line.starts_with("description ") {
                d.description = quoted(line, "description").unwrap_or_default();
            } else if let Some(rest) = line.strip_prefix("allow ") {
                let (actions, own) = match rest.strip_suffix(" when own") {
                    Some(a) => (a, true),
                    None => (rest, false),
                };
                for a in actions.split(',').map(str::trim).filter(|a| !a.is_empty()) {
                    let feature = a.split(':').next().unwrap_or("").to_string();
                    if own && !d.own.contains(&feature) {
                        d.own.push(feature);
                    }
                    d.allow.push(a.to_string());
                }
            }
        }
        d
    }

    /// The form's fields again, for the next step.
    fn hidden(&self, editing: &str, delete: bool) -> Markup {
        html! {
            input type="hidden" name="name" value=(self.name);
            input type="hidden" name="editing" value=(editing);
            @if delete { input type="hidden" name="delete" value="yes"; }
            input type="hidden" name="extends" value=(self.extends.as_deref().unwrap_or(""));
            input type="hidden" name="description" value=(self.description);
            @for a in &self.allow { input type="hidden" name="allow" value=(a); }
            @for o in &self.own { input type="hidden" name="own" value=(o); }
        }
    }
}

/// The "Create a custom role" form (or "Edit" of one the console wrote: `prefill`), for
/// those the policy lets change it.
pub(super) fn form(
    c: &Console<'_>,
    m: &Matrix,
    failure: Option<&Failure>,
    prefill: Option<&Draft>,
) -> Markup {
    if !(c.perms.policy && c.perms.preview_policy && c.perms.swap_policy) {
        return html! {};
    }
    let posted = Draft {
        name: c.req.f("name").to_string(),
        extends: c.req.opt("extends"),
        description: c.req.f("description").to_string(),
        allow: c.req.all("allow"),
        own: c.req.all("own"),
    };
    let editing = match prefill {
        Some(d) => d.name.clone(),
        None => c.req.f("editing").to_string(),
    };
    let d = prefill.unwrap_or(&posted);
    let extends = d.extends.as_deref().unwrap_or("");
    html! {
        details class="card" id="custom-role" open[failure.is_some() || prefill.is_some()] {
            summary { h2 class="inline" { @if editing.is_empty() { "Create a custom role" } @else { "Edit " (editing) } } }
            p { "Start from a built-in role and add permissions, e.g. a “Lead Therapist” who is a Provider and also manages patients and appointments. You see who gains what, and the policy's tests run, before anything is saved." }
            @if let Some(f) = failure { (layout::problems(f)) }
            form method="post" action={ (PREFIX) "roles" } {
                (csrf(&c.req))
                input type="hidden" name="do" value="preview";
                @if editing.is_empty() {
                    (input("name", "Role name", "text", &d.name, failure, true))
                } @else {
                    input type="hidden" name="editing" value=(editing);
                    input type="hidden" name="name" value=(editing);
                }
                div class="field" {
                    label for="extends" { "Extends" }
                    select id="extends" name="extends" {
                        option value="" { "Nothing (only what is checked below)" }
                        @for r in m.roles.iter().filter(|r| **r != editing) { option value=(r) selected[extends == r] { (r) } }
                    }
                }
                (input("description", "Description", "text", &d.description, failure, false))
                div class="scroll" {
                    table {
                        caption class="note" { "Permissions it adds" }
                        thead { tr { th scope="col" { "Feature" } th scope="col" { "Verbs" } th scope="col" { "Own records only" } } }
                        tbody {
                            @for (feature, rows) in m.features() {
                                tr {
                                    th scope="row" { (feature) }
                                    td class="checks" {
                                        @for row in rows {
                                            @let verb = row.action.split(':').nth(1).unwrap_or("");
                                            label { input type="checkbox" name="allow" value=(row.action) checked[d.allow.contains(&row.action)]; " " (verb) }
                                        }
                                    }
                                    td class="checks" {
                                        label { input type="checkbox" name="own" value=(feature) checked[d.own.contains(&feature)]; span class="note" { " own only (" (feature) ")" } }
                                    }
                                }
                            }
                        }
                    }
                }
                button type="submit" { "Preview changes" }
            }
        }
    }
}

/// A console-made role's Edit form, prefilled from its block of the policy text.
pub(super) fn prefill(source: &str, name: &str) -> Option<Draft> {
    let range = block(source, name)?;
    Some(Draft::parse(name, source.get(range)?))
}

/// The "Delete" button of a role the console wrote.
pub(super) fn delete_button(c: &Console<'_>, name: &str) -> Markup {
    html! {
        form method="post" action={ (PREFIX) "roles" } class="inline" {
            (csrf(&c.req))
            input type="hidden" name="do" value="preview";
            input type="hidden" name="editing" value=(name);
            input type="hidden" name="name" value=(name);
            input type="hidden" name="delete" value="yes";
            button type="submit" class="danger" aria-label={ "Delete role " (name) } { "Delete" }
        }
    }
}

/// The form's two steps: preview (checked, tested, compared) and save (put in force).
pub(super) async fn post(c: &Console<'_>) -> Out {
    let m = match fetch(c).await {
        Ok(m) => m,
        Err(out) => return out,
    };
    let again = |f: Failure| Out::status(f.status, "Roles", form(c, &m, Some(&f), None));
    let policy = match c.get("/policy").await {
        Ok(p) => p,
        Err(f) => return layout::failed(&f),
    };
    let Some(source) = policy.get("source").and_then(Value::as_str) else {
        return again(Failure::field(
            "name",
            "the policy in force was put in force compiled: a custom role needs its text",
        ));
    };
    let hash = policy
        .get("module_hash")
        .and_then(Value::as_str)
        .unwrap_or("");
    let editing = c.req.f("editing");
    if !plain(editing) {
        return layout::not_found();
    }
    let delete = !editing.is_empty() && c.req.f("delete") == "yes";
    // Only a role the console wrote is edited or deleted here, found by its marks.
    let at = if editing.is_empty() {
        None
    } else {
        match block(source, editing) {
            Some(range) => Some(range),
            None => {
                return again(Failure::field(
                    "name",
                    "this role was not made in the console: change it in the policy file",
                ))
            }
        }
    };
    let d = if delete {
        match prefill(source, editing) {
            Some(d) => d,
            None => return layout::not_found(),
        }
    } else {
        match draft(c, &m) {
            Ok(d) if at.is_some() && d.name != editing => {
                return again(Failure::field("name", "a role is not renamed here"))
            }
            Ok(d) => d,
            Err(f) => return again(f),
        }
    };
    // The author by id only: ids are the store's own, names and emails are typed by people
    // and must never reach the policy's text.
    let by = c.api.session().user.id.clone();
    if !plain(&by) {
        return again(Failure::field(
            "name",
            "your account id cannot be written into the policy",
        ));
    }
    let text = match (&at, delete) {
        (Some(r), true) => format!(
            "{}{}",
            source.get(..r.start).unwrap_or(""),
            source.get(r.end..).unwrap_or("")
        ),
        (Some(r), false) => format!(
            "{}{}{}",
            source.get(..r.start).unwrap_or(""),
            d.text(&by).trim_start(),
            source.get(r.end..).unwrap_or("")
        ),
        (None, _) => format!("{}{}", source.trim_end(), d.text(&by)),
    };
    let body = json!({"name": format!("console: role {}", d.name), "text": text, "expect": hash});
    if c.req.f("do") == "save" {
        if c.req.f("module_hash") != hash {
            return again(Failure::field(
                "name",
                "the policy changed since your preview: preview again",
            ));
        }
        return match c.json(http::Method::PUT, "/policy", Some(&body)).await {
            Ok(_) if delete => Out::Redirect(format!("{PREFIX}roles?done=role-deleted")),
            Ok(_) => Out::Redirect(format!("{PREFIX}roles?done=role")),
            Err(f) => again(f),
        };
    }
    match c.post("/policy/preview", &body).await {
        Ok(v) => preview(c, &d, hash, &v, editing, delete),
        Err(f) => again(f),
    }
}

fn preview(c: &Console<'_>, d: &Draft, hash: &str, v: &Value, editing: &str, delete: bool) -> Out {
    let changes = v
        .get("changes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let s = |x: &Value, k: &str| x.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let tests = v.get("tests_passed").and_then(Value::as_u64).unwrap_or(0);
    let body = html! {
        p { "Nothing is saved yet. This is what " strong { (d.name) } " would change in who may do what:" }
        table {
            thead { tr { th scope="col" { "Role" } th scope="col" { "Permission" } th scope="col" { "Before" } th scope="col" { "After" } th scope="col" { "Change" } } }
            tbody {
                @for ch in &changes {
                    tr {
                        td { (s(ch, "role")) }
                        td { code { (s(ch, "action")) } }
                        td { (s(ch, "before")) }
                        td { (s(ch, "after")) }
                        td { (s(ch, "change")) }
                    }
                }
                @if changes.is_empty() { tr { td colspan="5" { "No one gains or loses anything." } } }
            }
        }
        p role="status" { span class="badge ok" { "Checked" } " It compiles, every role held is still in it, and " (tests) " policy tests pass." }
        form method="post" action={ (PREFIX) "roles" } {
            (csrf(&c.req))
            input type="hidden" name="do" value="save";
            input type="hidden" name="module_hash" value=(hash);
            (d.hidden(editing, delete))
            div class="actions" {
                button type="submit" { @if delete { "Delete the role" } @else { "Save and put in force" } }
                a href={ (PREFIX) "roles" } { "Cancel" }
            }
        }
    };
    Out::page("Preview: custom role", body)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn role(name: &str) -> String {
        format!(
            "{}\nrole \"{name}\" {{\n  allow a:b\n}}\n{}\n",
            begin(name),
            end(name)
        )
    }

    #[test]
    fn only_a_whole_well_formed_block_of_that_name_is_found() {
        let src = format!(
            "policy \"p\" version \"1\"\n{}{}",
            role("Lead"),
            role("Lead Two")
        );
        let r = block(&src, "Lead").unwrap();
        assert_eq!(&src[r.clone()], role("Lead"));
        assert_eq!(&src[block(&src, "Lead Two").unwrap()], role("Lead Two"));
        assert_eq!(console_roles(&src), ["Lead", "Lead Two"]);
        // A mark that is not a whole line, a mark twice, a begin with no end: not the console's.
        let quoted = format!("# see {}\n{}", begin("Lead"), role("Lead"));
        assert_eq!(&quoted[block(&quoted, "Lead").unwrap()], role("Lead"));
        let twice = format!("{}{}", role("Lead"), role("Lead"));
        assert!(block(&twice, "Lead").is_none());
        let open = format!("{}\nrole \"Lead\" {{\n}}\n", begin("Lead"));
        assert!(block(&open, "Lead").is_none());
        let two_roles = format!(
            "{}\nrole \"Lead\" {{\n}}\nrole \"Other\" {{\n}}\n{}\n",
            begin("Lead"),
            end("Lead")
        );
        assert!(block(&two_roles, "Lead").is_none());
        // What the console wrote reads back as written.
        let d = Draft::parse("Lead", &role("Lead"));
        assert_eq!(d.allow, ["a:b"]);
    }
}
