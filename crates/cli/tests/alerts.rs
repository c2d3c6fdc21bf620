//! `aquatwin alerts`: the state directory from `[twin] state_dir`, a table
//! and JSON, the state filter, and no store created by listing.

use std::path::PathBuf;
use std::process::Command;
use twin::alerts::{AlertStore, Candidate, LeakEvent, Resolution};

fn aquatwin(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_aquatwin"))
        .args(args)
        .output()
        .unwrap()
}

fn event(key: &str, pipe: &str) -> LeakEvent {
    LeakEvent {
        leak_key: key.into(),
        observed_ms: 1_546_300_800_000, // 2019-01-01 00:00 UTC
        estimated_start_ms: 1_546_297_200_000,
        size_lps: 2.5,
        confidence: 0.9,
        pipe: pipe.into(),
        also_pipe: None,
        candidates: vec![Candidate {
            pipe: pipe.into(),
            weight: 1.0,
        }],
        evidence: vec![],
        place_uncertain: false,
        at_pump: None,
    }
}

#[test]
fn lists_alerts_as_table_and_json() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-alerts");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("twin.toml");
    std::fs::write(
        &config,
        "sensors = \"m.toml\"\n[store]\nbackend = \"sqlite\"\npath = \"db.sqlite\"\n\
         [twin]\nstate_dir = \"state\"\n",
    )
    .unwrap();
    let cfg = config.to_str().unwrap();

    // No store yet: empty, and nothing created.
    let out = aquatwin(&["alerts", "--config", cfg, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");
    assert!(!dir.join("state").exists());

    {
        let mut store = AlertStore::open(&dir.join("state")).unwrap();
        store.upsert(&event("leak-a", "p257")).unwrap();
        store
            .upsert(&LeakEvent {
                place_uncertain: true,
                at_pump: Some("PU3".into()),
                confidence: 0.4,
                ..event("leak-c", "p99")
            })
            .unwrap();
        let id = store.upsert(&event("leak-b", "p31")).unwrap().alert().id;
        store
            .close(
                id,
                Resolution::FalseAlarm,
                Some("pump test"),
                1_546_400_000_000,
            )
            .unwrap();
    }

    let out = aquatwin(&["alerts", "--config", cfg]);
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert!(lines[0].starts_with("id  state"), "{table}");
    assert!(lines[0].contains("place"), "{table}");
    assert!(
        lines[1].contains("closed") && lines[1].contains("false_alarm"),
        "{table}"
    );
    assert!(
        lines[2].contains("uncertain, pump PU3's station") && lines[2].contains("p99"),
        "{table}"
    );
    assert!(
        lines[3].contains("2019-01-01 00:00:00")
            && lines[3].contains("p257")
            && lines[3].contains("located"),
        "{table}"
    );

    let out = aquatwin(&["alerts", "--config", cfg, "--json", "--state", "open"]);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = json.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["leak_key"], "leak-c");
    assert_eq!(list[0]["place_uncertain"], true);
    assert_eq!(list[0]["at_pump"], "PU3");
    assert_eq!(list[1]["leak_key"], "leak-a");
    assert_eq!(list[1]["state"], "open");
    assert_eq!(list[1]["size_lps"], 2.5);
    assert_eq!(list[1]["place_uncertain"], false);
    assert_eq!(list[1]["at_pump"], serde_json::Value::Null);

    let out = aquatwin(&["alerts", "--config", cfg, "--state", "bogus"]);
    assert!(!out.status.success());
}
