//! The gradient iterations of one hydraulic step (EPANET's `hydsolve`):
//! assemble, factor and solve for junction heads, update flows, check
//! convergence and link status, repeat.

use crate::coeffs::{
    demand_headloss, emitter_headloss, headloss_coeffs, leak_headloss, matrix_coeffs,
};
use crate::prepared::{link_flag, stat, Prepared};
use crate::sparse::Factor;
use crate::status::{bad_valve, link_status, pressure_switch, valve_status};
use std::sync::Arc;

/// The changing state of a simulation, in internal units, plus the
/// preallocated workspace of the iterations (nothing is allocated per iteration).
#[derive(Clone)]
pub struct State {
    pub head: Vec<f64>,
    /// Junctions: required demand before a solve, actual outflow after it.
    /// Tanks and reservoirs: net inflow.
    pub node_demand: Vec<f64>,
    /// Junction demand delivered (PDA) during the solve; required demand after it.
    pub demand_flow: Vec<f64>,
    pub full_demand: Vec<f64>,
    pub emitter_flow: Vec<f64>,
    /// Junction pipe leakage (EPANET 2.3): fixed-area and variable-area
    /// parts and their sum; empty when the network has no leakage.
    pub leak_qfa: Vec<f64>,
    pub leak_qva: Vec<f64>,
    pub leakage_flow: Vec<f64>,
    pub flow: Vec<f64>,
    pub status: Vec<u8>,
    pub setting: Vec<f64>,
    /// Flow resistance per link (changes only when roughness is edited).
    pub r: Vec<f64>,
    /// Emitter coefficients (internal), editable for leak scenarios.
    pub ke: Vec<f64>,
    pub tank_v: Vec<f64>,
    pub p: Vec<f64>,
    pub y: Vec<f64>,
    pub xflow: Vec<f64>,
    pub f: Vec<f64>,
    /// Scratch, two values per pipe (libm results of the head-loss pass).
    pub pw: Vec<f64>,
    /// Darcy-Weisbach: each pipe's transition-zone cubic, computed on first
    /// use (NaN until then); empty for other formulas.
    pub dw_cubic: Vec<[f64; 4]>,
    pub factor: Option<Factor>,
    pub relax: f64,
}

/// Result of one solve.
#[derive(Debug, Clone, Copy)]
pub struct SolveInfo {
    pub iterations: i64,
    pub relerr: f64,
    /// Junction whose equation could not be solved (EPANET error 110).
    pub ill_conditioned: Option<usize>,
}

struct Balance {
    max_flow_change: f64,
}

impl State {
    pub fn new(pr: &Prepared) -> State {
        State {
            head: vec![0.0; pr.nnodes],
            node_demand: vec![0.0; pr.nnodes],
            demand_flow: vec![0.0; pr.nnodes],
            full_demand: vec![0.0; pr.nnodes],
            emitter_flow: vec![0.0; pr.nnodes],
            leak_qfa: pr.leak_cfa.iter().map(|&c| leak_q0(c)).collect(),
            leak_qva: pr.leak_cva.iter().map(|&c| leak_q0(c)).collect(),
            leakage_flow: vec![0.0; pr.leak_cfa.len()],
            flow: vec![0.0; pr.nlinks],
            status: pr.init_status.clone(),
            setting: pr.init_setting.clone(),
            r: pr.resistances(),
            ke: pr.ke.clone(),
            tank_v: pr.tanks.iter().map(|t| t.v0).collect(),
            p: vec![0.0; pr.nlinks],
            y: vec![0.0; pr.nlinks],
            xflow: vec![0.0; pr.nnodes.max(pr.nlinks)],
            f: vec![0.0; pr.njuncs],
            pw: vec![0.0; 2 * pr.pipes.len()],
            dw_cubic: if pr.opts.formula == network::HeadlossFormula::DarcyWeisbach {
                vec![[f64::NAN; 4]; pr.pipes.len()]
            } else {
                Vec::new()
            },
            factor: Some(Factor::new(Arc::clone(&pr.symbolic))),
            relax: 1.0,
        }
    }
}

/// EPANET's starting leakage flow (cfs) for a leak coefficient `c`.
pub fn leak_q0(c: f64) -> f64 {
    if c > 0.0 {
        0.001
    } else {
        0.0
    }
}

/// Updates junction leakage flows after new heads (EPANET's
/// `newleakageflows`): adds to `qsum`/`dqsum` and the largest flow change.
fn new_leakage_flows(
    pr: &Prepared,
    s: &mut State,
    bal: &mut Balance,
    qsum: &mut f64,
    dqsum: &mut f64,
) {
    let relax = s.relax;
    for i in 0..pr.njuncs {
        let (cfa, cva) = (pr.leak_cfa[i], pr.leak_cva[i]);
        if cfa == 0.0 && cva == 0.0 {
            continue;
        }
        let h = s.head[i] - pr.el[i];
        let (mut dqfa, mut dqva) = (0.0, 0.0);
        if cfa != 0.0 {
            let (hl, g) = leak_headloss(s.leak_qfa[i], cfa, 0.5);
            if g > 0.0 {
                dqfa = (hl - h) / g * relax;
                s.leak_qfa[i] -= dqfa;
            }
        }
        if cva != 0.0 {
            let (hl, g) = leak_headloss(s.leak_qva[i], cva, 1.5);
            if g > 0.0 {
                dqva = (hl - h) / g * relax;
                s.leak_qva[i] -= dqva;
            }
        }
        s.leakage_flow[i] = s.leak_qfa[i] + s.leak_qva[i];
        let dq = dqfa + dqva;
        if dq == 0.0 {
            continue;
        }
        *qsum += s.leakage_flow[i].abs();
        *dqsum += dq.abs();
        if dq.abs() > bal.max_flow_change {
            bal.max_flow_change = dq.abs();
        }
    }
}

/// EPANET's `leakagehasconverged`: every junction's leakage within
/// 0.0001 cfs of the FAVAD flow at its current pressure head.
fn leakage_converged(pr: &Prepared, s: &State) -> bool {
    const QTOL: f64 = 0.0001;
    for i in 0..pr.njuncs {
        let (cfa, cva) = (pr.leak_cfa[i], pr.leak_cva[i]);
        if cfa == 0.0 && cva == 0.0 {
            continue;
        }
        let h = s.head[i] - pr.el[i];
        let mut qref = 0.0;
        if h > 0.0 {
            if cfa > 0.0 {
                qref = (h / cfa).sqrt();
            }
            if cva > 0.0 {
                qref += (h / cva).powf(1.5);
            }
        }
        if (qref - (s.leak_qfa[i] + s.leak_qva[i])).abs() > QTOL {
            return false;
        }
    }
    true
}

/// The first index `>= from` of a non-zero value of `v`, skipping blocks
/// of zeros eight at a time.
pub(crate) fn next_nonzero(v: &[f64], from: usize) -> Option<usize> {
    let mut i = from;
    while i < v.len() {
        let end = (i + 8).min(v.len());
        let ch = &v[i..end];
        if ch.iter().fold(false, |a, &x| a | (x != 0.0)) {
            return ch.iter().position(|&x| x != 0.0).map(|j| i + j);
        }
        i = end;
    }
    None
}

/// The link part of a flow update: sums of |q| and |Δq| over the links
/// and the largest |Δq|, in link order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LinkSums {
    pub qsum: f64,
    pub dqsum: f64,
    pub max_dq: f64,
}

/// Net inflows of tanks and reservoirs from their links' new flows.
pub(crate) fn fixed_node_inflows(pr: &Prepared, s: &mut State) {
    let nj = pr.njuncs;
    for n in nj..pr.nnodes {
        s.node_demand[n] = 0.0;
    }
    for &k in &pr.fixed_links {
        let k = k as usize;
        if s.status[k] > stat::CLOSED {
            let (n1, n2, qk) = (pr.n1[k], pr.n2[k], s.flow[k]);
            if n1 >= nj {
                s.node_demand[n1] -= qk;
            }
            if n2 >= nj {
                s.node_demand[n2] += qk;
            }
        }
    }
}

fn new_flows(pr: &Prepared, s: &mut State, bal: &mut Balance) -> f64 {
    let sums = link_flows(pr, s);
    fixed_node_inflows(pr, s);
    other_flows(pr, s, bal, sums, None)
}

/// New link flows from the new heads (EPANET's `newlinkflows`).
#[allow(clippy::needless_range_loop)] // several arrays indexed by link
fn link_flows(pr: &Prepared, s: &mut State) -> LinkSums {
    let mut qsum = 0.0;
    let mut dqsum = 0.0;
    let relax = s.relax;
    let mut max_dq = 0.0f64;
    {
        let State {
            head,
            y,
            p,
            flow,
            status,
            ..
        } = &mut *s;
        let nl = pr.nlinks;
        assert!(y.len() >= nl && p.len() >= nl && flow.len() >= nl && status.len() >= nl);
        assert!(pr.n1.len() >= nl && pr.n2.len() >= nl && pr.link_flags.len() >= nl);
        for k in 0..nl {
            // SAFETY: k < nlinks (lengths asserted above).
            let (n1, n2, fl) = unsafe {
                (
                    *pr.n1.get_unchecked(k),
                    *pr.n2.get_unchecked(k),
                    *pr.link_flags.get_unchecked(k),
                )
            };
            let dh = head[n1] - head[n2];
            let (yk, pk, mut qk) = unsafe {
                (
                    *y.get_unchecked(k),
                    *p.get_unchecked(k),
                    *flow.get_unchecked(k),
                )
            };
            let mut dq = yk - pk * dh;
            dq *= relax;
            if fl & link_flag::CONST_HP != 0 && dq > qk {
                dq = qk / 2.0;
            }
            qk -= dq;
            unsafe {
                *flow.get_unchecked_mut(k) = qk;
            }
            qsum += qk.abs();
            dqsum += dq.abs();
            if dq.abs() > max_dq {
                max_dq = dq.abs();
            }
        }
    }
    LinkSums {
        qsum,
        dqsum,
        max_dq,
    }
}

/// The rest of the flow update after the links: emitters, pressure-driven
/// demands, leakage; returns the relative flow change.
fn other_flows(
    pr: &Prepared,
    s: &mut State,
    bal: &mut Balance,
    sums: LinkSums,
    emitters: Option<&[u32]>,
) -> f64 {
    let nj = pr.njuncs;
    let LinkSums {
        mut qsum,
        mut dqsum,
        max_dq,
    } = sums;
    bal.max_flow_change = max_dq;
    // Emitters, junctions in order (`emitters` lists candidates when known).
    let mut emitter = |s: &mut State, i: usize| {
        let (hloss, hgrad) = emitter_headloss(pr, s, i);
        let dh = s.head[i] - pr.el[i];
        let mut dq = (hloss - dh) / hgrad;
        dq *= s.relax;
        s.emitter_flow[i] -= dq;
        qsum += s.emitter_flow[i].abs();
        dqsum += dq.abs();
        if dq.abs() > bal.max_flow_change {
            bal.max_flow_change = dq.abs();
        }
    };
    match emitters {
        Some(list) => {
            for &i in list {
                if s.ke[i as usize] != 0.0 {
                    emitter(s, i as usize);
                }
            }
        }
        None => {
            let mut i = 0;
            while let Some(j) = next_nonzero(&s.ke[..nj], i) {
                emitter(s, j);
                i = j + 1;
            }
        }
    }
    // Pressure-driven demands.
    if pr.opts.pda {
        let dp = (pr.opts.preq - pr.opts.pmin).max(0.1);
        let n = 1.0 / pr.opts.pexp;
        for i in 0..nj {
            if s.full_demand[i] <= 0.0 {
                continue;
            }
            let (hloss, hgrad) = demand_headloss(s, i, dp, n);
            let dh = s.head[i] - pr.el[i] - pr.opts.pmin;
            let mut dq = (hloss - dh) / hgrad;
            dq *= s.relax;
            if dq.abs() > 0.4 * s.full_demand[i] {
                dq = 0.4 * dq.signum() * s.full_demand[i];
            }
            s.demand_flow[i] -= dq;
            qsum += s.demand_flow[i].abs();
            dqsum += dq.abs();
            if dq.abs() > bal.max_flow_change {
                bal.max_flow_change = dq.abs();
            }
        }
    }
    if pr.has_leakage {
        new_leakage_flows(pr, s, bal, &mut qsum, &mut dqsum);
    }
    if qsum > pr.opts.hacc {
        dqsum / qsum
    } else {
        dqsum
    }
}

fn max_head_error(pr: &Prepared, s: &mut State) -> f64 {
    headloss_coeffs(pr, s);
    let mut m = 0.0f64;
    for k in 0..pr.nlinks {
        if s.status[k] <= stat::CLOSED || s.p[k] == 0.0 {
            continue;
        }
        let dh = s.head[pr.n1[k]] - s.head[pr.n2[k]];
        let hl = s.y[k] / s.p[k];
        m = m.max((dh - hl).abs());
    }
    m
}

fn pda_converged(pr: &Prepared, s: &State) -> bool {
    const QTOL: f64 = 0.0001;
    let dp = pr.opts.preq - pr.opts.pmin;
    let mut ok = true;
    for i in 0..pr.njuncs {
        let full = s.full_demand[i];
        if full <= 0.0 {
            continue;
        }
        let p = s.head[i] - pr.el[i];
        let q = if p <= pr.opts.pmin {
            0.0
        } else if p >= pr.opts.preq {
            full
        } else {
            full * ((p - pr.opts.pmin) / dp).powf(pr.opts.pexp)
        };
        if (q - s.demand_flow[i]).abs() > QTOL {
            ok = false;
        }
    }
    ok
}

fn has_converged(pr: &Prepared, s: &mut State, relerr: f64, bal: &Balance) -> bool {
    let o = &pr.opts;
    if relerr > o.hacc {
        return false;
    }
    if o.head_error_limit > 0.0 && max_head_error(pr, s) > o.head_error_limit {
        return false;
    }
    if o.flow_change_limit > 0.0 && bal.max_flow_change > o.flow_change_limit {
        return false;
    }
    if pr.has_leakage && !leakage_converged(pr, s) {
        return false;
    }
    if o.pda {
        return pda_converged(pr, s);
    }
    true
}

/// The iteration state of one solve (EPANET's `hydsolve` loop), kept
/// outside the loop so that several simulations can share their linear
/// solves (see [`crate::lanes`]): [`hydsolve`] is `start`, then per trial the
/// coefficients and the assembly, the factorization, and
/// [`after_solve`](Self::after_solve) or
/// [`after_factor_error`](Self::after_factor_error), then `finish`.
pub struct Trials {
    iter: i64,
    nextcheck: i64,
    maxtrials: i64,
    relerr: f64,
    ill: Option<usize>,
    bal: Balance,
}

impl Trials {
    /// Starts a solve at the current time.
    pub fn start(pr: &Prepared, s: &mut State) -> Trials {
        let o = &pr.opts;
        s.relax = 1.0;
        let mut maxtrials = o.max_iter;
        if o.extra_iter > 0 {
            maxtrials += o.extra_iter;
        }
        Trials {
            iter: 1,
            nextcheck: o.check_freq,
            maxtrials,
            relerr: 0.0,
            ill: None,
            bal: Balance {
                max_flow_change: 0.0,
            },
        }
    }

    /// Whether another trial is allowed.
    pub fn more(&self) -> bool {
        self.iter <= self.maxtrials
    }

    /// The factorization failed at junction `column`: returns whether to
    /// try again (a valve causing it was closed) or stop.
    pub fn after_factor_error(&mut self, pr: &Prepared, s: &mut State, column: usize) -> bool {
        self.ill = Some(column);
        bad_valve(pr, s, column)
    }

    /// After a successful solve, with the new junction heads in `s.head`:
    /// updates flows, statuses and the convergence test. Returns whether
    /// another trial is needed.
    pub fn after_solve(&mut self, pr: &Prepared, s: &mut State) -> bool {
        self.after_solve_impl(pr, s, None)
    }

    /// As [`after_solve`](Self::after_solve), with the link flows already
    /// updated (in `s.flow`) and summed elsewhere (`crate::lanes`).
    /// `emitters` lists (in order) every junction that may have an emitter.
    pub(crate) fn after_solve_links(
        &mut self,
        pr: &Prepared,
        s: &mut State,
        sums: LinkSums,
        emitters: &[u32],
    ) -> bool {
        self.after_solve_impl(pr, s, Some((sums, emitters)))
    }

    fn after_solve_impl(
        &mut self,
        pr: &Prepared,
        s: &mut State,
        sums: Option<(LinkSums, &[u32])>,
    ) -> bool {
        let o = &pr.opts;
        self.ill = None;
        let iter = self.iter;
        let relerr = match sums {
            None => new_flows(pr, s, &mut self.bal),
            Some((sums, emitters)) => {
                fixed_node_inflows(pr, s);
                other_flows(pr, s, &mut self.bal, sums, Some(emitters))
            }
        };
        self.relerr = relerr;

        s.relax = 1.0;
        let mut valve_change = false;
        if o.damp_limit > 0.0 {
            if relerr <= o.damp_limit {
                s.relax = 0.6;
                valve_change = valve_status(pr, s);
            }
        } else {
            valve_change = valve_status(pr, s);
        }

        if has_converged(pr, s, relerr, &self.bal) {
            if iter > o.max_iter {
                return false;
            }
            let mut changed = valve_change;
            if link_status(pr, s) {
                changed = true;
            }
            if pressure_switch(pr, s) {
                changed = true;
            }
            if !changed {
                return false;
            }
            self.nextcheck = iter + o.check_freq;
        } else if iter <= o.max_check && iter == self.nextcheck {
            link_status(pr, s);
            self.nextcheck += o.check_freq;
        }
        self.iter += 1;
        true
    }

    /// Ends the solve: junction outflows and required demands in place.
    pub fn finish(self, pr: &Prepared, s: &mut State) -> SolveInfo {
        // Actual junction outflow in node_demand, required demand in demand_flow.
        let nj = pr.njuncs;
        for ((nd, df), &ef) in s.node_demand[..nj]
            .iter_mut()
            .zip(&mut s.demand_flow[..nj])
            .zip(&s.emitter_flow[..nj])
        {
            let full = *nd;
            *nd = *df + ef;
            *df = full;
        }
        // EPANET's junction outflow includes pipe leakage.
        if pr.has_leakage {
            for (nd, &lq) in s.node_demand[..nj].iter_mut().zip(&s.leakage_flow) {
                *nd += lq;
            }
        }
        SolveInfo {
            iterations: self.iter,
            relerr: self.relerr,
            ill_conditioned: self.ill,
        }
    }
}

/// Solves the network for heads and flows at the current time.
pub fn hydsolve(pr: &Prepared, s: &mut State) -> SolveInfo {
    let mut t = Trials::start(pr, s);
    while t.more() {
        headloss_coeffs(pr, s);
        matrix_coeffs(pr, s);
        let factor = s.factor.as_mut().expect("factor present");
        match factor.factorize_solve(&mut s.f) {
            Ok(()) => {
                s.head[..pr.njuncs].copy_from_slice(&s.f[..pr.njuncs]);
                if !t.after_solve(pr, s) {
                    break;
                }
            }
            Err(e) => {
                if !t.after_factor_error(pr, s, e.column) {
                    break;
                }
            }
        }
    }
    t.finish(pr, s)
}
