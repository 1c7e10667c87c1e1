//! The demo practice app: a small JSON API of patients, appointments, notes, charges, claims,
//! reports, settings and users, as a practice-management system would serve it. It trusts
//! the gateway in front of it and shows, in every answer, who the gateway said was asking.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http::{header, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::body::{full, Body};

#[derive(Debug, Default)]
struct Data {
    appointments: Vec<Value>,
    charges: Vec<Value>,
    security: Value,
}

fn patients() -> Value {
    json!([
        {"id": "pt-1001", "name": "Maria Lopez", "dob": "1981-04-12", "ssn": "123-45-6789",
         "insurance": {"payer": "Aetna", "member_id": "W123456789"}, "provider": "prov-1"},
        {"id": "pt-1002", "name": "James Carter", "dob": "1975-09-30", "ssn": "987-65-4321",
         "insurance": {"payer": "Medicare", "member_id": "1EG4-TE5-MK72"}, "provider": "prov-2"}
    ])
}

fn notes(provider: &str) -> Value {
    json!([
        {"id": "note-1", "provider": provider, "patient": "pt-1001", "signed": false,
         "text": "Follow-up for hypertension; BP 128/82."},
        {"id": "note-2", "provider": provider, "patient": "pt-1002", "signed": true,
         "text": "Annual physical; labs ordered."}
    ])
}

fn seen_by(req: &Request<Incoming>) -> Value {
    let h = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    json!({
        "principal": h("x-wardgate-principal"),
        "type": h("x-wardgate-principal-type"),
        "roles": h("x-wardgate-roles"),
        "practice": h("x-wardgate-practice"),
        "action": h("x-wardgate-action"),
        "request_id": h("x-wardgate-request-id"),
    })
}

async fn answer(data: Arc<Mutex<Data>>, req: Request<Incoming>) -> Response<Body> {
    let seen = seen_by(&req);
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let body: Value = if method == Method::POST || method == Method::PUT {
        match Limited::new(req.into_body(), 64 * 1024).collect().await {
            Ok(b) => serde_json::from_slice(&b.to_bytes()).unwrap_or(Value::Null),
            Err(_) => Value::Null,
        }
    } else {
        Value::Null
    };
    let Ok(mut d) = data.lock() else {
        return respond(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": "busy"}));
    };
    let (status, out) = match (method.as_str(), segs.as_slice()) {
        ("GET", ["api", "patients"]) => (StatusCode::OK, json!({"patients": patients()})),
        ("GET", ["api", "patients", id]) | ("PUT", ["api", "patients", id]) => {
            match patients()
                .as_array()
                .and_then(|l| l.iter().find(|p| p["id"] == *id).cloned())
            {
                Some(mut p) => {
                    if method == Method::PUT {
                        if let (Some(obj), Some(upd)) = (p.as_object_mut(), body.as_object()) {
                            for (k, v) in upd {
                                if k != "id" {
                                    obj.insert(k.clone(), v.clone());
                                }
                            }
                        }
                    }
                    (StatusCode::OK, json!({"patient": p}))
                }
                None => (StatusCode::NOT_FOUND, json!({"error": "no such patient"})),
            }
        }
        ("GET", ["api", "appointments"]) => listed(
            "appointments",
            json!({"id": "ap-1", "patient": "pt-1001", "at": "2026-11-24T09:30:00-05:00", "provider": "prov-1"}),
            &d.appointments,
        ),
        ("POST", ["api", "appointments"]) => {
            created(&mut d.appointments, "appointment", "ap", body)
        }
        ("GET", ["api", "providers", p, "notes"]) => (StatusCode::OK, json!({"notes": notes(p)})),
        ("GET", ["api", "providers", p, "notes", n])
        | ("GET", ["api", "providers", p, "signed-notes", n]) => {
            match notes(p)
                .as_array()
                .and_then(|l| l.iter().find(|x| x["id"] == *n).cloned())
            {
                Some(note) => (StatusCode::OK, json!({"note": note})),
                None => (StatusCode::NOT_FOUND, json!({"error": "no such note"})),
            }
        }
        ("GET", ["api", "charges"]) => listed(
            "charges",
            json!({"id": "ch-1", "patient": "pt-1002", "code": "99213", "amount": "145.00"}),
            &d.charges,
        ),
        ("POST", ["api", "charges"]) => created(&mut d.charges, "charge", "ch", body),
        ("GET", ["api", "claims"]) => (
            StatusCode::OK,
            json!({"claims": [{"id": "cl-1", "patient": "pt-1002", "status": "accepted", "payer": "Medicare"}]}),
        ),
        ("GET", ["api", "reports", "payout"]) => (
            StatusCode::OK,
            json!({"period": "2026-10", "payouts": [{"provider": "prov-1", "amount": "18250.00"}]}),
        ),
        ("GET", ["api", "reports", "analytics"]) => (
            StatusCode::OK,
            json!({"period": "2026-10", "collections_rate": "0.94", "days_in_ar": 31}),
        ),
        ("GET", ["api", "settings", "security"]) => {
            (StatusCode::OK, json!({"security": d.security}))
        }
        ("PUT", ["api", "settings", "security"]) => {
            d.security = body;
            (StatusCode::OK, json!({"security": d.security}))
        }
        ("GET", ["api", "users"]) => (
            StatusCode::OK,
            json!({"users": [{"email": "admin@demo.wardgate.test", "roles": ["System Admin"]}]}),
        ),
        _ => (StatusCode::NOT_FOUND, json!({"error": "not found"})),
    };
    let mut out = out;
    if let Some(obj) = out.as_object_mut() {
        obj.insert("seen_by_app".into(), seen);
    }
    respond(status, out)
}

fn respond(status: StatusCode, body: Value) -> Response<Body> {
    let mut res = Response::new(full(body.to_string()));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    res
}

/// Starts the app on `listener`; it runs until the runtime ends.
pub fn spawn(listener: TcpListener) -> SocketAddr {
    let addr = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    let data = Arc::new(Mutex::new(Data {
        security: json!({"require_mfa": false, "session_idle_minutes": 15}),
        ..Data::default()
    }));
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let data = data.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let data = data.clone();
                    async move { Ok::<_, Infallible>(answer(data, req).await) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    addr
}

/// A collection: the seeded record, then those created since.
fn listed(name: &str, seed: Value, added: &[Value]) -> (StatusCode, Value) {
    let all: Vec<Value> = std::iter::once(seed).chain(added.iter().cloned()).collect();
    (StatusCode::OK, one(name, Value::Array(all)))
}

/// Records what was posted under a new id (`<prefix>-100`, `-101`, ...).
fn created(into: &mut Vec<Value>, name: &str, prefix: &str, body: Value) -> (StatusCode, Value) {
    let record = json!({"id": format!("{prefix}-{}", 100 + into.len()), "request": body});
    into.push(record.clone());
    (StatusCode::CREATED, one(name, record))
}

fn one(name: &str, value: Value) -> Value {
    Value::Object(serde_json::Map::from_iter([(name.to_string(), value)]))
}
