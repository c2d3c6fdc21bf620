//! The Grafana dashboard's queries against what `aquatwin run` writes into
//! a real InfluxDB (Debian's `influxd`): a scenario's SCADA imported, the
//! twin trained and run to the end of the data; then every panel's InfluxQL
//! (from `docker/grafana/provisioning/dashboards/aquatwin.json`, its
//! variables filled in as Grafana does) returns data — pressures, flows,
//! levels and demands by their `kind` tag, the model's residuals at the
//! sensors (`TAG@residual`) and the open-alert count (`twin@open_alerts`)
//! included (the not-good-samples panel may be
//! empty on clean data; its query must still run).

#[path = "../../telemetry/tests/common/mod.rs"]
mod common;
mod support;

use support::{http_get, import_and_train_first_week, ltown_burst_scenario, networks_dir, ok};

use std::path::Path;

#[test]
fn every_dashboard_panel_has_data_from_the_live_twin() {
    let dir = common::scratch("dashboard-data");
    let influx = common::Influx::start(&dir);
    let root = common::root();
    let s = |p: &Path| p.display().to_string();
    let net = networks_dir().join("L-TOWN.inp");
    let sensors = root.join("sensors/ltown-battledim.toml");
    let sc = dir.join("scada");
    ltown_burst_scenario(&sc);
    let config = dir.join("twin.toml");
    std::fs::write(
        &config,
        format!(
            "sensors = {:?}\nnetwork = {:?}\n[store]\nbackend = \"influxdb\"\nurl = {:?}\n\
             database = \"aquatwin\"\n[twin]\nstate_dir = \"state\"\n",
            s(&sensors),
            s(&net),
            influx.url()
        ),
    )
    .unwrap();
    let config = s(&config);
    import_and_train_first_week(&sc, &config);
    ok(&[
        "run",
        "--config",
        &config,
        "--until",
        "end",
        "--no-serve",
        "--no-ingest",
    ]);
    let dash: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root.join("docker/grafana/provisioning/dashboards/aquatwin.json")).unwrap(),
    )
    .unwrap();
    let mut titles = Vec::new();
    for p in dash["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().unwrap() {
            // Grafana's substitutions: a multi-value variable as a regex
            // alternation, the dashboard's time range, the interval.
            let q = t["query"]
                .as_str()
                .unwrap()
                .replace("$sensor", "(n1|n4|PUMP_1|T1|amr_n1)")
                .replace(
                    "$timeFilter",
                    "time >= '2019-01-01T00:00:00Z' AND time < '2019-01-11T00:00:00Z'",
                )
                .replace("$__interval", "1h");
            let path = format!("/query?db=aquatwin&epoch=ms&q={}", urlencode(&q));
            let host = influx.url().trim_start_matches("http://").to_string();
            let body = http_get(&host, &path).expect("InfluxDB answers the query");
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            let series = v["results"][0]["series"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let values: usize = series
                .iter()
                .map(|s| {
                    s["values"]
                        .as_array()
                        .map_or(0, |v| v.iter().filter(|r| !r[1].is_null()).count())
                })
                .sum();
            assert!(
                v["results"][0].get("error").is_none(),
                "panel {:?}: {q}: {body}",
                p["title"]
            );
            // Clean data have no bad samples: that panel may be empty.
            if !q.contains("\"quality\" > 0") {
                assert!(
                    values > 0,
                    "panel {:?}: no data for {q}: {body}",
                    p["title"]
                );
            }
            titles.push(p["title"].as_str().unwrap().to_string());
        }
    }
    for want in ["Pressures", "Flows", "Pressure residuals", "Flow residuals"] {
        assert!(titles.iter().any(|t| t.starts_with(want)), "a panel {want}");
    }
    assert!(titles.iter().any(|t| t.contains("Open leak alerts")));
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
