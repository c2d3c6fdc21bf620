//! The packaging in `docker/`, tested with real tools: `docker/test-stack`
//! builds the twin's image from `docker/Dockerfile` with podman, and
//! podman-compose reads `docker/compose.yaml` (all three services) and runs
//! its twin and InfluxDB (plus a simulated field) until the containerised
//! twin has stored good samples of every sensor. Grafana cannot be started here (no package
//! or image reachable), so its provisioning is checked as files: the
//! dashboard parses and uses the provisioned data source and the store's
//! measurement.

use conformance::*;
use std::process::Command;

#[test]
fn grafana_dashboard_uses_the_provisioned_source_and_the_store_layout() {
    let dir = root().join("docker/grafana/provisioning");
    let sources = std::fs::read_to_string(dir.join("datasources/influxdb.yaml")).unwrap();
    assert!(sources.contains("uid: aquatwin") && sources.contains("database: aquatwin"));
    let dash: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("dashboards/aquatwin.json")).unwrap())
            .expect("the dashboard is JSON");
    let panels = dash["panels"].as_array().expect("panels");
    assert!(!panels.is_empty());
    for p in panels {
        assert_eq!(p["datasource"]["uid"], "aquatwin", "{}", p["title"]);
        for t in p["targets"].as_array().unwrap() {
            let q = t["query"].as_str().unwrap();
            // The InfluxDB store's layout (telemetry::store::influx).
            assert!(
                q.contains("FROM \"samples\"") && q.contains("\"sensor\""),
                "{q}"
            );
        }
    }
    let provider = std::fs::read_to_string(dir.join("dashboards/aquatwin.yaml")).unwrap();
    assert!(provider.contains("path: /etc/grafana/provisioning/dashboards"));
}

#[test]
fn compose_stack_runs_the_twin_image_into_influxdb() {
    let out = Command::new(root().join("docker/test-stack"))
        .current_dir(root())
        .arg(aquatwin_bin())
        .output()
        .expect("docker/test-stack");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("stack: "),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprint!("{stdout}");
}
