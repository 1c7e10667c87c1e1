//! Conditions: `when` expressions typed and lowered, with the literal grammars they use
//! (durations, networks, days, hours).

use std::str::FromStr;

use ipnet::IpNet;
use rust_decimal::Decimal;

use super::*;
use crate::ast::{CmpOp, Cond, Ident, Operand};
use crate::diag::{Code, Diagnostic};

impl<'a> Checker<'a> {
    pub(super) fn cond(&mut self, c: &Cond) -> Option<Expr> {
        let text = self.text(c.span());
        let test = |kind| {
            Some(Expr::Test(Box::new(Test {
                kind,
                text: text.clone(),
            })))
        };
        match c {
            Cond::And(a, b) => {
                let (a, b) = (self.cond(a), self.cond(b));
                let mut v = Vec::new();
                for e in [a?, b?] {
                    match e {
                        Expr::All(inner) => v.extend(inner),
                        e => v.push(e),
                    }
                }
                Some(Expr::All(v))
            }
            Cond::Or(a, b) => {
                let (a, b) = (self.cond(a), self.cond(b));
                let mut v = Vec::new();
                for e in [a?, b?] {
                    match e {
                        Expr::Any(inner) => v.extend(inner),
                        e => v.push(e),
                    }
                }
                Some(Expr::Any(v))
            }
            Cond::Not(inner, _) => Some(Expr::Not(Box::new(self.cond(inner)?))),
            Cond::Bool(b, _) => test(TestKind::Const(*b)),
            Cond::Own(_) => test(TestKind::Cmp {
                op: CmpOp::Eq,
                lhs: Term::Owner,
                rhs: Term::PrincipalId,
            }),
            Cond::Mfa(_) => test(TestKind::Mfa),
            Cond::Flag(f, _) => test(TestKind::Flag(self.flag(f)?)),
            Cond::Relation(r, _) => test(TestKind::Relation(self.relation(r)?)),
            Cond::Role(roles, _) => {
                let ids: Vec<RoleId> = roles.iter().filter_map(|r| self.role_ref(r)).collect();
                (ids.len() == roles.len()).then_some(())?;
                test(TestKind::Role(ids))
            }
            Cond::From { nets, .. } => test(TestKind::Network(self.networks(nets)?)),
            Cond::During { windows, .. } => test(TestKind::During(self.windows(windows)?)),
            Cond::Cmp { op, lhs, rhs } => test(self.compare(op, lhs, rhs)?),
            Cond::In { lhs, list, .. } => test(self.member(lhs, list)?),
        }
    }

    /// The index of a flag, declared by its first use (at most 64).
    fn flag(&mut self, f: &Ident) -> Option<u32> {
        let i = match self.policy.flags.iter().position(|x| *x == f.name) {
            Some(i) => i,
            None if self.policy.flags.len() >= crate::manifest::MAX_SET => {
                self.error(
                    Diagnostic::error(Code::TooMany, f.span, "more than 64 different flags")
                        .label("one flag too many")
                        .hint("modules, relations and flags are limited to 64 each"),
                );
                return None;
            }
            None => {
                self.policy.flags.push(f.name.clone());
                self.policy.flags.len() - 1
            }
        };
        Some(idx(i))
    }

    /// The index of a declared relation.
    fn relation(&mut self, r: &Ident) -> Option<u32> {
        match self.policy.relations.iter().position(|x| *x == r.name) {
            Some(i) => Some(idx(i)),
            None => {
                let mut d = Diagnostic::error(
                    Code::UnknownRelation,
                    r.span,
                    format!("unknown relation `{}`", r.name),
                )
                .label("not a declared relation");
                d = match suggest(&r.name, self.policy.relations.iter().map(String::as_str)) {
                    Some(s) => d.hint(format!("did you mean `{s}`?")),
                    None => d.hint(format!("declare it: `relation {}`", r.name)),
                };
                self.error(d);
                None
            }
        }
    }

    /// Every network of a `from` list, or `None` with each bad one reported.
    fn networks(&mut self, nets: &[Ident]) -> Option<Vec<IpNet>> {
        let mut parsed = Vec::new();
        for n in nets {
            match parse_net(&n.name) {
                Some(net) => parsed.push(net),
                None => self.error(
                    Diagnostic::error(
                        Code::BadNetwork,
                        n.span,
                        format!("`{}` is not a network", n.name),
                    )
                    .label("expected an IPv4 or IPv6 address or CIDR block")
                    .hint("e.g. `10.20.0.0/16`, `192.168.1.7` or `2001:db8::/32`"),
                ),
            }
        }
        (parsed.len() == nets.len()).then_some(parsed)
    }

    /// `lhs in [list]`, every item of the type of `lhs`.
    fn member(&mut self, lhs: &Operand, list: &[Operand]) -> Option<TestKind> {
        let (l, lt) = self.term(lhs)?;
        let mut items = Vec::new();
        for item in list {
            let (t, ty) = self.term(item)?;
            if ty != lt {
                self.error(
                    Diagnostic::error(
                        Code::TypeMismatch,
                        item.span(),
                        format!(
                            "list item is {} but {} is {}",
                            ty.as_str(),
                            self.text(lhs.span()),
                            lt.as_str()
                        ),
                    )
                    .label("wrong type"),
                );
                return None;
            }
            items.push(t);
        }
        Some(TestKind::In {
            lhs: l,
            list: items,
        })
    }

    pub(super) fn term(&mut self, op: &Operand) -> Option<(Term, Type)> {
        match op {
            Operand::Str(s) => Some((Term::Str(s.name.clone()), Type::String)),
            Operand::Literal(l) => {
                let w = l.name.as_str();
                if w == "true" || w == "false" {
                    return Some((Term::Bool(w == "true"), Type::Bool));
                }
                if let Some(s) = parse_duration(w) {
                    return Some((Term::Dur(s), Type::Duration));
                }
                match Decimal::from_str_exact(w) {
                    Ok(d) => Some((Term::Dec(d), Type::Decimal)),
                    Err(_) => {
                        self.error(
                            Diagnostic::error(Code::BadLiteral, l.span, format!("`{w}` is not a number or duration"))
                                .label("cannot read this value")
                                .hint("numbers are exact decimals (`500.00`); durations carry a unit (`30s`, `15m`, `4h`, `1d`)"),
                        );
                        None
                    }
                }
            }
            Operand::Name(n) => {
                let t = match n.name.as_str() {
                    "principal" | "principal.id" => (Term::PrincipalId, Type::String),
                    "principal.type" => (Term::PrincipalType, Type::String),
                    "resource.practice" => (Term::Practice, Type::String),
                    "resource.location" => (Term::Location, Type::String),
                    "resource.owner" => (Term::Owner, Type::String),
                    "resource.patient" => (Term::Patient, Type::String),
                    "context.country" | "country" => (Term::Country, Type::String),
                    "auth_age" | "principal.auth_age" => (Term::AuthAge, Type::Duration),
                    other => {
                        let attr = other.strip_prefix("resource.").unwrap_or(other);
                        match self.policy.attributes.iter().position(|a| a.name == attr) {
                            Some(i) if other.starts_with("resource.") => {
                                let ty =
                                    self.policy.attributes.get(i).map_or(Type::String, |a| a.ty);
                                (Term::Attr(idx(i)), ty)
                            }
                            _ => {
                                let mut names: Vec<String> = [
                                    "principal",
                                    "principal.type",
                                    "resource.practice",
                                    "resource.location",
                                    "resource.owner",
                                    "resource.patient",
                                    "country",
                                    "auth_age",
                                ]
                                .iter()
                                .map(|s| s.to_string())
                                .collect();
                                names.extend(
                                    self.policy
                                        .attributes
                                        .iter()
                                        .map(|a| format!("resource.{}", a.name)),
                                );
                                let mut d = Diagnostic::error(
                                    Code::UnknownAttribute,
                                    n.span,
                                    format!("unknown name `{other}`"),
                                )
                                .label("not a known value");
                                d = match suggest(other, names.iter().map(String::as_str)) {
                                    Some(s) => d.hint(format!("did you mean `{s}`?")),
                                    None if other.starts_with("resource.") => {
                                        d.hint(format!("declare it: `attribute {attr} decimal` (or `string`, `bool`)"))
                                    }
                                    None => d.hint(format!("known names: {}", names.join(", "))),
                                };
                                self.error(d);
                                return None;
                            }
                        }
                    }
                };
                Some(t)
            }
        }
    }

    /// `during DAYS HH:MM-HH:MM, ...`: every window read, or none.
    fn windows(&mut self, windows: &[(Ident, Ident)]) -> Option<Vec<Window>> {
        let mut parsed = Vec::new();
        for (days, hours) in windows {
            let d = parse_days(&days.name);
            let h = parse_hours(&hours.name);
            if d.is_none() {
                self.error(
                    Diagnostic::error(
                        Code::BadTimeWindow,
                        days.span,
                        format!("`{}` is not a set of days", days.name),
                    )
                    .label("expected days")
                    .hint(
                        "days are `mon`..`sun`, ranges `mon-fri`, lists `mon+wed+fri`, or `daily`",
                    ),
                );
            }
            match h {
                Some((s, e)) if s == e => self.error(
                    Diagnostic::error(Code::BadTimeWindow, hours.span, "empty time window")
                        .label("start and end are the same")
                        .hint("use `00:00-24:00` for the whole day"),
                ),
                None => self.error(
                    Diagnostic::error(
                        Code::BadTimeWindow,
                        hours.span,
                        format!("`{}` is not a time range", hours.name),
                    )
                    .label("expected `HH:MM-HH:MM`")
                    .hint("24-hour clock in the practice's local time, e.g. `07:00-19:00`"),
                ),
                _ => {}
            }
            if let (Some(days), Some((start, end))) = (d, h) {
                if start != end {
                    parsed.push(Window { days, start, end });
                }
            }
        }
        (parsed.len() == windows.len()).then_some(parsed)
    }

    /// `lhs OP rhs`: the same type on both sides, and an order only for numbers and durations.
    fn compare(&mut self, op: &CmpOp, lhs: &Operand, rhs: &Operand) -> Option<TestKind> {
        let (l, lt) = self.term(lhs)?;
        let (r, rt) = self.term(rhs)?;
        if lt != rt {
            self.error(
                Diagnostic::error(
                    Code::TypeMismatch,
                    lhs.span().to(rhs.span()),
                    format!(
                        "cannot compare {} ({}) with {} ({})",
                        self.text(lhs.span()),
                        lt.as_str(),
                        self.text(rhs.span()),
                        rt.as_str()
                    ),
                )
                .label(format!("{} vs {}", lt.as_str(), rt.as_str()))
                .hint(type_hint(lt, rt)),
            );
            return None;
        }
        if !matches!(op, CmpOp::Eq | CmpOp::Ne) && !matches!(lt, Type::Decimal | Type::Duration) {
            self.error(
                Diagnostic::error(
                    Code::TypeMismatch,
                    lhs.span().to(rhs.span()),
                    format!(
                        "`{}` needs numbers or durations, not {}",
                        op.as_str(),
                        lt.as_str()
                    ),
                )
                .label("not ordered")
                .hint("strings and booleans compare only with `==`, `!=` or `in`"),
            );
            return None;
        }
        Some(TestKind::Cmp {
            op: *op,
            lhs: l,
            rhs: r,
        })
    }
}

pub(super) fn type_hint(l: Type, r: Type) -> String {
    match (l, r) {
        (Type::Decimal, Type::String) | (Type::String, Type::Decimal) => {
            "numbers are written without quotes (`500.00`); declare the attribute as `decimal` to compare amounts".into()
        }
        (Type::Duration, _) | (_, Type::Duration) => "auth_age compares with durations such as `15m`".into(),
        _ => "both sides of a comparison must have the same type".into(),
    }
}

pub(super) fn bad_duration(ident: &Ident) -> Diagnostic {
    Diagnostic::error(
        Code::BadLiteral,
        ident.span,
        format!("`{}` is not a duration", ident.name),
    )
    .label("expected a duration")
    .hint("durations carry a unit: `30s`, `15m`, `4h`, `1d` (at most 100 years)")
}

/// `30s`, `15m`, `4h`, `1d` to seconds.
/// A duration of the policy language in whole seconds (the one grammar of
/// [`crate::duration`]).
pub fn parse_duration(s: &str) -> Option<u64> {
    crate::duration::parse(s)
        .ok()
        .filter(|d| d.subsec_nanos() == 0)
        .map(|d| d.as_secs())
}

pub(super) fn parse_net(s: &str) -> Option<IpNet> {
    IpNet::from_str(s)
        .ok()
        .map(|n| n.trunc())
        .or_else(|| std::net::IpAddr::from_str(s).ok().map(IpNet::from))
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// `mon-fri`, `sat`, `mon+wed+fri`, `daily` to a bit set (bit 0 = Monday).
pub fn parse_days(s: &str) -> Option<u8> {
    if s == "daily" {
        return Some(0x7f);
    }
    let day = |d: &str| DAYS.iter().position(|x| *x == d);
    let mut mask = 0u8;
    for part in s.split('+') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day(a)?, day(b)?);
                let mut d = a;
                loop {
                    mask |= 1 << d;
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => mask |= 1 << day(part)?,
        }
    }
    Some(mask)
}

/// `07:00-19:00` to minutes after midnight; `24:00` is allowed as an end.
pub fn parse_hours(s: &str) -> Option<(u16, u16)> {
    let (a, b) = s.split_once('-')?;
    let hm = |t: &str| -> Option<u16> {
        let (h, m) = t.split_once(':')?;
        if h.len() != 2 || m.len() != 2 {
            return None;
        }
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
    };
    let (start, end) = (hm(a)?, hm(b)?);
    (start < 24 * 60).then_some((start, end))
}
