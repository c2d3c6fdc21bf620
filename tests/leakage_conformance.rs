//! EPANET 2.3 pipe leakage (`[LEAKAGE]`, the FAVAD model) against the
//! oracle. For a few benchmark networks the test writes a copy with a
//! `[LEAKAGE]` section covering every third pipe (leak areas 0.4–2.2 mm²
//! and expansion rates 0.01–0.13 mm² per unit head, per 100 length units,
//! varying from pipe to pipe), runs EPANET 2.3.5 (`epanet_oracle.py
//! hydraulics`) and `aquatwin simulate` on it, and at every report time
//! requires
//!
//! - |Δhead| ≤ 0.001 m at every node;
//! - |Δdemand| ≤ max(0.001 L/s, 1e-4·|d_EPANET|) at every node — EPANET's
//!   node demand (EN_DEMAND) is the junction's whole outflow: consumer
//!   demand + emitter flow + pipe leakage, and so is aquatwin's;
//! - |Δflow| ≤ max(0.001 L/s, 1e-4·|q_EPANET|) and the same status for
//!   every link; the same report times;
//! - the `leakage_lps` columns both write for a model with leakage — a
//!   junction's pipe leakage (EN_LEAKAGEFLOW) and a pipe's own leakage
//!   (EN_LINK_LEAKAGE) — within max(0.001 L/s, 1e-4·|q_EPANET|).
//!
//! It first checks that EPANET really simulates the leaks: the total
//! outflow of the leaky copy must exceed the original's.
//! Run optimised: `cargo test --profile ci -p conformance --test leakage_conformance`.

// `!(d <= tol)` on purpose: a NaN difference must count as a failure.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use conformance::*;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const HEAD_TOL_M: f64 = 1e-3;
const FLOW_TOL_LPS: f64 = 1e-3;
const FLOW_TOL_REL: f64 = 1e-4;

const NETWORKS: &[&str] = &["Net1", "Net3", "L-TOWN"];

/// The pipe IDs of an .inp file, in file order.
fn pipe_ids(inp: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut in_pipes = false;
    for line in inp.lines() {
        let line = line.split(';').next().unwrap_or("").trim();
        if line.starts_with('[') {
            in_pipes = line.eq_ignore_ascii_case("[PIPES]");
            continue;
        }
        if in_pipes {
            if let Some(id) = line.split_whitespace().next() {
                ids.push(id.to_string());
            }
        }
    }
    ids
}

/// The .inp text with a `[LEAKAGE]` section for every third pipe.
fn with_leakage(inp: &str) -> (String, usize) {
    let mut sec = String::from("\n[LEAKAGE]\n;Pipe  LeakArea  LeakExpansion\n");
    let mut n = 0;
    for (i, id) in pipe_ids(inp).iter().enumerate().filter(|(i, _)| i % 3 == 0) {
        let c1 = 0.4 + 0.3 * (i % 7) as f64;
        let c2 = 0.01 + 0.03 * (i % 5) as f64;
        writeln!(sec, " {id}  {c1:.2}  {c2:.2}").unwrap();
        n += 1;
    }
    sec.push('\n');
    let text = match inp.rfind("[END]") {
        Some(p) => format!("{}{sec}{}", &inp[..p], &inp[p..]),
        None => format!("{inp}{sec}"),
    };
    (text, n)
}

fn num(s: &str) -> f64 {
    s.parse().unwrap_or(f64::NAN)
}

/// Sum of every node demand at every report time, L/s.
fn total_demand(nodes: &ReportCsv) -> f64 {
    nodes.rows.values().map(|r| num(&r[1]).max(0.0)).sum()
}

#[derive(Default)]
struct Worst {
    dh: f64,
    dd: f64,
    dq: f64,
    /// Node and pipe leakage (the leakage_lps columns).
    dl: f64,
    where_dl: String,
    where_dh: String,
    where_dd: String,
    where_dq: String,
    bad: Vec<String>,
}

fn compare(name: &str, work: &Path, bin: &Path) -> (Worst, usize, f64) {
    let src = networks_dir().join(format!("{name}.inp"));
    let text = std::fs::read_to_string(&src)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", src.display()));
    let (leaky, npipes) = with_leakage(&text);
    let dir = work.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let inp = dir.join(format!("{name}-leakage.inp"));
    std::fs::write(&inp, leaky).unwrap();

    // EPANET with and without the leaks: it must simulate them.
    let (base_dir, edir, adir) = (
        dir.join("epanet-base"),
        dir.join("epanet"),
        dir.join("aquatwin"),
    );
    oracle_hydraulics(&src, &base_dir);
    oracle_hydraulics(&inp, &edir);
    let node_cols = ["head_m", "demand_lps", "leakage_lps"];
    let base = read_report_csv(&base_dir.join("nodes.csv"), &node_cols[..2]);
    let en = read_report_csv(&edir.join("nodes.csv"), &node_cols);
    let leak_lps = (total_demand(&en) - total_demand(&base)) / en.times.len().max(1) as f64;
    assert!(
        leak_lps > 1.0,
        "{name}: EPANET's outflow grows by only {leak_lps} L/s per report time with {npipes} leaky pipes: does owa-epanet simulate [LEAKAGE]?"
    );

    let out = Command::new(bin)
        .arg("simulate")
        .arg(&inp)
        .arg("--out")
        .arg(&adir)
        .output()
        .expect("run aquatwin simulate");
    assert!(
        out.status.success(),
        "{name}: aquatwin simulate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let an = read_report_csv(&adir.join("nodes.csv"), &node_cols);
    let link_cols = ["flow_lps", "status", "leakage_lps"];
    let el = read_report_csv(&edir.join("links.csv"), &link_cols);
    let al = read_report_csv(&adir.join("links.csv"), &link_cols);

    let mut w = Worst::default();
    if an.times != en.times || al.times != el.times {
        w.bad.push(format!(
            "report times differ: aquatwin {} times, EPANET {}",
            an.times.len(),
            en.times.len()
        ));
    }
    let mut bad_values = 0usize;
    for ((t, id), e) in &en.rows {
        let Some(a) = an.rows.get(&(*t, id.clone())) else {
            w.bad
                .push(format!("node {id} at {t} s missing from aquatwin"));
            continue;
        };
        let dh = (num(&a[0]) - num(&e[0])).abs();
        if !(dh <= w.dh) {
            w.dh = if dh.is_nan() { f64::INFINITY } else { dh };
            w.where_dh = format!("node {id} at {t} s: aquatwin {}, EPANET {}", a[0], e[0]);
        }
        let (ed, ad) = (num(&e[1]), num(&a[1]));
        let dd = (ad - ed).abs();
        if !(dd <= w.dd) {
            w.dd = if dd.is_nan() { f64::INFINITY } else { dd };
            w.where_dd = format!("node {id} at {t} s: aquatwin {ad}, EPANET {ed}");
        }
        let (el_, al_) = (num(&e[2]), num(&a[2]));
        let dl = (al_ - el_).abs();
        if !(dl <= w.dl) {
            w.dl = if dl.is_nan() { f64::INFINITY } else { dl };
            w.where_dl = format!("node {id} at {t} s: aquatwin {al_}, EPANET {el_}");
        }
        if !(dh <= HEAD_TOL_M)
            || !(dd <= FLOW_TOL_LPS.max(FLOW_TOL_REL * ed.abs()))
            || !(dl <= FLOW_TOL_LPS.max(FLOW_TOL_REL * el_.abs()))
        {
            bad_values += 1;
        }
    }
    for ((t, id), e) in &el.rows {
        let Some(a) = al.rows.get(&(*t, id.clone())) else {
            w.bad
                .push(format!("link {id} at {t} s missing from aquatwin"));
            continue;
        };
        if a[1] != e[1] {
            w.bad.push(format!(
                "link {id} at {t} s: status {} vs EPANET {}",
                a[1], e[1]
            ));
        }
        let (eq, aq) = (num(&e[0]), num(&a[0]));
        let dq = (aq - eq).abs();
        if !(dq <= w.dq) {
            w.dq = if dq.is_nan() { f64::INFINITY } else { dq };
            w.where_dq = format!("link {id} at {t} s: aquatwin {aq}, EPANET {eq}");
        }
        let (el_, al_) = (num(&e[2]), num(&a[2]));
        let dl = (al_ - el_).abs();
        if !(dl <= w.dl) {
            w.dl = if dl.is_nan() { f64::INFINITY } else { dl };
            w.where_dl = format!("link {id} at {t} s: aquatwin {al_}, EPANET {el_}");
        }
        if !(dq <= FLOW_TOL_LPS.max(FLOW_TOL_REL * eq.abs()))
            || !(dl <= FLOW_TOL_LPS.max(FLOW_TOL_REL * el_.abs()))
        {
            bad_values += 1;
        }
    }
    if bad_values > 0 {
        w.bad.push(format!("{bad_values} values out of tolerance"));
    }
    (w, npipes, leak_lps)
}

#[test]
fn leakage_matches_epanet() {
    let bin = aquatwin_bin();
    let work: PathBuf = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("leakage_conformance");
    let mut report = String::new();
    let mut failed = Vec::new();
    for name in NETWORKS {
        let (w, npipes, leak) = compare(name, &work, &bin);
        writeln!(
            report,
            "{name}: {npipes} leaky pipes, EPANET leakage {leak:.2} L/s (mean per report time); max |Δhead| {:.2e} m ({}), max |Δdemand| {:.2e} L/s ({}), max |Δflow| {:.2e} L/s ({}), max |Δleakage| (node or pipe) {:.2e} L/s ({})",
            w.dh, w.where_dh, w.dd, w.where_dd, w.dq, w.where_dq, w.dl, w.where_dl
        )
        .unwrap();
        if !w.bad.is_empty() {
            failed.push(format!("{name}: {}", w.bad.join("; ")));
        }
    }
    println!("{report}");
    assert!(
        failed.is_empty(),
        "{report}\nleakage conformance failures (outputs kept in {}):\n{}",
        work.display(),
        failed.join("\n")
    );
}
