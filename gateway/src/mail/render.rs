//! What each kind of message says: an invitation (a link to set the first password), a reset
//! link, a sign-in code, an alert. Plain text with an HTML alternative (maud, escaped); links
//! are the gateway's public URL with the token in the query.

use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::Message;
use maud::html;
use serde_json::Value;
use wardgate_identity::{Outgoing, Practice};

/// A message ready to address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    /// The link the message is about, if any (shown as a button in HTML).
    pub link: Option<(String, String)>,
}

fn field<'a>(payload: &'a Value, key: &str) -> Result<&'a str, String> {
    payload
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("the message has no {key}"))
}

/// A link to a gateway page with a token, or an error when the token is not plain hex.
fn link(public_url: &str, page: &str, token: &str) -> Result<String, String> {
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("the message's token is malformed".into());
    }
    Ok(format!("{public_url}/.wardgate/{page}?token={token}"))
}

/// The message for one outbox row.
pub fn render(
    m: &Outgoing,
    practice: Option<&Practice>,
    public_url: &str,
) -> Result<Rendered, String> {
    let p = &m.payload;
    let name = crate::alerts::one_line(
        p.get("first_name").and_then(Value::as_str).unwrap_or(""),
        100,
    );
    let hello = if name.is_empty() {
        "Hello,".to_string()
    } else {
        format!("Hello {name},")
    };
    let at = practice
        .map(|p| crate::alerts::one_line(&p.name, 100))
        .unwrap_or_else(|| "your practice".into());
    let until = p.get("expires_at").and_then(Value::as_str).unwrap_or("");
    Ok(match m.template.as_str() {
        "invite" => {
            let url = link(public_url, "activate", field(p, "token")?)?;
            Rendered {
                subject: format!("Your account at {at}"),
                text: format!(
                    "{hello}\n\nAn account was made for you at {at}. Choose your password to start:\n\n{url}\n\nThe link works once, until {until} (UTC). If you did not expect this message, ignore it; nothing happens until the link is used.\n"
                ),
                link: Some(("Choose your password".into(), url)),
            }
        }
        "reset" => {
            let url = link(public_url, "reset", field(p, "token")?)?;
            Rendered {
                subject: format!("Reset your password at {at}"),
                text: format!(
                    "{hello}\n\nSomeone (you, or an administrator) asked to reset your password at {at}. Choose a new one here:\n\n{url}\n\nThe link works once, until {until} (UTC). If you did not ask for this, ignore this message: your password stays as it is.\n"
                ),
                link: Some(("Choose a new password".into(), url)),
            }
        }
        "code" => {
            let code = field(p, "code")?;
            if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err("the message's code is malformed".into());
            }
            let minutes = p.get("minutes").and_then(Value::as_u64).unwrap_or(10);
            Rendered {
                subject: format!("Your sign-in code for {at}"),
                text: format!(
                    "{hello}\n\nYour sign-in code is {code}. It works once, for {minutes} minutes.\n\nNobody from {at} will ever ask you for it. If you are not signing in right now, someone else has your password: change it.\n"
                ),
                link: None,
            }
        }
        "alert" => {
            let rule = field(p, "rule")?;
            let message = field(p, "message")?;
            let mut lines = vec![
                format!("Wardgate raised an alert at {at}: {message}"),
                String::new(),
            ];
            for (label, key) in [
                ("Rule", "rule"),
                ("Who", "actor"),
                ("From", "client"),
                ("Request", "request_id"),
                ("Practice", "practice"),
                ("When", "at"),
            ] {
                if let Some(v) = p.get(key).and_then(Value::as_str).filter(|v| !v.is_empty()) {
                    lines.push(format!("{label}: {v}"));
                }
            }
            lines.push(String::new());
            lines.push(format!(
                "The activity log has the details: {public_url}/.wardgate/console/activity"
            ));
            Rendered {
                subject: format!("[Wardgate alert] {rule}: {message}")
                    .chars()
                    .take(200)
                    .collect(),
                text: lines.join("\n") + "\n",
                link: None,
            }
        }
        other => return Err(format!("no template named {other:?}")),
    })
}

impl Rendered {
    /// The email to `to`.
    pub fn message(&self, from: &Mailbox, to: &str) -> Result<Message, String> {
        // An address only, never a display name that routes elsewhere.
        let to = Mailbox::new(
            None,
            to.parse::<lettre::Address>()
                .map_err(|e| format!("{to:?} is not an address: {e}"))?,
        );
        let html = html! {
            p style="font:16px/1.5 system-ui,sans-serif;white-space:pre-line" { (self.text) }
            @if let Some((label, url)) = &self.link {
                p { a href=(url) style="display:inline-block;padding:.6rem 1rem;background:#0b5cad;color:#fff;border-radius:4px;text-decoration:none" { (label) } }
            }
        }
        .into_string();
        Message::builder()
            .message_id(None)
            .from(from.clone())
            .to(to)
            .subject(self.subject.clone())
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(self.text.clone()),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(html),
                    ),
            )
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn outgoing(template: &str, payload: Value) -> Outgoing {
        Outgoing {
            id: 1,
            channel: wardgate_identity::Channel::Mail,
            recipient: "a@clinic.example".into(),
            template: template.into(),
            practice: None,
            payload,
            attempts: 1,
            created_at: String::new(),
        }
    }

    #[test]
    fn links_carry_only_a_hex_token_and_names_are_escaped_in_html() {
        let r = render(
            &outgoing(
                "invite",
                json!({"token": "ab12", "first_name": "<Ann>", "expires_at": "2026-12-09"}),
            ),
            None,
            "https://portal.clinic.example",
        )
        .unwrap();
        assert!(r
            .text
            .contains("https://portal.clinic.example/.wardgate/activate?token=ab12"));
        let m = r
            .message(&"W <w@clinic.example>".parse().unwrap(), "a@clinic.example")
            .unwrap();
        let raw = String::from_utf8(m.formatted()).unwrap();
        assert!(raw.contains("&lt;Ann&gt;") && !raw.contains("<p style=\"font:16px/1.5 system-ui,sans-serif;white-space:pre-line\">Hello <Ann>"));
        for token in ["", "ab&next=//evil", "../x"] {
            let bad = outgoing("reset", json!({"token": token}));
            assert!(render(&bad, None, "https://x.example").is_err(), "{token}");
        }
        assert!(render(
            &outgoing("code", json!({"code": "12345x"})),
            None,
            "https://x"
        )
        .is_err());
        assert!(render(&outgoing("nope", json!({})), None, "https://x").is_err());
    }
}
