//! The console's calls of the API: JSON in, JSON or the API's error out.

use http::{Method, StatusCode};
use serde_json::Value;

use super::Console;

/// The most of an API answer the console reads.
const MAX_ANSWER_BYTES: usize = 16 << 20;

/// Why an API call did nothing, as the API said it.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    /// Field -> what is wrong with it, every one at once.
    pub problems: Vec<(String, String)>,
}

impl Failure {
    pub fn from_answer(status: StatusCode, body: &Value) -> Failure {
        let s = |k: &str| {
            body.get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let problems = body
            .get("problems")
            .and_then(Value::as_array)
            .map(|ps| {
                ps.iter()
                    .map(|p| {
                        let f = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("");
                        (f("field").to_string(), f("message").to_string())
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut message = s("message");
        if message.is_empty() {
            message = format!("the gateway answered {status}");
        }
        Failure {
            status,
            code: s("error"),
            message,
            problems,
        }
    }

    /// A problem the console finds itself in one field of a form.
    pub fn field(field: &str, message: &str) -> Failure {
        Failure {
            status: StatusCode::BAD_REQUEST,
            code: "invalid".into(),
            message: message.to_string(),
            problems: vec![(field.to_string(), message.to_string())],
        }
    }

    /// What is wrong with one field, if anything.
    pub fn problem(&self, field: &str) -> Option<&str> {
        self.problems
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }

    /// The policy (or the store) said no.
    pub fn refused(&self) -> bool {
        self.status == StatusCode::FORBIDDEN
    }
}

impl Console<'_> {
    /// Calls the API and reads its JSON answer.
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, Failure> {
        let bytes = body.map(|b| b.to_string().into_bytes());
        let res = self.api.call(method, path, bytes).await;
        let status = res.status();
        let read = crate::body::read_all(res.into_body(), MAX_ANSWER_BYTES).await;
        let body: Value = read
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        if status.is_success() {
            Ok(body)
        } else {
            Err(Failure::from_answer(status, &body))
        }
    }

    pub async fn get(&self, path: &str) -> Result<Value, Failure> {
        self.json(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, Failure> {
        self.json(Method::POST, path, Some(body)).await
    }

    /// A typed answer: `key` of the JSON answer.
    pub async fn list<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        key: &str,
    ) -> Result<(Vec<T>, Option<String>), Failure> {
        let v = self.get(path).await?;
        let items = v
            .get(key)
            .cloned()
            .and_then(|items| serde_json::from_value(items).ok())
            .unwrap_or_default();
        let next = v
            .get("next_cursor")
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok((items, next))
    }
}

/// What may stay unescaped in a path segment (RFC 3986's unreserved characters).
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A path segment, percent-encoded.
pub(crate) fn seg(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}

/// A query string from the pairs that have a value.
pub(crate) fn query(pairs: &[(&str, Option<&str>)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            q.append_pair(k, v);
        }
    }
    let q = q.finish();
    if q.is_empty() {
        q
    } else {
        format!("?{q}")
    }
}
