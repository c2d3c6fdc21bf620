//! Shared helpers for the conformance tests: where the benchmark networks
//! are, how to run the EPANET 2.3 oracle, where the `aquatwin` binary is.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
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
