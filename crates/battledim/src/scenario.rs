//! Synthetic truth data for leak detection: a perturbed copy of the model
//! ("the real network"), leaks at pipe midpoints after a leak-free period,
//! and what the sensors of a [`SensorSet`] would have recorded every
//! 5 minutes, with labels in the BattLeDIM layout so the official scorer
//! applies unchanged.
//!
//! Model uncertainty (`u`, e.g. 0.10): each pipe's roughness × (1 ± u),
//! diameter × (1 ± 0.02), each base demand × (1 ± u) (uniform), and every
//! demand-pattern value, fresh at every 5-minute step, × (1 ± u) (or by
//! its own share, `demand_noise`). Demands without a pattern (a
//! steady-state model's) get that noise too, around their base value: the
//! truth gives them a constant pattern of their own, with a note.
//!
//! Model drift (`ModelDrift`, off by default): the field differs from the
//! model by group as well, as when a model has aged: each pipe group's
//! roughness and each demand group's base demands × one factor drawn in
//! (1 ± d), on top of the per-element uncertainty (its own random stream, so
//! a scenario without drift is unchanged). The factors are written to
//! `scenario.json` (`drift_factors`) for a calibration to be checked against.
//!
//! Leaks are orifices Q = 0.75·A·√(2 g p) (m³/s, A in m², p in m): an
//! emitter with coefficient 0.75·A·√(2g) and exponent 0.5 on a junction
//! inserted at the pipe's midpoint. Abrupt leaks open at full area;
//! incipient leaks grow their hole diameter linearly from 0 at the start to
//! the peak diameter at the peak time. A leak's size is drawn as its peak
//! flow at the midpoint's mean pressure; the labels give the hole diameter.
//!
//! Time: step 0 is 2019-01-01 00:00 (the scorer's origin); rows are
//! 5 minutes apart.

use crate::rng::Rng;
use crate::time::{format_step, STEP_S};
use detection::netedit::{set_times, split_pipe_midpoint};
use detection::sensors::{SensorKind, SensorSet};
use hydraulics::Simulation;
use network::graph::NetworkDistance;
use network::{LinkKind, Network, NodeKind};
use serde::Serialize;

pub const G: f64 = 9.81;
/// Orifice discharge coefficient of the BattLeDIM leaks.
pub const DISCHARGE_COEFF: f64 = 0.75;

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioConfig {
    pub days: u32,
    pub leaks: usize,
    /// Model uncertainty u (0.10 = ±10 %).
    pub uncertainty: f64,
    /// The demand patterns' step-to-step noise: every pattern value, fresh
    /// at every 5-minute step, × (1 ± this share); `None`: the model
    /// uncertainty u. Apart from u, it tells a model's error (which the
    /// training cannot learn away where a leak changes the flows) from the
    /// consumers' noise (which averages out over a longer window).
    pub demand_noise: Option<f64>,
    pub seed: u64,
    /// Range of leak peak flows at mean pressure, L/s.
    pub leak_lps: (f64, f64),
    /// When set, the range of leak peak flows as shares of the mean system
    /// inflow (0.05 = 5 %), instead of `leak_lps`: leak sizes that mean the
    /// same on networks of any size.
    pub leak_inflow_share: Option<(f64, f64)>,
    /// Leaks start after this many days (and before the last `end_margin_days`).
    pub leak_free_days: f64,
    pub end_margin_days: f64,
    /// Share of incipient (growing) leaks; the rest are abrupt.
    pub incipient_share: f64,
    /// Incipient leaks reach their peak after this many days (uniform range).
    pub incipient_ramp_days: (f64, f64),
    /// Leaking pipes are at least this far apart (pipe distance, m).
    pub min_leak_separation_m: f64,
    /// Gaussian sensor noise: pressure and level (m), flow and demand (relative).
    pub pressure_noise_m: f64,
    pub flow_noise_rel: f64,
    /// Readings are rounded to this resolution (BattLeDIM: 0.01).
    pub round: Option<f64>,
    /// Group-wise model drift (none by default).
    pub drift: Option<ModelDrift>,
}

/// The field drifted from the model by group: each pipe group's roughness
/// and each demand group's base demands × one factor in (1 ± `share`).
#[derive(Debug, Clone, Serialize)]
pub struct ModelDrift {
    pub share: f64,
    /// Named groups of pipe link indices.
    #[serde(skip)]
    pub pipe_groups: Vec<(String, Vec<usize>)>,
    /// Named groups of (junction index, demand category index).
    #[serde(skip)]
    pub demand_groups: Vec<(String, Vec<(usize, usize)>)>,
}

/// One drawn drift factor of a group (`scenario.json`).
#[derive(Debug, Clone, Serialize)]
pub struct DriftFactor {
    /// `roughness` or `demand`.
    pub kind: &'static str,
    pub group: String,
    pub factor: f64,
}

impl Default for ScenarioConfig {
    fn default() -> Self {
        ScenarioConfig {
            days: 28,
            leaks: 3,
            uncertainty: 0.10,
            demand_noise: None,
            seed: 1,
            leak_lps: (1.5, 8.0),
            leak_inflow_share: None,
            leak_free_days: 7.0,
            end_margin_days: 2.0,
            incipient_share: 0.5,
            incipient_ramp_days: (1.0, 10.0),
            min_leak_separation_m: 600.0,
            pressure_noise_m: 0.0,
            flow_noise_rel: 0.0,
            round: Some(0.01),
            drift: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LeakShape {
    Abrupt,
    Incipient,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioLeak {
    pub pipe: String,
    pub start_step: i64,
    pub end_step: i64,
    pub peak_step: i64,
    pub shape: LeakShape,
    /// Hole diameter at the peak, m.
    pub diameter_m: f64,
    /// Emitter coefficient at the peak, m³/s per √m.
    pub emitter_coeff_si: f64,
    /// The drawn peak flow at the midpoint's mean pressure, L/s.
    pub nominal_peak_lps: f64,
    /// Largest simulated leak flow, L/s.
    pub max_flow_lps: f64,
    /// Mean simulated flow while running, L/s.
    pub mean_flow_lps: f64,
}

/// One sensor's series.
#[derive(Debug, Clone, Serialize)]
pub struct Series {
    pub kind: SensorKind,
    pub column: String,
    pub values: Vec<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    pub config: ScenarioConfig,
    /// Time of row 0 (5-minute steps from 2019-01-01 00:00).
    pub start_step: i64,
    /// Mean system inflow of the truth network without leaks, L/s: its
    /// total junction demand averaged over the first day (what sources and
    /// tanks deliver on average).
    pub mean_inflow_lps: f64,
    pub rows: usize,
    #[serde(skip)]
    pub series: Vec<Series>,
    pub leaks: Vec<ScenarioLeak>,
    /// Per leak: flow in m³/h at each row.
    #[serde(skip)]
    pub leak_flows_m3h: Vec<Vec<f64>>,
    /// What the generator changed in the model to run it, in words.
    pub notes: Vec<String>,
    /// The group factors of the model drift (empty without drift).
    pub drift_factors: Vec<DriftFactor>,
    /// The perturbed truth network, without the scenario's leaks (the
    /// model's own times): a simulated field serves it live.
    #[serde(skip)]
    pub truth: Network,
}

/// Why a scenario cannot be generated.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("the sensor map does not match the network:\n  {}", .0.join("\n  "))]
    Sensors(Vec<String>),
    #[error("cannot prepare the truth network")]
    Prepare(#[from] hydraulics::PrepareError),
    #[error("truth simulation failed")]
    Sim(#[from] hydraulics::SimError),
    #[error("{0}")]
    NoLeakPipes(String),
    /// Leaks are sized as a share of the mean system inflow, and the model
    /// has none (e.g. a calibration model shipped without its demands).
    #[error(
        "the model's mean system inflow over its first day is {mean_inflow_lps:.3} L/s: leaks \
         sized as a share of it would be nothing (do its junctions carry base demands?); \
         give the model its demands, or size the leaks in L/s (--min-leak-lps, --max-leak-lps)"
    )]
    NoInflow { mean_inflow_lps: f64 },
    /// The truth simulation ended before the scenario's last step.
    #[error(
        "the truth simulation stopped after {simulated} of {rows} steps ({hours:.1} h): the \
         perturbed model does not solve there (e.g. disconnected nodes, unbalanced trials); \
         try another seed or a smaller --uncertainty"
    )]
    Halted {
        simulated: usize,
        rows: usize,
        hours: f64,
    },
}

/// Perturbs a network in place as real models are wrong (see the module
/// docs); pattern noise is applied during simulation.
pub fn perturb(net: &mut Network, u: f64, rng: &mut Rng) {
    for l in &mut net.links {
        if let LinkKind::Pipe(p) = &mut l.kind {
            p.roughness *= 1.0 + rng.range(-u, u);
            p.diameter *= 1.0 + rng.range(-0.02, 0.02);
        }
    }
    for n in &mut net.nodes {
        if let NodeKind::Junction(j) = &mut n.kind {
            for d in &mut j.demands {
                d.base *= 1.0 + rng.range(-u, u);
            }
        }
    }
}

/// Applies the group drift to `net` from its own random stream (seeded
/// from the scenario's seed); returns the factors drawn.
fn apply_drift(net: &mut Network, d: &ModelDrift, seed: u64) -> Vec<DriftFactor> {
    let mut rng = Rng::new(seed ^ 0x6472_6966_745f_7631);
    let mut out = Vec::new();
    for (name, pipes) in &d.pipe_groups {
        let f = 1.0 + rng.range(-d.share, d.share);
        for &k in pipes {
            if let Some(LinkKind::Pipe(p)) = net.links.get_mut(k).map(|l| &mut l.kind) {
                p.roughness *= f;
            }
        }
        out.push(DriftFactor {
            kind: "roughness",
            group: name.clone(),
            factor: f,
        });
    }
    for (name, demands) in &d.demand_groups {
        let f = 1.0 + rng.range(-d.share, d.share);
        for &(i, c) in demands {
            if let Some(NodeKind::Junction(j)) = net.nodes.get_mut(i).map(|n| &mut n.kind) {
                if let Some(dm) = j.demands.get_mut(c) {
                    dm.base *= f;
                }
            }
        }
        out.push(DriftFactor {
            kind: "demand",
            group: name.clone(),
            factor: f,
        });
    }
    out
}

fn round_to(x: f64, r: Option<f64>) -> f64 {
    match r {
        Some(r) if r > 0.0 => {
            let v = (x / r).round() * r;
            if v == 0.0 {
                0.0
            } else {
                v
            }
        }
        _ => x,
    }
}

/// Mean pressure of every node over the first `steps` steps of `net`.
/// Mean pressure (m) per node and mean total junction demand (L/s) over
/// the first `steps` steps.
fn mean_pressures(net: &Network, steps: usize) -> Result<(Vec<f64>, f64), ScenarioError> {
    let mut n = net.clone();
    set_times(&mut n, steps, STEP_S);
    let mut sim = Simulation::from_network(n)?;
    let mut acc = vec![0.0; net.nodes.len()];
    let mut demand = 0.0;
    let mut cnt = 0.0;
    loop {
        sim.run()?;
        if sim.time_s() % STEP_S == 0 {
            for (i, a) in acc.iter_mut().enumerate() {
                *a += sim.pressure_m(i);
                if net.nodes[i].is_junction() {
                    demand += sim.demand_lps(i);
                }
            }
            cnt += 1.0;
        }
        if sim.next() == 0 {
            break;
        }
    }
    Ok((acc.into_iter().map(|a| a / cnt).collect(), demand / cnt))
}

/// Consumers vary from step to step whether or not the model says how:
/// demands that follow no pattern (none of their own and no default
/// pattern in the model, as in a steady-state model) are given a constant
/// pattern of 1, made the truth's default, so that the demand noise
/// reaches them as it reaches patterned ones. Returns the note saying so.
fn consumers_vary(truth: &mut Network) -> Option<String> {
    if truth.default_pattern().is_some() {
        return None;
    }
    let unpatterned = truth
        .nodes
        .iter()
        .filter_map(|n| n.junction())
        .filter(|j| {
            j.demands
                .iter()
                .any(|d| d.pattern.is_none() && d.base != 0.0)
        })
        .count();
    if unpatterned == 0 {
        return None;
    }
    let mut id = "AQUATWIN-CONSUMERS".to_string();
    while truth.pattern_index(&id).is_some() {
        id.push('_');
    }
    truth.patterns.push(network::Pattern {
        id: id.clone(),
        multipliers: vec![1.0],
        comment: Some("consumers' noise for the demands without a pattern".to_string()),
    });
    truth.options.default_pattern = id.clone();
    Some(format!(
        "{unpatterned} junction(s) have demands that follow no pattern (constant in the model): \
         in the truth they follow pattern {id} (constant 1), so the consumers' noise reaches them"
    ))
}

/// Generates a scenario on `model` (the unperturbed network).
pub fn generate(
    model: &Network,
    sensors: &SensorSet,
    cfg: &ScenarioConfig,
) -> Result<Scenario, ScenarioError> {
    let errs = sensors.check(model);
    if !errs.is_empty() {
        return Err(ScenarioError::Sensors(errs));
    }
    let mut rng = Rng::new(cfg.seed);
    let rows = cfg.days as usize * 288;
    let u = cfg.uncertainty;
    let noise = cfg.demand_noise.unwrap_or(u);

    let mut truth = model.clone();
    perturb(&mut truth, u, &mut rng);
    let drift_factors = match &cfg.drift {
        Some(d) if d.share > 0.0 => apply_drift(&mut truth, d, cfg.seed),
        _ => Vec::new(),
    };
    // Leaks are orifices: exponent 0.5 (no other emitters are expected).
    truth.options.emitter_exponent = 0.5;
    // A field does not stop: an unbalanced step goes on (as EPANET's
    // UNBALANCED CONTINUE 10) instead of halting the truth.
    let mut notes = Vec::new();
    if truth.options.unbalanced == network::Unbalanced::Stop {
        truth.options.unbalanced = network::Unbalanced::Continue(10);
        notes.push(
            "the model's UNBALANCED STOP is run as UNBALANCED CONTINUE 10 for the truth"
                .to_string(),
        );
    }
    if let Some(note) = consumers_vary(&mut truth) {
        notes.push(note);
    }
    let leak_free_truth = truth.clone();

    // Choose the leaking pipes: far enough apart, with enough pressure.
    let (p_mean, mean_inflow_lps) = mean_pressures(&truth, 288.min(rows))?;
    let leak_lps = match cfg.leak_inflow_share {
        Some(_) if mean_inflow_lps.is_nan() || mean_inflow_lps <= 1e-3 => {
            return Err(ScenarioError::NoInflow { mean_inflow_lps })
        }
        Some((a, b)) => (a * mean_inflow_lps, b * mean_inflow_lps),
        None => cfg.leak_lps,
    };
    let graph = NetworkDistance::new(model);
    let pipes: Vec<usize> = (0..model.links.len())
        .filter(|&k| matches!(&model.links[k].kind, LinkKind::Pipe(p) if !p.check_valve && p.length > 1.0))
        .collect();
    if pipes.is_empty() {
        return Err(ScenarioError::NoLeakPipes(
            "the network has no pipes".into(),
        ));
    }
    let mut chosen: Vec<(usize, f64)> = Vec::new(); // (link, mean pressure)
    let mut tries = 0;
    while chosen.len() < cfg.leaks {
        tries += 1;
        if tries > 10_000 {
            let pressured = pipes
                .iter()
                .filter(|&&k| {
                    let l = &model.links[k];
                    0.5 * (p_mean[l.from] + p_mean[l.to]) > 5.0
                })
                .count();
            return Err(ScenarioError::NoLeakPipes(format!(
                "cannot place {} leaks {} m apart along the network: {} of {} pipes have a mean pressure above 5 m over the first day (a leak needs pressure)",
                cfg.leaks,
                cfg.min_leak_separation_m,
                pressured,
                pipes.len()
            )));
        }
        let k = pipes[rng.below(pipes.len())];
        let l = &model.links[k];
        let p = 0.5 * (p_mean[l.from] + p_mean[l.to]);
        if p.is_nan()
            || p <= 5.0
            || !(model.nodes[l.from].is_junction() || model.nodes[l.to].is_junction())
        {
            continue;
        }
        if chosen.iter().any(|&(c, _)| {
            graph
                .link_distance(c, k)
                .is_none_or(|d| d < cfg.min_leak_separation_m)
        }) {
            continue;
        }
        chosen.push((k, p));
    }

    let first = (cfg.leak_free_days * 288.0) as i64;
    let last = ((cfg.days as f64 - cfg.end_margin_days) * 288.0) as i64;
    let last = last.max(first + 1);
    let end_step = rows as i64 - 1;
    let mut leaks = Vec::new();
    let mut mids = Vec::new();
    for &(k, p) in &chosen {
        let id = model.links[k].id.clone();
        let q = rng.range(leak_lps.0, leak_lps.1) / 1000.0;
        let area = q / (DISCHARGE_COEFF * (2.0 * G * p).sqrt());
        let diameter = (4.0 * area / std::f64::consts::PI).sqrt();
        let start = first + (rng.uniform() * (last - first) as f64) as i64;
        let shape = if rng.uniform() < cfg.incipient_share {
            LeakShape::Incipient
        } else {
            LeakShape::Abrupt
        };
        let peak = match shape {
            LeakShape::Abrupt => start,
            LeakShape::Incipient => {
                let d = rng.range(cfg.incipient_ramp_days.0, cfg.incipient_ramp_days.1);
                (start + (d * 288.0) as i64).min(end_step)
            }
        };
        let m = split_pipe_midpoint(&mut truth, &id).expect("a pipe of the model");
        mids.push(m);
        leaks.push(ScenarioLeak {
            pipe: id,
            start_step: start,
            end_step,
            peak_step: peak,
            shape,
            diameter_m: diameter,
            emitter_coeff_si: DISCHARGE_COEFF * area * (2.0 * G).sqrt(),
            nominal_peak_lps: q * 1000.0,
            max_flow_lps: 0.0,
            mean_flow_lps: 0.0,
        });
    }
    // Node indices shift as junctions are inserted: look the midpoints up again.
    let mids: Vec<usize> = leaks
        .iter()
        .map(|l| truth.node_index(&format!("{}_mid", l.pipe)).expect("split"))
        .collect();
    let _ = mids.len();

    set_times(&mut truth, rows, STEP_S);
    let npat = truth.patterns.len();
    let mut sim = Simulation::from_network(truth.clone())?;

    // Sensor targets in the truth network.
    let targets: Vec<(SensorKind, usize)> = sensors
        .sensors
        .iter()
        .map(|s| {
            let idx = match s.kind {
                SensorKind::Flow => truth.link_index(&s.element),
                _ => truth.node_index(&s.element),
            };
            (s.kind, idx.expect("checked"))
        })
        .collect();
    let mut series: Vec<Series> = sensors
        .sensors
        .iter()
        .map(|s| Series {
            kind: s.kind,
            column: s.column.clone(),
            values: Vec::with_capacity(rows),
        })
        .collect();
    let mut flows = vec![Vec::with_capacity(rows); leaks.len()];
    let mut noise_rng = Rng::new(cfg.seed ^ 0x5EED_0F5E_A5A5_0001);
    loop {
        let t = sim.time_s();
        let on_grid = t % STEP_S == 0;
        let step = (t / STEP_S) as i64;
        if on_grid {
            for p in 0..npat {
                sim.set_pattern_multiplier(p, (1.0 + rng.range(-noise, noise)).max(0.0));
            }
            for (l, &m) in leaks.iter().zip(&mids) {
                let c = if step < l.start_step {
                    0.0
                } else if step >= l.peak_step {
                    l.emitter_coeff_si
                } else {
                    let f = (step - l.start_step) as f64 / (l.peak_step - l.start_step) as f64;
                    l.emitter_coeff_si * f * f
                };
                sim.set_emitter(m, c);
            }
        }
        sim.run()?;
        if on_grid && (step as usize) < rows {
            for ((kind, idx), s) in targets.iter().zip(series.iter_mut()) {
                let v = match kind {
                    SensorKind::Pressure => {
                        sim.pressure_m(*idx) + cfg.pressure_noise_m * noise_rng.normal()
                    }
                    SensorKind::TankLevel => {
                        sim.tank_level_m(*idx).unwrap_or(f64::NAN)
                            + cfg.pressure_noise_m * noise_rng.normal()
                    }
                    SensorKind::Flow => {
                        sim.flow_lps(*idx) * 3.6 * (1.0 + cfg.flow_noise_rel * noise_rng.normal())
                    }
                    SensorKind::Demand => {
                        sim.demand_lps(*idx)
                            * 3600.0
                            * (1.0 + cfg.flow_noise_rel * noise_rng.normal())
                    }
                };
                s.values.push(round_to(v, cfg.round));
            }
            for (f, &m) in flows.iter_mut().zip(&mids) {
                f.push(sim.emitter_flow_lps(m) * 3.6);
            }
        }
        if sim.next() == 0 {
            break;
        }
    }
    let simulated = series.first().map_or(rows, |s| s.values.len());
    if simulated < rows {
        return Err(ScenarioError::Halted {
            simulated,
            rows,
            hours: simulated as f64 * STEP_S as f64 / 3600.0,
        });
    }
    for (l, f) in leaks.iter_mut().zip(&flows) {
        let run = &f[l.start_step.max(0) as usize..];
        l.max_flow_lps = run.iter().cloned().fold(0.0, f64::max) / 3.6;
        l.mean_flow_lps = run.iter().sum::<f64>() / run.len().max(1) as f64 / 3.6;
    }
    Ok(Scenario {
        config: cfg.clone(),
        start_step: 0,
        mean_inflow_lps,
        rows,
        series,
        leaks,
        leak_flows_m3h: flows,
        notes,
        drift_factors,
        truth: leak_free_truth,
    })
}

/// Formats a number with a decimal comma (the BattLeDIM SCADA files).
fn decimal_comma(x: f64, digits: usize) -> String {
    if x.is_nan() {
        return String::new();
    }
    format!("{x:.digits$}").replace('.', ",")
}

impl Scenario {
    fn timestamp(&self, r: usize) -> String {
        format!("{}:00", format_step(self.start_step + r as i64))
    }

    /// One SCADA file in the BattLeDIM layout: `Timestamp;<col>;…`,
    /// semicolons, decimal comma, `YYYY-MM-DD HH:MM:SS`.
    pub fn scada_csv(&self, kind: SensorKind) -> String {
        let cols: Vec<&Series> = self.series.iter().filter(|s| s.kind == kind).collect();
        let digits = if self.config.round.is_some() { 2 } else { 6 };
        let mut out = String::from("Timestamp");
        for c in &cols {
            out.push(';');
            out.push_str(&c.column);
        }
        out.push('\n');
        for r in 0..self.rows {
            out.push_str(&self.timestamp(r));
            for c in &cols {
                out.push(';');
                out.push_str(&decimal_comma(c.values[r], digits));
            }
            out.push('\n');
        }
        out
    }

    /// Labels in the `leakages_info.yalm` layout.
    pub fn labels_yalm(&self) -> String {
        let mut out =
            String::from("# linkID, startTime, endTime, leakDiameter (m), leakType, peakTime\n");
        for l in &self.leaks {
            out.push_str(&format!(
                "{}, {}, {}, {:.6}, {}, {}\n",
                l.pipe,
                format_step(self.start_step + l.start_step),
                format_step(self.start_step + l.end_step),
                l.diameter_m,
                match l.shape {
                    LeakShape::Abrupt => "abrupt",
                    LeakShape::Incipient => "incipient",
                },
                format_step(self.start_step + l.peak_step),
            ));
        }
        out
    }

    /// Leak flows, m³/h per step (`Timestamp,<pipe>,…`, the layout of
    /// `2019_leak_flows_m3h.csv`).
    pub fn leak_flows_csv(&self) -> String {
        let mut out = String::from("Timestamp");
        for l in &self.leaks {
            out.push(',');
            out.push_str(&l.pipe);
        }
        out.push('\n');
        for r in 0..self.rows {
            out.push_str(&self.timestamp(r));
            for f in &self.leak_flows_m3h {
                out.push_str(&format!(",{:.4}", f[r]));
            }
            out.push('\n');
        }
        out
    }

    /// The perfect submission: each leaking pipe at its start.
    pub fn perfect_results(&self) -> String {
        let mut v: Vec<&ScenarioLeak> = self.leaks.iter().collect();
        v.sort_by_key(|l| l.start_step);
        v.iter()
            .map(|l| {
                format!(
                    "{}, {}\n",
                    l.pipe,
                    format_step(self.start_step + l.start_step)
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scoring::{parse_leak_labels, parse_results, LeakFlows, ScoreParams, Scorer};
    use detection::sensors::Sensor;

    /// A reservoir feeding a loop of four junctions; a tank on the side
    /// (detection's `netedit` test network).
    fn small() -> Network {
        let inp = "[JUNCTIONS]\n J1 10 1.0\n J2 12 2.0\n J3 11 1.5\n J4 9 1.0\n\
                   [RESERVOIRS]\n R1 60\n[TANKS]\n T1 40 5 0 10 10 0\n\
                   [PIPES]\n P1 R1 J1 200 200 120\n P2 J1 J2 300 150 110\n\
                   P3 J2 J3 250 150 110\n P4 J3 J4 300 150 110\n P5 J4 J1 250 150 110\n\
                   P6 J3 T1 100 150 120\n\
                   [CONTROLS]\n LINK P6 CLOSED IF NODE T1 ABOVE 9\n[PATTERNS]\n 1 0.8 1.2\n\
                   [OPTIONS]\n Units LPS\n Headloss H-W\n\
                   [TIMES]\n Duration 4:00\n Hydraulic Timestep 0:05\n Pattern Timestep 1:00\n\
                   Report Timestep 0:05\n\
                   [COORDINATES]\n J1 0 0\n J2 100 0\n[END]\n";
        network::inp::parse_inp(inp, "small.inp").expect("valid test network")
    }

    fn sensors() -> SensorSet {
        let mk = |kind, id: &str| Sensor {
            kind,
            column: id.into(),
            element: id.into(),
            range: None,
        };
        SensorSet {
            sensors: vec![
                mk(SensorKind::Pressure, "J2"),
                mk(SensorKind::Pressure, "J4"),
                mk(SensorKind::Flow, "P1"),
                mk(SensorKind::TankLevel, "T1"),
                mk(SensorKind::Demand, "J3"),
            ],
        }
    }

    /// Three days, one leak of 5 % of the mean inflow after the first.
    fn one_leak_of_5_percent() -> ScenarioConfig {
        ScenarioConfig {
            days: 3,
            leaks: 1,
            leak_free_days: 1.0,
            end_margin_days: 1.0,
            min_leak_separation_m: 0.0,
            leak_inflow_share: Some((0.05, 0.05)),
            seed: 11,
            ..ScenarioConfig::default()
        }
    }

    #[test]
    fn leak_sizes_as_shares_of_the_mean_inflow() {
        let cfg = one_leak_of_5_percent();
        let a = generate(&small(), &sensors(), &cfg).unwrap();
        // J1…J4 demand 5.5 L/s at base; pattern 0.8/1.2 and ±10 % noise
        assert!(
            a.mean_inflow_lps > 4.0 && a.mean_inflow_lps < 7.0,
            "{}",
            a.mean_inflow_lps
        );
        let l = &a.leaks[0];
        assert!((l.nominal_peak_lps - 0.05 * a.mean_inflow_lps).abs() < 1e-9);
    }

    #[test]
    fn demand_noise_apart_from_the_model_uncertainty() {
        let net = small();
        let cfg = one_leak_of_5_percent();
        let same = |a: &Scenario, b: &Scenario| {
            a.series
                .iter()
                .zip(&b.series)
                .all(|(x, y)| x.values == y.values)
        };
        let base = generate(&net, &sensors(), &cfg).unwrap();
        // Unset, the noise is the uncertainty's: the same scenario.
        let explicit = ScenarioConfig {
            demand_noise: Some(cfg.uncertainty),
            ..cfg.clone()
        };
        assert!(same(&base, &generate(&net, &sensors(), &explicit).unwrap()));
        // Without demand noise the truth network is the same (the same
        // draws), only the readings differ.
        let quiet = ScenarioConfig {
            demand_noise: Some(0.0),
            ..cfg.clone()
        };
        let q = generate(&net, &sensors(), &quiet).unwrap();
        assert!(!same(&base, &q));
        for (a, b) in base.truth.links.iter().zip(&q.truth.links) {
            if let (LinkKind::Pipe(a), LinkKind::Pipe(b)) = (&a.kind, &b.kind) {
                assert_eq!(a.roughness, b.roughness);
            }
        }
        assert_eq!(base.leaks[0].pipe, q.leaks[0].pipe);
    }

    #[test]
    fn demands_without_a_pattern_still_vary_in_the_truth() {
        // A steady-state model: no pattern at all.
        let mut steady = small();
        steady.patterns.clear();
        let s = generate(&steady, &sensors(), &one_leak_of_5_percent()).unwrap();
        let j2 = &s.series[0].values;
        // The leak-free first day: the pressure moves with the consumers.
        let day = &j2[..288];
        let (lo, hi) = day
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                (a.min(x), b.max(x))
            });
        assert!(hi - lo > 1e-3, "J2 constant: {lo}..{hi}");
        assert!(
            s.notes.iter().any(|n| n.contains("follow no pattern")),
            "{:?}",
            s.notes
        );
        // A patterned model is left as it is.
        let p = generate(&small(), &sensors(), &one_leak_of_5_percent()).unwrap();
        assert_eq!(p.truth.patterns.len(), small().patterns.len());
        assert!(!p.notes.iter().any(|n| n.contains("follow no pattern")));
    }

    #[test]
    fn model_drift_scales_groups_by_one_factor_each_and_leaves_the_rest() {
        let net = small();
        let base = generate(&net, &sensors(), &one_leak_of_5_percent()).unwrap();
        assert!(base.drift_factors.is_empty());
        let pipes: Vec<usize> = (0..net.links.len())
            .filter(|&k| matches!(net.links[k].kind, LinkKind::Pipe(_)))
            .collect();
        let demands: Vec<(usize, usize)> = (0..net.nodes.len())
            .filter(|&i| net.nodes[i].is_junction())
            .map(|i| (i, 0))
            .collect();
        let cfg = ScenarioConfig {
            drift: Some(ModelDrift {
                share: 0.3,
                pipe_groups: vec![("all pipes".into(), pipes.clone())],
                demand_groups: vec![("all demands".into(), demands)],
            }),
            ..one_leak_of_5_percent()
        };
        let d = generate(&net, &sensors(), &cfg).unwrap();
        assert_eq!(d.drift_factors.len(), 2);
        for f in &d.drift_factors {
            assert!((0.7..=1.3).contains(&f.factor), "{f:?}");
        }
        // The truth is the drift-free truth with every pipe's roughness and
        // every base demand × its group's factor (the per-element
        // perturbation draws the same numbers: drift has its own stream).
        let (fr, fd) = (d.drift_factors[0].factor, d.drift_factors[1].factor);
        for &k in &pipes {
            match (&base.truth.links[k].kind, &d.truth.links[k].kind) {
                (LinkKind::Pipe(a), LinkKind::Pipe(b)) => {
                    assert!((b.roughness - a.roughness * fr).abs() < 1e-9 * a.roughness)
                }
                _ => unreachable!(),
            }
        }
        let mean = |sc: &Scenario| sc.mean_inflow_lps;
        assert!(
            (mean(&d) / mean(&base) - fd).abs() < 0.02,
            "{} {} {fd}",
            mean(&d),
            mean(&base)
        );
    }

    #[test]
    fn a_model_without_demands_cannot_size_leaks_by_its_inflow() {
        // As Battle_of_the_Calibration_Networks_System.inp is shipped: no
        // junction carries a base demand.
        let mut net = small();
        for n in &mut net.nodes {
            if let NodeKind::Junction(j) = &mut n.kind {
                for d in &mut j.demands {
                    d.base = 0.0;
                }
            }
        }
        let cfg = one_leak_of_5_percent();
        let e = generate(&net, &sensors(), &cfg).unwrap_err();
        assert!(matches!(e, ScenarioError::NoInflow { .. }), "{e}");
        assert!(e.to_string().contains("base demands"), "{e}");
    }

    #[test]
    fn small_scenario_is_deterministic_and_scores_perfectly() {
        let net = small();
        let cfg = ScenarioConfig {
            days: 3,
            leaks: 1,
            leak_free_days: 1.0,
            end_margin_days: 1.0,
            min_leak_separation_m: 0.0,
            seed: 11,
            ..ScenarioConfig::default()
        };
        let a = generate(&net, &sensors(), &cfg).unwrap();
        let b = generate(&net, &sensors(), &cfg).unwrap();
        assert_eq!(
            a.scada_csv(SensorKind::Pressure),
            b.scada_csv(SensorKind::Pressure)
        );
        assert_eq!(a.rows, 3 * 288);
        let csv = a.scada_csv(SensorKind::Flow);
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some("Timestamp;P1"));
        assert!(lines.next().unwrap().starts_with("2019-01-01 00:00:00;"));
        let l = &a.leaks[0];
        assert!((288..576).contains(&l.start_step));
        let f = &a.leak_flows_m3h[0];
        assert_eq!(f[l.start_step as usize - 1], 0.0);
        assert!(l.max_flow_lps > 0.5 && l.max_flow_lps < 12.0, "{l:?}");
        // The labels and flows score with the official scorer.
        let labels = parse_leak_labels(&a.labels_yalm(), "l").unwrap();
        let flows = LeakFlows::new(
            a.start_step,
            a.leaks.iter().map(|l| l.pipe.clone()).collect(),
            a.leak_flows_m3h.clone(),
        );
        let scorer = Scorer::new(&net, labels, "l", flows, ScoreParams::default()).unwrap();
        let rep = scorer
            .score(&parse_results(&a.perfect_results(), "p").unwrap())
            .unwrap();
        assert_eq!(rep.true_positives, 1);
        assert!(rep.score_eur > 0.0);
        let c = generate(&net, &sensors(), &ScenarioConfig { seed: 12, ..cfg }).unwrap();
        assert_ne!(
            a.scada_csv(SensorKind::Pressure),
            c.scada_csv(SensorKind::Pressure)
        );
    }
}
