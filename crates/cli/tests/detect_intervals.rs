//! `detect` on data sampled every 1, 5 and 15 minutes, and on data of
//! another year in another time zone: the same leak scenario written each
//! way. The model step follows the data: quarter-hour readings run on a
//! 15-minute step (not filled onto 5 minutes) and minute readings on a
//! 1-minute step, each finding the leak (official scorer: a true positive
//! within 300 m; the coarser data may leave it below the confidence a
//! report needs, so every alarm of the report is scored). Minute readings
//! averaged into a configured 5-minute step (`step_s=300`) give exactly the
//! 5-minute answer. The same readings stamped in Asia/Tokyo local time in
//! 2023 give the same detections, shifted: the model's patterns follow the
//! local clock of the data, not UTC or BattLeDIM's 2019 origin.

mod support;

use jiff::civil::DateTime;
use jiff::ToSpan;
use std::path::Path;
use support::{ltown_burst_scenario, networks_dir, ok, root};

/// Rewrites every SCADA file of `from` into `to` with `f` applied to the
/// data rows (header kept).
fn rewrite(from: &Path, to: &Path, f: impl Fn(usize, &str) -> Vec<String>) {
    std::fs::create_dir_all(to).unwrap();
    for kind in ["Pressures", "Flows", "Levels", "Demands"] {
        let name = format!("SCADA_{kind}.csv");
        let text = std::fs::read_to_string(from.join(&name)).unwrap();
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if i == 0 {
                out.push(line.to_string());
            } else {
                out.extend(f(i - 1, line));
            }
        }
        std::fs::write(to.join(&name), out.join("\n") + "\n").unwrap();
    }
}

/// The report's model step and its alarms (reported or held back) as
/// `pipe, time` lines.
fn report(dir: &Path) -> (u64, String) {
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let alarms = report["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{}, {}\n",
                a["pipe"].as_str().unwrap(),
                a["time"].as_str().unwrap()
            )
        })
        .collect();
    (report["step_s"].as_u64().unwrap(), alarms)
}

#[test]
fn model_step_and_clock_follow_the_data() {
    let net = networks_dir().join("L-TOWN.inp");
    let sensors = root().join("sensors/ltown-battledim.toml");
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("intervals-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let s = |p: &Path| p.display().to_string();
    let five = dir.join("5min");
    ltown_burst_scenario(&five);
    // Minute data: each 5-minute reading held for its five minutes.
    let one = dir.join("1min");
    rewrite(&five, &one, |_, line| {
        let (ts, rest) = line.split_once(';').unwrap();
        (0..5)
            .map(|m| {
                let t = format!("{}{}:00", &ts[..14], {
                    let min: u32 = ts[14..16].parse().unwrap();
                    format!("{:02}", min + m)
                });
                format!("{t};{rest}")
            })
            .collect()
    });
    // Quarter-hour data: every third reading.
    let fifteen = dir.join("15min");
    rewrite(&five, &fifteen, |i, line| {
        if i % 3 == 0 {
            vec![line.to_string()]
        } else {
            vec![]
        }
    });
    // The same readings 1,520 days later (2023-03-01 on), stamped in Tokyo
    // local time (UTC+9, no daylight saving), with a map declaring it.
    let shift = 1520;
    let tokyo = dir.join("tokyo");
    rewrite(&five, &tokyo, |_, line| {
        let (ts, rest) = line.split_once(';').unwrap();
        let t: DateTime = ts.parse().unwrap();
        let t = t.checked_add(shift.days()).unwrap();
        vec![format!("{};{rest}", t.strftime("%Y-%m-%d %H:%M:%S"))]
    });
    let map = std::fs::read_to_string(&sensors).unwrap();
    assert!(map.contains("\ntime_zone = \"UTC\"\n"));
    let tokyo_map = dir.join("tokyo.toml");
    std::fs::write(
        &tokyo_map,
        map.replace("\ntime_zone = \"UTC\"\n", "\ntime_zone = \"Asia/Tokyo\"\n"),
    )
    .unwrap();

    let detect = |d: &Path, map: &Path, extra: &[&str]| -> String {
        let out = d.join("detections.txt");
        let mut args = vec![
            "detect".to_string(),
            "--network".into(),
            s(&net),
            "--sensors".into(),
            s(map),
            "--scada".into(),
            s(d),
            "--out".into(),
            s(&out),
            "--report".into(),
            s(&d.join("report.json")),
        ];
        args.extend(extra.iter().map(|x| x.to_string()));
        ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
        std::fs::read_to_string(out).unwrap()
    };
    // Alarms within 300 m of the leak while it runs (official scorer, on
    // BattLeDIM's 5-minute grid: times rounded down to it).
    let true_positives = |d: &Path, alarms: &str| -> u64 {
        let on_grid: String = alarms
            .lines()
            .map(|l| {
                let (pipe, t) = l.split_once(", ").unwrap();
                let min: u32 = t[14..16].parse().unwrap();
                format!("{pipe}, {}{:02}\n", &t[..14], min - min % 5)
            })
            .collect();
        std::fs::write(d.join("alarms.txt"), on_grid).unwrap();
        let score = ok(&[
            "score",
            "--network",
            &s(&net),
            "--leaks",
            &s(&five.join("leakages_info.yalm")),
            "--flows",
            &s(&five.join("leak_flows_m3h.csv")),
            &s(&d.join("alarms.txt")),
            "--json",
        ]);
        let v: serde_json::Value = serde_json::from_str(&score).unwrap();
        v["true_positives"].as_u64().unwrap_or(0)
    };

    let at5 = detect(&five, &sensors, &[]);
    assert!(!at5.is_empty(), "the 5-minute data give a detection");
    assert_eq!(report(&five).0, 300);
    // The pressure sensors' density: L-Town's 43.2 km of pipe (BattLeDIM's
    // description of the network) over its 33 pressure sensors.
    let full: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(five.join("report.json")).unwrap()).unwrap();
    let spacing = full["pressure_sensor_spacing_km"].as_f64().unwrap();
    assert!(
        (43.15 / 33.0..43.25 / 33.0).contains(&spacing),
        "a pressure sensor per {spacing} km"
    );

    // Quarter-hour data on a quarter-hour step.
    let at15 = detect(&fifteen, &sensors, &[]);
    let (step, alarms) = report(&fifteen);
    assert_eq!(step, 900, "15-minute data run on a 15-minute step");
    assert!(
        true_positives(&fifteen, &alarms) >= 1,
        "15-minute data: {at15}{alarms}"
    );

    // Minute data averaged into a configured 5-minute step: the 5-minute
    // answer exactly.
    assert_eq!(
        detect(&one, &sensors, &["--set", "step_s=300"]),
        at5,
        "minute data averaged into 5-minute steps"
    );
    assert_eq!(report(&one).0, 300);
    // Minute data on a minute step.
    let at1 = detect(&one, &sensors, &[]);
    let (step, alarms) = report(&one);
    assert_eq!(step, 60, "1-minute data run on a 1-minute step");
    assert!(
        true_positives(&one, &alarms) >= 1,
        "1-minute data: {at1}{alarms}"
    );

    // Another year, another zone: the same detections, at the same local
    // times (reported in UTC: 9 hours earlier).
    let in_tokyo = detect(&tokyo, &tokyo_map, &[]);
    let expected: String = at5
        .lines()
        .map(|l| {
            let (pipe, t) = l.split_once(", ").unwrap();
            let t: DateTime = t.parse().unwrap();
            let t = t.checked_add(shift.days()).unwrap() - 9.hours();
            format!("{pipe}, {}\n", t.strftime("%Y-%m-%d %H:%M"))
        })
        .collect();
    assert_eq!(in_tokyo, expected, "2023 data in Asia/Tokyo");
    let _ = std::fs::remove_dir_all(&dir);
}
