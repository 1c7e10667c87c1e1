//! The one duration grammar of Wardgate - the policy language, the configuration and the
//! command line all read durations so: digits and a unit, `250ms`, `30s`, `15m`, `4h`, `90d`.

use std::time::Duration;

/// Why a duration does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("`{0}` is not a duration like 250ms, 30s, 15m, 4h or 90d")]
    Syntax(String),
    #[error("`{0}` has no unit; write 250ms, 30s, 15m, 4h or 90d")]
    NoUnit(String),
    #[error("`{0}` is longer than a hundred years")]
    TooLong(String),
}

/// The longest duration anything accepts: far from the integer limits of date arithmetic.
pub const MAX: Duration = Duration::from_secs(100 * 366 * 86_400);

/// Reads a duration: digits and one of `ms`, `s`, `m`, `h`, `d`. Zero reads (callers that need
/// more say so).
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let s = text.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let syntax = || DurationError::Syntax(s.to_string());
    if digits.is_empty() {
        return Err(syntax());
    }
    let n: u64 = digits
        .parse()
        .map_err(|_| DurationError::TooLong(s.to_string()))?;
    if unit.is_empty() {
        return Err(DurationError::NoUnit(s.to_string()));
    }
    let millis = match unit {
        "ms" => Some(n),
        "s" => n.checked_mul(1000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "d" => n.checked_mul(86_400_000),
        _ => return Err(syntax()),
    };
    millis
        .map(Duration::from_millis)
        .filter(|d| *d <= MAX)
        .ok_or_else(|| DurationError::TooLong(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_reads_and_nonsense_does_not() {
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse(" 4h "), Ok(Duration::from_secs(4 * 3600)));
        assert_eq!(parse("90d"), Ok(Duration::from_secs(90 * 86_400)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
        assert!(matches!(parse("10"), Err(DurationError::NoUnit(_))));
        for bad in ["", "h", "1.5h", "-1h", "1w", "10 m", "1hh"] {
            assert!(matches!(parse(bad), Err(DurationError::Syntax(_))), "{bad}");
        }
        assert!(matches!(
            parse("99999999999999999999d"),
            Err(DurationError::TooLong(_))
        ));
        assert!(matches!(parse("36700d"), Err(DurationError::TooLong(_))));
    }
}
