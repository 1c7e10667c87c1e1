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
struct Draft {
    name: String,
    extends: Option<String>,
    description: String,
    /// Actions it adds.
    allow: Vec<String>,
    /// Features whose added actions hold for the person's own records only.
    own: Vec<String>,
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
    } else if m.roles.iter().any(|r| r.eq_ignore_ascii_case(&name)) {
        problems.push(("name".to_string(), format!("a role named {name} exists")));
    }
    let extends = c.req.opt("extends");
    if let Some(e) = &extends {
        if !m.roles.contains(e) {
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
            "\n# Custom role, made in the console by {by}.\nrole \"{}\"",
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
        t
    }

    /// The form's fields again, for the next step.
    fn hidden(&self) -> Markup {
        html! {
            input type="hidden" name="name" value=(self.name);
            input type="hidden" name="extends" value=(self.extends.as_deref().unwrap_or(""));
            input type="hidden" name="description" value=(self.description);
            @for a in &self.allow { input type="hidden" name="allow" value=(a); }
            @for o in &self.own { input type="hidden" name="own" value=(o); }
        }
    }
}

/// The "Create a custom role" form, for those the policy lets change it.
pub(super) fn form(c: &Console<'_>, m: &Matrix, failure: Option<&Failure>) -> Markup {
    if !(c.perms.policy && c.perms.preview_policy && c.perms.swap_policy) {
        return html! {};
    }
    let chosen = c.req.all("allow");
    let own = c.req.all("own");
    html! {
        details class="card" id="custom-role" open[failure.is_some()] {
            summary { h2 class="inline" { "Create a custom role" } }
            p { "Start from a built-in role and add permissions, e.g. a “Lead Therapist” who is a Provider and also manages patients and appointments. You see who gains what, and the policy's tests run, before anything is saved." }
            @if let Some(f) = failure { (layout::problems(f)) }
            form method="post" action={ (PREFIX) "roles" } {
                (csrf(&c.req))
                input type="hidden" name="do" value="preview";
                (input("name", "Role name", "text", c.req.f("name"), failure, true))
                div class="field" {
                    label for="extends" { "Extends" }
                    select id="extends" name="extends" {
                        option value="" { "Nothing (only what is checked below)" }
                        @for r in &m.roles { option value=(r) selected[c.req.f("extends") == r] { (r) } }
                    }
                }
                (input("description", "Description", "text", c.req.f("description"), failure, false))
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
                                            label { input type="checkbox" name="allow" value=(row.action) checked[chosen.contains(&row.action)]; " " (verb) }
                                        }
                                    }
                                    td class="checks" {
                                        label { input type="checkbox" name="own" value=(feature) checked[own.contains(&feature)]; span class="note" { " own only (" (feature) ")" } }
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

/// The form's two steps: preview (checked, tested, compared) and save (put in force).
pub(super) async fn post(c: &Console<'_>) -> Out {
    let m = match fetch(c).await {
        Ok(m) => m,
        Err(out) => return out,
    };
    let again = |f: Failure| Out::status(f.status, "Roles", form(c, &m, Some(&f)));
    let d = match draft(c, &m) {
        Ok(d) => d,
        Err(f) => return again(f),
    };
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
    // The author by id only: ids are the store's own, names and emails are typed by people
    // and must never reach the policy's text.
    let by = c.api.session().user.id.clone();
    if !plain(&by) {
        return again(Failure::field(
            "name",
            "your account id cannot be written into the policy",
        ));
    }
    let text = format!("{}{}", source.trim_end(), d.text(&by));
    let body = json!({"name": format!("console: role {}", d.name), "text": text, "expect": hash});
    if c.req.f("do") == "save" {
        if c.req.f("module_hash") != hash {
            return again(Failure::field(
                "name",
                "the policy changed since your preview: preview again",
            ));
        }
        return match c.json(http::Method::PUT, "/policy", Some(&body)).await {
            Ok(_) => Out::Redirect(format!("{PREFIX}roles?done=role")),
            Err(f) => again(f),
        };
    }
    match c.post("/policy/preview", &body).await {
        Ok(v) => preview(c, &d, hash, &v),
        Err(f) => again(f),
    }
}

fn preview(c: &Console<'_>, d: &Draft, hash: &str, v: &Value) -> Out {
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
            (d.hidden())
            div class="actions" {
                button type="submit" { "Save and put in force" }
                a href={ (PREFIX) "roles" } { "Cancel" }
            }
        }
    };
    Out::page("Preview: custom role", body)
}
