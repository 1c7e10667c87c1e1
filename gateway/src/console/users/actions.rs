//! What an administrator does to one user from their page: lock (with the vendor's
//! confirmation), unlock, disable, enable, unassign (the `archived_` rule), delete (typed
//! confirmation), reset the password or a lost second factor, sign out, give and take away
//! roles, save edits. Each is one API call; its refusal is shown on the page.

use http::Method;
use maud::{html, Markup};
use serde_json::{json, Value};
use wardgate_identity::{User, UserKind, UserStatus};

use super::super::call::{query, seg};
use super::super::layout::{button, csrf};
use super::super::{Console, Failure, Out, PREFIX};
use super::{form, page, user_url};

/// Does what the posted form's `do` says to user `id`.
pub(super) async fn act(c: &Console<'_>, id: &str) -> Out {
    let base = format!("/users/{}", seg(id));
    let back = |done: &str| Out::Redirect(format!("{}?done={done}", user_url(id)));
    let action = c.req.f("do").to_string();
    let result: Result<Out, Failure> = match action.as_str() {
        "lock" => lock(c, id, &base).await.map(|_| back("locked")),
        "unassign" if c.req.f("confirm") != "yes" => Err(Failure::field(
            "confirm",
            "Select “I confirm this action” to unassign the user.",
        )),
        simple @ ("unlock"
        | "disable"
        | "enable"
        | "logout"
        | "reset-second-factor"
        | "unassign") => {
            let done = match simple {
                "unlock" => "unlocked",
                "disable" => "disabled",
                "enable" => "enabled",
                "logout" => "logout",
                "unassign" => "unassigned",
                _ => "second-factor",
            };
            c.post(&format!("{base}/{simple}"), &json!({}))
                .await
                .map(|_| back(done))
        }
        "reset" => c
            .post(&format!("{base}/reset"), &json!({}))
            .await
            .map(|v| reset_shown(id, &v)),
        "delete" => delete(c, id, &base).await,
        "edit" => c
            .json(Method::PATCH, &base, Some(&form::edit_body(c)))
            .await
            .map(|_| back("saved")),
        "grant" => {
            let body = json!({
                "role": c.req.f("role"),
                "practice": c.api.practice().id,
                "location": c.req.opt("location"),
                "expires_at": c.req.opt("expires_at").map(|d| format!("{d}T23:59:59Z")),
            });
            c.post(&format!("{base}/roles"), &body)
                .await
                .map(|_| back("granted"))
        }
        "revoke" => {
            let path = format!(
                "{base}/roles/{}{}",
                seg(c.req.f("role")),
                query(&[
                    ("practice", Some(c.req.f("practice"))),
                    ("location", c.req.opt("location").as_deref()),
                ])
            );
            c.json(Method::DELETE, &path, None)
                .await
                .map(|_| back("revoked"))
        }
        "end-session" => {
            let path = format!("{base}/sessions/{}", seg(c.req.f("session")));
            c.json(Method::DELETE, &path, None)
                .await
                .map(|_| back("session"))
        }
        _ => return super::super::layout::not_found(),
    };
    match result {
        Ok(out) => out,
        Err(f) if f.status == http::StatusCode::NOT_FOUND && action == "delete" => {
            super::super::layout::failed(&f)
        }
        Err(f) => page(c, id, Some((form_of(&action), f))).await,
    }
}

/// Which form of the page a failed action's problems belong to.
fn form_of(action: &str) -> &'static str {
    match action {
        "edit" => "edit",
        "grant" => "grant",
        "lock" => "lock",
        "delete" => "delete",
        "unassign" => "unassign",
        _ => "actions",
    }
}

/// "Lock User": the confirmation, and for someone at several practices the acknowledgement
/// that every practice is locked to them.
async fn lock(c: &Console<'_>, id: &str, base: &str) -> Result<Value, Failure> {
    let user = fetch(c, id).await?;
    if c.req.f("confirm") != "yes" {
        return Err(Failure::field(
            "confirm",
            "Select “I confirm this action” to lock the user.",
        ));
    }
    if practices(&user) > 1 && c.req.f("acknowledge") != "yes" {
        return Err(Failure::field(
            "acknowledge",
            "This user works at several practices: acknowledge that locking them disables their access to every practice.",
        ));
    }
    c.post(&format!("{base}/lock"), &json!({})).await
}

/// "Delete": the person's email typed again.
async fn delete(c: &Console<'_>, id: &str, base: &str) -> Result<Out, Failure> {
    let user = fetch(c, id).await?;
    if c.req.f("confirm_email") != user.email {
        return Err(Failure::field(
            "confirm_email",
            "Type the user's email exactly to delete them.",
        ));
    }
    c.json(Method::DELETE, base, None).await?;
    Ok(Out::Redirect(format!("{PREFIX}users?done=deleted")))
}

async fn fetch(c: &Console<'_>, id: &str) -> Result<User, Failure> {
    let v = c.get(&format!("/users/{}", seg(id))).await?;
    serde_json::from_value(v.get("user").cloned().unwrap_or(v))
        .map_err(|_| Failure::field("user", "the user could not be read"))
}

fn practices(u: &User) -> usize {
    let mut p: Vec<&str> = u
        .assignments
        .iter()
        .map(|a| a.practice_id.as_str())
        .collect();
    p.sort_unstable();
    p.dedup();
    p.len()
}

/// The reset link went by mail; without mail, the one-time token is shown once.
fn reset_shown(id: &str, v: &Value) -> Out {
    let body = match v.get("mailed_to").and_then(Value::as_str) {
        Some(to) => html! {
            p class="notice" role="status" { "A link to choose a new password was sent to " strong { (to) } ". It works once, for 24 hours." }
            p { a href=(user_url(id)) { "Back to the user" } }
        },
        None => {
            let token = v.get("token").and_then(Value::as_str).unwrap_or("");
            html! {
                p { "A one-time reset token was made. It is shown only now; give it to the user over a trusted channel. It expires, and works once." }
                p { code id="reset-token" class="secret" { (token) } " " button type="button" class="secondary" data-copy="reset-token" hidden { "Copy" } }
                p { a href=(user_url(id)) { "Back to the user" } }
            }
        }
    };
    Out::page("Password reset", body)
}

/// The buttons of the user's page, as the policy and the user's state allow.
pub(super) fn panel(c: &Console<'_>, u: &User, open: Option<&str>) -> Markup {
    let p = &c.perms;
    let here = user_url(&u.id);
    let active = u.status == UserStatus::Active;
    let staff = u.kind == UserKind::Staff;
    let several = practices(u) > 1;
    html! {
        section class="card" aria-labelledby="actions-h" {
            h2 id="actions-h" { "Actions" }
            div class="actions" {
                @if p.lock && u.status == UserStatus::Locked { (button(&c.req, &here, "unlock", "Unlock user", "secondary")) }
                @if p.lock && active && u.locked_until.is_some() { (button(&c.req, &here, "unlock", "Unlock account (failed sign-ins)", "secondary")) }
                @if p.disable && active { (button(&c.req, &here, "disable", "Disable", "secondary")) }
                @if p.disable && u.status == UserStatus::Disabled { (button(&c.req, &here, "enable", "Enable", "secondary")) }
                @if p.reset && active { (button(&c.req, &here, "reset", "Reset password", "secondary")) }
                @if p.reset_second_factor && active { (button(&c.req, &here, "reset-second-factor", "Reset second factor", "secondary")) }
            }
            @if p.lock && active {
                details id="lock-user" open[open == Some("lock")] {
                    summary { "Lock user" }
                    @if !staff && !u.active_modules.is_empty() {
                        p class="note" { "Provider users can only be locked when there are no active modules (" (u.active_modules.join(", ")) "): remove them in Edit first." }
                    }
                    form method="post" action=(here) {
                        (csrf(&c.req))
                        input type="hidden" name="do" value="lock";
                        p { "Locking makes the practice inaccessible to them and ends their sessions; you can unlock them later." }
                        div class="checks" {
                            label { input type="checkbox" name="confirm" value="yes" required; " I confirm this action" }
                        }
                        @if several {
                            div class="checks" {
                                label { input type="checkbox" name="acknowledge" value="yes" required; " I acknowledge that by locking this user, I am disabling the user from accessing any practice." }
                            }
                        }
                        button type="submit" class="danger" { "Submit" }
                    }
                }
            }
            @if p.unassign && staff && u.status != UserStatus::Unassigned {
                details id="unassign-user" open[open == Some("unassign")] {
                    summary { "Unassign user" }
                    form method="post" action=(here) {
                        (csrf(&c.req))
                        input type="hidden" name="do" value="unassign";
                        p { "Unassigning removes them from this practice for good. Their email becomes " code { "archived_" (u.email) } " and shows so in reports and the activity log; their history is kept. Providers cannot be unassigned, only locked, to keep their transaction history." }
                        div class="checks" { label { input type="checkbox" name="confirm" value="yes" required; " I confirm this action" } }
                        button type="submit" class="danger" { "Unassign" }
                    }
                }
            }
            @if p.delete_user {
                details id="delete-user" open[open == Some("delete")] {
                    summary { "Delete user" }
                    form method="post" action=(here) {
                        (csrf(&c.req))
                        input type="hidden" name="do" value="delete";
                        p { "Deleting cannot be undone. Type the user's email to confirm." }
                        div class="field" {
                            label for="confirm_email" { "Email" }
                            input id="confirm_email" name="confirm_email" type="text" autocomplete="off" data-confirm=(u.email) data-button="delete-button" required;
                        }
                        button id="delete-button" type="submit" class="danger" { "Delete user" }
                    }
                }
            }
        }
    }
}
