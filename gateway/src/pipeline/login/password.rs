//! `/.wardgate/password`: a temporary (or expired) password changed during sign-in.

use http::{Method, StatusCode};
use serde_json::json;
use wardgate_identity::IdentityError;

use super::{pages, steps, Answer, Ctx};
use crate::reject::Rejection;

pub(super) fn change(cx: &mut Ctx<'_>, a: Answer) -> Result<Answer, Rejection> {
    let gw = cx.gw;
    let Some((id, mut p)) = steps::pending(gw, cx.headers).filter(|(_, p)| p.change_password)
    else {
        return Ok(a.go(
            "/.wardgate/login",
            json!({"error": "no_sign_in_in_progress"}),
        ));
    };
    if cx.method != Method::POST {
        return Ok(a.page(
            StatusCode::OK,
            pages::change_password(None, &cx.csrf),
            json!({"step": "change_password"}),
        ));
    }
    // The new password twice, from a form or JSON alike.
    if cx.f("new") != cx.f("confirm") {
        return Ok(a.page(
            StatusCode::BAD_REQUEST,
            pages::change_password(Some("The new passwords do not match."), &cx.csrf),
            json!({"error": "passwords_differ", "message": "the new passwords do not match"}),
        ));
    }
    match gw
        .store()
        .change_password(&p.user, cx.f("current"), cx.f("new"))
    {
        Ok(()) => {
            steps::audit_login(
                gw,
                "login:password-changed",
                &p.user,
                cx.client(),
                json!({}),
            );
            p.change_password = false;
            Ok(steps::advance(gw, &id, p, cx.client(), cx.headers, a))
        }
        Err(e) => {
            let msg = match e {
                IdentityError::BadCredentials => "The current password is not correct.".to_string(),
                IdentityError::WeakPassword(_) | IdentityError::PasswordReused => e.to_string(),
                _ => "The password could not be changed now.".to_string(),
            };
            Ok(a.page(
                StatusCode::BAD_REQUEST,
                pages::change_password(Some(&msg), &cx.csrf),
                json!({"error": "password_refused", "message": msg}),
            ))
        }
    }
}
