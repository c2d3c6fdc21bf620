//! Device faults between the poller and a real Modbus server (pymodbus):
//! a connection dropped in the middle of a response, a device too slow to
//! answer. Every tick must still yield exactly one sample per sensor, the
//! faults marked, and polling must recover. A gateway that closes the
//! connection after every answer costs no tick. (Exception responses and
//! garbage values are in `modbus_pymodbus.rs`.)

mod common;

use common::*;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;
use telemetry::store::sqlite::SqliteStore;
use telemetry::store::Store;
use telemetry::{Quality, SensorMap};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PASS: u8 = 0;
const DROP_MID_RESPONSE: u8 = 1;
const SLOW: u8 = 2;
/// A gateway that closes the connection after each answer.
const CLOSE_AFTER_ANSWER: u8 = 3;

/// A TCP relay in front of the device that misbehaves on demand.
async fn proxy(listener: tokio::net::TcpListener, upstream: u16, mode: Arc<AtomicU8>) {
    loop {
        let Ok((mut client, _)) = listener.accept().await else {
            return;
        };
        let mode = mode.clone();
        tokio::spawn(async move {
            let Ok(mut up) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await else {
                return;
            };
            let mut req = [0u8; 300];
            let mut resp = [0u8; 300];
            loop {
                let Ok(n) = client.read(&mut req).await else {
                    return;
                };
                if n == 0 || up.write_all(&req[..n]).await.is_err() {
                    return;
                }
                let Ok(m) = up.read(&mut resp).await else {
                    return;
                };
                if m == 0 {
                    return;
                }
                match mode.load(Ordering::SeqCst) {
                    DROP_MID_RESPONSE => {
                        let _ = client.write_all(&resp[..m / 2]).await;
                        return; // both connections close
                    }
                    SLOW => tokio::time::sleep(Duration::from_millis(400)).await,
                    _ => {}
                }
                if client.write_all(&resp[..m]).await.is_err() {
                    return;
                }
                if mode.load(Ordering::SeqCst) == CLOSE_AFTER_ANSWER {
                    let _ = client.shutdown().await;
                    return;
                }
            }
        });
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The fault-injecting proxy in front of the device at `device_port`, on a
/// loopback port of its own (returned), behaving as `mode` says.
fn start_proxy(rt: &tokio::runtime::Runtime, device_port: u16, mode: Arc<AtomicU8>) -> u16 {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    rt.spawn(proxy(listener, device_port, mode));
    port
}

#[test]
fn dropped_and_slow_device_every_tick_recorded_once() {
    let dir = scratch("faults");
    let db_path = dir.join("db.sqlite");
    let py = PyModbus::start(&dir);
    let rt = runtime();
    let mode = Arc::new(AtomicU8::new(PASS));
    let proxy_port = start_proxy(&rt, py.port, mode.clone());
    let text = two_sensor_map("flaky", proxy_port);
    let map = Arc::new(SensorMap::parse(&text, "faults.toml").unwrap());
    let store = SqliteStore::open(&db_path).unwrap();
    let m2 = mode.clone();
    let rep = rt
        .block_on(async move {
            let script = async move {
                for (phase, ms) in [
                    (PASS, 1000),
                    (DROP_MID_RESPONSE, 1000),
                    (PASS, 1200),
                    (SLOW, 1000),
                    (PASS, 1500),
                ] {
                    m2.store(phase, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
            };
            let opts = telemetry::ingest::IngestOptions {
                batch_ms: 200,
                max_batch: 10_000,
                ..Default::default()
            };
            telemetry::ingest::run_ingest(map, store, &dir.join("buffer"), opts, script).await
        })
        .unwrap();
    let mut st = SqliteStore::open(&db_path).unwrap();
    let p = st.query("p", 0, i64::MAX).unwrap();
    let l = st.query("lvl", 0, i64::MAX).unwrap();
    let ticks = assert_complete_grid(&p, 200);
    assert_eq!(assert_complete_grid(&l, 200), ticks);
    assert_eq!(
        rep.samples as usize,
        2 * ticks,
        "every sample handed over was stored, once"
    );
    let count = |v: &[telemetry::Sample], q: Quality| v.iter().filter(|s| s.quality == q).count();
    assert!(
        count(&p, Quality::CommsLost) + count(&l, Quality::CommsLost) >= 3,
        "dropped connection marked"
    );
    assert!(
        count(&p, Quality::Timeout) >= 3,
        "slow device marked as time-out"
    );
    assert!(count(&p, Quality::Good) >= 15);
    assert!(
        p.iter()
            .rev()
            .take(4)
            .all(|s| s.quality == Quality::Good && s.value == Some(50.0)),
        "recovered"
    );
    assert!(p
        .iter()
        .all(|s| s.quality == Quality::Good || s.value.is_none()));
    eprintln!(
        "faults: {ticks} ticks; p: {} good, {} comms lost, {} time-out",
        count(&p, Quality::Good),
        count(&p, Quality::CommsLost),
        count(&p, Quality::Timeout)
    );
}

#[test]
fn gateway_closing_after_each_answer_costs_no_tick() {
    let dir = scratch("gateway");
    let db_path = dir.join("db.sqlite");
    let py = PyModbus::start(&dir);
    let rt = runtime();
    let port = start_proxy(&rt, py.port, Arc::new(AtomicU8::new(CLOSE_AFTER_ANSWER)));
    // Two sensors in two tables: two requests per tick, each on a
    // connection the gateway closed after the previous answer.
    let text = two_sensor_map("gw", port);
    let map = Arc::new(SensorMap::parse(&text, "gateway.toml").unwrap());
    let store = SqliteStore::open(&db_path).unwrap();
    let t0 = telemetry::time::now_ms();
    let rep = rt
        .block_on(async move {
            let opts = telemetry::ingest::IngestOptions {
                batch_ms: 200,
                max_batch: 10_000,
                ..Default::default()
            };
            telemetry::ingest::run_ingest(
                map,
                store,
                &dir.join("buffer"),
                opts,
                tokio::time::sleep(Duration::from_millis(4000)),
            )
            .await
        })
        .unwrap();
    let t1 = telemetry::time::now_ms();
    let mut st = SqliteStore::open(&db_path).unwrap();
    for tag in ["p", "lvl"] {
        let got = st.query(tag, 0, i64::MAX).unwrap();
        let (from, to) = (got[0].ts_ms, got.last().unwrap().ts_ms);
        assert!(from <= t0 + 600 && to >= t1 - 600, "{tag}: covers the run");
        let (expected, stored, lost, dup) = grid_counts(&got, 200, from, to);
        eprintln!(
            "gateway {tag}: expected {expected}, stored {stored}, lost {lost}, duplicated {dup}"
        );
        assert_eq!((lost, dup), (0, 0), "{tag}");
        let bad: Vec<_> = got.iter().filter(|s| s.quality != Quality::Good).collect();
        assert!(bad.is_empty(), "{tag}: ticks not good: {bad:?}");
    }
    assert_eq!(rep.left_in_buffer, 0);
}

/// A device that refuses connections: the poller retries after 1, 2, 4, 4, …
/// ticks (back-off capped at 0.8 s = 4 ticks of 0.2 s), exactly as logged,
/// and every tick in between is recorded as comms lost.
#[test]
fn refused_device_backoff_retries_exactly_on_the_logged_ticks() {
    use telemetry::modbus::poller::{poll_device, PollOptions, PollStats};
    let port = free_port(); // nothing listens there
    let text = format!(
        "[[device]]\nname = \"off\"\nhost = \"127.0.0.1\"\nport = {port}\npoll_interval_s = 0.2\ntimeout_ms = 100\n\
         [[sensor]]\ntag = \"p\"\nkind = \"pressure\"\nnode = \"a\"\nunit = \"m\"\ninterval_s = 1\nrange = [0, 100]\n\
         modbus = {{ device = \"off\", table = \"holding\", address = 0, type = \"f32\" }}\n"
    );
    let map = Arc::new(SensorMap::parse(&text, "off.toml").unwrap());
    let rt = runtime();
    let attempts = rt.block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let stats = Arc::new(PollStats::default());
        let opts = PollOptions {
            max_backoff: Duration::from_millis(800),
            ..PollOptions::default()
        };
        let task = tokio::spawn(poll_device(map, 0, tx, stop_rx, stats.clone(), opts));
        // Per tick (its samples arrive after its connect attempt): the
        // ticks at which the number of connects went up.
        let (mut first, mut seen, mut attempts) = (None, 0, vec![]);
        while let Some(batch) = rx.recv().await {
            for s in &batch {
                assert_eq!(s.quality, Quality::CommsLost);
            }
            let ts = batch[0].ts_ms;
            let k = (ts - *first.get_or_insert(ts)) / 200;
            let c = stats.connects.load(Ordering::SeqCst);
            if c > seen {
                assert_eq!(c, seen + 1, "one attempt per tick at most");
                seen = c;
                attempts.push(k);
            }
            if k >= 24 {
                break;
            }
        }
        let _ = stop_tx.send(true);
        drop(rx);
        let _ = task.await;
        attempts
    });
    assert_eq!(attempts, [0, 1, 3, 7, 11, 15, 19, 23]);
}
