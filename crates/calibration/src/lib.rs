//! Calibration of a network model to field measurements: roughness
//! multipliers per pipe group, base-demand multipliers per demand group,
//! speed factors of chosen pumps (those with a flow sensor),
//! bounded pressure-sensor offsets, and the open/closed status of links
//! whose status is uncertain, fitted by weighted least squares to measured
//! pressures and flows over many time steps, with the measured boundary
//! conditions (tank levels as fixed heads, pump on/off states) driving the
//! model. It also says what the sensors cannot tell apart
//! (identifiability) and offers a coarser grouping.
//!
//! **Method.** Parameters are the logarithms of the multipliers and the
//! offsets in m, bounded (box constraints) and regularized toward the
//! prior (multipliers 1, offsets 0) by prior rows `x/σ_prior`. The fit is
//! Levenberg–Marquardt with Marquardt's diagonal scaling and Nielsen's
//! damping update, written here on `nalgebra` (normal equations solved by
//! Cholesky; a parameter at a bound whose gradient points outward is held
//! for that step). Jacobian columns of the simulated parameters are
//! forward differences, one extended-period simulation per parameter, run
//! in parallel on rayon's pool; a row where the perturbed model's links
//! are in other states than the base run's (a pump at the edge of
//! delivering, a control at its level) is a jump, not a slope, and gives
//! that parameter no derivative there; offset columns are exact. The runs
//! are solved to an accuracy settled on the nominal model (`model`).
//! Statuses are an
//! integer search around the continuous fit: each uncertain link not yet
//! flipped is flipped alone and simulated at the current parameters (in
//! parallel); the flip with the lowest cost is refitted by
//! Levenberg–Marquardt and kept if it lowers the weighted sum of squares
//! by more than [`Options::status_min_gain`] and by more than 1 %; this
//! repeats until no flip is kept.
//!
//! **Uncertainty.** The reported standard deviations are a sandwich
//! covariance robust to misfit shared by the sensors at one time and
//! correlated over time (Newey–West with Andrews' bandwidth, `ident.rs`),
//! never below the independent-noise one. A parameter is identifiable when
//! the data-only covariance of the weighted Jacobian fixes it within
//! [`Options::identifiable_sd`] and its reported standard deviation is
//! within that too.
//!
//! **Must not.** No I/O, no environment, no printing, no async: data and
//! network are handed over, results handed back (`scripts/check-core-io`).
//!
//! ```
//! use calibration::{calibrate, Data, ObsKind, Observation, Options, ParamSet, RoughnessGroup};
//! let text = "[JUNCTIONS]\nJ1 10 5\nJ2 10 5\n[RESERVOIRS]\nR1 50\n[PIPES]\nP1 R1 J1 1000 150 100\nP2 J1 J2 1000 150 100\n[OPTIONS]\nUNITS LPS\n";
//! let truth = network::inp::parse_inp(&text.replace("150 100", "150 80"), "t.inp").unwrap();
//! let mut sim = hydraulics::Simulation::from_network(truth).unwrap();
//! sim.run().unwrap();
//! let net = network::inp::parse_inp(text, "n.inp").unwrap();
//! let data = Data {
//!     start_s: 0, step_s: 3600, rows: 1,
//!     observations: vec![Observation { name: "p2".into(), kind: ObsKind::Pressure,
//!         element: 1, values: vec![sim.pressure_m(1)], range: None }],
//!     tank_levels: vec![], pump_flows: vec![],
//! };
//! let set = ParamSet {
//!     roughness: vec![RoughnessGroup { name: "all".into(), pipes: vec![0, 1] }],
//!     demand: vec![], offsets: false, uncertain_links: vec![], pump_speed: vec![],
//! };
//! let out = calibrate(&net, &set, &data, &Options::default()).unwrap();
//! assert!((out.parameters[0].after - 0.8).abs() < 0.01);
//! ```

mod data;
mod fit;
mod ident;
mod model;
mod params;
pub mod stats;

pub use data::{Data, ObsKind, Observation, Series};
pub use params::{
    apply, demand_group_from_ids, demand_groups_by_pattern, initially_open,
    roughness_group_from_ids, roughness_groups, DemandGroup, ParamKind, ParamSet, RoughnessGroup,
    RoughnessGrouping,
};

use fit::Problem;
use network::Network;
use serde::Serialize;

/// Why a calibration cannot be done.
#[derive(Debug, thiserror::Error)]
pub enum CalibError {
    #[error("the calibration period has no measured pressure or flow")]
    EmptyPeriod,
    #[error("{file}: group '{group}' has no member with a demand or pipe")]
    EmptyGroup { file: String, group: String },
    #[error("{file}: group '{group}': '{id}' {reason}")]
    BadMember {
        file: String,
        group: String,
        id: String,
        reason: String,
    },
    #[error("nothing to calibrate: no group, no offset and no link of uncertain status")]
    NoParameter,
    #[error("data: {0}")]
    Data(String),
    #[error("the model cannot be prepared: {0}")]
    Prepare(#[source] hydraulics::PrepareError),
    #[error("the model failed at {time_s} s of the period: {source}")]
    Sim {
        time_s: u64,
        #[source]
        source: hydraulics::SimError,
    },
    /// Every reading falls where the nominal model cannot predict it.
    #[error("none of the {readings} readings can be compared: at every measured time the nominal model is in a state no sensor could read (a value outside the sensor's range, or a step not solved to the run accuracy)")]
    Unreadable { readings: usize },
    /// The model ended before the period did (no prediction for the rows
    /// after it): a calibration never fits a part of its period silently.
    #[error("the model stopped at {time_s} s of a {period_s} s period")]
    Stopped { time_s: u64, period_s: u64 },
}

/// Settings of a calibration.
#[derive(Debug, Clone, Serialize)]
pub struct Options {
    /// Standard deviation of a pressure reading, m (weights and uncertainty).
    pub sigma_pressure: f64,
    /// Standard deviation of a flow reading, relative to the sensor's mean
    /// absolute flow, with a floor in m³/s.
    pub sigma_flow_rel: f64,
    pub sigma_flow_abs: f64,
    /// Bounds of every multiplier.
    pub multiplier_bounds: (f64, f64),
    /// Bound of every sensor offset, ± m.
    pub offset_bound: f64,
    /// Prior standard deviation of ln(multiplier), and of an offset (m).
    pub prior_sd_ln: f64,
    pub prior_sd_offset: f64,
    /// Levenberg–Marquardt iterations at most (per fit).
    pub max_iterations: usize,
    /// Stop when an iteration lowers the cost by less than this share.
    pub cost_tolerance: f64,
    /// Finite-difference step in ln(multiplier).
    pub fd_step: f64,
    /// Solver accuracy for the calibration runs (EPANET's ACCURACY; the
    /// model's own when looser is replaced), so finite differences are not
    /// convergence noise. Loosened in steps of √10 when the nominal model
    /// does not converge to it at every measured step.
    pub accuracy: Option<f64>,
    /// A pump is on when its measured flow exceeds this, m³/s.
    pub pump_on_flow: f64,
    /// A parameter is identifiable when the data alone fix it to this
    /// standard deviation (in ln(multiplier); in m for offsets: ×10), both
    /// as independent readings would and as the reported uncertainty (the
    /// sandwich, which allows for shared and correlated misfit) says.
    pub identifiable_sd: f64,
    /// Pairs with a larger absolute correlation are reported.
    pub correlation_limit: f64,
    /// Groups whose Jacobian columns have at least this mean |cosine| are
    /// offered as one group.
    pub merge_similarity: f64,
    /// A status flip is kept when it lowers the weighted sum of squares by
    /// more than this (and by more than 1 %).
    pub status_min_gain: f64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            sigma_pressure: 0.1,
            sigma_flow_rel: 0.02,
            sigma_flow_abs: 1e-4,
            multiplier_bounds: (0.5, 2.0),
            offset_bound: 5.0,
            prior_sd_ln: 0.5,
            prior_sd_offset: 2.0,
            max_iterations: 20,
            cost_tolerance: 1e-4,
            fd_step: 1e-3,
            accuracy: Some(1e-6),
            pump_on_flow: 1e-4,
            identifiable_sd: 0.02,
            correlation_limit: 0.9,
            merge_similarity: 0.95,
            status_min_gain: 25.0,
        }
    }
}

/// One estimated parameter.
#[derive(Debug, Clone, Serialize)]
pub struct Estimate {
    /// Group name, or the sensor's name for an offset.
    pub name: String,
    #[serde(flatten)]
    pub kind: ParamKind,
    /// Multiplier (or offset, m) before and after.
    pub before: f64,
    pub after: f64,
    /// Standard deviation of `after` (posterior, with the prior; robust to
    /// misfit correlated across sensors and over time), and its 95 %
    /// interval.
    pub sd: f64,
    pub low95: f64,
    pub high95: f64,
    /// Whether the data fix it (see [`Options::identifiable_sd`]).
    pub identifiable: bool,
    pub at_bound: bool,
}

/// A link of uncertain status.
#[derive(Debug, Clone, Serialize)]
pub struct StatusEstimate {
    pub link: String,
    pub open_before: bool,
    pub open_after: bool,
    /// Weighted sum of squares gained by the flip (0 if not flipped).
    pub gain: f64,
}

/// Two parameters the data hardly separate.
#[derive(Debug, Clone, Serialize)]
pub struct Correlated {
    pub a: String,
    pub b: String,
    pub correlation: f64,
}

/// What the sensors can and cannot tell.
#[derive(Debug, Clone, Serialize)]
pub struct Identifiability {
    /// Singular values of the weighted Jacobian (data rows), largest first.
    pub singular_values: Vec<f64>,
    pub condition_number: f64,
    pub correlated: Vec<Correlated>,
    /// The full correlation matrix of the estimates (posterior), in the
    /// order of [`Calibration::parameters`].
    pub correlation: Vec<Vec<f64>>,
    /// Names of the parameters the data alone do not fix.
    pub unidentifiable: Vec<String>,
    /// Coarser groupings offered (group names merged), roughness and demand
    /// separately; only clusters of two or more groups.
    pub merge_roughness: Vec<Vec<String>>,
    pub merge_demand: Vec<Vec<String>>,
}

/// The result of [`calibrate`].
#[derive(Debug, Clone, Serialize)]
pub struct Calibration {
    pub parameters: Vec<Estimate>,
    pub statuses: Vec<StatusEstimate>,
    pub identifiability: Identifiability,
    /// Weighted sums of squares (data only) before and after.
    pub cost_before: f64,
    pub cost_after: f64,
    /// Residual variance factor s² = cost / (readings − parameters).
    pub variance_factor: f64,
    pub readings: usize,
    pub iterations: usize,
    pub simulations: usize,
    /// Changes made to drive the model by the measurements.
    pub notes: Vec<String>,
    /// The estimated values.
    #[serde(skip)]
    pub values: Values,
}

/// Values of a parameter set: roughness and demand multipliers (per group),
/// statuses (per uncertain link), offsets (per observation, 0 when not
/// estimated). An empty list leaves the model's own values: `Values::default()`
/// is the nominal model.
#[derive(Debug, Clone, Default)]
pub struct Values {
    pub roughness: Vec<f64>,
    pub demand: Vec<f64>,
    /// Pump speed factors, per [`ParamSet::pump_speed`].
    pub pump_speed: Vec<f64>,
    pub open: Vec<bool>,
    pub offsets: Vec<f64>,
}

impl Calibration {
    /// The calibrated model: `net` with the multipliers and statuses applied
    /// (offsets belong to the sensors, not to the model).
    pub fn network(&self, net: &Network, set: &ParamSet) -> Network {
        let v = &self.values;
        apply(net, set, &v.roughness, &v.demand, &v.pump_speed, &v.open)
    }
}

/// Calibrates `net` on `data`: see the crate documentation for the method.
pub fn calibrate(
    net: &Network,
    set: &ParamSet,
    data: &Data,
    opts: &Options,
) -> Result<Calibration, CalibError> {
    if set.roughness.is_empty()
        && set.demand.is_empty()
        && set.pump_speed.is_empty()
        && !set.offsets
        && set.uncertain_links.is_empty()
    {
        return Err(CalibError::NoParameter);
    }
    let engine = model::Engine::new(net, set, data, opts)?;
    let mut notes = engine.notes.clone();
    let mut pb = Problem::new(engine, set, data, opts);
    if pb.rows.is_empty() {
        return Err(CalibError::EmptyPeriod);
    }
    let n = pb.n();
    let open0: Vec<bool> = set
        .uncertain_links
        .iter()
        .map(|&k| initially_open(net, k))
        .collect();
    let mut start = pb.point(vec![0.0; n], open0.clone())?;
    // Readings the nominal model cannot predict (a value outside the
    // sensor's range, a step not solved to the run accuracy) are left
    // out of the fit, once, so that the set compared does not change from
    // one trial to the next.
    let rows_all = pb.rows.len();
    let nominal = &start.pred;
    pb.rows
        .retain(|&(o, r, _)| nominal[o * data.rows + r].is_finite());
    if pb.rows.len() < rows_all {
        notes.push(format!(
            "{} of {rows_all} readings are not fitted: at their time the nominal model is in a state no sensor could read (a value outside the sensor's range, or a step not solved to the run accuracy)",
            rows_all - pb.rows.len()
        ));
    }
    if pb.rows.is_empty() {
        return Err(CalibError::Unreadable { readings: rows_all });
    }
    pb.fallback = pb.residuals(&start.x, &start.pred);
    start.data_ss = pb.fallback.iter().map(|r| r * r).sum();
    let cost_before = start.data_ss;
    let (mut best, mut iterations) = if n > 0 {
        pb.levenberg_marquardt(start, opts.max_iterations)?
    } else {
        (start, 0)
    };
    // Status search.
    let mut gains = vec![0.0; set.uncertain_links.len()];
    let mut flipped = vec![false; set.uncertain_links.len()];
    loop {
        let cands: Vec<usize> = (0..flipped.len()).filter(|&i| !flipped[i]).collect();
        if cands.is_empty() {
            break;
        }
        use rayon::prelude::*;
        let trials: Vec<Result<(usize, f64), CalibError>> = cands
            .par_iter()
            .map(|&i| {
                let mut open = best.open.clone();
                open[i] = !open[i];
                Ok((i, pb.point(best.x.clone(), open)?.cost()))
            })
            .collect();
        let mut ranked = Vec::new();
        for t in trials {
            match t {
                Ok(v) => ranked.push(v),
                // A status that makes the model unsolvable is no candidate.
                Err(CalibError::Sim { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        ranked.sort_by(|a, b| a.1.total_cmp(&b.1));
        let Some(&(i, _)) = ranked.first() else {
            break;
        };
        let mut open = best.open.clone();
        open[i] = !open[i];
        let Ok(q) = pb.point(best.x.clone(), open) else {
            break;
        };
        let (q, it) = if n > 0 {
            pb.levenberg_marquardt(q, opts.max_iterations)?
        } else {
            (q, 0)
        };
        iterations += it;
        let gain = best.cost() - q.cost();
        if gain > opts.status_min_gain && gain > 0.01 * best.cost() {
            flipped[i] = true;
            gains[i] = gain;
            best = q;
        } else {
            break;
        }
    }
    // Identifiability and uncertainty at the estimate.
    let m = pb.rows.len();
    let variance_factor = best.data_ss / (m.saturating_sub(n)).max(1) as f64;
    let s2 = variance_factor.max(1.0);
    let (jac, cov) = if n > 0 {
        let jac = pb.jacobian(&best)?;
        let values = pb.residuals(&best.x, &best.pred);
        let times: Vec<usize> = pb.rows.iter().map(|&(_, r, _)| r).collect();
        let residuals = ident::Residuals {
            values: &values,
            times: &times,
            n_times: data.rows,
        };
        let cov = ident::covariance(&jac, &pb.prior_sd, s2, Some(residuals));
        if cov.lags > 0 {
            notes.push(format!(
                "uncertainties allow for misfit shared by the sensors at one time and \
                 correlated over {} time steps (Newey–West, Andrews bandwidth)",
                cov.lags
            ));
        }
        (Some(jac), Some(cov))
    } else {
        (None, None)
    };
    let nr = set.roughness.len();
    let nd = set.demand.len();
    let mut names = Vec::with_capacity(n);
    let mut kinds = Vec::with_capacity(n);
    for (g, r) in set.roughness.iter().enumerate() {
        names.push(format!("roughness: {}", r.name));
        kinds.push(ParamKind::Roughness { group: g });
    }
    for (g, d) in set.demand.iter().enumerate() {
        names.push(format!("demand: {}", d.name));
        kinds.push(ParamKind::Demand { group: g });
    }
    for (p, &k) in set.pump_speed.iter().enumerate() {
        names.push(format!("pump speed: {}", net.links[k].id));
        kinds.push(ParamKind::PumpSpeed { pump: p });
    }
    for &o in &pb.offset_obs {
        names.push(format!("offset: {}", data.observations[o].name));
        kinds.push(ParamKind::Offset { observation: o });
    }
    let mut parameters = Vec::with_capacity(n);
    let mut unidentifiable = Vec::new();
    for j in 0..n {
        let x = best.x[j];
        let sd_x = cov
            .as_ref()
            .map_or(0.0, |c| c.posterior[(j, j)].max(0.0).sqrt());
        let data_sd = cov.as_ref().map_or(f64::INFINITY, |c| c.data_sd[j]);
        let is_mult = j < pb.n_sim;
        let limit = if is_mult {
            opts.identifiable_sd
        } else {
            opts.identifiable_sd * 10.0
        };
        // Identifiable: the data fix it, and the uncertainty reported
        // beside it says so too (misfit shared across sensors or over
        // time can leave a parameter that independent readings would fix
        // loose; the report must not print "identifiable" beside an
        // interval wider than the limit).
        let identifiable = data_sd <= limit && sd_x <= limit;
        if !identifiable {
            unidentifiable.push(names[j].clone());
        }
        let at_bound = x <= pb.lower[j] + 1e-9 || x >= pb.upper[j] - 1e-9;
        // What is reported lives within the bounds: the sd at most what
        // any distribution on them can have, the interval clipped to them.
        let (lo, hi) = (pb.lower[j], pb.upper[j]);
        let sd_x = within_bounds_sd(sd_x, lo, hi);
        let (low_x, high_x) = ((x - 1.96 * sd_x).max(lo), (x + 1.96 * sd_x).min(hi));
        let (after, sd, low95, high95) = if is_mult {
            let f = x.exp();
            (f, f * sd_x, low_x.exp(), high_x.exp())
        } else {
            (x, sd_x, low_x, high_x)
        };
        parameters.push(Estimate {
            name: names[j].clone(),
            kind: kinds[j].clone(),
            before: if is_mult { 1.0 } else { 0.0 },
            after,
            sd,
            low95,
            high95,
            identifiable,
            at_bound,
        });
    }
    let mut correlated = Vec::new();
    let correlation: Vec<Vec<f64>> = match &cov {
        Some(c) => (0..n)
            .map(|a| {
                (0..n)
                    .map(|b| {
                        let d = (c.posterior[(a, a)] * c.posterior[(b, b)]).sqrt();
                        if d > 0.0 && d.is_finite() {
                            c.posterior[(a, b)] / d
                        } else {
                            0.0
                        }
                    })
                    .collect()
            })
            .collect(),
        None => Vec::new(),
    };
    if let Some(c) = &cov {
        for a in 0..n {
            for b in a + 1..n {
                let d = (c.posterior[(a, a)] * c.posterior[(b, b)]).sqrt();
                if d > 0.0 && d.is_finite() {
                    let r = c.posterior[(a, b)] / d;
                    if r.abs() >= opts.correlation_limit {
                        correlated.push(Correlated {
                            a: names[a].clone(),
                            b: names[b].clone(),
                            correlation: r,
                        });
                    }
                }
            }
        }
    }
    // A cluster is offered when the sensors cannot separate its members:
    // one of them is unidentifiable, or two of them are correlated.
    let troubled = |a: usize, b: usize| {
        unidentifiable.contains(&names[a])
            || correlated.iter().any(|c| {
                (c.a == names[a] && c.b == names[b]) || (c.a == names[b] && c.b == names[a])
            })
    };
    let merge = |cols: std::ops::Range<usize>, group_names: Vec<&str>| -> Vec<Vec<String>> {
        let Some(jac) = &jac else {
            return Vec::new();
        };
        let cols: Vec<usize> = cols.collect();
        ident::cluster_columns(jac, &cols, opts.merge_similarity)
            .into_iter()
            .filter(|c| {
                c.len() > 1
                    && c.iter()
                        .any(|&i| c.iter().any(|&k| k != i && troubled(cols[i], cols[k])))
            })
            .map(|c| c.iter().map(|&i| group_names[i].to_string()).collect())
            .collect()
    };
    let merge_roughness = merge(
        0..nr,
        set.roughness.iter().map(|g| g.name.as_str()).collect(),
    );
    let merge_demand = merge(
        nr..nr + nd,
        set.demand.iter().map(|g| g.name.as_str()).collect(),
    );
    let (singular_values, condition_number) = match &cov {
        Some(c) => {
            let sv = c.singular_values.clone();
            let cn = match (sv.first(), sv.last()) {
                (Some(&a), Some(&b)) if b > 0.0 => a / b,
                _ => f64::INFINITY,
            };
            (sv, cn)
        }
        None => (Vec::new(), 0.0),
    };
    let (roughness, demand, pump_speed) = pb.multipliers(&best.x);
    let mut offsets = vec![0.0; data.observations.len()];
    for (p, &o) in pb.offset_obs.iter().enumerate() {
        offsets[o] = best.x[pb.n_sim + p];
    }
    let statuses = set
        .uncertain_links
        .iter()
        .enumerate()
        .map(|(i, &k)| StatusEstimate {
            link: net.links[k].id.clone(),
            open_before: open0[i],
            open_after: best.open[i],
            gain: gains[i],
        })
        .collect();
    Ok(Calibration {
        parameters,
        statuses,
        identifiability: Identifiability {
            singular_values,
            condition_number,
            correlated,
            correlation,
            unidentifiable,
            merge_roughness,
            merge_demand,
        },
        cost_before,
        cost_after: best.data_ss,
        variance_factor,
        readings: m,
        iterations,
        simulations: pb.sims.load(std::sync::atomic::Ordering::Relaxed),
        notes,
        values: Values {
            roughness,
            demand,
            pump_speed,
            open: best.open,
            offsets,
        },
    })
}

/// A standard deviation reported for a parameter bounded to `[lo, hi]`:
/// no distribution on an interval has a larger one than half its width
/// (Popoviciu's inequality), so a wider one — misfit correlated over a
/// long time inflates the sandwich along directions the data hardly fix —
/// says only that the data leave the parameter anywhere within its bounds.
fn within_bounds_sd(sd: f64, lo: f64, hi: f64) -> f64 {
    let half = 0.5 * (hi - lo);
    if half.is_finite() && half >= 0.0 {
        sd.min(half)
    } else {
        sd
    }
}

/// The modelled value of every observation of `data` (observation-major,
/// `[o * rows + r]`) with the parameter `values` (sensor offsets added).
/// Used for validation periods and for the model before calibration.
pub fn predict(
    net: &Network,
    set: &ParamSet,
    data: &Data,
    values: &Values,
    opts: &Options,
) -> Result<Vec<f64>, CalibError> {
    let engine = model::Engine::new(net, set, data, opts)?;
    let mut pred = engine
        .run_full(
            set,
            &values.roughness,
            &values.demand,
            &values.pump_speed,
            &values.open,
        )?
        .pred;
    for (o, off) in values.offsets.iter().enumerate() {
        for v in &mut pred[o * data.rows..(o + 1) * data.rows] {
            *v += off;
        }
    }
    Ok(pred)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NET: &str = "[JUNCTIONS]\nJ1 10 5\nJ2 10 5\n[RESERVOIRS]\nR1 50\n[PIPES]\nP1 R1 J1 1000 150 100\nP2 J1 J2 1000 150 100\n[TIMES]\nDURATION 2:00\nHYDRAULIC TIMESTEP 1:00\n[OPTIONS]\nUNITS LPS\n";

    /// Pressures of J1 and J2 at each hour of the truth (roughness 80).
    fn truth(text: &str) -> Vec<[f64; 2]> {
        pressures(network::inp::parse_inp(&text.replace("150 100", "150 80"), "t.inp").unwrap())
    }

    /// Pressures of J1 and J2 at each step of `net`.
    fn pressures(net: Network) -> Vec<[f64; 2]> {
        let mut sim = hydraulics::Simulation::from_network(net).unwrap();
        let mut out = Vec::new();
        loop {
            sim.run().unwrap();
            out.push([sim.pressure_m(0), sim.pressure_m(1)]);
            if sim.next() == 0 {
                break;
            }
        }
        out
    }

    fn data(p: &[[f64; 2]], ranges: [Option<(f64, f64)>; 2]) -> Data {
        Data {
            start_s: 0,
            step_s: 3600,
            rows: p.len(),
            observations: (0..2)
                .map(|i| Observation {
                    name: format!("p{}", i + 1),
                    kind: ObsKind::Pressure,
                    element: i,
                    values: p.iter().map(|v| v[i]).collect(),
                    range: ranges[i],
                })
                .collect(),
            tank_levels: vec![],
            pump_flows: vec![],
        }
    }

    fn roughness() -> ParamSet {
        ParamSet {
            roughness: vec![RoughnessGroup {
                name: "all".into(),
                pipes: vec![0, 1],
            }],
            demand: vec![],
            offsets: false,
            uncertain_links: vec![],
            pump_speed: vec![],
        }
    }

    /// Calibrates `net` on `d`: the truth's roughness factor (0.8) comes
    /// back, and a note says `note`.
    fn fits_the_truth_with_a_note(net: &Network, d: &Data, note: &str) -> Calibration {
        let out = calibrate(net, &roughness(), d, &Options::default()).unwrap();
        let f = &out.parameters[0];
        assert!((f.after - 0.8).abs() < 0.01, "{f:?}");
        assert!(
            out.notes.iter().any(|n| n.contains(note)),
            "{:?}",
            out.notes
        );
        out
    }

    #[test]
    fn a_reading_the_model_cannot_predict_is_left_out_with_a_note() {
        let p = truth(NET);
        assert_eq!(p.len(), 3);
        let net = network::inp::parse_inp(NET, "n.inp").unwrap();
        // J1's sensor reads at most 1 m: the model's ~40 m there is a state
        // it could not read, so only J2's readings are fitted.
        let d = data(&p, [Some((-10.0, 1.0)), None]);
        fits_the_truth_with_a_note(&net, &d, "3 of 6 readings are not fitted");
        // No reading left: an error that says why, not a fit of nothing.
        let d = data(&p, [Some((-10.0, 1.0)), Some((-10.0, 1.0))]);
        let e = calibrate(&net, &roughness(), &d, &Options::default()).unwrap_err();
        assert!(matches!(e, CalibError::Unreadable { readings: 6 }), "{e}");
    }

    /// A control at the edge of acting: pipe P3 (parallel to P2) opens
    /// when J1's pressure rises above a level just above the highest the
    /// model reaches (hour 1). The finite difference on roughness opens it
    /// from hour 1 on: a jump there, not a slope. The uncertainty of the
    /// factor must come from the smooth reading (hour 0), never from the
    /// jump (which alone would make it look known to a tiny fraction).
    #[test]
    fn a_link_switching_under_the_difference_gives_no_slope() {
        let base = "[JUNCTIONS]\nJ1 10 5 PT\nJ2 10 5 PT\n[RESERVOIRS]\nR1 50\n[PIPES]\nP1 R1 J1 1000 150 100\nP2 J1 J2 1000 150 100\nP3 J1 J2 1000 150 100 CLOSED\n[PATTERNS]\nPT 1.2 0.8 1.0\n[TIMES]\nDURATION 2:00\nHYDRAULIC TIMESTEP 1:00\n[OPTIONS]\nUNITS LPS\n";
        let reference = network::inp::parse_inp(base, "r.inp").unwrap();
        let p = pressures(reference.clone());
        assert!(p[1][0] > p[0][0] && p[1][0] > p[2][0], "{p:?}");
        let control = format!(
            "{base}[CONTROLS]\nLINK P3 OPEN IF NODE J1 ABOVE {:.6}\n",
            p[1][0] + 1e-4
        );
        let edge = network::inp::parse_inp(&control, "c.inp").unwrap();
        let d = data(&p, [None, None]);
        let set = ParamSet {
            roughness: vec![RoughnessGroup {
                name: "all".into(),
                pipes: vec![0, 1, 2],
            }],
            ..roughness()
        };
        let sd = |net: &Network| {
            let out = calibrate(net, &set, &d, &Options::default()).unwrap();
            let f = &out.parameters[0];
            assert!((f.after - 1.0).abs() < 1e-3, "{f:?}");
            f.sd
        };
        let (sd_ref, sd_edge) = (sd(&reference), sd(&edge));
        // Hour 0 alone knows less than the three hours of the reference.
        assert!(
            sd_edge >= sd_ref && sd_edge < 10.0 * sd_ref,
            "sd {sd_edge} with the control at its edge, {sd_ref} without"
        );
    }

    /// Misfit shared by both sensors and slow over the day (a daily
    /// wave): the reported standard deviation is wider than independent
    /// readings would give. With the limit set just under it, the factor
    /// is not called identifiable: the report never prints "identifiable"
    /// beside an interval wider than its own limit.
    /// Two days of the truth, both sensors reading `amplitude` m × a sine
    /// of `period_h` hours off it: misfit the sensors share, slow over
    /// the period.
    fn shared_wave(amplitude: f64, period_h: f64) -> (Network, Data) {
        let text = NET.replace("DURATION 2:00", "DURATION 48:00");
        let net = network::inp::parse_inp(&text, "n.inp").unwrap();
        let p: Vec<[f64; 2]> = truth(&text)
            .iter()
            .enumerate()
            .map(|(r, v)| {
                let w = amplitude * (2.0 * std::f64::consts::PI * r as f64 / period_h).sin();
                [v[0] + w, v[1] + w]
            })
            .collect();
        (net, data(&p, [None, None]))
    }

    #[test]
    fn identifiable_only_when_the_reported_uncertainty_says_so() {
        let (net, d) = shared_wave(0.3, 24.0);
        let first = calibrate(&net, &roughness(), &d, &Options::default()).unwrap();
        let e = &first.parameters[0];
        let sd_ln = e.sd / e.after;
        let opts = Options {
            identifiable_sd: 0.9 * sd_ln,
            ..Options::default()
        };
        let out = calibrate(&net, &roughness(), &d, &opts).unwrap();
        assert!(
            !out.parameters[0].identifiable,
            "{:?} (sd {sd_ln})",
            out.parameters[0]
        );
        let opts = Options {
            identifiable_sd: 1.1 * sd_ln,
            ..Options::default()
        };
        let out = calibrate(&net, &roughness(), &d, &opts).unwrap();
        assert!(out.parameters[0].identifiable, "{:?}", out.parameters[0]);
    }

    #[test]
    fn a_loose_parameter_is_reported_within_its_bounds() {
        // Misfit far larger than anything the roughness moves, shared by
        // both sensors and slow over the two days: the sandwich leaves the
        // roughness anywhere, and the report says so within the bounds
        // (0.5–2) instead of an interval over orders of magnitude.
        let (net, d) = shared_wave(60.0, 48.0);
        let out = calibrate(&net, &roughness(), &d, &Options::default()).unwrap();
        let e = &out.parameters[0];
        assert!(!e.identifiable, "{e:?}");
        let half = 0.5 * (2f64.ln() - 0.5f64.ln());
        assert!(e.sd <= e.after * half + 1e-9, "{e:?}");
        assert!(e.low95 >= 0.5 - 1e-9 && e.high95 <= 2.0 + 1e-9, "{e:?}");
    }

    #[test]
    fn a_model_that_stops_when_unbalanced_runs_through_the_period() {
        // One trial cannot solve a step: EPANET's UNBALANCED STOP would end
        // the run after the first step, leaving the rest of the period
        // unpredicted (the fit then saw one row and moved nothing). It runs
        // on (CONTINUE 10, said in a note) and every row is fitted.
        let text = NET.replace("UNITS LPS\n", "UNITS LPS\nTRIALS 1\nUNBALANCED STOP\n");
        let net = network::inp::parse_inp(&text, "n.inp").unwrap();
        let d = data(&truth(NET), [None, None]);
        let out = fits_the_truth_with_a_note(&net, &d, "UNBALANCED CONTINUE 10");
        assert!(
            !out.notes.iter().any(|n| n.contains("not fitted")),
            "{:?}",
            out.notes
        );
        let pred = predict(&net, &roughness(), &d, &out.values, &Options::default()).unwrap();
        assert!(pred.iter().all(|v| v.is_finite()), "{pred:?}");
    }
}
