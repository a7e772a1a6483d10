//! `f64` rounding without `std` (core's float rounding is not stable yet).
//! Inputs are times and scroll offsets, far inside `i64`. And decimal
//! numbers read from storage, attributes and headers.

/// A decimal `u64` (ASCII digits only, no sign, no overflow), without core's
/// generic `FromStr` machinery. Overflow is checked before multiplying:
/// `u64::checked_mul` links compiler-rt's 128-bit multiplication
/// (`__multi3`) into what pages download.
pub fn parse_u64(s: &str) -> Option<u64> {
    let mut n: u64 = 0;
    for &b in s.as_bytes() {
        let d = b.wrapping_sub(b'0');
        if d > 9 || n > u64::MAX / 10 {
            return None;
        }
        n = (n * 10).checked_add(u64::from(d))?;
    }
    // (Nothing at all is no number.)
    (!s.is_empty()).then_some(n)
}

/// Rounds half away from zero, like `f64::round`.
pub fn round(x: f64) -> f64 {
    if x >= 0.0 {
        (x + 0.5) as i64 as f64
    } else {
        -((-x + 0.5) as i64 as f64)
    }
}

/// The smallest whole number not below `x`, like `f64::ceil`.
pub fn ceil(x: f64) -> f64 {
    let t = x as i64 as f64;
    if t < x {
        t + 1.0
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_u64_agrees_with_std_on_plain_decimals_and_refuses_the_rest() {
        for n in [
            0u64,
            7,
            42,
            1_700_000_000_000,
            u64::MAX / 10,
            u64::MAX - 1,
            u64::MAX,
        ] {
            assert_eq!(parse_u64(&n.to_string()), Some(n));
        }
        for bad in [
            "",
            " 1",
            "1 ",
            "+1",
            "-1",
            "1.5",
            "x",
            "18446744073709551616",
            "18446744073709551620",
            "99999999999999999999",
            "１",
        ] {
            assert_eq!(parse_u64(bad), None, "{bad:?}");
        }
        for s in [
            "0",
            "00",
            "0042",
            "1844674407370955161",
            "1844674407370955162",
        ] {
            assert_eq!(parse_u64(s), s.parse::<u64>().ok(), "{s:?}");
        }
    }

    #[test]
    fn agree_with_std() {
        for x in [
            0.0,
            0.4,
            0.5,
            0.6,
            1.0,
            1.49,
            1.5,
            2.5,
            99.999,
            1e12 + 0.5,
            -0.4,
            -0.5,
            -0.6,
            -1.0,
            -1.5,
            -2.5,
            -99.2,
        ] {
            assert_eq!(round(x), x.round(), "round({x})");
            assert_eq!(ceil(x), x.ceil(), "ceil({x})");
        }
    }
}
