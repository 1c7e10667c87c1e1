//! Where a browser goes next after signing in (`next`): a path on this site, nothing else.

/// The reserved path prefix of the gateway's own pages.
const PAGES: &str = "/.wardgate/";

/// A safe place to go: `next` when it is a path on this site, else `/`.
pub fn safe_next(next: Option<&str>) -> String {
    safe_next_or(next, "/")
}

/// A page of the console, with no dot segment that could lead out of it.
fn is_console(v: &str) -> bool {
    (v.starts_with(crate::console::PREFIX) || v == crate::console::PREFIX.trim_end_matches('/'))
        && !v
            .split(['/', '?', '#'])
            .any(|s| s == "." || s == ".." || s.to_ascii_lowercase().contains("%2e"))
}

/// A safe place to go: `next` when it is a path on this site, else `home`.
pub fn safe_next_or(next: Option<&str>, home: &str) -> String {
    match next {
        Some(n) if is_local_path(n) => n.to_string(),
        _ => home.to_string(),
    }
}

/// Whether `next` is a path on this site and nothing else: visible ASCII only (no tab, CR or
/// LF, which browsers drop, turning `/\t/evil` into `//evil`), and - as sent and after each
/// decoding - starting with one `/`, without a backslash, and not one of the gateway's pages.
fn is_local_path(next: &str) -> bool {
    if !next.bytes().all(|b| (0x21..0x7f).contains(&b)) {
        return false;
    }
    let mut value = std::borrow::Cow::Borrowed(next);
    for _ in 0..4 {
        let v: &str = &value;
        let bad = !v.starts_with('/')
            || v.starts_with("//")
            || v.contains('\\')
            || v.chars().any(char::is_control)
            || (v.starts_with(PAGES) && !is_console(v));
        if bad {
            return false;
        }
        let decoded = match percent_encoding::percent_decode_str(v).decode_utf8() {
            Ok(d) => d.into_owned(),
            Err(_) => return false,
        };
        if decoded == v {
            return true;
        }
        value = std::borrow::Cow::Owned(decoded);
    }
    // Encoded four times over: no page needs that.
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/api/patients?x=1")), "/api/patients?x=1");
        assert_eq!(safe_next(Some("/api/a%20b")), "/api/a%20b");
        // The console is where an administrator goes back to after signing in.
        assert_eq!(
            safe_next(Some("/.wardgate/console/users?q=ali")),
            "/.wardgate/console/users?q=ali"
        );
        for bad in [
            "//evil.test/",
            "https://evil.test/",
            "https:evil",
            "/\\evil",
            "/%5Cevil",
            "/.wardgate/logout",
            "/.wardgate/console/../logout",
            "/.wardgate/console/%2e%2e/logout",
            "/.wardgate/console/%252e%252e/logout",
            "/.wardgate/consolex",
            "/%2Ewardgate/logout",
            "x",
            "/%09/evil.example/",
            "/\t/evil.example/",
            "/\r\n/evil",
            "%2F%2Fevil",
            "/%2F/evil",
            "/%252F%252Fevil",
            "/ space",
            "/caf\u{e9}",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
