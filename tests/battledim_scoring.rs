//! The BattLeDIM 2020 scorer against the organisers' own output: the three
//! submissions published with the 2019 data score exactly as the official
//! reports say (total and every per-detection line), through the library
//! and through `aquatwin score`; and the pipe-only distances agree with the
//! official `L-TOWN_node_distances_m.csv`.

use battledim::scoring::{parse_leak_labels, parse_results, ScoreParams, Scorer};
use conformance::*;
use network::graph::NetworkDistance;
use std::path::PathBuf;
use std::process::Command;

const SUBMISSIONS: [(&str, f64); 3] = [
    ("PERFECT_TEAM", 523_153.82),
    ("test_team", 523_153.82),
    ("test_team_multiple", 9_547.81),
];

fn read(p: &PathBuf) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn ltown() -> network::Network {
    let p = networks_dir().join("L-TOWN.inp");
    let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    network::inp::parse_inp_bytes(&bytes, "L-TOWN.inp").unwrap()
}

/// The lines of an official report that describe the scoring (from its last
/// run): per-detection entries, outcomes and scores, then the totals. The
/// reports are Windows-1252 (€ is byte 0x80).
fn official_lines(team: &str) -> Vec<String> {
    let p = battledim_dir().join(format!("expected_reports/{team}_report.txt"));
    let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let text: String = bytes
        .iter()
        .map(|&b| if b == 0x80 { '€' } else { b as char })
        .collect();
    scoring_lines(&text)
}

fn scoring_lines(report: &str) -> Vec<String> {
    let last_run = report.rsplit("Calculating score...").next().unwrap();
    last_run
        .lines()
        .map(str::trim)
        .filter(|l| {
            [
                "Detection entry",
                "Detected leakage",
                "NO detection",
                "Score:",
                "Total score",
                "True Positives",
                "False ",
            ]
            .iter()
            .any(|k| l.starts_with(k))
        })
        .map(String::from)
        .collect()
}

/// Our lines must equal the official ones; a report that stops early (the
/// PERFECT_TEAM one omits the counts) is compared as far as it goes.
fn assert_same_lines(team: &str, ours: &[String]) {
    let official = official_lines(team);
    assert!(
        official.len() > 3,
        "{team}: no scoring lines in the official report"
    );
    assert!(
        ours.len() >= official.len(),
        "{team}: {} lines, official {}",
        ours.len(),
        official.len()
    );
    for (i, (o, a)) in official.iter().zip(ours).enumerate() {
        assert_eq!(a, o, "{team}: scoring line {} differs", i + 1);
    }
}

#[test]
fn library_scores_match_the_official_reports() {
    let dir = battledim_dir();
    let net = ltown();
    let labels_path = dir.join("2019_leakages_info.yalm");
    let labels = parse_leak_labels(&read(&labels_path), "2019_leakages_info.yalm").unwrap();
    assert_eq!(labels.len(), 23);
    let flows = read_leak_flows(&dir.join("2019_leak_flows_m3h.csv"));
    let scorer = Scorer::new(
        &net,
        labels,
        "2019_leakages_info.yalm",
        flows,
        ScoreParams::default(),
    )
    .unwrap();
    for (team, total) in SUBMISSIONS {
        let file = format!("{team}.txt");
        let results = parse_results(&read(&dir.join(&file)), &file).unwrap();
        let r = scorer.score(&results).unwrap();
        assert!(
            (r.score_eur - total).abs() < 0.005,
            "{team}: {} € vs official {total} €",
            r.score_eur
        );
        assert_same_lines(team, &scoring_lines(&r.render_text(team)));
    }
}

#[test]
fn binary_scores_match_the_official_reports() {
    let dir = battledim_dir();
    let bin = aquatwin_bin();
    let net = networks_dir().join("L-TOWN.inp");
    let run = |results: &PathBuf, json: bool| {
        let mut c = Command::new(&bin);
        c.arg("score").arg("--network").arg(&net);
        c.arg("--leaks").arg(dir.join("2019_leakages_info.yalm"));
        c.arg("--flows").arg(dir.join("2019_leak_flows_m3h.csv"));
        c.arg(results);
        if json {
            c.arg("--json");
        }
        c.output().expect("run aquatwin")
    };
    for (team, total) in SUBMISSIONS {
        let out = run(&dir.join(format!("{team}.txt")), true);
        assert!(
            out.status.success(),
            "{team}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
        let score = v["score_eur"].as_f64().expect("score_eur");
        assert!(
            (score - total).abs() < 0.005,
            "{team}: {score} € vs official {total} €"
        );
        let (tp, fp) = (
            v["true_positives"].as_u64().unwrap(),
            v["false_positives"].as_u64().unwrap(),
        );
        assert_eq!(
            (tp, fp),
            if team == "test_team_multiple" {
                (1, 1)
            } else {
                (23, 0)
            },
            "{team}"
        );
        assert!(v["detections"].as_array().is_some_and(|d| !d.is_empty()));

        let out = run(&dir.join(format!("{team}.txt")), false);
        assert!(out.status.success());
        assert_same_lines(team, &scoring_lines(&String::from_utf8_lossy(&out.stdout)));
    }

    // Bad results: located errors, exit status 1, no panic.
    let bad = std::env::temp_dir().join(format!("aquatwin-bad-results-{}.txt", std::process::id()));
    std::fs::write(&bad, "p257, 2019-01-01 00:05\np99999, 2019-01-01 00:05\n").unwrap();
    let out = run(&bad, false);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("{}:2: unknown pipe ID p99999", bad.display())),
        "{err}"
    );
    std::fs::write(
        &bad,
        "p257, 2019-01-01 00:05\np257 2019-01-01 00:05\np257, 2019-02-30 00:00\n",
    )
    .unwrap();
    let out = run(&bad, false);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(":2: expected `pipeID, YYYY-MM-DD HH:MM`")
            && err.contains(":3: bad timestamp"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    let _ = std::fs::remove_file(&bad);
}

/// The official node-distance matrix (`inf` where no pipe path exists).
fn official_node_distances() -> (Vec<String>, Vec<Vec<f64>>) {
    let p = battledim_dir().join("L-TOWN_node_distances_m.csv");
    let text = read(&p);
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .skip(1)
        .map(String::from)
        .collect();
    let mut rows = Vec::new();
    for (i, l) in lines.enumerate() {
        let mut f = l.split(',');
        assert_eq!(
            f.next(),
            Some(header[i].as_str()),
            "row {} is not in header order",
            i + 2
        );
        rows.push(
            f.map(|v| {
                v.parse::<f64>()
                    .unwrap_or_else(|_| panic!("row {}: {v:?}", i + 2))
            })
            .collect::<Vec<_>>(),
        );
    }
    assert_eq!(rows.len(), header.len());
    (header, rows)
}

fn close(ours: f64, official: f64) -> bool {
    if official.is_infinite() || ours.is_infinite() {
        return ours == official;
    }
    (ours - official).abs() <= 1e-6 * official.abs().max(1.0)
}

#[test]
fn distances_agree_with_the_official_node_distances() {
    let net = ltown();
    let g = NetworkDistance::pipes_only(&net);
    let (names, official) = official_node_distances();
    assert_eq!(
        names.len(),
        net.nodes.len(),
        "every node of L-Town is in the matrix"
    );
    let idx: Vec<usize> = names
        .iter()
        .map(|n| net.node_index(n).unwrap_or_else(|| panic!("node {n}")))
        .collect();

    // Every node pair.
    for (i, row) in official.iter().enumerate() {
        let d = g.node_distances(&[idx[i]]);
        for (j, &o) in row.iter().enumerate() {
            assert!(
                close(d[idx[j]], o),
                "{} → {}: {} m, official {o} m",
                names[i],
                names[j],
                d[idx[j]]
            );
        }
    }

    // Every pipe pair: nearest end nodes in the official matrix plus half of
    // each pipe (0 for the same pipe).
    let pos: Vec<usize> = {
        let mut p = vec![usize::MAX; net.nodes.len()];
        for (row, &n) in idx.iter().enumerate() {
            p[n] = row;
        }
        p
    };
    let pipes: Vec<usize> = (0..net.links.len()).filter(|&k| g.measures(k)).collect();
    assert_eq!(pipes.len(), 905);
    let half = |k: usize| net.links[k].pipe().unwrap().length / 2.0;
    for &a in &pipes {
        let from = g.from_link(a).unwrap();
        let (a1, a2) = (pos[net.links[a].from], pos[net.links[a].to]);
        for &b in &pipes {
            let (b1, b2) = (pos[net.links[b].from], pos[net.links[b].to]);
            let expected = if a == b {
                0.0
            } else {
                let m = official[a1][b1]
                    .min(official[a1][b2])
                    .min(official[a2][b1])
                    .min(official[a2][b2]);
                m + half(a) + half(b)
            };
            let ours = from.to(b).unwrap();
            assert!(
                close(ours, expected),
                "{} ↔ {}: {ours} m, expected {expected} m",
                net.links[a].id,
                net.links[b].id
            );
        }
    }

    // The one distance an official report charges for: p632 for p653's leak
    // (10,458.0027 € of water − 10,047.8076 € scored = 410.195 € = x/300·500).
    let l = |id: &str| net.link_index(id).unwrap();
    let x = g.link_distance(l("p632"), l("p653")).unwrap();
    assert!((x - 246.117).abs() < 1e-3, "{x}");
}
