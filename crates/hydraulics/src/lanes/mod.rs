//! Eight scenarios solved side by side: the batch path for many scenarios
//! on one network (leak localization, scenario studies).
//!
//! Each scenario keeps its own [`Simulation`] (time, controls, tanks,
//! statuses, the convergence test — everything that decides EPANET's path),
//! but the trials of up to [`LANES`] simulations share one pass of the
//! matrix assembly, of the sparse `LDLᵀ` factorization and solve, and of
//! the link flow update with its convergence sums: their
//! values are stored lane-interleaved (`[f64; LANES]` per entry), so every
//! index is loaded once for eight systems and the arithmetic runs in SIMD
//! registers. Each lane performs exactly the operations of the scalar
//! solver in the same order (no fused multiply-add), so the results are
//! bit-identical to separate runs. Lanes are independent in time: a lane
//! whose step has converged starts its next step, and one that finishes
//! its scenario takes the next scenario; an empty lane (at the end of the
//! batch) is computed on a copy of another lane and ignored.
//!
//! The head-loss coefficients (the libm calls), the emitter, PDA and
//! leakage terms, the status logic and the regulating valves stay scalar
//! per lane. On a CPU without AVX2 every lane runs the scalar trial (the
//! same driver, the same results, no speed-up).

use crate::coeffs::{
    has_junction_extras, headloss_coeffs, headloss_coeffs_shared, junction_extras, matrix_coeffs,
    regulating_valves, SharedPipeCoeffs, System,
};
use crate::prepared::Prepared;
use crate::simulation::{SimError, Simulation, StepReport};
use crate::solver::{LinkSums, State, Trials};
use crate::sparse::Symbolic;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Number of scenarios solved side by side.
pub const LANES: usize = 8;
type V = [f64; LANES];
const ZERO: V = [0.0; LANES];

/// Lane-interleaved system and factor of up to [`LANES`] simulations.
struct Workspace {
    sym: Arc<Symbolic>,
    /// Per link: P, Y and flow of each lane (packed from the lanes' states).
    p: Vec<V>,
    y: Vec<V>,
    q: Vec<V>,
    /// Per node: heads (fixed-grade nodes packed from the lanes, junctions
    /// the solution of the last factorization).
    h: Vec<V>,
    /// Per junction: required demand flow.
    dem: Vec<V>,
    /// Per junction after the link pass: diagonal sum, right-hand side, imbalance.
    dsum: Vec<V>,
    xf: Vec<V>,
    /// Factor values (permuted numbering, see `sparse::Factor`).
    diag: Vec<V>,
    off: Vec<V>,
    dinv: Vec<V>,
    /// Right-hand side, original junction numbering.
    f: Vec<V>,
    work: Vec<V>,
    /// Where a lane's solution goes when it is not wanted.
    scratch: [Vec<f64>; LANES],
    /// Pipe coefficients of a scenario's first trial, for the next
    /// scenarios' first trials (all from the same base).
    shared: SharedPipeCoeffs,
}

impl Workspace {
    fn new(pr: &Prepared) -> Workspace {
        let sym = Arc::clone(&pr.symbolic);
        let n = sym.n();
        let nnz = sym.nnz_l();
        let nj = pr.njuncs;
        Workspace {
            p: vec![ZERO; pr.nlinks],
            y: vec![ZERO; pr.nlinks],
            q: vec![ZERO; pr.nlinks],
            h: vec![ZERO; pr.nnodes],
            dem: vec![ZERO; nj],
            dsum: vec![ZERO; nj],
            xf: vec![ZERO; nj],
            diag: vec![ZERO; n],
            off: vec![ZERO; nnz],
            dinv: vec![ZERO; n],
            f: vec![ZERO; nj],
            work: vec![ZERO; n],
            scratch: std::array::from_fn(|_| vec![0.0; nj + pr.nlinks]),
            shared: SharedPipeCoeffs::default(),
            sym,
        }
    }

    /// Copies the lanes' link coefficients, flows, fixed heads and
    /// demands in (an empty lane gets a copy of a solving one).
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[cfg(target_arch = "x86_64")]
    unsafe fn pack(&mut self, pr: &Prepared, st: &[&State; LANES]) {
        let (nl, nj) = (pr.nlinks, pr.njuncs);
        avx2::transpose_in(&mut self.p[..nl], st.map(|s| &s.p[..nl]));
        avx2::transpose_in(&mut self.y[..nl], st.map(|s| &s.y[..nl]));
        avx2::transpose_in(&mut self.q[..nl], st.map(|s| &s.flow[..nl]));
        avx2::transpose_in(&mut self.dem[..nj], st.map(|s| &s.demand_flow[..nj]));
        for n in nj..pr.nnodes {
            self.h[n] = st.map(|s| s.head[n]);
        }
    }
}

/// One lane of the workspace as an assembly target for the scalar valve code.
struct LaneSystem<'a> {
    diag: &'a mut [V],
    off: &'a mut [V],
    f: &'a mut [V],
    xflow: &'a mut [f64],
    l: usize,
}

impl System for LaneSystem<'_> {
    #[inline]
    fn diag(&mut self, slot: usize) -> &mut f64 {
        &mut self.diag[slot][self.l]
    }
    #[inline]
    fn off(&mut self, slot: usize) -> &mut f64 {
        &mut self.off[slot][self.l]
    }
    #[inline]
    fn f(&mut self, i: usize) -> &mut f64 {
        &mut self.f[i][self.l]
    }
    #[inline]
    fn xflow(&mut self, i: usize) -> &mut f64 {
        &mut self.xflow[i]
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2;

fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static AVX2: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *AVX2.get_or_init(|| std::is_x86_feature_detected!("avx2"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The junctions of `s` with an emitter, a pressure-driven demand or pipe
/// leakage (fixed during a step's solve).
fn extras_of(pr: &Prepared, s: &State, out: &mut Vec<u32>) {
    out.clear();
    if !pr.opts.pda && !pr.has_leakage {
        let ke = &s.ke[..pr.njuncs];
        let mut i = 0;
        while let Some(j) = crate::solver::next_nonzero(ke, i) {
            out.push(j as u32);
            i = j + 1;
        }
    } else {
        out.extend(
            (0..pr.njuncs)
                .filter(|&i| has_junction_extras(pr, s, i))
                .map(|i| i as u32),
        );
    }
}

/// Per lane after a trial: `Err(junction)` when the factorization failed;
/// otherwise the new heads are in the lane's state, and its link flows are
/// either updated and summed already (`Some`) or left to the scalar update.
type TrialResult = Option<Result<Option<LinkSums>, usize>>;

/// One trial of every lane that is solving (`None` lanes are empty): in
/// SIMD lanes where the CPU has AVX2, else one scalar trial per lane.
/// `extras[l]` lists lane `l`'s junctions with emitter, pressure-driven
/// demand or leakage terms; `first[l]`: lane `l` starts its scenario.
fn joint_trial(
    pr: &Prepared,
    ws: &mut Workspace,
    states: &mut [Option<&mut State>; LANES],
    extras: [&[u32]; LANES],
    first: [bool; LANES],
    simd: bool,
) -> [TrialResult; LANES] {
    #[cfg(target_arch = "x86_64")]
    if simd && has_avx2() {
        // SAFETY: AVX2 was detected at run time.
        let r = unsafe { simd_trial(pr, ws, states, extras, first) };
        return r.map(|x| x.map(|y| y.map(Some)));
    }
    let _ = (extras, simd);
    let nj = pr.njuncs;
    let mut out = [None; LANES];
    for ((o, s), first) in out.iter_mut().zip(states.iter_mut()).zip(first) {
        let Some(s) = s else { continue };
        lane_headloss_coeffs(pr, s, &mut ws.shared, first);
        matrix_coeffs(pr, s);
        let factor = s.factor.as_mut().expect("factor present");
        *o = Some(match factor.factorize_solve(&mut s.f) {
            Ok(()) => {
                s.head[..nj].copy_from_slice(&s.f[..nj]);
                Ok(None)
            }
            Err(e) => Err(e.column),
        });
    }
    out
}

/// A lane's head-loss coefficients: on a scenario's first trial, the
/// pipes' from an earlier scenario's first trial where its flows are the
/// same (see [`SharedPipeCoeffs`]; the same bits either way).
fn lane_headloss_coeffs(pr: &Prepared, s: &mut State, shared: &mut SharedPipeCoeffs, first: bool) {
    if first {
        headloss_coeffs_shared(pr, s, shared);
    } else {
        headloss_coeffs(pr, s);
    }
}

/// [`joint_trial`] in SIMD lanes: coefficients (scalar per lane), the
/// joint assembly, factorization and solve, and the link flow update.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
unsafe fn simd_trial(
    pr: &Prepared,
    ws: &mut Workspace,
    states: &mut [Option<&mut State>; LANES],
    extras: [&[u32]; LANES],
    first_trial: [bool; LANES],
) -> [Option<Result<LinkSums, usize>>; LANES] {
    let Some(first) = states.iter().position(Option::is_some) else {
        return [None; LANES];
    };
    for (s, f) in states.iter_mut().zip(first_trial) {
        if let Some(s) = s {
            lane_headloss_coeffs(pr, s, &mut ws.shared, f);
        }
    }
    {
        let view: [&State; LANES] = std::array::from_fn(|l| {
            states[l]
                .as_deref()
                .unwrap_or_else(|| states[first].as_deref().expect("a solving lane"))
        });
        ws.pack(pr, &view);
    }
    avx2::link_pass(pr, ws);
    // Emitters, pressure-driven demands and pipe leakage, lane by lane.
    for (l, s) in states.iter_mut().enumerate() {
        let Some(s) = s else { continue };
        for &i in extras[l] {
            let i = i as usize;
            let (mut d, mut fi, mut xf) = (ws.dsum[i][l], ws.f[i][l], ws.xf[i][l]);
            junction_extras(
                pr,
                i,
                &s.ke,
                &s.emitter_flow,
                &s.demand_flow,
                &s.full_demand,
                &s.leak_qfa,
                &s.leak_qva,
                &mut d,
                &mut fi,
                &mut xf,
            );
            ws.dsum[i][l] = d;
            ws.f[i][l] = fi;
            ws.xf[i][l] = xf;
        }
    }
    avx2::balance_pass(pr, ws);
    // Regulating valves, lane by lane, on the lane's own junction imbalances.
    if !pr.valves.is_empty() {
        for (l, s) in states.iter_mut().enumerate() {
            let Some(s) = s else { continue };
            let mut xflow = std::mem::take(&mut s.xflow);
            for (x, v) in xflow.iter_mut().zip(&ws.xf) {
                *x = v[l];
            }
            regulating_valves(
                pr,
                s,
                &mut LaneSystem {
                    diag: &mut ws.diag,
                    off: &mut ws.off,
                    f: &mut ws.f,
                    xflow: &mut xflow,
                    l,
                },
            );
            s.xflow = xflow;
        }
    }
    let err = avx2::factorize_solve(ws);
    // Valve coefficients changed in the valve pass: take them in again.
    if !pr.valves.is_empty() {
        for (l, s) in states.iter().enumerate() {
            let Some(s) = s else { continue };
            for &k in &pr.valves {
                ws.p[k][l] = s.p[k];
                ws.y[k][l] = s.y[k];
            }
        }
    }
    // New heads, then new link flows, in lanes.
    let (nj, nl) = (pr.njuncs, pr.nlinks);
    let relax: V = std::array::from_fn(|l| {
        states[l]
            .as_deref()
            .or(states[first].as_deref())
            .map_or(1.0, |s| s.relax)
    });
    let sums = avx2::flow_pass(pr, ws, relax);
    // Heads and flows out to the lanes whose factorization succeeded.
    {
        let Workspace { h, q, scratch, .. } = &mut *ws;
        let (mut hd, mut qd): ([&mut [f64]; LANES], [&mut [f64]; LANES]) = (
            std::array::from_fn(|_| &mut [][..]),
            std::array::from_fn(|_| &mut [][..]),
        );
        let mut sc = scratch.iter_mut();
        for (l, s) in states.iter_mut().enumerate() {
            let buf = sc.next().expect("one scratch per lane");
            match s {
                Some(s) if err[l].is_none() => {
                    let State { head, flow, .. } = &mut **s;
                    hd[l] = &mut head[..nj];
                    qd[l] = &mut flow[..nl];
                }
                _ => {
                    let (a, b) = buf.split_at_mut(nj);
                    hd[l] = a;
                    qd[l] = &mut b[..nl];
                }
            }
        }
        avx2::transpose_out(&h[..nj], hd);
        avx2::transpose_out(&q[..nl], qd);
    }
    let mut out = [None; LANES];
    for (l, s) in states.iter().enumerate() {
        if s.is_some() {
            out[l] = Some(match err[l] {
                Some(col) => Err(col),
                None => Ok(sums[l]),
            });
        }
    }
    out
}

/// A scenario running in a lane.
struct Lane<'a, S, A> {
    index: usize,
    scenario: &'a S,
    sim: Simulation,
    acc: A,
    trials: Trials,
    /// Junctions with emitter, PDA or leakage terms in the current step.
    extras: Vec<u32>,
    /// The scenario's first trial is next.
    first: bool,
}

/// Runs every scenario on a clone of `base`, [`LANES`] at a time per worker
/// thread (rayon's pool), with shared assembly and factorization (see the
/// module documentation). Per scenario: `start` sets it up on its clone
/// and returns its accumulator; after every solved step (`Simulation::run`)
/// `step` sees the simulation and the step's result and returns whether to
/// go on; the driver then advances (`Simulation::next`) until the end of
/// the simulation; `finish` turns the simulation and accumulator into the
/// result. Results come back in scenario order and are bit-identical to
/// running the same closures on separate clones.
///
/// Leak candidates, one emitter each, and the lowest pressure each one
/// causes over the run:
/// ```
/// use hydraulics::Simulation;
/// let inp = "[JUNCTIONS]\nA 10 5\nB 12 8\nC 8 6\n[RESERVOIRS]\nR 60\n\
///            [PIPES]\nP1 R A 500 300 120\nP2 A B 400 200 110\nP3 B C 300 150 100\n\
///            [TIMES]\nDURATION 6\n[OPTIONS]\nUNITS LPS\n";
/// let net = network::inp::parse_inp(inp, "example.inp").unwrap();
/// let base = Simulation::from_network(net).unwrap();
/// let leaks = [(0usize, 0.5e-3), (1, 0.5e-3), (2, 0.5e-3)]; // (junction, m³/s at 1 m)
/// let lowest: Vec<f64> = hydraulics::lanes::run_batch_lanes(
///     &base,
///     &leaks,
///     |sim, &(j, c)| {
///         sim.set_emitter(j, c);
///         f64::INFINITY
///     },
///     |sim, _, low, step| {
///         step.is_ok() && {
///             *low = (0..3).map(|i| sim.pressure_m(i)).fold(*low, f64::min);
///             true
///         }
///     },
///     |_, _, low| low,
/// );
/// assert_eq!(lowest.len(), 3);
/// assert!(lowest.iter().all(|p| p.is_finite() && *p > 0.0));
/// ```
pub fn run_batch_lanes<S, A, R, FS, FT, FF>(
    base: &Simulation,
    scenarios: &[S],
    start: FS,
    step: FT,
    finish: FF,
) -> Vec<R>
where
    S: Sync,
    R: Send,
    FS: Fn(&mut Simulation, &S) -> A + Sync,
    FT: Fn(&mut Simulation, &S, &mut A, Result<StepReport, SimError>) -> bool + Sync,
    FF: Fn(Simulation, &S, A) -> R + Sync,
{
    run_lanes(base, scenarios, start, step, finish, true)
}

/// [`run_batch_lanes`]; `simd: false` runs every trial scalar (what a CPU
/// without AVX2 gets), for tests.
fn run_lanes<S, A, R, FS, FT, FF>(
    base: &Simulation,
    scenarios: &[S],
    start: FS,
    step: FT,
    finish: FF,
    simd: bool,
) -> Vec<R>
where
    S: Sync,
    R: Send,
    FS: Fn(&mut Simulation, &S) -> A + Sync,
    FT: Fn(&mut Simulation, &S, &mut A, Result<StepReport, SimError>) -> bool + Sync,
    FF: Fn(Simulation, &S, A) -> R + Sync,
{
    use rayon::prelude::*;
    let mut base = base.clone();
    base.share_demands();
    let base = &base;
    let next = AtomicUsize::new(0);
    let workers = rayon::current_num_threads().max(1);
    let parts: Vec<Vec<(usize, R)>> = (0..workers)
        .into_par_iter()
        .map(|_| {
            let pr = Arc::clone(base.prepared());
            let mut ws = Workspace::new(&pr);
            let mut out = Vec::new();
            let mut lanes: [Option<Lane<S, A>>; LANES] = std::array::from_fn(|_| None);
            let mut exhausted = false;
            loop {
                for lane in lanes.iter_mut() {
                    if lane.is_some() || exhausted {
                        continue;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= scenarios.len() {
                        exhausted = true;
                        continue;
                    }
                    let sc = &scenarios[i];
                    let mut sim = base.clone();
                    let acc = start(&mut sim, sc);
                    sim.run_begin();
                    let mut extras = Vec::new();
                    let trials = {
                        let (p, s) = sim.parts_mut();
                        extras_of(p, s, &mut extras);
                        Trials::start(p, s)
                    };
                    *lane = Some(Lane {
                        index: i,
                        scenario: sc,
                        sim,
                        acc,
                        trials,
                        extras,
                        first: true,
                    });
                }
                if lanes.iter().all(Option::is_none) {
                    break;
                }
                let results = {
                    let mut states: [Option<&mut State>; LANES] = Default::default();
                    let mut extras: [&[u32]; LANES] = [&[]; LANES];
                    let mut first = [false; LANES];
                    for (((st, ex), fi), lane) in states
                        .iter_mut()
                        .zip(&mut extras)
                        .zip(&mut first)
                        .zip(lanes.iter_mut())
                    {
                        if let Some(ln) = lane.as_mut() {
                            *ex = &ln.extras;
                            *fi = std::mem::take(&mut ln.first);
                            *st = Some(ln.sim.parts_mut().1);
                        }
                    }
                    joint_trial(&pr, &mut ws, &mut states, extras, first, simd)
                };
                for (slot, res) in lanes.iter_mut().zip(results) {
                    let Some(res) = res else { continue };
                    let lane = slot.as_mut().expect("a solving lane");
                    let more = {
                        let (p, s) = lane.sim.parts_mut();
                        match res {
                            Ok(Some(sums)) => {
                                lane.trials.after_solve_links(p, s, sums, &lane.extras)
                            }
                            Ok(None) => lane.trials.after_solve(p, s),
                            Err(col) => lane.trials.after_factor_error(p, s, col),
                        }
                    };
                    if more && lane.trials.more() {
                        continue;
                    }
                    // The step is solved: finish it as `Simulation::run` does.
                    let Lane {
                        index,
                        scenario,
                        mut sim,
                        mut acc,
                        trials,
                        mut extras,
                        ..
                    } = slot.take().expect("a solving lane");
                    let info = {
                        let (p, s) = sim.parts_mut();
                        trials.finish(p, s)
                    };
                    let report = sim.run_end(info);
                    if step(&mut sim, scenario, &mut acc, report) && sim.next() > 0 {
                        sim.run_begin();
                        let trials = {
                            let (p, s) = sim.parts_mut();
                            extras_of(p, s, &mut extras);
                            Trials::start(p, s)
                        };
                        *slot = Some(Lane {
                            index,
                            scenario,
                            sim,
                            acc,
                            trials,
                            extras,
                            first: false,
                        });
                    } else {
                        out.push((index, finish(sim, scenario, acc)));
                    }
                }
            }
            out
        })
        .collect();
    let mut all: Vec<(usize, R)> = parts.into_iter().flatten().collect();
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small network with a pump, a tank, an active PRV and FCV, a check
    /// valve, demand patterns and one emitter in the base model.
    fn network(pda: bool) -> Simulation {
        let inp = format!(
            "[JUNCTIONS]\nA 10 5 P1\nB 12 8 P1\nC 8 6\nD 15 4 P1\nE 5 7\nF 9 3\n\
             [RESERVOIRS]\nR 20\n[TANKS]\nT 60 3 0 8 15\n\
             [PIPES]\nP1 S A 200 300 120\nP2 A B 400 200 110\nP3 B C 300 150 100\n\
             P4 C D 350 150 100\nP5 D A 500 200 110\nP6 B T 250 200 120\n\
             P7 C E 300 100 100 0 CV\nP8 E F 200 100 100\n\
             [JUNCTIONS]\nS 20 0\nG 6 2\n\
             [PUMPS]\nPU R S HEAD C1\n[CURVES]\nC1 30 60\n\
             [VALVES]\nV1 D G 100 PRV 12\nV2 C F 100 FCV 2\n\
             [EMITTERS]\nE 0.1\n\
             [PATTERNS]\nP1 1.0 1.3 0.7 1.1\n\
             [TIMES]\nDURATION 12\nHYDRAULIC TIMESTEP 1\nPATTERN TIMESTEP 3\n\
             [OPTIONS]\nUNITS LPS\n{}",
            if pda {
                "DEMAND MODEL PDA\nMINIMUM PRESSURE 0\nREQUIRED PRESSURE 20\n"
            } else {
                ""
            }
        );
        let net = network::inp::parse_inp(&inp, "lanes.inp").expect("parses");
        Simulation::from_network(net).expect("prepares")
    }

    /// Every head, demand, flow and state and the iterations of each step.
    fn record(sim: &Simulation, r: Result<StepReport, SimError>, out: &mut Vec<u64>) -> bool {
        match r {
            Ok(r) => out.push(r.iterations as u64),
            Err(_) => {
                out.push(u64::MAX);
                return false;
            }
        }
        for i in 0..sim.node_count() {
            out.push(sim.head_m(i).to_bits());
            out.push(sim.demand_lps(i).to_bits());
        }
        for k in 0..sim.link_count() {
            out.push(sim.flow_lps(k).to_bits());
            out.push(sim.link_state(k) as u64);
        }
        true
    }

    #[test]
    fn lanes_give_the_bits_of_separate_runs() {
        for pda in [false, true] {
            let base = network(pda);
            // More scenarios than lanes, so that lanes are refilled.
            let scenarios: Vec<(usize, f64)> = (0..2 * LANES + 3)
                .map(|s| (s % 7, 0.05 + 0.1 * s as f64))
                .collect();
            let separate: Vec<Vec<u64>> = scenarios
                .iter()
                .map(|&(i, c)| {
                    let mut sim = base.clone();
                    sim.set_emitter(i, c / 1000.0);
                    let mut out = Vec::new();
                    loop {
                        let r = sim.run();
                        if !record(&sim, r, &mut out) || sim.next() == 0 {
                            break;
                        }
                    }
                    out
                })
                .collect();
            let lanes = run_batch_lanes(
                &base,
                &scenarios,
                |sim, &(i, c)| {
                    sim.set_emitter(i, c / 1000.0);
                    Vec::new()
                },
                |sim, _, out, r| record(sim, r, out),
                |_, _, out| out,
            );
            assert_eq!(lanes.len(), separate.len());
            for (s, (a, b)) in lanes.iter().zip(&separate).enumerate() {
                assert!(a.len() > 13, "scenario {s} ran");
                assert!(
                    a == b,
                    "pda={pda}: scenario {s} differs from its separate run"
                );
            }
        }
    }

    #[test]
    fn a_step_callback_can_stop_a_scenario_early() {
        let base = network(false);
        let steps = run_batch_lanes(
            &base,
            &[1usize, 2, 3],
            |_, _| 0usize,
            |_, &stop, n, r| {
                r.expect("solves");
                *n += 1;
                *n < stop
            },
            |sim, _, n| (n, sim.time_s()),
        );
        assert_eq!(steps.iter().map(|s| s.0).collect::<Vec<_>>(), vec![1, 2, 3]);
    }
}
