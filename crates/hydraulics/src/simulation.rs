//! A steppable extended-period simulation (EPANET's ENinitH / ENrunH /
//! ENnextH), with results in SI at each step and setters for boundary
//! conditions between steps. Cheap to clone for scenario batches: clones
//! share the prepared network and its symbolic factorization.

use crate::coeffs::{tank_grade, tank_volume};
use crate::controls::{apply_controls, check_rules, control_timestep, set_link_setting};
use crate::prepared::{stat, LinkType, Prepared, QZERO};
use crate::solver::{hydsolve, State};
use crate::PrepareError;
use network::{Network, Quantity};
use std::sync::{Arc, OnceLock};

/// Warning conditions EPANET reports after a step (its codes 1–6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Warning {
    /// 1: the step did not converge within the trial limit.
    Unbalanced,
    /// 2: converged only in the extra trials.
    Unstable,
    /// 4: a pump cannot deliver the flow or head.
    PumpCannotDeliver,
    /// 5: a valve cannot deliver its setting.
    ValveCannotDeliver,
    /// 6: a junction with demand has negative pressure.
    NegativePressure,
}

impl Warning {
    pub fn code(self) -> u8 {
        match self {
            Warning::Unbalanced => 1,
            Warning::Unstable => 2,
            Warning::PumpCannotDeliver => 4,
            Warning::ValveCannotDeliver => 5,
            Warning::NegativePressure => 6,
        }
    }
    /// EPANET's wording.
    pub fn message(self) -> &'static str {
        match self {
            Warning::Unbalanced => "System hydraulically unbalanced",
            Warning::Unstable => "System may be hydraulically unstable",
            Warning::PumpCannotDeliver => "Pumps cannot deliver enough flow or head",
            Warning::ValveCannotDeliver => "Valves cannot deliver enough flow",
            Warning::NegativePressure => "System has negative pressures",
        }
    }
}

/// Outcome of solving one time step.
#[derive(Debug, Clone)]
pub struct StepReport {
    pub time_s: u64,
    pub iterations: u32,
    pub relative_error: f64,
    /// Conditions found, in EPANET's order of checking.
    pub warnings: Vec<Warning>,
    /// True when UNBALANCED STOP halts the run after this step.
    pub halted: bool,
}

impl StepReport {
    /// The single warning code EPANET's ENrunH returns (the last found).
    pub fn epanet_code(&self) -> u8 {
        self.warnings.last().map(|w| w.code()).unwrap_or(0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("at {time_s} s the equations could not be solved at node {node} (EPANET error 110: ill-conditioned)")]
    IllConditioned { time_s: u64, node: String },
    #[error("{0}")]
    Prepare(#[from] PrepareError),
}

/// Reported state of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Open,
    Closed,
    Active,
}

impl LinkState {
    pub fn word(self) -> &'static str {
        match self {
            LinkState::Open => "OPEN",
            LinkState::Closed => "CLOSED",
            LinkState::Active => "ACTIVE",
        }
    }
}

#[derive(Clone)]
pub struct Simulation {
    pr: Arc<Prepared>,
    s: State,
    htime: i64,
    rtime: i64,
    halt: bool,
    dsystem: f64,
    /// Demand multiplier overrides: global, per pattern, per node.
    global_mult: Option<f64>,
    pattern_mult: Vec<f64>,
    /// Scratch: each pattern's factor (times its multiplier) at the current
    /// period, then 1.0 for demands without a pattern.
    pat_now: Vec<f64>,
    node_mult: Vec<f64>,
    /// Junction demands (and the system demand) per pattern period,
    /// shared by clones (see [`Simulation::share_demands`]).
    demand_cache: Option<Arc<DemandCache>>,
}

/// Per pattern period p (index), the junction demands followed by the
/// system demand; filled on first use by any clone.
struct DemandCache {
    periods: Vec<OnceLock<Box<[f64]>>>,
}

/// Largest shared demand table (values) [`Simulation::share_demands`] builds.
const DEMAND_CACHE_MAX_VALUES: usize = 8 << 20;

impl Simulation {
    /// Prepares a network and initialises a simulation at time 0.
    pub fn from_network(net: Network) -> Result<Simulation, PrepareError> {
        Ok(Simulation::new(Arc::new(Prepared::new(Arc::new(net))?)))
    }

    /// A new simulation at time 0 (EPANET's ENopenH + ENinitH).
    pub fn new(pr: Arc<Prepared>) -> Simulation {
        let s = State::new(&pr);
        let npat = pr.patterns.len();
        let nn = pr.nnodes;
        let mut sim = Simulation {
            pr,
            s,
            htime: 0,
            rtime: 0,
            halt: false,
            dsystem: 0.0,
            global_mult: None,
            pattern_mult: vec![1.0; npat],
            pat_now: vec![1.0; npat + 1],
            node_mult: vec![1.0; nn],
            demand_cache: None,
        };
        for k in 0..sim.pr.nlinks {
            init_link_flow(
                &sim.pr,
                &mut sim.s,
                k,
                sim.pr.init_status[k],
                sim.pr.init_setting[k],
            );
        }
        sim.init(false);
        sim
    }

    pub fn prepared(&self) -> &Arc<Prepared> {
        &self.pr
    }

    pub fn network(&self) -> &Network {
        &self.pr.net
    }

    /// Makes this simulation and the clones taken from it afterwards share
    /// their junction demands: each pattern period's demands are computed
    /// once, by whichever clone first reaches it, and copied by the others
    /// (scenario batches all meet the same periods). Results are unchanged.
    /// A clone that sets a demand multiplier stops sharing. Nothing is
    /// shared when the table would exceed 64 MiB (long runs on big networks).
    pub fn share_demands(&mut self) {
        let tm = &self.pr.times;
        let periods = ((tm.dur.max(0) + tm.pstart) / tm.pstep.max(1) + 2) as usize;
        if periods.saturating_mul(self.pr.njuncs + 1) <= DEMAND_CACHE_MAX_VALUES {
            self.demand_cache = Some(Arc::new(DemandCache {
                periods: (0..periods).map(|_| OnceLock::new()).collect(),
            }));
        }
    }

    /// Resets to time 0 (ENinitH). With `reinit_flows`, link flows restart
    /// from EPANET's initial guesses; otherwise the current flows are kept
    /// (a warm start: fewer iterations, but a different iteration path, so
    /// the results differ from EPANET's by up to its ACCURACY, more than
    /// the conformance tolerances; see `tests/batch_conformance.rs`).
    pub fn init(&mut self, reinit_flows: bool) {
        let pr = Arc::clone(&self.pr);
        let s = &mut self.s;
        for (j, t) in pr.tanks.iter().enumerate() {
            s.tank_v[j] = t.v0;
            s.head[t.node] = t.h0;
            s.node_demand[t.node] = 0.0;
        }
        for i in 0..pr.nnodes {
            s.emitter_flow[i] = if s.ke[i] > 0.0 { 1.0 } else { 0.0 };
        }
        if pr.has_leakage {
            for i in 0..pr.njuncs {
                s.leak_qfa[i] = crate::solver::leak_q0(pr.leak_cfa[i]);
                s.leak_qva[i] = crate::solver::leak_q0(pr.leak_cva[i]);
                s.leakage_flow[i] = 0.0;
            }
        }
        for k in 0..pr.nlinks {
            s.status[k] = pr.init_status[k];
            s.setting[k] = pr.init_setting[k];
            if matches!(pr.ltype[k], LinkType::Prv | LinkType::Psv | LinkType::Fcv)
                && pr.init_setting[k] != crate::prepared::MISSING
            {
                s.status[k] = stat::ACTIVE;
            }
            if s.status[k] <= stat::CLOSED {
                s.flow[k] = QZERO;
            } else if s.flow[k].abs() <= QZERO || reinit_flows {
                let (st, se) = (s.status[k], s.setting[k]);
                init_link_flow(&pr, s, k, st, se);
            }
        }
        self.halt = false;
        self.htime = 0;
        self.rtime = pr.times.rstep;
    }

    /// Current simulation time, s.
    pub fn time_s(&self) -> u64 {
        self.htime.max(0) as u64
    }

    /// Whether `t` is one of the model's report times.
    pub fn is_report_time(&self, t: u64) -> bool {
        let tm = &self.pr.times;
        let t = t as i64;
        t >= tm.rstart && (t - tm.rstart) % tm.rstep.max(1) == 0
    }

    fn demands(&mut self) {
        let pr = Arc::clone(&self.pr);
        let tm = &pr.times;
        let p = (self.htime + tm.pstart) / tm.pstep;
        let nj = pr.njuncs;
        let s = &mut self.s;
        assert!(s.node_demand.len() >= nj && s.demand_flow.len() >= nj);
        assert!(s.full_demand.len() >= nj);
        let cell = self
            .demand_cache
            .as_ref()
            .and_then(|c| c.periods.get(usize::try_from(p).ok()?));
        if let Some(cell) = cell {
            // Shared with the other clones: computed by whichever meets
            // this period first, with the same code as below.
            let d = cell.get_or_init(|| {
                let mut d = vec![0.0; nj + 1].into_boxed_slice();
                let mut pat_now = vec![0.0; pr.patterns.len() + 1];
                d[nj] = junction_demands(
                    &pr,
                    p,
                    self.global_mult,
                    &self.pattern_mult,
                    &self.node_mult,
                    &mut pat_now,
                    &mut d[..nj],
                );
                d
            });
            s.node_demand[..nj].copy_from_slice(&d[..nj]);
            s.demand_flow[..nj].copy_from_slice(&d[..nj]);
            s.full_demand[..nj].copy_from_slice(&d[..nj]);
            self.dsystem = d[nj];
        } else {
            self.dsystem = junction_demands(
                &pr,
                p,
                self.global_mult,
                &self.pattern_mult,
                &self.node_mult,
                &mut self.pat_now,
                &mut s.node_demand[..nj],
            );
            s.demand_flow[..nj].copy_from_slice(&s.node_demand[..nj]);
            s.full_demand[..nj].copy_from_slice(&s.node_demand[..nj]);
        }
        for t in &pr.tanks {
            if t.a == 0.0 {
                if let Some(j) = t.pat {
                    let pat = &pr.patterns[j];
                    s.head[t.node] = pr.el[t.node] * pat[(p % pat.len() as i64) as usize];
                }
            }
        }
        for pump in &pr.pumps {
            if let Some(j) = pump.upat {
                let pat = &pr.patterns[j];
                let v = pat[(p % pat.len() as i64) as usize];
                set_link_setting(&pr, s, pump.link, v);
            }
        }
    }

    /// Solves the current time step (ENrunH).
    pub fn run(&mut self) -> Result<StepReport, SimError> {
        self.run_begin();
        let info = hydsolve(&self.pr, &mut self.s);
        self.run_end(info)
    }

    /// The part of [`run`](Self::run) before the solve: demands and controls.
    pub(crate) fn run_begin(&mut self) {
        self.demands();
        let pr = Arc::clone(&self.pr);
        apply_controls(&pr, &mut self.s, self.htime);
    }

    /// The solver state, for solves shared between simulations.
    pub(crate) fn parts_mut(&mut self) -> (&Arc<Prepared>, &mut State) {
        (&self.pr, &mut self.s)
    }

    /// The part of [`run`](Self::run) after the solve: errors, halts, warnings.
    pub(crate) fn run_end(
        &mut self,
        info: crate::solver::SolveInfo,
    ) -> Result<StepReport, SimError> {
        let pr = Arc::clone(&self.pr);
        if let Some(n) = info.ill_conditioned {
            return Err(SimError::IllConditioned {
                time_s: self.time_s(),
                node: pr.net.nodes[n].id.clone(),
            });
        }
        let o = &pr.opts;
        if info.relerr > o.hacc && o.extra_iter == -1 {
            self.halt = true;
        }
        let warnings = self.warnings(info.iterations, info.relerr);
        Ok(StepReport {
            time_s: self.time_s(),
            iterations: info.iterations.min(u32::MAX as i64) as u32,
            relative_error: info.relerr,
            warnings,
            halted: self.halt,
        })
    }

    fn warnings(&self, iter: i64, relerr: f64) -> Vec<Warning> {
        let pr = &self.pr;
        let s = &self.s;
        let o = &pr.opts;
        let mut w = Vec::new();
        if iter > o.max_iter && relerr <= o.hacc {
            w.push(Warning::Unstable);
        }
        let nj = pr.njuncs;
        // EPANET checks for negative pressures under DDA only.
        let negative = !o.pda
            && s.head[..nj]
                .iter()
                .zip(&pr.el[..nj])
                .zip(&s.node_demand[..nj])
                .fold(false, |a, ((&h, &el), &d)| a | ((h < el) & (d > 0.0)));
        if negative {
            w.push(Warning::NegativePressure);
        }
        if pr.valves.iter().any(|&k| s.status[k] >= stat::XFCV) {
            w.push(Warning::ValveCannotDeliver);
        }
        let pump_bad = pr.pumps.iter().any(|p| {
            let k = p.link;
            let mut st = s.status[k];
            if st >= stat::OPEN {
                if s.flow[k] > s.setting[k] * p.qmax {
                    st = stat::XFLOW;
                }
                if s.flow[k] < 0.0 {
                    st = stat::XHEAD;
                }
            }
            st == stat::XHEAD || st == stat::XFLOW
        });
        if pump_bad {
            w.push(Warning::PumpCannotDeliver);
        }
        if iter > o.max_iter && relerr > o.hacc {
            w.push(Warning::Unbalanced);
        }
        w
    }

    /// Advances to the next time step (ENnextH): updates tank levels,
    /// evaluates rules, returns the step length in seconds (0 at the end).
    // EPANET's name for it; a simulation is no iterator (it is solved with
    // `run` between steps).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        let dur = self.pr.times.dur;
        if self.halt {
            self.htime = dur;
        }
        let mut hydstep = 0;
        if self.htime < dur {
            hydstep = self.timestep();
        }
        if self.htime < dur {
            self.htime += hydstep;
            if self.htime >= self.rtime {
                self.rtime += self.pr.times.rstep;
            }
        } else {
            self.htime += 1;
        }
        hydstep.max(0) as u64
    }

    fn timestep(&mut self) -> i64 {
        let pr = Arc::clone(&self.pr);
        let tm = &pr.times;
        let mut tstep = tm.hstep;
        let n = (self.htime + tm.pstart) / tm.pstep + 1;
        let t = n * tm.pstep - self.htime;
        if t > 0 && t < tstep {
            tstep = t;
        }
        let t = self.rtime - self.htime;
        if t > 0 && t < tstep {
            tstep = t;
        }
        self.tank_timestep(&mut tstep);
        control_timestep(&pr, &self.s, self.htime, &mut tstep);
        if !pr.rules.is_empty() {
            self.rule_timestep(&mut tstep);
        } else {
            self.tank_levels(tstep);
        }
        tstep
    }

    fn tank_timestep(&self, tstep: &mut i64) {
        let pr = &self.pr;
        let s = &self.s;
        for (j, tk) in pr.tanks.iter().enumerate() {
            if tk.a == 0.0 {
                continue;
            }
            let h = s.head[tk.node];
            let q = s.node_demand[tk.node];
            if q.abs() <= QZERO {
                continue;
            }
            let v = if q > 0.0 && h < tk.hmax {
                tk.vmax - s.tank_v[j]
            } else if q < 0.0 && h > tk.hmin {
                tk.vmin - s.tank_v[j]
            } else {
                continue;
            };
            let xt = v / q;
            if xt.abs() > (*tstep + 1) as f64 {
                continue;
            }
            let t = xt.round() as i64;
            if t > 0 && t < *tstep {
                *tstep = t;
            }
        }
    }

    fn tank_levels(&mut self, tstep: i64) {
        let pr = Arc::clone(&self.pr);
        let s = &mut self.s;
        for (j, tk) in pr.tanks.iter().enumerate() {
            if tk.a == 0.0 {
                continue;
            }
            let n = tk.node;
            let q = s.node_demand[n];
            // EPANET 2.3 leaves a tank with no net flow as it is.
            if q.abs() <= QZERO {
                continue;
            }
            s.tank_v[j] += q * tstep as f64;
            if s.tank_v[j] + q >= tk.vmax {
                s.tank_v[j] = tk.vmax;
            } else if s.tank_v[j] - q <= tk.vmin {
                s.tank_v[j] = tk.vmin;
            }
            s.head[n] = tank_grade(&pr, j, s.tank_v[j]);
        }
    }

    fn rule_timestep(&mut self, tstep: &mut i64) {
        let pr = Arc::clone(&self.pr);
        let tnow = self.htime;
        let tmax = tnow + *tstep;
        let mut dt = pr.times.rulestep;
        let mut dt1 = pr.times.rulestep - (tnow % pr.times.rulestep);
        dt = dt.min(*tstep);
        dt1 = dt1.min(*tstep);
        if dt1 == 0 {
            dt1 = dt;
        }
        let mut t = tnow;
        loop {
            t += dt1;
            self.tank_levels(dt1);
            if check_rules(&pr, &mut self.s, t, dt1, self.dsystem) > 0 {
                break;
            }
            dt = dt.min(tmax - t);
            dt1 = dt;
            if dt <= 0 {
                break;
            }
        }
        *tstep = t - tnow;
    }

    // ------------------------------------------------------------ results (SI)

    pub fn node_count(&self) -> usize {
        self.pr.nnodes
    }
    pub fn link_count(&self) -> usize {
        self.pr.nlinks
    }
    /// Hydraulic head, m.
    pub fn head_m(&self, i: usize) -> f64 {
        self.pr.ucf.head_m(self.s.head[i])
    }
    /// Pressure head (head − elevation), m.
    pub fn pressure_m(&self, i: usize) -> f64 {
        self.head_m(i) - self.pr.net.nodes[i].elevation
    }
    /// Junction outflow (demand + emitter), or net inflow to a tank/reservoir, L/s.
    pub fn demand_lps(&self, i: usize) -> f64 {
        self.pr.ucf.flow_m3s(self.s.node_demand[i]) * 1000.0
    }
    /// Emitter outflow at a junction (leak flow when the emitter models a leak), L/s.
    pub fn emitter_flow_lps(&self, i: usize) -> f64 {
        if self.s.ke[i] > 0.0 {
            self.pr.ucf.flow_m3s(self.s.emitter_flow[i]) * 1000.0
        } else {
            0.0
        }
    }
    /// Pipe leakage flowing out of junction `i` (EPANET 2.3 `[LEAKAGE]`,
    /// part of [`Self::demand_lps`]), L/s.
    pub fn leakage_flow_lps(&self, i: usize) -> f64 {
        match self.s.leakage_flow.get(i) {
            Some(&q) => self.pr.ucf.flow_m3s(q) * 1000.0,
            None => 0.0,
        }
    }
    /// Whether the model has EPANET 2.3 pipe leakage (`[LEAKAGE]`).
    pub fn has_leakage(&self) -> bool {
        self.pr.has_leakage
    }
    /// Leakage out of pipe `k` (EPANET 2.3 `[LEAKAGE]`, EN_LINK_LEAKAGE),
    /// L/s: each half of the pipe leaks at its end junction's pressure
    /// (negative pressures count as 0); when one half leaks nothing (a
    /// fixed-grade end, or no pressure) the other half's leak is doubled.
    /// 0 for other links and pipes without leakage.
    pub fn pipe_leakage_lps(&self, k: usize) -> f64 {
        let pr = &self.pr;
        let Ok(at) = pr.leak_pipes.binary_search_by_key(&k, |p| p.link) else {
            return 0.0;
        };
        let lp = pr.leak_pipes[at];
        let half = |n: usize| {
            if n >= pr.njuncs {
                return 0.0;
            }
            let h = (self.s.head[n] - pr.el[n]).max(0.0);
            lp.c * (lp.a + lp.m * h) * h.sqrt()
        };
        let (mut q1, mut q2) = (half(pr.n1[k]), half(pr.n2[k]));
        if q2 == 0.0 {
            q1 *= 2.0;
        }
        if q1 == 0.0 {
            q2 *= 2.0;
        }
        pr.ucf.flow_m3s(q1 + q2) * 1000.0
    }
    /// Link flow, L/s (0 when closed, as EPANET reports it).
    pub fn flow_lps(&self, k: usize) -> f64 {
        if self.s.status[k] <= stat::CLOSED {
            0.0
        } else {
            self.pr.ucf.flow_m3s(self.s.flow[k]) * 1000.0
        }
    }
    /// Mean velocity, m/s (0 for pumps and closed links).
    pub fn velocity_mps(&self, k: usize) -> f64 {
        let pr = &self.pr;
        if pr.ltype[k] == LinkType::Pump || self.s.status[k] <= stat::CLOSED {
            return 0.0;
        }
        let d = pr.diam[k];
        let a = std::f64::consts::PI * d * d / 4.0;
        self.s.flow[k].abs() / a * 0.3048
    }
    /// Head at the start node minus head at the end node, m.
    pub fn headloss_m(&self, k: usize) -> f64 {
        self.head_m(self.pr.n1[k]) - self.head_m(self.pr.n2[k])
    }
    pub fn link_state(&self, k: usize) -> LinkState {
        let st = self.s.status[k];
        if st <= stat::CLOSED {
            LinkState::Closed
        } else if st == stat::ACTIVE {
            LinkState::Active
        } else {
            LinkState::Open
        }
    }
    /// Junctions with no path of open links to any tank or reservoir at the
    /// current step. Their heads are not determined by the physics (EPANET
    /// reports them as disconnected); what a solver prints for them is
    /// rounding noise.
    pub fn disconnected_nodes(&self) -> Vec<usize> {
        let pr = &self.pr;
        let mut adj_ptr = vec![0usize; pr.nnodes + 1];
        for k in 0..pr.nlinks {
            if self.s.status[k] > stat::CLOSED {
                adj_ptr[pr.n1[k] + 1] += 1;
                adj_ptr[pr.n2[k] + 1] += 1;
            }
        }
        for i in 0..pr.nnodes {
            adj_ptr[i + 1] += adj_ptr[i];
        }
        let mut fill = adj_ptr.clone();
        let mut adj = vec![0usize; adj_ptr[pr.nnodes]];
        for k in 0..pr.nlinks {
            if self.s.status[k] > stat::CLOSED {
                let (a, b) = (pr.n1[k], pr.n2[k]);
                adj[fill[a]] = b;
                fill[a] += 1;
                adj[fill[b]] = a;
                fill[b] += 1;
            }
        }
        let mut seen = vec![false; pr.nnodes];
        let mut stack: Vec<usize> = (pr.njuncs..pr.nnodes).collect();
        for &i in &stack {
            seen[i] = true;
        }
        while let Some(i) = stack.pop() {
            for &j in &adj[adj_ptr[i]..adj_ptr[i + 1]] {
                if !seen[j] {
                    seen[j] = true;
                    stack.push(j);
                }
            }
        }
        (0..pr.njuncs).filter(|&i| !seen[i]).collect()
    }

    /// Tank level above its bottom, m (None for junctions and reservoirs).
    pub fn tank_level_m(&self, i: usize) -> Option<f64> {
        let t = self.pr.node_tank[i];
        if t == usize::MAX || self.pr.tanks[t].a == 0.0 {
            return None;
        }
        Some(self.pressure_m(i))
    }

    // ---------------------------------------------------------------- setters

    /// Sets a tank's level (m above its bottom) before the next step.
    pub fn set_tank_level(&mut self, i: usize, level_m: f64) {
        let t = self.pr.node_tank[i];
        if t == usize::MAX || self.pr.tanks[t].a == 0.0 {
            return;
        }
        let h = self.pr.el[i] + self.pr.ucf.internal(Quantity::Length, level_m);
        let tk = &self.pr.tanks[t];
        let h = h.clamp(tk.hmin, tk.hmax);
        self.s.head[i] = h;
        self.s.tank_v[t] = tank_volume(&self.pr, t, h);
    }

    /// Sets a reservoir's head, m (holds until its head pattern changes it).
    pub fn set_reservoir_head(&mut self, i: usize, head_m: f64) {
        let t = self.pr.node_tank[i];
        if t != usize::MAX && self.pr.tanks[t].a == 0.0 {
            self.s.head[i] = self.pr.ucf.internal(Quantity::Length, head_m);
        }
    }

    /// Opens or closes a link (pump, valve or pipe).
    pub fn set_link_open(&mut self, k: usize, open: bool) {
        let pr = Arc::clone(&self.pr);
        crate::controls::set_link_status(&pr, &mut self.s, k, open);
    }

    /// Pump relative speed, or valve setting in SI (m of head, m³/s, or the
    /// valve's own unit).
    pub fn set_link_setting(&mut self, k: usize, si: f64) {
        let pr = Arc::clone(&self.pr);
        let v = match &pr.net.links[k].kind {
            network::LinkKind::Valve(v) => pr.ucf.internal(v.kind.setting_quantity(), si),
            _ => si,
        };
        set_link_setting(&pr, &mut self.s, k, v);
    }

    /// Overrides the global demand multiplier.
    pub fn set_demand_multiplier(&mut self, m: f64) {
        self.global_mult = Some(m);
        self.demand_cache = None;
    }
    /// Multiplies every demand following pattern `p`.
    pub fn set_pattern_multiplier(&mut self, p: usize, m: f64) {
        if p < self.pattern_mult.len() {
            self.pattern_mult[p] = m;
            self.demand_cache = None;
        }
    }
    /// Multiplies the demands of node `i`.
    pub fn set_node_demand_multiplier(&mut self, i: usize, m: f64) {
        if i < self.node_mult.len() {
            self.node_mult[i] = m;
            self.demand_cache = None;
        }
    }

    /// Sets an emitter at junction `i`: flow (m³/s) = `coeff` × pressure(m)^exponent,
    /// with the model's emitter exponent. A leak candidate is an emitter.
    pub fn set_emitter(&mut self, i: usize, coeff_si: f64) {
        if i >= self.pr.njuncs {
            return;
        }
        let pr = &self.pr;
        let n = pr.net.options.emitter_exponent;
        let u = pr.net.units();
        let kf = network::units::from_si_with(
            u.factor(Quantity::Flow) / u.factor(Quantity::Pressure).powf(n),
            coeff_si,
        );
        let ke = if coeff_si > 0.0 {
            pr.ucf.flow.powf(pr.opts.qexp) / pr.ucf.pressure / kf.powf(pr.opts.qexp)
        } else {
            0.0
        };
        if ke > 0.0 && self.s.ke[i] == 0.0 {
            // Start the new emitter from its flow at the current pressure
            // (EPANET's 1 cfs guess is far off on a warm-started step and its
            // relative convergence test can then stop before the emitter
            // flow settles).
            let p = self.s.head[i] - pr.el[i];
            self.s.emitter_flow[i] = if p > 0.0 {
                (p / ke).powf(1.0 / pr.opts.qexp)
            } else {
                1.0
            };
        }
        self.s.ke[i] = ke;
    }
}

/// Junction demands of pattern period `p` into `out` (one per junction);
/// returns the total system demand (the sum of positive demands, read only
/// by rule premises: with no rules, that serial sum is skipped and 0 returned).
fn junction_demands(
    pr: &Prepared,
    p: i64,
    global_mult: Option<f64>,
    pattern_mult: &[f64],
    node_mult: &[f64],
    pat_now: &mut [f64],
    out: &mut [f64],
) -> f64 {
    let dmult = global_mult.unwrap_or(pr.opts.dmult);
    // Each pattern's factor once per period (not once per demand).
    for (j, pat) in pr.patterns.iter().enumerate() {
        pat_now[j] = pat[(p % pat.len() as i64) as usize] * pattern_mult[j];
    }
    let npat = pr.patterns.len();
    pat_now[npat] = 1.0;
    let pat_now = &pat_now[..];
    let nj = pr.njuncs;
    assert!(pr.dem_ptr.len() > nj && node_mult.len() >= nj && out.len() >= nj);
    if pr.rules.is_empty() {
        for i in 0..nj {
            let mut sum = 0.0;
            let nm = node_mult[i];
            for d in pr.dem_ptr[i]..pr.dem_ptr[i + 1] {
                let f = pat_now[pr.dem_pat_idx[d] as usize];
                sum += pr.dem_base[d] * f * dmult * nm;
            }
            out[i] = sum;
        }
        0.0
    } else {
        let mut dsystem = 0.0;
        for i in 0..nj {
            let mut sum = 0.0;
            let nm = node_mult[i];
            for d in pr.dem_ptr[i]..pr.dem_ptr[i + 1] {
                let f = pat_now[pr.dem_pat_idx[d] as usize];
                let dj = pr.dem_base[d] * f * dmult * nm;
                // Branch-free: adding 0.0 instead leaves the sum's bits
                // unchanged (dsystem starts at +0.0 and only grows).
                dsystem += if dj > 0.0 { dj } else { 0.0 };
                sum += dj;
            }
            out[i] = sum;
        }
        dsystem
    }
}

/// EPANET's initial flow guess: closed links ~0, pumps their design flow,
/// other links a velocity of 1 ft/s.
fn init_link_flow(pr: &Prepared, s: &mut State, k: usize, status: u8, setting: f64) {
    s.flow[k] = if status == stat::CLOSED {
        QZERO
    } else if pr.ltype[k] == LinkType::Pump {
        setting * pr.pumps[pr.link_pump[k]].q0
    } else {
        std::f64::consts::PI * pr.diam[k] * pr.diam[k] / 4.0
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sim(inp: &str) -> Simulation {
        let net = network::inp::parse_inp(inp, "test.inp").expect("parses");
        Simulation::from_network(net).expect("prepares")
    }

    const ONE_PIPE: &str = "[JUNCTIONS]\nJ 0 10\n[RESERVOIRS]\nR 100\n[PIPES]\nP R J 1000 300 130\n[OPTIONS]\nUNITS LPS\n";

    #[test]
    fn one_pipe_head_loss_follows_hazen_williams() {
        let mut s = sim(ONE_PIPE);
        let r = s.run().unwrap();
        assert!(r.warnings.is_empty());
        assert!((s.flow_lps(0) - 10.0).abs() < 1e-6);
        // h = 10.67 L q^1.852 / (C^1.852 d^4.87) in SI, EPANET's constant in US units.
        let q: f64 = 0.010;
        let hw = 10.67 * 1000.0 * q.powf(1.852) / (130f64.powf(1.852) * 0.3f64.powf(4.871));
        assert!(
            (s.headloss_m(0) - hw).abs() / hw < 2e-3,
            "{} vs {hw}",
            s.headloss_m(0)
        );
        assert_eq!(s.next(), 0);
    }

    #[test]
    fn pipe_leakage_follows_favad_and_counts_as_demand() {
        // All of P's leak goes to J (its other end is a reservoir): 10
        // sections of 100 m. Fixed area 10 mm² per 100 m, expansion
        // 0.2 mm² per m of head per 100 m (EPANET 2.3.5 scales it by 1/0.3048).
        let mut s = sim(&format!("{ONE_PIPE}[LEAKAGE]\nP 10 0.2\n"));
        s.run().unwrap();
        let h_ft = s.pressure_m(0) / 0.3048;
        let co = 4.8149866e-6 * 10.0;
        let q_cfs =
            co * 10.0 / (0.3048 * 0.3048) * h_ft.sqrt() + co * 0.2 / 0.3048 * h_ft.powf(1.5);
        let q = q_cfs * 28.317; // EPANET's L/s per cfs
        let leak = s.leakage_flow_lps(0);
        assert!((leak - q).abs() < 2e-3 * q, "{leak} vs {q}");
        assert!((s.demand_lps(0) - 10.0 - leak).abs() < 1e-9);
        assert!((s.flow_lps(0) - s.demand_lps(0)).abs() < 1e-6);
        // The pipe's own leakage: its only junction end leaks for both halves.
        assert!(s.has_leakage());
        let pipe = s.pipe_leakage_lps(0);
        assert!((pipe - leak).abs() < 1e-4 * leak, "{pipe} vs {leak}");
        // Without the section there is no leakage at all.
        let mut plain = sim(ONE_PIPE);
        plain.run().unwrap();
        assert_eq!(plain.leakage_flow_lps(0), 0.0);
        assert_eq!(plain.pipe_leakage_lps(0), 0.0);
        assert!(!plain.has_leakage());
        assert!((plain.demand_lps(0) - 10.0).abs() < 1e-9);
    }

    #[test]
    fn prv_holds_its_downstream_pressure() {
        let inp = "[JUNCTIONS]\nA 0 0\nB 0 5\n[RESERVOIRS]\nR 100\n[PIPES]\nP1 R A 100 300 130\nP2 B X 100 300 130\n[JUNCTIONS]\nX 0 1\n[VALVES]\nV A B 300 PRV 40\n[OPTIONS]\nUNITS LPS\n";
        let mut s = sim(inp);
        s.run().unwrap();
        let b = s.network().node_index("B").unwrap();
        assert!((s.pressure_m(b) - 40.0).abs() < 1e-3, "{}", s.pressure_m(b));
        let v = s.network().link_index("V").unwrap();
        assert_eq!(s.link_state(v), LinkState::Active);
    }

    #[test]
    fn tank_drains_and_the_step_stops_at_empty() {
        let inp = "[JUNCTIONS]\nJ 0 50\n[TANKS]\nT 10 2 0 4 10\n[PIPES]\nP T J 10 300 130\n[TIMES]\nDURATION 24\nHYDRAULIC TIMESTEP 1\n[OPTIONS]\nUNITS LPS\n";
        let mut s = sim(inp);
        s.run().unwrap();
        // 2 m of a 10 m diameter tank at 50 L/s: 157.08 m³ / 0.05 m³/s ≈ 3142 s.
        let dt = s.next();
        assert_eq!(dt, 3142);
        s.run().unwrap();
        let t = s.network().node_index("T").unwrap();
        assert!(s.tank_level_m(t).unwrap() < 1e-6);
    }

    #[test]
    fn tank_control_time_uses_epanet_volume_units() {
        // A 100 m² tank filling from 10 m towards a 10.5 m control level:
        // 50 m³ to go. EPANET 2.2+ converts volumes with 0.3048³ m³/ft³ and
        // flows with 28.317 L/ft³, and rounds the time to the second; the
        // initial volume must be consistent with the tank area, or the step
        // moves by seconds (Richmond_standard).
        let d = (400.0 / std::f64::consts::PI).sqrt();
        let inp = format!(
            "[JUNCTIONS]\nJ 0 0\n[RESERVOIRS]\nR 30\n[TANKS]\nT 0 10 0 12 {d}\n[PIPES]\nP1 R J 1000 80 100\nP2 J T 10 80 100\n[CONTROLS]\nLINK P2 CLOSED IF NODE T ABOVE 10.5\n[TIMES]\nDURATION 24\nHYDRAULIC TIMESTEP 24\nPATTERN TIMESTEP 24\nREPORT TIMESTEP 24\n[OPTIONS]\nUNITS LPS\n"
        );
        let mut s = sim(&inp);
        s.run().unwrap();
        let t = s.network().node_index("T").unwrap();
        let q_lps = s.demand_lps(t);
        assert!(q_lps > 0.5, "the tank fills ({q_lps} L/s)");
        let expected = ((50.0 / (0.3048f64 * 0.3048 * 0.3048)) / (q_lps / 28.317)).round() as u64;
        assert_eq!(s.next(), expected);
    }

    #[test]
    fn shared_demands_give_the_same_bits_and_stop_on_a_multiplier() {
        let inp = "[JUNCTIONS]\nJ 0 10 P1\nK 0 5 P2\n[RESERVOIRS]\nR 100\n[PIPES]\nA R J 1000 300 130\nB J K 500 200 120\n[PATTERNS]\nP1 1 1.5 0.5\nP2 0.8 1.2\n[TIMES]\nDURATION 6\nHYDRAULIC TIMESTEP 1\nPATTERN TIMESTEP 1\n[OPTIONS]\nUNITS LPS\n";
        let run = |mut s: Simulation, mult: bool| {
            let mut bits = Vec::new();
            loop {
                if mult && s.time_s() == 3 * 3600 {
                    s.set_node_demand_multiplier(1, 2.0);
                }
                s.run().unwrap();
                for i in 0..s.node_count() {
                    bits.push(s.head_m(i).to_bits());
                    bits.push(s.demand_lps(i).to_bits());
                }
                if s.next() == 0 {
                    return bits;
                }
            }
        };
        let plain = sim(inp);
        let mut shared = plain.clone();
        shared.share_demands();
        assert!(shared.demand_cache.is_some());
        for mult in [false, true] {
            let want = run(plain.clone(), mult);
            // Twice: the second run reads the periods the first one filled.
            assert_eq!(run(shared.clone(), mult), want);
            assert_eq!(run(shared.clone(), mult), want);
        }
        let mut s = shared.clone();
        s.set_demand_multiplier(1.1);
        assert!(s.demand_cache.is_none());
    }

    #[test]
    fn clones_share_the_prepared_network_and_diverge_independently() {
        let mut base = sim(ONE_PIPE);
        let mut leak = base.clone();
        leak.set_emitter(0, 0.001);
        base.run().unwrap();
        leak.run().unwrap();
        assert!(Arc::ptr_eq(base.prepared(), leak.prepared()));
        assert!(leak.flow_lps(0) > base.flow_lps(0) + 1.0);
        assert!(leak.emitter_flow_lps(0) > 1.0);
    }
}
