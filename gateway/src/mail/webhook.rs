//! Alert webhooks: each alert POSTed as JSON over HTTPS (rustls; the system's roots or a
//! configured CA) with `Wardgate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
//! "<t>.<body>">` under the webhook's secret, so the receiver can check it came from here and
//! is fresh, and `Wardgate-Delivery: <message id>`, the same on every retry.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sha2::Sha256;
use wardgate_identity::Outgoing;

use super::Failure;
use crate::config::WebhookSetting;

struct Hook {
    url: http::Uri,
    secret: Vec<u8>,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

/// The configured webhooks, by name.
pub struct Webhooks {
    hooks: HashMap<String, Hook>,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.hooks.keys()).finish()
    }
}

/// The signature header's value for `body` at `unix` seconds.
pub fn signature(secret: &[u8], unix: i64, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(unix.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={unix},v1={}", hex::encode(mac.finalize().into_bytes()))
}

fn secret_of(w: &WebhookSetting) -> Result<Vec<u8>, String> {
    let text = match (&w.secret_file, &w.secret_env) {
        (Some(path), _) => std::fs::read_to_string(path)
            .map_err(|e| format!("webhook {:?} secret_file {}: {e}", w.name, path.display()))?,
        (None, Some(var)) => std::env::var(var)
            .map_err(|_| format!("webhook {:?}: the environment has no {var}", w.name))?,
        (None, None) => return Err(format!("webhook {:?} has no secret", w.name)),
    };
    let secret = text.trim().as_bytes().to_vec();
    if secret.len() < 16 {
        return Err(format!(
            "webhook {:?}: the secret is shorter than 16 characters",
            w.name
        ));
    }
    Ok(secret)
}

impl Webhooks {
    pub fn new(settings: &[WebhookSetting]) -> Result<Webhooks, String> {
        let mut hooks = HashMap::new();
        for w in settings {
            let url: http::Uri = w
                .url
                .parse()
                .map_err(|e| format!("webhook {:?}: {e}", w.name))?;
            let tls = crate::tls::client_config(w.ca.as_deref())
                .map_err(|e| format!("webhook {:?}: {e}", w.name))?;
            let https = crate::tls::connector(tls, Duration::from_secs(5));
            let client = Client::builder(TokioExecutor::new()).build(https);
            hooks.insert(
                w.name.clone(),
                Hook {
                    url,
                    secret: secret_of(w)?,
                    client,
                },
            );
        }
        Ok(Webhooks { hooks })
    }

    /// The names, for queuing an alert to each.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.hooks.keys().cloned().collect();
        names.sort();
        names
    }

    /// POSTs one message; a 2xx answer is a delivery, a 4xx other than 408 and 429 will never
    /// be, anything else is tried again.
    pub(super) async fn post(&self, m: &Outgoing) -> Result<(), Failure> {
        let Some(hook) = self.hooks.get(&m.recipient) else {
            return Err(Failure::Final(format!(
                "no webhook named {:?} is configured now",
                m.recipient
            )));
        };
        let body = serde_json::to_vec(&serde_json::json!({
            "delivery": m.id,
            "alert": m.payload,
        }))
        .map_err(|e| Failure::Final(e.to_string()))?;
        let now = chrono::Utc::now().timestamp();
        let req = http::Request::post(hook.url.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::USER_AGENT, "wardgate-alerts")
            .header("wardgate-signature", signature(&hook.secret, now, &body))
            .header("wardgate-delivery", m.id.to_string())
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| Failure::Final(e.to_string()))?;
        let res = hook
            .client
            .request(req)
            .await
            .map_err(|e| Failure::Retry(format!("webhook {:?}: {e}", m.recipient)))?;
        let status = res.status();
        // The answer is read (bounded) so the connection can be reused, and dropped.
        let _ = http_body_util::Limited::new(res.into_body(), 64 * 1024)
            .collect()
            .await;
        if status.is_success() {
            Ok(())
        } else if status.is_client_error()
            && status != http::StatusCode::REQUEST_TIMEOUT
            && status != http::StatusCode::TOO_MANY_REQUESTS
        {
            Err(Failure::Final(format!(
                "webhook {:?} answered {status}",
                m.recipient
            )))
        } else {
            Err(Failure::Retry(format!(
                "webhook {:?} answered {status}",
                m.recipient
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::signature;

    #[test]
    fn the_signature_is_hmac_sha256_of_time_dot_body() {
        // Checked against an independent computation (python3 -c "import hmac,
        // hashlib; print(hmac.new(b'0123456789abcdef', b'1700000000.{}', hashlib.sha256).hexdigest())").
        assert_eq!(
            signature(b"0123456789abcdef", 1_700_000_000, b"{}"),
            "t=1700000000,v1=e4f8e2ecae2295b2ddb2f0b5584c8275e226c0ebe9b3b819e70156bb67122e3e"
        );
    }
}
