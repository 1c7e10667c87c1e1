//! `/.wardgate/emergency`: break-glass, only at a practice where the user holds a role and
//! is allowed emergency access; a reason required, time-boxed by the policy, alerted. A
//! refused attempt is audited and alerted too.

use http::{Method, StatusCode};
use serde_json::json;
use wardgate_identity::IdentityError;
use wardgate_policy::Engine;

use super::{pages, safe_next, Answer, Ctx};
use crate::reject::Rejection;

pub(super) fn open(cx: &mut Ctx<'_>, a: Answer) -> Result<Answer, Rejection> {
    let me = cx.current()?;
    let gw = cx.gw;
    let practice = cx.practice.id.clone();
    let next = safe_next(Some(cx.f("next")).filter(|n| !n.is_empty()));
    let max_seconds = {
        let module = gw.policy().current();
        module
            .manifest()
            .break_glass
            .iter()
            .map(|b| b.max_seconds)
            .max()
            .unwrap_or(0)
    };
    let max_text = format!("{} minutes", max_seconds / 60);
    let forbidden = |cx: &mut Ctx<'_>, a: Answer, why: &str| {
        cx.refused(Rejection::EmergencyRefused);
        cx.gw.alert(crate::alerts::alert(
            "emergency_refused",
            format!(
                "{} was refused emergency access at {}: {why}",
                me.user.email, cx.practice.id
            ),
            &me.info.user_id,
            Some(cx.request.client),
            Some(&cx.practice.id),
        ));
        a.page(
            StatusCode::FORBIDDEN,
            pages::message(
                "Emergency access",
                "You may not open emergency access here.",
            ),
            json!({"error": "forbidden"}),
        )
    };
    let allowed = match gw.store().may_open_emergency(&me.info.user_id, &practice) {
        Ok(allowed) => allowed,
        Err(_) => return Err(Rejection::StoreFault),
    };
    if !allowed || max_seconds == 0 {
        let why = if max_seconds == 0 {
            "the policy has no break-glass"
        } else {
            "not allowed at this practice"
        };
        return Ok(forbidden(cx, a, why));
    }
    if cx.method != Method::POST {
        return Ok(a.page(
            StatusCode::OK,
            pages::emergency(&next, None, &max_text, &cx.csrf),
            json!({"step": "emergency", "max_seconds": max_seconds}),
        ));
    }
    // Bounded so no date arithmetic can overflow, whatever the policy says.
    let max = chrono::Duration::seconds(
        i64::try_from(max_seconds.min(10 * 365 * 86_400)).unwrap_or(86_400),
    );
    let reason = cx.f("reason").trim().to_string();
    match gw
        .store()
        .open_emergency(&me.info.user_id, &practice, &reason, max)
    {
        Ok(until) => {
            gw.alert(crate::alerts::alert(
                "break_glass",
                format!(
                    "{} opened emergency access at {practice} until {until}: {reason}",
                    me.user.email
                ),
                &me.info.user_id,
                Some(cx.request.client),
                Some(&practice),
            ));
            Ok(a.go(&next, json!({"emergency": true, "until": until})))
        }
        Err(IdentityError::Invalid(msg)) => Ok(a.page(
            StatusCode::BAD_REQUEST,
            pages::emergency(&next, Some(&msg), &max_text, &cx.csrf),
            json!({"error": "invalid", "message": msg}),
        )),
        Err(e) => Ok(forbidden(cx, a, &e.to_string())),
    }
}
