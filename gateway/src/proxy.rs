//! Forwarding: a pooled hyper client per upstream (plain or TLS with its own CA), hop-by-hop
//! headers removed both ways, identity headers a client sent stripped, timeouts on connect
//! and on the response.

use std::time::Duration;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, Uri};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::body::{Body, BoxError};
use crate::config::{PathPrefix, StripHeader, Upstream, UpstreamUrl};
use crate::reject::Rejection;

/// One practice app.
#[derive(Debug)]
pub struct Target {
    pub name: String,
    url: UpstreamUrl,
    prefix: Option<PathPrefix>,
    host: Option<String>,
    timeout: Duration,
    client: Client<HttpsConnector<HttpConnector>, Body>,
}

#[derive(Debug)]
pub struct Upstreams {
    targets: Vec<Target>,
}

impl Upstreams {
    pub fn new(configs: &[Upstream]) -> Result<Upstreams, String> {
        let mut targets = Vec::new();
        for u in configs {
            let tls = crate::tls::client_config(u.ca.as_deref())
                .map_err(|e| format!("`{}`: {e}", u.name))?;
            let https = crate::tls::connector(tls, u.connect_timeout.0);
            let client = Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(60))
                .pool_max_idle_per_host(1024)
                .pool_timer(TokioTimer::new())
                .timer(TokioTimer::new())
                .build(https);
            targets.push(Target {
                name: u.name.clone(),
                url: u.url.clone(),
                prefix: u.prefix.clone(),
                host: u.host.as_ref().map(|h| h.to_ascii_lowercase()),
                timeout: u.timeout.0,
                client,
            });
        }
        Ok(Upstreams { targets })
    }

    /// The upstream for a request: one named for its host first, then the longest prefix.
    pub fn pick(&self, host: Option<&str>, path: &str) -> Option<&Target> {
        let host = host.map(|h| h.split(':').next().unwrap_or(h).to_ascii_lowercase());
        if let Some(h) = &host {
            if let Some(t) = self
                .targets
                .iter()
                .find(|t| t.host.as_deref() == Some(h.as_str()))
            {
                return Some(t);
            }
        }
        self.targets
            .iter()
            .filter(|t| t.host.is_none())
            .filter(|t| t.prefix.as_ref().is_some_and(|p| p.holds(path)))
            .max_by_key(|t| t.prefix.as_ref().map(|p| p.0.len()).unwrap_or(0))
    }
}

/// Headers that belong to one connection, never forwarded.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
];

pub fn strip_hop_by_hop(h: &mut HeaderMap) {
    let named: Vec<HeaderName> = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for n in named {
        h.remove(n);
    }
    for n in HOP_BY_HOP {
        h.remove(n);
    }
    h.remove(header::TRANSFER_ENCODING);
}

/// Removes what a client must not be able to say to the app about who it is or where it is:
/// every header `[proxy] strip_headers` names (the gateway's identity headers, forwarding and
/// client-address headers, with `_` and `-` as one), and the gateway's credentials.
pub fn strip_identity(h: &mut HeaderMap, rules: &[StripHeader]) {
    let spoofable: Vec<HeaderName> = h
        .keys()
        .filter(|k| rules.iter().any(|r| r.matches(k.as_str())))
        .cloned()
        .collect();
    for k in spoofable {
        h.remove(k);
    }
    h.remove("x-api-key");
    h.remove(header::AUTHORIZATION);
}

/// Sets a header when the value is a valid header value; identity values come from the store
/// and the policy, so an invalid one is skipped rather than trusted.
pub fn set(h: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

impl Target {
    /// Sends the request to this upstream. The caller has set the identity headers.
    pub async fn send(&self, mut req: Request<Body>) -> Result<Response<Body>, Rejection> {
        let path = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
            .to_string();
        let scheme = if self.url.tls { "https" } else { "http" };
        let uri = Uri::builder()
            .scheme(scheme)
            .authority(self.url.authority.clone())
            .path_and_query(path)
            .build()
            .map_err(|_| Rejection::BadRequest("the request target is not valid"))?;
        *req.uri_mut() = uri;
        *req.version_mut() = http::Version::HTTP_11;
        req.headers_mut().remove(header::HOST);
        let sent = tokio::time::timeout(self.timeout, self.client.request(req)).await;
        let res: Response<Incoming> = match sent {
            Err(_) => return Err(Rejection::UpstreamTimeout),
            Ok(Err(e)) if crate::body::is_timeout(&e) => return Err(Rejection::BodyTimeout),
            Ok(Err(e)) => {
                tracing::warn!(upstream = %self.name, error = %e, "upstream request failed");
                return Err(Rejection::UpstreamFailed);
            }
            Ok(Ok(res)) => res,
        };
        let (mut parts, body) = res.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        Ok(Response::from_parts(
            parts,
            body.map_err(|e| Box::new(e) as BoxError).boxed(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_and_identity_headers_go() {
        let mut h = HeaderMap::new();
        h.insert("connection", "close, x-secret".parse().unwrap());
        h.insert("x-secret", "1".parse().unwrap());
        h.insert("keep-alive", "timeout=5".parse().unwrap());
        h.insert("x-wardgate-principal", "admin".parse().unwrap());
        h.insert("X-Wardgate-Roles", "System Admin".parse().unwrap());
        h.insert("x-forwarded-for", "1.2.3.4".parse().unwrap());
        h.insert("authorization", "Bearer wg_x".parse().unwrap());
        h.insert("accept", "application/json".parse().unwrap());
        for spoof in [
            "x_wardgate_roles",
            "X-Wardgate_Principal-Type",
            "x-wardgateroles",
            "x_forwarded_for",
            "forwarded",
            "x-real-ip",
            "true-client-ip",
            "x-client-ip",
            "cf-connecting-ip",
            "x-cluster-client-ip",
            "fastly-client-ip",
            "x-original-forwarded-for",
            "X_Real_IP",
        ] {
            h.insert(
                HeaderName::from_bytes(spoof.as_bytes()).unwrap(),
                "1".parse().unwrap(),
            );
        }
        strip_hop_by_hop(&mut h);
        strip_identity(&mut h, &crate::config::Proxy::default().strip_headers);
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(h.contains_key("accept"));
    }
}
