//! Delivering the outbox: a background worker takes the messages the store queued (with the
//! change that caused them), renders each (links point at `[mail] public_url`), hands it to
//! the SMTP relay (STARTTLS or TLS with rustls, credentials), the mail folder, or an alert
//! webhook (HTTPS, HMAC-signed), and records the delivery, or retries with backoff until
//! `max_attempts`. A relay that is down loses nothing: the message waits in the store, across
//! restarts.

mod render;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use wardgate_identity::{Channel, Outgoing};

use crate::config::{Config, MailSecurity};
use crate::state::Gateway;

pub use webhook::{signature, Webhooks};

/// Messages taken per round.
const BATCH: u32 = 8;
/// The longest one delivery may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// How long messages taken for delivery are this worker's: longer than a whole round can
/// take, so no other worker sends them again meanwhile.
const LEASE_SECONDS: i64 = 2 * BATCH as i64 * 30;

/// Where mail goes.
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// One file per message, its owner's only (links and codes are in it).
    Dir(std::path::PathBuf),
}

/// The outbox's delivery side, built from `[mail]` and `[alerts]`.
pub struct Mailer {
    transport: Option<Transport>,
    from: Option<Mailbox>,
    public_url: String,
    max_attempts: u32,
    /// The first wait before trying again.
    retry: Duration,
    webhooks: Webhooks,
    /// Wakes the worker when something was queued.
    wake: tokio::sync::Notify,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("mail", &self.transport.is_some())
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

/// The relay's password: `password_file`, else `WARDGATE_MAIL_PASSWORD`.
fn password(m: &crate::config::MailSection) -> Result<Option<String>, String> {
    if let Some(path) = &m.password_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("[mail] password_file {}: {e}", path.display()))?;
        return Ok(Some(text.trim_end_matches(['\r', '\n']).to_string()));
    }
    Ok(std::env::var("WARDGATE_MAIL_PASSWORD").ok())
}

impl Mailer {
    pub fn new(config: &Config) -> Result<Mailer, String> {
        let webhooks = Webhooks::new(&config.alerts.webhook)?;
        let Some(m) = &config.mail else {
            return Ok(Mailer {
                transport: None,
                from: None,
                public_url: String::new(),
                max_attempts: 12,
                retry: Duration::from_secs(10),
                webhooks,
                wake: tokio::sync::Notify::new(),
            });
        };
        let from: Mailbox = m.from.parse().map_err(|e| format!("[mail] from: {e}"))?;
        let transport = match (&m.relay, &m.dir) {
            (_, Some(dir)) => {
                wardgate_audit::private::create_dir(dir)
                    .map_err(|e| format!("[mail] dir {}: {e}", dir.display()))?;
                Transport::Dir(dir.clone())
            }
            (Some(relay), None) => Transport::Smtp(smtp(m, relay)?),
            (None, None) => return Err("[mail] needs a relay or a dir".into()),
        };
        Ok(Mailer {
            transport: Some(transport),
            from: Some(from),
            public_url: m.public_url.0.clone(),
            max_attempts: m.max_attempts,
            retry: m.retry.0,
            webhooks,
            wake: tokio::sync::Notify::new(),
        })
    }

    /// Whether mail goes anywhere.
    pub fn mails(&self) -> bool {
        self.transport.is_some()
    }

    pub fn webhooks(&self) -> &Webhooks {
        &self.webhooks
    }

    /// Something was queued: deliver it now rather than at the next round.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Delivers one message; an error says why (and whether trying again can help).
    async fn deliver(&self, gw: &Gateway, m: &Outgoing) -> Result<(), Failure> {
        match m.channel {
            Channel::Webhook => self.webhooks.post(m).await,
            Channel::Mail => {
                if expired(m, gw) {
                    return Err(Failure::Final(
                        "it expired before it could be delivered".into(),
                    ));
                }
                let (Some(transport), Some(from)) = (&self.transport, &self.from) else {
                    return Err(Failure::Retry("no mail relay is configured".into()));
                };
                let practice = m.practice.as_deref().and_then(|p| gw.practice(p));
                let rendered = render::render(m, practice.as_ref(), &self.public_url)
                    .map_err(Failure::Final)?;
                let message = rendered
                    .message(from, &m.recipient)
                    .map_err(Failure::Final)?;
                let sent = match transport {
                    Transport::Smtp(t) => t.send(message).await.map(drop).map_err(|e| {
                        if e.is_permanent() {
                            Failure::Final(format!("the relay refused it: {e}"))
                        } else {
                            Failure::Retry(e.to_string())
                        }
                    }),
                    Transport::Dir(dir) => {
                        // Named by the message, so a retry writes the same file again.
                        let path = dir.join(format!("{:08}-{}.eml", m.id, m.template));
                        let bytes = message.formatted();
                        tokio::task::spawn_blocking(move || {
                            wardgate_audit::private::write_file(&path, &bytes)
                        })
                        .await
                        .map_err(|e| Failure::Retry(e.to_string()))?
                        .map_err(|e| Failure::Retry(e.to_string()))
                    }
                };
                sent
            }
        }
    }
}

/// A link or code whose `expires_at` has passed is not worth sending.
fn expired(m: &Outgoing, gw: &Gateway) -> bool {
    m.payload
        .get("expires_at")
        .and_then(|e| e.as_str())
        .and_then(|e| chrono::DateTime::parse_from_rfc3339(e).ok())
        .is_some_and(|e| e <= gw.clock().utc())
}

/// Builds the relay's transport.
fn smtp(
    m: &crate::config::MailSection,
    relay: &str,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let tls_params = || -> Result<TlsParameters, String> {
        let mut b = TlsParameters::builder(relay.to_string());
        if let Some(ca) = &m.ca {
            let pem = std::fs::read(ca).map_err(|e| format!("[mail] ca {}: {e}", ca.display()))?;
            let cert = Certificate::from_pem(&pem)
                .map_err(|e| format!("[mail] ca {}: {e}", ca.display()))?;
            b = b
                .certificate_store(lettre::transport::smtp::client::CertificateStore::None)
                .add_root_certificate(cert);
        }
        b.build_rustls().map_err(|e| format!("[mail] TLS: {e}"))
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(relay)
        .port(m.port())
        .timeout(Some(Duration::from_secs(20)));
    builder = match m.security {
        MailSecurity::Starttls => builder.tls(Tls::Required(tls_params()?)),
        MailSecurity::Tls => builder.tls(Tls::Wrapper(tls_params()?)),
        MailSecurity::None => builder.tls(Tls::None),
    };
    if let Some(user) = &m.username {
        let pass = password(m)?.ok_or_else(|| {
            "[mail] username needs a password (password_file or WARDGATE_MAIL_PASSWORD)".to_string()
        })?;
        builder = builder.credentials(Credentials::new(user.clone(), pass));
    }
    Ok(builder.build())
}

/// Why a delivery failed.
#[derive(Debug)]
pub enum Failure {
    /// Trying again later may work (the relay is down, a timeout).
    Retry(String),
    /// It never will (the relay refused the address, nothing to render).
    Final(String),
}

/// The wait after `attempts` failed: `first` doubling, at most 4 hours.
pub fn backoff(first: Duration, attempts: u32) -> Duration {
    let shift = attempts.saturating_sub(1).min(20);
    first
        .saturating_mul(1u32 << shift)
        .min(Duration::from_secs(4 * 3600))
}

/// The worker: a round when woken or every second, until `stop`.
pub async fn run(gw: Arc<Gateway>, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = gw.mailer().wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => return,
        }
        // A round delivers what is due; a full batch means more may be.
        while round(&gw).await >= BATCH as usize {}
    }
}

/// Takes what is due and delivers it; returns how many were taken.
async fn round(gw: &Arc<Gateway>) -> usize {
    let store = gw.store().clone();
    let taken = tokio::task::spawn_blocking(move || {
        store.due_messages(BATCH, chrono::Duration::seconds(LEASE_SECONDS))
    })
    .await;
    let due = match taken {
        Ok(Ok(due)) => due,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot read the outbox");
            return 0;
        }
        Err(_) => return 0,
    };
    let n = due.len();
    for m in due {
        let outcome = match tokio::time::timeout(SEND_TIMEOUT, gw.mailer().deliver(gw, &m)).await {
            Ok(r) => r,
            Err(_) => Err(Failure::Retry("the delivery timed out".into())),
        };
        record(gw, &m, outcome).await;
    }
    n
}

/// Records how a delivery went, in the store and the metrics.
async fn record(gw: &Arc<Gateway>, m: &Outgoing, outcome: Result<(), Failure>) {
    let channel = match m.channel {
        Channel::Mail => "mail",
        Channel::Webhook => "webhook",
    };
    let max = gw.mailer().max_attempts;
    let (result, id, store) = (&outcome, m.id, gw.store().clone());
    let label = match result {
        Ok(()) => "sent",
        Err(Failure::Retry(_)) if m.attempts < max => "retry",
        Err(_) => "failed",
    };
    gw.metrics().delivered(channel, label);
    let retry_at = gw.clock().utc()
        + chrono::Duration::from_std(backoff(gw.mailer().retry, m.attempts))
            .unwrap_or(chrono::Duration::hours(1));
    let outcome_text = match &outcome {
        Ok(()) => None,
        Err(Failure::Retry(e)) | Err(Failure::Final(e)) => Some(e.clone()),
    };
    if let Some(e) = &outcome_text {
        tracing::warn!(message = id, channel, attempts = m.attempts, result = label, error = %e, "delivery failed");
    }
    let written = tokio::task::spawn_blocking(move || match (label, outcome_text) {
        ("sent", _) => store.message_sent(id),
        ("retry", e) => store.message_failed(id, &e.unwrap_or_default(), Some(retry_at)),
        (_, e) => store.message_failed(id, &e.unwrap_or_default(), None),
    })
    .await;
    if let Ok(Err(e)) = written {
        tracing::error!(message = id, error = %e, "a delivery could not be recorded");
    }
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_from_the_first_wait_to_four_hours() {
        let ten = Duration::from_secs(10);
        assert_eq!(backoff(ten, 1), Duration::from_secs(10));
        assert_eq!(backoff(ten, 2), Duration::from_secs(20));
        assert_eq!(backoff(ten, 5), Duration::from_secs(160));
        assert_eq!(backoff(ten, 12), Duration::from_secs(4 * 3600));
        assert_eq!(backoff(ten, u32::MAX), Duration::from_secs(4 * 3600));
        assert_eq!(
            backoff(Duration::from_millis(200), 3),
            Duration::from_millis(800)
        );
    }
}
