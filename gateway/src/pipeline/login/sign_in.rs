//! `/.wardgate/login`: the sign-in form, and email and password checked at this practice.

use http::{Method, StatusCode};
use serde_json::json;
use wardgate_identity::IdentityError;

use super::{digest, pages, random_hex, safe_next_or, steps, unavailable, Answer, Ctx, REFUSED};
use crate::reject::Rejection;
use crate::session::{cookie, set_cookie, DEVICE_COOKIE, PENDING_COOKIE};
use crate::signins::Pending;

pub(super) fn login(cx: &mut Ctx<'_>, a: Answer) -> Result<Answer, Rejection> {
    let gw = cx.gw;
    let home = &gw.config().sessions.home.0;
    if cx.method != Method::POST {
        let next = safe_next_or(cx.query_next.as_deref(), home);
        let a = a.page(
            StatusCode::OK,
            pages::login(&next, None, &cx.csrf),
            json!({"step": "login"}),
        );
        // Without a device cookie yet, sign-in makes one (or refuses without randomness).
        return Ok(match (cookie(cx.headers, DEVICE_COOKIE), random_hex(16)) {
            (None, Some(device)) => {
                a.cookie(set_cookie(DEVICE_COOKIE, Some(&device), Some(400 * 86_400)))
            }
            _ => a,
        });
    }
    let next = safe_next_or(Some(cx.f("next")).filter(|n| !n.is_empty()), home);
    let refused = |a: Answer, csrf: &str| {
        a.page(
            StatusCode::UNAUTHORIZED,
            pages::login(&next, Some(REFUSED), csrf),
            json!({"error": "invalid_credentials", "message": REFUSED}),
        )
    };
    let practice = cx.practice.id.clone();
    let client = cx.client();
    let user = match gw
        .store()
        .sign_in(cx.f("email"), cx.f("password"), Some(&practice))
    {
        Ok(user) => user,
        Err(IdentityError::BadCredentials) | Err(IdentityError::LockedOut) => {
            let email = cx.typed_email();
            steps::audit_login(
                gw,
                "login:failure",
                "",
                client,
                json!({"email": email, "practice": practice}),
            );
            return Ok(refused(a, &cx.csrf));
        }
        Err(e) => {
            tracing::error!(error = %e, "sign-in failed in the store");
            return Ok(unavailable(a));
        }
    };
    let roles = gw
        .store()
        .roles_in_effect(&user.id, &practice, None)
        .unwrap_or_default();
    // Roles held at one of the practice's locations count too.
    let at_location = user
        .assignments
        .iter()
        .any(|a| a.practice_id == practice && a.location_id.is_some());
    if roles.is_empty() && !at_location {
        steps::audit_login(
            gw,
            "login:failure",
            &user.id,
            client,
            json!({"why": "no roles at this practice", "practice": practice}),
        );
        return Ok(refused(a, &cx.csrf));
    }
    let enrolled = gw.store().has_second_factor(&user.id).unwrap_or(false);
    let required = gw.security(&practice).is_some_and(|s| s.require_mfa);
    let p = Pending {
        change_password: user.must_change_password
            || gw.store().password_expired(&user.id).unwrap_or(false),
        second_factor: if enrolled {
            Some(false)
        } else if required {
            Some(true)
        } else {
            None
        },
        user: user.id,
        practice,
        next,
        mfa: false,
        expires: gw.clock().utc() + chrono::Duration::minutes(10),
    };
    Ok(match random_hex(32) {
        Some(secret) => {
            let a = a.cookie(set_cookie(PENDING_COOKIE, Some(&secret), Some(600)));
            steps::advance(gw, &digest(&secret), p, client, cx.headers, a)
        }
        None => unavailable(a),
    })
}
