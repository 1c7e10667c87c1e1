//! The gateway's one rejection type: its status, its stable code and its public words.
//! `respond.rs` turns it into a response; nothing internal (rules, roles, stack traces,
//! upstream addresses) ever leaves.

use std::time::Duration;

use http::StatusCode;

/// Why a request was not forwarded (or its response not delivered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Not valid HTTP for this gateway (a bad path, a JSON body a route needs that is not JSON).
    BadRequest(&'static str),
    /// The body is over `max_body_bytes` (or over `max_json_body_bytes` where it must be read).
    BodyTooLarge,
    /// The client's address is on a deny list or off an allow list.
    Network,
    /// The client's country is blocked.
    Country,
    /// No API key (or session) came with the request.
    NoCredentials,
    /// A key that is unknown, revoked, expired or used from a network it is not for.
    BadCredentials,
    /// The session cookie names no live session (ended, timed out, or moved network or device).
    SessionEnded,
    /// The session was opened for another practice: each practice's sign-in rules (second
    /// factor, idle limits, session count) hold only for sessions opened there.
    SessionElsewhere,
    /// A state-changing form that did not come from this gateway's own pages (origin or
    /// CSRF token).
    CrossSite,
    /// The request body did not arrive in time.
    BodyTimeout,
    RateLimited {
        limit: u32,
        retry_after: Duration,
    },
    /// The request names no practice this gateway serves.
    UnknownPractice,
    /// No route of the policy matches: nothing undecided is forwarded.
    NoRoute,
    /// The policy said no; `reason` is its first reason code.
    Denied {
        reason: wardgate_policy::ReasonCode,
    },
    /// Break-glass asked for where the user may not open it.
    EmergencyRefused,
    /// A page for people (the console) asked for with an API key.
    PeopleOnly,
    /// The policy wants a fresher sign-in (or a second factor) for this action.
    StepUp {
        max_age_seconds: Option<u64>,
        mfa: bool,
    },
    /// The policy module trapped, timed out or answered nonsense.
    PolicyFault,
    /// The identity store could not be read.
    StoreFault,
    /// The audit log cannot take the decision now.
    AuditUnavailable,
    /// No upstream serves this path or host.
    NoUpstream,
    /// The upstream refused the connection or broke it.
    UpstreamFailed,
    /// The upstream did not answer in time.
    UpstreamTimeout,
    /// The response must be redacted but cannot be (not JSON, compressed, too large).
    CannotRedact,
}

impl Rejection {
    pub fn status(&self) -> StatusCode {
        use Rejection::*;
        match self {
            BadRequest(_) => StatusCode::BAD_REQUEST,
            BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Network
            | Country
            | UnknownPractice
            | Denied { .. }
            | EmergencyRefused
            | CrossSite
            | PeopleOnly => StatusCode::FORBIDDEN,
            NoCredentials | BadCredentials | SessionEnded | SessionElsewhere | StepUp { .. } => {
                StatusCode::UNAUTHORIZED
            }
            BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            NoRoute | NoUpstream => StatusCode::NOT_FOUND,
            PolicyFault | StoreFault | AuditUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            UpstreamFailed | CannotRedact => StatusCode::BAD_GATEWAY,
            UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// A stable, machine-readable code.
    pub fn code(&self) -> &str {
        use Rejection::*;
        match self {
            BadRequest(_) => "bad_request",
            BodyTooLarge => "body_too_large",
            Network => "network_blocked",
            Country => "country_blocked",
            NoCredentials => "unauthenticated",
            BadCredentials => "invalid_credentials",
            SessionEnded => "session_ended",
            SessionElsewhere => "session_for_another_practice",
            CrossSite => "cross_site",
            BodyTimeout => "body_timeout",
            RateLimited { .. } => "rate_limited",
            UnknownPractice => "unknown_practice",
            NoRoute => "no_route",
            Denied { .. } => "forbidden",
            EmergencyRefused => "emergency_not_allowed",
            PeopleOnly => "sign_in_required",
            StepUp { .. } => "step_up_required",
            PolicyFault => "policy_unavailable",
            StoreFault => "identity_unavailable",
            AuditUnavailable => "audit_unavailable",
            NoUpstream => "no_upstream",
            UpstreamFailed => "upstream_failed",
            UpstreamTimeout => "upstream_timeout",
            CannotRedact => "response_not_filterable",
        }
    }

    /// A few public words on what happened.
    pub fn message(&self) -> &str {
        use Rejection::*;
        match self {
            BadRequest(m) => m,
            BodyTooLarge => "the request body is too large",
            Network => "requests from this network are not allowed",
            Country => "requests from this country are not allowed",
            NoCredentials => "sign in or send an API key",
            BadCredentials => "the credentials are not valid",
            SessionEnded => "the session has ended; sign in again",
            SessionElsewhere => "the session is for another practice; sign in here",
            CrossSite => "this form did not come from this site",
            BodyTimeout => "the request body did not arrive in time",
            RateLimited { .. } => "too many requests; slow down",
            UnknownPractice => "the request does not name a practice served here",
            NoRoute => "no route for this method and path",
            Denied { .. } => "the policy does not permit this request",
            EmergencyRefused => "emergency access may not be opened here",
            PeopleOnly => "the console is for people signed in; an API key uses the API",
            StepUp { .. } => "sign in again to do this",
            PolicyFault | StoreFault | AuditUnavailable => {
                "the gateway cannot decide this request now; try again"
            }
            NoUpstream => "nothing is served at this path",
            UpstreamFailed => "the application is not reachable",
            UpstreamTimeout => "the application did not answer in time",
            CannotRedact => "the response could not be filtered as the policy requires",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn bodies_carry_the_request_id_and_nothing_internal() {
        let r = Rejection::Denied {
            reason: wardgate_policy::ReasonCode::Scope,
        };
        let res = crate::respond::api(&r, "req-1");
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        let body = res.into_body().collect().await.unwrap().to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["request_id"], "req-1");
        assert_eq!(v["reason"], "scope");
        let limited = Rejection::RateLimited {
            limit: 3,
            retry_after: Duration::from_millis(19_500),
        };
        let res = crate::respond::api(&limited, "r");
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(res.headers()["retry-after"], "20");
        assert_eq!(res.headers()["ratelimit-limit"], "3");
    }
}
