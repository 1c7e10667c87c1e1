//! Alerts over the event stream: repeated failed sign-ins, bulk access to patient records,
//! any break-glass use, any change touching administrators. Delivered to sinks (a log line, a
//! webhook POST) by a thread of their own so a slow webhook never holds up the log.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use serde::Serialize;

use crate::event::{Event, EventKind};

/// `count` events within `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold {
    pub count: u32,
    pub window: Duration,
}

/// Which alerts to raise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRules {
    /// Failed sign-ins for one account, or from one address.
    pub failed_logins: Option<Threshold>,
    /// More than `count` distinct patients opened by one principal.
    pub bulk_access: Option<Threshold>,
    pub break_glass: bool,
    /// Role names whose grant, removal or holders' changes are alerted.
    pub admin_roles: Vec<String>,
}

impl Default for AlertRules {
    fn default() -> Self {
        AlertRules {
            failed_logins: Some(Threshold {
                count: 5,
                window: Duration::from_secs(15 * 60),
            }),
            bulk_access: Some(Threshold {
                count: 50,
                window: Duration::from_secs(10 * 60),
            }),
            break_glass: true,
            admin_roles: vec!["System Admin".into(), "Owner".into()],
        }
    }
}

/// One alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    /// `failed_logins`, `bulk_access`, `break_glass`, `admin_change`.
    pub rule: &'static str,
    pub message: String,
    pub actor: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The practice it happened at, when known (its administrators hear of it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub practice: Option<String>,
}

/// The rules with their sliding windows.
#[derive(Debug, Default)]
pub struct AlertEngine {
    rules: AlertRules,
    failures: HashMap<String, VecDeque<i64>>,
    access: HashMap<String, VecDeque<(i64, String)>>,
}

/// Whether `s` can be an email address (short, one `@`, no spaces or controls).
fn looks_like_email(s: &str) -> bool {
    s.len() <= 254
        && s.matches('@').count() == 1
        && !s.starts_with('@')
        && !s.ends_with('@')
        && s.chars().all(|c| c.is_ascii_graphic())
}

fn expire<T>(q: &mut VecDeque<(i64, T)>, now_ms: i64, window: Duration) {
    let horizon = now_ms.saturating_sub(i64::try_from(window.as_millis()).unwrap_or(i64::MAX));
    while q.front().is_some_and(|(t, _)| *t < horizon) {
        q.pop_front();
    }
}

impl AlertEngine {
    pub fn new(rules: AlertRules) -> Self {
        AlertEngine {
            rules,
            ..AlertEngine::default()
        }
    }

    /// How many accounts and addresses have failures counted now.
    pub fn tracked(&self) -> usize {
        self.failures.len()
    }

    /// Looks at one event, at `now_ms` (Unix milliseconds); returns the alerts it raises.
    pub fn observe(&mut self, e: &Event, now_ms: i64) -> Vec<Alert> {
        let mut out = Vec::new();
        // The alerts' own records, and deliveries, raise nothing.
        if e.action.starts_with("alert:") || e.action.starts_with("outbox:") {
            return out;
        }
        let alert = |rule: &'static str, message: String| Alert {
            rule,
            message,
            actor: e.actor.id.clone(),
            client: e.client.clone(),
            request_id: e.request_id.clone(),
            practice: e.resource.practice.clone(),
        };
        let denied = e
            .decision
            .as_ref()
            .is_some_and(|d| d.verdict == crate::Verdict::Deny);
        let failed = denied || e.action.ends_with(":failure") || e.action.ends_with("-failure");
        if let (EventKind::Login, true, Some(t)) = (e.kind, failed, self.rules.failed_logins) {
            if let Some(message) = self.failed_login(e, now_ms, t) {
                out.push(alert("failed_logins", message));
            }
        }
        if let (EventKind::Decision, false, Some(t), Some(patient)) = (
            e.kind,
            denied,
            self.rules.bulk_access,
            e.resource.patient.as_ref(),
        ) {
            let q = self.access.entry(e.actor.id.clone()).or_default();
            q.push_back((now_ms, patient.clone()));
            expire(q, now_ms, t.window);
            let distinct: HashSet<&String> = q.iter().map(|(_, p)| p).collect();
            if distinct.len() > t.count as usize {
                out.push(alert(
                    "bulk_access",
                    format!(
                        "{} opened {} different patients within {} s",
                        e.actor.id,
                        distinct.len(),
                        t.window.as_secs()
                    ),
                ));
                q.clear();
            }
        }
        let emergency = e.obligations.iter().any(|o| {
            o.get("type").and_then(|t| t.as_str()) == Some("alert")
                || (o.get("type").and_then(|t| t.as_str()) == Some("audit")
                    && o.get("level").and_then(|l| l.as_str()) == Some("emergency"))
        });
        if self.rules.break_glass && emergency && !denied {
            let reason = e
                .obligations
                .iter()
                .find_map(|o| o.get("reason").and_then(|r| r.as_str()))
                .unwrap_or("no reason given");
            out.push(alert(
                "break_glass",
                format!(
                    "{} used emergency access for {}: {reason}",
                    e.actor.id, e.action
                ),
            ));
        }
        if e.kind == EventKind::Change && !self.rules.admin_roles.is_empty() {
            let mentions = |v: &Option<serde_json::Value>| {
                v.as_ref().is_some_and(|v| {
                    let text = v.to_string();
                    self.rules
                        .admin_roles
                        .iter()
                        .any(|r| text.contains(&format!("\"{r}\"")))
                })
            };
            if e.action == "practice:security" {
                out.push(alert(
                    "admin_change",
                    format!(
                        "{} changed the security settings of {}",
                        e.actor.id,
                        e.resource.practice.as_deref().unwrap_or("a practice")
                    ),
                ));
            } else if mentions(&e.before) || mentions(&e.after) {
                out.push(alert(
                    "admin_change",
                    format!("{} changed an administrator ({})", e.actor.id, e.action),
                ));
            }
        }
        out
    }

    /// Counts a failed sign-in per account and per address; the message of the alert when
    /// one of them (or both: one alert) reaches the threshold.
    fn failed_login(&mut self, e: &Event, now_ms: i64, t: Threshold) -> Option<String> {
        // An unknown account is known by the address it was tried with, when that is one
        // (what someone typed is not put into an alert as it is).
        let account = if e.actor.id.is_empty() {
            e.detail
                .as_ref()
                .and_then(|d| d.get("email"))
                .and_then(|m| m.as_str())
                .filter(|m| looks_like_email(m))
                .unwrap_or("(an unknown address)")
                .to_string()
        } else {
            e.actor.id.clone()
        };
        let mut keys = vec![format!("account {account}")];
        keys.extend(e.client.as_ref().map(|c| format!("address {c}")));
        let mut tripped = Vec::new();
        for key in keys {
            let q = self.failures.entry(key.clone()).or_default();
            q.push_back(now_ms);
            let horizon =
                now_ms.saturating_sub(i64::try_from(t.window.as_millis()).unwrap_or(i64::MAX));
            while q.front().is_some_and(|at| *at < horizon) {
                q.pop_front();
            }
            if q.len() >= t.count as usize {
                tripped.push(format!("{} failed sign-ins for {key}", q.len()));
                q.clear();
            }
        }
        // Keys whose failures are all past the window are forgotten, so a stream of made-up
        // accounts holds no memory.
        if self.failures.len() > 10_000 {
            let horizon =
                now_ms.saturating_sub(i64::try_from(t.window.as_millis()).unwrap_or(i64::MAX));
            self.failures
                .retain(|_, q| q.back().is_some_and(|at| *at >= horizon));
        }
        self.failures.retain(|_, q| !q.is_empty());
        (!tripped.is_empty())
            .then(|| format!("{} within {} s", tripped.join(" and "), t.window.as_secs()))
    }
}

/// Where alerts go.
pub trait AlertSink: Send {
    fn deliver(&self, alert: &Alert) -> Result<(), String>;
}

/// Writes each alert as one JSON line on standard error.
#[derive(Debug, Default)]
pub struct LogSink;

impl AlertSink for LogSink {
    fn deliver(&self, alert: &Alert) -> Result<(), String> {
        let line = serde_json::to_string(alert).map_err(|e| e.to_string())?;
        eprintln!("wardgate-alert {line}");
        Ok(())
    }
}

/// POSTs each alert as JSON to a URL (plain HTTP here; HTTPS arrives with the gateway's TLS).
pub struct WebhookSink {
    url: String,
    agent: ureq::Agent,
}

impl std::fmt::Debug for WebhookSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSink")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl WebhookSink {
    pub fn new(url: impl Into<String>) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(5)))
            .build()
            .into();
        WebhookSink {
            url: url.into(),
            agent,
        }
    }
}

impl AlertSink for WebhookSink {
    fn deliver(&self, alert: &Alert) -> Result<(), String> {
        let body = serde_json::to_string(alert).map_err(|e| e.to_string())?;
        let mut last = String::new();
        for attempt in 0..3u64 {
            match self
                .agent
                .post(&self.url)
                .header("content-type", "application/json")
                .send(body.as_str())
            {
                Ok(_) => return Ok(()),
                Err(e) => last = e.to_string(),
            }
            std::thread::sleep(Duration::from_millis(100 * (attempt + 1)));
        }
        Err(format!("webhook {}: {last}", self.url))
    }
}
