//! The model driven by measured boundary conditions, with demand
//! calibration (step 2 of the method): which sensor drives what ([`Setup`]:
//! tanks with a level sensor become fixed-head nodes, pumps with a flow
//! sensor follow the measured on/off state, AMR nodes get their metered
//! demand; which meters close the water balance, and what it estimates),
//! the per-step data of one data set ([`Frame`]: measured
//! consumption from the water balance, the demand multiplier that makes the
//! model consume it), and the model run over a frame. No I/O: data and
//! network are handed over.

use super::{DetectError, ScadaData};
use crate::netedit::{drop_controls_on_link, tank_to_fixed_head};
use crate::sensors::{SensorKind, SensorSet};
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
    /// (sensor index, link, sign) of flows into tanks whose every link is
    /// metered: their storage change is the metered net inflow.
    pub(super) tank_inflows: Vec<(usize, usize, f64)>,
    /// Factor from the metered reservoir outflow to the whole (1 when every
    /// reservoir link is metered): with unmetered reservoir links, their
    /// share of the supply is estimated from the model's own split (see
    /// [`supply_split`]).
    pub(super) inflow_scale: f64,
    /// Indices into `tanks` whose storage change comes from the level
    /// (central difference): tanks with an unmetered link.
    pub(super) level_storage: Vec<usize>,
    /// (sensor index, node) of AMR demands.
    pub(super) amr: Vec<(usize, usize)>,
    /// (sensor index, kind, node or link) compared with the model.
    pub(super) residual: Vec<(usize, SensorKind, usize)>,
    /// Per residual channel: its sensor's valid range (detection's units),
    /// which the model's value must lie in to be compared.
    pub(super) residual_range: Vec<Option<(f64, f64)>>,
    /// Demand groups of non-AMR junctions: (pattern, per-junction base sums).
    pub(super) groups: Vec<(Option<usize>, f64)>,
    /// Per AMR sensor: its node's demands (base, pattern).
    pub(super) amr_demands: Vec<Vec<(f64, Option<usize>)>>,
    /// What the water balance lacks, one line each (a reservoir link without
    /// a usable flow meter, a tank without a usable level sensor); the
    /// detector refuses to run unless it is empty or it falls back to the
    /// pressures (`pressure_balance`).
    pub(super) metering_gaps: Vec<String>,
    /// No water balance: the extra consumption is the one the pressures
    /// imply (the model's demands are not scaled to a measured
    /// consumption; each row also runs the model with a little more demand,
    /// for the pressures' sensitivity to it, see [`Frame::sens`]).
    pub(super) pressure_balance: bool,
    /// Predict the non-AMR consumption from the AMR readings (per-pattern
    /// values fitted to the meters at every step) instead of from the model
    /// patterns alone.
    pub(super) amr_patterns: bool,
    /// A pump is on when its measured flow exceeds this, m³/h
    /// (`DetectConfig::pump_on_m3h`).
    pub(super) pump_on_m3h: f64,
    /// Per residual channel: excluded by the live data checks (no weight
    /// in localization).
    pub(super) masked: Vec<bool>,
}

impl Setup {
    pub(super) fn new(
        model: &Network,
        sensors: &SensorSet,
        usable: &[bool],
        notes: &mut Vec<String>,
    ) -> Setup {
        let mut net = model.clone();
        // A twin does not stop: an unbalanced step goes on (EPANET's
        // UNBALANCED CONTINUE 10) instead of halting the model.
        if net.options.unbalanced == network::Unbalanced::Stop {
            net.options.unbalanced = network::Unbalanced::Continue(10);
            notes.push(
                "the model's UNBALANCED STOP is run as UNBALANCED CONTINUE 10 (the detector's model must not stop)"
                    .to_string(),
            );
        }
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
            let mut unmeasured: Vec<&str> = removed
                .controls_on
                .iter()
                .map(String::as_str)
                .filter(|id| !measured_pump(id))
                .collect();
            unmeasured.sort_unstable();
            unmeasured.dedup();
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
        let mut unmetered = Vec::new();
        for &r in &reservoirs {
            for (k, l) in model.links.iter().enumerate() {
                if (l.from == r || l.to == r) && !inflows.iter().any(|&(_, kk, _)| kk == k) {
                    unmetered.push(k);
                }
            }
        }
        // Partially metered supply: the unmetered reservoir links' share is
        // estimated from the model's split of the supply over a day, when
        // the meters see most of it; otherwise no balance.
        let mut inflow_scale = 1.0;
        if !unmetered.is_empty() {
            let ids = |ks: &[usize]| {
                ks.iter()
                    .map(|&k| model.links[k].id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let metered: Vec<usize> = inflows.iter().map(|&(_, k, _)| k).collect();
            match supply_split(model, &metered, &unmetered) {
                Some(share) if share >= MIN_METERED_SUPPLY_SHARE => {
                    inflow_scale = 1.0 / share;
                    notes.push(format!(
                        "reservoir link(s) {} have no usable flow meter: the water balance estimates their supply from the model's split (the metered links carry {:.1} % of the supply over the model's first day), so a leak's size is estimated as if it drew on the sources in that proportion",
                        ids(&unmetered),
                        100.0 * share
                    ));
                }
                share => {
                    for &k in &unmetered {
                        let l = &model.links[k];
                        let r = if model.nodes[l.from].is_reservoir() {
                            l.from
                        } else {
                            l.to
                        };
                        metering_gaps.push(format!(
                            "reservoir {}: link {} has no usable flow meter{}",
                            model.nodes[r].id,
                            l.id,
                            match share {
                                Some(x) => format!(
                                    " (the metered links carry only {:.1} % of the supply in the model; at least {:.0} % is needed to estimate the rest)",
                                    100.0 * x,
                                    100.0 * MIN_METERED_SUPPLY_SHARE
                                ),
                                None => String::new(),
                            }
                        ));
                    }
                }
            }
        }
        // Tanks: the metered net inflow where every link is metered (no
        // differencing of a rounded level), else the level's change.
        let mut tank_inflows = Vec::new();
        let mut level_storage = Vec::new();
        for (i, n) in model.nodes.iter().enumerate() {
            if !n.is_tank() {
                continue;
            }
            let links: Vec<usize> = (0..model.links.len())
                .filter(|&k| model.links[k].from == i || model.links[k].to == i)
                .collect();
            let meters: Vec<(usize, usize, f64)> = links
                .iter()
                .filter_map(|&k| {
                    let &(si, _, _) = residual
                        .iter()
                        .find(|&&(_, kind, kk)| kind == SensorKind::Flow && kk == k)?;
                    Some((si, k, if model.links[k].to == i { 1.0 } else { -1.0 }))
                })
                .collect();
            let level = tanks.iter().position(|&(_, t, _)| t == i);
            if !links.is_empty() && meters.len() == links.len() {
                tank_inflows.extend(meters);
                if level.is_none() {
                    notes.push(format!(
                        "tank {}: no usable level sensor; its storage comes from its metered links and the model simulates its level",
                        n.id
                    ));
                }
            } else if let Some(t) = level {
                level_storage.push(t);
            } else {
                metering_gaps.push(format!(
                    "tank {} has no usable level sensor and not every link of it has a usable flow meter",
                    n.id
                ));
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
            inflow_scale,
            tank_inflows,
            level_storage,
            amr,
            groups,
            amr_demands,
            masked: vec![false; residual.len()],
            residual_range: residual
                .iter()
                .map(|&(si, _, _)| sensors.sensors[si].range)
                .collect(),
            residual,
            metering_gaps,
            pressure_balance: false,
            amr_patterns: false,
            pump_on_m3h: 0.1,
        }
    }

    /// With `pressure_balance`: per residual channel, whether it is a
    /// pressure (what the fallback statistic is made of).
    pub(super) fn pressure_channels(&self) -> Option<Vec<bool>> {
        self.pressure_balance.then(|| {
            self.residual
                .iter()
                .map(|r| r.1 == SensorKind::Pressure)
                .collect()
        })
    }
}

/// The least share of the supply the metered reservoir links must carry
/// (in the model) for the rest to be estimated from the model's split.
pub(super) const MIN_METERED_SUPPLY_SHARE: f64 = 0.5;

/// The share of the supply (outflow from reservoirs) that the `metered`
/// reservoir links carry in the model over its first day (the model's own
/// patterns and controls), against `metered` + `unmetered`; `None` when
/// the model cannot run or supplies nothing.
fn supply_split(model: &Network, metered: &[usize], unmetered: &[usize]) -> Option<f64> {
    let mut net = model.clone();
    net.options.unbalanced = network::Unbalanced::Continue(10);
    net.times.duration = 86_400;
    let mut sim = Simulation::from_network(net).ok()?;
    let res = |k: usize| {
        let l = &model.links[k];
        if model.nodes[l.from].is_reservoir() {
            1.0
        } else {
            -1.0
        }
    };
    let (mut m, mut u) = (0.0, 0.0);
    loop {
        sim.run().ok()?;
        let t0 = sim.time_s();
        let qm: f64 = metered.iter().map(|&k| res(k) * sim.flow_lps(k)).sum();
        let qu: f64 = unmetered.iter().map(|&k| res(k) * sim.flow_lps(k)).sum();
        let dt = sim.next();
        let w = if dt == 0 { 1.0 } else { dt as f64 };
        m += w * qm;
        u += w * qu;
        if dt == 0 || t0 >= 86_400 {
            break;
        }
    }
    (m + u > 1e-9 && m > 0.0).then(|| m / (m + u))
}

/// Everything computed per step for one data set. A frame grows row by
/// row: cleaned readings are appended ([`Frame::push_raw`]) and rows are
/// derived once the water balance's storage term has its look-ahead
/// ([`Frame::derive`]); batch and streaming build it the same way, so the
/// same readings give the same rows bit for bit.
#[derive(Debug, Clone)]
pub(super) struct Frame {
    /// Rows derived (every field below holds this many).
    pub(super) rows: usize,
    pub(super) start_step: i64,
    /// Seconds per row (the model step).
    pub(super) step_s: u64,
    /// Pattern offset (s) so that row 0 falls on its time in the patterns.
    pub(super) pattern_start: u64,
    /// Cleaned readings appended so far, per sensor of the set (empty for
    /// sensors not used), in detection's units.
    pub(super) raw: Vec<Vec<f64>>,
    pub(super) raw_rows: usize,
    /// Least-squares set-up of the AMR pattern predictors (`amr_patterns`).
    pub(super) amr_fit: Option<AmrFit>,
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
    /// With `Setup::pressure_balance`, per residual channel: the change of
    /// the simulated value per m³/s more of the model's consumption
    /// (spread as its demands are), at each row; otherwise empty.
    pub(super) sens: Vec<Vec<f64>>,
    /// Per row: some channel's model value fell outside its sensor's valid
    /// range (a model state no sensor could read, e.g. the large negative
    /// pressures of a zone a stopped pump cuts off); that channel's
    /// residual is held at its previous value.
    pub(super) model_held: Vec<bool>,
    /// Per residual channel: rows held so (since the start, for the report).
    pub(super) held_rows: Vec<usize>,
}

fn pattern_value(net: &Network, p: Option<usize>, period: usize) -> f64 {
    match p {
        Some(j) => net.patterns[j].at(period),
        None => 1.0,
    }
}

/// Look-ahead of the storage term from a level, s: a central difference
/// over ±15 minutes smooths the 0.01 m level resolution (±3 steps at 5
/// minutes).
pub(super) const STORAGE_HALF_WINDOW_S: u64 = 900;

/// The storage term's half window in rows of `step_s` seconds (at least 1).
pub(super) fn storage_half_window(step_s: u64) -> usize {
    ((STORAGE_HALF_WINDOW_S as f64 / step_s.max(1) as f64).round() as usize).max(1)
}

impl Frame {
    /// An empty frame whose row 0 is step `start_step` of `clock`.
    pub(super) fn empty(
        setup: &Setup,
        start_step: i64,
        clock: super::Clock,
        sensors: usize,
    ) -> Frame {
        let step_s = clock.step_s;
        let net = &setup.net;
        let pattern_start = net.pattern_time_s(start_step * step_s as i64 - clock.model_origin_s);
        let amr_fit = if setup.amr_patterns {
            AmrFit::new(setup)
        } else {
            None
        };
        let n_expect = match &amr_fit {
            Some(a) => a.pats.len() + a.unseen.len(),
            None => setup.groups.len(),
        };
        Frame {
            rows: 0,
            start_step,
            step_s,
            pattern_start,
            raw: vec![Vec::new(); sensors],
            raw_rows: 0,
            amr_fit,
            d_meas: Vec::new(),
            q_amr: Vec::new(),
            d_group: vec![Vec::new(); setup.groups.len()],
            d_expect: vec![Vec::new(); n_expect],
            amr_model: vec![Vec::new(); setup.amr.len()],
            amr_meas: vec![Vec::new(); setup.amr.len()],
            m: Vec::new(),
            levels: vec![Vec::new(); setup.tanks.len()],
            pump_open: vec![Vec::new(); setup.pumps.len()],
            meas: vec![Vec::new(); setup.residual.len()],
            sim: vec![Vec::new(); setup.residual.len()],
            sens: vec![Vec::new(); setup.residual.len()],
            model_held: Vec::new(),
            held_rows: vec![0; setup.residual.len()],
        }
    }

    /// A frame of a whole data set (cleaned series per sensor, `None` =
    /// unusable), every row derived; the simulated values are left empty.
    pub(super) fn new(
        setup: &Setup,
        series: &[Option<Vec<f64>>],
        data: &ScadaData,
        clock: super::Clock,
    ) -> Frame {
        let mut f = Frame::empty(setup, data.start_step, clock, series.len());
        let mut row = vec![f64::NAN; series.len()];
        for r in 0..data.rows {
            for (x, s) in row.iter_mut().zip(series) {
                *x = s.as_ref().map_or(f64::NAN, |v| v[r]);
            }
            f.push_raw(&row);
        }
        f.derive(setup, true);
        f
    }

    /// Rows in one hour.
    pub(super) fn per_hour(&self) -> usize {
        crate::time::steps_per_hour(self.step_s)
    }

    /// Cleaned readings appended so far.
    pub(super) fn raw_rows(&self) -> usize {
        self.raw_rows
    }

    /// The cleaned reading of sensor `si` at row `r`.
    pub(super) fn raw(&self, si: usize, r: usize) -> f64 {
        self.raw[si][r]
    }

    /// Appends one row of cleaned readings (per sensor of the set, in
    /// detection's units; unused sensors are ignored).
    pub(super) fn push_raw(&mut self, row: &[f64]) {
        for (v, &x) in self.raw.iter_mut().zip(row) {
            v.push(x);
        }
        self.raw_rows += 1;
    }

    /// Derives the rows whose storage term has its look-ahead (all rows
    /// when `complete`: the data ends there). Returns the rows derived.
    pub(super) fn derive(&mut self, setup: &Setup, complete: bool) -> usize {
        let upto = if complete {
            self.raw_rows
        } else {
            self.raw_rows
                .saturating_sub(storage_half_window(self.step_s))
        };
        let first = self.rows;
        for r in first..upto {
            self.derive_row(setup, r);
        }
        self.rows = upto.max(first);
        self.rows - first
    }

    fn derive_row(&mut self, setup: &Setup, r: usize) {
        let net = &setup.net;
        let pstep = net.times.pattern_step.max(1);
        let period = ((self.pattern_start + r as u64 * self.step_s) / pstep) as usize;
        let mut dm_group = 0.0;
        for (g, &(p, base)) in setup.groups.iter().enumerate() {
            let d = base * pattern_value(net, p, period);
            self.d_group[g].push(d);
            dm_group += d;
        }
        let mut q_amr = 0.0;
        for (a, (ds, &(si, _))) in setup.amr_demands.iter().zip(&setup.amr).enumerate() {
            let model: f64 = ds
                .iter()
                .map(|&(b, p)| b * pattern_value(net, p, period))
                .sum();
            self.amr_model[a].push(model);
            let meas = self.raw[si][r] / 3.6e6;
            self.amr_meas[a].push(meas);
            q_amr += meas;
        }
        self.q_amr.push(q_amr);
        match &self.amr_fit {
            Some(fit) => {
                let y: Vec<f64> = self.amr_meas.iter().map(|v| v[r]).collect();
                let x = super::normal::lstsq(&fit.a, &y);
                for (g, v) in x.iter().enumerate() {
                    self.d_expect[g].push(v * fit.scales[g]);
                }
                for (i, &g) in fit.unseen.iter().enumerate() {
                    let d = self.d_group[g][r];
                    self.d_expect[fit.pats.len() + i].push(d);
                }
            }
            None => {
                for g in 0..setup.groups.len() {
                    let d = self.d_group[g][r];
                    self.d_expect[g].push(d);
                }
            }
        }
        for (t, &(si, _, _)) in setup.tanks.iter().enumerate() {
            self.levels[t].push(self.raw[si][r]);
        }
        // Consumption: reservoir outflows minus storage change (metered tank
        // inflows, or the level's central difference over
        // ±STORAGE_HALF_WINDOW_S, shortened at the ends of the data).
        let mut d = 0.0;
        for &(si, _, sign) in &setup.inflows {
            d += sign * self.raw[si][r] / 3600.0 * setup.inflow_scale;
        }
        let h = storage_half_window(self.step_s);
        let last = self.raw_rows - 1;
        for &(si, _, sign) in &setup.tank_inflows {
            d -= sign * self.raw[si][r] / 3600.0;
        }
        for &t in &setup.level_storage {
            let (si, _, area) = setup.tanks[t];
            let (a, b) = (r.saturating_sub(h), (r + h).min(last));
            if b > a {
                let lv = &self.raw[si];
                d -= area * (lv[b] - lv[a]) / ((b - a) as f64 * self.step_s as f64);
            }
        }
        if setup.pressure_balance {
            // No measured consumption: the model's own stands in for it
            // (the pressures tell the extra, see `normal::hourly`).
            self.d_meas
                .push(dm_group * net.options.demand_multiplier + q_amr);
            self.m.push(net.options.demand_multiplier);
        } else {
            self.d_meas.push(d);
            self.m.push(if dm_group > 1e-9 {
                ((d - q_amr) / dm_group).clamp(0.0, 10.0)
            } else {
                net.options.demand_multiplier
            });
        }
        for (p, &(si, _)) in setup.pumps.iter().enumerate() {
            self.pump_open[p].push(self.raw[si][r] > setup.pump_on_m3h);
        }
        for (c, &(si, _, _)) in setup.residual.iter().enumerate() {
            self.meas[c].push(self.raw[si][r]);
        }
    }

    /// Drops the first `d` rows (derived and raw): row `d` becomes row 0.
    pub(super) fn rebase(&mut self, setup: &Setup, d: usize) {
        let d = d.min(self.rows);
        if d == 0 {
            return;
        }
        let cycle = setup.net.pattern_cycle_s();
        self.pattern_start = (self.pattern_start + d as u64 * self.step_s) % cycle;
        self.start_step += d as i64;
        self.rows -= d;
        self.raw_rows -= d;
        fn cut<T>(v: &mut Vec<T>, d: usize) {
            v.drain(..d.min(v.len()));
        }
        for v in &mut self.raw {
            cut(v, d);
        }
        cut(&mut self.d_meas, d);
        cut(&mut self.q_amr, d);
        cut(&mut self.m, d);
        for v in self
            .d_group
            .iter_mut()
            .chain(&mut self.d_expect)
            .chain(&mut self.amr_model)
            .chain(&mut self.amr_meas)
            .chain(&mut self.levels)
            .chain(&mut self.meas)
            .chain(&mut self.sim)
            .chain(&mut self.sens)
        {
            cut(v, d);
        }
        for v in &mut self.pump_open {
            cut(v, d);
        }
        cut(&mut self.model_held, d);
    }

    /// Appends the model's channel values of row `r`. A value outside its
    /// sensor's valid range, or any value of a step the model did not solve
    /// (`solved` false: unbalanced after its trials), is not compared: the
    /// channel's residual is held at its previous row's (or is 0 at row 0)
    /// and the row is marked.
    pub(super) fn push_sim(&mut self, setup: &Setup, r: usize, values: &[f64], solved: bool) {
        let mut held = false;
        for (c, &v) in values.iter().enumerate() {
            debug_assert_eq!(self.sim[c].len(), r);
            let readable =
                solved && setup.residual_range[c].is_none_or(|(lo, hi)| v >= lo && v <= hi);
            let v = if readable {
                v
            } else {
                held = true;
                self.held_rows[c] += 1;
                let before = match r {
                    0 => 0.0,
                    _ => self.meas[c][r - 1] - self.sim[c][r - 1],
                };
                self.meas[c][r] - before
            };
            self.sim[c].push(v);
        }
        self.model_held.push(held);
    }

    pub(super) fn model_nonamr(&self, r: usize) -> f64 {
        self.d_group.iter().map(|g| g[r]).sum()
    }
}

#[cfg(test)]
impl Frame {
    /// An empty frame with no sensors, for tests that fill the derived rows
    /// themselves.
    pub(super) fn blank() -> Frame {
        Frame {
            rows: 0,
            start_step: 0,
            step_s: 300,
            pattern_start: 0,
            raw: Vec::new(),
            raw_rows: 0,
            amr_fit: None,
            d_meas: Vec::new(),
            q_amr: Vec::new(),
            d_group: Vec::new(),
            d_expect: Vec::new(),
            amr_model: Vec::new(),
            amr_meas: Vec::new(),
            m: Vec::new(),
            levels: Vec::new(),
            pump_open: Vec::new(),
            meas: Vec::new(),
            sim: Vec::new(),
            sens: Vec::new(),
            model_held: Vec::new(),
            held_rows: Vec::new(),
        }
    }
}

/// Predictors of the non-AMR consumption from the AMR readings: at every
/// step the values of the demand patterns (pattern × whatever multiplies it
/// that day) are fitted by least squares to the meters, each meter reading
/// being Σ base × pattern value over its node's demands. Predictors: for
/// each pattern the meters see, its fitted value × the non-AMR base demand
/// of that pattern (× all non-AMR base when no non-AMR node uses it: a
/// fitted value still mixes in the others' base errors); the model demand
/// of groups whose pattern no meter sees.
#[derive(Debug, Clone)]
pub(super) struct AmrFit {
    pats: Vec<Option<usize>>,
    /// Per meter, its base demand per pattern of `pats`.
    a: Vec<Vec<f64>>,
    scales: Vec<f64>,
    /// Demand groups whose pattern no meter sees.
    unseen: Vec<usize>,
}

impl AmrFit {
    fn new(setup: &Setup) -> Option<AmrFit> {
        let mut pats: Vec<Option<usize>> = Vec::new();
        for ds in &setup.amr_demands {
            for &(b, p) in ds {
                if b > 0.0 && !pats.contains(&p) {
                    pats.push(p);
                }
            }
        }
        if pats.is_empty() || setup.amr.is_empty() {
            return None;
        }
        let a = setup
            .amr_demands
            .iter()
            .map(|ds| {
                pats.iter()
                    .map(|&p| ds.iter().filter(|d| d.1 == p).map(|d| d.0).sum())
                    .collect()
            })
            .collect();
        let total_base: f64 = setup.groups.iter().map(|g| g.1).sum::<f64>().max(1e-12);
        let scales = pats
            .iter()
            .map(|&p| match setup.groups.iter().find(|g| g.0 == p) {
                Some(g) if g.1 > 0.0 => g.1,
                _ => total_base,
            })
            .collect();
        let unseen = (0..setup.groups.len())
            .filter(|&g| !pats.contains(&setup.groups[g].0))
            .collect();
        Some(AmrFit {
            pats,
            a,
            scales,
            unseen,
        })
    }
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

/// The model of a frame advanced row by row with the frame's boundary
/// conditions, as the rows are derived: the simulated channels of every
/// row go into `Frame::sim`. Its duration is open-ended (the end of the
/// data is not known in advance and does not change any step before it),
/// so a batch run and a stream of the same rows give the same values.
pub(super) struct LiveModel {
    sim: Simulation,
    buf: Vec<f64>,
    /// The channels with a little more demand (`Setup::pressure_balance`).
    probe: Vec<f64>,
    /// Rows dropped from the frame since this model's time 0.
    offset: usize,
}

impl LiveModel {
    pub(super) fn new(setup: &Setup, f: &Frame) -> Result<LiveModel, DetectError> {
        let mut net = setup.net.clone();
        set_open_times(&mut net, f.step_s);
        net.times.pattern_start = f.pattern_start;
        Ok(LiveModel {
            sim: Simulation::from_network(net)?,
            buf: vec![0.0; setup.residual.len()],
            probe: vec![0.0; setup.residual.len()],
            offset: 0,
        })
    }

    /// The frame dropped its first `d` rows.
    pub(super) fn rebased(&mut self, d: usize) {
        self.offset += d;
    }

    /// Simulates every derived row of `f` not simulated yet.
    pub(super) fn advance(&mut self, setup: &Setup, f: &mut Frame) -> Result<(), DetectError> {
        loop {
            let t = self.sim.time_s();
            let on_grid = t.is_multiple_of(f.step_s);
            let r = (t / f.step_s) as usize - self.offset;
            if on_grid && r >= f.rows {
                return Ok(());
            }
            let mut probe = None;
            if on_grid {
                apply_bc(&mut self.sim, setup, f, r, f.m[r]);
                if setup.pressure_balance {
                    probe = Some(self.sim.clone());
                }
            }
            let step = self.sim.run()?;
            if on_grid {
                read_channels(&self.sim, setup, &mut self.buf);
                if let Some(probe) = probe {
                    self.sensitivity(setup, f, r, probe)?;
                }
                let solved = !step.warnings.contains(&hydraulics::Warning::Unbalanced);
                f.push_sim(setup, r, &self.buf, solved);
            }
            if self.sim.next() == 0 {
                if f.rows > (self.sim.time_s() / f.step_s) as usize - self.offset + 1 {
                    return Err(DetectError::Data(format!(
                        "the model stopped at {:.1} h of the data",
                        self.sim.time_s() as f64 / 3600.0
                    )));
                }
                return Ok(());
            }
        }
    }

    /// The channels' change per m³/s more of the model's consumption at row
    /// `r` (`self.buf` holds the row's channels): `probe`, the model as it
    /// stood before the row's step, runs the step with
    /// [`SENSITIVITY_SHARE`] more of every non-AMR demand.
    fn sensitivity(
        &mut self,
        setup: &Setup,
        f: &mut Frame,
        r: usize,
        mut probe: Simulation,
    ) -> Result<(), DetectError> {
        let more = SENSITIVITY_SHARE * f.m[r] * f.model_nonamr(r);
        apply_bc(&mut probe, setup, f, r, f.m[r] * (1.0 + SENSITIVITY_SHARE));
        let step = probe.run()?;
        read_channels(&probe, setup, &mut self.probe);
        let solved = !step.warnings.contains(&hydraulics::Warning::Unbalanced);
        for (c, v) in f.sens.iter_mut().enumerate() {
            let d = self.probe[c] - self.buf[c];
            v.push(if solved && more > 1e-12 && d.is_finite() {
                d / more
            } else {
                0.0
            });
        }
        Ok(())
    }
}

/// The extra share of the demands behind the pressures' sensitivity to
/// consumption (`Setup::pressure_balance`): small enough to stay linear and
/// not to switch controls, large enough to stand out of the solver's
/// convergence (a flow change of 1e-3 relative at EPANET's default).
pub(super) const SENSITIVITY_SHARE: f64 = 0.02;

/// Times of a detection model: the data's step as hydraulic and report
/// step, patterns at that step unless the model has its own, and a
/// duration long enough never to end a run (a century of steps).
fn set_open_times(net: &mut Network, step_s: u64) {
    let t = &mut net.times;
    t.duration = 100 * 365 * 86_400;
    t.hydraulic_step = step_s;
    t.report_step = step_s;
    t.report_start = 0;
    if t.pattern_step == 0 {
        t.pattern_step = step_s;
    }
    t.start_clocktime = 0;
}

/// How many solved model states [`Snapshots`] keeps (the sample rows of
/// the last few localizations).
const KEPT_SNAPSHOTS: usize = 24;

/// Solved model states kept from earlier localizations' model runs, so
/// that a later localization continues from the latest kept state at or
/// before its first sample row instead of running the model again from
/// row 0. A continued run performs the same operations on the same state
/// as a run from row 0, so it gives the same bits. The states belong to
/// the frame's row 0 (derived rows never change; dropping rows starts
/// afresh). Not part of the detector's state: a resumed detector starts
/// with none and gets the same results.
#[derive(Default)]
pub(super) struct Snapshots {
    /// Step of the frame's row 0 when the states were taken.
    origin: Option<i64>,
    /// (row, the model solved at that row), oldest first.
    kept: Vec<(usize, Simulation)>,
}

impl Snapshots {
    /// Forgets the states when the frame's row 0 has moved.
    fn check_origin(&mut self, f: &Frame) {
        if self.origin != Some(f.start_step) {
            self.kept.clear();
            self.origin = Some(f.start_step);
        }
    }

    /// The latest kept state at or before row `r`.
    fn latest_at_or_before(&self, r: usize) -> Option<&(usize, Simulation)> {
        self.kept
            .iter()
            .filter(|(k, _)| *k <= r)
            .max_by_key(|(k, _)| *k)
    }

    fn keep(&mut self, r: usize, sim: &Simulation) {
        self.kept.retain(|(k, _)| *k != r);
        if self.kept.len() >= KEPT_SNAPSHOTS {
            self.kept.remove(0);
        }
        self.kept.push((r, sim.clone()));
    }
}

/// Runs the model over the frame from row 0 (or continues a state `kept`
/// from an earlier run) and returns clones of the solved simulation at the
/// rows in `snaps` (sorted, all derived).
pub(super) fn snapshots(
    setup: &Setup,
    f: &Frame,
    snaps: &[usize],
    kept: &mut Snapshots,
) -> Result<Vec<Simulation>, DetectError> {
    let (Some(&first), Some(&last)) = (snaps.iter().min(), snaps.iter().max()) else {
        return Ok(Vec::new());
    };
    kept.check_origin(f);
    let mut out: Vec<(usize, Simulation)> = Vec::new();
    let sim = match kept.latest_at_or_before(first) {
        // Where a run from row 0 stands after solving row `r`.
        Some((r, state)) => {
            let (r, mut sim) = (*r, state.clone());
            if snaps.binary_search(&r).is_ok() {
                out.push((r, sim.clone()));
            }
            (r < last && sim.next() > 0).then_some(sim)
        }
        None => {
            let mut net = setup.net.clone();
            set_open_times(&mut net, f.step_s);
            net.times.pattern_start = f.pattern_start;
            Some(Simulation::from_network(net)?)
        }
    };
    if let Some(mut sim) = sim {
        loop {
            let t = sim.time_s();
            let on_grid = t.is_multiple_of(f.step_s);
            let r = (t / f.step_s) as usize;
            if on_grid && r < f.rows {
                apply_bc(&mut sim, setup, f, r, f.m[r]);
            }
            sim.run()?;
            if on_grid && r < f.rows {
                if snaps.binary_search(&r).is_ok() {
                    out.push((r, sim.clone()));
                }
                if r >= last {
                    break;
                }
            }
            if sim.next() == 0 {
                break;
            }
        }
    }
    for (r, sim) in &out {
        kept.keep(*r, sim);
    }
    Ok(out.into_iter().map(|(_, s)| s).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sensors::Sensor;

    /// A model value outside its sensor's range is not compared: the
    /// residual is held at the previous row's, the row is marked and
    /// counted; a sensor without a range compares every value.
    #[test]
    fn a_model_value_no_sensor_could_read_holds_the_residual() {
        let net = crate::netedit::tests::small();
        let sensor = |element: &str, range| Sensor {
            kind: SensorKind::Pressure,
            column: format!("P_{element}"),
            element: element.into(),
            range,
        };
        let sensors = SensorSet {
            sensors: vec![sensor("J2", Some((-10.0, 300.0))), sensor("J4", None)],
        };
        let setup = Setup::new(&net, &sensors, &[true, true], &mut Vec::new());
        let mut f = Frame {
            meas: vec![vec![40.0, 41.0, 42.0]; 2],
            sim: vec![Vec::new(); 2],
            held_rows: vec![0; 2],
            ..Frame::blank()
        };
        f.push_sim(&setup, 0, &[39.5, 39.0], true);
        f.push_sim(&setup, 1, &[-2000.0, -2000.0], true);
        f.push_sim(&setup, 2, &[41.0, 41.0], true);
        // Row 1: J2's residual 0.5 held; J4 (no range) compared as is.
        assert_eq!(f.sim[0], vec![39.5, 40.5, 41.0]);
        assert_eq!(f.sim[1], vec![39.0, -2000.0, 41.0]);
        assert_eq!(f.model_held, vec![false, true, false]);
        assert_eq!(f.held_rows, vec![1, 0]);
        // A step the model did not solve: every channel held.
        f.meas = vec![vec![40.0, 41.0, 42.0, 43.0]; 2];
        f.push_sim(&setup, 3, &[42.0, 42.0], false);
        assert_eq!(f.sim[0][3], 43.0 - (42.0 - 41.0));
        assert_eq!(f.sim[1][3], 43.0 - (42.0 - 41.0));
        assert!(f.model_held[3]);
        assert_eq!(f.held_rows, vec![2, 1]);
    }
}
