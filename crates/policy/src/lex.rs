//! Lexer: policy text to tokens with spans.
//!
//! Words are deliberately generous (`patients:read`, `10.20.0.0/16`, `2001:db8::/32`, `mon-fri`,
//! `07:00-19:00`, `500.00`, `15m`) so that the parser can give them meaning by position.

use crate::ast::CmpOp;
use crate::diag::{Code, Diagnostic, Span};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    /// A bare word: keyword, identifier, action, number, network, day range, duration.
    Word(String),
    /// A double-quoted string, unescaped.
    Str(String),
    /// A route path pattern starting with `/`.
    Path(String),
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    LParen,
    RParen,
    Comma,
    Assign,
    /// `==`, `!=`, `<`, `<=`, `>`, `>=`.
    Cmp(CmpOp),
    Arrow,
    Eof,
}

impl Tok {
    /// How the token reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("`{w}`"),
            Tok::Str(s) => format!("string \"{s}\""),
            Tok::Path(p) => format!("path `{p}`"),
            Tok::LBrace => "`{`".into(),
            Tok::RBrace => "`}`".into(),
            Tok::LBracket => "`[`".into(),
            Tok::RBracket => "`]`".into(),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::Comma => "`,`".into(),
            Tok::Assign => "`=`".into(),
            Tok::Cmp(op) => format!("`{}`", op.as_str()),
            Tok::Arrow => "`->`".into(),
            Tok::Eof => "end of file".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub tok: Tok,
    pub span: Span,
}

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '*')
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '*' | '.' | '/' | '-' | '+')
}

/// Splits `text` into tokens. Problems are collected, never fatal: the lexer skips what it
/// cannot read so that the parser can report everything else too.
pub fn lex(text: &str, diags: &mut Vec<Diagnostic>) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '#' {
            while chars.next_if(|&(_, c)| c != '\n').is_some() {}
            continue;
        }
        let rest = text.get(start..).unwrap_or("");
        if let Some((tok, len)) = operator(rest) {
            tokens.push(Token {
                tok,
                span: Span::new(start, start + len),
            });
            for _ in 0..len {
                chars.next();
            }
            continue;
        }
        if c == '"' {
            tokens.push(string(start, &mut chars, diags));
            continue;
        }
        let negative_number = c == '-' && rest.chars().nth(1).is_some_and(|d| d.is_ascii_digit());
        if c == '/' || is_word_start(c) || negative_number {
            let path = c == '/';
            let end = take_while(&mut chars, start, |i, c| {
                if path {
                    !c.is_whitespace()
                } else {
                    is_word_char(c) && !text.get(i..).is_some_and(|r| r.starts_with("->"))
                }
            });
            let word = text.get(start..end).unwrap_or("").to_string();
            tokens.push(Token {
                tok: if path {
                    Tok::Path(word)
                } else {
                    Tok::Word(word)
                },
                span: Span::new(start, end),
            });
            continue;
        }
        chars.next();
        diags.push(
            Diagnostic::error(
                Code::UnexpectedCharacter,
                Span::new(start, start + c.len_utf8()),
                format!("unexpected character `{}`", c.escape_debug()),
            )
            .label("not part of the policy language"),
        );
    }
    let end = text.len();
    tokens.push(Token {
        tok: Tok::Eof,
        span: Span::new(end, end),
    });
    tokens
}

type Chars<'a> = std::iter::Peekable<std::str::CharIndices<'a>>;

/// An arrow, a comparison or a punctuation mark at the start of `rest`, with its length.
fn operator(rest: &str) -> Option<(Tok, usize)> {
    let two = match rest.get(..2) {
        Some("->") => Some(Tok::Arrow),
        Some("==") => Some(Tok::Cmp(CmpOp::Eq)),
        Some("!=") => Some(Tok::Cmp(CmpOp::Ne)),
        Some("<=") => Some(Tok::Cmp(CmpOp::Le)),
        Some(">=") => Some(Tok::Cmp(CmpOp::Ge)),
        _ => None,
    };
    if let Some(tok) = two {
        return Some((tok, 2));
    }
    let one = match rest.chars().next()? {
        '{' => Tok::LBrace,
        '}' => Tok::RBrace,
        '[' => Tok::LBracket,
        ']' => Tok::RBracket,
        '(' => Tok::LParen,
        ')' => Tok::RParen,
        ',' => Tok::Comma,
        '=' => Tok::Assign,
        '<' => Tok::Cmp(CmpOp::Lt),
        '>' => Tok::Cmp(CmpOp::Gt),
        _ => return None,
    };
    Some((one, 1))
}

/// Consumes characters while `keep` holds; returns where the run ends.
fn take_while(chars: &mut Chars<'_>, start: usize, keep: impl Fn(usize, char) -> bool) -> usize {
    let mut end = start;
    while let Some((i, c)) = chars.next_if(|&(i, c)| keep(i, c)) {
        end = i + c.len_utf8();
    }
    end
}

/// A string literal from its opening quote at `start`: `\n`, `\t` and `\<c>` escapes, ended
/// by a quote on the same line (an unterminated one is reported and kept as far as it goes).
fn string(start: usize, chars: &mut Chars<'_>, diags: &mut Vec<Diagnostic>) -> Token {
    chars.next();
    let mut value = String::new();
    let mut closed = false;
    let mut end = start + 1;
    while let Some((i, c)) = chars.next() {
        end = i + c.len_utf8();
        match c {
            '"' => {
                closed = true;
                break;
            }
            '\\' => match chars.next() {
                Some((j, e)) => {
                    end = j + e.len_utf8();
                    match e {
                        'n' => value.push('\n'),
                        't' => value.push('\t'),
                        other => value.push(other),
                    }
                }
                None => break,
            },
            '\n' => break,
            other => value.push(other),
        }
    }
    if !closed {
        diags.push(
            Diagnostic::error(
                Code::UnterminatedString,
                Span::new(start, end),
                "unterminated string",
            )
            .label("this string has no closing quote")
            .hint("close the string with `\"` on the same line"),
        );
    }
    Token {
        tok: Tok::Str(value),
        span: Span::new(start, end),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<Tok> {
        let mut d = Vec::new();
        let toks = lex(text, &mut d);
        assert!(d.is_empty(), "{d:?}");
        toks.into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn lexes_networks_days_and_routes() {
        let toks = words("from 10.20.0.0/16, 2001:db8::/32 during mon-fri 07:00-19:00");
        assert_eq!(toks[1], Tok::Word("10.20.0.0/16".into()));
        assert_eq!(toks[3], Tok::Word("2001:db8::/32".into()));
        assert_eq!(toks[5], Tok::Word("mon-fri".into()));
        assert_eq!(toks[6], Tok::Word("07:00-19:00".into()));
        let toks = words("route POST /api/c/{id}/approve -> charges:approve amount = json \"/a\"");
        assert_eq!(toks[2], Tok::Path("/api/c/{id}/approve".into()));
        assert_eq!(toks[3], Tok::Arrow);
        assert_eq!(toks[6], Tok::Assign);
    }

    #[test]
    fn comparison_operators_and_negative_numbers() {
        let toks = words("a<=-1.5 b!=c d==\"x\\\"y\"");
        assert_eq!(
            toks,
            vec![
                Tok::Word("a".into()),
                Tok::Cmp(CmpOp::Le),
                Tok::Word("-1.5".into()),
                Tok::Word("b".into()),
                Tok::Cmp(CmpOp::Ne),
                Tok::Word("c".into()),
                Tok::Word("d".into()),
                Tok::Cmp(CmpOp::Eq),
                Tok::Str("x\"y".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn reports_bad_characters_and_keeps_going() {
        let mut d = Vec::new();
        let toks = lex("role \"x\" { ; allow a:b }\n\"open", &mut d);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].code, "unexpected-character");
        assert_eq!(d[1].code, "unterminated-string");
        assert!(toks.iter().any(|t| t.tok == Tok::Word("a:b".into())));
    }
}
