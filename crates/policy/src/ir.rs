//! The checked, lowered policy: names resolved to indices, inheritance flattened, conditions
//! typed. The reference evaluator and the Wasm compiler both work from this form.

use std::collections::HashMap;

use chrono_tz::Tz;
use ipnet::IpNet;
use rust_decimal::Decimal;

use crate::manifest::{
    ActionInfo, AttributeInfo, BreakGlassInfo, Manifest, RedactionInfo, RoleInfo, RouteInfo,
    RuleInfo,
};

pub use crate::ast::CmpOp;
pub use crate::symbols::{segments, AttrId, BindSource, BindTarget, RouteBind, Segment, Type};

pub type ActionId = u32;
pub type RoleId = u32;
pub type ModuleId = u32;
pub type RuleId = u32;

/// A compiled policy.
#[derive(Debug, Clone)]
pub struct Policy {
    pub name: String,
    pub version: String,
    /// The default practice time zone; a request's `context.timezone` overrides it.
    pub timezone: Option<Tz>,
    pub features: Vec<Feature>,
    pub actions: Vec<Action>,
    pub modules: Vec<String>,
    pub attributes: Vec<Attribute>,
    pub relations: Vec<String>,
    /// Principal flags the policy tests (`flag NAME`).
    pub flags: Vec<String>,
    pub roles: Vec<Role>,
    pub rules: Vec<Rule>,
    /// Top-level denies and `require` rules: they apply to every request.
    pub global_denies: Vec<RuleId>,
    pub redactions: Vec<Redaction>,
    pub break_glass: Vec<BreakGlass>,
    pub routes: Vec<Route>,
    /// The symbols a host needs, as a compiled module exports them.
    pub manifest: Manifest,
    pub(crate) action_index: HashMap<String, ActionId>,
    pub(crate) role_index: HashMap<String, RoleId>,
}

impl Policy {
    pub fn action_id(&self, name: &str) -> Option<ActionId> {
        self.action_index.get(name).copied()
    }

    pub fn role_id(&self, name: &str) -> Option<RoleId> {
        self.role_index.get(name).copied()
    }

    pub fn action(&self, id: ActionId) -> Option<&Action> {
        self.actions.get(id as usize)
    }

    pub fn role(&self, id: RoleId) -> Option<&Role> {
        self.roles.get(id as usize)
    }

    pub fn rule(&self, id: RuleId) -> Option<&Rule> {
        self.rules.get(id as usize)
    }

    pub fn attribute_id(&self, name: &str) -> Option<AttrId> {
        self.attributes
            .iter()
            .position(|a| a.name == name)
            .and_then(|i| u32::try_from(i).ok())
    }
}

#[derive(Debug, Clone)]
pub struct Feature {
    pub name: String,
    pub verbs: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Action {
    /// `feature:verb`
    pub name: String,
    pub feature: u32,
    pub module: Option<ModuleId>,
    pub line: u32,
}

#[derive(Debug, Clone)]
pub struct Attribute {
    pub name: String,
    pub ty: Type,
}

#[derive(Debug, Clone)]
pub struct Role {
    pub name: String,
    pub description: Option<String>,
    pub parents: Vec<RoleId>,
    /// Role-level constraints (`from`, `during`, `when`, `require`): all must hold for any
    /// grant of this role, its own or inherited, to take effect.
    pub guard: Option<Expr>,
    /// Every allow this role carries, its own first, then inherited ones.
    pub grants: Vec<Grant>,
    /// Every deny this role carries, own and inherited.
    pub denies: Vec<RuleId>,
    pub line: u32,
}

/// An allow rule as held by a role: the rule plus the roles whose guards apply on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub rule: RuleId,
    pub guards: Vec<RoleId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Role(RoleId),
    Global,
    /// From `require COND for ACTIONS`; the rule denies when COND does not hold.
    Require,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub effect: Effect,
    pub origin: Origin,
    /// Sorted, deduplicated.
    pub actions: Vec<ActionId>,
    pub cond: Option<Expr>,
    pub line: u32,
    /// The statement as written, for reasons and explanations.
    pub text: String,
}

impl Rule {
    pub fn covers(&self, action: ActionId) -> bool {
        self.actions.binary_search(&action).is_ok()
    }
}

/// A typed condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    All(Vec<Expr>),
    Any(Vec<Expr>),
    Not(Box<Expr>),
    Test(Box<Test>),
}

impl Expr {
    /// The tightest bound this condition puts on `auth_age`, in seconds (`auth_age <= 15m` is
    /// 900, `auth_age < 15m` is 899).
    pub fn age_limit(&self) -> Option<u64> {
        let mut limit = None;
        self.collect_age_limit(&mut limit);
        limit
    }

    fn collect_age_limit(&self, limit: &mut Option<u64>) {
        match self {
            Expr::All(v) | Expr::Any(v) => v.iter().for_each(|x| x.collect_age_limit(limit)),
            Expr::Not(x) => x.collect_age_limit(limit),
            Expr::Test(t) => {
                if let TestKind::Cmp { op, lhs, rhs } = &t.kind {
                    let bound = match (lhs, op, rhs) {
                        (Term::AuthAge, CmpOp::Le, Term::Dur(d))
                        | (Term::Dur(d), CmpOp::Ge, Term::AuthAge) => Some(*d),
                        (Term::AuthAge, CmpOp::Lt, Term::Dur(d))
                        | (Term::Dur(d), CmpOp::Gt, Term::AuthAge) => Some(d.saturating_sub(1)),
                        _ => None,
                    };
                    if let Some(b) = bound {
                        *limit = Some(limit.map_or(b, |l: u64| l.min(b)));
                    }
                }
            }
        }
    }

    /// The condition as an administrator would read it.
    pub fn text(&self) -> String {
        match self {
            Expr::All(v) => v.iter().map(Expr::text).collect::<Vec<_>>().join(" and "),
            Expr::Any(v) => format!(
                "({})",
                v.iter().map(Expr::text).collect::<Vec<_>>().join(" or ")
            ),
            Expr::Not(x) => format!("not {}", x.text()),
            Expr::Test(t) => t.text.clone(),
        }
    }
}

/// One test in a condition, with its source text for explanations.
#[derive(Debug, Clone, PartialEq)]
pub struct Test {
    pub kind: TestKind,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TestKind {
    Cmp {
        op: CmpOp,
        lhs: Term,
        rhs: Term,
    },
    In {
        lhs: Term,
        list: Vec<Term>,
    },
    Network(Vec<IpNet>),
    During(Vec<Window>),
    Relation(u32),
    Mfa,
    /// Index into `Policy::flags`.
    Flag(u32),
    Role(Vec<RoleId>),
    Const(bool),
}

/// A value in a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    PrincipalId,
    PrincipalType,
    Practice,
    Location,
    Owner,
    Patient,
    Country,
    AuthAge,
    Attr(AttrId),
    Str(String),
    Dec(Decimal),
    /// Seconds.
    Dur(u64),
    Bool(bool),
}

/// A weekly time window in the practice's local time. `end <= start` wraps past midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Bit 0 is Monday, bit 6 Sunday.
    pub days: u8,
    /// Minutes after midnight.
    pub start: u16,
    pub end: u16,
}

impl Window {
    /// Whether a local weekday (0 = Monday) and minute of day fall in the window.
    pub fn contains(&self, weekday: u8, minute: u16) -> bool {
        let on = |d: u8| self.days & (1 << (d % 7)) != 0;
        if self.start < self.end {
            on(weekday) && minute >= self.start && minute < self.end
        } else {
            (on(weekday) && minute >= self.start) || (on((weekday + 6) % 7) && minute < self.end)
        }
    }
}

#[derive(Debug, Clone)]
pub struct Redaction {
    /// `feature.field`, as written.
    pub field: String,
    pub feature: u32,
    pub unless: Option<Expr>,
    pub line: u32,
}

#[derive(Debug, Clone)]
pub struct BreakGlass {
    pub name: String,
    pub who: Option<Expr>,
    /// Sorted actions opened directly.
    pub actions: Vec<ActionId>,
    /// Roles whose permissions the principal takes on while it is open.
    pub roles: Vec<RoleId>,
    pub max_seconds: u64,
    pub reason_required: bool,
    pub alert: bool,
    pub line: u32,
}

#[derive(Debug, Clone)]
pub struct Route {
    pub method: String,
    pub pattern: String,
    pub segments: Vec<Segment>,
    pub action: ActionId,
    pub binds: Vec<RouteBind>,
    pub line: u32,
}

impl Policy {
    /// Builds the manifest of a checked policy.
    pub(crate) fn build_manifest(&self, content_hash: String) -> Manifest {
        let manifest = Manifest {
            name: self.name.clone(),
            version: self.version.clone(),
            content_hash,
            timezone: self.timezone.map(|tz| tz.name().to_string()),
            features: self.features.iter().map(|f| f.name.clone()).collect(),
            actions: self
                .actions
                .iter()
                .map(|a| ActionInfo {
                    name: a.name.clone(),
                    feature: a.feature,
                    module: a.module,
                })
                .collect(),
            modules: self.modules.clone(),
            roles: self
                .roles
                .iter()
                .map(|r| RoleInfo {
                    name: r.name.clone(),
                    line: r.line,
                })
                .collect(),
            attributes: self
                .attributes
                .iter()
                .map(|a| AttributeInfo {
                    name: a.name.clone(),
                    ty: a.ty,
                })
                .collect(),
            relations: self.relations.clone(),
            flags: self.flags.clone(),
            rules: self
                .rules
                .iter()
                .map(|r| RuleInfo {
                    text: r.text.clone(),
                    line: r.line,
                    role: match r.origin {
                        Origin::Role(id) => Some(id),
                        _ => None,
                    },
                    deny: r.effect == Effect::Deny,
                    require: r.origin == Origin::Require,
                    condition: r.cond.as_ref().map(|c| match (r.origin, c) {
                        (Origin::Require, Expr::Not(inner)) => inner.text(),
                        _ => c.text(),
                    }),
                })
                .collect(),
            redactions: self
                .redactions
                .iter()
                .map(|r| RedactionInfo {
                    field: r.field.clone(),
                    feature: r.feature,
                    line: r.line,
                })
                .collect(),
            break_glass: self
                .break_glass
                .iter()
                .map(|b| BreakGlassInfo {
                    name: b.name.clone(),
                    max_seconds: b.max_seconds,
                    alert: b.alert,
                    line: b.line,
                })
                .collect(),
            routes: self
                .routes
                .iter()
                .map(|r| RouteInfo {
                    method: r.method.clone(),
                    pattern: r.pattern.clone(),
                    action: r.action,
                    binds: r.binds.clone(),
                    line: r.line,
                    segments: Vec::new(),
                })
                .collect(),
            ..Manifest::default()
        };
        // A checked policy always has a consistent manifest; fall back to an empty one rather
        // than panic if that ever stops being true (the host's validation would refuse it).
        manifest.validate().unwrap_or_default()
    }
}
