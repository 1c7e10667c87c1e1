//! Alerts that arrive. Two sources feed one queue: the audit log's alert rules over every
//! event (failed sign-ins per account and per address, bulk patient access, changes touching
//! administrators or a practice's security settings), and the gateway's own moments
//! (emergency access opened or refused, the bootstrap key used, a session ended because its
//! binding broke, a sign-in from a country or network never seen for that person). Each alert
//! is counted, logged, and — in one transaction — audited as `alert:<rule>` and queued in the
//! outbox by mail to the practice's administrators and the configured addresses, and to every
//! webhook; the same alert again within ten minutes (or more than 30 of a rule at a practice
//! in an hour) is counted and audited, not sent again.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use serde_json::json;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use wardgate_audit::{Alert, AlertRules, AlertSink, Threshold};
use wardgate_identity::{Actor, Channel, NewMessage};

use crate::config::AlertsSection;
use crate::state::Gateway;

/// The same alert (rule, practice, who) is sent at most once in this long, from wherever it
/// comes; the repeats are counted and audited, not sent.
const QUIET: std::time::Duration = std::time::Duration::from_secs(10 * 60);
/// And at most this many alerts of one rule at one practice are sent an hour, so that
/// failures from many addresses or against many accounts cannot flood the inboxes either.
const PER_RULE_PER_HOUR: usize = 30;

/// The queue of alerts raised and not yet handled.
pub struct Alerts {
    tx: UnboundedSender<Alert>,
    rx: Mutex<Option<UnboundedReceiver<Alert>>>,
    /// When each alert was last sent, and when each rule's alerts were.
    sent: Mutex<Sent>,
}

impl std::fmt::Debug for Alerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alerts").finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct Sent {
    alerts: std::collections::HashMap<String, std::time::Instant>,
    rules: std::collections::HashMap<String, Vec<std::time::Instant>>,
}

/// The audit log's alerts, into the queue.
struct Forward(UnboundedSender<Alert>);

impl AlertSink for Forward {
    fn deliver(&self, alert: &Alert) -> Result<(), String> {
        self.0
            .send(alert.clone())
            .map_err(|_| "the gateway's alert queue is closed".to_string())
    }
}

impl Default for Alerts {
    fn default() -> Self {
        let (tx, rx) = unbounded_channel();
        Alerts {
            tx,
            rx: Mutex::new(Some(rx)),
            sent: Mutex::default(),
        }
    }
}

impl Alerts {
    /// A sink for the audit log's alert rules.
    pub fn sink(&self) -> Box<dyn AlertSink> {
        Box::new(Forward(self.tx.clone()))
    }

    /// Raises an alert; it is handled off the request path.
    pub fn raise(&self, alert: Alert) {
        let _ = self.tx.send(alert);
    }

    fn take(&self) -> Option<UnboundedReceiver<Alert>> {
        self.rx.lock().ok()?.take()
    }

    /// Whether this alert goes out now: not sent within [`QUIET`], and its rule under
    /// [`PER_RULE_PER_HOUR`] at its practice.
    fn goes_out(&self, a: &Alert) -> bool {
        let practice = a.practice.as_deref().unwrap_or("");
        let rule = format!("{}\u{0}{practice}", a.rule);
        // Who and what: failed sign-ins for one account or address do not hide those for
        // another (a decoy silences only itself).
        let key = format!("{rule}\u{0}{}\u{0}{}", a.actor, a.message);
        let Ok(mut sent) = self.sent.lock() else {
            return true;
        };
        let now = std::time::Instant::now();
        let hour = std::time::Duration::from_secs(3600);
        sent.alerts.retain(|_, at| now.duration_since(*at) < QUIET);
        sent.rules.retain(|_, times| {
            times.retain(|at| now.duration_since(*at) < hour);
            !times.is_empty()
        });
        if sent.alerts.contains_key(&key)
            || sent
                .rules
                .get(&rule)
                .is_some_and(|t| t.len() >= PER_RULE_PER_HOUR)
        {
            return false;
        }
        sent.alerts.insert(key, now);
        sent.rules.entry(rule).or_default().push(now);
        true
    }
}

/// The audit log's rules from `[alerts]`. Break-glass is alerted by the gateway when it is
/// opened, once, not on each request made under it.
pub fn rules(config: &AlertsSection) -> AlertRules {
    let t = |s: crate::config::ThresholdSetting| {
        Some(Threshold {
            count: s.count,
            window: s.within.0,
        })
    };
    AlertRules {
        failed_logins: t(config.failed_logins),
        bulk_access: t(config.bulk_access),
        break_glass: false,
        admin_roles: vec!["System Admin".into(), "Owner".into()],
    }
}

/// An alert of the gateway's own.
pub fn alert(
    rule: &'static str,
    message: String,
    actor: &str,
    client: Option<IpAddr>,
    practice: Option<&str>,
) -> Alert {
    Alert {
        rule,
        message: one_line(&message, 500),
        actor: actor.to_string(),
        client: client.map(|c| c.to_string()),
        request_id: None,
        practice: practice.map(str::to_string),
    }
}

/// `s` on one line (control characters as spaces), at most `max` characters: what people
/// typed (a break-glass reason) cannot draw lines of its own into an alert.
pub fn one_line(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out
}

/// Handles alerts until `stop`.
pub async fn run(gw: Arc<Gateway>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let Some(mut rx) = gw.alerts().take() else {
        return;
    };
    loop {
        let alert = tokio::select! {
            a = rx.recv() => match a { Some(a) => a, None => return },
            _ = stop.changed() => return,
        };
        handle(&gw, alert).await;
    }
}

/// Counts, logs, audits and queues one alert.
async fn handle(gw: &Arc<Gateway>, alert: Alert) {
    gw.metrics()
        .alerts
        .get_or_create(&crate::metrics::ResultLabel { result: alert.rule })
        .inc();
    tracing::warn!(alert = true, kind = alert.rule, practice = ?alert.practice, "{}", alert.message);
    let send = gw.alerts().goes_out(&alert);
    let g = gw.clone();
    let queued = tokio::task::spawn_blocking(move || queue(&g, &alert, send)).await;
    match queued {
        Ok(Ok(n)) if n > 0 => gw.mailer().wake(),
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "an alert could not be recorded"),
        Err(_) => {}
    }
}

fn queue(
    gw: &Gateway,
    alert: &Alert,
    send: bool,
) -> Result<usize, wardgate_identity::IdentityError> {
    let settings = &gw.config().alerts;
    let mut to: Vec<String> = settings.email.clone();
    if settings.notify_admins {
        if let Some(p) = &alert.practice {
            to.extend(gw.store().admin_emails(p)?);
        }
    }
    to.sort();
    to.dedup();
    let mut payload = json!(alert);
    if let Some(o) = payload.as_object_mut() {
        o.insert("at".into(), json!(gw.store().now()));
    }
    let mut messages: Vec<NewMessage> = Vec::new();
    if send && gw.mailer().mails() {
        messages.extend(to.iter().map(|r| NewMessage {
            channel: Channel::Mail,
            recipient: r.clone(),
            template: "alert".into(),
            practice: alert.practice.clone(),
            payload: payload.clone(),
        }));
    }
    let hooks = if send {
        gw.mailer().webhooks().names()
    } else {
        Vec::new()
    };
    messages.extend(hooks.into_iter().map(|name| NewMessage {
        channel: Channel::Webhook,
        recipient: name,
        template: "alert".into(),
        practice: alert.practice.clone(),
        payload: payload.clone(),
    }));
    let mut detail = payload.clone();
    if let Some(o) = detail.as_object_mut() {
        o.insert("recipients".into(), json!(if send { to.len() } else { 0 }));
        if !send {
            o.insert("repeat".into(), json!(true));
        }
    }
    gw.store().queue(
        &Actor::system(),
        &format!("alert:{}", alert.rule),
        detail,
        &messages,
    )?;
    Ok(messages.len())
}

/// The places a sign-in comes from: its network (a /24 or /48) and, with a geo database, its
/// country.
pub fn places(gw: &Gateway, client: IpAddr) -> Vec<String> {
    let client = crate::config::values::canonical(client);
    let net = match client {
        IpAddr::V4(_) => ipnet::IpNet::new(client, 24),
        IpAddr::V6(_) => ipnet::IpNet::new(client, 48),
    }
    .map(|n| n.trunc().to_string())
    .unwrap_or_else(|_| client.to_string());
    let mut out = vec![format!("network {net}")];
    if let Some(c) = gw.geo().and_then(|g| g.country(client)) {
        out.push(format!("country {c}"));
    }
    out
}

/// After a sign-in: notes where it came from, and alerts when that is somewhere new for the
/// person (off the request path).
pub fn signed_in_from(gw: &Arc<Gateway>, user: &str, practice: &str, client: IpAddr) {
    if !gw.config().alerts.new_place {
        return;
    }
    let (gw, user, practice) = (gw.clone(), user.to_string(), practice.to_string());
    tokio::task::spawn_blocking(move || {
        let places = places(&gw, client);
        match gw.store().note_sign_in_places(&user, &places) {
            Ok(new) if !new.is_empty() => gw.alerts().raise(alert(
                "new_place",
                format!(
                    "{} signed in from {} for the first time",
                    gw.store()
                        .user(&user)
                        .map(|u| u.email)
                        .unwrap_or_else(|_| user.clone()),
                    new.join(" and ")
                ),
                &user,
                Some(client),
                Some(&practice),
            )),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot note where a sign-in came from"),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::{alert, one_line, Alerts};

    #[test]
    fn a_decoy_silences_only_itself_and_typed_text_stays_on_one_line() {
        let alerts = Alerts::default();
        let decoy = alert(
            "failed_logins",
            "5 failed sign-ins for account decoy@x.test".into(),
            "",
            None,
            Some("p1"),
        );
        let real = alert(
            "failed_logins",
            "5 failed sign-ins for account nurse@x.test".into(),
            "",
            None,
            Some("p1"),
        );
        assert!(alerts.goes_out(&decoy));
        assert!(!alerts.goes_out(&decoy), "the same alert again is not sent");
        assert!(
            alerts.goes_out(&real),
            "another account's failures still are"
        );
        let mut sent = 2;
        for i in 0..100 {
            let a = alert(
                "failed_logins",
                format!("account a{i}@x.test"),
                "",
                None,
                Some("p1"),
            );
            sent += usize::from(alerts.goes_out(&a));
        }
        assert_eq!(sent, 30, "at most 30 of one rule at one practice an hour");
        let other = alert(
            "failed_logins",
            "account a0@x.test".into(),
            "",
            None,
            Some("p2"),
        );
        assert!(alerts.goes_out(&other), "per practice");
        let reason = alert(
            "break_glass",
            "opened: ER\r\nBcc: evil@x.test\n\nCall https://evil".into(),
            "u-1",
            None,
            None,
        );
        assert!(!reason.message.contains('\n') && !reason.message.contains('\r'));
        assert_eq!(one_line(&"x".repeat(600), 500).chars().count(), 501);
    }
}
