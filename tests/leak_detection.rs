//! End to end: a 10-day L-Town scenario with one large abrupt leak, written
//! as BattLeDIM SCADA files by `aquatwin scenario`, analysed by
//! `aquatwin detect` with the unperturbed model, scored by `aquatwin score`:
//! the leak is found within 72 h and within 300 m, with no false alarm.
//! A faulty sensor (stuck pressure, missing column) is excluded and named.

use conformance::*;
use std::process::Command;

fn run(args: &[&str]) -> std::process::Output {
    let out = Command::new(aquatwin_bin())
        .args(args)
        .output()
        .expect("run aquatwin");
    assert!(
        out.status.success(),
        "aquatwin {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Rewrites the SCADA export `file` with only the columns `keep` accepts.
fn keep_columns(file: &std::path::Path, keep: &dyn Fn(&str) -> bool) {
    let text = std::fs::read_to_string(file).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(';').collect();
    let cols: Vec<usize> = (0..header.len()).filter(|&i| keep(header[i])).collect();
    let out: String = text
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(';').collect();
            cols.iter().map(|&i| f[i]).collect::<Vec<_>>().join(";") + "\n"
        })
        .collect();
    std::fs::write(file, out).unwrap();
}

/// `detect` on the burst scenario in `dir` (`more`: further options), then
/// the official scorer: its stderr, and the score that finds the burst
/// (one true positive within 300 m and 72 h of its start, no false
/// positive), as JSON.
fn detect_the_burst(
    net: &std::path::Path,
    sensors: &std::path::Path,
    dir: &std::path::Path,
    more: &[&str],
) -> (String, serde_json::Value) {
    let s = |p: &std::path::Path| p.display().to_string();
    let det = dir.join("detections.txt");
    let mut args = vec![
        "detect".to_string(),
        "--network".into(),
        s(net),
        "--sensors".into(),
        s(sensors),
        "--scada".into(),
        s(dir),
        "--out".into(),
        s(&det),
    ];
    args.extend(more.iter().map(|m| m.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let log = String::from_utf8_lossy(&run(&args).stderr).to_string();
    let scored = run(&[
        "score",
        "--network",
        &s(net),
        "--leaks",
        &s(&dir.join("leakages_info.yalm")),
        "--flows",
        &s(&dir.join("leak_flows_m3h.csv")),
        &s(&det),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&scored.stdout).unwrap();
    assert_eq!(v["true_positives"], 1, "{v}\n{log}");
    assert_eq!(v["false_positives"], 0, "{v}\n{log}");
    let first = &v["leak_detections"][0];
    assert!(first["delay_h"].as_f64().unwrap() <= 72.0, "{v}");
    assert!(first["distance_m"].as_f64().unwrap() <= 300.0, "{v}");
    (log, v)
}

/// The 10-day L-Town scenario with one abrupt leak of 6–8 L/s (seed 7)
/// in `dir`.
fn burst_scenario(net: &std::path::Path, sensors: &std::path::Path, dir: &std::path::Path) {
    let _ = std::fs::remove_dir_all(dir);
    let s = |p: &std::path::Path| p.display().to_string();
    run(&[
        "scenario",
        "--network",
        &s(net),
        "--sensors",
        &s(sensors),
        "--days",
        "10",
        "--leaks",
        "1",
        "--uncertainty",
        "0.10",
        "--seed",
        "7",
        "--min-leak-lps",
        "6",
        "--max-leak-lps",
        "8",
        "--incipient-share",
        "0",
        "--out",
        &s(dir),
    ]);
}

#[test]
fn ltown_big_leak_is_detected_and_localized() {
    let net = networks_dir().join("L-TOWN.inp");
    let sensors = root().join("sensors/ltown-battledim.toml");
    let dir = std::env::temp_dir().join(format!("aquatwin-leak-e2e-{}", std::process::id()));
    let s = |p: &std::path::Path| p.display().to_string();
    burst_scenario(&net, &sensors, &dir);
    // Break one pressure sensor (stuck from the second row on) and drop a
    // demand column entirely: both must be excluded, not taken for leaks.
    let p = dir.join("SCADA_Pressures.csv");
    let text = std::fs::read_to_string(&p).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let stuck = lines[1].split(';').nth(5).unwrap().to_string();
    for l in lines.iter_mut().skip(1) {
        let mut f: Vec<&str> = l.split(';').collect();
        f[5] = &stuck;
        *l = f.join(";");
    }
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    keep_columns(&dir.join("SCADA_Demands.csv"), &|c| c != "n3");

    let rep = dir.join("report.json");
    let (log, _) = detect_the_burst(&net, &sensors, &dir, &["--report", &s(&rep)]);
    assert!(
        log.contains("n105") && log.contains("stuck") && log.contains("excluded"),
        "{log}"
    );
    assert!(log.contains("column 'n3' missing"), "{log}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&rep).unwrap()).unwrap();
    assert!(
        report["alarms"][0]["candidate_pipes"]
            .as_array()
            .unwrap()
            .len()
            > 1
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Without the flow meters on L-Town's reservoir links there is no water
/// balance: the consumption the 33 pressure sensors imply finds the same
/// burst, at its pipe, within 72 h, with no false alarm.
#[test]
fn without_a_water_balance_the_pressures_find_the_burst() {
    let net = networks_dir().join("L-TOWN.inp");
    let sensors = root().join("sensors/ltown-battledim.toml");
    let dir = std::env::temp_dir().join(format!("aquatwin-leak-pf-{}", std::process::id()));
    burst_scenario(&net, &sensors, &dir);
    keep_columns(&dir.join("SCADA_Flows.csv"), &|c| {
        c != "p227" && c != "p235"
    });
    let (log, _) = detect_the_burst(&net, &sensors, &dir, &[]);
    assert!(
        log.contains("detection falls back to the pressures"),
        "{log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Metering that cannot close the water balance (reservoir links without
/// flow meters carrying most of the supply, a tank without its level):
/// detection falls back to the pressures and says so, naming what is
/// missing; with the fallback off (or too few pressure sensors) it is an
/// error that names what is missing, with a non-zero exit: never a note
/// and silence. One unmetered reservoir link beside metered ones is
/// estimated from the model's split of the supply, with a note saying so.
#[test]
fn metering_that_cannot_close_a_water_balance_falls_back_or_is_refused() {
    let net = networks_dir().join("L-TOWN.inp");
    let dir = std::env::temp_dir().join(format!("aquatwin-metering-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let s = |p: &std::path::Path| p.display().to_string();
    run(&[
        "scenario",
        "--network",
        &s(&net),
        "--days",
        "3",
        "--leaks",
        "0",
        "--seed",
        "3",
        "--out",
        &s(&dir),
    ]);
    // No level file at all, and neither p227 nor p235 in the flows (the
    // links out of L-Town's reservoirs that carry most of its supply).
    let flows = std::fs::read_to_string(dir.join("SCADA_Flows.csv")).unwrap();
    let detect = |dir: &std::path::Path| {
        Command::new(aquatwin_bin())
            .args(["detect", "--network", &s(&net), "--scada", &s(dir), "--out"])
            .arg(dir.join("detections.txt"))
            .output()
            .unwrap()
    };
    // One reservoir link unmetered (p227): the balance estimates its share
    // of the supply from the model and says so.
    keep_columns(&dir.join("SCADA_Flows.csv"), &|c| c != "p227");
    let out = detect(&dir);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("reservoir link(s) p227 have no usable flow meter")
            && log.contains("estimates their supply from the model's split"),
        "{log}"
    );
    std::fs::write(dir.join("SCADA_Flows.csv"), &flows).unwrap();
    std::fs::remove_file(dir.join("SCADA_Levels.csv")).unwrap();
    keep_columns(&dir.join("SCADA_Flows.csv"), &|c| {
        c != "p227" && c != "p235"
    });
    let gaps = |log: &str| {
        log.contains("tank T1 has no usable level sensor")
            && log.contains("link p227 has no usable flow meter")
            && log.contains("link p235 has no usable flow meter")
    };
    let rep = dir.join("report.json");
    let out = Command::new(aquatwin_bin())
        .args(["detect", "--network", &s(&net), "--scada", &s(&dir)])
        .args(["--report", &s(&rep), "--out"])
        .arg(dir.join("detections.txt"))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(
        gaps(&log) && log.contains("detection falls back to the pressures"),
        "{log}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&rep).unwrap()).unwrap();
    assert_eq!(report["balance"], "pressures");
    let out = Command::new(aquatwin_bin())
        .args(["detect", "--network", &s(&net), "--scada", &s(&dir)])
        .args(["--set", "pressure_fallback=false", "--out"])
        .arg(dir.join("detections.txt"))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{log}");
    assert!(
        log.contains("the metering cannot support leak detection") && gaps(&log),
        "{log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Without `--sensors` on a network other than L-Town, `detect` says that it
/// needs the utility's sensor map, instead of listing L-Town's sensors as errors.
#[test]
fn another_network_without_a_sensor_map_is_told_to_give_one() {
    let dir = std::env::temp_dir().join(format!("aquatwin-nomap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(aquatwin_bin())
        .arg("detect")
        .arg("--network")
        .arg(networks_dir().join("Net3.inp"))
        .arg("--scada")
        .arg(&dir)
        .arg("--out")
        .arg(dir.join("d.txt"))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{log}");
    assert!(
        log.contains("--sensors MAP.toml") && log.lines().count() <= 3,
        "{log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
