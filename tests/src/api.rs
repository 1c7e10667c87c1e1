//! Calling the administration API in tests: as a signed-in browser (its cookies and CSRF
//! token) or with an API key, on the gateway's own listener.

use http::Method;
use serde_json::Value;

use crate::gateway::{Browser, Harness, Reply, CSRF_COOKIE};

/// Where the API lives on the gateway's listener.
pub const API: &str = "/.wardgate/v1";

/// A JSON call with the browser's cookies; with `csrf`, its form token in the API's header.
pub async fn call(
    h: &Harness,
    b: &Browser,
    method: Method,
    path: &str,
    body: Option<Value>,
    csrf: bool,
    extra: &[(&str, &str)],
) -> Reply {
    let cookies = b.cookie_header();
    let token = b.cookie(CSRF_COOKIE).unwrap_or_default();
    let mut headers = vec![
        // The session is bound to its device.
        ("user-agent", "wardgate-test-client/1.0"),
        ("accept", "application/json"),
        ("content-type", "application/json"),
        ("cookie", cookies.as_str()),
    ];
    if csrf {
        headers.push(("x-csrf-token", token.as_str()));
    }
    headers.extend_from_slice(extra);
    send(h, method, path, &headers, body).await
}

/// A JSON call with an API key.
pub async fn with_key(
    h: &Harness,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Reply {
    with_key_and(h, key, method, path, body, &[]).await
}

/// A JSON call with an API key and more headers.
pub async fn with_key_and(
    h: &Harness,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
    extra: &[(&str, &str)],
) -> Reply {
    let auth = format!("Bearer {key}");
    let mut headers = vec![
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    headers.extend_from_slice(extra);
    send(h, method, path, &headers, body).await
}

/// Sends a JSON body to the API on the gateway's listener.
async fn send(
    h: &Harness,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Reply {
    let body = body.map(|b| b.to_string());
    h.client()
        .send(
            method,
            &format!("{}{API}{path}", h.base),
            headers,
            body.as_deref(),
        )
        .await
}

pub async fn signed_in(h: &Harness, email: &str, roles: &[&str]) -> (Browser, String) {
    let user = h.user(email, roles, "Correct#Horse9", true);
    let b = h.api_browser();
    let r = b.login(email, "Correct#Horse9").await;
    assert!(
        r.status.is_success() || r.status.is_redirection(),
        "{}",
        r.body
    );
    assert!(b.cookie("__Host-wardgate").is_some(), "not signed in");
    (b, user.id)
}

pub fn changes_by(h: &Harness, actor: &str) -> Vec<String> {
    h.audit_records()
        .iter()
        .filter(|r| r["event"]["kind"] == "change" && r["event"]["actor"]["id"] == actor)
        .map(|r| r["event"]["action"].as_str().unwrap_or("").to_string())
        .collect()
}
