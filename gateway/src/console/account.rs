//! My account: who I am here, my password (current, new twice; the practice's rules), my
//! sessions.

use maud::html;
use serde_json::{json, Value};

use super::layout::{self, csrf, input};
use super::{Console, Failure, Out, PREFIX};

pub(super) async fn show(c: &Console<'_>) -> Out {
    let mut failure: Option<Failure> = None;
    let mut factor_failure: Option<Failure> = None;
    if c.req.post() && c.req.f("do") == "enroll" {
        let body = json!({"password": c.req.f("password"), "code": c.req.opt("code")});
        match c.post("/me/second-factor", &body).await {
            Ok(v) => return enrolling(c, Some(&v), None),
            Err(f) => factor_failure = Some(f),
        }
    } else if c.req.post() && c.req.f("do") == "confirm" {
        let body = json!({"code": c.req.f("code")});
        match c.post("/me/second-factor/confirm", &body).await {
            Ok(_) => return Out::Redirect(format!("{PREFIX}account?done=factor")),
            Err(f) => return enrolling(c, None, Some(&f)),
        }
    } else if c.req.post() {
        let body = json!({
            "current": c.req.f("current"),
            "new": c.req.f("new"),
            "confirm": c.req.f("confirm"),
        });
        match c.post("/me/password", &body).await {
            Ok(_) => return Out::Redirect(format!("{PREFIX}account?done=password")),
            Err(f) => failure = Some(f),
        }
    }
    let me = match c.get("/me").await {
        Ok(v) => v,
        Err(f) => return layout::failed(&f),
    };
    let s = |p: &str| {
        me.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let roles: Vec<String> = me
        .get("roles")
        .and_then(|r| serde_json::from_value(r.clone()).ok())
        .unwrap_or_default();
    let f = failure.as_ref();
    let has_factor = me
        .get("second_factor")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let body = html! {
        section class="card" aria-labelledby="me-h" {
            h2 id="me-h" { (s("/user/first_name")) " " (s("/user/last_name")) }
            dl class="facts" {
                dt { "Email" } dd { (s("/user/email")) }
                dt { "Practice" } dd { (c.api.practice().name) }
                dt { "Roles here" } dd { (roles.join(", ")) }
            }
        }
        section class="card" aria-labelledby="pw-h" {
            h2 id="pw-h" { "Change password" }
            @if let Some(f) = f { (layout::problems(f)) }
            form method="post" action={ (PREFIX) "account" } {
                (csrf(&c.req))
                (input("current", "Current password", "password", "", f, true))
                (input("new", "New password", "password", "", f, true))
                (input("confirm", "New password again", "password", "", f, true))
                p class="note" { "The practice's password rules apply; your other sessions end when it changes." }
                button type="submit" { "Change password" }
            }
        }
        section class="card" aria-labelledby="mfa-h" {
            h2 id="mfa-h" { "Two-factor authentication" }
            @if let Some(f) = &factor_failure { (layout::problems(f)) }
            @if has_factor {
                p { span class="badge ok" { "On" } " Sign-in asks for a code from your authenticator app." }
                details open[factor_failure.is_some()] {
                    summary { "Replace it (a new phone)" }
                    form method="post" action={ (PREFIX) "account" } {
                        (csrf(&c.req))
                        input type="hidden" name="do" value="enroll";
                        (input("password", "Your password", "password", "", factor_failure.as_ref(), true))
                        (input("code", "A current code from your authenticator (or a recovery code)", "text", "", factor_failure.as_ref(), true))
                        p class="note" { "The old one keeps working until the new one's first code is typed." }
                        button type="submit" class="secondary" { "Replace authenticator" }
                    }
                }
                p class="note" { "Lost it? An administrator resets it from your user page; you then set up the new one here or at sign-in." }
            } @else {
                p { span class="badge warn" { "Off" } " Add a code from an authenticator app to your sign-in." }
                form method="post" action={ (PREFIX) "account" } {
                    (csrf(&c.req))
                    input type="hidden" name="do" value="enroll";
                    (input("password", "Your password", "password", "", factor_failure.as_ref(), true))
                    button type="submit" { "Set up an authenticator app" }
                }
            }
        }
        section class="card" aria-labelledby="sess-h" {
            h2 id="sess-h" { "My sessions" }
            p { a href="/.wardgate/sessions" { "See where you are signed in, and sign out elsewhere" } }
        }
    };
    match failure.or(factor_failure) {
        Some(f) => Out::status(f.status, "My account", body),
        None => Out::page("My account", body),
    }
}

/// A new authenticator: its key and recovery codes (shown once), and the form for its first
/// code.
fn enrolling(c: &Console<'_>, started: Option<&Value>, failure: Option<&Failure>) -> Out {
    let s = |k: &str| {
        started
            .and_then(|v| v.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let codes: Vec<String> = started
        .and_then(|v| v.get("recovery_codes"))
        .and_then(|c| serde_json::from_value(c.clone()).ok())
        .unwrap_or_default();
    let body = html! {
        @if let Some(f) = failure { (layout::problems(f)) }
        @if started.is_some() {
            p { "Add this key to your authenticator app (or open the link on the phone), then type the code it shows. Both are shown only now." }
            dl class="facts" {
                dt { "Key" } dd { code id="totp-secret" class="secret" { (s("secret")) } " " button type="button" class="secondary" data-copy="totp-secret" hidden { "Copy" } }
                dt { "Link" } dd { code class="secret" { (s("uri")) } }
            }
            h2 { "Recovery codes" }
            p { "Each works once if you lose the phone. Keep them somewhere safe." }
            ul { @for code in &codes { li { code { (code) } } } }
        }
        form method="post" action={ (PREFIX) "account" } {
            (csrf(&c.req))
            input type="hidden" name="do" value="confirm";
            (input("code", "The code your app shows now", "text", "", failure, true))
            button type="submit" { "Turn on two-factor authentication" }
        }
    };
    let status = failure.map_or(http::StatusCode::OK, |f| f.status);
    Out::status(status, "Set up an authenticator", body)
}
