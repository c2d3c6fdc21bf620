//! The alarm statistic (step 4 of the method): one-sided CUSUM on the
//! standardized hourly balance excess, and the change point that estimates
//! when the shift began. Pure functions on numbers; no I/O.

/// One CUSUM step: the statistic after the standardized value `z`, with
/// reference value `k` (never below 0).
pub(super) fn cusum_update(s: f64, z: f64, k: f64) -> f64 {
    (s + z - k).max(0.0)
}

/// The most likely start of a step increase of the mean in the
/// standardized values `zs`: the index `i` maximizing (Σ zs[i..])² / n over
/// the tails with a positive sum (the last index when there is none).
pub(super) fn change_point(zs: &[f64]) -> usize {
    let mut best = (f64::NEG_INFINITY, zs.len().saturating_sub(1));
    let mut tail = 0.0;
    for (i, z) in zs.iter().enumerate().rev() {
        tail += z;
        let n = (zs.len() - i) as f64;
        let stat = if tail > 0.0 { tail * tail / n } else { 0.0 };
        if stat > best.0 {
            best = (stat, i);
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cusum_accumulates_above_the_reference_and_resets_at_zero() {
        let s = [1.5, 1.5, -3.0]
            .iter()
            .fold(vec![0.0], |mut v: Vec<f64>, &z| {
                v.push(cusum_update(*v.last().unwrap(), z, 0.5));
                v
            });
        assert_eq!(s, vec![0.0, 1.0, 2.0, 0.0]);
    }

    #[test]
    fn change_point_finds_the_start_of_a_shift() {
        let mut zs = vec![0.1, -0.2, 0.0, 0.2, -0.1, -0.3];
        zs.extend([2.0, 2.2, 1.8, 2.1]);
        assert_eq!(change_point(&zs), 6);
        // No positive tail: the last value.
        assert_eq!(change_point(&[-1.0, -2.0]), 1);
    }
}
