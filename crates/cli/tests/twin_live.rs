//! The live twin against a simulated field, all real parts: a week of
//! scenario history imported into SQLite and learnt (`aquatwin train`),
//! then `aquatwin field-sim` serves the same truth network over Modbus TCP
//! on loopback at an accelerated clock (1,800×) with a leak that starts
//! six hours in; `aquatwin run` polls it into the store, follows the data
//! step by step and raises the alert, read through the HTTP API. The run
//! is SIGKILLed once before the leak and restarted: exactly one alert,
//! with the leak's start.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{exe, free_port, http_get, import_and_train_first_week, networks_dir, ok};

struct Killed(Vec<Child>);
impl Drop for Killed {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn live_field_leak_reaches_the_api_through_a_sigkill() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let net = networks_dir().join("L-TOWN.inp");
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("twin-live-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let s = |p: &Path| p.display().to_string();
    let sc = dir.join("scada");
    ok(&[
        "scenario",
        "--network",
        &s(&net),
        "--sensors",
        &s(&root.join("sensors/ltown-battledim.toml")),
        "--days",
        "7",
        "--leaks",
        "0",
        "--uncertainty",
        "0.10",
        "--seed",
        "11",
        "--out",
        &s(&sc),
    ]);
    // The L-Town map, served on a free port, polled every 5 data minutes.
    let modbus = free_port();
    let map: String = std::fs::read_to_string(root.join("sensors/ltown-battledim.toml"))
        .unwrap()
        .lines()
        .map(|l| {
            if l.starts_with("port = ") {
                format!("port = {modbus}")
            } else if l.starts_with("poll_interval_s = ") {
                "poll_interval_s = 300".to_string()
            } else if l.starts_with("timeout_ms = ") {
                "timeout_ms = 100".to_string()
            } else {
                l.to_string()
            }
        })
        .map(|l| l + "\n")
        .collect();
    std::fs::write(dir.join("map.toml"), map).unwrap();
    let speed = 1800i64;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // Data time 2019-01-08 00:00 (the end of the history) at wall W.
    let wall_start = now + 12_000;
    let config = dir.join("twin.toml");
    std::fs::write(
        &config,
        format!(
            "sensors = \"map.toml\"\nnetwork = {:?}\n[store]\nbackend = \"sqlite\"\npath = \"store.sqlite\"\n\
             [twin]\nstate_dir = \"state\"\n[clock]\nspeed = {speed}\ndata_start = \"2019-01-08 00:00\"\n\
             wall_start_ms = {wall_start}\n",
            s(&net)
        ),
    )
    .unwrap();
    let config = s(&config);
    import_and_train_first_week(&sc, &config);
    // The field: the scenario's truth, its simulated time 0 at 2019-01-01
    // on the same data clock; an 8 L/s burst at 2019-01-08 06:00.
    let field_start = wall_start - 7 * 86_400_000 / speed;
    let mut procs = Killed(vec![Command::new(exe())
        .args([
            "field-sim",
            "--network",
            &s(&sc.join("truth.inp")),
            "--sensors",
            &s(&dir.join("map.toml")),
            "--speed",
            &speed.to_string(),
            "--start-wall-ms",
            &field_start.to_string(),
            "--leak",
            "p326:8@174:00",
            "--update",
            "0.05",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()]);
    let api = free_port();
    let listen = format!("127.0.0.1:{api}");
    let log = |name: &str| std::fs::File::create(dir.join(name)).unwrap();
    let start_run = |log_name: &str| {
        Command::new(exe())
            .args(["run", "--config", &config, "--listen", &listen])
            .env_remove("AQUATWIN_TOKEN")
            .stdout(Stdio::null())
            .stderr(log(log_name))
            .spawn()
            .unwrap()
    };
    procs.0.push(start_run("run-1.log"));
    // SIGKILL at about data time 03:00 (before the leak), then restart.
    let kill_at = wall_start + 3 * 3_600_000 / speed;
    while (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64)
        < kill_at
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut first = procs.0.pop().unwrap();
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    procs.0.push(start_run("run-2.log"));
    // The alert, through the API.
    let t0 = Instant::now();
    let mut alerts = serde_json::Value::Null;
    while t0.elapsed() < Duration::from_secs(240) {
        if let Some(body) = http_get(&format!("127.0.0.1:{api}"), "/api/alerts") {
            alerts = serde_json::from_str(&body).unwrap();
            if alerts.as_array().is_some_and(|a| !a.is_empty()) {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let list = alerts.as_array().cloned().unwrap_or_default();
    assert!(
        !list.is_empty(),
        "no alert within 240 s; run log:\n{}",
        std::fs::read_to_string(dir.join("run-2.log")).unwrap_or_default()
    );
    // Let the run go on a little: a restart must not duplicate it.
    std::thread::sleep(Duration::from_secs(3));
    let list: Vec<serde_json::Value> =
        serde_json::from_str(&http_get(&format!("127.0.0.1:{api}"), "/api/alerts").unwrap())
            .unwrap();
    assert_eq!(list.len(), 1, "one leak, one alert: {list:?}");
    let a = &list[0];
    let leak_start_ms = 1_546_927_200_000i64; // 2019-01-08 06:00 UTC
    let start = a["estimated_start_ms"].as_i64().unwrap();
    assert!(
        (start - leak_start_ms).abs() <= 3 * 3_600_000,
        "estimated start {start} vs the leak's {leak_start_ms}"
    );
    let size = a["size_lps"].as_f64().unwrap();
    assert!(
        (4.0..16.0).contains(&size),
        "size {size} L/s for an 8 L/s leak"
    );
    eprintln!(
        "alert: pipe {} size {size:.2} L/s confidence {}",
        a["pipe"], a["confidence"]
    );
    // The page counts the samples this run's ingest stored.
    let status: serde_json::Value =
        serde_json::from_str(&http_get(&format!("127.0.0.1:{api}"), "/api/status").unwrap())
            .unwrap();
    assert!(
        status["samples_ingested"].as_u64().is_some_and(|n| n > 0),
        "samples_ingested in {status}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
