//! The engineers' notebooks (`notebooks/*.ipynb`) run top to bottom on small
//! data that aquatwin makes here: a Parquet simulation of Net3, a 14-day
//! L-Town leak scenario with the detector's report, a calibration of Net3
//! to a 3-day field with its report, and a daily efficiency report of a
//! leaky Hanoi. Each notebook must run
//! without an error and draw at least one plot per figure cell; the executed
//! copies are kept under `target/notebooks/` to look at.

use conformance::*;
use std::path::Path;
use std::process::Command;

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("start the command");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Executes `notebooks/NAME` with `env`; returns the executed notebook.
fn execute(name: &str, env: &[(&str, &Path)]) -> serde_json::Value {
    let dest = root().join("target/notebooks");
    std::fs::create_dir_all(&dest).unwrap();
    let out = dest.join(name);
    let mut c = Command::new(oracle_python());
    c.arg(root().join("notebooks/execute.py"))
        .arg(root().join("notebooks").join(name))
        .arg(&out);
    for (k, v) in env {
        c.env(k, v);
    }
    run(&mut c);
    serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap()
}

/// The number of images the executed notebook drew.
fn plots(nb: &serde_json::Value) -> usize {
    nb["cells"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["outputs"].as_array().cloned().unwrap_or_default())
        .filter(|o| o["data"]["image/png"].is_string())
        .count()
}

#[test]
fn simulation_notebook_reads_parquet_results() {
    let tmp = std::env::temp_dir().join(format!("aquatwin-nb-sim-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    run(Command::new(aquatwin_bin())
        .arg("simulate")
        .arg(networks_dir().join("Net3.inp"))
        .arg("--out")
        .arg(&tmp)
        .args(["--format", "parquet"]));
    let nb = execute("simulation-results.ipynb", &[("AQUATWIN_NB_SIM", &tmp)]);
    assert_eq!(plots(&nb), 2, "a pressure plot and a flow plot");
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn leak_detection_notebook_walks_through_a_scenario() {
    let tmp = std::env::temp_dir().join(format!("aquatwin-nb-leak-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let net = networks_dir().join("L-TOWN.inp");
    run(Command::new(aquatwin_bin())
        .arg("scenario")
        .arg("--network")
        .arg(&net)
        .args(["--days", "14", "--leaks", "1", "--seed", "7", "--out"])
        .arg(&tmp));
    let report = tmp.join("report.json");
    run(Command::new(aquatwin_bin())
        .arg("detect")
        .arg("--network")
        .arg(&net)
        .arg("--scada")
        .arg(&tmp)
        .arg("--out")
        .arg(tmp.join("detections.txt"))
        .arg("--report")
        .arg(&report));
    let nb = execute(
        "leak-detection.ipynb",
        &[
            ("AQUATWIN_NB_SCENARIO", &tmp),
            ("AQUATWIN_NB_REPORT", &report),
        ],
    );
    assert_eq!(plots(&nb), 2, "the leak-flow plot and the residual plot");
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn calibration_notebook_reads_the_report() {
    let tmp = std::env::temp_dir().join(format!("aquatwin-nb-cal-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let net = networks_dir().join("Net3.inp");
    // A draft map (pressures at 10 % of the junctions), a 3-day field with
    // 20 % model uncertainty, the calibration's report.
    let map = tmp.join("map.toml");
    let out = Command::new(root().join("scripts/sensor-map-draft"))
        .arg(&net)
        .arg("0.1")
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::write(&map, out.stdout).unwrap();
    let field = tmp.join("field");
    run(Command::new(aquatwin_bin())
        .arg("scenario")
        .arg("--network")
        .arg(&net)
        .arg("--sensors")
        .arg(&map)
        .args([
            "--days",
            "3",
            "--leaks",
            "0",
            "--uncertainty",
            "0.2",
            "--seed",
            "3",
            "--out",
        ])
        .arg(&field));
    let report = tmp.join("report.json");
    run(Command::new(aquatwin_bin())
        .arg("calibrate")
        .arg("--network")
        .arg(&net)
        .arg("--sensors")
        .arg(&map)
        .arg("--scada")
        .arg(&field)
        .arg("--out")
        .arg(tmp.join("calibrated.inp"))
        .arg("--report")
        .arg(&report));
    let nb = execute("calibration.ipynb", &[("AQUATWIN_NB_CALIBRATION", &report)]);
    assert_eq!(plots(&nb), 2, "the parameter plot and the RMSE plot");
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn efficiency_notebook_reads_the_report_tables() {
    let tmp = std::env::temp_dir().join(format!("aquatwin-nb-eff-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    // Hanoi with a daily demand pattern, its reservoir outlet metered and
    // pressures at every junction; 10 days with a leak; billing from the
    // generator; a daily report.
    let text = std::fs::read_to_string(networks_dir().join("Hanoi.inp")).unwrap();
    let pattern = "[PATTERNS]\n 1 0.35 0.30 0.28 0.28 0.30 0.40 0.60 0.80 0.90 0.85 0.80 0.75\n \
                   1 0.75 0.70 0.70 0.70 0.75 0.85 0.90 0.85 0.75 0.60 0.50 0.40\n";
    std::fs::write(
        tmp.join("hanoi.inp"),
        text.replacen("[PATTERNS]\n", pattern, 1),
    )
    .unwrap();
    let mut map = String::from(
        "[[sensor]]\ntag = \"q1\"\nkind = \"flow\"\nlink = \"1\"\nunit = \"m3/h\"\ninterval_s = 300\n\
         range = [-100000, 100000]\nscada = { file = \"Flows\", column = \"q1\" }\n",
    );
    for j in 2..=32 {
        map += &format!(
            "\n[[sensor]]\ntag = \"p{j}\"\nkind = \"pressure\"\nnode = \"{j}\"\nunit = \"m\"\n\
             interval_s = 300\nrange = [-50, 200]\nscada = {{ file = \"Pressures\", column = \"{j}\" }}\n"
        );
    }
    std::fs::write(tmp.join("map.toml"), map).unwrap();
    std::fs::write(
        tmp.join("twin.toml"),
        "sensors = \"map.toml\"\nnetwork = \"hanoi.inp\"\n[store]\nbackend = \"sqlite\"\n\
         path = \"store.sqlite\"\n[reporting]\nn1 = 0.5\n",
    )
    .unwrap();
    let field = tmp.join("field");
    run(Command::new(aquatwin_bin())
        .arg("scenario")
        .arg("--network")
        .arg(tmp.join("hanoi.inp"))
        .arg("--sensors")
        .arg(tmp.join("map.toml"))
        .args([
            "--days",
            "10",
            "--leaks",
            "1",
            "--seed",
            "11",
            "--min-leak-lps",
            "20",
        ])
        .args(["--max-leak-lps", "40", "--leak-free-days", "3", "--out"])
        .arg(&field));
    run(Command::new(aquatwin_bin())
        .arg("import-scada")
        .arg(&field)
        .arg("--config")
        .arg(tmp.join("twin.toml")));
    let out = tmp.join("report");
    run(Command::new(aquatwin_bin())
        .arg("report")
        .arg("--config")
        .arg(tmp.join("twin.toml"))
        .args([
            "--from",
            "2019-01-01",
            "--to",
            "2019-01-11",
            "--period",
            "day",
            "--billing",
        ])
        .arg(field.join("billing/billing.csv"))
        .arg("--out")
        .arg(&out));
    let nb = execute("efficiency.ipynb", &[("AQUATWIN_NB_EFFICIENCY", &out)]);
    assert_eq!(plots(&nb), 2, "input against billed, and the night flow");
    let _ = std::fs::remove_dir_all(&tmp);
}
