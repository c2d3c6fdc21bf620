//! Shared helpers for the conformance tests: where the benchmark networks
//! are, how to run the EPANET 2.3 oracle, where the `aquatwin` binary is,
//! where the BattLeDIM 2020 material is.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The folder of benchmark `.inp` networks: `$AQUATWIN_NETWORKS`, else
/// `../shared/networks` beside the checkout, else `network-models/benchmark`
/// (filled by `network-models/fetch-networks`).
pub fn networks_dir() -> PathBuf {
    if let Ok(d) = std::env::var("AQUATWIN_NETWORKS") {
        return PathBuf::from(d);
    }
    let shared = root().join("../shared/networks");
    if shared.is_dir() {
        return shared;
    }
    root().join("network-models/benchmark")
}

/// The networks of the wntr 1.5.0 wheel (`network-models/fetch-networks`
/// puts them in `network-models/benchmark/wntr`): `$AQUATWIN_WNTR_NETWORKS`,
/// else `wntr/` in [`networks_dir`] when it exists, else
/// `network-models/benchmark/wntr`.
pub fn wntr_networks_dir() -> PathBuf {
    if let Ok(d) = std::env::var("AQUATWIN_WNTR_NETWORKS") {
        return PathBuf::from(d);
    }
    let inside = networks_dir().join("wntr");
    if inside.is_dir() {
        return inside;
    }
    root().join("network-models/benchmark/wntr")
}

/// Every `.inp` file in [`networks_dir`], sorted.
pub fn network_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(networks_dir())
        .expect("benchmark networks folder (run network-models/fetch-networks)")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("inp")))
        .collect();
    v.sort();
    v
}

/// Networks EPANET itself rejects.
pub fn is_invalid_network(p: &Path) -> bool {
    p.file_name().is_some_and(|n| n == "Net1broken.inp")
}

/// The Python with the EPANET 2.3 oracle (`owa-epanet`), set up by `scripts/setup-python`.
pub fn oracle_python() -> PathBuf {
    if let Ok(p) = std::env::var("AQUATWIN_PYTHON") {
        return PathBuf::from(p);
    }
    root().join(".venv/bin/python")
}

/// Runs the oracle script with arguments; returns stdout.
pub fn oracle(args: &[&str]) -> String {
    let out = Command::new(oracle_python())
        .arg(root().join("tests/oracle/epanet_oracle.py"))
        .args(args)
        .output()
        .expect("run the EPANET oracle (scripts/setup-python installs it)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Rows of a nodes.csv / links.csv (aquatwin's or the oracle's): (time,
/// id) → the named columns as text, plus the report times in order.
pub struct ReportCsv {
    pub times: Vec<u64>,
    pub rows: HashMap<(u64, String), Vec<String>>,
}

/// Reads the named columns of a nodes.csv / links.csv; panics with the file
/// name when it or a column is missing.
pub fn read_report_csv(path: &Path, cols: &[&str]) -> ReportCsv {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    let at = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("{}: no column {name}", path.display()))
    };
    let idx: Vec<usize> = cols.iter().map(|c| at(c)).collect();
    let mut out = ReportCsv {
        times: Vec::new(),
        rows: HashMap::new(),
    };
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let t: u64 = f[0].parse().expect("time_s");
        if out.times.last() != Some(&t) {
            out.times.push(t);
        }
        out.rows.insert(
            (t, f[1].to_string()),
            idx.iter().map(|&i| f[i].to_string()).collect(),
        );
    }
    out
}

/// Runs the oracle's `hydraulics` command on `inp` into the folder `out`
/// (nodes.csv, links.csv, run.json at the report times); panics with the
/// oracle's output when it wrote no results.
pub fn oracle_hydraulics(inp: &Path, out: &Path) {
    let msg = oracle(&[
        "hydraulics",
        inp.to_str().expect("UTF-8 path"),
        "--out",
        out.to_str().expect("UTF-8 path"),
    ]);
    assert!(
        out.join("nodes.csv").is_file(),
        "the oracle failed on {}: {msg}",
        inp.display()
    );
}

/// The BattLeDIM 2020 material (labels, leak flows, official reports,
/// node distances): `$AQUATWIN_BATTLEDIM`, else `../shared/battledim` beside
/// the checkout, else the vendored copy unpacked by
/// `network-models/fetch-battledim` into `network-models/battledim`.
/// Panics when none is there: tests that need it must fail, not skip.
pub fn battledim_dir() -> PathBuf {
    const MARKER: &str = "2019_leakages_info.yalm";
    let dir = match std::env::var("AQUATWIN_BATTLEDIM") {
        Ok(d) => PathBuf::from(d),
        Err(_) => [
            root().join("../shared/battledim"),
            root().join("network-models/battledim"),
        ]
        .into_iter()
        .find(|d| d.join(MARKER).is_file())
        .unwrap_or_else(|| root().join("network-models/battledim")),
    };
    assert!(
        dir.join(MARKER).is_file(),
        "BattLeDIM material not found in {} (run network-models/fetch-battledim, or set AQUATWIN_BATTLEDIM to the folder holding {MARKER})",
        dir.display()
    );
    dir
}

/// The `aquatwin` binary: `$AQUATWIN_BIN`, else built (or found up to date)
/// by `cargo build -p cli` in the target folder and profile of the running
/// test, so the binary is never stale.
pub fn aquatwin_bin() -> PathBuf {
    if let Ok(p) = std::env::var("AQUATWIN_BIN") {
        return PathBuf::from(p);
    }
    // The test runs as <target>/<profile dir>/deps/<test>-<hash>.
    let exe = std::env::current_exe().expect("path of the running test");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary in <target>/<profile>/deps");
    let target = profile_dir.parent().expect("target folder");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev".to_string(),
        Some(p) => p.to_string(),
        None => panic!("cannot tell the cargo profile from {}", exe.display()),
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            "cli",
            "--bin",
            "aquatwin",
            "--profile",
            &profile,
            "--target-dir",
        ])
        .arg(target)
        .current_dir(root())
        .status()
        .expect("run cargo to build the aquatwin binary");
    assert!(status.success(), "cargo build -p cli failed");
    let bin = profile_dir.join(format!("aquatwin{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.is_file(), "{} missing after cargo build", bin.display());
    bin
}

/// Leak flows (`2019_leak_flows_m3h.csv`) read as `aquatwin score` reads
/// them: telemetry's CSV reader, rows handed to detection's builder.
pub fn read_leak_flows(path: &Path) -> battledim::scoring::LeakFlows {
    let mut rd = telemetry::scada::ScadaReader::open(path).unwrap_or_else(|e| panic!("{e}"));
    let mut b = battledim::scoring::LeakFlowsBuilder::new(rd.file(), 1, rd.columns().to_vec());
    rd.for_each_row(|r| match r {
        Ok(row) => b.push_row(row.line, row.ts_ms, &row.values),
        Err(e) => b.push_error(e.line, e.what()),
    });
    b.finish().unwrap_or_else(|e| panic!("{e}"))
}
