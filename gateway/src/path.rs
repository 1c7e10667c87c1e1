//! The request path as the policy decides it and the app receives it: dot segments removed
//! (RFC 3986 section 5.2.4) before routing, and encodings that an app could read as another
//! path - an encoded `/` or `\`, a raw `\`, an encoded dot segment, an encoded NUL, or the same
//! encoded twice - refused unless `[proxy] encoded_slashes = "pass"`.

use crate::config::EncodedSlashes;

/// Why a path is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// `%2F`, `%5C`, a raw `\`, or either encoded twice: the app may split the segment.
    EncodedSeparator,
    /// `%2E` in a `.` or `..` segment: the app may climb out of the route decided.
    EncodedDotSegment,
    /// `%00`.
    EncodedNul,
}

impl Refused {
    pub fn message(self) -> &'static str {
        match self {
            Refused::EncodedSeparator => "the path has an encoded or backslash separator",
            Refused::EncodedDotSegment => "the path has an encoded dot segment",
            Refused::EncodedNul => "the path has an encoded NUL",
        }
    }
}

/// How many `/` a path has, and how many of its segments are `.` or `..`.
fn shape(path: &[u8]) -> (usize, usize) {
    let slashes = path.iter().filter(|b| **b == b'/').count();
    let dots = path
        .split(|b| *b == b'/')
        .filter(|s| *s == b"." || *s == b"..")
        .count();
    (slashes, dots)
}

/// How deep encodings are followed: an app that decodes more often than this is not served.
const MAX_DECODINGS: usize = 4;

/// Checks how a path is encoded; `Ok` when no decoding of it - once, or again as an app that
/// decodes twice would - makes a new separator, a backslash, a NUL or a dot segment. Escapes of
/// escapes (`%252F`, `%25%32%46`) are caught because each decoding is compared with the one
/// before, not the text with a list of spellings.
fn check_encoding(path: &str) -> Result<(), Refused> {
    // Most paths have no escape at all: nothing to decode.
    if !path.contains(['%', '\\']) {
        return Ok(());
    }
    let mut before = path.as_bytes().to_vec();
    if before.contains(&b'\\') {
        return Err(Refused::EncodedSeparator);
    }
    for _ in 0..MAX_DECODINGS {
        let after: Vec<u8> = percent_encoding::percent_decode(&before).collect();
        if after == before {
            return Ok(());
        }
        if after.contains(&0) {
            return Err(Refused::EncodedNul);
        }
        let ((s0, d0), (s1, d1)) = (shape(&before), shape(&after));
        if after.contains(&b'\\') || s1 > s0 {
            return Err(Refused::EncodedSeparator);
        }
        if d1 > d0 {
            return Err(Refused::EncodedDotSegment);
        }
        before = after;
    }
    // Still changing after that many decodings: nothing legitimate is encoded so deep.
    Err(Refused::EncodedSeparator)
}

/// Removes `.` and `..` segments; `..` never climbs above the root.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "." => {
                if i == last {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if i == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

/// The path to route and forward: `Ok(None)` when it stays as sent, `Ok(Some(p))` when dot
/// segments were removed, `Err` when it is refused.
pub fn normalize(path: &str, mode: EncodedSlashes) -> Result<Option<String>, Refused> {
    if mode == EncodedSlashes::Refuse {
        check_encoding(path)?;
    }
    let dotted = path.split('/').any(|s| s == "." || s == "..");
    if !dotted {
        return Ok(None);
    }
    Ok(Some(remove_dot_segments(path)))
}

/// Rewrites a request's URI to a normalized path, keeping the query.
pub fn apply(uri: &mut http::Uri, mode: EncodedSlashes) -> Result<(), Refused> {
    let Some(path) = normalize(uri.path(), mode)? else {
        return Ok(());
    };
    let pq = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let mut parts = std::mem::take(uri).into_parts();
    parts.path_and_query = pq.parse().ok();
    *uri = http::Uri::from_parts(parts).map_err(|_| Refused::EncodedSeparator)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_go_and_tricky_encodings_are_refused() {
        let r = EncodedSlashes::Refuse;
        assert_eq!(normalize("/api/patients", r), Ok(None));
        assert_eq!(
            normalize("/api/patients/../users", r),
            Ok(Some("/api/users".into()))
        );
        assert_eq!(normalize("/a/./b/", r), Ok(Some("/a/b/".into())));
        assert_eq!(normalize("/../../etc", r), Ok(Some("/etc".into())));
        assert_eq!(normalize("/a/b/..", r), Ok(Some("/a/".into())));
        assert_eq!(normalize("/a/%41b", r), Ok(None));
        for bad in [
            "/api/patients/..%2F..%2Fusers",
            "/api/patients/..%2f..%2fusers",
            "/api/patients%5C..%5Cusers",
            "/api\\users",
            "/api/%252F",
            "/api/patients/..%25%32%46users",
            "/api/patients/..%252%46users",
            "/api/patients/..%25%32Fusers",
            "/api/x%25%35%43y",
            "/api/%25252F",
            "/api/%2525252525252F",
        ] {
            assert_eq!(normalize(bad, r), Err(Refused::EncodedSeparator), "{bad}");
        }
        for bad in [
            "/api/%2e%2e/users",
            "/api/.%2E/users",
            "/api/%2e/x",
            "/a/%252e%252e/b",
        ] {
            assert_eq!(normalize(bad, r), Err(Refused::EncodedDotSegment), "{bad}");
        }
        assert_eq!(normalize("/a%00b", r), Err(Refused::EncodedNul));
        assert_eq!(normalize("/a%25%30%30b", r), Err(Refused::EncodedNul));
        // Encodings that make nothing new pass: a space, a percent sign, a dot in a name.
        assert_eq!(normalize("/api/a%20b/c%25d/e%2Ef", r), Ok(None));
        // `pass` forwards encodings as sent, but still removes plain dot segments.
        let p = EncodedSlashes::Pass;
        assert_eq!(normalize("/api/a%2Fb", p), Ok(None));
        assert_eq!(
            normalize("/api/x/../a%2Fb", p),
            Ok(Some("/api/a%2Fb".into()))
        );
    }

    #[test]
    fn the_query_stays() {
        let mut uri: http::Uri = "/api/x/../patients?q=1".parse().unwrap();
        apply(&mut uri, EncodedSlashes::Refuse).unwrap();
        assert_eq!(uri.to_string(), "/api/patients?q=1");
    }
}
