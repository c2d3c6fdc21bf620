//! Printed figures: fixed decimals, never a negative zero.

use std::fmt;

/// `value` printed with `decimals` places. A value that rounds to zero at
/// that precision prints unsigned (`0.000`, never `-0.000`).
#[derive(Debug, Clone, Copy)]
pub struct Fixed(pub f64, pub usize);

impl fmt::Display for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Fixed(x, d) = *self;
        // At exactly half a unit of the last place, `{:.d}` rounds to even,
        // that is to zero: `<=` matches it.
        let x = if x.abs() * 10f64.powi(d as i32) <= 0.5 {
            0.0
        } else {
            x
        };
        write!(f, "{x:.d$}")
    }
}

/// `x` with a negative zero made positive, for full-precision output.
pub fn unsigned_zero(x: f64) -> f64 {
    if x == 0.0 {
        0.0
    } else {
        x
    }
}

#[cfg(test)]
mod tests {
    use super::Fixed;

    #[test]
    fn no_negative_zero() {
        assert_eq!(Fixed(-0.0, 2).to_string(), "0.00");
        assert_eq!(Fixed(-0.0004, 3).to_string(), "0.000");
        assert_eq!(Fixed(-0.0005, 3).to_string(), "0.000");
        assert_eq!(Fixed(-0.0006, 3).to_string(), "-0.001");
        assert_eq!(Fixed(-1.25, 1).to_string(), "-1.2");
        assert_eq!(Fixed(19.3551, 2).to_string(), "19.36");
        assert_eq!(Fixed(f64::NAN, 2).to_string(), "NaN");
        assert_eq!(Fixed(-3e-7, 6).to_string(), "0.000000");
        assert_eq!(super::unsigned_zero(-0.0).to_string(), "0");
        assert_eq!(super::unsigned_zero(-2.5).to_string(), "-2.5");
    }
}
