//! The manifest as a WIT value, laid out into the module's data at compile time.

use wardgate_policy::ir::{BindSource, BindTarget, RouteBind, Type};
use wardgate_policy::manifest::{
    ActionInfo, AttributeInfo, BreakGlassInfo, RedactionInfo, RoleInfo, RouteInfo, RuleInfo,
};
use wardgate_policy::Manifest;

use crate::abi::Val;

fn s(v: &str) -> Val {
    Val::Str(v.to_string())
}

fn strings(v: &[String]) -> Val {
    Val::List(v.iter().map(|x| s(x)).collect())
}

fn opt_u32(v: Option<u32>) -> Val {
    Val::Option(v.map(|x| Box::new(Val::U32(x))))
}

fn opt_str(v: Option<&str>) -> Val {
    Val::Option(v.map(|x| Box::new(s(x))))
}

pub fn value(m: &Manifest) -> Val {
    Val::Record(vec![
        ("name", s(&m.name)),
        ("version", s(&m.version)),
        ("content-hash", s(&m.content_hash)),
        ("timezone", opt_str(m.timezone.as_deref())),
        ("features", strings(&m.features)),
        ("actions", list(&m.actions, action)),
        ("modules", strings(&m.modules)),
        ("roles", list(&m.roles, role)),
        ("attributes", list(&m.attributes, attribute)),
        ("relations", strings(&m.relations)),
        ("flags", strings(&m.flags)),
        ("rules", list(&m.rules, rule)),
        ("redactions", list(&m.redactions, redaction)),
        ("break-glass", list(&m.break_glass, break_glass)),
        ("routes", list(&m.routes, route)),
    ])
}

fn list<T>(items: &[T], record: fn(&T) -> Val) -> Val {
    Val::List(items.iter().map(record).collect())
}

fn action(a: &ActionInfo) -> Val {
    Val::Record(vec![
        ("name", s(&a.name)),
        ("feature", Val::U32(a.feature)),
        ("module", opt_u32(a.module)),
    ])
}

fn role(r: &RoleInfo) -> Val {
    Val::Record(vec![("name", s(&r.name)), ("line", Val::U32(r.line))])
}

fn attribute(a: &AttributeInfo) -> Val {
    let case = match a.ty {
        Type::Decimal => 0,
        Type::String => 1,
        Type::Bool | Type::Duration => 2,
    };
    Val::Record(vec![("name", s(&a.name)), ("type", Val::Case(case, None))])
}

fn rule(r: &RuleInfo) -> Val {
    Val::Record(vec![
        ("text", s(&r.text)),
        ("line", Val::U32(r.line)),
        ("role", opt_u32(r.role)),
        ("deny", Val::Bool(r.deny)),
        ("require", Val::Bool(r.require)),
        ("condition", opt_str(r.condition.as_deref())),
    ])
}

fn redaction(r: &RedactionInfo) -> Val {
    Val::Record(vec![
        ("field", s(&r.field)),
        ("feature", Val::U32(r.feature)),
        ("line", Val::U32(r.line)),
    ])
}

fn break_glass(b: &BreakGlassInfo) -> Val {
    Val::Record(vec![
        ("name", s(&b.name)),
        ("max-seconds", Val::U64(b.max_seconds)),
        ("alert", Val::Bool(b.alert)),
        ("line", Val::U32(b.line)),
    ])
}

fn route(r: &RouteInfo) -> Val {
    Val::Record(vec![
        ("method", s(&r.method)),
        ("pattern", s(&r.pattern)),
        ("action", Val::U32(r.action)),
        ("binds", list(&r.binds, bind)),
        ("line", Val::U32(r.line)),
    ])
}

fn bind(b: &RouteBind) -> Val {
    let target = match &b.target {
        BindTarget::Practice => Val::Case(0, None),
        BindTarget::Location => Val::Case(1, None),
        BindTarget::Owner => Val::Case(2, None),
        BindTarget::Patient => Val::Case(3, None),
        BindTarget::Attr(a) => Val::Case(4, Some(Box::new(Val::U32(*a)))),
    };
    let source = match &b.source {
        BindSource::Path(x) => Val::Case(0, Some(Box::new(s(x)))),
        BindSource::Query(x) => Val::Case(1, Some(Box::new(s(x)))),
        BindSource::Header(x) => Val::Case(2, Some(Box::new(s(x)))),
        BindSource::Json(x) => Val::Case(3, Some(Box::new(s(x)))),
    };
    Val::Record(vec![("target", target), ("source", source)])
}
