//! `aquatwin field-sim` serving the live hydraulic simulation of L-TOWN
//! with a leak, read over Modbus TCP by the project's own poller: the
//! pressure at the sensor next to the leak drops from the leak's time on.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{networks_dir, root};
use telemetry::modbus::poller::{poll_device, PollOptions, PollStats};
use telemetry::{Quality, SensorMap};

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    assert!(!v.is_empty());
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
fn field_sim_hydraulic_leak_drops_pressure_read_over_modbus() {
    let exe = env!("CARGO_BIN_EXE_aquatwin");
    let net = networks_dir().join("L-TOWN.inp");
    assert!(
        net.exists(),
        "{} missing (run network-models/fetch-networks or set AQUATWIN_NETWORKS)",
        net.display()
    );
    let map_path = root().join("sensors/ltown-battledim.toml");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // 600 simulated seconds per wall second: the leak at 1:00 is 6 s in.
    let speed = 600.0;
    let leak_s = 3600.0;
    // field-sim's simulated clock starts between t0 (before the spawn) and
    // its "ready" line: a sample at wall time ts is at simulated time
    // (ts − ready)·speed at least and (ts − t0)·speed at most.
    let t0 = Instant::now();
    let t0_ms = telemetry::time::now_ms();
    let mut child = Command::new(exe)
        .args(["field-sim", "--network"])
        .arg(&net)
        .arg("--sensors")
        .arg(&map_path)
        .args(["--port", &port.to_string()])
        .args(["--speed", "600", "--update", "0.1", "--duration", "30"])
        .args(["--leak", "p351:25@1:00"])
        .env("AQUATWIN_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _guard = Kill(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    assert!(line.starts_with("ready"), "field-sim: {line:?}");
    let ready_ms = telemetry::time::now_ms();

    // The poller, on the pressure RTU only, every 0.2 s.
    let text = std::fs::read_to_string(&map_path).unwrap();
    let mut map = SensorMap::parse(&text, "ltown-battledim.toml").unwrap();
    for d in &mut map.devices {
        d.port = port;
        d.poll_interval_ms = 200;
        d.timeout_ms = 150;
    }
    let dev = map
        .devices
        .iter()
        .position(|d| d.name == "rtu-pressure")
        .unwrap();
    let map = Arc::new(map);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let samples = rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(poll_device(
            map.clone(),
            dev,
            tx,
            stop_rx,
            Arc::new(PollStats::default()),
            PollOptions::default(),
        ));
        let mut all = Vec::new();
        let until = t0 + Duration::from_secs_f64((leak_s + 2400.0) / speed);
        while Instant::now() < until {
            if let Ok(Some(batch)) =
                tokio::time::timeout(Duration::from_millis(300), rx.recv()).await
            {
                all.extend(batch.into_iter().filter(|s| s.sensor == "n410"));
            }
        }
        let _ = stop_tx.send(true);
        let _ = task.await;
        all
    });
    let bad: Vec<_> = samples
        .iter()
        .filter(|s| s.quality != Quality::Good)
        .map(|s| format!("{:?}", s.quality))
        .collect();
    assert!(
        bad.len() <= 2,
        "n410 samples not good: {bad:?} (of {})",
        samples.len()
    );
    let sim_max = |s: &telemetry::Sample| (s.ts_ms - t0_ms) as f64 / 1000.0 * speed;
    let sim_min = |s: &telemetry::Sample| (s.ts_ms - ready_ms) as f64 / 1000.0 * speed;
    // Before: surely before 0:50; after: surely after 1:10.
    let good = |s: &&telemetry::Sample| s.quality == Quality::Good;
    let before: Vec<f64> = samples
        .iter()
        .filter(good)
        .filter(|s| sim_max(s) <= 3000.0)
        .filter_map(|s| s.value)
        .collect();
    let after: Vec<f64> = samples
        .iter()
        .filter(good)
        .filter(|s| sim_min(s) >= 4200.0)
        .filter_map(|s| s.value)
        .collect();
    assert!(
        before.len() >= 5 && after.len() >= 3,
        "{} samples before the leak, {} after ({} in all, ready after {} ms)",
        before.len(),
        after.len(),
        samples.len(),
        ready_ms - t0_ms
    );
    let (pb, pa) = (median(before.clone()), median(after.clone()));
    eprintln!(
        "n410 pressure: {pb:.2} m before the leak ({} samples), {pa:.2} m after ({} samples)",
        before.len(),
        after.len()
    );
    assert!(
        (15.0..60.0).contains(&pb),
        "n410 served {pb} m before the leak: the hydraulic truth, in m"
    );
    assert!(
        pa < pb - 5.0,
        "a 25 L/s leak at p351 lowers n410: {pb:.2} m before, {pa:.2} m after"
    );
}
