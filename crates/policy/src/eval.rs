//! The reference evaluator: the definition of what a policy means. Any other engine (the
//! compiled Wasm component) must agree with it on decision, reasons and obligations.
//!
//! Conditions are three-valued: a test on a value the request does not carry is *unknown*.
//! An unknown allow grants nothing; an unknown deny denies (fail closed).

use std::cmp::Ordering;

use rust_decimal::Decimal;

use crate::ir::*;
use crate::raw::{RawDecision, RawObligation, RawReason, ReasonCode};
use crate::request::{AttrValue, Decision, Prepared, Reason, Request};

/// Three-valued truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tri {
    True,
    False,
    Unknown,
}

impl Tri {
    fn not(self) -> Tri {
        match self {
            Tri::True => Tri::False,
            Tri::False => Tri::True,
            Tri::Unknown => Tri::Unknown,
        }
    }

    fn of(b: bool) -> Tri {
        if b {
            Tri::True
        } else {
            Tri::False
        }
    }

    fn word(self) -> &'static str {
        match self {
            Tri::True => "true",
            Tri::False => "false",
            Tri::Unknown => "unknown",
        }
    }
}

/// Notes for `explain`; evaluation without a trace records nothing.
type Trace<'t> = Option<&'t mut Vec<String>>;

fn note(trace: &mut Trace<'_>, f: impl FnOnce() -> String) {
    if let Some(t) = trace.as_deref_mut() {
        t.push(f());
    }
}

#[derive(Debug, Clone, Copy)]
enum Val<'a> {
    Missing,
    Str(&'a str),
    Dec(Decimal),
    Bool(bool),
    Dur(u64),
}

impl Val<'_> {
    fn show(&self) -> String {
        match self {
            Val::Missing => "missing".into(),
            Val::Str(s) => format!("\"{s}\""),
            Val::Dec(d) => d.to_string(),
            Val::Bool(b) => b.to_string(),
            Val::Dur(s) => format!("{s}s"),
        }
    }
}

/// What the rules said about one request, before scopes and obligations.
struct Outcome {
    /// Deny rules that fired (true or unknown).
    denies: Vec<RuleId>,
    /// (role, rule) pairs that granted; role is `None` for a break-glass direct grant.
    grants: Vec<(Option<RoleId>, RuleRef)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum RuleRef {
    Rule(RuleId),
    BreakGlass(usize),
}

impl Policy {
    /// Decides a request. A request that cannot be read is denied.
    pub fn decide(&self, req: &Request) -> Decision {
        match self.prepare(req) {
            Ok(p) => self.decide_prepared(&p),
            Err(e) => Decision::deny(Reason::new(ReasonCode::InvalidRequest, e.to_string())),
        }
    }

    pub fn decide_prepared(&self, p: &Prepared) -> Decision {
        self.manifest.render(&self.decide_raw(p), p)
    }

    /// The decision as codes and indices, before rendering.
    pub fn decide_raw(&self, p: &Prepared) -> RawDecision {
        self.run(p, &mut None)
    }

    /// Decides and narrates, for `wardgate policy explain`. The first line is the verdict.
    pub fn explain(&self, req: &Request) -> (Decision, Vec<String>) {
        let p = match self.prepare(req) {
            Ok(p) => p,
            Err(e) => {
                let d = Decision::deny(Reason::new(ReasonCode::InvalidRequest, e.to_string()));
                return (d, vec![format!("denied: the request cannot be read: {e}")]);
            }
        };
        let mut lines = Vec::new();
        let raw = self.run(&p, &mut Some(&mut lines));
        let d = self.manifest.render(&raw, &p);
        if d.is_allow() {
            let by: Vec<String> = d.reasons.iter().map(|r| r.message.clone()).collect();
            lines.push(format!(
                "allowed: {} {}",
                self.manifest.action_name(p.action.unwrap_or(0)),
                by.join("; ")
            ));
        }
        // The verdict line was written last; put it first.
        if let Some(verdict) = lines.pop() {
            lines.insert(0, verdict);
        }
        (d, lines)
    }

    fn role_name(&self, r: RoleId) -> &str {
        self.role(r).map_or("?", |r| r.name.as_str())
    }

    fn run(&self, p: &Prepared, trace: &mut Trace<'_>) -> RawDecision {
        let aid = match self.admit(p, trace) {
            Ok(aid) => aid,
            Err(refused) => return refused,
        };
        let action = self.action(aid).map_or("?", |a| a.name.as_str());
        let open = self.open_break_glass(p, trace);
        let outcome = self.outcome(p, aid, &open, trace);
        if !outcome.denies.is_empty() || outcome.grants.is_empty() {
            return self.denied(p, aid, &open, &outcome, trace);
        }
        if !self.scope_ok(p, aid) {
            note(trace, || match &p.scopes {
                None => format!("denied: a service principal without scopes may not {action}"),
                Some(s) => format!(
                    "denied: the key's scopes ({}) do not cover {action}",
                    list_or_none(s)
                ),
            });
            return RawDecision::deny(RawReason::code(ReasonCode::Scope));
        }

        let reasons = outcome
            .grants
            .iter()
            .map(|(role, r)| match *r {
                RuleRef::Rule(id) => RawReason {
                    rule: Some(id),
                    role: *role,
                    ..RawReason::code(ReasonCode::Granted)
                },
                RuleRef::BreakGlass(i) => RawReason {
                    break_glass: u32::try_from(i).ok(),
                    ..RawReason::code(ReasonCode::BreakGlass)
                },
            })
            .collect();
        let obligations = self.obligations(p, aid, &open, trace);
        RawDecision {
            allow: true,
            reasons,
            obligations,
        }
    }

    /// The action must be one of the policy's, of a module the practice subscribes to.
    fn admit(&self, p: &Prepared, trace: &mut Trace<'_>) -> Result<ActionId, RawDecision> {
        let Some(aid) = p.action else {
            let hint =
                crate::check::suggest(&p.action_name, self.actions.iter().map(|a| a.name.as_str()));
            note(trace, || {
                format!(
                    "denied: `{}` is not an action of policy \"{}\"{}",
                    p.action_name,
                    self.name,
                    hint.as_ref()
                        .map(|h| format!(" (did you mean `{h}`?)"))
                        .unwrap_or_default()
                )
            });
            return Err(RawDecision::deny(RawReason::code(
                ReasonCode::UnknownAction,
            )));
        };
        let action = self.action(aid).map_or("?", |a| a.name.as_str());
        if let Some(m) = self.action(aid).and_then(|a| a.module) {
            if !p.modules.contains(&m) {
                let module = self.modules.get(m as usize).map_or("?", String::as_str);
                note(trace, || {
                    let subscribed: Vec<&str> = p
                        .modules
                        .iter()
                        .filter_map(|&m| self.modules.get(m as usize).map(String::as_str))
                        .collect();
                    format!(
                        "denied: {action} belongs to module `{module}`, which the practice does not subscribe to (subscribed: {})",
                        list_or_none(&subscribed)
                    )
                });
                return Err(RawDecision::deny(RawReason::code(
                    ReasonCode::ModuleNotSubscribed,
                )));
            }
        }
        if trace.is_some() {
            let held: Vec<&str> = p.roles.iter().map(|&r| self.role_name(r)).collect();
            note(trace, || {
                format!("roles in effect: {}", list_or_none(&held))
            });
            for r in &p.unknown_roles {
                note(trace, || {
                    format!(
                        "role \"{r}\" is not defined in policy \"{}\"; it grants nothing",
                        self.name
                    )
                });
            }
        }
        Ok(aid)
    }

    /// Denied by rules that fired (deny beats allow) or for want of a grant: the rules, the
    /// missing grant, and whether stepping up would help, as reasons.
    fn denied(
        &self,
        p: &Prepared,
        aid: ActionId,
        open: &[usize],
        outcome: &Outcome,
        trace: &mut Trace<'_>,
    ) -> RawDecision {
        let mut reasons: Vec<RawReason> = outcome
            .denies
            .iter()
            .map(|&id| {
                let require = self.rule(id).is_some_and(|r| r.origin == Origin::Require);
                RawReason {
                    rule: Some(id),
                    ..RawReason::code(if require {
                        ReasonCode::RequirementNotMet
                    } else {
                        ReasonCode::DeniedByRule
                    })
                }
            })
            .collect();
        if outcome.grants.is_empty() {
            reasons.push(RawReason::code(ReasonCode::NoGrant));
        }
        if let Some(step) = self.step_up(p, aid, open, outcome) {
            reasons.push(step);
        }
        if trace.is_some() {
            let why = if outcome.denies.is_empty() {
                self.why_no_grant(p, aid)
            } else {
                self.why_denied(aid, outcome)
            };
            note(trace, || why);
        }
        RawDecision {
            allow: false,
            reasons,
            obligations: Vec::new(),
        }
    }

    fn why_denied(&self, aid: ActionId, outcome: &Outcome) -> String {
        let action = self.action(aid).map_or("?", |a| a.name.as_str());
        let rules: Vec<String> = outcome
            .denies
            .iter()
            .filter_map(|&id| self.rule(id))
            .map(|r| format!("`{}` (line {})", r.text, r.line))
            .collect();
        format!(
            "denied: {} forbids {action}; deny beats allow",
            rules.join(" and ")
        )
    }

    fn why_no_grant(&self, p: &Prepared, aid: ActionId) -> String {
        let action = self.action(aid).map_or("?", |a| a.name.as_str());
        let held: Vec<&str> = p.roles.iter().map(|&r| self.role_name(r)).collect();
        let who = if held.is_empty() {
            "the principal holds no role of this policy and".to_string()
        } else {
            held.join(", ")
        };
        format!(
            "denied: {who} has no grant for {action} that applies; granted to: {}",
            list_or_none(&self.granted_to(aid))
        )
    }

    /// The roles with a grant covering the action, "(conditionally)" when it has a condition.
    fn granted_to(&self, aid: ActionId) -> Vec<String> {
        self.roles
            .iter()
            .filter_map(|role| {
                let mut conditional = true;
                let mut any = false;
                for g in &role.grants {
                    if let Some(rule) = self.rule(g.rule).filter(|r| r.covers(aid)) {
                        any = true;
                        if rule.cond.is_none() && g.guards.is_empty() {
                            conditional = false;
                        }
                    }
                }
                any.then(|| {
                    if conditional {
                        format!("{} (conditionally)", role.name)
                    } else {
                        role.name.clone()
                    }
                })
            })
            .collect()
    }

    fn outcome(
        &self,
        p: &Prepared,
        aid: ActionId,
        open: &[usize],
        trace: &mut Trace<'_>,
    ) -> Outcome {
        // Roles in effect, plus those lent by an open break-glass.
        let mut roles = p.roles.clone();
        for &i in open {
            for &r in self
                .break_glass
                .get(i)
                .map(|b| b.roles.as_slice())
                .unwrap_or(&[])
            {
                if !roles.contains(&r) {
                    roles.push(r);
                }
            }
        }
        let mut deny_ids: Vec<RuleId> = Vec::new();
        for &r in &roles {
            deny_ids.extend(self.role(r).map(|x| x.denies.as_slice()).unwrap_or(&[]));
        }
        deny_ids.extend(self.global_denies.iter().copied());
        // Reasons list denies in rule order, each once.
        deny_ids.sort_unstable();
        deny_ids.dedup();
        let mut denies = Vec::new();
        for id in deny_ids {
            let Some(rule) = self.rule(id).filter(|r| r.covers(aid)) else {
                continue;
            };
            let v = match &rule.cond {
                None => Tri::True,
                Some(c) => self.expr(c, p, trace),
            };
            note(trace, || {
                format!(
                    "deny `{}` (line {}): condition {}",
                    rule.text,
                    rule.line,
                    v.word()
                )
            });
            if v != Tri::False {
                denies.push(id);
            }
        }
        let mut grants = Vec::new();
        for &r in &roles {
            let Some(role) = self.role(r) else { continue };
            for g in &role.grants {
                let Some(rule) = self.rule(g.rule).filter(|x| x.covers(aid)) else {
                    continue;
                };
                let cond = match &rule.cond {
                    None => Tri::True,
                    Some(c) => self.expr(c, p, trace),
                };
                let mut guard = Tri::True;
                for &gr in &g.guards {
                    if guard != Tri::True {
                        break;
                    }
                    if let Some(e) = self.role(gr).and_then(|x| x.guard.as_ref()) {
                        guard = self.expr(e, p, trace);
                        if guard != Tri::True {
                            let gname = self.role_name(gr);
                            note(trace, || {
                                format!("role \"{gname}\" applies only under its constraints, which are {} here", guard.word())
                            });
                        }
                    }
                }
                note(trace, || {
                    format!(
                        "\"{}\" has `{}` (line {}): condition {}",
                        role.name,
                        rule.text,
                        rule.line,
                        if cond == Tri::True {
                            guard.word()
                        } else {
                            cond.word()
                        }
                    )
                });
                if cond == Tri::True && guard == Tri::True {
                    grants.push((Some(r), RuleRef::Rule(g.rule)));
                }
            }
        }
        for &i in open {
            if self
                .break_glass
                .get(i)
                .is_some_and(|b| b.actions.binary_search(&aid).is_ok())
            {
                grants.push((None, RuleRef::BreakGlass(i)));
            }
        }
        Outcome { denies, grants }
    }

    /// The break-glass blocks open for this request.
    fn open_break_glass(&self, p: &Prepared, trace: &mut Trace<'_>) -> Vec<usize> {
        let Some(em) = &p.emergency else {
            return Vec::new();
        };
        let mut open = Vec::new();
        for (i, bg) in self.break_glass.iter().enumerate() {
            let who = bg
                .who
                .as_ref()
                .map_or(Tri::False, |w| self.expr(w, p, &mut None));
            let reason_ok = !bg.reason_required || em.reason.is_some();
            let expired = em.started_at.is_some_and(|s| {
                let elapsed = p.now.saturating_sub(s);
                elapsed < 0 || elapsed.unsigned_abs() > bg.max_seconds
            });
            if who != Tri::True {
                note(trace, || {
                    format!(
                        "break_glass \"{}\" not opened: the principal may not invoke it",
                        bg.name
                    )
                });
            } else if !reason_ok {
                note(trace, || {
                    format!(
                        "break_glass \"{}\" not opened: a reason is required",
                        bg.name
                    )
                });
            } else if expired {
                note(trace, || {
                    format!(
                        "break_glass \"{}\" not opened: it started more than {}s ago",
                        bg.name, bg.max_seconds
                    )
                });
            } else {
                note(trace, || {
                    format!(
                        "break_glass \"{}\" is open (at most {}s)",
                        bg.name, bg.max_seconds
                    )
                });
                open.push(i);
            }
        }
        open
    }

    /// If fresh authentication (and a second factor) would change a deny into an allow, says so.
    fn step_up(
        &self,
        p: &Prepared,
        aid: ActionId,
        open: &[usize],
        before: &Outcome,
    ) -> Option<RawReason> {
        let passes = |fresh: &Prepared| {
            let o = self.outcome(fresh, aid, open, &mut None);
            o.denies.is_empty() && !o.grants.is_empty() && self.scope_ok(fresh, aid)
        };
        let mut fresh = p.clone();
        fresh.auth_age = Some(0);
        let needs_mfa = if passes(&fresh) {
            false
        } else {
            fresh.mfa = true;
            if !passes(&fresh) {
                return None;
            }
            !p.mfa
        };
        // The tightest age limit among the rules involved.
        let mut limit: Option<u64> = None;
        let o = self.outcome(&fresh, aid, open, &mut None);
        let mut rules: Vec<&Rule> = before.denies.iter().filter_map(|&d| self.rule(d)).collect();
        rules.extend(o.grants.iter().filter_map(|(_, r)| match r {
            RuleRef::Rule(id) => self.rule(*id),
            RuleRef::BreakGlass(_) => None,
        }));
        let mut exprs: Vec<&Expr> = rules.iter().filter_map(|r| r.cond.as_ref()).collect();
        for (role, _) in &o.grants {
            if let Some(g) = role
                .and_then(|r| self.role(r))
                .and_then(|r| r.guard.as_ref())
            {
                exprs.push(g);
            }
        }
        for e in exprs {
            if let Some(b) = e.age_limit() {
                limit = Some(limit.map_or(b, |l: u64| l.min(b)));
            }
        }
        Some(RawReason {
            max_auth_age: limit,
            mfa: needs_mfa,
            ..RawReason::code(ReasonCode::StepUpRequired)
        })
    }

    fn scope_ok(&self, p: &Prepared, aid: ActionId) -> bool {
        let Some(action) = self.action(aid) else {
            return false;
        };
        match &p.scopes {
            None => p.principal_type != "service",
            Some(scopes) => scopes.iter().any(|s| self.scope_covers(s, action)),
        }
    }

    /// `*`, `*:*`, `feature:*`, `module:*`, `*:verb`, `feature:verb`, `module:verb`, or a bare
    /// `feature` or `module` (every verb). Matched exactly, without trimming.
    pub fn scope_covers(&self, scope: &str, action: &Action) -> bool {
        let (group, verb) = scope.split_once(':').unwrap_or((scope, "*"));
        let (feature, action_verb) = action.name.split_once(':').unwrap_or((&action.name, ""));
        let group_ok = group == "*"
            || group == feature
            || action
                .module
                .and_then(|m| self.modules.get(m as usize))
                .is_some_and(|m| m == group);
        group_ok && (verb == "*" || verb == action_verb)
    }

    fn obligations(
        &self,
        p: &Prepared,
        aid: ActionId,
        open: &[usize],
        trace: &mut Trace<'_>,
    ) -> Vec<RawObligation> {
        let mut out = Vec::new();
        let feature = self.action(aid).map(|a| a.feature);
        for (i, r) in self.redactions.iter().enumerate() {
            if Some(r.feature) != feature {
                continue;
            }
            let exempt = r
                .unless
                .as_ref()
                .is_some_and(|u| self.expr(u, p, &mut None) == Tri::True);
            note(trace, || {
                if exempt {
                    format!("field {} is shown (line {})", r.field, r.line)
                } else {
                    format!(
                        "field {} will be redacted from the response (line {})",
                        r.field, r.line
                    )
                }
            });
            if !exempt {
                out.push(RawObligation::Redact(u32::try_from(i).unwrap_or(u32::MAX)));
            }
        }
        for &i in open {
            let Some(bg) = self.break_glass.get(i) else {
                continue;
            };
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            out.push(RawObligation::Audit(i));
            if bg.alert {
                out.push(RawObligation::Alert(i));
            }
        }
        out
    }

    /// A conjunction (`decisive` false) or disjunction (`decisive` true) in three values.
    fn junction(&self, v: &[Expr], decisive: Tri, p: &Prepared, trace: &mut Trace<'_>) -> Tri {
        let mut acc = decisive.not();
        for x in v {
            match self.expr(x, p, trace) {
                Tri::Unknown => acc = Tri::Unknown,
                t if t == decisive => return decisive,
                _ => {}
            }
        }
        acc
    }

    fn expr(&self, e: &Expr, p: &Prepared, trace: &mut Trace<'_>) -> Tri {
        match e {
            // All: false as soon as one is; Any: true as soon as one is; else unknown if any is.
            Expr::All(v) => self.junction(v, Tri::False, p, trace),
            Expr::Any(v) => self.junction(v, Tri::True, p, trace),
            Expr::Not(x) => self.expr(x, p, trace).not(),
            Expr::Test(t) => {
                let (v, detail) = self.test(&t.kind, p, trace.is_some());
                note(trace, || {
                    format!("  `{}` is {}{}", t.text, v.word(), detail)
                });
                v
            }
        }
    }

    fn term<'a>(&'a self, t: &'a Term, p: &'a Prepared) -> Val<'a> {
        let s = |o: &'a Option<String>| o.as_deref().map_or(Val::Missing, Val::Str);
        match t {
            Term::PrincipalId => Val::Str(&p.principal_id),
            Term::PrincipalType => Val::Str(&p.principal_type),
            Term::Practice => s(&p.practice),
            Term::Location => s(&p.location),
            Term::Owner => s(&p.owner),
            Term::Patient => s(&p.patient),
            Term::Country => s(&p.country),
            Term::AuthAge => p.auth_age.map_or(Val::Missing, Val::Dur),
            Term::Attr(a) => match p.attrs.get(*a as usize) {
                Some(AttrValue::Str(x)) => Val::Str(x),
                Some(AttrValue::Dec(d)) => Val::Dec(*d),
                Some(AttrValue::Bool(b)) => Val::Bool(*b),
                _ => Val::Missing,
            },
            Term::Str(x) => Val::Str(x),
            Term::Dec(d) => Val::Dec(*d),
            Term::Dur(d) => Val::Dur(*d),
            Term::Bool(b) => Val::Bool(*b),
        }
    }

    fn test(&self, kind: &TestKind, p: &Prepared, detail: bool) -> (Tri, String) {
        let show = |vals: &[Val<'_>]| -> String {
            if !detail {
                return String::new();
            }
            let parts: Vec<String> = vals.iter().map(Val::show).collect();
            format!(" ({})", parts.join(" vs "))
        };
        match kind {
            TestKind::Cmp { op, lhs, rhs } => {
                let (l, r) = (self.term(lhs, p), self.term(rhs, p));
                let ord = match (l, r) {
                    (Val::Str(a), Val::Str(b)) => Some(a.cmp(b)),
                    (Val::Dec(a), Val::Dec(b)) => Some(a.cmp(&b)),
                    (Val::Bool(a), Val::Bool(b)) => Some(a.cmp(&b)),
                    (Val::Dur(a), Val::Dur(b)) => Some(a.cmp(&b)),
                    _ => None,
                };
                let v = match ord {
                    None => Tri::Unknown,
                    Some(o) => Tri::of(match op {
                        CmpOp::Eq => o == Ordering::Equal,
                        CmpOp::Ne => o != Ordering::Equal,
                        CmpOp::Lt => o == Ordering::Less,
                        CmpOp::Le => o != Ordering::Greater,
                        CmpOp::Gt => o == Ordering::Greater,
                        CmpOp::Ge => o != Ordering::Less,
                    }),
                };
                (v, show(&[l, r]))
            }
            TestKind::In { lhs, list } => {
                let l = self.term(lhs, p);
                let v = match l {
                    Val::Missing => Tri::Unknown,
                    Val::Str(a) => Tri::of(
                        list.iter()
                            .any(|t| matches!(self.term(t, p), Val::Str(b) if a == b)),
                    ),
                    Val::Dec(a) => Tri::of(
                        list.iter()
                            .any(|t| matches!(self.term(t, p), Val::Dec(b) if a == b)),
                    ),
                    Val::Bool(a) => Tri::of(
                        list.iter()
                            .any(|t| matches!(self.term(t, p), Val::Bool(b) if a == b)),
                    ),
                    Val::Dur(a) => Tri::of(
                        list.iter()
                            .any(|t| matches!(self.term(t, p), Val::Dur(b) if a == b)),
                    ),
                };
                (v, show(&[l]))
            }
            TestKind::Network(nets) => match p.ip {
                None => (
                    Tri::Unknown,
                    if detail {
                        " (no client address)".into()
                    } else {
                        String::new()
                    },
                ),
                Some(ip) => (
                    Tri::of(nets.iter().any(|n| n.contains(&ip))),
                    if detail {
                        format!(" (client {ip})")
                    } else {
                        String::new()
                    },
                ),
            },
            TestKind::During(windows) => (
                Tri::of(windows.iter().any(|w| w.contains(p.weekday, p.minute))),
                if detail {
                    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
                    format!(
                        " (local time {} {:02}:{:02})",
                        DAYS.get(p.weekday as usize).unwrap_or(&"?"),
                        p.minute / 60,
                        p.minute % 60
                    )
                } else {
                    String::new()
                },
            ),
            TestKind::Relation(r) => (
                Tri::of(p.relations.contains(r)),
                if detail {
                    let names: Vec<&str> = p
                        .relations
                        .iter()
                        .filter_map(|&x| self.relations.get(x as usize).map(String::as_str))
                        .collect();
                    format!(" (relations: {})", list_or_none(&names))
                } else {
                    String::new()
                },
            ),
            TestKind::Mfa => (Tri::of(p.mfa), String::new()),
            TestKind::Flag(f) => (Tri::of(p.flags.contains(f)), String::new()),
            TestKind::Role(ids) => (
                Tri::of(ids.iter().any(|r| p.roles.contains(r))),
                String::new(),
            ),
            TestKind::Const(b) => (Tri::of(*b), String::new()),
        }
    }
}

fn list_or_none<S: AsRef<str>>(items: &[S]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items
            .iter()
            .map(|s| s.as_ref())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests;
