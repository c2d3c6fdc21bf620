//! The poller against a Modbus server nobody here wrote (pymodbus), and the
//! proof that aquatwin only reads.

mod common;

use common::*;
use std::sync::Arc;
use std::time::Duration;
use telemetry::store::sqlite::SqliteStore;
use telemetry::store::Store;
use telemetry::{Quality, SensorMap};

fn map(port: u16, interval_s: f64) -> SensorMap {
    let text = format!(
        r#"
[[device]]
name = "py"
host = "127.0.0.1"
port = {port}
unit_id = 1
poll_interval_s = {interval_s}
timeout_ms = 150

[[sensor]]
tag = "h_f32"
kind = "pressure"
node = "a"
unit = "m"
interval_s = 1
range = [0, 100]
modbus = {{ device = "py", table = "holding", address = 0, type = "f32" }}

[[sensor]]
tag = "h_i16"
kind = "flow"
link = "l"
unit = "L/s"
interval_s = 1
range = [-200, 200]
modbus = {{ device = "py", table = "holding", address = 2, type = "i16" }}

[[sensor]]
tag = "garbage"
kind = "pressure"
node = "b"
unit = "m"
interval_s = 1
range = [0, 100]
modbus = {{ device = "py", table = "holding", address = 10, type = "f32" }}

[[sensor]]
tag = "in_f32"
kind = "tank_level"
node = "t"
unit = "m"
interval_s = 1
range = [0, 10]
modbus = {{ device = "py", table = "input", address = 0, type = "f32" }}

[[sensor]]
tag = "in_oor"
kind = "pressure"
node = "c"
unit = "m"
interval_s = 1
range = [0, 100]
modbus = {{ device = "py", table = "input", address = 2, type = "f32" }}

[[sensor]]
tag = "undefined"
kind = "pressure"
node = "d"
unit = "m"
interval_s = 1
range = [0, 100]
modbus = {{ device = "py", table = "input", address = 100, type = "u16" }}
"#
    );
    SensorMap::parse(&text, "pymodbus-test.toml").unwrap()
}

#[test]
fn pymodbus_registers_qualities_and_read_only() {
    let dir = scratch("pymodbus");
    let py = PyModbus::start(&dir);
    let map = Arc::new(map(py.port, 0.2));
    let store = SqliteStore::open(&dir.join("db.sqlite")).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let rep = rt
        .block_on(async {
            telemetry::ingest::run_ingest(
                map.clone(),
                store,
                &dir.join("buffer"),
                telemetry::ingest::IngestOptions {
                    batch_ms: 200,
                    max_batch: 10_000,
                    ..Default::default()
                },
                tokio::time::sleep(Duration::from_millis(2500)),
            )
            .await
        })
        .unwrap();
    assert_eq!(rep.left_in_buffer, 0);
    let mut st = SqliteStore::open(&dir.join("db.sqlite")).unwrap();
    let get = |st: &mut SqliteStore, t: &str| st.query(t, 0, i64::MAX).unwrap();
    let ticks = assert_complete_grid(&get(&mut st, "h_f32"), 200);
    assert!(ticks >= 10, "only {ticks} ticks in 2.5 s at 200 ms");
    for s in &map.sensors {
        let v = get(&mut st, &s.tag);
        assert_eq!(v.len(), ticks, "sensor {}: one sample per tick", s.tag);
        assert_complete_grid(&v, 200);
    }
    let h = get(&mut st, "h_f32");
    assert!(h
        .iter()
        .all(|s| s.quality == Quality::Good && s.value == Some(50.0)));
    let i16 = get(&mut st, "h_i16");
    assert!(i16
        .iter()
        .all(|s| s.quality == Quality::Good && (s.value.unwrap() + 0.123).abs() < 1e-12));
    let g = get(&mut st, "garbage");
    assert!(g
        .iter()
        .all(|s| s.quality == Quality::BadValue && s.value.is_none()));
    assert!(get(&mut st, "in_f32").iter().all(|s| s.value == Some(3.5)));
    let o = get(&mut st, "in_oor");
    assert!(o
        .iter()
        .all(|s| s.quality == Quality::OutOfRange && s.value == Some(1e9)));
    let u = get(&mut st, "undefined");
    assert!(
        u.iter()
            .all(|s| s.quality == Quality::Exception && s.detail == 2),
        "{:?}",
        &u[..2]
    );

    // Read-only: every request pymodbus saw was a read (function codes 1–4).
    let fcs = py.function_codes();
    assert!(
        fcs.len() >= 3 * ticks,
        "pymodbus saw {} requests",
        fcs.len()
    );
    assert!(
        fcs.iter().all(|c| (1..=4).contains(c)),
        "non-read function codes: {fcs:?}"
    );
}

/// The poller's source never reaches for tokio-modbus's writing API.
#[test]
fn poller_source_has_no_write_calls() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![];
    for d in [src.clone(), src.join("modbus")] {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "rs") && !p.ends_with("field_sim.rs") {
                files.push(p);
            }
        }
    }
    assert!(files.len() > 5);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for bad in [
            "Writer",
            "write_single",
            "write_multiple",
            "masked_write",
            "read_write_multiple",
            "WriteSingle",
            "WriteMultiple",
        ] {
            assert!(!text.contains(bad), "{} mentions {bad}", f.display());
        }
    }
}
