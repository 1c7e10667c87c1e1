//! `/.wardgate/second-factor`: enrolment when the practice requires a factor and none is set
//! up, else a code (TOTP, once each) or a recovery code. Wrong codes count toward the
//! account's throttle; when it starts, the sign-in in progress ends.

use http::{Method, StatusCode};
use serde_json::json;
use wardgate_identity::IdentityError;

use super::{pages, steps, Answer, Ctx, REFUSED};
use crate::reject::Rejection;
use crate::session::{set_cookie, PENDING_COOKIE};

pub(super) fn verify(cx: &mut Ctx<'_>, a: Answer) -> Result<Answer, Rejection> {
    let gw = cx.gw;
    let pending = steps::pending(gw, cx.headers)
        .filter(|(_, p)| !p.change_password && p.second_factor.is_some());
    let Some((id, mut p)) = pending else {
        return Ok(a.go(
            "/.wardgate/login",
            json!({"error": "no_sign_in_in_progress"}),
        ));
    };
    // Enrol only while the user still has no factor: one confirmed since this sign-in began
    // (by the user, on another device) is asked for instead, never replaced.
    let enroll =
        p.second_factor == Some(true) && !gw.store().has_second_factor(&p.user).unwrap_or(true);
    if cx.method != Method::POST {
        if !enroll {
            return Ok(a.page(
                StatusCode::OK,
                pages::second_factor(None, None, &cx.csrf),
                json!({"step": "second_factor"}),
            ));
        }
        return Ok(match gw.store().enroll_totp(&p.user, "Wardgate") {
            Ok(e) => a.page(
                StatusCode::OK,
                pages::second_factor(None, Some((&e.secret, &e.uri)), &cx.csrf),
                json!({"step": "enroll_second_factor", "secret": e.secret, "uri": e.uri, "recovery_codes": e.recovery_codes}),
            ),
            Err(_) => a.page(
                StatusCode::SERVICE_UNAVAILABLE,
                pages::message("Try again", "Enrollment is not possible right now."),
                json!({"error": "identity_unavailable"}),
            ),
        });
    }
    let checked = if enroll {
        gw.store().confirm_totp(&p.user, cx.f("code"))
    } else {
        gw.store()
            .verify_second_factor(&p.user, cx.f("code"), Some(&p.practice))
    };
    match checked {
        Ok(()) => {
            p.second_factor = None;
            p.mfa = true;
            Ok(steps::advance(gw, &id, p, cx.client(), cx.headers, a))
        }
        Err(IdentityError::LockedOut) => {
            // Too many wrong codes: this sign-in is over; a new one meets the throttle.
            steps::drop_pending(gw, &id);
            steps::audit_login(
                gw,
                "login:second-factor-lockout",
                &p.user,
                cx.client(),
                json!({}),
            );
            Ok(a.cookie(set_cookie(PENDING_COOKIE, None, None)).page(
                StatusCode::UNAUTHORIZED,
                pages::login(&p.next, Some(REFUSED), &cx.csrf),
                json!({"error": "invalid_credentials", "message": REFUSED}),
            ))
        }
        Err(_) => {
            steps::audit_login(
                gw,
                "login:second-factor-failure",
                &p.user,
                cx.client(),
                json!({}),
            );
            Ok(a.page(
                StatusCode::UNAUTHORIZED,
                pages::second_factor(Some("That code is not correct."), None, &cx.csrf),
                json!({"error": "invalid_code"}),
            ))
        }
    }
}
