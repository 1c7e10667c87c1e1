//! Route matching: method + path to an action and the resource attributes the route names.

use crate::ir::{BindSource, BindTarget, Policy, Segment};
use crate::manifest::{Manifest, RouteInfo};
use crate::request::Resource;

/// A matched route and its path parameters.
#[derive(Debug, Clone)]
pub struct RouteMatch<'p> {
    pub route: &'p RouteInfo,
    pub params: Vec<(String, String)>,
}

/// Where a route may read resource attributes from, supplied by the gateway.
pub trait RequestParts {
    fn query(&self, name: &str) -> Option<String>;
    fn header(&self, lower_name: &str) -> Option<String>;
    /// The parsed JSON body, only asked for when a route binds from it.
    fn json(&self) -> Option<&serde_json::Value>;
}

impl Policy {
    /// See [`Manifest::match_route`].
    pub fn match_route(&self, method: &str, path: &str) -> Option<RouteMatch<'_>> {
        self.manifest.match_route(method, path)
    }
}

impl Manifest {
    /// The most specific route for a request (literal segments beat parameters); `HEAD` falls
    /// back to `GET` routes.
    pub fn match_route(&self, method: &str, path: &str) -> Option<RouteMatch<'_>> {
        let method = method.to_ascii_uppercase();
        let path = path.split(['?', '#']).next().unwrap_or("");
        let parts: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
        let parts: &[&str] = if parts == [""] { &[] } else { &parts };
        let find = |m: &str| {
            self.routes
                .iter()
                .filter(|r| r.method == m)
                .filter_map(|r| matches(r, parts).map(|params| (r, params)))
                .min_by_key(|(r, _)| specificity(r))
                .map(|(route, params)| RouteMatch { route, params })
        };
        find(&method).or_else(|| if method == "HEAD" { find("GET") } else { None })
    }
}

/// Lower is more specific: a parameter where the other has a literal sorts later.
fn specificity(r: &RouteInfo) -> Vec<bool> {
    r.segments
        .iter()
        .map(|s| matches!(s, Segment::Param(_)))
        .collect()
}

fn matches(route: &RouteInfo, parts: &[&str]) -> Option<Vec<(String, String)>> {
    if route.segments.len() != parts.len() {
        return None;
    }
    let mut params = Vec::new();
    for (seg, part) in route.segments.iter().zip(parts) {
        let decoded = percent_decode(part)?;
        match seg {
            Segment::Literal(l) if *l == decoded => {}
            Segment::Literal(_) => return None,
            Segment::Param(name) if !decoded.is_empty() => params.push((name.clone(), decoded)),
            Segment::Param(_) => return None,
        }
    }
    Some(params)
}

/// Decodes `%XX` escapes; `None` for malformed escapes or invalid UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl RouteMatch<'_> {
    /// Whether the route binds a resource attribute from the JSON body (so the gateway must
    /// read the body before deciding).
    pub fn reads_json(&self) -> bool {
        self.route
            .binds
            .iter()
            .any(|b| matches!(b.source, BindSource::Json(_)))
    }

    /// Builds the request's resource from the route's bindings. Values that are absent stay
    /// absent: the policy treats them as unknown.
    pub fn resource(&self, manifest: &Manifest, parts: &dyn RequestParts) -> Resource {
        let mut res = Resource::default();
        for b in &self.route.binds {
            let value: Option<serde_json::Value> = match &b.source {
                BindSource::Path(p) => self
                    .params
                    .iter()
                    .find(|(n, _)| n == p)
                    .map(|(_, v)| serde_json::Value::String(v.clone())),
                BindSource::Query(q) => parts.query(q).map(serde_json::Value::String),
                BindSource::Header(h) => parts.header(h).map(serde_json::Value::String),
                BindSource::Json(ptr) => parts.json().and_then(|j| j.pointer(ptr)).cloned(),
            };
            let Some(value) = value else { continue };
            let as_string = || match &value {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            };
            match &b.target {
                BindTarget::Practice => res.practice = as_string(),
                BindTarget::Location => res.location = as_string(),
                BindTarget::Owner => res.owner = as_string(),
                BindTarget::Patient => res.patient = as_string(),
                BindTarget::Attr(a) => {
                    if let Some(attr) = manifest.attributes.get(*a as usize) {
                        res.attributes.insert(attr.name.clone(), value);
                    }
                }
            }
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile_str;

    struct Parts(serde_json::Value);

    impl RequestParts for Parts {
        fn query(&self, name: &str) -> Option<String> {
            (name == "practice").then(|| "p-1".to_string())
        }
        fn header(&self, lower_name: &str) -> Option<String> {
            (lower_name == "x-location").then(|| "l-2".to_string())
        }
        fn json(&self) -> Option<&serde_json::Value> {
            Some(&self.0)
        }
    }

    const SRC: &str = r#"
policy "r" version "1"
feature patients verbs read, list
feature charges verbs approve
attribute amount decimal
route GET /api/patients/{patient} -> patients:read patient = path patient
route GET /api/patients/search -> patients:list
route GET / -> patients:list
route POST /api/charges/{charge}/approve -> charges:approve amount = json "/amount", practice = query practice, location = header "X-Location"
"#;

    #[test]
    fn literal_segments_win_and_params_decode() {
        let c = compile_str("r.policy", SRC).unwrap();
        let p = &c.policy;
        let action = |m: &str, path: &str| {
            p.match_route(m, path)
                .and_then(|r| p.action(r.route.action).map(|a| a.name.clone()))
        };
        assert_eq!(
            action("GET", "/api/patients/search").as_deref(),
            Some("patients:list")
        );
        assert_eq!(
            action("GET", "/api/patients/pt-9").as_deref(),
            Some("patients:read")
        );
        assert_eq!(
            action("get", "/api/patients/pt-9?x=1").as_deref(),
            Some("patients:read")
        );
        assert_eq!(
            action("HEAD", "/api/patients/pt-9").as_deref(),
            Some("patients:read")
        );
        assert_eq!(action("GET", "/").as_deref(), Some("patients:list"));
        assert_eq!(action("POST", "/api/patients/pt-9"), None);
        assert_eq!(action("GET", "/api/patients/pt-9/extra"), None);
        assert_eq!(action("GET", "/api/patients/"), None);
        assert_eq!(action("GET", "/api/patients/%zz"), None);
        assert_eq!(action("GET", "relative"), None);
        let m = p.match_route("GET", "/api/patients/pt%209").unwrap();
        assert_eq!(m.params, vec![("patient".to_string(), "pt 9".to_string())]);
    }

    #[test]
    fn binds_read_path_query_header_and_json() {
        let c = compile_str("r.policy", SRC).unwrap();
        let p = &c.policy;
        let m = p.match_route("POST", "/api/charges/c-1/approve").unwrap();
        let body: serde_json::Value = serde_json::from_str(r#"{"amount": 499.99}"#).unwrap();
        let res = m.resource(&p.manifest, &Parts(body));
        assert_eq!(res.practice.as_deref(), Some("p-1"));
        assert_eq!(res.location.as_deref(), Some("l-2"));
        assert_eq!(
            res.attributes
                .get("amount")
                .map(|v| v.to_string())
                .as_deref(),
            Some("499.99")
        );
        let res = m.resource(&p.manifest, &Parts(serde_json::json!({})));
        assert!(res.attributes.is_empty(), "absent stays absent");
    }
}
