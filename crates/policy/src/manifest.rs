//! The manifest: the symbols a policy module exports so that a host can intern requests to
//! indices, render reasons in words and build its route table. The same data whether the
//! module was compiled from a `.policy` file or written by hand against `wit/policy.wit`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::symbols::{segments, BindSource, BindTarget, RouteBind, Segment, Type};

/// Modules, relations and flags travel as 64-bit sets.
pub const MAX_SET: usize = 64;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    pub content_hash: String,
    pub timezone: Option<String>,
    pub features: Vec<String>,
    pub actions: Vec<ActionInfo>,
    pub modules: Vec<String>,
    pub roles: Vec<RoleInfo>,
    pub attributes: Vec<AttributeInfo>,
    pub relations: Vec<String>,
    pub flags: Vec<String>,
    pub rules: Vec<RuleInfo>,
    pub redactions: Vec<RedactionInfo>,
    pub break_glass: Vec<BreakGlassInfo>,
    pub routes: Vec<RouteInfo>,
    /// Built by `validate`, from the public fields.
    #[serde(skip)]
    pub(crate) index: Index,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Index {
    actions: HashMap<String, u32>,
    roles: HashMap<String, u32>,
    modules: HashMap<String, u32>,
    relations: HashMap<String, u32>,
    flags: HashMap<String, u32>,
    timezone: Option<chrono_tz::Tz>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionInfo {
    pub name: String,
    pub feature: u32,
    pub module: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleInfo {
    pub name: String,
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeInfo {
    pub name: String,
    pub ty: Type,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleInfo {
    pub text: String,
    pub line: u32,
    pub role: Option<u32>,
    pub deny: bool,
    pub require: bool,
    pub condition: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedactionInfo {
    pub field: String,
    pub feature: u32,
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakGlassInfo {
    pub name: String,
    pub max_seconds: u64,
    pub alert: bool,
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteInfo {
    pub method: String,
    pub pattern: String,
    pub action: u32,
    pub binds: Vec<RouteBind>,
    pub line: u32,
    #[serde(skip)]
    pub segments: Vec<Segment>,
}

/// A manifest that refers to things it does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("{what} {index} refers to {target} {value}, but there are only {len}")]
    OutOfRange {
        what: &'static str,
        index: usize,
        target: &'static str,
        value: u32,
        len: usize,
    },
    #[error("{what} `{name}` appears twice")]
    Duplicate { what: &'static str, name: String },
    #[error("unknown time zone `{0}`")]
    Timezone(String),
    #[error("route {0}: {1}")]
    Route(String, String),
    #[error("action `{0}` is not written `feature:verb`")]
    ActionName(String),
    #[error("{count} {what}; at most 64 are supported")]
    TooMany { what: &'static str, count: usize },
}

fn check_range(
    what: &'static str,
    index: usize,
    target: &'static str,
    value: u32,
    len: usize,
) -> Result<(), ManifestError> {
    if (value as usize) < len {
        Ok(())
    } else {
        Err(ManifestError::OutOfRange {
            what,
            index,
            target,
            value,
            len,
        })
    }
}

fn unique<'a>(
    what: &'static str,
    names: impl Iterator<Item = &'a str>,
) -> Result<HashMap<String, u32>, ManifestError> {
    let mut map = HashMap::new();
    for (i, n) in names.enumerate() {
        let i = u32::try_from(i).unwrap_or(u32::MAX);
        if map.insert(n.to_string(), i).is_some() {
            return Err(ManifestError::Duplicate {
                what,
                name: n.to_string(),
            });
        }
    }
    Ok(map)
}

impl Manifest {
    /// Checks every cross-reference and builds the lookup tables. A host must refuse a module
    /// whose manifest fails here.
    pub fn validate(mut self) -> Result<Manifest, ManifestError> {
        for (what, count) in [
            ("modules", self.modules.len()),
            ("relations", self.relations.len()),
            ("flags", self.flags.len()),
        ] {
            if count > MAX_SET {
                return Err(ManifestError::TooMany { what, count });
            }
        }
        for (i, a) in self.actions.iter().enumerate() {
            check_range("action", i, "feature", a.feature, self.features.len())?;
            if let Some(m) = a.module {
                check_range("action", i, "module", m, self.modules.len())?;
            }
            if !a.name.contains(':') {
                return Err(ManifestError::ActionName(a.name.clone()));
            }
        }
        for (i, r) in self.rules.iter().enumerate() {
            if let Some(role) = r.role {
                check_range("rule", i, "role", role, self.roles.len())?;
            }
        }
        for (i, r) in self.redactions.iter().enumerate() {
            check_range("redaction", i, "feature", r.feature, self.features.len())?;
        }
        for (i, a) in self.attributes.iter().enumerate() {
            if a.ty == Type::Duration {
                return Err(ManifestError::OutOfRange {
                    what: "attribute",
                    index: i,
                    target: "type",
                    value: 3,
                    len: 3,
                });
            }
        }
        for (i, r) in self.routes.iter_mut().enumerate() {
            check_range("route", i, "action", r.action, self.actions.len())?;
            r.segments = segments(&r.pattern).map_err(|bad| {
                ManifestError::Route(r.pattern.clone(), format!("bad segment `{bad}`"))
            })?;
            for b in &r.binds {
                if let BindTarget::Attr(a) = b.target {
                    check_range("route", i, "attribute", a, self.attributes.len())?;
                }
                if let BindSource::Path(p) = &b.source {
                    if !r
                        .segments
                        .iter()
                        .any(|s| matches!(s, Segment::Param(x) if x == p))
                    {
                        return Err(ManifestError::Route(
                            r.pattern.clone(),
                            format!("no parameter `{p}`"),
                        ));
                    }
                }
            }
        }
        let timezone = match &self.timezone {
            Some(tz) => Some(
                tz.parse::<chrono_tz::Tz>()
                    .map_err(|_| ManifestError::Timezone(tz.clone()))?,
            ),
            None => None,
        };
        self.index = Index {
            actions: unique("action", self.actions.iter().map(|a| a.name.as_str()))?,
            roles: unique("role", self.roles.iter().map(|r| r.name.as_str()))?,
            modules: unique("module", self.modules.iter().map(String::as_str))?,
            relations: unique("relation", self.relations.iter().map(String::as_str))?,
            flags: unique("flag", self.flags.iter().map(String::as_str))?,
            timezone,
        };
        unique("feature", self.features.iter().map(String::as_str))?;
        unique("attribute", self.attributes.iter().map(|a| a.name.as_str()))?;
        Ok(self)
    }

    pub fn action_id(&self, name: &str) -> Option<u32> {
        self.index.actions.get(name).copied()
    }

    pub fn role_id(&self, name: &str) -> Option<u32> {
        self.index.roles.get(name).copied()
    }

    pub fn module_id(&self, name: &str) -> Option<u32> {
        self.index.modules.get(name).copied()
    }

    pub fn relation_id(&self, name: &str) -> Option<u32> {
        self.index.relations.get(name).copied()
    }

    pub fn flag_id(&self, name: &str) -> Option<u32> {
        self.index.flags.get(name).copied()
    }

    pub fn tz(&self) -> Option<chrono_tz::Tz> {
        self.index.timezone
    }

    pub fn action_name(&self, id: u32) -> &str {
        self.actions
            .get(id as usize)
            .map_or("?", |a| a.name.as_str())
    }

    pub fn role_name(&self, id: u32) -> &str {
        self.roles.get(id as usize).map_or("?", |r| r.name.as_str())
    }

    /// Pretty JSON, for `wardgate policy manifest` and debugging.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}
