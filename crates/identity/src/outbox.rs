//! The outbox: messages that must reach a person (an invitation, a reset link, a sign-in
//! code, an alert) or a receiver (an alert's webhook), queued in the same transaction as the
//! change that causes them and handed out to a delivery worker until they are delivered or
//! given up. What a message carries (a link's token, a code) is sealed with the store's key
//! while it waits and erased once it is delivered; the row stays as the record of delivery.

use chrono::Duration;
use rusqlite::{params, OptionalExtension, Transaction};
use serde_json::{json, Value};

use crate::store::{ts, Actor, Store};
use crate::{IdentityError, Result};

/// How a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// By email, to an address.
    Mail,
    /// By an HTTPS POST, to a configured webhook (named in `recipient`).
    Webhook,
}

impl Channel {
    fn as_str(self) -> &'static str {
        match self {
            Channel::Mail => "mail",
            Channel::Webhook => "webhook",
        }
    }

    fn parse(s: &str) -> Channel {
        if s == "webhook" {
            Channel::Webhook
        } else {
            Channel::Mail
        }
    }
}

/// A message to queue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    pub channel: Channel,
    /// An email address, or a webhook's name.
    pub recipient: String,
    /// What to render: `invite`, `reset`, `code`, `alert`.
    pub template: String,
    pub practice: Option<String>,
    /// The template's values (sealed at rest).
    pub payload: Value,
}

/// A message handed out for delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub id: i64,
    pub channel: Channel,
    pub recipient: String,
    pub template: String,
    pub practice: Option<String>,
    pub payload: Value,
    /// Attempts so far, this one included.
    pub attempts: u32,
    pub created_at: String,
}

/// A message as an administrator sees it: never its payload.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct MessageInfo {
    pub id: i64,
    pub channel: String,
    pub recipient: String,
    pub template: String,
    pub practice: Option<String>,
    /// `queued`, `sent` or `failed`.
    pub state: String,
    pub attempts: u32,
    pub created_at: String,
    pub next_attempt_at: Option<String>,
    pub sent_at: Option<String>,
    pub failed_at: Option<String>,
    pub last_error: Option<String>,
}

/// What the sealed payload is bound to: its row's purpose and recipient.
fn owner(template: &str, recipient: &str) -> String {
    format!("outbox:{template}:{recipient}")
}

impl Store {
    /// Queues `m` inside the transaction of the change that causes it.
    pub(crate) fn enqueue(&self, tx: &Transaction<'_>, m: &NewMessage) -> Result<i64> {
        let sealed = self.secrets.seal(
            &owner(&m.template, &m.recipient),
            m.payload.to_string().as_bytes(),
        )?;
        let now = self.now();
        tx.execute(
            "INSERT INTO outbox (channel, recipient, template, practice_id, payload, created_at, next_attempt_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            params![m.channel.as_str(), m.recipient, m.template, m.practice, sealed, now],
        )?;
        Ok(tx.last_insert_rowid())
    }

    /// Queues messages with their cause's audit record (`action`, `detail`), in one
    /// transaction: both or neither.
    pub fn queue(
        &self,
        actor: &Actor,
        action: &str,
        detail: Value,
        messages: &[NewMessage],
    ) -> Result<Vec<i64>> {
        self.tx(|tx| {
            let ids = messages
                .iter()
                .map(|m| self.enqueue(tx, m))
                .collect::<Result<Vec<_>>>()?;
            let mut after = detail.clone();
            if let Some(o) = after.as_object_mut() {
                o.insert("messages".into(), json!(ids));
            }
            self.record(actor, action, None, Some(after))?;
            Ok(ids)
        })
    }

    /// Whether messages are queued (links and codes are mailed rather than shown).
    pub fn mails(&self) -> bool {
        self.mail.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Links and codes go out by mail from now on (a mail relay or folder is configured).
    pub fn set_mails(&self, on: bool) {
        self.mail.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Hands out up to `limit` messages due now, people's own (codes, links) before alerts,
    /// each leased for `lease` (another worker, or this one after a crash, takes it up again
    /// once the lease ends). A payload that no
    /// longer opens (another store key) fails the message for good.
    pub fn due_messages(&self, limit: u32, lease: Duration) -> Result<Vec<Outgoing>> {
        let now = self.now();
        let until = ts(self.clock.now() + lease);
        let rows = self.tx(|tx| {
            let mut st = tx.prepare_cached(
                "SELECT id, channel, recipient, template, practice_id, payload, attempts, created_at FROM outbox
                 WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ?1
                 ORDER BY template = 'alert', next_attempt_at, id LIMIT ?2",
            )?;
            let rows = st
                .query_map(params![now, limit], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, u32>(6)?,
                        r.get::<_, String>(7)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            for row in &rows {
                tx.execute(
                    "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?1 WHERE id = ?2",
                    params![until, row.0],
                )?;
            }
            Ok(rows)
        })?;
        let mut out = Vec::new();
        for (id, channel, recipient, template, practice, sealed, attempts, created_at) in rows {
            let payload = self
                .secrets
                .open(&owner(&template, &recipient), &sealed)
                .and_then(|p| serde_json::from_slice(&p).ok());
            let Some(payload) = payload else {
                self.message_failed(
                    id,
                    "the message no longer opens with this store's key",
                    None,
                )?;
                continue;
            };
            out.push(Outgoing {
                id,
                channel: Channel::parse(&channel),
                recipient,
                template,
                practice,
                payload,
                attempts: attempts + 1,
                created_at,
            });
        }
        Ok(out)
    }

    /// A message reached its relay or receiver: recorded, its payload erased.
    pub fn message_sent(&self, id: i64) -> Result<()> {
        let now = self.now();
        self.tx(|tx| {
            let info = message_info(tx, id)?;
            tx.execute(
                "UPDATE outbox SET sent_at = ?1, payload = '', last_error = NULL WHERE id = ?2 AND sent_at IS NULL",
                params![now, id],
            )?;
            self.record(
                &Actor::system(),
                "outbox:delivered",
                None,
                Some(json!({"message": id, "channel": info.channel, "template": info.template, "recipient": info.recipient, "practice": info.practice, "attempts": info.attempts})),
            )
        })
    }

    /// A delivery failed: tried again at `retry_at`, or (none) given up for good, recorded
    /// and its payload erased.
    pub fn message_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<()> {
        let error: String = error.chars().take(500).collect();
        self.tx(|tx| match retry_at {
            Some(at) => {
                tx.execute(
                    "UPDATE outbox SET next_attempt_at = ?1, last_error = ?2 WHERE id = ?3",
                    params![ts(at), error, id],
                )?;
                Ok(())
            }
            None => {
                let info = message_info(tx, id)?;
                tx.execute(
                    "UPDATE outbox SET failed_at = ?1, payload = '', last_error = ?2 WHERE id = ?3",
                    params![self.now(), error, id],
                )?;
                self.record(
                    &Actor::system(),
                    "outbox:failed",
                    None,
                    Some(json!({"message": id, "channel": info.channel, "template": info.template, "recipient": info.recipient, "practice": info.practice, "attempts": info.attempts, "error": error})),
                )
            }
        })
    }

    /// The most recent messages, newest first (of one practice when given).
    pub fn messages(&self, practice: Option<&str>, limit: u32) -> Result<Vec<MessageInfo>> {
        self.tx(|tx| {
            let mut st = tx.prepare_cached(
                "SELECT id FROM outbox WHERE (?1 IS NULL OR practice_id = ?1) ORDER BY id DESC LIMIT ?2",
            )?;
            let ids = st
                .query_map(params![practice, limit], |r| r.get::<_, i64>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            ids.into_iter().map(|id| message_info(tx, id)).collect()
        })
    }

    /// Forgets delivered and given-up messages older than `age` (the audit log keeps their
    /// record); returns how many.
    pub fn forget_messages(&self, age: Duration) -> Result<usize> {
        let before = ts(self.clock.now() - age);
        self.tx(|tx| {
            Ok(tx.execute(
                "DELETE FROM outbox WHERE (sent_at IS NOT NULL AND sent_at < ?1) OR (failed_at IS NOT NULL AND failed_at < ?1)",
                params![before],
            )?)
        })
    }

    /// Messages waiting for delivery.
    pub fn queued_messages(&self) -> Result<u64> {
        self.tx(|tx| {
            Ok(tx.query_row(
                "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL",
                [],
                |r| r.get(0),
            )?)
        })
    }
}

fn message_info(tx: &Transaction<'_>, id: i64) -> Result<MessageInfo> {
    tx.query_row(
        "SELECT id, channel, recipient, template, practice_id, attempts, created_at, next_attempt_at, sent_at, failed_at, last_error FROM outbox WHERE id = ?1",
        params![id],
        |r| {
            let sent: Option<String> = r.get(8)?;
            let failed: Option<String> = r.get(9)?;
            let state = match (&sent, &failed) {
                (Some(_), _) => "sent",
                (None, Some(_)) => "failed",
                _ => "queued",
            };
            Ok(MessageInfo {
                id: r.get(0)?,
                channel: r.get(1)?,
                recipient: r.get(2)?,
                template: r.get(3)?,
                practice: r.get(4)?,
                state: state.into(),
                attempts: r.get(5)?,
                created_at: r.get(6)?,
                next_attempt_at: if state == "queued" { r.get(7)? } else { None },
                sent_at: sent,
                failed_at: failed,
                last_error: r.get(10)?,
            })
        },
    )
    .optional()?
    .ok_or(IdentityError::NotFound {
        what: "message",
        id: id.to_string(),
    })
}
