//! Step 10: what the decision obliges of the response - the fields the policy redacts removed
//! (or, when they cannot be, nothing delivered), a mark on every page served under emergency
//! access - and the request id and rate-limit headers.

use http::{header, Response};
use wardgate_policy::Decision;

use super::{Ctx, Who};
use crate::body::{full, Body};
use crate::proxy;
use crate::ratelimit::Admit;
use crate::redact;
use crate::reject::Rejection;

/// The largest response body read to redact it.
const MAX_REDACT_BYTES: usize = 16 << 20;

pub(super) async fn apply(
    mut res: Response<Body>,
    decision: &Decision,
    who: &Who,
    rate: Admit,
    cx: &Ctx,
) -> Result<Response<Body>, Rejection> {
    let fields = redact::fields(&decision.obligations);
    if !fields.is_empty() {
        res = redact_response(res, &fields).await?;
    }
    let h = res.headers_mut();
    proxy::set(h, "x-request-id", &cx.rid);
    if matches!(who, Who::Session(s) if s.emergency.is_some()) {
        // Marks every page served under emergency access.
        proxy::set(h, "wardgate-emergency", "active");
    }
    if let Admit::Pass {
        limit,
        remaining,
        reset,
    } = rate
    {
        h.insert("ratelimit-limit", limit.into());
        h.insert("ratelimit-remaining", remaining.into());
        h.insert("ratelimit-reset", reset.as_secs().into());
    }
    Ok(res)
}

/// The response with the fields removed; only plain JSON can be redacted.
async fn redact_response(
    res: Response<Body>,
    fields: &[String],
) -> Result<Response<Body>, Rejection> {
    let (mut parts, body) = res.into_parts();
    let json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            let ct = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            ct == "application/json" || ct.ends_with("+json")
        });
    let encoded = parts
        .headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes() != b"identity");
    if !json || encoded {
        return Err(Rejection::CannotRedact);
    }
    let bytes = crate::body::read_all(body, MAX_REDACT_BYTES)
        .await
        .map_err(|_| Rejection::CannotRedact)?;
    let mut value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|_| Rejection::CannotRedact)?;
    redact::redact(&mut value, fields);
    let out = serde_json::to_vec(&value).map_err(|_| Rejection::CannotRedact)?;
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::ETAG);
    Ok(Response::from_parts(parts, full(out)))
}
