//! Step 7: method + path to the policy's action and the resource attributes its route binds
//! (from the path, the query, a header, or the JSON body - read only when a route binds from
//! it, within `max_json_body_bytes`).

use http::HeaderMap;
use wardgate_host::LoadedModule;
use wardgate_policy::Engine;
use wardgate_policy::RequestParts;
use wardgate_policy::Resource;

use crate::body::ReadError;
use crate::body::{full, Body};
use crate::reject::Rejection;

/// Where a route may read attributes from.
struct Parts<'a> {
    query: Option<&'a str>,
    headers: &'a HeaderMap,
    json: Option<&'a serde_json::Value>,
}

impl RequestParts for Parts<'_> {
    fn query(&self, name: &str) -> Option<String> {
        let q = self.query?;
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    fn header(&self, lower_name: &str) -> Option<String> {
        self.headers
            .get(lower_name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    fn json(&self) -> Option<&serde_json::Value> {
        self.json
    }
}

/// A routed request: its action, its resource, and the body to forward.
pub(super) struct Routed {
    pub action: String,
    pub resource: Resource,
    pub body: Body,
}

pub(super) async fn route(
    module: &LoadedModule,
    parts: &http::request::Parts,
    body: Body,
    max_json: usize,
) -> Result<Routed, Rejection> {
    let manifest = module.manifest();
    let found = manifest
        .match_route(parts.method.as_str(), parts.uri.path())
        .ok_or(Rejection::NoRoute)?;
    let (json, body) = if found.reads_json() {
        let bytes = crate::body::read_all(body, max_json)
            .await
            .map_err(|e| match e {
                ReadError::TooLarge => Rejection::BodyTooLarge,
                ReadError::Timeout => Rejection::BodyTimeout,
                ReadError::Broken => Rejection::BadRequest("the request body could not be read"),
            })?;
        (serde_json::from_slice(&bytes).ok(), full(bytes))
    } else {
        // The size limit is the guarded body's, checked as it streams to the app.
        (None, body)
    };
    let view = Parts {
        query: parts.uri.query(),
        headers: &parts.headers,
        json: json.as_ref(),
    };
    Ok(Routed {
        resource: found.resource(manifest, &view),
        action: manifest.action_name(found.route.action).to_string(),
        body,
    })
}
