//! The InfluxDB store against a real InfluxDB (Debian's `influxdb`, v1 API),
//! including a crash of the server in the middle of ingestion.

mod common;

use common::*;
use std::time::Duration;
use telemetry::store::buffer::{BufferedStore, Outcome};
use telemetry::store::influx::{InfluxConfig, InfluxStore};
use telemetry::store::Store;
use telemetry::{Quality, Sample};

fn batch(tick: i64, sensors: usize) -> Vec<Sample> {
    (0..sensors)
        .map(|i| {
            let tag = format!("s{i:03}");
            let ts = 1_700_000_000_000 + tick * 1000;
            if tick % 17 == 0 && i == 3 {
                Sample::missing(&tag, ts, Quality::Timeout, 0)
            } else {
                Sample::good(&tag, ts, tick as f64 + i as f64 / 1000.0)
            }
        })
        .collect()
}

#[test]
fn influxdb_killed_and_restarted_during_ingestion_loses_nothing() {
    let dir = scratch("influx");
    let mut influx = Influx::start(&dir);
    let mut cfg = InfluxConfig::new(&influx.url(), "aquatwin_test");
    cfg.timeout = Duration::from_secs(2);
    let store = InfluxStore::new(cfg).unwrap();
    let mut bs = BufferedStore::open(store, &dir.join("buffer")).unwrap();
    let sensors = 20;
    let ticks = 300;
    let (mut stored, mut buffered) = (0, 0);
    for tick in 0..ticks {
        if tick == 100 {
            influx.kill();
        }
        if tick == 200 {
            influx.restart();
        }
        match bs.write(&batch(tick, sensors)).unwrap() {
            Outcome::Stored => stored += 1,
            Outcome::Buffered => buffered += 1,
        }
    }
    assert!(bs.drain().unwrap());
    assert_eq!(bs.pending(), 0);
    assert_eq!(
        buffered, 100,
        "the batches written while InfluxDB was down were buffered"
    );
    assert_eq!(stored, 200);
    // Count what InfluxDB holds: every tick of every sensor, once.
    let mut total = 0;
    for i in 0..sensors {
        let tag = format!("s{i:03}");
        let got = bs.store.query(&tag, 0, i64::MAX).unwrap();
        assert_eq!(got.len(), ticks as usize, "sensor {tag}");
        assert_complete_grid(&got, 1000);
        for (k, s) in got.iter().enumerate() {
            let want = &batch(k as i64, sensors)[i];
            assert_eq!(s, want);
        }
        total += got.len();
    }
    assert_eq!(total, (sensors as i64 * ticks) as usize);
    assert_eq!(
        bs.store.last_timestamp("s000").unwrap(),
        Some(1_700_000_000_000 + (ticks - 1) * 1000)
    );
    // Paging past the 10 000-row page size.
    let many: Vec<Sample> = (0..25_000)
        .map(|k| Sample::good("big", k * 10, k as f64))
        .collect();
    bs.store.write(&many).unwrap();
    assert_eq!(bs.store.query("big", 0, i64::MAX).unwrap().len(), 25_000);
}
