//! What the report's integration tests share: where the repository and
//! the networks are, running `aquatwin` (found beside `aquatwin-report`),
//! reading a CSV table.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The benchmark networks: `AQUATWIN_NETWORKS`, else `../shared/networks`,
/// else `network-models/benchmark`.
pub fn networks_dir() -> PathBuf {
    if let Ok(d) = std::env::var("AQUATWIN_NETWORKS") {
        return d.into();
    }
    let shared = root().join("../shared/networks");
    if shared.is_dir() {
        shared
    } else {
        root().join("network-models/benchmark")
    }
}

/// The `aquatwin` executable beside `aquatwin-report` (both are built by
/// `cargo test --workspace`; alone: `cargo build --profile ci -p cli`).
pub fn aquatwin() -> PathBuf {
    let report = PathBuf::from(env!("CARGO_BIN_EXE_aquatwin-report"));
    let exe = report.with_file_name(format!("aquatwin{}", std::env::consts::EXE_SUFFIX));
    assert!(
        exe.is_file(),
        "{} is missing: build it with the same profile (`cargo build --profile ci -p cli`)",
        exe.display()
    );
    exe
}

/// Runs `aquatwin ARGS`, which must succeed; its standard error (the logs).
pub fn ok(args: &[&str]) -> String {
    let out = Command::new(aquatwin())
        .args(args)
        .env_remove("AQUATWIN_TOKEN")
        .output()
        .expect("run aquatwin");
    assert!(
        out.status.success(),
        "aquatwin {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Rows of a CSV file (no quoted separators) as header → value maps.
pub fn csv_rows(p: &Path, sep: char) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut lines = text.lines();
    let head: Vec<String> = lines
        .next()
        .unwrap()
        .split(sep)
        .map(str::to_string)
        .collect();
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            head.iter()
                .cloned()
                .zip(l.split(sep).map(str::to_string))
                .collect()
        })
        .collect()
}

/// The true leak volume (m³) of a scenario's `leak_flows_m3h.csv` over
/// `[from, to)` (UTC epoch ms), each 5-minute value held for its step.
pub fn true_leak_volume(scenario: &Path, from: i64, to: i64) -> f64 {
    let mut v = 0.0;
    for r in csv_rows(&scenario.join("leak_flows_m3h.csv"), ',') {
        let t = telemetry::time::parse_timestamp(&r["Timestamp"]).unwrap();
        if t < from || t >= to {
            continue;
        }
        v += r
            .iter()
            .filter(|(k, _)| *k != "Timestamp")
            .map(|(_, v)| v.parse::<f64>().unwrap())
            .sum::<f64>()
            / 12.0;
    }
    v
}
