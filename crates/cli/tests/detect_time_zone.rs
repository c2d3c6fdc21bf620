//! `aquatwin detect` with a sensor map that declares its zone: the
//! timestamps are local times of that zone, and the model's patterns follow
//! the local clock. The same L-TOWN export read as UTC and as Europe/Paris
//! wall-clock time (January: UTC+1) gives the same detections an hour apart
//! in UTC (the same local times); the export moved an hour later and read as
//! UTC is other data (its demand peaks an hour off the patterns); a Paris
//! export that names a local time skipped by the spring change is refused
//! with its file and line.

mod support;

use std::path::Path;
use std::process::Command;
use support::{networks_dir, root};

fn run(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_aquatwin"))
        .args(args)
        .output()
        .expect("run aquatwin");
    out
}

fn ok(args: &[&str]) {
    let out = run(args);
    assert!(
        out.status.success(),
        "aquatwin {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Copies the SCADA files of `from` to `to`, each timestamp moved `hours`
/// later (the layout `YYYY-MM-DD HH:MM:SS;…`).
fn shift_timestamps(from: &Path, to: &Path, hours: i64) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        if !name.starts_with("SCADA_") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        let mut out = String::new();
        for (i, line) in text.lines().enumerate() {
            if i == 0 || line.is_empty() {
                out += line;
            } else {
                let (ts, rest) = line.split_once(';').unwrap();
                let t = telemetry::time::parse_timestamp(ts).unwrap() + hours * 3_600_000;
                out += &format!("{};{rest}", telemetry::time::format_timestamp(t));
            }
            out.push('\n');
        }
        std::fs::write(to.join(name), out).unwrap();
    }
}

#[test]
fn a_declared_zone_is_read_and_patterns_follow_its_clock() {
    let net = networks_dir().join("L-TOWN.inp");
    assert!(net.exists(), "{} missing", net.display());
    let net = net.to_str().unwrap();
    let dir = std::env::temp_dir().join(format!("aquatwin-tz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let utc = dir.join("utc");
    ok(&[
        "scenario",
        "--network",
        net,
        "--days",
        "10",
        "--leaks",
        "1",
        "--seed",
        "7",
        "--out",
        &s(&utc),
    ]);
    let paris = dir.join("paris");
    shift_timestamps(&utc, &paris, 1);
    let map_utc = root().join("sensors/ltown-battledim.toml");
    let text = std::fs::read_to_string(&map_utc).unwrap();
    assert!(text.contains("\ntime_zone = \"UTC\"\n"));
    let map_paris = dir.join("paris.toml");
    std::fs::write(
        &map_paris,
        text.replace(
            "\ntime_zone = \"UTC\"\n",
            "\ntime_zone = \"Europe/Paris\"\n",
        ),
    )
    .unwrap();

    let detect = |scada: &Path, map: &Path, tag: &str| -> String {
        let out = dir.join(format!("{tag}.txt"));
        ok(&[
            "detect",
            "--network",
            net,
            "--sensors",
            &s(map),
            "--scada",
            &s(scada),
            "--out",
            &s(&out),
        ]);
        std::fs::read_to_string(out).unwrap()
    };
    let a = detect(&utc, &map_utc, "utc");
    let b = detect(&utc, &map_paris, "paris");
    assert!(!a.is_empty(), "no detection in the scenario");
    // The same local times, an hour earlier in UTC.
    let an_hour_earlier: String = a
        .lines()
        .map(|l| {
            let (pipe, t) = l.split_once(", ").unwrap();
            let ms = telemetry::time::parse_timestamp(t).unwrap() - 3_600_000;
            format!("{pipe}, {}\n", &telemetry::time::format_timestamp(ms)[..16])
        })
        .collect();
    assert_eq!(b, an_hour_earlier);
    // Read as UTC, the files moved an hour later are other data: the same
    // readings an hour off the model's clock.
    let c = detect(&paris, &map_utc, "paris-as-utc");
    assert_ne!(a, c);

    // A local time that does not exist in Paris (spring change) is refused.
    let gap = dir.join("gap");
    std::fs::create_dir_all(&gap).unwrap();
    let flows = std::fs::read_to_string(paris.join("SCADA_Flows.csv")).unwrap();
    let mut lines: Vec<String> = flows.lines().map(String::from).collect();
    lines[3] = format!(
        "2019-03-31 02:30:00;{}",
        lines[3].split_once(';').unwrap().1
    );
    std::fs::write(gap.join("SCADA_Flows.csv"), lines.join("\n") + "\n").unwrap();
    let out = run(&[
        "detect",
        "--network",
        net,
        "--sensors",
        &s(&map_paris),
        "--scada",
        &s(&gap),
        "--out",
        &s(&dir.join("gap.txt")),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("SCADA_Flows.csv:4: field 'Timestamp': local time '2019-03-31 02:30:00' does not exist in Europe/Paris"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
