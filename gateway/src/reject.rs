//! The gateway's one rejection type and the one place that turns it into a response. A body
//! says what happened in a few public words and carries the request id; nothing internal
//! (rules, roles, stack traces, upstream addresses) ever leaves.

use std::time::Duration;

use http::{header, HeaderValue, Response, StatusCode};

pub use crate::body::{full, Body, BoxError};

/// What a browser's answer needs: where it goes back to after signing in, and the form token
/// of its pages.
#[derive(Debug, Clone, Copy)]
pub struct ForBrowser<'a> {
    pub next: &'a str,
    pub csrf: &'a str,
}

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
        reason: String,
    },
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
            Network | Country | UnknownPractice | Denied { .. } | CrossSite => {
                StatusCode::FORBIDDEN
            }
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

    fn message(&self) -> &str {
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

    /// The response for an API client.
    pub fn response(&self, request_id: &str) -> Response<Body> {
        self.response_for(request_id, None)
    }

    /// The response. Every rejection goes through here. A browser (`browser`) that must sign
    /// in is sent to the sign-in page and brought back to `next` afterwards; one that must
    /// confirm its password gets that form.
    pub fn response_for(
        &self,
        request_id: &str,
        browser: Option<ForBrowser<'_>>,
    ) -> Response<Body> {
        let ends_session = matches!(self, Rejection::SessionEnded);
        let clear = crate::session::set_cookie(crate::session::COOKIE, None, None);
        if let Some(ForBrowser { next, csrf }) = browser {
            let page = match self {
                Rejection::NoCredentials
                | Rejection::SessionEnded
                | Rejection::SessionElsewhere => {
                    let to = format!("/.wardgate/login?next={}", encode(next));
                    let mut res = Response::new(full(""));
                    *res.status_mut() = StatusCode::SEE_OTHER;
                    if let Ok(v) = HeaderValue::from_str(&to) {
                        res.headers_mut().insert(header::LOCATION, v);
                    }
                    Some(res)
                }
                Rejection::StepUp { .. } => {
                    let mut res = Response::new(full(crate::login::reauth_page(next, csrf)));
                    *res.status_mut() = StatusCode::UNAUTHORIZED;
                    res.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/html; charset=utf-8"),
                    );
                    Some(res)
                }
                _ => None,
            };
            if let Some(mut res) = page {
                let h = res.headers_mut();
                h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                if let Ok(v) = HeaderValue::from_str(request_id) {
                    h.insert("x-request-id", v);
                }
                if ends_session {
                    if let Ok(v) = HeaderValue::from_str(&clear) {
                        h.append(header::SET_COOKIE, v);
                    }
                }
                return res;
            }
        }
        let mut res = self.api_response(request_id);
        if ends_session {
            if let Ok(v) = HeaderValue::from_str(&clear) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        res
    }

    fn api_response(&self, request_id: &str) -> Response<Body> {
        let mut body = serde_json::Map::new();
        body.insert("error".into(), self.code().into());
        body.insert("message".into(), self.message().into());
        body.insert("request_id".into(), request_id.into());
        match self {
            Rejection::Denied { reason } => {
                body.insert("reason".into(), reason.clone().into());
            }
            Rejection::StepUp {
                max_age_seconds,
                mfa,
            } => {
                body.insert("max_auth_age_seconds".into(), (*max_age_seconds).into());
                body.insert("mfa".into(), (*mfa).into());
            }
            _ => {}
        }
        let body = serde_json::Value::Object(body);
        let mut res = Response::new(full(body.to_string()));
        *res.status_mut() = self.status();
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Ok(v) = HeaderValue::from_str(request_id) {
            h.insert("x-request-id", v);
        }
        match self {
            Rejection::NoCredentials
            | Rejection::BadCredentials
            | Rejection::SessionEnded
            | Rejection::SessionElsewhere => {
                h.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"wardgate\""),
                );
            }
            Rejection::StepUp { .. } => {
                h.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(
                        "Bearer realm=\"wardgate\", error=\"insufficient_user_authentication\"",
                    ),
                );
            }
            Rejection::RateLimited { limit, retry_after } => {
                let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                h.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
                h.insert("ratelimit-limit", HeaderValue::from(*limit));
                h.insert("ratelimit-remaining", HeaderValue::from(0u32));
                h.insert("ratelimit-reset", HeaderValue::from(secs.max(1)));
            }
            _ => {}
        }
        res
    }
}

/// Percent-encodes a path for a query value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn bodies_carry_the_request_id_and_nothing_internal() {
        let r = Rejection::Denied {
            reason: "scope".into(),
        };
        let res = r.response("req-1");
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        let body = res.into_body().collect().await.unwrap().to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["request_id"], "req-1");
        assert_eq!(v["reason"], "scope");
        let res = Rejection::RateLimited {
            limit: 3,
            retry_after: Duration::from_millis(19_500),
        }
        .response("r");
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(res.headers()["retry-after"], "20");
        assert_eq!(res.headers()["ratelimit-limit"], "3");
    }
}
