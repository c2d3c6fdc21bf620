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

/// Siegmund's approximation of a one-sided CUSUM's average run length, in
/// steps, for a shift of the mean by `delta` standard deviations, with
/// reference value `k` and threshold `h`:
/// (e^(−2Δb) + 2Δb − 1) / (2Δ²), Δ = delta − k, b = h + 1.166 (b² at Δ = 0).
pub(super) fn average_run_length(delta: f64, k: f64, h: f64) -> f64 {
    let d = delta - k;
    let b = h + 1.166;
    if d.abs() < 1e-9 {
        return b * b;
    }
    ((-2.0 * d * b).exp() + 2.0 * d * b - 1.0) / (2.0 * d * d)
}

/// The smallest shift of the mean (standard deviations) that the CUSUM
/// alarms on within `steps` on average.
pub(super) fn detectable_shift(steps: f64, k: f64, h: f64) -> f64 {
    let (mut lo, mut hi) = (0.0, 1e3);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if average_run_length(mid, k, h) <= steps {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The run length of the CUSUM on simulated unit-normal noise shifted by
    /// `delta` (xorshift and Box–Muller; mean over `runs`).
    fn simulated_run_length(delta: f64, k: f64, h: f64, runs: usize) -> f64 {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut uniform = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let mut total = 0usize;
        for _ in 0..runs {
            let mut s = 0.0;
            let mut n = 0;
            while s <= h {
                let z =
                    (-2.0 * uniform().ln()).sqrt() * (2.0 * std::f64::consts::PI * uniform()).cos();
                s = cusum_update(s, z + delta, k);
                n += 1;
            }
            total += n;
        }
        total as f64 / runs as f64
    }

    #[test]
    fn average_run_length_matches_simulation() {
        for (delta, h) in [(0.0, 4.0), (1.0, 4.0), (1.0, 10.0), (2.0, 10.0)] {
            let sim = simulated_run_length(delta, 0.5, h, 4000);
            let approx = average_run_length(delta, 0.5, h);
            assert!(
                (approx / sim - 1.0).abs() < 0.05,
                "delta {delta} h {h}: approximation {approx}, simulation {sim}"
            );
        }
        let d = detectable_shift(24.0, 0.5, 10.0);
        assert!((average_run_length(d, 0.5, 10.0) - 24.0).abs() < 1e-6);
    }

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
