//! Step 11, and the one exit: every request ends here, whatever came of it - admitted (its
//! allow audited before it is forwarded, and refused when that cannot be done), refused by a
//! step, or answered by a gateway page - and is audited and counted here. No other code writes
//! decision events.

use std::sync::Arc;

use http::Response;
use serde_json::json;
use wardgate_audit::{Durability, Event, EventKind, Verdict};

use super::{forward, ActorKind, Ctx, Next};
use crate::body::Body;
use crate::config::AuditDurability;
use crate::metrics::{DecisionLabel, StatusLabel};
use crate::reject::Rejection;
use crate::respond::{self, ForBrowser};
use crate::state::Gateway;

pub(super) async fn exit(
    gw: &Arc<Gateway>,
    cx: Ctx,
    next: Result<Next<'_>, Rejection>,
) -> Response<Body> {
    let response = match next {
        // A console page's API calls end at [`api_call`], one by one.
        Ok(Next::Console(call)) => crate::console::handle(gw, &cx, *call).await,
        next => answer(gw, &cx, next).await,
    };
    counted(gw, &cx, response)
}

/// The end of one API call a console page makes: decided, audited and counted as any
/// request to the API is.
pub(super) async fn api_call(
    gw: &Arc<Gateway>,
    cx: Ctx,
    next: Result<Next<'_>, Rejection>,
) -> Response<Body> {
    let response = answer(gw, &cx, next).await;
    counted(gw, &cx, response)
}

async fn answer(gw: &Arc<Gateway>, cx: &Ctx, next: Result<Next<'_>, Rejection>) -> Response<Body> {
    match next {
        Ok(Next::Forward(admitted)) => {
            gw.metrics()
                .pipeline_seconds
                .observe(cx.started.elapsed().as_secs_f64());
            let sent = match audit_allow(gw, cx).await {
                Ok(()) => forward::forward(gw, *admitted, cx).await,
                Err(rejection) => Err(rejection),
            };
            sent.unwrap_or_else(|rejection| render(gw, cx, &rejection))
        }
        Ok(Next::Admin(call)) => match audit_allow(gw, cx).await {
            Ok(()) => admin(gw, *call).await,
            Err(rejection) => render(gw, cx, &rejection),
        },
        // A console page within a console page: there is no such thing.
        Ok(Next::Console(_)) => render(gw, cx, &Rejection::NoRoute),
        Ok(Next::Page(page)) => {
            if let Some(refused) = &page.refused {
                audit_deny(gw, cx, refused);
            }
            page.response
        }
        Err(rejection) => {
            audit_deny(gw, cx, &rejection);
            render(gw, cx, &rejection)
        }
    }
}

fn counted(gw: &Gateway, cx: &Ctx, mut response: Response<Body>) -> Response<Body> {
    if cx.actor.is_some() {
        response
            .extensions_mut()
            .insert(crate::server::Credentialed);
    }
    gw.metrics()
        .requests
        .get_or_create(&StatusLabel {
            status: response.status().as_u16(),
        })
        .inc();
    gw.metrics()
        .request_seconds
        .observe(cx.started.elapsed().as_secs_f64());
    response
}

/// An administrative request, answered by the API for whoever the checks found.
async fn admin(gw: &Arc<Gateway>, call: super::AdminCall) -> Response<Body> {
    let caller = match &call.who {
        super::Who::Session(s) => crate::api::run::Caller {
            actor: wardgate_identity::Actor::user(&s.user.id),
            practice: Some(s.info.practice_id.clone()),
            roles: s.roles.clone(),
            session: Some(s.info.id.clone()),
        },
        super::Who::Key(k) => crate::api::run::Caller {
            actor: wardgate_identity::Actor::key(&k.id),
            practice: Some(k.practice.clone()),
            roles: k.roles.clone(),
            session: None,
        },
    };
    let path = call
        .parts
        .uri
        .path()
        .strip_prefix(crate::api::PREFIX.trim_end_matches('/'))
        .unwrap_or("/")
        .to_string();
    let req = http::Request::from_parts(call.parts, call.body);
    crate::api::serve(gw, caller, req, path).await
}

/// A refusal as its client should see it: a page (or a way to one) for a browser, JSON else.
fn render(gw: &Gateway, cx: &Ctx, rejection: &Rejection) -> Response<Body> {
    if let Rejection::RateLimited { .. } = rejection {
        gw.metrics().rate_limited.inc();
    }
    let browser = cx.browser.as_ref().map(|b| ForBrowser {
        next: b.next.as_deref().unwrap_or("/"),
        csrf: b.csrf.as_deref().unwrap_or(""),
    });
    respond::rejection(rejection, &cx.rid, browser)
}

/// The request's audit record.
fn event(cx: &Ctx, verdict: Verdict, reasons: Vec<String>) -> Event {
    let actor = match &cx.actor {
        Some((ActorKind::User, id)) => wardgate_audit::Actor::user(id),
        Some((ActorKind::Service, id)) => {
            wardgate_audit::Actor::new(wardgate_audit::ActorKind::Service, id)
        }
        None => wardgate_audit::Actor::anonymous(),
    };
    let mut e = Event::new(
        EventKind::Decision,
        actor,
        cx.action.clone().unwrap_or_else(|| "unrouted".into()),
    );
    e.resource = wardgate_audit::ResourceRef {
        practice: cx.practice.clone(),
        location: cx.location.clone(),
        patient: cx.patient.clone(),
        path: Some(cx.path.clone()),
    };
    e.decision = Some(wardgate_audit::DecisionSummary { verdict, reasons });
    if let Some(d) = &cx.decision {
        e.obligations = d
            .obligations
            .iter()
            .filter_map(|o| serde_json::to_value(o).ok())
            .collect();
    }
    e.module_hash = cx.module_hash.clone();
    e.client = Some(cx.client.to_string());
    e.country = cx.country.map(|c| c.to_string());
    e.request_id = Some(cx.rid.clone());
    e.session_id = cx.session_id.clone();
    e.detail = Some(json!({"method": cx.method, "key": cx.key_id}));
    e
}

fn count(gw: &Gateway, decision: &'static str, reason: &str) {
    gw.metrics()
        .decisions
        .get_or_create(&DecisionLabel {
            decision,
            reason: reason.to_string(),
        })
        .inc();
}

/// Records a refused request. A full queue cannot make a refusal worse, so it is only
/// logged; the request stays refused.
fn audit_deny(gw: &Gateway, cx: &Ctx, rejection: &Rejection) {
    let mut reasons = vec![rejection.code().to_string()];
    if let Some(d) = &cx.decision {
        reasons.extend(d.reasons.iter().map(|r| r.code.to_string()));
    }
    let reason = reasons.last().cloned().unwrap_or_default();
    count(gw, "deny", &reason);
    if let Err(e) = gw.audit().try_append(event(cx, Verdict::Deny, reasons)) {
        tracing::error!(error = %e, request = %cx.rid, "a refusal could not be audited");
    }
}

/// Records an allowed request before it is forwarded; when that cannot be done the request
/// is refused.
async fn audit_allow(gw: &Gateway, cx: &Ctx) -> Result<(), Rejection> {
    let reasons = cx
        .decision
        .as_ref()
        .map(|d| d.reasons.iter().map(|r| r.code.to_string()).collect())
        .unwrap_or_default();
    count(gw, "allow", "granted");
    let event = event(cx, Verdict::Allow, reasons);
    let written = match gw.config().audit.durability {
        AuditDurability::Batched => gw.audit().try_append(event),
        AuditDurability::Group => {
            let audit = gw.audit().clone();
            tokio::task::spawn_blocking(move || audit.append(event, Durability::Group))
                .await
                .map_err(|_| wardgate_audit::AuditError::WriterGone)
                .and_then(|r| r)
                .map(|_| ())
        }
    };
    written.map_err(|e| {
        tracing::error!(error = %e, request = %cx.rid, "an allowed request could not be audited; refused");
        Rejection::AuditUnavailable
    })
}
