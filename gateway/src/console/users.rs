//! Settings > Users: the list (providers first, then staff, alphabetical; search by the first
//! letters of a name or email; filters), one user's page with everything an administrator
//! does to them, and Add User / Add Provider ([`form`]).

mod actions;
mod form;

use maud::{html, Markup};
use wardgate_identity::{Assignment, Location, SessionInfo, User, UserKind};

use super::call::{query, seg};
use super::layout::{self, button, csrf};
use super::{Console, Failure, Out, PREFIX};

pub(super) use form::add;

/// The fewest letters a search starts with (the vendor's "first three letters").
const SEARCH_MIN: usize = 3;

fn user_url(id: &str) -> String {
    format!("{PREFIX}users/{}", seg(id))
}

fn full_name(u: &User) -> String {
    match &u.middle_name {
        Some(m) if !m.is_empty() => format!("{} {} {}", u.first_name, m, u.last_name),
        _ => format!("{} {}", u.first_name, u.last_name),
    }
}

fn status_of(u: &User) -> &'static str {
    u.status.as_str()
}

/// A role as the list shows it: `Biller`, or `Biller (Main Street)` at one location.
fn assignment_label(a: &Assignment, locations: &[Location]) -> String {
    match &a.location_id {
        Some(l) => {
            let name = locations
                .iter()
                .find(|x| &x.id == l)
                .map_or(l.as_str(), |x| x.name.as_str());
            format!("{} ({name})", a.role)
        }
        None => a.role.clone(),
    }
}

/// The roles the policy in force defines, and the practice's locations (when this person may
/// see them): what the forms and filters offer.
pub(super) async fn choices(c: &Console<'_>) -> (Vec<String>, Vec<Location>) {
    let roles = c
        .get("/me")
        .await
        .ok()
        .and_then(|me| serde_json::from_value(me.get("policy_roles")?.clone()).ok())
        .unwrap_or_default();
    let locations = if c.perms.locations {
        let p = seg(&c.api.practice().id);
        c.list::<Location>(&format!("/practices/{p}/locations?limit=500"), "locations")
            .await
            .map(|(l, _)| l)
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    (roles, locations)
}

fn filters(c: &Console<'_>, roles: &[String], locations: &[Location]) -> Markup {
    let q = |k: &str| c.req.q(k).unwrap_or("").to_string();
    let selected = |k: &str, v: &str| c.req.q(k) == Some(v);
    html! {
        form method="get" action={ (PREFIX) "users" } class="filters" role="search" {
            div class="field" {
                label for="q" { "Search" }
                input id="q" name="q" type="search" value=(q("q")) minlength="3"
                    placeholder="First three letters of a name or email" aria-describedby="q-note";
            }
            div class="field" {
                label for="status" { "Status" }
                select id="status" name="status" {
                    option value="" { "Any" }
                    @for s in ["active", "locked", "disabled", "unassigned"] {
                        option value=(s) selected[selected("status", s)] { (s) }
                    }
                }
            }
            div class="field" {
                label for="role" { "Role" }
                select id="role" name="role" {
                    option value="" { "Any" }
                    @for r in roles { option value=(r) selected[selected("role", r)] { (r) } }
                }
            }
            @if !locations.is_empty() {
                div class="field" {
                    label for="location" { "Location" }
                    select id="location" name="location" {
                        option value="" { "Any" }
                        @for l in locations { option value=(l.id) selected[selected("location", &l.id)] { (l.name) } }
                    }
                }
            }
            button type="submit" { "Filter" }
        }
        p id="q-note" class="note" { "Search matches the first letters of a first name, last name or email (at least three)." }
    }
}

/// The list of users.
pub(super) async fn list(c: &Console<'_>) -> Out {
    if !c.perms.users {
        return layout::failed(&refused());
    }
    let (roles, locations) = choices(c).await;
    let search = c.req.q("q").map(str::trim).filter(|s| !s.is_empty());
    let short = search.is_some_and(|s| s.chars().count() < SEARCH_MIN);
    let path = format!(
        "/users{}",
        query(&[
            ("prefix", search.filter(|_| !short)),
            ("status", c.req.q("status")),
            ("role", c.req.q("role")),
            ("location", c.req.q("location")),
            ("cursor", c.req.q("cursor")),
            ("limit", Some("50")),
        ])
    );
    let (users, next) = match c.list::<User>(&path, "users").await {
        Ok(found) => found,
        Err(f) => return layout::failed(&f),
    };
    let next_url = next.map(|n| {
        let mut q: Vec<(String, String)> = c
            .req
            .query
            .iter()
            .filter(|(k, _)| k != "cursor" && k != "done")
            .cloned()
            .collect();
        q.push(("cursor".into(), n));
        let q = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(q)
            .finish();
        format!("{PREFIX}users?{q}")
    });
    let body = html! {
        @if c.perms.add_user {
            div class="actions" {
                a class="button" href={ (PREFIX) "users/new" } { "+ Add User" }
                a class="button" href={ (PREFIX) "users/new?provider=1" } { "+ Add Provider" }
            }
        }
        (filters(c, &roles, &locations))
        @if short { p class="error" role="alert" { "Type at least three letters to search." } }
        div class="scroll" {
            table {
                caption class="note" { "Providers first, then staff, each alphabetical." }
                thead { tr { th scope="col" { "Name" } th scope="col" { "Email" } th scope="col" { "Type" } th scope="col" { "Roles" } th scope="col" { "Status" } } }
                tbody {
                    @for u in &users {
                        tr {
                            td { a href=(user_url(&u.id)) { (full_name(u)) } }
                            td { (u.email) }
                            td { @if u.kind == UserKind::Provider { "Provider" } @else { "Staff" } }
                            td { (u.assignments.iter().map(|a| assignment_label(a, &locations)).collect::<Vec<_>>().join(", ")) }
                            td class={ "status-" (status_of(u)) } { (status_of(u)) }
                        }
                    }
                    @if users.is_empty() { tr { td colspan="5" { "No user matches." } } }
                }
            }
        }
        @if let Some(n) = next_url { p { a href=(n) rel="next" { "Next page" } } }
    };
    Out::page("Users", body)
}

/// A refusal the console makes itself, for a page the policy does not offer this person.
pub(super) fn refused() -> Failure {
    Failure {
        status: http::StatusCode::FORBIDDEN,
        code: "forbidden".into(),
        message: "The policy does not permit you to see this page.".into(),
        problems: Vec::new(),
    }
}

/// One user's page; a form posted to it does one thing to them.
pub(super) async fn show(c: &Console<'_>, id: &str) -> Out {
    if !c.perms.users {
        return layout::failed(&refused());
    }
    if c.req.post() {
        return actions::act(c, id).await;
    }
    page(c, id, None).await
}

/// The user's page, with the problem of a form that did not go through.
pub(super) async fn page(c: &Console<'_>, id: &str, failure: Option<(&str, Failure)>) -> Out {
    let user: User = match c.get(&format!("/users/{}", seg(id))).await {
        Ok(v) => match serde_json::from_value(v.get("user").cloned().unwrap_or(v)) {
            Ok(u) => u,
            Err(_) => return layout::not_found(),
        },
        Err(f) => return layout::failed(&f),
    };
    let (roles, locations) = choices(c).await;
    let sessions: Vec<SessionInfo> = if c.perms.sessions {
        c.list(
            &format!("/users/{}/sessions?limit=100", seg(id)),
            "sessions",
        )
        .await
        .map(|(s, _)| s)
        .unwrap_or_default()
    } else {
        Vec::new()
    };
    let for_form = |name: &str| failure.as_ref().filter(|(n, _)| *n == name).map(|(_, f)| f);
    let body = html! {
        @if let Some((n, f)) = &failure { @if !matches!(*n, "edit" | "grant") { (layout::problems(f)) } }
        (facts(&user, &locations))
        (form::edit(c, &user, for_form("edit")))
        (roles_section(c, &user, &roles, &locations, for_form("grant")))
        (actions::panel(c, &user, failure.as_ref().map(|(n, _)| *n)))
        (sessions_section(c, &user, &sessions))
    };
    match failure {
        Some((_, f)) => Out::status(f.status, full_name(&user), body),
        None => Out::page(full_name(&user), body),
    }
}

fn facts(u: &User, locations: &[Location]) -> Markup {
    html! {
        section class="card" aria-labelledby="facts" {
            h2 id="facts" { "Account" }
            dl class="facts" {
                dt { "Email" } dd { (u.email) }
                dt { "Type" } dd { @if u.kind == UserKind::Provider { "Provider" } @else { "Staff" } }
                dt { "Status" } dd class={ "status-" (status_of(u)) } { (status_of(u)) }
                @if u.must_change_password { dt { "Password" } dd { "Temporary: must be changed at the next sign-in" } }
                @if let Some(t) = &u.locked_until { dt { "Throttled until" } dd { (t) } }
                @if let Some(npi) = &u.npi { dt { "NPI" } dd { (npi) } }
                @if !u.active_modules.is_empty() { dt { "Active modules" } dd { (u.active_modules.join(", ")) } }
                dt { "Roles" }
                dd { (u.assignments.iter().map(|a| assignment_label(a, locations)).collect::<Vec<_>>().join(", ")) }
                dt { "Emergency access" }
                dd { @if u.emergency_access.is_empty() { "Not allowed" } @else { "Allowed for " (u.emergency_access.join(", ")) } }
            }
        }
    }
}

fn roles_section(
    c: &Console<'_>,
    u: &User,
    roles: &[String],
    locations: &[Location],
    failure: Option<&Failure>,
) -> Markup {
    let here = user_url(&u.id);
    html! {
        section class="card" aria-labelledby="roles-h" {
            h2 id="roles-h" { "Roles" }
            table {
                thead { tr { th scope="col" { "Role" } th scope="col" { "Practice" } th scope="col" { "Location" } th scope="col" { "Until" } th scope="col" { "Given by" } @if c.perms.revoke { th scope="col" { span class="note" { "Action" } } } } }
                tbody {
                    @for a in &u.assignments {
                        tr {
                            td { (a.role) }
                            td { (a.practice_id) }
                            td { (a.location_id.as_deref().map(|l| locations.iter().find(|x| x.id == l).map_or(l, |x| x.name.as_str())).unwrap_or("Every location")) }
                            td { (a.expires_at.as_deref().unwrap_or("—")) }
                            td { (a.granted_by) }
                            @if c.perms.revoke {
                                td {
                                    form method="post" action=(here) class="inline" {
                                        (csrf(&c.req))
                                        input type="hidden" name="do" value="revoke";
                                        input type="hidden" name="role" value=(a.role);
                                        input type="hidden" name="practice" value=(a.practice_id);
                                        @if let Some(l) = &a.location_id { input type="hidden" name="location" value=(l); }
                                        button type="submit" class="secondary" aria-label={ "Take away " (a.role) } { "Take away" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if c.perms.grant {
                form method="post" action=(here) {
                    (csrf(&c.req))
                    input type="hidden" name="do" value="grant";
                    @if let Some(f) = failure { (layout::problems(f)) }
                    div class="filters" {
                        div class="field" {
                            label for="grant-role" { "Give role" }
                            select id="grant-role" name="role" required {
                                @for r in roles { option value=(r) { (r) } }
                            }
                        }
                        @if !locations.is_empty() {
                            div class="field" {
                                label for="grant-location" { "At" }
                                select id="grant-location" name="location" {
                                    option value="" { "Every location" }
                                    @for l in locations { option value=(l.id) { (l.name) } }
                                }
                            }
                        }
                        div class="field" {
                            label for="grant-until" { "Until (optional)" }
                            input id="grant-until" name="expires_at" type="date";
                        }
                        button type="submit" { "Give role" }
                    }
                }
            }
        }
    }
}

fn sessions_section(c: &Console<'_>, u: &User, sessions: &[SessionInfo]) -> Markup {
    if !c.perms.sessions {
        return html! {};
    }
    let here = user_url(&u.id);
    html! {
        section class="card" aria-labelledby="sessions-h" {
            h2 id="sessions-h" { "Sessions and devices" }
            @if sessions.is_empty() { p { "No open session." } }
            @else {
                table {
                    thead { tr { th scope="col" { "Signed in" } th scope="col" { "Last seen" } th scope="col" { "From" } th scope="col" { "Device" } th scope="col" { "Second factor" } @if c.perms.end_session { th scope="col" { span class="note" { "Action" } } } } }
                    tbody {
                        @for s in sessions {
                            tr {
                                td { (s.created_at) }
                                td { (s.last_seen_at) }
                                td { (s.client.as_deref().unwrap_or("—")) }
                                td { (s.device.as_deref().map(|d| d.get(..12).unwrap_or(d)).unwrap_or("—")) }
                                td { @if s.mfa { "yes" } @else { "no" } }
                                @if c.perms.end_session {
                                    td {
                                        form method="post" action=(here) class="inline" {
                                            (csrf(&c.req))
                                            input type="hidden" name="do" value="end-session";
                                            input type="hidden" name="session" value=(s.id);
                                            button type="submit" class="secondary" { "Sign out" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if c.perms.logout_user && !sessions.is_empty() {
                div class="actions" { (button(&c.req, &here, "logout", "Sign out everywhere", "danger")) }
            }
        }
    }
}
