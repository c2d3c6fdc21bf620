//! Detection on a calibrated model, end to end on a short hard scenario
//! (L-Town, 25 % model uncertainty, 0.02 m pressure and 1 % flow noise,
//! a 6–8 L/s burst after two leak-free days):
//! - `aquatwin detect --calibrate` calibrates on the two training days,
//!   says so, runs on the calibrated model and records the calibration in
//!   its report;
//! - the twin with `[twin] calibrate = true`: `aquatwin train` calibrates
//!   on the same stored days and keeps the calibrated model with the
//!   training; `aquatwin run --until end` then raises the batch detector's
//!   alerts (the same method on the same data).

mod support;

use std::path::Path;
use support::{aquatwin, networks_dir, ok, root, sqlite_twin_config};

fn lines(path: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

#[test]
fn detect_and_twin_train_on_a_calibrated_model() {
    let net = networks_dir().join("L-TOWN.inp");
    let sensors = root().join("sensors/ltown-battledim.toml");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("detect-calibrate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let s = |p: &Path| p.display().to_string();
    let sc = dir.join("scada");
    ok(&[
        "scenario",
        "--network",
        &s(&net),
        "--sensors",
        &s(&sensors),
        "--days",
        "5",
        "--leak-free-days",
        "2",
        "--leaks",
        "1",
        "--uncertainty",
        "0.25",
        "--pressure-noise",
        "0.02",
        "--flow-noise",
        "0.01",
        "--min-leak-lps",
        "6",
        "--max-leak-lps",
        "8",
        "--incipient-share",
        "0",
        "--seed",
        "5",
        "--out",
        &s(&sc),
    ]);

    // The batch detector with --calibrate.
    let det = dir.join("detections.txt");
    let rep = dir.join("report.json");
    let out = aquatwin(&[
        "detect",
        "--network",
        &s(&net),
        "--sensors",
        &s(&sensors),
        "--scada",
        &s(&sc),
        "--train-days",
        "2",
        "--calibrate",
        "--out",
        &s(&det),
        "--alerts",
        &s(&dir.join("alerts.txt")),
        "--report",
        &s(&rep),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("calibration on 2019-01-01 00:00 to 2019-01-03 00:00 (576 rows"),
        "{err}"
    );
    assert!(err.contains("on the calibrated model"), "{err}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&rep).unwrap()).unwrap();
    let cal = &report["calibration"];
    assert_eq!(cal["used"], true, "{cal}");
    assert_eq!(cal["rows"], 576);
    let (before, after) = (
        cal["pressure_rmse_before_m"].as_f64().unwrap(),
        cal["pressure_rmse_after_m"].as_f64().unwrap(),
    );
    assert!(after < before, "pressure RMSE {before} → {after}");
    // Pressure offsets are among the parameters, next to the groups.
    let params = cal["parameters"].as_array().unwrap();
    assert!(
        params
            .iter()
            .any(|p| p[0].as_str().unwrap().starts_with("offset: ")),
        "{cal}"
    );
    let expected = lines(&det);
    assert!(!expected.is_empty(), "the burst is found: {err}");
    // The operator alerts (`--alerts`): every report, and the new leaks
    // whose place is uncertain, which the report lists as `unlocated`.
    let alerts = lines(&dir.join("alerts.txt"));
    let unlocated = report["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["unlocated"] == true)
        .count();
    assert_eq!(alerts.len(), expected.len() + unlocated, "{alerts:?}");
    assert!(expected.iter().all(|l| alerts.contains(l)), "{alerts:?}");
    // Other groups: a bad file is a located error, before any calibration.
    let bad = dir.join("bad-groups.toml");
    std::fs::write(&bad, "[pumps]\nspeed = [\"nope\"]\n").unwrap();
    let out = aquatwin(&[
        "detect",
        "--network",
        &s(&net),
        "--sensors",
        &s(&sensors),
        "--scada",
        &s(&sc),
        "--train-days",
        "2",
        "--calibrate",
        "--calibration-groups",
        &s(&bad),
        "--out",
        &s(&dir.join("unused.txt")),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("bad-groups.toml:2") && err.contains("'nope' is no link"),
        "{err}"
    );

    // The twin, calibrated by its configuration.
    let config = sqlite_twin_config(&dir, &sensors, &net, "calibrate = true\n");
    ok(&["import-scada", &s(&sc), "--config", &config]);
    let said = ok(&[
        "train",
        "--config",
        &config,
        "--from",
        "2019-01-01 00:00",
        "--to",
        "2019-01-03 00:00",
    ]);
    assert!(said.contains("calibration on 2019-01-01 00:00"), "{said}");
    assert!(said.contains("(calibrated model)"), "{said}");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("state/training.json")).unwrap())
            .unwrap();
    assert_eq!(saved["calibration"]["summary"]["used"], true);
    assert!(saved["calibration"]["model_inp"]
        .as_str()
        .unwrap()
        .contains("[PIPES]"));
    ok(&[
        "run",
        "--config",
        &config,
        "--until",
        "end",
        "--no-serve",
        "--no-ingest",
    ]);
    let alerts: serde_json::Value =
        serde_json::from_str(&ok(&["alerts", "--config", &config, "--json"])).unwrap();
    let pipes: Vec<&str> = alerts
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| [a["pipe"].as_str(), a["also_pipe"].as_str()])
        .flatten()
        .collect();
    let want: Vec<&str> = expected
        .iter()
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(
        {
            let mut p = pipes.clone();
            p.sort();
            p
        },
        want,
        "the twin's alerts are the batch detector's"
    );
}

/// `scenario --model-drift`: the field drifted from the model by group
/// (what calibration is for); the factors drawn are in scenario.json, and a
/// share outside [0, 1) is an error that names the option (so is
/// `--demand-noise`'s).
#[test]
fn scenario_model_drift_records_its_factors() {
    let net = networks_dir().join("Net3.inp");
    let sensors = root().join("sensors/net3-utility.toml");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("scenario-drift-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let s = |p: &Path| p.display().to_string();
    let args = |drift: &str, out: &Path| {
        vec![
            "scenario".to_string(),
            "--network".into(),
            s(&net),
            "--sensors".into(),
            s(&sensors),
            "--days".into(),
            "3".into(),
            "--leak-free-days".into(),
            "1".into(),
            "--leaks".into(),
            "0".into(),
            "--model-drift".into(),
            drift.into(),
            "--out".into(),
            s(out),
        ]
    };
    let run = |drift: &str, out: &Path| {
        let a = args(drift, out);
        aquatwin(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let out = run("0.2", &dir.join("drift"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("drift/scenario.json")).unwrap())
            .unwrap();
    let f = sc["drift_factors"].as_array().unwrap();
    assert!(f.iter().any(|x| x["kind"] == "roughness"), "{f:?}");
    assert!(f.iter().any(|x| x["kind"] == "demand"), "{f:?}");
    for x in f {
        let v = x["factor"].as_f64().unwrap();
        assert!((0.8..=1.2).contains(&v), "{x}");
    }
    let out = run("1.5", &dir.join("bad"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--model-drift 1.5"), "{err}");
    // The consumers' noise has its own option, checked the same way.
    let mut a = args("0", &dir.join("bad-noise"));
    a.extend(["--demand-noise".to_string(), "1.5".into()]);
    let out = aquatwin(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--demand-noise 1.5"), "{err}");
}
