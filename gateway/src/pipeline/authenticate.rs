//! Step 4: the credential a request carries - an API key (`Authorization: Bearer`, or
//! `X-API-Key`), or else the session cookie - and the key's own checks.

use std::net::IpAddr;

use http::header::{self, HeaderMap};
use wardgate_identity::{IdentityError, KeyInfo, Store};

use crate::reject::Rejection;

/// What a request presents.
pub(super) enum Credential<'h> {
    Key(&'h str),
    Session(&'h str),
}

pub(super) fn credential(headers: &HeaderMap) -> Result<Credential<'_>, Rejection> {
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
        .map(str::trim);
    if let Some(k) = key {
        return Ok(Credential::Key(k));
    }
    crate::session::cookie(headers, crate::session::COOKIE)
        .map(Credential::Session)
        .ok_or(Rejection::NoCredentials)
}

/// The key, if it is live (cached; revocations reach the cache at once).
pub(super) fn key(store: &Store, presented: &str) -> Result<KeyInfo, Rejection> {
    match store.verify_key_cached(presented) {
        Ok(key) => Ok(key),
        Err(IdentityError::BadKey) => Err(Rejection::BadCredentials),
        Err(e) => {
            tracing::error!(error = %e, "the identity store failed a key lookup");
            Err(Rejection::StoreFault)
        }
    }
}

/// A key made for some networks is good only from them.
pub(super) fn key_networks(key: &KeyInfo, client: IpAddr) -> Result<(), Rejection> {
    if key.networks.is_empty() {
        return Ok(());
    }
    if key.networks.iter().any(|net| net.contains(&client)) {
        Ok(())
    } else {
        Err(Rejection::BadCredentials)
    }
}

/// A change to the administration API made with a session cookie: from this gateway's origin
/// (when the browser says), carrying the CSRF token of its double-submit cookie in
/// [`crate::api::CSRF_HEADER`] (a header no other site can make a browser send).
pub(super) fn api_csrf(parts: &http::request::Parts) -> Result<(), Rejection> {
    if parts.method.is_safe() {
        return Ok(());
    }
    let sent = parts
        .headers
        .get(crate::api::CSRF_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    let cookie = crate::session::cookie(&parts.headers, crate::session::CSRF_COOKIE).unwrap_or("");
    let token_ok = crate::session::same_token(cookie, sent);
    if token_ok && super::login::same_origin(&parts.headers, &parts.uri, true) {
        Ok(())
    } else {
        Err(Rejection::CrossSite)
    }
}
