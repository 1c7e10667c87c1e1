//! The gateway's own HTML: small, accessible (labels, autocomplete, errors announced), no
//! script, nothing loaded from elsewhere.

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;background:#f4f6f8;color:#1b1f23;margin:0}\
main{max-width:26rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002}\
h1{font-size:1.4rem;margin-top:0}label{display:block;margin-top:1rem;font-weight:600}\
input{width:100%;box-sizing:border-box;padding:.6rem;font-size:1rem;border:1px solid #8a949e;border-radius:4px}\
input:focus{outline:3px solid #0b5cad;outline-offset:1px}\
button{margin-top:1.5rem;width:100%;padding:.7rem;font-size:1rem;background:#0b5cad;color:#fff;border:0;border-radius:4px;cursor:pointer}\
.error{background:#fde8e8;border:1px solid #b42318;color:#7a1a12;padding:.6rem;border-radius:4px}\
.note{color:#4a545e;font-size:.9rem}code{word-break:break-all}";

/// A whole page around `body`.
pub fn page(title: &str, error: Option<&str>, body: &str) -> String {
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e)))
        .unwrap_or_default();
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t} — Wardgate</title><style>{STYLE}</style></head>\
         <body><main><h1>{t}</h1>{error}{body}</main></body></html>",
        t = esc(title)
    )
}

fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
        esc(name),
        esc(value)
    )
}

fn hidden_next(next: &str) -> String {
    hidden("next", next)
}

/// The form's CSRF token (the double-submit cookie's value).
fn token(csrf: &str) -> String {
    hidden("csrf", csrf)
}

pub fn login(next: &str, error: Option<&str>, csrf: &str) -> String {
    page(
        "Sign in",
        error,
        &format!(
            "<form method=\"post\" action=\"/.wardgate/login\">{}{}\
             <label for=\"email\">Email</label>\
             <input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required autofocus>\
             <label for=\"password\">Password</label>\
             <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
             <button type=\"submit\">Sign in</button></form>\
             <p class=\"note\">Access to patient information is logged.</p>",
            hidden_next(next),
            token(csrf)
        ),
    )
}

pub fn change_password(error: Option<&str>, csrf: &str) -> String {
    page(
        "Choose a new password",
        error,
        &format!("<p>Your password is temporary or has expired. Choose a new one to continue.</p>\
         <form method=\"post\" action=\"/.wardgate/password\">{}\
         <label for=\"current\">Current password</label>\
         <input id=\"current\" name=\"current\" type=\"password\" autocomplete=\"current-password\" required autofocus>\
         <label for=\"new\">New password</label>\
         <input id=\"new\" name=\"new\" type=\"password\" autocomplete=\"new-password\" required aria-describedby=\"rules\">\
         <p id=\"rules\" class=\"note\">At least 12 characters with upper and lower case letters, a digit and a symbol; not one of your recent passwords.</p>\
         <label for=\"confirm\">New password again</label>\
         <input id=\"confirm\" name=\"confirm\" type=\"password\" autocomplete=\"new-password\" required>\
         <button type=\"submit\">Change password</button></form>",
         token(csrf)),
    )
}

pub fn second_factor(error: Option<&str>, enrollment: Option<(&str, &str)>, csrf: &str) -> String {
    let intro = match enrollment {
        Some((secret, uri)) => format!(
            "<p>This practice requires a second factor. Add this key to an authenticator app, then enter the code it shows.</p>\
             <p>Key: <code>{}</code></p><p class=\"note\">Or open: <code>{}</code></p>",
            esc(secret),
            esc(uri)
        ),
        None => "<p>Enter the code from your authenticator app, or a recovery code.</p>".to_string(),
    };
    page(
        "Second factor",
        error,
        &format!(
            "{intro}<form method=\"post\" action=\"/.wardgate/second-factor\">{}\
             <label for=\"code\">Code</label>\
             <input id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required autofocus>\
             <button type=\"submit\">Continue</button></form>",
            token(csrf)
        ),
    )
}

pub fn reauth(next: &str, error: Option<&str>, code: bool, why: &str, csrf: &str) -> String {
    let code = if code {
        "<label for=\"code\">Code from your authenticator app</label>\
         <input id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required>"
    } else {
        ""
    };
    page(
        "Confirm it is you",
        error,
        &format!(
            "<p>{}</p><form method=\"post\" action=\"/.wardgate/reauth\">{}{}\
             <label for=\"password\">Password</label>\
             <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required autofocus>\
             {code}<button type=\"submit\">Confirm</button></form>",
            esc(why),
            hidden_next(next),
            token(csrf)
        ),
    )
}

pub fn emergency(next: &str, error: Option<&str>, max: &str, csrf: &str) -> String {
    page(
        "Emergency access",
        error,
        &format!(
            "<p>Emergency access lends you wider access for at most {}. It is recorded, \
             and the practice's administrators are alerted.</p>\
             <form method=\"post\" action=\"/.wardgate/emergency\">{}{}\
             <label for=\"reason\">Reason</label>\
             <input id=\"reason\" name=\"reason\" required autofocus>\
             <button type=\"submit\">Open emergency access</button></form>",
            esc(max),
            hidden_next(next),
            token(csrf)
        ),
    )
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
    page(
        "Sign out",
        None,
        &format!(
            "<form method=\"post\" action=\"/.wardgate/logout\">{}\
             <button type=\"submit\">Sign out</button></form>\
             <form method=\"post\" action=\"/.wardgate/logout\">{}\
             <input type=\"hidden\" name=\"all\" value=\"true\">\
             <button type=\"submit\">Sign out on every device</button></form>",
            token(csrf),
            token(csrf)
        ),
    )
}

pub fn message(title: &str, text: &str) -> String {
    page(
        title,
        None,
        &format!(
            "<p>{}</p><p><a href=\"/.wardgate/login\">Sign in</a></p>",
            esc(text)
        ),
    )
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
