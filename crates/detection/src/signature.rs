//! Leak signatures: the change a leak makes to the sensor residuals, and
//! fitting an observed change as a non-negative combination of candidate
//! signatures (a new leak plus the leaks already found, which may still be
//! growing). Pure maths, no I/O.

/// Non-negative least squares `min ‖y − Σ aᵢ·colsᵢ‖², aᵢ ≥ 0` for a handful
/// of columns (active set on the normal equations, with a tiny ridge so
/// that duplicate or zero columns stay solvable). Returns one coefficient
/// per column.
pub fn nnls(cols: &[&[f64]], y: &[f64]) -> Vec<f64> {
    let k = cols.len();
    let gram: Vec<Vec<f64>> = (0..k)
        .map(|i| (0..k).map(|j| dot(cols[i], cols[j])).collect())
        .collect();
    let rhs: Vec<f64> = cols.iter().map(|c| dot(c, y)).collect();
    let mut active = vec![true; k];
    let mut coef = vec![0.0; k];
    // Each pass drops at least one column, so k + 1 passes suffice.
    for _ in 0..=k {
        let idx: Vec<usize> = (0..k).filter(|&i| active[i]).collect();
        let sol = solve_spd(
            &idx.iter()
                .map(|&i| idx.iter().map(|&j| gram[i][j]).collect())
                .collect::<Vec<Vec<f64>>>(),
            &idx.iter().map(|&i| rhs[i]).collect::<Vec<f64>>(),
        );
        coef.iter_mut().for_each(|c| *c = 0.0);
        let mut negative = None;
        for (&i, &v) in idx.iter().zip(&sol) {
            coef[i] = v;
            if v < 0.0 && negative.is_none_or(|(_, w)| v < w) {
                negative = Some((i, v));
            }
        }
        match negative {
            Some((i, _)) => active[i] = false,
            None => return coef,
        }
    }
    coef.iter_mut().for_each(|c| *c = c.max(0.0));
    coef
}

/// [`nnls`] and its misfit: the coefficients and `‖y − Σ aᵢ·colsᵢ‖²`.
pub fn fit(cols: &[&[f64]], y: &[f64]) -> (Vec<f64>, f64) {
    let coef = nnls(cols, y);
    let sse = y
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let fit: f64 = cols.iter().zip(&coef).map(|(c, a)| a * c[i]).sum();
            (o - fit).powi(2)
        })
        .sum();
    (coef, sse)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Solves a small symmetric positive semi-definite system (Cholesky with a
/// relative ridge; zero pivots give zero components).
fn solve_spd(a: &[Vec<f64>], b: &[f64]) -> Vec<f64> {
    let n = b.len();
    let tr = (0..n).map(|i| a[i][i]).sum::<f64>() / n.max(1) as f64;
    let ridge = 1e-9 * tr + 1e-300;
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[i][j] - (0..j).map(|k| l[i][k] * l[j][k]).sum::<f64>();
            if i == j {
                s += ridge;
                l[i][i] = if s > 0.0 { s.sqrt() } else { 0.0 };
            } else {
                l[i][j] = if l[j][j] > 0.0 { s / l[j][j] } else { 0.0 };
            }
        }
    }
    let mut z = vec![0.0; n];
    for i in 0..n {
        let s = b[i] - (0..i).map(|k| l[i][k] * z[k]).sum::<f64>();
        z[i] = if l[i][i] > 0.0 { s / l[i][i] } else { 0.0 };
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s = z[i] - (i + 1..n).map(|k| l[k][i] * x[k]).sum::<f64>();
        x[i] = if l[i][i] > 0.0 { s / l[i][i] } else { 0.0 };
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_non_negative_mixture() {
        let a = [1.0, 0.0, 1.0, 2.0];
        let b = [0.0, 1.0, 1.0, -1.0];
        let y: Vec<f64> = a.iter().zip(&b).map(|(x, z)| 2.0 * x + 0.5 * z).collect();
        let c = nnls(&[&a, &b], &y);
        assert!(
            (c[0] - 2.0).abs() < 1e-6 && (c[1] - 0.5).abs() < 1e-6,
            "{c:?}"
        );
    }

    #[test]
    fn negative_coefficients_are_clamped_by_refitting() {
        let a = [1.0, 1.0, 0.0];
        let b = [0.0, 1.0, 1.0];
        // y = a − b: the best non-negative fit uses a alone.
        let y = [1.0, 0.0, -1.0];
        let c = nnls(&[&a, &b], &y);
        assert_eq!(c[1], 0.0);
        assert!((c[0] - 0.5).abs() < 1e-6, "{c:?}");
        // A duplicate column stays solvable.
        let c = nnls(&[&a, &a], &[2.0, 2.0, 0.0]);
        assert!((c[0] + c[1] - 2.0).abs() < 1e-6, "{c:?}");
    }
}
