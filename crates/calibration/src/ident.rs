//! Identifiability: singular values of the weighted Jacobian, parameter
//! covariance and correlations, and a coarser grouping for parameters the
//! sensors cannot separate (agglomerative clustering of the normalized
//! Jacobian columns).

use nalgebra::{DMatrix, SymmetricEigen};

/// Covariance of the estimate: `s² (JᵀJ + P)⁻¹` (posterior, with the prior
/// precision `P`), and the data-only standard deviations from the
/// pseudo-inverse of `JᵀJ` (infinite for directions the data do not see).
pub(crate) struct Covariance {
    pub(crate) posterior: DMatrix<f64>,
    pub(crate) data_sd: Vec<f64>,
    pub(crate) singular_values: Vec<f64>,
}

pub(crate) fn covariance(jac: &DMatrix<f64>, prior_sd: &[f64], s2: f64) -> Covariance {
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
    let posterior = a
        .try_inverse()
        .unwrap_or_else(|| DMatrix::from_diagonal_element(n, n, f64::INFINITY))
        * s2;
    Covariance {
        posterior,
        data_sd,
        singular_values: sv,
    }
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
        let c = covariance(&jac, &[0.5, 0.5], 1.0);
        assert!((c.data_sd[0] - 1.0 / 3.0).abs() < 1e-12);
        assert!(c.data_sd[1].is_infinite());
        // The posterior falls back on the prior there.
        assert!((c.posterior[(1, 1)] - 0.25).abs() < 1e-12);
        assert!((c.singular_values[0] - 3.0).abs() < 1e-12);
    }
}
