//! Step 4: which practice a request is for (`[practice] from`), and that practice's own
//! networks (`[practices.<id>]`).

use std::collections::BTreeMap;
use std::net::IpAddr;

use http::{HeaderMap, Request, Uri};
use wardgate_identity::Practice;

use super::{host_of, Ctx};
use crate::body::Body;
use crate::config::{NetworkRules, PracticeSource};
use crate::reject::Rejection;
use crate::state::Gateway;

/// One percent-decoded path segment; `None` when it does not decode to UTF-8.
fn decode(segment: &str) -> Option<String> {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// The practice a request names, as the configuration says to find it.
pub(crate) fn target(gw: &Gateway, headers: &HeaderMap, uri: &Uri) -> Result<Practice, Rejection> {
    let source = &gw.config().practice;
    let id: Option<String> = match source {
        PracticeSource::Fixed { id } => Some(id.clone()),
        PracticeSource::Header { header } => headers
            .get(&header.0)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_string()),
        PracticeSource::Path { segment } => {
            uri.path().split('/').nth(segment.get()).and_then(decode)
        }
        PracticeSource::Host { domain } => host_of(headers, uri).and_then(|h| {
            let h = h.split(':').next().unwrap_or(&h).to_ascii_lowercase();
            let domain = domain.trim_start_matches('.').to_ascii_lowercase();
            h.strip_suffix(&domain)?
                .strip_suffix('.')
                .map(str::to_string)
        }),
    };
    id.filter(|id| !id.is_empty())
        .and_then(|id| gw.practice(&id))
        .ok_or(Rejection::UnknownPractice)
}

/// The practice of a gateway page, when the request names one (the pages say what they need
/// without), behind that practice's networks.
pub(super) fn for_pages(
    gw: &Gateway,
    cx: &mut Ctx,
    req: &Request<Body>,
) -> Result<Option<Practice>, Rejection> {
    let practice = target(gw, req.headers(), req.uri()).ok();
    if let Some(p) = &practice {
        cx.practice = Some(p.id.clone());
        rules(&gw.config().practices, &p.id, cx.client)?;
    }
    Ok(practice)
}

/// The practice's own allow and deny lists.
pub(super) fn rules(
    per_practice: &BTreeMap<String, NetworkRules>,
    practice: &str,
    client: IpAddr,
) -> Result<(), Rejection> {
    match per_practice.get(practice).and_then(|r| r.refuses(client)) {
        Some(_) => Err(Rejection::Network),
        None => Ok(()),
    }
}
