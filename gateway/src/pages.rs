//! The gateway's own HTML, as maud templates (everything dynamic escaped by default): small,
//! accessible (labels, autocomplete, errors announced), no script, nothing loaded from
//! elsewhere. Every form carries its browser's CSRF token.

use maud::{html, Markup, PreEscaped, DOCTYPE};

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;background:#f4f6f8;color:#1b1f23;margin:0}\
main{max-width:26rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002}\
h1{font-size:1.4rem;margin-top:0}label{display:block;margin-top:1rem;font-weight:600}\
input{width:100%;box-sizing:border-box;padding:.6rem;font-size:1rem;border:1px solid #8a949e;border-radius:4px}\
input:focus{outline:3px solid #0b5cad;outline-offset:1px}\
button{margin-top:1.5rem;width:100%;padding:.7rem;font-size:1rem;background:#0b5cad;color:#fff;border:0;border-radius:4px;cursor:pointer}\
button.secondary{background:#fff;color:#0b5cad;border:1px solid #0b5cad;margin-top:.75rem}\
.error{background:#fde8e8;border:1px solid #b42318;color:#7a1a12;padding:.6rem;border-radius:4px}\
.note{color:#4a545e;font-size:.9rem}.done{background:#e6f4ea;border:1px solid #1e7a3c;color:#14532d;padding:.6rem;border-radius:4px}code{word-break:break-all}";

/// A whole page around `body`.
pub fn page(title: &str, error: Option<&str>, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — Wardgate" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                main {
                    h1 { (title) }
                    @if let Some(e) = error {
                        p class="error" role="alert" { (e) }
                    }
                    (body)
                }
            }
        }
    }
    .into_string()
}

fn hidden(name: &str, value: &str) -> Markup {
    html! { input type="hidden" name=(name) value=(value); }
}

/// The form's CSRF token (the double-submit cookie's value).
fn token_field(csrf: &str) -> Markup {
    hidden("csrf", csrf)
}

pub fn login(next: &str, error: Option<&str>, csrf: &str) -> String {
    page("Sign in", error, login_form(next, None, csrf))
}

/// The sign-in page with a note above the form (a password just set).
pub fn login_with_note(next: &str, note: &str, csrf: &str) -> String {
    page("Sign in", None, login_form(next, Some(note), csrf))
}

fn login_form(next: &str, note: Option<&str>, csrf: &str) -> Markup {
    html! {
        @if let Some(n) = note {
            p class="done" role="status" { (n) }
        }
        form method="post" action="/.wardgate/login" {
            (hidden("next", next))
            (token_field(csrf))
            label for="email" { "Email" }
            input id="email" name="email" type="email" autocomplete="username" required autofocus;
            label for="password" { "Password" }
            input id="password" name="password" type="password" autocomplete="current-password" required;
            button type="submit" { "Sign in" }
        }
        p { a href="/.wardgate/forgot" { "Forgot password?" } }
        p class="note" { "Access to patient information is logged." }
    }
}

/// The page of a mailed link: the new password twice (`page` is `activate` or `reset`).
pub fn set_password(page_name: &str, token: &str, error: Option<&str>, csrf: &str) -> String {
    let (title, intro) = if page_name == "activate" {
        ("Welcome", "Choose the password you will sign in with.")
    } else {
        (
            "Choose a new password",
            "Choose a new password. You will be signed out everywhere else.",
        )
    };
    let body = html! {
        p { (intro) }
        form method="post" action={ "/.wardgate/" (page_name) } {
            (token_field(csrf))
            (hidden("token", token))
            label for="new" { "New password" }
            input id="new" name="new" type="password" autocomplete="new-password" required autofocus aria-describedby="rules";
            p id="rules" class="note" {
                "At least 12 characters with upper and lower case letters, a digit and a symbol; not one of your recent passwords."
            }
            label for="confirm" { "New password again" }
            input id="confirm" name="confirm" type="password" autocomplete="new-password" required;
            button type="submit" { "Set password" }
        }
    };
    page(title, error, body)
}

/// "Forgot password?": the address, or (`sent`) the answer that a link may be on its way.
pub fn forgot(sent: Option<&str>, csrf: &str) -> String {
    let body = html! {
        @if let Some(s) = sent {
            p class="done" role="status" { (s) }
            p { a href="/.wardgate/login" { "Back to sign in" } }
        } @else {
            p { "Enter the email address you sign in with. If it has an account here, we will send a link to choose a new password." }
            form method="post" action="/.wardgate/forgot" {
                (token_field(csrf))
                label for="email" { "Email" }
                input id="email" name="email" type="email" autocomplete="username" required autofocus;
                button type="submit" { "Send link" }
            }
            p { a href="/.wardgate/login" { "Back to sign in" } }
        }
    };
    page("Forgot password", None, body)
}

pub fn change_password(error: Option<&str>, csrf: &str) -> String {
    let body = html! {
        p { "Your password is temporary or has expired. Choose a new one to continue." }
        form method="post" action="/.wardgate/password" {
            (token_field(csrf))
            label for="current" { "Current password" }
            input id="current" name="current" type="password" autocomplete="current-password" required autofocus;
            label for="new" { "New password" }
            input id="new" name="new" type="password" autocomplete="new-password" required aria-describedby="rules";
            p id="rules" class="note" {
                "At least 12 characters with upper and lower case letters, a digit and a symbol; not one of your recent passwords."
            }
            label for="confirm" { "New password again" }
            input id="confirm" name="confirm" type="password" autocomplete="new-password" required;
            button type="submit" { "Change password" }
        }
    };
    page("Choose a new password", error, body)
}

pub fn second_factor(
    error: Option<&str>,
    enrollment: Option<(&str, &str)>,
    email_offered: bool,
    csrf: &str,
) -> String {
    let body = html! {
        @match enrollment {
            Some((secret, uri)) => {
                p { "This practice requires a second factor. Add this key to an authenticator app, then enter the code it shows." }
                p { "Key: " code { (secret) } }
                p class="note" { "Or open: " code { (uri) } }
            }
            None => p { "Enter the code from your authenticator app, or a recovery code." },
        }
        form method="post" action="/.wardgate/second-factor" {
            (token_field(csrf))
            label for="code" { "Code" }
            input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required autofocus;
            button type="submit" { "Continue" }
        }
        @if email_offered {
            (send_code(csrf, "Email me a code instead"))
        }
    };
    page("Second factor", error, body)
}

/// The button that has a sign-in code sent by email.
fn send_code(csrf: &str, label: &str) -> Markup {
    html! {
        form method="post" action="/.wardgate/second-factor" {
            (token_field(csrf))
            (hidden("method", "email"))
            (hidden("send", "email"))
            button type="submit" class="secondary" { (label) }
        }
    }
}

/// Where the code sent by email is typed.
pub fn email_code(error: Option<&str>, note: Option<&str>, csrf: &str) -> String {
    let body = html! {
        @if let Some(n) = note {
            p class="done" role="status" { (n) }
        }
        form method="post" action="/.wardgate/second-factor" {
            (token_field(csrf))
            (hidden("method", "email"))
            label for="code" { "Code from the email" }
            input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required autofocus;
            button type="submit" { "Continue" }
        }
        (send_code(csrf, "Send a new code"))
    };
    page("Check your email", error, body)
}

pub fn reauth(next: &str, error: Option<&str>, code: bool, why: &str, csrf: &str) -> String {
    let body = html! {
        p { (why) }
        form method="post" action="/.wardgate/reauth" {
            (hidden("next", next))
            (token_field(csrf))
            label for="password" { "Password" }
            input id="password" name="password" type="password" autocomplete="current-password" required autofocus;
            @if code {
                label for="code" { "Code from your authenticator app" }
                input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required;
            }
            button type="submit" { "Confirm" }
        }
    };
    page("Confirm it is you", error, body)
}

pub fn emergency(next: &str, error: Option<&str>, max: &str, csrf: &str) -> String {
    let body = html! {
        p {
            "Emergency access lends you wider access for at most " (max)
            ". It is recorded, and the practice's administrators are alerted."
        }
        form method="post" action="/.wardgate/emergency" {
            (hidden("next", next))
            (token_field(csrf))
            label for="reason" { "Reason" }
            input id="reason" name="reason" required autofocus;
            button type="submit" { "Open emergency access" }
        }
    };
    page("Emergency access", error, body)
}

/// The page a browser sees when an action needs a fresh sign-in.
pub fn reauth_page(next: &str, csrf: &str) -> String {
    reauth(
        &crate::next::safe_next(Some(next)),
        None,
        false,
        "This needs you to confirm your password first.",
        csrf,
    )
}

pub fn logout(csrf: &str) -> String {
    let body = html! {
        form method="post" action="/.wardgate/logout" {
            (token_field(csrf))
            button type="submit" { "Sign out" }
        }
        form method="post" action="/.wardgate/logout" {
            (token_field(csrf))
            (hidden("all", "true"))
            button type="submit" { "Sign out on every device" }
        }
    };
    page("Sign out", None, body)
}

/// A user's sessions, one line each.
pub fn sessions(lines: &[String]) -> String {
    page(
        "Your sessions",
        None,
        html! { @for l in lines { p { (l) } } },
    )
}

pub fn message(title: &str, text: &str) -> String {
    let body = html! {
        p { (text) }
        p { a href="/.wardgate/login" { "Sign in" } }
    };
    page(title, None, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_dynamic_is_escaped() {
        let p = login("/x\"><script>", Some("<b>"), "t\"<");
        assert!(p.contains("name=\"csrf\" value=\"t&quot;&lt;\""));
        assert!(!p.contains("<script>") && !p.contains("<b>"));
        assert!(p.contains("&lt;b&gt;") && p.contains("role=\"alert\""));
        assert!(p.contains("<label for=\"email\">") && p.contains("autocomplete=\"username\""));
    }
}
