//! `f64` rounding without `std` (core's float rounding is not stable yet).
//! Inputs are times and scroll offsets, far inside `i64`.

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
