//! The vocabulary the IR and the manifest share: attribute types, route segments and how a
//! route binds parts of a request to the resource. Both describe a policy with these; neither
//! owns them.

/// Attributes are numbered in declaration order.
pub type AttrId = u32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Type {
    Decimal,
    String,
    Bool,
    Duration,
}

impl Type {
    pub fn as_str(self) -> &'static str {
        match self {
            Type::Decimal => "decimal",
            Type::String => "string",
            Type::Bool => "bool",
            Type::Duration => "duration",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    Param(String),
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct RouteBind {
    pub target: BindTarget,
    pub source: BindSource,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BindTarget {
    Practice,
    Location,
    Owner,
    Patient,
    Attr(AttrId),
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BindSource {
    Path(String),
    Query(String),
    Header(String),
    /// A JSON pointer into the request body.
    Json(String),
}

/// Splits `/api/patients/{patient}` into segments; `None` names the first bad segment.
pub fn segments(pattern: &str) -> Result<Vec<Segment>, String> {
    let rest = pattern
        .strip_prefix('/')
        .ok_or_else(|| pattern.to_string())?;
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    rest.split('/')
        .map(|seg| {
            if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                let ok =
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                ok.then(|| Segment::Param(name.to_string()))
                    .ok_or_else(|| seg.to_string())
            } else {
                let ok = !seg.is_empty() && !seg.contains(['{', '}', '?', '#', '*']);
                ok.then(|| Segment::Literal(seg.to_string()))
                    .ok_or_else(|| seg.to_string())
            }
        })
        .collect()
}
