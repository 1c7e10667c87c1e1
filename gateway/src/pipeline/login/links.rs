//! The pages mailed links open: `/.wardgate/activate?token=` (an invitation: the first
//! password), `/.wardgate/reset?token=` (a new password), and `/.wardgate/forgot` ("Forgot
//! password?": a reset link mailed, the same answer whether or not the address has an
//! account). Tokens are single use, expiring and stored as digests; each step is audited.

use http::{Method, StatusCode};
use serde_json::json;
use wardgate_identity::IdentityError;

use super::{pages, steps, Answer, Ctx};
use crate::reject::Rejection;

/// What a link is for.
#[derive(Debug, Clone, Copy)]
enum Link {
    Activate,
    Reset,
}

impl Link {
    fn purpose(self) -> &'static str {
        match self {
            Link::Activate => "activation",
            Link::Reset => "reset",
        }
    }

    fn page(self) -> &'static str {
        match self {
            Link::Activate => "activate",
            Link::Reset => "reset",
        }
    }
}

const USED: &str = "This link has expired or was already used. Ask your administrator for a new one, or use \u{201c}Forgot password?\u{201d} on the sign-in page.";

pub(super) fn activate(cx: &mut Ctx<'_>, a: Answer) -> Result<Answer, Rejection> {
    link(cx, a, Link::Activate)
}

pub(super) fn reset(cx: &mut Ctx<'_>, a: Answer) -> Result<Answer, Rejection> {
    link(cx, a, Link::Reset)
}

/// The token of the link: from the query when the page is opened, from the form after.
fn token(cx: &Ctx<'_>) -> String {
    if cx.method == Method::POST {
        cx.f("token").to_string()
    } else {
        cx.query("token").unwrap_or_default()
    }
}

fn link(cx: &mut Ctx<'_>, a: Answer, link: Link) -> Result<Answer, Rejection> {
    let gw = cx.gw;
    let token = token(cx);
    let client = cx.client();
    let refused = |cx: &mut Ctx<'_>, a: Answer| {
        steps::audit_login(
            gw,
            &format!("login:{}-refused", link.page()),
            "",
            client,
            json!({"practice": cx.practice.id}),
        );
        cx.refused(Rejection::NoCredentials);
        a.page(
            StatusCode::BAD_REQUEST,
            pages::message("Link expired", USED),
            json!({"error": "bad_token", "message": USED}),
        )
    };
    let usable = gw
        .store()
        .token_usable(&token, link.purpose())
        .map_err(|_| Rejection::StoreFault)?;
    if !usable {
        return Ok(refused(cx, a));
    }
    let form =
        |error: Option<&str>, csrf: &str| pages::set_password(link.page(), &token, error, csrf);
    if cx.method != Method::POST {
        return Ok(a.page(
            StatusCode::OK,
            form(None, &cx.csrf),
            json!({"step": link.page()}),
        ));
    }
    if cx.f("new") != cx.f("confirm") {
        return Ok(a.page(
            StatusCode::BAD_REQUEST,
            form(Some("The new passwords do not match."), &cx.csrf),
            json!({"error": "passwords_differ", "message": "the new passwords do not match"}),
        ));
    }
    match gw
        .store()
        .spend_token(&token, Some(link.purpose()), cx.f("new"))
    {
        Ok(user) => {
            steps::audit_login(
                gw,
                &format!("login:{}", link.page()),
                &user,
                client,
                json!({"practice": cx.practice.id}),
            );
            let done = "Your password is set. Sign in with it now.";
            Ok(a.page(
                StatusCode::OK,
                pages::login_with_note(&gw.config().sessions.home.0, done, &cx.csrf),
                json!({"password": "set", "next": "/.wardgate/login"}),
            ))
        }
        Err(e @ (IdentityError::WeakPassword(_) | IdentityError::PasswordReused)) => {
            let msg = e.to_string();
            Ok(a.page(
                StatusCode::BAD_REQUEST,
                form(Some(&msg), &cx.csrf),
                json!({"error": "password_refused", "message": msg}),
            ))
        }
        Err(IdentityError::BadToken) => Ok(refused(cx, a)),
        Err(_) => Err(Rejection::StoreFault),
    }
}

const SENT: &str = "If that address belongs to an account here, a link to choose a new password is on its way. It works once, for an hour.";

/// "Forgot password?". The answer is the same whatever the address; the store limits the
/// links per account, the sign-in pages' limit per client address holds for the posts.
pub(super) fn forgot(cx: &mut Ctx<'_>, a: Answer) -> Result<Answer, Rejection> {
    let gw = cx.gw;
    if !gw.mailer().mails() {
        let text = "Passwords are not reset by email here. Ask your practice's administrator to reset yours.";
        return Ok(a.page(
            StatusCode::OK,
            pages::message("Forgot password", text),
            json!({"error": "no_mail", "message": text}),
        ));
    }
    if cx.method != Method::POST {
        return Ok(a.page(
            StatusCode::OK,
            pages::forgot(None, &cx.csrf),
            json!({"step": "forgot"}),
        ));
    }
    let email = cx.typed_email();
    let client = cx.client();
    steps::audit_login(
        gw,
        "login:forgot-password",
        "",
        client,
        json!({"email": email, "practice": cx.practice.id}),
    );
    // Off the request path, so an address with an account takes no longer to answer than
    // one without.
    let (g, practice) = (gw.clone(), cx.practice.id.clone());
    tokio::task::spawn_blocking(move || {
        match g
            .store()
            .request_reset(&email, Some(&practice), &client.to_string())
        {
            Ok(()) => g.mailer().wake(),
            Err(e) => tracing::error!(error = %e, "a password reset could not be queued"),
        }
    });
    Ok(a.page(
        StatusCode::OK,
        pages::forgot(Some(SENT), &cx.csrf),
        json!({"sent": true, "message": SENT}),
    ))
}
