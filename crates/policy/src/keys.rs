//! Order-preserving byte keys for attribute values, as the Wasm contract carries them:
//! comparing two keys bytewise compares the values, so a policy module needs only `memcmp`.

use rust_decimal::Decimal;

use crate::request::AttrValue;

/// The key of an exact decimal. `-1.5 < 0 < 0.12 < 0.123 < 1 < 10` as byte strings, and equal
/// values (`500`, `500.00`) have equal keys.
///
/// Layout: a sign byte (`0x40` negative, `0x80` zero, `0xC0` positive); for non-zero values the
/// decimal exponent `e` of `0.d1d2..dn x 10^e` as a big-endian `u16` biased by `0x8000`, each
/// digit plus one, and a `0x00` terminator. Negative values invert every byte after the sign.
pub fn decimal_key(d: Decimal) -> Vec<u8> {
    let d = d.normalize();
    if d.is_zero() {
        return vec![0x80];
    }
    let digits = d.mantissa().unsigned_abs().to_string();
    let scale = i64::from(d.scale());
    let len = i64::try_from(digits.len()).unwrap_or(0);
    let e = u16::try_from(len - scale + 0x8000).unwrap_or(0x8000);
    let mut body = Vec::with_capacity(digits.len() + 3);
    body.extend_from_slice(&e.to_be_bytes());
    body.extend(digits.bytes().map(|b| b - b'0' + 1));
    body.push(0);
    let mut key = Vec::with_capacity(body.len() + 1);
    if d.is_sign_negative() {
        key.push(0x40);
        key.extend(body.iter().map(|b| !b));
    } else {
        key.push(0xC0);
        key.extend(body);
    }
    key
}

/// The key of an attribute value, or `None` when it is missing or of the wrong type.
pub fn attr_key(v: &AttrValue) -> Option<Vec<u8>> {
    match v {
        AttrValue::Missing | AttrValue::Invalid => None,
        AttrValue::Str(s) => Some(s.as_bytes().to_vec()),
        AttrValue::Dec(d) => Some(decimal_key(*d)),
        AttrValue::Bool(b) => Some(vec![u8::from(*b)]),
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use proptest::prelude::*;

    use super::*;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn orders_like_the_numbers() {
        let sorted = [
            "-1000", "-10.5", "-10", "-1", "-0.5", "-0.05", "0", "0.05", "0.12", "0.123", "0.5",
            "1", "1.0001", "9.99", "10", "499.99", "500", "500.01", "1000",
        ];
        for w in sorted.windows(2) {
            assert!(
                decimal_key(dec(w[0])) < decimal_key(dec(w[1])),
                "{} < {}",
                w[0],
                w[1]
            );
        }
        assert_eq!(decimal_key(dec("500")), decimal_key(dec("500.000")));
        assert_eq!(decimal_key(dec("-0.0")), decimal_key(dec("0")));
    }

    proptest! {
        #[test]
        fn keys_compare_as_values(a in any::<i64>(), sa in 0u32..20, b in any::<i64>(), sb in 0u32..20) {
            let (x, y) = (Decimal::new(a, sa), Decimal::new(b, sb));
            prop_assert_eq!(x.cmp(&y), decimal_key(x).cmp(&decimal_key(y)));
        }
    }
}
