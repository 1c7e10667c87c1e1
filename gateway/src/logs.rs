//! The gateway's own log: text for people or JSON lines for machines. In the text log every
//! control character (a newline or a carriage return in an email, a reason, a path, a user
//! agent) is written escaped (`\n`, `\r`, `\t`, `\u{1b}`), as are Unicode line separators and
//! direction overrides, so nobody can forge a line or hide one; JSON escapes by its nature.

use std::io::{self, Write};

use tracing_subscriber::fmt::MakeWriter;

/// Writes each formatted record to `inner` with its control characters escaped, keeping the
/// record's own final newline.
#[derive(Debug)]
pub struct Escaped<W>(W);

fn escaped(record: &str) -> String {
    let (body, newline) = match record.strip_suffix('\n') {
        Some(b) => (b, "\n"),
        None => (record, ""),
    };
    let mut out = String::with_capacity(record.len() + 8);
    for c in body.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control()
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
            {
                out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push_str(newline);
    out
}

impl<W: Write> Write for Escaped<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(escaped(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// Standard error, escaped.
#[derive(Debug, Clone, Copy, Default)]
pub struct EscapedStderr;

impl<'a> MakeWriter<'a> for EscapedStderr {
    type Writer = Escaped<io::StderrLock<'static>>;

    fn make_writer(&'a self) -> Self::Writer {
        Escaped(io::stderr().lock())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped_and_the_last_newline_kept() {
        assert_eq!(
            escaped("login failed for a@x.com\nINFO admin signed in\r\t\u{1b}[31m\u{202e}\n"),
            "login failed for a@x.com\\nINFO admin signed in\\r\\t\\u{1b}[31m\\u{202e}\n"
        );
        assert_eq!(escaped("plain ünïcode"), "plain ünïcode");
    }
}
