//! `import_scada` with a sensor map that declares `time_zone`: a Paris
//! export across the autumn change (02:00…02:55 written twice) is stored as
//! a regular UTC series; one across the spring change that names a skipped
//! local time stops with the file and line.

mod common;

use common::*;
use telemetry::ingest::import_scada;
use telemetry::store::buffer::BufferedStore;
use telemetry::store::sqlite::SqliteStore;
use telemetry::store::Store;
use telemetry::time::{format_timestamp, parse_timestamp};
use telemetry::SensorMap;

const MAP: &str = r#"
time_zone = "Europe/Paris"

[[sensor]]
tag = "p1"
kind = "pressure"
node = "n1"
unit = "m"
interval_s = 300
range = [0, 100]
"#;

#[test]
fn paris_exports_are_stored_in_utc_across_both_changes() {
    let dir = scratch("scada-tz");
    let map = SensorMap::parse(MAP, "map.toml").unwrap();
    let mut text = String::from("Timestamp;p1\n2024-10-27 01:55:00;1\n");
    for _ in 0..2 {
        for m in (0..60).step_by(5) {
            text += &format!("2024-10-27 02:{m:02}:00;{m}\n");
        }
    }
    text += "2024-10-27 03:00:00;3\n";
    let autumn = dir.join("autumn.csv");
    std::fs::write(&autumn, text).unwrap();
    let store = SqliteStore::open(&dir.join("db.sqlite")).unwrap();
    let mut bs = BufferedStore::open(store, &dir.join("buffer")).unwrap();
    let rep = import_scada(&map, &[autumn], &mut bs, false, 1000).unwrap();
    assert_eq!(rep.rows, 26);
    let got = bs.store.query("p1", 0, i64::MAX).unwrap();
    assert_eq!(got.len(), 26, "no row lost to a repeated local time");
    let t0 = parse_timestamp("2024-10-26 23:55").unwrap();
    for (i, s) in got.iter().enumerate() {
        assert_eq!(
            s.ts_ms,
            t0 + i as i64 * 300_000,
            "{}",
            format_timestamp(s.ts_ms)
        );
    }

    let spring = dir.join("spring.csv");
    std::fs::write(
        &spring,
        "Timestamp;p1\n2024-03-31 01:55:00;1\n2024-03-31 02:00:00;1\n2024-03-31 03:00:00;1\n",
    )
    .unwrap();
    let err = import_scada(&map, &[spring], &mut bs, false, 1000).unwrap_err();
    assert!(
        err.to_string().ends_with(
            "spring.csv:3: field 'Timestamp': local time '2024-03-31 02:00:00' does not exist \
             in Europe/Paris: the clocks skip it (UTC offset +01 → +02)"
        ),
        "{err}"
    );
}
