//! Policy test files (`*.tests.toml`): requests with the decisions they must get, like `opa test`.
//!
//! ```toml
//! policy = "kareo.policy"          # relative to this file
//! [defaults]                       # merged into every case's request
//! principal.id = "u-1"
//! context.time = "2026-11-23T10:15:00-05:00"
//!
//! [[case]]
//! name = "a Biller cannot view notes"
//! principal.roles = ["Biller"]
//! action = "notes:view"
//! expect = "deny"
//! reason = "no_grant"              # optional: a reason code that must be present
//! obligations = [{ type = "redact", field = "patients.ssn" }]  # optional: exactly these
//! ```

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::engine::Engine;
use crate::request::{Decision, Obligation, Request, Verdict};

/// Keys of a case that are about the expectation, not the request.
const META: &[&str] = &["name", "expect", "reason", "obligations"];

#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub request: Value,
    pub expect: Verdict,
    pub reason: Option<String>,
    pub obligations: Option<Vec<Obligation>>,
}

#[derive(Debug, Clone)]
pub struct Suite {
    pub path: PathBuf,
    /// The policy under test, resolved against the suite's folder.
    pub policy: PathBuf,
    pub cases: Vec<Case>,
}

#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

fn invalid(path: &Path, message: impl Into<String>) -> SuiteError {
    SuiteError::Invalid {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// Deep-merges `over` into `base`: tables merge, anything else replaces.
pub fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

impl Suite {
    pub fn parse(path: &Path, text: &str) -> Result<Suite, SuiteError> {
        let doc: toml::Value = toml::from_str(text).map_err(|e| invalid(path, e.to_string()))?;
        let doc = serde_json::to_value(doc).map_err(|e| invalid(path, e.to_string()))?;
        let policy = doc
            .get("policy")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(path, "missing `policy = \"FILE\"`"))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let defaults = doc
            .get("defaults")
            .cloned()
            .unwrap_or(Value::Object(Default::default()));
        let mut cases = Vec::new();
        let raw = doc
            .get("case")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if raw.is_empty() {
            return Err(invalid(path, "no `[[case]]` entries"));
        }
        for (i, c) in raw.into_iter().enumerate() {
            let Value::Object(mut map) = c else {
                return Err(invalid(path, format!("case {} is not a table", i + 1)));
            };
            let name = map
                .get("name")
                .and_then(Value::as_str)
                .map_or_else(|| format!("case {}", i + 1), str::to_string);
            let expect = match map.get("expect").and_then(Value::as_str) {
                Some("allow") => Verdict::Allow,
                Some("deny") => Verdict::Deny,
                _ => {
                    return Err(invalid(
                        path,
                        format!("{name}: `expect` must be \"allow\" or \"deny\""),
                    ))
                }
            };
            let reason = map
                .get("reason")
                .and_then(Value::as_str)
                .map(str::to_string);
            let obligations = match map.get("obligations") {
                Some(o) => Some(
                    serde_json::from_value(o.clone())
                        .map_err(|e| invalid(path, format!("{name}: obligations: {e}")))?,
                ),
                None => None,
            };
            for k in META {
                map.remove(*k);
            }
            let mut request = defaults.clone();
            merge(&mut request, Value::Object(map));
            cases.push(Case {
                name,
                request,
                expect,
                reason,
                obligations,
            });
        }
        Ok(Suite {
            path: path.to_path_buf(),
            policy: dir.join(policy),
            cases,
        })
    }
}

/// The result of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub name: String,
    pub passed: bool,
    /// What went wrong, for failures.
    pub failure: Option<String>,
    pub decision: Decision,
}

impl Case {
    /// Runs the case on any engine: the reference evaluator or a compiled module.
    pub fn run(&self, engine: &dyn Engine) -> CaseResult {
        let decision = match serde_json::from_value::<Request>(self.request.clone()) {
            Ok(req) => engine.decide(&req),
            Err(e) => {
                return CaseResult {
                    name: self.name.clone(),
                    passed: false,
                    failure: Some(format!("the request does not read: {e}")),
                    decision: Decision::deny(crate::request::Reason::new(
                        crate::request::ReasonCode::InvalidRequest,
                        e.to_string(),
                    )),
                }
            }
        };
        let mut problems = Vec::new();
        if decision.decision != self.expect {
            problems.push(
                format!("expected {:?}, got {:?}", self.expect, decision.decision).to_lowercase(),
            );
        }
        if let Some(code) = &self.reason {
            if !decision.reasons.iter().any(|r| r.code == code.as_str()) {
                let got: Vec<&str> = decision.reasons.iter().map(|r| r.code.as_str()).collect();
                problems.push(format!(
                    "expected a `{code}` reason, got [{}]",
                    got.join(", ")
                ));
            }
        }
        if let Some(obligations) = &self.obligations {
            if *obligations != decision.obligations {
                problems.push(format!(
                    "expected obligations {}, got {}",
                    serde_json::to_string(obligations).unwrap_or_default(),
                    serde_json::to_string(&decision.obligations).unwrap_or_default()
                ));
            }
        }
        CaseResult {
            name: self.name.clone(),
            passed: problems.is_empty(),
            failure: (!problems.is_empty()).then(|| problems.join("; ")),
            decision,
        }
    }
}
