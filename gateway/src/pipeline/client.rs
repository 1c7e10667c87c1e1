//! Step 1 for every request: the path as it will be decided and forwarded, and the limits its
//! body must meet.

use http::header;
use http::Request;
use hyper::body::Incoming;

use super::Ctx;
use crate::body::Body;
use crate::config::{EncodedSlashes, Server};
use crate::reject::Rejection;

/// Dot segments removed, ambiguous encodings refused (`[proxy] encoded_slashes`).
pub(super) fn normalize_path(
    cx: &mut Ctx,
    uri: &mut http::Uri,
    mode: EncodedSlashes,
) -> Result<(), Rejection> {
    crate::path::apply(uri, mode).map_err(|refused| Rejection::BadRequest(refused.message()))?;
    cx.path = uri.path().to_string();
    Ok(())
}

/// A declared body over `max_body_bytes` is refused before anything reads it; the body is
/// read under its size, total and gap limits, the gateway's own pages' total the tightest.
pub(super) fn limit_body(
    server: &Server,
    req: Request<Incoming>,
) -> Result<Request<Body>, Rejection> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > server.max_body_bytes) {
        return Err(Rejection::BodyTooLarge);
    }
    let pages = req.uri().path().starts_with(crate::pipeline::login::PREFIX);
    let limits = crate::body::Limits {
        max_bytes: server.max_body_bytes,
        total: if pages {
            server.page_body_timeout.0
        } else {
            server.body_timeout.0
        },
        gap: server.body_gap_timeout.0,
    };
    Ok(req.map(|b| crate::body::guarded(b, limits)))
}
