//! `/.wardgate/second-factor`: a code from an authenticator app (TOTP, once each) or a
//! recovery code; or, where the practice accepts them and mail is set up, a code sent by
//! email (six digits, ten minutes, once, five tries). Enrolment is asked for when the practice
//! requires a factor, none is set up, and email codes do not count there. Wrong codes count
//! toward the account's throttle (both kinds; the fifth wrong email code also voids it), and
//! codes are sent at most every 30 seconds and five an hour; when the throttle starts, the
//! sign-in in progress ends.

use http::{Method, StatusCode};
use serde_json::json;
use wardgate_identity::{CodeSent, IdentityError, SecondFactor};

use super::{pages, steps, Answer, Ctx, REFUSED};
use crate::reject::Rejection;
use crate::session::{set_cookie, PENDING_COOKIE};
use crate::signins::Pending;

/// How this sign-in's second factor is asked for.
struct Way {
    /// The person must first set up an authenticator app.
    enroll: bool,
    /// An emailed code is what is asked for now.
    email: bool,
    /// An emailed code may be asked for instead.
    email_offered: bool,
}

fn way(cx: &Ctx<'_>, p: &Pending) -> Way {
    let gw = cx.gw;
    let accepted = gw
        .security(&p.practice)
        .map(|s| s.second_factor)
        .unwrap_or_default();
    let email_ok = accepted.email() && gw.mailer().mails();
    let has_totp = gw.store().has_second_factor(&p.user).unwrap_or(true);
    let chosen = cx.f("method") == "email" || cx.query("method").as_deref() == Some("email");
    // Enrol only while the user still has no factor: one confirmed since this sign-in began
    // (by the user, on another device) is asked for instead, never replaced.
    let enroll = p.second_factor == Some(true) && !has_totp && !email_ok;
    Way {
        enroll,
        email: email_ok && (!has_totp || accepted == SecondFactor::Email || chosen),
        email_offered: email_ok && has_totp,
    }
}

/// Sends the code (or says one was sent moments ago) and shows where to type it.
fn send_code(cx: &mut Ctx<'_>, p: &Pending, a: Answer) -> Answer {
    let gw = cx.gw;
    let note = match gw.store().send_email_code(&p.user, Some(&p.practice)) {
        Ok(CodeSent::Sent) => {
            gw.mailer().wake();
            steps::audit_login(
                gw,
                "login:email-code-sent",
                &p.user,
                cx.client(),
                json!({"practice": p.practice}),
            );
            "We sent a six-digit code to your email address. It works once, for ten minutes."
        }
        Ok(CodeSent::TooSoon) => {
            "A code was sent moments ago; it is still good. Wait a little before asking for another."
        }
        Ok(CodeSent::Limited) | Err(IdentityError::LockedOut) => {
            let text = "Too many codes or wrong tries for this account. Try again later.";
            return a.page(
                StatusCode::TOO_MANY_REQUESTS,
                pages::message("Try again later", text),
                json!({"error": "too_many_codes", "message": text}),
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "an email code could not be queued");
            return a.page(
                StatusCode::SERVICE_UNAVAILABLE,
                pages::message("Try again", "A code cannot be sent right now."),
                json!({"error": "identity_unavailable"}),
            );
        }
    };
    a.page(
        StatusCode::OK,
        pages::email_code(None, Some(note), &cx.csrf),
        json!({"step": "second_factor", "method": "email", "message": note}),
    )
}

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
    let way = way(cx, &p);
    let post = cx.method == Method::POST;
    if way.email && (!post || cx.f("send") == "email") {
        return Ok(send_code(cx, &p, a));
    }
    if !post {
        if !way.enroll {
            return Ok(a.page(
                StatusCode::OK,
                pages::second_factor(None, None, way.email_offered, &cx.csrf),
                json!({"step": "second_factor", "method": "totp", "email": way.email_offered}),
            ));
        }
        return Ok(match gw.store().enroll_totp(&p.user, "Wardgate") {
            Ok(e) => a.page(
                StatusCode::OK,
                pages::second_factor(None, Some((&e.secret, &e.uri)), false, &cx.csrf),
                json!({"step": "enroll_second_factor", "secret": e.secret, "uri": e.uri, "recovery_codes": e.recovery_codes}),
            ),
            Err(_) => a.page(
                StatusCode::SERVICE_UNAVAILABLE,
                pages::message("Try again", "Enrollment is not possible right now."),
                json!({"error": "identity_unavailable"}),
            ),
        });
    }
    let checked = if way.enroll {
        gw.store().confirm_totp(&p.user, cx.f("code"))
    } else if way.email {
        gw.store()
            .verify_email_code(&p.user, cx.f("code"), Some(&p.practice))
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
                json!({"method": if way.email { "email" } else { "totp" }, "practice": p.practice}),
            );
            Ok(a.cookie(set_cookie(PENDING_COOKIE, None, None)).page(
                StatusCode::UNAUTHORIZED,
                pages::login(&p.next, Some(REFUSED), &cx.csrf),
                json!({"error": "invalid_credentials", "message": REFUSED}),
            ))
        }
        Err(e) => {
            steps::audit_login(
                gw,
                "login:second-factor-failure",
                &p.user,
                cx.client(),
                json!({"method": if way.email { "email" } else { "totp" }, "practice": p.practice}),
            );
            let page = if way.email {
                let msg = if matches!(e, IdentityError::BadToken) {
                    "That code has expired. Send a new one."
                } else {
                    "That code is not correct."
                };
                pages::email_code(Some(msg), None, &cx.csrf)
            } else {
                pages::second_factor(
                    Some("That code is not correct."),
                    None,
                    way.email_offered,
                    &cx.csrf,
                )
            };
            Ok(a.page(
                StatusCode::UNAUTHORIZED,
                page,
                json!({"error": "invalid_code"}),
            ))
        }
    }
}
