//! Leak batches against the oracle. Scenarios run the way leak
//! localization runs them: clones of one prepared simulation through
//! `hydraulics::batch::run_batch` (shared ordering, symbolic factorization
//! and per-period demand tables), each with one emitter set before its
//! first step. EPANET 2.3.5 runs the same scenario written as an `.inp`
//! file with the leak as an `[EMITTERS]` entry.
//!
//! For each network (24 hours of it) and a few leak junctions (coefficient
//! giving 2–5 L/s at the junction's leak-free pressure at time 0), at every
//! report time: |Δhead| ≤ 0.001 m at every node, |Δflow| ≤ max(0.001 L/s,
//! 1e-4·|q|) and the same status for every link, the same report times.
//!
//! The same scenarios also run eight at a time through
//! `hydraulics::lanes::run_batch_lanes` (one SIMD assembly and
//! factorization for all lanes), which must give the batch's results bit
//! for bit (asserted).
//!
//! It also reports, without asserting, how far a *warm-started* scenario
//! (cloned from the leak-free simulation solved at time 0, so its first
//! step starts from converged flows) lands from EPANET: a different
//! starting point gives a different iteration path, and with ACCURACY 0.01
//! (L-TOWN) the step stops at a different point inside EPANET's
//! convergence tolerance. That is why batches start cold.
//! Run optimised: `cargo test --profile ci -p conformance --test batch_conformance`.

#![allow(clippy::neg_cmp_op_on_partial_ord)]

use conformance::*;
use hydraulics::Simulation;
use network::NodeKind;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const HEAD_TOL_M: f64 = 1e-3;
const FLOW_TOL_LPS: f64 = 1e-3;
const FLOW_TOL_REL: f64 = 1e-4;

/// Networks and how many leak scenarios each.
const NETWORKS: &[(&str, usize)] = &[
    ("Net1", 3),
    ("Net3", 3),
    ("L-TOWN", 4),
    ("MICROPOLIS_v1", 2),
    ("Anytown", 2),
];

/// (time, id) → values, plus the report times in order.
struct Table {
    times: Vec<u64>,
    rows: HashMap<(u64, String), (f64, String)>,
}

/// The oracle's value column (and optional text column) of a report CSV.
fn read_table(path: &Path, value: &str, extra: Option<&str>) -> Table {
    let cols: Vec<&str> = std::iter::once(value).chain(extra).collect();
    let csv = read_report_csv(path, &cols);
    let rows = csv
        .rows
        .into_iter()
        .map(|(key, v)| {
            let x = v[0].parse().unwrap_or(f64::NAN);
            (key, (x, v.get(1).cloned().unwrap_or_default()))
        })
        .collect();
    Table {
        times: csv.times,
        rows,
    }
}

/// Heads and link flows/statuses of a simulation at its report times.
fn collect(mut sim: Simulation) -> (Table, Table, u64) {
    let mut acc = new_tables();
    loop {
        let r = sim.run();
        if !record_step(&sim, r, &mut acc) || sim.next() == 0 {
            break;
        }
    }
    acc
}

fn new_tables() -> (Table, Table, u64) {
    let t = || Table {
        times: Vec::new(),
        rows: HashMap::new(),
    };
    (t(), t(), 0)
}

/// Records one solved step if it is a report time; returns whether to go on.
fn record_step(
    sim: &Simulation,
    r: Result<hydraulics::StepReport, hydraulics::SimError>,
    (nodes, links, iters): &mut (Table, Table, u64),
) -> bool {
    let net = sim.network();
    let r = r.expect("the scenario solves");
    *iters += r.iterations as u64;
    let t = r.time_s;
    if sim.is_report_time(t) && nodes.times.last() != Some(&t) {
        nodes.times.push(t);
        links.times.push(t);
        for (i, n) in net.nodes.iter().enumerate() {
            nodes
                .rows
                .insert((t, n.id.clone()), (sim.head_m(i), String::new()));
        }
        for (k, l) in net.links.iter().enumerate() {
            links.rows.insert(
                (t, l.id.clone()),
                (sim.flow_lps(k), sim.link_state(k).word().to_string()),
            );
        }
    }
    !r.halted
}

/// Whether two runs' tables hold the same report times and the same bits.
fn identical(a: &(Table, Table, u64), b: &(Table, Table, u64)) -> bool {
    let same = |x: &Table, y: &Table| {
        x.times == y.times
            && x.rows.len() == y.rows.len()
            && x.rows.iter().all(|(key, (v, st))| {
                y.rows
                    .get(key)
                    .is_some_and(|(w, su)| v.to_bits() == w.to_bits() && st == su)
            })
    };
    same(&a.0, &b.0) && same(&a.1, &b.1) && a.2 == b.2
}

/// Largest differences of one run against EPANET, and what broke tolerance.
#[derive(Default)]
struct Diff {
    dh: f64,
    dq_over_tol: f64,
    bad: Vec<String>,
}

impl Diff {
    fn add(&mut self, tag: &str, an: &Table, al: &Table, en: &Table, el: &Table) {
        if an.times != en.times {
            self.bad.push(format!(
                "{tag}: report times differ ({} vs EPANET {})",
                an.times.len(),
                en.times.len()
            ));
        }
        let mut nbad = 0;
        for (key, (e, _)) in &en.rows {
            let Some((a, _)) = an.rows.get(key) else {
                self.bad
                    .push(format!("{tag}: node {} at {} s missing", key.1, key.0));
                continue;
            };
            let d = (a - e).abs();
            if !(d <= self.dh) {
                self.dh = if d.is_nan() { f64::INFINITY } else { d };
            }
            if !(d <= HEAD_TOL_M) {
                nbad += 1;
            }
        }
        let mut nstatus = 0;
        for (key, (e, es)) in &el.rows {
            let Some((a, as_)) = al.rows.get(key) else {
                self.bad
                    .push(format!("{tag}: link {} at {} s missing", key.1, key.0));
                continue;
            };
            if as_ != es {
                nstatus += 1;
                if nstatus <= 3 {
                    self.bad.push(format!(
                        "{tag}: link {} at {} s is {as_}, EPANET {es}",
                        key.1, key.0
                    ));
                }
            }
            let r = (a - e).abs() / FLOW_TOL_LPS.max(FLOW_TOL_REL * e.abs());
            if !(r <= self.dq_over_tol) {
                self.dq_over_tol = if r.is_nan() { f64::INFINITY } else { r };
            }
            if !(r <= 1.0) {
                nbad += 1;
            }
        }
        if nstatus > 3 {
            self.bad
                .push(format!("{tag}: {nstatus} link statuses differ"));
        }
        if nbad > 0 {
            self.bad
                .push(format!("{tag}: {nbad} values out of tolerance"));
        }
    }
}

/// One network's scenarios: the batch (asserted) and warm starts (reported).
struct Outcome {
    batch: Diff,
    warm: Diff,
    batch_iters: u64,
    warm_iters: u64,
    /// Scenarios whose lane run (`hydraulics::lanes`) equals the batch bit for bit.
    lanes_identical: usize,
}

fn run_network(name: &str, nscen: usize, work: &Path) -> Outcome {
    let src = networks_dir().join(format!("{name}.inp"));
    let bytes = std::fs::read(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    let mut net = network::inp::parse_inp_bytes(&bytes, &src.to_string_lossy())
        .unwrap_or_else(|e| panic!("{}: {e:?}", src.display()));
    net.times.duration = net.times.duration.min(24 * 3600);
    // The base as EPANET will read it: written and parsed back.
    let base_text = network::inp::write_inp(&net);
    let net = network::inp::parse_inp(&base_text, name).expect("the written base parses");
    let base = Simulation::from_network(net.clone()).expect("prepare");

    // Leak junctions: spread over the junctions with pressure > 5 m at time 0.
    let mut first = base.clone();
    first.run().expect("time 0 solves");
    let candidates: Vec<usize> = (0..net.nodes.len())
        .filter(|&i| net.nodes[i].is_junction() && first.pressure_m(i) > 5.0)
        .collect();
    assert!(!candidates.is_empty(), "{name}: no junction above 5 m");
    let expo = net.options.emitter_exponent;

    // Each scenario for EPANET: the base with an [EMITTERS] entry; aquatwin
    // takes the coefficient as EPANET reads it back.
    let mut scenarios = Vec::new();
    let mut oracle_runs = Vec::new();
    for s in 0..nscen {
        let i = candidates[(2 * s + 1) * candidates.len() / (2 * nscen)];
        let q_lps = 2.0 + 3.0 * s as f64 / nscen.max(1) as f64;
        let mut leaky = net.clone();
        if let NodeKind::Junction(j) = &mut leaky.nodes[i].kind {
            j.emitter_coefficient = q_lps / 1000.0 / first.pressure_m(i).powf(expo);
        }
        let dir = work.join(format!("{name}-{s}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let inp = dir.join("scenario.inp");
        std::fs::write(&inp, network::inp::write_inp(&leaky)).unwrap();
        let reread = network::inp::parse_inp(&std::fs::read_to_string(&inp).unwrap(), "scenario")
            .expect("the scenario parses");
        let c = match &reread.nodes[i].kind {
            NodeKind::Junction(j) => j.emitter_coefficient,
            _ => unreachable!(),
        };
        let edir = dir.join("epanet");
        oracle_hydraulics(&inp, &edir);
        oracle_runs.push((
            read_table(&edir.join("nodes.csv"), "head_m", None),
            read_table(&edir.join("links.csv"), "flow_lps", Some("status")),
        ));
        scenarios.push((i, c));
    }

    let batch = hydraulics::batch::run_batch(&base, &scenarios, |mut sim, &(i, c)| {
        sim.set_emitter(i, c);
        collect(sim)
    });
    // The same scenarios eight at a time in SIMD lanes: the same bits.
    let lanes = hydraulics::lanes::run_batch_lanes(
        &base,
        &scenarios,
        |sim, &(i, c)| {
            sim.set_emitter(i, c);
            new_tables()
        },
        |sim, _, acc, r| record_step(sim, r, acc),
        |_, _, acc| acc,
    );
    let lanes_identical = batch
        .iter()
        .zip(&lanes)
        .filter(|(a, b)| identical(a, b))
        .count();
    let mut warm_base = first.clone();
    warm_base.init(false);
    let warm = hydraulics::batch::run_batch(&warm_base, &scenarios, |mut sim, &(i, c)| {
        sim.set_emitter(i, c);
        collect(sim)
    });

    let mut out = Outcome {
        batch: Diff::default(),
        warm: Diff::default(),
        batch_iters: 0,
        warm_iters: 0,
        lanes_identical,
    };
    for (s, ((en, el), &(i, _))) in oracle_runs.iter().zip(&scenarios).enumerate() {
        let tag = format!("{name} leak at {}", net.nodes[i].id);
        let (an, al, it) = &batch[s];
        out.batch.add(&tag, an, al, en, el);
        out.batch_iters += it;
        let (wn, wl, wit) = &warm[s];
        out.warm.add(&tag, wn, wl, en, el);
        out.warm_iters += wit;
    }
    out
}

#[test]
fn leak_batches_match_epanet() {
    let work: PathBuf = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("batch_conformance");
    let mut report = String::new();
    let mut failed = Vec::new();
    for &(name, n) in NETWORKS {
        let o = run_network(name, n, &work);
        writeln!(
            report,
            "{name}: {n} leak scenarios, batch: max |Δhead| {:.2e} m, max flow error / tolerance {:.3}, {} Newton iterations; \
             lanes bit-identical: {}/{n}; \
             warm-started (not asserted): {:.2e} m, {:.3}, {} iterations, {}",
            o.batch.dh,
            o.batch.dq_over_tol,
            o.batch_iters,
            o.lanes_identical,
            o.warm.dh,
            o.warm.dq_over_tol,
            o.warm_iters,
            if o.warm.bad.is_empty() {
                "within tolerance"
            } else {
                "OUT of tolerance"
            }
        )
        .unwrap();
        if !o.batch.bad.is_empty() {
            failed.push(o.batch.bad.join("\n  "));
        }
        if o.lanes_identical != n {
            failed.push(format!(
                "{name}: only {}/{n} lane runs equal the batch bit for bit",
                o.lanes_identical
            ));
        }
    }
    println!("{report}");
    assert!(
        failed.is_empty(),
        "{report}\nfailures:\n  {}",
        failed.join("\n  ")
    );
}
