//! Add User / Add Provider and Edit User, as the vendor's windows have them: name, email,
//! phone; for a provider the NPI (its check digit verified as it is typed, and by the API),
//! taxonomy, type, specialty, credentials, license number and modules; a temporary password
//! typed or generated; one or more roles; the location; emergency access; Add or Send Invite.

use maud::{html, Markup};
use serde_json::{json, Value};
use wardgate_identity::{Location, User, UserKind};

use super::super::layout::{self, csrf, input};
use super::super::{Console, Failure, Out, PREFIX};
use super::{choices, refused, user_url};

/// Sets one field of a JSON object body.
fn set(body: &mut Value, key: &str, value: Value) {
    if let Some(o) = body.as_object_mut() {
        o.insert(key.to_string(), value);
    }
}

/// The provider fields: name, label.
const PROVIDER_FIELDS: [(&str, &str); 5] = [
    ("taxonomy", "Taxonomy code"),
    ("provider_type", "Provider type"),
    ("specialty", "Specialty"),
    ("credentials", "Credentials (e.g. MD, NP)"),
    ("license_number", "License number"),
];

/// `users/new`: the form, and what it posts.
pub(in crate::console) async fn add(c: &Console<'_>) -> Out {
    if !c.perms.add_user {
        return layout::failed(&refused());
    }
    let provider = c.req.q("provider") == Some("1") || c.req.f("kind") == "provider";
    if !c.req.post() {
        return new_form(c, provider, None).await;
    }
    let invite = c.req.f("mode") == "invite";
    let mut problems = Vec::new();
    let roles = c.req.all("roles");
    if roles.is_empty() {
        problems.push(("roles".to_string(), "choose at least one role".to_string()));
    }
    let typed = c.req.f("password_mode") == "typed";
    if typed && !invite && c.req.f("password").is_empty() {
        problems.push((
            "password".to_string(),
            "type a temporary password, or choose to generate one".to_string(),
        ));
    }
    if !problems.is_empty() {
        let f = Failure {
            status: http::StatusCode::BAD_REQUEST,
            code: "invalid".into(),
            message: "Some fields need attention.".into(),
            problems,
        };
        return new_form(c, provider, Some(&f)).await;
    }
    let practice = c.api.practice().id.clone();
    let mut body = json!({
        "email": c.req.f("email"),
        "first_name": c.req.f("first_name"),
        "middle_name": c.req.opt("middle_name"),
        "last_name": c.req.f("last_name"),
        "phone": c.req.opt("phone"),
        "roles": roles,
        "practices": [practice.clone()],
        "location": c.req.opt("location"),
        "emergency_access": if c.req.f("emergency") == "yes" { vec![practice] } else { Vec::new() },
    });
    if typed && !invite {
        set(&mut body, "password", json!(c.req.f("password")));
    }
    if provider {
        set(&mut body, "npi", json!(c.req.f("npi")));
        for (name, _) in PROVIDER_FIELDS {
            set(&mut body, name, json!(c.req.opt(name)));
        }
        set(&mut body, "modules", json!(c.req.all("modules")));
    }
    let path = if invite {
        "/users/invitations"
    } else {
        "/users"
    };
    match c.post(path, &body).await {
        Ok(v) => added(&v, invite),
        Err(f) => new_form(c, provider, Some(&f)).await,
    }
}

/// After Add: the temporary password or the activation token, shown once.
fn added(v: &Value, invite: bool) -> Out {
    let id = v
        .pointer("/user/id")
        .or_else(|| v.get("id"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let password = v.get("temporary_password").and_then(Value::as_str);
    let token = v.get("activation_token").and_then(Value::as_str);
    let mailed = v.get("mailed_to").and_then(Value::as_str);
    let body = html! {
        p class="notice" role="status" { @if invite { "The user was added and invited." } @else { "The user was added." } }
        @if let Some(p) = password {
            p { "Their temporary password, shown only now (they must change it when they first sign in):" }
            p { code id="temp-password" class="secret" { (p) } " " button type="button" class="secondary" data-copy="temp-password" hidden { "Copy" } }
        }
        @if let Some(t) = token {
            p { "Their activation token, shown only now; it works once and expires:" }
            p { code id="activation-token" class="secret" { (t) } " " button type="button" class="secondary" data-copy="activation-token" hidden { "Copy" } }
        }
        @if let Some(to) = mailed {
            p { "The invitation was sent to " strong { (to) } ". Its link works once, for seven days." }
        }
        @if password.is_none() && token.is_none() && mailed.is_none() {
            p { "They sign in with the temporary password you typed, and must change it then." }
        }
        p { a href=(user_url(id)) { "Open the user" } " · " a href={ (PREFIX) "users" } { "Back to Users" } }
    };
    Out::page(
        if invite {
            "Invitation sent"
        } else {
            "User added"
        },
        body,
    )
}

fn location_select(locations: &[Location], chosen: &str) -> Markup {
    html! {
        @if !locations.is_empty() {
            div class="field" {
                label for="location" { "Location" }
                select id="location" name="location" {
                    option value="" { "Every location of the practice" }
                    @for l in locations { option value=(l.id) selected[chosen == l.id] { (l.name) } }
                }
            }
        }
    }
}

fn provider_fields(c: &Console<'_>, user: Option<&User>, failure: Option<&Failure>) -> Markup {
    let value = |name: &str| -> String {
        if c.req.post() {
            return c.req.f(name).to_string();
        }
        let Some(u) = user else { return String::new() };
        match name {
            "npi" => u.npi.clone(),
            "taxonomy" => u.taxonomy.clone(),
            "provider_type" => u.provider_type.clone(),
            "specialty" => u.specialty.clone(),
            "credentials" => u.credentials.clone(),
            "license_number" => u.license_number.clone(),
            _ => None,
        }
        .unwrap_or_default()
    };
    let modules = &c.api.practice().modules;
    let active = |m: &str| {
        if c.req.post() {
            c.req.all("modules").iter().any(|x| x == m)
        } else {
            user.is_some_and(|u| u.active_modules.iter().any(|x| x == m))
        }
    };
    html! {
        fieldset {
            legend { "Provider" }
            (input("npi", "NPI", "text", &value("npi"), failure, true))
            p id="npi-check" class="note" aria-live="polite" {}
            @for (name, label) in PROVIDER_FIELDS { (input(name, label, "text", &value(name), failure, false)) }
            fieldset class="checks" {
                legend { "Modules of the practice" }
                @for m in modules { label { input type="checkbox" name="modules" value=(m) checked[active(m)]; " " (m) } }
                @if let Some(p) = failure.and_then(|f| f.problem("modules")) { span class="field-error" { (p) } }
            }
        }
    }
}

fn person_fields(c: &Console<'_>, user: Option<&User>, failure: Option<&Failure>) -> Markup {
    let value = |name: &str| -> String {
        if c.req.post() {
            return c.req.f(name).to_string();
        }
        let Some(u) = user else { return String::new() };
        match name {
            "first_name" => Some(u.first_name.clone()),
            "middle_name" => u.middle_name.clone(),
            "last_name" => Some(u.last_name.clone()),
            "email" => Some(u.email.clone()),
            "phone" => u.phone.clone(),
            _ => None,
        }
        .unwrap_or_default()
    };
    html! {
        (input("first_name", "First name", "text", &value("first_name"), failure, true))
        (input("middle_name", "Middle name", "text", &value("middle_name"), failure, false))
        (input("last_name", "Last name", "text", &value("last_name"), failure, true))
        (input("email", "Email", "email", &value("email"), failure, true))
        (input("phone", "Phone", "text", &value("phone"), failure, false))
    }
}

async fn new_form(c: &Console<'_>, provider: bool, failure: Option<&Failure>) -> Out {
    let (roles, locations) = choices(c).await;
    let chosen = c.req.all("roles");
    let practice = c.api.practice();
    let typed = c.req.f("password_mode") == "typed";
    let body = html! {
        @if let Some(f) = failure { (layout::problems(f)) }
        form method="post" action={ (PREFIX) "users/new" } novalidate {
            (csrf(&c.req))
            input type="hidden" name="kind" value=(if provider { "provider" } else { "staff" });
            (person_fields(c, None, failure))
            @if provider { (provider_fields(c, None, failure)) }
            fieldset {
                legend { "Temporary password" }
                div class="checks" {
                    label { input type="radio" name="password_mode" value="generated" checked[!typed]; " Generate one (shown once)" }
                    label { input type="radio" name="password_mode" value="typed" checked[typed]; " Type one" }
                }
                (input("password", "Temporary password (when typed)", "password", "", failure, false))
                p class="note" { "Either way they must change it at their first sign-in. Send Invite emails an activation link instead." }
            }
            fieldset class="checks" {
                legend { "Roles" }
                @for r in &roles { label { input type="checkbox" name="roles" value=(r) checked[chosen.contains(r)]; " " (r) } }
                @if let Some(p) = failure.and_then(|f| f.problem("roles")) { span class="field-error" { (p) } }
                p class="note" { a href={ (PREFIX) "roles" } { "Learn more" } " about each role's permissions." }
            }
            fieldset {
                legend { "Practice access" }
                p { (practice.name) " (" (practice.id) ")" }
                p class="note" { "You give access to the practice you administer." }
                (location_select(&locations, c.req.f("location")))
                div class="checks" {
                    label { input type="checkbox" name="emergency" value="yes" checked[c.req.f("emergency") == "yes"]; " Allow emergency access for " (practice.name) }
                }
            }
            div class="actions" {
                button type="submit" name="mode" value="add" { "Add user" }
                @if c.perms.invite { button type="submit" name="mode" value="invite" class="secondary" { "Send invite" } }
            }
        }
    };
    let title = if provider { "Add Provider" } else { "Add User" };
    match failure {
        Some(f) => Out::status(f.status, title, body),
        None => Out::page(title, body),
    }
}

/// The "Edit User/Provider" form on the user's page.
pub(super) fn edit(c: &Console<'_>, u: &User, failure: Option<&Failure>) -> Markup {
    if !c.perms.edit_user {
        return html! {};
    }
    let practice = c.api.practice();
    let emergency = if c.req.post() {
        c.req.f("emergency") == "yes"
    } else {
        u.emergency_access.contains(&practice.id)
    };
    html! {
        details class="card" open[failure.is_some()] {
            summary { h2 class="inline" { "Edit " @if u.kind == UserKind::Provider { "provider" } @else { "user" } } }
            @if let Some(f) = failure { (layout::problems(f)) }
            form method="post" action=(user_url(&u.id)) novalidate {
                (csrf(&c.req))
                input type="hidden" name="do" value="edit";
                input type="hidden" name="kind" value=(if u.kind == UserKind::Provider { "provider" } else { "staff" });
                (person_fields(c, Some(u), failure))
                @if u.kind == UserKind::Provider { (provider_fields(c, Some(u), failure)) }
                div class="checks" {
                    label { input type="checkbox" name="emergency" value="yes" checked[emergency]; " Allow emergency access for " (practice.name) }
                }
                button type="submit" { "Save " @if u.kind == UserKind::Provider { "provider" } @else { "user" } }
            }
        }
    }
}

/// The API's "Edit User" body for the posted form: every field of the form is sent.
pub(super) fn edit_body(c: &Console<'_>) -> Value {
    let practice = c.api.practice().id.clone();
    let text = |k: &str| json!(c.req.f(k));
    let mut body = json!({
        "email": text("email"),
        "first_name": text("first_name"),
        "middle_name": text("middle_name"),
        "last_name": text("last_name"),
        "phone": text("phone"),
    });
    if c.req.f("emergency") == "yes" {
        set(&mut body, "allow_emergency", json!([practice]));
    } else {
        set(&mut body, "deny_emergency", json!([practice]));
    }
    if c.req.f("kind") == "provider" {
        set(&mut body, "npi", text("npi"));
        for (name, _) in PROVIDER_FIELDS {
            set(&mut body, name, text(name));
        }
        set(&mut body, "modules", json!(c.req.all("modules")));
    }
    body
}
