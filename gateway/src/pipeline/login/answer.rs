//! What a gateway page answers: a page for a browser or JSON for an API client, with the
//! headers every page of the gateway carries and the cookies to set.

use http::{header, Response, StatusCode};
use serde_json::{json, Value};

use crate::body::{full, Body};

/// An answer: a page or JSON, with cookies to set.
pub(super) struct Answer {
    status: StatusCode,
    pub(super) json: bool,
    html: String,
    body: Value,
    location: Option<String>,
    cookies: Vec<String>,
}

impl Answer {
    pub(super) fn new(json: bool) -> Answer {
        Answer {
            status: StatusCode::OK,
            json,
            html: String::new(),
            body: json!({}),
            location: None,
            cookies: Vec::new(),
        }
    }

    pub(super) fn page(mut self, status: StatusCode, html: String, body: Value) -> Answer {
        self.status = status;
        self.html = html;
        self.body = body;
        self
    }

    /// Where a browser goes next (303); JSON clients get `{"next": ...}`.
    pub(super) fn go(mut self, to: &str, body: Value) -> Answer {
        self.status = StatusCode::SEE_OTHER;
        self.location = Some(to.to_string());
        let mut body = body;
        if let Some(o) = body.as_object_mut() {
            o.insert("next".into(), to.into());
        }
        self.body = body;
        self
    }

    pub(super) fn cookie(mut self, c: String) -> Answer {
        self.cookies.push(c);
        self
    }

    pub(super) fn response(self) -> Response<Body> {
        let (status, ctype, body) = if self.json {
            let status = if self.status == StatusCode::SEE_OTHER {
                StatusCode::OK
            } else {
                self.status
            };
            (status, "application/json", self.body.to_string())
        } else {
            (self.status, "text/html; charset=utf-8", self.html)
        };
        let mut res = Response::new(full(body));
        *res.status_mut() = status;
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static(ctype),
        );
        h.insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            header::HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"),
        );
        h.insert("x-frame-options", header::HeaderValue::from_static("DENY"));
        // `same-origin`, not `no-referrer`: with `no-referrer` a browser sends `Origin: null`
        // on its form posts, which the cross-site check must refuse.
        h.insert(
            "referrer-policy",
            header::HeaderValue::from_static("same-origin"),
        );
        if let (Some(to), false) = (&self.location, self.json) {
            if let Ok(v) = header::HeaderValue::from_str(to) {
                h.insert(header::LOCATION, v);
            }
        }
        for c in self.cookies {
            if let Ok(v) = header::HeaderValue::from_str(&c) {
                h.append(header::SET_COOKIE, v);
            }
        }
        res
    }
}
