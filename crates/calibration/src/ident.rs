//! Identifiability: singular values of the weighted Jacobian, parameter
//! covariance and correlations, and a coarser grouping for parameters the
//! sensors cannot separate (agglomerative clustering of the normalized
//! Jacobian columns).

use nalgebra::{DMatrix, SymmetricEigen};

/// Covariance of the estimate (posterior, with the prior precision `P`),
/// and the data-only standard deviations from the pseudo-inverse of `JᵀJ`
/// (infinite for directions the data do not see; they decide
/// identifiability).
///
/// The posterior is `s² (JᵀJ + P)⁻¹` when the residuals are independent.
/// They are not when the model is wrong: a misfit shared by the sensors at
/// one time, and lasting for hours, repeats in thousands of readings that
/// then count as independent evidence. Given the residuals, the posterior
/// is the sandwich `A⁻¹ (S + P) A⁻¹` (`A = JᵀJ + P`), `S` the covariance
/// of the scores summed per time step with their serial correlation
/// ([`score_covariance`]); each variance is at least the independent one.
pub(crate) struct Covariance {
    pub(crate) posterior: DMatrix<f64>,
    pub(crate) data_sd: Vec<f64>,
    pub(crate) singular_values: Vec<f64>,
    /// Lags of serial correlation the posterior allows for (0: none, or
    /// the residuals were not given).
    pub(crate) lags: usize,
}

/// The weighted residuals at the estimate, each with its time step: what
/// makes the posterior robust to correlated misfit.
pub(crate) struct Residuals<'a> {
    pub(crate) values: &'a [f64],
    pub(crate) times: &'a [usize],
    pub(crate) n_times: usize,
}

pub(crate) fn covariance(
    jac: &DMatrix<f64>,
    prior_sd: &[f64],
    s2: f64,
    residuals: Option<Residuals>,
) -> Covariance {
    let n = jac.ncols();
    let jtj = jac.tr_mul(jac);
    let eig = SymmetricEigen::new(jtj.clone());
    let mut sv: Vec<f64> = eig.eigenvalues.iter().map(|l| l.max(0.0).sqrt()).collect();
    sv.sort_by(|a, b| b.total_cmp(a));
    let lmax = eig.eigenvalues.iter().copied().fold(0.0, f64::max);
    let mut data_sd = vec![0.0; n];
    for (j, sd) in data_sd.iter_mut().enumerate() {
        let mut v = 0.0;
        for (k, &l) in eig.eigenvalues.iter().enumerate() {
            let u = eig.eigenvectors[(j, k)];
            if l > lmax * 1e-12 && l > 0.0 {
                v += u * u / l;
            } else if u.abs() > 1e-6 {
                v = f64::INFINITY;
            }
        }
        *sd = (s2 * v).sqrt();
    }
    let mut a = jtj;
    for j in 0..n {
        a[(j, j)] += 1.0 / prior_sd[j].powi(2);
    }
    let (posterior, lags) = match a.try_inverse() {
        Some(a_inv) => posterior(&a_inv, s2, jac, prior_sd, residuals),
        None => (DMatrix::from_diagonal_element(n, n, f64::INFINITY), 0),
    };
    Covariance {
        posterior,
        data_sd,
        singular_values: sv,
        lags,
    }
}

/// The posterior from `A⁻¹`: independent (`s² A⁻¹`) without residuals,
/// else the sandwich with no variance below the independent one (residuals
/// smaller than the stated noise do not make the estimate surer than that
/// noise allows). Returns it and the lags allowed for.
fn posterior(
    a_inv: &DMatrix<f64>,
    s2: f64,
    jac: &DMatrix<f64>,
    prior_sd: &[f64],
    residuals: Option<Residuals>,
) -> (DMatrix<f64>, usize) {
    let independent = a_inv * s2;
    let Some(res) = residuals else {
        return (independent, 0);
    };
    let (mut s, lags) = score_covariance(jac, &res);
    for (j, sd) in prior_sd.iter().enumerate() {
        s[(j, j)] += 1.0 / sd.powi(2);
    }
    let mut robust = a_inv * s * a_inv;
    let mut scale = Vec::with_capacity(prior_sd.len());
    for j in 0..prior_sd.len() {
        let (r, i) = (robust[(j, j)], independent[(j, j)]);
        if !(r > 0.0 && r.is_finite()) {
            return (independent, 0);
        }
        scale.push((i / r).sqrt().max(1.0));
    }
    for (j, sj) in scale.iter().enumerate() {
        for (k, sk) in scale.iter().enumerate() {
            robust[(j, k)] *= sj * sk;
        }
    }
    (robust, lags)
}

/// The covariance `S` of the scores `g_t = Σ J_i r_i` (the rows `i` of time
/// step `t`), robust to residuals correlated across sensors at one time
/// (summed per step) and over time: Newey and West's estimator with the
/// Bartlett kernel, `S = Γ₀ + Σ_{l=1..L} (1 − l/(L+1)) (Γ_l + Γ_lᵀ)`,
/// `Γ_l = Σ_t g_t g_{t−l}ᵀ`. The bandwidth `L` follows Andrews (1991)'s
/// plug-in rule for the Bartlett kernel with an AR(1) fitted to each score
/// component: `L = 1.1447 (α T)^{1/3}`,
/// `α = Σ 4ρ²σ⁴/((1−ρ)⁶(1+ρ)²) / Σ σ⁴/(1−ρ)⁴`. Returns `S` and `L`.
pub(crate) fn score_covariance(jac: &DMatrix<f64>, res: &Residuals) -> (DMatrix<f64>, usize) {
    let n = jac.ncols();
    let t_len = res.n_times;
    let mut g = DMatrix::<f64>::zeros(t_len, n);
    for (i, (&r, &t)) in res.values.iter().zip(res.times).enumerate() {
        if !r.is_finite() || t >= t_len {
            continue;
        }
        for j in 0..n {
            let v = jac[(i, j)] * r;
            if v.is_finite() {
                g[(t, j)] += v;
            }
        }
    }
    // Andrews' AR(1) plug-in bandwidth.
    let (mut num, mut den) = (0.0, 0.0);
    for j in 0..n {
        let c = g.column(j);
        let (mut xy, mut xx) = (0.0, 0.0);
        for t in 1..t_len {
            xy += c[t] * c[t - 1];
            xx += c[t - 1] * c[t - 1];
        }
        if xx <= 0.0 || t_len < 3 {
            continue;
        }
        let rho = (xy / xx).clamp(-0.99, 0.99);
        let s2 = (1..t_len)
            .map(|t| (c[t] - rho * c[t - 1]).powi(2))
            .sum::<f64>()
            / (t_len - 1) as f64;
        let s4 = s2 * s2;
        num += 4.0 * rho * rho * s4 / ((1.0 - rho).powi(6) * (1.0 + rho).powi(2));
        den += s4 / (1.0 - rho).powi(4);
    }
    let lags = if den > 0.0 {
        let l = 1.1447 * (num / den * t_len as f64).cbrt();
        (l.ceil() as usize).min(t_len.saturating_sub(1))
    } else {
        0
    };
    let mut s = g.tr_mul(&g);
    for l in 1..=lags {
        let w = 1.0 - l as f64 / (lags + 1) as f64;
        let later = g.rows(l, t_len - l);
        let earlier = g.rows(0, t_len - l);
        let gamma = later.tr_mul(&earlier);
        s += (&gamma + gamma.transpose()) * w;
    }
    (s, lags)
}

/// Agglomerative clustering (average linkage) of the columns `cols` of
/// `jac` by the absolute cosine of their angle: clusters merge while
/// their mean similarity is at least `min_similarity`. Returns clusters of
/// positions into `cols`, each sorted, in order of their first member.
pub(crate) fn cluster_columns(
    jac: &DMatrix<f64>,
    cols: &[usize],
    min_similarity: f64,
) -> Vec<Vec<usize>> {
    let m = cols.len();
    let norm: Vec<f64> = cols.iter().map(|&c| jac.column(c).norm()).collect();
    let mut sim = vec![vec![0.0; m]; m];
    for a in 0..m {
        for b in 0..m {
            sim[a][b] = if norm[a] > 0.0 && norm[b] > 0.0 {
                (jac.column(cols[a]).dot(&jac.column(cols[b])) / (norm[a] * norm[b])).abs()
            } else {
                0.0
            };
        }
    }
    let mut clusters: Vec<Vec<usize>> = (0..m).map(|i| vec![i]).collect();
    loop {
        let mut best: Option<(usize, usize, f64)> = None;
        for a in 0..clusters.len() {
            for b in a + 1..clusters.len() {
                let mut s = 0.0;
                for &i in &clusters[a] {
                    for &k in &clusters[b] {
                        s += sim[i][k];
                    }
                }
                s /= (clusters[a].len() * clusters[b].len()) as f64;
                if best.is_none_or(|x| s > x.2) {
                    best = Some((a, b, s));
                }
            }
        }
        match best {
            Some((a, b, s)) if s >= min_similarity => {
                let mut taken = clusters.remove(b);
                clusters[a].append(&mut taken);
                clusters[a].sort_unstable();
            }
            _ => break,
        }
    }
    clusters.sort_by_key(|c| c[0]);
    clusters
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Normal draws from a fixed xorshift stream (Box–Muller).
    fn normals(n: usize, seed: u64) -> Vec<f64> {
        let mut x = seed;
        let mut uniform = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        (0..n)
            .map(|_| {
                let (a, b) = (uniform(), uniform());
                (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()
            })
            .collect()
    }

    /// The variance of a mean level fitted to `t_len` steps of residuals
    /// with lag-1 correlation `rho` (unit variance), robust over independent.
    fn variance_ratio(rho: f64, seed: u64) -> (f64, usize) {
        let t_len = 4000;
        let e = normals(t_len, seed);
        let mut r = vec![0.0; t_len];
        for t in 0..t_len {
            let prev = if t > 0 { r[t - 1] } else { 0.0 };
            r[t] = rho * prev + (1.0 - rho * rho).sqrt() * e[t];
        }
        let jac = DMatrix::from_element(t_len, 1, 1.0);
        let times: Vec<usize> = (0..t_len).collect();
        let res = Residuals {
            values: &r,
            times: &times,
            n_times: t_len,
        };
        let prior = [1e6];
        let independent = covariance(&jac, &prior, 1.0, None);
        let robust = covariance(&jac, &prior, 1.0, Some(res));
        (
            robust.posterior[(0, 0)] / independent.posterior[(0, 0)],
            robust.lags,
        )
    }

    #[test]
    fn serially_correlated_misfit_widens_the_uncertainty() {
        // An AR(1) misfit with ρ = 0.9 carries (1 + ρ)/(1 − ρ) = 19 times
        // the variance of independent residuals into a fitted mean.
        for seed in [1, 2, 3] {
            let (ratio, lags) = variance_ratio(0.9, seed);
            assert!((8.0..=30.0).contains(&ratio), "ratio {ratio}");
            assert!(lags >= 10, "lags {lags}");
        }
        // Independent residuals of the stated size: the same uncertainty.
        for seed in [1, 2, 3] {
            let (ratio, _) = variance_ratio(0.0, seed);
            assert!((1.0..=1.3).contains(&ratio), "ratio {ratio}");
        }
    }

    #[test]
    fn misfit_shared_by_the_sensors_at_one_time_counts_once() {
        // Ten sensors read the same misfit at each step: a fitted common
        // level learns from 500 draws, not 5 000.
        let (sensors, t_len) = (10, 500);
        let e = normals(t_len, 7);
        let values: Vec<f64> = (0..t_len * sensors).map(|i| e[i / sensors]).collect();
        let times: Vec<usize> = (0..t_len * sensors).map(|i| i / sensors).collect();
        let jac = DMatrix::from_element(t_len * sensors, 1, 1.0);
        let prior = [1e6];
        let independent = covariance(&jac, &prior, 1.0, None);
        let res = Residuals {
            values: &values,
            times: &times,
            n_times: t_len,
        };
        let robust = covariance(&jac, &prior, 1.0, Some(res));
        let ratio = robust.posterior[(0, 0)] / independent.posterior[(0, 0)];
        assert!((7.0..=13.0).contains(&ratio), "ratio {ratio}");
    }

    #[test]
    fn parallel_and_antiparallel_columns_cluster_together() {
        // Columns 0 and 2 are parallel and anti-parallel to each other; 1 is
        // orthogonal to both.
        let jac = DMatrix::from_row_slice(3, 3, &[1.0, 0.0, -2.0, 2.0, 0.0, -4.0, 0.0, 1.0, 0.0]);
        let c = cluster_columns(&jac, &[0, 1, 2], 0.95);
        assert_eq!(c, vec![vec![0, 2], vec![1]]);
        // A zero column joins nothing.
        let jac = DMatrix::from_row_slice(2, 2, &[1.0, 0.0, 1.0, 0.0]);
        assert_eq!(cluster_columns(&jac, &[0, 1], 0.95), vec![vec![0], vec![1]]);
    }

    #[test]
    fn unseen_directions_have_infinite_data_sd() {
        // The second parameter has no effect on the data.
        let jac = DMatrix::from_row_slice(3, 2, &[1.0, 0.0, 2.0, 0.0, 2.0, 0.0]);
        let c = covariance(&jac, &[0.5, 0.5], 1.0, None);
        assert!((c.data_sd[0] - 1.0 / 3.0).abs() < 1e-12);
        assert!(c.data_sd[1].is_infinite());
        // The posterior falls back on the prior there.
        assert!((c.posterior[(1, 1)] - 0.25).abs() < 1e-12);
        assert!((c.singular_values[0] - 3.0).abs() < 1e-12);
    }
}
