//! Lexer: policy text to tokens with spans.
//!
//! Words are deliberately generous (`patients:read`, `10.20.0.0/16`, `2001:db8::/32`, `mon-fri`,
//! `07:00-19:00`, `500.00`, `15m`) so that the parser can give them meaning by position.

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
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
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
            Tok::Eq => "`==`".into(),
            Tok::Ne => "`!=`".into(),
            Tok::Lt => "`<`".into(),
            Tok::Le => "`<=`".into(),
            Tok::Gt => "`>`".into(),
            Tok::Ge => "`>=`".into(),
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
            while let Some(&(_, c)) = chars.peek() {
                if c == '\n' {
                    break;
                }
                chars.next();
            }
            continue;
        }
        let rest = text.get(start..).unwrap_or("");
        let two = |s: &str| rest.starts_with(s);
        let single = |tok: Tok, len: usize| Token {
            tok,
            span: Span::new(start, start + len),
        };
        if two("->") {
            tokens.push(single(Tok::Arrow, 2));
            chars.next();
            chars.next();
            continue;
        }
        if two("==") || two("!=") || two("<=") || two(">=") {
            let tok = match rest.get(..2) {
                Some("==") => Tok::Eq,
                Some("!=") => Tok::Ne,
                Some("<=") => Tok::Le,
                _ => Tok::Ge,
            };
            tokens.push(single(tok, 2));
            chars.next();
            chars.next();
            continue;
        }
        let punct = match c {
            '{' => Some(Tok::LBrace),
            '}' => Some(Tok::RBrace),
            '[' => Some(Tok::LBracket),
            ']' => Some(Tok::RBracket),
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            ',' => Some(Tok::Comma),
            '=' => Some(Tok::Assign),
            '<' => Some(Tok::Lt),
            '>' => Some(Tok::Gt),
            _ => None,
        };
        if let Some(tok) = punct {
            tokens.push(single(tok, 1));
            chars.next();
            continue;
        }
        if c == '"' {
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
            tokens.push(Token {
                tok: Tok::Str(value),
                span: Span::new(start, end),
            });
            continue;
        }
        if c == '/' {
            let mut end = start;
            while let Some(&(i, c)) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                end = i + c.len_utf8();
                chars.next();
            }
            tokens.push(Token {
                tok: Tok::Path(text.get(start..end).unwrap_or("").to_string()),
                span: Span::new(start, end),
            });
            continue;
        }
        let negative_number = c == '-' && rest.chars().nth(1).is_some_and(|d| d.is_ascii_digit());
        if is_word_start(c) || negative_number {
            let mut end = start;
            while let Some(&(i, c)) = chars.peek() {
                if !is_word_char(c) || text.get(i..).is_some_and(|r| r.starts_with("->")) {
                    break;
                }
                end = i + c.len_utf8();
                chars.next();
            }
            tokens.push(Token {
                tok: Tok::Word(text.get(start..end).unwrap_or("").to_string()),
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
                Tok::Le,
                Tok::Word("-1.5".into()),
                Tok::Word("b".into()),
                Tok::Ne,
                Tok::Word("c".into()),
                Tok::Word("d".into()),
                Tok::Eq,
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
