//! The one responder: any refusal as its client should see it - JSON for an API client, a
//! page or a way to one for a browser - with the request id and nothing internal.

use http::{header, HeaderValue, Response, StatusCode};

use crate::body::{full, Body};
use crate::reject::Rejection;

/// What a browser's answer needs: where it goes back to after signing in, and the form token
/// of its pages.
#[derive(Debug, Clone, Copy)]
pub struct ForBrowser<'a> {
    pub next: &'a str,
    pub csrf: &'a str,
}

/// The response to a refusal; every refusal goes through here. A browser (`browser`) that
/// must sign in is sent to the sign-in page and brought back to `next` afterwards; one that
/// must confirm its password gets that form; everything else gets the JSON body.
pub fn rejection(
    r: &Rejection,
    request_id: &str,
    browser: Option<ForBrowser<'_>>,
) -> Response<Body> {
    let ends_session = matches!(r, Rejection::SessionEnded);
    let clear = crate::session::set_cookie(crate::session::COOKIE, None, None);
    if let Some(ForBrowser { next, csrf }) = browser {
        let page = match r {
            Rejection::NoCredentials | Rejection::SessionEnded | Rejection::SessionElsewhere => {
                let to = format!("/.wardgate/login?next={}", encode(next));
                let mut res = Response::new(full(""));
                *res.status_mut() = StatusCode::SEE_OTHER;
                if let Ok(v) = HeaderValue::from_str(&to) {
                    res.headers_mut().insert(header::LOCATION, v);
                }
                Some(res)
            }
            Rejection::StepUp { .. } => {
                let mut res = Response::new(full(crate::pages::reauth_page(next, csrf)));
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
    let mut res = api(r, request_id);
    if ends_session {
        if let Ok(v) = HeaderValue::from_str(&clear) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// The JSON response to a refusal, for an API client.
/// A JSON answer, never cached.
pub fn json(status: http::StatusCode, body: &serde_json::Value) -> Response<Body> {
    let mut res = Response::new(full(body.to_string()));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

pub fn api(r: &Rejection, request_id: &str) -> Response<Body> {
    let mut body = serde_json::Map::new();
    body.insert("error".into(), r.code().into());
    body.insert("message".into(), r.message().into());
    body.insert("request_id".into(), request_id.into());
    match r {
        Rejection::Denied { reason } => {
            body.insert("reason".into(), reason.as_str().into());
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
    let mut res = json(r.status(), &serde_json::Value::Object(body));
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-request-id", v);
    }
    match r {
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
