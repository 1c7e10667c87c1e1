//! The console's chrome: the page around every section (navigation that follows the policy,
//! who is signed in, sign-out), its stylesheet and script served from the binary, the headers
//! every answer carries, and the small form pieces every page uses.

use http::{header, HeaderValue, Response, StatusCode};
use maud::{html, Markup, DOCTYPE};

use super::{text, Console, Failure, Out, Req, PREFIX};
use crate::body::Body;

const STYLE: &str = include_str!("console.css");
const SCRIPT: &str = include_str!("console.js");

/// The console's policy for browsers: nothing from elsewhere, no inline script or style.
const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
form-action 'self'; frame-ancestors 'none'; base-uri 'none'; connect-src 'none'";

/// The stylesheet and the script, by name.
pub(super) fn asset(path: &str) -> Option<Response<Body>> {
    let (ctype, body) = match path {
        "console.css" => ("text/css; charset=utf-8", STYLE),
        "console.js" => ("text/javascript; charset=utf-8", SCRIPT),
        _ => return None,
    };
    let mut res = text(StatusCode::OK, ctype, body);
    let h = res.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=300"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    Some(res)
}

/// What every console answer carries: never cached (account and patient data), never framed.
fn secure(res: &mut Response<Body>) {
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
}

/// A short plain answer (a refusal before any page could be drawn).
pub(super) fn plain(status: StatusCode, message: &str) -> Response<Body> {
    let mut res = text(status, "text/plain; charset=utf-8", message.to_string());
    secure(&mut res);
    res
}

pub(super) fn not_found() -> Out {
    Out::status(
        StatusCode::NOT_FOUND,
        "Not found",
        html! { p { "There is no such page in the console." } },
    )
}

/// The page the API's refusal stands for.
pub(crate) fn failed(f: &Failure) -> Out {
    let title = match f.status {
        StatusCode::FORBIDDEN => "Not permitted",
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::UNAUTHORIZED => "Sign in again",
        s if s.is_server_error() => "Try again",
        _ => "Something is not right",
    };
    let status = if f.status.is_success() {
        StatusCode::BAD_GATEWAY
    } else {
        f.status
    };
    Out::status(
        status,
        title,
        html! {
            (problems(f))
            @if f.code == "step_up_required" {
                p { "This needs a fresh sign-in. " a href="/.wardgate/reauth" { "Confirm your password" } ", then try again." }
            }
            @if f.refused() {
                p { "Your role does not permit this. An administrator of your practice can change your roles." }
            }
        },
    )
}

/// The API's error, every field problem at once, announced to screen readers.
pub(crate) fn problems(f: &Failure) -> Markup {
    html! {
        div class="error" role="alert" {
            p { (f.message) }
            @if f.problems.len() > 1 {
                ul { @for (field, m) in &f.problems { li { strong { (field) } ": " (m) } } }
            }
        }
    }
}

/// The form's token (the double-submit cookie's value).
pub(crate) fn csrf(req: &Req) -> Markup {
    html! { input type="hidden" name="csrf" value=(req.csrf); }
}

/// A small form with one button that posts `action` (`do`) to `to`.
pub(crate) fn button(req: &Req, to: &str, action: &str, label: &str, class: &str) -> Markup {
    html! {
        form method="post" action=(to) class="inline" {
            (csrf(req))
            input type="hidden" name="do" value=(action);
            button type="submit" class=(class) { (label) }
        }
    }
}

/// A labelled text input, with its problem (if any) beside it.
pub(crate) fn input(
    name: &str,
    label: &str,
    kind: &str,
    value: &str,
    failure: Option<&Failure>,
    required: bool,
) -> Markup {
    let problem = failure.and_then(|f| f.problem(name));
    let err_id = format!("{name}-error");
    html! {
        div class="field" {
            label for=(name) { (label) @if required { " " span class="req" aria-hidden="true" { "*" } } }
            input id=(name) name=(name) type=(kind) value=(value) required[required]
                aria-invalid=[problem.map(|_| "true")]
                aria-describedby=[problem.map(|_| err_id.as_str())];
            @if let Some(p) = problem { span id=(err_id) class="field-error" { (p) } }
        }
    }
}

/// A notice of what the last change did, from the fixed set a redirect may name.
fn notice(req: &Req) -> Option<&'static str> {
    Some(match req.q("done")? {
        "added" => "The user was added.",
        "invited" => "The invitation was sent.",
        "saved" => "Saved.",
        "locked" => "The user is locked and their sessions have ended.",
        "unlocked" => "The user is unlocked.",
        "disabled" => "The user is disabled and their sessions have ended.",
        "enabled" => "The user is enabled.",
        "unassigned" => {
            "The user was unassigned; their email is now archived_ and their history is kept."
        }
        "deleted" => "The user was deleted.",
        "logout" => "Every session of the user has ended.",
        "session" => "The session has ended.",
        "granted" => "The role was given.",
        "revoked" => "The role was taken away.",
        "second-factor" => "Their second factor was reset; they enrol again at their next sign-in.",
        "revoked-key" => "The key was revoked; it stops working at once.",
        "location" => "The location was saved.",
        "modules" => "The practice's modules were saved.",
        "account" => "The service account was created.",
        "password" => "Your password was changed.",
        "emergency" => "The emergency access has ended.",
        "factor" => "Two-factor authentication is on: sign-in asks for a code from now on.",
        "role-deleted" => "The custom role was deleted from the policy in force.",
        "role" => "The custom role is in force: give it to people from their page.",
        _ => return None,
    })
}

/// The sections, as the navigation shows them (only those the policy lets this person see).
fn sections(c: &Console<'_>) -> Vec<(&'static str, &'static str)> {
    let p = &c.perms;
    let mut s = Vec::new();
    if p.users {
        s.push(("users", "Users"));
    }
    if p.matrix {
        s.push(("roles", "Roles"));
    }
    if p.practices || p.locations {
        s.push(("practice", "Practice"));
    }
    if p.security {
        s.push(("security", "Security"));
    }
    if p.keys {
        s.push(("keys", "API keys"));
    }
    if p.audit {
        s.push(("activity", "Activity log"));
    }
    if p.emergency {
        s.push(("emergency", "Emergency access"));
    }
    s.push(("account", "My account"));
    s
}

fn chrome(c: &Console<'_>, title: &str, body: Markup) -> String {
    let user = &c.api.session().user;
    let here = c.req.path.split('/').next().unwrap_or("");
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — Wardgate console" }
                link rel="stylesheet" href={ (PREFIX) "console.css" };
                script src={ (PREFIX) "console.js" } defer {}
            }
            body {
                a class="skip" href="#main" { "Skip to content" }
                header class="top" {
                    span class="brand" { "Wardgate" }
                    span class="practice" { (c.api.practice().name) }
                    span class="who" { (user.first_name) " " (user.last_name) " · " (c.api.session().roles.join(", ")) }
                    form method="post" action="/.wardgate/logout" class="inline" {
                        (csrf(&c.req))
                        button type="submit" class="link" { "Sign out" }
                    }
                }
                nav aria-label="Settings" {
                    ul {
                        @for (path, label) in sections(c) {
                            li {
                                a href={ (PREFIX) (path) } aria-current=[(here == path).then_some("page")] { (label) }
                            }
                        }
                    }
                }
                main id="main" tabindex="-1" {
                    h1 { (title) }
                    @if let Some(n) = notice(&c.req) {
                        p class="notice" role="status" { (n) }
                    }
                    (body)
                }
            }
        }
    }
    .into_string()
}

/// The response for a handler's answer.
pub(super) fn respond(c: &Console<'_>, out: Out) -> Response<Body> {
    let mut res = match out {
        Out::Page {
            status,
            title,
            body,
        } => text(status, "text/html; charset=utf-8", chrome(c, &title, body)),
        Out::Redirect(to) => {
            let mut res = text(StatusCode::SEE_OTHER, "text/plain; charset=utf-8", "");
            if let Ok(v) = HeaderValue::from_str(&to) {
                res.headers_mut().insert(header::LOCATION, v);
            }
            res
        }
        Out::Raw(res) => res,
    };
    secure(&mut res);
    res
}
