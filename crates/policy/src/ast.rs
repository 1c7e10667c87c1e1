//! The syntax tree of a policy file, exactly as written (names unresolved).

use crate::diag::Span;

/// A word or string from the source, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone, Default)]
pub struct Ast {
    pub items: Vec<Item>,
}

#[derive(Debug, Clone)]
pub enum Item {
    /// `policy "name" version "3"`
    Policy {
        name: Ident,
        version: Option<Ident>,
    },
    /// `timezone "America/New_York"`: the default practice time zone.
    Timezone(Ident),
    /// `feature patients verbs read, create`
    Feature {
        name: Ident,
        verbs: Vec<Ident>,
    },
    /// `module billing = charges, payments:read`
    Module {
        name: Ident,
        members: Vec<Ident>,
    },
    /// `attribute amount decimal`
    Attribute {
        name: Ident,
        ty: Ident,
    },
    /// `relation assigned, shared`
    Relation {
        names: Vec<Ident>,
    },
    Role(RoleDecl),
    /// A top-level `deny`: applies whoever asks, whatever roles they hold.
    Deny(RuleDecl),
    /// `require COND for ACTIONS`: every request for these actions must satisfy COND.
    Require {
        cond: Cond,
        actions: Vec<Ident>,
        span: Span,
    },
    /// `redact patients.ssn unless role in ["Owner"]`
    Redact {
        fields: Vec<Ident>,
        unless: Option<Cond>,
        span: Span,
    },
    BreakGlass(BreakGlassDecl),
    Route(RouteDecl),
}

#[derive(Debug, Clone)]
pub struct RoleDecl {
    pub name: Ident,
    pub extends: Vec<Ident>,
    pub description: Option<Ident>,
    pub body: Vec<RoleStmt>,
}

#[derive(Debug, Clone)]
pub enum RoleStmt {
    Allow(RuleDecl),
    Deny(RuleDecl),
    /// `from`, `during`, `when`, `require` at role level: a guard on every grant of the role.
    Constraint(Cond),
}

#[derive(Debug, Clone)]
pub struct RuleDecl {
    pub actions: Vec<Ident>,
    pub cond: Option<Cond>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct BreakGlassDecl {
    pub name: Ident,
    pub who: Option<Cond>,
    pub allows: Vec<Ident>,
    pub grant_roles: Vec<Ident>,
    pub max: Option<Ident>,
    pub reason_required: bool,
    pub alert: bool,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct RouteDecl {
    pub method: Ident,
    pub path: Ident,
    pub action: Ident,
    pub binds: Vec<Bind>,
    pub span: Span,
}

/// `target = kind "source"`, e.g. `amount = json "/amount"`.
#[derive(Debug, Clone)]
pub struct Bind {
    pub target: Ident,
    pub kind: Ident,
    pub source: Ident,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

#[derive(Debug, Clone)]
pub enum Operand {
    /// A name: `principal`, `resource.amount`, `context.country`, `auth_age`.
    Name(Ident),
    Str(Ident),
    /// A number, duration (`15m`) or boolean word, typed by the checker.
    Literal(Ident),
}

impl Operand {
    pub fn span(&self) -> Span {
        match self {
            Operand::Name(i) | Operand::Str(i) | Operand::Literal(i) => i.span,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Cond {
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>, Span),
    Cmp {
        op: CmpOp,
        lhs: Operand,
        rhs: Operand,
    },
    In {
        lhs: Operand,
        list: Vec<Operand>,
        span: Span,
    },
    /// `from 10.0.0.0/8, fd00::/8`
    From {
        nets: Vec<Ident>,
        span: Span,
    },
    /// `during mon-fri 07:00-19:00, sat 10:00-14:00`
    During {
        windows: Vec<(Ident, Ident)>,
        span: Span,
    },
    /// `relation assigned`
    Relation(Ident, Span),
    /// `own`: the resource's owner is the principal.
    Own(Span),
    /// `mfa`: the principal authenticated with a second factor.
    Mfa(Span),
    /// `flag emergency_access`
    Flag(Ident, Span),
    /// `role "Owner"` / `role in ["Owner", "Billing"]`
    Role(Vec<Ident>, Span),
    Bool(bool, Span),
}

impl Cond {
    pub fn span(&self) -> Span {
        match self {
            Cond::And(a, b) | Cond::Or(a, b) => a.span().to(b.span()),
            Cond::Not(_, s)
            | Cond::In { span: s, .. }
            | Cond::From { span: s, .. }
            | Cond::During { span: s, .. }
            | Cond::Relation(_, s)
            | Cond::Own(s)
            | Cond::Mfa(s)
            | Cond::Flag(_, s)
            | Cond::Role(_, s)
            | Cond::Bool(_, s) => *s,
            Cond::Cmp { lhs, rhs, .. } => lhs.span().to(rhs.span()),
        }
    }
}
