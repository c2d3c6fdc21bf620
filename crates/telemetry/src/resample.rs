//! Bringing a sensor's samples onto the model's hydraulic time step.
//!
//! Only good samples count. A step with no usable data stays empty (`None`):
//! gaps are carried to the model, never filled with invented values.

use crate::quality::Sample;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Mean of the good samples in `[t, t + step)`.
    Mean,
    /// Linear interpolation at `t` between the nearest good samples on
    /// either side, if they are at most `max_gap_ms` apart (an exact hit
    /// always counts).
    Linear { max_gap_ms: i64 },
}

/// Values at `from_ms, from_ms + step_ms, …` (< `to_ms`). `samples` must be
/// sorted by time (as stores return them).
pub fn resample(
    samples: &[Sample],
    from_ms: i64,
    to_ms: i64,
    step_ms: i64,
    method: Method,
) -> Vec<(i64, Option<f64>)> {
    assert!(step_ms > 0, "step must be positive");
    let good: Vec<(i64, f64)> = samples
        .iter()
        .filter(|s| s.quality.is_usable())
        .filter_map(|s| s.value.map(|v| (s.ts_ms, v)))
        .collect();
    let mut out = Vec::new();
    let mut j = 0usize;
    let mut t = from_ms;
    while t < to_ms {
        let v = match method {
            Method::Mean => {
                while j < good.len() && good[j].0 < t {
                    j += 1;
                }
                let (mut sum, mut n, mut k) = (0.0, 0usize, j);
                while k < good.len() && good[k].0 < t + step_ms {
                    sum += good[k].1;
                    n += 1;
                    k += 1;
                }
                (n > 0).then(|| sum / n as f64)
            }
            Method::Linear { max_gap_ms } => {
                while j < good.len() && good[j].0 < t {
                    j += 1;
                }
                match good.get(j) {
                    Some(&(tj, vj)) if tj == t => Some(vj),
                    Some(&(t1, v1)) if j > 0 => {
                        let (t0, v0) = good[j - 1];
                        (t1 - t0 <= max_gap_ms)
                            .then(|| v0 + (v1 - v0) * (t - t0) as f64 / (t1 - t0) as f64)
                    }
                    _ => None,
                }
            }
        };
        out.push((t, v));
        t += step_ms;
    }
    out
}

/// Fills the steps between the readings of a series sampled more sparsely
/// than its grid (e.g. 15-minute readings on a 5-minute model grid), by
/// linear interpolation: the typical spacing `k` (the median number of
/// steps between consecutive readings) is inferred, and a gap of at most
/// `k − 1` steps between two readings is filled. Longer gaps (missing
/// readings) stay missing (`NaN`). Returns `k` (1: nothing to do).
pub fn fill_sparse(values: &mut [f64]) -> usize {
    let at: Vec<usize> = (0..values.len())
        .filter(|&i| values[i].is_finite())
        .collect();
    let mut gaps: Vec<usize> = at.windows(2).map(|w| w[1] - w[0]).collect();
    if gaps.is_empty() {
        return 1;
    }
    gaps.sort_unstable();
    let k = gaps[(gaps.len() - 1) / 2];
    if k <= 1 {
        return 1;
    }
    for w in at.windows(2) {
        let (a, b) = (w[0], w[1]);
        if b - a <= k {
            let (va, vb) = (values[a], values[b]);
            for (i, x) in values.iter_mut().enumerate().take(b).skip(a + 1) {
                *x = va + (vb - va) * (i - a) as f64 / (b - a) as f64;
            }
        }
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quality::Quality;

    #[test]
    fn sparse_readings_are_interpolated_onto_the_grid_gaps_kept() {
        let n = f64::NAN;
        // 15-minute readings on a 5-minute grid, one reading missing.
        let mut v = vec![0.0, n, n, 3.0, n, n, 6.0, n, n, n, n, n, 12.0];
        assert_eq!(fill_sparse(&mut v), 3);
        assert_eq!(&v[..7], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert!(
            v[7..12].iter().all(|x| x.is_nan()),
            "a missing reading stays a gap"
        );
        // Readings on every step: nothing to do.
        let mut w = vec![1.0, 2.0, n, 4.0];
        assert_eq!(fill_sparse(&mut w), 1);
        assert!(w[2].is_nan());
    }

    #[test]
    fn mean_and_linear_keep_gaps() {
        let mut s: Vec<Sample> = (0..10)
            .map(|i| Sample::good("a", i * 60_000, i as f64))
            .collect();
        s[5].quality = Quality::Timeout;
        s[5].value = None;
        let m = resample(&s, 0, 600_000, 300_000, Method::Mean);
        assert_eq!(m, vec![(0, Some(2.0)), (300_000, Some(7.5))]);
        let l = resample(
            &s,
            0,
            900_000,
            150_000,
            Method::Linear { max_gap_ms: 60_000 },
        );
        assert_eq!(l[0], (0, Some(0.0)));
        assert_eq!(l[1], (150_000, Some(2.5)));
        assert_eq!(l[2], (300_000, None)); // sample 5 was bad: its neighbours are 120 s apart, more than 60 s
        assert_eq!(l[5], (750_000, None)); // past the data
    }
}
