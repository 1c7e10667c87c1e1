//! Checks on what administrators type: emails and NPIs.

/// A plausible email address: one `@`, a local part, a dotted domain, no spaces.
pub fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && email.len() <= 254
        && !email.contains(char::is_whitespace)
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

/// A National Provider Identifier: 10 digits whose last is the Luhn check digit of the first
/// nine prefixed with 80840 (the card issuer prefix for health applications).
pub fn valid_npi(npi: &str) -> bool {
    if npi.len() != 10 || !npi.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let digits: Vec<u32> = npi.bytes().map(|b| u32::from(b - b'0')).collect();
    let Some((&check, body)) = digits.split_last() else {
        return false;
    };
    // 80840 contributes a constant 24 to the Luhn sum.
    let mut sum = 24;
    for (i, d) in body.iter().rev().enumerate() {
        let v = if i % 2 == 0 {
            let x = d * 2;
            if x > 9 {
                x - 9
            } else {
                x
            }
        } else {
            *d
        };
        sum += v;
    }
    (10 - sum % 10) % 10 == check
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npi_check_digit() {
        // The CMS example NPI.
        assert!(valid_npi("1234567893"));
        assert!(!valid_npi("1234567890"));
        assert!(!valid_npi("123456789"));
        assert!(!valid_npi("12345678a3"));
    }

    #[test]
    fn emails() {
        assert!(valid_email("jadams@kareotest.com"));
        assert!(!valid_email("jadams"));
        assert!(!valid_email("j adams@x.com"));
        assert!(!valid_email("j@x"));
        assert!(!valid_email("@x.com"));
    }
}
