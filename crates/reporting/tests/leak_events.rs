//! Leak events from a real live-twin run: an L-Town scenario with one
//! abrupt burst (seed 7, the CLI tests' burst scenario), imported into
//! SQLite, `aquatwin train` on its first week, `aquatwin run --until end`;
//! the operator closes the alert as repaired (through the twin's own
//! `AlertStore`, at a time in the data); `aquatwin report` must list the
//! alert in `leak_events` with its volumes, and mark it on the MNF chart.

mod support;

use std::path::Path;
use support::{csv_rows, networks_dir, ok, root, true_leak_volume};
use telemetry::time::parse_timestamp;

#[test]
fn twin_alerts_become_leak_events() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("report-leak-events-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let s = |p: &Path| p.display().to_string();
    let net = networks_dir().join("L-TOWN.inp");
    let sensors = root().join("sensors/ltown-battledim.toml");
    let sc = dir.join("scada");
    ok(&[
        "scenario",
        "--network",
        &s(&net),
        "--sensors",
        &s(&sensors),
        "--days",
        "10",
        "--leaks",
        "1",
        "--seed",
        "7",
        "--min-leak-lps",
        "6",
        "--max-leak-lps",
        "8",
        "--incipient-share",
        "0",
        "--out",
        &s(&sc),
    ]);
    let zones = std::fs::read_to_string(root().join("sensors/ltown-zones.toml")).unwrap();
    let config = dir.join("twin.toml");
    std::fs::write(
        &config,
        format!(
            "sensors = {:?}\nnetwork = {:?}\n[store]\nbackend = \"sqlite\"\npath = \"store.sqlite\"\n\
             [twin]\nstate_dir = \"state\"\n[reporting]\nconnections = 4000\n\
             night_use_l_per_conn_h = 1.7\n{zones}",
            s(&sensors),
            s(&net)
        ),
    )
    .unwrap();
    let config = s(&config);
    for kind in ["Pressures", "Flows", "Levels", "Demands"] {
        let f = sc.join(format!("SCADA_{kind}.csv"));
        ok(&["import-scada", &s(&f), "--config", &config]);
    }
    ok(&[
        "train",
        "--config",
        &config,
        "--from",
        "2019-01-01 00:00",
        "--to",
        "2019-01-08 00:00",
    ]);
    ok(&[
        "run",
        "--config",
        &config,
        "--until",
        "end",
        "--no-serve",
        "--no-ingest",
    ]);

    // The operator repairs the leak 12 hours after the alert.
    let state = dir.join("state");
    let mut store = twin::AlertStore::open(&state).unwrap();
    let alerts = store.list(None).unwrap();
    assert_eq!(alerts.len(), 1, "one burst, one alert: {alerts:?}");
    let a = alerts[0].clone();
    let repaired = a.raised_ms + 12 * 3_600_000;
    store
        .close(
            a.id,
            twin::alerts::Resolution::Repaired,
            Some("pipe clamp"),
            repaired,
        )
        .unwrap();
    drop(store);

    let (from, to) = ("2019-01-01", "2019-01-11");
    let out = dir.join("report");
    ok(&[
        "report",
        "--config",
        &config,
        "--from",
        from,
        "--to",
        to,
        "--period",
        "week",
        "--out",
        &s(&out),
    ]);
    let ev = csv_rows(&out.join("leak_events.csv"), ',');
    assert_eq!(ev.len(), 1, "{ev:?}");
    let r = &ev[0];
    assert_eq!(r["alert_id"], a.id.to_string());
    assert_eq!(r["resolution"], "repaired");
    assert_eq!(r["pipe"], a.pipe);
    assert!(["C", "A+B"].contains(&r["zone"].as_str()), "{r:?}");
    let t = |k: &str| parse_timestamp(&r[k]).unwrap();
    assert_eq!(t("raised"), a.raised_ms);
    assert_eq!(t("repaired"), repaired);
    assert_eq!(t("estimated_start"), a.estimated_start_ms);
    let flow: f64 = r["estimated_flow_lps"].parse().unwrap();
    assert_eq!(flow, a.size_lps);
    // Lost: from the estimated start to the repair; saved: from the
    // detection to the end of the period.
    let lost: f64 = r["volume_lost_m3"].parse().unwrap();
    let saved: f64 = r["volume_saved_m3"].parse().unwrap();
    let start = a.estimated_start_ms.max(parse_timestamp(from).unwrap());
    let want_lost = flow / 1000.0 * (repaired - start) as f64 / 1000.0;
    let want_saved = flow / 1000.0 * (parse_timestamp(to).unwrap() - a.raised_ms) as f64 / 1000.0;
    assert!(
        (lost - want_lost).abs() < 1e-6 * want_lost,
        "{lost} vs {want_lost}"
    );
    assert!(
        (saved - want_saved).abs() < 1e-6 * want_saved,
        "{saved} vs {want_saved}"
    );
    // Against the scenario's true leak flows over the same run.
    let truth = true_leak_volume(&sc, start, repaired);
    eprintln!(
        "leak event: estimated {lost:.1} m³ lost from {} to the repair, true {truth:.1} m³ ({:+.1} %); \
         saved {saved:.1} m³",
        r["estimated_start"],
        100.0 * (lost - truth) / truth
    );
    assert!(truth > 0.0, "the alert covers the true leak");
    assert!(
        (lost - truth).abs() <= 0.25 * truth,
        "estimated volume lost {lost} m³ is far from the true {truth} m³"
    );

    let svg = std::fs::read_to_string(out.join("mnf_trend.svg")).unwrap();
    let id = a.id;
    assert!(
        svg.contains(&format!("alert {id} raised")),
        "alert not marked"
    );
    assert!(
        svg.contains(&format!("alert {id} repaired")),
        "repair not marked"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<h2>leak_events</h2>"));
    assert!(html.contains(&s(&state.join("alerts.sqlite"))) || html.contains("alerts.sqlite"));
    let _ = std::fs::remove_dir_all(&dir);
}
