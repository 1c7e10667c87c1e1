//! My account: who I am here, my password (current, new twice; the practice's rules), my
//! sessions.

use maud::html;
use serde_json::{json, Value};

use super::layout::{self, csrf, input};
use super::{Console, Failure, Out, PREFIX};

pub(super) async fn show(c: &Console<'_>) -> Out {
    let mut failure: Option<Failure> = None;
    if c.req.post() {
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
        section class="card" aria-labelledby="sess-h" {
            h2 id="sess-h" { "My sessions" }
            p { a href="/.wardgate/sessions" { "See where you are signed in, and sign out elsewhere" } }
        }
    };
    match failure {
        Some(f) => Out::status(f.status, "My account", body),
        None => Out::page("My account", body),
    }
}
