//! `detect` on data sampled every 1, 5 and 15 minutes: the same leak
//! scenario written at each interval. Minute readings are averaged into
//! the 5-minute model step (readings constant within a step give exactly
//! the 5-minute answer); 15-minute readings are interpolated onto it, and
//! the leak still raises an alarm localized within 300 m (official scorer:
//! a true positive; the coarser data may leave it below the confidence a
//! report needs, so every alarm of the report is scored).

mod support;

use std::path::Path;
use support::{ltown_burst_scenario, networks_dir, ok};

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

#[test]
fn one_five_and_fifteen_minute_data() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let net = networks_dir().join("L-TOWN.inp");
    let sensors = root.join("sensors/ltown-battledim.toml");
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
    let detect = |d: &Path| -> String {
        let out = d.join("detections.txt");
        ok(&[
            "detect",
            "--network",
            &s(&net),
            "--sensors",
            &s(&sensors),
            "--scada",
            &s(d),
            "--out",
            &s(&out),
            "--report",
            &s(&d.join("report.json")),
        ]);
        std::fs::read_to_string(out).unwrap()
    };
    let at5 = detect(&five);
    assert!(!at5.is_empty(), "the 5-minute data give a detection");
    assert_eq!(
        detect(&one),
        at5,
        "minute data averaged into 5-minute steps"
    );
    let at15 = detect(&fifteen);
    // Every alarm of the 15-minute report, reported or held back.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fifteen.join("report.json")).unwrap())
            .unwrap();
    let alarms: String = report["alarms"]
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
    std::fs::write(fifteen.join("alarms.txt"), &alarms).unwrap();
    let score = ok(&[
        "score",
        "--network",
        &s(&net),
        "--leaks",
        &s(&five.join("leakages_info.yalm")),
        "--flows",
        &s(&five.join("leak_flows_m3h.csv")),
        &s(&fifteen.join("alarms.txt")),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&score).unwrap();
    assert!(
        v["true_positives"].as_u64().unwrap_or(0) >= 1,
        "15-minute data: {at15}{alarms}\n{score}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
