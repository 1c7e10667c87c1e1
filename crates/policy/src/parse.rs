//! Parser: tokens to the syntax tree, collecting every error and recovering at the next
//! statement so one typo does not hide the rest.

use crate::ast::*;
use crate::diag::{Code, Diagnostic, Span};
use crate::lex::{lex, Tok, Token};

const TOP_LEVEL: &[&str] = &[
    "policy",
    "timezone",
    "feature",
    "module",
    "attribute",
    "relation",
    "role",
    "deny",
    "require",
    "redact",
    "break_glass",
    "route",
];
const ROLE_STMT: &[&str] = &[
    "allow",
    "deny",
    "from",
    "during",
    "when",
    "require",
    "description",
];
const RESERVED: &[&str] = &["allow", "when", "unless", "and", "or", "not", "extends"];
const BREAK_GLASS_STMT: &[&str] = &["who", "allow", "grant", "max", "reason", "alert"];

/// A parse that could not continue; the diagnostic has already been recorded.
struct Stop;

type PResult<T> = Result<T, Stop>;

/// Parses policy text. Returns the items that parsed and every problem found.
pub fn parse(text: &str) -> (Ast, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let tokens = lex(text, &mut diags);
    let mut p = Parser {
        tokens,
        pos: 0,
        diags,
    };
    let ast = p.policy();
    (ast, p.diags)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    diags: Vec<Diagnostic>,
}

impl Parser {
    fn peek(&self) -> &Tok {
        self.tokens.get(self.pos).map_or(&Tok::Eof, |t| &t.tok)
    }

    fn peek_at(&self, n: usize) -> &Tok {
        self.tokens.get(self.pos + n).map_or(&Tok::Eof, |t| &t.tok)
    }

    fn span(&self) -> Span {
        self.tokens
            .get(self.pos)
            .or(self.tokens.last())
            .map_or(Span::default(), |t| t.span)
    }

    fn prev_span(&self) -> Span {
        self.pos
            .checked_sub(1)
            .and_then(|i| self.tokens.get(i))
            .map_or(self.span(), |t| t.span)
    }

    fn bump(&mut self) -> Token {
        let t = self.tokens.get(self.pos).cloned().unwrap_or(Token {
            tok: Tok::Eof,
            span: self.span(),
        });
        if self.pos < self.tokens.len() {
            self.pos += 1;
        }
        t
    }

    fn at_word(&self, w: &str) -> bool {
        matches!(self.peek(), Tok::Word(x) if x == w)
    }

    fn eat_word(&mut self, w: &str) -> bool {
        if self.at_word(w) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        if self.peek() == tok {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn fail<T>(&mut self, expected: &str, hint: Option<&str>) -> PResult<T> {
        let found = self.peek().describe();
        let mut d = Diagnostic::error(
            Code::Syntax,
            self.span(),
            format!("expected {expected}, found {found}"),
        )
        .label(format!("expected {expected}"));
        if let Some(h) = hint {
            d = d.hint(h);
        }
        self.diags.push(d);
        Err(Stop)
    }

    fn expect(&mut self, tok: Tok, expected: &str) -> PResult<Span> {
        if *self.peek() == tok {
            Ok(self.bump().span)
        } else {
            self.fail(expected, None)
        }
    }

    fn expect_word_kw(&mut self, w: &str) -> PResult<()> {
        if self.eat_word(w) {
            Ok(())
        } else {
            self.fail(&format!("`{w}`"), None)
        }
    }

    /// A word that names something: keywords that start statements are refused, so a
    /// forgotten item does not swallow the next statement.
    fn word(&mut self, what: &str) -> PResult<Ident> {
        if let Tok::Word(w) = self.peek() {
            if TOP_LEVEL.contains(&w.as_str()) || RESERVED.contains(&w.as_str()) {
                return self.fail(
                    what,
                    Some("this word starts a new statement; is something missing before it?"),
                );
            }
        }
        self.any_word(what)
    }

    fn any_word(&mut self, what: &str) -> PResult<Ident> {
        match self.peek().clone() {
            Tok::Word(name) => {
                let span = self.bump().span;
                Ok(Ident { name, span })
            }
            _ => self.fail(what, None),
        }
    }

    fn string(&mut self, what: &str) -> PResult<Ident> {
        match self.peek().clone() {
            Tok::Str(name) => {
                let span = self.bump().span;
                Ok(Ident { name, span })
            }
            _ => self.fail(
                what,
                Some("names of roles, policies and zones are quoted: \"Front Desk\""),
            ),
        }
    }

    /// A word or a string.
    fn name(&mut self, what: &str) -> PResult<Ident> {
        match self.peek().clone() {
            Tok::Word(name) | Tok::Str(name) => {
                let span = self.bump().span;
                Ok(Ident { name, span })
            }
            _ => self.fail(what, None),
        }
    }

    fn comma_list<T>(&mut self, mut item: impl FnMut(&mut Self) -> PResult<T>) -> PResult<Vec<T>> {
        let mut out = vec![item(self)?];
        while self.eat(&Tok::Comma) {
            out.push(item(self)?);
        }
        Ok(out)
    }

    /// Skips to the next token that can start a statement of `starts`, at brace depth zero.
    /// Stops before a closing brace that ends the enclosing block.
    fn recover(&mut self, starts: &[&str]) {
        let mut depth = 0usize;
        loop {
            match self.peek() {
                Tok::Eof => return,
                Tok::LBrace => depth += 1,
                Tok::RBrace => {
                    if depth == 0 {
                        return;
                    }
                    depth -= 1;
                }
                Tok::Word(w) if depth == 0 && starts.contains(&w.as_str()) => return,
                _ => {}
            }
            self.pos += 1;
        }
    }

    fn policy(&mut self) -> Ast {
        let mut ast = Ast::default();
        loop {
            match self.peek() {
                Tok::Eof => break,
                Tok::RBrace => {
                    let span = self.bump().span;
                    self.diags.push(
                        Diagnostic::error(Code::Syntax, span, "unmatched `}`")
                            .label("no block is open here"),
                    );
                }
                _ => {
                    let start = self.pos;
                    match self.item() {
                        Ok(item) => ast.items.push(item),
                        Err(Stop) => {
                            if self.pos == start {
                                self.pos += 1;
                            }
                            self.recover(TOP_LEVEL);
                            if matches!(self.peek(), Tok::RBrace) {
                                self.pos += 1;
                            }
                        }
                    }
                }
            }
        }
        ast
    }

    fn item(&mut self) -> PResult<Item> {
        let kw = match self.peek().clone() {
            Tok::Word(w) if TOP_LEVEL.contains(&w.as_str()) => w,
            _ => {
                return self.fail(
                    "a declaration",
                    Some("a policy is made of `policy`, `feature`, `module`, `attribute`, `relation`, `role`, `deny`, `require`, `redact`, `break_glass` and `route` declarations"),
                )
            }
        };
        let start = self.bump().span;
        match kw.as_str() {
            "policy" => {
                let name = self.string("the policy name in quotes")?;
                let version = if self.eat_word("version") {
                    Some(self.name("a version")?)
                } else {
                    None
                };
                Ok(Item::Policy { name, version })
            }
            "timezone" => Ok(Item::Timezone(self.string("an IANA time zone in quotes")?)),
            "feature" => {
                let name = self.word("a feature name")?;
                self.expect_word_kw("verbs")?;
                let verbs = self.comma_list(|p| p.word("a verb"))?;
                Ok(Item::Feature { name, verbs })
            }
            "module" => {
                let name = self.word("a module name")?;
                self.expect(Tok::Assign, "`=`")?;
                let members = self.comma_list(|p| p.word("a feature or action"))?;
                Ok(Item::Module { name, members })
            }
            "attribute" => {
                let name = self.word("an attribute name")?;
                let ty = self.word("a type (`decimal`, `string` or `bool`)")?;
                Ok(Item::Attribute { name, ty })
            }
            "relation" => Ok(Item::Relation {
                names: self.comma_list(|p| p.word("a relation name"))?,
            }),
            "role" => self.role().map(Item::Role),
            "deny" => self.rule(start).map(Item::Deny),
            "require" => {
                let cond = self.cond()?;
                self.expect_word_kw("for")?;
                let actions = self.comma_list(|p| p.word("an action"))?;
                Ok(Item::Require {
                    cond,
                    actions,
                    span: start.to(self.prev_span()),
                })
            }
            "redact" => {
                let fields = self.comma_list(|p| p.word("a field such as `patients.ssn`"))?;
                let unless = if self.eat_word("unless") {
                    Some(self.cond()?)
                } else {
                    None
                };
                Ok(Item::Redact {
                    fields,
                    unless,
                    span: start.to(self.prev_span()),
                })
            }
            "break_glass" => self.break_glass(start).map(Item::BreakGlass),
            _ => self.route(start).map(Item::Route),
        }
    }

    fn role(&mut self) -> PResult<RoleDecl> {
        let name = self.string("the role name in quotes")?;
        let mut extends = Vec::new();
        if self.eat_word("extends") {
            extends = self.comma_list(|p| p.string("a role name in quotes"))?;
        }
        self.expect(Tok::LBrace, "`{`")?;
        let mut body = Vec::new();
        let mut description = None;
        loop {
            match self.peek() {
                Tok::RBrace => {
                    self.pos += 1;
                    break;
                }
                Tok::Eof => {
                    return self.fail("`}` to close the role", None);
                }
                _ => {}
            }
            let here = self.pos;
            match self.role_stmt(&mut description) {
                Ok(Some(stmt)) => body.push(stmt),
                Ok(None) => {}
                Err(Stop) => {
                    if self.pos == here {
                        self.pos += 1;
                    }
                    self.recover(ROLE_STMT);
                }
            }
        }
        Ok(RoleDecl {
            name,
            extends,
            description,
            body,
        })
    }

    fn role_stmt(&mut self, description: &mut Option<Ident>) -> PResult<Option<RoleStmt>> {
        let start = self.span();
        let kw = match self.peek().clone() {
            Tok::Word(w) if ROLE_STMT.contains(&w.as_str()) => w,
            _ => {
                return self.fail(
                    "a role statement",
                    Some("inside a role: `allow`, `deny`, `from`, `during`, `when`, `require` or `description`"),
                )
            }
        };
        match kw.as_str() {
            "allow" => {
                self.pos += 1;
                Ok(Some(RoleStmt::Allow(self.rule(start)?)))
            }
            "deny" => {
                self.pos += 1;
                Ok(Some(RoleStmt::Deny(self.rule(start)?)))
            }
            "description" => {
                self.pos += 1;
                *description = Some(self.string("a description in quotes")?);
                Ok(None)
            }
            "when" | "require" => {
                self.pos += 1;
                Ok(Some(RoleStmt::Constraint(self.cond()?)))
            }
            // `from` and `during` are conditions in their own right.
            _ => Ok(Some(RoleStmt::Constraint(self.cond()?))),
        }
    }

    fn rule(&mut self, start: Span) -> PResult<RuleDecl> {
        let actions = self.comma_list(|p| p.word("an action such as `patients:read`"))?;
        let cond = if self.eat_word("when") {
            Some(self.cond()?)
        } else if self.eat_word("unless") {
            let c = self.cond()?;
            let span = c.span();
            Some(Cond::Not(Box::new(c), span))
        } else {
            None
        };
        Ok(RuleDecl {
            actions,
            cond,
            span: start.to(self.prev_span()),
        })
    }

    fn break_glass(&mut self, start: Span) -> PResult<BreakGlassDecl> {
        let name = self.string("the break-glass name in quotes")?;
        self.expect(Tok::LBrace, "`{`")?;
        let mut bg = BreakGlassDecl {
            name,
            who: None,
            allows: Vec::new(),
            grant_roles: Vec::new(),
            max: None,
            reason_required: false,
            alert: false,
            span: start,
        };
        loop {
            match self.peek() {
                Tok::RBrace => {
                    self.pos += 1;
                    break;
                }
                Tok::Eof => return self.fail("`}` to close the break_glass block", None),
                _ => {}
            }
            let here = self.pos;
            if self.break_glass_stmt(&mut bg).is_err() {
                if self.pos == here {
                    self.pos += 1;
                }
                self.recover(BREAK_GLASS_STMT);
            }
        }
        bg.span = start.to(self.prev_span());
        Ok(bg)
    }

    fn break_glass_stmt(&mut self, bg: &mut BreakGlassDecl) -> PResult<()> {
        let kw = self.any_word("a break_glass statement")?;
        match kw.name.as_str() {
            "who" => bg.who = Some(self.cond()?),
            "allow" => bg.allows.extend(self.comma_list(|p| p.word("an action"))?),
            "grant" => {
                self.expect_word_kw("role")?;
                bg.grant_roles
                    .extend(self.comma_list(|p| p.string("a role name in quotes"))?);
            }
            "max" => bg.max = Some(self.word("a duration such as `4h`")?),
            "reason" => {
                self.expect_word_kw("required")?;
                bg.reason_required = true;
            }
            "alert" => bg.alert = true,
            _ => {
                self.pos -= 1;
                return self.fail(
                    "a break_glass statement",
                    Some("inside break_glass: `who`, `allow`, `grant role`, `max`, `reason required`, `alert`"),
                );
            }
        }
        Ok(())
    }

    fn route(&mut self, start: Span) -> PResult<RouteDecl> {
        let method = self.word("an HTTP method")?;
        let path = match self.peek().clone() {
            Tok::Path(p) => Ident {
                name: p,
                span: self.bump().span,
            },
            _ => return self.fail("a path starting with `/`", None),
        };
        self.expect(Tok::Arrow, "`->`")?;
        let action = self.word("an action")?;
        let mut binds = Vec::new();
        // `target = kind source`, optionally separated by commas.
        while matches!(self.peek(), Tok::Word(_)) && *self.peek_at(1) == Tok::Assign {
            let target = self.word("an attribute")?;
            self.pos += 1;
            let kind = self.word("`path`, `query`, `header` or `json`")?;
            let source = self.name("the name to read")?;
            binds.push(Bind {
                target,
                kind,
                source,
            });
            self.eat(&Tok::Comma);
        }
        Ok(RouteDecl {
            method,
            path,
            action,
            binds,
            span: start.to(self.prev_span()),
        })
    }

    // Conditions: or > and > not > atom.

    fn cond(&mut self) -> PResult<Cond> {
        let mut lhs = self.and()?;
        while self.eat_word("or") {
            let rhs = self.and()?;
            lhs = Cond::Or(Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn and(&mut self) -> PResult<Cond> {
        let mut lhs = self.not()?;
        while self.eat_word("and") {
            let rhs = self.not()?;
            lhs = Cond::And(Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn not(&mut self) -> PResult<Cond> {
        let start = self.span();
        if self.eat_word("not") {
            let inner = self.not()?;
            let span = start.to(inner.span());
            return Ok(Cond::Not(Box::new(inner), span));
        }
        self.atom()
    }

    fn atom(&mut self) -> PResult<Cond> {
        let start = self.span();
        if self.eat(&Tok::LParen) {
            let c = self.cond()?;
            self.expect(Tok::RParen, "`)`")?;
            return Ok(c);
        }
        let word = match self.peek() {
            Tok::Word(w) => Some(w.clone()),
            _ => None,
        };
        match word.as_deref() {
            Some("from") => {
                self.pos += 1;
                let nets = self.comma_list(|p| p.word("a network such as `10.20.0.0/16`"))?;
                Ok(Cond::From {
                    nets,
                    span: start.to(self.prev_span()),
                })
            }
            Some("during") => {
                self.pos += 1;
                let windows = self.comma_list(|p| {
                    let days = p.word("days such as `mon-fri`")?;
                    let times = p.word("hours such as `07:00-19:00`")?;
                    Ok((days, times))
                })?;
                Ok(Cond::During {
                    windows,
                    span: start.to(self.prev_span()),
                })
            }
            Some("relation") => {
                self.pos += 1;
                let r = self.word("a relation name")?;
                Ok(Cond::Relation(r, start.to(self.prev_span())))
            }
            Some("own") => {
                self.pos += 1;
                Ok(Cond::Own(start))
            }
            Some("mfa") => {
                self.pos += 1;
                Ok(Cond::Mfa(start))
            }
            Some("true") | Some("false") => {
                self.pos += 1;
                Ok(Cond::Bool(word.as_deref() == Some("true"), start))
            }
            Some("flag") => {
                self.pos += 1;
                let f = self.word("a flag name")?;
                Ok(Cond::Flag(f, start.to(self.prev_span())))
            }
            Some("role") => {
                self.pos += 1;
                let roles = if self.eat_word("in") {
                    self.expect(Tok::LBracket, "`[`")?;
                    let roles = self.comma_list(|p| p.string("a role name in quotes"))?;
                    self.expect(Tok::RBracket, "`]`")?;
                    roles
                } else {
                    vec![self.string("a role name in quotes")?]
                };
                Ok(Cond::Role(roles, start.to(self.prev_span())))
            }
            _ => self.comparison(),
        }
    }

    fn operand(&mut self) -> PResult<Operand> {
        match self.peek().clone() {
            Tok::Str(s) => {
                let span = self.bump().span;
                Ok(Operand::Str(Ident { name: s, span }))
            }
            Tok::Word(w)
                if TOP_LEVEL.contains(&w.as_str())
                    || RESERVED.contains(&w.as_str())
                    || ROLE_STMT.contains(&w.as_str()) =>
            {
                let at = self.prev_span();
                self.diags.push(
                    Diagnostic::error(Code::Syntax, at, format!("a condition is missing before `{w}`"))
                        .label("expected a condition after this")
                        .hint("e.g. `when own` or `when resource.amount < 500.00`"),
                );
                Err(Stop)
            }
            Tok::Word(w) => {
                let span = self.bump().span;
                let first = w.chars().next().unwrap_or(' ');
                let ident = Ident { name: w.clone(), span };
                if first.is_ascii_digit() || first == '-' || w == "true" || w == "false" {
                    Ok(Operand::Literal(ident))
                } else {
                    Ok(Operand::Name(ident))
                }
            }
            _ => self.fail(
                "a condition",
                Some("conditions compare values (`resource.amount < 500.00`) or test `own`, `mfa`, `relation assigned`, `from NET`, `during DAYS HH:MM-HH:MM`, `flag NAME`, `role \"R\"`"),
            ),
        }
    }

    fn comparison(&mut self) -> PResult<Cond> {
        let lhs = self.operand()?;
        if self.eat_word("in") {
            let start = lhs.span();
            self.expect(Tok::LBracket, "`[`")?;
            let list = self.comma_list(|p| p.operand())?;
            self.expect(Tok::RBracket, "`]`")?;
            return Ok(Cond::In {
                lhs,
                list,
                span: start.to(self.prev_span()),
            });
        }
        let op = match self.peek() {
            Tok::Cmp(op) => *op,
            _ => {
                return self.fail(
                    "a comparison (`==`, `!=`, `<`, `<=`, `>`, `>=` or `in`)",
                    Some("conditions compare values (`resource.amount < 500.00`) or test `own`, `mfa`, `relation assigned`, `from NET`, `during DAYS HH:MM-HH:MM`, `flag NAME`, `role \"R\"`"),
                )
            }
        };
        self.pos += 1;
        let rhs = self.operand()?;
        Ok(Cond::Cmp { op, lhs, rhs })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_design_sketch() {
        let src = r#"
policy "clinic" version "3"
feature patients verbs read, create, edit, delete, export
feature charges  verbs read, create, approve
module billing = charges, payments, invoices
attribute amount decimal
role "Billing" {
  allow charges:read, charges:create
  allow charges:approve when resource.amount < 500.00
  deny  refunds:process when resource.approved_by == principal
  from 10.20.0.0/16
  during mon-fri 07:00-19:00
}
role "Lead Therapist" extends "Provider" { allow appointments:delete }
redact patients.ssn, patients.insurance_id unless role in ["Owner", "Billing"]
route POST /api/charges/{charge}/approve -> charges:approve amount = json "/amount"
"#;
        let (ast, diags) = parse(src);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(ast.items.len(), 9);
        let Some(Item::Role(billing)) = ast.items.get(5) else {
            panic!("expected a role")
        };
        assert_eq!(billing.body.len(), 5);
    }

    #[test]
    fn reports_several_errors_in_one_run() {
        let src = "role \"A\" { allow }\nfeature x verbs\nrole \"B\" { allow a:b when resource.x < }\nfeature y verbs read";
        let (ast, diags) = parse(src);
        assert_eq!(diags.len(), 3, "{diags:?}");
        assert!(ast
            .items
            .iter()
            .any(|i| matches!(i, Item::Feature { name, .. } if name.name == "y")));
    }

    #[test]
    fn precedence_and_binds_tighter_than_or() {
        let (ast, diags) = parse("deny a:b when mfa or own and not relation shared");
        assert!(diags.is_empty());
        let Some(Item::Deny(rule)) = ast.items.first() else {
            panic!()
        };
        assert!(matches!(rule.cond, Some(Cond::Or(_, ref r)) if matches!(**r, Cond::And(..))));
    }
}
