//! The report against the truth: `aquatwin scenario` generates a leaky
//! truth (known leak flows) with SCADA files and a billing file (true
//! customer consumption per junction and month), `aquatwin import-scada`
//! stores the SCADA in SQLite, and `aquatwin report` must find the true
//! leak volume: top-down within 5 % given exact billing, from night flow
//! within 15 % over 4 weeks. A rerun writes the same files; the same
//! measurements read from exported files (`--input`) give the same
//! tables; without pressure sensors the model's pressures are used.
//!
//! Network: Hanoi (31 junctions, one reservoir; no pump or tank, so every
//! EPANET step is on the 5-minute grid) with a diurnal demand pattern
//! added, since the published file has none. Seed 11 was used while
//! developing. Seeds 23 and 47, run once by hand afterwards (BENCHMARKS.md):
//! top-down within 0.01 % on both; night flow +7.9 % on 47 but −22.5 % on
//! 23, where the zone's night-day factor does not fit a leak on the source
//! main. The second test runs the live twin on seed 23: once its alert
//! is confirmed (repaired), that leak gets the night-day factor of its own
//! pressure (−4.6 %); evaluation seeds: `scripts/bench-night-flow`.
//!
//! Needs the `aquatwin` executable beside `aquatwin-report` (both are
//! built by `cargo test --workspace`; alone: `cargo build --profile ci -p cli`).

mod support;

use std::path::{Path, PathBuf};
use support::{csv_rows, networks_dir, ok};

/// Hanoi with a diurnal pattern (ID 1, the default pattern; peak 0.9 so
/// that pressures stay above the design minimum).
fn hanoi_diurnal(dir: &Path) -> PathBuf {
    // The file may have CRLF line ends (the shared copy does): without
    // normalizing them the pattern would silently not be added.
    let text = std::fs::read_to_string(networks_dir().join("Hanoi.inp"))
        .unwrap()
        .replace("\r\n", "\n");
    let pattern = "[PATTERNS]\n 1 0.35 0.30 0.28 0.28 0.30 0.40 0.60 0.80 0.90 0.85 0.80 0.75\n \
                   1 0.75 0.70 0.70 0.70 0.75 0.85 0.90 0.85 0.75 0.60 0.50 0.40\n";
    assert!(
        text.contains("[PATTERNS]\n"),
        "Hanoi.inp has no [PATTERNS] section"
    );
    let text = text.replacen("[PATTERNS]\n", pattern, 1);
    let p = dir.join("hanoi-diurnal.inp");
    std::fs::write(&p, text).unwrap();
    p
}

/// Sensor map: the reservoir outlet's flow, pressure and AMR (demand) at
/// every junction.
fn sensor_map(dir: &Path) -> PathBuf {
    sensor_map_as(dir, "map.toml", true)
}

/// The same map, with or without the pressure sensors, as `dir/name`.
fn sensor_map_as(dir: &Path, name: &str, pressures: bool) -> PathBuf {
    let mut m = String::from(
        "[[sensor]]\ntag = \"q1\"\nkind = \"flow\"\nlink = \"1\"\nunit = \"m3/h\"\ninterval_s = 300\n\
         range = [-100000, 100000]\nscada = { file = \"Flows\", column = \"q1\" }\n",
    );
    for j in 2..=32 {
        if pressures {
            m += &format!(
                "\n[[sensor]]\ntag = \"p{j}\"\nkind = \"pressure\"\nnode = \"{j}\"\nunit = \"m\"\n\
                 interval_s = 300\nrange = [-50, 200]\nscada = {{ file = \"Pressures\", column = \"{j}\" }}\n"
            );
        }
        m += &format!(
            "\n[[sensor]]\ntag = \"amr{j}\"\nkind = \"demand\"\nnode = \"{j}\"\nunit = \"L/h\"\n\
             interval_s = 300\nrange = [0, 100000000]\nscada = {{ file = \"Demands\", column = \"{j}\" }}\n"
        );
    }
    let p = dir.join(name);
    std::fs::write(&p, m).unwrap();
    p
}

/// A fresh folder `name-PID` holding Hanoi with its diurnal pattern, the
/// sensor map and a 28-day scenario of seed `seed` (2 leaks of 20–40 L/s,
/// the first `leak_free_days` without): (folder, network, scenario).
fn hanoi_field(name: &str, seed: u64, leak_free_days: u32) -> (PathBuf, PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let net = hanoi_diurnal(&dir);
    let map = sensor_map(&dir);
    let scen = dir.join("scenario");
    ok(&[
        "scenario",
        "--network",
        &s(&net),
        "--sensors",
        &s(&map),
        "--days",
        "28",
        "--leaks",
        "2",
        "--seed",
        &seed.to_string(),
        "--min-leak-lps",
        "20",
        "--max-leak-lps",
        "40",
        "--leak-free-days",
        &leak_free_days.to_string(),
        "--out",
        &s(&scen),
    ]);
    (dir, net, scen)
}

#[test]
fn real_losses_match_the_true_leak_volume() {
    let (dir, net, scen) = hanoi_field("aquatwin-report-truth", 11, 3);
    let s = |p: &Path| p.to_str().unwrap().to_string();
    // twin.toml: no [[zones]], so the zone is detected (cut at the meter).
    let cfg = dir.join("twin.toml");
    std::fs::write(
        &cfg,
        format!(
            "sensors = \"map.toml\"\nnetwork = \"{}\"\n[store]\nbackend = \"sqlite\"\npath = \"store.sqlite\"\n\
             [reporting]\n# the generator's leaks are orifices (emitter exponent 0.5)\nn1 = 0.5\n",
            s(&net)
        ),
    )
    .unwrap();
    ok(&["import-scada", &s(&scen), "--config", &s(&cfg)]);
    let out = dir.join("report");
    let report = |out: &Path| {
        ok(&[
            "report",
            "--config",
            &s(&cfg),
            "--from",
            "2019-01-01",
            "--to",
            "2019-01-29",
            "--period",
            "month",
            "--billing",
            &s(&scen.join("billing").join("billing.csv")),
            "--out",
            &s(out),
        ])
    };
    report(&out);

    // The truth: leak flows (m³/h) at each 5-minute step, held for the step.
    let mut truth = 0.0;
    let mut truth_days = std::collections::BTreeMap::<String, f64>::new();
    for r in csv_rows(&scen.join("leak_flows_m3h.csv"), ',') {
        let q: f64 = r
            .iter()
            .filter(|(k, _)| *k != "Timestamp")
            .map(|(_, v)| v.parse::<f64>().unwrap())
            .sum();
        truth += q / 12.0;
        *truth_days
            .entry(r["Timestamp"][..10].to_string())
            .or_default() += q / 12.0;
    }
    assert!(
        truth > 1000.0,
        "the scenario has almost no leak volume: {truth} m³"
    );

    let wb = csv_rows(&out.join("water_balance.csv"), ',');
    assert_eq!(wb.len(), 1, "one zone, one month: {wb:?}");
    let real: f64 = wb[0]["real_losses_m3"].parse().unwrap();
    let err = (real - truth) / truth;
    eprintln!(
        "top-down real losses {real:.1} m³, true leak volume {truth:.1} m³ ({:+.2} %)",
        100.0 * err
    );
    assert!(err.abs() <= 0.05, "top-down {real} vs truth {truth}");

    let nf = csv_rows(&out.join("night_flow.csv"), ',');
    assert_eq!(nf.len(), 28, "one row per full day");
    let night: f64 = nf
        .iter()
        .map(|r| r["real_losses_m3_day"].parse::<f64>().unwrap())
        .sum();
    let err = (night - truth) / truth;
    eprintln!(
        "night-flow real losses {night:.1} m³ over 28 days ({:+.2} %)",
        100.0 * err
    );
    assert!(err.abs() <= 0.15, "night flow {night} vs truth {truth}");

    for f in [
        "ili.csv",
        "data_validity.csv",
        "daily_input_vs_billed.svg",
        "mnf_trend.svg",
        "nrw_per_zone.svg",
        "report.html",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    // No live twin ran: no alert store, an empty leak_events table.
    assert!(csv_rows(&out.join("leak_events.csv"), ',').is_empty());
    let dv = csv_rows(&out.join("data_validity.csv"), ',');
    assert!(
        dv.iter().all(|r| r["score"] == "10"),
        "complete data scores 10: {dv:?}"
    );

    // Idempotent: a rerun writes the same bytes.
    let again = dir.join("report2");
    report(&again);
    for f in [
        "water_balance.csv",
        "night_flow.csv",
        "ili.csv",
        "report.html",
    ] {
        assert_eq!(
            std::fs::read(out.join(f)).unwrap(),
            std::fs::read(again.join(f)).unwrap(),
            "{f} differs between two runs"
        );
    }

    // Without pressure sensors, the zone's pressures come from the model
    // (an extended-period simulation with its patterns): its night-day
    // factor and average pressure stay within 10 % of the measured ones
    // (the scenario's truth network differs from the model by its 10 %
    // uncertainty and its leaks).
    sensor_map_as(&dir, "map-nop.toml", false);
    let cfg_nop = dir.join("twin-nop.toml");
    std::fs::write(
        &cfg_nop,
        std::fs::read_to_string(&cfg)
            .unwrap()
            .replace("map.toml", "map-nop.toml"),
    )
    .unwrap();
    let nop = dir.join("report-nop");
    ok(&[
        "report",
        "--config",
        &s(&cfg_nop),
        "--from",
        "2019-01-01",
        "--to",
        "2019-01-29",
        "--period",
        "month",
        "--out",
        &s(&nop),
    ]);
    let (nf_model, nf_meas) = (
        csv_rows(&nop.join("night_flow.csv"), ','),
        csv_rows(&out.join("night_flow.csv"), ','),
    );
    assert!(nf_model.iter().all(|r| r["pressure_source"] == "model"));
    assert!(nf_meas.iter().all(|r| r["pressure_source"] == "sensors"));
    let mean = |rows: &[std::collections::HashMap<String, String>], k: &str| {
        rows.iter()
            .map(|r| r[k].parse::<f64>().unwrap())
            .sum::<f64>()
            / rows.len() as f64
    };
    let (a, b) = (mean(&nf_model, "ndf_zone_h"), mean(&nf_meas, "ndf_zone_h"));
    eprintln!("zone NDF: model {a:.2} h, sensors {b:.2} h");
    assert!((a - b).abs() <= 0.1 * b, "model NDF {a} vs measured {b}");
    let (il_model, il_meas) = (
        csv_rows(&nop.join("ili.csv"), ','),
        csv_rows(&out.join("ili.csv"), ','),
    );
    assert_eq!(il_model[0]["pressure_source"], "model");
    let (a, b) = (
        mean(&il_model, "avg_pressure_m"),
        mean(&il_meas, "avg_pressure_m"),
    );
    eprintln!("average zone pressure: model {a:.2} m, sensors {b:.2} m");
    assert!(
        (a - b).abs() <= 0.1 * b,
        "model pressure {a} vs measured {b}"
    );
    assert!(std::fs::read_to_string(nop.join("report.html"))
        .unwrap()
        .contains("the model (extended-period simulation"));

    // The same measurements from exported files (`--input`) instead of the
    // store give the same tables: pressures as `aquatwin export` Parquet
    // files, flows and AMR gathered into one long CSV.
    let ex = dir.join("export");
    std::fs::create_dir_all(&ex).unwrap();
    let mut inputs = Vec::new();
    let mut long = String::from("timestamp,tag,value,quality\n");
    let export = |tag: &str, format: &str, file: &Path| {
        ok(&[
            "export",
            "--config",
            &s(&cfg),
            "--sensor",
            tag,
            "--from",
            "2019-01-01",
            "--to",
            "2019-01-30",
            "--format",
            format,
            "--output",
            &s(file),
        ]);
    };
    for j in 2..=32 {
        let f = ex.join(format!("p{j}.parquet"));
        export(&format!("p{j}"), "parquet", &f);
        inputs.push(f);
    }
    for tag in std::iter::once("q1".to_string()).chain((2..=32).map(|j| format!("amr{j}"))) {
        let f = ex.join(format!("{tag}.csv"));
        export(&tag, "csv", &f);
        for line in std::fs::read_to_string(&f).unwrap().lines().skip(1) {
            let (t, rest) = line.split_once(',').unwrap();
            long += &format!("{t},{tag},{rest}\n");
        }
    }
    let long_file = ex.join("long.csv");
    std::fs::write(&long_file, long).unwrap();
    inputs.push(long_file);
    let from_files = dir.join("report-input");
    let mut args: Vec<String> = [
        "report",
        "--config",
        &s(&cfg),
        "--from",
        "2019-01-01",
        "--to",
        "2019-01-29",
        "--period",
        "month",
        "--billing",
        &s(&scen.join("billing").join("billing.csv")),
        "--out",
        &s(&from_files),
    ]
    .map(String::from)
    .to_vec();
    for f in &inputs {
        args.push("--input".into());
        args.push(s(f));
    }
    ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    for f in [
        "water_balance.csv",
        "night_flow.csv",
        "ili.csv",
        "data_validity.csv",
    ] {
        assert_eq!(
            std::fs::read_to_string(out.join(f)).unwrap(),
            std::fs::read_to_string(from_files.join(f)).unwrap(),
            "{f}: the store and the exported files differ"
        );
    }
    // A bad input file is refused with its place.
    let bad = ex.join("bad.csv");
    std::fs::write(
        &bad,
        "timestamp,tag,value\n2019-01-01 00:00,p2,60\n2019-01-01 00:05,p2,high\n",
    )
    .unwrap();
    let out2 = std::process::Command::new(support::aquatwin())
        .args([
            "report",
            "--config",
            &s(&cfg),
            "--from",
            "2019-01-01",
            "--to",
            "2019-01-02",
            "--out",
            &s(&dir.join("r-bad")),
            "--input",
            &s(&bad),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out2.stderr);
    assert!(!out2.status.success());
    assert!(err.contains("bad.csv:3: field 'value'"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The night-flow estimate with a leak the live twin located: Hanoi, seed
/// 23 — the seed where the zone's night-day factor misses a leak on the
/// reservoir's outlet main (pipe 1) by about 20 % (the development seed of
/// the located-leak split; evaluation seeds in BENCHMARKS.md,
/// `scripts/bench-night-flow`). Seven leak-free days for the twin's
/// training, `aquatwin run`, then the crew closes as repaired the alerts
/// whose pipe carries a true leak; the report's night-flow real losses
/// must be within 15 % of the true leak volume.
#[test]
fn located_leaks_get_their_own_night_day_factor() {
    let (dir, net, scen) = hanoi_field("aquatwin-report-located", 23, 7);
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let cfg = dir.join("twin.toml");
    let base = format!(
        "sensors = \"map.toml\"\nnetwork = \"{}\"\n[store]\nbackend = \"sqlite\"\npath = \"store.sqlite\"\n\
         [twin]\nstate_dir = \"state\"\n[reporting]\nn1 = 0.5\n",
        s(&net)
    );
    std::fs::write(&cfg, &base).unwrap();
    let cfg_none = dir.join("twin-none.toml");
    std::fs::write(&cfg_none, format!("{base}located_leaks = \"none\"\n")).unwrap();
    ok(&["import-scada", &s(&scen), "--config", &s(&cfg)]);
    ok(&[
        "train",
        "--config",
        &s(&cfg),
        "--from",
        "2019-01-01 00:00",
        "--to",
        "2019-01-08 00:00",
    ]);
    ok(&[
        "run",
        "--config",
        &s(&cfg),
        "--until",
        "end",
        "--no-serve",
        "--no-ingest",
    ]);
    // The crew: a leak is found (and repaired) only where it is.
    let truth_pipes: Vec<String> = std::fs::read_to_string(scen.join("leakages_info.yalm"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split(',').next().unwrap().trim().to_string())
        .collect();
    let end = telemetry::time::parse_timestamp("2019-01-29").unwrap();
    let mut store = twin::AlertStore::open(&dir.join("state")).unwrap();
    let mut repaired = 0;
    let alerts = store.list(None).unwrap();
    eprintln!(
        "alerts on pipes {:?}",
        alerts.iter().map(|a| &a.pipe).collect::<Vec<_>>()
    );
    for a in alerts {
        if truth_pipes.contains(&a.pipe) {
            store
                .close(a.id, twin::alerts::Resolution::Repaired, None, end)
                .unwrap();
            repaired += 1;
        }
    }
    drop(store);
    assert!(
        repaired > 0,
        "the twin located a true leak (leaks on {truth_pipes:?})"
    );
    let truth = support::true_leak_volume(&scen, 0, end);
    let night = |cfg: &Path, out: &str| -> (f64, usize) {
        let out = dir.join(out);
        ok(&[
            "report",
            "--config",
            &s(cfg),
            "--from",
            "2019-01-01",
            "--to",
            "2019-01-29",
            "--period",
            "month",
            "--out",
            &s(&out),
        ]);
        let rows = csv_rows(&out.join("night_flow.csv"), ',');
        (
            rows.iter()
                .map(|r| r["real_losses_m3_day"].parse::<f64>().unwrap())
                .sum(),
            rows.iter().filter(|r| r["located_leaks"] != "0").count(),
        )
    };
    let (zone_only, _) = night(&cfg_none, "report-none");
    let (located, days) = night(&cfg, "report");
    let err = |x: f64| 100.0 * (x - truth) / truth;
    eprintln!(
        "night-flow real losses: zone night-day factor {:+.2} %, with located leaks {:+.2} % \
         ({days} days with a located leak)",
        err(zone_only),
        err(located)
    );
    assert!(days > 0, "the repaired leak is used");
    assert!(
        err(located).abs() <= 15.0,
        "night flow {located} vs truth {truth}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
