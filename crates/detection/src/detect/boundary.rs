//! The model driven by measured boundary conditions, with demand
//! calibration (step 2 of the method): which sensor drives what ([`Setup`]:
//! tanks with a level sensor become fixed-head nodes, pumps with a flow
//! sensor follow the measured on/off state, AMR nodes get their metered
//! demand), the per-step data of one data set ([`Frame`]: measured
//! consumption from the water balance, the demand multiplier that makes the
//! model consume it), and the model run over a frame. No I/O: data and
//! network are handed over.

use super::{DetectError, ScadaData};
use crate::netedit::{drop_controls_on_link, set_times, tank_to_fixed_head};
use crate::sensors::{SensorKind, SensorSet};
use crate::time::STEP_S;
use hydraulics::Simulation;
use network::{LinkKind, Network, NodeKind};

/// Which sensor drives what in the model (indices into the detection network).
#[derive(Debug, Clone)]
pub(super) struct Setup {
    pub(super) net: Network,
    /// (sensor index, node) of tanks made fixed-head; tank area m².
    pub(super) tanks: Vec<(usize, usize, f64)>,
    /// (sensor index, link) of pumps with a flow sensor.
    pub(super) pumps: Vec<(usize, usize)>,
    /// (sensor index, link, sign) of flows out of reservoirs.
    pub(super) inflows: Vec<(usize, usize, f64)>,
    /// (sensor index, node) of AMR demands.
    pub(super) amr: Vec<(usize, usize)>,
    /// (sensor index, kind, node or link) compared with the model.
    pub(super) residual: Vec<(usize, SensorKind, usize)>,
    /// Demand groups of non-AMR junctions: (pattern, per-junction base sums).
    pub(super) groups: Vec<(Option<usize>, f64)>,
    /// Per AMR sensor: its node's demands (base, pattern).
    pub(super) amr_demands: Vec<Vec<(f64, Option<usize>)>>,
    /// What the water balance lacks, one line each (a reservoir link without
    /// a usable flow meter, a tank without a usable level sensor); the
    /// detector refuses to run unless it is empty.
    pub(super) metering_gaps: Vec<String>,
    /// Predict the non-AMR consumption from the AMR readings (per-pattern
    /// values fitted to the meters at every step) instead of from the model
    /// patterns alone.
    pub(super) amr_patterns: bool,
}

impl Setup {
    pub(super) fn new(
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
                SensorKind::TankLevel => {
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
        // Nothing leaves the model without a note: a measured tank level or
        // pump flow replaces the controls and rules that drove it.
        let measured_pump = |id: &str| pumps.iter().any(|&(_, k)| model.links[k].id == id);
        for &(_, i, _) in &tanks {
            let Some(removed) = tank_to_fixed_head(&mut net, i) else {
                continue;
            };
            if removed.is_empty() {
                continue;
            }
            let unmeasured: Vec<&str> = removed
                .controls_on
                .iter()
                .map(String::as_str)
                .filter(|id| !measured_pump(id))
                .collect();
            let mut note = format!(
                "tank {} follows its measured level: {removed} conditioned on it no longer act",
                model.nodes[i].id
            );
            if !unmeasured.is_empty() {
                note += &format!(
                    "; link(s) {} are not measured and keep the statuses the model gives them otherwise",
                    unmeasured.join(", ")
                );
            }
            notes.push(note);
        }
        for &(_, k) in &pumps {
            let removed = drop_controls_on_link(&mut net, k);
            if !removed.is_empty() {
                notes.push(format!(
                    "pump {} follows its measured flow: {removed} acting on it no longer act",
                    model.links[k].id
                ));
            }
        }
        // Water balance: every reservoir must have a metered outflow and
        // every tank a level.
        let reservoirs: Vec<usize> = (0..model.nodes.len())
            .filter(|&i| model.nodes[i].is_reservoir())
            .collect();
        let mut metering_gaps = Vec::new();
        for &r in &reservoirs {
            for (k, l) in model.links.iter().enumerate() {
                if (l.from == r || l.to == r) && !inflows.iter().any(|&(_, kk, _)| kk == k) {
                    metering_gaps.push(format!(
                        "reservoir {}: link {} has no usable flow meter",
                        model.nodes[r].id, l.id
                    ));
                }
            }
        }
        for (i, n) in model.nodes.iter().enumerate() {
            if n.is_tank() && !tanks.iter().any(|&(_, t, _)| t == i) {
                metering_gaps.push(format!("tank {} has no usable level sensor", n.id));
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
            metering_gaps,
            amr_patterns: false,
        }
    }
}

/// Everything computed per step for one data set.
pub(super) struct Frame {
    pub(super) rows: usize,
    pub(super) start_step: i64,
    /// Pattern offset (s) so that row 0 falls on its time in the weekly patterns.
    pub(super) pattern_start: u64,
    /// Measured consumption (water balance) and metered AMR consumption, m³/s.
    pub(super) d_meas: Vec<f64>,
    pub(super) q_amr: Vec<f64>,
    /// Model demand of each non-AMR group, m³/s (without multipliers).
    pub(super) d_group: Vec<Vec<f64>>,
    /// Predictors of the non-AMR consumption (m³/s scale), combined by the
    /// learnt normal behaviour: the model groups' demands, or with
    /// `Setup::amr_patterns` the per-pattern values measured by the AMR
    /// meters (times the non-AMR base demand of the pattern).
    pub(super) d_expect: Vec<Vec<f64>>,
    /// Per AMR sensor: model demand and measured demand, m³/s.
    pub(super) amr_model: Vec<Vec<f64>>,
    pub(super) amr_meas: Vec<Vec<f64>>,
    /// Global multiplier of non-AMR demands.
    pub(super) m: Vec<f64>,
    pub(super) levels: Vec<Vec<f64>>,
    pub(super) pump_open: Vec<Vec<bool>>,
    /// Per residual channel: measured and simulated (m or m³/h).
    pub(super) meas: Vec<Vec<f64>>,
    pub(super) sim: Vec<Vec<f64>>,
}

fn pattern_value(net: &Network, p: Option<usize>, period: usize) -> f64 {
    match p {
        Some(j) => net.patterns[j].at(period),
        None => 1.0,
    }
}

impl Frame {
    pub(super) fn new(setup: &Setup, series: &[Option<Vec<f64>>], data: &ScadaData) -> Frame {
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
        let d_expect = if setup.amr_patterns {
            amr_predictors(setup, &amr_meas, &d_group)
        } else {
            d_group.clone()
        };
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
                if dm > 1e-9 {
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
            d_expect,
            amr_model,
            amr_meas,
            m,
            levels,
            pump_open,
            meas,
            sim: Vec::new(),
        }
    }

    pub(super) fn model_nonamr(&self, r: usize) -> f64 {
        self.d_group.iter().map(|g| g[r]).sum()
    }
}

/// Per-step predictors of the non-AMR consumption from the AMR readings:
/// at every step the values of the demand patterns (pattern × whatever
/// multiplies it that day) are fitted by least squares to the meters, each
/// meter reading being Σ base × pattern value over its node's demands.
/// Predictors: for each pattern the meters see, its fitted value × the
/// non-AMR base demand of that pattern (× all non-AMR base when no non-AMR
/// node uses it: a fitted value still mixes in the others' base errors);
/// the model demand of groups whose pattern no meter sees.
fn amr_predictors(setup: &Setup, amr_meas: &[Vec<f64>], d_group: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let mut pats: Vec<Option<usize>> = Vec::new();
    for ds in &setup.amr_demands {
        for &(b, p) in ds {
            if b > 0.0 && !pats.contains(&p) {
                pats.push(p);
            }
        }
    }
    if pats.is_empty() || amr_meas.is_empty() {
        return d_group.to_vec();
    }
    let a: Vec<Vec<f64>> = setup
        .amr_demands
        .iter()
        .map(|ds| {
            pats.iter()
                .map(|&p| ds.iter().filter(|d| d.1 == p).map(|d| d.0).sum())
                .collect()
        })
        .collect();
    let total_base: f64 = setup.groups.iter().map(|g| g.1).sum::<f64>().max(1e-12);
    let rows = d_group.first().map_or(0, Vec::len);
    let mut out: Vec<Vec<f64>> = vec![vec![0.0; rows]; pats.len()];
    let y_scale = |p: Option<usize>| -> f64 {
        match setup.groups.iter().find(|g| g.0 == p) {
            Some(g) if g.1 > 0.0 => g.1,
            _ => total_base,
        }
    };
    let scales: Vec<f64> = pats.iter().map(|&p| y_scale(p)).collect();
    let mut y = vec![0.0; a.len()];
    for r in 0..rows {
        for (yi, m) in y.iter_mut().zip(amr_meas) {
            *yi = m[r];
        }
        let x = super::normal::lstsq(&a, &y);
        for (g, v) in x.iter().enumerate() {
            out[g][r] = v * scales[g];
        }
    }
    for (g, &(p, _)) in setup.groups.iter().enumerate() {
        if !pats.contains(&p) {
            out.push(d_group[g].clone());
        }
    }
    out
}

/// Applies the boundary conditions of row `r` with non-AMR multiplier `m`.
pub(super) fn apply_bc(sim: &mut Simulation, setup: &Setup, f: &Frame, r: usize, m: f64) {
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

pub(super) fn read_channels(sim: &Simulation, setup: &Setup, out: &mut [f64]) {
    for (o, &(_, kind, idx)) in out.iter_mut().zip(&setup.residual) {
        *o = match kind {
            SensorKind::Flow => sim.flow_lps(idx) * 3.6,
            _ => sim.pressure_m(idx),
        };
    }
}

/// Runs the calibrated model over the frame; fills `f.sim`; returns clones
/// of the solved simulation at the rows in `snaps` (sorted).
pub(super) fn run_model(
    setup: &Setup,
    f: &mut Frame,
    snaps: &[usize],
) -> Result<Vec<Simulation>, DetectError> {
    let mut net = setup.net.clone();
    set_times(&mut net, f.rows);
    net.times.pattern_start = f.pattern_start;
    let mut sim = Simulation::from_network(net)?;
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
        sim.run()?;
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

impl Frame {
    /// A copy without simulated values (for re-running the model).
    pub(super) fn clone_light(&self) -> Frame {
        Frame {
            rows: self.rows,
            start_step: self.start_step,
            pattern_start: self.pattern_start,
            d_meas: self.d_meas.clone(),
            q_amr: self.q_amr.clone(),
            d_group: self.d_group.clone(),
            d_expect: self.d_expect.clone(),
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
