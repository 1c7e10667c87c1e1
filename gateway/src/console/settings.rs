//! Settings > Practice (name, time zone, subscribed modules, the administrator-count warning,
//! locations) and Settings > Security (second factor, session timeouts and count, password
//! rules, lockout; the network and country rules, read-only, from the configuration file).

use http::Method;
use maud::{html, Markup};
use serde_json::{json, Value};
use wardgate_identity::{Location, Practice, SecondFactor, SecuritySettings};

use super::call::seg;
use super::layout::{self, csrf, input};
use super::{Console, Failure, Out, PREFIX};

const MODULES: [&str; 3] = ["clinical", "billing", "engage"];

pub(super) async fn practice(c: &Console<'_>) -> Out {
    if !(c.perms.practices || c.perms.locations) {
        return layout::failed(&super::users::refused());
    }
    let p = seg(&c.api.practice().id);
    let mut failure: Option<(&str, Failure)> = None;
    if c.req.post() {
        let done = match c.req.f("do") {
            "add-location" => c
                .post(
                    &format!("/practices/{p}/locations"),
                    &json!({"id": c.req.f("id"), "name": c.req.f("name")}),
                )
                .await
                .map(|_| "location")
                .map_err(|f| ("location", f)),
            "rename-location" => c
                .json(
                    Method::PATCH,
                    &format!("/practices/{p}/locations/{}", seg(c.req.f("id"))),
                    Some(&json!({"name": c.req.f("name")})),
                )
                .await
                .map(|_| "location")
                .map_err(|f| ("locations", f)),
            "practice" => c
                .json(
                    Method::PATCH,
                    &format!("/practices/{p}"),
                    Some(&json!({"name": c.req.f("name"), "timezone": c.req.f("timezone")})),
                )
                .await
                .map(|_| "saved")
                .map_err(|f| ("practice", f)),
            "modules" => c
                .json(
                    Method::PUT,
                    &format!("/practices/{p}/modules"),
                    Some(&json!({"modules": c.req.all("modules")})),
                )
                .await
                .map(|_| "modules")
                .map_err(|f| ("modules", f)),
            _ => return layout::not_found(),
        };
        match done {
            Ok(d) => return Out::Redirect(format!("{PREFIX}practice?done={d}")),
            Err(e) => failure = Some(e),
        }
    }
    let mut practice: Option<(Practice, Option<String>)> = None;
    if c.perms.practices {
        match c.get("/practices?limit=500").await {
            Ok(v) => {
                practice = v
                    .get("practices")
                    .and_then(Value::as_array)
                    .and_then(|ps| ps.first())
                    .and_then(|e| {
                        let p = serde_json::from_value(e.get("practice")?.clone()).ok()?;
                        let w = e.get("warning").and_then(Value::as_str).map(str::to_string);
                        Some((p, w))
                    })
            }
            Err(f) => return layout::failed(&f),
        }
    }
    let locations: Vec<Location> = if c.perms.locations {
        match c
            .list(&format!("/practices/{p}/locations?limit=500"), "locations")
            .await
        {
            Ok((l, _)) => l,
            Err(f) => return layout::failed(&f),
        }
    } else {
        Vec::new()
    };
    let for_form = |n: &str| failure.as_ref().filter(|(x, _)| *x == n).map(|(_, f)| f);
    let body = html! {
        @if let Some((p, warning)) = &practice {
            section class="card" aria-labelledby="practice-h" {
                h2 id="practice-h" { (p.name) }
                @if let Some(w) = warning { p class="error" role="alert" { (w) } }
                dl class="facts" { dt { "Id" } dd { code { (p.id) } } dt { "Time zone" } dd { (p.timezone) } }
                @if c.perms.edit_practice { (practice_form(c, p, for_form("practice"))) }
                (modules(c, p, for_form("modules")))
            }
        }
        @if c.perms.locations { (locations_section(c, &locations, for_form("location"), for_form("locations"))) }
    };
    Out::page("Practice", body)
}

fn practice_form(c: &Console<'_>, p: &Practice, failure: Option<&Failure>) -> Markup {
    let keep = |k: &str, v: &str| {
        if failure.is_some() {
            c.req.f(k).to_string()
        } else {
            v.to_string()
        }
    };
    html! {
        details open[failure.is_some()] {
            summary { "Edit practice information" }
            @if let Some(f) = failure { (layout::problems(f)) }
            form method="post" action={ (PREFIX) "practice" } {
                (csrf(&c.req))
                input type="hidden" name="do" value="practice";
                (input("name", "Name", "text", &keep("name", &p.name), failure, true))
                (input("timezone", "Time zone (IANA, e.g. America/Chicago)", "text", &keep("timezone", &p.timezone), failure, true))
                button type="submit" { "Save" }
            }
        }
    }
}

fn modules(c: &Console<'_>, p: &Practice, failure: Option<&Failure>) -> Markup {
    html! {
        h3 { "Subscribed modules" }
        @if let Some(f) = failure { (layout::problems(f)) }
        @if c.perms.modules {
            form method="post" action={ (PREFIX) "practice" } {
                (csrf(&c.req))
                input type="hidden" name="do" value="modules";
                fieldset class="checks" {
                    legend { "Clinical, Billing and Engage permissions exist only with their module" }
                    @for m in MODULES { label { input type="checkbox" name="modules" value=(m) checked[p.modules.iter().any(|x| x == m)]; " " (m) } }
                }
                button type="submit" { "Save modules" }
            }
        } @else {
            p { (p.modules.join(", ")) }
        }
    }
}

fn locations_section(
    c: &Console<'_>,
    locations: &[Location],
    add_failure: Option<&Failure>,
    edit_failure: Option<&Failure>,
) -> Markup {
    html! {
        section class="card" aria-labelledby="locations-h" {
            h2 id="locations-h" { "Locations" }
            @if let Some(f) = edit_failure { (layout::problems(f)) }
            table {
                thead { tr { th scope="col" { "Id" } th scope="col" { "Name" } } }
                tbody {
                    @for l in locations {
                        tr {
                            td { code { (l.id) } }
                            td {
                                @if c.perms.edit_location {
                                    form method="post" action={ (PREFIX) "practice" } class="inline" {
                                        (csrf(&c.req))
                                        input type="hidden" name="do" value="rename-location";
                                        input type="hidden" name="id" value=(l.id);
                                        label class="note" for={ "loc-" (l.id) } { "Name of " (l.id) }
                                        input id={ "loc-" (l.id) } name="name" type="text" value=(l.name);
                                        " " button type="submit" class="secondary" { "Rename" }
                                    }
                                } @else { (l.name) }
                            }
                        }
                    }
                    @if locations.is_empty() { tr { td colspan="2" { "No location yet." } } }
                }
            }
            @if c.perms.add_location {
                h3 { "Add a location" }
                @if let Some(f) = add_failure { (layout::problems(f)) }
                form method="post" action={ (PREFIX) "practice" } {
                    (csrf(&c.req))
                    input type="hidden" name="do" value="add-location";
                    (input("id", "Id (letters, digits, - and _)", "text", if add_failure.is_some() { c.req.f("id") } else { "" }, add_failure, true))
                    (input("name", "Name", "text", if add_failure.is_some() { c.req.f("name") } else { "" }, add_failure, true))
                    button type="submit" { "Add location" }
                }
            }
        }
    }
}

/// The settings a posted form asks for: every number checked by the API, every problem
/// named by its field.
fn posted(
    c: &Console<'_>,
    mut s: SecuritySettings,
    roles: &[String],
) -> Result<SecuritySettings, Failure> {
    let mut problems = Vec::new();
    s.idle_minutes_by_role.clear();
    for role in roles {
        let field = format!("idle.{role}");
        match c.req.f(&field) {
            "" => {}
            v => match v.parse::<u32>() {
                Ok(n) => {
                    s.idle_minutes_by_role.insert(role.clone(), n);
                }
                Err(_) => problems.push((field, "must be a whole number of minutes".to_string())),
            },
        }
    }
    let mut num = |name: &str, into: &mut u32| match c.req.f(name).parse::<u32>() {
        Ok(n) => *into = n,
        Err(_) => problems.push((name.to_string(), "must be a whole number".to_string())),
    };
    num("session_idle_minutes", &mut s.session_idle_minutes);
    num("session_max_hours", &mut s.session_max_hours);
    num("max_sessions", &mut s.max_sessions);
    num("inactivity_days", &mut s.inactivity_days);
    num("lockout_after", &mut s.lockout_after);
    num("lockout_minutes", &mut s.lockout_minutes);
    num("password.max_age_days", &mut s.password.max_age_days);
    let mut size = |name: &str, into: &mut usize| match c.req.f(name).parse::<usize>() {
        Ok(n) => *into = n,
        Err(_) => problems.push((name.to_string(), "must be a whole number".to_string())),
    };
    size("password.min_length", &mut s.password.min_length);
    size("password.history", &mut s.password.history);
    s.require_mfa = c.req.f("require_mfa") == "yes";
    s.second_factor = match c.req.f("second_factor") {
        "email" => SecondFactor::Email,
        "either" => SecondFactor::Either,
        _ => SecondFactor::Totp,
    };
    s.password.mixed_case = c.req.f("password.mixed_case") == "yes";
    s.password.digit = c.req.f("password.digit") == "yes";
    s.password.special = c.req.f("password.special") == "yes";
    if problems.is_empty() {
        Ok(s)
    } else {
        Err(Failure {
            status: http::StatusCode::BAD_REQUEST,
            code: "invalid".into(),
            message: "Some settings need attention.".into(),
            problems,
        })
    }
}

pub(super) async fn security(c: &Console<'_>) -> Out {
    if !c.perms.security {
        return layout::failed(&super::users::refused());
    }
    let path = format!("/practices/{}/security", seg(&c.api.practice().id));
    let (current, network): (SecuritySettings, Option<Value>) = match c.get(&path).await {
        Ok(v) => match v.get("security").cloned().map(serde_json::from_value) {
            Some(Ok(s)) => (s, v.get("network").cloned()),
            _ => return layout::not_found(),
        },
        Err(f) => return layout::failed(&f),
    };
    let mut failure = None;
    let mut shown = current.clone();
    let (roles, _) = super::users::choices(c).await;
    if c.req.post() && c.perms.edit_security {
        match posted(c, current, &roles) {
            Ok(s) => match serde_json::to_value(&s) {
                Ok(body) => match c.json(Method::PUT, &path, Some(&body)).await {
                    Ok(_) => return Out::Redirect(format!("{PREFIX}security?done=saved")),
                    Err(f) => {
                        shown = s;
                        failure = Some(f);
                    }
                },
                Err(_) => return layout::not_found(),
            },
            Err(f) => failure = Some(f),
        }
    }
    let body = html! {
        @if let Some(f) = &failure { (layout::problems(f)) }
        (security_form(c, &shown, &roles, failure.as_ref()))
        (network_rules(c, network.as_ref()))
    };
    Out::page("Security", body)
}

fn security_form(
    c: &Console<'_>,
    s: &SecuritySettings,
    roles: &[String],
    failure: Option<&Failure>,
) -> Markup {
    let editable = c.perms.edit_security;
    let n = |v: u32| v.to_string();
    let check = |name: &str, label: &str, on: bool| {
        html! { label { input type="checkbox" name=(name) value="yes" checked[on] disabled[!editable]; " " (label) } }
    };
    html! {
        form method="post" action={ (PREFIX) "security" } {
            (csrf(&c.req))
            fieldset class="checks" {
                legend { "Two-factor authentication" }
                (check("require_mfa", "Require a second factor at sign-in for everyone at this practice", s.require_mfa))
                div class="field" {
                    label for="second_factor" { "Second factors that count" }
                    select id="second_factor" name="second_factor" disabled[!editable] {
                        @for (value, label, kind) in [
                            ("totp", "An authenticator app (TOTP)", SecondFactor::Totp),
                            ("email", "A code sent by email", SecondFactor::Email),
                            ("either", "Either", SecondFactor::Either),
                        ] {
                            option value=(value) selected[s.second_factor == kind] { (label) }
                        }
                    }
                }
            }
            fieldset {
                legend { "Sessions" }
                (input("session_idle_minutes", "Session timeout: sign out after this many idle minutes", "number", &n(s.session_idle_minutes), failure, true))
                (input("session_max_hours", "Absolute lifetime: sign out after this many hours", "number", &n(s.session_max_hours), failure, true))
                (input("max_sessions", "Concurrent sessions per user (0: no limit)", "number", &n(s.max_sessions), failure, true))
                (input("inactivity_days", "Disable accounts unused for this many days (0: never)", "number", &n(s.inactivity_days), failure, true))
                @if !roles.is_empty() {
                    fieldset {
                        legend { "Shorter idle timeout for a role (minutes; empty: the practice's)" }
                        @for (i, role) in roles.iter().enumerate() {
                            @let name = format!("idle.{role}");
                            @let id = format!("idle-{i}");
                            @let value = s.idle_minutes_by_role.get(role).map(|m| m.to_string()).unwrap_or_default();
                            @let problem = failure.and_then(|f| f.problem(&name));
                            div class="field" {
                                label for=(id) { (role) }
                                input id=(id) name=(name) type="number" min="1" max="1440" value=(value) disabled[!editable]
                                    aria-invalid=[problem.map(|_| "true")];
                                @if let Some(p) = problem { span class="field-error" { (p) } }
                            }
                        }
                    }
                }
            }
            fieldset {
                legend { "Passwords" }
                (input("password.min_length", "Minimum length (8 to 128)", "number", &s.password.min_length.to_string(), failure, true))
                div class="checks" {
                    (check("password.mixed_case", "Upper and lower case", s.password.mixed_case))
                    (check("password.digit", "A digit", s.password.digit))
                    (check("password.special", "A symbol", s.password.special))
                }
                (input("password.history", "Previous passwords that may not be reused", "number", &s.password.history.to_string(), failure, true))
                (input("password.max_age_days", "Passwords expire after this many days (0: never)", "number", &n(s.password.max_age_days), failure, true))
            }
            fieldset {
                legend { "Lockout" }
                (input("lockout_after", "Failed sign-ins before the account is throttled", "number", &n(s.lockout_after), failure, true))
                (input("lockout_minutes", "First throttle, in minutes (doubles with each further failure)", "number", &n(s.lockout_minutes), failure, true))
            }
            @if editable { button type="submit" { "Save security settings" } }
            @else { p class="note" { "Your role may see these settings but not change them." } }
        }
    }
}

/// The network and country rules, as the API shows them: the configuration file's, shown,
/// not edited here.
fn network_rules(c: &Console<'_>, network: Option<&Value>) -> Markup {
    let list = |key: &str| -> String {
        let v: Vec<String> = network
            .and_then(|n| n.pointer(key))
            .and_then(|l| serde_json::from_value(l.clone()).ok())
            .unwrap_or_default();
        if v.is_empty() {
            "none".into()
        } else {
            v.join(", ")
        }
    };
    let geo = network
        .and_then(|n| n.get("countries"))
        .is_some_and(|g| !g.is_null());
    html! {
        section class="card" aria-labelledby="net-h" {
            h2 id="net-h" { "IP allowlists and countries" }
            p class="note" { "These live in the gateway's configuration file (" code { "[network]" } ", " code { "[geo]" } ", " code { "[practices." (c.api.practice().id) "]" } ") and are read-only here; the host's operator changes them there." }
            dl class="facts" {
                dt { "Allowed networks" } dd { (list("/allow")) }
                dt { "Blocked networks" } dd { (list("/deny")) }
                dt { "This practice: allowed" } dd { (list("/practice_allow")) }
                dt { "This practice: blocked" } dd { (list("/practice_deny")) }
                @if geo {
                    dt { "Only these countries" } dd { (list("/countries/allow")) }
                    dt { "Blocked countries" } dd { (list("/countries/block")) }
                } @else {
                    dt { "Countries" } dd { "No country rules (no GeoIP database configured)" }
                }
            }
        }
    }
}
