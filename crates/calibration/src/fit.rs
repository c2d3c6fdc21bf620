//! The weighted, bounded Levenberg–Marquardt fit with finite-difference
//! Jacobians computed in parallel, and the status search around it.

use crate::data::{Data, ObsKind};
use crate::model::{Engine, Run};
use crate::params::ParamSet;
use crate::{CalibError, Options};
use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The least-squares problem of one period: residual rows, weights, bounds,
/// prior.
pub(crate) struct Problem<'a> {
    pub(crate) engine: Engine<'a>,
    pub(crate) set: &'a ParamSet,
    pub(crate) data: &'a Data,
    /// Simulated parameters (roughness groups, demand groups, pump
    /// speeds), then offsets.
    pub(crate) n_sim: usize,
    /// Per offset parameter: its observation.
    pub(crate) offset_obs: Vec<usize>,
    /// Per observation: its offset parameter (index into x), if any.
    pub(crate) obs_offset: Vec<Option<usize>>,
    /// Residual rows: (observation, row, weight = 1/σ).
    pub(crate) rows: Vec<(usize, usize, f64)>,
    /// Per residual row, its weighted residual at the start: what a row
    /// counts when a trial's model cannot predict it (a step not solved to
    /// the model's accuracy there), so that no trial gains by leaving the
    /// readable range. Empty until the start point is known.
    pub(crate) fallback: Vec<f64>,
    pub(crate) lower: Vec<f64>,
    pub(crate) upper: Vec<f64>,
    /// Prior standard deviations (x units).
    pub(crate) prior_sd: Vec<f64>,
    pub(crate) opts: &'a Options,
    pub(crate) sims: AtomicUsize,
}

/// A point of the fit: parameters, statuses, predictions and cost.
#[derive(Clone)]
pub(crate) struct Point {
    pub(crate) x: Vec<f64>,
    pub(crate) open: Vec<bool>,
    /// Predictions of the simulation (without offsets), observation-major.
    pub(crate) pred: Vec<f64>,
    /// Per row, the fingerprint of the model's link states.
    pub(crate) states: Vec<u64>,
    /// Weighted sum of squares of the data residuals, and of the prior.
    pub(crate) data_ss: f64,
    pub(crate) prior_ss: f64,
}

impl Point {
    pub(crate) fn cost(&self) -> f64 {
        self.data_ss + self.prior_ss
    }
}

impl<'a> Problem<'a> {
    pub(crate) fn new(
        engine: Engine<'a>,
        set: &'a ParamSet,
        data: &'a Data,
        opts: &'a Options,
    ) -> Problem<'a> {
        let n_sim = set.roughness.len() + set.demand.len() + set.pump_speed.len();
        let mut offset_obs = Vec::new();
        let mut obs_offset = vec![None; data.observations.len()];
        if set.offsets {
            for (o, ob) in data.observations.iter().enumerate() {
                if ob.kind == ObsKind::Pressure {
                    obs_offset[o] = Some(n_sim + offset_obs.len());
                    offset_obs.push(o);
                }
            }
        }
        let mut rows = Vec::new();
        for (o, ob) in data.observations.iter().enumerate() {
            let sd = match ob.kind {
                ObsKind::Pressure => opts.sigma_pressure,
                ObsKind::Flow => {
                    let (s, n) = ob
                        .values
                        .iter()
                        .filter(|v| v.is_finite())
                        .fold((0.0, 0usize), |(s, n), v| (s + v.abs(), n + 1));
                    let mean = if n > 0 { s / n as f64 } else { 0.0 };
                    (opts.sigma_flow_rel * mean).max(opts.sigma_flow_abs)
                }
            };
            for (r, v) in ob.values.iter().enumerate() {
                if v.is_finite() {
                    rows.push((o, r, 1.0 / sd));
                }
            }
        }
        let (lo, hi) = opts.multiplier_bounds;
        let n = n_sim + offset_obs.len();
        let mut lower = vec![lo.ln(); n_sim];
        let mut upper = vec![hi.ln(); n_sim];
        let mut prior_sd = vec![opts.prior_sd_ln; n_sim];
        lower.resize(n, -opts.offset_bound);
        upper.resize(n, opts.offset_bound);
        prior_sd.resize(n, opts.prior_sd_offset);
        Problem {
            engine,
            set,
            data,
            n_sim,
            offset_obs,
            obs_offset,
            rows,
            fallback: Vec::new(),
            lower,
            upper,
            prior_sd,
            opts,
            sims: AtomicUsize::new(0),
        }
    }

    pub(crate) fn n(&self) -> usize {
        self.lower.len()
    }

    /// Multipliers (roughness, demand, pump speed) of `x`.
    pub(crate) fn multipliers(&self, x: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let nr = self.set.roughness.len();
        let nd = self.set.demand.len();
        let m: Vec<f64> = x[..self.n_sim].iter().map(|v| v.exp()).collect();
        (
            m[..nr].to_vec(),
            m[nr..nr + nd].to_vec(),
            m[nr + nd..].to_vec(),
        )
    }

    pub(crate) fn simulate(&self, x: &[f64], open: &[bool]) -> Result<Run, CalibError> {
        self.sims.fetch_add(1, Ordering::Relaxed);
        let (r, d, s) = self.multipliers(x);
        self.engine.run_full(self.set, &r, &d, &s, open)
    }

    /// The weighted data residuals at `x` given the predictions `pred`.
    pub(crate) fn residuals(&self, x: &[f64], pred: &[f64]) -> Vec<f64> {
        let rows = self.data.rows;
        self.rows
            .iter()
            .enumerate()
            .map(|(i, &(o, r, w))| {
                let p = pred[o * rows + r];
                if !p.is_finite() {
                    return self.fallback.get(i).copied().unwrap_or(f64::NAN);
                }
                let off = self.obs_offset[o].map_or(0.0, |j| x[j]);
                w * (self.data.observations[o].values[r] - p - off)
            })
            .collect()
    }

    fn prior_ss(&self, x: &[f64]) -> f64 {
        x.iter()
            .zip(&self.prior_sd)
            .map(|(v, s)| (v / s).powi(2))
            .sum()
    }

    pub(crate) fn point(&self, x: Vec<f64>, open: Vec<bool>) -> Result<Point, CalibError> {
        let Run { pred, states, .. } = self.simulate(&x, &open)?;
        let data_ss = self.residuals(&x, &pred).iter().map(|r| r * r).sum();
        let prior_ss = self.prior_ss(&x);
        Ok(Point {
            x,
            open,
            pred,
            states,
            data_ss,
            prior_ss,
        })
    }

    /// Jacobian of the weighted data residuals (rows × n): simulated
    /// parameters by forward differences, one simulation each, in parallel;
    /// offsets exactly (−w). A row where the perturbed model's links are in
    /// other states than at `p` (a pump at the edge of delivering, a check
    /// valve, a PRV changing mode) differences two branches of a
    /// discontinuous model: a jump, not a slope. It gives no derivative
    /// (0) for that parameter, or one such row would outweigh every smooth
    /// reading.
    pub(crate) fn jacobian(&self, p: &Point) -> Result<DMatrix<f64>, CalibError> {
        let h = self.opts.fd_step;
        let cols: Vec<Result<(f64, Run), CalibError>> = (0..self.n_sim)
            .into_par_iter()
            .map(|j| {
                let mut x = p.x.clone();
                let step = if x[j] + h > self.upper[j] { -h } else { h };
                x[j] += step;
                Ok((step, self.simulate(&x, &p.open)?))
            })
            .collect();
        let rows = self.data.rows;
        let mut jac = DMatrix::zeros(self.rows.len(), self.n());
        for (j, c) in cols.into_iter().enumerate() {
            let (step, run) = c?;
            for (i, &(o, r, w)) in self.rows.iter().enumerate() {
                let k = o * rows + r;
                // The perturbed model left the readable range there, or
                // switched a link: no information on this parameter from
                // that reading.
                let d = -w * (run.pred[k] - p.pred[k]) / step;
                jac[(i, j)] = if d.is_finite() && run.states[r] == p.states[r] {
                    d
                } else {
                    0.0
                };
            }
        }
        for (i, &(o, _, w)) in self.rows.iter().enumerate() {
            if let Some(j) = self.obs_offset[o] {
                jac[(i, j)] = -w;
            }
        }
        Ok(jac)
    }

    /// Levenberg–Marquardt from `start` (statuses fixed); returns the
    /// final point and the number of iterations.
    pub(crate) fn levenberg_marquardt(
        &self,
        start: Point,
        max_iter: usize,
    ) -> Result<(Point, usize), CalibError> {
        let n = self.n();
        let mut p = start;
        let mut mu: Option<f64> = None;
        let mut iterations = 0;
        let mut small_gains = 0;
        for _ in 0..max_iter {
            iterations += 1;
            let jac = self.jacobian(&p)?;
            let r = DVector::from_vec(self.residuals(&p.x, &p.pred));
            // Normal equations with the prior rows (x_j / sd_j).
            let mut a = jac.tr_mul(&jac);
            let mut g = jac.tr_mul(&r);
            for j in 0..n {
                let s2 = self.prior_sd[j].powi(2);
                a[(j, j)] += 1.0 / s2;
                g[j] += p.x[j] / s2;
            }
            // Marquardt's scaling: the damping is mu × diag(A), so mu is
            // dimensionless and starts small.
            let mu_now = *mu.get_or_insert(1e-3);
            let mut mu_try = mu_now;
            // Bound-active parameters (at a bound, gradient pointing out) are held.
            let held: Vec<bool> = (0..n)
                .map(|j| {
                    (p.x[j] <= self.lower[j] + 1e-12 && g[j] > 0.0)
                        || (p.x[j] >= self.upper[j] - 1e-12 && g[j] < 0.0)
                })
                .collect();
            let mut accepted = None;
            for _ in 0..10 {
                let mut m = a.clone();
                let mut rhs = -g.clone();
                for j in 0..n {
                    m[(j, j)] += mu_try * a[(j, j)].max(1e-12);
                    if held[j] {
                        for k in 0..n {
                            m[(j, k)] = 0.0;
                            m[(k, j)] = 0.0;
                        }
                        m[(j, j)] = 1.0;
                        rhs[j] = 0.0;
                    }
                }
                let Some(chol) = m.cholesky() else {
                    mu_try *= 10.0;
                    continue;
                };
                let delta = chol.solve(&rhs);
                let x_new: Vec<f64> = (0..n)
                    .map(|j| (p.x[j] + delta[j]).clamp(self.lower[j], self.upper[j]))
                    .collect();
                let d = DVector::from_iterator(n, (0..n).map(|j| x_new[j] - p.x[j]));
                if d.amax() < 1e-10 {
                    break;
                }
                let predicted = -(2.0 * g.dot(&d) + (&a * &d).dot(&d));
                // A step the model cannot solve is a rejected step.
                let q = match self.point(x_new, p.open.clone()) {
                    Ok(q) => q,
                    Err(CalibError::Sim { .. }) => {
                        mu_try *= 4.0;
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                if q.cost() < p.cost() {
                    let rho = if predicted > 0.0 {
                        (p.cost() - q.cost()) / predicted
                    } else {
                        0.0
                    };
                    mu = Some(mu_try * (1.0 / 3.0f64).max(1.0 - (2.0 * rho - 1.0).powi(3)));
                    accepted = Some((q, d.amax()));
                    break;
                }
                mu_try *= 4.0;
            }
            let Some((q, step)) = accepted else {
                break;
            };
            let gain = p.cost() - q.cost();
            // Converged: two iterations in a row gained less than the
            // tolerance (relative, or 0.01 in units of weighted squares:
            // nothing against a noise of one σ per reading), or the step
            // vanished.
            small_gains = if gain <= self.opts.cost_tolerance * p.cost() || gain <= 1e-2 {
                small_gains + 1
            } else {
                0
            };
            p = q;
            if small_gains >= 2 || step < 1e-7 {
                break;
            }
        }
        Ok((p, iterations))
    }
}
