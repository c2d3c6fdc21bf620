//! Store faults during `run_ingest`, against real components: a pymodbus
//! device, a SQLite file locked by a second process (Python's sqlite3
//! holding `BEGIN EXCLUSIVE`), Debian's InfluxDB killed and restarted
//! mid-run, aquatwin restarted while InfluxDB is down. Each test counts, per sensor,
//! the ticks expected over the run, stored, lost and duplicated, and
//! requires 0 lost and 0 duplicated.

mod common;

use common::*;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use telemetry::ingest::{run_ingest, IngestOptions, IngestReport};
use telemetry::modbus::poller::DETAIL_NOT_RUNNING;
use telemetry::store::influx::{InfluxConfig, InfluxStore};
use telemetry::store::sqlite::SqliteStore;
use telemetry::store::Store;
use telemetry::time::now_ms;
use telemetry::{Quality, Sample, SensorMap};

const INTERVAL: i64 = 200;

fn map(port: u16) -> Arc<SensorMap> {
    let text = two_sensor_map("rtu", port);
    Arc::new(SensorMap::parse(&text, "store-faults.toml").unwrap())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn opts(health: Option<&Path>) -> IngestOptions {
    IngestOptions {
        batch_ms: 200,
        max_batch: 10_000,
        health_file: health.map(Path::to_path_buf),
        max_retry: Duration::from_millis(800),
        ..IngestOptions::default()
    }
}

/// Runs ingest until `script` (run on a blocking thread) returns.
fn ingest<S: Store + 'static>(
    rt: &tokio::runtime::Runtime,
    map: &Arc<SensorMap>,
    store: S,
    buffer: &Path,
    o: IngestOptions,
    script: impl FnOnce() + Send + 'static,
) -> IngestReport {
    let map = map.clone();
    let buffer = buffer.to_path_buf();
    rt.block_on(async move {
        let stop = async move {
            tokio::task::spawn_blocking(script).await.unwrap();
        };
        run_ingest(map, store, &buffer, o, stop).await
    })
    .unwrap()
}

/// The health file's JSON (`Null` while it is missing or half written).
fn health_json(p: &Path) -> serde_json::Value {
    std::fs::read_to_string(p)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

fn health_status(p: &Path) -> String {
    health_json(p)["status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Checks one sensor's samples over the run [t0, t1] (wall ms): every tick
/// from the first tick after t0 to the last before t1 stored exactly once.
/// Returns the counts for the log.
fn check_sensor(tag: &str, got: &[Sample], t0: i64, t1: i64) -> (usize, usize, usize, usize) {
    assert!(!got.is_empty(), "{tag}: nothing stored");
    let from = got.first().unwrap().ts_ms;
    let to = got.last().unwrap().ts_ms;
    assert!(
        from <= t0 + 3 * INTERVAL,
        "{tag}: first tick {from} long after the start {t0}"
    );
    assert!(
        to >= t1 - 3 * INTERVAL,
        "{tag}: last tick {to} long before the stop {t1}"
    );
    let c = grid_counts(got, INTERVAL, from, to);
    eprintln!(
        "{tag}: expected {}, stored {}, lost {}, duplicated {}",
        c.0, c.1, c.2, c.3
    );
    assert_eq!((c.2, c.3), (0, 0), "{tag}: lost / duplicated");
    assert_eq!(c.0, c.1);
    c
}

#[test]
fn sqlite_locked_by_another_process_loses_nothing() {
    let dir = scratch("sqlite-locked");
    let py = PyModbus::start(&dir);
    let map = map(py.port);
    let db = dir.join("db.sqlite");
    let health = dir.join("health.json");
    // A short busy timeout so the lock (held 3 s) outlasts it.
    let store = SqliteStore::open_with(&db, Duration::from_millis(500)).unwrap();
    let rt = runtime();
    let t0 = now_ms();
    let (db2, h2) = (db.clone(), health.clone());
    let rep = ingest(
        &rt,
        &map,
        store,
        &dir.join("buffer"),
        opts(Some(&health)),
        move || {
            wait_for(30, "first samples stored", || {
                SqliteStore::open(&db2)
                    .and_then(|mut s| s.query("p", 0, i64::MAX))
                    .is_ok_and(|v| v.len() >= 3)
            });
            let lock = SqliteLocker::lock(&db2);
            wait_for(30, "health: store_failing", || {
                health_status(&h2) == "store_failing"
            });
            std::thread::sleep(Duration::from_millis(2000));
            lock.release();
            wait_for(30, "health: ok again", || health_status(&h2) == "ok");
            std::thread::sleep(Duration::from_millis(600));
        },
    );
    let t1 = now_ms();
    assert!(rep.max_buffered > 0, "the lock sent samples to the buffer");
    assert_eq!(rep.left_in_buffer, 0);
    assert_eq!(rep.dropped, 0);
    assert_eq!(health_status(&health), "stopped");
    let mut st = SqliteStore::open(&db).unwrap();
    let mut stored = 0;
    for tag in ["p", "lvl"] {
        let got = st.query(tag, 0, i64::MAX).unwrap();
        stored += check_sensor(tag, &got, t0, t1).1;
        assert!(got.iter().all(|s| s.quality == Quality::Good), "{tag}");
    }
    assert_eq!(rep.samples as usize, stored, "every sample stored once");
    eprintln!(
        "sqlite locked: {stored} samples stored, at most {} buffered",
        rep.max_buffered
    );
}

#[test]
fn sqlite_locked_past_fail_exit_stops_and_keeps_the_samples() {
    let dir = scratch("sqlite-fail-exit");
    let py = PyModbus::start(&dir);
    let map = map(py.port);
    let db = dir.join("db.sqlite");
    let store = SqliteStore::open_with(&db, Duration::from_millis(200)).unwrap();
    let rt = runtime();
    let t0 = now_ms();
    let lock: Arc<Mutex<Option<SqliteLocker>>> = Default::default();
    let (db2, l2) = (db.clone(), lock.clone());
    let mut o = opts(None);
    o.fail_exit = Some(Duration::from_millis(1500));
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let rep = ingest(&rt, &map, store, &dir.join("buffer"), o, move || {
        std::thread::sleep(Duration::from_millis(600));
        *l2.lock().unwrap() = Some(SqliteLocker::lock(&db2));
        // Ingest stops by itself (fail_exit); this is only a safety net.
        let _ = done_rx.recv_timeout(Duration::from_secs(60));
    });
    let _ = done_tx.send(());
    let rep_failure = rep.store_failure.clone();
    assert!(
        rep_failure.as_deref().is_some_and(|m| m.contains("locked")),
        "{rep_failure:?}"
    );
    assert!(rep.left_in_buffer > 0);
    lock.lock().unwrap().take().unwrap().release();
    // The supervisor restarts it: the buffered samples arrive.
    let store = SqliteStore::open(&db).unwrap();
    let rep2 = ingest(&rt, &map, store, &dir.join("buffer"), opts(None), || {
        std::thread::sleep(Duration::from_millis(1000))
    });
    let t1 = now_ms();
    assert_eq!(rep2.left_in_buffer, 0);
    let mut st = SqliteStore::open(&db).unwrap();
    for tag in ["p", "lvl"] {
        let got = st.query(tag, 0, i64::MAX).unwrap();
        check_sensor(tag, &got, t0, t1);
    }
}

#[test]
fn influxdb_down_at_restart_or_mid_run_gaps_recorded_nothing_lost() {
    let dir = scratch("influx-restart");
    let py = PyModbus::start(&dir);
    let map = map(py.port);
    let influx = Arc::new(Mutex::new(Influx::start(&dir)));
    let url = influx.lock().unwrap().url();
    let store = || {
        let mut c = InfluxConfig::new(&url, "aquatwin_restart");
        c.timeout = Duration::from_secs(2);
        InfluxStore::new(c).unwrap()
    };
    let buffer = dir.join("buffer");
    let rt = runtime();
    let t0 = now_ms();
    let pause = || std::thread::sleep(Duration::from_millis(700));
    let run_for = |ms: u64| move || std::thread::sleep(Duration::from_millis(ms));

    // 1. InfluxDB up.
    let r1 = ingest(&rt, &map, store(), &buffer, opts(None), run_for(1500));
    assert_eq!(r1.left_in_buffer, 0);
    influx.lock().unwrap().kill();
    pause();
    // 2. Restarted while InfluxDB is down: the gap comes from state.json.
    let r2 = ingest(&rt, &map, store(), &buffer, opts(None), run_for(1500));
    assert!(r2.left_in_buffer > 0);
    pause();
    // 3. Down at start, back mid-run: the buffer goes first.
    let i3 = influx.clone();
    let health = dir.join("health.json");
    let h3 = health.clone();
    let r3 = ingest(
        &rt,
        &map,
        store(),
        &buffer,
        opts(Some(&health)),
        move || {
            std::thread::sleep(Duration::from_millis(800));
            i3.lock().unwrap().restart();
            // (The buffer is not opened here: that is the running ingest's.)
            wait_for(60, "buffer delivered", || {
                let v = health_json(&h3);
                v["status"] == "ok" && v["buffered_samples"] == 0
            });
            std::thread::sleep(Duration::from_millis(400));
        },
    );
    assert_eq!(r3.left_in_buffer, 0);
    influx.lock().unwrap().kill();
    pause();
    // 4. As 3, without state.json (a buffer directory from an older
    // version): the gap is completed once InfluxDB answers.
    std::fs::remove_file(buffer.join("state.json")).unwrap();
    let i4 = influx.clone();
    let r4 = ingest(&rt, &map, store(), &buffer, opts(None), move || {
        std::thread::sleep(Duration::from_millis(800));
        i4.lock().unwrap().restart();
        std::thread::sleep(Duration::from_millis(1500));
    });
    assert_eq!(r4.left_in_buffer, 0);
    pause();
    // 5. InfluxDB killed in the middle of a run, back later in the run.
    let i5 = influx.clone();
    let h5 = health.clone();
    let r5 = ingest(
        &rt,
        &map,
        store(),
        &buffer,
        opts(Some(&health)),
        move || {
            std::thread::sleep(Duration::from_millis(800));
            i5.lock().unwrap().kill();
            wait_for(60, "health: store_failing", || {
                health_status(&h5) == "store_failing"
            });
            std::thread::sleep(Duration::from_millis(600));
            i5.lock().unwrap().restart();
            wait_for(60, "health: ok", || health_status(&h5) == "ok");
            std::thread::sleep(Duration::from_millis(400));
        },
    );
    assert_eq!(r5.left_in_buffer, 0);
    assert!(r5.max_buffered > 0);
    let t1 = now_ms();

    let mut st = store();
    for tag in ["p", "lvl"] {
        let got = st.query(tag, 0, i64::MAX).unwrap();
        check_sensor(tag, &got, t0, t1);
        let not_running: Vec<i64> = got
            .iter()
            .filter(|s| s.quality == Quality::CommsLost && s.detail == DETAIL_NOT_RUNNING)
            .map(|s| s.ts_ms)
            .collect();
        let runs = not_running
            .windows(2)
            .filter(|w| w[1] - w[0] > INTERVAL)
            .count()
            + 1;
        eprintln!(
            "{tag}: {} ticks recorded as aquatwin-not-running, in {runs} gaps",
            not_running.len()
        );
        assert_eq!(runs, 4, "{tag}: the four restarts are recorded");
        assert!(
            got.iter().all(|s| s.quality == Quality::Good
                || (s.quality == Quality::CommsLost && s.detail == DETAIL_NOT_RUNNING)),
            "{tag}: only good samples and restart gaps"
        );
    }
}
