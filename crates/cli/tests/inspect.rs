//! The `aquatwin` binary itself: `inspect --json` agrees with EPANET 2.3 on
//! a benchmark network, and a malformed file gives located errors on stderr
//! and a non-zero exit code.

mod support;

use std::path::PathBuf;
use std::process::Command;
use support::{networks_dir, root};

fn aquatwin(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_aquatwin"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn inspect_json_matches_epanet() {
    let python = std::env::var("AQUATWIN_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join(".venv/bin/python"));
    for name in ["Net3.inp", "BWSN_Network_1.inp"] {
        let net = networks_dir().join(name);
        let out = aquatwin(&["inspect", net.to_str().unwrap(), "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ours: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let epanet = Command::new(&python)
            .arg(root().join("tests/oracle/epanet_oracle.py"))
            .args(["counts", net.to_str().unwrap()])
            .output()
            .expect("run the EPANET oracle (scripts/setup-python)");
        let epanet: serde_json::Value = serde_json::from_slice(&epanet.stdout).unwrap();
        for key in [
            "junctions",
            "reservoirs",
            "tanks",
            "pipes",
            "pumps",
            "valves",
            "patterns",
            "curves",
            "controls",
            "rules",
            "flow_units",
            "headloss",
            "demand_model",
            "duration_s",
            "hydraulic_step_s",
        ] {
            assert_eq!(ours[key], epanet[key], "{name}: {key}");
        }
    }
}

#[test]
fn malformed_file_fails_with_located_errors_on_stderr() {
    let bad = root().join("tests/malformed/unknown_node.inp");
    let out = aquatwin(&["inspect", bad.to_str().unwrap(), "--json"]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "nothing on stdout");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown_node.inp:"), "{err}");
    assert!(
        err.contains("[PIPES] Node2: undefined node \"J9\""),
        "{err}"
    );
    assert!(
        err.contains("[PIPES] Node1: undefined node \"J8\""),
        "every error in one pass: {err}"
    );
    let out = aquatwin(&["convert", bad.to_str().unwrap(), "--out", "/dev/null"]);
    assert!(!out.status.success());
}
