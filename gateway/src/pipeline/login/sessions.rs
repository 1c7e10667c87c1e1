//! A signed-in user's own session pages: sign out (this session or all), my sessions, step-up
//! re-authentication, and who am I.

use http::{Method, StatusCode};
use serde_json::{json, Value};
use wardgate_identity::Actor;

use super::{pages, safe_next, steps, unavailable, Answer, Ctx};
use crate::reject::Rejection;
use crate::session::{cookie, set_cookie, COOKIE};

pub(super) fn logout(cx: &mut Ctx<'_>, a: Answer) -> Result<Answer, Rejection> {
    let gw = cx.gw;
    // Signing out changes state: only a POST does it (same origin, checked before); a GET
    // gets the form, so a link or an image elsewhere cannot sign anyone out.
    if cx.method != Method::POST {
        return Ok(a.page(
            StatusCode::OK,
            pages::logout(&cx.csrf),
            json!({"step": "logout", "method": "POST"}),
        ));
    }
    let all = cx.f("all") == "true" || cx.f("all") == "1";
    let a = a.cookie(set_cookie(COOKIE, None, None));
    let ended = match cookie(cx.headers, COOKIE) {
        Some(token) if all => gw.store().session(token).and_then(|s| match s {
            Some(info) => gw
                .store()
                .end_sessions(&Actor::user(&info.user_id), &info.user_id, "logout-all")
                .map(|_| ()),
            None => Ok(()),
        }),
        Some(token) => gw.store().end_session(token, "logout").map(|_| ()),
        None => Ok(()),
    };
    Ok(match ended {
        Ok(()) => a.page(
            StatusCode::OK,
            pages::message("Signed out", "You are signed out."),
            json!({"signed_out": true}),
        ),
        // Never say "signed out" when the session may still be live.
        Err(_) => unavailable(a),
    })
}

pub(super) fn list(cx: &mut Ctx<'_>, a: Answer) -> Result<Answer, Rejection> {
    let me = cx.current()?;
    let gw = cx.gw;
    if cx.method == Method::POST {
        let ended = gw
            .store()
            .end_session_id(&me.info.user_id, cx.f("id"), "logout-other")
            .unwrap_or(false);
        let text = if ended {
            "The session was ended."
        } else {
            "No such session."
        };
        return Ok(a.page(
            StatusCode::OK,
            pages::message("Sessions", text),
            json!({"ended": ended}),
        ));
    }
    let list: Vec<Value> = gw
        .store()
        .sessions(&me.info.user_id)
        .unwrap_or_default()
        .into_iter()
        .map(|s| json!({"id": s.id, "client": s.client, "created_at": s.created_at, "last_seen_at": s.last_seen_at, "current": s.id == me.info.id}))
        .collect();
    let lines: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    let html = pages::sessions(&lines);
    Ok(a.page(StatusCode::OK, html, json!({"sessions": list})))
}

pub(super) fn reauth(cx: &mut Ctx<'_>, a: Answer) -> Result<Answer, Rejection> {
    let me = cx.current()?;
    let gw = cx.gw;
    let next = safe_next(
        cx.query_next
            .as_deref()
            .or(Some(cx.f("next")))
            .filter(|n| !n.is_empty()),
    );
    let why = "Enter your password again to continue.";
    let user = me.info.user_id.as_str();
    let code_needed = gw.store().has_second_factor(user).unwrap_or(false);
    if cx.method != Method::POST {
        return Ok(a.page(
            StatusCode::OK,
            pages::reauth(&next, None, code_needed, why, &cx.csrf),
            json!({"step": "reauth", "code": code_needed}),
        ));
    }
    let practice = Some(cx.practice.id.as_str());
    let password_ok = gw
        .store()
        .sign_in(&me.user.email, cx.f("password"), practice)
        .is_ok_and(|u| u.id == user);
    let code_ok = !code_needed
        || (password_ok
            && gw
                .store()
                .verify_second_factor(user, cx.f("code"), practice)
                .is_ok());
    if password_ok
        && code_ok
        && gw
            .store()
            .reauthenticate(&me.token, code_needed)
            .unwrap_or(false)
    {
        steps::audit_login(
            gw,
            "session:reauthenticated",
            user,
            cx.client(),
            json!({"mfa": code_needed}),
        );
        return Ok(a.go(&next, json!({"reauthenticated": true})));
    }
    steps::audit_login(gw, "session:reauth-failure", user, cx.client(), json!({}));
    Ok(a.page(
        StatusCode::UNAUTHORIZED,
        pages::reauth(
            &next,
            Some("That is not correct."),
            code_needed,
            why,
            &cx.csrf,
        ),
        json!({"error": "invalid_credentials"}),
    ))
}

pub(super) fn whoami(cx: &mut Ctx<'_>, a: Answer) -> Result<Answer, Rejection> {
    if cx.method != Method::GET {
        return Err(Rejection::BadRequest("who am I is read with GET"));
    }
    let me = cx.current()?;
    Ok(a.page(
        StatusCode::OK,
        pages::message("Signed in", &format!("Signed in as {}", me.user.email)),
        json!({"user": me.info.user_id, "email": me.user.email, "practice": cx.practice.id, "roles": me.roles, "auth_age_seconds": me.auth_age_seconds, "mfa": me.mfa, "emergency": me.emergency.as_ref().map(|e| e.0.clone()), "session": me.info.id}),
    ))
}
