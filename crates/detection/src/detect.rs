//! The leak detector: the model run with measured boundary conditions,
//! residuals against the sensors, a persistence-holding statistic on the
//! water balance, and localization by simulated candidate leaks.
//!
//! 1. **Data checks.** Every sensor column is checked: missing, too many
//!    gaps, out of its range, stuck (a pressure or level repeating the same
//!    value for a day). Faulty sensors are excluded and listed; short gaps
//!    are interpolated.
//! 2. **Boundary conditions and demand calibration.** Tanks with a level
//!    sensor become fixed-head nodes at the measured level; pumps with a flow
//!    sensor follow the measured on/off state. Consumption is measured by
//!    the water balance (inflows from reservoirs minus tank storage change);
//!    AMR nodes get their metered demand; every other demand is scaled by one
//!    multiplier per step so that the model consumes what was measured.
//! 3. **Normal behaviour.** On a leak-free training period (the first week
//!    unless a separate one is given): the balance excess over the model's
//!    expected consumption (per demand pattern, least squares) and its
//!    variance as a function of demand; and, per pressure/flow sensor, the
//!    residual measured − simulated as a function of demand.
//! 4. **Detection.** One-sided CUSUM on hourly standardized balance excess
//!    (k = 0.5, h = 10 by default: about one false alarm in years of
//!    Gaussian noise). A leak is water the model does not consume, so it
//!    shows in the balance wherever it is, including behind the tank.
//! 5. **Localization.** The signature is the change of the detrended
//!    residuals over a window after the estimated start against the day
//!    before. Candidate leaks of the estimated size at every junction are
//!    simulated at a few steps of the window (warm-started clones, in
//!    parallel) with the demand recalibration the detector itself does; each
//!    candidate's fit (free non-negative amplitude) gives a likelihood, and
//!    the reported pipe minimises the expected distance to the leak under
//!    those weights (signatures are nearly collinear, so the most likely
//!    node alone is a poor bet).
//! 6. **After an alarm** its estimated size joins the balance baseline and
//!    the CUSUM restarts; a later alarm localized within `growth_radius_m`
//!    of an earlier one is taken as that leak growing, not a new leak.
//!
//! The report time of a leak is the end of its localization window (so the
//! report uses no data from after the time it names).

use crate::netedit::{drop_controls_on_link, tank_to_fixed_head};
use crate::scenario::{set_times, STEP_S};
use crate::scoring::time::format_step;
use crate::scoring::PipeGraph;
use crate::sensors::{SensorKind, SensorSet};
use crate::signature;
use hydraulics::Simulation;
use network::{LinkKind, Network, NodeKind};
use serde::{Deserialize, Serialize};

/// SCADA readings aligned on 5-minute rows; `NaN` = missing.
#[derive(Debug, Clone)]
pub struct ScadaData {
    /// Step of row 0 (5-minute steps from 2019-01-01 00:00).
    pub start_step: i64,
    pub rows: usize,
    pub columns: Vec<Column>,
}

#[derive(Debug, Clone)]
pub struct Column {
    pub kind: SensorKind,
    pub name: String,
    pub values: Vec<f64>,
}

impl ScadaData {
    pub fn column(&self, kind: SensorKind, name: &str) -> Option<&Column> {
        self.columns
            .iter()
            .find(|c| c.kind == kind && c.name == name)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DetectConfig {
    /// Leak-free training days at the start of the data (when no separate
    /// training data is given).
    pub train_days: f64,
    /// CUSUM reference value and threshold, in standard deviations of the
    /// hourly balance excess.
    pub cusum_k: f64,
    pub cusum_h: f64,
    /// Localization window after the estimated start, hours.
    pub loc_window_h: f64,
    /// Reference window before the estimated start, hours.
    pub ref_window_h: f64,
    /// Steps of the window at which candidates are simulated.
    pub loc_samples: usize,
    /// Nodes kept for the expected-distance choice.
    pub top_nodes: usize,
    /// Scale of the likelihood temperature (larger = flatter weights, a
    /// more centroid-like choice).
    pub temperature_scale: f64,
    /// Compare signatures per sample time (true) or averaged over the window.
    pub per_sample: bool,
    /// Standardize the signature by its own noise in training (the spread
    /// of window-mean differences) instead of the residual spread. Off by
    /// default: in development it found slightly more big leaks in time but
    /// gave more false alarms and a lower score.
    pub signature_noise: bool,
    /// A later alarm this close to an earlier one is the same leak growing.
    pub growth_radius_m: f64,
    /// Early report: as soon as a localization window of at least
    /// `early_min_h` hours after the estimated start puts this much candidate
    /// weight within 300 m of the reported pipe, report then instead of at
    /// the end of the full window (> 1 disables early reports).
    pub early_confidence: f64,
    pub early_min_h: f64,
    /// Hours between localization attempts before the full window.
    pub early_step_h: f64,
    /// An alarm whose localization puts less candidate weight than this
    /// within 300 m of its best pipe, even after the full window, is not
    /// reported (its water still joins the balance baseline): such reports
    /// were mostly false positives in development.
    pub min_confidence: f64,
    /// Fit each candidate's signature together with those of the leaks
    /// already found (non-negative amplitudes), which may still be growing.
    pub joint_known: bool,
    /// For windows shorter than a day, compare with the same clock times on
    /// the days before instead of the whole day before.
    pub ref_same_time: bool,
    /// An alarm whose signature the known leaks explain this many times
    /// worse (misfit ratio) than with a new leak added is a new leak, even
    /// when the new signature alone points near a known one.
    pub new_leak_evidence: f64,
    /// Gaps longer than this share of the rows exclude a sensor.
    pub max_missing_share: f64,
    /// A pressure or level repeating one value this many steps is stuck.
    pub stuck_steps: usize,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            train_days: 7.0,
            cusum_k: 0.5,
            cusum_h: 10.0,
            loc_window_h: 24.0,
            ref_window_h: 24.0,
            loc_samples: 8,
            top_nodes: 60,
            temperature_scale: 1.0,
            per_sample: false,
            signature_noise: false,
            growth_radius_m: 300.0,
            early_confidence: 0.97,
            early_min_h: 3.0,
            early_step_h: 6.0,
            min_confidence: 0.6,
            joint_known: true,
            ref_same_time: true,
            new_leak_evidence: 30.0,
            max_missing_share: 0.2,
            stuck_steps: 288,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SensorIssue {
    pub kind: SensorKind,
    pub column: String,
    pub problem: String,
    /// Excluded from the analysis (otherwise only repaired, e.g. short gaps).
    pub excluded: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CandidatePipe {
    pub pipe: String,
    /// Expected distance to the leak under the candidate weights, m.
    pub expected_distance_m: f64,
    /// Weight of candidate leak nodes within 300 m of this pipe.
    pub mass_within_300m: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CandidateNode {
    pub node: String,
    pub weight: f64,
    /// Misfit of the standardized signature.
    pub misfit: f64,
    /// Fitted amplitude (1 = the estimated size).
    pub amplitude: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Alarm {
    /// Reported (true), or not: taken as the growth of an earlier alarm
    /// (`growth_of`), or localized too diffusely (`min_confidence`).
    pub reported: bool,
    pub growth_of: Option<usize>,
    pub pipe: String,
    /// Report time `YYYY-MM-DD HH:MM` (end of the localization window).
    pub time: String,
    pub step: i64,
    /// When the CUSUM crossed its threshold.
    pub alarm_time: String,
    pub estimated_start: String,
    pub estimated_size_lps: f64,
    /// Weight of candidate nodes within 300 m of the reported pipe.
    pub confidence: f64,
    pub candidate_pipes: Vec<CandidatePipe>,
    pub candidate_nodes: Vec<CandidateNode>,
    /// With leaks already found: how much better a new leak explains the
    /// signature than the growth of those alone (misfit ratio).
    pub new_leak_evidence: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DetectReport {
    pub config: DetectConfig,
    pub rows: usize,
    pub first_time: String,
    pub sensors_used: usize,
    pub issues: Vec<SensorIssue>,
    pub notes: Vec<String>,
    pub training: String,
    /// Standard deviation of the hourly balance excess in training, L/s (mean).
    pub balance_sigma_lps: f64,
    pub alarms: Vec<Alarm>,
}

impl DetectReport {
    /// `pipeID, YYYY-MM-DD HH:MM` lines of the reported alarms.
    pub fn battledim_lines(&self) -> String {
        self.alarms
            .iter()
            .filter(|a| a.reported)
            .map(|a| format!("{}, {}\n", a.pipe, a.time))
            .collect()
    }
}

#[derive(Debug)]
pub enum DetectError {
    Sensors(Vec<String>),
    Model(String),
    Data(String),
}
impl std::fmt::Display for DetectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DetectError::Sensors(v) => write!(
                f,
                "the sensor map does not match the network:\n  {}",
                v.join("\n  ")
            ),
            DetectError::Model(e) => write!(f, "model: {e}"),
            DetectError::Data(e) => write!(f, "data: {e}"),
        }
    }
}
impl std::error::Error for DetectError {}

// ------------------------------------------------------------------ checks

/// Checks one series and repairs short gaps; `Err` = exclude, with why.
pub fn check_series(
    kind: SensorKind,
    values: &[f64],
    range: Option<(f64, f64)>,
    cfg: &DetectConfig,
) -> Result<(Vec<f64>, Vec<String>), String> {
    let n = values.len();
    let mut v = values.to_vec();
    let mut notes = Vec::new();
    let mut out_of_range = 0;
    if let Some((lo, hi)) = range {
        for x in &mut v {
            if x.is_finite() && (*x < lo || *x > hi) {
                *x = f64::NAN;
                out_of_range += 1;
            }
        }
    }
    if out_of_range as f64 > 0.05 * n as f64 {
        return Err(format!(
            "{out_of_range} of {n} readings out of range {:?}",
            range.unwrap()
        ));
    }
    if out_of_range > 0 {
        notes.push(format!("{out_of_range} readings out of range ignored"));
    }
    let missing = v.iter().filter(|x| !x.is_finite()).count();
    if missing == n {
        return Err("no readings".into());
    }
    if missing as f64 > cfg.max_missing_share * n as f64 {
        return Err(format!("{missing} of {n} readings missing"));
    }
    if matches!(kind, SensorKind::Pressure | SensorKind::Level) {
        let mut run = 1;
        let mut longest = 1;
        for w in v.windows(2) {
            if w[0].is_finite() && w[0] == w[1] {
                run += 1;
                longest = longest.max(run);
            } else {
                run = 1;
            }
        }
        if longest >= cfg.stuck_steps.min(n) && n > 1 {
            return Err(format!(
                "stuck: the same value for {longest} consecutive readings ({:.1} h)",
                longest as f64 * STEP_S as f64 / 3600.0
            ));
        }
    }
    if missing > 0 {
        notes.push(format!("{missing} missing readings interpolated"));
        fill_gaps(&mut v);
    }
    Ok((v, notes))
}

/// Linear interpolation inside gaps, nearest value at the ends.
fn fill_gaps(v: &mut [f64]) {
    let n = v.len();
    let mut last: Option<usize> = None;
    let mut i = 0;
    while i < n {
        if v[i].is_finite() {
            if let Some(l) = last {
                if i > l + 1 {
                    let (a, b) = (v[l], v[i]);
                    for j in l + 1..i {
                        v[j] = a + (b - a) * (j - l) as f64 / (i - l) as f64;
                    }
                }
            } else {
                let x = v[i];
                v[..i].iter_mut().for_each(|y| *y = x);
            }
            last = Some(i);
        }
        i += 1;
    }
    if let Some(l) = last {
        let x = v[l];
        v[l + 1..].iter_mut().for_each(|y| *y = x);
    }
}

// ------------------------------------------------------------------ setup

/// Which sensor drives what in the model (indices into the detection network).
#[derive(Debug, Clone)]
struct Setup {
    net: Network,
    /// (sensor index, node) of tanks made fixed-head; tank area m².
    tanks: Vec<(usize, usize, f64)>,
    /// (sensor index, link) of pumps with a flow sensor.
    pumps: Vec<(usize, usize)>,
    /// (sensor index, link, sign) of flows out of reservoirs.
    inflows: Vec<(usize, usize, f64)>,
    /// (sensor index, node) of AMR demands.
    amr: Vec<(usize, usize)>,
    /// (sensor index, kind, node or link) compared with the model.
    residual: Vec<(usize, SensorKind, usize)>,
    /// Demand groups of non-AMR junctions: (pattern, per-junction base sums).
    groups: Vec<(Option<usize>, f64)>,
    /// Per AMR sensor: its node's demands (base, pattern).
    amr_demands: Vec<Vec<(f64, Option<usize>)>>,
    balance: bool,
}

impl Setup {
    fn new(
        model: &Network,
        sensors: &SensorSet,
        usable: &[bool],
        notes: &mut Vec<String>,
    ) -> Setup {
        let mut net = model.clone();
        let mut tanks = Vec::new();
        let mut pumps = Vec::new();
        let mut inflows = Vec::new();
        let mut amr = Vec::new();
        let mut residual = Vec::new();
        for (si, s) in sensors.sensors.iter().enumerate() {
            if !usable[si] {
                continue;
            }
            match s.kind {
                SensorKind::Level => {
                    let i = model.node_index(&s.element).expect("checked");
                    let d = model.nodes[i].tank().map_or(0.0, |t| t.diameter);
                    tanks.push((si, i, std::f64::consts::PI * d * d / 4.0));
                }
                SensorKind::Flow => {
                    let k = model.link_index(&s.element).expect("checked");
                    let l = &model.links[k];
                    if matches!(l.kind, LinkKind::Pump(_)) {
                        pumps.push((si, k));
                    }
                    if model.nodes[l.from].is_reservoir() {
                        inflows.push((si, k, 1.0));
                    } else if model.nodes[l.to].is_reservoir() {
                        inflows.push((si, k, -1.0));
                    }
                    residual.push((si, SensorKind::Flow, k));
                }
                SensorKind::Pressure => {
                    residual.push((
                        si,
                        SensorKind::Pressure,
                        model.node_index(&s.element).expect("checked"),
                    ));
                }
                SensorKind::Demand => {
                    amr.push((si, model.node_index(&s.element).expect("checked")));
                }
            }
        }
        for &(_, i, _) in &tanks {
            tank_to_fixed_head(&mut net, i);
        }
        for &(_, k) in &pumps {
            drop_controls_on_link(&mut net, k);
        }
        // Water balance: every reservoir must have a metered outflow and
        // every tank a level.
        let reservoirs: Vec<usize> = (0..model.nodes.len())
            .filter(|&i| model.nodes[i].is_reservoir())
            .collect();
        let mut balance = true;
        for &r in &reservoirs {
            let metered = model
                .links
                .iter()
                .enumerate()
                .filter(|(_, l)| l.from == r || l.to == r)
                .all(|(k, _)| inflows.iter().any(|&(_, kk, _)| kk == k));
            if !metered {
                notes.push(format!(
                    "reservoir {} has an unmetered connection: no water balance, no demand calibration",
                    model.nodes[r].id
                ));
                balance = false;
            }
        }
        for (i, n) in model.nodes.iter().enumerate() {
            if n.is_tank() && !tanks.iter().any(|&(_, t, _)| t == i) {
                notes.push(format!(
                    "tank {} has no usable level sensor: no water balance, no demand calibration",
                    n.id
                ));
                balance = false;
            }
        }
        let default_pat = model.default_pattern();
        let mut groups: Vec<(Option<usize>, f64)> = Vec::new();
        let mut amr_demands = Vec::new();
        let is_amr: Vec<bool> = {
            let mut v = vec![false; model.nodes.len()];
            for &(_, i) in &amr {
                v[i] = true;
            }
            v
        };
        for &(_, i) in &amr {
            let d = match &model.nodes[i].kind {
                NodeKind::Junction(j) => j
                    .demands
                    .iter()
                    .map(|d| (d.base, d.pattern.or(default_pat)))
                    .collect(),
                _ => vec![],
            };
            amr_demands.push(d);
        }
        for (i, n) in model.nodes.iter().enumerate() {
            if let NodeKind::Junction(j) = &n.kind {
                if is_amr[i] {
                    continue;
                }
                for d in &j.demands {
                    let p = d.pattern.or(default_pat);
                    match groups.iter_mut().find(|g| g.0 == p) {
                        Some(g) => g.1 += d.base,
                        None => groups.push((p, d.base)),
                    }
                }
            }
        }
        Setup {
            net,
            tanks,
            pumps,
            inflows,
            amr,
            residual,
            groups,
            amr_demands,
            balance,
        }
    }
}

/// Everything computed per step for one data set.
struct Frame {
    rows: usize,
    start_step: i64,
    /// Pattern offset (s) so that row 0 falls on its time in the weekly patterns.
    pattern_start: u64,
    /// Measured consumption (water balance) and metered AMR consumption, m³/s.
    d_meas: Vec<f64>,
    q_amr: Vec<f64>,
    /// Model demand of each non-AMR group, m³/s (without multipliers).
    d_group: Vec<Vec<f64>>,
    /// Per AMR sensor: model demand and measured demand, m³/s.
    amr_model: Vec<Vec<f64>>,
    amr_meas: Vec<Vec<f64>>,
    /// Global multiplier of non-AMR demands.
    m: Vec<f64>,
    levels: Vec<Vec<f64>>,
    pump_open: Vec<Vec<bool>>,
    /// Per residual channel: measured and simulated (m or m³/h).
    meas: Vec<Vec<f64>>,
    sim: Vec<Vec<f64>>,
}

fn pattern_value(net: &Network, p: Option<usize>, period: usize) -> f64 {
    match p {
        Some(j) => net.patterns[j].at(period),
        None => 1.0,
    }
}

impl Frame {
    fn new(setup: &Setup, series: &[Option<Vec<f64>>], data: &ScadaData) -> Frame {
        let net = &setup.net;
        let rows = data.rows;
        let pstep = net.times.pattern_step.max(1);
        let plen = net
            .patterns
            .iter()
            .map(|p| p.multipliers.len())
            .max()
            .unwrap_or(1)
            .max(1) as i64;
        let cycle = plen * pstep as i64;
        let pattern_start = (data.start_step * STEP_S as i64 + net.times.pattern_start as i64)
            .rem_euclid(cycle) as u64;
        let period = |r: usize| ((pattern_start + r as u64 * STEP_S) / pstep) as usize;
        let d_group: Vec<Vec<f64>> = setup
            .groups
            .iter()
            .map(|&(p, base)| {
                (0..rows)
                    .map(|r| base * pattern_value(net, p, period(r)))
                    .collect()
            })
            .collect();
        let amr_model: Vec<Vec<f64>> = setup
            .amr_demands
            .iter()
            .map(|ds| {
                (0..rows)
                    .map(|r| {
                        ds.iter()
                            .map(|&(b, p)| b * pattern_value(net, p, period(r)))
                            .sum()
                    })
                    .collect()
            })
            .collect();
        let get = |si: usize| series[si].as_ref().expect("usable");
        let amr_meas: Vec<Vec<f64>> = setup
            .amr
            .iter()
            .map(|&(si, _)| get(si).iter().map(|x| x / 3.6e6).collect())
            .collect();
        let q_amr: Vec<f64> = (0..rows)
            .map(|r| amr_meas.iter().map(|v| v[r]).sum())
            .collect();
        let levels: Vec<Vec<f64>> = setup
            .tanks
            .iter()
            .map(|&(si, _, _)| get(si).clone())
            .collect();
        // Consumption: reservoir outflows minus storage change (central
        // difference over ±3 steps smooths the 0.01 m level resolution).
        let mut d_meas = vec![0.0; rows];
        for &(si, _, sign) in &setup.inflows {
            for (d, q) in d_meas.iter_mut().zip(get(si)) {
                *d += sign * q / 3600.0;
            }
        }
        for (lv, &(_, _, area)) in levels.iter().zip(&setup.tanks) {
            let h = 3usize;
            for (r, d) in d_meas.iter_mut().enumerate() {
                let (a, b) = (r.saturating_sub(h), (r + h).min(rows - 1));
                if b > a {
                    *d -= area * (lv[b] - lv[a]) / ((b - a) as f64 * STEP_S as f64);
                }
            }
        }
        let m: Vec<f64> = (0..rows)
            .map(|r| {
                let dm: f64 = d_group.iter().map(|g| g[r]).sum();
                if setup.balance && dm > 1e-9 {
                    ((d_meas[r] - q_amr[r]) / dm).clamp(0.0, 10.0)
                } else {
                    net.options.demand_multiplier
                }
            })
            .collect();
        let pump_open = setup
            .pumps
            .iter()
            .map(|&(si, _)| get(si).iter().map(|&q| q > 0.1).collect())
            .collect();
        let meas = setup
            .residual
            .iter()
            .map(|&(si, _, _)| get(si).clone())
            .collect();
        Frame {
            rows,
            start_step: data.start_step,
            pattern_start,
            d_meas,
            q_amr,
            d_group,
            amr_model,
            amr_meas,
            m,
            levels,
            pump_open,
            meas,
            sim: Vec::new(),
        }
    }

    fn model_nonamr(&self, r: usize) -> f64 {
        self.d_group.iter().map(|g| g[r]).sum()
    }
}

/// Applies the boundary conditions of row `r` with non-AMR multiplier `m`.
fn apply_bc(sim: &mut Simulation, setup: &Setup, f: &Frame, r: usize, m: f64) {
    for (lv, &(_, i, _)) in f.levels.iter().zip(&setup.tanks) {
        let el = setup.net.nodes[i].elevation;
        sim.set_reservoir_head(i, el + lv[r]);
    }
    for (open, &(_, k)) in f.pump_open.iter().zip(&setup.pumps) {
        sim.set_link_open(k, open[r]);
    }
    let m = m.max(1e-6);
    sim.set_demand_multiplier(m);
    for (a, &(_, i)) in setup.amr.iter().enumerate() {
        let model = f.amr_model[a][r] * m;
        let mult = if model > 1e-12 {
            f.amr_meas[a][r] / model
        } else {
            0.0
        };
        sim.set_node_demand_multiplier(i, mult);
    }
}

fn read_channels(sim: &Simulation, setup: &Setup, out: &mut [f64]) {
    for (o, &(_, kind, idx)) in out.iter_mut().zip(&setup.residual) {
        *o = match kind {
            SensorKind::Flow => sim.flow_lps(idx) * 3.6,
            _ => sim.pressure_m(idx),
        };
    }
}

/// Runs the calibrated model over the frame; fills `f.sim`; returns clones
/// of the solved simulation at the rows in `snaps` (sorted).
fn run_model(
    setup: &Setup,
    f: &mut Frame,
    snaps: &[usize],
) -> Result<Vec<Simulation>, DetectError> {
    let mut net = setup.net.clone();
    set_times(&mut net, f.rows);
    net.times.pattern_start = f.pattern_start;
    let mut sim = Simulation::from_network(net).map_err(|e| DetectError::Model(e.to_string()))?;
    let nch = setup.residual.len();
    let last = snaps.iter().max().copied();
    let keep_all = f.sim.is_empty();
    if keep_all {
        f.sim = vec![vec![0.0; f.rows]; nch];
    }
    let mut out = Vec::new();
    let mut buf = vec![0.0; nch];
    loop {
        let t = sim.time_s();
        let on_grid = t % STEP_S == 0;
        let r = (t / STEP_S) as usize;
        if on_grid && r < f.rows {
            apply_bc(&mut sim, setup, f, r, f.m[r]);
        }
        sim.run().map_err(|e| DetectError::Model(e.to_string()))?;
        if on_grid && r < f.rows {
            if keep_all {
                read_channels(&sim, setup, &mut buf);
                for (c, v) in buf.iter().enumerate() {
                    f.sim[c][r] = *v;
                }
            }
            if snaps.binary_search(&r).is_ok() {
                out.push(sim.clone());
            }
            if !keep_all && Some(r) >= last {
                break;
            }
        }
        if sim.next() == 0 {
            break;
        }
    }
    Ok(out)
}

// --------------------------------------------------------- normal behaviour

/// Least squares `y ≈ X β` (normal equations with a tiny ridge).
fn lstsq(x: &[Vec<f64>], y: &[f64]) -> Vec<f64> {
    let p = x.first().map_or(0, Vec::len);
    let mut a = vec![vec![0.0; p]; p];
    let mut b = vec![0.0; p];
    for (xi, &yi) in x.iter().zip(y) {
        for i in 0..p {
            b[i] += xi[i] * yi;
            for j in 0..p {
                a[i][j] += xi[i] * xi[j];
            }
        }
    }
    let tr: f64 = (0..p).map(|i| a[i][i]).sum::<f64>() / p.max(1) as f64;
    for (i, row) in a.iter_mut().enumerate() {
        row[i] += 1e-9 * tr + 1e-300;
    }
    // Gaussian elimination with partial pivoting.
    for c in 0..p {
        let piv = (c..p)
            .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
            .unwrap();
        a.swap(c, piv);
        b.swap(c, piv);
        if a[c][c].abs() < 1e-300 {
            continue;
        }
        for r in c + 1..p {
            let f = a[r][c] / a[c][c];
            for k in c..p {
                a[r][k] -= f * a[c][k];
            }
            b[r] -= f * b[c];
        }
    }
    let mut beta = vec![0.0; p];
    for c in (0..p).rev() {
        let s: f64 = (c + 1..p).map(|k| a[c][k] * beta[k]).sum();
        beta[c] = if a[c][c].abs() < 1e-300 {
            0.0
        } else {
            (b[c] - s) / a[c][c]
        };
    }
    beta
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The learnt normal behaviour.
struct Normal {
    /// Balance: consumption ≈ Σ β_g · group demand.
    beta: Vec<f64>,
    /// Variance of the hourly excess ≈ v0 + v1 · (expected hourly demand)².
    v0: f64,
    v1: f64,
    /// Per residual channel: coefficients on [1, u, u²] and residual std.
    res_coef: Vec<Vec<f64>>,
    res_sigma: Vec<f64>,
    /// Per residual channel: prefix sums of the detrended training
    /// residuals (for the noise of window-mean differences).
    train_cum: Vec<Vec<f64>>,
    /// Scale of u (mean expected demand in training).
    u_scale: f64,
}

fn expected_demand(n: &Normal, f: &Frame, r: usize) -> f64 {
    f.d_group.iter().zip(&n.beta).map(|(g, b)| g[r] * b).sum()
}

fn features(n: &Normal, f: &Frame, r: usize) -> Vec<f64> {
    let u = (expected_demand(n, f, r) + f.q_amr[r]) / n.u_scale;
    vec![1.0, u, u * u]
}

fn learn(f: &Frame, rows: std::ops::Range<usize>) -> Normal {
    let x: Vec<Vec<f64>> = rows
        .clone()
        .map(|r| f.d_group.iter().map(|g| g[r]).collect())
        .collect();
    let y: Vec<f64> = rows.clone().map(|r| f.d_meas[r] - f.q_amr[r]).collect();
    let beta = lstsq(&x, &y);
    let mut n = Normal {
        beta,
        v0: 0.0,
        v1: 0.0,
        res_coef: vec![],
        res_sigma: vec![],
        train_cum: vec![],
        u_scale: 1.0,
    };
    let mean_d = rows
        .clone()
        .map(|r| expected_demand(&n, f, r) + f.q_amr[r])
        .sum::<f64>()
        / rows.len().max(1) as f64;
    n.u_scale = mean_d.max(1e-9);
    // Hourly excess variance as a function of demand.
    let hours = hourly(f, &n, rows.clone());
    let hx: Vec<Vec<f64>> = hours.iter().map(|h| vec![1.0, h.1 * h.1]).collect();
    let hy: Vec<f64> = hours.iter().map(|h| h.0 * h.0).collect();
    let v = lstsq(&hx, &hy);
    let mean_var = hy.iter().sum::<f64>() / hy.len().max(1) as f64;
    n.v0 = v[0].max(0.05 * mean_var).max(1e-12);
    n.v1 = v[1].max(0.0);
    // Residual trends.
    let xf: Vec<Vec<f64>> = rows.clone().map(|r| features(&n, f, r)).collect();
    for c in 0..f.meas.len() {
        let y: Vec<f64> = rows.clone().map(|r| f.meas[c][r] - f.sim[c][r]).collect();
        let coef = lstsq(&xf, &y);
        let ss: f64 = xf
            .iter()
            .zip(&y)
            .map(|(x, y)| (y - dot(x, &coef)).powi(2))
            .sum();
        n.res_sigma
            .push((ss / (y.len().max(2) - 1) as f64).sqrt().max(0.005));
        let mut cum = Vec::with_capacity(y.len() + 1);
        let mut acc = 0.0;
        cum.push(0.0);
        for (x, y) in xf.iter().zip(&y) {
            acc += y - dot(x, &coef);
            cum.push(acc);
        }
        n.train_cum.push(cum);
        n.res_coef.push(coef);
    }
    n
}

impl Normal {
    /// Standard deviation, over the training period, of the difference
    /// between the mean detrended residual of channel `c` over a window of
    /// `len` rows and over the `ref_len` rows before it: the noise of the
    /// localization signature (model mismatch that does not repeat from one
    /// day to the next, sensor resolution). Falls back to the residual
    /// standard deviation when training is too short.
    fn signature_sd(&self, c: usize, len: usize, ref_len: usize) -> f64 {
        let cum = &self.train_cum[c];
        let n = cum.len().saturating_sub(1);
        let len = len.max(1);
        let ref_len = ref_len.max(1);
        if n < len + ref_len + 12 {
            return self.res_sigma[c];
        }
        let mut vals = Vec::new();
        let mut t = ref_len;
        while t + len <= n {
            let w = (cum[t + len] - cum[t]) / len as f64;
            let r = (cum[t] - cum[t - ref_len]) / ref_len as f64;
            vals.push(w - r);
            t += 12;
        }
        let m2 = vals.iter().map(|v| v * v).sum::<f64>() / vals.len() as f64;
        m2.sqrt().max(0.003)
    }
}

/// Per hour of `rows`: (mean excess, mean expected demand), m³/s.
fn hourly(f: &Frame, n: &Normal, rows: std::ops::Range<usize>) -> Vec<(f64, f64)> {
    let per = (3600 / STEP_S) as usize;
    let mut out = Vec::new();
    let mut r = rows.start;
    while r + per <= rows.end {
        let mut e = 0.0;
        let mut d = 0.0;
        for rr in r..r + per {
            let ex = expected_demand(n, f, rr);
            e += f.d_meas[rr] - f.q_amr[rr] - ex;
            d += ex + f.q_amr[rr];
        }
        out.push((e / per as f64, d / per as f64));
        r += per;
    }
    out
}

/// Detrended residual of channel `c` at row `r`.
fn detrended(n: &Normal, f: &Frame, c: usize, r: usize) -> f64 {
    f.meas[c][r] - f.sim[c][r] - dot(&features(n, f, r), &n.res_coef[c])
}

// ------------------------------------------------------------ localization

struct Localization {
    /// Top candidate nodes: (node, normalized weight, distances from it).
    weights: Vec<(usize, f64)>,
    dists: Vec<Vec<f64>>,
    half_lengths: Vec<f64>,
    pipe_ends: Vec<(usize, usize)>,
    pipe: usize,
    confidence: f64,
    pipes: Vec<CandidatePipe>,
    nodes: Vec<CandidateNode>,
    /// Joint fits only: misfit with the known leaks alone over misfit with
    /// the best new candidate added (large = a new leak, not growth).
    new_leak_evidence: Option<f64>,
}

#[allow(clippy::too_many_arguments)]
fn localize(
    setup: &Setup,
    model: &Network,
    graph: &PipeGraph,
    normal: &Normal,
    f: &Frame,
    start: usize,
    end: usize,
    size_m3s: f64,
    known: &[usize],
    cfg: &DetectConfig,
) -> Result<(Localization, Option<Localization>), DetectError> {
    let per_h = (3600 / STEP_S) as usize;
    let ref_len = (cfg.ref_window_h * per_h as f64) as usize;
    let nch = setup.residual.len();
    // Observed signature, standardized.
    let mean_over = |a: usize, b: usize, c: usize| -> f64 {
        if b <= a {
            return 0.0;
        }
        (a..b).map(|r| detrended(normal, f, c, r)).sum::<f64>() / (b - a) as f64
    };
    let ref_a = start.saturating_sub(ref_len);
    let sig_sd: Vec<f64> = (0..nch)
        .map(|c| {
            if cfg.signature_noise {
                normal.signature_sd(c, end + 1 - start, start - ref_a)
            } else {
                normal.res_sigma[c]
            }
        })
        .collect();
    let obs: Vec<f64> = (0..nch)
        .map(|c| {
            let w = mean_over(start, end + 1, c);
            let day = 24 * per_h;
            let len = end + 1 - start;
            let base = if cfg.ref_same_time && len < day {
                // The same clock times on the days before (as many as fit
                // in the reference window): what the model gets wrong at
                // that time of day cancels.
                let days = (ref_len / day).max(1);
                let prev: Vec<f64> = (1..=days)
                    .filter(|d| start >= d * day)
                    .map(|d| mean_over(start - d * day, end + 1 - d * day, c))
                    .collect();
                if prev.is_empty() {
                    0.0
                } else {
                    prev.iter().sum::<f64>() / prev.len() as f64
                }
            } else if start > ref_a {
                mean_over(ref_a, start, c)
            } else {
                0.0
            };
            (w - base) / sig_sd[c]
        })
        .collect();
    // Sample rows, evenly across the window.
    let k = cfg.loc_samples.max(1);
    let mut samples: Vec<usize> = (0..k)
        .map(|i| start + ((end - start) as f64 * (i as f64 + 0.5) / k as f64) as usize)
        .collect();
    samples.dedup();
    let mut fr = Frame {
        sim: vec![vec![]],
        ..f.clone_light()
    };
    let snaps = run_model(setup, &mut fr, &samples)?;
    let junctions: Vec<usize> = (0..setup.net.nodes.len())
        .filter(|&i| setup.net.nodes[i].is_junction())
        .collect();
    let dim = if cfg.per_sample {
        nch * samples.len()
    } else {
        nch
    };
    let mut sig = vec![vec![0.0; dim]; junctions.len()];
    for (si, (snap, &r)) in snaps.iter().zip(&samples).enumerate() {
        let mut base = vec![0.0; nch];
        read_channels(snap, setup, &mut base);
        let dm = f.model_nonamr(r);
        let m2 = if setup.balance && dm > 1e-9 {
            (f.m[r] - size_m3s / dm).max(0.0)
        } else {
            f.m[r]
        };
        let res = hydraulics::batch::run_batch(snap, &junctions, |mut sim, &j| {
            let p = sim.pressure_m(j).max(1.0);
            sim.set_emitter(j, size_m3s / p.sqrt());
            apply_bc(&mut sim, setup, f, r, m2);
            let mut out = vec![0.0; nch];
            if sim.run().is_ok() {
                read_channels(&sim, setup, &mut out);
                for (o, b) in out.iter_mut().zip(&base) {
                    *o -= b;
                }
            }
            out
        });
        for (s, d) in sig.iter_mut().zip(res) {
            for c in 0..nch {
                if cfg.per_sample {
                    s[si * nch + c] = d[c];
                } else {
                    s[c] += d[c] / samples.len() as f64;
                }
            }
        }
    }
    // Fit each candidate: the observed signature as a non-negative
    // combination of the candidate's own and, when `cfg.joint_known` is set,
    // the signatures of the leaks already found (which may still be growing
    // inside the window and would otherwise bend the new leak's signature
    // towards theirs).
    let standardized = |s: &Vec<f64>| -> Vec<f64> {
        s.iter()
            .zip(sig_sd.iter().cycle())
            .map(|(x, sd)| x / sd)
            .collect()
    };
    let known_sigs: Vec<Vec<f64>> = if cfg.joint_known {
        known
            .iter()
            .filter_map(|&n| junctions.iter().position(|&j| j == n))
            .map(|p| standardized(&sig[p]))
            .collect()
    } else {
        Vec::new()
    };
    let fit = |with_known: &[Vec<f64>]| -> Vec<(usize, f64, f64)> {
        junctions
            .iter()
            .zip(&sig)
            .map(|(&j, s)| {
                let g = standardized(s);
                let mut cols: Vec<&[f64]> = vec![&g];
                cols.extend(with_known.iter().map(Vec::as_slice));
                let coef = signature::nnls(&cols, &obs);
                let sse: f64 = obs
                    .iter()
                    .enumerate()
                    .map(|(i, o)| {
                        let fit: f64 = cols.iter().zip(&coef).map(|(c, a)| a * c[i]).sum();
                        (o - fit).powi(2)
                    })
                    .sum();
                (j, sse, coef[0])
            })
            .collect()
    };
    let single = posterior(fit(&[]), dim, setup, model, graph, cfg);
    let joint = if known_sigs.is_empty() {
        None
    } else {
        let fits = fit(&known_sigs);
        let best = fits.iter().map(|f| f.1).fold(f64::INFINITY, f64::min);
        // Misfit with the known leaks alone (their growth, no new leak).
        let cols: Vec<&[f64]> = known_sigs.iter().map(Vec::as_slice).collect();
        let coef = signature::nnls(&cols, &obs);
        let known_only: f64 = obs
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let fit: f64 = cols.iter().zip(&coef).map(|(c, a)| a * c[i]).sum();
                (o - fit).powi(2)
            })
            .sum();
        let mut loc = posterior(fits, dim, setup, model, graph, cfg);
        loc.new_leak_evidence = Some(known_only / best.max(1e-12));
        Some(loc)
    };
    Ok((single, joint))
}

/// The candidate weights from the fits `(node, misfit, amplitude)` and the
/// pipe minimizing the expected distance to the leak under them.
fn posterior(
    mut fits: Vec<(usize, f64, f64)>,
    dim: usize,
    setup: &Setup,
    model: &Network,
    graph: &PipeGraph,
    cfg: &DetectConfig,
) -> Localization {
    fits.sort_by(|a, b| a.1.total_cmp(&b.1));
    let best = fits[0].1;
    let temp = (best / (dim.max(2) - 1) as f64).max(1e-6) * cfg.temperature_scale;
    let top: Vec<(usize, f64, f64, f64)> = fits
        .iter()
        .take(cfg.top_nodes.max(1))
        .map(|&(j, sse, a)| (j, (-(sse - best) / (2.0 * temp)).exp(), sse, a))
        .collect();
    let wsum: f64 = top.iter().map(|t| t.1).sum();
    let dists: Vec<Vec<f64>> = top.iter().map(|t| graph.node_distances(&[t.0])).collect();
    // Candidate pipes: every pipe touching a node within reach of the top nodes.
    let mut cands: Vec<usize> = Vec::new();
    for (k, l) in model.links.iter().enumerate() {
        if let LinkKind::Pipe(_) = l.kind {
            if dists
                .iter()
                .take(10)
                .any(|d| d[l.from].min(d[l.to]) < 300.0)
            {
                cands.push(k);
            }
        }
    }
    let mut scored: Vec<CandidatePipe> = Vec::new();
    let mut best_pipe = (usize::MAX, f64::INFINITY, 0.0);
    for &k in &cands {
        let l = &model.links[k];
        let half = match &l.kind {
            LinkKind::Pipe(p) => p.length / 2.0,
            _ => 0.0,
        };
        let mut ed = 0.0;
        let mut within = 0.0;
        for (t, d) in top.iter().zip(&dists) {
            let x = d[l.from].min(d[l.to]) + half;
            let x = if x.is_finite() { x } else { 1e5 };
            ed += t.1 * x;
            if x <= 300.0 {
                within += t.1;
            }
        }
        ed /= wsum;
        within /= wsum;
        if ed < best_pipe.1 {
            best_pipe = (k, ed, within);
        }
        scored.push(CandidatePipe {
            pipe: l.id.clone(),
            expected_distance_m: ed,
            mass_within_300m: within,
        });
    }
    scored.sort_by(|a, b| a.expected_distance_m.total_cmp(&b.expected_distance_m));
    scored.truncate(10);
    if best_pipe.0 == usize::MAX {
        // No pipe near the best nodes: take any pipe at the best node.
        let j = top[0].0;
        best_pipe.0 = model
            .links
            .iter()
            .position(|l| l.kind_is_pipe() && (l.from == j || l.to == j))
            .unwrap_or(0);
    }
    let nodes = top
        .iter()
        .take(15)
        .map(|t| CandidateNode {
            node: setup.net.nodes[t.0].id.clone(),
            weight: t.1 / wsum,
            misfit: t.2,
            amplitude: t.3,
        })
        .collect();
    Localization {
        weights: top.iter().map(|t| (t.0, t.1 / wsum)).collect(),
        dists,
        half_lengths: model
            .links
            .iter()
            .map(|l| match &l.kind {
                LinkKind::Pipe(p) => p.length / 2.0,
                _ => 0.0,
            })
            .collect(),
        pipe_ends: model.links.iter().map(|l| (l.from, l.to)).collect(),
        pipe: best_pipe.0,
        confidence: best_pipe.2,
        pipes: scored,
        nodes,
        new_leak_evidence: None,
    }
}

impl Localization {
    /// Expected distance (m) from pipe `k` to the leak under the weights.
    fn expected_distance(&self, k: usize) -> f64 {
        let (a, b) = self.pipe_ends[k];
        self.weights
            .iter()
            .zip(&self.dists)
            .map(|(&(_, w), d)| {
                let x = d[a].min(d[b]) + self.half_lengths[k];
                w * if x.is_finite() { x } else { 1e5 }
            })
            .sum()
    }
}

trait IsPipe {
    fn kind_is_pipe(&self) -> bool;
}
impl IsPipe for network::Link {
    fn kind_is_pipe(&self) -> bool {
        matches!(self.kind, LinkKind::Pipe(_))
    }
}

impl Frame {
    /// A copy without simulated values (for re-running the model).
    fn clone_light(&self) -> Frame {
        Frame {
            rows: self.rows,
            start_step: self.start_step,
            pattern_start: self.pattern_start,
            d_meas: self.d_meas.clone(),
            q_amr: self.q_amr.clone(),
            d_group: self.d_group.clone(),
            amr_model: self.amr_model.clone(),
            amr_meas: self.amr_meas.clone(),
            m: self.m.clone(),
            levels: self.levels.clone(),
            pump_open: self.pump_open.clone(),
            meas: Vec::new(),
            sim: Vec::new(),
        }
    }
}

// ------------------------------------------------------------------ driver

/// Checks the sensors of one data set: cleaned series per sensor (`None` =
/// unusable) and the issues found.
fn check_all(
    sensors: &SensorSet,
    data: &ScadaData,
    cfg: &DetectConfig,
    label: &str,
) -> (Vec<Option<Vec<f64>>>, Vec<SensorIssue>) {
    let mut issues = Vec::new();
    let series = sensors
        .sensors
        .iter()
        .map(|s| {
            let issue = |problem: String, excluded| SensorIssue {
                kind: s.kind,
                column: s.column.clone(),
                problem: format!("{label}{problem}"),
                excluded,
            };
            let Some(col) = data.column(s.kind, &s.column) else {
                issues.push(issue(
                    format!("column '{}' missing from {}", s.column, s.kind.file()),
                    true,
                ));
                return None;
            };
            match check_series(s.kind, &col.values, s.range, cfg) {
                Ok((v, notes)) => {
                    for n in notes {
                        issues.push(issue(n, false));
                    }
                    Some(v)
                }
                Err(e) => {
                    issues.push(issue(e, true));
                    None
                }
            }
        })
        .collect();
    (series, issues)
}

/// Runs the detector on `data` (and the leak-free `train` data, if given).
pub fn detect(
    model: &Network,
    sensors: &SensorSet,
    data: &ScadaData,
    train: Option<&ScadaData>,
    cfg: &DetectConfig,
) -> Result<DetectReport, DetectError> {
    let errs = sensors.check(model);
    if !errs.is_empty() {
        return Err(DetectError::Sensors(errs));
    }
    let per_h = (3600 / STEP_S) as usize;
    let (series, mut issues) = check_all(sensors, data, cfg, "");
    let mut usable: Vec<bool> = series.iter().map(Option::is_some).collect();
    let train_series = match train {
        Some(t) => {
            let (s, i) = check_all(sensors, t, cfg, "training data: ");
            issues.extend(i);
            for (u, x) in usable.iter_mut().zip(&s) {
                *u &= x.is_some();
            }
            Some(s)
        }
        None => None,
    };
    let mut notes = Vec::new();
    let setup = Setup::new(model, sensors, &usable, &mut notes);
    if setup.residual.is_empty() {
        return Err(DetectError::Data(
            "no usable pressure or flow sensor".into(),
        ));
    }
    let mut frame = Frame::new(&setup, &series, data);
    run_model(&setup, &mut frame, &[])?;
    let (normal, train_text, first_row) = match (train, &train_series) {
        (Some(t), Some(ts)) => {
            let mut tf = Frame::new(&setup, ts, t);
            run_model(&setup, &mut tf, &[])?;
            let n = learn(&tf, 0..tf.rows);
            (
                n,
                format!("{} rows from {}", t.rows, format_step(t.start_step)),
                0,
            )
        }
        _ => {
            let rows = ((cfg.train_days * 24.0) as usize * per_h).min(frame.rows);
            if rows < 2 * per_h * 24 {
                return Err(DetectError::Data(format!(
                    "{} rows: at least 2 days are needed for training",
                    frame.rows
                )));
            }
            (
                learn(&frame, 0..rows),
                format!(
                    "first {:.1} days of the data (assumed leak-free)",
                    cfg.train_days
                ),
                rows,
            )
        }
    };
    if !setup.balance {
        notes.push("without a water balance the detector has no alarm statistic".into());
    }
    let model_graph = PipeGraph::new(model);
    // Hourly CUSUM.
    let hours = hourly(&frame, &normal, first_row..frame.rows);
    let sigma = |d: f64| (normal.v0 + normal.v1 * d * d).sqrt();
    let mut alarms: Vec<Alarm> = Vec::new();
    let mut offset = 0.0; // m³/s of leaks already found
                          // Most likely node of each leak already found (reported or not).
    let mut known: Vec<usize> = Vec::new();
    let mut s = 0.0;
    let mut last_reset = 0usize;
    let mut h = 0usize;
    while setup.balance && h < hours.len() {
        let (e, d) = hours[h];
        let z = (e - offset) / sigma(d);
        s = (s + z - cfg.cusum_k).max(0.0);
        if s == 0.0 {
            last_reset = h + 1;
            h += 1;
            continue;
        }
        if s <= cfg.cusum_h {
            h += 1;
            continue;
        }
        // Alarm at the end of hour h. Start: the most likely change point
        // (step change of the mean excess) within three days before.
        let lo = last_reset.min(h).saturating_sub(48);
        let zs: Vec<f64> = (lo..=h)
            .map(|x| (hours[x].0 - offset) / sigma(hours[x].1))
            .collect();
        let mut best = (f64::NEG_INFINITY, h);
        let mut tail = 0.0;
        for (i, z) in zs.iter().enumerate().rev() {
            tail += z;
            let n = (zs.len() - i) as f64;
            let stat = if tail > 0.0 { tail * tail / n } else { 0.0 };
            if stat > best.0 {
                best = (stat, lo + i);
            }
        }
        let start_h = best.1;
        let start = first_row + start_h * per_h;
        let alarm_row = first_row + (h + 1) * per_h - 1;
        let win = (cfg.loc_window_h * per_h as f64) as usize;
        let full_end = alarm_row.max(start + win).min(frame.rows - 1);
        let early_min = (cfg.early_min_h * per_h as f64) as usize;
        let early_step = ((cfg.early_step_h * per_h as f64) as usize).max(1);
        let mut end = if cfg.early_confidence <= 1.0 {
            alarm_row.max(start + early_min).min(full_end)
        } else {
            full_end
        };
        let (size, loc) = loop {
            // Size: the mean excess over the last 12 hours of the window
            // (the current size of a growing leak).
            let size = {
                let he = ((end + 1 - first_row) / per_h)
                    .min(hours.len())
                    .max(start_h + 1);
                let hs = he.saturating_sub(12).max(start_h);
                hours[hs..he].iter().map(|x| x.0).sum::<f64>() / (he - hs) as f64 - offset
            }
            .max(1e-4);
            let loc = localize(
                &setup,
                model,
                &model_graph,
                &normal,
                &frame,
                start,
                end,
                size,
                &known,
                cfg,
            )?;
            let confidence = loc.1.as_ref().unwrap_or(&loc.0).confidence;
            if end >= full_end || confidence >= cfg.early_confidence {
                break (size, loc);
            }
            end = (end + early_step).min(full_end);
        };
        // The same leak growing: an earlier reported alarm close to this
        // one's pipe, or close under this alarm's candidate weights, all
        // from the fit of the new signature alone (the joint fit explains
        // the growth of known leaks away, and only locates new ones).
        let (single, joint) = loc;
        let new_leak_evidence = joint.as_ref().and_then(|j| j.new_leak_evidence);
        let loc = &single;
        let clearly_new = new_leak_evidence.is_some_and(|e| e >= cfg.new_leak_evidence);
        let growth_of = alarms.iter().position(|a| {
            !clearly_new
                && a.reported
                && model.link_index(&a.pipe).is_some_and(|k| {
                    model_graph
                        .pipe_distance(k, loc.pipe)
                        .is_some_and(|d| d <= cfg.growth_radius_m)
                        || loc.expected_distance(k) <= cfg.growth_radius_m
                })
        });
        let loc = match joint {
            Some(j) if growth_of.is_none() => j,
            _ => single,
        };
        let step = frame.start_step + end as i64;
        alarms.push(Alarm {
            reported: growth_of.is_none() && loc.confidence >= cfg.min_confidence,
            growth_of,
            pipe: model.links[loc.pipe].id.clone(),
            time: format_step(step),
            step,
            alarm_time: format_step(frame.start_step + alarm_row as i64),
            estimated_start: format_step(frame.start_step + start as i64),
            estimated_size_lps: size * 1000.0,
            confidence: loc.confidence,
            candidate_pipes: loc.pipes,
            candidate_nodes: loc.nodes,
            new_leak_evidence,
        });
        if let Some(&(n, _)) = loc.weights.first() {
            if !known.contains(&n) {
                known.push(n);
            }
        }
        offset += size;
        s = 0.0;
        h = (end + 1 - first_row) / per_h;
        last_reset = h;
    }
    let balance_sigma_lps =
        hours.iter().map(|&(_, d)| sigma(d)).sum::<f64>() / hours.len().max(1) as f64 * 1000.0;
    Ok(DetectReport {
        config: cfg.clone(),
        rows: frame.rows,
        first_time: format_step(frame.start_step),
        sensors_used: usable.iter().filter(|&&u| u).count(),
        issues,
        notes,
        training: train_text,
        balance_sigma_lps,
        alarms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faulty_series_are_excluded_and_gaps_filled() {
        let cfg = DetectConfig::default();
        let ok: Vec<f64> = (0..600).map(|i| 40.0 + (i as f64 * 0.1).sin()).collect();
        let (v, notes) = check_series(SensorKind::Pressure, &ok, Some((0.0, 150.0)), &cfg).unwrap();
        assert_eq!(v, ok);
        assert!(notes.is_empty());
        let mut gaps = ok.clone();
        gaps[10] = f64::NAN;
        gaps[11] = f64::NAN;
        let (v, notes) = check_series(SensorKind::Pressure, &gaps, None, &cfg).unwrap();
        assert!((v[10] - (ok[9] + (ok[12] - ok[9]) / 3.0)).abs() < 1e-12);
        assert!(notes[0].contains("2 missing"));
        let stuck = vec![42.0; 600];
        assert!(check_series(SensorKind::Pressure, &stuck, None, &cfg)
            .unwrap_err()
            .contains("stuck"));
        // A flow may legitimately stay at 0 (pump off).
        assert!(check_series(SensorKind::Flow, &vec![0.0; 600], None, &cfg).is_ok());
        let mut wild = ok.clone();
        wild[..100].iter_mut().for_each(|x| *x = 900.0);
        assert!(
            check_series(SensorKind::Pressure, &wild, Some((0.0, 150.0)), &cfg)
                .unwrap_err()
                .contains("out of range")
        );
        let mut holes = ok.clone();
        holes[..200].iter_mut().for_each(|x| *x = f64::NAN);
        assert!(check_series(SensorKind::Pressure, &holes, None, &cfg)
            .unwrap_err()
            .contains("missing"));
    }

    #[test]
    fn least_squares_recovers_coefficients() {
        let x: Vec<Vec<f64>> = (0..50)
            .map(|i| vec![1.0, i as f64, (i * i) as f64 / 10.0])
            .collect();
        let y: Vec<f64> = x.iter().map(|r| 2.0 - 0.5 * r[1] + 0.25 * r[2]).collect();
        let b = lstsq(&x, &y);
        assert!(
            (b[0] - 2.0).abs() < 1e-4 && (b[1] + 0.5).abs() < 1e-5 && (b[2] - 0.25).abs() < 1e-6,
            "{b:?}"
        );
    }
}
